//! Symmetric-definite generalized eigenproblems `A v = w B v` with `B` positive definite.
//!
//! Every closed form of linssl ends here: joint embedding solves `(G, S)`, reconstruction
//! `(C^T C, S)`. Both methods start from the Cholesky factor `B = L L^T`, which reduces the problem
//! to the standard symmetric problem `M y = w y` with `M = L^{-1} A L^{-T}` and `v = L^{-T} y`, so
//! that `V^T B V = I` holds by construction. `A` and `B` are first multiplied by powers of two
//! (exact) that bring their largest entries near 1, so subnormal or huge inputs solve as well as
//! ordinary ones.
//!
//! - [`Method::Dense`] forms `M` by a blocked symmetric reduction (LAPACK `dsygst`'s algorithm,
//!   d^3 flops), solves it with [`crate::symmetric_eigen`] (blocked tridiagonalisation, faer's
//!   divide and conquer) and back-transforms the k wanted vectors: O(d^3), every eigenpair.
//! - [`Method::Iterative`] never forms `M`: a thick-restarted block Lanczos (block Krylov with
//!   Rayleigh-Ritz) applies `M` to blocks of vectors, three level-3 products per block, which runs
//!   at gemm speed where faer's one-vector Lanczos (`partial_self_adjoint_eigen`) would be bound
//!   by memory bandwidth. Every returned pair is then checked in the original problem,
//!   `||A v - w B v|| <= tol (||A||_F + |w| ||B||_F) ||v||`, and the dense method takes over
//!   when a pair fails or the iteration budget (about d/2 operator applications, the cost of the
//!   dense method) runs out.
//! - [`Method::Auto`] takes the iterative path when few pairs of a large problem are wanted
//!   (see [`ITERATIVE_MIN_DIM`] and [`ITERATIVE_MAX_RATIO`], measured on this code).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch, LltError};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::symmetric_eigen::symmetric_eigen;

/// Default residual tolerance of the iterative method.
pub const DEFAULT_TOL: f64 = 1e-10;

/// Smallest dimension for which [`Method::Auto`] considers the iterative method.
pub const ITERATIVE_MIN_DIM: usize = 512;

/// [`Method::Auto`] takes the iterative method for `k <= d / ITERATIVE_MAX_RATIO`.
///
/// Measured (benchmarks, 2 cores) on a slowly decaying spectrum `w_i = 1/i`, the hardest case
/// for a Krylov method, with `B` of condition 100: the iterative method takes 0.3-0.5 of the dense
/// time at `k = d/64` for d = 512-1024 and about 0.9 at d = 2048, k = 32; at `k = d/32` it
/// is slower than the dense method for d <= 1024 (it runs out of budget and falls back). On
/// spiked spectra (a few large eigenvalues above a bulk) it wins up to k = 32 from d = 1024 on.
pub const ITERATIVE_MAX_RATIO: usize = 64;

/// Largest relative asymmetry `max |M - M^T| / max |M|` accepted as rounding noise.
pub const SYMMETRY_TOL: f64 = 1e-8;

/// Algorithm for [`eigh_generalized`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Auto,
    Dense,
    Iterative,
}

