"""Any data input as a stream of float row chunks, with memory independent of the number of rows.

Every moment linssl computes is a sum over rows, so data only ever needs to be seen a chunk at a
time. :func:`iter_chunks` turns each kind of input into ``(X_chunk, Y_chunk)`` pairs in the float
dtype the Rust accumulator takes:

- an in-memory float32/float64 array is handed over whole (no copy; the Rust core blocks it
  itself), or in views of a few per cent of its rows when a progress bar is shown;
- arrays that need converting (integers, big-endian data such as MNIST IDX files, float64 data
  read as float32) are converted one chunk at a time, never as a whole;
- a memory-mapped array (``np.memmap``, ``np.load(..., mmap_mode="r")``, :func:`linssl.load_array`,
  and views of them) is read in chunks of about :data:`CHUNK_BYTES`, and each chunk's pages are
  released from the process once it has been used, so the resident memory of a pass stays at a
  few chunks whatever the file size (the data stay in the operating system's page cache);
- a Dask array is computed one block of rows at a time (closed-form moments of Dask arrays use the
  distributed tree reduction of :mod:`linssl.distributed` instead);
- an iterable yields arrays, or ``(X_chunk, y_chunk)`` pairs.
"""

from __future__ import annotations

import mmap
from typing import Any, Iterator, Optional

import numpy as np

from linssl._input import as_float, float_dtype, require_real
from linssl._threads import usable_cores

__all__ = ["CHUNK_BYTES", "PROGRESS_ELEMENTS", "is_dask", "iter_chunks", "Progress"]

#: Target size of one converted chunk: large enough for full-speed products, small enough that a
#: few of them are nothing next to the d x d moments.
CHUNK_BYTES = 16 << 20

#: Passes over more elements than this show a progress bar unless told otherwise (about a second
#: of accumulation at d ~ 1000 on one core, and far more when read from disk).
PROGRESS_ELEMENTS = 10**8

#: In-memory views handed to the accumulator while a progress bar is shown: this many per pass, of
#: at least this many rows (and d / 2, as the accumulator's own blocks).
_PROGRESS_STEPS = 100
_PROGRESS_MIN_ROWS = 2048


