"""Fuzzing the public API with random, mostly invalid, arguments (hypothesis).

Whatever goes in, linssl either returns finite results or raises an ordinary Python exception of
an expected kind (ValueError, TypeError, linssl.LinAlgError, MemoryError), possibly after a
linssl.NumericalWarning: never a Rust panic (pyo3's PanicException derives from BaseException),
an "internal error" RuntimeError (a panic caught at the boundary), a crash or a silent NaN.
Arguments are mostly valid with one thing wrong, so that many calls reach the Rust core. Sizes
stay tiny (at most 7 x 7), so the suite runs in seconds and never exhausts memory.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import linssl
from linssl import MomentAccumulator, linalg
from linssl.models import JointEmbedding, Reconstruction, Supervised
from linssl.fitting import fit_all

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
EXPECTED = (ValueError, TypeError, np.linalg.LinAlgError, MemoryError)
ALLOWED_WARNINGS = (linssl.NumericalWarning,)

DTYPES = [np.float64, np.float32, np.int32, np.uint8, np.bool_, np.float16, ">f8", np.complex128, object, "U2"]
VALUES = [0.0, 1.0, -2.5, 1e-310, 1e200, -1e200, np.nan, np.inf, -np.inf]


def _corrupted(draw, A):
    """``A`` as it is (about half the time) or with one thing wrong: a special value, another
    dtype, another shape, a duplicated column, another memory layout, or a list."""
    kind = draw(st.sampled_from(["none"] * 6 + ["value", "dtype", "shape", "duplicate", "layout", "list"]))
    if kind == "value" and A.size:
        A = A.copy()
        A.flat[draw(st.integers(0, A.size - 1))] = draw(st.sampled_from(VALUES))
    elif kind == "dtype":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # casting NaN or 1e200 to integers is the point here
            A = np.array(A.astype(draw(st.sampled_from(DTYPES))))
    elif kind == "shape":
        shape = tuple(draw(st.integers(0, 4)) for _ in range(draw(st.sampled_from([0, 1, 2, 3]))))
        A = np.ones(shape)
    elif kind == "duplicate" and A.ndim == 2 and A.shape[1] > 1:
        A = A.copy()
        A[:, -1] = A[:, 0]
    elif kind == "layout":
        layout = draw(st.sampled_from(["F", "reversed", "strided", "readonly"]))
        if layout == "F":
            A = np.asfortranarray(A)
        elif layout == "reversed" and A.ndim:
            A = A[::-1]
        elif layout == "strided" and A.ndim == 2:
            A = np.repeat(A, 2, axis=1)[:, ::2]
        else:
            A = A.copy()
            A.flags.writeable = False
    elif kind == "list":
        return A.tolist()
    return A


def _normal(draw, shape):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.standard_normal(shape) * draw(st.sampled_from([1.0, 1e-3, 1e3]))


@st.composite
def data(draw, max_side=7):
    """``(X, y)``: n x d data (often n < d, sometimes empty) and targets, each maybe corrupted."""
    n, d = draw(st.integers(0, max_side)), draw(st.integers(0, max_side))
    X = _normal(draw, (n, d))
    rank = draw(st.integers(0, d))
    if rank < d and n:  # data of low rank: k above the rank
        X = X[:, :rank] @ _normal(draw, (rank, d)) if rank else np.zeros((n, d))
    y = draw(st.sampled_from([None, (n,), (n, 2)]))
    y = None if y is None else _corrupted(draw, _normal(draw, y))
    return _corrupted(draw, X), y


@st.composite
def matrices(draw, d, kind):
    """A d x d symmetric (``kind="sym"``) or positive semi-definite (``"psd"``) matrix, maybe corrupted."""
    F = _normal(draw, (d, draw(st.integers(0, d + 1))))
    A = F @ F.T if kind == "psd" else F @ F.T - _normal(draw, (d, 1)) ** 2 * np.eye(d)
    A = A + draw(st.sampled_from([0.0, 1e-12, 1.0])) * np.eye(d) if d else A
    return _corrupted(draw, A)


@st.composite
def augmentations(draw):
    """Augmentation specs, mostly valid; building one may itself raise."""
    kind = draw(st.sampled_from(["none", "gaussian", "gaussian", "mask", "mask", "compose", "custom", "not one"]))
    valid = draw(st.booleans()) or draw(st.booleans())  # three times in four
    if valid:
        value = draw(st.sampled_from([1e-3, 0.5, 1.0]))
    else:
        value = draw(
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True),
                st.integers(-3, 3),
                st.builds(lambda d: np.linspace(0.1, 1.0, d), st.integers(0, 7)),
                st.integers(0, 7).flatmap(lambda d: matrices(d, "psd")),
            )
        )
    if kind == "none":
        return lambda: None
    if kind == "gaussian":
        return lambda: linssl.Gaussian(value)
    if kind == "mask":
        return lambda: linssl.Mask(value)
    if kind == "compose":
        return lambda: linssl.Compose([linssl.Mask(0.5), linssl.Gaussian(value)])
    if kind == "custom":
        behaviour = draw(st.sampled_from(["ok", "ok", "shape", "nan", "raises", "strings"]))
        fns = {
            "ok": lambda x: x + 1.0,
            "shape": lambda x: x[:, :1],
            "nan": lambda x: x * np.nan,
            "raises": lambda x: 1 / 0,
            "strings": lambda x: np.full(x.shape, "a"),
        }
        draws = draw(st.sampled_from([2, 4, 0]))
        return lambda: linssl.Custom(fns[behaviour], draws=draws)
    return lambda: "noise"


ks = st.one_of(st.integers(1, 3), st.integers(-2, 9), st.none(), st.sampled_from([2.5, True, "2", np.int64(2)]))
ridges = st.sampled_from([0.0, 0.0, 1e-8, 1e-2, -1.0, np.nan, np.inf, 1e300])
methods = st.sampled_from(["auto", "auto", "dense", "iterative", "gram", "bogus"])


def _call(fn):
    """Run ``fn``; return its result, or None after an expected exception. Fail on anything else."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn()
        except EXPECTED as err:
            assert "panicked" not in str(err) and "internal error" not in str(err), str(err)
            result = None
        except ZeroDivisionError:  # raised by a user's Custom function, passed through untouched
            result = None
        except BaseException as err:  # PanicException, RuntimeError, ...: a bug
            pytest.fail(f"unexpected {type(err).__module__}.{type(err).__name__}: {err}")
    for w in caught:
        assert issubclass(w.category, ALLOWED_WARNINGS), f"{w.category.__name__}: {w.message}"
    return result


