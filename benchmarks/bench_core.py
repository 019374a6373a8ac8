"""Speed of the Rust core against the NumPy/SciPy (OpenBLAS/LAPACK) way of doing the same thing.

Every ``time_linssl_*`` benchmark has a ``time_numpy_*`` or ``time_scipy_*`` counterpart on the
same inputs, so ratios can be read off one ``asv run --python=same`` (the installed build). The
targets linssl aims for:

- moments, float64, n = 200,000, d = 1024: at most 1.1 x the time of NumPy's ``X.T @ X``;
- moments from float32 input: at least 1.4 x faster than from float64, relative error of
  ``X^T X / n`` at most 1e-5 (``track_float32_relative_error``);
- dense generalized eigenproblem, d = 2048 and 4096: at most the time of ``scipy.linalg.eigh(A, B)``;
- top 32 pairs of a spiked d = 4096 problem: at least 5 x faster than
  ``scipy.linalg.eigh(A, B, subset_by_index=...)`` at the same accuracy
  (``track_*_relative_residual``);
- 200 problems with d = 128: at least 1.7 x faster than a Python loop over SciPy.

Run as a script (``python benchmarks/bench_core.py``) to print those ratios directly, each
timing the best of a few alternating runs.
"""

import numpy as np
import scipy.linalg as sla

import linssl
from linssl.bench import batch_problems, best_times, dense_problem, normal_data, relative_residual, spiked_problem
from linssl.linalg import eigh_generalized, eigh_generalized_batch


class Moments:
    """``X^T X`` over a grid of sizes and dtypes: linssl's accumulator against NumPy's ``X.T @ X``."""

    params = ([20_000, 200_000], [256, 1024], ["float64", "float32"])
    param_names = ["n", "d", "dtype"]
    number = 1
    repeat = 3
    warmup_time = 0
    timeout = 900

    def setup(self, n, d, dtype):
        self.X = normal_data(n, d, np.dtype(dtype))

    def time_linssl_moments(self, n, d, dtype):
        linssl.MomentAccumulator(d).update(self.X)

    def time_numpy_xtx(self, n, d, dtype):
        self.X.T @ self.X

    def track_float32_relative_error(self, n, d, dtype):
        """max |G32 - G64| / max |G64| for G = X^T X / n, float32 input against float64 input."""
        X64 = self.X.astype(np.float64)
        acc32, acc64 = linssl.MomentAccumulator(d), linssl.MomentAccumulator(d)
        acc32.update(X64.astype(np.float32))
        acc64.update(X64)
        return float(np.abs(acc32.xtx - acc64.xtx).max() / np.abs(acc64.xtx).max())

    track_float32_relative_error.unit = "relative error"


class DenseGeneralizedEigen:
    params = [2048, 4096]
    param_names = ["d"]
    number = 1
    repeat = 3
    warmup_time = 0
    timeout = 900

    def setup(self, d):
        self.A, self.B = dense_problem(d)

    def time_linssl_dense(self, d):
        eigh_generalized(self.A, self.B, solver="dense")

    def time_scipy_eigh(self, d):
        sla.eigh(self.A, self.B)


class TopK:
    number = 1
    repeat = 3
    warmup_time = 0
    timeout = 900
    d, k = 4096, 32

    def setup(self):
        self.A, self.B = spiked_problem(self.d, self.k)

    def time_linssl_iterative(self):
        eigh_generalized(self.A, self.B, self.k, solver="iterative")

    def time_scipy_subset(self):
        sla.eigh(self.A, self.B, subset_by_index=[self.d - self.k, self.d - 1])

    def track_linssl_relative_residual(self):
        w, V = eigh_generalized(self.A, self.B, self.k, solver="iterative")
        return relative_residual(self.A, self.B, w, V)

    def track_scipy_relative_residual(self):
        w, V = sla.eigh(self.A, self.B, subset_by_index=[self.d - self.k, self.d - 1])
        return relative_residual(self.A, self.B, w, V)


