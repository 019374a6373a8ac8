"""The streaming accumulator (linssl.MomentAccumulator) against NumPy products."""

import threading

import numpy as np
import pytest

import linssl
from linssl import MomentAccumulator


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("order", ["C", "F"])
def test_split_accumulators_merged_equal_one_pass(order):
    rng = np.random.default_rng(0)
    X = np.asarray(rng.standard_normal((5000, 33)) + 1.0, order=order)
    Y = np.asarray(rng.standard_normal((5000, 4)), order=order)
    whole = MomentAccumulator(33, 4)
    whole.update(X, Y)
    parts = []
    for lo, hi in [(0, 1), (1, 1700), (1700, 1700), (1700, 4096), (4096, 5000)]:
        acc = MomentAccumulator(33, 4)
        acc.update(X[lo:hi], Y[lo:hi])
        parts.append(acc)
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    assert merged.n == whole.n == 5000
    for name in ("xtx", "xty", "yty", "sum_x", "sum_y"):
        assert _rel(getattr(merged, name), getattr(whole, name)) < 1e-13, name
    # ...and both equal the direct NumPy products.
    assert _rel(whole.xtx, X.T @ X) < 1e-13
    assert _rel(whole.xty, X.T @ Y) < 1e-13
    assert _rel(whole.yty, Y.T @ Y) < 1e-13
    assert _rel(whole.sum_x, X.sum(axis=0)) < 1e-13
    np.testing.assert_array_equal(whole.xtx, whole.xtx.T)


@pytest.mark.parametrize("rows", [1, 511, 512, 513, 2047, 4099])
def test_block_boundaries_and_thread_splits(rows):
    # Row-major blocks are copied 512 rows at a time and split across threads from 2048 rows on.
    rng = np.random.default_rng(rows)
    X = rng.standard_normal((rows, 21))
    acc = MomentAccumulator(21)
    acc.update(X)
    assert _rel(acc.xtx, X.T @ X) < 1e-13
    assert _rel(acc.sum_x, X.sum(axis=0)) < 1e-12


def test_float32_accuracy_against_float64():
    # float32 products are summed in float32 over at most 8192 rows, then in float64.
    rng = np.random.default_rng(1)
    X32 = (rng.standard_normal((60_000, 48)) + 0.5).astype(np.float32)
    acc = MomentAccumulator(48)
    acc.update(X32)
    X64 = X32.astype(np.float64)
    exact = X64.T @ X64
    assert np.linalg.norm(acc.xtx - exact) / np.linalg.norm(exact) < 1e-6
    assert _rel(acc.xtx, exact) < 1e-5
    assert _rel(acc.sum_x, X64.sum(axis=0)) < 1e-12  # sums are always taken in float64


def test_float32_targets():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3000, 10)).astype(np.float32)
    Y = rng.standard_normal((3000, 2)).astype(np.float32)
    acc = MomentAccumulator(10, 2)
    acc.update(X, Y)
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    assert _rel(acc.xty, X64.T @ Y64) < 1e-5
    assert _rel(acc.yty, Y64.T @ Y64) < 1e-5


def test_moments_from_chunk_iterator_equal_one_array():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2500, 12))
    y = rng.standard_normal(2500)
    chunks = ((X[i : i + 300], y[i : i + 300]) for i in range(0, 2500, 300))
    a = linssl.moments(chunks)
    b = linssl.moments(X, y)
    assert a.n == b.n == 2500
    np.testing.assert_allclose(a.second_moment, X.T @ X / 2500, rtol=1e-12)
    np.testing.assert_allclose(a.cross_moment, b.cross_moment, rtol=1e-12)


def test_update_releases_the_gil():
    # Another Python thread keeps running while a large update is in Rust.
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200_000, 64))
    ticks = []
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            ticks.append(1)

    t = threading.Thread(target=counter)
    t.start()
    try:
        before = len(ticks)
        acc = MomentAccumulator(64)
        acc.update(X)
        during = len(ticks) - before
    finally:
        stop.set()
        t.join()
    assert during > 0


def test_shape_and_type_errors():
    acc = MomentAccumulator(3, 1)
    with pytest.raises(ValueError, match="d = 3"):
        acc.update(np.zeros((4, 2)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="expects targets"):
        acc.update(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="y chunk"):
        acc.update(np.zeros((4, 3)), np.zeros((5, 1)))
    with pytest.raises(ValueError, match="cannot merge"):
        acc.merge(MomentAccumulator(3))
    with pytest.raises(TypeError, match="same float dtype; X is float64 and y is float32"):
        acc.update(np.zeros((4, 3)), np.zeros((4, 1), dtype=np.float32))
    acc.update(np.ones((4, 3), dtype=np.int64), np.ones((4, 1)))  # real dtypes are converted
    assert acc.n == 4 and acc.xtx[0, 0] == 4.0
    with pytest.raises(TypeError, match="complex128"):
        acc.update(np.zeros((4, 3), dtype=complex), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="at least 1"):
        MomentAccumulator(0)
