//! Eigenpairs of a symmetric matrix through a blocked Householder tridiagonalisation.
//!
//! faer's `self_adjoint_evd` tridiagonalises with an unblocked update that reads and writes the
//! whole trailing matrix once per column. LAPACK's `dsytrd` blocks the reduction instead: half of
//! its flops become a rank-2k update of the trailing matrix (matrix-matrix, runs near peak) and
//! the other half a symmetric matrix-vector product that only *reads* the trailing matrix, which
//! halves the memory traffic of the part that bounds the whole solver. This module does the same
//! (`dlatrd`'s panel algorithm, lower triangle), then hands the tridiagonal matrix to faer's
//! divide and conquer and applies the Householder reflectors to the wanted eigenvectors only,
//! in blocks, with faer.
//!
//! For large matrices even the halved matrix-vector traffic bounds the reduction, and a
//! two-stage reduction takes over ([`EigenParams::two_stage_min_dim`]): dense -> band with
//! matrix-matrix products only ([`band_reduction`]), band -> tridiagonal by bulge chasing in
//! cache ([`bulge_chasing`]); the eigenvectors then take both sets of reflectors
//! ([`chase_back_transform`], then the band reduction's), again as matrix products.

mod band_reduction;
mod bulge_chasing;
mod chase_back_transform;

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::evd::{
    self_adjoint_evd, self_adjoint_evd_scratch, tridiagonal_self_adjoint_evd, ComputeEigenvectors, SelfAdjointEvdParams,
};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj, make_householder_in_place,
    upgrade_householder_factor,
};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Auto, Col, Conj, Mat, MatMut, MatRef, Par, Spec};

use crate::interrupt::checkpoint;
use crate::symv::{with_symv_team, SymvTeam};

/// Reflectors per panel: LAPACK's default for `dsytrd`; the rank-2k update then has inner
/// dimension 64, enough for faer's matrix product to run near peak.
const PANEL: usize = 32;

/// Size below which faer's divide and conquer solves a tridiagonal subproblem by the QR algorithm.
/// faer's default, 128, leaves the eigenvectors of a 100 x 100 problem entirely to QR iterations
/// (O(n^3) rotations) and splits a 128 x 128 one only once; LAPACK's `dstedc` recurses down to
/// 25. With 32 (one core, best of 12 interleaved rounds): all pairs of a 128 x 128 matrix in
/// 1.42 ms instead of 1.59, of a 100 x 100 one in 1.17 ms instead of 1.26, and the residuals and
/// the loss of orthogonality are 2-3 x smaller (max |U^T U - I| 4.9e-15 against 7.3e-15 at 128,
/// 3.1e-15 against 7.8e-15 at 100); at n = 2048 and 4096 the time does not change.
const DIVIDE_AND_CONQUER_MIN_DIM: usize = 32;

/// faer's eigensolver settings with [`DIVIDE_AND_CONQUER_MIN_DIM`].
fn evd_params() -> Spec<SelfAdjointEvdParams, f64> {
    let mut params = <SelfAdjointEvdParams as Auto<f64>>::auto();
    params.recursion_threshold = DIVIDE_AND_CONQUER_MIN_DIM;
    params.into()
}

/// Where the solver switches algorithms, and the band of the two-stage reduction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EigenParams {
    /// Below this dimension faer's unblocked solver is as fast (everything sits in cache).
    pub blocked_min_dim: usize,
    /// From this dimension on, the two-stage reduction replaces the one-stage blocked one. It
    /// halves the reduction's time at large n but doubles the back-transformation (both `Q2`
    /// and `Q1` are applied to the k vectors): measured on 2 cores, one-stage is as fast or
    /// faster up to n = 4096 (even with k = n / 8), and two-stage is faster at n = 8192, k = n / 2.
    pub two_stage_min_dim: usize,
    /// Half-bandwidth of the band matrix between the two stages: wide enough for the band
    /// reduction's products to run near peak, narrow enough for the chase (`O(n^2 b)`) to stay cheap.
    pub band: usize,
}

