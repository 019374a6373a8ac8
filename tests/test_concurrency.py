"""Concurrency: linssl called from several Python threads at once, with different numbers of Rust
threads, and one call after another.

- Threads: the Rust core releases the GIL (test_moments.py::test_update_releases_the_gil), so
  calls from several Python threads run at the same time; each gets exactly the result of the
  same call made alone (bitwise for the Rust paths).
- Thread count: the results with 1 and with 2 Rust threads (``RAYON_NUM_THREADS``) agree to
  rounding; the tolerances are stated in :func:`test_results_do_not_depend_on_the_number_of_threads`.
- State: nothing from one call (an error, a different d) changes the result of the next.
"""

import itertools
import os
import subprocess
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import linssl
from linssl import MomentAccumulator, linalg
from linssl.metrics import subspace_distance
from linssl.models import JointEmbedding
from linssl.fitting import fit_all


def _data(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.geomspace(3.0, 0.3, d) + 0.2
    Y = X[:, :3] @ rng.standard_normal((3, 2)) + 0.1 * rng.standard_normal((n, 2))
    return X, Y


def _spd(d, seed):
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((d, d))
    return F @ F.T / d + np.eye(d)


def _fit_all(seed):
    X, Y = _data(3000, 24, seed)
    fits = fit_all(X, linssl.Compose([linssl.Mask(0.8), linssl.Gaussian(0.3)]), 4, y=Y)
    return [fits.joint_embedding.components_, fits.joint_embedding.eigenvalues_, fits.reconstruction.decoder_, fits.supervised.coef_]


def _moments(seed):
    X, Y = _data(5000, 32, seed)
    m = linssl.moments(X.astype(np.float32), Y.astype(np.float32))
    return [m.second_moment, m.cross_moment]


def _iterative(seed):
    A, B = _spd(300, seed), _spd(300, seed + 1)
    return list(linalg.eigh_generalized(A, B, 4, solver="iterative"))


def _batch(seed):
    problems = [(_spd(30, seed + i), _spd(30, seed + 10 + i)) for i in range(6)]
    return [solution.W for solution in linalg.joint_embedding_batch(problems, 3)]


def _monte_carlo(seed):
    X, Y = _data(800, 10, seed)
    m = linssl.Custom(lambda x, rng: x * rng.uniform(0.5, 1.5, (len(x), 1)), draws=8, seed=seed).moments(X, Y)
    return [m.S, m.G, m.B]


# Rust-only paths: bitwise identical whether run alone or next to other calls.
TASKS = [(_fit_all, 0), (_moments, 1), (_iterative, 2), (_batch, 3), (_monte_carlo, 4), (_fit_all, 5)]


def _gram(seed):
    X = np.random.default_rng(seed).standard_normal((40, 600))
    est = JointEmbedding(3, augmentation=linssl.Gaussian(1.0), solver="gram").fit(X)
    return [est.components_, est.eigenvalues_]


def test_threads_get_the_results_of_serial_calls():
    serial = [task(seed) for task, seed in TASKS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(task, seed) for task, seed in TASKS * 2]
        concurrent = [f.result() for f in futures]
    for i, got in enumerate(concurrent):
        for a, b in zip(got, serial[i % len(TASKS)]):
            np.testing.assert_array_equal(a, b)


def test_gram_path_in_threads_matches_serial_to_rounding():
    # The Gram path also multiplies with NumPy, whose BLAS may split a product differently when
    # its own threads are busy: equal to 1e-13 relative instead of bitwise.
    serial = [_gram(seed) for seed in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(_gram, range(4)))
    for got, want in zip(concurrent, serial):
        assert subspace_distance(got[0], want[0]) < 1e-12
        np.testing.assert_allclose(got[1], want[1], rtol=1e-13)


def test_threads_sharing_one_accumulator_add_every_chunk():
    X, Y = _data(40_000, 16, 7)
    acc = MomentAccumulator(16, 2)
    chunks = [(X[i : i + 2500], Y[i : i + 2500]) for i in range(0, len(X), 2500)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda pair: acc.update(*pair), chunks))
    assert acc.n == len(X)
    # Chunks arrive in any order: equal to the one-pass sums up to the rounding of that order.
    np.testing.assert_allclose(acc.xtx, X.T @ X, rtol=1e-12)
    np.testing.assert_allclose(acc.xty, X.T @ Y, rtol=1e-12)


def test_concurrent_merges_are_atomic():
    # Three merges race (a += b, b += a, a += a), released together by a barrier, many times over.
    # Each merge is atomic, so the outcome is that of one of the six serial orders of the merges,
    # and no order of locks deadlocks.
    X, Y = _data(200, 64, 8)
    serial = set()
    for order in itertools.permutations("ABC"):
        na, nb = 100, 100
        for op in order:
            na, nb = {"A": (na + nb, nb), "B": (na, nb + na), "C": (2 * na, nb)}[op]
        serial.add((na, nb))
    start = threading.Barrier(3)
    with ThreadPoolExecutor(max_workers=3) as pool:
        for _ in range(300):
            a, b = MomentAccumulator(64, 2), MomentAccumulator(64, 2)
            a.update(X[:100], Y[:100])
            b.update(X[100:], Y[100:])

            def race(merge):
                start.wait()
                merge()

            list(pool.map(race, [lambda: a.merge(b), lambda: b.merge(a), lambda: a.merge(a)]))
            assert (a.n, b.n) in serial


_THREAD_COUNT_SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
import test_concurrency as tc
import linssl
from linssl import linalg

