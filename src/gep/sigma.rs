//! Joint embedding without a Cholesky factor of `S`, when `Sigma = S - G` is known in factored form.
//!
//! `G w = omega S w` with `S = G + Sigma` is the same problem as `G w = mu Sigma w` with
//! `omega = mu / (1 + mu)`. For closed-form augmentations `Sigma` is cheap: diagonal for masks and
//! diagonal noise, low rank plus diagonal, `D + F F^T`, for such noise. With
//! `R = (I + Z Z^T)^{1/2} D^{1/2}`, `Z = D^{-1/2} F`, it factors as `Sigma = R^T R`, and `R^{-1}` costs
//! O(d r) per vector (`(I + Z Z^T)^{-1/2} = I - U diag(c) U^T` from the thin SVD `Z = U s V^T`,
//! `c = 1 - (1 + s^2)^{-1/2}`). The problem becomes the *standard* symmetric one
//! `H y = mu y`, `H = R^{-T} G R^{-1}`, `w = R^{-1} y / sqrt(1 + mu)` (so `w^T S w = 1`): no Cholesky
//! factor of `S` (d^3 / 3 flops) and no triangular solves, and the top `mu` are far better separated
//! than the top `omega`, which all crowd below 1, so the block Krylov solver converges in fewer steps.
//! Every pair is checked against the original `(G, S)`; the caller falls back to the Cholesky
//! route when the check fails (e.g. `Sigma` does not match `S - G`).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::block_krylov::{apply_in_groups, block_size, BlockKrylov, KrylovOperator};
use super::{max_relative_residual, GepSolution, LeftMatrix, Norms, Solver, TUNING};
use crate::symmetric_eigen::symmetric_eigen;

/// `Sigma = diag(diag) + factor factor^T`, the augmentation covariance averaged over samples.
#[derive(Clone, Copy, Debug)]
pub struct SigmaFactors<'a> {
    /// The diagonal part, length d.
    pub diag: &'a [f64],
    /// The low-rank part, d x r (r may be 0).
    pub factor: MatRef<'a, f64>,
}

/// `R^{-1}` and `R^T` of `Sigma = R^T R` (see the module notes), for a `Sigma` scaled by `scale`.
struct Whitening {
    /// `D^{-1/2}` and `D^{1/2}`.
    inv_sqrt: Vec<f64>,
    sqrt: Vec<f64>,
    /// Left singular vectors of `Z` (d x r) and the coefficients of `(I + Z Z^T)^{-1/2}` and of
    /// `(I + Z Z^T)^{1/2}`: `I - U diag(shrink) U^T`, `I + U diag(grow) U^T`.
    u: Mat<f64>,
    shrink: Vec<f64>,
    grow: Vec<f64>,
}

impl Whitening {
    /// None when `D` has an entry that is not positive (then `Sigma` need not be invertible).
    fn new(sigma: SigmaFactors<'_>, shift: f64, scale: f64) -> Option<Whitening> {
        let d = sigma.diag.len();
        let diag: Vec<f64> = sigma.diag.iter().map(|&x| scale * (x + shift)).collect();
        if !diag.iter().all(|&x| x > 0.0 && x.is_finite()) {
            return None;
        }
        let inv_sqrt: Vec<f64> = diag.iter().map(|x| x.sqrt().recip()).collect();
        let sqrt: Vec<f64> = diag.iter().map(|x| x.sqrt()).collect();
        let r = sigma.factor.ncols();
        let root = scale.sqrt();
        let z = Mat::from_fn(d, r, |i, j| root * sigma.factor[(i, j)] * inv_sqrt[i]);
        if r == 0 {
            return Some(Whitening { inv_sqrt, sqrt, u: z, shrink: Vec::new(), grow: Vec::new() });
        }
        // Thin SVD of Z from the r x r eigenproblem of Z^T Z (r is small).
        let mut ztz = Mat::<f64>::zeros(r, r);
        matmul(ztz.as_mut(), Accum::Replace, z.transpose(), z.as_ref(), 1.0, Par::Seq);
        let (s2, v) = symmetric_eigen(ztz, r, true, Par::Seq).ok()?;
        let top = s2.first().copied().unwrap_or(0.0).max(0.0);
        let kept: Vec<usize> = (0..r).filter(|&j| s2[j] > top * (r as f64) * f64::EPSILON && s2[j] > 0.0).collect();
        let mut zv = Mat::<f64>::zeros(d, r);
        matmul(zv.as_mut(), Accum::Replace, z.as_ref(), v.as_ref(), 1.0, Par::Seq);
        let u = Mat::from_fn(d, kept.len(), |i, j| zv[(i, kept[j])] / s2[kept[j]].sqrt());
        let shrink = kept.iter().map(|&j| 1.0 - (1.0 + s2[j]).sqrt().recip()).collect();
        let grow = kept.iter().map(|&j| (1.0 + s2[j]).sqrt() - 1.0).collect();
        Some(Whitening { inv_sqrt, sqrt, u, shrink, grow })
    }

