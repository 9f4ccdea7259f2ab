"""Page-specific checks for the latent diffusion page (the generic ones run from the registry)."""

from __future__ import annotations

import numpy as np
import pytest

from core import diffusion as dm
from tests.apptest_utils import assert_healthy, open_page
from ui.registry import by_key

SPEC = by_key("diffusion")


def _text(at) -> str:
    return " ".join(m.value for m in at.markdown) + " " + " ".join(c.value for c in at.caption)


def test_invalid_url_values_are_ignored():
    # dsteps=1000: an option of the class-label page, dropped (over 5 s live with the text model)
    at = open_page(SPEC, "en", {"steps": "5000", "sampler": "euler", "sched": "quadratic", "w": "-3", "t": "abc",
                                "swap": "purple", "dsteps": "1000"})  # fmt: skip
    assert_healthy(at, "bad URL")
    assert at.select_slider(key="dsteps").value == "250"
    assert at.slider(key="steps").value == 50
    assert at.radio(key="sampler").value == "DDIM"
    assert at.selectbox(key="sched").value == "scaled_linear"
    assert at.selectbox(key="swap").value == "blue"


def test_url_sets_the_sampling_run():
    at = open_page(SPEC, "en", {"steps": "3", "w": "7.5", "prompt": "a small blue circle"})
    assert_healthy(at)
    summary = _text(at)
    assert "`a small blue circle`" in summary and "3 steps" in summary and "w = 7.5" in summary
    # one attention strip per word of the prompt
    words = [m.value for m in at.markdown if m.value in ("`a`", "`small`", "`blue`", "`circle`")]
    assert words == ["`a`", "`small`", "`blue`", "`circle`"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_unknown_word_warns_in_the_page_language_and_keeps_the_last_good_figures(lang):
    at = open_page(SPEC, lang, {"prompt": "a small green circle"})
    assert_healthy(at)
    before = [im for im in at.get("imgs")]
    at.text_input(key="prompt").set_value("a smal green circle").run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "`smal`" in warning and "`small`" in warning
    assert ("does not know" in warning) if lang == "en" else ("不认识" in warning)
    # the last good run is still shown: its prompt in the summary, its images on the page
    assert "`a small green circle`" in _text(at)
    assert len(at.get("imgs")) == len(before)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_hostile_prompt_is_never_rendered(lang):
    hostile = '<img src=x onerror="alert(1)"> **bold** [link](http://example.com) a red circle'
    at = open_page(SPEC, lang, {"prompt": hostile})
    assert not at.exception
    shown = _text(at) + " ".join(w.value for w in at.warning)
    assert "<img" not in shown and "onerror" not in shown and "http://example.com" not in shown
    assert "**bold**" not in shown
    # the message names the first unknown word in a code span, no markup around it
    assert "`img`" in " ".join(w.value for w in at.warning)


def test_empty_prompt_samples_unconditionally():
    # typed into the field
    at = open_page(SPEC, "en")
    at.text_input(key="prompt").set_value("").run()
    assert_healthy(at)
    text = _text(at)
    assert "(empty prompt)" in text and "no words to attend to" in text
    # and from a shared link: empty URL values are dropped app-wide (ui.layout), but the prompt keeps
    # its empty value; the negative prompt (empty is its default) and a required choice fall back
    at = open_page(SPEC, "en", {"prompt": "", "neg": "", "sampler": ""})
    assert_healthy(at)
    assert at.text_input(key="prompt").value == "" and "(empty prompt)" in _text(at)
    assert at.radio(key="sampler").value == "DDIM"
    # later runs of the same session are untouched by the link
    at.text_input(key="prompt").set_value("a red circle").run()
    assert at.text_input(key="prompt").value == "a red circle"


def test_negative_prompt_and_word_swap():
    at = open_page(SPEC, "en", {"prompt": "a large circle", "neg": "red", "swap": "square"})
    assert_healthy(at)
    text = _text(at)
    assert "Negative prompt `red`" in text
    assert "`a large circle` and `a large square`" in text


def test_held_out_prompt_says_so():
    at = open_page(SPEC, "en", {"prompt": "a large blue triangle"})
    assert_healthy(at)
    assert any("never appeared together in training" in i.value for i in at.info)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_held_out_preset_sets_the_prompt(lang):
    at = open_page(SPEC, lang)
    at.button(key="try_diffusion_held_out").click().run()
    assert_healthy(at)
    assert at.text_input(key="prompt").value == "a large blue triangle"
    assert at.info, "the preset says what to watch for"


@pytest.mark.parametrize(("kind", "t_step"), [("scaled_linear", 0), ("cosine", 600), ("linear", 1000)])
def test_alpha_bar_and_snr_metrics_are_core_values(kind, t_step):
    # issue 21: the displayed numbers, read back, against core.diffusion for the same setting
    at = open_page(SPEC, "en")
    at.selectbox(key="sched").set_value(kind).run()
    at.slider(key="t").set_value(t_step).run()
    assert_healthy(at)
    alpha_bar = 1.0 if t_step == 0 else float(dm.alphas_cumprod(dm.beta_schedule(kind, 1000))[t_step - 1])
    assert float(at.metric[0].value) == pytest.approx(alpha_bar, abs=5e-5)
    assert float(at.metric[1].value) == pytest.approx(np.sqrt(alpha_bar), abs=5e-4)
    snr = at.metric[2].value
    if t_step == 0:
        assert snr == "∞"
    else:
        assert float(snr) == pytest.approx(alpha_bar / (1 - alpha_bar), rel=5e-3)


def test_other_ddpm_settings_are_sampled_live():
    at = open_page(SPEC, "en", {"sampler": "DDPM", "dsteps": "5", "w": "2.5"})
    assert_healthy(at)
    summary = _text(at)
    assert "5 steps" in summary and "w = 2.5" in summary
    # the word swap does not repeat a DDPM run: it compares both prompts with DDIM-50
    assert "the swap uses DDIM with 50 steps" in summary


def test_a_long_live_run_draws_fewer_samples_and_says_why():
    at = open_page(SPEC, "en", {"sampler": "DDPM", "dsteps": "250", "w": "1", "seed": "7"})
    assert_healthy(at)
    assert "for 4 samples" in _text(at)
    assert "draws 4 samples instead of 8" in _text(at)
