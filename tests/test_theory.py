"""Thresholds and regimes of linssl.theory against the population optimum computed by SciPy.

The oracle solves the population generalized eigenproblems of paper.md directly with
``scipy.linalg.eigh`` (JE: ``G w = omega S w``; RC: ``C^T C v = phi^2 S v``) and checks whether the
top-k solution spans the important subspace; the thresholds must predict exactly that.
"""

import numpy as np
import pytest
import scipy.linalg

from linssl import theory
from linssl.metrics import subspace_distance
from linssl.synthetic import SignalNoiseModel

from oracles import SPECTRA, small_model


def _population_top_k(model, alpha, method):
    """Top-k generalized eigenvectors (rows) of the population problem, by SciPy."""
    Q = model.basis
    k, d = model.k, model.d
    second = Q @ np.diag(np.concatenate([model.signal_variances, np.zeros(d - k)]) + model.noise_spectrum) @ Q.T
    S = second + Q @ np.diag(model.augmentation_spectrum + alpha**2 * model.noise_spectrum) @ Q.T
    A = second if method == "joint_embedding" else second.T @ second  # G = C = second for additive noise
    _, V = scipy.linalg.eigh(A, S, subset_by_index=[d - k, d - 1])
    return V.T


WEAK, STRONG = SPECTRA["weak"], SPECTRA["strong"]


@pytest.mark.parametrize("spectra, less", [(WEAK, "reconstruction"), (STRONG, "joint_embedding")])
@pytest.mark.parametrize("method", ["joint_embedding", "reconstruction"])
@pytest.mark.parametrize("rotate_seed", [None, 3])
def test_threshold_separates_recovery_from_failure(spectra, less, method, rotate_seed):
    model = small_model(**spectra, rotate_seed=rotate_seed)
    t = theory.thresholds(model)
    a2 = t.alpha2_je if method == "joint_embedding" else t.alpha2_rc
    assert a2 > 0
    important = model.signal_basis.T
    above = _population_top_k(model, np.sqrt(1.2 * a2), method)
    below = _population_top_k(model, np.sqrt(0.8 * a2), method)
    assert subspace_distance(above, important) < 1e-8
    assert subspace_distance(below, important) > 0.5
    assert theory.predicts_optimal(method, model, np.sqrt(1.2 * a2))
    assert not theory.predicts_optimal(method, model, np.sqrt(0.8 * a2))
    assert theory.regime(model).less_alignment == less


def test_weak_and_strong_cases_follow_corollary():
    weak, strong = theory.regime(small_model(**WEAK)), theory.regime(small_model(**STRONG))
    assert (weak.case, weak.n_weak, weak.n_strong) == ("weak", 3, 0)
    assert (strong.case, strong.n_weak, strong.n_strong) == ("strong", 0, 3)
    assert weak.thresholds.alpha2_rc < weak.thresholds.alpha2_je
    assert strong.thresholds.alpha2_je < strong.thresholds.alpha2_rc


def test_mixed_noise_is_reported_and_decided_by_the_binding_direction():
    # One weak direction and one strong one: the strong one binds for RC, so JE needs less here.
    model = small_model(gamma_noise=[12.0, 400.0], theta_noise=[0.2, 1.0])
    r = theory.regime(model)
    assert (r.case, r.n_weak, r.n_strong) == ("mixed", 1, 1)
    assert r.less_alignment == "joint_embedding"
    assert "mixed" in r.explain()


def test_per_direction_difference_is_the_papers_identity():
    rng = np.random.default_rng(0)
    model = SignalNoiseModel.random(6, 20, gamma_max=1e4, seed=1)
    t = theory.thresholds(model)
    gamma = model.noise_spectrum[t.noise_directions]
    np.testing.assert_allclose(
        t.alpha2_je_per_direction - t.alpha2_rc_per_direction, 1 / t.delta - gamma / t.eta**2, rtol=1e-12
    )
    s, th = model.signal_variances, model.augmentation_spectrum[: model.k]
    assert t.eta == pytest.approx(np.min(s / np.sqrt(s + th)))
    assert t.delta == pytest.approx(np.min(s / (s + th)))
    assert t.crossover == pytest.approx(t.eta**2 / t.delta)
    del rng


def test_negative_thresholds_mean_any_alignment_works():
    model = small_model(gamma_noise=[1e-3, 2e-3, 1e-3], theta_noise=[5.0, 5.0, 5.0])
    t = theory.thresholds(model)
    assert t.alpha2_rc < 0 and t.alpha2_je < 0
    assert t.alpha_min("reconstruction") == 0.0 == t.alpha_min("joint_embedding")
    for method in ("joint_embedding", "reconstruction"):
        assert theory.predicts_optimal(method, model, 0.0)
        assert subspace_distance(_population_top_k(model, 0.0, method), model.signal_basis.T) < 1e-8
    assert theory.regime(model).less_alignment == "neither"


def test_noise_free_directions_impose_nothing():
    model = small_model(gamma_noise=[0.0, 400.0, 0.0], theta_noise=[0.0, 1.0, 0.0])
    t = theory.thresholds(model)
    np.testing.assert_array_equal(t.noise_directions, [4])
    no_noise = small_model(gamma_noise=[0.0, 0.0, 0.0], theta_noise=[1.0, 1.0, 1.0])
    assert theory.thresholds(no_noise).alpha2_je == -np.inf
    assert theory.regime(no_noise).case == "none"


def test_supervised_needs_no_alignment_and_bad_arguments_are_refused():
    model = small_model(**STRONG)
    assert theory.predicts_optimal("supervised", model, 0.0)
    assert theory.thresholds(model).alpha_min("sl") == 0.0
    with pytest.raises(ValueError, match="unknown paradigm 'pca'"):
        theory.predicts_optimal("pca", model, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        theory.predicts_optimal("je", model, -1.0)
