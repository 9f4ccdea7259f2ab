"""Monte Carlo control against published numbers, exact evaluation and literal loops.

Published: S. Zhao, "Mathematical Foundations of Reinforcement Learning" (2025),
Figure 5.4 (Sec. 5.2.3, p. 85): final values of MC Basic on the 5x5 grid
(r_boundary = -1, r_forbidden = -10, gamma = 0.9) for episode lengths 1..100,
printed to one decimal -> |ours - printed| <= 0.05.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import mdp
from core import monte_carlo as mc
from core.gridworld import GridWorld

ROUND = 0.05 + 1e-9

FIG_5_4 = {
    1: [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 1.0, 0, 0], [0, 1.0, 1.0, 1.0, 0], [0, 0, 1.0, 0, 0]],
    2: [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 1.9, 0, 0], [0, 1.9, 1.9, 1.9, 0], [0, 0.9, 1.9, 0.9, 0]],
    3: [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 2.7, 0, 0], [0, 2.7, 2.7, 2.7, 0], [0, 1.7, 2.7, 1.7, 0.8]],
    4: [
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 3.4, 0, 0],
        [0, 3.4, 3.4, 3.4, 0.7],
        [0, 2.4, 3.4, 2.4, 1.5],
    ],
    14: [
        [1.2, 1.6, 2.0, 2.5, 3.0],
        [0.9, 1.2, 2.5, 3.0, 3.6],
        [0.5, 0.3, 7.7, 3.6, 4.3],
        [0.3, 7.7, 7.7, 7.7, 5.0],
        [0.0, 6.7, 7.7, 6.7, 5.8],
    ],
    15: [
        [1.4, 1.8, 2.2, 2.7, 3.3],
        [1.1, 1.4, 2.7, 3.3, 3.8],
        [0.8, 0.5, 7.9, 3.8, 4.5],
        [0.5, 7.9, 7.9, 7.9, 5.2],
        [0.2, 6.9, 7.9, 6.9, 6.0],
    ],
    30: [
        [3.1, 3.5, 3.9, 4.4, 4.9],
        [2.7, 3.1, 4.4, 4.9, 5.5],
        [2.4, 2.1, 9.6, 5.5, 6.1],
        [2.1, 9.6, 9.6, 9.6, 6.9],
        [1.9, 8.6, 9.6, 8.6, 7.7],
    ],
    100: [
        [3.5, 3.9, 4.3, 4.8, 5.3],
        [3.1, 3.5, 4.8, 5.3, 5.9],
        [2.8, 2.5, 10.0, 5.9, 6.6],
        [2.5, 10.0, 10.0, 10.0, 7.3],
        [2.3, 9.0, 10.0, 9.0, 8.1],
    ],
}


@pytest.mark.parametrize("length", list(FIG_5_4))
def test_mc_basic_reproduces_figure_5_4(length):
    gw = GridWorld(r_forbidden=-10)
    res = mc.mc_basic(gw.P, gw.R, 0.9, episode_length=length, iterations=20, rng=np.random.default_rng(0))
    np.testing.assert_allclose(res.V.reshape(5, 5), FIG_5_4[length], atol=ROUND, rtol=0)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    N=st.integers(1, 4),
    T=st.integers(1, 80),
    gamma=st.sampled_from([0.0, 1e-3, 0.5, 0.9, 1.0]),
)
def test_discounted_returns_match_a_literal_backward_loop(seed, N, T, gamma):
    r = np.random.default_rng(seed).normal(size=(N, T))
    G = mc.discounted_returns(r, gamma, block=7)
    for n in range(N):
        g = 0.0
        for t in range(T - 1, -1, -1):  # book Algorithm 5.2: g <- gamma g + r_{t+1}
            g = gamma * g + r[n, t]
            assert G[n, t] == pytest.approx(g, abs=1e-9)


def test_the_few_episode_path_equals_the_batched_path():
    gw = GridWorld()
    pi = mdp.epsilon_greedy_policy(np.random.default_rng(1).normal(size=(25, 5)), 0.4)
    starts = np.array([0, 7, 24])
    a0 = np.array([1, 4, 2])
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    a = mc.simulate_episodes(gw.P, gw.R, pi, starts, a0, 300, rng_a)
    uT = rng_b.random((3, 300))
    s, act = mc._simulate_batch(gw.P, np.cumsum(pi, -1), starts, a0, uT, None, True)
    np.testing.assert_array_equal(a.states, s)
    np.testing.assert_array_equal(a.actions, act)


def test_episodes_follow_the_model_and_the_policy():
    gw = GridWorld()
    pi = mdp.epsilon_greedy_policy(np.random.default_rng(0).normal(size=(25, 5)), 0.5)
    ep = mc.simulate_episodes(gw.P, gw.R, pi, np.zeros(2000, dtype=int), None, 50, np.random.default_rng(0))
    s, a = ep.states[:, :-1], ep.actions[:, :-1]
    np.testing.assert_array_equal(ep.states[:, 1:], gw.next_state[s, a])  # deterministic moves
    np.testing.assert_array_equal(ep.rewards, gw.R[ep.states, ep.actions])
    # empirical pi(a|s) over 100k draws within 4 standard errors
    counts = np.zeros((25, 5))
    np.add.at(counts, (ep.states.ravel(), ep.actions.ravel()), 1)
    n = counts.sum(1, keepdims=True)
    freq = counts / np.maximum(n, 1)
    se = np.sqrt(pi * (1 - pi) / np.maximum(n, 1))
    ok = n[:, 0] > 200
    assert np.all(np.abs(freq - pi)[ok] <= 4 * se[ok] + 1e-12)


def test_stochastic_model_transition_frequencies():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=(3, 2))
    R = np.zeros((3, 2))
    pi = np.array([[1.0, 0.0]] * 3)  # always action 0
    ep = mc.simulate_episodes(P, R, pi, np.zeros(20_000, dtype=int), None, 2, rng)
    freq = np.bincount(ep.states[:, 1], minlength=3) / 20_000  # s_1 ~ p(.|s_0 = 0, a = 0)
    assert np.allclose(freq, P[0, 0], atol=4 * np.sqrt(0.25 / 20_000))


def test_first_visit_mask_matches_a_literal_loop():
    rng = np.random.default_rng(0)
    ep = mc.Episodes(rng.integers(0, 3, (5, 40)), rng.integers(0, 2, (5, 40)), np.zeros((5, 40)))
    mask = mc.visit_mask(ep, 2, first_visit=True)
    for n in range(5):
        seen = set()
        for t in range(40):
            pair = (ep.states[n, t], ep.actions[n, t])
            assert mask[n, t] == (pair not in seen)
            seen.add(pair)
    assert mc.visit_mask(ep, 2, first_visit=False).all()


def test_mc_evaluation_with_long_episodes_converges_to_exact_evaluation():
    # a fixed epsilon-greedy policy (epsilon = 0.5, greedy part optimal), every-visit,
    # 1000 episodes x 2000 steps: |v_hat - v_pi| <= 0.15 in every state and <= 0.05 on
    # average, where v_hat(s) = sum_a pi(a|s) q_hat(s, a) and v_pi solves the Bellman
    # equation exactly. (Over seeds 0-3 the worst state is off by 0.04-0.13: visits
    # inside one episode are correlated, so far-away corners converge slowest.)
    gw = GridWorld()
    Q_star = mdp.q_values(gw.P, gw.R, mdp.value_iteration(gw.P, gw.R, 0.9).V, 0.9)
    pi = mdp.epsilon_greedy_policy(Q_star, 0.5)
    Q_hat, n = mc.mc_policy_evaluation(gw.P, gw.R, pi, 0.9, 2000, 1000, np.random.default_rng(0))
    assert n.min() > 0
    err = np.abs((pi * Q_hat).sum(1) - mdp.policy_evaluation(gw.P, gw.R, pi, 0.9))
    assert err.max() <= 0.15 and err.mean() <= 0.05


def test_mc_epsilon_greedy_converges_to_the_exact_values_of_its_policy():
    # MC epsilon-greedy (epsilon = 0.5, every-visit, 5 iterations of 300 episodes x 2000
    # steps, seed 0): the learned values agree with exact evaluation of the learned
    # epsilon-greedy policy within 0.25 in every state, and that policy is within 0.25
    # of the optimal epsilon-greedy policy (computed exactly).
    gw = GridWorld()
    res = mc.mc_epsilon_greedy(gw.P, gw.R, 0.9, 0.5, 2000, 300, 5, np.random.default_rng(0))
    V_learned = mdp.policy_evaluation(gw.P, gw.R, res.policy, 0.9)
    assert np.abs(res.V - V_learned).max() <= 0.25
    best = mdp.epsilon_greedy_policy_iteration(gw.P, gw.R, 0.9, 0.5).V
    assert np.abs(V_learned - best).max() <= 0.25
    # the policy is epsilon-greedy: 1 - eps*4/5 = 0.6 on one action, 0.1 on the others
    np.testing.assert_allclose(np.sort(res.policy, 1), np.tile([0.1, 0.1, 0.1, 0.1, 0.6], (25, 1)))


@pytest.mark.parametrize("r_forbidden", [-1.0, -10.0])
def test_exploring_starts_with_greedy_policies_finds_an_optimal_policy(r_forbidden):
    # epsilon = 0 with exploring starts (every pair starts an episode each iteration)
    gw = GridWorld(r_forbidden=r_forbidden)
    res = mc.mc_exploring_starts(gw.P, gw.R, 0.9, 150, 125, 15, np.random.default_rng(0))
    v_star = mdp.value_iteration(gw.P, gw.R, 0.9).V
    np.testing.assert_allclose(mdp.policy_evaluation(gw.P, gw.R, res.policy, 0.9), v_star, atol=1e-6)
    np.testing.assert_allclose(res.V, v_star, atol=1e-5)  # returns truncated at 0.9^150


def test_greedy_without_exploring_starts_can_miss_the_optimum():
    # the reason for exploring starts / soft policies (Sec. 5.3-5.4): greedy episodes
    # from random states never try most actions; seed 0 ends far from v*.
    gw = GridWorld()
    res = mc.mc_epsilon_greedy(gw.P, gw.R, 0.9, 0.0, 150, 125, 15, np.random.default_rng(0))
    v_star = mdp.value_iteration(gw.P, gw.R, 0.9).V
    assert (v_star - mdp.policy_evaluation(gw.P, gw.R, res.policy, 0.9)).max() > 1.0


def test_history_shapes_and_visit_counts():
    gw = GridWorld()
    res = mc.mc_epsilon_greedy(gw.P, gw.R, 0.9, 0.3, 20, 10, 4, np.random.default_rng(0))
    h = res.history
    assert h.Q.shape == (5, 25, 5) and h.policy.shape == (5, 25, 5) and h.V.shape == (5, 25)
    assert res.visits.sum() == 4 * 10 * 20  # every step of every episode is one visit
    assert np.all(np.diff(h.visits.sum((1, 2))) == 200)
    np.testing.assert_allclose(h.policy.sum(-1), 1.0)


# --- issue 21: the block carry of discounted_returns, with the block honoured as passed ---------------


@pytest.mark.parametrize("block", [None, 7, 32, 100, 512, 700])
def test_discounted_returns_block_carry_gamma_0_9_long_episode(block):
    """T = 1,500 > 512 with gamma = 0.9: several blocks, so G carries across block ends."""
    r = np.random.default_rng(5).normal(size=(3, 1_500))
    G = mc.discounted_returns(r, 0.9, block=block)
    literal = np.empty_like(r)
    g = np.zeros(3)
    for t in range(r.shape[1] - 1, -1, -1):  # g <- gamma g + r_{t+1}
        g = 0.9 * g + r[:, t]
        literal[:, t] = g
    np.testing.assert_allclose(G, literal, rtol=1e-9, atol=1e-9)


def test_discounted_returns_rejects_a_block_that_would_underflow():
    with pytest.raises(ValueError):
        mc.discounted_returns(np.ones((1, 10)), 0.1, block=400)  # 0.1^399 underflows


# --- issue 19: the book's running averages Returns(s,a) / Num(s,a) over every episode ------------------


def literal_running_mc_epsilon_greedy(P, R, gamma, eps_k, T, n, K, rng, first_visit):
    """Book Algorithm 5.3 as written: episode by episode, backwards, Returns and Num kept since the start."""
    S, A = R.shape
    Q = np.zeros((S, A))
    returns, num = np.zeros((S, A)), np.zeros((S, A))
    policy = np.full((S, A), 1.0 / A)
    history = [Q.copy()]
    for k in range(K):
        starts = rng.integers(0, S, size=n)  # the same draws as mc_epsilon_greedy's make_starts
        ep = mc.simulate_episodes(P, R, policy, starts, None, T, rng)
        for i in range(n):
            g = 0.0
            pairs = list(zip(ep.states[i].tolist(), ep.actions[i].tolist(), strict=True))
            for t in range(T - 1, -1, -1):
                g = gamma * g + ep.rewards[i, t]
                s, a = pairs[t]
                if first_visit and (s, a) in pairs[:t]:
                    continue
                returns[s, a] += g
                num[s, a] += 1
        for s in range(S):
            for a in range(A):
                if num[s, a] > 0:
                    Q[s, a] = returns[s, a] / num[s, a]
        policy = mdp.epsilon_greedy_policy(Q, eps_k[k])
        history.append(Q.copy())
    return np.stack(history)


@pytest.mark.parametrize("first_visit", [False, True])
@pytest.mark.parametrize("n", [1, 5])
def test_running_average_matches_the_books_literal_loop(first_visit, n):
    gw = GridWorld(r_forbidden=-10)
    K = 6
    eps_k = mc.epsilon_schedule("harmonic", 0.5, K)
    res = mc.mc_epsilon_greedy(
        gw.P,
        gw.R,
        0.9,
        eps_k,
        30,
        n,
        K,
        np.random.default_rng(2),
        first_visit=first_visit,
        averaging="running",
    )
    lit = literal_running_mc_epsilon_greedy(
        gw.P, gw.R, 0.9, eps_k, 30, n, K, np.random.default_rng(2), first_visit
    )
    np.testing.assert_allclose(res.history.Q, lit, rtol=1e-12, atol=1e-12)


def test_running_and_batch_averages_differ_and_batch_forgets():
    """With more than one iteration the two estimators give different q; batch uses only the last batch."""
    gw = GridWorld(r_forbidden=-10)
    kw = dict(first_visit=False)
    a = mc.mc_epsilon_greedy(
        gw.P, gw.R, 0.9, 0.5, 30, 20, 4, np.random.default_rng(0), averaging="batch", **kw
    )
    b = mc.mc_epsilon_greedy(
        gw.P, gw.R, 0.9, 0.5, 30, 20, 4, np.random.default_rng(0), averaging="running", **kw
    )
    np.testing.assert_allclose(a.history.Q[1], b.history.Q[1])  # after one iteration they agree
    assert np.abs(a.history.Q[-1] - b.history.Q[-1]).max() > 0.1


def test_epsilon_schedules():
    np.testing.assert_allclose(mc.epsilon_schedule("harmonic", 0.6, 3), [0.6, 0.3, 0.2])
    np.testing.assert_allclose(mc.epsilon_schedule("linear", 0.6, 3), [0.4, 0.2, 0.0])
    np.testing.assert_allclose(mc.epsilon_schedule("constant", 0.6, 2), [0.6, 0.6])
    # the last improvement of a linear schedule is greedy: one action with probability 1 per state
    gw = GridWorld(r_forbidden=-10)
    res = mc.mc_epsilon_greedy(
        gw.P, gw.R, 0.9, mc.epsilon_schedule("linear", 0.5, 3), 50, 50, 3, np.random.default_rng(0)
    )
    np.testing.assert_allclose(res.policy.max(1), 1.0)
    # and the first one used eps_1 = 0.5 (1 - 1/3): the greedy action gets 1 - eps 4/5
    np.testing.assert_allclose(res.history.policy[1].max(1), 1 - (0.5 * 2 / 3) * 4 / 5)


def test_running_sample_mean_against_a_literal_average_and_the_model_mean():
    x, p = np.array([-1.0, 0.0, 1.0, 5.0]), np.array([0.2, 0.4, 0.3, 0.1])
    exact, path = mc.running_sample_mean(x, p, 20_000, np.random.default_rng(0))
    assert exact == pytest.approx(0.6)  # -0.2 + 0 + 0.3 + 0.5
    draws = x[np.random.default_rng(0).choice(4, size=20_000, p=p)]
    for k in (1, 10, 20_000):
        assert path[k - 1] == pytest.approx(sum(draws[:k]) / k)
    sd = np.sqrt(p @ (x - 0.6) ** 2)
    assert abs(path[-1] - 0.6) < 4 * sd / np.sqrt(20_000)
