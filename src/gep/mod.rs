//! Symmetric-definite generalized eigenproblems `A v = w B v` with `B` positive definite.
//!
//! Every closed form of linssl ends here: joint embedding solves `(G, S)`, reconstruction
//! `(C^T C, S)`. Both solvers start from the Cholesky factor `B = L L^T` ([`cholesky`]), which
//! reduces the problem to the standard symmetric problem `M y = w y` with `M = L^{-1} A L^{-T}` and
//! `v = L^{-T} y`, so that `V^T B V = I` holds by construction. `A` and `B` are first multiplied by
//! powers of two (exact) that bring their largest entries near 1, so subnormal or huge inputs
//! solve as well as ordinary ones ([`validate`]).
//!
//! - [`Solver::Dense`] ([`dense`]): `M` formed by a blocked symmetric reduction, every
//!   eigenpair, k of them back-transformed: O(d^3).
//! - [`Solver::Iterative`] ([`block_krylov`]): block Lanczos on `M` applied to blocks of vectors,
//!   never formed. Every returned pair is then checked in the original problem,
//!   `||A v - w B v|| <= tol (||A||_F + |w| ||B||_F) ||v||`, and the dense solver takes over when a
//!   pair fails or the iteration budget (about d/2 operator applications, the cost of the dense
//!   solver) runs out.
//! - [`Solver::Auto`] takes the iterative solver when few pairs of a large problem are wanted
//!   ([`GepTuning`]).
//!
//! Many independent problems are solved by [`crate::batch`].

pub mod block_krylov;
pub mod cholesky;
pub mod dense;
pub mod isotropic;
pub mod reduced;
pub mod sigma;
pub mod validate;

use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::linalg::triangular_solve::solve_upper_triangular_in_place;
use faer::{Accum, Mat, MatRef, Par};

use crate::error::{Error, Result};
use block_krylov::{block_size, BlockKrylov};
pub use cholesky::cholesky;
use dense::dense;
pub use reduced::LeftMatrix;
use reduced::ReducedOperator;
pub use sigma::SigmaFactors;
pub(crate) use validate::{check_general, check_result_finite, power_of_two_scale};
pub use validate::{check_k, check_ridge, check_symmetric, check_tol, ridge_shift, SymmetricNorms, SYMMETRY_TOL};

/// Default residual tolerance of the iterative solver.
pub const DEFAULT_TOL: f64 = 1e-10;

/// Sizes and crossovers that decide which algorithm runs and how work is blocked, chosen from
/// linssl's benchmarks (`linssl bench`, `benchmarks/`); one place to retune them.
#[derive(Clone, Copy, Debug)]
pub struct GepTuning {
    /// Smallest dimension for which [`Solver::Auto`] considers the iterative solver.
    pub iterative_min_dim: usize,
    /// [`Solver::Auto`] takes the iterative solver for `k <= d / iterative_max_ratio`: the
    /// crossover on slowly decaying spectra, the hardest case for a Krylov method.
    pub iterative_max_ratio: usize,
    /// Largest basis of the block Krylov solver, in blocks, before a thick restart.
    pub krylov_max_blocks: usize,
    /// Columns per block of the dense reduction `L^{-1} A L^{-T}` (small problems: the diagonal-block
    /// solves stay cheap) ...
    pub reduce_block: usize,
    /// ... and from `wide_reduce_min_dim` on (wider level-3 updates pay off).
    pub reduce_block_wide: usize,
    pub wide_reduce_min_dim: usize,
    /// Largest dimension for which a batch is always spread across problems ([`crate::batch`]).
    pub batch_across_max_dim: usize,
    /// [`Solver::Auto`] on the whitened joint-embedding route ([`sigma`]) takes the iterative
    /// solver for `k <= d / whitened_iterative_max_ratio` (its eigenvalues are better separated).
    pub whitened_iterative_max_ratio: usize,
}

/// The tuning every solver uses.
pub const TUNING: GepTuning = GepTuning {
    iterative_min_dim: 512,
    iterative_max_ratio: 64,
    krylov_max_blocks: 6,
    reduce_block: 64,
    reduce_block_wide: 256,
    wide_reduce_min_dim: 1024,
    batch_across_max_dim: 1024,
    whitened_iterative_max_ratio: 16,
};

/// How [`eigh_generalized`] solves a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Solver {
    Auto,
    Dense,
    Iterative,
}

