//! Streaming accumulation of the data moments `n`, `sum_i x_i`, `X^T X`, `X^T Y` and `Y^T Y`.
//!
//! This is the only O(n d^2) step of linssl: everything downstream works on d x d matrices.
//! Chunks of any size are folded into an accumulator whose memory is O(d^2 + d l) plus
//! O(block x d) scratch, whatever n is, and two accumulators merge exactly (up to rounding), so
//! work can be split across threads, processes or machines.
//!
//! How the product runs at BLAS speed:
//! - Only the lower triangle of `X^T X` is computed (n d^2 flops instead of 2 n d^2), by faer's
//!   triangular matmul (an x86 gemm kernel with a lower-triangular destination).
//! - That kernel streams its right operand unpacked, which is fast only for column-major data;
//!   C-ordered rows are therefore copied, `block_rows` at a time, into a column-major buffer by a
//!   SIMD transpose ([`crate::transpose`]). Fortran-ordered input is read in place.
//! - Rows are split into one contiguous range per thread, each thread accumulating its own
//!   partial moments with a sequential kernel, and the partials are summed at the end. This scales
//!   better than one multithreaded kernel per block (no synchronisation per block) at the price
//!   of one extra d x d partial per extra thread, which is used only when every thread gets at
//!   least `min_rows_per_task` rows and the partials stay under `max_partial_bytes`.
//!
//! `f32` input is multiplied in `f32` (twice the SIMD width, half the memory traffic) into an
//! `f32` partial that is added to the `f64` state every `f32_flush_rows` rows, so no `f32` sum runs
//! over more than `f32_flush_rows` terms: the rounding error of the result is that of a short
//! `f32` sum, not one over all n rows (the README gives the accuracy measured on real workloads).

use faer::linalg::matmul::matmul;
use faer::prelude::ReborrowMut;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::finite::{column_sums_of, require_finite, slice_sum, Real};
use crate::interrupt;
use crate::lower_product::lower_product;
use crate::transpose::Transpose;

/// Sizes that decide how the accumulator blocks and splits its work (see the module notes).
#[derive(Clone, Copy, Debug)]
pub struct MomentTuning {
    /// Rows per column-major block copied from row-major input: the gemm kernel's depth block is
    /// 512, so blocks of this height cost no extra passes over the d x d destination.
    pub block_rows: usize,
    /// Rows per product for input that is already column-major (no copy needed).
    pub direct_rows: usize,
    /// Most terms summed in `f32` before they reach the `f64` accumulator.
    pub f32_flush_rows: usize,
    /// Fewest rows per thread for which an extra d x d partial (zeroed, then summed) pays off.
    pub min_rows_per_task: usize,
    /// Largest total size of the extra per-thread partials; beyond it one multithreaded kernel runs.
    pub max_partial_bytes: usize,
    /// Largest d x d (in elements: 32 MiB) that an update copies to be able to undo a refused chunk.
    pub save_max_elements: usize,
    /// From this d on, the threads split the columns of `X^T X` between them (see
    /// [`crate::lower_product`]) instead of the rows of the chunk: a d x d partial per thread then
    /// costs more traffic and memory than it saves.
    pub column_split_min_dim: usize,
    /// Rows per block copied from row-major input grow with d (`d / block_rows_divisor`, at least
    /// `block_rows`), so that each block's update of the d x d triangle stays compute-bound.
    pub block_rows_divisor: usize,
}

/// The tuning every accumulator uses.
pub const TUNING: MomentTuning = MomentTuning {
    block_rows: 512,
    direct_rows: 8_192,
    f32_flush_rows: 8_192,
    min_rows_per_task: 1_024,
    max_partial_bytes: 1 << 30,
    save_max_elements: 1 << 22,
    column_split_min_dim: 1024,
    block_rows_divisor: 2,
};

