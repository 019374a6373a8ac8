//! Transposing copy of a row-major block into a column-major buffer.
//!
//! The moment accumulator multiplies `B^T B` where `B` is a block of rows of `X`. faer's gemm
//! kernel streams its right operand unpacked, which is fast only when that operand is
//! column-major; NumPy arrays are usually C-ordered (row-major). Copying each block once into a
//! column-major buffer costs O(rows x d) against O(rows x d^2) for the product, provided the copy
//! itself runs near memory speed: hence the 4 x 4 (f64) and 8 x 8 (f32) AVX register transposes,
//! with a cache-tiled scalar loop as the portable fallback.

use faer::MatRef;

/// Side of the square tiles of the scalar fallback (a 16 x 16 tile of f64 is 2 KiB: L1 resident).
const TILE: usize = 16;

/// Element types with a fast transposing copy.
pub trait Transpose: Copy + 'static {
    /// Copy `src` (m x d, column stride 1) into `dst` as a column-major m x d matrix with
    /// leading dimension m: `dst[j * m + i] = src[(i, j)]`. `dst.len()` must be at least `m * d`.
    fn transpose_into(dst: &mut [Self], src: MatRef<'_, Self>);
}

impl Transpose for f64 {
    fn transpose_into(dst: &mut [f64], src: MatRef<'_, f64>) {
        check_args(dst.len(), src);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is available (checked above) and `check_args` validated the extents.
            unsafe { x86::transpose_f64_avx(dst, src) };
            return;
        }
        transpose_tiled(dst, src);
    }
}

impl Transpose for f32 {
    fn transpose_into(dst: &mut [f32], src: MatRef<'_, f32>) {
        check_args(dst.len(), src);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is available (checked above) and `check_args` validated the extents.
            unsafe { x86::transpose_f32_avx(dst, src) };
            return;
        }
        transpose_tiled(dst, src);
    }
}

/// `a <- (a + a^T) / 2` in place (square `a`): removes the rounding asymmetry of an elementwise
/// map in one tiled pass over the matrix, where NumPy's `0.5 * (a + a.T)` makes two temporaries.
pub fn symmetrize_in_place(mut a: faer::MatMut<'_, f64>) {
    assert_eq!(a.nrows(), a.ncols(), "symmetrize_in_place needs a square matrix");
    let d = a.nrows();
    for jb in (0..d).step_by(TILE) {
        for ib in (jb..d).step_by(TILE) {
            for j in jb..(jb + TILE).min(d) {
                for i in ib.max(j + 1)..(ib + TILE).min(d) {
                    let v = 0.5 * (a[(i, j)] + a[(j, i)]);
                    a[(i, j)] = v;
                    a[(j, i)] = v;
                }
            }
        }
    }
}

fn check_args<T>(len: usize, src: MatRef<'_, T>) {
    assert!(src.col_stride() == 1 || src.ncols() <= 1, "transpose_into needs unit column stride");
    assert!(src.row_stride() >= 0, "transpose_into needs a non-negative row stride");
    assert!(len >= src.nrows() * src.ncols(), "transpose_into: destination too small");
}

