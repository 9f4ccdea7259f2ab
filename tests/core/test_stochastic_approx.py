"""Tests for core/stochastic_approx.py against independent references.

References used: the running sample mean (np.cumsum / k), a slow literal double loop over
runs and iterations, the p-series test for the step-size conditions, the closed-form
stationary variance a sigma^2 / (2 - a) of a constant step, and Sacks's (1958)
asymptotic variance c^2 sigma^2 / (2 c g'(w*) - 1) for a_k = c/k.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core import stochastic_approx as sa

# ------------------------------------------------------------------------------------------------
# Slow literal oracles: one scalar at a time, no vectorisation.
# ------------------------------------------------------------------------------------------------


def literal_robbins_monro(g, w1, a, noise_std, n_runs, rng):
    eta = noise_std * rng.standard_normal((n_runs, len(a)))  # same draw order as the spec
    out = []
    for r in range(n_runs):
        w = float(w1)
        path = [w]
        for k in range(len(a)):
            if math.isfinite(w):
                w = w - a[k] * (float(g(np.array([w]))[0]) + eta[r, k])
                if not math.isfinite(w) or abs(w) > sa.DIVERGENCE_BOUND:
                    w = math.nan
            path.append(w)
        out.append(path)
    return np.array(out)


def literal_minibatch(data, m, a, w1, n_runs, rng):
    idx = np.stack([rng.integers(0, len(data), size=(n_runs, m)) for _ in a], axis=1)  # (R, K, m)
    out = []
    for r in range(n_runs):
        w = float(w1)
        path = [w]
        for k in range(len(a)):
            batch_mean = sum(float(data[i]) for i in idx[r, k]) / m
            w = w - a[k] * (w - batch_mean)
            path.append(w)
        out.append(path)
    return np.array(out)


# ------------------------------------------------------------------------------------------------
# Step sizes and the two conditions
# ------------------------------------------------------------------------------------------------


def test_step_size_families_values():
    k = np.arange(1, 6, dtype=float)
    np.testing.assert_allclose(
        sa.StepSizes("harmonic")(5), [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5], rtol=0, atol=1e-15
    )
    np.testing.assert_allclose(sa.StepSizes("power", c=0.5, alpha=0.75)(5), 0.5 * k**-0.75, rtol=1e-15)
    np.testing.assert_array_equal(sa.StepSizes("constant", c=0.2)(5), np.full(5, 0.2))
    with pytest.raises(ValueError):
        sa.StepSizes("cosine")


@pytest.mark.parametrize(
    "steps, sum_diverges, squares_summable",
    [
        (sa.StepSizes("harmonic"), True, True),  # 1/k: harmonic series diverges, sum 1/k^2 = pi^2/6
        (sa.StepSizes("power", c=3.0, alpha=1.0), True, True),  # c/k: same, for any c
        (sa.StepSizes("power", c=1.0, alpha=0.75), True, True),  # 1/2 < alpha < 1
        (sa.StepSizes("power", c=1.0, alpha=0.5), True, False),  # sum 1/k diverges (boundary)
        (sa.StepSizes("power", c=1.0, alpha=0.3), True, False),
        (sa.StepSizes("power", c=1.0, alpha=1.5), False, True),  # zeta(1.5) finite
        (sa.StepSizes("power", c=1.0, alpha=2.0), False, True),  # zeta(2) = pi^2/6
        (sa.StepSizes("power", c=1.0, alpha=0.0), True, False),  # = constant 1
        (sa.StepSizes("power", c=1.0, alpha=-1.0), True, False),  # growing steps
        (sa.StepSizes("constant", c=0.1), True, False),  # sum = inf, squares = inf
        (sa.StepSizes("constant", c=0.0), False, True),  # never moves
        (sa.StepSizes("power", c=0.0, alpha=0.3), False, True),
    ],
)
def test_conditions_on_known_families(steps, sum_diverges, squares_summable):
    cond = sa.step_size_conditions(steps)
    assert cond.sum_diverges is sum_diverges
    assert cond.squares_summable is squares_summable
    assert cond.both is (sum_diverges and squares_summable)


@settings(max_examples=60, deadline=None)
@given(alpha=st.floats(0.05, 3.0), c=st.floats(0.01, 5.0))
def test_conditions_match_integral_bounds(alpha, c):
    """Independent check via the integral test: int_1^inf c x^{-p} dx is finite iff p > 1."""
    cond = sa.step_size_conditions(sa.StepSizes("power", c=c, alpha=alpha))
    assert cond.sum_diverges == (not alpha > 1.0)
    assert cond.squares_summable == (2 * alpha > 1.0)


def test_partial_sums_harmonic():
    """S_K = H_K (harmonic number), Q_K -> pi^2 / 6 with tail < 1/K."""
    K = 10_000
    S, Q = sa.partial_sums(sa.StepSizes("harmonic")(K))
    # H_K = ln K + gamma + 1/(2K) - 1/(12 K^2) + O(K^-4)
    H_K = math.log(K) + 0.5772156649015329 + 1 / (2 * K) - 1 / (12 * K**2)
    assert abs(S[-1] - H_K) < 1e-12
    assert 0 < math.pi**2 / 6 - Q[-1] < 1 / K


# ------------------------------------------------------------------------------------------------
# Mean estimation
# ------------------------------------------------------------------------------------------------


def test_incremental_mean_with_one_over_k_is_running_sample_mean():
    rng = np.random.default_rng(1)
    x = sa.sample_stream(mean=5.0, noise_std=2.0, n_runs=7, num_steps=500, rng=rng)  # (7, 500)
    W = sa.mean_estimation(x, sa.StepSizes("harmonic")(500), w1=-123.0)
    running = np.cumsum(x, axis=1) / np.arange(1, 501)  # independent: mean of x_1..x_k
    np.testing.assert_allclose(W[:, 1:], running, rtol=0, atol=1e-12)
    assert np.all(W[:, 0] == -123.0)


@settings(max_examples=50, deadline=None)
@given(x=arrays(np.float64, st.integers(1, 60), elements=st.floats(-1e3, 1e3)), w1=st.floats(-1e3, 1e3))
def test_incremental_mean_property(x, w1):
    W = sa.mean_estimation(x[None, :], 1.0 / np.arange(1, x.size + 1), w1=w1)
    running = np.array([np.mean(x[: k + 1]) for k in range(x.size)])
    np.testing.assert_allclose(W[0, 1:], running, rtol=0, atol=1e-12 * max(1.0, np.abs(x).max()))


def test_mean_estimation_mse_closed_forms():
    # a_k = 1/k: MSE after k samples is sigma^2 / k exactly (w_{k+1} is the mean of k samples)
    K, sigma = 200, 1.7
    mse = sa.mean_estimation_mse(sa.StepSizes("harmonic")(K), w1=10.0, mean=2.0, noise_std=sigma)
    np.testing.assert_allclose(mse[1:], sigma**2 / np.arange(1, K + 1), rtol=1e-12)
    assert mse[0] == pytest.approx(64.0)
    # constant a: tends to a sigma^2 / (2 - a)
    a = 0.1
    mse = sa.mean_estimation_mse(np.full(2000, a), w1=0.0, mean=0.0, noise_std=sigma)
    assert mse[-1] == pytest.approx(a * sigma**2 / (2 - a), rel=1e-12)


def test_constant_step_leaves_variance_floor():
    """Monte Carlo over 20,000 runs against the closed form a sigma^2 / (2 - a).

    The sample variance of 20,000 normal values has relative standard error sqrt(2/19999) = 1%;
    we allow 5%. The floor does not shrink with k: variance at k = 150 and k = 300 agree.
    """
    rng = np.random.default_rng(2)
    a, sigma, mu = 0.2, 1.5, 3.0
    x = sa.sample_stream(mu, sigma, n_runs=20_000, num_steps=300, rng=rng)
    W = sa.mean_estimation(x, sa.StepSizes("constant", c=a)(300), w1=0.0)
    floor = sa.constant_step_variance(a, sigma)
    assert floor == pytest.approx(a * sigma**2 / (2 - a))
    assert np.var(W[:, -1]) == pytest.approx(floor, rel=0.05)
    assert np.var(W[:, 150]) == pytest.approx(floor, rel=0.05)
    # compare: 1/k brings the variance down to sigma^2 / 300, far below the floor
    W_harm = sa.mean_estimation(x, sa.StepSizes("harmonic")(300), w1=0.0)
    assert np.var(W_harm[:, -1]) == pytest.approx(sigma**2 / 300, rel=0.05)
    assert np.var(W_harm[:, -1]) < floor / 10


# ------------------------------------------------------------------------------------------------
# Robbins–Monro root finding
# ------------------------------------------------------------------------------------------------


def test_vectorised_runs_equal_slow_literal_loop():
    a = sa.StepSizes("power", c=0.8, alpha=0.7)(60)
    for ex in (sa.tanh_example(), sa.cube_example()):
        fast = sa.robbins_monro(ex.g, ex.w1, a, 0.7, 9, np.random.default_rng(3))
        slow = literal_robbins_monro(ex.g, ex.w1, a, 0.7, 9, np.random.default_rng(3))
        assert fast.shape == (9, 61)
        np.testing.assert_allclose(fast, slow, rtol=1e-13, atol=1e-13, equal_nan=True)


def test_cube_with_one_over_k_diverges_and_is_marked_nan():
    """Hand computation: w1 = 0, a_1 = 1 -> w2 = 5; a_2 = 1/2 -> w3 = 5 - 120/2 = -55; then blow-up."""
    ex = sa.cube_example()
    W = sa.robbins_monro(ex.g, 0.0, sa.StepSizes("harmonic")(20), 0.0, 1, np.random.default_rng(0))
    assert W[0, 1] == 5.0 and W[0, 2] == -55.0
    assert np.isnan(W[0, -1])
    assert sa.summarize_runs(W, ex.root).n_diverged == 1


def test_tanh_noise_free_converges_monotonically_to_one():
    """Zhao Sec. 6.2 example: w1 = 3, a_k = 1/k, eta = 0.

    Since 0 < tanh(e) < e for e > 0 and a_k <= 1, the error e_k = w_k - 1 stays positive and
    decreases; near the root e_{k+1} ~ (1 - 1/k) e_k, so e_k = O(1/k). Tolerance: 1e-2 at K = 1000.
    """
    ex = sa.tanh_example()
    W = sa.robbins_monro(ex.g, ex.w1, sa.StepSizes("harmonic")(1000), 0.0, 1, np.random.default_rng(0))
    e = W[0] - 1.0
    assert np.all(e > 0) and np.all(np.diff(e) < 0)
    assert e[-1] < 1e-2


def test_tanh_noisy_converges_with_sacks_variance():
    """Seeded, 2,000 runs, sigma = 0.5, a_k = 1/k, K = 3000.

    Theory (Sacks 1958): K Var(w_K) -> c^2 sigma^2 / (2 c g'(1) - 1) = 0.25 with c = g'(1) = 1.
    Tolerances: mean of w_K within 0.005 of 1 (standard error 0.0002 plus O(1/K) bias);
    K Var(w_K) within 10% of 0.25 (sampling error ~3%).
    """
    ex = sa.tanh_example()
    K, sigma = 3000, 0.5
    W = sa.robbins_monro(ex.g, ex.w1, sa.StepSizes("harmonic")(K), sigma, 2000, np.random.default_rng(4))
    assert abs(W[:, -1].mean() - 1.0) < 0.005
    assert K * W[:, -1].var() == pytest.approx(sa.asymptotic_variance(1.0, 1.0, sigma), rel=0.10)
    assert sa.asymptotic_variance(1.0, 1.0, sigma) == 0.25


def test_cube_root_with_small_c():
    """g(w) = w^3 - 5 from w1 = 0 with a_k = 0.1/k, sigma = 1, 1000 seeded runs, K = 3000.

    Root 5^(1/3) = 1.70998. Tolerance: median of w_K within 0.01, no run diverged, and 95% of
    runs within 0.02 (the asymptotic standard deviation sqrt(0.0133/3000) = 0.002).
    """
    ex = sa.cube_example()
    assert ex.root == pytest.approx(1.7099759466766968, rel=1e-15)
    W = sa.robbins_monro(
        ex.g, ex.w1, sa.StepSizes("power", c=0.1, alpha=1.0)(3000), 1.0, 1000, np.random.default_rng(5)
    )
    assert np.all(np.isfinite(W))
    assert abs(np.median(W[:, -1]) - 5 ** (1 / 3)) < 0.01
    assert np.quantile(np.abs(W[:, -1] - 5 ** (1 / 3)), 0.95) < 0.02


# ------------------------------------------------------------------------------------------------
# Mini-batch SGD
# ------------------------------------------------------------------------------------------------


def test_minibatch_vectorised_equals_literal_loop():
    data = np.random.default_rng(6).normal(2.0, 1.0, size=37)
    a = sa.StepSizes("power", c=0.9, alpha=0.8)(40)
    fast = sa.minibatch_sgd_mean(data, 5, a, 0.0, 6, np.random.default_rng(7))
    slow = literal_minibatch(data, 5, a, 0.0, 6, np.random.default_rng(7))
    np.testing.assert_allclose(fast, slow, rtol=1e-13, atol=1e-13)


def test_minibatch_one_over_k_is_mean_of_all_drawn_samples():
    """With a_k = 1/k, w_{K+1} is the average of every sample drawn (K batches of m)."""
    data = np.random.default_rng(8).normal(size=50)
    K, m = 30, 4
    W = sa.minibatch_sgd_mean(data, m, sa.StepSizes("harmonic")(K), 9.0, 3, np.random.default_rng(9))
    rng = np.random.default_rng(9)
    idx = np.stack([rng.integers(0, 50, size=(3, m)) for _ in range(K)], axis=1)  # (3, K, m)
    np.testing.assert_allclose(W[:, -1], data[idx].reshape(3, -1).mean(axis=1), rtol=0, atol=1e-12)


def test_minibatch_divides_noise_floor_by_batch_size():
    """Constant a: stationary variance a (s^2 / m) / (2 - a), s^2 the data's population variance.

    A batch mean drawn with replacement has variance s^2 / m. 8,000 runs: 5% tolerance.
    """
    data = np.random.default_rng(10).normal(0.0, 2.0, size=100)
    s2 = data.var()  # ddof = 0: sampling with replacement from the data set
    a = 0.3
    for m in (1, 10):
        W = sa.minibatch_sgd_mean(data, m, np.full(150, a), data.mean(), 8000, np.random.default_rng(11 + m))
        assert W[:, -1].var() == pytest.approx(sa.constant_step_variance(a, math.sqrt(s2 / m)), rel=0.05)
        assert W[:, -1].mean() == pytest.approx(data.mean(), abs=0.05)


# ------------------------------------------------------------------------------------------------
# Summaries and helpers
# ------------------------------------------------------------------------------------------------


def test_summarize_runs_against_numpy():
    W = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, np.nan], [0.0, -1.0, 4.0]])
    s = sa.summarize_runs(W, target=1.0, qs=(0.5,))
    assert s.n_diverged == 1
    np.testing.assert_allclose(s.mean, [0.0, 0.0, 3.0])
    np.testing.assert_allclose(s.rmse, [1.0, math.sqrt(2.0), math.sqrt(5.0)])
    np.testing.assert_allclose(s.quantiles[0], [0.0, 0.0, 3.0])


def test_log_spaced_indices():
    idx = sa.log_spaced_indices(5001, 200)
    assert idx[0] == 0 and idx[-1] == 5000
    assert np.all(np.diff(idx) > 0) and len(idx) <= 202
    np.testing.assert_array_equal(sa.log_spaced_indices(50, 200), np.arange(50))


def test_run_experiment_theory_matches_monte_carlo():
    """The attached theory RMSE against the across-run RMSE of 4,000 seeded runs (10%)."""
    a = sa.StepSizes("power", c=0.5, alpha=0.8)(200)
    for example in ("mean", "sgd"):
        exp = sa.run_experiment(example, a, 1.3, 4000, 3.0, np.random.default_rng(12), batch_size=4)
        rmse = sa.summarize_runs(exp.W, exp.target).rmse
        np.testing.assert_allclose(rmse[1:], exp.theory_rmse[1:], rtol=0.10)
    exp = sa.run_experiment(
        "tanh", sa.StepSizes("power", 0.2, 0.7)(50), 1.0, 5, 3.0, np.random.default_rng(0)
    )
    assert exp.theory_rmse is None and exp.target == 1.0  # no closed form for c / k^0.7
    exp = sa.run_experiment("tanh", sa.StepSizes("harmonic")(50), 1.0, 5, 3.0, np.random.default_rng(0))
    assert exp.theory_rmse[-1] == pytest.approx(math.sqrt(1.0 / 50))  # Sacks: V = 1 for c = g' = 1, sigma = 1


@pytest.mark.parametrize(
    ("c", "slope", "sigma"), [(0.7, 1.0, 1.0), (2.0, 1.0, 0.5), (0.3, 3.0, 1.3), (1.5, 0.6, 2.0)]
)
def test_sacks_variance_at_c_not_one_against_the_exact_linear_recursion(c, slope, sigma):
    """Issue 21: c != 1, where c and c^2 differ. Independent reference: for a linear
    g(w) = slope (w - w*) with a_k = c/k, the error e_k = w_k - w* obeys
    e_{k+1} = (1 - a_k slope) e_k - a_k eta_k exactly, so its variance follows
    v_{k+1} = (1 - a_k slope)^2 v_k + a_k^2 sigma^2 (a literal loop); k v_k must tend to
    Sacks's c^2 sigma^2 / (2 c slope - 1). Tolerance 1% at k = 200,000 (the O(1/k) and
    O(k^(1 - 2 c slope)) corrections are far below that)."""
    v = 0.0
    K = 200_000
    for k in range(1, K + 1):
        a = c / k
        v = (1 - a * slope) ** 2 * v + a * a * sigma**2
    assert (K + 1) * v == pytest.approx(sa.asymptotic_variance(c, slope, sigma), rel=1e-2)
    if c != 1.0:  # the formula with c instead of c^2 is visibly wrong here
        wrong = c * sigma**2 / (2 * c * slope - 1)
        assert abs((K + 1) * v - wrong) / wrong > 0.05


# ------------------------------------------------------------------------------------------------
# Issue 21: what mutation testing found unpinned (defaults, edges, messages, the examples)
# ------------------------------------------------------------------------------------------------


def test_step_size_defaults_are_c_1_alpha_1():
    """StepSizes("power") is 1/k and StepSizes("constant") is 1 (documented defaults c = alpha = 1)."""
    np.testing.assert_allclose(sa.StepSizes("power")(4), [1, 1 / 2, 1 / 3, 1 / 4], rtol=1e-15)
    np.testing.assert_array_equal(sa.StepSizes("constant")(3), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(sa.StepSizes("power", c=2.0)(3), [2, 1, 2 / 3], rtol=1e-15)
    np.testing.assert_allclose(sa.StepSizes("power", alpha=2.0)(3), [1, 1 / 4, 1 / 9], rtol=1e-15)
    assert sa.StepSizes("harmonic")(0).shape == (0,)


def test_bad_arguments_messages():
    with pytest.raises(ValueError, match=r"^unknown step-size family 'cosine'; expected one of \('harmonic', 'power', 'constant'\)$"):
        sa.StepSizes("cosine")
    for a in (0.0, 2.0, -0.5):
        with pytest.raises(ValueError, match=r"^a constant step has a stationary variance only for 0 < a < 2$"):
            sa.constant_step_variance(a, 1.0)
    with pytest.raises(ValueError, match=r"^the 1/sqrt\(k\) rate needs 2 c g'\(w\*\) > 1$"):
        sa.asymptotic_variance(0.5, 1.0, 1.0)  # 2 c g' = 1 exactly: the boundary is excluded
    with pytest.raises(ValueError, match=r"^unknown example 'sine'; expected one of \('mean', 'tanh', 'cube', 'sgd'\)$"):
        sa.run_experiment("sine", np.ones(3), 1.0, 2, 0.0, np.random.default_rng(0))


def test_constant_step_variance_and_sacks_by_hand():
    # a sigma^2 / (2 - a): 1.9 * 4 / 0.1 = 76 near the upper edge, 0.01 * 4 / 1.99 near the lower
    assert sa.constant_step_variance(1.9, 2.0) == pytest.approx(76.0, rel=1e-12)
    assert sa.constant_step_variance(0.01, 2.0) == pytest.approx(0.04 / 1.99, rel=1e-12)
    # c^2 sigma^2 / (2 c g' - 1): c = 0.3, g' = 2, sigma = 1.5 -> 0.09 * 2.25 / 0.2 = 1.0125
    assert sa.asymptotic_variance(0.3, 2.0, 1.5) == pytest.approx(1.0125, rel=1e-12)
    assert sa.asymptotic_variance(0.26, 2.0, 1.0) == pytest.approx(0.0676 / 0.04, rel=1e-12)


def test_partial_sums_by_hand():
    S, Q = sa.partial_sums([0.5, 0.25, 2.0])
    np.testing.assert_allclose(S, [0.5, 0.75, 2.75], rtol=0, atol=1e-15)
    np.testing.assert_allclose(Q, [0.25, 0.3125, 4.3125], rtol=0, atol=1e-15)


def test_mean_estimation_default_start_is_zero():
    # a = 0.5 throughout: w2 = 0.5 * x1 from w1 = 0, w3 = 0.5 w2 + 0.5 x2 (by hand)
    W = sa.mean_estimation(np.array([[4.0, 2.0]]), np.array([0.5, 0.5]))
    np.testing.assert_allclose(W, [[0.0, 2.0, 2.0]], rtol=0, atol=1e-15)


def test_mean_estimation_mse_by_hand():
    # a = (0.5, 0.5), w1 - mean = 2, sigma = 1: b = 2, 1, 0.5; v = 0, 0.25, 0.0625 + 0.25
    mse = sa.mean_estimation_mse(np.array([0.5, 0.5]), w1=3.0, mean=1.0, noise_std=1.0)
    np.testing.assert_allclose(mse, [4.0, 1.25, 0.25 + 0.3125], rtol=0, atol=1e-15)


def test_divergence_bound_is_strict_and_silent():
    """|w| = 1e8 exactly is kept, |w| = 1e8 + 0.5 is NaN from there on, and no RuntimeWarning escapes."""
    import warnings

    zero = lambda w: 0.0 * w  # noqa: E731
    W = sa.robbins_monro(zero, 1e8, np.ones(2), 0.0, 1, np.random.default_rng(0))
    np.testing.assert_array_equal(W, [[1e8, 1e8, 1e8]])
    W = sa.robbins_monro(zero, -1e8 - 0.5, np.ones(2), 0.0, 1, np.random.default_rng(0))
    assert np.isnan(W).all()
    # a run that overflows to inf and then inf - inf = NaN: marked NaN, no warning raised
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        W = sa.robbins_monro(lambda w: w**3, 1e30, np.ones(4), 0.0, 2, np.random.default_rng(0))
    assert np.isnan(W).all()
    # escaping and coming back still counts as diverged (the mark is sticky)
    back = lambda w: np.where(np.abs(w) > 1e8, w, -2e8 * np.ones_like(w))  # noqa: E731
    W = sa.robbins_monro(back, 0.0, np.ones(2), 0.0, 1, np.random.default_rng(0))
    assert W[0, 0] == 0.0 and np.isnan(W[0, 1:]).all()


def test_the_two_examples_as_written():
    """Zhao Sec. 6.2: g(w) = tanh(w - 1), w* = 1, w_1 = 3, g'(1) = 1; the cube: w^3 - 5 from 0, g' = 3 w*^2."""
    t = sa.tanh_example()
    assert (t.root, t.w1, t.slope_at_root) == (1.0, 3.0, 1.0)
    np.testing.assert_allclose(t.g(np.array([3.0, 1.0, 0.0])), [math.tanh(2.0), 0.0, math.tanh(-1.0)], atol=1e-15)
    c = sa.cube_example()
    assert c.w1 == 0.0
    np.testing.assert_allclose(c.g(np.array([2.0, 0.0])), [3.0, -5.0], atol=1e-15)
    h = 1e-6  # central difference of g at the root
    slope = (c.g(np.array([c.root + h]))[0] - c.g(np.array([c.root - h]))[0]) / (2 * h)
    assert c.slope_at_root == pytest.approx(slope, rel=1e-8)
    assert c.slope_at_root == pytest.approx(3 * 25 ** (1 / 3), rel=1e-14)


def test_summarize_runs_defaults_and_all_diverged():
    W = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0], [0.0, 4.0], [0.0, 5.0], [0.0, 6.0]])
    s = sa.summarize_runs(W, target=0.0)
    # numpy's default (linear) quantiles of 1..6 at 0.1, 0.25, 0.5, 0.75, 0.9: 1 + q * 5
    np.testing.assert_allclose(s.quantiles[:, 1], [1.5, 2.25, 3.5, 4.75, 5.5], atol=1e-12)
    np.testing.assert_allclose(s.quantiles[:, 0], 0.0)
    assert s.n_diverged == 0
    s = sa.summarize_runs(np.array([[0.0, np.nan], [np.inf, 1.0]]), target=0.0, qs=(0.5, 0.9))
    assert s.n_diverged == 2 and s.quantiles.shape == (2, 2) and np.isnan(s.quantiles).all()
    assert s.mean.shape == (2,) and np.isnan(s.mean).all() and np.isnan(s.rmse).all()


def test_log_spaced_indices_edges():
    np.testing.assert_array_equal(sa.log_spaced_indices(200), np.arange(200))  # default max 200: all kept
    idx = sa.log_spaced_indices(201)
    assert idx[0] == 0 and idx[-1] == 200 and len(idx) < 201 and np.all(np.diff(idx) > 0)
    idx = sa.log_spaced_indices(10_000, 20)
    # geomspace(1, 10^4, 20) rounded, minus 1: dense at the start, 0 and the last always in
    assert idx[0] == 0 and idx[-1] == 9999 and 15 <= len(idx) <= 22
    assert idx[1] == 1 and idx[2] == 2  # round(10^(4/19)) - 1 = 1, round(10^(8/19)) - 1 = 2


def test_run_experiment_theory_only_where_sacks_applies():
    """Sacks's curve only for a_k = c/k with 2 c g'(w*) > 1, K > 1 and noise; NaN at k = 0 and sqrt(V / k) after."""
    rng = np.random.default_rng(0)
    run = lambda ex, a, sigma=1.0: sa.run_experiment(ex, a, sigma, 3, 3.0, rng)  # noqa: E731
    e = run("tanh", sa.StepSizes("power", c=2.0, alpha=1.0)(6))
    V = 4.0 / 3.0  # c^2 sigma^2 / (2 c - 1) with c = 2, g' = 1, sigma = 1
    assert np.isnan(e.theory_rmse[0])
    np.testing.assert_allclose(e.theory_rmse[1:], np.sqrt(V / np.arange(1, 7)), rtol=1e-12)
    assert e.W.shape == (3, 7) and e.target == 1.0
    assert run("tanh", sa.StepSizes("power", c=0.5, alpha=1.0)(6)).theory_rmse is None  # 2 c g' = 1
    assert run("tanh", sa.StepSizes("power", c=1.0, alpha=0.95)(4)).theory_rmse is None  # not c/k
    assert run("tanh", sa.StepSizes("harmonic")(1)).theory_rmse is None  # K = 1
    assert run("tanh", sa.StepSizes("harmonic")(2)).theory_rmse is not None  # K = 2
    assert run("tanh", sa.StepSizes("harmonic")(5), sigma=0.0).theory_rmse is None  # no noise
    e = run("cube", sa.StepSizes("power", c=0.1, alpha=1.0)(5))
    slope = 3 * 25 ** (1 / 3)
    V = 0.01 / (2 * 0.1 * slope - 1)
    np.testing.assert_allclose(e.theory_rmse[1:], np.sqrt(V / np.arange(1, 6)), rtol=1e-12)
    assert e.target == pytest.approx(5 ** (1 / 3), rel=1e-15)


def test_run_experiment_mean_and_sgd_as_written():
    """mean: x ~ N(1, sigma^2) drawn as (R, K); sgd: 100 data points first, then batches (default m = 1)."""
    a = sa.StepSizes("harmonic")(4)
    e = sa.run_experiment("mean", a, 0.5, 2, 7.0, np.random.default_rng(3))
    x = 1.0 + 0.5 * np.random.default_rng(3).standard_normal((2, 4))
    np.testing.assert_allclose(e.W[:, 1:], np.cumsum(x, axis=1) / np.arange(1, 5), atol=1e-14)
    assert e.target == 1.0 and e.W[0, 0] == 7.0
    np.testing.assert_allclose(e.theory_rmse, [6.0] + [0.5 / math.sqrt(k) for k in range(1, 5)], rtol=1e-12)
    e = sa.run_experiment("sgd", a, 0.5, 2, 7.0, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    data = 1.0 + 0.5 * rng.standard_normal(100)
    idx = np.stack([rng.integers(0, 100, size=(2, 1)) for _ in range(4)], axis=1)  # (R, K, 1)
    np.testing.assert_allclose(e.W[:, 1:], np.cumsum(data[idx][:, :, 0], axis=1) / np.arange(1, 5), atol=1e-14)
    assert e.target == pytest.approx(sum(data) / 100, abs=1e-14)
    s = math.sqrt(sum((d - sum(data) / 100) ** 2 for d in data) / 100)  # population std, m = 1
    np.testing.assert_allclose(e.theory_rmse[1:], [s / math.sqrt(k) for k in range(1, 5)], rtol=1e-10)
    assert e.theory_rmse[0] == pytest.approx(abs(7.0 - sum(data) / 100), rel=1e-12)


def test_log_spaced_indices_against_the_geometric_sequence():
    """max_points points geometric from 1 to num_points (ratio num_points^(1/(max_points-1))), rounded,
    minus 1, plus 0 and the last index: written with math, not numpy (integer indices)."""
    for n, m in ((10_000, 20), (1_000, 7), (201, 200), (10**6, 5)):  # the last: index 1 is not among them
        want = sorted({0, n - 1} | {round(n ** (j / (m - 1))) - 1 for j in range(m)})
        got = sa.log_spaced_indices(n, m)
        assert got.dtype.kind == "i"
        assert got.tolist() == want


def test_step_sizes_with_integer_exponents():
    """alpha = -1 (growing steps, a_k = k) and alpha = 4 at k = 10^5 (a_k = 1e-20): ints are valid floats
    here, and k must be float so that k^alpha neither refuses a negative power nor overflows int64."""
    np.testing.assert_allclose(sa.StepSizes("power", c=1.0, alpha=-1)(3), [1.0, 2.0, 3.0], rtol=1e-15)
    assert sa.StepSizes("power", c=1.0, alpha=4)(100_000)[-1] == pytest.approx(1e-20, rel=1e-12, abs=0)


def test_run_experiment_root_finding_is_robbins_monro_from_w1():
    """tanh/cube runs are the literal Robbins-Monro loop from the given w1 with the same generator;
    theory needs a_k = c/k to 1e-12 (alpha = 1 - 1e-7 is not c/k: no curve)."""
    a = sa.StepSizes("power", c=0.8, alpha=0.9)(15)
    for name, ex in (("tanh", sa.tanh_example()), ("cube", sa.cube_example())):
        e = sa.run_experiment(name, a, 0.4, 4, 2.5, np.random.default_rng(8))
        slow = literal_robbins_monro(ex.g, 2.5, a, 0.4, 4, np.random.default_rng(8))
        np.testing.assert_allclose(e.W, slow, rtol=1e-13, atol=1e-13, equal_nan=True)
        assert e.W[0, 0] == 2.5
    near = sa.StepSizes("power", c=2.0, alpha=1 - 1e-7)(5)
    assert sa.run_experiment("tanh", near, 1.0, 2, 3.0, np.random.default_rng(0)).theory_rmse is None