/// Moment accumulator for data `X` (n x d) and optional targets `Y` (n x l).
#[derive(Clone, Debug)]
pub struct Moments {
    d: usize,
    l: usize,
    n: u64,
    sum_x: Vec<f64>,
    sum_y: Vec<f64>,
    /// Lower triangle of `X^T X` (the strict upper part is not maintained: `xtx()` mirrors).
    xtx_lower: Mat<f64>,
    xty: Mat<f64>,
    /// `Y^T Y` (l x l, small: computed in full).
    yty: Mat<f64>,
}

/// Element types accepted by [`Moments::update`].
pub trait Element: faer::traits::RealField + Transpose + Real {
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
    ///
    /// Fails with [`Error::OutOfMemory`] instead of aborting when the d x d matrix cannot be allocated.
    pub fn new(d: usize, l: usize) -> Result<Self> {
        // The d x d matrix first: when it cannot be had, nothing else has been allocated.
        let xtx_lower = zeros_mat(d, d)?;
        let (xty, yty) = (zeros_mat(d, l)?, zeros_mat(l, l)?);
        Ok(Moments { d, l, n: 0, sum_x: zeros_vec(d)?, sum_y: zeros_vec(l)?, xtx_lower, xty, yty })
    }

    /// An accumulator holding given sums: the inverse of the getters, used to restore one that
    /// was sent to another process (pickled). `d = sum_x.len()`, `l = sum_y.len()`; `xtx` must be
    /// d x d (only its lower triangle is read), `xty` d x l and `yty` l x l.
    pub fn from_parts(
        n: u64,
        sum_x: Vec<f64>,
        sum_y: Vec<f64>,
        xtx: MatRef<'_, f64>,
        xty: MatRef<'_, f64>,
        yty: MatRef<'_, f64>,
    ) -> Result<Self> {
        let (d, l) = (sum_x.len(), sum_y.len());
        let expected = [("xtx", xtx, d, d), ("xty", xty, d, l), ("yty", yty, l, l)];
        for (name, m, rows, cols) in expected {
            if (m.nrows(), m.ncols()) != (rows, cols) {
                return Err(Error::Shape(format!(
                    "{name} has shape ({}, {}) but sum_x and sum_y imply ({rows}, {cols}) (d = {d}, l = {l})",
                    m.nrows(),
                    m.ncols()
                )));
            }
        }
        let mut xtx_lower = zeros_mat(d, d)?;
        add_lower(xtx_lower.as_mut(), xtx);
        Ok(Moments { d, l, n, sum_x, sum_y, xtx_lower, xty: xty.to_owned(), yty: yty.to_owned() })
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
        let lower = self.xtx_lower.as_ref();
        Mat::from_fn(self.d, self.d, |i, j| if i >= j { lower[(i, j)] } else { lower[(j, i)] })
    }

    /// `X^T X / divisor` (d x d, symmetric) as a column-major vector, mirrored from the stored
    /// lower triangle in one tiled pass (the second moment `X^T X / n` with `divisor = n`).
    pub fn xtx_divided(&self, divisor: f64) -> Vec<f64> {
        const TILE: usize = 64;
        let d = self.d;
        let lower = self.xtx_lower.as_ref();
        let mut out = vec![0.0f64; d * d];
        for jb in (0..d).step_by(TILE) {
            for ib in (jb..d).step_by(TILE) {
                for j in jb..(jb + TILE).min(d) {
                    for i in ib.max(j)..(ib + TILE).min(d) {
                        let v = lower[(i, j)] / divisor;
                        out[j * d + i] = v;
                        out[i * d + j] = v;
                    }
                }
            }
        }
        out
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
    /// `x` and `y` may have any strides; row-major and column-major layouts take the fast paths.
    /// `par` bounds the number of threads used.
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
        // NaN and Inf must not reach the state, and a refused chunk must leave it as it was. The
        // chunk's column sums, computed along with its products, reveal them at no extra cost, but
        // only once the products are in the state: so the state is saved first when that copy
        // (d x d f64, read and written: 16 d^2 bytes) is cheaper than a pass of its own over the
        // chunk (m x d elements read), and the chunk is checked first otherwise. Either way the
        // check costs at most about min(d^2, m d), against the m d^2 / 2 of the product.
        // Products that overflow are refused the same way: the diagonal of X^T X (and of Y^T Y)
        // bounds every other entry (Cauchy-Schwarz), so d + l numbers tell whether any is infinite.
        let copy_cheaper = 16 * self.d <= std::mem::size_of::<T>() * m;
        if copy_cheaper && self.d * self.d <= TUNING.save_max_elements {
            let saved = self.clone();
            if let Err(err) = self.fold(x, y, par) {
                *self = saved;
                return Err(match err {
                    Error::Interrupted(_) => Error::Interrupted(
                        "interrupted: the accumulator is as it was before this chunk (none of its rows were added)"
                            .into(),
                    ),
                    other => other,
                });
            }
            if let Some(what) = self.overflowed() {
                *self = saved;
                self.check_chunk(x, y, par)?;
                return Err(overflow_error(what, T::as_f64(x).is_some()));
            }
            return Ok(());
        }
        self.check_squares(x, y, par)?;
        self.fold(x, y, par)
    }

