"""Tests for core/online_action.py.

References used as oracles:
- average precision: a literal loop over the positive frames, computing the
  precision among all frames scoring at least as high (ties = one threshold),
  i.e. the definition in Manning et al., IR book Sec. 8.4, with sklearn's tie rule;
- online-ness: perturbing frames after t and re-running must leave every
  prediction at <= t bit-for-bit unchanged (atol 0), for every model kind;
- OadTR-lite vs per-frame MLP: the shipped weights on the default test stream.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core import online_action as oa

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)


# ---------------------------------------------------------------- average precision


def brute_force_ap(scores: np.ndarray, positives: np.ndarray) -> float:
    """(1/P) * sum over positive i of  #{j: s_j >= s_i and y_j} / #{j: s_j >= s_i}."""
    P = int(positives.sum())
    total = 0.0
    for i in range(len(scores)):
        if not positives[i]:
            continue
        above = 0
        above_pos = 0
        for j in range(len(scores)):
            if scores[j] >= scores[i]:
                above += 1
                above_pos += int(positives[j])
        total += above_pos / above
    return total / P


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 6), st.booleans()),  # few distinct scores -> many ties
        min_size=1,
        max_size=40,
    )
)
def test_ap_equals_brute_force_with_ties(data):
    scores = np.array([s / 6 for s, _ in data])
    positives = np.array([y for _, y in data])
    if positives.sum() == 0:
        assert np.isnan(oa.average_precision(scores, positives))
        return
    # tolerance: float64 sums of <= 40 terms, 1e-12
    assert oa.average_precision(scores, positives) == pytest.approx(
        brute_force_ap(scores, positives), abs=1e-12
    )


def test_ap_equals_brute_force_random_continuous_scores():
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(2, 200))
        scores = rng.normal(size=n)
        positives = rng.random(n) < rng.uniform(0.05, 0.9)
        positives[rng.integers(n)] = True
        assert oa.average_precision(scores, positives) == pytest.approx(
            brute_force_ap(scores, positives), abs=1e-12
        )


def test_ap_hand_cases():
    # perfect ranking -> 1; all tied -> fraction of positives (one threshold)
    assert oa.average_precision(np.array([3.0, 2.0, 1.0]), np.array([1, 1, 0])) == 1.0
    assert oa.average_precision(np.ones(4), np.array([1, 0, 0, 0])) == pytest.approx(0.25)
    # ranking (+, -, +): (1/1 + 2/3) / 2
    assert oa.average_precision(np.array([3.0, 2.0, 1.0]), np.array([1, 0, 1])) == pytest.approx(5 / 6)


def test_frame_map_excludes_background_and_empty_classes():
    labels = np.array([0, 0, 1, 1, 2, 0])
    probs = np.zeros((6, 4))  # class 3 never occurs -> left out
    probs[:, 0] = 1.0  # background score is perfect but must not count
    probs[[2, 3], 1] = 0.9
    probs[4, 2] = 0.9
    m, ap = oa.frame_map(probs, labels)
    assert ap.shape == (3,)
    assert np.isnan(ap[2])
    assert m == pytest.approx(1.0)


# ---------------------------------------------------------------- stream


def test_stream_shapes_labels_and_seeding():
    cfg = oa.StreamConfig()
    a = oa.make_stream(500, cfg, seed=3)
    b = oa.make_stream(500, cfg, seed=3)
    assert a.features.shape == (500, cfg.feature_dim) and a.features.dtype == np.float32
    assert np.array_equal(a.features, b.features) and np.array_equal(a.labels, b.labels)
    assert set(np.unique(a.labels)) <= set(range(cfg.num_actions + 1))
    assert (a.labels == 0).any() and (a.labels > 0).any()


def test_stream_noise_free_mean_follows_the_drift_formula():
    cfg = oa.StreamConfig(noise=0.0, drift=2.0)
    s = oa.make_stream(400, cfg, seed=1)
    mu, v = oa.class_geometry(cfg, 0)
    # first full action segment: x = mu_k + drift (p - 1/2) v_k with p = i / (L - 1)
    change = np.flatnonzero(np.diff(s.labels)) + 1
    for start, end in zip(change[:-1], change[1:], strict=True):
        k = s.labels[start]
        if k == 0:
            continue
        L = end - start
        p = np.arange(L) / (L - 1)
        expected = mu[k] + 2.0 * (p - 0.5)[:, None] * v[k]
        np.testing.assert_allclose(s.features[start:end], expected, atol=1e-5)  # float32 rounding
        return
    pytest.fail("no complete action segment")


