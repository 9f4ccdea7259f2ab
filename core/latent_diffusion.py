"""A small, real latent diffusion model that trains on a laptop CPU.

The pieces mirror Stable Diffusion at toy scale:

* data: 32x32 RGB images of four shape classes (circle, square, triangle, cross) with
  random position, size and colour, drawn procedurally (nothing downloaded);
* an autoencoder with downsampling factor f = 4 and 4 latent channels, so an image
  of 3 x 32 x 32 = 3072 numbers becomes a latent of 4 x 8 x 8 = 256 (SD v1: f = 8,
  4 channels, 3 x 512 x 512 -> 4 x 64 x 64); latents are multiplied by a scale factor
  so they have unit variance, as SD does with 0.18215;
* a class-conditional noise predictor eps_theta(z_t, t, c), a small U-Net, trained
  with condition dropout (the class is replaced by a "null" label 15% of the time)
  so the same network also predicts the unconditional noise -> classifier-free guidance;
* a small CNN classifier trained on the real images, used to score samples: accuracy on
  the requested class, and a Frechet distance in its feature space (FID-style);
* a seeded sampler (DDPM or DDIM with eta, with guidance) that returns the whole
  trajectory. The reverse-step maths is ``core.diffusion`` (numpy); torch only runs
  the networks, arranged for speed per run (``_GuidedEps``: same results to float rounding);
* ``StoredRun`` / ``save_runs`` / ``load_runs``: the part of a run a page shows, as float16
  latents, for runs too slow to sample live (scripts/precompute_diffusion_runs.py).

References:
    Rombach et al. (2022) "High-Resolution Image Synthesis with Latent Diffusion Models",
        arXiv:2112.10752: sec. 3 (perceptual compression, f and latent channels),
        sec. 3.3 conditioning, eq. (2) the latent training objective; SD v1 uses the
        scaled_linear schedule and latent scale 0.18215.
    Ho, Jain, Abbeel (2020) arXiv:2006.11239: Algorithm 1 (training), Algorithm 2 (sampling),
        eq. (14) the simple eps loss.
    Song, Meng, Ermon (2021) arXiv:2010.02502: eq. (12) DDIM.
    Ho, Salimans (2021) arXiv:2207.12598: sec. 3.2 joint training with condition dropout
        (p_uncond), Algorithm 2 guided sampling.
    Heusel et al. (2017) "GANs Trained by a Two Time-Scale Update Rule ...", arXiv:1706.08500:
        eq. (6) the Frechet distance of FID.
    Ronneberger et al. (2015) "U-Net", arXiv:1505.04597; Vaswani et al. (2017) sec. 3.5
        sinusoidal position (here: time-step) embedding.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import diffusion as dm

CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "cross")
IMAGE_SIZE = 32
DOWNSAMPLE = 4  # f: 32 x 32 pixels -> 8 x 8 latent positions
LATENT_CHANNELS = 4
LATENT_SIZE = IMAGE_SIZE // DOWNSAMPLE
NUM_TRAIN_STEPS = 1000
SCHEDULE = "scaled_linear"  # Stable Diffusion's
P_UNCOND = 0.15  # condition dropout probability during training


# ---------------------------------------------------------------------------- data


def make_shapes(num_images: int, seed: int, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``num_images`` 32x32 RGB shape images in [-1, 1].

    Returns images (N, 32, 32, 3) float32 and labels (N,) int64. Shapes are drawn at 2x
    resolution and averaged down 2x2, so edges are anti-aliased.
    """
    rng = np.random.default_rng(seed)
    n = num_images
    if labels is None:
        labels = rng.integers(0, len(CLASSES), size=n)
    labels = np.asarray(labels, dtype=np.int64)
    S = 2 * IMAGE_SIZE  # supersampled canvas
    r = rng.uniform(5.0, 11.0, size=n) * 2  # half-size in supersampled pixels
    cx = rng.uniform(r + 2, S - r - 2)
    cy = rng.uniform(r + 2, S - r - 2)
    hue = rng.uniform(0, 1, size=n)
    sat = rng.uniform(0.55, 1.0, size=n)
    val = rng.uniform(0.75, 1.0, size=n)
    rgb = np.array([colorsys.hsv_to_rgb(h, s, v) for h, s, v in zip(hue, sat, val, strict=True)])  # (N, 3)

    grid = np.arange(S) + 0.5
    # (N, S, S) offsets from each shape's centre, normalised by its half-size
    dx = (grid[None, None, :] - cx[:, None, None]) / r[:, None, None]
    dy = (grid[None, :, None] - cy[:, None, None]) / r[:, None, None]
    circle = dx**2 + dy**2 <= 1.0
    square = np.maximum(np.abs(dx), np.abs(dy)) <= 0.85
    # upward triangle: apex at dy = -1, base at dy = 0.8, half-width 1 at the base
    triangle = (dy >= -1.0) & (dy <= 0.8) & (np.abs(dx) <= (dy + 1.0) / 1.8)
    arm = 0.33
    cross = ((np.abs(dx) <= 1.0) & (np.abs(dy) <= arm)) | ((np.abs(dy) <= 1.0) & (np.abs(dx) <= arm))
    masks = np.stack([circle, square, triangle, cross])  # (K, N, S, S)
    mask = masks[labels, np.arange(n)].astype(np.float32)  # (N, S, S)
    # 2x2 average pooling -> anti-aliased coverage in [0, 1], (N, 32, 32)
    cover = mask.reshape(n, IMAGE_SIZE, 2, IMAGE_SIZE, 2).mean(axis=(2, 4))
    img01 = cover[..., None] * rgb[:, None, None, :].astype(np.float32)  # black background
    return (2.0 * img01 - 1.0).astype(np.float32), labels


