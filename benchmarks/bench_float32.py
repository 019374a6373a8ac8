"""Accuracy of ``dtype=np.float32`` against float64 on the paper's linear experiment.

Data: the paper's Section 4.1 model as in its Appendix C (d = 100, k = 50, n = 100,000, weak
``gamma_max = 1e3`` and strong ``1e6`` irrelevant noise, alignment ``alpha`` = 0.1, 1, 10), and the
digits data set projected as in Appendix C (n = 1,000, strong noise, ``alpha = 1``). Each case
fits all three paradigms from float32 and from float64 moments of the same corrupted sample (the
float32 path includes rounding the data to float32) and reports, as ``track_`` benchmarks:

- ``moments``: ``||M32 - M64||_F / ||M64||_F`` for ``X^T X / n``;
- ``eigenvalues``: largest relative error of the joint-embedding ``omega`` and reconstruction ``phi^2``;
- ``subspace``: sine of the largest principal angle between the float32 and float64 solutions;
- ``loss``: relative error of the optimal objectives (all three paradigms);
- ``supervised``: ``||V32 - V64||_F / ||V64||_F``.

Run as a script (``python benchmarks/bench_float32.py``) to print the table.
"""

import numpy as np

import linssl
from linssl.metrics import subspace_distance

CASES = [f"synthetic gamma_max={g:g} alpha={a:g}" for g in (1e3, 1e6) for a in (0.1, 1.0, 10.0)] + ["digits gamma_max=1e6 alpha=1"]


def _case(name):
    """``(X, one-hot y, augmentation, k)`` of a case."""
    if name.startswith("digits"):
        model = linssl.from_dataset(*linssl.load_digits(), gamma_max=1e6, seed=0)
        sample, alpha = model.sample(1000, seed=0), 1.0
    else:
        gamma, alpha = (float(part.split("=")[1]) for part in name.split()[1:])
        model = linssl.SignalNoiseModel.random(k=50, d=100, gamma_max=gamma, seed=0)
        sample = model.sample(100_000, seed=0)
    return sample.corrupted, np.eye(model.n_classes)[sample.labels], model.augmentation(alpha), 50


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def errors(name):
    """All float32-vs-float64 errors of one case (a dict of floats)."""
    X, y, aug, k = _case(name)
    m64, m32 = linssl.moments(X, y), linssl.moments(X, y, dtype=np.float32)
    a64, a32 = aug.moments(m64), aug.moments(m32)
    out = {"moments": _rel(m32.second_moment, m64.second_moment), "eigenvalues": 0.0, "subspace": 0.0, "loss": 0.0}
    for cls in (linssl.JointEmbedding, linssl.Reconstruction):
        f64, f32 = cls(k).fit_moments(a64), cls(k).fit_moments(a32)
        values = (lambda f: f.eigenvalues_) if cls is linssl.JointEmbedding else (lambda f: f.singular_values_**2)
        out["eigenvalues"] = max(out["eigenvalues"], float(np.max(np.abs(values(f32) - values(f64)) / np.abs(values(f64)))))
        out["subspace"] = max(out["subspace"], subspace_distance(f32.components_, f64.components_))
        out["loss"] = max(out["loss"], abs(f32.loss_ - f64.loss_) / abs(f64.loss_))
    s64, s32 = linssl.Supervised().fit_moments(a64), linssl.Supervised().fit_moments(a32)
    out["loss"] = max(out["loss"], abs(s32.loss_ - s64.loss_) / abs(s64.loss_))
    out["supervised"] = _rel(s32.coef_, s64.coef_)
    return out


class Float32Accuracy:
    params = CASES
    param_names = ["case"]
    timeout = 600

    def setup_cache(self):
        return {case: errors(case) for case in CASES}

    def track_moments(self, results, case):
        return results[case]["moments"]

    def track_eigenvalues(self, results, case):
        return results[case]["eigenvalues"]

    def track_subspace(self, results, case):
        return results[case]["subspace"]

    def track_loss(self, results, case):
        return results[case]["loss"]

    def track_supervised(self, results, case):
        return results[case]["supervised"]

    for _f in (track_moments, track_eigenvalues, track_subspace, track_loss, track_supervised):
        _f.unit = "relative error"
    del _f


def main():
    keys = ["moments", "eigenvalues", "subspace", "loss", "supervised"]
    print(f"{'case':40}" + "".join(f"{k:>13}" for k in keys))
    for case in CASES:
        e = errors(case)
        print(f"{case:40}" + "".join(f"{e[k]:13.1e}" for k in keys))


if __name__ == "__main__":
    main()
