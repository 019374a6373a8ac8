"""Moments of Dask arrays: a Rust accumulator per block, inside the workers, merged by a tree reduction.

``X^T X``, ``X^T Y`` and the sums are sums over rows, so a Dask array's blocks of rows can be
accumulated where they live and only the d x d accumulators travel: each block becomes a
:class:`linssl.MomentAccumulator` in the worker that holds it (the Rust core, GIL released), and
:func:`dask.array.reduction` merges them pairwise-by-groups up a tree (``split_every`` blocks per
merge) until one accumulator reaches the client. Network traffic is O(blocks x d^2), never O(n d).
Merging is exact up to the rounding of a different summation order, so the result equals the
in-memory pass to about 1e-15 relative.

Which cluster does the work: the ``client`` passed in, else Dask's default scheduler, which is
the most recently created ``dask.distributed.Client`` if there is one (connect to an existing
cluster with ``Client("tcp://scheduler:8786")``), else Dask's local thread pool.
"""

from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from linssl._core import MomentAccumulator
from linssl._errors import NonFiniteError
from linssl._input import check_finite, float_dtype, require_real

__all__ = ["aligned_blocks", "moments"]


def aligned_blocks(X, y=None):
    """``X`` with whole rows in every block, and ``y`` as a 2-D Dask array with the same row blocks.

    A Dask array whose feature axis is split into several blocks is rechunked to one block of
    columns (blocks of rows are kept): each block must hold complete rows for its ``X^T X``.
    A NumPy ``y`` is wrapped with ``X``'s row blocks.

    Parameters
    ----------
    X : dask.array.Array, shape (n, d)
        Any real dtype, with blocks of known size.
    y : dask.array.Array or array_like, shape (n,) or (n, l), optional
        Targets, any real dtype; 1-D targets become one column.

    Returns
    -------
    X : dask.array.Array, shape (n, d)
        Rechunked to one block of columns when needed (no data are computed).
    Y : dask.array.Array, shape (n, l), or None
        ``y`` with the row blocks of ``X``; None without targets.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from linssl.distributed import aligned_blocks
    >>> X = da.from_array(np.arange(24.0).reshape(6, 4), chunks=(3, 2))    # 2 x 2 blocks
    >>> Xa, Y = aligned_blocks(X, np.arange(6.0))
    >>> Xa.chunks, Y.chunks
    (((3, 3), (4,)), ((3, 3), (1,)))
    >>> aligned_blocks(X)[1] is None
    True
    """
    import dask.array as da

    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got a Dask array with shape {X.shape}")
    require_real(X.dtype, "X")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError("X has blocks of unknown size; call X.compute_chunk_sizes() first")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    if y is None:
        return X, None
    shape = tuple(np.shape(y))
    if len(shape) not in (1, 2) or shape[0] != X.shape[0]:
        raise ValueError(f"y must have {X.shape[0]} rows (one per sample of X); got shape {shape}")
    Y = y if hasattr(y, "dask") else da.from_array(np.asarray(y), chunks=(X.chunks[0],) + tuple((s,) for s in shape[1:]))
    if Y.ndim == 1:
        Y = Y[:, None]
    require_real(Y.dtype, "y")
    return X, Y.rechunk((X.chunks[0], -1))


def _boxed(acc: MomentAccumulator, ndim: int) -> np.ndarray:
    """An accumulator as a one-element object array: Dask reductions pass arrays between steps
    (and call the step functions on empty arrays to learn their output type)."""
    box = np.empty((1,) * ndim, dtype=object)
    box.flat[0] = acc
    return box


def _block_moments(block, axis, keepdims, *, d: int, l: int, as_dtype) -> np.ndarray:
    """The accumulator of one block of rows ``[X_block, Y_block]`` (m, d + l), run in a worker."""
    block = np.asarray(block, dtype=as_dtype)
    if block.shape[1] != d + l:  # Dask probing the output type with an empty array
        return np.empty((0, 0), dtype=object)
    acc = MomentAccumulator(d, l)
    if block.shape[0]:
        acc.update(block[:, :d], block[:, d:] if l else None)
    return _boxed(acc, 2)