impl Default for EigenParams {
    fn default() -> Self {
        EigenParams { blocked_min_dim: 256, two_stage_min_dim: 6144, band: 64 }
    }
}

/// The eigensolver did not converge (faer's divide and conquer reported failure).
#[derive(Debug)]
pub struct NoConvergence;

/// `k` eigenpairs of the symmetric matrix whose lower triangle is `a` (n x n; the strict upper part
/// is ignored, and `a` is used as workspace): the largest first when `largest`, else the smallest
/// first.
///
/// Returns `(w, U)`: `w` has length `k`, `U` is (n, k) with orthonormal columns, `a U = U diag(w)`.
pub fn symmetric_eigen(a: Mat<f64>, k: usize, largest: bool, par: Par) -> Result<(Vec<f64>, Mat<f64>), NoConvergence> {
    symmetric_eigen_with(a, k, largest, par, EigenParams::default())
}

/// [`symmetric_eigen`] with explicit switch points (tests force either path at small sizes).
pub(crate) fn symmetric_eigen_with(
    mut a: Mat<f64>,
    k: usize,
    largest: bool,
    par: Par,
    params: EigenParams,
) -> Result<(Vec<f64>, Mat<f64>), NoConvergence> {
    let n = a.nrows();
    // faer's solvers return ascending eigenvalues; these are the positions of the wanted ones.
    let order: Vec<usize> = if largest { (n - k..n).rev().collect() } else { (0..k).collect() };
    let pick = |s: &Col<f64>, u: &Mat<f64>| -> (Vec<f64>, Mat<f64>) {
        (order.iter().map(|&i| s[i]).collect(), Mat::from_fn(n, k, |i, j| u[(i, order[j])]))
    };
    if n < params.blocked_min_dim {
        let mut s = Col::<f64>::zeros(n);
        let mut u = Mat::<f64>::zeros(n, n);
        let mut mem = MemBuffer::new(self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::Yes, par, evd_params()));
        self_adjoint_evd(a.as_ref(), s.as_diagonal_mut(), Some(u.as_mut()), par, MemStack::new(&mut mem), evd_params())
            .map_err(|_| NoConvergence)?;
        return Ok(pick(&s, &u));
    }
    // The products below read the lower triangle only; zero the rest so no stale value can leak.
    for j in 1..n {
        a.col_mut(j).subrows_mut(0, j).fill(0.0);
    }
    if n >= params.two_stage_min_dim {
        return two_stage(a, par, params.band.max(1), pick);
    }
    let tri = tridiagonalize(a.as_mut(), par);
    checkpoint();
    // Eigenpairs of the tridiagonal matrix (ascending), then U = Q Z for the wanted columns of Z.
    let mut s = Col::<f64>::zeros(n);
    let mut z = Mat::<f64>::zeros(n, n);
    let stack_req = StackReq::any_of(&[
        self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::Yes, par, evd_params()),
        apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(n - 1, tri.factor.nrows(), k),
    ]);
    let mut mem = MemBuffer::new(stack_req);
    tridiagonal_self_adjoint_evd(
        tri.diag.as_diagonal(),
        tri.subdiag.as_diagonal(),
        s.as_diagonal_mut(),
        Some(z.as_mut()),
        par,
        MemStack::new(&mut mem),
        evd_params(),
    )
    .map_err(|_| NoConvergence)?;
    checkpoint();
    let (w, mut u) = pick(&s, &z);
    drop(z);
    // Q = diag(1, H_0 H_1 ... H_{n-2}): the reflectors act on rows 1..n.
    apply_block_householder_sequence_on_the_left_in_place_with_conj(
        a.as_ref().submatrix(1, 0, n - 1, n - 1),
        tri.factor.as_ref(),
        Conj::No,
        u.as_mut().subrows_mut(1, n - 1),
        par,
        MemStack::new(&mut mem),
    );
    Ok((w, u))
}

