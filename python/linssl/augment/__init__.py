"""Augmentation distributions and the moments of augmented data they induce.

Every linssl solution depends on the data and the augmentation only through the moments of
paper.md: ``S`` (second moment of augmented views), ``G = Xbar^T Xbar / n`` (second moment of
mean views), ``C = X^T Xbar / n`` and, with targets, ``B = Y^T Xbar / n``. This package turns
data plus an augmentation spec into those moments (:class:`AugmentedMoments`), one family per
module:

- :mod:`~linssl.augment.moments`: what they induce, :class:`AugmentedMoments` and :class:`DiagonalForm`;
- :mod:`~linssl.augment.base`: the interface and the closed-form machinery;
- :mod:`~linssl.augment.noise`: :class:`Gaussian` noise (and :class:`LowRankPlusDiagonal` covariances);
- :mod:`~linssl.augment.masks`: :class:`Mask` (independent coordinates);
- :mod:`~linssl.augment.joint_masks`: masks with any joint law: :class:`PatchMask` (MAE),
  :class:`BlockMask` (cutout), :class:`PairwiseMask` (any pairwise keep law ``R``);
- :mod:`~linssl.augment.linear_maps`: :class:`RandomLinear`, finite families of affine maps;
- :mod:`~linssl.augment.image_maps`: :class:`Translate`, :class:`Flip`, :class:`CropResize`,
  :class:`Blur` as sparse random linear maps of images;
- :mod:`~linssl.augment.photometric`: :class:`Brightness`, :class:`Contrast`;
- :mod:`~linssl.augment.compose`: :class:`Compose`;
- :mod:`~linssl.augment.views`: :class:`TwoViews`, two view distributions for joint embedding;
- :mod:`~linssl.augment.spelling`: augmentations spelled as strings (``"patch:4:0.75"``);
- :mod:`~linssl.augment.monte_carlo`: :class:`Custom`, any function, by Monte Carlo.

Closed-form augmentations are described by two maps acting on the clean second moment
``M = X^T X / n``:

- the mean map ``P``: ``xbar = P x`` (identity for additive noise, ``diag(p)`` for masks);
- the second-moment map ``F``: ``M -> (1/n) sum_i E[tau(x_i) tau(x_i)^T]``
  (noise: ``M + cov``; mask: ``D M D + diag(p (1 - p) diag(M))``).

Applying ``tau_2`` after ``tau_1`` (independent draws) has mean map ``P_2 P_1`` and second-moment
map ``F_2 o F_1``, which makes compositions exact. Then ``S = F(M)``, ``G = P M P^T``,
``C = M P^T`` and ``B = (X^T Y / n)^T P^T``: one pass over the data (the Rust accumulator), then
O(d^2) work, and no augmented copy is ever materialised.
"""

from linssl.augment.base import Augmentation, ClosedFormAugmentation
from linssl.augment.moments import AugmentedMoments, DiagonalForm
from linssl.augment.compose import Compose
from linssl.augment.image_maps import Blur, CropResize, Flip, ImageMaps, Translate
from linssl.augment.joint_masks import BlockMask, JointMask, PairwiseMask, PatchMask
from linssl.augment.linear_maps import RandomLinear
from linssl.augment.masks import Mask
from linssl.augment.photometric import Brightness, Contrast
from linssl.augment.views import TwoViews, as_views
from linssl.augment.spelling import parse_augmentation
from linssl.augment.monte_carlo import Custom
from linssl.augment.noise import CovarianceLike, Gaussian, LowRankPlusDiagonal

__all__ = [
    "AugmentedMoments",
    "Augmentation",
    "BlockMask",
    "Blur",
    "Brightness",
    "ClosedFormAugmentation",
    "Compose",
    "Contrast",
    "CovarianceLike",
    "CropResize",
    "Custom",
    "DiagonalForm",
    "Flip",
    "Gaussian",
    "ImageMaps",
    "JointMask",
    "LowRankPlusDiagonal",
    "Mask",
    "PairwiseMask",
    "PatchMask",
    "RandomLinear",
    "Translate",
    "TwoViews",
    "as_views",
    "parse_augmentation",
]
