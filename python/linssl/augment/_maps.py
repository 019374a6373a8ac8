"""Linear maps of the augmentations, stored as a diagonal (d,), a dense (d, d) or a sparse matrix,
and the small input checks the augmentation families share."""

from __future__ import annotations

import numpy as np
import scipy.sparse

from linssl._core import symmetrize
from linssl._input import as_float, check_finite_parameter


# --- linear maps stored as a diagonal vector (d,) or a dense matrix (d, d) -------------------------


def _read_only(A: np.ndarray) -> np.ndarray:
    view = A.view()
    view.flags.writeable = False
    return view


def _vector(v, d: int, what: str) -> np.ndarray:
    out = as_float(v, np.float64, what)
    if out.shape != (d,):
        raise ValueError(f"{what} must have shape ({d},); got {out.shape}")
    return out


def _apply(P, v: np.ndarray) -> np.ndarray:
    """``P v`` for a diagonal (d,), dense or sparse map."""
    if not scipy.sparse.issparse(P) and P.ndim == 1:
        return P * v
    return np.asarray(P @ v, dtype=np.float64)


def _sandwich(P, M: np.ndarray) -> np.ndarray:
    """``P M P^T``, exactly symmetric for symmetric ``M`` (``p_i p_j`` is formed first)."""
    if scipy.sparse.issparse(P):
        PM = np.asarray(P @ M)
        return _symmetric(np.asarray(P @ PM.T))  # P M P^T = P (P M)^T for symmetric M
    if P.ndim == 1:
        if np.all(P == 1.0):
            return _read_only(M)
        return _scale_symmetric(M, P)
    return _symmetric(P @ M @ P.T)


def _scale_symmetric(M: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``diag(p) M diag(p)`` as ``M_ij (p_i p_j)``, exactly symmetric for symmetric ``M``; a uniform
    ``p`` (the usual mask) is one scalar: no d x d temporary, which costs as much as the product."""
    if p.size and np.all(p == p[0]):
        return M * (p[0] * p[0])
    return M * np.outer(p, p)


def _times_transpose(A: np.ndarray, P) -> np.ndarray:
    """``A P^T``."""
    if scipy.sparse.issparse(P):
        return np.ascontiguousarray(np.asarray(P @ A.T).T)
    if P.ndim == 1:
        if np.all(P == 1.0):
            return _read_only(A)
        return A * P[0] if P.size and np.all(P == P[0]) else A * P[None, :]
    return A @ P.T


def _compose_maps(P2, P1):
    """``P2 P1`` (apply ``P1`` first); diagonal (d,), dense (d, d) or sparse maps."""
    if scipy.sparse.issparse(P2) or scipy.sparse.issparse(P1):
        if any(isinstance(P, np.ndarray) and P.ndim == 2 for P in (P2, P1)):
            # A dense stage makes the product dense: never densify the sparse one first.
            if isinstance(P1, np.ndarray) and P1.ndim == 2:
                return np.asarray(_as_sparse(P2) @ P1)
            return np.asarray((_as_sparse(P1).T @ P2.T).T)
        return scipy.sparse.csr_array(_as_sparse(P2) @ _as_sparse(P1))
    if P2.ndim == 1 and P1.ndim == 1:
        return P2 * P1
    if P2.ndim == 1:
        return P2[:, None] * P1
    if P1.ndim == 1:
        return P2 * P1[None, :]
    return P2 @ P1


def _as_sparse(P):
    if scipy.sparse.issparse(P):
        return scipy.sparse.csr_array(P)
    if P.ndim == 1:
        # dia_array, not diags_array: the latter is missing from SciPy 1.11, our floor.
        return scipy.sparse.dia_array((P[None, :], [0]), shape=(P.size, P.size)).tocsr()
    return scipy.sparse.csr_array(P)


def _symmetric(A: np.ndarray) -> np.ndarray:
    """``(A + A^T) / 2``: removes the rounding asymmetry of a map, so downstream eigensolvers see
    an exactly symmetric matrix (in place, one pass, when ``A`` is a writeable float64 array)."""
    if A.dtype == np.float64 and A.flags.writeable and A.ndim == 2 and A.shape[0] == A.shape[1]:
        symmetrize(A)
        return A
    return 0.5 * (A + A.T)


def _as_batch(X) -> np.ndarray:
    X = as_float(X, np.float64, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got an array with shape {X.shape}")
    return X


def _weights(weights, count: int, what: str) -> np.ndarray:
    """Probabilities of a finite family: uniform by default, else non-negative, normalised to sum 1."""
    if weights is None:
        return np.full(count, 1.0 / count)
    w = np.array(as_float(weights, np.float64, what))
    if w.shape != (count,):
        raise ValueError(f"{what} must have shape ({count},), one per member of the family; got {w.shape}")
    check_finite_parameter(w, what, "pass non-negative weights")
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"{what} must be non-negative with a positive sum; got {w}")
    return w / w.sum()
