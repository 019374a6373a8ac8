"""Moments of a data set, streamed through the Rust accumulator.

Every statistic linssl needs from raw data is a function of ``n``, ``sum_i x_i``, ``X^T X`` and
``X^T Y``; this module computes them in one pass, in chunks, without copying the input.
"""

from __future__ import annotations

import numpy as np

from linssl._core import MomentAccumulator

__all__ = ["MomentAccumulator", "covariance"]


def _as_float_matrix(X, name: str = "X") -> np.ndarray:
    """View ``X`` as a 2-D float32/float64 array; other real dtypes are converted to float64."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got an array with shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        if X.dtype.kind in "biuf":
            X = X.astype(np.float64)
        else:
            raise TypeError(f"{name} has dtype {X.dtype}; linssl needs real numbers (float32 or float64)")
    return X


def covariance(X) -> np.ndarray:
    """Uncentred second moment ``X^T X / n`` of the rows of ``X``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        float64 or float32 (other real dtypes are converted to float64). C- and Fortran-ordered
        arrays are read in place; other strides are copied block by block.

    Returns
    -------
    ndarray, shape (d, d), float64
        Symmetric. Computed in Rust from one triangle of ``X^T X`` with the GIL released.
    """
    X = _as_float_matrix(X)
    n, d = X.shape
    if n == 0:
        raise ValueError("X has no rows; the second moment of an empty data set is undefined")
    acc = MomentAccumulator(d)
    acc.update(X)
    return acc.xtx / n
