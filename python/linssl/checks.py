"""Optimality checks and metrics: is a returned solution trustworthy, and how far from optimal is it?

- :func:`check_solution`: constraint, stationarity (KKT) and loss-gap residuals of a fitted estimator
  against the moments it was fitted on, plus the condition number of ``S``.
- :func:`subspace_distance`: sine of the largest principal angle between two row spaces.
- :func:`probe_loss`: least-squares linear probe on one-hot labels (the paper's downstream metric).
- :func:`distance_to_optimality`: the paper's Appendix C metric.
- :func:`monte_carlo_loss`: the objective estimated from explicitly sampled augmentations.
"""

from __future__ import annotations

import numpy as np

__all__ = ["subspace_distance", "probe_loss"]


def _orthonormal_rows(A: np.ndarray, name: str) -> np.ndarray:
    """Orthonormal basis (as columns, shape (d, r)) of the row space of ``A`` (r = numerical rank)."""
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or Inf")
    U, s, _ = np.linalg.svd(A.T, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        raise ValueError(f"{name} is zero; its row space is empty")
    rank = int(np.sum(s > s[0] * max(A.shape) * np.finfo(np.float64).eps))
    return U[:, :rank]


def subspace_distance(A, B) -> float:
    """Sine of the largest principal angle between the row spaces of ``A`` and ``B``.

    Parameters
    ----------
    A : array_like, shape (k1, d)
    B : array_like, shape (k2, d)
        Row spaces are compared; scaling or mixing the rows (the invariances ``T`` and ``U`` of
        ``paper.md``) does not change the result.

    Returns
    -------
    float in [0, 1]
        0 when the row spaces coincide (or, when their dimensions differ, when the smaller one lies
        in the larger), 1 when some direction of one is orthogonal to the other.
    """
    QA = _orthonormal_rows(A, "A")
    QB = _orthonormal_rows(B, "B")
    if QA.shape[0] != QB.shape[0]:
        raise ValueError(f"A and B must have the same number of columns; got {QA.shape[0]} and {QB.shape[0]}")
    if QA.shape[1] > QB.shape[1]:
        QA, QB = QB, QA
    # Residual of the smaller space after projection onto the larger: its norm is sin(theta_max).
    residual = QA - QB @ (QB.T @ QA)
    return float(min(1.0, np.linalg.norm(residual, 2)))


def _one_hot(y, classes=None):
    y = np.asarray(y)
    if y.ndim == 2:
        return np.asarray(y, dtype=np.float64), classes
    if classes is None:
        classes = np.unique(y)
    return (y[:, None] == classes[None, :]).astype(np.float64), classes


def probe_loss(Z_train, y_train, Z_test, y_test) -> float:
    """Least-squares linear probe: regress one-hot labels on a representation, report test MSE.

    Parameters
    ----------
    Z_train : array_like, shape (n_train, k)
        Representation of the probe's training inputs.
    y_train : array_like, shape (n_train,) of class labels, or (n_train, c) targets
    Z_test : array_like, shape (n_test, k)
    y_test : array_like, shape (n_test,) or (n_test, c)

    Returns
    -------
    float
        ``mean_i ||onehot(y_i) - (A z_i + b)||^2`` on the test set, with ``(A, b)`` the least-squares
        fit (with intercept) on the training set. Invariant to invertible linear maps of ``Z``.
    """
    Z_train = np.asarray(Z_train, dtype=np.float64)
    Z_test = np.asarray(Z_test, dtype=np.float64)
    if Z_train.ndim != 2 or Z_test.ndim != 2 or Z_train.shape[1] != Z_test.shape[1]:
        raise ValueError(
            f"Z_train and Z_test must be 2-D with the same number of columns; got {Z_train.shape} and {Z_test.shape}"
        )
    Y_train, classes = _one_hot(y_train)
    Y_test, _ = _one_hot(y_test, classes)
    if Y_train.shape[0] != Z_train.shape[0] or Y_test.shape[0] != Z_test.shape[0]:
        raise ValueError("each representation needs one label per row")
    design_train = np.hstack([Z_train, np.ones((Z_train.shape[0], 1))])
    design_test = np.hstack([Z_test, np.ones((Z_test.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(design_train, Y_train, rcond=None)
    residual = Y_test - design_test @ coef
    return float(np.mean(np.sum(residual**2, axis=1)))
