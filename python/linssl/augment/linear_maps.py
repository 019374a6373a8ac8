"""Random linear and affine maps: a finite family ``tau(x) = A_j x + c_j`` drawn with probabilities ``w_j``.

For such a family (paper.md, "Random linear maps"), with ``M = X^T X / n`` and ``mu = sum_i x_i / n``:

    P = sum_j w_j A_j,    c = sum_j w_j c_j                      (xbar = P x + c)
    F(M) = sum_j w_j (A_j M A_j^T + A_j mu c_j^T + c_j mu^T A_j^T + c_j c_j^T)

exact, from the clean moments alone (the offsets need the mean, which :class:`linssl.DataMoments`
carries). Maps may be dense arrays or ``scipy.sparse`` matrices; sparse ones (gathers, stencils:
the image augmentations of :mod:`linssl.augment.image_maps`) cost ``O(nnz(A_j) d)`` per map, never a
dense d x d product.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Optional, Sequence, cast

import numpy as np
import scipy.sparse

from linssl._input import as_float, check_finite_parameter
from linssl._random import as_generator
from linssl._threads import usable_cores
from linssl.augment._maps import _as_batch, _weights
from linssl.augment.base import ClosedFormAugmentation

__all__ = ["RandomLinear"]


def _as_map(A: Any, j: int) -> Any:
    """One map as a read-only float64 dense (d, d) array or a CSR sparse array."""
    out: Any
    if scipy.sparse.issparse(A):
        out = scipy.sparse.csr_array(cast(Any, A).astype(np.float64))
        out.sum_duplicates()
        check_finite_parameter(out.data, f"RandomLinear maps[{j}]", "pass finite matrices")
    else:
        out = np.array(as_float(A, np.float64, f"RandomLinear maps[{j}]"))
        check_finite_parameter(out, f"RandomLinear maps[{j}]", "pass finite matrices")
        out.flags.writeable = False
    if out.ndim != 2 or out.shape[0] != out.shape[1]:
        raise ValueError(f"RandomLinear maps[{j}] must be a square (d, d) matrix; got shape {out.shape}")
    return out


def _left(A, B: np.ndarray) -> np.ndarray:
    """``A B`` for a dense or sparse ``A`` and a dense ``B``, as a dense array."""
    return np.asarray(A @ B)


def _sandwich_one(A, M: np.ndarray) -> np.ndarray:
    # A M A^T = A (A M)^T for symmetric M.
    return _left(A, _left(A, M).T)


def _threads() -> int:
    return min(4, usable_cores())


def _sandwiches(maps: Sequence, M: np.ndarray):
    """``A_j M A_j^T`` for every map, in order. Sparse products run single-threaded in scipy, so
    several maps are multiplied at once on a few threads (scipy releases the GIL), at most
    two per thread ahead of the sum to keep memory at a few d x d matrices; dense maps use BLAS's
    own threads."""
    threads = _threads()
    if threads == 1 or len(maps) == 1 or not all(scipy.sparse.issparse(A) for A in maps):
        for A in maps:
            yield _sandwich_one(A, M)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="linssl-maps") as pool:
        pending: deque = deque()
        following = iter(maps)
        for A in following:
            pending.append(pool.submit(_sandwich_one, A, M))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@dataclass(frozen=True, eq=False)
class RandomLinear(ClosedFormAugmentation):
    """A finite family of affine maps ``tau(x) = A_j x + c_j``, map ``j`` drawn with probability ``w_j``.

    Moments are exact (see :mod:`linssl.augment.linear_maps`). Composing with other closed-form
    augmentations (:class:`~linssl.Compose`) stays exact.

    Parameters
    ----------
    maps : sequence of array_like or scipy.sparse matrices, each (d, d); or an array (J, d, d)
        The ``A_j``.
    weights : array_like, shape (J,), optional
        Non-negative, normalised to sum 1 (default: uniform).
    offsets : array_like, shape (J, d), optional
        The ``c_j`` (default: none, a linear family). With offsets the moments need the data mean:
        compute them from data or a :class:`linssl.DataMoments`.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> aug = linssl.RandomLinear([np.eye(2), swap])            # swap the two features half the time
    >>> aug.mean_map(2)
    array([[0.5, 0.5],
           [0.5, 0.5]])
    >>> aug.second_moment_map(np.array([[1.0, 0.0], [0.0, 3.0]]))
    array([[2., 0.],
           [0., 2.]])
    """

    maps: Sequence
    weights: Optional[np.ndarray] = None
    offsets: Optional[np.ndarray] = None

    def __post_init__(self):
        family = list(self.maps) if not isinstance(self.maps, np.ndarray) or self.maps.ndim != 3 else list(self.maps)
        if not family:
            raise ValueError("RandomLinear needs at least one map")
        family = [_as_map(A, j) for j, A in enumerate(family)]
        d = family[0].shape[0]
        if any(A.shape != (d, d) for A in family):
            raise ValueError(f"RandomLinear maps must all have the shape ({d}, {d}) of the first; got {[A.shape for A in family]}")
        object.__setattr__(self, "maps", tuple(family))
        w = _weights(self.weights, len(family), "RandomLinear weights")
        w.flags.writeable = False
        object.__setattr__(self, "weights", w)
        if self.offsets is not None:
            c = np.array(as_float(self.offsets, np.float64, "RandomLinear offsets"))
            if c.shape != (len(family), d):
                raise ValueError(f"RandomLinear offsets must have shape ({len(family)}, {d}), one row per map; got {c.shape}")
            check_finite_parameter(c, "RandomLinear offsets", "pass finite offsets")
            c.flags.writeable = False
            object.__setattr__(self, "offsets", c)

    @property
    def d(self) -> int:
        """Number of features the maps act on."""
        return int(self.maps[0].shape[0])

    @property
    def _w(self) -> np.ndarray:
        return np.asarray(self.weights)

    def _check_d(self, d: int) -> None:
        if d != self.d:
            raise ValueError(f"RandomLinear maps are {self.d} x {self.d} but the data have d={d} features")

    def no_diagonal_form(self) -> Optional[str]:
        return "RandomLinear maps (Sigma is not diagonal in general)"

    def mean_map(self, d: int):
        # P = sum_j w_j A_j: a scipy.sparse (d, d) array when every map is sparse, else dense.
        self._check_d(d)
        if all(scipy.sparse.issparse(A) for A in self.maps):
            P = sum((w * A for w, A in zip(self._w, self.maps)), scipy.sparse.csr_array((d, d)))
            return scipy.sparse.csr_array(P)
        P = np.zeros((d, d))
        A: Any
        for w, A in zip(self._w, self.maps):
            P += w * (cast(Any, A).toarray() if scipy.sparse.issparse(A) else A)
        return P

    def mean_offset(self, d: int) -> Optional[np.ndarray]:
        self._check_d(d)
        return None if self.offsets is None else self._w @ self.offsets

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        return self.view_second_moment(M, None)

    def view_second_moment(self, M: np.ndarray, mean: Optional[np.ndarray]) -> np.ndarray:
        d = M.shape[0]
        self._check_d(d)
        if self.offsets is not None and mean is None:
            raise ValueError("RandomLinear with offsets needs the data mean for its second moment (pass a DataMoments or mean=)")
        out = np.zeros((d, d))
        for w, AMA in zip(self._w, _sandwiches(self.maps, M)):
            out += w * AMA
        for j, (w, A) in enumerate(zip(self._w, self.maps)):
            if self.offsets is not None and mean is not None:
                Amu, c = np.asarray(A @ mean), self.offsets[j]
                out += w * (np.outer(Amu, c) + np.outer(c, Amu) + np.outer(c, c))
        return out

    def sample(self, X, rng=None) -> np.ndarray:
        X = _as_batch(X)
        self._check_d(X.shape[1])
        rng = as_generator(rng)
        chosen = rng.choice(len(self.maps), size=X.shape[0], p=self._w)
        out = np.empty_like(X)
        for j in np.unique(chosen):
            rows = chosen == j
            out[rows] = _left(self.maps[j], X[rows].T).T
            if self.offsets is not None:
                out[rows] += self.offsets[j]
        return out
