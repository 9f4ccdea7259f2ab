"""Transformer vs RNN: why attention replaced recurrence.

What this module computes (all with torch on the CPU):

* ``input_gradient_norms``: how strongly the last hidden state h_T still
  depends on each input x_t, the Frobenius norm of the Jacobian dh_T/dx_t for
  every t, by autograd, for a plain tanh RNN, an LSTM, a GRU and one
  self-attention layer at initialisation. For the RNN the chain rule gives a
  product of T - t Jacobians, so the norm shrinks (or grows) geometrically
  with the distance T - t; attention connects every position to the last one
  in a single step.
* ``forward_time`` and ``sequential_depth``: measured wall-clock time of one
  forward pass, and the number of steps that must run one after another.
* ``attention_weights`` and ``sinusoidal_positions``: the two pieces of the
  Transformer the page draws as heat maps.
* ``train_recall`` / ``recall_accuracy_table``: a tiny long-range task (read
  T tokens, then name the FIRST one) trained briefly for each model kind.

References:
    Bengio, Simard, Frasconi (1994). "Learning long-term dependencies with
        gradient descent is difficult". IEEE Trans. Neural Networks 5(2):
        the vanishing / exploding gradient of recurrent nets.
    Pascanu, Mikolov, Bengio (2013). "On the difficulty of training recurrent
        neural networks". ICML, sec. 2 and eq. (5)-(7): dh_T/dh_t is a product
        of T - t Jacobians diag(tanh') W, bounded by (gamma * rho)^(T - t).
    Hochreiter, Schmidhuber (1997). "Long short-term memory". Neural Comput.
        9(8); forget gate: Gers, Schmidhuber, Cummins (2000); forget-gate
        bias 1 at initialisation: Jozefowicz, Zaremba, Sutskever (2015),
        "An empirical exploration of recurrent network architectures", ICML.
    Cho et al. (2014). "Learning phrase representations using RNN
        encoder-decoder ...", EMNLP, sec. 2.3 (the GRU cell; we use the
        PyTorch gate convention h' = (1 - z) * n + z * h).
    Vaswani et al. (2017). "Attention is all you need". NeurIPS:
        sec. 3.2.1 eq. (1) scaled dot-product attention, sec. 3.5 sinusoidal
        positional encoding, sec. 4 and table 1 (sequential operations O(n)
        for recurrent layers, O(1) for self-attention; maximum path length).
    Saxe, McClelland, Ganguli (2014). "Exact solutions to the nonlinear
        dynamics of learning in deep linear networks", ICLR: (scaled)
        orthogonal initialisation, used here so that the spectral radius of
        the recurrent matrix equals its operator norm, weight_scale.
"""

from __future__ import annotations

import math
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from core.threads import one_thread  # noqa: F401  (pages use core.one_thread)

KINDS: tuple[str, ...] = ("rnn", "lstm", "gru", "attention")
RECURRENT_KINDS: tuple[str, ...] = ("rnn", "lstm", "gru")
RECALL_KINDS: tuple[str, ...] = ("rnn", "lstm", "gru", "transformer")

# Gate biases at initialisation (Jozefowicz et al. 2015): forget gate of the
# LSTM and update gate of the GRU start at sigmoid(1) ~ 0.73, "keep the state".
GATE_KEEP_BIAS = 1.0


def initial_keep_gate() -> float:
    """sigma(GATE_KEEP_BIAS): how open the keep gate is at initialisation for zero input (~0.73)."""
    return 1.0 / (1.0 + math.exp(-GATE_KEEP_BIAS))


def _check_kind(kind: str, allowed: tuple[str, ...]) -> None:
    if kind not in allowed:
        raise ValueError(f"kind must be one of {allowed}, got {kind!r}")


# ---------------------------------------------------------------------------
# 1. Gradient of the last state with respect to every input
# ---------------------------------------------------------------------------


def _scaled_orthogonal(n: int, scale: float, gen: torch.Generator) -> torch.Tensor:
    """A random orthogonal (n, n) matrix times `scale`: all |eigenvalues| = scale.

    QR of a Gaussian matrix, with the sign fix that makes Q Haar-distributed.
    """
    A = torch.randn(n, n, generator=gen, dtype=torch.float64)
    Q, R = torch.linalg.qr(A)
    Q = Q * torch.sign(torch.diagonal(R))  # (n, n)
    return scale * Q


