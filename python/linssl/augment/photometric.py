"""Photometric augmentations: brightness and contrast jitter, random affine maps of the intensities.

- :class:`Brightness`: ``tau(x) = x + b 1`` with ``b ~ U[-delta, delta]`` (additive) or
  ``tau(x) = b x`` with ``b ~ U[max(0, 1 - delta), 1 + delta]`` (multiplicative, torchvision's
  ``ColorJitter(brightness=delta)``).
- :class:`Contrast`: ``tau(x) = c x + (1 - c) Q x`` with ``Q x`` every pixel replaced by its
  channel's mean over the image, ``c ~ U[max(0, 1 - a), 1 + a]``.

Both are linear in one random scalar, so only its first two moments enter (exact for the
continuous law): ``P = E[A]``, ``F(M) = E[A M A^T]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from linssl._input import as_float
from linssl._random import as_generator
from linssl.augment._images import check_image_shape, image_shape_for
from linssl.augment._maps import _as_batch, _symmetric
from linssl.augment.base import ClosedFormAugmentation
from linssl.augment.moments import DiagonalForm

__all__ = ["Brightness", "Contrast"]


def _uniform_moments(lo: float, hi: float) -> tuple[float, float]:
    """``E[b]`` and ``E[b^2]`` of ``b ~ U[lo, hi]``."""
    return 0.5 * (lo + hi), (lo * lo + lo * hi + hi * hi) / 3.0


def _strength(value, what: str) -> float:
    out = float(as_float(value, np.float64, what))
    if not (np.isfinite(out) and out >= 0):
        raise ValueError(f"{what} must be a finite number >= 0; got {value!r}")
    return out


@dataclass(frozen=True, eq=False)
class Brightness(ClosedFormAugmentation):
    """Random brightness: an additive offset ``b 1`` or a multiplicative factor ``b`` per view.

    Additive (``b ~ U[-delta, delta]``, the same for every feature): ``P = I``,
    ``S = M + (delta^2 / 3) 1 1^T``, i.e. rank-one noise, so it keeps the diagonal form (and the
    Gram path). Multiplicative (``b ~ U[max(0, 1 - delta), 1 + delta]``): ``P = E[b] I``,
    ``S = E[b^2] M``.

    Parameters
    ----------
    delta : float
        Strength, >= 0.
    mode : {"additive", "multiplicative"}, default "additive"

    Examples
    --------
    >>> import numpy as np, linssl
    >>> linssl.Brightness(0.3).second_moment_map(np.zeros((2, 2)))
    array([[0.03, 0.03],
           [0.03, 0.03]])
    """

    delta: float
    mode: str = "additive"

    def __post_init__(self):
        object.__setattr__(self, "delta", _strength(self.delta, "Brightness delta"))
        if self.mode not in ("additive", "multiplicative"):
            raise ValueError(f"Brightness mode must be 'additive' or 'multiplicative'; got {self.mode!r}")

    def _range(self) -> tuple[float, float]:
        if self.mode == "additive":
            return -self.delta, self.delta
        return max(0.0, 1.0 - self.delta), 1.0 + self.delta

    def mean_map(self, d: int) -> np.ndarray:
        mean, _ = _uniform_moments(*self._range())
        return np.full(d, 1.0 if self.mode == "additive" else mean)

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        _, second = _uniform_moments(*self._range())
        if self.mode == "additive":
            return M + second
        return second * M

    def no_diagonal_form(self) -> Optional[str]:
        if self.mode == "additive":
            return None
        return "multiplicative Brightness (Sigma = Var(b) M is not diagonal)"

    def diagonal_form(self, d: int, after: Optional[DiagonalForm] = None) -> DiagonalForm:
        # Additive brightness is rank-one noise: the column sqrt(delta^2 / 3) 1 joins factor.
        if self.no_diagonal_form() is not None:
            return super().diagonal_form(d)
        form = DiagonalForm.identity(d) if after is None else after
        column = np.full((d, 1), self.delta / np.sqrt(3.0))
        return DiagonalForm(form.keep, form.scale, form.offset, np.hstack([form.factor, column]))

    def sample(self, X, rng=None) -> np.ndarray:
        X = _as_batch(X)
        b = as_generator(rng).uniform(*self._range(), size=(X.shape[0], 1))
        return X + b if self.mode == "additive" else X * b


@dataclass(frozen=True, eq=False)
class Contrast(ClosedFormAugmentation):
    """Random contrast: ``tau(x) = c x + (1 - c) Q x``, ``c ~ U[max(0, 1 - strength), 1 + strength]``.

    ``Q x`` replaces every pixel by the mean of its channel over the image (``Q`` is the orthogonal
    projector onto per-channel constants), so ``c < 1`` pulls the image towards its mean intensity.
    ``P = E[c] I + (1 - E[c]) Q`` and
    ``F(M) = E[c^2] M + E[c (1 - c)] (Q M + M Q) + E[(1 - c)^2] Q M Q``.

    Parameters
    ----------
    image_shape : tuple of int, (H, W) or (H, W, C), or None
        Features row-major with channels last (``X.reshape(n, H, W, C)``); None: a square image
        inferred from ``d``.
    strength : float
        ``>= 0``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> aug = linssl.Contrast((1, 2), strength=0.5)
    >>> aug.mean_map(2)
    array([[1., 0.],
           [0., 1.]])
    """

    image_shape: Optional[tuple]
    strength: float

    def __post_init__(self):
        object.__setattr__(self, "image_shape", check_image_shape(self.image_shape, "Contrast"))
        object.__setattr__(self, "strength", _strength(self.strength, "Contrast strength"))

    def _range(self) -> tuple[float, float]:
        return max(0.0, 1.0 - self.strength), 1.0 + self.strength

    def _basis(self, d: int) -> np.ndarray:
        """``U`` (d, C) with orthonormal columns and ``Q = U U^T``."""
        H, W, C = image_shape_for(self.image_shape, d, "Contrast")
        U = np.zeros((d, C))
        U[np.arange(d), np.arange(d) % C] = 1.0 / np.sqrt(H * W)
        return U

    def no_diagonal_form(self) -> Optional[str]:
        return "Contrast (a random linear map: Sigma is not diagonal)"

    def mean_map(self, d: int) -> np.ndarray:
        mean, _ = _uniform_moments(*self._range())
        U = self._basis(d)
        P = (1.0 - mean) * (U @ U.T)
        P[np.diag_indices(d)] += mean
        return P

    def mean_products(self, M: np.ndarray, P) -> tuple[np.ndarray, np.ndarray]:
        # P = a I + b U U^T (a = E[c], b = 1 - a): P M = a M + b U (U^T M) and P M P^T in O(d^2 C),
        # without the dense d x d products.
        mean, _ = _uniform_moments(*self._range())
        a, b = mean, 1.0 - mean
        U = self._basis(M.shape[0])
        UM = U.T @ M
        PM = a * M + b * (U @ UM)  # P M; C = M P^T = (P M)^T for symmetric M
        G = a * PM + b * ((PM @ U) @ U.T)  # (P M) P^T, P symmetric
        return _symmetric(G), np.ascontiguousarray(PM.T)

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        lo, hi = self._range()
        mean, second = _uniform_moments(lo, hi)
        cross, rest = mean - second, 1.0 - 2.0 * mean + second  # E[c (1 - c)], E[(1 - c)^2]
        U = self._basis(M.shape[0])
        UM = U.T @ M  # (C, d)
        QM = U @ UM
        return second * M + cross * (QM + QM.T) + rest * (U @ (UM @ U) @ U.T)

    def sample(self, X, rng=None) -> np.ndarray:
        X = _as_batch(X)
        U = self._basis(X.shape[1])
        c = as_generator(rng).uniform(*self._range(), size=(X.shape[0], 1))
        return c * X + (1.0 - c) * ((X @ U) @ U.T)
