"""Tests of core/grpo.py against independent references.

References used here: exact arithmetic (Decimal, 400 digits) for the KL
estimator, Python's statistics.pstdev for group statistics, literal loops for
the length distribution, binomial confidence bounds for Monte-Carlo checks,
and torch autograd for gradients. Every tolerance is stated next to its assert.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from decimal import Decimal, localcontext

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core import grpo

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/core/conftest.py


finite = st.floats(min_value=-30.0, max_value=0.0, allow_nan=False, allow_infinity=False)


# ---------------------------------------------------------------------------
# group_advantages
# ---------------------------------------------------------------------------


def test_group_advantages_of_1010_is_plus_minus_one():
    # mean 0.5, std 0.5 -> A = +-0.5 / (0.5 + 1e-6) = +-(1 - 2e-6): eps shifts it by 2e-6, tolerance 1e-5
    A = grpo.group_advantages([1, 0, 1, 0])
    np.testing.assert_allclose(A, [1, -1, 1, -1], atol=1e-5)
    # with eps = 0 the identity is exact up to float rounding (1e-12)
    np.testing.assert_allclose(grpo.group_advantages([1, 0, 1, 0], eps=0.0), [1, -1, 1, -1], atol=1e-12)


@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=12))
def test_group_advantages_match_a_literal_loop(rewards):
    # reference: (r - mean) / (pstdev + eps) from the statistics module (ddof = 0), or 0 if all equal
    mu, sd = statistics.fmean(rewards), statistics.pstdev(rewards)
    ref = [0.0 if max(rewards) == min(rewards) else (r - mu) / (sd + 1e-6) for r in rewards]
    np.testing.assert_allclose(grpo.group_advantages(rewards), ref, rtol=1e-7, atol=1e-7)


@given(st.floats(-10, 10, allow_nan=False), st.integers(1, 16), st.integers(1, 5))
def test_all_equal_groups_give_exact_zeros(value, group_size, num_groups):
    r = np.full((num_groups, group_size), value)
    assert np.all(grpo.group_advantages(r) == 0.0)  # exactly, not approximately
    assert torch.all(grpo.group_advantages(torch.tensor(r)) == 0.0)


def test_group_advantages_are_per_group_along_last_axis():
    r = np.array([[1.0, 0.0, 1.0, 0.0], [3.0, 3.0, 3.0, 3.0], [2.0, 4.0, 6.0, 8.0]])
    A = grpo.group_advantages(r)
    np.testing.assert_allclose(A.mean(axis=-1), 0.0, atol=1e-12)  # centred within each group
    np.testing.assert_allclose(A[2].std(), 1.0, atol=1e-5)  # unit spread (eps effect ~ 1e-6)
    np.testing.assert_allclose(grpo.group_advantages(torch.tensor(r)).numpy(), A, atol=1e-12)


# ---------------------------------------------------------------------------
# kl_k3
# ---------------------------------------------------------------------------


@given(finite)
def test_kl_k3_is_zero_for_equal_inputs(logp):
    assert grpo.kl_k3(np.array(logp), np.array(logp)) == 0.0


@given(finite, finite)
def test_kl_k3_is_positive_otherwise(logp, logp_ref):
    # stated limit: d = logp_ref - logp with |d| > 1e-150, so that d^2 / 2 does not underflow float64
    assume(abs(logp_ref - logp) > 1e-150)
    assert grpo.kl_k3(np.array(logp), np.array(logp_ref)) > 0.0
    assert (
        grpo.kl_k3(torch.tensor(logp, dtype=torch.float64), torch.tensor(logp_ref, dtype=torch.float64)) > 0.0
    )


@given(finite, finite)
def test_kl_k3_equals_closed_form_in_exact_arithmetic(logp, logp_ref):
    # closed form r - ln r - 1 with r = pi_ref / pi, in 400-digit Decimal (enough for |d| >= 1e-150,
    # where d^2 / 2 is still a normal float64); relative tolerance 1e-9
    assume(logp == logp_ref or abs(logp_ref - logp) > 1e-150)
    with localcontext() as ctx:
        ctx.prec = 400
        r = (Decimal(logp_ref) - Decimal(logp)).exp()
        ref = float(r - r.ln() - 1)
    got = float(grpo.kl_k3(np.array(logp), np.array(logp_ref)))
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-300)


def test_kl_k3_is_an_unbiased_estimate_of_kl():
    # E_{o ~ pi}[k3] = KL(pi || pi_ref) (Schulman 2020); Monte Carlo, tolerance 5 standard errors
    rng = np.random.default_rng(0)
    pi = np.array([0.5, 0.3, 0.15, 0.05])
    pi_ref = np.array([0.1, 0.2, 0.3, 0.4])
    o = rng.choice(4, size=200_000, p=pi)
    k3 = grpo.kl_k3(np.log(pi[o]), np.log(pi_ref[o]))
    kl = float(np.sum(pi * np.log(pi / pi_ref)))
    assert abs(k3.mean() - kl) < 5 * k3.std() / math.sqrt(len(o))


# ---------------------------------------------------------------------------
# clipped_objective: the four sign / ratio cases (epsilon = 0.2)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rho", "A", "expected", "clipped"),
    [
        (1.5, 2.0, 1.2 * 2.0, True),  # A > 0, rho > 1 + eps: gain capped at (1 + eps) A
        (0.5, 2.0, 0.5 * 2.0, False),  # A > 0, rho < 1 - eps: min keeps the smaller rho A, gradient flows
        (0.5, -2.0, 0.8 * -2.0, True),  # A < 0, rho < 1 - eps: capped at (1 - eps) A
        (1.5, -2.0, 1.5 * -2.0, False),  # A < 0, rho > 1 + eps: min keeps rho A (pessimistic), gradient flows
    ],
)
def test_clipped_objective_four_cases(rho, A, expected, clipped):
    assert grpo.clipped_objective(rho, A, 0.2) == pytest.approx(expected, abs=1e-12)
    # autograd: a clipped case has zero gradient in rho, an unclipped one has d/drho = A
    r = torch.tensor(rho, dtype=torch.float64, requires_grad=True)
    grpo.clipped_objective(r, torch.tensor(A, dtype=torch.float64), 0.2).backward()
    assert r.grad.item() == pytest.approx(0.0 if clipped else A, abs=1e-12)


def test_clipped_objective_inside_the_trust_region_is_rho_a():
    rho = np.linspace(0.81, 1.19, 7)
    for A in (-1.3, 0.7):
        np.testing.assert_allclose(grpo.clipped_objective(rho, A, 0.2), rho * A, atol=1e-12)


# ---------------------------------------------------------------------------
# The toy task and the policy's distribution
# ---------------------------------------------------------------------------


def test_solve_matches_the_stated_model():
    # frequency of correct answers vs (1 - slip)^max(n - k, 0); tolerance 5 binomial standard errors
    rng = np.random.default_rng(1)
    N = 40_000
    for n_digits, k in [(1, 0), (3, 1), (4, 0), (4, 4), (5, 7)]:
        a, b, _ = grpo.sample_problems(N, 5, rng)
        a, b = a % 10**n_digits, b % 10**n_digits
        n = np.full(N, n_digits)
        freq = (grpo.solve(a, b, n, np.full(N, k), 0.3, rng) == a + b).mean()
        p = float(grpo.p_correct(n_digits, k, 0.3))
        assert abs(freq - p) <= 5 * math.sqrt(p * (1 - p) / N) + 1e-12


def test_sample_problems_have_the_stated_digit_counts():
    a, b, n = grpo.sample_problems(5000, 5, np.random.default_rng(2))
    assert set(np.unique(n)) == {1, 2, 3, 4, 5}
    for x in (a, b):
        lengths = np.array([len(str(v)) for v in x])
        assert np.all(lengths == n)


def test_render_response_writes_the_columns():
    assert grpo.render_response(58, 67, 2, 125) == "<think>8+7=15; 5+6+1=12</think><answer>125</answer>"
    assert grpo.render_response(58, 67, 0, 115) == "<answer>115</answer>"


def test_rule_reward():
    r = grpo.rule_reward([1, 0, 1], [0, 2, 3], length_cost=0.1, format_weight=0.5)
    np.testing.assert_allclose(r, [1.0, 0.5 - 0.2, 1.5 - 0.3], atol=1e-12)


def test_example_group_has_the_requested_number_correct():
    for c in range(0, 9):
        g = grpo.example_group(c, 8, 0.0, 0.0, seed=3)
        assert g.correct.sum() == c
        answers = [int(t.split("<answer>")[1].split("</answer>")[0]) for t in g.texts]
        assert [ans == g.a + g.b for ans in answers] == list(g.correct)
        # the task's model: a wrong answer never worked out every column
        assert np.all(g.thinking_steps[~g.correct] < g.num_digits)
        if c in (0, 8):  # all right or all wrong: nothing to learn
            assert np.all(g.advantages == 0.0)
        else:
            assert np.all(g.advantages[g.correct] > 0) and np.all(g.advantages[~g.correct] < 0)


def _literal_length_probs(z: np.ndarray) -> np.ndarray:
    """P(k) = h_k prod_{t<k} (1 - h_t), h = sigmoid(z), h_K = 1; a plain loop."""
    K = len(z) - 1
    h = 1 / (1 + np.exp(-z))
    h[K] = 1.0
    P = np.zeros(K + 1)
    for k in range(K + 1):
        P[k] = h[k] * np.prod([1 - h[t] for t in range(k)])
    return P


def test_length_distribution_matches_a_literal_loop_and_token_logprobs():
    z = torch.randn(4, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    P = grpo.length_logprobs(z).exp()
    np.testing.assert_allclose(P.sum(1).numpy(), 1.0, atol=1e-12)  # a distribution
    for i in range(4):
        np.testing.assert_allclose(P[i].numpy(), _literal_length_probs(z[i].numpy()), atol=1e-12)
    # summing the per-token log-probs gives the same response log-probability (1e-12)
    for k in range(9):
        kk = torch.full((4,), k)
        logp_tok, mask = grpo.token_logprobs(z, kk)
        assert torch.all(mask.sum(1) == k + 1)
        assert mask.dtype == z.dtype  # a 0/1 mask in the logits' dtype, as policy_loss multiplies and divides by it
        np.testing.assert_allclose(logp_tok.sum(1).numpy(), grpo.length_logprobs(z)[:, k].numpy(), atol=1e-12)


def test_exact_kl_matches_literal_sum():
    z = torch.randn(3, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    z_ref = torch.randn(3, 9, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    kl = grpo.exact_kl(grpo.length_logprobs(z), grpo.length_logprobs(z_ref)).numpy()
    for i in range(3):
        P, Q = _literal_length_probs(z[i].numpy()), _literal_length_probs(z_ref[i].numpy())
        assert kl[i] == pytest.approx(float(np.sum(P * np.log(P / Q))), abs=1e-12)


# ---------------------------------------------------------------------------
# Gradients (torch autograd)
# ---------------------------------------------------------------------------


def _policy_batch(G: int, seed: int = 0):
    torch.manual_seed(seed)
    cfg = grpo.Config()
    policy = grpo.Policy(2 * cfg.max_digits * 11, 16, cfg.max_think, 0.6).double()
    a, b, n = grpo.sample_problems(2, cfg.max_digits, np.random.default_rng(seed))
    x = torch.from_numpy(grpo.encode_prompts(a, b, n, cfg.max_digits)).double().repeat_interleave(G, dim=0)
    k = torch.randint(0, cfg.max_think + 1, (2 * G,), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        logp_old, mask = grpo.token_logprobs(policy(x), k)
    return policy, x, k, logp_old, mask


def _grads(policy, x, k, logp_old, mask, A, beta=0.0):
    logp, _ = grpo.token_logprobs(policy(x), k)
    loss = grpo.policy_loss(logp, logp_old, logp_old, A, mask, 0.2, beta)
    return torch.autograd.grad(loss, list(policy.parameters()))


def test_a_group_with_equal_rewards_contributes_zero_policy_gradient():
    G = 6
    policy, x, k, logp_old, mask = _policy_batch(G)
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.0, 0.0], [1.0] * G], dtype=torch.float64)
    A = grpo.group_advantages(r)
    # the equal group alone: every parameter gradient exactly zero
    g_equal = _grads(policy, x[G:], k[G:], logp_old[G:], mask[G:], A[1])
    assert all(torch.all(g == 0) for g in g_equal)
    # both groups: the gradient is the informative group's, halved by the mean over 2G responses (1e-12)
    g_both = _grads(policy, x, k, logp_old, mask, A.reshape(-1))
    g_one = _grads(policy, x[:G], k[:G], logp_old[:G], mask[:G], A[0])
    for gb, go in zip(g_both, g_one, strict=True):
        np.testing.assert_allclose(gb.numpy(), go.numpy() / 2, atol=1e-12, rtol=0)
    assert any(torch.any(g != 0) for g in g_one)


def test_surrogate_gradient_at_rho_1_is_the_policy_gradient():
    # at theta = theta_old the clipped surrogate's gradient is mean_i A_i grad log pi(o_i) (REINFORCE form)
    G = 5
    policy, x, k, logp_old, mask = _policy_batch(G, seed=4)
    A = torch.linspace(-1, 1, 2 * G, dtype=torch.float64)
    g = _grads(policy, x, k, logp_old, mask, A)
    logp, _ = grpo.token_logprobs(policy(x), k)
    ref = torch.autograd.grad(-(A * logp.sum(1)).mean(), list(policy.parameters()))
    for a_, b_ in zip(g, ref, strict=True):
        np.testing.assert_allclose(a_.numpy(), b_.numpy(), atol=1e-12, rtol=0)


def test_token_mean_divides_each_response_by_its_length():
    # literal: J = mean_i (1/|o_i|) sum_t rho A, at rho = 1 and beta = 0 that is mean_i A_i (|o_i| cancels)
    G = 4
    policy, x, k, logp_old, mask = _policy_batch(G, seed=2)
    A = torch.linspace(-1, 1, 2 * G, dtype=torch.float64)
    loss_mean = grpo.policy_loss(logp_old, logp_old, logp_old, A, mask, 0.2, 0.0, token_mean=True)
    loss_sum = grpo.policy_loss(logp_old, logp_old, logp_old, A, mask, 0.2, 0.0)
    assert loss_mean.item() == pytest.approx(-A.mean().item(), abs=1e-12)
    assert loss_sum.item() == pytest.approx(-(A * (k + 1)).mean().item(), abs=1e-12)


def test_adam_matches_the_closed_form_first_step():
    # first Adam step moves every coordinate by lr * g / (|g| + eps) (m_hat = g, v_hat = g^2)
    p = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    g = torch.tensor([0.3, -4.0, 1e-3], dtype=torch.float64)
    opt = grpo.Adam([p], lr=0.1)
    opt.step((g,))
    expected = np.array([1.0, -2.0, 0.5]) - 0.1 * g.numpy() / (np.abs(g.numpy()) + 1e-8)
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-12)


# ---------------------------------------------------------------------------
# Training on the toy (seeded)
# ---------------------------------------------------------------------------


# Tests marked `slow` train on the shipped settings (seconds each); under mutmut they run after the
# others (tests/core/conftest.py), so a mutant a quick test kills never trains them.
@pytest.fixture(scope="module")
def runs():
    return {
        "grpo": grpo.train("grpo"),  # the defaults: Config(), seed 0
        "grpo_costly": grpo.train("grpo", grpo.Config(length_cost=0.3), seed=0),
    }


@pytest.mark.slow
def test_grpo_raises_accuracy_well_above_its_start(runs):
    h = runs["grpo"]
    # exact expected accuracy on the fixed eval prompts: at least +0.3 over the base policy
    assert h.pass1[-1] >= h.pass1[0] + 0.3
    # sampled accuracy, first vs last 10 steps: at least +0.25
    assert h.accuracy[-10:].mean() >= h.accuracy[:10].mean() + 0.25


@pytest.mark.slow
def test_response_length_grows_when_reward_checks_only_correctness(runs):
    h = runs["grpo"]
    assert h.length[-10:].mean() >= h.length[:10].mean() + 1.0  # at least one more thinking token
    # harder prompts get more thinking (after training): monotone up to 1 token of noise per step
    after = h.length_by_digits[1]
    assert after[-1] > after[0] + 1.0


@pytest.mark.slow
def test_with_a_large_length_cost_length_does_not_grow(runs):
    h = runs["grpo_costly"]
    assert h.length[-10:].mean() <= h.length[:10].mean()
    assert h.length[-10:].mean() < 1.0


@pytest.mark.slow
def test_all_zero_groups_become_common_as_grpo_solves_the_task(runs):
    h = runs["grpo"]
    assert h.zero_adv_frac[-10:].mean() > h.zero_adv_frac[:10].mean() + 0.2
    assert np.all((h.zero_adv_frac >= 0) & (h.zero_adv_frac <= 1))


def test_training_is_reproducible_and_every_method_runs():
    cfg = grpo.Config(num_steps=8)
    a, b = grpo.train("ppo", cfg, seed=5), grpo.train("ppo", cfg, seed=5)
    np.testing.assert_array_equal(a.pass1, b.pass1)
    np.testing.assert_array_equal(a.length, b.length)
    r = grpo.train("reinforce", cfg, seed=5)
    assert r.pass1[0] == pytest.approx(a.pass1[0], abs=1e-12)  # same base policy for every method
    assert len(r.kl) == 8 and np.all(r.kl >= 0)
    with pytest.raises(ValueError):
        grpo.train("dpo", cfg, seed=0)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 8))
def test_example_group_property(c):
    g = grpo.example_group(c, 8, 0.05, 0.1, seed=c)
    np.testing.assert_allclose(g.advantages, grpo.group_advantages(g.rewards), atol=0)


# ---------------------------------------------------------------------------
# Every method learns, and each advantage is its formula (issue 21)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def baselines():
    return {m: grpo.train(m, grpo.Config(), seed=0) for m in ("reinforce", "ppo")}


@pytest.mark.slow
def test_ppo_learns_on_the_seeded_toy(baselines):
    # the base policy's exact pass@1 is 0.49; PPO must end (mean of the last 10 steps) at least 0.35 higher.
    # A sign-flipped advantage (A = V - r) makes it fall instead (0.49 -> 0.40).
    h = baselines["ppo"]
    assert h.pass1[0] == pytest.approx(0.49, abs=0.01)
    assert h.pass1[-10:].mean() >= h.pass1[0] + 0.35


@pytest.mark.slow
def test_reinforce_learns_on_the_seeded_toy(baselines):
    # REINFORCE without a baseline learns more slowly, but at least +0.25 over the base policy
    h = baselines["reinforce"]
    assert h.pass1[-10:].mean() >= h.pass1[0] + 0.25


def test_each_advantage_is_its_formula_on_a_hand_made_batch():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5], [2.0, 0.0, 1.0, 1.0]], dtype=torch.float64)
    v = torch.tensor([0.25, 0.5, 1.5], dtype=torch.float64)
    rows = r.tolist()
    # GRPO: (r - mean) / (pstdev + 1e-6) per row, 0 for an all-equal row (statistics module, literal)
    ref = []
    for row in rows:
        mu, sd = statistics.fmean(row), statistics.pstdev(row)
        ref.append([0.0 if sd == 0 else (x - mu) / (sd + 1e-6) for x in row])
    np.testing.assert_allclose(grpo._advantages("grpo", r, None).numpy(), ref, atol=1e-12)
    # REINFORCE: the raw reward
    np.testing.assert_allclose(grpo._advantages("reinforce", r, None).numpy(), rows, atol=0)
    # PPO: r - V(q), then whitened over the whole batch (literal loops)
    raw = [[x - v[i].item() for x in row] for i, row in enumerate(rows)]
    flat = [x for row in raw for x in row]
    mu, sd = statistics.fmean(flat), statistics.pstdev(flat)
    ref_ppo = [[(x - mu) / (sd + 1e-6) for x in row] for row in raw]
    np.testing.assert_allclose(grpo._advantages("ppo", r, v).numpy(), ref_ppo, atol=1e-12)
    # the sign matters: an answer that beat its value estimate gets a positive advantage
    assert grpo._advantages("ppo", r, v)[2, 0] > 0 and grpo._advantages("ppo", r, v)[0, 1] < 0


def _literal_adam(
    p: list[float], grads: list[list[float]], lr: float, b1=0.9, b2=0.999, eps=1e-8
) -> list[float]:
    """Kingma & Ba (2015), Algorithm 1, one coordinate at a time in plain Python floats."""
    m, v = [0.0] * len(p), [0.0] * len(p)
    p = list(p)
    for t, g in enumerate(grads, start=1):
        for i in range(len(p)):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            m_hat, v_hat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            p[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
    return p


def test_adam_matches_a_literal_implementation_over_several_steps():
    # bias correction only cancels at step 1; over 7 steps with changing gradients it matters (rtol 1e-12)
    rng = np.random.default_rng(3)
    p0 = [1.0, -2.0, 0.5, 3.0]
    grads = rng.normal(size=(7, 4)) * np.array([1.0, 10.0, 1e-3, 0.1])
    p = torch.tensor(p0, dtype=torch.float64)
    opt = grpo.Adam([p], lr=0.05, betas=(0.8, 0.99))
    for g in grads:
        opt.step((torch.tensor(g, dtype=torch.float64),))
    ref = _literal_adam(p0, grads.tolist(), 0.05, 0.8, 0.99)
    np.testing.assert_allclose(p.numpy(), ref, rtol=1e-12)


# ---------------------------------------------------------------------------
# Test time: thinking budget and majority voting (issue 18)
# ---------------------------------------------------------------------------


def _literal_vote(row) -> int:
    """Most frequent; ties to the answer seen first. A plain loop with a dict."""
    counts: dict[int, int] = {}
    order: list[int] = []
    for a in row:
        if a not in counts:
            counts[a] = 0
            order.append(a)
        counts[a] += 1
    best = order[0]
    for a in order:
        if counts[a] > counts[best]:
            best = a
    return best


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=9), min_size=1, max_size=6).filter(
        lambda rows: len({len(r) for r in rows}) == 1
    )
)
def test_majority_vote_matches_a_literal_loop(rows):
    A = np.array(rows)
    np.testing.assert_array_equal(grpo.majority_vote(A), [_literal_vote(r) for r in rows])


def test_majority_vote_ties_go_to_the_answer_seen_first():
    A = np.array([[7, 3, 3, 7], [3, 7, 7, 3], [5, 6, 7, 8], [1, 2, 2, 2]])
    np.testing.assert_array_equal(grpo.majority_vote(A), [7, 3, 5, 2])
    with pytest.raises(ValueError):
        grpo.majority_vote(np.zeros((3, 0)))


def test_consensus_curve_matches_a_literal_loop():
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 5, size=40)
    # right with probability 0.4, else one of 4 wrong answers: voting must help (0.4 > 0.15 each)
    right = rng.random((40, 16)) < 0.4
    A = np.where(right, truth[:, None], (truth[:, None] + rng.integers(1, 5, size=(40, 16))) % 5)
    ks = [1, 2, 5, 16]
    cons, pass1 = grpo.consensus_curve(A, truth, ks)
    ref = [sum(_literal_vote(list(A[i, :k])) == truth[i] for i in range(40)) / 40 for k in ks]
    np.testing.assert_allclose(cons, ref, atol=0)
    assert float(pass1) == pytest.approx(right.mean(), abs=0)


def test_capped_accuracy_matches_a_literal_loop_and_sampling():
    rng = np.random.default_rng(5)
    E, K = 30, 8
    P = rng.dirichlet(np.ones(K + 1), size=E)
    n = rng.integers(1, 6, size=E)
    caps = [0, 1, 3, 8]
    got = grpo.capped_accuracy(P, n, 0.3, caps)
    for c, g in zip(caps, got, strict=True):
        ref = statistics.fmean(
            sum(P[e, k] * 0.7 ** max(n[e] - min(k, c), 0) for k in range(K + 1)) for e in range(E)
        )
        assert g == pytest.approx(ref, abs=1e-12)
    assert np.all(np.diff(got) >= 0)  # a larger budget never hurts in this toy
    # uncapped accuracy = the frequency of right sampled answers (5 binomial standard errors)
    a, b, _ = grpo.sample_problems(E, 5, rng)
    a, b = a % 10**n, b % 10**n
    answers = grpo.sample_answers(a, b, n, P, 2000, 0.3, rng)
    freq = (answers == (a + b)[:, None]).mean()
    N = answers.size
    assert abs(freq - got[-1]) <= 5 * math.sqrt(got[-1] * (1 - got[-1]) / N)


# ---------------------------------------------------------------------------
# The learned reward model and check lines (issue 18)
# ---------------------------------------------------------------------------


def test_reward_model_is_the_regularised_logistic_optimum():
    # at the fitted theta the autograd gradient of mean cross-entropy + l2/2 |theta_1:|^2 is 0 (1e-8)
    rng = np.random.default_rng(6)
    n = rng.integers(1, 6, size=500)
    k = rng.integers(0, 9, size=500)
    c = rng.integers(0, 3, size=500)
    y = rng.random(500) < 0.7 ** np.maximum(n - k, 0)
    rm = grpo.fit_reward_model(n, k, c, y, 5, l2=1e-2)
    X = torch.tensor(grpo.reward_features(n, k, c, 5))
    theta = torch.tensor(rm.theta, requires_grad=True)
    z = X @ theta
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(y, dtype=torch.float64))
    loss = loss + 0.5 * 1e-2 * (theta[1:] ** 2).sum()
    (g,) = torch.autograd.grad(loss, theta)
    assert g.abs().max().item() < 1e-8
    # features: [1, one-hot n, k, c], and the score is their dot product with theta
    assert grpo.reward_features([3], [2], [1], 5).tolist() == [[1, 0, 0, 1, 0, 0, 2, 1]]
    assert rm.score([3], [2], [1])[0] == pytest.approx(rm.theta @ [1, 0, 0, 1, 0, 0, 2, 1], abs=1e-12)


def test_check_counts_fit_the_budget_and_the_base_checks_as_stated():
    head = grpo.CheckHead(4, max_checks=8, p_agree=0.5, p_disagree=0.02, p_one=0.9)
    with torch.no_grad():
        head.lin.weight.zero_()  # the prompt part aside: the stated base probabilities exactly
        x = torch.zeros(4, 4)
        agree = torch.tensor([1, 0, 1, 0])
        k = torch.tensor([0, 0, 8, 5])
        P = grpo.check_logprobs(head(x, agree), k, 8).exp()
    np.testing.assert_allclose(P.sum(1).numpy(), 1.0, atol=1e-6)
    assert P[0, 0].item() == pytest.approx(0.5, abs=1e-6) and P[0, 1].item() == pytest.approx(0.45, abs=1e-6)
    assert P[1, 0].item() == pytest.approx(0.98, abs=1e-6)
    assert P[2, 0].item() == pytest.approx(1.0, abs=1e-6)  # k = 8 leaves no room for a check line
    assert torch.all(P[3, 4:] == 0) and P[3, :4].sum().item() == pytest.approx(1.0, abs=1e-6)  # c <= 8 - 5


def test_train_records_proxy_gold_and_kl_whichever_reward():
    cfg = grpo.Config(num_steps=6, max_checks=8)
    for reward in ("rule", "learned"):
        h = grpo.train("grpo", dataclasses.replace(cfg, reward=reward), seed=1)
        for curve in (h.proxy_reward, h.gold_accuracy, h.kl, h.checks):
            assert curve.shape == (6,) and np.all(np.isfinite(curve))
        assert np.all(h.kl >= 0)
        np.testing.assert_array_equal(h.gold_accuracy, h.pass1)
        if reward == "learned":  # the batch reward is the reward model's score
            np.testing.assert_allclose(h.reward, h.proxy_reward, atol=1e-5)
    with pytest.raises(ValueError):
        grpo.train("grpo", dataclasses.replace(cfg, reward="human"), seed=0)


@pytest.fixture(scope="module")
def hacking():
    """The shipped reward-hacking settings (core.grpo.HACK_CONFIG), seed 0: learned reward and rule."""
    return {
        "learned": grpo.train("grpo", grpo.HACK_CONFIG, seed=0),
        "rule": grpo.train("grpo", dataclasses.replace(grpo.HACK_CONFIG, reward="rule"), seed=0),
    }


@pytest.mark.slow
def test_learned_reward_is_overoptimised_gold_falls_while_proxy_rises(hacking):
    # issue 18 target: after its peak the gold accuracy falls by >= 0.10 while the proxy is still higher
    h = hacking["learned"]
    peak = int(np.argmax(h.gold_accuracy))
    assert h.gold_accuracy[peak] - h.gold_accuracy[peak:].min() >= 0.10
    assert h.gold_accuracy[peak] - h.gold_accuracy[-1] >= 0.10
    assert h.proxy_reward[-5:].mean() > h.proxy_reward[peak]
    # gold first rises with the proxy (Gao et al. 2022, Fig. 1): the peak is well above the base policy
    assert h.gold_accuracy[peak] >= h.gold_accuracy[0] + 0.3
    # the mechanism: check lines crowd out work lines (8-line budget)
    assert h.checks[-5:].mean() >= 3.0 and h.length[-5:].mean() <= h.length[peak] - 2.0
    # what the reward model learned: a check line is worth more than a work line
    assert h.reward_model.theta[-1] > h.reward_model.theta[-2] > 0


@pytest.mark.slow
def test_rule_reward_run_ends_near_its_best(hacking):
    h = hacking["rule"]
    assert h.gold_accuracy.max() - h.gold_accuracy[-1] <= 0.05
    assert h.gold_accuracy[-1] >= h.gold_accuracy[0] + 0.3
    # same base policy and same reward model for both runs: the proxy is recorded, not trained on
    np.testing.assert_array_equal(h.reward_model.theta, hacking["learned"].reward_model.theta)
    assert h.gold_accuracy[0] == pytest.approx(hacking["learned"].gold_accuracy[0], abs=1e-12)


@pytest.mark.slow
def test_a_larger_beta_holds_off_the_hack(hacking):
    # issue 18: beta as a control. With beta = 0.2 and 0.5 the gold accuracy never falls 0.10 below its
    # peak in the shipped 100 steps, while with the default beta = 0.04 it does (see the test above).
    for beta in (0.2, 0.5):
        h = grpo.train("grpo", dataclasses.replace(grpo.HACK_CONFIG, beta=beta), seed=0)
        g = h.gold_accuracy
        assert np.all(g[int(np.argmax(g)) :] >= g.max() - 0.10), beta
        assert h.checks[-10:].mean() < hacking["learned"].checks[-10:].mean() - 2.0, beta


@pytest.mark.slow
def test_shipped_runs_match_a_recomputed_run(hacking, runs):
    # assets/grpo_runs.npz was written by scripts/precompute_grpo_runs.py with these calls;
    # recomputing two of them must give the same curves (float32 training; tolerance 1e-6)
    from pathlib import Path

    with np.load(Path(__file__).resolve().parents[2] / "assets" / "grpo_runs.npz") as z:
        # train("grpo") with its defaults is the shipped train("grpo", Config(), seed=0)
        np.testing.assert_allclose(z["base_grpo/length_probs"], runs["grpo"].length_probs, atol=1e-6)
        for name, h in (("hack_learned_0.04", hacking["learned"]), ("hack_rule_0.04", hacking["rule"])):
            for curve in ("proxy_reward", "gold_accuracy", "kl", "length", "checks"):
                np.testing.assert_allclose(z[f"{name}/{curve}"], getattr(h, curve), atol=1e-6, err_msg=name)


def test_check_tokens_sum_to_the_count_log_probability():
    # per-line tokens (c "write another" tokens and the stop) sum to log P(c) (1e-12), for every c that fits
    z = torch.randn(6, 9, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    k = torch.tensor([0, 2, 5, 8, 3, 7])
    logP = grpo.check_logprobs(z, k, 8)
    np.testing.assert_allclose(logP.exp().sum(1).numpy(), 1.0, atol=1e-12)
    for c in range(9):
        cc = torch.full((6,), c)
        fits = c <= 8 - k
        tok, mask = grpo.check_token_logprobs(z, cc, k, 8)
        np.testing.assert_allclose(tok.sum(1)[fits].numpy(), logP[fits, c].numpy(), atol=1e-12)
        assert torch.all(mask.sum(1) == c + 1)
        assert mask.dtype == z.dtype  # a 0/1 mask in the logits' dtype, concatenated with the work-line mask
        assert torch.all(torch.isinf(logP[~fits, c]))


# ---------------------------------------------------------------------------
# Mutation testing (issue 21): every branch of the formulas against a literal reference
# ---------------------------------------------------------------------------


def _exact_k3(d: float) -> float:
    """e^d - d - 1 in 400-digit Decimal arithmetic (the closed form of the k3 estimator)."""
    with localcontext() as ctx:
        ctx.prec = 400
        D = Decimal(d)
        return float(D.exp() - D - 1)


# d = log pi_ref - log pi on both sides of the series switch at |d| = 1e-3, and far from it
K3_DS = [-6.0, -0.9, -0.05, -2e-3, -9e-4, -1e-5, 1e-7, 4e-4, 9.9e-4, 1.01e-3, 0.3, 0.999, 1.5, 4.0]


@pytest.mark.parametrize("d", K3_DS)
def test_kl_k3_torch_and_numpy_equal_exact_arithmetic_at_every_range(d):
    # relative tolerance 1e-10: the 4-term series omits d^5/120, d^3/60 < 1.7e-11 relative for |d| < 1e-3;
    # expm1(d) - d is good to ~1e-13 relative at |d| = 1e-3 (float64)
    logp = -1.25
    got_np = float(grpo.kl_k3(np.array(logp), np.array(logp + d)))
    got_t = grpo.kl_k3(torch.tensor(logp, dtype=torch.float64), torch.tensor(logp + d, dtype=torch.float64))
    # logp + d rounds d by up to an ulp of 1.25 (2.2e-16): compare with the d actually represented
    d_rep = (logp + d) - logp
    ref = _exact_k3(d_rep)
    assert got_np == pytest.approx(ref, rel=1e-10, abs=0)
    assert got_t.item() == pytest.approx(ref, rel=1e-10, abs=0)
    # one tensor argument is enough for the torch branch (the other, a float64 array, is converted)
    got = grpo.kl_k3(torch.tensor(logp, dtype=torch.float64), np.array(logp + d))
    assert isinstance(got, torch.Tensor) and got.item() == pytest.approx(ref, rel=1e-10, abs=0)
    got = grpo.kl_k3(np.array(logp), torch.tensor(logp + d, dtype=torch.float64))
    assert isinstance(got, torch.Tensor) and got.item() == pytest.approx(ref, rel=1e-10, abs=0)


def test_kl_k3_series_and_direct_agree_at_the_switch():
    # just below and above |d| = 1e-3 both formulas give the exact value to 1e-10 relative (see above)
    for d in (-1e-3 * (1 - 1e-9), 1e-3 * (1 - 1e-9), -1e-3 * (1 + 1e-9), 1e-3 * (1 + 1e-9)):
        assert float(grpo.kl_k3(0.0, d)) == pytest.approx(_exact_k3(d), rel=1e-10, abs=0)
        t = grpo.kl_k3(torch.tensor(0.0, dtype=torch.float64), torch.tensor(d, dtype=torch.float64))
        assert t.item() == pytest.approx(_exact_k3(d), rel=1e-10, abs=0)
    # at |d| = 1e-3 itself the direct expm1(d) - d applies (the series only below): 2e-13 from exact,
    # where the series would be 1.7e-11 off; tolerance 1e-12 relative
    for d in (-1e-3, 1e-3):
        assert float(grpo.kl_k3(0.0, d)) == pytest.approx(_exact_k3(d), rel=1e-12, abs=0)
        t = grpo.kl_k3(torch.tensor(0.0, dtype=torch.float64), torch.tensor(d, dtype=torch.float64))
        assert t.item() == pytest.approx(_exact_k3(d), rel=1e-12, abs=0)


def test_group_advantages_torch_matches_a_literal_loop_with_default_and_given_eps():
    # reference: statistics.fmean / pstdev (ddof 0), row by row; tolerance 1e-12 (float64)
    rows = [[0.3, -1.2, 2.5, 0.0, 0.7], [1.0, 1.0, 0.0, 0.0, 1.0], [4.0, 4.0, 4.0, 4.0, 4.0]]
    for eps in (None, 0.0, 0.25):
        kw = {} if eps is None else {"eps": eps}
        e = 1e-6 if eps is None else eps
        ref = []
        for row in rows:
            mu, sd = statistics.fmean(row), statistics.pstdev(row)
            ref.append([0.0 if max(row) == min(row) else (x - mu) / (sd + e) for x in row])
        got_t = grpo.group_advantages(torch.tensor(rows, dtype=torch.float64), **kw)
        np.testing.assert_allclose(got_t.numpy(), ref, rtol=1e-12, atol=1e-12)
        with np.errstate(invalid="ignore"):  # eps = 0: the all-equal row is 0 / 0 before np.where sets 0
            got = grpo.group_advantages(rows, **kw)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    # a 3-d batch: groups along the last axis only
    r = torch.tensor(rows, dtype=torch.float64).reshape(1, 3, 5).repeat(2, 1, 1)
    np.testing.assert_allclose(grpo.group_advantages(r).numpy()[1], _ref_default(rows), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grpo.group_advantages(r.numpy())[1], _ref_default(rows), rtol=1e-12, atol=1e-12)


def _ref_default(rows):
    out = []
    for row in rows:
        mu, sd = statistics.fmean(row), statistics.pstdev(row)
        out.append([0.0 if max(row) == min(row) else (x - mu) / (sd + 1e-6) for x in row])
    return out


def _literal_clip(rho: float, A: float, eps: float) -> float:
    """min(rho A, clip(rho, 1 - eps, 1 + eps) A) with Python's min and max."""
    return min(rho * A, max(1 - eps, min(rho, 1 + eps)) * A)


