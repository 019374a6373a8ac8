//! linssl core: exact optimal linear models of self-supervised learning.
//!
//! Module list and re-exports only; see each module for the numerics. Data flow: [`moments`]
//! (the one O(n d^2) pass) -> [`closed_forms`] -> [`gep`] (one problem) or [`batch`] (many).

pub mod batch;
pub mod closed_forms;
pub mod error;
pub mod finite;
pub mod gep;
pub mod interrupt;
mod lower_product;
pub mod moments;
pub mod symmetric_eigen;
mod symv;
pub mod transpose;

#[cfg(feature = "python")]
mod bindings;

pub use batch::eigh_generalized_batch;
pub use error::{Error, Result};
pub use gep::{eigh_generalized, GepOptions, GepSolution, Solver};
pub use moments::Moments;
