"""Augmentation distributions and the moments of augmented data they induce.

Every linssl solution depends on the data and the augmentation only through the moments of
paper.md: ``S`` (second moment of augmented views), ``G = Xbar^T Xbar / n`` (second moment of
mean views), ``C = X^T Xbar / n`` and, with targets, ``B = Y^T Xbar / n``. This module turns
data plus an augmentation spec into those moments (:class:`AugmentedMoments`).

Closed-form augmentations (:class:`Gaussian`, :class:`Mask` and any :class:`Compose` of them)
are described by two maps acting on the clean second moment ``M = X^T X / n``:

- the mean map ``P``: ``xbar = P x`` (identity for additive noise, ``diag(p)`` for masks);
- the second-moment map ``F``: ``M -> (1/n) sum_i E[tau(x_i) tau(x_i)^T]``
  (noise: ``M + cov``; mask: ``D M D + diag(p (1 - p) diag(M))``).

Applying ``tau_2`` after ``tau_1`` (independent draws) has mean map ``P_2 P_1`` and second-moment
map ``F_2 o F_1``, which makes compositions exact. Then ``S = F(M)``, ``G = P M P^T``,
``C = M P^T`` and ``B = (X^T Y / n)^T P^T``: one pass over the data (the Rust accumulator), then
O(d^2) work, and no augmented copy is ever materialised.

:class:`Custom` wraps any user function; its moments are Monte Carlo estimates streamed through the
Rust accumulator chunk by chunk, with batch-means standard errors.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields
from typing import Callable, Mapping, Optional, Sequence, Union

import numpy as np

from linssl._input import as_float, check_finite
from linssl._memory import check_dense_fits
from linssl._monte_carlo import monte_carlo_moments
from linssl._streaming import float_dtype, iter_chunks
from linssl.accumulate import DataMoments, MomentAccumulator, moments as _data_moments

__all__ = [
    "AugmentedMoments",
    "Augmentation",
    "ClosedFormAugmentation",
    "Compose",
    "Custom",
    "Gaussian",
    "LowRankPlusDiagonal",
    "Mask",
]



@dataclass(frozen=True, eq=False)
class AugmentedMoments:
    """Moments of augmented data: everything the three closed forms of paper.md need.

    Attributes
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
    """

    n: Optional[int]
    S: np.ndarray
    G: np.ndarray
    C: np.ndarray
    trace_xx: float
    B: Optional[np.ndarray] = None
    trace_yy: Optional[float] = None
    stderr: Optional[Mapping[str, np.ndarray]] = None

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


class Augmentation:
    """An augmentation distribution: a law over maps ``tau: R^d -> R^d``.

    Subclasses provide :meth:`moments` (the moments of augmented data) and :meth:`sample` (one
    augmented view per row). Augmentations are immutable and compare equal by value.
    """

    #: True when :meth:`moments` is exact (no Monte Carlo).
    is_closed_form: bool = False

    def moments(
        self, data, y=None, *, chunk_size: Optional[int] = None, dtype=None, progress: Optional[bool] = None
    ) -> AugmentedMoments:
        """Moments of the augmented data.

        Parameters
        ----------
        data : array_like of shape (n, d), np.memmap, dask.array.Array, iterable of chunks, or DataMoments
            Any real dtype; streamed in chunks with memory independent of ``n`` (see
            :func:`linssl.moments`); an iterable yields arrays or ``(X_chunk, y_chunk)`` pairs; a
            :class:`linssl.DataMoments` works for closed-form augmentations only.
        y : array_like, shape (n,) or (n, l), optional
            Targets, for the supervised cross moment ``B``.
        chunk_size : int, optional
            Rows per chunk when reading an array.
        dtype : {None, np.float32, np.float64}
            Precision of the products accumulated over the data (default: float32 for native
            float32 data, float64 otherwise); the moments returned are float64 either way.
        progress : bool, optional
            Progress bar over the pass (default: only for long passes).

        Returns
        -------
        AugmentedMoments
        """
        raise NotImplementedError

    def sample(self, X, rng=None) -> np.ndarray:
        """Draw one augmented view of each row of ``X``.

        Parameters
        ----------
        X : array_like, shape (m, d)
        rng : numpy.random.Generator or seed, optional

        Returns
        -------
        ndarray, shape (m, d), float64
        """
        raise NotImplementedError

    # Value semantics for immutable specs holding arrays (dataclass equality would compare
    # arrays elementwise and fail), so specs can key caches and group sweep configurations.
    def _key(self):
        return (type(self),) + tuple(_freeze(getattr(self, f.name)) for f in fields(self) if f.compare)

    def __eq__(self, other):
        if not isinstance(other, Augmentation):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())


def _freeze(value):
    """A hashable stand-in for a spec field (arrays by shape, dtype and bytes)."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.shape, value.dtype.str, value.tobytes())
    if isinstance(value, LowRankPlusDiagonal):
        return ("lowrank", _freeze(value.factor), _freeze(value.diag))
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    return value