def to_chw(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) numpy in [-1, 1] -> (N, 3, H, W) float tensor."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float()


def to_hwc(x: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) tensor -> (N, H, W, 3) numpy, clipped to [-1, 1]."""
    return x.detach().clamp(-1, 1).permute(0, 2, 3, 1).numpy()


# ---------------------------------------------------------------------------- networks


class Autoencoder(nn.Module):
    """Conv autoencoder: (3, 32, 32) -> (4, 8, 8) -> (3, 32, 32); factor f = 4."""

    def __init__(self, width: int = 16, latent_channels: int = LATENT_CHANNELS):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.SiLU(),  # (w, 32, 32)
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.SiLU(),  # (2w, 16, 16)
            nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1), nn.SiLU(),  # (4w, 8, 8)
            nn.Conv2d(4 * w, latent_channels, 3, padding=1),  # (4, 8, 8)
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, 4 * w, 3, padding=1), nn.SiLU(),  # (4w, 8, 8)
            nn.Conv2d(4 * w, 4 * w, 3, padding=1), nn.SiLU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, stride=2, padding=1), nn.SiLU(),  # (2w, 16, 16)
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.SiLU(),  # (w, 32, 32)
            nn.Conv2d(w, 3, 3, padding=1),  # (3, 32, 32)
        )  # fmt: skip

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (B, 4, 8, 8)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (B, 3, 32, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer time steps, (B,) -> (B, dim)."""
    half = dim // 2
    # freq_k = 10000^(-k / half),  emb = [sin(t freq), cos(t freq)]
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the (time + class) embedding added in between."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(8, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class NoisePredictor(nn.Module):
    """eps_theta(z_t, t, c): a two-level U-Net over the 8 x 8 latent.

    Label ``num_classes`` is the "null" condition used for the unconditional prediction.
    """

    def __init__(self, in_channels: int = LATENT_CHANNELS, width: int = 32, num_classes: int = len(CLASSES)):
        super().__init__()
        w, e = width, 2 * width
        self.num_classes = num_classes
        self.width = width
        self.time_mlp = nn.Sequential(nn.Linear(w, e), nn.SiLU(), nn.Linear(e, e))
        self.class_emb = nn.Embedding(num_classes + 1, e)
        self.conv_in = nn.Conv2d(in_channels, w, 3, padding=1)
        self.down1 = ResBlock(w, w, e)  # H x H
        self.down = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)  # H/2
        self.mid1 = ResBlock(2 * w, 2 * w, e)
        self.mid2 = ResBlock(2 * w, 2 * w, e)
        self.up = nn.Conv2d(2 * w, w, 3, padding=1)  # after nearest upsampling, back to H
        self.up1 = ResBlock(2 * w, w, e)  # concatenated skip
        self.out_norm = nn.GroupNorm(8, w)
        self.conv_out = nn.Conv2d(w, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, z: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.width)) + self.class_emb(c)  # (B, 2w)
        h0 = self.down1(self.conv_in(z), emb)  # (B, w, H, H)
        h = self.down(h0)  # (B, 2w, H/2, H/2)
        h = self.mid2(self.mid1(h, emb), emb)
        h = self.up(F.interpolate(h, scale_factor=2, mode="nearest"))  # (B, w, H, H)
        h = self.up1(torch.cat([h, h0], dim=1), emb)
        return self.conv_out(F.silu(self.out_norm(h)))  # (B, C, H, H)


