"""How the data models draw: one random stream per purpose, and the :class:`Sample` they return.

Shared by :mod:`linssl.synthetic` and :mod:`linssl.datasets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from linssl._random import SeedLike, stream

__all__ = ["STREAMS", "Sample", "fixed_seed", "purpose_stream", "random_rotation", "sample_size", "split_stream"]

# Independent random streams are derived from (seed, purpose): the same user seed never makes the
# train and test draws, the model's spectra or the label map share randomness.
STREAMS = {"train": 1, "test": 2, "labels": 3, "model": 4, "split": 5, "moments": 6, "label_pool": 7}


def purpose_stream(seed: SeedLike, purpose: str) -> np.random.Generator:
    """The generator of ``seed`` for one purpose of :data:`STREAMS` (``"train"``, ``"model"``, ...)."""
    return stream(seed, STREAMS[purpose])


def fixed_seed(seed: SeedLike) -> SeedLike:
    """An integer drawn from a generator, so a model built from it stays reproducible (its label
    map and every stream are then derived from that integer); other seeds are returned as they are."""
    return int(seed.integers(2**63)) if isinstance(seed, np.random.Generator) else seed


def split_stream(seed, split: str) -> np.random.Generator:
    """The generator of the ``"train"`` or ``"test"`` draw; anything else is a ValueError."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    return purpose_stream(seed, split)


def random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed random orthogonal matrix, shape (d, d), float64."""
    # QR of a Gaussian matrix with the sign fix that makes the result Haar-distributed.
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@dataclass(frozen=True, eq=False)
class Sample:
    """One draw from a data model, as returned by :meth:`SignalNoiseModel.sample`.

    The clean and corrupted rows are the same draws, with and without the irrelevant features,
    so a model trained on each can be compared (the paper's distance to optimality).

    Parameters
    ----------
    clean : ndarray, shape (n, d), float64
        The important features only.
    corrupted : ndarray, shape (n, d), float64
        ``clean + gamma`` with ``gamma ~ N(0, Gamma)`` (irrelevant features added).
    labels : ndarray, shape (n,), int64
        Classes of the downstream task, in ``0 .. n_classes - 1``.
    index : ndarray, shape (n,), int64, optional
        For models built from a data set, the rows of the source data that were drawn; None
        otherwise.

    Attributes
    ----------
    n : int
        Number of samples (rows).

    Examples
    --------
    With the identity basis, the signal lives in the first ``k = 2`` coordinates and the
    irrelevant features in the other ``d - k = 3``:

    >>> import numpy as np, linssl
    >>> model = linssl.SignalNoiseModel.random(k=2, d=5, seed=0)
    >>> data = model.sample(n=6, seed=1)
    >>> data.n, data.clean.shape, data.corrupted.shape, data.labels.shape, data.index
    (6, (6, 5), (6, 5), (6,), None)
    >>> bool(np.allclose(data.clean[:, 2:], 0.0))              # no signal off Q_1
    True
    >>> bool(np.allclose((data.corrupted - data.clean)[:, :2], 0.0))   # no noise on Q_1
    True
    >>> bool(np.all((data.labels >= 0) & (data.labels < model.n_classes)))
    True
    """

    clean: np.ndarray
    corrupted: np.ndarray
    labels: np.ndarray
    index: Optional[np.ndarray] = None

    @property
    def n(self) -> int:
        """Number of samples (rows)."""
        return self.clean.shape[0]


def sample_size(n) -> int:
    """``n`` as an int, checked to be a positive integer number of samples."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer number of samples; got {n!r}")
    return int(n)