def test_clipped_objective_torch_and_numpy_match_a_literal_loop():
    # ratios on both sides of and at the clip edges, both signs of A, two epsilons; tolerance 1e-12
    rhos = [0.1, 0.7, 0.75, 0.8, 0.95, 1.0, 1.1, 1.2, 1.25, 1.3, 2.5]
    As = [-1.7, -0.2, 0.0, 0.4, 3.0]
    for eps in (0.2, 0.3):
        ref = [[_literal_clip(r, a, eps) for a in As] for r in rhos]
        rho_t = torch.tensor(rhos, dtype=torch.float64)[:, None]
        A_t = torch.tensor(As, dtype=torch.float64)[None, :]
        np.testing.assert_allclose(grpo.clipped_objective(rho_t, A_t, eps).numpy(), ref, atol=1e-12)
        np.testing.assert_allclose(
            grpo.clipped_objective(np.array(rhos)[:, None], np.array(As)[None, :], eps), ref, atol=1e-12
        )
        # one tensor argument is enough for the torch branch
        got = grpo.clipped_objective(rho_t, np.array(As)[None, :], eps)
        assert isinstance(got, torch.Tensor)
        np.testing.assert_allclose(got.numpy(), ref, atol=1e-12)
        got = grpo.clipped_objective(np.array(rhos)[:, None], A_t, eps)
        assert isinstance(got, torch.Tensor)
        np.testing.assert_allclose(got.numpy(), ref, atol=1e-12)


