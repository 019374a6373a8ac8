//! Reconstruction as PCA of `M` when the augmentation is isotropic: no Cholesky factor of `S`,
//! no `C^T C`.
//!
//! With a scalar mean map `P = p I` and `Sigma = S - G = p^2 e I` (isotropic noise, possibly
//! after a uniform scalar mask whose variance term is isotropic too), `S = p^2 (M + e I)` and
//! `C = p M`, so `C^T C v = phi^2 S v` is `M^2 v = phi^2 (M + e I) v`: the eigenvectors `q` of `M`
//! with `phi^2 = lambda^2 / (lambda + e)`, which grows with `lambda >= 0`, so the top k are
//! those of `M`; `v = q / (p sqrt(lambda + e))`. Every pair is checked against `(C^T C, S)`; the
//! caller falls back to the general route when the check fails.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::block_krylov::{apply_in_groups, block_size, BlockKrylov, KrylovOperator};
use super::{max_relative_residual, GepSolution, LeftMatrix, Norms, Solver, TUNING};
use crate::symmetric_eigen::symmetric_eigen;

/// `x -> alpha C x` for the symmetric `C = p M` (`alpha = scale / p`: the scaled `M`).
struct MOperator<'a> {
    c: MatRef<'a, f64>,
    alpha: f64,
    norm_m: f64,
}

impl KrylovOperator for MOperator<'_> {
    fn dim(&self) -> usize {
        self.c.nrows()
    }

    fn apply(&self, x: MatRef<'_, f64>, out: MatMut<'_, f64>, par: Par) {
        apply_in_groups(x, out, par, |x, out, par| matmul(out, Accum::Replace, self.c, x, self.alpha, par));
    }

    /// The relative residual of the standard problem; the pairs are checked in the original
    /// problem once the iteration has converged.
    fn relative_residuals(&self, _theta: &[f64], y: MatRef<'_, f64>, r: MatRef<'_, f64>, _par: Par) -> Vec<f64> {
        (0..y.ncols()).map(|j| r.col(j).norm_l2() / (self.norm_m * y.col(j).norm_l2())).collect()
    }
}

/// `p` and `e` when the structure is isotropic (equal keep probabilities `p > 0`, no low-rank
/// part, `(sigma + shift) / p^2` equal to rounding), else None.
pub(crate) fn isotropy(keep: &[f64], sigma_diag: &[f64], factor_cols: usize, shift: f64) -> Option<(f64, f64)> {
    let p = *keep.first()?;
    if factor_cols != 0 || !(p > 0.0) || keep.iter().any(|&q| q != p) {
        return None;
    }
    let e0 = (sigma_diag[0] + shift) / (p * p);
    let tol = 1e-12 * e0.abs().max(f64::MIN_POSITIVE);
    (e0 > 0.0 && sigma_diag.iter().all(|&s| ((s + shift) / (p * p) - e0).abs() <= tol)).then_some((p, e0))
}

/// The `k` largest `phi^2` and their `v` (d x k, `v^T S v = 1`) of `C^T C v = phi^2 S v` through
/// PCA of `M = C / p`; None when its pairs fail the check at `tol`. `c` is the symmetric `p M`
/// (validated by the caller), `s` the unscaled `S`, `norms` those of `C^T C` (bound) and `S`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn largest_pairs(
    c: MatRef<'_, f64>,
    s: MatRef<'_, f64>,
    (p, e): (f64, f64),
    shift: f64,
    scale: f64,
    norms: Norms,
    k: usize,
    requested: Solver,
    tol: f64,
    par: Par,
) -> Option<GepSolution> {
    let d = c.nrows();
    let alpha = scale / p;
    let mut solver = match requested {
        Solver::Auto if d >= TUNING.iterative_min_dim && k * TUNING.whitened_iterative_max_ratio <= d => {
            Solver::Iterative
        }
        Solver::Auto => Solver::Dense,
        s => s,
    };
    let mut applied = 0;
    let mut pairs = None;
    if solver == Solver::Iterative && 3 * block_size(k) < d {
        let norm_m = alpha * (0..d).map(|j| c.col(j).squared_norm_l2()).sum::<f64>().sqrt();
        let op = MOperator { c, alpha, norm_m };
        let mut krylov = BlockKrylov::new(&op, k, par);
        if krylov.run((0.01 * tol).max(1e-14)) {
            applied = krylov.applied;
            pairs = Some(krylov.ritz_pairs());
        }
    }
    let (lambda, q) = match pairs {
        Some(pair) => pair,
        None => {
            solver = Solver::Dense;
            let m = Mat::from_fn(d, d, |i, j| alpha * c[(i, j)]);
            symmetric_eigen(m, k, true, par).ok()?
        }
    };
    // Back to the unscaled M: lambda / scale; v = q / (p sqrt(lambda + e)).
    let lambda: Vec<f64> = lambda.iter().map(|l| l / scale).collect();
    if lambda.iter().any(|&l| !(l + e > 0.0)) {
        return None;
    }
    let phi2: Vec<f64> = lambda.iter().map(|&l| l.max(0.0) * (l.max(0.0) / (l + e))).collect();
    let mut v = q;
    for (j, &l) in lambda.iter().enumerate() {
        let f = 1.0 / (p * (l + e).sqrt());
        v.col_mut(j).iter_mut().for_each(|x| *x *= f);
    }
    let residual = max_relative_residual(LeftMatrix::Gram(c), s, shift, norms, &phi2, v.as_ref(), par);
    let bound = if solver == Solver::Dense { tol.max(100.0 * d as f64 * f64::EPSILON) } else { tol };
    (residual <= bound).then_some(GepSolution {
        w: phi2,
        v,
        solver,
        max_residual: Some(residual),
        operator_applications: applied,
    })
}
