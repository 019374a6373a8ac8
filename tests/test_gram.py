"""The Gram path (d >> n) against the NumPy/SciPy reference and against linssl's dense path."""

import numpy as np
import pytest

import linssl
from linssl import gram, linalg
from linssl._memory import check_dense_fits
from linssl.diagonal_form import prefer_gram
from linssl.bench import reference
from linssl.metrics import subspace_distance
from linssl.models import JointEmbedding, Reconstruction, Supervised
from linssl.fitting import fit_all

N, D, K = 25, 120, 4


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)) * rng.uniform(0.5, 2.0, D)
    Y = X[:, :3] @ rng.standard_normal((3, 2)) + 0.3 * rng.standard_normal((N, 2))
    params = {
        "c": rng.uniform(0.2, 1.0, D),
        "p": rng.uniform(0.3, 0.9, D),
        "F": 0.4 * rng.standard_normal((D, 2)),
    }
    return X, Y, params


def _mask_after_noise(second, p, X, Y):
    """paper.md's mask moments applied to noisy views (mean ``x``, second moment ``second``)."""
    S = p[:, None] * second * p[None, :] + np.diag(p * (1 - p) * np.diag(second))
    return reference._moments_from_mean_view(X, X * p, S, Y)


def _case(name, X, Y, params):
    """(augmentation, reference moments written from paper.md)."""
    c, p, F = params["c"], params["p"], params["F"]
    M = X.T @ X / len(X)
    if name == "gaussian-scalar":
        return linssl.Gaussian(0.5), reference.gaussian_moments(X, 0.5, Y)
    if name == "gaussian-diagonal":
        return linssl.Gaussian(c), reference.gaussian_moments(X, c, Y)
    if name == "gaussian-lowrank":
        return linssl.Gaussian(linssl.LowRankPlusDiagonal(F, c)), reference.gaussian_moments(X, F @ F.T + np.diag(c), Y)
    if name == "mask-scalar":
        return linssl.Mask(0.6), reference.mask_moments(X, 0.6, Y)
    if name == "mask-vector":
        return linssl.Mask(p), reference.mask_moments(X, p, Y)
    if name == "lowrank-noise-then-mask":
        aug = linssl.Compose([linssl.Gaussian(linssl.LowRankPlusDiagonal(F, c)), linssl.Mask(p)])
        return aug, _mask_after_noise(M + F @ F.T + np.diag(c), p, X, Y)
    if name == "mask-then-noise":
        m = reference.mask_moments(X, p, Y)
        return linssl.Compose([linssl.Mask(p), linssl.Gaussian(c)]), reference.Moments(
            S=m.S + np.diag(c), G=m.G, C=m.C, trace_xx=m.trace_xx, B=m.B, trace_yy=m.trace_yy
        )
    raise KeyError(name)


CASES = [
    "gaussian-scalar",
    "gaussian-diagonal",
    "gaussian-lowrank",
    "mask-scalar",
    "mask-vector",
    "lowrank-noise-then-mask",
    "mask-then-noise",
]


def _relative(a, b):
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("name", CASES)
def test_three_paradigms_match_the_scipy_reference(small, name):
    X, Y, params = small
    aug, ref = _case(name, X, Y, params)
    g = gram.gram_moments(X, aug, Y)
    assert g.K.shape[0] == N + (2 if "lowrank" in name else 0)

    je, je_ref = gram.joint_embedding(g, K), reference.joint_embedding(ref.S, ref.G, K)
    np.testing.assert_allclose(je.omega, je_ref.omega, rtol=1e-10)
    assert _relative(je.loss, je_ref.loss) < 1e-10
    assert subspace_distance(je.W, je_ref.W) < 1e-9
    np.testing.assert_allclose(je.W @ ref.S @ je.W.T, np.eye(K), atol=1e-10)

    rc, rc_ref = gram.reconstruction(g, K), reference.reconstruction(ref.S, ref.C, ref.trace_xx, K)
    np.testing.assert_allclose(rc.phi2, rc_ref.phi**2, rtol=1e-10)
    assert _relative(rc.loss, rc_ref.loss) < 1e-10
    assert subspace_distance(rc.E, rc_ref.E) < 1e-9
    np.testing.assert_allclose(rc.E @ ref.S @ rc.E.T, np.eye(K), atol=1e-10)
    np.testing.assert_allclose(rc.D, ref.C @ rc.E.T, atol=1e-10 * np.abs(rc.D).max())

    sl, sl_ref = gram.supervised(g), reference.supervised(ref.S, ref.B, ref.trace_yy)
    np.testing.assert_allclose(sl.V, sl_ref.V, rtol=1e-9, atol=1e-12 * np.abs(sl_ref.V).max())
    assert _relative(sl.loss, sl_ref.loss) < 1e-10


