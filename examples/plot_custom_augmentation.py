"""
A custom augmentation, by Monte Carlo
=====================================

Closed-form augmentations (:class:`linssl.Gaussian`, :class:`linssl.Mask`, their
:class:`linssl.Compose`) give exact moments. Any other augmentation is a Python function of a
chunk of rows and a random generator: :class:`linssl.Custom` estimates its moments by Monte
Carlo, with standard errors. Here a random per-sample gain plus Gaussian noise; with the gain
fixed to 1 it is a plain :class:`linssl.Gaussian`, whose exact moments check the estimate.
"""

import matplotlib.pyplot as plt
import numpy as np

import linssl

X = np.random.default_rng(0).standard_normal((4000, 16))


def gain_and_noise(x, rng, spread=0.5):
    gain = rng.uniform(1 - spread, 1 + spread, size=(len(x), 1))
    return x * gain + rng.normal(0.0, 0.3, size=x.shape)


exact = linssl.Gaussian(0.3**2).moments(X)
no_gain = linssl.Custom(lambda x, rng: gain_and_noise(x, rng, spread=0.0), draws=32, seed=0).moments(X)
print("largest |S_mc - S_exact| / stderr:", float(np.max(np.abs(no_gain.S - exact.S) / no_gain.stderr["S"])))

# The custom augmentation fits like any other.
augmentation = linssl.Custom(gain_and_noise, draws=32, seed=0)
je, rc, _ = linssl.fit_all(X, augmentation, k=4)
print("joint embedding loss", je.loss_, "reconstruction loss", rc.loss_)

fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.plot(np.diag(exact.S), "o-", label="no gain: exact")
ax.plot(np.diag(no_gain.S), ".", label="no gain: Monte Carlo")
ax.plot(np.diag(augmentation.moments(X).S), "s-", label="random gain: Monte Carlo")
ax.set(xlabel="feature", ylabel="diagonal of S")
ax.legend()
