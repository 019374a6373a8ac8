"""The typed schema of grids and study files: what is refused, and how the refusal reads."""

import matplotlib
import numpy as np
import pytest

import linssl
from linssl.study import plots, sweep
from linssl.study.config import load_study
from linssl.study.grid import Grid, expand


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[grid]\nn = [150.7]\n", r"study.grid.n\[0\]: must be an integer; got 150.7"),
        ("[grid]\nn = [true]\n", r"study.grid.n\[0\]: must be an integer, not a boolean"),
        ("[grid]\nseed = [1.5]\n", r"study.grid.seed\[0\]: must be an integer; got 1.5"),
        ("[grid]\nn = [0]\n", r"study.grid.n\[0\]: must be >= 1; got 0"),
        ("[grid]\nn = ['100']\n", r"study.grid.n\[0\]: must be an integer; got '100'"),
        ("[grid]\ngamma_max = [nan]\n", r"study.grid.gamma_max\[0\]: must be finite"),
        ("[grid]\nalpha = [-1.0]\n", r"study.grid.alpha\[0\]: must be >= 0"),
        ("[grid]\nn = []\n", "grid axis 'n' is empty"),
        ("[grid]\ndataset = [5]\n", r"study.grid.dataset\[0\]: must be a string; got 5"),
        ("[grid]\nparadigm = ['pca']\n", "unknown paradigm 'pca'"),
        ("[grid]\nn = [100]\n[output]\nfigure = \"no\"\n", r"study.output.figure: Input should be a valid boolean"),
        ("[grid]\nn = [100]\n[output]\ndir = 5\n", r"study.output.dir: Input should be a valid string"),
        ("[grid]\nn = [100]\n[run]\nexecutor = \"slurm\"\n", r"study.run.executor: Input should be 'local' or 'dask'"),
        ("[grid]\nn = [100]\n[run]\nn_jobs = 0\n", r"study.run.n_jobs: Input should be greater than or equal to 1"),
        ("[grid]\nn = [100]\n[run]\nn_jobs = \"2\"\n", r"study.run.n_jobs: Input should be a valid integer"),
        ("[grid]\nn = [100]\n[plot]\nx = 1\n", r"study.plot: unknown key \(valid: grid, output, run\)"),
        ("[grid]\nn = [100]\nwhen = 1979-05-27\n", r"study.grid.when: unknown axis \(valid: dataset, d, k,"),
    ],
)
def test_invalid_study_files_are_refused_naming_the_entry(tmp_path, toml, message):
    path = tmp_path / "study.toml"
    path.write_text(toml)
    with pytest.raises(ValueError, match=message):
        load_study(path)


def test_a_valid_file_reads_exactly():
    study_text = "[grid]\nn = [100, 1e3]\nalpha = [0.1, 1]\nparadigm = ['je']\n[output]\nfigure = false\n[run]\nn_jobs = 2\n"
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.toml"
        path.write_text(study_text)
        study = load_study(path)
        assert study.grid.n == [100, 1000] and all(type(v) is int for v in study.grid.n)
        assert study.grid.alpha == [0.1, 1.0] and study.grid.paradigm == ["joint_embedding"]
        assert study.output.figure is False and study.out == Path(tmp) / "s-results"
        assert study.run.n_jobs == 2


def test_python_grids_take_numpy_values_and_refuse_the_same_mistakes():
    groups, paradigms = expand({"n": np.array([100, 200]), "d": np.int64(10), "k": 3, "alpha": np.geomspace(0.1, 1, 2)})
    assert [g.n for g, _ in groups] == [100, 200] and groups[0][0].d == 10
    assert paradigms == list(linssl.PARADIGMS)
    with pytest.raises(ValueError, match=r"grid.n\[0\]: must be an integer; got 150.7"):
        sweep.run({"n": [150.7]}, progress=False)
    with pytest.raises(ValueError, match="seeds=0: give a positive number of seeds"):
        Grid.of({"n": [10]}, seeds=0)
    assert Grid.of({"n": [10]}, seeds=2).seed == [0, 1]


def test_plots_draw_into_given_axes_and_leave_the_backend_alone():
    from matplotlib.figure import Figure

    backend = matplotlib.get_backend()
    table = sweep.run({"d": [8], "k": [2], "n": [100, 200], "alpha": [0.1, 10.0], "gamma_max": [1e3, 1e6]}, progress=False)
    fig = plots.distance_to_optimality_figure(table)
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    target = Figure()
    axes = target.subplots(2, 3)
    assert plots.distance_to_optimality_figure(table, ax=axes) is target
    assert axes[0, 1].get_title() == "Joint-Embedding" and axes[1, 2].lines
    with pytest.raises(ValueError, match="ax must hold 2 x 3 axes"):
        plots.distance_to_optimality_figure(table, ax=axes[0])
    ax = Figure().subplots()
    assert plots.phase_diagram(table, ax=ax) is ax.figure and ax.collections
    assert matplotlib.get_backend() == backend
    import sys

    assert "matplotlib.pyplot" not in sys.modules or sys.modules["matplotlib.pyplot"].get_fignums() == []