def test_pairs_beyond_the_rank_have_zero_eigenvalues_and_satisfy_the_constraint():
    rng = np.random.default_rng(1)
    X = np.zeros((N, D))
    X[:, :3] = rng.standard_normal((N, 3))  # rank 3 < k
    aug = linssl.Gaussian(0.5)
    ref = reference.gaussian_moments(X, 0.5)
    g = gram.gram_moments(X, aug)
    with pytest.warns(linssl.NumericalWarning, match="only 3 of the k = 6 directions are determined"):
        je = gram.joint_embedding(g, 6)
    je_ref = reference.joint_embedding(ref.S, ref.G, 6)
    np.testing.assert_allclose(je.omega, je_ref.omega, atol=1e-12)
    assert je.omega[3:].max() == 0.0
    assert _relative(je.loss, je_ref.loss) < 1e-12
    np.testing.assert_allclose(je.W @ ref.S @ je.W.T, np.eye(6), atol=1e-10)
    with pytest.warns(linssl.NumericalWarning, match=r"only 3 of the k = 6 .* decoder columns are 0"):
        rc = gram.reconstruction(g, 6)
    rc_ref = reference.reconstruction(ref.S, ref.C, ref.trace_xx, 6)
    np.testing.assert_allclose(rc.phi2, rc_ref.phi**2, atol=1e-12)
    assert _relative(rc.loss, rc_ref.loss) < 1e-12
    np.testing.assert_allclose(rc.E @ ref.S @ rc.E.T, np.eye(6), atol=1e-10)
    np.testing.assert_allclose(rc.D, ref.C @ rc.E.T, atol=1e-12)


def test_ridge_is_the_dense_ridge(small):
    X, Y, _ = small
    ref = reference.mask_moments(X, 1.0, Y)  # p = 1: D = 0, S singular without the ridge
    ridge = 0.5  # large enough for well separated eigenvalues (a fair comparison at 1e-9)
    S = ref.S + ridge * np.trace(ref.S) / D * np.eye(D)
    with pytest.raises(ValueError, match="ridge"):
        gram.gram_moments(X, linssl.Mask(1.0), Y)
    g = gram.gram_moments(X, linssl.Mask(1.0), Y, ridge=ridge)
    assert subspace_distance(gram.joint_embedding(g, K).W, reference.joint_embedding(S, ref.G, K).W) < 1e-9
    assert _relative(gram.reconstruction(g, K).loss, reference.reconstruction(S, ref.C, ref.trace_xx, K).loss) < 1e-10
    np.testing.assert_allclose(gram.supervised(g).V, reference.supervised(S, ref.B).V, rtol=1e-8, atol=1e-12)


def test_memory_map_and_float32_input(small, tmp_path):
    X, Y, params = small
    aug = linssl.Mask(params["p"])
    X32 = X.astype(np.float32)
    np.save(tmp_path / "x.npy", X32)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    expected = gram.supervised(gram.gram_moments(X32.astype(np.float64), aug, Y))
    got = gram.supervised(gram.gram_moments(mapped, aug, Y))  # blocks are converted to float64 exactly
    np.testing.assert_allclose(got.V, expected.V, rtol=1e-12, atol=1e-15)


