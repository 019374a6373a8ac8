"""The solutions the closed-form solvers of :mod:`linssl.linalg` return: named tuples of arrays.

Documented and imported as ``linssl.linalg.JointEmbeddingSolution`` and so on; they live apart
so that ``linalg`` holds the solvers only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["JointEmbeddingSolution", "ReconstructionSolution", "SupervisedSolution"]


class JointEmbeddingSolution(NamedTuple):
    """Optimal linear joint embedding (see :func:`joint_embedding`).

    Returned by :func:`joint_embedding`, :func:`joint_embedding_batch` and
    :func:`linssl.gram.joint_embedding`; a named tuple, so it also unpacks as
    ``omega, W, loss, solver = sol``.

    Parameters
    ----------
    omega : ndarray, shape (k,), float64
        Generalized eigenvalues ``omega_1 >= ... >= omega_k`` of ``G w = omega S w``.
    W : ndarray, shape (k, d), float64
        Embedding map (the eigenvectors as rows), with ``W @ S @ W.T = I``.
    loss : float
        Minimum loss ``2 (k - sum(omega))``.
    solver : {"dense", "iterative", "gram"}
        The solver that produced it (``"gram"`` on the Gram path).

    Examples
    --------
    >>> import numpy as np, linssl
    >>> from scipy.linalg import eigh
    >>> X = np.random.default_rng(0).standard_normal((50, 4))
    >>> m = linssl.Mask(0.8).moments(X)
    >>> sol = linssl.linalg.joint_embedding(m.S, m.G, 2)
    >>> sol.W.shape, sol.solver
    ((2, 4), 'dense')
    >>> bool(np.allclose(sol.omega, eigh(m.G, m.S, eigvals_only=True)[::-1][:2]))
    True
    >>> bool(np.allclose(sol.W @ m.S @ sol.W.T, np.eye(2)))
    True
    """

    omega: np.ndarray
    W: np.ndarray
    loss: float
    solver: str


class ReconstructionSolution(NamedTuple):
    """Optimal linear auto-encoder (see :func:`reconstruction`).

    Returned by :func:`reconstruction`, :func:`reconstruction_batch` and
    :func:`linssl.gram.reconstruction`; a named tuple, so it also unpacks as
    ``phi2, E, D, loss, solver = sol``.

    Parameters
    ----------
    phi2 : ndarray, shape (k,), float64
        Squared singular values of ``C S^{-1/2}``, descending: the eigenvalues of
        ``C^T C v = phi^2 S v``.
    E : ndarray, shape (k, d), float64
        Encoder, with ``E @ S @ E.T = I``.
    D : ndarray, shape (p, k), float64
        Decoder ``C @ E.T`` (``p`` reconstruction targets, ``p = d`` for the data themselves).
    loss : float
        Minimum loss ``trace_xx - sum(phi2)``.
    solver : {"dense", "iterative", "gram"}
        The solver that produced it (``"gram"`` on the Gram path).

    Examples
    --------
    >>> import numpy as np, linssl
    >>> from scipy.linalg import eigh
    >>> X = np.random.default_rng(0).standard_normal((50, 4))
    >>> m = linssl.Mask(0.8).moments(X)
    >>> sol = linssl.linalg.reconstruction(m.S, m.C, m.trace_xx, 2)
    >>> sol.E.shape, sol.D.shape
    ((2, 4), (4, 2))
    >>> bool(np.allclose(sol.phi2, eigh(m.C.T @ m.C, m.S, eigvals_only=True)[::-1][:2]))
    True
    >>> bool(np.allclose(sol.D, m.C @ sol.E.T)), bool(np.isclose(sol.loss, m.trace_xx - sol.phi2.sum()))
    (True, True)
    """

    phi2: np.ndarray
    E: np.ndarray
    D: np.ndarray
    loss: float
    solver: str


class SupervisedSolution(NamedTuple):
    """Optimal linear map under augmentations (see :func:`supervised`).

    Returned by :func:`supervised`, :func:`supervised_batch` and :func:`linssl.gram.supervised`;
    a named tuple, so it also unpacks as ``V, loss, solver = sol``.

    Parameters
    ----------
    V : ndarray, shape (l, d), float64
        ``B @ inv(S)``: the regression map from views to the ``l`` targets.
    loss : float
        Minimum loss ``trace_yy - trace(B @ inv(S) @ B.T)``.
    solver : {"dense", "gram"}
        ``"dense"`` (a Cholesky solve), or ``"gram"`` on the Gram path.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((50, 4))
    >>> m = linssl.Mask(0.8).moments(X, X[:, :2])
    >>> sol = linssl.linalg.supervised(m.S, m.B, m.trace_yy)
    >>> sol.V.shape, sol.solver
    ((2, 4), 'dense')
    >>> bool(np.allclose(sol.V, np.linalg.solve(m.S, m.B.T).T))
    True
    >>> bool(np.isclose(sol.loss, m.trace_yy - np.trace(m.B @ np.linalg.solve(m.S, m.B.T))))
    True
    """

    V: np.ndarray
    loss: float
    solver: str