    /// `x <- x + U diag(coef) U^T x`, for a block `x` (d x p).
    fn low_rank(&self, mut x: MatMut<'_, f64>, coef: &[f64], sign: f64, par: Par) {
        if coef.is_empty() {
            return;
        }
        let mut ut_x = Mat::<f64>::zeros(self.u.ncols(), x.ncols());
        matmul(ut_x.as_mut(), Accum::Replace, self.u.transpose(), x.as_ref(), 1.0, par);
        for (i, c) in coef.iter().enumerate() {
            ut_x.row_mut(i).iter_mut().for_each(|v| *v *= sign * c);
        }
        matmul(x.as_mut(), Accum::Add, self.u.as_ref(), ut_x.as_ref(), 1.0, par);
    }

    fn scale_rows(x: MatMut<'_, f64>, by: &[f64]) {
        let mut x = x;
        for j in 0..x.ncols() {
            x.as_mut().col_mut(j).iter_mut().zip(by).for_each(|(v, s)| *v *= s);
        }
    }

    /// `R^{-1} x = D^{-1/2} (I + Z Z^T)^{-1/2} x`, in place.
    fn inv(&self, mut x: MatMut<'_, f64>, par: Par) {
        self.low_rank(x.as_mut(), &self.shrink, -1.0, par);
        Self::scale_rows(x, &self.inv_sqrt);
    }

    /// `R^{-T} x = (I + Z Z^T)^{-1/2} D^{-1/2} x`, in place.
    fn inv_t(&self, mut x: MatMut<'_, f64>, par: Par) {
        Self::scale_rows(x.as_mut(), &self.inv_sqrt);
        self.low_rank(x, &self.shrink, -1.0, par);
    }

    /// `R^T x = D^{1/2} (I + Z Z^T)^{1/2} x`, in place.
    fn fwd_t(&self, mut x: MatMut<'_, f64>, par: Par) {
        self.low_rank(x.as_mut(), &self.grow, 1.0, par);
        Self::scale_rows(x, &self.sqrt);
    }
}

/// `x -> H x = R^{-T} (scale G) R^{-1} x`, with the norms of the scaled `G` and `S` for residuals.
struct WhitenedOperator<'a> {
    g: MatRef<'a, f64>,
    scale: f64,
    white: &'a Whitening,
    norm_g: f64,
    norm_s: f64,
}

impl KrylovOperator for WhitenedOperator<'_> {
    fn dim(&self) -> usize {
        self.g.nrows()
    }

    fn apply(&self, x: MatRef<'_, f64>, out: MatMut<'_, f64>, par: Par) {
        apply_in_groups(x, out, par, |x, mut out, par| {
            let mut t = x.to_owned();
            self.white.inv(t.as_mut(), par);
            matmul(out.as_mut(), Accum::Replace, self.g, t.as_ref(), self.scale, par);
            self.white.inv_t(out, par);
        });
    }

    /// With `w = R^{-1} y / sqrt(1 + mu)`: `G w - omega S w = R^T r / (1 + mu)^{3/2}`.
    fn relative_residuals(&self, theta: &[f64], y: MatRef<'_, f64>, r: MatRef<'_, f64>, par: Par) -> Vec<f64> {
        let mut rt = r.to_owned();
        self.white.fwd_t(rt.as_mut(), par);
        let mut w = y.to_owned();
        self.white.inv(w.as_mut(), par);
        (0..theta.len())
            .map(|j| {
                let mu = theta[j];
                let omega = mu / (1.0 + mu);
                rt.col(j).norm_l2() / ((1.0 + mu) * (self.norm_g + omega.abs() * self.norm_s) * w.col(j).norm_l2())
            })
            .collect()
    }
}

