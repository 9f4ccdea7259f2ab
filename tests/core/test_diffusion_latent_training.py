"""core.latent_diffusion's three training loops against literal ones, on tiny seeded configurations.

`tests/core/test_diffusion_latent.py` checks the networks, the data, the captions and the
schedule each against its own reference, and that a short run of the training script lowers
the loss. What those cannot see is the wiring of the loops: which stream draws what and in
which order, which optimiser and learning-rate schedule with which settings, what the loss is
made of, what is recorded, when the EMA moves and when a checkpoint is taken. Here each loop
is written out once more from its docstring (and the script's description of the stages), from
torch's own optimisers and schedulers and the separately checked pieces (networks, captions,
tokens, the noise schedule), with the forward process written out as
z_t = sqrt(alpha_bar_t) z_0 + sqrt(1 - alpha_bar_t) eps (Ho et al. eq. 4).

Both loops draw the same random numbers in the same order (numpy stream `seed` for batch
indices, time steps, noise, condition dropout and captions; torch's global stream, seeded
with `seed`, for the initial weights and the autoencoder's latent noise), so every recorded
loss, every weight and every checkpoint must agree to 1e-6 relative (float32 training; the
same operations in the same order, so in practice to the bit). Each case runs in well under
a second.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core import diffusion as dm
from core import latent_diffusion as ld

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/core/conftest.py

RTOL, ATOL = 1e-6, 1e-7


def _images(n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    a = ld.random_attributes(n, np.random.default_rng(seed))
    return ld.make_scenes(a, seed=seed), a


def _assert_same_weights(got: torch.nn.Module, ref: torch.nn.Module) -> None:
    a, b = got.state_dict(), ref.state_dict()
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_allclose(a[k].numpy(), b[k].numpy(), rtol=RTOL, atol=ATOL, err_msg=k)


def _one_cycle_lr(i: int, total: int, max_lr: float, pct: float = 0.1) -> float:
    """OneCycleLR's learning rate at step i (torch defaults: cosine, from max_lr/25 up to max_lr
    over the first pct of the steps, then down to max_lr/25/1e4 at the last step)."""
    up = pct * total - 1
    lo, hi, end = max_lr / 25, max_lr, max_lr / 25 / 1e4
    if i <= up:
        f = i / up
        return hi + (lo - hi) / 2 * (math.cos(math.pi * f) + 1)
    f = (i - up) / (total - 1 - up)
    return end + (hi - end) / 2 * (math.cos(math.pi * f) + 1)


# ------------------------------------------------------------------ autoencoder


def literal_train_autoencoder(images, num_iters, seed, batch_size, lr):
    """Pixel MSE with latent noise 0.05 and an L2 term 1e-3 mean(z^2); AdamW (torch's defaults but
    the learning rate), one-cycle schedule peaking at lr after 10% of the steps."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = ld.Autoencoder()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=num_iters, pct_start=0.1)
    x_all = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float()
    losses, lrs = [], []
    for _ in range(num_iters):
        idx = rng.integers(0, len(images), size=batch_size)
        x = x_all[idx]
        z = model.encoder(x)
        noise = torch.randn(z.shape)
        rec = ((model.decoder(z + 0.05 * noise) - x) ** 2).mean()
        loss = rec + 1e-3 * (z**2).mean()
        lrs.append(opt.param_groups[0]["lr"])
        for p in model.parameters():
            p.grad = None
        loss.backward()
        opt.step()
        sched.step()
        losses.append(rec.item())
    return model, np.array(losses), lrs


@pytest.mark.parametrize("num_iters, seed, batch_size, lr", [(12, 3, 3, 4e-3), (11, 8, 2, 1e-2)])
def test_train_autoencoder_is_the_loop_written_out(num_iters, seed, batch_size, lr):
    images, _ = _images(7, seed)
    logged = []
    model, losses = ld.train_autoencoder(images, num_iters, seed, batch_size=batch_size, lr=lr,
                                         log=lambda i, v: logged.append((i, v)))  # fmt: skip
    ref, ref_losses, lrs = literal_train_autoencoder(images, num_iters, seed, batch_size, lr)
    # the schedule the reference ran is the one-cycle curve written out (warm-up, then the cosine down)
    np.testing.assert_allclose(lrs, [_one_cycle_lr(i, num_iters, lr) for i in range(num_iters)], rtol=1e-9)
    assert losses.shape == (num_iters,) and losses.dtype == np.float64
    np.testing.assert_allclose(losses, ref_losses, rtol=RTOL, atol=ATOL)
    assert [i for i, _ in logged] == list(range(num_iters)) and [v for _, v in logged] == losses.tolist()
    _assert_same_weights(model, ref)
    assert isinstance(model, ld.Autoencoder) and not model.training