impl Method {
    /// Parse `"auto"`, `"dense"` or `"iterative"`.
    pub fn parse(name: &str) -> Result<Method> {
        match name {
            "auto" => Ok(Method::Auto),
            "dense" => Ok(Method::Dense),
            "iterative" => Ok(Method::Iterative),
            other => Err(Error::InvalidArgument(format!(
                "method must be 'auto', 'dense' or 'iterative'; got {other:?}"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Dense => "dense",
            Method::Iterative => "iterative",
        }
    }
}

/// Options shared by every generalized eigensolver entry point.
#[derive(Clone, Copy, Debug)]
pub struct GepOptions {
    /// Largest eigenvalues (descending) when true, smallest (ascending) otherwise.
    pub largest: bool,
    pub method: Method,
    /// Residual tolerance of the iterative method (`None`: [`DEFAULT_TOL`]).
    pub tol: Option<f64>,
    /// `B` is replaced by `B + ridge * trace(B) / d * I`.
    pub ridge: f64,
}

impl Default for GepOptions {
    fn default() -> Self {
        GepOptions { largest: true, method: Method::Auto, tol: None, ridge: 0.0 }
    }
}

/// `k` eigenpairs of `(A, B)`.
#[derive(Clone, Debug)]
pub struct GepSolution {
    /// Eigenvalues, descending when `largest`, ascending otherwise (length k).
    pub w: Vec<f64>,
    /// Eigenvectors as columns (d x k), `V^T B V = I`.
    pub v: Mat<f64>,
    /// The method that produced the result (`Dense` also after a fallback).
    pub method: Method,
    /// Largest relative residual `||A v - w B v|| / ((||A||_F + |w| ||B||_F) ||v||)` when it
    /// was checked (iterative method), `None` otherwise.
    pub max_residual: Option<f64>,
    /// Vectors the iterative method applied the reduced operator to (0 for the dense method).
    pub operator_applications: usize,
}

/// From this dimension on, [`check_symmetric`] reads the matrix on all of rayon's threads.
const PARALLEL_CHECK_MIN_DIM: usize = 512;

/// Size of a validated symmetric matrix, from the same pass that validated it.
#[derive(Clone, Copy, Debug)]
pub struct SymmetricNorms {
    /// `max |m_ij|`.
    pub max_abs: f64,
    /// Frobenius norm `sqrt(sum m_ij^2)`.
    pub frobenius: f64,
}

/// Check that `m` is square, finite and symmetric up to [`SYMMETRY_TOL`]; returns its norms.
///
/// One read of the matrix, split across rayon's threads by strips of columns; the first
/// non-finite entry in column-strip order is the one reported, whatever the threads.
pub fn check_symmetric(name: &str, m: MatRef<'_, f64>) -> Result<SymmetricNorms> {
    if m.nrows() != m.ncols() {
        return Err(Error::Shape(format!("{name} must be square; got shape ({}, {})", m.nrows(), m.ncols())));
    }
    let d = m.nrows();
    // Tiles keep both m[(i, j)] and its mirror m[(j, i)] in cache (d^2 reads, one pass).
    const TILE: usize = 64;
    struct Strip {
        scale: f64,
        asym: f64,
        squares: f64,
        bad: Option<(usize, usize)>,
    }
    let strip = |jb: usize| {
        let mut out = Strip { scale: 0.0, asym: 0.0, squares: 0.0, bad: None };
        for ib in (jb..d).step_by(TILE) {
            for j in jb..(jb + TILE).min(d) {
                for i in ib.max(j)..(ib + TILE).min(d) {
                    let (a, b) = (m[(i, j)], m[(j, i)]);
                    if !a.is_finite() || !b.is_finite() {
                        out.bad = Some(if a.is_finite() { (j, i) } else { (i, j) });
                        return out;
                    }
                    out.scale = out.scale.max(a.abs());
                    out.asym = out.asym.max((a - b).abs());
                    out.squares += if i == j { a * a } else { a * a + b * b };
                }
            }
        }
        out
    };
    // Small matrices (and the many of a batch) in one thread: forking costs more than reading.
    let starts: Vec<usize> = (0..d).step_by(TILE).collect();
    let strips: Vec<Strip> = if d < PARALLEL_CHECK_MIN_DIM {
        starts.into_iter().map(strip).collect()
    } else {
        starts.into_par_iter().map(strip).collect()
    };
    if let Some((r, c)) = strips.iter().find_map(|s| s.bad) {
        return Err(Error::InvalidArgument(format!(
            "{name} contains NaN or infinite values (at row {r}, column {c}); clean the input first"
        )));
    }
    let scale = strips.iter().fold(0.0f64, |acc, s| acc.max(s.scale));
    let asym = strips.iter().fold(0.0f64, |acc, s| acc.max(s.asym));
    if asym > SYMMETRY_TOL * scale {
        return Err(Error::InvalidArgument(format!(
            "{name} is not symmetric: max |{name} - {name}^T| / max |{name}| = {:.2e} > {SYMMETRY_TOL:.0e}; \
             pass ({name} + {name}.T) / 2 if the asymmetry is rounding noise",
            asym / scale
        )));
    }
    Ok(SymmetricNorms { max_abs: scale, frobenius: strips.iter().map(|s| s.squares).sum::<f64>().sqrt() })
}

fn check_problem(
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    k: usize,
    opts: &GepOptions,
    [an, bn]: [&str; 2],
) -> Result<(SymmetricNorms, SymmetricNorms)> {
    let a_norms = check_symmetric(an, a)?;
    let b_norms = check_symmetric(bn, b)?;
    let d = a.nrows();
    if b.nrows() != d {
        return Err(Error::Shape(format!("{an} is {d} x {d} but {bn} is {} x {}; they must match", b.nrows(), b.ncols())));
    }
    if d == 0 {
        return Err(Error::Shape(format!("{an} and {bn} are empty (0 x 0)")));
    }
    if k == 0 || k > d {
        return Err(Error::InvalidArgument(format!("k must be between 1 and d = {d}; got {k}")));
    }
    if !(opts.ridge >= 0.0 && opts.ridge.is_finite()) {
        return Err(Error::InvalidArgument(format!("ridge must be a finite number >= 0; got {}", opts.ridge)));
    }
    if let Some(tol) = opts.tol {
        if !(tol > 0.0 && tol < 1.0) {
            return Err(Error::InvalidArgument(format!("tol must lie in (0, 1); got {tol}")));
        }
    }
    Ok((a_norms, b_norms))
}

/// A power of two `s` with `s * max_abs` near 1, as `2^e` with `|e| <= 1000` (and `e` even when
/// asked, so that `sqrt(s)` is a power of two too). Multiplying by it is exact: it rescales
/// subnormal or huge inputs into the range where the eigensolvers converge, without rounding.
pub(crate) fn power_of_two_scale(max_abs: f64, even: bool) -> f64 {
    if !(max_abs > 0.0 && max_abs.is_finite()) {
        return 1.0;
    }
    let mut e = (-max_abs.log2().round()).clamp(-1000.0, 1000.0) as i32;
    if even && e % 2 != 0 {
        e -= e.signum();
    }
    2f64.powi(e)
}

/// `ridge * trace(B) / d`, the multiple of the identity added to `B` (`what` names `B`).
pub fn ridge_shift(b: MatRef<'_, f64>, ridge: f64, what: &str) -> Result<f64> {
    if ridge == 0.0 {
        return Ok(0.0);
    }
    let d = b.nrows();
    let mean = (0..d).map(|i| b[(i, i)]).sum::<f64>() / d as f64;
    let shift = ridge * mean;
    if !shift.is_finite() {
        return Err(Error::InvalidArgument(format!(
            "ridge = {ridge:e} times trace({what}) / d = {mean:.3e} overflows float64; ridge is relative to \
             trace({what}) / d, so values like 1e-6 are typical"
        )));
    }
    Ok(shift)
}

/// [`Error::Numerical`] when a model overflowed float64: the inputs were finite but too large (or
/// too ill-conditioned) for the solution to be represented. (The generic eigensolver leaves an
/// overflowing eigenvalue infinite, as IEEE arithmetic does; a model with infinite parameters or
/// loss is of no use, so the closed forms refuse it.)
pub(crate) fn check_result_finite(what: &str, values: impl IntoIterator<Item = f64>) -> Result<()> {
    if values.into_iter().all(f64::is_finite) {
        return Ok(());
    }
    Err(Error::Numerical(format!(
        "{what} overflows float64 although the inputs are finite: they are too large or too badly \
         conditioned for the solution to be represented; rescale the inputs or pass ridge"
    )))
}

/// Lower Cholesky factor of `scale * (B + shift I)` (only the lower triangle is meaningful).
///
/// A failure names the pivot and the value of the Schur complement there (in the units of `B`);
/// `what` names the matrix. A pivot at rounding level, at most `d eps B_jj` (the backward error of
/// the factorisation in that column), fails too: column j of `B` is then a combination of the
/// previous ones to working precision (duplicated features, fewer samples than features without
/// noise), and a factor built on that pivot would turn rounding errors into the solution.
/// Relative to `B_jj`, the test does not depend on how the features are scaled.
pub fn cholesky(b: MatRef<'_, f64>, shift: f64, scale: f64, what: &str, par: Par) -> Result<Mat<f64>> {
    let d = b.nrows();
    let mut l = Mat::from_fn(d, d, |i, j| scale * (b[(i, j)] + if i == j { shift } else { 0.0 }));
    let diagonal: Vec<f64> = (0..d).map(|i| l[(i, i)]).collect();
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(d, par, Default::default()));
    let outcome =
        cholesky_in_place(l.as_mut(), Default::default(), par, MemStack::new(&mut mem), Default::default());
    match outcome {
        Ok(_) => {
            let rounding = d as f64 * f64::EPSILON;
            match (0..d).find(|&j| l[(j, j)] * l[(j, j)] <= rounding * diagonal[j]) {
                Some(j) => Err(Error::NotPositiveDefinite { what: what.to_string(), pivot: j, value: l[(j, j)] * l[(j, j)] / scale }),
                None => Ok(l),
            }
        }
        Err(LltError::NonPositivePivot { index: j }) => {
            // Columns 0..j of the factor are complete: the failing pivot is the Schur complement
            // B[j, j] - |z|^2 with L[:j, :j] z = B[:j, j].
            let mut z = Mat::from_fn(j, 1, |i, _| scale * b[(i, j)]);
            solve_lower_triangular_in_place(l.as_ref().submatrix(0, 0, j, j), z.as_mut(), Par::Seq);
            let value = (scale * (b[(j, j)] + shift) - z.squared_norm_l2()) / scale;
            Err(Error::NotPositiveDefinite { what: what.to_string(), pivot: j, value })
        }
    }
}

/// The method [`Method::Auto`] picks for `k` pairs of a d x d problem.
pub fn auto_method(d: usize, k: usize) -> Method {
    if d >= ITERATIVE_MIN_DIM && k * ITERATIVE_MAX_RATIO <= d {
        Method::Iterative
    } else {
        Method::Dense
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
    solve_named(a, b, k, opts, par, ["A", "B"])
}

/// [`eigh_generalized`] with the names the matrices go by in error messages (e.g. `G` and `S`).
pub(crate) fn solve_named(
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    k: usize,
    opts: &GepOptions,
    par: Par,
    names: [&str; 2],
) -> Result<GepSolution> {
    on_pool(par, || {
        let (a_norms, b_norms) = check_problem(a, b, k, opts, names)?;
        let (a, b) = (column_major(a), column_major(b));
        let shift = ridge_shift(b, opts.ridge, names[1])?;
        let scale = Scaling {
            a: power_of_two_scale(a_norms.max_abs, false),
            b: power_of_two_scale(b_norms.max_abs + shift.abs(), true),
        };
        let l = cholesky(b, shift, scale.b, names[1], par)?;
        let norms = Norms { a: a_norms.frobenius, b: frobenius_with_shift(b, b_norms.frobenius, shift) };
        solve_factored(a, b, shift, scale, norms, l.as_ref(), k, opts, par)
    })
}

/// Run `f` on a thread of rayon's pool when `par` asks for threads. Every parallel step (faer's
/// and linssl's) then hands work to the other threads of the pool directly; called from outside
/// the pool (from Python), each step would first wait for the pool to pick it up, which
/// multiplies the time of the many short parallel steps of a tridiagonalisation (measured: a
/// symmetric matrix-vector product with d = 2048 takes 3x longer).
pub(crate) fn on_pool<R: Send>(par: Par, f: impl FnOnce() -> R + Send) -> R {
    if par.degree() <= 1 || rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

/// The same symmetric matrix, viewed column-major when its storage is row-major (a C-ordered NumPy
/// array): faer's products and factorisations stream column-major operands in place, about 10%
/// faster end to end. Only for matrices already accepted by [`check_symmetric`].
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
struct Norms {
    a: f64,
    b: f64,
}

/// Solve once `L` (the Cholesky factor of `scale.b * (B + shift I)`) is known; inputs validated.
#[allow(clippy::too_many_arguments)]
fn solve_factored(
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    shift: f64,
    scale: Scaling,
    norms: Norms,
    l: MatRef<'_, f64>,
    k: usize,
    opts: &GepOptions,
    par: Par,
) -> Result<GepSolution> {
    let d = a.nrows();
    let method = match opts.method {
        Method::Auto => auto_method(d, k),
        m => m,
    };
    // The block iteration needs room for a few blocks of k + oversampling vectors.
    if method == Method::Iterative && 3 * block_size(k) < d {
        let tol = opts.tol.unwrap_or(DEFAULT_TOL);
        let sign = if opts.largest { 1.0 } else { -1.0 };
        let op = ReducedOperator { a, l, alpha: sign * scale.a };
        let (norm_a, norm_b) = (scale.a * norms.a, scale.b * norms.b);
        let mut krylov = BlockKrylov::new(&op, k, norm_a, norm_b, par);
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
                    method: Method::Iterative,
                    max_residual: Some(residual),
                    operator_applications: krylov.applied,
                });
            }
        }
    }
    let mut sol = dense(a, scale.a, l, k, opts.largest, par)?;
    scale.unscale(&mut sol.w, &mut sol.v);
    Ok(sol)
}

