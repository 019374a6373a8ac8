"""What every augmentation shares: the moments it induces and the maps that define them.

:class:`AugmentedMoments` holds the moments of augmented data that the three closed forms need;
:class:`Augmentation` is the interface (``moments``, ``sample``, value semantics);
:class:`ClosedFormAugmentation` turns a mean map ``P`` and a second-moment map ``F`` into exact
moments from the clean second moment ``M = X^T X / n`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import Mapping, Optional

import numpy as np
import scipy.sparse

from linssl._core import symmetrize
from linssl._input import as_float, check_finite_parameter
from linssl.accumulate import DataMoments, moments as _data_moments

__all__ = ["AugmentedMoments", "Augmentation", "ClosedFormAugmentation", "DiagonalForm"]


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
        """The form of no augmentation: ``P = I``, ``S = M``."""
        return cls(keep=np.ones(d), scale=np.zeros(d), offset=np.zeros(d), factor=np.zeros((d, 0)))


class Augmentation:
    """An augmentation distribution: a law over maps ``tau: R^d -> R^d``.

    Subclasses provide :meth:`moments` (the moments of augmented data) and :meth:`sample` (one
    augmented view per row). Augmentations are immutable and compare equal by value, so they
    can key caches and group sweep configurations.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> aug = linssl.Mask(0.5)
    >>> isinstance(aug, linssl.augment.Augmentation), aug.is_closed_form
    (True, True)
    >>> aug == linssl.Mask(0.5), hash(aug) == hash(linssl.Mask(0.5)), aug == linssl.Mask(0.25)
    (True, True, False)
    >>> aug.sample(np.ones((4, 3)), rng=0).shape
    (4, 3)
    """

    #: True when :meth:`moments` is exact (no Monte Carlo).
    is_closed_form: bool = False

    def no_diagonal_form(self) -> Optional[str]:
        """Why this augmentation has no :class:`DiagonalForm` (a phrase), or None when it has one."""
        return f"{type(self).__name__} augmentations"

    def diagonal_form(self, d: int, after: Optional[DiagonalForm] = None) -> DiagonalForm:
        """The :class:`DiagonalForm` for ``d`` features (of this augmentation applied after one of
        form ``after``, when given).

        Raises
        ------
        ValueError
            When there is none (see :meth:`no_diagonal_form`).
        """
        raise ValueError(f"{self.no_diagonal_form()} have no diagonal form")

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
    """A hashable stand-in for a spec field (arrays by shape, dtype and bytes, nested specs by value)."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.shape, value.dtype.str, value.tobytes())
    if scipy.sparse.issparse(value):
        csr = scipy.sparse.csr_array(value)
        return ("sparse", csr.shape, csr.data.tobytes(), csr.indices.tobytes(), csr.indptr.tobytes())
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value),) + tuple(_freeze(getattr(value, f.name)) for f in fields(value) if f.compare)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    return value


