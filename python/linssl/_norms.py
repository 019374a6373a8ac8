"""Matrix norms that neither overflow nor underflow.

``np.linalg.norm`` sums squares, which overflow to inf beyond about 1e154 and lose everything
below about 1e-154 although the norm itself is representable. As LAPACK's ``dlassq`` avoids
both, :func:`frobenius` rescales when (and only when) the plain sum has left the safe range.
"""

from __future__ import annotations

import numpy as np

__all__ = ["frobenius"]

# Below this, squares of the largest entries may have underflowed (smallest normal / eps).
_TINY = np.finfo(np.float64).tiny / np.finfo(np.float64).eps


def frobenius(A) -> float:
    """The Frobenius norm of ``A``, accurate over the whole float64 range.

    Parameters
    ----------
    A : array_like of float

    Returns
    -------
    float

    Examples
    --------
    >>> frobenius(np.full((2, 2), 1e200))
    2e+200
    """
    A = np.asarray(A, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):  # detected below, and handled by rescaling
        plain = float(np.linalg.norm(A))
    if np.isfinite(plain) and (plain * plain >= _TINY or plain == 0.0):
        return plain
    scale = float(np.max(np.abs(A))) if A.size else 0.0
    if scale == 0.0 or not np.isfinite(scale):
        return plain
    scale = float(2.0 ** np.round(np.log2(scale)))  # a power of two: the rescaling is exact
    return float(np.linalg.norm(A / scale)) * scale