impl Solver {
    /// Parse `"auto"`, `"dense"` or `"iterative"`.
    pub fn parse(name: &str) -> Result<Solver> {
        match name {
            "auto" => Ok(Solver::Auto),
            "dense" => Ok(Solver::Dense),
            "iterative" => Ok(Solver::Iterative),
            other => {
                Err(Error::InvalidArgument(format!("solver must be 'auto', 'dense' or 'iterative'; got {other:?}")))
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Solver::Auto => "auto",
            Solver::Dense => "dense",
            Solver::Iterative => "iterative",
        }
    }
}

/// Options shared by every generalized eigensolver entry point.
#[derive(Clone, Copy, Debug)]
pub struct GepOptions {
    /// Largest eigenvalues (descending) when true, smallest (ascending) otherwise.
    pub largest: bool,
    pub solver: Solver,
    /// Residual tolerance of the iterative solver (`None`: [`DEFAULT_TOL`]).
    pub tol: Option<f64>,
    /// `B` is replaced by `B + ridge * trace(B) / d * I`.
    pub ridge: f64,
}

impl Default for GepOptions {
    fn default() -> Self {
        GepOptions { largest: true, solver: Solver::Auto, tol: None, ridge: 0.0 }
    }
}

impl GepOptions {
    /// The options with `ridge` and `tol` validated (one set of messages for every entry point).
    pub fn checked(self) -> Result<Self> {
        check_ridge(self.ridge)?;
        check_tol(self.tol)?;
        Ok(self)
    }
}

/// `k` eigenpairs of `(A, B)`.
#[derive(Clone, Debug)]
pub struct GepSolution {
    /// Eigenvalues, descending when `largest`, ascending otherwise (length k).
    pub w: Vec<f64>,
    /// Eigenvectors as columns (d x k), `V^T B V = I`.
    pub v: Mat<f64>,
    /// The solver that produced the result (`Dense` also after a fallback).
    pub solver: Solver,
    /// Largest relative residual `||A v - w B v|| / ((||A||_F + |w| ||B||_F) ||v||)` when it
    /// was checked (iterative solver), `None` otherwise.
    pub max_residual: Option<f64>,
    /// Vectors the iterative solver applied the reduced operator to (0 for the dense solver).
    pub operator_applications: usize,
}

/// Validate a problem: both matrices finite (and symmetric, or `A = C^T C`), of one size, and the
/// options. For `A = C^T C`, without forming `A`: `max_abs` is `||C||_F` and `frobenius` its
/// square, an upper bound of `||A||_F` (infinite when it overflows).
fn check_problem(
    a: LeftMatrix<'_>,
    b: MatRef<'_, f64>,
    k: usize,
    opts: &GepOptions,
    [an, bn]: [&str; 2],
) -> Result<(SymmetricNorms, SymmetricNorms)> {
    let a_norms = match a {
        LeftMatrix::Dense(m) => check_symmetric(an, m)?,
        LeftMatrix::Gram(c) => {
            let norms = check_general("C", c)?;
            SymmetricNorms { max_abs: norms.frobenius, frobenius: norms.frobenius * norms.frobenius }
        }
    };
    let b_norms = check_symmetric(bn, b)?;
    let d = a.dim();
    if b.nrows() != d {
        return Err(Error::Shape(format!(
            "{an} is {d} x {d} but {bn} is {} x {}; they must match",
            b.nrows(),
            b.ncols()
        )));
    }
    if d == 0 {
        return Err(Error::Shape(format!("{an} and {bn} are empty (0 x 0)")));
    }
    check_k(k as i64, d)?;
    opts.checked()?;
    Ok((a_norms, b_norms))
}

/// The solver [`Solver::Auto`] picks for `k` pairs of a d x d problem.
pub fn auto_solver(d: usize, k: usize) -> Solver {
    if d >= TUNING.iterative_min_dim && k * TUNING.iterative_max_ratio <= d {
        Solver::Iterative
    } else {
        Solver::Dense
    }
}

/// `k` extreme eigenpairs of `A v = w B v` (`A` symmetric, `B` symmetric positive definite).
///
/// `A` and `B` are validated (square, same size, finite, symmetric); `par` is faer's parallelism.
pub fn eigh_generalized(
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    k: usize,
    opts: &GepOptions,
    par: Par,
) -> Result<GepSolution> {
    let sol = solve_named(LeftMatrix::Dense(a), b, k, opts, par, ["A", "B"])?;
    // An eigenvalue beyond float64 (finite A and B, B near singular) is an error, not a silent inf.
    check_result_finite(
        "an eigenvalue or eigenvector",
        sol.w.iter().copied().chain(sol.v.col_iter().flat_map(|c| c.iter().copied())),
    )?;
    Ok(sol)
}

/// [`eigh_generalized`] with the left matrix given densely or as `C^T C`, and the names the
/// matrices go by in error messages (e.g. `G` and `S`).
pub(crate) fn solve_named(
    a: LeftMatrix<'_>,
    b: MatRef<'_, f64>,
    k: usize,
    opts: &GepOptions,
    par: Par,
    names: [&str; 2],
) -> Result<GepSolution> {
    on_pool(par, || {
        let (a_norms, b_norms) = check_problem(a, b, k, opts, names)?;
        let a = match a {
            LeftMatrix::Dense(m) => LeftMatrix::Dense(column_major(m)),
            gram => gram,
        };
        let b = column_major(b);
        let shift = ridge_shift(b, opts.ridge, names[1])?;
        let scale = Scaling {
            // For C^T C the square of C's scale: the dense path forms it from sqrt(scale) C.
            a: match a {
                LeftMatrix::Dense(_) => power_of_two_scale(a_norms.max_abs, false),
                LeftMatrix::Gram(_) => validate::power_of_two_scale_of_square(a_norms.max_abs),
            },
            b: power_of_two_scale(b_norms.max_abs + shift.abs(), true),
        };
        let l = cholesky(b, shift, scale.b, names[1], par)?;
        let norms = Norms { a: a_norms.frobenius, b: frobenius_with_shift(b, b_norms.frobenius, shift) };
        solve_factored(a, b, shift, scale, norms, l.as_ref(), k, opts, par)
    })
}

/// The `k` largest pairs of `G w = omega S w` when `Sigma = S - G` is known in factored form: through
/// the whitened standard problem of [`sigma`] (no Cholesky factor of `S`), or, when that route does
/// not apply or its pairs fail the check against `(G, S)`, as [`eigh_generalized`] would.
pub(crate) fn largest_with_sigma(
    g: MatRef<'_, f64>,
    s: MatRef<'_, f64>,
    sigma: SigmaFactors<'_>,
    k: usize,
    opts: &GepOptions,
    par: Par,
) -> Result<GepSolution> {
    on_pool(par, || {
        let names = ["G", "S"];
        let (g_norms, s_norms) = check_problem(LeftMatrix::Dense(g), s, k, opts, names)?;
        check_sigma(sigma, g.nrows())?;
        let (g, s) = (column_major(g), column_major(s));
        let shift = ridge_shift(s, opts.ridge, names[1])?;
        let norms = Norms { a: g_norms.frobenius, b: frobenius_with_shift(s, s_norms.frobenius, shift) };
        // One exact scale for G and Sigma: mu = omega / (1 - omega) must not change.
        let scale = power_of_two_scale(g_norms.max_abs.max(s_norms.max_abs + shift.abs()), true);
        let tol = opts.tol.unwrap_or(DEFAULT_TOL);
        let opts = GepOptions { largest: true, ..*opts };
        if let Some(sol) = sigma::largest_pairs(g, s, sigma, shift, scale, norms, k, opts.solver, tol, par) {
            return Ok(sol);
        }
        let scaling = Scaling {
            a: power_of_two_scale(g_norms.max_abs, false),
            b: power_of_two_scale(s_norms.max_abs + shift.abs(), true),
        };
        let l = cholesky(s, shift, scaling.b, names[1], par)?;
        solve_factored(LeftMatrix::Dense(g), s, shift, scaling, norms, l.as_ref(), k, &opts, par)
    })
}

/// Validate `Sigma`'s factors for a d x d problem.
fn check_sigma(sigma: SigmaFactors<'_>, d: usize) -> Result<()> {
    if sigma.diag.len() != d || sigma.factor.nrows() != d {
        return Err(Error::Shape(format!(
            "Sigma's factors are for d = {} (diagonal) and {} (low rank) features but S is {d} x {d}",
            sigma.diag.len(),
            sigma.factor.nrows()
        )));
    }
    crate::finite::require_finite(
        MatRef::from_column_major_slice(sigma.diag, d, 1),
        "Sigma's diagonal",
        0,
        0,
        Par::Seq,
    )?;
    check_general("Sigma's low-rank factor", sigma.factor)?;
    Ok(())
}

/// The `k` largest pairs of `C^T C v = phi^2 S v` when the mean map is diagonal (`keep`) and
/// `Sigma = S - G` is known in factored form: as PCA of `M` ([`isotropic`]) when both are
/// isotropic, else (or when those pairs fail the check) as [`eigh_generalized`] would, never
/// forming `C^T C` on the iterative path.
pub(crate) fn largest_gram_with_structure(
    c: MatRef<'_, f64>,
    s: MatRef<'_, f64>,
    keep: &[f64],
    sigma: SigmaFactors<'_>,
    k: usize,
    opts: &GepOptions,
    par: Par,
) -> Result<GepSolution> {
    on_pool(par, || {
        let names = ["C^T C", "S"];
        let (c_norms, s_norms) = check_problem(LeftMatrix::Gram(c), s, k, opts, names)?;
        let d = s.nrows();
        check_sigma(sigma, d)?;
        if keep.len() != d {
            return Err(Error::Shape(format!("the mean map has {} entries but S is {d} x {d}", keep.len())));
        }
        let s = column_major(s);
        let shift = ridge_shift(s, opts.ridge, names[1])?;
        let norms = Norms { a: c_norms.frobenius, b: frobenius_with_shift(s, s_norms.frobenius, shift) };
        let tol = opts.tol.unwrap_or(DEFAULT_TOL);
        let opts = GepOptions { largest: true, ..*opts };
        let checkable = norms.a.is_finite() && norms.a > f64::MIN_POSITIVE / f64::EPSILON;
        if let (Some(iso), true) = (isotropic::isotropy(keep, sigma.diag, sigma.factor.ncols(), shift), checkable) {
            let scale = power_of_two_scale(check_general("C", c)?.max_abs / iso.0, false);
            if let Some(sol) = isotropic::largest_pairs(c, s, iso, shift, scale, norms, k, opts.solver, tol, par) {
                return Ok(sol);
            }
        }
        let scaling = Scaling {
            a: validate::power_of_two_scale_of_square(c_norms.max_abs),
            b: power_of_two_scale(s_norms.max_abs + shift.abs(), true),
        };
        let l = cholesky(s, shift, scaling.b, names[1], par)?;
        solve_factored(LeftMatrix::Gram(c), s, shift, scaling, norms, l.as_ref(), k, &opts, par)
    })
}

/// Run `f` on a thread of rayon's pool when `par` asks for threads. Every parallel step (faer's
/// and linssl's) then hands work to the other threads of the pool directly; called from outside
/// the pool (from Python), each step would first wait for the pool to pick it up, which
/// multiplies the time of the many short parallel steps of a tridiagonalisation.
pub(crate) fn on_pool<R: Send>(par: Par, f: impl FnOnce() -> R + Send) -> R {
    if par.degree() <= 1 || rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

/// The same symmetric matrix, viewed column-major when its storage is row-major (a C-ordered NumPy
/// array): faer's products and factorisations stream column-major operands in place, where a
/// row-major operand would be repacked. Only for matrices already accepted by [`check_symmetric`].
fn column_major(m: MatRef<'_, f64>) -> MatRef<'_, f64> {
    if m.row_stride().unsigned_abs() != 1 && m.col_stride().unsigned_abs() == 1 {
        m.transpose()
    } else {
        m
    }
}

/// Exact power-of-two factors applied to `A` and to `B + shift I` before solving
/// (see [`power_of_two_scale`]): the scaled problem has eigenvalues `w * scale.a / scale.b` and
/// eigenvectors `v / sqrt(scale.b)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scaling {
    a: f64,
    b: f64,
}

impl Scaling {
    /// Map eigenpairs of the scaled problem back (exact: powers of two).
    fn unscale(&self, w: &mut [f64], v: &mut Mat<f64>) {
        // Two steps: their quotient alone could overflow (and turn a zero eigenvalue into NaN).
        w.iter_mut().for_each(|x| *x = *x * self.b / self.a);
        let vf = self.b.sqrt();
        if vf != 1.0 {
            for j in 0..v.ncols() {
                v.col_mut(j).iter_mut().for_each(|x| *x *= vf);
            }
        }
    }
}

/// Frobenius norms of `A` and of `B + shift I` (for relative residuals).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Norms {
    pub a: f64,
    pub b: f64,
}

/// Solve once `L` (the Cholesky factor of `scale.b * (B + shift I)`) is known; inputs validated.
#[allow(clippy::too_many_arguments)]
fn solve_factored(
    a: LeftMatrix<'_>,
    b: MatRef<'_, f64>,
    shift: f64,
    scale: Scaling,
    norms: Norms,
    l: MatRef<'_, f64>,
    k: usize,
    opts: &GepOptions,
    par: Par,
) -> Result<GepSolution> {
    let d = a.dim();
    let solver = match opts.solver {
        Solver::Auto => auto_solver(d, k),
        s => s,
    };
    // The block iteration needs room for a few blocks of k + oversampling vectors, and its check
    // against the unscaled A and B norms that are representable (C^T C may not be).
    let checkable = norms.a.is_finite() && norms.b.is_finite() && norms.a > f64::MIN_POSITIVE / f64::EPSILON;
    if solver == Solver::Iterative && 3 * block_size(k) < d && checkable {
        let tol = opts.tol.unwrap_or(DEFAULT_TOL);
        let sign = if opts.largest { 1.0 } else { -1.0 };
        let op = ReducedOperator { a, l, alpha: sign * scale.a, norm_a: scale.a * norms.a, norm_b: scale.b * norms.b };
        let mut krylov = BlockKrylov::new(&op, k, par);
        // Iterate to the tolerance, then check the returned pairs directly against A and B;
        // should rounding make that check fail, iterate to a tighter tolerance.
        for inner_tol in [tol, 1e-1 * tol, 1e-2 * tol] {
            if !krylov.run(inner_tol.max(1e-14)) {
                break;
            }
            let (theta, y) = krylov.ritz_pairs();
            let mut w: Vec<f64> = theta.iter().map(|t| sign * t).collect();
            let mut v = y;
            solve_upper_triangular_in_place(l.transpose(), v.as_mut(), par);
            scale.unscale(&mut w, &mut v);
            let residual = max_relative_residual(a, b, shift, norms, &w, v.as_ref(), par);
            if residual <= tol {
                return Ok(GepSolution {
                    w,
                    v,
                    solver: Solver::Iterative,
                    max_residual: Some(residual),
                    operator_applications: krylov.applied,
                });
            }
        }
    }
    let mut sol = match a {
        LeftMatrix::Dense(m) => dense(m, scale.a, l, k, opts.largest, par)?,
        LeftMatrix::Gram(c) => dense(scaled_gram(c, scale.a, par).as_ref(), 1.0, l, k, opts.largest, par)?,
    };
    scale.unscale(&mut sol.w, &mut sol.v);
    Ok(sol)
}

/// `scale * C^T C` (symmetric, d x d) for a power of four `scale`, formed from `sqrt(scale) C`
/// so that no product overflows or underflows on the way.
fn scaled_gram(c: MatRef<'_, f64>, scale: f64, par: Par) -> Mat<f64> {
    let d = c.ncols();
    let root = scale.sqrt();
    let cs = Mat::from_fn(c.nrows(), d, |i, j| root * c[(i, j)]);
    let mut lower = Mat::<f64>::zeros(d, d);
    tri_matmul(
        lower.as_mut(),
        BlockStructure::TriangularLower,
        Accum::Replace,
        cs.as_ref().transpose(),
        BlockStructure::Rectangular,
        cs.as_ref(),
        BlockStructure::Rectangular,
        1.0,
        par,
    );
    Mat::from_fn(d, d, |i, j| if i >= j { lower[(i, j)] } else { lower[(j, i)] })
}

/// Largest `||A v - w B v|| / ((||A||_F + |w| ||B + shift I||_F) ||v||)` over the given pairs.
pub(crate) fn max_relative_residual(
    a: LeftMatrix<'_>,
    b: MatRef<'_, f64>,
    shift: f64,
    norms: Norms,
    w: &[f64],
    v: MatRef<'_, f64>,
    par: Par,
) -> f64 {
    let d = a.dim();
    let k = v.ncols();
    let (norm_a, norm_b) = (norms.a, norms.b);
    let av = a.times(v, par);
    let bv = LeftMatrix::Dense(b).times(v, par);
    (0..k)
        .map(|j| {
            let r = Mat::from_fn(d, 1, |i, _| av[(i, j)] - w[j] * (bv[(i, j)] + shift * v[(i, j)]));
            let denom = (norm_a + w[j].abs() * norm_b) * v.col(j).norm_l2();
            if denom > 0.0 {
                r.norm_l2() / denom
            } else {
                r.norm_l2()
            }
        })
        .fold(0.0, f64::max)
}

/// `||B + shift I||_F` without forming the sum.
fn frobenius_with_shift(b: MatRef<'_, f64>, frobenius: f64, shift: f64) -> f64 {
    if shift == 0.0 {
        return frobenius;
    }
    let d = b.nrows();
    let trace: f64 = (0..d).map(|i| b[(i, i)]).sum();
    (frobenius * frobenius + 2.0 * shift * trace + d as f64 * shift * shift).max(0.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::block_krylov::{project_out, SplitMix64};
    use super::dense::reduce;
    use super::*;
    use crate::batch::eigh_generalized_batch;
    use faer::linalg::matmul::matmul;
    use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
    use faer::prelude::{Reborrow, ReborrowMut};

    fn random(d: usize, c: usize, seed: u64) -> Mat<f64> {
        let mut rng = SplitMix64(seed);
        Mat::from_fn(d, c, |_, _| rng.uniform())
    }

    /// Symmetric positive definite `X X^T / c + eps I`.
    fn spd(d: usize, seed: u64, eps: f64) -> Mat<f64> {
        let x = random(d, d + 5, seed);
        let mut s = Mat::<f64>::zeros(d, d);
        matmul(s.as_mut(), Accum::Replace, x.as_ref(), x.transpose(), 1.0 / (d + 5) as f64, Par::Seq);
        for i in 0..d {
            s[(i, i)] += eps;
        }
        Mat::from_fn(d, d, |i, j| 0.5 * (s[(i, j)] + s[(j, i)]))
    }

    /// Symmetric matrix with prescribed eigenvalues in a random orthonormal basis.
    fn with_spectrum(values: &[f64], seed: u64) -> Mat<f64> {
        let d = values.len();
        let mut q = random(d, d, seed);
        for j in 0..d {
            let (done, mut col) = q.as_mut().split_at_col_mut(j);
            project_out(done.rb(), col.rb_mut().subcols_mut(0, 1), Par::Seq);
            project_out(done.rb(), col.rb_mut().subcols_mut(0, 1), Par::Seq);
            let n = col.rb().col(0).norm_l2();
            col.col_mut(0).iter_mut().for_each(|x| *x /= n);
        }
        let qd = Mat::from_fn(d, d, |i, j| q[(i, j)] * values[j]);
        let mut a = Mat::<f64>::zeros(d, d);
        matmul(a.as_mut(), Accum::Replace, qd.as_ref(), q.transpose(), 1.0, Par::Seq);
        Mat::from_fn(d, d, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]))
    }