/// Cholesky-reduced dense solve: all eigenpairs of `L^{-1} (alpha A) L^{-T}`, k of them
/// back-transformed.
fn dense(a: MatRef<'_, f64>, alpha: f64, l: MatRef<'_, f64>, k: usize, largest: bool, par: Par) -> Result<GepSolution> {
    let m = reduce(a, alpha, l, par);
    let (wv, mut v) = symmetric_eigen(m, k, largest, par).map_err(|_| {
        Error::Numerical(
            "the symmetric eigensolver did not converge on the Cholesky-reduced problem; \
             check the scaling of A and B, or pass ridge to improve the conditioning of B"
                .into(),
        )
    })?;
    solve_upper_triangular_in_place(l.transpose(), v.as_mut(), par);
    Ok(GepSolution { w: wv, v, method: Method::Dense, max_residual: None, operator_applications: 0 })
}

/// Columns per block of [`reduce`]: wide enough for efficient level-3 updates, narrow enough
/// that the small diagonal-block solves stay cheap. Measured (2 cores): at d = 2048, 256 columns
/// take 0.15 s and 64 take 0.22 s; at d = 128 (batches), 256 columns (two full triangular solves)
/// take 0.47 ms and 64 take 0.22 ms.
fn reduce_block(d: usize) -> usize {
    if d >= 1024 {
        256
    } else {
        64
    }
}

