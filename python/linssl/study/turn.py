"""Where finite-n behaviour turns into the n -> infinity one: studies of n from 1e2 to 1e9 near a threshold.

At finite n the signal-noise cross terms ``X^T N / n`` (size ``sqrt(s lambda / n)``) move the
optimal models; theory (:mod:`linssl.theory`) speaks of ``n -> inf`` only. :func:`turn_grid` puts
the synthetic model's cells just below and above a paradigm's critical alignment on a grid of n
far beyond any data set (moments drawn without rows above :data:`linssl.study.cell.WISHART_ABOVE`
samples), :func:`limits` computes theory's ``n -> inf`` value of each metric from the population
solutions, and :func:`turn_points` the n at which each curve comes within 10 % of it.
"""

from __future__ import annotations

from typing import Optional, Sequence, cast

import numpy as np
import pandas as pd

from linssl import theory
from linssl.metrics import _basis_distance, _orthonormal_rows, distance_to_optimality, representation_map
from linssl.study.cell import HELD_OUT, DataConfig, _held_out_sample, build_model

__all__ = ["turn_grid", "near_threshold", "limits", "turn_points", "WITHIN"]

#: A curve has turned when it stays within this fraction of its limit (see :func:`turn_points`).
WITHIN = 0.1

_METRICS = ("distance_to_optimality", "subspace_distance")


def _sizes(lo: float, hi: float, count: int) -> list[int]:
    return sorted({int(round(v)) for v in np.geomspace(lo, hi, count)})


def turn_grid(
    *,
    quick: bool = False,
    gamma_max: float = 1e6,
    margin: float = 0.1,
    paradigms: Sequence[str] = ("joint_embedding", "reconstruction"),
    d: int = 100,
    k: int = 50,
    theta_max: float = 1e4,
    n_max: Optional[float] = None,
) -> dict:
    """A grid over n of the synthetic model at ``(1 -/+ margin)`` times each paradigm's critical alignment.

    Every paradigm is solved at every alignment (they share the samples);
    :func:`near_threshold` keeps each paradigm's own cells.

    Parameters
    ----------
    quick : bool
        n from 1e2 to 1e8 on 7 sizes and 2 seeds (else to 1e9 on 15 sizes, 3 seeds).
    gamma_max : float, default 1e6
        Noise magnitude (strong by default: reconstruction's threshold is then far above 1).
    margin : float, default 0.1
        Relative distance of the two alignments from the critical one.
    paradigms : sequence of str
        Paradigms with a threshold (joint embedding, reconstruction).
    d, k, theta_max : int, int, float
        The model (paper.md, Appendix C).
    n_max : float, optional
        Largest n (overrides ``quick``'s).

    Returns
    -------
    dict
        A :func:`linssl.study.sweep.run` grid.

    Examples
    --------
    >>> grid = turn_grid(quick=True)
    >>> grid["paradigm"], max(grid["n"]), len(grid["alpha"])
    (['joint_embedding', 'reconstruction'], 100000000, 4)
    """
    if not 0 < margin < 1:
        raise ValueError(f"margin must be in (0, 1); got {margin}")
    model = build_model(DataConfig("synthetic", d, k, gamma_max, theta_max, 0, 0, 1))
    top = n_max or (1e8 if quick else 1e9)
    alphas = []
    for paradigm in paradigms:
        alpha_c = theory.critical_alignment(model, paradigm)
        if alpha_c == 0:
            raise ValueError(f"{paradigm} needs no alignment on this model (any alpha works): no threshold to straddle")
        alphas += [alpha_c * (1 - margin), alpha_c * (1 + margin)]
    return {
        "dataset": ["synthetic"], "d": [d], "k": [k], "gamma_max": [gamma_max], "theta_max": [theta_max],
        "alpha": sorted(alphas), "n": _sizes(1e2, top, 7 if quick else 15),
        "seed": list(range(2 if quick else 3)), "paradigm": list(paradigms),
    }


def near_threshold(df: pd.DataFrame, *, margin: float = 0.1) -> pd.DataFrame:
    """The rows of a :func:`turn_grid` table whose alpha is within ``margin`` of their own paradigm's threshold.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table with ``paradigm``, ``alpha``, ``alpha2_je`` and ``alpha2_rc``.
    margin : float, default 0.1

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> df = pd.DataFrame({"paradigm": ["reconstruction", "joint_embedding"], "alpha": [0.9, 0.9],
    ...                    "alpha2_je": [4.0, 4.0], "alpha2_rc": [1.0, 1.0]})
    >>> near_threshold(df)["paradigm"].tolist()
    ['reconstruction']
    """
    column = df["paradigm"].map({"joint_embedding": "alpha2_je", "reconstruction": "alpha2_rc"})
    keep = column.notna()
    critical = np.sqrt(np.clip([df.at[i, c] if isinstance(c, str) else np.nan for i, c in column.items()], 0, None))
    keep &= np.abs(df["alpha"].to_numpy() - critical) <= margin * critical * (1 + 1e-6)
    return df[keep.to_numpy()].reset_index(drop=True)