class ClosedFormAugmentation(Augmentation):
    """An augmentation with exact moments given by a mean map ``P`` and a second-moment map ``F``.

    A subclass defines :meth:`mean_map` and :meth:`second_moment_map`; :meth:`moments` then
    needs only the clean moments ``M = X^T X / n`` (one pass over the data, or none from a
    :class:`linssl.DataMoments`): ``S = F(M)``, ``G = P M P^T``, ``C = M P^T``.

    Examples
    --------
    A random scaling, ``tau(x) = a x`` with probability 1/2 and ``x`` otherwise:

    >>> from dataclasses import dataclass
    >>> import numpy as np, linssl
    >>> @dataclass(frozen=True, eq=False)
    ... class Scale(linssl.augment.ClosedFormAugmentation):
    ...     a: float
    ...     def mean_map(self, d):                   # E[tau(x)] = (1 + a) / 2 x
    ...         return np.full(d, (1 + self.a) / 2)
    ...     def second_moment_map(self, M):          # E[tau(x) tau(x)^T] = (1 + a^2) / 2 x x^T
    ...         return (1 + self.a**2) / 2 * M
    >>> X = np.random.default_rng(0).standard_normal((50, 3))
    >>> m, M = Scale(3.0).moments(X), X.T @ X / 50
    >>> bool(np.allclose(m.S, 5 * M)), bool(np.allclose(m.G, 4 * M)), bool(np.allclose(m.C, 2 * M))
    (True, True, True)
    >>> isinstance(linssl.Gaussian(0.5), linssl.augment.ClosedFormAugmentation)
    True
    """

    is_closed_form = True

    def mean_map(self, d: int) -> np.ndarray:
        """The mean map ``P`` (``xbar = P x``) for ``d`` features.

        Returns
        -------
        ndarray, shape (d,) for a diagonal map (the diagonal), or (d, d), float64, or a scipy.sparse (d, d) array
        """
        raise NotImplementedError

    def mean_offset(self, d: int) -> Optional[np.ndarray]:
        """The offset ``c`` of an affine mean map (``xbar = P x + c``), or None when there is none.

        Returns
        -------
        ndarray, shape (d,), float64, or None
        """
        return None

    def mean_products(self, M: np.ndarray, P) -> tuple[np.ndarray, np.ndarray]:
        """``G = P M P^T`` and ``C = M P^T`` for the mean map ``P = self.mean_map(d)``.

        Augmentations with a structured ``P`` (shifts, low rank) override this to skip the
        generic products.

        Parameters
        ----------
        M : ndarray, shape (d, d), float64
        P : ndarray, shape (d,) or (d, d), or scipy.sparse (d, d) array

        Returns
        -------
        (G, C) : ndarrays, shape (d, d), float64
        """
        # With P = I (additive noise) G and C are M itself: shared, read-only, no copies.
        return _sandwich(P, M), _times_transpose(M, P)

    def view_second_moment(self, M: np.ndarray, mean: Optional[np.ndarray]) -> np.ndarray:
        """``F(M)`` for an augmentation whose second-moment map may also need the data mean.

        Affine augmentations (offsets, :class:`~linssl.augment.linear_maps.RandomLinear`) map
        ``E[x x^T]`` to ``E[(A x + c)(A x + c)^T]``, which involves ``mu = E[x]`` as well; linear
        ones ignore ``mean``.

        Parameters
        ----------
        M : ndarray, shape (d, d), float64
            ``X^T X / n`` of the views entering this augmentation.
        mean : ndarray, shape (d,), float64, or None
            ``sum_i x_i / n`` of those views (None when unknown: affine maps then raise).

        Returns
        -------
        ndarray, shape (d, d), float64
        """
        return self.second_moment_map(M)

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
            given = [data.second_moment] + ([] if data.cross_moment is None else [data.cross_moment])
            if not all(np.all(np.isfinite(m)) for m in given):
                raise ValueError("the DataMoments given hold NaN or Inf; compute them from finite data (linssl.moments)")
            clean = data
        else:
            # Moments computed from data are checked as they are accumulated.
            clean = _data_moments(data, y, chunk_size=chunk_size, dtype=dtype, progress=progress)
        return self.moments_from_second_moment(
            clean.second_moment, n=clean.n, cross_moment=clean.cross_moment, y_second_moment=clean.y_second_moment,
            mean=clean.mean, y_mean=clean.y_mean,
        )

    def moments_from_second_moment(
        self,
        second_moment: np.ndarray,
        *,
        n: Optional[int] = None,
        cross_moment: Optional[np.ndarray] = None,
        y_second_moment: Optional[np.ndarray] = None,
        mean: Optional[np.ndarray] = None,
        y_mean: Optional[np.ndarray] = None,
    ) -> AugmentedMoments:
        """Augmented moments from the clean moments alone (no data needed).

        Parameters
        ----------
        second_moment : ndarray, shape (d, d)
            ``M = X^T X / n`` (or a population second moment ``E[x x^T]``).
        n : int, optional
            Number of samples, or ``None`` for population moments.
        cross_moment : ndarray, shape (d, l), optional
            ``X^T Y / n``.
        y_second_moment : ndarray, shape (l, l), optional
            ``Y^T Y / n``.
        mean, y_mean : ndarray, shapes (d,) and (l,), optional
            ``sum_i x_i / n`` and ``sum_i y_i / n``: needed by affine augmentations (those with a
            :meth:`mean_offset`), ignored by linear ones.

        Returns
        -------
        AugmentedMoments
        """
        M = as_float(second_moment, np.float64, "the second moment")
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise ValueError(f"the second moment must be a square (d, d) matrix; got shape {M.shape}")
        d = M.shape[0]
        mu = None if mean is None else _vector(mean, d, "mean")
        P = self.mean_map(d)
        c = self.mean_offset(d)
        if c is not None and mu is None:
            raise ValueError(
                f"{type(self).__name__} has offsets (an affine map), so its moments need the data mean: "
                "pass mean= (or a linssl.DataMoments, which carries it)"
            )
        S = _symmetric(self.view_second_moment(M, mu))
        G, C = self.mean_products(M, P)
        cross = None if cross_moment is None else as_float(cross_moment, np.float64, "cross_moment")
        B = None if cross is None else _times_transpose(cross.T, P)
        if c is not None and mu is not None:
            # xbar_i = P x_i + c: the offset adds rank-one terms in the mean of the mean views.
            Pmu = _apply(P, mu)
            G = _symmetric(G + np.outer(Pmu, c) + np.outer(c, Pmu) + np.outer(c, c))
            C = C + np.outer(mu, c)
            if B is not None:
                if y_mean is None:
                    raise ValueError(f"{type(self).__name__} has offsets: its cross moment B needs y_mean (the targets' mean)")
                B = B + np.outer(np.asarray(y_mean, dtype=np.float64), c)
        trace_yy = None if y_second_moment is None else float(np.trace(y_second_moment))
        sigma_diag = sigma_factor = keep = None
        if self.no_diagonal_form() is None:
            form = self.diagonal_form(d)
            sigma_diag, sigma_factor, keep = form.scale * np.diag(M) + form.offset, form.factor, form.keep
        return AugmentedMoments(
            n=n, S=S, G=G, C=C, trace_xx=float(np.trace(M)), B=B, trace_yy=trace_yy,
            sigma_diag=sigma_diag, sigma_factor=sigma_factor, keep=keep,
        )



