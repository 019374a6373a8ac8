"""The foundation pipe: NumPy array -> Rust accumulator -> X^T X / n, checked against NumPy."""

import numpy as np
import pytest

import linssl


def _reference(X):
    X = np.asarray(X, dtype=np.float64)
    return X.T @ X / X.shape[0]


def _rel_err(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (500, 64), (2049, 130)])
def test_covariance_matches_numpy_float64(shape, order):
    rng = np.random.default_rng(0)
    X = np.asarray(rng.standard_normal(shape) + 0.5, order=order)
    C = linssl.second_moment(X)
    assert C.shape == (shape[1], shape[1])
    assert C.dtype == np.float64
    assert _rel_err(C, _reference(X)) < 1e-12
    np.testing.assert_array_equal(C, C.T)


@pytest.mark.parametrize(
    "view",
    [
        lambda A: A[::2],  # row stride 2, unit column stride
        lambda A: A[:, ::3],  # no unit stride in C order
        lambda A: A[::-1, ::-2],  # negative strides
        lambda A: A.T[::2].T,  # Fortran-like with gaps
        lambda A: np.asfortranarray(A)[1::3, ::2],  # no unit stride, Fortran base
    ],
)
def test_covariance_non_contiguous_views(view):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((9000, 40))
    X = view(A)
    assert not (X.flags.c_contiguous and X.flags.f_contiguous)
    assert _rel_err(linssl.second_moment(X), _reference(X)) < 1e-12


def test_covariance_float32_is_accumulated_in_float64():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40_000, 32)).astype(np.float32) + 1.0
    C = linssl.second_moment(X)
    assert C.dtype == np.float64
    assert _rel_err(C, _reference(X)) < 1e-5


def test_covariance_converts_integer_input():
    X = np.arange(12).reshape(4, 3)
    assert _rel_err(linssl.second_moment(X), _reference(X)) < 1e-15


def test_covariance_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        linssl.second_moment(np.zeros(5))
    with pytest.raises(ValueError, match="no rows"):
        linssl.second_moment(np.zeros((0, 3)))
    with pytest.raises(TypeError, match="real numbers"):
        linssl.second_moment(np.zeros((3, 3), dtype=complex))


def test_version_is_a_string():
    assert isinstance(linssl.__version__, str) and linssl.__version__[0].isdigit()


def test_the_in_place_symmetrization_is_exact_for_every_layout():
    from linssl._core import symmetrize

    rng = np.random.default_rng(4)
    for make in (lambda a: a.copy(), np.asfortranarray, lambda a: np.ascontiguousarray(np.pad(a, 1))[1:-1, 1:-1]):
        A = make(rng.standard_normal((131, 131)))
        want = 0.5 * (A + A.T)
        symmetrize(A)
        np.testing.assert_array_equal(A, want)
    with pytest.raises(ValueError, match="square"):
        symmetrize(np.zeros((3, 4)))


def test_augmented_moments_share_the_second_moment_where_the_map_is_the_identity():
    X = np.random.default_rng(5).standard_normal((500, 7))
    m = linssl.Gaussian(0.3).moments(X)
    assert not m.G.flags.writeable and np.shares_memory(m.G, m.C)
    np.testing.assert_allclose(m.G, X.T @ X / 500, rtol=1e-12)
    np.testing.assert_allclose(m.S, X.T @ X / 500 + 0.3 * np.eye(7), rtol=1e-12)
    masked = linssl.Mask(0.6).moments(X)
    np.testing.assert_array_equal(masked.G, masked.G.T)
    np.testing.assert_array_equal(masked.S, masked.S.T)
