"""The hand-written stub `_core.pyi` must describe exactly what the compiled extension exports."""

import ast
import inspect
from pathlib import Path

import linssl
from linssl import _core


def _stub_names():
    stub = Path(linssl.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = {
                n.name for n in node.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("__")
            }
            names[node.name] = members
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = None
    return names


def test_stub_matches_extension():
    stub = _stub_names()
    public = {name for name in dir(_core) if not name.startswith("_")}
    assert set(stub) == public
    for name, members in stub.items():
        obj = getattr(_core, name)
        if members is None:
            assert callable(obj)
        else:
            assert inspect.isclass(obj)
            actual = {m for m in dir(obj) if not m.startswith("__")}
            assert members == actual, f"{name}: stub {sorted(members)} vs binary {sorted(actual)}"