def test_prefer_gram_rule():
    assert prefer_gram(10, 21, linssl.Gaussian(1.0))
    assert not prefer_gram(10, 20, linssl.Gaussian(1.0))  # d must exceed 2 n
    assert not prefer_gram(10, 100, linssl.Gaussian(1.0), k=11)  # k beyond the Gram size
    assert not prefer_gram(10, 100, linssl.Gaussian(0.0))  # D = 0 ...
    assert prefer_gram(10, 100, linssl.Gaussian(0.0), ridge=1e-6)  # ... unless a ridge
    assert not prefer_gram(10, 100, linssl.Mask(1.0))
    F = np.ones((100, 45))
    assert not prefer_gram(10, 100, linssl.Gaussian(linssl.LowRankPlusDiagonal(F, 1.0)))  # m = 55
    assert prefer_gram(10, 100, linssl.Gaussian(linssl.LowRankPlusDiagonal(F[:, :30], 1.0)))  # m = 40
    assert not prefer_gram(10, 100, linssl.Gaussian(np.eye(100)))  # full covariance
    assert not prefer_gram(10, 100, linssl.Custom(lambda x: x))
    assert prefer_gram(10, 100, linssl.Compose([linssl.Mask(0.5), linssl.Gaussian(1.0)]))


@pytest.fixture
def gram_calls(monkeypatch):
    calls = []
    original = gram.gram_moments

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(gram, "gram_moments", spy)
    return calls


def test_estimators_fit_through_the_gram_path(small, gram_calls):
    X, Y, params = small
    aug = linssl.Mask(params["p"])
    for cls in (JointEmbedding, Reconstruction):
        via_gram = cls(K, augmentation=aug).fit(X)  # auto: d = 120 > 2 n = 50
        dense = cls(K, augmentation=aug, solver="dense").fit(X)
        assert subspace_distance(via_gram.components_, dense.components_) < 1e-9
        assert _relative(via_gram.loss_, dense.loss_) < 1e-10
        assert via_gram.n_features_in_ == D
    sl, sl_dense = Supervised(augmentation=aug).fit(X, Y[:, 0]), Supervised(augmentation=aug, solver="dense").fit(X, Y[:, 0])
    assert sl.coef_.shape == (D,)
    np.testing.assert_allclose(sl.coef_, sl_dense.coef_, rtol=1e-8, atol=1e-12)
    assert len(gram_calls) == 3
    # Not taken when it is not cheaper (d <= 2 n), or for an augmentation without a Gram reduction.
    JointEmbedding(K, augmentation=linssl.Mask(0.6)).fit(X[:, :50])
    JointEmbedding(K, augmentation=linssl.Custom(lambda x, rng: x + rng.standard_normal(x.shape), draws=8)).fit(X)
    assert len(gram_calls) == 3


def test_fit_all_shares_one_gram_pass(small, gram_calls):
    X, Y, params = small
    aug = linssl.Compose([linssl.Mask(params["p"]), linssl.Gaussian(params["c"])])
    fast = fit_all(X, aug, K, y=Y, solver="gram")
    dense = fit_all(X, aug, K, y=Y, solver="dense")
    assert len(gram_calls) == 1
    for a, b in zip(fast, dense):
        assert _relative(a.loss_, b.loss_) < 1e-10
    assert subspace_distance(fast.joint_embedding.components_, dense.joint_embedding.components_) < 1e-9
    np.testing.assert_allclose(fast.supervised.coef_, dense.supervised.coef_, rtol=1e-8, atol=1e-12)


