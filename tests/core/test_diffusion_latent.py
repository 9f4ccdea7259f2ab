"""Tests of core.latent_diffusion: scenes and captions, the vocabulary, attention, the sampler's
wiring, the scoring helpers, the shipped text-to-image model and the training script.

Independent references: analytic shape areas and the anchors of ``make_scenes``' docstring;
colorsys for hues; difflib for spelling suggestions; a literal numpy softmax loop for attention;
the guided DDIM update written out inline; literal loops for the nearest-neighbour distance;
the closed-form MAC count of a convolution; published quality targets (issue 16).
"""

from __future__ import annotations

import colorsys
import difflib
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from core import latent_diffusion as ld

# tiny nets: one thread avoids OpenMP spin-waiting on a busy 2-core machine (10x faster here)
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "assets" / "diffusion_model.pt"

# Bounds the shipped model must meet (issue 16; the page and README state the measured values):
RECON_RMSE_BOUND = 0.25  # autoencoder reconstruction RMSE on fresh images, pixel range [-1, 1]
SHAPE_ACCURACY = 0.80  # classifier, 50 DDIM steps, w = 3, prompts from the training distribution
COLOUR_ACCURACY = 0.90  # classifier, and again by mean foreground hue
WEIGHTS_BYTES = 5_000_000


@pytest.fixture(scope="module")
def shipped() -> ld.LatentDiffusion:
    if not WEIGHTS.exists():
        pytest.fail(f"missing {WEIGHTS}: run scripts/train_latent_diffusion.py")
    return ld.load(WEIGHTS)


def _attrs(**kw) -> dict[str, np.ndarray]:
    n = max(len(np.atleast_1d(v)) for v in kw.values())
    base = {"shape": 0, "colour": 0, "size": 0, "position": 4}
    return {k: np.broadcast_to(np.asarray(kw.get(k, base[k])), (n,)).copy() for k in base}


# ------------------------------------------------------------------ scenes and captions


@pytest.mark.slow
def test_scenes_have_the_captioned_size_and_shape_area():
    # Anti-aliased area in pixels = sum of brightness / the shape's own brightness (HSV value).
    # Analytic areas in units of the half-size r: circle pi, square (2 * 0.85)^2, triangle
    # 0.5 * base 2 * height 1.8, cross 2 * (2 * 0.66) - 0.66^2. r ~ U(a, b) has
    # E[r^2] = (b^3 - a^3) / (3 (b - a)): small U(5, 6.5), large U(8.5, 10). Tolerance 5%.
    unit = np.array([math.pi, 1.7**2, 0.5 * 2 * 1.8, 2 * 2 * 0.66 - 0.66**2])
    e_r2 = {0: (6.5**3 - 5**3) / 4.5, 1: (10**3 - 8.5**3) / 4.5}
    for size in (0, 1):
        for shape in range(4):
            x = ld.make_scenes(_attrs(shape=np.full(300, shape), size=size, position=np.arange(300) % 5), seed=shape)
            v = (x.max(axis=3) + 1) / 2
            area = v.sum(axis=(1, 2)) / v.max(axis=(1, 2))
            assert area.mean() == pytest.approx(unit[shape] * e_r2[size], rel=0.05), (size, shape)


def test_scenes_have_the_captioned_colour_and_place():
    n = 400
    rng = np.random.default_rng(0)
    a = ld.random_attributes(n, rng)
    x = ld.make_scenes(a, seed=1)
    assert x.shape == (n, 32, 32, 3) and x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1
    # colour: every scene's foreground hue is nearest its caption's colour (colorsys reference)
    x01 = (x + 1) / 2
    for i in range(0, n, 37):
        fg = x01[i].max(axis=-1) > 0.5
        h = np.array([colorsys.rgb_to_hsv(*px)[0] for px in x01[i][fg]])
        d = np.abs(h - ld.COLOUR_HUES[a["colour"][i]])
        assert np.all(np.minimum(d, 1 - d) < 0.03), i
    # place: the foreground's centroid, against the anchors of make_scenes' docstring
    v = x01.max(axis=-1)
    yy, xx = np.mgrid[0:32, 0:32] + 0.5
    cx, cy = (v * xx).sum((1, 2)) / v.sum((1, 2)), (v * yy).sum((1, 2)) / v.sum((1, 2))
    tri = a["shape"] == 2  # a triangle's centroid sits below its box centre: skip the y test for it
    pos = np.array(ld.POSITIONS)[a["position"]]
    assert np.all(cx[pos == "left"] < 14) and np.all(cx[pos == "right"] > 18)
    assert np.all(cy[(pos == "top") & ~tri] < 14) and np.all(cy[(pos == "bottom") & ~tri] > 18)
    mid = pos == "middle"
    assert np.all(np.abs(cx[mid] - 16) < 2.5)
    # the one-pixel border is background (-1): shapes stay inside the frame
    border = np.concatenate([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], axis=1)
    assert np.all(border == -1.0)
    # same seed, same images
    np.testing.assert_array_equal(x, ld.make_scenes(a, seed=1))


def test_training_pairs_leave_out_the_held_out_pairs_only():
    pairs = ld.training_pairs()
    named = {(ld.COLOURS[c], ld.SHAPES[s]) for c, s in pairs}
    assert len(pairs) == 12 and not named & set(ld.HELD_OUT)
    # every colour and every shape is still trained, with three partners each
    assert sorted(np.bincount([c for c, _ in pairs])) == [3] * 4
    assert sorted(np.bincount([s for _, s in pairs])) == [3] * 4
    a = ld.random_attributes(2000, np.random.default_rng(0), pairs)
    seen = {(ld.COLOURS[c], ld.SHAPES[s]) for c, s in zip(a["colour"], a["shape"], strict=True)}
    assert seen == named


def test_captions_say_only_what_the_scene_is():
    a = _attrs(shape=2, colour=0, size=0, position=0)
    assert ld.caption(a, 0) == "a small red triangle on the left"
    rng = np.random.default_rng(3)
    a = ld.random_attributes(300, rng)
    for i in range(300):
        text = ld.caption(a, i, rng)
        named = ld.parse_caption(text)  # also checks every word is in the vocabulary
        assert all(named[k] == a[k][i] for k in named), (text, {k: a[k][i] for k in a})


# ------------------------------------------------------------------ vocabulary


def test_tokenize_normalises_and_rejects_unknown_words_with_suggestions():
    assert ld.tokenize("A Large, RED circle!") == ["a", "large", "red", "circle"]
    assert ld.tokenize("") == [] and ld.tokenize("   ") == []
    with pytest.raises(ValueError, match="rde") as err:
        ld.tokenize("a rde circle")
    # the suggestions are difflib's closest known words
    assert err.value.suggestions == difflib.get_close_matches("rde", ld.WORDS, n=3, cutoff=0.5)
    assert "red" in err.value.suggestions and "red" in str(err.value)
    # markup is not a word: the tag name is reported, never the markup
    with pytest.raises(ld.UnknownWordError) as err:
        ld.tokenize("<script>alert(1)</script>")
    assert err.value.word == "script"
    # special tokens cannot be typed
    with pytest.raises(ValueError):
        ld.tokenize("<pad> <start>")
    with pytest.raises(ValueError, match="too long"):
        ld.tokenize("a " * ld.MAX_TOKENS)
    ids, mask = ld.encode_tokens(["a red circle", ""])
    assert ids[0, :4].tolist() == [ld.TOKEN_ID[w] for w in ("<start>", "a", "red", "circle")]
    assert mask.sum(dim=1).tolist() == [4, 1]  # the empty prompt is the start token alone


def test_swap_word_changes_one_word_of_its_kind():
    assert ld.swap_word("a large red triangle", "blue") == "a large blue triangle"
    assert ld.swap_word("a large red triangle", "circle") == "a large red circle"
    assert ld.swap_word("a red shape", "square") == "a red square"
    assert ld.swap_word("a circle", "left") == "a circle on the left"
    assert ld.swap_word("a circle on the left", "top") == "a circle on the top"
    assert ld.swap_word("a circle", "small") == "a small circle"


# ------------------------------------------------------------------ attention


def test_attention_matches_a_literal_softmax_loop():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, n, 4, generator=g, dtype=torch.float64) for n in (5, 6, 6))
    mask = torch.tensor([[True] * 6, [True, True, True, False, False, False]])
    out, w = ld.attention(q, k, v, mask)
    for b in range(2):
        for h in range(3):
            for i in range(5):
                s = [float(q[b, h, i] @ k[b, h, j]) / 2.0 for j in range(6) if mask[b, j]]  # sqrt(d) = 2
                e = np.exp(np.array(s) - max(s))
                p = e / e.sum()
                np.testing.assert_allclose(w[b, h, i, : len(p)].numpy(), p, rtol=1e-12)
                assert float(w[b, h, i, len(p) :].abs().sum()) == 0.0  # padding gets no weight
                ref = sum(p[j] * v[b, h, j].numpy() for j in range(len(p)))
                np.testing.assert_allclose(out[b, h, i].numpy(), ref, rtol=1e-12)


def _random_model(seed: int = 0, width: int = 16) -> ld.LatentDiffusion:
    torch.manual_seed(seed)
    den = ld.Denoiser(width=width)
    torch.nn.init.normal_(den.unet.conv_out.weight, std=0.05)  # non-zero output
    return ld.LatentDiffusion(ld.Autoencoder(), den, ld.Classifier(), latent_scale=1.3)