/// `L^{-1} (alpha A) L^{-T}` (lower triangle; the strict upper part is garbage) for symmetric `A`.
///
/// Blocked like LAPACK's `dsygst`: d^3 flops, where two full triangular solves would take 2 d^3,
/// because the symmetry of the result is used (symmetric rank-2k updates of the trailing part).
fn reduce(a: MatRef<'_, f64>, alpha: f64, l: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let n = a.nrows();
    let mut m = Mat::from_fn(n, n, |i, j| alpha * a[(i, j)]);
    let mut start = 0;
    while start < n {
        let kb = reduce_block(n).min(n - start);
        let rest = n - start - kb;
        let l11 = l.submatrix(start, start, kb, kb);
        // A11 <- L11^{-1} A11 L11^{-T}, on a full copy of the symmetric block.
        let mut a11 = {
            let blk = m.as_ref().submatrix(start, start, kb, kb);
            Mat::from_fn(kb, kb, |i, j| if i >= j { blk[(i, j)] } else { blk[(j, i)] })
        };
        solve_lower_triangular_in_place(l11, a11.as_mut(), Par::Seq);
        let mut a11 = a11.transpose().to_owned();
        solve_lower_triangular_in_place(l11, a11.as_mut(), Par::Seq);
        let a11 = Mat::from_fn(kb, kb, |i, j| 0.5 * (a11[(i, j)] + a11[(j, i)]));
        m.as_mut().submatrix_mut(start, start, kb, kb).copy_from(&a11);
        if rest > 0 {
            let l21 = l.submatrix(start + kb, start, rest, kb);
            let (_, _, mut a21, mut a22) =
                m.as_mut().submatrix_mut(start, start, n - start, n - start).split_at_mut(kb, kb);
            // A21 <- A21 L11^{-T}: a right solve, done as a left solve on the transpose.
            solve_lower_triangular_in_place(l11, a21.rb_mut().transpose_mut(), par);
            // A21 <- A21 - L21 A11 / 2
            matmul(a21.rb_mut(), Accum::Add, l21, a11.as_ref(), -0.5, par);
            // A22 <- A22 - A21 L21^T - L21 A21^T (lower triangle only)
            for (x, y) in [(a21.rb(), l21), (l21, a21.rb())] {
                tri_matmul(
                    a22.rb_mut(),
                    BlockStructure::TriangularLower,
                    Accum::Add,
                    x,
                    BlockStructure::Rectangular,
                    y.transpose(),
                    BlockStructure::Rectangular,
                    -1.0,
                    par,
                );
            }
            // A21 <- L22^{-1} (A21 - L21 A11 / 2)
            matmul(a21.rb_mut(), Accum::Add, l21, a11.as_ref(), -0.5, par);
            solve_lower_triangular_in_place(l.submatrix(start + kb, start + kb, rest, rest), a21.rb_mut(), par);
        }
        start += kb;
    }
    m
}

