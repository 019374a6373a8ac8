//! Dense -> band: the first stage of a two-stage tridiagonalisation (LAPACK's `dsytrd_sy2sb`).
//!
//! Panel by panel of `b` columns, a QR factorisation of the part below the band,
//! `A[j + b.., j..j + b] = Q R`, puts `R` into the band, and the trailing matrix is updated as
//! `Q^T A22 Q` with `Q = I - V T V^T`: one symmetric product `A22 V`, a few thin products, and a
//! symmetric rank-2b update. Every flop of that update is in matrix-matrix products, so the stage
//! runs near matrix-product speed, where a one-stage reduction spends half of its flops in
//! matrix-vector products bound by memory bandwidth.
//!
//! Reflectors use LAPACK's convention throughout: `H = I - tau v v^T` with `v[0] = 1`, and a
//! block of them `H_0 ... H_(k-1) = I - V T V^T` with `T` upper triangular (`dlarft`).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, ColRef, Conj, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::interrupt::checkpoint;

/// Columns below which a panel is factored one reflector at a time.
const PANEL_LEAF: usize = 8;

/// The orthogonal factor `Q1 = Q_0 Q_1 ...` of a band reduction, `Q1^T A Q1 = band`: panel `p`
/// starts at column `j = p b`, its reflectors act on rows `j + b..` and are stored (unit heads
/// implicit) below the band of the reduced matrix; `T` factors are kept here.
pub(super) struct BandReflectors {
    b: usize,
    t: Vec<Mat<f64>>,
}

/// Reduce the lower triangle of `a` (n x n) to a band of half-bandwidth `b` in place: on return
/// the band is `a[r, c]` for `0 <= r - c <= b` and the reflectors lie below it.
pub(super) fn reduce_to_band(mut a: MatMut<'_, f64>, b: usize, par: Par) -> BandReflectors {
    let n = a.nrows();
    let mut t = Vec::new();
    let mut j = 0;
    while j + b + 1 < n {
        checkpoint();
        let m = n - j - b;
        let nb = b.min(m);
        let mut tp = Mat::<f64>::zeros(nb, nb);
        let (_, _, panel, mut a22) = a.rb_mut().submatrix_mut(j, j, n - j, n - j).split_at_mut(b, b);
        let mut panel = panel;
        panel_qr(panel.rb_mut(), tp.as_mut(), par);
        let v = explicit_basis(panel.rb().subcols(0, nb));
        // X = A22 V T (A22 symmetric, lower triangle stored).
        let mut x = Mat::<f64>::zeros(m, nb);
        symmetric_product(a22.rb(), v.as_ref(), x.as_mut(), par);
        let x = &x * &tp;
        // W = X - V (T^T V^T X) / 2, then A22 <- A22 - V W^T - W V^T.
        let mut vtx = Mat::<f64>::zeros(nb, nb);
        matmul(vtx.as_mut(), Accum::Replace, v.transpose(), x.as_ref(), 1.0, par);
        let half = tp.transpose() * &vtx;
        let mut w = x;
        matmul(w.as_mut(), Accum::Add, v.as_ref(), half.as_ref(), -0.5, par);
        let lhs = Mat::from_fn(m, 2 * nb, |r, c| if c < nb { v[(r, c)] } else { w[(r, c - nb)] });
        let rhs = Mat::from_fn(m, 2 * nb, |r, c| if c < nb { w[(r, c)] } else { v[(r, c - nb)] });
        lower_rank_update(a22.rb_mut(), lhs.as_ref(), rhs.as_ref(), par);
        t.push(tp);
        j += b;
    }
    BandReflectors { b, t }
}

