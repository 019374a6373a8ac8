//! `Z <- Q2 Z` for the reflectors of a bulge chase, in blocks, so the work is matrix products.
//!
//! Reflector `(i, t)` of the chase acts on rows `i + 1 + t b ..` (at most `b` of them). Two
//! reflectors whose row ranges are disjoint commute, and the only overlapping pairs are
//! `(i, t)` with `(j, t)` or `(j, t - 1)` for `j > i`, created in that order. So for a group of
//! `g <= b` consecutive sweeps `i0 .. i0 + g`, the reflectors with the same `t` form one block
//! reflector `G_t = H_(i0, t) ... H_(i0 + g - 1, t) = I - V T V^T` on `b + g - 1` rows (`V` is a
//! staircase: column `c` holds reflector `(i0 + c, t)` from row `c` on), and
//! `Q2 = prod_groups (G_tmax ... G_1 G_0)` with the groups in sweep order. Applying each `G_t`
//! to the wanted columns is then two products, `W = V^T Z` and `Z -= (V T) W`, done by kernels
//! that skip the zeros of the staircase (dense products on it would do twice the work).

use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Mat, MatMut, Par};
use rayon::prelude::*;

use super::bulge_chasing::ChaseReflectors;
use crate::interrupt::checkpoint;

/// Columns of `Z` per independent task: each task applies every block to its own columns, which
/// stay in cache from one block to the next.
const STRIP: usize = 256;

/// Rows of a block are padded with zero reflector entries to a multiple of this (the kernels'
/// tile height), and `Z` gets as many spare rows, so the kernels have no row remainders.
const PAD: usize = 8;

/// One block reflector `I - V T V^T` on rows `row .. row + rows`, as `V` row-major and `V T`
/// column-major, both over `rows_pad` rows.
struct Block {
    row: usize,
    rows_pad: usize,
    g: usize,
    v_rows: Vec<f64>,
    vt_cols: Vec<f64>,
}

/// `z <- Q2 z` (`z` is n x k).
///
/// The work is done on `Z^T`, in strips of columns of `Z` each copied to its own buffer (so each
/// row of a strip is contiguous and a block's rows are close together in memory): the kernels
/// load rows of `Z` as vectors and broadcast entries of the small `V` and `V T`.
pub(super) fn apply_chase_reflectors(refl: &ChaseReflectors, mut z: MatMut<'_, f64>, par: Par) {
    let (n, b) = (refl.n, refl.b);
    let k = z.ncols();
    let sweeps = refl.sweeps();
    if k == 0 || sweeps == 0 {
        return;
    }
    let width = STRIP.min(k.div_ceil(par.degree().max(1)).next_multiple_of(16));
    // Strip p holds columns p * width.. of Z, transposed, with spare rows of Z for the padded
    // blocks; its stride (width + 8) is not a power of two, so rows of Z do not share cache sets.
    let mut strips: Vec<Mat<f64>> = (0..k.div_ceil(width))
        .map(|p| {
            let cols = width.min(k - p * width);
            let mut strip = Mat::<f64>::zeros(cols + 8, n + PAD);
            strip
                .as_mut()
                .subrows_mut(0, cols)
                .subcols_mut(0, n)
                .copy_from(z.rb().subcols(p * width, cols).transpose());
            strip
        })
        .collect();
    let g = b;
    for group in (0..sweeps.div_ceil(g)).rev() {
        checkpoint();
        let i0 = group * g;
        let gi = g.min(sweeps - i0);
        let mut count = 0;
        while refl.get(i0, count).is_some() {
            count += 1;
        }
        let blocks: Vec<Block> = if par.degree() > 1 {
            (0..count).into_par_iter().filter_map(|t| group_block(refl, i0, gi, t, n, b)).collect()
        } else {
            (0..count).filter_map(|t| group_block(refl, i0, gi, t, n, b)).collect()
        };
        let apply = |(p, strip): (usize, &mut Mat<f64>)| {
            let cols = width.min(k - p * width);
            let mut w = vec![0.0; g * cols];
            for block in &blocks {
                let sub = strip.as_mut().subrows_mut(0, cols).subcols_mut(block.row, block.rows_pad);
                apply_block(block, b, sub, &mut w);
            }
        };
        if par.degree() > 1 && strips.len() > 1 {
            strips.par_iter_mut().enumerate().for_each(apply);
        } else {
            strips.iter_mut().enumerate().for_each(apply);
        }
    }
    for (p, strip) in strips.iter().enumerate() {
        let cols = width.min(k - p * width);
        z.rb_mut().subcols_mut(p * width, cols).copy_from(strip.as_ref().subrows(0, cols).subcols(0, n).transpose());
    }
}

