"""The Gram path: exact optimal models for ``d >> n`` from n x n Gram matrices, never a d x d matrix.

When the augmentation is additive Gaussian noise with a diagonal (or low-rank-plus-diagonal)
covariance, a Bernoulli mask, or any :class:`~linssl.augment.Compose` of those, all three optimal
models live in the span of the (rescaled) data rows. They then follow from the n x n Gram matrices
``X D^{-1} X^T`` and ``X X^T``, an n x n eigenproblem and products of ``X`` with n x k matrices:
O(n^2 d) work and O(n^2 + d k) memory instead of O(n d^2 + d^3) work and O(d^2) memory.

Derivation (notation of paper.md, ``M = X^T X / n``)
------------------------------------------------------
*Diagonal form.* Every supported augmentation has a diagonal mean map ``P = diag(p)`` and

    S = P M P + F F^T + D,    G = P M P,    C = M P,    B = Y^T X P / n,

with ``D`` diagonal. Starting from ``p = 1``, ``F`` empty, ``D = 0``: a noise stage with covariance
``F_a F_a^T + diag(c)`` appends ``F_a`` to ``F`` and adds ``c`` to ``D``; a mask with keep
probabilities ``q`` sees the second moment ``P M P + F F^T + D`` and returns
``diag(q) (.) diag(q) + diag(q (1 - q) diag(.))``, i.e. ``p -> q p``, ``F -> diag(q) F`` and
``D -> q D + q (1 - q) (p^2 diag(M) + rowsum(F^2))``. (A single mask gives the paper's
``D = diag(p (1 - p) diag(M))``.) ``ridge`` adds ``rho = ridge tr(S) / d`` to ``D``.

*Reduction.* Let ``X' = X P`` (the mean views), ``A = [X'; sqrt(n) F^T]`` (m x d, ``m = n + s``
with ``s`` the columns of ``F``), so ``S = A^T A / n + D`` and ``G = X'^T X' / n``. With ``D``
positive definite put ``Z = A D^{-1/2}`` and take its thin SVD ``Z = U Sigma V^T`` from the m x m
Gram matrix ``K = A D^{-1} A^T = U Sigma^2 U^T`` (keeping the numerical rank r);
``Lambda = Sigma^2 / n``, ``U_X`` = the first n rows of ``U`` (so ``X' D^{-1/2} V = U_X Sigma``),
``H = X X^T``. In the coordinates ``u = D^{1/2} w`` the constraint ``w^T S w = 1`` reads
``u^T (I + Z^T Z / n) u = 1``, and both left-hand matrices below map into the row space of ``Z``:
an eigenvector with a non-zero eigenvalue has no component orthogonal to ``V``, so ``u = V c`` and
``c^T (I + Lambda) c = 1``.

- Joint embedding, ``G w = omega S w``: ``(Sigma U_X^T U_X Sigma / n) c = omega (I + Lambda) c``
  (r x r), ``w = D^{-1/2} V c = D^{-1} A^T U Sigma^{-1} c``. Without a noise factor (``s = 0``)
  ``U_X = U`` and the left side is ``Lambda``: ``omega_j = lambda_j / (1 + lambda_j)`` and
  ``w_j = D^{-1} X'^T U_j / (sigma_j sqrt(1 + lambda_j))`` from the top k eigenpairs of ``K``;
  the loss is ``2 sum_j (1 - omega_j) = 2 sum_j 1 / (1 + lambda_j)``.
- Reconstruction, ``C^T C v = phi^2 S v`` with ``C^T C = X'^T H X' / n^2``:
  ``(Sigma U_X^T H U_X Sigma / n^2) c = phi^2 (I + Lambda) c``, encoder rows
  ``D^{-1} A^T U Sigma^{-1} c`` and decoder ``C E^T = X^T X' E^T / n = X^T U_X Sigma c / n``.
- Supervised, ``V = B S^{-1}``: by Woodbury ``A S^{-1} = n (n I + K)^{-1} A D^{-1}``, so with
  ``Y^ = [Y; 0]`` (m x l), ``V = Y^^T (n I + K)^{-1} A D^{-1}`` and the loss
  ``||Y||^2 / n - tr(B S^{-1} B^T) = tr(Y^^T (n I + K)^{-1} Y^)`` (kernel ridge regression with
  kernel ``K``; the second form has no cancellation).
- Pairs beyond the rank (``k > r``) have ``omega = phi = 0``: any ``u`` orthonormal and orthogonal
  to ``V``, ``w = D^{-1/2} u`` (decoder columns 0).

The Gram matrices come from linssl's Rust moment accumulator fed blocks of columns of ``X``
(``MomentAccumulator(m).update(block.T)`` adds ``block block^T``, one triangle), each block scaled
on the fly; the small eigenproblems are solved by :mod:`linssl.linalg`. ``H`` is skipped when
``P = I``, ``F`` is empty and ``D`` is constant (isotropic noise: ``H = D_0 K``).

Public API: :func:`gram_moments` -> :class:`GramMoments`; :func:`joint_embedding`,
:func:`reconstruction`, :func:`supervised` (returning the :mod:`linssl.linalg` solution tuples);
which augmentations have a diagonal form, and when the estimators take this path, is decided in
:mod:`linssl.diagonal_form`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from linssl import linalg
from linssl._determined import warn_undetermined
from linssl._core import ridge_shift
from linssl._input import as_float, check_finite, first_non_finite, require_real
from linssl.accumulate import MomentAccumulator
from linssl.diagonal_form import diagonal_form

__all__ = ["GramMoments", "gram_moments", "joint_embedding", "reconstruction", "supervised"]

# Elements of one block of columns (m x b float64: 32 MiB): large enough for the accumulator to
# run at full speed, small next to the data.
_BLOCK_ELEMENTS = 1 << 22

# --- the Gram matrices ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GramMoments:
    """Everything the three closed forms need when ``d >> n``: m x m Gram matrices and the data.

    Built by :func:`gram_moments`; read by :func:`joint_embedding`, :func:`reconstruction` and
    :func:`supervised`. No d x d matrix is stored.

    Parameters
    ----------
    n, d : int
        Samples and features.
    K : ndarray, shape (m, m), float64
        ``A D^{-1} A^T`` with ``A = [X P; sqrt(n) F^T]`` and ``m = n + s`` (see the module docstring).
    H : ndarray, shape (n, n), float64, or None
        ``X X^T`` (needed by reconstruction only).
    keep : ndarray, shape (d,), float64
        ``p``, the diagonal of the mean map ``P = diag(p)``.
    noise : ndarray, shape (d,), float64
        The diagonal ``D`` (positive, ridge included).
    factor : ndarray, shape (d, s), float64
        The noise factor ``F`` (``s = 0`` columns without low-rank noise).
    trace_xx : float
        ``||X||_F^2 / n``.
    Y : ndarray, shape (n, l), float64, or None
        Targets.
    trace_yy : float or None
        ``||Y||_F^2 / n``.
    data : array, shape (n, d)
        The data themselves (referenced, not copied): products back to d dimensions read them.

    Examples
    --------
    Under a mask with keep probability ``p = 0.8``, ``P = p I`` and
    ``D = p (1 - p) diag(X^T X / n)`` (paper.md), so ``K = (X P) D^{-1} (X P)^T``:

    >>> import numpy as np, linssl
    >>> from linssl import gram
    >>> X = np.random.default_rng(0).standard_normal((20, 300))          # d >> n
    >>> g = gram.gram_moments(X, linssl.Mask(0.8))
    >>> g.K.shape, g.H.shape, g.factor.shape, g.Y is None
    ((20, 20), (20, 20), (300, 0), True)
    >>> bool(np.allclose(g.noise, 0.8 * 0.2 * np.mean(X**2, axis=0)))
    True
    >>> XP = X * g.keep
    >>> bool(np.allclose(g.K, (XP / g.noise) @ XP.T)), bool(np.allclose(g.H, X @ X.T))
    (True, True)
    """

    n: int
    d: int
    K: np.ndarray
    H: Optional[np.ndarray]
    keep: np.ndarray
    noise: np.ndarray
    factor: np.ndarray
    trace_xx: float
    Y: Optional[np.ndarray]
    trace_yy: Optional[float]
    data: object = field(repr=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def m(self) -> int:
        """Size of the Gram matrix ``K`` (``n`` plus the columns of the noise factor)."""
        return self.K.shape[0]

    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenpairs of ``K`` above its numerical rank: ``mu`` (r,) descending and ``U`` (m, r).

        Computed once, by the dense solver, and shared by the three paradigms. (Block Lanczos
        gains little here: the spectrum of ``K`` usually has no gap after the top k, only the
        bulk of the noise, which slows its convergence down below the dense solver's speed.)

        Returns
        -------
        mu : ndarray, shape (r,), float64
            The eigenvalues of ``K`` above ``mu_max * m * eps``, descending (``r`` = numerical rank).
        U : ndarray, shape (m, r), float64
            Orthonormal eigenvectors, ``K U = U diag(mu)``.

        Examples
        --------
        Five repeated rows add nothing to the rank of ``K``:

        >>> import numpy as np, linssl
        >>> from linssl import gram
        >>> X = np.random.default_rng(0).standard_normal((20, 300))
        >>> g = gram.gram_moments(np.vstack([X, X[:5]]), linssl.Gaussian(1.0))
        >>> mu, U = g.spectrum()
        >>> g.m, mu.shape, bool(np.allclose(g.K @ U, U * mu))
        (25, (20,), True)
        """
        if "spectrum" not in self._cache:
            mu, U = linalg.eigh_generalized(self.K, np.eye(self.m), solver="dense")
            # Eigenvalues of K are accurate to about eps ||K||: smaller ones are rounding noise.
            rank = int(np.sum(mu > max(mu[0], 0.0) * self.m * np.finfo(np.float64).eps))
            self._cache["spectrum"] = (mu[:rank], U[:, :rank])
        return self._cache["spectrum"]