def _gaussian(rows: int, cols: int, gen: torch.Generator) -> torch.Tensor:
    # W_ij ~ N(0, 1 / cols): keeps pre-activations O(1) for unit-variance inputs
    return torch.randn(rows, cols, generator=gen, dtype=torch.float64) / math.sqrt(cols)


@dataclass(frozen=True)
class CellWeights:
    """Weights of one randomly initialised cell (float64, for exact gradients).

    Gates are stacked along the rows: W_h is (G*H, H) with one (H, H)
    recurrent block per gate, each of spectral radius `weight_scale`;
    W_x is (G*H, D); b is (G*H,). G = 1 (rnn), 4 (lstm: i, f, g, o),
    3 (gru: r, z, n). For attention W_h = W_V (H, H) and W_x = [W_Q; W_K].
    """

    kind: str
    W_h: torch.Tensor
    W_x: torch.Tensor
    b: torch.Tensor


_GATES = {"rnn": 1, "lstm": 4, "gru": 3, "attention": 1}
# which gate block starts with the "keep" bias (lstm: forget gate f, gru: update gate z)
_KEEP_GATE = {"lstm": 1, "gru": 1}


def make_cell(kind: str, hidden: int, weight_scale: float, seed: int) -> CellWeights:
    """Random weights for `kind`; the input width equals `hidden` (like d_model)."""
    _check_kind(kind, KINDS)
    gen = torch.Generator().manual_seed(int(seed))
    H, G = hidden, _GATES[kind]
    W_h = torch.cat([_scaled_orthogonal(H, weight_scale, gen) for _ in range(G)])  # (G*H, H)
    n_x = 2 if kind == "attention" else G  # attention: W_Q and W_K
    W_x = torch.cat([_gaussian(H, H, gen) for _ in range(n_x)])  # (n_x*H, D)
    b = torch.zeros(n_x * H, dtype=torch.float64)
    if kind in _KEEP_GATE:
        k = _KEEP_GATE[kind]
        b[k * H : (k + 1) * H] = GATE_KEEP_BIAS
    return CellWeights(kind, W_h, W_x, b)


