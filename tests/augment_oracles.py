"""Monte Carlo oracle shared by the tests of the image, mask and linear-map augmentations.

From the definitions in paper.md's "Setting", with ``R`` independent views ``Z_a`` of ``X`` drawn
with ``sample``: ``Z_a^T Z_a / n`` has mean ``S``; for independent draws ``a != b``,
``(Z_a^T Z_b + Z_b^T Z_a) / (2 n)`` has mean ``G``; ``X^T Z_a / n`` has mean ``C``.
"""

import numpy as np

# Five standard errors per entry (the tolerance).
Z_CRIT = 5.0


def empirical(aug, X, draws=3000, seed=1):
    """{name: (mean, standard error)} of the per-draw statistics of sampled views."""
    n, d = X.shape
    rng = np.random.default_rng(seed)
    Z = aug.sample(np.tile(X, (draws, 1)), rng).reshape(draws, n, d)
    per_draw = {
        "S": np.einsum("rni,rnj->rij", Z, Z) / n,
        "G": (np.einsum("rni,rnj->rij", Z[0::2], Z[1::2]) + np.einsum("rni,rnj->rij", Z[1::2], Z[0::2])) / (2 * n),
        "C": np.einsum("ni,rnj->rij", X, Z) / n,
    }
    return {k: (v.mean(axis=0), v.std(axis=0, ddof=1) / np.sqrt(len(v))) for k, v in per_draw.items()}


def assert_within(exact, mean, stderr, what):
    """Every entry within Z_CRIT standard errors (entries that never vary must agree to rounding)."""
    scale = max(float(np.abs(exact).max()), 1e-300)
    bound = Z_CRIT * stderr + 1e-9 * scale
    excess = np.abs(exact - mean) - bound
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    assert excess[worst] <= 0, (
        f"{what}: entry {worst} exact {exact[worst]:.6g}, Monte Carlo {mean[worst]:.6g} +- {stderr[worst]:.3g}"
    )


def check_against_monte_carlo(aug, X, draws=3000, seed=1):
    m = aug.moments(X)
    emp = empirical(aug, X, draws, seed)
    for name in ("S", "G", "C"):
        assert_within(getattr(m, name), *emp[name], f"{type(aug).__name__} {name}")
