"""Smoke test of an installed wheel, run in a fresh virtualenv with no Rust toolchain."""

import shutil

import numpy as np

import linssl

assert shutil.which("cargo") is None and shutil.which("rustc") is None, "a Rust toolchain is visible"
assert "site-packages" in linssl.__file__, linssl.__file__
rng = np.random.default_rng(0)
X = rng.standard_normal((5000, 37))
ref = X.T @ X / X.shape[0]
for view in (X, np.asfortranarray(X), X[::3, ::2], X.astype(np.float32)):
    got = linssl.second_moment(view)
    want = view.astype(np.float64).T @ view.astype(np.float64) / view.shape[0]
    tol = 1e-5 if view.dtype == np.float32 else 1e-12
    assert np.abs(got - want).max() <= tol * np.abs(want).max(), view.dtype
print(f"wheel smoke test passed: linssl {linssl.__version__} from {linssl.__file__}")
