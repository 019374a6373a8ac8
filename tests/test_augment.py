"""Augmentation moments against empirical moments of explicitly sampled views and paper.md's formulas.

The Monte Carlo oracle works from the definitions in paper.md's "Setting": with ``R`` independent
augmented copies ``Z_a`` of ``X`` (drawn with ``sample``),

- ``Z_a^T Z_a / n`` are i.i.d. with mean ``S``;
- for independent draws ``a != b``, ``(Z_a^T Z_b + Z_b^T Z_a) / (2 n)`` has mean ``G = Xbar^T Xbar / n``;
- ``X^T Z_a / n`` has mean ``C``, ``Y^T Z_a / n`` mean ``B``.

Each check allows ``Z_CRIT`` standard errors of the Monte Carlo mean (estimated from the same draws).
"""

import numpy as np
import pytest
import scipy.stats

import linssl
from linssl.bench import reference
from linssl.augment import AugmentedMoments, Compose, Custom, Gaussian, LowRankPlusDiagonal, Mask

# Five standard errors: with the few hundred entries compared in this file, a correct
# implementation fails with probability below 1e-4.
Z_CRIT = 5.0


def _data(n=40, d=5, l=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 0.5
    Y = X @ rng.standard_normal((d, l)) + rng.standard_normal((n, l))
    return X, Y


def _empirical_moments(aug, X, Y, draws=4000, seed=1):
    """Per-draw statistics of explicitly sampled views: {name: (mean, standard error)}."""
    n, d = X.shape
    rng = np.random.default_rng(seed)
    Z = aug.sample(np.tile(X, (draws, 1)), rng).reshape(draws, n, d)
    per_draw = {
        "S": np.einsum("rni,rnj->rij", Z, Z) / n,
        "G": (np.einsum("rni,rnj->rij", Z[0::2], Z[1::2]) + np.einsum("rni,rnj->rij", Z[1::2], Z[0::2])) / (2 * n),
        "C": np.einsum("ni,rnj->rij", X, Z) / n,
        "B": np.einsum("nl,rnj->rlj", Y, Z) / n,
    }
    return {k: (v.mean(axis=0), v.std(axis=0, ddof=1) / np.sqrt(len(v))) for k, v in per_draw.items()}


def _t_crit(batches):
    """Critical value for a deviation measured in batch-means standard errors (batches - 1 dof).

    Two-sided level 1e-5 per entry, the analogue of Z_CRIT for an estimated standard error.
    """
    return scipy.stats.t.ppf(1 - 0.5e-5, batches - 1)


def _assert_within(estimate, expected, stderr, z=Z_CRIT, what=""):
    # Entries with no sampling variance (e.g. features kept with p = 1) must match up to rounding.
    rounding = 1e-10 * np.abs(expected).max()
    excess = np.abs(estimate - expected) - (z * stderr + rounding)
    assert excess.max() <= 0, f"{what}: worst deviation {np.abs(estimate - expected).max():.3g}, at z={z}"


CLOSED_FORM = {
    "gaussian-scalar": Gaussian(0.7),
    "gaussian-diagonal": Gaussian([0.1, 0.5, 1.0, 2.0, 0.0]),
    "gaussian-full": Gaussian(np.array([[2.0, 0.5, 0, 0, 0.3], [0.5, 1, 0.2, 0, 0], [0, 0.2, 1.5, 0, 0], [0, 0, 0, 0.5, 0], [0.3, 0, 0, 0, 1]])),
    "gaussian-lowrank": Gaussian(LowRankPlusDiagonal(np.arange(10.0).reshape(5, 2) / 5, [0.1, 0.2, 0.0, 0.4, 0.5])),
    "mask-scalar": Mask(0.6),
    "mask-per-feature": Mask([0.2, 0.5, 0.9, 1.0, 0.7]),
    "mask-then-noise": Compose([Mask([0.3, 0.5, 0.8, 1.0, 0.6]), Gaussian([0.4, 0.1, 1.0, 0.3, 0.2])]),
    "noise-then-mask": Compose([Gaussian([0.4, 0.1, 1.0, 0.3, 0.2]), Mask([0.3, 0.5, 0.8, 1.0, 0.6])]),
    "mask-noise-mask": Compose([Mask(0.8), Gaussian(0.5), Mask([0.3, 0.5, 0.8, 1.0, 0.6])]),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORM))
