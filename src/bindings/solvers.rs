//! The eigensolvers and closed forms, as Python functions returning NumPy arrays.

use faer::{MatRef, Par};
use numpy::ndarray::ArrayView2;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::batch;
use crate::closed_forms;
use crate::gep::{self, check_k, GepOptions, GepSolution, SigmaFactors, Solver};

use super::boundary::{cubed, run_detached, to_py_err};
use super::{as_matref, mat_to_numpy};

/// The options of a solve, validated in the core (one set of messages for every entry point).
pub(super) fn gep_options(largest: bool, solver: &str, tol: Option<f64>, ridge: f64) -> PyResult<GepOptions> {
    GepOptions { largest, solver: Solver::parse(solver).map_err(to_py_err)?, tol, ridge }.checked().map_err(to_py_err)
}

/// `k` (a Python int; `None` means all `d` pairs) validated against the dimension `d`.
pub(super) fn pairs_wanted(k: Option<i64>, d: usize) -> PyResult<usize> {
    check_k(k.unwrap_or(d as i64), d).map_err(to_py_err)
}

pub(super) type F64Array<'py> = PyReadonlyArray2<'py, f64>;
pub(super) type EighResult<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>, Bound<'py, PyDict>);

pub(super) fn eigh_to_python<'py>(py: Python<'py>, sol: &GepSolution) -> PyResult<EighResult<'py>> {
    let info = PyDict::new(py);
    info.set_item("solver", sol.solver.name())?;
    info.set_item("max_residual", sol.max_residual)?;
    info.set_item("operator_applications", sol.operator_applications)?;
    Ok((PyArray1::from_slice(py, &sol.w), mat_to_numpy(py, sol.v.as_ref()), info))
}

/// The smallest first dimension among a batch's matrices (what `k` must not exceed).
pub(super) fn smallest_dim<'py>(first: impl Iterator<Item = &'py F64Array<'py>>) -> usize {
    first.map(|m| m.as_array().nrows()).min().unwrap_or(0)
}

/// `k` extreme eigenpairs of `A v = w B v` (all `d` when `k` is None); returns `(w, V, info)`.
#[pyfunction]
#[pyo3(signature = (a, b, k = None, largest = true, solver = "auto", tol = None, ridge = 0.0))]
#[allow(clippy::too_many_arguments)]
pub(super) fn eigh_generalized<'py>(
    py: Python<'py>,
    a: F64Array<'py>,
    b: F64Array<'py>,
    k: Option<i64>,
    largest: bool,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
) -> PyResult<EighResult<'py>> {
    let opts = gep_options(largest, solver, tol, ridge)?;
    let (av, bv) = (a.as_array(), b.as_array());
    let (am, bm) = (as_matref(&av), as_matref(&bv));
    let k = pairs_wanted(k, am.nrows())?;
    let sol = run_detached(py, cubed(am.nrows()), || gep::eigh_generalized(am, bm, k, &opts, Par::rayon(0)))?;
    eigh_to_python(py, &sol)
}

/// Many independent problems `[(A, B), ...]`, solved in parallel; returns `[(w, V, info), ...]`.
#[pyfunction]
#[pyo3(signature = (pairs, k = None, largest = true, solver = "auto", tol = None, ridge = 0.0))]
pub(super) fn eigh_generalized_batch<'py>(
    py: Python<'py>,
    pairs: Vec<(F64Array<'py>, F64Array<'py>)>,
    k: Option<i64>,
    largest: bool,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
) -> PyResult<Vec<EighResult<'py>>> {
    let opts = gep_options(largest, solver, tol, ridge)?;
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let k = pairs_wanted(k, smallest_dim(pairs.iter().map(|(a, _)| a)))?;
    let views: Vec<_> = pairs.iter().map(|(a, b)| (a.as_array(), b.as_array())).collect();
    let mats: Vec<(MatRef<'_, f64>, MatRef<'_, f64>)> =
        views.iter().map(|(a, b)| (as_matref(a), as_matref(b))).collect();
    let sols = run_detached(py, mats.iter().map(|(a, _)| cubed(a.nrows())).sum(), || {
        batch::eigh_generalized_batch(&mats, k, &opts, Par::rayon(0))
    })?;
    sols.iter().map(|s| eigh_to_python(py, s)).collect()
}

