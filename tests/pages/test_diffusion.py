"""Page-specific checks for the latent diffusion page (the generic ones run from the registry)."""

from __future__ import annotations

import pytest

from tests.apptest_utils import assert_healthy, open_page
from ui.registry import by_key

SPEC = by_key("diffusion")


def test_invalid_url_values_are_ignored():
    at = open_page(
        SPEC, "en", {"steps": "5000", "sampler": "euler", "sched": "quadratic", "w": "-3", "t": "abc"}
    )
    assert_healthy(at, "bad URL")
    assert at.slider(key="steps").value == 50
    assert at.radio(key="sampler").value == "DDIM"
    assert at.selectbox(key="sched").value == "scaled_linear"


def test_url_sets_the_sampling_run():
    at = open_page(SPEC, "en", {"steps": "3", "w": "7.5", "cls": "triangle"})
    assert_healthy(at)
    summary = " ".join(m.value for m in at.markdown)
    assert "3 steps" in summary and "w = 7.5" in summary


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_one_step_preset_runs_one_step(lang):
    at = open_page(SPEC, lang)
    at.button(key="try_diffusion_one_step").click().run()
    assert_healthy(at)
    assert at.slider(key="steps").value == 1
    assert at.info, "the preset says what to watch for"


@pytest.mark.parametrize(("kind", "t_step"), [("scaled_linear", 0), ("cosine", 600), ("linear", 1000)])
def test_alpha_bar_and_snr_metrics_are_core_values(kind, t_step):
    # issue 21: the displayed numbers, read back, against core.diffusion for the same setting
    import numpy as np

    from core import diffusion as dm

    at = open_page(SPEC, "en")
    at.selectbox(key="sched").set_value(kind).run()
    at.slider(key="t").set_value(t_step).run()
    assert_healthy(at)
    alpha_bar = 1.0 if t_step == 0 else float(dm.alphas_cumprod(dm.beta_schedule(kind, 1000))[t_step - 1])
    assert float(at.metric[0].value) == pytest.approx(alpha_bar, abs=5e-5)
    assert float(at.metric[1].value) == pytest.approx(np.sqrt(alpha_bar), abs=5e-4)
    if t_step == 0:
        assert at.metric[2].value == "∞"
    else:
        assert float(at.metric[2].value) == pytest.approx(alpha_bar / (1 - alpha_bar), rel=5e-3)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_guidance_and_eta_presets_state_computed_numbers(lang):
    at = open_page(SPEC, lang)
    at.button(key="try_diffusion_guidance").click().run()
    assert_healthy(at)
    info = at.info[0].value
    assert "{" not in info and "→" in info
    at.button(key="try_diffusion_eta").click().run()
    assert_healthy(at)
    assert "{" not in at.info[0].value and "0.1" in at.info[0].value


def test_forward_slider_extremes_show_alpha_bar():
    at = open_page(SPEC, "en")
    at.slider(key="t").set_value(0).run()
    assert_healthy(at)
    assert at.metric[0].value == "1.0000"  # t = 0: the clean image, alpha_bar = 1
    at.slider(key="t").set_value(1000).run()
    assert float(at.metric[0].value) < 0.01  # scaled_linear: alpha_bar_T ~ 0.0047


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_1000_step_ddpm_is_read_from_the_shipped_runs_and_says_so(lang):
    # the default class and guidance at 1000 DDPM steps: shipped by scripts/precompute_diffusion_runs.py
    at = open_page(SPEC, lang, {"sampler": "DDPM", "dsteps": "1000"})
    assert_healthy(at)
    summary = " ".join(m.value for m in at.markdown)
    assert "scripts/precompute_diffusion_runs.py" in summary
    assert ("1000 steps" in summary) if lang == "en" else ("1000 步" in summary)


def test_other_ddpm_settings_are_sampled_live():
    at = open_page(SPEC, "en", {"sampler": "DDPM", "dsteps": "5", "w": "2.5"})
    assert_healthy(at)
    summary = " ".join(m.value for m in at.markdown)
    assert "5 steps" in summary and "w = 2.5" in summary and "ahead of time" not in summary


def test_a_live_1000_step_run_draws_half_the_samples_and_says_why():
    # seed 7 is not shipped; w = 1 needs no unconditional half, so the live run stays short here
    at = open_page(SPEC, "en", {"sampler": "DDPM", "dsteps": "1000", "w": "1", "seed": "7"})
    assert_healthy(at)
    summary = " ".join(m.value for m in at.markdown)
    assert "ahead of time" not in summary and "for 4 samples" in summary
    captions = " ".join(c.value for c in at.caption)
    assert "draws 4 samples instead of 8" in captions and "All 4 final samples" in captions
    # the 500-step run stays at all 8
    at = open_page(SPEC, "en", {"sampler": "DDPM", "dsteps": "500", "w": "1", "seed": "7"})
    assert "for 8 samples" in " ".join(m.value for m in at.markdown)