@torch.no_grad()
def test_cross_attention_queries_from_latents_keys_values_from_text():
    model = _random_model()
    blk = model.denoiser.unet.attn_down
    C = blk.to_q.in_features
    z = torch.randn(2, C, 8, 8)
    ids, mask = ld.encode_tokens(["a red circle", "blue"])
    ctx = model.denoiser.text(ids, mask)
    store: list[torch.Tensor] = []
    y = blk(z, ctx, mask, store)
    w = store[0]  # (B, 64, L), averaged over heads
    assert y.shape == z.shape and w.shape == (2, 64, ld.MAX_TOKENS)
    np.testing.assert_allclose(w.sum(-1).numpy(), 1.0, atol=1e-6)
    # identical token vectors -> every query splits its attention evenly over the real tokens
    same = ctx[:, :1].expand(-1, ld.MAX_TOKENS, -1).contiguous()
    store.clear()
    blk(z, same, mask, store)
    np.testing.assert_allclose(store[0][0, :, :4].numpy(), 0.25, atol=1e-6)
    np.testing.assert_allclose(store[0][1, :, :2].numpy(), 0.5, atol=1e-6)
    # what sits at padded positions of the context cannot change the output
    noisy = ctx.clone()
    noisy[~mask] = torch.randn(int((~mask).sum()), ctx.shape[-1])
    np.testing.assert_allclose(blk(z, noisy, mask).numpy(), y.numpy(), atol=1e-6)


def test_sampler_cross_attention_shape_and_rows_sum_to_one():
    model = _random_model()
    traj = ld.sample(model, "a small green circle on the left", 4, seed=1, num_samples=3, num_frames=2)
    assert traj.tokens == ["<start>", "a", "small", "green", "circle", "on", "the", "left"]
    assert traj.cross_attention.shape == (4, 3, 8, 8, 8)
    # each latent position's weights over the prompt's tokens sum to 1 (float32: 1e-5)
    np.testing.assert_allclose(traj.cross_attention.sum(axis=2), 1.0, atol=1e-5)
    assert traj.cross_attention.min() >= 0.0


# ------------------------------------------------------------------ sampler wiring (untrained nets)


@torch.no_grad()
def test_first_step_is_guided_ddim_with_the_negative_prompt_written_out():
    model, w, seed, n = _random_model(), 2.5, 7, 3
    traj = ld.sample(model, "a red circle", num_steps=4, sampler="ddim", eta=0.0, guidance_scale=w, seed=seed,
                     num_samples=n, negative_prompt="blue")  # fmt: skip
    ts = traj.timesteps
    z = np.random.default_rng(seed).standard_normal((n, 4, 8, 8))
    np.testing.assert_array_equal(traj.latents[0], z)

    def eps(prompt: str) -> np.ndarray:
        ids, mask = ld.encode_tokens([prompt] * n)
        out = model.denoiser(torch.from_numpy(z).float(), torch.full((n,), int(ts[0])), ids, mask)
        return out.double().numpy()

    e_c, e_neg = eps("a red circle"), eps("blue")
    e = e_neg + w * (e_c - e_neg)  # the negative prompt in place of the empty one
    a_t, a_p = model.alpha_bar[ts[0]], model.alpha_bar[ts[1]]
    x0 = (z - math.sqrt(1 - a_t) * e) / math.sqrt(a_t)
    expected = math.sqrt(a_p) * x0 + math.sqrt(1 - a_p) * e
    np.testing.assert_allclose(traj.latents[1], expected, rtol=1e-4, atol=1e-5)


def test_negative_prompt_equal_to_the_prompt_cancels_guidance():
    # eps_neg + w (eps_c - eps_neg) = eps_c when the two prompts are the same: any w = w of 1
    model = _random_model()
    a = ld.sample(model, "a red circle", 5, guidance_scale=7.5, seed=2, num_samples=2, negative_prompt="a red circle")
    b = ld.sample(model, "a red circle", 5, guidance_scale=1.0, seed=2, num_samples=2)
    np.testing.assert_allclose(a.latents, b.latents, atol=1e-5)


@pytest.mark.slow
def test_sampler_shapes_seed_and_progress():
    model = _random_model()
    calls = []
    traj = ld.sample(model, "a circle", 5, sampler="ddpm", seed=3, num_samples=2, num_frames=3,
                     progress=lambda i, s: calls.append((i, s)))  # fmt: skip
    assert traj.latents.shape == (6, 2, 4, 8, 8)
    assert traj.x0_latents.shape == (5, 2, 4, 8, 8)
    assert traj.frame_index.tolist() in ([0, 2, 5], [0, 3, 5])
    assert traj.images.shape == (3, 2, 32, 32, 3) and traj.final.shape == (2, 32, 32, 3)
    assert calls[-1] == (5, 5) and len(calls) == 5
    again = ld.sample(model, "a circle", 5, sampler="ddpm", seed=3, num_samples=2, num_frames=3)
    np.testing.assert_array_equal(traj.latents, again.latents)
    one_frame = ld.sample(model, "a circle", 5, sampler="ddpm", seed=3, num_samples=2, num_frames=1)
    np.testing.assert_allclose(one_frame.final, model.decode(traj.latents[-1]), atol=1e-6)
    other = ld.sample(model, "a circle", 5, sampler="ddpm", seed=4, num_samples=2, num_frames=3)
    assert not np.allclose(traj.latents[-1], other.latents[-1])
    # per-sample prompts: the sweep's batch of different prompts, one per sample
    mixed = ld.sample(model, ["a circle", "a red square"], 3, seed=3, num_samples=2)
    assert mixed.cross_attention.shape[2] == 4 and mixed.tokens == ["<start>", "a", "circle"]
    with pytest.raises(ValueError):
        ld.sample(model, ["a circle"], 3, num_samples=2)
    with pytest.raises(ValueError, match="sampler"):
        ld.sample(model, "a circle", 3, sampler="euler")


def test_sample_defaults_message_and_attention_dtype():
    model = _random_model()
    # the defaults: DDIM with eta 0, guidance w = 3 (the page's default), seed 0, 8 samples
    a = ld.sample(model, "a circle", 2)
    b = ld.sample(model, "a circle", 2, sampler="ddim", eta=0.0, guidance_scale=3.0, seed=0, num_samples=8)
    np.testing.assert_array_equal(a.latents, b.latents)
    assert a.latents.shape == (3, 8, 4, 8, 8)
    # the attention maps of every step are kept in float32 (half the memory of float64)
    assert a.cross_attention.dtype == np.float32
    with pytest.raises(ValueError, match="^need one prompt per sample$"):
        ld.sample(model, ["a circle"], 2, num_samples=2)


def test_ddim_eta0_trajectory_ignores_step_noise():
    model = _random_model()
    a = ld.sample(model, "red", 6, sampler="ddim", eta=0.0, seed=11, num_samples=2, num_frames=2)
    b = ld.sample(model, "red", 6, sampler="ddim", eta=0.0, seed=11, num_samples=2, num_frames=2)
    np.testing.assert_array_equal(a.latents, b.latents)
    c = ld.sample(model, "red", 6, sampler="ddim", eta=1.0, seed=11, num_samples=2, num_frames=2)
    np.testing.assert_array_equal(a.latents[0], c.latents[0])
    assert not np.allclose(a.latents[-1], c.latents[-1])


# ------------------------------------------------------------------ scoring helpers


def test_foreground_hue_and_saturation_match_colorsys():
    rng = np.random.default_rng(0)
    hues, sats = rng.uniform(0, 1, 6), rng.uniform(0.3, 1, 6)
    img = np.zeros((6, 32, 32, 3))
    for i, (h, s) in enumerate(zip(hues, sats, strict=True)):
        img[i, 8:20, 10:22] = colorsys.hsv_to_rgb(h, s, 0.9)
    hue, sat = ld.foreground_hue(img)
    d = np.abs(hue - hues)
    np.testing.assert_allclose(np.minimum(d, 1 - d), 0, atol=1e-9)
    np.testing.assert_allclose(sat, sats, atol=1e-9)
    assert ld.hue_colour(np.array([0.98, 0.16, 0.36, 0.64, np.nan])).tolist() == [0, 1, 2, 3, -1]
    assert np.isnan(ld.foreground_hue(np.zeros((1, 32, 32, 3)))[0][0])


def test_nearest_distance_matches_literal_loop():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (5, 4, 4, 3)), rng.uniform(-1, 1, (7, 4, 4, 3))
    ref = [min(math.sqrt(((ai - bj) ** 2).mean()) for bj in b) for ai in a]
    np.testing.assert_allclose(ld.nearest_distance(a, b), ref, rtol=1e-9)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    # For diagonal covariances d^2 = ||mu1 - mu2||^2 + sum_i (s1_i - s2_i)^2 (s = standard deviations).
    # Large samples from known Gaussians; tolerance 3% of the exact value.
    rng = np.random.default_rng(0)
    mu1, mu2 = np.array([0.0, 1.0, -1.0]), np.array([0.5, 1.0, 0.0])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([1.5, 1.0, 0.5])
    F1 = mu1 + s1 * rng.standard_normal((200_000, 3))
    F2 = mu2 + s2 * rng.standard_normal((200_000, 3))
    exact = ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()
    assert ld.frechet_distance(F1, F2) == pytest.approx(exact, rel=0.03)
    assert abs(ld.frechet_distance(F1, F1)) < 1e-6


def test_count_macs_closed_form():
    # Conv2d(3 -> 8, 3x3, pad 1) on 10x10: 8 * 10 * 10 outputs x 3 * 3 * 3 MACs; Linear 5 -> 2: 10
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(800, 2))
    assert ld.count_macs(net, torch.zeros(1, 3, 10, 10)) == 8 * 10 * 10 * 27 + 800 * 2