    /// The data whose sums or squares overflowed in the state, if any.
    fn overflowed(&self) -> Option<&'static str> {
        let x_ok = self.sum_x.iter().all(|s| s.is_finite()) && (0..self.d).all(|i| self.xtx_lower[(i, i)].is_finite());
        let y_ok = self.sum_y.iter().all(|s| s.is_finite()) && (0..self.l).all(|i| self.yty[(i, i)].is_finite());
        if !x_ok {
            Some("X")
        } else if !y_ok {
            Some("y")
        } else {
            None
        }
    }

    /// Refuse a chunk with NaN or Inf, or whose squares would overflow the state (checked before
    /// folding it when the state is too large to save), in one pass: the column sums of squares,
    /// in f64, against what the products can hold (f32 products are summed in f32 first). Sums of
    /// squares are finite exactly when the chunk is finite and its squares do not overflow.
    fn check_squares<T: Element>(&self, x: MatRef<'_, T>, y: Option<MatRef<'_, T>>, par: Par) -> Result<()> {
        let limit = if T::as_f64(x).is_some() { f64::MAX } else { f32::MAX as f64 };
        let fits = |m: MatRef<'_, T>, state: &dyn Fn(usize) -> f64| {
            column_sums_of(m, par, |v| v * v).iter().enumerate().all(|(j, &q)| q <= limit && (q + state(j)).is_finite())
        };
        if !fits(x, &|j| self.xtx_lower[(j, j)]) {
            require_finite(x, "X", self.n, 0, par)?;
            return Err(overflow_error("X", T::as_f64(x).is_some()));
        }
        match y {
            Some(y) if !fits(y, &|j| self.yty[(j, j)]) => {
                require_finite(y, "y", self.n, 0, par)?;
                Err(overflow_error("y", T::as_f64(x).is_some()))
            }
            _ => Ok(()),
        }
    }

    /// [`Error::NonFinite`] for the first NaN or Inf of `x`, else of `y`, rows counted over the stream.
    fn check_chunk<T: Element>(&self, x: MatRef<'_, T>, y: Option<MatRef<'_, T>>, par: Par) -> Result<()> {
        require_finite(x, "X", self.n, 0, par)?;
        y.map_or(Ok(()), |y| require_finite(y, "y", self.n, 0, par))
    }

    /// Add a chunk's products and sums to the state, and its rows to `n`.
    fn fold<T: Element>(&mut self, x: MatRef<'_, T>, y: Option<MatRef<'_, T>>, par: Par) -> Result<()> {
        let m = x.nrows();
        let partial_bytes = self.d * self.d * std::mem::size_of::<f64>();
        let split_rows = self.d < TUNING.column_split_min_dim;
        let tasks = (if split_rows { m / TUNING.min_rows_per_task } else { 1 })
            .min(par.degree())
            .min(1 + TUNING.max_partial_bytes / partial_bytes.max(1))
            .max(1);
        if tasks == 1 {
            let done = self.accumulate(x, y, par, true);
            self.n += done as u64;
            if done < m {
                return Err(Error::Interrupted(format!(
                    "interrupted: the accumulator holds the first {done} of this chunk's {m} rows (n = {})",
                    self.n
                )));
            }
            return Ok(());
        } else {
            // One contiguous range of rows per thread; thread 0 accumulates into `self`.
            let bounds: Vec<usize> = (0..=tasks).map(|t| t * m / tasks).collect();
            let mut extra = (1..tasks).map(|_| Moments::new(self.d, self.l)).collect::<Result<Vec<_>>>()?;
            let jobs: Vec<(&mut Moments, usize)> =
                std::iter::once(&mut *self).chain(extra.iter_mut()).zip(0..tasks).collect();
            jobs.into_par_iter().for_each(|(acc, t)| {
                let (start, rows) = (bounds[t], bounds[t + 1] - bounds[t]);
                // Small d: each task is short, so it runs to the end (an interrupt stops the next chunk).
                acc.accumulate(x.subrows(start, rows), y.map(|y| y.subrows(start, rows)), Par::Seq, false);
            });
            for other in &extra {
                self.add(other);
            }
        }
        self.n += m as u64;
        Ok(())
    }

    /// Add the products and sums of `x` (and `y`) to the state, without touching `n`; returns the
    /// number of rows added. With `interruptible`, a requested stop ends it between blocks of rows,
    /// where the state holds exactly the rows returned.
    fn accumulate<T: Element>(
        &mut self,
        x: MatRef<'_, T>,
        y: Option<MatRef<'_, T>>,
        par: Par,
        interruptible: bool,
    ) -> usize {
        let (m, d) = (x.nrows(), self.d);
        if m == 0 || d == 0 {
            return m;
        }
        let in_place = x.row_stride() == 1;
        let copied_rows = TUNING.block_rows.max(d / TUNING.block_rows_divisor).min(TUNING.direct_rows);
        let step = if in_place { TUNING.direct_rows } else { copied_rows }.min(m);
        let threads = par.degree();
        let mut buf: Vec<T> = if in_place { Vec::new() } else { vec![T::zero_impl(); step * d] };
        // f32 input: products summed in f32 for at most TUNING.f32_flush_rows rows, then flushed to f64.
        let mut low = if T::as_f64(x).is_some() { None } else { Some(Mat::<T>::zeros(d, d)) };
        let mut low_rows = 0;
        let mut start = 0;
        while start < m {
            if interruptible && interrupt::requested() {
                if let Some(low) = low.as_ref().filter(|_| low_rows > 0) {
                    add_lower(self.xtx_lower.as_mut(), low.as_ref());
                }
                return start;
            }
            let rows = step.min(m - start);
            let xb = x.subrows(start, rows);
            let b = if in_place {
                xb
            } else {
                if xb.col_stride() == 1 && xb.row_stride() >= 0 {
                    transpose_on_threads(&mut buf[..rows * d], xb, threads);
                } else {
                    for j in 0..d {
                        for i in 0..rows {
                            buf[j * rows + i] = xb[(i, j)];
                        }
                    }
                }
                MatRef::from_column_major_slice(&buf[..rows * d], rows, d)
            };
            for j in 0..d {
                self.sum_x[j] += slice_sum(b.col(j).try_as_col_major().expect("unit row stride").as_slice());
            }
            match (T::as_f64(b), low.as_mut()) {
                (Some(b64), _) => lower_product(self.xtx_lower.as_mut(), b64, Accum::Add, 1.0, threads),
                (None, Some(low)) => {
                    let accum = if low_rows == 0 { Accum::Replace } else { Accum::Add };
                    lower_product(low.as_mut(), b, accum, T::one_impl(), threads);
                    low_rows += rows;
                    if low_rows >= TUNING.f32_flush_rows || start + rows == m {
                        add_lower(self.xtx_lower.as_mut(), low.as_ref());
                        low_rows = 0;
                    }
                }
                (None, None) => unreachable!("non-f64 input always has an f32 partial"),
            }
            if let Some(y) = y {
                self.accumulate_targets(b, y.subrows(start, rows), par);
            }
            start += rows;
        }
        m
    }

    /// `X^T Y`, `Y^T Y` and `sum y` of one block (`b` column-major, `y` any layout).
    fn accumulate_targets<T: Element>(&mut self, b: MatRef<'_, T>, y: MatRef<'_, T>, par: Par) {
        for j in 0..self.l {
            self.sum_y[j] += y.col(j).iter().map(|&v| v.into()).sum::<f64>();
        }
        if let (Some(b64), Some(y64)) = (T::as_f64(b), T::as_f64(y)) {
            matmul(self.xty.as_mut(), Accum::Add, b64.transpose(), y64, 1.0, par);
            matmul(self.yty.as_mut(), Accum::Add, y64.transpose(), y64, 1.0, par);
        } else {
            // Blocks are at most TUNING.direct_rows long, so these f32 sums stay short.
            let mut cross = Mat::<T>::zeros(self.d, self.l);
            matmul(cross.as_mut(), Accum::Replace, b.transpose(), y, T::one_impl(), par);
            let mut yy = Mat::<T>::zeros(self.l, self.l);
            matmul(yy.as_mut(), Accum::Replace, y.transpose(), y, T::one_impl(), par);
            self.xty += Mat::<f64>::from_fn(self.d, self.l, |i, j| cross[(i, j)].into());
            self.yty += Mat::<f64>::from_fn(self.l, self.l, |i, j| yy[(i, j)].into());
        }
    }

    /// Add another accumulator's sums and products (not its row count).
    fn add(&mut self, other: &Moments) {
        for (a, b) in self.sum_x.iter_mut().zip(&other.sum_x) {
            *a += b;
        }
        for (a, b) in self.sum_y.iter_mut().zip(&other.sum_y) {
            *a += b;
        }
        add_lower(self.xtx_lower.as_mut(), other.xtx_lower.as_ref());
        self.xty += &other.xty;
        self.yty += &other.yty;
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
        self.add(other);
        Ok(())
    }
}

