//! Closed-form optimal linear models from moments: joint embedding (JE), reconstruction (RC) and
//! supervised learning with augmentations (SL), as stated in the project's science note.
//!
//! Inputs are moments of the augmented data, all divided by n:
//! `S = E[tau(x) tau(x)^T]` (d x d), `G = Xbar^T Xbar / n` (d x d), `C = X^T Xbar / n` (p x d),
//! `B = Y^T Xbar / n` (l x d), and the traces `||X||_F^2 / n`, `||Y||_F^2 / n`.
//!
//! Design decision: the moment maps of augmentations (Gaussian noise, masking, compositions:
//! `S`, `G`, `C` from `X^T X / n`) live in Python (`linssl.augment`), not here. They are O(d^2)
//! NumPy expressions, cheap next to the O(d^3) or O(d^2 k) solves below, and must exist in one
//! place only. This module receives the finished matrices; batched variants take one problem per
//! augmentation configuration (typically all built from one data covariance) and solve them in
//! parallel.

use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Accum, Mat, MatRef, Par};

use crate::batch::for_each_problem;
use crate::error::{Error, Result};
use crate::finite::require_finite;
use crate::gep::validate::check_squared_norm;
use crate::gep::{
    check_result_finite, check_ridge, check_symmetric, cholesky, largest_gram_with_structure, largest_with_sigma,
    power_of_two_scale, ridge_shift, solve_named, GepOptions, LeftMatrix, SigmaFactors, Solver,
};

/// Optimal joint-embedding map: `W S W^T = I`, rows are the top generalized eigenvectors of `(G, S)`.
#[derive(Clone, Debug)]
pub struct JointEmbedding {
    /// `omega_1 >= ... >= omega_k` (in [0, 1] when `G <= S`).
    pub omega: Vec<f64>,
    /// `W` (k x d).
    pub w: Mat<f64>,
    /// Minimum loss `2 (k - sum omega)`.
    pub loss: f64,
    /// The solver of the generalized eigenproblem.
    pub solver: Solver,
}

/// Optimal linear auto-encoder: encoder `E` (k x d), decoder `D` (p x k).
#[derive(Clone, Debug)]
pub struct Reconstruction {
    /// `phi_1^2 >= ... >= phi_k^2`, squared singular values of `C S^{-1/2}`.
    pub phi2: Vec<f64>,
    /// `E = V^T` (k x d) with `E S E^T = I`.
    pub encoder: Mat<f64>,
    /// `D = C V` (p x k).
    pub decoder: Mat<f64>,
    /// Minimum loss `||X||_F^2 / n - sum phi^2`.
    pub loss: f64,
    /// The solver of the generalized eigenproblem.
    pub solver: Solver,
}

/// Optimal supervised map with augmentations, `V = B S^{-1}`.
#[derive(Clone, Debug)]
pub struct Supervised {
    /// `V` (l x d).
    pub v: Mat<f64>,
    /// Minimum loss `||Y||_F^2 / n - tr(B S^{-1} B^T)`.
    pub loss: f64,
}

/// JE: top-k generalized eigenpairs of `G w = omega S w`. With `sigma` (`S - G` in factored form,
/// known for closed-form augmentations) through the whitened problem of [`crate::gep::sigma`],
/// which needs no Cholesky factor of `S`.
pub fn joint_embedding(
    s: MatRef<'_, f64>,
    g: MatRef<'_, f64>,
    sigma: Option<SigmaFactors<'_>>,
    k: usize,
    opts: &GepOptions,
    par: Par,
) -> Result<JointEmbedding> {
    let opts = GepOptions { largest: true, ..*opts };
    let sol = match sigma {
        Some(sigma) => largest_with_sigma(g, s, sigma, k, &opts, par)?,
        None => solve_named(LeftMatrix::Dense(g), s, k, &opts, par, ["G", "S"])?,
    };
    let loss = 2.0 * (k as f64 - sol.w.iter().sum::<f64>());
    check_result_finite("the joint embedding", sol.w.iter().copied().chain(entries(sol.v.as_ref())).chain([loss]))?;
    Ok(JointEmbedding { omega: sol.w, w: sol.v.transpose().to_owned(), loss, solver: sol.solver })
}