class Classifier(nn.Module):
    """Small CNN that names the shape in a 32x32 image (used to score samples)."""

    def __init__(self, num_classes: int = len(CLASSES)):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),  # (16, 16, 16)
            nn.Conv2d(16, 32, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),  # (32, 8, 8)
            nn.Conv2d(32, 64, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),  # (64, 4, 4)
            nn.Flatten(), nn.Linear(64 * 16, 64), nn.SiLU(), nn.Linear(64, num_classes),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class LatentDiffusion:
    """The trained system: autoencoder, noise predictor, classifier and the schedule."""

    autoencoder: Autoencoder
    eps_model: NoisePredictor
    classifier: Classifier
    latent_scale: float  # z_diffusion = latent_scale * encoder(x)   (SD v1: 0.18215)
    schedule: str = SCHEDULE
    num_train_steps: int = NUM_TRAIN_STEPS
    alpha_bar: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.alpha_bar = dm.alphas_cumprod(dm.beta_schedule(self.schedule, self.num_train_steps))
        for m in (self.autoencoder, self.eps_model, self.classifier):
            m.eval()

    @torch.no_grad()
    def encode(self, images: np.ndarray) -> np.ndarray:
        """(N, 32, 32, 3) in [-1, 1] -> scaled latents (N, 4, 8, 8)."""
        return (self.latent_scale * self.autoencoder.encode(to_chw(images))).numpy().astype(np.float64)

    @torch.no_grad()
    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Scaled latents (..., 4, 8, 8) -> images (..., 32, 32, 3) in [-1, 1]."""
        lead = latents.shape[:-3]
        z = torch.from_numpy(np.asarray(latents, dtype=np.float32).reshape(-1, *latents.shape[-3:]))
        x = to_hwc(self.autoencoder.decode(z / self.latent_scale))
        return x.reshape(*lead, *x.shape[1:])

    @torch.no_grad()
    def features(self, images: np.ndarray) -> np.ndarray:
        """The classifier's penultimate activations (N, 64): the feature space of the distance."""
        return self.classifier.net[:-1](to_chw(images)).double().numpy()

    @torch.no_grad()
    def classify(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K) for images (N, 32, 32, 3)."""
        return torch.softmax(self.classifier(to_chw(images)), dim=1).numpy()

    def state(self) -> dict:
        return {
            "autoencoder": self.autoencoder.state_dict(),
            "eps_model": self.eps_model.state_dict(),
            "classifier": self.classifier.state_dict(),
            "latent_scale": float(self.latent_scale),
            "schedule": self.schedule,
            "num_train_steps": self.num_train_steps,
            "eps_width": self.eps_model.width,
        }


def save(model: LatentDiffusion, path: str) -> None:
    """Write all weights as float16 (halves the file; the nets run in float32)."""
    state = model.state()
    for k in ("autoencoder", "eps_model", "classifier"):
        state[k] = {n: v.half() if v.is_floating_point() else v for n, v in state[k].items()}
    torch.save(state, path)


def load(path: str) -> LatentDiffusion:
    state = torch.load(path, map_location="cpu", weights_only=True)
    ae, eps_model, clf = Autoencoder(), NoisePredictor(width=int(state["eps_width"])), Classifier()
    for m, k in ((ae, "autoencoder"), (eps_model, "eps_model"), (clf, "classifier")):
        m.load_state_dict({n: v.float() for n, v in state[k].items()})
    return LatentDiffusion(ae, eps_model, clf, float(state["latent_scale"]), state["schedule"], int(state["num_train_steps"]))


# ---------------------------------------------------------------------------- training


def _batches(n: int, batch_size: int, rng: np.random.Generator):
    while True:
        yield rng.integers(0, n, size=batch_size)


def train_autoencoder(
    images: np.ndarray, num_iters: int, seed: int, batch_size: int = 64, lr: float = 2e-3,
    log: Callable[[int, float], None] | None = None,
) -> tuple[Autoencoder, np.ndarray]:
    """Fit the autoencoder by pixel MSE; returns the model and the loss per iteration.

    Small noise on the latent during training keeps the decoder smooth around the data
    latents (the diffusion samples will never land exactly on them), and a tiny L2 term
    stops the encoder from inflating the latent to drown that noise.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Autoencoder()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=num_iters, pct_start=0.1)
    x_all = to_chw(images)
    losses = np.zeros(num_iters)
    for i, idx in zip(range(num_iters), _batches(len(images), batch_size, rng), strict=False):
        x = x_all[idx]
        z = model.encode(x)
        z_noisy = z + 0.05 * torch.randn_like(z)
        loss_rec = F.mse_loss(model.decode(z_noisy), x)
        loss = loss_rec + 1e-3 * z.pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses[i] = loss_rec.item()
        if log is not None:
            log(i, losses[i])
    model.eval()
    return model, losses