def _literal_policy_loss(logp, logp_old, logp_ref, A, mask, eps, beta, token_mean):
    """-J as a plain double loop over responses i and tokens t (Shao et al. 2024, eq. 3)."""
    total = 0.0
    for i in range(len(logp)):
        s, n = 0.0, 0.0
        for t in range(len(logp[i])):
            if mask[i][t] == 0:
                continue
            rho = math.exp(logp[i][t] - logp_old[i][t])
            d = logp_ref[i][t] - logp[i][t]
            s += _literal_clip(rho, A[i], eps) - beta * (math.exp(d) - d - 1)
            n += 1
        total += s / n if token_mean else s
    return -total / len(logp)


@pytest.mark.parametrize("token_mean", [False, True])
def test_policy_loss_matches_a_literal_loop_off_policy_with_kl(token_mean):
    # rho != 1 (some tokens clipped), beta > 0 and a reference policy != old; tolerance 1e-12
    gen = torch.Generator().manual_seed(11)
    N, T = 5, 6
    logp_old = -torch.rand(N, T, generator=gen, dtype=torch.float64) * 3
    logp = logp_old + 0.4 * torch.randn(N, T, generator=gen, dtype=torch.float64)
    logp_ref = logp_old + 0.3 * torch.randn(N, T, generator=gen, dtype=torch.float64)
    A = torch.tensor([1.3, -0.7, 0.0, 2.0, -1.5], dtype=torch.float64)
    lengths = torch.tensor([1, 3, 6, 2, 4])
    mask = (torch.arange(T)[None, :] < lengths[:, None]).double()
    got = grpo.policy_loss(logp, logp_old, logp_ref, A, mask, 0.2, 0.3, token_mean=token_mean)
    ref = _literal_policy_loss(
        logp.tolist(), logp_old.tolist(), logp_ref.tolist(), A.tolist(), mask.tolist(), 0.2, 0.3, token_mean
    )
    assert got.item() == pytest.approx(ref, abs=1e-12)
    if not token_mean:  # the default is the sum over tokens (Dr. GRPO)
        assert grpo.policy_loss(logp, logp_old, logp_ref, A, mask, 0.2, 0.3).item() == pytest.approx(ref, abs=1e-12)


