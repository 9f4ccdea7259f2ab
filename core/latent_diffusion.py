"""A small, real text-to-image latent diffusion model that trains on a laptop CPU.

The pieces mirror Stable Diffusion at toy scale:

* data: 32x32 RGB scenes of one shape (circle, square, triangle, cross) in one of four
  colours (red, yellow, green, blue), small or large, at one of five places, drawn
  procedurally (nothing downloaded), each with captions that it follows exactly
  ("a small red triangle on the left"); four colour-shape pairs (``HELD_OUT``) never
  appear in training at all, to test whether the model composes words;
* a fixed word-level vocabulary (``VOCAB``, 23 entries: 21 words and two special tokens)
  and a text encoder: a 2-layer pre-norm Transformer over the prompt's tokens, trained
  jointly with the denoiser, as the LDM paper's own text-to-image model (SD v1 instead
  uses a frozen, pretrained CLIP);
* an autoencoder with downsampling factor f = 4 and 4 latent channels, so an image
  of 3 x 32 x 32 = 3072 numbers becomes a latent of 4 x 8 x 8 = 256 (SD v1: f = 8,
  4 channels, 3 x 512 x 512 -> 4 x 64 x 64); latents are scaled to unit variance, as SD
  does with 0.18215;
* a U-Net noise predictor eps_theta(z_t, t, tau(y)) with cross-attention layers: queries
  from the latent positions, keys and values from the text tokens (Rombach et al. sec. 3.3),
  trained with condition dropout (the caption becomes the empty prompt 10% of the time), so
  the same network predicts the unconditional noise: classifier-free guidance, where a
  negative prompt takes the empty prompt's place;
* a small CNN trained on real images only, with one head per attribute (shape, colour, size,
  position), used to score samples, and a classifier-free colour check (mean foreground hue);
* a seeded sampler (DDPM or DDIM with eta, with guidance) that returns the whole trajectory
  and each token's cross-attention over the latent grid at every step. The reverse-step
  maths is ``core.diffusion`` (numpy); torch runs the networks.

References:
    Rombach et al. (2022) "High-Resolution Image Synthesis with Latent Diffusion Models",
        arXiv:2112.10752: sec. 3.1 perceptual compression (f, latent channels), sec. 3.3
        conditioning by cross-attention, Attention(Q,K,V) = softmax(QK^T/sqrt(d)) V with
        Q = W_Q phi(z_t), K = W_K tau(y), V = W_V tau(y); eq. (3) the conditional objective;
        appendix: the text-to-image LDM trains its transformer text encoder jointly.
    Vaswani et al. (2017) "Attention Is All You Need", arXiv:1706.03762: eq. (1), sec. 3.2.2
        multi-head attention, sec. 3.5 sinusoidal (here: time-step) embedding.
    Ho, Jain, Abbeel (2020) arXiv:2006.11239: Algorithm 1 (training), eq. (14) the simple loss.
    Song, Meng, Ermon (2021) arXiv:2010.02502: eq. (12) DDIM.
    Ho, Salimans (2021) arXiv:2207.12598: sec. 3.2 joint training with condition dropout,
        eq. (6) guided prediction.
    Hertz et al. (2022) "Prompt-to-Prompt Image Editing with Cross Attention Control",
        arXiv:2208.01626: sec. 3.1, cross-attention maps per word averaged over heads and steps.
    Heusel et al. (2017) arXiv:1706.08500: eq. (6) the Frechet distance of FID.
    Ronneberger et al. (2015) "U-Net", arXiv:1505.04597.
"""

from __future__ import annotations

import colorsys
import difflib
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import diffusion as dm

# ---------------------------------------------------------------------------- the world and its words

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross")
COLOURS: tuple[str, ...] = ("red", "yellow", "green", "blue")
COLOUR_HUES: tuple[float, ...] = (0.0, 1 / 6, 1 / 3, 2 / 3)  # HSV hue of each colour, in turns
SIZES: tuple[str, ...] = ("small", "large")
POSITIONS: tuple[str, ...] = ("left", "right", "top", "bottom", "middle")
POSITION_PHRASES: dict[str, str] = {
    "left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom",
    "middle": "in the middle",
}  # fmt: skip
# (colour, shape) pairs never drawn for training: a Latin square, so every colour and every
# shape is still seen with the three others
HELD_OUT: tuple[tuple[str, str], ...] = (("red", "cross"), ("yellow", "circle"), ("green", "square"),
                                         ("blue", "triangle"))  # fmt: skip
ATTRIBUTES: dict[str, tuple[str, ...]] = {"shape": SHAPES, "colour": COLOURS, "size": SIZES, "position": POSITIONS}

