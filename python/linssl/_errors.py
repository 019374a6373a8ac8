"""Exceptions and warnings raised by linssl.

:class:`LinAlgError` and :class:`NonFiniteError` are created by the Rust core (which raises them)
and re-exported here; the others are raised by the Python layer.
"""

from linssl._core import LinAlgError, NonFiniteError

__all__ = ["DtypeError", "LinAlgError", "NonFiniteError", "NumericalWarning"]


class NumericalWarning(UserWarning):
    """A result was computed but may be inaccurate (ill-conditioned ``S``, large residuals).

    The message gives the measured residuals or condition number and what to do about them.
    """


class DtypeError(TypeError, ValueError):
    """Input data are not real numbers (complex, strings, objects that are not numbers).

    The message names the dtype and what to do. A :class:`TypeError`, and also a
    :class:`ValueError`, which is what scikit-learn raises for complex data.
    """
