//! Streaming accumulation of the data moments `n`, `sum_i x_i`, `X^T X` and `X^T Y`.
//!
//! This is the only O(n d^2) step of linssl: everything downstream works on d x d matrices.
//! Chunks of any size are folded into an accumulator whose memory is O(d^2 + d l) whatever n is,
//! and two accumulators merge exactly (up to rounding), so work can be split across threads,
//! processes or machines.
//!
//! Only the lower triangle of `X^T X` is computed (n d^2 flops instead of 2 n d^2); the upper
//! triangle is mirrored when the result is read. `f32` chunks are multiplied in `f32` (twice the
//! SIMD width) and the per-chunk products are added to `f64` accumulators.

use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use crate::error::{Error, Result};

/// Rows per internal block for `f32` input: bounds the number of terms summed in `f32`
/// before they reach the `f64` accumulator (relative error ~ 1e-6, see the tests).
const F32_BLOCK_ROWS: usize = 16_384;

/// Rows per copied block for views that have no unit stride.
const COPY_BLOCK_ROWS: usize = 4_096;

/// Moment accumulator for data `X` (n x d) and optional targets `Y` (n x l).
#[derive(Clone, Debug)]
pub struct Moments {
    d: usize,
    l: usize,
    n: u64,
    sum_x: Vec<f64>,
    sum_y: Vec<f64>,
    /// Lower triangle of `X^T X` (the strict upper part stays zero until `xtx()` mirrors it).
    xtx_lower: Mat<f64>,
    xty: Mat<f64>,
    /// `Y^T Y` (l x l, small: computed in full).
    yty: Mat<f64>,
}

/// Element types accepted by [`Moments::update`].
pub trait Element: faer::traits::RealField + Copy + Into<f64> {
    /// `Some(view)` when the element type already is `f64` (products go straight into the state).
    fn as_f64(x: MatRef<'_, Self>) -> Option<MatRef<'_, f64>>;
}
impl Element for f32 {
    fn as_f64(_: MatRef<'_, f32>) -> Option<MatRef<'_, f64>> {
        None
    }
}
impl Element for f64 {
    fn as_f64(x: MatRef<'_, f64>) -> Option<MatRef<'_, f64>> {
        Some(x)
    }
}

impl Moments {
    /// An empty accumulator for `d` features and `l` targets.
    pub fn new(d: usize, l: usize) -> Self {
        Moments {
            d,
            l,
            n: 0,
            sum_x: vec![0.0; d],
            sum_y: vec![0.0; l],
            xtx_lower: Mat::zeros(d, d),
            xty: Mat::zeros(d, l),
            yty: Mat::zeros(l, l),
        }
    }

    pub fn d(&self) -> usize {
        self.d
    }
    pub fn l(&self) -> usize {
        self.l
    }
    /// Number of rows seen so far.
    pub fn n(&self) -> u64 {
        self.n
    }
    /// `sum_i x_i`, length d.
    pub fn sum_x(&self) -> &[f64] {
        &self.sum_x
    }
    /// `sum_i y_i`, length l.
    pub fn sum_y(&self) -> &[f64] {
        &self.sum_y
    }

    /// `X^T X` (d x d, symmetric).
    pub fn xtx(&self) -> Mat<f64> {
        let mut full = self.xtx_lower.clone();
        for j in 0..self.d {
            for i in 0..j {
                full[(i, j)] = full[(j, i)];
            }
        }
        full
    }

    /// `X^T Y` (d x l).
    pub fn xty(&self) -> MatRef<'_, f64> {
        self.xty.as_ref()
    }

    /// `Y^T Y` (l x l).
    pub fn yty(&self) -> MatRef<'_, f64> {
        self.yty.as_ref()
    }

