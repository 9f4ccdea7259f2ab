"""Planning algorithms against published numbers and slow literal oracles.

Published numbers: S. Zhao, "Mathematical Foundations of Reinforcement Learning"
(Springer / Tsinghua University Press 2025; PDF at github.com/MathFoundationRL/
Book-Mathematical-Foundation-of-Reinforcement-Learning):
- Figure 3.4 (Sec. 3.5, p. 50): optimal state values of the 5x5 grid world,
  printed to one decimal -> we assert |ours - printed| <= 0.05 (+1e-9 for round-half).
- Sec. 4.1.2 (p. 60-61): value iteration on the 2x2 example, v1 and v2 in closed form.
- Figure 5.7 (Sec. 5.5, p. 94): state values of the optimal epsilon-greedy policies.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import mdp
from core.gridworld import GridWorld

ROUND = 0.05 + 1e-9  # a one-decimal printed number is within 0.05 of the truth

# Figure 3.4 (a)-(d), rows top to bottom.
FIG_3_4 = {
    "a: gamma=0.9, r_forbidden=-1": (
        0.9,
        -1.0,
        [
            [5.8, 5.6, 6.2, 6.5, 5.8],
            [6.5, 7.2, 8.0, 7.2, 6.5],
            [7.2, 8.0, 10.0, 8.0, 7.2],
            [8.0, 10.0, 10.0, 10.0, 8.0],
            [7.2, 9.0, 10.0, 9.0, 8.1],
        ],
    ),
    "b: gamma=0.5": (
        0.5,
        -1.0,
        [
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.1],
            [0.0, 0.0, 2.0, 0.1, 0.1],
            [0.0, 2.0, 2.0, 2.0, 0.2],
            [0.0, 1.0, 2.0, 1.0, 0.5],
        ],
    ),
    "c: gamma=0": (
        0.0,
        -1.0,
        [
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0, 0.0],
            [0.0, 1.0, 1.0, 1.0, 0.0],
            [0.0, 0.0, 1.0, 0.0, 0.0],
        ],
    ),
    "d: r_forbidden=-10": (
        0.9,
        -10.0,
        [
            [3.5, 3.9, 4.3, 4.8, 5.3],
            [3.1, 3.5, 4.8, 5.3, 5.9],
            [2.8, 2.5, 10.0, 5.9, 6.6],
            [2.5, 10.0, 10.0, 10.0, 7.3],
            [2.3, 9.0, 10.0, 9.0, 8.1],
        ],
    ),
}


@pytest.mark.parametrize("case", list(FIG_3_4))
def test_value_iteration_reproduces_figure_3_4(case):
    gamma, r_forbidden, printed = FIG_3_4[case]
    gw = GridWorld(r_forbidden=r_forbidden)
    res = mdp.value_iteration(gw.P, gw.R, gamma)
    assert res.converged
    np.testing.assert_allclose(res.V.reshape(5, 5), printed, atol=ROUND, rtol=0)


@pytest.mark.parametrize("case", list(FIG_3_4))
def test_policy_iteration_and_truncated_agree_with_value_iteration(case):
    gamma, r_forbidden, _ = FIG_3_4[case]
    gw = GridWorld(r_forbidden=r_forbidden)
    vi = mdp.value_iteration(gw.P, gw.R, gamma)
    pi = mdp.policy_iteration(gw.P, gw.R, gamma)
    assert pi.converged
    np.testing.assert_allclose(pi.V, vi.V, atol=1e-8)
    # both returned policies are optimal: their exact values equal v*
    for res in (vi, pi):
        np.testing.assert_allclose(mdp.policy_evaluation(gw.P, gw.R, res.policy, gamma), vi.V, atol=1e-8)
    for sweeps in (1, 3, 50):
        tpi = mdp.truncated_policy_iteration(gw.P, gw.R, gamma, sweeps)
        np.testing.assert_allclose(tpi.V, vi.V, atol=1e-8)


def test_policy_iteration_needs_fewer_iterations_and_is_monotone():
    # Lemma 4.1: v_{pi_{k+1}} >= v_{pi_k}; policy iteration converges in few steps
    gw = GridWorld()
    pi = mdp.policy_iteration(gw.P, gw.R, 0.9)
    vi = mdp.value_iteration(gw.P, gw.R, 0.9)
    assert len(pi.history) < 15 < len(vi.history)
    assert np.all(np.diff(pi.history[1:], axis=0) >= -1e-9)


def test_truncated_with_one_sweep_is_value_iteration():
    gw = GridWorld()
    vi = mdp.value_iteration(gw.P, gw.R, 0.9)
    tpi = mdp.truncated_policy_iteration(gw.P, gw.R, 0.9, 1)
    np.testing.assert_allclose(tpi.history, vi.history, atol=1e-12)


def test_value_iteration_on_the_books_2x2_example():
    # Sec. 4.1.2: s1 s2 / s3 s4, s2 forbidden, s4 target, r_b = r_f = -1, gamma = 0.9.
    # Printed: v1 = (0, 1, 1, 1); v2 = (gamma, 1+gamma, 1+gamma, 1+gamma);
    # pi2: s1 down, s2 down, s3 right, s4 stay (already optimal).
    g = 0.9
    gw = GridWorld(2, 2, target=(1, 1), forbidden=[(0, 1)])
    res = mdp.value_iteration(gw.P, gw.R, g)
    np.testing.assert_allclose(res.history[1], [0, 1, 1, 1], atol=1e-12)
    np.testing.assert_allclose(res.history[2], [g, 1 + g, 1 + g, 1 + g], atol=1e-12)
    up, right, down, left, stay = range(5)
    assert res.policies[2].argmax(1).tolist() == [down, down, right, stay]


def slow_bellman_optimality(P, R, gamma, iters):
    """A literal loop over states and actions: v(s) <- max_a sum_s' p(s'|s,a)[...]."""
    S, A = len(R), len(R[0])
    v = [0.0] * S
    for _ in range(iters):
        new = []
        for s in range(S):
            best = -float("inf")
            for a in range(A):
                q = R[s][a]
                for s2 in range(S):
                    q += gamma * P[s][a][s2] * v[s2]
                best = max(best, q)
            new.append(best)
        v = new
    return np.array(v)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), S=st.integers(2, 5), A=st.integers(1, 3), gamma=st.floats(0.0, 0.8))
def test_value_and_policy_iteration_match_a_literal_loop_on_random_mdps(seed, S, A, gamma):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))  # (S, A, S) random stochastic model
    R = rng.normal(size=(S, A))
    ref = slow_bellman_optimality(P.tolist(), R.tolist(), gamma, 150)  # 0.8^150 < 1e-14
    np.testing.assert_allclose(mdp.value_iteration(P, R, gamma).V, ref, atol=1e-8)
    np.testing.assert_allclose(mdp.policy_iteration(P, R, gamma).V, ref, atol=1e-8)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), gamma=st.floats(0.0, 0.95))
def test_exact_evaluation_solves_the_bellman_equation(seed, gamma):
    rng = np.random.default_rng(seed)
    S, A = 6, 3
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R = rng.normal(size=(S, A))
    pi = rng.dirichlet(np.ones(A), size=S)
    V = mdp.policy_evaluation(P, R, pi, gamma)
    # elementwise Bellman equation, book eq. 2.5
    rhs = [
        sum(pi[s, a] * (R[s, a] + gamma * sum(P[s, a, t] * V[t] for t in range(S))) for a in range(A))
        for s in range(S)
    ]
    np.testing.assert_allclose(V, rhs, atol=1e-10)
    hist = mdp.iterative_policy_evaluation(P, R, pi, gamma, 600)
    assert hist.shape == (601, S)
    np.testing.assert_allclose(hist[-1], V, atol=1e-8)


def test_affine_reward_change_keeps_the_optimal_policy():
    # Theorem 3.6: r -> alpha r + beta gives v' = alpha v + beta / (1 - gamma), same policy
    gw = GridWorld()
    alpha, beta, g = 2.0, -3.0, 0.9
    a = mdp.value_iteration(gw.P, gw.R, g)
    b = mdp.value_iteration(gw.P, alpha * gw.R + beta, g)
    np.testing.assert_allclose(b.V, alpha * a.V + beta / (1 - g), atol=1e-7)
    np.testing.assert_array_equal(a.policy, b.policy)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), eps=st.floats(0.0, 1.0), A=st.integers(1, 6))
def test_epsilon_greedy_probabilities(seed, eps, A):
    Q = np.random.default_rng(seed).normal(size=(4, A))
    pi = mdp.epsilon_greedy_policy(Q, eps)
    np.testing.assert_allclose(pi.sum(1), 1.0)
    best = Q.argmax(1)
    for s in range(4):
        for a in range(A):
            want = 1 - eps * (A - 1) / A if a == best[s] else eps / A
            assert pi[s, a] == pytest.approx(want)
    np.testing.assert_array_equal(mdp.greedy_policy(Q), mdp.epsilon_greedy_policy(Q, 0.0))


# Figure 5.7 (b)-(d): optimal epsilon-greedy values, r_boundary=-1, r_forbidden=-10, gamma=0.9.
FIG_5_7 = {
    0.1: [
        [0.4, 0.5, 0.9, 1.3, 1.4],
        [0.1, 0.0, 0.5, 1.3, 1.7],
        [0.1, -0.4, 3.4, 1.4, 1.9],
        [-0.1, 3.4, 3.3, 3.7, 2.2],
        [-0.3, 2.6, 3.7, 3.1, 2.7],
    ],
    0.2: [
        [-1.1, -1.5, -1.1, -0.6, -0.6],
        [-1.5, -2.2, -2.3, -1.0, -0.6],
        [-1.2, -2.4, -2.2, -1.5, -0.6],
        [-1.6, -2.3, -2.6, -1.4, -1.1],
        [-2.0, -3.0, -1.8, -1.4, -1.0],
    ],
    0.5: [
        [-4.3, -5.5, -4.5, -2.6, -2.3],
        [-5.6, -7.7, -7.7, -4.1, -2.4],
        [-5.5, -9.0, -8.0, -5.6, -2.8],
        [-6.8, -8.9, -9.4, -5.5, -4.2],
        [-7.9, -10.1, -6.7, -5.1, -3.7],
    ],
}


@pytest.mark.parametrize("eps", list(FIG_5_7))
def test_optimal_epsilon_greedy_values_reproduce_figure_5_7(eps):
    # The book's Chapter-5 figures use the convention that a bounce from a forbidden
    # cell also costs r_forbidden (see core.gridworld); with it, 74 of the 75
    # printed numbers are matched to print precision. The exception: eps = 0.2,
    # cell (3,1) is printed -1.2 and computes to -1.13 (checked to 0.08 below).
    gw = GridWorld(r_forbidden=-10, bounce_keeps_cell_reward=True)
    res = mdp.epsilon_greedy_policy_iteration(gw.P, gw.R, 0.9, eps)
    assert res.converged
    V, printed = res.V.reshape(5, 5), np.array(FIG_5_7[eps])
    err = np.abs(V - printed)
    if eps == 0.2:
        assert err[2, 0] <= 0.08
        err[2, 0] = 0.0
    assert err.max() <= ROUND
    # larger epsilon costs optimality (Sec. 5.5): every state is worse than v*
    v_star = mdp.value_iteration(gw.P, gw.R, 0.9).V
    assert np.all(res.V < v_star)


def test_gamma_one_is_reported_not_crashed():
    gw = GridWorld()
    res = mdp.value_iteration(gw.P, gw.R, 1.0, max_iter=500)
    assert not res.converged  # staying on the target earns +1 forever
    with pytest.raises(mdp.NotConvergedError):
        mdp.policy_iteration(gw.P, gw.R, 1.0)


# --- mutation-testing follow-ups (issue 21): literal loops and hand-checked edges ---------------


def _random_mdp(seed, S=4, A=3):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(S), size=(S, A)), rng.normal(size=(S, A))


def _lit_q(P, R, V, gamma):
    S, A = R.shape
    return np.array(
        [[R[s, a] + gamma * sum(P[s, a, t] * V[t] for t in range(S)) for a in range(A)] for s in range(S)]
    )


def _lit_greedy(Q, tol=1e-9):
    """First action whose q is within tol of the best one, as a one-hot row."""
    out = np.zeros_like(Q, dtype=float)
    for s in range(Q.shape[0]):
        best = max(Q[s])
        a = next(a for a in range(Q.shape[1]) if Q[s, a] >= best - tol)
        out[s, a] = 1.0
    return out


def _lit_eval(P, R, pi, gamma):
    """v_pi by iterating the Bellman equation to its fixed point, r_pi and P_pi summed by a literal
    loop (gamma <= 0.9: 600 sweeps leave 0.9^600 < 1e-27 of the start)."""
    S, A = R.shape
    r_pi = np.array([sum(pi[s, a] * R[s, a] for a in range(A)) for s in range(S)])
    P_pi = np.array([[sum(pi[s, a] * P[s, a, t] for a in range(A)) for t in range(S)] for s in range(S)])
    v = np.zeros(S)
    for _ in range(600):
        v = r_pi + gamma * P_pi @ v
    return v


def test_check_mdp_rejects_each_kind_of_bad_model():
    P, R = _random_mdp(0)
    mdp.check_mdp(P, R)  # a valid model passes
    with pytest.raises(ValueError, match=r"P must have shape \(S, A, S\)"):
        mdp.check_mdp(P[:, 0], R)
    with pytest.raises(ValueError, match=r"P must have shape \(S, A, S\), got \(4, 3, 3\)"):
        mdp.check_mdp(P[:, :, :3], R)
    with pytest.raises(ValueError, match=r"R must have shape \(4, 3\), got \(4, 2\)"):
        mdp.check_mdp(P, R[:, :2])
    bad = P.copy()
    bad[1, 2] = [1.5, -0.5, 0.0, 0.0]  # sums to 1 with a negative entry
    with pytest.raises(ValueError, match=r"^every P\[s, a, :\] must be a probability distribution$"):
        mdp.check_mdp(bad, R)
    bad = P.copy()
    bad[3, 0] *= 1.001  # every entry positive, sum 1.001
    with pytest.raises(ValueError, match=r"^every P\[s, a, :\] must be a probability distribution$"):
        mdp.check_mdp(bad, R)
    # within atol (default 1e-9): a -1e-10 entry and a 1e-10 surplus pass; 1e-8 does not; a looser atol lets it
    ok = P.copy()
    ok[0, 0] = [1.0 + 1e-10, -1e-10, 0.0, 0.0]
    ok[2, 1] = [1.0 + 1e-10, 0.0, 0.0, 0.0]
    mdp.check_mdp(ok, R)
    off = P.copy()
    off[2, 1] = [1.0 + 1e-4, 0.0, 0.0, 0.0]  # 1e-4 off: rejected at the default atol
    with pytest.raises(ValueError, match=r"^every P\[s, a, :\] must be a probability distribution$"):
        mdp.check_mdp(off, R)
    mdp.check_mdp(off, R, atol=2e-4)
    neg = P.copy()
    neg[0, 0] = [1.0 + 1e-8, -1e-8, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"^every P\[s, a, :\] must be a probability distribution$"):
        mdp.check_mdp(neg, R)


def test_policy_matrices_and_q_values_against_literal_sums():
    P, R = _random_mdp(1)
    pi = np.random.default_rng(2).dirichlet(np.ones(3), size=4)
    r_pi, P_pi = mdp.policy_matrices(P, R, pi)
    np.testing.assert_allclose(
        r_pi, [sum(pi[s, a] * R[s, a] for a in range(3)) for s in range(4)], atol=1e-14
    )
    lit = [[sum(pi[s, a] * P[s, a, t] for a in range(3)) for t in range(4)] for s in range(4)]
    np.testing.assert_allclose(P_pi, lit, atol=1e-14)
    V = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(mdp.q_values(P, R, V, 0.7), _lit_q(P, R, V, 0.7), atol=1e-14)


def test_policy_evaluation_singular_and_nearly_singular():
    P, R = _random_mdp(3)
    pi = np.full((4, 3), 1 / 3)
    with pytest.raises(mdp.NotConvergedError, match="singular"):
        mdp.policy_evaluation(P, R, pi, 1.0)
    # gamma = 0.9 is well conditioned: the value equals the literal fixed point (tol 1e-12)
    np.testing.assert_allclose(mdp.policy_evaluation(P, R, pi, 0.9), _lit_eval(P, R, pi, 0.9), atol=1e-12)
    # gamma = 1 - 1e-9: cond(I - gamma P_pi) ~ 1e9 < 1e12, still solved; v = r_pi-average / (1 - gamma) scale
    v = mdp.policy_evaluation(P, R, pi, 1 - 1e-9)
    assert np.all(np.isfinite(v)) and np.abs(v).max() > 1e6


def test_iterative_policy_evaluation_against_a_literal_loop():
    P, R = _random_mdp(4)
    pi = np.random.default_rng(5).dirichlet(np.ones(3), size=4)
    V0 = [1, 0, -1, 2]  # integers: the history is float
    hist = mdp.iterative_policy_evaluation(P, R, pi, 0.8, 3, V0=V0)
    assert hist.shape == (4, 4) and hist.dtype == np.float64
    v = np.array(V0, dtype=float)
    np.testing.assert_array_equal(hist[0], v)
    for j in range(1, 4):
        v = np.array([sum(pi[s, a] * (R[s, a] + 0.8 * sum(P[s, a, t] * v[t] for t in range(4)))
                          for a in range(3)) for s in range(4)])  # fmt: skip
        np.testing.assert_allclose(hist[j], v, atol=1e-13)
    assert mdp.iterative_policy_evaluation(P, R, pi, 0.8, 0).tolist() == [[0.0] * 4]


def test_greedy_policy_ties_and_tolerance():
    # within TIE_TOL = 1e-9 of the best: the lowest index wins; 2e-9 apart: the larger one
    Q = np.array([[1.0, 1.0 + 5e-10, 0.0], [0.0, 1.0, 1.0 + 2e-9], [2.0, 2.0, 2.0], [-1.0, -3.0, 0.0]])
    np.testing.assert_array_equal(mdp.greedy_policy(Q), np.eye(3)[[0, 2, 0, 2]])
    np.testing.assert_array_equal(mdp.greedy_policy(Q), _lit_greedy(Q))
    assert mdp.TIE_TOL == 1e-9
    # a stack of Q tables (K, S, A) gives a stack of policies
    np.testing.assert_array_equal(
        mdp.greedy_policy(np.stack([Q, -Q])), np.stack([_lit_greedy(Q), _lit_greedy(-Q)])
    )


def test_epsilon_greedy_rejects_out_of_range():
    Q = np.array([[0.0, 1.0]])
    for eps in (-1e-12, 1.0 + 1e-12, 2.0):
        with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\]"):
            mdp.epsilon_greedy_policy(Q, eps)
    np.testing.assert_allclose(mdp.epsilon_greedy_policy(Q, 1.0), [[0.5, 0.5]])
    np.testing.assert_allclose(mdp.epsilon_greedy_policy(Q, 0.0), [[0.0, 1.0]])


def test_converged_rule():
    a = np.array([0.0, 1.0])
    assert not mdp._converged([a], 1.0)  # one iterate: nothing to compare
    assert not mdp._converged([a, a + 0.5], 0.5)  # strict: a change equal to tol is not convergence
    assert mdp._converged([a, a + 0.5], 0.5 + 1e-12)
    assert mdp._converged([a + 9, a, a - 0.25], 0.3)  # only the last two count
    assert not mdp._converged([a, a + np.array([0.0, -0.5])], 0.4)  # |negative change|


def _lit_value_iteration(P, R, gamma, tol, max_iter, V0):
    v = np.array(V0, dtype=float)
    hist = [v]
    for _ in range(max_iter):
        v = _lit_q(P, R, v, gamma).max(axis=1)
        hist.append(v)
        if np.max(np.abs(hist[-1] - hist[-2])) < tol:
            break
    return hist


def test_value_iteration_against_a_literal_loop():
    P, R = _random_mdp(6)
    V0 = np.array([5.0, -5.0, 0.0, 1.0])
    res = mdp.value_iteration(P, R, 0.5, tol=1e-3, V0=V0)
    hist = _lit_value_iteration(P, R, 0.5, 1e-3, 10_000, V0)
    np.testing.assert_allclose(res.history, hist, atol=1e-13)
    assert res.converged and len(hist) > 3
    assert res.policies.shape == (len(hist), 4, 3)
    for k, v in enumerate(hist):
        np.testing.assert_array_equal(res.policies[k], _lit_greedy(_lit_q(P, R, v, 0.5)))
    V, policy, history = res  # unpacks as (V, policy, history)
    np.testing.assert_array_equal(V, hist[-1])
    np.testing.assert_array_equal(policy, res.policies[-1])
    np.testing.assert_array_equal(history, res.history)
    assert V0.tolist() == [5.0, -5.0, 0.0, 1.0]  # the start is not modified
    # max_iter reached first: not converged, K = max_iter rows after the start
    short = mdp.value_iteration(P, R, 0.5, tol=1e-3, max_iter=2, V0=V0)
    assert not short.converged and short.history.shape == (3, 4) and short.policies.shape == (3, 4, 3)
    np.testing.assert_allclose(short.history, hist[:3], atol=1e-13)
    # defaults: tol 1e-10 from zeros
    full = mdp.value_iteration(P, R, 0.5)
    np.testing.assert_allclose(
        full.history, _lit_value_iteration(P, R, 0.5, 1e-10, 10_000, np.zeros(4)), atol=1e-12
    )


def test_value_iteration_default_max_iter():
    # gamma = 1 and a reward loop never converge: the default cap is 10,000 iterations
    P = np.ones((1, 1, 1))
    R = np.ones((1, 1))
    res = mdp.value_iteration(P, R, 1.0)
    assert not res.converged and res.history.shape == (10_001, 1) and res.V.tolist() == [10_000.0]


def _lit_truncated(P, R, gamma, sweeps, tol, max_iter, V0):
    v = np.array(V0, dtype=float)
    hist, pols = [v], []
    for _ in range(max_iter):
        pi = _lit_greedy(_lit_q(P, R, v, gamma))
        pols.append(pi)
        for _ in range(sweeps):
            v = np.array([sum(pi[s, a] * _lit_q(P, R, v, gamma)[s, a] for a in range(R.shape[1]))
                          for s in range(R.shape[0])])  # fmt: skip
        hist.append(v)
        if np.max(np.abs(hist[-1] - hist[-2])) < tol:
            break
    pols.append(_lit_greedy(_lit_q(P, R, v, gamma)))
    return hist, pols


def test_truncated_policy_iteration_against_a_literal_loop():
    P, R = _random_mdp(7)
    V0 = np.array([3.0, 0.0, -2.0, 1.0])
    res = mdp.truncated_policy_iteration(P, R, 0.6, 2, tol=1e-4, V0=V0)
    hist, pols = _lit_truncated(P, R, 0.6, 2, 1e-4, 10_000, V0)
    np.testing.assert_allclose(res.history, hist, atol=1e-12)
    np.testing.assert_array_equal(res.policies, pols)
    assert res.converged
    np.testing.assert_array_equal(res.policy, pols[-1])
    short = mdp.truncated_policy_iteration(P, R, 0.6, 3, tol=1e-4, max_iter=2, V0=V0)
    hist, pols = _lit_truncated(P, R, 0.6, 3, 1e-4, 2, V0)
    assert not short.converged and len(short.history) == 3
    np.testing.assert_allclose(short.history, hist, atol=1e-12)
    np.testing.assert_array_equal(short.policies, pols)
    full = mdp.truncated_policy_iteration(P, R, 0.6, 2)
    hist, _ = _lit_truncated(P, R, 0.6, 2, 1e-10, 10_000, np.zeros(4))
    np.testing.assert_allclose(full.history, hist, atol=1e-12)
    with pytest.raises(ValueError, match="^eval_sweeps must be >= 1$"):
        mdp.truncated_policy_iteration(P, R, 0.6, 0)
    # one sweep is allowed (value iteration)
    assert mdp.truncated_policy_iteration(P, R, 0.6, 1).converged


def test_truncated_policy_iteration_default_max_iter(monkeypatch):
    # gamma = 1 and a reward loop never converge: the default cap is 10,000 iterations. Stand-ins for
    # the per-iteration greedy step, policy matrices (r_pi = 1, P_pi = 1), q-values and the convergence
    # test (never) keep 10,000 rounds cheap; only the loop and its cap are under test.
    monkeypatch.setattr(mdp, "greedy_policy", lambda Q: np.ones((1, 1)))
    monkeypatch.setattr(mdp, "policy_matrices", lambda P, R, pi: (np.ones(1), np.ones((1, 1))))
    monkeypatch.setattr(mdp, "q_values", lambda P, R, V, gamma: R)
    monkeypatch.setattr(mdp, "_converged", lambda history, tol: False)
    res = mdp.truncated_policy_iteration(np.ones((1, 1, 1)), np.ones((1, 1)), 1.0, 1)
    assert (
        res.converged is False and res.history.shape == (10_001, 1) and res.policies.shape == (10_001, 1, 1)
    )
    assert res.V.tolist() == [10_000.0]


def _lit_policy_iteration(P, R, gamma, pi0, improve):
    pi = pi0
    hist, pols = [np.zeros(R.shape[0])], [pi]
    for _ in range(1000):
        v = _lit_eval(P, R, pi, gamma)
        hist.append(v)
        pi_new = improve(_lit_q(P, R, v, gamma))
        pols.append(pi_new)
        if np.array_equal(pi_new, pi):
            break
        pi = pi_new
    return hist, pols


def test_policy_iteration_against_a_literal_loop():
    gw = GridWorld()
    for P, R in [_random_mdp(8, S=5, A=3), (gw.P, gw.R)]:
        res = mdp.policy_iteration(P, R, 0.9)
        hist, pols = _lit_policy_iteration(P, R, 0.9, _lit_greedy(R), _lit_greedy)
        assert res.converged
        np.testing.assert_allclose(res.history, hist, atol=1e-9)
        np.testing.assert_array_equal(res.policies, pols)
        np.testing.assert_array_equal(res.policy, pols[-1])
        np.testing.assert_allclose(res.V, hist[-1], atol=1e-9)
    # a given start policy (each state's lowest-reward action), on the random model
    P, R = _random_mdp(8, S=5, A=3)
    start = np.eye(3)[R.argmin(1)]
    res = mdp.policy_iteration(P, R, 0.9, initial_policy=start.astype(int))
    hist, pols = _lit_policy_iteration(P, R, 0.9, start, _lit_greedy)
    np.testing.assert_allclose(res.history, hist, atol=1e-9)
    np.testing.assert_array_equal(res.policies, pols)
    assert res.policies.dtype == np.float64


def test_policy_iteration_stops_on_an_optimal_value_with_a_different_tied_policy():
    # two actions with the same reward and the same next state: q ties exactly, pi_new = pi_0 -> 1 iteration
    P = np.zeros((2, 2, 2))
    P[:, :, 1] = 1.0
    R = np.array([[0.0, 0.0], [1.0, 1.0]])
    res = mdp.policy_iteration(P, R, 0.5)
    assert res.converged and len(res.history) == 2
    # a start policy that is already optimal but differs from the greedy tie-break: the value test stops it
    res = mdp.policy_iteration(P, R, 0.5, initial_policy=np.array([[0.0, 1.0], [0.0, 1.0]]))
    assert res.converged and len(res.history) == 2 and res.policies.shape == (2, 2, 2)
    np.testing.assert_array_equal(res.policy, [[1.0, 0.0], [1.0, 0.0]])  # the improved (tie-broken) one
    np.testing.assert_allclose(res.V, [1.0, 2.0], atol=1e-12)  # v(1) = 1 / (1 - 0.5), v(0) = 0.5 v(1)


def test_policy_iteration_max_iter():
    # the grid world needs several improvements; max_iter = 1 stops after one, not converged
    gw = GridWorld()
    P, R = gw.P, gw.R
    full = mdp.policy_iteration(P, R, 0.9)
    assert len(full.history) >= 4
    res = mdp.policy_iteration(P, R, 0.9, max_iter=1)
    assert res.converged is False and len(res.history) == 2
    np.testing.assert_array_equal(res.policy, full.policies[1])  # the last improvement made
    np.testing.assert_allclose(res.history, full.history[:2], atol=1e-12)


def test_epsilon_greedy_policy_iteration_against_a_literal_loop():
    eps = 0.2

    def eg(Q):
        return (1 - eps) * _lit_greedy(Q) + eps / Q.shape[1]

    gw = GridWorld(r_forbidden=-10)
    for P, R in [_random_mdp(11, S=5, A=3), (gw.P, gw.R)]:
        res = mdp.epsilon_greedy_policy_iteration(P, R, 0.9, eps)
        hist, pols = _lit_policy_iteration(P, R, 0.9, eg(R), eg)
        assert res.converged
        np.testing.assert_allclose(res.history, hist, atol=1e-9)
        np.testing.assert_allclose(res.policies, pols, atol=1e-15)
        np.testing.assert_allclose(res.V, hist[-1], atol=1e-9)
        np.testing.assert_allclose(res.policy, pols[-1], atol=1e-15)
    res = mdp.epsilon_greedy_policy_iteration(P, R, 0.9, eps, max_iter=1)
    assert res.converged is False and len(res.history) == 2
    np.testing.assert_allclose(res.policy, eg(_lit_q(P, R, res.history[-1], 0.9)), atol=1e-15)


def _chain(r_left, r_right, r_goal=1.0):
    """States 0, 1, 2, two actions. From 0: action 0 earns r_left and moves to 1, action 1 earns r_right and
    moves to 2. State 1 earns r_goal forever, state 2 earns 0 forever (both actions alike)."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[0, 1, 2] = 1.0
    P[1, :, 1] = P[2, :, 2] = 1.0
    R = np.array([[r_left, r_right], [r_goal, r_goal], [0.0, 0.0]])
    return P, R


