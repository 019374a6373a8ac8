//! The one PyO3 file: argument conversion, GIL release, and the exceptions (created here).
//!
//! NumPy arrays are viewed in place (no copy) as faer matrices; every heavy call runs inside
//! `Python::detach` so other Python threads keep running, and inside `catch_unwind` so a Rust
//! panic becomes a Python `RuntimeError` instead of crossing the FFI boundary (the accumulator's
//! constructor included: it allocates d x d and reports failure as `MemoryError`).
//!
//! The extension takes float32/float64 arrays only and never imports linssl's Python package:
//! converting other dtypes (the dtype policy) is the Python layer's job, done before calling in.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use faer::{Mat, MatRef, Par};
use numpy::ndarray::ArrayView2;
use numpy::ndarray::ShapeBuilder;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::create_exception;

use crate::batch;
use crate::closed_forms;
use crate::error::Error;
use crate::finite;
use crate::gep::{self, check_k, GepOptions, GepSolution, SigmaFactors, Solver};
use crate::moments::{Element, Moments};

/// NumPy's exception, the base of linssl's (a separate module keeps its Rust name free).
mod numpy_linalg {
    pyo3::import_exception!(numpy.linalg, LinAlgError);
}

create_exception!(
    linssl,
    LinAlgError,
    numpy_linalg::LinAlgError,
    "A numerical failure: a matrix that must be positive definite is not, or a solver failed.\n\n\
     Subclasses numpy.linalg.LinAlgError, so ``except np.linalg.LinAlgError`` catches it. The message \
     says which matrix failed and what to do (usually: pass ``ridge``)."
);
create_exception!(
    linssl,
    NonFiniteError,
    PyValueError,
    "Input data hold NaN or an infinity.\n\nThe message names the first one (its row and column, \
     counted from 0 over the whole data set, across chunks) and what to do. Subclasses ValueError."
);

/// Map a core error to the Python exception the API promises.
fn to_py_err(err: Error) -> PyErr {
    match err {
        Error::Shape(_) | Error::InvalidArgument(_) => PyValueError::new_err(err.to_string()),
        Error::NotPositiveDefinite { .. } | Error::Numerical(_) => LinAlgError::new_err(err.to_string()),
        Error::NonFinite { .. } => NonFiniteError::new_err(err.to_string()),
        Error::OutOfMemory(_) => PyMemoryError::new_err(err.to_string()),
    }
}

/// Run `f` without the GIL; a panic inside becomes a `RuntimeError`, an `Error` its mapped exception.
fn run_detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T, Error> + Send) -> PyResult<T> {
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(f)));
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_py_err(err)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown".into());
            // faer reports an allocation it cannot have by panicking: that is a lack of memory.
            if what.contains("AllocError") || what.contains("memory allocation") || what.contains("capacity overflow") {
                return Err(PyMemoryError::new_err(format!(
                    "linssl's core could not allocate the memory this problem needs ({what}); free memory, raise the \
                     process's memory limit, or use a smaller problem (with d >> n, solver='gram')"
                )));
            }
            Err(PyRuntimeError::new_err(format!(
                "internal error in linssl's core ({what}); please report it with the inputs that caused it"
            )))
        }
    }
}

/// A zero-copy faer view of a 2-D NumPy array (strides in elements, possibly negative).
fn as_matref<'a, T>(a: &'a ArrayView2<'a, T>) -> MatRef<'a, T> {
    let (rows, cols) = a.dim();
    let strides = a.strides();
    // SAFETY: the pointer, shape and element strides describe exactly the memory of `a`,
    // which outlives the returned view.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), rows, cols, strides[0], strides[1]) }
}

fn mat_to_numpy<'py>(py: Python<'py>, m: MatRef<'_, f64>) -> Bound<'py, PyArray2<f64>> {
    // Column by column into a Fortran-ordered array that NumPy then owns: contiguous copies, where
    // a C-ordered result would read the column-major matrix with a stride.
    let mut data = Vec::with_capacity(m.nrows() * m.ncols());
    for j in 0..m.ncols() {
        data.extend(m.col(j).iter().copied());
    }
    let arr = numpy::ndarray::Array2::from_shape_vec((m.nrows(), m.ncols()).f(), data).expect("length is nrows * ncols");
    arr.into_pyarray(py)
}

