//! Cooperative interruption of long work (Ctrl-C in Python).
//!
//! The Python bindings run each call on a worker thread while the calling thread watches for
//! signals; on Ctrl-C they [`request`] a stop. Long loops call [`checkpoint`] between blocks of
//! work (a panel of a reduction, a Krylov iteration, one problem of a batch): it unwinds with the
//! [`Interrupted`] payload, which the bindings' `catch_unwind` turns into `KeyboardInterrupt`.
//! Unwinding needs no `Result` plumbing through kernels that cannot otherwise fail, and drops
//! every partial result; state that outlives a call (the moment accumulator) checks [`requested`]
//! instead and stops at a point where it is consistent.
//!
//! One flag for the process: Ctrl-C stops every linssl computation in progress, as it stops the
//! Python program that started them.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// The unwind payload of an interrupted computation.
#[derive(Debug)]
pub struct Interrupted;

/// Ask every computation in progress to stop at its next checkpoint.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Let computations run again (after the interrupted ones have stopped).
pub fn clear() {
    REQUESTED.store(false, Ordering::Relaxed);
}

/// Whether a stop has been requested.
#[inline]
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Unwind with [`Interrupted`] if a stop has been requested. `resume_unwind` skips the panic
/// hook, so nothing is printed.
#[inline]
pub fn checkpoint() {
    if requested() {
        std::panic::resume_unwind(Box::new(Interrupted));
    }
}