def test_policy_iteration_stopping_rule_by_hand():
    # gamma 0.5: v(1) = 2, so from state 0 action 0 is worth r_left + 1 and action 1 is worth r_right.
    # Greedy start on R picks action 1 (r_right > r_left); one improvement switches to action 0.
    P, R = _chain(0.0, 0.5)
    res = mdp.policy_iteration(P, R, 0.5)
    assert res.converged is True and len(res.history) == 3
    np.testing.assert_allclose(res.history[1:], [[0.5, 2, 0], [1, 2, 0]], atol=1e-12)
    # an improvement of 5e-9 (above TIE_TOL 1e-9, below np.allclose's default atol 1e-8) is still taken
    P, R = _chain(-1 + 5e-9, 0.0)
    res = mdp.policy_iteration(P, R, 0.5)
    assert len(res.history) == 3 and res.policy[0].tolist() == [1.0, 0.0]
    # an improvement of 1e-7 on values near 2 (below np.allclose's default rtol 1e-5 relative) too
    P, R = _chain(1.0 + 1e-7, 1.0)
    P[0, 1] = P[0, 0]  # both actions lead to state 1: q(0, a) = r(0, a) + 1, i.e. 2 + 1e-7 and 2
    # start on action 1 (worth 2); action 0 is worth 2 + 1e-7: one more improvement
    res = mdp.policy_iteration(P, R, 0.5, initial_policy=np.array([[0.0, 1.0], [1, 0], [1, 0]]))
    assert len(res.history) == 3 and res.policy[0].tolist() == [1.0, 0.0]
    np.testing.assert_allclose(res.V, [2 + 1e-7, 2, 0], atol=1e-12)


