"""Any augmentation given as a function (:class:`Custom`), with Monte Carlo moments.

Every chunk of rows is augmented ``draws`` times and the views stream through the Rust
accumulator, so memory stays at a few chunks whatever ``n``. Estimators (``T_i`` is the sum of
the ``m = draws`` views of row ``i``)::

    S = sum_a Z_a^T Z_a / (n m)
    G = (T^T T / n - m S) / (m (m - 1))       # unbiased; the plug-in Xbar^T Xbar is biased by Sigma / m
    C = X^T T / (n m),   B = Y^T T / (n m)

Standard errors come from batch means: draw ``a`` belongs to group ``a % batches``; each group
gives its own unbiased estimate and their spread estimates the Monte Carlo error.

Parallelism and reproducibility. View ``a`` of chunk ``c`` is drawn with its own generator,
:func:`view_generator` ``(seed, c, a)`` (independent streams of one ``SeedSequence``), so views
can be drawn on several threads at once and still be the same whatever the number of threads or
the order they finish in. The user's function runs on a small pool of threads (NumPy releases
the GIL in its array loops and random generators) while the calling thread folds the finished
views, in order, into the accumulators (the Rust products release the GIL too): results are
bitwise identical for any ``threads``.
"""

from __future__ import annotations

import inspect
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import numpy as np

from linssl._input import check_finite, float_dtype
from linssl._memory import check_dense_fits
from linssl._random import SeedLike, as_generator, seed_sequence
from linssl._streaming import iter_chunks
from linssl._threads import usable_cores
from linssl.accumulate import DataMoments, MomentAccumulator
from linssl.augment._maps import _as_batch, _symmetric
from linssl.augment.base import Augmentation
from linssl.augment.moments import AugmentedMoments

__all__ = ["Custom", "default_threads", "monte_carlo_moments", "view_generator"]

# Rows per chunk when the caller gives none: about 16 MB of float64 per (chunk x d) array, large
# enough for efficient products, small enough to keep memory flat.
_CHUNK_ELEMENTS = 1 << 21

# Views drawn ahead of the fold, per drawing thread: enough to keep the threads busy while a view
# is being multiplied, few enough that memory stays at a few chunks.
_AHEAD_PER_THREAD = 2


def view_generator(seed, chunk: int, draw: int) -> np.random.Generator:
    """The random generator of view ``draw`` of chunk ``chunk`` (both counted from 0).

    Parameters
    ----------
    seed : int, None or numpy.random.SeedSequence
        The root seed. Pass one ``SeedSequence`` for all views of a pass when ``seed`` is ``None``
        (a fresh ``SeedSequence(None)`` per view would draw new entropy every time).
    chunk, draw : int

    Returns
    -------
    numpy.random.Generator
        PCG64 seeded by ``SeedSequence(entropy, spawn_key=(..., chunk, draw))``: independent streams.
    """
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    key = np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, int(chunk), int(draw)))
    return np.random.Generator(np.random.PCG64(key))


def default_threads() -> int:
    """Threads drawing views when ``Custom(threads=None)``: the CPUs this process may use, at most 4."""
    return min(4, usable_cores())