class ClosedFormAugmentation(Augmentation):
    """An augmentation with exact moments given by a mean map ``P`` and a second-moment map ``F``."""

    is_closed_form = True

    def mean_map(self, d: int) -> np.ndarray:
        """The mean map ``P`` (``xbar = P x``) for ``d`` features.

        Returns
        -------
        ndarray, shape (d,) for a diagonal map (the diagonal), or (d, d), float64
        """
        raise NotImplementedError

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        """``F(M)``: the averaged second moment of augmented views when ``X^T X / n = M``.

        Parameters
        ----------
        M : ndarray, shape (d, d), float64

        Returns
        -------
        ndarray, shape (d, d), float64
        """
        raise NotImplementedError

    def moments(
        self, data, y=None, *, chunk_size: Optional[int] = None, dtype=None, progress: Optional[bool] = None
    ) -> AugmentedMoments:
        if isinstance(data, DataMoments):
            if y is not None:
                raise ValueError("data is a DataMoments, which already holds its targets; do not pass y")
            clean = data
        else:
            clean = _data_moments(data, y, chunk_size=chunk_size, dtype=dtype, progress=progress)
        if not np.all(np.isfinite(clean.second)) or (clean.cross is not None and not np.all(np.isfinite(clean.cross))):
            # Moments computed from data are checked as they are accumulated; these were given.
            raise ValueError("the DataMoments given hold NaN or Inf; compute them from finite data (linssl.moments)")
        return self.moments_from_second(clean.second, n=clean.n, cross=clean.cross, y_second=clean.y_second)

    def moments_from_second(
        self,
        second: np.ndarray,
        *,
        n: Optional[int] = None,
        cross: Optional[np.ndarray] = None,
        y_second: Optional[np.ndarray] = None,
    ) -> AugmentedMoments:
        """Augmented moments from the clean moments alone (no data needed).

        Parameters
        ----------
        second : ndarray, shape (d, d)
            ``M = X^T X / n`` (or a population second moment ``E[x x^T]``).
        n : int, optional
            Number of samples, or ``None`` for population moments.
        cross : ndarray, shape (d, l), optional
            ``X^T Y / n``.
        y_second : ndarray, shape (l, l), optional
            ``Y^T Y / n``.

        Returns
        -------
        AugmentedMoments
        """
        M = as_float(second, np.float64, "the second moment")
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise ValueError(f"the second moment must be a square (d, d) matrix; got shape {M.shape}")
        d = M.shape[0]
        P = self.mean_map(d)
        S = _symmetric(self.second_moment_map(M))
        G = _symmetric(_sandwich(P, M))
        C = _times_transpose(M, P)
        B = None if cross is None else _times_transpose(as_float(cross, np.float64, "cross").T, P)
        trace_yy = None if y_second is None else float(np.trace(y_second))
        return AugmentedMoments(n=n, S=S, G=G, C=C, trace_xx=float(np.trace(M)), B=B, trace_yy=trace_yy)


