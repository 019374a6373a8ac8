//! Validation shared by every solver entry point: symmetric inputs, the arguments `k`, `ridge`
//! and `tol` (one set of messages, used by the Python bindings too), the exact power-of-two
//! scaling of inputs, and the refusal of results that overflow.

use faer::MatRef;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::finite::report_first;

/// Largest relative asymmetry `max |M - M^T| / max |M|` accepted as rounding noise.
pub const SYMMETRY_TOL: f64 = 1e-8;

/// From this dimension on, [`check_symmetric`] reads the matrix on all of rayon's threads
/// (below it, forking costs more than reading, which matters for the many small problems of a
/// batch).
const PARALLEL_CHECK_MIN_DIM: usize = 512;

/// Size of a validated symmetric matrix, from the same pass that validated it.
#[derive(Clone, Copy, Debug)]
pub struct SymmetricNorms {
    /// `max |m_ij|`.
    pub max_abs: f64,
    /// Frobenius norm `sqrt(sum m_ij^2)`, computed without overflow or underflow.
    pub frobenius: f64,
}

/// Check that `m` is square, finite and symmetric up to [`SYMMETRY_TOL`]; returns its norms.
///
/// One read of the matrix, split across rayon's threads by strips of columns. A non-finite entry
/// is reported as the first one in row-major order ([`crate::finite`]).
pub fn check_symmetric(name: &str, m: MatRef<'_, f64>) -> Result<SymmetricNorms> {
    if m.nrows() != m.ncols() {
        return Err(Error::Shape(format!("{name} must be square; got shape ({}, {})", m.nrows(), m.ncols())));
    }
    let d = m.nrows();
    // Tiles keep both m[(i, j)] and its mirror m[(j, i)] in cache (d^2 reads, one pass).
    const TILE: usize = 64;
    struct Strip {
        scale: f64,
        asym: f64,
        squares: f64,
        finite: bool,
    }
    let strip = |jb: usize| {
        let mut out = Strip { scale: 0.0, asym: 0.0, squares: 0.0, finite: true };
        for ib in (jb..d).step_by(TILE) {
            for j in jb..(jb + TILE).min(d) {
                for i in ib.max(j)..(ib + TILE).min(d) {
                    let (a, b) = (m[(i, j)], m[(j, i)]);
                    if !a.is_finite() || !b.is_finite() {
                        out.finite = false;
                        return out;
                    }
                    out.scale = out.scale.max(a.abs());
                    out.asym = out.asym.max((a - b).abs());
                    out.squares += if i == j { a * a } else { a * a + b * b };
                }
            }
        }
        out
    };
    let starts: Vec<usize> = (0..d).step_by(TILE).collect();
    let strips: Vec<Strip> = if d < PARALLEL_CHECK_MIN_DIM {
        starts.into_iter().map(strip).collect()
    } else {
        starts.into_par_iter().map(strip).collect()
    };
    if strips.iter().any(|s| !s.finite) {
        report_first(m, name, 0, 0)?;
    }
    let scale = strips.iter().fold(0.0f64, |acc, s| acc.max(s.scale));
    let asym = strips.iter().fold(0.0f64, |acc, s| acc.max(s.asym));
    if asym > SYMMETRY_TOL * scale {
        return Err(Error::InvalidArgument(format!(
            "{name} is not symmetric: max |{name} - {name}^T| / max |{name}| = {:.2e} > {SYMMETRY_TOL:.0e}; \
             pass ({name} + {name}.T) / 2 if the asymmetry is rounding noise",
            asym / scale
        )));
    }
    let squares: f64 = strips.iter().map(|s| s.squares).sum();
    Ok(SymmetricNorms { max_abs: scale, frobenius: frobenius_from_squares(m, squares, scale) })
}

