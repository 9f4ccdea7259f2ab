"""Tests of core.latent_diffusion: data, sampler wiring, scoring helpers, the shipped model
and the training script.

Independent references: literal loops for the nearest-neighbour distance, the closed-form
MAC count of a convolution, the guided DDIM update written out inline for the sampler.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core import latent_diffusion as ld

# tiny nets: one thread avoids OpenMP spin-waiting on a busy 2-core machine (10x faster here)
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "assets" / "diffusion_model.pt"

# Bounds the shipped model must meet (documented on the page):
RECON_RMSE_BOUND = 0.25  # autoencoder reconstruction RMSE on fresh images, pixel range [-1, 1] (shipped: ~0.20)
GUIDED_ACCURACY = 0.80  # classifier accuracy, guidance 3, 50 DDIM steps


@pytest.fixture(scope="module")
def shipped() -> ld.LatentDiffusion:
    if not WEIGHTS.exists():
        pytest.fail(f"missing {WEIGHTS}: run scripts/train_latent_diffusion.py")
    return ld.load(str(WEIGHTS))


# ------------------------------------------------------------------ data


def test_shapes_data_set_properties():
    x, y = ld.make_shapes(200, seed=0)
    assert x.shape == (200, 32, 32, 3) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert set(np.unique(y)) == set(range(len(ld.CLASSES)))
    # shapes stay inside the frame: the one-pixel border is background (-1)
    border = np.concatenate([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], axis=1)
    assert np.all(border == -1.0)
    # same seed, same images; requested labels are honoured
    x2, _ = ld.make_shapes(200, seed=0)
    np.testing.assert_array_equal(x, x2)
    _, y3 = ld.make_shapes(5, seed=1, labels=np.array([3, 3, 0, 1, 2]))
    assert y3.tolist() == [3, 3, 0, 1, 2]


def test_shape_areas_follow_geometry():
    # Anti-aliased area in pixels = sum of brightness / the shape's own brightness (HSV value).
    # Analytic areas in units of the half-size r: circle pi, square (2 * 0.85)^2, triangle
    # 0.5 * base 2 * height 1.8, cross 2 * (2 * 0.66) - 0.66^2; r ~ U(5, 11) so
    # E[r^2] = (11^3 - 5^3) / (3 * 6) = 67. Tolerance 5% (pixel-centre sampling of the edges).
    x, y = ld.make_shapes(2000, seed=2)
    v = (x.max(axis=3) + 1) / 2  # (N, 32, 32) HSV value channel = coverage * brightness
    area = v.sum(axis=(1, 2)) / v.max(axis=(1, 2))
    analytic = np.array([math.pi, 1.7**2, 0.5 * 2 * 1.8, 2 * 2 * 0.66 - 0.66**2]) * 67.0
    measured = np.array([area[y == k].mean() for k in range(len(ld.CLASSES))])
    np.testing.assert_allclose(measured, analytic, rtol=0.05)


# ------------------------------------------------------------------ helpers


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


# ------------------------------------------------------------------ sampler wiring (untrained nets)


def _random_model(seed: int = 0) -> ld.LatentDiffusion:
    torch.manual_seed(seed)
    eps_model = ld.NoisePredictor()
    torch.nn.init.normal_(eps_model.conv_out.weight, std=0.05)  # non-zero output
    return ld.LatentDiffusion(ld.Autoencoder(), eps_model, ld.Classifier(), latent_scale=1.3)


def test_sampler_first_step_is_guided_ddim_written_out():
    model, w, seed, n = _random_model(), 2.5, 7, 3
    traj = ld.sample(model, 1, num_steps=4, sampler="ddim", eta=0.0, guidance_scale=w, seed=seed, num_samples=n)
    ts = traj.timesteps
    z = np.random.default_rng(seed).standard_normal((n, 4, 8, 8))
    np.testing.assert_array_equal(traj.latents[0], z)
    with torch.no_grad():
        zt = torch.from_numpy(z).float()
        t = torch.full((n,), int(ts[0]))
        e_c = model.eps_model(zt, t, torch.full((n,), 1)).double().numpy()
        e_u = model.eps_model(zt, t, torch.full((n,), len(ld.CLASSES))).double().numpy()
    e = e_u + w * (e_c - e_u)
    a_t, a_p = model.alpha_bar[ts[0]], model.alpha_bar[ts[1]]
    x0 = (z - math.sqrt(1 - a_t) * e) / math.sqrt(a_t)
    expected = math.sqrt(a_p) * x0 + math.sqrt(1 - a_p) * e
    np.testing.assert_allclose(traj.latents[1], expected, rtol=1e-4, atol=1e-5)


def test_sampler_shapes_seed_and_progress():
    model = _random_model()
    calls = []
    traj = ld.sample(model, 0, 5, sampler="ddpm", seed=3, num_samples=2, num_frames=3,
                     progress=lambda i, s: calls.append((i, s)))  # fmt: skip
    assert traj.latents.shape == (6, 2, 4, 8, 8)
    assert traj.x0_latents.shape == (5, 2, 4, 8, 8)
    assert traj.frame_index.tolist() == [0, 2, 5] or traj.frame_index.tolist() == [0, 3, 5]
    assert traj.images.shape == (3, 2, 32, 32, 3) and traj.final.shape == (2, 32, 32, 3)
    assert calls[-1] == (5, 5) and len(calls) == 5
    again = ld.sample(model, 0, 5, sampler="ddpm", seed=3, num_samples=2, num_frames=3)
    np.testing.assert_array_equal(traj.latents, again.latents)
    # the final images are always the decoded z_0, however few frames are decoded
    one_frame = ld.sample(model, 0, 5, sampler="ddpm", seed=3, num_samples=2, num_frames=1)
    np.testing.assert_allclose(one_frame.final, model.decode(traj.latents[-1]), atol=1e-6)
    other = ld.sample(model, 0, 5, sampler="ddpm", seed=4, num_samples=2, num_frames=3)
    assert not np.allclose(traj.latents[-1], other.latents[-1])


def test_ddim_eta0_trajectory_ignores_step_noise():
    # eta = 0: only z_T depends on the seed's stream; two runs agree even though the sampler
    # draws (unused) step noise
    model = _random_model()
    a = ld.sample(model, 2, 6, sampler="ddim", eta=0.0, seed=11, num_samples=2, num_frames=2)
    b = ld.sample(model, 2, 6, sampler="ddim", eta=0.0, seed=11, num_samples=2, num_frames=2)
    np.testing.assert_array_equal(a.latents, b.latents)
    c = ld.sample(model, 2, 6, sampler="ddim", eta=1.0, seed=11, num_samples=2, num_frames=2)
    np.testing.assert_array_equal(a.latents[0], c.latents[0])
    assert not np.allclose(a.latents[-1], c.latents[-1])


# ------------------------------------------------------------------ the shipped model


def test_shipped_autoencoder_reconstructs(shipped):
    x, _ = ld.make_shapes(128, seed=1234)
    rmse = math.sqrt(((shipped.decode(shipped.encode(x)) - x) ** 2).mean())
    assert rmse < RECON_RMSE_BOUND


def test_shipped_latents_have_unit_scale(shipped):
    # the latent scale factor makes encoded data ~unit variance (SD's 0.18215 plays this role)
    x, _ = ld.make_shapes(256, seed=99)
    assert 0.8 < shipped.encode(x).std() < 1.25


def test_shipped_guided_samples_are_recognised_and_one_step_is_worse(shipped):
    labels = np.repeat(np.arange(len(ld.CLASSES)), 12)
    ref, _ = ld.make_shapes(600, seed=4321)
    good = ld.sample(shipped, labels, 50, "ddim", guidance_scale=3.0, seed=5, num_samples=len(labels), num_frames=2)
    one = ld.sample(shipped, labels, 1, "ddim", guidance_scale=3.0, seed=5, num_samples=len(labels), num_frames=2)
    s_good = ld.score(shipped, good.final, labels, ref)
    s_one = ld.score(shipped, one.final, labels, ref)
    assert s_good["accuracy"] >= GUIDED_ACCURACY
    # one step only reaches a blurry average guess: the class is often lost and the samples'
    # feature statistics are far from the data's
    assert s_one["accuracy"] <= s_good["accuracy"] - 0.25
    assert s_one["distance"] > 2.0 * s_good["distance"]


# ------------------------------------------------------------------ training script


def test_short_retraining_lowers_the_loss(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_ld", ROOT / "scripts" / "train_latent_diffusion.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--quick", "--out", str(tmp_path)])
    for key in ("ae_loss", "eps_loss"):
        loss = out[key]
        assert loss[-5:].mean() < loss[:5].mean(), key
    model = ld.load(str(tmp_path / "diffusion_model.pt"))
    assert model.decode(np.zeros((1, 4, 8, 8))).shape == (1, 32, 32, 3)
    assert (tmp_path / "diffusion_quality.csv").exists()


# ------------------------------------------------------------------ what the "Try this" sentences measure


def test_foreground_saturation_matches_colorsys():
    import colorsys

    rng = np.random.default_rng(0)
    hues, sats = rng.uniform(0, 1, 5), rng.uniform(0.2, 1, 5)
    img01 = np.zeros((5, 32, 32, 3))
    for i, (h, s) in enumerate(zip(hues, sats, strict=True)):
        img01[i, 4:20, 6:18] = colorsys.hsv_to_rgb(h, s, 0.9)
        img01[i, 25:28, 25:28] = 0.2  # dark pixels: below the foreground threshold, ignored
    got = ld.foreground_saturation(2 * img01 - 1)
    np.testing.assert_allclose(got, sats, atol=1e-9)
    assert ld.foreground_saturation(-np.ones((1, 32, 32, 3)))[0] == 0.0


def test_settle_steps_matches_a_literal_loop():
    model = _random_model()
    traj = ld.sample(model, 1, 12, "ddim", 1.0, 3.0, seed=4, num_samples=3, num_frames=None)
    got = ld.settle_steps(traj, tol=0.02)
    for n in range(3):
        last_far = -1
        for k in range(13):
            if math.sqrt(((traj.x0_images[k, n] - traj.final[n]) ** 2).mean()) > 0.02:
                last_far = k
        assert got[n] == last_far + 1
    with pytest.raises(ValueError):
        ld.settle_steps(ld.sample(model, 1, 12, seed=4, num_samples=1, num_frames=3))
