//! The one place that finds NaN and infinities.
//!
//! Every entry point refuses them with [`Error::NonFinite`], which names the first one in
//! row-major order with its row and column (counted over the whole stream of chunks, or within
//! the matrix). Finite data, the common case, pay one vectorisable pass of column sums: the search
//! entry by entry runs only once a sum has turned out not to be finite.

use faer::{MatRef, Par};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Element types read by linssl's kernels (widened to `f64` for sums and messages).
pub trait Real: Copy + Send + Sync + Into<f64> {}
impl Real for f32 {}
impl Real for f64 {}

/// Fewest rows per thread for which splitting the column sums across threads pays off.
const MIN_ROWS_PER_TASK: usize = 1_024;

/// [`Error::NonFinite`] for the first NaN or infinity of `x` (row-major order), if there is one.
///
/// `what` names `x` in the message; rows and columns are counted from `first_row` and `first_col`.
pub fn require_finite<T: Real>(x: MatRef<'_, T>, what: &str, first_row: u64, first_col: u64, par: Par) -> Result<()> {
    if column_sums(x, par).iter().all(|s| s.is_finite()) {
        return Ok(());
    }
    report_first(x, what, first_row, first_col)
}

/// [`require_finite`] once a cheaper test (e.g. sums computed along with other work) has found a
/// non-finite value in `x`, or may have: searches entry by entry.
pub fn report_first<T: Real>(x: MatRef<'_, T>, what: &str, first_row: u64, first_col: u64) -> Result<()> {
    match first_non_finite(x) {
        Some((i, j, value)) => Err(Error::NonFinite {
            what: what.to_string(),
            row: first_row + i as u64,
            col: first_col + j as u64,
            value,
        }),
        None => Ok(()),
    }
}

/// Row, column and value of the first NaN or infinity of `x` in row-major order.
pub fn first_non_finite<T: Real>(x: MatRef<'_, T>) -> Option<(usize, usize, f64)> {
    (0..x.nrows()).find_map(|i| {
        (0..x.ncols()).find_map(|j| {
            let value: f64 = x[(i, j)].into();
            (!value.is_finite()).then_some((i, j, value))
        })
    })
}

/// Column sums of `x` in `f64`, one range of rows per thread when there are enough rows.
pub fn column_sums<T: Real>(x: MatRef<'_, T>, par: Par) -> Vec<f64> {
    column_sums_of(x, par, |v| v)
}

/// Column sums of `f(x_ij)` in `f64` (e.g. squares), one range of rows per thread when there
/// are enough rows, each read in the storage order of `x`.
pub fn column_sums_of<T: Real>(x: MatRef<'_, T>, par: Par, f: impl Fn(f64) -> f64 + Sync + Copy) -> Vec<f64> {
    let (m, d) = (x.nrows(), x.ncols());
    let tasks = (m / MIN_ROWS_PER_TASK).min(par.degree()).max(1);
    if tasks == 1 {
        return column_sums_seq(x, f);
    }
    let bounds: Vec<usize> = (0..=tasks).map(|t| t * m / tasks).collect();
    let partials: Vec<Vec<f64>> = (0..tasks)
        .into_par_iter()
        .map(|t| column_sums_seq(x.subrows(bounds[t], bounds[t + 1] - bounds[t]), f))
        .collect();
    (0..d).map(|j| partials.iter().map(|p| p[j]).sum()).collect()
}

/// Column sums of `f(x)` in `f64` on the calling thread, reading `x` in its storage order.
fn column_sums_seq<T: Real>(x: MatRef<'_, T>, f: impl Fn(f64) -> f64 + Copy) -> Vec<f64> {
    let (m, d) = (x.nrows(), x.ncols());
    let mut sums = vec![0.0f64; d];
    if x.row_stride() == 1 {
        for (j, s) in sums.iter_mut().enumerate() {
            *s = slice_sum_of(x.col(j).try_as_col_major().expect("unit row stride").as_slice(), f);
        }
    } else if x.col_stride() == 1 {
        // Rows are added into a partial of SUM_BLOCK rows, then into the total: the rounding
        // error grows with SUM_BLOCK + m / SUM_BLOCK terms instead of m (pairwise in spirit).
        const SUM_BLOCK: usize = 256;
        let mut partial = vec![0.0f64; d];
        for start in (0..m).step_by(SUM_BLOCK) {
            partial.iter_mut().for_each(|p| *p = 0.0);
            for i in start..(start + SUM_BLOCK).min(m) {
                let row = x.row(i).try_as_row_major().expect("unit column stride").as_slice();
                for (p, &v) in partial.iter_mut().zip(row) {
                    *p += f(v.into());
                }
            }
            for (s, p) in sums.iter_mut().zip(&partial) {
                *s += p;
            }
        }
    } else {
        for (j, s) in sums.iter_mut().enumerate() {
            *s = x.col(j).iter().map(|&v| f(v.into())).sum();
        }
    }
    sums
}

/// Sum of a contiguous slice in `f64` with eight independent partial sums (vectorisable, and
/// not bound by the latency of one dependent chain of additions).
pub fn slice_sum<T: Copy + Into<f64>>(values: &[T]) -> f64 {
    slice_sum_of(values, |v| v)
}

/// [`slice_sum`] of `f(values)`.
fn slice_sum_of<T: Copy + Into<f64>>(values: &[T], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = values.chunks_exact(8);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v.into());
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&v| f(v.into())).sum();
    acc.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn the_first_non_finite_value_in_row_major_order_is_reported() {
        let mut x = Mat::<f64>::zeros(5, 4);
        x[(3, 1)] = f64::NAN;
        x[(2, 3)] = f64::INFINITY; // earlier in row-major order, later in column-major order
        match require_finite(x.as_ref(), "X", 10, 0, Par::Seq) {
            Err(Error::NonFinite { what, row, col, value }) => {
                assert_eq!((what.as_str(), row, col), ("X", 12, 3));
                assert!(value.is_infinite());
            }
            other => panic!("{other:?}"),
        }
        // Row-major storage and threads find the same entry.
        let rows = Mat::<f64>::from_fn(4000, 4, |i, j| if (i, j) == (3000, 2) { f64::NAN } else { 1.0 });
        let view = rows.as_ref().transpose().to_owned();
        let err = require_finite(view.as_ref().transpose(), "y", 0, 5, Par::rayon(2)).unwrap_err();
        assert!(matches!(err, Error::NonFinite { row: 3000, col: 7, .. }), "{err:?}");
    }

    #[test]
    fn finite_data_pass_and_sums_are_exact_on_integers() {
        let x = Mat::<f32>::from_fn(3000, 3, |i, j| (i + j) as f32);
        assert!(require_finite(x.as_ref(), "X", 0, 0, Par::rayon(2)).is_ok());
        let sums = column_sums(x.as_ref(), Par::rayon(2));
        assert_eq!(sums[1], (0..3000).map(|i| (i + 1) as f64).sum::<f64>());
    }
}
