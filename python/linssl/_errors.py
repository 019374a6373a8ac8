"""Exceptions and warnings raised by linssl.

:class:`LinAlgError` and :class:`NonFiniteError` are created by the Rust core (which raises them)
and re-exported here; the others are raised by the Python layer.
"""

from linssl._core import LinAlgError, NonFiniteError

__all__ = ["DtypeError", "LinAlgError", "NonFiniteError", "NumericalWarning"]


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
