"""Monte Carlo moments of an augmentation without closed form: ``linssl.Custom`` against the NumPy loop.

n = 100,000, d = 256, 16 draws of a random per-row gain (:func:`linssl.bench.brightness_jitter`).
The NumPy loop (:func:`linssl.reference.monte_carlo_moments`) materialises each augmented copy and
accumulates ``Z.T @ Z``; both draw the same views (one generator, chunks of 8192 rows), so they
must return the same ``S``, ``G`` and ``C`` (``track_relative_difference``, rounding only). linssl
runs without standard errors (``batches=1``), as the loop does. Target: at least 2 x faster.

Peak memory is where streaming shows: ``peakmem_linssl_custom`` keeps a few 16 MB chunks, while
``peakmem_numpy_whole_copies`` augments all of ``X`` per draw, as one does without chunking.

Run as a script (``python benchmarks/bench_monte_carlo.py [--quick]``) to print the comparison.
"""

import sys

import linssl
from linssl import reference
from linssl.bench import brightness_jitter, format_table, monte_carlo_comparison, run, spectral_data

try:
    from ._paired import _Paired
except ImportError:  # run as a script: benchmarks/ is the first entry of sys.path
    from _paired import _Paired


class CustomMonteCarlo(_Paired):
    repeat = 2
    timeout = 900

    def setup(self):
        self.case = monte_carlo_comparison(100_000, 256, draws=16)


class CustomMonteCarloMemory:
    number = 1
    repeat = 1
    warmup_time = 0
    timeout = 900

    def setup(self):
        self.X = spectral_data(100_000, 256)

    def peakmem_linssl_custom(self):
        linssl.Custom(brightness_jitter, draws=16, batches=1).moments(self.X)

    def peakmem_numpy_whole_copies(self):
        reference.monte_carlo_moments(self.X, brightness_jitter, 16)


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv, only=["monte-carlo"])))
