//! `Z <- Q2 Z` for the reflectors of a bulge chase, in blocks, so the work is matrix products.
//!
//! Reflector `(i, t)` of the chase acts on rows `i + 1 + t b ..` (at most `b` of them). Two
//! reflectors whose row ranges are disjoint commute, and the only overlapping pairs are
//! `(i, t)` with `(j, t)` or `(j, t - 1)` for `j > i`, created in that order. So for a group of
//! `g <= b` consecutive sweeps `i0 .. i0 + g`, the reflectors with the same `t` form one block
//! reflector `G_t = H_(i0, t) ... H_(i0 + g - 1, t) = I - V T V^T` on `b + g - 1` rows (`V` is a
//! staircase: column `c` holds reflector `(i0 + c, t)` from row `c` on), and
//! `Q2 = prod_groups (G_tmax ... G_1 G_0)` with the groups in sweep order. Applying each `G_t`
//! to all wanted columns at once is two matrix products of inner dimension about `2 b`.

use faer::prelude::ReborrowMut;
use faer::{Mat, MatMut, Par};
use rayon::prelude::*;

use super::bulge_chasing::ChaseReflectors;

/// Columns of `Z` per independent task: each task applies every block to its own columns.
const STRIP: usize = 256;

/// One block reflector `I - V T V^T` on rows `row .. row + V.nrows()`, kept as `V` and `V T`.
struct Block {
    row: usize,
    v: Mat<f64>,
    vt: Mat<f64>,
}

/// `z <- Q2 z` (`z` is n x k).
pub(super) fn apply_chase_reflectors(refl: &ChaseReflectors, mut z: MatMut<'_, f64>, par: Par) {
    let (n, b) = (refl.n, refl.b);
    let sweeps = refl.sweeps();
    let g = b;
    let groups = sweeps.div_ceil(g);
    let k = z.ncols();
    for group in (0..groups).rev() {
        let i0 = group * g;
        let gi = g.min(sweeps - i0);
        let mut blocks = Vec::new();
        let mut t = 0;
        while refl.get(i0, t).is_some() {
            if let Some(block) = group_block(refl, i0, gi, t, n, b) {
                blocks.push(block);
            }
            t += 1;
        }
        let apply = |mut zs: MatMut<'_, f64>| {
            let mut w = vec![0.0; g * zs.ncols()];
            for block in &blocks {
                let sub = zs.rb_mut().subrows_mut(block.row, block.v.nrows());
                apply_block(block, b, sub, &mut w);
            }
        };
        let width = STRIP.min(k.div_ceil(par.degree().max(1))).max(1);
        if par.degree() > 1 && k > width {
            split_columns(z.rb_mut(), width).into_par_iter().for_each(apply);
        } else {
            apply(z.rb_mut());
        }
    }
}

/// `z <- (I - V T V^T) z` for one block (`z` holds the block's rows), `w` workspace of at least
/// `g * z.ncols()` entries. Both products skip the zeros of the staircase: `V[r, c] = 0` unless
/// `c <= r < c + b`, and `(V T)[r, c] = 0` for `r >= c + b`.
fn apply_block(block: &Block, b: usize, mut z: MatMut<'_, f64>, w: &mut [f64]) {
    let (rows, g, s) = (block.v.nrows(), block.v.ncols(), z.ncols());
    let w = &mut w[..g * s];
    let zs = z.rb_mut().try_as_col_major_mut().expect("unit row stride");
    let ldz = zs.col_stride() as usize;
    // SAFETY: the views have the shapes the kernels are given; columns are contiguous.
    let (zp, vp, vtp) = (zs.as_ptr_mut(), block.v.as_ptr(), block.vt.as_ptr());
    let (ldv, ldvt) = (block.v.col_stride() as usize, block.vt.col_stride() as usize);
    let z = unsafe { std::slice::from_raw_parts_mut(zp, if s == 0 { 0 } else { (s - 1) * ldz + rows }) };
    let v = unsafe { std::slice::from_raw_parts(vp, (g - 1) * ldv + rows) };
    let vt = unsafe { std::slice::from_raw_parts(vtp, (g - 1) * ldvt + rows) };
    let shape = Shape { rows, g, s, b, ldz, ldv, ldvt };
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the functions are compiled for.
            unsafe {
                staircase_transpose_product_avx2(shape, v, z, w);
                trapezoid_update_avx2(shape, vt, w, z);
            }
            return;
        }
    }
    staircase_transpose_product(shape, v, z, w);
    trapezoid_update(shape, vt, w, z);
}

