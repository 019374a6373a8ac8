"""Bad input at every entry point: each gets a clear error (what was wrong, where, what to do) or a
correct result, never a crash, a Rust panic or a silent NaN.

Covered elsewhere (not repeated here): augmentation parameters out of range (mask p outside
(0, 1], negative, non-symmetric, non-PSD or wrongly shaped noise covariance) in
test_augment.py::test_invalid_parameters and ::test_dimension_mismatch_is_reported; a Custom
augmentation returning the wrong shape or NaN in test_augment.py::test_custom_bad_output_names_the_function;
bad matrices for the eigensolvers (k = 0, k > d, asymmetric, NaN) in
test_linalg.py::test_bad_input_raises_value_error; a dense fit too large for memory in
test_gram.py::test_dense_fit_too_large_for_memory_is_refused_before_allocating; bad chunk streams in
test_out_of_core.py::test_bad_streams_are_reported.
"""

import re

import numpy as np
import pytest

import linssl
from linssl import MomentAccumulator, gram, linalg
from linssl.models import JointEmbedding, Reconstruction, Supervised
from linssl.fitting import fit_all

N, D = 60, 6


def _data(n=N, d=D, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(1.0, 2.0, d)
    y = X[:, :2] @ np.array([[1.0, -1.0], [0.5, 2.0]]) + 0.1 * rng.standard_normal((n, 2))
    return X, y


def _wide(seed=0):
    """d >> n, for the Gram path."""
    return np.random.default_rng(seed).standard_normal((12, 80))


def _chunks(X, rows):
    return (X[i : i + rows] for i in range(0, len(X), rows))


# --- NaN and Inf: named by row and column, at every entry point ----------------------------------

# Each takes (X, y) and reads them through a different path to the data.
ENTRY_POINTS = {
    "JointEmbedding.fit": lambda X, y: JointEmbedding(2, augmentation=linssl.Gaussian(1.0)).fit(X),
    "Reconstruction.fit": lambda X, y: Reconstruction(2, augmentation=linssl.Mask(0.7)).fit(X),
    "Supervised.fit": lambda X, y: Supervised(augmentation=linssl.Gaussian(1.0)).fit(X, y),
    "fit_all": lambda X, y: fit_all(X, linssl.Gaussian(1.0), 2, y=y),
    "moments": lambda X, y: linssl.moments(X, y),
    "covariance": lambda X, y: linssl.second_moment(X),
    "Gaussian.moments": lambda X, y: linssl.Gaussian(0.5).moments(X, y),
    "Compose.moments": lambda X, y: linssl.Compose([linssl.Mask(0.8), linssl.Gaussian(0.5)]).moments(X, y),
    "Custom.moments": lambda X, y: linssl.Custom(lambda x, rng: x + rng.standard_normal(x.shape), draws=4).moments(X, y),
    "chunk iterator": lambda X, y: linssl.moments(_chunks(X, 7)),
    "pair iterator": lambda X, y: linssl.moments(zip(_chunks(X, 7), _chunks(y, 7))),
    "chunk_size": lambda X, y: linssl.moments(X, y, chunk_size=9),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("value, shown", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_x_is_named_by_row_and_column(entry, value, shown):
    X, y = _data()
    X[23, 4] = value
    X[40, 1] = np.nan  # a later one is not the first
    with pytest.raises(ValueError, match=rf"^X contains {shown} at row 23, column 4 .*remove or impute") as err:
        ENTRY_POINTS[entry](X, y)
    assert "panicked" not in str(err.value)


@pytest.mark.parametrize("entry", ["Supervised.fit", "fit_all", "moments", "Gaussian.moments", "Custom.moments", "pair iterator"])
def test_non_finite_y_is_named_by_row_and_column(entry):
    X, y = _data()
    y[31, 1] = np.inf
    with pytest.raises(ValueError, match=r"^y contains inf at row 31, column 1"):
        ENTRY_POINTS[entry](X, y)
    y1 = y[:, 0].copy()
    y1[5] = np.nan  # 1-D targets are one column
    with pytest.raises(ValueError, match=r"^y contains NaN at row 5, column 0"):
        ENTRY_POINTS[entry](X, y1)


def test_non_finite_values_in_a_memory_map_and_on_the_gram_path(tmp_path):
    X, y = _data()
    X[45, 2] = np.nan
    path = tmp_path / "x.npy"
    np.save(path, X.astype(np.float32))
    mapped = np.load(path, mmap_mode="r")
    with pytest.raises(ValueError, match=r"X contains NaN at row 45, column 2"):
        linssl.moments(mapped, chunk_size=10)
    with pytest.raises(ValueError, match=r"X contains NaN at row 45, column 2"):
        JointEmbedding(2, augmentation=linssl.Gaussian(1.0)).fit(mapped)
    wide = _wide()
    wide[7, 70] = np.inf
    wide[9, 3] = np.nan  # first in column order, but not in row order
    for run in (
        lambda: JointEmbedding(2, augmentation=linssl.Gaussian(1.0), solver="gram").fit(wide),
        lambda: fit_all(wide, linssl.Mask(0.5), 2),
        lambda: gram.gram_moments(wide, linssl.Gaussian(1.0)),
    ):
        with pytest.raises(ValueError, match=r"X contains inf at row 7, column 70"):
            run()
    with pytest.raises(ValueError, match=r"y contains NaN at row 3, column 0"):
        Supervised(augmentation=linssl.Gaussian(1.0), solver="gram").fit(_wide(), np.where(np.arange(12) == 3, np.nan, 1.0))


def test_non_finite_values_in_a_dask_array_are_named_by_their_global_row():
    da = pytest.importorskip("dask.array")
    X, y = _data()
    X[47, 5] = -np.inf
    Xd = da.from_array(X, chunks=(10, D))
    with pytest.raises(ValueError, match=r"X contains -inf at row 47, column 5"):
        linssl.moments(Xd)
    with pytest.raises(ValueError, match=r"X contains -inf at row 47, column 5"):
        fit_all(Xd, linssl.Gaussian(1.0), 2)
    y[12, 0] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN at row 12, column 0"):
        linssl.moments(da.from_array(_data()[0], chunks=(10, D)), y)


def test_transform_predict_and_score_name_non_finite_rows():
    X, y = _data()
    je = JointEmbedding(2, augmentation=linssl.Gaussian(1.0)).fit(X)
    sl = Supervised(augmentation=linssl.Gaussian(1.0)).fit(X, y)
    bad = X.copy()
    bad[8, 0] = np.nan
    for call in (lambda: je.transform(bad), lambda: sl.predict(bad), lambda: je.score(bad)):
        with pytest.raises(ValueError, match=r"X contains NaN at row 8, column 0"):
            call()


def test_the_accumulator_counts_rows_over_chunks_and_is_unchanged_by_a_refused_chunk():
    X, y = _data()
    acc = MomentAccumulator(D, 2)
    acc.update(X[:20], y[:20])
    before = (acc.n, acc.xtx, acc.sum_x, acc.xty)
    bad = X[20:].copy()
    bad[15, 3] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN at row 35, column 3"):
        acc.update(bad, y[20:])
    assert acc.n == before[0]
    for got, want in zip((acc.xtx, acc.sum_x, acc.xty), before[1:]):
        np.testing.assert_array_equal(got, want)
    acc.update(X[20:], y[20:])
    np.testing.assert_allclose(acc.xtx, X.T @ X, rtol=1e-13)


def test_finite_values_too_large_to_square_are_refused_not_returned_as_inf():
    X, _ = _data()
    X[3, 2] = 1e200
    with pytest.raises(ValueError, match="the sums or squares of X overflow .* rescale X"):
        linssl.second_moment(X)  # refused in the core, before the sums reach the accumulator
    with pytest.raises(ValueError, match="overflow"):
        JointEmbedding(2, augmentation=linssl.Gaussian(1.0)).fit(X)
    wide = _wide()
    wide[4, 2] = 1e200
    with pytest.raises(ValueError, match="column 2 of X overflow"):
        gram.gram_moments(wide, linssl.Gaussian(1.0))


def test_values_too_large_for_the_requested_precision_or_solution_are_refused():
    X, _ = _data()
    X[2, 2] = 1e200
    with pytest.raises(ValueError, match="too large for float32 .*use dtype=np.float64"):
        linssl.moments(X, dtype=np.float32)
    # Finite moments whose model is not: V = 1e200 / 1e-12.
    with pytest.raises(linssl.LinAlgError, match="supervised map overflows"):
        linalg.supervised([[1e-12]], [[1e200]], 1.0)
    with pytest.raises(linssl.LinAlgError, match="the reconstruction overflows"):  # phi^2 = 1e412
        linalg.reconstruction([[1e-12]], [[1e200]], 1.0, 1)
    # A ridge whose shift, ridge x trace(S) / d, overflows.
    X, _ = _data()
    for call in (
        lambda: JointEmbedding(2, augmentation=linssl.Gaussian(1.0), ridge=1e308, solver="dense").fit(X * 10),
        lambda: Supervised(augmentation=linssl.Gaussian(1.0), ridge=1e308).fit(X * 10, X[:, 0]),
        lambda: JointEmbedding(2, augmentation=linssl.Gaussian(1.0), ridge=1e308, solver="gram").fit(_wide() * 10),
    ):
        with pytest.raises(ValueError, match="overflows float64; ridge is relative to trace\\(S\\) / d"):
            call()


def test_complex_or_non_numeric_augmentation_parameters_are_refused():
    for make in (
        lambda: linssl.Gaussian(1.0 + 1j),
        lambda: linssl.Gaussian(np.eye(3) * (1 + 1j)),
        lambda: linssl.Mask(np.array([0.5 + 0.5j, 0.5])),
        lambda: linssl.LowRankPlusDiagonal(np.ones((3, 1)) * 1j),
    ):
        with pytest.raises(TypeError, match="complex128: Complex data not supported"):
            make()
    with pytest.raises(TypeError, match="Mask p has dtype <U32; linssl needs real numbers"):
        linssl.Mask(["half", 0.5])
    with pytest.raises(TypeError, match="Gaussian cov has dtype object with an entry that is not a real number"):
        linssl.Gaussian(np.array([1.0, "x"], dtype=object))


# --- shapes and sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda X: JointEmbedding(2).fit(X),
        lambda X: fit_all(X, linssl.Gaussian(1.0), 2),
        lambda X: linssl.moments(X),
        lambda X: linssl.second_moment(X),
        lambda X: linssl.Mask(0.5).moments(X),
        lambda X: linssl.Custom(lambda x: x).moments(X),
        lambda X: gram.gram_moments(X, linssl.Gaussian(1.0)),
    ],
)
@pytest.mark.parametrize("shape", [(), (5,), (3, 4, 2)])
def test_wrong_ndim_is_refused(call, shape):
    with pytest.raises(ValueError, match=r"2-D .*shape"):
        call(np.ones(shape))


def test_one_dimensional_x_in_an_estimator_says_how_to_reshape():
    with pytest.raises(ValueError, match=r"X.reshape\(-1, 1\) for a single feature"):
        JointEmbedding(1).fit(np.ones(5))
    je = JointEmbedding(1, augmentation=linssl.Gaussian(1.0)).fit(np.ones((5, 1)))
    with pytest.raises(ValueError, match="2-D"):
        je.transform(np.ones(5))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: linssl.moments(np.ones((0, 4))), "no rows"),
        (lambda: linssl.moments(np.ones((4, 0))), "no features"),
        (lambda: linssl.moments(iter([])), "no rows"),
        (lambda: linssl.moments(iter([np.ones((3, 0))])), "no features"),
        (lambda: linssl.Gaussian(1.0).moments(np.ones((0, 4))), "no rows"),
        (lambda: linssl.Custom(lambda x: x).moments(np.ones((0, 4))), "no rows"),
        (lambda: JointEmbedding(1).fit(np.ones((0, 4))), "0 sample"),
        (lambda: JointEmbedding(1).fit(np.ones((4, 0))), "0 feature"),
        (lambda: fit_all(np.ones((0, 4)), linssl.Gaussian(1.0), 1), "no rows"),
        (lambda: gram.gram_moments(np.ones((0, 4)), linssl.Gaussian(1.0)), "empty"),
        (lambda: MomentAccumulator(0), "at least 1"),
        (lambda: MomentAccumulator(-1), "at least 1"),
        (lambda: MomentAccumulator(3, -2), "at least 0"),
    ],
)
def test_empty_data_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_single_sample_fits_and_warns_that_one_direction_is_determined():
    x = np.array([[3.0, 4.0, 0.0, 1.0]])
    with pytest.warns(linssl.NumericalWarning, match="only 1 of the k = 2 directions are determined"):
        je = JointEmbedding(2, augmentation=linssl.Gaussian(1.0)).fit(x)
    # G = x x^T, S = x x^T + I: omega_1 = |x|^2 / (|x|^2 + 1) along x, omega_2 = 0.
    norm2 = float(np.sum(x**2))
    np.testing.assert_allclose(je.eigenvalues_, [norm2 / (norm2 + 1.0), 0.0], atol=1e-14)
    S = x.T @ x + np.eye(4)
    np.testing.assert_allclose(je.components_ @ S @ je.components_.T, np.eye(2), atol=1e-13)
    # ...and with k = 1 there is nothing to warn about.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        JointEmbedding(1, augmentation=linssl.Gaussian(1.0)).fit(x)