def is_dask(X) -> bool:
    """True for a ``dask.array.Array`` (without importing Dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "__dask_graph__")


def _as_rows(y, n: int) -> np.ndarray:
    """Targets as a 2-D (n, l) array (1-D targets are one column), not yet converted."""
    Y = y if isinstance(y, np.ndarray) else np.asarray(y)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(f"y must have {n} rows (one per sample of X); got shape {np.shape(y)}")
    require_real(Y.dtype, "y")
    return Y


class Progress:
    """A tqdm progress bar over rows, shown when a pass is long (see :func:`iter_chunks`)."""

    def __init__(self, total_rows: Optional[int], d: Optional[int], enabled: Optional[bool], desc: str):
        self.total, self.d, self.enabled, self.desc = total_rows, d, enabled, desc
        self.rows = 0
        self.bar: Any = None
        if enabled or (enabled is None and total_rows is not None and d is not None and total_rows * d > PROGRESS_ELEMENTS):
            self._start()

    def _start(self) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.total, initial=self.rows, unit="row", unit_scale=True, desc=self.desc, dynamic_ncols=True)

    @property
    def shown(self) -> bool:
        return self.bar is not None

    def update(self, rows: int, d: int) -> None:
        self.rows += rows
        if self.bar is not None:
            self.bar.update(rows)
        elif self.enabled is None and self.total is None and self.rows * d > PROGRESS_ELEMENTS:
            self._start()  # an iterable of unknown length turned out to be long

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def iter_chunks(
    X,
    y=None,
    *,
    chunk_size: Optional[int] = None,
    dtype=None,
    progress: Optional[bool] = None,
    chunk_bytes: int = CHUNK_BYTES,
    desc: str = "linssl moments",
) -> Iterator[tuple[np.ndarray, Optional[np.ndarray]]]:
    """Yield the rows of ``X`` (and ``y``) as float chunks.

    Parameters
    ----------
    X : array_like of shape (n, d), np.memmap, dask.array.Array, or an iterable of chunks
        Any real dtype; an iterable yields (m, d) arrays or ``(X_chunk, y_chunk)`` pairs.
    y : array_like, shape (n,) or (n, l), optional
        Targets for array input (with an iterable, pass them inside the pairs).
    chunk_size : int, optional
        Rows per chunk for array input. Default: about ``chunk_bytes`` per converted chunk for
        memory maps and arrays that need converting; whole in-memory float arrays otherwise.
    dtype : {None, float32, float64}
        Dtype of the yielded chunks (default: see :func:`float_dtype`).
    progress : bool, optional
        Show a progress bar; default: only when the pass covers more than
        :data:`PROGRESS_ELEMENTS` elements.

    Yields
    ------
    (ndarray (m, d), ndarray (m, l) or None)
        Both in the same float dtype, native byte order; chunks may be views of ``X``.
    """
    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1):
        raise ValueError(f"chunk_size must be a positive number of rows; got {chunk_size!r}")
    X = _as_table(X)
    if hasattr(X, "toarray") and hasattr(X, "nnz"):  # scipy.sparse
        raise TypeError(
            f"X is a sparse matrix ({type(X).__name__}); linssl's moments are dense d x d matrices, so pass dense "
            "data: X.toarray() when it fits in memory, or an iterable of dense row chunks (X[i:j].toarray())"
        )
    if is_dask(X):
        chunks = _dask_chunks(X, y, dtype)
        total = X.shape
    elif isinstance(X, np.ndarray) or hasattr(X, "__array__"):
        chunks, total = _array_chunks(X, y, chunk_size, dtype, progress, chunk_bytes)
    else:
        if y is not None:
            raise ValueError("with an iterable of chunks, pass y inside it as (X_chunk, y_chunk) pairs")
        chunks, total = _iterable_chunks(X, dtype), (None, None)
    bar = Progress(total[0], total[1], progress, desc)
    try:
        for xc, yc in chunks:
            yield xc, yc
            bar.update(xc.shape[0], xc.shape[1])
    finally:
        bar.close()


def _as_table(X):
    """A list or tuple of rows (lists or tuples of numbers) is an array, as the estimators read it;
    a list or tuple of arrays stays an iterable of chunks."""
    if not isinstance(X, (list, tuple)) or len(X) == 0 or hasattr(X[0], "__array__"):
        return X
    try:
        first = np.asarray(X[0])
    except ValueError:  # an (X_chunk, y_chunk) pair of different shapes
        return X
    if first.ndim != 1 or first.dtype.kind not in "biufcOUS":  # rows: numbers (or what the dtype policy refuses)
        return X  # 2-D chunks
    return np.asarray(X)


def _array_chunks(X, y, chunk_size, dtype, progress, chunk_bytes):
    A = X if isinstance(X, np.ndarray) else np.asarray(X)  # keeps np.memmap (a subclass) as a map
    if A.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got an array with shape {A.shape}")
    require_real(A.dtype, "X")
    n, d = A.shape
    if d == 0:
        raise ValueError(f"X has no features (shape {A.shape}); linssl needs at least one column")
    Y = None if y is None else _as_rows(y, n)
    target = float_dtype(A.dtype, dtype)
    mapped = isinstance(A, np.memmap)
    in_place = not mapped and A.dtype == target  # np.float64 compares equal only in native order
    if chunk_size is not None:
        step = int(chunk_size)
    elif in_place:
        shown = progress or (progress is None and n * d > PROGRESS_ELEMENTS)
        # Views small enough for a smooth bar, large enough that each update stays compute-bound.
        step = max(-(-n // _PROGRESS_STEPS), _PROGRESS_MIN_ROWS, d // 2) if shown else max(n, 1)
    else:
        step = _default_rows(d, target.itemsize, chunk_bytes)
    return _slices(A, Y, n, step, target), (n, d)


def _default_rows(d: int, itemsize: int, chunk_bytes: int) -> int:
    """Rows per converted chunk: about ``chunk_bytes``, but at least 1024 rows per thread, the
    least the Rust accumulator gives each thread (fewer rows would leave cores idle)."""
    return max(chunk_bytes // (max(d, 1) * itemsize), 1024 * usable_cores())


def _slices(A, Y, n, step, target):
    for start in range(0, n, step):
        block = A[start : start + step]
        xc = as_float(block, target, "X")
        yc = None if Y is None else as_float(Y[start : start + step], target, "y")
        yield xc, yc
        del xc
        _release_pages(block)
        if Y is not None:
            _release_pages(Y[start : start + step])


def _release_pages(view: np.ndarray) -> None:
    """Unmap the resident pages of a chunk of a memory map once it has been read.

    Pages of a file mapping count towards the process's resident memory until unmapped, so
    without this a pass over a large file would keep all of it resident. ``MADV_DONTNEED`` on a
    shared (``mode`` "r", "r+", "w+") file mapping only drops the process's references: the data
    stay in the page cache and on disk and are faulted back in if read again. Copy-on-write maps
    (``mode="c"``) are left alone, since there it would discard the caller's modifications.
    """
    mm = getattr(view, "_mmap", None)
    if mm is None or getattr(view, "mode", "c") == "c" or not hasattr(mm, "madvise") or view.size == 0:
        return
    try:
        base = np.frombuffer(mm, dtype=np.uint8).__array_interface__["data"][0]
    except (TypeError, ValueError, BufferError):  # a closed map
        return
    byte_bounds = getattr(np, "byte_bounds", None) or np.lib.array_utils.byte_bounds
    lo, hi = byte_bounds(view)
    start = (lo - base) // mmap.PAGESIZE * mmap.PAGESIZE
    if 0 <= start < len(mm):
        mm.madvise(mmap.MADV_DONTNEED, start, min(hi - base, len(mm)) - start)


def _iterable_chunks(chunks, dtype):
    d = None
    for item in chunks:
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError("chunks must be arrays or (X_chunk, y_chunk) pairs")
            xc, yc = item
        else:
            xc, yc = item, None
        xc = xc if isinstance(xc, np.ndarray) else np.asarray(xc)
        if xc.ndim != 2:
            raise ValueError(f"each chunk of X must be 2-D (rows, n_features); got shape {xc.shape}")
        require_real(xc.dtype, "a chunk of X")
        if d is None:
            d = xc.shape[1]
            if d == 0:
                raise ValueError(f"the chunks of X have no features (shape {xc.shape}); linssl needs at least one column")
        elif xc.shape[1] != d:
            raise ValueError(f"all chunks must have the same number of columns; the first had {d}, this one {xc.shape[1]}")
        target = float_dtype(xc.dtype, dtype)
        yc = None if yc is None else _chunk_targets(yc, xc.shape[0])
        yield as_float(xc, target, "a chunk of X"), None if yc is None else as_float(yc, target, "a chunk of y")


def _chunk_targets(yc, rows: int) -> np.ndarray:
    Y = np.asarray(yc)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.ndim != 2 or Y.shape[0] != rows:
        raise ValueError(f"a y chunk has shape {np.shape(yc)} but its X chunk has {rows} rows")
    require_real(Y.dtype, "a chunk of y")
    return Y


def _dask_chunks(X, y, dtype):
    """Blocks of rows of a Dask array, computed one at a time (feature axis in one block)."""
    from linssl.distributed import aligned_blocks

    Xd, Yd = aligned_blocks(X, y)
    target = float_dtype(Xd.dtype, dtype)
    for i in range(Xd.numblocks[0]):
        if Yd is None:
            xc, yc = Xd.blocks[i].compute(), None
        else:
            import dask

            xc, yc = dask.compute(Xd.blocks[i], Yd.blocks[i])
        yield as_float(xc, target, "X"), None if yc is None else as_float(yc, target, "y")