/// The two-stage path on `a` (lower triangle, upper part zero): `A = Q1 Q2 T Q2^T Q1^T`.
fn two_stage(
    mut a: Mat<f64>,
    par: Par,
    band: usize,
    pick: impl Fn(&Col<f64>, &Mat<f64>) -> (Vec<f64>, Mat<f64>),
) -> Result<(Vec<f64>, Mat<f64>), NoConvergence> {
    let n = a.nrows();
    let q1 = band_reduction::reduce_to_band(a.as_mut(), band, par);
    checkpoint();
    let (diag, subdiag, q2) = bulge_chasing::chase(bulge_chasing::Band::from_lower(a.as_ref(), band), par.degree());
    let (diag, subdiag) = (Col::from_fn(n, |i| diag[i]), Col::from_fn(n, |i| subdiag[i]));
    let mut s = Col::<f64>::zeros(n);
    let mut z = Mat::<f64>::zeros(n, n);
    let mut mem = MemBuffer::new(self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::Yes, par, evd_params()));
    tridiagonal_self_adjoint_evd(
        diag.as_diagonal(),
        subdiag.as_diagonal(),
        s.as_diagonal_mut(),
        Some(z.as_mut()),
        par,
        MemStack::new(&mut mem),
        evd_params(),
    )
    .map_err(|_| NoConvergence)?;
    drop(mem);
    checkpoint();
    let (w, mut u) = pick(&s, &z);
    drop(z);
    chase_back_transform::apply_chase_reflectors(&q2, u.as_mut(), par);
    q1.apply_on_the_left(a.as_ref(), u.as_mut(), par);
    Ok((w, u))
}

/// `T = Q^T A Q` in tridiagonal form; the reflectors defining `Q` stay in the matrix.
struct Tridiagonal {
    /// Diagonal of `T`, length n.
    diag: Col<f64>,
    /// Subdiagonal of `T`, length n (the last entry is unused and zero).
    subdiag: Col<f64>,
    /// faer's block Householder factor (block size x (n - 1)) for the reflectors stored below the
    /// subdiagonal of the reduced matrix (unit leading entries implicit).
    factor: Mat<f64>,
}

/// Reduce the lower triangle of `a` (n x n) to tridiagonal form in place (LAPACK `dsytrd`, lower).
///
/// Reflector `j` is `H_j = I - v v^T / tau_j` with `v = (0, ..., 0, 1, a[j + 2.., j])`, the 1 at
/// row `j + 1`; `Q = H_0 ... H_{n-2}`. Panels of [`PANEL`] reflectors are built by `dlatrd`'s
/// algorithm, which keeps `W` with `H A H = A - V W^T - W V^T`, and the trailing matrix is then
/// updated once per panel by that rank-2k product.
fn tridiagonalize(mut a: MatMut<'_, f64>, par: Par) -> Tridiagonal {
    let n = a.nrows();
    let mut diag = Col::<f64>::zeros(n);
    let mut subdiag = Col::<f64>::zeros(n);
    let mut tau = vec![f64::INFINITY; n.saturating_sub(1)];
    let mut w = Mat::<f64>::zeros(n, PANEL);
    let mut y = Mat::<f64>::zeros(n, par.degree().max(1));
    let mut start = 0;
    while start + 1 < n {
        checkpoint();
        let nb = PANEL.min(n - 1 - start);
        let m = n - start;
        let mut panel_w = w.as_mut().submatrix_mut(0, 0, m, nb);
        let block = a.rb_mut().submatrix_mut(start, start, m, m);
        // The panel's products share a team of threads that stays awake for the whole panel.
        let (tau_panel, y_mut, w_mut) = (&mut tau[start..start + nb], y.as_mut(), panel_w.rb_mut());
        let (subdiag_mut, diag_mut) = (&mut subdiag, &mut diag);
        with_symv_team(par, |team| reduce_panel(block, w_mut, tau_panel, subdiag_mut, diag_mut, start, y_mut, team));
        // Trailing update A22 <- A22 - V W^T - W V^T (lower triangle), one rank-2k product.
        let rest = m - nb;
        let (_, _, v_panel, mut a22) = a.rb_mut().submatrix_mut(start, start, m, m).split_at_mut(nb, nb);
        let v_panel = v_panel.rb();
        let w_panel = panel_w.rb().subrows(nb, rest);
        let lhs = Mat::from_fn(rest, 2 * nb, |i, j| if j < nb { v_panel[(i, j)] } else { w_panel[(i, j - nb)] });
        let rhs = Mat::from_fn(rest, 2 * nb, |i, j| if j < nb { w_panel[(i, j)] } else { v_panel[(i, j - nb)] });
        tri_matmul(
            a22.rb_mut(),
            BlockStructure::TriangularLower,
            Accum::Add,
            lhs.as_ref(),
            BlockStructure::Rectangular,
            rhs.as_ref().transpose(),
            BlockStructure::Rectangular,
            -1.0,
            par,
        );
        start += nb;
    }
    diag[n - 1] = a[(n - 1, n - 1)];
    Tridiagonal { diag, subdiag, factor: householder_factor(a.rb().submatrix(1, 0, n - 1, n - 1), &tau, par) }
}

