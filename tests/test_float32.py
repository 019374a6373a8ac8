"""float32 end to end: float32 chunks reach the accumulator from every kind of input, and the
models agree with float64 within bounds derived from float32 rounding and perturbation theory.

Tolerances. With unit roundoff ``u = 2**-24``, products of rounded inputs summed in float32 over at
most 8192 rows (then in float64) have a normwise relative error of order ``sqrt(8192) u = 5.4e-6``
(the probabilistic rounding-error bound of Higham and Mary, 2019). That perturbation ``dS, dG`` of
the moments moves the eigenvalues of the pencil ``(G, S)`` by at most
``(||dG|| + |omega| ||dS||) / lambda_min(S)`` to first order (``w^T S w = 1`` gives
``||w||^2 <= 1 / lambda_min(S)``), and the supervised map ``V = B S^{-1}`` by at most
``cond(S) (||dS|| / ||S|| + ||dB|| / ||B||)`` relative. The tests use the moment differences they
measure in those bounds, with a factor 2 for second-order terms.
"""

import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg as sla

import linssl
from linssl import accumulate
from linssl.study import sweep
from linssl.study.config import load_study

U = 2.0**-24
MOMENT_BOUND = np.sqrt(8192) * U


class _Recorder:
    """Stands in for MomentAccumulator and records the dtype and size of every chunk it gets."""

    seen: list = []

    def __init__(self, d, l=0):
        self._acc = linssl.MomentAccumulator(d, l)

    def update(self, x, y=None):
        _Recorder.seen.append((x.dtype, x.shape[0], None if y is None else y.dtype))
        self._acc.update(x, y)

    def __getattr__(self, name):
        return getattr(self._acc, name)


@pytest.fixture
def recorder(monkeypatch):
    monkeypatch.setattr(accumulate, "MomentAccumulator", _Recorder)
    _Recorder.seen = []
    return _Recorder.seen


def test_float32_chunks_reach_the_accumulator_from_every_input(tmp_path, recorder):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, 12))
    y = rng.standard_normal(6000)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "u8.npy", (np.abs(X) * 20).astype(np.uint8))
    inputs = {
        "array": lambda: X,
        "memmap": lambda: np.load(tmp_path / "x.npy", mmap_mode="r"),
        "uint8 file": lambda: linssl.load_array(tmp_path / "u8.npy"),
        "iterator": lambda: iter(np.array_split(X, 7)),
    }
    aug = linssl.Gaussian(1.0)
    for name, data in inputs.items():
        calls = [
            lambda: linssl.moments(data(), dtype=np.float32, chunk_size=2500),
            lambda: aug.moments(data(), dtype=np.float32),
            lambda: linssl.JointEmbedding(3, augmentation=aug, dtype=np.float32).fit(data()),
            lambda: linssl.fit_all(data(), aug, k=3, dtype=np.float32),
        ]
        for call in calls:
            recorder.clear()
            call()
            assert recorder and {dtype for dtype, _, _ in recorder} == {np.dtype(np.float32)}, name
    recorder.clear()
    linssl.Supervised(augmentation=aug, dtype=np.float32).fit(np.load(tmp_path / "x.npy", mmap_mode="r"), y)
    assert {(x, t) for x, _, t in recorder} == {(np.dtype(np.float32), np.dtype(np.float32))}
    recorder.clear()
    linssl.moments(X)  # the default stays float64, read in place
    assert recorder == [(np.dtype(np.float64), 6000, None)]


def test_float32_monte_carlo_products():
    # A deterministic "augmentation" x -> 2x has S = G = 4 X^T X / n exactly (NumPy reference).
    X = np.random.default_rng(3).standard_normal((5000, 9))
    double = linssl.Custom(lambda x: 2 * x, draws=2, batches=1)
    exact = 4 * X.T @ X / len(X)
    single = double.moments(X, dtype=np.float32)
    assert 0 < np.linalg.norm(single.S - exact) / np.linalg.norm(exact) < MOMENT_BOUND
    assert np.linalg.norm(double.moments(X).S - exact) / np.linalg.norm(exact) < 1e-14


@pytest.fixture(scope="module", params=[(1e6, 1.0), (1e3, 0.1)], ids=["strong-noise", "weak-noise"])
def pair(request):
    """The paper's model (its Section 4.1): float64 and float32 moments of one corrupted sample."""
    gamma_max, alpha = request.param
    model = linssl.SignalNoiseModel.random(k=10, d=40, gamma_max=gamma_max, seed=0)
    sample = model.sample(20_000, seed=0)
    y = np.eye(model.n_classes)[sample.labels]
    aug = model.augmentation(alpha)
    return aug.moments(sample.corrupted, y), aug.moments(sample.corrupted, y, dtype=np.float32)