# --- linear maps stored as a diagonal vector (d,) or a dense matrix (d, d) -------------------------


def _sandwich(P: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``P M P^T``."""
    if P.ndim == 1:
        return P[:, None] * M * P[None, :]
    return P @ M @ P.T


def _times_transpose(A: np.ndarray, P: np.ndarray) -> np.ndarray:
    """``A P^T``."""
    if P.ndim == 1:
        return A * P[None, :]
    return A @ P.T


def _compose_maps(P2: np.ndarray, P1: np.ndarray) -> np.ndarray:
    """``P2 P1`` (apply ``P1`` first)."""
    if P2.ndim == 1 and P1.ndim == 1:
        return P2 * P1
    if P2.ndim == 1:
        return P2[:, None] * P1
    if P1.ndim == 1:
        return P2 * P1[None, :]
    return P2 @ P1


def _symmetric(A: np.ndarray) -> np.ndarray:
    # Removes the rounding asymmetry of elementwise products so downstream eigensolvers see an
    # exactly symmetric matrix.
    return 0.5 * (A + A.T)


def _as_generator(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _as_batch(X) -> np.ndarray:
    X = as_float(X, np.float64, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got an array with shape {X.shape}")
    return X


def _require_finite(a: np.ndarray, what: str, fix: str) -> None:
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains NaN or Inf; {fix}")


# --- additive Gaussian noise -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LowRankPlusDiagonal:
    """A covariance ``factor @ factor.T + diag(diag)``, never formed densely for sampling.

    Parameters
    ----------
    factor : array_like, shape (d, r)
    diag : array_like, shape (d,), or a scalar, >= 0
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
        _require_finite(factor, "LowRankPlusDiagonal factor", "pass finite values")
        _require_finite(diag, "LowRankPlusDiagonal diag", "pass finite values")
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
        return self.factor.shape[0]

    def dense(self) -> np.ndarray:
        """The covariance as a dense (d, d) float64 matrix."""
        cov = self.factor @ self.factor.T
        cov[np.diag_indices(self.d)] += self.diag
        return cov


CovarianceLike = Union[float, np.ndarray, LowRankPlusDiagonal]


@dataclass(frozen=True, eq=False)
class Gaussian(ClosedFormAugmentation):
    """Additive zero-mean Gaussian noise ``tau(x) = x + eps``, ``eps ~ N(0, cov)``.

    Moments (paper.md): ``Xbar = X``, ``S = X^T X / n + cov``, ``G = C = X^T X / n``.

    Parameters
    ----------
    cov : float, array_like of shape (d,) or (d, d), or LowRankPlusDiagonal
        A variance ``c`` (covariance ``c I``), a diagonal of variances, a full symmetric positive
        semi-definite matrix, or a low-rank-plus-diagonal covariance.
    """

    cov: CovarianceLike
    _noise_factor: Optional[np.ndarray] = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        cov = self.cov
        if isinstance(cov, LowRankPlusDiagonal):
            return
        cov = np.array(as_float(cov, np.float64, "Gaussian cov"))
        _require_finite(cov, "Gaussian cov", "pass a finite variance or covariance matrix")
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
        """The noise covariance as a dense (d, d) float64 matrix."""
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
        rng = _as_generator(rng)
        m, d = X.shape
        self._check_dim(d)
        cov = self.cov
        if isinstance(cov, LowRankPlusDiagonal):
            noise = rng.standard_normal((m, cov.factor.shape[1])) @ cov.factor.T
            noise += rng.standard_normal((m, d)) * np.sqrt(cov.diag)
        elif np.ndim(cov) == 2:
            noise = rng.standard_normal((m, d)) @ self._noise_factor.T
        else:
            noise = rng.standard_normal((m, d)) * np.sqrt(cov)
        return X + noise


# --- Bernoulli masking -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Mask(ClosedFormAugmentation):
    """Independent Bernoulli keep-mask ``tau(x) = m * x``, ``m_j ~ Bernoulli(p_j)``.

    Moments (paper.md): ``Xbar = X diag(p)``,
    ``S = diag(p) M diag(p) + diag(p (1 - p)) diag(M)`` with ``M = X^T X / n``.

    Parameters
    ----------
    p : float or array_like of shape (d,)
        Keep probability (one for all features, or one per feature), in (0, 1].
    """

    p: Union[float, np.ndarray]

    def __post_init__(self):
        p = np.array(as_float(self.p, np.float64, "Mask p"))
        if p.ndim > 1:
            raise ValueError(f"Mask p must be a scalar or a (d,) vector of keep probabilities; got shape {p.shape}")
        _require_finite(p, "Mask p", "pass keep probabilities in (0, 1]")
        if np.any(p <= 0) or np.any(p > 1):
            bad = float(p.flat[int(np.argmax((p <= 0) | (p > 1)))])
            raise ValueError(
                f"Mask p is a keep probability and must lie in (0, 1]; got {bad:.3g} "
                "(p = 0 would drop every feature; use p = 1 for no masking)"
            )
        if p.ndim == 0:
            object.__setattr__(self, "p", float(p))
        else:
            p.flags.writeable = False
            object.__setattr__(self, "p", p)

    def _keep(self, d: int) -> np.ndarray:
        if np.ndim(self.p) == 1 and len(self.p) != d:
            raise ValueError(
                f"Mask p has {len(self.p)} keep probabilities but the data have d={d} features; "
                f"pass a scalar or a ({d},) vector"
            )
        return np.broadcast_to(np.asarray(self.p, dtype=np.float64), (d,))

    def mean_map(self, d: int) -> np.ndarray:
        return np.array(self._keep(d))

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        p = self._keep(M.shape[0])
        out = p[:, None] * M * p[None, :]
        out[np.diag_indices_from(out)] += p * (1.0 - p) * np.diag(M)
        return out

    def sample(self, X, rng=None) -> np.ndarray:
        X = _as_batch(X)
        rng = _as_generator(rng)
        p = self._keep(X.shape[1])
        return X * (rng.random(X.shape) < p)


# --- user functions, by Monte Carlo ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Custom(Augmentation):
    """Any augmentation given as a function, with Monte Carlo moments.

    Each chunk of the data is augmented ``draws`` times; the views stream through the Rust
    accumulator, so memory stays at a few chunks whatever ``n``, and ``fn`` runs on ``threads``
    threads at once (see :mod:`linssl._monte_carlo`). Estimators (``T_i`` is the sum of the
    ``m = draws`` views of row ``i``)::

        S = sum_a Z_a^T Z_a / (n m)
        G = (T^T T / n - m S) / (m (m - 1))       # unbiased; the plug-in Xbar^T Xbar is biased by Sigma / m
        C = X^T T / (n m),   B = Y^T T / (n m)

    Standard errors come from batch means over ``batches`` equal groups of draws (each group gives
    its own unbiased estimate; the spread of the group estimates estimates the Monte Carlo error).
    For ``G`` this is conservative: the full estimator pairs draws across groups and is somewhat
    more precise than the group estimates.

    Parameters
    ----------
    fn : callable
        ``fn(X_batch) -> Z`` or ``fn(X_batch, rng) -> Z`` mapping a float64 batch (m, d) to one
        augmented view per row, shape (m, d). Functions with a second parameter receive a
        ``numpy.random.Generator``, which makes the moments reproducible given ``seed`` and the
        chunking. ``fn`` gets a read-only view and must not modify its input; it is called from
        several threads at once (``threads``), so it must not change shared state.
    draws : int, default 16
        Augmented views per sample, >= 2.
    seed : int, default 0
        Root seed: view ``a`` of chunk ``c`` gets the generator
        :func:`linssl._monte_carlo.view_generator` ``(seed, c, a)``, whatever the thread that draws it.
    chunk_size : int, optional
        Rows per chunk for array input (default: about 2**21 / d rows).
    batches : int, optional
        Groups of draws for the standard errors; must divide ``draws`` with at least 2 draws per
        group. Default: the largest of 4, 3, 2 that does; if none does, no standard errors.
        ``batches=1`` turns standard errors off, which saves ``batches`` extra products with the
        data per chunk.
    threads : int, optional
        Threads calling ``fn`` at once (default: the CPUs available, at most 4; 1 calls ``fn`` one
        view at a time). The moments are the same for any value.
    """

    fn: Callable
    draws: int = 16
    seed: int = 0
    chunk_size: Optional[int] = None
    batches: Optional[int] = None
    threads: Optional[int] = None
    _passes_rng: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"Custom needs a callable fn(X_batch[, rng]); got {type(self.fn).__name__}")
        if isinstance(self.draws, bool) or not isinstance(self.draws, (int, np.integer)) or self.draws < 2:
            raise ValueError(
                f"Custom draws must be an integer >= 2 (two views per sample are needed to estimate G); got {self.draws!r}"
            )
        if self.chunk_size is not None and int(self.chunk_size) < 1:
            raise ValueError(f"Custom chunk_size must be a positive number of rows; got {self.chunk_size!r}")
        if self.batches is not None and not _valid_batches(int(self.draws), self.batches):
            raise ValueError(
                f"Custom batches={self.batches!r} must divide draws={self.draws} into groups of at least 2 draws "
                "(or be 1 to turn standard errors off)"
            )
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, (int, np.integer)) or self.threads < 1
        ):
            raise ValueError(f"Custom threads must be a positive integer (or None for the CPU count); got {self.threads!r}")
        object.__setattr__(self, "_passes_rng", _takes_two_arguments(self.fn))

    @property
    def name(self) -> str:
        """A readable name of ``fn`` for messages."""
        return getattr(self.fn, "__qualname__", None) or repr(self.fn)

    def sample(self, X, rng=None) -> np.ndarray:
        X = _as_batch(X)
        view = X.view()
        view.flags.writeable = False
        out = self.fn(view, _as_generator(rng)) if self._passes_rng else self.fn(view)
        out = np.asarray(out)
        if out.shape != X.shape:
            raise ValueError(
                f"the augmentation function {self.name} returned shape {out.shape} for a batch of shape "
                f"{X.shape}; it must return one augmented row per input row, shape (m, d)"
            )
        if out.dtype.kind not in "biuf":
            raise TypeError(f"the augmentation function {self.name} returned dtype {out.dtype}; it must return real numbers")
        out = out.astype(np.float64, copy=False)
        if not np.all(np.isfinite(out)):
            i, j = np.argwhere(~np.isfinite(out))[0]
            raise ValueError(
                f"the augmentation function {self.name} returned NaN or Inf (first at row {i}, column {j} "
                f"of a batch of shape {X.shape}); it must return finite values"
            )
        return out

    def moments(
        self, data, y=None, *, chunk_size: Optional[int] = None, dtype=None, progress: Optional[bool] = None
    ) -> AugmentedMoments:
        return _monte_carlo(
            self.sample,
            data,
            y,
            draws=int(self.draws),
            seed=self.seed,
            chunk_size=chunk_size or self.chunk_size,
            batches=_batch_count(int(self.draws), self.batches),
            threads=self.threads,
            what=f"Custom({self.name})",
            dtype=dtype,
            progress=progress,
        )