X, Y = tc._data(6000, 40, 11)
out = {}
out["second64"] = linssl.moments(X, Y).second_moment
out["cross64"] = linssl.moments(X, Y).cross_moment
out["second32"] = linssl.moments(X.astype(np.float32)).second_moment
fits = linssl.fit_all(X, linssl.Gaussian(np.linspace(0.1, 1.0, 40)), 5, y=Y)
out["omega"] = fits.joint_embedding.eigenvalues_
out["W"] = fits.joint_embedding.components_
out["phi"] = fits.reconstruction.singular_values_
out["E"] = fits.reconstruction.encoder_
out["V"] = fits.supervised.coef_
out["losses"] = np.array([f.loss_ for f in fits])
w, V = linalg.eigh_generalized(tc._spd(300, 2), tc._spd(300, 3), 4, solver="iterative")
out["w_iterative"], out["V_iterative"] = w, V
out["batch"] = np.array([s.omega for s in linalg.joint_embedding_batch([(tc._spd(30, i), tc._spd(30, i + 9)) for i in range(8)], 3)])
np.savez(sys.argv[1], **out)
"""


def _run_with_threads(threads, path):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", _THREAD_COUNT_SCRIPT, str(path), os.path.dirname(__file__)], env=env, check=True, timeout=300)
    return dict(np.load(path))


def _relative(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_results_do_not_depend_on_the_number_of_threads(tmp_path):
    """1 against 2 Rust threads (``RAYON_NUM_THREADS``; NumPy's BLAS held at 1 thread in both).

    Threads change only the order of summation: the accumulator gives each thread its own range
    of rows, and the batched solvers and faer's kernels split their work by thread count.
    Tolerances (max-norm, relative to the largest entry):

    - float64 moments: 1e-14 (a different split of n = 6000 row sums; measured 2e-16);
    - float32 moments: 1e-6 (float32 partial sums over different row ranges; linssl's stated
      float32 accuracy, measured 1.5e-7);
    - eigenvalues, losses, batched eigenvalues: 1e-12 relative; supervised coefficients: 1e-11
      (cond(S) ~ 1e2 times the moments' 1e-14; measured 3e-15 and below);
    - eigenvectors: subspace distance 1e-10 (eigengaps of order 0.1 here; measured 4e-14).
    """
    one = _run_with_threads(1, tmp_path / "one.npz")
    two = _run_with_threads(2, tmp_path / "two.npz")
    assert _relative(two["second64"], one["second64"]) < 1e-14
    assert _relative(two["cross64"], one["cross64"]) < 1e-14
    assert _relative(two["second32"], one["second32"]) < 1e-6
    for key in ("omega", "phi", "losses", "w_iterative", "batch"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-12, err_msg=key)
    assert _relative(two["V"], one["V"]) < 1e-11
    for key in ("W", "E"):
        assert subspace_distance(two[key], one[key]) < 1e-10, key
    assert subspace_distance(two["V_iterative"].T, one["V_iterative"].T) < 1e-10


# --- no state leaks from one call to the next ------------------------------------------------------


def test_a_failed_call_does_not_change_the_next_result():
    X, _ = _data(500, 8, 12)
    aug = linssl.Gaussian(0.5)
    fresh = JointEmbedding(3, augmentation=aug).fit(X)
    bad = X.copy()
    bad[4, 4] = np.nan
    failures = [
        lambda est: est.fit(bad),  # NonFiniteError
        lambda est: est.fit(np.hstack([X, X[:, :1]]), augmentation=linssl.Gaussian(0.0)),  # LinAlgError
        lambda est: est.fit(X + 1j),  # DtypeError
        lambda est: linssl.second_moment(np.zeros((2, 400_000), np.float32)),  # MemoryError
        lambda est: linalg.eigh_generalized(np.eye(3), -np.eye(3)),  # LinAlgError in the core
    ]
    est = JointEmbedding(3, augmentation=aug)
    for fail in failures:
        with pytest.raises(Exception):
            fail(est)
        est.fit(X)
        np.testing.assert_array_equal(est.components_, fresh.components_)
        np.testing.assert_array_equal(est.eigenvalues_, fresh.eigenvalues_)


def test_a_fit_with_another_d_does_not_change_the_next_result():
    X6, _ = _data(300, 6, 13)
    X10, _ = _data(300, 10, 14)
    fresh = JointEmbedding(2, augmentation=linssl.Mask(0.7)).fit(X6)
    est = JointEmbedding(2, augmentation=linssl.Mask(0.7)).fit(X10)
    est.fit(X6)
    assert est.n_features_in_ == 6
    np.testing.assert_array_equal(est.components_, fresh.components_)
    np.testing.assert_array_equal(est.transform(X6), fresh.transform(X6))
    with pytest.raises(ValueError, match="features"):
        est.transform(X10)


def test_calls_leave_numpy_and_warning_state_as_they_found_it():
    X, Y = _data(200, 5, 15)
    errstate, filters = np.geterr(), list(warnings.filters)
    fit_all(X, linssl.Gaussian(0.5), 2, y=Y)
    with pytest.raises(ValueError):
        linssl.moments(np.where(np.eye(200, 5) > 0, np.inf, X))
    with pytest.warns(linssl.NumericalWarning):
        JointEmbedding(3, augmentation=linssl.Gaussian(0.5)).fit(X[:2])
    linssl.checks.check_solution(JointEmbedding(2, augmentation=linssl.Gaussian(0.5)).fit(X), linssl.Gaussian(0.5).moments(X))
    assert np.geterr() == errstate
    assert list(warnings.filters) == filters