def test_adam_defaults_are_kingma_and_ba_over_several_steps():
    # Algorithm 1's defaults beta1 = 0.9, beta2 = 0.999, eps = 1e-8 (step 1 cannot tell the betas apart:
    # the bias correction cancels them), against the literal loop over 5 steps; rtol 1e-12
    rng = np.random.default_rng(8)
    p0 = [0.5, -1.0, 2.0]
    grads = rng.normal(size=(5, 3)) * np.array([1.0, 1e-3, 1e-7])
    p = torch.tensor(p0, dtype=torch.float64)
    opt = grpo.Adam([p], lr=0.01)
    for g in grads:
        opt.step((torch.tensor(g, dtype=torch.float64),))
    np.testing.assert_allclose(p.numpy(), _literal_adam(p0, grads.tolist(), 0.01), rtol=1e-12)
    assert opt.t == 5


def test_adam_rejects_a_gradient_per_parameter_mismatch():
    # one gradient per parameter: a missing gradient is an error, not a parameter silently left alone
    p, q = torch.zeros(2), torch.zeros(3)
    opt = grpo.Adam([p, q], lr=0.1)
    with pytest.raises(ValueError, match="zip"):
        opt.step((torch.ones(2),))
    # the parameters require grad (they are a network's): the in-place update runs without autograd
    w = torch.ones(2, requires_grad=True)
    grpo.Adam([w], lr=0.1).step((torch.ones(2),))
    assert w.grad_fn is None and w.tolist() == pytest.approx([0.9, 0.9], abs=1e-6)