/// A float32 or float64 2-D array borrowed from Python.
enum Float2<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

impl<'py> Float2<'py> {
    /// Borrow a native float32/float64 2-D array; anything else is a `TypeError` (linssl's Python
    /// functions convert other dtypes under their dtype policy before calling in).
    fn extract(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
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

    fn dtype_name(&self) -> &'static str {
        match self {
            Float2::F32(_) => "float32",
            Float2::F64(_) => "float64",
        }
    }
}

fn update_typed<T: Element>(acc: &mut Moments, x: MatRef<'_, T>, y: Option<MatRef<'_, T>>) -> Result<(), Error> {
    acc.update(x, y, Par::rayon(0))
}

/// Streaming accumulator of `n`, `sum_x`, `X^T X` and `X^T Y` (see `linssl.MomentAccumulator`).
///
/// The state sits behind a mutex, taken with the GIL released: Python threads sharing one
/// accumulator have their updates applied one after the other (in whatever order they arrive),
/// where a plain `&mut self` borrow would fail with "Already borrowed" while another thread's
/// update runs without the GIL.
#[pyclass(name = "MomentAccumulator", module = "linssl._core", frozen)]
struct PyMoments {
    inner: Mutex<Moments>,
}

impl PyMoments {
    /// Run `f` on the locked state without the GIL (waiting for the lock does not block Python).
    fn locked<T: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut Moments) -> Result<T, Error> + Send) -> PyResult<T> {
        let inner = &self.inner;
        run_detached(py, || {
            // Poisoned only by a panic in an earlier update, which may have left partial sums.
            let mut state = inner.lock().map_err(|_| {
                Error::InvalidArgument(
                    "this MomentAccumulator was left inconsistent by an internal error in an earlier call; \
                     create a new one"
                        .into(),
                )
            })?;
            f(&mut state)
        })
    }

    fn snapshot(&self, py: Python<'_>) -> PyResult<Moments> {
        self.locked(py, |m| Ok(m.clone()))
    }

    /// `X^T X / divisor` as a NumPy array (symmetric, so its memory order does not matter).
    fn xtx_over<'py>(&self, py: Python<'py>, divisor: f64) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (d, data) = self.locked(py, |m| Ok((m.d(), m.xtx_divided(divisor))))?;
        let arr = numpy::ndarray::Array2::from_shape_vec((d, d).f(), data).expect("length is d * d");
        Ok(arr.into_pyarray(py))
    }
}

#[pymethods]
impl PyMoments {
    #[new]
    #[pyo3(signature = (d, l = 0))]
    fn new(py: Python<'_>, d: i64, l: i64) -> PyResult<Self> {
        if d < 1 || l < 0 {
            return Err(PyValueError::new_err(format!(
                "MomentAccumulator(d={d}, l={l}): d (features) must be at least 1 and l (target columns) at least 0"
            )));
        }
        let (d, l) = (usize::try_from(d)?, usize::try_from(l)?);
        Ok(PyMoments { inner: Mutex::new(run_detached(py, || Moments::new(d, l))?) })
    }

    /// Fold a chunk `x` (m x d) and optional `y` (m x l), both float32 or both float64; other
    /// real dtypes are converted to float64, and NaN or infinities are refused (with their row,
    /// counted over every chunk this accumulator has seen, and column).
    #[pyo3(signature = (x, y = None))]
    fn update(&self, py: Python<'_>, x: &Bound<'_, PyAny>, y: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let x = Float2::extract(x, "X")?;
        let y = y.map(|y| Float2::extract(y, "y")).transpose()?;
        match (&x, &y) {
            (Float2::F64(x), None) => {
                let xv = x.as_array();
                self.locked(py, |acc| update_typed(acc, as_matref(&xv), None))
            }
            (Float2::F32(x), None) => {
                let xv = x.as_array();
                self.locked(py, |acc| update_typed(acc, as_matref(&xv), None))
            }
            (Float2::F64(x), Some(Float2::F64(y))) => {
                let (xv, yv) = (x.as_array(), y.as_array());
                self.locked(py, |acc| update_typed(acc, as_matref(&xv), Some(as_matref(&yv))))
            }
            (Float2::F32(x), Some(Float2::F32(y))) => {
                let (xv, yv) = (x.as_array(), y.as_array());
                self.locked(py, |acc| update_typed(acc, as_matref(&xv), Some(as_matref(&yv))))
            }
            _ => Err(PyTypeError::new_err(format!(
                "X and y must have the same float dtype; X is {} and y is {}: cast one of them, e.g. y.astype(np.{})",
                x.dtype_name(),
                y.as_ref().map_or("absent", |y| y.dtype_name()),
                x.dtype_name()
            ))),
        }
    }