pub(super) type JeResult<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>, f64, &'static str);

pub(super) fn je_to_python<'py>(py: Python<'py>, je: &closed_forms::JointEmbedding) -> JeResult<'py> {
    (PyArray1::from_slice(py, &je.omega), mat_to_numpy(py, je.w.as_ref()), je.loss, je.solver.name())
}

pub(super) type F64Vector<'py> = PyReadonlyArray1<'py, f64>;

/// `Sigma = S - G` in factored form, from its diagonal (d) and optional low-rank factor (d x r).
pub(super) fn sigma_factors<'a>(
    diag: &'a Option<numpy::ndarray::ArrayView1<'a, f64>>,
    factor: &'a Option<ArrayView2<'a, f64>>,
) -> PyResult<Option<SigmaFactors<'a>>> {
    let Some(diag) = diag else {
        return match factor {
            Some(_) => Err(PyValueError::new_err("sigma_factor needs sigma_diag (Sigma = diag(sigma_diag) + F F^T)")),
            None => Ok(None),
        };
    };
    let diag =
        diag.as_slice().ok_or_else(|| PyValueError::new_err("sigma_diag must be a contiguous 1-D float64 array"))?;
    let factor = match factor {
        Some(f) => as_matref(f),
        None => MatRef::from_column_major_slice(&[], diag.len(), 0),
    };
    Ok(Some(SigmaFactors { diag, factor }))
}

/// Joint embedding from moments `S`, `G` (and `Sigma = S - G` in factored form, when known);
/// returns `(omega, W, loss, solver)`.
#[pyfunction]
#[pyo3(signature = (s, g, k = None, solver = "auto", tol = None, ridge = 0.0, sigma_diag = None, sigma_factor = None))]
#[allow(clippy::too_many_arguments)]
pub(super) fn joint_embedding<'py>(
    py: Python<'py>,
    s: F64Array<'py>,
    g: F64Array<'py>,
    k: Option<i64>,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
    sigma_diag: Option<F64Vector<'py>>,
    sigma_factor: Option<F64Array<'py>>,
) -> PyResult<JeResult<'py>> {
    let opts = gep_options(true, solver, tol, ridge)?;
    let (sv, gv) = (s.as_array(), g.as_array());
    let (sm, gm) = (as_matref(&sv), as_matref(&gv));
    let (dv, fv) = (sigma_diag.as_ref().map(|d| d.as_array()), sigma_factor.as_ref().map(|f| f.as_array()));
    let sigma = sigma_factors(&dv, &fv)?;
    let k = pairs_wanted(k, sm.nrows())?;
    let je =
        run_detached(py, cubed(sm.nrows()), || closed_forms::joint_embedding(sm, gm, sigma, k, &opts, Par::rayon(0)))?;
    Ok(je_to_python(py, &je))
}