/// The block of reflectors `(i0 + c, t)`, `c < gi`, or `None` if they are all identities.
fn group_block(refl: &ChaseReflectors, i0: usize, gi: usize, t: usize, n: usize, b: usize) -> Option<Block> {
    let row = i0 + 1 + t * b;
    let rows = (b + gi - 1).min(n - row);
    let mut v = Mat::<f64>::zeros(rows, gi);
    let mut tau = vec![0.0; gi];
    for c in 0..gi {
        if let Some((vals, tc)) = refl.get(i0 + c, t) {
            if tc != 0.0 {
                tau[c] = tc;
                for (l, &x) in vals.iter().enumerate().take(rows.saturating_sub(c)) {
                    v[(c + l, c)] = x;
                }
            }
        }
    }
    if tau.iter().all(|&x| x == 0.0) {
        return None;
    }
    // T by dlarft's recurrence on the Gram matrix: T[..c, c] = -tau_c T[..c, ..c] G[..c, c].
    let gram = v.transpose() * &v;
    let mut tm = Mat::<f64>::zeros(gi, gi);
    for c in 0..gi {
        tm[(c, c)] = tau[c];
        if tau[c] == 0.0 {
            continue;
        }
        for r in 0..c {
            tm[(r, c)] = -tau[c] * (r..c).map(|l| tm[(r, l)] * gram[(l, c)]).sum::<f64>();
        }
    }
    let vt = &v * &tm;
    let rows_pad = rows.next_multiple_of(PAD);
    let mut v_rows = vec![0.0; rows_pad * gi];
    let mut vt_cols = vec![0.0; rows_pad * gi];
    for c in 0..gi {
        for r in 0..rows {
            v_rows[r * gi + c] = v[(r, c)];
            vt_cols[c * rows_pad + r] = vt[(r, c)];
        }
    }
    Some(Block { row, rows_pad, g: gi, v_rows, vt_cols })
}

/// Dimensions of one block application: `V` on `rows` rows (a multiple of [`PAD`]) and `g`
/// columns, band `b`; `s` columns of `Z`, held as `zt` (row `r` of `Z` at `zt[r * ldz..][..s]`);
/// `w = V^T Z` is `g x s`, row-major.
#[derive(Clone, Copy)]
struct Shape {
    rows: usize,
    g: usize,
    s: usize,
    b: usize,
    ldz: usize,
}

/// `Z <- (I - V T V^T) Z` for one block, `zt` holding `Z^T` for the block's padded rows; `w`
/// workspace of at least `g * zt.nrows()` entries.
fn apply_block(block: &Block, b: usize, mut zt: MatMut<'_, f64>, w: &mut [f64]) {
    let (rows, g, s) = (block.rows_pad, block.g, zt.nrows());
    if s == 0 {
        return;
    }
    let w = &mut w[..g * s];
    let zs = zt.rb_mut().try_as_col_major_mut().expect("unit row stride");
    let ldz = zs.col_stride() as usize;
    // SAFETY: `zs` is a live view of `rows` columns of `s` contiguous entries, `ldz` apart.
    let z = unsafe { std::slice::from_raw_parts_mut(zs.as_ptr_mut(), (rows - 1) * ldz + s) };
    let sh = Shape { rows, g, s, b, ldz };
    let (v, vt) = (&block.v_rows[..], &block.vt_cols[..]);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports the features the functions are compiled for.
            unsafe {
                staircase_transpose_product_avx512(sh, v, z, w);
                trapezoid_update_avx512(sh, vt, w, z);
            }
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            unsafe {
                staircase_transpose_product_avx2(sh, v, z, w);
                trapezoid_update_avx2(sh, vt, w, z);
            }
            return;
        }
    }
    staircase_transpose_product(sh, v, z, w);
    trapezoid_update(sh, vt, w, z);
}

