"""The three paradigms as scikit-learn estimators: exact optimal linear models from moments.

- :class:`JointEmbedding`: ``min_W (1/n) sum_i E ||W tau1(x_i) - W tau2(x_i)||^2`` s.t. ``W S W^T = I``
  (VICReg-like). Solution: top-k generalized eigenvectors of ``G w = omega S w``.
- :class:`Reconstruction`: ``min_{E, D} (1/n) sum_i E ||x_i - D E tau(x_i)||^2`` (denoising / masked
  auto-encoders). Solution: top-k generalized eigenpairs of ``C^T C v = phi^2 S v``.
- :class:`Supervised`: ``min_V (1/n) sum_i E ||y_i - V tau(x_i)||^2``. Solution ``V = B S^{-1}``.

Every estimator fits from :class:`~linssl.augment.AugmentedMoments` (``fit_moments``); ``fit``
computes those moments from data in one streamed pass first. When ``d >> n`` and the augmentation
is diagonal Gaussian noise or a mask, ``fit`` takes the Gram path instead (:mod:`linssl.gram`: n x n
matrices only; ``method="gram"``, or ``"auto"`` when ``d > 2 n``). Following scikit-learn,
``__init__`` only stores parameters, validation happens in ``fit``, and learned state ends in ``_``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from linssl import gram, linalg
from linssl._input import as_float, check_finite, require_real
from linssl._streaming import float_dtype
from linssl.augment import Augmentation, AugmentedMoments, Gaussian

__all__ = ["JointEmbedding", "Reconstruction", "Supervised", "FitAll", "fit_all", "fit_batch", "estimator_for"]

_NO_AUGMENTATION = Gaussian(0.0)


def _resolve_augmentation(fit_argument, parameter) -> Augmentation:
    augmentation = fit_argument if fit_argument is not None else parameter
    if augmentation is None:
        return _NO_AUGMENTATION
    if not isinstance(augmentation, Augmentation):
        raise TypeError(
            f"augmentation must be a linssl.augment augmentation (Gaussian, Mask, Compose, Custom); "
            f"got {type(augmentation).__name__}"
        )
    return augmentation


def _checked_rows(estimator, X, *, reset: bool) -> np.ndarray:
    """In-memory data under linssl's input policy (:mod:`linssl._input`), then scikit-learn's checks.

    Real dtypes only (complex data and non-numbers are refused naming the dtype, before
    scikit-learn would print the array), 2-D, at least one row and one feature, and (``reset``
    False) the fitted number of features. Returns float32 or float64, (n, d). NaN and Inf are not
    looked for here: the accumulator reading the data names the first one's row and column.
    """
    if not hasattr(X, "toarray"):  # scipy.sparse is refused by validate_data, in its own words
        if hasattr(X, "dtypes") and not hasattr(X, "dtype"):  # a DataFrame: keep its feature names
            for dtype in set(X.dtypes):
                require_real(dtype, "X")
        else:
            X = X if isinstance(X, np.ndarray) else np.asarray(X)
            X = as_float(X, float_dtype(X.dtype), "X")  # float32 stays float32, other dtypes become float64
            if X.ndim != 2:
                raise ValueError(
                    f"X must be 2-D (n_samples, n_features); got an array with shape {X.shape}. Reshape your "
                    "data: X.reshape(-1, 1) for a single feature, X.reshape(1, -1) for a single sample"
                )
    return validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False)


def _as_float_rows(estimator, X) -> np.ndarray:
    """Validate new data for a fitted estimator: 2-D, finite, with the fitted number of features."""
    X = _checked_rows(estimator, X, reset=False)
    check_finite(X, "X")
    return X


def _in_memory(X) -> bool:
    """True for data validated up front; memory maps, chunk iterators and Dask arrays are streamed
    and checked chunk by chunk instead (reading a file twice to validate it would double the I/O)."""
    if isinstance(X, np.memmap) or hasattr(X, "dask"):
        return False
    return isinstance(X, (np.ndarray, list)) or hasattr(X, "__array__") or hasattr(X, "toarray")


class _MomentEstimator(BaseEstimator):
    """Shared plumbing: data -> augmented moments -> closed form."""

    def fit(self, X, y=None, augmentation: Optional[Augmentation] = None, *, progress: Optional[bool] = None):
        """Fit the exact optimum on data ``X`` under ``augmentation``.

        Parameters
        ----------
        X : array_like of shape (n, d), np.memmap, dask.array.Array, or an iterable of chunks
            Any real dtype; streamed through the Rust moment accumulator in chunks, never
            converted or copied whole (see :func:`linssl.moments`; a Dask array is reduced on its
            cluster).
        y : array_like, shape (n,) or (n, l), optional
            Targets (required by :class:`Supervised`, ignored by the others).
        augmentation : linssl augmentation, optional
            Overrides the ``augmentation`` parameter; ``None`` for both means no augmentation.
        progress : bool, optional
            Progress bar over the data; default: only for passes over more than 1e8 elements.

        Returns
        -------
        self
        """
        aug = _resolve_augmentation(augmentation, self.augmentation)
        if _in_memory(X):
            X = _checked_rows(self, X, reset=True)
        targets = y if self._uses_targets else None
        if self._takes_gram_path(X, aug):
            # Blocks of columns are read and converted one at a time: no cast of the whole of X.
            self._adopt(self._solve_gram(X, targets, aug))
            self.n_features_in_ = int(X.shape[1])
            return self
        if _shape(X) is not None:
            gram.check_dense_fits(_shape(X)[1])
        return self.fit_moments(aug.moments(X, targets, dtype=self.dtype, progress=progress))

    def _takes_gram_path(self, X, aug: Augmentation) -> bool:
        """``method="gram"``, or ``"auto"`` with a NumPy array (or memory map) for which
        :func:`linssl.gram.prefer_gram` holds (Dask arrays stay on their cluster: the moment path)."""
        if self.method not in self._METHODS:
            raise ValueError(f"method must be one of {self._METHODS}; got {self.method!r}")
        if self.method == "gram":
            return True
        shape = _shape(X)
        if self.method != "auto" or shape is None or not isinstance(X, np.ndarray):
            return False
        k = self._k(shape[1]) if hasattr(self, "n_components") else None
        return gram.prefer_gram(shape[0], shape[1], aug, k, ridge=float(self.ridge))

    def _check_not_gram(self) -> None:
        if self.method == "gram":
            raise ValueError(
                "method='gram' fits from the data (fit(X)), not from moments: d x d moments are what the "
                "Gram path avoids. Use method='auto' or 'dense' with fit_moments"
            )

    def fit_moments(self, moments: AugmentedMoments):
        """Fit from precomputed moments (see :meth:`linssl.augment.Augmentation.moments`)."""
        if not isinstance(moments, AugmentedMoments):
            raise TypeError(f"fit_moments expects linssl.AugmentedMoments; got {type(moments).__name__}")
        self._check_not_gram()
        self._solve(moments)
        self.n_features_in_ = moments.d
        return self

    def score(self, X, y=None, augmentation: Optional[Augmentation] = None) -> float:
        """Negative objective of the fitted model on data ``X`` under ``augmentation``.

        Computed exactly from the moments of ``X`` (no sampling). Higher is better, as in scikit-learn.
        """
        check_is_fitted(self)
        aug = _resolve_augmentation(augmentation, self.augmentation)
        if _in_memory(X):
            X = _checked_rows(self, X, reset=False)
        return -self.objective(aug.moments(X, y if self._uses_targets else None))

    _uses_targets = False
    _METHODS = ("auto", "dense", "iterative", "gram")

    def _k(self, d: int) -> int:
        return d if getattr(self, "n_components", None) is None else self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags


def _shape(X) -> Optional[tuple]:
    """``(n, d)`` of an array (ndarray, memory map, Dask array), None for an iterable of chunks."""
    shape = getattr(X, "shape", None)
    return tuple(int(v) for v in shape) if shape is not None and len(shape) == 2 else None


class _ProjectionEstimator(TransformerMixin, _MomentEstimator):
    """Shared parameters of the two representation-learning paradigms (k-dimensional linear maps)."""

    def __init__(self, n_components=None, *, augmentation=None, ridge=0.0, method="auto", dtype=None):
        self.n_components = n_components
        self.augmentation = augmentation
        self.ridge = ridge
        self.method = method
        self.dtype = dtype

    def transform(self, X) -> np.ndarray:
        """Represent ``X`` (n, d) -> (n, k) with ``components_``."""
        check_is_fitted(self)
        return _as_float_rows(self, X) @ self.components_.T


class JointEmbedding(_ProjectionEstimator):
    """Optimal linear joint embedding (VICReg-like): ``W*`` = top-k generalized eigenvectors of ``(G, S)``.

    Parameters
    ----------
    n_components : int, optional
        Embedding dimension ``k``; defaults to ``d``.
    augmentation : linssl augmentation, optional
        Default augmentation for :meth:`fit` and :meth:`score`.
    ridge : float, default 0.0
        Adds ``ridge * trace(S) / d * I`` to ``S`` (use when ``S`` is singular).
    method : {"auto", "dense", "iterative", "gram"}
        ``"dense"`` / ``"iterative"``: d x d moments and that generalized eigensolver (see
        :func:`linssl.linalg.eigh_generalized`). ``"gram"``: n x n Gram matrices, no d x d matrix
        (:mod:`linssl.gram`; Gaussian noise with a diagonal or low-rank-plus-diagonal covariance,
        Mask, or Compose of them; from data only, not ``fit_moments``). ``"auto"`` takes the Gram
        path when :func:`linssl.gram.prefer_gram` holds (``X`` is a NumPy array, the augmentation is
        supported with a positive diagonal part, ``d > 2 (n + s)`` and ``k <= n + s``, with ``s``
        the rank of low-rank noise) and lets the eigensolver choose otherwise. A dense fit whose
        d x d matrices cannot fit in the available memory is refused with a ``MemoryError``.
    dtype : {None, np.float32, np.float64}
        Precision of the products over the data: chunks are converted to it one at a time, never
        the whole of ``X``. ``np.float32`` halves the memory traffic and doubles the SIMD width;
        sums are kept in float64 and the eigen-solves run in float64 either way. Measured
        against float64 on the paper's experiment (``benchmarks/bench_float32.py``; data rounded
        to float32 included): moments within 3e-8 (synthetic, n = 1e5) to 2.4e-7 (digits)
        relative, eigenvalues within 7e-7, losses within 1.2e-8, subspace distance below 2e-6.
        Default: float32 for native float32 data, float64 otherwise.

    Attributes
    ----------
    components_ : ndarray, shape (k, d)
        ``W``, with ``W S W^T = I``.
    eigenvalues_ : ndarray, shape (k,)
        ``omega``, descending, in ``[0, 1]``.
    loss_ : float
        The optimal objective ``2 (k - sum(omega))``.
    n_features_in_ : int
    """

    def _solve(self, m: AugmentedMoments) -> None:
        self._adopt(linalg.joint_embedding(m.S, m.G, self._k(m.d), ridge=self.ridge, method=self.method))

    def _solve_gram(self, X, y, aug: Augmentation):
        g = gram.gram_moments(X, aug, ridge=self.ridge, reconstruction=False)
        return gram.joint_embedding(g, self._k(g.d))

    @staticmethod
    def _problem(m: AugmentedMoments):
        return (m.S, m.G)

    def _adopt(self, solution) -> None:
        omega, W, loss = solution
        self.components_, self.eigenvalues_, self.loss_ = W, omega, float(loss)

    def objective(self, m: AugmentedMoments) -> float:
        """``(1/n) sum_i E ||W tau1(x_i) - W tau2(x_i)||^2 = 2 tr(W Sigma W^T)`` under moments ``m``."""
        W = self.components_
        return float(2.0 * np.sum((W @ m.Sigma) * W))


class Reconstruction(_ProjectionEstimator):
    """Optimal linear reconstruction (denoising / masked auto-encoder): ``E* , D*`` from ``(C^T C, S)``.

    Parameters are those of :class:`JointEmbedding`.

    Attributes
    ----------
    encoder_ : ndarray, shape (k, d)
        ``E`` (``E S E^T = I``; the solution is unique up to an invertible ``T``: ``T E``, ``D T^{-1}``).
    decoder_ : ndarray, shape (d, k)
        ``D = C E^T``.
    components_ : ndarray, shape (k, d)
        Same as ``encoder_``.
    singular_values_ : ndarray, shape (k,)
        ``phi``, descending (singular values of ``C S^{-1/2}``).
    loss_ : float
        The optimal objective ``||X||_F^2 / n - sum(phi^2)``.
    n_features_in_ : int
    """

    def _solve(self, m: AugmentedMoments) -> None:
        self._adopt(linalg.reconstruction(m.S, m.C, m.trace_xx, self._k(m.d), ridge=self.ridge, method=self.method))

    def _solve_gram(self, X, y, aug: Augmentation):
        g = gram.gram_moments(X, aug, ridge=self.ridge, reconstruction=True)
        return gram.reconstruction(g, self._k(g.d))

    @staticmethod
    def _problem(m: AugmentedMoments):
        return (m.S, m.C, m.trace_xx)

    def _adopt(self, solution) -> None:
        phi2, E, D, loss = solution
        self.encoder_, self.decoder_, self.loss_ = E, D, float(loss)
        self.components_ = E
        self.singular_values_ = np.sqrt(np.maximum(phi2, 0.0))

    def objective(self, m: AugmentedMoments) -> float:
        """``(1/n) sum_i E ||x_i - D E tau(x_i)||^2`` under moments ``m``."""
        A = self.decoder_ @ self.encoder_  # d x d map
        return float(m.trace_xx - 2.0 * np.sum(A * m.C) + np.sum((A @ m.S) * A))

    def inverse_transform(self, Z) -> np.ndarray:
        """Decode codes ``Z`` (n, k) -> reconstructions (n, d)."""
        check_is_fitted(self)
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.decoder_.shape[1]:
            raise ValueError(f"Z must have shape (n, {self.decoder_.shape[1]}); got {Z.shape}")
        return Z @ self.decoder_.T


class Supervised(_MomentEstimator):
    """Optimal linear regression under augmentation: ``V* = (Y^T Xbar / n) S^{-1}``.

    Equivalent to ridge regression with Tikhonov matrix ``Sigma`` (paper.md). No intercept.

    Parameters
    ----------
    augmentation, ridge, dtype
        As for :class:`JointEmbedding`.
    method : {"auto", "dense", "gram"}
        As for :class:`JointEmbedding` (``"gram"``: kernel ridge regression with the n x n Gram
        matrix, no d x d matrix).

    Attributes
    ----------
    coef_ : ndarray, shape (l, d), or (d,) when fitted on 1-D ``y``
        ``V``.
    loss_ : float
        The optimal objective ``||Y||_F^2 / n - tr(B S^{-1} B^T)``.
    n_features_in_ : int
    """

    _uses_targets = True
    _METHODS = ("auto", "dense", "gram")

    def __init__(self, *, augmentation=None, ridge=0.0, method="auto", dtype=None):
        self.augmentation = augmentation
        self.ridge = ridge
        self.method = method
        self.dtype = dtype

    def fit(self, X, y=None, augmentation: Optional[Augmentation] = None, *, progress: Optional[bool] = None):
        if y is None and (isinstance(X, np.ndarray) or hasattr(X, "__array__")):
            raise ValueError("Supervised.fit needs targets y (shape (n,) or (n, l))")
        self._y_1d = y is not None and np.ndim(y) == 1
        return super().fit(X, y, augmentation, progress=progress)

    def _solve(self, m: AugmentedMoments) -> None:
        if self.method not in self._METHODS:
            raise ValueError(f"method must be one of {self._METHODS}; got {self.method!r}")
        self._adopt(linalg.supervised(m.S, m.B, m.trace_yy, ridge=self.ridge))

    def _solve_gram(self, X, y, aug: Augmentation):
        return gram.supervised(gram.gram_moments(X, aug, y, ridge=self.ridge, reconstruction=False))

    @staticmethod
    def _problem(m: AugmentedMoments):
        if m.B is None or m.trace_yy is None:
            raise ValueError("these moments carry no targets; compute them with y (augmentation.moments(X, y))")
        return (m.S, m.B, m.trace_yy)

    def _adopt(self, solution) -> None:
        V, loss = solution
        self.coef_ = V[0] if getattr(self, "_y_1d", False) else V
        self.loss_ = float(loss)

    def objective(self, m: AugmentedMoments) -> float:
        """``(1/n) sum_i E ||y_i - V tau(x_i)||^2`` under moments ``m`` (which must carry targets)."""
        if m.B is None:
            raise ValueError("these moments carry no targets; pass y")
        V = np.atleast_2d(self.coef_)
        return float(m.trace_yy - 2.0 * np.sum(V * m.B) + np.sum((V @ m.S) * V))

    def predict(self, X) -> np.ndarray:
        """``X V^T``: shape (n, l), or (n,) when fitted on 1-D targets."""
        check_is_fitted(self)
        return _as_float_rows(self, X) @ np.asarray(self.coef_).T

    def transform(self, X) -> np.ndarray:
        """The supervised representation ``X V^T``, shape (n, l) (for probes and comparisons)."""
        check_is_fitted(self)
        return _as_float_rows(self, X) @ np.atleast_2d(self.coef_).T


class FitAll(NamedTuple):
    """The three fitted paradigms (``supervised`` is None when no targets were given)."""

    joint_embedding: JointEmbedding
    reconstruction: Reconstruction
    supervised: Optional[Supervised]


def fit_all(
    X,
    augmentation: Augmentation,
    k: int,
    y=None,
    *,
    ridge: float = 0.0,
    method: str = "auto",
    dtype=None,
    progress: Optional[bool] = None,
) -> FitAll:
    """Fit all three paradigms from one pass over ``X``.

    Parameters
    ----------
    X : array_like of shape (n, d), np.memmap, dask.array.Array, or an iterable of chunks
        Any real dtype, streamed in chunks (see :func:`linssl.moments`).
    augmentation : linssl augmentation
    k : int
        Representation size of joint embedding and reconstruction.
    y : array_like, shape (n,) or (n, l), optional
        Targets; the supervised model is fitted only when given.
    ridge, method
        As for :class:`JointEmbedding` (on the Gram path all three share one pass and one
        eigendecomposition).
    dtype : {None, np.float32, np.float64}
        Precision of the products over the data (see :class:`JointEmbedding`).
    progress : bool, optional
        Progress bar over the data; default: only for passes over more than 1e8 elements.

    Returns
    -------
    FitAll
        ``(joint_embedding, reconstruction, supervised)``.
    """
    aug = _resolve_augmentation(augmentation, None)
    je = JointEmbedding(k, augmentation=aug, ridge=ridge, method=method)
    rc = Reconstruction(k, augmentation=aug, ridge=ridge, method=method)
    sl = None
    if y is not None:
        sl = Supervised(augmentation=aug, ridge=ridge, method=method if method in Supervised._METHODS else "auto")
        sl._y_1d = np.ndim(y) == 1
    fitted = [est for est in (je, rc, sl) if est is not None]
    if je._takes_gram_path(X, aug):
        g = gram.gram_moments(X, aug, y, ridge=ridge, reconstruction=True)
        # One eigendecomposition of K (cached in g) serves all three.
        je._adopt(gram.joint_embedding(g, k))
        rc._adopt(gram.reconstruction(g, k))
        if sl is not None:
            sl._adopt(gram.supervised(g))
        for est in fitted:
            est.n_features_in_ = g.d
        return FitAll(je, rc, sl)
    if _shape(X) is not None:
        gram.check_dense_fits(_shape(X)[1])
    moments = aug.moments(X, y, dtype=dtype, progress=progress)
    for est in fitted:
        est.fit_moments(moments)
    return FitAll(je, rc, sl)


_BATCH_SOLVERS = {
    "joint_embedding": lambda problems, k, ridge, method: linalg.joint_embedding_batch(problems, k, ridge=ridge, method=method),
    "reconstruction": lambda problems, k, ridge, method: linalg.reconstruction_batch(problems, k, ridge=ridge, method=method),
    "supervised": lambda problems, k, ridge, method: linalg.supervised_batch(problems, ridge=ridge),
}


def fit_batch(method: str, moments, *, n_components: Optional[int] = None, ridge: float = 0.0, solver: str = "auto") -> list:
    """Fit one paradigm on many moment sets at once (one parallel batch in Rust).

    Parameters
    ----------
    method : str
        Paradigm name (``"supervised"``, ``"joint_embedding"``, ``"reconstruction"``).
    moments : sequence of AugmentedMoments
        All with the same ``d``.
    n_components : int, optional
        ``k`` (ignored by the supervised model).

    Returns
    -------
    list of fitted estimators, in the order of ``moments``.
    """
    from linssl.theory import canonical_method

    method = canonical_method(method)
    moments = list(moments)
    params = {"ridge": ridge} if method == "supervised" else {"ridge": ridge, "method": solver}
    template = estimator_for(method, n_components=n_components, **params)
    k = template._k(moments[0].d) if moments else 0
    solutions = _BATCH_SOLVERS[method]([template._problem(m) for m in moments], k, ridge, solver)
    fitted = []
    for m, solution in zip(moments, solutions):
        est = estimator_for(method, n_components=n_components, **params)
        est._adopt(solution)
        est.n_features_in_ = m.d
        fitted.append(est)
    return fitted


def estimator_for(paradigm: str, *, n_components: Optional[int] = None, **params):
    """A fresh estimator for a paradigm name (``"supervised"``, ``"joint_embedding"``, ``"reconstruction"``)."""
    from linssl.theory import canonical_method

    paradigm = canonical_method(paradigm)
    if paradigm == "supervised":
        return Supervised(**params)
    cls = JointEmbedding if paradigm == "joint_embedding" else Reconstruction
    return cls(n_components, **params)
