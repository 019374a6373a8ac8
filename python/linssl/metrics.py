"""Metrics: how far a representation is from optimal, and how well it serves a downstream task.

- :func:`subspace_distance`: sine of the largest principal angle between two row spaces.
- :func:`probe_loss`: least-squares linear probe on one-hot labels (the paper's downstream metric).
- :func:`distance_to_optimality`: the paper's Appendix C metric; :class:`HeldOutProbe` factors its
  held-out sample once for many models.
- :func:`representation`, :func:`representation_map`: the linear map a fitted estimator applies.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from linssl.models import Supervised

__all__ = [
    "HeldOutProbe",
    "distance_to_optimality",
    "probe_loss",
    "representation",
    "representation_map",
    "subspace_distance",
]


def _orthonormal_rows(A: np.ndarray, name: str) -> np.ndarray:
    """Orthonormal basis (as columns, shape (d, r)) of the row space of ``A`` (r = numerical rank)."""
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or Inf")
    U, s, _ = np.linalg.svd(A.T, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        raise ValueError(f"{name} is zero; its row space is empty")
    rank = int(np.sum(s > s[0] * max(A.shape) * np.finfo(np.float64).eps))
    return U[:, :rank]


def subspace_distance(A, B) -> float:
    """Sine of the largest principal angle between the row spaces of ``A`` and ``B``.

    Parameters
    ----------
    A : array_like, shape (k1, d)
    B : array_like, shape (k2, d)
        Row spaces are compared; scaling or mixing the rows (the invariances ``T`` and ``U`` of
        ``paper.md``) does not change the result.

    Returns
    -------
    float in [0, 1]
        0 when the row spaces coincide (or, when their dimensions differ, when the smaller one lies
        in the larger), 1 when some direction of one is orthogonal to the other.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> A = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> linssl.metrics.subspace_distance(A, 3.0 * A[::-1])     # same plane, rows mixed and scaled
    0.0
    >>> linssl.metrics.subspace_distance(A, np.array([[0.0, 0.0, 1.0]]))
    1.0
    """
    return _basis_distance(_orthonormal_rows(A, "A"), _orthonormal_rows(B, "B"))


def _basis_distance(QA: np.ndarray, QB: np.ndarray) -> float:
    """:func:`subspace_distance` between orthonormal bases (columns, shapes (d, r1) and (d, r2))."""
    if QA.shape[0] != QB.shape[0]:
        raise ValueError(f"A and B must have the same number of columns; got {QA.shape[0]} and {QB.shape[0]}")
    if QA.shape[1] > QB.shape[1]:
        QA, QB = QB, QA
    # Residual of the smaller space after projection onto the larger: its norm is sin(theta_max).
    residual = QA - QB @ (QB.T @ QA)
    return min(1.0, float(np.linalg.norm(residual, 2)))


def _one_hot(y, classes=None):
    y = np.asarray(y)
    if y.ndim == 2:
        return np.asarray(y, dtype=np.float64), classes
    if classes is None:
        classes = np.unique(y)
    return (y[:, None] == classes[None, :]).astype(np.float64), classes


def probe_loss(Z_train, y_train, Z_test, y_test) -> float:
    """Least-squares linear probe: regress one-hot labels on a representation, report test MSE.

    Parameters
    ----------
    Z_train : array_like, shape (n_train, k)
        Representation of the probe's training inputs.
    y_train : array_like, shape (n_train,) of class labels, or (n_train, c) targets
    Z_test : array_like, shape (n_test, k)
    y_test : array_like, shape (n_test,) or (n_test, c)

    Returns
    -------
    float
        ``mean_i ||onehot(y_i) - (A z_i + b)||^2`` on the test set, with ``(A, b)`` the least-squares
        fit (with intercept) on the training set. Invariant to invertible linear maps of ``Z``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> Z = np.eye(3)[[0, 1, 2, 0, 1, 2]]    # one coordinate per class: a perfect representation
    >>> y = np.array([0, 1, 2, 0, 1, 2])
    >>> round(linssl.metrics.probe_loss(Z, y, Z, y), 12)
    0.0
    """
    Z_train = np.asarray(Z_train, dtype=np.float64)
    Z_test = np.asarray(Z_test, dtype=np.float64)
    if Z_train.ndim != 2 or Z_test.ndim != 2 or Z_train.shape[1] != Z_test.shape[1]:
        raise ValueError(
            f"Z_train and Z_test must be 2-D with the same number of columns; got {Z_train.shape} and {Z_test.shape}"
        )
    Y_train, classes = _one_hot(y_train)
    Y_test, _ = _one_hot(y_test, classes)
    if Y_train.shape[0] != Z_train.shape[0] or Y_test.shape[0] != Z_test.shape[0]:
        raise ValueError("each representation needs one label per row")
    design_train = np.hstack([Z_train, np.ones((Z_train.shape[0], 1))])
    design_test = np.hstack([Z_test, np.ones((Z_test.shape[0], 1))])
    # A relative cutoff of sqrt(eps) keeps the probe of a rank-deficient representation from
    # fitting rounding noise in its null directions.
    coef, *_ = np.linalg.lstsq(design_train, Y_train, rcond=np.sqrt(np.finfo(np.float64).eps))
    residual = Y_test - design_test @ coef
    return float(np.mean(np.sum(residual**2, axis=1)))


def distance_to_optimality(clean, corrupted, data, *, return_losses: bool = False):
    """The paper's Appendix C metric: how far training on corrupted data lands from training on clean data.

    Parameters
    ----------
    clean : fitted estimator
        Fitted on the clean training sample.
    corrupted : fitted estimator
        Same paradigm and augmentation, fitted on the same rows with irrelevant noise added.
    data : linssl.synthetic.Sample or HeldOutProbe
        A held-out sample (``clean``, ``corrupted``, ``labels``) of at least 4 rows, or its
        :class:`HeldOutProbe` (to probe many models on the same sample).
    return_losses : bool, default False
        Also return the two downstream losses.

    Returns
    -------
    float, or (float, float, float)
        ``|loss(clean) - loss(corrupted)|`` (and the two losses). Each model encodes a held-out
        sample of its own kind: the clean model the clean rows, the corrupted model the same rows
        with irrelevant noise. For joint embedding and reconstruction the downstream loss is a
        least-squares probe on one-hot labels, fitted on the first half of the representations and
        evaluated on the second half (:func:`probe_loss`). A supervised model fitted on one-hot
        labels is its own probe: its loss is ``mean ||onehot(y) - V x||^2`` on the second half.
        (A probe fitted on top of ``V x``, whose ``l`` outputs span fewer dimensions, would fit
        noise in the spare dimensions however small they are, and never reach 0.)
        The clean model ignores the noise directions, so the distance is 0 exactly when the
        corrupted model serves the downstream task as well as the clean one.

    Examples
    --------
    >>> import linssl
    >>> model = linssl.SignalNoiseModel.random(k=4, d=12, gamma_max=1e3, seed=0)
    >>> train, test = model.sample(2000, seed=0), model.sample(400, seed=1)
    >>> aug = model.augmentation(alpha=10.0)
    >>> clean = linssl.JointEmbedding(4, augmentation=aug).fit(train.clean)
    >>> corrupted = linssl.JointEmbedding(4, augmentation=aug).fit(train.corrupted)
    >>> distance = linssl.metrics.distance_to_optimality(clean, corrupted, test)
    >>> distance >= 0.0
    True
    """
    probe = data if isinstance(data, HeldOutProbe) else HeldOutProbe(data)
    losses = (probe.loss(clean, "clean"), probe.loss(corrupted, "corrupted"))
    distance = abs(losses[0] - losses[1])
    return (distance, losses[0], losses[1]) if return_losses else distance


class HeldOutProbe:
    """The downstream loss of :func:`distance_to_optimality` on one held-out sample, factored once.

    Every representation is linear in the rows (``Z = X W^T``), so with thin QR factorizations
    ``[X, 1] = Q R`` of each half of the held-out rows (clean and corrupted) a probe needs only
    (d+1)-row problems: ``lstsq(Q R B, Y) = lstsq(R B, Q^T Y)`` and
    ``||Y - Q R B c||^2 = ||Q^T Y - R B c||^2 + ||Y - Q Q^T Y||^2`` (orthogonal transformations:
    the same numbers as fitting on ``Z`` to rounding). A study that probes many models on one
    held-out sample pays ``O(n d^2)`` once and ``O(d^2 k)`` per model instead of ``O(n d k)``.

    Parameters
    ----------
    data : linssl.synthetic.Sample
        The held-out sample (``clean``, ``corrupted``, ``labels``), at least 4 rows: the probe is
        fitted on the first half and evaluated on the second.

    Examples
    --------
    >>> import linssl
    >>> model = linssl.SignalNoiseModel.random(k=2, d=6, gamma_max=10.0, seed=0)
    >>> probe = linssl.metrics.HeldOutProbe(model.sample(400, seed=1))
    >>> je = linssl.JointEmbedding(2, augmentation=model.augmentation(1.0)).fit(model.sample(500).clean)
    >>> loss = probe.loss(je, "clean")
    >>> 0.0 < loss < 1.0
    True
    """

    def __init__(self, data):
        n = len(data.labels)
        if n < 4:
            raise ValueError(f"the held-out sample has {n} rows; the probe needs at least 4 (two to fit, two to evaluate)")
        half = n // 2
        Y_fit, self._classes = _one_hot(data.labels[:half])
        Y_eval = _one_hot(data.labels[half:], self._classes)[0]
        self._labels = data.labels[half:]
        self._eval_rows = {"clean": data.clean[half:], "corrupted": data.corrupted[half:]}
        self._halves = {
            kind: (_Factored(X[:half], Y_fit), _Factored(X[half:], Y_eval))
            for kind, X in (("clean", data.clean), ("corrupted", data.corrupted))
        }

    def loss(self, estimator, rows: str = "clean") -> float:
        """Downstream loss of a fitted estimator on the held-out ``rows`` (``"clean"`` or ``"corrupted"``).

        Parameters
        ----------
        estimator : fitted JointEmbedding, Reconstruction or Supervised
        rows : {"clean", "corrupted"}
            Which held-out rows the estimator encodes.

        Returns
        -------
        float
            As in :func:`distance_to_optimality`: a least-squares probe (with intercept) on one-hot
            labels for joint embedding and reconstruction, ``mean ||onehot(y) - V x||^2`` for a
            supervised model.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> model = linssl.SignalNoiseModel.random(k=2, d=6, gamma_max=10.0, seed=0)
        >>> probe_rows = model.sample(400, seed=1)
        >>> probe = linssl.metrics.HeldOutProbe(probe_rows)
        >>> train = model.sample(500)
        >>> sl = linssl.Supervised().fit(train.corrupted, np.eye(model.n_classes)[train.labels])
        >>> residual = np.eye(model.n_classes)[probe_rows.labels[200:]] - sl.predict(probe_rows.corrupted[200:])
        >>> bool(np.isclose(probe.loss(sl, "corrupted"), np.mean(np.sum(residual**2, axis=1))))
        True
        """
        if rows not in self._halves:
            raise ValueError(f"rows must be 'clean' or 'corrupted'; got {rows!r}")
        fit, evaluate = self._halves[rows]
        W = np.asarray(representation_map(estimator), dtype=np.float64)  # (k, d)
        if W.shape[1] != fit.R.shape[1] - 1:
            raise ValueError(f"the estimator maps {W.shape[1]} features; the held-out rows have {fit.R.shape[1] - 1}")
        if isinstance(estimator, Supervised):
            # Its outputs are the class scores, with no intercept and no probe on top.
            Y = _one_hot(self._labels, np.arange(W.shape[0]))[0]
            return float(np.mean(np.sum((Y - self._eval_rows[rows] @ W.T) ** 2, axis=1)))
        # The probe's design [X W^T, 1] is [X, 1] B.
        B = np.zeros((W.shape[1] + 1, W.shape[0] + 1))
        B[:-1, :-1], B[-1, -1] = W.T, 1.0
        # Same cutoff as probe_loss: the singular values of R B are those of the design.
        coef, *_ = np.linalg.lstsq(fit.R @ B, fit.QtY, rcond=np.sqrt(np.finfo(np.float64).eps))
        return evaluate.loss(B @ coef)


class _Factored:
    """``[X, 1] = Q R`` (thin) of some held-out rows, kept as ``R``, ``Q^T Y`` and ``||Y - Q Q^T Y||^2``.

    One Householder QR of ``[X, 1, Y]`` gives all three without forming ``Q``: its leading block
    is ``R``, the block beside it ``Q^T Y``, and the trailing block holds the rest of ``Y``.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray):
        X = np.asarray(X, dtype=np.float64)
        p = X.shape[1] + 1
        # mode="r" returns the array R alone; NumPy's type stubs say a tuple.
        R = cast(np.ndarray, np.linalg.qr(np.hstack([X, np.ones((X.shape[0], 1)), Y]), mode="r"))
        self.n = X.shape[0]
        self.R, self.QtY = R[:p, :p], R[:p, p:]
        # The part of Y that no linear map of the rows reaches (none when n <= p).
        self.outside = float(np.sum(R[p:, p:] ** 2))

    def loss(self, C: np.ndarray) -> float:
        """``mean_i ||y_i - [x_i, 1] C||^2`` for ``C`` (d+1, c)."""
        return float((np.sum((self.QtY - self.R @ C) ** 2) + self.outside) / self.n)