def test_train_autoencoder_defaults_are_lr_2e_3_and_batch_64():
    # the default learning rate: 2 steps of 2 images (the second step's loss follows the first update);
    # the default batch: one step draws 64 indices (65 draws would pick other images)
    images, _ = _images(5, 1)
    model, losses = ld.train_autoencoder(images, 2, 2, batch_size=2)
    ref, ref_losses, _ = literal_train_autoencoder(images, 2, 2, 2, 2e-3)
    np.testing.assert_allclose(losses, ref_losses, rtol=RTOL, atol=ATOL)
    _assert_same_weights(model, ref)
    _, losses = ld.train_autoencoder(images, 1, 3)
    _, ref_losses, _ = literal_train_autoencoder(images, 1, 3, 64, 1.0)
    np.testing.assert_allclose(losses, ref_losses, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ classifier


def literal_train_classifier(images, attrs, num_iters, seed, batch_size, lr):
    """Sum over the four heads of the cross-entropy; AdamW (torch's defaults but the learning rate)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = ld.Classifier()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    x_all = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float()
    losses = []
    for _ in range(num_iters):
        idx = rng.integers(0, len(images), size=batch_size)
        out = model(x_all[idx])
        loss = torch.zeros(())
        for k in ("shape", "colour", "size", "position"):
            logp = torch.log_softmax(out[k], dim=1)
            y = [int(v) for v in np.asarray(attrs[k])[idx]]
            loss = loss - sum(logp[b, y[b]] for b in range(batch_size)) / batch_size
        for p in model.parameters():
            p.grad = None
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, np.array(losses)


def test_train_classifier_is_the_loop_written_out():
    # int32 labels and an extra non-attribute entry (a caption list): the labels are cast, extra keys ignored
    images, a = _images(9, 4)
    attrs = {k: v.astype(np.int32) for k, v in a.items()}
    attrs["caption"] = [ld.caption(a, i) for i in range(9)]
    model, losses = ld.train_classifier(images, attrs, 6, seed=5, batch_size=4, lr=5e-3)
    ref, ref_losses = literal_train_classifier(images, a, 6, 5, 4, 5e-3)
    assert losses.shape == (6,) and losses.dtype == np.float64
    # the cross-entropy by log-softmax and a sum over the batch differs from torch's fused one by rounding
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5, atol=1e-6)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v.numpy(), ref.state_dict()[k].numpy(), rtol=1e-4, atol=1e-5, err_msg=k)
    assert isinstance(model, ld.Classifier) and not model.training


def test_train_classifier_defaults_are_lr_2e_3_and_batch_64():
    images, a = _images(6, 2)
    model, losses = ld.train_classifier(images, a, 2, seed=1)  # the second step follows the first update
    ref, ref_losses = literal_train_classifier(images, a, 2, 1, 64, 2e-3)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5, atol=1e-6)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v.numpy(), ref.state_dict()[k].numpy(), rtol=1e-4, atol=1e-5, err_msg=k)


# ------------------------------------------------------------------ denoiser


def literal_train_denoiser(latents, attrs, num_iters, seed, batch_size, lr, width, p_uncond, ema_decay, schedule,
                           num_train_steps, warmup, checkpoint_every):  # fmt: skip
    """Ho et al. Algorithm 1 with condition dropout, gradient clipping at norm 1, Adam without weight
    decay, a linear warm-up to lr over `warmup` steps, and an EMA with decay min(ema_decay, (1+i)/(10+i))."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    alpha_bar = dm.alphas_cumprod(dm.beta_schedule(schedule, num_train_steps))
    model = ld.Denoiser(width=width)
    ema = ld.Denoiser(width=width)  # its own initial draws are overwritten next
    ema.load_state_dict(model.state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    losses, lrs, norms, decays, checkpoints = [], [], [], [], []
    for i in range(num_iters):
        idx = rng.integers(0, len(latents), size=batch_size)
        z0 = latents[idx]
        t = rng.integers(0, num_train_steps, size=batch_size)
        eps = rng.standard_normal(z0.shape)
        a = alpha_bar[t][:, None, None, None]
        z_t = np.sqrt(a) * z0 + np.sqrt(1.0 - a) * eps
        prompts = []
        for j in idx:
            prompts.append("" if rng.random() < p_uncond else ld.caption(attrs, j, rng))
        ids, mask = ld.encode_tokens(prompts)
        pred = model(torch.from_numpy(z_t).float(), torch.from_numpy(t), ids, mask)
        loss = ((pred - torch.from_numpy(eps).float()) ** 2).mean()
        rate = lr * min(1.0, (i + 1) / max(warmup, 1))
        for g in opt.param_groups:
            g["lr"] = rate
        lrs.append(rate)
        for p in model.parameters():
            p.grad = None
        loss.backward()
        # clip to global norm 1: g <- g min(1, 1 / (||g|| + 1e-6)), ||g|| = the norm of the per-tensor
        # norms (torch's order of summation: a sum of squares in another order moves the last bit,
        # and Adam's division by sqrt(v) magnifies that in the few weights whose gradient is ~0)
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters()]))
        norms.append(float(norm))
        coef = torch.clamp(1.0 / (norm + 1e-6), max=1.0)
        for p in model.parameters():
            p.grad.mul_(coef)
        opt.step()
        d = min(ema_decay, (1 + i) / (10 + i))
        decays.append(d)
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), model.parameters(), strict=True):
                pe.copy_(d * pe + (1 - d) * p)
        losses.append(loss.item())
        if (i + 1) % checkpoint_every == 0:
            checkpoints.append((i + 1, {k: v.clone() for k, v in ema.state_dict().items()}))
    return ema, np.array(losses), checkpoints, dict(lrs=lrs, norms=norms, decays=decays)


