"""linssl: exact optimal linear models of self-supervised learning, without training.

Joint embedding (VICReg-like), reconstruction (denoising / masked auto-encoders) and supervised
learning with augmentations all reduce to moments of the data and a generalized eigenproblem;
linssl computes them exactly, in Rust.
"""

from importlib.metadata import PackageNotFoundError, version as _version

from linssl._errors import LinAlgError, NumericalWarning
from linssl.accumulate import DataMoments, MomentAccumulator, covariance, moments
from linssl import augment, data
from linssl.augment import AugmentedMoments, Compose, Custom, Gaussian, LowRankPlusDiagonal, Mask
from linssl.data import SignalNoiseModel, from_dataset, load_array, load_digits
from linssl import linalg, theory, checks
from linssl.models import JointEmbedding, Reconstruction, Supervised, fit_all

try:
    __version__ = _version("linssl")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

__all__ = [
    "AugmentedMoments",
    "Compose",
    "Custom",
    "DataMoments",
    "Gaussian",
    "JointEmbedding",
    "LinAlgError",
    "LowRankPlusDiagonal",
    "Mask",
    "MomentAccumulator",
    "NumericalWarning",
    "Reconstruction",
    "SignalNoiseModel",
    "Supervised",
    "augment",
    "checks",
    "covariance",
    "data",
    "fit_all",
    "from_dataset",
    "linalg",
    "load_array",
    "load_digits",
    "moments",
    "theory",
    "__version__",
]
