"""Closed-form JE / RC / SL solutions against the formulas of the science note, written here in
NumPy/SciPy (matrix square roots, SVDs, linear solves), and against brute-force perturbation."""

import numpy as np
import pytest
import scipy.linalg as sla

import linssl
from linssl.linalg import (
    joint_embedding,
    joint_embedding_batch,
    reconstruction,
    reconstruction_batch,
    supervised,
    supervised_batch,
)


def _inv_sqrt(S):
    w, Q = sla.eigh(S)
    return (Q / np.sqrt(w)) @ Q.T


def _data(n=400, d=8, l=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(0.5, 3.0, d) + 0.2
    Y = X @ rng.standard_normal((d, l)) + 0.1 * rng.standard_normal((n, l))
    return X, Y


def _gaussian_moments(X, Y, cov):
    """tau(x) = x + eps, eps ~ N(0, cov): Xbar = X, S = X^T X / n + cov (paper, Gaussian noise)."""
    n = X.shape[0]
    M = X.T @ X / n
    return dict(S=M + cov, G=M, C=M, B=Y.T @ X / n, trace_xx=np.trace(M), trace_yy=np.sum(Y * Y) / n)


def _mask_moments(X, Y, p):
    """tau(x) = m * x, m_j ~ Bernoulli(p_j): Xbar = X diag(p),
    S = diag(p) M diag(p) + diag(p (1 - p)) diag(M) (paper, masking)."""
    n = X.shape[0]
    M = X.T @ X / n
    P = np.diag(p)
    return dict(
        S=P @ M @ P + np.diag(p * (1 - p) * np.diag(M)),
        G=P @ M @ P,
        C=M @ P,
        B=Y.T @ X @ P / n,
        trace_xx=np.trace(M),
        trace_yy=np.sum(Y * Y) / n,
    )


def _cases():
    X, Y = _data()
    d = X.shape[1]
    rng = np.random.default_rng(1)
    R = rng.standard_normal((d, d))
    return {
        "gaussian": _gaussian_moments(X, Y, 0.5 * np.eye(d)),
        "gaussian-correlated": _gaussian_moments(X, Y, R @ R.T / d),
        "mask": _mask_moments(X, Y, np.linspace(0.3, 0.9, d)),
    }


CASES = _cases()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("k", [1, 3, 8])
def test_joint_embedding_matches_the_paper(case, k):
    m = CASES[case]
    S, G = m["S"], m["G"]
    je = joint_embedding(S, G, k)
    # Paper: S^{-1/2} G S^{-1/2} = Q Omega Q^T; W* = U Q_k^T S^{-1/2}; loss 2 (k - sum omega).
    Sih = _inv_sqrt(S)
    omega, Q = sla.eigh(Sih @ G @ Sih)
    omega, Q = omega[::-1], Q[:, ::-1]
    np.testing.assert_allclose(je.omega, omega[:k], rtol=1e-10, atol=1e-13)
    assert np.all((je.omega >= -1e-12) & (je.omega <= 1 + 1e-12))
    np.testing.assert_allclose(je.loss, 2 * (k - omega[:k].sum()), rtol=1e-10, atol=1e-12)
    assert je.W.shape == (k, S.shape[0])
    np.testing.assert_allclose(je.W @ S @ je.W.T, np.eye(k), atol=1e-10)
    # W equals U Q_k^T S^{-1/2} for an orthogonal U: same row space (U is the only freedom).
    W_ref = Q[:, :k].T @ Sih
    U = je.W @ S @ W_ref.T
    np.testing.assert_allclose(U @ U.T, np.eye(k), atol=1e-8)
    np.testing.assert_allclose(U @ W_ref, je.W, atol=1e-8)
    # The JE loss of W itself, E||W tau1 x - W tau2 x||^2 = 2 tr(W (S - G) W^T), is the minimum.
    np.testing.assert_allclose(2 * np.trace(je.W @ (S - G) @ je.W.T), je.loss, rtol=1e-9, atol=1e-12)


def _rc_loss(E, D, m):
    """(1/n) sum E ||x - D E tau(x)||^2 = tr(M) - 2 tr(D E C^T) + tr(D E S E^T D^T)."""
    DE = D @ E
    return m["trace_xx"] - 2 * np.trace(DE @ m["C"].T) + np.trace(DE @ m["S"] @ DE.T)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("k", [1, 4, 8])
def test_reconstruction_matches_the_paper(case, k):
    m = CASES[case]
    rc = reconstruction(m["S"], m["C"], m["trace_xx"], k)
    # Paper: C S^{-1/2} = R Phi P^T; E* = T P_k^T S^{-1/2}, D* = R_k Phi_k T^{-1};
    # minimum loss ||X||_F^2 / n - sum phi^2.
    Sih = _inv_sqrt(m["S"])
    R, phi, Pt = sla.svd(m["C"] @ Sih)
    np.testing.assert_allclose(rc.phi2, phi[:k] ** 2, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(rc.loss, m["trace_xx"] - np.sum(phi[:k] ** 2), rtol=1e-10)
    # The product D E is invariant to T: compare it with R_k Phi_k P_k^T S^{-1/2}.
    DE_ref = (R[:, :k] * phi[:k]) @ Pt[:k] @ Sih
    np.testing.assert_allclose(rc.D @ rc.E, DE_ref, atol=1e-9 * np.abs(DE_ref).max())
    np.testing.assert_allclose(rc.E @ m["S"] @ rc.E.T, np.eye(k), atol=1e-10)
    np.testing.assert_allclose(_rc_loss(rc.E, rc.D, m), rc.loss, rtol=1e-9)


def test_reconstruction_is_a_minimum_under_perturbation():
    m = CASES["mask"]
    rc = reconstruction(m["S"], m["C"], m["trace_xx"], 3)
    rng = np.random.default_rng(2)
    for _ in range(50):
        dE = 1e-3 * rng.standard_normal(rc.E.shape)
        dD = 1e-3 * rng.standard_normal(rc.D.shape)
        assert _rc_loss(rc.E + dE, rc.D + dD, m) >= rc.loss - 1e-12


def test_reconstruction_with_a_rectangular_cross_moment():
    # Reconstruct only the first 5 coordinates: C is 5 x d, D is 5 x k.
    m = CASES["gaussian"]
    C = m["C"][:5]
    trace = np.trace(m["G"][:5, :5])
    rc = reconstruction(m["S"], C, trace, 2)
    assert rc.D.shape == (5, 2) and rc.E.shape == (2, 8)
    phi = sla.svdvals(C @ _inv_sqrt(m["S"]))
    np.testing.assert_allclose(rc.phi2, phi[:2] ** 2, rtol=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_supervised_matches_the_paper(case):
    m = CASES[case]
    sl = supervised(m["S"], m["B"], m["trace_yy"])
    V_ref = sla.solve(m["S"], m["B"].T, assume_a="pos").T  # V* = (Y^T Xbar / n) S^{-1}
    np.testing.assert_allclose(sl.V, V_ref, rtol=1e-10, atol=1e-12)
    # loss(V) = tr(YY)/n - 2 tr(V B^T) + tr(V S V^T), minimised at V*.
    loss = lambda V: m["trace_yy"] - 2 * np.trace(V @ m["B"].T) + np.trace(V @ m["S"] @ V.T)
    np.testing.assert_allclose(sl.loss, loss(V_ref), rtol=1e-10)
    rng = np.random.default_rng(3)
    for _ in range(20):
        assert loss(sl.V + 1e-3 * rng.standard_normal(sl.V.shape)) >= sl.loss


def test_supervised_equals_least_squares_on_noise_augmented_data():
    # Gaussian noise with covariance sigma^2 I is ridge regression with penalty n sigma^2.
    X, Y = _data(n=300, d=6, l=2, seed=4)
    sigma2 = 0.7
    m = _gaussian_moments(X, Y, sigma2 * np.eye(6))
    sl = supervised(m["S"], m["B"], m["trace_yy"])
    n = X.shape[0]
    V_ridge = np.linalg.solve(X.T @ X + n * sigma2 * np.eye(6), X.T @ Y).T
    np.testing.assert_allclose(sl.V, V_ridge, rtol=1e-10)


def test_batches_equal_single_solves():
    problems = list(CASES.values())
    je = joint_embedding_batch([(m["S"], m["G"]) for m in problems], 2)
    rc = reconstruction_batch([(m["S"], m["C"], m["trace_xx"]) for m in problems], 2)
    sl = supervised_batch([(m["S"], m["B"], m["trace_yy"]) for m in problems])
    for m, a, b, c in zip(problems, je, rc, sl):
        np.testing.assert_allclose(a.omega, joint_embedding(m["S"], m["G"], 2).omega, rtol=1e-13)
        np.testing.assert_allclose(b.phi2, reconstruction(m["S"], m["C"], m["trace_xx"], 2).phi2, rtol=1e-13)
        np.testing.assert_allclose(c.V, supervised(m["S"], m["B"], m["trace_yy"]).V, rtol=1e-13)
    assert joint_embedding_batch([], 2) == [] and supervised_batch([]) == []


def test_errors_use_the_moment_names():
    m = CASES["gaussian"]
    bad_S = m["S"].copy()
    bad_S[0, 0] = -1.0
    with pytest.raises(linssl.LinAlgError, match="S is not positive definite"):
        joint_embedding(bad_S, m["G"], 2)
    with pytest.raises(linssl.LinAlgError, match="S of problem 1"):
        reconstruction_batch([(m["S"], m["C"], 1.0), (bad_S, m["C"], 1.0)], 2)
    with pytest.raises(ValueError, match="G is not symmetric"):
        joint_embedding(m["S"], m["G"] + np.triu(np.ones((8, 8)), 1), 2)
    with pytest.raises(ValueError, match="C must have d = 8 columns"):
        reconstruction(m["S"], m["C"][:, :5], 1.0, 2)
    with pytest.raises(ValueError, match="columns"):
        supervised(m["S"], m["B"][:, :3], 1.0)
    with pytest.raises(ValueError, match="trace_yy must be finite"):
        supervised(m["S"], m["B"], np.nan)
    with pytest.raises(ValueError, match="k must be between 1 and d = 8"):
        joint_embedding(m["S"], m["G"], 9)
    sl = supervised(bad_S, m["B"], 1.0, ridge=10.0)
    assert np.all(np.isfinite(sl.V))
