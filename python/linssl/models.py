"""The three paradigms as scikit-learn estimators: exact optimal linear models from moments.

- :class:`JointEmbedding`: ``min_W (1/n) sum_i E ||W tau1(x_i) - W tau2(x_i)||^2`` s.t. ``W S W^T = I``
  (VICReg-like). Solution: top-k generalized eigenvectors of ``G w = omega S w``.
- :class:`Reconstruction`: ``min_{E, D} (1/n) sum_i E ||x_i - D E tau(x_i)||^2`` (denoising / masked
  auto-encoders). Solution: top-k generalized eigenpairs of ``C^T C v = phi^2 S v``.
- :class:`Supervised`: ``min_V (1/n) sum_i E ||y_i - V tau(x_i)||^2``. Solution ``V = B S^{-1}``.

The plumbing they share (data -> moments -> closed form, the Gram path for ``d >> n``) is in
:mod:`linssl._estimator`; fitting several paradigms or moment sets at once in :mod:`linssl.fitting`.
"""

from __future__ import annotations

from numbers import Integral
from typing import Optional

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, RegressorMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from linssl import gram, linalg
from linssl._estimator import MomentEstimator, new_rows
from linssl._input import as_float, check_finite
from linssl.augment import Augmentation, AugmentedMoments

__all__ = ["JointEmbedding", "Reconstruction", "Supervised"]

_PROJECTION_SOLVERS = ("auto", "dense", "iterative", "gram")
_SUPERVISED_SOLVERS = ("auto", "dense", "gram")


class _Projection(ClassNamePrefixFeaturesOutMixin, TransformerMixin, MomentEstimator):
    """Shared parameters of the two representation-learning paradigms (k-dimensional linear maps)."""

    _parameter_constraints: dict = {
        **MomentEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "solver": [StrOptions(set(_PROJECTION_SOLVERS))],
    }

    def __init__(self, n_components=None, *, augmentation=None, ridge=0.0, solver="auto", dtype=None):
        self.n_components = n_components
        self.augmentation = augmentation
        self.ridge = ridge
        self.solver = solver
        self.dtype = dtype

    def transform(self, X) -> np.ndarray:
        """Represent ``X`` (n, d) -> (n, k) with ``components_``.

        Parameters
        ----------
        X : array_like, shape (n, d)
            Real, finite data with the fitted number of features.

        Returns
        -------
        ndarray, shape (n, k)
            ``X W^T`` (``W = components_``).

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((200, 5))
        >>> je = linssl.JointEmbedding(2, augmentation=linssl.Mask(0.8)).fit(X)
        >>> Z = je.transform(X)
        >>> Z.shape, bool(np.allclose(Z, X @ je.components_.T))
        ((200, 2), True)
        """
        check_is_fitted(self)
        return new_rows(self, X) @ self.components_.T

    def score(self, X, y=None, augmentation: Optional[Augmentation] = None) -> float:
        """Negative objective of the fitted model on data ``X`` under ``augmentation`` (higher is better).

        Computed exactly from the moments of ``X`` (no sampling).

        Parameters
        ----------
        X : array_like of shape (n, d), np.memmap, dask.array.Array, or an iterable of chunks
            Data with the fitted number of features.
        y : None
            Ignored (scikit-learn's signature).
        augmentation : linssl augmentation, optional
            Default: the estimator's ``augmentation`` (none if that is ``None`` too).

        Returns
        -------
        float
            ``-objective(moments_of(X, augmentation=augmentation))``; ``-loss_`` on the training
            data under the training augmentation.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((200, 5))
        >>> je = linssl.JointEmbedding(2, augmentation=linssl.Mask(0.8)).fit(X)
        >>> bool(np.isclose(je.score(X), -je.loss_)), je.score(X, augmentation=linssl.Gaussian(0.0))
        (True, 0.0)
        """
        return -self.objective(self.moments_of(X, None, augmentation))

    def _validate_params(self) -> None:
        super()._validate_params()
        if isinstance(self.n_components, bool):  # an Integral to scikit-learn's constraints
            raise TypeError(f"n_components must be an integer, not a boolean; got {self.n_components!r}")

    @property
    def _n_features_out(self) -> int:
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