def test_a_single_feature_matches_the_scalar_formulas():
    X = np.random.default_rng(6).standard_normal((N, 1)) + 0.3
    y = 2.0 * X + np.random.default_rng(7).standard_normal((N, 1))
    m, c = float(np.mean(X**2)), 0.5
    fits = fit_all(X, linssl.Gaussian(c), 1, y=y[:, 0])
    # d = 1: S = m + c, G = C = m, B = mean(x y): omega = m / (m + c), phi^2 = m^2 / (m + c).
    assert fits.joint_embedding.eigenvalues_[0] == pytest.approx(m / (m + c), rel=1e-13)
    assert fits.reconstruction.singular_values_[0] ** 2 == pytest.approx(m**2 / (m + c), rel=1e-13)
    assert fits.supervised.coef_[0] == pytest.approx(np.mean(X[:, 0] * y[:, 0]) / (m + c), rel=1e-13)


# --- k -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "k, error, match",
    [
        (0, ValueError, r"'n_components' parameter of \w+ must be an int in the range \[1, inf\) or None. Got 0 "),
        (7, ValueError, "between 1 and d = 6; got 7"),
        (-1, ValueError, r"'n_components' parameter of \w+ must be an int in the range \[1, inf\) or None. Got -1 "),
        (2.5, TypeError, r"'n_components' parameter of \w+ must be an int .* Got 2.5 "),
        (True, TypeError, "n_components must be an integer, not a boolean; got True"),
        ("2", TypeError, r"'n_components' parameter of \w+ must be an int .* Got '2' "),
    ],
)
def test_k_out_of_range_or_not_an_integer(k, error, match):
    X, _ = _data()
    for call in (
        lambda: JointEmbedding(k, augmentation=linssl.Gaussian(1.0)).fit(X),
        lambda: Reconstruction(k, augmentation=linssl.Gaussian(1.0)).fit(X),
        lambda: fit_all(X, linssl.Gaussian(1.0), k),
    ):
        with pytest.raises(error, match=match):
            call()


