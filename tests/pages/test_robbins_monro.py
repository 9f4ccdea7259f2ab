"""Robbins–Monro page: the live ✓/✗ conditions, diverging runs, bad URLs and every hidden widget."""

from __future__ import annotations

import numpy as np
import pytest

from core import stochastic_approx as sa
from tests.apptest_utils import assert_healthy, find, open_page
from ui.registry import by_key

SPEC = by_key("robbins_monro")
SUM, SQUARES = "Σ aₖ = ∞", "Σ aₖ² < ∞"
# selection widgets are spelled in the URL by their (language-neutral) labels
EX = {"mean": "w* = E[X]", "tanh": "tanh(w − 1) = 0", "cube": "w³ − 5 = 0", "sgd": "w* = x̄ (SGD)"}
FAM = {"harmonic": "1/k", "power": "c/kᵅ", "constant": "a = const"}


def marks(at) -> dict[str, str]:
    """The ✓/✗ shown in front of each condition."""
    found = {}
    for md in at.markdown:
        for label in (SUM, SQUARES):
            if f"**{label}**" in md.value:
                found[label] = "✓" if "✓" in md.value else "✗"
    return found


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"fam": FAM["harmonic"]}, {SUM: "✓", SQUARES: "✓"}),
        ({"fam": FAM["power"], "c": "0.5", "alpha": "0.75"}, {SUM: "✓", SQUARES: "✓"}),
        ({"fam": FAM["power"], "alpha": "0.5"}, {SUM: "✓", SQUARES: "✗"}),
        ({"fam": FAM["power"], "alpha": "2.0"}, {SUM: "✗", SQUARES: "✓"}),
        ({"fam": FAM["constant"], "a": "0.2"}, {SUM: "✓", SQUARES: "✗"}),
    ],
)
def test_conditions_shown_live(query, expected):
    at = open_page(SPEC, "en", query)
    assert_healthy(at, str(query))
    assert marks(at) == expected


@pytest.mark.parametrize("example", sa.EXAMPLES)
@pytest.mark.parametrize("family", sa.FAMILIES)
def test_every_example_and_family_renders(example, family, lang="en"):
    query = {"ex": EX[example], "fam": FAM[family], "K": "100", "runs": "20"}
    if example == "cube":  # 1/k and large constants throw every run out from w1 = 3
        query |= {"c": "0.1", "a": "0.05"}
    at = open_page(SPEC, lang, query)
    assert_healthy(at, str(query))
    if example == "cube" and family == "harmonic":  # a_1 = 1: w2 = 3 - 22 = -19, every run blows up
        assert at.warning
        return
    assert len(at.get("vega_lite_chart")) == 2, "both figures"
    assert not at.warning
    assert at.get("download_button")


def test_hidden_widgets_at_extremes():
    """c, α, a and m only show for their family / problem; the generic test never sees them."""
    at = open_page(SPEC, "en", {"ex": EX["sgd"], "fam": FAM["power"], "K": "100", "runs": "20"})
    for key in ("c", "alpha", "m"):
        w = find(at, key)
        for value in (w.min, w.max):
            find(at, key).set_value(value)
            at.run()
            assert_healthy(at, f"{key} = {value}")
    at = open_page(SPEC, "en", {"fam": FAM["constant"], "K": "100", "runs": "20"})
    for value in (0.01, 1.0):
        find(at, "a").set_value(value)
        at.run()
        assert_healthy(at, f"a = {value}")


def test_some_runs_diverge_warning_counts_them():
    """cube, a_k = 0.5/k from w1 = 0: some runs diverge; the warning gives the core's count."""
    query = {
        "ex": EX["cube"],
        "fam": FAM["power"],
        "c": "0.5",
        "alpha": "1.0",
        "w1": "0.0",
        "K": "200",
        "runs": "100",
    }
    exp = sa.run_experiment(
        "cube", sa.StepSizes("power", 0.5, 1.0)(200), 1.0, 100, 0.0, np.random.default_rng(0)
    )
    n = sa.summarize_runs(exp.W, exp.target).n_diverged
    assert 0 < n < 100
    at = open_page(SPEC, "en", query)
    assert_healthy(at)
    assert any(f"{n} of 100 runs diverged" in w.value for w in at.warning)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_all_runs_diverge_keeps_last_good(lang):
    at = open_page(SPEC, lang, {"ex": EX["cube"], "fam": FAM["power"], "c": "0.1", "K": "100"})
    assert_healthy(at)
    assert not at.warning
    assert len(at.get("vega_lite_chart")) == 2
    at.radio(key="fam").set_value("harmonic").run()  # 1/k from w1 = 3: w2 = -19, then every run blows up
    assert_healthy(at)
    assert len(at.warning) == 1
    assert len(at.get("vega_lite_chart")) == 2, "the last good figures stay"


def test_all_runs_diverge_on_first_visit():
    at = open_page(SPEC, "zh", {"ex": EX["cube"], "fam": FAM["harmonic"]})
    assert_healthy(at)
    assert len(at.warning) == 1
    assert not at.get("vega_lite_chart")
    assert "✓" in "".join(md.value for md in at.markdown), "the conditions are still judged"


def test_invalid_url_values_are_ignored():
    at = open_page(SPEC, "en", {"ex": "bogus", "fam": "cosine", "alpha": "99", "runs": "-3", "sigma": "x"})
    assert_healthy(at)
    assert find(at, "ex").value == "mean" and find(at, "fam").value == "harmonic"
    assert len(at.get("vega_lite_chart")) == 2


def test_zero_error_has_no_log_plot_but_no_traceback():
    """sigma = 0 and w1 on the target: every error is exactly 0, which a log axis cannot show."""
    at = open_page(SPEC, "en", {"ex": EX["tanh"], "sigma": "0.0", "w1": "1.0", "K": "100", "runs": "10"})
    assert_healthy(at)
    assert len(at.get("vega_lite_chart")) == 1 and at.info


def test_status_error_matches_core():
    """The caption's RMS error of the last iterate, recomputed with core at the defaults (issue 21)."""
    at = open_page(SPEC, "en")
    exp = sa.run_experiment("mean", sa.StepSizes("harmonic")(500), 1.0, 200, 3.0, np.random.default_rng(0))
    err = sa.summarize_runs(exp.W, exp.target).rmse[-1]
    assert any(f"(k = 501): {err:.3g}" in c.value for c in at.caption)  # w_{K+1}