START, PAD = "<start>", "<pad>"
# the whole vocabulary, fixed: two special tokens, the caption grammar's words
VOCAB: tuple[str, ...] = (START, PAD, "a", "shape", *SIZES, *COLOURS, *SHAPES, "on", "at", "in", "the", *POSITIONS)
WORDS: tuple[str, ...] = VOCAB[2:]  # what a prompt may contain
TOKEN_ID = {w: i for i, w in enumerate(VOCAB)}
MAX_TOKENS = 12  # <start> + up to 11 words (the longest caption has 7)

IMAGE_SIZE = 32
DOWNSAMPLE = 4  # f: 32 x 32 pixels -> 8 x 8 latent positions
LATENT_CHANNELS = 4
LATENT_SIZE = IMAGE_SIZE // DOWNSAMPLE
NUM_TRAIN_STEPS = 1000
SCHEDULE = "scaled_linear"  # Stable Diffusion's
P_UNCOND = 0.1  # condition dropout probability during training
TEXT_DIM = 64  # width of the text encoder's token vectors (SD v1: 768)

ASSET = Path(__file__).resolve().parents[1] / "assets" / "diffusion_model.pt"


# ---------------------------------------------------------------------------- data


def training_pairs() -> list[tuple[int, int]]:
    """(colour, shape) index pairs the model is trained on: all 16 but ``HELD_OUT``."""
    held = {(COLOURS.index(c), SHAPES.index(s)) for c, s in HELD_OUT}
    return [(c, s) for c in range(len(COLOURS)) for s in range(len(SHAPES)) if (c, s) not in held]


def random_attributes(n: int, rng: np.random.Generator, pairs: list[tuple[int, int]] | None = None) -> dict[str, np.ndarray]:
    """Draw n scenes' attributes (indices into SHAPES, COLOURS, SIZES, POSITIONS).

    ``pairs``: the (colour, shape) pairs allowed, uniformly (None: all 16).
    """
    pairs = pairs or [(c, s) for c in range(len(COLOURS)) for s in range(len(SHAPES))]
    pc = np.array(pairs)[rng.integers(0, len(pairs), size=n)]
    return {
        "shape": pc[:, 1], "colour": pc[:, 0],
        "size": rng.integers(0, len(SIZES), size=n), "position": rng.integers(0, len(POSITIONS), size=n),
    }  # fmt: skip


def make_scenes(attrs: dict[str, np.ndarray], seed: int) -> np.ndarray:
    """Draw the scenes ``attrs`` describe: (N, 32, 32, 3) float32 in [-1, 1], black background.

    Geometry in pixels of the 32 x 32 image: half-size r ~ U(5, 6.5) for small, U(8.5, 10) for
    large; centre at the place's anchor (left (9, 16), right (23, 16), top (16, 9), bottom
    (16, 23), middle (16, 16)) moved by U(-1.5, 1.5) per axis, then clamped so the shape stays
    inside; hue = the colour's hue + U(-0.02, 0.02) turns, saturation U(0.75, 1), value U(0.8, 1).
    Drawn at 2x resolution and averaged down 2x2, so edges are anti-aliased.
    """
    rng = np.random.default_rng(seed)
    shape, colour, size, pos = (np.asarray(attrs[k], dtype=np.int64) for k in ("shape", "colour", "size", "position"))
    n = len(shape)
    r = np.where(size == 0, rng.uniform(5.0, 6.5, n), rng.uniform(8.5, 10.0, n))
    anchors = np.array([(9, 16), (23, 16), (16, 9), (16, 23), (16, 16)], dtype=np.float64)[pos]  # (N, 2) x, y
    centre = anchors + rng.uniform(-1.5, 1.5, (n, 2))
    centre = np.clip(centre, (r + 1)[:, None], (IMAGE_SIZE - 1 - r)[:, None])
    hue = (np.asarray(COLOUR_HUES)[colour] + rng.uniform(-0.02, 0.02, n)) % 1.0
    sat, val = rng.uniform(0.75, 1.0, n), rng.uniform(0.8, 1.0, n)
    rgb = np.array([colorsys.hsv_to_rgb(h, s, v) for h, s, v in zip(hue, sat, val, strict=True)]).reshape(n, 3)

    S = 2 * IMAGE_SIZE  # supersampled canvas; everything in its pixels
    out = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float32)
    grid = np.arange(S) + 0.5
    for lo in range(0, n, 512):  # chunks keep the (N, 64, 64) masks small
        sl = slice(lo, min(n, lo + 512))
        rr, cx, cy = 2 * r[sl, None, None], 2 * centre[sl, 0, None, None], 2 * centre[sl, 1, None, None]
        dx = (grid[None, None, :] - cx) / rr  # offsets normalised by the half-size
        dy = (grid[None, :, None] - cy) / rr
        k = shape[sl, None, None]
        circle = dx**2 + dy**2 <= 1.0
        square = np.maximum(np.abs(dx), np.abs(dy)) <= 0.85
        # upward triangle: apex at dy = -1, base at dy = 0.8, half-width 1 at the base
        triangle = (dy >= -1.0) & (dy <= 0.8) & (np.abs(dx) <= (dy + 1.0) / 1.8)
        arm = 0.33
        cross = ((np.abs(dx) <= 1.0) & (np.abs(dy) <= arm)) | ((np.abs(dy) <= 1.0) & (np.abs(dx) <= arm))
        mask = np.where(k == 0, circle, np.where(k == 1, square, np.where(k == 2, triangle, cross)))
        # 2x2 average pooling -> anti-aliased coverage in [0, 1]
        cover = mask.reshape(-1, IMAGE_SIZE, 2, IMAGE_SIZE, 2).mean(axis=(2, 4))
        out[sl] = 2.0 * cover[..., None] * rgb[sl, None, None, :] - 1.0
    return out


