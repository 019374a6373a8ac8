"""Metrics of linssl.checks against SciPy and scikit-learn."""

import numpy as np
import pytest
import scipy.linalg
from sklearn.linear_model import LinearRegression

from linssl.metrics import probe_loss, subspace_distance


@pytest.mark.parametrize("k1, k2", [(3, 3), (2, 5), (5, 2), (1, 1)])
def test_subspace_distance_is_sine_of_largest_principal_angle(k1, k2):
    rng = np.random.default_rng(k1 * 10 + k2)
    A, B = rng.standard_normal((k1, 9)), rng.standard_normal((k2, 9))
    angles = scipy.linalg.subspace_angles(A.T, B.T)
    assert subspace_distance(A, B) == pytest.approx(np.sin(angles.max()), abs=1e-12)


def test_subspace_distance_ignores_the_invariances():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 12))
    T = rng.standard_normal((4, 4))  # any invertible mixing of rows
    assert subspace_distance(A, T @ A) < 1e-12
    B = A.copy()
    B[0] = np.linalg.svd(A)[2][-1]  # a direction orthogonal to the row space of A
    assert subspace_distance(A, B) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="columns"):
        subspace_distance(A, B[:, :5])
    with pytest.raises(ValueError, match="NaN"):
        subspace_distance(A * np.nan, B)


def test_probe_loss_is_least_squares_with_intercept_on_one_hot_labels():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((300, 4))
    y = rng.integers(0, 3, 300)
    Y = np.eye(3)[y]
    fit = LinearRegression().fit(Z[:200], Y[:200])
    want = np.mean(np.sum((Y[200:] - fit.predict(Z[200:])) ** 2, axis=1))
    assert probe_loss(Z[:200], y[:200], Z[200:], y[200:]) == pytest.approx(want, rel=1e-10)
    # invariant to invertible maps of the representation
    T = rng.standard_normal((4, 4))
    assert probe_loss(Z[:200] @ T, y[:200], Z[200:] @ T, y[200:]) == pytest.approx(want, rel=1e-8)


def _fitted(aug_noise=0.5, n=400, seed=0):
    from linssl.augment import Gaussian
    from linssl.fitting import fit_all

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6)) @ np.diag(np.linspace(2.0, 0.5, 6))
    Y = X @ rng.standard_normal((6, 2))
    aug = Gaussian(aug_noise)
    return X, Y, aug, fit_all(X, aug, k=3, y=Y), aug.moments(X, Y)


def test_check_solution_reports_optimal_solutions_as_trustworthy():
    from linssl.checks import check_solution

    *_, fits, m = _fitted()
    for est in fits:
        report = check_solution(est, m)
        assert report.trustworthy, report.message
        assert report.constraint_residual < 1e-10 and report.stationarity_residual < 1e-10
        assert abs(report.loss_gap) < 1e-10 and abs(report.objective_gap) < 1e-10


def test_check_solution_flags_a_perturbed_solution():
    import warnings

    import linssl
    from linssl.checks import check_solution

    *_, fits, m = _fitted()
    je = fits.joint_embedding
    je.components_ = je.components_ + 1e-3 * np.random.default_rng(1).standard_normal(je.components_.shape)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = check_solution(je, m)
    assert not report.trustworthy and report.constraint_residual > 1e-4
    assert any(issubclass(w.category, linssl.NumericalWarning) for w in caught)
    with pytest.raises(linssl.LinAlgError, match="not trustworthy"):
        check_solution(je, m, action="raise")
    je.components_[0, 0] = np.nan
    with pytest.raises(linssl.LinAlgError, match="NaN"):
        check_solution(je, m, action="ignore")


def test_check_solution_with_ridge_measures_the_distance_to_the_unregularised_optimum():
    from linssl.checks import check_solution
    from linssl.models import JointEmbedding

    *_, m = _fitted()
    ridged = JointEmbedding(3, ridge=1e-2).fit_moments(m)
    report = check_solution(ridged, m, action="ignore")
    assert not report.trustworthy and report.constraint_residual > 1e-4


