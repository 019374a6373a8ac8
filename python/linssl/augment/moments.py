"""What an augmentation induces: the moments of augmented data, and their diagonal form.

:class:`AugmentedMoments` holds the moments the three closed forms of paper.md need;
:class:`DiagonalForm` is the structure of ``Sigma = S - G`` for masks and Gaussian noise (and their
compositions), which the Gram path and the whitened joint embedding use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np

__all__ = ["AugmentedMoments", "DiagonalForm"]


@dataclass(frozen=True, eq=False)
class AugmentedMoments:
    """Moments of augmented data: everything the three closed forms of paper.md need.

    Built by an augmentation's ``moments`` (or ``moments_from_second_moment``); the estimators'
    ``fit_moments`` take one.

    Parameters
    ----------
    n : int or None
        Number of samples; ``None`` for population (n -> infinity) moments.
    S : ndarray, shape (d, d), float64
        ``(1/n) sum_i E_tau[tau(x_i) tau(x_i)^T]``, symmetric.
    G : ndarray, shape (d, d), float64
        ``Xbar^T Xbar / n`` with ``xbar_i = E_tau[tau(x_i)]``, symmetric.
    C : ndarray, shape (d, d), float64
        ``X^T Xbar / n`` (clean targets against mean views; the reconstruction cross moment).
    trace_xx : float
        ``||X||_F^2 / n``, the reconstruction loss offset.
    B : ndarray, shape (l, d), float64, or None
        ``Y^T Xbar / n`` when targets were given.
    trace_yy : float or None
        ``||Y||_F^2 / n`` when targets were given.
    stderr : dict of str to ndarray, or None
        Standard errors (same shapes as the estimates, keys among ``"S"``, ``"G"``, ``"C"``,
        ``"B"``) of Monte Carlo estimates; ``None`` for exact moments.
    sigma_diag, sigma_factor : ndarray, shapes (d,) and (d, r), or None
        ``Sigma = S - G = diag(sigma_diag) + sigma_factor sigma_factor^T`` when the augmentation
        gives it in that form exactly (masks, diagonal or low-rank-plus-diagonal noise, and their
        compositions: see :class:`DiagonalForm`); it lets joint embedding skip the Cholesky
        factor of ``S`` (:mod:`linssl.linalg`). ``None`` otherwise.
    keep : ndarray, shape (d,), or None
        The diagonal of the mean map ``P`` (``Xbar = X diag(keep)``) when it is diagonal, with
        ``sigma_diag``; reconstruction becomes PCA of ``M`` when both are isotropic.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((50, 3))
    >>> m = linssl.Gaussian(0.5).moments(X)
    >>> m.n, m.d, m.S.shape, m.B is None
    (50, 3, (3, 3), True)
    >>> bool(np.allclose(m.S, X.T @ X / 50 + 0.5 * np.eye(3)))    # S = M + cov
    True
    >>> m.sigma_diag                                               # Sigma = S - G = 0.5 I
    array([0.5, 0.5, 0.5])
    """

    n: Optional[int]
    S: np.ndarray
    G: np.ndarray
    C: np.ndarray
    trace_xx: float
    B: Optional[np.ndarray] = None
    trace_yy: Optional[float] = None
    stderr: Optional[Mapping[str, np.ndarray]] = None
    sigma_diag: Optional[np.ndarray] = None
    sigma_factor: Optional[np.ndarray] = None
    keep: Optional[np.ndarray] = None

    @property
    def Sigma(self) -> np.ndarray:
        """``S - G``, shape (d, d): the covariance of the augmentations averaged over samples."""
        return self.S - self.G

    @property
    def d(self) -> int:
        """Number of features."""
        return self.S.shape[0]

    @property
    def l(self) -> int:
        """Number of target columns (0 without targets)."""
        return 0 if self.B is None else self.B.shape[0]


@dataclass(frozen=True, eq=False)
class DiagonalForm:
    """``Xbar = X diag(keep)`` and ``S = P M P + factor factor^T + diag(scale * diag(M) + offset)``.

    The form of every augmentation built from masks and Gaussian noise with a diagonal or
    low-rank-plus-diagonal covariance (in any composition): ``Sigma = S - G`` is then
    ``factor factor^T + diag(scale * diag(M) + offset)``, and the Gram path (:mod:`linssl.gram`)
    and the whitened joint embedding rely on it.

    Parameters
    ----------
    keep : ndarray, shape (d,), float64
        The diagonal mean map ``p``.
    scale, offset : ndarray, shape (d,), float64
        ``D = diag(scale * diag(M) + offset)`` with ``M = X^T X / n``.
    factor : ndarray, shape (d, s), float64
        ``F`` (``s = 0`` without low-rank noise).

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((50, 3))
    >>> aug = linssl.Compose([linssl.Mask(0.8), linssl.Gaussian(0.1)])
    >>> form = aug.diagonal_form(3)
    >>> form.keep, form.scale, form.offset, form.factor.shape    # p, p (1 - p), noise variance
    (array([0.8, 0.8, 0.8]), array([0.16, 0.16, 0.16]), array([0.1, 0.1, 0.1]), (3, 0))
    >>> m, M = aug.moments(X), X.T @ X / 50
    >>> D = np.diag(form.scale * np.diag(M) + form.offset)
    >>> bool(np.allclose(m.Sigma, form.factor @ form.factor.T + D))
    True
    """

    keep: np.ndarray
    scale: np.ndarray
    offset: np.ndarray
    factor: np.ndarray

    @classmethod
    def identity(cls, d: int) -> "DiagonalForm":
        """The form of no augmentation (``P = I``, ``S = M``), where compositions start.

        Parameters
        ----------
        d : int

        Returns
        -------
        DiagonalForm

        Examples
        --------
        >>> from linssl.augment import DiagonalForm
        >>> DiagonalForm.identity(2).keep, DiagonalForm.identity(2).scale, DiagonalForm.identity(2).factor.shape
        (array([1., 1.]), array([0., 0.]), (2, 0))
        """
        return cls(keep=np.ones(d), scale=np.zeros(d), offset=np.zeros(d), factor=np.zeros((d, 0)))
