"""Additive Gaussian noise, with any covariance: a variance, a diagonal, a full matrix, or low rank plus diagonal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union, cast

import numpy as np

from linssl._input import as_float, check_finite_parameter
from linssl._random import as_generator
from linssl.augment._maps import _as_batch
from linssl.augment.base import ClosedFormAugmentation
from linssl.augment.moments import DiagonalForm

__all__ = ["CovarianceLike", "Gaussian", "LowRankPlusDiagonal"]



@dataclass(frozen=True, eq=False)
class LowRankPlusDiagonal:
    """A covariance ``factor @ factor.T + diag(diag)``, never formed densely for sampling.

    Parameters
    ----------
    factor : array_like, shape (d, r)
    diag : array_like, shape (d,), or a scalar, >= 0

    Examples
    --------
    >>> import numpy as np, linssl
    >>> cov = linssl.LowRankPlusDiagonal(np.array([[1.0], [1.0]]), diag=0.5)
    >>> linssl.Gaussian(cov).moments(np.zeros((4, 2))).S     # factor factor^T + 0.5 I
    array([[1.5, 1. ],
           [1. , 1.5]])
    """

    factor: np.ndarray
    diag: Union[np.ndarray, float] = 0.0

    def __post_init__(self):
        factor = np.array(as_float(self.factor, np.float64, "LowRankPlusDiagonal factor"))
        if factor.ndim != 2:
            raise ValueError(f"LowRankPlusDiagonal factor must be 2-D (d, r); got shape {factor.shape}")
        d = factor.shape[0]
        diag = np.array(as_float(self.diag, np.float64, "LowRankPlusDiagonal diag"))
        if diag.ndim == 0:
            diag = np.full(d, float(diag))
        if diag.shape != (d,):
            raise ValueError(
                f"LowRankPlusDiagonal diag must have shape ({d},) to match factor {factor.shape}; got {diag.shape}"
            )
        check_finite_parameter(factor, "LowRankPlusDiagonal factor", "pass finite values")
        check_finite_parameter(diag, "LowRankPlusDiagonal diag", "pass finite values")
        if np.any(diag < 0):
            raise ValueError(
                f"LowRankPlusDiagonal diag must be >= 0 (a variance); its smallest entry is {diag.min():.3g}"
            )
        factor.flags.writeable = False
        diag.flags.writeable = False
        object.__setattr__(self, "factor", factor)
        object.__setattr__(self, "diag", diag)

    @property
    def d(self) -> int:
        """Number of features."""
        return self.factor.shape[0]

    def dense(self) -> np.ndarray:
        """The covariance ``factor @ factor.T + diag(diag)`` as a dense matrix.

        Returns
        -------
        ndarray, shape (d, d), float64

        Examples
        --------
        >>> import numpy as np, linssl
        >>> linssl.LowRankPlusDiagonal(np.array([[1.0], [2.0]]), diag=0.5).dense()
        array([[1.5, 2. ],
               [2. , 4.5]])
        """
        cov = self.factor @ self.factor.T
        cov[np.diag_indices(self.d)] += self.diag
        return cov


CovarianceLike = Union[float, np.ndarray, LowRankPlusDiagonal]
CovarianceLike.__doc__ = """What :class:`Gaussian` accepts as ``cov``: a variance, a diagonal, a matrix, or low rank plus diagonal.

A type alias, ``Union[float, np.ndarray, LowRankPlusDiagonal]``: a float ``c`` is the covariance
``c I``, an ndarray of shape (d,) a diagonal of variances, one of shape (d, d) a full symmetric
positive semi-definite matrix, and a :class:`LowRankPlusDiagonal` ``F F^T + diag(v)``. Only the
diagonal and low-rank-plus-diagonal ones have a Gram path (:mod:`linssl.diagonal_form`).

