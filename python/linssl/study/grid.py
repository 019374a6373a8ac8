"""The grid of a scaling study: its axes, validated once, and its groups.

A grid maps axis names to lists of values; the study is their Cartesian product. :class:`Grid` is
the typed schema every grid passes through, from Python (:func:`linssl.study.sweep.run`) and from
TOML files (:mod:`linssl.study.config`) alike: integers must be integers (``150.7``, ``true`` or
``"3"`` are refused, not truncated; ``1e3`` is accepted as 1000), reals must be finite numbers,
every axis must be non-empty, and unknown axes are errors.

Axes (defaults in brackets):

- ``dataset`` ["synthetic"]: ``"synthetic"``, ``"digits"``, a ``.npz`` path or an MNIST IDX directory;
- ``n`` [1000]: training sample size;  ``d`` [100], ``k`` [50]: dimensions;
- ``gamma_max`` [1e3], ``theta_max`` [1e4]: noise and augmentation spectra;
- ``alpha`` [1.0]: alignment of the paper's augmentation family ``T(alpha)``;
- ``augmentation``: instead of ``alpha``, explicit augmentations (objects, or strings such as
  ``"gaussian:<variance>"``, ``"mask:<p>"``, ``"patch:4:0.75"``, ``"translate:2"``, ``"flip"``,
  ``"a+b"`` to compose, ``"a|b"`` for two views: :mod:`linssl.augment.spelling`);
- ``paradigm`` [all three]: ``"supervised"``, ``"joint_embedding"``, ``"reconstruction"``;
- ``model_seed`` [0]: seed of the model's random spectra (and, for real data, of its split);
- ``seed`` [0]: seeds of the samples: bands over seeds show sampling variability for one model.

Configurations that share data (every axis but ``alpha``, ``augmentation`` and ``paradigm``) form
one *group*: its sample is drawn once and its moments computed in one pass
(:mod:`linssl.study.cell`).
"""

from __future__ import annotations

import itertools
import math
import numbers
from typing import Annotated, Any, Mapping, Optional, Sequence, Union

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator, model_validator

from linssl import augment
from linssl.paradigms import PARADIGMS, canonical_paradigm
from linssl.study.cell import DataConfig

__all__ = ["AXES", "Grid", "expand", "format_errors", "parse_augmentation"]


def _integer(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"must be an integer, not a boolean ({value!r})")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return int(float(value))  # 1e3 in a TOML file means 1000
    raise ValueError(f"must be an integer; got {value!r}")


