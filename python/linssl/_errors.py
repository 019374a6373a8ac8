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