/// `a -= l r^T` on the lower triangle of `a` (m x m), by independent blocks of columns: the
/// part below each diagonal block is a plain product, the diagonal block a small triangular one.
/// Like [`symmetric_product`], this avoids one large triangular product, which faer runs well
/// below the speed of its plain product.
fn lower_rank_update(a: MatMut<'_, f64>, l: MatRef<'_, f64>, r: MatRef<'_, f64>, par: Par) {
    let m = a.nrows();
    let mut blocks = Vec::new();
    let mut rest = a;
    let mut j = 0;
    while j < m {
        let jb = SYMM_BLOCK.min(m - j);
        let (left, right) = rest.split_at_col_mut(jb);
        blocks.push((j, left));
        rest = right;
        j += jb;
    }
    let block = |(j, col): (usize, MatMut<'_, f64>)| {
        let jb = col.ncols();
        // Rows j.. of this column block: the diagonal block, then the rectangle below.
        let (mut diag, mut below) = col.subrows_mut(j, m - j).split_at_row_mut(jb);
        tri_matmul(
            diag.rb_mut(),
            BlockStructure::TriangularLower,
            Accum::Add,
            l.subrows(j, jb),
            BlockStructure::Rectangular,
            r.subrows(j, jb).transpose(),
            BlockStructure::Rectangular,
            -1.0,
            Par::Seq,
        );
        if below.nrows() > 0 {
            matmul(
                below.rb_mut(),
                Accum::Add,
                l.subrows(j + jb, m - j - jb),
                r.subrows(j, jb).transpose(),
                -1.0,
                Par::Seq,
            );
        }
    };
    if par.degree() > 1 {
        blocks.into_par_iter().for_each(block);
    } else {
        blocks.into_iter().for_each(block);
    }
}

/// Rows per block of [`symmetric_product`].
const SYMM_BLOCK: usize = 128;

/// `x = A v` for symmetric `A` whose lower triangle is `a`, by blocks of rows of `x`: block `J`
/// is `A[J, ..J] v[..J] + A[J, J] v[J] + A[J + 1.., J]^T v[J + 1..]` (a row panel, the
/// symmetrised diagonal block and a column panel of the lower triangle), the same amount of
/// work for every block, and the blocks are independent. faer's triangular product with a
/// triangular left operand runs at about half the speed of these plain products.
fn symmetric_product(a: MatRef<'_, f64>, v: MatRef<'_, f64>, x: MatMut<'_, f64>, par: Par) {
    let m = a.nrows();
    let mut blocks = Vec::new();
    let mut rest = x;
    let mut j = 0;
    while j < m {
        let jb = SYMM_BLOCK.min(m - j);
        let (top, bottom) = rest.split_at_row_mut(jb);
        blocks.push((j, top));
        rest = bottom;
        j += jb;
    }
    let block = |(j, mut xj): (usize, MatMut<'_, f64>)| {
        let jb = xj.nrows();
        let d = a.submatrix(j, j, jb, jb);
        let d = Mat::from_fn(jb, jb, |r, c| if r >= c { d[(r, c)] } else { d[(c, r)] });
        matmul(xj.rb_mut(), Accum::Replace, d.as_ref(), v.subrows(j, jb), 1.0, Par::Seq);
        if j > 0 {
            matmul(xj.rb_mut(), Accum::Add, a.submatrix(j, 0, jb, j), v.subrows(0, j), 1.0, Par::Seq);
        }
        let below = m - j - jb;
        if below > 0 {
            let col = a.submatrix(j + jb, j, below, jb);
            matmul(xj.rb_mut(), Accum::Add, col.transpose(), v.subrows(j + jb, below), 1.0, Par::Seq);
        }
    };
    if par.degree() > 1 {
        blocks.into_par_iter().for_each(block);
    } else {
        blocks.into_iter().for_each(block);
    }
}

/// `V` with its zeros above and ones on the diagonal written out, from reflectors stored below
/// the diagonal of `a` (m x k, m >= k).
fn explicit_basis(a: MatRef<'_, f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |r, c| match r.cmp(&c) {
        std::cmp::Ordering::Less => 0.0,
        std::cmp::Ordering::Equal => 1.0,
        std::cmp::Ordering::Greater => a[(r, c)],
    })
}