def test_policy_iteration_stops_on_an_unchanged_policy_with_large_values():
    # rewards x 1e6: the residual of the linear solve (~1e-9) exceeds the value test's atol 1e-10, so
    # it is the unchanged policy that stops the iteration (6 rows as at scale 1)
    gw = GridWorld()
    res = mdp.policy_iteration(gw.P, gw.R * 1e6, 0.9)
    assert res.converged is True and len(res.history) == len(mdp.policy_iteration(gw.P, gw.R, 0.9).history)


def test_epsilon_greedy_policy_iteration_stopping_rule_by_hand():
    eps = 0.2
    # positive q-values, one real improvement at state 0: start action 1 (r_right 0.5 > 0), then action 0
    P, R = _chain(0.0, 0.5)
    res = mdp.epsilon_greedy_policy_iteration(P, R, 0.5, eps)
    assert res.converged is True and len(res.history) == 3
    np.testing.assert_allclose(res.policy[0], [0.9, 0.1], atol=1e-15)
    # an exact tie at state 0 (q = 1 for both actions): the tie-break changes the policy but gains
    # nothing, and that already counts as optimal in the epsilon-greedy class: one iteration
    P, R = _chain(0.0, 1.0)
    res = mdp.epsilon_greedy_policy_iteration(P, R, 0.5, eps)
    assert res.converged is True and len(res.history) == 2
    np.testing.assert_allclose(res.policies[0][0], [0.1, 0.9], atol=1e-15)
    np.testing.assert_allclose(res.policies[1][0], [0.9, 0.1], atol=1e-15)
    np.testing.assert_allclose(res.policy[0], [0.9, 0.1], atol=1e-15)  # the last policy, the improved one


