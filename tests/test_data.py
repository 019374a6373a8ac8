"""The paper's data model, its real-data version and the loaders, against paper.md and independent tools.

Sample statistics are compared with the model's formulas (paper.md, "The paper's data model")
within ``Z_CRIT`` standard errors of the per-sample outer products; the PCA of ``from_dataset``
against scikit-learn; the loaders against files written here byte by byte.
"""

import gzip
import struct

import numpy as np
import pytest
import scipy.optimize
from sklearn.decomposition import PCA

import linssl
from linssl.augment import Gaussian
from linssl.datasets import DatasetModel, from_dataset, load_digits
from linssl.synthetic import SignalNoiseModel
from linssl.readers import load_array

Z_CRIT = 5.0


def _small_model(rotate=True, n_classes=4):
    return SignalNoiseModel.random(
        3, 7, signal_max=5.0, signal_min=1.0, gamma_max=2.0, theta_max=3.0, rotate=rotate, n_classes=n_classes, seed=1
    )


def _second_moment_with_stderr(A):
    """Mean of the per-row outer products ``a_i a_i^T`` and its standard error, elementwise."""
    outer = np.einsum("ni,nj->nij", A, A)
    return outer.mean(axis=0), outer.std(axis=0, ddof=1) / np.sqrt(len(A))


def _assert_within(estimate, expected, stderr, what=""):
    rounding = 1e-10 * np.abs(expected).max()
    assert np.all(np.abs(estimate - expected) <= Z_CRIT * stderr + rounding), (
        f"{what}: worst deviation {np.abs(estimate - expected).max():.3g}"
    )


def _padded(model, values):
    out = np.zeros(model.d)
    out[: len(values)] = values
    return out


def test_random_model_structure():
    m = _small_model()
    assert (m.k, m.d) == (3, 7)
    np.testing.assert_allclose(m.basis.T @ m.basis, np.eye(7), atol=1e-12)
    assert np.all(m.noise_spectrum[:3] == 0) and np.all((m.noise_spectrum[3:] > 0) & (m.noise_spectrum[3:] <= 2.0))
    assert np.all((m.augmentation_spectrum >= 0) & (m.augmentation_spectrum <= 3.0))
    Q = m.basis
    np.testing.assert_allclose(m.Gamma, Q @ np.diag(m.noise_spectrum) @ Q.T, atol=1e-12)
    np.testing.assert_allclose(m.Theta, Q @ np.diag(m.augmentation_spectrum) @ Q.T, atol=1e-12)
    assert np.array_equal(_small_model(rotate=False).basis, np.eye(7))


@pytest.mark.parametrize("rotate", [False, True])
def test_sample_second_moments_match_the_model(rotate):
    m = _small_model(rotate)
    s = m.sample(20_000, seed=3)
    assert s.clean.shape == s.corrupted.shape == (20_000, 7) and s.labels.shape == (20_000,)
    Q = m.basis
    clean_expected = Q @ np.diag(_padded(m, m.signal_variances)) @ Q.T
    mean, se = _second_moment_with_stderr(s.clean)
    _assert_within(mean, clean_expected, se, "clean")
    mean, se = _second_moment_with_stderr(s.corrupted)
    _assert_within(mean, clean_expected + Q @ np.diag(m.noise_spectrum) @ Q.T, se, "corrupted")
    # The irrelevant features live outside the important subspace: projections onto Q_1 are untouched.
    Q1 = Q[:, :3]
    np.testing.assert_allclose(s.corrupted @ Q1, s.clean @ Q1, atol=1e-10)


def _separable_by_argmax(features, labels):
    """Whether some W makes ``argmax_c (W f_i)_c == y_i`` for every row (a linear program)."""
    n, m = features.shape
    classes = np.unique(labels)
    rows = []
    for i in range(n):
        for c in classes:
            if c != labels[i]:
                row = np.zeros((len(classes), m))
                row[c] += features[i]
                row[labels[i]] -= features[i]
                rows.append(row.ravel())  # (w_c - w_y) . f_i <= -1
    res = scipy.optimize.linprog(
        np.zeros(len(classes) * m), A_ub=np.array(rows), b_ub=-np.ones(len(rows)), bounds=(None, None), method="highs"
    )
    return res.status == 0


