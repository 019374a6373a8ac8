"""Two view distributions for joint embedding (TwoViews): the closed form against a brute-force
L-BFGS minimiser of the Monte Carlo objective, G_12 against Monte Carlo, and the symmetric case."""

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize

import linssl
from augment_oracles import assert_within, empirical


def _data(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 0.7


WEAK = linssl.Gaussian(0.2)
STRONG = linssl.Compose([linssl.Mask(0.6), linssl.RandomLinear([np.eye(5), np.eye(5)[::-1]], offsets=0.3 * np.ones((2, 5)))])


def _views(aug1, aug2, X, draws, seed):
    rng = np.random.default_rng(seed)
    n, d = X.shape
    Z1 = aug1.sample(np.tile(X, (draws, 1)), rng)
    Z2 = aug2.sample(np.tile(X, (draws, 1)), rng)
    return Z1, Z2


def _brute_force(Z1, Z2, k, restarts=4, seed=0):
    """min over W of mean ||W z1 - W z2||^2 subject to W Sbar W^T = I, with Sbar the empirical
    average second moment of the two views: W = (V Sbar V^T)^{-1/2} V for an unconstrained V,
    minimised by L-BFGS (gradients by finite differences) from several starts."""
    m, d = Z1.shape
    diff = Z1 - Z2
    A = diff.T @ diff / m
    Sbar = (Z1.T @ Z1 + Z2.T @ Z2) / (2 * m)

    def normalised(v):
        V = v.reshape(k, d)
        w, U = np.linalg.eigh(V @ Sbar @ V.T)
        return (U / np.sqrt(w)) @ U.T @ V

    def loss(v):
        W = normalised(v)
        return float(np.sum((W @ A) * W))

    rng = np.random.default_rng(seed)
    best = min(
        (scipy.optimize.minimize(loss, rng.standard_normal(k * d), method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-10})
         for _ in range(restarts)),
        key=lambda r: r.fun,
    )
    return best.fun, normalised(best.x)


def _principal_angles(A, B):
    return scipy.linalg.subspace_angles(A.T, B.T)


def test_asymmetric_joint_embedding_matches_brute_force_on_sampled_views():
    X = _data()
    k = 2
    Z1, Z2 = _views(WEAK, STRONG, X, draws=400, seed=3)
    loss_bf, W_bf = _brute_force(Z1, Z2, k)
    je = linssl.JointEmbedding(k, augmentation=(WEAK, STRONG)).fit(X)
    # Monte Carlo objective of 24,000 view pairs: its minimiser is within sampling error of the exact one.
    assert abs(je.loss_ - loss_bf) < 0.03 * je.loss_
    assert np.max(_principal_angles(je.components_, W_bf)) < 0.1
    # The test discriminates: the symmetric solution of the weak view alone is far from it.
    alone = linssl.JointEmbedding(k, augmentation=WEAK).fit(X)
    assert np.max(_principal_angles(alone.components_, W_bf)) > 0.3
    # The exact optimum evaluated on the sampled objective is no worse than the brute-force optimum
    # by more than sampling error, and strictly better than the symmetric (weak, weak) solution.
    diff = Z1 - Z2
    A = diff.T @ diff / len(diff)
    W = je.components_
    Sbar = (Z1.T @ Z1 + Z2.T @ Z2) / (2 * len(Z1))
    w, U = np.linalg.eigh(W @ Sbar @ W.T)
    W = (U / np.sqrt(w)) @ U.T @ W
    assert np.sum((W @ A) * W) <= loss_bf * 1.02


def test_cross_moment_g12_matches_monte_carlo():
    X = _data(n=20)
    exact = linssl.TwoViews(WEAK, STRONG).moments(X)
    draws = 3000
    Z1, Z2 = _views(WEAK, STRONG, X, draws=draws, seed=5)
    Z1, Z2 = Z1.reshape(draws, 20, 5), Z2.reshape(draws, 20, 5)
    cross = np.einsum("rni,rnj->rij", Z1, Z2) / 20
    sym = 0.5 * (cross + cross.transpose(0, 2, 1))
    assert_within(exact.G, sym.mean(axis=0), sym.std(axis=0, ddof=1) / np.sqrt(draws), "sym(G_12)")
    second = 0.5 * (np.einsum("rni,rnj->rij", Z1, Z1) + np.einsum("rni,rnj->rij", Z2, Z2)) / 20
    assert_within(exact.S, second.mean(axis=0), second.std(axis=0, ddof=1) / np.sqrt(draws), "Sbar")


def test_monte_carlo_pair_agrees_with_the_closed_form():
    X = _data(n=30)
    exact = linssl.TwoViews(WEAK, STRONG).moments(X)
    mc = linssl.TwoViews(linssl.Custom(WEAK.sample, draws=64, seed=1), STRONG, draws=64, seed=2).moments(X)
    scale = np.abs(exact.G).max()
    assert np.abs(mc.G - exact.G).max() < 0.05 * scale
    assert np.abs(mc.S - exact.S).max() < 0.05 * np.abs(exact.S).max()


def test_equal_views_reduce_to_the_symmetric_solution():
    X = _data()
    for aug in (STRONG, linssl.PatchMask((1, 5), 1, 0.4)):
        pair = linssl.JointEmbedding(3, augmentation=(aug, aug)).fit(X)
        single = linssl.JointEmbedding(3, augmentation=aug).fit(X)
        np.testing.assert_allclose(pair.eigenvalues_, single.eigenvalues_, atol=1e-10)
        assert np.max(_principal_angles(pair.components_, single.components_)) < 1e-6
        np.testing.assert_allclose(pair.loss_, single.loss_, atol=1e-9)


def test_pairs_are_accepted_where_augmentations_are_and_refused_where_undefined():
    X = _data()
    fitted = linssl.fit_all(X, (WEAK, STRONG), 2, y=X[:, 0])
    # Reconstruction and supervised see a view of either distribution with probability 1/2:
    # S and C are those of that mixture, checked against Monte Carlo of the mixture itself.
    pair = linssl.TwoViews(WEAK, STRONG).moments(X[:20])

    class Mixture:
        @staticmethod
        def sample(Z, rng):
            pick = rng.random((len(Z), 1)) < 0.5
            return np.where(pick, WEAK.sample(Z, rng), STRONG.sample(Z, rng))

    emp = empirical(Mixture, X[:20])
    assert_within(pair.S, *emp["S"], "mixture S")
    assert_within(pair.C, *emp["C"], "mixture C")
    rc = linssl.Reconstruction(2).fit_moments(linssl.TwoViews(WEAK, STRONG).moments(X))
    np.testing.assert_allclose(fitted.reconstruction.loss_, rc.loss_)
    je = fitted.joint_embedding
    np.testing.assert_allclose(je.score(X), -je.loss_, rtol=1e-9)
    with pytest.raises(ValueError, match="pair of views"):
        linssl.JointEmbedding(2, augmentation=(WEAK, STRONG), solver="gram").fit(X)
    with pytest.raises(ValueError, match="two views"):
        linssl.JointEmbedding(2, augmentation=(WEAK, STRONG, WEAK)).fit(X)
    with pytest.raises(TypeError, match="Compose"):
        linssl.Compose([linssl.TwoViews(WEAK, STRONG)])
    with pytest.raises(TypeError, match="no single sample"):
        linssl.TwoViews(WEAK, STRONG).sample(X)
