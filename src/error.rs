//! The one error type of the core. The bindings (`bindings/boundary.rs`) map each variant to a Python exception:
//! shape/argument problems to `ValueError`, numerical failures to `linssl.LinAlgError`.

use std::fmt;

/// Everything that can go wrong in the numerical core.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// Array shapes do not fit together (maps to `ValueError`).
    Shape(String),
    /// An argument is out of range, e.g. `k > d` (maps to `ValueError`).
    InvalidArgument(String),
    /// A matrix that must be symmetric positive definite is not: the Cholesky factorisation
    /// failed at `pivot` (0-based) where the remaining diagonal was `value` (maps to `LinAlgError`).
    NotPositiveDefinite { what: String, pivot: usize, value: f64 },
    /// Any other numerical failure, e.g. an eigensolver that did not converge (maps to `LinAlgError`).
    Numerical(String),
    /// Input data hold NaN or an infinity: `what` (`"X"`, `"y"`) has `value` at (`row`, `col`), its
    /// first non-finite entry in row-major order, with rows and columns counted from 0 over the
    /// whole stream (maps to `ValueError`).
    NonFinite { what: String, row: u64, col: u64, value: f64 },
    /// A matrix could not be allocated (maps to `MemoryError`).
    OutOfMemory(String),
    /// The computation was stopped by [`crate::interrupt::request`] (Ctrl-C; maps to
    /// `KeyboardInterrupt`); the message says what state was kept.
    Interrupted(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape(msg)
            | Error::InvalidArgument(msg)
            | Error::Numerical(msg)
            | Error::OutOfMemory(msg)
            | Error::Interrupted(msg) => f.write_str(msg),
            Error::NonFinite { what, row, col, value } => write!(
                f,
                "{what} contains {value} at row {row}, column {col} (its first non-finite value; rows and columns \
                 count from 0); remove or impute the non-finite values (drop those rows, or np.nan_to_num) first"
            ),
            Error::NotPositiveDefinite { what, pivot, value } => write!(
                f,
                "{what} is not positive definite{}: Cholesky pivot {pivot} is {value:.3e}{}; \
                 pass ridge=1e-6 (or larger) to regularise it, or remove constant/duplicated features",
                if *value > 0.0 { " to working precision" } else { "" },
                if *value > 0.0 { ", at the rounding level of the factorisation" } else { "" },
            ),
        }
    }
}

impl std::error::Error for Error {}