def _norm(A):
    return np.linalg.norm(A, 2)


def test_float32_moments_within_the_rounding_bound(pair):
    m64, m32 = pair
    for name in ("S", "G", "C", "B"):
        a, b = getattr(m32, name), getattr(m64, name)
        assert 0 < np.linalg.norm(a - b) / np.linalg.norm(b) < MOMENT_BOUND, name  # > 0: float32 was used
    assert abs(m32.trace_xx - m64.trace_xx) / m64.trace_xx < MOMENT_BOUND


def test_float32_joint_embedding_and_reconstruction_within_perturbation_bounds(pair):
    m64, m32 = pair
    k = 10
    lam_min = sla.eigvalsh(m64.S)[0]
    dS = _norm(m32.S - m64.S)
    for cls, left in ((linssl.JointEmbedding, lambda m: m.G), (linssl.Reconstruction, lambda m: m.C.T @ m.C)):
        f64, f32 = cls(k).fit_moments(m64), cls(k).fit_moments(m32)
        values = (lambda f: f.eigenvalues_) if cls is linssl.JointEmbedding else (lambda f: f.singular_values_**2)
        bound = 2 * (_norm(left(m32) - left(m64)) + np.abs(values(f64)) * dS) / lam_min
        assert np.all(np.abs(values(f32) - values(f64)) <= bound), cls.__name__
        # The losses are sums of those eigenvalues (plus trace_xx for reconstruction).
        loss_bound = 2 * bound.sum() + abs(m32.trace_xx - m64.trace_xx)
        assert abs(f32.loss_ - f64.loss_) <= loss_bound, cls.__name__
        assert f32.components_.dtype == np.float64  # the solve itself is float64


def test_float32_supervised_within_the_linear_system_bound(pair):
    m64, m32 = pair
    s64, s32 = linssl.Supervised().fit_moments(m64), linssl.Supervised().fit_moments(m32)
    cond = np.linalg.cond(m64.S)
    bound = 2 * cond * (_norm(m32.S - m64.S) / _norm(m64.S) + _norm(m32.B - m64.B) / _norm(m64.B))
    assert _norm(s32.coef_ - s64.coef_) / _norm(s64.coef_) <= bound


GRID = {"d": [16], "k": [4], "n": [300], "alpha": [0.1, 10.0], "gamma_max": [1e6]}


def test_sweeps_in_float32(tmp_path):
    single = sweep.run(GRID, progress=False, dtype="float32", out=tmp_path / "f32")
    double = sweep.run(GRID, progress=False, out=tmp_path / "f64")
    assert not single["loss"].equals(double["loss"])  # the products really were float32...
    # ...and the losses, sums of eigenvalues, agree as the estimator bounds above allow (those
    # bounds evaluate to about 1e-4 relative on such models; the measured gap is far smaller).
    np.testing.assert_allclose(single["loss"], double["loss"], rtol=1e-4)
    assert '"dtype": "float32"' in (tmp_path / "f32" / "study.json").read_text()
    with pytest.raises(sweep.StoreError, match="different study"):
        sweep.run(GRID, progress=False, dtype="float32", out=tmp_path / "f64")
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'; got 'half'"):
        sweep.run(GRID, progress=False, dtype="half")


def test_study_files_and_the_command_take_a_dtype(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('[grid]\nd = [10]\nk = [3]\nn = [100]\n\n[output]\nfigure = false\n\n[run]\ndtype = "float32"\n')
    assert load_study(path).run.dtype == "float32"
    out = subprocess.run([sys.executable, "-m", "linssl.cli", "sweep", str(path), "--no-progress"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert '"dtype": "float32"' in (tmp_path / "study-results" / "study.json").read_text()
    out = subprocess.run([sys.executable, "-m", "linssl.cli", "sweep", str(path), "--dtype", "half"], capture_output=True, text=True)
    assert out.returncode == 2 and "dtype must be 'float32' or 'float64'" in out.stderr
    path.write_text('[grid]\nn = [100]\n\n[run]\nprecision = "float32"\n')
    with pytest.raises(ValueError, match=r"precision: unknown key \(valid: executor, dtype, sampler, n_jobs\)"):
        load_study(path)
