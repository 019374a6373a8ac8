//! The iterative method: thick-restarted block Lanczos on a symmetric operator.
//!
//! The operator is never formed: blocks of vectors are multiplied by it (for the Cholesky-reduced
//! operator of [`super::reduced`], two triangular solves and products with `A`, all level 3), which
//! runs at matrix-product speed where a one-vector Lanczos would be bound by memory bandwidth.
//! Rayleigh-Ritz on the projected operator gives the Ritz pairs; convergence is judged by the
//! residual in the caller's problem ([`KrylovOperator::relative_residuals`]).

use faer::linalg::matmul::matmul;
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::TUNING;
use crate::interrupt::checkpoint;
use crate::symmetric_eigen::symmetric_eigen;

/// A symmetric operator whose largest eigenpairs [`BlockKrylov`] finds, and how the residual of a
/// Ritz pair maps back to the problem the caller posed (which decides convergence).
pub(crate) trait KrylovOperator: Sync {
    /// The dimension d of the operator's space.
    fn dim(&self) -> usize;

    /// `out = Op x` for a block `x` (d x p).
    fn apply(&self, x: MatRef<'_, f64>, out: MatMut<'_, f64>, par: Par);

    /// The relative residuals, in the caller's problem, of the Ritz pairs `(theta_j, y_j)`
    /// (columns of `y`, d x k) whose reduced residuals `Op y_j - theta_j y_j` are the columns of `r`.
    fn relative_residuals(&self, theta: &[f64], y: MatRef<'_, f64>, r: MatRef<'_, f64>, par: Par) -> Vec<f64>;
}

/// `out = op(x)` with the columns of `x` split into one group per thread, each applied with
/// sequential kernels: narrow triangular solves and products parallelise poorly inside faer, and
/// the groups need no synchronisation. Groups are multiples of 12 columns (the gemm micro-kernel).
pub(crate) fn apply_in_groups(
    x: MatRef<'_, f64>,
    out: MatMut<'_, f64>,
    par: Par,
    op: impl Fn(MatRef<'_, f64>, MatMut<'_, f64>, Par) + Sync,
) {
    let groups = par.degree().min(x.ncols() / 12).max(1);
    if groups == 1 {
        return op(x, out, par);
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
    parts.into_par_iter().for_each(|(start, width, part)| op(x.subcols(start, width), part, Par::Seq));
}

/// Vectors per block for k wanted pairs: a few more than k, so that the convergence of the k-th
/// pair is governed by the gap to the (p+1)-th eigenvalue rather than to the (k+1)-th, rounded
/// up to a multiple of 12, the row count of the f64 gemm micro-kernel (the transposed products
/// of the operators have p rows: a ragged remainder would cost as much as 12).
pub(crate) fn block_size(k: usize) -> usize {
    (k + (k / 8).max(4)).next_multiple_of(12)
}

/// Thick-restarted block Lanczos with full reorthogonalisation, for the largest eigenvalues of a
/// symmetric operator. State persists between [`BlockKrylov::run`] calls so a tighter tolerance
/// continues where the previous run stopped.
pub(crate) struct BlockKrylov<'a> {
    op: &'a dyn KrylovOperator,
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
    pub(crate) applied: usize,
    budget: usize,
    /// The basis could not be extended (the operator's range is exhausted): the caller falls back.
    stalled: bool,
    par: Par,
}

impl<'a> BlockKrylov<'a> {
    pub(crate) fn new(op: &'a dyn KrylovOperator, k: usize, par: Par) -> Self {
        let d = op.dim();
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
            applied: 0,
            stalled: false,
            // About the flops of the dense method: d / 2 operator columns at 4 d^2 flops each.
            budget: (d / 2).max(4 * p),
            par,
        };
        let mut rng = SplitMix64(0x5eed_1155);
        let start = Mat::from_fn(d, p, |_, _| rng.uniform());
        state.append(start); // a random start spans d >= 3 p directions: it cannot stall
        state
    }

    /// Iterate until the k wanted Ritz pairs have a relative residual in the original problem
    /// of at most `tol` (true), or the budget is spent (false).
    pub(crate) fn run(&mut self, tol: f64) -> bool {
        loop {
            checkpoint();
            if self.stalled || !self.rayleigh_ritz() {
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
            if !self.append(next.as_ref().subcols(0, take).to_owned()) {
                return false;
            }
        }
    }

    /// Orthonormalise `block` against the basis and itself, append it and its image, and extend
    /// the projected operator by the new block's row and column; false (and `stalled`) when no
    /// new direction could be found.
    fn append(&mut self, mut block: Mat<f64>) -> bool {
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
                if tries >= 8 {
                    self.stalled = true;
                    return false;
                }
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
        true
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

    /// Whether every wanted pair meets `tol` in the caller's problem. The reduced residuals
    /// `r = Op y - theta y` are cheap; their map to the caller's problem
    /// ([`KrylovOperator::relative_residuals`]) is evaluated once they are small enough to make
    /// convergence plausible.
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
        let (theta, y) = self.ritz_pairs();
        self.op.relative_residuals(&theta, y.as_ref(), r.as_ref(), self.par).iter().all(|&res| res <= tol)
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
    pub(crate) fn ritz_pairs(&self) -> (Vec<f64>, Mat<f64>) {
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
