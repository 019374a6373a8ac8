"""Masks with any joint law: MAE-style patch masks, cutout blocks, and any pairwise keep law.

A mask ``tau(x) = m * x`` with a random binary ``m`` has, whatever the joint law of ``m``, keep
probabilities ``p = E[m]`` and pairwise keep probabilities ``R = E[m m^T]`` (``diag(R) = p``), and

    P = diag(p),    F(M) = M o R    (Hadamard product),

so ``S = M o R``, ``G = M o p p^T``, ``C = M diag(p)``: exact, from the clean second moment alone.
(Independent masks, :class:`~linssl.augment.Mask`, are the case ``R = p p^T + diag(p (1 - p))``.)
``Sigma = M o (R - p p^T)`` is not diagonal for correlated masks, so these have no
:class:`~linssl.augment.DiagonalForm` (no Gram path).

Images are flattened row-major with channels last (``X.reshape(n, H, W, C)``); a pixel's channels
are kept or hidden together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from linssl._input import as_float, check_finite_parameter
from linssl._random import as_generator
from linssl.augment._images import check_image_shape, image_shape_for
from linssl.augment._maps import _as_batch, _weights
from linssl.augment.base import ClosedFormAugmentation

__all__ = ["BlockMask", "JointMask", "PairwiseMask", "PatchMask"]


class JointMask(ClosedFormAugmentation):
    """A binary mask with a joint law, given by its keep probabilities ``p`` and pairwise ``R``.

    Subclasses provide :meth:`pairwise` and :meth:`sample_masks`; the moments follow
    (``P = diag(p)``, ``F(M) = M o R``).

    Examples
    --------
    >>> import numpy as np, linssl
    >>> aug = linssl.PatchMask((2, 2), patch_size=1, mask_ratio=0.5)   # 2 of 4 pixels hidden
    >>> isinstance(aug, linssl.augment.JointMask), aug.second_moment_map(np.ones((4, 4)))[0]
    (True, array([0.5       , 0.16666667, 0.16666667, 0.16666667]))
    """

    def pairwise(self, d: int) -> np.ndarray:
        """The pairwise keep probabilities ``R = E[m m^T]`` for ``d`` features.

        Parameters
        ----------
        d : int

        Returns
        -------
        ndarray, shape (d, d), float64
            Symmetric, ``diag(R) = p``.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> aug = linssl.PatchMask((2, 2), patch_size=1, mask_ratio=0.5)
        >>> masks = aug.sample_masks(4000, 4, np.random.default_rng(0)).astype(float)
        >>> bool(np.allclose(aug.pairwise(4), masks.T @ masks / 4000, atol=0.05))   # Monte Carlo E[m m^T]
        True
        """
        raise NotImplementedError

    def keep_probabilities(self, d: int) -> np.ndarray:
        """The keep probabilities ``p = E[m] = diag(R)`` for ``d`` features.

        Parameters
        ----------
        d : int

        Returns
        -------
        ndarray, shape (d,), float64

        Examples
        --------
        >>> import numpy as np, linssl
        >>> aug = linssl.BlockMask((3, 3), block_size=2)
        >>> p = aug.keep_probabilities(9)
        >>> float(p[4]), bool(np.allclose(p, np.diag(aug.pairwise(9))))     # the centre is always covered
        (0.0, True)
        """
        return np.array(np.diag(self.pairwise(d)))

    def sample_masks(self, m: int, d: int, rng) -> np.ndarray:
        """Masks drawn from the law.

        Parameters
        ----------
        m : int
            Number of masks.
        d : int
            Number of features.
        rng : numpy.random.Generator

        Returns
        -------
        ndarray, shape (m, d), bool
            True where a feature is kept.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> aug = linssl.PatchMask((4, 4), patch_size=2, mask_ratio=0.25)     # 1 of 4 patches hidden
        >>> masks = aug.sample_masks(3, 16, np.random.default_rng(0))
        >>> masks.shape, masks.dtype, masks.sum(axis=1)
        ((3, 16), dtype('bool'), array([12, 12, 12]))
        """
        raise NotImplementedError

    def mean_map(self, d: int) -> np.ndarray:
        return self.keep_probabilities(d)

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        return M * self.pairwise(M.shape[0])

    def no_diagonal_form(self) -> Optional[str]:
        return f"{type(self).__name__} masks (correlated coordinates: Sigma = M o (R - p p^T) is not diagonal)"

    def sample(self, X, rng=None) -> np.ndarray:
        X = _as_batch(X)
        return X * self.sample_masks(X.shape[0], X.shape[1], as_generator(rng))


@dataclass(frozen=True, eq=False)
class PatchMask(JointMask):
    """MAE-style patch masking: a fixed number of square patches hidden, uniformly without replacement.

    The image is cut into ``N = ceil(H / patch_size) ceil(W / patch_size)`` patches (those on the
    bottom and right borders are smaller when ``patch_size`` does not divide ``H`` or ``W``); each
    view hides exactly
    ``K = round(mask_ratio * N)`` of them, chosen uniformly at random (all channels of a pixel
    together). Pairwise keep probabilities in closed form: with ``p = (N - K) / N``,
    ``R_ij = p`` when features ``i`` and ``j`` lie in the same patch and
    ``(N - K) (N - K - 1) / (N (N - 1))`` otherwise.

    Parameters
    ----------
    image_shape : tuple of int, (H, W) or (H, W, C), or None
        Image shape; features are row-major with channels last (``X.reshape(n, H, W, C)``).
        ``None``: a square image inferred from ``d`` (``s^2``: one channel, ``3 s^2``: three).
    patch_size : int
        Side of the square patches (MAE uses one that divides ``H`` and ``W``).
    mask_ratio : float
        Fraction of patches hidden, in [0, 1); ``round(mask_ratio * N)`` must be below ``N``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> aug = linssl.PatchMask((4, 4), patch_size=2, mask_ratio=0.5)   # 4 patches, 2 hidden
    >>> float(aug.keep_probabilities(16)[0]), round(float(aug.pairwise(16)[0, 15]), 4)
    (0.5, 0.1667)
    >>> view = aug.sample(np.ones((1, 16)), rng=0)
    >>> int(view.sum())        # exactly 2 of the 4 patches (8 of 16 pixels) are kept
    8
    """

    image_shape: Optional[tuple]
    patch_size: int
    mask_ratio: float

    def __post_init__(self):
        object.__setattr__(self, "image_shape", check_image_shape(self.image_shape, "PatchMask"))
        size = self.patch_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"PatchMask patch_size must be a positive integer; got {size!r}")
        ratio = float(as_float(self.mask_ratio, np.float64, "PatchMask mask_ratio"))
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f"PatchMask mask_ratio is the fraction of patches hidden, in [0, 1); got {ratio!r}")
        object.__setattr__(self, "patch_size", int(size))
        object.__setattr__(self, "mask_ratio", ratio)

    def _patches(self, d: int) -> tuple[np.ndarray, int, int]:
        """Patch index of every feature (d,), the number of patches ``N`` and hidden ``K``."""
        H, W, C = image_shape_for(self.image_shape, d, "PatchMask")
        s = self.patch_size
        across = -(-W // s)  # patches per row; border patches are cut off when s does not divide W
        rows, cols = np.divmod(np.arange(H * W), W)
        per_pixel = (rows // s) * across + cols // s
        N = -(-H // s) * across
        K = int(round(self.mask_ratio * N))
        if K >= N:
            raise ValueError(
                f"PatchMask mask_ratio={self.mask_ratio} hides round({self.mask_ratio} * {N}) = {K} of the {N} patches, "
                "i.e. every patch; use a smaller mask_ratio"
            )
        return np.repeat(per_pixel, C), N, K

    def pairwise(self, d: int) -> np.ndarray:
        patch, N, K = self._patches(d)
        kept = N - K
        same = kept / N
        other = kept * (kept - 1) / (N * (N - 1)) if N > 1 else same
        R = np.full((d, d), other)
        R[patch[:, None] == patch[None, :]] = same
        return R

    def keep_probabilities(self, d: int) -> np.ndarray:
        _, N, K = self._patches(d)
        return np.full(d, (N - K) / N)

    def sample_masks(self, m: int, d: int, rng) -> np.ndarray:
        patch, N, K = self._patches(d)
        # The K patches with the smallest of N uniform keys: a uniform K-subset per row.
        hidden = np.argsort(rng.random((m, N)), axis=1)[:, :K]
        keep = np.ones((m, N), dtype=bool)
        np.put_along_axis(keep, hidden, False, axis=1)
        return keep[:, patch]


def _coverage(length: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """For a block of ``block`` cells at a uniform start in ``0 .. length - block``: the probability
    that cell ``y`` is covered (length,) and that cells ``y1, y2`` both are (length, length)."""
    starts = length - block + 1
    y = np.arange(length)
    lo = np.maximum.outer(y, y) - block + 1  # starts covering both: max(y1, y2) - block + 1 .. min(y1, y2)
    hi = np.minimum.outer(y, y)
    both = np.clip(np.minimum(hi, starts - 1) - np.maximum(lo, 0) + 1, 0, None) / starts
    return np.diag(both).copy(), both


@dataclass(frozen=True, eq=False)
class BlockMask(JointMask):
    """Cutout-style masking: ``n_blocks`` rectangles hidden, each at a uniform position inside the image.

    Each block of ``(h, w)`` pixels (all channels) has its top-left corner uniform over the
    ``(H - h + 1)(W - w + 1)`` positions that keep it inside the image; blocks are independent and
    may overlap. With ``c_i`` the probability that one block covers feature ``i`` and ``c_ij`` that
    it covers both ``i`` and ``j`` (products of the per-axis probabilities), ``p_i = (1 - c_i)^B``
    and ``R_ij = (1 - c_i - c_j + c_ij)^B`` for ``B = n_blocks``.

    Parameters
    ----------
    image_shape : tuple of int, (H, W) or (H, W, C), or None
        As for :class:`PatchMask`.
    block_size : int or (int, int)
        Block height and width (one int: a square), at most the image's.
    n_blocks : int, default 1
        Independent blocks per view.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> aug = linssl.BlockMask((4, 4), block_size=2)
    >>> float(aug.keep_probabilities(16)[0])       # a corner is covered by 1 of the 9 positions
    0.8888888888888888
    >>> int((aug.sample(np.ones((1, 16)), rng=0) == 0).sum())
    4
    """

    image_shape: Optional[tuple]
    block_size: Any
    n_blocks: int = 1

    def __post_init__(self):
        object.__setattr__(self, "image_shape", check_image_shape(self.image_shape, "BlockMask"))
        size = self.block_size
        sizes = (size, size) if np.ndim(size) == 0 else tuple(size)
        if len(sizes) != 2 or any(isinstance(v, bool) or not float(v).is_integer() or v < 1 for v in sizes):
            raise ValueError(f"BlockMask block_size must be a positive int or an (h, w) pair of them; got {size!r}")
        object.__setattr__(self, "block_size", (int(sizes[0]), int(sizes[1])))
        count = self.n_blocks
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(f"BlockMask n_blocks must be a positive integer; got {count!r}")
        object.__setattr__(self, "n_blocks", int(count))

    def _shape(self, d: int) -> tuple[int, int, int]:
        H, W, C = image_shape_for(self.image_shape, d, "BlockMask")
        h, w = self.block_size
        if h > H or w > W:
            raise ValueError(f"BlockMask block_size {(h, w)} does not fit in the {H} x {W} image")
        return H, W, C

    def pairwise(self, d: int) -> np.ndarray:
        H, W, C = self._shape(d)
        h, w = self.block_size
        cy, cyy = _coverage(H, h)
        cx, cxx = _coverage(W, w)
        single = np.repeat(np.outer(cy, cx).ravel(), C)
        both = np.einsum("ac,bd->abcd", cyy, cxx).reshape(H * W, H * W)
        both = np.repeat(np.repeat(both, C, axis=0), C, axis=1)
        return np.clip(1.0 - single[:, None] - single[None, :] + both, 0.0, 1.0) ** self.n_blocks

    def keep_probabilities(self, d: int) -> np.ndarray:
        H, W, C = self._shape(d)
        h, w = self.block_size
        cy, _ = _coverage(H, h)
        cx, _ = _coverage(W, w)
        return np.repeat(1.0 - np.outer(cy, cx).ravel(), C) ** self.n_blocks

    def sample_masks(self, m: int, d: int, rng) -> np.ndarray:
        H, W, C = self._shape(d)
        h, w = self.block_size
        covered = np.zeros((m, H, W), dtype=bool)
        y, x = np.arange(H), np.arange(W)
        for _ in range(self.n_blocks):
            top = rng.integers(0, H - h + 1, size=m)[:, None]
            left = rng.integers(0, W - w + 1, size=m)[:, None]
            rows = (y >= top) & (y < top + h)
            cols = (x >= left) & (x < left + w)
            covered |= rows[:, :, None] & cols[:, None, :]
        return np.repeat(~covered.reshape(m, H * W), C, axis=1)


@dataclass(frozen=True, eq=False)
class _FamilySampler:
    """Draws masks from a finite family (a class, not a closure, so masks pickle to Dask workers)."""

    family: np.ndarray
    weights: np.ndarray

    def __call__(self, m: int, rng) -> np.ndarray:
        return self.family[rng.choice(self.family.shape[0], size=m, p=self.weights)]


@dataclass(frozen=True, eq=False)
class PairwiseMask(JointMask):
    """A mask given by its pairwise keep probabilities ``R = E[m m^T]`` (any joint law).

    The moments need only ``R`` (``p = diag(R)``); :meth:`sample` needs the law itself: give
    ``sampler``, or build the mask from a finite family with :meth:`from_masks`.

    ``R`` is validated: finite, symmetric, entries in [0, 1], ``0 < diag(R) = p``, within the
    Frechet bounds ``max(0, p_i + p_j - 1) <= R_ij <= min(p_i, p_j)``, and ``R - p p^T`` (the
    covariance of ``m``) positive semi-definite. (These are necessary; a law with this ``R`` may still
    not exist in corner cases: deciding it in general is NP-hard.)

    Parameters
    ----------
    keep : array_like, shape (d, d)
        ``R``.
    sampler : callable, optional
        ``sampler(m, rng) -> masks`` of shape (m, d), bool or 0/1, drawn from a law with this ``R``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> masks = np.array([[1, 1, 0], [0, 1, 1]])               # two masks, equally likely
    >>> aug = linssl.PairwiseMask.from_masks(masks)
    >>> aug.keep
    array([[0.5, 0.5, 0. ],
           [0.5, 1. , 0.5],
           [0. , 0.5, 0.5]])
    >>> aug.sample(np.ones((2, 3)), rng=0).sum(axis=1)
    array([2., 2.])
    """

    keep: np.ndarray
    sampler: Optional[Callable] = field(default=None)

    def __post_init__(self):
        R = np.array(as_float(self.keep, np.float64, "PairwiseMask keep"))
        if R.ndim != 2 or R.shape[0] != R.shape[1]:
            raise ValueError(f"PairwiseMask keep must be a square (d, d) matrix of pairwise keep probabilities; got shape {R.shape}")
        check_finite_parameter(R, "PairwiseMask keep", "pass probabilities in [0, 1]")
        _validate_pairwise(R)
        R = 0.5 * (R + R.T)
        R.flags.writeable = False
        object.__setattr__(self, "keep", R)
        if self.sampler is not None and not callable(self.sampler):
            raise TypeError(f"PairwiseMask sampler must be a callable sampler(m, rng) -> (m, d) masks; got {self.sampler!r}")

    @classmethod
    def from_masks(cls, masks, weights=None) -> "PairwiseMask":
        """The mask drawn from a finite family: ``masks[j]`` with probability ``weights[j]``.

        Parameters
        ----------
        masks : array_like, shape (J, d), bool or 0/1
        weights : array_like, shape (J,), optional
            Non-negative, normalised to sum 1 (default: uniform).

        Returns
        -------
        PairwiseMask
            With ``R = masks^T diag(weights) masks`` and a sampler drawing from the family.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> aug = linssl.PairwiseMask.from_masks([[1, 1, 0], [0, 1, 1]], weights=[0.25, 0.75])
        >>> aug.keep_probabilities(3), float(aug.pairwise(3)[1, 2])    # P(m_1 = m_2 = 1) = 0.75
        (array([0.25, 1.  , 0.75]), 0.75)
        >>> views = aug.sample(np.ones((4000, 3)), rng=0)
        >>> bool(np.allclose(views.mean(axis=0), [0.25, 1.0, 0.75], atol=0.05))    # Monte Carlo p
        True
        """
        family = np.asarray(masks)
        if family.ndim != 2 or not np.all((family == 0) | (family == 1)):
            raise ValueError("PairwiseMask.from_masks needs a (J, d) array of 0/1 (or bool) masks")
        family = family.astype(bool)
        w = _weights(weights, family.shape[0], "PairwiseMask.from_masks weights")
        R = (family.T * w) @ family.astype(np.float64)
        return cls(R, _FamilySampler(family, w))

    def _check_d(self, d: int) -> None:
        if d != self.keep.shape[0]:
            raise ValueError(f"PairwiseMask is for d={self.keep.shape[0]} features but the data have d={d}")

    def pairwise(self, d: int) -> np.ndarray:
        self._check_d(d)
        return np.array(self.keep)

    def keep_probabilities(self, d: int) -> np.ndarray:
        self._check_d(d)
        return np.array(np.diag(self.keep))

    def sample_masks(self, m: int, d: int, rng) -> np.ndarray:
        self._check_d(d)
        if self.sampler is None:
            raise TypeError(
                "this PairwiseMask has no sampler: a pairwise law R does not determine the mask distribution. "
                "Pass sampler=, or build it with PairwiseMask.from_masks(masks, weights)"
            )
        out = np.asarray(self.sampler(m, rng))
        if out.shape != (m, d) or not np.all((out == 0) | (out == 1)):
            raise ValueError(f"the PairwiseMask sampler must return an (m, d) = ({m}, {d}) array of 0/1 masks; got shape {out.shape}")
        return out.astype(bool)


def _validate_pairwise(R: np.ndarray) -> None:
    d = R.shape[0]
    tol = 1e-9
    asym = float(np.abs(R - R.T).max()) if d else 0.0
    if asym > tol:
        raise ValueError(f"PairwiseMask keep must be symmetric (E[m m^T]); max |R - R.T| is {asym:.3g}")
    if R.min() < -tol or R.max() > 1 + tol:
        raise ValueError(f"PairwiseMask keep holds probabilities, in [0, 1]; got entries in [{R.min():.3g}, {R.max():.3g}]")
    p = np.diag(R)
    if np.any(p <= 0):
        j = int(np.argmin(p))
        raise ValueError(f"PairwiseMask keep probabilities diag(R) must be > 0 (feature {j} would always be hidden); got {p[j]:.3g}")
    upper = np.minimum.outer(p, p)
    lower = np.maximum(np.add.outer(p, p) - 1.0, 0.0)
    if np.any(R > upper + tol) or np.any(R < lower - tol):
        a, b = (int(v) for v in np.unravel_index(int(np.argmax(np.maximum(R - upper, lower - R))), R.shape))
        raise ValueError(
            f"PairwiseMask keep R[{a}, {b}] = {R[a, b]:.3g} is impossible for keep probabilities "
            f"{p[a]:.3g} and {p[b]:.3g}: P(both kept) lies in [{lower[a, b]:.3g}, {upper[a, b]:.3g}]"
        )
    cov = R - np.outer(p, p)
    try:
        np.linalg.cholesky(cov + (tol * max(1.0, float(np.abs(cov).max())) * d + 1e-12) * np.eye(d))
    except np.linalg.LinAlgError:
        low = float(np.linalg.eigvalsh(cov)[0])
        raise ValueError(
            f"PairwiseMask keep R is not a law of a mask: R - p p^T (the covariance of m) must be positive "
            f"semi-definite; its smallest eigenvalue is {low:.3g}"
        ) from None
