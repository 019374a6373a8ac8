"""The results directory of a study: atomic files, resume, and refusal to overwrite unknown files."""

import os
import socket
import subprocess
import sys
import warnings

import pandas as pd
import pytest

from linssl.study.store import ResultStore, StoreError, group_key, write_atomic

CONFIGS = [{"dataset": "synthetic", "n": 100, "seed": 0}, {"dataset": "synthetic", "n": 200, "seed": 0}]
COLUMNS = ["dataset", "n", "seed", "paradigm", "distance_to_optimality"]


def _frame(config, value):
    return pd.DataFrame([{**config, "paradigm": "supervised", "distance_to_optimality": value}])


def _store(root):
    return ResultStore(root, {"groups": CONFIGS}, required_columns=COLUMNS)


def test_written_groups_are_found_again_and_read_back_exactly(tmp_path):
    store = _store(tmp_path)
    assert store.finished(CONFIGS) == {}
    back = store.write(CONFIGS[0], _frame(CONFIGS[0], 0.1 + 0.2))
    assert back["distance_to_optimality"].iloc[0] == 0.1 + 0.2  # floats round-trip exactly
    again = _store(tmp_path).finished(CONFIGS)
    assert list(again) == [group_key(CONFIGS[0])]


def test_stray_temporary_files_from_a_killed_run_are_removed_live_ones_kept(tmp_path):
    store = _store(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    stray = store.groups / f".{group_key(CONFIGS[1])}.csv.tmp-{host}-{dead.stdout.strip()}"
    stray.write_text("dataset,n\nsynth")  # a write of a process that was killed half way
    live = store.groups / f".{group_key(CONFIGS[0])}.csv.tmp-{host}-{os.getpid()}"
    live.write_text("dataset,n\n")  # another study writing into the same directory right now
    elsewhere = store.groups / f".{group_key(CONFIGS[0])}.csv.tmp-otherhost-99"
    elsewhere.write_text("x")
    old = store.groups / f".{group_key(CONFIGS[1])}.csv.tmp-otherhost-98"
    old.write_text("x")
    os.utime(old, (0, 0))  # written by another host long ago
    _store(tmp_path)
    assert not stray.exists() and live.exists() and elsewhere.exists() and not old.exists()


def test_damaged_and_foreign_files_are_reported_not_overwritten(tmp_path):
    store = _store(tmp_path)
    path = store.path(CONFIGS[0])
    path.write_text("dataset,n\n")  # truncated: header only
    with pytest.raises(StoreError, match="not a complete result file"):
        store.finished(CONFIGS)
    path.unlink()
    foreign = store.groups / "notes.txt"
    foreign.write_text("my notes")
    with pytest.raises(StoreError, match="not written by this study"):
        store.finished(CONFIGS)
    assert foreign.read_text() == "my notes"


def test_a_file_under_the_wrong_name_is_detected(tmp_path):
    store = _store(tmp_path)
    store.path(CONFIGS[1]).write_text(_frame(CONFIGS[0], 1.0).to_csv(index=False))
    with pytest.raises(StoreError, match="another configuration"):
        store.finished(CONFIGS)


def test_a_directory_of_another_study_or_of_unknown_files_is_refused(tmp_path):
    _store(tmp_path / "a")
    with pytest.raises(StoreError, match="different study"):
        ResultStore(tmp_path / "a", {"groups": CONFIGS[:1]}, required_columns=COLUMNS)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "thesis.tex").write_text("...")
    with pytest.raises(StoreError, match="not empty"):
        _store(tmp_path / "b")