def test_rule_reward_format_term_starts_at_one_thinking_token():
    # r = 1[correct] + w 1[k >= 1] - c k, by hand: k = 1 already earns the format reward
    r = grpo.rule_reward([0, 1, 1, 0], [0, 1, 1, 4], length_cost=0.25, format_weight=0.5)
    np.testing.assert_allclose(r, [0.0, 1.0 + 0.5 - 0.25, 1.0 + 0.5 - 0.25, 0.5 - 1.0], atol=1e-12)
    # the format weight defaults to 0 (the page's original toy): only correctness and length
    np.testing.assert_allclose(grpo.rule_reward([1, 0, 1], [0, 1, 3], 0.1), [1.0, -0.1, 0.7], atol=1e-12)


def test_majority_vote_rejects_what_is_not_a_table_of_answers_with_its_message():
    for bad in (np.zeros((3, 0)), np.array([1, 2, 3]), np.zeros((2, 2, 2))):
        with pytest.raises(ValueError, match=r"must have shape \(N, k\) with k >= 1"):
            grpo.majority_vote(bad)
    # one answer per row is a valid vote: itself
    np.testing.assert_array_equal(grpo.majority_vote(np.array([[4], [9]])), [4, 9])


def test_kl_k3_is_inf_without_a_warning_when_exp_overflows():
    # d = 800 > ln(max float64) = 709.8: e^d - d - 1 is +inf, and the numpy path says so quietly
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert grpo.kl_k3(np.array(0.0), np.array(800.0)) == np.inf


