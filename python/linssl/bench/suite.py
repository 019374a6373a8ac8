"""``linssl bench``: linssl against the plain NumPy/SciPy reference (:mod:`linssl.bench.reference`) on this machine.

Each comparison runs the same problem through linssl and through the reference, times both (best of
a few alternating runs, fairer on a shared machine), checks that they agree, and reports the speed-up
(reference time / linssl time) and the GFLOP/s linssl achieved, next to the machine's float64
matmul peak measured by a short NumPy probe. The problems come from :mod:`linssl.bench.problems`.

Flop counts are nominal (a multiply-add is 2 flops) and stated where each comparison is built;
comparisons whose work is not a fixed count (iterative eigensolvers, whole studies) report none.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from linssl._threads import usable_cores
from linssl.bench.problems import batch_problems, brightness_jitter, dense_problem, gain_and_noise, normal_data, spectral_data, spiked_problem

__all__ = [
    "Comparison",
    "Report",
    "Row",
    "augmentation_comparison",
    "augmentation_for",
    "batch_comparison",
    "best_times",
    "comparisons",
    "dense_comparison",
    "end_to_end_comparison",
    "format_table",
    "matmul_peak",
    "moments_comparison",
    "monte_carlo_comparison",
    "run",
    "sweep_comparison",
    "sweep_grid",
    "topk_comparison",
]


def _relative(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def sweep_grid(quick: bool = False) -> dict:
    """The paper's Appendix C grid on the synthetic model (:func:`linssl.study.reproduce.paper_grid`):
    3 paradigms x 2 noise levels x 3 alphas x 10 sample sizes x 3 seeds; ``quick``: d = 40, 3 sizes, 1 seed."""
    from linssl.study.reproduce import paper_grid

    grid = paper_grid("synthetic")
    if quick:
        grid.update(d=[40], k=[20], n=[100, 1000, 3000], seed=[0])
    return grid


# --- the comparisons -------------------------------------------------------------------------------


@dataclass
class Comparison:
    """One operation run both ways on the same inputs.

    ``linssl`` and ``reference`` are callables returning their results; ``agreement(ours, theirs)``
    returns a relative difference (what it measures is stated in ``agreement_of``).
    """

    operation: str
    size: str
    linssl: Callable
    reference: Callable
    agreement: Callable
    agreement_of: str
    flops: Optional[float] = None
    rounds: int = 3


def moments_comparison(n: int, d: int, dtype=np.float64) -> Comparison:
    """``X^T X``: linssl's accumulator against NumPy's ``X.T @ X`` (both syrk-like: n d^2 flops, one triangle)."""
    import linssl

    X = normal_data(n, d, dtype)

    def ours():
        acc = linssl.MomentAccumulator(d)
        acc.update(X)
        return acc.xtx

    return Comparison(
        f"moments {np.dtype(dtype).name}", f"n={n:,} d={d}", ours, lambda: X.T @ X,
        lambda a, b: _relative(a, np.asarray(b, dtype=np.float64)), "X^T X, Frobenius", flops=n * d * d,
    )


def dense_comparison(d: int) -> Comparison:
    """All eigenpairs of ``A v = w B v`` (values and vectors): linssl's dense solver against ``scipy.linalg.eigh(A, B)``.

    Nominal 6 d^3 flops: Cholesky d^3/3, reduction to standard form d^3, tridiagonalisation 4d^3/3,
    back-transformation of the eigenvectors 2d^3 and the triangular solve d^3 (the tridiagonal
    eigensolver itself is not counted).
    """
    import scipy.linalg

    from linssl.linalg import eigh_generalized

    A, B = dense_problem(d)
    return Comparison(
        "generalized eigen, dense", f"d={d}",
        lambda: eigh_generalized(A, B, solver="dense")[0][::-1], lambda: scipy.linalg.eigh(A, B)[0],
        _relative, "eigenvalues", flops=6.0 * d**3,
    )


def topk_comparison(d: int, k: int) -> Comparison:
    """Top-k pairs of a spiked problem: block Lanczos against ``scipy.linalg.eigh(..., subset_by_index)``."""
    import scipy.linalg

    from linssl.linalg import eigh_generalized

    A, B = spiked_problem(d, k)
    return Comparison(
        "generalized eigen, top-k", f"d={d} k={k}",
        lambda: eigh_generalized(A, B, k, solver="iterative")[0],
        lambda: scipy.linalg.eigh(A, B, subset_by_index=[d - k, d - 1])[0][::-1],
        _relative, "eigenvalues",
    )


def batch_comparison(count: int, d: int) -> Comparison:
    """Many small dense problems: one parallel batch in Rust against a Python loop over SciPy (count x 6 d^3 flops)."""
    import scipy.linalg

    from linssl.linalg import eigh_generalized_batch

    pairs = batch_problems(count, d)
    return Comparison(
        "generalized eigen, batch", f"{count} x d={d}",
        lambda: np.concatenate([w[::-1] for w, _ in eigh_generalized_batch(pairs)]),
        lambda: np.concatenate([scipy.linalg.eigh(A, B)[0] for A, B in pairs]),
        _relative, "eigenvalues", flops=count * 6.0 * d**3,
    )


def end_to_end_comparison(augmentation: str, n: int, d: int, k: int, rounds: int = 2) -> Comparison:
    """Joint embedding and reconstruction from raw ``X``: ``linssl.fit_all`` against the reference.

    The reference computes the moments from one covariance ``X.T @ X / n``, joint embedding with
    ``scipy.linalg.eigh(G, S, subset_by_index)`` and reconstruction from ``S^{-1/2}``
    (eigendecomposition) and the full SVD of ``C S^{-1/2}``. Nominal flops: n d^2 for the moments
    plus 14 d^3 for the two dense generalized eigenproblems and ``C^T C``.
    """
    import linssl
    from linssl.bench import reference as ref

    X = spectral_data(n, d)
    aug: linssl.augment.Augmentation
    if augmentation == "gaussian":
        aug, moments = linssl.Gaussian(0.01), (lambda: ref.gaussian_moments(X, 0.01))
    else:
        aug, moments = linssl.Mask(0.8), (lambda: ref.mask_moments(X, 0.8))

    def ours():
        fits = linssl.fit_all(X, aug, k, progress=False)  # no progress bar in the timings
        return fits.joint_embedding.loss_, fits.reconstruction.loss_

    def theirs():
        m = moments()
        je = ref.joint_embedding(m.S, m.G, k, solver="eigh")
        return je.loss, ref.reconstruction(m.S, m.C, m.trace_xx, k, solver="svd").loss

    label = "Gaussian noise" if augmentation == "gaussian" else "Mask"
    return Comparison(
        f"JE + RC end to end, {label}", f"n={n:,} d={d} k={k}", ours, theirs,
        lambda a, b: max(abs(x - y) / abs(y) for x, y in zip(a, b)), "losses", flops=n * d * d + 14.0 * d**3,
        rounds=rounds,
    )


def monte_carlo_comparison(n: int, d: int, draws: int = 16, augment: Callable = gain_and_noise, rounds: int = 2) -> Comparison:
    """Monte Carlo moments of ``augment``: ``linssl.Custom`` against the NumPy loop.

    The reference (:func:`linssl.bench.reference.monte_carlo_moments`) materialises an augmented copy of
    all of ``X`` per draw and accumulates ``Z.T @ Z``; linssl streams chunks of 8192 rows, draws
    views on several threads and folds them in Rust. Both draw the same views (the same random
    stream per chunk and draw), so they agree to rounding. linssl runs without standard errors
    (``batches=1``), which the reference does not compute either.
    Flops: (draws + 3) n d^2 (``draws`` view products and ``T^T T``, one triangle each; ``X^T T``).
    """
    import linssl
    from linssl.bench import reference as ref

    X, rows = spectral_data(n, d), 8192

    def ours():
        m = linssl.Custom(augment, draws=draws, chunk_size=rows, batches=1).moments(X, progress=False)
        return m.S, m.G, m.C

    def theirs():
        m = ref.monte_carlo_moments(X, augment, draws, chunk_size=rows)
        return m.S, m.G, m.C

    label = "gain + noise" if augment is gain_and_noise else augment.__name__.replace("_", " ")
    return Comparison(
        f"Custom Monte Carlo, {label}", f"n={n:,} d={d} {draws} draws", ours, theirs,
        lambda a, b: max(_relative(x, y) for x, y in zip(a, b)), "S, G, C", flops=(draws + 3.0) * n * d * d,
        rounds=rounds,
    )


def augmentation_for(name: str, side: int):
    """The benchmarked image augmentations on ``side x side`` images: ``"patch"`` (MAE masking,
    4 x 4 patches, ratio 0.75) or ``"translate"`` (``max_shift=2``, 25 shifts)."""
    import linssl

    if name == "patch":
        return linssl.PatchMask((side, side), 4, 0.75)
    if name == "translate":
        return linssl.Translate((side, side), 2)
    raise ValueError(f"unknown benchmarked augmentation {name!r}; use 'patch' or 'translate'")


def augmentation_comparison(name: str, n: int, side: int, against: str, draws: int = 64, rounds: int = 2) -> Comparison:
    """Exact moments of an image augmentation (:func:`augmentation_for`) from one pass over the data.

    ``against="pass"``: the reference is a plain :func:`linssl.second_moment` pass over the same
    data (speed-up >= 1 / 1.2 means the closed form costs at most 1.2 x one pass); the results agree
    when the augmentation's map applied to the reference ``M`` gives linssl's ``S``.
    ``against="monte-carlo"``: the reference is :class:`linssl.Custom` Monte Carlo of the same
    augmentation's ``sample`` with ``draws`` views (standard errors off); the relative difference is
    then the Monte Carlo error. Flops: n d^2 (the pass).
    """
    import linssl

    d = side * side
    X = spectral_data(n, d)
    aug = augmentation_for(name, side)

    def ours():
        m = aug.moments(X, progress=False)
        return m.S, m.G, m.C

    if against == "pass":
        def theirs():
            return linssl.second_moment(X, progress=False)

        def agreement(a, M):
            return _relative(a[0], aug.second_moment_map(np.asarray(M)))

        return Comparison(
            f"{name} moments vs one pass", f"n={n:,} d={d}", ours, theirs, agreement,
            "S against F(M) of the pass", flops=float(n) * d * d, rounds=rounds,
        )

    def monte_carlo():
        m = linssl.Custom(aug.sample, draws=draws, batches=1).moments(X, progress=False)
        return m.S, m.G, m.C

    return Comparison(
        f"{name} moments vs Custom", f"n={n:,} d={d} {draws} draws", ours, monte_carlo,
        lambda a, b: max(_relative(x, y) for x, y in zip(a, b)), "S, G, C (Monte Carlo error)",
        flops=float(n) * d * d, rounds=1,
    )


def sweep_comparison(quick: bool = False, rounds: int = 2) -> Comparison:
    """The paper's Appendix C study: :func:`linssl.study.sweep.run` against :func:`linssl.bench.reference_sweep.run`."""
    from linssl.bench import reference_sweep
    from linssl.study import sweep

    grid = sweep_grid(quick)
    cells = int(np.prod([len(v) for v in grid.values()]))

    def ours():
        return sweep.run(grid, progress=False)

    def agreement(a, b):
        return float((np.abs(a["distance_to_optimality"] - b["distance_to_optimality"]) / a["probe_loss_clean"]).max())

    return Comparison(
        "Appendix C sweep", f"{cells} cells, d={grid['d'][0]}", ours, lambda: reference_sweep.run(grid),
        agreement, "distances / probe loss", rounds=rounds,
    )