def test_epsilon_greedy_of_one_state_and_of_a_stack():
    # the actions are the last axis: one state's row (A,) or a stack (K, S, A) with S != A
    np.testing.assert_allclose(mdp.epsilon_greedy_policy(np.array([0.0, 1.0, 0.5]), 0.3), [0.1, 0.8, 0.1])
    Q = np.random.default_rng(13).normal(size=(2, 4, 3))
    pi = mdp.epsilon_greedy_policy(Q, 0.3)
    for k in range(2):
        np.testing.assert_allclose(pi[k], 0.7 * _lit_greedy(Q[k]) + 0.1, atol=1e-15)


def test_integer_starts_give_float_histories():
    P, R = _random_mdp(0)
    pi = np.full((4, 3), 1 / 3)
    assert mdp.iterative_policy_evaluation(P, R, pi, 0.5, 0, V0=[1, 2, 3, 4]).dtype == np.float64
    res = mdp.value_iteration(P, R, 0.5, max_iter=0, V0=[1, 2, 3, 4])
    assert res.V.dtype == np.float64 and res.history.dtype == np.float64 and res.history.shape == (1, 4)
    res = mdp.truncated_policy_iteration(P, R, 0.5, 2, max_iter=0, V0=[1, 2, 3, 4])
    assert res.V.dtype == np.float64 and res.history.dtype == np.float64