def test_history_windows_are_causal_and_padded():
    x = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    w, pad = oa.history_windows(x, 4)
    assert w.shape == (10, 4, 2)
    np.testing.assert_array_equal(w[:, -1], x)  # slot T-1 is frame t
    np.testing.assert_array_equal(w[5, :, 0], [2, 3, 4, 5])  # frames t-3..t
    assert pad[1].tolist() == [True, True, False, False]
    assert not pad[3:].any()


# ---------------------------------------------------------------- online-ness

CFG = oa.ModelConfig(history=8, decoder_steps=3)


def model_and_stream(
    kind: str, model_seed: int, frames: int, stream_seed: int
) -> tuple[torch.nn.Module, oa.Stream]:
    """An untrained model of `kind` (history 8, 3 decoder steps) in eval mode, and a fresh stream."""
    torch.manual_seed(model_seed)
    model = oa.build_model(kind, 16, 5, CFG).eval()
    return model, oa.make_stream(frames, oa.StreamConfig(), seed=stream_seed)


@pytest.mark.parametrize("kind", oa.MODEL_KINDS)
def test_predictions_never_depend_on_future_frames(kind):
    model, stream = model_and_stream(kind, model_seed=0, frames=60, stream_seed=5)
    cfg = CFG
    base, base_attn = oa.predict(model, stream.features, cfg.history)
    rng = np.random.default_rng(0)
    for t in (0, 5, 58):
        changed = stream.features.copy()
        changed[t + 1 :] = rng.normal(scale=5.0, size=changed[t + 1 :].shape)
        probs, attn = oa.predict(model, changed, cfg.history)
        # exact equality: the computation for frames <= t is identical
        np.testing.assert_array_equal(probs[: t + 1], base[: t + 1])
        if attn is not None:
            np.testing.assert_array_equal(attn[: t + 1], base_attn[: t + 1])
        # and the perturbation is visible right after t (the test can fail)
        assert not np.array_equal(probs[t + 1 :], base[t + 1 :])


@pytest.mark.parametrize("kind", oa.MODEL_KINDS)
def test_chunked_prediction_equals_one_pass(kind):
    """predict() runs windows in chunks to bound memory; the chunk size changes nothing (atol 1e-6)."""
    model, stream = model_and_stream(kind, model_seed=1, frames=300, stream_seed=3)
    cfg = CFG
    whole, whole_attn = oa.predict(model, stream.features, cfg.history, chunk=300)
    parts, parts_attn = oa.predict(model, stream.features, cfg.history, chunk=7)
    np.testing.assert_allclose(parts, whole, atol=1e-6)
    if whole_attn is not None:
        np.testing.assert_allclose(parts_attn, whole_attn, atol=1e-6)


# ---------------------------------------------------------------- OadTR-lite against a literal computation


def literal_layer_norm(ln: torch.nn.LayerNorm, z: torch.Tensor) -> torch.Tensor:
    mu = z.mean(-1, keepdim=True)
    var = ((z - mu) ** 2).mean(-1, keepdim=True)
    return (z - mu) / torch.sqrt(var + ln.eps) * ln.weight + ln.bias


def literal_ffn(ffn: torch.nn.Sequential, z: torch.Tensor) -> torch.Tensor:
    a = z @ ffn[0].weight.T + ffn[0].bias
    a = 0.5 * a * (1 + torch.erf(a / 2**0.5))  # GELU
    return a @ ffn[2].weight.T + ffn[2].bias


def literal_attention(attn: oa.Attention, x, memory, pad):
    """One window: head by head, softmax written out, padded keys dropped; returns (S, d), (S, M)."""
    d, H = x.shape[-1], attn.heads
    d_k = d // H
    Wk, Wv = attn.kv.weight[:d], attn.kv.weight[d:]
    bk, bv = attn.kv.bias[:d], attn.kv.bias[d:]
    heads, maps = [], []
    for h in range(H):
        cols = slice(h * d_k, (h + 1) * d_k)
        q = x @ attn.q.weight[cols].T + attn.q.bias[cols]  # (S, d_k)
        k = memory @ Wk[cols].T + bk[cols]  # (M, d_k)
        v = memory @ Wv[cols].T + bv[cols]
        e = torch.exp(q @ k.T / d_k**0.5) * (~pad).to(x.dtype)  # (S, M), padded keys weigh 0
        A = e / e.sum(-1, keepdim=True)
        heads.append(A @ v)
        maps.append(A)
    y = torch.cat(heads, -1)
    return y @ attn.out.weight.T + attn.out.bias, torch.stack(maps).mean(0)


