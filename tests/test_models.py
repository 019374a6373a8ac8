"""The estimators of linssl.models against oracles written from paper.md.

- Monte Carlo: each fitted model's objective, estimated from explicitly sampled augmentations
  (samplers in tests/oracles.py, independent of linssl.augment), agrees with its ``loss_``.
- Brute force: no random feasible ``W`` beats the joint-embedding loss; L-BFGS over ``(E, D)`` reaches
  the reconstruction loss and not below; the supervised solution is ridge regression.
"""

import numpy as np
import pytest
import scipy.optimize
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

import linssl
from linssl.bench import reference
from linssl.augment import Compose, Custom, Gaussian, Mask
from linssl.models import JointEmbedding, Reconstruction, Supervised
from linssl.fitting import fit_all, fit_batch

from oracles import (
    assert_mc_agrees,
    compose_samplers,
    je_samples,
    mask_sampler,
    noise_sampler,
    random_feasible_W,
    rc_samples,
    sl_samples,
)

D = 6
NOISE_COV = np.diag(np.linspace(0.2, 1.0, D)) + 0.1
MASK_P = np.linspace(0.4, 0.95, D)


def _custom_noise(X, rng):
    return X + rng.standard_normal(X.shape) @ np.linalg.cholesky(NOISE_COV).T


# (linssl augmentation, independent sampler of the same law)
AUGMENTATIONS = {
    "gaussian": (Gaussian(NOISE_COV), noise_sampler(NOISE_COV)),
    "mask": (Mask(MASK_P), mask_sampler(MASK_P)),
    "mask-then-noise": (Compose([Mask(MASK_P), Gaussian(NOISE_COV)]), compose_samplers(mask_sampler(MASK_P), noise_sampler(NOISE_COV))),
    "noise-then-mask": (Compose([Gaussian(NOISE_COV), Mask(MASK_P)]), compose_samplers(noise_sampler(NOISE_COV), mask_sampler(MASK_P))),
}


def _data(n=80, l=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D)) @ np.diag(np.linspace(2.0, 0.5, D)) @ np.linalg.qr(rng.standard_normal((D, D)))[0]
    Y = X @ rng.standard_normal((D, l)) + 0.5 * rng.standard_normal((n, l))
    return X, Y


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_losses_match_monte_carlo_objectives(name):
    aug, draw = AUGMENTATIONS[name]
    X, Y = _data()
    je, rc, sl = fit_all(X, aug, k=3, y=Y)
    rng = np.random.default_rng(1)
    assert_mc_agrees(je_samples(je.components_, X, draw, rng), je.loss_, f"{name} JE")
    assert_mc_agrees(rc_samples(rc.encoder_, rc.decoder_, X, draw, rng), rc.loss_, f"{name} RC")
    assert_mc_agrees(sl_samples(sl.coef_, X, Y, draw, rng), sl.loss_, f"{name} SL")


def test_custom_augmentation_solutions_match_their_closed_form_within_monte_carlo_error():
    # A Gaussian written as a user function: its Monte Carlo moments give solutions whose true
    # objective (under the exact law) is within sampling error of the closed-form optimum.
    X, Y = _data(n=400)
    exact = fit_all(X, Gaussian(NOISE_COV), k=3, y=Y)
    mc = fit_all(X, Custom(_custom_noise, draws=64, seed=3), k=3, y=Y)
    m = Gaussian(NOISE_COV).moments(X, Y)
    assert mc.joint_embedding.objective(m) >= exact.joint_embedding.loss_ - 1e-9
    assert mc.joint_embedding.objective(m) == pytest.approx(exact.joint_embedding.loss_, rel=0.05)
    assert mc.reconstruction.objective(m) >= exact.reconstruction.loss_ - 1e-9
    assert mc.reconstruction.objective(m) == pytest.approx(exact.reconstruction.loss_, rel=0.02)
    assert mc.supervised.objective(m) >= exact.supervised.loss_ - 1e-9
    assert mc.supervised.objective(m) == pytest.approx(exact.supervised.loss_, rel=0.02)
    # ... and the Monte Carlo estimate of the Custom model's own objective agrees with its loss_.
    draw = noise_sampler(NOISE_COV)
    rng = np.random.default_rng(4)
    m_mc = Custom(_custom_noise, draws=64, seed=3).moments(X, Y)
    assert mc.supervised.loss_ == pytest.approx(mc.supervised.objective(m_mc), rel=1e-10)
    assert_mc_agrees(sl_samples(mc.supervised.coef_, X, Y, draw, rng), mc.supervised.objective(m), "Custom SL")


@pytest.mark.parametrize("name", ["gaussian", "mask"])
def test_no_feasible_W_beats_joint_embedding(name):
    aug, _ = AUGMENTATIONS[name]
    X, _ = _data()
    m = aug.moments(X)
    je = JointEmbedding(3).fit_moments(m)
    np.testing.assert_allclose(je.components_ @ m.S @ je.components_.T, np.eye(3), atol=1e-10)
    assert np.all(np.diff(je.eigenvalues_) <= 1e-15)
    assert je.loss_ == pytest.approx(2 * (3 - je.eigenvalues_.sum()))
    assert je.objective(m) == pytest.approx(je.loss_, rel=1e-10, abs=1e-12)
    rng = np.random.default_rng(2)
    for _ in range(300):
        W = random_feasible_W(m.S, 3, rng)
        assert 2 * np.sum((W @ m.Sigma) * W) >= je.loss_ - 1e-10