/// `w = V^T Z`, reading row r of `V` (row-major) on columns `r + 1 - b ..= r` only.
#[inline(always)]
fn staircase_transpose_product(sh: Shape, v: &[f64], z: &[f64], w: &mut [f64]) {
    w.fill(0.0);
    for r in 0..sh.rows {
        let zr = &z[r * sh.ldz..r * sh.ldz + sh.s];
        for c in (r + 1).saturating_sub(sh.b)..(r + 1).min(sh.g) {
            let x = v[r * sh.g + c];
            for (o, &a) in w[c * sh.s..(c + 1) * sh.s].iter_mut().zip(zr) {
                *o = a.mul_add(x, *o);
            }
        }
    }
}

/// `Z -= (V T) w`, reading column c of `V T` (column-major) on rows `.. c + b` only.
#[inline(always)]
fn trapezoid_update(sh: Shape, vt: &[f64], w: &[f64], z: &mut [f64]) {
    for r in 0..sh.rows {
        let zr = &mut z[r * sh.ldz..r * sh.ldz + sh.s];
        for c in (r + 1).saturating_sub(sh.b).min(sh.g)..sh.g {
            let x = -vt[c * sh.rows + r];
            for (o, &a) in zr.iter_mut().zip(&w[c * sh.s..(c + 1) * sh.s]) {
                *o = a.mul_add(x, *o);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn staircase_transpose_product_avx2(sh: Shape, v: &[f64], z: &[f64], w: &mut [f64]) {
    staircase_transpose_product(sh, v, z, w)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn trapezoid_update_avx2(sh: Shape, vt: &[f64], w: &[f64], z: &mut [f64]) {
    trapezoid_update(sh, vt, w, z)
}

/// [`staircase_transpose_product`] in tiles of 8 rows of `w` by 16 of its columns, held in
/// AVX-512 registers: per row of `Z`, two loads, eight broadcasts of `V`, sixteen FMAs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn staircase_transpose_product_avx512(sh: Shape, v: &[f64], z: &[f64], w: &mut [f64]) {
    use std::arch::x86_64::*;
    let (g8, s16) = (sh.g / 8 * 8, sh.s / 16 * 16);
    for c0 in (0..g8).step_by(8) {
        // Rows where any of columns c0 .. c0 + 8 of V is nonzero.
        let (lo, hi) = (c0, (c0 + 7 + sh.b).min(sh.rows));
        for j0 in (0..s16).step_by(16) {
            let mut acc = [[_mm512_setzero_pd(); 2]; 8];
            for r in lo..hi {
                let zr = z.as_ptr().add(r * sh.ldz + j0);
                let (a0, a1) = (_mm512_loadu_pd(zr), _mm512_loadu_pd(zr.add(8)));
                let vr = v.as_ptr().add(r * sh.g + c0);
                for q in 0..8 {
                    let x = _mm512_set1_pd(*vr.add(q));
                    acc[q][0] = _mm512_fmadd_pd(a0, x, acc[q][0]);
                    acc[q][1] = _mm512_fmadd_pd(a1, x, acc[q][1]);
                }
            }
            for q in 0..8 {
                let o = w.as_mut_ptr().add((c0 + q) * sh.s + j0);
                _mm512_storeu_pd(o, acc[q][0]);
                _mm512_storeu_pd(o.add(8), acc[q][1]);
            }
        }
    }
    // Leftover rows of w (every column), then leftover columns of w (rows done above).
    for c in 0..sh.g {
        let js = if c < g8 { s16..sh.s } else { 0..sh.s };
        for j in js {
            let mut t = 0.0;
            for r in c..(c + sh.b).min(sh.rows) {
                t += v[r * sh.g + c] * z[r * sh.ldz + j];
            }
            w[c * sh.s + j] = t;
        }
    }
}

/// [`trapezoid_update`] in tiles of 8 rows by 16 columns of `Z`, held in AVX-512 registers:
/// per column of `V T`, two loads of `w`, eight broadcasts of `V T`, sixteen FMAs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn trapezoid_update_avx512(sh: Shape, vt: &[f64], w: &[f64], z: &mut [f64]) {
    use std::arch::x86_64::*;
    let s16 = sh.s / 16 * 16;
    for r0 in (0..sh.rows).step_by(8) {
        // Columns c with c + b > r0 can reach these rows.
        let c_lo = (r0 + 1).saturating_sub(sh.b).min(sh.g);
        for j0 in (0..s16).step_by(16) {
            let mut acc = [[_mm512_setzero_pd(); 2]; 8];
            for c in c_lo..sh.g {
                let wr = w.as_ptr().add(c * sh.s + j0);
                let (a0, a1) = (_mm512_loadu_pd(wr), _mm512_loadu_pd(wr.add(8)));
                let p = vt.as_ptr().add(c * sh.rows + r0);
                for q in 0..8 {
                    let x = _mm512_set1_pd(*p.add(q));
                    acc[q][0] = _mm512_fmadd_pd(a0, x, acc[q][0]);
                    acc[q][1] = _mm512_fmadd_pd(a1, x, acc[q][1]);
                }
            }
            for q in 0..8 {
                let p = z.as_mut_ptr().add((r0 + q) * sh.ldz + j0);
                _mm512_storeu_pd(p, _mm512_sub_pd(_mm512_loadu_pd(p), acc[q][0]));
                _mm512_storeu_pd(p.add(8), _mm512_sub_pd(_mm512_loadu_pd(p.add(8)), acc[q][1]));
            }
        }
    }
    // Leftover columns of Z.
    for r in 0..sh.rows {
        for c in (r + 1).saturating_sub(sh.b).min(sh.g)..sh.g {
            let x = vt[c * sh.rows + r];
            for j in s16..sh.s {
                z[r * sh.ldz + j] -= w[c * sh.s + j] * x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of band `b` with `g` columns over `rows` rows, with made-up `V` and `V T` of the
    /// right shapes, and the dense `V`, `V T` it stands for.
    fn sample_block(b: usize, g: usize, rows: usize) -> (Block, Mat<f64>, Mat<f64>) {
        let rows_pad = rows.next_multiple_of(PAD);
        let v =
            Mat::<f64>::from_fn(rows, g, |r, c| if r >= c && r < c + b { 1.0 + ((r * 3 + c) % 5) as f64 } else { 0.0 });
        let vt =
            Mat::<f64>::from_fn(rows, g, |r, c| if r < c + b { 0.5 - ((r + 2 * c) % 7) as f64 / 7.0 } else { 0.0 });
        let mut v_rows = vec![0.0; rows_pad * g];
        let mut vt_cols = vec![0.0; rows_pad * g];
        for c in 0..g {
            for r in 0..rows {
                v_rows[r * g + c] = v[(r, c)];
                vt_cols[c * rows_pad + r] = vt[(r, c)];
            }
        }
        (Block { row: 0, rows_pad, g, v_rows, vt_cols }, v, vt)
    }

    #[test]
    fn every_kernel_computes_the_block_product() {
        // Odd sizes reach every remainder; (64, 64) is the full-tile case.
        for (b, g, rows, s) in
            [(7usize, 5usize, 11usize, 11usize), (7, 5, 3, 9), (20, 17, 36, 19), (64, 64, 127, 40), (40, 32, 20, 16)]
        {
            let (block, v, vt) = sample_block(b, g, rows);
            let rp = block.rows_pad;
            let z = Mat::<f64>::from_fn(rp, s, |r, j| if r < rows { ((r * 5 + j * 3) % 11) as f64 - 5.0 } else { 0.0 });
            let mut expected = z.clone();
            let upd = &vt * (v.transpose() * z.as_ref().subrows(0, rows));
            expected.as_mut().subrows_mut(0, rows).copy_from(z.as_ref().subrows(0, rows) - &upd);
            let mut zt1 = z.transpose().to_owned();
            let mut w = vec![0.0; g * s];
            apply_block(&block, b, zt1.as_mut(), &mut w);
            assert!((zt1.transpose() - &expected).norm_max() < 1e-9, "dispatched b={b} g={g} rows={rows}");
            let mut zt2 = z.transpose().to_owned();
            let sh = Shape { rows: rp, g, s, b, ldz: zt2.col_stride() as usize };
            let len = (rp - 1) * sh.ldz + s;
            // SAFETY: zt2 holds rp columns of s entries, ldz apart.
            let zs = unsafe { std::slice::from_raw_parts_mut(zt2.as_ptr_mut(), len) };
            staircase_transpose_product(sh, &block.v_rows, zs, &mut w);
            trapezoid_update(sh, &block.vt_cols, &w, zs);
            assert!((zt2.transpose() - &expected).norm_max() < 1e-9, "portable b={b} g={g} rows={rows}");
        }
    }
}
