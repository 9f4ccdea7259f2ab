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


def literal_running_mc_epsilon_greedy(P, R, gamma, eps_k, T, n, K, rng, first_visit, pi0=None):
    """Book Algorithm 5.3 as written: episode by episode, backwards, Returns and Num kept since the start."""
    S, A = R.shape
    Q = np.zeros((S, A))
    returns, num = np.zeros((S, A)), np.zeros((S, A))
    policy = np.full((S, A), 1.0 / A) if pi0 is None else pi0
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


# --- issue 21: mutation-testing survivors, each against a reference written here ----------------------


@pytest.mark.parametrize("N", [1, 2, 6])
def test_sample_categorical_is_the_first_cdf_entry_at_or_above_u(N):
    """Inverse-CDF sampling against Python's bisect_left (first index with cdf >= u, so a tie goes
    to the lower index), clamped to the last index when round-off leaves the cdf's last entry
    below u. Rows of a 4-way cdf; u on the entries themselves, between them and above the end."""
    from bisect import bisect_left

    cdf_rows = np.array([[0.2, 0.5, 0.9, 1.0], [0.0, 0.25, 0.25, 0.999], [0.1, 0.2, 0.7, 1.0 - 1e-16]])
    u_values = [0.0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 0.9, 0.95, 0.9995, 1.0 - 1e-17, 1.0]
    for u0 in u_values:
        for r0 in range(3):
            rows = np.array([cdf_rows[(r0 + n) % 3] for n in range(N)])
            u = np.array([u_values[(u_values.index(u0) + n) % len(u_values)] for n in range(N)])
            got = mc._sample_categorical(rows, u)
            want = [min(bisect_left(rows[n].tolist(), u[n]), 3) for n in range(N)]
            assert got.tolist() == want, (rows, u)


def test_epsilon_schedule_names_an_unknown_kind():
    with pytest.raises(ValueError, match=r"^unknown schedule 'cosine'; expected one of \('constant', 'harmonic', 'linear'\)$"):
        mc.epsilon_schedule("cosine", 0.5, 3)


def test_mc_basic_runs_one_episode_per_pair_by_default_and_n_when_asked():
    """Algorithm 5.1: each iteration starts episodes_per_pair episodes (default 1) from every (s, a),
    so K iterations of length T visit K * S * A * n * T pairs; each pair starts n episodes."""
    gw = GridWorld()
    for n, kw in ((1, {}), (3, {"episodes_per_pair": 3})):
        res = mc.mc_basic(gw.P, gw.R, 0.9, episode_length=4, iterations=2, rng=np.random.default_rng(0), **kw)
        assert res.visits.sum() == 2 * 125 * n * 4
        assert res.visits.min() >= 2 * n  # every pair started n episodes in each of the 2 iterations


def literal_mc_basic(gw, gamma, T, K, pi0, running):
    """Book Algorithm 5.1 on a deterministic grid with deterministic policies, by hand: the episode
    from (s, a) is one path, so q_k(s, a) = sum_{t<T} gamma^t r_{t+1} along it (a_t = pi_k(s_t), t >= 1);
    "running" averages the K returns seen so far (one per iteration), "batch" keeps the last."""
    S, A = gw.R.shape
    policy, Q, sums = pi0, np.zeros((S, A)), np.zeros((S, A))
    history = [Q]
    for k in range(K):
        act = policy.argmax(1)
        q = np.zeros((S, A))
        for s in range(S):
            for a in range(A):
                g, s_t, a_t = 0.0, s, a
                for t in range(T):
                    g += gamma**t * gw.R[s_t, a_t]
                    s_t = gw.next_state[s_t, a_t]
                    a_t = act[s_t]
                q[s, a] = g
        sums = sums + q
        Q = sums / (k + 1) if running else q
        policy = mdp.greedy_policy(Q)
        history.append(Q)
    return np.stack(history), policy