@pytest.mark.parametrize("aug", [linssl.Gaussian(1.0), linssl.Mask(0.6)], ids=["gaussian", "mask"])
def test_k_above_the_rank_of_the_data_warns_and_keeps_the_determined_directions(aug):
    import scipy.linalg

    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 2)) @ rng.standard_normal((2, D))  # rank 2
    m = aug.moments(X)
    with pytest.warns(linssl.NumericalWarning, match=r"only 2 of the k = 4 directions .* omega_3\.\.omega_4 are 0"):
        je = JointEmbedding(4, augmentation=aug).fit(X)
    with pytest.warns(linssl.NumericalWarning, match=r"only 2 of the k = 4 .* phi\^2_3\.\.phi\^2_4 are 0"):
        rc = Reconstruction(4, augmentation=aug).fit(X)
    want = scipy.linalg.eigh(m.G, m.S, eigvals_only=True)[::-1][:4]
    np.testing.assert_allclose(je.eigenvalues_, want, atol=1e-12)
    assert np.all(np.abs(je.eigenvalues_[2:]) < 1e-12)
    np.testing.assert_allclose(je.components_ @ m.S @ je.components_.T, np.eye(4), atol=1e-10)
    assert np.all(np.abs(rc.singular_values_[2:]) < 1e-6)
    # Determined directions are those of SciPy; the undetermined ones are in the null space of G.
    _, V = scipy.linalg.eigh(m.G, m.S, subset_by_index=[D - 2, D - 1])
    assert linssl.metrics.subspace_distance(je.components_[:2], V.T) < 1e-8
    assert np.abs(je.components_[2:] @ m.G @ je.components_[2:].T).max() < 1e-12
    with pytest.warns(linssl.NumericalWarning, match="only 2 of the k = 4"):
        fit_all(X, aug, 4)


