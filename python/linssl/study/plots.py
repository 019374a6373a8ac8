"""Publication figures from sweep tables (matplotlib; PNG and PDF).

- :func:`distance_to_optimality_figure`: the paper's Figure 3 layout.
- :func:`phase_diagram`: the (noise magnitude, alignment) plane coloured by which paradigms are
  optimal, with the analytic thresholds of :mod:`linssl.theory` drawn over it.
- :func:`turn_figure`: the metrics against n up to 1e9 near a threshold, with theory's
  ``n -> inf`` limits and where each curve reaches them (:mod:`linssl.study.turn`).

Both draw into axes the caller passes (``ax=``) or into a new :class:`matplotlib.figure.Figure`
created without pyplot, so they never switch the user's matplotlib backend or touch pyplot's
figure list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from linssl.paradigms import PARADIGMS, TITLES
from linssl.study.store import write_atomic

__all__ = ["distance_to_optimality_figure", "phase_diagram", "save_figure", "turn_figure"]

#: Distances are plotted on a log axis; exact zeros are drawn at this floor.
_FLOOR = 1e-16


def _axes_grid(ax, rows: int, cols: int, figsize):
    """``(figure, axes (rows, cols))``: the caller's axes, checked, or a new pyplot-free figure."""
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="tight")
        return fig, np.asarray(fig.subplots(rows, cols, squeeze=False, sharex=True))
    axes = np.asarray(ax, dtype=object).reshape(-1)
    if axes.size != rows * cols:
        raise ValueError(f"ax must hold {rows} x {cols} axes (noise levels x paradigms); got {axes.size}")
    return axes[0].figure, axes.reshape(rows, cols)


def _noise_label(gamma_max: float, levels: Sequence[float]) -> str:
    name = ""
    if len(levels) == 2:
        name = "weak noise, " if gamma_max == min(levels) else "strong noise, "
    return f"{name}$\\lambda^\\Gamma_{{max}}$ = {gamma_max:.0e}"


