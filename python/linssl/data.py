"""Data: the paper's signal + irrelevant-noise model, its real-data version, and array loaders.

:class:`SignalNoiseModel` is paper.md's Section 4.1 model: ``k`` important components with
per-sample variances ``s_i`` along the first ``k`` columns of an orthonormal basis ``Q``, corrupted by
irrelevant Gaussian noise ``gamma ~ N(0, Gamma)`` living in the other ``d - k`` directions, and the
augmentation family ``T(alpha)``: ``x + theta + alpha * gamma`` with ``theta ~ N(0, Theta)``.

:func:`from_dataset` builds the same kind of model from a real data set following the paper's
Appendix C (PCA to ``n_signal`` components plus ``n_noise`` appended noise coordinates); its
``sample`` draws real rows. :func:`load_digits` and :func:`load_array` provide data without any
download.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

from linssl.augment import AugmentedMoments, Gaussian
from linssl.accumulate import moments as _data_moments

__all__ = ["DatasetModel", "Sample", "SignalNoiseModel", "from_dataset", "load_array", "load_dataset", "load_digits"]

# Independent random streams are derived from (seed, purpose): the same user seed never makes the
# train and test draws, the model's spectra or the label map share randomness.
_STREAM = {"train": 1, "test": 2, "labels": 3, "model": 4, "split": 5}


def _stream(seed, purpose: str) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    return np.random.default_rng([int(seed), _STREAM[purpose]])


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
    label_seed : int, default 0
        Seed of the label map ``A``.
    """

    signal_variances: np.ndarray
    noise_spectrum: np.ndarray
    augmentation_spectrum: np.ndarray
    basis: Optional[np.ndarray] = None
    n_classes: int = 10
    label_seed: int = 0

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
        seed: int = 0,
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
        seed : int
            Seed of the spectra, the basis and the label map.
        """
        if not 1 <= k <= d:
            raise ValueError(f"need 1 <= k <= d; got k={k}, d={d}")
        if not 0 < signal_min <= signal_max:
            raise ValueError(f"need 0 < signal_min <= signal_max; got {signal_min} and {signal_max}")
        if gamma_max < 0 or theta_max < 0:
            raise ValueError("gamma_max and theta_max are variances and must be >= 0")
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
    def signal_basis(self) -> np.ndarray:
        """``Q_1``, shape (d, k): the important subspace."""
        return self.basis[:, : self.k]

    def _in_basis(self, spectrum: np.ndarray) -> np.ndarray:
        """``Q diag(spectrum) Q^T``, shape (d, d)."""
        return (self.basis * spectrum) @ self.basis.T

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
        return bool(np.array_equal(self.basis, np.eye(self.d)))

    def _from_coordinates(self, coords: np.ndarray) -> np.ndarray:
        """Rows ``Q c`` for coordinates ``c`` (n, m) on the first ``m`` basis vectors."""
        if self._identity_basis:
            out = np.zeros((coords.shape[0], self.d))
            out[:, : coords.shape[1]] = coords
            return out
        return coords @ self.basis[:, : coords.shape[1]].T

    def _corrupt(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        gamma = rng.standard_normal(clean.shape) * np.sqrt(self.noise_spectrum)
        return clean + self._from_coordinates(gamma)

    def sample(self, n: int, seed: int = 0, split: str = "train") -> Sample:
        """Draw ``n`` samples.

        Parameters
        ----------
        n : int
            Number of samples, >= 1.
        seed : int, default 0
            Seed; the same ``(n, seed, split)`` gives the same sample.
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
        if not np.isfinite(alpha):
            raise ValueError(f"alpha must be finite; got {alpha}")
        return self.augmentation_spectrum + alpha**2 * self.noise_spectrum

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
        return self.augmentation(alpha).moments_from_second(self._in_basis(spectrum), n=None)


