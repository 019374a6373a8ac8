"""Masks with a joint law (PatchMask, BlockMask, PairwiseMask): closed forms against Monte Carlo,
against R counted by enumeration, and sample() against the definition."""

import itertools

import numpy as np
import pytest

import linssl
from augment_oracles import check_against_monte_carlo


def _images(n=25, shape=(4, 4, 1), seed=0):
    rng = np.random.default_rng(seed)
    d = int(np.prod(shape))
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) / np.sqrt(d) + 0.5


@pytest.mark.parametrize(
    "aug",
    [
        linssl.PatchMask((4, 4), 2, 0.5),
        linssl.PatchMask((4, 4, 2), 2, 0.75),
        linssl.BlockMask((4, 4), 2),
        linssl.BlockMask((4, 4), (1, 3), n_blocks=2),
        linssl.PairwiseMask.from_masks(np.random.default_rng(3).random((5, 16)) < 0.6, [0.1, 0.2, 0.3, 0.2, 0.2]),
        linssl.Compose([linssl.PatchMask((4, 4), 2, 0.25), linssl.Gaussian(0.3)]),
        linssl.Compose([linssl.Gaussian(0.3), linssl.BlockMask((4, 4), 2)]),
    ],
    ids=repr,
)
def test_moments_match_monte_carlo_of_sample(aug):
    d = 32 if "(4, 4, 2)" in repr(aug) else 16
    X = _images(shape=(4, 4, d // 16))
    check_against_monte_carlo(aug, X)


def _all_patch_masks(H, W, s, K):
    """Every mask of the patch law, by enumeration (each K-subset of patches equally likely)."""
    grid = np.arange(H * W).reshape(H, W)
    patches = [grid[i:i + s, j:j + s].ravel() for i in range(0, H, s) for j in range(0, W, s)]
    masks = []
    for hidden in itertools.combinations(range(len(patches)), K):
        m = np.ones(H * W)
        for h in hidden:
            m[patches[h]] = 0
        masks.append(m)
    return np.array(masks)


@pytest.mark.parametrize("H,W,s,ratio", [(4, 4, 2, 0.5), (6, 4, 2, 0.34), (4, 6, 1, 0.75), (2, 2, 2, 0.0), (5, 4, 2, 0.5)])
def test_patch_pairwise_law_equals_enumeration(H, W, s, ratio):
    N = -(-H // s) * -(-W // s)
    masks = _all_patch_masks(H, W, s, int(round(ratio * N)))
    R = masks.T @ masks / len(masks)
    aug = linssl.PatchMask((H, W), s, ratio)
    np.testing.assert_allclose(aug.pairwise(H * W), R, atol=1e-14)
    M = np.cov(np.random.default_rng(0).standard_normal((50, H * W)), rowvar=False)
    np.testing.assert_allclose(aug.second_moment_map(M), M * R, atol=1e-14)
    np.testing.assert_allclose(aug.mean_map(H * W), masks.mean(axis=0), atol=1e-14)


def test_block_pairwise_law_equals_enumeration():
    H, W, h, w = 4, 5, 2, 3
    singles = []
    for top in range(H - h + 1):
        for left in range(W - w + 1):
            m = np.ones((H, W))
            m[top:top + h, left:left + w] = 0
            singles.append(m.ravel())
    singles = np.array(singles)
    # Two independent blocks: every ordered pair of positions, a pixel kept iff neither covers it.
    pairs = np.array([a * b for a in singles for b in singles])
    aug = linssl.BlockMask((H, W), (h, w), n_blocks=2)
    np.testing.assert_allclose(aug.pairwise(H * W), pairs.T @ pairs / len(pairs), atol=1e-14)
    np.testing.assert_allclose(aug.keep_probabilities(H * W), pairs.mean(axis=0), atol=1e-14)


def test_patch_sample_hides_exactly_the_stated_number_of_whole_patches():
    H, W, C, s, ratio = 8, 8, 3, 2, 0.75
    aug = linssl.PatchMask((H, W, C), s, ratio)
    views = aug.sample(np.ones((200, H * W * C)), rng=5).reshape(200, H // s, s, W // s, s, C)
    kept = views.transpose(0, 1, 3, 2, 4, 5).reshape(200, (H // s) * (W // s), s * s * C)
    # Whole patches (every pixel and channel) are kept or hidden together.
    assert np.all((kept.min(axis=2) == kept.max(axis=2)))
    assert np.all(kept[:, :, 0].sum(axis=1) == 16 - round(0.75 * 16))
    # Every patch is hidden with the same frequency (uniform choice): 12 of 16.
    freq = 1 - kept[:, :, 0].mean(axis=0)
    assert np.all(np.abs(freq - 0.75) < 5 * np.sqrt(0.75 * 0.25 / 200))


def test_block_sample_hides_one_whole_block_inside_the_image():
    aug = linssl.BlockMask((5, 6), (2, 3))
    views = aug.sample(np.ones((300, 30)), rng=1).reshape(300, 5, 6)
    for v in views:
        rows, cols = np.nonzero(v == 0)
        assert len(rows) == 6 and rows.max() - rows.min() == 1 and cols.max() - cols.min() == 2


def test_patch_mask_refuses_bad_parameters():
    with pytest.raises(ValueError, match="every patch"):
        linssl.PatchMask((2, 2), 1, 0.9).moments(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        linssl.PatchMask((2, 2), 1, 1.0)
    with pytest.raises(ValueError, match="4 features"):
        linssl.PatchMask((2, 2), 1, 0.5).moments(np.ones((3, 5)))
    with pytest.raises(ValueError, match="infer"):
        linssl.PatchMask(None, 1, 0.5).moments(np.ones((3, 5)))


def test_pairwise_mask_validates_the_law():
    p = np.array([0.5, 0.5])
    with pytest.raises(ValueError, match="symmetric"):
        linssl.PairwiseMask(np.array([[0.5, 0.2], [0.3, 0.5]]))
    with pytest.raises(ValueError, match="impossible"):
        linssl.PairwiseMask(np.array([[0.5, 0.6], [0.6, 0.5]]))
    with pytest.raises(ValueError, match="> 0"):
        linssl.PairwiseMask(np.diag([0.0, 0.5]))
    # Three features pairwise never kept together, each kept half the time: Frechet-feasible
    # pairwise, but R - p p^T has eigenvalue 0.25 - 0.5 < 0.
    R = np.full((3, 3), 0.0) + np.diag([0.5] * 3)
    with pytest.raises(ValueError, match="semi-definite"):
        linssl.PairwiseMask(R)
    indep = linssl.PairwiseMask(np.outer(p, p) + np.diag(p * (1 - p)))
    M = np.array([[2.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(indep.second_moment_map(M), linssl.Mask(0.5).second_moment_map(M))
    with pytest.raises(TypeError, match="sampler"):
        indep.sample(np.ones((2, 2)))


def test_joint_masks_claim_no_diagonal_form_and_refuse_the_gram_path():
    X = _images()
    for aug in (linssl.PatchMask((4, 4), 2, 0.5), linssl.BlockMask((4, 4), 2)):
        m = aug.moments(X)
        assert m.keep is None and m.sigma_diag is None
        with pytest.raises(ValueError, match="solver='dense'"):
            linssl.JointEmbedding(2, augmentation=aug, solver="gram").fit(X)
        je = linssl.JointEmbedding(2, augmentation=aug).fit(X)
        assert je.solver_ != "gram"


def test_mask_family_moments_equal_the_definition_over_the_family():
    rng = np.random.default_rng(4)
    masks = rng.random((6, 7)) < 0.5
    masks[:, 0] = True  # every feature kept by some mask: diag(R) > 0
    masks[0] = True
    w = rng.random(6)
    aug = linssl.PairwiseMask.from_masks(masks, w)
    w = w / w.sum()
    X = rng.standard_normal((30, 7)) + 0.3
    m = aug.moments(X)
    views = [X * mask for mask in masks]
    np.testing.assert_allclose(m.S, sum(wj * V.T @ V / 30 for wj, V in zip(w, views)), atol=1e-12)
    Xbar = sum(wj * V for wj, V in zip(w, views))
    np.testing.assert_allclose(m.G, Xbar.T @ Xbar / 30, atol=1e-12)
    np.testing.assert_allclose(m.C, X.T @ Xbar / 30, atol=1e-12)
    drawn = aug.sample_masks(5000, 7, np.random.default_rng(0))
    freq = np.array([np.mean(np.all(drawn == mask, axis=1)) for mask in masks])
    assert np.all(np.abs(freq - w) < 5 * np.sqrt(w * (1 - w) / 5000) + 1e-12)
