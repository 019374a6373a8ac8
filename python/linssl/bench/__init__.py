"""Benchmarks: ``linssl bench``, the plain NumPy/SciPy reference it compares against, and the
reference implementation of a whole study.

- :mod:`linssl.bench.suite`: the comparisons and the report;
- :mod:`linssl.bench.problems`: the problems they time (also those of the asv suite);
- :mod:`linssl.bench.reference`: the closed forms in plain NumPy/SciPy (the tests' oracle too);
- :mod:`linssl.bench.reference_sweep`: the paper's study cell by cell with that reference.
"""

from linssl.bench import problems, suite
from linssl.bench.problems import *  # noqa: F401,F403 (the public names of both)
from linssl.bench.suite import *  # noqa: F401,F403

__all__ = [*problems.__all__, *suite.__all__]
