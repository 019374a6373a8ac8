"""Property-based tests (hypothesis) against SciPy, NumPy and the reference implementation.

Random shapes, ranks, memory layouts and condition numbers for the moments, the generalized
eigensolvers and the three closed forms. Tolerances scale with the condition number where the
mathematics says accuracy does (backward-stable algorithms: error ~ cond * eps).
"""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import linssl
from linssl import linalg
from linssl.bench import reference
from linssl.metrics import subspace_distance

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPS = np.finfo(np.float64).eps


@st.composite
def data_matrices(draw, max_n=200, max_d=24):
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 10.0, d) + draw(st.floats(-3, 3))
    layout = draw(st.sampled_from(["C", "F", "rows", "cols", "reversed"]))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "rows":
        X = np.repeat(X, 2, axis=0)[::2]
    elif layout == "cols":
        X = np.repeat(X, 3, axis=1)[:, ::3]
    elif layout == "reversed":
        X = X[::-1, ::-1].copy()[::-1, ::-1]
    if draw(st.booleans()):
        X = X.astype(np.float32)
    return X


@SETTINGS
@given(data_matrices())
def test_moments_match_numpy(X):
    X64 = X.astype(np.float64)
    want = X64.T @ X64 / len(X64)
    got = linssl.second_moment(X)
    tol = 2e-5 if X.dtype == np.float32 else 1e-12
    assert np.abs(got - want).max() <= tol * np.abs(want).max() + 1e-300
    np.testing.assert_array_equal(got, got.T)


@SETTINGS
@given(data_matrices(), st.integers(1, 7))
def test_split_accumulators_merge_to_one_pass(X, parts):
    X = np.ascontiguousarray(X, dtype=np.float64)
    whole = linssl.MomentAccumulator(X.shape[1])
    whole.update(X)
    merged = linssl.MomentAccumulator(X.shape[1])
    for chunk in np.array_split(X, parts):
        piece = linssl.MomentAccumulator(X.shape[1])
        if len(chunk):
            piece.update(chunk)
        merged.merge(piece)
    assert merged.n == whole.n
    np.testing.assert_allclose(merged.xtx, whole.xtx, rtol=1e-12, atol=1e-12 * np.abs(whole.xtx).max())


@st.composite
def spd_pairs(draw, max_d=30):
    """A symmetric A (possibly rank-deficient) and an SPD B with condition number up to 1e8."""
    d = draw(st.integers(1, max_d))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    log_cond = draw(st.floats(0, 8))
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    B = (Q * np.logspace(0, -log_cond, d)) @ Q.T
    B = (B + B.T) / 2
    rank = draw(st.integers(0, d))
    F = rng.standard_normal((d, rank))
    A = F @ F.T + draw(st.floats(-1, 1, allow_subnormal=False)) * np.eye(d)  # subnormals: below
    k = draw(st.integers(1, d))
    return A, B, k, 10.0**log_cond


@SETTINGS
@given(spd_pairs(), st.sampled_from(["dense", "iterative", "auto"]))
def test_eigh_generalized_matches_scipy(pair, method):
    A, B, k, cond = pair
    d = len(A)
    w, V = linalg.eigh_generalized(A, B, k, solver=method)
    want = scipy.linalg.eigh(A, B, eigvals_only=True, subset_by_index=[d - k, d - 1])[::-1]
    scale = np.abs(scipy.linalg.eigh(A, B, eigvals_only=True)).max() + np.linalg.norm(A, 2)
    assert w.shape == (k,) and V.shape == (d, k)
    assert np.all(np.diff(w) <= 1e-9 * scale)
    np.testing.assert_allclose(w, want, atol=1e3 * cond * EPS * scale)
    # B-orthonormal and small residuals (backward error), whatever the conditioning.
    np.testing.assert_allclose(V.T @ B @ V, np.eye(k), atol=1e3 * cond * EPS * max(1.0, np.abs(V).max() ** 2))
    residual = np.linalg.norm(A @ V - B @ V * w, axis=0)
    bound = np.linalg.norm(A, 2) + np.abs(w) * np.linalg.norm(B, 2)
    assert np.all(residual <= 1e4 * cond * EPS * bound * np.linalg.norm(V, axis=0))


@st.composite
def ssl_problems(draw):
    """Data (possibly with n < d, of any rank) and a Gaussian or Mask augmentation that keeps S
    positive definite, with noise from 1e-4 to 2 (condition numbers of S up to about 1e6)."""
    n = draw(st.integers(2, 120))
    d = draw(st.integers(1, 16))
    rank = draw(st.integers(1, d))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d)) * rng.uniform(0.5, 4.0)
    Y = X @ rng.standard_normal((d, 2)) + rng.standard_normal((n, 2))
    if draw(st.booleans()):
        aug = linssl.Gaussian(rng.uniform(0.05, 2.0, d) * 10.0 ** draw(st.floats(-3, 0)))
        m = reference.gaussian_moments(X, np.diag(aug.cov), Y)
    else:
        p = rng.uniform(0.3, 0.95, d)
        aug = linssl.Mask(p)
        m = reference.mask_moments(X, p, Y)
        if np.linalg.eigvalsh(m.S)[0] <= 1e-8 * np.abs(m.S).max():
            aug, m = linssl.Gaussian(1.0), reference.gaussian_moments(X, np.eye(d), Y)
    k = draw(st.integers(1, d))
    return X, Y, aug, m, k


def _cond(S):
    w = np.linalg.eigvalsh(S)
    return w[-1] / w[0]


@SETTINGS
@given(ssl_problems())
@pytest.mark.filterwarnings("ignore::linssl.NumericalWarning")  # k above the rank of the data: expected here
def test_closed_forms_match_the_reference(problem):
    X, Y, aug, m, k = problem
    fits = linssl.fit_all(X, aug, k=k, y=Y)
    tol = 1e3 * _cond(m.S) * EPS
    je, rc, sl = reference.joint_embedding(m.S, m.G, k), reference.reconstruction(m.S, m.C, m.trace_xx, k), reference.supervised(m.S, m.B, m.trace_yy)
    assert fits.joint_embedding.loss_ == pytest.approx(je.loss, rel=tol, abs=tol * 2 * k)
    np.testing.assert_allclose(fits.joint_embedding.eigenvalues_, je.omega, atol=tol)
    assert fits.reconstruction.loss_ == pytest.approx(rc.loss, rel=tol, abs=tol * m.trace_xx)
    np.testing.assert_allclose(fits.supervised.coef_, sl.V, rtol=tol, atol=tol * np.abs(sl.V).max())
    # The subspace is determined when the k-th eigenvalue is separated from the (k+1)-th.
    full = scipy.linalg.eigh(m.G, m.S, eigvals_only=True)[::-1]
    if k < len(full) and full[k - 1] - full[k] > 1e-6:
        assert subspace_distance(fits.joint_embedding.components_, je.W) < 1e-6 * _cond(m.S)


@pytest.mark.parametrize("scale", [5e-324, 1e-310, 1e300])
def test_subnormal_and_huge_input_is_solved_not_crashed(scale):
    # Accuracy near underflow is bounded by the subnormal spacing; the solver must still succeed.
    A = scale * np.diag([1.0, 2.0, 3.0])
    w, V = linalg.eigh_generalized(A, np.eye(3), 2)
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(V))
    np.testing.assert_allclose(w, scale * np.array([3.0, 2.0]), rtol=0.5 if scale < 1e-300 else 1e-12)
