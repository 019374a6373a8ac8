//! `C += alpha B^T B`, lower triangle only, on several threads without a partial result per thread.
//!
//! faer's parallel triangular product scales poorly from one thread to two on a large output,
//! and splitting the *rows* of `B` between threads (each summing into a d x d partial of its own)
//! doubles the traffic of the output and its memory. Splitting the *columns of the output* instead
//! gives every thread a disjoint part of `C` of equal work, computed with sequential kernels from
//! the shared, read-only `B`: no partial, no synchronisation until the end, and each thread streams
//! only its own part of `C`.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Column boundaries `0 = c_0 < ... < c_parts = d` splitting the lower triangle of a d x d matrix
/// into `parts` column ranges of equal area (work), rounded to multiples of 8 (the SIMD width).
pub(crate) fn equal_work_columns(d: usize, parts: usize) -> Vec<usize> {
    let total = (d * d) as f64 / 2.0;
    let mut bounds: Vec<usize> = (0..=parts)
        .map(|t| {
            // Columns 0..c hold c d - c^2 / 2 entries: solve for the t-th share of the total.
            let area = total * t as f64 / parts as f64;
            let c = d as f64 - ((d * d) as f64 - 2.0 * area).max(0.0).sqrt();
            (c.round() as usize / 8 * 8).min(d)
        })
        .collect();
    bounds[parts] = d;
    bounds.dedup();
    bounds
}

/// `dst += alpha b^T b` (or `=` with `Accum::Replace`) on the lower triangle of `dst` (d x d), `b`
/// m x d, split across `threads` threads by columns of `dst` (see the module notes).
pub(crate) fn lower_product<T: ComplexField + Copy + Send + Sync>(
    dst: MatMut<'_, T>,
    b: MatRef<'_, T>,
    accum: Accum,
    alpha: T,
    threads: usize,
) {
    let d = dst.ncols();
    let bounds = equal_work_columns(d, threads.max(1));
    let mut parts = Vec::with_capacity(bounds.len() - 1);
    let mut rest = dst;
    for w in bounds.windows(2) {
        let (head, tail) = rest.split_at_col_mut(w[1] - w[0]);
        parts.push((w[0], w[1], head));
        rest = tail;
    }
    let one_part = |(lo, hi, part): (usize, usize, MatMut<'_, T>)| {
        // Rows lo.. of columns lo..hi: a triangle on the diagonal, a rectangle below it.
        let (_, lower) = part.split_at_row_mut(lo);
        let (diag, below) = lower.split_at_row_mut(hi - lo);
        let (bl, br) = (b.subcols(lo, hi - lo), b.subcols(hi, d - hi));
        tri_matmul(
            diag,
            BlockStructure::TriangularLower,
            accum,
            bl.transpose(),
            BlockStructure::Rectangular,
            bl,
            BlockStructure::Rectangular,
            alpha,
            Par::Seq,
        );
        if hi < d {
            matmul(below, accum, br.transpose(), bl, alpha, Par::Seq);
        }
    };
    if parts.len() == 1 {
        parts.into_iter().for_each(one_part);
    } else {
        parts.into_par_iter().for_each(one_part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn every_split_gives_the_triangle_of_b_transpose_b() {
        for (m, d, threads) in [(7, 1, 2), (50, 9, 2), (300, 129, 3), (64, 200, 2), (10, 40, 1)] {
            let b = Mat::<f64>::from_fn(m, d, |i, j| ((i * 37 + j * 11) % 23) as f64 - 11.0);
            let mut got = Mat::<f64>::from_fn(d, d, |i, j| (i + j) as f64);
            lower_product(got.as_mut(), b.as_ref(), Accum::Add, 2.0, threads);
            for j in 0..d {
                for i in j..d {
                    let want = (i + j) as f64 + 2.0 * (0..m).map(|r| b[(r, i)] * b[(r, j)]).sum::<f64>();
                    assert_eq!(got[(i, j)], want, "m={m} d={d} ({i}, {j})");
                }
            }
        }
    }

    #[test]
    fn the_column_ranges_split_the_work_evenly() {
        let bounds = equal_work_columns(8192, 2);
        assert_eq!((bounds[0], bounds[2]), (0, 8192));
        let area = |a: usize, b: usize| (a..b).map(|c| 8192 - c).sum::<usize>() as f64;
        let ratio = area(0, bounds[1]) / area(bounds[1], 8192);
        assert!((ratio - 1.0).abs() < 0.01, "{ratio}");
        assert_eq!(equal_work_columns(3, 4).last(), Some(&3));
    }
}
