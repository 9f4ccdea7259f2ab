"""core/rl_basics.py against literal loops, the book's Chapter-1 numbers and exact policy evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from core import mdp
from core import rl_basics as rb
from core.gridworld import BOOK_CH1_ARROWS_A, BOOK_CH1_ARROWS_B, BOOK_CH1_LAYOUT, GridWorld

CH1 = GridWorld.from_layout(BOOK_CH1_LAYOUT)
BOOK = GridWorld()  # the 5x5 grid of Chapters 2-5


def literal_rollout(P, R, policy, start, steps, u, terminal=()):
    """A plain loop with the same uniforms u[t] as rollout: first index whose cumulative sum reaches u."""
    s, states, actions, rewards = start, [start], [], []
    for t in range(steps):
        if s in terminal:
            break
        acc, a = 0.0, len(policy[s]) - 1
        for i, p in enumerate(policy[s]):
            acc += p
            if acc >= u[t][0]:
                a = i
                break
        acc, s2 = 0.0, len(P[s][a]) - 1
        for j, p in enumerate(P[s][a]):
            acc += p
            if acc >= u[t][1]:
                s2 = j
                break
        actions.append(a)
        rewards.append(R[s][a][s2] if np.ndim(R) == 3 else R[s][a])
        states.append(s2)
        s = s2
    return states, actions, rewards


@pytest.mark.parametrize("slip", [0.0, 0.3])
@pytest.mark.parametrize("terminal", [None, (8,)])
def test_rollout_matches_a_literal_loop(slip, terminal):
    model = rb.slip_model(CH1.P, CH1.R, slip)
    policy = rb.random_cell_policy(9, 5, np.random.default_rng(3))
    for seed in range(5):
        states, actions, rewards = rb.rollout(
            model.P, model.R_sas, policy, 0, 40, np.random.default_rng(seed), terminal
        )
        u = np.random.default_rng(seed).random((40, 2)).tolist()
        ls, la, lr = literal_rollout(
            model.P.tolist(), model.R_sas.tolist(), policy.tolist(), 0, 40, u, terminal or ()
        )
        assert states.tolist() == ls and actions.tolist() == la
        np.testing.assert_allclose(rewards, lr, atol=1e-12)


def test_discounted_return_is_the_literal_sum():
    rng = np.random.default_rng(0)
    r = rng.normal(size=37)
    for gamma in (0.0, 0.5, 0.9, 1.0):
        literal = 0.0
        for t, rt in enumerate(r):
            literal += gamma**t * rt
        assert rb.discounted_return(r, gamma) == pytest.approx(literal, abs=1e-12)


def test_book_chapter1_trajectory_return_and_gamma3_over_1_minus_gamma():
    """Zhao Sec. 1.6: s1 -a2-> s2 -a3-> s5 -a3-> s8 -a2-> s9, return 0+0+0+1 = 1 (eq. 1.1);
    staying on s9: 0 + g0 + g^2 0 + g^3 1 + g^4 1 + ... = g^3/(1-g) (eq. 1.3);
    Figure 1.6 (b) through the forbidden s7: return 0 - 1 + 0 + 1 = 0 (eq. 1.2)."""
    pol_a = rb.deterministic_policy(rb.parse_arrows(BOOK_CH1_ARROWS_A, 3, 3))
    s, a, r = rb.rollout(CH1.P, CH1.R, pol_a, 0, 4, np.random.default_rng(0))
    assert (s + 1).tolist() == [1, 2, 5, 8, 9] and (a + 1).tolist() == [2, 3, 3, 2]
    assert r.tolist() == [0, 0, 0, 1] and rb.discounted_return(r, 1.0) == 1
    pol_b = rb.deterministic_policy(rb.parse_arrows(BOOK_CH1_ARROWS_B, 3, 3))
    s, a, r = rb.rollout(CH1.P, CH1.R, pol_b, 0, 4, np.random.default_rng(0))
    assert (s + 1).tolist() == [1, 4, 7, 8, 9] and r.tolist() == [0, -1, 0, 1]
    assert rb.discounted_return(r, 1.0) == 0
    for gamma in (0.5, 0.9, 0.99):
        n = rb.horizon(gamma, 1e-13, cap=10_000)
        s, a, r = rb.rollout(CH1.P, CH1.R, pol_a, 0, n, np.random.default_rng(0))
        assert rb.discounted_return(r, gamma) == pytest.approx(gamma**3 / (1 - gamma), rel=1e-10)
        # and the exact state value of s1 under this policy is the same number
        assert mdp.policy_evaluation(CH1.P, CH1.R, pol_a, gamma)[0] == pytest.approx(gamma**3 / (1 - gamma))
    # episodic: the target ends the episode, the return is gamma^3 (one reward of +1)
    s, a, r = rb.rollout(CH1.P, CH1.R, pol_a, 0, 100, np.random.default_rng(0), terminal=[8])
    assert len(r) == 4 and rb.discounted_return(r, 0.9) == pytest.approx(0.9**3)


def test_return_terms_sum_up():
    terms, running = rb.return_terms(np.array([0, 0, 0, 1, 1.0]), 0.5)
    np.testing.assert_allclose(terms, [0, 0, 0, 0.125, 0.0625])
    np.testing.assert_allclose(running[-1], 0.1875)


@pytest.mark.parametrize("slip", [0.0, 0.1, 0.5, 1.0])
def test_rows_of_P_and_pi_sum_to_one(slip):
    for gw in (CH1, BOOK):
        m = rb.slip_model(gw.P, gw.R, slip)
        mdp.check_mdp(m.P, m.R)
        np.testing.assert_allclose(m.T.sum(1), 1.0)
        # expected reward = sum_s' p(s'|s,a) r(s,a,s')
        np.testing.assert_allclose((m.P * m.R_sas).sum(-1), m.R, atol=1e-12)
        # the landing reward is exact (a reward of the deterministic grid), not an average
        assert set(np.unique(m.R_sas[m.P > 0])) <= set(np.unique(gw.R))
    S = 25
    acts = np.random.default_rng(0).integers(0, 5, S)
    for pol in (
        rb.uniform_policy(S),
        rb.deterministic_policy(acts),
        rb.epsilon_arrows_policy(acts, 0.3),
        rb.random_cell_policy(S, 5, np.random.default_rng(1)),
    ):
        rb.check_policy(pol)


def test_slip_model_against_a_hand_count():
    """From s1 (top-left corner) intending 'right' with p = 0.3: right 0.7 -> s2; down 0.1 -> s4;
    up and left bounce (0.1 each) -> s1 with r_boundary. 'stay' never slips."""
    m = rb.slip_model(CH1.P, CH1.R, 0.3)
    np.testing.assert_allclose(m.P[0, 1, [0, 1, 3]], [0.2, 0.7, 0.1])
    assert m.R_sas[0, 1, 0] == -1 and m.R_sas[0, 1, 1] == 0
    assert m.R[0, 1] == pytest.approx(0.2 * -1)
    assert m.P[0, 4, 0] == 1.0
    # epsilon-arrows: the arrow gets 1 - eps + eps/5
    pol = rb.epsilon_arrows_policy(np.array([1]), 0.5)
    np.testing.assert_allclose(pol, [[0.1, 0.6, 0.1, 0.1, 0.1]])


@pytest.mark.parametrize("slip", [0.0, 0.2])
@pytest.mark.parametrize("gw", [CH1, BOOK], ids=["3x3", "5x5"])
def test_mc_mean_within_3_se_of_exact_value_uniform_policy(slip, gw):
    """Uniform random policy: the mean of 4,000 sampled discounted returns from s1 lies within
    3 standard errors of v_pi(s1) from the linear solve (I - gamma P_pi) v = r_pi."""
    gamma = 0.9
    m = rb.slip_model(gw.P, gw.R, slip)
    pol = rb.uniform_policy(gw.num_states)
    v = mdp.policy_evaluation(m.P, m.R, pol, gamma)
    steps = rb.horizon(gamma, 1e-8)  # truncation error < 1e-8 / (1 - gamma), far below the SE
    G = rb.sample_returns(m.P, m.R_sas, pol, 0, steps, 4_000, gamma, np.random.default_rng(7))
    se = G.std(ddof=1) / np.sqrt(len(G))
    assert abs(G.mean() - v[0]) < 3 * se, (G.mean(), v[0], se)
    assert se > 0


def test_episodic_mc_mean_matches_absorbing_evaluation():
    gamma = 0.9
    m = rb.slip_model(CH1.P, CH1.R, 0.1)
    pol = rb.uniform_policy(9)
    P2, R2 = rb.absorbing(m.P, m.R, [8])
    v = mdp.policy_evaluation(P2, R2, pol, gamma)
    G = rb.sample_returns(m.P, m.R_sas, pol, 0, 400, 4_000, gamma, np.random.default_rng(1), terminal=[8])
    se = G.std(ddof=1) / np.sqrt(len(G))
    assert abs(G.mean() - v[0]) < 3 * se
    assert v[8] == 0.0


def test_sample_returns_equals_rollouts_in_distribution_means():
    """sample_returns and rollout use the same rule; with deterministic moves and arrows both are exact."""
    pol = rb.deterministic_policy(rb.parse_arrows(BOOK_CH1_ARROWS_A, 3, 3))
    G = rb.sample_returns(CH1.P, CH1.R, pol, 0, 200, 5, 0.9, np.random.default_rng(0))
    s, a, r = rb.rollout(CH1.P, CH1.R, pol, 0, 200, np.random.default_rng(0))
    np.testing.assert_allclose(G, rb.discounted_return(r, 0.9), rtol=1e-12)


def test_markov_check_histories_agree_with_P():
    m = rb.slip_model(CH1.P, CH1.R, 0.3)
    pol = rb.uniform_policy(9)
    by_prev = rb.markov_check(m.P, m.R, pol, 4, 1, 30, 3_000, np.random.default_rng(0), start=0)
    assert len(by_prev) >= 2
    for dist in by_prev.values():
        np.testing.assert_allclose(dist.sum(), 1.0)
        assert np.abs(dist - m.P[4, 1]).max() < 0.08  # several hundred samples per history


def test_running_mean_band_against_numpy():
    x = np.random.default_rng(0).normal(size=50)
    mean, lo, hi = rb.running_mean_band(x, 2.0)
    for n in (2, 10, 50):
        se = x[:n].std(ddof=1) / np.sqrt(n)
        assert mean[n - 1] == pytest.approx(x[:n].mean())
        assert hi[n - 1] - mean[n - 1] == pytest.approx(2 * se)


def test_parse_arrows_errors_and_round_trip():
    acts = rb.parse_arrows("→↓←/rdd/RRS", 3, 3)
    assert rb.arrows_text(acts, 3) == "rdl/rdd/rrs"
    with pytest.raises(ValueError):
        rb.parse_arrows("rd/rdd/rrs", 3, 3)
    with pytest.raises(ValueError):
        rb.parse_arrows("rdx/rdd/rrs", 3, 3)