/// The diagonal mean map `keep` and `Sigma = S - G` in factored form, when the augmentation gives
/// them (reconstruction then takes the PCA route of [`crate::gep::isotropic`] when both are
/// isotropic).
pub type MomentStructure<'a> = (&'a [f64], SigmaFactors<'a>);

/// RC: top-k generalized eigenpairs of `(C^T C) v = phi^2 S v`; `E = V^T`, `D = C V`.
pub fn reconstruction(
    s: MatRef<'_, f64>,
    c: MatRef<'_, f64>,
    trace_xx: f64,
    structure: Option<MomentStructure<'_>>,
    k: usize,
    opts: &GepOptions,
    par: Par,
) -> Result<Reconstruction> {
    let d = s.nrows();
    if c.ncols() != d {
        return Err(Error::Shape(format!(
            "C must have d = {d} columns (one per feature of S); got shape ({}, {})",
            c.nrows(),
            c.ncols()
        )));
    }
    check_squared_norm("trace_xx", trace_xx)?;
    // C^T C is formed only if the dense solver runs: the iterative one applies C twice.
    let opts = GepOptions { largest: true, ..*opts };
    let sol = match structure {
        Some((keep, sigma)) if c.nrows() == d => largest_gram_with_structure(c, s, keep, sigma, k, &opts, par)?,
        _ => solve_named(LeftMatrix::Gram(c), s, k, &opts, par, ["C^T C", "S"])?,
    };
    let mut dec = Mat::<f64>::zeros(c.nrows(), k);
    matmul(dec.as_mut(), Accum::Replace, c, sol.v.as_ref(), 1.0, par);
    let loss = trace_xx - sol.w.iter().sum::<f64>();
    let values = sol.w.iter().copied().chain(entries(sol.v.as_ref())).chain(entries(dec.as_ref())).chain([loss]);
    check_result_finite("the reconstruction", values)?;
    Ok(Reconstruction { phi2: sol.w, encoder: sol.v.transpose().to_owned(), decoder: dec, loss, solver: sol.solver })
}

/// SL: `V = B S^{-1}` by a Cholesky solve of `S` (with the optional ridge, as for the eigensolvers).
pub fn supervised(s: MatRef<'_, f64>, b: MatRef<'_, f64>, trace_yy: f64, ridge: f64, par: Par) -> Result<Supervised> {
    let s_max = check_symmetric("S", s)?.max_abs;
    let d = s.nrows();
    if d == 0 {
        return Err(Error::Shape("S is empty (0 x 0)".into()));
    }
    if b.ncols() != d {
        return Err(Error::Shape(format!(
            "B = Y^T Xbar / n must have d = {d} columns; got shape ({}, {})",
            b.nrows(),
            b.ncols()
        )));
    }
    require_finite(b, "B", 0, 0, par)?;
    check_squared_norm("trace_yy", trace_yy)?;
    check_ridge(ridge)?;
    let shift = ridge_shift(s, ridge, "S")?;
    let scale = power_of_two_scale(s_max + shift.abs(), false);
    let l = cholesky(s, shift, scale, "S", par)?;
    // L L^T = scale S, so Z = S^{-1} B^T = scale L^{-T} L^{-1} B^T (d x l); V = Z^T.
    let mut z = Mat::from_fn(d, b.nrows(), |i, j| scale * b[(j, i)]);
    solve_lower_triangular_in_place(l.as_ref(), z.as_mut(), par);
    solve_upper_triangular_in_place(l.as_ref().transpose(), z.as_mut(), par);
    let explained: f64 = (0..b.nrows()).map(|i| (0..d).map(|j| b[(i, j)] * z[(j, i)]).sum::<f64>()).sum();
    let loss = trace_yy - explained;
    check_result_finite("the supervised map", entries(z.as_ref()).chain([loss]))?;
    Ok(Supervised { v: z.transpose().to_owned(), loss })
}

/// Every entry of `m`, column by column.
fn entries<'a>(m: MatRef<'a, f64>) -> impl Iterator<Item = f64> + 'a {
    (0..m.ncols()).flat_map(move |j| (0..m.nrows()).map(move |i| m[(i, j)]))
}

