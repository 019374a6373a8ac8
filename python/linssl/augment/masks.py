"""Masking: independent Bernoulli keep-masks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import numpy as np

from linssl._input import as_float, check_finite_parameter
from linssl._random import as_generator
from linssl.augment._maps import _as_batch, _scale_symmetric
from linssl.augment.base import ClosedFormAugmentation
from linssl.augment.moments import DiagonalForm

__all__ = ["Mask"]



@dataclass(frozen=True, eq=False)
class Mask(ClosedFormAugmentation):
    """Independent Bernoulli keep-mask ``tau(x) = m * x``, ``m_j ~ Bernoulli(p_j)``.

    Moments (paper.md): ``Xbar = X diag(p)``,
    ``S = diag(p) M diag(p) + diag(p (1 - p)) diag(M)`` with ``M = X^T X / n``.

    Parameters
    ----------
    p : float or array_like of shape (d,)
        Keep probability (one for all features, or one per feature), in (0, 1].

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> m = linssl.Mask(0.5).moments(X)
    >>> m.G                                        # Xbar = X / 2
    array([[1.25, 1.75],
           [1.75, 2.5 ]])
    """

    p: Union[float, np.ndarray]

    def __post_init__(self):
        p = np.array(as_float(self.p, np.float64, "Mask p"))
        if p.ndim > 1:
            raise ValueError(f"Mask p must be a scalar or a (d,) vector of keep probabilities; got shape {p.shape}")
        check_finite_parameter(p, "Mask p", "pass keep probabilities in (0, 1]")
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
        if np.ndim(self.p) == 1 and np.size(self.p) != d:
            raise ValueError(
                f"Mask p has {np.size(self.p)} keep probabilities but the data have d={d} features; "
                f"pass a scalar or a ({d},) vector"
            )
        return np.broadcast_to(np.asarray(self.p, dtype=np.float64), (d,))

    def mean_map(self, d: int) -> np.ndarray:
        return np.array(self._keep(d))

    def no_diagonal_form(self) -> Optional[str]:
        return None

    def diagonal_form(self, d: int, after: Optional[DiagonalForm] = None) -> DiagonalForm:
        # A mask with keep probabilities q sees P M P + F F^T + D and returns diag(q) (.) diag(q) +
        # diag(q (1 - q) diag(.)): p -> q p, F -> diag(q) F, D -> q D + q (1 - q) (p^2 diag(M) + rowsum(F^2)).
        form = DiagonalForm.identity(d) if after is None else after
        q = self._keep(d)
        return DiagonalForm(
            keep=q * form.keep,
            scale=q * form.scale + q * (1.0 - q) * form.keep**2,
            offset=q * form.offset + q * (1.0 - q) * np.einsum("ij,ij->i", form.factor, form.factor),
            factor=q[:, None] * form.factor,
        )

    def second_moment_map(self, M: np.ndarray) -> np.ndarray:
        p = self._keep(M.shape[0])
        out = _scale_symmetric(M, p)
        out[np.diag_indices_from(out)] += p * (1.0 - p) * np.diag(M)
        return out

    def sample(self, X, rng=None) -> np.ndarray:
        X = _as_batch(X)
        rng = as_generator(rng)
        p = self._keep(X.shape[1])
        return X * (rng.random(X.shape) < p)
