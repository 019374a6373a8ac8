"""The console command, run as a user would (a subprocess on the installed entry point)."""

import subprocess
import sys

import linssl


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "linssl.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_version():
    out = _run("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"linssl {linssl.__version__}"


def test_help_lists_usage():
    out = _run("--help")
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout
