"""The paper's theory as code: alignment thresholds, regimes and population solutions.

Notation (``paper.md``, Section 4.1 model): ``k`` important directions with per-sample signal variances
``s_i``, augmentation spectrum ``lambda^Theta`` (all ``d`` directions) and irrelevant-noise spectrum
``lambda^Gamma`` (zero on the important block). Augmentations ``x + theta + alpha * gamma`` with
``alpha`` the *alignment* of augmentations with the irrelevant features.

In the ``n -> inf`` limit (Propositions 4.3 and 4.4) a paradigm recovers the important subspace iff
``alpha**2`` exceeds its threshold; thresholds are squared quantities and may be negative, in which
case any ``alpha >= 0`` works. Supervised learning (Proposition 4.2) needs no alignment at all.
"""

from __future__ import annotations

import numpy as np

from linssl._thresholds import Regime, Thresholds
from linssl._threads import single_threaded_blas
from linssl.fitting import estimator_for
from linssl.paradigms import PARADIGMS, canonical_paradigm

__all__ = [
    "Thresholds",
    "Regime",
    "thresholds",
    "regime",
    "predicts_optimal",
    "population_solution",
    "critical_alignment",
    "recovers",
    "PARADIGMS",
]


def _spectra(model):
    """Return ``s`` (k,), ``theta_signal`` (k,), ``theta_noise`` (d-k,), ``gamma_noise`` (d-k,)."""
    if not getattr(model, "shares_basis", True):
        raise ValueError(
            "the paper's thresholds assume that Gamma, Theta and the signal share one eigenbasis, and this "
            "model's do not; use linssl.theory.critical_alignment(model, paradigm), which solves the "
            "population eigenproblems instead"
        )
    s = np.asarray(model.signal_variances, dtype=np.float64)
    theta = np.asarray(model.augmentation_spectrum, dtype=np.float64)
    gamma = np.asarray(model.noise_spectrum, dtype=np.float64)
    k = s.shape[0]
    if np.any(s <= 0):
        raise ValueError("signal variances must be positive")
    if np.any(gamma[:k] != 0):
        raise ValueError("the noise spectrum must be zero on the important block (first k directions)")
    return s, theta[:k], theta[k:], gamma[k:]


def thresholds(model) -> Thresholds:
    """Alignment thresholds ``alpha2_rc`` and ``alpha2_je`` of a signal + noise model.

    Parameters
    ----------
    model : linssl.SignalNoiseModel
        Anything with ``signal_variances`` (k,), ``augmentation_spectrum`` (d,) and
        ``noise_spectrum`` (d,) in the model's orthonormal basis.

    Returns
    -------
    Thresholds
        Per ``paper.md``: ``alpha2_RC = max_{i>k} [lambda^Gamma_i/eta^2 - lambda^Theta_i/lambda^Gamma_i - 1]``,
        ``alpha2_JE = max_{i>k} [(1-delta)/delta - lambda^Theta_i/lambda^Gamma_i]``, taken over the
        directions that carry noise (``lambda^Gamma_i > 0``; the others impose nothing).

    Examples
    --------
    >>> import linssl
    >>> model = linssl.SignalNoiseModel.random(k=3, d=8, gamma_max=1e6, seed=0)
    >>> t = linssl.theory.thresholds(model)
    >>> bool(t.alpha2_je >= 0 and t.alpha2_rc >= 0)
    True
    """
    s, theta_sig, theta_noise, gamma_noise = _spectra(model)
    eta = float(np.min(s / np.sqrt(s + theta_sig)))
    delta = float(np.min(s / (s + theta_sig)))
    noisy = np.flatnonzero(gamma_noise > 0)
    g, th = gamma_noise[noisy], theta_noise[noisy]
    rc = g / eta**2 - th / g - 1.0
    je = (1.0 - delta) / delta - th / g
    k = s.shape[0]
    return Thresholds(
        alpha2_rc=float(rc.max()) if rc.size else -np.inf,
        alpha2_je=float(je.max()) if je.size else -np.inf,
        eta=eta,
        delta=delta,
        crossover=eta**2 / delta,
        noise_directions=noisy + k,
        alpha2_rc_per_direction=rc,
        alpha2_je_per_direction=je,
    )