def test_closed_form_moments_match_sampled_views(name):
    aug = CLOSED_FORM[name]
    X, Y = _data()
    m = aug.moments(X, Y)
    assert isinstance(m, AugmentedMoments) and aug.is_closed_form
    assert m.n == X.shape[0] and m.d == X.shape[1] and m.l == Y.shape[1] and m.stderr is None
    empirical = _empirical_moments(aug, X, Y)
    for key in "SGCB":
        mean, se = empirical[key]
        _assert_within(mean, getattr(m, key), se, what=f"{name} {key}")
    np.testing.assert_allclose(m.trace_xx, np.sum(X**2) / len(X), rtol=1e-12)
    np.testing.assert_allclose(m.trace_yy, np.sum(Y**2) / len(X), rtol=1e-12)
    np.testing.assert_allclose(m.Sigma, m.S - m.G)


def test_compose_orders_differ():
    # Noise before a mask is partly masked away; after it, it is not: the two orders must differ.
    X, _ = _data()
    a = CLOSED_FORM["mask-then-noise"].moments(X)
    b = CLOSED_FORM["noise-then-mask"].moments(X)
    assert np.abs(a.S - b.S).max() > 0.1


@pytest.mark.parametrize(
    "aug, formula",
    [
        (Gaussian(0.7), lambda X, Y: reference.gaussian_moments(X, 0.7, Y)),
        (Gaussian(np.arange(5.0)), lambda X, Y: reference.gaussian_moments(X, np.arange(5.0), Y)),
        (CLOSED_FORM["gaussian-full"], lambda X, Y: reference.gaussian_moments(X, CLOSED_FORM["gaussian-full"].cov, Y)),
        (
            CLOSED_FORM["gaussian-lowrank"],
            lambda X, Y: reference.gaussian_moments(X, CLOSED_FORM["gaussian-lowrank"].cov.dense(), Y),
        ),
        (Mask(0.6), lambda X, Y: reference.mask_moments(X, 0.6, Y)),
        (Mask([0.2, 0.5, 0.9, 1.0, 0.7]), lambda X, Y: reference.mask_moments(X, [0.2, 0.5, 0.9, 1.0, 0.7], Y)),
    ],
)
def test_closed_forms_equal_paper_formulas(aug, formula):
    X, Y = _data(n=300)
    m, ref = aug.moments(X, Y), formula(X, Y)
    for key in "SGCB":
        np.testing.assert_allclose(getattr(m, key), getattr(ref, key), rtol=1e-11, atol=1e-12, err_msg=key)
    assert m.trace_xx == pytest.approx(ref.trace_xx, rel=1e-12)


