//! `y = A x` for a symmetric `A` stored as its lower triangle, reading each stored entry once.
//!
//! The symmetric matrix-vector product is half of the flops of a tridiagonalisation and, being
//! one multiply-add per entry read, it is bound by memory bandwidth; reading the triangle once
//! (each column feeds both its dot product with `x` and its share of `y`) is what makes it as
//! fast as the hardware allows. Four columns are handled per pass so `y` is loaded and stored a
//! quarter as often; on x86-64 with AVX2 and FMA (checked at run time) the pass uses them.

use faer::prelude::ReborrowMut;
use faer::{ColMut, ColRef, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Below this many stored entries one thread does the whole product (fork-join would dominate).
const PARALLEL_MIN_ENTRIES: usize = 128 * 128;

/// `y = A x` with `A` symmetric (m x m), only its lower triangle `a` read; `a` must have unit row
/// stride. `scratch` is (m, t) workspace, one column per thread, t >= 1.
pub fn lower_symv(a: MatRef<'_, f64>, x: ColRef<'_, f64>, mut y: ColMut<'_, f64>, mut scratch: MatMut<'_, f64>, par: Par) {
    let m = a.nrows();
    let x: Vec<f64> = x.iter().copied().collect();
    let threads = if m * m / 2 < PARALLEL_MIN_ENTRIES { 1 } else { scratch.ncols().min(par.degree()).max(1) };
    // Column ranges of equal triangular work: part p starts at column m (1 - sqrt(1 - p / t)).
    let cut = |p: usize| ((m as f64) * (1.0 - (1.0 - p as f64 / threads as f64).sqrt())).round() as usize;
    {
        let mut parts = Vec::with_capacity(threads);
        let mut rest = scratch.rb_mut().subcols_mut(0, threads);
        for p in 0..threads {
            let (part, tail) = rest.split_at_col_mut(1);
            parts.push((cut(p), if p + 1 == threads { m } else { cut(p + 1) }, part));
            rest = tail;
        }
        let run = |(lo, hi, mut out): (usize, usize, MatMut<'_, f64>)| {
            let out = out.rb_mut().col_mut(0).try_as_col_major_mut().expect("workspace columns are contiguous");
            lower_symv_columns(a, &x, out.as_slice_mut(), lo, hi);
        };
        if threads == 1 {
            parts.into_iter().for_each(run);
        } else {
            parts.into_par_iter().for_each(run);
        }
    }
    // Part p wrote rows cut(p).. of its column; rows above it are not its business.
    for r in 0..m {
        let mut s = 0.0;
        for p in 0..threads {
            if r >= cut(p) {
                s += scratch[(r, p)];
            }
        }
        y[r] = s;
    }
}

/// The contribution of columns `lo..hi` of the lower triangle to `A x`, written to `out[lo..]`
/// (overwritten): column j adds `a[j.., j] . x[j..]` to `out[j]` and `a[i, j] x[j]` to `out[i]`, i > j.
fn lower_symv_columns(a: MatRef<'_, f64>, x: &[f64], out: &mut [f64], lo: usize, hi: usize) {
    let m = a.nrows();
    out[lo..m].fill(0.0);
    let col = |c: usize| a.col(c).try_as_col_major().expect("unit row stride").as_slice();
    let mut j = lo;
    while j < hi {
        let g = (hi - j).min(4);
        // The g x g diagonal block, entry by entry.
        for c in j..j + g {
            let cc = col(c);
            out[c] += cc[c] * x[c];
            for r in c + 1..j + g {
                out[r] += cc[r] * x[c];
                out[c] += cc[r] * x[r];
            }
        }
        let below = j + g;
        if below < m {
            if g == 4 {
                let cols = [&col(j)[below..], &col(j + 1)[below..], &col(j + 2)[below..], &col(j + 3)[below..]];
                let xs = [x[j], x[j + 1], x[j + 2], x[j + 3]];
                let dots = four_columns(cols, xs, &x[below..m], &mut out[below..m]);
                for (c, d) in dots.into_iter().enumerate() {
                    out[j + c] += d;
                }
            } else {
                for c in j..j + g {
                    let cc = &col(c)[below..];
                    let (xc, mut dot) = (x[c], 0.0);
                    for ((o, &v), &xi) in out[below..m].iter_mut().zip(cc).zip(&x[below..m]) {
                        *o += v * xc;
                        dot += v * xi;
                    }
                    out[c] += dot;
                }
            }
        }
        j += g;
    }
}

/// For four column slices `cols` (same length as `xr` and `yr`): `yr += sum_c cols[c] xs[c]`, and
/// returns the dot products `cols[c] . xr`.
fn four_columns(cols: [&[f64]; 4], xs: [f64; 4], xr: &[f64], yr: &mut [f64]) -> [f64; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for (checked above).
            return unsafe { four_columns_avx2_fma(cols, xs, xr, yr) };
        }
    }
    let mut dots = [0.0; 4];
    for i in 0..yr.len() {
        let xi = xr[i];
        let mut yi = yr[i];
        for c in 0..4 {
            let v = cols[c][i];
            yi += v * xs[c];
            dots[c] += v * xi;
        }
        yr[i] = yi;
    }
    dots
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn four_columns_avx2_fma(cols: [&[f64]; 4], xs: [f64; 4], xr: &[f64], yr: &mut [f64]) -> [f64; 4] {
    use std::arch::x86_64::*;
    let len = yr.len();
    assert!(xr.len() == len && cols.iter().all(|c| c.len() == len));
    let xb = [_mm256_set1_pd(xs[0]), _mm256_set1_pd(xs[1]), _mm256_set1_pd(xs[2]), _mm256_set1_pd(xs[3])];
    let mut acc = [_mm256_setzero_pd(); 4];
    let mut i = 0;
    // SAFETY (loads and stores): i + 4 <= len for every slice, checked by the loop condition.
    while i + 4 <= len {
        let xv = _mm256_loadu_pd(xr.as_ptr().add(i));
        let a0 = _mm256_loadu_pd(cols[0].as_ptr().add(i));
        let a1 = _mm256_loadu_pd(cols[1].as_ptr().add(i));
        let a2 = _mm256_loadu_pd(cols[2].as_ptr().add(i));
        let a3 = _mm256_loadu_pd(cols[3].as_ptr().add(i));
        let t01 = _mm256_fmadd_pd(a1, xb[1], _mm256_mul_pd(a0, xb[0]));
        let t23 = _mm256_fmadd_pd(a3, xb[3], _mm256_mul_pd(a2, xb[2]));
        let yv = _mm256_add_pd(_mm256_loadu_pd(yr.as_ptr().add(i)), _mm256_add_pd(t01, t23));
        _mm256_storeu_pd(yr.as_mut_ptr().add(i), yv);
        acc[0] = _mm256_fmadd_pd(a0, xv, acc[0]);
        acc[1] = _mm256_fmadd_pd(a1, xv, acc[1]);
        acc[2] = _mm256_fmadd_pd(a2, xv, acc[2]);
        acc[3] = _mm256_fmadd_pd(a3, xv, acc[3]);
        i += 4;
    }
    let mut dots = [0.0; 4];
    for c in 0..4 {
        let mut lanes = [0.0; 4];
        _mm256_storeu_pd(lanes.as_mut_ptr(), acc[c]);
        dots[c] = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    }
    while i < len {
        let xi = xr[i];
        let mut yi = yr[i];
        for c in 0..4 {
            let v = cols[c][i];
            yi += v * xs[c];
            dots[c] += v * xi;
        }
        yr[i] = yi;
        i += 1;
    }
    dots
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::{Col, Mat};

    #[test]
    fn matches_the_full_product_for_any_size_and_thread_count() {
        for m in [1usize, 2, 3, 5, 7, 8, 13, 130, 257] {
            let full = Mat::<f64>::from_fn(m, m, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0 + if i == j { 0.5 } else { 0.0 });
            let sym = Mat::<f64>::from_fn(m, m, |i, j| full[(i.max(j), i.min(j))]);
            // Garbage above the diagonal must be ignored.
            let lower = Mat::<f64>::from_fn(m, m, |i, j| if i >= j { sym[(i, j)] } else { f64::NAN });
            let x = Col::<f64>::from_fn(m, |i| (i as f64 * 0.37).sin());
            let expected = &sym * &x;
            for threads in [1usize, 2, 3] {
                let mut y = Col::<f64>::zeros(m);
                let mut scratch = Mat::<f64>::zeros(m, threads);
                lower_symv(lower.as_ref(), x.as_ref(), y.as_mut(), scratch.as_mut(), Par::rayon(threads));
                for i in 0..m {
                    assert!((y[i] - expected[i]).abs() <= 1e-12 * (1.0 + expected[i].abs()), "m={m} t={threads} i={i}");
                }
            }
        }
    }
}
