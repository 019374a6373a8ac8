"""The turn study: limits from theory, and where curves reach them."""

import numpy as np
import pandas as pd

from linssl import theory
from linssl.study import sweep, turn
from linssl.study.cell import DataConfig, build_model


def test_turn_points_on_curves_with_known_answers():
    n = [10, 100, 1000, 10000]
    rows = []
    for n_i, v in zip(n, [1.0, 0.5, 0.09, 0.01]):  # to a zero limit: within 10 % of 1.0 from n = 1000
        rows.append(dict(paradigm="reconstruction", alpha=2.0, n=n_i, distance_to_optimality=v, subspace_distance=1 / n_i))
    for n_i, v in zip(n, [0.2, 0.95, 1.05, 0.99]):  # to a limit of 1: within 10 % from n = 100
        rows.append(dict(paradigm="reconstruction", alpha=1.0, n=n_i, distance_to_optimality=v, subspace_distance=v))
    limit = pd.DataFrame([
        dict(paradigm="reconstruction", alpha=2.0, distance_to_optimality=0.0, subspace_distance=0.0, critical_alpha=1.5),
        dict(paradigm="reconstruction", alpha=1.0, distance_to_optimality=1.0, subspace_distance=2.0, critical_alpha=1.5),
    ])
    out = turn.turn_points(pd.DataFrame(rows), limit).set_index(["alpha", "metric"])["n_within"]
    assert out[(2.0, "distance_to_optimality")] == 1000
    assert out[(2.0, "subspace_distance")] == 100  # 1/n falls to a tenth of 1/10 at n = 100
    assert out[(1.0, "distance_to_optimality")] == 100
    assert np.isnan(out[(1.0, "subspace_distance")])  # never within 10 % of 2


def test_small_turn_study_reaches_theory_limits():
    grid = turn.turn_grid(d=20, k=10, n_max=1e8)
    grid["n"] = [1000, 10**8]
    grid["seed"] = [0]
    table = turn.near_threshold(sweep.run(grid, progress=False))
    assert set(table["sampler"]) == {"rows", "wishart"}
    limit = turn.limits(table)
    model = build_model(DataConfig("synthetic", 20, 10, 1e6, 1e4, 0, 0, 1))
    for _, row in limit.iterrows():
        recovers = theory.predicts_optimal(row["paradigm"], model, row["alpha"])
        assert row["subspace_distance"] == (0.0 if recovers else 1.0) or abs(row["subspace_distance"] - (0.0 if recovers else 1.0)) < 1e-6
        big = table[(table["paradigm"] == row["paradigm"]) & (table["alpha"] == row["alpha"]) & (table["n"] == 10**8)]
        assert abs(big["subspace_distance"].iloc[0] - row["subspace_distance"]) < 0.05
