"""Tests for core/induction.py against independent references.

References used here: a literal per-position loop of scaled dot-product attention
(Vaswani et al. 2017, eq. (1)) in float64 with Python's math; the head split written
as column slices; head scores and the task's mask recomputed by plain loops over
positions; parameter counts from the formulas of each layer; the shipped run
(assets/induction_runs.pt) against the targets of issue 17, and a retrained prefix of it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from core import induction as ind

ROOT = Path(__file__).resolve().parent.parent.parent
RUNS = ROOT / "assets" / "induction_runs.pt"


# ---------------------------------------------------------------------------
# the task
# ---------------------------------------------------------------------------


def test_repeated_sequences_mask_is_exactly_the_induction_positions() -> None:
    """Literal loop: t is masked iff token t-1 occurred exactly once before at j and the copy
    continues there (tokens[j+1] == tokens[t], t-1 inside the second copy). Checked one way
    exactly (every masked position is predictable by induction, uniquely), and the other way
    on the copy: every copy position after the first whose previous token is unique is masked."""
    rng = np.random.default_rng(3)
    tokens, mask = ind.repeated_sequences(200, 32, 32, rng)
    assert tokens.shape == mask.shape == (200, 32) and tokens.dtype == np.int64 and mask.dtype == bool
    assert tokens.min() >= 0 and tokens.max() < 32
    offsets = set()
    for b in range(200):
        for t in range(32):
            if not mask[b, t]:
                continue
            earlier = [j for j in range(t - 1) if tokens[b, j] == tokens[b, t - 1]]
            assert len(earlier) == 1, (b, t)
            j = earlier[0]
            assert tokens[b, j + 1] == tokens[b, t], (b, t)
            offsets.add(t - 1 - j)
    assert not mask[:, 0].any()
    # the offset between the copies varies: no position rule can predict
    assert len(offsets) >= 10, offsets
    # a good share of positions is predictable (segments of 8..16 of 32 tokens)
    assert 0.15 < mask.mean() < 0.45


def test_other_positions_look_uniform() -> None:
    """Off the mask (and off the copy) the tokens are uniform: frequencies within 10% of 1/V."""
    tokens, mask = ind.repeated_sequences(4000, 32, 16, np.random.default_rng(0))
    freq = np.bincount(tokens[:, 0], minlength=16) / 4000
    assert np.all(np.abs(freq - 1 / 16) < 0.1 / 16 * 4)  # 4000 draws: sd ~ 0.0038


def test_bad_task_arguments_raise() -> None:
    with pytest.raises(ValueError):
        ind.repeated_sequences(4, 4, 32, np.random.default_rng(0))
    with pytest.raises(ValueError):
        ind.InductionConfig(d_model=30, heads=4)


# ---------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------


def _literal_attention(x: np.ndarray, W_Q, W_K, W_V) -> tuple[np.ndarray, np.ndarray]:
    """One causal head by hand, position by position: (T, d_v) output and (T, T) weights."""
    T = x.shape[0]
    d_k = W_Q.shape[0]
    q = [[sum(W_Q[a, c] * x[i, c] for c in range(x.shape[1])) for a in range(d_k)] for i in range(T)]
    k = [[sum(W_K[a, c] * x[i, c] for c in range(x.shape[1])) for a in range(d_k)] for i in range(T)]
    v = [[sum(W_V[a, c] * x[i, c] for c in range(x.shape[1])) for a in range(W_V.shape[0])] for i in range(T)]
    out = np.zeros((T, W_V.shape[0]))
    A = np.zeros((T, T))
    for i in range(T):
        s = [sum(q[i][a] * k[j][a] for a in range(d_k)) / math.sqrt(d_k) for j in range(i + 1)]
        m = max(s)
        e = [math.exp(v_ - m) for v_ in s]
        z = sum(e)
        for j in range(i + 1):
            A[i, j] = e[j] / z
            for a in range(W_V.shape[0]):
                out[i, a] += A[i, j] * v[j][a]
    return out, A


@pytest.mark.parametrize("heads", [1, 3])
def test_attention_matches_a_literal_loop(heads: int) -> None:
    """Every head of CausalSelfAttention (float64) equals the per-position loop; rtol 1e-9.
    With 3 heads, head i uses rows i*d_k..(i+1)*d_k of W_Q, W_K, W_V and the output is
    Concat(heads) W_O^T: this also checks the split and the merge."""
    torch.manual_seed(0)
    d, T = 12, 7
    attn = ind.CausalSelfAttention(d, heads).double()
    attn.keep = True
    x = torch.randn(1, T, d, dtype=torch.float64)
    with torch.no_grad():
        y = attn(x)[0].numpy()
    A = attn.last_weights[0].numpy()
    dk = d // heads
    Wq, Wk, Wv, Wo = (m.weight.detach().numpy() for m in (attn.W_Q, attn.W_K, attn.W_V, attn.W_O))
    outs = []
    for h in range(heads):
        rows = slice(h * dk, (h + 1) * dk)
        out_h, A_h = _literal_attention(x[0].numpy(), Wq[rows], Wk[rows], Wv[rows])
        np.testing.assert_allclose(A[h], A_h, rtol=1e-9, atol=1e-15)
        outs.append(out_h)
    concat = np.concatenate(outs, axis=1)  # (T, d)
    np.testing.assert_allclose(y, concat @ Wo.T, rtol=1e-9, atol=1e-13)


def test_split_and_merge_heads_are_exact_inverses() -> None:
    x = torch.randn(3, 5, 24)
    s = ind.split_heads(x, 4)
    assert s.shape == (3, 4, 5, 6)
    for h in range(4):
        assert torch.equal(s[:, h], x[:, :, h * 6 : (h + 1) * 6])
    assert torch.equal(ind.merge_heads(s), x)


def test_model_is_causal() -> None:
    """Changing token t changes no logit before t (the decoder mask, sec. 3.2.3)."""
    torch.manual_seed(1)
    model = ind.build_model(ind.InductionConfig()).eval()
    x = torch.randint(0, 32, (1, 32))
    y = x.clone()
    y[0, 20] = (x[0, 20] + 1) % 32
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.equal(a[0, :20], b[0, :20])
    assert not torch.allclose(a[0, 20:], b[0, 20:])


def test_attention_maps_rows_sum_to_one_and_future_is_zero() -> None:
    torch.manual_seed(2)
    model = ind.build_model(ind.InductionConfig(heads=2, d_model=32)).eval()
    tokens, _ = ind.repeated_sequences(3, 32, 32, np.random.default_rng(0))
    maps = ind.attention_maps(model, tokens)
    assert maps.shape == (3, 2, 2, 32, 32)
    np.testing.assert_allclose(maps.sum(axis=-1), 1.0, atol=1e-6)
    upper = np.triu(np.ones((32, 32), dtype=bool), 1)
    assert np.all(maps[..., upper] == 0.0)
    assert ind.attention_maps(model, tokens[0]).shape == (2, 2, 32, 32)


@pytest.mark.parametrize("attention_only", [True, False])
def test_parameter_counts_match_the_formulas(attention_only: bool) -> None:
    """W_E: V d; per layer 4 d^2 (W_Q, W_K, W_V, W_O, no biases) + 2 d (LayerNorm);
    MLP 8 d^2 + 5 d (W_1, b_1, W_2, b_2) + 2 d; final LayerNorm 2 d; W_U: d V."""
    cfg = ind.InductionConfig(layers=2, heads=4, d_model=16, vocab=20, attention_only=attention_only)
    c = ind.parameter_counts(cfg)
    d, V = 16, 20
    assert c["token_embedding"] == V * d and c["unembedding"] == d * V and c["final_layernorm"] == 2 * d
    for layer in (1, 2):
        assert c[f"layer{layer}_attention"] == 4 * d * d + 2 * d
        if not attention_only:
            assert c[f"layer{layer}_mlp"] == 8 * d * d + 5 * d + 2 * d
    model = ind.build_model(cfg)
    assert sum(c.values()) == sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------
# the scores
# ---------------------------------------------------------------------------


def test_head_scores_match_loops() -> None:
    """Random causal maps: prev = mean_i A[i, i-1]; induction = mean over masked t of A[t-1, j+1]."""
    rng = np.random.default_rng(5)
    tokens, mask = ind.repeated_sequences(6, 16, 8, rng)
    raw = rng.random((6, 2, 3, 16, 16)) * np.tril(np.ones((16, 16)))
    maps = raw / raw.sum(axis=-1, keepdims=True)
    prev, score = ind.head_scores(maps, tokens, mask)
    for layer in range(2):
        for h in range(3):
            p = [maps[b, layer, h, i, i - 1] for b in range(6) for i in range(1, 16)]
            vals = []
            for b in range(6):
                for t in range(1, 16):
                    if mask[b, t]:
                        j = max(j for j in range(t - 1) if tokens[b, j] == tokens[b, t - 1])
                        vals.append(maps[b, layer, h, t - 1, j + 1])
            assert prev[layer, h] == pytest.approx(np.mean(p), rel=1e-12)
            assert score[layer, h] == pytest.approx(np.mean(vals), rel=1e-12)


def test_perfect_heads_score_one() -> None:
    """A hand-built previous-token map scores 1 on prev; a hand-built induction map scores 1 on induction."""
    tokens, mask = ind.repeated_sequences(4, 24, 64, np.random.default_rng(8))
    T = 24
    prev_map = np.zeros((4, 1, 1, T, T))
    prev_map[:, 0, 0, 0, 0] = 1
    prev_map[:, 0, 0, np.arange(1, T), np.arange(T - 1)] = 1
    assert ind.head_scores(prev_map, tokens, mask)[0][0, 0] == 1.0
    ind_map = np.zeros((4, 1, 1, T, T))
    ind_map[:, 0, 0, :, 0] = 1
    j = ind.earlier_occurrence(tokens)
    for b in range(4):
        for t in range(1, T):
            if mask[b, t]:
                ind_map[b, 0, 0, t - 1] = 0
                ind_map[b, 0, 0, t - 1, j[b, t - 1] + 1] = 1
    assert ind.head_scores(ind_map, tokens, mask)[1][0, 0] == 1.0


# ---------------------------------------------------------------------------
# the shipped runs: issue 17's targets
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> dict[int, ind.InductionRun]:
    stored = torch.load(RUNS, weights_only=True)
    return {int(k): ind.run_from_dict(v) for k, v in stored.items()}


def test_shipped_runs_use_the_defaults(shipped) -> None:
    assert shipped[2].config == ind.InductionConfig() and shipped[2].config.layers == 2
    assert shipped[1].config == replace(ind.InductionConfig(), layers=1)
    assert shipped[2].seed == shipped[1].seed == 0
    assert len(shipped[2].states) == len(shipped[2].checkpoints) == ind.CHECKPOINTS + 1


def test_two_layers_learn_induction(shipped) -> None:
    """Repeated positions: accuracy >= 0.85 and loss < 25% of ln V; other positions above 85% of ln V
    (near a uniform guess: only "a token already seen is more likely" helps there);
    a layer-2 head with induction score >= 0.5 (all on the fixed evaluation batch)."""
    run = shipped[2]
    tokens, mask = ind.eval_batch(run.config)
    ev = ind.evaluate(run.model, tokens, mask)
    lnv = math.log(run.config.vocab)
    assert ev["accuracy_repeated"] >= 0.85, ev
    assert ev["loss_repeated"] < 0.25 * lnv, ev
    assert 0.85 * lnv < ev["loss_other"] < 1.01 * lnv, ev
    assert run.induction[-1, 1].max() >= 0.5
    # the scores stored in the run are those of the final weights (float16 copies: 1e-2)
    p, s = ind.head_scores(ind.attention_maps(run.model, tokens), tokens, mask)
    np.testing.assert_allclose(s, run.induction[-1], atol=1e-2)
    np.testing.assert_allclose(p, run.prev_token[-1], atol=1e-2)


def test_the_phase_change_is_sudden(shipped) -> None:
    """Most of the drop in repeated-position loss happens within a fifth of training."""
    loss = np.convolve(shipped[2].loss_repeated, np.ones(25) / 25, mode="valid")
    drop = loss[0] - loss[-1]
    assert drop > 0.5 * math.log(32)
    # steepest window of S/5 steps carries more than half of the total drop
    w = len(loss) // 5
    assert np.max(loss[:-w] - loss[w:]) > 0.5 * drop


def test_one_layer_does_not(shipped) -> None:
    """Same budget, one layer: repeated-position loss stays above 60% of ln V (Elhage et al. 2021)."""
    run = shipped[1]
    tokens, mask = ind.eval_batch(run.config)
    ev = ind.evaluate(run.model, tokens, mask)
    assert ev["loss_repeated"] > 0.6 * math.log(run.config.vocab), ev
    assert run.induction[-1].max() < 0.3


def test_shipped_run_is_reproduced_by_train(shipped) -> None:
    """Retraining the first 60 steps with the page's own call gives the stored losses (rtol 1e-4)."""
    short = ind.train(replace(ind.InductionConfig(), steps=60), seed=0)
    np.testing.assert_allclose(short.loss_repeated, shipped[2].loss_repeated[:60], rtol=1e-4)
    np.testing.assert_allclose(short.loss_other, shipped[2].loss_other[:60], rtol=1e-4)
    np.testing.assert_allclose(short.prev_token[0], shipped[2].prev_token[0], atol=1e-5)
    one = ind.train(replace(ind.InductionConfig(), layers=1, steps=30), seed=0)
    np.testing.assert_allclose(one.loss_repeated, shipped[1].loss_repeated[:30], rtol=1e-4)


def test_round_trip_through_a_dict(shipped) -> None:
    run = ind.train(ind.InductionConfig(steps=30, d_model=16, heads=2), seed=4)
    back = ind.run_from_dict(ind.run_to_dict(run))
    assert back.config == run.config
    np.testing.assert_allclose(back.loss_repeated, run.loss_repeated, rtol=1e-6)
    np.testing.assert_allclose(back.induction, run.induction, rtol=1e-6)
    assert len(back.states) == len(run.checkpoints)
