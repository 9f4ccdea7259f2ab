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

    @torch.no_grad()
    def step(self, grads: tuple[torch.Tensor, ...]) -> None:
        b1, b2 = self.betas
        self.t += 1
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


@dataclass
class History:
    method: str
    config: Config
    reward: np.ndarray  # (S,) mean reward of the sampled batch
    accuracy: np.ndarray  # (S,) fraction of sampled responses that were correct
    length: np.ndarray  # (S,) mean thinking tokens of the sampled responses
    kl: np.ndarray  # (S,) exact KL(pi_theta || pi_ref) per prompt, mean over the eval prompts
    zero_adv_frac: np.ndarray  # (S,) fraction of groups whose advantages were all 0
    pass1: np.ndarray  # (S,) exact expected accuracy on the eval prompts
    length_by_digits: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (2, D): before, after


def _advantages(method: str, r: torch.Tensor, v: torch.Tensor | None) -> torch.Tensor:
    """(B, G) rewards -> (B, G) advantages."""
    if method == "grpo":
        return group_advantages(r)
    if method == "reinforce":
        return r.clone()
    # ppo: A = r - V(q), whitened over the batch
    A = r - v[:, None]
    return (A - A.mean()) / (A.std(unbiased=False) + 1e-6)


def train(
    method: str, config: Config | None = None, seed: int = 0, progress: Callable[[float], None] | None = None
) -> History:
    """Train the toy policy with `method` in METHODS; a history of every step."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    with one_thread():  # tiny matrices: see core.threads
        return _train(method, config or Config(), seed, progress)


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
    opt = Adam(params, lr=cfg.learning_rate)

    eval_rng = np.random.default_rng(10_000 + seed)
    ea, eb, en = sample_problems(cfg.num_eval, D, eval_rng)
    x_eval = torch.from_numpy(encode_prompts(ea, eb, en, D))
    # P(correct | n, k) for every eval prompt and every k: (E, K+1)
    pc_eval = torch.from_numpy(p_correct(en[:, None], np.arange(K + 1)[None, :], cfg.slip)).float()
    with torch.no_grad():
        logP_ref_eval = length_logprobs(ref(x_eval))

    def by_digits() -> np.ndarray:
        with torch.no_grad():
            Ek = (length_logprobs(policy(x_eval)).exp() * torch.arange(K + 1)).sum(1).numpy()
        return np.array([Ek[en == d].mean() if (en == d).any() else np.nan for d in range(1, D + 1)])

    before = by_digits()
    S = cfg.num_steps
    out = {name: np.zeros(S) for name in ("reward", "accuracy", "length", "kl", "zero_adv_frac", "pass1")}
    for step in range(S):
        # 1. sample B prompts, G responses each (old policy = current policy before the update)
        a, b, n = sample_problems(B, D, rng)
        x = torch.from_numpy(encode_prompts(a, b, n, D))  # (B, in)
        with torch.no_grad():
            z_old = policy(x).repeat_interleave(G, dim=0)  # (B*G, K+1): each prompt's logits, G times
            k = torch.multinomial(length_logprobs(z_old).exp(), 1, generator=gen).squeeze(1)  # (B*G,)
            logp_old, mask = token_logprobs(z_old, k)
            logp_ref, _ = token_logprobs(ref(x).repeat_interleave(G, dim=0), k)
            logP_eval = length_logprobs(policy(x_eval))
        # 2. rule-based reward: really assemble the answer and check it
        kn = k.numpy()
        ans = solve(np.repeat(a, G), np.repeat(b, G), np.repeat(n, G), kn, cfg.slip, rng)
        correct = ans == np.repeat(a + b, G)
        r = torch.from_numpy(rule_reward(correct, kn, cfg.length_cost, cfg.format_weight)).float().view(B, G)
        # 3. advantages
        with torch.no_grad():
            v = value(x).squeeze(1) if value is not None else None
            A = _advantages(method, r, v)  # (B, G)
        # 4. mu gradient steps on the clipped, KL-penalised surrogate
        for _ in range(cfg.num_inner):
            logp, _ = token_logprobs(policy(x).repeat_interleave(G, dim=0), k)
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
        out["kl"][step] = exact_kl(logP_eval, logP_ref_eval).mean().item()
        out["zero_adv_frac"][step] = (A.abs().amax(dim=1) == 0).float().mean().item()
        # pass@1 = E_q sum_k P(k | q) P(correct | n, k)
        out["pass1"][step] = (logP_eval.exp() * pc_eval).sum(1).mean().item()
        if progress is not None:
            progress((step + 1) / S)
    return History(method, cfg, **out, length_by_digits=np.stack([before, by_digits()]))


def train_all(
    config: Config | None = None, seed: int = 0, progress: Callable[[float], None] | None = None
) -> dict[str, History]:
    """GRPO, REINFORCE and PPO from the same initial policy and seed."""
    out = {}
    for i, m in enumerate(METHODS):
        cb = None if progress is None else (lambda f, i=i: progress((i + f) / len(METHODS)))
        out[m] = train(m, config, seed, cb)
    return out
