"""Generalized eigensolvers and the closed-form optimal linear models, computed in Rust.

Joint embedding and reconstruction both reduce to a top-k symmetric-definite generalized
eigenproblem ``A v = w B v`` with the augmented second moment ``S`` as ``B``; supervised learning
with augmentations is one linear solve with ``S``. Every function here validates its input,
converts it to float64, releases the GIL and runs the numerics in linssl's Rust core. The batched
variants solve many independent problems in parallel (one per augmentation configuration, say).

Conventions: matrices are NumPy arrays (any memory order), eigenvalues come sorted (descending
for the largest), eigenvectors are columns normalised so that ``V.T @ B @ V = I``.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple, Optional, Sequence

import numpy as np

from linssl import _core
from linssl._determined import determined_directions, warn_undetermined
from linssl._input import as_float

__all__ = [
    "JointEmbeddingSolution",
    "ReconstructionSolution",
    "SupervisedSolution",
    "eigh_generalized",
    "eigh_generalized_batch",
    "joint_embedding",
    "joint_embedding_batch",
    "reconstruction",
    "reconstruction_batch",
    "supervised",
    "supervised_batch",
]

_METHODS = ("auto", "dense", "iterative")


class JointEmbeddingSolution(NamedTuple):
    """Optimal linear joint embedding (see :func:`joint_embedding`)."""

    omega: np.ndarray
    """Generalized eigenvalues ``omega_1 >= ... >= omega_k``, shape (k,)."""
    W: np.ndarray
    """Embedding map, shape (k, d), with ``W @ S @ W.T = I``."""
    loss: float
    """Minimum loss ``2 (k - sum(omega))``."""


class ReconstructionSolution(NamedTuple):
    """Optimal linear auto-encoder (see :func:`reconstruction`)."""

    phi2: np.ndarray
    """Squared singular values of ``C S^{-1/2}``, descending, shape (k,)."""
    E: np.ndarray
    """Encoder, shape (k, d), with ``E @ S @ E.T = I``."""
    D: np.ndarray
    """Decoder ``C @ E.T``, shape (p, k)."""
    loss: float
    """Minimum loss ``trace_xx - sum(phi2)``."""


class SupervisedSolution(NamedTuple):
    """Optimal linear map under augmentations (see :func:`supervised`)."""

    V: np.ndarray
    """``B @ inv(S)``, shape (l, d)."""
    loss: float
    """Minimum loss ``trace_yy - trace(B @ inv(S) @ B.T)``."""


def _matrix(M, name: str) -> np.ndarray:
    """``M`` as a 2-D float64 array (no copy when it already is one)."""
    arr = as_float(M, np.float64, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix; got an array with shape {arr.shape}")
    return arr


def _square(M, name: str) -> np.ndarray:
    arr = _matrix(M, name)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square; got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    return arr


def _pair(A, B, names=("A", "B")) -> tuple[np.ndarray, np.ndarray]:
    A, B = _square(A, names[0]), _square(B, names[1])
    if A.shape != B.shape:
        raise ValueError(f"{names[0]} has shape {A.shape} but {names[1]} has shape {B.shape}; they must match")
    return A, B


def _k(k, d: int) -> int:
    if k is None:
        return d
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer; got {k!r}")
    if not 1 <= k <= d:
        raise ValueError(f"k must be between 1 and d = {d}; got {k}")
    return int(k)


def _options(method: str, tol: Optional[float], ridge: float) -> tuple[str, Optional[float], float]:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    if tol is not None:
        tol = float(tol)
        if not 0.0 < tol < 1.0:
            raise ValueError(f"tol must lie in (0, 1); got {tol}")
    ridge = float(ridge)
    if not (np.isfinite(ridge) and ridge >= 0.0):
        raise ValueError(f"ridge must be a finite number >= 0; got {ridge}")
    return method, tol, ridge


def _scalar(x, name: str) -> float:
    value = float(x)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {x!r}")
    return value


def eigh_generalized(
    A,
    B,
    k: Optional[int] = None,
    *,
    largest: bool = True,
    method: str = "auto",
    tol: Optional[float] = None,
    ridge: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Extreme eigenpairs of the symmetric-definite problem ``A v = w B v``.

    Parameters
    ----------
    A : array_like, shape (d, d)
        Symmetric (checked: a relative asymmetry ``max|A - A.T| / max|A|`` above 1e-8 raises).
    B : array_like, shape (d, d)
        Symmetric positive definite.
    k : int, optional
        Number of eigenpairs, ``1 <= k <= d``; all of them by default.
    largest : bool, default True
        The k largest eigenvalues (returned in descending order) or the k smallest (ascending).
    method : {"auto", "dense", "iterative"}, default "auto"
        ``"dense"``: Cholesky ``B = L L^T``, reduction to ``L^{-1} A L^{-T}``, full symmetric
        eigensolver, back-transformation. ``"iterative"``: block Lanczos on the reduced operator
        (never formed), for a few pairs of a large problem; every pair is checked against ``tol``
        and the dense method takes over when a check fails or the iteration budget runs out.
        ``"auto"`` picks the iterative method when ``d >= 512`` and ``k <= d / 64`` (the crossover
        measured in linssl's benchmarks on slowly decaying spectra) and the dense method otherwise.
    tol : float, optional
        Relative residual accepted from the iterative method for every pair:
        ``||A v - w B v|| <= tol (||A||_F + |w| ||B||_F) ||v||``. Default 1e-10.
    ridge : float, default 0.0
        Regularisation: ``B`` is replaced by ``B + ridge * trace(B) / d * I``.

    Returns
    -------
    w : ndarray, shape (k,), float64
        Eigenvalues.
    V : ndarray, shape (d, k), float64
        Eigenvectors as columns, ``V.T @ B @ V = I`` (with the ridge-modified ``B``).

    Raises
    ------
    ValueError
        Wrong shapes, ``k`` out of range, NaN or infinite entries, non-symmetric input.
    linssl.LinAlgError
        ``B`` is not positive definite (the message names the failing Cholesky pivot; pass
        ``ridge``).
    """
    A, B = _pair(A, B)
    k = _k(k, A.shape[0])
    method, tol, ridge = _options(method, tol, ridge)
    w, V, _info = _core.eigh_generalized(A, B, k, bool(largest), method, tol, ridge)
    return w, V