def regime(model) -> Regime:
    """Which paradigm needs less alignment on ``model`` (Corollary 4.5, including mixed noise).

    Each noise direction is classed weak or strong against the crossover ``eta**2 / delta``;
    the paradigms are then compared on their thresholds ``max(alpha2, 0)``, which also settles the
    mixed case that the corollary leaves open.

    Parameters
    ----------
    model : linssl.SignalNoiseModel
        A model whose ``Gamma``, ``Theta`` and signal share one eigenbasis (as for
        :func:`thresholds`).

    Returns
    -------
    Regime
        The case (weak, strong, mixed or none), the number of weak and strong directions, the
        paradigm that needs less alignment and the thresholds.

    Examples
    --------
    The paper's weak (``lambda^Gamma_max = 1e3``) and strong (``1e6``) irrelevant features:

    >>> import linssl
    >>> weak = linssl.SignalNoiseModel.random(k=3, d=8, gamma_max=1e3, seed=0)
    >>> r = linssl.theory.regime(weak)
    >>> r.case, r.less_alignment
    ('weak', 'reconstruction')
    >>> bool(weak.noise_spectrum.max() < r.thresholds.crossover)   # Cor 4.5's weak condition
    True
    >>> strong = linssl.SignalNoiseModel.random(k=3, d=8, gamma_max=1e6, seed=0)
    >>> r = linssl.theory.regime(strong)
    >>> r.case, r.less_alignment
    ('strong', 'joint_embedding')
    """
    t = thresholds(model)
    gamma_noise = np.asarray(model.noise_spectrum, dtype=np.float64)[t.noise_directions]
    n_weak = int(np.sum(gamma_noise < t.crossover))
    n_strong = int(np.sum(gamma_noise > t.crossover))
    if gamma_noise.size == 0:
        case = "none"
    elif n_strong == 0 and n_weak == gamma_noise.size:
        case = "weak"
    elif n_weak == 0 and n_strong == gamma_noise.size:
        case = "strong"
    else:
        case = "mixed"
    need_rc, need_je = max(t.alpha2_rc, 0.0), max(t.alpha2_je, 0.0)
    if need_rc < need_je:
        less = "reconstruction"
    elif need_je < need_rc:
        less = "joint_embedding"
    else:
        less = "neither"
    return Regime(less_alignment=less, case=case, n_weak=n_weak, n_strong=n_strong, thresholds=t)


def predicts_optimal(paradigm: str, model, alpha: float) -> bool:
    """Whether theory predicts ``paradigm`` recovers the important subspace as ``n -> inf`` at ``alpha``.

    Supervised learning always does (Prop 4.2); reconstruction and joint embedding iff
    ``alpha**2`` exceeds their threshold (Props 4.3 and 4.4; the boundary itself is excluded).

    Parameters
    ----------
    paradigm : {"supervised", "joint_embedding", "reconstruction"}
        Or ``"sl"``, ``"je"``, ``"rc"``.
    model : linssl.SignalNoiseModel
        A model whose ``Gamma``, ``Theta`` and signal share one eigenbasis (as for
        :func:`thresholds`).
    alpha : float
        Alignment of the augmentation ``x + theta + alpha * gamma``, finite and >= 0.

    Returns
    -------
    bool
        True when ``alpha**2`` is above the paradigm's threshold (always for supervised).

    Examples
    --------
    ``alpha2_je = 0.075`` and ``alpha2_rc = 1.7625`` here, so at ``alpha = 0.5`` only joint
    embedding (and supervised learning) is predicted optimal; the population eigenproblems
    solved by :func:`recovers` agree:

    >>> import linssl
    >>> model = linssl.SignalNoiseModel([4.0], [0.0, 10.0], [0.5, 0.5])
    >>> [linssl.theory.predicts_optimal(p, model, 0.5) for p in ("sl", "je", "rc")]
    [True, True, False]
    >>> [linssl.theory.recovers(p, model, 0.5) for p in ("sl", "je", "rc")]
    [True, True, False]
    """
    paradigm = canonical_paradigm(paradigm)
    if alpha < 0 or not np.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number >= 0; got {alpha}")
    if paradigm == "supervised":
        return True
    t = thresholds(model)
    a2 = t.alpha2_je if paradigm == "joint_embedding" else t.alpha2_rc
    return bool(alpha**2 > a2)


def population_solution(paradigm: str, model, alpha: float, *, corrupted: bool = True, n_components=None):
    """The ``n -> inf`` optimal model of ``paradigm`` at alignment ``alpha``, from population moments.

    Parameters
    ----------
    paradigm : {"joint_embedding", "reconstruction"}
    model : linssl.SignalNoiseModel
    alpha : float
        Alignment of the augmentation ``x + theta + alpha * gamma``.
    corrupted : bool
        Fit on the corrupted population (the default, what the propositions are about) or the clean one.
    n_components : int, optional
        Representation size; defaults to the model's ``k``.

    Returns
    -------
    A fitted :mod:`linssl.models` estimator (``fit_moments`` on ``model.population_moments``).

    Examples
    --------
    >>> import linssl
    >>> model = linssl.SignalNoiseModel.random(k=3, d=8, gamma_max=1e3, seed=0)
    >>> je = linssl.theory.population_solution("joint_embedding", model, alpha=10.0)
    >>> je.components_.shape
    (3, 8)
    """
    paradigm = canonical_paradigm(paradigm)
    if paradigm == "supervised":
        raise ValueError(
            "the supervised population solution needs E[y x^T], which has no closed form for the model's "
            "argmax labels; fit linssl.Supervised on a large sample (model.sample(n)) instead"
        )
    moments = model.population_moments(alpha, corrupted=corrupted)
    est = estimator_for(paradigm, n_components=model.k if n_components is None else n_components)
    return est.fit_moments(moments)