def comparisons(quick: bool = False) -> dict[str, Callable[[], Comparison]]:
    """The comparisons of ``linssl bench`` by name, as builders (data are made only when run).

    The quick set holds only comparisons whose two sides compute the same thing (agreement to
    rounding); ``augment-*-mc`` (closed form against Monte Carlo, which differ by the Monte Carlo
    error) run at full size only.
    """
    if quick:
        return {
            "moments": lambda: moments_comparison(20_000, 256, np.float64),
            "moments-f32": lambda: moments_comparison(20_000, 256, np.float32),
            "gep-dense": lambda: dense_comparison(512),
            "gep-dense-large": lambda: dense_comparison(1024),
            "gep-topk": lambda: topk_comparison(1024, 16),
            "gep-batch": lambda: batch_comparison(50, 64),
            "end-to-end-gaussian": lambda: end_to_end_comparison("gaussian", 20_000, 256, 16, 3),
            "end-to-end-mask": lambda: end_to_end_comparison("mask", 20_000, 256, 16, 3),
            "monte-carlo": lambda: monte_carlo_comparison(10_000, 64, 16, gain_and_noise, 3),
            "monte-carlo-gain": lambda: monte_carlo_comparison(10_000, 64, 16, brightness_jitter, 3),
            "sweep": lambda: sweep_comparison(True, 2),
            "augment-patch": lambda: augmentation_comparison("patch", 10_000, 16, "pass", rounds=3),
            "augment-translate": lambda: augmentation_comparison("translate", 10_000, 16, "pass", rounds=3),
        }
    return {
        "moments": lambda: moments_comparison(200_000, 1024, np.float64),
        "moments-f32": lambda: moments_comparison(200_000, 1024, np.float32),
        "gep-dense": lambda: dense_comparison(2048),
        "gep-dense-large": lambda: dense_comparison(4096),
        "gep-topk": lambda: topk_comparison(4096, 32),
        "gep-batch": lambda: batch_comparison(200, 128),
        "end-to-end-gaussian": lambda: end_to_end_comparison("gaussian", 200_000, 1024, 64, 2),
        "end-to-end-mask": lambda: end_to_end_comparison("mask", 200_000, 1024, 64, 2),
        "monte-carlo": lambda: monte_carlo_comparison(100_000, 256, 16, gain_and_noise, 2),
        "monte-carlo-gain": lambda: monte_carlo_comparison(100_000, 256, 16, brightness_jitter, 2),
        "sweep": lambda: sweep_comparison(False, 2),
        "augment-patch": lambda: augmentation_comparison("patch", 60_000, 28, "pass", rounds=4),
        "augment-translate": lambda: augmentation_comparison("translate", 60_000, 28, "pass", rounds=4),
        "augment-patch-mc": lambda: augmentation_comparison("patch", 60_000, 28, "monte-carlo", draws=64),
        "augment-translate-mc": lambda: augmentation_comparison("translate", 60_000, 28, "monte-carlo", draws=64),
    }


