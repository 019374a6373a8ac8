"""Typed stub of the Rust extension ``linssl._core`` (checked against the binary in the tests)."""

import numpy as np
from numpy.typing import NDArray

class MomentAccumulator:
    """Streaming accumulator of ``n``, ``sum_x``, ``X^T X`` and ``X^T Y``.

    ``update`` takes float32 or float64 chunks (any strides) and releases the GIL; float32
    chunks are multiplied in float32 and accumulated in float64. Other real dtypes are converted
    to float64 (``linssl._input``); a chunk with NaN or Inf raises ``NonFiniteError`` (a
    ``ValueError``) naming its row (counted over all chunks seen) and column, and leaves the
    accumulator unchanged. ``merge`` adds another accumulator (exact up to rounding). The
    constructor raises ``MemoryError`` when d x d cannot be allocated.
    """

    def __init__(self, d: int, l: int = 0) -> None: ...
    def update(self, x: NDArray[np.floating], y: NDArray[np.floating] | None = None) -> None: ...
    def merge(self, other: MomentAccumulator) -> None: ...
    def copy(self) -> MomentAccumulator: ...
    # Pickling (Dask sends accumulators between processes): state is a dict of "n" and the
    # float64 arrays "sum_x", "sum_y", "xtx", "xty", "yty", checked for shape on restore.
    def __getnewargs__(self) -> tuple[int, int]: ...
    def __getstate__(self) -> dict[str, object]: ...
    def __setstate__(self, state: dict[str, object]) -> None: ...
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

# Generalized eigensolvers and closed forms (wrapped, with validation, in ``linssl.linalg``).
# ``info`` holds ``method`` ("dense" or "iterative", the one that produced the result),
# ``max_residual`` (the checked relative residual of the iterative method, else None) and
# ``operator_applications`` (vectors the iterative method applied the reduced operator to).

def eigh_generalized(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    k: int,
    largest: bool = True,
    method: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, object]]: ...
def eigh_generalized_batch(
    pairs: list[tuple[NDArray[np.float64], NDArray[np.float64]]],
    k: int,
    largest: bool = True,
    method: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], dict[str, object]]]: ...
def joint_embedding(
    s: NDArray[np.float64],
    g: NDArray[np.float64],
    k: int,
    method: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float, str]: ...
def joint_embedding_batch(
    problems: list[tuple[NDArray[np.float64], NDArray[np.float64]]],
    k: int,
    method: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], float, str]]: ...
def reconstruction(
    s: NDArray[np.float64],
    c: NDArray[np.float64],
    trace_xx: float,
    k: int,
    method: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, str]: ...
def reconstruction_batch(
    problems: list[tuple[NDArray[np.float64], NDArray[np.float64], float]],
    k: int,
    method: str = "auto",
    tol: float | None = None,
    ridge: float = 0.0,
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, str]]: ...
def supervised(
    s: NDArray[np.float64], b: NDArray[np.float64], trace_yy: float, ridge: float = 0.0
) -> tuple[NDArray[np.float64], float]: ...
def supervised_batch(
    problems: list[tuple[NDArray[np.float64], NDArray[np.float64], float]], ridge: float = 0.0
) -> list[tuple[NDArray[np.float64], float]]: ...
