"""Independent oracles shared by the tests: augmentations sampled from their definitions in
paper.md (not from linssl.augment) and Monte Carlo estimates of the three objectives."""

import numpy as np

#: Allowed deviation of a Monte Carlo estimate, in standard errors.
Z_CRIT = 5.0


def noise_sampler(cov):
    """``tau(x) = x + eps``, ``eps ~ N(0, cov)``."""
    L = np.linalg.cholesky(cov)

    def draw(X, rng):
        return X + rng.standard_normal(X.shape) @ L.T

    return draw


def mask_sampler(p):
    """``tau(x) = m * x``, ``m_j ~ Bernoulli(p_j)``."""

    def draw(X, rng):
        return X * (rng.random(X.shape) < p)

    return draw


def compose_samplers(*draws):
    """Apply samplers in sequence (independent draws)."""

    def draw(X, rng):
        for f in draws:
            X = f(X, rng)
        return X

    return draw


def je_samples(W, X, draw, rng, R=400):
    """Per-draw values of (1/n) sum_i ||W tau1(x_i) - W tau2(x_i)||^2."""
    return [np.mean(np.sum(((draw(X, rng) - draw(X, rng)) @ W.T) ** 2, axis=1)) for _ in range(R)]


def rc_samples(E, D, X, draw, rng, R=400):
    """Per-draw values of (1/n) sum_i ||x_i - D E tau(x_i)||^2."""
    return [np.mean(np.sum((X - draw(X, rng) @ E.T @ D.T) ** 2, axis=1)) for _ in range(R)]


def sl_samples(V, X, Y, draw, rng, R=400):
    """Per-draw values of (1/n) sum_i ||y_i - V tau(x_i)||^2."""
    return [np.mean(np.sum((Y - draw(X, rng) @ V.T) ** 2, axis=1)) for _ in range(R)]


def assert_mc_agrees(values, exact, what):
    values = np.asarray(values)
    mean, se = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
    assert abs(mean - exact) <= Z_CRIT * se, f"{what}: Monte Carlo {mean:.6g} +- {se:.2g} vs closed form {exact:.6g}"


def inverse_sqrt(S):
    """``S^{-1/2}`` by eigendecomposition."""
    w, U = np.linalg.eigh(S)
    return (U / np.sqrt(w)) @ U.T


def random_feasible_W(S, k, rng):
    """A random ``W`` (k x d) with ``W S W^T = I``."""
    W0 = rng.standard_normal((k, S.shape[0]))
    return inverse_sqrt(W0 @ S @ W0.T) @ W0