/// `dlatrd` on the trailing block `a` (m x m, lower triangle): reduce its first `nb` columns and
/// fill `w` (m x nb); the rest of `a` is left for the caller's rank-2k update. Writes the
/// reflector coefficients into `tau` and the diagonal and subdiagonal of `T` at `offset..`.
#[allow(clippy::too_many_arguments)]
fn reduce_panel(
    mut a: MatMut<'_, f64>,
    mut w: MatMut<'_, f64>,
    tau: &mut [f64],
    subdiag: &mut Col<f64>,
    diag: &mut Col<f64>,
    offset: usize,
    mut scratch: MatMut<'_, f64>,
    team: &SymvTeam<'_>,
) {
    let m = a.nrows();
    let nb = tau.len();
    for i in 0..nb {
        if i > 0 {
            // Bring column i up to date with the panel's earlier reflectors:
            // a[i.., i] -= V[i.., ..i] W[i, ..i]^T + W[i.., ..i] V[i, ..i]^T.
            let (left, mut col) = a.rb_mut().subrows_mut(i, m - i).split_at_col_mut(i);
            let mut col = col.rb_mut().col_mut(0).as_mat_mut();
            let (wl, vl) = (w.rb().subrows(i, m - i).subcols(0, i), left.rb());
            matmul(col.rb_mut(), Accum::Add, vl, wl.row(0).transpose().as_mat(), -1.0, Par::Seq);
            matmul(col.rb_mut(), Accum::Add, wl, vl.row(0).transpose().as_mat(), -1.0, Par::Seq);
        }
        diag[offset + i] = a[(i, i)];
        // The reflector that zeroes a[i + 2.., i].
        let (mut head, tail) = a.rb_mut().col_mut(i).subrows_mut(i + 1, m - i - 1).split_at_row_mut(1);
        let info = make_householder_in_place(&mut head[0], tail);
        subdiag[offset + i] = head[0];
        head[0] = 1.0;
        tau[i] = info.tau;
        let inv_tau = if info.tau.is_finite() { info.tau.recip() } else { 0.0 };
        // w_i = inv_tau (A22 v - W (V^T v) - V (W^T v)), then w_i -= (inv_tau / 2) (w_i . v) v.
        let len = m - i - 1;
        let v = a.rb().col(i).subrows(i + 1, len);
        let a22 = a.rb().submatrix(i + 1, i + 1, len, len);
        let (w_prev, w_rest) = w.rb_mut().split_at_col_mut(i);
        let mut wi = w_rest.col_mut(0).subrows_mut(i + 1, len);
        team.lower_symv(a22, v, wi.rb_mut(), scratch.rb_mut().subrows_mut(0, len));
        if i > 0 {
            let (vp, wp) = (a.rb().submatrix(i + 1, 0, len, i), w_prev.rb().subrows(i + 1, len));
            // Explicitly sequential: faer's operators may fork onto the pool, whose other
            // thread is this panel's spinning helper.
            let (mut vt_v, mut wt_v) = (Mat::<f64>::zeros(i, 1), Mat::<f64>::zeros(i, 1));
            matmul(vt_v.as_mut(), Accum::Replace, vp.transpose(), v.as_mat(), 1.0, Par::Seq);
            matmul(wt_v.as_mut(), Accum::Replace, wp.transpose(), v.as_mat(), 1.0, Par::Seq);
            let mut wi = wi.rb_mut().as_mat_mut();
            matmul(wi.rb_mut(), Accum::Add, wp, vt_v.as_ref(), -1.0, Par::Seq);
            matmul(wi.rb_mut(), Accum::Add, vp, wt_v.as_ref(), -1.0, Par::Seq);
        }
        wi.rb_mut().iter_mut().for_each(|x| *x *= inv_tau);
        let alpha = -0.5 * inv_tau * wi.rb().iter().zip(v.iter()).map(|(p, q)| p * q).sum::<f64>();
        for r in 0..len {
            wi[r] += alpha * v[r];
        }
    }
}