/// Joint embedding for many `[(S, G, sigma_diag or None, sigma_factor or None), ...]` problems, in parallel.
#[pyfunction]
#[pyo3(signature = (problems, k = None, solver = "auto", tol = None, ridge = 0.0))]
pub(super) fn joint_embedding_batch<'py>(
    py: Python<'py>,
    problems: Vec<(F64Array<'py>, F64Array<'py>, Option<F64Vector<'py>>, Option<F64Array<'py>>)>,
    k: Option<i64>,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
) -> PyResult<Vec<JeResult<'py>>> {
    let opts = gep_options(true, solver, tol, ridge)?;
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    let k = pairs_wanted(k, smallest_dim(problems.iter().map(|(s, _, _, _)| s)))?;
    let views: Vec<_> = problems
        .iter()
        .map(|(s, g, d, f)| {
            (s.as_array(), g.as_array(), d.as_ref().map(|d| d.as_array()), f.as_ref().map(|f| f.as_array()))
        })
        .collect();
    let mats = views
        .iter()
        .map(|(s, g, d, f)| Ok((as_matref(s), as_matref(g), sigma_factors(d, f)?)))
        .collect::<PyResult<Vec<_>>>()?;
    let out = run_detached(py, mats.iter().map(|(s, ..)| cubed(s.nrows())).sum(), || {
        closed_forms::joint_embedding_batch(&mats, k, &opts, Par::rayon(0))
    })?;
    Ok(out.iter().map(|je| je_to_python(py, je)).collect())
}

pub(super) type RcResult<'py> =
    (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>, f64, &'static str);

pub(super) fn rc_to_python<'py>(py: Python<'py>, rc: &closed_forms::Reconstruction) -> RcResult<'py> {
    (
        PyArray1::from_slice(py, &rc.phi2),
        mat_to_numpy(py, rc.encoder.as_ref()),
        mat_to_numpy(py, rc.decoder.as_ref()),
        rc.loss,
        rc.solver.name(),
    )
}

/// The diagonal mean map and `Sigma`'s factors of a problem, when all are given.
pub(super) fn moment_structure<'a>(
    keep: &'a Option<numpy::ndarray::ArrayView1<'a, f64>>,
    diag: &'a Option<numpy::ndarray::ArrayView1<'a, f64>>,
    factor: &'a Option<ArrayView2<'a, f64>>,
) -> PyResult<Option<closed_forms::MomentStructure<'a>>> {
    let sigma = sigma_factors(diag, factor)?;
    match (keep, sigma) {
        (Some(keep), Some(sigma)) => {
            let keep =
                keep.as_slice().ok_or_else(|| PyValueError::new_err("keep must be a contiguous 1-D float64 array"))?;
            Ok(Some((keep, sigma)))
        }
        (None, None) => Ok(None),
        _ => Err(PyValueError::new_err("pass keep (the diagonal mean map) and sigma_diag together, or neither")),
    }
}

/// Reconstruction from moments `S`, `C` and `trace_xx` (and the diagonal mean map `keep` and
/// `Sigma`'s factors, when known); returns `(phi2, E, D, loss, solver)`.
#[pyfunction]
#[pyo3(signature = (s, c, trace_xx, k = None, solver = "auto", tol = None, ridge = 0.0, keep = None, sigma_diag = None, sigma_factor = None))]
#[allow(clippy::too_many_arguments)]
pub(super) fn reconstruction<'py>(
    py: Python<'py>,
    s: F64Array<'py>,
    c: F64Array<'py>,
    trace_xx: f64,
    k: Option<i64>,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
    keep: Option<F64Vector<'py>>,
    sigma_diag: Option<F64Vector<'py>>,
    sigma_factor: Option<F64Array<'py>>,
) -> PyResult<RcResult<'py>> {
    let opts = gep_options(true, solver, tol, ridge)?;
    let (sv, cv) = (s.as_array(), c.as_array());
    let (sm, cm) = (as_matref(&sv), as_matref(&cv));
    let (kv, dv, fv) = (
        keep.as_ref().map(|a| a.as_array()),
        sigma_diag.as_ref().map(|a| a.as_array()),
        sigma_factor.as_ref().map(|a| a.as_array()),
    );
    let structure = moment_structure(&kv, &dv, &fv)?;
    let k = pairs_wanted(k, sm.nrows())?;
    let rc = run_detached(py, cubed(sm.nrows()), || {
        closed_forms::reconstruction(sm, cm, trace_xx, structure, k, &opts, Par::rayon(0))
    })?;
    Ok(rc_to_python(py, &rc))
}

