//! The PyO3 bindings: argument conversion, GIL release, and the exceptions (created here).
//!
//! [`boundary`]: how a call crosses into the core (exceptions, GIL release, panics, Ctrl-C);
//! [`accumulator`]: `MomentAccumulator`; [`solvers`]: the eigensolvers and closed forms; this
//! file: views of NumPy arrays, small helpers and the module itself.
//!
//! NumPy arrays are viewed in place (no copy) as faer matrices; every heavy call runs inside
//! `Python::detach` so other Python threads keep running, and inside `catch_unwind` so a Rust
//! panic becomes a Python `RuntimeError` instead of crossing the FFI boundary (the accumulator's
//! constructor included: it allocates d x d and reports failure as `MemoryError`). Heavy calls run
//! on a worker thread while the caller watches for Ctrl-C, which stops the core at its next
//! checkpoint ([`crate::interrupt`]) and raises `KeyboardInterrupt`.
//!
//! The extension takes float32/float64 arrays only and never imports linssl's Python package:
//! converting other dtypes (the dtype policy) is the Python layer's job, done before calling in.

use faer::{MatRef, Par};
use numpy::ndarray::ArrayView2;
use numpy::ndarray::ShapeBuilder;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::finite;
use crate::gep;

use accumulator::PyMoments;
use boundary::{run_detached, to_py_err, LinAlgError, NonFiniteError};
use solvers::{
    eigh_generalized, eigh_generalized_batch, joint_embedding, joint_embedding_batch, pairs_wanted, reconstruction,
    reconstruction_batch, supervised, supervised_batch,
};

mod accumulator;
mod boundary;
mod solvers;

/// A zero-copy faer view of a 2-D NumPy array (strides in elements, possibly negative).
pub(super) fn as_matref<'a, T>(a: &'a ArrayView2<'a, T>) -> MatRef<'a, T> {
    let (rows, cols) = a.dim();
    let strides = a.strides();
    // SAFETY: the pointer, shape and element strides describe exactly the memory of `a`,
    // which outlives the returned view.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), rows, cols, strides[0], strides[1]) }
}

pub(super) fn mat_to_numpy<'py>(py: Python<'py>, m: MatRef<'_, f64>) -> Bound<'py, PyArray2<f64>> {
    // Column by column into a Fortran-ordered array that NumPy then owns: contiguous copies, where
    // a C-ordered result would read the column-major matrix with a stride.
    let mut data = Vec::with_capacity(m.nrows() * m.ncols());
    for j in 0..m.ncols() {
        data.extend(m.col(j).iter().copied());
    }
    let arr =
        numpy::ndarray::Array2::from_shape_vec((m.nrows(), m.ncols()).f(), data).expect("length is nrows * ncols");
    arr.into_pyarray(py)
}

/// A float32 or float64 2-D array borrowed from Python.
pub(super) enum Float2<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

impl<'py> Float2<'py> {
    /// Borrow a native float32/float64 2-D array; anything else is a `TypeError` (linssl's Python
    /// functions convert other dtypes under their dtype policy before calling in).
    pub(super) fn extract(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
        if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f64>>() {
            return Ok(Float2::F64(a));
        }
        if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f32>>() {
            return Ok(Float2::F32(a));
        }
        Err(PyTypeError::new_err(format!(
            "{name} must be a 2-D float32 or float64 NumPy array in native byte order; got {}. \
             linssl.MomentAccumulator and linssl's functions convert other data for you",
            obj.get_type().name()?
        )))
    }

    /// `(rows, columns)`.
    pub(super) fn shape(&self) -> (usize, usize) {
        match self {
            Float2::F32(a) => a.as_array().dim(),
            Float2::F64(a) => a.as_array().dim(),
        }
    }

    pub(super) fn dtype_name(&self) -> &'static str {
        match self {
            Float2::F32(_) => "float32",
            Float2::F64(_) => "float64",
        }
    }
}

/// Raise `NonFiniteError` naming the first NaN or infinity of `x` (row-major order), rows and
/// columns counted from `first_row` and `first_col`.
#[pyfunction]
#[pyo3(signature = (x, what, first_row = 0, first_col = 0))]
fn check_finite(py: Python<'_>, x: &Bound<'_, PyAny>, what: &str, first_row: u64, first_col: u64) -> PyResult<()> {
    match Float2::extract(x, what)? {
        Float2::F64(a) => {
            let v = a.as_array();
            run_detached(py, 0.0, || finite::require_finite(as_matref(&v), what, first_row, first_col, Par::rayon(0)))
        }
        Float2::F32(a) => {
            let v = a.as_array();
            run_detached(py, 0.0, || finite::require_finite(as_matref(&v), what, first_row, first_col, Par::rayon(0)))
        }
    }
}

