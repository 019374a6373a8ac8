"""Benchmarks: ``linssl bench``, the plain NumPy/SciPy reference it compares against, and the
reference implementation of a whole study.

- :mod:`linssl.bench.suite`: the comparisons, their problem builders and the report;
- :mod:`linssl.bench.reference`: the closed forms in plain NumPy/SciPy (the tests' oracle too);
- :mod:`linssl.bench.reference_sweep`: the paper's study cell by cell with that reference.
"""

from linssl.bench.suite import *  # noqa: F401,F403 (the suite's public names)
from linssl.bench.suite import __all__  # noqa: F401
