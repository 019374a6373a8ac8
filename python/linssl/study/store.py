"""A study's results directory: atomic per-group files, resumable, and never silently overwritten.

Layout of ``out/``::

    study.json          the grid (and linssl version) the directory belongs to
    groups/<key>.csv    one finished data configuration each, written atomically
    results.csv         the whole table, written atomically when the study finishes

A file appears under its final name only once complete (written to a temporary name in the same
directory, flushed to disk, then renamed), so a study killed at any instant leaves finished groups
intact and at most a stray temporary file, which the next run removes. Files the store did not
write, or cannot read back, are reported rather than overwritten.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Iterable

import pandas as pd

__all__ = ["ResultStore", "StoreError", "write_atomic"]

_TMP_MARK = ".tmp-"


class StoreError(ValueError):
    """The results directory holds something the study cannot safely use or overwrite."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either nothing or the whole file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}{_TMP_MARK}{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def group_key(config: dict) -> str:
    """A stable file name for a data configuration (readable prefix + hash of all fields)."""
    canonical = json.dumps(config, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return f"n{config.get('n')}-s{config.get('seed')}-{digest}"


class ResultStore:
    """Results of one study in ``root`` (see the module docstring)."""

    def __init__(self, root, study: dict, *, required_columns: Iterable[str]):
        self.root = Path(root)
        self.groups = self.root / "groups"
        self.study = study
        self.required_columns = list(required_columns)
        self.groups.mkdir(parents=True, exist_ok=True)
        manifest = self.root / "study.json"
        encoded = json.dumps(study, sort_keys=True, indent=2, default=str).encode()
        if manifest.exists():
            try:
                existing = json.loads(manifest.read_text())
            except (OSError, ValueError) as err:
                raise StoreError(f"{manifest} is not a linssl study file ({err}); use another output directory") from None
            if json.loads(encoded) != existing:
                raise StoreError(
                    f"{self.root} holds a different study (its study.json does not match this grid); "
                    "choose another output directory, or delete it to start over"
                )
        else:
            others = [p.name for p in self.root.iterdir() if p.name != "groups"]
            if others:
                raise StoreError(
                    f"{self.root} is not empty and has no study.json ({', '.join(sorted(others)[:5])}); "
                    "linssl will not write its results among unknown files: choose an empty or new directory"
                )
            write_atomic(manifest, encoded)
        self._remove_stray_temporaries()

    def _remove_stray_temporaries(self) -> None:
        for path in list(self.groups.iterdir()) + list(self.root.iterdir()):
            if path.is_file() and path.name.startswith(".") and _TMP_MARK in path.name:
                path.unlink()

    def path(self, config: dict) -> Path:
        return self.groups / f"{group_key(config)}.csv"

    def finished(self, configs: list[dict]) -> dict[str, pd.DataFrame]:
        """Finished groups among ``configs`` (by key), each validated; foreign files are reported."""
        expected = {group_key(c): c for c in configs}
        done = {}
        for path in sorted(self.groups.iterdir()):
            if path.name.startswith(".") and _TMP_MARK in path.name:
                continue
            key = path.stem
            if path.suffix != ".csv" or key not in expected:
                raise StoreError(
                    f"{path} was not written by this study; move it away (linssl does not overwrite unknown files)"
                )
            done[key] = self._read(path, expected[key])
        return done

    def _read(self, path: Path, config: dict) -> pd.DataFrame:
        try:
            frame = pd.read_csv(path)
        except Exception as err:  # pandas raises several types for damaged files
            raise StoreError(f"{path} is damaged ({err}); delete it and rerun to recompute that group") from None
        missing = [c for c in self.required_columns if c not in frame.columns]
        if frame.empty or missing:
            raise StoreError(
                f"{path} is not a complete result file (missing columns: {missing or 'all rows'}); "
                "delete it and rerun to recompute that group"
            )
        for field, value in config.items():
            column = frame[field].astype(str).unique() if field in frame.columns else []
            if len(column) != 1 or column[0] != str(value):
                raise StoreError(f"{path} holds results of another configuration ({field}); delete it and rerun")
        return frame

    def write(self, config: dict, frame: pd.DataFrame) -> pd.DataFrame:
        """Store a finished group; returns it as it reads back from disk."""
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        path = self.path(config)
        write_atomic(path, buffer.getvalue().encode())
        return pd.read_csv(path)

    def write_table(self, frame: pd.DataFrame) -> Path:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        path = self.root / "results.csv"
        write_atomic(path, buffer.getvalue().encode())
        return path
