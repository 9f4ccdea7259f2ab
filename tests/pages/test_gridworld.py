"""Grid-world page: bad grid-editor input gives a translated warning and keeps the last good result."""

import numpy as np
import pytest

from core import mdp
from core.gridworld import GridWorld
from tests.apptest_utils import assert_healthy, find, open_page
from ui import i18n
from ui.registry import by_key

SPEC = by_key("gridworld")


def warnings_of(at) -> list[str]:
    return [w.value for w in at.warning]


@pytest.mark.parametrize("lang", i18n.LANGS)
@pytest.mark.parametrize(
    ("layout", "message_key"),
    [
        (".....\n.....\n.....", "err_no_target"),
        ("###\n###", "err_all_forbidden"),
        ("..T\n..", "err_bad_layout"),
        ("..X\n.T.", "err_bad_layout"),
        ("", "err_bad_layout"),
    ],
)
def test_bad_grid_gives_a_clear_message_not_a_traceback(lang, layout, message_key):
    at = open_page(SPEC, lang)
    charts_before = len(at.get("vega_lite_chart"))
    find(at, "layout").set_value(layout)
    at.run()
    assert_healthy(at, layout)
    assert i18n.strings(lang)[f"gridworld.{message_key}"] in warnings_of(at)
    # the last good result stays on screen
    assert len(at.get("vega_lite_chart")) == charts_before > 0


@pytest.mark.parametrize("lang", i18n.LANGS)
@pytest.mark.parametrize(("preset", "algo"), [("far_sighted", "vi"), ("strict", "pi"), ("truncated", "tpi")])
def test_gamma_one_does_not_converge_and_says_so(lang, preset, algo):
    at = open_page(SPEC, lang)
    at.button(key=f"try_gridworld_{preset}").click().run()  # the preset picks the algorithm
    assert at.session_state["algo"] == algo
    find(at, "gamma").set_value(1.0)
    at.run()
    assert_healthy(at, f"gamma = 1, {algo}")
    assert i18n.strings(lang)["gridworld.err_no_convergence"] in warnings_of(at)
    # back to a good value: the warning goes away
    find(at, "gamma").set_value(0.9)
    at.run()
    assert not at.warning


def test_a_valid_custom_grid_is_solved():
    at = open_page(SPEC, "en")
    find(at, "layout").set_value("T..\n.#.\n...")
    at.run()
    assert_healthy(at)
    assert not at.warning
    assert "3 (1,3)" in " ".join(map(str, at.dataframe[0].value.iloc[:, 0]))


def test_table_values_and_status_match_core():
    """v(s) in the Bellman table and the caption's iteration count, recomputed with core (issue 21)."""
    at = open_page(SPEC, "en")
    gw = GridWorld()
    res = mdp.value_iteration(gw.P, gw.R, 0.9, tol=1e-8, max_iter=5000)
    v = mdp.policy_evaluation(gw.P, gw.R, res.policy, 0.9)
    np.testing.assert_allclose(at.dataframe[0].value["v(s)"].to_numpy(), np.round(v, 3))
    assert any(f"{len(res.history) - 1} iterations" in c.value for c in at.caption)