def test_labels_are_a_linear_task_on_the_signal_only():
    m = _small_model(rotate=True, n_classes=4)
    s = m.sample(300, seed=0)
    Q1, Q2 = m.basis[:, :3], m.basis[:, 3:]
    assert len(np.unique(s.labels)) == 4
    assert _separable_by_argmax(s.clean @ Q1, s.labels)
    assert not _separable_by_argmax(s.corrupted @ Q2, s.labels)
    # Noise coordinates carry no class information: their class-conditional means are zero.
    big = m.sample(20_000, seed=1)
    noise = big.corrupted @ Q2
    signal = big.corrupted @ Q1
    informative = False
    for c in range(4):
        sel = big.labels == c
        se = noise[sel].std(axis=0, ddof=1) / np.sqrt(sel.sum())
        assert np.all(np.abs(noise[sel].mean(axis=0)) <= Z_CRIT * se)
        se_signal = signal[sel].std(axis=0, ddof=1) / np.sqrt(sel.sum())
        informative |= np.any(np.abs(signal[sel].mean(axis=0)) > Z_CRIT * se_signal)
    assert informative


def test_sampling_is_deterministic_and_test_split_is_independent():
    m = _small_model()
    a, b = m.sample(2000, seed=5), m.sample(2000, seed=5)
    np.testing.assert_array_equal(a.corrupted, b.corrupted)
    np.testing.assert_array_equal(a.labels, b.labels)
    test = m.sample(2000, seed=5, split="test")
    other_seed = m.sample(2000, seed=6)
    for other in (test, other_seed):
        r = np.corrcoef(a.corrupted.ravel(), other.corrupted.ravel())[0, 1]
        assert abs(r) < Z_CRIT / np.sqrt(a.corrupted.size)
        assert np.mean(a.labels == other.labels) < 0.5


@pytest.mark.parametrize("rotate", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.5, 3.0])
def test_population_moments_formula(alpha, rotate):
    m = _small_model(rotate)
    Q = m.basis
    s_pad = _padded(m, m.signal_variances)
    lam_g, lam_t = m.noise_spectrum, m.augmentation_spectrum
    pop = m.population_moments(alpha)
    assert pop.n is None and pop.B is None
    # x~ = x + gamma has E[x~ x~^T] = Q diag(s + lambda^Gamma) Q^T; T(alpha) adds Theta + alpha^2 Gamma.
    second = Q @ np.diag(s_pad + lam_g) @ Q.T
    np.testing.assert_allclose(pop.G, second, atol=1e-12)
    np.testing.assert_allclose(pop.C, second, atol=1e-12)
    np.testing.assert_allclose(pop.S, Q @ np.diag(s_pad + lam_g + lam_t + alpha**2 * lam_g) @ Q.T, atol=1e-12)
    assert pop.trace_xx == pytest.approx(m.signal_variances.sum() + lam_g.sum())
    clean = m.population_moments(alpha, corrupted=False)
    np.testing.assert_allclose(clean.G, Q @ np.diag(s_pad) @ Q.T, atol=1e-12)
    np.testing.assert_allclose(clean.Sigma, Q @ np.diag(lam_t + alpha**2 * lam_g) @ Q.T, atol=1e-12)


def test_population_moments_are_the_large_n_limit():
    m = _small_model()
    alpha = 1.5
    s = m.sample(40_000, seed=2)
    aug = m.augmentation(alpha)
    assert isinstance(aug, Gaussian)
    np.testing.assert_allclose(aug.covariance(m.d), m.Theta + alpha**2 * m.Gamma, atol=1e-12)
    finite = aug.moments(s.corrupted)
    pop = m.population_moments(alpha)
    # Additive noise shifts S by a constant, so S, G and C all deviate from the limit by the
    # sampling error of the data's second moment.
    _, se = _second_moment_with_stderr(s.corrupted)
    for key in "SGC":
        _assert_within(getattr(finite, key), getattr(pop, key), se, key)


