"""rl_basics page: numbers on screen read back and compared with core; bad arrows keep the last policy."""

import numpy as np
import pytest

from core import mdp
from core import rl_basics as rb
from core.gridworld import BOOK_CH1_LAYOUT, GridWorld
from tests.apptest_utils import assert_healthy, find, open_page
from ui import i18n
from ui.registry import by_key

SPEC = by_key("rl_basics")


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_exact_value_and_mc_mean_match_core():
    at = open_page(SPEC, "en")
    assert_healthy(at)
    gw = GridWorld.from_layout(BOOK_CH1_LAYOUT)
    pol = rb.deterministic_policy(mdp.value_iteration(gw.P, gw.R, 0.9).policy.argmax(1))
    v = mdp.policy_evaluation(gw.P, gw.R, pol, 0.9)[0]
    shown = metrics(at)
    assert shown["Exact state value v_π(s1)"] == f"{v:.3f}"
    assert f"{v:.3f}" == f"{0.9**3 / 0.1:.3f}"  # the book's gamma^3/(1-gamma)
    # the page samples 1,000 episodes once and averages the first N = 500
    G = rb.sample_returns(
        gw.P, gw.R, pol, 0, rb.horizon(0.9, 1e-6), 1_000, 0.9, np.random.default_rng(10_000)
    )
    assert shown["Mean of N discounted returns from s1"] == f"{G[:500].mean():.3f}"


def test_step_button_and_return_match_core():
    at = open_page(SPEC, "en")
    for _ in range(5):
        at.button(key="step_btn").click().run()
    assert find(at, "t").value == 5
    assert metrics(at)["Return Σ r"] == "2"  # 0 + 0 + 0 + 1 + 1
    assert metrics(at)["Discounted return Σ γᵗ r"] == f"{0.9**3 + 0.9**4:.4f}"


def test_slip_and_uniform_on_5x5_match_the_exact_value():
    at = open_page(SPEC, "en", {"grid": "5×5 (book ch. 2–5)", "pol": "uniform random", "slip": "0.2"})
    assert_healthy(at)
    gw = GridWorld()
    m = rb.slip_model(gw.P, gw.R, 0.2)
    v = mdp.policy_evaluation(m.P, m.R, rb.uniform_policy(25), 0.9)[0]
    assert metrics(at)["Exact state value v_π(s1)"] == f"{v:.3f}"


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_bad_arrows_warn_and_keep_the_last_policy(lang):
    at = open_page(SPEC, lang)
    before = len(at.get("vega_lite_chart"))
    find(at, "src").set_value("custom").run()
    find(at, "arrows").set_value("rdx/rdd").run()
    assert_healthy(at)
    assert i18n.strings(lang)["rl_basics.err_arrows"] in [w.value for w in at.warning]
    assert len(at.get("vega_lite_chart")) == before > 0


def test_episodic_ends_the_episode_at_the_target():
    at = open_page(SPEC, "en", {"task": "episodic (target ends it)"})
    assert_healthy(at)
    assert find(at, "t").max == 4  # s1 -> s2 -> s5 -> s8 -> s9, then the episode is over
    assert metrics(at)["Exact state value v_π(s1)"] == f"{0.9**3:.3f}"
