"""The console command, run as a user would (a subprocess on the installed entry point)."""

import subprocess
import sys

import linssl


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "linssl.cli", *args], capture_output=True, text=True, timeout=600
    )


def test_version():
    out = _run("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"linssl {linssl.__version__}"


def test_help_lists_usage():
    out = _run("--help")
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout


def test_thresholds_command_prints_the_theory(tmp_path):
    from linssl import theory
    from linssl.synthetic import SignalNoiseModel

    out = _run("thresholds", "--d", "20", "--k", "5", "--gamma-max", "1e6", "--alpha", "0.1", "--alpha", "30")
    assert out.returncode == 0, out.stderr
    t = theory.thresholds(SignalNoiseModel.random(5, 20, gamma_max=1e6, seed=0))
    assert f"reconstruction {t.alpha2_rc:.6g}" in out.stdout
    assert f"joint embedding {t.alpha2_je:.6g}" in out.stdout
    assert "joint embedding needs less alignment" in out.stdout


def test_sweep_command_end_to_end_on_a_tiny_grid(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(
        '[grid]\nd = [10]\nk = [3]\nn = [50, 400]\nalpha = [0.1, 10.0]\ngamma_max = [1e3, 1e6]\n'
        '[output]\ndir = "res"\n'
    )
    out = _run("sweep", str(config), "--no-progress", "--n-jobs", "2")
    assert out.returncode == 0, out.stderr
    import matplotlib.image
    import pandas as pd

    table = pd.read_csv(tmp_path / "res" / "results.csv")
    assert len(table) == 2 * 2 * 2 * 3
    assert matplotlib.image.imread(tmp_path / "res" / "figure.png").std() > 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid]\nalpah = [1.0]\n")
    out = _run("sweep", str(bad))
    assert out.returncode == 2 and "alpah: unknown axis" in out.stderr and "Traceback" not in out.stderr
    out = _run("sweep", str(config), "--n-jobs", "0")
    assert out.returncode == 2 and "--n-jobs" in out.stderr and "Traceback" not in out.stderr


def test_reproduce_quick_agrees_with_the_papers_claims_on_the_synthetic_model(tmp_path):
    out = _run("reproduce", "--quick", "--dataset", "synthetic", "--out", str(tmp_path), "--no-progress")
    assert out.returncode == 0, out.stderr
    import pandas as pd

    summary = pd.read_csv(tmp_path / "summary-quick.csv")
    je_low = summary[(summary.paradigm == "joint_embedding") & (summary.alpha == 0.1)]
    assert (je_low.trend == "flat").all() and len(je_low) == 2  # JE, alpha = 0.1: no improvement with n
    rc_strong = summary[(summary.paradigm == "reconstruction") & (summary.noise == "strong") & (summary.alpha < 5)]
    assert (rc_strong.trend == "flat").all() and len(rc_strong) == 2  # RC, strong noise: stays far
    assert (rc_strong.distance_n_max > 0.05).all()
    sl = summary[summary.paradigm == "supervised"]
    assert sl.agrees.all() and len(sl) == 6  # supervised improves with n for every alpha
    assert "cells agree with the paper" in out.stdout
    for name in ("figure3_synthetic-quick.png", "phase_diagram-quick.png", "results-quick.csv"):
        assert (tmp_path / name).stat().st_size > 0


def test_bench_quick_prints_every_comparison_as_json():
    import json

    from linssl.bench import comparisons

    out = _run("bench", "--quick", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [row["name"] for row in report["rows"]] == list(comparisons(quick=True))
    assert report["quick"] is True and report["peak_gflops"] > 0
    for row in report["rows"]:
        for key in ("linssl_s", "reference_s", "speedup"):
            assert isinstance(row[key], float) and row[key] > 0, (row["name"], key)
        assert row["gflops"] is None or row["gflops"] > 0
        assert 0 <= row["agreement"] < 1e-5, row  # linssl and the reference computed the same thing


def test_bench_rejects_unknown_comparisons():
    out = _run("bench", "--quick", "--only", "nope")
    assert out.returncode == 2 and "unknown comparisons" in out.stderr and "Traceback" not in out.stderr



def test_bad_study_files_get_an_error_line_not_a_traceback(tmp_path):
    cases = {
        'dataset = ["missing.npz"]\nn = [100]': "no such file",
        "gamma_max = [nan]": "must be finite",
        "n = [[100, 200]]": "must be an integer",
        "n = [1979-05-27]": "must be an integer",
        "n = [150.7]": "must be an integer; got 150.7",
        "n = [true]": "not a boolean",
    }
    for body, message in cases.items():
        path = tmp_path / "study.toml"
        path.write_text(f"[grid]\n{body}\n")
        out = _run("sweep", str(path), "--no-progress")
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, (body, out.stderr)
    for body, message in (("grid = 5\n", "a grid is a mapping"), ("[grid]\nn = [100]\n[output]\ndir = 5\n", "study.output.dir")):
        path.write_text(body)
        out = _run("sweep", str(path), "--no-progress")
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, (body, out.stderr)
