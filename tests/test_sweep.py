"""Scaling studies: grids, determinism, resumption after a kill, and figures."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

import linssl
import pandas as pd
import pytest

from linssl import theory
from linssl.study import plots, sweep
from linssl.metrics import probe_loss
from linssl.synthetic import SignalNoiseModel
from linssl.models import JointEmbedding

TINY = {"d": [12], "k": [4], "n": [60, 200], "alpha": [0.1, 10.0], "gamma_max": [1e3, 1e6], "seed": [0, 1]}


def _deterministic(df):
    return df.drop(columns=list(sweep.TIMING_COLUMNS)).reset_index(drop=True)


def test_tiny_grid_is_tidy_complete_and_deterministic():
    df = sweep.run(TINY, progress=False)
    assert len(df) == 2 * 2 * 2 * 2 * 3  # n x alpha x gamma_max x seed x method
    assert set(df["paradigm"]) == set(linssl.PARADIGMS)
    for column in ("distance_to_optimality", "subspace_distance", "loss", "alpha2_je", "alpha2_rc", "time_solve"):
        assert df[column].notna().all(), column
    assert (df["distance_to_optimality"] >= 0).all()
    pd.testing.assert_frame_equal(_deterministic(df), _deterministic(sweep.run(TINY, progress=False)))


def test_groups_on_threads_give_the_table_of_one_group_at_a_time():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    one_at_a_time = sweep.run(TINY, progress=False, n_jobs=1)
    threaded = sweep.run(TINY, progress=False, n_jobs=3)  # more threads than cores: still the same table
    pd.testing.assert_frame_equal(_deterministic(threaded), _deterministic(one_at_a_time), check_exact=False, rtol=1e-12)
    assert blas_threads() == before  # the one-thread BLAS of the threaded groups is undone
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_jobs must be a positive integer"):
            sweep.run(TINY, progress=False, n_jobs=bad)


def test_a_row_equals_the_metric_computed_by_hand():
    # Recompute one cell of the table with the public building blocks, independently of the sweep.
    grid = {"d": [12], "k": [4], "n": [200], "alpha": [1.0], "gamma_max": [1e6], "paradigm": ["joint_embedding"]}
    row = sweep.run(grid, progress=False).iloc[0]
    model = SignalNoiseModel.random(4, 12, gamma_max=1e6, theta_max=1e4, seed=0)
    train, test = model.sample(200, seed=0), model.sample(4000, seed=0, split="test")
    aug = model.augmentation(1.0)
    clean = JointEmbedding(4, augmentation=aug).fit(train.clean)
    corrupted = JointEmbedding(4, augmentation=aug).fit(train.corrupted)
    h = 2000
    p_clean = probe_loss(clean.transform(test.clean[:h]), test.labels[:h], clean.transform(test.clean[h:]), test.labels[h:])
    p_corr = probe_loss(
        corrupted.transform(test.corrupted[:h]), test.labels[:h], corrupted.transform(test.corrupted[h:]), test.labels[h:]
    )
    assert row["distance_to_optimality"] == pytest.approx(abs(p_clean - p_corr), rel=1e-6, abs=1e-12)
    assert row["alpha2_je"] == pytest.approx(theory.thresholds(model).alpha2_je)


def test_augmentation_axis_and_bad_grids():
    df = sweep.run({"d": [8], "k": [2], "n": [100], "augmentation": ["gaussian:1e4", "gaussian:10"]}, progress=False)
    assert list(df["augmentation"].unique()) == ["gaussian:1e4", "gaussian:10"]
    assert df["predicted_optimal"].isna().all()  # theory speaks of the alpha family only
    with pytest.raises(ValueError, match="alpah: unknown axis"):
        sweep.run({"alpah": [1.0]}, progress=False)
    with pytest.raises(ValueError, match="either 'alpha'"):
        sweep.run({"alpha": [1.0], "augmentation": ["mask:0.5"]}, progress=False)
    with pytest.raises(ValueError, match="unknown augmentation"):
        sweep.run({"augmentation": ["sharpen:3"]}, progress=False)  # blur is an augmentation now


def test_results_directory_resumes_and_refuses_foreign_files(tmp_path):
    out = tmp_path / "study"
    first = sweep.run(TINY, out=out, progress=False)
    assert (out / "results.csv").exists()
    again = sweep.run(TINY, out=out, progress=False)  # everything finished: nothing recomputed
    pd.testing.assert_frame_equal(first, again)
    (out / "groups" / "mine.csv").write_text("a,b\n1,2\n")
    with pytest.raises(sweep.StoreError, match="not written by this study"):
        sweep.run(TINY, out=out, progress=False)
    with pytest.raises(sweep.StoreError, match="different study"):
        sweep.run({**TINY, "n": [60]}, out=out, progress=False)


SLOW_GRID = {"d": [60], "k": [20], "n": [200, 400, 800, 1600, 3200, 6400], "alpha": [0.1, 1.0, 10.0], "gamma_max": [1e3, 1e6], "seed": [0, 1]}


def test_a_killed_study_resumes_to_the_same_table(tmp_path):
    out = tmp_path / "killed"
    script = textwrap.dedent(
        f"""
        import time
        from linssl.study import cell, sweep
        evaluate = cell.evaluate
        def slow(*args, **kwargs):  # slow each group down so the kill lands mid-study
            time.sleep(0.3)
            return evaluate(*args, **kwargs)
        sweep.evaluate = slow
        sweep.run({SLOW_GRID!r}, out={str(out)!r}, progress=False)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    groups = out / "groups"
    deadline = time.time() + 120
    while time.time() < deadline and (not groups.exists() or len(list(groups.glob("*.csv"))) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list(groups.glob("*.csv")))
    assert 3 <= finished < 24, "the kill should land mid-study"
    resumed = sweep.run(SLOW_GRID, out=out, progress=False)
    fresh = sweep.run(SLOW_GRID, progress=False)
    pd.testing.assert_frame_equal(_deterministic(resumed), _deterministic(fresh), check_exact=False, rtol=1e-12)


def test_figures_are_valid_pngs(tmp_path):
    df = sweep.run(TINY, progress=False)
    paths = plots.save_figure(plots.distance_to_optimality_figure(df), tmp_path / "fig")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    import matplotlib.image

    image = matplotlib.image.imread(paths[0])
    assert image.shape[0] > 200 and image.shape[1] > 400 and image.std() > 0
    assert paths[1].read_bytes().startswith(b"%PDF")
    phase = sweep.run({"d": [12], "k": [4], "n": [500], "gamma_max": [1e2, 1e5], "alpha": [0.1, 10.0], "paradigm": ["je", "rc"]}, progress=False)
    (png, _) = plots.save_figure(plots.phase_diagram(phase), tmp_path / "phase")
    assert matplotlib.image.imread(png).std() > 0
    with pytest.raises(ValueError, match="columns"):
        plots.distance_to_optimality_figure(df.drop(columns=["n"]))
