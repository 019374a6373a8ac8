"""Exact moments of the image augmentations SSL uses (MAE patch masking, translations).

n = 60,000, d = 784 (28 x 28): ``PatchMask((28, 28), 4, 0.75)`` and ``Translate((28, 28), 2)`` (25
shifts), each from one pass over the data, against

- a plain ``linssl.second_moment`` pass (target: at most 1.2 x its time, i.e. ``speedup >= 0.83``);
- ``linssl.Custom`` Monte Carlo of the same augmentation with 64 draws (target: at least 20 x faster).

``time_moment_map_3072`` times the moment map alone (no data pass) at d = 3072 (32 x 32 x 3) for
Translate (25 shifts) and CropResize (25 and 100 crops).

Run as a script (``python benchmarks/bench_augmentations.py [--quick]``) to print the comparisons.
"""

import sys

import numpy as np

import linssl
from linssl.bench import augmentation_comparison, format_table, run

try:
    from ._paired import _Paired
except ImportError:  # run as a script: benchmarks/ is the first entry of sys.path
    from _paired import _Paired


class AugmentationMomentsVsPass(_Paired):
    params = ["patch", "translate"]
    param_names = ["augmentation"]
    repeat = 3
    timeout = 600

    def setup(self, augmentation):
        self.case = augmentation_comparison(augmentation, 60_000, 28, "pass")


class AugmentationMomentsVsMonteCarlo(_Paired):
    params = ["patch", "translate"]
    param_names = ["augmentation"]
    repeat = 1
    number = 1
    timeout = 1800

    def setup(self, augmentation):
        self.case = augmentation_comparison(augmentation, 60_000, 28, "monte-carlo", draws=64)


class MomentMap3072:
    params = ["translate:25", "crop:25", "crop:100"]
    param_names = ["family"]
    number = 1
    repeat = 2
    timeout = 900

    def setup(self, family):
        kind, count = family.split(":")
        shape = (32, 32, 3)
        self.aug = linssl.Translate(shape, 2) if kind == "translate" else linssl.CropResize(shape, n_crops=int(count))
        self.aug.family(3072)  # build the sparse maps outside the timing
        B = np.random.default_rng(0).standard_normal((3072, 3072))
        self.M = B @ B.T / 3072

    def time_moment_map_3072(self, family):
        self.aug.moments_from_second_moment(self.M)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    names = ["augment-patch", "augment-translate"] + ([] if quick else ["augment-patch-mc", "augment-translate-mc"])
    print(format_table(run(quick=quick, only=names)))
