"""Out-of-core data: memory maps, linssl.load_array files (big-endian IDX included) and chunk
iterators stream through the accumulator a chunk at a time, and give what NumPy gives on the same
data in memory; a pass over a memory-mapped file ten times larger than a memory bound stays within
it (measured in a subprocess from its own peak resident memory)."""

import json
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import linssl
from linssl import _streaming
from linssl.bench import reference

_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B, np.dtype(np.float32): 0x0D}


def _write_idx(path, array):
    """An MNIST-style IDX file: magic (0, 0, type, ndim), big-endian dimensions, big-endian data."""
    header = bytes([0, 0, _IDX_CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.fixture(scope="module")
def images():
    """uint8 'images' (n, 6, 5) with one-hot labels, like a small MNIST."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(3001, 6, 5), dtype=np.uint8)
    y = np.eye(4)[rng.integers(0, 4, size=3001)]
    return X, y


@pytest.fixture
def stored(tmp_path, images):
    """The same data as a .npy (read memory-mapped), IDX files of three dtypes and a .npz."""
    X, _ = images
    flat = X.reshape(len(X), -1)
    np.save(tmp_path / "x.npy", flat.astype(np.float64))
    np.save(tmp_path / "x32.npy", flat.astype(np.float32))
    np.savez(tmp_path / "x.npz", images=flat)
    for dtype in (np.uint8, np.int16, np.float32):
        _write_idx(tmp_path / f"images-{np.dtype(dtype).name}-idx3-ubyte", X.astype(dtype))
    return tmp_path


@pytest.mark.parametrize(
    "name",
    ["x.npy", "x32.npy", "x.npz", "images-uint8-idx3-ubyte", "images-int16-idx3-ubyte", "images-float32-idx3-ubyte"],
)
@pytest.mark.parametrize("chunk_size", [None, 700])
def test_moments_of_files_equal_numpy(stored, images, name, chunk_size):
    X = linssl.load_array(stored / name)
    assert isinstance(X, np.memmap)
    flat, y = images[0].reshape(3001, -1).astype(np.float64), images[1]
    m = linssl.moments(X, y, chunk_size=chunk_size)
    # Integer data convert exactly; float32 data are multiplied in float32 over at most 8192
    # rows before reaching the float64 sums (see test_moments), hence the looser bound.
    tol = 1e-5 if X.dtype == np.float32 else 1e-12  # big-endian float32 (IDX) is read as float64
    assert m.n == 3001
    assert _rel(m.second_moment, flat.T @ flat / 3001) < tol
    assert _rel(m.cross_moment, flat.T @ y / 3001) < tol
    assert _rel(m.mean, flat.mean(axis=0)) < 1e-12
    assert _rel(linssl.second_moment(X, chunk_size=chunk_size), flat.T @ flat / 3001) < tol


def test_non_float_maps_are_converted_one_chunk_at_a_time(stored):
    X = linssl.load_array(stored / "images-uint8-idx3-ubyte")
    chunks = list(_streaming.iter_chunks(X, chunk_size=1000))
    assert [c.shape for c, _ in chunks] == [(1000, 30)] * 3 + [(1, 30)]
    assert all(c.dtype == np.float64 for c, _ in chunks)
    big_endian = linssl.load_array(stored / "images-int16-idx3-ubyte")
    assert big_endian.dtype.byteorder == ">"
    (c, _), *_ = _streaming.iter_chunks(big_endian, chunk_size=10)
    assert c.dtype == np.float64 and c.dtype.isnative


def test_iterators_of_chunks_of_any_real_dtype(images):
    X, y = images
    flat = X.reshape(3001, -1)
    pairs = ((flat[i : i + 400], y[i : i + 400]) for i in range(0, 3001, 400))
    m = linssl.moments(pairs)
    F = flat.astype(np.float64)
    assert _rel(m.second_moment, F.T @ F / 3001) < 1e-12
    assert _rel(m.cross_moment, F.T @ y / 3001) < 1e-12
    # Lists of chunks work too; float32 chunks stay float32.
    m32 = linssl.moments([F[:1500].astype(np.float32), F[1500:].astype(np.float32)])
    assert _rel(m32.second_moment, F.T @ F / 3001) < 1e-5


def test_estimators_fit_memory_maps_and_iterators(stored, images):
    X = linssl.load_array(stored / "images-uint8-idx3-ubyte")
    flat, y = images[0].reshape(3001, -1).astype(np.float64), images[1]
    aug = linssl.Gaussian(50.0)
    ref = reference.gaussian_moments(flat, 50.0, y)
    je_ref = reference.joint_embedding(ref.S, ref.G, 5)
    rc_ref = reference.reconstruction(ref.S, ref.C, ref.trace_xx, 5)
    sl_ref = reference.supervised(ref.S, ref.B, ref.trace_yy)
    chunks = lambda: ((flat[i : i + 512].astype(np.uint8), y[i : i + 512]) for i in range(0, 3001, 512))  # noqa: E731
    for data, targets in ((X, y), (chunks(), None)):
        je = linssl.JointEmbedding(5, augmentation=aug).fit(data)
        np.testing.assert_allclose(je.eigenvalues_, je_ref.omega, rtol=1e-10)
        fits = linssl.fit_all(data if targets is not None else chunks(), aug, k=5, y=targets)
        np.testing.assert_allclose(fits.reconstruction.loss_, rc_ref.loss, rtol=1e-10)
        np.testing.assert_allclose(fits.joint_embedding.loss_, je_ref.loss, rtol=1e-10)
        if targets is not None:
            np.testing.assert_allclose(fits.supervised.coef_, sl_ref.V, rtol=1e-8, atol=1e-12)
    sl = linssl.Supervised(augmentation=aug).fit(X, y)
    np.testing.assert_allclose(sl.loss_, sl_ref.loss, rtol=1e-10)


@pytest.mark.parametrize("aug", [linssl.Gaussian(3.0), linssl.Mask(0.7), linssl.Compose([linssl.Mask(0.5), linssl.Gaussian(1.0)])])
def test_augmentation_moments_of_memory_maps(stored, images, aug):
    X = linssl.load_array(stored / "images-uint8-idx3-ubyte")
    flat = images[0].reshape(3001, -1).astype(np.float64)
    m = aug.moments(X, chunk_size=999)
    exact = aug.moments(flat)  # in-memory, checked against paper.md's formulas in test_augment
    for name in ("S", "G", "C"):
        assert _rel(getattr(m, name), getattr(exact, name)) < 1e-12, name
    if isinstance(aug, linssl.Gaussian):
        ref = reference.gaussian_moments(flat, 3.0)
        assert _rel(m.S, ref.S) < 1e-12


def test_monte_carlo_augmentation_of_a_memory_map_equals_in_memory(stored, images):
    # Same chunks, same seed: the streamed file must give exactly the in-memory estimate.
    X = linssl.load_array(stored / "images-uint8-idx3-ubyte")
    flat = images[0].reshape(3001, -1).astype(np.float64)
    scale = linssl.Custom(lambda x, rng: x * rng.uniform(0.5, 1.5, size=(len(x), 1)), draws=4, seed=3)
    a, b = scale.moments(X), scale.moments(flat)
    np.testing.assert_array_equal(a.S, b.S)
    np.testing.assert_array_equal(a.C, b.C)


def test_copy_on_write_maps_keep_their_modifications(tmp_path):
    # Pages of a mode="c" map hold the caller's private changes: they must not be released.
    rng = np.random.default_rng(1)
    np.save(tmp_path / "a.npy", rng.standard_normal((5000, 8)))
    X = np.load(tmp_path / "a.npy", mmap_mode="c")
    X[:] = 2.0
    m = linssl.moments(X, chunk_size=100)
    np.testing.assert_allclose(m.second_moment, np.full((8, 8), 4.0), rtol=1e-14)


def test_progress_bar_is_shown_for_long_passes_only(monkeypatch, capsys):
    X = np.ones((2000, 5))
    linssl.moments(X)
    linssl.moments(X, progress=False)
    assert "linssl moments" not in capsys.readouterr().err
    linssl.moments(X, progress=True)
    assert "linssl moments" in capsys.readouterr().err
    # Over the threshold, by default: for arrays (known size) and iterables (once seen).
    monkeypatch.setattr(_streaming, "PROGRESS_ELEMENTS", 5000)
    linssl.moments(X)
    assert "2.00k/2.00k" in capsys.readouterr().err
    linssl.moments(iter(np.array_split(X, 10)))
    assert "linssl moments" in capsys.readouterr().err
    linssl.moments(X, progress=False)
    assert "linssl moments" not in capsys.readouterr().err


def test_bad_streams_are_reported():
    with pytest.raises(ValueError, match="chunk_size must be a positive"):
        linssl.moments(np.ones((5, 2)), chunk_size=0)
    with pytest.raises(ValueError, match="same number of columns"):
        linssl.moments([np.ones((5, 2)), np.ones((5, 3))])
    with pytest.raises(ValueError, match="2-D"):
        linssl.moments([np.ones(5)])
    with pytest.raises(TypeError, match="real numbers"):
        linssl.moments([np.ones((5, 2), dtype=complex)])
    with pytest.raises(ValueError, match="y chunk"):
        linssl.moments([(np.ones((5, 2)), np.ones(4))])
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        linssl.moments(np.ones((5, 2)), dtype=np.int32)
    with pytest.raises(ValueError, match="client= applies to Dask arrays"):
        linssl.moments(np.ones((5, 2)), client=object())
    with pytest.raises(ValueError, match="no rows"):
        linssl.moments(iter([]))


#: Bound asserted on the growth of resident memory during a pass over a memory-mapped file.
RSS_LIMIT = 32 << 20
#: Rows of a repeated block: the file is 10 x RSS_LIMIT, its moments known exactly from the block.
BLOCK, D = 4096, 256

_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import linssl

    def resident():  # current resident set size, bytes
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    X = np.load(sys.argv[1], mmap_mode="r")
    before = resident()
    model = linssl.JointEmbedding(8, augmentation=linssl.Gaussian(1.0)).fit(X)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"growth": peak - before, "before": before, "peak": peak, "omega": model.eigenvalues_.tolist()}))
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm and ru_maxrss in KiB (Linux)")
def test_peak_memory_of_a_pass_over_a_file_ten_times_the_bound(tmp_path):
    rng = np.random.default_rng(0)
    block = rng.standard_normal((BLOCK, D)).astype(np.float32)
    repeats = -(-10 * RSS_LIMIT // block.nbytes)
    path = tmp_path / "big.npy"
    with open(path, "wb") as f:  # written block by block: this process never holds the file either
        header = {"descr": np.lib.format.dtype_to_descr(block.dtype), "fortran_order": False, "shape": (BLOCK * repeats, D)}
        np.lib.format.write_array_header_1_0(f, header)
        for _ in range(repeats):
            f.write(block.tobytes())
    assert path.stat().st_size >= 10 * RSS_LIMIT
    # Linux carries the high-water mark of the process image replaced by exec into ru_maxrss,
    # and a child of pytest starts as (a vfork of) pytest: a bare interpreter in between keeps
    # pytest's own memory out of the child's measurement.
    launch = "import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-c'] + sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", launch, _CHILD, str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["growth"] < RSS_LIMIT, f"resident memory grew by {report['growth'] / 2**20:.0f} MiB during the pass: {report}"
    # ...and the pass was right: the file's moments are those of the block.
    B = block.astype(np.float64)
    ref = reference.gaussian_moments(B, 1.0)
    omega = reference.joint_embedding(ref.S, ref.G, 8).omega
    np.testing.assert_allclose(report["omega"], omega, rtol=1e-5)