def _valid_batches(draws: int, batches) -> bool:
    if isinstance(batches, bool) or not isinstance(batches, (int, np.integer)) or batches < 1:
        return False
    return batches == 1 or (draws % batches == 0 and draws // batches >= 2)


def _batch_count(draws: int, requested: Optional[int]) -> int:
    """Groups of draws for batch-means standard errors (1: none); see :class:`Custom`."""
    if requested is not None and _valid_batches(draws, requested):
        return int(requested)
    return next((b for b in (4, 3, 2) if _valid_batches(draws, b)), 1)


def _takes_two_arguments(fn: Callable) -> bool:
    """Whether ``fn`` accepts a second positional argument (the random generator)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins and ufuncs without an inspectable signature
        return False
    positional = 0
    for p in params:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


def _monte_carlo(sample: Callable, data, y, *, what: str, dtype, progress, **settings) -> AugmentedMoments:
    """:func:`linssl._monte_carlo.monte_carlo_moments` as :class:`AugmentedMoments`."""
    est = monte_carlo_moments(sample, data, y, what=what, dtype=dtype, progress=progress, **settings)
    return AugmentedMoments(
        n=est["n"],
        S=_symmetric(est["S"]),
        G=_symmetric(est["G"]),
        C=est["C"],
        trace_xx=est["trace_xx"],
        B=est["B"],
        trace_yy=est["trace_yy"],
        stderr=est["stderr"],
    )


# --- composition -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Compose(ClosedFormAugmentation):
    """Apply augmentations in sequence (the first stage first), with independent draws.

    Exact when every stage is closed-form (masks and additive noise, in any order): the mean maps
    multiply and the second-moment maps compose. With a :class:`Custom` stage, the moments are
    Monte Carlo estimates through :meth:`sample`, using the largest ``draws`` of the Custom stages
    and the ``seed``, ``chunk_size``, ``batches`` and ``threads`` of the first one.

    Parameters
    ----------
    stages : sequence of Augmentation
    """

    stages: Sequence[Augmentation]

    def __post_init__(self):
        flat = []
        for stage in self.stages:
            if not isinstance(stage, Augmentation):
                raise TypeError(f"Compose stages must be augmentations (Gaussian, Mask, Custom, ...); got {stage!r}")
            flat.extend(stage.stages if isinstance(stage, Compose) else [stage])
        if not flat:
            raise ValueError("Compose needs at least one stage")
        object.__setattr__(self, "stages", tuple(flat))

    @property
    def is_closed_form(self) -> bool:  # type: ignore[override]
        return all(stage.is_closed_form for stage in self.stages)

    def _require_closed_form(self) -> None:
        if not self.is_closed_form:
            raise TypeError("this Compose has a stage without closed-form moments (a Custom); use moments() on raw data")

    def mean_map(self, d: int) -> np.ndarray:
        self._require_closed_form()
        P = np.ones(d)
        for stage in self.stages:
            P = _compose_maps(stage.mean_map(d), P)
        return P

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        self._require_closed_form()
        for stage in self.stages:
            M = stage.second_moment_map(M)
        return M

    def sample(self, X, rng=None) -> np.ndarray:
        rng = _as_generator(rng)
        Z = _as_batch(X)
        for stage in self.stages:
            Z = stage.sample(Z, rng)
        return Z

    def moments(
        self, data, y=None, *, chunk_size: Optional[int] = None, dtype=None, progress: Optional[bool] = None
    ) -> AugmentedMoments:
        if self.is_closed_form:
            return super().moments(data, y, chunk_size=chunk_size, dtype=dtype, progress=progress)
        # Monte Carlo settings come from the Custom stages (Custom's defaults if there are none).
        customs = [s for s in self.stages if isinstance(s, Custom)] or [Custom(self.sample)]
        first = customs[0]
        draws = max(int(s.draws) for s in customs)
        return _monte_carlo(
            self.sample,
            data,
            y,
            draws=draws,
            seed=first.seed,
            chunk_size=chunk_size or first.chunk_size,
            batches=_batch_count(draws, first.batches),
            threads=first.threads,
            what="Compose with a stage without closed-form moments",
            dtype=dtype,
            progress=progress,
        )

    def moments_from_second(self, second, **kwargs) -> AugmentedMoments:
        self._require_closed_form()
        return super().moments_from_second(second, **kwargs)
