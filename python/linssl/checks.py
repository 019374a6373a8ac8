"""Optimality checks and metrics: is a returned solution trustworthy, and how far from optimal is it?

- :func:`check_solution`: constraint, stationarity (KKT) and loss-gap residuals of a fitted estimator
  against the moments it was fitted on, plus the condition number of ``S``.
- :func:`subspace_distance`: sine of the largest principal angle between two row spaces.
- :func:`probe_loss`: least-squares linear probe on one-hot labels (the paper's downstream metric).
- :func:`distance_to_optimality`: the paper's Appendix C metric.
- :func:`monte_carlo_loss`: the objective estimated from explicitly sampled augmentations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SolutionReport",
    "check_solution",
    "distance_to_optimality",
    "monte_carlo_loss",
    "probe_loss",
    "representation",
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
    return float(min(1.0, np.linalg.norm(residual, 2)))


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
    data : linssl.data.Sample
        A held-out sample (``clean``, ``corrupted``, ``labels``) of at least 4 rows.
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
    """
    from linssl.models import Supervised

    n = len(data.labels)
    if n < 4:
        raise ValueError(f"the held-out sample has {n} rows; the probe needs at least 4 (two to fit, two to evaluate)")
    half = n // 2
    losses = []
    for model, X in ((clean, data.clean), (corrupted, data.corrupted)):
        Z = representation(model, X)
        if isinstance(model, Supervised):
            Y = _one_hot(data.labels[half:], np.arange(Z.shape[1]))[0]
            losses.append(float(np.mean(np.sum((Y - Z[half:]) ** 2, axis=1))))
        else:
            losses.append(probe_loss(Z[:half], data.labels[:half], Z[half:], data.labels[half:]))
    distance = abs(losses[0] - losses[1])
    return (distance, losses[0], losses[1]) if return_losses else distance


def representation(estimator, X) -> np.ndarray:
    """The representation a fitted linssl estimator gives ``X`` (n, d) -> (n, k) (``X V^T`` for supervised)."""
    return np.asarray(X, dtype=np.float64) @ representation_map(estimator).T


def representation_map(estimator) -> np.ndarray:
    """The linear map of a fitted estimator as a (k, d) matrix: ``components_`` or the supervised ``coef_``."""
    if hasattr(estimator, "components_"):
        return estimator.components_
    if hasattr(estimator, "coef_"):
        return np.atleast_2d(estimator.coef_)
    raise TypeError(f"{type(estimator).__name__} is not a fitted linssl estimator")


def monte_carlo_loss(estimator, X, augmentation, draws: int = 200, seed: int = 0, y=None) -> tuple[float, float]:
    """The estimator's objective on ``X``, estimated by sampling augmentations explicitly.

    Parameters
    ----------
    estimator : fitted JointEmbedding, Reconstruction or Supervised
    X : array_like, shape (n, d)
    augmentation : linssl augmentation
        Sampled through its ``sample`` method (two independent views per draw for joint embedding).
    draws : int, default 200
        Independent draws of the whole data set's augmentations.
    seed : int
    y : array_like, shape (n,) or (n, l), optional
        Targets (required for the supervised model).

    Returns
    -------
    (mean, standard error) : tuple of float
        The closed-form ``loss_`` of a model fitted on ``X`` should lie within a few standard errors.
    """
    from linssl.models import JointEmbedding, Reconstruction, Supervised

    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(seed)
    if draws < 2:
        raise ValueError("draws must be at least 2 to estimate a standard error")
    values = np.empty(draws)
    for r in range(draws):
        if isinstance(estimator, JointEmbedding):
            W = estimator.components_
            diff = (augmentation.sample(X, rng) - augmentation.sample(X, rng)) @ W.T
            values[r] = np.mean(np.sum(diff**2, axis=1))
        elif isinstance(estimator, Reconstruction):
            recon = augmentation.sample(X, rng) @ estimator.encoder_.T @ estimator.decoder_.T
            values[r] = np.mean(np.sum((X - recon) ** 2, axis=1))
        elif isinstance(estimator, Supervised):
            if y is None:
                raise ValueError("the supervised objective needs the targets y")
            Y = np.asarray(y, dtype=np.float64).reshape(len(X), -1)
            values[r] = np.mean(np.sum((Y - augmentation.sample(X, rng) @ np.atleast_2d(estimator.coef_).T) ** 2, axis=1))
        else:
            raise TypeError(f"{type(estimator).__name__} is not a linssl estimator")
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(draws))


@dataclass(frozen=True)
class SolutionReport:
    """How trustworthy a fitted solution is (see :func:`check_solution`).

    Attributes
    ----------
    constraint_residual : float
        ``max |W S W^T - I|`` (joint embedding, reconstruction encoder); 0 for supervised.
    stationarity_residual : float
        Relative residual of the optimality (KKT) conditions: ``||A W^T - S W^T diag(w)|| /
        (||A|| + max|w| ||S||)`` for the eigenproblems, ``||V S - B|| / (||V|| ||S|| + ||B||)`` for
        supervised learning (norms are Frobenius; the rows of ``W`` scaled to unit ``S``-norm).
    loss_gap : float
        Fitted ``loss_`` minus the theoretical minimum computed independently by SciPy from the same
        moments, relative to ``max(1, |minimum|)``; should be ~0. NaN when ``S`` is singular to
        working precision (no unique unregularised solution, and no reliable reference minimum).
    objective_gap : float
        ``loss_`` minus the objective of the fitted parameters evaluated from the moments, relative.
    condition_number : float
        Of ``S`` (2-norm): the parameters are accurate to about ``condition_number * eps``
        (relative), which must be below ``tol`` too.
    trustworthy : bool
        All residuals and gaps, and ``condition_number * eps``, below the tolerance.
    message : str
        Plain-words summary, with what to do when not trustworthy.
    """

    constraint_residual: float
    stationarity_residual: float
    loss_gap: float
    objective_gap: float
    condition_number: float
    trustworthy: bool
    message: str