/// Largest `||A v - w B v|| / ((||A||_F + |w| ||B + shift I||_F) ||v||)` over the given pairs.
fn max_relative_residual(
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    shift: f64,
    norms: Norms,
    w: &[f64],
    v: MatRef<'_, f64>,
    par: Par,
) -> f64 {
    let d = a.nrows();
    let k = v.ncols();
    let (norm_a, norm_b) = (norms.a, norms.b);
    let mut av = Mat::<f64>::zeros(d, k);
    matmul(av.as_mut(), Accum::Replace, a, v, 1.0, par);
    let mut bv = Mat::<f64>::zeros(d, k);
    matmul(bv.as_mut(), Accum::Replace, b, v, 1.0, par);
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

/// `X -> alpha * L^{-1} A L^{-T} X`, the Cholesky-reduced operator, applied to blocks
/// (`alpha` carries the sign, negative for the smallest eigenvalues, and the scaling of `A`).
struct ReducedOperator<'a> {
    a: MatRef<'a, f64>,
    l: MatRef<'a, f64>,
    alpha: f64,
}

impl ReducedOperator<'_> {
    /// `out = alpha * L^{-1} A L^{-T} x` for a block `x` (d x p).
    ///
    /// The block is processed transposed (p x d, column-major): with few columns, faer's gemm and
    /// triangular solves run two to three times faster in that orientation, because the large
    /// d x d operand is then streamed in place instead of being repacked on every call.
    ///
    /// With several threads, the columns are split into one group per thread, each applied with
    /// sequential kernels: narrow triangular solves parallelise poorly inside faer, and the
    /// groups need no synchronisation.
    fn apply(&self, x: MatRef<'_, f64>, out: MatMut<'_, f64>, par: Par) {
        let groups = par.degree().min(x.ncols() / 12).max(1);
        if groups == 1 {
            return self.apply_group(x, out, par);
        }
        let bounds: Vec<usize> = (0..=groups).map(|g| (g * x.ncols() / groups) / 12 * 12).collect();
        let mut parts = Vec::with_capacity(groups);
        let mut rest = out;
        for g in 0..groups {
            let width = if g + 1 == groups { x.ncols() - bounds[g] } else { bounds[g + 1] - bounds[g] };
            let (head, tail) = rest.split_at_col_mut(width);
            parts.push((bounds[g], width, head));
            rest = tail;
        }
        parts.into_par_iter().for_each(|(start, width, part)| self.apply_group(x.subcols(start, width), part, Par::Seq));
    }

    fn apply_group(&self, x: MatRef<'_, f64>, out: MatMut<'_, f64>, par: Par) {
        let mut t = x.transpose().to_owned();
        solve_upper_triangular_in_place(self.l.transpose(), t.as_mut().transpose_mut(), par);
        let mut y = Mat::<f64>::zeros(x.ncols(), x.nrows());
        // (A T)^T = T^T A, A symmetric.
        matmul(y.as_mut(), Accum::Replace, t.as_ref(), self.a, self.alpha, par);
        solve_lower_triangular_in_place(self.l, y.as_mut().transpose_mut(), par);
        let mut out = out;
        out.copy_from(y.transpose());
    }
}

/// Vectors per block for k wanted pairs: a few more than k, so that the convergence of the k-th
/// pair is governed by the gap to the (p+1)-th eigenvalue rather than to the (k+1)-th, rounded
/// up to a multiple of 12, the row count of the f64 gemm micro-kernel (the transposed products
/// of [`ReducedOperator::apply`] have p rows: a ragged remainder would cost as much as 12).
fn block_size(k: usize) -> usize {
    (k + (k / 8).max(4)).next_multiple_of(12)
}

/// Largest basis, in blocks, before a thick restart.
const MAX_BLOCKS: usize = 6;

/// Thick-restarted block Lanczos with full reorthogonalisation, for the largest eigenvalues of a
/// symmetric operator. State persists between [`BlockKrylov::run`] calls so a tighter tolerance
/// continues where the previous run stopped.
struct BlockKrylov<'a> {
    op: &'a ReducedOperator<'a>,
    k: usize,
    p: usize,
    /// Orthonormal basis (first `m` columns used) and its image under the operator.
    q: Mat<f64>,
    aq: Mat<f64>,
    /// Projected operator `Q^T (Op Q)`, kept up to date block by block.
    h: Mat<f64>,
    m: usize,
    /// Columns `frontier..m` of the basis are the block to expand next.
    frontier: usize,
    /// Ritz values (descending) and vectors in basis coordinates, from the last Rayleigh-Ritz.
    theta: Vec<f64>,
    coords: Mat<f64>,
    /// Frobenius norms of the scaled `A` and `B` (for residuals in the original problem).
    norm_a: f64,
    norm_b: f64,
    applied: usize,
    budget: usize,
    par: Par,
}

