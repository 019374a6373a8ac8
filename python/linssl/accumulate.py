"""Moments of a data set, streamed through the Rust accumulator.

Every statistic linssl needs from raw data is a function of ``n``, ``sum_i x_i``, ``X^T X``,
``X^T Y`` and ``Y^T Y``; this module computes them in one pass, in chunks, without copying the
input, and packages them as :class:`DataMoments`. Arrays, memory maps and iterables are streamed
by :mod:`linssl._streaming`, Dask arrays reduced on their cluster by :mod:`linssl.distributed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from linssl._core import MomentAccumulator
from linssl._memory import MOMENT_MATRICES, check_dense_fits
from linssl._streaming import is_dask, iter_chunks

__all__ = ["DataMoments", "MomentAccumulator", "covariance", "moments"]


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
        sums = {"X^T X": acc.xtx, "X^T y": acc.xty if has_y else None, "y^T y": acc.yty if has_y else None}
        for name, value in sums.items():
            if value is not None and not np.all(np.isfinite(value)):
                # The accumulator refuses NaN and Inf, so only finite values too large to square remain.
                raise ValueError(
                    f"{name} overflows (the data hold values too large to square: above about 1e154 in "
                    "float64, 1e19 in float32); rescale the data, or pass dtype=np.float64 for float32 data"
                )
        return cls(
            n=n,
            mean=acc.sum_x / n,
            second=sums["X^T X"] / n,
            cross=sums["X^T y"] / n if has_y else None,
            y_mean=acc.sum_y / n if has_y else None,
            y_second=sums["y^T y"] / n if has_y else None,
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
    """
    if is_dask(X):
        from linssl import distributed

        if len(X.shape) == 2:
            check_dense_fits(X.shape[1], matrices=MOMENT_MATRICES, what="computing X^T X / n")
        acc = distributed.moments(X, y, dtype=dtype, client=client)
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


def covariance(X, *, chunk_size: Optional[int] = None, dtype=None, progress: Optional[bool] = None) -> np.ndarray:
    """Uncentred second moment ``X^T X / n`` of the rows of ``X``.

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
    """
    return moments(X, chunk_size=chunk_size, dtype=dtype, progress=progress).second
