"""Exceptions and warnings raised by linssl.

:class:`LinAlgError` and :class:`NonFiniteError` are created by the Rust core (which raises them)
and re-exported here; the others are raised by the Python layer.
"""

from linssl._core import LinAlgError, NonFiniteError

__all__ = ["DtypeError", "LinAlgError", "NonFiniteError", "NumericalWarning"]

# The Rust core creates these two types with a one-paragraph docstring; the documented one, with
# examples that run as doctests, is easier to keep in Python.
LinAlgError.__doc__ = """A numerical failure: a matrix that must be positive definite is not, or a solver failed.

    Subclasses :class:`numpy.linalg.LinAlgError`, so ``except np.linalg.LinAlgError`` catches it.
    The message says which matrix failed and what to do (usually: pass ``ridge``).

    Examples
    --------
    >>> import numpy as np, linssl
    >>> S, G = np.diag([1.0, 0.0]), np.diag([0.5, 0.0])      # S singular: no Cholesky factor
    >>> try:
    ...     linssl.linalg.joint_embedding(S, G, 1)
    ... except np.linalg.LinAlgError as err:
    ...     print(type(err).__name__, "-", err)
    LinAlgError - S is not positive definite: Cholesky pivot 1 is 0.000e0; pass ridge=1e-6 (or larger) ...
    >>> np.round(linssl.linalg.joint_embedding(S, G, 1, ridge=1e-6).omega, 3)
    array([0.5])
    """

NonFiniteError.__doc__ = """Input data hold NaN or an infinity.

    The message names the first one (its row and column, counted from 0 over the whole data set,
    across chunks) and what to do. Subclasses :class:`ValueError`.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [np.nan, 0.0]])
    >>> try:
    ...     linssl.moments(X, chunk_size=2)                 # the NaN is in the second chunk
    ... except linssl.NonFiniteError as err:
    ...     print(isinstance(err, ValueError), "-", err)
    True - X contains NaN at row 2, column 0 (its first non-finite value; rows and columns count from 0); ...
    """


class NumericalWarning(UserWarning):
    """A result was computed but may be inaccurate (ill-conditioned ``S``, large residuals).

    The message gives the measured residuals or condition number and what to do about them.

    Examples
    --------
    >>> import warnings, numpy as np, linssl
    >>> X = np.random.default_rng(0).standard_normal((3, 10))     # 3 rows determine 3 directions
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = linssl.JointEmbedding(5, augmentation=linssl.Gaussian(0.1)).fit(X)
    >>> any(issubclass(w.category, linssl.NumericalWarning) for w in caught)
    True
    """


class DtypeError(TypeError, ValueError):
    """Input data are not real numbers (complex, strings, objects that are not numbers).

    The message names the dtype and what to do. A :class:`TypeError`, and also a
    :class:`ValueError`, which is what scikit-learn raises for complex data.

    Examples
    --------
    >>> import numpy as np, linssl
    >>> try:
    ...     linssl.second_moment(np.ones((4, 2), dtype=complex))
    ... except linssl.DtypeError as err:
    ...     print(type(err).__name__, isinstance(err, ValueError))
    DtypeError True
    """
