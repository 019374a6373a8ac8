"""Independent oracles shared by the tests: augmentations sampled from their definitions in
paper.md (not from linssl.augment), Monte Carlo estimates of the three objectives, and random
symmetric matrices with a prescribed spectrum."""

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


#: Irrelevant-noise and augmentation spectra of the noise block for :func:`threshold_model`:
#: "weak" has every lambda^Gamma below eta^2 / delta (= 16 here), "strong" every one above.
SPECTRA = {
    "weak": dict(gamma_noise=[12.0, 10.0, 14.0], theta_noise=[0.2, 0.1, 0.3]),
    "strong": dict(gamma_noise=[400.0, 300.0, 500.0], theta_noise=[1.0, 2.0, 0.5]),
}


def small_model(gamma_noise, theta_noise, rotate_seed=None):
    """A model with k = 3 important directions (s = 40, 25, 16; lambda^Theta = 30, 20, 14) and the
    given noise block, in the identity basis or a random rotation."""
    from linssl.synthetic import SignalNoiseModel

    gamma = np.concatenate([np.zeros(3), gamma_noise])
    theta = np.concatenate([[30.0, 20.0, 14.0], theta_noise])
    basis = None
    if rotate_seed is not None:
        basis, _ = np.linalg.qr(np.random.default_rng(rotate_seed).standard_normal((len(gamma),) * 2))
    return SignalNoiseModel(np.array([40.0, 25.0, 16.0]), gamma, theta, basis)


def threshold_model(spectra: str, rotate_seed=None):
    """The "weak" or "strong" small model: both alignment thresholds positive, ordered as Cor 4.5 says."""
    return small_model(**SPECTRA[spectra], rotate_seed=rotate_seed)


def random_orthogonal(d, rng):
    """A Haar-distributed d x d orthogonal matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def with_spectrum(values, rng):
    """A symmetric matrix with eigenvalues ``values`` and random eigenvectors."""
    q = random_orthogonal(len(values), rng)
    m = (q * values) @ q.T
    return (m + m.T) / 2


def spd(d, rng, cond=1e3):
    """A d x d symmetric positive definite matrix with eigenvalues log-spaced from 1 to ``cond``."""
    return with_spectrum(np.logspace(0, np.log10(cond), d), rng)
