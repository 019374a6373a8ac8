"""Running a scaling study: locally or on Dask, resumable, with a progress bar.

:func:`run` expands a grid (:mod:`linssl.study.grid`) into groups of configurations that share
data, evaluates each group (:mod:`linssl.study.cell`: one sample, one moment pass, every
augmentation x paradigm solved as batches) and stores each finished group as it completes
(:mod:`linssl.study.store`). Groups are independent and seeded by their own fields, so results do
not depend on the number of workers or the order they finish in.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from linssl._threads import single_threaded_blas, usable_cores
from linssl._version import __version__
from linssl.study.cell import DataConfig, evaluate, resolve_sampler
from linssl.study.grid import Grid, expand
from linssl.study.store import ResultStore, StoreError, StoreWarning, group_key

__all__ = ["run", "StoreError", "StoreWarning", "TIMING_COLUMNS"]

#: Columns that measure time; every other column is deterministic given the grid.
TIMING_COLUMNS = ("time_moments", "time_solve")


def _evaluate_group(config: DataConfig, augmentations, paradigms, dtype=None, sampler: str = "auto") -> pd.DataFrame:
    return evaluate(config, augmentations, paradigms, dtype=dtype, sampler=sampler)


def run(
    grid: Union[Grid, Mapping],
    *,
    out=None,
    executor: str = "local",
    seeds: Union[int, Sequence[int], None] = None,
    progress: bool = True,
    client=None,
    dtype=None,
    sampler: str = "auto",
    n_jobs: Optional[int] = None,
) -> pd.DataFrame:
    """Run a scaling study.

    Parameters
    ----------
    grid : Grid, or a mapping of axis name -> list of values
        See :mod:`linssl.study.grid` for the axes, their defaults and how values are validated.
    out : path, optional
        Directory for results. Each finished group is written atomically as it completes; a rerun
        with the same grid skips finished groups, so an interrupted study loses nothing. Files
        the study did not write are reported (:class:`StoreError`), never overwritten.
    executor : {"local", "dask"}
        ``"local"`` runs groups in this process (``n_jobs`` at a time); ``"dask"`` spreads groups over a Dask cluster (``client``, or the current default client,
        or a new ``LocalCluster``). Needs the ``dask`` extra.
    seeds : int or sequence of int, optional
        Overrides the ``seed`` axis (an int ``s`` means ``range(s)``).
    progress : bool, default True
        Show a progress bar with ETA.
    client : dask.distributed.Client, optional
        The cluster for ``executor="dask"``, e.g. ``Client("tcp://scheduler:8786")`` for an
        existing one.
    dtype : {None, "float32", "float64"}
        Precision of the products in the moment passes (:func:`linssl.moments`; the solves are
        float64 either way). float32 results are stored as a study of their own: a directory
        holding float64 results is not resumed in float32.
    sampler : {"auto", "rows", "wishart"}
        How training moments are obtained (:data:`linssl.study.cell.SAMPLERS`): ``"wishart"``
        draws them without rows for the synthetic model, at any n in O(d^3); ``"auto"`` (the
        default) does so above :data:`linssl.study.cell.WISHART_ABOVE` samples. Refused up front
        for data sets of real rows. A study whose sampler differs is not resumed from another's
        results.
    n_jobs : int, optional
        Groups evaluated at once by threads of this process (``executor="local"``). The default is
        one per core when every group has ``d <= 1024``: such groups are many short steps
        (sampling, small solves, probes) that leave cores idle, and two running side by side
        keep both busy. Larger groups run one at a time, since the Rust core spreads each over
        every core itself and each running group holds its own d x d moments. ``1`` runs groups
        one after another. While several run, NumPy's BLAS uses one thread per call.

    Returns
    -------
    pandas.DataFrame
        Tidy: one row per configuration x paradigm, with the grid's axes, the metrics of
        :mod:`linssl.study.cell` and timings (the only columns that vary between runs:
        :data:`TIMING_COLUMNS`).

    Examples
    --------
    >>> from linssl.study import sweep
    >>> table = sweep.run({"n": [200], "d": [20], "k": [5], "alpha": [1.0], "gamma_max": [1e3]},
    ...                   seeds=1, progress=False)
    >>> sorted(table["paradigm"].unique())
    ['joint_embedding', 'reconstruction', 'supervised']
    """
    if executor not in ("local", "dask"):
        raise ValueError(f"unknown executor {executor!r}; use 'local' or 'dask'")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1):
        raise ValueError(f"n_jobs must be a positive integer or None; got {n_jobs!r}")
    dtype = _precision(dtype)
    groups, paradigms = expand(grid, seeds=seeds)
    resolved = {resolve_sampler(sampler, config, dtype, augs) for config, augs in groups}  # refuses before any work
    configs = [asdict(config) for config, _ in groups]
    store = None
    finished = {}
    if out is not None:
        study = {"linssl": __version__, "groups": configs, "paradigms": paradigms,
                 "augmentations": [labels for labels, _ in groups[0][1]]}
        if dtype is not None:
            study["dtype"] = dtype.name  # float64 studies keep the manifest they always had
        if sampler != "auto" or "wishart" in resolved:
            study["sampler"] = sampler  # row-sampled studies keep the manifest they always had
        labels = [lab for lab, _ in groups[0][1]]
        label_columns = list(labels[0])
        cells = [(*lab.values(), paradigm) for lab in labels for paradigm in paradigms]
        store = ResultStore(
            out, study, required_columns=list(configs[0]) + ["paradigm", "distance_to_optimality"],
            cells=cells, cell_columns=label_columns + ["paradigm"],
        )
        finished = store.finished(configs)
        if store.repaired:
            listed = "; ".join(f"{path.name}: {why}" for path, why in store.repaired)
            warnings.warn(f"{len(store.repaired)} group file(s) failed verification and are recomputed: {listed}", StoreWarning, stacklevel=2)
    pending = [(i, g) for i, g in enumerate(groups) if group_key(configs[i]) not in finished]
    frames = {group_key(c): finished[group_key(c)] for c in configs if group_key(c) in finished}

    bar = _progress(len(groups), len(groups) - len(pending), enabled=progress)
    try:
        workers = _workers(n_jobs, [config for _, (config, _) in pending])
        for i, frame in _execute(pending, paradigms, executor, client, dtype, sampler, workers):
            key = group_key(configs[i])
            frames[key] = store.write(configs[i], frame) if store is not None else frame
            bar.update(1)
    finally:
        bar.close()
    table = pd.concat([frames[group_key(c)] for c in configs], ignore_index=True)
    if store is not None:
        store.write_table(table)
    return table


def _precision(dtype) -> Optional[np.dtype]:
    """``None`` for the default float64 products, else ``np.dtype("float32")``."""
    if dtype is None:
        return None
    try:
        parsed = np.dtype(dtype)
    except TypeError:
        parsed = None
    if parsed not in (np.float32, np.float64):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    return None if parsed == np.float64 else parsed


#: Largest ``d`` at which ``n_jobs=None`` runs one group per core.
THREADED_UP_TO_D = 1024


def _workers(n_jobs: Optional[int], configs: Sequence[DataConfig]) -> int:
    """How many groups run at once locally (see ``n_jobs`` in :func:`run`)."""
    if n_jobs is None:
        small = all(config.d <= THREADED_UP_TO_D for config in configs)
        n_jobs = usable_cores() if small else 1
    return max(1, min(int(n_jobs), len(configs)))


def _execute(pending, paradigms, executor: str, client, dtype=None, sampler: str = "auto", workers: int = 1):
    """Yield ``(group index, result frame)`` as groups finish."""
    if executor == "dask":
        yield from _execute_dask(pending, paradigms, client, dtype, sampler)
    elif workers == 1:
        for i, (config, augmentations) in pending:
            yield i, _evaluate_group(config, augmentations, paradigms, dtype, sampler)
    else:
        yield from _execute_threads(pending, paradigms, dtype, sampler, workers)


def _execute_threads(pending, paradigms, dtype, sampler: str, workers: int):
    """Groups on ``workers`` threads. NumPy's random fills, its BLAS and the Rust core release the
    GIL, so the threads overlap; one BLAS thread each, as two-thread BLAS calls on a core the other
    group is using run several times slower."""
    with single_threaded_blas(), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="linssl-sweep") as pool:
        futures = {
            pool.submit(_evaluate_group, config, augmentations, paradigms, dtype, sampler): i
            for i, (config, augmentations) in pending
        }
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:  # on an error or an interrupt, start nothing new (running groups finish first)
            for future in futures:
                future.cancel()


def _execute_dask(pending, paradigms, client, dtype=None, sampler: str = "auto"):
    try:
        from dask.distributed import Client, as_completed, default_client
    except ImportError:
        raise ImportError("executor='dask' needs Dask: pip install 'linssl[dask]'") from None
    own_client = None
    if client is None:
        try:
            client = default_client()
        except ValueError:
            own_client = client = Client(processes=True)
    try:
        futures = {}
        for i, (config, augmentations) in pending:
            future = client.submit(_evaluate_group, config, augmentations, paradigms, dtype, sampler, pure=False)
            futures[future] = i
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        if own_client is not None:
            own_client.close()


def _progress(total: int, done: int, *, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="group", desc="linssl sweep", disable=not enabled, dynamic_ncols=True)