@pytest.mark.parametrize("name", ["gaussian", "mask"])
def test_lbfgs_reaches_the_reconstruction_loss_and_not_below(name):
    aug, _ = AUGMENTATIONS[name]
    X, _ = _data()
    m = aug.moments(X)
    k = 2
    rc = Reconstruction(k).fit_moments(m)

    def objective(theta):
        E, Dm = theta[: k * D].reshape(k, D), theta[k * D :].reshape(D, k)
        A = Dm @ E
        grad = 2 * (A @ m.S - m.C)
        value = m.trace_xx - 2 * np.sum(A * m.C) + np.sum((A @ m.S) * A)
        return value, np.concatenate([(Dm.T @ grad).ravel(), (grad @ E.T).ravel()])

    rng = np.random.default_rng(3)
    found = [
        scipy.optimize.minimize(objective, rng.standard_normal(2 * k * D), jac=True, method="L-BFGS-B",
                                options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-14}).fun
        for _ in range(4)
    ]
    assert min(found) == pytest.approx(rc.loss_, rel=1e-7)
    assert min(found) >= rc.loss_ - 1e-9 * abs(rc.loss_)
    np.testing.assert_allclose(rc.encoder_ @ m.S @ rc.encoder_.T, np.eye(k), atol=1e-10)
    np.testing.assert_allclose(rc.inverse_transform(rc.transform(X)), X @ (rc.decoder_ @ rc.encoder_).T)


def test_supervised_with_isotropic_noise_is_ridge_regression():
    X, Y = _data()
    sigma2 = 0.3
    sl = Supervised(augmentation=Gaussian(sigma2)).fit(X, Y)
    ridge = Ridge(alpha=len(X) * sigma2, fit_intercept=False, solver="cholesky").fit(X, Y)
    np.testing.assert_allclose(sl.coef_, ridge.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sl.predict(X), ridge.predict(X), rtol=1e-9, atol=1e-12)
    sl1 = Supervised(augmentation=Gaussian(sigma2)).fit(X, Y[:, 0])
    assert sl1.coef_.shape == (D,) and sl1.predict(X).shape == (len(X),)
    np.testing.assert_allclose(sl1.coef_, ridge.coef_[0], rtol=1e-10)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_estimators_agree_with_the_numpy_reference(name):
    aug, _ = AUGMENTATIONS[name]
    X, Y = _data()
    m = aug.moments(X, Y)
    je, rc, sl = fit_all(X, aug, k=3, y=Y)
    ref_je = reference.joint_embedding(m.S, m.G, 3)
    ref_rc = reference.reconstruction(m.S, m.C, m.trace_xx, 3)
    ref_sl = reference.supervised(m.S, m.B, m.trace_yy)
    np.testing.assert_allclose(je.eigenvalues_, ref_je.omega, rtol=1e-9)
    assert rc.loss_ == pytest.approx(ref_rc.loss, rel=1e-9)
    np.testing.assert_allclose(rc.decoder_ @ rc.encoder_, ref_rc.D @ ref_rc.E, atol=1e-9)
    np.testing.assert_allclose(sl.coef_, ref_sl.V, rtol=1e-9, atol=1e-12)


def test_fit_batch_equals_one_by_one():
    X, Y = _data()
    moments = [Gaussian(s).moments(X, Y) for s in (0.1, 1.0, 10.0)]
    for method, cls, kw in (("joint_embedding", JointEmbedding, {"n_components": 2}), ("reconstruction", Reconstruction, {"n_components": 2}), ("supervised", Supervised, {})):
        batch = fit_batch(method, moments, n_components=2)
        for m, est in zip(moments, batch):
            single = cls(**kw).fit_moments(m)
            assert est.loss_ == pytest.approx(single.loss_, rel=1e-12)


def test_shapes_attributes_and_errors():
    X, Y = _data()
    je = JointEmbedding(2, augmentation=Mask(0.7)).fit(X)
    assert je.transform(X).shape == (len(X), 2) and je.n_features_in_ == D
    assert je.score(X) == pytest.approx(-je.loss_, rel=1e-10)  # same data: the optimum
    assert JointEmbedding(augmentation=Mask(0.7)).fit(X).components_.shape == (D, D)
    with pytest.raises(ValueError, match="features"):
        je.transform(X[:, :3])
    with pytest.raises(ValueError, match="targets"):
        Supervised().fit(X)
    with pytest.raises(TypeError, match="augmentation"):
        JointEmbedding(2).fit(X, augmentation="noise")
    with pytest.raises(ValueError):
        JointEmbedding(D + 1, augmentation=Mask(0.7)).fit(X)
    with pytest.raises(linssl.LinAlgError, match="ridge"):
        JointEmbedding(2).fit(np.hstack([X, X[:, :1]]))  # duplicated feature, no augmentation noise


def test_float32_input_gives_float64_models_within_float32_accuracy():
    X, _ = _data(n=2000)
    aug = Gaussian(NOISE_COV)
    full = JointEmbedding(3, augmentation=aug).fit(X)
    single = JointEmbedding(3, augmentation=aug, dtype=np.float32).fit(X)
    assert single.components_.dtype == np.float64
    np.testing.assert_allclose(single.eigenvalues_, full.eigenvalues_, rtol=1e-5)


@parametrize_with_checks([JointEmbedding(2, ridge=1e-8), Reconstruction(2, ridge=1e-8)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_readme_example():
    model = linssl.SignalNoiseModel.random(k=5, d=20, gamma_max=1e6, seed=0)
    sample = model.sample(n=20_000, seed=0)
    fits = linssl.fit_all(sample.corrupted, model.augmentation(alpha=1.0), k=5, y=np.eye(10)[sample.labels])
    for est in fits:
        assert np.isfinite(est.loss_)