class Batch:
    number = 1
    repeat = 5
    warmup_time = 0

    def setup(self):
        self.pairs = batch_problems(200, 128)

    def time_linssl_batch(self):
        eigh_generalized_batch(self.pairs)

    def time_scipy_loop(self):
        for A, B in self.pairs:
            sla.eigh(A, B)


def main(rounds=3):
    X64 = normal_data(200_000, 1024)
    X32 = X64.astype(np.float32)
    (t64, t_np, t32), _ = best_times(
        [
            lambda: linssl.MomentAccumulator(1024).update(X64),
            lambda: X64.T @ X64,
            lambda: linssl.MomentAccumulator(1024).update(X32),
        ],
        rounds,
    )
    acc32, acc64 = linssl.MomentAccumulator(1024), linssl.MomentAccumulator(1024)
    acc32.update(X32)
    acc64.update(X32.astype(np.float64))
    exact = acc64.xtx
    err_max = np.abs(acc32.xtx - exact).max() / np.abs(exact).max()
    err_fro = np.linalg.norm(acc32.xtx - exact) / np.linalg.norm(exact)
    acc64_orig = linssl.MomentAccumulator(1024)
    acc64_orig.update(X64)
    err_input = np.abs(acc32.xtx - acc64_orig.xtx).max() / np.abs(acc64_orig.xtx).max()
    print(f"moments f64 n=200000 d=1024: linssl {t64:.3f} s, numpy X.T @ X {t_np:.3f} s, ratio {t64 / t_np:.2f} (target <= 1.1)")
    print(f"moments f32: {t32:.3f} s, speedup over f64 {t64 / t32:.2f} x (target >= 1.4)")
    print(f"  f32 relative error of X^T X / n vs the f64 product of the same values: max-entry {err_max:.1e}, Frobenius {err_fro:.1e}; including the rounding of the input to f32: {err_input:.1e} (target <= 1e-5)")
    del X64, X32, acc32, acc64, acc64_orig

    for d in (2048, 4096):
        A, B = dense_problem(d)
        (tl, ts), _ = best_times([lambda: eigh_generalized(A, B, solver="dense"), lambda: sla.eigh(A, B)], rounds)
        w = eigh_generalized(A, B, solver="dense")[0][::-1]
        w_ref = sla.eigh(A, B, eigvals_only=True)
        print(f"dense GEP d={d}: linssl {tl:.2f} s, scipy.linalg.eigh(A, B) {ts:.2f} s, ratio {tl / ts:.2f} (target <= 1.0); max |w - w_scipy| / max |w| = {np.abs(w - w_ref).max() / np.abs(w_ref).max():.1e}")

    d, k = 4096, 32
    A, B = spiked_problem(d, k)
    subset = [d - k, d - 1]
    (tl, ts), _ = best_times([lambda: eigh_generalized(A, B, k, solver="iterative"), lambda: sla.eigh(A, B, subset_by_index=subset)], rounds)
    w, V = eigh_generalized(A, B, k, solver="iterative")
    w_ref, V_ref = sla.eigh(A, B, subset_by_index=subset)
    print(f"top-k d={d} k={k} spiked: linssl {tl:.2f} s, scipy subset {ts:.2f} s, speedup {ts / tl:.1f} x (target >= 5); "
          f"relative residual linssl {relative_residual(A, B, w, V):.1e} scipy {relative_residual(A, B, w_ref, V_ref):.1e}; "
          f"max |w - w_scipy| / max |w| = {np.abs(w - w_ref[::-1]).max() / np.abs(w_ref).max():.1e}")

    pairs = batch_problems(200, 128)
    (tl, ts), _ = best_times([lambda: eigh_generalized_batch(pairs), lambda: [sla.eigh(A, B) for A, B in pairs]], rounds)
    print(f"batch 200 x d=128: linssl {tl:.3f} s, python loop over scipy {ts:.3f} s, speedup {ts / tl:.2f} x (target >= 1.7)")


if __name__ == "__main__":
    main()