def test_value_iteration_returns_the_policy_greedy_on_its_last_value():
    # one iteration from a far start: the greedy policy w.r.t. v_1 differs from the one w.r.t. v_0
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4) * 0.3, size=(4, 3))
    R = rng.normal(size=(4, 3))
    V0 = rng.normal(size=4) * 10
    res = mdp.value_iteration(P, R, 0.9, max_iter=1, V0=V0)
    want = _lit_greedy(_lit_q(P, R, res.history[-1], 0.9))
    assert not np.array_equal(want, _lit_greedy(_lit_q(P, R, V0, 0.9)))
    np.testing.assert_array_equal(res.policy, want)
    tpi = mdp.truncated_policy_iteration(P, R, 0.9, 2, max_iter=1, V0=V0)
    np.testing.assert_array_equal(tpi.policy, _lit_greedy(_lit_q(P, R, tpi.history[-1], 0.9)))


@pytest.mark.parametrize("planner", ["policy_iteration", "epsilon_greedy_policy_iteration"])
def test_policy_iterations_stop_after_max_iter_by_default(monkeypatch, planner):
    # A stand-in for q_values that alternates between two tables, so each improvement undoes the last one
    # and no stopping rule ever holds: the default cap of 1,000 improvements ends the loop, not converged.
    tables = [np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])]
    calls = []

    def alternating(P, R, V, gamma):
        calls.append(1)
        return tables[(len(calls) + 1) % 2]  # first [1, 0]: away from the start policy (action 1)

    monkeypatch.setattr(mdp, "q_values", alternating)
    P, R = np.ones((1, 2, 1)), np.array([[0.0, 0.25]])  # true values 0 or 0.5, never max q = 1
    args = (0.5,) if planner == "policy_iteration" else (0.5, 0.2)
    res = getattr(mdp, planner)(P, R, *args)
    assert res.converged is False and res.history.shape == (1001, 1) and res.policies.shape == (1001, 1, 2)
    # an integer start policy still gives float policies, even with no iteration
    if planner == "policy_iteration":
        res = mdp.policy_iteration(P, R, 0.5, max_iter=0, initial_policy=np.array([[0, 1]]))
        assert res.policy.dtype == np.float64 and res.policies.dtype == np.float64