def test_bad_input_is_refused_with_clear_messages(small):
    X, Y, _ = small
    custom = linssl.Custom(lambda x: x)
    with pytest.raises(ValueError, match="solver='gram' supports .* not Custom"):
        JointEmbedding(K, augmentation=custom, solver="gram").fit(X)
    with pytest.raises(ValueError, match="full"):
        Supervised(augmentation=linssl.Gaussian(np.eye(D)), solver="gram").fit(X, Y)
    with pytest.raises(ValueError, match="iterator"):
        JointEmbedding(K, augmentation=linssl.Gaussian(1.0), solver="gram").fit(iter([X[:10], X[10:]]))
    with pytest.raises(ValueError, match="fit_moments"):
        JointEmbedding(K, solver="gram").fit_moments(linssl.Gaussian(1.0).moments(X))
    with pytest.raises(ValueError, match="'solver' parameter of Supervised must be a str among"):
        Supervised(augmentation=linssl.Gaussian(1.0), solver="iterative").fit(X, Y)
    bad = X.copy()
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gram.gram_moments(bad, linssl.Gaussian(1.0))
    with pytest.raises(ValueError, match="rows"):
        gram.gram_moments(X, linssl.Gaussian(1.0), Y[:5])
    g = gram.gram_moments(X, linssl.Gaussian(1.0), reconstruction=False)
    with pytest.raises(ValueError, match="targets"):
        gram.supervised(g)
    with pytest.raises(ValueError, match="reconstruction=True"):
        gram.reconstruction(g, K)
    with pytest.raises(ValueError, match="k must be between"):
        gram.joint_embedding(g, D + 1)


def test_dense_fit_too_large_for_memory_is_refused_before_allocating():
    with pytest.raises(MemoryError, match="solver='gram'"):
        check_dense_fits(1000, available=10 * 2**20)
    check_dense_fits(100, available=10 * 2**20)
    X = np.ones((3, 300_000))  # the dense path would need 6 matrices of 720 GB
    with pytest.raises(MemoryError, match="d = 300000"):
        JointEmbedding(2, augmentation=linssl.Gaussian(1.0), solver="dense").fit(X)
    with pytest.raises(MemoryError, match="solver='gram'"):
        fit_all(X, linssl.Custom(lambda x: x), 2)


# --- the acceptance case: d = 4096, n = 500 against the dense path ----------------------------------


@pytest.fixture(scope="module")
def wide():
    """Four signal directions of distinct strength in d = 4096 plus heteroscedastic noise, n = 500."""
    rng = np.random.default_rng(2)
    n, d, k = 500, 4096, 4
    Q = np.linalg.qr(rng.standard_normal((d, k)))[0]
    X = (rng.standard_normal((n, k)) * np.array([40.0, 30.0, 22.0, 16.0])) @ Q.T
    X += rng.standard_normal((n, d)) * rng.uniform(0.5, 1.5, d)
    Y = X @ Q[:, :3] + 0.5 * rng.standard_normal((n, 3))
    return X, Y, k, rng.uniform(2.0, 6.0, d)


@pytest.mark.parametrize("kind", ["gaussian-diagonal", "mask"])
def test_agrees_with_the_dense_path_at_d_4096(wide, kind):
    X, Y, k, variances = wide
    aug = linssl.Gaussian(variances) if kind == "gaussian-diagonal" else linssl.Mask(0.3)
    m = aug.moments(X, Y)  # the dense path: d x d moments, then the generalized eigensolvers
    je = JointEmbedding(k, augmentation=aug, solver="gram").fit(X)
    rc = Reconstruction(k, augmentation=aug, solver="gram").fit(X)
    sl = Supervised(augmentation=aug, solver="gram").fit(X, Y)
    # The iterative eigensolver at a residual tolerance tighter than its default of 1e-10, which
    # bounds the subspace error only to about 1e-7 on this problem (the dense solver agrees to 1e-13
    # but takes ten times longer).
    dense_je = linalg.joint_embedding(m.S, m.G, k, tol=1e-13)
    dense_rc = linalg.reconstruction(m.S, m.C, m.trace_xx, k, tol=1e-13)
    assert subspace_distance(je.components_, dense_je.W) < 1e-8
    assert subspace_distance(rc.encoder_, dense_rc.E) < 1e-8
    assert _relative(je.loss_, dense_je.loss) < 1e-10
    assert _relative(rc.loss_, dense_rc.loss) < 1e-10
    dense_sl = linalg.supervised(m.S, m.B, m.trace_yy)
    assert _relative(sl.loss_, dense_sl.loss) < 1e-10
    assert np.abs(sl.coef_ - dense_sl.V).max() < 1e-10 * np.abs(dense_sl.V).max()
