"""Study descriptions in TOML for ``linssl sweep`` (see ``examples/sweep.toml``).

Format::

    [grid]                      # axes of linssl.sweep.run; each a list (or a single value)
    dataset = ["synthetic"]
    n = [100, 1000, 10000]
    alpha = [0.1, 1.0, 10.0]    # or: augmentation = ["gaussian:100", "mask:0.8"]
    gamma_max = [1e3, 1e6]
    method = ["supervised", "joint_embedding", "reconstruction"]
    seed = [0, 1, 2]

    [output]
    dir = "my-study"            # results directory (resumable), default: the file's name
    figure = true               # also draw the distance-to-optimality figure

    [run]
    executor = "local"          # or "dask"
    dtype = "float64"           # or "float32": products in float32 (solves stay float64)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from linssl.sweep import AXES

__all__ = ["Study", "load_study"]


@dataclass(frozen=True)
class Study:
    """A parsed study file."""

    grid: dict
    out: Path
    executor: str = "local"
    figure: bool = True
    dtype: Optional[str] = None


def load_study(path) -> Study:
    """Parse a study TOML file; unknown sections, keys and axes are errors (typos must not pass)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"not valid TOML: {err}") from None
    unknown = sorted(set(raw) - {"grid", "output", "run"})
    if unknown:
        raise ValueError(f"unknown sections {unknown}; use [grid], [output] and [run]")
    grid = raw.get("grid")
    if not grid:
        raise ValueError("the [grid] section is missing or empty")
    bad_axes = sorted(set(grid) - set(AXES))
    if bad_axes:
        raise ValueError(f"unknown grid axes {bad_axes}; valid axes are {sorted(AXES)}")
    output = raw.get("output", {})
    run = raw.get("run", {})
    for section, allowed, values in (("output", {"dir", "figure"}, output), ("run", {"executor", "dtype"}, run)):
        extra = sorted(set(values) - allowed)
        if extra:
            raise ValueError(f"unknown keys {extra} in [{section}]; allowed: {sorted(allowed)}")
    out = Path(output.get("dir", path.with_suffix("").name + "-results"))
    if not out.is_absolute():
        out = path.parent / out
    return Study(
        grid=grid,
        out=out,
        executor=run.get("executor", "local"),
        figure=bool(output.get("figure", True)),
        dtype=run.get("dtype"),
    )
