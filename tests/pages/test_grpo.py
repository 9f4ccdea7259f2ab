"""Page-specific checks for pages/grpo.py (the generic ones live in test_all_pages.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.apptest_utils import assert_healthy, find, open_page
from ui.registry import by_key

SPEC = by_key("grpo")


@pytest.fixture(scope="module")
def at():
    return open_page(SPEC, "en")


def test_more_right_answers_than_the_group_warns_and_clamps(at):
    find(at, "gG").set_value(4)
    find(at, "right").set_value(9)
    at.run()
    assert_healthy(at)
    assert any("cannot have 9 right" in w.value for w in at.warning)
    # clamped to an all-right group: every advantage 0, and the page says so
    assert any("teach nothing" in i.value for i in at.info)
    find(at, "right").set_value(2)
    at.run()
    assert not at.warning


def test_all_right_preset_shows_a_silent_group():
    at = open_page(SPEC, "zh")
    at.button(key="try_grpo_all_right").click().run()
    assert_healthy(at)
    assert at.session_state["right"] == at.session_state["gG"] == 8
    assert any("恰好为 0" in i.value for i in at.info)


def test_training_figure_has_every_method_and_step(at):
    """The 2 x 2 training figure: accuracy, length, KL, zero groups; 3 methods x 60 steps each."""
    at.run()
    curves = ["pass1", "length", "kl", "zero_adv_frac"]
    frames = []
    for chart in at.get("vega_lite_chart"):
        for d in chart.proto.datasets:
            df = pa.ipc.open_stream(d.data.data).read_all().to_pandas()
            if {"method", "step", *curves} <= set(df.columns):
                frames.append(df)
    assert len(frames) == 1, "one dataset feeds the four panels"
    df = frames[0]
    assert set(df["method"]) == {"GRPO", "REINFORCE", "PPO"}
    assert df.groupby("method").size().eq(60).all()
    assert df[curves].notna().all().all()
    assert df["pass1"].between(0, 1).all()
    assert (df["kl"] >= 0).all()


def test_url_settings_reach_the_training(at):
    """A URL with a large length cost trains that setting: thinking does not grow."""
    t2 = open_page(SPEC, "en", {"cost": "0.3"})
    assert_healthy(t2)
    summary = [m.value for m in t2.markdown if "GRPO" in m.value and "→" in m.value]
    assert summary, "the per-method summary line is shown"
    # "GRPO: accuracy a0 → a1, thinking l0 → l1 tokens": thinking ends no longer than it started
    grpo_part = summary[0].split("·")[0]
    l0, l1 = (float(x) for x in grpo_part.split("thinking")[1].replace("tokens", "").split("→"))
    assert l1 <= l0


def test_summary_numbers_are_core_numbers(at):
    """Issue 21: the accuracy and thinking the page prints for each method are core.grpo.train_all's, default setting."""
    from core import grpo

    at.run()
    line = next(m.value for m in at.markdown if "GRPO" in m.value and "→" in m.value)
    runs = grpo.train_all(grpo.Config(), seed=0)
    for m, name in (("grpo", "GRPO"), ("reinforce", "REINFORCE"), ("ppo", "PPO")):
        h = runs[m]
        expected = (
            f"**{name}**: accuracy {h.pass1[0]:.0%} → {h.pass1[-10:].mean():.0%}, "
            f"thinking {h.length[0]:.1f} → {h.length[-10:].mean():.1f} tokens"
        )
        assert expected in line, (expected, line)


def test_length_tax_sentence_reads_the_computed_accuracy():
    at = open_page(SPEC, "en")
    at.button(key="try_grpo_length_tax").click().run()
    assert_healthy(at)
    watch = next(i.value for i in at.info if "λ = 0.3" in i.value)
    assert "falls from 49% to 40%" in watch, watch