def cell_units(kind: str, xp: torch.Tensor, hp: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The element-wise part of a recurrent step: unit j of (h_t, c_t) reads only unit j of everything.

    xp = W_x x_t + b and hp = W_h h_{t-1} are (..., G*H), gate-major (gate g of unit j at g*H + j);
    h = h_{t-1}, c = c_{t-1} are (..., H). c is the LSTM's cell state; the RNN and the GRU pass it on.
    """
    if kind == "rnn":
        # h_t = tanh(W h_{t-1} + U x_t + b)
        return torch.tanh(xp + hp), c
    if kind == "lstm":
        i, f, g, o = (xp + hp).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        # c_t = f * c_{t-1} + i * g ;  h_t = o * tanh(c_t)
        c = f * c + i * g
        return o * torch.tanh(c), c
    if kind == "gru":
        xr, xz, xn = xp.chunk(3, dim=-1)
        hr, hz, hn = hp.chunk(3, dim=-1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        # n = tanh(W_in x_t + b_n + r * (W_hn h_{t-1}));  h_t = (1 - z) * n + z * h_{t-1}
        n = torch.tanh(xn + r * hn)
        return (1 - z) * n + z * h, c
    raise ValueError(f"{kind!r} is not a recurrent cell")


def cell_step(cell: CellWeights, h: torch.Tensor, c: torch.Tensor, x_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of a recurrent cell: (h_{t-1}, c_{t-1}, x_t) -> (h_t, c_t); any leading batch shape."""
    return cell_units(cell.kind, x_t @ cell.W_x.T + cell.b, h @ cell.W_h.T, h, c)


def last_state(cell: CellWeights, x: torch.Tensor) -> torch.Tensor:
    """h_T for inputs x of shape (B, T, D); returns (B, H). Literal recurrences."""
    B, T, _ = x.shape
    H = cell.W_h.shape[1]
    if cell.kind == "attention":
        W_V = cell.W_h
        W_Q, W_K = cell.W_x.chunk(2)
        q = x[:, -1] @ W_Q.T  # (B, H)   query of the last position
        K = x @ W_K.T  # (B, T, H)
        V = x @ W_V.T  # (B, T, H)
        # a_T = softmax(q_T K^T / sqrt(d_k))          Vaswani et al. eq. (1)
        a = torch.softmax(torch.einsum("bh,bth->bt", q, K) / math.sqrt(H), dim=-1)  # (B, T)
        return torch.einsum("bt,bth->bh", a, V)  # (B, H)

    h = torch.zeros(B, H, dtype=x.dtype)
    c = torch.zeros(B, H, dtype=x.dtype)
    for t in range(T):
        h, c = cell_step(cell, h, c, x[:, t])
    return h


# Inputs are small, x_t ~ N(0, INPUT_SCALE^2 I), so tanh / sigmoid work near their
# linear range and the recurrent matrix decides the fate of the gradient
# (the regime of Pascanu et al. 2013, sec. 2.1). With large inputs tanh
# saturates and every kind decays faster.
INPUT_SCALE = 0.1


def random_inputs(seq_len: int, hidden: int, seed: int) -> torch.Tensor:
    """x_t ~ N(0, INPUT_SCALE^2 I), shape (T, D) with D = hidden, float64."""
    gen = torch.Generator().manual_seed(int(seed) + 7919)
    return INPUT_SCALE * torch.randn(seq_len, hidden, generator=gen, dtype=torch.float64)


def input_gradient_norms(kind: str, seq_len: int, hidden: int, weight_scale: float, seed: int) -> np.ndarray:
    """||dh_T / dx_t||_F for t = 1..T (array index t - 1), by autograd.

    Attention: h_T depends on every x_t directly, one backward pass per output
    unit (batched). Recurrent cells: the chain rule of back-propagation through
    time, with every step's local Jacobian taken by autograd, all steps at once:

        s_t = (h_t, c_t) = step(s_{t-1}, x_t)
        A_t = ds_t/ds_{t-1},  B_t = ds_t/dx_t          (autograd, all t in one pass)
        dh_T/dx_t = P A_T A_{T-1} ... A_{t+1} B_t        (P picks h out of s)

    which costs T small matrix products instead of a backward pass through a
    batch of H copies of the sequence (Pascanu et al. 2013, eq. (5)).
    """
    _check_kind(kind, KINDS)
    if seq_len < 1 or hidden < 1:
        raise ValueError("seq_len and hidden must be >= 1")
    cell = make_cell(kind, hidden, weight_scale, seed)
    x = random_inputs(seq_len, hidden, seed)  # (T, D)
    if kind == "attention":
        X = x.unsqueeze(0).repeat(hidden, 1, 1).requires_grad_(True)  # (H, T, D)
        h_T = last_state(cell, X)  # (H, H)
        torch.diagonal(h_T).sum().backward()  # batch row i holds the gradient of output unit i
        J = X.grad.transpose(0, 1)  # (T, H, D): J[t, i, :] = d h_T[i] / d x_t
    else:
        J = _recurrent_input_jacobians(cell, x)  # (T, H, D)
    # ||dh_T/dx_t||_F = sqrt(sum_{i, d} J[t, i, d]^2)
    return J.pow(2).sum(dim=(1, 2)).sqrt().numpy()


def _recurrent_input_jacobians(cell: CellWeights, x: torch.Tensor) -> torch.Tensor:
    """dh_T/dx_t for every t of a recurrent cell; x (T, D) -> (T, H, D)."""
    T, H = x.shape[0], cell.W_h.shape[1]
    G = cell.W_h.shape[0] // H
    # 1. forward pass, keeping what enters every step's element-wise part
    h_prev, c_prev = torch.zeros(T, H, dtype=x.dtype), torch.zeros(T, H, dtype=x.dtype)
    hp = torch.zeros(T, G * H, dtype=x.dtype)
    xp = x @ cell.W_x.T + cell.b  # (T, G*H), all t at once
    h, c = h_prev[0], c_prev[0]
    with torch.no_grad():
        for t in range(T):
            h_prev[t], c_prev[t], hp[t] = h, c, h @ cell.W_h.T
            h, c = cell_units(cell.kind, xp[t], hp[t], h, c)

    # 2. local derivatives by autograd, every step at once. Unit j of the output reads only
    #    unit j of the inputs, so the gradient of sum_j h_t[j] holds each dh_t[j]/d(input of unit j).
    inputs = [v.detach().requires_grad_(True) for v in (xp, hp, h_prev, c_prev)]
    h_new, c_new = cell_units(cell.kind, *inputs)

    def diag(out: torch.Tensor) -> list[torch.Tensor]:
        grads = torch.autograd.grad(out.sum(), inputs, allow_unused=True, retain_graph=True)
        return [torch.zeros_like(v) if g is None else g for v, g in zip(inputs, grads, strict=True)]

    dh_xp, dh_hp, dh_h, dh_c = diag(h_new)  # (T, G*H), (T, G*H), (T, H), (T, H)
    lstm = cell.kind == "lstm"  # the only cell with a state c of its own (the others pass c on)
    if lstm:
        dc_xp, dc_hp, dc_h, dc_c = diag(c_new)

    # 3. back-propagate through time: M_h = dh_T/dh_t, M_c = dh_T/dc_t, starting from (I, 0)
    M_h, M_c = torch.eye(H, dtype=x.dtype), torch.zeros(H, H, dtype=x.dtype)
    J = torch.empty(T, H, x.shape[1], dtype=x.dtype)
    for t in range(T - 1, -1, -1):
        Mh_g = M_h.repeat(1, G)  # (H, G*H): unit j's column under every gate
        # dh_T/dxp_t and dh_T/dhp_t through the element-wise part (and through c_t for the LSTM)
        G_x, G_h = Mh_g * dh_xp[t], Mh_g * dh_hp[t]
        if lstm:
            Mc_g = M_c.repeat(1, G)
            G_x, G_h = G_x + Mc_g * dc_xp[t], G_h + Mc_g * dc_hp[t]
        # dh_T/dx_t = dh_T/dxp_t · W_x
        J[t] = G_x @ cell.W_x
        # dh_T/dh_{t-1} = dh_T/dhp_t · W_h + the direct path; dh_T/dc_{t-1} is element-wise only
        if lstm:
            M_h, M_c = G_h @ cell.W_h + M_h * dh_h[t] + M_c * dc_h[t], M_h * dh_c[t] + M_c * dc_c[t]
        else:
            M_h = G_h @ cell.W_h + M_h * dh_h[t]
    return J


def rnn_gradient_bound(seq_len: int, hidden: int, weight_scale: float, seed: int) -> np.ndarray:
    """Upper bound on ||dh_T/dx_t||_F for the plain RNN of `input_gradient_norms`; (T,).

    dh_T/dx_t = D_T W D_{T-1} W ... W D_t U with D_k = diag(1 - h_k^2), ||D_k||_2 <= 1
    and ||W||_2 = rho (scaled orthogonal W), so ||dh_T/dx_t||_F <= rho^(T-t) ||U||_F
    (Pascanu et al. 2013, eq. (5)-(7)).
    """
    U = make_cell("rnn", hidden, weight_scale, seed).W_x
    distance = np.arange(seq_len - 1, -1, -1)  # T - t for t = 1..T
    return weight_scale**distance * float(torch.linalg.matrix_norm(U))


# ---------------------------------------------------------------------------
# 2. Measured forward time and sequential depth
# ---------------------------------------------------------------------------


class _SelfAttention(nn.Module):
    """One causal self-attention layer: all T positions in a few matrix products."""

    def __init__(self, d: int):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, d)
        q, k, v = self.qkv(x).chunk(3, dim=-1)  # 3 x (B, T, d)
        return self.out(nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True))


