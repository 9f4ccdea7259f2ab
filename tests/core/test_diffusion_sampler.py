"""The fast sampler in core.latent_diffusion against the plain one it replaced.

``sample`` evaluates eps_theta through ``_GuidedEps`` (embeddings precomputed per step, the
label-free start of the U-Net shared by the conditional and unconditional halves,
channels-last weights, functional calls). The reference here is the sampler as it was
before that change, written out: every step calls ``model.eps_model`` (the nn.Module) on the
concatenated [z; z] batch with [c; null] labels. Same seeds, same noise draws, so the two
differ only by float32 rounding in the network.

Tolerances (shipped model, float32 network, float64 step maths):
* final images and latents: max abs difference < 1e-4 (measured ~2e-6 at 1000 steps);
* x0-prediction images: < 1e-3. At t = T the prediction x0 = (z - sqrt(1 - a) eps) / sqrt(a)
  multiplies an eps rounding difference by sqrt((1 - a) / a) ~ 14.5 (a = alpha_bar_T =
  0.0047 for scaled_linear), so ~1e-5 in eps becomes ~1.5e-4 in x0 (measured).
* one network evaluation: eps within 2e-5 of the module's output (measured ~4e-6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core import diffusion as dm
from core import latent_diffusion as ld

torch.set_num_threads(1)  # as the page does

WEIGHTS = Path(__file__).resolve().parents[2] / "assets" / "diffusion_model.pt"
FINAL_TOL = 1e-4
X0_TOL = 1e-3
EPS_TOL = 2e-5


@pytest.fixture(scope="module")
def shipped() -> ld.LatentDiffusion:
    if not WEIGHTS.exists():
        pytest.fail(f"missing {WEIGHTS}: run scripts/train_latent_diffusion.py")
    return ld.load(str(WEIGHTS))


@torch.no_grad()
def reference_sample(model, class_id, num_steps, sampler, eta, guidance_scale, seed, num_samples, num_frames):
    """The sampler before the speed-up, step by step: module call on [z; z] with [c; null]."""
    rng = np.random.default_rng(seed)
    ts = dm.inference_timesteps(model.num_train_steps, num_steps, spacing="trailing")
    S = len(ts)
    c = np.broadcast_to(np.asarray(class_id, dtype=np.int64), (num_samples,))
    null = np.full(num_samples, model.eps_model.num_classes, dtype=np.int64)
    shape = (num_samples, ld.LATENT_CHANNELS, ld.LATENT_SIZE, ld.LATENT_SIZE)
    z = rng.standard_normal(shape)
    latents, x0s = [z], []
    need_cond, need_uncond = guidance_scale != 0.0, guidance_scale != 1.0
    for i, t in enumerate(ts):
        a_t = model.alpha_bar[t]
        a_prev = model.alpha_bar[ts[i + 1]] if i + 1 < S else 1.0
        zs = [z] * need_cond + [z] * need_uncond
        cs = [c] * need_cond + [null] * need_uncond
        z_in = torch.from_numpy(np.concatenate(zs)).float()
        t_in = torch.full((len(z_in),), int(t), dtype=torch.int64)
        out = model.eps_model(z_in, t_in, torch.from_numpy(np.concatenate(cs))).double().numpy()
        if need_cond and need_uncond:
            eps = dm.guided_eps(out[num_samples:], out[:num_samples], guidance_scale)
        else:
            eps = out
        noise = rng.standard_normal(shape)
        if sampler == "ddpm":
            step = dm.ddpm_step(z, eps, a_t, a_prev, noise)
        else:
            step = dm.ddim_step(z, eps, a_t, a_prev, eta=eta, noise=noise)
        z = step.x_prev
        latents.append(z)
        x0s.append(step.x0)
    latents, x0s = np.stack(latents), np.stack(x0s)
    frames = np.unique(np.round(np.linspace(0, S, num_frames)).astype(np.int64))
    x0_images = model.decode(np.concatenate([x0s, latents[-1:]])[frames])
    return latents, x0_images, model.decode(latents[-1])


def _compare(model, **kw):
    fast = ld.sample(model, **kw)
    latents, x0_images, final = reference_sample(model, **kw)
    assert np.abs(fast.latents - latents).max() < FINAL_TOL
    assert np.abs(fast.final - final).max() < FINAL_TOL
    assert np.abs(fast.x0_images - x0_images).max() < X0_TOL


def test_page_default_ddpm_matches_plain_sampler(shipped):
    # the page's default DDPM run: 250 steps, guidance 3, 8 samples, 8 frames
    _compare(shipped, class_id=0, num_steps=250, sampler="ddpm", eta=1.0, guidance_scale=3.0, seed=0,
             num_samples=8, num_frames=8)  # fmt: skip


@pytest.mark.parametrize(
    ("sampler", "eta", "w"),
    [("ddpm", 1.0, 0.0), ("ddpm", 1.0, 1.0), ("ddim", 0.0, 7.5), ("ddim", 1.0, 3.0)],
)
def test_unguided_halves_and_ddim_match_plain_sampler(shipped, sampler, eta, w):
    # w = 0 and w = 1 evaluate one half only (batch 8, nothing shared); DDIM with and without noise
    _compare(shipped, class_id=2, num_steps=20, sampler=sampler, eta=eta, guidance_scale=w, seed=3,
             num_samples=8, num_frames=4)  # fmt: skip


def test_per_sample_labels_match_plain_sampler(shipped):
    # the quality sweep asks for one label per sample
    labels = np.array([0, 1, 2, 3, 3, 2])
    _compare(shipped, class_id=labels, num_steps=10, sampler="ddim", eta=0.0, guidance_scale=5.0, seed=1,
             num_samples=len(labels), num_frames=3)  # fmt: skip


@torch.no_grad()
def test_one_evaluation_matches_the_module(shipped):
    net = shipped.eps_model
    ts = np.array([999, 600, 3])
    c = np.array([1, 1, 3, 0])
    rows = np.concatenate([c, np.full(4, net.num_classes)])
    fast = ld._GuidedEps(net, ts, rows, shared=True)
    shape = (4, ld.LATENT_CHANNELS, ld.LATENT_SIZE, ld.LATENT_SIZE)
    z = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    for i, t in enumerate(ts):
        want = net(torch.cat([z, z]), torch.full((8,), int(t)), torch.from_numpy(rows))
        got = fast(i, z.contiguous(memory_format=torch.channels_last))
        assert got.shape == want.shape
        assert (got - want).abs().max().item() < EPS_TOL
    # unshared: one half only, rows = the labels themselves
    solo = ld._GuidedEps(net, ts, c, shared=False)
    want = net(z, torch.full((4,), int(ts[1])), torch.from_numpy(c))
    assert (solo(1, z.contiguous(memory_format=torch.channels_last)) - want).abs().max().item() < EPS_TOL