def limits(df: pd.DataFrame, *, held_out: int = HELD_OUT) -> pd.DataFrame:
    """Theory's ``n -> inf`` value of the distance to optimality and the subspace distance per cell.

    The population solutions (:func:`linssl.theory.population_solution`) of the clean and the
    corrupted model are scored as the sweep scores finite-n models: the same held-out rows (seed
    0), the same probe.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table on the synthetic model (columns of :class:`linssl.study.cell.DataConfig`,
        ``alpha`` and ``paradigm``).
    held_out : int
        Held-out rows of the probe.

    Returns
    -------
    pandas.DataFrame
        One row per (model fields, paradigm, alpha) with ``distance_to_optimality``,
        ``subspace_distance`` and ``critical_alpha``.

    Examples
    --------
    >>> df = pd.DataFrame([dict(dataset="synthetic", d=20, k=10, gamma_max=1e6, theta_max=1e4, model_seed=0,
    ...                         paradigm="reconstruction", alpha=a) for a in (1.0, 100.0)])
    >>> limits(df, held_out=200)["subspace_distance"].round(6).tolist()
    [1.0, 0.0]
    """
    keys = ["dataset", "d", "k", "gamma_max", "theta_max", "model_seed", "paradigm", "alpha"]
    rows = []
    critical: dict = {}
    for key, _ in df.groupby(keys):
        dataset, d, k, gamma_max, theta_max, model_seed, paradigm, alpha = cast(tuple, key)
        config = DataConfig(dataset, int(d), int(k), float(gamma_max), float(theta_max), int(model_seed), 0, 1)
        model = build_model(config)
        test = _held_out_sample(config.model_key(), 0, held_out)
        clean = theory.population_solution(paradigm, model, alpha, corrupted=False)
        corrupted = theory.population_solution(paradigm, model, alpha, corrupted=True)
        important = _orthonormal_rows(model.signal_basis.T, "the important subspace")
        if (config.model_key(), paradigm) not in critical:  # one search per model and paradigm
            critical[(config.model_key(), paradigm)] = theory.critical_alignment(model, paradigm)
        rows.append(
            dict(zip(keys, key))
            | {
                "distance_to_optimality": distance_to_optimality(clean, corrupted, test),
                "subspace_distance": _basis_distance(
                    _orthonormal_rows(representation_map(corrupted), "the corrupted model"), important
                ),
                "critical_alpha": critical[(config.model_key(), paradigm)],
            }
        )
    return pd.DataFrame(rows)


def turn_points(df: pd.DataFrame, limit: pd.DataFrame, *, within: float = WITHIN) -> pd.DataFrame:
    """The n from which each curve (median over seeds) stays within ``within`` of its limit.

    "Within" means ``|median(n) - limit| <= within * |limit|``; for a zero limit (the metric goes
    to 0) it means ``median(n) <= within * median(n_min)``, the curve having fallen to a tenth of
    its value at the smallest n.

    Parameters
    ----------
    df : pandas.DataFrame
        The sweep table.
    limit : pandas.DataFrame
        :func:`limits` of it.
    within : float, default 0.1

    Returns
    -------
    pandas.DataFrame
        One row per paradigm x alpha x metric: ``limit``, the medians at the smallest and largest
        n, and ``n_within`` (NaN when the curve has not turned by the largest n).

    Examples
    --------
    >>> df = pd.DataFrame([dict(paradigm="reconstruction", alpha=2.0, n=n, distance_to_optimality=1 / n,
    ...                         subspace_distance=1 / n) for n in (10, 100, 1000)])
    >>> lim = pd.DataFrame([dict(paradigm="reconstruction", alpha=2.0, distance_to_optimality=0.0,
    ...                          subspace_distance=0.0, critical_alpha=1.0)])
    >>> turn_points(df, lim)["n_within"].tolist()
    [100.0, 100.0]
    """
    rows = []
    for (paradigm, alpha), cell in df.groupby(["paradigm", "alpha"]):
        lim = limit[(limit["paradigm"] == paradigm) & (limit["alpha"] == alpha)].iloc[0]
        for metric in _METRICS:
            median = cell.groupby("n")[metric].median()
            target = float(lim[metric])
            tolerance = within * abs(target) if target != 0 else within * float(median.iloc[0])
            close = (median - target).abs() <= tolerance
            # The first n from which every larger n is close.
            later_all_close = close[::-1].cummin()[::-1]
            n_within = float(later_all_close.index[later_all_close.to_numpy()].min()) if later_all_close.any() else np.nan
            rows.append(
                {
                    "paradigm": paradigm, "alpha": alpha, "critical_alpha": float(lim["critical_alpha"]),
                    "side": "above" if alpha > lim["critical_alpha"] else "below", "metric": metric,
                    "limit": target, "at_n_min": float(median.iloc[0]), "at_n_max": float(median.iloc[-1]),
                    "n_within": n_within,
                }
            )
    return pd.DataFrame(rows)