    /// Add another accumulator's moments into this one (`other` may be this one: it doubles).
    fn merge(&self, py: Python<'_>, other: PyRef<'_, PyMoments>) -> PyResult<()> {
        // A copy of `other` first: never two locks at once, so no lock-order deadlock.
        let theirs = other.snapshot(py)?;
        self.locked(py, |m| m.merge(&theirs))
    }

    /// An independent copy.
    fn copy(&self, py: Python<'_>) -> PyResult<Self> {
        Ok(PyMoments { inner: Mutex::new(self.snapshot(py)?) })
    }

    /// Arguments of `__new__` when unpickling; the sums follow through `__setstate__`.
    fn __getnewargs__(&self, py: Python<'_>) -> PyResult<(usize, usize)> {
        self.locked(py, |m| Ok((m.d(), m.l())))
    }

    /// Pickled state: `{"n", "sum_x", "sum_y", "xtx", "xty", "yty"}` (float64 arrays), so
    /// accumulators can travel between processes (Dask workers) and be merged there.
    fn __getstate__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = self.snapshot(py)?;
        let state = PyDict::new(py);
        state.set_item("n", m.n())?;
        state.set_item("sum_x", PyArray1::from_slice(py, m.sum_x()))?;
        state.set_item("sum_y", PyArray1::from_slice(py, m.sum_y()))?;
        state.set_item("xtx", mat_to_numpy(py, m.xtx().as_ref()))?;
        state.set_item("xty", mat_to_numpy(py, m.xty()))?;
        state.set_item("yty", mat_to_numpy(py, m.yty()))?;
        Ok(state)
    }

    /// Restore the state written by `__getstate__`, checking every entry's type and shape.
    fn __setstate__(&self, py: Python<'_>, state: &Bound<'_, PyDict>) -> PyResult<()> {
        let entry = |key: &str| -> PyResult<Bound<'_, PyAny>> {
            state.get_item(key)?.ok_or_else(|| {
                PyValueError::new_err(format!("MomentAccumulator state has no {key:?} entry; it was not written by linssl"))
            })
        };
        let wrong = |key: &str, what: &str| {
            PyTypeError::new_err(format!("MomentAccumulator state entry {key:?} must be {what}; it was not written by linssl"))
        };
        let n: u64 = entry("n")?.extract().map_err(|_| wrong("n", "a non-negative integer"))?;
        let vector = |key: &str| -> PyResult<Vec<f64>> {
            let a: PyReadonlyArray1<'_, f64> = entry(key)?.extract().map_err(|_| wrong(key, "a 1-D float64 array"))?;
            Ok(a.as_array().to_vec())
        };
        let (sum_x, sum_y) = (vector("sum_x")?, vector("sum_y")?);
        let matrix = |key: &str| -> PyResult<PyReadonlyArray2<'_, f64>> {
            entry(key)?.extract().map_err(|_| wrong(key, "a 2-D float64 array"))
        };
        let (xtx, xty, yty) = (matrix("xtx")?, matrix("xty")?, matrix("yty")?);
        let (xtx, xty, yty) = (xtx.as_array(), xty.as_array(), yty.as_array());
        if sum_x.is_empty() {
            return Err(PyValueError::new_err("MomentAccumulator state has d = 0 features; d must be at least 1"));
        }
        let restored = Moments::from_parts(n, sum_x, sum_y, as_matref(&xtx), as_matref(&xty), as_matref(&yty))
            .map_err(to_py_err)?;
        self.locked(py, move |m| {
            *m = restored;
            Ok(())
        })
    }

    #[getter]
    fn d(&self, py: Python<'_>) -> PyResult<usize> {
        self.locked(py, |m| Ok(m.d()))
    }
    #[getter]
    fn l(&self, py: Python<'_>) -> PyResult<usize> {
        self.locked(py, |m| Ok(m.l()))
    }
    #[getter]
    fn n(&self, py: Python<'_>) -> PyResult<u64> {
        self.locked(py, |m| Ok(m.n()))
    }
    #[getter]
    fn sum_x<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let v = self.locked(py, |m| Ok(m.sum_x().to_vec()))?;
        Ok(PyArray1::from_vec(py, v))
    }
    #[getter]
    fn sum_y<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let v = self.locked(py, |m| Ok(m.sum_y().to_vec()))?;
        Ok(PyArray1::from_vec(py, v))
    }
    #[getter]
    fn xtx<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        self.xtx_over(py, 1.0)
    }

    /// `X^T X / n`, the uncentred second moment (one pass over the stored triangle).
    fn second_moment<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let n = self.n(py)?;
        if n == 0 {
            return Err(PyValueError::new_err("the accumulator has seen no rows; moments of an empty data set are undefined"));
        }
        self.xtx_over(py, n as f64)
    }
    #[getter]
    fn xty<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let v: Mat<f64> = self.locked(py, |m| Ok(m.xty().to_owned()))?;
        Ok(mat_to_numpy(py, v.as_ref()))
    }
    #[getter]
    fn yty<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let v: Mat<f64> = self.locked(py, |m| Ok(m.yty().to_owned()))?;
        Ok(mat_to_numpy(py, v.as_ref()))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        self.locked(py, |m| Ok(format!("MomentAccumulator(d={}, l={}, n={})", m.d(), m.l(), m.n())))
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
            run_detached(py, || finite::require_finite(as_matref(&v), what, first_row, first_col, Par::rayon(0)))
        }
        Float2::F32(a) => {
            let v = a.as_array();
            run_detached(py, || finite::require_finite(as_matref(&v), what, first_row, first_col, Par::rayon(0)))
        }
    }
}