def distance_to_optimality_figure(
    df: pd.DataFrame,
    *,
    hue: Optional[str] = None,
    title: Optional[str] = None,
    ax=None,
):
    """The paper's Figure 3: distance to optimality against n, per paradigm and noise level.

    Parameters
    ----------
    df : pandas.DataFrame
        A :func:`linssl.study.sweep.run` table with columns ``paradigm``, ``gamma_max``, ``n``, ``seed``,
        ``distance_to_optimality`` and ``alpha`` (or the column named by ``hue``).
    hue : str, optional
        Column with one line per value; ``"alpha"`` by default (``"augmentation"`` when there is no alpha).
    title : str, optional
        Figure title (none by default).
    ax : array of matplotlib Axes, shape (noise levels, paradigms), optional
        Axes to draw into (a new figure by default).

    Returns
    -------
    matplotlib.figure.Figure
        Columns Supervised / Joint-Embedding / Reconstruction, rows by ``gamma_max`` (weak on top),
        log-log axes, the median over seeds as a line and the min-max range over seeds as a band.
        Exact zeros are drawn at 1e-16.

    Examples
    --------
    >>> import pandas as pd
    >>> from linssl.study.plots import distance_to_optimality_figure
    >>> rows = [dict(paradigm=p, gamma_max=g, n=n, seed=0, alpha=a, distance_to_optimality=1 / n)
    ...         for p in ("joint_embedding", "reconstruction") for g in (1e3, 1e6)
    ...         for a in (0.1, 10.0) for n in (10, 100)]
    >>> fig = distance_to_optimality_figure(pd.DataFrame(rows))
    >>> len(fig.axes), [ax.get_title() for ax in fig.axes[:2]]
    (4, ['Joint-Embedding', 'Reconstruction'])
    >>> fig.axes[-1].get_xlabel(), fig.axes[-1].get_xscale()
    ('n (training samples)', 'log')
    """
    from matplotlib import colormaps

    hue = hue or ("alpha" if "alpha" in df.columns else "augmentation")
    missing = {"paradigm", "gamma_max", "n", "distance_to_optimality", hue} - set(df.columns)
    if missing:
        raise ValueError(f"the table lacks the columns {sorted(missing)}; pass a linssl.study.sweep.run result")
    paradigms = [m for m in PARADIGMS if m in set(df["paradigm"])]
    levels = sorted(df["gamma_max"].unique())
    hues = sorted(df[hue].unique(), key=lambda v: (isinstance(v, str), v))
    colors = colormaps["viridis"](np.linspace(0.1, 0.85, max(len(hues), 2)))
    fig, axes = _axes_grid(ax, len(levels), len(paradigms), (3.6 * len(paradigms), 2.9 * len(levels)))
    for r, level in enumerate(levels):
        for c, paradigm in enumerate(paradigms):
            ax = axes[r, c]
            cell = df[(df["gamma_max"] == level) & (df["paradigm"] == paradigm)]
            for color, value in zip(colors, hues):
                line = cell[cell[hue] == value]
                if line.empty:
                    continue
                stats = line.groupby("n")["distance_to_optimality"].agg(["median", "min", "max"]).clip(lower=_FLOOR)
                label = f"$\\alpha$ = {value:g}" if hue == "alpha" else str(value)
                ax.plot(stats.index, stats["median"], "o-", color=color, lw=1.6, ms=3.5, label=label)
                ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.2, lw=0)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
            if r == 0:
                ax.set_title(TITLES[paradigm])
            if r == len(levels) - 1:
                ax.set_xlabel("n (training samples)")
            if c == 0:
                ax.set_ylabel(f"distance to optimality\n{_noise_label(level, levels)}", fontsize=9)
    axes[0, -1].legend(fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def phase_diagram(
    df: pd.DataFrame,
    *,
    tolerance: float = 1e-3,
    title: Optional[str] = None,
    ax=None,
    models: Optional[Mapping[float, object]] = None,
):
    """Which paradigms are optimal, over (noise magnitude, alignment).

    Parameters
    ----------
    df : pandas.DataFrame
        A :func:`linssl.study.sweep.run` table over ``gamma_max`` x ``alpha`` (any ``n``; the largest is
        used) with columns ``paradigm``, ``relative_distance``, ``alpha2_je``, ``alpha2_rc``.
    tolerance : float, default 1e-3
        A paradigm counts as optimal in a cell when its median ``relative_distance`` (distance to
        optimality over the clean model's probe loss) across seeds is below this. (The subspace
        distance is a poor criterion at finite n: a noise direction with a small eigengap tilts the
        subspace visibly while changing the downstream probe by a negligible amount.)
    title : str, optional
        Axes title; by default it names the sample size shown.
    ax : matplotlib Axes, optional
        Axes to draw into (a new figure by default).
    models : mapping of gamma_max -> linssl.SignalNoiseModel, optional
        The model behind each noise level. When given, the boundaries are
        :func:`linssl.theory.critical_alignment` of each model (valid for any eigenbases of
        ``Gamma`` and ``Theta``) instead of the shared-basis thresholds in the table.

    Returns
    -------
    matplotlib.figure.Figure
        Cells coloured by {neither, joint embedding only, reconstruction only, both}; the analytic
        boundaries ``alpha = sqrt(alpha2_JE)`` and ``sqrt(alpha2_RC)`` (median over seeds), or the
        critical alignments of ``models``, drawn as lines.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [dict(paradigm=p, gamma_max=g, alpha=a, relative_distance=0.0, alpha2_je=0.25, alpha2_rc=1.0, n=10)
    ...         for p in ("joint_embedding", "reconstruction") for g in (1.0, 10.0) for a in (0.1, 1.0)]
    >>> len(phase_diagram(pd.DataFrame(rows)).axes)
    1
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    needed = {"paradigm", "gamma_max", "alpha", "relative_distance", "alpha2_je", "alpha2_rc", "n"}
    missing = needed - set(df.columns)
    if missing:
        raise ValueError(f"the table lacks the columns {sorted(missing)}; sweep over gamma_max and alpha first")
    df = df[df["n"] == df["n"].max()]
    levels = np.array(sorted(df["gamma_max"].unique()), dtype=float)
    alphas = np.array(sorted(df["alpha"].unique()), dtype=float)
    if len(levels) < 2 or len(alphas) < 2 or np.any(levels <= 0) or np.any(alphas <= 0):
        raise ValueError("the phase diagram needs at least two positive gamma_max and two positive alpha values")
    med = df.groupby(["paradigm", "gamma_max", "alpha"])["relative_distance"].median()

    def optimal(paradigm):
        grid = np.zeros((len(alphas), len(levels)), dtype=bool)
        for i, a in enumerate(alphas):
            for j, g in enumerate(levels):
                grid[i, j] = med.get((paradigm, g, a), np.inf) < tolerance
        return grid

    code = optimal("joint_embedding").astype(int) + 2 * optimal("reconstruction").astype(int)
    colors = ["#f2f0f7", "#9ecae1", "#fdae6b", "#74c476"]
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.2, 4.2), layout="tight")
        ax = fig.subplots()
    else:
        fig = ax.figure
    ax.pcolormesh(_edges(levels), _edges(alphas), code, cmap=ListedColormap(colors), vmin=-0.5, vmax=3.5)
    thresholds = df.groupby("gamma_max")[["alpha2_je", "alpha2_rc"]].median()
    if models is not None:
        from linssl import theory

        missing_levels = [g for g in thresholds.index if g not in models]
        if missing_levels:
            raise ValueError(f"models has no model for gamma_max = {missing_levels}; give one per noise level")
        for g in thresholds.index:
            for column, paradigm in (("alpha2_je", "joint_embedding"), ("alpha2_rc", "reconstruction")):
                thresholds.loc[g, column] = theory.critical_alignment(models[g], paradigm) ** 2
    fine = np.geomspace(levels[0], levels[-1], 200)
    for column, style, label in (("alpha2_je", "-", "theory: joint embedding"), ("alpha2_rc", "--", "theory: reconstruction")):
        boundary = np.sqrt(np.clip(thresholds[column].to_numpy(), 0, None))
        boundary = np.interp(np.log(fine), np.log(thresholds.index.to_numpy(float)), boundary)
        ax.plot(fine, np.clip(boundary, alphas[0] / 2, None), style, color="black", lw=1.8, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(_edges(alphas)[0], _edges(alphas)[-1])
    ax.set_xlim(_edges(levels)[0], _edges(levels)[-1])
    ax.set_xlabel("irrelevant-noise magnitude $\\lambda^\\Gamma_{max}$")
    ax.set_ylabel("alignment $\\alpha$")
    legend = [Patch(color=c, label=l) for c, l in zip(colors, ["neither", "joint embedding only", "reconstruction only", "both"])]
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=legend + handles, fontsize=7, loc="upper left", framealpha=0.9)
    n = int(df["n"].max())
    ax.set_title(title or f"Optimal paradigms at n = {n:,} (supervised: everywhere)", fontsize=10)
    return fig


def turn_figure(df: pd.DataFrame, limit: pd.DataFrame, turns: pd.DataFrame, *, title: Optional[str] = None, ax=None):
    """Distance to optimality and subspace distance against n, near each paradigm's threshold.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep table over n (:func:`linssl.study.turn.turn_grid`), columns ``paradigm``, ``alpha``,
        ``n``, ``distance_to_optimality``, ``subspace_distance``.
    limit : pandas.DataFrame
        :func:`linssl.study.turn.limits` of it (``paradigm``, ``alpha``, the metrics, ``critical_alpha``).
    turns : pandas.DataFrame
        :func:`linssl.study.turn.turn_points` (``paradigm``, ``alpha``, ``metric``, ``n_within``).
    title : str, optional
    ax : array of matplotlib Axes, shape (paradigms, 2), optional

    Returns
    -------
    matplotlib.figure.Figure
        One row per paradigm, columns distance to optimality / subspace distance; per alpha the
        median over seeds (line) and min-max band, theory's n -> inf value (dashed; a zero limit is
        not drawn on the log axis) and the n from which the curve stays within 10 % of it (dotted).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame([dict(paradigm="reconstruction", alpha=a, n=n, seed=0, distance_to_optimality=1 / n,
    ...                         subspace_distance=1 / n) for a in (1.0, 2.0) for n in (10, 100)])
    >>> lim = pd.DataFrame([dict(paradigm="reconstruction", alpha=a, distance_to_optimality=0.0,
    ...                          subspace_distance=0.0, critical_alpha=1.5) for a in (1.0, 2.0)])
    >>> turns = pd.DataFrame([dict(paradigm="reconstruction", alpha=a, metric=m, n_within=100.0)
    ...                       for a in (1.0, 2.0) for m in ("distance_to_optimality", "subspace_distance")])
    >>> len(turn_figure(df, lim, turns).axes)
    2
    """
    from matplotlib import colormaps

    metrics = ("distance_to_optimality", "subspace_distance")
    paradigms = [m for m in PARADIGMS if m in set(df["paradigm"])]
    fig, axes = _axes_grid(ax, len(paradigms), 2, (8.0, 3.0 * len(paradigms)))
    for r, paradigm in enumerate(paradigms):
        cell = df[df["paradigm"] == paradigm]
        alphas = sorted(cell["alpha"].unique())
        colors = colormaps["coolwarm"](np.linspace(0.1, 0.9, max(len(alphas), 2)))
        for c, metric in enumerate(metrics):
            ax = axes[r, c]
            for color, alpha in zip(colors, alphas):
                line = cell[cell["alpha"] == alpha]
                stats = line.groupby("n")[metric].agg(["median", "min", "max"]).clip(lower=_FLOOR)
                lim = limit[(limit["paradigm"] == paradigm) & (limit["alpha"] == alpha)]
                crit = float(lim["critical_alpha"].iloc[0]) if len(lim) else np.nan
                side = "below" if alpha < crit else "above"
                ax.plot(stats.index, stats["median"], "o-", color=color, lw=1.6, ms=3,
                        label=f"$\\alpha$ = {alpha:.3g} ({side} {crit:.3g})")
                ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.2, lw=0)
                if len(lim) and float(lim[metric].iloc[0]) > _FLOOR:
                    ax.axhline(float(lim[metric].iloc[0]), color=color, ls="--", lw=1.2)
                turn = turns[(turns["paradigm"] == paradigm) & (turns["alpha"] == alpha) & (turns["metric"] == metric)]
                if len(turn) and np.isfinite(turn["n_within"].iloc[0]):
                    ax.axvline(float(turn["n_within"].iloc[0]), color=color, ls=":", lw=1.2)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
            if r == 0:
                ax.set_title(metric.replace("_", " ") + ("\n(dashed: n -> inf; dotted: within 10 %)" if c == 0 else ""),
                             fontsize=9)
            if r == len(paradigms) - 1:
                ax.set_xlabel("n (training samples)")
            if c == 0:
                ax.set_ylabel(TITLES[paradigm])
        axes[r, 1].legend(fontsize=7, frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges on a log scale around sorted positive centres."""
    logc = np.log(centres)
    mid = (logc[1:] + logc[:-1]) / 2
    return np.exp(np.concatenate([[2 * logc[0] - mid[0]], mid, [2 * logc[-1] - mid[-1]]]))


