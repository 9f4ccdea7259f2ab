"""GRPO on a toy task with a verifiable, rule-based reward.

DeepSeek-R1-Zero was trained from a base model by reinforcement learning
alone: sample a group of G answers to each prompt, score each answer with a
rule (is the final answer right? is the format right?), and push up the answers
that beat their own group's average. No value network, no human-written
reasoning. This module rebuilds that mechanism at toy scale so it trains in
about a second on a CPU.

The toy task (our model, not the paper's)
-----------------------------------------
A prompt is an addition ``a + b`` of two n-digit numbers, n in 1..max_digits.
A response is a sequence of tokens: k "thinking" tokens, then one answer
token. Each thinking token works out one column of the sum exactly (digit,
carry), from the units column upwards. Columns that were not worked out are
done "in the head": each one is wrong with probability ``slip``, and a wrong
column writes a different digit. So, for a problem with n columns,

    P(correct | n, k) = (1 - slip) ** max(n - k, 0)

More thinking never hurts, helps until k = n, and is useless beyond. The
answer is really assembled digit by digit and really checked against a + b.

Reward (rule based, as in R1-Zero):  r = 1[answer == a + b]
                                         + format_weight * 1[k >= 1]
                                         - length_cost * k
where the format term pays for a non-empty <think> block.

The policy is a small MLP over the prompt's digits. It outputs one "stop"
logit z_t per position t = 0..max_think; the response stops after t thinking
tokens with probability sigmoid(z_t) (a hazard model), so
log pi(o) = sum_{t<k} log(1 - sigmoid(z_t)) + log sigmoid(z_k).
Every token has a log-probability, so ratios and KL are per token as in GRPO.

Three trainers share one clipped surrogate (summed over an answer's tokens),
the same KL penalty and the same optimiser; only the advantage A differs:
    grpo       A_i = (r_i - mean(r)) / (std(r) + eps)  over the group of G
    reinforce  A_i = r_i                               (no baseline)
    ppo        A_i = r_i - V_phi(q), whitened over the batch, V_phi a learned critic

Around the trainer (issue 18)
-----------------------------
- Test time: `capped_accuracy` cuts thinking at a budget; `sample_answers`, `majority_vote`
  and `consensus_curve` give pass@1 and cons@k (self-consistency).
- Reward hacking: with `max_checks > 0` a response may add check lines after its answer
  ("check: a+b=answer ✓", one token each, sharing the max_think budget with work lines).
  The base policy writes one mostly when an in-head re-add agrees with its answer, so a ✓
  is evidence of a right answer in its samples. `fit_reward_model` fits a logistic reward
  model to rule-labelled base samples; `Config.reward = "learned"` trains on its score.
  `train` records the proxy (reward-model score), the gold (rule-checked accuracy) and the
  KL whichever reward is used.

References:
    DeepSeek-AI (2025), "DeepSeek-R1: Incentivizing Reasoning Capability in LLMs via
        Reinforcement Learning", arXiv:2501.12948v1, Sec. 2.2.1 (GRPO objective, eq. 1-3),
        Sec. 2.2.2 (rule-based accuracy and format rewards), Sec. 2.2.4 / Table 2 / Fig. 2-3
        (R1-Zero AIME 2024 pass@1 15.6% -> 71.0%, 86.7% with majority voting;
        response length grows during RL).
    Shao et al. (2024), "DeepSeekMath", arXiv:2402.03300, Sec. 4.1, eq. 3 (GRPO objective),
        eq. 4 (KL estimator), outcome supervision A_i = (r_i - mean) / std.
    Schulman (2020), "Approximating KL Divergence", blog note: estimator k3 = r - log r - 1.
    Schulman et al. (2017), "Proximal Policy Optimization Algorithms", arXiv:1707.06347, eq. 7.
    Williams (1992), "Simple statistical gradient-following algorithms ...", Machine
        Learning 8 (REINFORCE).
    Gao, Schulman & Hilton (2022), "Scaling Laws for Reward Model Overoptimization",
        arXiv:2210.10760, Fig. 1 (proxy rises while gold peaks and falls as KL grows).
    Ouyang et al. (2022), "Training language models to follow instructions with human
        feedback" (InstructGPT), arXiv:2203.02155, Sec. 3.5 (reward model from labelled samples).
    Wang et al. (2022), "Self-Consistency Improves Chain of Thought Reasoning", arXiv:2203.11171
        (majority vote over sampled answers).
    Kingma & Ba (2015), "Adam", arXiv:1412.6980, Algorithm 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from core.threads import one_thread

METHODS: tuple[str, ...] = ("grpo", "reinforce", "ppo")


# ---------------------------------------------------------------------------
# 1. The three formulas of the GRPO objective
# ---------------------------------------------------------------------------


def group_advantages(rewards: Any, eps: float = 1e-6) -> Any:
    """Group-relative advantages along the last axis (numpy array or torch tensor).

    A_i = (r_i - mean(r)) / (std(r) + eps), std with ddof = 0; a group whose
    rewards are all equal gets exactly 0 (it carries no learning signal).
    """
    if isinstance(rewards, torch.Tensor):
        r = rewards
        mean = r.mean(dim=-1, keepdim=True)
        std = r.std(dim=-1, keepdim=True, unbiased=False)
        equal = r.amax(dim=-1, keepdim=True) == r.amin(dim=-1, keepdim=True)
        # A_i = (r_i - mean) / (std + eps)
        A = (r - mean) / (std + eps)
        return torch.where(equal, torch.zeros_like(A), A)
    r = np.asarray(rewards, dtype=float)
    mean = r.mean(axis=-1, keepdims=True)
    std = r.std(axis=-1, keepdims=True)
    equal = r.max(axis=-1, keepdims=True) == r.min(axis=-1, keepdims=True)
    # A_i = (r_i - mean) / (std + eps); mean of equal floats can differ by an ulp, so force 0
    A = (r - mean) / (std + eps)
    return np.where(equal, 0.0, A)


def kl_k3(logp: Any, logp_ref: Any) -> Any:
    """Per-token KL estimator used by GRPO: pi_ref/pi - log(pi_ref/pi) - 1 (>= 0).

    With d = log pi_ref - log pi this is e^d - d - 1. For |d| < 1e-3 the series
    d^2 (1/2 + d/6 + d^2/24) is used, so tiny differences stay positive instead
    of cancelling to 0 or below.
    """
    torch_in = isinstance(logp, torch.Tensor) or isinstance(logp_ref, torch.Tensor)
    if torch_in:
        d = torch.as_tensor(logp_ref) - torch.as_tensor(logp)
        series = d * d * (0.5 + d / 6.0 + d * d / 24.0)
        # e^d - d - 1 = expm1(d) - d
        direct = torch.expm1(d) - d
        return torch.where(d.abs() < 1e-3, series, direct)
    d = np.asarray(logp_ref, dtype=float) - np.asarray(logp, dtype=float)
    series = d * d * (0.5 + d / 6.0 + d * d / 24.0)
    with np.errstate(over="ignore"):
        direct = np.expm1(d) - d
    return np.where(np.abs(d) < 1e-3, series, direct)


def clipped_objective(ratio: Any, advantage: Any, epsilon: float) -> Any:
    """PPO's clipped surrogate min(rho A, clip(rho, 1 - eps, 1 + eps) A), elementwise."""
    if isinstance(ratio, torch.Tensor) or isinstance(advantage, torch.Tensor):
        rho, A = torch.as_tensor(ratio), torch.as_tensor(advantage)
        # min(rho A, clip(rho, 1-eps, 1+eps) A)
        return torch.minimum(rho * A, rho.clamp(1.0 - epsilon, 1.0 + epsilon) * A)
    rho, A = np.asarray(ratio, dtype=float), np.asarray(advantage, dtype=float)
    return np.minimum(rho * A, np.clip(rho, 1.0 - epsilon, 1.0 + epsilon) * A)