def _population_distance(paradigm: str, model, alpha: float) -> float:
    """Sine of the largest principal angle between the top-k population eigenvectors and ``Q_1``.

    The population pencil is solved densely (SciPy's ``eigh`` on ``(G, S)`` for joint embedding,
    ``(C^T C, S)`` for reconstruction, paper.md), the top ``k`` eigenvectors only.
    """
    from scipy.linalg import eigh

    m = model.population_moments(alpha, corrupted=True)
    left = m.G if paradigm == "joint_embedding" else m.C.T @ m.C
    d, k = m.d, model.k
    with single_threaded_blas():  # d x d problems of a few hundred: BLAS threads only contend
        _, V = eigh(0.5 * (left + left.T), np.asarray(m.S), subset_by_index=[d - k, d - 1])
        basis, _ = np.linalg.qr(V)
        Q1 = np.asarray(model.signal_basis, dtype=np.float64)
        residual = Q1 - basis @ (basis.T @ Q1)
        return min(1.0, float(np.linalg.norm(residual, 2)))


def recovers(paradigm: str, model, alpha: float, *, tol: float = 1e-6) -> bool:
    """Whether the population (``n -> inf``) solution of ``paradigm`` at ``alpha`` recovers the important subspace.

    Parameters
    ----------
    paradigm : {"joint_embedding", "reconstruction", "supervised"}
    model : linssl.SignalNoiseModel
        Any bases (shared or not).
    alpha : float
        Alignment, >= 0.
    tol : float, default 1e-6
        Recovery means: the sine of the largest principal angle between the solution's row space
        and the important subspace ``Q_1`` is at most ``tol``.

    Returns
    -------
    bool
        Always True for the supervised paradigm (Proposition 4.2).

    Examples
    --------
    >>> import linssl
    >>> model = linssl.SignalNoiseModel([4.0], [0.0, 10.0], [0.5, 0.5])
    >>> recovers("je", model, 0.0), recovers("je", model, 3.0)
    (False, True)
    """
    paradigm = canonical_paradigm(paradigm)
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0; got {alpha}")
    if paradigm == "supervised":
        return True
    return _population_distance(paradigm, model, float(alpha)) <= tol


def critical_alignment(
    model,
    paradigm: str,
    *,
    alpha_max: float = 1e6,
    tol: float = 1e-6,
    rtol: float = 1e-12,
) -> float:
    """The smallest alignment ``alpha`` at which the ``n -> inf`` solution recovers the important subspace.

    Found numerically, without the paper's shared-basis assumption: each trial ``alpha`` solves
    the exact population generalized eigenproblem (the pencil of :func:`population_solution`,
    densely) and asks whether
    its top-``k`` row space is the important subspace (:func:`recovers`); a geometric scan of
    ``[0, alpha_max]`` brackets the first recovering ``alpha`` and bisection narrows the bracket to
    ``rtol``. When ``Gamma`` and ``Theta`` share the signal's eigenbasis this equals
    ``sqrt(max(alpha2, 0))`` of :func:`thresholds`; when they do not, the formula does not apply
    but this still does. When ``Theta`` couples the important subspace to the others, no finite
    ``alpha`` recovers it exactly and the answer is where the solution comes within ``tol`` of it.

    Parameters
    ----------
    model : linssl.SignalNoiseModel
        Any bases, e.g. :meth:`linssl.SignalNoiseModel.from_covariances`.
    paradigm : {"joint_embedding", "reconstruction", "supervised"}
        Supervised learning needs no alignment (Proposition 4.2): 0.
    alpha_max : float, default 1e6
        Upper end of the search.
    tol : float, default 1e-6
        Recovery tolerance on the subspace distance (see :func:`recovers`).
    rtol : float, default 1e-12
        Relative width of the final bracket.

    Returns
    -------
    float
        ``alpha >= 0`` (0 when any alignment works).

    Raises
    ------
    ValueError
        When the solution does not recover the important subspace anywhere in ``[0, alpha_max]``.

    Examples
    --------
    >>> import linssl, numpy as np
    >>> model = linssl.SignalNoiseModel([4.0], [0.0, 10.0], [0.5, 0.5])
    >>> a = critical_alignment(model, "je")
    >>> t = thresholds(model)
    >>> bool(np.isclose(a, np.sqrt(t.alpha2_je), rtol=1e-8))
    True
    """
    paradigm = canonical_paradigm(paradigm)
    if paradigm == "supervised":
        return 0.0
    if not (np.isfinite(alpha_max) and alpha_max > 0):
        raise ValueError(f"alpha_max must be a finite positive number; got {alpha_max}")

    def ok(alpha: float) -> bool:
        return recovers(paradigm, model, alpha, tol=tol)

    if ok(0.0):
        return 0.0
    if not ok(alpha_max):
        raise ValueError(
            f"the {paradigm} population solution does not recover the important subspace (to subspace "
            f"distance {tol:g}) at any alpha in [0, {alpha_max:g}]: the augmentation spectrum may hide part of "
            "the signal for good; raise alpha_max or tol, or change the model"
        )
    # Scan from small alignments up, so that the first recovering alpha is bracketed.
    grid = np.geomspace(alpha_max * 1e-12, alpha_max, 25)
    lo, hi = 0.0, alpha_max
    for a in grid:
        if ok(float(a)):
            hi = float(a)
            break
        lo = float(a)
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
