"""What every augmentation shares: the interface, and the maps that define closed-form moments.

:class:`Augmentation` is the interface (``moments``, ``sample``, value semantics);
:class:`ClosedFormAugmentation` turns a mean map ``P`` and a second-moment map ``F`` into exact
moments from the clean second moment ``M = X^T X / n`` alone.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Optional

import numpy as np
import scipy.sparse

from linssl._input import as_float
from linssl.accumulate import DataMoments, moments as _data_moments
from linssl.augment._maps import _apply, _sandwich, _symmetric, _times_transpose, _vector
from linssl.augment.moments import AugmentedMoments, DiagonalForm

__all__ = ["AugmentedMoments", "Augmentation", "ClosedFormAugmentation", "DiagonalForm"]


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
    """

    #: True when :meth:`moments` is exact (no Monte Carlo).
    is_closed_form: bool = False

    def no_diagonal_form(self) -> Optional[str]:
        """Why this augmentation has no :class:`DiagonalForm` (a phrase), or None when it has one.

        Returns
        -------
        str or None

        Examples
        --------
        >>> import linssl
        >>> linssl.Mask(0.8).no_diagonal_form() is None, linssl.Flip((2, 2)).no_diagonal_form()
        (True, 'Flip (a random linear map: Sigma is not diagonal)')
        """
        return f"{type(self).__name__} augmentations"

    def diagonal_form(self, d: int, after: Optional[DiagonalForm] = None) -> DiagonalForm:
        """The :class:`DiagonalForm` for ``d`` features (of this augmentation applied after one of
        form ``after``, when given).

        Parameters
        ----------
        d : int
        after : DiagonalForm, optional
            The form of the views this augmentation is applied to (default: the clean data).

        Returns
        -------
        DiagonalForm

        Raises
        ------
        ValueError
            When there is none (see :meth:`no_diagonal_form`).

        Examples
        --------
        >>> import linssl
        >>> form = linssl.Mask(0.8).diagonal_form(2)            # p and p (1 - p)
        >>> form.keep, form.scale, linssl.Gaussian(0.5).diagonal_form(2, after=form).offset
        (array([0.8, 0.8]), array([0.16, 0.16]), array([0.5, 0.5]))
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

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((40, 3))
        >>> bool(np.allclose(linssl.Mask(0.8).moments(X).G, 0.64 * X.T @ X / 40))    # G = P M P, P = 0.8 I
        True
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

        Examples
        --------
        >>> import numpy as np, linssl
        >>> Z = linssl.Mask(0.8).sample(np.ones((2000, 3)), rng=0)
        >>> Z.shape, bool(np.allclose(Z.mean(axis=0), 0.8, atol=0.05))    # E[tau(x)] = P x = 0.8 x
        ((2000, 3), True)
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
    """

    is_closed_form = True

    def mean_map(self, d: int) -> np.ndarray:
        """The mean map ``P`` (``xbar = P x``) for ``d`` features.

        Parameters
        ----------
        d : int

        Returns
        -------
        ndarray, shape (d,) for a diagonal map (the diagonal), or (d, d), float64, or a scipy.sparse (d, d) array

        Examples
        --------
        >>> import linssl
        >>> linssl.Mask(0.8).mean_map(3), linssl.Contrast((1, 2), strength=0.5).mean_map(2).shape
        (array([0.8, 0.8, 0.8]), (2, 2))
        """
        raise NotImplementedError

    def mean_offset(self, d: int) -> Optional[np.ndarray]:
        """The offset ``c`` of an affine mean map (``xbar = P x + c``), or None when there is none.

        Parameters
        ----------
        d : int

        Returns
        -------
        ndarray, shape (d,), float64, or None

        Examples
        --------
        >>> import numpy as np, linssl
        >>> aug = linssl.RandomLinear([np.eye(2)] * 2, offsets=[[1.0, 0.0], [3.0, 0.0]])
        >>> aug.mean_offset(2), linssl.Mask(0.8).mean_offset(2)         # c = sum_j w_j c_j
        (array([2., 0.]), None)
        """
        return None

    def mean_products(self, M: np.ndarray, P) -> tuple[np.ndarray, np.ndarray]:
        """``G = P M P^T`` and ``C = M P^T`` for the mean map ``P = self.mean_map(d)``.

        Augmentations with a structured ``P`` (shifts, low rank) override this to skip the generic products.

        Parameters
        ----------
        M : ndarray, shape (d, d), float64
        P : ndarray, shape (d,) or (d, d), or scipy.sparse (d, d) array

        Returns
        -------
        (G, C) : ndarrays, shape (d, d), float64

        Examples
        --------
        >>> import numpy as np, linssl
        >>> M, aug = np.array([[2.0, 1.0], [1.0, 3.0]]), linssl.Mask(0.5)
        >>> G, C = aug.mean_products(M, aug.mean_map(2))
        >>> bool(np.allclose(G, M / 4)), bool(np.allclose(C, M / 2))     # P = I / 2
        (True, True)
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

        Examples
        --------
        >>> import numpy as np, linssl
        >>> shift = linssl.RandomLinear([np.eye(2)], offsets=[[0.0, 1.0]])          # tau(x) = x + c
        >>> shift.view_second_moment(np.eye(2), np.array([1.0, 0.0]))  # M + mu c^T + c mu^T + c c^T
        array([[1., 1.],
               [1., 2.]])
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

        Examples
        --------
        >>> import numpy as np, linssl
        >>> linssl.Mask(0.5).second_moment_map(np.array([[2.0, 1.0], [1.0, 3.0]]))  # P M P + p (1 - p) diag(M)
        array([[1.  , 0.25],
               [0.25, 1.5 ]])
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

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X, aug = np.random.default_rng(0).standard_normal((40, 3)), linssl.Gaussian(0.5)
        >>> m = aug.moments_from_second_moment(X.T @ X / 40, n=40)
        >>> m.n, bool(np.allclose(m.S, aug.moments(X).S))           # as from the data
        (40, True)
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