@pytest.mark.parametrize("averaging", ["batch", "running"])
def test_mc_basic_against_a_literal_loop_from_a_given_policy(averaging):
    """MC Basic from pi_0 = "stay everywhere" (not the uniform default), 5-step episodes, 3 iterations:
    every q_k and the final policy equal the hand loop; progress reports k/K after iteration k."""
    gw = GridWorld(r_forbidden=-10)
    pi0 = np.zeros((25, 5))
    pi0[:, 4] = 1.0  # stay
    seen = []
    res = mc.mc_basic(
        gw.P,
        gw.R,
        0.9,
        5,
        3,
        np.random.default_rng(0),
        initial_policy=pi0,
        progress=seen.append,
        averaging=averaging,
    )
    Q_lit, pi_lit = literal_mc_basic(gw, 0.9, 5, 3, pi0, averaging == "running")
    np.testing.assert_allclose(res.history.Q, Q_lit, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.policy, pi_lit)
    np.testing.assert_array_equal(res.history.policy[0], pi0)
    assert seen == [1 / 3, 2 / 3, 1.0]
    # the two averages differ here (the policy changes between iterations), so the test tells them apart
    other = literal_mc_basic(gw, 0.9, 5, 3, pi0, averaging != "running")[0]
    assert np.abs(other[-1] - Q_lit[-1]).max() > 0.1


def test_zero_iterations_return_the_initial_policy_and_zero_values():
    gw = GridWorld()
    pi0 = mdp.epsilon_greedy_policy(np.random.default_rng(0).normal(size=(25, 5)), 0.2)
    res = mc.mc_epsilon_greedy(gw.P, gw.R, 0.9, 0.1, 5, 3, 0, np.random.default_rng(0), initial_policy=pi0)
    np.testing.assert_array_equal(res.policy, pi0)
    assert np.all(res.Q == 0) and np.all(res.V == 0) and res.visits.sum() == 0
    assert res.history.Q.shape == (1, 25, 5)


def literal_path(gw, s, a, act, T):
    """The deterministic episode from (s, a) following the actions act[s] afterwards: (s_t, a_t, r_{t+1})."""
    path = []
    for _ in range(T):
        path.append((s, a, gw.R[s, a]))
        s = gw.next_state[s, a]
        a = act[s]
    return path


def literal_sums_counts(paths, gamma, first_visit, S=25, A=5):
    """Sutton & Barto Sec. 5.1 by hand: backwards g <- gamma g + r; a first visit is a pair not seen earlier."""
    sums, counts = np.zeros((S, A)), np.zeros((S, A))
    for path in paths:
        g = 0.0
        for t in range(len(path) - 1, -1, -1):
            s, a, r = path[t]
            g = gamma * g + r
            if first_visit and any((s, a) == (x, y) for x, y, _ in path[:t]):
                continue
            sums[s, a] += g
            counts[s, a] += 1
    return sums, counts


