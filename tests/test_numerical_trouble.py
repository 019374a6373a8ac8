"""Numerical trouble: singular and near-singular S, repeated eigenvalues, and the invariances the
theory (paper.md) promises under permutations and rescalings of the features.

Every expectation comes from the mathematics or from SciPy/NumPy, never from earlier linssl output.
"""

import numpy as np
import pytest
import scipy.linalg

import linssl
from linssl.augment import AugmentedMoments
from linssl.checks import check_solution
from linssl.metrics import subspace_distance
from linssl.models import JointEmbedding, Reconstruction, Supervised
from linssl.fitting import fit_all

EPS = np.finfo(np.float64).eps
N, D, K = 400, 8, 3


def _data(n=N, d=D, seed=0):
    """Rows with a decaying spectrum (clear eigengaps) in random directions, and two targets."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = rng.standard_normal((n, d)) * np.geomspace(4.0, 0.5, d) @ Q.T + 0.3
    Y = X @ rng.standard_normal((d, 2)) + 0.1 * rng.standard_normal((n, 2))
    return X, Y


ESTIMATORS = {
    "joint_embedding": lambda aug, ridge=0.0: JointEmbedding(K, augmentation=aug, ridge=ridge),
    "reconstruction": lambda aug, ridge=0.0: Reconstruction(K, augmentation=aug, ridge=ridge),
    "supervised": lambda aug, ridge=0.0: Supervised(augmentation=aug, ridge=ridge),
}


def _singular_cases():
    X, _ = _data()
    zero = X.copy()
    zero[:, 5] = 0.0  # a feature that never varies (uncentred moments: a zero column)
    duplicated = np.hstack([X, 3.0 * X[:, [2]]])  # a feature proportional to another
    constants = np.hstack([X, np.full((N, 1), 2.0), np.full((N, 1), -1.0)])  # two constant columns
    wide = X[:5]  # n = 5 < d = 8
    return {"zero feature": zero, "duplicated feature": duplicated, "constant features": constants, "n < d": wide}


SINGULAR = _singular_cases()


@pytest.mark.parametrize("case", sorted(SINGULAR))
@pytest.mark.parametrize("paradigm", sorted(ESTIMATORS))
@pytest.mark.parametrize("aug", [None, linssl.Gaussian(0.0), linssl.Mask(1.0)], ids=["none", "zero noise", "keep all"])
def test_singular_s_without_noise_raises_linalg_error_suggesting_ridge(case, paradigm, aug):
    X = SINGULAR[case]
    y = np.ones((len(X), 1)) + X[:, :1]
    with pytest.raises(linssl.LinAlgError, match=r"S is not positive definite.*pass ridge=1e-6") as err:
        ESTIMATORS[paradigm](aug).fit(X, y)
    assert isinstance(err.value, np.linalg.LinAlgError)


def test_a_mask_does_not_rescue_a_zero_feature():
    # Masking adds p (1 - p) diag(M) to the diagonal, which is 0 for a zero feature.
    with pytest.raises(linssl.LinAlgError, match="ridge"):
        fit_all(SINGULAR["zero feature"], linssl.Mask(0.5), K)


def _regularised(m: AugmentedMoments, ridge: float) -> AugmentedMoments:
    """The moments the ridge fit is exactly optimal for: ``S + ridge tr(S) / d I``."""
    shift = ridge * np.trace(m.S) / m.d
    return AugmentedMoments(m.n, m.S + shift * np.eye(m.d), m.G, m.C, m.trace_xx, m.B, m.trace_yy)


@pytest.mark.parametrize("case", sorted(SINGULAR))
@pytest.mark.parametrize("paradigm", sorted(ESTIMATORS))
def test_with_ridge_check_solution_says_how_trustworthy_the_result_is(case, paradigm):
    X = SINGULAR[case]
    y = X[:, :2] @ np.array([[1.0, 0.5], [-2.0, 1.0]])
    aug = linssl.Gaussian(0.0)
    m = aug.moments(X, y)
    est = ESTIMATORS[paradigm](aug, ridge=1e-8).fit(X, y)
    # Against the singular S the fit was asked about: flagged, with the reason and what to do.
    report = check_solution(est, m, action="ignore")
    assert not report.trustworthy
    assert report.condition_number > 1.0 / (m.d * EPS) and np.isnan(report.loss_gap)
    assert "singular to working precision" in report.message and "Increase ridge" in report.message
    with pytest.warns(linssl.NumericalWarning, match="not trustworthy"):
        check_solution(est, m)
    # Against the regularised S it actually solved: optimal to rounding, and well conditioned.
    exact = check_solution(est, _regularised(m, 1e-8), action="raise")
    assert exact.trustworthy and exact.condition_number < 1e11
    assert exact.constraint_residual < 1e-6 and exact.stationarity_residual < 1e-9 and abs(exact.loss_gap) < 1e-8


def test_near_singular_s_is_solved_and_reported_with_its_accuracy():
    X, _ = _data()
    rng = np.random.default_rng(1)
    near = np.hstack([X, X[:, [0]] + 1e-5 * rng.standard_normal((N, 1))])  # almost a duplicate
    m = linssl.Gaussian(0.0).moments(near)
    cond = np.linalg.cond(m.S)
    assert 1e8 < cond < 1e13  # near-singular, but not to working precision
    je = JointEmbedding(K).fit(near)
    want = scipy.linalg.eigh(m.G, m.S, eigvals_only=True)[::-1][:K]
    np.testing.assert_allclose(je.eigenvalues_, want, atol=10 * cond * EPS)
    report = check_solution(je, m, action="ignore")
    assert report.condition_number == pytest.approx(cond, rel=1e-3)
    assert not report.trustworthy and "condition number x eps" in report.message
    assert report.constraint_residual < 10 * cond * EPS


# --- repeated eigenvalues ------------------------------------------------------------------------


def _repeated_spectrum_data(spectrum, n=300, seed=2):
    """Data whose second moment is exactly Q diag(spectrum) Q^T (up to rounding)."""
    rng = np.random.default_rng(seed)
    d = len(spectrum)
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))  # orthonormal columns: U^T U = I
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return np.sqrt(n) * U * np.sqrt(spectrum) @ Q.T


@pytest.mark.parametrize("method", ["dense", "iterative"])
@pytest.mark.parametrize("k", [3, 4])
def test_repeated_eigenvalues_give_the_subspace_scipy_gives(method, k):
    # A cluster of three equal eigenvalues at the top: any basis of it is optimal, the span is unique.
    spectrum = np.array([9.0, 9.0, 9.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.1, 0.05])
    X = _repeated_spectrum_data(spectrum)
    aug = linssl.Gaussian(1.0)
    m = aug.moments(X)
    d = len(spectrum)
    for est, A in ((JointEmbedding(k, augmentation=aug, solver=method), m.G), (Reconstruction(k, augmentation=aug, solver=method), m.C.T @ m.C)):
        est.fit(X)
        values, V = scipy.linalg.eigh(A, m.S, subset_by_index=[d - k, d - 1])
        got = est.eigenvalues_ if isinstance(est, JointEmbedding) else est.singular_values_**2
        np.testing.assert_allclose(got, values[::-1], rtol=1e-10)
        # Paper: omega = s / (s + 1) and phi^2 = s^2 / (s + 1) for noise of variance 1.
        s = spectrum[:k]
        np.testing.assert_allclose(got, s / (s + 1) if isinstance(est, JointEmbedding) else s**2 / (s + 1), rtol=1e-10)
        assert subspace_distance(est.components_, V.T) < 1e-8
        np.testing.assert_allclose(est.components_ @ m.S @ est.components_.T, np.eye(k), atol=1e-10)


# --- invariances ---------------------------------------------------------------------------------


def _full_noise(d, seed=3):
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((d, d))
    return F @ F.T / d + 0.1 * np.eye(d)


@pytest.mark.parametrize("kind", ["gaussian", "mask"])
def test_permuting_features_permutes_every_solution(kind):
    # tau'(x) = P^T tau(P x) for the permutation P: S' = P^T S P, G' = P^T G P, C' = P^T C P,
    # B' = B P. Then W' = W P, E' = E P, D' = P^T D and V' = V P, with the same omega and phi.
    X, Y = _data()
    perm = np.random.default_rng(4).permutation(D)
    if kind == "gaussian":
        cov = _full_noise(D)
        aug, aug_p = linssl.Gaussian(cov), linssl.Gaussian(cov[np.ix_(perm, perm)])
    else:
        p = np.linspace(0.4, 0.9, D)
        aug, aug_p = linssl.Mask(p), linssl.Mask(p[perm])
    a = fit_all(X, aug, K, y=Y)
    b = fit_all(X[:, perm], aug_p, K, y=Y)
    np.testing.assert_allclose(b.joint_embedding.eigenvalues_, a.joint_embedding.eigenvalues_, rtol=1e-12)
    np.testing.assert_allclose(b.reconstruction.singular_values_, a.reconstruction.singular_values_, rtol=1e-12)
    assert subspace_distance(b.joint_embedding.components_, a.joint_embedding.components_[:, perm]) < 1e-10
    maps = [est.decoder_ @ est.encoder_ for est in (a.reconstruction, b.reconstruction)]  # unique given the subspace
    np.testing.assert_allclose(maps[1], maps[0][np.ix_(perm, perm)], atol=1e-10 * np.abs(maps[0]).max())
    np.testing.assert_allclose(b.supervised.coef_, a.supervised.coef_[:, perm], rtol=1e-10, atol=1e-12)
    for x, y in zip(a, b):
        assert y.loss_ == pytest.approx(x.loss_, rel=1e-12)


@pytest.mark.parametrize("c", [1e-3, 7.0, 1e4])
def test_rescaling_the_data_and_the_noise_together(c):
    # X -> c X with noise covariance c^2 Sigma: S, G, C -> c^2 (S, G, C), B -> c B (targets kept).
    # JE: same omega and loss, W -> W / c. RC: phi^2 and loss -> c^2 x, the map D E unchanged.
    # SL: V -> V / c, same loss.
    X, Y = _data()
    cov = _full_noise(D)
    a = fit_all(X, linssl.Gaussian(cov), K, y=Y)
    b = fit_all(c * X, linssl.Gaussian(c**2 * cov), K, y=Y)
    np.testing.assert_allclose(b.joint_embedding.eigenvalues_, a.joint_embedding.eigenvalues_, rtol=1e-10)
    assert b.joint_embedding.loss_ == pytest.approx(a.joint_embedding.loss_, rel=1e-10)
    W_a, W_b = a.joint_embedding.components_, b.joint_embedding.components_
    assert subspace_distance(W_b, W_a) < 1e-9
    np.testing.assert_allclose(np.abs(c * W_b), np.abs(W_a), rtol=1e-8, atol=1e-10 * np.abs(W_a).max())  # rows up to sign
    np.testing.assert_allclose(b.reconstruction.singular_values_**2, c**2 * a.reconstruction.singular_values_**2, rtol=1e-10)
    assert b.reconstruction.loss_ == pytest.approx(c**2 * a.reconstruction.loss_, rel=1e-10)
    maps = [est.decoder_ @ est.encoder_ for est in (a.reconstruction, b.reconstruction)]
    np.testing.assert_allclose(maps[1], maps[0], atol=1e-9 * np.abs(maps[0]).max())
    np.testing.assert_allclose(c * b.supervised.coef_, a.supervised.coef_, rtol=1e-9, atol=1e-12)
    assert b.supervised.loss_ == pytest.approx(a.supervised.loss_, rel=1e-9)


def test_joint_embedding_under_a_mask_ignores_the_scale_of_each_feature():
    # Mask: S = P M P + diag(p (1 - p) diag M), G = P M P. With M' = A M A (A diagonal) both
    # become A (.) A, so omega is unchanged and W' = W A^{-1}. Reconstruction has no such
    # invariance: C'^T C' = P A M A^2 M A P is not A C^T C A.
    X, _ = _data()
    scales = np.geomspace(1e-3, 1e3, D)
    aug = linssl.Mask(np.linspace(0.5, 0.9, D))
    je, je_s = JointEmbedding(K, augmentation=aug).fit(X), JointEmbedding(K, augmentation=aug).fit(X * scales)
    np.testing.assert_allclose(je_s.eigenvalues_, je.eigenvalues_, rtol=1e-10)
    assert subspace_distance(je_s.components_ * scales, je.components_) < 1e-9
    rc, rc_s = Reconstruction(K, augmentation=aug).fit(X), Reconstruction(K, augmentation=aug).fit(X * scales)
    assert subspace_distance(rc_s.components_ * scales, rc.components_) > 0.1


def test_joint_embedding_under_one_mask_probability_is_pca_of_the_correlation_matrix():
    # paper.md: with one p, JE under masking is PCA of the correlation matrix R = D^-1/2 M D^-1/2
    # (D = diag M, uncentred). With u = D^1/2 w: R u = lambda u and omega = p lambda / (p lambda + 1 - p).
    X, _ = _data()
    p = 0.7
    je = JointEmbedding(K, augmentation=linssl.Mask(p)).fit(X)
    M = X.T @ X / len(X)
    scale = np.sqrt(np.diag(M))
    lam, U = np.linalg.eigh(M / np.outer(scale, scale))
    lam, U = lam[::-1][:K], U[:, ::-1][:, :K]
    np.testing.assert_allclose(je.eigenvalues_, p * lam / (p * lam + 1 - p), rtol=1e-10)
    assert subspace_distance(je.components_ * scale, U.T) < 1e-9