def caption(attrs: dict[str, np.ndarray], i: int, rng: np.random.Generator | None = None) -> str:
    """Scene i's caption. With ``rng``: a random partial one (article, size, colour, shape and
    place each left out at times; a left-out shape reads "shape"); without: the full caption."""
    keep = (lambda p: True) if rng is None else (lambda p: rng.random() < p)
    words = ["a"] if keep(0.8) else []
    if keep(0.6):
        words.append(SIZES[attrs["size"][i]])
    if keep(0.85):
        words.append(COLOURS[attrs["colour"][i]])
    words.append(SHAPES[attrs["shape"][i]] if keep(0.85) else "shape")
    if keep(0.6):
        words.append(POSITION_PHRASES[POSITIONS[attrs["position"][i]]])
    return " ".join(words)


class UnknownWordError(ValueError):
    """A prompt word outside VOCAB; ``suggestions``: the closest known words."""

    def __init__(self, word: str, suggestions: list[str]):
        self.word, self.suggestions = word, suggestions
        super().__init__(f"unknown word {word!r}; closest known words: {', '.join(suggestions)}")


class PromptTooLongError(ValueError):
    """More words than the text encoder has positions for."""

    def __init__(self, num_words: int):
        self.num_words, self.limit = num_words, MAX_TOKENS - 1
        super().__init__(f"prompt too long: {num_words} words, at most {self.limit}")


def tokenize(prompt: str) -> list[str]:
    """A prompt's words, lower case, punctuation dropped; raises ValueError on an unknown word.

    The error (``UnknownWordError``) names the word and the closest known words (difflib's
    similarity ratio >= 0.5, at most 3; all words if none is that close); an empty prompt
    gives no words (the unconditional prompt).
    """
    words = re.sub(r"[^\w\s]", " ", prompt.lower()).split()
    for w in words:
        if w not in WORDS:
            close = difflib.get_close_matches(w, WORDS, n=3, cutoff=0.5)
            raise UnknownWordError(w, close or list(WORDS))
    if len(words) > MAX_TOKENS - 1:
        raise PromptTooLongError(len(words))
    return words


def swap_word(prompt: str, word: str) -> str:
    """The prompt with ``word`` in place of its word of the same kind (colour, shape, size or
    place); appended (a place as its phrase) if the prompt has none of that kind."""
    words = tokenize(prompt)
    for values in (COLOURS, SHAPES, SIZES, POSITIONS):
        if word in values:
            hit = [i for i, w in enumerate(words) if w in values]
            if hit:
                words[hit[-1]] = word
            elif values is POSITIONS:
                words += POSITION_PHRASES[word].split()
            elif values is SHAPES and "shape" in words:
                words[words.index("shape")] = word
            else:  # a size or colour goes before the noun; a shape becomes the noun
                noun = [i for i, w in enumerate(words) if w in SHAPES or w == "shape"]
                at = noun[0] if noun else len(words)
                words.insert(at, word)
            return " ".join(words)
    raise ValueError(f"{word!r} is not a colour, shape, size or place")