def test_equal_groups_are_zero_even_when_their_mean_is_inexact_and_not_the_batch_max():
    # six rewards of 0.7: their float mean is 0.7 - 1e-16, so (r - mean) / (std + eps) is -1.1e-10, not 0;
    # the all-equal test must look at each group alone (a group of 5.0s, the batch max, is the easy case).
    # Reference: exact 0 for all-equal groups, else (r - fmean) / (pstdev + 1e-6) (statistics module), 1e-12
    rows = [[0.7] * 6, [0.1, 0.9, 0.4, 0.2, 0.6, 0.3], [5.0] * 6]
    ref = []
    for row in rows:
        mu, sd = statistics.fmean(row), statistics.pstdev(row)
        ref.append([0.0] * 6 if max(row) == min(row) else [(x - mu) / (sd + 1e-6) for x in row])
    batch = np.array([rows, rows[::-1]])  # (2, 3, 6): groups along the last axis only
    ref3 = np.array([ref, ref[::-1]])
    for r, expected in ((np.array(rows), np.array(ref)), (batch, ref3)):
        got_np = grpo.group_advantages(r)
        got_t = grpo.group_advantages(torch.tensor(r)).numpy()
        for got in (got_np, got_t):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
            assert np.all(got[expected == 0.0] == 0.0)  # exactly


# ---------------------------------------------------------------------------
# toy-task helpers against literal references (issue 21: their mutants)
# ---------------------------------------------------------------------------


def test_sample_problems_are_uniform_n_digit_int64_numbers():
    # reference: n-digit numbers by their decimal string; uniformity by counts within 6 binomial SE
    N = 6000
    a, b, n = grpo.sample_problems(N, 3, np.random.default_rng(4))
    assert a.shape == b.shape == n.shape == (N,)
    assert a.dtype == b.dtype == n.dtype == np.int64
    assert set(np.unique(n).tolist()) == {1, 2, 3}
    for x in (a, b):
        assert all(len(str(int(v))) == int(d) for v, d in zip(x, n, strict=True))
        one = x[n == 1]
        counts = np.bincount(one, minlength=10)
        p = 0.1
        assert counts.shape == (10,)  # 0..9, all one-digit
        assert np.all(np.abs(counts / len(one) - p) <= 6 * math.sqrt(p * (1 - p) / len(one)))
        three = x[n == 3]  # U{100..999}: mean 549.5, sd 259.8
        assert abs(three.mean() - 549.5) <= 6 * 259.8 / math.sqrt(len(three))
        assert three.min() < 110 and three.max() > 989
    assert not np.array_equal(a, b)


