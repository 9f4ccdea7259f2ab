"""robbins_monro "Try this" sentences, computed with core/stochastic_approx.py as the page calls it."""

import numpy as np

from core import stochastic_approx as sa
from tests.claims.helpers import setting


def experiment(v: dict):
    fam = v["fam"]
    # the page shows c and alpha for the power family, a for the constant one (the others are hidden)
    c = v["c"] if fam == "power" else v["a"] if fam == "constant" else 1.0
    alpha = v["alpha"] if fam == "power" else 0.0 if fam == "constant" else 1.0
    a = sa.StepSizes(fam, c, alpha)(v["K"])
    m = v["m"] if v["ex"] == "sgd" else 1
    exp = sa.run_experiment(
        v["ex"], a, v["sigma"], v["runs"], v["w1"], np.random.default_rng(v["seed"]), batch_size=m
    )
    return exp, sa.summarize_runs(exp.W, exp.target)


def test_too_fast():
    """sum a_k = pi^2/6 and |tanh| < 1: the band freezes above 1 and the error curve goes flat."""
    v = setting("robbins_monro", "too_fast")
    assert sum(1 / k**2 for k in range(1, 10_000)) < 1.65
    exp, s = experiment(v)
    assert s.quantiles[0, -1] > 1.2  # even the 10% quantile stays above the root
    assert abs(s.rmse[-1] - s.rmse[v["K"] // 2]) / s.rmse[-1] < 0.02  # flat over the second half


def test_constant_floor():
    """The RMS error levels off at sqrt(a sigma^2 / (2 - a)) ~ 0.33."""
    v = setting("robbins_monro", "constant_floor")
    floor = np.sqrt(sa.constant_step_variance(v["a"], v["sigma"]))
    assert round(floor, 2) == 0.33
    exp, s = experiment(v)
    assert abs(s.rmse[v["K"] // 2 :].mean() - floor) / floor < 0.05
    assert abs(exp.theory_rmse[-1] - floor) < 1e-3


def test_cube():
    """a_k = 0.1/k from 2 converges to 5^(1/3) along Sacks's line; c = 0.3 from 3: about a third diverge."""
    v = setting("robbins_monro", "cube")
    exp, s = experiment(v)
    assert s.n_diverged == 0 and abs(s.mean[-1] - 5 ** (1 / 3)) < 0.01
    assert abs(s.rmse[-1] / exp.theory_rmse[-1] - 1) < 0.15
    exp2, s2 = experiment({**v, "c": 0.3, "w1": 3.0})
    assert 0.25 <= s2.n_diverged / v["runs"] <= 0.45


def test_minibatch():
    """The constant-step floor with m = 20 is about sqrt(20) ~ 4.5 times lower than with m = 1."""
    v = setting("robbins_monro", "minibatch")

    def floor(m: int) -> float:
        exp, s = experiment({**v, "m": m})
        return float(s.rmse[v["K"] // 2 + 1 :].mean())

    ratio = floor(1) / floor(v["m"])
    assert 3.6 < ratio < 5.6 and abs(ratio - np.sqrt(20)) / np.sqrt(20) < 0.2