def test_model_validation():
    with pytest.raises(ValueError, match="zero on the first k"):
        SignalNoiseModel([1.0, 2.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="positive"):
        SignalNoiseModel([1.0, -2.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="augmentation_spectrum must have shape"):
        SignalNoiseModel([1.0], [0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="orthonormal"):
        SignalNoiseModel([1.0], [0.0, 1.0], [1.0, 1.0], basis=[[1.0, 1.0], [0.0, 1.0]])
    m = _small_model()
    with pytest.raises(ValueError, match="split"):
        m.sample(10, split="validation")
    with pytest.raises(ValueError, match="positive integer"):
        m.sample(0)
    with pytest.raises(ValueError, match="seed"):
        m.sample(10, seed=-1)
    with pytest.raises(ValueError, match="finite"):
        m.augmentation(np.inf)


# --- from_dataset on the digits -------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def digits_model(digits):
    return from_dataset(*digits, seed=4)


def test_load_digits_is_scikit_learns_copy(digits):
    from sklearn.datasets import load_digits as sk_digits

    X, y = digits
    Xs, ys = sk_digits(return_X_y=True)
    assert X.shape == (1797, 64) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X, Xs)
    np.testing.assert_array_equal(y, ys)
    X255, y255 = load_digits(intensity_max=255)
    np.testing.assert_allclose(X255, Xs * (255 / 16), rtol=1e-15)
    assert X255.max() == 255.0
    np.testing.assert_array_equal(y255, ys)
    with pytest.raises(ValueError, match="intensity_max"):
        load_digits(intensity_max=0)


def test_from_dataset_follows_appendix_c(digits, digits_model):
    X, y = digits
    m = digits_model
    assert isinstance(m, SignalNoiseModel) and isinstance(m, DatasetModel)
    assert (m.k, m.d, m.n_classes) == (50, 100, 10)
    assert np.all(m.noise_spectrum[:50] == 0)
    assert np.all((m.noise_spectrum[50:] > 0) & (m.noise_spectrum[50:] <= 1e3))
    assert np.all((m.augmentation_spectrum >= 0) & (m.augmentation_spectrum <= 1e4))
    # A uniform spectrum spreads over its range (not all values in one corner).
    assert m.augmentation_spectrum.max() > 5e3 > m.augmentation_spectrum.min()
    assert len(np.intersect1d(m.train_index, m.test_index)) == 0
    assert len(m.train_index) + len(m.test_index) == 1797 and m.n_test == round(0.2 * 1797)
    # PCA fitted on the train pool: variances normalised by the pool size, as scikit-learn's times (n - 1) / n.
    pool = X[m.train_index]
    pca = PCA(n_components=50, svd_solver="full").fit(pool)
    np.testing.assert_allclose(m.signal_variances, pca.explained_variance_ * (len(pool) - 1) / len(pool), rtol=1e-8)
    signs = np.sign(np.sum(pca.components_ * m.pca_components, axis=1))
    np.testing.assert_allclose(m.pca_components, pca.components_ * signs[:, None], atol=1e-8)
    # Population moments are exact over the train pool: the coordinates are uncorrelated there.
    np.testing.assert_allclose(m.train_coords.T @ m.train_coords / len(pool), np.diag(m.signal_variances), atol=1e-8)


@pytest.mark.parametrize("split", ["train", "test"])
def test_dataset_sample_draws_real_rows(digits, digits_model, split):
    X, y = digits
    m = digits_model
    s = m.sample(300, seed=1, split=split)
    pool = m.train_index if split == "train" else m.test_index
    assert len(np.unique(s.index)) == 300 and np.all(np.isin(s.index, pool))
    np.testing.assert_array_equal(m.classes[s.labels], y[s.index])
    pca = PCA(n_components=50, svd_solver="full").fit(X[m.train_index])
    signs = np.sign(np.sum(pca.components_ * m.pca_components, axis=1))
    np.testing.assert_allclose(s.clean[:, :50], pca.transform(X[s.index]) * signs, atol=1e-8)
    assert np.all(s.clean[:, 50:] == 0)
    noise = s.corrupted - s.clean
    assert np.all(noise[:, :50] == 0)
    _assert_within(noise.var(axis=0), m.noise_spectrum, m.noise_spectrum * np.sqrt(2 / 300), "noise variances")


def test_dataset_sample_size_limit(digits_model):
    with pytest.raises(ValueError, match=f"n <= {digits_model.n_train}"):
        digits_model.sample(digits_model.n_train + 1)
    with pytest.raises(ValueError, match=f"n <= {digits_model.n_test}"):
        digits_model.sample(digits_model.n_test + 1, split="test")


def test_from_dataset_rotated_and_validation(digits):
    X, y = digits
    m = from_dataset(X[:400], y[:400], n_signal=5, n_noise=3, rotate=True, seed=1)
    assert (m.k, m.d) == (5, 8)
    s = m.sample(50, seed=0)
    np.testing.assert_allclose(s.clean @ m.basis[:, :5] @ m.basis[:, :5].T, s.clean, atol=1e-10)
    with pytest.raises(ValueError, match="n_signal"):
        from_dataset(X, y, n_signal=65)
    with pytest.raises(ValueError, match="one label per row"):
        from_dataset(X, y[:-1])
    with pytest.raises(ValueError, match="test_size"):
        from_dataset(X, y, test_size=0.0)
    with pytest.raises(ValueError, match="single class"):
        from_dataset(X, np.zeros(len(y)))


# --- loaders --------------------------------------------------------------------------------------


def _write_idx(path, array, code, opener=open):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    big_endian = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4", 0x0E: ">f8"}[code]
    with opener(path, "wb") as f:
        f.write(header + array.astype(big_endian).tobytes())


def test_load_npy_is_memory_mapped(tmp_path):
    A = np.random.default_rng(0).standard_normal((20, 3))
    np.save(tmp_path / "a.npy", A)
    loaded = load_array(tmp_path / "a.npy")
    assert isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(loaded, A)


def test_load_npz_stored_members_are_memory_mapped(tmp_path):
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((30, 4)), np.asfortranarray(rng.standard_normal((5, 6)))
    labels = np.arange(30)
    np.savez(tmp_path / "d.npz", images=A, fortran=B, labels=labels)
    for key, expected in (("images", A), ("fortran", B), ("labels", labels)):
        loaded = load_array(tmp_path / "d.npz", key=key)
        assert isinstance(loaded, np.memmap)
        np.testing.assert_array_equal(loaded, expected)
    with pytest.raises(ValueError, match="several arrays.*fortran, images, labels"):
        load_array(tmp_path / "d.npz")
    with pytest.raises(KeyError, match="no array 'x'"):
        load_array(tmp_path / "d.npz", key="x")
    np.savez_compressed(tmp_path / "c.npz", A)
    loaded = load_array(tmp_path / "c.npz")
    assert not isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(loaded, A)


@pytest.mark.parametrize("code, dtype", [(0x08, np.uint8), (0x0B, np.int16), (0x0D, np.float32), (0x0E, np.float64)])
def test_load_idx_raw_and_gz(tmp_path, code, dtype):
    rng = np.random.default_rng(2)
    images = (rng.random((7, 4, 3)) * 100).astype(dtype)
    _write_idx(tmp_path / "images-idx3", images, code)
    _write_idx(tmp_path / "images-idx3.gz", images, code, opener=gzip.open)
    raw = load_array(tmp_path / "images-idx3")
    assert isinstance(raw, np.memmap) and raw.shape == (7, 12)
    np.testing.assert_array_equal(raw, images.reshape(7, 12))
    np.testing.assert_array_equal(load_array(tmp_path / "images-idx3.gz"), images.reshape(7, 12))
    assert load_array(tmp_path / "images-idx3", flatten=False).shape == (7, 4, 3)
    # Big-endian file data feed linssl's moments directly.
    expected = images.reshape(7, 12).astype(np.float64)
    np.testing.assert_allclose(linssl.moments(raw).second_moment, expected.T @ expected / 7, rtol=1e-12)


def test_load_idx_labels(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    _write_idx(tmp_path / "labels-idx1-ubyte", labels, 0x08)
    np.testing.assert_array_equal(load_array(tmp_path / "labels-idx1-ubyte"), labels)


def test_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_array(tmp_path / "missing.npy")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"\.npy, \.npz or an MNIST-style IDX"):
        load_array(tmp_path / "notes.txt")
    _write_idx(tmp_path / "cut-idx3", np.zeros((4, 2, 2), dtype=np.uint8), 0x08)
    data = (tmp_path / "cut-idx3").read_bytes()
    (tmp_path / "cut-idx3").write_bytes(data[:-3])
    with pytest.raises(ValueError, match="promises 16 data bytes, it has 13"):
        load_array(tmp_path / "cut-idx3")
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(ValueError, match="key"):
        load_array(tmp_path / "a.npy", key="x")