def literal_oadtr(model: oa.OadTRLite, window, pad) -> dict[str, torch.Tensor]:
    """One window (T, D), every position of every layer computed, the decoder queries per window."""
    h = window @ model.embed.weight.T + model.embed.bias + model.pos[1:]  # (T, d)
    if model.use_token:
        h = torch.cat([model.token[0] + model.pos[:1], h])
        pad = torch.cat([torch.tensor([False]), pad])
    for block in model.blocks:
        z = literal_layer_norm(block.ln1, h)
        a, A = literal_attention(block.attn, z, z, pad)
        h = h + a
        h = h + literal_ffn(block.ffn, literal_layer_norm(block.ln2, h))
    h = literal_layer_norm(model.ln, h)
    now = 0 if model.use_token else -1
    out = {"attention": A[now, 1:] if model.use_token else A[now]}
    if not model.use_decoder:
        out["logits"] = h[now] @ model.head.weight.T + model.head.bias
        return out
    dec = model.decoder
    q = model.queries[0]  # (l, d)
    z = literal_layer_norm(dec.ln1, q)
    q = q + literal_attention(dec.self_attn, z, z, torch.zeros(len(q), dtype=torch.bool))[0]
    q = q + literal_attention(dec.cross_attn, literal_layer_norm(dec.ln2, q), h, pad)[0]
    q = q + literal_ffn(dec.ffn, literal_layer_norm(dec.ln3, q))
    out["future_logits"] = q @ model.future_head.weight.T + model.future_head.bias
    out["logits"] = torch.cat([h[now], q.mean(0)]) @ model.head.weight.T + model.head.bias
    return out


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["oadtr", "oadtr_no_token", "oadtr_no_decoder"])
def test_oadtr_equals_a_literal_per_window_computation(kind, layers):
    """The batched forward takes shortcuts that must not change the maths: the last layer computes
    only the rows that are read, the decoder queries' self-attention runs once per batch, the mask is
    skipped when no window is padded. Outputs and gradients equal a literal per-window loop in
    float64 (rtol 1e-9), on windows with and without padding."""
    cfg = oa.ModelConfig(history=6, decoder_steps=3, encoder_layers=layers)
    torch.manual_seed(3)
    model = oa.build_model(kind, 5, 4, cfg).double()
    with torch.no_grad():  # LayerNorms away from their identity start
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.normal_(1.0, 0.3)
                m.bias.normal_(0.0, 0.3)
    x = torch.randn(5, 6, 5, dtype=torch.float64)
    no_pad = torch.zeros(5, 6, dtype=torch.bool)
    some_pad = (
        torch.arange(6)[None, :] < torch.tensor([0, 1, 3, 5, 0])[:, None]
    )  # windows at the stream's start
    for pad in (no_pad, some_pad):
        for training in (True, False):
            model.train(training)
            model.zero_grad()
            fast = model(x, pad)
            loss = fast["logits"].square().sum() + fast.get("future_logits", torch.zeros(1)).square().sum()
            grads = torch.autograd.grad(loss, list(model.parameters()))
            slow = [literal_oadtr(model, x[b], pad[b]) for b in range(len(x))]
            slow_loss = sum(o["logits"].square().sum() + o.get("future_logits", torch.zeros(1)).square().sum()
                            for o in slow)  # fmt: skip
            slow_grads = torch.autograd.grad(slow_loss, list(model.parameters()))
            for name in fast:
                want = torch.stack([o[name] for o in slow])
                torch.testing.assert_close(fast[name], want, rtol=1e-9, atol=1e-12)
            assert ("attention" in fast) == (not training)  # the map is only made at inference
            for g, want in zip(grads, slow_grads, strict=True):
                torch.testing.assert_close(g, want, rtol=1e-9, atol=1e-12)


def test_probabilities_and_attention_are_distributions():
    cfg = oa.ModelConfig(history=8, decoder_steps=2)
    torch.manual_seed(0)
    model = oa.build_model("oadtr", 16, 5, cfg)
    stream = oa.make_stream(60, oa.StreamConfig(), seed=2)
    probs, attn = oa.predict(model, stream.features, cfg.history)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert attn.shape == (60, 8)
    # task-token row over [token, T frames] sums to 1, so the frames get <= 1; padding gets 0
    assert (attn.sum(1) <= 1 + 1e-5).all()
    _, pad = oa.history_windows(stream.features, 8)
    assert np.all(attn[pad] == 0)


# ---------------------------------------------------------------- shipped weights


def test_shipped_oadtr_beats_per_frame_baseline_by_margin():
    """On the default test stream OadTR-lite's mAP exceeds the per-frame MLP's by >= 0.15."""
    metrics = json.loads((ROOT / "assets" / oa.METRICS_FILE).read_text())
    run = metrics["runs"][0]
    exp = oa.experiment_from_dict(run["settings"])
    assert oa.settings_key(exp) == oa.settings_key(oa.Experiment())  # the page's default view
    loaded = oa.load_shipped(ROOT / "assets")[oa.settings_key(exp)]
    test = oa.held_out_stream(exp)
    maps = {}
    for kind in ("mlp", "oadtr"):
        probs, _ = oa.predict(loaded.models[kind], test.features, exp.model.history)
        maps[kind] = oa.frame_map(probs, test.labels)[0]
    assert maps["oadtr"] - maps["mlp"] >= 0.15
    # the shipped metrics are what these weights give on this stream (recomputed, 1e-6)
    for kind, m in maps.items():
        assert run["mAP"][kind] == pytest.approx(m, abs=1e-6)