/// `H = R^{-T} (scale G) R^{-1}`, formed (d x d) for the dense solver.
fn whitened_matrix(g: MatRef<'_, f64>, scale: f64, white: &Whitening, par: Par) -> Mat<f64> {
    let d = g.nrows();
    let mut h = Mat::from_fn(d, d, |i, j| white.inv_sqrt[i] * (scale * g[(i, j)]) * white.inv_sqrt[j]);
    if !white.shrink.is_empty() {
        // (I - U C U^T) H (I - U C U^T), applied to the columns and then to the rows.
        white.low_rank(h.as_mut(), &white.shrink, -1.0, par);
        let mut ht = h.transpose().to_owned();
        white.low_rank(ht.as_mut(), &white.shrink, -1.0, par);
        h = Mat::from_fn(d, d, |i, j| 0.5 * (ht[(i, j)] + ht[(j, i)]));
    }
    h
}

/// The solver the whitened route takes for `k` pairs of a d x d problem.
fn whitened_solver(requested: Solver, d: usize, k: usize) -> Solver {
    match requested {
        Solver::Auto if d >= TUNING.iterative_min_dim && k * TUNING.whitened_iterative_max_ratio <= d => {
            Solver::Iterative
        }
        Solver::Auto => Solver::Dense,
        s => s,
    }
}

/// The `k` largest `omega` and their `w` (d x k, `w^T S w = 1`) of `G w = omega S w`, through the
/// whitened standard problem, with the solver used, its operator applications and the largest
/// relative residual of the pairs; None when the route does not apply (a non-positive `D`) or its
/// pairs fail the check against `(G, S + shift I)` at `tol`. Inputs are validated by the caller;
/// `scale` is the exact power of two that brings `G` and `S` near 1; `norms` are unscaled.
#[allow(clippy::too_many_arguments)]
pub(crate) fn largest_pairs(
    g: MatRef<'_, f64>,
    s: MatRef<'_, f64>,
    sigma: SigmaFactors<'_>,
    shift: f64,
    scale: f64,
    norms: Norms,
    k: usize,
    requested: Solver,
    tol: f64,
    par: Par,
) -> Option<GepSolution> {
    let d = g.nrows();
    let white = Whitening::new(sigma, shift, scale)?;
    let mut solver = whitened_solver(requested, d, k);
    let mut applied = 0;
    let mut pairs = None;
    if solver == Solver::Iterative && 3 * block_size(k) < d {
        let op = WhitenedOperator { g, scale, white: &white, norm_g: scale * norms.a, norm_s: scale * norms.b };
        let mut krylov = BlockKrylov::new(&op, k, par);
        if krylov.run(tol.max(1e-14)) {
            applied = krylov.applied;
            pairs = Some(krylov.ritz_pairs());
        }
    }
    let (mu, y) = match pairs {
        Some(p) => p,
        None => {
            solver = Solver::Dense;
            symmetric_eigen(whitened_matrix(g, scale, &white, par), k, true, par).ok()?
        }
    };
    if mu.iter().any(|&m| !(m > -1.0)) {
        return None; // S would not be positive definite along that direction
    }
    let mut w = y;
    white.inv(w.as_mut(), par);
    let root = scale.sqrt();
    for (j, &m) in mu.iter().enumerate() {
        let f = root / (1.0 + m).sqrt();
        w.col_mut(j).iter_mut().for_each(|x| *x *= f);
    }
    let omega: Vec<f64> = mu.iter().map(|m| m / (1.0 + m)).collect();
    let residual = max_relative_residual(LeftMatrix::Dense(g), s, shift, norms, &omega, w.as_ref(), par);
    // The dense solver is held to rounding level, the iterative one to its tolerance.
    let bound = if solver == Solver::Dense { tol.max(100.0 * d as f64 * f64::EPSILON) } else { tol };
    (residual <= bound).then_some(GepSolution {
        w: omega,
        v: w,
        solver,
        max_residual: Some(residual),
        operator_applications: applied,
    })
}
