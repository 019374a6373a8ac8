"""Which augmentations keep the Gram path exact: those with a diagonal form, and when to take it.

Every supported augmentation (Gaussian noise with a diagonal or low-rank-plus-diagonal covariance,
a :class:`~linssl.augment.Mask`, additive :class:`~linssl.augment.Brightness` (rank-one noise), or
any :class:`~linssl.augment.Compose` of them) has a diagonal
mean map ``P = diag(p)`` and ``S = P M P + F F^T + D`` with ``D`` diagonal (see :mod:`linssl.gram`
for the derivation). :func:`prefer_gram` is the ``solver="auto"`` rule of the estimators.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from linssl.augment import Augmentation, DiagonalForm

__all__ = ["DiagonalForm", "diagonal_form", "prefer_gram", "supports"]

# The Gram path is chosen by solver="auto" when d exceeds this multiple of the Gram size m: the
# dense path costs about n d^2 + d^3 / 3 flops, the Gram path about m^2 d + 4 m^3 (with reconstruction
# 2 m^2 d), which cross near d = 2 m.
_AUTO_RATIO = 2.0


def supports(augmentation) -> bool:
    """Whether ``augmentation`` has a :class:`~linssl.augment.DiagonalForm`, hence an exact Gram path.

    Supported: Gaussian noise with a diagonal or low-rank-plus-diagonal covariance,
    :class:`~linssl.augment.Mask`, additive :class:`~linssl.augment.Brightness`, and any
    :class:`~linssl.augment.Compose` of them.

    Parameters
    ----------
    augmentation : object
        Anything; objects that are not linssl augmentations are not supported.

    Returns
    -------
    bool
        True when :func:`diagonal_form` (and ``solver="gram"``) accepts ``augmentation``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> from linssl.diagonal_form import supports
    >>> supports(linssl.Compose([linssl.Mask(0.8), linssl.Gaussian(0.1)]))
    True
    >>> supports(linssl.Gaussian(np.array([[1.0, 0.5], [0.5, 1.0]]))), supports("mask")
    (False, False)
    """
    return isinstance(augmentation, Augmentation) and augmentation.no_diagonal_form() is None


def diagonal_form(augmentation, d: int) -> DiagonalForm:
    """The :class:`~linssl.augment.DiagonalForm` of a supported augmentation for ``d`` features.

    Parameters
    ----------
    augmentation : linssl augmentation
        One that :func:`supports` accepts.
    d : int
        Number of features.

    Returns
    -------
    DiagonalForm
        ``keep``, ``scale``, ``offset`` of shape (d,) and ``factor`` of shape (d, s), float64.

    Raises
    ------
    ValueError
        For augmentations without one (full-covariance noise, :class:`~linssl.augment.Custom`),
        naming the solver to use instead.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> from linssl.diagonal_form import diagonal_form
    >>> form = diagonal_form(linssl.Mask(0.75), 3)
    >>> form.keep, form.scale                      # p and p (1 - p)
    (array([0.75, 0.75, 0.75]), array([0.1875, 0.1875, 0.1875]))
    >>> diagonal_form(linssl.Gaussian(np.array([[1.0, 0.5], [0.5, 1.0]])), 2)
    Traceback (most recent call last):
    ...
    ValueError: solver='gram' supports ... not Gaussian noise with a full (d, d) covariance ... Use solver='dense' (or 'auto')
    """
    reason = augmentation.no_diagonal_form() if isinstance(augmentation, Augmentation) else type(augmentation).__name__
    if reason is not None:
        raise ValueError(
            f"solver='gram' supports Gaussian noise with a diagonal or low-rank-plus-diagonal covariance, "
            f"Mask, and Compose of those; not {reason}. Use solver='dense' (or 'auto')"
        )
    return augmentation.diagonal_form(d)


def prefer_gram(n: int, d: int, augmentation, k: Optional[int] = None, ridge: float = 0.0) -> bool:
    """The ``solver="auto"`` rule: is the Gram path available and cheaper for this problem?

    True when the augmentation is supported (:func:`supports`), its diagonal part ``D`` is positive
    whatever the data (every feature gets noise variance or has a keep probability below 1, or
    ``ridge > 0``), ``d > 2 m`` with ``m = n + s`` (``s``: columns of low-rank noise factors) and
    the requested ``k`` (if any) is at most ``m``.

    Parameters
    ----------
    n, d : int
        Samples and features of the data.
    augmentation : linssl augmentation
        Any: unsupported ones give False.
    k : int, optional
        Components requested (None: not a representation, e.g. the supervised model).
    ridge : float, default 0.0
        The estimator's ridge.

    Returns
    -------
    bool
        True to take the Gram path.

    Examples
    --------
    >>> import linssl
    >>> from linssl.diagonal_form import prefer_gram
    >>> aug = linssl.Gaussian(0.5)
    >>> prefer_gram(100, 1000, aug), prefer_gram(100, 150, aug), prefer_gram(100, 1000, aug, k=200)
    (True, False, False)
    >>> keep_all = linssl.Mask(1.0)                # D = 0: S may be singular without a ridge
    >>> prefer_gram(100, 1000, keep_all), prefer_gram(100, 1000, keep_all, ridge=1e-3)
    (False, True)
    """
    if not supports(augmentation):
        return False
    form = augmentation.diagonal_form(d)
    m = n + form.factor.shape[1]
    if not (d > _AUTO_RATIO * m and (k is None or k <= m)):
        return False
    return ridge > 0.0 or bool(np.all((form.scale > 0.0) | (form.offset > 0.0)))
