"""Joint embedding through Sigma = S - G (no Cholesky factor of S), against SciPy on (G, S)."""

import numpy as np
import pytest
import scipy.linalg

import linssl
from linssl import linalg
from linssl.metrics import subspace_distance

RNG = np.random.default_rng(3)
X = RNG.standard_normal((400, 30)) @ RNG.standard_normal((30, 30)) * 0.3
F = RNG.standard_normal((30, 3))

AUGMENTATIONS = {
    "mask": linssl.Mask(0.7),
    "mask-vector": linssl.Mask(np.linspace(0.5, 0.95, 30)),
    "diagonal noise": linssl.Gaussian(np.linspace(0.1, 2.0, 30)),
    "low-rank noise": linssl.Gaussian(linssl.LowRankPlusDiagonal(F, 0.2)),
    "noise then mask": linssl.Compose([linssl.Gaussian(linssl.LowRankPlusDiagonal(F, 0.1)), linssl.Mask(0.8)]),
    "mask then noise": linssl.Compose([linssl.Mask(0.6), linssl.Gaussian(0.3)]),
}


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_sigma_in_factored_form_is_s_minus_g(name):
    m = AUGMENTATIONS[name].moments(X)
    dense = np.diag(m.sigma_diag) + m.sigma_factor @ m.sigma_factor.T
    np.testing.assert_allclose(dense, m.S - m.G, rtol=0, atol=1e-12 * np.abs(m.S).max())


def test_augmentations_without_the_form_carry_none():
    full = linssl.Gaussian(np.cov(X.T))
    assert full.moments(X).sigma_diag is None
    custom = linssl.Custom(lambda x, rng: x + rng.standard_normal(x.shape), draws=4)
    assert custom.moments(X).sigma_diag is None


@pytest.mark.parametrize("solver", ["dense", "iterative", "auto"])
@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_the_whitened_route_matches_scipy(name, solver):
    m = AUGMENTATIONS[name].moments(X)
    k = 4
    sol = linalg.joint_embedding(m.S, m.G, k, solver=solver, sigma_diag=m.sigma_diag, sigma_factor=m.sigma_factor)
    d = m.d
    top, vecs = scipy.linalg.eigh(m.G, m.S, subset_by_index=[d - k, d - 1])
    np.testing.assert_allclose(sol.omega, top[::-1], rtol=1e-10, atol=1e-12)
    assert subspace_distance(sol.W, vecs.T) < 1e-7
    np.testing.assert_allclose(sol.W @ m.S @ sol.W.T, np.eye(k), atol=1e-10)
    # The estimators take the route by themselves and agree with the Cholesky route.
    plain = linalg.joint_embedding(m.S, m.G, k, solver="dense")
    np.testing.assert_allclose(sol.omega, plain.omega, rtol=1e-10)
    est = linssl.JointEmbedding(k, augmentation=AUGMENTATIONS[name]).fit(X)
    np.testing.assert_allclose(est.eigenvalues_, plain.omega, rtol=1e-10)


def test_a_large_problem_takes_the_iterative_whitened_route():
    rng = np.random.default_rng(0)
    # Correlated features: a few strong factors over independent noise, as real data have.
    Xl = rng.standard_normal((3000, 10)) @ (rng.standard_normal((10, 700)) * 3.0) + rng.standard_normal((3000, 700))
    m = linssl.Mask(0.8).moments(Xl)
    sol = linalg.joint_embedding(m.S, m.G, 8, sigma_diag=m.sigma_diag, sigma_factor=m.sigma_factor)
    assert sol.solver == "iterative"
    top = scipy.linalg.eigh(m.G, m.S, eigvals_only=True, subset_by_index=[692, 699])[::-1]
    np.testing.assert_allclose(sol.omega, top, rtol=1e-9)


def test_inconsistent_factors_fall_back_to_the_exact_answer():
    m = linssl.Mask(0.7).moments(X)
    wrong = m.sigma_diag * np.where(np.arange(30) == 3, 5.0, 1.0)
    sol = linalg.joint_embedding(m.S, m.G, 3, solver="dense", sigma_diag=wrong)
    top = scipy.linalg.eigh(m.G, m.S, eigvals_only=True, subset_by_index=[27, 29])[::-1]
    np.testing.assert_allclose(sol.omega, top, rtol=1e-10)
    with pytest.raises(ValueError, match="sigma_factor needs sigma_diag"):
        linalg.joint_embedding(m.S, m.G, 3, sigma_factor=F)
    with pytest.raises(ValueError, match="Sigma's factors are for d = 29"):
        linalg.joint_embedding(m.S, m.G, 3, sigma_diag=m.sigma_diag[:29])
    with pytest.raises(ValueError, match="Sigma's diagonal contains NaN at row 2"):
        linalg.joint_embedding(m.S, m.G, 3, sigma_diag=np.where(np.arange(30) == 2, np.nan, m.sigma_diag))


@pytest.mark.parametrize("solver", ["dense", "iterative", "auto"])
@pytest.mark.parametrize("name", ["isotropic noise", "mask", "low-rank noise"])
def test_reconstruction_with_structure_matches_scipy(name, solver):
    aug = {"isotropic noise": linssl.Gaussian(0.4), "mask": linssl.Mask(0.7), "low-rank noise": AUGMENTATIONS["low-rank noise"]}[name]
    m = aug.moments(X)
    k = 4
    sol = linalg.reconstruction(
        m.S, m.C, m.trace_xx, k, solver=solver, keep=m.keep, sigma_diag=m.sigma_diag, sigma_factor=m.sigma_factor
    )
    d = m.d
    top, vecs = scipy.linalg.eigh(m.C.T @ m.C, m.S, subset_by_index=[d - k, d - 1])
    np.testing.assert_allclose(sol.phi2, top[::-1], rtol=1e-10)
    assert subspace_distance(sol.E, vecs.T) < 1e-7
    np.testing.assert_allclose(sol.E @ m.S @ sol.E.T, np.eye(k), atol=1e-10)
    np.testing.assert_allclose(sol.D, m.C @ sol.E.T, rtol=1e-10, atol=1e-12)


def test_isotropic_reconstruction_is_pca_of_the_second_moment():
    # phi^2 = lambda^2 / (lambda + sigma^2) over the top eigenvalues lambda of M.
    m = linssl.Gaussian(0.4).moments(X)
    lam = np.linalg.eigvalsh(m.C)[::-1][:5]
    sol = linalg.reconstruction(m.S, m.C, m.trace_xx, 5, keep=m.keep, sigma_diag=m.sigma_diag)
    np.testing.assert_allclose(sol.phi2, lam**2 / (lam + 0.4), rtol=1e-11)
    est = linssl.Reconstruction(5, augmentation=linssl.Gaussian(0.4)).fit(X)
    np.testing.assert_allclose(est.singular_values_**2, lam**2 / (lam + 0.4), rtol=1e-11)
