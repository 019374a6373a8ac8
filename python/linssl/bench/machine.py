"""What a benchmark ran on: CPU, SIMD levels, BLAS library and kernel, and environment overrides.

A speed-up against NumPy/SciPy means nothing without the kernels both sides ran. Some machines set
environment variables that force OpenBLAS (or MKL, or NumPy's own loops) onto older instruction
sets, e.g. ``OPENBLAS_CORETYPE=Haswell`` on an AVX-512 CPU, while linssl's core detects the CPU
itself. Such variables are read when the library loads, so ``linssl bench`` removes them by
starting the benchmark process again without them (:func:`native_environment`), unless told to
keep them; the asv suite removes them before NumPy is imported. Either way the report records
which variables were set and which kernel BLAS actually used (:func:`describe`).
"""

from __future__ import annotations

import os
import platform
from typing import Mapping, Optional

from linssl._threads import usable_cores

__all__ = ["BLAS_OVERRIDES", "KEEP_ENV", "blas_overrides", "describe", "native_environment", "summary_lines"]

#: Environment variables that pin BLAS or NumPy to other kernels than the CPU's best ones.
BLAS_OVERRIDES = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "GOTOBLAS_CORETYPE",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_DEBUG_CPU_TYPE",
    "NPY_DISABLE_CPU_FEATURES",
)

#: Set to 1 to benchmark with the overrides in place (the environment as it is).
KEEP_ENV = "LINSSL_BENCH_KEEP_BLAS_ENV"

#: Set by linssl when it removed overrides: the ones it removed, ``NAME=value`` joined by spaces.
REMOVED = "LINSSL_BENCH_REMOVED_BLAS_ENV"


def blas_overrides(environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The overrides of :data:`BLAS_OVERRIDES` set in ``environ`` (default ``os.environ``)."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in BLAS_OVERRIDES if name in environ}


def native_environment(environ: Optional[Mapping[str, str]] = None) -> Optional[dict[str, str]]:
    """The environment to re-run a benchmark in, without BLAS overrides; None when nothing is to be
    removed (none set, or :data:`KEEP_ENV` asks to keep them)."""
    environ = dict(os.environ if environ is None else environ)
    found = blas_overrides(environ)
    if not found or environ.get(KEEP_ENV) == "1":
        return None
    for name in found:
        del environ[name]
    environ[REMOVED] = " ".join(f"{k}={v}" for k, v in found.items())
    return environ


def _cpu() -> dict:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else ("unknown" if not flags else "SSE")
    return {"model": model, "simd": simd, "cores": usable_cores()}


def describe() -> dict:
    """The machine and libraries of this process.

    Returns
    -------
    dict
        ``cpu`` (model, SIMD level, usable cores), ``linssl_simd`` (the instruction sets of
        linssl's kernels), ``blas`` (one entry per BLAS library loaded: its API, version, kernel
        architecture and thread count, from threadpoolctl), ``numpy``/``scipy`` versions,
        ``overrides_set`` (BLAS overrides in this process's environment) and ``overrides_removed``
        (those linssl removed for this run).
    """
    import numpy as np
    import scipy
    import scipy.linalg  # noqa: F401 (loads SciPy's BLAS, so it is listed too)
    from threadpoolctl import threadpool_info

    from linssl._core import simd_levels

    blas = [
        {
            "api": info.get("internal_api"),
            "version": info.get("version"),
            "architecture": info.get("architecture"),
            "threads": info.get("num_threads"),
            "library": os.path.basename(info.get("filepath", "")),
        }
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    removed = os.environ.get(REMOVED, "")
    return {
        "cpu": _cpu(),
        "linssl_simd": dict(simd_levels()),
        "blas": blas,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "overrides_set": blas_overrides(),
        "overrides_removed": dict(item.split("=", 1) for item in removed.split()) if removed else {},
    }


def summary_lines(machine: dict) -> list[str]:
    """:func:`describe`'s result as the few lines a report header needs."""
    cpu = machine["cpu"]
    lines = [f"CPU: {cpu['model']}, {cpu['cores']} cores usable, {cpu['simd']}"]
    simd = machine["linssl_simd"]
    lines.append(f"linssl kernels: {simd.get('matmul')} matrix products, {simd.get('symv')} symmetric products")
    for b in machine["blas"]:
        lines.append(
            f"NumPy/SciPy BLAS: {b['api']} {b['version']} ({b['library']}), kernel {b['architecture']}, {b['threads']} threads"
        )
    if machine["overrides_removed"]:
        removed = " ".join(f"{k}={v}" for k, v in machine["overrides_removed"].items())
        lines.append(f"removed for this run, so the reference uses its native kernels: {removed}")
    if machine["overrides_set"]:
        kept = " ".join(f"{k}={v}" for k, v in machine["overrides_set"].items())
        lines.append(f"WARNING: BLAS overrides in effect ({kept}): the reference may not run its native kernels")
    return lines
