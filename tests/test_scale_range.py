"""Every paradigm solves data of any representable scale, 1e-150 to 1e150, exactly as at scale 1.

The reference (plain NumPy/SciPy) runs on the unscaled data; linssl runs on data multiplied by
``10^e`` with the augmentation scaled to match (noise variance ``10^(2e)``, masks unchanged). The
optimal models then scale exactly: JE's omega and row space are unchanged, RC's singular values
scale by ``10^e``, the supervised map by ``10^-e``.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import linssl
from linssl.bench import reference as ref
from linssl.metrics import subspace_distance

RNG = np.random.default_rng(11)
X = RNG.standard_normal((300, 8)) @ RNG.standard_normal((8, 8))
Y = X @ RNG.standard_normal((8, 2)) + 0.1 * RNG.standard_normal((300, 2))
NOISE = 0.5


def _reference(kind):
    m = ref.gaussian_moments(X, NOISE, Y) if kind == "gaussian" else ref.mask_moments(X, 0.7, Y)
    return m, ref.joint_embedding(m.S, m.G, 3), ref.reconstruction(m.S, m.C, m.trace_xx, 3), ref.supervised(m.S, m.B, m.trace_yy)


REFERENCE = {kind: _reference(kind) for kind in ("gaussian", "mask")}


@settings(max_examples=40, deadline=None)
@given(st.integers(-150, 150), st.sampled_from(["gaussian", "mask"]))
def test_all_three_paradigms_at_any_scale(e, kind):
    s = 10.0**e
    aug = linssl.Gaussian(NOISE * s * s) if kind == "gaussian" else linssl.Mask(0.7)
    _, je_ref, rc_ref, sl_ref = REFERENCE[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, underflow or spurious undetermined-direction warnings
        je, rc, sl = linssl.fit_all(X * s, aug, 3, y=Y)
    np.testing.assert_allclose(je.eigenvalues_, je_ref.omega, rtol=1e-9)
    assert subspace_distance(je.components_, je_ref.W) < 1e-8
    np.testing.assert_allclose(rc.singular_values_ / s, rc_ref.phi, rtol=1e-9)
    assert subspace_distance(rc.encoder_, rc_ref.E) < 1e-8
    np.testing.assert_allclose(np.atleast_2d(sl.coef_) * s, sl_ref.V, rtol=1e-8, atol=1e-12 * np.abs(sl_ref.V).max())


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_the_iterative_solver_keeps_its_tolerance_at_extreme_scales(scale):
    # d = 1024 with a 1/i spectrum: norms of the scaled matrices must not overflow or underflow.
    d, k = 1024, 8
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = (Q * (1.0 / np.arange(1, d + 1))) @ Q.T
    A = (A + A.T) / 2
    B = np.eye(d) + 0.1 * np.diag(rng.random(d))
    from linssl import _core

    w, V, info = _core.eigh_generalized(A * scale, B, k, True, "iterative", 1e-10, 0.0)
    # The residual of (scale A, B) at (w, V) is scale times that of (A, B) at (w / scale, V):
    # measured at scale 1, where NumPy's norms neither overflow nor underflow.
    u = w / scale
    residual = np.linalg.norm(A @ V - (B @ V) * u, axis=0) / (
        (np.linalg.norm(A) + np.abs(u) * np.linalg.norm(B)) * np.linalg.norm(V, axis=0)
    )
    assert residual.max() <= 1e-10
    assert info["solver"] == "iterative"  # it converges as at scale 1, no fallback to dense
    assert 0.0 < info["max_residual"] <= 1e-10
    np.testing.assert_allclose(info["max_residual"], residual.max(), rtol=0.5)
