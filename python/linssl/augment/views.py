"""Two different view distributions (weak / strong views, BYOL or DINO style) for joint embedding.

With ``tau_1 ~ T_1`` and ``tau_2 ~ T_2`` independent, the joint-embedding objective is

    L(W) = (1/n) sum_i E ||W tau_1(x_i) - W tau_2(x_i)||^2
         = tr(W S_1 W^T) + tr(W S_2 W^T) - 2 tr(W G_12 W^T),

``S_v = (1/n) sum_i E[tau_v(x_i) tau_v(x_i)^T]`` and ``G_12 = (1/n) sum_i xbar1_i xbar2_i^T``
(``xbar_v = E[tau_v(x)]``; independence makes the cross term the product of the means). Under the
constraint on the average second moment of the two views, ``W Sbar W^T = I`` with
``Sbar = (S_1 + S_2) / 2``, the first two terms add up to ``2 k``, so

    L(W) = 2 k - 2 tr(W sym(G_12) W^T) = 2 tr(W (Sbar - sym(G_12)) W^T),   sym(A) = (A + A^T) / 2,

minimised by the top-k generalized eigenvectors of ``(sym(G_12), Sbar)`` with loss
``2 (k - sum omega)``: the symmetric solution with ``S -> Sbar`` and ``G -> sym(G_12)``. (``G_12``
is not symmetric: only its symmetric part enters a quadratic form; its eigenvalues lie in
``[-1, 1]``.) With ``T_1 = T_2`` it is the symmetric problem. For linear mean maps
``G_12 = P_1 M P_2^T`` (plus offset terms for affine ones).

:class:`TwoViews` returns these as :class:`~linssl.augment.AugmentedMoments` with ``S = Sbar`` and
``G = sym(G_12)``, so every joint-embedding solver and ``objective`` apply unchanged. Its ``C`` and
``B`` are the averages of the two views' (``(C_1 + C_2) / 2``): reconstruction and supervised
models fitted on a pair are those of a view drawn from ``T_1`` or ``T_2`` with probability 1/2
each (``S``, ``C`` and ``B`` are exactly that mixture's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, cast

import numpy as np

from linssl._random import seed_sequence
from linssl.accumulate import DataMoments, MomentAccumulator, moments as _data_moments
from linssl.augment._maps import _apply, _symmetric
from linssl.augment.base import Augmentation, ClosedFormAugmentation
from linssl.augment.moments import AugmentedMoments
from linssl.augment.monte_carlo import _chunks, view_generator

__all__ = ["TwoViews", "as_views"]


def _left(P, A: np.ndarray) -> np.ndarray:
    """``P A`` for a diagonal (d,), dense or sparse map ``P`` and a dense (d, m) ``A``."""
    if isinstance(P, np.ndarray) and P.ndim == 1:
        return P[:, None] * A
    return np.asarray(P @ A)


@dataclass(frozen=True, eq=False)
class TwoViews(Augmentation):
    """Two view distributions for joint embedding: ``tau_1 ~ first``, ``tau_2 ~ second``, independent.

    The moments (derivation in :mod:`linssl.augment.views` and docs/theory.md) are
    ``S = (S_1 + S_2) / 2`` and ``G = sym(G_12)``, ``G_12 = (1/n) sum_i xbar1_i xbar2_i^T``: the
    joint embedding under the constraint ``W S W^T = I`` is then the top-k generalized eigenvectors
    of ``(G, S)``, and reduces to the symmetric one when ``first == second``. ``C`` and ``B`` are
    the two views' averages (reconstruction and supervised models see a view of either with
    probability 1/2). Exact when both are closed-form; otherwise ``S``, ``C``, ``B`` come from each
    view's own moments and ``G_12`` from ``draws`` views of each per sample (Monte Carlo).

    Estimators also accept the plain pair ``augmentation=(first, second)``.

    Parameters
    ----------
    first, second : Augmentation
    draws : int, default 16
        Views of each distribution per sample for the Monte Carlo ``G_12`` (when not closed-form).
    seed : int, default 0

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((200, 4))
    >>> weak, strong = linssl.Gaussian(0.1), linssl.Mask(0.5)
    >>> je = linssl.JointEmbedding(2, augmentation=(weak, strong)).fit(X)
    >>> je.components_.shape
    (2, 4)
    """

    first: Augmentation
    second: Augmentation
    draws: int = 16
    seed: int = 0

    #: Marks a pair, which Compose refuses as a stage.
    is_pair_of_views = True

    def __post_init__(self):
        for name in ("first", "second"):
            view = getattr(self, name)
            if not isinstance(view, Augmentation) or isinstance(view, TwoViews):
                raise TypeError(f"TwoViews {name} must be one augmentation (Gaussian, Mask, PatchMask, ...); got {view!r}")
        if isinstance(self.draws, bool) or not isinstance(self.draws, (int, np.integer)) or self.draws < 1:
            raise ValueError(f"TwoViews draws must be a positive integer; got {self.draws!r}")

    @property
    def is_closed_form(self) -> bool:  # type: ignore[override]
        """True when both views are closed-form (exact moments, no Monte Carlo)."""
        return self.first.is_closed_form and self.second.is_closed_form

    def no_diagonal_form(self) -> Optional[str]:
        return "a pair of views (asymmetric joint embedding: Sigma = Sbar - sym(G_12) is not diagonal)"

    def sample(self, X, rng=None) -> np.ndarray:
        """Not available: a pair has no single view (draw ``first.sample`` and ``second.sample``).

        Parameters
        ----------
        X : array_like, shape (m, d)
        rng : numpy.random.Generator or seed, optional

        Raises
        ------
        TypeError
            Always.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> pair = linssl.TwoViews(linssl.Gaussian(0.1), linssl.Mask(0.5))
        >>> pair.second.sample(np.ones((2, 3)), rng=0).shape
        (2, 3)
        >>> pair.sample(np.ones((2, 3)))
        Traceback (most recent call last):
            ...
        TypeError: a pair of views has no single sample: draw first.sample(X, rng) and second.sample(X, rng)
        """
        raise TypeError(
            "a pair of views has no single sample: draw first.sample(X, rng) and second.sample(X, rng)"
        )

    def moments(
        self, data, y=None, *, chunk_size: Optional[int] = None, dtype=None, progress: Optional[bool] = None
    ) -> AugmentedMoments:
        if self.is_closed_form:
            if isinstance(data, DataMoments):
                if y is not None:
                    raise ValueError("data is a DataMoments, which already holds its targets; do not pass y")
                clean = data
            else:
                clean = _data_moments(data, y, chunk_size=chunk_size, dtype=dtype, progress=progress)
            return self.moments_from_data_moments(clean)
        views = [v.moments(data, y, chunk_size=chunk_size, dtype=dtype, progress=progress) for v in (self.first, self.second)]
        cross = self._monte_carlo_cross(data, chunk_size, progress)
        return self._combine(views, cross)

    def moments_from_data_moments(self, clean: DataMoments) -> AugmentedMoments:
        """Exact moments from clean moments (both views closed-form).

        Parameters
        ----------
        clean : DataMoments
            The clean data's moments (:func:`linssl.moments`), with the mean for affine views.

        Returns
        -------
        AugmentedMoments
            ``S = (S_1 + S_2) / 2``, ``G = sym(G_12)``, ``C`` and ``B`` the two views' averages.

        Raises
        ------
        TypeError
            When a view is not closed-form.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((40, 3))
        >>> weak, strong = linssl.Gaussian(0.1), linssl.Mask(0.5)
        >>> m = linssl.TwoViews(weak, strong).moments_from_data_moments(linssl.moments(X))
        >>> bool(np.allclose(m.G, 0.5 * X.T @ X / 40))                 # P_1 M P_2^T with P_1 = I, P_2 = I / 2
        True
        >>> bool(np.allclose(m.S, (weak.moments(X).S + strong.moments(X).S) / 2))
        True
        """
        if not self.is_closed_form:
            raise TypeError("TwoViews.moments_from_data_moments needs two closed-form views; use moments() on raw data")
        first, second = (cast(ClosedFormAugmentation, v) for v in (self.first, self.second))
        views = [
            v.moments_from_second_moment(
                clean.second_moment, n=clean.n, cross_moment=clean.cross_moment,
                y_second_moment=clean.y_second_moment, mean=clean.mean, y_mean=clean.y_mean,
            )
            for v in (first, second)
        ]
        M, mu, d = clean.second_moment, clean.mean, clean.d
        P1, P2 = first.mean_map(d), second.mean_map(d)
        G12 = _left(P1, _left(P2, M).T)  # P1 M P2^T = P1 (P2 M)^T for symmetric M
        c1, c2 = first.mean_offset(d), second.mean_offset(d)
        if c1 is not None or c2 is not None:
            m1, m2 = _apply(P1, mu), _apply(P2, mu)
            c1 = np.zeros(d) if c1 is None else c1
            c2 = np.zeros(d) if c2 is None else c2
            G12 = G12 + np.outer(m1, c2) + np.outer(c1, m2) + np.outer(c1, c2)
        return self._combine(views, G12)

    def _monte_carlo_cross(self, data, chunk_size: Optional[int], progress: Optional[bool]) -> np.ndarray:
        """``G_12`` from the means of ``draws`` views of each distribution per sample (unbiased: the
        two means are independent given the sample)."""
        root = seed_sequence(self.seed)
        acc: Optional[MomentAccumulator] = None
        m = int(self.draws)
        for c, (xc, _) in enumerate(_chunks(data, None, chunk_size, "TwoViews", progress)):
            if xc.shape[0] == 0:
                continue
            means = []
            for v, view in enumerate((self.first, self.second)):
                total = np.zeros_like(xc)
                for a in range(m):
                    total += view.sample(xc, view_generator(root, c, 2 * a + v))
                means.append(total / m)
            if acc is None:
                acc = MomentAccumulator(xc.shape[1], xc.shape[1])
            acc.update(means[0], means[1])
        if acc is None or acc.n == 0:
            raise ValueError("X has no rows; moments of an empty data set are undefined")
        return acc.xty / acc.n

    @staticmethod
    def _combine(views: list[AugmentedMoments], G12: np.ndarray) -> AugmentedMoments:
        one, two = views
        B = None if one.B is None or two.B is None else 0.5 * (one.B + two.B)
        return AugmentedMoments(
            n=one.n,
            S=_symmetric(0.5 * (one.S + two.S)),
            G=_symmetric(0.5 * (G12 + G12.T)),
            C=0.5 * (one.C + two.C),
            trace_xx=one.trace_xx,
            B=B,
            trace_yy=one.trace_yy,
        )


def as_views(augmentation) -> Augmentation:
    """A pair ``(first, second)`` as :class:`TwoViews`; anything else unchanged.

    Parameters
    ----------
    augmentation : Augmentation or (Augmentation, Augmentation)
        One augmentation (both views drawn from it) or the two views' augmentations.

    Returns
    -------
    Augmentation
        ``TwoViews(first, second)`` for a pair, else ``augmentation`` itself.

    Examples
    --------
    >>> import linssl
    >>> as_views((linssl.Mask(0.5), linssl.Mask(0.9))).second
    Mask(p=0.9)
    """
    if isinstance(augmentation, (tuple, list)):
        if len(augmentation) != 2:
            raise ValueError(
                f"a tuple augmentation means two views (first, second) for joint embedding; got {len(augmentation)} items. "
                "Use linssl.Compose([...]) to apply augmentations in sequence"
            )
        return TwoViews(*augmentation)
    return augmentation
