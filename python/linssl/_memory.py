"""Refusing, before allocating, work whose d x d matrices would not fit in memory.

Every dense computation holds a few d x d float64 matrices; at d = 100,000 one is 75 GiB. Asking
the allocator for them and failing (or worse, being granted them lazily and then killed by the
operating system) is avoided by comparing their size with the memory available first. The one
check, :func:`check_dense_fits`, serves the dense fits, the moment functions and Monte Carlo
augmentations; its message points to the Gram path, which needs only n x n matrices.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["DENSE_MATRICES", "MOMENT_MATRICES", "available_memory", "check_dense_fits"]

#: d x d float64 matrices the dense path holds at its peak: the accumulator and its normalised copy,
#: S, G and C, and one for the solver's factorisation (a lower bound: temporaries come on top).
DENSE_MATRICES = 6

#: d x d float64 matrices that computing ``X^T X / n`` alone holds at its peak: the accumulator,
#: the full matrix it returns and the normalised copy.
MOMENT_MATRICES = 3


def available_memory() -> int:
    """Bytes of memory available to a new allocation (``psutil.virtual_memory().available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


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
