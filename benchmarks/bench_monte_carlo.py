"""Monte Carlo moments of an augmentation without closed form: ``linssl.Custom`` against the NumPy loop.

n = 100,000, d = 256, 16 draws of a random per-row gain plus unit Gaussian noise
(:func:`linssl.bench.gain_and_noise`), and of the gain alone (:func:`linssl.bench.brightness_jitter`,
a function so cheap that the products dominate). The NumPy loop
(:func:`linssl.bench.reference.monte_carlo_moments`) materialises an augmented copy of the data per draw
and accumulates ``Z.T @ Z``; both draw the same views (the same random stream per chunk of 8192
rows and draw), so they must return the same ``S``, ``G`` and ``C`` (``track_relative_difference``,
rounding only). linssl runs without standard errors (``batches=1``), as the loop does. Target: at
least 2 x faster.

Peak memory is where streaming shows: ``peakmem_linssl_custom`` keeps a few 16 MB chunks, while
``peakmem_numpy_whole_copies`` augments all of ``X`` per draw.

Run as a script (``python benchmarks/bench_monte_carlo.py [--quick]``) to print the comparisons.
"""

import sys

import linssl
from linssl.bench import reference
from linssl.bench import brightness_jitter, format_table, gain_and_noise, monte_carlo_comparison, run, spectral_data

try:
    from ._paired import _Paired
except ImportError:  # run as a script: benchmarks/ is the first entry of sys.path
    from _paired import _Paired


class CustomMonteCarlo(_Paired):
    params = ["gain_and_noise", "brightness_jitter"]
    param_names = ["augmentation"]
    repeat = 2
    timeout = 900

    def setup(self, augmentation):
        augment = gain_and_noise if augmentation == "gain_and_noise" else brightness_jitter
        self.case = monte_carlo_comparison(100_000, 256, draws=16, augment=augment)


class CustomMonteCarloMemory:
    number = 1
    repeat = 1
    warmup_time = 0
    timeout = 900

    def setup(self):
        self.X = spectral_data(100_000, 256)

    def peakmem_linssl_custom(self):
        linssl.Custom(gain_and_noise, draws=16, batches=1).moments(self.X, progress=False)

    def peakmem_numpy_whole_copies(self):
        reference.monte_carlo_moments(self.X, gain_and_noise, 16)


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv, only=["monte-carlo", "monte-carlo-gain"])))