def test_monte_carlo_loss_agrees_with_closed_form_losses():
    from linssl.checks import monte_carlo_loss

    X, Y, aug, fits, _ = _fitted(n=200)
    for est in fits:
        mean, se = monte_carlo_loss(est, X, aug, draws=300, seed=2, y=Y)
        assert abs(mean - est.loss_) < 5 * se, type(est).__name__


def test_distance_to_optimality_is_zero_for_identical_models_and_positive_otherwise():
    from linssl.metrics import distance_to_optimality
    from linssl.synthetic import SignalNoiseModel
    from linssl.models import JointEmbedding

    model = SignalNoiseModel.random(3, 8, gamma_max=1e6, seed=0)
    train, test = model.sample(2000, seed=0), model.sample(1000, seed=0, split="test")
    fit = lambda X, a: JointEmbedding(3, augmentation=model.augmentation(a)).fit(X)
    clean = fit(train.clean, 0.1)
    assert distance_to_optimality(clean, clean, _same(test)) == 0.0
    assert distance_to_optimality(clean, fit(train.corrupted, 0.1), test) > 1e-2
    assert distance_to_optimality(fit(train.clean, 100.0), fit(train.corrupted, 100.0), test) < 1e-6
    with pytest.raises(ValueError, match="at least 4"):
        distance_to_optimality(clean, clean, model.sample(3, seed=0, split="test"))


def _same(sample):
    from linssl.synthetic import Sample

    return Sample(clean=sample.clean, corrupted=sample.clean, labels=sample.labels)


def _sklearn_probe(Z, labels):
    """The downstream probe written out: scikit-learn's least squares on the explicit representation."""
    half = len(labels) // 2
    Y = np.eye(labels.max() + 1)[labels]
    fit = LinearRegression().fit(Z[:half], Y[:half])
    return np.mean(np.sum((Y[half:] - fit.predict(Z[half:])) ** 2, axis=1))


@pytest.mark.parametrize("n, rank", [(400, 3), (400, 1), (9, 3)])
def test_held_out_probe_is_the_probe_on_the_explicit_representation(n, rank):
    # Full rank, a rank-deficient map (repeated rows), and halves smaller than d + 1 (thin QR wide).
    from types import SimpleNamespace

    from linssl.metrics import HeldOutProbe
    from linssl.synthetic import Sample

    rng = np.random.default_rng(n + rank)
    d = 7
    X, X_noisy = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    labels = rng.integers(0, 3, n)
    labels[:3] = labels[n // 2 : n // 2 + 3] = [0, 1, 2]  # every class in both halves
    W = rng.standard_normal((rank, d))[[i % rank for i in range(3)]]  # (3, d) of the given rank
    probe = HeldOutProbe(Sample(clean=X, corrupted=X_noisy, labels=labels))
    estimator = SimpleNamespace(components_=W)
    for rows, data in (("clean", X), ("corrupted", X_noisy)):
        want = _sklearn_probe(data @ W.T, labels)
        assert probe.loss(estimator, rows) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_held_out_probe_of_a_supervised_model_is_its_own_squared_error():
    import linssl
    from linssl.metrics import HeldOutProbe
    from linssl.synthetic import Sample

    model = linssl.SignalNoiseModel.random(k=3, d=8, gamma_max=10.0, seed=2)
    train, test = model.sample(600, seed=0), model.sample(300, seed=1, split="test")
    sl = linssl.Supervised().fit(train.corrupted, np.eye(model.n_classes)[train.labels])
    residual = np.eye(model.n_classes)[test.labels[150:]] - test.corrupted[150:] @ sl.coef_.T
    probe = HeldOutProbe(test)
    assert probe.loss(sl, "corrupted") == pytest.approx(np.mean(np.sum(residual**2, axis=1)), rel=1e-10)
    with pytest.raises(ValueError, match="'clean' or 'corrupted'"):
        probe.loss(sl, "noisy")
    with pytest.raises(ValueError, match="maps 8 features"):
        HeldOutProbe(Sample(clean=test.clean[:, :5], corrupted=test.corrupted[:, :5], labels=test.labels)).loss(sl)
