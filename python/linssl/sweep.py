"""Scaling studies: grids over data, noise, alignment and method, run locally or on Dask.

A grid is a mapping from axis names to lists of values; the study is their Cartesian product.
Configurations that share data (same data set, dimensions, spectra, seeds and n) form one *group*:
the group's sample is drawn once, its moments are computed in one pass, and all its augmentations x
methods are solved as batches (see :mod:`linssl.experiment`). Groups are independent and seeded by
their own fields, so results do not depend on the number of workers or the order they finish in.

Axes (defaults in brackets):

- ``dataset`` ["synthetic"]: ``"synthetic"``, ``"digits"``, a ``.npz`` path or an MNIST IDX directory;
- ``n`` [1000]: training sample size;  ``d`` [100], ``k`` [50]: dimensions;
- ``gamma_max`` [1e3], ``theta_max`` [1e4]: noise and augmentation spectra;
- ``alpha`` [1.0]: alignment of the paper's augmentation family ``T(alpha)``;
- ``augmentation``: instead of ``alpha``, explicit augmentations (objects, or strings
  ``"gaussian:<variance>"`` / ``"mask:<keep probability>"``);
- ``method`` [all three]: ``"supervised"``, ``"joint_embedding"``, ``"reconstruction"``;
- ``model_seed`` [0]: seed of the model's random spectra (and, for real data, of its split);
- ``seed`` [0]: seeds of the samples: bands over seeds show sampling variability for one model.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

import linssl
from linssl import augment, theory
from linssl._store import ResultStore, StoreError, group_key
from linssl.experiment import DataConfig, evaluate

__all__ = ["run", "expand", "parse_augmentation", "AXES", "StoreError", "TIMING_COLUMNS"]

#: Axes of a grid and their defaults.
AXES = {
    "dataset": ["synthetic"],
    "d": [100],
    "k": [50],
    "gamma_max": [1e3],
    "theta_max": [1e4],
    "model_seed": [0],
    "seed": [0],
    "n": [1000],
    "alpha": [1.0],
    "augmentation": None,
    "method": list(theory.METHODS),
}
_DATA_AXES = ("dataset", "d", "k", "gamma_max", "theta_max", "model_seed", "seed", "n")
_CASTS = {
    "dataset": str, "d": int, "k": int, "gamma_max": float, "theta_max": float,
    "model_seed": int, "seed": int, "n": int, "alpha": float,
}

#: Columns that measure time; every other column is deterministic given the grid.
TIMING_COLUMNS = ("time_moments", "time_solve")


def parse_augmentation(spec) -> augment.Augmentation:
    """An augmentation from an object or a string ``"gaussian:<variance>"`` / ``"mask:<p>"``."""
    if isinstance(spec, augment.Augmentation):
        return spec
    kind, _, value = str(spec).partition(":")
    try:
        number = float(value)
    except ValueError:
        number = None
    if kind == "gaussian" and number is not None:
        return augment.Gaussian(number)
    if kind == "mask" and number is not None:
        return augment.Mask(number)
    raise ValueError(f"unknown augmentation {spec!r}; use 'gaussian:<variance>' or 'mask:<keep probability>'")


def _axis_values(grid: Mapping, seeds) -> dict:
    unknown = sorted(set(grid) - set(AXES))
    if unknown:
        raise ValueError(f"unknown grid axes {unknown}; valid axes are {sorted(AXES)}")
    if "alpha" in grid and "augmentation" in grid:
        raise ValueError("give either 'alpha' (the paper's augmentation family) or 'augmentation', not both")
    axes = {}
    for name, default in AXES.items():
        values = grid.get(name, default)
        if values is None:
            continue
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = [values]
        if len(values) == 0:
            raise ValueError(f"grid axis {name!r} is empty")
        axes[name] = [_CASTS[name](v) if name in _CASTS else v for v in values]
    if seeds is not None:
        axes["seed"] = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if "augmentation" in axes:
        axes.pop("alpha")
    axes["method"] = [theory.canonical_method(m) for m in axes["method"]]
    return axes


def expand(grid: Mapping, *, seeds=None) -> list[tuple[DataConfig, list]]:
    """The groups of a grid: ``(DataConfig, [(labels, augmentation or None), ...])`` in grid order."""
    axes = _axis_values(grid, seeds)
    if "augmentation" in axes:
        augmentations = [({"augmentation": str(a)}, parse_augmentation(a)) for a in axes["augmentation"]]
    else:
        augmentations = [({"alpha": a}, None) for a in axes["alpha"]]
    groups = []
    for values in itertools.product(*(axes[a] for a in _DATA_AXES)):
        groups.append((DataConfig(*values), augmentations))
    return groups, axes["method"]


def _evaluate_group(config: DataConfig, augmentations, methods, dtype=None) -> pd.DataFrame:
    return evaluate(config, augmentations, methods, dtype=dtype)


def run(
    grid: Mapping,
    *,
    out=None,
    executor: str = "local",
    seeds: Union[int, Sequence[int], None] = None,
    progress: bool = True,
    client=None,
    dtype=None,
) -> pd.DataFrame:
    """Run a scaling study.

    Parameters
    ----------
    grid : mapping of axis name -> list of values
        See the module docstring for the axes and their defaults.
    out : path, optional
        Directory for results. Each finished group is written atomically as it completes; a rerun
        with the same grid skips finished groups, so an interrupted study loses nothing. Files
        the study did not write are reported (:class:`StoreError`), never overwritten.
    executor : {"local", "dask"}
        ``"local"`` runs groups in this process (the Rust core uses all cores inside each group);
        ``"dask"`` spreads groups over a Dask cluster (``client``, or the current default client,
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

    Returns
    -------
    pandas.DataFrame
        Tidy: one row per configuration x method, with the grid's axes, the metrics of
        :mod:`linssl.experiment` and timings (the only columns that vary between runs:
        :data:`TIMING_COLUMNS`).
    """
    dtype = _precision(dtype)
    groups, methods = expand(grid, seeds=seeds)
    configs = [asdict(config) for config, _ in groups]
    store = None
    finished = {}
    if out is not None:
        study = {"linssl": linssl.__version__, "groups": configs, "methods": methods,
                 "augmentations": [labels for labels, _ in groups[0][1]]}
        if dtype is not None:
            study["dtype"] = dtype.name  # float64 studies keep the manifest they always had
        store = ResultStore(out, study, required_columns=list(configs[0]) + ["method", "distance_to_optimality"])
        finished = store.finished(configs)
    pending = [(i, g) for i, g in enumerate(groups) if group_key(configs[i]) not in finished]
    frames = {group_key(c): finished[group_key(c)] for c in configs if group_key(c) in finished}

    bar = _progress(len(groups), len(groups) - len(pending), enabled=progress)
    try:
        for i, frame in _execute(pending, methods, executor, client, dtype):
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


def _execute(pending, methods, executor: str, client, dtype=None):
    """Yield ``(group index, result frame)`` as groups finish."""
    if executor == "local":
        for i, (config, augmentations) in pending:
            yield i, _evaluate_group(config, augmentations, methods, dtype)
    elif executor == "dask":
        yield from _execute_dask(pending, methods, client, dtype)
    else:
        raise ValueError(f"unknown executor {executor!r}; use 'local' or 'dask'")


def _execute_dask(pending, methods, client, dtype=None):
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
            future = client.submit(_evaluate_group, config, augmentations, methods, dtype, pure=False)
            futures[future] = i
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        if own_client is not None:
            own_client.close()


def _progress(total: int, done: int, *, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="group", desc="linssl sweep", disable=not enabled, dynamic_ncols=True)
