"""One cell of a scaling study: the paper's Appendix C protocol on one data sample.

A :class:`DataConfig` fixes everything that determines the data (data set, dimensions, noise
spectra, seeds, sample size). :func:`evaluate` draws that sample once, computes the moments of its
clean and corrupted versions in one pass each, and then, for every augmentation and paradigm, solves
the clean and corrupted problems (as one batch per paradigm) and measures:

- ``distance_to_optimality``: the paper's metric, ``|probe(clean model) - probe(corrupted model)|``,
  and ``relative_distance``, the same divided by the clean model's probe loss;
- ``subspace_distance``: the corrupted model's row space against the important subspace ``Q_1``;
- ``subspace_distance_to_clean``: the corrupted model against the clean model;
- ``loss``: the corrupted model's optimal objective, and the theory's thresholds and prediction.

Which inputs each model sees: the *clean model* is fitted on the clean training sample, the
*corrupted model* on the same rows with irrelevant noise added, both under the same augmentation.
Each model then encodes a held-out sample of its own kind (clean rows for the clean model, the same
rows with fresh irrelevant noise for the corrupted one); a least-squares probe on one-hot labels is
fitted on the first half of the held-out representations and evaluated on the second half. The
clean model ignores the noise directions, so it would score the same on corrupted inputs; the
corrupted model matches it exactly when it has recovered the important subspace. (Encoding clean
inputs with both models would not work as a metric: on clean data any map whose restriction to the
important subspace is invertible gives the same probe loss.)
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from linssl import augment, theory
from linssl._threads import single_threaded_blas
from linssl.accumulate import moments as data_moments
from linssl.datasets import from_dataset, load_dataset
from linssl.fitting import fit_batch
from linssl.metrics import (
    HeldOutProbe,
    _basis_distance,
    _orthonormal_rows,
    distance_to_optimality,
    representation_map,
)
from linssl.paradigms import canonical_paradigm
from linssl.synthetic import Sample, SignalNoiseModel

__all__ = ["DataConfig", "evaluate", "build_model", "resolve_sampler", "HELD_OUT", "SAMPLERS", "WISHART_ABOVE"]

#: Held-out rows for the probe on synthetic data (half fit the probe, half evaluate it).
HELD_OUT = 4000

#: How a training sample's moments are obtained: ``"rows"`` draws the rows and accumulates their
#: moments; ``"wishart"`` draws the moments directly (the synthetic model only, any n, see
#: :meth:`linssl.SignalNoiseModel.sample_moments`); ``"auto"`` uses ``"wishart"`` for the synthetic
#: model above :data:`WISHART_ABOVE` samples, ``"rows"`` otherwise.
SAMPLERS = ("rows", "wishart", "auto")

#: ``sampler="auto"`` draws moments directly above this many samples (beyond the paper's range, so
#: studies of its sizes are unchanged).
WISHART_ABOVE = 100_000


@dataclass(frozen=True)
class DataConfig:
    """Everything that determines one training sample.

    A frozen (hashable) record: studies group their cells by it, and the models and held-out
    samples it determines are cached on it.

    Parameters
    ----------
    dataset : str
        ``"synthetic"`` (the paper's Section 4.1 model), ``"digits"``, a ``.npz`` path or an IDX directory.
    d, k : int
        Total and important dimensions (for data sets: ``k`` principal components + ``d - k`` noise).
    gamma_max, theta_max : float
        Ranges of the irrelevant-noise and augmentation spectra.
    model_seed : int
        Seed of the model: its spectra (and, for real data, the train/test split and label map).
    seed : int
        Seed of the training and held-out samples drawn from that model.
    n : int
        Training sample size.

    Examples
    --------
    >>> from linssl.study.cell import DataConfig
    >>> config = DataConfig("synthetic", d=10, k=3, gamma_max=1e3, theta_max=1e4, model_seed=0, seed=0, n=200)
    >>> config.n, config.model_key()
    (200, ('synthetic', 10, 3, 1000.0, 10000.0, 0))
    """

    dataset: str
    d: int
    k: int
    gamma_max: float
    theta_max: float
    model_seed: int
    seed: int
    n: int

    def model_key(self) -> tuple:
        """The fields that define the data model (not the sample drawn from it).

        Configurations with the same key share one model, built once (:func:`build_model`).

        Returns
        -------
        tuple
            ``(dataset, d, k, gamma_max, theta_max, model_seed)``.

        Examples
        --------
        >>> from linssl.study.cell import DataConfig
        >>> a = DataConfig("synthetic", d=10, k=3, gamma_max=1e3, theta_max=1e4, model_seed=0, seed=0, n=200)
        >>> b = DataConfig("synthetic", d=10, k=3, gamma_max=1e3, theta_max=1e4, model_seed=0, seed=5, n=9000)
        >>> a.model_key() == b.model_key()                 # other samples of the same model
        True
        """
        return (self.dataset, self.d, self.k, self.gamma_max, self.theta_max, self.model_seed)


@functools.lru_cache(maxsize=8)
def _dataset(name: str):
    return load_dataset(name)


@functools.lru_cache(maxsize=32)
def _model(dataset: str, d: int, k: int, gamma_max: float, theta_max: float, seed: int) -> SignalNoiseModel:
    if not 1 <= k <= d:
        raise ValueError(f"need 1 <= k <= d; got k={k}, d={d}")
    if dataset == "synthetic":
        return SignalNoiseModel.random(k, d, gamma_max=gamma_max, theta_max=theta_max, seed=seed)
    X, y = _dataset(dataset)
    return from_dataset(X, y, n_signal=k, n_noise=d - k, gamma_max=gamma_max, theta_max=theta_max, seed=seed)


def build_model(config: DataConfig) -> SignalNoiseModel:
    """The (cached) data model of a configuration.

    Configurations that differ only in ``seed`` or ``n`` share one model (the cache is keyed by
    :meth:`DataConfig.model_key`), so a study builds each model once.

    Parameters
    ----------
    config : DataConfig

    Returns
    -------
    linssl.SignalNoiseModel
        The synthetic model of Section 4.1, or a data set's model (principal components plus
        added noise coordinates).

    Examples
    --------
    >>> from linssl.study.cell import DataConfig, build_model
    >>> config = DataConfig("synthetic", 10, 3, 1e3, 1e4, model_seed=0, seed=0, n=200)
    >>> model = build_model(config)
    >>> model.d, model.k
    (10, 3)
    >>> build_model(DataConfig("synthetic", 10, 3, 1e3, 1e4, model_seed=0, seed=1, n=500)) is model
    True
    """
    return _model(*config.model_key())


@functools.lru_cache(maxsize=4)
def _held_out_sample(model_key: tuple, seed: int, n: int) -> Sample:
    """The held-out sample of a model and seed, read-only: the same for every n of a study, so drawn once."""
    sample = _model(*model_key).sample(n, seed=seed, split="test")
    for array in (sample.clean, sample.corrupted, sample.labels, sample.index):
        if array is not None:
            array.flags.writeable = False
    return sample


@functools.lru_cache(maxsize=4)
def _held_out_probe(model_key: tuple, seed: int, n: int) -> HeldOutProbe:
    """The probe of :func:`_held_out_sample`, factored once for every model a study fits on it."""
    return HeldOutProbe(_held_out_sample(model_key, seed, n))


def resolve_sampler(sampler: str, config: DataConfig, dtype=None, augmentations: Sequence = ()) -> str:
    """``"rows"`` or ``"wishart"``: how :func:`evaluate` obtains the moments of ``config``'s sample.

    Parameters
    ----------
    sampler : {"rows", "wishart", "auto"}
        See :data:`SAMPLERS`.
    config : DataConfig
    dtype : {None, np.float32, np.float64}
        Precision of row products; float32 applies to rows only.
    augmentations : sequence of (labels, augmentation or None)
        The cells' augmentations: Monte Carlo ones need rows (``None``, the model's own family, and
        closed-form ones do not).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For an unknown sampler, or ``"wishart"`` on a data set of real rows, with float32 products
        or with an augmentation that needs rows.

    Examples
    --------
    >>> config = DataConfig("synthetic", 100, 50, 1e3, 1e4, 0, 0, 10**9)
    >>> resolve_sampler("auto", config)
    'wishart'
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
    synthetic = config.dataset == "synthetic"
    needs_rows = [str(aug) for _, aug in augmentations if aug is not None and not aug.is_closed_form]
    if sampler == "auto":
        fits = synthetic and dtype is None and not needs_rows
        return "wishart" if fits and config.n > WISHART_ABOVE else "rows"
    if sampler == "wishart":
        if needs_rows:
            raise ValueError(
                f"sampler='wishart' gives moments, not rows; the augmentation {needs_rows[0]} is estimated by "
                "Monte Carlo over rows: use sampler='rows' (or 'auto')"
            )
        if not synthetic:
            raise ValueError(
                f"sampler='wishart' draws moments from the Gaussian synthetic model only; data set "
                f"{config.dataset!r} has real rows: use sampler='rows' (or 'auto')"
            )
        if dtype is not None and np.dtype(dtype) == np.float32:
            raise ValueError("dtype='float32' is the precision of products over rows; sampler='wishart' draws none")
    return sampler