def _chunks(data, y, chunk_size: Optional[int], what: str, progress: Optional[bool]) -> Iterator[tuple]:
    """Yield ``(X_chunk float64 (m, d), Y_chunk float64 (m, l) or None)`` from any data input."""
    if isinstance(data, DataMoments):
        raise TypeError(
            f"{what} estimates moments by augmenting raw rows, so it needs the data (an array or an "
            "iterable of chunks), not a DataMoments"
        )
    shape = getattr(data, "shape", None)
    if chunk_size is None and shape is not None and len(shape) == 2:
        chunk_size = max(1, _CHUNK_ELEMENTS // max(int(shape[1]), 1))
    yield from iter_chunks(data, y, chunk_size=chunk_size, dtype=np.float64, progress=progress, desc=what)


def monte_carlo_moments(
    sample: Callable,
    data,
    y,
    *,
    draws: int,
    seed,
    chunk_size: Optional[int],
    batches: int,
    threads: Optional[int],
    what: str,
    dtype=None,
    progress: Optional[bool] = None,
) -> dict:
    """Stream ``draws`` views of every chunk through the Rust accumulator.

    Parameters
    ----------
    sample : callable
        ``sample(X_chunk (m, d) float64, rng) -> Z (m, d) float64``, validated (finite, right shape).
    data, y
        Any data input of :func:`linssl.moments` (array, memory map, iterable of chunks, Dask).
    draws, batches : int
        Views per row (``>= 2``) and groups of draws for the standard errors (1: none).
    seed : int, None, SeedSequence or Generator
        Root seed of :func:`view_generator`.
    chunk_size : int, optional
        Rows per chunk for array input (default about 2**21 / d).
    threads : int, optional
        Threads calling ``sample`` at once (default :func:`default_threads`).
    what : str
        Name of the augmentation, for messages and the progress bar.
    dtype : {None, np.float32, np.float64}
        Precision of the products (``sample`` always sees float64 chunks).

    Returns
    -------
    dict
        ``n``, ``S``, ``G`` (d, d), ``C`` (d, d), ``B`` (l, d) or None, ``trace_xx``, ``trace_yy``
        (or None) and ``stderr`` (a dict of the same matrices, or None when ``batches == 1``).
    """
    product_dtype = float_dtype(np.float64, dtype)
    root = seed_sequence(seed)
    threads = default_threads() if threads is None else int(threads)

    def fold(acc, z, targets=None):
        try:
            acc.update(z.astype(product_dtype, copy=False), None if targets is None else targets.astype(product_dtype, copy=False))
        except ValueError as err:  # the views' squares or sums overflow: say whose views they are
            raise type(err)(f"the augmented views of {what}: {err}") from None

    # Per batch: sum of Z^T Z; T_b^T T_b and T_b^T [X Y]; and T^T T over all draws.
    view_accs: list[MomentAccumulator] = []
    sum_accs: list[MomentAccumulator] = []
    total_acc: Optional[MomentAccumulator] = None
    d = l = None
    n = 0
    trace_xx = trace_yy = 0.0
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="linssl-view") as pool:
        try:
            for c, (xc, yc) in enumerate(_chunks(data, y, chunk_size, what, progress)):
                if d is None:
                    d, l = xc.shape[1], (0 if yc is None else yc.shape[1])
                    # Per batch a d x d and a d x (d + l) accumulator, one more in total, and the estimates.
                    check_dense_fits(d, matrices=2 * batches + 5, what=f"{what}'s Monte Carlo moments")
                    view_accs = [MomentAccumulator(d) for _ in range(batches)]
                    sum_accs = [MomentAccumulator(d, d + l) for _ in range(batches)]
                    total_acc = MomentAccumulator(d) if batches > 1 else None
                if xc.shape[1] != d or (0 if yc is None else yc.shape[1]) != l:
                    raise ValueError(f"all chunks must have {d} columns (and {l} target columns); got {xc.shape}")
                if xc.shape[0] == 0:
                    continue
                check_finite(xc, "X", n)  # before augmenting: fn must not be blamed for NaN in the data
                if yc is not None:
                    check_finite(yc, "y", n)
                sums = [np.zeros_like(xc) for _ in range(batches)]
                ahead, submitted = _AHEAD_PER_THREAD * threads, 0
                drawing: deque = deque()
                for a in range(draws):
                    while submitted < draws and len(drawing) < ahead:
                        drawing.append(pool.submit(sample, xc, view_generator(root, c, submitted)))
                        submitted += 1
                    z = drawing.popleft().result()  # views are folded in the order of their draws
                    fold(view_accs[a % batches], z)
                    sums[a % batches] += z
                targets = xc if yc is None else np.hstack([xc, yc])
                for b in range(batches):
                    fold(sum_accs[b], sums[b], targets)
                if total_acc is not None:
                    for extra in sums[1:]:
                        sums[0] += extra
                    fold(total_acc, sums[0])
                n += xc.shape[0]
                trace_xx += float(np.einsum("ij,ij->", xc, xc))
                if yc is not None:
                    trace_yy += float(np.einsum("ij,ij->", yc, yc))
        except BaseException:
            # Ctrl-C or an error: drop the views queued ahead instead of drawing them first.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if n == 0:
        raise ValueError("X has no rows; moments of an empty data set are undefined")

    def estimates(view_sum, sum_sum, total_sq, m):
        S = view_sum / (n * m)
        G = (total_sq / n - m * S) / (m * (m - 1))
        cross = sum_sum / (n * m)  # T^T [X Y] / (n m), shape (d, d + l)
        return {"S": S, "G": G, "C": cross[:, :d].T, "B": cross[:, d:].T if l else None}

    full = estimates(
        sum(acc.xtx for acc in view_accs),
        sum(acc.xty for acc in sum_accs),
        total_acc.xtx if total_acc is not None else sum_accs[0].xtx,
        draws,
    )
    stderr = None
    if batches > 1:
        groups = [estimates(v.xtx, s.xty, s.xtx, draws // batches) for v, s in zip(view_accs, sum_accs)]
        stderr = {
            key: np.std([g[key] for g in groups], axis=0, ddof=1) / np.sqrt(batches)
            for key in ("S", "G", "C", "B")
            if full[key] is not None
        }
    return {
        **full,
        "n": n,
        "trace_xx": trace_xx / n,
        "trace_yy": trace_yy / n if l else None,
        "stderr": stderr,
    }


@dataclass(frozen=True, eq=False)
class Custom(Augmentation):
    """Any augmentation given as a function, with Monte Carlo moments.

    Each chunk of the data is augmented ``draws`` times; the views stream through the Rust
    accumulator, so memory stays at a few chunks whatever ``n``, and ``fn`` runs on ``threads``
    threads at once (see :mod:`linssl.augment.monte_carlo`). Estimators (``T_i`` is the sum of the
    ``m = draws`` views of row ``i``)::

        S = sum_a Z_a^T Z_a / (n m)
        G = (T^T T / n - m S) / (m (m - 1))       # unbiased; the plug-in Xbar^T Xbar is biased by Sigma / m
        C = X^T T / (n m),   B = Y^T T / (n m)

    Standard errors come from batch means over ``batches`` equal groups of draws (each group gives
    its own unbiased estimate; the spread of the group estimates estimates the Monte Carlo error).
    For ``G`` this is conservative: the full estimator pairs draws across groups and is somewhat
    more precise than the group estimates.

    Parameters
    ----------
    fn : callable
        ``fn(X_batch) -> Z`` or ``fn(X_batch, rng) -> Z`` mapping a float64 batch (m, d) to one
        augmented view per row, shape (m, d). Functions with a second parameter receive a
        ``numpy.random.Generator``, which makes the moments reproducible given ``seed`` and the
        chunking. ``fn`` gets a read-only view and must not modify its input; it is called from
        several threads at once (``threads``), so it must not change shared state.
    draws : int, default 16
        Augmented views per sample, >= 2.
    seed : int, SeedSequence or Generator, default 0
        Root seed: view ``a`` of chunk ``c`` gets the generator
        :func:`view_generator` ``(seed, c, a)``, whatever the thread that draws it (a generator is
        drawn from once per :meth:`moments` call, for a fresh root).
    chunk_size : int, optional
        Rows per chunk for array input (default: about 2**21 / d rows).
    batches : int, optional
        Groups of draws for the standard errors; must divide ``draws`` with at least 2 draws per
        group. Default: the largest of 4, 3, 2 that does; if none does, no standard errors.
        ``batches=1`` turns standard errors off, which saves ``batches`` extra products with the
        data per chunk.
    threads : int, optional
        Threads calling ``fn`` at once (default: the CPUs available, at most 4; 1 calls ``fn`` one
        view at a time). The moments are the same for any value.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((500, 3))
    >>> noise = linssl.Custom(lambda x, rng: x + rng.normal(0.0, 0.5, size=x.shape), draws=32)
    >>> mc, exact = noise.moments(X), linssl.Gaussian(0.25).moments(X)
    >>> bool(np.all(np.abs(mc.S - exact.S) < 5 * mc.stderr["S"] + 1e-12))
    True
    """

    fn: Callable
    draws: int = 16
    seed: SeedLike = 0
    chunk_size: Optional[int] = None
    batches: Optional[int] = None
    threads: Optional[int] = None
    _passes_rng: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"Custom needs a callable fn(X_batch[, rng]); got {type(self.fn).__name__}")
        if isinstance(self.draws, bool) or not isinstance(self.draws, (int, np.integer)) or self.draws < 2:
            raise ValueError(
                f"Custom draws must be an integer >= 2 (two views per sample are needed to estimate G); got {self.draws!r}"
            )
        if self.chunk_size is not None and int(self.chunk_size) < 1:
            raise ValueError(f"Custom chunk_size must be a positive number of rows; got {self.chunk_size!r}")
        if self.batches is not None and not _valid_batches(int(self.draws), self.batches):
            raise ValueError(
                f"Custom batches={self.batches!r} must divide draws={self.draws} into groups of at least 2 draws "
                "(or be 1 to turn standard errors off)"
            )
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, (int, np.integer)) or self.threads < 1
        ):
            raise ValueError(f"Custom threads must be a positive integer (or None for the CPU count); got {self.threads!r}")
        object.__setattr__(self, "_passes_rng", _takes_two_arguments(self.fn))

    @property
    def name(self) -> str:
        """A readable name of ``fn`` for messages."""
        return getattr(self.fn, "__qualname__", None) or repr(self.fn)

    def sample(self, X, rng=None) -> np.ndarray:
        X = _as_batch(X)
        view = X.view()
        view.flags.writeable = False
        out = self.fn(view, as_generator(rng)) if self._passes_rng else self.fn(view)
        out = np.asarray(out)
        if out.shape != X.shape:
            raise ValueError(
                f"the augmentation function {self.name} returned shape {out.shape} for a batch of shape "
                f"{X.shape}; it must return one augmented row per input row, shape (m, d)"
            )
        if out.dtype.kind not in "biuf":
            raise TypeError(f"the augmentation function {self.name} returned dtype {out.dtype}; it must return real numbers")
        out = out.astype(np.float64, copy=False)
        check_finite(out, f"the output of the augmentation function {self.name} for a batch of shape {X.shape}")
        return out

    def moments(
        self, data, y=None, *, chunk_size: Optional[int] = None, dtype=None, progress: Optional[bool] = None
    ) -> AugmentedMoments:
        return _monte_carlo(
            self.sample,
            data,
            y,
            draws=int(self.draws),
            seed=self.seed,
            chunk_size=chunk_size or self.chunk_size,
            batches=_batch_count(int(self.draws), self.batches),
            threads=self.threads,
            what=f"Custom({self.name})",
            dtype=dtype,
            progress=progress,
        )


