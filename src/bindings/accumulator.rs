//! `linssl._core.MomentAccumulator`: the streaming moments behind a mutex.

use std::sync::{Mutex, MutexGuard};

use faer::{Mat, MatRef, Par};
use numpy::ndarray::ShapeBuilder;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::Error;
use crate::moments::{Element, Moments};

use super::boundary::{run_detached, to_py_err};
use super::{as_matref, mat_to_numpy, Float2};

pub(super) fn update_typed<T: Element>(
    acc: &mut Moments,
    x: MatRef<'_, T>,
    y: Option<MatRef<'_, T>>,
) -> Result<(), Error> {
    acc.update(x, y, Par::rayon(0))
}

/// Lock one accumulator's state; the mutex is poisoned only by a panic in an earlier update,
/// which may have left partial sums.
fn lock_state(state: &Mutex<Moments>) -> Result<MutexGuard<'_, Moments>, Error> {
    state.lock().map_err(|_| {
        Error::InvalidArgument(
            "this MomentAccumulator was left inconsistent by an internal error in an earlier call; create a new one"
                .into(),
        )
    })
}

/// Streaming accumulator of `n`, `sum_x`, `X^T X` and `X^T Y` (see `linssl.MomentAccumulator`).
///
/// The state sits behind a mutex, taken with the GIL released: Python threads sharing one
/// accumulator have their updates applied one after the other (in whatever order they arrive),
/// where a plain `&mut self` borrow would fail with "Already borrowed" while another thread's
/// update runs without the GIL.
#[pyclass(name = "MomentAccumulator", module = "linssl._core", frozen)]
pub(super) struct PyMoments {
    inner: Mutex<Moments>,
}

impl PyMoments {
    /// Run `f` on the locked state without the GIL (waiting for the lock does not block Python).
    /// `flops` estimates the work (see [`run_detached`]).
    fn locked<T: Send>(
        &self,
        py: Python<'_>,
        flops: f64,
        f: impl FnOnce(&mut Moments) -> Result<T, Error> + Send,
    ) -> PyResult<T> {
        let inner = &self.inner;
        run_detached(py, flops, || f(&mut *lock_state(inner)?))
    }

    fn snapshot(&self, py: Python<'_>) -> PyResult<Moments> {
        self.locked(py, 0.0, |m| Ok(m.clone()))
    }

    /// `X^T X / divisor` as a NumPy array (symmetric, so its memory order does not matter).
    fn xtx_over<'py>(&self, py: Python<'py>, divisor: f64) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (d, data) = self.locked(py, 0.0, |m| Ok((m.d(), m.xtx_divided(divisor))))?;
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
        Ok(PyMoments { inner: Mutex::new(run_detached(py, 0.0, || Moments::new(d, l))?) })
    }

    /// Fold a chunk `x` (m x d) and optional `y` (m x l), both float32 or both float64; other
    /// real dtypes are converted to float64, and NaN or infinities are refused (with their row,
    /// counted over every chunk this accumulator has seen, and column).
    #[pyo3(signature = (x, y = None))]
    fn update(&self, py: Python<'_>, x: &Bound<'_, PyAny>, y: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let x = Float2::extract(x, "X")?;
        let y = y.map(|y| Float2::extract(y, "y")).transpose()?;
        let (rows, cols) = x.shape();
        let flops = rows as f64 * (cols as f64).powi(2);
        match (&x, &y) {
            (Float2::F64(x), None) => {
                let xv = x.as_array();
                self.locked(py, flops, |acc| update_typed(acc, as_matref(&xv), None))
            }
            (Float2::F32(x), None) => {
                let xv = x.as_array();
                self.locked(py, flops, |acc| update_typed(acc, as_matref(&xv), None))
            }
            (Float2::F64(x), Some(Float2::F64(y))) => {
                let (xv, yv) = (x.as_array(), y.as_array());
                self.locked(py, flops, |acc| update_typed(acc, as_matref(&xv), Some(as_matref(&yv))))
            }
            (Float2::F32(x), Some(Float2::F32(y))) => {
                let (xv, yv) = (x.as_array(), y.as_array());
                self.locked(py, flops, |acc| update_typed(acc, as_matref(&xv), Some(as_matref(&yv))))
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
    ///
    /// Atomic: both states stay locked for the whole merge, so concurrent merges and updates
    /// have the outcome of some serial order of them.
    fn merge(&self, py: Python<'_>, other: PyRef<'_, PyMoments>) -> PyResult<()> {
        let (mine, theirs) = (&self.inner, &other.inner);
        if std::ptr::eq(mine, theirs) {
            return self.locked(py, 0.0, |m| {
                let copy = m.clone();
                m.merge(&copy)
            });
        }
        run_detached(py, 0.0, || {
            // Locks taken in address order: `a.merge(b)` racing `b.merge(a)` cannot deadlock.
            let (mut m, t) = if (mine as *const Mutex<Moments>) < (theirs as *const Mutex<Moments>) {
                let m = lock_state(mine)?;
                (m, lock_state(theirs)?)
            } else {
                let t = lock_state(theirs)?;
                (lock_state(mine)?, t)
            };
            m.merge(&t)
        })
    }

    /// An independent copy.
    fn copy(&self, py: Python<'_>) -> PyResult<Self> {
        Ok(PyMoments { inner: Mutex::new(self.snapshot(py)?) })
    }

    /// Arguments of `__new__` when unpickling; the sums follow through `__setstate__`.
    fn __getnewargs__(&self, py: Python<'_>) -> PyResult<(usize, usize)> {
        self.locked(py, 0.0, |m| Ok((m.d(), m.l())))
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
                PyValueError::new_err(format!(
                    "MomentAccumulator state has no {key:?} entry; it was not written by linssl"
                ))
            })
        };
        let wrong = |key: &str, what: &str| {
            PyTypeError::new_err(format!(
                "MomentAccumulator state entry {key:?} must be {what}; it was not written by linssl"
            ))
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
        self.locked(py, 0.0, move |m| {
            *m = restored;
            Ok(())
        })
    }

    #[getter]
    fn d(&self, py: Python<'_>) -> PyResult<usize> {
        self.locked(py, 0.0, |m| Ok(m.d()))
    }
    #[getter]
    fn l(&self, py: Python<'_>) -> PyResult<usize> {
        self.locked(py, 0.0, |m| Ok(m.l()))
    }
    #[getter]
    fn n(&self, py: Python<'_>) -> PyResult<u64> {
        self.locked(py, 0.0, |m| Ok(m.n()))
    }
    #[getter]
    fn sum_x<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let v = self.locked(py, 0.0, |m| Ok(m.sum_x().to_vec()))?;
        Ok(PyArray1::from_vec(py, v))
    }
    #[getter]
    fn sum_y<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let v = self.locked(py, 0.0, |m| Ok(m.sum_y().to_vec()))?;
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
            return Err(PyValueError::new_err(
                "the accumulator has seen no rows; moments of an empty data set are undefined",
            ));
        }
        self.xtx_over(py, n as f64)
    }
    #[getter]
    fn xty<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let v: Mat<f64> = self.locked(py, 0.0, |m| Ok(m.xty().to_owned()))?;
        Ok(mat_to_numpy(py, v.as_ref()))
    }
    #[getter]
    fn yty<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let v: Mat<f64> = self.locked(py, 0.0, |m| Ok(m.yty().to_owned()))?;
        Ok(mat_to_numpy(py, v.as_ref()))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        self.locked(py, 0.0, |m| Ok(format!("MomentAccumulator(d={}, l={}, n={})", m.d(), m.l(), m.n())))
    }
}
