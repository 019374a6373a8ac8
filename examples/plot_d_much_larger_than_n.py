"""
Many more features than samples (d >> n)
========================================

With ``d > 2 n`` the estimators solve from ``n x n`` Gram matrices (``solver_ == "gram"``) and
never form a ``d x d`` matrix. At a size where both paths fit, the Gram path agrees with the
dense one, and its cost grows with ``n``, not ``d``.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

import linssl

rng = np.random.default_rng(0)
n = 200
dims, seconds = [1_000, 4_000, 16_000], []
for d in dims:
    X = rng.standard_normal((n, d))
    start = time.perf_counter()
    je = linssl.JointEmbedding(8, augmentation=linssl.Mask(0.8)).fit(X)
    seconds.append(time.perf_counter() - start)
    print(f"d = {d:6d}: solver_ = {je.solver_}, loss_ = {je.loss_:.6f}, {seconds[-1]:.2f} s")

X = rng.standard_normal((n, 1_000))
gram = linssl.Reconstruction(8, augmentation=linssl.Gaussian(0.5), solver="gram").fit(X)
dense = linssl.Reconstruction(8, augmentation=linssl.Gaussian(0.5), solver="dense").fit(X)
print("reconstruction loss, Gram vs dense:", gram.loss_, dense.loss_)

fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.plot(dims, seconds, "o-")
ax.set(xscale="log", xlabel="d (n = 200)", ylabel="fit time (s)", title="Joint embedding, Gram path")
