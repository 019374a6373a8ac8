"""The problems ``linssl bench`` and the asv suite in ``benchmarks/`` time: data, eigenproblems and
augmentations of stated shapes and spectra, all seeded.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "batch_problems",
    "brightness_jitter",
    "dense_problem",
    "gain_and_noise",
    "normal_data",
    "relative_residual",
    "spectral_data",
    "spiked_problem",
]


def normal_data(n: int, d: int, dtype=np.float64, seed: int = 0) -> np.ndarray:
    """Standard normal rows, shape (n, d), C-ordered, in ``dtype``."""
    return np.random.default_rng(seed).standard_normal((n, d), dtype=np.float64).astype(dtype, copy=False)


def spectral_data(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Rows with a power-law spectrum (variances ``1 / j``, j = 1..d) in a random basis, (n, d) float64.

    Real data (images, embeddings) have decaying spectra with no gap, which is what the eigensolvers
    see here. Built in row blocks, so it needs no memory beyond the result.
    """
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    factor = (Q / np.sqrt(np.arange(1, d + 1))).T  # rows z diag(s^1/2) Q^T
    X = np.empty((n, d))
    for start in range(0, n, 8192):
        rows = slice(start, min(start + 8192, n))
        X[rows] = rng.standard_normal((X[rows].shape[0], d)) @ factor
    return X


def _with_spectrum(values: np.ndarray, rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((len(values), len(values))))
    q = q * np.sign(np.diag(r))
    m = (q * values) @ q.T
    return (m + m.T) / 2


def dense_problem(d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)``, (d, d) float64: a Wishart-like ``A`` and a positive definite ``B`` with condition number 1e3."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((d, d))
    A = X @ X.T / d
    return (A + A.T) / 2, _with_spectrum(np.logspace(0, 3, d), rng)


def spiked_problem(d: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)``, (d, d): ``k`` separated eigenvalues (100 down to 10) above a bulk in [0.1, 1]; ``B`` with condition 100."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([np.linspace(100.0, 10.0, k), rng.uniform(0.1, 1.0, d - k)])
    return _with_spectrum(values, rng), _with_spectrum(np.logspace(0, 2, d), rng)


def batch_problems(count: int, d: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` independent ``(A, B)`` pairs, (d, d): Wishart ``A``, Wishart plus 0.1 I ``B``."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        X, Y = rng.standard_normal((d, 2 * d)), rng.standard_normal((d, 2 * d))
        A, B = X @ X.T / (2 * d), Y @ Y.T / (2 * d) + 0.1 * np.eye(d)
        out.append(((A + A.T) / 2, (B + B.T) / 2))
    return out


def brightness_jitter(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random gain in [0.5, 1.5] per row: an augmentation without closed-form moments in linssl."""
    return x * rng.uniform(0.5, 1.5, size=(len(x), 1))


def gain_and_noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random gain in [0.5, 1.5] per row, then unit Gaussian noise: colour jitter plus noise, the
    typical cheap augmentation of an SSL pipeline (the function draws d normal numbers per row)."""
    return x * rng.uniform(0.5, 1.5, size=(len(x), 1)) + rng.standard_normal(x.shape)


def relative_residual(A, B, w, V) -> float:
    """``max_j ||A v_j - w_j B v_j|| / ((||A||_F + |w_j| ||B||_F) ||v_j||)``."""
    R = A @ V - (B @ V) * w
    scale = (np.linalg.norm(A) + np.abs(w) * np.linalg.norm(B)) * np.linalg.norm(V, axis=0)
    return float((np.linalg.norm(R, axis=0) / scale).max())
