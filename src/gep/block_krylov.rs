//! The iterative method: thick-restarted block Lanczos on the Cholesky-reduced operator.
//!
//! `M = L^{-1} A L^{-T}` is never formed: blocks of vectors are multiplied by it (two triangular
//! solves and one product with `A`, all level 3), which runs at matrix-product speed where a
//! one-vector Lanczos would be bound by memory bandwidth. Rayleigh-Ritz on the projected operator
//! gives the Ritz pairs; convergence is judged by the residual in the original problem.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::TUNING;
use crate::symmetric_eigen::symmetric_eigen;

/// `X -> alpha * L^{-1} A L^{-T} X`, the Cholesky-reduced operator, applied to blocks
/// (`alpha` carries the sign, negative for the smallest eigenvalues, and the scaling of `A`).
pub(super) struct ReducedOperator<'a> {
    pub(super) a: MatRef<'a, f64>,
    pub(super) l: MatRef<'a, f64>,
    pub(super) alpha: f64,
}

impl ReducedOperator<'_> {
    /// `out = alpha * L^{-1} A L^{-T} x` for a block `x` (d x p).
    ///
    /// The block is processed transposed (p x d, column-major): with few columns, faer's gemm and
    /// triangular solves run faster in that orientation, because the large
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
pub(super) fn block_size(k: usize) -> usize {
    (k + (k / 8).max(4)).next_multiple_of(12)
}

/// Thick-restarted block Lanczos with full reorthogonalisation, for the largest eigenvalues of a
/// symmetric operator. State persists between [`BlockKrylov::run`] calls so a tighter tolerance
/// continues where the previous run stopped.
pub(super) struct BlockKrylov<'a> {
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
    pub(super) applied: usize,
    budget: usize,
    par: Par,
}

impl<'a> BlockKrylov<'a> {
    pub(super) fn new(op: &'a ReducedOperator<'a>, k: usize, norm_a: f64, norm_b: f64, par: Par) -> Self {
        let d = op.a.nrows();
        let p = block_size(k);
        let max_basis = (TUNING.krylov_max_blocks * p).min(d - 1);
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
    pub(super) fn run(&mut self, tol: f64) -> bool {
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
    pub(super) fn ritz_pairs(&self) -> (Vec<f64>, Mat<f64>) {
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
pub(crate) fn project_out(q: MatRef<'_, f64>, x: MatMut<'_, f64>, par: Par) {
    if q.ncols() == 0 {
        return;
    }
    let mut coef = Mat::<f64>::zeros(q.ncols(), x.ncols());
    matmul(coef.as_mut(), Accum::Replace, q.transpose(), x.rb(), 1.0, par);
    matmul(x, Accum::Add, q, coef.as_ref(), -1.0, par);
}

/// Small deterministic generator for starting blocks (reproducible results, no dependency).
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    /// Uniform on [-1, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}
