"""Static checks of the package, run like the tests so that a newcomer's ``pytest`` runs them too.

- the import graph is layered and acyclic (``lint-imports``, contracts in ``pyproject.toml``);
- ``mypy`` finds no type errors in ``python/linssl``;
- the stub ``_core.pyi`` describes the compiled extension exactly (``mypy.stubtest``).
"""

import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


def _run(*args, cwd):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)


def test_imports_follow_the_layers():
    out = _run("-c", "from importlinter.cli import lint_imports_command; lint_imports_command()", str(ROOT / "pyproject.toml"), cwd=ROOT / "python")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_mypy_is_clean():
    out = _run("-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_stub_matches_the_extension(tmp_path):
    # From another directory, so the installed extension is the one checked.
    out = _run("-m", "mypy.stubtest", "linssl._core", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