/// The options of a solve, validated in the core (one set of messages for every entry point).
fn gep_options(largest: bool, solver: &str, tol: Option<f64>, ridge: f64) -> PyResult<GepOptions> {
    GepOptions { largest, solver: Solver::parse(solver).map_err(to_py_err)?, tol, ridge }.checked().map_err(to_py_err)
}

/// `k` (a Python int; `None` means all `d` pairs) validated against the dimension `d`.
fn pairs_wanted(k: Option<i64>, d: usize) -> PyResult<usize> {
    check_k(k.unwrap_or(d as i64), d).map_err(to_py_err)
}

type F64Array<'py> = PyReadonlyArray2<'py, f64>;
type EighResult<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>, Bound<'py, PyDict>);

fn eigh_to_python<'py>(py: Python<'py>, sol: &GepSolution) -> PyResult<EighResult<'py>> {
    let info = PyDict::new(py);
    info.set_item("solver", sol.solver.name())?;
    info.set_item("max_residual", sol.max_residual)?;
    info.set_item("operator_applications", sol.operator_applications)?;
    Ok((PyArray1::from_slice(py, &sol.w), mat_to_numpy(py, sol.v.as_ref()), info))
}

/// The smallest first dimension among a batch's matrices (what `k` must not exceed).
fn smallest_dim<'py>(first: impl Iterator<Item = &'py F64Array<'py>>) -> usize {
    first.map(|m| m.as_array().nrows()).min().unwrap_or(0)
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
    run_detached(py, move || {
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

/// `k` extreme eigenpairs of `A v = w B v` (all `d` when `k` is None); returns `(w, V, info)`.
#[pyfunction]
#[pyo3(signature = (a, b, k = None, largest = true, solver = "auto", tol = None, ridge = 0.0))]
#[allow(clippy::too_many_arguments)]
fn eigh_generalized<'py>(
    py: Python<'py>,
    a: F64Array<'py>,
    b: F64Array<'py>,
    k: Option<i64>,
    largest: bool,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
) -> PyResult<EighResult<'py>> {
    let opts = gep_options(largest, solver, tol, ridge)?;
    let (av, bv) = (a.as_array(), b.as_array());
    let (am, bm) = (as_matref(&av), as_matref(&bv));
    let k = pairs_wanted(k, am.nrows())?;
    let sol = run_detached(py, || gep::eigh_generalized(am, bm, k, &opts, Par::rayon(0)))?;
    eigh_to_python(py, &sol)
}

