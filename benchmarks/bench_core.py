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

import time

import numpy as np
import scipy.linalg as sla

import linssl
from linssl.linalg import eigh_generalized, eigh_generalized_batch


def _rng():
    return np.random.default_rng(0)


def moments_data(n=200_000, d=1024, dtype=np.float64):
    """C-ordered standard normal data (n x d)."""
    return _rng().standard_normal((n, d), dtype=np.float64).astype(dtype, copy=False)


def _orthogonal(d, rng):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _with_spectrum(values, rng):
    q = _orthogonal(len(values), rng)
    m = (q * values) @ q.T
    return (m + m.T) / 2


def dense_problem(d):
    """A Wishart-like A and a positive definite B with condition number 1e3."""
    rng = _rng()
    X = rng.standard_normal((d, d))
    A = X @ X.T / d
    B = _with_spectrum(np.logspace(0, 3, d), rng)
    return (A + A.T) / 2, B


def spiked_problem(d=4096, k=32):
    """k well separated eigenvalues (10 to 100) above a bulk in [0.1, 1]; B with condition 100."""
    rng = _rng()
    values = np.concatenate([np.linspace(100.0, 10.0, k), rng.uniform(0.1, 1.0, d - k)])
    return _with_spectrum(values, rng), _with_spectrum(np.logspace(0, 2, d), rng)


def batch_problems(count=200, d=128):
    rng = _rng()
    out = []
    for _ in range(count):
        X, Y = rng.standard_normal((d, 2 * d)), rng.standard_normal((d, 2 * d))
        A, B = X @ X.T / (2 * d), Y @ Y.T / (2 * d) + 0.1 * np.eye(d)
        out.append(((A + A.T) / 2, (B + B.T) / 2))
    return out


def relative_residual(A, B, w, V):
    """max_j ||A v_j - w_j B v_j|| / ((||A||_F + |w_j| ||B||_F) ||v_j||)."""
    R = A @ V - (B @ V) * w
    scale = (np.linalg.norm(A) + np.abs(w) * np.linalg.norm(B)) * np.linalg.norm(V, axis=0)
    return float((np.linalg.norm(R, axis=0) / scale).max())


class Moments:
    params = ["float64", "float32"]
    param_names = ["dtype"]
    number = 1
    repeat = 3
    warmup_time = 0
    timeout = 900

    def setup(self, dtype):
        self.X = moments_data(dtype=np.dtype(dtype))

    def time_linssl_moments(self, dtype):
        linssl.MomentAccumulator(self.X.shape[1]).update(self.X)

    def time_numpy_xtx(self, dtype):
        self.X.T @ self.X

    def track_float32_relative_error(self, dtype):
        """max |G32 - G64| / max |G64| for G = X^T X / n, float32 input against float64 input."""
        X64 = self.X.astype(np.float64)
        acc32, acc64 = linssl.MomentAccumulator(X64.shape[1]), linssl.MomentAccumulator(X64.shape[1])
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
        eigh_generalized(self.A, self.B, method="dense")

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
        eigh_generalized(self.A, self.B, self.k, method="iterative")

    def time_scipy_subset(self):
        sla.eigh(self.A, self.B, subset_by_index=[self.d - self.k, self.d - 1])

    def track_linssl_relative_residual(self):
        w, V = eigh_generalized(self.A, self.B, self.k, method="iterative")
        return relative_residual(self.A, self.B, w, V)

    def track_scipy_relative_residual(self):
        w, V = sla.eigh(self.A, self.B, subset_by_index=[self.d - self.k, self.d - 1])
        return relative_residual(self.A, self.B, w, V)


class Batch:
    number = 1
    repeat = 5
    warmup_time = 0

    def setup(self):
        self.pairs = batch_problems()

    def time_linssl_batch(self):
        eigh_generalized_batch(self.pairs)

    def time_scipy_loop(self):
        for A, B in self.pairs:
            sla.eigh(A, B)


def _best(fns, rounds):
    """Best time of each function over alternating rounds (fairer on a shared machine)."""
    best = [np.inf] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def main(rounds=3):
    bench = Moments()
    bench.setup("float64")
    X64 = bench.X
    X32 = X64.astype(np.float32)
    t64, t_np, t32 = _best(
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
    del X64, X32, bench, acc32, acc64, acc64_orig

    for d in (2048, 4096):
        A, B = dense_problem(d)
        tl, ts = _best([lambda: eigh_generalized(A, B, method="dense"), lambda: sla.eigh(A, B)], rounds)
        w = eigh_generalized(A, B, method="dense")[0][::-1]
        w_ref = sla.eigh(A, B, eigvals_only=True)
        print(f"dense GEP d={d}: linssl {tl:.2f} s, scipy.linalg.eigh(A, B) {ts:.2f} s, ratio {tl / ts:.2f} (target <= 1.0); max |w - w_scipy| / max |w| = {np.abs(w - w_ref).max() / np.abs(w_ref).max():.1e}")

    d, k = 4096, 32
    A, B = spiked_problem(d, k)
    subset = [d - k, d - 1]
    tl, ts = _best([lambda: eigh_generalized(A, B, k, method="iterative"), lambda: sla.eigh(A, B, subset_by_index=subset)], rounds)
    w, V = eigh_generalized(A, B, k, method="iterative")
    w_ref, V_ref = sla.eigh(A, B, subset_by_index=subset)
    print(f"top-k d={d} k={k} spiked: linssl {tl:.2f} s, scipy subset {ts:.2f} s, speedup {ts / tl:.1f} x (target >= 5); "
          f"relative residual linssl {relative_residual(A, B, w, V):.1e} scipy {relative_residual(A, B, w_ref, V_ref):.1e}; "
          f"max |w - w_scipy| / max |w| = {np.abs(w - w_ref[::-1]).max() / np.abs(w_ref).max():.1e}")

    pairs = batch_problems()
    tl, ts = _best([lambda: eigh_generalized_batch(pairs), lambda: [sla.eigh(A, B) for A, B in pairs]], rounds)
    print(f"batch 200 x d=128: linssl {tl:.3f} s, python loop over scipy {ts:.3f} s, speedup {ts / tl:.2f} x (target >= 1.7)")


if __name__ == "__main__":
    main()