def _sample_size(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer number of samples; got {n!r}")
    return int(n)


@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class DatasetModel(SignalNoiseModel):
    """A :class:`SignalNoiseModel` whose clean samples are real rows (built by :func:`from_dataset`).

    ``signal_variances`` are the second moments of the principal coordinates over the train pool,
    so :meth:`population_moments` is exactly the expectation over that pool.

    Attributes
    ----------
    train_coords, test_coords : ndarray, shape (n_pool, k), float64
        Principal coordinates of the train and test pools (PCA fitted on the train pool).
    train_labels, test_labels : ndarray, shape (n_pool,), int64
        Encoded labels in ``0 .. n_classes - 1``.
    train_index, test_index : ndarray, shape (n_pool,), int64
        Rows of the source data in each pool (disjoint).
    classes : ndarray, shape (n_classes,)
        The original label values; label ``c`` stands for ``classes[c]``.
    pca_mean : ndarray, shape (d_source,), float64
    pca_components : ndarray, shape (k, d_source), float64
        Principal coordinates are ``(x - pca_mean) @ pca_components.T``.
    """

    train_coords: np.ndarray
    train_labels: np.ndarray
    test_coords: np.ndarray
    test_labels: np.ndarray
    train_index: np.ndarray
    test_index: np.ndarray
    classes: np.ndarray
    pca_mean: np.ndarray
    pca_components: np.ndarray

    @property
    def n_train(self) -> int:
        """Rows available to ``sample(..., split="train")``."""
        return len(self.train_labels)

    @property
    def n_test(self) -> int:
        """Rows available to ``sample(..., split="test")``."""
        return len(self.test_labels)

    def sample(self, n: int, seed: int = 0, split: str = "train") -> Sample:
        """Draw ``n`` real rows without replacement from the train or test pool.

        Clean rows are the principal coordinates padded with zeros on the noise block (in the
        model's basis); corrupted rows add fresh irrelevant noise. See
        :meth:`SignalNoiseModel.sample` for the parameters.
        """
        rng = _split_stream(seed, split)
        n = _sample_size(n)
        coords, labels, index = (
            (self.train_coords, self.train_labels, self.train_index)
            if split == "train"
            else (self.test_coords, self.test_labels, self.test_index)
        )
        if n > len(labels):
            raise ValueError(
                f"the {split} pool of this data set has {len(labels)} rows and samples are drawn without "
                f"replacement; use n <= {len(labels)} (or a larger data set / a smaller test_size)"
            )
        rows = rng.choice(len(labels), size=n, replace=False)
        clean = self._from_coordinates(coords[rows])
        return Sample(clean=clean, corrupted=self._corrupt(clean, rng), labels=labels[rows], index=index[rows])


def from_dataset(
    X,
    y,
    *,
    n_signal: int = 50,
    n_noise: int = 50,
    gamma_max: float = 1e3,
    theta_max: float = 1e4,
    seed: int = 0,
    test_size: Union[float, int] = 0.2,
    rotate: bool = False,
) -> DatasetModel:
    """The paper's Appendix C protocol on a real data set.

    Splits the rows into a train and a test pool, fits PCA (centred) on the train pool, keeps
    ``n_signal`` principal coordinates as the important features and appends ``n_noise``
    irrelevant coordinates, so ``d = n_signal + n_noise``; ``lambda^Gamma`` is uniform on
    ``[0, gamma_max]`` over the noise block and ``lambda^Theta`` uniform on ``[0, theta_max]`` over
    all ``d`` coordinates; ``s_i`` are the principal variances (second moments of the train
    coordinates, normalised by the pool size).

    Parameters
    ----------
    X : array_like, shape (n, p)
        Real data, any real dtype (``np.memmap`` works; rows are read in chunks for the PCA).
    y : array_like, shape (n,)
        Class labels (any values; encoded to ``0 .. n_classes - 1``).
    n_signal, n_noise : int
        Important and irrelevant dimensions; ``n_signal <= min(p, train pool size)``.
    gamma_max, theta_max : float
        Ranges of the noise and augmentation spectra.
    seed : int
        Seed of the split, the spectra and the basis.
    test_size : float in (0, 1) or int
        Fraction (or number) of rows held out in the test pool.
    rotate : bool, default False
        Express the model in a Haar-random basis instead of the coordinate basis.

    Returns
    -------
    DatasetModel
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X has dtype {X.dtype}; from_dataset needs real numbers")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), one label per row of X; got {y.shape}")
    n = X.shape[0]
    n_test = int(round(test_size * n)) if isinstance(test_size, float) else int(test_size)
    if not 1 <= n_test < n:
        raise ValueError(f"test_size={test_size!r} leaves {n_test} test rows of {n}; need at least one row in each pool")
    if n_noise < 0 or not 1 <= n_signal <= min(X.shape[1], n - n_test):
        raise ValueError(
            f"need 1 <= n_signal <= min(n_features={X.shape[1]}, train rows={n - n_test}) and n_noise >= 0; "
            f"got n_signal={n_signal}, n_noise={n_noise}"
        )
    if gamma_max < 0 or theta_max < 0:
        raise ValueError("gamma_max and theta_max are variances and must be >= 0")
    order = _stream(seed, "split").permutation(n)
    train_index, test_index = np.sort(order[n_test:]), np.sort(order[:n_test])
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("y has a single class; the downstream task needs at least two")

    mean, components = _principal_components(X, train_index, n_signal)
    train_coords = _project(X, train_index, mean, components)
    test_coords = _project(X, test_index, mean, components)
    s = np.mean(train_coords**2, axis=0)
    if np.any(s <= 1e-12 * s[0]):
        r = int(np.sum(s > 1e-12 * s[0]))
        raise ValueError(f"the train pool has only {r} non-degenerate principal components; use n_signal <= {r}")

    rng = _stream(seed, "model")
    d = n_signal + n_noise
    lam_g = np.concatenate([np.zeros(n_signal), rng.uniform(0.0, gamma_max, n_noise)])
    lam_t = rng.uniform(0.0, theta_max, d)
    basis = _random_rotation(d, rng) if rotate else None
    return DatasetModel(
        signal_variances=s,
        noise_spectrum=lam_g,
        augmentation_spectrum=lam_t,
        basis=basis,
        n_classes=len(classes),
        label_seed=seed,
        train_coords=train_coords,
        train_labels=codes[train_index].astype(np.int64),
        test_coords=test_coords,
        test_labels=codes[test_index].astype(np.int64),
        train_index=train_index,
        test_index=test_index,
        classes=classes,
        pca_mean=mean,
        pca_components=components,
    )


_PCA_CHUNK_ROWS = 4096


def _row_chunks(X: np.ndarray, index: np.ndarray):
    for i in range(0, len(index), _PCA_CHUNK_ROWS):
        yield np.asarray(X[index[i : i + _PCA_CHUNK_ROWS]], dtype=np.float64)


def _principal_components(X: np.ndarray, index: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Mean (p,) and top-``k`` principal axes (k, p) of ``X[index]``, streamed in chunks."""
    mean = sum(chunk.sum(axis=0) for chunk in _row_chunks(X, index)) / len(index)
    cov = _data_moments(chunk - mean for chunk in _row_chunks(X, index)).second
    if not np.all(np.isfinite(cov)):
        raise ValueError("X contains NaN or Inf; remove or impute those values")
    w, V = np.linalg.eigh(cov)
    axes = V[:, ::-1][:, :k].T
    # Deterministic signs (largest |entry| of each axis positive), as scikit-learn's svd_flip.
    signs = np.sign(axes[np.arange(k), np.argmax(np.abs(axes), axis=1)])
    return mean, axes * signs[:, None]


def _project(X: np.ndarray, index: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    if len(index) == 0:
        return np.zeros((0, components.shape[0]))
    return np.concatenate([(chunk - mean) @ components.T for chunk in _row_chunks(X, index)])


# --- loaders ---------------------------------------------------------------------------------------


def load_digits(*, intensity_max: float = 16.0) -> Tuple[np.ndarray, np.ndarray]:
    """The handwritten digits bundled with scikit-learn (no download).

    Parameters
    ----------
    intensity_max : float, default 16
        Brightest pixel value. The bundled images range over 0 .. 16; ``intensity_max=255``
        rescales them to MNIST's 8-bit range, for which the paper's spectra constants
        (``theta_max = 1e4``, ``gamma_max = 1e3`` or ``1e6``) were chosen. ``linssl reproduce``
        and the ``"digits"`` data set of studies use ``255``.

    Returns
    -------
    X : ndarray, shape (1797, 64), float64
        8 x 8 images, pixel values 0 .. ``intensity_max``.
    y : ndarray, shape (1797,), int64
        Digits 0 .. 9.
    """
    from sklearn.datasets import load_digits as _sklearn_digits

    if not (np.isfinite(intensity_max) and intensity_max > 0):
        raise ValueError(f"intensity_max must be a positive number; got {intensity_max!r}")
    X, y = _sklearn_digits(return_X_y=True)
    X = np.asarray(X, dtype=np.float64)
    if intensity_max != 16.0:
        X *= intensity_max / 16.0
    return X, np.asarray(y, dtype=np.int64)


def load_dataset(name) -> Tuple[np.ndarray, np.ndarray]:
    """A labelled data set by name or path, for :func:`from_dataset` and the ``linssl`` command.

    Parameters
    ----------
    name : str or Path
        - ``"digits"``: scikit-learn's bundled 8 x 8 digits with intensities rescaled from 0 .. 16 to
          MNIST's 0 .. 255, so the paper's spectra constants (``theta_max = 1e4``, ``gamma_max = 1e3``
          or ``1e6``, chosen for 8-bit images) keep their meaning;
        - a ``.npz`` file with arrays ``X`` (n, ...) and ``y`` (n,);
        - a directory holding MNIST-style IDX files ``*images-idx3-ubyte[.gz]`` and
          ``*labels-idx1-ubyte[.gz]`` (training and test files are concatenated, in that order).

    Returns
    -------
    X : ndarray, shape (n, p)
        Memory-mapped where the format allows.
    y : ndarray, shape (n,)
    """
    if str(name) == "digits":
        return load_digits(intensity_max=255.0)
    path = Path(name)
    if path.is_dir():
        images = sorted(path.glob("*images-idx3-ubyte*"), key=_train_first)
        labels = sorted(path.glob("*labels-idx1-ubyte*"), key=_train_first)
        if not images or len(images) != len(labels):
            raise FileNotFoundError(
                f"{path} must hold MNIST-style files '*images-idx3-ubyte[.gz]' and matching "
                f"'*labels-idx1-ubyte[.gz]'; found {[p.name for p in images + labels] or 'none'}"
            )
        Xs = [load_array(p) for p in images]
        ys = [np.asarray(load_array(p)).ravel() for p in labels]
        return (Xs[0], ys[0]) if len(Xs) == 1 else (np.concatenate(Xs), np.concatenate(ys))
    if path.suffix.lower() == ".npz":
        return load_array(path, "X"), np.asarray(load_array(path, "y")).ravel()
    raise ValueError(
        f"unknown data set {str(name)!r}: use 'digits', a .npz file with arrays X and y, "
        "or a directory of MNIST-style IDX files"
    )


def _train_first(path: Path):
    return (not path.name.startswith("train"), path.name)


# IDX (MNIST) element types: magic byte 3 -> big-endian dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_array(path, key: Optional[str] = None, *, flatten: bool = True) -> np.ndarray:
    """Load an array from disk, memory-mapped where the format allows. Never downloads.

    Formats (recognised by extension, IDX by its header):

    - ``.npy``: memory-mapped read-only (``np.load(path, mmap_mode="r")``);
    - ``.npz``: members stored uncompressed (``np.savez``) are memory-mapped in place; compressed
      members (``np.savez_compressed``) cannot be, and are read into memory;
    - MNIST-style IDX files (``train-images-idx3-ubyte`` ...): memory-mapped past the header;
      gzipped ones (``.gz``) are decompressed into memory.

    Parameters
    ----------
    path : str or Path
    key : str, optional
        The member of a ``.npz`` holding several arrays.
    flatten : bool, default True
        Reshape arrays with more than two dimensions (e.g. images, (n, 28, 28)) to
        ``(n, prod(rest))``; this is a view and keeps the memory map.

    Returns
    -------
    ndarray or np.memmap
        In the file's dtype (IDX data are big-endian; linssl converts chunks as it reads them).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if key is not None and suffix != ".npz":
        raise ValueError(f"key={key!r} applies to .npz files only; {path.name} holds a single array")
    if suffix == ".npy":
        array = np.load(path, mmap_mode="r")
    elif suffix == ".npz":
        array = _load_npz_member(path, key)
    elif suffix == ".gz":
        with gzip.open(path, "rb") as f:
            raw = f.read()
        array = _parse_idx(raw, path)
    else:
        with open(path, "rb") as f:
            head = f.read(4)
        if not _looks_like_idx(head):
            raise ValueError(
                f"{path} is not a format linssl reads; use .npy, .npz or an MNIST-style IDX file (optionally .gz)"
            )
        array = _memmap_idx(path)
    if flatten and array.ndim > 2:
        array = array.reshape(array.shape[0], -1)
    return array


def _load_npz_member(path: Path, key: Optional[str]) -> np.ndarray:
    with zipfile.ZipFile(path) as archive:
        members = {info.filename[: -len(".npy")]: info for info in archive.infolist() if info.filename.endswith(".npy")}
        if key is None:
            if len(members) != 1:
                raise ValueError(f"{path.name} holds several arrays ({', '.join(sorted(members))}); pass key=... to pick one")
            key = next(iter(members))
        if key not in members:
            raise KeyError(f"{path.name} has no array {key!r}; it holds {', '.join(sorted(members))}")
        info = members[key]
        if info.compress_type != zipfile.ZIP_STORED:
            with archive.open(info) as f:
                return np.lib.format.read_array(f, allow_pickle=False)
    # Stored member: its .npy bytes lie contiguous in the zip file, after the local file header
    # (30 bytes + name + extra field, whose lengths must be read from the local header itself).
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        shape, fortran, dtype = _read_npy_header(f, version)
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(f"{path.name}[{key!r}] holds Python objects; linssl needs numeric arrays")
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def _read_npy_header(f, version):
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def _looks_like_idx(head: bytes) -> bool:
    return len(head) == 4 and head[0] == 0 and head[1] == 0 and head[2] in _IDX_DTYPES and 1 <= head[3] <= 8


def _idx_header(head: bytes, path: Path):
    if not _looks_like_idx(head[:4]):
        raise ValueError(f"{path} is not an IDX file (bad magic number {head[:4].hex()})")
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        raise ValueError(f"{path} is a truncated IDX file (header cut short)")
    shape = struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])
    return np.dtype(_IDX_DTYPES[head[2]]), tuple(shape), 4 + 4 * ndim


def _check_idx_size(available: int, dtype, shape, path: Path) -> None:
    needed = int(np.prod(shape)) * dtype.itemsize
    if available != needed:
        raise ValueError(f"{path} is not a valid IDX file: its header promises {needed} data bytes, it has {available}")


def _memmap_idx(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        head = f.read(4 + 4 * 8)
    dtype, shape, offset = _idx_header(head, path)
    _check_idx_size(path.stat().st_size - offset, dtype, shape, path)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    dtype, shape, offset = _idx_header(raw[: 4 + 4 * 8], path)
    _check_idx_size(len(raw) - offset, dtype, shape, path)
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)