def _one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[labels]


def evaluate(
    config: DataConfig,
    augmentations: Sequence[tuple[dict, augment.Augmentation]],
    paradigms: Sequence[str],
    *,
    held_out: Optional[int] = None,
    dtype=None,
    sampler: str = "auto",
) -> pd.DataFrame:
    """Run one data configuration against several augmentations and paradigms.

    Parameters
    ----------
    config : DataConfig
    augmentations : sequence of (labels, augmentation) or (labels, None)
        ``labels`` (e.g. ``{"alpha": 0.1}``) become columns of the result; ``None`` means the
        model's own family ``T(alpha)`` with ``labels["alpha"]``.
    paradigms : sequence of str
        Paradigm names (see :data:`linssl.PARADIGMS`).
    held_out : int, optional
        Held-out sample size for the probe (default :data:`HELD_OUT`, or the whole test pool of a
        real data set).
    dtype : {None, np.float32, np.float64}
        Precision of the products in the moment passes (see :func:`linssl.moments`); the solves
        are float64 either way.
    sampler : {"auto", "rows", "wishart"}
        How the training moments are obtained (:data:`SAMPLERS`); the held-out sample of the
        probe is always drawn as rows.

    Returns
    -------
    pandas.DataFrame
        One row per augmentation x paradigm, with the configuration's fields as columns and the
        ``sampler`` used (``"rows"`` or ``"wishart"``).

    Examples
    --------
    >>> from linssl.study.cell import DataConfig, evaluate
    >>> config = DataConfig("synthetic", 6, 2, 1e3, 1e4, model_seed=0, seed=0, n=200)
    >>> table = evaluate(config, [({"alpha": 1.0}, None)], ["joint_embedding", "reconstruction"], held_out=400)
    >>> table[["alpha", "paradigm", "sampler"]].values.tolist()
    [[1.0, 'joint_embedding', 'rows'], [1.0, 'reconstruction', 'rows']]
    >>> bool((table["distance_to_optimality"] >= 0).all())
    True
    """
    paradigms = [canonical_paradigm(p) for p in paradigms]
    how = resolve_sampler(sampler, config, dtype, augmentations)
    model = build_model(config)
    start = time.perf_counter()
    if how == "wishart":
        drawn = model.sample_moments(config.n, seed=config.seed)
        clean_moments, corrupted_moments = drawn.clean, drawn.corrupted
    else:
        train = model.sample(config.n, seed=config.seed, split="train")
        targets = _one_hot(train.labels, model.n_classes)
        clean_moments = data_moments(train.clean, targets, dtype=dtype)
        corrupted_moments = data_moments(train.corrupted, targets, dtype=dtype)
    pool = getattr(model, "n_test", None)  # real data sets hold out a finite test pool
    n_test = held_out or HELD_OUT if pool is None else min(pool, held_out or pool)
    probe = _held_out_probe(config.model_key(), config.seed, n_test)
    time_moments = time.perf_counter() - start

    specs = [(labels, model.augmentation(labels["alpha"]) if aug is None else aug) for labels, aug in augmentations]
    problems = []  # (augmentation index, "clean"/"corrupted") -> AugmentedMoments
    for _, aug in specs:
        problems.append(aug.moments(clean_moments))
        problems.append(aug.moments(corrupted_moments))

    important = _orthonormal_rows(model.signal_basis.T, "the important subspace")
    thresholds = theory.thresholds(model)
    rows = []
    for paradigm in paradigms:
        start = time.perf_counter()
        fitted = fit_batch(paradigm, problems, n_components=config.k)
        time_solve = time.perf_counter() - start
        for i, (labels, aug) in enumerate(specs):
            clean, corrupted = fitted[2 * i], fitted[2 * i + 1]
            with single_threaded_blas():  # probes and bases of a few thousand x d: faster on one thread
                distance, p_clean, p_corrupted = distance_to_optimality(clean, corrupted, probe, return_losses=True)
                basis = _orthonormal_rows(representation_map(corrupted), "the corrupted model")
                basis_clean = _orthonormal_rows(representation_map(clean), "the clean model")
            alpha = labels.get("alpha")
            rows.append(
                {
                    **asdict(config),
                    **labels,
                    "paradigm": paradigm,
                    "distance_to_optimality": distance,
                    "relative_distance": distance / p_clean,
                    "probe_loss_clean": p_clean,
                    "probe_loss_corrupted": p_corrupted,
                    "subspace_distance": _basis_distance(basis, important),
                    "subspace_distance_to_clean": _basis_distance(basis, basis_clean),
                    "loss": corrupted.loss_,
                    "alpha2_je": thresholds.alpha2_je,
                    "alpha2_rc": thresholds.alpha2_rc,
                    "predicted_optimal": (
                        theory.predicts_optimal(paradigm, model, alpha) if alpha is not None else np.nan
                    ),
                    "sampler": how,
                    "time_moments": time_moments,
                    "time_solve": time_solve,
                }
            )
    return pd.DataFrame(rows)
