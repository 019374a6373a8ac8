//! How a call crosses from Python into the core: the exceptions, GIL release, panics and Ctrl-C.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::error::Error;
use crate::interrupt;

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
pub(super) fn to_py_err(err: Error) -> PyErr {
    match err {
        Error::Shape(_) | Error::InvalidArgument(_) => PyValueError::new_err(err.to_string()),
        Error::NotPositiveDefinite { .. } | Error::Numerical(_) => LinAlgError::new_err(err.to_string()),
        Error::NonFinite { .. } => NonFiniteError::new_err(err.to_string()),
        Error::OutOfMemory(_) => PyMemoryError::new_err(err.to_string()),
        Error::Interrupted(_) => PyKeyboardInterrupt::new_err(err.to_string()),
    }
}

/// How often a long call checks for Python signals (Ctrl-C).
pub(super) const SIGNAL_POLL: Duration = Duration::from_millis(50);
/// The worker's stack: that of a main thread, as the work would have had on the caller's.
pub(super) const WORKER_STACK: usize = 8 << 20;

/// What a call to the core returned, or how it panicked.
pub(super) type Caught<T> = std::thread::Result<Result<T, Error>>;

/// Work (in floating-point operations) below which a call runs on the caller's thread: it ends
/// within milliseconds, and starting a worker thread would cost more than Ctrl-C could save.
pub(super) const WATCH_MIN_FLOPS: f64 = 1e8;

/// `d^3`, the order of the work of a dense d x d eigenproblem.
pub(super) fn cubed(d: usize) -> f64 {
    (d as f64).powi(3)
}

/// Run `f` without the GIL; a panic inside becomes a `RuntimeError`, an `Error` its mapped
/// exception. Work of at least [`WATCH_MIN_FLOPS`] (`flops`, an estimate) is interruptible by
/// Ctrl-C.
pub(super) fn run_detached<T: Send>(
    py: Python<'_>,
    flops: f64,
    f: impl FnOnce() -> Result<T, Error> + Send,
) -> PyResult<T> {
    let run =
        || if flops < WATCH_MIN_FLOPS { Watched::Done(catch_unwind(AssertUnwindSafe(f))) } else { run_watched(f) };
    match py.detach(run) {
        Watched::Signal(err) => Err(err),
        Watched::Done(Ok(Ok(value))) => Ok(value),
        Watched::Done(Ok(Err(err))) => Err(to_py_err(err)),
        Watched::Done(Err(panic)) => Err(panic_to_py_err(panic)),
    }
}

pub(super) enum Watched<T> {
    Done(Caught<T>),
    /// A signal handler raised (e.g. `KeyboardInterrupt`) and the work was stopped.
    Signal(PyErr),
}

/// Run `f` on a worker thread while this thread checks for Python signals every [`SIGNAL_POLL`].
/// When a handler raises, the core is asked to stop at its next checkpoint ([`interrupt`]) and the
/// handler's exception is returned once the worker has stopped, so no work outlives the call.
/// Only the main thread runs signal handlers; elsewhere the check is a no-op.
pub(super) fn run_watched<T: Send>(f: impl FnOnce() -> Result<T, Error> + Send) -> Watched<T> {
    let job = Mutex::new(Some(f));
    let take = || job.lock().ok().and_then(|mut j| j.take());
    std::thread::scope(|scope| {
        let (done, finished) = mpsc::sync_channel::<Caught<T>>(1);
        let worker = move || {
            if let Some(f) = take() {
                let _ = done.send(catch_unwind(AssertUnwindSafe(f)));
            }
        };
        let spawned =
            std::thread::Builder::new().name("linssl-core".into()).stack_size(WORKER_STACK).spawn_scoped(scope, worker);
        if spawned.is_err() {
            // No thread to be had (address space exhausted, say): the work runs here, uninterruptibly.
            return Watched::Done(match take() {
                Some(f) => catch_unwind(AssertUnwindSafe(f)),
                None => Err(Box::new("the core's worker thread took the work but did not start")),
            });
        }
        loop {
            match finished.recv_timeout(SIGNAL_POLL) {
                Ok(result) => return Watched::Done(result),
                Err(RecvTimeoutError::Disconnected) => {
                    return Watched::Done(Err(Box::new("the core's worker thread ended without a result")))
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(err) = Python::attach(|py| py.check_signals()) {
                        interrupt::request();
                        let stopped = finished.recv(); // the worker stops at its next checkpoint
                        interrupt::clear();
                        // What the core kept (an accumulator's rows) goes into a KeyboardInterrupt.
                        let kept = match stopped {
                            Ok(Ok(Err(Error::Interrupted(msg)))) => Some(msg),
                            _ => None,
                        };
                        let err = match kept {
                            Some(msg) if Python::attach(|py| err.is_instance_of::<PyKeyboardInterrupt>(py)) => {
                                PyKeyboardInterrupt::new_err(msg)
                            }
                            _ => err,
                        };
                        return Watched::Signal(err);
                    }
                }
            }
        }
    })
}

/// The Python exception for a panic caught at the boundary.
pub(super) fn panic_to_py_err(panic: Box<dyn std::any::Any + Send>) -> PyErr {
    if panic.downcast_ref::<interrupt::Interrupted>().is_some() {
        // Stopped by a Ctrl-C that the main thread received while this thread's call ran.
        return PyKeyboardInterrupt::new_err(
            "interrupted: linssl's computation was stopped, and its partial results dropped",
        );
    }
    let what = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown".into());
    // faer reports an allocation it cannot have by panicking: that is a lack of memory.
    if what.contains("AllocError") || what.contains("memory allocation") || what.contains("capacity overflow") {
        return PyMemoryError::new_err(format!(
            "linssl's core could not allocate the memory this problem needs ({what}); free memory, raise the \
             process's memory limit, or use a smaller problem (with d >> n, solver='gram')"
        ));
    }
    PyRuntimeError::new_err(format!(
        "internal error in linssl's core ({what}); please report it with the inputs that caused it"
    ))
}