def _valid_batches(draws: int, batches) -> bool:
    if isinstance(batches, bool) or not isinstance(batches, (int, np.integer)) or batches < 1:
        return False
    return bool(batches == 1 or (draws % batches == 0 and draws // batches >= 2))


def _batch_count(draws: int, requested: Optional[int]) -> int:
    """Groups of draws for batch-means standard errors (1: none); see :class:`Custom`."""
    if requested is not None and _valid_batches(draws, requested):
        return int(requested)
    return next((b for b in (4, 3, 2) if _valid_batches(draws, b)), 1)


def _takes_two_arguments(fn: Callable) -> bool:
    """Whether ``fn`` accepts a second positional argument (the random generator)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins and ufuncs without an inspectable signature
        return False
    positional = 0
    for p in params:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return bool(positional >= 2)


def _monte_carlo(sample: Callable, data, y, *, what: str, dtype, progress, **settings) -> AugmentedMoments:
    """:func:`monte_carlo_moments` as :class:`AugmentedMoments`."""
    est = monte_carlo_moments(sample, data, y, what=what, dtype=dtype, progress=progress, **settings)
    return AugmentedMoments(
        n=est["n"],
        S=_symmetric(est["S"]),
        G=_symmetric(est["G"]),
        C=est["C"],
        trace_xx=est["trace_xx"],
        B=est["B"],
        trace_yy=est["trace_yy"],
        stderr=est["stderr"],
    )
