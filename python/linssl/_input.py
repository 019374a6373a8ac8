"""What linssl accepts as data, decided in one place for every entry point.

- **dtype.** Booleans, integers and real floats are used as floats: float32 stays float32 where
  it may, everything else becomes float64 (chunk by chunk where data are streamed, never the
  whole of a memory map). Object arrays whose entries are all real numbers are converted too, as
  scikit-learn does. Complex data are refused (linssl does not guess between the real part and
  the modulus), and so are strings, dates and objects that are not numbers: a
  :class:`~linssl._errors.DtypeError` (a ``TypeError``, and a ``ValueError`` as scikit-learn raises
  for complex data) names the dtype and what to do.
- **values.** NaN and infinities are refused with a :class:`~linssl._errors.NonFiniteError` (a
  ``ValueError``) naming the first one's row and column over the whole data set. The Rust moment
  accumulator checks every chunk it reads (from the column sums it computes with the products, or
  a pass of its own over a chunk of fewer rows than columns: at most ``min(d^2, m d)`` against the
  product's ``m d^2 / 2``); :func:`check_finite` checks data that do not pass through it.
"""

from __future__ import annotations

import numpy as np

from linssl._core import check_finite as _core_check_finite
from linssl._core import first_non_finite
from linssl._errors import DtypeError

__all__ = ["as_float", "check_finite", "check_finite_parameter", "first_non_finite", "float_dtype", "require_real"]


def require_real(dtype, what: str) -> None:
    """Refuse a dtype that does not hold real numbers (object arrays are checked on conversion).

    Parameters
    ----------
    dtype : numpy dtype
    what : str
        Name of the data in the message (``"X"``, ``"y"``, ``"a chunk of X"``).

    Raises
    ------
    DtypeError
    """
    kind = np.dtype(dtype).kind
    if kind in "biufO":
        return
    if kind == "c":
        raise DtypeError(
            f"{what} has dtype {np.dtype(dtype)}: Complex data not supported. linssl needs real numbers; "
            "pass the real part (X.real) or the modulus (np.abs(X)), whichever your problem means"
        )
    raise DtypeError(
        f"{what} has dtype {np.dtype(dtype)}; linssl needs real numbers (bool, integer or float). "
        "Convert the data to numbers first, e.g. np.asarray(X, dtype=np.float64)"
    )


def as_float(a, dtype, what: str) -> np.ndarray:
    """``a`` as an array of float ``dtype`` (no copy when it already is one), under the dtype policy.

    Parameters
    ----------
    a : array_like
    dtype : np.float32 or np.float64
    what : str
        Name of the data in messages.

    Returns
    -------
    ndarray of ``dtype``, same shape as ``a``

    Raises
    ------
    DtypeError
        ``a`` is complex, or holds entries that are not real numbers.
    ValueError
        Finite values too large for ``dtype`` (float64 data above 3.4e38 asked for as float32).
    """
    arr = a if isinstance(a, np.ndarray) else np.asarray(a)
    require_real(arr.dtype, what)
    try:
        with np.errstate(over="raise"):
            return np.asarray(arr, dtype=dtype)
    except FloatingPointError:
        raise ValueError(
            f"{what} holds values too large for {np.dtype(dtype)} (up to {np.nanmax(np.abs(arr.astype(np.float64))):.3g}); "
            "use dtype=np.float64, or rescale the data"
        ) from None
    except (TypeError, ValueError) as err:
        raise DtypeError(
            f"{what} has dtype object with an entry that is not a real number ({err}); linssl needs real "
            "numbers. Replace or drop those entries, then convert with np.asarray(X, dtype=np.float64)"
        ) from None


def float_dtype(source, requested=None) -> np.dtype:
    """The native float dtype chunks of ``source`` dtype are accumulated in.

    Native float32 stays float32 (read in place); every other real dtype, big-endian float32
    included, has to be converted anyway and becomes float64, the more accurate choice at no
    extra memory (conversion is chunk by chunk). ``requested`` (float32 or float64) overrides both.
    """
    if requested is not None:
        requested = np.dtype(requested)
        if requested not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64; got {requested}")
        return requested
    return np.dtype(np.float32) if np.dtype(source) == np.float32 else np.dtype(np.float64)


def check_finite_parameter(value, what: str, fix: str) -> None:
    """Refuse a parameter (a variance, a probability, a covariance) holding NaN or infinities.

    Parameters
    ----------
    value : ndarray or float
    what : str
        Name of the parameter in the message.
    fix : str
        What to pass instead.

    Raises
    ------
    ValueError
    """
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{what} contains NaN or Inf; {fix}")


def check_finite(a: np.ndarray, what: str, first_row: int = 0, first_col: int = 0) -> None:
    """Refuse NaN and infinities in a 2-D float array, naming the first one (row-major order).

    Parameters
    ----------
    a : ndarray, shape (m, p), float32 or float64
    what : str
        Name of the data in the message.
    first_row, first_col : int
        Where ``a`` starts in the whole data set (for chunks and blocks of columns).

    Raises
    ------
    NonFiniteError
    """
    _core_check_finite(a, what, int(first_row), int(first_col))
