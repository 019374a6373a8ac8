//! The dense method: every eigenpair of the Cholesky-reduced standard problem.
//!
//! `M = L^{-1} A L^{-T}` is formed by a blocked symmetric reduction (LAPACK `dsygst`'s
//! algorithm, d^3 flops), solved by [`crate::symmetric_eigen`], and the k wanted eigenvectors are
//! back-transformed by `v = L^{-T} y`.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::linalg::triangular_solve::{solve_lower_triangular_in_place, solve_upper_triangular_in_place};
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatRef, Par};

use super::{GepSolution, Solver, TUNING};
use crate::error::{Error, Result};
use crate::interrupt::checkpoint;
use crate::symmetric_eigen::symmetric_eigen;

/// Cholesky-reduced dense solve: all eigenpairs of `L^{-1} (alpha A) L^{-T}`, k of them
/// back-transformed.
pub(super) fn dense(
    a: MatRef<'_, f64>,
    alpha: f64,
    l: MatRef<'_, f64>,
    k: usize,
    largest: bool,
    par: Par,
) -> Result<GepSolution> {
    let m = reduce(a, alpha, l, par);
    let (wv, mut v) = symmetric_eigen(m, k, largest, par).map_err(|_| {
        Error::Numerical(
            "the symmetric eigensolver did not converge on the Cholesky-reduced problem; \
             check the scaling of A and B, or pass ridge to improve the conditioning of B"
                .into(),
        )
    })?;
    solve_upper_triangular_in_place(l.transpose(), v.as_mut(), par);
    Ok(GepSolution { w: wv, v, solver: Solver::Dense, max_residual: None, operator_applications: 0 })
}

/// Columns per block of [`reduce`]: wide enough for efficient level-3 updates, narrow enough
/// that the small diagonal-block solves stay cheap (see [`super::GepTuning`]).
fn reduce_block(d: usize) -> usize {
    if d >= TUNING.wide_reduce_min_dim {
        TUNING.reduce_block_wide
    } else {
        TUNING.reduce_block
    }
}

/// `L^{-1} (alpha A) L^{-T}` (lower triangle; the strict upper part is garbage) for symmetric `A`.
///
/// Blocked like LAPACK's `dsygst`: d^3 flops, where two full triangular solves would take 2 d^3,
/// because the symmetry of the result is used (symmetric rank-2k updates of the trailing part).
pub(super) fn reduce(a: MatRef<'_, f64>, alpha: f64, l: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let n = a.nrows();
    let mut m = Mat::from_fn(n, n, |i, j| alpha * a[(i, j)]);
    let mut start = 0;
    while start < n {
        checkpoint();
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