# --- measuring -------------------------------------------------------------------------------------


def best_times(fns: Sequence[Callable], rounds: int) -> tuple[list[float], list]:
    """Best wall time of each function over ``rounds`` alternating rounds (seconds), and its last result.

    Alternating keeps a background load from favouring one side; the best time is the one least
    disturbed by it (and past first-touch costs when ``rounds > 1``).
    """
    best, results = [np.inf] * len(fns), [None] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            results[i] = fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best, results


def matmul_peak(seconds: float = 0.5) -> tuple[float, int]:
    """The machine's float64 matmul rate: NumPy ``A @ A`` (2 N^3 flops) with N sized to run ``seconds``.

    Returns
    -------
    (GFLOP/s, N) : best of five products after a 1024 x 1024 calibration (best of several, because
    a shared machine slows single runs down by up to 2 x).
    """
    rng = np.random.default_rng(0)
    A = rng.standard_normal((1024, 1024))
    rate = 2 * 1024**3 / best_times([lambda: A @ A], 2)[0][0]
    size = int(np.clip(round((seconds * rate / 2) ** (1 / 3) / 64) * 64, 512, 6144))
    A = rng.standard_normal((size, size))
    return 2 * size**3 / best_times([lambda: A @ A], 5)[0][0] / 1e9, size


