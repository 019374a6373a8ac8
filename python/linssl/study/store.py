"""A study's results directory: atomic per-group files, resumable, and never silently overwritten.

Layout of ``out/``::

    study.json          the grid (and linssl version) the directory belongs to
    groups/<key>.csv    one finished data configuration each, written atomically
    results.csv         the whole table, written atomically when the study finishes

A file appears under its final name only once complete (written to a temporary name in the same
directory, flushed to disk, then renamed), so a study killed at any instant leaves finished groups
intact and at most a stray temporary file, which the next run removes (only its own host's
temporaries whose writer is gone: two studies may share a directory). Every group file is verified
before it is merged: its configuration, and exactly one row per expected cell (augmentation x
paradigm); a file of the study that fails (truncated, rows lost or duplicated) is recomputed and
reported in :attr:`ResultStore.repaired`. Files the store did not write are reported, never
overwritten; a directory it cannot write to is a :class:`StoreError` naming the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
from pathlib import Path
from typing import Iterable, Optional

import pandas as pd

# pandas >= 3 reads floats back exactly by default (and deprecates the option); older pandas needs it.
_PANDAS_ROUND_TRIPS = int(pd.__version__.split(".")[0]) >= 3


def _read_exact(path: Path) -> pd.DataFrame:
    """Read a result CSV with every float exactly as it was written."""
    if _PANDAS_ROUND_TRIPS:
        return pd.read_csv(path)
    return pd.read_csv(path, float_precision="round_trip")

__all__ = ["ResultStore", "StoreError", "StoreWarning", "StoreWriteError", "write_atomic"]

_TMP_MARK = ".tmp-"

#: A temporary file of another host (or of an unknown writer) older than this is stray.
_STALE_SECONDS = 24 * 3600


class StoreError(ValueError):
    """The results directory holds something the study cannot safely use or overwrite.

    Raised, with a message naming the file and what to do, for a directory of unknown files or of
    another study, and for a damaged or foreign group file. A ``ValueError``: the directory, not
    the program, needs fixing.

    Examples
    --------
    >>> import os, tempfile
    >>> from linssl.study.store import ResultStore, StoreError
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = ResultStore(tmp, {"study": "first"}, required_columns=["n"])
    ...     ResultStore(tmp, {"study": "second"}, required_columns=["n"])
    Traceback (most recent call last):
    ...
    linssl.study.store.StoreError: ... holds a different study (its study.json does not match this grid); ...
    >>> issubclass(StoreError, ValueError)
    True
    """


class StoreWriteError(StoreError, OSError):
    """A file of the study could not be written (read-only directory, full disk, missing directory).

    Both a :class:`StoreError` and an ``OSError``, with a message that says which file and what to
    do.

    Examples
    --------
    >>> import os, tempfile
    >>> from linssl.study.store import StoreWriteError, write_atomic
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     try:
    ...         write_atomic(os.path.join(tmp, "missing", "results.csv"), b"n\\n100\\n")
    ...     except StoreWriteError as err:
    ...         print(isinstance(err, OSError), "choose a writable output directory" in str(err))
    ...     os.listdir(tmp)  # nothing left behind
    True True
    []
    """


class StoreWarning(UserWarning):
    """The store recomputed group files that failed verification (the message lists them).

    Issued by :func:`linssl.study.sweep.run` when it resumes a directory whose group files lost or
    duplicated rows (e.g. edited by hand, or copied incompletely); the study then recomputes them.

    Examples
    --------
    >>> import tempfile, warnings
    >>> from pathlib import Path
    >>> from linssl.study import sweep
    >>> grid = {"d": [6], "k": [2], "n": [100], "alpha": [1.0], "paradigm": ["joint_embedding", "reconstruction"]}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = Path(tmp) / "study"
    ...     _ = sweep.run(grid, out=out, progress=False)
    ...     (group,) = (out / "groups").iterdir()
    ...     _ = group.write_text("".join(group.read_text().splitlines(keepends=True)[:2]))  # one row lost
    ...     with warnings.catch_warnings(record=True) as caught:
    ...         warnings.simplefilter("always")
    ...         table = sweep.run(grid, out=out, progress=False)
    >>> [w.category.__name__ for w in caught], len(table)
    (['StoreWarning'], 2)
    >>> print(caught[0].message)
    1 group file(s) failed verification and are recomputed: ...: it has 1 rows for 2 cells (1 missing, 0 duplicated); recomputed
    """


def _writer_tag() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either nothing or the whole file.

    The bytes go to a temporary file in the same directory, are flushed to disk, and the file is
    then renamed to ``path``: a process killed at any instant leaves the old file (or none) and at
    most a stray temporary, never a truncated ``path``.

    Parameters
    ----------
    path : str or Path
        Destination; its directory must exist. An existing file is replaced.
    data : bytes
        The whole contents.

    Raises
    ------
    StoreWriteError
        The file cannot be written (read-only directory, full disk, ...); nothing is left behind.

    Examples
    --------
    >>> import os, tempfile
    >>> from linssl.study.store import write_atomic
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "results.csv")
    ...     write_atomic(path, b"n,loss\\n100,0.5\\n")
    ...     with open(path, "rb") as f:
    ...         f.read(), os.listdir(tmp)
    (b'n,loss\\n100,0.5\\n', ['results.csv'])
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}{_TMP_MARK}{_writer_tag()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the directory is not writable: nothing was left behind
            pass
        raise StoreWriteError(f"cannot write {path}: {err.strerror or err}; choose a writable output directory with free space") from None
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
    """Results of one study in ``root`` (see the module docstring).

    Opening a store creates ``root`` (and ``root/groups``), writes ``study.json`` for a new
    directory or checks that it matches ``study``, and removes stray temporary files.

    Parameters
    ----------
    root : str or Path
        The results directory: new, empty, or one this study wrote.
    study : dict
        JSON-serializable description of the study (grid, linssl version, ...), written as
        ``study.json``: a directory of a different study is refused.
    required_columns : iterable of str
        Columns every group file must have.
    cells : iterable of tuple, optional
        The cells every group file must hold exactly once, as tuples of ``cell_columns`` values;
        ``None`` skips that check.
    cell_columns : iterable of str, default ()
        The columns that name a cell within a group file.

    Attributes
    ----------
    groups : Path
        ``root / "groups"``, one CSV file per finished data configuration.
    repaired : list of (Path, str)
        Group files that failed verification in :meth:`finished` and why; they are recomputed.

    Raises
    ------
    StoreError
        ``root`` holds another study or files the store did not write.
    StoreWriteError
        ``root`` cannot be created or written.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from linssl.study.store import ResultStore
    >>> kw = dict(required_columns=["n", "loss"], cells=[("a",), ("b",)], cell_columns=["cell"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     store = ResultStore(tmp, {"study": "demo"}, **kw)
    ...     _ = store.write({"n": 100}, pd.DataFrame({"n": [100, 100], "cell": ["a", "b"], "loss": [0.5, 0.25]}))
    ...     resumed = ResultStore(tmp, {"study": "demo"}, **kw)  # e.g. after an interruption
    ...     done = resumed.finished([{"n": 100}, {"n": 200}])
    ...     sorted(os.listdir(tmp)), [frame["loss"].tolist() for frame in done.values()], resumed.repaired
    (['groups', 'study.json'], [[0.5, 0.25]], [])
    """

    def __init__(
        self, root, study: dict, *, required_columns: Iterable[str], cells: Optional[Iterable[tuple]] = None,
        cell_columns: Iterable[str] = (),
    ):
        self.root = Path(root)
        self.groups = self.root / "groups"
        self.study = study
        self.required_columns = list(required_columns)
        #: The cells every group file must hold once each: tuples of ``cell_columns`` values.
        self.cells = None if cells is None else sorted(tuple(str(v) for v in c) for c in cells)
        self.cell_columns = list(cell_columns)
        #: What the store recomputed because its file failed verification: ``(path, reason)``.
        self.repaired: list[tuple[Path, str]] = []
        try:
            self.groups.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreWriteError(f"cannot create {self.groups}: {err.strerror or err}; choose a writable output directory") from None
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
        """Remove temporaries whose writer is gone: this host's dead processes, or any writer's
        after a day (another study may be writing into the same directory right now)."""
        host = socket.gethostname()
        for path in list(self.groups.iterdir()) + list(self.root.iterdir()):
            if not (path.is_file() and path.name.startswith(".") and _TMP_MARK in path.name):
                continue
            writer = path.name.rsplit(_TMP_MARK, 1)[1]
            who, _, pid = writer.rpartition("-")
            if who == host and pid.isdigit():
                stray = not _alive(int(pid))
            else:
                stray = time.time() - path.stat().st_mtime > _STALE_SECONDS
            if stray:
                path.unlink(missing_ok=True)

    def path(self, config: dict) -> Path:
        """The group file of a data configuration, whether or not it exists yet.

        Parameters
        ----------
        config : dict
            The data configuration (JSON-serializable values).

        Returns
        -------
        Path
            ``groups / "<key>.csv"``: a readable prefix (``n``, ``seed``) and a hash of every field.

        Examples
        --------
        >>> import tempfile
        >>> from linssl.study.store import ResultStore
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = ResultStore(tmp, {"study": "demo"}, required_columns=["n"]).path({"n": 100, "seed": 0})
        ...     path.relative_to(tmp).as_posix(), path.exists()
        ('groups/n100-s0-5cd0f66c75d24ec1.csv', False)
        """
        return self.groups / f"{group_key(config)}.csv"

    def finished(self, configs: list[dict]) -> dict[str, pd.DataFrame]:
        """Finished groups among ``configs`` (by key), each verified; foreign files are reported,
        incomplete files of the study left out (to be recomputed) and listed in :attr:`repaired`.

        Parameters
        ----------
        configs : list of dict
            Every data configuration of the study (finished or not).

        Returns
        -------
        dict of str to pandas.DataFrame
            The group files that passed verification, keyed by group key (the file's stem).

        Raises
        ------
        StoreError
            For a file the study did not write, or one that is damaged or of another configuration.

        Examples
        --------
        >>> import tempfile
        >>> import pandas as pd
        >>> from linssl.study.store import ResultStore
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     store = ResultStore(tmp, {"study": "demo"}, required_columns=["n", "loss"])
        ...     _ = store.write({"n": 100}, pd.DataFrame({"n": [100], "loss": [0.5]}))
        ...     done = store.finished([{"n": 100}, {"n": 200}])
        ...     list(done) == [store.path({"n": 100}).stem], done[store.path({"n": 100}).stem]["loss"].tolist()
        (True, [0.5])
        """
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
            frame = self._read(path, expected[key])
            problem = self._incomplete(frame)
            if problem is None:
                done[key] = frame
            else:
                self.repaired.append((path, problem))
        return done

    def _incomplete(self, frame: pd.DataFrame) -> Optional[str]:
        """Why a group file does not hold exactly one row per expected cell, or None."""
        if self.cells is None:
            return None
        found = sorted(tuple(str(v) for v in row) for row in frame[self.cell_columns].itertuples(index=False))
        if found == self.cells:
            return None
        duplicated = len(found) - len(set(found))
        missing = len(set(self.cells) - set(found))
        return f"it has {len(found)} rows for {len(self.cells)} cells ({missing} missing, {duplicated} duplicated); recomputed"

    def _read(self, path: Path, config: dict) -> pd.DataFrame:
        try:
            frame = _read_exact(path)
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
        """Store a finished group; returns it as it reads back from disk.

        Parameters
        ----------
        config : dict
            The group's data configuration (names the file, :meth:`path`).
        frame : pandas.DataFrame
            The group's rows, with the configuration's fields as columns.

        Returns
        -------
        pandas.DataFrame
            The file read back (floats exactly as written), as :meth:`finished` will return it.

        Examples
        --------
        >>> import tempfile
        >>> import pandas as pd
        >>> from linssl.study.store import ResultStore
        >>> frame = pd.DataFrame({"n": [100, 100], "loss": [0.1, 1 / 3]})
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     store = ResultStore(tmp, {"study": "demo"}, required_columns=["n", "loss"])
        ...     back = store.write({"n": 100}, frame)
        ...     back.equals(frame), store.path({"n": 100}).exists()
        (True, True)
        """
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        path = self.path(config)
        write_atomic(path, buffer.getvalue().encode())
        return _read_exact(path)

    def write_table(self, frame: pd.DataFrame) -> Path:
        """Write the whole table as ``results.csv``, unless it already holds exactly that (a
        finished study reruns on a read-only directory).

        Parameters
        ----------
        frame : pandas.DataFrame
            The study's whole table.

        Returns
        -------
        Path
            ``root / "results.csv"``.

        Examples
        --------
        >>> import tempfile
        >>> import pandas as pd
        >>> from linssl.study.store import ResultStore
        >>> frame = pd.DataFrame({"n": [100, 200], "loss": [0.5, 0.25]})
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = ResultStore(tmp, {"study": "demo"}, required_columns=["n"]).write_table(frame)
        ...     path.name, pd.read_csv(path).equals(frame)
        ('results.csv', True)
        """
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        data = buffer.getvalue().encode()
        path = self.root / "results.csv"
        try:
            unchanged = path.read_bytes() == data
        except OSError:
            unchanged = False
        if not unchanged:
            write_atomic(path, data)
        return path


def _alive(pid: int) -> bool:
    """Whether a process of this host with that id is running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