def encode_tokens(prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (B, MAX_TOKENS) = [<start>, words..., <pad>...] and the mask of real tokens."""
    ids = np.full((len(prompts), MAX_TOKENS), TOKEN_ID[PAD], dtype=np.int64)
    for b, p in enumerate(prompts):
        seq = [START, *tokenize(p)]
        ids[b, : len(seq)] = [TOKEN_ID[w] for w in seq]
    ids_t = torch.from_numpy(ids)
    return ids_t, ids_t != TOKEN_ID[PAD]


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


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Scaled dot-product attention over heads: q (B, h, Nq, d), k and v (B, h, Nk, d).

    Returns the output (B, h, Nq, d) and the weights (B, h, Nq, Nk); ``key_mask`` (B, Nk) marks
    the keys that may be attended to (padding tokens may not).
    """
    # A = softmax(Q K^T / sqrt(d)),  out = A V        (Vaswani et al. eq. 1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


class TextBlock(nn.Module):
    """Pre-norm Transformer encoder layer: self-attention over the tokens, then an MLP."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        out, _ = attention(q, k, v, mask)
        x = x + self.proj(out.transpose(1, 2).reshape(B, L, D))
        return x + self.mlp(self.ln2(x))


class TextEncoder(nn.Module):
    """tau(y): token embeddings + learned positions, 2 Transformer layers -> (B, L, TEXT_DIM)."""

    def __init__(self, dim: int = TEXT_DIM, layers: int = 2, heads: int = 4):
        super().__init__()
        self.tok = nn.Embedding(len(VOCAB), dim)
        self.pos = nn.Embedding(MAX_TOKENS, dim)
        self.blocks = nn.ModuleList(TextBlock(dim, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.tok(ids) + self.pos.weight[None, : ids.shape[1]]
        for blk in self.blocks:
            x = blk(x, mask)
        return self.ln(x)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer time steps, (B,) -> (B, dim)."""
    half = dim // 2
    # freq_k = 10000^(-k / half),  emb = [sin(t freq), cos(t freq)]
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the time embedding added in between."""

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


class CrossAttention(nn.Module):
    """Latent positions attend to the prompt's tokens (Rombach et al. sec. 3.3), then an MLP.

    Q = W_Q norm(z) from each of the H x W latent positions, K = W_K tau(y) and V = W_V tau(y)
    from the text tokens; the result is added back to z (residual), as in SD's transformer block
    without its self-attention layer.
    """

    def __init__(self, channels: int, context_dim: int = TEXT_DIM, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(8, channels)
        self.to_q = nn.Linear(channels, channels, bias=False)
        self.to_k = nn.Linear(context_dim, channels, bias=False)
        self.to_v = nn.Linear(context_dim, channels, bias=False)
        self.to_out = nn.Linear(channels, channels)
        self.ln = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, 2 * channels), nn.GELU(), nn.Linear(2 * channels, channels))

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor,
                store: list[torch.Tensor] | None = None) -> torch.Tensor:  # fmt: skip
        B, C, H, W = x.shape
        L, h = context.shape[1], self.heads
        z = self.norm(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        q = self.to_q(z).view(B, H * W, h, C // h).transpose(1, 2)  # (B, h, HW, d)
        k = self.to_k(context).view(B, L, h, C // h).transpose(1, 2)  # (B, h, L, d)
        v = self.to_v(context).view(B, L, h, C // h).transpose(1, 2)
        out, weights = attention(q, k, v, mask)  # weights (B, h, HW, L): each row sums to 1
        if store is not None:
            store.append(weights.mean(dim=1))  # averaged over heads (Hertz et al. sec. 3.1)
        y = x.flatten(2).transpose(1, 2) + self.to_out(out.transpose(1, 2).reshape(B, H * W, C))
        y = y + self.mlp(self.ln(y))
        return y.transpose(1, 2).reshape(B, C, H, W)


class NoisePredictor(nn.Module):
    """eps_theta(z_t, t, tau(y)): a two-level U-Net over the 8 x 8 latent with cross-attention
    at both resolutions (after the first block, in the middle, after the last block)."""

    def __init__(self, in_channels: int = LATENT_CHANNELS, width: int = 48, context_dim: int = TEXT_DIM):
        super().__init__()
        w, e = width, 2 * width
        self.width = width
        self.time_mlp = nn.Sequential(nn.Linear(w, e), nn.SiLU(), nn.Linear(e, e))
        self.conv_in = nn.Conv2d(in_channels, w, 3, padding=1)
        self.down1 = ResBlock(w, w, e)  # H x H
        self.attn_down = CrossAttention(w, context_dim)
        self.down = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)  # H/2
        self.mid1 = ResBlock(2 * w, 2 * w, e)
        self.attn_mid = CrossAttention(2 * w, context_dim)
        self.mid2 = ResBlock(2 * w, 2 * w, e)
        self.up = nn.Conv2d(2 * w, w, 3, padding=1)  # after nearest upsampling, back to H
        self.up1 = ResBlock(2 * w, w, e)  # concatenated skip
        self.attn_up = CrossAttention(w, context_dim)
        self.out_norm = nn.GroupNorm(8, w)
        self.conv_out = nn.Conv2d(w, in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, z: torch.Tensor, t: torch.Tensor, context: torch.Tensor, mask: torch.Tensor,
                store: list[torch.Tensor] | None = None) -> torch.Tensor:  # fmt: skip
        """``store``: if given, receives the full-resolution layers' attention weights (B, HW, L)."""
        emb = self.time_mlp(timestep_embedding(t, self.width))  # (B, 2w)
        h0 = self.attn_down(self.down1(self.conv_in(z), emb), context, mask, store)  # (B, w, H, H)
        h = self.down(h0)  # (B, 2w, H/2, H/2)
        h = self.mid2(self.attn_mid(self.mid1(h, emb), context, mask), emb)
        h = self.up(F.interpolate(h, scale_factor=2, mode="nearest"))  # (B, w, H, H)
        h = self.attn_up(self.up1(torch.cat([h, h0], dim=1), emb), context, mask, store)
        return self.conv_out(F.silu(self.out_norm(h)))  # (B, C, H, H)


class Denoiser(nn.Module):
    """The text encoder and the U-Net, trained together (one set of EMA weights)."""

    def __init__(self, width: int = 48):
        super().__init__()
        self.text = TextEncoder()
        self.unet = NoisePredictor(width=width)

    def forward(self, z: torch.Tensor, t: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.unet(z, t, self.text(ids, mask), mask)


class Classifier(nn.Module):
    """Small CNN with one head per attribute (shape, colour, size, position), to score samples."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),  # (16, 16, 16)
            nn.Conv2d(16, 32, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),  # (32, 8, 8)
            nn.Conv2d(32, 64, 3, padding=1), nn.SiLU(), nn.MaxPool2d(2),  # (64, 4, 4)
            nn.Flatten(), nn.Linear(64 * 16, 64), nn.SiLU(),
        )  # fmt: skip
        self.heads = nn.ModuleDict({k: nn.Linear(64, len(v)) for k, v in ATTRIBUTES.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.trunk(x)
        return {k: head(f) for k, head in self.heads.items()}


@dataclass
class LatentDiffusion:
    """The trained system: autoencoder, text encoder + U-Net, classifier and the schedule."""

    autoencoder: Autoencoder
    denoiser: Denoiser
    classifier: Classifier
    latent_scale: float  # z_diffusion = latent_scale * encoder(x)   (SD v1: 0.18215)
    schedule: str = SCHEDULE
    num_train_steps: int = NUM_TRAIN_STEPS
    alpha_bar: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.alpha_bar = dm.alphas_cumprod(dm.beta_schedule(self.schedule, self.num_train_steps))
        for m in (self.autoencoder, self.denoiser, self.classifier):
            m.eval()

    # Inference without autograd: `with torch.no_grad()` blocks, not the decorator (mutmut 3 skips
    # decorated functions, so they would have no mutation score).
    def encode(self, images: np.ndarray) -> np.ndarray:
        """(N, 32, 32, 3) in [-1, 1] -> scaled latents (N, 4, 8, 8)."""
        with torch.no_grad():
            return (self.latent_scale * self.autoencoder.encode(to_chw(images))).numpy().astype(np.float64)

    def decode(self, latents: np.ndarray) -> np.ndarray:
        """Scaled latents (..., 4, 8, 8) -> images (..., 32, 32, 3) in [-1, 1]."""
        lead = latents.shape[:-3]
        z = torch.from_numpy(np.asarray(latents, dtype=np.float32).reshape(-1, *latents.shape[-3:]))
        with torch.no_grad():
            x = to_hwc(self.autoencoder.decode(z / self.latent_scale))
        return x.reshape(*lead, *x.shape[1:])

    def features(self, images: np.ndarray) -> np.ndarray:
        """The classifier's penultimate activations (N, 64): the feature space of the distance."""
        with torch.no_grad():
            return self.classifier.trunk(to_chw(images)).double().numpy()

    def classify(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Per attribute, probabilities (N, K) for images (N, 32, 32, 3) in [-1, 1]."""
        with torch.no_grad():
            return {k: torch.softmax(v, dim=1).numpy() for k, v in self.classifier(to_chw(images)).items()}

    def parameter_counts(self) -> dict[str, int]:
        """Parameters of each network (the page's system diagram)."""
        count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
        return {"text_encoder": count(self.denoiser.text), "unet": count(self.denoiser.unet),
                "autoencoder": count(self.autoencoder), "classifier": count(self.classifier)}  # fmt: skip

    def state(self) -> dict:
        return {
            "autoencoder": self.autoencoder.state_dict(),
            "denoiser": self.denoiser.state_dict(),
            "classifier": self.classifier.state_dict(),
            "latent_scale": float(self.latent_scale),
            "schedule": self.schedule,
            "num_train_steps": self.num_train_steps,
            "width": self.denoiser.unet.width,
        }


def save(model: LatentDiffusion, path: str) -> None:
    """Write all weights as float16 (halves the file; the nets run in float32)."""
    state = model.state()
    for k in ("autoencoder", "denoiser", "classifier"):
        state[k] = {n: v.half() if v.is_floating_point() else v for n, v in state[k].items()}
    torch.save(state, path)


def load(path: str | Path) -> LatentDiffusion:
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    ae, den, clf = Autoencoder(), Denoiser(width=int(state["width"])), Classifier()
    for m, k in ((ae, "autoencoder"), (den, "denoiser"), (clf, "classifier")):
        m.load_state_dict({n: v.float() for n, v in state[k].items()})
    return LatentDiffusion(ae, den, clf, float(state["latent_scale"]), state["schedule"], int(state["num_train_steps"]))


@functools.lru_cache(maxsize=1)
def shipped_model() -> LatentDiffusion:
    """The weights shipped in assets/ (trained by scripts/train_latent_diffusion.py), loaded once."""
    return load(ASSET)


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
    stops the encoder from inflating the latent to drown that noise (a crude stand-in for
    SD's KL regulariser).
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
    images: np.ndarray, attrs: dict[str, np.ndarray], num_iters: int, seed: int, batch_size: int = 64,
    lr: float = 2e-3,
) -> tuple[Classifier, np.ndarray]:
    """Cross-entropy training of the scoring classifier (sum over the attribute heads)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Classifier()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    x_all = to_chw(images)
    y_all = {k: torch.from_numpy(np.asarray(v, dtype=np.int64)) for k, v in attrs.items() if k in ATTRIBUTES}
    losses = np.zeros(num_iters)
    for i, idx in zip(range(num_iters), _batches(len(images), batch_size, rng), strict=False):
        out = model(x_all[idx])
        loss = sum(F.cross_entropy(out[k], y_all[k][idx]) for k in ATTRIBUTES)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[i] = loss.item()
    model.eval()
    return model, losses


def train_denoiser(
    latents: np.ndarray, attrs: dict[str, np.ndarray], num_iters: int, seed: int, batch_size: int = 64,
    lr: float = 2e-3, width: int = 48, p_uncond: float = P_UNCOND, ema_decay: float = 0.999,
    schedule: str = SCHEDULE, num_train_steps: int = NUM_TRAIN_STEPS, warmup: int = 200,
    log: Callable[[int, float], None] | None = None,
    checkpoint: Callable[[int, Denoiser], None] | None = None, checkpoint_every: int = 1000,
) -> tuple[Denoiser, np.ndarray]:
    """Ho et al. Algorithm 1 on scaled latents, text encoder and U-Net jointly, with condition
    dropout (a fresh random partial caption per draw; the empty prompt with prob. ``p_uncond``).

    The learning rate warms up linearly over ``warmup`` iterations, then stays constant, so
    every checkpoint (``checkpoint(i, ema)`` every ``checkpoint_every`` iterations) is usable.
    Returns the exponential moving average of the weights (what gets shipped) and the loss
    per iteration.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    alpha_bar = dm.alphas_cumprod(dm.beta_schedule(schedule, num_train_steps))
    model = Denoiser(width=width)
    ema = Denoiser(width=width)
    ema.load_state_dict(model.state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / max(warmup, 1)))
    losses = np.zeros(num_iters)
    for i, idx in zip(range(num_iters), _batches(len(latents), batch_size, rng), strict=False):
        z0 = latents[idx]  # (B, 4, 8, 8)
        t = rng.integers(0, num_train_steps, size=batch_size)  # t ~ Uniform{0..T-1}
        eps = rng.standard_normal(z0.shape)  # eps ~ N(0, I)
        z_t = dm.q_sample(z0, alpha_bar[t], eps)  # sqrt(a_t) z0 + sqrt(1 - a_t) eps
        # condition dropout: with probability p_uncond train on the empty prompt
        prompts = ["" if rng.random() < p_uncond else caption(attrs, j, rng) for j in idx]
        ids, mask = encode_tokens(prompts)
        eps_theta = model(torch.from_numpy(z_t).float(), torch.from_numpy(t), ids, mask)
        # L = || eps - eps_theta(z_t, t, tau(y)) ||^2        (Rombach et al. eq. 3)
        loss = F.mse_loss(eps_theta, torch.from_numpy(eps).float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
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
        if checkpoint is not None and (i + 1) % checkpoint_every == 0:
            checkpoint(i + 1, ema)
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
    images: np.ndarray  # (F, N, 32, 32, 3) decoded latents at those entries, in [-1, 1]
    x0_images: np.ndarray  # (F, N, 32, 32, 3) decoded x0-predictions (last frame: the final image)
    final: np.ndarray  # (N, 32, 32, 3) decoded z_0, in [-1, 1]
    tokens: list[str]  # the prompt's tokens, <start> first
    # (S, N, L, 8, 8): at each step, each token's cross-attention weight at every latent position
    # (conditional branch, averaged over heads and the two 8 x 8 layers); sums to 1 over L
    cross_attention: np.ndarray


@dataclass
class Generation:
    """What ``generate`` returns."""

    images: np.ndarray  # (n, 32, 32, 3) in [0, 1]
    tokens: list[str]  # <start> and the prompt's words
    cross_attention: np.ndarray  # (S, n, len(tokens), 8, 8), see Trajectory
    trajectory: Trajectory


class _Conditioning:
    """The prompts and the negative prompt encoded once per run; eps_theta for [cond; neg] per step."""

    def __init__(self, den: Denoiser, prompts: list[str], negative_prompt: str):
        n = len(prompts)
        ids, mask = encode_tokens([*prompts, negative_prompt])
        with torch.no_grad():
            ctx = den.text(ids, mask)  # (n + 1, L, D)
        self.n = n
        self.length = int(mask[:n].sum(dim=1).max())
        self.context = torch.cat([ctx[:n], ctx[n:].expand(n, -1, -1)])  # (2n, L, D)
        self.mask = torch.cat([mask[:n], mask[n:].expand(n, -1)])
        self.unet = den.unet

    def __call__(self, z: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(eps_cond, eps_neg, attention (n, L_prompt, 8, 8) of the conditional branch) at z_t."""
        zt = torch.from_numpy(z).float()
        store: list[torch.Tensor] = []
        with torch.no_grad():
            out = self.unet(torch.cat([zt, zt]), torch.full((2 * self.n,), int(t)), self.context, self.mask, store)
        attn = torch.stack(store).mean(dim=0)[: self.n, :, : self.length]  # (n, HW, L)
        attn = attn.transpose(1, 2).reshape(self.n, self.length, LATENT_SIZE, LATENT_SIZE)
        out = out.double().numpy()
        return out[: self.n], out[self.n :], attn.numpy()


def sample(
    model: LatentDiffusion,
    prompt: str | list[str],
    num_steps: int,
    sampler: str = "ddim",
    eta: float = 0.0,
    guidance_scale: float = 3.0,
    seed: int = 0,
    num_samples: int = 8,
    num_frames: int | None = None,
    negative_prompt: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> Trajectory:
    """Generate ``num_samples`` latents for ``prompt`` and decode them.

    ``sampler`` is "ddpm" (ancestral, posterior variance) or "ddim" (with ``eta``); both visit
    ``num_steps`` training steps with trailing spacing so the first step is at t = T - 1.
    Guidance: eps = eps(neg) + w (eps(prompt) - eps(neg)), where neg is the negative prompt
    (empty: the unconditional prediction). ``num_frames`` decodes that many evenly spaced
    trajectory entries (None: all). ``progress(i, S)`` is called after each step.
    ``prompt`` may be a list, one prompt per sample (then ``tokens`` are the first one's, and
    the attention is padded to the longest). Raises ValueError for an unknown word or sampler.
    """
    if sampler not in ("ddpm", "ddim"):
        raise ValueError(f"unknown sampler {sampler!r}")
    prompts = [prompt] * num_samples if isinstance(prompt, str) else list(prompt)
    if len(prompts) != num_samples:
        raise ValueError("need one prompt per sample")
    tokens = [START, *tokenize(prompts[0])]
    tokenize(negative_prompt)
    rng = np.random.default_rng(seed)
    alpha_bar = model.alpha_bar
    ts = dm.inference_timesteps(model.num_train_steps, num_steps, spacing="trailing")
    S = len(ts)
    eps_theta = _Conditioning(model.denoiser, prompts, negative_prompt)
    shape = (num_samples, LATENT_CHANNELS, LATENT_SIZE, LATENT_SIZE)
    # 1. start from pure noise z_T ~ N(0, I)
    z = rng.standard_normal(shape)
    latents = np.empty((S + 1, *shape))
    x0s = np.empty((S, *shape))
    attn = np.empty((S, num_samples, eps_theta.length, LATENT_SIZE, LATENT_SIZE), dtype=np.float32)
    latents[0] = z
    for i, t in enumerate(ts):
        alpha_bar_t = alpha_bar[t]
        alpha_bar_prev = alpha_bar[ts[i + 1]] if i + 1 < S else 1.0
        # 2. eps_theta(z_t, t, tau(prompt)) and eps_theta(z_t, t, tau(negative)) in one batch
        eps_c, eps_n, attn[i] = eps_theta(z, t)
        # 3. classifier-free guidance  eps = eps_neg + w (eps_c - eps_neg)
        eps = dm.guided_eps(eps_n, eps_c, guidance_scale)
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
    x0_images = model.decode(np.concatenate([x0s, latents[-1:]])[frames])
    final = images[-1] if frames[-1] == S else model.decode(latents[-1])
    return Trajectory(ts, latents, x0s, frames, images, x0_images, final, tokens, attn)


def generate(
    prompt: str,
    *,
    negative_prompt: str = "",
    steps: int = 50,
    guidance: float = 3.0,
    sampler: str = "ddim",
    eta: float = 0.0,
    seed: int = 0,
    n: int = 8,
) -> Generation:
    """Text to images with the shipped model: ``n`` samples for ``prompt`` (see ``sample``).

    Images come back in [0, 1]; an empty prompt samples unconditionally; an unknown word
    raises ValueError naming it and the closest known words.
    """
    traj = sample(shipped_model(), prompt, steps, sampler=sampler, eta=eta, guidance_scale=guidance, seed=seed,
                  num_samples=n, num_frames=min(steps + 1, 9), negative_prompt=negative_prompt)  # fmt: skip
    return Generation((traj.final + 1.0) / 2.0, traj.tokens, traj.cross_attention, traj)


# ---------------------------------------------------------------------------- scoring


def parse_caption(prompt: str) -> dict[str, int]:
    """The attributes a prompt names, as indices (an attribute it leaves out is absent)."""
    words = tokenize(prompt)
    out = {}
    for key, values in (("shape", SHAPES), ("colour", COLOURS), ("size", SIZES), ("position", POSITIONS)):
        named = [values.index(w) for w in words if w in values]
        if named:
            out[key] = named[-1]
    return out


def foreground_hue(images01: np.ndarray, threshold: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Per image (N, 32, 32, 3) in [0, 1]: the circular mean HSV hue (turns) of its foreground
    pixels (max channel > ``threshold``) and their mean saturation. NaN hue: no foreground."""
    x = np.asarray(images01, dtype=np.float64)
    mx, mn = x.max(axis=-1), x.min(axis=-1)
    fg = mx > threshold
    chroma = mx - mn
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    safe = np.where(chroma > 0, chroma, 1.0)
    # HSV hue in sixths of a turn (the hexagonal formula); 0 where chroma = 0
    h6 = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4))
    angle = 2 * np.pi * h6 / 6
    # circular mean, weighted by chroma (grey pixels have no hue)
    w = fg * chroma
    s, c = (w * np.sin(angle)).sum(axis=(1, 2)), (w * np.cos(angle)).sum(axis=(1, 2))
    hue = np.where(w.sum(axis=(1, 2)) > 0, (np.arctan2(s, c) / (2 * np.pi)) % 1.0, np.nan)
    sat = np.where(fg, chroma / np.where(mx > 0, mx, 1.0), 0).sum(axis=(1, 2)) / np.maximum(fg.sum(axis=(1, 2)), 1)
    return hue, sat


def hue_colour(hue: np.ndarray) -> np.ndarray:
    """Index of the nearest colour in COLOUR_HUES (circular distance); -1 for NaN."""
    d = np.abs(np.asarray(hue)[:, None] - np.asarray(COLOUR_HUES)[None, :])
    d = np.minimum(d, 1.0 - d)
    return np.where(np.isnan(hue), -1, np.nanargmin(np.where(np.isnan(d), np.inf, d), axis=1))


def attribute_accuracy(model: LatentDiffusion, images: np.ndarray, targets: dict[str, np.ndarray]) -> dict[str, float]:
    """Fraction of images (N, 32, 32, 3) in [-1, 1] whose predicted attribute is the target,
    for each attribute in ``targets`` (index arrays, or one index for all); also "colour_hue",
    the colour check without the classifier."""
    probs = model.classify(images)
    out = {k: float((probs[k].argmax(axis=1) == np.asarray(v)).mean()) for k, v in targets.items()}
    if "colour" in targets:
        hue, _ = foreground_hue((images + 1.0) / 2.0)
        out["colour_hue"] = float((hue_colour(hue) == np.asarray(targets["colour"])).mean())
    return out


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


def score(model: LatentDiffusion, images: np.ndarray, targets: dict[str, np.ndarray], reference: np.ndarray) -> dict:
    """Per-attribute accuracy (``attribute_accuracy``) and the Frechet distance between the
    classifier features of ``images`` and of the real ``reference`` images (lower: closer to
    the data; biased upwards for few samples, so compare runs of equal size)."""
    return {
        **attribute_accuracy(model, images, targets),
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
    """Mean HSV saturation of each image's foreground pixels, (N,), for images (N, H, W, 3) in [-1, 1]
    (``foreground_hue``'s second output)."""
    return foreground_hue((np.asarray(images, dtype=np.float64) + 1.0) / 2.0, threshold)[1]


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
