"""A plain NumPy/SciPy implementation of paper.md's closed forms, written as the paper writes them.

It is deliberately straightforward (no streaming, no Rust) and serves as the test oracle and the
benchmark baseline for linssl, so it is written the way a careful NumPy user would write it:

- closed-form moments from one covariance ``M = X.T @ X / n`` (paper.md: "cost of one covariance")
  and the formulas of "Moments of common augmentations" (``Xbar = X diag(p)`` gives
  ``G = diag(p) M diag(p)`` and ``C = M diag(p)``);
- ``S^{-1/2}`` by eigendecomposition;
- joint embedding from the eigendecomposition of ``S^{-1/2} G S^{-1/2}``, or from
  ``scipy.linalg.eigh(G, S, subset_by_index=...)``;
- reconstruction from the full SVD of ``C S^{-1/2}``, or from the generalized eigenproblem
  ``(C^T C) v = phi^2 S v``;
- supervised ``V = (Y^T Xbar / n) S^{-1}``;
- the objectives themselves, evaluated from moments;
- Monte Carlo moments for any augmentation, materialising an augmented copy of the data per draw
  and accumulating ``Z.T @ Z``.

All inputs are plain arrays (float64 after conversion), all outputs plain arrays or dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import scipy.linalg

__all__ = [
    "JointEmbeddingSolution",
    "Moments",
    "ReconstructionSolution",
    "SupervisedSolution",
    "gaussian_moments",
    "generalized_eigh",
    "inverse_sqrt",
    "joint_embedding",
    "joint_embedding_loss",
    "mask_moments",
    "monte_carlo_moments",
    "reconstruction",
    "reconstruction_loss",
    "second_moment",
    "supervised",
    "supervised_loss",
]


@dataclass(frozen=True, eq=False)
class Moments:
    """Moments of augmented data (paper.md, "Setting").

    Attributes
    ----------
    S, G, C : ndarray, shape (d, d), float64
        ``(1/n) sum_i E[tau(x_i) tau(x_i)^T]``, ``Xbar^T Xbar / n``, ``X^T Xbar / n``.
    trace_xx : float
        ``||X||_F^2 / n``.
    B : ndarray, shape (l, d), or None
        ``Y^T Xbar / n``.
    trace_yy : float or None
        ``||Y||_F^2 / n``.
    """

    S: np.ndarray
    G: np.ndarray
    C: np.ndarray
    trace_xx: float
    B: Optional[np.ndarray] = None
    trace_yy: Optional[float] = None


def _matrix(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D array; got shape {X.shape}")
    return X


def _targets(Y, n: int) -> Optional[np.ndarray]:
    if Y is None:
        return None
    Y = np.asarray(Y, dtype=np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.shape[0] != n:
        raise ValueError(f"Y must have {n} rows; got shape {Y.shape}")
    return Y


def second_moment(X) -> np.ndarray:
    """``X^T X / n``.

    Parameters
    ----------
    X : array_like, shape (n, d)

    Returns
    -------
    ndarray, shape (d, d), float64
    """
    X = _matrix(X)
    return X.T @ X / X.shape[0]


def _moments_from_mean_view(X: np.ndarray, Xbar: np.ndarray, S: np.ndarray, Y) -> Moments:
    """Moments from an explicit mean view ``Xbar`` (n, d): ``G = Xbar^T Xbar / n``, ``C = X^T Xbar / n``."""
    n = X.shape[0]
    Y = _targets(Y, n)
    return Moments(
        S=S,
        G=Xbar.T @ Xbar / n,
        C=X.T @ Xbar / n,
        trace_xx=float(np.einsum("ij,ij->", X, X) / n),
        B=None if Y is None else Y.T @ Xbar / n,
        trace_yy=None if Y is None else float(np.sum(Y * Y) / n),
    )


def _moments_of_scaled_mean_view(X: np.ndarray, M: np.ndarray, p: np.ndarray, S: np.ndarray, Y) -> Moments:
    """Moments when the mean view is ``Xbar = X diag(p)``, from ``M = X^T X / n``.

    ``G = Xbar^T Xbar / n = diag(p) M diag(p)``, ``C = X^T Xbar / n = M diag(p)`` and
    ``B = Y^T Xbar / n = (Y^T X / n) diag(p)``: no product with the data beyond ``M`` (and ``Y^T X``).
    """
    n = X.shape[0]
    Y = _targets(Y, n)
    return Moments(
        S=S,
        G=p[:, None] * M * p[None, :],
        C=M * p[None, :],
        trace_xx=float(np.trace(M)),
        B=None if Y is None else (Y.T @ X / n) * p[None, :],
        trace_yy=None if Y is None else float(np.sum(Y * Y) / n),
    )


def gaussian_moments(X, cov, Y=None) -> Moments:
    """Additive noise ``tau(x) = x + eps``, ``eps ~ N(0, Sigma_a)``: ``Xbar = X``, ``S = X^T X / n + Sigma_a``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    cov : float, array_like (d,) or (d, d)
        ``Sigma_a`` (a scalar means ``cov * I``, a vector a diagonal).
    Y : array_like, shape (n,) or (n, l), optional

    Returns
    -------
    Moments
    """
    X = _matrix(X)
    d = X.shape[1]
    Sigma_a = np.asarray(cov, dtype=np.float64)
    if Sigma_a.ndim < 2:
        Sigma_a = np.diag(np.broadcast_to(Sigma_a, (d,)))
    M = second_moment(X)
    return _moments_of_scaled_mean_view(X, M, np.ones(d), M + Sigma_a, Y)


def mask_moments(X, p, Y=None) -> Moments:
    """Masking ``tau(x) = m * x``, ``m_j ~ Bernoulli(p_j)``.

    ``Xbar = X diag(p)``, ``S = diag(p) (X^T X / n) diag(p) + diag(p (1 - p)) diag(X^T X / n)``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    p : float or array_like (d,)
    Y : array_like, shape (n,) or (n, l), optional

    Returns
    -------
    Moments
    """
    X = _matrix(X)
    p = np.broadcast_to(np.asarray(p, dtype=np.float64), (X.shape[1],))
    M = second_moment(X)
    Dp = np.diag(p)
    S = Dp @ M @ Dp + np.diag(p * (1 - p)) @ np.diag(np.diag(M))
    return _moments_of_scaled_mean_view(X, M, p, S, Y)


def monte_carlo_moments(X, augment: Callable, draws: int, seed=0, Y=None, chunk_size: Optional[int] = None) -> Moments:
    """Moments of any augmentation by Monte Carlo, the straightforward way.

    Each draw materialises an augmented copy of the whole data set, ``Z_a`` (n, d), and
    accumulates ``Z_a^T Z_a``; ``T = sum_a Z_a`` is the sum of the views. Then
    ``S = sum Z_a^T Z_a / (n m)``, ``G`` is the unbiased ``(T^T T / n - m S) / (m (m - 1))`` (the
    plug-in ``Xbar^T Xbar / n`` with ``Xbar = T / m`` is biased by ``Sigma / m``),
    ``C = X^T T / (n m)`` and ``B = Y^T T / (n m)``.

    The copy is built chunk by chunk: rows ``c * chunk_size ...`` of draw ``a`` come from
    ``augment(X_c, view_generator(seed, c, a))`` (:func:`linssl.augment.monte_carlo.view_generator`), the
    random streams :class:`linssl.Custom` uses, so the same ``seed`` and ``chunk_size`` give the
    same views.

    Parameters
    ----------
    X : array_like, shape (n, d)
    augment : callable
        ``augment(X_c, rng) -> Z``, shape (m_c, d), with ``rng`` a ``numpy.random.Generator``.
    draws : int
        ``m >= 2``.
    seed : int
    Y : array_like, optional
    chunk_size : int, optional
        Rows per chunk of the random streams; ``None``: one chunk.

    Returns
    -------
    Moments
    """
    from linssl.augment.monte_carlo import view_generator  # the convention for random streams only

    if draws < 2:
        raise ValueError("need at least 2 draws to estimate G without bias")
    X = _matrix(X)
    n, d = X.shape
    Y = _targets(Y, n)
    rows = n if chunk_size is None else int(chunk_size)
    root = np.random.SeedSequence(seed)
    view_products, T = np.zeros((d, d)), np.zeros((n, d))
    for a in range(draws):
        Z = np.concatenate(
            [np.asarray(augment(X[start : start + rows], view_generator(root, c, a)), dtype=np.float64)
             for c, start in enumerate(range(0, n, rows))]
        )
        view_products += Z.T @ Z
        T += Z
    S = view_products / (n * draws)
    return Moments(
        S=S,
        G=(T.T @ T / n - draws * S) / (draws * (draws - 1)),
        C=X.T @ T / (n * draws),
        trace_xx=float(np.einsum("ij,ij->", X, X) / n),
        B=None if Y is None else Y.T @ T / (n * draws),
        trace_yy=None if Y is None else float(np.sum(Y * Y) / n),
    )


def inverse_sqrt(S) -> np.ndarray:
    """``S^{-1/2}`` of a symmetric positive definite matrix, by eigendecomposition.

    Parameters
    ----------
    S : array_like, shape (d, d)

    Returns
    -------
    ndarray, shape (d, d), float64, symmetric

    Raises
    ------
    numpy.linalg.LinAlgError
        If ``S`` is not positive definite.
    """
    w, V = np.linalg.eigh(np.asarray(S, dtype=np.float64))
    if w[0] <= 0:
        raise np.linalg.LinAlgError(f"S is not positive definite (smallest eigenvalue {w[0]:.3g})")
    return (V / np.sqrt(w)) @ V.T


def generalized_eigh(A, B, k: int):
    """Top-``k`` eigenpairs of ``A v = lambda B v`` (``B`` positive definite), by SciPy.

    Parameters
    ----------
    A, B : array_like, shape (d, d), symmetric
    k : int, 1 <= k <= d

    Returns
    -------
    values : ndarray, shape (k,), descending
    vectors : ndarray, shape (d, k), with ``vectors.T @ B @ vectors = I``
    """
    d = np.shape(A)[0]
    values, vectors = scipy.linalg.eigh(A, B, subset_by_index=[d - k, d - 1])
    return values[::-1], vectors[:, ::-1]


@dataclass(frozen=True, eq=False)
class JointEmbeddingSolution:
    """``W`` (k, d) with ``W S W^T = I``, eigenvalues ``omega`` (k,) descending, and the minimum loss."""

    W: np.ndarray
    omega: np.ndarray
    loss: float


def joint_embedding(S, G, k: int, solver: str = "sqrt") -> JointEmbeddingSolution:
    """Optimal SSL-JE map: ``min_W E||W tau1(x) - W tau2(x)||^2`` s.t. ``W S W^T = I_k``.

    ``solver="sqrt"``: ``S^{-1/2} G S^{-1/2} = Q Omega Q^T``, ``W = Q_k^T S^{-1/2}``;
    ``solver="eigh"``: top-k generalized eigenvectors of ``G w = omega S w``.
    Minimum loss ``2 (k - sum_{i<=k} omega_i)``.

    Parameters
    ----------
    S, G : array_like, shape (d, d)
    k : int
    solver : {"sqrt", "eigh"}

    Returns
    -------
    JointEmbeddingSolution
    """
    S = np.asarray(S, dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    if solver == "sqrt":
        R = inverse_sqrt(S)
        omega, Q = np.linalg.eigh(R @ G @ R)
        omega, Q = omega[::-1][:k], Q[:, ::-1][:, :k]
        W = Q.T @ R
    elif solver == "eigh":
        omega, V = generalized_eigh(G, S, k)
        W = V.T
    else:
        raise ValueError(f"solver must be 'sqrt' or 'eigh'; got {solver!r}")
    return JointEmbeddingSolution(W=W, omega=omega, loss=float(2 * (k - omega.sum())))


@dataclass(frozen=True, eq=False)
class ReconstructionSolution:
    """Encoder ``E`` (k, d), decoder ``D`` (d, k), singular values ``phi`` (k,) descending, minimum loss."""

    E: np.ndarray
    D: np.ndarray
    phi: np.ndarray
    loss: float


def reconstruction(S, C, trace_xx: float, k: int, solver: str = "svd") -> ReconstructionSolution:
    """Optimal SSL-RC pair: ``min_{E, D} (1/n) sum_i E||x_i - D E tau(x_i)||^2``.

    ``solver="svd"``: full SVD ``C S^{-1/2} = R Phi P^T``, ``E = P_k^T S^{-1/2}``,
    ``D = R_k Phi_k``; ``solver="eigh"``: ``(C^T C) v = phi^2 S v`` with ``v^T S v = 1``,
    ``E = V^T``, ``D = C V``. Minimum loss ``||X||_F^2 / n - sum_{i<=k} phi_i^2``.

    Parameters
    ----------
    S, C : array_like, shape (d, d)
    trace_xx : float
        ``||X||_F^2 / n``.
    k : int
    solver : {"svd", "eigh"}

    Returns
    -------
    ReconstructionSolution
    """
    S = np.asarray(S, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    if solver == "svd":
        R_inv = inverse_sqrt(S)
        R, phi, Pt = np.linalg.svd(C @ R_inv, full_matrices=True)
        E = Pt[:k] @ R_inv
        D = R[:, :k] * phi[:k]
        phi = phi[:k]
    elif solver == "eigh":
        phi2, V = generalized_eigh(C.T @ C, S, k)
        phi = np.sqrt(np.clip(phi2, 0.0, None))
        E, D = V.T, C @ V
    else:
        raise ValueError(f"solver must be 'svd' or 'eigh'; got {solver!r}")
    return ReconstructionSolution(E=E, D=D, phi=phi, loss=float(trace_xx - np.sum(phi**2)))


@dataclass(frozen=True, eq=False)
class SupervisedSolution:
    """``V`` (l, d) and, when ``trace_yy`` was given, the minimum loss."""

    V: np.ndarray
    loss: Optional[float]


def supervised(S, B, trace_yy: Optional[float] = None) -> SupervisedSolution:
    """Optimal supervised map with augmentation: ``V = (Y^T Xbar / n) S^{-1}``.

    Parameters
    ----------
    S : array_like, shape (d, d)
    B : array_like, shape (l, d)
        ``Y^T Xbar / n``.
    trace_yy : float, optional
        ``||Y||_F^2 / n``, to report the minimum loss ``trace_yy - tr(B S^{-1} B^T)``.

    Returns
    -------
    SupervisedSolution
    """
    S = np.asarray(S, dtype=np.float64)
    B = np.atleast_2d(np.asarray(B, dtype=np.float64))
    V = scipy.linalg.solve(S, B.T, assume_a="pos").T
    loss = None if trace_yy is None else float(trace_yy - np.sum(V * B))
    return SupervisedSolution(V=V, loss=loss)


# --- objectives from moments (expanding the squares of paper.md's definitions) --------------------


def joint_embedding_loss(W, S, G) -> float:
    """``(1/n) sum_i E||W tau1(x_i) - W tau2(x_i)||^2 = 2 tr(W S W^T) - 2 tr(W G W^T)``.

    Parameters
    ----------
    W : array_like, shape (k, d)
    S, G : array_like, shape (d, d)
    """
    W = np.asarray(W, dtype=np.float64)
    return float(2 * np.trace(W @ S @ W.T) - 2 * np.trace(W @ G @ W.T))


def reconstruction_loss(E, D, S, C, trace_xx: float) -> float:
    """``(1/n) sum_i E||x_i - D E tau(x_i)||^2 = trace_xx - 2 tr(D E C^T) + tr(D E S E^T D^T)``.

    Parameters
    ----------
    E : array_like, shape (k, d)
    D : array_like, shape (d, k)
    S, C : array_like, shape (d, d)
    trace_xx : float
    """
    A = np.asarray(D, dtype=np.float64) @ np.asarray(E, dtype=np.float64)
    return float(trace_xx - 2 * np.trace(A @ np.asarray(C).T) + np.trace(A @ S @ A.T))


def supervised_loss(V, S, B, trace_yy: float) -> float:
    """``(1/n) sum_i E||y_i - V tau(x_i)||^2 = trace_yy - 2 tr(V B^T) + tr(V S V^T)``.

    Parameters
    ----------
    V : array_like, shape (l, d)
    S : array_like, shape (d, d)
    B : array_like, shape (l, d)
    trace_yy : float
    """
    V = np.atleast_2d(np.asarray(V, dtype=np.float64))
    return float(trace_yy - 2 * np.sum(V * np.atleast_2d(B)) + np.trace(V @ S @ V.T))