def _assert_finite(*values):
    for value in values:
        assert np.all(np.isfinite(np.asarray(value, dtype=np.float64))), "a result holds NaN or Inf"


@SETTINGS
@given(data(), augmentations(), ks, ridges, methods, st.sampled_from([JointEmbedding, Reconstruction, Supervised]))
def test_estimators(Xy, make_aug, k, ridge, method, cls):
    X, y = Xy

    def run():
        aug = make_aug()
        est = Supervised(augmentation=aug, ridge=ridge, solver=method) if cls is Supervised else cls(k, augmentation=aug, ridge=ridge, solver=method)
        est.fit(X, y)
        return est

    est = _call(run)
    if est is not None:
        _assert_finite(est.loss_, getattr(est, "components_", 0.0), getattr(est, "coef_", 0.0))
        _call(lambda: _assert_finite(est.transform(X)))


@SETTINGS
@given(data(), augmentations(), ks, ridges, methods)
def test_fit_all(Xy, make_aug, k, ridge, method):
    X, y = Xy
    fits = _call(lambda: fit_all(X, make_aug(), k, y, ridge=ridge, solver=method))
    if fits is not None:
        _assert_finite(*(est.loss_ for est in fits if est is not None))


@SETTINGS
@given(
    st.integers(0, 7).flatmap(lambda d: st.tuples(matrices(d, "sym"), matrices(d, "psd"))),
    ks,
    st.booleans(),
    methods,
    st.sampled_from([None, 1e-3, 0.0, 2.0, np.nan]),
    ridges,
)
def test_eigh_generalized(AB, k, largest, method, tol, ridge):
    A, B = AB
    out = _call(lambda: linalg.eigh_generalized(A, B, k, largest=largest, solver=method, tol=tol, ridge=ridge))
    if out is not None:  # an eigenvalue that overflows float64 is infinite, as in IEEE arithmetic; never NaN
        assert not np.any(np.isnan(out[0])) and not np.any(np.isnan(out[1]))


@SETTINGS
@given(st.integers(0, 7).flatmap(lambda d: st.tuples(matrices(d, "psd"), matrices(d, "psd"), matrices(d, "sym"))), st.integers(-1, 8), ridges)
def test_closed_forms(SGC, k, ridge):
    S, G, C = SGC
    for fn in (
        lambda: linalg.joint_embedding(S, G, k, ridge=ridge),
        lambda: linalg.reconstruction(S, C, 1.0, k, ridge=ridge),
        lambda: linalg.supervised(S, C, 1.0, ridge=ridge),
    ):
        out = _call(fn)
        if out is not None:
            _assert_finite(*(v for v in out if not isinstance(v, str)))  # every field but the solver's name


@SETTINGS
@given(
    st.one_of(st.integers(-1, 7), st.sampled_from([2**62, -(2**62), 2.5, "3", None])),
    st.one_of(st.integers(-1, 3), st.sampled_from([2**62, 1.5])),
    st.lists(data(), max_size=3),
)
def test_moment_accumulator(d, l, chunks):
    acc = _call(lambda: MomentAccumulator(d, l))
    if acc is None:
        return
    for x, y in chunks:
        _call(lambda: acc.update(x, y))
        _assert_finite(acc.xtx, acc.sum_x, acc.xty)  # a refused chunk leaves no trace
    other = _call(lambda: MomentAccumulator(acc.d, acc.l))
    _call(lambda: acc.merge(other))
    _call(lambda: acc.merge(acc))


@SETTINGS
@given(data(), st.sampled_from([None, None, 2, 0, -1, 1.5]), st.sampled_from([None, None, np.float32, np.float64, np.int8]))
def test_moments_and_covariance(Xy, chunk_size, dtype):
    X, y = Xy
    m = _call(lambda: linssl.moments(X, y, chunk_size=chunk_size, dtype=dtype))
    if m is not None:
        _assert_finite(m.second_moment, m.mean)
    c = _call(lambda: linssl.second_moment(X, chunk_size=chunk_size, dtype=dtype))
    if c is not None:
        _assert_finite(c)
