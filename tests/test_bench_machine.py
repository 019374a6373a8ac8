"""Benchmarks say what they ran on, and run the reference on its native BLAS kernels."""

import json
import os
import subprocess
import sys

from linssl.bench.machine import KEEP_ENV, REMOVED, describe, native_environment, summary_lines


def test_overrides_are_removed_recorded_or_kept_on_request():
    env = {"PATH": "/bin", "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}
    native = native_environment(env)
    assert "OPENBLAS_CORETYPE" not in native and "OPENBLAS_L2_SIZE" not in native and native["PATH"] == "/bin"
    assert native[REMOVED] == "OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512"
    assert native_environment({**env, KEEP_ENV: "1"}) is None
    assert native_environment({"PATH": "/bin"}) is None


def test_a_process_started_without_overrides_reports_the_native_kernel():
    # OpenBLAS reads OPENBLAS_CORETYPE when it loads: compare a child pinned to Haswell with one
    # started from native_environment (the way linssl bench and the asv suite start).
    script = "import json; from linssl.bench.machine import describe; print(json.dumps(describe()))"
    pinned = {**os.environ, "OPENBLAS_CORETYPE": "Haswell"}
    pinned.pop(REMOVED, None)
    out = subprocess.run([sys.executable, "-c", script], env=pinned, capture_output=True, text=True, check=True)
    machine = json.loads(out.stdout)
    openblas = [b for b in machine["blas"] if b["api"] == "openblas"]
    assert openblas and all(b["architecture"] == "Haswell" for b in openblas)
    assert machine["overrides_set"] == {"OPENBLAS_CORETYPE": "Haswell"}
    assert any("WARNING: BLAS overrides in effect" in line for line in summary_lines(machine))
    out = subprocess.run([sys.executable, "-c", script], env=native_environment(pinned), capture_output=True, text=True, check=True)
    machine = json.loads(out.stdout)
    assert machine["overrides_set"] == {} and machine["overrides_removed"] == {"OPENBLAS_CORETYPE": "Haswell"}
    assert all(b["architecture"] != "Haswell" or machine["cpu"]["simd"] != "AVX-512" for b in machine["blas"])


def test_the_description_names_cpu_simd_and_blas():
    machine = describe()
    assert machine["cpu"]["cores"] >= 1 and machine["cpu"]["simd"]
    assert set(machine["linssl_simd"]) == {"matmul", "symv"}
    assert machine["blas"] and all(b["threads"] >= 1 for b in machine["blas"])
    text = "\n".join(summary_lines(machine))
    assert "CPU:" in text and "kernel" in text
