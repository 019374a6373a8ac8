//! Many independent problems (one per augmentation configuration of a study, say) at once.
//!
//! Small problems are spread across rayon's threads, each solved with sequential kernels: a
//! small eigenproblem parallelises poorly inside, and independent problems need no
//! synchronisation. Few large problems are solved one after the other, each with all threads.

use faer::{MatRef, Par};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::gep::{eigh_generalized, GepOptions, GepSolution, TUNING};
use crate::interrupt::checkpoint;

/// Solve many independent problems: in parallel across problems (each with sequential faer
/// kernels) when there are enough of them, otherwise one after the other with faer's own
/// parallelism inside each. Errors name the problem's index.
pub fn eigh_generalized_batch(
    pairs: &[(MatRef<'_, f64>, MatRef<'_, f64>)],
    k: usize,
    opts: &GepOptions,
    par: Par,
) -> Result<Vec<GepSolution>> {
    for_each_problem(pairs.len(), par, pairs.iter().map(|(a, _)| a.nrows()).max().unwrap_or(0), |i, inner| {
        let (a, b) = pairs[i];
        eigh_generalized(a, b, k, opts, inner)
    })
}

/// Run `solve(i, inner_par)` for `0..count`, choosing where the parallelism goes, and prefix
/// errors with the index of the failing problem.
pub fn for_each_problem<T: Send>(
    count: usize,
    par: Par,
    max_dim: usize,
    solve: impl Fn(usize, Par) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let threads = par.degree();
    let across = threads > 1 && count > 1 && (count >= 2 * threads || max_dim <= TUNING.batch_across_max_dim);
    let label = |i: usize, e: Error| match e {
        Error::Shape(msg) => Error::Shape(format!("problem {i}: {msg}")),
        Error::InvalidArgument(msg) => Error::InvalidArgument(format!("problem {i}: {msg}")),
        Error::Numerical(msg) => Error::Numerical(format!("problem {i}: {msg}")),
        Error::NotPositiveDefinite { what, pivot, value } => {
            Error::NotPositiveDefinite { what: format!("{what} of problem {i}"), pivot, value }
        }
        Error::NonFinite { what, row, col, value } => {
            Error::NonFinite { what: format!("{what} of problem {i}"), row, col, value }
        }
        Error::OutOfMemory(msg) => Error::OutOfMemory(format!("problem {i}: {msg}")),
        Error::Interrupted(msg) => Error::Interrupted(msg),
    };
    if across {
        (0..count)
            .into_par_iter()
            .map(|i| {
                checkpoint();
                solve(i, Par::Seq).map_err(|e| label(i, e))
            })
            .collect()
    } else {
        (0..count)
            .map(|i| {
                checkpoint();
                solve(i, par).map_err(|e| label(i, e))
            })
            .collect()
    }
}
