"""Fitting several paradigms, or one paradigm on many moment sets, at once.

- :func:`fit_all`: the three paradigms from one pass over the data (one Gram eigendecomposition
  on the Gram path).
- :func:`fit_batch`: one paradigm on many :class:`~linssl.augment.AugmentedMoments` (one
  parallel batch in Rust): the inner loop of scaling studies.
- :func:`estimator_for`: a fresh estimator for a paradigm name.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from linssl import gram, linalg
from linssl._estimator import data_shape, resolve_augmentation
from linssl._memory import check_dense_fits
from linssl.augment import Augmentation
from linssl.models import JointEmbedding, Reconstruction, Supervised
from linssl.paradigms import canonical_paradigm

__all__ = ["FitAll", "estimator_for", "fit_all", "fit_batch"]


class FitAll(NamedTuple):
    """The three fitted paradigms, as returned by :func:`fit_all`.

    A named tuple, so it also unpacks as ``je, rc, sl = fit_all(...)``.

    Parameters
    ----------
    joint_embedding : JointEmbedding
        Fitted joint embedding, ``components_`` of shape (k, d).
    reconstruction : Reconstruction
        Fitted auto-encoder, ``components_`` of shape (k, d).
    supervised : Supervised or None
        Fitted supervised model; None when :func:`fit_all` was given no targets.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((100, 6))
    >>> fits = linssl.fit_all(X, linssl.Gaussian(0.1), k=2)
    >>> fits.joint_embedding.components_.shape, fits.reconstruction.components_.shape
    ((2, 6), (2, 6))
    >>> fits.supervised is None
    True

    Each model is the one its estimator fits alone:

    >>> je = linssl.JointEmbedding(2, augmentation=linssl.Gaussian(0.1)).fit(X)
    >>> bool(np.allclose(fits.joint_embedding.eigenvalues_, je.eigenvalues_))
    True
    """

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
    solver: str = "auto",
    dtype=None,
    progress: Optional[bool] = None,
) -> FitAll:
    """Fit all three paradigms from one pass over ``X``.

    Parameters
    ----------
    X : array_like of shape (n, d), np.memmap, dask.array.Array, or an iterable of chunks
        Any real dtype, streamed in chunks (see :func:`linssl.moments`).
    augmentation : linssl augmentation, or a pair (first, second) of them
        A pair: joint embedding with two view distributions (:class:`~linssl.TwoViews`);
        reconstruction and supervised models then see a view of either with probability 1/2.
    k : int
        Representation size of joint embedding and reconstruction.
    y : array_like, shape (n,) or (n, l), optional
        Targets; the supervised model is fitted only when given.
    ridge, solver
        As for :class:`~linssl.JointEmbedding` (on the Gram path all three share one pass and one
        eigendecomposition; ``"iterative"`` applies to the two eigenproblems, the supervised model
        is then solved directly).
    dtype : {None, np.float32, np.float64}
        Precision of the products over the data (see :class:`~linssl.JointEmbedding`).
    progress : bool, optional
        Progress bar over the data; default: only for passes over more than 1e8 elements.

    Returns
    -------
    FitAll
        ``(joint_embedding, reconstruction, supervised)``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((300, 5))
    >>> je, rc, sl = linssl.fit_all(X, linssl.Gaussian(0.1), k=2, y=X[:, 0])
    >>> round(sl.score(X, X[:, 0]), 3)  # noise of variance 0.1 acts as ridge: R^2 below 1
    0.99
    """
    aug = resolve_augmentation(augmentation, None)
    je = JointEmbedding(k, augmentation=aug, ridge=ridge, solver=solver)
    rc = Reconstruction(k, augmentation=aug, ridge=ridge, solver=solver)
    sl = None
    if y is not None:
        sl = Supervised(augmentation=aug, ridge=ridge, solver="auto" if solver == "iterative" else solver)
        sl._y_1d = np.ndim(y) == 1
    fitted = [est for est in (je, rc, sl) if est is not None]
    for est in fitted:
        est._validate_params()
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
    shape = data_shape(X)
    if shape is not None:
        check_dense_fits(shape[1])
    moments = aug.moments(X, y, dtype=dtype, progress=progress)
    for est in fitted:
        est._fit_moments(moments)
    return FitAll(je, rc, sl)


def _batch(paradigm: str, problems: list, k: int, ridge: float, solver: str) -> list:
    if paradigm == "joint_embedding":
        return linalg.joint_embedding_batch(problems, k, ridge=ridge, solver=solver)
    if paradigm == "reconstruction":
        return linalg.reconstruction_batch(problems, k, ridge=ridge, solver=solver)
    return linalg.supervised_batch(problems, ridge=ridge)


def fit_batch(
    paradigm: str, moments, *, n_components: Optional[int] = None, ridge: float = 0.0, solver: str = "auto"
) -> list:
    """Fit one paradigm on many moment sets at once (one parallel batch in Rust).

    Parameters
    ----------
    paradigm : str
        ``"supervised"``, ``"joint_embedding"`` or ``"reconstruction"`` (or ``sl``, ``je``, ``rc``).
    moments : sequence of AugmentedMoments
        All with the same ``d``.
    n_components : int, optional
        ``k`` (ignored by the supervised model).
    ridge, solver
        As for the estimators.

    Returns
    -------
    list of fitted estimators, in the order of ``moments``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> rng = np.random.default_rng(0)
    >>> sets = [linssl.Gaussian(0.1).moments(rng.standard_normal((200, 4))) for _ in range(3)]
    >>> fits = linssl.fitting.fit_batch("joint_embedding", sets, n_components=2)
    >>> [fit.components_.shape for fit in fits]
    [(2, 4), (2, 4), (2, 4)]
    """
    paradigm = canonical_paradigm(paradigm)
    moments = list(moments)
    params = {"ridge": ridge} if paradigm == "supervised" else {"ridge": ridge, "solver": solver}
    template = estimator_for(paradigm, n_components=n_components, **params)
    template._validate_params()
    k = template._k(moments[0].d) if moments else 0
    solutions = _batch(paradigm, [template._problem(m) for m in moments], k, ridge, solver)
    fitted = []
    for m, solution in zip(moments, solutions):
        est = estimator_for(paradigm, n_components=n_components, **params)
        est._adopt(solution)
        est.n_features_in_ = m.d
        fitted.append(est)
    return fitted


def estimator_for(paradigm: str, *, n_components: Optional[int] = None, **params):
    """A fresh estimator for a paradigm name.

    Parameters
    ----------
    paradigm : str
        ``"supervised"``, ``"joint_embedding"`` or ``"reconstruction"`` (or ``sl``, ``je``, ``rc``).
    n_components : int, optional
        ``k`` of joint embedding and reconstruction (ignored by the supervised model).
    **params
        Other parameters of the estimator.

    Returns
    -------
    JointEmbedding, Reconstruction or Supervised

    Examples
    --------
    >>> estimator_for("je", n_components=3)
    JointEmbedding(n_components=3)
    """
    paradigm = canonical_paradigm(paradigm)
    if paradigm == "supervised":
        return Supervised(**params)
    cls = JointEmbedding if paradigm == "joint_embedding" else Reconstruction
    return cls(n_components, **params)
