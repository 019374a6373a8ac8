"""The paper's data model: important components plus irrelevant Gaussian features.

:class:`SignalNoiseModel` is paper.md's Section 4.1 model: ``k`` important components with
per-sample variances ``s_i`` along the first ``k`` columns of an orthonormal basis ``Q``, corrupted by
irrelevant Gaussian noise ``gamma ~ N(0, Gamma)`` living in the other ``d - k`` directions, and the
augmentation family ``T(alpha)``: ``x + theta + alpha * gamma`` with ``theta ~ N(0, Theta)``.
Its real-data version is :mod:`linssl.datasets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Optional, cast

import numpy as np

from linssl._random import SeedLike, stream
from linssl.augment import AugmentedMoments, Gaussian

__all__ = ["Sample", "SignalNoiseModel"]

# Independent random streams are derived from (seed, purpose): the same user seed never makes the
# train and test draws, the model's spectra or the label map share randomness.
_STREAM = {"train": 1, "test": 2, "labels": 3, "model": 4, "split": 5}


def _stream(seed: SeedLike, purpose: str) -> np.random.Generator:
    return stream(seed, _STREAM[purpose])


def _fixed_seed(seed: SeedLike) -> SeedLike:
    """An integer drawn from a generator, so a model built from it stays reproducible (its label
    map and every stream are then derived from that integer); other seeds are returned as they are."""
    return int(seed.integers(2**63)) if isinstance(seed, np.random.Generator) else seed


def _split_stream(seed, split: str) -> np.random.Generator:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    return _stream(seed, split)


def _vector(values, name: str) -> np.ndarray:
    v = np.array(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array; got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or Inf; pass finite values")
    v.flags.writeable = False
    return v


def _random_rotation(d: int, rng: np.random.Generator) -> np.ndarray:
    # QR of a Gaussian matrix with the sign fix that makes the result Haar-distributed.
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@dataclass(frozen=True, eq=False)
class Sample:
    """One draw from a data model.

    Attributes
    ----------
    clean : ndarray, shape (n, d), float64
        The important features only.
    corrupted : ndarray, shape (n, d), float64
        ``clean + gamma`` with ``gamma ~ N(0, Gamma)`` (irrelevant features added).
    labels : ndarray, shape (n,), int64
        Classes of the downstream task, in ``0 .. n_classes - 1``.
    index : ndarray, shape (n,), int64, or None
        For models built from a data set, the rows of the source data that were drawn.
    """

    clean: np.ndarray
    corrupted: np.ndarray
    labels: np.ndarray
    index: Optional[np.ndarray] = None

    @property
    def n(self) -> int:
        return self.clean.shape[0]


@dataclass(frozen=True, eq=False)
class SignalNoiseModel:
    """The paper's data model (paper.md, "The paper's data model").

    Clean samples are ``x = Q_1 (sqrt(s) * z)`` with ``z ~ N(0, I_k)`` and ``Q_1`` the first ``k``
    columns of ``Q``, so ``E[x x^T] = Q diag(s, 0) Q^T``; corrupted samples add
    ``gamma ~ N(0, Gamma)``, ``Gamma = Q diag(lambda^Gamma) Q^T``. Labels are
    ``argmax_c (A z)_c`` for a fixed random matrix ``A`` (n_classes x k): a linear classification
    task that depends on the important components only.

    Parameters
    ----------
    signal_variances : array_like, shape (k,)
        ``s_i > 0``, per-sample variances of the important components.
    noise_spectrum : array_like, shape (d,)
        ``lambda^Gamma >= 0``, zero on the first ``k`` entries.
    augmentation_spectrum : array_like, shape (d,)
        ``lambda^Theta >= 0``.
    basis : array_like, shape (d, d), optional
        Orthonormal ``Q``; identity by default.
    n_classes : int, default 10
        Number of classes of the downstream task.
    label_seed : int, Generator or SeedSequence, default 0
        Seed of the label map ``A``.

    Examples
    --------
    >>> import linssl
    >>> model = linssl.SignalNoiseModel.random(k=3, d=8, gamma_max=1e3, seed=0)
    >>> data = model.sample(n=50, seed=1)
    >>> data.clean.shape, data.corrupted.shape, data.labels.shape
    ((50, 8), (50, 8), (50,))
    """

    signal_variances: np.ndarray
    noise_spectrum: np.ndarray
    augmentation_spectrum: np.ndarray
    basis: Optional[np.ndarray] = None
    n_classes: int = 10
    label_seed: SeedLike = 0

    def __post_init__(self):
        s = _vector(self.signal_variances, "signal_variances")
        lam_g = _vector(self.noise_spectrum, "noise_spectrum")
        lam_t = _vector(self.augmentation_spectrum, "augmentation_spectrum")
        k, d = len(s), len(lam_g)
        if k == 0 or np.any(s <= 0):
            raise ValueError("signal_variances must be a non-empty vector of positive variances")
        if d < k:
            raise ValueError(f"noise_spectrum must have d >= k = {k} entries (one per feature); got {d}")
        if lam_t.shape != (d,):
            raise ValueError(f"augmentation_spectrum must have shape ({d},) like noise_spectrum; got {lam_t.shape}")
        if np.any(lam_g < 0) or np.any(lam_t < 0):
            raise ValueError("noise_spectrum and augmentation_spectrum are variances and must be >= 0")
        if np.any(lam_g[:k] != 0):
            raise ValueError(
                f"noise_spectrum must be zero on the first k = {k} (important) directions; "
                f"its largest entry there is {lam_g[:k].max():.3g}"
            )
        Q = np.eye(d) if self.basis is None else np.array(self.basis, dtype=np.float64)
        if Q.shape != (d, d):
            raise ValueError(f"basis must have shape ({d}, {d}); got {Q.shape}")
        if not np.all(np.isfinite(Q)) or np.abs(Q.T @ Q - np.eye(d)).max() > 1e-8:
            raise ValueError("basis must be orthonormal (Q^T Q = I); orthonormalise it, e.g. with np.linalg.qr")
        Q.flags.writeable = False
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, (int, np.integer)) or self.n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2; got {self.n_classes!r}")
        for name, value in (("signal_variances", s), ("noise_spectrum", lam_g), ("augmentation_spectrum", lam_t)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "basis", Q)
        object.__setattr__(self, "label_seed", _fixed_seed(self.label_seed))

    @classmethod
    def random(
        cls,
        k: int,
        d: int,
        *,
        signal_max: float = 3e5,
        signal_min: float = 1.5e4,
        gamma_max: float = 1e3,
        theta_max: float = 1e4,
        rotate: bool = False,
        n_classes: int = 10,
        seed: SeedLike = 0,
    ) -> "SignalNoiseModel":
        """A model with a geometric signal spectrum and the paper's uniform noise spectra.

        The defaults mimic the setting of the paper's Appendix C: signal variances decay
        geometrically from ``signal_max`` to ``signal_min`` (about the range of the top 50
        principal variances of MNIST in [0, 255] pixel units), ``lambda^Gamma`` is uniform on
        ``[0, gamma_max]`` over the ``d - k`` noise directions (``1e3``: weak, ``1e6``: strong
        irrelevant features) and ``lambda^Theta`` uniform on ``[0, theta_max]`` over all ``d``.

        Parameters
        ----------
        k, d : int
            Important components and total dimension, ``1 <= k <= d``.
        rotate : bool, default False
            Use a Haar-random orthonormal basis instead of the identity.
        seed : int, Generator or SeedSequence
            Seed of the spectra, the basis and the label map (a generator is drawn from once).
        """
        if not 1 <= k <= d:
            raise ValueError(f"need 1 <= k <= d; got k={k}, d={d}")
        for name, value in (("signal_max", signal_max), ("signal_min", signal_min), ("gamma_max", gamma_max), ("theta_max", theta_max)):
            if not (isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} is a variance and must be a finite number >= 0; got {value!r}")
        if not 0 < signal_min <= signal_max:
            raise ValueError(f"need 0 < signal_min <= signal_max; got {signal_min} and {signal_max}")
        seed = _fixed_seed(seed)
        rng = _stream(seed, "model")
        lam_g = np.concatenate([np.zeros(k), rng.uniform(0.0, gamma_max, d - k)])
        lam_t = rng.uniform(0.0, theta_max, d)
        basis = _random_rotation(d, rng) if rotate else None
        return cls(np.geomspace(signal_max, signal_min, k), lam_g, lam_t, basis, n_classes=n_classes, label_seed=seed)

    # --- shapes and matrices -----------------------------------------------------------------------

    @property
    def k(self) -> int:
        """Number of important components."""
        return len(self.signal_variances)

    @property
    def d(self) -> int:
        """Number of features."""
        return len(self.noise_spectrum)

    @property
    def Q(self) -> np.ndarray:
        """The orthonormal basis ``Q``, shape (d, d) (the identity when none was given)."""
        return cast(np.ndarray, self.basis)

    @property
    def signal_basis(self) -> np.ndarray:
        """``Q_1``, shape (d, k): the important subspace."""
        return self.Q[:, : self.k]

    def _in_basis(self, spectrum: np.ndarray) -> np.ndarray:
        """``Q diag(spectrum) Q^T``, shape (d, d)."""
        return (self.Q * spectrum) @ self.Q.T

    @property
    def Gamma(self) -> np.ndarray:
        """Covariance of the irrelevant features, ``Q diag(lambda^Gamma) Q^T``, shape (d, d)."""
        return self._in_basis(self.noise_spectrum)

    @property
    def Theta(self) -> np.ndarray:
        """Covariance of the augmentation noise ``theta``, ``Q diag(lambda^Theta) Q^T``, shape (d, d)."""
        return self._in_basis(self.augmentation_spectrum)

    @cached_property
    def label_weights(self) -> np.ndarray:
        """The label map ``A``, shape (n_classes, k): labels are ``argmax(A z)``."""
        return _stream(self.label_seed, "labels").standard_normal((self.n_classes, self.k))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k}, d={self.d}, n_classes={self.n_classes})"

    # --- sampling, augmentation and moments ---------------------------------------------------------

    @cached_property
    def _identity_basis(self) -> bool:
        return bool(np.array_equal(self.Q, np.eye(self.d)))

    def _from_coordinates(self, coords: np.ndarray) -> np.ndarray:
        """Rows ``Q c`` for coordinates ``c`` (n, m) on the first ``m`` basis vectors."""
        if self._identity_basis:
            out = np.zeros((coords.shape[0], self.d))
            out[:, : coords.shape[1]] = coords
            return out
        return coords @ self.Q[:, : coords.shape[1]].T

    def _corrupt(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        gamma = rng.standard_normal(clean.shape) * np.sqrt(self.noise_spectrum)
        return clean + self._from_coordinates(gamma)

    def sample(self, n: int, seed: SeedLike = 0, split: str = "train") -> Sample:
        """Draw ``n`` samples.

        Parameters
        ----------
        n : int
            Number of samples, >= 1.
        seed : int, Generator or SeedSequence, default 0
            Seed; the same integer ``(n, seed, split)`` gives the same sample.
        split : {"train", "test"}
            ``"test"`` draws from a random stream independent of ``"train"`` for every seed,
            for held-out evaluation.

        Returns
        -------
        Sample
        """
        rng = _split_stream(seed, split)
        n = _sample_size(n)
        z = rng.standard_normal((n, self.k))
        clean = self._from_coordinates(z * np.sqrt(self.signal_variances))
        labels = np.argmax(z @ self.label_weights.T, axis=1).astype(np.int64)
        return Sample(clean=clean, corrupted=self._corrupt(clean, rng), labels=labels)

    def _augmentation_spectrum(self, alpha: float) -> np.ndarray:
        """``Theta + alpha**2 * Gamma`` in the model's eigenbasis: the spectrum, shape (d,)."""
        alpha = float(alpha)
        if not (np.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be a finite number >= 0; got {alpha}")
        with np.errstate(over="ignore", invalid="ignore"):  # refused just below
            spectrum = self.augmentation_spectrum + (alpha * alpha) * self.noise_spectrum
        if not np.all(np.isfinite(spectrum)):
            raise ValueError(
                f"alpha = {alpha:g} makes the augmentation variance alpha^2 lambda^Gamma overflow float64; "
                "use a smaller alpha (the n -> infinity behaviour is reached long before)"
            )
        return spectrum

    def augmentation(self, alpha: float) -> Gaussian:
        """The paper's family ``T(alpha)``: ``x + theta + alpha * gamma`` = ``Gaussian(Theta + alpha**2 Gamma)``.

        Parameters
        ----------
        alpha : float
            Alignment of the augmentations with the irrelevant features.

        Returns
        -------
        Gaussian
            With a (d,) diagonal covariance when the basis is the identity, else (d, d).
        """
        spectrum = self._augmentation_spectrum(alpha)
        if self._identity_basis:
            return Gaussian(spectrum)
        return Gaussian(self._in_basis(spectrum))

    def population_moments(self, alpha: float, corrupted: bool = True) -> AugmentedMoments:
        """The n -> infinity moments under ``T(alpha)``.

        Parameters
        ----------
        alpha : float
        corrupted : bool, default True
            Moments of corrupted data (second moment ``Q diag(s + lambda^Gamma) Q^T``, with ``s``
            padded by zeros), or of clean data (``Q diag(s) Q^T``).

        Returns
        -------
        AugmentedMoments
            With ``n = None`` and no targets (``B = None``).
        """
        spectrum = np.zeros(self.d)
        spectrum[: self.k] = self.signal_variances
        if corrupted:
            spectrum = spectrum + self.noise_spectrum
        return self.augmentation(alpha).moments_from_second_moment(self._in_basis(spectrum), n=None)


def _sample_size(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer number of samples; got {n!r}")
    return int(n)
