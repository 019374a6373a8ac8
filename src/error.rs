//! The one error type of the core. `bindings.rs` maps each variant to a Python exception:
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
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape(msg) | Error::InvalidArgument(msg) | Error::Numerical(msg) => f.write_str(msg),
            Error::NotPositiveDefinite { what, pivot, value } => write!(
                f,
                "{what} is not positive definite: Cholesky pivot {pivot} is {value:.3e}; \
                 pass ridge=1e-6 (or larger) to regularise it, or remove constant/duplicated features"
            ),
        }
    }
}

impl std::error::Error for Error {}
