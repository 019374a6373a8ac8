"""Generalized eigensolvers against SciPy's LAPACK drivers (scipy.linalg.eigh(A, B))."""

import numpy as np
import pytest
import scipy.linalg as sla

import linssl
from linssl import _core
from linssl.linalg import eigh_generalized, eigh_generalized_batch
from oracles import spd, with_spectrum


def _relative_residuals(A, B, w, V):
    """||A v - w B v|| / ((||A||_2 + |w| ||B||_2) ||v||), the backward error of each pair."""
    na, nb = np.linalg.norm(A, 2), np.linalg.norm(B, 2)
    R = A @ V - (B @ V) * w
    return np.linalg.norm(R, axis=0) / ((na + np.abs(w) * nb) * np.linalg.norm(V, axis=0))


def _check_pairs(A, B, w, V, k, largest=True, cond_b=1.0):
    d = A.shape[0]
    assert w.shape == (k,) and V.shape == (d, k)
    assert w.dtype == np.float64 and V.dtype == np.float64
    ref = sla.eigh(A, B, eigvals_only=True)
    ref = ref[::-1][:k] if largest else ref[:k]
    # Eigenvalues of a Cholesky-reduced problem are accurate to about eps * cond(B) * ||A|| / ||B||
    # relative to the largest one, for LAPACK and for us alike.
    scale = np.abs(ref).max()
    np.testing.assert_allclose(w, ref, rtol=0, atol=1e-12 * max(cond_b, 1.0) * scale + 1e-300)
    assert np.all(np.diff(w) <= 0) if largest else np.all(np.diff(w) >= 0)
    # V^T B V = I, up to the conditioning of B.
    np.testing.assert_allclose(V.T @ B @ V, np.eye(k), atol=1e-11 * max(np.sqrt(cond_b), 1.0))
    assert _relative_residuals(A, B, w, V).max() < 1e-12 * max(np.sqrt(cond_b), 1.0)


