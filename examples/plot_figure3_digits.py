"""
The paper's Figure 3 on the digits data
=======================================

Distance to optimality against the sample size ``n`` for joint embedding, reconstruction and
supervised learning, under weak and strong irrelevant noise and three alignments ``alpha``,
on the 8 x 8 digits embedded in noise (the paper's Appendix C, as ``linssl reproduce`` runs it).
The quick grid: 4 sample sizes and 2 seeds.
"""

import tempfile

from linssl.study import plots, reproduce, sweep

grid = reproduce.paper_grid("digits", quick=True, max_train=1000)
with tempfile.TemporaryDirectory() as out:
    table = sweep.run(grid, out=out, progress=False)
print(table.groupby(["paradigm", "gamma_max", "alpha"])["distance_to_optimality"].median().unstack())
fig = plots.distance_to_optimality_figure(table, title="Distance to optimality: digits (d = 40, k = 20)")
