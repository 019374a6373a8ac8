"""Moments of the paper's Gaussian model drawn without the rows, at any ``n``.

The clean, corrupted and cross second moments come from one Wishart draw (:mod:`linssl.wishart`) of
the Gram matrix of the model's Gaussian coordinates; only the label statistics need more: explicit
draws of the few label-relevant coordinates up to :data:`EXACT_LABEL_ROWS` samples, a central limit
approximation above. :meth:`linssl.SignalNoiseModel.sample_moments` is the entry point and documents
the method and its error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linssl.accumulate import DataMoments
from linssl.wishart import bartlett, gram_with

__all__ = ["EXACT_LABEL_ROWS", "SampledMoments"]

#: Up to this many samples, :meth:`linssl.SignalNoiseModel.sample_moments` draws the label statistics
#: exactly (explicit draws of the few label-relevant coordinates); above it, by the central limit
#: approximation described there.
EXACT_LABEL_ROWS = 2**20

# Draws of the label-relevant coordinates behind the class-conditional moments of that approximation.
_LABEL_POOL = 2**20
_CHUNK = 2**16



@dataclass(frozen=True, eq=False)
class SampledMoments:
    """The moments of one draw of ``n`` samples, drawn without the rows (:meth:`linssl.SignalNoiseModel.sample_moments`).

    Parameters
    ----------
    clean : DataMoments
        Of the clean rows ``X`` with one-hot label targets ``Y`` (n x n_classes): ``X^T X / n``,
        ``X^T Y / n``, ``Y^T Y / n`` and the means.
    corrupted : DataMoments
        The same for the corrupted rows ``X + N`` (``N`` the irrelevant features), same labels.
    clean_corrupted : ndarray, shape (d, d), float64
        The cross moment ``X^T (X + N) / n`` (its noise part ``X^T N / n`` is the finite-n term).
    exact_labels : bool
        Whether the label statistics are exact (``n <= EXACT_LABEL_ROWS``) or approximated.

    Examples
    --------
    >>> import linssl
    >>> m = linssl.SignalNoiseModel.random(2, 4, seed=0).sample_moments(1000, seed=0)
    >>> m.n, m.clean.second_moment.shape, m.exact_labels
    (1000, (4, 4), True)
    """

    clean: DataMoments
    corrupted: DataMoments
    clean_corrupted: np.ndarray
    exact_labels: bool

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.clean.n



def draw_moments(model, n: int, rng: np.random.Generator, label_dirs: np.ndarray, free_dirs: np.ndarray, exact: bool) -> SampledMoments:
    """The moments of :meth:`linssl.SignalNoiseModel.sample_moments` (which documents the method):
    ``label_dirs`` (k, r) span the rows of the label map, ``free_dirs`` (k, k - r) the rest."""
    k, l, d = model.k, model.n_classes, model.d
    r = label_dirs.shape[1]
    A = model.label_weights
    phi = _label_gram_exact(n, rng, A @ label_dirs) if exact else _label_gram_clt(model, n, rng)
    noisy = np.flatnonzero(model.noise_spectrum > 0)
    H = gram_with(phi, n, (k - r) + len(noisy), rng)  # Gram of [U, Y, V, W]
    width = r + l + (k - r) + len(noisy)
    signal = model.signal_basis * np.sqrt(model.signal_variances)  # (d, k): x = signal @ z
    P_clean = np.zeros((d, width))
    P_clean[:, :r] = signal @ label_dirs
    P_clean[:, r + l : r + l + k - r] = signal @ free_dirs
    P_noise = np.zeros((d, width))
    P_noise[:, r + l + k - r :] = model.Q_Gamma[:, noisy] * np.sqrt(model.noise_spectrum[noisy])
    P_corrupted = P_clean + P_noise
    P_labels = np.zeros((l, width))
    P_labels[:, r : r + l] = np.eye(l)

    def block(P1, P2):
        return (P1 @ H @ P2.T) / n

    def symmetric(P):
        M = block(P, P)
        return 0.5 * (M + M.T)

    YtY = symmetric(P_labels)
    y_mean = np.diag(YtY).copy()  # one-hot rows: sum_i y_i = diag(Y^T Y)

    def data(P):
        XtY = block(P, P_labels)
        return DataMoments(n=n, mean=XtY.sum(axis=1), second_moment=symmetric(P), cross_moment=XtY,
                           y_mean=y_mean, y_second_moment=YtY)

    return SampledMoments(clean=data(P_clean), corrupted=data(P_corrupted),
                          clean_corrupted=block(P_clean, P_corrupted), exact_labels=exact)

def _label_gram_exact(n: int, rng: np.random.Generator, label_map: np.ndarray) -> np.ndarray:
    """``[U, Y]^T [U, Y]`` from ``n`` explicit draws of the ``r`` label-relevant coordinates."""
    r, l = label_map.shape[1], label_map.shape[0]
    phi = np.zeros((r + l, r + l))
    for start in range(0, n, _CHUNK):
        u = rng.standard_normal((min(_CHUNK, n - start), r))
        y = np.argmax(u @ label_map.T, axis=1)
        phi[:r, :r] += u.T @ u
        for j in range(r):  # U^T Y: per-class sums of each coordinate
            phi[j, r:] += np.bincount(y, weights=u[:, j], minlength=l)
        phi[r:, r:] += np.diag(np.bincount(y, minlength=l).astype(np.float64))
    phi[r:, :r] = phi[:r, r:].T
    return phi

def label_law(model, label_pool_rng: np.random.Generator):
    """Moments of ``psi = [onehot(y), y (x) u]`` and its covariance with ``vech(u u^T)`` (Monte Carlo).

    Returns the mean of ``psi`` (l + l r,), its covariance, its cross-covariance with
    ``vech(u u^T)`` (whose mean ``vech(I)`` and covariance are known exactly) and the
    upper-triangle indices of ``vech``.
    """
    k, l = model.k, model.n_classes
    r = min(l, k)
    basis, _ = np.linalg.qr(model.label_weights.T, mode="complete")
    label_map = model.label_weights @ basis[:, :r]
    rng = label_pool_rng
    rows, cols = np.triu_indices(r)
    width = 1 + r + len(rows)  # f = [1, u, vech(u u^T) - vech(I)]
    centre = (rows == cols).astype(np.float64)
    sums = np.zeros((l, width, width))
    for _ in range(_LABEL_POOL // _CHUNK):
        u = rng.standard_normal((_CHUNK, r))
        y = np.argmax(u @ label_map.T, axis=1)
        order = np.argsort(y, kind="stable")
        bounds = np.searchsorted(y[order], np.arange(l + 1))
        u = u[order]
        feats = np.empty((_CHUNK, width))
        feats[:, 0] = 1.0
        feats[:, 1 : 1 + r] = u
        np.multiply(u[:, rows], u[:, cols], out=feats[:, 1 + r :])
        feats[:, 1 + r :] -= centre
        for c in range(l):
            f = feats[bounds[c] : bounds[c + 1]]
            sums[c] += f.T @ f
    E = sums / _LABEL_POOL  # per class c: E[1{y=c} f f^T]
    # psi has disjoint supports per class: [1{y=c}] and [1{y=c} u]; E[psi psi^T] is block diagonal.
    m = l + l * r
    idx = [np.r_[c, l + c * r + np.arange(r)] for c in range(l)]
    mean = np.zeros(m)
    second = np.zeros((m, m))
    cross = np.zeros((m, len(rows)))
    for c in range(l):
        mean[idx[c]] = E[c, 0, : 1 + r]
        second[np.ix_(idx[c], idx[c])] = E[c, : 1 + r, : 1 + r]
        cross[idx[c]] = E[c, : 1 + r, 1 + r :]
    cov = second - np.outer(mean, mean)
    return mean, cov, cross, (rows, cols)

def _label_gram_clt(model, n: int, rng: np.random.Generator) -> np.ndarray:
    """``[U, Y]^T [U, Y]`` by the central limit approximation of :meth:`linssl.SignalNoiseModel.sample_moments`.

    ``U^T U`` is drawn exactly (Wishart), then the label sums given it, as the Gaussian
    conditional of their joint central limit law.
    """
    mean, cov, cross, (rows, cols) = model._label_law
    l = model.n_classes
    r = min(l, model.k)
    UU = bartlett(n, r, rng)
    deviation = UU[rows, cols] - n * (rows == cols)
    exact_var = np.where(rows == cols, 2.0, 1.0)  # Var(u_i u_j) for i <= j; all covariances are zero
    gain = cross / exact_var  # Cov(psi, vech) Cov(vech)^-1
    residual = cov - gain @ cross.T
    w, V = np.linalg.eigh(0.5 * (residual + residual.T))
    root = V * np.sqrt(np.clip(w, 0.0, None))
    total = n * mean + gain @ deviation + np.sqrt(n) * (root @ rng.standard_normal(len(w)))
    counts = np.clip(total[:l], 0.0, None)
    phi = np.zeros((r + l, r + l))
    phi[:r, :r] = UU
    phi[:r, r:] = total[l:].reshape(l, r).T
    phi[r:, :r] = phi[:r, r:].T
    phi[r:, r:] = np.diag(counts)
    return phi