@dataclass
class Row:
    """One line of the report (times in seconds; ``speedup`` = reference / linssl)."""

    name: str
    operation: str
    size: str
    linssl_s: float
    reference_s: float
    speedup: float
    gflops: Optional[float]
    agreement: float
    agreement_of: str


@dataclass
class Report:
    """What ``linssl bench`` measured."""

    rows: list
    peak_gflops: float
    peak_size: int
    quick: bool
    cpus: int
    version: str
    #: :func:`linssl.bench.machine.describe`: CPU, SIMD levels, BLAS kernel, environment overrides.
    machine: dict

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def run(quick: bool = False, only: Optional[Sequence[str]] = None, log: Callable[[str], None] = lambda _: None) -> Report:
    """Run the comparisons (all, or those named in ``only``) and the matmul probe.

    Parameters
    ----------
    quick : bool
        Small sizes (seconds in all) instead of the reference sizes (a few minutes on 2 cores).
    only : sequence of str, optional
        Names from :func:`comparisons`.
    log : callable
        Receives a line before each comparison starts.
    """
    import linssl
    from linssl.bench.machine import describe

    available = comparisons(quick)
    names = list(available) if not only else list(only)
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(f"unknown comparisons {unknown}; choose from {', '.join(available)}")
    log("probing the matmul peak")
    peak, size = matmul_peak(0.05 if quick else 0.2)
    rows = []
    for name in names:
        log(f"running {name}")
        case = available[name]()
        (t_ours, t_theirs), (ours, theirs) = best_times([case.linssl, case.reference], case.rounds)
        rows.append(
            Row(
                name, case.operation, case.size, t_ours, t_theirs, t_theirs / t_ours,
                None if case.flops is None else case.flops / t_ours / 1e9,
                float(case.agreement(ours, theirs)), case.agreement_of,
            )
        )
        del case, ours, theirs
    return Report(rows, peak, size, quick, usable_cores(), linssl.__version__, describe())


def format_table(report: Report) -> str:
    """The report as a plain-text table."""
    header = ("operation", "size", "linssl", "reference", "speed-up", "GFLOP/s", "rel. diff")
    lines = [
        [r.operation, r.size, f"{r.linssl_s:.3g} s", f"{r.reference_s:.3g} s", f"{r.speedup:.2f} x",
         "-" if r.gflops is None else f"{r.gflops:.0f}", f"{r.agreement:.0e}"]
        for r in report.rows
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines)]
    align = ["<", "<", ">", ">", ">", ">", ">"]

    def fmt(cells):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    title = (
        f"linssl {report.version} against the NumPy/SciPy reference ({'quick' if report.quick else 'full'} sizes, "
        f"{report.cpus} CPUs); matmul peak {report.peak_gflops:.0f} GFLOP/s (NumPy float64, N = {report.peak_size})"
    )
    rule = "-" * len(fmt(header))
    notes = (
        "speed-up = reference time / linssl time (best of alternating runs); GFLOP/s achieved by linssl on the "
        "nominal flop count; rel. diff = largest relative difference between the two results."
    )
    from linssl.bench.machine import summary_lines

    return "\n".join([title, *summary_lines(report.machine), rule, fmt(header), rule, *(fmt(line) for line in lines), rule, notes])