/// The SIMD instruction sets linssl's kernels run with on this CPU: `matmul` for faer's matrix
/// products (AVX-512 when the CPU has `avx512f`), `symv` for linssl's symmetric products.
#[pyfunction]
fn simd_levels(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
        let matmul = if std::arch::is_x86_feature_detected!("avx512f") {
            "AVX-512"
        } else if avx2 {
            "AVX2+FMA"
        } else {
            "scalar"
        };
        out.set_item("matmul", matmul)?;
        out.set_item("symv", if avx2 { "AVX2+FMA" } else { "scalar" })?;
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        out.set_item("matmul", std::env::consts::ARCH)?;
        out.set_item("symv", "portable")?;
    }
    Ok(out)
}

/// The solver `solver="auto"` runs for `k` pairs of a d x d generalized eigenproblem.
#[pyfunction]
fn auto_solver(d: usize, k: usize) -> &'static str {
    gep::auto_solver(d, k).name()
}

/// `k` validated against the dimension `d` (None: `d`), with the message every solver uses.
#[pyfunction]
#[pyo3(name = "check_k", signature = (k, d))]
fn check_k_py(k: Option<i64>, d: usize) -> PyResult<usize> {
    pairs_wanted(k, d)
}

/// `ridge * mean` (`mean = trace(S) / d`), `ridge` validated, with the messages every solver uses.
#[pyfunction]
#[pyo3(name = "ridge_shift", signature = (ridge, mean, what = "S"))]
fn ridge_shift_py(ridge: f64, mean: f64, what: &str) -> PyResult<f64> {
    gep::validate::ridge_shift_from_mean(ridge, mean, what).map_err(to_py_err)
}

/// `a <- (a + a^T) / 2` in place, for a square float64 array (any memory order).
#[pyfunction]
fn symmetrize(py: Python<'_>, mut a: numpy::PyReadwriteArray2<'_, f64>) -> PyResult<()> {
    let mut view = a.as_array_mut();
    let (rows, cols) = view.dim();
    if rows != cols {
        return Err(PyValueError::new_err(format!("symmetrize needs a square matrix; got shape ({rows}, {cols})")));
    }
    let strides = view.strides().to_vec();
    // SAFETY: pointer, shape and element strides describe exactly the memory of `view`, which is
    // borrowed mutably for the whole call.
    let m = unsafe { faer::MatMut::from_raw_parts_mut(view.as_mut_ptr(), rows, cols, strides[0], strides[1]) };
    let m = SendMat(m);
    run_detached(py, 0.0, move || {
        let SendMat(m) = m;
        crate::transpose::symmetrize_in_place(m);
        Ok(())
    })
}

/// A mutable matrix view moved into the GIL-free closure (the NumPy array stays borrowed).
struct SendMat<'a>(faer::MatMut<'a, f64>);
// SAFETY: the view is used by one thread at a time, inside `run_detached`, while the caller keeps
// the NumPy array borrowed mutably.
unsafe impl Send for SendMat<'_> {}

/// `(row, column, value)` of the first NaN or infinity of `x` in row-major order, or None.
#[pyfunction]
fn first_non_finite(py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<Option<(usize, usize, f64)>> {
    match Float2::extract(x, "x")? {
        Float2::F64(a) => {
            let v = a.as_array();
            Ok(py.detach(|| finite::first_non_finite(as_matref(&v))))
        }
        Float2::F32(a) => {
            let v = a.as_array();
            Ok(py.detach(|| finite::first_non_finite(as_matref(&v))))
        }
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LinAlgError", py.get_type::<LinAlgError>())?;
    m.add("NonFiniteError", py.get_type::<NonFiniteError>())?;
    m.add_class::<PyMoments>()?;
    m.add_function(wrap_pyfunction!(check_finite, m)?)?;
    m.add_function(wrap_pyfunction!(check_k_py, m)?)?;
    m.add_function(wrap_pyfunction!(auto_solver, m)?)?;
    m.add_function(wrap_pyfunction!(ridge_shift_py, m)?)?;
    m.add_function(wrap_pyfunction!(first_non_finite, m)?)?;
    m.add_function(wrap_pyfunction!(simd_levels, m)?)?;
    m.add_function(wrap_pyfunction!(symmetrize, m)?)?;
    m.add_function(wrap_pyfunction!(eigh_generalized, m)?)?;
    m.add_function(wrap_pyfunction!(eigh_generalized_batch, m)?)?;
    m.add_function(wrap_pyfunction!(joint_embedding, m)?)?;
    m.add_function(wrap_pyfunction!(joint_embedding_batch, m)?)?;
    m.add_function(wrap_pyfunction!(reconstruction, m)?)?;
    m.add_function(wrap_pyfunction!(reconstruction_batch, m)?)?;
    m.add_function(wrap_pyfunction!(supervised, m)?)?;
    m.add_function(wrap_pyfunction!(supervised_batch, m)?)?;
    Ok(())
}