def _accumulators(parts):
    if isinstance(parts, np.ndarray):
        yield from parts.flat
    elif isinstance(parts, (list, tuple)):
        for part in parts:
            yield from _accumulators(part)
    else:
        yield parts


def _merge(parts, axis, keepdims) -> np.ndarray:
    """Merge accumulators (one level of the tree). Inputs are left untouched: Dask may still hold them."""
    accs = list(_accumulators(parts))
    if not accs:  # Dask probing the output type
        return np.empty((0,) * (2 if keepdims else 0), dtype=object)
    out = accs[0].copy()
    for acc in accs[1:]:
        out.merge(acc)
    return _boxed(out, 2 if keepdims else 0)


def moments(X, y=None, *, dtype=None, client=None, split_every: Optional[int] = None) -> MomentAccumulator:
    """Accumulate the moments of a Dask array on its cluster.

    Parameters
    ----------
    X : dask.array.Array, shape (n, d)
        Any real dtype, chunked along rows (a chunked feature axis is rechunked to one block).
    y : dask.array.Array or array_like, shape (n,) or (n, l), optional
        Targets.
    dtype : {None, float32, float64}
        Dtype each block is converted to (in its worker) before accumulating; default float32 for
        native float32 data, float64 otherwise. Sums are always kept in float64.
    client : dask.distributed.Client, optional
        Cluster to run on; default: Dask's default scheduler (see the module docstring).
    split_every : int, optional
        Accumulators merged per task of the tree (Dask's default if None).

    Returns
    -------
    MomentAccumulator
        Raw sums over all rows (``n``, ``sum_x``, ``xtx``, ...), in the client process.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from linssl import distributed
    >>> X = np.random.default_rng(0).standard_normal((60, 4))
    >>> acc = distributed.moments(da.from_array(X, chunks=(15, 2)), y=X[:, 0], split_every=2)
    >>> acc.n, acc.xtx.shape, acc.xty.shape
    (60, (4, 4), (4, 1))
    >>> bool(np.allclose(acc.xtx, X.T @ X)), bool(np.allclose(acc.xty[:, 0], X.T @ X[:, 0]))
    (True, True)
    """
    import dask.array as da

    X, Y = aligned_blocks(X, y)
    d, l = X.shape[1], (0 if Y is None else Y.shape[1])
    target = float_dtype(X.dtype, dtype)
    rows = X if Y is None else da.concatenate([X.astype(target), Y.astype(target)], axis=1).rechunk({1: -1})
    reduced = da.reduction(
        rows,
        chunk=functools.partial(_block_moments, d=d, l=l, as_dtype=target),
        combine=_merge,
        aggregate=_merge,
        axis=(0, 1),
        concatenate=False,
        split_every=split_every,
        dtype=object,
        meta=np.empty((), dtype=object),
        name="linssl-moments",
    )
    try:
        box = client.compute(reduced, sync=True) if client is not None else reduced.compute()
    except NonFiniteError:
        _raise_first_non_finite(X, Y, client)
        raise
    return np.asarray(box, dtype=object).flat[0]


def _raise_first_non_finite(X, Y, client) -> None:
    """Raise :class:`NonFiniteError` for the first NaN or Inf of ``X`` (else ``Y``) with its row
    counted over the whole array: a block's accumulator counts only its own rows."""
    import dask.array as da

    def compute(a):
        return client.compute(a, sync=True) if client is not None else a.compute()

    for name, A in (("X", X), ("y", Y)):
        if A is None:
            continue
        bad_rows = ~da.isfinite(A).all(axis=1)
        if compute(bad_rows.any()):
            i = int(compute(da.argmax(bad_rows)))
            check_finite(np.asarray(compute(A[i : i + 1]), dtype=np.float64), name, i)
