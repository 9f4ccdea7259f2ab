"""core.grpo's training loop against a literal one, on tiny seeded configurations.

`tests/core/test_grpo.py` checks every formula the trainer is built from (advantages,
k3, the clipped surrogate, the loss, Adam, the hazard model, the check head, the
reward model's optimum) against its own reference, and checks that every method
learns on the shipped configuration. What those tests cannot see is the wiring of
`train`: which stream draws what, which policy samples, which tensor reaches which
argument, what each recorded curve averages. Here the procedure of the module
docstring is written out once more, step by step, from the checked primitives; the
records (pass@1, the exact KL including the chain rule over check lines, the
per-digit lengths, the fraction of all-zero groups) are recomputed by literal loops
in float64 from the policy's probabilities.

Both loops draw the same random numbers in the same order (numpy stream `seed` for
problems and slips, torch generator `seed` for lengths and check counts, torch's
global stream for the initial weights, streams 10_000 + seed for the eval prompts and
20_000 + seed for the reward model's data), so every sampled quantity must agree
exactly and every float record to 1e-6 (float32 training, float64 reference).
Each configuration runs in well under a second.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from core import grpo

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/core/conftest.py

TINY = grpo.Config(
    group_size=4,
    num_prompts=3,
    num_steps=4,
    learning_rate=0.05,
    beta=0.1,
    epsilon=0.1,
    num_inner=2,
    max_digits=3,
    max_think=4,
    slip=0.25,
    hidden=6,
    init_stop=0.5,
    num_eval=9,
    rm_samples=60,
)

# (method, config, seed): every method, both rewards, with and without check lines (1 and 3 lines),
# both loss normalisations, the format and length terms, and eval prompts that miss a digit count
CASES = [
    ("grpo", dataclasses.replace(TINY, length_cost=0.1, format_weight=0.2), 3),
    ("reinforce", dataclasses.replace(TINY, token_mean=True, num_eval=2), 4),
    ("ppo", TINY, 5),
    ("grpo", dataclasses.replace(TINY, reward="learned", max_checks=3), 6),
    ("ppo", dataclasses.replace(TINY, max_checks=1, num_inner=1, reward="learned"), 7),
    (
        "reinforce",
        dataclasses.replace(
            TINY,
            max_checks=2,
            format_weight=0.5,
            init_stop=0.3,
            check_agree=0.4,
            check_disagree=0.05,
            check_one=0.8,
        ),
        8,
    ),
]


def literal_reward_model(cfg: grpo.Config, ref: grpo.Policy, ref_check: grpo.CheckHead | None, seed: int):
    """The reward model's data: rm_samples base-policy responses on streams 20_000 + seed, rule-labelled."""
    rng = np.random.default_rng(20_000 + seed)
    gen = torch.Generator().manual_seed(20_000 + seed)
    D, K = cfg.max_digits, cfg.max_think
    a, b, n = grpo.sample_problems(cfg.rm_samples, D, rng)
    x = torch.from_numpy(grpo.encode_prompts(a, b, n, D))
    with torch.no_grad():
        P = grpo.length_logprobs(ref(x)).exp()  # (N, K+1)
        k = torch.multinomial(P, 1, generator=gen)[:, 0]
        right = grpo.solve(a, b, n, k.numpy(), cfg.slip, rng) == a + b
        c = torch.zeros_like(k)
        if ref_check is not None:  # the base check head, told whether its re-add agrees (= right)
            Pc = grpo.check_logprobs(ref_check(x, torch.from_numpy(right)), k, K).exp()
            c = torch.multinomial(Pc, 1, generator=gen)[:, 0]
    return grpo.fit_reward_model(n, k.numpy(), c.numpy(), right, D)


