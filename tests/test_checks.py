"""Metrics of linssl.checks against SciPy and scikit-learn."""

import numpy as np
import pytest
import scipy.linalg
from sklearn.linear_model import LinearRegression

from linssl.checks import probe_loss, subspace_distance


@pytest.mark.parametrize("k1, k2", [(3, 3), (2, 5), (5, 2), (1, 1)])
def test_subspace_distance_is_sine_of_largest_principal_angle(k1, k2):
    rng = np.random.default_rng(k1 * 10 + k2)
    A, B = rng.standard_normal((k1, 9)), rng.standard_normal((k2, 9))
    angles = scipy.linalg.subspace_angles(A.T, B.T)
    assert subspace_distance(A, B) == pytest.approx(np.sin(angles.max()), abs=1e-12)


def test_subspace_distance_ignores_the_invariances():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 12))
    T = rng.standard_normal((4, 4))  # any invertible mixing of rows
    assert subspace_distance(A, T @ A) < 1e-12
    B = A.copy()
    B[0] = np.linalg.svd(A)[2][-1]  # a direction orthogonal to the row space of A
    assert subspace_distance(A, B) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="columns"):
        subspace_distance(A, B[:, :5])
    with pytest.raises(ValueError, match="NaN"):
        subspace_distance(A * np.nan, B)


def test_probe_loss_is_least_squares_with_intercept_on_one_hot_labels():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((300, 4))
    y = rng.integers(0, 3, 300)
    Y = np.eye(3)[y]
    fit = LinearRegression().fit(Z[:200], Y[:200])
    want = np.mean(np.sum((Y[200:] - fit.predict(Z[200:])) ** 2, axis=1))
    assert probe_loss(Z[:200], y[:200], Z[200:], y[200:]) == pytest.approx(want, rel=1e-10)
    # invariant to invertible maps of the representation
    T = rng.standard_normal((4, 4))
    assert probe_loss(Z[:200] @ T, y[:200], Z[200:] @ T, y[200:]) == pytest.approx(want, rel=1e-8)
