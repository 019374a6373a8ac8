//! linssl core: exact optimal linear models of self-supervised learning.
//!
//! Module list and re-exports only; see each module for the numerics.

pub mod error;
pub mod gep;
pub mod moments;
pub mod solve;
pub mod symmetric_eigen;
mod symv;
pub mod transpose;

#[cfg(feature = "python")]
mod bindings;

pub use error::{Error, Result};
pub use gep::{eigh_generalized, eigh_generalized_batch, GepOptions, GepSolution, Method};
pub use moments::Moments;