def train_classifier(
    images: np.ndarray, labels: np.ndarray, num_iters: int, seed: int, batch_size: int = 64, lr: float = 2e-3,
) -> tuple[Classifier, np.ndarray]:
    """Cross-entropy training of the scoring classifier; returns model and losses."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Classifier()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    x_all, y_all = to_chw(images), torch.from_numpy(labels)
    losses = np.zeros(num_iters)
    for i, idx in zip(range(num_iters), _batches(len(images), batch_size, rng), strict=False):
        loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[i] = loss.item()
    model.eval()
    return model, losses


def train_noise_predictor(
    latents: np.ndarray, labels: np.ndarray, num_iters: int, seed: int, batch_size: int = 128,
    lr: float = 2e-3, width: int = 32, p_uncond: float = P_UNCOND, ema_decay: float = 0.999,
    schedule: str = SCHEDULE, num_train_steps: int = NUM_TRAIN_STEPS,
    log: Callable[[int, float], None] | None = None,
) -> tuple[NoisePredictor, np.ndarray]:
    """Ho et al. Algorithm 1 on scaled latents, with condition dropout (Ho & Salimans).

    Returns the exponential moving average of the weights (what gets shipped) and the
    loss per iteration.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    alpha_bar = dm.alphas_cumprod(dm.beta_schedule(schedule, num_train_steps))
    model = NoisePredictor(width=width)
    ema = NoisePredictor(width=width)
    ema.load_state_dict(model.state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=num_iters, pct_start=0.05)
    null = model.num_classes
    losses = np.zeros(num_iters)
    for i, idx in zip(range(num_iters), _batches(len(latents), batch_size, rng), strict=False):
        z0 = latents[idx]  # (B, 4, 8, 8)
        t = rng.integers(0, num_train_steps, size=batch_size)  # t ~ Uniform{0..T-1}
        eps = rng.standard_normal(z0.shape)  # eps ~ N(0, I)
        z_t = dm.q_sample(z0, alpha_bar[t], eps)  # sqrt(a_t) z0 + sqrt(1 - a_t) eps
        # condition dropout: with probability p_uncond train on the null label
        c = np.where(rng.random(batch_size) < p_uncond, null, labels[idx])
        eps_theta = model(torch.from_numpy(z_t).float(), torch.from_numpy(t), torch.from_numpy(c))
        # L_simple = || eps - eps_theta(z_t, t, c) ||^2        (Ho et al. eq. 14)
        loss = F.mse_loss(eps_theta, torch.from_numpy(eps).float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            # theta_ema <- d theta_ema + (1 - d) theta, with a warm-up so early steps count
            d = min(ema_decay, (1 + i) / (10 + i))
            for pe, p in zip(ema.parameters(), model.parameters(), strict=True):
                pe.mul_(d).add_(p, alpha=1 - d)
        losses[i] = loss.item()
        if log is not None:
            log(i, losses[i])
    ema.eval()
    return ema, losses


# ---------------------------------------------------------------------------- sampling


@dataclass
class Trajectory:
    """A whole sampling run: S steps from z_T (index 0) down to z_0 (index S)."""

    timesteps: np.ndarray  # (S,) training indices visited, descending
    latents: np.ndarray  # (S + 1, N, 4, 8, 8): z_T, ..., z_0
    x0_latents: np.ndarray  # (S, N, 4, 8, 8): the predicted clean latent at each step
    frame_index: np.ndarray  # (F,) which entries of ``latents`` were decoded
    images: np.ndarray  # (F, N, 32, 32, 3) decoded latents at those entries
    x0_images: np.ndarray  # (F, N, 32, 32, 3) decoded x0-predictions (last frame: the final image)
    final: np.ndarray  # (N, 32, 32, 3) decoded z_0


def _conv_params(conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """(weight in channels-last layout, bias, stride, padding) of a square conv."""
    w = conv.weight.detach().contiguous(memory_format=torch.channels_last)
    return w, conv.bias.detach(), conv.stride[0], conv.padding[0]


class _GuidedEps:
    """eps_theta for one sampling run, arranged for speed; the maths of ``NoisePredictor.forward``.

    Four rearrangements, none of which changes a result beyond float rounding
    (tests/core/test_diffusion_sampler.py compares with the plain module call):

    * the (time + class) embedding and each ResBlock's projection of it depend only on the
      step and the label, so they are computed for every step of the run in one batch;
    * the conditional and the unconditional halves of a guided batch share ``z_t``, and the
      network only sees the label after ``down1.conv1``: ``conv_in`` and the first
      norm-SiLU-conv run once on N samples instead of 2N;
    * activations and weights are channels-last (NHWC), the layout oneDNN's small
      convolutions are fastest in;
    * the layers are called as functions on their weight tensors, without the per-call
      bookkeeping of ``nn.Module`` (~40 module calls a step).
    """

    def __init__(self, net: NoisePredictor, timesteps: np.ndarray, rows: np.ndarray, shared: bool):
        self.shared = shared  # rows = [c; null]: both halves see the same z_t
        self.groups = net.out_norm.num_groups
        self.conv_in, self.down, self.up, self.conv_out = (
            _conv_params(m) for m in (net.conv_in, net.down, net.up, net.conv_out)
        )
        self.out_norm = (net.out_norm.weight.detach(), net.out_norm.bias.detach(), net.out_norm.eps)
        blocks = (net.down1, net.mid1, net.mid2, net.up1)
        self.blocks = [
            {
                "norm1": (b.norm1.weight.detach(), b.norm1.bias.detach(), b.norm1.eps),
                "conv1": _conv_params(b.conv1),
                "norm2": (b.norm2.weight.detach(), b.norm2.bias.detach(), b.norm2.eps),
                "conv2": _conv_params(b.conv2),
                "skip": _conv_params(b.skip) if isinstance(b.skip, nn.Conv2d) else None,
            }
            for b in blocks
        ]
        # emb(t, c) = MLP(sinusoid(t)) + E[c]          (S steps x B rows, B = len(rows))
        t_emb = net.time_mlp(timestep_embedding(torch.from_numpy(np.asarray(timesteps)), net.width))
        emb = t_emb[:, None, :] + net.class_emb(torch.from_numpy(rows))[None, :, :]  # (S, B, 2w)
        # each ResBlock adds  W_b emb + b_b  to its hidden map, per channel: (S, B, C_b, 1, 1)
        self.proj = [b.emb(emb).detach()[..., None, None] for b in blocks]

    @staticmethod
    def _conv(x: torch.Tensor, params: tuple[torch.Tensor, torch.Tensor, int, int]) -> torch.Tensor:
        w, b, stride, padding = params
        return F.conv2d(x, w, b, stride, padding)

    def _norm_silu(self, x: torch.Tensor, params: tuple[torch.Tensor, torch.Tensor, float]) -> torch.Tensor:
        w, b, eps = params
        return F.silu(F.group_norm(x, self.groups, w, b, eps))

    def _res_tail(self, blk: dict, h: torch.Tensor, x: torch.Tensor, proj: torch.Tensor) -> torch.Tensor:
        """ResBlock.forward after its first conv: h + emb, norm-SiLU-conv, plus the skip of x."""
        h = self._conv(self._norm_silu(h + proj, blk["norm2"]), blk["conv2"])
        return h + (x if blk["skip"] is None else self._conv(x, blk["skip"]))

    def _res(self, blk: dict, x: torch.Tensor, proj: torch.Tensor) -> torch.Tensor:
        """ResBlock.forward with the embedding projection given."""
        return self._res_tail(blk, self._conv(self._norm_silu(x, blk["norm1"]), blk["conv1"]), x, proj)

    def __call__(self, i: int, z: torch.Tensor) -> torch.Tensor:
        """eps_theta at step ``i`` for z_t (N, C, H, W), channels-last -> (B, C, H, W)."""
        p = [proj[i] for proj in self.proj]
        down1, mid1, mid2, up1 = self.blocks
        x = self._conv(z, self.conv_in)  # (N, w, H, H)
        h = self._conv(self._norm_silu(x, down1["norm1"]), down1["conv1"])
        if self.shared:  # from here on the label matters: [cond; uncond]
            x, h = torch.cat([x, x]), torch.cat([h, h])
        h0 = self._res_tail(down1, h, x, p[0])  # (B, w, H, H)
        h = self._conv(h0, self.down)  # (B, 2w, H/2, H/2)
        h = self._res(mid2, self._res(mid1, h, p[1]), p[2])
        h = self._conv(F.interpolate(h, scale_factor=2, mode="nearest"), self.up)  # (B, w, H, H)
        h = self._res(up1, torch.cat([h, h0], dim=1), p[3])
        return self._conv(self._norm_silu(h, self.out_norm), self.conv_out)  # (B, C, H, H)


@torch.no_grad()
def sample(
    model: LatentDiffusion,
    class_id: int,
    num_steps: int,
    sampler: str = "ddim",
    eta: float = 0.0,
    guidance_scale: float = 3.0,
    seed: int = 0,
    num_samples: int = 8,
    num_frames: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Trajectory:
    """Generate ``num_samples`` latents of class ``class_id`` and decode them.

    ``sampler`` is "ddpm" (ancestral, posterior variance) or "ddim" (with ``eta``); both
    visit ``num_steps`` training steps with trailing spacing so the first step is at
    t = T - 1. ``class_id`` may also be an array of N labels. ``num_frames`` decodes that
    many evenly spaced trajectory entries (None: all). ``progress(i, S)`` is called after
    each step.
    """
    if sampler not in ("ddpm", "ddim"):
        raise ValueError(f"unknown sampler {sampler!r}")
    rng = np.random.default_rng(seed)
    alpha_bar = model.alpha_bar
    T = model.num_train_steps
    ts = dm.inference_timesteps(T, num_steps, spacing="trailing")
    S = len(ts)
    c = np.broadcast_to(np.asarray(class_id, dtype=np.int64), (num_samples,))
    null = np.full(num_samples, model.eps_model.num_classes, dtype=np.int64)
    shape = (num_samples, LATENT_CHANNELS, LATENT_SIZE, LATENT_SIZE)
    need_cond, need_uncond = guidance_scale != 0.0, guidance_scale != 1.0
    # one network call per step for both the conditional and the unconditional prediction
    rows = np.concatenate([c] * need_cond + [null] * need_uncond)
    eps_theta = _GuidedEps(model.eps_model, ts, rows, shared=need_cond and need_uncond)
    # 1. start from pure noise z_T ~ N(0, I)
    z = rng.standard_normal(shape)
    latents = np.empty((S + 1, *shape))
    x0s = np.empty((S, *shape))
    latents[0] = z
    for i, t in enumerate(ts):
        alpha_bar_t = alpha_bar[t]
        alpha_bar_prev = alpha_bar[ts[i + 1]] if i + 1 < S else 1.0
        # 2. eps_theta(z_t, t, c) and eps_theta(z_t, t, null) in one batch [cond; uncond]
        z_in = torch.from_numpy(z).float().contiguous(memory_format=torch.channels_last)
        out = eps_theta(i, z_in).double().numpy()
        # 3. classifier-free guidance  eps = eps_u + w (eps_c - eps_u)
        if need_cond and need_uncond:
            eps = dm.guided_eps(out[num_samples:], out[:num_samples], guidance_scale)
        else:  # w = 1: conditional only; w = 0: unconditional only
            eps = out
        # 4. the reverse step (numpy maths in core.diffusion)
        noise = rng.standard_normal(shape)
        if sampler == "ddpm":
            step = dm.ddpm_step(z, eps, alpha_bar_t, alpha_bar_prev, noise)
        else:
            step = dm.ddim_step(z, eps, alpha_bar_t, alpha_bar_prev, eta=eta, noise=noise)
        z = step.x_prev
        latents[i + 1] = z
        x0s[i] = step.x0
        if progress is not None:
            progress(i + 1, S)
    if num_frames is None or num_frames >= S + 1:
        frames = np.arange(S + 1)
    else:
        frames = np.unique(np.round(np.linspace(0, S, num_frames)).astype(np.int64))
    images = model.decode(latents[frames])
    # x0 prediction made at entry k is x0s[k]; the last entry (z_0) is its own prediction
    x0_lat = np.concatenate([x0s, latents[-1:]])[frames]
    x0_images = model.decode(x0_lat)
    final = images[-1] if frames[-1] == S else model.decode(latents[-1])
    return Trajectory(ts, latents, x0s, frames, images, x0_images, final)


# ---------------------------------------------------------------------------- stored runs

RunKey = tuple[int, str, int, float, float, int]  # (class_id, sampler, num_steps, eta, guidance_scale, seed)


@dataclass
class StoredRun:
    """The part of a sampling run a page shows, as latents: decoded when shown.

    A run too slow to sample live (1000 DDPM steps) is computed ahead of time and kept in
    this form: the first sample's trajectory at the decoded frames, and every final latent.
    """

    frame_t: np.ndarray  # (F,) training step of each frame; -1: z_0, after the last step
    z_frames: np.ndarray  # (F, 4, 8, 8) z at those frames, first sample
    x0_frames: np.ndarray  # (F, 4, 8, 8) the x0 prediction at those frames, first sample
    final: np.ndarray  # (N, 4, 8, 8) z_0 of every sample
    seconds: float  # how long the live run took

    @classmethod
    def from_trajectory(cls, traj: Trajectory, seconds: float) -> StoredRun:
        frames = traj.frame_index
        # x0 prediction made at entry k is x0_latents[k]; z_0 (the last entry) is its own
        x0 = np.concatenate([traj.x0_latents, traj.latents[-1:]])[frames]
        return cls(
            frame_t=np.r_[traj.timesteps, -1][frames],
            z_frames=traj.latents[frames, 0],
            x0_frames=x0[:, 0],
            final=traj.latents[-1],
            seconds=float(seconds),
        )


_KEY_FIELDS = ("class_id", "sampler", "num_steps", "eta", "guidance_scale", "seed")
_LATENT_FIELDS = ("z_frames", "x0_frames", "final")


def save_runs(path: str, runs: dict[RunKey, StoredRun]) -> None:
    """Write runs to one compressed .npz: latents as float16 (rounding: 2^-11 relative)."""
    keys, values = list(runs), list(runs.values())
    arrays = {name: np.array([k[j] for k in keys]) for j, name in enumerate(_KEY_FIELDS)}
    arrays["frame_t"] = np.stack([v.frame_t for v in values]).astype(np.int16)
    arrays["seconds"] = np.array([v.seconds for v in values])
    for name in _LATENT_FIELDS:
        arrays[name] = np.stack([getattr(v, name) for v in values]).astype(np.float16)
    np.savez_compressed(path, **arrays)


def load_runs(path: str) -> dict[RunKey, StoredRun]:
    """Read ``save_runs``' file; latents come back as float64."""
    with np.load(path, allow_pickle=False) as f:
        a = {name: f[name] for name in f.files}
    runs = {}
    for r in range(len(a["class_id"])):
        key = (int(a["class_id"][r]), str(a["sampler"][r]), int(a["num_steps"][r]), float(a["eta"][r]),
               float(a["guidance_scale"][r]), int(a["seed"][r]))  # fmt: skip
        latents = {name: a[name][r].astype(np.float64) for name in _LATENT_FIELDS}
        runs[key] = StoredRun(frame_t=a["frame_t"][r].astype(np.int64), seconds=float(a["seconds"][r]), **latents)
    return runs


# ---------------------------------------------------------------------------- scoring


def nearest_distance(samples: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """RMS pixel distance from each sample to its nearest reference image, (N,)."""
    a = samples.reshape(len(samples), -1).astype(np.float64)
    b = reference.reshape(len(reference), -1).astype(np.float64)
    # ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b, for all pairs at once
    d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0) / a.shape[1])


def frechet_distance(F1: np.ndarray, F2: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N1, D) and (N2, D).

    d^2 = ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))  (Heusel et al. 2017, FID; here the
    features come from our small classifier instead of Inception). tr((S1 S2)^(1/2)) is the sum
    of square roots of the eigenvalues of S1 S2, which are real and >= 0 for covariances.
    """
    mu1, mu2 = F1.mean(axis=0), F2.mean(axis=0)
    S1, S2 = np.cov(F1, rowvar=False), np.cov(F2, rowvar=False)
    ev = np.linalg.eigvals(S1 @ S2)
    tr_sqrt = np.sqrt(np.clip(ev.real, 0.0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(S1) + np.trace(S2) - 2.0 * tr_sqrt)


def score(model: LatentDiffusion, images: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> dict:
    """Classifier accuracy on the requested labels, and the Frechet distance between the
    classifier features of ``images`` and of the real ``reference`` images (lower: closer to
    the data; biased upwards for few samples, so compare runs of equal size)."""
    pred = model.classify(images).argmax(axis=1)
    return {
        "accuracy": float((pred == np.asarray(labels)).mean()),
        "distance": frechet_distance(model.features(images), model.features(reference)),
    }


def count_macs(net: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass, counted from conv and linear layers."""
    total = 0

    def hook(mod: nn.Module, _inp, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            # MACs = output elements x (C_in / groups) x k_h x k_w
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            total += out.numel() * k
        elif isinstance(mod, nn.Linear):
            total += out.numel() * mod.in_features

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    with torch.no_grad():
        net(*inputs)
    for h in handles:
        h.remove()
    return total


# ---------------------------------------------------------------------------- measurements the page states


def foreground_saturation(images: np.ndarray, threshold: float = 0.35) -> np.ndarray:
    """Mean HSV saturation of each image's foreground pixels, (N,), for images (N, H, W, 3) in [-1, 1].

    Foreground: HSV value (max channel, in [0, 1]) above ``threshold``; saturation
    (max - min) / max (Smith 1978, the HSV hexcone; ``colorsys.rgb_to_hsv``). 0 if no foreground.
    """
    x = (np.asarray(images, dtype=np.float64) + 1.0) / 2.0
    mx, mn = x.max(axis=-1), x.min(axis=-1)
    fg = mx > threshold
    sat = np.where(fg, (mx - mn) / np.where(mx > 0, mx, 1.0), 0.0)
    return sat.sum(axis=(1, 2)) / np.maximum(fg.sum(axis=(1, 2)), 1)


def settle_steps(traj: Trajectory, tol: float = 0.1) -> np.ndarray:
    """For each sample, the step after which the predicted final image stays within RMS ``tol``
    of the result: 1 + the last step k whose decoded x0 prediction is farther than ``tol``
    (0: settled from the start). Needs every frame decoded (``num_frames=None``), (N,)."""
    if len(traj.frame_index) != len(traj.timesteps) + 1:
        raise ValueError("settle_steps needs every frame decoded (num_frames=None)")
    # RMS distance of the prediction at each step to the final image, (S + 1, N)
    d = np.sqrt(((traj.x0_images - traj.final[None]) ** 2).mean(axis=(2, 3, 4)))
    far = d > tol
    last = np.where(far.any(axis=0), far.shape[0] - 1 - np.argmax(far[::-1], axis=0), -1)
    return last + 1