/// [`Transpose::transpose_into`] with the columns of `src` split across `threads` threads (each
/// range of columns of the column-major destination is one contiguous slice).
fn transpose_on_threads<T: Element>(dst: &mut [T], src: MatRef<'_, T>, threads: usize) {
    let (m, d) = (src.nrows(), src.ncols());
    let parts = threads.min(d / 64).max(1);
    if parts == 1 {
        return T::transpose_into(dst, src);
    }
    let bounds: Vec<usize> = (0..=parts).map(|t| t * d / parts).collect();
    let mut slices = Vec::with_capacity(parts);
    let mut rest = dst;
    for t in 0..parts {
        let (head, tail) = rest.split_at_mut((bounds[t + 1] - bounds[t]) * m);
        slices.push((bounds[t], head));
        rest = tail;
    }
    slices.into_par_iter().for_each(|(j0, part)| {
        let width = part.len() / m.max(1);
        T::transpose_into(part, src.subcols(j0, width));
    });
}

/// The refusal of data whose sums or products overflow.
fn overflow_error(what: &str, f64_input: bool) -> Error {
    let (limit, advice) = if f64_input {
        ("1e154 in float64", String::new())
    } else {
        ("1e19 in float32", ", or pass dtype=np.float64".to_string())
    };
    Error::InvalidArgument(format!(
        "the sums or squares of {what} overflow (its values are too large to square: above about {limit}), so \
         the moments cannot be represented; rescale {what}{advice}"
    ))
}