def _real(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"must be a real number; got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"must be finite; got {value!r}")
    return float(value)


def _at_least(low: float, kind):
    def check(value: Any):
        value = kind(value)
        if value < low:
            raise ValueError(f"must be >= {low:g}; got {value!r}")
        return value

    return check


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string; got {value!r}")
    return value


Count = Annotated[int, BeforeValidator(_at_least(1, _integer))]
Seed = Annotated[int, BeforeValidator(_at_least(0, _integer))]
Variance = Annotated[float, BeforeValidator(_at_least(0.0, _real))]
Name = Annotated[str, BeforeValidator(_string)]


def parse_augmentation(spec) -> augment.Augmentation:
    """An augmentation from an object or a string (:func:`linssl.augment.parse_augmentation`).

    Parameters
    ----------
    spec : linssl augmentation or str
        An augmentation object (returned as is) or its spelling, e.g. ``"mask:0.8"``,
        ``"gaussian:100+mask:0.8"`` (composed) or ``"flip|gaussian:0.1"`` (two views).

    Returns
    -------
    linssl.augment.Augmentation
        The parsed augmentation, or ``spec`` itself when it is already one.

    Raises
    ------
    ValueError
        For an unknown spelling or invalid arguments, listing the valid spellings.

    Examples
    --------
    >>> from linssl.study.grid import parse_augmentation
    >>> parse_augmentation("mask:0.8")
    Mask(p=0.8)
    >>> parse_augmentation("gaussian:100+mask:0.8")
    Compose(stages=(Gaussian(cov=100.0), Mask(p=0.8)))
    """
    return augment.parse_augmentation(spec)


class Grid(BaseModel):
    """A validated study grid: every axis a non-empty list (see the module docstring).

    A single value is taken as a one-element axis. Use :meth:`Grid.of` to validate a mapping with
    errors as one readable ``ValueError`` (the constructor raises pydantic's ``ValidationError``).

    Parameters
    ----------
    dataset : list of str, default ["synthetic"]
        ``"synthetic"``, ``"digits"``, a ``.npz`` path or an MNIST IDX directory.
    d : list of int, default [100]
        Total dimension (>= 1).
    k : list of int, default [50]
        Important dimension (>= 1, at most ``d``).
    gamma_max : list of float, default [1e3]
        Largest eigenvalue of the irrelevant-noise spectrum (>= 0).
    theta_max : list of float, default [1e4]
        Largest eigenvalue of the augmentation spectrum (>= 0).
    model_seed : list of int, default [0]
        Seeds of the model's random spectra (and, for real data, of its split).
    seed : list of int, default [0]
        Seeds of the samples drawn from each model.
    n : list of int, default [1000]
        Training sample sizes (>= 1).
    alpha : list of float, optional
        Alignments of the paper's augmentation family ``T(alpha)``; ``[1.0]`` when neither
        ``alpha`` nor ``augmentation`` is given.
    augmentation : list of (linssl augmentation or str), optional
        Explicit augmentations instead of ``alpha`` (not both); strings are checked on
        validation (:func:`parse_augmentation`).
    paradigm : list of str, default all three
        Paradigm names or aliases, stored in canonical form.

    Examples
    --------
    >>> from linssl.study.grid import Grid
    >>> grid = Grid.of({"n": [100, 1000], "alpha": 0.1, "paradigm": ["je"]}, seeds=2)
    >>> grid.n, grid.alpha, grid.seed, grid.paradigm, grid.d
    ([100, 1000], [0.1], [0, 1], ['joint_embedding'], [100])
    >>> Grid.of({"n": [150.7]})
    Traceback (most recent call last):
    ...
    ValueError: grid.n[0]: must be an integer; got 150.7
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    dataset: list[Name] = ["synthetic"]
    d: list[Count] = [100]
    k: list[Count] = [50]
    gamma_max: list[Variance] = [1e3]
    theta_max: list[Variance] = [1e4]
    model_seed: list[Seed] = [0]
    seed: list[Seed] = [0]
    n: list[Count] = [1000]
    alpha: Optional[list[Variance]] = None
    augmentation: Optional[list[Union[augment.Augmentation, str]]] = None
    paradigm: list[Name] = list(PARADIGMS)

    @model_validator(mode="before")
    @classmethod
    def _as_lists(cls, values: Any) -> Any:
        """A single value is a one-element axis; arrays and tuples are lists."""
        if not isinstance(values, Mapping):
            raise ValueError(f"a grid is a mapping from axis names to lists of values; got {type(values).__name__}")
        out = {}
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                value = [value]
            if len(value) == 0:
                raise ValueError(f"grid axis {name!r} is empty")
            out[name] = list(value)
        if "alpha" in out and "augmentation" in out:
            raise ValueError("give either 'alpha' (the paper's augmentation family) or 'augmentation', not both")
        return out

    @field_validator("paradigm")
    @classmethod
    def _canonical(cls, values: list[str]) -> list[str]:
        return [canonical_paradigm(v) for v in values]

    @field_validator("augmentation")
    @classmethod
    def _parsed(cls, values):
        if values is not None:
            for v in values:
                parse_augmentation(v)  # refuse unknown spellings now, not in the middle of a study
        return values

    @classmethod
    def of(cls, grid: Union["Grid", Mapping], *, seeds=None) -> "Grid":
        """Validate ``grid`` (``seeds``, an int ``s`` for ``range(s)`` or a list, overrides ``seed``).

        Parameters
        ----------
        grid : Grid or mapping
            Axis names to lists of values (a single value is a one-element axis); missing axes
            take their defaults.
        seeds : int or list of int, optional
            Replaces the ``seed`` axis: ``s`` means ``range(s)``.

        Returns
        -------
        Grid

        Raises
        ------
        ValueError
            Naming every invalid entry (axis, position, value and what is expected).

        Examples
        --------
        >>> from linssl.study.grid import Grid
        >>> grid = Grid.of({"n": 100, "paradigm": ["rc"]}, seeds=3)
        >>> grid.n, grid.paradigm, grid.seed, Grid.of(grid, seeds=[7]).seed
        ([100], ['reconstruction'], [0, 1, 2], [7])
        """
        values = dict(grid.model_dump(exclude_none=True)) if isinstance(grid, Grid) else dict(grid)
        if seeds is not None:
            if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
                if seeds < 1:
                    raise ValueError(f"seeds={seeds!r}: give a positive number of seeds, or a list of seeds")
                seeds = list(range(int(seeds)))
            values["seed"] = seeds
        try:
            return cls(**values)
        except ValidationError as err:
            raise ValueError(format_errors(err, "grid")) from None

    def augmentations(self) -> list[tuple[dict, Optional[augment.Augmentation]]]:
        """``(labels, augmentation or None)`` per augmentation cell; ``None`` means ``T(alpha)``.

        Returns
        -------
        list of (dict, linssl augmentation or None)
            One pair per value of the ``augmentation`` axis (its spelling as label, parsed), or
            else of the ``alpha`` axis (default ``[1.0]``), whose augmentation each data model
            builds itself (:meth:`linssl.SignalNoiseModel.augmentation`).

        Examples
        --------
        >>> from linssl.study.grid import Grid
        >>> Grid.of({"alpha": [0.1, 1.0]}).augmentations()
        [({'alpha': 0.1}, None), ({'alpha': 1.0}, None)]
        >>> Grid.of({"augmentation": ["mask:0.8"]}).augmentations()
        [({'augmentation': 'mask:0.8'}, Mask(p=0.8))]
        """
        if self.augmentation is not None:
            return [({"augmentation": str(a)}, parse_augmentation(a)) for a in self.augmentation]
        return [({"alpha": a}, None) for a in (self.alpha if self.alpha is not None else [1.0])]


#: Axes of a grid and their defaults.
AXES = {name: field.default for name, field in Grid.model_fields.items()}

_DATA_AXES = ("dataset", "d", "k", "gamma_max", "theta_max", "model_seed", "seed", "n")


def format_errors(err: ValidationError, where: str, model: type[BaseModel] = Grid) -> str:
    """A pydantic error of ``model`` as one readable clause per problem.

    Parameters
    ----------
    err : pydantic.ValidationError
        Raised by validating ``model`` (or a model nested in it).
    where : str
        Prefix of every location, e.g. ``"grid"`` or ``"study"``.
    model : type of pydantic.BaseModel, default Grid
        The model that was validated: unknown keys are reported with its valid keys (``axis``
        for a :class:`Grid`, ``key`` otherwise).

    Returns
    -------
    str
        ``"; "``-joined clauses ``location: problem``, e.g. ``grid.n[0]: must be an integer; got
        150.7`` or ``grid.dimension: unknown axis (valid: d, k, ...)``.

    Examples
    --------
    >>> from pydantic import ValidationError
    >>> from linssl.study.grid import Grid, format_errors
    >>> try:
    ...     Grid(n=[150.7], dimension=[3])
    ... except ValidationError as err:
    ...     print(format_errors(err, "grid"))
    grid.n[0]: must be an integer; got 150.7; grid.dimension: unknown axis (valid: dataset, d, k, ...)
    """
    lines = []
    for e in err.errors():
        path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            parent = _model_at(model, e["loc"][:-1])
            what = "axis" if parent is Grid else "key"
            valid = ", ".join(parent.model_fields) if parent is not None else ""
            message = f"unknown {what} (valid: {valid})"
        lines.append(f"{path}: {message}")
    return "; ".join(lines)


def _model_at(model: type[BaseModel], loc: tuple) -> Optional[type[BaseModel]]:
    """The (nested) model at ``loc``, or None when ``loc`` leads elsewhere."""
    for part in loc:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


#: Largest number of data configurations a grid may expand to: each is a sample to draw, a pass of
#: moments and a file of results; split a larger study into several.
MAX_GROUPS = 100_000


def expand(grid: Union[Grid, Mapping], *, seeds=None) -> tuple[list[tuple[DataConfig, list]], list[str]]:
    """The groups of a grid (configurations that share data) and its paradigms.

    Parameters
    ----------
    grid : Grid, or a mapping of axis name -> list of values
        Validated with :meth:`Grid.of`.
    seeds : int or sequence of int, optional
        Overrides the ``seed`` axis (an int ``s`` means ``range(s)``).

    Returns
    -------
    groups : list of (DataConfig, list of (dict, augmentation or None))
        One entry per data configuration, in grid order, with the augmentation cells evaluated
        on its sample: ``(labels, augmentation)``, or ``(labels, None)`` for ``T(alpha)``.
    paradigms : list of str
        Canonical paradigm names.

    Raises
    ------
    ValueError
        For an invalid grid, or one of more than :data:`MAX_GROUPS` data configurations.

    Examples
    --------
    >>> from linssl.study.grid import expand
    >>> groups, paradigms = expand({"d": [6], "k": [2], "n": [100, 1000], "alpha": [0.1, 10.0]}, seeds=2)
    >>> len(groups), paradigms
    (4, ['supervised', 'joint_embedding', 'reconstruction'])
    >>> config, cells = groups[0]
    >>> config.n, config.seed, cells
    (100, 0, [({'alpha': 0.1}, None), ({'alpha': 10.0}, None)])
    """
    grid = Grid.of(grid, seeds=seeds)
    count = math.prod(len(getattr(grid, a)) for a in _DATA_AXES)
    if count > MAX_GROUPS:
        sizes = " x ".join(f"{len(getattr(grid, a))} {a}" for a in _DATA_AXES if len(getattr(grid, a)) > 1)
        raise ValueError(
            f"the grid expands to {count:,} data configurations ({sizes}), more than {MAX_GROUPS:,}: split the "
            "study into several (e.g. one per dataset or noise level), each with its own output directory"
        )
    augmentations = grid.augmentations()
    groups = [
        (DataConfig(*values), augmentations) for values in itertools.product(*(getattr(grid, a) for a in _DATA_AXES))
    ]
    return groups, list(grid.paradigm)