# --- targets -------------------------------------------------------------------------------------


def test_mismatched_targets_are_refused_with_both_shapes():
    X, y = _data()
    for call in (
        lambda: Supervised(augmentation=linssl.Gaussian(1.0)).fit(X, y[:-1]),
        lambda: fit_all(X, linssl.Gaussian(1.0), 2, y=y[:-1]),
        lambda: linssl.moments(X, y[:-1]),
        lambda: linssl.Custom(lambda x: x).moments(X, y[:-1]),
        lambda: Supervised(augmentation=linssl.Gaussian(1.0), solver="gram").fit(_wide(), np.ones(11)),
    ):
        with pytest.raises(ValueError, match=r"y must have \d+ rows .*got shape"):
            call()
    with pytest.raises(ValueError, match="Supervised requires y to be passed"):
        Supervised().fit(X)
    with pytest.raises(ValueError, match=r"y must have 60 rows"):
        linssl.moments(X, np.ones((N, 2, 2)))


# --- dtypes: real ones converted, complex and non-numbers refused, at every entry point ----------

DTYPE_ENTRY_POINTS = {
    "JointEmbedding.fit": lambda X: JointEmbedding(2, augmentation=linssl.Gaussian(1.0)).fit(X).eigenvalues_,
    "Supervised.fit": lambda X: Supervised(augmentation=linssl.Gaussian(1.0)).fit(X, np.arange(len(X)) % 3).coef_,
    "fit_all": lambda X: fit_all(X, linssl.Mask(0.5), 2).reconstruction.loss_,
    "moments": lambda X: linssl.moments(X).second_moment,
    "covariance": lambda X: linssl.second_moment(X),
    "chunk iterator": lambda X: linssl.moments(iter([X[:20], X[20:]])).second_moment,
    "MomentAccumulator.update": lambda X: _accumulated(X),
    "Gaussian.moments": lambda X: linssl.Gaussian(0.5).moments(X).S,
    "Custom.moments": lambda X: linssl.Custom(lambda x: 2 * x, draws=2).moments(X).S,
    "Mask.sample": lambda X: linssl.Mask(1.0).sample(X, 0),
    "gram path": lambda X: JointEmbedding(2, augmentation=linssl.Gaussian(1.0), solver="gram").fit(X).eigenvalues_,
    "eigh_generalized": lambda X: linalg.eigh_generalized(_symmetric_block(X), np.eye(D), 2)[0],
    "linalg.joint_embedding": lambda X: linalg.joint_embedding(np.eye(D) * 1e3, _symmetric_block(X), 2).omega,
    "linalg.reconstruction": lambda X: linalg.reconstruction(np.eye(D) * 1e3, X, 1.0, 2).phi2,
    "linalg.supervised": lambda X: linalg.supervised(np.eye(D) * 1e3, X, 1.0).V,
}