impl<'a> BlockKrylov<'a> {
    fn new(op: &'a ReducedOperator<'a>, k: usize, norm_a: f64, norm_b: f64, par: Par) -> Self {
        let d = op.a.nrows();
        let p = block_size(k);
        let max_basis = (MAX_BLOCKS * p).min(d - 1);
        let mut state = BlockKrylov {
            op,
            k,
            p,
            q: Mat::zeros(d, max_basis),
            aq: Mat::zeros(d, max_basis),
            h: Mat::zeros(max_basis, max_basis),
            m: 0,
            frontier: 0,
            theta: Vec::new(),
            coords: Mat::zeros(0, 0),
            norm_a,
            norm_b,
            applied: 0,
            // About the flops of the dense method: d / 2 operator columns at 4 d^2 flops each.
            budget: (d / 2).max(4 * p),
            par,
        };
        let mut rng = SplitMix64(0x5eed_1155);
        let start = Mat::from_fn(d, p, |_, _| rng.uniform());
        state.append(start);
        state
    }

    /// Iterate until the k wanted Ritz pairs have a relative residual in the original problem
    /// of at most `tol` (true), or the budget is spent (false).
    fn run(&mut self, tol: f64) -> bool {
        loop {
            if !self.rayleigh_ritz() {
                return false; // the dense method takes over
            }
            if self.converged(tol) {
                return true;
            }
            if self.applied + self.p > self.budget {
                return false;
            }
            let max_basis = self.q.ncols();
            let next = if self.m + self.p > max_basis {
                self.restart();
                // Expand the best p Ritz vectors: their images minus their span are the residuals.
                self.aq.as_ref().subcols(0, self.p).to_owned()
            } else {
                self.aq.as_ref().subcols(self.frontier, self.m - self.frontier).to_owned()
            };
            let take = next.ncols().min(self.p).min(max_basis - self.m);
            self.append(next.as_ref().subcols(0, take).to_owned());
        }
    }

    /// Orthonormalise `block` against the basis and itself, append it and its image, and extend
    /// the projected operator by the new block's row and column.
    fn append(&mut self, mut block: Mat<f64>) {
        let (d, m, b) = (self.q.nrows(), self.m, block.ncols());
        let mut rng = SplitMix64(0xb10c_0000 + self.applied as u64);
        for _ in 0..2 {
            // Block classical Gram-Schmidt against the basis, twice ("twice is enough").
            project_out(self.q.as_ref().subcols(0, m), block.as_mut(), self.par);
        }
        for j in 0..b {
            let mut tries = 0;
            loop {
                let before = block.col(j).norm_l2();
                let (done, mut col) = block.as_mut().split_at_col_mut(j);
                let mut col = col.rb_mut().subcols_mut(0, 1);
                project_out(done.rb(), col.rb_mut(), Par::Seq);
                project_out(done.rb(), col.rb_mut(), Par::Seq);
                let mut after = col.rb().col(0).norm_l2();
                if after < 0.5 * before {
                    // Heavy cancellation: components along the basis may have resurfaced.
                    project_out(self.q.as_ref().subcols(0, m), col.rb_mut(), Par::Seq);
                    project_out(done.rb(), col.rb_mut(), Par::Seq);
                    after = col.rb().col(0).norm_l2();
                }
                if after > 1e-10 * before && after > 0.0 {
                    let inv = 1.0 / after;
                    col.col_mut(0).iter_mut().for_each(|x| *x *= inv);
                    break;
                }
                // The column was (numerically) in the span already: replace it by a random one.
                tries += 1;
                assert!(tries < 8, "block Krylov could not extend an orthonormal basis");
                for i in 0..d {
                    block[(i, j)] = rng.uniform();
                }
                project_out(self.q.as_ref().subcols(0, m), block.as_mut().subcols_mut(j, 1), Par::Seq);
            }
        }
        self.q.as_mut().subcols_mut(m, b).copy_from(&block);
        self.op.apply(block.as_ref(), self.aq.as_mut().subcols_mut(m, b), self.par);
        // H[:, new] = Q^T (Op Q_new); H[new, :] by symmetry of the operator.
        let mut col = Mat::<f64>::zeros(m + b, b);
        matmul(
            col.as_mut(),
            Accum::Replace,
            self.q.as_ref().subcols(0, m + b).transpose(),
            self.aq.as_ref().subcols(m, b),
            1.0,
            self.par,
        );
        self.h.as_mut().submatrix_mut(0, m, m + b, b).copy_from(&col);
        self.h.as_mut().submatrix_mut(m, 0, b, m + b).copy_from(col.transpose());
        self.frontier = m;
        self.m = m + b;
        self.applied += b;
    }

