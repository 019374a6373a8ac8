"""
Phase diagram: which paradigm is optimal
========================================

Over (irrelevant noise magnitude ``gamma_max``) x (alignment ``alpha``) on the paper's synthetic
model at large ``n``, which of joint embedding and reconstruction reach the optimal subspace.
The lines are the analytic thresholds of :mod:`linssl.theory`.
"""

import linssl
from linssl.study import plots, reproduce, sweep

table = sweep.run(reproduce.phase_grid(quick=True), progress=False)
fig = plots.phase_diagram(table)

# The theory's verdict for one model, in words.
model = linssl.SignalNoiseModel.random(k=10, d=40, gamma_max=1e6, seed=0)
print(linssl.theory.regime(model).explain())