def _timing_module(kind: str, hidden: int) -> nn.Module:
    if kind == "rnn":
        return nn.RNN(hidden, hidden, batch_first=True)
    if kind == "lstm":
        return nn.LSTM(hidden, hidden, batch_first=True)
    if kind == "gru":
        return nn.GRU(hidden, hidden, batch_first=True)
    return _SelfAttention(hidden)


def forward_time(kind: str, seq_len: int, hidden: int, batch: int) -> float:
    """Median wall-clock seconds of one forward pass (torch's own kernels), measured here.

    Recurrent layers use torch.nn.RNN / LSTM / GRU, whose time loop runs in
    C++; attention is one causal self-attention layer. One warm-up call, then
    the median of 3 timed calls, on one thread. The number depends on this
    machine and its load: it is a measurement, not a model.
    """
    _check_kind(kind, KINDS)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        module = _timing_module(kind, hidden).eval()
        x = torch.randn(batch, seq_len, hidden)
    times = []
    with one_thread(), torch.inference_mode():
        module(x)  # warm-up
        for _ in range(3):
            t0 = time.perf_counter()
            module(x)
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def sequential_depth(kind: str, seq_len: int) -> int:
    """Steps that must run one after another in one layer (Vaswani et al. table 1).

    A recurrent layer needs h_{t-1} before h_t: T steps. Self-attention
    computes all positions at once: 1 step per layer.
    """
    _check_kind(kind, KINDS + ("transformer",))
    return int(seq_len) if kind in RECURRENT_KINDS else 1