def test_encode_prompts_matches_a_literal_string_loop():
    # reference: each slot j of a number is its j-th decimal digit from the right if j < n, else symbol 10
    a = np.array([7, 58, 305, 0, 40])
    b = np.array([9, 67, 999, 3, 4])
    n = np.array([1, 2, 3, 1, 2])
    D = 4
    X = grpo.encode_prompts(a, b, n, D)
    assert X.shape == (5, 2 * D * 11) and X.dtype == np.float32
    for i in range(5):
        expected = np.zeros((2, D, 11))
        for s, x in enumerate((a[i], b[i])):
            text = str(int(x)).zfill(D)[::-1]
            for j in range(D):
                expected[s, j, int(text[j]) if j < n[i] else 10] = 1.0
        np.testing.assert_array_equal(X[i], expected.reshape(-1))


def test_solve_writes_exact_worked_columns_and_slips_every_other_column():
    # reference: digit-by-digit comparison with str(a + b); slip 0 -> exact, slip 1 -> exactly the
    # columns k <= t < n differ, each by a shift uniform on 1..9 (counts within 6 binomial SE)
    rng = np.random.default_rng(5)
    a = np.array([99, 58, 305, 5, 999, 12])
    b = np.array([99, 67, 999, 7, 1, 34])
    n = np.array([2, 2, 3, 1, 3, 2])
    for k in range(5):
        np.testing.assert_array_equal(grpo.solve(a, b, n, np.full(6, k), 0.0, rng), a + b)
    shifts = []
    for k in range(5):
        for _ in range(40):
            out = grpo.solve(a, b, n, np.full(6, k), 1.0, rng)
            for i in range(6):
                true = str(int(a[i] + b[i])).zfill(5)[::-1]
                got = str(int(out[i])).zfill(5)[::-1]
                assert len(str(int(out[i]))) <= 5
                for t in range(5):
                    if k <= t < n[i]:
                        assert got[t] != true[t]
                        shifts.append((int(got[t]) - int(true[t])) % 10)
                    else:
                        assert got[t] == true[t]
    counts = np.bincount(shifts, minlength=10)
    assert counts[0] == 0
    p, N = 1 / 9, len(shifts)
    assert np.all(np.abs(counts[1:] / N - p) <= 6 * math.sqrt(p * (1 - p) / N))


def test_reward_features_match_a_literal_loop():
    # reference: [1, 1[n == 1..D], k, c] built row by row
    n, k, c = [1, 4, 2, 4], [0, 3, 7, 1], [2, 0, 1, 5]
    X = grpo.reward_features(n, k, c, 4)
    assert X.shape == (4, 7) and X.dtype == np.float64
    for i in range(4):
        row = [1.0] + [1.0 if n[i] == d else 0.0 for d in range(1, 5)] + [float(k[i]), float(c[i])]
        assert X[i].tolist() == row


def test_render_response_and_render_checked_against_hand_written_text():
    # reference: the texts written out by hand (column sums with the carry shown when it is 1)
    assert grpo.render_response(5, 7, 2, 12) == "<think>5+7=12; 0+0+1=1</think><answer>12</answer>"
    assert grpo.render_response(305, 999, 3, 1304) == (
        "<think>5+9=14; 0+9+1=10; 3+9+1=13</think><answer>1304</answer>"
    )
    assert grpo.render_response(12, 34, 1, 46) == "<think>2+4=6</think><answer>46</answer>"
    assert grpo.render_checked(12, 34, 0, 0, 46) == "<answer>46</answer>"
    assert grpo.render_checked(12, 34, 1, 0, 46) == "<think>2+4=6</think><answer>46</answer>"
    assert grpo.render_checked(12, 34, 0, 2, 46) == (
        "<think>check: 12+34=46 ✓; check: 12+34=46 ✓</think><answer>46</answer>"
    )
    assert grpo.render_checked(58, 67, 2, 1, 125) == (
        "<think>8+7=15; 5+6+1=12; check: 58+67=125 ✓</think><answer>125</answer>"
    )


def test_solve_slips_on_u_below_slip_and_draws_a_shift_per_column():
    # P(u < slip) = slip exactly for u ~ U[0, 1): a draw equal to slip (here forced by a stub
    # generator) does not slip; and one call draws an independent shift for every row and column
    class Stub:
        def __init__(self, u):
            self.u, self.rng = u, np.random.default_rng(0)

        def random(self, shape):
            return np.full(shape, self.u)

        def integers(self, lo, hi, size=None):
            return self.rng.integers(lo, hi, size=size)

    a, b, n = np.array([58, 305]), np.array([67, 999]), np.array([2, 3])
    for u in (0.0, 0.5):
        np.testing.assert_array_equal(grpo.solve(a, b, n, np.zeros(2, int), u, Stub(u)), a + b)
    N = 400
    a, b, n = np.full(N, 55), np.full(N, 44), np.full(N, 2)
    out = grpo.solve(a, b, n, np.zeros(N, int), 1.0, np.random.default_rng(8))
    units, tens = (out % 10 - 9) % 10, (out // 10 % 10 - 9) % 10  # true digits 9, 9
    assert set(units.tolist()) == set(range(1, 10)) and set(tens.tolist()) == set(range(1, 10))
    assert np.mean(units == tens) < 0.25  # independent columns: P(equal) = 1/9


def test_solve_writes_a_slipped_digit_as_d_plus_shift_mod_10():
    # the stated rule (d + U{1..9}) mod 10, with the shift forced to 3 by a stub generator:
    # 58 + 67 = 125, k = 0, every draw slips -> units 5 -> 8, tens 2 -> 5, hundreds (carry) kept: 158
    class Stub:
        def random(self, shape):
            return np.zeros(shape)

        def integers(self, lo, hi, size=None):
            assert (lo, hi) == (1, 10)
            return np.full(size, 3)

    out = grpo.solve(np.array([58, 99]), np.array([67, 99]), np.array([2, 2]), np.zeros(2, int), 0.5, Stub())
    assert out.tolist() == [158, 121] and out.dtype == np.int64  # 99 + 99 = 198: 8 -> 1, 9 -> 2


def test_sample_answers_draws_k_by_inverse_cdf_then_solves():
    # reference: a literal loop k = min(#{j : cdf_j < u}, K) for given uniforms u (a stub generator),
    # read back from the answers: with slip 1 exactly the columns k <= t < n are wrong, so k = n - #wrong
    u = np.array([[0.0, 0.25, 0.3, 0.5, 0.75, 0.99], [0.1, 0.2, 0.45, 0.7, 0.95, 0.999]])
    P = np.array([[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.2]])  # 2nd row sums to 0.95 < u

    class Stub:
        def __init__(self):
            self.calls, self.rng = 0, np.random.default_rng(9)

        def random(self, shape):
            self.calls += 1
            return u.copy() if self.calls == 1 else np.zeros(shape)

        def integers(self, lo, hi, size=None):
            return self.rng.integers(lo, hi, size=size)

    a, b, n = np.array([1234, 4567]), np.array([4321, 1111]), np.array([4, 4])  # n > K: k = K is visible
    ans = grpo.sample_answers(a, b, n, P, 6, 1.0, Stub())
    assert ans.shape == (2, 6) and ans.dtype == np.int64
    for e in range(2):
        cdf = np.cumsum(P[e])
        for s in range(6):
            k_ref = min(sum(c < u[e, s] for c in cdf), 3)
            true, got = str(int(a[e] + b[e])).zfill(5), str(int(ans[e, s])).zfill(5)
            wrong = sum(x != y for x, y in zip(true, got, strict=True))
            assert 4 - wrong == k_ref, (e, s)
    # and with a real generator: P(right) = P(k >= n) under slip 1, per prompt within 6 binomial SE
    m = 3000
    P = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.1, 0.1, 0.3]])
    n = np.array([2, 1])
    a, b = np.array([12, 5]), np.array([34, 3])
    ans = grpo.sample_answers(a, b, n, P, m, 1.0, np.random.default_rng(10))
    for e in range(2):
        p = P[e, n[e] :].sum()
        freq = (ans[e] == a[e] + b[e]).mean()
        assert abs(freq - p) <= 6 * math.sqrt(p * (1 - p) / m)