class JointEmbedding(_Projection):
    """Optimal linear joint embedding (VICReg-like): ``W*`` = top-k generalized eigenvectors of ``(G, S)``.

    Parameters
    ----------
    n_components : int, optional
        Embedding dimension ``k``; defaults to ``d``.
    augmentation : linssl augmentation or a pair (first, second) of them, optional
        Default augmentation for :meth:`fit` and :meth:`score`. A pair gives the two views
        different distributions (weak / strong views, :class:`~linssl.TwoViews`): ``W`` then
        solves ``sym(G_12) w = omega Sbar w`` under ``W Sbar W^T = I``, ``Sbar = (S_1 + S_2) / 2``.
    ridge : float, default 0.0
        Adds ``ridge * trace(S) / d * I`` to ``S`` (use when ``S`` is singular).
    solver : {"auto", "dense", "iterative", "gram"}
        ``"dense"`` / ``"iterative"``: d x d moments and that generalized eigensolver (see
        :func:`linssl.linalg.eigh_generalized`). ``"gram"``: n x n Gram matrices, no d x d matrix
        (:mod:`linssl.gram`; Gaussian noise with a diagonal or low-rank-plus-diagonal covariance,
        Mask, or Compose of them; from data only, not ``fit_moments``). ``"auto"`` takes the Gram
        path when :func:`linssl.diagonal_form.prefer_gram` holds (``X`` is a NumPy array, the
        augmentation is supported with a positive diagonal part, ``d > 2 (n + s)`` and
        ``k <= n + s``, with ``s`` the rank of low-rank noise) and lets the eigensolver choose
        otherwise. A dense fit whose d x d matrices cannot fit in the available memory is refused
        with a ``MemoryError``.
    dtype : {None, np.float32, np.float64}
        Precision of the products over the data: chunks are converted to it one at a time, never
        the whole of ``X``. ``np.float32`` halves the memory traffic and doubles the SIMD width;
        sums are kept in float64 and the eigen-solves run in float64 either way (the README gives
        the accuracy measured on the paper's experiment). Default: float32 for native float32
        data, float64 otherwise.

    Attributes
    ----------
    components_ : ndarray, shape (k, d)
        ``W``, with ``W S W^T = I``.
    eigenvalues_ : ndarray, shape (k,)
        ``omega``, descending, in ``[0, 1]``.
    loss_ : float
        The optimal objective ``2 (k - sum(omega))``.
    solver_ : str
        The solver that produced the fit: ``"dense"``, ``"iterative"`` or ``"gram"``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has feature names (a DataFrame).

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((500, 6))
    >>> je = linssl.JointEmbedding(2, augmentation=linssl.Gaussian(0.5)).fit(X)
    >>> je.transform(X).shape, je.solver_
    ((500, 2), 'dense')
    """

    def _solve(self, m: AugmentedMoments):
        return linalg.joint_embedding(
            m.S, m.G, self._k(m.d), ridge=self.ridge, solver=self.solver, sigma_diag=m.sigma_diag, sigma_factor=m.sigma_factor
        )

    def _solve_gram(self, X, y, aug: Augmentation):
        g = gram.gram_moments(X, aug, ridge=self.ridge, reconstruction=False)
        return gram.joint_embedding(g, self._k(g.d))

    @staticmethod
    def _problem(m: AugmentedMoments):
        return (m.S, m.G, m.sigma_diag, m.sigma_factor)

    def _adopt(self, solution: linalg.JointEmbeddingSolution) -> None:
        self.components_, self.eigenvalues_ = solution.W, solution.omega
        self.loss_, self.solver_ = float(solution.loss), solution.solver

    def objective(self, m: AugmentedMoments) -> float:
        """``(1/n) sum_i E ||W tau1(x_i) - W tau2(x_i)||^2 = 2 tr(W Sigma W^T)`` under moments ``m``.

        Parameters
        ----------
        m : AugmentedMoments
            Moments of some data under some augmentation (e.g. from :meth:`moments_of`), with the
            fitted number of features.

        Returns
        -------
        float
            The objective of the fitted ``W`` (``components_``), ``Sigma = S - G``; equal to
            ``loss_`` under the training moments.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((200, 5))
        >>> je = linssl.JointEmbedding(2, augmentation=linssl.Mask(0.8)).fit(X)
        >>> m, W = je.moments_of(X), je.components_
        >>> bool(np.isclose(je.objective(m), 2 * np.trace(W @ (m.S - m.G) @ W.T)))
        True
        >>> bool(np.isclose(je.objective(m), je.loss_))
        True
        """
        W = self.components_
        return float(2.0 * np.sum((W @ m.Sigma) * W))


