"""
A scaling study with ``linssl.study.sweep``
===========================================

A study is the Cartesian product of the listed values of each axis: here sample size x
alignment x noise magnitude on the paper's synthetic model, 2 seeds. The result is a pandas
table with one row per configuration, paradigm and seed (also written to ``out`` when given,
resumably).
"""

from linssl.study import plots, sweep

table = sweep.run(
    {"n": [200, 1000, 5000], "alpha": [0.1, 1.0, 10.0], "gamma_max": [1e3, 1e6], "d": [40], "k": [10]},
    seeds=2,
    progress=False,
)
print(table[["paradigm", "gamma_max", "alpha", "n", "distance_to_optimality"]].head(12))
fig = plots.distance_to_optimality_figure(table, title="Distance to optimality (d = 40, k = 10)")
