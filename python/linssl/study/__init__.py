"""Scaling studies: grids over sample size, dimension, noise and alignment, with tables and figures.

- :mod:`~linssl.study.grid`: the axes of a study, validated (:class:`~linssl.study.grid.Grid`);
- :mod:`~linssl.study.cell`: one data sample, every augmentation x paradigm, and the paper's metrics;
- :mod:`~linssl.study.sweep`: running a grid locally or on Dask, resumably;
- :mod:`~linssl.study.store`: the results directory (atomic, resumable files);
- :mod:`~linssl.study.config`: study files in TOML, with a typed schema;
- :mod:`~linssl.study.reproduce`: the paper's linear experiment end to end;
- :mod:`~linssl.study.plots`: the paper's Figure 3 and the phase diagram.
"""
