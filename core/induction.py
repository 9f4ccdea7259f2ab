"""A small decoder-only Transformer that learns induction heads, trained live.

What this module computes (torch on the CPU, one thread):

* ``repeated_sequences``: the induction task. Random tokens in which one
  segment of random length, at a random place, appears a second time later
  on; the distance between the two copies changes from sequence to sequence,
  so position alone never says where to look.
* ``Transformer``: token + position embeddings, ``layers`` blocks of
  multi-head causal self-attention with learned W_Q, W_K, W_V, W_O and an
  optional two-layer MLP, each on a residual stream, LayerNorm *before* each
  sub-layer (pre-LN, as in GPT-2; Vaswani et al. put it after), a final
  LayerNorm and the unembedding. Shapes are written next to every line.
* ``train``: Adam on next-token cross-entropy; the loss on the repeated
  positions and on the others at every step; the previous-token and induction
  scores of every head at checkpoints (with the weights, so a page can replay
  the attention maps at each checkpoint).
* ``attention_maps``: every head's attention pattern on given tokens.

Notation follows Vaswani et al. (2017): d_model, h heads of width
d_k = d_v = d_model / h, Q = x W^Q, K = x W^K, V = x W^V,
Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V, heads concatenated then
multiplied by W^O.

References:
    Vaswani et al. (2017). "Attention is all you need". NeurIPS: sec. 3.2.1
        eq. (1) scaled dot-product attention; sec. 3.2.2 multi-head attention
        (W_i^Q, W_i^K, W_i^V, W^O); sec. 3.3 eq. (2) the position-wise
        feed-forward network; sec. 3.1 residual connections + LayerNorm;
        sec. 3.2.3 masking the future in the decoder.
    Ba, Kiros, Hinton (2016). "Layer normalization". arXiv:1607.06450.
    Radford et al. (2019). "Language models are unsupervised multitask
        learners" (GPT-2), sec. 2.3: LayerNorm moved to the input of each
        sub-block (pre-LN) and after the last block.
    Xiong et al. (2020). "On layer normalization in the Transformer
        architecture". ICML: pre-LN trains without warm-up.
    Elhage et al. (2021). "A mathematical framework for Transformer circuits".
        Transformer Circuits Thread: attention-only models; the induction
        head of a 2-layer model composes with a previous-token head of
        layer 1 (K-composition); a 1-layer model cannot form one.
    Olsson et al. (2022). "In-context learning and induction heads".
        Transformer Circuits Thread: repeated random tokens, the phase
        change in the loss, the prefix-matching (induction) score.
    Kingma, Ba (2015). "Adam: a method for stochastic optimization". ICLR.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from core.threads import one_thread

# ---------------------------------------------------------------------------
# 1. The task
# ---------------------------------------------------------------------------


def segment_range(length: int) -> tuple[int, int]:
    """Shortest and longest repeated segment for sequences of `length` tokens: length // 4 .. length // 2."""
    return max(2, length // 4), length // 2


def repeated_sequences(
    batch: int, length: int, vocab: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random tokens with one segment repeated at a random offset; and where induction predicts.

    Each sequence: `length` tokens drawn uniformly from 0..vocab-1; a segment of
    L tokens (L uniform in `segment_range(length)`) starting at p is copied to
    start at q, with p and q uniform such that p + L <= q and q + L <= length.
    The offset q - p varies from sequence to sequence.

    Returns tokens (batch, length) int64 and a boolean mask (batch, length):
    mask[b, t] is True when token t lies in the second copy after its first
    token (q < t < q + L) and token t-1 occurs exactly once before position
    t-1 (in the first copy). Then "find the earlier occurrence of the current
    token, copy the token that followed it" gives token t exactly, and nothing
    else in the sequence does: these are the induction positions.
    """
    if length < 8 or vocab < 2 or batch < 1:
        raise ValueError("need length >= 8, vocab >= 2, batch >= 1")
    B, T = batch, length
    tokens = rng.integers(0, vocab, size=(B, T))
    lo, hi = segment_range(T)
    L = rng.integers(lo, hi + 1, size=B)  # (B,)
    # p uniform in 0..T-2L, then q uniform in p+L..T-L
    p = np.floor(rng.random(B) * (T - 2 * L + 1)).astype(np.int64)  # (B,)
    q = p + L + np.floor(rng.random(B) * (T - L - (p + L) + 1)).astype(np.int64)  # (B,)
    t = np.arange(T)[None, :]  # (1, T)
    in_copy = (t >= q[:, None]) & (t < (q + L)[:, None])  # (B, T)
    source = np.where(in_copy, t - q[:, None] + p[:, None], t)  # (B, T)
    tokens = np.take_along_axis(tokens, source, axis=1)
    # earlier[b, i] = #{j < i : tokens[b, j] == tokens[b, i]}
    same = tokens[:, :, None] == tokens[:, None, :]  # (B, T, T)
    earlier = np.tril(same, k=-1).sum(axis=2)  # (B, T)
    mask = np.zeros((B, T), dtype=bool)
    # token t is predictable when t-1 is in the copy and its token occurred once before
    mask[:, 1:] = in_copy[:, 1:] & in_copy[:, :-1] & (earlier[:, :-1] == 1)
    return tokens.astype(np.int64), mask


# ---------------------------------------------------------------------------
# 2. The model, to be read next to Vaswani et al. (2017)
# ---------------------------------------------------------------------------


def sinusoidal_positions(n: int, d: int) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)); (n, d). Sec. 3.5."""
    pos = np.arange(n, dtype=np.float64)[:, None]  # (n, 1)
    two_i = np.arange(0, d, 2, dtype=np.float64)[None, :]  # (1, d/2)
    angle = pos / np.power(10000.0, two_i / d)  # (n, d/2)
    PE = np.zeros((n, d))
    PE[:, 0::2], PE[:, 1::2] = np.sin(angle), np.cos(angle[:, : d // 2])
    return PE


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, T, d_model) -> (B, h, T, d_k): head i gets columns i*d_k .. (i+1)*d_k - 1."""
    B, T, d = x.shape
    return x.view(B, T, heads, d // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, h, T, d_k) -> (B, T, h*d_k): Concat(head_1, ..., head_h) of sec. 3.2.2."""
    B, h, T, dk = x.shape
    return x.transpose(1, 2).reshape(B, T, h * dk)


class CausalSelfAttention(nn.Module):
    """MultiHead(x) = Concat(head_1..head_h) W^O, head_i = Attention(x W_i^Q, x W_i^K, x W_i^V).

    The h projections W_i^Q (d_model, d_k) are stored side by side as one
    (d_model, h*d_k) matrix (likewise K, V); no biases, as in the paper.
    """

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        if d_model % heads:
            raise ValueError("d_model must be a multiple of heads")
        self.heads = heads
        self.d_k = d_model // heads
        self.W_Q = nn.Linear(d_model, d_model, bias=False)
        self.W_K = nn.Linear(d_model, d_model, bias=False)
        self.W_V = nn.Linear(d_model, d_model, bias=False)
        self.W_O = nn.Linear(d_model, d_model, bias=False)
        self.last_weights: torch.Tensor | None = None  # (B, h, T, T), kept when `keep` is set
        self.keep = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, d_model)
        T = x.shape[1]
        Q = split_heads(self.W_Q(x), self.heads)  # (B, h, T, d_k)
        K = split_heads(self.W_K(x), self.heads)  # (B, h, T, d_k)
        V = split_heads(self.W_V(x), self.heads)  # (B, h, T, d_v)
        # scores_ij = q_i . k_j / sqrt(d_k)                     eq. (1)
        S = Q @ K.transpose(-2, -1) / math.sqrt(self.d_k)  # (B, h, T, T)
        # a query may not look ahead: -inf before the softmax, so weight exactly 0   sec. 3.2.3
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)  # (T, T)
        A = torch.softmax(S.masked_fill(future, float("-inf")), dim=-1)  # (B, h, T, T), rows sum to 1
        if self.keep:
            self.last_weights = A.detach()
        Z = A @ V  # (B, h, T, d_v)                             weighted values
        return self.W_O(merge_heads(Z))  # (B, T, d_model)      Concat(...) W^O


class MLP(nn.Module):
    """FFN(x) = max(0, x W_1 + b_1) W_2 + b_2 with d_ff = 4 d_model (sec. 3.3, eq. (2))."""

    def __init__(self, d_model: int):
        super().__init__()
        self.W_1 = nn.Linear(d_model, 4 * d_model)
        self.W_2 = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, d_model)
        return self.W_2(torch.relu(self.W_1(x)))  # (B, T, 4 d_model) -> (B, T, d_model)