class Reconstruction(_Projection):
    """Optimal linear reconstruction (denoising / masked auto-encoder): ``E*, D*`` from ``(C^T C, S)``.

    Parameters
    ----------
    n_components : int, optional
        Code dimension ``k``; defaults to ``d``.
    augmentation : linssl augmentation, optional
        Default augmentation for :meth:`fit` and :meth:`score`.
    ridge : float, default 0.0
        Adds ``ridge * trace(S) / d * I`` to ``S`` (use when ``S`` is singular).
    solver : {"auto", "dense", "iterative", "gram"}
        As for :class:`JointEmbedding`.
    dtype : {None, np.float32, np.float64}
        Precision of the products over the data, as for :class:`JointEmbedding`.

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
    solver_ : str
        The solver that produced the fit: ``"dense"``, ``"iterative"`` or ``"gram"``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has feature names (a DataFrame).

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((500, 6))
    >>> rc = linssl.Reconstruction(2, augmentation=linssl.Mask(0.8)).fit(X)
    >>> rc.inverse_transform(rc.transform(X)).shape
    (500, 6)
    """

    def _solve(self, m: AugmentedMoments):
        return linalg.reconstruction(
            m.S, m.C, m.trace_xx, self._k(m.d), ridge=self.ridge, solver=self.solver,
            keep=m.keep, sigma_diag=m.sigma_diag, sigma_factor=m.sigma_factor,
        )

    def _solve_gram(self, X, y, aug: Augmentation):
        g = gram.gram_moments(X, aug, ridge=self.ridge, reconstruction=True)
        return gram.reconstruction(g, self._k(g.d))

    @staticmethod
    def _problem(m: AugmentedMoments):
        return (m.S, m.C, m.trace_xx, m.keep, m.sigma_diag, m.sigma_factor)

    def _adopt(self, solution: linalg.ReconstructionSolution) -> None:
        self.encoder_, self.decoder_ = solution.E, solution.D
        self.loss_, self.solver_ = float(solution.loss), solution.solver
        self.components_ = solution.E
        self.singular_values_ = np.sqrt(np.maximum(solution.phi2, 0.0))

    def objective(self, m: AugmentedMoments) -> float:
        """``(1/n) sum_i E ||x_i - D E tau(x_i)||^2`` under moments ``m``.

        Parameters
        ----------
        m : AugmentedMoments
            Moments of some data under some augmentation (e.g. from :meth:`moments_of`), with the
            fitted number of features.

        Returns
        -------
        float
            The objective of the fitted ``E, D``; equal to ``loss_`` under the training moments.

        Examples
        --------
        Without augmentation it is the mean squared reconstruction error of the data:

        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((200, 5))
        >>> rc = linssl.Reconstruction(2, augmentation=linssl.Mask(0.8)).fit(X)
        >>> bool(np.isclose(rc.objective(rc.moments_of(X)), rc.loss_))
        True
        >>> X_hat = rc.inverse_transform(rc.transform(X))
        >>> m = rc.moments_of(X, augmentation=linssl.Gaussian(0.0))
        >>> bool(np.isclose(rc.objective(m), np.mean(np.sum((X - X_hat) ** 2, axis=1))))
        True
        """
        A = self.decoder_ @ self.encoder_  # d x d map
        return float(m.trace_xx - 2.0 * np.sum(A * m.C) + np.sum((A @ m.S) * A))

    def inverse_transform(self, Z) -> np.ndarray:
        """Decode codes ``Z`` (n, k) -> reconstructions (n, d).

        Parameters
        ----------
        Z : array_like, shape (n, k)
            Real, finite codes (complex, NaN and Inf are refused as in :meth:`transform`).

        Returns
        -------
        ndarray, shape (n, d)
            ``Z D^T`` (``D = decoder_``).

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((200, 5))
        >>> rc = linssl.Reconstruction(2, augmentation=linssl.Mask(0.8)).fit(X)
        >>> X_hat = rc.inverse_transform(rc.transform(X))     # X (D E)^T
        >>> X_hat.shape, bool(np.allclose(X_hat, X @ (rc.decoder_ @ rc.encoder_).T))
        ((200, 5), True)
        """
        check_is_fitted(self)
        Z = as_float(Z, np.float64, "Z")
        k = self.decoder_.shape[1]
        if Z.ndim != 2 or Z.shape[1] != k:
            raise ValueError(f"Z must have shape (n, {k}); got {Z.shape}")
        check_finite(Z, "Z")
        return Z @ self.decoder_.T