def test_truncated_policy_iteration_returns_the_last_greedy_policy():
    # on the grid world the greedy policy keeps changing after the first improvements
    gw = GridWorld()
    res = mdp.truncated_policy_iteration(gw.P, gw.R, 0.9, 2)
    want = _lit_greedy(_lit_q(gw.P, gw.R, res.V, 0.9))
    assert not np.array_equal(res.policies[1], want)
    np.testing.assert_array_equal(res.policy, want)


def test_singular_evaluation_message():
    P, R = _random_mdp(3)
    with pytest.raises(
        mdp.NotConvergedError, match=r"^I - gamma P_pi is singular: the discounted return does not converge$"
    ):
        mdp.policy_evaluation(P, R, np.full((4, 3), 1 / 3), 1.0)


def test_greedy_tie_tolerance_is_inclusive():
    # exactly TIE_TOL below the best still counts as tied: the lower index wins
    np.testing.assert_array_equal(mdp.greedy_policy(np.array([[1.0 - 1e-9, 1.0]])), [[1.0, 0.0]])


def test_check_mdp_sum_tolerance_is_atol_only():
    # a row summing to 1 + 5e-6 (by hand) is off by 5000 x the default atol 1e-9 and must be
    # rejected; np.allclose's default rtol 1e-5 used to let any sum within 1 +- 1e-5 through
    P, R = _random_mdp(0)
    off = P.copy()
    off[1, 1] = [1.0 + 5e-6, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"^every P\[s, a, :\] must be a probability distribution$"):
        mdp.check_mdp(off, R)
    low = P.copy()
    low[1, 1] = [1.0 - 5e-6, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"^every P\[s, a, :\] must be a probability distribution$"):
        mdp.check_mdp(low, R)
    mdp.check_mdp(off, R, atol=6e-6)  # |sum - 1| = 5e-6 <= atol: accepted
    with pytest.raises(ValueError, match=r"^every P\[s, a, :\] must be a probability distribution$"):
        mdp.check_mdp(off, R, atol=4e-6)  # 5e-6 > atol: rejected (rtol would have added 1e-5)
    # both bounds are inclusive: an entry of exactly -atol (and a row sum 1 + 1e-9 - 1e-9) passes
    edge = P.copy()
    edge[0, 2] = [1.0 + 1e-9, -1e-9, 0.0, 0.0]
    mdp.check_mdp(edge, R)
