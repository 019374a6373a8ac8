"""Exceptions raised by linssl."""

import numpy as np


class LinAlgError(np.linalg.LinAlgError):
    """A numerical failure: a matrix that must be positive definite is not, or a solver failed.

    Subclasses :class:`numpy.linalg.LinAlgError`, so ``except np.linalg.LinAlgError`` catches it.
    The message says which matrix failed and what to do (usually: pass ``ridge``).
    """


class NumericalWarning(UserWarning):
    """A result was computed but may be inaccurate (ill-conditioned ``S``, large residuals).

    The message gives the measured residuals or condition number and what to do about them.
    """


class NonFiniteError(ValueError):
    """Input data hold NaN or an infinity.

    The message names the first one (its row and column, counted from 0 over the whole data set,
    across chunks) and what to do. Subclasses :class:`ValueError`.
    """


class DtypeError(TypeError, ValueError):
    """Input data are not real numbers (complex, strings, objects that are not numbers).

    The message names the dtype and what to do. A :class:`TypeError`, and also a
    :class:`ValueError`, which is what scikit-learn raises for complex data.
    """
