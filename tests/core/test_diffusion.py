"""Tests of core.diffusion against independent definitions and published numbers.

Published numbers used here:
* huggingface/diffusers tests/schedulers/test_scheduler_ddim.py (DDIMSchedulerTest):
  test_full_loop_no_noise -> sum |x| = 172.0067 (tol 1e-2), mean |x| = 0.223967 (tol 1e-3);
  test_variance -> _get_variance(420, 400) = 0.14771, (980, 960) = 0.32460,
  (487, 486) = 0.00979, (999, 998) = 0.02 (tol 1e-5); test_steps_offset ->
  set_timesteps(5) with steps_offset = 1 gives [801, 601, 401, 201, 1].
  Config there: 1000 steps, linear betas 1e-4 .. 0.02, clip_sample=True (range 1),
  set_alpha_to_one=True, eta = 0, 10 inference steps; dummy_sample_deter and
  dummy_model from tests/schedulers/test_schedulers.py (SchedulerCommonTest).
* Stable Diffusion v1 scheduler config (CompVis/stable-diffusion-v1-4 scheduler_config.json,
  configs/stable-diffusion/v1-inference.yaml): beta_start 0.00085, beta_end 0.012,
  beta_schedule "scaled_linear", num_train_timesteps 1000.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import diffusion as dm

T = 1000


def _literal_cumprod(beta_of: callable, n: int) -> list[float]:
    """alpha_bar_t = prod_{s<=t} (1 - beta_s), as a plain Python loop."""
    out, acc = [], 1.0
    for i in range(n):
        acc *= 1.0 - beta_of(i)
        out.append(acc)
    return out


# ------------------------------------------------------------------ schedules


@pytest.mark.parametrize("idx", [0, T // 2 - 1, T - 1])
def test_linear_alpha_bar_matches_definition(idx):
    # DDPM (Ho et al. 2020, sec. 4): beta_t linear from 1e-4 to 0.02 over T = 1000 steps.
    ref = _literal_cumprod(lambda i: 1e-4 + (0.02 - 1e-4) * i / (T - 1), T)
    ab = dm.alphas_cumprod(dm.beta_schedule("linear", T))
    assert ab[idx] == pytest.approx(ref[idx], rel=1e-12)


@pytest.mark.parametrize("idx", [0, T // 2 - 1, T - 1])
def test_scaled_linear_alpha_bar_matches_definition(idx):
    # linear in sqrt(beta): beta_i = (sqrt(b0) + i (sqrt(b1) - sqrt(b0)) / (T - 1))^2
    b0, b1 = math.sqrt(0.00085), math.sqrt(0.012)
    ref = _literal_cumprod(lambda i: (b0 + (b1 - b0) * i / (T - 1)) ** 2, T)
    ab = dm.alphas_cumprod(dm.beta_schedule("scaled_linear", T))
    assert ab[idx] == pytest.approx(ref[idx], rel=1e-12)


def test_scaled_linear_is_stable_diffusion_v1_config():
    # SD v1: beta_start 0.00085, beta_end 0.012, "scaled_linear", 1000 training steps.
    betas = dm.beta_schedule("scaled_linear")
    assert betas.shape == (1000,)
    assert betas[0] == pytest.approx(0.00085, rel=1e-12)
    assert betas[-1] == pytest.approx(0.012, rel=1e-12)
    # the square roots are evenly spaced (the definition of "scaled_linear")
    np.testing.assert_allclose(np.diff(np.sqrt(betas)), (0.012**0.5 - 0.00085**0.5) / 999, rtol=1e-9)


@pytest.mark.parametrize("idx", [0, T // 2 - 1])
def test_cosine_alpha_bar_matches_closed_form(idx):
    # Nichol & Dhariwal eq. (17): alpha_bar(t) = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2);
    # index idx is training step t = idx + 1. No clipping happens before the last step.
    s = 0.008

    def f(t):
        return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    ab = dm.alphas_cumprod(dm.beta_schedule("cosine", T))
    assert ab[idx] == pytest.approx(f(idx + 1) / f(0), rel=1e-9)


def test_cosine_last_step_is_clipped():
    # f(T) = 0 would make beta_T = 1; the schedule clips it to 0.999 (Nichol & Dhariwal sec. 3.2).
    s = 0.008

    def f(t):
        return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    betas = dm.beta_schedule("cosine", T)
    assert betas.max() == pytest.approx(0.999)
    ab = dm.alphas_cumprod(betas)
    assert ab[-1] == pytest.approx(f(T - 1) / f(0) * (1 - 0.999), rel=1e-9)


def test_cosine_keeps_signal_longer_than_linear():
    # the claim the page makes (Nichol & Dhariwal fig. 5): at mid-schedule cosine retains more signal
    ab = {k: dm.alphas_cumprod(dm.beta_schedule(k)) for k in dm.SCHEDULES}
    assert ab["cosine"][T // 2] > ab["scaled_linear"][T // 2] > ab["linear"][T // 2]


def test_unknown_schedule_raises():
    with pytest.raises(ValueError):
        dm.beta_schedule("quadratic")


@pytest.mark.parametrize("kind", dm.SCHEDULES)
def test_snr_decreases_and_is_one_at_half(kind):
    ab = dm.alphas_cumprod(dm.beta_schedule(kind))
    assert np.all(np.diff(dm.snr(ab)) < 0)
    assert dm.snr(0.5) == pytest.approx(1.0)


# ------------------------------------------------------------------ forward process


def test_q_sample_moments_monte_carlo():
    # x_t | x_0 ~ N(sqrt(a) x0, (1 - a) I): check mean and variance from 200k draws (5 sigma).
    rng = np.random.default_rng(0)
    a, x0, n = 0.3, 0.8, 200_000
    xt = dm.q_sample(np.full(n, x0), a, rng.standard_normal(n))
    var = 1 - a
    assert abs(xt.mean() - math.sqrt(a) * x0) < 5 * math.sqrt(var / n)
    assert abs(xt.var() - var) < 5 * var * math.sqrt(2 / n)


def test_q_sample_per_sample_alpha_bar():
    # a (B,) alpha_bar broadcasts over (B, C, H, W), one value per sample
    rng = np.random.default_rng(1)
    x0, eps = rng.standard_normal((3, 2, 4, 4)), rng.standard_normal((3, 2, 4, 4))
    a = np.array([0.9, 0.5, 0.1])
    out = dm.q_sample(x0, a, eps)
    for b in range(3):
        np.testing.assert_allclose(out[b], math.sqrt(a[b]) * x0[b] + math.sqrt(1 - a[b]) * eps[b], rtol=1e-12)


# ------------------------------------------------------------------ reverse steps

alpha_pair = st.tuples(st.floats(0.01, 0.98), st.floats(0.05, 0.99)).map(
    lambda p: (p[0] * p[1], p[1])  # alpha_bar_t < alpha_bar_prev, both in (0, 1)
)


@settings(max_examples=50, deadline=None)
@given(alpha_pair, st.integers(0, 2**31 - 1))
def test_ddim_eta_one_is_ddpm_posterior(pair, seed):
    # Song et al. eq. (16) with eta = 1 equals Ho et al. eq. (7) beta_tilde; the means agree too.
    a_t, a_prev = pair
    rng = np.random.default_rng(seed)
    x, eps, z = (rng.standard_normal(8) for _ in range(3))
    ddim = dm.ddim_step(x, eps, a_t, a_prev, eta=1.0, noise=z)
    ddpm = dm.ddpm_step(x, eps, a_t, a_prev, z)
    # closed form, computed here: beta_tilde = (1 - a_prev)/(1 - a_t) (1 - a_t/a_prev)
    beta_tilde = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    assert ddim.variance == pytest.approx(beta_tilde, rel=1e-10)
    assert ddpm.variance == pytest.approx(beta_tilde, rel=1e-10)
    np.testing.assert_allclose(ddim.mean, ddpm.mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ddim.x_prev, ddpm.x_prev, rtol=1e-8, atol=1e-10)


@settings(max_examples=50, deadline=None)
@given(alpha_pair, st.integers(0, 2**31 - 1))
def test_ddpm_mean_matches_eps_form(pair, seed):
    # Ho et al. eq. (11): mu = (x_t - beta / sqrt(1 - a_t) eps) / sqrt(alpha), alpha = a_t / a_prev
    a_t, a_prev = pair
    rng = np.random.default_rng(seed)
    x, eps = rng.standard_normal(6), rng.standard_normal(6)
    alpha = a_t / a_prev
    mu = (x - (1 - alpha) / math.sqrt(1 - a_t) * eps) / math.sqrt(alpha)
    np.testing.assert_allclose(dm.ddpm_step(x, eps, a_t, a_prev, None).mean, mu, rtol=1e-8, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(alpha_pair, st.integers(0, 2**31 - 1))
def test_ddim_eta_zero_is_deterministic(pair, seed):
    a_t, a_prev = pair
    rng = np.random.default_rng(seed)
    x, eps = rng.standard_normal(5), rng.standard_normal(5)
    s1 = dm.ddim_step(x, eps, a_t, a_prev, eta=0.0, noise=rng.standard_normal(5))
    s2 = dm.ddim_step(x, eps, a_t, a_prev, eta=0.0, noise=rng.standard_normal(5))
    s3 = dm.ddim_step(x, eps, a_t, a_prev, eta=0.0, noise=None)
    assert s1.variance == 0.0
    np.testing.assert_array_equal(s1.x_prev, s2.x_prev)
    np.testing.assert_array_equal(s1.x_prev, s3.x_prev)


def test_ddim_with_true_noise_lands_on_forward_marginal():
    # If eps is the noise that made x_t, eta = 0 DDIM gives sqrt(a_prev) x0 + sqrt(1 - a_prev) eps.
    rng = np.random.default_rng(3)
    x0, eps = rng.standard_normal(10), rng.standard_normal(10)
    a_t, a_prev = 0.2, 0.7
    out = dm.ddim_step(dm.q_sample(x0, a_t, eps), eps, a_t, a_prev).x_prev
    np.testing.assert_allclose(out, math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps, rtol=1e-10)


def test_ddim_with_eta_needs_noise():
    with pytest.raises(ValueError):
        dm.ddim_step(np.zeros(2), np.zeros(2), 0.5, 0.9, eta=0.5, noise=None)


@pytest.mark.parametrize(("t", "prev", "published"), [(420, 400, 0.14771), (980, 960, 0.32460),
                                                      (487, 486, 0.00979), (999, 998, 0.02)])  # fmt: skip
def test_posterior_variance_matches_diffusers_published(t, prev, published):
    # diffusers DDIMSchedulerTest.test_variance, linear 1e-4 .. 0.02, tol 1e-5
    ab = dm.alphas_cumprod(dm.beta_schedule("linear", 1000))
    var = dm.ddim_step(np.zeros(1), np.zeros(1), ab[t], ab[prev], eta=1.0, noise=np.zeros(1)).variance
    assert abs(var - published) < 1e-5


def test_inference_timesteps_published_and_trailing():
    # diffusers DDIMSchedulerTest.test_steps_offset: 5 steps, offset 1 -> [801, 601, 401, 201, 1]
    assert dm.inference_timesteps(1000, 5, steps_offset=1).tolist() == [801, 601, 401, 201, 1]
    assert dm.inference_timesteps(1000, 10).tolist() == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]
    # trailing (Lin et al. 2024): one step starts at the last training step
    assert dm.inference_timesteps(1000, 1, spacing="trailing").tolist() == [999]
    assert dm.inference_timesteps(1000, 1000, spacing="trailing").tolist() == list(range(999, -1, -1))


@given(st.integers(1, 1000), st.sampled_from(["leading", "trailing"]))
def test_inference_timesteps_are_a_descending_subsequence(n, spacing):
    ts = dm.inference_timesteps(1000, n, spacing=spacing)
    assert len(ts) == n
    assert np.all(np.diff(ts) < 0)
    assert ts.min() >= 0 and ts.max() <= 999


def test_guided_eps_scales():
    rng = np.random.default_rng(4)
    u, c = rng.standard_normal(7), rng.standard_normal(7)
    np.testing.assert_array_equal(dm.guided_eps(u, c, 1.0), c)  # scale 1: plain conditional
    np.testing.assert_array_equal(dm.guided_eps(u, c, 0.0), u)  # scale 0: unconditional
    np.testing.assert_allclose(dm.guided_eps(u, c, 7.5), u + 7.5 * (c - u), rtol=1e-12)


# ------------------------------------------------------------------ diffusers reference loop


def test_ddim_full_loop_no_noise_matches_diffusers():
    # dummy_sample_deter: arange(4*3*8*8) reshaped (C, H, W, B), / num_elems, permuted to (B, C, H, W)
    n = 4 * 3 * 8 * 8
    sample = (np.arange(n).reshape(3, 8, 8, 4) / n).transpose(3, 0, 1, 2)
    alpha_bar = dm.alphas_cumprod(dm.beta_schedule("linear", 1000))
    timesteps = dm.inference_timesteps(1000, 10)  # leading: 900 .. 0, step ratio 100
    for t in timesteps:
        residual = sample * t / (t + 1)  # dummy_model(sample, t)
        prev = t - 100
        alpha_bar_prev = alpha_bar[prev] if prev >= 0 else 1.0  # set_alpha_to_one=True
        sample = dm.ddim_step(sample, residual, alpha_bar[t], alpha_bar_prev, eta=0.0, clip_x0=1.0).x_prev
    assert abs(np.abs(sample).sum() - 172.0067) < 1e-2
    assert abs(np.abs(sample).mean() - 0.223967) < 1e-3


# ------------------------------------------------------------------ mutation testing (issue 21)


def test_ddpm_step_clips_x0_on_both_sides_then_forms_the_posterior_mean():
    # Ho et al. eq. (7) written out here with the clipped x0_hat; values where x0_hat leaves [-1, 1] both ways
    a_t, a_prev = 0.3, 0.6
    x = np.array([2.0, -2.5, 0.1, 0.0])
    eps = np.array([-0.5, 0.5, 0.2, 0.0])
    x0_raw = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
    assert x0_raw[0] > 1 and x0_raw[1] < -1 and abs(x0_raw[2]) < 1  # the case the test is about
    x0 = np.minimum(np.maximum(x0_raw, -1.0), 1.0)
    alpha = a_t / a_prev
    beta = 1 - alpha
    mean = math.sqrt(a_prev) * beta / (1 - a_t) * x0 + math.sqrt(alpha) * (1 - a_prev) / (1 - a_t) * x
    var = (1 - a_prev) / (1 - a_t) * beta
    z = np.array([0.3, -1.0, 2.0, 0.5])
    step = dm.ddpm_step(x, eps, a_t, a_prev, z, clip_x0=1.0)
    np.testing.assert_allclose(step.x0, x0, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(step.mean, mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(step.x_prev, mean + math.sqrt(var) * z, rtol=1e-12, atol=1e-15)
    assert step.variance == pytest.approx(var, rel=1e-12)
    # without clip_x0 nothing is clipped; the default is no clipping
    np.testing.assert_allclose(dm.ddpm_step(x, eps, a_t, a_prev, None).x0, x0_raw, rtol=1e-12)
    # a wider clip range (2) clips the first entry only at 2
    wide = dm.ddpm_step(x, eps, a_t, a_prev, None, clip_x0=2.0).x0
    np.testing.assert_allclose(wide, np.clip(x0_raw, -2.0, 2.0), rtol=1e-12)


def test_ddim_step_clips_x0_but_keeps_the_models_eps_for_the_direction():
    # Song et al. eq. (12), eta = 0, written out: sqrt(a_prev) clip(x0_hat) + sqrt(1 - a_prev) eps
    a_t, a_prev = 0.3, 0.6
    x = np.array([2.0, -2.5, 0.1])
    eps = np.array([-0.5, 0.5, 0.2])
    x0 = np.clip((x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t), -1.0, 1.0)
    out = dm.ddim_step(x, eps, a_t, a_prev, clip_x0=1.0)
    np.testing.assert_allclose(out.x0, x0, rtol=1e-12)
    np.testing.assert_allclose(out.x_prev, math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps, rtol=1e-12)
    # eta between 0 and 1: sigma^2 = eta^2 beta_tilde, direction sqrt(1 - a_prev - sigma^2) eps (eq. 16)
    z = np.array([1.0, -0.5, 0.25])
    eta = 0.5
    var = eta**2 * (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    raw = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
    ref = math.sqrt(a_prev) * raw + math.sqrt(1 - a_prev - var) * eps + math.sqrt(var) * z
    got = dm.ddim_step(x, eps, a_t, a_prev, eta=eta, noise=z)
    assert got.variance == pytest.approx(var, rel=1e-12)
    np.testing.assert_allclose(got.x_prev, ref, rtol=1e-12)


def test_ddim_direction_is_zero_when_the_variance_uses_all_the_noise():
    # a_prev = 1 (the last step, set_alpha_to_one): 1 - a_prev - sigma^2 = 0, direction 0, x_prev = x0_hat
    x, eps = np.array([0.4, -0.7]), np.array([0.9, 0.1])
    out = dm.ddim_step(x, eps, 0.5, 1.0, eta=1.0, noise=np.array([3.0, 3.0]))
    x0 = (x - math.sqrt(0.5) * eps) / math.sqrt(0.5)
    assert out.variance == 0.0
    np.testing.assert_allclose(out.x_prev, x0, rtol=1e-12)


def test_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"^num_steps must be >= 1$"):
        dm.beta_schedule("linear", 0)
    with pytest.raises(ValueError, match=r"^unknown schedule 'quadratic'; expected one of "):
        dm.beta_schedule("quadratic")
    with pytest.raises(ValueError, match=r"^ddim_step with eta > 0 needs noise$"):
        dm.ddim_step(np.zeros(2), np.zeros(2), 0.5, 0.9, eta=0.5)
    with pytest.raises(ValueError, match=r"^need 1 <= num_inference_steps <= num_train_steps$"):
        dm.inference_timesteps(10, 11)
    with pytest.raises(ValueError, match=r"^need 1 <= num_inference_steps <= num_train_steps$"):
        dm.inference_timesteps(10, 0)
    with pytest.raises(ValueError, match=r"^unknown spacing 'middle'$"):
        dm.inference_timesteps(10, 2, spacing="middle")


@pytest.mark.parametrize("kind", dm.SCHEDULES)
def test_a_one_step_schedule_is_allowed(kind):
    # T = 1: linear starts at 1e-4, scaled_linear at 0.00085 (linspace of one point is its start);
    # cosine: beta = 1 - f(1)/f(0) = 1 - cos^2(pi/2) / cos^2(s/(1+s) pi/2) = 1, clipped to 0.999
    expected = {"linear": 1e-4, "scaled_linear": 0.00085, "cosine": 0.999}[kind]
    betas = dm.beta_schedule(kind, 1)
    assert betas.shape == (1,) and betas[0] == pytest.approx(expected, rel=1e-12)


def test_leading_timesteps_with_a_remainder_and_an_offset():
    # T = 10, S = 3: ratio 10 // 3 = 3 -> 6, 3, 0 (the remainder is dropped), offset 1 -> 7, 4, 1
    assert dm.inference_timesteps(10, 3).tolist() == [6, 3, 0]
    # T = 10, S = 4: the integer ratio 2 -> 6, 4, 2, 0 (not i * 2.5 rounded down: 7, 5, 2, 0)
    assert dm.inference_timesteps(10, 4).tolist() == [6, 4, 2, 0]
    assert dm.inference_timesteps(10, 4).dtype == np.int64
    assert dm.inference_timesteps(10, 3, steps_offset=1).tolist() == [7, 4, 1]
    # trailing, T = 10, S = 3: round(10 - i 10/3) - 1 = 9, 6, 2 (round(3.33) = 3)
    assert dm.inference_timesteps(10, 3, spacing="trailing").tolist() == [9, 6, 2]
    assert dm.inference_timesteps(10, 3, spacing="trailing").dtype == np.int64


def test_float32_inputs_are_computed_in_float64():
    # alpha_bar over 1000 steps accumulated in float64 (a float32 product drifts by ~1e-5 relative);
    # reference: the literal Python-float loop over the same float32 betas; tolerance 1e-12 relative
    betas32 = dm.beta_schedule("linear", T).astype(np.float32)
    ref = _literal_cumprod(lambda i: float(betas32[i]), T)
    ab = dm.alphas_cumprod(betas32)
    assert ab.dtype == np.float64
    np.testing.assert_allclose(ab, ref, rtol=1e-12)
    # SNR of a float32 alpha_bar: a / (1 - a) with a the float32 value, in float64 (1e-15 relative)
    a32 = np.float32(0.3)
    a = float(a32)
    assert dm.snr(a32).dtype == np.float64 and dm.snr(a32) == pytest.approx(a / (1 - a), rel=1e-15)
    # q_sample / predict_x0 with float32 per-sample alpha_bar: the coefficients are float64 (1e-14)
    rng = np.random.default_rng(9)
    x0, eps = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    a_b32 = np.array([0.37, 0.81], dtype=np.float32)
    ref_xt = np.array([math.sqrt(float(a_b32[b])) * x0[b] + math.sqrt(1 - float(a_b32[b])) * eps[b] for b in range(2)])
    np.testing.assert_allclose(dm.q_sample(x0, a_b32, eps), ref_xt, rtol=1e-14)
    ref_x0 = np.array([(ref_xt[b] - math.sqrt(1 - float(a_b32[b])) * eps[b]) / math.sqrt(float(a_b32[b])) for b in range(2)])
    np.testing.assert_allclose(dm.predict_x0(ref_xt, eps, a_b32), ref_x0, rtol=1e-13)


def test_predict_x0_per_sample_alpha_bar_inverts_q_sample():
    # x0_hat = (x_t - sqrt(1 - a_b) eps_b) / sqrt(a_b), one a_b per sample, written out (1e-12)
    rng = np.random.default_rng(10)
    x_t, eps = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    a = np.array([0.9, 0.5, 0.1])
    got = dm.predict_x0(x_t, eps, a)
    for b in range(3):
        np.testing.assert_allclose(got[b], (x_t[b] - math.sqrt(1 - a[b]) * eps[b]) / math.sqrt(a[b]), rtol=1e-12)
    x0 = rng.standard_normal((3, 2, 4))
    np.testing.assert_allclose(dm.predict_x0(dm.q_sample(x0, a, eps), eps, a), x0, rtol=1e-9, atol=1e-12)
