"""The paper's linear experiment (its Section 5.1 and Appendix C), end to end.

:func:`paper_grid` builds the study's grid for a data set, :func:`summarize` turns a sweep table
into the claims table (distance to optimality at the smallest and largest n, the trend, theory's
prediction and the paper's claim for that cell), and :func:`reproduce` runs everything and writes
the table, the CSV files and the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, cast

import numpy as np
import pandas as pd

from linssl.paradigms import PARADIGMS
from linssl.study import plots, sweep, turn as turn_study
from linssl.study.cell import DataConfig, build_model
from linssl.study.store import write_atomic

__all__ = ["paper_grid", "phase_grid", "summarize", "reproduce", "paper_claim", "Reproduction"]

ALPHAS = [0.1, 1.0, 10.0]
NOISE_LEVELS = [1e3, 1e6]  # weak and strong irrelevant features (paper.md)
THETA_MAX = 1e4

# How the distance to optimality behaves from the smallest to the largest n (medians over seeds):
OPTIMAL = 1e-3  # "optimal": relative distance at the largest n below this (distance / clean probe loss)
IMPROVES = 0.1  # "improves": fell by at least 10x
FLAT = 0.5  # "flat": fell by less than 2x (or grew); in between: "slowly"


def _sizes(lo: int, hi: int, count: int) -> list[int]:
    return sorted({int(round(v)) for v in np.geomspace(lo, hi, count)})


def paper_grid(dataset: str, *, quick: bool = False, max_train: Optional[int] = None) -> dict:
    """The Appendix C grid: 3 paradigms x 2 noise levels x 3 alphas x sample sizes x seeds.

    Synthetic data use the paper's d = 100, k = 50 and n up to 5e4. Real data sets use
    ``k = 20`` principal components plus 20 noise coordinates when they have few features (the
    64-pixel digits: its 20 leading components carry ~90 % of the variance, as MNIST's 50 do
    of MNIST's, and the later ones are below the augmentation spectrum's scale), else the
    paper's 50 + 50; n runs up to the size of the training pool.

    Parameters
    ----------
    dataset : str
        ``"synthetic"``, ``"digits"`` or a data set path (see :func:`linssl.datasets.load_dataset`).
    quick : bool, default False
        Fewer sample sizes (and n up to 5e3 on synthetic data) and 2 seeds instead of 3.
    max_train : int, optional
        Rows in a real data set's training pool: the largest n (default 1000). Ignored for
        synthetic data.

    Returns
    -------
    dict
        A grid for :func:`linssl.study.sweep.run`: axis name -> list of values.

    Examples
    --------
    >>> from linssl.study.reproduce import paper_grid
    >>> grid = paper_grid("synthetic", quick=True)
    >>> grid["d"], grid["k"], grid["gamma_max"], grid["alpha"]
    ([100], [50], [1000.0, 1000000.0], [0.1, 1.0, 10.0])
    >>> grid["n"], grid["seed"]
    ([100, 266, 707, 1880, 5000], [0, 1])
    >>> paper_grid("digits", quick=True, max_train=1437)["n"]
    [100, 243, 591, 1437]
    """
    if dataset == "synthetic":
        n = _sizes(100, 5_000 if quick else 50_000, 5 if quick else 10)
        d, k = 100, 50
    else:
        top = max_train or 1_000
        n = _sizes(100, top, 4 if quick else 8)
        d, k = (40, 20) if dataset == "digits" else (100, 50)
    return {
        "dataset": [dataset],
        "d": [d],
        "k": [k],
        "gamma_max": NOISE_LEVELS,
        "theta_max": [THETA_MAX],
        "alpha": ALPHAS,
        "n": n,
        "seed": list(range(2 if quick else 3)),
        "paradigm": list(PARADIGMS),
    }


def phase_grid(*, quick: bool = False) -> dict:
    """A (noise magnitude x alignment) grid at large n on the synthetic model, for the phase diagram.

    Parameters
    ----------
    quick : bool, default False
        A coarser grid (6 noise levels x 8 alignments at n = 5000 instead of 11 x 14 at n = 20000).

    Returns
    -------
    dict
        A grid for :func:`linssl.study.sweep.run` over ``gamma_max`` (1e1 to 1e6) and ``alpha``
        (0.05 to 30), log-spaced, for joint embedding and reconstruction, one seed; its table is
        what :func:`linssl.study.plots.phase_diagram` draws.

    Examples
    --------
    >>> from linssl.study.reproduce import phase_grid
    >>> grid = phase_grid(quick=True)
    >>> len(grid["gamma_max"]), len(grid["alpha"]), grid["n"], grid["paradigm"]
    (6, 8, [5000], ['joint_embedding', 'reconstruction'])
    """
    return {
        "dataset": ["synthetic"],
        "d": [100],
        "k": [50],
        "gamma_max": list(np.geomspace(1e1, 1e6, 6 if quick else 11)),
        "theta_max": [THETA_MAX],
        "alpha": list(np.geomspace(0.05, 30, 8 if quick else 14)),
        "n": [5_000 if quick else 20_000],
        "seed": [0],
        "paradigm": ["joint_embedding", "reconstruction"],
    }


def paper_claim(paradigm: str, gamma_max: float, alpha: float) -> str:
    """What the paper's Figure 3 reports for a cell (paper.md, "Reported shape").

    Parameters
    ----------
    paradigm : str
        Canonical paradigm name (``"supervised"``, ``"joint_embedding"`` or ``"reconstruction"``).
    gamma_max : float
        Noise level: strong from 1e5 on (the paper's 1e6), weak below (its 1e3).
    alpha : float
        Alignment of the augmentation ``T(alpha)``.

    Returns
    -------
    str
        ``"improves"``: the distance goes down with n (towards 0); ``"flat"``: it does not
        improve and stays far from optimal; ``"slowly"``: it improves, but slowly
        (reconstruction, strong noise, alpha 10).

    Examples
    --------
    >>> from linssl.study.reproduce import paper_claim
    >>> paper_claim("supervised", 1e6, 0.1)
    'improves'
    >>> paper_claim("joint_embedding", 1e3, 0.1)
    'flat'
    >>> paper_claim("reconstruction", 1e6, 10.0), paper_claim("reconstruction", 1e6, 1.0)
    ('slowly', 'flat')
    """
    strong = gamma_max >= 1e5
    if paradigm == "joint_embedding" and alpha < 0.5:
        return "flat"
    if paradigm == "reconstruction" and strong:
        return "slowly" if alpha >= 5 else "flat"
    return "improves"


def observed_trend(first: float, last: float, relative_last: float) -> str:
    """Classify a curve: ``"optimal"``, ``"improves"``, ``"slowly"`` or ``"flat"`` (see the constants)."""
    if relative_last < OPTIMAL:
        return "optimal"
    ratio = last / first if first > 0 else np.inf
    if ratio <= IMPROVES:
        return "improves"
    return "flat" if ratio >= FLAT else "slowly"


# Observations consistent with each claim. A curve already at optimality is consistent with
# "improves" (the paper's "goes to ~0"), not with "flat" or "slowly" (both say: still far).
_CONSISTENT = {"improves": {"optimal", "improves", "slowly"}, "flat": {"flat"}, "slowly": {"slowly", "improves"}}


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """The claims table of a paper-grid sweep.

    Parameters
    ----------
    df : pandas.DataFrame
        A :func:`linssl.study.sweep.run` table over ``alpha`` (not explicit augmentations) with
        columns ``dataset``, ``paradigm``, ``gamma_max``, ``alpha``, ``n``,
        ``distance_to_optimality``, ``relative_distance`` and ``predicted_optimal``; at least two
        sample sizes for a trend.

    Returns
    -------
    pandas.DataFrame
        One row per dataset x paradigm x noise level x alpha: the median distance to optimality at
        the smallest and largest n, the observed trend, theory's ``n -> inf`` prediction, the
        paper's claim and whether the observation agrees with it.

    Examples
    --------
    >>> from linssl.study import sweep
    >>> from linssl.study.reproduce import summarize
    >>> table = sweep.run({"d": [6], "k": [2], "n": [100, 400], "alpha": [0.1, 10.0],
    ...                    "paradigm": ["joint_embedding"]}, progress=False)
    >>> summary = summarize(table)
    >>> list(summary.columns[:8])
    ['dataset', 'paradigm', 'noise', 'alpha', 'n_min', 'n_max', 'distance_n_min', 'distance_n_max']
    >>> list(summary.columns[8:])
    ['trend', 'theory_optimal', 'paper', 'agrees']
    >>> summary[["paradigm", "noise", "alpha", "n_max", "paper"]].values.tolist()
    [['joint_embedding', 'weak', 0.1, 400, 'flat'], ['joint_embedding', 'weak', 10.0, 400, 'improves']]
    """
    rows = []
    for key, cell in df.groupby(["dataset", "paradigm", "gamma_max", "alpha"]):
        dataset, paradigm, gamma_max, alpha = cast(tuple[str, str, float, float], key)
        by_n = cell.groupby("n")[["distance_to_optimality", "relative_distance"]].median()
        first, last = by_n["distance_to_optimality"].iloc[[0, -1]]
        trend = observed_trend(first, last, by_n["relative_distance"].iloc[-1])
        claim = paper_claim(paradigm, gamma_max, alpha)
        rows.append(
            {
                "dataset": dataset,
                "paradigm": paradigm,
                "noise": "weak" if gamma_max < 1e5 else "strong",
                "alpha": alpha,
                "n_min": int(by_n.index[0]),
                "n_max": int(by_n.index[-1]),
                "distance_n_min": first,
                "distance_n_max": last,
                "trend": trend,
                "theory_optimal": bool(cell["predicted_optimal"].astype(bool).all()),
                "paper": claim,
                "agrees": trend in _CONSISTENT[claim],
            }
        )
    table = pd.DataFrame(rows)
    table["_m"] = table["paradigm"].map({m: i for i, m in enumerate(PARADIGMS)})
    table["_noise"] = table["noise"].map({"weak": 0, "strong": 1})
    return table.sort_values(["dataset", "_m", "_noise", "alpha"]).drop(columns=["_m", "_noise"]).reset_index(drop=True)


@dataclass
class Reproduction:
    """What :func:`reproduce` produced.

    Parameters
    ----------
    results : pandas.DataFrame
        The sweep tables of every data set, concatenated (also written as ``results.csv``).
    summary : pandas.DataFrame
        Their claims table (:func:`summarize`; ``summary.csv``).
    files : list of Path
        Every file written: figures and CSV tables.
    turn : pandas.DataFrame, optional
        The turn points near the thresholds (:func:`linssl.study.turn.turn_points`; ``turn.csv``),
        or None when the turn study did not run.

    Examples
    --------
    >>> import pandas as pd
    >>> from linssl.study.reproduce import Reproduction
    >>> done = Reproduction(results=pd.DataFrame({"n": [100]}), summary=pd.DataFrame(), files=[])
    >>> len(done.results), done.turn is None
    (1, True)
    """

    results: pd.DataFrame
    summary: pd.DataFrame
    files: list
    turn: Optional[pd.DataFrame] = None


def reproduce(datasets=("digits", "synthetic"), *, out="linssl-results", quick: bool = False, progress: bool = True,
              phase: bool = True, turn: bool = True, sampler: str = "auto") -> Reproduction:
    """Run the paper's linear experiment and write tables and figures to ``out``.

    Parameters
    ----------
    datasets : sequence of str
        ``"digits"``, ``"synthetic"`` or paths (see :func:`linssl.datasets.load_dataset`).
    out : path
        Output directory: one resumable study per data set (``out/<name>[-quick]/``), the CSV files
        ``results.csv`` and ``summary.csv``, and figures ``figure3_<name>.png/.pdf`` and
        ``phase_diagram.png/.pdf``.
    quick : bool
        A smaller grid (fewer sizes and seeds) that runs in seconds.
    progress : bool, default True
        Show a progress bar per study.
    phase : bool
        Also sweep (noise x alpha) on the synthetic model and draw the phase diagram.
    turn : bool, default True
        When ``datasets`` includes ``"synthetic"``, also sweep n up to 1e8 (1e9 without ``quick``)
        near each paradigm's threshold, and write ``turn.csv`` and the ``turn`` figure
        (:mod:`linssl.study.turn`).
    sampler : {"auto", "rows", "wishart"}
        How the data sets' training moments are obtained (:data:`linssl.study.cell.SAMPLERS`).

    Returns
    -------
    Reproduction
        The tables in memory and the list of files written; the file names carry a ``-quick``
        suffix when ``quick``.

    Examples
    --------
    The quick grid on the digits data set alone, without the phase and turn studies:

    >>> import tempfile
    >>> from linssl.study.reproduce import reproduce
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     done = reproduce(["digits"], out=tmp, quick=True, phase=False, turn=False, progress=False)
    ...     sorted(path.name for path in done.files)
    ['figure3_digits-quick.pdf', 'figure3_digits-quick.png', 'results-quick.csv', 'summary-quick.csv']
    >>> len(done.summary), sorted(done.summary["paradigm"].unique()), done.turn is None
    (18, ['joint_embedding', 'reconstruction', 'supervised'], True)
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if quick else ""
    tables, files = [], []
    for dataset in datasets:
        max_train = None
        if dataset != "synthetic":
            grid0 = paper_grid(dataset, quick=quick)
            probe = build_model(DataConfig(dataset, grid0["d"][0], grid0["k"][0], NOISE_LEVELS[0], THETA_MAX, 0, 0, 1))
            max_train = getattr(probe, "n_train")  # a DatasetModel: rows in its train pool
        grid = paper_grid(dataset, quick=quick, max_train=max_train)
        name = Path(dataset).stem if dataset not in ("digits", "synthetic") else dataset
        table = sweep.run(grid, out=out / f"{name}{suffix}", progress=progress, sampler=sampler)
        tables.append(table)
        fig = plots.distance_to_optimality_figure(table, title=f"Distance to optimality: {name} (d = {grid['d'][0]}, k = {grid['k'][0]})")
        files += plots.save_figure(fig, out / f"figure3_{name}{suffix}")
    results = pd.concat(tables, ignore_index=True)
    summary = summarize(results)
    if phase:
        table = sweep.run(phase_grid(quick=quick), out=out / f"phase{suffix}", progress=progress)
        files += plots.save_figure(plots.phase_diagram(table), out / f"phase_diagram{suffix}")
    turns = None
    frames = [(results, "results"), (summary, "summary")]
    if turn and "synthetic" in datasets:
        table = sweep.run(turn_study.turn_grid(quick=quick), out=out / f"turn{suffix}", progress=progress)
        table = turn_study.near_threshold(table)
        limit = turn_study.limits(table)
        turns = turn_study.turn_points(table, limit)
        fig = plots.turn_figure(table, limit, turns, title="Finite n to n -> inf near the thresholds (synthetic, strong noise)")
        files += plots.save_figure(fig, out / f"turn{suffix}")
        frames.append((turns, "turn"))
    for frame, stem in frames:
        path = out / f"{stem}{suffix}.csv"
        write_atomic(path, frame.to_csv(index=False).encode())
        files.append(path)
    return Reproduction(results=results, summary=summary, files=files, turn=turns)