    /// Ritz values and vectors of the current basis; false if the small eigensolver failed.
    fn rayleigh_ritz(&mut self) -> bool {
        let m = self.m;
        let h = self.h.as_ref().submatrix(0, 0, m, m);
        let h = Mat::from_fn(m, m, |i, j| 0.5 * (h[(i, j)] + h[(j, i)]));
        if !h.as_ref().is_all_finite() {
            return false;
        }
        match symmetric_eigen(h, m, true, Par::Seq) {
            Ok((theta, coords)) => {
                (self.theta, self.coords) = (theta, coords);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether every wanted pair meets `tol` in the original problem.
    ///
    /// The reduced residual `r = M y - theta y` maps to the original one exactly:
    /// `A v - w B v = L r` with `v = L^{-T} y` (in the scaled problem), so the relative residual
    /// `||L r|| / ((||A|| + |w| ||B||) ||v||)` costs two triangular products, no product with `A`
    /// or `B`. It is evaluated once the reduced residuals are small enough to make it plausible.
    fn converged(&self, tol: f64) -> bool {
        let k = self.k;
        let m = self.m;
        let d = self.q.nrows();
        let scale = self.theta.iter().fold(0.0f64, |acc, t| acc.max(t.abs()));
        let yk = self.coords.as_ref().subcols(0, k);
        let mut r = Mat::<f64>::zeros(d, k);
        matmul(r.as_mut(), Accum::Replace, self.aq.as_ref().subcols(0, m), yk, 1.0, self.par);
        let theta_k = Mat::from_fn(m, k, |i, j| -self.theta[j] * yk[(i, j)]);
        matmul(r.as_mut(), Accum::Add, self.q.as_ref().subcols(0, m), theta_k.as_ref(), 1.0, self.par);
        // Cheap filter: the original residual is rarely far below the reduced one.
        if (0..k).any(|j| r.col(j).norm_l2() > 1e3 * tol * scale) {
            return false;
        }
        let (_, y) = self.ritz_pairs();
        let mut v = y;
        solve_upper_triangular_in_place(self.op.l.transpose(), v.as_mut(), self.par);
        let mut lr = Mat::<f64>::zeros(d, k);
        tri_matmul(
            lr.as_mut(),
            BlockStructure::Rectangular,
            Accum::Replace,
            self.op.l,
            BlockStructure::TriangularLower,
            r.as_ref(),
            BlockStructure::Rectangular,
            1.0,
            self.par,
        );
        (0..k).all(|j| {
            let denom = (self.norm_a + self.theta[j].abs() * self.norm_b) * v.col(j).norm_l2();
            lr.col(j).norm_l2() <= tol * denom
        })
    }

    /// Keep the leading Ritz vectors (half the maximal basis) as the new basis; the projected
    /// operator on them is diagonal (their Ritz values).
    fn restart(&mut self) {
        let keep = (self.q.ncols() / 2).max(self.p).min(self.m);
        let y = self.coords.as_ref().subcols(0, keep);
        let mut q_new = Mat::<f64>::zeros(self.q.nrows(), keep);
        matmul(q_new.as_mut(), Accum::Replace, self.q.as_ref().subcols(0, self.m), y, 1.0, self.par);
        let mut aq_new = Mat::<f64>::zeros(self.q.nrows(), keep);
        matmul(aq_new.as_mut(), Accum::Replace, self.aq.as_ref().subcols(0, self.m), y, 1.0, self.par);
        self.q.as_mut().subcols_mut(0, keep).copy_from(&q_new);
        self.aq.as_mut().subcols_mut(0, keep).copy_from(&aq_new);
        self.h.fill(0.0);
        for i in 0..keep {
            self.h[(i, i)] = self.theta[i];
        }
        self.m = keep;
        self.frontier = 0;
    }

    /// The k leading Ritz values and vectors (vectors in the reduced space, d x k).
    fn ritz_pairs(&self) -> (Vec<f64>, Mat<f64>) {
        let mut y = Mat::<f64>::zeros(self.q.nrows(), self.k);
        matmul(
            y.as_mut(),
            Accum::Replace,
            self.q.as_ref().subcols(0, self.m),
            self.coords.as_ref().subcols(0, self.k),
            1.0,
            self.par,
        );
        (self.theta[..self.k].to_vec(), y)
    }
}

/// `x -= q (q^T x)` for `q` with orthonormal columns.
fn project_out(q: MatRef<'_, f64>, x: MatMut<'_, f64>, par: Par) {
    if q.ncols() == 0 {
        return;
    }
    let mut coef = Mat::<f64>::zeros(q.ncols(), x.ncols());
    matmul(coef.as_mut(), Accum::Replace, q.transpose(), x.rb(), 1.0, par);
    matmul(x, Accum::Add, q, coef.as_ref(), -1.0, par);
}

/// Small deterministic generator for starting blocks (reproducible results, no dependency).
struct SplitMix64(u64);

impl SplitMix64 {
    /// Uniform on [-1, 1).
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

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

/// Largest dimension for which a batch is always spread across problems.
const BATCH_ACROSS_MAX_DIM: usize = 1024;

/// Run `solve(i, inner_par)` for `0..count`, choosing where the parallelism goes, and prefix
/// errors with the index of the failing problem.
pub(crate) fn for_each_problem<T: Send>(
    count: usize,
    par: Par,
    max_dim: usize,
    solve: impl Fn(usize, Par) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let threads = par.degree();
    let across = threads > 1 && count > 1 && (count >= 2 * threads || max_dim <= BATCH_ACROSS_MAX_DIM);
    let label = |i: usize, e: Error| match e {
        Error::Shape(msg) => Error::Shape(format!("problem {i}: {msg}")),
        Error::InvalidArgument(msg) => Error::InvalidArgument(format!("problem {i}: {msg}")),
        Error::Numerical(msg) => Error::Numerical(format!("problem {i}: {msg}")),
        Error::NotPositiveDefinite { what, pivot, value } => {
            Error::NotPositiveDefinite { what: format!("{what} of problem {i}"), pivot, value }
        }
        Error::NonFinite { what, row, col, value } => Error::NonFinite { what: format!("{what} of problem {i}"), row, col, value },
        Error::OutOfMemory(msg) => Error::OutOfMemory(format!("problem {i}: {msg}")),
    };
    if across {
        (0..count).into_par_iter().map(|i| solve(i, Par::Seq).map_err(|e| label(i, e))).collect()
    } else {
        (0..count).map(|i| solve(i, par).map_err(|e| label(i, e))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let opts = GepOptions { method: Method::Dense, ..Default::default() };
        let sol = eigh_generalized(a.as_ref(), b.as_ref(), 5, &opts, Par::Seq).unwrap();
        for (j, w) in sol.w.iter().enumerate() {
            assert!((w - (30 - j) as f64).abs() < 1e-12, "{w}");
        }
        assert!(b_orthonormality_error(b.as_ref(), sol.v.as_ref()) < 1e-12);
        let low = eigh_generalized(a.as_ref(), b.as_ref(), 3, &GepOptions { largest: false, ..opts }, Par::Seq).unwrap();
        assert!((low.w[0] - 1.0).abs() < 1e-12 && (low.w[2] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn iterative_matches_dense_on_a_spiked_problem() {
        let d = 300;
        let values: Vec<f64> = (0..d).map(|i| if i < 6 { 50.0 + 10.0 * i as f64 } else { 1.0 + i as f64 / d as f64 }).collect();
        let a = with_spectrum(&values, 2);
        let b = spd(d, 3, 0.5);
        let k = 4;
        let dense_opts = GepOptions { method: Method::Dense, ..Default::default() };
        let iter_opts = GepOptions { method: Method::Iterative, ..Default::default() };
        let reference = eigh_generalized(a.as_ref(), b.as_ref(), k, &dense_opts, Par::Seq).unwrap();
        let sol = eigh_generalized(a.as_ref(), b.as_ref(), k, &iter_opts, Par::Seq).unwrap();
        assert_eq!(sol.method, Method::Iterative);
        assert!(sol.max_residual.unwrap() <= DEFAULT_TOL);
        for (x, y) in sol.w.iter().zip(&reference.w) {
            assert!((x - y).abs() <= 1e-9 * y.abs(), "{x} vs {y}");
        }
        assert!(b_orthonormality_error(b.as_ref(), sol.v.as_ref()) < 1e-10);
        // Smallest end too.
        let small = GepOptions { largest: false, ..iter_opts };
        let sol = eigh_generalized(a.as_ref(), b.as_ref(), k, &small, Par::Seq).unwrap();
        let reference = eigh_generalized(a.as_ref(), b.as_ref(), k, &GepOptions { largest: false, ..dense_opts }, Par::Seq).unwrap();
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
        let sol = eigh_generalized(big.as_ref(), tiny_b.as_ref(), 1, &GepOptions::default(), Par::Seq);
        // w = 4e600 overflows: the answer is infinite, not NaN, and V^T B V = I still holds.
        let sol = sol.unwrap();
        assert!(sol.w[0].is_infinite());
        assert!((sol.v[(3, 0)].abs() - 1e150).abs() <= 1e135);
    }

    #[test]
    fn invalid_input_is_rejected() {
        let a = Mat::<f64>::identity(3, 3);
        let mut bad = a.clone();
        bad[(0, 1)] = 1e-3;
        let opts = GepOptions::default();
        assert!(matches!(eigh_generalized(bad.as_ref(), a.as_ref(), 1, &opts, Par::Seq), Err(Error::InvalidArgument(_))));
        bad[(0, 1)] = f64::NAN;
        assert!(matches!(eigh_generalized(a.as_ref(), bad.as_ref(), 1, &opts, Par::Seq), Err(Error::InvalidArgument(_))));
        assert!(matches!(eigh_generalized(a.as_ref(), a.as_ref(), 4, &opts, Par::Seq), Err(Error::InvalidArgument(_))));
        let small = Mat::<f64>::identity(2, 2);
        assert!(matches!(eigh_generalized(a.as_ref(), small.as_ref(), 1, &opts, Par::Seq), Err(Error::Shape(_))));
    }

    #[test]
    fn batch_matches_single_solves_and_labels_errors() {
        let problems: Vec<(Mat<f64>, Mat<f64>)> = (0..6).map(|s| (spd(20, 10 + s, 0.0), spd(20, 20 + s, 0.1))).collect();
        let views: Vec<_> = problems.iter().map(|(a, b)| (a.as_ref(), b.as_ref())).collect();
        let opts = GepOptions::default();
        let batch = eigh_generalized_batch(&views, 3, &opts, Par::rayon(2)).unwrap();
        for ((a, b), sol) in problems.iter().zip(&batch) {
            let single = eigh_generalized(a.as_ref(), b.as_ref(), 3, &opts, Par::Seq).unwrap();
            assert_eq!(sol.w, single.w);
        }
        let singular = Mat::<f64>::zeros(20, 20);
        let mut views = views;
        views[4].1 = singular.as_ref();
        match eigh_generalized_batch(&views, 3, &opts, Par::rayon(2)) {
            Err(Error::NotPositiveDefinite { what, .. }) => assert_eq!(what, "B of problem 4"),
            other => panic!("{other:?}"),
        }
    }
}
