"""asv benchmarks of linssl's Rust core, each paired with its NumPy/SciPy counterpart.

BLAS reads kernel overrides such as ``OPENBLAS_CORETYPE`` when it loads; they are removed here,
before any benchmark module imports NumPy, so the reference runs its native kernels (set
``LINSSL_BENCH_KEEP_BLAS_ENV=1`` to keep them). ``bench_machine.py`` records what each run used.
"""

import importlib.util as _util
import os as _os
from pathlib import Path as _Path


def _remove_blas_overrides() -> None:
    # linssl.bench.machine is loaded from its file: importing the linssl package would load NumPy.
    package = _util.find_spec("linssl")
    path = _Path(package.origin).parent / "bench" / "machine.py"
    spec = _util.spec_from_file_location("_linssl_bench_machine", path)
    machine = _util.module_from_spec(spec)
    spec.loader.exec_module(machine)
    native = machine.native_environment()
    if native is not None:
        _os.environ.clear()
        _os.environ.update(native)


_remove_blas_overrides()
