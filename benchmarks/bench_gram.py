"""The Gram path (``solver="gram"``, d >> n) against the dense path (d x d moments).

Targets:

- d = 8192, n = 1000, k = 16: the Gram path at least 20 x faster than the dense path for each
  paradigm (``time_gram`` against ``time_dense``; the dense path runs with the eigensolver that
  ``solver="auto"`` picked before the Gram path existed: iterative for JE and RC);
- d = 100,000, n = 2,000, k = 16: all three paradigms complete with a peak resident memory under
  4 GiB (``peakmem_gram_d100000``; the data alone take 1.5 GiB), where the dense path would need
  six d x d matrices (446 GiB) and is refused before allocating.

Run as a script (``python benchmarks/bench_gram.py``) to print the speed-ups (best of alternating
runs) and the peak resident memory of the large case measured in a fresh subprocess (its own
``ru_maxrss``).
"""

import resource
import subprocess
import sys
import time

import numpy as np

import linssl
from linssl.bench import best_times
from linssl.models import JointEmbedding, Reconstruction, Supervised
from linssl.fitting import fit_all

PARADIGMS = ("joint_embedding", "reconstruction", "supervised")


def wide_data(n, d, k=16, seed=0):
    """``k`` signal directions plus unit noise, (n, d) float64, and 3 targets; built in row blocks
    so that generating the data costs no more memory than the data."""
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((d, k)))[0]
    X = np.empty((n, d))
    scores = rng.standard_normal((n, k)) * np.linspace(8.0, 2.0, k)
    for i in range(0, n, 256):
        rows = slice(i, min(i + 256, n))
        X[rows] = rng.standard_normal((X[rows].shape[0], d))
        X[rows] += scores[rows] @ Q.T
    Y = scores[:, :3] + 0.5 * rng.standard_normal((n, 3))
    return X, Y, rng.uniform(0.5, 2.0, d)


def estimator(paradigm, method, variances, k=16):
    aug = linssl.Gaussian(variances)
    if paradigm == "supervised":
        return Supervised(augmentation=aug, solver="dense" if method != "gram" else "gram")
    cls = JointEmbedding if paradigm == "joint_embedding" else Reconstruction
    return cls(k, augmentation=aug, solver=method)


def fit(paradigm, method, X, Y, variances):
    return estimator(paradigm, method, variances).fit(X, Y if paradigm == "supervised" else None)


class GramVersusDense:
    """d = 8192, n = 1000, k = 16, diagonal Gaussian noise."""

    params = [list(PARADIGMS)]
    param_names = ["paradigm"]
    number = 1
    repeat = 3
    warmup_time = 0
    timeout = 1800

    def setup(self, paradigm):
        self.X, self.Y, self.variances = wide_data(1000, 8192)

    def time_gram(self, paradigm):
        fit(paradigm, "gram", self.X, self.Y, self.variances)

    def time_dense(self, paradigm):
        fit(paradigm, "iterative", self.X, self.Y, self.variances)


class LargeD:
    """d = 100,000, n = 2,000, k = 16: all three paradigms from one Gram pass."""

    number = 1
    repeat = 1
    warmup_time = 0
    timeout = 3600

    def setup(self):
        self.X, self.Y, self.variances = wide_data(2000, 100_000)

    def peakmem_gram_d100000(self):
        fit_all(self.X, linssl.Gaussian(self.variances), 16, y=self.Y, solver="gram")


def large_case():
    """Run in a fresh process: fit the three paradigms at d = 100,000, print time and peak RSS."""
    X, Y, variances = wide_data(2000, 100_000)
    data_gib = X.nbytes / 2**30
    t = time.perf_counter()
    fits = fit_all(X, linssl.Gaussian(variances), 16, y=Y, solver="gram")
    elapsed = time.perf_counter() - t
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30  # ru_maxrss is in KiB on Linux
    try:  # after the measurement: validating X must not count towards the peak above
        JointEmbedding(16, augmentation=linssl.Gaussian(variances), solver="dense").fit(X)
    except MemoryError as err:
        refused = str(err).split(". ")[0]
    else:
        refused = "NOT refused"
    print(f"d=100000 n=2000 k=16, JE + RC + SL from one Gram pass: {elapsed:.1f} s, peak RSS {peak_gib:.2f} GiB "
          f"(data {data_gib:.2f} GiB; target < 4 GiB); losses JE {fits.joint_embedding.loss_:.4g} "
          f"RC {fits.reconstruction.loss_:.4g} SL {fits.supervised.loss_:.4g}")
    print(f"  dense path: {refused}")


def main(rounds=2):
    X, Y, variances = wide_data(1000, 8192)
    for paradigm in PARADIGMS:
        (t_gram, t_dense), _ = best_times([lambda: fit(paradigm, "gram", X, Y, variances), lambda: fit(paradigm, "iterative", X, Y, variances)], rounds)
        print(f"d=8192 n=1000 k=16 {paradigm}: gram {t_gram:.2f} s, dense {t_dense:.2f} s, speed-up {t_dense / t_gram:.1f} x (target >= 20)")
    del X, Y
    # A bare interpreter in between: Linux carries the pre-exec high-water mark of this process
    # (its d = 8192 dense fits) into the child's ru_maxrss.
    launch = "import subprocess, sys; sys.exit(subprocess.call([sys.executable] + sys.argv[1:]))"
    subprocess.run([sys.executable, "-c", launch, __file__, "--large"], check=True)


if __name__ == "__main__":
    large_case() if sys.argv[1:] == ["--large"] else main()