def eigh_generalized_batch(
    pairs: Sequence[tuple],
    k: Optional[int] = None,
    *,
    largest: bool = True,
    method: str = "auto",
    tol: Optional[float] = None,
    ridge: float = 0.0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`eigh_generalized` for many independent problems, solved in parallel.

    Parameters
    ----------
    pairs : sequence of (A, B)
        Each ``A`` and ``B`` as in :func:`eigh_generalized`; problems may differ in size.
    k : int, optional
        Pairs per problem (all of them by default); must not exceed the smallest ``d``.
    largest, method, tol, ridge
        As in :func:`eigh_generalized`, applied to every problem.

    Returns
    -------
    list of (w, V)
        One ``(w, V)`` per problem, in order. Errors name the index of the failing problem.
    """
    checked = [_pair(A, B, (f"A of problem {i}", f"B of problem {i}")) for i, (A, B) in enumerate(pairs)]
    if not checked:
        return []
    k = _k(k, min(A.shape[0] for A, _ in checked))
    method, tol, ridge = _options(method, tol, ridge)
    out = _core.eigh_generalized_batch(checked, k, bool(largest), method, tol, ridge)
    return [(w, V) for w, V, _info in out]


def joint_embedding(
    S, G, k: int, *, method: str = "auto", tol: Optional[float] = None, ridge: float = 0.0
) -> JointEmbeddingSolution:
    """Optimal linear joint embedding from augmentation moments.

    Minimises ``E ||W tau1(x) - W tau2(x)||^2`` over ``W`` (k x d) subject to ``W S W^T = I``:
    the rows of ``W`` are the top-k generalized eigenvectors of ``G w = omega S w``.

    Parameters
    ----------
    S : array_like, shape (d, d)
        Second moment of augmented views, ``E[tau(x) tau(x)^T]`` (positive definite).
    G : array_like, shape (d, d)
        Second moment of mean views, ``Xbar^T Xbar / n``.
    k : int
        Embedding dimension, ``1 <= k <= d``.
    method, tol, ridge
        As in :func:`eigh_generalized` (``ridge`` regularises ``S``).

    Returns
    -------
    JointEmbeddingSolution
        ``omega`` (k,), ``W`` (k, d), ``loss = 2 (k - sum(omega))``.
    """
    S, G = _pair(S, G, ("S", "G"))
    k = _k(k, S.shape[0])
    method, tol, ridge = _options(method, tol, ridge)
    omega, W, loss, _method = _core.joint_embedding(S, G, k, method, tol, ridge)
    warn_undetermined("joint_embedding", determined_directions(omega, W, np.linalg.norm(G)), k)
    return JointEmbeddingSolution(omega, W, loss)


def joint_embedding_batch(
    problems: Sequence[tuple], k: int, *, method: str = "auto", tol: Optional[float] = None, ridge: float = 0.0
) -> list[JointEmbeddingSolution]:
    """:func:`joint_embedding` for many ``(S, G)`` problems, solved in parallel."""
    checked = [_pair(S, G, (f"S of problem {i}", f"G of problem {i}")) for i, (S, G) in enumerate(problems)]
    if not checked:
        return []
    k = _k(k, min(S.shape[0] for S, _ in checked))
    method, tol, ridge = _options(method, tol, ridge)
    out = _core.joint_embedding_batch(checked, k, method, tol, ridge)
    for i, ((_S, G), (omega, W, _loss, _m)) in enumerate(zip(checked, out)):
        warn_undetermined("joint_embedding", determined_directions(omega, W, np.linalg.norm(G)), k, f" (problem {i})")
    return [JointEmbeddingSolution(o, W, loss) for o, W, loss, _m in out]


def _rc_problem(S, C, trace_xx, label: str = "") -> tuple[np.ndarray, np.ndarray, float]:
    S = _square(S, f"S{label}")
    C = _matrix(C, f"C{label}")
    if C.shape[1] != S.shape[0]:
        raise ValueError(f"C{label} must have d = {S.shape[0]} columns (as S); got shape {C.shape}")
    return S, C, _scalar(trace_xx, f"trace_xx{label}")


def reconstruction(
    S, C, trace_xx: float, k: int, *, method: str = "auto", tol: Optional[float] = None, ridge: float = 0.0
) -> ReconstructionSolution:
    """Optimal linear auto-encoder (denoising / masked) from augmentation moments.

    Minimises ``E ||x - D E tau(x)||^2``: with ``C S^{-1/2} = R Phi P^T``, the encoder is
    ``E = P_k^T S^{-1/2}`` and the decoder ``D = R_k Phi_k``, computed as the top-k generalized
    eigenpairs of ``(C^T C) v = phi^2 S v`` (``E = V^T``, ``D = C V``).

    Parameters
    ----------
    S : array_like, shape (d, d)
        Second moment of augmented views (positive definite).
    C : array_like, shape (p, d)
        Cross moment ``X^T Xbar / n`` between reconstruction targets and mean views.
    trace_xx : float
        ``||X||_F^2 / n`` of the targets.
    k : int
        Bottleneck dimension, ``1 <= k <= d``.
    method, tol, ridge
        As in :func:`eigh_generalized` (``ridge`` regularises ``S``).

    Returns
    -------
    ReconstructionSolution
        ``phi2`` (k,), ``E`` (k, d), ``D`` (p, k), ``loss = trace_xx - sum(phi2)``.
    """
    S, C, trace_xx = _rc_problem(S, C, trace_xx)
    k = _k(k, S.shape[0])
    method, tol, ridge = _options(method, tol, ridge)
    phi2, E, D, loss, _method = _core.reconstruction(S, C, trace_xx, k, method, tol, ridge)
    warn_undetermined("reconstruction", determined_directions(phi2, E, np.linalg.norm(C) ** 2), k)
    return ReconstructionSolution(phi2, E, D, loss)


def reconstruction_batch(
    problems: Sequence[tuple], k: int, *, method: str = "auto", tol: Optional[float] = None, ridge: float = 0.0
) -> list[ReconstructionSolution]:
    """:func:`reconstruction` for many ``(S, C, trace_xx)`` problems, solved in parallel."""
    checked = [_rc_problem(S, C, t, f" of problem {i}") for i, (S, C, t) in enumerate(problems)]
    if not checked:
        return []
    k = _k(k, min(S.shape[0] for S, _, _ in checked))
    method, tol, ridge = _options(method, tol, ridge)
    out = _core.reconstruction_batch(checked, k, method, tol, ridge)
    for i, ((_S, C, _t), (phi2, E, *_rest)) in enumerate(zip(checked, out)):
        warn_undetermined("reconstruction", determined_directions(phi2, E, np.linalg.norm(C) ** 2), k, f" (problem {i})")
    return [ReconstructionSolution(p, E, D, loss) for p, E, D, loss, _m in out]


def _sl_problem(S, B, trace_yy, label: str = "") -> tuple[np.ndarray, np.ndarray, float]:
    S = _square(S, f"S{label}")
    B = _matrix(B, f"B{label}")
    if B.shape[1] != S.shape[0]:
        raise ValueError(f"B{label} = Y^T Xbar / n must have d = {S.shape[0]} columns; got shape {B.shape}")
    return S, B, _scalar(trace_yy, f"trace_yy{label}")


def supervised(S, B, trace_yy: float, *, ridge: float = 0.0) -> SupervisedSolution:
    """Optimal linear regression under augmentations, ``V = B S^{-1}``.

    Minimises ``E ||y - V tau(x)||^2``, i.e. ridge regression with Tikhonov matrix ``S - G``.

    Parameters
    ----------
    S : array_like, shape (d, d)
        Second moment of augmented views (positive definite).
    B : array_like, shape (l, d)
        Cross moment ``Y^T Xbar / n``.
    trace_yy : float
        ``||Y||_F^2 / n``.
    ridge : float, default 0.0
        ``S`` is replaced by ``S + ridge * trace(S) / d * I``.

    Returns
    -------
    SupervisedSolution
        ``V`` (l, d) and ``loss = trace_yy - trace(B S^{-1} B^T)``.
    """
    S, B, trace_yy = _sl_problem(S, B, trace_yy)
    _options("auto", None, ridge)
    V, loss = _core.supervised(S, B, trace_yy, float(ridge))
    return SupervisedSolution(V, loss)


def supervised_batch(problems: Sequence[tuple], *, ridge: float = 0.0) -> list[SupervisedSolution]:
    """:func:`supervised` for many ``(S, B, trace_yy)`` problems, solved in parallel."""
    checked = [_sl_problem(S, B, t, f" of problem {i}") for i, (S, B, t) in enumerate(problems)]
    _options("auto", None, ridge)
    return [SupervisedSolution(V, loss) for V, loss in _core.supervised_batch(checked, float(ridge))]
