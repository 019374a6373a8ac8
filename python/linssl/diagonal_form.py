"""Which augmentations keep the Gram path exact: those with a diagonal form, and when to take it.

Every supported augmentation (Gaussian noise with a diagonal or low-rank-plus-diagonal covariance,
a :class:`~linssl.augment.Mask`, or any :class:`~linssl.augment.Compose` of them) has a diagonal
mean map ``P = diag(p)`` and ``S = P M P + F F^T + D`` with ``D`` diagonal (see :mod:`linssl.gram`
for the derivation). :func:`prefer_gram` is the ``solver="auto"`` rule of the estimators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from linssl.augment import Augmentation, Compose, Gaussian, LowRankPlusDiagonal, Mask

__all__ = ["DiagonalForm", "diagonal_form", "prefer_gram", "supports"]

# The Gram path is chosen by solver="auto" when d exceeds this multiple of the Gram size m: the
# dense path costs about n d^2 + d^3 / 3 flops, the Gram path about m^2 d + 4 m^3 (with reconstruction
# 2 m^2 d), which cross near d = 2 m.
_AUTO_RATIO = 2.0


@dataclass(frozen=True, eq=False)
class DiagonalForm:
    """``Xbar = X diag(keep)`` and ``S = P M P + factor factor^T + diag(scale * diag(M) + offset)``.

    Attributes
    ----------
    keep : ndarray, shape (d,), float64
        The diagonal mean map ``p``.
    scale, offset : ndarray, shape (d,), float64
        ``D = diag(scale * diag(M) + offset)`` with ``M = X^T X / n``.
    factor : ndarray, shape (d, s), float64
        ``F`` (``s = 0`` without low-rank noise).
    """

    keep: np.ndarray
    scale: np.ndarray
    offset: np.ndarray
    factor: np.ndarray


def _unsupported(augmentation) -> Optional[str]:
    """Why ``augmentation`` has no diagonal form, or None when it has one."""
    if isinstance(augmentation, Mask):
        return None
    if isinstance(augmentation, Gaussian):
        if isinstance(augmentation.cov, LowRankPlusDiagonal) or np.ndim(augmentation.cov) < 2:
            return None
        return "Gaussian noise with a full (d, d) covariance (pass a diagonal or a LowRankPlusDiagonal)"
    if isinstance(augmentation, Compose):
        reasons = [r for r in map(_unsupported, augmentation.stages) if r is not None]
        return reasons[0] if reasons else None
    return f"{type(augmentation).__name__} augmentations"


def supports(augmentation) -> bool:
    """True when ``augmentation`` has a Gram reduction (diagonal or low-rank-plus-diagonal Gaussian
    noise, :class:`~linssl.augment.Mask`, or a :class:`~linssl.augment.Compose` of them)."""
    return isinstance(augmentation, Augmentation) and _unsupported(augmentation) is None


def diagonal_form(augmentation, d: int) -> DiagonalForm:
    """The :class:`DiagonalForm` of a supported augmentation for ``d`` features.

    Raises
    ------
    ValueError
        For augmentations without one (full-covariance noise, :class:`~linssl.augment.Custom`).
    """
    reason = _unsupported(augmentation)
    if reason is not None:
        raise ValueError(
            f"solver='gram' supports Gaussian noise with a diagonal or low-rank-plus-diagonal covariance, "
            f"Mask, and Compose of those; not {reason}. Use solver='dense' (or 'auto')"
        )
    stages = augmentation.stages if isinstance(augmentation, Compose) else (augmentation,)
    keep, scale, offset = np.ones(d), np.zeros(d), np.zeros(d)
    factor = np.zeros((d, 0))
    for stage in stages:
        if isinstance(stage, Mask):
            q = stage.mean_map(d)
            # D -> q D + q (1 - q) (p^2 diag(M) + rowsum(F^2)), with D = scale diag(M) + offset.
            scale = q * scale + q * (1.0 - q) * keep**2
            offset = q * offset + q * (1.0 - q) * np.einsum("ij,ij->i", factor, factor)
            keep = q * keep
            factor = q[:, None] * factor
        elif isinstance(stage, Gaussian):
            stage.mean_map(d)  # checks the covariance's dimension
            cov = stage.cov
            if isinstance(cov, LowRankPlusDiagonal):
                factor = np.hstack([factor, cov.factor])
                offset = offset + cov.diag
            else:
                offset = offset + np.broadcast_to(np.asarray(cov, dtype=np.float64), (d,))
    return DiagonalForm(keep=keep, scale=scale, offset=offset, factor=factor)


def _factor_columns(augmentation) -> int:
    stages = augmentation.stages if isinstance(augmentation, Compose) else (augmentation,)
    return sum(s.cov.factor.shape[1] for s in stages if isinstance(s, Gaussian) and isinstance(s.cov, LowRankPlusDiagonal))


def prefer_gram(n: int, d: int, augmentation, k: Optional[int] = None, ridge: float = 0.0) -> bool:
    """The ``solver="auto"`` rule: is the Gram path available and cheaper for this problem?

    True when the augmentation is supported (:func:`supports`), its diagonal part ``D`` is positive
    whatever the data (every feature gets noise variance or has a keep probability below 1, or
    ``ridge > 0``), ``d > 2 m`` with ``m = n + s`` (``s``: columns of low-rank noise factors) and
    the requested ``k`` (if any) is at most ``m``.

    Parameters
    ----------
    n, d : int
        Samples and features of the data.
    augmentation : linssl augmentation
    k : int, optional
        Components requested (None: not a representation, e.g. the supervised model).
    ridge : float, default 0.0
        The estimator's ridge.
    """
    if not supports(augmentation):
        return False
    m = n + _factor_columns(augmentation)
    if not (d > _AUTO_RATIO * m and (k is None or k <= m)):
        return False
    form = diagonal_form(augmentation, d)
    return ridge > 0.0 or bool(np.all((form.scale > 0.0) | (form.offset > 0.0)))
