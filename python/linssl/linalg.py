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
from typing import Optional, Sequence

import numpy as np

from linssl._core import (
    auto_solver,
    check_k as _core_check_k,
    eigh_generalized as _core_eigh_generalized,
    eigh_generalized_batch as _core_eigh_generalized_batch,
    joint_embedding as _core_joint_embedding,
    joint_embedding_batch as _core_joint_embedding_batch,
    reconstruction as _core_reconstruction,
    reconstruction_batch as _core_reconstruction_batch,
    supervised as _core_supervised,
    supervised_batch as _core_supervised_batch,
)
from linssl._determined import determined_directions, warn_undetermined
from linssl._input import as_float
from linssl._memory import ITERATIVE_MATRICES, SOLVER_MATRICES, check_dense_fits
from linssl._norms import frobenius
from linssl._solutions import JointEmbeddingSolution, ReconstructionSolution, SupervisedSolution

__all__ = [
    "JointEmbeddingSolution",
    "ReconstructionSolution",
    "SOLVERS",
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

#: How a generalized eigenproblem is solved (see :func:`eigh_generalized`).
SOLVERS = ("auto", "dense", "iterative")


#: Below this dimension a solve needs a few MB: no memory check, which the many small problems of
#: a study would pay for.
_CHECK_MIN_DIM = 1024


def _fits(d: int, iterative: bool = False) -> None:
    """Refuse, before the core allocates, a solve whose d x d matrices cannot fit in memory
    (``iterative``: the block Krylov solver, which needs fewer)."""
    if d >= _CHECK_MIN_DIM:
        matrices = ITERATIVE_MATRICES if iterative else SOLVER_MATRICES
        check_dense_fits(d, matrices=matrices, what=f"a generalized eigensolve of dimension {d}")


def _matrix(M, name: str) -> np.ndarray:
    """``M`` as a 2-D float64 array (no copy when it already is one). Shapes, symmetry, finiteness
    and the arguments ``k``, ``solver``, ``tol`` and ``ridge`` are validated in the Rust core."""
    arr = as_float(M, np.float64, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix; got an array with shape {arr.shape}")
    return arr


def _k(k) -> Optional[int]:
    """``k`` as a Python int (its range is checked in the core), or None for all pairs."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer; got {k!r}")
    return int(k)


def pairs_wanted(k, d: int) -> int:
    """``k`` (None: ``d``) checked against the dimension ``d``, as every solver checks it."""
    return _core_check_k(_k(k), int(d))


def _scalar(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {x!r}")
    return float(x)


def _tol(tol) -> Optional[float]:
    return None if tol is None else _scalar(tol, "tol")


def eigh_generalized(
    A,
    B,
    k: Optional[int] = None,
    *,
    largest: bool = True,
    solver: str = "auto",
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
    solver : {"auto", "dense", "iterative"}, default "auto"
        ``"dense"``: Cholesky ``B = L L^T``, reduction to ``L^{-1} A L^{-T}``, full symmetric
        eigensolver, back-transformation. ``"iterative"``: block Lanczos on the reduced operator
        (never formed), for a few pairs of a large problem; every pair is checked against ``tol``
        and the dense solver takes over when a check fails or the iteration budget runs out.
        ``"auto"`` picks the iterative solver when ``d >= 512`` and ``k <= d / 64`` (where it wins
        on slowly decaying spectra, its hardest case) and the dense solver otherwise.
    tol : float, optional
        Relative residual accepted from the iterative solver for every pair:
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
        Wrong shapes, ``k`` out of range, non-symmetric input; :class:`linssl.NonFiniteError`
        (a ``ValueError``) for NaN or infinite entries.
    linssl.LinAlgError
        ``B`` is not positive definite (the message names the failing Cholesky pivot; pass
        ``ridge``).

    Examples
    --------
    >>> import numpy as np
    >>> w, V = eigh_generalized(np.diag([1.0, 4.0]), np.diag([1.0, 2.0]), 1)
    >>> w
    array([2.])
    """
    A, B = _matrix(A, "A"), _matrix(B, "B")
    d, wanted = A.shape[0], _k(k)
    iterative = solver == "iterative" or (solver == "auto" and wanted is not None and 1 <= wanted <= d and auto_solver(d, wanted) == "iterative")
    _fits(d, iterative)
    w, V, _info = _core_eigh_generalized(A, B, _k(k), bool(largest), solver, _tol(tol), _scalar(ridge, "ridge"))
    return w, V


def eigh_generalized_batch(
    pairs: Sequence[tuple],
    k: Optional[int] = None,
    *,
    largest: bool = True,
    solver: str = "auto",
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
    largest, solver, tol, ridge
        As in :func:`eigh_generalized`, applied to every problem.

    Returns
    -------
    list of (w, V)
        One ``(w, V)`` per problem, in order. Errors name the index of the failing problem.

    Examples
    --------
    >>> import numpy as np
    >>> out = eigh_generalized_batch([(np.eye(2), np.eye(2)), (np.diag([1.0, 3.0]), np.eye(2))], 1)
    >>> [float(w[0]) for w, V in out]
    [1.0, 3.0]
    """
    checked = [(_matrix(A, f"A of problem {i}"), _matrix(B, f"B of problem {i}")) for i, (A, B) in enumerate(pairs)]
    out = _core_eigh_generalized_batch(checked, _k(k), bool(largest), solver, _tol(tol), _scalar(ridge, "ridge"))
    return [(w, V) for w, V, _info in out]


def joint_embedding(
    S,
    G,
    k: Optional[int] = None,
    *,
    solver: str = "auto",
    tol: Optional[float] = None,
    ridge: float = 0.0,
    sigma_diag=None,
    sigma_factor=None,
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
    k : int, optional
        Embedding dimension, ``1 <= k <= d`` (default ``d``).
    solver, tol, ridge
        As in :func:`eigh_generalized` (``ridge`` regularises ``S``).
    sigma_diag, sigma_factor : array_like, shapes (d,) and (d, r), optional
        ``Sigma = S - G = diag(sigma_diag) + sigma_factor sigma_factor^T`` when known in that form
        (``AugmentedMoments.sigma_diag`` / ``sigma_factor``). Then ``G w = mu Sigma w`` is solved as
        the standard problem of ``Sigma^{-1/2} G Sigma^{-1/2}`` (``omega = mu / (1 + mu)``): no
        Cholesky factor of ``S``, and better separated eigenvalues for the iterative solver. Every
        pair is checked against ``(G, S)``; when the check fails the Cholesky route answers.

    Returns
    -------
    JointEmbeddingSolution
        ``omega`` (k,), ``W`` (k, d), ``loss = 2 (k - sum(omega))``, ``solver``.

    Examples
    --------
    >>> import numpy as np
    >>> sol = joint_embedding(np.diag([2.0, 4.0]), np.diag([1.0, 1.0]), 1)
    >>> sol.omega, round(sol.loss, 12)
    (array([0.5]), 1.0)
    """
    S, G = _matrix(S, "S"), _matrix(G, "G")
    _fits(S.shape[0])
    diag, factor = _sigma(sigma_diag, sigma_factor)
    omega, W, loss, used = _core_joint_embedding(S, G, _k(k), solver, _tol(tol), _scalar(ridge, "ridge"), diag, factor)
    warn_undetermined("joint_embedding", determined_directions(omega, W, frobenius(G)), len(omega))
    return JointEmbeddingSolution(omega, W, loss, used)


def joint_embedding_batch(
    problems: Sequence[tuple],
    k: Optional[int] = None,
    *,
    solver: str = "auto",
    tol: Optional[float] = None,
    ridge: float = 0.0,
) -> list[JointEmbeddingSolution]:
    """:func:`joint_embedding` for many ``(S, G)`` problems, solved in parallel.

    Parameters
    ----------
    problems : sequence of (S, G) or (S, G, sigma_diag, sigma_factor)
    k, solver, tol, ridge
        As in :func:`joint_embedding`, for every problem.

    Returns
    -------
    list of JointEmbeddingSolution

    Examples
    --------
    >>> import numpy as np
    >>> from linssl import linalg
    >>> problems = [(np.eye(2), np.diag([0.9, 0.1])), (np.eye(2), np.diag([0.2, 0.6]))]
    >>> [s.omega for s in linalg.joint_embedding_batch(problems, 1)]
    [array([0.9]), array([0.6])]
    """
    checked = [
        (_matrix(p[0], f"S of problem {i}"), _matrix(p[1], f"G of problem {i}"), *_sigma(*p[2:4]))
        for i, p in enumerate(problems)
    ]
    out = _core_joint_embedding_batch(checked, _k(k), solver, _tol(tol), _scalar(ridge, "ridge"))
    for i, ((_S, G, _d, _f), (omega, W, _loss, _used)) in enumerate(zip(checked, out)):
        warn_undetermined(
            "joint_embedding", determined_directions(omega, W, frobenius(G)), len(omega), f" (problem {i})"
        )
    return [JointEmbeddingSolution(*solution) for solution in out]


def _sigma(diag=None, factor=None) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """``Sigma``'s factors as contiguous float64 arrays (diagonal (d,), factor (d, r)), or Nones."""
    if diag is None:
        if factor is not None:
            raise ValueError("sigma_factor needs sigma_diag (Sigma = diag(sigma_diag) + F F^T)")
        return None, None
    diag = np.ascontiguousarray(as_float(diag, np.float64, "sigma_diag"))
    if diag.ndim != 1:
        raise ValueError(f"sigma_diag must be 1-D (d,); got shape {diag.shape}")
    factor = None if factor is None else _matrix(factor, "sigma_factor")
    return diag, factor


def _structure(keep=None, sigma_diag=None, sigma_factor=None) -> tuple:
    """``(keep, sigma_diag, sigma_factor)`` as float64 arrays, or Nones when not all are known."""
    if keep is None or sigma_diag is None:
        return None, None, None
    keep = np.ascontiguousarray(as_float(keep, np.float64, "keep"))
    if keep.ndim != 1:
        raise ValueError(f"keep must be 1-D (d,); got shape {keep.shape}")
    return (keep, *_sigma(sigma_diag, sigma_factor))


def _rc_problem(S, C, trace_xx, label: str = "") -> tuple[np.ndarray, np.ndarray, float]:
    return _matrix(S, f"S{label}"), _matrix(C, f"C{label}"), _scalar(trace_xx, f"trace_xx{label}")


def reconstruction(
    S,
    C,
    trace_xx: float,
    k: Optional[int] = None,
    *,
    solver: str = "auto",
    tol: Optional[float] = None,
    ridge: float = 0.0,
    keep=None,
    sigma_diag=None,
    sigma_factor=None,
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
    k : int, optional
        Bottleneck dimension, ``1 <= k <= d`` (default ``d``).
    solver, tol, ridge
        As in :func:`eigh_generalized` (``ridge`` regularises ``S``).
    keep, sigma_diag, sigma_factor : array_like, optional
        The diagonal mean map (``AugmentedMoments.keep``) and ``Sigma = S - G`` in factored form.
        When both are isotropic (``P = p I``, ``Sigma = p^2 e I``) reconstruction is PCA of
        ``M = C / p``: ``phi^2 = lambda^2 / (lambda + e)``, no Cholesky factor of ``S`` and no
        ``C^T C``. The pairs are checked against ``(C^T C, S)``; otherwise, or when the check
        fails, the general route answers. The iterative solver never forms ``C^T C`` either way.

    Returns
    -------
    ReconstructionSolution
        ``phi2`` (k,), ``E`` (k, d), ``D`` (p, k), ``loss = trace_xx - sum(phi2)``, ``solver``.

    Examples
    --------
    >>> import numpy as np
    >>> sol = reconstruction(np.diag([2.0, 1.0]), np.diag([1.0, 1.0]), 2.0, 1)
    >>> sol.phi2, sol.loss
    (array([1.]), 1.0)
    """
    S, C, trace_xx = _rc_problem(S, C, trace_xx)
    _fits(S.shape[0])
    structure = _structure(keep, sigma_diag, sigma_factor)
    phi2, E, D, loss, used = _core_reconstruction(S, C, trace_xx, _k(k), solver, _tol(tol), _scalar(ridge, "ridge"), *structure)
    warn_undetermined("reconstruction", determined_directions(phi2, E, frobenius(C), gram=True), len(phi2))
    return ReconstructionSolution(phi2, E, D, loss, used)


def reconstruction_batch(
    problems: Sequence[tuple],
    k: Optional[int] = None,
    *,
    solver: str = "auto",
    tol: Optional[float] = None,
    ridge: float = 0.0,
) -> list[ReconstructionSolution]:
    """:func:`reconstruction` for many ``(S, C, trace_xx)`` problems, solved in parallel.

    Parameters
    ----------
    problems : sequence of (S, C, trace_xx) or (S, C, trace_xx, keep, sigma_diag, sigma_factor)
    k, solver, tol, ridge
        As in :func:`reconstruction`, for every problem.

    Returns
    -------
    list of ReconstructionSolution

    Examples
    --------
    >>> import numpy as np
    >>> from linssl import linalg
    >>> S, C = np.eye(2), np.diag([2.0, 1.0])
    >>> [sol.loss for sol in linalg.reconstruction_batch([(S, C, 5.0), (S, C, 6.0)], 1)]
    [1.0, 2.0]
    """
    checked = [(*_rc_problem(p[0], p[1], p[2], f" of problem {i}"), *_structure(*p[3:6])) for i, p in enumerate(problems)]
    out = _core_reconstruction_batch(checked, _k(k), solver, _tol(tol), _scalar(ridge, "ridge"))
    for i, ((_S, C, *_rest), (phi2, E, *_sol)) in enumerate(zip(checked, out)):
        warn_undetermined(
            "reconstruction", determined_directions(phi2, E, frobenius(C), gram=True), len(phi2), f" (problem {i})"
        )
    return [ReconstructionSolution(*solution) for solution in out]


def _sl_problem(S, B, trace_yy, label: str = "") -> tuple[np.ndarray, np.ndarray, float]:
    return _matrix(S, f"S{label}"), _matrix(B, f"B{label}"), _scalar(trace_yy, f"trace_yy{label}")


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
        ``V`` (l, d), ``loss = trace_yy - trace(B S^{-1} B^T)`` and ``solver``.

    Examples
    --------
    >>> import numpy as np
    >>> sol = supervised(np.diag([2.0, 4.0]), np.array([[2.0, 4.0]]), 3.0)
    >>> sol.V, sol.loss
    (array([[1., 1.]]), -3.0)
    """
    S, B, trace_yy = _sl_problem(S, B, trace_yy)
    _fits(S.shape[0])
    V, loss = _core_supervised(S, B, trace_yy, _scalar(ridge, "ridge"))
    return SupervisedSolution(V, loss, "dense")


def supervised_batch(problems: Sequence[tuple], *, ridge: float = 0.0) -> list[SupervisedSolution]:
    """:func:`supervised` for many ``(S, B, trace_yy)`` problems, solved in parallel.

    Parameters
    ----------
    problems : sequence of (S, B, trace_yy)
    ridge : float, default 0.0
        As in :func:`supervised`, for every problem.

    Returns
    -------
    list of SupervisedSolution

    Examples
    --------
    >>> import numpy as np
    >>> from linssl import linalg
    >>> S, B = np.diag([2.0, 4.0]), np.array([[2.0, 4.0]])
    >>> [sol.V for sol in linalg.supervised_batch([(S, B, 2.0), (S, 2 * B, 8.0)])]
    [array([[1., 1.]]), array([[2., 2.]])]
    """
    checked = [_sl_problem(S, B, t, f" of problem {i}") for i, (S, B, t) in enumerate(problems)]
    return [SupervisedSolution(V, loss, "dense") for V, loss in _core_supervised_batch(checked, _scalar(ridge, "ridge"))]