# ---------------------------------------------------------------------------
# 2. The toy task: addition with optional written-out columns
# ---------------------------------------------------------------------------


def sample_problems(
    num: int, max_digits: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`num` problems a + b; n ~ U{1..max_digits}; a, b uniform n-digit numbers. Returns (a, b, n)."""
    n = rng.integers(1, max_digits + 1, size=num)
    lo = np.where(n == 1, 0, 10 ** (n - 1))
    hi = 10**n  # exclusive
    a = lo + (rng.random(num) * (hi - lo)).astype(np.int64)
    b = lo + (rng.random(num) * (hi - lo)).astype(np.int64)
    return a.astype(np.int64), b.astype(np.int64), n.astype(np.int64)


def _digits(x: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits, least significant first: (N,) -> (N, width)."""
    powers = 10 ** np.arange(width, dtype=np.int64)
    return (x[:, None] // powers) % 10


def encode_prompts(a: np.ndarray, b: np.ndarray, n: np.ndarray, max_digits: int) -> np.ndarray:
    """One-hot of every digit slot of a and b (11 symbols: 0-9 and 'empty'). (N,) -> (N, 2*max_digits*11)."""
    pos = np.arange(max_digits)
    slots = []
    for x in (a, b):
        d = _digits(x, max_digits)  # (N, D)
        d = np.where(pos[None, :] < n[:, None], d, 10)  # 10 = empty slot
        slots.append(np.eye(11, dtype=np.float32)[d])  # (N, D, 11)
    return np.concatenate(slots, axis=1).reshape(len(a), -1)


def p_correct(num_digits: Any, thinking_steps: Any, slip: float) -> np.ndarray:
    """The task's model: P(correct | n, k) = (1 - slip) ** max(n - k, 0)."""
    unthought = np.maximum(np.asarray(num_digits) - np.asarray(thinking_steps), 0)
    return (1.0 - slip) ** unthought


def solve(
    a: np.ndarray,
    b: np.ndarray,
    n: np.ndarray,
    thinking_steps: np.ndarray,
    slip: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The answer a response writes: columns t < k exact, every other column wrong w.p. `slip`."""
    D = int(n.max()) + 1
    s = _digits(a + b, D)  # (N, D) true digits of the sum
    col = np.arange(D)[None, :]
    in_head = (col >= thinking_steps[:, None]) & (col < n[:, None])  # columns not worked out
    wrong = in_head & (rng.random(s.shape) < slip)
    # a slip writes one of the 9 other digits: (d + U{1..9}) mod 10
    shift = rng.integers(1, 10, size=s.shape)
    digits = np.where(wrong, (s + shift) % 10, s)
    return (digits * 10 ** np.arange(D, dtype=np.int64)).sum(axis=1)


def rule_reward(
    correct: Any, thinking_steps: Any, length_cost: float, format_weight: float = 0.0
) -> np.ndarray:
    """r = 1[correct] + format_weight * 1[k >= 1] - length_cost * k (all rule based, no reward model)."""
    correct = np.asarray(correct, dtype=float)
    k = np.asarray(thinking_steps, dtype=float)
    return correct + format_weight * (k >= 1) - length_cost * k


def render_response(a: int, b: int, k: int, answer: int) -> str:
    """The response text: one line per worked column inside <think>, then <answer>."""
    steps, carry = [], 0
    for t in range(k):
        da, db = (a // 10**t) % 10, (b // 10**t) % 10
        total = da + db + carry
        steps.append(f"{da}+{db}" + (f"+{carry}" if carry else "") + f"={total}")
        carry = total // 10
    think = f"<think>{'; '.join(steps)}</think>" if k else ""
    return f"{think}<answer>{answer}</answer>"


@dataclass
class Group:
    """One prompt and G responses, with everything the page's table shows."""

    a: int
    b: int
    texts: list[str]
    thinking_steps: np.ndarray  # (G,)
    correct: np.ndarray  # (G,) bool
    rewards: np.ndarray  # (G,)
    advantages: np.ndarray  # (G,) GRPO
    num_digits: int = 0


def example_group(
    num_correct: int,
    group_size: int,
    length_cost: float,
    format_weight: float,
    seed: int,
    max_digits: int = 3,
) -> Group:
    """A group of `group_size` responses to one problem, exactly `num_correct` of them right.

    Consistent with the task's model: a wrong response has k < n and its slip sits in a
    column it did not work out; a right one may have any k (short ones were lucky).
    """
    rng = np.random.default_rng(seed)
    num_correct = int(np.clip(num_correct, 0, group_size))
    a, b, _ = sample_problems(1, max_digits, rng)
    a_, b_ = int(a[0]), int(b[0])
    n = len(str(max(a_, b_)))
    correct = np.zeros(group_size, dtype=bool)
    correct[rng.permutation(group_size)[:num_correct]] = True
    # right: k ~ U{0..n+1}; wrong: k ~ U{0..n-1}
    k = np.where(correct, rng.integers(0, n + 2, size=group_size), rng.integers(0, n, size=group_size))
    texts = []
    for i in range(group_size):
        ans = a_ + b_
        if not correct[i]:
            col = int(rng.integers(k[i], n))  # a column done in the head
            digit = (ans // 10**col) % 10
            ans += (int((digit + rng.integers(1, 10)) % 10) - digit) * 10**col
        texts.append(render_response(a_, b_, int(k[i]), int(ans)))
    r = rule_reward(correct, k, length_cost, format_weight)
    return Group(a_, b_, texts, k, correct, r, group_advantages(r), n)


# ---------------------------------------------------------------------------
# 3. Policy: a small MLP over the prompt; one stop logit per position
# ---------------------------------------------------------------------------


class Policy(nn.Module):
    """z_t(q) for t = 0..max_think: logit of stopping (answering) after t thinking tokens."""

    def __init__(self, in_dim: int, hidden: int, max_think: int, init_stop: float):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.Tanh())
        self.head = nn.Linear(hidden, max_think + 1)
        with torch.no_grad():  # the "base model": answers early, whatever the prompt
            self.head.weight.mul_(0.1)
            self.head.bias.fill_(float(np.log(init_stop / (1.0 - init_stop))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))  # (N, K+1)


def length_logprobs(z: torch.Tensor) -> torch.Tensor:
    """log P(k) for k = 0..K from stop logits z: log sigmoid(z_k) + sum_{t<k} log sigmoid(-z_t)."""
    log_stop = torch.nn.functional.logsigmoid(z)
    log_stop = torch.cat([log_stop[:, :-1], torch.zeros_like(log_stop[:, -1:])], dim=1)  # forced stop at K
    log_go = torch.nn.functional.logsigmoid(-z)
    # survival: sum_{t<k} log(1 - h_t)
    surv = torch.cat([torch.zeros_like(z[:, :1]), torch.cumsum(log_go, dim=1)[:, :-1]], dim=1)
    return surv + log_stop  # (N, K+1)


def token_logprobs(z: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs of responses with k thinking tokens, and the token mask (t <= k)."""
    K = z.shape[1] - 1
    t = torch.arange(K + 1)[None, :]
    log_stop = torch.nn.functional.logsigmoid(z)
    log_stop = torch.where(t == K, torch.zeros_like(log_stop), log_stop)  # forced stop at K
    log_go = torch.nn.functional.logsigmoid(-z)
    logp = torch.where(t < k[:, None], log_go, log_stop)  # think tokens, then the answer token
    mask = (t <= k[:, None]).to(z.dtype)
    return logp * mask, mask


def exact_kl(logP: torch.Tensor, logP_ref: torch.Tensor) -> torch.Tensor:
    """KL(pi || pi_ref) over whole responses, per prompt: sum_k P(k) (log P(k) - log P_ref(k))."""
    return (logP.exp() * (logP - logP_ref)).sum(dim=1)


def policy_loss(
    logp: torch.Tensor,
    logp_old: torch.Tensor,
    logp_ref: torch.Tensor,
    advantage: torch.Tensor,
    mask: torch.Tensor,
    epsilon: float,
    beta: float,
    token_mean: bool = False,
) -> torch.Tensor:
    """-J: mean over responses of sum_t [min(rho A, clip(rho) A) - beta * k3].

    token_mean=True divides each response's sum by its length |o_i|, as in
    DeepSeekMath eq. 3; the default sum (as in Dr. GRPO, Liu et al. 2025,
    arXiv:2503.20783) keeps every method's gradient the sequence-level policy
    gradient, so REINFORCE without a baseline is not pushed towards short answers.
    """
    rho = torch.exp(logp - logp_old)  # (N, T) per-token ratio pi_theta / pi_old
    surrogate = clipped_objective(rho, advantage[:, None], epsilon)
    per_token = surrogate - beta * kl_k3(logp, logp_ref)
    # sum_t (or 1/|o_i| sum_t), then the mean over the G responses of every prompt
    per_resp = (per_token * mask).sum(dim=1)
    J = (per_resp / mask.sum(dim=1)).mean() if token_mean else per_resp.mean()
    return -J


# ---------------------------------------------------------------------------
# 4. Training
# ---------------------------------------------------------------------------


class Adam:
    """Adam (Kingma & Ba 2015, Algorithm 1) in a few lines.

    Written out because `torch.optim` imports torch._dynamo on first use, which
    costs seconds: more than this whole training run.
    """

    def __init__(
        self,
        params: list[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.params, self.lr, self.betas, self.eps, self.t = params, lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def step(self, grads: tuple[torch.Tensor, ...]) -> None:
        b1, b2 = self.betas
        self.t += 1
        with torch.no_grad():  # (a block, not a decorator: mutmut 3 skips decorated functions)
            for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
                m.mul_(b1).add_(g, alpha=1 - b1)  # m <- b1 m + (1 - b1) g
                v.mul_(b2).addcmul_(g, g, value=1 - b2)  # v <- b2 v + (1 - b2) g^2
                # theta <- theta - lr * m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
                p.sub_(self.lr * (m / (1 - b1**self.t)) / ((v / (1 - b2**self.t)).sqrt() + self.eps))


@dataclass(frozen=True)
class Config:
    group_size: int = 8  # G responses per prompt
    num_prompts: int = 16  # prompts per step
    num_steps: int = 60
    learning_rate: float = 0.005
    beta: float = 0.04  # KL coefficient (DeepSeekMath used 0.04)
    epsilon: float = 0.2  # clip range
    length_cost: float = 0.0  # reward lost per thinking token
    format_weight: float = 0.0  # reward for a non-empty <think> block
    num_inner: int = 2  # gradient steps on each sampled batch (mu in GRPO)
    max_digits: int = 5
    max_think: int = 8
    slip: float = 0.3  # P(a column done in the head is wrong)
    hidden: int = 32
    init_stop: float = 0.6  # the base policy's stop probability at every position
    token_mean: bool = False
    num_eval: int = 250  # fixed prompts for the exact pass@1 / KL curves
    # Section 6: check lines and the learned reward model (off by default: the original toy)
    reward: str = "rule"  # "rule": r = rule_reward(...); "learned": r = the reward model's score
    max_checks: int = 0  # 0: no check lines; > 0: up to this many, sharing the max_think budget
    check_agree: float = 0.3  # the base policy's P(at least one check line | its re-add agrees)
    check_disagree: float = 0.02  # ... and when the re-add disagrees (the answer is wrong)
    check_one: float = 0.95  # the base policy's P(stop | at least one check line written)
    rm_samples: int = 1000  # labelled base-policy responses the reward model is fitted on


@dataclass
class History:
    method: str
    config: Config
    reward: np.ndarray  # (S,) mean reward of the sampled batch
    accuracy: np.ndarray  # (S,) fraction of sampled responses that were correct
    length: np.ndarray  # (S,) mean thinking tokens of the sampled responses
    kl: np.ndarray  # (S,) exact KL(pi_theta || pi_ref) per prompt, mean over the eval prompts (step s's policy, before its update)
    zero_adv_frac: np.ndarray  # (S,) fraction of groups whose advantages were all 0
    pass1: np.ndarray  # (S,) exact expected accuracy on the eval prompts (step s's policy, before its update)
    length_by_digits: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (2, D): before, after
    proxy_reward: np.ndarray = field(
        default_factory=lambda: np.zeros(0)
    )  # (S,) reward-model score, batch mean
    gold_accuracy: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (S,) = pass1 (rule-checked)
    checks: np.ndarray = field(
        default_factory=lambda: np.zeros(0)
    )  # (S,) mean check lines per sampled answer
    eval_problems: np.ndarray = field(
        default_factory=lambda: np.zeros((3, 0), dtype=np.int64)
    )  # (3, E): a, b, n
    length_probs: np.ndarray = field(
        default_factory=lambda: np.zeros((2, 0, 0))
    )  # (2, E, K+1): P(k | q) before, after
    reward_model: RewardModel | None = None


# The reward-hacking experiment's shipped settings: check lines on, trained on the learned reward.
HACK_CONFIG = Config(reward="learned", max_checks=8, num_steps=100, learning_rate=0.02, beta=0.04)
HACK_BETAS: tuple[float, ...] = (0.01, 0.04, 0.1, 0.2, 0.5)  # the shipped sweep of the KL coefficient


def _advantages(method: str, r: torch.Tensor, v: torch.Tensor | None) -> torch.Tensor:
    """(B, G) rewards -> (B, G) advantages."""
    if method == "grpo":
        return group_advantages(r)
    if method == "reinforce":
        return r.clone()
    # ppo: A = r - V(q), whitened over the batch
    A = r - v[:, None]
    return (A - A.mean()) / (A.std(unbiased=False) + 1e-6)


# ---------------------------------------------------------------------------
# 5. Check lines and a learned reward model (reward hacking)
# ---------------------------------------------------------------------------


class CheckHead(nn.Module):
    """Stop logits for check lines ("check: a + b = answer ✓"), written one line (token) at a time.

    After its answer is formed the policy writes check lines: before each possible
    line j = 0..C it stops with probability sigmoid(z_j), as the thinking length does.
    The base policy checks like a careful solver: it re-adds the numbers in its head
    and writes a first check line mostly when that re-add agrees with its answer
    (`agree`, which in the toy is "the answer is right"), and rarely a second one.
    A check line works out no column, so it never changes whether the answer is right.
    z = 0.1 W x + b + agree * d, with b and d set so that at the start
    P(c >= 1 | disagree) = p_disagree, P(c >= 1 | agree) = p_agree, and
    P(stop | j >= 1 lines written) = p_one.
    """

    def __init__(self, in_dim: int, max_checks: int, p_agree: float, p_disagree: float, p_one: float = 0.95):
        super().__init__()
        C = max_checks
        self.lin = nn.Linear(in_dim, C + 1)
        self.agree = nn.Parameter(torch.zeros(C + 1))

        def logit(p: float) -> float:
            return float(np.log(p / (1.0 - p)))

        with torch.no_grad():
            self.lin.weight.mul_(0.1)
            self.lin.bias.fill_(logit(p_one))
            self.lin.bias[0] = logit(1.0 - p_disagree)
            self.agree.zero_()
            self.agree[0] = logit(1.0 - p_agree) - logit(1.0 - p_disagree)

    def forward(self, x: torch.Tensor, agree: torch.Tensor) -> torch.Tensor:
        return self.lin(x) + agree[:, None].to(x.dtype) * self.agree  # (N, C+1) stop logits


def _check_parts(z: torch.Tensor, k: torch.Tensor, max_think: int):
    t = torch.arange(z.shape[1])[None, :]
    limit = (max_think - k)[:, None]  # the budget: c <= K - k, and the stop there is forced
    log_stop = torch.where(t == limit, torch.zeros_like(z), torch.nn.functional.logsigmoid(z))
    log_go = torch.nn.functional.logsigmoid(-z)
    return t, limit, log_stop, log_go


def check_logprobs(z: torch.Tensor, k: torch.Tensor, max_think: int) -> torch.Tensor:
    """log P(c | q, k, agree) for c = 0..C: log sigmoid(z_c) + sum_{j<c} log sigmoid(-z_j), c <= K - k."""
    t, limit, log_stop, log_go = _check_parts(z, k, max_think)
    surv = torch.cat([torch.zeros_like(z[:, :1]), torch.cumsum(log_go, dim=1)[:, :-1]], dim=1)
    return torch.where(t > limit, torch.full_like(z, -torch.inf), surv + log_stop)


def check_token_logprobs(
    z: torch.Tensor, c: torch.Tensor, k: torch.Tensor, max_think: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs of c check lines and the stop, and their mask (t <= c); they sum to log P(c)."""
    t, _, log_stop, log_go = _check_parts(z, k, max_think)
    logp = torch.where(t < c[:, None], log_go, log_stop)
    mask = (t <= c[:, None]).to(z.dtype)
    return logp * mask, mask


def reward_features(num_digits: Any, thinking_steps: Any, checks: Any, max_digits: int) -> np.ndarray:
    """What the reward model sees of a response: [1, one-hot of n (D), work lines k, check lines c].

    It sees how long the prompt's numbers are and how many lines of each kind the
    response wrote, not whether the arithmetic in them is right.
    """
    n = np.asarray(num_digits)
    onehot = (n[:, None] == np.arange(1, max_digits + 1)[None, :]).astype(float)
    ones = np.ones((len(n), 1))
    k = np.asarray(thinking_steps, dtype=float)[:, None]
    c = np.asarray(checks, dtype=float)[:, None]
    return np.concatenate([ones, onehot, k, c], axis=1)


@dataclass(frozen=True)
class RewardModel:
    """A logistic-regression reward model: score = theta . phi(response) (a logit)."""

    theta: np.ndarray  # (D + 3,)
    max_digits: int
    train_accuracy: float = float("nan")  # fraction of its training labels it predicts (score > 0 <=> right)

    def score(self, num_digits: Any, thinking_steps: Any, checks: Any) -> np.ndarray:
        return reward_features(num_digits, thinking_steps, checks, self.max_digits) @ self.theta


def fit_reward_model(
    num_digits: np.ndarray,
    thinking_steps: np.ndarray,
    checks: np.ndarray,
    correct: np.ndarray,
    max_digits: int,
    l2: float = 1e-2,
    iters: int = 30,
) -> RewardModel:
    """Fit P(right | phi) = sigmoid(theta . phi) to rule-checked labels by Newton's method.

    Minimises the mean cross-entropy + (l2 / 2) |theta_{1:}|^2 (the intercept is
    not penalised), as a neural reward model is fitted to labels, here with a
    linear model so the page can print what it learned.
    """
    X = reward_features(num_digits, thinking_steps, checks, max_digits)
    y = np.asarray(correct, dtype=float)
    N, F = X.shape
    reg = np.full(F, l2)
    reg[0] = 0.0
    theta = np.zeros(F)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(X @ theta)))
        # gradient X^T (p - y) / N + reg * theta; Hessian X^T diag(p(1-p)) X / N + diag(reg)
        grad = X.T @ (p - y) / N + reg * theta
        H = (X * (p * (1 - p))[:, None]).T @ X / N + np.diag(reg) + 1e-9 * np.eye(F)
        theta = theta - np.linalg.solve(H, grad)
    acc = float(((X @ theta > 0) == (y > 0.5)).mean())
    return RewardModel(theta, max_digits, acc)


def render_checked(a: int, b: int, k: int, c: int, answer: int) -> str:
    """`render_response` with c check lines at the end of the thinking."""
    text = render_response(a, b, k, answer)
    if c == 0:
        return text
    checks = "; ".join([f"check: {a}+{b}={answer} ✓"] * c)
    if k == 0:
        return f"<think>{checks}</think>" + text
    return text.replace("</think>", f"; {checks}</think>")


# ---------------------------------------------------------------------------
# 6. Training
# ---------------------------------------------------------------------------


def train(
    method: str, config: Config | None = None, seed: int = 0, progress: Callable[[float], None] | None = None
) -> History:
    """Train the toy policy with `method` in METHODS; a history of every step.

    `config.reward` chooses what the policy is trained on: "rule" (the rule-based
    reward) or "learned" (the reward model's score). Both runs record the same
    curves: the proxy (reward-model score), the gold (rule-checked) accuracy and the KL.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    cfg = config or Config()
    if cfg.reward not in ("rule", "learned"):
        raise ValueError(f"reward must be 'rule' or 'learned', got {cfg.reward!r}")
    with one_thread():  # tiny matrices: see core.threads
        return _train(method, cfg, seed, progress)


def base_reward_model(cfg: Config, policy: Policy, check: CheckHead | None, seed: int) -> RewardModel:
    """The reward model: fitted on `cfg.rm_samples` base-policy responses, each labelled by the rule."""
    rng = np.random.default_rng(20_000 + seed)  # its own streams: the training's are left as they were
    gen = torch.Generator().manual_seed(20_000 + seed)
    D, K = cfg.max_digits, cfg.max_think
    a, b, n = sample_problems(cfg.rm_samples, D, rng)
    x = torch.from_numpy(encode_prompts(a, b, n, D))
    with torch.no_grad():
        k = torch.multinomial(length_logprobs(policy(x)).exp(), 1, generator=gen).squeeze(1)
        correct = solve(a, b, n, k.numpy(), cfg.slip, rng) == a + b
        c = torch.zeros_like(k)
        if check is not None:
            agree = torch.from_numpy(correct)
            c = torch.multinomial(check_logprobs(check(x, agree), k, K).exp(), 1, generator=gen).squeeze(1)
    return fit_reward_model(n, k.numpy(), c.numpy(), correct, D)


def _train(method: str, cfg: Config, seed: int, progress: Callable[[float], None] | None) -> History:
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # network initialisation; the same for every method
    B, G, D, K = cfg.num_prompts, cfg.group_size, cfg.max_digits, cfg.max_think
    in_dim = 2 * D * 11

    policy = Policy(in_dim, cfg.hidden, K, cfg.init_stop)
    ref = Policy(in_dim, cfg.hidden, K, cfg.init_stop)
    ref.load_state_dict(policy.state_dict())
    ref.requires_grad_(False)
    params = list(policy.parameters())
    value = None
    if method == "ppo":
        value = nn.Sequential(nn.Linear(in_dim, cfg.hidden), nn.Tanh(), nn.Linear(cfg.hidden, 1))
        params += list(value.parameters())
    check = ref_check = None
    if cfg.max_checks > 0:
        check = CheckHead(in_dim, cfg.max_checks, cfg.check_agree, cfg.check_disagree, cfg.check_one)
        ref_check = CheckHead(in_dim, cfg.max_checks, cfg.check_agree, cfg.check_disagree, cfg.check_one)
        ref_check.load_state_dict(check.state_dict())
        ref_check.requires_grad_(False)
        params += list(check.parameters())
    opt = Adam(params, lr=cfg.learning_rate)
    rm = base_reward_model(cfg, ref, ref_check, seed)

    eval_rng = np.random.default_rng(10_000 + seed)
    ea, eb, en = sample_problems(cfg.num_eval, D, eval_rng)
    x_eval = torch.from_numpy(encode_prompts(ea, eb, en, D))
    # P(correct | n, k) for every eval prompt and every k: (E, K+1)
    pc_eval = torch.from_numpy(p_correct(en[:, None], np.arange(K + 1)[None, :], cfg.slip)).float()
    ks = torch.arange(K + 1)

    def check_table(head: CheckHead) -> torch.Tensor:
        """log P(c | q, k, agree) for every eval prompt, k and agree in (0, 1): (E, K+1, 2, C+1)."""
        E = len(en)
        xk = x_eval.repeat_interleave(2 * (K + 1), dim=0)
        kk = ks.repeat_interleave(2).repeat(E)
        agree = torch.tensor([0, 1]).repeat(E * (K + 1))
        return check_logprobs(head(xk, agree), kk, K).view(E, K + 1, 2, -1)

    with torch.no_grad():
        logP_ref_eval = length_logprobs(ref(x_eval))
        logC_ref_eval = check_table(ref_check) if ref_check is not None else None

    def by_digits() -> np.ndarray:
        with torch.no_grad():
            Ek = (length_logprobs(policy(x_eval)).exp() * torch.arange(K + 1)).sum(1).numpy()
        return np.array([Ek[en == d].mean() if (en == d).any() else np.nan for d in range(1, D + 1)])

    before = by_digits()
    probs_before = logP_ref_eval.exp().numpy()
    S = cfg.num_steps
    names = ("reward", "accuracy", "length", "kl", "zero_adv_frac", "pass1", "proxy_reward", "checks")
    out = {name: np.zeros(S) for name in names}
    for step in range(S):
        # 1. sample B prompts, G responses each (old policy = current policy before the update)
        a, b, n = sample_problems(B, D, rng)
        x = torch.from_numpy(encode_prompts(a, b, n, D))  # (B, in)
        xG = x.repeat_interleave(G, dim=0)
        with torch.no_grad():
            z_old = policy(x).repeat_interleave(G, dim=0)  # (B*G, K+1): each prompt's logits, G times
            k = torch.multinomial(length_logprobs(z_old).exp(), 1, generator=gen).squeeze(1)  # (B*G,)
            logp_old, mask = token_logprobs(z_old, k)
            logp_ref, _ = token_logprobs(ref(x).repeat_interleave(G, dim=0), k)
            # the eval records (pass@1, KL) describe this policy, the one that samples, before its update
            logP_eval = length_logprobs(policy(x_eval))
            logC_eval = check_table(check) if check is not None else None
        # 2. the answer, really assembled digit by digit, and the rule's check of it (gold)
        kn = k.numpy()
        nG = np.repeat(n, G)
        ans = solve(np.repeat(a, G), np.repeat(b, G), nG, kn, cfg.slip, rng)
        correct = ans == np.repeat(a + b, G)
        c = torch.zeros_like(k)
        if check is not None:
            with torch.no_grad():
                # one more token: how many check lines, c <= K - k, after a re-add that agrees or not
                agree = torch.from_numpy(correct)
                z_c = check(xG, agree)
                c = torch.multinomial(check_logprobs(z_c, k, K).exp(), 1, generator=gen).squeeze(1)
                # c check-line tokens and the stop: one log-prob (and one KL term) per line
                tok_old, cmask = check_token_logprobs(z_c, c, k, K)
                logp_old = torch.cat([logp_old, tok_old], dim=1)
                tok_ref, _ = check_token_logprobs(ref_check(xG, agree), c, k, K)
                logp_ref = torch.cat([logp_ref, tok_ref], dim=1)
                mask = torch.cat([mask, cmask], dim=1)
        cn = c.numpy()
        # the reward model's score of each response (the proxy), recorded whichever reward trains
        proxy = rm.score(nG, kn, cn)
        if cfg.reward == "learned":
            r_np = proxy
        else:
            r_np = rule_reward(correct, kn, cfg.length_cost, cfg.format_weight)
        r = torch.from_numpy(r_np).float().view(B, G)
        # 3. advantages
        with torch.no_grad():
            v = value(x).squeeze(1) if value is not None else None
            A = _advantages(method, r, v)  # (B, G)
        # 4. mu gradient steps on the clipped, KL-penalised surrogate
        for _ in range(cfg.num_inner):
            logp, _ = token_logprobs(policy(x).repeat_interleave(G, dim=0), k)
            if check is not None:
                tok, _ = check_token_logprobs(check(xG, agree), c, k, K)
                logp = torch.cat([logp, tok], dim=1)
            loss = policy_loss(
                logp, logp_old, logp_ref, A.reshape(-1), mask, cfg.epsilon, cfg.beta, cfg.token_mean
            )
            if value is not None:
                # critic regression: (V(q) - r)^2 over all responses
                loss = loss + 0.5 * ((value(x) - r) ** 2).mean()
            opt.step(torch.autograd.grad(loss, params))
        out["reward"][step] = r.mean().item()
        out["accuracy"][step] = correct.mean()
        out["length"][step] = kn.mean()
        out["checks"][step] = cn.mean()
        out["proxy_reward"][step] = proxy.mean()
        kl = exact_kl(logP_eval, logP_ref_eval)
        if check is not None:
            # KL over (k, c): KL of k + E_{k, agree}[ KL of c given k, agree ]  (chain rule; the
            # re-add's outcome has the same law under both policies: P(agree | n, k) = P(correct | n, k))
            kl_c = (logC_eval.exp() * (logC_eval - logC_ref_eval)).nan_to_num().sum(3)  # (E, K+1, 2)
            kl_c = pc_eval * kl_c[..., 1] + (1 - pc_eval) * kl_c[..., 0]
            kl = kl + (logP_eval.exp() * kl_c).sum(1)
        out["kl"][step] = kl.mean().item()
        out["zero_adv_frac"][step] = (A.abs().amax(dim=1) == 0).float().mean().item()
        # pass@1 = E_q sum_k P(k | q) P(correct | n, k)
        out["pass1"][step] = (logP_eval.exp() * pc_eval).sum(1).mean().item()
        if progress is not None:
            progress((step + 1) / S)
    with torch.no_grad():
        probs_after = length_logprobs(policy(x_eval)).exp().numpy()
    return History(
        method,
        cfg,
        **{k_: v_ for k_, v_ in out.items() if k_ not in ("proxy_reward", "checks")},
        length_by_digits=np.stack([before, by_digits()]),
        proxy_reward=out["proxy_reward"],
        gold_accuracy=out["pass1"].copy(),
        checks=out["checks"],
        eval_problems=np.stack([ea, eb, en]),
        length_probs=np.stack([probs_before, probs_after]),
        reward_model=rm,
    )


def train_all(
    config: Config | None = None, seed: int = 0, progress: Callable[[float], None] | None = None
) -> dict[str, History]:
    """GRPO, REINFORCE and PPO from the same initial policy and seed."""
    out = {}
    for i, m in enumerate(METHODS):
        cb = None if progress is None else (lambda f, i=i: progress((i + f) / len(METHODS)))
        out[m] = train(m, config, seed, cb)
    return out


# ---------------------------------------------------------------------------
# 7. Test time: a thinking budget, and majority voting
# ---------------------------------------------------------------------------


def capped_accuracy(length_probs: np.ndarray, num_digits: np.ndarray, slip: float, caps: Any) -> np.ndarray:
    """Exact accuracy when thinking is cut off at `cap` tokens at test time, for every cap.

    A response that would think k tokens writes min(k, cap) and then answers:
    acc(cap) = mean_q sum_k P(k | q) (1 - slip) ** max(n_q - min(k, cap), 0).
    `length_probs` (E, K+1) are the policy's P(k | q) on E prompts with n digits (E,).
    """
    P = np.asarray(length_probs, dtype=float)
    caps = np.asarray(caps)
    k = np.arange(P.shape[1])
    thought = np.minimum(k[None, :], caps[:, None])  # (C, K+1)
    pc = p_correct(np.asarray(num_digits)[None, :, None], thought[:, None, :], slip)  # (C, E, K+1)
    return (P[None] * pc).sum(axis=2).mean(axis=1)


def sample_answers(
    a: np.ndarray,
    b: np.ndarray,
    n: np.ndarray,
    length_probs: np.ndarray,
    num_samples: int,
    slip: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """`num_samples` independent answers per prompt: k ~ P(k | q), then `solve`. (E,) -> (E, m)."""
    E, K1 = length_probs.shape
    # inverse-CDF sampling of k for every (prompt, sample)
    cdf = np.cumsum(length_probs, axis=1)
    u = rng.random((E, num_samples))
    k = np.minimum((u[:, :, None] > cdf[:, None, :]).sum(axis=2), K1 - 1)
    rep = lambda x: np.repeat(np.asarray(x, dtype=np.int64), num_samples)  # noqa: E731
    ans = solve(rep(a), rep(b), rep(n), k.reshape(-1), slip, rng)
    return ans.reshape(E, num_samples)


def majority_vote(answers: np.ndarray) -> np.ndarray:
    """The most frequent answer in each row; a tie goes to the tied answer that appears first.

    (N, k) -> (N,). counts[i, j] = #{l : answers[i, l] == answers[i, j]}; the first
    position holding the largest count is the first occurrence of the earliest tied answer.
    """
    A = np.asarray(answers)
    if A.ndim != 2 or A.shape[1] == 0:
        raise ValueError(f"answers must have shape (N, k) with k >= 1, got {A.shape}")
    counts = (A[:, :, None] == A[:, None, :]).sum(axis=2)  # (N, k)
    first_best = counts.argmax(axis=1)  # argmax returns the first maximum
    return A[np.arange(len(A)), first_best]


def consensus_curve(answers: np.ndarray, truth: np.ndarray, ks: Any) -> tuple[np.ndarray, np.ndarray]:
    """cons@k for each k in `ks` (majority vote of the first k answers), and pass@1.

    pass@1 is the mean correctness of every single answer (all m columns), the
    estimate of one sample's accuracy. Returns (cons (len(ks),), pass@1 scalar array).
    All prefixes at once: C[i, j, l] = #{l' <= l : answers[i, l'] == answers[i, j]}; the vote of the
    first k is the first j < k with the largest C[i, j, k - 1], as in `majority_vote`.
    """
    A = np.asarray(answers)
    truth = np.asarray(truth)
    C = (A[:, :, None] == A[:, None, :]).cumsum(axis=2, dtype=np.uint16)  # (N, m, m)
    rows = np.arange(len(A))
    cons = []
    for k in ks:
        j = C[:, :k, k - 1].argmax(axis=1)  # first position holding the most frequent answer
        cons.append((A[rows, j] == truth).mean())
    return np.array(cons), np.asarray((A == truth[:, None]).mean())