/// faer's block Householder factor for the reflectors in `essentials` ((n-1) x (n-1), unit lower
/// part below the diagonal) with coefficients `tau` (same layout as faer's tridiagonalisation).
fn householder_factor(essentials: MatRef<'_, f64>, tau: &[f64], par: Par) -> Mat<f64> {
    let n = tau.len();
    let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(n + 1, n + 1).min(n.max(1));
    let mut h = Mat::<f64>::zeros(bs, n);
    let mut j = 0;
    while j < n {
        let b = bs.min(n - j);
        let mut hb = h.as_mut().submatrix_mut(0, j, b, b);
        for k in 0..b {
            hb[(k, k)] = tau[j + k];
        }
        upgrade_householder_factor(hb, essentials.submatrix(j, j, n - j, b), b, 1, par);
        j += b;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_symmetric(n: usize, seed: u64) -> Mat<f64> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let x = Mat::<f64>::from_fn(n, n, |_, _| next());
        Mat::from_fn(n, n, |i, j| x[(i, j)] + x[(j, i)])
    }

    /// The eigenvalues of `a` (ascending) by faer's own solver with its default settings, values
    /// only (the QR algorithm on faer's tridiagonalisation): the reference the paths are checked against.
    fn faer_eigenvalues(a: &Mat<f64>) -> Col<f64> {
        let n = a.nrows();
        let mut s = Col::<f64>::zeros(n);
        let mut mem =
            MemBuffer::new(self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::No, Par::Seq, Default::default()));
        self_adjoint_evd(a.as_ref(), s.as_diagonal_mut(), None, Par::Seq, MemStack::new(&mut mem), Default::default())
            .unwrap();
        s
    }

    /// Largest of `||A U - U diag(w)||_max / ||A||_max` and `||U^T U - I||_max`.
    fn eigen_error(a: &Mat<f64>, w: &[f64], u: &Mat<f64>) -> f64 {
        let au = a * u;
        let scale = a.as_ref().norm_max();
        let mut err: f64 = 0.0;
        for j in 0..u.ncols() {
            for i in 0..u.nrows() {
                err = err.max((au[(i, j)] - w[j] * u[(i, j)]).abs() / scale);
            }
        }
        let g = u.transpose() * u;
        for j in 0..u.ncols() {
            for i in 0..u.ncols() {
                err = err.max((g[(i, j)] - if i == j { 1.0 } else { 0.0 }).abs());
            }
        }
        err
    }

    #[test]
    fn blocked_path_matches_faer_and_is_an_eigendecomposition() {
        for (n, k, par) in [(257usize, 257usize, Par::Seq), (300, 7, Par::rayon(2)), (611, 611, Par::rayon(2))] {
            let a = random_symmetric(n, n as u64);
            let (w, u) = symmetric_eigen(a.clone(), k, true, par).unwrap();
            let s = faer_eigenvalues(&a);
            for j in 0..k {
                assert!((w[j] - s[n - 1 - j]).abs() <= 1e-12 * s[n - 1].abs().max(s[0].abs()), "n={n} j={j}");
            }
            assert!(eigen_error(&a, &w, &u) < 1e-13, "n={n}: {}", eigen_error(&a, &w, &u));
        }
    }

    #[test]
    fn already_tridiagonal_and_diagonal_matrices_keep_their_spectrum() {
        // Zero columns below the subdiagonal give identity reflectors (tau = infinity).
        let n = 300;
        let diagonal = Mat::<f64>::from_fn(n, n, |i, j| if i == j { (i % 17) as f64 } else { 0.0 });
        let tri = Mat::<f64>::from_fn(n, n, |i, j| match i.abs_diff(j) {
            0 => 2.0,
            1 => -1.0,
            _ => 0.0,
        });
        for a in [diagonal, tri] {
            let (w, u) = symmetric_eigen(a.clone(), n, false, Par::rayon(2)).unwrap();
            assert!(w.iter().all(|x| x.is_finite()));
            assert!(eigen_error(&a, &w, &u) < 1e-13);
        }
    }

    /// The two-stage path forced at dimension `n` with band `b`.
    fn two_stage_params(b: usize) -> EigenParams {
        EigenParams { blocked_min_dim: 0, two_stage_min_dim: 0, band: b }
    }

    /// Checks `symmetric_eigen_with` against faer's solver: eigenvalues to 1e-12 ||A||, then
    /// residuals and orthogonality.
    fn check_against_faer(a: &Mat<f64>, k: usize, largest: bool, params: EigenParams, par: Par) {
        let n = a.nrows();
        let (w, u) = symmetric_eigen_with(a.clone(), k, largest, par, params).unwrap();
        assert_eq!((w.len(), u.nrows(), u.ncols()), (k, n, k));
        let s = faer_eigenvalues(a);
        let scale = a.as_ref().norm_max().max(f64::MIN_POSITIVE);
        for j in 0..k {
            let expected = if largest { s[n - 1 - j] } else { s[j] };
            assert!((w[j] - expected).abs() <= 1e-12 * scale, "n={n} k={k} j={j}: {} vs {expected}", w[j]);
        }
        let err = eigen_error(a, &w, &u);
        assert!(err <= 1e-12, "n={n} k={k} largest={largest} {params:?}: {err}");
    }

    /// `Q diag(spectrum) Q^T` with `Q` the orthogonal factor of a random matrix.
    fn with_spectrum(spectrum: &[f64], seed: u64) -> Mat<f64> {
        let n = spectrum.len();
        let q = random_symmetric(n, seed).qr().compute_Q();
        let qs = Mat::from_fn(n, n, |i, j| q[(i, j)] * spectrum[j]);
        let a = &qs * q.transpose();
        Mat::from_fn(n, n, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]))
    }

    #[test]
    fn two_stage_matches_faer_for_small_sizes_and_any_band() {
        // Tiny n (1, 2, b, b + 1), n not a multiple of b, k = 1 and k = n, both ends.
        let cases = [
            (1usize, 4usize, 1usize, true),
            (2, 4, 2, false),
            (3, 4, 1, true),
            (4, 4, 4, true),
            (5, 4, 5, false),
            (9, 1, 9, true),
            (37, 8, 37, true),
            (64, 8, 1, false),
            (100, 16, 1, true),
            (131, 16, 131, false),
            (257, 48, 257, true),
            (300, 32, 300, false),
            (300, 64, 7, true),
        ];
        for (n, b, k, largest) in cases {
            let a = random_symmetric(n, 1000 + n as u64);
            check_against_faer(&a, k, largest, two_stage_params(b), Par::rayon(2));
        }
        check_against_faer(&random_symmetric(200, 5), 200, true, two_stage_params(24), Par::Seq);
    }

    #[test]
    fn two_stage_recovers_prescribed_clustered_and_repeated_spectra() {
        let n = 300;
        // A tenfold eigenvalue, a tight cluster, and a spread of well separated ones.
        let spectrum: Vec<f64> = (0..n)
            .map(|i| match i {
                0..=9 => 1.0,
                10..=29 => 2.0 + 1e-10 * i as f64,
                _ => -3.0 + 0.02 * i as f64,
            })
            .collect();
        let a = with_spectrum(&spectrum, 42);
        let (w, u) = symmetric_eigen_with(a.clone(), n, false, Par::rayon(2), two_stage_params(32)).unwrap();
        let mut sorted = spectrum.clone();
        sorted.sort_by(f64::total_cmp);
        for (x, y) in w.iter().zip(&sorted) {
            assert!((x - y).abs() <= 1e-12 * 3.0, "{x} vs {y}");
        }
        assert!(eigen_error(&a, &w, &u) <= 1e-12);
        check_against_faer(&a, 25, true, two_stage_params(16), Par::rayon(2));
    }

    #[test]
    fn two_stage_handles_structured_input() {
        let n = 150;
        let diagonal = Mat::<f64>::from_fn(n, n, |i, j| if i == j { (i % 17) as f64 } else { 0.0 });
        let tri = Mat::<f64>::from_fn(n, n, |i, j| match i.abs_diff(j) {
            0 => 2.0,
            1 => -1.0,
            _ => 0.0,
        });
        // Already banded (half-bandwidth 5 < b) and exactly of the band's width.
        let r = random_symmetric(n, 9);
        let banded = |w: usize| Mat::<f64>::from_fn(n, n, |i, j| if i.abs_diff(j) <= w { r[(i, j)] } else { 0.0 });
        let zero = Mat::<f64>::zeros(n, n);
        for a in [diagonal, tri, banded(5), banded(16), zero] {
            check_against_faer(&a, n, true, two_stage_params(16), Par::rayon(2));
            check_against_faer(&a, 3, false, two_stage_params(16), Par::Seq);
        }
    }

    #[test]
    fn unblocked_path_divides_and_conquers_down_to_small_subproblems() {
        // Below the blocked path's crossover, the eigenvectors come from divide and conquer with
        // subproblems of DIVIDE_AND_CONQUER_MIN_DIM: sizes on both sides of it and of its powers
        // of two, and spectra whose deflation (repeated and clustered eigenvalues) it must handle.
        let p = EigenParams::default();
        for n in [1usize, 2, 31, 32, 33, 64, 65, 100, 128, 200, 255] {
            check_against_faer(&random_symmetric(n, 3 * n as u64), n, n % 2 == 0, p, Par::Seq);
        }
        let n = 128;
        let spectrum: Vec<f64> = (0..n)
            .map(|i| match i {
                0..=39 => 1.0,
                40..=59 => -2.0 + 1e-12 * i as f64,
                _ => 0.05 * i as f64,
            })
            .collect();
        let a = with_spectrum(&spectrum, 11);
        let (w, u) = symmetric_eigen_with(a.clone(), n, false, Par::Seq, p).unwrap();
        let mut sorted = spectrum.clone();
        sorted.sort_by(f64::total_cmp);
        for (x, y) in w.iter().zip(&sorted) {
            assert!((x - y).abs() <= 1e-12 * 6.4, "{x} vs {y}");
        }
        assert!(eigen_error(&a, &w, &u) <= 1e-13, "{}", eigen_error(&a, &w, &u));
    }

    #[test]
    fn default_dispatch_takes_each_path() {
        // One-stage below the crossover, two-stage above it, both within tolerance.
        let p = EigenParams::default();
        for (n, params) in [(300usize, p), (300, EigenParams { two_stage_min_dim: 300, ..p })] {
            check_against_faer(&random_symmetric(n, 77), 10, true, params, Par::rayon(2));
        }
    }
}
