"""Numerical validation of the paper's propositions with linssl's own solvers (issue: theory as code).

Population moments (n -> inf) check the thresholds of Propositions 4.3 and 4.4 and Corollary 4.5;
finite samples check Proposition 4.2 (supervised learning becomes optimal as n grows at any alpha)
and the alpha -> inf limit at small n.
"""

import numpy as np

import linssl
import pytest

from linssl import theory
from linssl.metrics import distance_to_optimality, subspace_distance
from linssl.synthetic import SignalNoiseModel
from linssl.fitting import estimator_for

from oracles import threshold_model


@pytest.mark.parametrize("spectra, less", [("weak", "reconstruction"), ("strong", "joint_embedding")])
@pytest.mark.parametrize("method", ["joint_embedding", "reconstruction"])
@pytest.mark.parametrize("rotate_seed", [None, 7])
def test_population_solution_recovers_the_subspace_just_above_the_threshold_only(spectra, less, method, rotate_seed):
    model = threshold_model(spectra, rotate_seed)
    t = theory.thresholds(model)
    a2 = t.alpha2_je if method == "joint_embedding" else t.alpha2_rc
    above = theory.population_solution(method, model, np.sqrt(1.2 * a2))
    below = theory.population_solution(method, model, np.sqrt(0.8 * a2))
    important = model.signal_basis.T
    assert subspace_distance(above.components_, important) < 1e-3
    assert subspace_distance(below.components_, important) > 0.5
    assert theory.regime(model).less_alignment == less


def test_large_sample_agrees_with_the_population_limit():
    # n = 2e5 samples of the strong-noise model: recovery above the JE threshold, failure below.
    model = threshold_model("strong")
    t = theory.thresholds(model)
    sample = model.sample(200_000, seed=0)
    for factor, recovers in ((1.2, True), (0.8, False)):
        fit = estimator_for("je", n_components=3, augmentation=model.augmentation(np.sqrt(factor * t.alpha2_je)))
        dist = subspace_distance(fit.fit(sample.corrupted).components_, model.signal_basis.T)
        assert (dist < 0.05) if recovers else (dist > 0.5)


def _relative_distance(method, model, n, alpha, test, seed=0):
    train = model.sample(n, seed=seed)
    targets = np.eye(model.n_classes)[train.labels]
    aug = model.augmentation(alpha)
    clean = estimator_for(method, n_components=model.k, augmentation=aug).fit(train.clean, targets)
    corrupted = estimator_for(method, n_components=model.k, augmentation=aug).fit(train.corrupted, targets)
    distance, p_clean, _ = distance_to_optimality(clean, corrupted, test, return_losses=True)
    return distance / p_clean


MODEL = SignalNoiseModel.random(5, 20, gamma_max=1e6, seed=0)
TEST = MODEL.sample(4000, seed=1, split="test")


@pytest.mark.parametrize("alpha", [0.0, 0.1, 1.0])
def test_supervised_becomes_optimal_as_n_grows_at_any_alignment(alpha):
    distances = [_relative_distance("supervised", MODEL, n, alpha, TEST) for n in (100, 2_000, 200_000)]
    assert distances[0] > distances[1] > distances[2]
    assert distances[2] < 1e-3
    # ... while joint embedding and reconstruction at these alignments stay far (strong noise).
    if alpha <= 0.1:
        for method in ("joint_embedding", "reconstruction"):
            assert not theory.predicts_optimal(method, MODEL, alpha)
            assert _relative_distance(method, MODEL, 200_000, alpha, TEST) > 0.1


@pytest.mark.parametrize("method", linssl.PARADIGMS)
def test_all_methods_become_optimal_as_alignment_grows_at_small_n(method):
    distances = [_relative_distance(method, MODEL, 100, alpha, TEST) for alpha in (10.0, 100.0, 1000.0)]
    assert distances[0] > distances[1] > distances[2]
    assert distances[2] < 1e-6
