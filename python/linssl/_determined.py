"""How many of the k directions of a joint-embedding or reconstruction solution the data determine.

Both are top-k generalized eigenproblems ``A w = lambda S w`` with ``w^T S w = 1`` (``A = G`` for
joint embedding, ``C^T C`` for reconstruction). When ``A`` has rank ``r < k`` (fewer samples than
k, features that are copies of others, data of low rank) the eigenvalues past ``r`` are zero and
their directions are an arbitrary ``S``-orthonormal basis of the null space of ``A``: any other
basis is as optimal. The result is correct but those directions mean nothing, so linssl warns.

Numerically zero: rounding puts at most about ``d eps ||A|| ||w||^2`` of ``A`` into a direction
``w`` where ``A`` vanishes (measured: below 0.2 ``d eps ||A||_F ||w||^2`` on rank-deficient data of
n = 1 to 3000 and d = 5 to 200, against 1e5 and more for the determined directions). A direction
counts as determined when ``lambda = w^T A w`` exceeds :data:`UNDETERMINED_FACTOR` times that.
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType
from typing import Optional

import numpy as np

from linssl._errors import NumericalWarning

__all__ = ["UNDETERMINED_FACTOR", "determined_directions", "warn_undetermined"]

#: Eigenvalues below this multiple of ``d eps ||A||_F ||w||^2`` count as zero.
UNDETERMINED_FACTOR = 100.0

_WHAT = {
    "joint_embedding": (
        "omega", "G = Xbar^T Xbar / n", "rows of W", "",
    ),
    "reconstruction": (
        "phi^2", "C = X^T Xbar / n", "rows of the encoder E", " (their decoder columns are 0)",
    ),
}


def determined_directions(values: np.ndarray, rows: np.ndarray, a_norm: float, *, gram: bool = False) -> int:
    """Number of eigenpairs whose eigenvalue stands above rounding.

    Parameters
    ----------
    values : ndarray, shape (k,)
        Eigenvalues ``w^T A w`` (omega, or phi^2), descending.
    rows : ndarray, shape (k, d)
        The directions ``w`` as rows, ``S``-normalised.
    a_norm : float
        ``||A||_F``, or with ``gram``, ``||C||_F`` for ``A = C^T C`` (``||C||_F^2`` bounds
        ``||C^T C||_F``; the square is taken with ``||w||``, so neither overflows on its own).
    """
    d = rows.shape[1]
    lengths = np.sqrt(np.einsum("ij,ij->i", rows, rows))
    size = (a_norm * lengths) ** 2 if gram else a_norm * lengths * lengths
    floor = UNDETERMINED_FACTOR * d * np.finfo(np.float64).eps * size
    # |value|: with two view distributions (linssl.TwoViews) joint embedding's A = sym(G_12) is indefinite.
    return int(np.sum(np.abs(np.asarray(values)) > floor))


def warn_undetermined(paradigm: str, determined: int, k: int, label: str = "") -> None:
    """Emit :class:`NumericalWarning` when only ``determined`` of ``k`` directions are determined.

    Parameters
    ----------
    paradigm : {"joint_embedding", "reconstruction"}
    determined, k : int
    label : str
        Appended to the paradigm's name (e.g. ``" (problem 3)"`` in a batch).
    """
    if determined >= k:
        return
    value, matrix, rows, extra = _WHAT[paradigm]
    name = paradigm.replace("_", " ")
    warnings.warn(
        f"{name}{label}: only {determined} of the k = {k} directions are determined by the data. "
        f"{value}_{determined + 1}..{value}_{k} are 0 to rounding: {matrix} has rank {determined} (the data "
        f"span {determined} dimensions, e.g. fewer samples than k or duplicated features), so the last "
        f"{k - determined} {rows} are an arbitrary S-orthonormal basis of its null space{extra}. "
        f"Use n_components <= {determined}, or more data",
        NumericalWarning,
        stacklevel=_caller_level(),
    )


def _caller_level() -> int:
    """``stacklevel`` of the first frame outside linssl: the warning names the user's line."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame: Optional[FrameType] = sys._getframe(1)
    level = 1  # level 1: the function calling warnings.warn
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level
