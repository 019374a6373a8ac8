"""Random linear and affine maps (RandomLinear) and the image built-ins (Translate, Flip, CropResize,
Blur, Brightness, Contrast): F and P against the same maps written as explicit dense matrices by
loops over pixels, closed forms against Monte Carlo of sample(), and sample() against definitions."""

import numpy as np
import pytest

import linssl
from augment_oracles import check_against_monte_carlo


def _images(n=25, shape=(4, 4, 1), seed=0):
    rng = np.random.default_rng(seed)
    d = int(np.prod(shape))
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) / np.sqrt(d) + 0.5


def _dense(shape, pixel_map):
    """The dense matrix of ``out[y, x, c] = sum w in[y', x', c]`` given ``pixel_map(y, x) -> [(y', x', w)]``."""
    H, W, C = shape
    A = np.zeros((H * W * C, H * W * C))
    for y in range(H):
        for x in range(W):
            for yy, xx, w in pixel_map(y, x):
                for c in range(C):
                    A[(y * W + x) * C + c, (yy * W + xx) * C + c] += w
    return A


def _shift_matrix(shape, dy, dx, circular):
    H, W, _ = shape

    def pixel_map(y, x):
        yy, xx = y - dy, x - dx
        if circular:
            return [(yy % H, xx % W, 1.0)]
        return [(yy, xx, 1.0)] if 0 <= yy < H and 0 <= xx < W else []

    return _dense(shape, pixel_map)


def _check_family(aug, dense_maps, weights, d, seed=0):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((d, d))
    M = B @ B.T
    F = sum(w * A @ M @ A.T for w, A in zip(weights, dense_maps))
    P = sum(w * A for w, A in zip(weights, dense_maps))
    np.testing.assert_allclose(aug.second_moment_map(M), F, atol=1e-10 * np.abs(F).max())
    mean_map = aug.mean_map(d)
    np.testing.assert_allclose(mean_map.toarray() if hasattr(mean_map, "toarray") else mean_map, P, atol=1e-12)
    m = aug.moments_from_second_moment(M)
    np.testing.assert_allclose(m.G, P @ M @ P.T, atol=1e-10 * np.abs(F).max())
    np.testing.assert_allclose(m.C, M @ P.T, atol=1e-10 * np.abs(F).max())


@pytest.mark.parametrize("padding", ["zero", "circular"])
@pytest.mark.parametrize("shape", [(4, 5, 1), (3, 4, 2)])
def test_translate_equals_dense_shift_matrices(shape, padding):
    s = 1 if shape[0] == 3 else 2
    shifts = [(dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1)]
    dense = [_shift_matrix(shape, dy, dx, padding == "circular") for dy, dx in shifts]
    aug = linssl.Translate(shape, s, padding=padding)
    _check_family(aug, dense, [1 / len(dense)] * len(dense), int(np.prod(shape)))


@pytest.mark.parametrize("axis", [0, 1])
def test_flip_equals_dense_reversal(axis):
    shape = (3, 4, 2)
    H, W, _ = shape
    flip = _dense(shape, lambda y, x: [(H - 1 - y, x, 1.0)] if axis == 0 else [(y, W - 1 - x, 1.0)])
    aug = linssl.Flip(shape, axis=axis, p=0.3)
    _check_family(aug, [np.eye(24), flip], [0.7, 0.3], 24)


def _bilinear_matrix(shape, crop):
    """Bilinear resize of a crop back to H x W, from the half-pixel-centre formula per pixel."""
    H, W, _ = shape
    top, left, h, w = crop

    def axis_weights(o, length, size):
        src = min(max((o + 0.5) * size / length - 0.5, 0.0), size - 1)
        lo = int(np.floor(src))
        hi = min(lo + 1, size - 1)
        return [(lo, 1 - (src - lo)), (hi, src - lo)]

    def pixel_map(y, x):
        return [
            (top + yy, left + xx, wy * wx)
            for yy, wy in axis_weights(y, H, h)
            for xx, wx in axis_weights(x, W, w)
        ]

    return _dense(shape, pixel_map)


def test_crop_resize_equals_dense_bilinear_matrices():
    shape = (6, 5, 1)
    aug = linssl.CropResize(shape, scale=(0.3, 0.9), n_crops=6, seed=2)
    crops = aug.crops(6, 5)
    assert len(crops) == 6
    for top, left, h, w in crops:
        assert 0 <= top and top + h <= 6 and 0 <= left and left + w <= 5
    _check_family(aug, [_bilinear_matrix(shape, c) for c in crops], [1 / 6] * 6, 30)
    # A full-image crop is the identity.
    np.testing.assert_allclose(_bilinear_matrix(shape, (0, 0, 6, 5)), np.eye(30), atol=1e-15)