def _symmetric_block(X):
    """The upper triangle of the first D rows of X mirrored, without arithmetic (any dtype)."""
    B = X[:D, :D]
    return np.where(np.triu(np.ones((D, D), dtype=bool)), B, B.T)


def _accumulated(X):
    acc = MomentAccumulator(X.shape[1])
    acc.update(X)
    return acc.xtx


def _integer_data():
    return np.random.default_rng(4).integers(-5, 6, size=(N, D))


@pytest.mark.parametrize("entry", sorted(DTYPE_ENTRY_POINTS))
@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int64, np.uint16, np.float16, ">f8", object])
def test_real_dtypes_are_converted_to_float64(entry, dtype):
    X = _integer_data()
    if dtype is np.bool_:
        X = X > 0
    elif dtype is np.uint16:
        X = X + 5
    want = DTYPE_ENTRY_POINTS[entry](X.astype(np.float64))
    got = DTYPE_ENTRY_POINTS[entry](X.astype(dtype))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("entry", sorted(DTYPE_ENTRY_POINTS))
def test_complex_data_are_refused_naming_the_dtype(entry):
    X = _integer_data() + 1j
    with pytest.raises(TypeError, match=r"has dtype complex128: Complex data not supported.*X\.real") as err:
        DTYPE_ENTRY_POINTS[entry](X)
    assert isinstance(err.value, ValueError)  # as scikit-learn raises for complex data
    assert len(str(err.value)) < 300  # the message does not print the data