/// Dimensions of one block application: `rows x g` reflectors (column stride `ldv`, and `ldvt`
/// for `V T`), `rows x s` columns of `Z` (column stride `ldz`), band `b`.
#[derive(Clone, Copy)]
struct Shape {
    rows: usize,
    g: usize,
    s: usize,
    b: usize,
    ldz: usize,
    ldv: usize,
    ldvt: usize,
}

/// `w = V^T z` (`w` is g x s, row-major), reading column c of `V` on rows `c .. c + b` only.
fn staircase_transpose_product(sh: Shape, v: &[f64], z: &[f64], w: &mut [f64]) {
    for c in 0..sh.g {
        let (lo, hi) = (c, (c + sh.b).min(sh.rows));
        if lo >= hi {
            w[c * sh.s..(c + 1) * sh.s].fill(0.0);
            continue;
        }
        let vc = &v[c * sh.ldv + lo..c * sh.ldv + hi];
        for j in 0..sh.s {
            let zc = &z[j * sh.ldz + lo..j * sh.ldz + hi];
            w[c * sh.s + j] = vc.iter().zip(zc).map(|(a, b)| a * b).sum();
        }
    }
}

/// `z -= (V T) w`, reading column c of `V T` on rows `.. c + b` only.
fn trapezoid_update(sh: Shape, vt: &[f64], w: &[f64], z: &mut [f64]) {
    for j in 0..sh.s {
        for c in 0..sh.g {
            let hi = (c + sh.b).min(sh.rows);
            let x = w[c * sh.s + j];
            let vc = &vt[c * sh.ldvt..c * sh.ldvt + hi];
            for (zi, &a) in z[j * sh.ldz..j * sh.ldz + hi].iter_mut().zip(vc) {
                *zi -= a * x;
            }
        }
    }
}

/// [`staircase_transpose_product`] with 2 x 4 tiles of `w` held in AVX registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn staircase_transpose_product_avx2(sh: Shape, v: &[f64], z: &[f64], w: &mut [f64]) {
    use std::arch::x86_64::*;
    let hsum = |x: __m256d| -> f64 {
        let mut l = [0.0; 4];
        _mm256_storeu_pd(l.as_mut_ptr(), x);
        (l[0] + l[1]) + (l[2] + l[3])
    };
    let (g2, s4) = (sh.g / 2 * 2, sh.s / 4 * 4);
    for c in (0..g2).step_by(2) {
        // Rows of columns c and c + 1 together; V's stored zeros fill the difference.
        let (lo, hi) = (c, (c + 1 + sh.b).min(sh.rows).max(c));
        let len4 = (hi - lo) / 4 * 4;
        let (v0, v1) = (v.as_ptr().add(c * sh.ldv), v.as_ptr().add((c + 1) * sh.ldv));
        for j in (0..s4).step_by(4) {
            let zc = [0, 1, 2, 3].map(|q| z.as_ptr().add((j + q) * sh.ldz));
            let mut acc = [[_mm256_setzero_pd(); 4]; 2];
            let mut r = lo;
            while r < lo + len4 {
                let a0 = _mm256_loadu_pd(v0.add(r));
                let a1 = _mm256_loadu_pd(v1.add(r));
                for q in 0..4 {
                    let x = _mm256_loadu_pd(zc[q].add(r));
                    acc[0][q] = _mm256_fmadd_pd(a0, x, acc[0][q]);
                    acc[1][q] = _mm256_fmadd_pd(a1, x, acc[1][q]);
                }
                r += 4;
            }
            for q in 0..4 {
                let (mut t0, mut t1) = (hsum(acc[0][q]), hsum(acc[1][q]));
                for rr in r..hi {
                    let x = *zc[q].add(rr);
                    t0 += *v0.add(rr) * x;
                    t1 += *v1.add(rr) * x;
                }
                w[c * sh.s + j + q] = t0;
                w[(c + 1) * sh.s + j + q] = t1;
            }
        }
        for j in s4..sh.s {
            for cc in [c, c + 1] {
                let mut t = 0.0;
                for rr in lo..hi {
                    t += v[cc * sh.ldv + rr] * z[j * sh.ldz + rr];
                }
                w[cc * sh.s + j] = t;
            }
        }
    }
    if g2 < sh.g {
        let c = g2;
        for j in 0..sh.s {
            let mut t = 0.0;
            for rr in c..(c + sh.b).min(sh.rows) {
                t += v[c * sh.ldv + rr] * z[j * sh.ldz + rr];
            }
            w[c * sh.s + j] = t;
        }
    }
}

