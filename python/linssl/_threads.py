"""Threads: the cores this process may use, and one BLAS thread for the many small products of a study.

Least-squares probes on a few thousand rows and SVDs of k x d maps are too small for BLAS threads to
pay off: on 2 cores OpenBLAS runs them faster on one thread, and far faster when another process
holds a core (its spinning threads then wait on each other). The Rust core's own threads are not
affected.
"""

from __future__ import annotations

import functools
import os

__all__ = ["single_threaded_blas", "usable_cores"]


@functools.lru_cache(maxsize=None)
def _controller():
    # Creating a controller scans the loaded libraries (about 0.3 ms); limiting through it is cheap.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas():
    """A context manager under which the BLAS libraries loaded in this process use one thread."""
    return _controller().limit(limits=1, user_api="blas")


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask on Linux, else every CPU), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