def _latents(n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    a = ld.random_attributes(n, np.random.default_rng(seed))
    return np.random.default_rng(seed + 1).standard_normal((n, 4, 8, 8)), a


DENOISER_CASES = [
    # warm-up over 3 of 6 steps, an EMA decay below the warm-up's so both sides of min() occur,
    # half the prompts empty, DDPM's linear schedule over 50 steps, checkpoints every 2 iterations
    dict(num_iters=6, seed=3, batch_size=3, lr=3e-2, width=16, p_uncond=0.5, ema_decay=0.15, schedule="linear",
         num_train_steps=50, warmup=3, checkpoint_every=2),
    # no warm-up (warmup 0 counts as 1), every prompt a caption, checkpoints every 4
    dict(num_iters=5, seed=11, batch_size=2, lr=5e-2, width=16, p_uncond=0.0, ema_decay=0.9, schedule="scaled_linear",
         num_train_steps=1000, warmup=0, checkpoint_every=4),
]  # fmt: skip


@pytest.mark.parametrize("cfg", DENOISER_CASES)
def test_train_denoiser_is_algorithm_1_written_out(cfg):
    latents, a = _latents(7, cfg["seed"])
    logged, saved = [], []
    ema, losses = ld.train_denoiser(latents, a, log=lambda i, v: logged.append((i, v)),
                                    checkpoint=lambda i, m: saved.append((i, {k: v.clone() for k, v in
                                                                              m.state_dict().items()})),
                                    **cfg)  # fmt: skip
    ref, ref_losses, ref_saved, trace = literal_train_denoiser(latents, a, **cfg)
    # the reference took the branches the case is meant to exercise: gradient norms below 1 (not
    # clipped), between 1 and 2, and above 2
    norms = np.array(trace["norms"])
    assert norms.min() < 1.0 and np.any((norms > 1.0) & (norms < 2.0)) and norms.max() > 2.0
    assert len(set(trace["lrs"])) > 1 or cfg["warmup"] == 0
    assert losses.shape == (cfg["num_iters"],) and losses.dtype == np.float64
    np.testing.assert_allclose(losses, ref_losses, rtol=RTOL, atol=ATOL)
    assert [i for i, _ in logged] == list(range(cfg["num_iters"])) and [v for _, v in logged] == losses.tolist()
    assert [i for i, _ in saved] == [i for i, _ in ref_saved] != []
    for (_, got), (_, want) in zip(saved, ref_saved, strict=True):
        for k in want:
            np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=RTOL, atol=ATOL, err_msg=k)
    _assert_same_weights(ema, ref)
    assert isinstance(ema, ld.Denoiser) and ema.unet.width == cfg["width"] and not ema.training


def test_train_denoiser_defaults_are_the_documented_ones():
    # lr 2e-3, 10% empty prompts, SD's schedule over 1000 steps, 200 warm-up steps: the script relies
    # on these (it passes only the sizes); then the default batch of 64, and the default width 48
    latents, a = _latents(5, 2)
    ema, losses = ld.train_denoiser(latents, a, 2, seed=4, batch_size=2, width=8)
    ref, ref_losses, _, _ = literal_train_denoiser(latents, a, 2, 4, 2, 2e-3, 8, 0.1, 0.999, "scaled_linear", 1000, 200,
                                                   1000)  # fmt: skip
    np.testing.assert_allclose(losses, ref_losses, rtol=RTOL, atol=ATOL)
    _assert_same_weights(ema, ref)
    _, losses = ld.train_denoiser(latents, a, 1, seed=5, width=8)
    _, ref_losses, _, _ = literal_train_denoiser(latents, a, 1, 5, 64, 2e-3, 8, 0.1, 0.999, "scaled_linear", 1000, 200,
                                                 1000)  # fmt: skip
    np.testing.assert_allclose(losses, ref_losses, rtol=RTOL, atol=ATOL)
    ema, _ = ld.train_denoiser(latents, a, 1, seed=5, batch_size=1)
    assert ema.unet.width == 48 and ema.unet.conv_in.out_channels == 48
