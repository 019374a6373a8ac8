"""critical_alignment against the paper's thresholds (shared basis), an analytic generalisation and
direct population solves (separate bases)."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ortho_group

import linssl
from linssl import theory
from linssl.metrics import subspace_distance
from linssl.study import plots


@pytest.mark.parametrize("gamma_max", [1e2, 1e3, 1e6])
@pytest.mark.parametrize("rotate", [False, True])
def test_equals_the_shared_basis_thresholds(gamma_max, rotate):
    model = linssl.SignalNoiseModel.random(10, 24, gamma_max=gamma_max, rotate=rotate, seed=3)
    t = theory.thresholds(model)
    for paradigm, a2 in (("joint_embedding", t.alpha2_je), ("reconstruction", t.alpha2_rc)):
        expected = np.sqrt(max(a2, 0.0))
        got = theory.critical_alignment(model, paradigm)
        if expected == 0:
            assert got == 0
        else:
            assert abs(got - expected) <= 1e-8 * expected, (paradigm, got, expected)
    assert theory.critical_alignment(model, "supervised") == 0.0


def _two_basis_model(seed=0):
    """k = 2 signal directions; Gamma and Theta on the 4 noise directions in two different bases."""
    rng = np.random.default_rng(seed)
    k, m = 2, 4
    d = k + m
    s = np.array([50.0, 20.0])
    R_gamma = ortho_group.rvs(m, random_state=seed + 1)
    R_theta = ortho_group.rvs(m, random_state=seed + 2)
    Gamma = np.zeros((d, d))
    Gamma[k:, k:] = (R_gamma * np.array([400.0, 150.0, 60.0, 5.0])) @ R_gamma.T
    Theta = np.zeros((d, d))
    Theta[:k, :k] = np.diag([30.0, 10.0])
    Theta[k:, k:] = (R_theta * np.array([200.0, 80.0, 20.0, 1.0])) @ R_theta.T
    return linssl.SignalNoiseModel.from_covariances(s, Gamma, Theta), s, Gamma[k:, k:], Theta[k:, k:], np.array([30.0, 10.0])


def _population_recovers(paradigm, model, alpha):
    # Independent of critical_alignment's dense SciPy solve: linssl's estimators on population moments.
    est = theory.population_solution(paradigm, model, alpha)
    return subspace_distance(est.components_, model.signal_basis.T) < 1e-6


def test_separate_bases_joint_embedding_matches_the_generalised_formula():
    model, s, G_n, T_n, theta_s = _two_basis_model()
    assert not model.shares_basis
    # For a block-diagonal pencil the noise block's top eigenvalue is nu/(1 + (1+alpha^2) nu) with
    # nu the top eigenvalue of the pencil (Gamma_N, Theta_N): alpha^2 > (1 - delta)/delta - 1/nu.
    nu = np.max(np.real(np.linalg.eigvals(np.linalg.solve(T_n, G_n))))
    delta = np.min(s / (s + theta_s))
    expected = np.sqrt((1 - delta) / delta - 1 / nu)
    got = theory.critical_alignment(model, "joint_embedding")
    assert abs(got - expected) <= 1e-8 * expected
    assert not _population_recovers("joint_embedding", model, got * (1 - 1e-6))
    assert _population_recovers("joint_embedding", model, got * (1 + 1e-6))
    # The shared-basis formula on the same spectra (each lambda^Gamma paired with a lambda^Theta
    # as if the bases were one) gives a different, wrong answer.
    lam_g = np.sort(np.linalg.eigvalsh(G_n))[::-1]
    lam_t = np.sort(np.linalg.eigvalsh(T_n))[::-1]
    shared = linssl.SignalNoiseModel(s, np.r_[0, 0, lam_g], np.r_[theta_s, lam_t])
    wrong = np.sqrt(max(theory.thresholds(shared).alpha2_je, 0))
    assert abs(wrong - got) > 0.1 * got
    assert not _population_recovers("joint_embedding", model, wrong) or wrong > got


def test_separate_bases_reconstruction_against_population_solves():
    model, s, G_n, T_n, theta_s = _two_basis_model(seed=4)
    got = theory.critical_alignment(model, "reconstruction")
    assert got > 0
    assert not _population_recovers("reconstruction", model, got * (1 - 1e-6))
    assert _population_recovers("reconstruction", model, got * (1 + 1e-6))
    lam_g = np.sort(np.linalg.eigvalsh(G_n))[::-1]
    lam_t = np.sort(np.linalg.eigvalsh(T_n))[::-1]
    shared = linssl.SignalNoiseModel(s, np.r_[0, 0, lam_g], np.r_[theta_s, lam_t])
    wrong = np.sqrt(max(theory.thresholds(shared).alpha2_rc, 0))
    assert abs(wrong - got) > 1e-3 * got


def test_thresholds_refuse_separate_bases():
    model, *_ = _two_basis_model()
    with pytest.raises(ValueError, match="critical_alignment"):
        theory.thresholds(model)


def test_clear_error_when_recovery_never_happens_in_range():
    model = linssl.SignalNoiseModel.random(10, 24, gamma_max=1e6, seed=3)
    a = theory.critical_alignment(model, "reconstruction")
    with pytest.raises(ValueError, match="does not recover"):
        theory.critical_alignment(model, "reconstruction", alpha_max=a / 2)


def test_gamma_touching_the_signal_is_refused():
    with pytest.raises(ValueError, match="vanish on the important subspace"):
        linssl.SignalNoiseModel.from_covariances([1.0], np.ones((2, 2)), np.eye(2))


def test_phase_diagram_accepts_models_with_separate_bases():
    model, *_ = _two_basis_model()
    rows = [dict(paradigm=p, gamma_max=g, alpha=a, relative_distance=0.0, alpha2_je=np.nan, alpha2_rc=np.nan, n=10)
            for p in ("joint_embedding", "reconstruction") for g in (1.0, 2.0) for a in (0.1, 1.0)]
    fig = plots.phase_diagram(pd.DataFrame(rows), models={1.0: model, 2.0: model})
    lines = fig.axes[0].get_lines()
    je = theory.critical_alignment(model, "joint_embedding")
    assert np.allclose(lines[0].get_ydata(), max(je, 0.05))
    with pytest.raises(ValueError, match="no model"):
        plots.phase_diagram(pd.DataFrame(rows), models={1.0: model})