def representation(estimator, X) -> np.ndarray:
    """The representation a fitted linssl estimator gives ``X`` (n, d) -> (n, k) (``X V^T`` for supervised).

    Parameters
    ----------
    estimator : fitted JointEmbedding, Reconstruction or Supervised
    X : array_like, shape (n, d)

    Returns
    -------
    ndarray, shape (n, k)
        ``X W^T`` with ``W`` the estimator's :func:`representation_map`.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((200, 6))
    >>> je = linssl.JointEmbedding(2, augmentation=linssl.Gaussian(0.1)).fit(X)
    >>> linssl.metrics.representation(je, X).shape
    (200, 2)
    """
    return np.asarray(X, dtype=np.float64) @ representation_map(estimator).T


def representation_map(estimator) -> np.ndarray:
    """The linear map of a fitted estimator as a (k, d) matrix: ``components_`` or the supervised ``coef_``.

    Parameters
    ----------
    estimator : fitted JointEmbedding, Reconstruction or Supervised

    Returns
    -------
    ndarray, shape (k, d)
        ``components_`` (joint embedding, reconstruction) or ``coef_`` as 2-D (supervised).

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((200, 6))
    >>> sl = linssl.Supervised(augmentation=linssl.Gaussian(0.1)).fit(X, X[:, 0])
    >>> linssl.metrics.representation_map(sl).shape
    (1, 6)
    """
    if hasattr(estimator, "components_"):
        return estimator.components_
    if hasattr(estimator, "coef_"):
        return np.atleast_2d(estimator.coef_)
    raise TypeError(f"{type(estimator).__name__} is not a fitted linssl estimator")