# ------------------------------------------------------------------ the shipped model


def test_shipped_weights_are_small():
    assert WEIGHTS.stat().st_size <= WEIGHTS_BYTES


@pytest.mark.slow
def test_shipped_autoencoder_reconstructs_with_unit_scale_latents(shipped):
    x = ld.make_scenes(ld.random_attributes(256, np.random.default_rng(1234)), seed=1234)
    rmse = math.sqrt(((shipped.decode(shipped.encode(x)) - x) ** 2).mean())
    assert rmse < RECON_RMSE_BOUND
    # the latent scale factor makes encoded data ~unit variance (SD's 0.18215 plays this role)
    assert 0.8 < shipped.encode(x).std() < 1.25


@pytest.mark.slow
def test_shipped_classifier_reads_real_images(shipped):
    a = ld.random_attributes(400, np.random.default_rng(77))
    x = ld.make_scenes(a, seed=77)
    acc = ld.attribute_accuracy(shipped, x, {k: a[k] for k in ld.ATTRIBUTES})
    assert min(acc.values()) >= 0.95, acc


def _full_prompts(pairs):
    return [(f"a {size} {ld.COLOURS[c]} {ld.SHAPES[s]}", {"shape": s, "colour": c})
            for c, s in pairs for size in ld.SIZES]  # fmt: skip


def _quality(model, prompts, per, steps, w, seed):
    texts = [p for p, _ in prompts for _ in range(per)]
    traj = ld.sample(model, texts, steps, guidance_scale=w, seed=seed, num_samples=len(texts), num_frames=1)
    targets = {k: np.array([a[k] for _, a in prompts for _ in range(per)]) for k in ("shape", "colour")}
    return ld.attribute_accuracy(model, traj.final, targets)


@pytest.mark.slow
def test_shipped_model_follows_prompts_and_guidance_0_and_1_step_are_worse(shipped):
    # prompts from the training distribution, a seed the training script's sweep does not use
    prompts = _full_prompts(ld.training_pairs())
    good = _quality(shipped, prompts, 2, 50, 3.0, seed=1234)
    assert good["shape"] >= SHAPE_ACCURACY, good
    assert good["colour"] >= COLOUR_ACCURACY and good["colour_hue"] >= COLOUR_ACCURACY, good
    for worse in (_quality(shipped, prompts, 2, 50, 0.0, seed=1234), _quality(shipped, prompts, 2, 1, 3.0, seed=1234)):
        # clearly worse: at least 25 points lower on shape + colour together
        assert worse["shape"] + worse["colour"] <= good["shape"] + good["colour"] - 0.25, (worse, good)


