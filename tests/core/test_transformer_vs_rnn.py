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
