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


def test_train_reports_progress_and_keeps_each_checkpoints_weights() -> None:
    """progress(step, S) after every step; the run's model is in eval mode; the wall time is positive and
    small; checkpoint 0 holds the initial weights (a model built after torch.manual_seed(seed)), the
    last one the final model's, and the two differ (each checkpoint is a copy, not a view)."""
    cfg = ind.InductionConfig(steps=2, d_model=8, heads=2, layers=1, batch=4, length=8, vocab=6)
    calls = []
    run = ind.train(cfg, seed=3, progress=lambda i, n: calls.append((i, n)))
    assert calls == [(1, 2), (2, 2)]
    assert not run.model.training and 0 < run.seconds < 60
    np.testing.assert_array_equal(run.checkpoints, [0, 1, 2])
    np.testing.assert_array_equal(run.steps, [1, 2])
    torch.manual_seed(3)
    init = ind.build_model(cfg).state_dict()
    for k, v in run.model.state_dict().items():
        torch.testing.assert_close(run.states[0][k], init[k], rtol=0, atol=0)
        torch.testing.assert_close(run.states[-1][k], v, rtol=0, atol=0)
    assert not torch.equal(run.states[0]["tok_embed.weight"], run.states[-1]["tok_embed.weight"])


# ---------------------------------------------------------------------------
# issue 21: mutation-testing survivors, each against a reference written here
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("d", [6, 7])
def test_sinusoidal_positions_match_the_formula(d: int) -> None:
    """Vaswani et al. sec. 3.5 with Python's math, entry by entry (odd d too: the last column is a sine);
    rtol 1e-12."""
    PE = ind.sinusoidal_positions(9, d)
    assert PE.shape == (9, d)
    for pos in range(9):
        for col in range(d):
            i2 = col - col % 2  # 2i
            angle = pos / 10000 ** (i2 / d)
            want = math.sin(angle) if col % 2 == 0 else math.cos(angle)
            assert PE[pos, col] == pytest.approx(want, rel=1e-12, abs=1e-15), (pos, col)


