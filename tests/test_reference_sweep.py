"""The one-cell-at-a-time NumPy study (linssl.bench.reference_sweep) against linssl's batched sweep.

The reference redraws every cell's data and solves it with NumPy/SciPy, sharing nothing between
cells; the sweep draws each group once, accumulates moments in Rust and solves in batches. Both
must give the same table.
"""

import numpy as np
import pytest

from linssl.bench import reference_sweep
from linssl.study import sweep

GRIDS = {
    "alpha": {"d": [12], "k": [4], "n": [60, 300], "alpha": [0.1, 10.0], "gamma_max": [1e3, 1e6], "seed": [0, 1]},
    "augmentation": {"d": [10], "k": [3], "n": [200], "augmentation": ["gaussian:1e4", "gaussian:100"]},
    "digits": {"dataset": ["digits"], "d": [16], "k": [8], "n": [150], "alpha": [1.0], "gamma_max": [1e6]},
}


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_the_reference_loop_reproduces_the_sweep(name):
    ours = sweep.run(GRIDS[name], progress=False)
    theirs = reference_sweep.run(GRIDS[name])
    keys = [c for c in theirs.columns if c not in ("distance_to_optimality", "probe_loss_clean", "probe_loss_corrupted")]
    assert ours[keys].astype(str).equals(theirs[keys].astype(str))  # same cells, same order
    scale = ours["probe_loss_clean"].to_numpy()
    for column in ("probe_loss_clean", "probe_loss_corrupted", "distance_to_optimality"):
        np.testing.assert_allclose(theirs[column], ours[column], rtol=0, atol=1e-9 * scale.max(), err_msg=column)
    assert (ours["distance_to_optimality"] > 1e-6 * scale).any()  # the comparison is not between zeros


def test_unsupported_augmentations_are_refused():
    from linssl import Custom
    from linssl.study.cell import DataConfig

    config = DataConfig("synthetic", 6, 2, 1e3, 1e4, 0, 0, 50)
    with pytest.raises(TypeError, match="Gaussian"):
        reference_sweep.cell(config, Custom(lambda x: x), "supervised")
