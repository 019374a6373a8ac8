"""The paper's Appendix C study written the way one would without linssl: one loop, one cell at a time.

For every configuration x alignment x paradigm (and seed), :func:`run` samples the training and
held-out data from the same data model and sampler as :func:`linssl.study.sweep.run`, computes the moments
of the clean and corrupted samples with NumPy (:mod:`linssl.bench.reference`), solves the closed forms with
NumPy/SciPy and measures the same metric, the distance to optimality (paper.md, Appendix C). Nothing
is shared between cells: each one redraws its data and recomputes its moments.

It is the baseline of the sweep benchmark (``linssl bench``, ``benchmarks/bench_sweep.py``) and an
independent check of the sweep: both produce the same distances to rounding.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Mapping

import numpy as np
import pandas as pd

from linssl.augment import Gaussian
from linssl.bench import reference as ref
from linssl.metrics import probe_loss
from linssl.study.cell import HELD_OUT, build_model
from linssl.study.grid import expand

__all__ = ["run", "cell"]


def _moments(X: np.ndarray, augmentation, Y: np.ndarray) -> ref.Moments:
    # The clean rows vanish on the noise block, so masks (which keep zeros at zero) leave S
    # singular there: the studies use additive Gaussian augmentations only.
    if not isinstance(augmentation, Gaussian) or hasattr(augmentation.cov, "factor"):
        raise TypeError(f"the reference study supports Gaussian augmentations with a dense covariance; got {augmentation!r}")
    return ref.gaussian_moments(X, augmentation.cov, Y)


def _downstream_loss(paradigm: str, m: ref.Moments, k: int, X_test: np.ndarray, labels: np.ndarray) -> float:
    """Fit ``paradigm`` on moments ``m`` and score it on the held-out rows (first half fits the probe)."""
    half = len(labels) // 2
    if paradigm == "supervised":
        V = ref.supervised(m.S, m.B).V  # (classes, d): its outputs are the class scores
        Y = np.eye(V.shape[0])[labels[half:]]
        return float(np.mean(np.sum((Y - X_test[half:] @ V.T) ** 2, axis=1)))
    if paradigm == "joint_embedding":
        W = ref.joint_embedding(m.S, m.G, k, solver="eigh").W
    else:
        W = ref.reconstruction(m.S, m.C, m.trace_xx, k, solver="svd").E
    Z = X_test @ W.T
    return probe_loss(Z[:half], labels[:half], Z[half:], labels[half:])


def cell(config, augmentation, paradigm: str) -> dict:
    """One cell of the study, from scratch.

    Parameters
    ----------
    config : linssl.study.cell.DataConfig
    augmentation : linssl.Gaussian
    paradigm : {"supervised", "joint_embedding", "reconstruction"}

    Returns
    -------
    dict
        ``distance_to_optimality``, ``probe_loss_clean``, ``probe_loss_corrupted`` (floats).
    """
    model = build_model(config)
    train = model.sample(config.n, seed=config.seed, split="train")
    pool = getattr(model, "n_test", None)
    test = model.sample(HELD_OUT if pool is None else pool, seed=config.seed, split="test")
    Y = np.eye(model.n_classes)[train.labels]
    losses = [
        _downstream_loss(paradigm, _moments(X, augmentation, Y), config.k, X_test, test.labels)
        for X, X_test in ((train.clean, test.clean), (train.corrupted, test.corrupted))
    ]
    return {"distance_to_optimality": abs(losses[0] - losses[1]), "probe_loss_clean": losses[0], "probe_loss_corrupted": losses[1]}


def run(grid: Mapping, *, seeds=None) -> pd.DataFrame:
    """The study of a grid (the axes of :mod:`linssl.study.grid`), one cell at a time.

    Returns
    -------
    pandas.DataFrame
        One row per configuration x augmentation x paradigm, in the order of :func:`linssl.study.sweep.run`,
        with the grid's axes and the columns of :func:`cell`.
    """
    groups, paradigms = expand(grid, seeds=seeds)
    rows = []
    for config, augmentations in groups:
        for paradigm in paradigms:
            for labels, augmentation in augmentations:
                if augmentation is None:
                    augmentation = build_model(config).augmentation(labels["alpha"])
                rows.append({**asdict(config), **labels, "paradigm": paradigm, **cell(config, augmentation, paradigm)})
    return pd.DataFrame(rows)