def test_models_trained_side_by_side_equal_one_after_another():
    """run_experiment trains TRAIN_WORKERS models at once; a literal sequential loop
    (seed, build, train, evaluate per kind) gives the same losses and predictions (atol 1e-6)."""
    exp = oa.Experiment(train_frames=3000, test_frames=300, steps=6, batch_size=16,
                        model=oa.ModelConfig(history=8, decoder_steps=2))  # fmt: skip
    _, results, _ = oa.run_experiment(exp, oa.MODEL_KINDS)
    train, test = oa.streams_for(exp)
    assert list(results) == list(oa.MODEL_KINDS)
    for kind in oa.MODEL_KINDS:
        torch.manual_seed(exp.seed)
        model = oa.build_model(kind, exp.stream.feature_dim, train.num_classes, exp.model)
        losses = oa.train_model(model, train, exp.model, exp.steps, seed=exp.seed,
                                batch_size=exp.batch_size, lr=exp.lr)  # fmt: skip
        ref = oa.evaluate(model, kind, test, exp, losses)
        np.testing.assert_allclose(results[kind].losses, ref.losses, atol=1e-6)
        np.testing.assert_allclose(results[kind].probs, ref.probs, atol=1e-6)
        assert results[kind].mAP == pytest.approx(ref.mAP, abs=1e-6)


def test_live_run_trains_oadtr_well_at_the_longest_history():
    """The page's live recipe (Experiment defaults) at T = 32, l = 8, its costliest setting: OadTR-lite
    reaches mAP >= 0.70 (measured 0.79). With positions started from small random values instead of
    the sinusoidal encoding the same run reached only 0.54, far below the GRU's 0.85."""
    exp = oa.Experiment(model=oa.ModelConfig(history=32, decoder_steps=8))
    fresh = oa.build_model("oadtr", exp.stream.feature_dim, exp.stream.num_actions + 1, exp.model)
    # PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...)   (Vaswani et al. Sec. 3.5)
    pos, i = np.arange(33)[:, None], np.arange(0, 32, 2)[None, :]
    np.testing.assert_allclose(
        fresh.pos.detach().numpy()[:, 0::2], np.sin(pos / 10000 ** (i / 32)), atol=1e-6
    )
    np.testing.assert_allclose(
        fresh.pos.detach().numpy()[:, 1::2], np.cos(pos / 10000 ** (i / 32)), atol=1e-6
    )
    _, results, _ = oa.run_experiment(exp, ("oadtr",))
    assert results["oadtr"].mAP >= 0.70


# ---------------------------------------------------------------- the decoder's targets (issue 21)


def literal_future_labels(labels: list[int], steps: int) -> tuple[list[list[int]], list[list[bool]]]:
    """For every frame t and i = 1..steps: the label of frame t + i, valid only if that frame exists."""
    targets, valid = [], []
    for t in range(len(labels)):
        row, ok = [], []
        for i in range(1, steps + 1):
            if t + i < len(labels):
                row.append(labels[t + i])
                ok.append(True)
            else:
                row.append(None)
                ok.append(False)
        targets.append(row)
        valid.append(ok)
    return targets, valid


@settings(max_examples=100, deadline=None)
@given(labels=st.lists(st.integers(0, 4), min_size=1, max_size=30), steps=st.integers(1, 8))
def test_future_labels_against_a_literal_loop(labels, steps):
    """Targets are frames t+1..t+l (never t itself: a shift by one would train the decoder on the present)."""
    fut, valid = oa.future_labels(np.array(labels), steps)
    want, want_valid = literal_future_labels(labels, steps)
    assert fut.shape == valid.shape == (len(labels), steps)
    assert valid.tolist() == want_valid
    got = [[int(fut[t, i]) if valid[t, i] else None for i in range(steps)] for t in range(len(labels))]
    assert got == want


def test_future_labels_on_a_hand_made_stream():
    """A stream whose labels are their own frame numbers makes the offsets visible."""
    fut, valid = oa.future_labels(np.arange(5), 2)
    assert fut[valid].tolist() == [1, 2, 2, 3, 3, 4, 4]
    assert valid.tolist() == [[True, True], [True, True], [True, True], [True, False], [False, False]]
