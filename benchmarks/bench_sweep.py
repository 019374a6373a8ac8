"""The paper's Appendix C study: ``linssl.study.sweep.run`` against the loop one writes without linssl.

Grid (:func:`linssl.bench.sweep_grid`): the synthetic model, d = 100, k = 50, 3 methods x 2 noise
levels x 3 alphas x 10 sample sizes (100 to 50,000) x 3 seeds. The reference
(:func:`linssl.bench.reference_sweep.run`) redraws the data of every cell, computes its moments with NumPy
and solves with NumPy/SciPy; linssl draws each data configuration once, accumulates its moments in
Rust and solves all of its cells in batches. Both compute the same distances to optimality
(``track_relative_difference``, rounding only). Target: at least 5 x faster.

Run as a script (``python benchmarks/bench_sweep.py [--quick]``) to print the comparison.
"""

import sys

from linssl.bench import format_table, run, sweep_comparison

try:
    from ._paired import _Paired
except ImportError:  # run as a script: benchmarks/ is the first entry of sys.path
    from _paired import _Paired


class AppendixC(_Paired):
    repeat = 1
    timeout = 1800

    def setup(self):
        self.case = sweep_comparison()


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv, only=["sweep"])))