Examples
--------
>>> import typing, numpy as np, linssl
>>> from linssl.augment import CovarianceLike, LowRankPlusDiagonal
>>> covs = [0.5, np.full(2, 0.5), 0.5 * np.eye(2), LowRankPlusDiagonal(np.zeros((2, 1)), diag=0.5)]
>>> all(isinstance(c, typing.get_args(CovarianceLike)) for c in covs)
True
>>> X = np.random.default_rng(0).standard_normal((10, 2))
>>> all(np.allclose(linssl.Gaussian(c).moments(X).Sigma, 0.5 * np.eye(2)) for c in covs)    # the same c I
True
"""
# A type alias is not collected by doctest: its Examples run from here.
__test__ = {"CovarianceLike": CovarianceLike.__doc__}


@dataclass(frozen=True, eq=False)
class Gaussian(ClosedFormAugmentation):
    """Additive zero-mean Gaussian noise ``tau(x) = x + eps``, ``eps ~ N(0, cov)``.

    Moments (paper.md): ``Xbar = X``, ``S = X^T X / n + cov``, ``G = C = X^T X / n``.

    Parameters
    ----------
    cov : float, array_like of shape (d,) or (d, d), or LowRankPlusDiagonal
        A variance ``c`` (covariance ``c I``), a diagonal of variances, a full symmetric positive
        semi-definite matrix, or a low-rank-plus-diagonal covariance.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> m = linssl.Gaussian(0.5).moments(X)
    >>> m.S                                        # X^T X / n + 0.5 I
    array([[1. , 0. ],
           [0. , 2.5]])
    """

    cov: CovarianceLike
    _noise_factor: Optional[np.ndarray] = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        cov = self.cov
        if isinstance(cov, LowRankPlusDiagonal):
            return
        cov = np.array(as_float(cov, np.float64, "Gaussian cov"))
        check_finite_parameter(cov, "Gaussian cov", "pass a finite variance or covariance matrix")
        if cov.ndim == 0:
            if cov < 0:
                raise ValueError(f"Gaussian cov is a variance and must be >= 0; got {float(cov):.3g}")
            object.__setattr__(self, "cov", float(cov))
            return
        if cov.ndim == 1:
            if np.any(cov < 0):
                j = int(np.argmin(cov))
                raise ValueError(
                    f"Gaussian cov as a 1-D diagonal holds variances and must be >= 0; entry {j} is {cov[j]:.3g}"
                )
        elif cov.ndim == 2:
            if cov.shape[0] != cov.shape[1]:
                raise ValueError(f"Gaussian cov must be a square (d, d) matrix; got shape {cov.shape}")
            cov = self._validated_full(cov)
        else:
            raise ValueError(
                f"Gaussian cov must be a scalar, a (d,) diagonal, a (d, d) matrix or a LowRankPlusDiagonal; "
                f"got an array with shape {cov.shape}"
            )
        cov.flags.writeable = False
        object.__setattr__(self, "cov", cov)

    def _validated_full(self, cov: np.ndarray) -> np.ndarray:
        scale = max(float(np.abs(cov).max()), np.finfo(float).tiny)
        # Tolerances scale with the matrix: a covariance built as Q diag(lambda) Q^T carries
        # rounding of order d * eps * max|cov| that must not be mistaken for an invalid input.
        tol = 100 * cov.shape[0] * np.finfo(float).eps * scale
        asym = float(np.abs(cov - cov.T).max())
        if asym > tol:
            raise ValueError(
                f"Gaussian cov must be symmetric; max |cov - cov.T| is {asym:.3g}; pass (cov + cov.T) / 2"
            )
        cov = 0.5 * (cov + cov.T)
        w, V = np.linalg.eigh(cov)
        if w[0] < -tol:
            raise ValueError(
                f"Gaussian cov must be positive semi-definite; its smallest eigenvalue is {w[0]:.3g}. "
                "Pass a valid covariance (for example A @ A.T, or clip negative eigenvalues to 0)"
            )
        object.__setattr__(self, "_noise_factor", V * np.sqrt(np.clip(w, 0.0, None)))
        return cov

    def _check_dim(self, d: int) -> None:
        cov = self.cov
        shape = cov.factor.shape[:1] if isinstance(cov, LowRankPlusDiagonal) else np.shape(cov)[:1]
        if shape and shape[0] != d:
            raise ValueError(
                f"the Gaussian covariance is for {shape[0]} features but the data have d={d}; "
                f"pass a scalar, a ({d},) diagonal or a ({d}, {d}) matrix"
            )

    def covariance(self, d: int) -> np.ndarray:
        """The noise covariance as a dense matrix, for ``d`` features.

        Parameters
        ----------
        d : int

        Returns
        -------
        ndarray, shape (d, d), float64

        Examples
        --------
        >>> import numpy as np, linssl
        >>> linssl.Gaussian(np.array([0.5, 2.0])).covariance(2)
        array([[0.5, 0. ],
               [0. , 2. ]])
        >>> noise = linssl.Gaussian(0.5).sample(np.zeros((4000, 2)), rng=0)
        >>> bool(np.allclose(np.cov(noise.T), linssl.Gaussian(0.5).covariance(2), atol=0.05))   # Monte Carlo
        True
        """
        self._check_dim(d)
        cov = self.cov
        if isinstance(cov, LowRankPlusDiagonal):
            return cov.dense()
        if np.ndim(cov) == 2:
            return np.array(cov)
        return np.diag(np.broadcast_to(np.asarray(cov, dtype=np.float64), (d,)))

    def mean_map(self, d: int) -> np.ndarray:
        self._check_dim(d)
        return np.ones(d)

    def no_diagonal_form(self) -> Optional[str]:
        if isinstance(self.cov, LowRankPlusDiagonal) or np.ndim(self.cov) < 2:
            return None
        return "Gaussian noise with a full (d, d) covariance (pass a diagonal or a LowRankPlusDiagonal)"

    def diagonal_form(self, d: int, after: Optional[DiagonalForm] = None) -> DiagonalForm:
        # Noise adds its covariance: a low-rank factor joins factor, a diagonal offset.
        if self.no_diagonal_form() is not None:
            return super().diagonal_form(d)
        self._check_dim(d)
        form = DiagonalForm.identity(d) if after is None else after
        cov = self.cov
        if isinstance(cov, LowRankPlusDiagonal):
            return DiagonalForm(form.keep, form.scale, form.offset + cov.diag, np.hstack([form.factor, cov.factor]))
        diag = np.broadcast_to(np.asarray(cov, dtype=np.float64), (d,))
        return DiagonalForm(form.keep, form.scale, form.offset + diag, form.factor)

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        d = M.shape[0]
        self._check_dim(d)
        cov = self.cov
        if isinstance(cov, LowRankPlusDiagonal) or np.ndim(cov) == 2:
            return M + self.covariance(d)
        out = np.array(M, dtype=np.float64)
        out[np.diag_indices(d)] += cov
        return out

    def sample(self, X, rng=None) -> np.ndarray:
        X = _as_batch(X)
        rng = as_generator(rng)
        m, d = X.shape
        self._check_dim(d)
        cov = self.cov
        if isinstance(cov, LowRankPlusDiagonal):
            noise = rng.standard_normal((m, cov.factor.shape[1])) @ cov.factor.T
            noise += rng.standard_normal((m, d)) * np.sqrt(cov.diag)
        elif np.ndim(cov) == 2:
            noise = rng.standard_normal((m, d)) @ cast(np.ndarray, self._noise_factor).T
        else:
            noise = rng.standard_normal((m, d)) * np.sqrt(cov)
        return X + noise