@pytest.mark.slow
def test_shipped_quality_csv_is_what_the_script_measures(shipped):
    # the page reads the held-out accuracy from the CSV: recompute that row with the script's own call
    import importlib.util

    import pandas as pd

    spec = importlib.util.spec_from_file_location("train_ld", ROOT / "scripts" / "train_latent_diffusion.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    q = pd.read_csv(ROOT / "assets" / "diffusion_quality.csv")
    row = q[(q["sweep"] == "heldout") & (q["guidance"] == 3.0)].iloc[0]
    reference = ld.make_scenes(ld.random_attributes(10, np.random.default_rng(0)), seed=0)  # distance unused
    got = mod.measure(shipped, mod.eval_prompts(True), mod.FULL["per_held"], 50, "ddim", 3.0, reference)
    for k in ("shape", "colour", "colour_hue", "saturation"):
        assert got[k] == pytest.approx(row[k], abs=1e-9), k


# ------------------------------------------------------------------ training script


@pytest.mark.slow
def test_short_retraining_lowers_the_loss(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_ld", ROOT / "scripts" / "train_latent_diffusion.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--quick", "--out", str(tmp_path)])
    for key in ("ae_loss", "eps_loss"):
        loss = out[key]
        assert loss[-5:].mean() < loss[:5].mean(), key
    model = ld.load(tmp_path / "diffusion_model.pt")
    assert model.decode(np.zeros((1, 4, 8, 8))).shape == (1, 32, 32, 3)
    assert (tmp_path / "diffusion_quality.csv").exists() and (tmp_path / "diffusion_metrics.json").exists()


# ------------------------------------------------------------------ what the "Try this" sentences measure


def test_foreground_saturation_matches_colorsys():
    rng = np.random.default_rng(0)
    hues, sats = rng.uniform(0, 1, 5), rng.uniform(0.2, 1, 5)
    img01 = np.zeros((5, 32, 32, 3))
    for i, (h, s) in enumerate(zip(hues, sats, strict=True)):
        img01[i, 4:20, 6:18] = colorsys.hsv_to_rgb(h, s, 0.9)
        img01[i, 25:28, 25:28] = 0.2  # dark pixels: below the foreground threshold, ignored
    got = ld.foreground_saturation(2 * img01 - 1)
    np.testing.assert_allclose(got, sats, atol=1e-9)
    assert ld.foreground_saturation(-np.ones((1, 32, 32, 3)))[0] == 0.0


@pytest.mark.slow
def test_settle_steps_matches_a_literal_loop():
    model = _random_model()
    traj = ld.sample(model, "a red circle", 12, "ddim", 1.0, 3.0, seed=4, num_samples=3, num_frames=None)
    got = ld.settle_steps(traj, tol=0.02)
    for n in range(3):
        last_far = -1
        for k in range(13):
            if math.sqrt(((traj.x0_images[k, n] - traj.final[n]) ** 2).mean()) > 0.02:
                last_far = k
        assert got[n] == last_far + 1
    with pytest.raises(ValueError):
        ld.settle_steps(ld.sample(model, "a red circle", 12, seed=4, num_samples=1, num_frames=3))


# ------------------------------------------------------------------ the maths written out (issue 21, mutation testing)
# Each network piece is recomputed in float64 numpy from its own weights with plain loops and the
# formulas of its docstring (no call into the module under test but the weights); tolerance 1e-9.


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _layer_norm(x: np.ndarray, ln: torch.nn.LayerNorm) -> np.ndarray:
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + ln.eps) * _np(ln.weight) + _np(ln.bias)


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _softmax_rows(s: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """softmax over the last axis of s (Nq, Nk), keys where keep is False get weight 0."""
    out = np.zeros_like(s)
    for i in range(s.shape[0]):
        e = np.array([math.exp(s[i, j] - s[i, keep].max()) if keep[j] else 0.0 for j in range(s.shape[1])])
        out[i] = e / e.sum()
    return out


def test_timestep_embedding_is_the_sinusoid_written_out():
    # emb[k] = sin(t * 10000^(-k/half)), emb[half + k] = cos(t * 10000^(-k/half))  (Vaswani sec. 3.5)
    t = torch.tensor([0, 1, 17, 500, 999])
    for dim in (8, 48):
        got = ld.timestep_embedding(t, dim).numpy()
        half = dim // 2
        assert got.shape == (5, dim)
        for b, tb in enumerate(t.tolist()):
            for k in range(half):
                f = 10000.0 ** (-k / half)
                # float32 arguments up to 999: rounding of t * f costs up to ~1e-4
                assert got[b, k] == pytest.approx(math.sin(tb * f), abs=3e-4), (dim, tb, k)
                assert got[b, half + k] == pytest.approx(math.cos(tb * f), abs=3e-4), (dim, tb, k)


@torch.no_grad()
def test_text_block_is_a_pre_norm_transformer_layer_written_out():
    torch.manual_seed(0)
    D, H, L = 8, 2, 5
    blk = ld.TextBlock(D, H).double()
    for p in blk.parameters():  # non-trivial norms and biases
        p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, L, D, dtype=torch.float64)
    mask = torch.tensor([[True] * L, [True, True, True, False, False]])
    got = _np(blk(x, mask))
    d = D // H
    for b in range(2):
        xb = _np(x[b])
        a = _layer_norm(xb, blk.ln1)
        qkv = a @ _np(blk.qkv.weight).T + _np(blk.qkv.bias)  # (L, 3D): [q | k | v], heads contiguous
        heads = []
        for h in range(H):
            q = qkv[:, h * d : (h + 1) * d]
            k = qkv[:, D + h * d : D + (h + 1) * d]
            v = qkv[:, 2 * D + h * d : 2 * D + (h + 1) * d]
            w = _softmax_rows(q @ k.T / math.sqrt(d), mask[b].numpy())
            heads.append(w @ v)
        y = xb + np.concatenate(heads, axis=1) @ _np(blk.proj.weight).T + _np(blk.proj.bias)
        m = _layer_norm(y, blk.ln2)
        lin1, lin2 = blk.mlp[0], blk.mlp[2]
        m = _gelu(m @ _np(lin1.weight).T + _np(lin1.bias)) @ _np(lin2.weight).T + _np(lin2.bias)
        np.testing.assert_allclose(got[b], y + m, rtol=1e-9, atol=1e-9)


@torch.no_grad()
def test_text_encoder_is_token_plus_position_embeddings_then_blocks_then_norm():
    torch.manual_seed(1)
    enc = ld.TextEncoder(dim=8, layers=2, heads=2).double()
    for p in enc.parameters():
        p.add_(0.1 * torch.randn_like(p))
    ids, mask = ld.encode_tokens(["a red circle", "blue"])
    got = _np(enc(ids, mask))
    x = _np(enc.tok.weight)[ids.numpy()] + _np(enc.pos.weight)[None, : ld.MAX_TOKENS]
    for blk in enc.blocks:  # each block checked against its written-out form above
        x = _np(blk(torch.from_numpy(x), mask))
    np.testing.assert_allclose(got, _layer_norm(x, enc.ln), rtol=1e-9, atol=1e-9)


@torch.no_grad()
def test_cross_attention_block_written_out():
    # Q from the latent positions (after GroupNorm), K and V from the tokens; residual; then a
    # LayerNorm-MLP residual (Rombach et al. sec. 3.3). A non-square 3 x 2 latent catches H/W mix-ups.
    torch.manual_seed(2)
    C, Dc, heads, L, Hh, Ww = 16, 6, 4, 4, 3, 2
    blk = ld.CrossAttention(C, context_dim=Dc, heads=heads).double()
    for p in blk.parameters():
        p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(2, C, Hh, Ww, dtype=torch.float64)
    ctx = torch.randn(2, L, Dc, dtype=torch.float64)
    mask = torch.tensor([[True] * L, [True, True, False, False]])
    store: list[torch.Tensor] = []
    got = _np(blk(x, ctx, mask, store))
    d, G = C // heads, 8
    for b in range(2):
        xb = _np(x[b])  # (C, H, W)
        # GroupNorm: 8 groups of C/8 channels, statistics over the group's channels and all positions
        zn = np.empty_like(xb)
        for g in range(G):
            sl = slice(g * C // G, (g + 1) * C // G)
            grp = xb[sl]
            zn[sl] = (grp - grp.mean()) / np.sqrt(grp.var() + blk.norm.eps)
        zn = zn * _np(blk.norm.weight)[:, None, None] + _np(blk.norm.bias)[:, None, None]
        z = np.array([zn[:, i, j] for i in range(Hh) for j in range(Ww)])  # (HW, C), row-major positions
        q = z @ _np(blk.to_q.weight).T
        k = _np(ctx[b]) @ _np(blk.to_k.weight).T
        v = _np(ctx[b]) @ _np(blk.to_v.weight).T
        outs, ws = [], []
        for h in range(heads):
            hs = slice(h * d, (h + 1) * d)
            w = _softmax_rows(q[:, hs] @ k[:, hs].T / math.sqrt(d), mask[b].numpy())
            ws.append(w)
            outs.append(w @ v[:, hs])
        xf = np.array([xb[:, i, j] for i in range(Hh) for j in range(Ww)])
        y = xf + np.concatenate(outs, axis=1) @ _np(blk.to_out.weight).T + _np(blk.to_out.bias)
        m = _layer_norm(y, blk.ln)
        lin1, lin2 = blk.mlp[0], blk.mlp[2]
        y = y + _gelu(m @ _np(lin1.weight).T + _np(lin1.bias)) @ _np(lin2.weight).T + _np(lin2.bias)
        for p_, (i, j) in enumerate((i, j) for i in range(Hh) for j in range(Ww)):
            np.testing.assert_allclose(got[b, :, i, j], y[p_], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(_np(store[0][b]), np.mean(ws, axis=0), rtol=1e-9, atol=1e-12)


def test_alpha_bar_is_stable_diffusions_scaled_linear_schedule_by_a_literal_product():
    # beta_t = (sqrt(0.00085) + (sqrt(0.012) - sqrt(0.00085)) t / 999)^2, alpha_bar_t = prod (1 - beta_s)
    model = _random_model()
    assert model.alpha_bar.shape == (1000,)
    prod = 1.0
    for t in range(1000):
        beta = (math.sqrt(0.00085) + (math.sqrt(0.012) - math.sqrt(0.00085)) * t / 999) ** 2
        prod *= 1.0 - beta
        assert model.alpha_bar[t] == pytest.approx(prod, rel=1e-12), t
    # diffusers' published final value for this schedule: alphas_cumprod[-1] = 0.0047 (2 digits)
    assert model.alpha_bar[-1] == pytest.approx(0.0047, abs=5e-5)


@torch.no_grad()
def test_latent_scale_multiplies_the_encoder_and_divides_the_decoder():
    # the same nets with latent_scale 1 and 1.3: encode scales by 1.3, decode undoes it (rel 1e-6, float32)
    m13 = _random_model()
    m1 = ld.LatentDiffusion(m13.autoencoder, m13.denoiser, m13.classifier, latent_scale=1.0)
    x = ld.make_scenes(_attrs(shape=[0, 2], colour=[1, 3]), seed=0)
    z1 = m1.encode(x)
    assert z1.dtype == np.float64 and z1.shape == (2, 4, 8, 8)
    np.testing.assert_allclose(m13.encode(x), 1.3 * z1, rtol=1e-6, atol=1e-7)
    img = m13.decode(1.3 * z1)
    np.testing.assert_allclose(img, m1.decode(z1), rtol=1e-5, atol=1e-6)
    # decode's leading axes: a (2, 1, 4, 8, 8) stack decodes item by item
    stacked = m13.decode(np.stack([1.3 * z1[:1], 1.3 * z1[1:]]))
    assert stacked.shape == (2, 1, 32, 32, 3)
    np.testing.assert_allclose(stacked[:, 0], img, atol=1e-6)
    # Autoencoder.forward is decode(encode(x)); the decoder's raw output, transposed and clipped
    ae = m13.autoencoder
    raw = ae.decoder(ae.encoder(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).float()))
    np.testing.assert_allclose(_np(ae(ld.to_chw(x))), _np(raw), atol=1e-6)
    np.testing.assert_allclose(m1.decode(z1), np.clip(_np(raw).transpose(0, 2, 3, 1), -1, 1), atol=1e-5)


def test_to_chw_and_to_hwc_are_transposes_and_to_hwc_clips():
    x = np.arange(2 * 3 * 4 * 3, dtype=np.float64).reshape(2, 3, 4, 3) / 10 - 3  # values in [-3, 4.1]
    c = ld.to_chw(x)
    assert c.dtype == torch.float32 and c.shape == (2, 3, 3, 4)
    for n, i, j, ch in np.ndindex(*x.shape):
        assert float(c[n, ch, i, j]) == pytest.approx(x[n, i, j, ch], abs=1e-6)
    back = ld.to_hwc(c)
    np.testing.assert_allclose(back, np.clip(x, -1.0, 1.0), atol=1e-6)


@torch.no_grad()
def test_ddpm_trajectory_is_the_ancestral_sampler_written_out():
    # every step of a guided DDPM run recomputed: eps from the two prompts, x0, the posterior mean
    # and variance (Ho et al. eqs. 6-7) with the run's own noise draws; last step lands on x0
    model, w, seed, n = _random_model(), 2.0, 5, 2
    traj = ld.sample(model, "a blue square", num_steps=3, sampler="ddpm", guidance_scale=w, seed=seed,
                     num_samples=n, num_frames=None)  # fmt: skip
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 4, 8, 8))
    ts = traj.timesteps
    assert ts.tolist() == [999, 666, 332]  # trailing: round(1000 - 1000 k / 3) - 1 (diffusers)

    def eps(prompt: str, zz: np.ndarray, t: int) -> np.ndarray:
        ids, mask = ld.encode_tokens([prompt] * n)
        return _np(model.denoiser(torch.from_numpy(zz).float(), torch.full((n,), t), ids, mask))

    for i, t in enumerate(ts.tolist()):
        np.testing.assert_allclose(traj.latents[i], z, rtol=1e-5, atol=1e-5)
        e_c, e_u = eps("a blue square", z, t), eps("", z, t)
        e = e_u + w * (e_c - e_u)
        a_t = model.alpha_bar[t]
        a_p = model.alpha_bar[ts[i + 1]] if i + 1 < len(ts) else 1.0
        x0 = (z - math.sqrt(1 - a_t) * e) / math.sqrt(a_t)
        np.testing.assert_allclose(traj.x0_latents[i], x0, rtol=1e-4, atol=1e-4)
        beta = 1 - a_t / a_p
        mean = math.sqrt(a_p) * beta / (1 - a_t) * x0 + math.sqrt(1 - beta) * (1 - a_p) / (1 - a_t) * z
        var = (1 - a_p) / (1 - a_t) * beta
        z = mean + math.sqrt(var) * rng.standard_normal((n, 4, 8, 8))
    np.testing.assert_allclose(traj.latents[-1], z, rtol=1e-4, atol=1e-4)
    # alpha_bar_prev = 1 at the last step: zero variance, z_0 is exactly the last x0 prediction
    np.testing.assert_allclose(traj.latents[-1], traj.x0_latents[-1], atol=1e-9)
    # decoded frames: images[k] = decode(z at entry k); x0_images[k] = decode(x0 at step k), last = z_0
    np.testing.assert_allclose(traj.images, model.decode(traj.latents), atol=1e-6)
    np.testing.assert_allclose(traj.x0_images[:-1], model.decode(traj.x0_latents), atol=1e-6)
    np.testing.assert_allclose(traj.x0_images[-1], traj.final, atol=1e-6)
    np.testing.assert_allclose(traj.final, model.decode(traj.latents[-1]), atol=1e-6)


