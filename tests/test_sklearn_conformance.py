"""The estimators against scikit-learn's own estimator checks and conventions.

``parametrize_with_checks`` runs scikit-learn's suite (the checks every estimator in scikit-learn
passes) on the three estimators at their default parameters; the other tests check what those do
not: R^2 scores comparable with ``Ridge``, feature names, pandas output, parameter validation.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import linssl
from linssl import JointEmbedding, Reconstruction, Supervised


@parametrize_with_checks([JointEmbedding(), Reconstruction(), Supervised()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _regression(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.01 * rng.standard_normal(n)
    return X, y


def test_supervised_scores_r2_like_ridge():
    X, y = _regression()
    ours = cross_val_score(Supervised(), X, y, cv=5)
    ridge = cross_val_score(Ridge(alpha=0.0, fit_intercept=False), X, y, cv=5)
    np.testing.assert_allclose(ours, ridge, rtol=1e-10)
    assert ours.min() > 0.99
    # The paradigm's objective stays available, and equals the fitted loss_ on the training moments.
    sl = Supervised(augmentation=linssl.Gaussian(0.1)).fit(X, y)
    m = sl.moments_of(X, y)
    assert sl.objective(m) == pytest.approx(sl.loss_, rel=1e-12)


def test_feature_names_and_pandas_output():
    X, _ = _regression()
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    je = JointEmbedding(3).fit(frame)
    assert list(je.feature_names_in_) == list(frame.columns)
    assert list(je.get_feature_names_out()) == ["jointembedding0", "jointembedding1", "jointembedding2"]
    out = Reconstruction(2).set_output(transform="pandas").fit(frame).transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["reconstruction0", "reconstruction1"]
    np.testing.assert_allclose(out.to_numpy(), Reconstruction(2).fit(X).transform(X))
    # In a pipeline, the names flow to the next step.
    pipe = make_pipeline(JointEmbedding(2), Supervised()).fit(frame, frame["pixel0"])
    assert pipe.score(frame, frame["pixel0"]) <= 1.0


def test_parameters_are_validated_at_fit_with_scikit_learns_messages():
    X, y = _regression()
    with pytest.raises(ValueError, match="'ridge' parameter of JointEmbedding must be a float in the range"):
        JointEmbedding(2, ridge=-1.0).fit(X)
    with pytest.raises(ValueError, match="'solver' parameter of Reconstruction must be a str among"):
        Reconstruction(2, solver="lanczos").fit(X)
    with pytest.raises(ValueError, match="'augmentation' parameter of Supervised must be an instance of"):
        Supervised(augmentation="gaussian").fit(X, y)


@pytest.mark.parametrize("make", [lambda s: np.random.default_rng(s), lambda s: s])
def test_seeds_accept_generators_and_integers(make):
    model = linssl.SignalNoiseModel.random(3, 8, seed=make(5))
    sample = model.sample(50, seed=make(1))
    assert sample.clean.shape == (50, 8)
    X = sample.corrupted
    aug = linssl.Custom(lambda x, rng: x + rng.standard_normal(x.shape), draws=4, seed=make(2))
    assert aug.moments(X).S.shape == (8, 8)
    assert aug.sample(X, make(3)).shape == X.shape
    from linssl.checks import monte_carlo_loss

    je = JointEmbedding(2, augmentation=linssl.Gaussian(1.0)).fit(X)
    mean, stderr = monte_carlo_loss(je, X, linssl.Gaussian(1.0), draws=20, seed=make(4))
    assert abs(mean - je.loss_) < 5 * stderr + 1e-12


def test_integer_seeds_are_reproducible_and_generators_advance():
    assert np.array_equal(
        linssl.SignalNoiseModel.random(3, 8, seed=5).noise_spectrum, linssl.SignalNoiseModel.random(3, 8, seed=5).noise_spectrum
    )
    rng = np.random.default_rng(0)
    model = linssl.SignalNoiseModel.random(3, 8, seed=0)
    first, second = model.sample(20, seed=rng).clean, model.sample(20, seed=rng).clean
    assert not np.array_equal(first, second)
    with pytest.raises(TypeError, match="seed must be an int, None, a numpy.random.SeedSequence or a numpy.random.Generator"):
        model.sample(20, seed=1.5)
