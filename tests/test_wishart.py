"""Moments drawn without rows (Bartlett / Wishart) against explicit row sampling and Wishart theory."""

import numpy as np
import pytest
from scipy import stats

import linssl
from linssl._draws import random_rotation
from linssl.datasets import from_dataset, load_digits
from linssl.study.cell import DataConfig, evaluate, resolve_sampler
from linssl.synthetic import SignalNoiseModel
from linssl.wishart import bartlett, gram_with

DRAWS = 400


def test_bartlett_matches_wishart_mean_and_variances():
    # E[W] = df I; Var(W_ij) = df (1 + delta_ij) for Wishart(df, I) (Sigma_ij^2 + Sigma_ii Sigma_jj).
    rng = np.random.default_rng(0)
    df, p = 40, 3
    W = np.array([bartlett(df, p, rng) for _ in range(4000)])
    assert np.allclose(W.mean(axis=0), df * np.eye(p), atol=5 * np.sqrt(2 * df / 4000))
    expected_var = df * (np.ones((p, p)) + np.eye(p))
    assert np.allclose(W.var(axis=0), expected_var, rtol=0.15)
    # Against scipy's Wishart sampler: two-sample KS on a diagonal and an off-diagonal entry.
    ref = stats.wishart(df=df, scale=np.eye(p)).rvs(4000, random_state=1)
    for i, j in ((0, 0), (1, 2)):
        assert stats.ks_2samp(W[:, i, j], ref[:, i, j]).pvalue > 1e-3


def test_gram_with_keeps_the_given_block_and_is_gaussian_around_it():
    rng = np.random.default_rng(1)
    F = rng.standard_normal((30, 2)) ** 3  # any law
    FtF = F.T @ F
    H = np.array([gram_with(FtF, 30, 2, rng) for _ in range(3000)])
    assert np.allclose(H[:, :2, :2], FtF)
    # G^T F given F: mean 0, covariance F^T F per Gaussian column; G^T G mean n I.
    cross = H[:, 2:, :2]
    assert np.allclose(cross.mean(axis=0), 0, atol=5 * np.sqrt(FtF.diagonal().max() / 3000))
    assert np.allclose(np.cov(cross[:, 0, :].T), FtF, rtol=0.15, atol=0.1 * np.abs(FtF).max())
    assert np.allclose(H[:, 2:, 2:].mean(axis=0), 30 * np.eye(2), atol=1.0)


def _model():
    rng = np.random.default_rng(3)
    d, k = 6, 3
    lam_g = np.concatenate([np.zeros(k), [2.0, 5.0, 0.0]])
    return SignalNoiseModel([9.0, 4.0, 1.5], lam_g, rng.uniform(0, 1, d), basis=random_rotation(d, rng),
                            n_classes=4, label_seed=7)


def _row_moments(model, n, seed):
    s = model.sample(n, seed=seed)
    Y = np.eye(model.n_classes)[s.labels]
    return s.clean.T @ s.clean, s.corrupted.T @ s.corrupted, s.clean.T @ s.corrupted, s.corrupted.T @ Y


def _drawn_moments(model, n, seed):
    m = model.sample_moments(n, seed=seed)
    return (m.clean.second_moment * n, m.corrupted.second_moment * n, m.clean_corrupted * n,
            m.corrupted.cross_moment * n)


@pytest.mark.parametrize("n", [50, 5000])
def test_sample_moments_match_row_sampling_in_distribution(n):
    model = _model()
    Sigma = model.Gamma + model.signal_basis @ np.diag(model.signal_variances) @ model.signal_basis.T  # corrupted
    drawn = [_drawn_moments(model, n, s) for s in range(DRAWS)]
    rows = [_row_moments(model, n, 10_000 + s) for s in range(DRAWS)]
    corrupted = np.array([d[1] for d in drawn])
    # Wishart theory: mean n Sigma, Var(entry ij) = n (Sigma_ij^2 + Sigma_ii Sigma_jj).
    var = n * (Sigma**2 + np.outer(np.diag(Sigma), np.diag(Sigma)))
    z = (corrupted.mean(axis=0) - n * Sigma) / np.sqrt(var / DRAWS)
    assert np.abs(z).max() < 4.5
    ratio = corrupted.var(axis=0) / var
    assert np.all((ratio > 0.7) & (ratio < 1.4))
    # Two-sample tests against explicit rows: entries of every block, and a derived statistic.
    for block in range(4):
        a = np.array([d[block] for d in drawn])
        b = np.array([r[block] for r in rows])
        for i, j in ((0, 0), (1, 3), (4, 2)) if block < 3 else ((0, 0), (4, 1)):
            assert stats.ks_2samp(a[:, i, j], b[:, i, j]).pvalue > 1e-3, (block, i, j)


@pytest.mark.parametrize("n", [50, 5000])
def test_joint_embedding_loss_has_the_row_sampling_law(n):
    model = _model()
    aug = model.augmentation(0.5)

    def loss(second):
        return linssl.JointEmbedding(2, augmentation=aug).fit_moments(
            aug.moments_from_second_moment(second, n=n)).loss_

    drawn = [loss(model.sample_moments(n, seed=s).corrupted.second_moment) for s in range(200)]
    rows = []
    for s in range(200):
        X = model.sample(n, seed=5000 + s).corrupted
        rows.append(loss(X.T @ X / n))
    assert stats.ks_2samp(drawn, rows).pvalue > 1e-3
    assert stats.mannwhitneyu(drawn, rows).pvalue > 1e-3