    /// Fold a chunk `x` (m x d) and, when the accumulator has targets, `y` (m x l) into the moments.
    ///
    /// `x` and `y` may have any strides; unit-stride layouts (C or Fortran order) are read in
    /// place. `par` is faer's parallelism for the products.
    pub fn update<T: Element>(&mut self, x: MatRef<'_, T>, y: Option<MatRef<'_, T>>, par: Par) -> Result<()> {
        let m = x.nrows();
        if x.ncols() != self.d {
            return Err(Error::Shape(format!(
                "chunk has {} columns but the accumulator was created for d = {}",
                x.ncols(),
                self.d
            )));
        }
        match (y, self.l) {
            (None, 0) => {}
            (None, l) => {
                return Err(Error::Shape(format!("the accumulator expects targets y with {l} columns; none given")))
            }
            (Some(y), l) => {
                if y.ncols() != l || y.nrows() != m {
                    return Err(Error::Shape(format!(
                        "y chunk has shape ({}, {}) but x chunk has {m} rows and the accumulator expects l = {l}",
                        y.nrows(),
                        y.ncols()
                    )));
                }
            }
        }
        // Views with no unit stride (e.g. `X[::2, ::3]`) are copied block by block into
        // contiguous buffers so the products run at full speed with O(block x d) extra memory.
        let strided = |a: MatRef<'_, T>| a.row_stride().abs() != 1 && a.col_stride().abs() != 1;
        let needs_copy = strided(x) || y.is_some_and(strided);
        let block = if std::mem::size_of::<T>() == 4 {
            F32_BLOCK_ROWS
        } else if needs_copy {
            COPY_BLOCK_ROWS
        } else {
            m.max(1)
        };
        let mut start = 0;
        while start < m {
            let rows = block.min(m - start);
            let xb = x.subrows(start, rows);
            let yb = y.map(|y| y.subrows(start, rows));
            if needs_copy {
                let xc = xb.to_owned();
                let yc = yb.map(|y| y.to_owned());
                self.update_block(xc.as_ref(), yc.as_ref().map(|y| y.as_ref()), par);
            } else {
                self.update_block(xb, yb, par);
            }
            start += rows;
        }
        self.n += m as u64;
        Ok(())
    }

    fn update_block<T: Element>(&mut self, x: MatRef<'_, T>, y: Option<MatRef<'_, T>>, par: Par) {
        for j in 0..self.d {
            let col = x.col(j);
            let mut s = 0.0f64;
            for i in 0..x.nrows() {
                s += col[i].into();
            }
            self.sum_x[j] += s;
        }
        if let Some(y) = y {
            for j in 0..self.l {
                let col = y.col(j);
                let mut s = 0.0f64;
                for i in 0..y.nrows() {
                    s += col[i].into();
                }
                self.sum_y[j] += s;
            }
        }
        if let Some(x64) = T::as_f64(x) {
            // Accumulate directly into the f64 state.
            tri_matmul(
                self.xtx_lower.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Add,
                x64.transpose(),
                BlockStructure::Rectangular,
                x64,
                BlockStructure::Rectangular,
                1.0,
                par,
            );
            if let Some(y64) = y.and_then(T::as_f64) {
                matmul(self.xty.as_mut(), Accum::Add, x64.transpose(), y64, 1.0, par);
                matmul(self.yty.as_mut(), Accum::Add, y64.transpose(), y64, 1.0, par);
            }
        } else {
            // Multiply in T, then add the block's product to the f64 state.
            let mut block = Mat::<T>::zeros(self.d, self.d);
            tri_matmul(
                block.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Replace,
                x.transpose(),
                BlockStructure::Rectangular,
                x,
                BlockStructure::Rectangular,
                T::one_impl(),
                par,
            );
            for j in 0..self.d {
                for i in j..self.d {
                    self.xtx_lower[(i, j)] += block[(i, j)].into();
                }
            }
            if let Some(y) = y {
                let mut cross = Mat::<T>::zeros(self.d, self.l);
                matmul(cross.as_mut(), Accum::Replace, x.transpose(), y, T::one_impl(), par);
                let mut yy = Mat::<T>::zeros(self.l, self.l);
                matmul(yy.as_mut(), Accum::Replace, y.transpose(), y, T::one_impl(), par);
                for j in 0..self.l {
                    for i in 0..self.d {
                        self.xty[(i, j)] += cross[(i, j)].into();
                    }
                    for i in 0..self.l {
                        self.yty[(i, j)] += yy[(i, j)].into();
                    }
                }
            }
        }
    }

    /// Add another accumulator's moments to this one (exact up to rounding).
    pub fn merge(&mut self, other: &Moments) -> Result<()> {
        if other.d != self.d || other.l != self.l {
            return Err(Error::Shape(format!(
                "cannot merge an accumulator with (d, l) = ({}, {}) into one with ({}, {})",
                other.d, other.l, self.d, self.l
            )));
        }
        self.n += other.n;
        for (a, b) in self.sum_x.iter_mut().zip(&other.sum_x) {
            *a += b;
        }
        for (a, b) in self.sum_y.iter_mut().zip(&other.sum_y) {
            *a += b;
        }
        self.xtx_lower += &other.xtx_lower;
        self.xty += &other.xty;
        self.yty += &other.yty;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random matrix (no RNG dependency needed in the core).
    fn test_matrix(n: usize, d: usize, seed: u64) -> Mat<f64> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        Mat::from_fn(n, d, |_, _| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.3
        })
    }