def check_solution(estimator, moments, *, tol: float = 1e-6, action: str = "warn") -> SolutionReport:
    """Check a fitted estimator against the moments it was fitted on.

    Parameters
    ----------
    estimator : fitted JointEmbedding, Reconstruction or Supervised
    moments : linssl.AugmentedMoments
        The moments passed to (or computed by) ``fit``. With ``ridge > 0`` the solution is optimal
        for the regularised ``S``; the report then measures how far it is from the unregularised optimum.
    tol : float, default 1e-6
        Largest acceptable residual / relative gap.
    action : {"warn", "raise", "ignore"}
        When the solution is not trustworthy: emit :class:`linssl.NumericalWarning`, raise
        :class:`linssl.LinAlgError`, or only report. Non-finite parameters always raise.

    Returns
    -------
    SolutionReport
    """
    import warnings

    import scipy.linalg

    from linssl._errors import LinAlgError, NumericalWarning
    from linssl.models import JointEmbedding, Reconstruction, Supervised

    if action not in ("warn", "raise", "ignore"):
        raise ValueError(f"action must be 'warn', 'raise' or 'ignore'; got {action!r}")
    S = moments.S
    eig_S = np.linalg.eigvalsh(S)
    condition = float(eig_S[-1] / eig_S[0]) if eig_S[0] > 0 else np.inf
    eps = np.finfo(np.float64).eps
    # Singular to working precision: SciPy's reference would fail or return rounding noise.
    singular = not eig_S[0] > S.shape[0] * eps * abs(eig_S[-1])
    params = representation_map(estimator)
    if not np.all(np.isfinite(params)):
        raise LinAlgError(f"the fitted {type(estimator).__name__} has NaN or Inf parameters; refit with ridge > 0")
    if isinstance(estimator, Supervised):
        V, B = np.atleast_2d(estimator.coef_), moments.B
        if B is None:
            raise ValueError("the supervised check needs moments with targets (B)")
        constraint = 0.0
        stationarity = np.linalg.norm(V @ S - B) / (np.linalg.norm(V) * np.linalg.norm(S) + np.linalg.norm(B))
        minimum = np.nan if singular else moments.trace_yy - float(np.sum(B * scipy.linalg.solve(S, B.T, assume_a="pos").T))
    else:
        if isinstance(estimator, JointEmbedding):
            W, w, A = estimator.components_, estimator.eigenvalues_, moments.G
        elif isinstance(estimator, Reconstruction):
            W, w, A = estimator.encoder_, estimator.singular_values_**2, moments.C.T @ moments.C
        else:
            raise TypeError(f"{type(estimator).__name__} is not a linssl estimator")
        k, d = W.shape
        constraint = float(np.abs(W @ S @ W.T - np.eye(k)).max())
        scale = np.linalg.norm(A) + np.abs(w).max(initial=0.0) * np.linalg.norm(S)
        stationarity = np.linalg.norm(A @ W.T - S @ W.T * w) / (scale * max(1.0, np.linalg.norm(W, 2)))
        if singular:
            minimum = np.nan
        else:
            top = scipy.linalg.eigh(A, S, eigvals_only=True, subset_by_index=[d - k, d - 1])
            minimum = 2 * (k - top.sum()) if isinstance(estimator, JointEmbedding) else moments.trace_xx - top.sum()
    scale = max(1.0, abs(minimum) if np.isfinite(minimum) else abs(estimator.loss_))
    loss_gap = (estimator.loss_ - minimum) / scale
    objective_gap = (estimator.loss_ - estimator.objective(moments)) / scale
    residuals = {
        "constraint": constraint,
        "stationarity": stationarity,
        "loss gap": abs(loss_gap),
        "objective gap": abs(objective_gap),
        "condition number x eps": condition * eps,
    }
    bad = {name: value for name, value in residuals.items() if not value <= tol}
    if bad:
        worst = ", ".join(f"{name} {value:.1e}" for name, value in bad.items())
        why = (
            f"S is singular to working precision (eigenvalues from {eig_S[0]:.1e} to {eig_S[-1]:.1e}): the "
            "unregularised problem has no unique solution and no reference minimum to measure a loss gap against. "
            if singular
            else ""
        )
        message = (
            f"{type(estimator).__name__} solution is not trustworthy at tol={tol:g} ({worst}; condition number of S "
            f"{condition:.1e}). {why}Increase ridge, remove constant or duplicated features, or use float64 data."
        )
    else:
        message = f"{type(estimator).__name__} solution is optimal to {tol:g} (condition number of S {condition:.1e})."
    report = SolutionReport(constraint, float(stationarity), float(loss_gap), float(objective_gap), condition, not bad, message)
    if bad and action == "raise":
        raise LinAlgError(message)
    if bad and action == "warn":
        warnings.warn(message, NumericalWarning, stacklevel=2)
    return report