# ---------------------------------------------------------------------------
# 3. Attention weights and positional encodings
# ---------------------------------------------------------------------------


def attention_weights(x: np.ndarray | torch.Tensor, causal: bool, temperature: float) -> np.ndarray:
    """A = softmax(x x^T / (sqrt(d) * temperature)), rows = queries; (T, T).

    Self-attention with Q = K = x (no learned projections), so the heat map
    shows the raw similarity of the token vectors. `causal` masks the future
    (j > i) with -inf before the softmax, so those weights are exactly 0.
    """
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    X = torch.as_tensor(np.asarray(x), dtype=torch.float64)  # (T, d)
    T, d = X.shape
    # scores_ij = q_i . k_j / (sqrt(d_k) * temperature)      Vaswani et al. eq. (1)
    S = X @ X.T / (math.sqrt(d) * temperature)  # (T, T)
    if causal:
        future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        S = S.masked_fill(future, float("-inf"))
    return torch.softmax(S, dim=-1).numpy()


def sinusoidal_positions(n: int, d: int) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...); (n, d).

    Vaswani et al. (2017) sec. 3.5. An odd last column gets the sine.
    """
    pos = np.arange(n, dtype=np.float64)[:, None]  # (n, 1)
    two_i = np.arange(0, d, 2, dtype=np.float64)[None, :]  # (1, ceil(d/2))
    # angle = pos / 10000^(2i / d)
    angle = pos / np.power(10000.0, two_i / d)  # (n, ceil(d/2))
    PE = np.zeros((n, d))
    PE[:, 0::2] = np.sin(angle)
    PE[:, 1::2] = np.cos(angle[:, : d // 2])
    return PE


_CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_TOKEN = re.compile(_CJK + r"|[A-Za-z0-9']+|[^\sA-Za-z0-9'\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def tokenize(text: str) -> list[str]:
    """Words and punctuation for English; one token per character for Chinese."""
    return [tok.lower() for tok in _TOKEN.findall(text)]


def token_embeddings(tokens: list[str], d: int, position_scale: float = 1.0) -> np.ndarray:
    """x_i = e(token_i) + position_scale * PE_i, shape (T, d).

    e(token) is a fixed random unit-variance vector seeded by the token's
    CRC32 (no trained embedding is shipped): equal tokens get equal vectors,
    different tokens nearly orthogonal ones. PE makes neighbours similar.
    """
    E = np.stack(
        [np.random.default_rng(zlib.crc32(tok.encode("utf-8"))).standard_normal(d) for tok in tokens]
    )
    return E + position_scale * sinusoidal_positions(len(tokens), d)


# ---------------------------------------------------------------------------
# 4. Long-range recall task: read T tokens, output the first one
# ---------------------------------------------------------------------------

RECALL_CLASSES = 4  # symbols 0..3 to remember; chance accuracy = 1/4
RECALL_VOCAB = 2 * RECALL_CLASSES  # symbols 4..7 are distractors


def recall_batch(batch: int, seq_len: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens (B, T): a symbol from 0..K-1 at t = 1, then T - 1 distractors from K..2K-1.

    The target is the first token; only its class matters, so a model must
    carry one of K values across T - 1 irrelevant steps.
    """
    target = torch.randint(0, RECALL_CLASSES, (batch,), generator=gen)  # (B,)
    noise = torch.randint(RECALL_CLASSES, RECALL_VOCAB, (batch, seq_len - 1), generator=gen)  # (B, T-1)
    return torch.cat([target[:, None], noise], dim=1), target