@pytest.mark.parametrize("d", [1, 2, 7, 60, 257])
@pytest.mark.parametrize("largest", [True, False])
def test_dense_matches_scipy_on_random_spd_pairs(d, largest):
    rng = np.random.default_rng(d)
    X = rng.standard_normal((d, d + 3))
    A = X @ X.T / d - 0.3 * np.eye(d)  # indefinite is allowed
    B = spd(d, rng)
    for k in sorted({1, max(1, d // 3), d}):
        w, V = eigh_generalized(A, B, k, largest=largest, solver="dense")
        _check_pairs(A, B, w, V, k, largest, cond_b=1e3)


def test_k_defaults_to_all_pairs():
    rng = np.random.default_rng(3)
    A, B = spd(12, rng), spd(12, rng)
    w, V = eigh_generalized(A, B)
    assert w.shape == (12,) and V.shape == (12, 12)
    # The suite's criterion (eigenvalues against LAPACK's at the accuracy cond(B) allows, backward
    # errors at rounding level), not an elementwise rtol of 1e-12: against the eigenvalues computed
    # in 50-digit arithmetic, linssl's and LAPACK's are both off by up to 1.4e-12 and 1.8e-12
    # relative (the smallest ones), so their difference can exceed 1e-12 on some machines.
    _check_pairs(A, B, w, V, 12, cond_b=1e3)


# d = 300 takes the blocked tridiagonalisation (linssl's own); d = 80 faer's unblocked one.
@pytest.mark.parametrize("d", [80, 300])
@pytest.mark.parametrize("cond", [1e6, 1e10])
def test_ill_conditioned_b(cond, d):
    rng = np.random.default_rng(4)
    A = spd(d, rng, cond=10.0)
    B = spd(d, rng, cond=cond)
    w, V = eigh_generalized(A, B, 10, solver="dense")
    ref_w, ref_V = sla.eigh(A, B, subset_by_index=[d - 10, d - 1])
    # Cholesky-based solvers (LAPACK's and ours) lose accuracy in proportion to cond(B):
    # eigenvalues and B-orthonormality are good to about eps * cond(B).
    tol = 10 * np.finfo(float).eps * cond
    np.testing.assert_allclose(w, ref_w[::-1], rtol=tol)
    np.testing.assert_allclose(V.T @ B @ V, np.eye(10), atol=tol)
    # ...and no worse than LAPACK's own B-orthonormality on the same problem.
    ours = np.abs(V.T @ B @ V - np.eye(10)).max()
    lapack = np.abs(ref_V.T @ B @ ref_V - np.eye(10)).max()
    assert ours <= 10 * lapack + 1e-14
    # The backward error stays at rounding level whatever the conditioning.
    assert _relative_residuals(A, B, w, V).max() < 1e-14


@pytest.mark.parametrize("d", [40, 300])
def test_repeated_eigenvalues_give_the_right_subspace(d):
    rng = np.random.default_rng(5)
    values = np.concatenate([[7.0, 7.0, 7.0, 7.0], np.linspace(1.0, 3.0, d - 4)])
    A = with_spectrum(values, rng)
    Bh = sla.sqrtm(spd(d, rng, cond=50.0)).real
    # A v = w B v with B = Bh^2: eigenvalues `values`, eigenvectors Bh^{-1} (eigvecs of A).
    A_gen = Bh @ A @ Bh
    B = Bh @ Bh
    A_gen, B = (A_gen + A_gen.T) / 2, (B + B.T) / 2
    for method in ("dense", "iterative"):
        w, V = eigh_generalized(A_gen, B, 4, solver=method)
        np.testing.assert_allclose(w, 7.0, rtol=1e-10)
        _, V_ref = sla.eigh(A_gen, B, subset_by_index=[d - 4, d - 1])
        # The four vectors are not unique; the subspace they span is.
        angles = sla.subspace_angles(V, V_ref)
        assert angles.max() < 1e-8


def _spiked(d, k, rng, gap=20.0):
    values = np.concatenate([gap * (1.0 + np.arange(k)[::-1] / k), rng.uniform(0.5, 1.0, d - k)])
    return with_spectrum(values, rng)


@pytest.mark.parametrize("largest", [True, False])
def test_iterative_matches_scipy_subset(largest):
    rng = np.random.default_rng(6)
    d, k = 500, 6
    A = _spiked(d, k, rng) if largest else -_spiked(d, k, rng)
    B = spd(d, rng, cond=100.0)
    w, V, info = _core.eigh_generalized(A, B, k, largest, "iterative", None, 0.0)
    assert info["solver"] == "iterative"
    assert info["max_residual"] <= 1e-10
    assert 0 < info["operator_applications"] < d  # cheaper than the dense solve
    lo, hi = (d - k, d - 1) if largest else (0, k - 1)
    ref_w, ref_V = sla.eigh(A, B, subset_by_index=[lo, hi])
    ref_w = ref_w[::-1] if largest else ref_w
    np.testing.assert_allclose(w, ref_w, rtol=1e-9)
    np.testing.assert_allclose(V.T @ B @ V, np.eye(k), atol=1e-9)
    assert sla.subspace_angles(V, ref_V).max() < 1e-6


def test_auto_picks_iterative_for_few_pairs_of_a_large_problem():
    rng = np.random.default_rng(7)
    d = 600
    A, B = _spiked(d, 3, rng), spd(d, rng)
    assert _core.eigh_generalized(A, B, 3, True, "auto", None, 0.0)[2]["solver"] == "iterative"
    assert _core.eigh_generalized(A, B, 200, True, "auto", None, 0.0)[2]["solver"] == "dense"
    small_A, small_B = A[:100, :100], B[:100, :100]
    assert _core.eigh_generalized(small_A, small_B, 2, True, "auto", None, 0.0)[2]["solver"] == "dense"


def test_iterative_falls_back_to_dense_when_it_cannot_converge():
    # A flat spectrum with a cluster straddling the k-th eigenvalue: the residual check fails
    # within the budget, and the dense answer comes back instead.
    rng = np.random.default_rng(8)
    d = 200
    A = with_spectrum(1.0 + 1e-9 * rng.standard_normal(d), rng)
    B = np.eye(d)
    w, V, info = _core.eigh_generalized(A, B, 5, True, "iterative", 1e-15, 0.0)
    assert info["solver"] == "dense"
    _check_pairs(A, B, w, V, 5)


def test_ridge_adds_a_multiple_of_the_mean_eigenvalue():
    rng = np.random.default_rng(9)
    d = 30
    A = spd(d, rng)
    X = rng.standard_normal((d, d - 5))
    B = X @ X.T / d - 1e-8 * np.eye(d)  # rank-deficient minus a little: not positive definite
    with pytest.raises(linssl.LinAlgError, match="ridge"):
        eigh_generalized(A, B, 3)
    w, V = eigh_generalized(A, B, 3, ridge=1e-3)
    B_reg = B + 1e-3 * np.trace(B) / d * np.eye(d)
    np.testing.assert_allclose(w, sla.eigh(A, B_reg, eigvals_only=True)[::-1][:3], rtol=1e-9)
    np.testing.assert_allclose(V.T @ B_reg @ V, np.eye(3), atol=1e-9)


def test_non_positive_definite_b_names_the_pivot():
    B = np.eye(4)
    B[2, 2] = -2.0
    with pytest.raises(linssl.LinAlgError, match=r"B is not positive definite: Cholesky pivot 2 is -2\.0") as err:
        eigh_generalized(np.eye(4), B)
    assert isinstance(err.value, np.linalg.LinAlgError)


@pytest.mark.parametrize(
    "A, B, kwargs, match",
    [
        (np.eye(3), np.eye(4), {}, "must match"),
        (np.ones((3, 2)), np.eye(3), {}, "square"),
        (np.eye(3), np.eye(3), {"k": 0}, "between 1 and d"),
        (np.eye(3), np.eye(3), {"k": 4}, "between 1 and d"),
        (np.eye(3), np.eye(3), {"solver": "lanczos"}, "solver"),
        (np.eye(3), np.eye(3), {"tol": 0.0}, "tol"),
        (np.eye(3), np.eye(3), {"ridge": -1.0}, "ridge"),
        (np.array([[1.0, 1e-3], [0.0, 1.0]]), np.eye(2), {}, "not symmetric"),
        (np.diag([1.0, np.nan]), np.eye(2), {}, "NaN"),
        (np.eye(2), np.diag([1.0, np.inf]), {}, "B contains inf at row 1, column 1"),
    ],
)
def test_bad_input_raises_value_error(A, B, kwargs, match):
    with pytest.raises(ValueError, match=match):
        eigh_generalized(A, B, **kwargs)


def test_rounding_level_asymmetry_is_accepted():
    rng = np.random.default_rng(10)
    A = spd(20, rng)
    A_noisy = A + 1e-12 * rng.standard_normal(A.shape)
    w, _ = eigh_generalized(A_noisy, np.eye(20), 2)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(A)[::-1][:2], rtol=1e-10)


def test_batch_matches_single_solves():
    rng = np.random.default_rng(11)
    pairs = [(spd(d, rng), spd(d, rng)) for d in (16, 16, 24, 8, 16)]
    out = eigh_generalized_batch(pairs, 3)
    assert len(out) == len(pairs)
    for (A, B), (w, V) in zip(pairs, out):
        ref_w, ref_V = eigh_generalized(A, B, 3)
        np.testing.assert_allclose(w, ref_w, rtol=1e-13)
        _check_pairs(A, B, w, V, 3, cond_b=1e3)
    assert eigh_generalized_batch([], 2) == []


def test_batch_errors_name_the_problem():
    rng = np.random.default_rng(12)
    pairs = [(spd(6, rng), spd(6, rng)) for _ in range(4)]
    pairs[2] = (pairs[2][0], -np.eye(6))
    with pytest.raises(linssl.LinAlgError, match="B of problem 2"):
        eigh_generalized_batch(pairs, 2)
    with pytest.raises(ValueError, match="between 1 and d = 4"):
        eigh_generalized_batch([(np.eye(6), np.eye(6)), (np.eye(4), np.eye(4))], 5)


def test_inputs_of_any_layout_and_real_dtype():
    rng = np.random.default_rng(13)
    A, B = spd(10, rng), spd(10, rng)
    ref = eigh_generalized(A, B, 3)[0]
    for A2, B2 in [
        (np.asfortranarray(A), B[::-1, ::-1][::-1, ::-1]),
        (A.astype(np.float32), B),
        (np.asarray(A, order="F"), np.ascontiguousarray(B)),
    ]:
        w = eigh_generalized(A2, B2, 3)[0]
        rtol = 1e-6 if A2.dtype == np.float32 else 1e-13
        np.testing.assert_allclose(w, ref, rtol=rtol)
    with pytest.raises(TypeError, match="real numbers"):
        eigh_generalized(A.astype(complex), B)
