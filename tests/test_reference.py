"""The NumPy reference solves the paper's problems: checked by Monte Carlo, brute force and scikit-learn.

Augmentations are sampled here directly from their definitions (paper.md, "Moments of common
augmentations"), independently of linssl.augment. Monte Carlo comparisons allow ``Z_CRIT`` standard
errors of the estimate.
"""

import numpy as np
import pytest
import scipy.optimize
from sklearn.linear_model import Ridge

from linssl.bench import reference as ref

from oracles import Z_CRIT, assert_mc_agrees as _assert_mc_agrees, je_samples as _je_samples, mask_sampler as _mask_sampler
from oracles import noise_sampler as _noise_sampler, rc_samples as _rc_samples, sl_samples as _sl_samples


def _data(n=60, d=6, l=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) @ np.diag(np.linspace(2.0, 0.5, d)) @ np.linalg.qr(rng.standard_normal((d, d)))[0]
    Y = X @ rng.standard_normal((d, l)) + 0.5 * rng.standard_normal((n, l))
    return X, Y


D = 6
NOISE_COV = np.diag(np.linspace(0.2, 1.0, D)) + 0.1
MASK_P = np.linspace(0.4, 0.95, D)
AUGMENTATIONS = {
    "noise": (lambda X, Y: ref.gaussian_moments(X, NOISE_COV, Y), _noise_sampler(NOISE_COV)),
    "mask": (lambda X, Y: ref.mask_moments(X, MASK_P, Y), _mask_sampler(MASK_P)),
}


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_moment_formulas_match_sampled_views(name):
    moments_of, draw = AUGMENTATIONS[name]
    X, Y = _data()
    m = moments_of(X, Y)
    rng = np.random.default_rng(1)
    n, R = len(X), 3000
    Z = draw(np.tile(X, (R, 1)), rng).reshape(R, n, D)
    per_draw = {
        "S": np.einsum("rni,rnj->rij", Z, Z) / n,
        "G": np.einsum("rni,rnj->rij", Z[0::2], Z[1::2]) / n,  # independent draws: E = Xbar^T Xbar / n
        "C": np.einsum("ni,rnj->rij", X, Z) / n,
        "B": np.einsum("nl,rnj->rlj", Y, Z) / n,
    }
    for key, values in per_draw.items():
        mean, se = values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(len(values))
        assert np.all(np.abs(mean - getattr(m, key)) <= Z_CRIT * se + 1e-12), key


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_monte_carlo_moments_are_unbiased(name):
    moments_of, draw = AUGMENTATIONS[name]
    X, Y = _data(n=30)
    exact = moments_of(X, Y)
    runs = [ref.monte_carlo_moments(X, draw, draws=2, seed=s, Y=Y) for s in range(300)]
    for key in "SGCB":
        values = np.array([getattr(r, key) for r in runs])
        mean, se = values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(len(values))
        assert np.all(np.abs(mean - getattr(exact, key)) <= Z_CRIT * se + 1e-12), key
    assert runs[0].trace_xx == pytest.approx(exact.trace_xx) and runs[0].trace_yy == pytest.approx(exact.trace_yy)


def test_inverse_sqrt():
    X, _ = _data()
    S = ref.second_moment(X) + 0.1 * np.eye(D)
    R = ref.inverse_sqrt(S)
    np.testing.assert_allclose(R, R.T, atol=1e-14)
    np.testing.assert_allclose(R @ S @ R, np.eye(D), atol=1e-12)
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        ref.inverse_sqrt(np.diag([1.0, 0.0, 2.0]))


# --- the objectives, evaluated from moments, agree with their definitions -------------------------


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_objectives_from_moments_match_their_definitions(name):
    moments_of, draw = AUGMENTATIONS[name]
    X, Y = _data()
    m = moments_of(X, Y)
    rng = np.random.default_rng(2)
    W, E, D_, V = (rng.standard_normal(shape) for shape in ((2, D), (2, D), (D, 2), (2, D)))
    _assert_mc_agrees(_je_samples(W, X, draw, rng), ref.joint_embedding_loss(W, m.S, m.G), "JE objective")
    _assert_mc_agrees(_rc_samples(E, D_, X, draw, rng), ref.reconstruction_loss(E, D_, m.S, m.C, m.trace_xx), "RC")
    _assert_mc_agrees(_sl_samples(V, X, Y, draw, rng), ref.supervised_loss(V, m.S, m.B, m.trace_yy), "SL")