def test_lowrank_dense_matches_definition():
    F = np.arange(6.0).reshape(3, 2)
    cov = LowRankPlusDiagonal(F, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(cov.dense(), F @ F.T + np.diag([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(Gaussian(cov).covariance(3), cov.dense())


@pytest.mark.parametrize("kind", ["float32", "memmap", "chunks", "data-moments"])
def test_closed_form_accepts_every_input_kind(kind, tmp_path):
    X, Y = _data(n=101)
    aug = Compose([Mask(0.7), Gaussian(0.3)])
    expected = aug.moments(X, Y)
    if kind == "float32":
        X32 = X.astype(np.float32)
        got = aug.moments(X32, Y)
        rtol = 1e-5
        expected = aug.moments(X32.astype(np.float64), Y)
    elif kind == "memmap":
        np.save(tmp_path / "x.npy", X)
        got = aug.moments(np.load(tmp_path / "x.npy", mmap_mode="r"), Y, chunk_size=17)
        rtol = 1e-12
    elif kind == "chunks":
        got = aug.moments((X[i : i + 30], Y[i : i + 30]) for i in range(0, 101, 30))
        rtol = 1e-12
    else:
        got = aug.moments(linssl.moments(X, Y))
        rtol = 1e-12
    assert got.n == 101
    for key in "SGCB":
        np.testing.assert_allclose(getattr(got, key), getattr(expected, key), rtol=rtol, atol=rtol, err_msg=key)


def test_moments_from_second_for_population_moments():
    M = np.array([[2.0, 0.3], [0.3, 1.0]])
    m = Mask([0.5, 0.9]).moments_from_second_moment(M, n=None)
    assert m.n is None and m.B is None
    p = np.array([0.5, 0.9])
    np.testing.assert_allclose(m.G, np.outer(p, p) * M)
    np.testing.assert_allclose(m.C, M * p[None, :])
    np.testing.assert_allclose(np.diag(m.S), p * np.diag(M))


# --- Custom: Monte Carlo moments ------------------------------------------------------------------


def _gaussian_noise(sigma):
    def add_noise(x, rng):
        return x + sigma * rng.standard_normal(x.shape)

    return add_noise


def test_custom_matches_closed_form_within_its_stderr():
    X, Y = _data(n=200)
    sigma = 0.8
    mc = Custom(_gaussian_noise(sigma), draws=32, seed=3, batches=16).moments(X, Y)
    exact = Gaussian(sigma**2).moments(X, Y)
    assert set(mc.stderr) == {"S", "G", "C", "B"}
    for key in "SGCB":
        _assert_within(getattr(mc, key), getattr(exact, key), mc.stderr[key], z=_t_crit(16), what=key)
    assert mc.trace_xx == pytest.approx(exact.trace_xx, rel=1e-12)
    assert mc.trace_yy == pytest.approx(exact.trace_yy, rel=1e-12)


def test_custom_G_is_unbiased_where_the_plug_in_is_not():
    # Two draws per sample make the plug-in bias Sigma / m as large as possible.
    X, _ = _data(n=30, d=3)
    sigma, draws, runs = 1.0, 2, 400
    G = np.array([Custom(_gaussian_noise(sigma), draws=draws, seed=s).moments(X).G for s in range(runs)])
    mean, se = G.mean(axis=0), G.std(axis=0, ddof=1) / np.sqrt(runs)
    exact = X.T @ X / len(X)  # additive noise leaves the mean view unchanged: G = X^T X / n
    _assert_within(mean, exact, se, what="unbiased G")
    plug_in = exact + sigma**2 * np.eye(3) / draws
    assert np.all(np.abs(np.diag(mean - plug_in)) > Z_CRIT * np.diag(se)), "the test cannot tell the estimators apart"


def test_custom_stderr_has_the_right_size():
    # Batch means estimate the Monte Carlo variance; compare with the spread over independent runs.
    X, _ = _data(n=50, d=3)
    runs, draws, batches = 300, 16, 4
    estimates = {k: [] for k in "SGC"}
    reported = {k: [] for k in "SGC"}
    for seed in range(runs):
        m = Custom(_gaussian_noise(0.7), draws=draws, seed=seed, batches=batches).moments(X)
        for k in "SGC":
            estimates[k].append(getattr(m, k))
            reported[k].append(m.stderr[k] ** 2)
    # chi-square spread of the two variance estimates (one entry; pooling entries only tightens it)
    tol = 4 * np.sqrt(2 / (runs - 1) + 2 / (runs * (batches - 1)))
    for k in "SGC":
        empirical = np.var(estimates[k], axis=0, ddof=1).sum()
        log_ratio = np.log(np.mean(reported[k], axis=0).sum() / empirical)
        if k == "G":
            # Group estimates use only within-group pairs of draws, so they are noisier than the
            # full estimator by at most (m - 1) / (m / batches - 1): the report is conservative.
            assert -tol <= log_ratio <= np.log((draws - 1) / (draws / batches - 1)) + tol, k
        else:
            assert abs(log_ratio) <= tol, k


def test_custom_without_rng_argument_and_deterministic_chunking(tmp_path):
    X, _ = _data(n=90)
    calls = []

    def scale(x):
        calls.append(x.shape)
        return 2.0 * x

    m = Custom(scale, draws=3, chunk_size=40).moments(X)
    assert calls[:3] == [(40, 5)] * 3 and len(calls) == 9
    np.testing.assert_allclose(m.S, 4 * X.T @ X / 90, rtol=1e-12)
    np.testing.assert_allclose(m.G, 4 * X.T @ X / 90, rtol=1e-10)
    assert m.stderr is None  # three draws cannot be split into groups of two

    noisy = Custom(_gaussian_noise(0.5), draws=4, seed=7)
    a = noisy.moments(X, chunk_size=25)
    b = noisy.moments(X[i : i + 25] for i in range(0, 90, 25))
    np.save(tmp_path / "x.npy", X)
    c = noisy.moments(np.load(tmp_path / "x.npy", mmap_mode="r"), chunk_size=25)
    for key in "SGC":
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        np.testing.assert_array_equal(getattr(a, key), getattr(c, key))


def test_compose_with_custom_stage_uses_monte_carlo():
    X, Y = _data(n=150)
    p = np.array([0.3, 0.5, 0.8, 1.0, 0.6])

    def mask(x, rng):
        return x * (rng.random(x.shape) < p)

    mc = Compose([Custom(mask, draws=32, seed=2, batches=16), Gaussian(0.4)]).moments(X, Y)
    exact = Compose([Mask(p), Gaussian(0.4)]).moments(X, Y)
    assert not Compose([Custom(mask), Gaussian(0.4)]).is_closed_form
    for key in "SGCB":
        _assert_within(getattr(mc, key), getattr(exact, key), mc.stderr[key], z=_t_crit(16), what=key)


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Gaussian(-1.0), "must be >= 0"),
        (lambda: Gaussian([1.0, -0.5]), "entry 1"),
        (lambda: Gaussian([[1.0, 2.0], [2.0, 1.0]]), "positive semi-definite"),
        (lambda: Gaussian([[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
        (lambda: Gaussian(np.ones((2, 3))), "square"),
        (lambda: Gaussian(np.ones((2, 2, 2))), "scalar"),
        (lambda: Gaussian(np.nan), "NaN"),
        (lambda: Gaussian([1.0, np.inf]), "NaN or Inf"),
        (lambda: LowRankPlusDiagonal(np.ones((3, 1)), [1.0, 1.0]), r"shape \(3,\)"),
        (lambda: LowRankPlusDiagonal(np.ones((3, 1)), -1.0), ">= 0"),
        (lambda: LowRankPlusDiagonal(np.ones(3), 1.0), "2-D"),
        (lambda: Mask(0.0), r"\(0, 1\]"),
        (lambda: Mask(1.5), r"\(0, 1\]"),
        (lambda: Mask([0.5, -0.1]), r"\(0, 1\]"),
        (lambda: Mask(np.nan), "NaN"),
        (lambda: Custom(lambda x: x, draws=1), "draws"),
        (lambda: Custom(lambda x: x, threads=0), "threads"),
        (lambda: Custom(lambda x: x, draws=6, batches=4), "batches"),
        (lambda: Compose([]), "at least one"),
    ],
)
def test_invalid_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_invalid_types():
    with pytest.raises(TypeError, match="callable"):
        Custom(3)
    with pytest.raises(TypeError, match="augmentations"):
        Compose([Mask(0.5), "noise"])


@pytest.mark.parametrize("aug", [Gaussian(np.ones(4)), Gaussian(np.eye(4)), Mask(np.full(4, 0.5))])
def test_dimension_mismatch_is_reported(aug):
    X, _ = _data(d=5)
    with pytest.raises(ValueError, match="d=5"):
        aug.moments(X)
    with pytest.raises(ValueError, match="d=5"):
        aug.sample(X, 0)


def test_custom_bad_output_names_the_function():
    X, _ = _data()

    def drops_a_row(x):
        return x[1:]

    def makes_nan(x):
        out = np.array(x)
        out[2, 3] = np.nan
        return out

    with pytest.raises(ValueError, match="drops_a_row returned shape"):
        Custom(drops_a_row).moments(X)
    with pytest.raises(ValueError, match=r"makes_nan for a batch of shape \(40, 5\) contains NaN at row 2, column 3"):
        Custom(makes_nan).moments(X)


def test_custom_cannot_modify_its_input():
    X, _ = _data()

    def in_place(x):
        x *= 2
        return x

    with pytest.raises(ValueError, match="read-only"):
        Custom(in_place).moments(X)
    np.testing.assert_array_equal(X, _data()[0])


def test_custom_needs_raw_data():
    X, _ = _data()
    with pytest.raises(TypeError, match="needs the data"):
        Custom(lambda x: x).moments(linssl.moments(X))


def test_nonfinite_data_is_reported():
    X, _ = _data()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN at row 3, column 1"):
        Gaussian(1.0).moments(X)
    with pytest.raises(ValueError, match="X contains NaN at row 3, column 1"):
        Custom(lambda x: x).moments(X)


def test_specs_compare_by_value():
    assert Gaussian(np.eye(3)) == Gaussian(np.eye(3))
    assert hash(Mask([0.5, 0.6])) == hash(Mask(np.array([0.5, 0.6])))
    assert Gaussian(1) == Gaussian(1.0) and Gaussian(1.0) != Gaussian(2.0) and Gaussian(1.0) != Mask(1.0)
    assert Compose([Mask(0.5), Gaussian(1.0)]) == Compose([Compose([Mask(0.5)]), Gaussian(1.0)])
    assert len({Gaussian(1.0), Gaussian(1.0), Mask(0.5)}) == 2