/// Portable cache-tiled transpose (also handles the ragged edges of the SIMD versions).
fn transpose_tiled<T: Copy>(dst: &mut [T], src: MatRef<'_, T>) {
    let (m, d) = (src.nrows(), src.ncols());
    for jb in (0..d).step_by(TILE) {
        let je = (jb + TILE).min(d);
        for ib in (0..m).step_by(TILE) {
            let ie = (ib + TILE).min(m);
            for j in jb..je {
                let col = &mut dst[j * m + ib..j * m + ie];
                for (out, i) in col.iter_mut().zip(ib..ie) {
                    *out = src[(i, j)];
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use faer::MatRef;

    /// Rows/columns per cache tile of the SIMD versions (multiple of 8).
    const BLOCK: usize = 32;

    /// Copy the ragged right and bottom edges that the register kernels skip.
    fn edges<T: Copy>(dst: &mut [T], src: MatRef<'_, T>, m_main: usize, d_main: usize) {
        let (m, d) = (src.nrows(), src.ncols());
        for j in 0..d {
            let rows = if j < d_main { m_main..m } else { 0..m };
            for i in rows {
                dst[j * m + i] = src[(i, j)];
            }
        }
    }

    /// # Safety
    /// AVX must be available; `dst.len() >= m * d`; `src` has unit column stride and
    /// non-negative row stride.
    #[target_feature(enable = "avx")]
    pub unsafe fn transpose_f64_avx(dst: &mut [f64], src: MatRef<'_, f64>) {
        let (m, d) = (src.nrows(), src.ncols());
        let rs = src.row_stride() as usize;
        let (m4, d4) = (m / 4 * 4, d / 4 * 4);
        let s = src.as_ptr();
        let o = dst.as_mut_ptr();
        for jb in (0..d4).step_by(BLOCK) {
            let je = (jb + BLOCK).min(d4);
            for ib in (0..m4).step_by(BLOCK) {
                let ie = (ib + BLOCK).min(m4);
                for j in (jb..je).step_by(4) {
                    for i in (ib..ie).step_by(4) {
                        // SAFETY: i + 3 < m and j + 3 < d, so every read lies inside `src`
                        // and every write inside the first m * d elements of `dst`.
                        unsafe {
                            let r0 = _mm256_loadu_pd(s.add(i * rs + j));
                            let r1 = _mm256_loadu_pd(s.add((i + 1) * rs + j));
                            let r2 = _mm256_loadu_pd(s.add((i + 2) * rs + j));
                            let r3 = _mm256_loadu_pd(s.add((i + 3) * rs + j));
                            let t0 = _mm256_unpacklo_pd(r0, r1);
                            let t1 = _mm256_unpackhi_pd(r0, r1);
                            let t2 = _mm256_unpacklo_pd(r2, r3);
                            let t3 = _mm256_unpackhi_pd(r2, r3);
                            _mm256_storeu_pd(o.add(j * m + i), _mm256_permute2f128_pd(t0, t2, 0x20));
                            _mm256_storeu_pd(o.add((j + 1) * m + i), _mm256_permute2f128_pd(t1, t3, 0x20));
                            _mm256_storeu_pd(o.add((j + 2) * m + i), _mm256_permute2f128_pd(t0, t2, 0x31));
                            _mm256_storeu_pd(o.add((j + 3) * m + i), _mm256_permute2f128_pd(t1, t3, 0x31));
                        }
                    }
                }
            }
        }
        edges(dst, src, m4, d4);
    }

    /// # Safety
    /// Same contract as [`transpose_f64_avx`].
    #[target_feature(enable = "avx")]
    pub unsafe fn transpose_f32_avx(dst: &mut [f32], src: MatRef<'_, f32>) {
        let (m, d) = (src.nrows(), src.ncols());
        let rs = src.row_stride() as usize;
        let (m8, d8) = (m / 8 * 8, d / 8 * 8);
        let s = src.as_ptr();
        let o = dst.as_mut_ptr();
        for jb in (0..d8).step_by(BLOCK) {
            let je = (jb + BLOCK).min(d8);
            for ib in (0..m8).step_by(BLOCK) {
                let ie = (ib + BLOCK).min(m8);
                for j in (jb..je).step_by(8) {
                    for i in (ib..ie).step_by(8) {
                        // SAFETY: i + 7 < m and j + 7 < d, so every access is in bounds.
                        unsafe {
                            // Macros rather than closures: closures would not inherit `avx`.
                            macro_rules! row {
                                ($k:expr) => {
                                    _mm256_loadu_ps(s.add((i + $k) * rs + j))
                                };
                            }
                            let (r0, r1, r2, r3) = (row!(0), row!(1), row!(2), row!(3));
                            let (r4, r5, r6, r7) = (row!(4), row!(5), row!(6), row!(7));
                            let t0 = _mm256_unpacklo_ps(r0, r1);
                            let t1 = _mm256_unpackhi_ps(r0, r1);
                            let t2 = _mm256_unpacklo_ps(r2, r3);
                            let t3 = _mm256_unpackhi_ps(r2, r3);
                            let t4 = _mm256_unpacklo_ps(r4, r5);
                            let t5 = _mm256_unpackhi_ps(r4, r5);
                            let t6 = _mm256_unpacklo_ps(r6, r7);
                            let t7 = _mm256_unpackhi_ps(r6, r7);
                            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                            macro_rules! col {
                                ($c:expr) => {
                                    o.add((j + $c) * m + i)
                                };
                            }
                            _mm256_storeu_ps(col!(0), _mm256_permute2f128_ps::<0x20>(u0, u4));
                            _mm256_storeu_ps(col!(1), _mm256_permute2f128_ps::<0x20>(u1, u5));
                            _mm256_storeu_ps(col!(2), _mm256_permute2f128_ps::<0x20>(u2, u6));
                            _mm256_storeu_ps(col!(3), _mm256_permute2f128_ps::<0x20>(u3, u7));
                            _mm256_storeu_ps(col!(4), _mm256_permute2f128_ps::<0x31>(u0, u4));
                            _mm256_storeu_ps(col!(5), _mm256_permute2f128_ps::<0x31>(u1, u5));
                            _mm256_storeu_ps(col!(6), _mm256_permute2f128_ps::<0x31>(u2, u6));
                            _mm256_storeu_ps(col!(7), _mm256_permute2f128_ps::<0x31>(u3, u7));
                        }
                    }
                }
            }
        }
        edges(dst, src, m8, d8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: Transpose + PartialEq + std::fmt::Debug>(make: impl Fn(usize, usize) -> T) {
        for &(m, d) in &[(1, 1), (3, 5), (8, 8), (13, 37), (64, 33), (100, 4), (7, 129)] {
            // m x (d + 2) row-major storage; view its columns 1..=d (row stride d + 2).
            let storage: Vec<T> = (0..m * (d + 2)).map(|k| make(k / (d + 2), k % (d + 2))).collect();
            let full = MatRef::from_row_major_slice(&storage, m, d + 2);
            let src = full.subcols(1, d);
            let mut dst = vec![make(0, 0); m * d];
            T::transpose_into(&mut dst, src);
            for j in 0..d {
                for i in 0..m {
                    assert_eq!(dst[j * m + i], make(i, j + 1), "m={m} d={d} i={i} j={j}");
                }
            }
            let mut tiled = vec![make(0, 0); m * d];
            transpose_tiled(&mut tiled, src);
            assert_eq!(tiled, dst);
        }
    }

    #[test]
    fn f64_matches_elementwise_copy() {
        check(|i, j| (i * 1000 + j) as f64);
    }

    #[test]
    fn f32_matches_elementwise_copy() {
        check(|i, j| (i * 1000 + j) as f32);
    }
}