@pytest.mark.parametrize("entry", sorted(DTYPE_ENTRY_POINTS))
def test_objects_that_are_not_numbers_are_refused_naming_the_dtype(entry):
    X = _integer_data().astype(object)
    X[2, 3] = "seven"
    with pytest.raises(TypeError, match=r"has dtype object with an entry that is not a real number .*seven"):
        DTYPE_ENTRY_POINTS[entry](X)


@pytest.mark.parametrize("dtype", ["U3", "datetime64[s]"])
def test_strings_and_dates_are_refused_naming_the_dtype(dtype):
    X = np.zeros((4, 3)).astype(dtype)
    for call in (lambda: linssl.moments(X), lambda: JointEmbedding(1).fit(X), lambda: gram.gram_moments(X, linssl.Mask(0.5))):
        with pytest.raises(TypeError, match=re.escape(f"dtype {np.dtype(dtype)}; linssl needs real numbers")):
            call()


def test_integer_targets_of_float32_data_become_float32():
    X, _ = _data()
    labels = np.arange(N)[:, None] % 3
    acc, ref = MomentAccumulator(D, 1), MomentAccumulator(D, 1)
    acc.update(X.astype(np.float32), labels)
    ref.update(X.astype(np.float32), labels.astype(np.float32))
    np.testing.assert_array_equal(acc.xty, ref.xty)


def test_complex_targets_are_refused():
    X, y = _data()
    for call in (
        lambda: Supervised(augmentation=linssl.Gaussian(1.0)).fit(X, y + 1j),
        lambda: linssl.moments(X, y + 1j),
        lambda: MomentAccumulator(D, 2).update(X, y + 1j),
    ):
        with pytest.raises(TypeError, match="y has dtype complex128"):
            call()


# --- memory layouts ------------------------------------------------------------------------------


def _layouts(X, tmp_path):
    readonly = X.copy()
    readonly.flags.writeable = False
    path = tmp_path / "x.npy"
    np.save(path, X)
    wide = np.repeat(X, 2, axis=1)
    return {
        "fortran": np.asfortranarray(X),
        "column stride": wide[:, ::2],
        "row stride": np.repeat(X, 3, axis=0)[::3],
        "negative strides": X[::-1, ::-1].copy()[::-1, ::-1],
        "read-only": readonly,
        "memory map": np.load(path, mmap_mode="r"),
    }


@pytest.mark.parametrize(
    "entry", ["JointEmbedding.fit", "Supervised.fit", "covariance", "MomentAccumulator.update", "Custom.moments", "gram path"]
)
def test_any_memory_layout_gives_the_contiguous_result(entry, tmp_path):
    X = (_integer_data() + np.random.default_rng(5).standard_normal((N, D))) if entry != "gram path" else _wide()
    want = DTYPE_ENTRY_POINTS[entry](np.ascontiguousarray(X))
    for name, view in _layouts(X, tmp_path).items():
        np.testing.assert_allclose(DTYPE_ENTRY_POINTS[entry](view), want, rtol=1e-12, atol=1e-13, err_msg=name)


# --- memory --------------------------------------------------------------------------------------


def test_d_by_d_that_cannot_fit_is_refused_before_allocating():
    X = np.zeros((3, 400_000), dtype=np.float32)  # X^T X alone would be 1.2 TB
    for call in (
        lambda: linssl.second_moment(X),
        lambda: linssl.moments(iter([X])),
        lambda: linssl.Gaussian(1.0).moments(X),
        lambda: linssl.Custom(lambda x: x).moments(X),
        lambda: JointEmbedding(2, augmentation=linssl.Gaussian(1.0), solver="dense").fit(X),
    ):
        with pytest.raises(MemoryError, match=r"d = 400000 \(.* GiB\).*solver='gram'"):
            call()


