"""Typed stub of the Rust extension ``linssl._core`` (checked against the binary by mypy.stubtest).

The extension takes float32/float64 NumPy arrays only and never imports linssl's Python package;
the Python layer converts other data first.
"""

from typing import final

import numpy as np
from numpy.typing import NDArray
from typing_extensions import Self

__all__ = [
    "LinAlgError",
    "MomentAccumulator",
    "NonFiniteError",
    "auto_solver",
    "check_finite",
    "check_k",
    "eigh_generalized",
    "eigh_generalized_batch",
    "first_non_finite",
    "joint_embedding",
    "joint_embedding_batch",
    "reconstruction",
    "reconstruction_batch",
    "ridge_shift",
    "simd_levels",
    "symmetrize",
    "supervised",
    "supervised_batch",
]

class LinAlgError(np.linalg.LinAlgError):
    """A numerical failure: a matrix that must be positive definite is not, or a solver failed."""

class NonFiniteError(ValueError):
    """Input data hold NaN or an infinity (the message names the first one's row and column)."""

@final
class MomentAccumulator:
    """Streaming accumulator of ``n``, ``sum_x``, ``X^T X`` and ``X^T Y`` (wrapped by
    ``linssl.MomentAccumulator``, which converts other dtypes).

    ``update`` takes 2-D float32 or float64 chunks (any strides; x and y of one dtype) and
    releases the GIL; float32 chunks are multiplied in float32 and accumulated in float64. A
    chunk with NaN or Inf raises ``NonFiniteError`` naming its row (counted over all chunks seen)
    and column, and leaves the accumulator unchanged. ``merge`` adds another accumulator (exact
    up to rounding). The constructor raises ``MemoryError`` when d x d cannot be allocated.
    """

    def __new__(cls, d: int, l: int = 0) -> Self: ...
    def update(self, x: NDArray[np.floating], y: NDArray[np.floating] | None = None) -> None: ...
    def merge(self, other: MomentAccumulator) -> None: ...
    def copy(self) -> MomentAccumulator: ...
    # Pickling (Dask sends accumulators between processes): state is a dict of "n" and the
    # float64 arrays "sum_x", "sum_y", "xtx", "xty", "yty", checked for shape on restore.
    def __getnewargs__(self) -> tuple[int, int]: ...
    def __getstate__(self) -> dict[str, object]: ...
    def __setstate__(self, state: dict[str, object]) -> None: ...
    def second_moment(self) -> NDArray[np.float64]:
        """``X^T X / n`` (d, d), symmetric, in one pass; ValueError before any row."""
    @property
    def d(self) -> int: ...
    @property
    def l(self) -> int: ...
    @property
    def n(self) -> int: ...
    @property
    def sum_x(self) -> NDArray[np.float64]: ...
    @property
    def sum_y(self) -> NDArray[np.float64]: ...
    @property
    def xtx(self) -> NDArray[np.float64]: ...
    @property
    def xty(self) -> NDArray[np.float64]: ...
    @property
    def yty(self) -> NDArray[np.float64]: ...

def check_finite(x: NDArray[np.floating], what: str, first_row: int = 0, first_col: int = 0) -> None:
    """Raise ``NonFiniteError`` naming the first NaN or Inf of the 2-D ``x`` (row-major order)."""

def first_non_finite(x: NDArray[np.floating]) -> tuple[int, int, float] | None:
    """``(row, column, value)`` of the first NaN or Inf of the 2-D ``x`` in row-major order, or None."""

def ridge_shift(ridge: float, mean: float, what: str = "S") -> float:
    """``ridge * mean`` (``mean = trace(S) / d``) with ``ridge`` validated as every solver does."""

def symmetrize(a: NDArray[np.float64]) -> None:
    """``a <- (a + a.T) / 2`` in place, for a square, writeable float64 array."""

def simd_levels() -> dict[str, str]:
    """SIMD instruction sets of linssl's kernels on this CPU: ``matmul`` (faer's products) and ``symv``."""

def check_k(k: int | None, d: int) -> int:
    """``k`` (None: ``d``) if ``1 <= k <= d``, else ``ValueError`` with the message every solver uses."""

def auto_solver(d: int, k: int) -> str:
    """The solver (``"dense"`` or ``"iterative"``) that ``solver="auto"`` runs for ``k`` pairs of a d x d problem."""

# Generalized eigensolvers and closed forms (wrapped in ``linssl.linalg``). Shapes, symmetry,
# finiteness, ``k`` (None: all d pairs), ``solver``, ``tol`` and ``ridge`` are validated here.
# ``info`` holds ``solver`` ("dense" or "iterative", the one that produced the result),
# ``max_residual`` (the checked relative residual of the iterative solver, else None) and
# ``operator_applications`` (vectors the iterative solver applied the reduced operator to).

def eigh_generalized(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    k: int | None = None,
    largest: bool = True,
    solver: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, object]]: ...
def eigh_generalized_batch(
    pairs: list[tuple[NDArray[np.float64], NDArray[np.float64]]],
    k: int | None = None,
    largest: bool = True,
    solver: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], dict[str, object]]]: ...
def joint_embedding(
    s: NDArray[np.float64],
    g: NDArray[np.float64],
    k: int | None = None,
    solver: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
    sigma_diag: NDArray[np.float64] | None = None,
    sigma_factor: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float, str]: ...
def joint_embedding_batch(
    problems: list[
        tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64] | None]
    ],
    k: int | None = None,
    solver: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], float, str]]: ...
def reconstruction(
    s: NDArray[np.float64],
    c: NDArray[np.float64],
    trace_xx: float,
    k: int | None = None,
    solver: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
    keep: NDArray[np.float64] | None = None,
    sigma_diag: NDArray[np.float64] | None = None,
    sigma_factor: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, str]: ...
def reconstruction_batch(
    problems: list[
        tuple[
            NDArray[np.float64],
            NDArray[np.float64],
            float,
            NDArray[np.float64] | None,
            NDArray[np.float64] | None,
            NDArray[np.float64] | None,
        ]
    ],
    k: int | None = None,
    solver: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, str]]: ...
def supervised(
    s: NDArray[np.float64], b: NDArray[np.float64], trace_yy: float, ridge: float = 0.0
) -> tuple[NDArray[np.float64], float]: ...
def supervised_batch(
    problems: list[tuple[NDArray[np.float64], NDArray[np.float64], float]], ridge: float = 0.0
) -> list[tuple[NDArray[np.float64], float]]: ...
