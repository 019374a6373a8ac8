"""Study descriptions in TOML for ``linssl sweep`` (see ``examples/sweep.toml``), with a typed schema.

Format::

    [grid]                      # axes of linssl.study.sweep.run; each a list (or a single value)
    dataset = ["synthetic"]
    n = [100, 1000, 10000]
    alpha = [0.1, 1.0, 10.0]    # or: augmentation = ["gaussian:100", "mask:0.8"]
    gamma_max = [1e3, 1e6]
    paradigm = ["supervised", "joint_embedding", "reconstruction"]
    seed = [0, 1, 2]

    [output]
    dir = "my-study"            # results directory (resumable), default: the file's name
    figure = true               # also draw the distance-to-optimality figure

    [run]
    executor = "local"          # or "dask"
    dtype = "float64"           # or "float32": products in float32 (solves stay float64)
    sampler = "auto"            # or "rows", "wishart": moments drawn without rows (synthetic model, any n)
    n_jobs = 2                  # groups at once on local threads (default: one per core for d <= 1024)

The file is validated as a whole when it is loaded (:class:`StudyFile`): unknown sections and keys
are errors, booleans must be ``true`` / ``false`` (not ``"no"``), and the grid follows
:class:`linssl.study.grid.Grid` (integers must be integers, reals finite numbers).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, StrictInt, StrictStr, ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from linssl.study.grid import Grid, format_errors

__all__ = ["Output", "Run", "StudyFile", "load_study"]


class Output(BaseModel):
    """The ``[output]`` section.

    Parameters
    ----------
    dir : str, optional
        Results directory, relative to the study file; default ``<file name>-results``
        (:attr:`StudyFile.out`).
    figure : bool, default True
        Also draw the distance-to-optimality figure. Strictly a boolean: ``"no"`` or ``0`` is an
        error, not a silent ``False``.

    Examples
    --------
    >>> from pydantic import ValidationError
    >>> from linssl.study.config import Output
    >>> from linssl.study.grid import format_errors
    >>> Output(dir="my-study")
    Output(dir='my-study', figure=True)
    >>> try:
    ...     Output(figure="no")
    ... except ValidationError as err:
    ...     print(format_errors(err, "output", Output))
    output.figure: Input should be a valid boolean
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dir: Optional[StrictStr] = None
    figure: StrictBool = True


class Run(BaseModel):
    """The ``[run]`` section: how :func:`linssl.study.sweep.run` executes the grid.

    Parameters
    ----------
    executor : {"local", "dask"}, default "local"
        Run groups in this process, or spread them over a Dask cluster.
    dtype : {None, "float32", "float64"}, default None
        Precision of the products in the moment passes (the solves stay float64); ``None`` is
        float64.
    sampler : {"auto", "rows", "wishart"}, default "auto"
        How training moments are obtained (:data:`linssl.study.cell.SAMPLERS`).
    n_jobs : int, optional
        Groups evaluated at once by local threads (``n_jobs`` of :func:`linssl.study.sweep.run`).

    Examples
    --------
    >>> from linssl.study.config import Run
    >>> Run()
    Run(executor='local', dtype=None, sampler='auto', n_jobs=None)
    >>> Run(dtype="float32").dtype
    'float32'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    executor: Literal["local", "dask"] = "local"
    dtype: Optional[Literal["float32", "float64"]] = None
    sampler: Literal["auto", "rows", "wishart"] = "auto"
    n_jobs: Optional[Annotated[StrictInt, Field(ge=1)]] = None


class StudyFile(BaseModel):
    """A whole study file, validated.

    Usually obtained from :func:`load_study`, which also records the file's path; validating a
    mapping directly gives the same checks (unknown sections and keys are errors).

    Parameters
    ----------
    grid : Grid
        The ``[grid]`` section.
    output : Output, optional
        The ``[output]`` section (its defaults when absent).
    run : Run, optional
        The ``[run]`` section (its defaults when absent).

    Attributes
    ----------
    path : Path
        The file it was read from (``study.toml`` when not read from a file); ``out`` resolves
        ``output.dir`` against its directory.

    Examples
    --------
    >>> from linssl.study.config import StudyFile
    >>> study = StudyFile.model_validate({"grid": {"n": [100, 1000]}, "output": {"dir": "runs"}})
    >>> study.grid.n, study.run.executor, study.out.as_posix()
    ([100, 1000], 'local', 'runs')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    grid: Grid
    output: Output = Output()
    run: Run = Run()
    _path: Path = PrivateAttr(default=Path("study.toml"))

    @property
    def path(self) -> Path:
        """The study file this was read from (relative paths in it are relative to its folder)."""
        return self._path

    @property
    def out(self) -> Path:
        """The results directory: ``[output] dir`` relative to the file, or ``<file name>-results``."""
        out = Path(self.output.dir) if self.output.dir is not None else Path(self.path.with_suffix("").name + "-results")
        return out if out.is_absolute() else self.path.parent / out


def load_study(path) -> StudyFile:
    """Read and validate a study TOML file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    StudyFile

    Raises
    ------
    ValueError
        Not TOML, or not a valid study: the message names every invalid entry (section, key,
        position, value) and what is expected.

    Examples
    --------
    >>> import os, tempfile
    >>> from linssl.study.config import load_study
    >>> path = os.path.join(tempfile.mkdtemp(), "study.toml")
    >>> with open(path, "w") as f:
    ...     _ = f.write('[grid]\\nn = [100, 1000]\\nalpha = [0.1, 10.0]\\n')
    >>> load_study(path).grid.n
    [100, 1000]
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"not valid TOML: {err}") from None
    if "grid" not in raw or not raw["grid"]:
        raise ValueError("the [grid] section is missing or empty")
    try:
        study = StudyFile.model_validate(raw)
    except ValidationError as err:
        raise ValueError(format_errors(err, "study", StudyFile)) from None
    study._path = path
    return study