/// `sqrt(squares)`, or, when the plain sum of squares overflowed or lost precision to underflow,
/// the norm recomputed on the matrix scaled by an exact power of two (as LAPACK's `dlassq` avoids
/// both). Ordinary matrices pay nothing: the second pass runs only at the extremes of the range.
fn frobenius_from_squares(m: MatRef<'_, f64>, squares: f64, max_abs: f64) -> f64 {
    // Below this, squares of entries near max_abs may have been flushed to (sub)normals.
    let tiny = f64::MIN_POSITIVE / f64::EPSILON;
    if squares.is_finite() && (squares >= tiny || max_abs == 0.0) {
        return squares.sqrt();
    }
    let s = power_of_two_scale(max_abs, false);
    let sum: f64 = (0..m.ncols()).map(|j| m.col(j).iter().map(|&x| (x * s) * (x * s)).sum::<f64>()).sum();
    sum.sqrt() / s
}

/// Check that a general matrix is finite; returns its norms (`max_abs`, and the Frobenius norm
/// without overflow or underflow). One read; the first non-finite entry in row-major order is named.
pub fn check_general(name: &str, m: MatRef<'_, f64>) -> Result<SymmetricNorms> {
    let (mut max_abs, mut squares, mut finite) = (0.0f64, 0.0f64, true);
    for j in 0..m.ncols() {
        for &x in m.col(j).iter() {
            finite &= x.is_finite();
            max_abs = max_abs.max(x.abs());
            squares += x * x;
        }
    }
    if !finite {
        report_first(m, name, 0, 0)?;
    }
    Ok(SymmetricNorms { max_abs, frobenius: frobenius_from_squares(m, squares, max_abs) })
}

/// The number of pairs wanted, validated against the dimension `d`. An empty problem (d = 0) is
/// refused as such: no `k` could be right, and the caller may not have passed one.
pub fn check_k(k: i64, d: usize) -> Result<usize> {
    if d == 0 {
        return Err(Error::Shape("the problem is empty (d = 0): there are no pairs to compute".into()));
    }
    if k < 1 || k as u64 > d as u64 {
        return Err(Error::InvalidArgument(format!("k must be between 1 and d = {d}; got {k}")));
    }
    Ok(k as usize)
}

/// `ridge` must be finite and non-negative.
pub fn check_ridge(ridge: f64) -> Result<f64> {
    if !(ridge >= 0.0 && ridge.is_finite()) {
        return Err(Error::InvalidArgument(format!("ridge must be a finite number >= 0; got {ridge}")));
    }
    Ok(ridge)
}

/// `tol`, when given, must lie in (0, 1).
pub fn check_tol(tol: Option<f64>) -> Result<Option<f64>> {
    match tol {
        Some(t) if !(t > 0.0 && t < 1.0) => Err(Error::InvalidArgument(format!("tol must lie in (0, 1); got {t}"))),
        _ => Ok(tol),
    }
}

/// A finite scalar input (`what` names it).
pub fn check_scalar(what: &str, value: f64) -> Result<f64> {
    if !value.is_finite() {
        return Err(Error::InvalidArgument(format!("{what} must be finite; got {value}")));
    }
    Ok(value)
}

/// A squared norm such as `trace_xx = ||X||_F^2 / n`: finite and not negative.
pub fn check_squared_norm(what: &str, value: f64) -> Result<f64> {
    if !(check_scalar(what, value)? >= 0.0) {
        return Err(Error::InvalidArgument(format!(
            "{what} is a mean squared norm and cannot be negative; got {value}: pass the moments' own trace"
        )));
    }
    Ok(value)
}

/// A power of two `s` with `s * max_abs` near 1, as `2^e` with `|e| <= 1000` (and `e` even when
/// asked, so that `sqrt(s)` is a power of two too). Multiplying by it is exact: it rescales
/// subnormal or huge inputs into the range where the eigensolvers converge, without rounding.
pub(crate) fn power_of_two_scale(max_abs: f64, even: bool) -> f64 {
    if !(max_abs > 0.0 && max_abs.is_finite()) {
        return 1.0;
    }
    let mut e = (-max_abs.log2().round()).clamp(-1000.0, 1000.0) as i32;
    if even && e % 2 != 0 {
        e -= e.signum();
    }
    2f64.powi(e)
}

