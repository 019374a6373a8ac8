//! The Cholesky-reduced operator `M = L^{-1} A L^{-T}` of a generalized problem `(A, B)`, applied to
//! blocks of vectors without forming `M`, for [`super::block_krylov`].
//!
//! `A` is either a dense symmetric matrix or a Gram matrix `A = C^T C` given by `C` (the
//! reconstruction problem): then `A` is never formed either, which saves the d^3 flops of `C^T C`
//! when only a few pairs are wanted.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::block_krylov::{apply_in_groups, KrylovOperator};

/// The left-hand matrix of a generalized problem.
#[derive(Clone, Copy, Debug)]
pub enum LeftMatrix<'a> {
    /// A dense symmetric `A` (d x d).
    Dense(MatRef<'a, f64>),
    /// `A = C^T C`, given by `C` (p x d).
    Gram(MatRef<'a, f64>),
}

impl LeftMatrix<'_> {
    pub fn dim(&self) -> usize {
        match self {
            LeftMatrix::Dense(a) => a.nrows(),
            LeftMatrix::Gram(c) => c.ncols(),
        }
    }

    /// `out = alpha * x^T A` for `x^T` given as `xt` (p x d, row vectors): `A` is symmetric.
    pub fn left_times(&self, xt: MatRef<'_, f64>, out: MatMut<'_, f64>, alpha: f64, par: Par) {
        match self {
            LeftMatrix::Dense(a) => matmul(out, Accum::Replace, xt, *a, alpha, par),
            LeftMatrix::Gram(c) => {
                let mut xc = Mat::<f64>::zeros(xt.nrows(), c.nrows());
                matmul(xc.as_mut(), Accum::Replace, xt, c.transpose(), 1.0, par);
                matmul(out, Accum::Replace, xc.as_ref(), *c, alpha, par);
            }
        }
    }

    /// `A v` for a block `v` (d x k).
    pub fn times(&self, v: MatRef<'_, f64>, par: Par) -> Mat<f64> {
        let mut out = Mat::<f64>::zeros(v.ncols(), self.dim());
        self.left_times(v.transpose(), out.as_mut(), 1.0, par);
        out.transpose().to_owned()
    }
}

/// `X -> alpha * L^{-1} A L^{-T} X`, the Cholesky-reduced operator, applied to blocks (`alpha`
/// carries the sign, negative for the smallest eigenvalues, and the scaling of `A`), with the
/// Frobenius norms of the scaled `A` and `B` for residuals in the original problem.
pub(crate) struct ReducedOperator<'a> {
    pub a: LeftMatrix<'a>,
    pub l: MatRef<'a, f64>,
    pub alpha: f64,
    pub norm_a: f64,
    pub norm_b: f64,
}

impl ReducedOperator<'_> {
    /// One group of columns. The block is processed transposed (p x d, column-major): with few
    /// columns, faer's gemm and triangular solves run faster in that orientation, because the
    /// large d x d operand is then streamed in place instead of being repacked on every call.
    fn apply_group(&self, x: MatRef<'_, f64>, mut out: MatMut<'_, f64>, par: Par) {
        let mut t = x.transpose().to_owned();
        solve_upper_triangular_in_place(self.l.transpose(), t.as_mut().transpose_mut(), par);
        let mut y = Mat::<f64>::zeros(x.ncols(), x.nrows());
        self.a.left_times(t.as_ref(), y.as_mut(), self.alpha, par);
        solve_lower_triangular_in_place(self.l, y.as_mut().transpose_mut(), par);
        out.copy_from(y.transpose());
    }
}

impl KrylovOperator for ReducedOperator<'_> {
    fn dim(&self) -> usize {
        self.l.nrows()
    }

    fn apply(&self, x: MatRef<'_, f64>, out: MatMut<'_, f64>, par: Par) {
        apply_in_groups(x, out, par, |x, out, par| self.apply_group(x, out, par));
    }

    /// The reduced residual maps to the original one exactly: `A v - w B v = L r` with
    /// `v = L^{-T} y` (in the scaled problem), so the relative residual
    /// `||L r|| / ((||A|| + |w| ||B||) ||v||)` costs two triangular products, no product with `A`
    /// or `B`.
    fn relative_residuals(&self, theta: &[f64], y: MatRef<'_, f64>, r: MatRef<'_, f64>, par: Par) -> Vec<f64> {
        let mut v = y.to_owned();
        solve_upper_triangular_in_place(self.l.transpose(), v.as_mut(), par);
        let mut lr = Mat::<f64>::zeros(r.nrows(), r.ncols());
        tri_matmul(
            lr.as_mut(),
            BlockStructure::Rectangular,
            Accum::Replace,
            self.l,
            BlockStructure::TriangularLower,
            r,
            BlockStructure::Rectangular,
            1.0,
            par,
        );
        (0..theta.len())
            .map(|j| lr.col(j).norm_l2() / ((self.norm_a + theta[j].abs() * self.norm_b) * v.col(j).norm_l2()))
            .collect()
    }
}