class Supervised(RegressorMixin, MomentEstimator):
    """Optimal linear regression under augmentation: ``V* = (Y^T Xbar / n) S^{-1}``.

    Equivalent to ridge regression with Tikhonov matrix ``Sigma`` (paper.md). No intercept.
    :meth:`score` is the coefficient of determination R^2, as for every scikit-learn regressor;
    the paradigm's objective is :meth:`objective` (and ``loss_`` at the optimum).

    Parameters
    ----------
    augmentation, ridge, dtype
        As for :class:`JointEmbedding`.
    solver : {"auto", "dense", "gram"}
        As for :class:`JointEmbedding` (``"gram"``: kernel ridge regression with the n x n Gram
        matrix, no d x d matrix).

    Attributes
    ----------
    coef_ : ndarray, shape (l, d), or (d,) when fitted on 1-D ``y``
        ``V``.
    loss_ : float
        The optimal objective ``||Y||_F^2 / n - tr(B S^{-1} B^T)``.
    solver_ : str
        ``"dense"`` or ``"gram"``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has feature names (a DataFrame).

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((500, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5])
    >>> sl = linssl.Supervised().fit(X, y)
    >>> np.round(sl.coef_, 6), round(sl.score(X, y), 6)
    (array([ 1. , -2. ,  0.5]), 1.0)
    """

    _parameter_constraints: dict = {
        **MomentEstimator._parameter_constraints,
        "solver": [StrOptions(set(_SUPERVISED_SOLVERS))],
    }
    _uses_targets = True

    def __init__(self, *, augmentation=None, ridge=0.0, solver="auto", dtype=None):
        self.augmentation = augmentation
        self.ridge = ridge
        self.solver = solver
        self.dtype = dtype

    def _targets(self, X, y):
        if y is None and (isinstance(X, np.ndarray) or hasattr(X, "__array__")):
            raise ValueError("Supervised requires y to be passed, but the target y is None: pass targets of shape (n,) or (n, l)")
        self._y_1d = y is not None and np.asarray(y).ndim == 1
        return y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # one column of V per target column
        return tags

    def _solve(self, m: AugmentedMoments):
        b, trace_yy = self._problem(m)[1:]
        return linalg.supervised(m.S, b, trace_yy, ridge=self.ridge)

    def _solve_gram(self, X, y, aug: Augmentation):
        return gram.supervised(gram.gram_moments(X, aug, y, ridge=self.ridge, reconstruction=False))

    @staticmethod
    def _problem(m: AugmentedMoments):
        if m.B is None or m.trace_yy is None:
            raise ValueError("these moments carry no targets; compute them with y (augmentation.moments(X, y))")
        return (m.S, m.B, m.trace_yy)

    def _adopt(self, solution: linalg.SupervisedSolution) -> None:
        V = solution.V
        self.coef_ = V[0] if getattr(self, "_y_1d", False) else V
        self.loss_, self.solver_ = float(solution.loss), solution.solver

    def objective(self, m: AugmentedMoments) -> float:
        """``(1/n) sum_i E ||y_i - V tau(x_i)||^2`` under moments ``m`` (which must carry targets).

        Parameters
        ----------
        m : AugmentedMoments
            Moments of data and targets under some augmentation (e.g. ``moments_of(X, y)``),
            with the fitted numbers of features and targets.

        Returns
        -------
        float
            The objective of the fitted ``V`` (``coef_``); equal to ``loss_`` under the training
            moments.

        Examples
        --------
        Without augmentation it is the mean squared residual:

        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((200, 3))
        >>> y = X @ np.array([1.0, -2.0, 0.5])
        >>> sl = linssl.Supervised(augmentation=linssl.Gaussian(0.1)).fit(X, y)
        >>> bool(np.isclose(sl.objective(sl.moments_of(X, y)), sl.loss_))
        True
        >>> m = sl.moments_of(X, y, augmentation=linssl.Gaussian(0.0))
        >>> bool(np.isclose(sl.objective(m), np.mean((y - sl.predict(X)) ** 2)))
        True
        """
        if m.B is None:
            raise ValueError("these moments carry no targets; pass y")
        V = np.atleast_2d(self.coef_)
        return float(m.trace_yy - 2.0 * np.sum(V * m.B) + np.sum((V @ m.S) * V))

    def predict(self, X) -> np.ndarray:
        """``X V^T``: shape (n, l), or (n,) when fitted on 1-D targets.

        Parameters
        ----------
        X : array_like, shape (n, d)
            Real, finite data with the fitted number of features.

        Returns
        -------
        ndarray, shape (n,) or (n, l)
            The predicted targets.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((200, 3))
        >>> y = X @ np.array([1.0, -2.0, 0.5])
        >>> sl = linssl.Supervised(augmentation=linssl.Gaussian(0.1)).fit(X, y)
        >>> pred = sl.predict(X)
        >>> pred.shape, bool(np.allclose(pred, X @ sl.coef_))
        ((200,), True)
        """
        check_is_fitted(self)
        return new_rows(self, X) @ np.asarray(self.coef_).T
