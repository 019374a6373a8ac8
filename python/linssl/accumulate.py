"""Moments of a data set, streamed through the Rust accumulator.

Every statistic linssl needs from raw data is a function of ``n``, ``sum_i x_i``, ``X^T X``,
``X^T Y`` and ``Y^T Y``; this module computes them in one pass, in chunks, without copying the
input, and packages them as :class:`DataMoments`. Arrays, memory maps and iterables are streamed
by :mod:`linssl._streaming`, Dask arrays reduced on their cluster by :mod:`linssl.distributed`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from linssl._core import MomentAccumulator as _CoreAccumulator
from linssl._errors import NumericalWarning
from linssl._input import as_float, float_dtype
from linssl._memory import MOMENT_MATRICES, check_dense_fits
from linssl._streaming import is_dask, iter_chunks

__all__ = ["DataMoments", "MomentAccumulator", "moments", "second_moment"]


class MomentAccumulator:
    """Streaming sums ``n``, ``sum_i x_i``, ``X^T X``, ``X^T Y``, ``Y^T Y`` over chunks of rows.

    Computed in Rust (one triangle of ``X^T X``, the GIL released), mergeable and picklable, so
    chunks can be accumulated in any order, in several threads (one accumulator may be shared:
    updates are applied one at a time), processes or machines, and merged.

    Parameters
    ----------
    d : int
        Number of features, >= 1.
    l : int, default 0
        Number of target columns.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12.0).reshape(4, 3)
    >>> acc = MomentAccumulator(3)
    >>> acc.update(X[:2]); acc.update(X[2:])
    >>> bool(np.allclose(acc.xtx, X.T @ X)), acc.n
    (True, 4)
    """

    __slots__ = ("_acc",)

    def __init__(self, d: int, l: int = 0):
        self._acc = _CoreAccumulator(d, l)

    def update(self, X, y=None) -> None:
        """Fold a chunk ``X`` (m, d) and, with targets, ``y`` (m, l) into the sums.

        Any real dtype: float32 and float64 arrays are read in place, other dtypes converted to
        float64 (targets that need converting follow float32 data). NaN and infinities are refused
        (:class:`linssl.NonFiniteError`, naming the first one's row, counted over every chunk seen,
        and column); a refused chunk leaves the sums as they were.

        Parameters
        ----------
        X : array_like, shape (m, d)
            A chunk of rows, any real dtype.
        y : array_like, shape (m, l), optional
            Targets of those rows; required when the accumulator has ``l > 0`` target columns.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.arange(6.0).reshape(2, 3)
        >>> acc = MomentAccumulator(3, 1)
        >>> acc.update(X, X[:, :1])
        >>> acc.n, bool(np.allclose(acc.xty, X.T @ X[:, :1]))
        (2, True)
        """
        xc = _chunk(X, None, "X")
        yc = None if y is None else _chunk(y, xc.dtype, "y")
        self._acc.update(xc, yc)

    def merge(self, other: "MomentAccumulator") -> None:
        """Add another accumulator's sums into this one (``other`` may be this one: it doubles).

        The result is what one accumulator would hold after seeing both chunks' rows, so chunks
        accumulated in separate threads, processes or machines combine exactly.

        Parameters
        ----------
        other : MomentAccumulator
            With the same ``d`` and ``l``; left unchanged.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.arange(12.0).reshape(4, 3)
        >>> a, b = MomentAccumulator(3), MomentAccumulator(3)
        >>> a.update(X[:1]); b.update(X[1:])
        >>> a.merge(b)
        >>> a.n, bool(np.allclose(a.xtx, X.T @ X))
        (4, True)
        """
        if not isinstance(other, MomentAccumulator):
            raise TypeError(f"can only merge a linssl.MomentAccumulator; got {type(other).__name__}")
        self._acc.merge(other._acc)

    def copy(self) -> "MomentAccumulator":
        """An independent copy.

        Returns
        -------
        MomentAccumulator
            With the same sums; updating either one leaves the other unchanged.

        Examples
        --------
        >>> import numpy as np
        >>> acc = MomentAccumulator(2)
        >>> acc.update(np.ones((3, 2)))
        >>> snapshot = acc.copy()
        >>> acc.update(np.ones((2, 2)))
        >>> acc.n, snapshot.n
        (5, 3)
        """
        return MomentAccumulator._of(self._acc.copy())

    @classmethod
    def _of(cls, core: _CoreAccumulator) -> "MomentAccumulator":
        """Wrap an accumulator of the Rust core (e.g. one reduced on a Dask cluster)."""
        out = cls.__new__(cls)
        out._acc = core
        return out

    def __getstate__(self):
        return {"acc": self._acc}

    def __setstate__(self, state) -> None:
        self._acc = state["acc"]

    @property
    def d(self) -> int:
        """Number of features."""
        return self._acc.d

    @property
    def l(self) -> int:
        """Number of target columns."""
        return self._acc.l

    @property
    def n(self) -> int:
        """Rows seen so far."""
        return self._acc.n

    @property
    def sum_x(self) -> np.ndarray:
        """``sum_i x_i``, shape (d,), float64."""
        return self._acc.sum_x

    @property
    def sum_y(self) -> np.ndarray:
        """``sum_i y_i``, shape (l,), float64."""
        return self._acc.sum_y

    @property
    def xtx(self) -> np.ndarray:
        """``X^T X``, shape (d, d), float64, symmetric."""
        return self._acc.xtx

    def second_moment(self) -> np.ndarray:
        """The uncentred second moment of the rows seen so far (no mean is removed).

        Returns
        -------
        ndarray, shape (d, d), float64
            ``X^T X / n``, symmetric (mirrored from the triangle the core accumulates).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> acc = MomentAccumulator(2)
        >>> acc.update(X)
        >>> acc.second_moment()
        array([[ 5.,  7.],
               [ 7., 10.]])
        """
        return self._acc.second_moment()

    @property
    def xty(self) -> np.ndarray:
        """``X^T Y``, shape (d, l), float64."""
        return self._acc.xty

    @property
    def yty(self) -> np.ndarray:
        """``Y^T Y``, shape (l, l), float64."""
        return self._acc.yty

    def __repr__(self) -> str:
        return repr(self._acc)


def _chunk(a, like, what: str) -> np.ndarray:
    """A 2-D chunk as float32/float64 for the Rust core (no copy when it already is one).

    ``like`` is the dtype of the chunk of ``X`` that targets go with: targets that need converting
    take it; native float targets are passed as they are (the core names a mismatch).
    """
    arr = a if isinstance(a, np.ndarray) else np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 2-D (rows, columns); got an array with shape {arr.shape}")
    native = arr.dtype in (np.float32, np.float64) and arr.dtype.isnative
    if native:
        return arr
    return as_float(arr, like if like is not None else float_dtype(arr.dtype), what)


@dataclass(frozen=True)
class DataMoments:
    """Moments of a (clean, un-augmented) data set ``X`` (n x d) and optional targets ``Y`` (n x l).

    Returned by :func:`moments`. Closed-form augmentations turn them into augmented moments
    without another pass over the data (``augmentation.moments(data_moments)``).

    Parameters
    ----------
    n : int
        Number of samples.
    mean : ndarray, shape (d,), float64
        ``sum_i x_i / n``.
    second_moment : ndarray, shape (d, d), float64
        ``X^T X / n`` (uncentred, symmetric).
    cross_moment : ndarray, shape (d, l), float64, or None
        ``X^T Y / n`` when targets were given.
    y_mean : ndarray, shape (l,), or None
        ``sum_i y_i / n``.
    y_second_moment : ndarray, shape (l, l), float64, or None
        ``Y^T Y / n``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((20, 3))
    >>> m = linssl.moments(X, y=X[:, 0])
    >>> m.n, m.d, m.l, m.cross_moment.shape
    (20, 3, 1, (3, 1))
    >>> bool(np.allclose(m.second_moment, X.T @ X / 20))
    True
    >>> aug = linssl.Mask(0.5)                     # same moments, without the rows
    >>> bool(np.allclose(aug.moments(m).S, aug.moments(X).S))
    True
    """

    n: int
    mean: np.ndarray
    second_moment: np.ndarray
    cross_moment: Optional[np.ndarray] = None
    y_mean: Optional[np.ndarray] = None
    y_second_moment: Optional[np.ndarray] = None

    @property
    def d(self) -> int:
        """Number of features."""
        return self.second_moment.shape[0]

    @property
    def l(self) -> int:
        """Number of target columns (0 without targets)."""
        return 0 if self.cross_moment is None else self.cross_moment.shape[1]

    @classmethod
    def from_accumulator(cls, acc: MomentAccumulator) -> "DataMoments":
        """Normalise an accumulator's raw sums by its row count.

        Parameters
        ----------
        acc : MomentAccumulator
            Having seen at least one row; it is not modified.

        Returns
        -------
        DataMoments
            What :func:`moments` returns for the same rows.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X = np.arange(12.0).reshape(4, 3)
        >>> acc = linssl.MomentAccumulator(3, 1)
        >>> acc.update(X, X[:, :1])
        >>> m = linssl.DataMoments.from_accumulator(acc)
        >>> m.n, m.mean, bool(np.allclose(m.cross_moment, X.T @ X[:, :1] / 4))
        (4, array([4.5, 5.5, 6.5]), True)
        """
        if acc.n == 0:
            raise ValueError("the accumulator has seen no rows; moments of an empty data set are undefined")
        n = acc.n
        has_y = acc.l > 0
        second = acc.second_moment()  # X^T X / n, mirrored and divided in one pass
        _warn_if_subnormal(second)
        sums = {"X^T X": second, **({"X^T y": acc.xty, "y^T y": acc.yty} if has_y else {})}
        for name, value in sums.items():
            if not np.all(np.isfinite(value)):
                # The accumulator refuses NaN and Inf, so only finite values too large to square remain.
                raise ValueError(
                    f"{name} overflows (the data hold values too large to square: above about 1e154 in "
                    "float64, 1e19 in float32); rescale the data, or pass dtype=np.float64 for float32 data"
                )
        return cls(
            n=n,
            mean=acc.sum_x / n,
            second_moment=second,
            cross_moment=sums["X^T y"] / n if has_y else None,
            y_mean=acc.sum_y / n if has_y else None,
            y_second_moment=sums["y^T y"] / n if has_y else None,
        )


def _warn_if_subnormal(second: np.ndarray) -> None:
    """Warn when the data are so small that their squares fell below float64's normal range: the
    moments then carry fewer significant digits (rescaling the data would keep them all)."""
    largest = float(np.max(np.abs(np.diagonal(second)))) if second.size else 0.0
    if 0.0 < largest < np.finfo(np.float64).tiny:
        warnings.warn(
            f"the data are so small that X^T X / n (largest diagonal entry {largest:.2e}) is in float64's "
            "subnormal range and has lost significant digits; multiply X by a power of two (e.g. 2.0**500) "
            "and rescale the results",
            NumericalWarning,
            stacklevel=3,
        )


def moments(
    X,
    y=None,
    *,
    chunk_size: Optional[int] = None,
    dtype=None,
    progress: Optional[bool] = None,
    client=None,
) -> DataMoments:
    """Moments of ``X`` (and ``y``) in one streamed pass.

    Memory is O(d^2 + chunk), whatever ``n``: arrays are never converted or copied as a whole.

    Parameters
    ----------
    X : array_like of shape (n, d), np.memmap, dask.array.Array, or an iterable of chunks
        Any real dtype. In-memory float32/float64 arrays are read in place. Memory maps
        (``np.load(path, mmap_mode="r")``, :func:`linssl.load_array`, big-endian IDX files
        included) are read and converted ``chunk_size`` rows at a time, each chunk's pages released
        once used. A Dask array is reduced on its cluster (:mod:`linssl.distributed`; a chunked
        feature axis is rechunked to one block). An iterable yields (m, d) chunks, or
        ``(X_chunk, y_chunk)`` pairs when ``y`` is ``None``.
    y : array_like, shape (n,) or (n, l), optional
        Targets; 1-D targets are treated as one column.
    chunk_size : int, optional
        Rows per chunk for arrays; default about 16 MB per converted chunk for memory maps and
        arrays that need converting, the whole array otherwise.
    dtype : {None, np.float32, np.float64}
        Precision of the products: chunks are converted to it one at a time (float32 halves the
        memory traffic and doubles the SIMD width). Default: float32 for native float32 data,
        float64 otherwise. Sums are accumulated in float64 either way; see the README for the
        accuracy of float32 (about 1e-7 relative on ``X^T X / n``).
    progress : bool, optional
        Show a progress bar (tqdm) over rows. Default: only for passes over more than 1e8
        elements (for an iterable, from the moment it has yielded that many). Not for Dask arrays:
        follow those on the Dask dashboard.
    client : dask.distributed.Client, optional
        For Dask arrays: the cluster to compute on (default: Dask's default, i.e. the latest
        ``Client`` created, else its local threads).

    Returns
    -------
    DataMoments

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> m = linssl.moments(X, y=np.array([1.0, 0.0]))
    >>> m.n, m.mean, m.cross_moment.ravel()
    (2, array([2., 3.]), array([0.5, 1. ]))
    """
    if is_dask(X):
        from linssl import distributed

        if len(X.shape) == 2:
            check_dense_fits(X.shape[1], matrices=MOMENT_MATRICES, what="computing X^T X / n")
        acc: Optional[MomentAccumulator] = MomentAccumulator._of(distributed.moments(X, y, dtype=dtype, client=client))
    else:
        if client is not None:
            raise ValueError("client= applies to Dask arrays; X is not one (pass X as a dask.array.Array)")
        acc = None
        for xc, yc in iter_chunks(X, y, chunk_size=chunk_size, dtype=dtype, progress=progress):
            if acc is None:
                check_dense_fits(xc.shape[1], matrices=MOMENT_MATRICES, what="computing X^T X / n")
                acc = MomentAccumulator(xc.shape[1], 0 if yc is None else yc.shape[1])
            if xc.shape[0]:
                acc.update(xc, yc)  # refuses NaN and Inf, naming their row over all chunks
    if acc is None or acc.n == 0:
        raise ValueError("X has no rows; moments of an empty data set are undefined")
    return DataMoments.from_accumulator(acc)


def second_moment(X, *, chunk_size: Optional[int] = None, dtype=None, progress: Optional[bool] = None) -> np.ndarray:
    """Uncentred second moment ``X^T X / n`` of the rows of ``X`` (not the covariance: no mean is removed).

    Parameters
    ----------
    X : array_like of shape (n, d), np.memmap, dask.array.Array, or an iterable of chunks
        Any real dtype (see :func:`moments`). C- and Fortran-ordered float arrays are read in
        place; other strides are copied block by block.
    chunk_size, dtype, progress
        As for :func:`moments`.

    Returns
    -------
    ndarray, shape (d, d), float64
        Symmetric. Computed in Rust from one triangle of ``X^T X`` with the GIL released.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> second_moment(X)
    array([[ 5.,  7.],
           [ 7., 10.]])
    """
    return moments(X, chunk_size=chunk_size, dtype=dtype, progress=progress).second_moment