/// QR factorisation of `a` (m x k) in place, recursively (halves of columns, the right half
/// updated by a block reflector), writing `T` (min(m, k) square) of `Q = I - V T V^T`.
///
/// Unlike a rank-revealing factorisation, reflector `c` always sits in column `c` with its head
/// on row `c` (zero columns give `tau = 0`): the band layout depends on it.
fn panel_qr(mut a: MatMut<'_, f64>, mut t: MatMut<'_, f64>, par: Par) {
    let (m, k) = (a.nrows(), a.ncols());
    let r = m.min(k);
    if r <= PANEL_LEAF {
        for c in 0..r {
            let (_, mut right) = a.rb_mut().subrows_mut(c, m - c).split_at_col_mut(c);
            let (mut col, mut rest) = right.rb_mut().split_at_col_mut(1);
            let tau = column_reflector(col.rb_mut().col_mut(0).try_as_col_major_mut().unwrap().as_slice_mut());
            t[(c, c)] = tau;
            if tau != 0.0 {
                let v = col.rb().col(0);
                for mut y in rest.rb_mut().col_iter_mut() {
                    // y <- (I - tau v v^T) y with v[0] = 1 implicit.
                    let d = y[0] + (1..m - c).map(|i| v[i] * y[i]).sum::<f64>();
                    let s = tau * d;
                    y[0] -= s;
                    for i in 1..m - c {
                        y[i] -= s * v[i];
                    }
                }
            }
        }
        // T by dlarft's recurrence: T[..c, c] = -tau_c T[..c, ..c] V[:, ..c]^T v_c.
        let v = explicit_basis(a.rb().subcols(0, r));
        let g = v.transpose() * &v;
        for c in 1..r {
            let tau = t[(c, c)];
            let mut col = vec![0.0; c];
            for (i, ci) in col.iter_mut().enumerate() {
                *ci = -tau * (i..c).map(|l| t[(i, l)] * g[(l, c)]).sum::<f64>();
            }
            for (i, ci) in col.into_iter().enumerate() {
                t[(i, c)] = ci;
            }
        }
        return;
    }
    let k1 = r / 2;
    let (mut left, mut right) = a.rb_mut().split_at_col_mut(k1);
    let (mut t11, mut t12, _, mut t22) = t.rb_mut().split_at_mut(k1, k1);
    panel_qr(left.rb_mut(), t11.rb_mut(), par);
    let v1 = explicit_basis(left.rb());
    // right <- Q1^T right = right - V1 T11^T (V1^T right).
    let mut y = Mat::<f64>::zeros(k1, k - k1);
    matmul(y.as_mut(), Accum::Replace, v1.transpose(), right.rb(), 1.0, par);
    let y = t11.rb().transpose() * &y;
    matmul(right.rb_mut(), Accum::Add, v1.as_ref(), y.as_ref(), -1.0, par);
    panel_qr(right.rb_mut().subrows_mut(k1, m - k1), t22.rb_mut(), par);
    // T12 = -T11 (V1^T V2) T22.
    let v2 = explicit_basis(right.rb().subrows(k1, m - k1).subcols(0, r - k1));
    let g = v1.rb().subrows(k1, m - k1).transpose() * &v2;
    let t12_new = -(t11.rb() * &g) * t22.rb();
    t12.copy_from(&t12_new);
}

