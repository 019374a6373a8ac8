"""The theory's answers as values: alignment thresholds (:class:`Thresholds`) and which paradigm
needs less alignment (:class:`Regime`). Built by :func:`linssl.theory.thresholds` and
:func:`linssl.theory.regime`, documented there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linssl.paradigms import canonical_paradigm

__all__ = ["Regime", "Thresholds"]


@dataclass(frozen=True)
class Thresholds:
    """Alignment thresholds of a signal + irrelevant-noise model (``paper.md``, Props 4.3-4.4).

    Built by :func:`thresholds`; the fields are read-only.

    Parameters
    ----------
    alpha2_rc, alpha2_je : float
        Squared alignment above which reconstruction / joint embedding become optimal as
        ``n -> inf``; ``-inf`` when no direction carries irrelevant noise.
    eta : float
        ``min_{i<=k} s_i / sqrt(s_i + lambda^Theta_i)``.
    delta : float
        ``min_{i<=k} s_i / (s_i + lambda^Theta_i)``.
    crossover : float
        ``eta**2 / delta``: noise directions with ``lambda^Gamma_i`` below it are *weak*
        (reconstruction needs less alignment there), above it *strong* (joint embedding does).
    noise_directions : ndarray of int, shape (m,)
        Indices ``i >= k`` (0-based, in the model's basis) with ``lambda^Gamma_i > 0``.
    alpha2_rc_per_direction, alpha2_je_per_direction : ndarray of float64, shape (m,)
        The per-direction thresholds, in the order of ``noise_directions``; the overall
        thresholds are their maxima.

    Examples
    --------
    Two signal directions (``s = 4, 2``), ``lambda^Theta = 0.5`` everywhere, so ``eta**2 = 1.6``
    and ``delta = 0.8``; one weak (``lambda^Gamma = 1``) and one strong (``10``) noise direction:

    >>> import numpy as np, linssl
    >>> model = linssl.SignalNoiseModel([4.0, 2.0], [0.0, 0.0, 1.0, 10.0], [0.5] * 4)
    >>> t = linssl.theory.thresholds(model)
    >>> t.noise_directions, t.crossover
    (array([2, 3]), 2.0)
    >>> t.alpha2_rc_per_direction, t.alpha2_je_per_direction
    (array([-0.875,  5.2  ]), array([-0.25,  0.2 ]))

    Per direction, ``alpha2_JE,i - alpha2_RC,i = 1/delta - lambda^Gamma_i/eta**2`` (Cor 4.5):

    >>> gamma = model.noise_spectrum[t.noise_directions]
    >>> diff = t.alpha2_je_per_direction - t.alpha2_rc_per_direction
    >>> bool(np.allclose(diff, 1 / t.delta - gamma / t.eta**2))
    True
    """

    alpha2_rc: float
    alpha2_je: float
    eta: float
    delta: float
    crossover: float
    noise_directions: np.ndarray
    alpha2_rc_per_direction: np.ndarray
    alpha2_je_per_direction: np.ndarray

    def alpha_min(self, paradigm: str) -> float:
        """Smallest alignment ``alpha >= 0`` at the boundary of optimality for ``paradigm`` (0 if any works).

        Parameters
        ----------
        paradigm : str
            ``"supervised"``, ``"joint_embedding"`` or ``"reconstruction"`` (or ``sl``, ``je``, ``rc``).

        Returns
        -------
        float
            ``sqrt(max(alpha2, 0))`` with ``alpha2`` the paradigm's threshold; 0 for supervised
            learning, which needs no alignment.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> model = linssl.SignalNoiseModel([4.0, 2.0], [0.0, 0.0, 1.0, 10.0], [0.5] * 4)
        >>> t = linssl.theory.thresholds(model)
        >>> [round(t.alpha_min(p), 4) for p in ("reconstruction", "je", "supervised")]
        [2.2804, 0.4472, 0.0]
        >>> bool(np.isclose(t.alpha_min("rc") ** 2, t.alpha2_rc))
        True
        """
        paradigm = canonical_paradigm(paradigm)
        if paradigm == "supervised":
            return 0.0
        a2 = self.alpha2_je if paradigm == "joint_embedding" else self.alpha2_rc
        return float(np.sqrt(max(a2, 0.0)))


@dataclass(frozen=True)
class Regime:
    """Which paradigm needs less augmentation alignment (``paper.md``, Corollary 4.5).

    Built by :func:`regime`; the fields are read-only.

    Parameters
    ----------
    less_alignment : {"reconstruction", "joint_embedding", "neither"}
        The paradigm with the smaller alignment requirement ``max(alpha2, 0)``; ``"neither"`` when
        both requirements are equal (e.g. both paradigms work at any alpha).
    case : {"weak", "strong", "mixed", "none"}
        ``"weak"``: every noisy direction has ``lambda^Gamma_i < eta**2/delta`` (the corollary then
        guarantees reconstruction needs less); ``"strong"``: every one is above (joint embedding
        needs less); ``"mixed"``: some of each, so the answer depends on which direction binds;
        ``"none"``: the model has no irrelevant noise.
    n_weak, n_strong : int
        Number of weak and strong noise directions.
    thresholds : Thresholds
        The thresholds the comparison is made from.

    Examples
    --------
    Crossover ``eta**2/delta = 2``: noise variance 1 is weak, 10 is strong, and the strong
    direction sets both thresholds (``alpha2_rc = 5.2 > alpha2_je = 0.2``):

    >>> import linssl
    >>> model = linssl.SignalNoiseModel([4.0, 2.0], [0.0, 0.0, 1.0, 10.0], [0.5] * 4)
    >>> r = linssl.theory.regime(model)
    >>> r.case, r.n_weak, r.n_strong, r.less_alignment
    ('mixed', 1, 1, 'joint_embedding')
    >>> r.thresholds.crossover
    2.0
    """

    less_alignment: str
    case: str
    n_weak: int
    n_strong: int
    thresholds: Thresholds

    def explain(self) -> str:
        """One paragraph in plain words.

        Returns
        -------
        str
            The case, the crossover, which paradigm needs less alignment, and each paradigm's
            smallest alignment (:meth:`Thresholds.alpha_min`).

        Examples
        --------
        >>> import linssl
        >>> model = linssl.SignalNoiseModel([4.0, 2.0], [0.0, 0.0, 1.0, 10.0], [0.5] * 4)
        >>> print(linssl.theory.regime(model).explain())
        Irrelevant features are mixed (1 weak, 1 strong) (crossover lambda^Gamma = eta^2/delta = 2):
        joint embedding needs less alignment. Reconstruction needs alpha > 2.28 (alpha^2 > 5.2);
        joint embedding needs alpha > 0.4472 (alpha^2 > 0.2); supervised learning needs none.
        """
        t = self.thresholds
        names = {"reconstruction": "Reconstruction", "joint_embedding": "Joint embedding"}
        head = {
            "weak": "All irrelevant features are weak",
            "strong": "All irrelevant features are strong",
            "mixed": f"Irrelevant features are mixed ({self.n_weak} weak, {self.n_strong} strong)",
            "none": "The model has no irrelevant features",
        }[self.case]
        if self.less_alignment == "neither":
            verdict = "both paradigms need the same alignment"
        else:
            verdict = f"{names[self.less_alignment].lower()} needs less alignment"
        return (
            f"{head} (crossover lambda^Gamma = eta^2/delta = {t.crossover:.4g}): {verdict}. "
            f"Reconstruction needs alpha > {t.alpha_min('reconstruction'):.4g} "
            f"(alpha^2 > {t.alpha2_rc:.4g}); joint embedding needs alpha > {t.alpha_min('joint_embedding'):.4g} "
            f"(alpha^2 > {t.alpha2_je:.4g}); supervised learning needs none."
        )