def _as_columns_readable(X):
    """``X`` as a 2-D array whose column blocks can be read (NumPy, np.memmap, Dask)."""
    if not isinstance(X, np.ndarray) and not hasattr(X, "dask"):
        if not (isinstance(X, (list, tuple)) or hasattr(X, "__array__")):
            raise ValueError(
                "solver='gram' reads X by blocks of columns, so X must be one (n, d) array (in memory, "
                "np.memmap or a Dask array), not an iterator of row chunks; use solver='dense' for those"
            )
        X = np.asarray(X)
    if len(X.shape) != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got an array with shape {X.shape}")
    require_real(X.dtype, "X")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X is empty (shape {X.shape})")
    return X


def _column_blocks(d: int, m: int):
    step = max(64, _BLOCK_ELEMENTS // max(m, 1))
    return [slice(j, min(j + step, d)) for j in range(0, d, step)]


def _read(X, cols: slice) -> np.ndarray:
    """Columns ``cols`` of ``X`` as float64 (a view when ``X`` already is a float64 ndarray)."""
    return as_float(X[:, cols], np.float64, "X")


def _targets(y, n: int) -> np.ndarray:
    Y = as_float(y, np.float64, "y")
    Y = np.array(Y[:, None] if Y.ndim == 1 else Y)
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(f"y must have {n} rows (one per sample of X); got shape {np.shape(y)}")
    check_finite(Y, "y")
    return Y


def gram_moments(X, augmentation, y=None, *, ridge: float = 0.0, reconstruction: bool = True) -> GramMoments:
    """Gram matrices of ``X`` under a supported augmentation (two passes over the columns of ``X``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Any real dtype; an ndarray, an ``np.memmap`` or a Dask array (read one block of columns at
        a time, never copied whole; blocks are converted to float64).
    augmentation : linssl augmentation
        Gaussian noise with a scalar, diagonal or :class:`~linssl.augment.LowRankPlusDiagonal`
        covariance, :class:`~linssl.augment.Mask`, or a :class:`~linssl.augment.Compose` of them.
    y : array_like, shape (n,) or (n, l), optional
        Targets (for :func:`supervised`).
    ridge : float, default 0.0
        ``S`` is replaced by ``S + ridge * trace(S) / d * I`` (as on the dense path).
    reconstruction : bool, default True
        Also compute ``H = X X^T`` (needed by :func:`reconstruction` only).

    Returns
    -------
    GramMoments

    Raises
    ------
    ValueError
        Unsupported augmentation, NaN/Inf in the data, or a diagonal ``D`` that is not positive
        (pass ``ridge > 0``).

    Examples
    --------
    >>> import numpy as np, linssl
    >>> from linssl import gram
    >>> X = np.random.default_rng(0).standard_normal((20, 300))          # d >> n
    >>> g = gram.gram_moments(X, linssl.Mask(0.8), y=X[:, :2])
    >>> g.n
    20
    """
    X = _as_columns_readable(X)
    n, d = (int(v) for v in X.shape)
    form = diagonal_form(augmentation, d)
    ridge_shift(float(ridge), 0.0)  # refuses a bad ridge before X is read
    Y = None if y is None else _targets(y, n)
    s = form.factor.shape[1]
    m = n + s
    blocks = _column_blocks(d, m)

    # Pass 1: diag(M), which the masks' D needs and the ridge's trace(S).
    col_second = np.empty(d)
    first_bad = None  # (row, column) of the first NaN or Inf of X in row-major order
    for cols in blocks:
        block = _read(X, cols)
        col_second[cols] = np.einsum("ij,ij->j", block, block) / n
        if not np.all(np.isfinite(col_second[cols])):
            bad = first_non_finite(block)
            if bad is None:
                j = cols.start + int(np.argmin(np.isfinite(col_second[cols])))
                raise ValueError(f"the squares of column {j} of X overflow float64 (values above 1e154); rescale X")
            here = (bad[0], cols.start + bad[1])
            first_bad = here if first_bad is None else min(first_bad, here)
    if first_bad is not None:
        i, j = first_bad
        check_finite(_read(X[i : i + 1], slice(j, j + 1)), "X", i, j)  # raises, naming that entry
    noise = form.scale * col_second + form.offset
    factor_sq = np.einsum("ij,ij->i", form.factor, form.factor)
    mean = float(np.sum(form.keep**2 * col_second) + factor_sq.sum() + noise.sum()) / d  # trace(S) / d
    noise = noise + ridge_shift(float(ridge), mean)
    if not np.all(noise > 0.0):
        zero = np.flatnonzero(~(noise > 0.0))
        raise ValueError(
            f"the Gram path needs the diagonal part D of S = A^T A / n + D to be positive, but it is zero for "
            f"{zero.size} feature(s) (first: {zero[0]}; a mask with p = 1, zero noise variance, or a constant-zero "
            "column). Pass ridge > 0 (for example 1e-6) or use solver='dense'"
        )

    # Pass 2: K = A D^{-1} A^T and, when needed, H = X X^T, one block of columns at a time.
    isotropic = s == 0 and np.all(form.keep == 1.0) and np.all(noise == noise[0])
    acc_k = MomentAccumulator(m)
    acc_h = MomentAccumulator(n) if reconstruction and not isotropic else None
    weight = form.keep / np.sqrt(noise)
    factor_rows = np.sqrt(n) * form.factor / np.sqrt(noise)[:, None]  # rows of A D^{-1/2} beyond n, transposed
    for cols in blocks:
        block = _read(X, cols)
        scaled = block * weight[cols]
        if s:
            scaled = np.vstack([scaled, factor_rows[cols].T])
        acc_k.update(scaled.T)
        if acc_h is not None:
            acc_h.update(block.T)
    K = acc_k.xtx
    H = None
    if reconstruction:
        H = acc_h.xtx if acc_h is not None else K * noise[0]
    return GramMoments(
        n=n,
        d=d,
        K=K,
        H=H,
        keep=form.keep,
        noise=noise,
        factor=form.factor,
        trace_xx=float(col_second.sum()),
        Y=Y,
        trace_yy=None if Y is None else float(np.einsum("ij,ij->", Y, Y) / n),
        data=X,
    )


# --- back from the sample space to the features --------------------------------------------------


def _data_transpose_times(g: GramMoments, R: np.ndarray, scale: Optional[np.ndarray] = None) -> np.ndarray:
    """``diag(scale) X^T R`` for ``R`` (n, k), shape (d, k), one block of columns of ``X`` at a time."""
    out = np.empty((g.d, R.shape[1]))
    for cols in _column_blocks(g.d, g.n):
        out[cols] = _read(g.data, cols).T @ R
        if scale is not None:
            out[cols] *= scale[cols, None]
    return out


def _features_times(g: GramMoments, R: np.ndarray) -> np.ndarray:
    """``D^{-1} A^T R`` for ``R`` (m, k), shape (d, k): a combination of the rows of ``A`` in R^d."""
    out = _data_transpose_times(g, R[: g.n], g.keep / g.noise)
    if g.factor.shape[1]:
        out += (np.sqrt(g.n) * g.factor @ R[g.n :]) / g.noise[:, None]
    return out


def _null_directions(g: GramMoments, U: np.ndarray, sigma: np.ndarray, count: int) -> np.ndarray:
    """``count`` vectors ``w = D^{-1/2} u`` (as columns, (d, count)) with ``u`` orthonormal and
    orthogonal to the row space ``V`` of ``Z``: the eigenvectors of eigenvalue 0, ``w^T S w = I``."""
    V = np.sqrt(g.noise)[:, None] * _features_times(g, U / sigma)  # D^{-1/2} A^T U Sigma^{-1}, (d, r)
    Q = np.random.default_rng(0).standard_normal((g.d, count))
    for _ in range(2):  # twice is enough for orthogonality to working precision
        Q -= V @ (V.T @ Q)
        Q, _r = np.linalg.qr(Q)
    return Q / np.sqrt(g.noise)[:, None]


def _reduced_pairs(left: np.ndarray, lam: np.ndarray, k: int):
    """Top ``min(k, r)`` pairs of ``left c = w (I + Lambda) c`` (r x r), or empty ones when r = 0."""
    kk = min(k, lam.size)
    if kk == 0:
        return np.zeros(0), np.zeros((0, 0))
    # Dense, as for K: the same size and the same gapless bulk.
    return linalg.eigh_generalized(0.5 * (left + left.T), np.diag(1.0 + lam), kk, solver="dense")


# --- the three closed forms ----------------------------------------------------------------------


def joint_embedding(g: GramMoments, k: int) -> linalg.JointEmbeddingSolution:
    """Optimal linear joint embedding from Gram moments (same result as :func:`linssl.linalg.joint_embedding`).

    Parameters
    ----------
    g : GramMoments
    k : int
        Embedding dimension, ``1 <= k <= d``.

    Returns
    -------
    linssl.linalg.JointEmbeddingSolution
        ``omega`` (k,), ``W`` (k, d) with ``W S W^T = I``, ``loss = 2 (k - sum(omega))``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> from linssl import gram
    >>> X = np.random.default_rng(0).standard_normal((20, 300))          # d >> n
    >>> g = gram.gram_moments(X, linssl.Mask(0.8), y=X[:, :2])
    >>> sol = gram.joint_embedding(g, 3)
    >>> dense = linssl.JointEmbedding(3, augmentation=linssl.Mask(0.8), solver="dense").fit(X)
    >>> sol.W.shape, bool(np.allclose(sol.omega, dense.eigenvalues_))
    ((3, 300), True)
    """
    k = linalg.pairs_wanted(k, g.d)
    if g.factor.shape[1] == 0:
        mu, U = g.spectrum()
        mu, U = mu[:k], U[:, :k]
        sigma, lam = np.sqrt(mu), mu / g.n
        omega = lam / (1.0 + lam)
        W = _features_times(g, U / (sigma * np.sqrt(1.0 + lam))).T
        loss = 2.0 * float(np.sum(1.0 / (1.0 + lam)))
    else:
        mu, U = g.spectrum()
        sigma, lam = np.sqrt(mu), mu / g.n
        UX = U[: g.n]
        omega, c = _reduced_pairs(sigma[:, None] * (UX.T @ UX) * sigma[None, :] / g.n, lam, k)
        W = _features_times(g, (U / sigma) @ c).T
        loss = 2.0 * float(np.sum(1.0 - omega))
    missing = k - omega.size
    warn_undetermined("joint_embedding", omega.size, k)
    if missing:
        W = np.vstack([W, _null_directions(g, U, sigma, missing).T])
        omega = np.concatenate([omega, np.zeros(missing)])
        loss += 2.0 * missing
    return linalg.JointEmbeddingSolution(omega, W, loss, "gram")


def reconstruction(g: GramMoments, k: int) -> linalg.ReconstructionSolution:
    """Optimal linear auto-encoder from Gram moments (same result as :func:`linssl.linalg.reconstruction`).

    Parameters
    ----------
    g : GramMoments
        Computed with ``reconstruction=True``.
    k : int
        Bottleneck dimension, ``1 <= k <= d``.

    Returns
    -------
    linssl.linalg.ReconstructionSolution
        ``phi2`` (k,), encoder ``E`` (k, d) with ``E S E^T = I``, decoder ``D = C E^T`` (d, k),
        ``loss = trace_xx - sum(phi2)``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> from linssl import gram
    >>> X = np.random.default_rng(0).standard_normal((20, 300))          # d >> n
    >>> g = gram.gram_moments(X, linssl.Mask(0.8), y=X[:, :2])
    >>> sol = gram.reconstruction(g, 3)
    >>> sol.E.shape, sol.D.shape
    ((3, 300), (300, 3))
    """
    if g.H is None:
        raise ValueError("these Gram moments have no X X^T; compute them with gram_moments(..., reconstruction=True)")
    k = linalg.pairs_wanted(k, g.d)
    mu, U = g.spectrum()
    sigma, lam = np.sqrt(mu), mu / g.n
    UX = U[: g.n]
    left = sigma[:, None] * (UX.T @ g.H @ UX) * sigma[None, :] / g.n**2
    phi2, c = _reduced_pairs(left, lam, k)
    E = _features_times(g, (U / sigma) @ c).T
    decoder = _data_transpose_times(g, (UX * sigma) @ c) / g.n
    missing = k - phi2.size
    warn_undetermined("reconstruction", phi2.size, k)
    if missing:
        E = np.vstack([E, _null_directions(g, U, sigma, missing).T])
        decoder = np.hstack([decoder, np.zeros((g.d, missing))])
        phi2 = np.concatenate([phi2, np.zeros(missing)])
    return linalg.ReconstructionSolution(phi2, E, decoder, g.trace_xx - float(np.sum(phi2)), "gram")


def supervised(g: GramMoments) -> linalg.SupervisedSolution:
    """Optimal linear regression under augmentations from Gram moments (as :func:`linssl.linalg.supervised`).

    Parameters
    ----------
    g : GramMoments
        Computed with targets ``y``.

    Returns
    -------
    linssl.linalg.SupervisedSolution
        ``V`` (l, d) and ``loss = tr(Y^^T (n I + K)^{-1} Y^)``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> from linssl import gram
    >>> X = np.random.default_rng(0).standard_normal((20, 300))          # d >> n
    >>> g = gram.gram_moments(X, linssl.Mask(0.8), y=X[:, :2])
    >>> gram.supervised(g).V.shape
    (2, 300)
    """
    if g.Y is None:
        raise ValueError("these Gram moments carry no targets; compute them with gram_moments(X, augmentation, y)")
    targets = np.vstack([g.Y, np.zeros((g.m - g.n, g.Y.shape[1]))])
    system = g.K + g.n * np.eye(g.m)
    # linalg.supervised(S, B, 0) returns B S^{-1} and -tr(B S^{-1} B^T): the dual solution and loss.
    dual, negative_loss, _ = linalg.supervised(system, targets.T, 0.0)
    V = _features_times(g, dual.T).T
    return linalg.SupervisedSolution(V, -float(negative_loss), "gram")
