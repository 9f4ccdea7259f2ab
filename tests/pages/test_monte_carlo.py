"""Monte Carlo page: heavy work only on Run / presets; an over-budget run warns and keeps the last result."""

import numpy as np
import pytest

from core import mdp
from core import monte_carlo as mc
from core.gridworld import GridWorld
from tests.apptest_utils import assert_healthy, find, open_page
from ui import i18n
from ui.registry import by_key

SPEC = by_key("monte_carlo")


def metric(at, index: int) -> str:
    return at.metric[index].value


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_over_budget_run_warns_and_keeps_the_last_result(lang):
    at = open_page(SPEC, lang)
    before = metric(at, 0)
    for key, value in {"T": 1000, "N": 2000, "K": 30}.items():
        find(at, key).set_value(value)
    at.run()
    assert_healthy(at)
    assert not at.warning  # moving sliders alone starts nothing
    assert at.caption and any(i18n.strings(lang)["monte_carlo.press_run"] == c.value for c in at.caption)
    at.button(key="mc_run").click().run()
    assert_healthy(at)
    assert any("60,000,000" in w.value for w in at.warning)  # 1000 x 2000 x 30 steps
    assert metric(at, 0) == before  # last good run still shown


def test_a_preset_runs_mc_basic_and_far_cells_stay_at_zero():
    # book Figure 5.4 (a)-(d): with episodes of 4 steps only cells near the target get a value
    at = open_page(SPEC, "en")
    at.button(key="try_monte_carlo_basic_short").click().run()
    assert_healthy(at)
    df = at.session_state["_monte_carlo_params"]
    assert df[0] == "basic" and df[2] == 4
    at.button(key="mc_run").click().run()  # same params: cached, instant
    assert_healthy(at)


@pytest.mark.parametrize("avg", ["batch", "running"])
def test_metrics_match_core(avg):
    """The three metrics on screen, recomputed with core for the page's default settings (issue 21)."""
    label = {"batch": "this batch", "running": "running (the book)"}[avg]
    at = open_page(SPEC, "en", {"avg": label})
    assert_healthy(at)
    gw = GridWorld(r_forbidden=-10.0)
    res = mc.mc_epsilon_greedy(
        gw.P,
        gw.R,
        0.9,
        mc.epsilon_schedule("constant", 0.2, 10),
        100,
        500,
        10,
        np.random.default_rng(0),
        averaging=avg,
    )
    exact = mdp.policy_evaluation(gw.P, gw.R, res.policy, 0.9).mean()
    v_star = mdp.value_iteration(gw.P, gw.R, 0.9).V.mean()
    assert [m.value for m in at.metric[:3]] == [f"{res.V.mean():.2f}", f"{exact:.2f}", f"{v_star:.2f}"]
