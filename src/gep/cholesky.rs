//! The Cholesky factor of the right-hand matrix, with a failure that says where and by how much.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch, LltError};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Mat, MatRef, Par};

use crate::error::{Error, Result};

/// Lower Cholesky factor of `scale * (B + shift I)` (only the lower triangle is meaningful).
///
/// A failure names the pivot and the value of the Schur complement there (in the units of `B`);
/// `what` names the matrix. A pivot at rounding level, at most `d eps B_jj` (the backward error of
/// the factorisation in that column), fails too: column j of `B` is then a combination of the
/// previous ones to working precision (duplicated features, fewer samples than features without
/// noise), and a factor built on that pivot would turn rounding errors into the solution.
/// Relative to `B_jj`, the test does not depend on how the features are scaled.
pub fn cholesky(b: MatRef<'_, f64>, shift: f64, scale: f64, what: &str, par: Par) -> Result<Mat<f64>> {
    let d = b.nrows();
    if shift == 0.0 && (0..d).all(|i| b[(i, i)] == 0.0) {
        // The usual advice, ridge, is relative to trace(B) / d = 0 here and cannot help.
        return Err(Error::Numerical(format!(
            "{what} is zero: the data (and the augmentation) have no variance in any feature, so there is nothing \
             to fit and ridge, relative to trace({what}) / d, cannot help; check the data (all zeros?) or add noise"
        )));
    }
    let mut l = Mat::from_fn(d, d, |i, j| scale * (b[(i, j)] + if i == j { shift } else { 0.0 }));
    let diagonal: Vec<f64> = (0..d).map(|i| l[(i, i)]).collect();
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(d, par, Default::default()));
    let outcome = cholesky_in_place(l.as_mut(), Default::default(), par, MemStack::new(&mut mem), Default::default());
    match outcome {
        Ok(_) => {
            let rounding = d as f64 * f64::EPSILON;
            match (0..d).find(|&j| l[(j, j)] * l[(j, j)] <= rounding * diagonal[j]) {
                Some(j) => Err(Error::NotPositiveDefinite {
                    what: what.to_string(),
                    pivot: j,
                    value: l[(j, j)] * l[(j, j)] / scale,
                }),
                None => Ok(l),
            }
        }
        Err(LltError::NonPositivePivot { index: j }) => {
            // Columns 0..j of the factor are complete: the failing pivot is the Schur complement
            // B[j, j] - |z|^2 with L[:j, :j] z = B[:j, j].
            let mut z = Mat::from_fn(j, 1, |i, _| scale * b[(i, j)]);
            solve_lower_triangular_in_place(l.as_ref().submatrix(0, 0, j, j), z.as_mut(), Par::Seq);
            let value = (scale * (b[(j, j)] + shift) - z.squared_norm_l2()) / scale;
            Err(Error::NotPositiveDefinite { what: what.to_string(), pivot: j, value })
        }
    }
}
