"""Refusing, before allocating, work whose d x d matrices would not fit in memory.

Every dense computation holds a few d x d float64 matrices; at d = 100,000 one is 75 GiB. Asking
the allocator for them and failing (or worse, being granted them lazily and then killed by the
operating system) is avoided by comparing their size with the memory available first. The one
check, :func:`check_dense_fits`, serves the dense fits, the moment functions and Monte Carlo
augmentations; its message points to the Gram path, which needs only n x n matrices.
"""

from __future__ import annotations

import os
from typing import Optional

__all__ = ["DENSE_MATRICES", "MOMENT_MATRICES", "SOLVER_MATRICES", "available_memory", "check_dense_fits"]

#: d x d float64 matrices a generalized eigensolve holds beyond its inputs at its peak (measured
#: peak resident memory, rounded up): the Cholesky factor, the reduced matrix, the eigensolver's
#: vectors and workspace.
SOLVER_MATRICES = 6

#: The same for the iterative (block Krylov) solver: the Cholesky factor of ``B`` and the scaled
#: copy it is formed from; its basis is d x O(k). (Should it fall back to the dense method, that
#: method's allocations are refused by the core as MemoryError.)
ITERATIVE_MATRICES = 2

#: d x d float64 matrices that computing ``X^T X / n`` alone holds at its peak: the accumulator,
#: the full matrix it returns and its temporaries.
MOMENT_MATRICES = 3

#: d x d float64 matrices a dense fit holds at its peak: the accumulator, the augmented moments
#: M, S, G and C, and the solver's (measured, rounded up).
DENSE_MATRICES = 10




def available_memory() -> int:
    """Bytes of memory available to a new allocation: the least of the system's available memory
    (psutil), what this process's address-space limit leaves (``ulimit -v``, ``RLIMIT_AS``), and
    what its cgroup's memory limit leaves (containers, batch schedulers)."""
    import psutil

    limits = [int(psutil.virtual_memory().available)]
    for limit in (_address_space_left(), _cgroup_left()):
        if limit is not None:
            limits.append(limit)
    return max(0, min(limits))


def _address_space_left() -> Optional[int]:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        return soft - used
    except (ImportError, OSError, ValueError):  # not Linux, or /proc unavailable
        return None


#: Where the cgroup memory limit and usage are read: v2 first, then v1.
CGROUP_FILES = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
)


def _cgroup_left() -> Optional[int]:
    for limit_file, usage_file in CGROUP_FILES:
        try:
            with open(limit_file) as f:
                raw = f.read().strip()
            if raw == "max":
                return None
            with open(usage_file) as f:
                usage = int(f.read().strip())
            limit = int(raw)
        except (OSError, ValueError):
            continue
        if limit >= 1 << 60:  # v1 writes a huge number for "no limit"
            return None
        return limit - usage
    return None


def check_dense_fits(
    d: int, *, matrices: int = DENSE_MATRICES, available: Optional[int] = None, what: str = "the dense path"
) -> None:
    """Refuse, before allocating, work whose d x d matrices would not fit in memory.

    Parameters
    ----------
    d : int
        Number of features.
    matrices : int
        d x d float64 matrices needed at the peak (default :data:`DENSE_MATRICES`).
    available : int, optional
        Bytes available (default: :func:`available_memory`).
    what : str
        What needs the memory, for the message.

    Raises
    ------
    MemoryError
        When ``8 d^2 matrices`` bytes exceed the available memory; the message points to the Gram path.
    """
    need = 8 * int(d) ** 2 * int(matrices)
    available = available_memory() if available is None else int(available)
    if need > available:
        raise MemoryError(
            f"{what} needs about {matrices} d x d float64 matrices for d = {d} "
            f"({need / 2**30:.3g} GiB) but only {available / 2**30:.3g} GiB of memory is available. "
            "When d >> n, fit with solver='gram' (Gaussian noise with a diagonal or low-rank-plus-diagonal "
            "covariance, Mask, or Compose of them), which needs only n x n matrices"
        )
