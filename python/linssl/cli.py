"""The ``linssl`` command."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

import linssl
from linssl import bench as benchmarks
from linssl.paradigms import PARADIGMS

app = typer.Typer(
    name="linssl",
    help="Exact optimal linear models of self-supervised learning: joint embedding, reconstruction, supervised.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"linssl {linssl.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Exact optimal linear models of self-supervised learning."""


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def reproduce(
    dataset: Optional[str] = typer.Option(
        None, "--dataset", help="digits, synthetic, a .npz file (arrays X, y) or an MNIST IDX directory. Default: digits and synthetic."
    ),
    out: Path = typer.Option(Path("linssl-results"), "--out", help="Output directory (resumable)."),
    quick: bool = typer.Option(False, "--quick", help="A smaller grid that runs in seconds."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    sampler: str = typer.Option("auto", "--sampler", help="auto, rows or wishart (synthetic only): how training moments are drawn."),
    turn: bool = typer.Option(True, "--turn/--no-turn", help="With synthetic data: also the n = 1e2..1e9 study near the thresholds."),
) -> None:
    """Reproduce the paper's linear experiment (Appendix C): table, CSV and figures."""
    from linssl.study.reproduce import reproduce as run_reproduction

    start = time.perf_counter()
    datasets = ("digits", "synthetic") if dataset is None else (dataset,)
    try:
        result = run_reproduction(datasets, out=out, quick=quick, progress=progress, sampler=sampler, turn=turn)
    except (ValueError, OSError, ImportError) as err:
        _fail(str(err))
    typer.echo(_format_summary(result.summary))
    agree = int(result.summary["agrees"].sum())
    typer.echo(f"\n{agree} of {len(result.summary)} cells agree with the paper's Figure 3.")
    if result.turn is not None:
        typer.echo("\nNear the thresholds (strong noise), n from which each curve stays within 10 % of its n -> inf value:")
        typer.echo(_format_turn(result.turn))
    typer.echo("Files:")
    for path in result.files:
        typer.echo(f"  {path}")
    typer.echo(f"Done in {time.perf_counter() - start:.1f} s.")


def _format_summary(summary) -> str:
    table = summary.copy()
    table["alpha"] = table["alpha"].map(lambda a: f"{a:g}")
    for column in ("distance_n_min", "distance_n_max"):
        table[column] = table[column].map(lambda v: f"{v:.2e}")
    table["theory_optimal"] = table["theory_optimal"].map({True: "yes", False: "no"})
    table["agrees"] = table["agrees"].map({True: "yes", False: "NO"})
    table = table.rename(
        columns={
            "distance_n_min": "dist@n_min",
            "distance_n_max": "dist@n_max",
            "theory_optimal": "theory(n->inf)",
            "paper": "paper says",
        }
    )
    return table.drop(columns=["n_min", "n_max"]).to_string(index=False)


def _format_turn(turns) -> str:
    table = turns.copy()
    table["alpha"] = table.apply(lambda r: f"{r['alpha']:.3g} ({r['side']} {r['critical_alpha']:.3g})", axis=1)
    for column in ("limit", "at_n_min", "at_n_max"):
        table[column] = table[column].map(lambda v: f"{v:.2e}")
    table["n_within"] = table["n_within"].map(lambda v: "not by n_max" if v != v else f"{v:.0e}")
    return table.drop(columns=["critical_alpha", "side"]).to_string(index=False)


@app.command("sweep")
def sweep_command(
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="Study description (TOML); see examples/sweep.toml."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (overrides the config's [output] dir)."),
    executor: Optional[str] = typer.Option(None, "--executor", help="local or dask (overrides [run] executor)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float64 or float32 products (overrides [run] dtype)."),
    sampler: Optional[str] = typer.Option(
        None, "--sampler", help="auto, rows or wishart: how training moments are drawn (overrides [run] sampler)."
    ),
    n_jobs: Optional[int] = typer.Option(
        None, "--n-jobs", min=1, help="Groups at once on local threads (overrides [run] n_jobs; default: one per core for d <= 1024)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Run a scaling study described in a TOML file; writes results.csv (and a figure)."""
    from linssl.study import plots, sweep
    from linssl.study.config import load_study

    try:
        study = load_study(config)
    except ValueError as err:
        _fail(f"{config}: {err}")
    out = out or study.out
    try:
        table = sweep.run(
            study.grid, out=out, executor=executor or study.run.executor, progress=progress, dtype=dtype or study.run.dtype,
            sampler=sampler or study.run.sampler, n_jobs=n_jobs or study.run.n_jobs,
        )
    except (ValueError, OSError) as err:  # bad grids and data, missing files, unwritable directories
        _fail(str(err))
    typer.echo(f"{len(table)} rows written to {Path(out) / 'results.csv'}")
    if study.output.figure and "alpha" in table.columns:
        paths = plots.save_figure(plots.distance_to_optimality_figure(table), Path(out) / "figure")
        typer.echo("figures: " + ", ".join(str(p) for p in paths))


@app.command()
def thresholds(
    dataset: str = typer.Option("synthetic", "--dataset", help="synthetic, digits, a .npz file or an IDX directory."),
    d: int = typer.Option(100, "--d", help="Total dimension (data sets: k components + d-k noise coordinates)."),
    k: int = typer.Option(50, "--k", help="Important dimensions."),
    gamma_max: float = typer.Option(1e3, "--gamma-max", help="Largest irrelevant-noise variance."),
    theta_max: float = typer.Option(1e4, "--theta-max", help="Largest augmentation variance."),
    seed: int = typer.Option(0, "--seed", help="Seed of the model's random spectra."),
    alpha: List[float] = typer.Option([0.1, 1.0, 10.0], "--alpha", help="Alignments to assess (repeatable)."),
) -> None:
    """Print the alignment thresholds and which paradigm needs less alignment for a model."""
    from linssl import theory
    from linssl.study.cell import DataConfig, build_model

    try:
        model = build_model(DataConfig(dataset, d, k, gamma_max, theta_max, seed, 0, 1))
    except (ValueError, OSError) as err:
        _fail(str(err))
    t = theory.thresholds(model)
    r = theory.regime(model)
    typer.echo(f"model: {dataset}, d = {d}, k = {k}, gamma_max = {gamma_max:g}, theta_max = {theta_max:g}, seed = {seed}")
    typer.echo(f"  eta = {t.eta:.6g}   delta = {t.delta:.6g}   crossover eta^2/delta = {t.crossover:.6g}")
    typer.echo(f"  alpha^2 thresholds: reconstruction {t.alpha2_rc:.6g}, joint embedding {t.alpha2_je:.6g}")
    typer.echo(f"  noise directions: {r.n_weak} weak, {r.n_strong} strong ({r.case})")
    typer.echo("")
    typer.echo(r.explain())
    typer.echo("")
    typer.echo("optimal as n -> inf?")
    typer.echo(f"  {'alpha':>8}  {'supervised':>10}  {'joint emb.':>10}  {'reconstr.':>10}")
    for a in alpha:
        marks = ["yes" if theory.predicts_optimal(p, model, a) else "no" for p in PARADIGMS]
        typer.echo(f"  {a:>8g}  {marks[0]:>10}  {marks[1]:>10}  {marks[2]:>10}")


@app.command()
def bench(
    quick: bool = typer.Option(False, "--quick", help="Small sizes: seconds instead of a few minutes."),
    json_output: bool = typer.Option(False, "--json", help="Print the results as JSON instead of a table."),
    only: Optional[List[str]] = typer.Option(
        None, "--only", help="Run only this comparison (repeatable): " + ", ".join(benchmarks.comparisons()) + "."
    ),
    keep_blas_env: bool = typer.Option(
        False,
        "--keep-blas-env",
        help="Keep environment variables that pin BLAS to other kernels (OPENBLAS_CORETYPE, ...); by default the "
        "benchmark runs again without them, so NumPy/SciPy use their native kernels.",
    ),
) -> None:
    """Time linssl against the plain NumPy/SciPy reference on this machine (linssl.bench)."""
    import os
    import sys

    from linssl.bench.machine import KEEP_ENV, native_environment

    # BLAS reads these variables when it loads, which has happened by now: start again without them.
    native = native_environment({**os.environ, **({KEEP_ENV: "1"} if keep_blas_env else {})})
    if native is not None:
        typer.echo(f"linssl bench: running without {native['LINSSL_BENCH_REMOVED_BLAS_ENV']}", err=True)
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", "linssl.cli", *sys.argv[1:]], native)
    try:
        report = benchmarks.run(quick=quick, only=only, log=lambda line: typer.echo(line, err=True))
    except ValueError as err:
        _fail(str(err))
    typer.echo(report.to_json() if json_output else benchmarks.format_table(report))


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
