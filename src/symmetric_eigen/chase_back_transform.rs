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

use faer::linalg::matmul::matmul;
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, Par};
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
        let apply = |mut zs: MatMut<'_, f64>, inner: Par| {
            for block in &blocks {
                let rows = block.v.nrows();
                let mut sub = zs.rb_mut().subrows_mut(block.row, rows);
                let mut w = Mat::<f64>::zeros(block.v.ncols(), sub.ncols());
                matmul(w.as_mut(), Accum::Replace, block.v.transpose(), sub.rb(), 1.0, inner);
                matmul(sub.rb_mut(), Accum::Add, block.vt.as_ref(), w.as_ref(), -1.0, inner);
            }
        };
        let threads = par.degree();
        if threads > 1 && k >= 2 * STRIP.min(k.div_ceil(threads)) && k > 1 {
            let width = STRIP.min(k.div_ceil(threads));
            let strips: Vec<MatMut<'_, f64>> = split_columns(z.rb_mut(), width);
            strips.into_par_iter().for_each(|zs| apply(zs, Par::Seq));
        } else {
            apply(z.rb_mut(), par);
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