/// [`trapezoid_update`] with 8 x 4 tiles of `z` held in AVX registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn trapezoid_update_avx2(sh: Shape, vt: &[f64], w: &[f64], z: &mut [f64]) {
    use std::arch::x86_64::*;
    let (r8, s4) = (sh.rows / 8 * 8, sh.s / 4 * 4);
    for j in (0..s4).step_by(4) {
        let zc = [0, 1, 2, 3].map(|q| z.as_mut_ptr().add((j + q) * sh.ldz));
        for r in (0..r8).step_by(8) {
            // Columns c with c + b > r can reach these rows.
            let c_lo = (r + 1).saturating_sub(sh.b);
            let mut acc = [[_mm256_setzero_pd(); 4]; 2];
            for c in c_lo..sh.g {
                let p = vt.as_ptr().add(c * sh.ldvt + r);
                let (a0, a1) = (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)));
                let wr = w.as_ptr().add(c * sh.s + j);
                for q in 0..4 {
                    let x = _mm256_broadcast_sd(&*wr.add(q));
                    acc[0][q] = _mm256_fmadd_pd(a0, x, acc[0][q]);
                    acc[1][q] = _mm256_fmadd_pd(a1, x, acc[1][q]);
                }
            }
            for q in 0..4 {
                let p = zc[q].add(r);
                _mm256_storeu_pd(p, _mm256_sub_pd(_mm256_loadu_pd(p), acc[0][q]));
                _mm256_storeu_pd(p.add(4), _mm256_sub_pd(_mm256_loadu_pd(p.add(4)), acc[1][q]));
            }
        }
        // Leftover rows.
        for q in 0..4 {
            for rr in r8..sh.rows {
                let c_lo = (rr + 1).saturating_sub(sh.b);
                let mut t = 0.0;
                for c in c_lo..sh.g {
                    t += vt[c * sh.ldvt + rr] * w[c * sh.s + j + q];
                }
                *zc[q].add(rr) -= t;
            }
        }
    }
    // Leftover columns.
    for j in s4..sh.s {
        for c in 0..sh.g {
            let hi = (c + sh.b).min(sh.rows);
            let x = w[c * sh.s + j];
            for rr in 0..hi {
                z[j * sh.ldz + rr] -= vt[c * sh.ldvt + rr] * x;
            }
        }
    }
}

/// Views of consecutive column strips of `z`, `width` columns each (the last may be narrower).
fn split_columns(z: MatMut<'_, f64>, width: usize) -> Vec<MatMut<'_, f64>> {
    let mut out = Vec::new();
    let mut rest = z;
    while rest.ncols() > width {
        let (left, right) = rest.split_at_col_mut(width);
        out.push(left);
        rest = right;
    }
    out.push(rest);
    out
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
    Some(Block { row, v, vt })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_kernels_match_the_portable_ones() {
        // A staircase V (rows x g, band b) and its trapezoid V T, odd sizes to reach every tail.
        let (b, g, s) = (7usize, 5usize, 11usize);
        for rows in [b + g - 1, 9, 4, 3] {
            let v = Mat::<f64>::from_fn(rows, g, |r, c| if r >= c && r < c + b { 1.0 + ((r * 3 + c) % 5) as f64 } else { 0.0 });
            let vt = Mat::<f64>::from_fn(rows, g, |r, c| if r < c + b { 0.5 - ((r + 2 * c) % 7) as f64 / 7.0 } else { 0.0 });
            let z = Mat::<f64>::from_fn(rows, s, |r, j| ((r * 5 + j * 3) % 11) as f64 - 5.0);
            let block = Block { row: 0, v, vt };
            let (mut z1, mut z2) = (z.clone(), z.clone());
            let (mut w1, mut w2) = (vec![0.0; g * s], vec![0.0; g * s]);
            apply_block(&block, b, z1.as_mut(), &mut w1);
            let sh = Shape { rows, g, s, b, ldz: z2.col_stride() as usize, ldv: block.v.col_stride() as usize, ldvt: block.vt.col_stride() as usize };
            let zlen = (s - 1) * sh.ldz + rows;
            let zs = unsafe { std::slice::from_raw_parts_mut(z2.as_ptr_mut(), zlen) };
            let vs = unsafe { std::slice::from_raw_parts(block.v.as_ptr(), (g - 1) * sh.ldv + rows) };
            let vts = unsafe { std::slice::from_raw_parts(block.vt.as_ptr(), (g - 1) * sh.ldvt + rows) };
            staircase_transpose_product(sh, vs, zs, &mut w2);
            trapezoid_update(sh, vts, &w2, zs);
            // The exact product, from dense matrices.
            let expected = &z - &block.vt * (block.v.transpose() * &z);
            assert!((&z1 - &expected).norm_max() < 1e-10, "rows={rows}");
            assert!((&z2 - &expected).norm_max() < 1e-10, "rows={rows}");
        }
    }
}
