"""Geometric image augmentations as finite families of sparse linear maps: translations, flips,
random resized crops, Gaussian blurs.

Each is a :class:`~linssl.augment.linear_maps.RandomLinear` whose maps are built for the data's
image shape as ``scipy.sparse`` matrices (gathers and stencils: ``A = A_rows (x) A_cols (x) I_C``,
Kronecker products of one-dimensional maps), never as dense d x d matrices, so the moment maps cost
``O(nnz(A_j) d)`` per map. Features are row-major with channels last (``X.reshape(n, H, W, C)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import scipy.sparse

from linssl._input import as_float
from linssl.augment._images import check_image_shape, image_shape_for
from linssl.augment._maps import _symmetric
from linssl.augment.base import ClosedFormAugmentation
from linssl.augment.linear_maps import RandomLinear

__all__ = ["Blur", "CropResize", "Flip", "ImageMaps", "Translate"]


def _kron(rows, cols, channels: int):
    """The map of a (H, W, C) image applying ``rows`` to its rows and ``cols`` to its columns."""
    return scipy.sparse.csr_array(
        scipy.sparse.kron(scipy.sparse.kron(rows, cols), scipy.sparse.identity(channels), format="csr")
    )


def _shift(length: int, s: int, circular: bool):
    """``out[y] = in[y - s]`` (zero outside, or modulo ``length``)."""
    y = np.arange(length)
    src = y - s
    if circular:
        src = src % length
        inside = np.ones(length, dtype=bool)
    else:
        inside = (src >= 0) & (src < length)
    return scipy.sparse.csr_array((np.ones(inside.sum()), (y[inside], src[inside])), shape=(length, length))


def _reverse(length: int):
    y = np.arange(length)
    return scipy.sparse.csr_array((np.ones(length), (y, length - 1 - y)), shape=(length, length))


def _resize(length: int, start: int, size: int):
    """Bilinear resize of the cells ``start .. start + size - 1`` to ``length`` cells (half-pixel
    centres, ``align_corners=False``, source coordinates clamped to the crop)."""
    out = np.arange(length)
    src = np.clip((out + 0.5) * size / length - 0.5, 0.0, size - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, size - 1)
    frac = src - lo
    rows = np.concatenate([out, out])
    cols = start + np.concatenate([lo, hi])
    vals = np.concatenate([1.0 - frac, frac])
    return scipy.sparse.csr_array((vals, (rows, cols)), shape=(length, length))  # duplicates are summed


def _gaussian(length: int, sigma: float):
    """Gaussian blur along one axis, kernel truncated at ``ceil(3 sigma)``, normalised, reflect padding."""
    if sigma == 0.0:
        return scipy.sparse.identity(length, format="csr")
    radius = max(1, math.ceil(3.0 * sigma))
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= kernel.sum()
    y = np.arange(length)[:, None]
    src = y + taps[None, :]
    if length > 1:  # reflect without repeating the edge (scipy's "mirror", torch's "reflect")
        period = 2 * (length - 1)
        src = np.abs(src) % period
        src = np.where(src >= length, period - src, src)
    else:
        src = np.zeros_like(src)
    rows = np.broadcast_to(y, src.shape)
    vals = np.broadcast_to(kernel, src.shape)
    return scipy.sparse.csr_array((vals.ravel(), (rows.ravel(), src.ravel())), shape=(length, length))


def _average_shifts(T: np.ndarray, axes: tuple, s: int, circular: bool) -> np.ndarray:
    """``mean over t in -s..s`` of ``T`` shifted by ``t`` along all ``axes`` at once
    (``out[.., y1, .., y2, ..] = T[.., y1 - t, .., y2 - t, ..]``, zero where any leaves the range)."""
    out = np.zeros_like(T)
    length = T.shape[axes[0]]
    for t in range(-s, s + 1):
        if circular:
            out += np.roll(T, (t,) * len(axes), axis=axes)
            continue
        dst, src = [slice(None)] * T.ndim, [slice(None)] * T.ndim
        for axis in axes:
            dst[axis] = slice(max(t, 0), length + min(t, 0))
            src[axis] = slice(max(-t, 0), length + min(-t, 0))
        out[tuple(dst)] += T[tuple(src)]
    out /= 2 * s + 1
    return out


class ImageMaps(ClosedFormAugmentation):
    """An image augmentation given by a finite family of sparse maps built for the image shape.

    Subclasses provide ``_maps(shape) -> (maps, weights)``; every moment and :meth:`sample` go
    through :meth:`family`, the equivalent :class:`~linssl.RandomLinear` for ``d`` features.

    Examples
    --------
    >>> import linssl
    >>> fam = linssl.Flip((2, 3)).family(6)       # identity and mirror image, equally likely
    >>> len(fam.maps), fam.maps[1].toarray()[0]
    (2, array([0., 0., 1., 0., 0., 0.]))
    """

    image_shape: Optional[tuple]
    _families: dict

    def _maps(self, shape: tuple[int, int, int]) -> tuple[list, Optional[np.ndarray]]:
        raise NotImplementedError

    def family(self, d: int) -> RandomLinear:
        """The augmentation as a :class:`~linssl.RandomLinear` of sparse maps for ``d`` features.

        Built once per ``d`` and cached; every moment and :meth:`sample` go through it.

        Parameters
        ----------
        d : int
            Number of features, ``H W C`` for the image shape (or a square image's, when it is None).

        Returns
        -------
        RandomLinear
            Its ``maps`` are scipy.sparse (d, d) CSR arrays, with the family's ``weights``.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> aug = linssl.Flip((2, 2), p=0.25)
        >>> fam = aug.family(4)
        >>> len(fam.maps), fam.weights, bool(np.allclose(fam.mean_map(4).toarray(), aug.mean_map(4).toarray()))
        (2, array([0.75, 0.25]), True)
        """
        if d not in self._families:
            shape = image_shape_for(self.image_shape, d, type(self).__name__)
            maps, weights = self._maps(shape)
            self._families[d] = RandomLinear(maps, weights)
        return self._families[d]

    def no_diagonal_form(self) -> Optional[str]:
        return f"{type(self).__name__} (a random linear map: Sigma is not diagonal)"

    def mean_map(self, d: int):
        return self.family(d).mean_map(d)

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        return self.family(M.shape[0]).second_moment_map(M)

    def sample(self, X, rng=None) -> np.ndarray:
        X = np.asarray(X)
        d = X.shape[1] if X.ndim == 2 else 0
        return self.family(d).sample(X, rng)


def _positive_int(value, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{what} must be an integer >= {low}; got {value!r}")
    return int(value)


@dataclass(frozen=True, eq=False)
class Translate(ImageMaps):
    """Random translation by ``(dy, dx)`` uniform over ``{-s, ..., s}^2`` (``(2 s + 1)^2`` shifts).

    ``out[y, x] = in[y - dy, x - dx]``, pixels shifted in from outside are 0 (``padding="zero"``)
    or wrap around (``"circular"``).

    Parameters
    ----------
    image_shape : tuple of int, (H, W) or (H, W, C), or None
        Image shape, features row-major with channels last (``X.reshape(n, H, W, C)``); None: a
        square image inferred from ``d`` (``s^2``: one channel, ``3 s^2``: three).
    max_shift : int
        ``s >= 0``, in pixels.
    padding : {"zero", "circular"}, default "zero"

    Examples
    --------
    >>> import numpy as np, linssl
    >>> aug = linssl.Translate((3, 3), max_shift=1, padding="circular")
    >>> len(aug.family(9).maps)
    9
    >>> np.allclose(aug.mean_map(9).toarray(), 1 / 9)   # circular shifts average every pixel out
    True
    """

    image_shape: Optional[tuple]
    max_shift: int
    padding: str = "zero"
    _families: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "image_shape", check_image_shape(self.image_shape, "Translate"))
        object.__setattr__(self, "max_shift", _positive_int(self.max_shift, "Translate max_shift", 0))
        if self.padding not in ("zero", "circular"):
            raise ValueError(f"Translate padding must be 'zero' or 'circular'; got {self.padding!r}")

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        # (1/J) sum_s A_s M A_s^T as slices of M seen as an (H, W, C, H, W, C) tensor: the shifts along
        # rows and columns are independent, so the average over the (2s + 1)^2 shifts is an average over
        # row shifts of an average over column shifts (2 (2s + 1) strided passes over M, no matrix product).
        d = M.shape[0]
        H, W, C = image_shape_for(self.image_shape, d, "Translate")
        T = np.ascontiguousarray(M, dtype=np.float64).reshape(H, W, C, H, W, C)
        circular = self.padding == "circular"
        T = _average_shifts(T, (1, 4), self.max_shift, circular)
        T = _average_shifts(T, (0, 3), self.max_shift, circular)
        return T.reshape(d, d)

    def mean_products(self, M: np.ndarray, P) -> tuple[np.ndarray, np.ndarray]:
        # P = avg_s A_s averages row and column shifts independently on each side of M:
        # C = M P^T averages the second index's shifts, G = P C then the first's.
        d = M.shape[0]
        H, W, C = image_shape_for(self.image_shape, d, "Translate")
        circular, s = self.padding == "circular", self.max_shift
        T = np.ascontiguousarray(M, dtype=np.float64).reshape(H, W, C, H, W, C)
        T = _average_shifts(_average_shifts(T, (4,), s, circular), (3,), s, circular)
        cross = T.reshape(d, d)
        T = _average_shifts(_average_shifts(T, (1,), s, circular), (0,), s, circular)
        return _symmetric(T.reshape(d, d)), cross

    def _maps(self, shape):
        H, W, C = shape
        s, circular = self.max_shift, self.padding == "circular"
        rows = {dy: _shift(H, dy, circular) for dy in range(-s, s + 1)}
        cols = {dx: _shift(W, dx, circular) for dx in range(-s, s + 1)}
        return [_kron(rows[dy], cols[dx], C) for dy in range(-s, s + 1) for dx in range(-s, s + 1)], None


@dataclass(frozen=True, eq=False)
class Flip(ImageMaps):
    """Random flip: the image reversed along ``axis`` with probability ``p``.

    Parameters
    ----------
    image_shape : tuple of int, (H, W) or (H, W, C), or None
        As for :class:`Translate`.
    axis : {1, 0}, default 1
        1: horizontal flip (columns reversed, the usual one); 0: vertical (rows reversed).
    p : float, default 0.5
        Flip probability, in [0, 1].

    Examples
    --------
    >>> import numpy as np, linssl
    >>> aug = linssl.Flip((1, 2), p=1.0)
    >>> aug.sample(np.array([[1.0, 2.0]]), rng=0)
    array([[2., 1.]])
    """

    image_shape: Optional[tuple]
    axis: int = 1
    p: float = 0.5
    _families: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "image_shape", check_image_shape(self.image_shape, "Flip"))
        if self.axis not in (0, 1) or isinstance(self.axis, bool):
            raise ValueError(f"Flip axis must be 1 (horizontal) or 0 (vertical); got {self.axis!r}")
        p = float(as_float(self.p, np.float64, "Flip p"))
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Flip p is a probability, in [0, 1]; got {p!r}")
        object.__setattr__(self, "p", p)

    def _maps(self, shape):
        H, W, C = shape
        rows = _reverse(H) if self.axis == 0 else scipy.sparse.identity(H, format="csr")
        cols = _reverse(W) if self.axis == 1 else scipy.sparse.identity(W, format="csr")
        return [_kron(scipy.sparse.identity(H), scipy.sparse.identity(W), C), _kron(rows, cols, C)], np.array([1.0 - self.p, self.p])


@dataclass(frozen=True, eq=False)
class CropResize(ImageMaps):
    """Random resized crop (RandomResizedCrop), as a fixed family of ``n_crops`` crops drawn once.

    Each crop is drawn as torchvision does: area ``scale * H W`` with ``scale`` uniform, aspect
    ratio log-uniform in ``ratio``, a uniform position (after 10 misses, the largest centred crop
    within the ratio range); the crop is resized back to ``H x W`` by bilinear interpolation
    (half-pixel centres). The augmentation is the uniform law over this family (drawn from
    ``seed``), whose moments are exact; ``n_crops`` of 25 to 100 approximate the continuous law.

    Parameters
    ----------
    image_shape : tuple of int, (H, W) or (H, W, C), or None
        As for :class:`Translate`.
    scale : (float, float), default (0.5, 1.0)
        Range of the crop's area fraction, within (0, 1].
    ratio : (float, float), default (3/4, 4/3)
        Range of the crop's width / height.
    n_crops : int, default 25
    seed : int, default 0
        Seed of the family.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> aug = linssl.CropResize((8, 8), scale=(0.5, 1.0), n_crops=10)
    >>> A = aug.family(64).maps[0]
    >>> np.allclose(A.sum(axis=1), 1.0)       # bilinear weights sum to 1 per output pixel
    True
    """

    image_shape: Optional[tuple]
    scale: tuple = (0.5, 1.0)
    ratio: tuple = (3.0 / 4.0, 4.0 / 3.0)
    n_crops: int = 25
    seed: int = 0
    _families: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "image_shape", check_image_shape(self.image_shape, "CropResize"))
        lo, hi = (float(v) for v in self.scale)
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"CropResize scale must be (low, high) with 0 < low <= high <= 1; got {self.scale!r}")
        rlo, rhi = (float(v) for v in self.ratio)
        if not 0.0 < rlo <= rhi:
            raise ValueError(f"CropResize ratio must be (low, high) with 0 < low <= high; got {self.ratio!r}")
        object.__setattr__(self, "scale", (lo, hi))
        object.__setattr__(self, "ratio", (rlo, rhi))
        object.__setattr__(self, "n_crops", _positive_int(self.n_crops, "CropResize n_crops"))
        object.__setattr__(self, "seed", _positive_int(self.seed, "CropResize seed", 0))

    def crops(self, H: int, W: int) -> list[tuple[int, int, int, int]]:
        """The family's crops for an ``H x W`` image, drawn from ``seed``.

        Parameters
        ----------
        H, W : int
            Image height and width, in pixels.

        Returns
        -------
        list of (int, int, int, int)
            ``n_crops`` crops ``(top, left, height, width)``, each inside the image.

        Examples
        --------
        >>> import linssl
        >>> crops = linssl.CropResize((8, 8), n_crops=5).crops(8, 8)
        >>> len(crops), all(0 <= t and t + h <= 8 and 0 <= l and l + w <= 8 for t, l, h, w in crops)
        (5, True)
        >>> sorted(h * w for _, _, h, w in crops)       # areas: about 0.5 to 1 times the 64 pixels
        [30, 30, 48, 56, 56]
        """
        rng = np.random.default_rng(self.seed)
        out = []
        log_ratio = np.log(self.ratio)
        for _ in range(self.n_crops):
            for _attempt in range(10):
                area = H * W * rng.uniform(*self.scale)
                aspect = math.exp(rng.uniform(*log_ratio))
                w = int(round(math.sqrt(area * aspect)))
                h = int(round(math.sqrt(area / aspect)))
                if 0 < w <= W and 0 < h <= H:
                    top = int(rng.integers(0, H - h + 1))
                    left = int(rng.integers(0, W - w + 1))
                    out.append((top, left, h, w))
                    break
            else:  # torchvision's fallback: a centred crop with the ratio clamped to the range
                aspect = W / H
                if aspect < self.ratio[0]:
                    w, h = W, int(round(W / self.ratio[0]))
                elif aspect > self.ratio[1]:
                    h, w = H, int(round(H * self.ratio[1]))
                else:
                    h, w = H, W
                out.append(((H - h) // 2, (W - w) // 2, h, w))
        return out

    def _maps(self, shape):
        H, W, C = shape
        return [_kron(_resize(H, top, h), _resize(W, left, w), C) for top, left, h, w in self.crops(H, W)], None


@dataclass(frozen=True, eq=False)
class Blur(ImageMaps):
    """Random Gaussian blur: ``sigma`` uniform over a finite set, separable kernel, reflect padding.

    The kernel is truncated at ``ceil(3 sigma)`` pixels and normalised; ``sigma = 0`` leaves the
    image unchanged.

    Parameters
    ----------
    image_shape : tuple of int, (H, W) or (H, W, C), or None
        As for :class:`Translate`.
    sigmas : sequence of float, default (0.0, 0.5, 1.0)
        Standard deviations in pixels, >= 0, equally likely.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> aug = linssl.Blur((5, 5), sigmas=(1.0,))
    >>> np.allclose(aug.family(25).maps[0].sum(axis=1), 1.0)
    True
    """

    image_shape: Optional[tuple]
    sigmas: Sequence[float] = (0.0, 0.5, 1.0)
    _families: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "image_shape", check_image_shape(self.image_shape, "Blur"))
        sigmas = np.atleast_1d(np.array(as_float(self.sigmas, np.float64, "Blur sigmas")))
        if sigmas.ndim != 1 or sigmas.size == 0 or not np.all(np.isfinite(sigmas)) or np.any(sigmas < 0):
            raise ValueError(f"Blur sigmas must be a non-empty sequence of finite standard deviations >= 0; got {self.sigmas!r}")
        object.__setattr__(self, "sigmas", tuple(float(s) for s in sigmas))

    def _maps(self, shape):
        H, W, C = shape
        return [_kron(_gaussian(H, s), _gaussian(W, s), C) for s in self.sigmas], None
