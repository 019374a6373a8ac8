"""Seeds and random generators, accepted the same way everywhere (SPEC 7).

Every linssl argument that takes a seed (``seed=``, ``rng=``) accepts an integer, ``None``, a
:class:`numpy.random.SeedSequence` or a :class:`numpy.random.Generator`. Where one seed feeds
several independent random streams (the train and test draws of a data model, its spectra, its
label map), each purpose gets a stream of its own, so the same seed never makes two of them share
randomness.
"""

from __future__ import annotations

import numbers
from typing import Union

import numpy as np

__all__ = ["SeedLike", "as_generator", "seed_sequence", "stream"]

#: What a seed argument accepts.
SeedLike = Union[None, int, np.integer, np.random.SeedSequence, np.random.Generator]


def as_generator(seed: SeedLike) -> np.random.Generator:
    """A generator from a seed: a :class:`~numpy.random.Generator` is used as it is.

    Parameters
    ----------
    seed : int, None, SeedSequence or Generator

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError
        For anything else (a float, a string, a legacy ``RandomState``).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(_checked(seed))


def seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """The root :class:`~numpy.random.SeedSequence` of a seed (a generator is drawn from once)."""
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    checked = _checked(seed)
    return checked if isinstance(checked, np.random.SeedSequence) else np.random.SeedSequence(checked)


def stream(seed: SeedLike, purpose: int) -> np.random.Generator:
    """The independent stream ``purpose`` (a small integer) of ``seed``.

    An integer seed gives ``default_rng([seed, purpose])``: reproducible, and the same for every
    call. A generator gives a child stream spawned from it (its state advances, as a generator's
    does when it is used); a ``SeedSequence`` a child keyed by ``purpose``.
    """
    if isinstance(seed, np.random.Generator):
        return seed.spawn(1)[0]
    checked = _checked(seed)
    if isinstance(checked, np.random.SeedSequence):
        return np.random.default_rng(np.random.SeedSequence(checked.entropy, spawn_key=(*checked.spawn_key, purpose)))
    if checked is None:
        return np.random.default_rng()
    return np.random.default_rng([checked, purpose])


def _checked(seed: SeedLike) -> Union[None, int, np.random.SeedSequence]:
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.random.Generator)) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"seed must be an int, None, a numpy.random.SeedSequence or a numpy.random.Generator; got {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed}")
    return int(seed)
