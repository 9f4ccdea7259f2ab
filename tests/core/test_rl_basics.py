"""core/rl_basics.py against literal loops, the book's Chapter-1 numbers and exact policy evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from core import mdp
from core import rl_basics as rb
from core.gridworld import BOOK_CH1_ARROWS_A, BOOK_CH1_ARROWS_B, BOOK_CH1_LAYOUT, GridWorld

CH1 = GridWorld.from_layout(BOOK_CH1_LAYOUT)
BOOK = GridWorld()  # the 5x5 grid of Chapters 2-5


def first_reaching(probs, u):
    """The literal inverse-CDF rule: the first index whose running sum of probabilities is >= u
    (the last index catches all)."""
    acc = 0.0
    for i, p in enumerate(probs[:-1]):
        acc += p
        if acc >= u:
            return i
    return len(probs) - 1


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


# ---- issue 21: what mutation testing found unpinned ----


def literal_sample_returns(P, R, policy, start, steps, num, gamma, rng, terminal=()):
    """Every episode by a plain loop with the same uniforms: rng.random((num, 2)) per step while any runs;
    the action / next state is the first index whose cumulative probability is >= u (the last catches all)."""

    s, alive, G = [start] * num, [start not in terminal] * num, [0.0] * num
    for t in range(steps):
        if not any(alive):
            break
        u = rng.random((num, 2))
        for e in range(num):
            a = first_reaching(policy[s[e]], u[e, 0])
            s2 = first_reaching(P[s[e]][a], u[e, 1])
            r = R[s[e]][a][s2] if np.ndim(R) == 3 else R[s[e]][a]
            if alive[e]:
                G[e] += gamma**t * r
                s[e] = s2
                alive[e] = s2 not in terminal
    return np.array(G)


@pytest.mark.parametrize("slip, terminal", [(0.0, ()), (0.0, (8,)), (0.3, ()), (0.3, (8,))])
def test_sample_returns_against_a_literal_loop(slip, terminal):
    m = rb.slip_model(CH1.P, CH1.R, slip)
    pol = rb.random_cell_policy(9, 5, np.random.default_rng(2))
    G = rb.sample_returns(m.P, m.R_sas, pol, 0, 12, 7, 0.8, np.random.default_rng(4), terminal=terminal or None)
    lit = literal_sample_returns(m.P, m.R_sas, pol, 0, 12, 7, 0.8, np.random.default_rng(4), terminal)
    np.testing.assert_allclose(G, lit, rtol=0, atol=1e-12)
    # R of shape (S, A): the expected reward of the step
    G = rb.sample_returns(m.P, m.R, pol, 0, 12, 7, 0.8, np.random.default_rng(4), terminal=terminal or None)
    lit = literal_sample_returns(m.P, m.R, pol, 0, 12, 7, 0.8, np.random.default_rng(4), terminal)
    np.testing.assert_allclose(G, lit, rtol=0, atol=1e-12)


def test_sample_returns_episodes_end_and_start_in_terminal():
    """Arrows of Fig. 1.6 (a) with s9 terminal: every episode ends after 4 steps with G = gamma^3;
    a start in the terminal state gives G = 0; steps = 0 gives G = 0."""
    pol = rb.deterministic_policy(rb.parse_arrows(BOOK_CH1_ARROWS_A, 3, 3))
    G = rb.sample_returns(CH1.P, CH1.R, pol, 0, 50, 3, 0.5, np.random.default_rng(0), terminal=np.array([8]))
    np.testing.assert_allclose(G, [0.125] * 3, rtol=0, atol=1e-15)
    G = rb.sample_returns(CH1.P, CH1.R, pol, 8, 50, 2, 0.5, np.random.default_rng(0), terminal=[8])
    np.testing.assert_array_equal(G, [0.0, 0.0])
    G = rb.sample_returns(CH1.P, CH1.R, pol, 0, 0, 2, 0.5, np.random.default_rng(0))
    np.testing.assert_array_equal(G, [0.0, 0.0])


class _Uniforms:
    """A stand-in generator returning given uniforms (legal rng.random values) in order."""

    def __init__(self, rows):
        self.rows = np.asarray(rows, dtype=float)

    def random(self, shape):
        out = np.resize(self.rows, shape)
        return out


def test_sampling_at_the_edges_of_the_cdf():
    """u equal to a cumulative probability picks that action (cdf reaches u); u just below 1 with rows whose
    cumulative sum rounds below 1 still picks the last index, in rollout, sample_returns and markov_check."""
    P = np.zeros((3, 3, 3))
    P[:, :, :] = [0.1, 0.2, 0.7]
    R = np.arange(9.0).reshape(3, 3)
    pol = np.tile([0.5, 0.25, 0.25], (3, 1))
    # u = (0.5, 0.3): action 0 (cdf 0.5 reaches 0.5), next state 1 (0.1 < 0.3 <= 0.3)
    s, a, r = rb.rollout(P, R, pol, 0, 1, _Uniforms([[0.5, 0.30000000000000004]]))
    assert a.tolist() == [0] and s.tolist() == [0, 1] and r.tolist() == [0.0]
    top = np.nextafter(1.0, 0.0)
    seventh = np.full((7, 7), 1 / 7)  # cumsum of seven 1/7 is 0.9999999999999998 < top
    assert np.cumsum(seventh[0])[-1] < top
    P7 = np.full((7, 7, 7), 1 / 7)
    s, a, r = rb.rollout(P7, np.zeros((7, 7)), seventh, 0, 1, _Uniforms([[top, top]]))
    assert a.tolist() == [6] and s.tolist() == [0, 6]
    R7 = np.zeros((7, 7))
    R7[0, 6] = 5.0
    G = rb.sample_returns(P7, R7, seventh, 0, 1, 2, 0.9, _Uniforms([[top, top]]))
    np.testing.assert_array_equal(G, [5.0, 5.0])
    got = rb.markov_check(P7, R7, seventh, 6, 6, 3, 1, _Uniforms([[top, top]]), start=0)
    assert sorted(got) == [0, 6]  # 0 -> 6 -> 6 -> 6: (6, 6) is visited after 0 and after 6
    assert got[0].tolist() == got[6].tolist() == [0, 0, 0, 0, 0, 0, 1.0]


def test_check_policy_rejects_what_is_not_a_distribution():
    rb.check_policy(np.array([[0.5, 0.5], [1.0, 0.0]]))
    rb.check_policy(np.array([[1.0 + 5e-10, -5e-10]]))  # round-off within atol = 1e-9 is accepted
    for bad in (np.array([[1.5, -0.5]]), np.array([[0.5, 0.4]]), np.array([0.5, 0.5]), np.array([[1.0, -2e-9]]) + [[2e-9, 0]]):
        with pytest.raises(ValueError, match=r"^every row pi\(\.\|s\) must be a probability distribution$"):
            rb.check_policy(bad)
    with pytest.raises(ValueError):
        rb.check_policy(np.array([[1.0 + 5e-7, -5e-7]]), atol=1e-7)
    rb.check_policy(np.array([[1.0 + 5e-8, -5e-8]]), atol=1e-7)
    rb.check_policy(np.array([[1.0 + 1e-9, -1e-9]]))  # exactly -atol is still allowed
    rb.check_policy(np.array([[0.5, 0.55]]), atol=0.1)  # atol also bounds the row sums
    with pytest.raises(ValueError):
        rb.check_policy(np.array([[0.5, 0.55]]), atol=0.01)


def test_slip_matrix_by_hand():
    np.testing.assert_allclose(rb.slip_matrix(5, 0.0), np.eye(5), atol=0)
    T = rb.slip_matrix(5, 1.0)
    assert np.all(np.diag(T)[:4] == 0) and T[4, 4] == 1.0 and np.allclose(T[0], [0, 1 / 3, 1 / 3, 1 / 3, 0])
    # 3 actions with "stay" = 0: moves 1 and 2 swap with p / 1
    np.testing.assert_allclose(rb.slip_matrix(3, 0.25, stay=0), [[1, 0, 0], [0, 0.75, 0.25], [0, 0.25, 0.75]], atol=1e-15)
    for slip in (-0.1, 1.5):
        with pytest.raises(ValueError, match=rf"^slip must be in \[0, 1\], got {slip}$"):
            rb.slip_matrix(5, slip)


def test_slip_model_with_another_stay_and_its_error():
    """A 1-D corridor of 2 cells, actions (stay, left, right): right from cell 0 slips left (bounce) w.p. 0.4."""
    P = np.zeros((2, 3, 2))
    P[0, 0, 0] = P[0, 1, 0] = P[0, 2, 1] = 1.0
    P[1, 0, 1] = P[1, 1, 0] = P[1, 2, 1] = 1.0
    R = np.array([[0.0, -1.0, 2.0], [0.0, 3.0, -1.0]])
    m = rb.slip_model(P, R, 0.4, stay=0)
    np.testing.assert_allclose(m.P[0, 2], [0.4, 0.6], atol=1e-15)
    np.testing.assert_allclose(m.R[0, 2], 0.6 * 2.0 + 0.4 * -1.0, atol=1e-15)
    np.testing.assert_allclose(m.R_sas[0, 2], [-1.0, 2.0], atol=1e-15)
    np.testing.assert_allclose(m.P[0, 0], [1.0, 0.0], atol=0)
    assert m.R_sas[0, 0, 1] == 0.0  # never lands there: 0, not 0/0
    with pytest.raises(ValueError, match="^slip_model expects the deterministic moves of the grid$"):
        rb.slip_model(m.P, m.R, 0.1, stay=0)


@pytest.mark.parametrize("terminal", [[1], (1,), np.array([1]), {1}])
def test_absorbing_by_hand(terminal):
    P = np.full((3, 2, 3), 1 / 3)
    R = np.arange(6.0).reshape(3, 2)
    P2, R2 = rb.absorbing(P, R, terminal)
    np.testing.assert_array_equal(P2[1], [[0, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(R2[1], [0, 0])
    np.testing.assert_array_equal(P2[[0, 2]], P[[0, 2]])
    np.testing.assert_array_equal(R2[[0, 2]], R[[0, 2]])
    assert P[1, 0, 0] == 1 / 3 and R[1, 0] == 2.0  # inputs untouched
    R3 = np.ones((3, 2, 3))
    _, R3b = rb.absorbing(P, R3, terminal)
    assert np.all(R3b[1] == 0) and np.all(R3b[[0, 2]] == 1) and np.all(R3 == 1)


def test_horizon_by_hand():
    assert rb.horizon(0.9) == 88  # ceil(ln 1e-4 / ln 0.9) = ceil(87.4): the default tol is 1e-4
    assert rb.horizon(0.5, tol=0.01) == 7  # 0.5^7 = 0.0078 < 0.01 <= 0.5^6
    assert rb.horizon(0.9, tol=0.99) == 1  # ceil(0.095) = 1
    assert rb.horizon(0.9999) == 2000 and rb.horizon(0.9999, cap=50) == 50  # the default cap is 2000
    assert rb.horizon(0.0) == 1 and rb.horizon(-0.5) == 1
    assert rb.horizon(1.0) == 2000 and rb.horizon(1.0, cap=7) == 7 and rb.horizon(1.2) == 2000
    assert isinstance(rb.horizon(0.9), int)


def test_return_terms_and_running_band_by_hand():
    terms, running = rb.return_terms([2, 4, 8], 0.5)
    np.testing.assert_allclose(terms, [2.0, 2.0, 2.0], atol=0)
    np.testing.assert_allclose(running, [2.0, 4.0, 6.0], atol=0)
    assert rb.discounted_return([1, 1, 1], 0.5) == 1.75
    mean, lo, hi = rb.running_mean_band([1.0, 3.0, 5.0])
    np.testing.assert_allclose(mean, [1.0, 2.0, 3.0], atol=1e-15)
    # sd of (1, 3) = sqrt(2), SE = 1; sd of (1, 3, 5) = 2, SE = 2 / sqrt(3); n = 1: no spread; z = 2 by default
    np.testing.assert_allclose(hi - mean, [0.0, 2.0, 4 / 3**0.5], atol=1e-12)
    np.testing.assert_allclose(mean - lo, [0.0, 2.0, 4 / 3**0.5], atol=1e-12)
    mean, lo, hi = rb.running_mean_band([2.0, 2.0], z=3.0)  # zero spread, never negative variance
    np.testing.assert_array_equal(lo, mean) and np.testing.assert_array_equal(hi, mean)


def test_next_state_distribution_is_the_row_of_the_last_pair():
    m = rb.slip_model(CH1.P, CH1.R, 0.2)
    d = rb.next_state_distribution(m.P, [(0, 0), (3, 2), (4, 1)])
    np.testing.assert_array_equal(d, m.P[4, 1])
    d[:] = -1  # a copy: the model is not changed
    assert m.P[4, 1].min() >= 0


def literal_markov_counts(P, policy, state, action, steps, num, rng, start):
    S = len(P)
    counts = np.zeros((S, S))
    s, prev = [start] * num, [-1] * num
    for _ in range(steps):
        u = rng.random((num, 2))
        for e in range(num):
            a = first_reaching(policy[s[e]], u[e, 0])
            s2 = first_reaching(P[s[e]][a], u[e, 1])
            if s[e] == state and a == action and prev[e] >= 0:
                counts[prev[e], s2] += 1
            prev[e], s[e] = s[e], s2
    return counts


def test_markov_check_against_a_literal_loop():
    m = rb.slip_model(CH1.P, CH1.R, 0.3)
    pol = rb.uniform_policy(9)
    # s8 moving right: lands in s9, the last state, w.p. 0.7 (so the last cumulative entry matters)
    got = rb.markov_check(m.P, m.R, pol, 7, 1, 20, 150, np.random.default_rng(6), start=0)
    counts = literal_markov_counts(m.P, pol, 7, 1, 20, 150, np.random.default_rng(6), 0)
    assert counts[:, 8].sum() > 20 and len(got) >= 3
    assert sorted(got) == [p for p in range(9) if counts[p].sum() > 0]
    for p, dist in got.items():
        np.testing.assert_allclose(dist, counts[p] / counts[p].sum(), rtol=0, atol=1e-15)
    assert all(isinstance(p, int) for p in got)


def test_policies_by_hand():
    np.testing.assert_array_equal(rb.deterministic_policy([2, 0]), [[0, 0, 1, 0, 0], [1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(rb.deterministic_policy([1], 3), [[0, 1, 0]])
    np.testing.assert_array_equal(rb.uniform_policy(2), np.full((2, 5), 0.2))
    np.testing.assert_array_equal(rb.uniform_policy(1, 4), [[0.25] * 4])
    np.testing.assert_allclose(rb.epsilon_arrows_policy(np.array([0]), 0.3, 2), [[0.85, 0.15]], atol=1e-15)
    np.testing.assert_array_equal(rb.epsilon_arrows_policy(np.array([3]), 0.0), [[0, 0, 0, 1, 0]])
    np.testing.assert_allclose(rb.epsilon_arrows_policy(np.array([3]), 1.0), [[0.2] * 5], atol=1e-15)
    for eps in (-0.01, 1.01):
        with pytest.raises(ValueError, match=rf"^epsilon must be in \[0, 1\], got {eps}$"):
            rb.epsilon_arrows_policy(np.array([0]), eps)


def test_random_cell_policy_is_flat_dirichlet():
    """Flat Dirichlet on 4 actions: each coordinate has mean 1/4 and variance (A - 1) / (A^2 (A + 1)) = 3/80.
    6,000 rows: standard error of the mean 0.0025, of the variance ~0.0006; tolerances 0.01 and 0.004."""
    pol = rb.random_cell_policy(6000, 4, np.random.default_rng(0))
    assert pol.shape == (6000, 4)
    np.testing.assert_allclose(pol.sum(1), 1.0, atol=1e-12)
    assert np.all(np.abs(pol.mean(0) - 0.25) < 0.01)
    assert np.all(np.abs(pol.var(0) - 3 / 80) < 0.004)


def test_parse_arrows_forms_and_messages():
    assert rb.parse_arrows("ur\nds", 2, 2).tolist() == [0, 1, 2, 4]
    assert rb.parse_arrows(" UL / ↓○ ", 2, 2).tolist() == [0, 3, 2, 4]
    assert rb.parse_arrows("↑→↓←○", 1, 5).tolist() == [0, 1, 2, 3, 4]
    assert rb.arrows_text(np.array([0, 1, 2, 3, 4, 0]), 3) == "urd/lsu"
    assert rb.arrows_text(np.array([4, 4]), 1) == "s/s"
    with pytest.raises(ValueError, match="^the arrows need 2 rows of 3 characters$"):
        rb.parse_arrows("urd", 2, 3)
    with pytest.raises(ValueError, match="^the arrows need 1 rows of 2 characters$"):
        rb.parse_arrows("urd", 1, 2)
    with pytest.raises(ValueError, match="^unknown arrow 'x'; use u r d l s$"):
        rb.parse_arrows("ux", 1, 2)


def test_rollout_defaults_and_start_in_terminal():
    pol = rb.deterministic_policy(rb.parse_arrows(BOOK_CH1_ARROWS_A, 3, 3))
    s, a, r = rb.rollout(CH1.P, CH1.R, pol, 8, 5, np.random.default_rng(0), terminal=[8])
    assert s.tolist() == [8] and a.tolist() == [] and r.tolist() == []
    assert s.dtype.kind == "i" and a.dtype.kind == "i" and r.dtype.kind == "f"
    s, a, r = rb.rollout(CH1.P, CH1.R, pol, 8, 3, np.random.default_rng(0))  # no terminal: keeps going
    assert s.tolist() == [8, 8, 8, 8] and r.tolist() == [1.0, 1.0, 1.0]


def test_ties_and_a_zero_uniform_in_sample_returns_and_markov_check():
    """sample_returns uses rollout's rule: u equal to a cumulative probability picks that index. And with
    deterministic moves the next state is the move's cell even for u = 0.0 (a legal rng.random value)."""
    P = np.zeros((3, 3, 3))
    P[:, :, :] = [0.1, 0.2, 0.7]
    R = np.arange(9.0).reshape(3, 3)
    pol = np.tile([0.5, 0.25, 0.25], (3, 1))
    # both steps: a = 0 (0.5 reaches 0.5), s' = 1 (0.1 + 0.2 reaches 0.30000000000000004): G = R[0, 0] + g R[1, 0]
    G = rb.sample_returns(P, R, pol, 0, 2, 1, 0.5, _Uniforms([[0.5, 0.30000000000000004]]))
    assert G.tolist() == [0.0 + 0.5 * 3.0]
    s, a, r = rb.rollout(P, R, pol, 0, 2, _Uniforms([[0.5, 0.30000000000000004]]))
    assert rb.discounted_return(r, 0.5) == G[0]
    # deterministic 3x3 grid, arrows of Fig. 1.6 (a) (s1 right to s2, ...): u = 0 still follows the grid
    pol_a = rb.deterministic_policy(rb.parse_arrows(BOOK_CH1_ARROWS_A, 3, 3))
    G = rb.sample_returns(CH1.P, CH1.R, pol_a, 0, 4, 1, 1.0, _Uniforms([[0.5, 0.0]]))
    assert G.tolist() == [1.0]  # 0 + 0 + 0 + 1 (eq. 1.1): s1 -> s2 -> s5 -> s8 -> s9
    # markov_check, the same rule: 0 -> 1 -> 1 -> 1 with a = 0 each time; (1, 0) seen after 0 and after 1
    got = rb.markov_check(P, R, pol, 1, 0, 3, 1, _Uniforms([[0.5, 0.30000000000000004]]), start=0)
    assert sorted(got) == [0, 1] and got[0].tolist() == got[1].tolist() == [0.0, 1.0, 0.0]