    fn naive_xtx(x: MatRef<'_, f64>) -> Mat<f64> {
        Mat::from_fn(x.ncols(), x.ncols(), |i, j| (0..x.nrows()).map(|r| x[(r, i)] * x[(r, j)]).sum())
    }

    fn max_rel(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
        let scale = (0..b.ncols()).flat_map(|j| (0..b.nrows()).map(move |i| (i, j))).map(|ij| b[ij].abs()).fold(0.0, f64::max);
        (0..b.ncols())
            .flat_map(|j| (0..b.nrows()).map(move |i| (i, j)))
            .map(|ij| (a[ij] - b[ij]).abs())
            .fold(0.0, f64::max)
            / scale
    }

    #[test]
    fn xtx_matches_naive_and_is_symmetric() {
        let x = test_matrix(300, 17, 1);
        let mut acc = Moments::new(17, 0);
        acc.update(x.as_ref(), None, Par::Seq).unwrap();
        let got = acc.xtx();
        assert!(max_rel(got.as_ref(), naive_xtx(x.as_ref()).as_ref()) < 1e-13);
        assert_eq!(got, got.transpose().to_owned());
        assert_eq!(acc.n(), 300);
    }

    #[test]
    fn split_and_merge_equals_one_pass() {
        let x = test_matrix(1000, 9, 2);
        let y = test_matrix(1000, 3, 3);
        let mut whole = Moments::new(9, 3);
        whole.update(x.as_ref(), Some(y.as_ref()), Par::rayon(0)).unwrap();
        let mut a = Moments::new(9, 3);
        let mut b = Moments::new(9, 3);
        a.update(x.subrows(0, 377), Some(y.subrows(0, 377)), Par::Seq).unwrap();
        b.update(x.subrows(377, 623), Some(y.subrows(377, 623)), Par::Seq).unwrap();
        a.merge(&b).unwrap();
        assert_eq!(a.n(), 1000);
        assert!(max_rel(a.xtx().as_ref(), whole.xtx().as_ref()) < 1e-13);
        assert!(max_rel(a.xty(), whole.xty()) < 1e-13);
        assert!(max_rel(a.yty(), whole.yty()) < 1e-13);
        for (s, t) in a.sum_x().iter().zip(whole.sum_x()) {
            assert!((s - t).abs() < 1e-10);
        }
    }

    #[test]
    fn strided_views_are_copied_correctly() {
        let x = test_matrix(5000, 12, 4);
        // Every other row and every third column of a column-major matrix: no unit stride.
        let view = unsafe { MatRef::from_raw_parts(x.as_ptr(), 2500, 4, 2, 3 * x.col_stride()) };
        let mut acc = Moments::new(4, 0);
        acc.update(view, None, Par::rayon(0)).unwrap();
        assert!(max_rel(acc.xtx().as_ref(), naive_xtx(view).as_ref()) < 1e-13);
    }

    #[test]
    fn f32_input_is_accumulated_in_f64() {
        let x = test_matrix(40_000, 8, 5);
        let x32 = Mat::<f32>::from_fn(40_000, 8, |i, j| x[(i, j)] as f32);
        let x32_as_64 = Mat::<f64>::from_fn(40_000, 8, |i, j| x32[(i, j)] as f64);
        let mut acc = Moments::new(8, 0);
        acc.update(x32.as_ref(), None, Par::Seq).unwrap();
        assert!(max_rel(acc.xtx().as_ref(), naive_xtx(x32_as_64.as_ref()).as_ref()) < 1e-5);
    }

    #[test]
    fn shape_errors_are_reported() {
        let mut acc = Moments::new(3, 1);
        let x = test_matrix(4, 2, 6);
        assert!(matches!(acc.update(x.as_ref(), None, Par::Seq), Err(Error::Shape(_))));
        let x = test_matrix(4, 3, 6);
        assert!(matches!(acc.update(x.as_ref(), None, Par::Seq), Err(Error::Shape(_))));
        assert!(matches!(acc.merge(&Moments::new(3, 0)), Err(Error::Shape(_))));
    }
}