# --- linear maps stored as a diagonal vector (d,) or a dense matrix (d, d) -------------------------


def _read_only(A: np.ndarray) -> np.ndarray:
    view = A.view()
    view.flags.writeable = False
    return view


def _vector(v, d: int, what: str) -> np.ndarray:
    out = as_float(v, np.float64, what)
    if out.shape != (d,):
        raise ValueError(f"{what} must have shape ({d},); got {out.shape}")
    return out


def _apply(P, v: np.ndarray) -> np.ndarray:
    """``P v`` for a diagonal (d,), dense or sparse map."""
    if not scipy.sparse.issparse(P) and P.ndim == 1:
        return P * v
    return np.asarray(P @ v, dtype=np.float64)


def _sandwich(P, M: np.ndarray) -> np.ndarray:
    """``P M P^T``, exactly symmetric for symmetric ``M`` (``p_i p_j`` is formed first)."""
    if scipy.sparse.issparse(P):
        PM = np.asarray(P @ M)
        return _symmetric(np.asarray(P @ PM.T))  # P M P^T = P (P M)^T for symmetric M
    if P.ndim == 1:
        if np.all(P == 1.0):
            return _read_only(M)
        return _scale_symmetric(M, P)
    return _symmetric(P @ M @ P.T)


def _scale_symmetric(M: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``diag(p) M diag(p)``, exactly symmetric for symmetric ``M``: ``M_ij (p_i p_j)``, with the
    product ``p_i p_j`` formed first. A uniform ``p`` (the usual mask) is one scalar: no d x d
    temporary, which at large d costs as much as the product itself."""
    if p.size and np.all(p == p[0]):
        return M * (p[0] * p[0])
    return M * np.outer(p, p)


def _times_transpose(A: np.ndarray, P) -> np.ndarray:
    """``A P^T``."""
    if scipy.sparse.issparse(P):
        return np.ascontiguousarray(np.asarray(P @ A.T).T)
    if P.ndim == 1:
        if np.all(P == 1.0):
            return _read_only(A)
        return A * P[0] if P.size and np.all(P == P[0]) else A * P[None, :]
    return A @ P.T


def _compose_maps(P2, P1):
    """``P2 P1`` (apply ``P1`` first); diagonal (d,), dense (d, d) or sparse maps."""
    if scipy.sparse.issparse(P2) or scipy.sparse.issparse(P1):
        if any(isinstance(P, np.ndarray) and P.ndim == 2 for P in (P2, P1)):
            # A dense stage makes the product dense: never densify the sparse one first.
            if isinstance(P1, np.ndarray) and P1.ndim == 2:
                return np.asarray(_as_sparse(P2) @ P1)
            return np.asarray((_as_sparse(P1).T @ P2.T).T)
        return scipy.sparse.csr_array(_as_sparse(P2) @ _as_sparse(P1))
    if P2.ndim == 1 and P1.ndim == 1:
        return P2 * P1
    if P2.ndim == 1:
        return P2[:, None] * P1
    if P1.ndim == 1:
        return P2 * P1[None, :]
    return P2 @ P1


def _as_sparse(P):
    if scipy.sparse.issparse(P):
        return scipy.sparse.csr_array(P)
    if P.ndim == 1:
        # dia_array, not diags_array: the latter is missing from SciPy 1.11, our floor.
        return scipy.sparse.dia_array((P[None, :], [0]), shape=(P.size, P.size)).tocsr()
    return scipy.sparse.csr_array(P)


def _symmetric(A: np.ndarray) -> np.ndarray:
    """``(A + A^T) / 2``: removes the rounding asymmetry of a map, so downstream eigensolvers see
    an exactly symmetric matrix (in place, one pass, when ``A`` is a writeable float64 array)."""
    if A.dtype == np.float64 and A.flags.writeable and A.ndim == 2 and A.shape[0] == A.shape[1]:
        symmetrize(A)
        return A
    return 0.5 * (A + A.T)


def _as_batch(X) -> np.ndarray:
    X = as_float(X, np.float64, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got an array with shape {X.shape}")
    return X


def _weights(weights, count: int, what: str) -> np.ndarray:
    """Probabilities of a finite family: uniform by default, else non-negative, normalised to sum 1."""
    if weights is None:
        return np.full(count, 1.0 / count)
    w = np.array(as_float(weights, np.float64, what))
    if w.shape != (count,):
        raise ValueError(f"{what} must have shape ({count},), one per member of the family; got {w.shape}")
    check_finite_parameter(w, what, "pass non-negative weights")
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"{what} must be non-negative with a positive sum; got {w}")
    return w / w.sum()
