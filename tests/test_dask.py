"""Dask: moments of Dask arrays reduced on a real two-process cluster, estimators and sweeps on it.

The cluster is a ``dask.distributed.LocalCluster`` with two worker processes (not the synchronous
scheduler): accumulators are built in the workers, pickled between processes and merged by a
tree reduction. Results must equal the in-memory path to 1e-10 relative (the only difference is
the order of float64 summation).
"""

import pickle

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from dask.distributed import Client, LocalCluster, get_task_stream

import linssl
from linssl import MomentAccumulator
from linssl.bench import reference
from linssl.study import sweep
from linssl.metrics import subspace_distance

RTOL = 1e-10


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster) as c:
            yield c


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n, d = 24_000, 20
    X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 0.5
    y = np.eye(3)[rng.integers(0, 3, size=n)]
    return X, y


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_accumulators_pickle_exactly_and_validate_their_state():
    rng = np.random.default_rng(1)
    acc = MomentAccumulator(6, 2)
    acc.update(rng.standard_normal((50, 6)), rng.standard_normal((50, 2)))
    back = pickle.loads(pickle.dumps(acc))
    assert (back.d, back.l, back.n) == (6, 2, 50)
    for name in ("sum_x", "sum_y", "xtx", "xty", "yty"):
        np.testing.assert_array_equal(getattr(back, name), getattr(acc, name))
    state = acc._acc.__getstate__()  # the Rust accumulator's own state
    broken = MomentAccumulator(1)._acc
    with pytest.raises(ValueError, match="xtx has shape"):
        broken.__setstate__({**state, "xtx": np.zeros((5, 6))})
    with pytest.raises(TypeError, match='"sum_x" must be a 1-D float64 array'):
        broken.__setstate__({**state, "sum_x": "abc"})
    with pytest.raises(ValueError, match="no \"yty\" entry"):
        broken.__setstate__({k: v for k, v in state.items() if k != "yty"})


def test_moments_on_the_cluster_equal_the_in_memory_pass(client, data):
    X, y = data
    # Blocks of rows and of columns: the feature axis is rechunked to one block.
    Xd = da.from_array(X, chunks=(1500, 8))
    with get_task_stream(client) as tasks:
        m = linssl.moments(Xd, y, client=client)
    local = linssl.moments(X, y)
    assert m.n == local.n == len(X)
    for name in ("second_moment", "cross_moment", "mean", "y_second_moment"):
        assert _rel(getattr(m, name), getattr(local, name)) < RTOL, name
    assert _rel(m.second_moment, X.T @ X / len(X)) < RTOL
    # The blocks were accumulated in both worker processes and merged up a tree.
    ran = [t for t in tasks.data if "linssl-moments" in str(t["key"])]
    assert len({t["worker"] for t in ran}) == 2
    assert len(ran) > Xd.numblocks[0] + 1


def test_default_client_dtypes_and_targets_as_dask(client, data):
    X, y = data
    ints = (np.abs(X) * 10).astype(np.uint8)
    m = linssl.moments(da.from_array(ints, chunks=(5000, 20)), da.from_array(y[:, 0], chunks=5000))  # default client
    F = ints.astype(np.float64)
    assert _rel(m.second_moment, F.T @ F / len(F)) < RTOL
    assert _rel(m.cross_moment[:, 0], F.T @ y[:, 0] / len(F)) < RTOL
    m32 = linssl.moments(da.from_array(X, chunks=(5000, 20)), dtype=np.float32)
    assert 1e-12 < _rel(m32.second_moment, X.T @ X / len(X)) < 1e-5  # float32 products in the workers (see test_float32)
    with pytest.raises(ValueError, match="y must have 24000 rows"):
        linssl.moments(da.from_array(X, chunks=(5000, 20)), y[:10])


def test_estimators_fit_dask_arrays_like_in_memory_arrays(client, data):
    X, y = data
    Xd = da.from_array(X, chunks=(4000, 20))
    aug = linssl.Compose([linssl.Mask(0.8), linssl.Gaussian(0.5)])
    for cls in (linssl.JointEmbedding, linssl.Reconstruction):
        on_cluster, local = cls(4, augmentation=aug).fit(Xd), cls(4, augmentation=aug).fit(X)
        assert on_cluster.loss_ == pytest.approx(local.loss_, rel=RTOL)
        assert subspace_distance(on_cluster.components_, local.components_) < 1e-8
    sl, sl_local = linssl.Supervised(augmentation=aug).fit(Xd, y), linssl.Supervised(augmentation=aug).fit(X, y)
    assert _rel(sl.coef_, sl_local.coef_) < RTOL
    fits = linssl.fit_all(Xd, aug, k=4, y=y)
    ref = reference.mask_moments(X, 0.8, y)  # Compose: mask, then noise adds 0.5 I to S
    ref_je = reference.joint_embedding(ref.S + 0.5 * np.eye(20), ref.G, 4)
    np.testing.assert_allclose(fits.joint_embedding.eigenvalues_, ref_je.omega, rtol=RTOL)
    assert fits.supervised.loss_ == pytest.approx(sl_local.loss_, rel=RTOL)


def test_monte_carlo_augmentation_streams_dask_blocks(client, data):
    X, _ = data
    scale = linssl.Custom(lambda x, rng: x * rng.uniform(0.5, 1.5, size=(len(x), 1)), draws=4)
    on_blocks = scale.moments(da.from_array(X, chunks=(6000, 20)))
    local = scale.moments(X, chunk_size=6000)  # the same chunks in the same order: the same draws
    np.testing.assert_array_equal(on_blocks.S, local.S)


GRID = {"d": [16], "k": [4], "n": [150, 400], "alpha": [0.1, 10.0], "gamma_max": [1e6]}


def _deterministic(df):
    return df.drop(columns=list(sweep.TIMING_COLUMNS)).sort_values(["n", "alpha", "paradigm"]).reset_index(drop=True)


@pytest.mark.parametrize("dtype", [None, "float32"])
def test_sweep_on_the_cluster_equals_the_local_sweep(client, tmp_path, dtype):
    on_cluster = sweep.run(GRID, executor="dask", client=client, progress=False, dtype=dtype, out=tmp_path / "s")
    local = sweep.run(GRID, progress=False, dtype=dtype)
    pd.testing.assert_frame_equal(_deterministic(on_cluster), _deterministic(local), rtol=RTOL)