def literal_train(method: str, cfg: grpo.Config, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    B, G, D, K, C = cfg.num_prompts, cfg.group_size, cfg.max_digits, cfg.max_think, cfg.max_checks
    in_dim = grpo.encode_prompts(np.array([1]), np.array([1]), np.array([1]), D).shape[1]

    # initial weights from the global stream, in this order: policy, its frozen copy (drawn, then
    # overwritten with the policy's), the critic (PPO only), the check head and its frozen copy
    policy = grpo.Policy(in_dim, cfg.hidden, K, cfg.init_stop)
    ref = grpo.Policy(in_dim, cfg.hidden, K, cfg.init_stop)
    ref.load_state_dict(policy.state_dict())
    value = check = ref_check = None
    if method == "ppo":
        value = nn.Sequential(nn.Linear(in_dim, cfg.hidden), nn.Tanh(), nn.Linear(cfg.hidden, 1))
    if C >= 1:
        check = grpo.CheckHead(in_dim, C, cfg.check_agree, cfg.check_disagree, cfg.check_one)
        ref_check = grpo.CheckHead(in_dim, C, cfg.check_agree, cfg.check_disagree, cfg.check_one)
        ref_check.load_state_dict(check.state_dict())
    trained = [policy] + [m for m in (value, check) if m is not None]
    params = [p for m in trained for p in m.parameters()]
    opt = grpo.Adam(params, lr=cfg.learning_rate)
    rm = literal_reward_model(cfg, ref, ref_check, seed)

    ea, eb, en = grpo.sample_problems(cfg.num_eval, D, np.random.default_rng(10_000 + seed))
    x_eval = torch.from_numpy(grpo.encode_prompts(ea, eb, en, D))
    E = len(en)

    def lengths(net: nn.Module) -> np.ndarray:  # P(k | q) for every eval prompt, float64: (E, K+1)
        with torch.no_grad():
            return grpo.length_logprobs(net(x_eval)).double().exp().numpy()

    def checks_given(head: grpo.CheckHead, e: int, k: int, agree: int) -> np.ndarray:  # P(c | q, k, agree)
        with torch.no_grad():
            z = head(x_eval[e : e + 1], torch.tensor([agree]))
            return grpo.check_logprobs(z, torch.tensor([k]), K).double().exp().numpy()[0]

    def kl_terms(P: np.ndarray, Q: np.ndarray) -> float:  # sum_i P_i log(P_i / Q_i), 0 log 0 = 0
        return sum(p * np.log(p / q) for p, q in zip(P, Q, strict=True) if p > 0)

    P_ref = lengths(ref)
    rec = {name: [] for name in ("reward", "accuracy", "length", "checks", "proxy", "zero", "pass1", "kl")}
    for _step in range(cfg.num_steps):
        # the eval records describe the policy that samples this step (before its update)
        P = lengths(policy)
        pass1 = kl = 0.0
        for e in range(E):
            p_right = [(1 - cfg.slip) ** max(en[e] - k, 0) for k in range(K + 1)]
            pass1 += sum(P[e, k] * p_right[k] for k in range(K + 1)) / E
            kl_e = kl_terms(P[e], P_ref[e])
            if check is not None:  # chain rule: + E_{k, agree}[KL of the check count given k and agree]
                for k in range(K + 1):
                    for agree, w in ((1, p_right[k]), (0, 1 - p_right[k])):
                        kl_c = kl_terms(
                            checks_given(check, e, k, agree), checks_given(ref_check, e, k, agree)
                        )
                        kl_e += P[e, k] * w * kl_c
            kl += kl_e / E
        rec["pass1"].append(pass1)
        rec["kl"].append(kl)

        # 1. B prompts, G responses each, from the current policy
        a, b, n = grpo.sample_problems(B, D, rng)
        x = torch.from_numpy(grpo.encode_prompts(a, b, n, D))
        xG = x.repeat_interleave(G, dim=0)
        with torch.no_grad():
            zG = policy(x).repeat_interleave(G, dim=0)
            k = torch.multinomial(grpo.length_logprobs(zG).exp(), 1, generator=gen)[:, 0]
            logp_old, mask = grpo.token_logprobs(zG, k)
            logp_ref, _ = grpo.token_logprobs(ref(x).repeat_interleave(G, dim=0), k)
        # 2. the answers, their rule check, and (with a check head) the check lines
        nG = np.repeat(n, G)
        right = grpo.solve(np.repeat(a, G), np.repeat(b, G), nG, k.numpy(), cfg.slip, rng) == np.repeat(
            a + b, G
        )
        agree = torch.from_numpy(right)
        c = torch.zeros_like(k)
        if check is not None:
            with torch.no_grad():
                zc = check(xG, agree)
                c = torch.multinomial(grpo.check_logprobs(zc, k, K).exp(), 1, generator=gen)[:, 0]
                tok_old, cmask = grpo.check_token_logprobs(zc, c, k, K)
                tok_ref, _ = grpo.check_token_logprobs(ref_check(xG, agree), c, k, K)
            logp_old = torch.cat([logp_old, tok_old], dim=1)
            logp_ref = torch.cat([logp_ref, tok_ref], dim=1)
            mask = torch.cat([mask, cmask], dim=1)
        proxy = rm.score(nG, k.numpy(), c.numpy())
        if cfg.reward == "learned":
            r_np = proxy
        else:
            r_np = grpo.rule_reward(right, k.numpy(), cfg.length_cost, cfg.format_weight)
        r = torch.from_numpy(r_np).float().view(B, G)
        # 3. advantages (each method's formula is checked in test_grpo.py)
        with torch.no_grad():
            A = grpo._advantages(method, r, value(x)[:, 0] if value is not None else None)
        # 4. num_inner Adam steps on the clipped, KL-penalised surrogate (+ the critic's squared error)
        for _ in range(cfg.num_inner):
            logp = grpo.token_logprobs(policy(x).repeat_interleave(G, dim=0), k)[0]
            if check is not None:
                logp = torch.cat([logp, grpo.check_token_logprobs(check(xG, agree), c, k, K)[0]], dim=1)
            loss = grpo.policy_loss(
                logp, logp_old, logp_ref, A.reshape(-1), mask, cfg.epsilon, cfg.beta, cfg.token_mean
            )
            if value is not None:
                loss = loss + 0.5 * ((value(x) - r) ** 2).mean()
            opt.step(torch.autograd.grad(loss, params))

        rec["reward"].append(float(np.mean(r_np.astype(np.float32), dtype=np.float64)))
        rec["accuracy"].append(np.mean(right))
        rec["length"].append(np.mean(k.numpy()))
        rec["checks"].append(np.mean(c.numpy()))
        rec["proxy"].append(np.mean(proxy))
        A_np = A.numpy()
        rec["zero"].append(sum(all(A_np[i, j] == 0 for j in range(G)) for i in range(B)) / B)

    def mean_length_by_digits(P: np.ndarray) -> list[float]:
        out = []
        for d in range(1, D + 1):
            rows = [sum(k * P[e, k] for k in range(K + 1)) for e in range(E) if en[e] == d]
            out.append(sum(rows) / len(rows) if rows else float("nan"))
        return out

    P_after = lengths(policy)
    return {
        **{name: np.array(v) for name, v in rec.items()},
        "length_by_digits": np.array([mean_length_by_digits(P_ref), mean_length_by_digits(P_after)]),
        "eval_problems": np.stack([ea, eb, en]),
        "length_probs": np.stack([P_ref, P_after]),
        "rm": rm,
    }


@pytest.mark.parametrize(("method", "cfg", "seed"), CASES, ids=[f"{m}-{s}" for m, _, s in CASES])
def test_train_matches_a_literal_training_loop(method, cfg, seed):
    calls = []
    with warnings.catch_warnings():  # no warning either (numpy's "Mean of empty slice" for a missing n)
        warnings.simplefilter("error")
        h = grpo.train(method, cfg, seed=seed, progress=calls.append)
    ref = literal_train(method, cfg, seed)
    assert h.method == method and h.config == cfg
    S = cfg.num_steps
    assert calls == [(s + 1) / S for s in range(S)]
    # sampled quantities: the same draws, so exactly equal
    np.testing.assert_array_equal(h.eval_problems, ref["eval_problems"])
    np.testing.assert_array_equal(h.accuracy, ref["accuracy"])
    np.testing.assert_array_equal(h.length, ref["length"])
    np.testing.assert_array_equal(h.checks, ref["checks"])
    np.testing.assert_array_equal(h.reward_model.theta, ref["rm"].theta)
    assert h.reward_model.max_digits == cfg.max_digits
    assert h.reward_model.train_accuracy == ref["rm"].train_accuracy
    # float records (the fraction of all-zero groups is a float32 mean): float64 literal sums, 1e-6
    for mine, theirs in (
        ("reward", "reward"),
        ("proxy_reward", "proxy"),
        ("zero_adv_frac", "zero"),
        ("pass1", "pass1"),
        ("kl", "kl"),
    ):
        np.testing.assert_allclose(getattr(h, mine), ref[theirs], rtol=0, atol=1e-6, err_msg=mine)
    np.testing.assert_allclose(h.length_probs, ref["length_probs"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(h.length_by_digits, ref["length_by_digits"], rtol=0, atol=1e-6)
    # the gold curve is pass@1, in its own array (a page may edit one without the other)
    np.testing.assert_array_equal(h.gold_accuracy, h.pass1)
    assert not np.shares_memory(h.gold_accuracy, h.pass1)
    for curve in ("reward", "accuracy", "length", "kl", "zero_adv_frac", "pass1", "proxy_reward", "checks"):
        assert getattr(h, curve).shape == (S,), curve


def test_the_first_step_records_the_base_policy():
    # before any update the policy is its reference: KL 0 (also over check lines), pass@1 of the base
    h = grpo.train("grpo", dataclasses.replace(TINY, max_checks=2, num_steps=2), seed=9)
    assert h.kl[0] == 0.0
    assert h.kl[1] > 0
    P0, (_, _, n) = h.length_probs[0], h.eval_problems
    p_right = (1 - TINY.slip) ** np.maximum(n[:, None] - np.arange(TINY.max_think + 1)[None, :], 0)
    assert h.pass1[0] == pytest.approx((P0 * p_right).sum(1).mean(), abs=1e-6)


def test_train_defaults_and_arguments():
    # the seed defaults to 0; the configuration is used as given (frozen dataclass, compared whole)
    a = grpo.train("grpo", TINY)
    b = grpo.train("grpo", TINY, seed=0)
    np.testing.assert_array_equal(a.pass1, b.pass1)
    np.testing.assert_array_equal(a.length, b.length)
    assert a.config is TINY
    for bad, match in (
        (("dpo", TINY), "method must be one of"),
        (("grpo", dataclasses.replace(TINY, reward="human")), "reward must be"),
    ):
        with pytest.raises(ValueError, match=match):
            grpo.train(*bad)


def test_train_runs_on_one_torch_thread_and_restores_the_setting():
    seen = []
    torch.set_num_threads(2)  # the fixture restores the caller's setting after the test
    grpo.train(
        "reinforce",
        dataclasses.replace(TINY, num_steps=2),
        seed=1,
        progress=lambda f: seen.append(torch.get_num_threads()),
    )
    assert seen == [1, 1]
    assert torch.get_num_threads() == 2


def test_train_all_is_each_method_from_the_same_start_with_one_progress_bar():
    cfg = dataclasses.replace(TINY, num_steps=3)
    calls = []
    runs = grpo.train_all(cfg, seed=2, progress=calls.append)
    assert list(runs) == list(grpo.METHODS)
    for m in grpo.METHODS:
        alone = grpo.train(m, cfg, seed=2)
        assert runs[m].method == m
        np.testing.assert_array_equal(runs[m].pass1, alone.pass1)
        np.testing.assert_array_equal(runs[m].length, alone.length)
    # one bar over the three runs: method i's step s reports (i + (s + 1) / S) / 3
    M, S = len(grpo.METHODS), 3
    np.testing.assert_allclose(
        calls, [(i + (s + 1) / S) / M for i in range(M) for s in range(S)], rtol=0, atol=1e-15
    )
    # without a callback, and with the defaults (seed 0)
    quiet = grpo.train_all(cfg)
    np.testing.assert_array_equal(quiet["ppo"].pass1, grpo.train("ppo", cfg, seed=0).pass1)


def test_fit_reward_model_defaults_are_the_stated_penalty_and_a_converged_newton():
    # defaults: l2 = 1e-2 on every weight but the intercept; 30 Newton steps reach the optimum
    # (autograd gradient of the float64 objective below 1e-10 at the returned theta)
    rng = np.random.default_rng(11)
    N = 400
    n = rng.integers(1, 4, size=N)
    k = rng.integers(0, 6, size=N)
    c = rng.integers(0, 3, size=N)
    y = rng.random(N) < 0.8 ** np.maximum(n - k, 0) * (0.6 + 0.1 * c)
    rm = grpo.fit_reward_model(n, k, c, y, 3)
    X = torch.tensor(grpo.reward_features(n, k, c, 3))
    theta = torch.tensor(rm.theta, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.float64)
    loss = (
        torch.nn.functional.binary_cross_entropy_with_logits(X @ theta, yt) + 0.5e-2 * (theta[1:] ** 2).sum()
    )
    (g,) = torch.autograd.grad(loss, theta)
    assert g.abs().max().item() < 1e-10
    # train_accuracy: the fraction of labels whose sign the score predicts (literal count)
    hits = sum((s > 0) == bool(t) for s, t in zip(X.numpy() @ rm.theta, y, strict=True))
    assert rm.train_accuracy == hits / N and rm.max_digits == 3