def test_blur_equals_dense_gaussian_filter():
    import scipy.ndimage

    shape = (5, 6, 1)
    sigmas = (0.0, 0.7, 1.2)
    aug = linssl.Blur(shape, sigmas=sigmas)
    dense = []
    for s in sigmas:
        # Columns of the filter matrix: scipy's Gaussian filter ("mirror" boundary, truncate=3) of basis images.
        cols = []
        for j in range(30):
            e = np.zeros(30)
            e[j] = 1
            img = e.reshape(5, 6)
            cols.append(img.ravel() if s == 0 else scipy.ndimage.gaussian_filter(img, s, mode="mirror", truncate=np.ceil(3 * s) / s).ravel())
        dense.append(np.array(cols).T)
    _check_family(aug, dense, [1 / 3] * 3, 30)


def test_contrast_equals_dense_family_average():
    shape = (2, 3, 2)
    d = 12
    Q = np.zeros((d, d))
    for i in range(d):
        for j in range(d):
            if i % 2 == j % 2:
                Q[i, j] = 1 / 6
    aug = linssl.Contrast(shape, strength=0.4)
    # E over c ~ U[0.6, 1.4] of A_c M A_c^T, by Gauss-Legendre quadrature (exact for this quadratic).
    nodes, w = np.polynomial.legendre.leggauss(4)
    cs = 1.0 + 0.4 * nodes
    _check_family(aug, [c * np.eye(d) + (1 - c) * Q for c in cs], w / 2, d)


def test_random_linear_with_offsets_needs_and_uses_the_mean():
    rng = np.random.default_rng(1)
    d = 4
    maps = [rng.standard_normal((d, d)) for _ in range(3)]
    offsets = rng.standard_normal((3, d))
    aug = linssl.RandomLinear(maps, weights=[1, 2, 1], offsets=offsets)
    X = rng.standard_normal((40, d)) + 1.0
    m = aug.moments(X)
    w = np.array([0.25, 0.5, 0.25])
    # Definition, by brute force over the family: S = mean over i and j of tau_j(x_i) tau_j(x_i)^T.
    views = [X @ A.T + c for A, c in zip(maps, offsets)]
    S = sum(wj * V.T @ V / 40 for wj, V in zip(w, views))
    Xbar = sum(wj * V for wj, V in zip(w, views))
    np.testing.assert_allclose(m.S, S, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.G, Xbar.T @ Xbar / 40, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.C, X.T @ Xbar / 40, rtol=1e-12, atol=1e-12)
    y = X[:, :2] * 2.0 + 1.0
    mb = aug.moments(X, y)
    np.testing.assert_allclose(mb.B, y.T @ Xbar / 40, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="mean"):
        aug.moments_from_second_moment(X.T @ X / 40)
    # Composition with other stages carries the mean of the views along.
    comp = linssl.Compose([aug, linssl.Mask(0.7), aug])
    check_against_monte_carlo(comp, X[:15], draws=4000)


