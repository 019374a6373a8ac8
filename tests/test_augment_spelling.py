"""Augmentations spelled as strings (study grids): each spelling builds the augmentation it names,
and sweeps run over the new ones."""

import numpy as np
import pytest

import linssl
from linssl.augment import parse_augmentation
from linssl.study import sweep


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("patch:4:0.75", linssl.PatchMask(None, 4, 0.75)),
        ("block:3:2", linssl.BlockMask(None, 3, 2)),
        ("translate:2", linssl.Translate(None, 2)),
        ("translate:1:circular", linssl.Translate(None, 1, padding="circular")),
        ("flip", linssl.Flip(None)),
        ("vflip:0.3", linssl.Flip(None, axis=0, p=0.3)),
        ("crop:0.5:10", linssl.CropResize(None, scale=(0.5, 1.0), n_crops=10)),
        ("blur:0:1.5", linssl.Blur(None, (0.0, 1.5))),
        ("brightness:0.2", linssl.Brightness(0.2)),
        ("contrast:0.4", linssl.Contrast(None, 0.4)),
        ("gaussian:0.1", linssl.Gaussian(0.1)),
        ("translate:2+patch:2:0.5", linssl.Compose([linssl.Translate(None, 2), linssl.PatchMask(None, 2, 0.5)])),
        ("flip|gaussian:1", linssl.TwoViews(linssl.Flip(None), linssl.Gaussian(1.0))),
    ],
)
def test_spellings_build_the_named_augmentation(spec, expected):
    assert parse_augmentation(spec) == expected


@pytest.mark.parametrize("spec", ["patch:4", "translate:2:mirror", "flip:x", "patch:4:1.5", "a|b|c", "shear:2"])
def test_bad_spellings_are_refused_naming_the_valid_ones(spec):
    with pytest.raises(ValueError, match="augmentation"):
        parse_augmentation(spec)


# Flip averages out the mirror-antisymmetric part of the mean views: G loses rank, as it should.
@pytest.mark.filterwarnings("ignore::linssl.NumericalWarning")
def test_sweep_over_image_augmentations_on_digits():
    # The study's clean data have rank k, so masks and maps alone leave S singular: add a little noise.
    augmentations = ["patch:2:0.5+gaussian:0.01", "translate:1+gaussian:0.01", "flip+gaussian:0.01",
                     "translate:1+gaussian:0.01|patch:2:0.5+gaussian:0.01"]
    df = sweep.run(
        {"dataset": ["digits"], "d": [64], "k": [8], "n": [300], "augmentation": augmentations}, progress=False
    )
    assert set(df["augmentation"]) == set(augmentations)
    assert np.all(np.isfinite(df["probe_loss_corrupted"]))