@pytest.mark.parametrize("first_visit", [False, True])
@pytest.mark.parametrize("averaging", ["batch", "running"])
def test_exploring_starts_against_a_literal_loop(first_visit, averaging):
    """125 episodes per iteration on the 5x5 grid: one exploring start from every (s, a), no randomness
    left with greedy policies on deterministic moves, so every q_k is the hand loop's (first or every
    visit, this batch's or all returns so far), from pi_0 = "stay"; progress reports k/K."""
    gw = GridWorld(r_forbidden=-10)
    pi0 = np.zeros((25, 5))
    pi0[:, 4] = 1.0
    seen = []
    res = mc.mc_exploring_starts(
        gw.P, gw.R, 0.9, 6, 125, 3, np.random.default_rng(0), first_visit=first_visit,
        initial_policy=pi0, progress=seen.append, averaging=averaging,
    )  # fmt: skip
    policy, Q = pi0, np.zeros((25, 5))
    tot_s, tot_n = np.zeros((25, 5)), np.zeros((25, 5))
    for k in range(3):
        act = policy.argmax(1)
        paths = [literal_path(gw, s, a, act, 6) for s in range(25) for a in range(5)]
        sums, counts = literal_sums_counts(paths, 0.9, first_visit)
        if averaging == "running":
            tot_s, tot_n = tot_s + sums, tot_n + counts
            sums, counts = tot_s, tot_n
        Q = Q.copy()
        Q[counts > 0] = sums[counts > 0] / counts[counts > 0]
        np.testing.assert_allclose(res.history.Q[k + 1], Q, rtol=0, atol=1e-12)
        policy = mdp.greedy_policy(Q)
        np.testing.assert_array_equal(res.history.policy[k + 1], policy)
        np.testing.assert_allclose(res.history.V[k + 1], (policy * Q).sum(1), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.history.policy[0], pi0)
    assert seen == [1 / 3, 2 / 3, 1.0]
    # the result is the last iteration's: q_K, pi_K and v(s) = sum_a pi_K(a|s) q_K(s, a)
    np.testing.assert_allclose(res.Q, Q, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(res.policy, policy)
    np.testing.assert_allclose(res.V, (policy * Q).sum(1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("first_visit", [None, True])
def test_mc_policy_evaluation_against_a_literal_loop(first_visit):
    """A greedy (deterministic) policy on deterministic moves: each episode is one path from a uniformly
    drawn start (the generator's first draw, integers(0, S)); Q and counts equal the hand loop's, every
    visit by default. Unvisited pairs are NaN, without a numpy warning."""
    import warnings

    gw = GridWorld(r_forbidden=-10)
    pi = mdp.greedy_policy(mdp.q_values(gw.P, gw.R, mdp.value_iteration(gw.P, gw.R, 0.9).V, 0.9))
    kw = {} if first_visit is None else {"first_visit": first_visit}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Q, n = mc.mc_policy_evaluation(gw.P, gw.R, pi, 0.9, 12, 60, np.random.default_rng(0), **kw)
    starts = np.random.default_rng(0).integers(0, 25, size=60)
    assert np.sum(starts == 0) > 0  # state 0 starts an episode too
    act = pi.argmax(1)
    paths = [literal_path(gw, s, act[s], act, 12) for s in starts]
    sums, counts = literal_sums_counts(paths, 0.9, bool(first_visit))
    np.testing.assert_array_equal(n, counts)
    seen = counts > 0
    np.testing.assert_allclose(Q[seen], sums[seen] / counts[seen], rtol=0, atol=1e-12)
    assert np.isnan(Q[~seen]).all() and (~seen).any()


def test_mc_epsilon_greedy_defaults_to_every_visit_and_starts_from_the_given_policy():
    """No first_visit argument: every visit (Algorithm 5.3), against the literal loop; from a given
    pi_0 (epsilon-greedy around "stay"), with progress k/K after each iteration."""
    gw = GridWorld(r_forbidden=-10)
    stay = np.zeros((25, 5))
    stay[:, 4] = 1.0
    pi0 = mdp.epsilon_greedy_policy(stay, 0.3)
    eps_k = mc.epsilon_schedule("constant", 0.4, 3)
    seen = []
    res = mc.mc_epsilon_greedy(
        gw.P, gw.R, 0.9, eps_k, 20, 4, 3, np.random.default_rng(1), initial_policy=pi0,
        progress=seen.append, averaging="running",
    )  # fmt: skip
    lit = literal_running_mc_epsilon_greedy(
        gw.P, gw.R, 0.9, eps_k, 20, 4, 3, np.random.default_rng(1), False, pi0
    )
    np.testing.assert_allclose(res.history.Q, lit, rtol=1e-12, atol=1e-12)
    assert seen == [1 / 3, 2 / 3, 1.0]


def test_epsilon_one_improves_to_the_uniform_policy():
    """eq. (5.5) at eps = 1: 1 - 1 * (|A| - 1)/|A| = 1/|A| for the greedy action and 1/|A| for the others."""
    gw = GridWorld()
    res = mc.mc_epsilon_greedy(gw.P, gw.R, 0.9, 1.0, 10, 5, 2, np.random.default_rng(0))
    np.testing.assert_allclose(res.history.policy, 0.2, rtol=0, atol=1e-15)


def test_run_arguments_are_checked_with_their_messages():
    gw = GridWorld()
    rng = np.random.default_rng(0)
    msg = "^episode_length must be >= 1 and iterations >= 0$"
    with pytest.raises(ValueError, match=msg):
        mc.mc_epsilon_greedy(gw.P, gw.R, 0.9, 0.1, 0, 2, 3, rng)  # episode_length 0
    with pytest.raises(ValueError, match=msg):
        mc.mc_exploring_starts(gw.P, gw.R, 0.9, 5, 2, -1, rng)  # iterations -1
    with pytest.raises(ValueError, match=r"^averaging must be 'batch' or 'running', got 'mean'$"):
        mc.mc_basic(gw.P, gw.R, 0.9, 5, 1, rng, averaging="mean")
    # the smallest allowed: one step, zero or one iteration; visit counts stay integers
    res = mc.mc_basic(gw.P, gw.R, 0.9, 1, 1, rng)
    np.testing.assert_array_equal(res.Q, gw.R)  # a one-step return is the reward: q(s, a) = r(s, a)
    assert res.visits.dtype == np.int64 and res.history.visits.dtype == np.int64
    assert mc.mc_basic(gw.P, gw.R, 0.9, 1, 0, rng).history.Q.shape == (1, 25, 5)


def test_an_integer_initial_policy_is_read_as_probabilities():
    """pi_0 given as plain 0/1 ints ("stay" everywhere): taken as floats, so one iteration of 2-step
    MC Basic gives q(s, a) = r(s, a) + 0.9 r(s', stay) by hand."""
    gw = GridWorld(r_forbidden=-10)
    pi0 = [[0, 0, 0, 0, 1]] * 25
    res = mc.mc_basic(gw.P, gw.R, 0.9, 2, 1, np.random.default_rng(0), initial_policy=pi0)
    want = gw.R + 0.9 * gw.R[gw.next_state, 4]
    np.testing.assert_allclose(res.Q, want, rtol=0, atol=1e-12)
    assert res.history.policy.dtype == np.float64


def test_mc_basic_with_no_episodes_keeps_its_initial_estimate():
    """episodes_per_pair = 0: no returns sampled, so no visits and q stays at its initial 0 (no crash)."""
    gw = GridWorld()
    res = mc.mc_basic(gw.P, gw.R, 0.9, 5, 2, np.random.default_rng(0), episodes_per_pair=0)
    assert res.visits.sum() == 0 and np.all(res.history.Q == 0)


def test_first_visit_mask_with_more_episodes_than_pairs_and_with_none():
    """40 episodes over 2 states x 2 actions (more episodes than pairs): the first visits of each
    episode are its own, against a literal loop; a batch of no episodes gives an empty mask."""
    rng = np.random.default_rng(1)
    ep = mc.Episodes(rng.integers(0, 2, (40, 6)), rng.integers(0, 2, (40, 6)), np.zeros((40, 6)))
    mask = mc.visit_mask(ep, 2, first_visit=True)
    for n in range(40):
        pairs = list(zip(ep.states[n].tolist(), ep.actions[n].tolist(), strict=True))
        assert mask[n].tolist() == [pairs[t] not in pairs[:t] for t in range(6)]
    empty = mc.Episodes(np.zeros((0, 6), dtype=int), np.zeros((0, 6), dtype=int), np.zeros((0, 6)))
    assert mc.visit_mask(empty, 2, first_visit=True).shape == (0, 6)


def literal_episodes(P, R, policy, s0, a0, u_action, u_next):
    """Inverse-CDF sampling written out with Python's bisect_left (first cdf entry >= u, clamped to the
    last index): a_t from u_action[n, t] (a_0 given if a0 is not None), s_{t+1} from u_next[n, t]."""
    from bisect import bisect_left
    from itertools import accumulate

    N, T = u_action.shape
    S, A = R.shape
    pi_cdf = [list(accumulate(policy[s].tolist())) for s in range(S)]
    states, actions = np.zeros((N, T), dtype=int), np.zeros((N, T), dtype=int)
    for n in range(N):
        s = int(s0[n])
        for t in range(T):
            a = (
                int(a0[n])
                if (t == 0 and a0 is not None)
                else min(bisect_left(pi_cdf[s], u_action[n, t]), A - 1)
            )
            states[n, t], actions[n, t] = s, a
            if u_next is None:  # deterministic moves
                s = int(P[s, a].argmax())
            else:
                s = min(bisect_left(list(accumulate(P[s, a].tolist())), u_next[n, t]), S - 1)
    return states, actions, R[states, actions]


@pytest.mark.parametrize("N", [2, 6])
def test_episodes_against_literal_inverse_cdf_sampling_deterministic_model(N):
    """Deterministic grid, an epsilon-greedy policy: two batches drawn one after the other from one
    generator are the literal rule applied to its uniforms, N x T for the actions and nothing for the
    moves (no uniform is spent on a deterministic move). N = 2 takes the few-episode path, 6 the batch."""
    gw = GridWorld()
    pi = mdp.epsilon_greedy_policy(np.random.default_rng(2).normal(size=(25, 5)), 0.6)
    rng, ref = np.random.default_rng(7), np.random.default_rng(7)
    starts, a0 = np.arange(N) * 4, np.arange(N) % 5
    for first in (a0, None):
        ep = mc.simulate_episodes(gw.P, gw.R, pi, starts, first, 30, rng)
        s, a, r = literal_episodes(gw.P, gw.R, pi, starts, first, ref.random((N, 30)), None)
        np.testing.assert_array_equal(ep.states, s)
        np.testing.assert_array_equal(ep.actions, a)
        np.testing.assert_array_equal(ep.rewards, r)


@pytest.mark.parametrize("N", [3, 5])
def test_episodes_against_literal_inverse_cdf_sampling_stochastic_model(N):
    """A random stochastic model: N x T uniforms for the actions, then N x T for the moves
    (also for N <= 4 episodes, where a deterministic model would take the few-episode path)."""
    rng0 = np.random.default_rng(3)
    P = rng0.dirichlet(np.ones(4), size=(4, 3))
    R = rng0.normal(size=(4, 3))
    pi = rng0.dirichlet(np.ones(3), size=4)
    starts = np.array([0, 1, 2, 3, 0])[:N]
    rng, ref = np.random.default_rng(8), np.random.default_rng(8)
    ep = mc.simulate_episodes(P, R, pi, starts, None, 25, rng)
    u_a = ref.random((N, 25))
    s, a, r = literal_episodes(P, R, pi, starts, None, u_a, ref.random((N, 25)))
    np.testing.assert_array_equal(ep.states, s)
    np.testing.assert_array_equal(ep.actions, a)
    np.testing.assert_array_equal(ep.rewards, r)


def test_both_simulation_paths_break_ties_to_the_lower_action():
    """u exactly on a cdf entry (pi = 1/4, 1/4, 1/2 on every state: cdf 0.25, 0.5, 1): both code paths
    take the first action whose cdf >= u, as bisect_left does; u = 0 picks action 0."""
    gw = GridWorld(rows=1, cols=3, target=(0, 2), forbidden=[])
    pi = np.tile([0.25, 0.25, 0.0, 0.0, 0.5], (3, 1))  # cdf 0.25, 0.5, 0.5, 0.5, 1
    u = np.array([[0.0, 0.25, 0.5, 0.75, 0.25, 0.5]] * 3)
    s0 = np.array([0, 1, 2])
    want_s, want_a, _ = literal_episodes(gw.P, gw.R, pi, s0, None, u, None)
    assert want_a[0].tolist() == [0, 0, 1, 4, 0, 1]
    cdf = np.cumsum(pi, -1)
    cdf[:, -1] = np.inf
    for s, a in (
        mc._simulate_batch(gw.P, cdf, s0, None, u, None, True),
        mc._simulate_few(gw.P.argmax(-1), cdf, s0, None, u),
    ):
        np.testing.assert_array_equal(s, want_s)
        np.testing.assert_array_equal(a, want_a)


def test_start_states_and_actions_given_as_floats_are_indices():
    """Whole numbers stored as floats (as a table or JSON may give them) are read as indices."""
    gw = GridWorld()
    pi = mdp.epsilon_greedy_policy(np.random.default_rng(2).normal(size=(25, 5)), 0.6)
    starts, a0 = np.arange(6) * 4, np.arange(6) % 5
    a = mc.simulate_episodes(
        gw.P, gw.R, pi, starts.astype(float), a0.astype(float), 10, np.random.default_rng(0)
    )
    b = mc.simulate_episodes(gw.P, gw.R, pi, starts, a0, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.actions, b.actions)


@pytest.mark.parametrize("gamma", [1e-7, 0.0])
def test_discounted_returns_with_a_tiny_gamma_keep_the_discounted_tail(gamma):
    """gamma < 1e-6 takes the plain backward loop: with r = (1, 1e6, 1e12, 0, 5) the later rewards still
    count, G_0 = 1 + 1e-7 (1e6 + 1e-7 (1e12 + ...)) = 1.11, against the literal loop (rtol 1e-12)."""
    r = np.array([[1.0, 1e6, 1e12, 0.0, 5.0], [2.0, 0.0, 0.0, 0.0, 3e20]])
    G = mc.discounted_returns(r, gamma)
    for n in range(2):
        g, want = 0.0, []
        for t in range(4, -1, -1):
            g = r[n, t] + gamma * g
            want.append(g)
        np.testing.assert_allclose(G[n], want[::-1], rtol=1e-12, atol=0)
    if gamma > 0:
        assert G[0, 0] == pytest.approx(1.0 + 0.1 + 0.01, rel=1e-12)


@pytest.mark.parametrize("gamma", [1e-5, 0.01, 0.3, 0.99, 1.0])
def test_discounted_returns_default_block_for_any_gamma(gamma):
    """block=None over T = 700 steps (more than any default block): the literal backward loop (rtol 1e-9,
    atol 1e-9), for discounts whose powers underflow within 512 steps too, with no numpy warning."""
    import warnings

    r = np.random.default_rng(6).normal(size=(2, 700))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        G = mc.discounted_returns(r, gamma)
    g, want = np.zeros(2), np.empty_like(r)
    for t in range(699, -1, -1):
        g = r[:, t] + gamma * g
        want[:, t] = g
    np.testing.assert_allclose(G, want, rtol=1e-9, atol=1e-9)


def test_discounted_returns_honour_any_usable_block_and_reject_the_first_unusable():
    """A block passed in is used as given from 1 step up to the last one whose gamma^(block-1) stays
    >= 1e-250 (gamma = 0.5: 0.5^830 = 1.4e-250, so 831 is used, 832 raises); literal loop, rtol 1e-9."""
    r = np.random.default_rng(9).normal(size=(2, 900))
    for gamma, block in ((0.9, 1), (0.5, 831)):
        G = mc.discounted_returns(r, gamma, block=block)
        g, want = np.zeros(2), np.empty_like(r)
        for t in range(899, -1, -1):
            g = r[:, t] + gamma * g
            want[:, t] = g
        np.testing.assert_allclose(G, want, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="^block 832 is not usable with gamma 0.5$"):
        mc.discounted_returns(r, 0.5, block=832)
    with pytest.raises(ValueError, match="^block 0 is not usable with gamma 0.5$"):
        mc.discounted_returns(r, 0.5, block=0)
