"""Diffusion maths in numpy: noise schedules, forward noising, DDPM / DDIM steps, guidance.

Everything here works on plain arrays of any shape, so the same functions drive the
pixel-space toy examples, the latent sampler in ``core.latent_diffusion`` and the tests.

Index convention (the one diffusers uses): arrays of length ``num_steps`` are indexed by
``t = 0 .. T-1``; ``alpha_bar[t]`` is the paper's :math:`\\bar\\alpha_{t+1}`. "Before the
first step" (a clean image) is ``alpha_bar = 1``.

References:
    Ho, Jain, Abbeel (2020) "Denoising Diffusion Probabilistic Models", arXiv:2006.11239:
        eq. (4) q(x_t | x_0); eq. (6)-(7) posterior mean and variance; sec. 4 linear betas
        1e-4 .. 0.02 with T = 1000; eq. (11) the mean written with eps.
    Song, Meng, Ermon (2021) "Denoising Diffusion Implicit Models", arXiv:2010.02502:
        eq. (12) the generalised step, eq. (16) sigma_t(eta); sec. 4.2 sub-sequences tau.
    Nichol, Dhariwal (2021) "Improved Denoising Diffusion Probabilistic Models",
        arXiv:2102.09672: eq. (17) cosine schedule with s = 0.008, betas clipped at 0.999.
    Rombach et al. (2022) "High-Resolution Image Synthesis with Latent Diffusion Models",
        arXiv:2112.10752; the Stable Diffusion v1 scheduler config: beta_start 0.00085,
        beta_end 0.012, beta_schedule "scaled_linear", num_train_timesteps 1000.
    Ho, Salimans (2021) "Classifier-Free Diffusion Guidance", arXiv:2207.12598: eq. (6).
    Kingma et al. (2021) "Variational Diffusion Models", arXiv:2107.00630: SNR(t) = alpha/sigma^2.
    Lin et al. (2024) "Common Diffusion Noise Schedules and Sample Steps are Flawed",
        arXiv:2305.08891: sec. 3.3 "trailing" timestep spacing (start sampling at t = T).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

ScheduleKind = Literal["linear", "scaled_linear", "cosine"]
SCHEDULES: tuple[str, ...] = ("linear", "scaled_linear", "cosine")


class Step(NamedTuple):
    """One reverse step: the new sample and the pieces it was built from."""

    x_prev: np.ndarray  # x_{t-1} (or x_{tau_{i-1}} for a strided sampler)
    mean: np.ndarray  # the deterministic part of x_prev
    variance: float | np.ndarray  # variance of the noise added (sigma_t^2)
    x0: np.ndarray  # predicted clean sample x0_hat


def beta_schedule(kind: str, num_steps: int = 1000) -> np.ndarray:
    """Per-step noise variances beta_t, shape (num_steps,).

    ``"linear"``: DDPM, 1e-4 .. 0.02 spaced linearly.
    ``"scaled_linear"``: Stable Diffusion, linear in sqrt(beta) from sqrt(0.00085) to
    sqrt(0.012). ``"cosine"``: Nichol & Dhariwal eq. (17), s = 0.008, beta <= 0.999.
    """
    if num_steps < 1:
        raise ValueError("num_steps must be >= 1")
    if kind == "linear":
        return np.linspace(1e-4, 0.02, num_steps)
    if kind == "scaled_linear":
        # beta_t = (sqrt(b0) + (sqrt(b1) - sqrt(b0)) * t / (T - 1))^2
        return np.linspace(0.00085**0.5, 0.012**0.5, num_steps) ** 2
    if kind == "cosine":
        s = 0.008
        # f(t) = cos^2( (t/T + s) / (1 + s) * pi/2 ),  alpha_bar(t) = f(t) / f(0)
        tau = np.arange(num_steps + 1) / num_steps
        f = np.cos((tau + s) / (1 + s) * np.pi / 2) ** 2
        # beta_t = 1 - alpha_bar(t) / alpha_bar(t-1), clipped to avoid a singular last step
        return np.minimum(1.0 - f[1:] / f[:-1], 0.999)
    raise ValueError(f"unknown schedule {kind!r}; expected one of {SCHEDULES}")


def alphas_cumprod(betas: np.ndarray) -> np.ndarray:
    """alpha_bar_t = prod_{s <= t} (1 - beta_s)  (Ho et al. eq. 4 notation)."""
    return np.cumprod(1.0 - np.asarray(betas, dtype=np.float64))


def snr(alpha_bar: np.ndarray | float) -> np.ndarray:
    """Signal-to-noise ratio SNR = alpha_bar / (1 - alpha_bar)  (Kingma et al. 2021)."""
    alpha_bar = np.asarray(alpha_bar, dtype=np.float64)
    return alpha_bar / (1.0 - alpha_bar)


def _per_sample(coef: np.ndarray | float, x: np.ndarray) -> np.ndarray:
    """Broadcast a scalar or a (B,) coefficient over a (B, ...) array."""
    coef = np.asarray(coef, dtype=np.float64)
    return coef.reshape(coef.shape + (1,) * (np.ndim(x) - coef.ndim))


def q_sample(x0: np.ndarray, alpha_bar_t: np.ndarray | float, noise: np.ndarray) -> np.ndarray:
    """Draw x_t ~ q(x_t | x_0) given the noise: the forward process in one jump.

    ``alpha_bar_t`` is a scalar or one value per sample (shape (B,) for x0 of shape (B, ...)).
    """
    alpha_bar_t = _per_sample(alpha_bar_t, x0)
    # x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps      (Ho et al. eq. 4)
    return np.sqrt(alpha_bar_t) * x0 + np.sqrt(1.0 - alpha_bar_t) * noise


def predict_x0(x_t: np.ndarray, eps: np.ndarray, alpha_bar_t: float | np.ndarray) -> np.ndarray:
    """Invert q_sample with the predicted noise: x0_hat = (x_t - sqrt(1 - a) eps) / sqrt(a)."""
    alpha_bar_t = _per_sample(alpha_bar_t, x_t)
    return (x_t - np.sqrt(1.0 - alpha_bar_t) * eps) / np.sqrt(alpha_bar_t)


def ddpm_step(
    x_t: np.ndarray,
    eps: np.ndarray,
    alpha_bar_t: float,
    alpha_bar_prev: float,
    noise: np.ndarray | None,
    clip_x0: float | None = None,
) -> Step:
    """One ancestral DDPM step x_t -> x_prev with the posterior q(x_prev | x_t, x0_hat).

    Works for a strided sub-sequence too: the step's own beta is
    1 - alpha_bar_t / alpha_bar_prev. ``noise=None`` returns the posterior mean.
    ``clip_x0`` clips x0_hat to [-clip_x0, clip_x0] before forming the mean.
    """
    # 1. predicted clean sample  x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)
    x0 = predict_x0(x_t, eps, alpha_bar_t)
    if clip_x0 is not None:
        x0 = np.clip(x0, -clip_x0, clip_x0)
    # 2. this step's alpha and beta:  alpha_t = alpha_bar_t / alpha_bar_prev, beta_t = 1 - alpha_t
    alpha_t = alpha_bar_t / alpha_bar_prev
    beta_t = 1.0 - alpha_t
    # 3. posterior mean (Ho et al. eq. 7):
    #    mu = sqrt(alpha_bar_prev) beta_t / (1 - alpha_bar_t) x0 + sqrt(alpha_t)(1 - alpha_bar_prev)/(1 - alpha_bar_t) x_t
    mean = (np.sqrt(alpha_bar_prev) * beta_t / (1.0 - alpha_bar_t)) * x0 + (
        np.sqrt(alpha_t) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t)
    ) * x_t
    # 4. posterior variance  beta_tilde = (1 - alpha_bar_prev) / (1 - alpha_bar_t) beta_t   (eq. 7)
    variance = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t) * beta_t
    x_prev = mean if noise is None else mean + np.sqrt(variance) * noise
    return Step(x_prev, mean, variance, x0)


def ddim_step(
    x_t: np.ndarray,
    eps: np.ndarray,
    alpha_bar_t: float,
    alpha_bar_prev: float,
    eta: float = 0.0,
    noise: np.ndarray | None = None,
    clip_x0: float | None = None,
) -> Step:
    """One generalised DDIM step (Song et al. eq. 12) from x_t to x_prev.

    eta = 0: deterministic DDIM; eta = 1: the DDPM posterior variance. ``clip_x0``
    clips x0_hat but keeps the model's eps for the direction term (as diffusers does).
    A step with eta > 0 needs ``noise``.
    """
    # 1. predicted clean sample  x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)
    x0 = predict_x0(x_t, eps, alpha_bar_t)
    if clip_x0 is not None:
        x0 = np.clip(x0, -clip_x0, clip_x0)
    # 2. sigma_t^2 = eta^2 (1 - alpha_bar_prev) / (1 - alpha_bar_t) (1 - alpha_bar_t / alpha_bar_prev)   (eq. 16)
    variance = eta**2 * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t) * (1.0 - alpha_bar_t / alpha_bar_prev)
    # 3. direction pointing to x_t:  sqrt(1 - alpha_bar_prev - sigma_t^2) eps
    direction = np.sqrt(np.maximum(1.0 - alpha_bar_prev - variance, 0.0)) * eps
    # 4. x_prev = sqrt(alpha_bar_prev) x0_hat + direction + sigma_t z
    mean = np.sqrt(alpha_bar_prev) * x0 + direction
    if variance > 0.0:
        if noise is None:
            raise ValueError("ddim_step with eta > 0 needs noise")
        x_prev = mean + np.sqrt(variance) * noise
    else:
        x_prev = mean
    return Step(x_prev, mean, variance, x0)


def inference_timesteps(
    num_train_steps: int,
    num_inference_steps: int,
    spacing: Literal["leading", "trailing"] = "leading",
    steps_offset: int = 0,
) -> np.ndarray:
    """Descending sub-sequence of training timesteps (indices 0..T-1) a sampler visits.

    ``"leading"``: t = i * (T // S) for i = S-1 .. 0 (DDIM paper's linear tau; diffusers'
    default); e.g. T = 1000, S = 10 -> 900, 800, ..., 0. ``"trailing"``: start at the last
    training step, t = round(T - i T / S) - 1 for i = 0 .. S-1 (Lin et al. 2024), so even one
    step starts from the pure-noise end: T = 1000, S = 1 -> 999.
    """
    if not 1 <= num_inference_steps <= num_train_steps:
        raise ValueError("need 1 <= num_inference_steps <= num_train_steps")
    if spacing == "leading":
        ratio = num_train_steps // num_inference_steps
        ts = np.arange(num_inference_steps)[::-1] * ratio + steps_offset
    elif spacing == "trailing":
        # t_i = round(T - i T / S) - 1,  i = 0 .. S-1
        ts = np.round(num_train_steps - np.arange(num_inference_steps) * num_train_steps / num_inference_steps) - 1
    else:
        raise ValueError(f"unknown spacing {spacing!r}")
    return ts.astype(np.int64)


def guided_eps(eps_uncond: np.ndarray, eps_cond: np.ndarray, scale: float) -> np.ndarray:
    """Classifier-free guidance: eps = eps_uncond + w (eps_cond - eps_uncond).

    w = 0: unconditional; w = 1: plain conditional; w > 1: pushed further towards the class.
    """
    # eps_tilde = eps(z, none) + w (eps(z, c) - eps(z, none))        (Ho & Salimans eq. 6, w = 1 + their w)
    return eps_uncond + scale * (eps_cond - eps_uncond)
