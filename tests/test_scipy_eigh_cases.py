"""SciPy's own test cases for ``scipy.linalg.eigh(a, b)`` (``scipy/linalg/tests/test_decomp.py``,
``TestEigh``), run against ``linssl.linalg.eigh_generalized`` with every solver.

SciPy's assertions are kept where linssl's contract is the same (residuals of type-1 problems,
integer input, 1 x 1 problems, refusal of a singular ``B``, of sparse matrices and of bad shapes);
where linssl deliberately differs, the test says so (it refuses empty problems instead of returning
empty arrays: an empty moment matrix means the data have no features).
"""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse
from scipy.stats import ortho_group

import linssl
from linssl.linalg import eigh_generalized, pairs_wanted

SOLVERS = ("dense", "iterative", "auto")


def _random_symmetric(n, rng, posdef=False):
    """SciPy's ``_random_hermitian_matrix`` (real case), with a seeded generator."""
    A = rng.random((n, n))
    A = (A + A.T) / 2
    if posdef:
        A += np.sqrt(2 * n) * np.eye(n)
    return A


def _symrand(eigenvalues, rng):
    """SciPy's ``symrand``: a symmetric matrix with the given eigenvalues."""
    v = ortho_group.rvs(len(eigenvalues), random_state=rng)
    h = v.T @ np.diag(eigenvalues) @ v
    return 0.5 * (h + h.T)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("k", [20, 5])
def test_various_drivers_generalized_type_1(solver, k):
    # TestEigh.test_various_drivers_generalized, type 1: A v = w B v to atol spacing(5000).
    rng = np.random.default_rng(0)
    a = _random_symmetric(20, rng)
    b = _random_symmetric(20, rng, posdef=True)
    w, v = eigh_generalized(a, b, k, solver=solver)
    np.testing.assert_allclose(a @ v - w * (b @ v), 0.0, atol=np.spacing(5000.0), rtol=0.0)
    # ... and they are SciPy's eigenvalues, the largest first, to 1e-13 of the largest (cond(B) is
    # about 2 here, so both solvers' errors are a few eps times it; eigenvalues near zero have no
    # relative accuracy to compare).
    ref = scipy.linalg.eigh(a, b, eigvals_only=True)[::-1][:k]
    np.testing.assert_allclose(w, ref, rtol=0.0, atol=1e-13 * np.abs(ref).max())


@pytest.mark.parametrize("solver", SOLVERS)
def test_prescribed_spectrum_is_recovered(solver):
    # SciPy's symrand with eigenvalues uniform on (-1, 1), and B = I: the eigenvalues are known.
    rng = np.random.default_rng(1)
    eigenvalues = np.sort(rng.random(30) * 2 - 1)
    a = _symrand(eigenvalues, rng)
    w, v = eigh_generalized(a, np.eye(30), 30, largest=False, solver=solver)
    # Backward stable solvers: errors of a few n eps ||A|| (||A|| < 1).
    np.testing.assert_allclose(w, eigenvalues, atol=1e-13)
    np.testing.assert_allclose(v.T @ v, np.eye(30), atol=1e-13)


def test_eigh_integer():
    # TestEigh.test_eigh_integer: integer arrays are accepted, with the float64 result.
    a = np.array([[1, 2], [2, 7]])
    b = np.array([[3, 1], [1, 5]])
    w, v = eigh_generalized(a, b)
    np.testing.assert_allclose(a @ v - w * (b @ v), 0.0, atol=1e-14)
    assert w.dtype == v.dtype == np.float64


@pytest.mark.parametrize("solver", SOLVERS)
def test_1x1(solver):
    # TestEigh.test_1x1_lwork (real case) as a generalized problem: w = a / b, v = 1 / sqrt(b).
    w, v = eigh_generalized([[1.0]], [[1.0]], solver=solver)
    np.testing.assert_allclose(w, [1.0], atol=1e-15)
    np.testing.assert_allclose(np.abs(v), [[1.0]], atol=1e-15)
    w, v = eigh_generalized([[3.0]], [[4.0]], solver=solver)
    np.testing.assert_allclose(w, [0.75], rtol=1e-15)
    np.testing.assert_allclose(np.abs(v), [[0.5]], rtol=1e-15)


def test_nonpositive_b():
    # TestEigh.test_nonpositive_b: a singular positive semi-definite B is refused.
    with pytest.raises(np.linalg.LinAlgError):
        eigh_generalized(np.ones((3, 3)), np.ones((3, 3)))
    assert issubclass(linssl.LinAlgError, np.linalg.LinAlgError)


@pytest.mark.parametrize(
    "a, b, kwargs",
    [
        (np.ones((1, 2)), np.ones((1, 2)), {}),  # nonsquare a
        (np.ones((2, 2)), np.ones((2, 1)), {}),  # nonsquare b
        (np.ones((3, 3)), np.ones((2, 2)), {}),  # incompatible sizes
        (np.eye(3), np.eye(3), {"k": 4}),  # more pairs than the dimension (subset_by_index=[0, 4])
        (np.eye(3), np.eye(3), {"k": -2}),  # a negative count (subset_by_index=[-2, 2])
        (np.eye(3), np.eye(3), {"solver": "wrong"}),  # invalid driver name
    ],
)
def test_wrong_inputs(a, b, kwargs):
    # TestEigh.test_wrong_inputs, for the arguments linssl has.
    with pytest.raises(ValueError):
        eigh_generalized(a, b, **kwargs)


def test_eigh_of_sparse():
    # TestEigh.test_eigh_of_sparse: sparse input is rejected with an exception, not densified.
    a = scipy.sparse.identity(2).tocsc()
    with pytest.raises((TypeError, ValueError)):
        eigh_generalized(a, np.eye(2))


def test_check_finite():
    # TestEigh (check_finite): non-finite entries raise instead of propagating.
    a = np.eye(3)
    a[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        eigh_generalized(a, np.eye(3))


def test_empty_problem_is_refused():
    # SciPy returns empty arrays for 0 x 0 input (TestEigh.test_empty); linssl refuses it on
    # purpose, with a message, since an empty moment matrix means data without features.
    with pytest.raises(ValueError, match="empty"):
        eigh_generalized(np.empty((0, 0)), np.empty((0, 0)))
    # The same words wherever k is checked against d (the estimators and closed forms too).
    with pytest.raises(ValueError, match="empty"):
        pairs_wanted(None, 0)
