"""Generalized eigenvalues against the exact ones: the float64 matrices' pencil solved in 40-digit
arithmetic (mpmath), so the reference carries no rounding error of its own.

For a symmetric-definite pencil reduced through the Cholesky factor of B, a backward stable solver's
eigenvalues are accurate to about eps * cond(B) * max|w| (absolute): that is the bound checked, for
every solver, at two sizes (one block of the reduction, several) and two conditionings of B.
"""

import mpmath
import numpy as np
import pytest

from linssl.linalg import eigh_generalized
from oracles import spd


def _exact_eigenvalues(A, B):
    """All eigenvalues of ``A v = w B v`` in 40-digit arithmetic, descending, rounded to float64."""
    with mpmath.workdps(40):
        L_inv = mpmath.inverse(mpmath.cholesky(mpmath.matrix(B.tolist())))
        M = L_inv * mpmath.matrix(A.tolist()) * L_inv.T
        values = mpmath.eigsy((M + M.T) / 2, eigvals_only=True)
        return np.sort(np.array([float(v) for v in values]))[::-1]


@pytest.mark.parametrize("solver", ["dense", "iterative"])
@pytest.mark.parametrize("d, cond_b", [(12, 1e3), (40, 1e3), (40, 1e6), (64, 1e3)])
def test_eigenvalues_within_the_perturbation_bound_of_the_exact_ones(solver, d, cond_b):
    rng = np.random.default_rng(d + int(np.log10(cond_b)))
    X = rng.standard_normal((d, d + 2))
    A = X @ X.T / d - 0.5 * np.eye(d)  # indefinite, as a joint-embedding G - omega S can be
    B = spd(d, rng, cond_b)
    exact = _exact_eigenvalues(A, B)
    k = d if solver == "dense" else 3
    w, _ = eigh_generalized(A, B, k, solver=solver)
    bound = 2 * np.finfo(float).eps * cond_b * np.abs(exact).max()
    np.testing.assert_allclose(w, exact[:k], rtol=0, atol=bound)
