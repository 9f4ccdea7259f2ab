"""Tests for core/sequence_models.py against independent references.

References used here: a literal numpy tanh RNN (forward, central finite
differences, and the chain-rule product of Pascanu et al. 2013 eq. (5)),
torch.autograd.functional.jacobian, a literal softmax loop, and the
sinusoidal formula of Vaswani et al. (2017) sec. 3.5 written out per entry.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core import sequence_models as sm

# ---------------------------------------------------------------------------
# gradient norms
# ---------------------------------------------------------------------------


def _numpy_rnn(W: np.ndarray, U: np.ndarray, x: np.ndarray) -> list[np.ndarray]:
    """Literal h_t = tanh(W h_{t-1} + U x_t), h_0 = 0; returns [h_1, ..., h_T]."""
    h = np.zeros(W.shape[0])
    hs = []
    for x_t in x:
        h = np.tanh(W @ h + U @ x_t)
        hs.append(h)
    return hs


def _rnn_weights(T: int, H: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cell = sm.make_cell("rnn", H, rho, seed)
    x = sm.random_inputs(T, H, seed).numpy()
    return cell.W_h.numpy(), cell.W_x.numpy(), x


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), hidden=st.sampled_from([8, 16, 32]))
def test_rnn_gradient_vanishes_at_weight_scale_half(seed: int, hidden: int) -> None:
    """rho = 0.5, T = 50: ||dh_T/dx_1|| / ||dh_T/dx_T|| < 1e-12.

    Bound (Pascanu et al. 2013, eq. (5)-(7)): dh_T/dx_1 = D_T W D_{T-1} W ... D_1 U
    with D = diag(1 - h^2), ||D|| <= 1 and ||W||_2 = rho (scaled orthogonal), so
    ||dh_T/dx_1||_F <= rho^(T-1) ||U||_F = 0.5^49 ||U||_F ~ 1.8e-15 ||U||_F,
    while ||dh_T/dx_T||_F = ||D_T U||_F >= min(1 - h_T^2) ||U||_F.
    """
    T, rho = 50, 0.5
    g = sm.input_gradient_norms("rnn", T, hidden, rho, seed)
    W, U, x = _rnn_weights(T, hidden, rho, seed)
    h_T = _numpy_rnn(W, U, x)[-1]
    assert g.shape == (T,)
    assert g[0] <= rho ** (T - 1) * np.linalg.norm(U) * (1 + 1e-9)
    assert g[0] / g[-1] <= rho ** (T - 1) / np.min(1 - h_T**2) * (1 + 1e-9)
    assert g[0] / g[-1] < 1e-12
    # the decay is monotone in the distance for a contraction
    assert np.all(np.diff(g) > 0)


@pytest.mark.parametrize("rho", [0.3, 0.8, 1.0, 1.6])
def test_rnn_gradient_never_exceeds_its_bound(rho: float) -> None:
    """||dh_T/dx_t||_F <= rho^(T-t) ||U||_F for every t (Pascanu et al. 2013, eq. (5)-(7)); rtol 1e-9."""
    g = sm.input_gradient_norms("rnn", 40, 16, rho, 5)
    bound = sm.rnn_gradient_bound(40, 16, rho, 5)
    _, U, _ = _rnn_weights(40, 16, rho, 5)
    np.testing.assert_allclose(bound, rho ** np.arange(39, -1, -1) * np.linalg.norm(U), rtol=1e-12)
    assert np.all(g <= bound * (1 + 1e-9))


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), rho=st.sampled_from([0.5, 1.0, 1.5]))
def test_attention_gradient_does_not_vanish(seed: int, rho: float) -> None:
    """One attention step reaches every position: first/last within a factor 10, same for max/min."""
    g = sm.input_gradient_norms("attention", 50, 16, rho, seed)
    assert 0.1 < g[0] / g[-1] < 10
    assert g.max() / g.min() < 10


def test_rnn_gradient_explodes_above_one() -> None:
    """rho = 1.5, small inputs (near-linear tanh): the far gradient exceeds the near one."""
    g = sm.input_gradient_norms("rnn", 80, 32, 1.5, 0)
    assert g[0] / g[-1] > 10


@pytest.mark.parametrize("seed", [0, 1])
def test_rnn_gradient_matches_jacobian_product_and_finite_differences(seed: int) -> None:
    """Autograd norms == literal chain-rule product (rtol 1e-10) == central differences (rtol 1e-6)."""
    T, H, rho = 12, 6, 0.9
    g = sm.input_gradient_norms("rnn", T, H, rho, seed)
    W, U, x = _rnn_weights(T, H, rho, seed)
    hs = _numpy_rnn(W, U, x)
    # analytic: dh_T/dx_t = D_T W D_{T-1} W ... W D_t U,  D_k = diag(1 - h_k^2)
    analytic = np.empty(T)
    M = np.diag(1 - hs[-1] ** 2)  # dh_T / da_T
    for t in range(T - 1, -1, -1):
        analytic[t] = np.linalg.norm(M @ U)
        if t > 0:
            M = M @ W @ np.diag(1 - hs[t - 1] ** 2)
    np.testing.assert_allclose(g, analytic, rtol=1e-10)
    # finite differences: J[:, d] ~ (h_T(x + eps e_{t,d}) - h_T(x - eps e_{t,d})) / 2 eps
    eps = 1e-6
    for t in (0, T // 2, T - 1):
        J = np.empty((H, H))
        for d in range(H):
            xp, xm = x.copy(), x.copy()
            xp[t, d] += eps
            xm[t, d] -= eps
            J[:, d] = (_numpy_rnn(W, U, xp)[-1] - _numpy_rnn(W, U, xm)[-1]) / (2 * eps)
        np.testing.assert_allclose(g[t], np.linalg.norm(J), rtol=1e-6)


@pytest.mark.parametrize("kind", sm.KINDS)
@pytest.mark.parametrize(("T", "H", "rho", "seed"), [(7, 5, 1.2, 3), (40, 12, 0.9, 1)])
def test_gradient_norms_match_the_full_torch_jacobian(kind: str, T: int, H: int, rho: float, seed: int) -> None:
    """Step-wise back-propagation through time equals torch.autograd.functional.jacobian
    of the literal recurrence h_T(x_1..x_T) (rtol 1e-10)."""
    g = sm.input_gradient_norms(kind, T, H, rho, seed)
    cell = sm.make_cell(kind, H, rho, seed)
    x = sm.random_inputs(T, H, seed)
    J = torch.autograd.functional.jacobian(lambda z: sm.last_state(cell, z[None])[0], x)  # (H, T, D)
    ref = torch.linalg.matrix_norm(J.permute(1, 0, 2)).numpy()  # Frobenius norm per t
    np.testing.assert_allclose(g, ref, rtol=1e-10)


def test_recurrent_matrices_have_the_requested_spectral_radius() -> None:
    for kind, G in (("rnn", 1), ("lstm", 4), ("gru", 3)):
        cell = sm.make_cell(kind, 10, 0.7, 0)
        for block in cell.W_h.chunk(G):
            np.testing.assert_allclose(np.abs(torch.linalg.eigvals(block).numpy()), 0.7, rtol=1e-10)


# ---------------------------------------------------------------------------
# depth and time
# ---------------------------------------------------------------------------


def test_sequential_depth() -> None:
    """Vaswani et al. (2017) table 1: O(n) sequential operations for recurrence, O(1) for self-attention."""
    for T in (1, 17, 300):
        for kind in sm.RECURRENT_KINDS:
            assert sm.sequential_depth(kind, T) == T
        assert sm.sequential_depth("attention", T) == 1


@pytest.mark.parametrize("kind", sm.KINDS)
def test_forward_time_is_a_positive_measurement(kind: str) -> None:
    s = sm.forward_time(kind, 16, 8, 2)
    assert math.isfinite(s) and 0 < s < 5


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError):
        sm.input_gradient_norms("cnn", 5, 4, 1.0, 0)


# ---------------------------------------------------------------------------
# attention weights
# ---------------------------------------------------------------------------


def _literal_attention(x: np.ndarray, causal: bool, temperature: float) -> np.ndarray:
    T, d = x.shape
    A = np.zeros((T, T))
    for i in range(T):
        js = range(i + 1) if causal else range(T)
        s = {j: sum(x[i, k] * x[j, k] for k in range(d)) / (math.sqrt(d) * temperature) for j in js}
        m = max(s.values())
        Z = sum(math.exp(v - m) for v in s.values())
        for j, v in s.items():
            A[i, j] = math.exp(v - m) / Z
    return A


@settings(max_examples=30, deadline=None)
@given(
    T=st.integers(1, 9),
    d=st.integers(1, 6),
    causal=st.booleans(),
    temperature=st.floats(0.05, 20.0),
    seed=st.integers(0, 2**31),
)
def test_attention_rows_sum_to_one_and_mask_the_future(T, d, causal, temperature, seed) -> None:
    x = np.random.default_rng(seed).normal(size=(T, d)) * 2
    A = sm.attention_weights(x, causal, temperature)
    np.testing.assert_allclose(A.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(A >= 0)
    if causal:
        assert np.all(A[np.triu_indices(T, k=1)] == 0.0)
    np.testing.assert_allclose(A, _literal_attention(x, causal, temperature), atol=1e-12)


def test_temperature_limits() -> None:
    """Large temperature -> uniform rows; small temperature -> mass on the most similar key."""
    x = np.random.default_rng(0).normal(size=(6, 4))
    np.testing.assert_allclose(sm.attention_weights(x, False, 1e6), 1 / 6, atol=1e-5)
    A = sm.attention_weights(x, False, 1e-3)
    S = x @ x.T
    np.testing.assert_allclose(A[np.arange(6), S.argmax(1)], 1.0, atol=1e-6)
    with pytest.raises(ValueError):
        sm.attention_weights(x, False, 0.0)


# ---------------------------------------------------------------------------
# positional encoding
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "d"), [(1, 1), (7, 4), (50, 16), (13, 9)])
def test_sinusoidal_matches_the_paper_formula(n: int, d: int) -> None:
    """Vaswani et al. (2017) sec. 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...). atol 1e-12."""
    PE = sm.sinusoidal_positions(n, d)
    ref = np.zeros((n, d))
    for pos in range(n):
        for j in range(d):
            two_i = j - (j % 2)
            angle = pos / 10000 ** (two_i / d)
            ref[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    np.testing.assert_allclose(PE, ref, atol=1e-12)


def test_positions_shift_by_a_rotation() -> None:
    """Sec. 3.5: PE(pos + k) is a linear function of PE(pos): a rotation by k * omega_i per (sin, cos) pair."""
    d, k = 8, 5
    PE = sm.sinusoidal_positions(40, d)
    for i in range(d // 2):
        omega = 1 / 10000 ** (2 * i / d)
        # [sin(a+b), cos(a+b)] = [sin a, cos a] @ [[cos b, -sin b], [sin b, cos b]]
        R = np.array([[math.cos(k * omega), -math.sin(k * omega)], [math.sin(k * omega), math.cos(k * omega)]])
        pair = PE[:, 2 * i : 2 * i + 2]  # (n, 2): (sin, cos)
        np.testing.assert_allclose(pair[:-k] @ R, pair[k:], atol=1e-12)


# ---------------------------------------------------------------------------
# tokens and the recall task
# ---------------------------------------------------------------------------


def test_tokenize_english_words_and_chinese_characters() -> None:
    assert sm.tokenize("The cat sat, didn't it?") == ["the", "cat", "sat", ",", "didn't", "it", "?"]
    assert sm.tokenize("猫坐在垫子上。") == ["猫", "坐", "在", "垫", "子", "上", "。"]
    E = sm.token_embeddings(["a", "b", "a"], 16, position_scale=0.0)
    np.testing.assert_array_equal(E[0], E[2])


def test_recall_batch_targets_are_the_first_token() -> None:
    tokens, target = sm.recall_batch(256, 12, torch.Generator().manual_seed(0))
    assert tokens.shape == (256, 12)
    assert torch.equal(tokens[:, 0], target)
    assert int(target.max()) < sm.RECALL_CLASSES <= int(tokens[:, 1:].min())


def test_transformer_learns_short_recall() -> None:
    """Trained briefly on T = 8, the one-layer Transformer beats chance (1/4) by far: accuracy > 0.9."""
    progress = []
    r = sm.train_recall("transformer", 8, steps=120, seed=0, progress=lambda i, n: progress.append(i))
    assert progress == list(range(1, 121)) and len(r.loss) == 120
    assert r.accuracy > 0.9


# ---------------------------------------------------------------------------
# mutation-testing kills (issue 21): the cells against torch's own layers
# ---------------------------------------------------------------------------


def _torch_layer(cell: sm.CellWeights) -> torch.nn.Module:
    """torch.nn.RNN / LSTM / GRU carrying the cell's weights: W_x as weight_ih, W_h as weight_hh, b as
    bias_ih, bias_hh = 0. Same gate order (lstm i, f, g, o; gru r, z, n), torch's own kernels."""
    H = cell.W_h.shape[1]
    layer = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell.kind](H, H, batch_first=True)
    layer = layer.double()
    with torch.no_grad():
        layer.weight_ih_l0.copy_(cell.W_x)
        layer.weight_hh_l0.copy_(cell.W_h)
        layer.bias_ih_l0.copy_(cell.b)
        layer.bias_hh_l0.zero_()
    return layer


