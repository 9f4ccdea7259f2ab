"""Page-specific checks for pages/post_training.py: numbers on the page against core (issue 21)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from core import grpo
from tests.apptest_utils import assert_healthy, find, open_page
from ui.registry import by_key

SPEC = by_key("post_training")


@pytest.fixture(scope="module")
def at():
    return open_page(SPEC, "en")


def _frames(at, columns: set[str]) -> list:
    out = []
    for chart in at.get("vega_lite_chart"):
        for d in chart.proto.datasets:
            df = pa.ipc.open_stream(d.data.data).read_all().to_pandas()
            if columns <= set(df.columns):
                out.append(df)
    return out


def test_capped_accuracy_on_the_page_is_core_capped_accuracy(at):
    """The line under the cap chart and the chart's data: core.grpo.capped_accuracy of freshly trained GRPO."""
    assert_healthy(at)
    h = grpo.train("grpo", grpo.Config(), seed=0)
    n, slip = h.eval_problems[2], h.config.slip
    base, trained = h.length_probs
    cap = find(at, "cap").value
    expected_base = grpo.capped_accuracy(base, n, slip, [cap])[0]
    expected_grpo = grpo.capped_accuracy(trained, n, slip, [cap])[0]
    line = next(m.value for m in at.markdown if "**GRPO**" in m.value and "**PPO**" in m.value)
    assert f"**GRPO** {expected_grpo:.1%}" in line, line
    assert f"{expected_base:.1%}" in line.split("·")[0], line
    (df,) = _frames(at, {"cap", "accuracy", "name"})
    row = df[(df["cap"] == cap) & (df["name"] == "GRPO")]
    assert row["accuracy"].iloc[0] == pytest.approx(expected_grpo, abs=1e-6)


def test_vote_numbers_are_a_literal_vote(at):
    """cons@64 of the base policy on the page equals a literal majority vote over the same samples."""
    h = grpo.train("grpo", grpo.Config(), seed=0)
    a, b, n = h.eval_problems
    answers = grpo.sample_answers(a, b, n, h.length_probs[0], 64, 0.3, np.random.default_rng([0, 0]))
    right = 0
    for i in range(len(a)):  # literal vote: count, the first-seen answer wins ties
        counts: dict[int, int] = {}
        for x in answers[i]:
            counts[int(x)] = counts.get(int(x), 0) + 1
        best = max(counts.values())
        winner = next(int(x) for x in answers[i] if counts[int(x)] == best)
        right += winner == a[i] + b[i]
    cons64 = right / len(a)
    metric = next(m for m in at.metric if "cons@64" in m.label and "Toy" in m.label)
    assert metric.value == f"{cons64:.1%}"


def test_hacking_numbers_match_a_fresh_training(at):
    """The gold peak and end the page states for the default β = 0.04 are core.grpo.train's (shipped runs agree)."""
    h = grpo.train("grpo", grpo.HACK_CONFIG, seed=0)
    g = h.gold_accuracy
    peak = int(np.argmax(g))
    line = next(m.value for m in at.markdown if "Learned reward: gold accuracy peaks" in m.value)
    assert f"peaks at **{g[peak]:.1%}** (step {peak + 1})" in line, line
    assert f"ends at **{g[-1]:.1%}**" in line, line


def test_hacking_against_sqrt_kl_as_gao_fig_1():
    """hkl=true: the panels' x is d = √KL of a fresh training (Gao et al. 2022, Sec. 1), and the caption
    states each run's last d; the learned reward's proxy still rises past the gold peak along d."""
    at2 = open_page(SPEC, "en", {"hkl": "true"})
    assert_healthy(at2)
    learned = grpo.train("grpo", grpo.HACK_CONFIG, seed=0)
    rule = grpo.train("grpo", replace(grpo.HACK_CONFIG, reward="rule"), seed=0)
    d_learned, d_rule = np.sqrt(learned.kl), np.sqrt(rule.kl)
    caption = next(c.value for c in at2.caption if "Gao, Schulman & Hilton" in c.value)
    assert f"run is at d = {d_learned[-1]:.2f}, the rule-trained run at d = {d_rule[-1]:.2f}." in caption, caption
    assert d_rule[-1] < d_learned[-1]
    (frame,) = _frames(at2, {"sqrt_kl", "proxy_reward", "gold_accuracy", "trained_on"})
    ours = frame[frame["reward"] == "learned"].sort_values("step")
    np.testing.assert_allclose(ours["sqrt_kl"], d_learned, rtol=1e-6)  # float32 in the shipped runs
    spec = next(c.proto.spec for c in at2.get("vega_lite_chart") if '"sqrt_kl"' in c.proto.spec)
    assert '"field": "sqrt_kl"' in spec.replace('":"', '": "') and '"field": "kl"' not in spec.replace('":"', '": "')
    peak = int(np.argmax(learned.gold_accuracy))
    assert learned.proxy_reward[-5:].mean() > learned.proxy_reward[peak]
    chart = next(c for c in at2.get("vega_lite_chart") if '"sqrt_kl"' in c.proto.spec)
    # the text alternative (issue 20) describes the axis shown
    assert chart.proto.alt.startswith("Two line charts against √KL"), chart.proto.alt


def test_a_new_setting_trains_on_run_and_keeps_the_page_healthy():
    """β = 0.3 is not shipped: the Run trains both rewards and the page shows them."""
    at2 = open_page(SPEC, "zh", {"hbeta": "0.3", "hseed": "1"})
    assert_healthy(at2)
    frames = _frames(at2, {"step", "proxy_reward", "gold_accuracy", "kl", "trained_on"})
    assert len(frames) == 1 and len(frames[0]) == 2 * grpo.HACK_CONFIG.num_steps
    assert frames[0]["gold_accuracy"].between(0, 1).all() and (frames[0]["kl"] >= 0).all()


def test_presets_state_computed_numbers():
    at3 = open_page(SPEC, "en")
    at3.button(key="try_post_training_no_thinking").click().run()
    assert_healthy(at3)
    assert find(at3, "cap").value == 0
    watch = next(i.value for i in at3.info if "cap of 0" in i.value)
    h = grpo.train("grpo", grpo.Config(), seed=0)
    acc0 = grpo.capped_accuracy(h.length_probs[0], h.eval_problems[2], 0.3, [0])[0]
    assert f"scores {acc0:.0%}" in watch, watch


def test_leash_presets_read_their_own_runs():
    """β = 0.2 and 0.01: the sentences' numbers are the shipped runs' (seed 0), which core.grpo.train reproduces."""
    at4 = open_page(SPEC, "en")
    at4.button(key="try_post_training_loose_leash").click().run()
    assert_healthy(at4)
    watch = next(i.value for i in at4.info if "β = 0.01" in i.value)
    assert "until step 87" in watch and "falls to 85%" in watch, watch
    at4.button(key="try_post_training_tight_leash").click().run()
    assert_healthy(at4)
    watch = next(i.value for i in at4.info if "β = 0.2" in i.value)
    assert "peaks at 91%" in watch and "ends at 88%" in watch, watch
