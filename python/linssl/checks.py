"""Optimality checks: is a returned solution trustworthy?

- :func:`check_solution`: constraint, stationarity (KKT) and loss-gap residuals of a fitted estimator
  against the moments it was fitted on, plus the condition number of ``S``.
- :func:`monte_carlo_loss`: the objective estimated from explicitly sampled augmentations, an
  independent check of the closed-form ``loss_``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from linssl._errors import LinAlgError, NumericalWarning
from linssl._norms import frobenius
from linssl._random import SeedLike, as_generator
from linssl.metrics import representation_map
from linssl.models import JointEmbedding, Reconstruction, Supervised

__all__ = ["SolutionReport", "check_solution", "monte_carlo_loss"]


def monte_carlo_loss(estimator, X, augmentation, draws: int = 200, seed: SeedLike = 0, y=None) -> tuple[float, float]:
    """The estimator's objective on ``X``, estimated by sampling augmentations explicitly.

    Parameters
    ----------
    estimator : fitted JointEmbedding, Reconstruction or Supervised
    X : array_like, shape (n, d)
    augmentation : linssl augmentation
        Sampled through its ``sample`` method (two independent views per draw for joint embedding).
    draws : int, default 200
        Independent draws of the whole data set's augmentations.
    seed : int, Generator or SeedSequence
    y : array_like, shape (n,) or (n, l), optional
        Targets (required for the supervised model).

    Returns
    -------
    (mean, standard error) : tuple of float
        The closed-form ``loss_`` of a model fitted on ``X`` should lie within a few standard errors.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((300, 4))
    >>> aug = linssl.Gaussian(0.5)
    >>> rc = linssl.Reconstruction(2, augmentation=aug).fit(X)
    >>> mean, stderr = linssl.checks.monte_carlo_loss(rc, X, aug, draws=100)
    >>> bool(abs(mean - rc.loss_) < 5 * stderr)
    True
    """
    X = np.asarray(X, dtype=np.float64)
    rng = as_generator(seed)
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

    Parameters
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

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((200, 4))
    >>> aug = linssl.Gaussian(0.5)
    >>> je = linssl.JointEmbedding(2, augmentation=aug).fit(X)
    >>> report = linssl.checks.check_solution(je, aug.moments(X))
    >>> report.trustworthy, report.constraint_residual < 1e-12
    (True, True)
    >>> print(report.message)
    JointEmbedding solution is optimal to 1e-06 (condition number of S ...).

    A feature that is zero in every row has no variance under a mask, so ``S`` is singular: a
    ridge fit is then not the unregularised optimum, and the report says so.

    >>> X[:, 3] = 0.0
    >>> aug = linssl.Mask(0.5)
    >>> je = linssl.JointEmbedding(2, augmentation=aug, ridge=1e-3).fit(X)
    >>> report = linssl.checks.check_solution(je, aug.moments(X), action="ignore")
    >>> report.trustworthy, report.condition_number
    (False, inf)
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

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((500, 5))
    >>> aug = linssl.Gaussian(0.5)
    >>> je = linssl.JointEmbedding(2, augmentation=aug).fit(X)
    >>> linssl.checks.check_solution(je, aug.moments(X)).trustworthy
    True
    """
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
        stationarity = frobenius(V @ S - B) / (frobenius(V) * frobenius(S) + frobenius(B))
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
        scale = frobenius(A) + np.abs(w).max(initial=0.0) * frobenius(S)
        stationarity = frobenius(A @ W.T - S @ W.T * w) / (scale * max(1.0, float(np.linalg.norm(W, 2))))
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
