"""linssl: exact optimal linear models of self-supervised learning, without training.

Joint embedding (VICReg-like), reconstruction (denoising / masked auto-encoders) and supervised
learning with augmentations all reduce to moments of the data and a generalized eigenproblem;
linssl computes them exactly, in Rust.

The pipeline, one module per step: data (:mod:`~linssl.synthetic`, :mod:`~linssl.datasets`,
:mod:`~linssl.readers`) -> moments (:mod:`~linssl.accumulate`) -> augmentations
(:mod:`~linssl.augment`) -> eigenproblems (:mod:`~linssl.linalg`, :mod:`~linssl.gram`) -> models
(:mod:`~linssl.models`) -> checks and metrics (:mod:`~linssl.checks`, :mod:`~linssl.metrics`)
and the paper's theory (:mod:`~linssl.theory`). Scaling studies live in :mod:`linssl.study`,
benchmarks and the plain NumPy reference in :mod:`linssl.bench`.
"""

from linssl._version import __version__
from linssl._errors import DtypeError, LinAlgError, NonFiniteError, NumericalWarning
from linssl.accumulate import DataMoments, MomentAccumulator, moments, second_moment
from linssl import augment
from linssl.augment import AugmentedMoments, Compose, Custom, Gaussian, LowRankPlusDiagonal, Mask
from linssl.augment import (
    BlockMask, Blur, Brightness, Contrast, CropResize, Flip, PairwiseMask, PatchMask, RandomLinear, Translate,
    TwoViews,
)
from linssl.moment_sampling import SampledMoments
from linssl.synthetic import SignalNoiseModel
from linssl.datasets import from_dataset, load_dataset, load_digits
from linssl.readers import load_array
from linssl import linalg
from linssl.models import JointEmbedding, Reconstruction, Supervised
from linssl.fitting import fit_all
from linssl import checks, metrics, theory, wishart
from linssl.paradigms import PARADIGMS


__all__ = [
    "AugmentedMoments",
    "BlockMask",
    "Blur",
    "Brightness",
    "Compose",
    "Contrast",
    "CropResize",
    "Custom",
    "DataMoments",
    "DtypeError",
    "Flip",
    "Gaussian",
    "JointEmbedding",
    "LinAlgError",
    "LowRankPlusDiagonal",
    "Mask",
    "MomentAccumulator",
    "NonFiniteError",
    "NumericalWarning",
    "PARADIGMS",
    "PairwiseMask",
    "PatchMask",
    "RandomLinear",
    "Reconstruction",
    "SampledMoments",
    "SignalNoiseModel",
    "Supervised",
    "Translate",
    "TwoViews",
    "augment",
    "checks",
    "fit_all",
    "from_dataset",
    "linalg",
    "load_array",
    "load_dataset",
    "load_digits",
    "metrics",
    "moments",
    "second_moment",
    "theory",
    "wishart",
    "__version__",
]
