"""Composition: augmentations applied in sequence, exact when every stage is closed-form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union, cast

import numpy as np

from linssl._random import as_generator
from linssl.augment._maps import _apply, _as_batch, _compose_maps
from linssl.augment.base import Augmentation, ClosedFormAugmentation
from linssl.augment.moments import AugmentedMoments, DiagonalForm
from linssl.augment.masks import Mask
from linssl.augment.noise import Gaussian
from linssl.augment.monte_carlo import Custom, _batch_count, _monte_carlo

__all__ = ["Compose"]



@dataclass(frozen=True, eq=False)
class Compose(ClosedFormAugmentation):
    """Apply augmentations in sequence (the first stage first), with independent draws.

    Exact when every stage is closed-form (noise, masks, random linear and affine maps, image
    augmentations, in any order): the mean maps multiply, the second-moment maps compose, and the
    mean of the views is carried along for affine stages. With a :class:`Custom` stage, the moments are
    Monte Carlo estimates through :meth:`sample`, using the largest ``draws`` of the Custom stages
    and the ``seed``, ``chunk_size``, ``batches`` and ``threads`` of the first one.

    Parameters
    ----------
    stages : sequence of Augmentation

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((100, 3))
    >>> both = linssl.Compose([linssl.Mask(0.8), linssl.Gaussian(0.1)]).moments(X)
    >>> masked = linssl.Mask(0.8).moments(X)
    >>> bool(np.allclose(both.S, masked.S + 0.1 * np.eye(3)))    # noise after the mask adds 0.1 I
    True
    """

    stages: Sequence[Augmentation]

    def __post_init__(self):
        flat = []
        for stage in self.stages:
            if not isinstance(stage, Augmentation):
                raise TypeError(f"Compose stages must be augmentations (Gaussian, Mask, Custom, ...); got {stage!r}")
            if getattr(stage, "is_pair_of_views", False):
                raise TypeError("a pair of views (TwoViews) cannot be a Compose stage; compose each view, then pair them")
            flat.extend(stage.stages if isinstance(stage, Compose) else [stage])
        if not flat:
            raise ValueError("Compose needs at least one stage")
        object.__setattr__(self, "stages", tuple(flat))

    @property
    def is_closed_form(self) -> bool:  # type: ignore[override]
        """True when every stage is closed-form (exact moments, no Monte Carlo)."""
        return all(stage.is_closed_form for stage in self.stages)

    def _require_closed_form(self) -> None:
        if not self.is_closed_form:
            raise TypeError("this Compose has a stage without closed-form moments (a Custom); use moments() on raw data")

    def _closed_form_stages(self) -> list[ClosedFormAugmentation]:
        return [cast(ClosedFormAugmentation, stage) for stage in self.stages]

    def no_diagonal_form(self) -> Optional[str]:
        reasons = [r for r in (stage.no_diagonal_form() for stage in self.stages) if r is not None]
        return reasons[0] if reasons else None

    def diagonal_form(self, d: int, after: Optional[DiagonalForm] = None) -> DiagonalForm:
        # The stages' forms, composed in order (the first stage first).
        if self.no_diagonal_form() is not None:
            return super().diagonal_form(d)
        form = DiagonalForm.identity(d) if after is None else after
        for stage in self.stages:
            form = cast(Union[Gaussian, Mask], stage).diagonal_form(d, form)
        return form

    def mean_map(self, d: int) -> np.ndarray:
        self._require_closed_form()
        P = np.ones(d)
        for stage in self._closed_form_stages():
            P = _compose_maps(stage.mean_map(d), P)
        return P

    def mean_offset(self, d: int) -> Optional[np.ndarray]:
        # c of the composed affine map: P_2 (P_1 x + c_1) + c_2, stage after stage.
        self._require_closed_form()
        c: Optional[np.ndarray] = None
        for stage in self._closed_form_stages():
            P, own = stage.mean_map(d), stage.mean_offset(d)
            c = own if c is None else (_apply(P, c) if own is None else _apply(P, c) + own)
        return c

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        return self.view_second_moment(M, None)

    def view_second_moment(self, M: np.ndarray, mean: Optional[np.ndarray]) -> np.ndarray:
        # The stages' maps in order; the mean of the views is carried along for affine stages.
        self._require_closed_form()
        mu = mean
        for stage in self._closed_form_stages():
            M = stage.view_second_moment(M, mu)
            if mu is not None:
                c = stage.mean_offset(M.shape[0])
                mu = _apply(stage.mean_map(M.shape[0]), mu) + (0.0 if c is None else c)
        return M

    def sample(self, X, rng=None) -> np.ndarray:
        rng = as_generator(rng)
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

    def moments_from_second_moment(self, second_moment, **kwargs) -> AugmentedMoments:
        """Augmented moments from the clean moments alone, when every stage is closed-form.

        Parameters
        ----------
        second_moment : ndarray, shape (d, d)
            ``M = X^T X / n`` (or a population second moment ``E[x x^T]``).
        **kwargs
            ``n``, ``cross_moment``, ``y_second_moment``, ``mean``, ``y_mean``: as for
            :meth:`ClosedFormAugmentation.moments_from_second_moment`.

        Returns
        -------
        AugmentedMoments

        Raises
        ------
        TypeError
            When a stage has no closed-form moments (a :class:`Custom`).

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((40, 3))
        >>> aug = linssl.Compose([linssl.Mask(0.8), linssl.Gaussian(0.1)])
        >>> m = aug.moments_from_second_moment(X.T @ X / 40, n=40)
        >>> m.S.shape, bool(np.allclose(m.S, aug.moments(X).S))        # as from the data
        ((3, 3), True)
        """
        self._require_closed_form()
        return super().moments_from_second_moment(second_moment, **kwargs)
