"""The README must stay true: its Python examples run, and its quick start commands are what CI runs."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_python_examples_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may write results into the working directory
    assert len(BLOCKS) >= 3
    namespace = {}
    for block in BLOCKS:  # later blocks may build on names defined by earlier ones
        exec(compile(block, "README.md", "exec"), namespace)


def test_quick_start_commands_are_marked_for_ci():
    text = README.read_text()
    for marker, command in (("main-command", "linssl reproduce"), ("test-command", "python -m pytest")):
        block = text.split(f"<!-- {marker} -->", 1)[1].split("```")[1]
        assert command in block
