"""Joint embedding and reconstruction from raw data: ``linssl.fit_all`` against the NumPy/SciPy reference.

n = 200,000 rows with a power-law spectrum, d = 1024, k = 64, under Gaussian noise (variance 0.01)
and a mask (keep probability 0.8). The reference (:mod:`linssl.reference`) computes the moments from
one covariance ``X.T @ X / n``, joint embedding with ``scipy.linalg.eigh(G, S, subset_by_index)`` and
reconstruction from ``S^{-1/2}`` and the full SVD of ``C S^{-1/2}``. Target: linssl at least 3 x
faster. Both sides spend most of their time in the same n d^2 product (see the README's
"Performance"), so the ratio is bounded by how much faster linssl's solves are.

Run as a script (``python benchmarks/bench_end_to_end.py [--quick]``) to print the comparison table.
"""

import sys

from linssl.bench import end_to_end_comparison, format_table, run

try:
    from ._paired import _Paired
except ImportError:  # run as a script: benchmarks/ is the first entry of sys.path
    from _paired import _Paired


class EndToEnd(_Paired):
    params = ["gaussian", "mask"]
    param_names = ["augmentation"]
    repeat = 2
    timeout = 1200

    def setup(self, augmentation):
        self.case = end_to_end_comparison(augmentation, 200_000, 1024, 64)


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv, only=["end-to-end-gaussian", "end-to-end-mask"])))