/// `dst[i, j] += src[i, j]` for `i >= j`, widening to `f64`.
fn add_lower<T: Element>(mut dst: MatMut<'_, f64>, src: MatRef<'_, T>) {
    for j in 0..dst.ncols() {
        let n = dst.nrows();
        let mut col = dst.rb_mut().col_mut(j).subrows_mut(j, n - j);
        let s = src.col(j).subrows(j, n - j);
        for i in 0..n - j {
            col[i] += s[i].into();
        }
    }
}

/// A zero vector, or [`Error::OutOfMemory`] when it cannot be allocated.
fn zeros_vec(len: usize) -> Result<Vec<f64>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| out_of_memory(len, 1))?;
    v.resize(len, 0.0);
    Ok(v)
}

/// A zero matrix, or [`Error::OutOfMemory`] when it cannot be allocated (faer's `Mat::zeros`
/// panics instead, and a panic must not reach Python).
fn zeros_mat(rows: usize, cols: usize) -> Result<Mat<f64>> {
    let mut m = Mat::<f64>::new();
    m.try_reserve(rows, cols).map_err(|_| out_of_memory(rows, cols))?;
    m.resize_with(rows, cols, |_, _| 0.0);
    Ok(m)
}

fn out_of_memory(rows: usize, cols: usize) -> Error {
    let gib = rows as f64 * cols as f64 * 8.0 / (1u64 << 30) as f64;
    Error::OutOfMemory(format!(
        "cannot allocate a {rows} x {cols} float64 matrix ({gib:.3} GiB) for the moments; with d >> n, fit \
         with solver='gram', which needs only n x n matrices"
    ))
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
        let scale =
            (0..b.ncols()).flat_map(|j| (0..b.nrows()).map(move |i| (i, j))).map(|ij| b[ij].abs()).fold(0.0, f64::max);
        (0..b.ncols())
            .flat_map(|j| (0..b.nrows()).map(move |i| (i, j)))
            .map(|ij| (a[ij] - b[ij]).abs())
            .fold(0.0, f64::max)
            / scale
    }

    #[test]
    fn xtx_matches_naive_and_is_symmetric() {
        let x = test_matrix(300, 17, 1);
        let mut acc = Moments::new(17, 0).unwrap();
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
        let mut whole = Moments::new(9, 3).unwrap();
        whole.update(x.as_ref(), Some(y.as_ref()), Par::rayon(0)).unwrap();
        let mut a = Moments::new(9, 3).unwrap();
        let mut b = Moments::new(9, 3).unwrap();
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
        let mut acc = Moments::new(4, 0).unwrap();
        acc.update(view, None, Par::rayon(0)).unwrap();
        assert!(max_rel(acc.xtx().as_ref(), naive_xtx(view).as_ref()) < 1e-13);
    }

    #[test]
    fn f32_input_is_accumulated_in_f64() {
        let x = test_matrix(40_000, 8, 5);
        let x32 = Mat::<f32>::from_fn(40_000, 8, |i, j| x[(i, j)] as f32);
        let x32_as_64 = Mat::<f64>::from_fn(40_000, 8, |i, j| x32[(i, j)] as f64);
        let mut acc = Moments::new(8, 0).unwrap();
        acc.update(x32.as_ref(), None, Par::Seq).unwrap();
        assert!(max_rel(acc.xtx().as_ref(), naive_xtx(x32_as_64.as_ref()).as_ref()) < 1e-5);
    }

    /// The same values as `x`, stored row-major (C order), as NumPy usually hands them over.
    fn row_major(x: MatRef<'_, f64>) -> Mat<f64> {
        x.transpose().to_owned()
    }

    #[test]
    fn every_layout_and_thread_split_gives_the_same_moments() {
        // 5000 rows: several copied blocks, and two rows ranges when two threads are allowed.
        let x = test_matrix(5000, 37, 7);
        let y = test_matrix(5000, 2, 8);
        let expected = naive_xtx(x.as_ref());
        let xr = row_major(x.as_ref());
        let layouts = [x.as_ref(), xr.as_ref().transpose(), x.as_ref().reverse_rows()];
        for (k, view) in layouts.into_iter().enumerate() {
            for par in [Par::Seq, Par::rayon(2)] {
                let yv = if k == 2 { y.as_ref().reverse_rows() } else { y.as_ref() };
                let mut acc = Moments::new(37, 2).unwrap();
                acc.update(view, Some(yv), par).unwrap();
                assert!(max_rel(acc.xtx().as_ref(), expected.as_ref()) < 1e-13, "layout {k}, {par:?}");
                let xty: Mat<f64> = Mat::from_fn(37, 2, |i, j| (0..5000).map(|r| x[(r, i)] * y[(r, j)]).sum());
                assert!(max_rel(acc.xty(), xty.as_ref()) < 1e-13);
                for (j, s) in acc.sum_x().iter().enumerate() {
                    let t: f64 = (0..5000).map(|r| x[(r, j)]).sum();
                    assert!((s - t).abs() < 1e-9 * (1.0 + t.abs()));
                }
                assert_eq!(acc.n(), 5000);
            }
        }
    }

    #[test]
    fn f32_row_major_input_in_threads() {
        let x = test_matrix(20_000, 40, 9);
        let x32 = Mat::<f32>::from_fn(20_000, 40, |i, j| x[(i, j)] as f32);
        let x32_as_64 = Mat::<f64>::from_fn(20_000, 40, |i, j| x32[(i, j)] as f64);
        let x32_rows = x32.transpose().to_owned();
        let mut acc = Moments::new(40, 0).unwrap();
        acc.update(x32_rows.as_ref().transpose(), None, Par::rayon(2)).unwrap();
        assert!(max_rel(acc.xtx().as_ref(), naive_xtx(x32_as_64.as_ref()).as_ref()) < 1e-5);
    }

    #[test]
    fn from_parts_restores_an_accumulator() {
        let x = test_matrix(700, 6, 10);
        let y = test_matrix(700, 2, 11);
        let mut acc = Moments::new(6, 2).unwrap();
        acc.update(x.as_ref(), Some(y.as_ref()), Par::Seq).unwrap();
        let xtx = acc.xtx();
        let restored = Moments::from_parts(
            acc.n(),
            acc.sum_x().to_vec(),
            acc.sum_y().to_vec(),
            xtx.as_ref(),
            acc.xty(),
            acc.yty(),
        )
        .unwrap();
        assert_eq!(restored.n(), 700);
        assert_eq!(restored.xtx(), xtx);
        assert_eq!(restored.xty(), acc.xty());
        assert_eq!(restored.yty(), acc.yty());
        assert_eq!(restored.sum_x(), acc.sum_x());
        // A restored accumulator keeps accumulating like the original.
        let (mut a, mut b) = (acc.clone(), restored);
        a.update(x.as_ref(), Some(y.as_ref()), Par::Seq).unwrap();
        b.update(x.as_ref(), Some(y.as_ref()), Par::Seq).unwrap();
        assert_eq!(a.xtx(), b.xtx());
        let bad = Mat::<f64>::zeros(5, 6);
        let err = Moments::from_parts(1, vec![0.0; 6], vec![0.0; 2], bad.as_ref(), acc.xty(), acc.yty());
        assert!(matches!(err, Err(Error::Shape(_))));
    }

    #[test]
    fn non_finite_chunks_are_refused_with_their_location_and_leave_the_state_alone() {
        let x = test_matrix(3000, 5, 12);
        let y = test_matrix(3000, 2, 13);
        for par in [Par::Seq, Par::rayon(2)] {
            let mut acc = Moments::new(5, 2).unwrap();
            acc.update(x.subrows(0, 1000), Some(y.subrows(0, 1000)), par).unwrap();
            let before = acc.clone();
            let mut bad = x.subrows(1000, 2000).to_owned();
            bad[(1500, 3)] = f64::NAN;
            bad[(1700, 1)] = f64::INFINITY;
            let err = acc.update(bad.as_ref(), Some(y.subrows(1000, 2000)), par).unwrap_err();
            assert!(
                matches!(&err, Error::NonFinite { what, row: 2500, col: 3, value } if what == "X" && value.is_nan())
            );
            assert!(err.to_string().starts_with("X contains NaN at row 2500, column 3"), "{err}");
            let mut bad_y = y.subrows(1000, 2000).to_owned();
            bad_y[(10, 1)] = f64::NEG_INFINITY;
            let err = acc.update(x.subrows(1000, 2000), Some(bad_y.as_ref()), par).unwrap_err();
            assert!(err.to_string().starts_with("y contains -inf at row 1010, column 1"), "{err}");
            assert_eq!(acc.n(), before.n());
            assert_eq!(acc.xtx(), before.xtx());
            assert_eq!(acc.sum_x(), before.sum_x());
            assert_eq!(acc.sum_y(), before.sum_y());
            // ...and it keeps accumulating valid chunks.
            acc.update(x.subrows(1000, 2000), Some(y.subrows(1000, 2000)), par).unwrap();
            assert!(max_rel(acc.xtx().as_ref(), naive_xtx(x.as_ref()).as_ref()) < 1e-13);
        }
    }

    #[test]
    fn a_wide_chunk_is_checked_before_it_is_folded() {
        // m < d: the chunk is checked first instead of the state being saved.
        let x = test_matrix(300, 40, 14);
        let mut acc = Moments::new(40, 0).unwrap();
        acc.update(x.subrows(0, 290), None, Par::Seq).unwrap();
        let before = acc.xtx();
        let mut bad = x.subrows(290, 10).to_owned();
        bad[(6, 39)] = f64::INFINITY;
        let err = acc.update(bad.as_ref(), None, Par::Seq).unwrap_err();
        assert!(err.to_string().starts_with("X contains inf at row 296, column 39"), "{err}");
        assert_eq!((acc.n(), acc.xtx()), (290, before));
    }

    #[test]
    fn overflowing_sums_are_refused() {
        let x = Mat::<f64>::from_fn(4, 2, |_, j| if j == 1 { 1e308 } else { 1.0 });
        let err = Moments::new(2, 0).unwrap().update(x.as_ref(), None, Par::Seq).unwrap_err();
        assert!(err.to_string().contains("sums or squares of X overflow"), "{err}");
        // Finite sums, squares that overflow: refused too, whether the state is saved (narrow d)
        // or the chunk checked first (wide chunk), and the state is left as it was.
        for (rows, d) in [(600, 3), (2, 40)] {
            let mut acc = Moments::new(d, 0).unwrap();
            let ok = Mat::<f64>::from_fn(rows, d, |i, j| (i + j) as f64);
            acc.update(ok.as_ref(), None, Par::Seq).unwrap();
            let before = acc.xtx();
            let big = Mat::<f64>::from_fn(rows, d, |i, j| if (i, j) == (1, 2) { 1e160 } else { 1.0 });
            let err = acc.update(big.as_ref(), None, Par::Seq).unwrap_err();
            assert!(err.to_string().contains("sums or squares of X overflow"), "{err}");
            assert_eq!((acc.n(), acc.xtx()), (rows as u64, before));
            let big32 = Mat::<f32>::from_fn(rows, d, |i, j| if (i, j) == (1, 2) { 1e20 } else { 1.0 });
            let err = acc.update(big32.as_ref(), None, Par::Seq).unwrap_err();
            assert!(
                err.to_string().contains("1e19 in float32") && err.to_string().contains("pass dtype=np.float64"),
                "{err}"
            );
        }
    }

    #[test]
    fn impossible_allocations_are_errors_not_panics() {
        // Sizes whose byte counts overflow usize: refused whatever the machine's overcommit policy.
        assert!(matches!(Moments::new(1 << 33, 0), Err(Error::OutOfMemory(_))));
        assert!(matches!(Moments::new(3, 1 << 62), Err(Error::OutOfMemory(_))));
    }

    #[test]
    fn shape_errors_are_reported() {
        let mut acc = Moments::new(3, 1).unwrap();
        let x = test_matrix(4, 2, 6);
        assert!(matches!(acc.update(x.as_ref(), None, Par::Seq), Err(Error::Shape(_))));
        let x = test_matrix(4, 3, 6);
        assert!(matches!(acc.update(x.as_ref(), None, Par::Seq), Err(Error::Shape(_))));
        assert!(matches!(acc.merge(&Moments::new(3, 0).unwrap()), Err(Error::Shape(_))));
    }
}