# --- joint embedding ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_joint_embedding_is_optimal(name):
    moments_of, draw = AUGMENTATIONS[name]
    X, Y = _data()
    m = moments_of(X, Y)
    k = 3
    sol = ref.joint_embedding(m.S, m.G, k)
    np.testing.assert_allclose(sol.W @ m.S @ sol.W.T, np.eye(k), atol=1e-10)
    assert np.all(np.diff(sol.omega) <= 0) and np.all((sol.omega >= 0) & (sol.omega <= 1 + 1e-12))
    _assert_mc_agrees(_je_samples(sol.W, X, draw, np.random.default_rng(3)), sol.loss, "JE loss")
    # The SciPy generalized-eigen route gives the same optimum and the same subspace.
    alt = ref.joint_embedding(m.S, m.G, k, solver="eigh")
    np.testing.assert_allclose(alt.omega, sol.omega, rtol=1e-10)
    assert alt.loss == pytest.approx(sol.loss, rel=1e-10)
    np.testing.assert_allclose(np.linalg.svd(sol.W @ m.S @ alt.W.T, compute_uv=False), 1.0, atol=1e-8)
    # No feasible W (W S W^T = I) beats it.
    rng = np.random.default_rng(4)
    R = ref.inverse_sqrt(m.S)
    for _ in range(500):
        W0 = rng.standard_normal((k, D)) @ (R if rng.random() < 0.5 else np.eye(D))
        W = ref.inverse_sqrt(W0 @ m.S @ W0.T) @ W0
        np.testing.assert_allclose(W @ m.S @ W.T, np.eye(k), atol=1e-9)
        assert ref.joint_embedding_loss(W, m.S, m.G) >= sol.loss - 1e-10


# --- reconstruction -------------------------------------------------------------------------------


def _lbfgs_reconstruction(m, k, rng):
    """Minimise the reconstruction objective over (E, D) from a random start; returns the minimum."""

    def objective(theta):
        E, D_ = theta[: k * D].reshape(k, D), theta[k * D :].reshape(D, k)
        A = D_ @ E
        grad_A = 2 * (A @ m.S - m.C)  # d/dA of trace_xx - 2 tr(A C^T) + tr(A S A^T)
        return ref.reconstruction_loss(E, D_, m.S, m.C, m.trace_xx), np.concatenate(
            [(D_.T @ grad_A).ravel(), (grad_A @ E.T).ravel()]
        )

    res = scipy.optimize.minimize(
        objective, rng.standard_normal(2 * k * D), jac=True, method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-13}
    )
    return res.fun


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_reconstruction_is_optimal(name):
    moments_of, draw = AUGMENTATIONS[name]
    X, Y = _data()
    m = moments_of(X, Y)
    k = 2
    sol = ref.reconstruction(m.S, m.C, m.trace_xx, k)
    assert sol.E.shape == (k, D) and sol.D.shape == (D, k)
    np.testing.assert_allclose(sol.E @ m.S @ sol.E.T, np.eye(k), atol=1e-10)
    assert ref.reconstruction_loss(sol.E, sol.D, m.S, m.C, m.trace_xx) == pytest.approx(sol.loss, rel=1e-10)
    _assert_mc_agrees(_rc_samples(sol.E, sol.D, X, draw, np.random.default_rng(5)), sol.loss, "RC loss")
    alt = ref.reconstruction(m.S, m.C, m.trace_xx, k, solver="eigh")
    assert alt.loss == pytest.approx(sol.loss, rel=1e-10)
    np.testing.assert_allclose(alt.D @ alt.E, sol.D @ sol.E, atol=1e-8)
    # A numerical optimiser from random starts reaches the closed-form loss and never goes below.
    rng = np.random.default_rng(6)
    found = [_lbfgs_reconstruction(m, k, rng) for _ in range(4)]
    assert min(found) == pytest.approx(sol.loss, rel=1e-7)
    assert all(f >= sol.loss - 1e-9 * abs(sol.loss) for f in found)