/// One joint-embedding problem of a batch: `(S, G, Sigma in factored form if known)`.
pub type JointEmbeddingProblem<'a> = (MatRef<'a, f64>, MatRef<'a, f64>, Option<SigmaFactors<'a>>);

/// [`joint_embedding`] for many problems, solved in parallel.
pub fn joint_embedding_batch(
    problems: &[JointEmbeddingProblem<'_>],
    k: usize,
    opts: &GepOptions,
    par: Par,
) -> Result<Vec<JointEmbedding>> {
    let max_dim = problems.iter().map(|(s, _, _)| s.nrows()).max().unwrap_or(0);
    for_each_problem(problems.len(), par, max_dim, |i, inner| {
        let (s, g, sigma) = problems[i];
        joint_embedding(s, g, sigma, k, opts, inner)
    })
}

/// One reconstruction problem of a batch: `(S, C, trace_xx, structure if known)`.
pub type ReconstructionProblem<'a> = (MatRef<'a, f64>, MatRef<'a, f64>, f64, Option<MomentStructure<'a>>);

/// [`reconstruction`] for many problems, solved in parallel.
pub fn reconstruction_batch(
    problems: &[ReconstructionProblem<'_>],
    k: usize,
    opts: &GepOptions,
    par: Par,
) -> Result<Vec<Reconstruction>> {
    let max_dim = problems.iter().map(|(s, _, _, _)| s.nrows()).max().unwrap_or(0);
    for_each_problem(problems.len(), par, max_dim, |i, inner| {
        let (s, c, t, structure) = problems[i];
        reconstruction(s, c, t, structure, k, opts, inner)
    })
}

/// [`supervised`] for many `(S, B, trace_yy)` problems, solved in parallel.
pub fn supervised_batch(
    problems: &[(MatRef<'_, f64>, MatRef<'_, f64>, f64)],
    ridge: f64,
    par: Par,
) -> Result<Vec<Supervised>> {
    let max_dim = problems.iter().map(|(s, _, _)| s.nrows()).max().unwrap_or(0);
    for_each_problem(problems.len(), par, max_dim, |i, inner| {
        let (s, b, t) = problems[i];
        supervised(s, b, t, ridge, inner)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moments of a small synthetic data set under additive Gaussian noise `N(0, sigma2 I)`:
    /// `S = X^T X / n + sigma2 I`, `G = C = X^T X / n` (the clean target is the mean view).
    fn noisy_moments(n: usize, d: usize, sigma2: f64) -> (Mat<f64>, Mat<f64>, f64) {
        let mut state = 12345u64;
        let x = Mat::from_fn(n, d, |_, j| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * (1.0 + j as f64)
        });
        let mut xtx = Mat::<f64>::zeros(d, d);
        matmul(xtx.as_mut(), Accum::Replace, x.transpose(), x.as_ref(), 1.0 / n as f64, Par::Seq);
        let xtx = Mat::from_fn(d, d, |i, j| 0.5 * (xtx[(i, j)] + xtx[(j, i)]));
        let trace: f64 = (0..d).map(|i| xtx[(i, i)]).sum();
        let s = Mat::from_fn(d, d, |i, j| xtx[(i, j)] + if i == j { sigma2 } else { 0.0 });
        (s, xtx, trace)
    }

    #[test]
    fn joint_embedding_is_s_orthonormal_with_omega_in_unit_interval() {
        let (s, g, _) = noisy_moments(500, 6, 0.3);
        let je = joint_embedding(s.as_ref(), g.as_ref(), None, 3, &GepOptions::default(), Par::Seq).unwrap();
        let mut wsw = Mat::<f64>::zeros(3, 3);
        let mut ws = Mat::<f64>::zeros(3, 6);
        matmul(ws.as_mut(), Accum::Replace, je.w.as_ref(), s.as_ref(), 1.0, Par::Seq);
        matmul(wsw.as_mut(), Accum::Replace, ws.as_ref(), je.w.transpose(), 1.0, Par::Seq);
        for i in 0..3 {
            for j in 0..3 {
                assert!((wsw[(i, j)] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
            assert!(je.omega[i] > 0.0 && je.omega[i] < 1.0);
        }
        assert!((je.loss - 2.0 * (3.0 - je.omega.iter().sum::<f64>())).abs() < 1e-15);
    }

    #[test]
    fn reconstruction_loss_matches_the_reconstruction_error() {
        // For Gaussian noise, E||x - D E (x + eps)||^2 / n = tr(xx) - 2 tr(D E C^T) + tr(D E S E^T D^T).
        let (s, c, trace) = noisy_moments(400, 5, 0.2);
        let rc = reconstruction(s.as_ref(), c.as_ref(), trace, None, 2, &GepOptions::default(), Par::Seq).unwrap();
        let mut de = Mat::<f64>::zeros(5, 5);
        matmul(de.as_mut(), Accum::Replace, rc.decoder.as_ref(), rc.encoder.as_ref(), 1.0, Par::Seq);
        let mut tmp = Mat::<f64>::zeros(5, 5);
        matmul(tmp.as_mut(), Accum::Replace, de.as_ref(), s.as_ref(), 1.0, Par::Seq);
        let mut quad = Mat::<f64>::zeros(5, 5);
        matmul(quad.as_mut(), Accum::Replace, tmp.as_ref(), de.transpose(), 1.0, Par::Seq);
        let mut cross = Mat::<f64>::zeros(5, 5);
        matmul(cross.as_mut(), Accum::Replace, de.as_ref(), c.transpose(), 1.0, Par::Seq);
        let loss = trace - 2.0 * (0..5).map(|i| cross[(i, i)]).sum::<f64>() + (0..5).map(|i| quad[(i, i)]).sum::<f64>();
        assert!((loss - rc.loss).abs() < 1e-10 * trace, "{loss} vs {}", rc.loss);
    }

    #[test]
    fn supervised_solves_the_normal_equations() {
        let (s, c, _) = noisy_moments(300, 4, 0.5);
        let b = c.as_ref().subrows(0, 2).to_owned();
        let sl = supervised(s.as_ref(), b.as_ref(), 10.0, 0.0, Par::Seq).unwrap();
        let mut vs = Mat::<f64>::zeros(2, 4);
        matmul(vs.as_mut(), Accum::Replace, sl.v.as_ref(), s.as_ref(), 1.0, Par::Seq);
        for i in 0..2 {
            for j in 0..4 {
                assert!((vs[(i, j)] - b[(i, j)]).abs() < 1e-12);
            }
        }
        let batch = supervised_batch(&[(s.as_ref(), b.as_ref(), 10.0)], 0.0, Par::Seq).unwrap();
        assert_eq!(batch[0].loss, sl.loss);
    }

    #[test]
    fn models_that_overflow_and_ridges_that_overflow_are_errors() {
        // Finite inputs whose solution is not: V = 1e200 / 1e-12 and its loss -1e412.
        let s = Mat::<f64>::from_fn(1, 1, |_, _| 1e-12);
        let b = Mat::<f64>::from_fn(1, 1, |_, _| 1e200);
        let err = supervised(s.as_ref(), b.as_ref(), 1.0, 0.0, Par::Seq).unwrap_err();
        assert!(matches!(&err, Error::Numerical(msg) if msg.contains("supervised map overflows")), "{err:?}");
        // phi^2 = C^2 / S = 1e412: the model itself overflows (C^T C is never formed unscaled).
        let err = reconstruction(s.as_ref(), b.as_ref(), 1.0, None, 1, &GepOptions::default(), Par::Seq).unwrap_err();
        assert!(matches!(&err, Error::Numerical(msg) if msg.contains("the reconstruction overflows")), "{err:?}");
        let s = Mat::<f64>::from_fn(3, 3, |i, j| if i == j { 10.0 } else { 0.0 }); // 1e308 x 10 overflows
        let b3 = Mat::<f64>::from_fn(1, 3, |_, _| 1.0);
        let err = supervised(s.as_ref(), b3.as_ref(), 1.0, 1e308, Par::Seq).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(msg) if msg.contains("overflows float64; ridge is relative")),
            "{err:?}"
        );
    }
}
