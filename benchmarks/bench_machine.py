"""What the other benchmarks ran on, recorded in asv's results.

asv stores a benchmark's parameters with its results, so the description of the machine (CPU, SIMD
levels, the BLAS kernel NumPy/SciPy used, removed overrides) is the parameter of this one; its value
is the number of BLAS threads.
"""

import json

from linssl.bench.machine import describe


def _description() -> str:
    machine = describe()
    return json.dumps({k: machine[k] for k in ("cpu", "linssl_simd", "blas", "overrides_removed", "overrides_set")})


class Machine:
    params = [_description()]
    param_names = ["machine"]

    def track_blas_threads(self, machine):
        return max((b["threads"] or 0 for b in json.loads(machine)["blas"]), default=0)

    track_blas_threads.unit = "threads"