def test_the_accumulator_constructor_reports_an_impossible_allocation_as_memory_error():
    with pytest.raises(MemoryError, match="solver='gram'"):
        MomentAccumulator(2**33)  # 8 d^2 bytes exceed the address space
    with pytest.raises(MemoryError):
        MomentAccumulator(3, 2**62)
    with pytest.raises(ValueError, match="at least 1"):
        MomentAccumulator(-(2**40))


def test_monte_carlo_views_too_large_to_square_are_refused_naming_the_augmentation():
    X, _ = _data()
    with pytest.raises(ValueError, match=r"the augmented views of Custom\(.*\): the sums or squares of X overflow"):
        linssl.Custom(lambda x: x * 1e200).moments(X)


def test_eigenvalues_beyond_float64_are_an_error_not_inf():
    with pytest.raises(linssl.LinAlgError, match="an eigenvalue or eigenvector overflows float64"):
        linalg.eigh_generalized(np.eye(3), 1e-310 * np.eye(3), 2)


def test_the_undetermined_direction_warning_survives_huge_scales():
    X, _ = _data()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        je = JointEmbedding(2, augmentation=linssl.Gaussian(1e156)).fit(X * 1e78)
    ref = JointEmbedding(2, augmentation=linssl.Gaussian(1.0)).fit(X)
    np.testing.assert_allclose(je.eigenvalues_, ref.eigenvalues_, rtol=1e-10)


def test_nested_lists_are_tables_everywhere_and_lists_of_arrays_are_chunks():
    X, y = _data()
    rows = X.tolist()
    want = linssl.second_moment(X)
    for call in (
        lambda data: linssl.second_moment(data),
        lambda data: linssl.moments(data).second_moment,
        lambda data: linssl.Mask(0.8).moments(data).S,
        lambda data: linssl.fit_all(data, linssl.Gaussian(1.0), 2).joint_embedding.eigenvalues_,
    ):
        np.testing.assert_allclose(call(rows), call(X), rtol=1e-14)
        np.testing.assert_allclose(call(tuple(map(tuple, rows))), call(X), rtol=1e-14)
    np.testing.assert_allclose(linssl.second_moment([X[:20], X[20:]]), want, rtol=1e-13)
    with pytest.raises(linssl.DtypeError, match="needs real numbers"):
        linssl.second_moment([[1.0, "a"], [2.0, 3.0]])


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "boolean"])
def test_pandas_nullable_dtypes_are_read_as_numbers_everywhere(dtype):
    import pandas as pd
    X, y = _data()
    values = (X > 0) if dtype == "boolean" else (np.round(X * 10) if dtype == "Int64" else X)
    frame = pd.DataFrame(values).astype(dtype)
    plain = np.asarray(values, dtype=np.float64)
    np.testing.assert_allclose(linssl.second_moment(frame), linssl.second_moment(plain), rtol=1e-14)
    est = JointEmbedding(2, augmentation=linssl.Gaussian(1.0)).fit(frame)
    np.testing.assert_allclose(est.eigenvalues_, JointEmbedding(2, augmentation=linssl.Gaussian(1.0)).fit(plain).eigenvalues_, rtol=1e-12)
    sl = Supervised(augmentation=linssl.Gaussian(1.0)).fit(frame, y[:, 0])
    np.testing.assert_allclose(sl.predict(frame), Supervised(augmentation=linssl.Gaussian(1.0)).fit(plain, y[:, 0]).predict(plain), rtol=1e-10)


def test_the_memory_check_honours_address_space_and_cgroup_limits(tmp_path, monkeypatch):
    import subprocess
    import sys

    from linssl import _memory

    # Under `ulimit -v`, an X^T X that cannot fit is a MemoryError before anything is allocated.
    script = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (2_500_000_000, resource.RLIM_INFINITY))\n"
        "import numpy as np, linssl\n"
        "try:\n    linssl.second_moment(np.zeros((3, 12000)))\nexcept MemoryError as e:\n    print('MemoryError', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0 and "MemoryError computing X^T X / n" in out.stdout, out.stdout + out.stderr
    # A cgroup limit (v2 files, then v1) caps what is available.
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text(str(3 * 2**30))
    usage.write_text(str(2**30))
    monkeypatch.setattr(_memory, "CGROUP_FILES", ((str(limit), str(usage)),))
    assert _memory.available_memory() <= 2 * 2**30
    limit.write_text("max")
    assert _memory._cgroup_left() is None