def test_write_atomic_replaces_whole_files(tmp_path):
    target = tmp_path / "x.bin"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_a_write_interrupted_before_its_rename_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    store = _store(tmp_path)
    store.write(CONFIGS[0], _frame(CONFIGS[0], 1.0))
    before = store.path(CONFIGS[0]).read_bytes()

    def crash(src, dst):  # the process dies after writing the temporary file, before the rename
        raise OSError("killed")

    monkeypatch.setattr("linssl.study.store.os.replace", crash)
    with pytest.raises(OSError, match="killed"):
        store.write(CONFIGS[0], _frame(CONFIGS[0], 2.0))
    monkeypatch.undo()
    assert store.path(CONFIGS[0]).read_bytes() == before
    again = _store(tmp_path)  # the next run removes the orphaned temporary file...
    assert sorted(p.name for p in again.groups.iterdir()) == [store.path(CONFIGS[0]).name]
    assert again.finished(CONFIGS)[group_key(CONFIGS[0])]["distance_to_optimality"].iloc[0] == 1.0  # ...and keeps the old


def test_a_damaged_study_file_or_binary_group_file_is_reported_not_overwritten(tmp_path):
    _store(tmp_path)
    manifest = tmp_path / "study.json"
    manifest.write_bytes(b"\x00\xffnot json")
    with pytest.raises(StoreError, match="not a linssl study file"):
        _store(tmp_path)
    assert manifest.read_bytes() == b"\x00\xffnot json"
    manifest.unlink()
    store = ResultStore(tmp_path / "fresh", {"groups": CONFIGS}, required_columns=COLUMNS)
    garbage = bytes(range(256)) * 4
    store.path(CONFIGS[1]).write_bytes(garbage)
    with pytest.raises(StoreError, match="damaged|not a complete result file"):
        store.finished(CONFIGS)
    assert store.path(CONFIGS[1]).read_bytes() == garbage


def test_group_files_with_rows_lost_or_duplicated_are_recomputed_and_reported(tmp_path):
    cells = [("0.1", "supervised"), ("1.0", "supervised")]
    make = lambda root: ResultStore(
        root, {"groups": CONFIGS}, required_columns=COLUMNS, cells=cells, cell_columns=["alpha", "paradigm"]
    )
    store = make(tmp_path)
    full = pd.concat([_frame(CONFIGS[0], 1.0).assign(alpha=a) for a in (0.1, 1.0)])
    store.write(CONFIGS[0], full)
    store.write(CONFIGS[1], pd.concat([full.assign(n=200)] * 1).iloc[:1])  # truncated at a row boundary
    again = make(tmp_path)
    done = again.finished(CONFIGS)
    assert list(done) == [group_key(CONFIGS[0])]
    assert [(p.name, why) for p, why in again.repaired] == [
        (f"{group_key(CONFIGS[1])}.csv", "it has 1 rows for 2 cells (1 missing, 0 duplicated); recomputed")
    ]
    store.write(CONFIGS[1], pd.concat([full.assign(n=200), full.assign(n=200).iloc[:1]]))  # a row duplicated
    again = make(tmp_path)
    assert list(again.finished(CONFIGS)) == [group_key(CONFIGS[0])]
    assert "1 duplicated" in again.repaired[0][1]


def test_a_sweep_recomputes_damaged_groups_and_reruns_on_a_read_only_directory(tmp_path):
    from linssl.study import sweep

    grid = {"d": [6], "k": [2], "n": [60, 90], "alpha": [0.1, 1.0]}
    out = tmp_path / "study"
    table = sweep.run(grid, out=out, progress=False)
    group = sorted((out / "groups").glob("*.csv"))[0]
    group.write_text("\n".join(group.read_text().splitlines()[:-2]) + "\n")  # two rows lost
    with pytest.warns(sweep.StoreWarning, match="1 group file\\(s\\) failed verification"):
        again = sweep.run(grid, out=out, progress=False)
    assert len(again) == len(table) == 2 * 2 * 3
    pd.testing.assert_frame_equal(
        again.drop(columns=list(sweep.TIMING_COLUMNS)), table.drop(columns=list(sweep.TIMING_COLUMNS)), check_exact=False, rtol=1e-12
    )
    if os.geteuid() != 0:  # root writes anywhere
        for path in [out, out / "groups", *out.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sweep.run(grid, out=out, progress=False)  # finished: nothing is rewritten
