"""What the three estimators share: input checks, parameters, and data -> moments -> closed form.

Following scikit-learn, ``__init__`` only stores parameters; ``fit`` validates them (declared in
``_parameter_constraints``) and the data, and learned state ends in ``_``. Every estimator fits
from :class:`~linssl.augment.AugmentedMoments` (``fit_moments``); ``fit`` computes those moments
from data in one streamed pass first, or takes the Gram path (:mod:`linssl.gram`: n x n matrices
only) when ``solver="gram"``, or ``"auto"`` and :func:`linssl.diagonal_form.prefer_gram` holds.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Optional

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from linssl._errors import LinAlgError
from linssl._input import as_float, check_finite, float_dtype, require_real
from linssl._memory import check_dense_fits
from linssl.augment import Augmentation, AugmentedMoments, Gaussian, as_views
from linssl.diagonal_form import prefer_gram

__all__ = ["MomentEstimator", "resolve_augmentation", "checked_rows", "new_rows", "data_shape"]

#: The identity augmentation (no noise), used when none is given.
NO_AUGMENTATION = Gaussian(0.0)

#: Precisions of the products over the data.
_DTYPES = [None, StrOptions({"float32", "float64"}), type, np.dtype]


def resolve_augmentation(fit_argument, parameter) -> Augmentation:
    """The augmentation of a fit: ``fit``'s argument, else the estimator's, else none."""
    augmentation = fit_argument if fit_argument is not None else parameter
    if augmentation is None:
        return NO_AUGMENTATION
    # A pair (first, second) is two view distributions (linssl.augment.views): asymmetric joint embedding.
    augmentation = as_views(augmentation)
    if not isinstance(augmentation, Augmentation):
        raise TypeError(
            f"augmentation must be a linssl.augment augmentation (Gaussian, Mask, Compose, Custom, ...) or a pair "
            f"(first, second) of them; got {type(augmentation).__name__}"
        )
    return augmentation


def checked_rows(estimator, X, *, reset: bool) -> np.ndarray:
    """In-memory data under linssl's input policy (:mod:`linssl._input`), then scikit-learn's checks.

    Real dtypes only (complex data and non-numbers are refused naming the dtype, before
    scikit-learn would print the array; pandas nullable dtypes without missing values are read as
    floats), 2-D, at least one row and one feature, and (``reset`` False) the fitted number of
    features. Returns float32 or float64, (n, d). NaN and Inf are not looked for here: the
    accumulator reading the data names the first one's row and column.
    """
    if not hasattr(X, "toarray"):  # scipy.sparse is refused by validate_data, in its own words
        if hasattr(X, "dtypes") and not hasattr(X, "dtype"):  # a DataFrame: keep its feature names
            for dtype in set(X.dtypes):
                require_real(getattr(dtype, "numpy_dtype", dtype), "X")
        else:
            X = X if isinstance(X, np.ndarray) else np.asarray(X)
            X = as_float(X, float_dtype(X.dtype), "X")  # float32 stays float32, other dtypes become float64
            if X.ndim != 2:
                raise ValueError(
                    f"X must be 2-D (n_samples, n_features); got an array with shape {X.shape}. Reshape your "
                    "data: X.reshape(-1, 1) for a single feature, X.reshape(1, -1) for a single sample"
                )
    return validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False)


def new_rows(estimator, X) -> np.ndarray:
    """Validate new data for a fitted estimator: 2-D, finite, with the fitted number of features."""
    X = checked_rows(estimator, X, reset=False)
    check_finite(X, "X")
    return X


def in_memory(X) -> bool:
    """True for data validated up front; memory maps, chunk iterators and Dask arrays are streamed
    and checked chunk by chunk instead (reading a file twice to validate it would double the I/O)."""
    if isinstance(X, np.memmap) or hasattr(X, "dask"):
        return False
    return isinstance(X, (np.ndarray, list)) or hasattr(X, "__array__") or hasattr(X, "toarray")


def data_shape(X) -> Optional[tuple]:
    """``(n, d)`` of an array (ndarray, memory map, Dask array), None for an iterable of chunks."""
    shape = getattr(X, "shape", None)
    return tuple(int(v) for v in shape) if shape is not None and len(shape) == 2 else None


class MomentEstimator(BaseEstimator):
    """Shared plumbing: data -> augmented moments -> closed form.

    Subclasses set ``_uses_targets`` and ``_SOLVERS`` and implement ``_solve(moments)`` (returning a
    :mod:`linssl.linalg` solution), ``_solve_gram(X, y, augmentation)``, ``_problem(moments)`` (the
    arguments of the batched solver) and ``_adopt(solution)`` (the fitted attributes).
    """

    _parameter_constraints: dict = {
        "augmentation": [Augmentation, tuple, None],
        "ridge": [Interval(Real, 0, None, closed="left")],
        "dtype": _DTYPES,
    }
    _uses_targets = False
    _SOLVERS: tuple = ("auto", "dense", "iterative", "gram")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, augmentation: Optional[Augmentation] = None, *, progress: Optional[bool] = None):
        """Fit the exact optimum on data ``X`` under ``augmentation``.

        Parameters
        ----------
        X : array_like of shape (n, d), np.memmap, dask.array.Array, or an iterable of chunks
            Any real dtype; streamed through the Rust moment accumulator in chunks, never
            converted or copied whole (see :func:`linssl.moments`; a Dask array is reduced on its
            cluster).
        y : array_like, shape (n,) or (n, l), optional
            Targets (required by :class:`~linssl.Supervised`, ignored by the others).
        augmentation : linssl augmentation, optional
            Overrides the ``augmentation`` parameter; ``None`` for both means no augmentation.
        progress : bool, optional
            Progress bar over the data; default: only for passes over more than 1e8 elements.

        Returns
        -------
        self

        Examples
        --------
        The joint embedding solves ``G w = omega S w`` with ``W S W^T = I``:

        >>> import numpy as np, scipy.linalg, linssl
        >>> X = np.random.default_rng(0).standard_normal((200, 5))
        >>> je = linssl.JointEmbedding(2).fit(X, augmentation=linssl.Mask(0.8))
        >>> m = linssl.Mask(0.8).moments(X)
        >>> omega = scipy.linalg.eigh(m.G, m.S, eigvals_only=True)[::-1][:2]
        >>> W = je.components_
        >>> bool(np.allclose(je.eigenvalues_, omega)), bool(np.allclose(W @ m.S @ W.T, np.eye(2)))
        (True, True)
        """
        aug = resolve_augmentation(augmentation, self.augmentation)
        if in_memory(X):
            X = checked_rows(self, X, reset=True)
        targets = self._targets(X, y)
        if self._takes_gram_path(X, aug):
            # Blocks of columns are read and converted one at a time: no cast of the whole of X.
            self._adopt(self._solve_gram(X, targets, aug))
            self.n_features_in_ = int(X.shape[1])
            return self
        shape = data_shape(X)
        if shape is not None:
            check_dense_fits(shape[1])
        return self._fit_moments(aug.moments(X, targets, dtype=self.dtype, progress=progress))

    def _targets(self, X, y):
        return None

    def _takes_gram_path(self, X, aug: Augmentation) -> bool:
        """``solver="gram"``, or ``"auto"`` with a NumPy array (or memory map) for which
        :func:`linssl.diagonal_form.prefer_gram` holds (Dask arrays stay on their cluster)."""
        if self.solver == "gram":
            return True
        shape = data_shape(X)
        if self.solver != "auto" or shape is None or not isinstance(X, np.ndarray):
            return False
        k = self._k(shape[1]) if hasattr(self, "n_components") else None
        return prefer_gram(shape[0], shape[1], aug, k, ridge=float(self.ridge))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_moments(self, moments: AugmentedMoments):
        """Fit from precomputed moments (see :meth:`linssl.augment.Augmentation.moments`).

        Parameters
        ----------
        moments : AugmentedMoments
            Augmented moments of the training data (with targets for :class:`~linssl.Supervised`),
            e.g. from ``augmentation.moments(X)`` or a model's population moments.

        Returns
        -------
        self

        Examples
        --------
        The same fit as ``fit(X, augmentation=aug)``, without another pass over the data:

        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((200, 5))
        >>> je = linssl.JointEmbedding(2).fit_moments(linssl.Mask(0.8).moments(X))
        >>> ref = linssl.JointEmbedding(2).fit(X, augmentation=linssl.Mask(0.8))
        >>> bool(np.allclose(je.eigenvalues_, ref.eigenvalues_)), bool(np.isclose(je.loss_, ref.loss_))
        (True, True)
        """
        return self._fit_moments(moments)

    def _fit_moments(self, moments: AugmentedMoments):
        if not isinstance(moments, AugmentedMoments):
            raise TypeError(f"fit_moments expects linssl.AugmentedMoments; got {type(moments).__name__}")
        if self.solver == "gram":
            raise ValueError(
                "solver='gram' fits from the data (fit(X)), not from moments: d x d moments are what the "
                "Gram path avoids. Use solver='auto' or 'dense' with fit_moments"
            )
        try:
            solution = self._solve(moments)
        except LinAlgError as err:
            if moments.n is None or moments.n >= moments.d:
                raise
            # The usual cause: without noise in every direction, S has rank at most n.
            raise LinAlgError(
                f"{err}. The data have n_samples = {moments.n} < n_features = {moments.d}, so X^T X / n has "
                "rank at most n_samples: use an augmentation that adds noise in every direction, or ridge > 0"
            ) from None
        self._adopt(solution)
        self.n_features_in_ = moments.d
        return self

    def moments_of(self, X, y=None, augmentation: Optional[Augmentation] = None) -> AugmentedMoments:
        """The moments of data ``X`` under ``augmentation`` (default: the estimator's), checked
        against the fitted number of features; what :meth:`objective` is evaluated on.

        Parameters
        ----------
        X : array_like of shape (n, d), np.memmap, dask.array.Array, or an iterable of chunks
            As for :meth:`fit`, with the fitted number of features ``d``.
        y : array_like, shape (n,) or (n, l), optional
            Targets (read by :class:`~linssl.Supervised` only, ignored by the others).
        augmentation : linssl augmentation, optional
            Overrides the ``augmentation`` parameter; ``None`` for both means no augmentation.

        Returns
        -------
        AugmentedMoments
            ``augmentation.moments(X, y)``.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> X = np.random.default_rng(0).standard_normal((200, 5))
        >>> je = linssl.JointEmbedding(2, augmentation=linssl.Mask(0.8)).fit(X)
        >>> m = je.moments_of(X)
        >>> m.S.shape, bool(np.allclose(m.S, linssl.Mask(0.8).moments(X).S))
        ((5, 5), True)
        >>> bool(np.isclose(je.objective(m), je.loss_))     # the fitted optimum
        True
        """
        check_is_fitted(self)
        aug = resolve_augmentation(augmentation, self.augmentation)
        if in_memory(X):
            X = checked_rows(self, X, reset=False)
        return aug.moments(X, y if self._uses_targets else None)

    def _k(self, d: int) -> int:
        return d if getattr(self, "n_components", None) is None else int(self.n_components)

    def _adopt(self, solution: Any) -> None:
        raise NotImplementedError

    def _solve(self, moments: AugmentedMoments) -> Any:
        raise NotImplementedError

    def _solve_gram(self, X, y, aug: Augmentation) -> Any:
        raise NotImplementedError

    def objective(self, m: AugmentedMoments) -> float:
        """The paradigm's objective of the fitted parameters under moments ``m``."""
        raise NotImplementedError
