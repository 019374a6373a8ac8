"""Studies at any n: moments drawn by Wishart (Bartlett) against drawn rows.

Grid: the synthetic model, d = 100, k = 50, strong noise (gamma_max = 1e6), 3 paradigms x 3 alphas
(0.1, 1, 10) x 3 seeds, on 9 sample sizes. ``sampler="wishart"`` runs n = 1e2 .. 1e9 (its cost does
not depend on n; target: under 30 s on 2 cores); ``sampler="rows"`` can only go to n = 1e5 in the
same time class. The first Wishart study of a model also pays once for the Monte Carlo behind its
large-n label statistics (about 1.5 s).

Run as a script (``python benchmarks/bench_wishart.py``) to print the three timings.
"""

import sys
import time

import numpy as np

from linssl.study import sweep


def grid(n_max: float) -> dict:
    return {
        "dataset": ["synthetic"], "d": [100], "k": [50], "gamma_max": [1e6], "alpha": [0.1, 1.0, 10.0],
        "n": sorted({int(round(v)) for v in np.geomspace(1e2, n_max, 9)}), "seed": [0, 1, 2],
        "paradigm": ["supervised", "joint_embedding", "reconstruction"],
    }


class WishartGrid:
    timeout = 600
    number = 1
    repeat = 1

    def time_wishart_to_1e9(self):
        sweep.run(grid(1e9), progress=False, sampler="wishart")

    def time_rows_to_1e5(self):
        sweep.run(grid(1e5), progress=False, sampler="rows")


def _timed(n_max: float, sampler: str) -> float:
    start = time.perf_counter()
    sweep.run(grid(n_max), progress=False, sampler=sampler)
    return time.perf_counter() - start


if __name__ == "__main__":
    order = sys.argv[1:] or ["wishart:1e9", "rows:1e5", "wishart:1e5"]
    for case in order:
        sampler, n_max = case.split(":")
        print(f"{sampler:>8} n = 1e2 .. {n_max}: {_timed(float(n_max), sampler):6.2f} s", flush=True)