def test_example_group_matches_the_stated_construction():
    # references: decimal strings of the answers (a wrong one differs from a + b in exactly one
    # column t with k <= t < n), the reward formula and pstdev written out, k's stated ranges
    # U{0..n+1} (right) and U{0..n-1} (wrong) all reached over seeds
    ks_right, ks_wrong, cols, shifts = set(), set(), set(), set()
    spread_right = spread_wrong = False  # k is drawn per response, not once per group
    for seed in range(40):
        G, c = 6, seed % 7
        g = grpo.example_group(c, G, 0.1, 0.5, seed=seed, max_digits=2)
        n = len(str(max(g.a, g.b)))
        assert g.num_digits == n and 1 <= n <= 2 and len(g.texts) == G
        assert g.correct.dtype == bool and int(g.correct.sum()) == c
        truth = str(g.a + g.b).zfill(4)[::-1]
        for i in range(G):
            k = int(g.thinking_steps[i])
            think = g.texts[i].split("</think>")[0].removeprefix("<think>") if k else ""
            assert len(think.split("; ")) == k if k else "<think>" not in g.texts[i]
            ans = str(int(g.texts[i].split("<answer>")[1].split("</answer>")[0])).zfill(4)[::-1]
            diff = [t for t in range(4) if ans[t] != truth[t]]
            if g.correct[i]:
                assert diff == [] and 0 <= k <= n + 1
                ks_right.add((n, k))
            else:
                assert len(diff) == 1 and k <= diff[0] < n
                ks_wrong.add((n, k))
                cols.add((n, k, diff[0]))
                shifts.add((int(ans[diff[0]]) - int(truth[diff[0]])) % 10)
        spread_right |= len(set(g.thinking_steps[g.correct].tolist())) > 1
        spread_wrong |= len(set(g.thinking_steps[~g.correct].tolist())) > 1
        k_all = g.thinking_steps
        r_ref = [1.0 * g.correct[i] + 0.5 * (k_all[i] >= 1) - 0.1 * k_all[i] for i in range(G)]
        np.testing.assert_allclose(g.rewards, r_ref, atol=1e-12)
        mu, sd = statistics.fmean(r_ref), statistics.pstdev(r_ref)
        np.testing.assert_allclose(g.advantages, [(r - mu) / (sd + 1e-6) for r in r_ref], atol=1e-9)
    assert {k for n, k in ks_right if n == 2} == {0, 1, 2, 3}
    assert {k for n, k in ks_wrong if n == 2} == {0, 1}
    assert {(k, t) for n, k, t in cols if n == 2} == {(0, 0), (0, 1), (1, 1)}
    assert shifts == set(range(1, 10)) and spread_right and spread_wrong  # a slip writes any other digit
    # the default max_digits is 3, and a seed gives the same group every time
    assert {grpo.example_group(3, 4, 0.0, 0.0, seed=s).num_digits for s in range(30)} == {1, 2, 3}
    g1, g2 = grpo.example_group(3, 6, 0.1, 0.2, seed=5), grpo.example_group(3, 6, 0.1, 0.2, seed=5)
    assert (g1.a, g1.b, g1.texts) == (g2.a, g2.b, g2.texts)
    # num_correct is clipped to 0..G
    assert grpo.example_group(-3, 4, 0.0, 0.0, seed=1).correct.sum() == 0
    assert grpo.example_group(9, 4, 0.0, 0.0, seed=1).correct.sum() == 4


def test_check_logprobs_match_a_literal_loop():
    # reference: P(c) = s(z_c) prod_{j<c} (1 - s(z_j)) for c < L = K - k, the stop forced at c = L,
    # P(c > L) = 0 (log -inf), s the logistic function in math; float64, tolerance 1e-12
    z = torch.randn(5, 9, generator=torch.Generator().manual_seed(11), dtype=torch.float64) * 2
    k = torch.tensor([0, 3, 8, 6, 1])
    got = grpo.check_logprobs(z, k, 8)
    assert got.shape == (5, 9)
    for i in range(5):
        L = 8 - int(k[i])
        s = [1 / (1 + math.exp(-float(v))) for v in z[i]]
        for c in range(9):
            if c > L:
                assert got[i, c].item() == -math.inf
                continue
            p = (s[c] if c < L else 1.0) * math.prod(1 - s[j] for j in range(c))
            assert got[i, c].item() == pytest.approx(math.log(p), abs=1e-12)


def test_check_head_starts_as_stated_and_adds_the_agree_offset():
    # references: torch's default nn.Linear init under the same seed, scaled by 0.1; the logits
    # log(p / (1 - p)) written with math (1e-6: the parameters are set in float32, then cast);
    # z = x W^T + b + agree * d as a literal sum in float64 (1e-12)
    torch.manual_seed(12)
    ref = torch.nn.Linear(3, 5).double()
    torch.manual_seed(12)
    head = grpo.CheckHead(3, max_checks=4, p_agree=0.6, p_disagree=0.05, p_one=0.8).double()
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    np.testing.assert_allclose(head.lin.weight.detach().numpy(), 0.1 * ref.weight.detach().numpy(), atol=1e-7)
    assert head.lin.bias.tolist() == pytest.approx([logit(0.95)] + [logit(0.8)] * 4, abs=1e-6)
    assert head.agree.tolist() == pytest.approx([logit(0.4) - logit(0.95), 0, 0, 0, 0], abs=1e-6)
    default = grpo.CheckHead(3, max_checks=2, p_agree=0.6, p_disagree=0.05)  # p_one = 0.95 by default
    assert default.lin.bias.tolist()[1:] == pytest.approx([logit(0.95)] * 2, abs=1e-6)
    with torch.no_grad():
        head.agree.copy_(torch.tensor([0.5, -1.0, 2.0, 0.0, 3.0]))
        x = torch.randn(4, 3, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
        agree = torch.tensor([1, 0, 1, 0])
        z = head(x, agree)
    W, b, d = head.lin.weight.detach(), head.lin.bias.detach(), head.agree.detach()
    for i in range(4):
        for j in range(5):
            dot = sum(float(x[i, m]) * float(W[j, m]) for m in range(3))
            lit = dot + float(b[j]) + int(agree[i]) * float(d[j])
            assert z[i, j].item() == pytest.approx(lit, abs=1e-12)


def test_reward_model_score_is_the_feature_dot_theta():
    # reference: theta . [1, one-hot n, k, c] summed by hand
    rm = grpo.RewardModel(np.array([0.5, 1.0, -2.0, 3.0, 0.25, -0.75]), max_digits=3)
    s = rm.score([1, 3, 2], [0, 4, 2], [2, 0, 1])
    expected = [0.5 + 1.0 - 0.75 * 2, 0.5 + 3.0 + 0.25 * 4, 0.5 - 2.0 + 0.25 * 2 - 0.75]
    np.testing.assert_allclose(s, expected, atol=1e-12)


def test_policy_starts_as_the_stated_base_model():
    # references: torch's default nn.Linear init under the same seed (the body as is, the head x 0.1),
    # the stop logit log(p / (1 - p)) in math (1e-6: float32 parameters), tanh written as a sum of exps
    torch.manual_seed(14)
    body, head = torch.nn.Linear(3, 4), torch.nn.Linear(4, 6)
    torch.manual_seed(14)
    pol = grpo.Policy(3, 4, 5, init_stop=0.7)
    np.testing.assert_allclose(pol.body[0].weight.detach().numpy(), body.weight.detach().numpy(), atol=0)
    w = head.weight.detach().numpy()
    np.testing.assert_allclose(pol.head.weight.detach().numpy(), 0.1 * w, atol=1e-7)
    assert pol.head.bias.tolist() == pytest.approx([math.log(0.7 / 0.3)] * 6, abs=1e-6)
    x = torch.randn(2, 3, generator=torch.Generator().manual_seed(15))
    with torch.no_grad():
        pre = x @ body.weight.T + body.bias
        h = (torch.exp(pre) - torch.exp(-pre)) / (torch.exp(pre) + torch.exp(-pre))
        np.testing.assert_allclose(pol(x).numpy(), (h @ pol.head.weight.T + pol.head.bias).numpy(), atol=1e-6)