@pytest.mark.parametrize("kind", sm.RECURRENT_KINDS)
def test_cells_equal_torch_layers_with_the_same_weights(kind: str) -> None:
    """last_state and the gradient norms of every recurrent cell equal torch.nn's layer of that kind
    (autograd Jacobian of torch's h_T) with the same weights, on inputs large enough to leave the gates'
    linear range (scale 1.5); rtol 1e-9 in float64. The keep gate starts at bias 1 (Jozefowicz et al.)."""
    T, H, rho, seed = 9, 5, 1.1, 2
    cell = sm.make_cell(kind, H, rho, seed)
    layer = _torch_layer(cell)
    x = 1.5 * torch.randn(3, T, H, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y, _ = layer(x)
    torch.testing.assert_close(sm.last_state(cell, x), y[:, -1], rtol=1e-9, atol=1e-12)
    # the gradient norms, on the module's own small inputs
    xs = sm.random_inputs(T, H, seed)
    J = torch.autograd.functional.jacobian(lambda z: layer(z[None])[0][0, -1], xs)  # (H, T, D)
    ref = torch.linalg.matrix_norm(J.permute(1, 0, 2)).numpy()
    np.testing.assert_allclose(sm.input_gradient_norms(kind, T, H, rho, seed), ref, rtol=1e-9)


def test_cell_units_rejects_attention() -> None:
    z = torch.zeros(1, 2)
    with pytest.raises(ValueError, match=r"^'attention' is not a recurrent cell$"):
        sm.cell_units("attention", z, z, z, z)


def test_attention_last_state_against_a_literal_softmax() -> None:
    """h_T = sum_t a_t W_V x_t, a = softmax_t(q_T . k_t / sqrt(H)), q_T = W_Q x_T, k_t = W_K x_t (rtol 1e-12)."""
    H, T = 4, 6
    cell = sm.make_cell("attention", H, 0.8, 3)
    x = torch.randn(2, T, H, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    WQ, WK, WV = cell.W_x[:H].numpy(), cell.W_x[H:].numpy(), cell.W_h.numpy()
    got = sm.last_state(cell, x).numpy()
    for b in range(2):
        X = x[b].numpy()
        q = WQ @ X[-1]
        s = [sum(q * (WK @ X[t])) / math.sqrt(H) for t in range(T)]
        e = [math.exp(v - max(s)) for v in s]
        want = sum(e[t] / sum(e) * (WV @ X[t]) for t in range(T))
        np.testing.assert_allclose(got[b], want, rtol=1e-12)


def test_make_cell_against_its_specification() -> None:
    """Shapes, the keep-gate bias block (1.0 only there), and the recurrent blocks as numpy's QR of the
    generator's Gaussian matrices with diag(R) > 0 (the unique Haar-orthogonal Q), times weight_scale; the
    input weights as N(0, 1/H) draws that follow (atol 1e-12)."""
    H, rho, seed = 4, 0.6, 7
    assert sm.initial_keep_gate() == pytest.approx(1 / (1 + math.exp(-1.0)), rel=1e-15)
    for kind, G in (("rnn", 1), ("lstm", 4), ("gru", 3), ("attention", 1)):
        cell = sm.make_cell(kind, H, rho, seed)
        n_x = 2 if kind == "attention" else G
        assert cell.kind == kind
        assert cell.W_h.shape == (G * H, H) and cell.W_x.shape == (n_x * H, H) and cell.b.shape == (n_x * H,)
        want_b = np.zeros(n_x * H)
        if kind in ("lstm", "gru"):
            want_b[H : 2 * H] = 1.0  # lstm forget gate f, gru update gate z: the second block
        np.testing.assert_array_equal(cell.b.numpy(), want_b)
        assert cell.W_h.dtype == cell.W_x.dtype == cell.b.dtype == torch.float64  # the documented contract
        gen = torch.Generator().manual_seed(seed)
        for g in range(G):
            A = torch.randn(H, H, generator=gen, dtype=torch.float64).numpy()
            Q, R = np.linalg.qr(A)
            Q = Q * np.sign(np.diag(R))
            np.testing.assert_allclose(cell.W_h[g * H : (g + 1) * H].numpy(), rho * Q, atol=1e-12)
        for g in range(n_x):
            A = torch.randn(H, H, generator=gen, dtype=torch.float64).numpy()
            np.testing.assert_allclose(cell.W_x[g * H : (g + 1) * H].numpy(), A / math.sqrt(H), atol=1e-12)
    with pytest.raises(ValueError, match=r"^kind must be one of \("):
        sm.make_cell("cnn", H, rho, seed)


def test_random_inputs_scale_and_seed() -> None:
    x = sm.random_inputs(5, 3, 4)
    want = 0.1 * torch.randn(5, 3, generator=torch.Generator().manual_seed(4 + 7919), dtype=torch.float64)
    torch.testing.assert_close(x, want, rtol=0, atol=0)


def test_gradient_norms_reject_empty_sizes() -> None:
    for T, H in ((0, 4), (4, 0)):
        with pytest.raises(ValueError, match=r"^seq_len and hidden must be >= 1$"):
            sm.input_gradient_norms("rnn", T, H, 1.0, 0)
    # the smallest sizes work: one step, one unit (against torch's RNN, rtol 1e-12)
    cell = sm.make_cell("rnn", 1, 0.5, 0)
    x = sm.random_inputs(1, 1, 0)
    ref = abs(float((1 - torch.tanh(x[0] @ cell.W_x.T) ** 2) * cell.W_x[0, 0]))
    assert sm.input_gradient_norms("rnn", 1, 1, 0.5, 0)[0] == pytest.approx(ref, rel=1e-12)


def test_sequential_depth_of_the_transformer_and_bad_kinds() -> None:
    assert sm.sequential_depth("transformer", 50) == 1
    with pytest.raises(ValueError, match=r"^kind must be one of \("):
        sm.sequential_depth("cnn", 5)
    with pytest.raises(ValueError, match=r"^kind must be one of \("):
        sm.forward_time("cnn", 4, 4, 1)


def _paper_pe(n: int, d: int) -> np.ndarray:
    """Vaswani et al. sec. 3.5 entry by entry (as in test_sinusoidal_matches_the_paper_formula)."""
    return np.array([[math.sin(p / 10000 ** ((j - j % 2) / d)) if j % 2 == 0 else math.cos(p / 10000 ** ((j - j % 2) / d))
                      for j in range(d)] for p in range(n)])  # fmt: skip


def test_token_embeddings_against_their_definition() -> None:
    """x_i = e(token_i) + s PE_i with e(tok) = default_rng(CRC32(utf-8 bytes of tok)).standard_normal(d) (atol 1e-12)."""
    import zlib

    tokens = ["猫", "cat", "cat", ","]
    x = sm.token_embeddings(tokens, 6, position_scale=0.5)
    for i, tok in enumerate(tokens):
        e = np.random.default_rng(zlib.crc32(tok.encode("utf-8"))).standard_normal(6)
        np.testing.assert_allclose(x[i], e + 0.5 * _paper_pe(4, 6)[i], atol=1e-12)
    # the default scale adds the positions once
    np.testing.assert_allclose(sm.token_embeddings(tokens, 6) - sm.token_embeddings(tokens, 6, 0.0), _paper_pe(4, 6), atol=1e-12)


def test_recall_batch_uses_every_symbol_and_distractor() -> None:
    """Targets are uniform on 0..K-1 and distractors on K..2K-1: all of them occur in a large batch."""
    tokens, target = sm.recall_batch(400, 6, torch.Generator().manual_seed(1))
    assert set(target.tolist()) == set(range(sm.RECALL_CLASSES)) == {0, 1, 2, 3}
    assert set(tokens[:, 1:].flatten().tolist()) == set(range(4, 8))
    assert tokens.shape == (400, 6) and target.shape == (400,)


def test_recall_models_architecture_and_wiring() -> None:
    """Transformer: 2 heads, feed-forward 2 d, no dropout, post-norm, positions = the paper's table; logits
    = head(layer(embed + PE)) at the last position. Recurrent: torch's layer of that kind, d -> d."""
    torch.manual_seed(0)
    m = sm.RecallModel("transformer", d_model=8, max_len=20, chrono_max=5)
    body = m.body
    assert body.self_attn.num_heads == 2 and body.linear1.out_features == 16 and body.self_attn.batch_first
    assert body.dropout.p == body.dropout1.p == body.dropout2.p == 0.0
    np.testing.assert_allclose(m.PE.numpy(), _paper_pe(20, 8), atol=1e-6)  # float32
    assert m.embed.num_embeddings == 8 and m.head.out_features == 4
    tokens, _ = sm.recall_batch(3, 7, torch.Generator().manual_seed(0))
    m.train()  # no dropout: training mode computes the same
    want = m.head(body(m.embed(tokens) + torch.from_numpy(_paper_pe(7, 8)).float())[:, -1])
    torch.testing.assert_close(m(tokens), want, rtol=1e-5, atol=1e-6)
    for kind, cls in (("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
        r = sm.RecallModel(kind, d_model=8, max_len=20, chrono_max=5)
        assert type(r.body) is cls and r.body.input_size == r.body.hidden_size == 8 and r.body.batch_first
        y, _ = r.body(r.embed(tokens))
        torch.testing.assert_close(r(tokens), r.head(y[:, -1]))
    with pytest.raises(ValueError, match=r"^kind must be one of \("):
        sm.RecallModel("attention")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("T_max", [3, 60])
def test_chrono_initialisation(kind: str, T_max: int) -> None:
    """Tallec & Ollivier (2018) eq. (16): keep-gate bias log u, u ~ U(1, T_max - 1), hidden biases 0, the
    LSTM's input gate -log u. With C = 64 units the draws reach past half the range (fails w.p. 2^-64)."""
    C = 64
    torch.manual_seed(3)
    r = sm.RecallModel(kind, d_model=C, max_len=20, chrono_max=T_max)
    b = r.body.bias_ih_l0.detach()
    assert not r.body.bias_hh_l0.detach().any()
    u = torch.exp(b[C : 2 * C])  # keep gate: lstm f, gru z, both the second block
    assert float(u.min()) >= 1 - 1e-6 and float(u.max()) <= T_max - 1 + 1e-5
    assert float(u.max()) > 1 + (T_max - 2) / 2
    if kind == "lstm":
        torch.testing.assert_close(b[:C], -b[C : 2 * C])
    else:  # reset and candidate gates keep torch's default U(-1/sqrt(C), 1/sqrt(C))
        assert float(b[:C].abs().max()) <= 1 / math.sqrt(C) and float(b[2 * C :].abs().max()) <= 1 / math.sqrt(C)


def _literal_recall(kind: str, T: int, steps: int, seed: int, d: int = 32) -> tuple[list[float], float]:
    """train_recall written out with its documented defaults (d 32, batch 32, Adam lr 3e-3, gradient norm
    clipped at 1, i.e. scaled by 1 / (norm + 1e-6) when above 1; 1,000 held-out sequences of seed 10,000 + seed)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = sm.RecallModel(kind, d, max_len=max(512, T), chrono_max=T)
    gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, foreach=False)
    losses = []
    for _ in range(steps):
        target = torch.randint(0, 4, (32,), generator=gen)
        tokens = torch.cat([target[:, None], torch.randint(4, 8, (32, T - 1), generator=gen)], dim=1)
        loss = -torch.log_softmax(model(tokens), -1)[torch.arange(32), target].mean()
        opt.zero_grad()
        loss.backward()
        norm = math.sqrt(sum(float((p.grad**2).sum()) for p in model.parameters()))
        if norm > 1:
            for p in model.parameters():
                p.grad *= 1 / (norm + 1e-6)
        opt.step()
        losses.append(loss.item())
    gen = torch.Generator().manual_seed(10_000 + seed)
    target = torch.randint(0, 4, (1000,), generator=gen)
    tokens = torch.cat([target[:, None], torch.randint(4, 8, (1000, T - 1), generator=gen)], dim=1)
    with torch.no_grad():
        acc = float((model(tokens).argmax(-1) == target).float().mean())
    return losses, acc


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_train_recall_equals_a_literal_loop(kind: str) -> None:
    """Losses (rtol 1e-5, float32) and held-out accuracy (atol 2e-3: at most two of 1,000 argmax flips
    from rounding) of train_recall's defaults against the loop above; the global torch seed is untouched."""
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    calls = []
    r = sm.train_recall(kind, 6, steps=3, seed=2, progress=lambda i, n: calls.append((i, n)))
    assert calls == [(1, 3), (2, 3), (3, 3)]  # (steps done, steps) after every step
    assert torch.equal(torch.rand(1), before)
    losses, acc = _literal_recall(kind, 6, 3, 2)
    np.testing.assert_allclose(r.loss, losses, rtol=1e-5)
    assert r.accuracy == pytest.approx(acc, abs=2e-3)
    assert (r.kind, r.seq_len, r.steps, r.seed) == (kind, 6, 3, 2)
    assert 0 < r.seconds < 60
    with pytest.raises(ValueError, match=r"^kind must be one of \("):
        sm.train_recall("attention", 6, steps=1)


def test_train_recall_with_another_width() -> None:
    """d_model reaches the model: width 8 against the literal loop at width 8 (rtol 1e-5, atol 2e-3)."""
    r = sm.train_recall("gru", 5, steps=2, seed=1, d_model=8)
    losses, acc = _literal_recall("gru", 5, 2, 1, d=8)
    np.testing.assert_allclose(r.loss, losses, rtol=1e-5)
    assert r.accuracy == pytest.approx(acc, abs=2e-3)


def test_timing_modules_are_torch_layers_of_the_kind() -> None:
    for kind, cls in (("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
        m = sm._timing_module(kind, 6)
        assert type(m) is cls and m.input_size == m.hidden_size == 6 and m.batch_first
    a = sm._timing_module("attention", 6)
    assert a.qkv.in_features == 6 and a.qkv.out_features == 18 and a.out.out_features == 6
    # causal: position t's output does not depend on later positions
    x = torch.randn(1, 5, 6)
    y = x.clone()
    y[0, 3:] += 1.0
    torch.testing.assert_close(a(x)[0, :3], a(y)[0, :3])
    assert not torch.allclose(a(x)[0, 3:], a(y)[0, 3:])


def test_forward_time_is_the_median_of_three_timed_calls_after_a_warm_up(monkeypatch) -> None:
    """With a stub clock (durations 0.4, 0.1, 0.25 s -> median 0.25 s, by hand) and a spy around the layer:
    four calls (one warm-up), each on a (batch, T, hidden) input, in eval and inference mode, on one thread;
    the global torch generator is left as it was."""
    from types import SimpleNamespace

    calls = []

    class Spy(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x):
            calls.append((tuple(x.shape), self.training, torch.is_inference_mode_enabled(), torch.get_num_threads()))
            return self.inner(x)

    real = sm._timing_module
    built = []
    monkeypatch.setattr(sm, "_timing_module", lambda kind, hidden: built.append((kind, hidden)) or Spy(real(kind, hidden)))
    ticks = iter([10.0, 10.4, 20.0, 20.1, 30.0, 30.25])
    monkeypatch.setattr(sm, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    assert sm.forward_time("gru", 7, 3, 2) == pytest.approx(0.25, abs=1e-9)
    assert torch.equal(torch.rand(1), before)
    assert calls == [((2, 7, 3), False, True, 1)] * 4
    assert built == [("gru", 3)]  # the layer of the kind asked for, width `hidden`


def test_attention_weights_compute_in_double_precision_and_name_the_bad_temperature() -> None:
    """float32 and integer inputs are computed in float64: against the literal softmax of the same values
    (atol 1e-12, which float32 arithmetic would miss); a non-positive temperature is refused by name."""
    x32 = (np.random.default_rng(2).normal(size=(5, 3)) * 2).astype(np.float32)
    A = sm.attention_weights(x32, False, 0.7)
    assert A.dtype == np.float64
    np.testing.assert_allclose(A, _literal_attention(x32.astype(np.float64), False, 0.7), atol=1e-12)
    xi = np.array([[1, 0], [0, 2], [1, 1]])
    np.testing.assert_allclose(sm.attention_weights(xi, True, 0.3), _literal_attention(xi.astype(float), True, 0.3), atol=1e-12)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match=r"^temperature must be > 0$"):
            sm.attention_weights(xi, False, bad)