/// Many independent problems `[(A, B), ...]`, solved in parallel; returns `[(w, V, info), ...]`.
#[pyfunction]
#[pyo3(signature = (pairs, k = None, largest = true, solver = "auto", tol = None, ridge = 0.0))]
fn eigh_generalized_batch<'py>(
    py: Python<'py>,
    pairs: Vec<(F64Array<'py>, F64Array<'py>)>,
    k: Option<i64>,
    largest: bool,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
) -> PyResult<Vec<EighResult<'py>>> {
    let opts = gep_options(largest, solver, tol, ridge)?;
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let k = pairs_wanted(k, smallest_dim(pairs.iter().map(|(a, _)| a)))?;
    let views: Vec<_> = pairs.iter().map(|(a, b)| (a.as_array(), b.as_array())).collect();
    let mats: Vec<(MatRef<'_, f64>, MatRef<'_, f64>)> = views.iter().map(|(a, b)| (as_matref(a), as_matref(b))).collect();
    let sols = run_detached(py, || batch::eigh_generalized_batch(&mats, k, &opts, Par::rayon(0)))?;
    sols.iter().map(|s| eigh_to_python(py, s)).collect()
}

type JeResult<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>, f64, &'static str);

fn je_to_python<'py>(py: Python<'py>, je: &closed_forms::JointEmbedding) -> JeResult<'py> {
    (PyArray1::from_slice(py, &je.omega), mat_to_numpy(py, je.w.as_ref()), je.loss, je.solver.name())
}

type F64Vector<'py> = PyReadonlyArray1<'py, f64>;

/// `Sigma = S - G` in factored form, from its diagonal (d) and optional low-rank factor (d x r).
fn sigma_factors<'a>(diag: &'a Option<numpy::ndarray::ArrayView1<'a, f64>>, factor: &'a Option<ArrayView2<'a, f64>>) -> PyResult<Option<SigmaFactors<'a>>> {
    let Some(diag) = diag else {
        return match factor {
            Some(_) => Err(PyValueError::new_err("sigma_factor needs sigma_diag (Sigma = diag(sigma_diag) + F F^T)")),
            None => Ok(None),
        };
    };
    let diag = diag.as_slice().ok_or_else(|| PyValueError::new_err("sigma_diag must be a contiguous 1-D float64 array"))?;
    let factor = match factor {
        Some(f) => as_matref(f),
        None => MatRef::from_column_major_slice(&[], diag.len(), 0),
    };
    Ok(Some(SigmaFactors { diag, factor }))
}

/// Joint embedding from moments `S`, `G` (and `Sigma = S - G` in factored form, when known);
/// returns `(omega, W, loss, solver)`.
#[pyfunction]
#[pyo3(signature = (s, g, k = None, solver = "auto", tol = None, ridge = 0.0, sigma_diag = None, sigma_factor = None))]
#[allow(clippy::too_many_arguments)]
fn joint_embedding<'py>(
    py: Python<'py>,
    s: F64Array<'py>,
    g: F64Array<'py>,
    k: Option<i64>,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
    sigma_diag: Option<F64Vector<'py>>,
    sigma_factor: Option<F64Array<'py>>,
) -> PyResult<JeResult<'py>> {
    let opts = gep_options(true, solver, tol, ridge)?;
    let (sv, gv) = (s.as_array(), g.as_array());
    let (sm, gm) = (as_matref(&sv), as_matref(&gv));
    let (dv, fv) = (sigma_diag.as_ref().map(|d| d.as_array()), sigma_factor.as_ref().map(|f| f.as_array()));
    let sigma = sigma_factors(&dv, &fv)?;
    let k = pairs_wanted(k, sm.nrows())?;
    let je = run_detached(py, || closed_forms::joint_embedding(sm, gm, sigma, k, &opts, Par::rayon(0)))?;
    Ok(je_to_python(py, &je))
}