/// LAPACK's `dlarfg` on the column `x`: `x[0] <- beta`, `x[1..] <- v[1..]`, returns `tau`.
fn column_reflector(x: &mut [f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let tail_norm = ColRef::from_slice(&x[1..]).norm_l2();
    if tail_norm == 0.0 {
        return 0.0;
    }
    let alpha = x[0];
    let beta = -alpha.hypot(tail_norm).copysign(alpha);
    let scale = 1.0 / (alpha - beta);
    x[1..].iter_mut().for_each(|e| *e *= scale);
    x[0] = beta;
    (beta - alpha) / beta
}

impl BandReflectors {
    /// `z <- Q1 z` for `z` (n x k), the reflectors read from below the band of `a`.
    ///
    /// Applied through faer's block Householder sequence with faer's recommended block size
    /// (larger than `b` for large n), so that the products have a wider inner dimension.
    pub(super) fn apply_on_the_left(&self, a: MatRef<'_, f64>, z: MatMut<'_, f64>, par: Par) {
        let (n, b) = (a.nrows(), self.b);
        if n <= b + 1 || self.t.is_empty() {
            return;
        }
        // Reflector c acts on rows b + c..: the basis is a QR-like sequence shifted down by b.
        let r = n - b;
        let mut tau = vec![f64::INFINITY; r];
        for (p, tp) in self.t.iter().enumerate() {
            for c in 0..tp.nrows() {
                let t = tp[(c, c)];
                tau[p * b + c] = if t == 0.0 { f64::INFINITY } else { t.recip() };
            }
        }
        let basis = a.submatrix(b, 0, r, r);
        let factor = super::householder_factor(basis, &tau, par);
        let k = z.ncols();
        let mut mem =
            MemBuffer::new(apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(r, factor.nrows(), k));
        apply_block_householder_sequence_on_the_left_in_place_with_conj(
            basis,
            factor.as_ref(),
            Conj::No,
            z.subrows_mut(b, r),
            par,
            MemStack::new(&mut mem),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Mat<f64> {
        Mat::from_fn(n, n, |r, c| ((((r.max(c) + 1) * 31 + (r.min(c) + 1) * 17) % 97) as f64) / 48.0 - 1.0)
    }

    #[test]
    fn band_reduction_is_an_orthogonal_similarity() {
        for (n, b) in [(3usize, 1usize), (10, 3), (37, 4), (64, 16), (90, 9), (130, 40)] {
            let full = sample(n);
            let mut a = Mat::from_fn(n, n, |r, c| if r >= c { full[(r, c)] } else { 0.0 });
            let q1 = reduce_to_band(a.as_mut(), b, Par::rayon(2));
            let band = Mat::from_fn(n, n, |r, c| if r.abs_diff(c) <= b { a[(r.max(c), r.min(c))] } else { 0.0 });
            // Q1 band Q1^T must be the input: form Q1 explicitly by applying it to I.
            let mut q = Mat::<f64>::identity(n, n);
            q1.apply_on_the_left(a.as_ref(), q.as_mut(), Par::Seq);
            let back = &q * &band * q.transpose();
            let err = (&back - &full).norm_max();
            let orth = (q.transpose() * &q - Mat::<f64>::identity(n, n)).norm_max();
            assert!(err < 1e-13 && orth < 1e-14, "n={n} b={b}: {err} {orth}");
        }
    }

    #[test]
    fn zero_and_banded_columns_keep_the_layout() {
        // Already banded input: every panel below the band is zero (tau = 0 throughout).
        let n = 50;
        let b = 5;
        let full = Mat::<f64>::from_fn(n, n, |r, c| if r.abs_diff(c) <= 3 { 1.0 + (r + c) as f64 } else { 0.0 });
        let mut a = Mat::from_fn(n, n, |r, c| if r >= c { full[(r, c)] } else { 0.0 });
        let q1 = reduce_to_band(a.as_mut(), b, Par::Seq);
        let mut q = Mat::<f64>::identity(n, n);
        q1.apply_on_the_left(a.as_ref(), q.as_mut(), Par::Seq);
        let band = Mat::from_fn(n, n, |r, c| if r.abs_diff(c) <= b { a[(r.max(c), r.min(c))] } else { 0.0 });
        assert!((&q * &band * q.transpose() - &full).norm_max() < 1e-13);
    }
}