def test_model_parameters_out_of_range_name_the_parameter():
    for kw, name in ((dict(gamma_max=float("nan")), "gamma_max"), (dict(gamma_max=float("inf")), "gamma_max"), (dict(theta_max=-1.0), "theta_max")):
        with pytest.raises(ValueError, match=f"{name} is a variance and must be a finite number >= 0"):
            linssl.SignalNoiseModel.random(5, 10, **kw)
    model = linssl.SignalNoiseModel.random(5, 10)
    with pytest.raises(ValueError, match="alpha = 1e\\+160 makes the augmentation variance alpha\\^2 lambda\\^Gamma overflow"):
        model.augmentation(1e160)
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0; got -1.0"):
        model.augmentation(-1.0)


def test_a_negative_mean_squared_norm_is_refused():
    S = np.eye(3)
    with pytest.raises(ValueError, match="trace_xx is a mean squared norm and cannot be negative; got -1:"):
        linalg.reconstruction(S, np.eye(3), -1.0, 2)
    with pytest.raises(ValueError, match="trace_yy is a mean squared norm and cannot be negative; got -2:"):
        linalg.supervised(S, np.ones((1, 3)), -2.0)


def test_all_zero_data_say_so_instead_of_advising_ridge():
    with pytest.raises(linssl.LinAlgError, match="S is zero: the data .* have no variance in any feature") as info:
        JointEmbedding(2, augmentation=linssl.Mask(0.5)).fit(np.zeros((20, 4)))
    assert "ridge" in str(info.value) and "cannot help" in str(info.value)


def test_sparse_matrices_are_refused_saying_how_to_densify():
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.random(30, 5, density=0.3, format="csr", random_state=0)
    for call in (lambda: linssl.moments(X), lambda: linssl.second_moment(X), lambda: fit_all(X, linssl.Mask(0.5), 2)):
        with pytest.raises(TypeError, match=r"sparse matrix \(csr_\w+\).*X\.toarray\(\)"):
            call()


def test_a_truncated_npy_file_is_reported_as_truncated(tmp_path):
    from linssl.readers import load_array

    path = tmp_path / "x.npy"
    np.save(path, np.ones((100, 8)))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="is not a complete .npy file .* it may be truncated"):
        load_array(path)


def test_a_grid_too_large_to_expand_is_refused_before_allocating():
    from linssl.study.grid import MAX_GROUPS, expand

    side = int(np.ceil(MAX_GROUPS ** 0.5)) + 1
    grid = {"n": list(range(100, 100 + side)), "gamma_max": [float(i + 1) for i in range(side)]}
    with pytest.raises(ValueError, match=f"expands to {side * side:,} data configurations .* more than {MAX_GROUPS:,}"):
        expand(grid)


def test_subnormal_scale_data_warn_that_digits_are_lost():
    X = _data()[0] * 1e-160
    with pytest.warns(linssl.NumericalWarning, match="subnormal range and has lost significant digits"):
        linssl.moments(X)


def test_the_memory_budget_of_a_top_k_solve_is_that_of_the_iterative_solver(monkeypatch):
    from linssl import _memory

    d = 1500
    A = np.diag(np.linspace(1.0, 2.0, d))
    matrix = d * d * 8
    # Room for three more d x d matrices: enough for block Krylov (Cholesky factor and its copy),
    # not for the dense method's six.
    monkeypatch.setattr(_memory, "available_memory", lambda: 3 * matrix)
    w, _ = linalg.eigh_generalized(A, np.eye(d), 4)  # auto -> iterative at k = 4
    np.testing.assert_allclose(w, np.linspace(1.0, 2.0, d)[::-1][:4], rtol=1e-10)
    for solver, k in (("dense", 4), ("auto", d)):
        with pytest.raises(MemoryError, match="needs about 6 d x d float64 matrices"):
            linalg.eigh_generalized(A, np.eye(d), k, solver=solver)