@pytest.mark.parametrize("length", [8, 9, 15, 32, 41])
def test_segment_range_and_the_copies_fit(length: int) -> None:
    """Shortest max(2, T // 4), longest T // 2 (by hand); in every sequence (1000 symbols, so chance
    repeats are rare) the longest segment that appears twice without overlap, found by a literal
    search over (p, q, L), has a length in that range."""
    lo, hi = ind.segment_range(length)
    assert (lo, hi) == (max(2, length // 4), length // 2)
    tokens, _ = ind.repeated_sequences(20, length, 1000, np.random.default_rng(length))
    lengths = []
    for b in range(20):
        x = tokens[b].tolist()
        longest = max(
            (L for L in range(1, length // 2 + 1) for p in range(length - 2 * L + 1)
             for q in range(p + L, length - L + 1) if x[p : p + L] == x[q : q + L]),
            default=0,
        )  # fmt: skip
        assert lo <= longest <= hi, (b, x)
        lengths.append(longest)
    assert len(set(lengths)) > 1 or lo == hi  # the length varies between sequences


def test_checkpoint_steps_by_hand() -> None:
    """0 and `count` evenly spaced steps, rounded half to even, duplicates dropped."""
    assert ind.checkpoint_steps(1500).tolist() == [60 * k for k in range(26)]
    assert ind.checkpoint_steps(10, 4).tolist() == [0, 2, 5, 8, 10]  # 2.5 -> 2, 7.5 -> 8
    assert ind.checkpoint_steps(3).tolist() == [0, 1, 2, 3]
    assert ind.CHECKPOINTS == 25
    assert ind.checkpoint_steps(1500).dtype.kind == "i"  # step numbers, not floats


def test_earlier_occurrence_against_a_literal_loop() -> None:
    tokens = np.random.default_rng(0).integers(0, 5, size=(4, 20))
    j = ind.earlier_occurrence(tokens)
    for b in range(4):
        for i in range(20):
            prev = [k for k in range(i) if tokens[b, k] == tokens[b, i]]
            assert j[b, i] == (prev[-1] if prev else -1), (b, i)


def test_split_losses_against_a_literal_cross_entropy() -> None:
    """ce[b, i] = logsumexp(logits[b, i]) - logits[b, i, tokens[b, i+1]] with Python's math; the two means
    over the positions i+1 on and off the mask; rtol 1e-6 (float32)."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 5, generator=g)
    tokens = torch.randint(0, 5, (2, 6), generator=g)
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[0, 2], mask[0, 3], mask[1, 5] = True, True, True
    ce, rep, other = ind.split_losses(logits, tokens, mask)
    assert ce.shape == (2, 5)
    lit, on, off = np.zeros((2, 5)), [], []
    for b in range(2):
        for i in range(5):
            row = logits[b, i].tolist()
            lit[b, i] = math.log(sum(math.exp(v) for v in row)) - row[int(tokens[b, i + 1])]
            (on if mask[b, i + 1] else off).append(lit[b, i])
    np.testing.assert_allclose(ce.numpy(), lit, rtol=1e-6)
    assert float(rep) == pytest.approx(np.mean(on), rel=1e-6)
    assert float(other) == pytest.approx(np.mean(off), rel=1e-6)


class _FixedLogits(torch.nn.Module):
    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.logits


def test_evaluate_against_literal_accuracy_and_loss() -> None:
    """Accuracy: argmax of logits[b, t-1] equals tokens[b, t], averaged over the masked t and over the
    other t >= 1; losses: literal cross-entropy averaged the same way (rtol 1e-6)."""
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 8, 4, generator=g)
    tokens = torch.randint(0, 4, (3, 8), generator=g).numpy()
    mask = np.zeros((3, 8), dtype=bool)
    mask[0, 3:6], mask[2, 1], mask[1, 7] = True, True, True
    ev = ind.evaluate(_FixedLogits(logits), tokens, mask)
    hits, losses = {True: [], False: []}, {True: [], False: []}
    for b in range(3):
        for t in range(1, 8):
            row = logits[b, t - 1].tolist()
            hits[bool(mask[b, t])].append(float(row.index(max(row)) == tokens[b, t]))
            losses[bool(mask[b, t])].append(math.log(sum(math.exp(v) for v in row)) - row[tokens[b, t]])
    assert 0 < np.mean(hits[True]) < 1 and 0 < np.mean(hits[False]) < 1  # neither all nor none right
    assert ev["accuracy_repeated"] == pytest.approx(np.mean(hits[True]), rel=1e-6)  # float32 mean
    assert ev["accuracy_other"] == pytest.approx(np.mean(hits[False]), rel=1e-6)
    assert ev["loss_repeated"] == pytest.approx(np.mean(losses[True]), rel=1e-6)
    assert ev["loss_other"] == pytest.approx(np.mean(losses[False]), rel=1e-6)


def _literal_layernorm(x: np.ndarray, ln) -> np.ndarray:
    w, b = ln.weight.detach().double().numpy(), ln.bias.detach().double().numpy()
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        mu = sum(x[i]) / len(x[i])
        var = sum((v - mu) ** 2 for v in x[i]) / len(x[i])
        out[i] = (x[i] - mu) / math.sqrt(var + ln.eps) * w + b
    return out


def test_attention_maps_against_a_literal_forward_pass() -> None:
    """Two attention-only layers of two heads: embeddings + sinusoidal positions, LayerNorm by hand, each
    head by the per-position loop, residual sums; every map of every layer equals the hand pass (float64
    hand pass, float32 model: atol 1e-5). The model's attention modules are left as they were."""
    torch.manual_seed(3)
    cfg = ind.InductionConfig(layers=2, heads=2, d_model=8, vocab=10, length=8)
    model = ind.build_model(cfg).eval()
    tokens = np.array([[1, 4, 4, 0, 9, 1, 4, 2], [3, 3, 3, 7, 5, 3, 3, 8]])
    maps = ind.attention_maps(model, tokens)
    assert maps.shape == (2, 2, 2, 8, 8) and maps.dtype == np.float64
    np.testing.assert_array_equal(ind.attention_maps(model, tokens[1]), maps[1])
    # token ids of any integer type (here int16, which an embedding lookup refuses) are read as ids
    np.testing.assert_array_equal(ind.attention_maps(model, tokens.astype(np.int16)), maps)
    for a in (blk.attn for blk in model.blocks):
        assert a.keep is False and a.last_weights is None
    E = model.tok_embed.weight.detach().double().numpy()
    PE = ind.sinusoidal_positions(8, 8)
    for b in range(2):
        x = E[tokens[b]] + PE
        for layer, blk in enumerate(model.blocks):
            h = _literal_layernorm(x, blk.ln_1)
            W = {
                n: getattr(blk.attn, n).weight.detach().double().numpy() for n in ("W_Q", "W_K", "W_V", "W_O")
            }
            outs = []
            for head in range(2):
                rows = slice(head * 4, (head + 1) * 4)
                out, A = _literal_attention(h, W["W_Q"][rows], W["W_K"][rows], W["W_V"][rows])
                np.testing.assert_allclose(maps[b, layer, head], A, atol=1e-5, rtol=0)
                outs.append(out)
            x = x + np.concatenate(outs, axis=1) @ W["W_O"].T


def test_parameter_counts_leave_the_global_random_state_alone() -> None:
    """Counting builds a throw-away model inside fork_rng: the caller's next torch draw is unchanged."""
    torch.manual_seed(11)
    want = torch.rand(4)
    torch.manual_seed(11)
    c = ind.parameter_counts(ind.InductionConfig(layers=1, heads=1, d_model=8, vocab=5))
    assert torch.equal(torch.rand(4), want)
    assert list(c) == ["token_embedding", "layer1_attention", "final_layernorm", "unembedding"]


def test_repeated_sequences_argument_bounds() -> None:
    """The smallest task allowed (length 8, vocab 2, batch 1) runs; one below each bound raises."""
    rng = np.random.default_rng(0)
    tokens, mask = ind.repeated_sequences(1, 8, 2, rng)
    assert tokens.shape == mask.shape == (1, 8) and set(tokens.ravel().tolist()) <= {0, 1}
    for batch, length, vocab in ((1, 7, 2), (1, 8, 1), (0, 8, 2)):
        with pytest.raises(ValueError, match="^need length >= 8, vocab >= 2, batch >= 1$"):
            ind.repeated_sequences(batch, length, vocab, rng)


def test_repeated_sequences_recovered_segments_follow_the_specification() -> None:
    """1000 sequences of 12 tokens from a million symbols (so no chance repeat): a literal search finds
    in each the one segment that appears twice, (p, q, L) with p + L <= q, q + L <= 12; L takes each
    value of segment_range(12) = 3..6 about equally often (within 5 standard errors of 1/4), p and q
    reach both ends, and the mask is exactly the second copy after its first token, q < t < q + L."""
    T, n = 12, 1000
    tokens, mask = ind.repeated_sequences(n, T, 10**6, np.random.default_rng(21))
    lo, hi = ind.segment_range(T)
    Ls, ps, qs = [], [], []
    for b in range(n):
        x = tokens[b].tolist()
        found = [
            (p, q, L) for L in range(hi, 0, -1) for p in range(T - 2 * L + 1)
            for q in range(p + L, T - L + 1) if x[p : p + L] == x[q : q + L]
        ]  # fmt: skip
        p, q, L = found[0]  # the longest
        assert len(set(x)) == T - L  # nothing else repeats
        assert mask[b].tolist() == [q < t < q + L for t in range(T)], (b, x)
        Ls.append(L)
        ps.append(p)
        qs.append(q)
    freq = np.bincount(Ls, minlength=hi + 1)[lo:] / n
    assert freq.sum() == 1.0 and np.all(np.abs(freq - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n)), freq
    assert min(ps) == 0 and max(q + L for q, L in zip(qs, Ls, strict=True)) == T
    assert max(ps) == T - 2 * lo  # the shortest segment can start as late as its copy allows


@pytest.mark.parametrize("attention_only", [True, False])
def test_logits_against_a_literal_forward_pass(attention_only: bool) -> None:
    """The whole decoder by hand (float64): x = W_E[tokens] + PE; per block x += MultiHead(LN_1(x)) and,
    with the MLP, x += W_2 relu(W_1 LN_2(x) + b_1) + b_2 (d_ff = 4 d_model); logits = W_U LN_f(x).
    The model's logits agree within atol 1e-4 (float32)."""
    torch.manual_seed(4)
    cfg = ind.InductionConfig(layers=2, heads=2, d_model=8, vocab=10, length=8, attention_only=attention_only)
    model = ind.build_model(cfg).eval()
    tokens = np.array([[1, 4, 4, 0, 9, 1, 4, 2]])
    with torch.no_grad():
        logits = model(torch.as_tensor(tokens))[0].double().numpy()

    def w(m):
        return m.detach().double().numpy()

    x = w(model.tok_embed.weight)[tokens[0]] + ind.sinusoidal_positions(8, 8)
    for blk in model.blocks:
        h = _literal_layernorm(x, blk.ln_1)
        outs = []
        for head in range(2):
            rows = slice(head * 4, (head + 1) * 4)
            out, _ = _literal_attention(h, w(blk.attn.W_Q.weight)[rows], w(blk.attn.W_K.weight)[rows],
                                        w(blk.attn.W_V.weight)[rows])  # fmt: skip
            outs.append(out)
        x = x + np.concatenate(outs, axis=1) @ w(blk.attn.W_O.weight).T
        if attention_only:
            assert blk.mlp is None and blk.ln_2 is None
        else:
            assert w(blk.mlp.W_1.weight).shape == (32, 8)  # d_ff = 4 d_model
            h = _literal_layernorm(x, blk.ln_2)
            hidden = np.maximum(0.0, h @ w(blk.mlp.W_1.weight).T + w(blk.mlp.W_1.bias))
            x = x + hidden @ w(blk.mlp.W_2.weight).T + w(blk.mlp.W_2.bias)
    want = _literal_layernorm(x, model.ln_f) @ w(model.unembed.weight).T
    assert model.unembed.bias is None
    np.testing.assert_allclose(logits, want, atol=1e-4, rtol=0)


def test_config_bounds() -> None:
    """The smallest valid settings build; one below each bound raises, with the message naming it."""
    ind.InductionConfig(layers=1, heads=1, d_model=1, steps=1, batch=1, length=8, vocab=2, lr=1e-9)
    bad = [
        ("layers", 0, "layers, heads, steps and batch must be >= 1"),
        ("heads", 0, "layers, heads, steps and batch must be >= 1"),
        ("steps", 0, "layers, heads, steps and batch must be >= 1"),
        ("batch", 0, "layers, heads, steps and batch must be >= 1"),
        ("heads", 3, "d_model must be a multiple of heads"),
        ("length", 7, "need length >= 8, vocab >= 2, lr > 0"),
        ("vocab", 1, "need length >= 8, vocab >= 2, lr > 0"),
        ("lr", 0.0, "need length >= 8, vocab >= 2, lr > 0"),
        ("lr", float("nan"), "need length >= 8, vocab >= 2, lr > 0"),
    ]
    for name, value, msg in bad:
        with pytest.raises(ValueError, match=f"^{msg}$"):
            ind.InductionConfig(**{name: value})
    with pytest.raises(ValueError, match="^d_model must be a multiple of heads$"):
        ind.CausalSelfAttention(10, 3)


def test_attention_keeps_its_weights_only_when_asked() -> None:
    """A fresh layer holds no weights; a forward pass without `keep` stores none (training keeps no
    (B, h, T, T) copies); with keep set it stores the softmax rows, which sum to 1."""
    attn = ind.CausalSelfAttention(8, 2)
    assert attn.last_weights is None and not attn.keep
    x = torch.randn(1, 5, 8)
    attn(x)
    assert attn.last_weights is None
    attn.keep = True
    attn(x)
    assert attn.last_weights.shape == (1, 2, 5, 5)
    torch.testing.assert_close(attn.last_weights.sum(-1), torch.ones(1, 2, 5))


def test_a_shorter_sequence_gives_the_prefix_logits() -> None:
    """Positions 0..T'-1 of a sequence shorter than `length` get the first T' position encodings, so
    (the model being causal) its logits equal the first T' rows of the full sequence's; atol 1e-5."""
    torch.manual_seed(5)
    model = ind.build_model(ind.InductionConfig(d_model=8, heads=2, length=12, vocab=6)).eval()
    x = torch.randint(0, 6, (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, :7]), model(x)[:, :7], atol=1e-5, rtol=0)


def _hand_made_run() -> ind.InductionRun:
    """A run without training: random weights at three checkpoints, numbers chosen by hand."""
    cfg = ind.InductionConfig(layers=1, heads=2, d_model=8, vocab=6, length=8, steps=4)
    torch.manual_seed(6)
    states = [{k: v.clone() for k, v in ind.build_model(cfg).state_dict().items()} for _ in range(3)]
    model = ind.build_model(cfg)
    model.load_state_dict(states[-1])
    return ind.InductionRun(
        config=cfg,
        seed=7,
        model=model.eval(),
        steps=np.arange(1, 5),
        loss_repeated=np.array([1.5, 1.25, 1.0, 0.75]),
        loss_other=np.array([1.75, 1.625, 1.5, 1.375]),
        checkpoints=np.array([0, 2, 4]),
        prev_token=np.array([[[0.25, 0.5]], [[0.5, 0.75]], [[0.75, 1.0]]]),
        induction=np.array([[[0.125, 0.0]], [[0.25, 0.5]], [[0.5, 1.0]]]),
        states=states,
        seconds=2.5,
        reference_seconds=0.375,
    )


def test_run_round_trip_keeps_every_field() -> None:
    """run_to_dict -> run_from_dict gives back every number (these are exact in float16/float32), the step
    numbers 1..S, the weights of each checkpoint to float16 precision (rtol 1e-3), and a model in eval
    mode holding the last checkpoint's weights; model_at(i) holds checkpoint i's."""
    run = _hand_made_run()
    d = ind.run_to_dict(run)
    assert d["states"][0]["tok_embed.weight"].dtype == torch.float16  # stored small: weights in float16,
    for name in ("loss_repeated", "loss_other", "prev_token", "induction"):  # curves and scores in float32
        assert d[name].dtype == torch.float32, name
    back = ind.run_from_dict(d)
    assert back.config == run.config and back.seed == 7
    assert back.seconds == 2.5 and back.reference_seconds == 0.375
    np.testing.assert_array_equal(back.steps, [1, 2, 3, 4])
    for name in ("loss_repeated", "loss_other", "checkpoints", "prev_token", "induction"):
        np.testing.assert_array_equal(getattr(back, name), getattr(run, name))
        assert getattr(back, name).dtype == getattr(run, name).dtype, name
    assert len(back.states) == 3
    for a, b in zip(back.states, run.states, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k].dtype == torch.float32
            torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-3)
    assert not back.model.training
    for k, v in back.model.state_dict().items():
        torch.testing.assert_close(v, back.states[-1][k], rtol=0, atol=0)
    m0 = back.model_at(0)
    assert not m0.training
    for k, v in m0.state_dict().items():
        torch.testing.assert_close(v, back.states[0][k], rtol=0, atol=0)
    # a stored run from before reference_seconds existed reads it as NaN
    del d["reference_seconds"]
    assert math.isnan(ind.run_from_dict(d).reference_seconds)


def test_token_names_one_layer_and_eval_batch() -> None:
    """70 consonant-vowel names (14 x 5) then t70, t71, ...; one_layer changes only the layer count;
    the evaluation batch is the fixed seed's 128 sequences of the config's length and vocabulary."""
    names = ind.token_names(72)
    assert names[:6] == ["ba", "be", "bi", "bo", "bu", "da"] and names[69] == "zu"
    assert names[70:] == ["t70", "t71"] and len(set(names)) == 72
    cfg = ind.InductionConfig(layers=3, heads=4, steps=7)
    assert ind.one_layer(cfg) == replace(cfg, layers=1)
    small = ind.InductionConfig(length=16, vocab=9)
    tokens, mask = ind.eval_batch(small)
    want = ind.repeated_sequences(128, 16, 9, np.random.default_rng(12_345))
    np.testing.assert_array_equal(tokens, want[0])
    np.testing.assert_array_equal(mask, want[1])


def test_estimate_seconds_is_the_median_probe_step_scaled(monkeypatch) -> None:
    """With a fake clock whose steps take 10 s (the untimed first one), then 1, 2 and 3 s, the estimate
    is median(1, 2, 3) x steps x 1.04 (checkpoints' share) = 2 x 50 x 1.04 = 104 s, by hand."""
    clock = iter([0.0, 10.0, 10.0, 11.0, 11.0, 13.0, 13.0, 16.0])
    monkeypatch.setattr(ind.time, "perf_counter", lambda: next(clock))
    cfg = ind.InductionConfig(steps=50, d_model=8, heads=2, layers=1, batch=2, length=8, vocab=6)
    assert ind.estimate_seconds(cfg) == pytest.approx(104.0, rel=1e-12)
