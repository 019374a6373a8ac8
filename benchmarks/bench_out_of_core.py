"""Out-of-core passes: peak resident memory of streaming a memory-mapped file, against loading it.

The file is ``n x 256`` float32 (``n`` = 100,000 and 1,000,000: 100 MB and 1 GB). linssl's peak
memory should not depend on ``n`` (chunks of about 16 MB, released once used); the NumPy
baseline (load the array, ``X.T @ X``) grows with the file. Times compare the streamed pass with
NumPy's product on the same memory map.

Run as a script (``python benchmarks/bench_out_of_core.py``) to measure each case in a fresh
process and print the peak resident memory and its growth during the pass.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import linssl

D = 256
SIZES = [100_000, 1_000_000]
_BLOCK = 4096


def write_file(path, n, d=D):
    """An (n, d) float32 .npy of standard normal rows, written block by block (never held whole)."""
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": (n, d)}
        np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, n, _BLOCK):
            f.write(rng.standard_normal((min(_BLOCK, n - start), d), dtype=np.float32).tobytes())
    return path


class StreamMemoryMapped:
    params = SIZES
    param_names = ["n"]
    number = 1
    repeat = 1
    warmup_time = 0
    timeout = 1200

    def setup_cache(self):
        # asv runs this in a cache directory of its own and deletes it afterwards.
        return {n: str(write_file(Path.cwd() / f"x{n}.npy", n)) for n in SIZES}

    def setup(self, paths, n):
        self.path = paths[n]

    def peakmem_linssl_moments(self, paths, n):
        linssl.moments(np.load(self.path, mmap_mode="r"), progress=False)

    def peakmem_linssl_fit(self, paths, n):
        linssl.JointEmbedding(16, augmentation=linssl.Gaussian(1.0)).fit(np.load(self.path, mmap_mode="r"))

    def peakmem_numpy_load(self, paths, n):
        X = np.load(self.path)
        X.T @ X

    def time_linssl_moments(self, paths, n):
        linssl.moments(np.load(self.path, mmap_mode="r"), progress=False)

    def time_numpy_memmap(self, paths, n):
        X = np.load(self.path, mmap_mode="r")
        X.T @ X


_CHILD = """
import json, resource, sys
import numpy as np
import linssl

def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()

path, how = sys.argv[1], sys.argv[2]
before = resident()
if how == "linssl":
    linssl.moments(np.load(path, mmap_mode="r"), progress=False)
else:
    X = np.load(path)
    X.T @ X
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "peak": peak}))
"""

# A bare interpreter in between: Linux carries the pre-exec high-water mark into ru_maxrss.
_LAUNCH = "import subprocess, sys; sys.exit(subprocess.call([sys.executable, '-c'] + sys.argv[1:]))"


def main():
    with tempfile.TemporaryDirectory(prefix="linssl-bench-") as root:
        for n in SIZES:
            path = write_file(Path(root) / f"x{n}.npy", n)
            size = path.stat().st_size / 2**20
            for how in ("linssl", "numpy"):
                out = subprocess.run([sys.executable, "-c", _LAUNCH, _CHILD, str(path), how], capture_output=True, text=True, check=True)
                r = json.loads(out.stdout)
                print(f"n={n:>9,} d={D} float32, file {size:6.0f} MiB, {how:6}: peak RSS {r['peak'] / 2**20:6.0f} MiB "
                      f"(growth during the pass {(r['peak'] - r['before']) / 2**20:6.0f} MiB)")


if __name__ == "__main__":
    main()