class Block(nn.Module):
    """Pre-LN block: x <- x + MultiHead(LN(x)); x <- x + FFN(LN(x)) (the FFN only if `mlp`)."""

    def __init__(self, d_model: int, heads: int, mlp: bool):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, heads)
        self.ln_2 = nn.LayerNorm(d_model) if mlp else None
        self.mlp = MLP(d_model) if mlp else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, d_model)
        x = x + self.attn(self.ln_1(x))  # residual stream
        if self.mlp is not None:
            x = x + self.mlp(self.ln_2(x))
        return x


class Transformer(nn.Module):
    """Decoder-only: tokens (B, T) -> logits (B, T, vocab); logits[:, i] predict token i+1."""

    def __init__(self, vocab: int, length: int, d_model: int, heads: int, layers: int, mlp: bool):
        super().__init__()
        self.tok_embed = nn.Embedding(vocab, d_model)  # W_E: (vocab, d_model)
        # fixed sinusoidal positions (sec. 3.5): a shift by k positions is a rotation of each
        # (sin, cos) pair, so "look one step back" is one linear map for every position
        self.register_buffer(
            "PE", torch.tensor(sinusoidal_positions(length, d_model), dtype=torch.float32), persistent=False
        )
        self.blocks = nn.ModuleList([Block(d_model, heads, mlp) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.unembed = nn.Linear(d_model, vocab, bias=False)  # W_U: (d_model, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, T) int64
        T = tokens.shape[1]
        x = self.tok_embed(tokens) + self.PE[:T]  # (B, T, d_model)
        for block in self.blocks:
            x = block(x)  # (B, T, d_model)
        return self.unembed(self.ln_f(x))  # (B, T, vocab)


def build_model(config: InductionConfig) -> Transformer:
    return Transformer(
        config.vocab, config.length, config.d_model, config.heads, config.layers, not config.attention_only
    )


def parameter_counts(config: InductionConfig) -> dict[str, int]:
    """Trainable parameters per part, counted on a model built from `config` (LayerNorms with their block)."""
    with torch.random.fork_rng():
        model = build_model(config)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    counts = {"token_embedding": n(model.tok_embed)}  # the sinusoidal positions have no parameters
    for i, block in enumerate(model.blocks, start=1):
        counts[f"layer{i}_attention"] = n(block.attn) + n(block.ln_1)
        if block.mlp is not None:
            counts[f"layer{i}_mlp"] = n(block.mlp) + n(block.ln_2)
    counts["final_layernorm"] = n(model.ln_f)
    counts["unembedding"] = n(model.unembed)
    return counts


# ---------------------------------------------------------------------------
# 3. Reading the heads
# ---------------------------------------------------------------------------


def attention_maps(model: Transformer, tokens: np.ndarray | torch.Tensor) -> np.ndarray:
    """Every head's attention weights on `tokens`: (layers, heads, T, T) for one sequence (T,),
    or (B, layers, heads, T, T) for a batch (B, T). Row i (query) sums to 1; entries j > i are 0."""
    x = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
    single = x.ndim == 1
    if single:
        x = x[None]
    attns = [block.attn for block in model.blocks]
    for a in attns:
        a.keep = True
    try:
        with torch.inference_mode():
            model(x)
        maps = torch.stack([a.last_weights for a in attns], dim=1)  # (B, layers, h, T, T)
    finally:
        for a in attns:
            a.keep, a.last_weights = False, None
    out = maps.double().numpy()
    return out[0] if single else out


def earlier_occurrence(tokens: np.ndarray) -> np.ndarray:
    """For each position i, the last j < i with tokens[j] == tokens[i], or -1; (B, T)."""
    B, T = tokens.shape
    same = np.tril(tokens[:, :, None] == tokens[:, None, :], k=-1)  # (B, T, T): j < i, same token
    j = T - 1 - np.argmax(same[:, :, ::-1], axis=2)  # last True along j
    return np.where(same.any(axis=2), j, -1)


def head_scores(maps: np.ndarray, tokens: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Previous-token and induction score of every head; each (layers, heads).

    maps (B, layers, heads, T, T) from `attention_maps`; tokens, mask from
    `repeated_sequences`.
    - previous-token score: the mean over sequences and queries i >= 1 of A[i, i-1],
      the attention paid to the position just before.
    - induction score: the mean over the queries i whose next token is an induction
      position (mask[i+1]) of A[i, j+1], where j < i is the earlier occurrence of
      token i: the attention paid to the token that followed it last time.
    Both lie in [0, 1]; a head that does the job puts (nearly) all its weight there, 1.
    """
    B, T = tokens.shape
    i = np.arange(1, T)
    prev = maps[:, :, :, i, i - 1].mean(axis=(0, 3))  # (layers, heads)
    b, q = np.nonzero(mask[:, 1:])  # queries q = t - 1 whose next token t is predictable
    j = earlier_occurrence(tokens)[b, q]  # (n,)
    ind = maps[b, :, :, q, j + 1].mean(axis=0)  # (layers, heads)
    return prev, ind


# ---------------------------------------------------------------------------
# 4. Training
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InductionConfig:
    """Model and training settings; the defaults train in well under 30 s of one CPU thread."""

    layers: int = 2
    heads: int = 2
    d_model: int = 32
    attention_only: bool = True
    steps: int = 1500
    batch: int = 32
    length: int = 32
    vocab: int = 32
    lr: float = 3e-3

    def __post_init__(self) -> None:
        if self.layers < 1 or self.heads < 1 or self.steps < 1 or self.batch < 1:
            raise ValueError("layers, heads, steps and batch must be >= 1")
        if self.d_model % self.heads:
            raise ValueError("d_model must be a multiple of heads")
        if self.length < 8 or self.vocab < 2 or not self.lr > 0:
            raise ValueError("need length >= 8, vocab >= 2, lr > 0")


CHECKPOINTS = 25  # score checkpoints per run (plus step 0)
EVAL_BATCH = 128
EVAL_SEED = 12_345  # one fixed evaluation batch for every run


@dataclass
class InductionRun:
    """Everything one training run produced.

    steps (S,) = 1..S; loss_repeated / loss_other (S,): mean cross-entropy (nats) of the
    training batch on the induction positions (mask True) and on every other predicted
    position, at each step before its update. checkpoints (C,) step numbers (0 = init);
    prev_token / induction (C, layers, heads): `head_scores` on a fixed evaluation batch;
    states: the weights at each checkpoint (float32 state dicts), for replaying maps.
    """

    config: InductionConfig
    seed: int
    model: Transformer
    steps: np.ndarray
    loss_repeated: np.ndarray
    loss_other: np.ndarray
    checkpoints: np.ndarray
    prev_token: np.ndarray
    induction: np.ndarray
    states: list[dict[str, torch.Tensor]] = field(default_factory=list)
    seconds: float = float("nan")
    reference_seconds: float = float("nan")  # benchmarks.heavy's fixed workload, timed where the run trained

    def model_at(self, index: int) -> Transformer:
        """A copy of the model with the weights of checkpoint `index`."""
        model = build_model(self.config)
        model.load_state_dict(self.states[index])
        return model.eval()


def checkpoint_steps(steps: int, count: int = CHECKPOINTS) -> np.ndarray:
    """0 and `count` steps spread evenly up to `steps` (distinct, increasing)."""
    return np.unique(np.round(np.linspace(0, steps, count + 1)).astype(int))


def split_losses(logits: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per-position cross-entropy of next-token prediction, (B, T-1), and its means on and off the mask."""
    # logits[:, i] predict tokens[:, i+1]
    ce = nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), tokens[:, 1:], reduction="none")
    m = mask[:, 1:]
    return ce, ce[m].mean(), ce[~m].mean()


def evaluate(model: Transformer, tokens: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Next-token accuracy and loss on the induction positions and on the others."""
    x = torch.as_tensor(tokens)
    with torch.inference_mode():
        logits = model(x)
        ce, rep, other = split_losses(logits, x, torch.as_tensor(mask))
        hit = logits[:, :-1].argmax(-1) == x[:, 1:]
    m = torch.as_tensor(mask)[:, 1:]
    return {
        "accuracy_repeated": float(hit[m].float().mean()),
        "accuracy_other": float(hit[~m].float().mean()),
        "loss_repeated": float(rep),
        "loss_other": float(other),
    }


def eval_batch(config: InductionConfig) -> tuple[np.ndarray, np.ndarray]:
    """The fixed evaluation batch of a config (same for every run and seed)."""
    return repeated_sequences(EVAL_BATCH, config.length, config.vocab, np.random.default_rng(EVAL_SEED))


def train(
    config: InductionConfig, seed: int, progress: Callable[[int, int], None] | None = None
) -> InductionRun:
    """Train a fresh model with Adam on next-token cross-entropy over every position.

    Each step draws a new batch of `repeated_sequences`. `progress(step, steps)`
    is called after every step. One torch thread; reproducible for a seed.
    """
    with one_thread():
        return _train(config, int(seed), progress)


def _train(config: InductionConfig, seed: int, progress) -> InductionRun:
    t0 = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(config)
    rng = np.random.default_rng(seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    S = config.steps
    loss_rep, loss_other = np.zeros(S), np.zeros(S)
    ticks = checkpoint_steps(S)
    ev_tokens, ev_mask = eval_batch(config)
    prev, ind, states = [], [], []

    def checkpoint() -> None:
        model.eval()
        p, i = head_scores(attention_maps(model, ev_tokens), ev_tokens, ev_mask)
        prev.append(p)
        ind.append(i)
        states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        model.train()

    checkpoint()  # step 0
    model.train()
    for step in range(1, S + 1):
        tokens, mask = repeated_sequences(config.batch, config.length, config.vocab, rng)
        x, m = torch.as_tensor(tokens), torch.as_tensor(mask)
        ce, rep, other = split_losses(model(x), x, m)
        loss = ce.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_rep[step - 1], loss_other[step - 1] = rep.item(), other.item()
        if step in ticks:
            checkpoint()
        if progress is not None:
            progress(step, S)
    model.eval()
    return InductionRun(
        config=config,
        seed=seed,
        model=model,
        steps=np.arange(1, S + 1),
        loss_repeated=loss_rep,
        loss_other=loss_other,
        checkpoints=ticks,
        prev_token=np.stack(prev),
        induction=np.stack(ind),
        states=states,
        seconds=time.perf_counter() - t0,
    )


def estimate_seconds(config: InductionConfig, probe: int = 3) -> float:
    """Seconds `train(config, ...)` will take here and now: a few timed training steps, scaled.

    One untimed step first (allocations), then `probe` timed steps on a throw-away model; the
    checkpoints add about 4% (measured on the defaults). A measurement on this machine under its
    current load, not a model of the hardware.
    """
    with one_thread(), torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_model(config)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        rng = np.random.default_rng(0)
        times = []
        for _ in range(probe + 1):
            t0 = time.perf_counter()
            tokens, mask = repeated_sequences(config.batch, config.length, config.vocab, rng)
            x = torch.as_tensor(tokens)
            ce, _, _ = split_losses(model(x), x, torch.as_tensor(mask))
            opt.zero_grad(set_to_none=True)
            ce.mean().backward()
            opt.step()
            times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]) * config.steps * 1.04)


def one_layer(config: InductionConfig) -> InductionConfig:
    """The same budget with a single layer (the contrast of Elhage et al. 2021)."""
    return replace(config, layers=1)


# ---------------------------------------------------------------------------
# 5. Token names and storing runs
# ---------------------------------------------------------------------------

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def token_names(vocab: int) -> list[str]:
    """A pronounceable two-letter name per token id ("ba", "be", ...; numbered past 70)."""
    names = [c + v for c in _CONSONANTS for v in _VOWELS]
    return [names[i] if i < len(names) else f"t{i}" for i in range(vocab)]


def run_to_dict(run: InductionRun) -> dict:
    """The run as plain tensors and numbers (torch.save with weights_only loading); weights in float16."""
    return {
        "config": {k: getattr(run.config, k) for k in InductionConfig.__dataclass_fields__},
        "seed": run.seed,
        "loss_repeated": torch.as_tensor(run.loss_repeated, dtype=torch.float32),
        "loss_other": torch.as_tensor(run.loss_other, dtype=torch.float32),
        "checkpoints": torch.as_tensor(run.checkpoints),
        "prev_token": torch.as_tensor(run.prev_token, dtype=torch.float32),
        "induction": torch.as_tensor(run.induction, dtype=torch.float32),
        "states": [{k: v.half() for k, v in s.items()} for s in run.states],
        "seconds": float(run.seconds),
        "reference_seconds": float(run.reference_seconds),
    }


def run_from_dict(d: dict) -> InductionRun:
    """The inverse of `run_to_dict`; the model gets the last checkpoint's weights (float32)."""
    config = InductionConfig(**d["config"])
    states = [{k: v.float() for k, v in s.items()} for s in d["states"]]
    model = build_model(config)
    model.load_state_dict(states[-1])
    S = len(d["loss_repeated"])
    return InductionRun(
        config=config,
        seed=int(d["seed"]),
        model=model.eval(),
        steps=np.arange(1, S + 1),
        loss_repeated=d["loss_repeated"].double().numpy(),
        loss_other=d["loss_other"].double().numpy(),
        checkpoints=d["checkpoints"].numpy(),
        prev_token=d["prev_token"].double().numpy(),
        induction=d["induction"].double().numpy(),
        states=states,
        seconds=float(d["seconds"]),
        reference_seconds=float(d.get("reference_seconds", float("nan"))),
    )