@torch.no_grad()
def test_sampler_attention_is_the_conditional_branch_averaged_over_both_layers():
    model, n = _random_model(), 2
    traj = ld.sample(model, ["a red circle", "a small blue square"], num_steps=2, seed=3, num_samples=n,
                     negative_prompt="green", num_frames=1)  # fmt: skip
    L = 5  # <start> a small blue square: the longest prompt
    assert traj.cross_attention.shape == (2, n, L, 8, 8)
    ids, mask = ld.encode_tokens(["a red circle", "a small blue square"])
    ctx = model.denoiser.text(ids, mask)
    store: list[torch.Tensor] = []
    z = torch.from_numpy(traj.latents[0]).float()
    model.denoiser.unet(z, torch.full((n,), int(traj.timesteps[0])), ctx, mask, store)
    assert len(store) == 2  # the two full-resolution layers
    ref = (_np(store[0]) + _np(store[1])) / 2  # (n, 64, L_max)
    for b in range(n):
        for tok in range(L):
            for p in range(64):
                assert traj.cross_attention[0, b, tok, p // 8, p % 8] == pytest.approx(ref[b, p, tok], abs=1e-6)


def test_tokenize_limits_and_fallback_suggestions():
    eleven = "a small red circle on the left a small red circle"  # 11 words: the limit, accepted
    assert len(ld.tokenize(eleven)) == ld.MAX_TOKENS - 1 == 11
    with pytest.raises(ld.PromptTooLongError) as err:
        ld.tokenize(eleven + " on")
    assert err.value.num_words == 12 and err.value.limit == 11
    # no known word within difflib ratio 0.5: every word is suggested
    with pytest.raises(ld.UnknownWordError) as err:
        ld.tokenize("a qqqqqqq")
    assert err.value.word == "qqqqqqq" and err.value.suggestions == list(ld.WORDS)
    # underscores and digits are word characters, other punctuation separates words
    assert ld.tokenize("red-circle;on:the.left") == ["red", "circle", "on", "the", "left"]
    ids, mask = ld.encode_tokens([eleven, "red"])
    assert ids.shape == (2, ld.MAX_TOKENS) and ids.dtype == torch.int64
    assert ids[1].tolist() == [ld.TOKEN_ID["<start>"], ld.TOKEN_ID["red"]] + [ld.TOKEN_ID["<pad>"]] * 10
    assert mask[0].all() and mask[1].tolist() == [True, True] + [False] * 10


def _group_norm(x: np.ndarray, gn: torch.nn.GroupNorm) -> np.ndarray:
    """GroupNorm of (B, C, H, W) written out: statistics per sample over each group's channels and positions."""
    B, C = x.shape[:2]
    G = gn.num_groups
    out = np.empty_like(x)
    for b in range(B):
        for g in range(G):
            sl = slice(g * C // G, (g + 1) * C // G)
            grp = x[b, sl]
            out[b, sl] = (grp - grp.mean()) / np.sqrt(grp.var() + gn.eps)
    return out * _np(gn.weight)[None, :, None, None] + _np(gn.bias)[None, :, None, None]


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def _conv(x: np.ndarray, conv: torch.nn.Conv2d) -> np.ndarray:
    return _np(torch.nn.functional.conv2d(torch.from_numpy(x), conv.weight.double(), conv.bias.double(),
                                          stride=conv.stride, padding=conv.padding))  # fmt: skip


@torch.no_grad()
def test_res_block_written_out():
    # h = conv1(silu(GN(x))) + W_e emb; out = conv2(silu(GN(h))) + skip(x)  (1x1 conv skip when C changes)
    torch.manual_seed(3)
    for c_in, c_out in ((8, 16), (16, 16)):
        blk = ld.ResBlock(c_in, c_out, emb_dim=6).double()
        for p in blk.parameters():
            p.add_(0.1 * torch.randn_like(p))
        x, emb = torch.randn(2, c_in, 4, 3, dtype=torch.float64), torch.randn(2, 6, dtype=torch.float64)
        xn = _np(x)
        h = _conv(_silu(_group_norm(xn, blk.norm1)), blk.conv1)
        h = h + (_np(emb) @ _np(blk.emb.weight).T + _np(blk.emb.bias))[:, :, None, None]
        h = _conv(_silu(_group_norm(h, blk.norm2)), blk.conv2)
        skip = _conv(xn, blk.skip) if c_in != c_out else xn
        np.testing.assert_allclose(_np(blk(x, emb)), h + skip, rtol=1e-9, atol=1e-9)


@torch.no_grad()
def test_noise_predictor_wiring_follows_its_docstring():
    # the U-Net's data flow, from the docstring: conv_in, down1 + cross-attention (skip h0), stride-2
    # down, mid1, cross-attention, mid2, nearest 2x upsampling + conv, concat [h, h0], up1 + cross-
    # attention, GN-SiLU-conv out; time embedding = time_mlp(sinusoid of width w). Each block is the
    # network's own (checked above); what is tested is the order and the wiring. float32, atol 1e-5.
    model = _random_model(seed=4)
    den = model.denoiser
    u = den.unet
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 4, 8, 8, generator=g)
    t = torch.tensor([10, 700])
    ids, mask = ld.encode_tokens(["a red circle", "a small blue square on the left"])
    ctx = den.text(ids, mask)
    half = u.width // 2
    freqs = torch.tensor([10000.0 ** (-k / half) for k in range(half)])
    sinus = torch.cat([torch.sin(t[:, None] * freqs), torch.cos(t[:, None] * freqs)], dim=1)
    emb = u.time_mlp(sinus)
    h0 = u.attn_down(u.down1(u.conv_in(z), emb), ctx, mask)
    h = u.down(h0)
    assert h.shape == (2, 2 * u.width, 4, 4)
    h = u.mid2(u.attn_mid(u.mid1(h, emb), ctx, mask), emb)
    h = u.up(h.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))  # nearest 2x
    h = u.attn_up(u.up1(torch.cat([h, h0], dim=1), emb), ctx, mask)
    out = u.conv_out(torch.nn.functional.silu(u.out_norm(h)))
    store: list[torch.Tensor] = []
    np.testing.assert_allclose(u(z, t, ctx, mask, store).numpy(), out.numpy(), atol=1e-5)
    assert len(store) == 2 and store[0].shape == (2, 64, ld.MAX_TOKENS)
    # the Denoiser: the text encoder's output as context, the same mask for both
    np.testing.assert_allclose(den(z, t, ids, mask).numpy(), out.numpy(), atol=1e-5)


def test_swap_word_more_cases():
    assert ld.swap_word("red blue circle", "green") == "red green circle"  # the last word of its kind
    assert ld.swap_word("large", "red") == "large red"  # no noun: appended
    assert ld.swap_word("a circle on the left", "small") == "a small circle on the left"
    assert ld.swap_word("a shape", "cross") == "a cross"
    assert ld.swap_word("a red", "square") == "a red square"  # a shape with no noun to replace: appended
    with pytest.raises(ValueError, match="not a colour"):
        ld.swap_word("a circle", "the")
    assert ld.parse_caption("a red blue large circle at the top") == {"shape": 0, "colour": 3, "size": 1, "position": 2}
    assert ld.parse_caption("the") == {}


def test_scoring_helpers_edge_cases():
    # a sample equal to a reference image: distance 0 up to rounding (1e-7), never NaN from
    # ||a||^2 + ||b||^2 - 2 a.b rounding below zero (it does for the second of these three)
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (3, 8, 8, 3))
    d = ld.nearest_distance(a, a)
    assert np.all(np.isfinite(d)) and d.max() < 1e-7
    # grey foreground pixels (chroma 0) carry no hue and do not poison the mean; a red square's hue is 0
    img = np.zeros((2, 32, 32, 3))
    img[0, :4, :4] = 0.8  # grey, bright: foreground with chroma 0
    img[0, 10:20, 10:20] = colorsys.hsv_to_rgb(0.6, 0.5, 0.9)
    img[1, :4, :4] = 0.8  # grey only
    hue, sat = ld.foreground_hue(img)
    assert hue[0] == pytest.approx(0.6, abs=1e-9) and np.isnan(hue[1])
    # saturation averaged over all foreground pixels, grey ones count as 0: 100 of 116 at 0.5
    assert sat[0] == pytest.approx(0.5 * 100 / 116, abs=1e-9) and sat[1] == 0.0
    # pixels exactly at the threshold are background (max channel > threshold)
    edge = np.zeros((1, 32, 32, 3))
    edge[0, 0, 0] = colorsys.hsv_to_rgb(0.3, 1.0, 0.35)
    assert np.isnan(ld.foreground_hue(edge, threshold=0.35)[0][0])
    # nearest colour on the circle: 0.9 is nearer red (0.0) than blue (2/3)
    assert ld.hue_colour(np.array([0.9, 0.5, 0.09, 0.25])).tolist() == [0, 3, 1, 2]
    # count_macs: a grouped convolution counts C_in / groups inputs per output
    net = torch.nn.Conv2d(4, 8, 3, padding=1, groups=2)
    assert ld.count_macs(net, torch.zeros(2, 4, 5, 5)) == 2 * 8 * 5 * 5 * (4 // 2) * 9
    # two convolutions (the count adds up), a 3 x 5 kernel (height times width), an int
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, (3, 5), padding=(1, 2)), torch.nn.Conv2d(4, 2, 1))
    macs = ld.count_macs(net, torch.zeros(1, 3, 6, 7))
    assert macs == 4 * 6 * 7 * (3 * 3 * 5) + 2 * 6 * 7 * 4 and isinstance(macs, int)


def test_swap_word_puts_a_size_or_colour_before_the_placeholder_noun():
    assert ld.swap_word("a shape", "red") == "a red shape"
    assert ld.swap_word("a red shape on the left", "small") == "a red small shape on the left"


