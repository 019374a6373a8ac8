"""The paper's Appendix C study: ``linssl.sweep.run`` against the loop one writes without linssl.

Grid (:func:`linssl.bench.sweep_grid`): the synthetic model, d = 100, k = 50, 3 methods x 2 noise
levels x 3 alphas x 10 sample sizes (100 to 50,000) x 3 seeds. The reference
(:func:`linssl.reference_sweep.run`) redraws the data of every cell, computes its moments with NumPy
and solves with NumPy/SciPy; linssl draws each data configuration once, accumulates its moments in
Rust and solves all of its cells in batches. Both compute the same distances to optimality
(``track_distance_relative_difference``, rounding only). Target: at least 5 x faster.

Run as a script (``python benchmarks/bench_sweep.py [--quick]``) to print the comparison.
"""

import sys

from linssl.bench import format_table, run, sweep_comparison


class AppendixC:
    number = 1
    repeat = 1
    warmup_time = 0
    timeout = 1800

    def setup(self):
        self.case = sweep_comparison()

    def time_linssl_sweep(self):
        self.case.linssl()

    def time_reference_loop(self):
        self.case.reference()

    def track_distance_relative_difference(self):
        return self.case.agreement(self.case.linssl(), self.case.reference())

    track_distance_relative_difference.unit = "relative difference"


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv, only=["sweep"])))