/// Joint embedding for many `[(S, G, sigma_diag or None, sigma_factor or None), ...]` problems, in parallel.
#[pyfunction]
#[pyo3(signature = (problems, k = None, solver = "auto", tol = None, ridge = 0.0))]
fn joint_embedding_batch<'py>(
    py: Python<'py>,
    problems: Vec<(F64Array<'py>, F64Array<'py>, Option<F64Vector<'py>>, Option<F64Array<'py>>)>,
    k: Option<i64>,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
) -> PyResult<Vec<JeResult<'py>>> {
    let opts = gep_options(true, solver, tol, ridge)?;
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    let k = pairs_wanted(k, smallest_dim(problems.iter().map(|(s, _, _, _)| s)))?;
    let views: Vec<_> = problems
        .iter()
        .map(|(s, g, d, f)| (s.as_array(), g.as_array(), d.as_ref().map(|d| d.as_array()), f.as_ref().map(|f| f.as_array())))
        .collect();
    let mats = views
        .iter()
        .map(|(s, g, d, f)| Ok((as_matref(s), as_matref(g), sigma_factors(d, f)?)))
        .collect::<PyResult<Vec<_>>>()?;
    let out = run_detached(py, || closed_forms::joint_embedding_batch(&mats, k, &opts, Par::rayon(0)))?;
    Ok(out.iter().map(|je| je_to_python(py, je)).collect())
}

type RcResult<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>, f64, &'static str);

fn rc_to_python<'py>(py: Python<'py>, rc: &closed_forms::Reconstruction) -> RcResult<'py> {
    (
        PyArray1::from_slice(py, &rc.phi2),
        mat_to_numpy(py, rc.encoder.as_ref()),
        mat_to_numpy(py, rc.decoder.as_ref()),
        rc.loss,
        rc.solver.name(),
    )
}

/// The diagonal mean map and `Sigma`'s factors of a problem, when all are given.
fn moment_structure<'a>(
    keep: &'a Option<numpy::ndarray::ArrayView1<'a, f64>>,
    diag: &'a Option<numpy::ndarray::ArrayView1<'a, f64>>,
    factor: &'a Option<ArrayView2<'a, f64>>,
) -> PyResult<Option<closed_forms::MomentStructure<'a>>> {
    let sigma = sigma_factors(diag, factor)?;
    match (keep, sigma) {
        (Some(keep), Some(sigma)) => {
            let keep = keep.as_slice().ok_or_else(|| PyValueError::new_err("keep must be a contiguous 1-D float64 array"))?;
            Ok(Some((keep, sigma)))
        }
        (None, None) => Ok(None),
        _ => Err(PyValueError::new_err("pass keep (the diagonal mean map) and sigma_diag together, or neither")),
    }
}

/// Reconstruction from moments `S`, `C` and `trace_xx` (and the diagonal mean map `keep` and
/// `Sigma`'s factors, when known); returns `(phi2, E, D, loss, solver)`.
#[pyfunction]
#[pyo3(signature = (s, c, trace_xx, k = None, solver = "auto", tol = None, ridge = 0.0, keep = None, sigma_diag = None, sigma_factor = None))]
#[allow(clippy::too_many_arguments)]
fn reconstruction<'py>(
    py: Python<'py>,
    s: F64Array<'py>,
    c: F64Array<'py>,
    trace_xx: f64,
    k: Option<i64>,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
    keep: Option<F64Vector<'py>>,
    sigma_diag: Option<F64Vector<'py>>,
    sigma_factor: Option<F64Array<'py>>,
) -> PyResult<RcResult<'py>> {
    let opts = gep_options(true, solver, tol, ridge)?;
    let (sv, cv) = (s.as_array(), c.as_array());
    let (sm, cm) = (as_matref(&sv), as_matref(&cv));
    let (kv, dv, fv) = (keep.as_ref().map(|a| a.as_array()), sigma_diag.as_ref().map(|a| a.as_array()), sigma_factor.as_ref().map(|a| a.as_array()));
    let structure = moment_structure(&kv, &dv, &fv)?;
    let k = pairs_wanted(k, sm.nrows())?;
    let rc = run_detached(py, || closed_forms::reconstruction(sm, cm, trace_xx, structure, k, &opts, Par::rayon(0)))?;
    Ok(rc_to_python(py, &rc))
}

