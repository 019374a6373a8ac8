"""Exact Gram matrices of Gaussian rows without drawing the rows: Wishart draws by Bartlett decomposition.

``n`` i.i.d. rows ``g_i ~ N(0, I_p)`` have Gram matrix ``G^T G ~ Wishart(n, I_p)``; Bartlett's
decomposition draws it as ``T T^T`` with ``T`` lower triangular, ``T_ii^2 ~ chi^2(n - i)``
(``i = 0 .. p-1``) and ``T_ij ~ N(0, 1)`` below the diagonal, in O(p^3) whatever ``n``.

:func:`gram_with` extends this to Gaussian rows drawn next to other, arbitrary (non-Gaussian)
columns ``F`` (n x q) that are independent of them: given ``F^T F``, the pair ``(G^T F, G^T G)`` is
``(Z^T R, Z^T Z + Wishart(n - rank F, I_p))`` with ``Z`` a (rank F) x p standard normal matrix and
``R^T R = F^T F``, by the rotation invariance of ``G``. :mod:`linssl.synthetic` uses both to draw
the moments of its data model at any ``n``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bartlett", "gram_with"]

# Below this many degrees of freedom per dimension, explicit rows are as cheap as Bartlett's factor
# (and they also cover the singular case df < p, where Bartlett's decomposition does not apply).
_ROWS_PER_DIMENSION = 4


def bartlett(df: int, p: int, rng: np.random.Generator) -> np.ndarray:
    """A draw of ``Wishart(df, I_p)``: the Gram matrix ``G^T G`` of ``df`` standard normal rows.

    Parameters
    ----------
    df : int
        Degrees of freedom (the number of rows), >= 0; any size (``1e12`` costs what ``1e3`` does).
    p : int
        Dimension, >= 0.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (p, p), float64
        Symmetric positive semi-definite (definite when ``df >= p``).

    Examples
    --------
    >>> import numpy as np
    >>> W = bartlett(10**9, 3, np.random.default_rng(0))
    >>> W.shape, bool(np.allclose(W / 10**9, np.eye(3), atol=1e-3))
    ((3, 3), True)
    """
    if df < 0 or p < 0:
        raise ValueError(f"need df >= 0 and p >= 0; got df={df}, p={p}")
    if df < _ROWS_PER_DIMENSION * max(p, 1):
        G = rng.standard_normal((int(df), p))
        return G.T @ G
    T = np.tril(rng.standard_normal((p, p)), -1)
    T[np.diag_indices(p)] = np.sqrt(rng.chisquare(df - np.arange(p, dtype=np.float64)))
    W = T @ T.T
    return 0.5 * (W + W.T)


def gram_with(F_gram: np.ndarray, n: int, p: int, rng: np.random.Generator) -> np.ndarray:
    """The Gram matrix of ``[F, G]`` given ``F^T F``, for ``G`` (n x p) standard normal rows independent of ``F``.

    Parameters
    ----------
    F_gram : ndarray, shape (q, q)
        ``F^T F`` of the other columns (any law), symmetric positive semi-definite.
    n : int
        Number of rows, >= rank of ``F_gram``.
    p : int
        Number of Gaussian columns.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (q + p, q + p), float64
        ``[[F^T F, F^T G], [G^T F, G^T G]]``, distributed exactly as for explicit rows.

    Examples
    --------
    >>> import numpy as np
    >>> H = gram_with(np.diag([5.0, 5.0]), 10, 3, np.random.default_rng(0))
    >>> H.shape, bool(np.allclose(H[:2, :2], np.diag([5.0, 5.0])))
    ((5, 5), True)
    """
    F_gram = np.asarray(F_gram, dtype=np.float64)
    q = F_gram.shape[0]
    w, E = np.linalg.eigh(0.5 * (F_gram + F_gram.T))
    keep = w > max(w.max(initial=0.0), 0.0) * q * np.finfo(np.float64).eps
    rank = int(keep.sum())
    if rank > n:
        raise ValueError(f"F^T F has rank {rank} > n = {n}: it is not the Gram matrix of {n} rows")
    R = np.sqrt(w[keep])[:, None] * E[:, keep].T  # R^T R = F^T F (rank x q)
    Z = rng.standard_normal((rank, p))
    cross = Z.T @ R  # G^T F, (p, q)
    GG = Z.T @ Z + bartlett(n - rank, p, rng)
    out = np.empty((q + p, q + p))
    out[:q, :q] = F_gram
    out[q:, :q] = cross
    out[:q, q:] = cross.T
    out[q:, q:] = 0.5 * (GG + GG.T)
    return out