@pytest.mark.parametrize(
    "aug",
    [
        linssl.Translate((4, 4), 1),
        linssl.Translate((4, 4, 2), 1, padding="circular"),
        linssl.Flip((4, 4)),
        linssl.CropResize((4, 4), n_crops=5),
        linssl.Blur((4, 4), sigmas=(0.0, 1.0)),
        linssl.Brightness(0.5),
        linssl.Brightness(0.4, mode="multiplicative"),
        linssl.Contrast((4, 4), 0.5),
        linssl.RandomLinear([np.eye(16), np.diag(np.linspace(0, 1, 16))], offsets=np.ones((2, 16))),
        linssl.Compose([linssl.Translate((4, 4), 1), linssl.PatchMask((4, 4), 2, 0.25), linssl.Gaussian(0.1)]),
        linssl.Compose([linssl.Flip((4, 4)), linssl.Contrast((4, 4), 0.3), linssl.Brightness(0.2)]),
    ],
    ids=repr,
)
def test_moments_match_monte_carlo_of_sample(aug):
    d = 32 if "(4, 4, 2)" in repr(aug) else 16
    check_against_monte_carlo(aug, _images(shape=(4, 4, d // 16)))


def test_translate_sample_is_a_shift_within_range():
    H, W, s = 5, 6, 2
    aug = linssl.Translate((H, W), s)
    X = np.random.default_rng(0).random((400, H * W)) + 1.0  # no zeros: shifted-in pixels are recognisable
    Z = aug.sample(X, rng=3)
    seen = set()
    for x, z in zip(X, Z):
        img = x.reshape(H, W)
        matches = []
        for dy in range(-s, s + 1):
            for dx in range(-s, s + 1):
                ref = np.zeros((H, W))
                ys, xs = slice(max(dy, 0), H + min(dy, 0)), slice(max(dx, 0), W + min(dx, 0))
                yo, xo = slice(max(-dy, 0), H + min(-dy, 0)), slice(max(-dx, 0), W + min(-dx, 0))
                ref[ys, xs] = img[yo, xo]
                if np.array_equal(ref.ravel(), z):
                    matches.append((dy, dx))
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == (2 * s + 1) ** 2  # every shift occurs in 400 draws


def test_circular_translate_and_flip_sample_match_numpy():
    X = np.arange(2 * 12.0).reshape(2, 12)
    Z = linssl.Translate((3, 4), 1, padding="circular").sample(X, rng=0)
    for x, z in zip(X, Z):
        rolls = [np.roll(x.reshape(3, 4), (dy, dx), axis=(0, 1)).ravel() for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        assert any(np.array_equal(r, z) for r in rolls)
    flipped = linssl.Flip((3, 4, 1), axis=1, p=1.0).sample(X, rng=0)
    np.testing.assert_array_equal(flipped, X.reshape(2, 3, 4)[:, :, ::-1].reshape(2, 12))


def test_random_linear_sample_respects_the_weights():
    maps = [k * np.eye(1) for k in range(4)]
    aug = linssl.RandomLinear(maps, weights=[0.1, 0.2, 0.3, 0.4])
    Z = aug.sample(np.ones((20000, 1)), rng=0).ravel()
    freq = np.array([(Z == k).mean() for k in range(4)])
    w = np.array([0.1, 0.2, 0.3, 0.4])
    assert np.all(np.abs(freq - w) < 5 * np.sqrt(w * (1 - w) / 20000))


def test_image_maps_never_form_dense_matrices_and_refuse_mismatched_shapes():
    aug = linssl.Translate((32, 32, 3), 2)
    fam = aug.family(3072)
    assert len(fam.maps) == 25 and all(hasattr(A, "nnz") for A in fam.maps)
    assert hasattr(aug.mean_map(3072), "nnz")
    assert linssl.Translate(None, 1).family(3072).maps[0].shape == (3072, 3072)  # inferred 32 x 32 x 3
    with pytest.raises(ValueError, match="channels last"):
        aug.moments(np.ones((2, 100)))
    with pytest.raises(ValueError, match="square"):
        linssl.RandomLinear([np.ones((2, 3))])
    with pytest.raises(ValueError, match="non-negative"):
        linssl.RandomLinear([np.eye(2)], weights=[-1.0])


def test_brightness_keeps_the_gram_path_and_others_refuse_it():
    import scipy.linalg

    X = _images(n=6)
    for aug in (
        linssl.Compose([linssl.Brightness(0.5), linssl.Gaussian(0.1)]),
        linssl.Compose([linssl.Mask(0.8), linssl.Brightness(0.5)]),
    ):
        gram = linssl.JointEmbedding(3, augmentation=aug, solver="gram").fit(X)
        M = X.T @ X / len(X)
        P = aug.mean_map(16)
        S = aug.second_moment_map(M)
        omega = scipy.linalg.eigh(M * np.outer(P, P), S, eigvals_only=True)[::-1][:3]
        np.testing.assert_allclose(gram.eigenvalues_, omega, rtol=1e-6, atol=1e-9)
    for aug in (linssl.Translate((4, 4), 1), linssl.Flip((4, 4)), linssl.Contrast((4, 4), 0.2)):
        assert aug.moments(X).keep is None
        with pytest.raises(ValueError, match="solver='dense'"):
            linssl.Reconstruction(2, augmentation=aug, solver="gram").fit(X)


def test_photometric_samples_follow_their_definitions():
    X = np.random.default_rng(0).random((500, 12)) + 0.5
    offsets = linssl.Brightness(0.3).sample(X, rng=1) - X
    assert np.allclose(offsets, offsets[:, :1]) and np.all(np.abs(offsets) <= 0.3)
    gains = linssl.Brightness(0.3, mode="multiplicative").sample(X, rng=1) / X
    assert np.allclose(gains, gains[:, :1]) and np.all((gains >= 0.7) & (gains <= 1.3))
    shape = (2, 3, 2)
    Z = linssl.Contrast(shape, 0.5).sample(X, rng=2)
    img, out = X.reshape(500, 6, 2), Z.reshape(500, 6, 2)
    mean = img.mean(axis=1, keepdims=True)
    c = (out - mean)[:, 0, 0] / (img - mean)[:, 0, 0]
    np.testing.assert_allclose(out, c[:, None, None] * img + (1 - c[:, None, None]) * mean, atol=1e-12)
    assert np.all((c >= 0.5 - 1e-12) & (c <= 1.5 + 1e-12))


def test_crop_and_blur_samples_are_members_of_their_family():
    X = np.random.default_rng(0).random((50, 36))
    for aug in (linssl.CropResize((6, 6), n_crops=4), linssl.Blur((6, 6), sigmas=(0.0, 1.0))):
        dense = [A.toarray() for A in aug.family(36).maps]
        Z = aug.sample(X, rng=0)
        for x, z in zip(X, Z):
            assert any(np.allclose(A @ x, z, atol=1e-12) for A in dense)