def save_figure(fig, stem, *, formats: Sequence[str] = ("png", "pdf"), dpi: int = 200) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf``, each written atomically.

    Each file is rendered in memory and then written with :func:`linssl.study.store.write_atomic`,
    so an interrupted save leaves no partial figure under the final name.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save (pyplot's or not).
    stem : str or Path
        Path without the extension; its directory must exist.
    formats : sequence of str, default ("png", "pdf")
        File formats (extensions) matplotlib can write.
    dpi : int, default 200
        Resolution of raster formats.

    Returns
    -------
    list of Path
        The files written, one per format.

    Raises
    ------
    linssl.study.store.StoreWriteError
        A file cannot be written.

    Examples
    --------
    >>> import os, tempfile
    >>> from matplotlib.figure import Figure
    >>> from linssl.study.plots import save_figure
    >>> fig = Figure(figsize=(2, 2))
    >>> _ = fig.subplots().plot([1, 2, 3])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = save_figure(fig, os.path.join(tmp, "figure"), formats=("png", "svg"), dpi=50)
    ...     [p.name for p in paths], all(p.stat().st_size > 0 for p in paths)
    (['figure.png', 'figure.svg'], True)
    """
    import io

    paths = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight")
        write_atomic(path, buffer.getvalue())
        paths.append(path)
    return paths