    fn b_orthonormality_error(b: MatRef<'_, f64>, v: MatRef<'_, f64>) -> f64 {
        let mut bv = Mat::<f64>::zeros(b.nrows(), v.ncols());
        matmul(bv.as_mut(), Accum::Replace, b, v, 1.0, Par::Seq);
        let mut g = Mat::<f64>::zeros(v.ncols(), v.ncols());
        matmul(g.as_mut(), Accum::Replace, v.transpose(), bv.as_ref(), 1.0, Par::Seq);
        (0..v.ncols())
            .flat_map(|j| (0..v.ncols()).map(move |i| (i, j)))
            .map(|(i, j)| (g[(i, j)] - if i == j { 1.0 } else { 0.0 }).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn dense_recovers_a_known_spectrum() {
        // B = I: the generalized problem is the standard one with known eigenvalues.
        let values: Vec<f64> = (0..30).map(|i| 1.0 + i as f64).collect();
        let a = with_spectrum(&values, 1);
        let b = Mat::<f64>::identity(30, 30);
        let opts = GepOptions { solver: Solver::Dense, ..Default::default() };
        let sol = eigh_generalized(a.as_ref(), b.as_ref(), 5, &opts, Par::Seq).unwrap();
        for (j, w) in sol.w.iter().enumerate() {
            assert!((w - (30 - j) as f64).abs() < 1e-12, "{w}");
        }
        assert!(b_orthonormality_error(b.as_ref(), sol.v.as_ref()) < 1e-12);
        let low =
            eigh_generalized(a.as_ref(), b.as_ref(), 3, &GepOptions { largest: false, ..opts }, Par::Seq).unwrap();
        assert!((low.w[0] - 1.0).abs() < 1e-12 && (low.w[2] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn iterative_matches_dense_on_a_spiked_problem() {
        let d = 300;
        let values: Vec<f64> =
            (0..d).map(|i| if i < 6 { 50.0 + 10.0 * i as f64 } else { 1.0 + i as f64 / d as f64 }).collect();
        let a = with_spectrum(&values, 2);
        let b = spd(d, 3, 0.5);
        let k = 4;
        let dense_opts = GepOptions { solver: Solver::Dense, ..Default::default() };
        let iter_opts = GepOptions { solver: Solver::Iterative, ..Default::default() };
        let reference = eigh_generalized(a.as_ref(), b.as_ref(), k, &dense_opts, Par::Seq).unwrap();
        let sol = eigh_generalized(a.as_ref(), b.as_ref(), k, &iter_opts, Par::Seq).unwrap();
        assert_eq!(sol.solver, Solver::Iterative);
        assert!(sol.max_residual.unwrap() <= DEFAULT_TOL);
        for (x, y) in sol.w.iter().zip(&reference.w) {
            assert!((x - y).abs() <= 1e-9 * y.abs(), "{x} vs {y}");
        }
        assert!(b_orthonormality_error(b.as_ref(), sol.v.as_ref()) < 1e-10);
        // Smallest end too.
        let small = GepOptions { largest: false, ..iter_opts };
        let sol = eigh_generalized(a.as_ref(), b.as_ref(), k, &small, Par::Seq).unwrap();
        let reference =
            eigh_generalized(a.as_ref(), b.as_ref(), k, &GepOptions { largest: false, ..dense_opts }, Par::Seq)
                .unwrap();
        for (x, y) in sol.w.iter().zip(&reference.w) {
            assert!((x - y).abs() <= 1e-8 * y.abs(), "{x} vs {y}");
        }
    }

    #[test]
    fn blocked_reduction_matches_two_triangular_solves() {
        for d in [1, 5, 128, 200, 300, 1030] {
            let a = spd(d, 30, -0.2); // indefinite is fine
            let b = spd(d, 31, 0.3);
            let l = cholesky(b.as_ref(), 0.0, 1.0, "B", Par::Seq).unwrap();
            let got = reduce(a.as_ref(), 1.0, l.as_ref(), Par::rayon(2));
            let mut w = a.clone();
            solve_lower_triangular_in_place(l.as_ref(), w.as_mut(), Par::Seq);
            let mut m = w.transpose().to_owned();
            solve_lower_triangular_in_place(l.as_ref(), m.as_mut(), Par::Seq);
            let scale = m.norm_max();
            for j in 0..d {
                for i in j..d {
                    assert!((got[(i, j)] - m[(i, j)]).abs() <= 1e-12 * scale, "d={d} ({i},{j})");
                }
            }
        }
    }

    #[test]
    fn not_positive_definite_names_the_pivot_and_value() {
        // Leading 3 x 3 block is the identity; the Schur complement at pivot 3 is 1 - 1.5 = -0.5.
        let mut b = Mat::<f64>::identity(5, 5);
        b[(3, 0)] = 1.0;
        b[(0, 3)] = 1.0;
        b[(3, 1)] = 0.5f64.sqrt();
        b[(1, 3)] = 0.5f64.sqrt();
        let a = Mat::<f64>::identity(5, 5);
        match eigh_generalized(a.as_ref(), b.as_ref(), 2, &GepOptions::default(), Par::Seq) {
            Err(Error::NotPositiveDefinite { pivot, value, .. }) => {
                assert_eq!(pivot, 3);
                assert!((value + 0.5).abs() < 1e-12, "{value}");
            }
            other => panic!("expected NotPositiveDefinite, got {other:?}"),
        }
    }

    #[test]
    fn pivot_value_is_right_inside_a_large_blocked_factorisation() {
        // d = 300, identity leading block of size 200, Schur complement -0.5 at pivot 200.
        let d = 300;
        let mut b = Mat::<f64>::identity(d, d);
        let col = random(200, 1, 7);
        for i in 0..200 {
            b[(200, i)] = col[(i, 0)];
            b[(i, 200)] = col[(i, 0)];
        }
        b[(200, 200)] = col.squared_norm_l2() - 0.5;
        match cholesky(b.as_ref(), 0.0, 0.25, "S", Par::rayon(2)) {
            Err(Error::NotPositiveDefinite { what, pivot, value }) => {
                assert_eq!((what.as_str(), pivot), ("S", 200));
                assert!((value + 0.5).abs() < 1e-10, "{value}");
            }
            other => panic!("expected NotPositiveDefinite, got {other:?}"),
        }
    }

    #[test]
    fn a_pivot_at_rounding_level_is_refused_but_badly_scaled_features_are_not() {
        // B = F F^T with F 6 x 3: rank 3, so pivot 3 is rounding noise of either sign.
        let f = random(6, 3, 11);
        let b = &f * f.transpose();
        match cholesky(b.as_ref(), 0.0, 1.0, "S", Par::Seq) {
            Err(Error::NotPositiveDefinite { pivot, value, .. }) => {
                assert_eq!(pivot, 3);
                assert!(value.abs() < 1e-13, "{value}");
            }
            other => panic!("expected NotPositiveDefinite, got {other:?}"),
        }
        // A diagonal spanning 40 orders of magnitude is positive definite to full accuracy.
        let scaled = Mat::<f64>::from_fn(3, 3, |i, j| if i == j { [1e20, 1.0, 1e-20][i] } else { 0.0 });
        assert!(cholesky(scaled.as_ref(), 0.0, 1.0, "S", Par::Seq).is_ok());
    }

    #[test]
    fn ridge_makes_a_singular_b_solvable() {
        let mut b = Mat::<f64>::identity(4, 4);
        b[(3, 3)] = 0.0;
        let a = Mat::<f64>::identity(4, 4);
        assert!(eigh_generalized(a.as_ref(), b.as_ref(), 1, &GepOptions::default(), Par::Seq).is_err());
        let opts = GepOptions { ridge: 0.1, ..Default::default() };
        let sol = eigh_generalized(a.as_ref(), b.as_ref(), 1, &opts, Par::Seq).unwrap();
        // B + 0.1 * (3/4) I has smallest eigenvalue 0.075: largest w = 1 / 0.075.
        assert!((sol.w[0] - 1.0 / 0.075).abs() < 1e-10);
    }

    #[test]
    fn subnormal_and_huge_inputs_are_rescaled_exactly() {
        let a = Mat::<f64>::from_fn(3, 3, |i, j| if i == j { (1 + i) as f64 * 5e-324 } else { 0.0 });
        let b = Mat::<f64>::identity(3, 3);
        let sol = eigh_generalized(a.as_ref(), b.as_ref(), 3, &GepOptions::default(), Par::Seq).unwrap();
        assert_eq!(sol.w, vec![15e-324, 10e-324, 5e-324]);
        let big = Mat::<f64>::from_fn(4, 4, |i, j| if i == j { 1e300 * (1 + i) as f64 } else { 0.0 });
        let tiny_b = Mat::<f64>::from_fn(4, 4, |i, j| if i == j { 1e-300 } else { 0.0 });
        // w = 4e600 overflows float64: an error naming it, not a silent infinity.
        let err = eigh_generalized(big.as_ref(), tiny_b.as_ref(), 1, &GepOptions::default(), Par::Seq).unwrap_err();
        assert!(
            matches!(&err, Error::Numerical(msg) if msg.contains("an eigenvalue or eigenvector overflows")),
            "{err:?}"
        );
        // Within range the scaled problem solves: w = 4e300 / 1e-4 = 4e304.
        let small_b = Mat::<f64>::from_fn(4, 4, |i, j| if i == j { 1e-4 } else { 0.0 });
        let sol = eigh_generalized(big.as_ref(), small_b.as_ref(), 1, &GepOptions::default(), Par::Seq).unwrap();
        assert!((sol.w[0] / 4e304 - 1.0).abs() < 1e-12, "{}", sol.w[0]);
        assert!((sol.v[(3, 0)].abs() - 1e2).abs() <= 1e-10);
    }

    #[test]
    fn invalid_input_is_rejected() {
        let a = Mat::<f64>::identity(3, 3);
        let mut bad = a.clone();
        bad[(0, 1)] = 1e-3;
        let opts = GepOptions::default();
        assert!(matches!(
            eigh_generalized(bad.as_ref(), a.as_ref(), 1, &opts, Par::Seq),
            Err(Error::InvalidArgument(_))
        ));
        bad[(0, 1)] = f64::NAN;
        let err = eigh_generalized(a.as_ref(), bad.as_ref(), 1, &opts, Par::Seq).unwrap_err();
        assert!(matches!(err, Error::NonFinite { row: 0, col: 1, .. }), "{err:?}");
        assert!(matches!(eigh_generalized(a.as_ref(), a.as_ref(), 4, &opts, Par::Seq), Err(Error::InvalidArgument(_))));
        let small = Mat::<f64>::identity(2, 2);
        assert!(matches!(eigh_generalized(a.as_ref(), small.as_ref(), 1, &opts, Par::Seq), Err(Error::Shape(_))));
    }

    #[test]
    fn batch_matches_single_solves_and_labels_errors() {
        let problems: Vec<(Mat<f64>, Mat<f64>)> =
            (0..6).map(|s| (spd(20, 10 + s, 0.0), spd(20, 20 + s, 0.1))).collect();
        let views: Vec<_> = problems.iter().map(|(a, b)| (a.as_ref(), b.as_ref())).collect();
        let opts = GepOptions::default();
        let batch = eigh_generalized_batch(&views, 3, &opts, Par::rayon(2)).unwrap();
        for ((a, b), sol) in problems.iter().zip(&batch) {
            let single = eigh_generalized(a.as_ref(), b.as_ref(), 3, &opts, Par::Seq).unwrap();
            assert_eq!(sol.w, single.w);
        }
        let singular = Mat::<f64>::from_fn(20, 20, |i, j| if i == j && i != 7 { 1.0 } else { 0.0 });
        let mut views = views;
        views[4].1 = singular.as_ref();
        match eigh_generalized_batch(&views, 3, &opts, Par::rayon(2)) {
            Err(Error::NotPositiveDefinite { what, pivot, .. }) => {
                assert_eq!((what.as_str(), pivot), ("B of problem 4", 7))
            }
            other => panic!("{other:?}"),
        }
        // An all-zero B says so (ridge, relative to its trace, cannot help), with the problem's index.
        let zero = Mat::<f64>::zeros(20, 20);
        views[4].1 = zero.as_ref();
        match eigh_generalized_batch(&views, 3, &opts, Par::rayon(2)) {
            Err(Error::Numerical(msg)) => assert!(msg.starts_with("problem 4: B is zero"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }

    /// `(S, G, D, F)` with `S = G + D + F F^T`: G of rank `rank`, D diagonal, F d x r.
    fn structured_problem(d: usize, rank: usize, r: usize, seed: u64) -> (Mat<f64>, Mat<f64>, Vec<f64>, Mat<f64>) {
        let x = random(d, rank, seed);
        let mut g = Mat::<f64>::zeros(d, d);
        matmul(g.as_mut(), Accum::Replace, x.as_ref(), x.transpose(), 1.0, Par::Seq);
        let g = Mat::from_fn(d, d, |i, j| 0.5 * (g[(i, j)] + g[(j, i)]));
        let diag: Vec<f64> = (0..d).map(|i| 0.05 + 0.5 * ((i * 7919) % 13) as f64 / 13.0).collect();
        let f = random(d, r, seed + 1);
        let mut s = g.clone();
        matmul(s.as_mut(), Accum::Add, f.as_ref(), f.transpose(), 1.0, Par::Seq);
        for i in 0..d {
            s[(i, i)] += diag[i];
        }
        let s = Mat::from_fn(d, d, |i, j| 0.5 * (s[(i, j)] + s[(j, i)]));
        (s, g, diag, f)
    }

    #[test]
    fn the_whitened_route_agrees_with_the_cholesky_route() {
        for (d, rank, r, k, solver) in [
            (40, 40, 0, 5, Solver::Dense),
            (40, 10, 3, 12, Solver::Dense),
            (600, 30, 0, 8, Solver::Iterative),
            (600, 30, 4, 8, Solver::Iterative),
            (600, 600, 2, 6, Solver::Auto),
        ] {
            let (s, g, diag, f) = structured_problem(d, rank, r, 40 + d as u64);
            let opts = GepOptions { solver, ..Default::default() };
            let sigma = SigmaFactors { diag: &diag, factor: f.as_ref() };
            let got = largest_with_sigma(g.as_ref(), s.as_ref(), sigma, k, &opts, Par::rayon(2)).unwrap();
            let dense = GepOptions { solver: Solver::Dense, ..Default::default() };
            let want = solve_named(LeftMatrix::Dense(g.as_ref()), s.as_ref(), k, &dense, Par::Seq, ["G", "S"]).unwrap();
            for (x, y) in got.w.iter().zip(&want.w) {
                assert!((x - y).abs() <= 1e-9, "d={d} r={r}: {x} vs {y}");
            }
            assert!(got.max_residual.unwrap() <= 1e-10, "d={d} r={r}: {:?}", got.max_residual);
            assert!(b_orthonormality_error(s.as_ref(), got.v.as_ref()) < 1e-9, "d={d} r={r}");
            if solver != Solver::Auto {
                assert_eq!(got.solver, solver);
            }
        }
    }

    #[test]
    fn a_sigma_that_does_not_match_s_minus_g_falls_back_to_the_right_answer() {
        let (s, g, mut diag, f) = structured_problem(30, 30, 2, 9);
        diag[4] *= 3.0; // no longer S - G
        let sigma = SigmaFactors { diag: &diag, factor: f.as_ref() };
        let opts = GepOptions { solver: Solver::Dense, ..Default::default() };
        let got = largest_with_sigma(g.as_ref(), s.as_ref(), sigma, 4, &opts, Par::Seq).unwrap();
        let want = solve_named(LeftMatrix::Dense(g.as_ref()), s.as_ref(), 4, &opts, Par::Seq, ["G", "S"]).unwrap();
        assert_eq!(got.max_residual, None); // the Cholesky route answered
        for (x, y) in got.w.iter().zip(&want.w) {
            assert!((x - y).abs() <= 1e-12, "{x} vs {y}");
        }
        // A zero in D does not whiten: the Cholesky route answers too.
        let mut zero = diag.clone();
        zero[0] = 0.0;
        let sigma = SigmaFactors { diag: &zero, factor: f.as_ref() };
        assert!(largest_with_sigma(g.as_ref(), s.as_ref(), sigma, 4, &opts, Par::Seq).is_ok());
    }

    #[test]
    fn reconstruction_never_forms_c_transpose_c_on_the_iterative_path() {
        let d = 600;
        let values: Vec<f64> =
            (0..d).map(|i| if i < 6 { 30.0 + 5.0 * i as f64 } else { 1.0 + i as f64 / d as f64 }).collect();
        let c = with_spectrum(&values, 5);
        let b = spd(d, 6, 0.5);
        let mut ctc = Mat::<f64>::zeros(d, d);
        matmul(ctc.as_mut(), Accum::Replace, c.transpose(), c.as_ref(), 1.0, Par::Seq);
        let ctc = Mat::from_fn(d, d, |i, j| 0.5 * (ctc[(i, j)] + ctc[(j, i)]));
        let iterative = GepOptions { solver: Solver::Iterative, ..Default::default() };
        let got = solve_named(LeftMatrix::Gram(c.as_ref()), b.as_ref(), 4, &iterative, Par::rayon(2), ["C^T C", "S"])
            .unwrap();
        assert_eq!(got.solver, Solver::Iterative);
        let dense = GepOptions { solver: Solver::Dense, ..Default::default() };
        let want = eigh_generalized(ctc.as_ref(), b.as_ref(), 4, &dense, Par::Seq).unwrap();
        for (x, y) in got.w.iter().zip(&want.w) {
            assert!((x - y).abs() <= 1e-9 * y.abs(), "{x} vs {y}");
        }
        // The dense path forms C^T C from the exactly rescaled C: C = 1e160 c (C^T C would overflow)
        // with B = 1e300 b has the eigenvalues 1e20 w, representable, and finds them.
        let (huge_c, huge_b) =
            (Mat::from_fn(d, d, |i, j| 1e160 * c[(i, j)]), Mat::from_fn(d, d, |i, j| 1e300 * b[(i, j)]));
        let got = solve_named(LeftMatrix::Gram(huge_c.as_ref()), huge_b.as_ref(), 2, &dense, Par::Seq, ["C^T C", "S"])
            .unwrap();
        for (x, y) in got.w.iter().zip(&want.w) {
            assert!((x / 1e20 - y).abs() <= 1e-9 * y.abs(), "{x} vs 1e20 x {y}");
        }
    }
}