/// [`power_of_two_scale`] of `x^2`, computed without forming `x^2` (which may overflow): an even
/// power of two, so that its square root is exact too.
pub(crate) fn power_of_two_scale_of_square(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return 1.0;
    }
    let e = (-2.0 * x.log2().round()).clamp(-1000.0, 1000.0) as i32;
    2f64.powi(e)
}

/// `ridge * trace(B) / d`, the multiple of the identity added to `B` (`what` names `B`).
pub fn ridge_shift(b: MatRef<'_, f64>, ridge: f64, what: &str) -> Result<f64> {
    let d = b.nrows();
    ridge_shift_from_mean(ridge, (0..d).map(|i| b[(i, i)]).sum::<f64>() / d as f64, what)
}

/// `ridge * mean`, with `mean = trace(B) / d` already known (the Gram path knows it without `B`).
pub fn ridge_shift_from_mean(ridge: f64, mean: f64, what: &str) -> Result<f64> {
    if check_ridge(ridge)? == 0.0 {
        return Ok(0.0);
    }
    let shift = ridge * mean;
    if !shift.is_finite() {
        return Err(Error::InvalidArgument(format!(
            "ridge = {ridge:e} times trace({what}) / d = {mean:.3e} overflows float64; ridge is relative to \
             trace({what}) / d, so values like 1e-6 are typical"
        )));
    }
    Ok(shift)
}

/// [`Error::Numerical`] when a model overflowed float64: the inputs were finite but too large (or
/// too ill-conditioned) for the solution to be represented. (The generic eigensolver leaves an
/// overflowing eigenvalue infinite, as IEEE arithmetic does; a model with infinite parameters or
/// loss is of no use, so the closed forms refuse it.)
pub(crate) fn check_result_finite(what: &str, values: impl IntoIterator<Item = f64>) -> Result<()> {
    if values.into_iter().all(f64::is_finite) {
        return Ok(());
    }
    Err(Error::Numerical(format!(
        "{what} overflows float64 although the inputs are finite: they are too large or too badly \
         conditioned for the solution to be represented; rescale the inputs or pass ridge"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn frobenius_norms_survive_the_ends_of_the_range() {
        for scale in [1e-200, 1.0, 1e200] {
            let m = Mat::<f64>::from_fn(30, 30, |i, j| scale * if i == j { 2.0 } else { 0.5 });
            let norms = check_symmetric("A", m.as_ref()).unwrap();
            let expected = scale * (30.0 * 4.0 + 870.0 * 0.25f64).sqrt();
            assert!((norms.frobenius - expected).abs() <= 1e-14 * expected, "{scale}: {}", norms.frobenius);
        }
    }

    #[test]
    fn shared_arguments_have_one_message_each() {
        assert!(check_k(0, 3).is_err() && check_k(4, 3).is_err() && check_k(-2, 3).is_err());
        assert!(matches!(check_k(0, 0), Err(Error::Shape(msg)) if msg.contains("empty")));
        assert_eq!(check_k(3, 3).unwrap(), 3);
        assert!(check_ridge(-1.0).is_err() && check_ridge(f64::NAN).is_err());
        assert!(check_tol(Some(1.0)).is_err() && check_tol(None).is_ok());
    }

    #[test]
    fn the_first_non_finite_entry_in_row_major_order_is_named() {
        let mut m = Mat::<f64>::identity(600, 600);
        m[(500, 3)] = f64::NAN;
        m[(3, 500)] = f64::NAN;
        match check_symmetric("S", m.as_ref()) {
            Err(Error::NonFinite { what, row, col, .. }) => assert_eq!((what.as_str(), row, col), ("S", 3, 500)),
            other => panic!("{other:?}"),
        }
    }
}