class RecallModel(nn.Module):
    """Embedding -> one recurrent layer or one Transformer encoder layer -> classifier on the last position."""

    def __init__(self, kind: str, d_model: int = 32, max_len: int = 512, chrono_max: int = 0):
        super().__init__()
        _check_kind(kind, RECALL_KINDS)
        self.kind = kind
        self.embed = nn.Embedding(RECALL_VOCAB, d_model)
        if kind == "transformer":
            self.body = nn.TransformerEncoderLayer(
                d_model, nhead=2, dim_feedforward=2 * d_model, dropout=0.0, batch_first=True
            )
            self.register_buffer(
                "PE", torch.tensor(sinusoidal_positions(max_len, d_model), dtype=torch.float32)
            )
        else:
            self.body = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](
                d_model, d_model, batch_first=True
            )
            if kind in _KEEP_GATE:
                self._chrono_init(d_model, chrono_max)
        self.head = nn.Linear(d_model, RECALL_CLASSES)

    def _chrono_init(self, C: int, T_max: int) -> None:
        """Chrono initialisation (Tallec & Ollivier 2018, eq. (16)): b_keep ~ log U(1, T_max - 1).

        The keep gate (LSTM forget gate f, GRU update gate z) then starts open
        with time constants spread up to T_max steps; the LSTM input gate gets
        -b_f. torch gate order: lstm (i, f, g, o), gru (r, z, n).
        """
        k = _KEEP_GATE[self.kind]
        u = torch.rand(C) * (max(T_max, 3) - 2) + 1  # U(1, T_max - 1)
        with torch.no_grad():
            self.body.bias_hh_l0.zero_()
            self.body.bias_ih_l0[k * C : (k + 1) * C] = torch.log(u)
            if self.kind == "lstm":
                self.body.bias_ih_l0[0:C] = -torch.log(u)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, T) -> logits (B, V)
        x = self.embed(tokens)  # (B, T, C)
        if self.kind == "transformer":
            x = x + self.PE[: tokens.shape[1]]  # sec. 3.5: add positions
            y = self.body(x)  # (B, T, C)
        else:
            y, _ = self.body(x)  # (B, T, C)
        return self.head(y[:, -1])  # (B, V)


@dataclass
class RecallResult:
    kind: str
    seq_len: int
    steps: int
    seed: int
    loss: list[float] = field(default_factory=list)  # training loss at every step
    accuracy: float = float("nan")  # on fresh held-out sequences
    seconds: float = float("nan")


def train_recall(
    kind: str,
    seq_len: int,
    steps: int = 300,
    seed: int = 0,
    d_model: int = 32,
    batch: int = 32,
    lr: float = 3e-3,
    eval_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> RecallResult:
    """Train one model briefly with Adam on cross-entropy; evaluate on fresh sequences.

    `progress(step, steps)` is called after every step (for a progress bar).
    Gradient norm clipped at 1 (Pascanu et al. 2013, sec. 3.2). LSTM / GRU
    keep gates get the chrono initialisation for T_max = seq_len. Runs on
    one thread.
    """
    _check_kind(kind, RECALL_KINDS)
    with one_thread():
        return _train_recall(kind, seq_len, steps, seed, d_model, batch, lr, eval_size, progress)


def _train_recall(kind, seq_len, steps, seed, d_model, batch, lr, eval_size, progress) -> RecallResult:
    t0 = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        model = RecallModel(kind, d_model, max_len=max(512, seq_len), chrono_max=seq_len)
    gen = torch.Generator().manual_seed(int(seed) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    result = RecallResult(kind, seq_len, steps, seed)
    model.train()
    for step in range(steps):
        tokens, target = recall_batch(batch, seq_len, gen)
        loss = nn.functional.cross_entropy(model(tokens), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        result.loss.append(loss.item())
        if progress is not None:
            progress(step + 1, steps)
    model.eval()
    eval_gen = torch.Generator().manual_seed(10_000 + int(seed))
    tokens, target = recall_batch(eval_size, seq_len, eval_gen)
    with torch.inference_mode():
        result.accuracy = float((model(tokens).argmax(-1) == target).float().mean())
    result.seconds = time.perf_counter() - t0
    return result