# --- supervised -----------------------------------------------------------------------------------


def test_supervised_with_noise_is_ridge_regression():
    # Isotropic noise sigma^2 I: V = (Y^T X / n)(X^T X / n + sigma^2 I)^{-1}, ridge with alpha = n sigma^2.
    X, Y = _data()
    sigma2 = 0.3
    m = ref.gaussian_moments(X, sigma2, Y)
    sol = ref.supervised(m.S, m.B, m.trace_yy)
    ridge = Ridge(alpha=len(X) * sigma2, fit_intercept=False, solver="cholesky").fit(X, Y)
    np.testing.assert_allclose(sol.V, ridge.coef_, rtol=1e-10, atol=1e-12)
    residual = np.sum((Y - X @ ridge.coef_.T) ** 2) / len(X) + sigma2 * np.sum(ridge.coef_**2)
    assert sol.loss == pytest.approx(residual, rel=1e-10)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_supervised_equals_least_squares_on_an_augmented_design(name):
    moments_of, draw = AUGMENTATIONS[name]
    X, Y = _data()
    m = moments_of(X, Y)
    sol = ref.supervised(m.S, m.B, m.trace_yy)
    assert ref.supervised_loss(sol.V, m.S, m.B, m.trace_yy) == pytest.approx(sol.loss, rel=1e-10)
    _assert_mc_agrees(_sl_samples(sol.V, X, Y, draw, np.random.default_rng(7)), sol.loss, "SL loss")
    # Least squares on many explicitly augmented copies of X (Y repeated) converges to V:
    # batch means over independent groups of copies give the Monte Carlo error.
    rng = np.random.default_rng(8)
    groups, copies = 30, 100
    fits = []
    for _ in range(groups):
        Z = draw(np.tile(X, (copies, 1)), rng)
        fits.append(np.linalg.lstsq(Z, np.tile(Y, (copies, 1)), rcond=None)[0].T)
    fits = np.array(fits)
    mean, se = fits.mean(axis=0), fits.std(axis=0, ddof=1) / np.sqrt(groups)
    assert np.all(np.abs(mean - sol.V) <= Z_CRIT * se)


def test_unknown_methods_are_rejected():
    S = np.eye(3)
    with pytest.raises(ValueError, match="solver"):
        ref.joint_embedding(S, S, 1, solver="qr")
    with pytest.raises(ValueError, match="solver"):
        ref.reconstruction(S, S, 3.0, 1, solver="qr")


def test_chunked_monte_carlo_sees_the_views_linssl_custom_sees():
    # Same generator, same chunks, same order of draws: linssl's streamed estimate equals the
    # NumPy loop over materialised copies to rounding, whatever its standard-error groups.
    from linssl import Custom

    X, Y = _data(n=70)

    def scale_and_jitter(x, rng):
        return x * rng.uniform(0.5, 1.5, size=(len(x), 1)) + 0.1 * rng.standard_normal(x.shape)

    expected = ref.monte_carlo_moments(X, scale_and_jitter, draws=8, seed=5, Y=Y, chunk_size=16)
    for batches in (1, 4):
        one = Custom(scale_and_jitter, draws=8, seed=5, chunk_size=16, batches=batches, threads=1).moments(X, Y)
        for key in "SGCB":
            np.testing.assert_allclose(getattr(one, key), getattr(expected, key), rtol=1e-12, atol=1e-13, err_msg=key)
        assert one.trace_xx == pytest.approx(expected.trace_xx, rel=1e-13)
        # Views drawn on several threads at once, finishing in any order: the same numbers, bit for bit.
        many = Custom(scale_and_jitter, draws=8, seed=5, chunk_size=16, batches=batches, threads=3).moments(X, Y)
        for key in "SGCB":
            np.testing.assert_array_equal(getattr(many, key), getattr(one, key), err_msg=key)
