"""Moments of a data set, streamed through the Rust accumulator.

Every statistic linssl needs from raw data is a function of ``n``, ``sum_i x_i``, ``X^T X``,
``X^T Y`` and ``Y^T Y``; this module computes them in one pass, in chunks, without copying the
input, and packages them as :class:`DataMoments`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from linssl._core import MomentAccumulator

__all__ = ["DataMoments", "MomentAccumulator", "covariance", "moments"]


def _as_float_matrix(X, name: str = "X") -> np.ndarray:
    """View ``X`` as a 2-D float32/float64 array; other real dtypes are converted to float64."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got an array with shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        if X.dtype.kind in "biuf":
            X = X.astype(np.float64)
        else:
            raise TypeError(f"{name} has dtype {X.dtype}; linssl needs real numbers (float32 or float64)")
    return X


@dataclass(frozen=True)
class DataMoments:
    """Moments of a (clean, un-augmented) data set ``X`` (n x d) and optional targets ``Y`` (n x l).

    Attributes
    ----------
    n : int
        Number of samples.
    mean : ndarray, shape (d,), float64
        ``sum_i x_i / n``.
    second : ndarray, shape (d, d), float64
        ``X^T X / n`` (uncentred, symmetric).
    cross : ndarray, shape (d, l), float64, or None
        ``X^T Y / n`` when targets were given.
    y_mean : ndarray, shape (l,), or None
        ``sum_i y_i / n``.
    y_second : ndarray, shape (l, l), float64, or None
        ``Y^T Y / n``.
    """

    n: int
    mean: np.ndarray
    second: np.ndarray
    cross: Optional[np.ndarray] = None
    y_mean: Optional[np.ndarray] = None
    y_second: Optional[np.ndarray] = None

    @property
    def d(self) -> int:
        return self.second.shape[0]

    @property
    def l(self) -> int:
        return 0 if self.cross is None else self.cross.shape[1]

    @classmethod
    def from_accumulator(cls, acc: MomentAccumulator) -> "DataMoments":
        """Normalise an accumulator's raw sums by its row count."""
        if acc.n == 0:
            raise ValueError("the accumulator has seen no rows; moments of an empty data set are undefined")
        n = acc.n
        has_y = acc.l > 0
        return cls(
            n=n,
            mean=acc.sum_x / n,
            second=acc.xtx / n,
            cross=acc.xty / n if has_y else None,
            y_mean=acc.sum_y / n if has_y else None,
            y_second=acc.yty / n if has_y else None,
        )


def moments(X, y=None, *, chunk_size: Optional[int] = None) -> DataMoments:
    """Moments of ``X`` (and ``y``) in one streamed pass.

    Parameters
    ----------
    X : array_like, shape (n, d), or an iterable of such chunks
        float64 or float32 (other real dtypes are converted to float64). Arrays, including
        ``np.memmap``, are read in chunks of ``chunk_size`` rows (default: all at once for
        in-memory arrays); an iterable yields chunks, or ``(X_chunk, y_chunk)`` pairs when ``y``
        is ``None``.
    y : array_like, shape (n,) or (n, l), optional
        Targets; 1-D targets are treated as one column.
    chunk_size : int, optional
        Rows per chunk for array input.

    Returns
    -------
    DataMoments
    """
    if isinstance(X, np.ndarray) or hasattr(X, "__array__"):
        X = _as_float_matrix(X)
        Y = None if y is None else _targets(y, X.shape[0], X.dtype)
        n = X.shape[0]
        step = n if not chunk_size else int(chunk_size)
        chunks = (
            (X[i : i + step], None if Y is None else Y[i : i + step]) for i in range(0, max(n, 1), max(step, 1))
        )
    else:
        if y is not None:
            raise ValueError("with an iterable of chunks, pass y inside it as (X_chunk, y_chunk) pairs")
        chunks = (_split_pair(item) for item in X)
    acc = None
    for xc, yc in chunks:
        xc = _as_float_matrix(xc)
        yc = None if yc is None else _targets(yc, xc.shape[0], xc.dtype)
        if acc is None:
            acc = MomentAccumulator(xc.shape[1], 0 if yc is None else yc.shape[1])
        acc.update(xc, yc)
    if acc is None or acc.n == 0:
        raise ValueError("X has no rows; moments of an empty data set are undefined")
    return DataMoments.from_accumulator(acc)


def _split_pair(item):
    if isinstance(item, tuple):
        if len(item) != 2:
            raise ValueError("chunks must be arrays or (X_chunk, y_chunk) pairs")
        return item
    return item, None


def _targets(y, n: int, dtype) -> np.ndarray:
    Y = np.asarray(y)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(f"y must have {n} rows (one per sample of X); got shape {np.shape(y)}")
    return np.ascontiguousarray(Y, dtype=dtype)


def covariance(X) -> np.ndarray:
    """Uncentred second moment ``X^T X / n`` of the rows of ``X``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        float64 or float32 (other real dtypes are converted to float64). C- and Fortran-ordered
        arrays are read in place; other strides are copied block by block.

    Returns
    -------
    ndarray, shape (d, d), float64
        Symmetric. Computed in Rust from one triangle of ``X^T X`` with the GIL released.
    """
    X = _as_float_matrix(X)
    if X.shape[0] == 0:
        raise ValueError("X has no rows; the second moment of an empty data set is undefined")
    return moments(X).second
