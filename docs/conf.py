"""Sphinx configuration of the linssl documentation (built with `sphinx-build -W`, see README)."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import linssl

project = "linssl"
author = "the linssl developers"
copyright = "2026, the linssl developers"
release = linssl.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "**/GALLERY_HEADER.rst", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "pydata_sphinx_theme"
html_title = f"linssl {release}"
html_theme_options = {"github_url": "https://github.com/linssl/linssl", "navigation_with_keys": False}

# The README and docs/theory.md are the user guide's sources; their headings start at any level.
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

autosummary_generate = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# Every public object is validated: a docstring, its parameters, its returns, and an Examples
# section (run as a doctest by `pytest --doctest-modules --pyargs linssl`, see .ci/run).
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "RT01", "EX01"}
numpydoc_validation_exclude = {
    # Module constants (UPPER_CASE) and the type alias are values, not callables: their `#:`
    # comments or docstrings say what they hold, with no Parameters or Returns to check.
    r"\.[A-Z][A-Z0-9_]*$",
    r"^linssl\.augment\.CovarianceLike$",
}
# The class pages list linssl's own members (_skip_foreign_members, below); their methods are
# validated too, except attributes and overrides that inherit a validated docstring
# (_members_not_validated).

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    # Each example must stay quick (the budget: under 30 s each on 2 cores).
    "abort_on_example_error": True,
}


# --- The API reference, generated from the packages' __all__ -------------------------------------
# Objects added to linssl.__all__ (or to a public module's __all__) appear without editing docs/.


def _public_modules() -> list[str]:
    """linssl's public modules: every module of linssl and linssl.study whose name has no leading
    underscore and that declares __all__ (the command line and the benchmark tooling are
    documented in the user guide)."""
    names = []
    for package in ("linssl", "linssl.study"):
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            name = f"{package}.{info.name}"
            if info.name.startswith("_") or name in ("linssl.cli", "linssl.bench", "linssl.study"):
                continue
            if hasattr(importlib.import_module(name), "__all__"):
                names.append(name)
    return names


def _owners(modules: list[str]) -> dict[int, str]:
    """Where each public object is documented, once: at the top level if ``linssl`` exports it,
    else in the public module it is defined in (or under), else the first that lists it."""
    owners: dict[int, str] = {}
    for name in linssl.__all__:
        owners[id(getattr(linssl, name))] = "linssl"
    listed = [(m, importlib.import_module(m)) for m in modules]
    for preferred in (True, False):
        for module_name, module in listed:
            for name in module.__all__:
                obj = getattr(module, name)
                home = getattr(obj, "__module__", "") or ""
                if id(obj) in owners or inspect.ismodule(obj):
                    continue
                if not preferred or home == module_name or home.startswith(module_name + "."):
                    owners[id(obj)] = module_name
    return owners


def _entries(module, owners) -> tuple[list[str], list[str], list[str]]:
    """(classes and exceptions, functions and other objects, documented elsewhere) of a module's __all__."""
    classes, others, elsewhere = [], [], []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.ismodule(obj) or name.startswith("__"):
            continue
        owner = owners.get(id(obj), module.__name__)
        if owner != module.__name__:
            elsewhere.append(f"{owner}.{name}")
            continue
        (classes if inspect.isclass(obj) else others).append(name)
    return classes, others, elsewhere


def _autosummary(module_name: str, names: list[str], template: str) -> str:
    if not names:
        return ""
    rows = "\n".join(f"   {n}" for n in names)
    return f".. autosummary::\n   :toctree: generated\n   :template: {template}\n\n{rows}\n\n"


def _write_api_pages(modules: list[str], owners: dict[int, str]) -> None:
    api = Path(__file__).parent / "api"
    api.mkdir(exist_ok=True)
    classes, others, _ = _entries(linssl, owners)
    index = [
        "API reference\n=============\n\n",
        "Generated from ``linssl.__all__`` and the ``__all__`` of each public module.\n\n",
        ".. currentmodule:: linssl\n\n",
        "Top level: ``import linssl``\n----------------------------\n\n",
        "Classes\n~~~~~~~\n\n", _autosummary("linssl", classes, "autosummary/class.rst"),
        "Functions and constants\n~~~~~~~~~~~~~~~~~~~~~~~\n\n", _autosummary("linssl", others, "autosummary/function.rst"),
        "Modules\n-------\n\n.. toctree::\n   :maxdepth: 1\n\n",
        *(f"   {m}\n" for m in modules),
    ]
    (api / "index.rst").write_text("".join(index))
    for name in modules:
        module = importlib.import_module(name)
        classes, others, elsewhere = _entries(module, owners)
        title = f"``{name}``"
        page = [f"{title}\n{'=' * len(title)}\n\n", f".. automodule:: {name}\n   :no-members:\n\n",
                f".. currentmodule:: {name}\n\n"]
        if elsewhere:
            page.append("Also here, documented once elsewhere: " + ", ".join(f":obj:`{n}`" for n in elsewhere) + ".\n\n")
        if classes:
            page += ["Classes\n-------\n\n", _autosummary(name, classes, "autosummary/class.rst")]
        if others:
            page += ["Functions and constants\n-----------------------\n\n", _autosummary(name, others, "autosummary/function.rst")]
        (api / f"{name}.rst").write_text("".join(page))


def _members_not_validated(modules: list[str], owners: dict[int, str]) -> list[str]:
    """Documented names of the public members of linssl's classes that numpydoc does not check:
    attributes, fields and properties (values: a one-line docstring says what they hold), and
    overrides without a docstring of their own, which inherit the one validated on the base class
    (``linssl.Mask.mean_map`` reads ``ClosedFormAugmentation.mean_map``)."""
    names = []
    for module_name in ["linssl", *modules]:
        module = importlib.import_module(module_name)
        for class_name in _entries(module, owners)[0]:
            cls = getattr(module, class_name)
            for attr in dir(cls):
                owner = next((c for c in cls.__mro__ if attr in vars(c)), None)
                if attr.startswith("_") or owner is None or not owner.__module__.startswith("linssl"):
                    continue
                member = inspect.getattr_static(cls, attr)
                function = getattr(member, "__func__", member)
                inherits = inspect.isfunction(function) and not function.__doc__ and inspect.getdoc(getattr(cls, attr))
                if not inspect.isfunction(function) or inherits:
                    names.append(f"{module_name}.{class_name}.{attr}")
    return names


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Class pages list linssl's members, those inherited from linssl's base classes included, and
    not scikit-learn's, pydantic's or the builtins' (``get_params``, ``model_dump``, ``count``):
    their own documentation covers them, and ``show-inheritance`` links the bases."""
    function = getattr(obj, "fget", None) or getattr(obj, "__func__", None) or obj
    if what == "class" and not (getattr(function, "__module__", None) or "").startswith("linssl"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)


_modules = _public_modules()
_documented_in = _owners(_modules)
_write_api_pages(_modules, _documented_in)
numpydoc_validation_exclude |= {rf"^{re.escape(name)}$" for name in _members_not_validated(_modules, _documented_in)}