def test_foreground_saturation_threshold_and_float32_input():
    # pixels of brightness 0.45 are foreground at the default threshold 0.35, not at 0.5
    img01 = np.zeros((1, 32, 32, 3))
    img01[0, 0:4, 0:5] = colorsys.hsv_to_rgb(0.1, 0.4, 0.9)  # 20 px, saturation 0.4
    img01[0, 10:14, 0:5] = colorsys.hsv_to_rgb(0.5, 0.8, 0.45)  # 20 px, saturation 0.8
    assert ld.foreground_saturation(2 * img01 - 1)[0] == pytest.approx(0.6, abs=1e-12)
    assert ld.foreground_saturation(2 * img01 - 1, threshold=0.5)[0] == pytest.approx(0.4, abs=1e-12)
    # float32 images are converted before the arithmetic: colorsys on the same float64 values, 1e-12
    rng = np.random.default_rng(5)
    x32 = np.full((3, 32, 32, 3), -1.0, dtype=np.float32)
    ref = []
    for i in range(3):
        h, s, v = rng.uniform(0, 1), rng.uniform(0.3, 1), rng.uniform(0.6, 1)
        x32[i, 5:15, 5:15] = 2 * np.array(colorsys.hsv_to_rgb(h, s, v)) - 1
        px = (x32[i, 5, 5].astype(np.float64) + 1.0) / 2.0
        ref.append(colorsys.rgb_to_hsv(*px)[1])
    np.testing.assert_allclose(ld.foreground_saturation(x32), ref, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_generate_passes_every_setting_to_the_sampler_and_rescales_to_0_1():
    # generate = sample(shipped model, ...) with frames min(steps + 1, 9), images (final + 1) / 2
    shipped_model = ld.shipped_model()
    for kw, steps in (({"sampler": "ddim", "eta": 0.5}, 3), ({"sampler": "ddpm", "eta": 0.0}, 9)):
        g = ld.generate("a red circle", negative_prompt="blue", steps=steps, guidance=2.0, seed=7, n=2, **kw)
        ref = ld.sample(shipped_model, "a red circle", steps, guidance_scale=2.0, seed=7, num_samples=2,
                        num_frames=min(steps + 1, 9), negative_prompt="blue", **kw)  # fmt: skip
        assert g.trajectory.frame_index.tolist() == ref.frame_index.tolist()
        assert len(g.trajectory.frame_index) == min(steps + 1, 9)
        np.testing.assert_allclose(g.trajectory.latents, ref.latents, atol=1e-6)
        np.testing.assert_allclose(g.images, (ref.final + 1.0) / 2.0, atol=1e-6)
        assert g.images.shape == (2, 32, 32, 3) and g.images.min() >= 0.0 and g.images.max() <= 1.0
        assert g.tokens == ["<start>", "a", "red", "circle"]
        np.testing.assert_allclose(g.cross_attention, ref.cross_attention, atol=1e-6)
    # the defaults but steps: DDIM with eta 0, w = 3, seed 0, 8 samples, the empty negative prompt
    g = ld.generate("red", steps=2)
    ref = ld.sample(shipped_model, "red", 2, sampler="ddim", eta=0.0, guidance_scale=3.0, seed=0, num_samples=8,
                    num_frames=3, negative_prompt="")  # fmt: skip
    np.testing.assert_allclose(g.trajectory.latents, ref.latents, atol=1e-6)


def test_score_is_accuracy_plus_the_frechet_distance_of_classifier_features():
    model = _random_model()
    a = _attrs(shape=[0, 1, 2, 3, 0, 1], colour=[0, 1, 2, 3, 3, 2])
    x = ld.make_scenes(a, seed=3)
    ref = ld.make_scenes(_attrs(shape=[1, 2, 3, 0, 2, 3, 1], colour=[1, 1, 0, 0, 2, 3, 2]), seed=4)
    targets = {"shape": a["shape"], "colour": a["colour"]}
    got = ld.score(model, x, targets, ref)
    probs = model.classify(x)
    for k in ("shape", "colour"):  # fraction of argmax hits, counted by hand
        hits = sum(int(np.argmax(probs[k][i]) == targets[k][i]) for i in range(6))
        assert got[k] == pytest.approx(hits / 6)
    hue, _ = ld.foreground_hue((x + 1) / 2)
    assert got["colour_hue"] == pytest.approx(np.mean(ld.hue_colour(hue) == a["colour"]))
    assert got["colour_hue"] == 1.0  # real scenes: the hue check needs no classifier
    f1, f2 = model.features(x), model.features(ref)
    assert f1.shape == (6, 64)
    assert got["distance"] == pytest.approx(ld.frechet_distance(f1, f2), rel=1e-9)
    assert set(got) == {"shape", "colour", "colour_hue", "distance"}
    # one index for all images broadcasts
    assert ld.attribute_accuracy(model, x, {"size": 0})["size"] == pytest.approx(
        np.mean(probs_size := model.classify(x)["size"].argmax(axis=1) == 0)) and probs_size.shape == (6,)


def test_foreground_hue_single_pixels_float32_and_a_negative_threshold():
    # one coloured pixel is enough for a hue (its weight, the chroma, is below 1) and a saturation
    img = np.zeros((1, 32, 32, 3))
    img[0, 3, 4] = colorsys.hsv_to_rgb(0.3, 0.5, 0.8)  # chroma 0.4
    hue, sat = ld.foreground_hue(img)
    assert hue[0] == pytest.approx(0.3, abs=1e-12) and sat[0] == pytest.approx(0.5, abs=1e-12)
    # float32 input (the sampler's decoded images) is computed in float64: colorsys on the same values
    rng = np.random.default_rng(6)
    x = np.zeros((3, 32, 32, 3), dtype=np.float32)
    ref_h, ref_s = [], []
    for i in range(3):
        x[i, 2:9, 3:7] = colorsys.hsv_to_rgb(rng.uniform(0.05, 0.95), rng.uniform(0.3, 1), rng.uniform(0.6, 1))
        h, s, _ = colorsys.rgb_to_hsv(*x[i, 2, 3].astype(np.float64))
        ref_h.append(h)
        ref_s.append(s)
    hue, sat = ld.foreground_hue(x)
    np.testing.assert_allclose(hue, ref_h, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sat, ref_s, rtol=0, atol=1e-12)
    # threshold -1: every pixel is foreground, black ones with saturation 0 (colorsys: s = 0 at v = 0)
    img = np.zeros((1, 2, 2, 3))
    img[0, 0, 0] = colorsys.hsv_to_rgb(0.6, 0.8, 0.9)
    assert ld.foreground_hue(img, threshold=-1.0)[1][0] == pytest.approx(0.8 / 4, abs=1e-12)


def test_colour_hue_uses_the_0_1_image_and_its_threshold():
    # a dim red square (value 0.3 < 0.35: no foreground, no hue -> a miss) and a green one at
    # value 0.45 (foreground, hue 1/3 -> a hit): colour_hue = 1/2, worked out by hand
    model = _random_model()
    img01 = np.zeros((2, 32, 32, 3))
    img01[0, 8:20, 8:20] = colorsys.hsv_to_rgb(0.0, 0.9, 0.3)
    img01[1, 8:20, 8:20] = colorsys.hsv_to_rgb(1 / 3, 0.9, 0.45)
    acc = ld.attribute_accuracy(model, 2 * img01 - 1, {"colour": np.array([0, 2])})
    assert acc["colour_hue"] == 0.5
    assert set(ld.attribute_accuracy(model, 2 * img01 - 1, {"shape": 0})) == {"shape"}  # no colour target


def _hand_trajectory(dist: np.ndarray) -> ld.Trajectory:
    """A trajectory whose x0 prediction at entry k of sample n is the constant dist[k, n] and whose
    final image is 0: the RMS distance to the final image is exactly |dist[k, n]|."""
    K, N = dist.shape
    S = K - 1
    x0_images = np.broadcast_to(dist[:, :, None, None, None], (K, N, 2, 2, 3)).copy()
    return ld.Trajectory(timesteps=np.arange(S)[::-1], latents=np.zeros((K, N, 4, 8, 8)),
                         x0_latents=np.zeros((S, N, 4, 8, 8)), frame_index=np.arange(K),
                         images=np.zeros((K, N, 2, 2, 3)), x0_images=x0_images, final=np.zeros((N, 2, 2, 3)),
                         tokens=["<start>"], cross_attention=np.zeros((S, N, 1, 8, 8)))  # fmt: skip


def test_settle_steps_on_a_hand_made_trajectory():
    # sample 0: far at entries 0 and 2 -> settles after step 3; sample 1: exactly at the tolerance
    # (0.25, not farther) from entry 1 on -> 1; sample 2: never farther -> 0; sample 3 (negative) -> 2
    dist = np.array([[0.5, 0.5, 0.25, -0.3], [0.1, 0.25, 0.0, -0.5], [0.3, 0.25, 0.0, 0.2], [0.0, 0.0, 0.0, 0.0]])
    assert ld.settle_steps(_hand_trajectory(dist), tol=0.25).tolist() == [3, 1, 0, 2]
    # the default tolerance is 0.1 RMS (the page's): 0.12 is far, 0.08 is not
    dist = np.array([[0.12, 0.08], [0.12, 0.08], [0.0, 0.0]])
    assert ld.settle_steps(_hand_trajectory(dist)).tolist() == [2, 0]
    traj = _hand_trajectory(dist)
    traj.frame_index = np.array([0, 2])
    with pytest.raises(ValueError) as err:
        ld.settle_steps(traj)
    assert str(err.value) == "settle_steps needs every frame decoded (num_frames=None)"


def test_tokenize_suggests_at_most_three_words():
    # "lare" is within difflib ratio 0.5 of five known words; the message names the best three
    assert len(difflib.get_close_matches("lare", ld.WORDS, n=10, cutoff=0.5)) == 5
    with pytest.raises(ld.UnknownWordError) as err:
        ld.tokenize("a lare circle")
    assert err.value.suggestions == ["large", "square", "red"]


def test_alpha_bar_follows_the_models_number_of_training_steps():
    # T = 200 (not the default 1000): 200 entries, the literal product of SD's scaled-linear betas
    m = _random_model()
    m200 = ld.LatentDiffusion(m.autoencoder, m.denoiser, m.classifier, latent_scale=1.0, num_train_steps=200)
    assert m200.alpha_bar.shape == (200,)
    betas = [(math.sqrt(0.00085) + (math.sqrt(0.012) - math.sqrt(0.00085)) * t / 199) ** 2 for t in range(200)]
    np.testing.assert_allclose(m200.alpha_bar, np.cumprod([1 - b for b in betas]), rtol=1e-12)
    lin = ld.LatentDiffusion(m.autoencoder, m.denoiser, m.classifier, latent_scale=1.0, schedule="linear")
    assert lin.alpha_bar[0] == pytest.approx(1 - 1e-4, rel=1e-12)  # DDPM's linear schedule starts at 1e-4


def test_prompt_error_messages_in_full():
    with pytest.raises(ld.UnknownWordError) as err:
        ld.tokenize("a lare circle")
    assert str(err.value) == "unknown word 'lare'; closest known words: large, square, red"
    assert isinstance(err.value, ValueError)
    with pytest.raises(ld.PromptTooLongError) as err:
        ld.tokenize("a " * 12)
    assert str(err.value) == "prompt too long: 12 words, at most 11" and isinstance(err.value, ValueError)


def test_text_encoder_default_is_two_layers_of_four_heads_as_the_docstring_says():
    enc = ld.TextEncoder()
    assert len(enc.blocks) == 2 and all(b.heads == 4 for b in enc.blocks)
    assert enc.tok.num_embeddings == len(ld.VOCAB) == 23 and enc.pos.num_embeddings == ld.MAX_TOKENS
    assert enc.ln.normalized_shape == (ld.TEXT_DIM,)


@torch.no_grad()
def test_autoencoder_layers_and_shapes_are_the_docstrings():
    # (3, 32, 32) -> (w, 32, 32) -> (2w, 16, 16) -> (4w, 8, 8) -> (4, 8, 8): f = 4, 4 latent channels,
    # a SiLU after every convolution but the last of each half; default width w = 16 (the shipped one)
    ae = ld.Autoencoder()
    conv, silu, convT = torch.nn.Conv2d, torch.nn.SiLU, torch.nn.ConvTranspose2d
    assert [type(m) for m in ae.encoder] == [conv, silu, conv, silu, conv, silu, conv]
    assert [type(m) for m in ae.decoder] == [conv, silu, conv, silu, convT, silu, convT, silu, conv]
    x = torch.zeros(1, 3, 32, 32)
    shapes = []
    for m in ae.encoder:
        x = m(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes[::2] == [(16, 32, 32), (32, 16, 16), (64, 8, 8), (4, 8, 8)]
    shapes = []
    for m in ae.decoder:
        x = m(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes[::2] == [(64, 8, 8), (64, 8, 8), (32, 16, 16), (16, 32, 32), (3, 32, 32)]


def test_noise_predictor_time_mlp_is_linear_silu_linear_to_twice_the_width():
    u = ld.NoisePredictor(width=16)
    lin, silu = torch.nn.Linear, torch.nn.SiLU
    assert [type(m) for m in u.time_mlp] == [lin, silu, lin]
    assert (u.time_mlp[0].in_features, u.time_mlp[0].out_features, u.time_mlp[2].out_features) == (16, 32, 32)
    assert u.down1.emb.in_features == 32


def test_shipped_weights_fit_the_architecture_exactly():
    # every tensor of the shipped file has a parameter of the same name and shape in the default
    # networks, and nothing is missing (strict load): the architecture is the one trained
    state = torch.load(str(WEIGHTS), map_location="cpu", weights_only=True)
    nets = {"autoencoder": ld.Autoencoder(), "denoiser": ld.Denoiser(width=int(state["width"])),
            "classifier": ld.Classifier()}  # fmt: skip
    for key, net in nets.items():
        mine = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        assert mine == {k: tuple(v.shape) for k, v in state[key].items()}, key


def test_parameter_counts_by_hand():
    # weights + biases layer by layer (conv: C_out C_in k k + C_out; linear: out in + out; norms: 2 C)
    m = _random_model()  # U-Net width 16; the other nets at their defaults
    clf = (16 * 3 * 9 + 16) + (32 * 16 * 9 + 32) + (64 * 32 * 9 + 64) + (64 * 1024 + 64) + (4 + 4 + 2 + 5) * 65
    enc = (16 * 3 * 9 + 16) + (32 * 16 * 16 + 32) + (64 * 32 * 16 + 64) + (4 * 64 * 9 + 4)
    dec = (64 * 4 * 9 + 64) + (64 * 64 * 9 + 64) + (64 * 32 * 16 + 32) + (32 * 16 * 16 + 16) + (3 * 16 * 9 + 3)
    block = 2 * 128 + (64 * 192 + 192) + (64 * 64 + 64) + (64 * 256 + 256) + (256 * 64 + 64)
    text = 23 * 64 + 12 * 64 + 2 * block + 128
    got = m.parameter_counts()
    assert got["classifier"] == clf == 90159
    assert got["autoencoder"] == enc + dec == 124551
    assert got["text_encoder"] == text == 102336
    assert got["unet"] == sum(p.numel() for _, p in m.denoiser.unet.named_parameters())
    assert set(got) == {"text_encoder", "unet", "autoencoder", "classifier"}


@torch.no_grad()
def test_classifier_layers_and_shapes_are_the_docstrings():
    # three conv-SiLU-maxpool stages (16, 16, 16) -> (32, 8, 8) -> (64, 4, 4), flatten, linear-SiLU to 64
    clf = ld.Classifier()
    conv, silu, pool = torch.nn.Conv2d, torch.nn.SiLU, torch.nn.MaxPool2d
    assert [type(m) for m in clf.trunk] == [conv, silu, pool] * 3 + [torch.nn.Flatten, torch.nn.Linear, silu]
    x = torch.zeros(1, 3, 32, 32)
    shapes = []
    for m in clf.trunk:
        x = m(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes[:9] == [(16, 32, 32), (16, 32, 32), (16, 16, 16), (32, 16, 16), (32, 16, 16), (32, 8, 8),
                          (64, 8, 8), (64, 8, 8), (64, 4, 4)]  # fmt: skip
    assert shapes[-1] == (64,)


# ------------------------------------------------------------------ data and I/O written out (issue 21, mutation testing)
# make_scenes rendered pixel by pixel from its docstring's geometry and the shape definitions in its
# comments (same random draws in the same order: r, centre offsets, hue jitter, saturation, value);
# captions from their grammar; attributes from their stated distributions and draw order; save/load
# as a round trip through float16.


def _render_scene(shape: int, r: float, cx: float, cy: float, rgb: np.ndarray) -> np.ndarray:
    """One scene, literally: each pixel is the mean of its 2 x 2 sub-pixel centres' inside tests."""
    sub = (np.arange(64) + 0.5) / 2.0  # sub-pixel centres in image pixels
    dx = (sub[None, :] - cx) / r  # columns: x
    dy = (sub[:, None] - cy) / r  # rows: y
    if shape == 0:  # circle of radius r
        inside = dx**2 + dy**2 <= 1.0
    elif shape == 1:  # square of half-side 0.85 r
        inside = (np.abs(dx) <= 0.85) & (np.abs(dy) <= 0.85)
    elif shape == 2:  # upward triangle: apex (0, -1), base at dy = 0.8 from dx = -1 to 1
        inside = (dy >= -1.0) & (dy <= 0.8) & (np.abs(dx) <= (dy + 1.0) / 1.8)
    else:  # cross: two bars 2 r long, 0.66 r wide
        inside = ((np.abs(dx) <= 1.0) & (np.abs(dy) <= 0.33)) | ((np.abs(dx) <= 0.33) & (np.abs(dy) <= 1.0))
    img = np.empty((32, 32, 3))
    for i in range(32):
        for j in range(32):
            cover = inside[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean()
            img[i, j] = 2.0 * cover * rgb - 1.0
    return img


def test_make_scenes_matches_a_pixel_by_pixel_rendering_of_its_docstring():
    # every shape, colour (red's hue wraps below 0), size and place; 5e-7: float32 output of float64 maths
    a = _attrs(shape=[0, 1, 2, 3, 3, 2, 1, 0, 2, 3], colour=[0, 1, 2, 3, 0, 0, 3, 2, 1, 0],
               size=[0, 1, 0, 1, 1, 0, 1, 0, 1, 0], position=[0, 1, 2, 3, 4, 4, 3, 2, 1, 0])  # fmt: skip
    n, seed = 10, 42
    got = ld.make_scenes(a, seed=seed)
    assert got.shape == (n, 32, 32, 3) and got.dtype == np.float32
    rng = np.random.default_rng(seed)
    small, large = rng.uniform(5.0, 6.5, n), rng.uniform(8.5, 10.0, n)  # both drawn, one used per scene
    offset = rng.uniform(-1.5, 1.5, (n, 2))
    jitter, sat, val = rng.uniform(-0.02, 0.02, n), rng.uniform(0.75, 1.0, n), rng.uniform(0.8, 1.0, n)
    anchors = {0: (9, 16), 1: (23, 16), 2: (16, 9), 3: (16, 23), 4: (16, 16)}  # left right top bottom middle
    hues = {0: 0.0, 1: 1 / 6, 2: 1 / 3, 3: 2 / 3}
    for i in range(n):
        r = small[i] if a["size"][i] == 0 else large[i]
        centre = [min(max(anchors[a["position"][i]][ax] + offset[i, ax], r + 1), 31 - r) for ax in (0, 1)]
        rgb = np.array(colorsys.hsv_to_rgb((hues[a["colour"][i]] + jitter[i]) % 1.0, sat[i], val[i]))
        ref = _render_scene(a["shape"][i], r, centre[0], centre[1], rgb)
        np.testing.assert_allclose(got[i], ref, rtol=0, atol=5e-7, err_msg=str(i))


def test_make_scenes_draws_the_same_scenes_in_chunks_of_512():
    # 515 scenes cross the 512-scene chunk boundary: each is the one-scene-at-a-time rendering above
    rng = np.random.default_rng(9)
    a = ld.random_attributes(515, rng)
    got = ld.make_scenes(a, seed=5)
    assert got.shape == (515, 32, 32, 3)
    draws = np.random.default_rng(5)
    small, large = draws.uniform(5.0, 6.5, 515), draws.uniform(8.5, 10.0, 515)
    offset = draws.uniform(-1.5, 1.5, (515, 2))
    jitter, sat, val = draws.uniform(-0.02, 0.02, 515), draws.uniform(0.75, 1.0, 515), draws.uniform(0.8, 1.0, 515)
    anchors = np.array([(9, 16), (23, 16), (16, 9), (16, 23), (16, 16)], dtype=float)
    for i in (0, 1, 510, 511, 512, 513, 514):
        r = small[i] if a["size"][i] == 0 else large[i]
        cx, cy = np.clip(anchors[a["position"][i]] + offset[i], r + 1, 31 - r)
        rgb = np.array(colorsys.hsv_to_rgb((ld.COLOUR_HUES[a["colour"][i]] + jitter[i]) % 1.0, sat[i], val[i]))
        np.testing.assert_allclose(got[i], _render_scene(a["shape"][i], r, cx, cy, rgb), rtol=0, atol=5e-7)


def test_make_scenes_accepts_lists_and_clamps_a_large_shape_into_the_frame():
    # a large circle at the left anchor x = 9 must move right to x >= r + 1 > 9.5: its leftmost lit
    # column is then column 1 or later, and attributes may be plain lists
    a = {"shape": [0] * 20, "colour": [2] * 20, "size": [1] * 20, "position": [0] * 20}
    x = ld.make_scenes(a, seed=3)
    lit = (x.max(axis=-1) > -1.0).any(axis=1)  # (N, 32) columns with any lit pixel
    first = lit.argmax(axis=1)
    assert np.all(first >= 1) and np.all(lit[:, 0] == 0)
    # float attribute arrays (e.g. read back from a CSV) are cast to indices: the same scenes
    as_float = {k: np.asarray(v, dtype=np.float64) for k, v in a.items()}
    np.testing.assert_array_equal(ld.make_scenes(as_float, seed=3), x)


def test_random_attributes_draw_order_and_distributions():
    # the stream: pair index ~ U{0..len(pairs)-1}, then size ~ U{0, 1}, then position ~ U{0..4}
    n = 4000
    for pairs in (None, [], [(3, 1), (0, 2), (2, 0)]):
        got = ld.random_attributes(n, np.random.default_rng(8), pairs)
        assert set(got) == {"shape", "colour", "size", "position"}
        allowed = pairs or [(c, s) for c in range(4) for s in range(4)]
        rng = np.random.default_rng(8)
        k = rng.integers(0, len(allowed), size=n)
        size, pos = rng.integers(0, 2, size=n), rng.integers(0, 5, size=n)
        np.testing.assert_array_equal(got["colour"], [allowed[j][0] for j in k])
        np.testing.assert_array_equal(got["shape"], [allowed[j][1] for j in k])
        np.testing.assert_array_equal(got["size"], size)
        np.testing.assert_array_equal(got["position"], pos)
        # uniform: every pair, size and place within 5 standard deviations of its expected count
        for key, values, m in (("size", 2, n), ("position", 5, n)):
            counts = np.bincount(got[key], minlength=values)
            assert len(counts) == values and np.all(np.abs(counts - m / values) < 5 * math.sqrt(m / values))
        pair_counts = {p: 0 for p in allowed}
        for c, s in zip(got["colour"], got["shape"], strict=True):
            pair_counts[(int(c), int(s))] += 1
        e = n / len(allowed)
        assert all(abs(v - e) < 5 * math.sqrt(e) for v in pair_counts.values()), pair_counts


def test_training_pairs_in_order_by_hand():
    # colour-major order, the held-out (red, cross), (yellow, circle), (green, square), (blue, triangle) skipped
    assert ld.training_pairs() == [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (1, 3), (2, 0), (2, 2), (2, 3),
                                   (3, 0), (3, 1), (3, 3)]  # fmt: skip


def test_full_captions_follow_the_grammar_for_every_scene():
    # "a <size> <colour> <shape> <place phrase>", the phrases written out here
    phrases = ["on the left", "on the right", "at the top", "at the bottom", "in the middle"]
    sizes, colours, shapes = ["small", "large"], ["red", "yellow", "green", "blue"], ["circle", "square", "triangle", "cross"]
    combos = [(s, c, k, p) for s in range(2) for c in range(4) for k in range(4) for p in range(5)]
    a = {key: np.array([x[j] for x in combos]) for j, key in enumerate(("size", "colour", "shape", "position"))}
    for i, (s, c, k, p) in enumerate(combos):
        assert ld.caption(a, i) == f"a {sizes[s]} {colours[c]} {shapes[k]} {phrases[p]}"


def test_random_captions_keep_each_part_with_its_probability_in_order():
    # one uniform draw per part, in reading order: article (kept if u < 0.8), size (0.6),
    # colour (0.85), shape (0.85, else the word "shape"), place (0.6)
    phrases = ["on the left", "on the right", "at the top", "at the bottom", "in the middle"]
    a = ld.random_attributes(600, np.random.default_rng(4))
    rng, ref = np.random.default_rng(12), np.random.default_rng(12)
    kept = np.zeros(5)
    for i in range(600):
        u = ref.random(5)
        words = ["a"] if u[0] < 0.8 else []
        words += [ld.SIZES[a["size"][i]]] if u[1] < 0.6 else []
        words += [ld.COLOURS[a["colour"][i]]] if u[2] < 0.85 else []
        words += [ld.SHAPES[a["shape"][i]] if u[3] < 0.85 else "shape"]
        words += [phrases[a["position"][i]]] if u[4] < 0.6 else []
        kept += u < [0.8, 0.6, 0.85, 0.85, 0.6]
        assert ld.caption(a, i, rng) == " ".join(words), i
    # the probabilities themselves: within 5 standard deviations of 600 draws
    p = np.array([0.8, 0.6, 0.85, 0.85, 0.6])
    assert np.all(np.abs(kept - 600 * p) < 5 * np.sqrt(600 * p * (1 - p)))


def test_batches_is_an_endless_stream_of_uniform_index_draws():
    gen = ld._batches(7, 5, np.random.default_rng(3))
    ref = np.random.default_rng(3)
    for _ in range(50):  # endless: more batches than any 7-item epoch
        idx = next(gen)
        assert idx.shape == (5,)
        np.testing.assert_array_equal(idx, ref.integers(0, 7, size=5))


class _NotAWeight:
    """An arbitrary class: what a tampered weights file could carry."""


def test_save_then_load_round_trips_through_float16(tmp_path):
    # every weight comes back as its float16 rounding (float32 tensors); the file holds float16;
    # the scale, schedule, number of steps and U-Net width are kept (non-default ones here)
    torch.manual_seed(6)
    den = ld.Denoiser(width=8)
    model = ld.LatentDiffusion(ld.Autoencoder(), den, ld.Classifier(), latent_scale=np.float32(1.25),
                               schedule="linear", num_train_steps=200)  # fmt: skip
    for p in [*model.autoencoder.parameters(), *den.parameters(), *model.classifier.parameters()]:
        torch.nn.init.normal_(p, std=0.3)  # non-trivial values, not representable in float16
    st = model.state()
    assert set(st) == {"autoencoder", "denoiser", "classifier", "latent_scale", "schedule", "num_train_steps",
                       "width"}  # fmt: skip
    assert type(st["latent_scale"]) is float and st["latent_scale"] == 1.25
    assert (st["schedule"], st["num_train_steps"], st["width"]) == ("linear", 200, 8)
    path = tmp_path / "m.pt"
    ld.save(model, str(path))
    raw = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("autoencoder", "denoiser", "classifier"):
        assert all(v.dtype == torch.float16 for v in raw[key].values()), key
    # saving did not round the model in memory
    assert not torch.equal(den.unet.conv_in.weight, den.unet.conv_in.weight.half().float())
    back = ld.load(path)
    assert back.latent_scale == 1.25 and back.schedule == "linear" and back.num_train_steps == 200
    assert back.denoiser.unet.width == 8 and back.alpha_bar.shape == (200,)
    for mine, theirs in ((model.autoencoder, back.autoencoder), (den, back.denoiser), (model.classifier, back.classifier)):
        a, b = mine.state_dict(), theirs.state_dict()
        assert set(a) == set(b)
        for k in a:
            assert b[k].dtype == torch.float32
            assert torch.equal(b[k], a[k].half().float()), k
        assert not theirs.training  # loaded for inference
    # only tensors and plain values are unpickled: a file carrying any other object is refused
    # (torch's weights-only unpickler), never executed
    raw["schedule"] = _NotAWeight()
    torch.save(raw, str(tmp_path / "evil.pt"))
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        ld.load(tmp_path / "evil.pt")
    # a str path too, and the state of the loaded model is the one saved
    again = ld.load(str(path))
    assert again.state()["width"] == 8 and again.state()["latent_scale"] == 1.25