def test_horizon_is_silent_at_zero_and_empty_inputs_keep_integer_types():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # gamma = 0 must not take log(0)
        assert rb.horizon(0.0) == 1
    assert rb.deterministic_policy([]).shape == (0, 5)
    assert rb.parse_arrows("", 0, 0).dtype.kind == "i"


def test_terminal_sets_of_every_form_and_a_silent_slip_model():
    """No terminal ([]), one as a 0-d array, as a set: the same masks. slip_model divides 0 / 0 where a cell
    cannot be reached and keeps 0 there without a RuntimeWarning."""
    import warnings

    P = np.full((3, 2, 3), 1 / 3)
    R = np.arange(6.0).reshape(3, 2)
    P2, R2 = rb.absorbing(P, R, [])
    np.testing.assert_array_equal(P2, P) and np.testing.assert_array_equal(R2, R)
    for t in (np.array(2), {2}, [2], np.array([2])):
        P2, _ = rb.absorbing(P, R, t)
        np.testing.assert_array_equal(P2[2], [[0, 0, 1], [0, 0, 1]])
    pol = rb.uniform_policy(9)
    G = rb.sample_returns(CH1.P, CH1.R, pol, 0, 5, 3, 0.9, np.random.default_rng(0), terminal=[])
    H = rb.sample_returns(CH1.P, CH1.R, pol, 0, 5, 3, 0.9, np.random.default_rng(0))
    np.testing.assert_array_equal(G, H)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = rb.slip_model(CH1.P, CH1.R, 0.2)
    assert np.all(m.R_sas[m.P == 0] == 0.0)