type RcProblem<'py> = (F64Array<'py>, F64Array<'py>, f64, Option<F64Vector<'py>>, Option<F64Vector<'py>>, Option<F64Array<'py>>);

/// Reconstruction for many `[(S, C, trace_xx, keep, sigma_diag, sigma_factor), ...]` problems
/// (the last three None when unknown), in parallel.
#[pyfunction]
#[pyo3(signature = (problems, k = None, solver = "auto", tol = None, ridge = 0.0))]
fn reconstruction_batch<'py>(
    py: Python<'py>,
    problems: Vec<RcProblem<'py>>,
    k: Option<i64>,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
) -> PyResult<Vec<RcResult<'py>>> {
    let opts = gep_options(true, solver, tol, ridge)?;
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    let k = pairs_wanted(k, smallest_dim(problems.iter().map(|p| &p.0)))?;
    let views: Vec<_> = problems
        .iter()
        .map(|(s, c, t, keep, d, f)| {
            (s.as_array(), c.as_array(), *t, keep.as_ref().map(|a| a.as_array()), d.as_ref().map(|a| a.as_array()), f.as_ref().map(|a| a.as_array()))
        })
        .collect();
    let mats = views
        .iter()
        .map(|(s, c, t, keep, d, f)| Ok((as_matref(s), as_matref(c), *t, moment_structure(keep, d, f)?)))
        .collect::<PyResult<Vec<_>>>()?;
    let out = run_detached(py, || closed_forms::reconstruction_batch(&mats, k, &opts, Par::rayon(0)))?;
    Ok(out.iter().map(|rc| rc_to_python(py, rc)).collect())
}

type SlResult<'py> = (Bound<'py, PyArray2<f64>>, f64);

/// Supervised map `V = B S^{-1}` and its loss; returns `(V, loss)`.
#[pyfunction]
#[pyo3(signature = (s, b, trace_yy, ridge = 0.0))]
fn supervised<'py>(py: Python<'py>, s: F64Array<'py>, b: F64Array<'py>, trace_yy: f64, ridge: f64) -> PyResult<SlResult<'py>> {
    let (sv, bv) = (s.as_array(), b.as_array());
    let (sm, bm) = (as_matref(&sv), as_matref(&bv));
    let sl = run_detached(py, || closed_forms::supervised(sm, bm, trace_yy, ridge, Par::rayon(0)))?;
    Ok((mat_to_numpy(py, sl.v.as_ref()), sl.loss))
}

/// Supervised maps for many `[(S, B, trace_yy), ...]` problems, in parallel.
#[pyfunction]
#[pyo3(signature = (problems, ridge = 0.0))]
fn supervised_batch<'py>(
    py: Python<'py>,
    problems: Vec<(F64Array<'py>, F64Array<'py>, f64)>,
    ridge: f64,
) -> PyResult<Vec<SlResult<'py>>> {
    gep::check_ridge(ridge).map_err(to_py_err)?;
    let views: Vec<_> = problems.iter().map(|(s, b, t)| (s.as_array(), b.as_array(), *t)).collect();
    let mats: Vec<(MatRef<'_, f64>, MatRef<'_, f64>, f64)> =
        views.iter().map(|(s, b, t)| (as_matref(s), as_matref(b), *t)).collect();
    let out = run_detached(py, || closed_forms::supervised_batch(&mats, ridge, Par::rayon(0)))?;
    Ok(out.iter().map(|sl| (mat_to_numpy(py, sl.v.as_ref()), sl.loss)).collect())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("LinAlgError", py.get_type::<LinAlgError>())?;
    m.add("NonFiniteError", py.get_type::<NonFiniteError>())?;
    m.add_class::<PyMoments>()?;
    m.add_function(wrap_pyfunction!(check_finite, m)?)?;
    m.add_function(wrap_pyfunction!(check_k_py, m)?)?;
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