pub(super) type RcProblem<'py> =
    (F64Array<'py>, F64Array<'py>, f64, Option<F64Vector<'py>>, Option<F64Vector<'py>>, Option<F64Array<'py>>);

/// Reconstruction for many `[(S, C, trace_xx, keep, sigma_diag, sigma_factor), ...]` problems
/// (the last three None when unknown), in parallel.
#[pyfunction]
#[pyo3(signature = (problems, k = None, solver = "auto", tol = None, ridge = 0.0))]
pub(super) fn reconstruction_batch<'py>(
    py: Python<'py>,
    problems: Vec<RcProblem<'py>>,
    k: Option<i64>,
    solver: &str,
    tol: Option<f64>,
    ridge: f64,
) -> PyResult<Vec<RcResult<'py>>> {
    let opts = gep_options(true, solver, tol, ridge)?;
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    let k = pairs_wanted(k, smallest_dim(problems.iter().map(|p| &p.0)))?;
    let views: Vec<_> = problems
        .iter()
        .map(|(s, c, t, keep, d, f)| {
            (
                s.as_array(),
                c.as_array(),
                *t,
                keep.as_ref().map(|a| a.as_array()),
                d.as_ref().map(|a| a.as_array()),
                f.as_ref().map(|a| a.as_array()),
            )
        })
        .collect();
    let mats = views
        .iter()
        .map(|(s, c, t, keep, d, f)| Ok((as_matref(s), as_matref(c), *t, moment_structure(keep, d, f)?)))
        .collect::<PyResult<Vec<_>>>()?;
    let out = run_detached(py, mats.iter().map(|(s, ..)| cubed(s.nrows())).sum(), || {
        closed_forms::reconstruction_batch(&mats, k, &opts, Par::rayon(0))
    })?;
    Ok(out.iter().map(|rc| rc_to_python(py, rc)).collect())
}

pub(super) type SlResult<'py> = (Bound<'py, PyArray2<f64>>, f64);

/// Supervised map `V = B S^{-1}` and its loss; returns `(V, loss)`.
#[pyfunction]
#[pyo3(signature = (s, b, trace_yy, ridge = 0.0))]
pub(super) fn supervised<'py>(
    py: Python<'py>,
    s: F64Array<'py>,
    b: F64Array<'py>,
    trace_yy: f64,
    ridge: f64,
) -> PyResult<SlResult<'py>> {
    let (sv, bv) = (s.as_array(), b.as_array());
    let (sm, bm) = (as_matref(&sv), as_matref(&bv));
    let sl = run_detached(py, cubed(sm.nrows()), || closed_forms::supervised(sm, bm, trace_yy, ridge, Par::rayon(0)))?;
    Ok((mat_to_numpy(py, sl.v.as_ref()), sl.loss))
}

/// Supervised maps for many `[(S, B, trace_yy), ...]` problems, in parallel.
#[pyfunction]
#[pyo3(signature = (problems, ridge = 0.0))]
pub(super) fn supervised_batch<'py>(
    py: Python<'py>,
    problems: Vec<(F64Array<'py>, F64Array<'py>, f64)>,
    ridge: f64,
) -> PyResult<Vec<SlResult<'py>>> {
    gep::check_ridge(ridge).map_err(to_py_err)?;
    let views: Vec<_> = problems.iter().map(|(s, b, t)| (s.as_array(), b.as_array(), *t)).collect();
    let mats: Vec<(MatRef<'_, f64>, MatRef<'_, f64>, f64)> =
        views.iter().map(|(s, b, t)| (as_matref(s), as_matref(b), *t)).collect();
    let out = run_detached(py, mats.iter().map(|(s, ..)| cubed(s.nrows())).sum(), || {
        closed_forms::supervised_batch(&mats, ridge, Par::rayon(0))
    })?;
    Ok(out.iter().map(|sl| (mat_to_numpy(py, sl.v.as_ref()), sl.loss)).collect())
}