def test_label_moments_at_large_n_match_the_population():
    # Above EXACT_LABEL_ROWS the label statistics are a CLT approximation: check means against a
    # large explicit Monte Carlo of E[x y^T] and the class frequencies.
    model = SignalNoiseModel.random(4, 8, n_classes=3, seed=2)
    ref = model.sample(400_000, seed=99)
    Y = np.eye(3)[ref.labels]
    expected = ref.clean.T @ Y / len(Y)
    m = model.sample_moments(10**9, seed=0)
    assert not m.exact_labels
    scale = np.abs(expected).max()
    assert np.abs(m.clean.cross_moment - expected).max() < 0.02 * scale
    assert np.allclose(m.clean.y_mean, Y.mean(axis=0), atol=0.01)
    assert np.isclose(m.clean.y_mean.sum(), 1.0)


def test_sample_moments_are_reproducible_and_fast_at_any_n():
    model = SignalNoiseModel.random(5, 10, seed=0)
    a, b = model.sample_moments(10**12, seed=3), model.sample_moments(10**12, seed=3)
    assert np.array_equal(a.corrupted.second_moment, b.corrupted.second_moment)
    # At n = 1e12 the moments sit on the population ones (fluctuations ~ 1e-6 relative).
    pop = model.population_moments(0.0).G
    assert np.abs(a.corrupted.second_moment - pop).max() < 1e-4 * np.abs(pop).max()


def test_wishart_is_refused_for_real_rows():
    X, y = load_digits()
    model = from_dataset(X, y, n_signal=5, n_noise=5)
    with pytest.raises(ValueError, match="real data"):
        model.sample_moments(100)
    with pytest.raises(ValueError, match="real rows"):
        resolve_sampler("wishart", DataConfig("digits", 10, 5, 1e3, 1e4, 0, 0, 100))
    assert resolve_sampler("auto", DataConfig("digits", 10, 5, 1e3, 1e4, 0, 0, 10**8)) == "rows"
    with pytest.raises(ValueError, match="unknown sampler"):
        resolve_sampler("bartlett", DataConfig("synthetic", 10, 5, 1e3, 1e4, 0, 0, 100))


def test_a_cell_at_n_1e9_runs_and_agrees_with_theory():
    config = DataConfig("synthetic", 20, 10, 1e3, 1e4, 0, 0, 10**9)
    df = evaluate(config, [({"alpha": 10.0}, None)], ["joint_embedding", "reconstruction", "supervised"],
                  held_out=1000, sampler="wishart")
    assert set(df["sampler"]) == {"wishart"}
    for _, row in df.iterrows():
        if row["predicted_optimal"]:
            assert row["subspace_distance"] < 1e-2 or row["paradigm"] == "supervised"


def test_wishart_needs_closed_form_augmentations():
    config = DataConfig("synthetic", 10, 5, 1e3, 1e4, 0, 0, 10**7)
    mc = linssl.Custom(lambda X, rng: X + rng.standard_normal(X.shape))
    with pytest.raises(ValueError, match="Monte Carlo"):
        resolve_sampler("wishart", config, augmentations=[({"augmentation": "c"}, mc)])
    assert resolve_sampler("auto", config, augmentations=[({"augmentation": "c"}, mc)]) == "rows"
    assert resolve_sampler("wishart", config, augmentations=[({"augmentation": "m"}, linssl.Mask(0.8))]) == "wishart"


def test_sampler_in_study_files_and_resumed_studies(tmp_path):
    from linssl.study import sweep
    from linssl.study.config import load_study

    path = tmp_path / "s.toml"
    path.write_text('[grid]\nn = [100]\nd = [10]\nk = [5]\n\n[run]\nsampler = "wishart"\n')
    assert load_study(path).run.sampler == "wishart"
    path.write_text('[grid]\nn = [100]\n\n[run]\nsampler = "bartlett"\n')
    with pytest.raises(ValueError, match="sampler"):
        load_study(path)
    grid = {"n": [200], "d": [10], "k": [5], "alpha": [1.0], "paradigm": ["je"]}
    first = sweep.run(grid, out=tmp_path / "study", progress=False, sampler="wishart")
    assert set(first["sampler"]) == {"wishart"}
    # The same directory does not pass row-sampled results off as these (or the reverse).
    with pytest.raises(sweep.StoreError, match="different study"):
        sweep.run(grid, out=tmp_path / "study", progress=False, sampler="rows")


def test_the_large_n_example_study_file_is_valid():
    from pathlib import Path

    from linssl.study.config import load_study

    study = load_study(Path(__file__).resolve().parents[1] / "examples" / "large_n.toml")
    assert study.run.sampler == "wishart" and max(study.grid.n) == 10**9


def test_sample_moments_with_separate_bases_match_rows():
    rng = np.random.default_rng(5)
    R = random_rotation(3, rng)
    Gamma = np.zeros((5, 5))
    Gamma[2:, 2:] = (R * np.array([3.0, 1.0, 0.5])) @ R.T
    model = SignalNoiseModel.from_covariances([6.0, 2.0], Gamma, np.eye(5), n_classes=3)
    n = 200
    Sigma = model.Gamma + np.diag([6.0, 2.0, 0, 0, 0])
    drawn = np.array([model.sample_moments(n, seed=s).corrupted.second_moment * n for s in range(DRAWS)])
    var = n * (Sigma**2 + np.outer(np.diag(Sigma), np.diag(Sigma)))
    assert np.abs((drawn.mean(axis=0) - n * Sigma) / np.sqrt(var / DRAWS)).max() < 4.5
    rows = np.array([_row_moments(model, n, 10_000 + s)[1] for s in range(DRAWS)])
    for i, j in ((2, 2), (2, 3), (0, 4)):
        assert stats.ks_2samp(drawn[:, i, j], rows[:, i, j]).pvalue > 1e-3
