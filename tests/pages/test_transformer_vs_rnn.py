"""Page-specific checks for pages/transformer_vs_rnn.py beyond the generic page tests."""

from __future__ import annotations

import importlib.util

import pandas as pd

from core import sequence_models as core
from tests.apptest_utils import ROOT, assert_healthy, find, open_page
from ui.registry import by_key

SPEC = by_key("transformer_vs_rnn")


def _script():
    path = ROOT / "scripts" / "transformer_vs_rnn_recall.py"
    spec = importlib.util.spec_from_file_location("transformer_vs_rnn_recall", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_recall_table_is_complete() -> None:
    """The asset holds every (kind, T, seed) the script trains, with accuracies in [0, 1]."""
    script = _script()
    table = pd.read_csv(ROOT / "assets" / "transformer_vs_rnn_recall.csv")
    expected = {(k, T, s) for k in core.RECALL_KINDS for T in script.SEQ_LENS for s in script.SEEDS}
    assert set(zip(table["kind"], table["seq_len"], table["seed"], strict=True)) == expected
    assert len(table) == len(expected)
    assert (table["steps"] == script.STEPS).all()
    assert table["accuracy"].between(0, 1).all()


def test_bad_sentence_warns_and_keeps_the_last_map() -> None:
    at = open_page(SPEC, "en")
    charts_before = len(at.get("vega_lite_chart"))
    find(at, "text").set_value("a " * 60)  # 60 tokens, within max_chars
    at.run()
    assert not at.exception
    assert any("40" in w.value for w in at.warning), "a translated warning names the limit"
    assert len(at.get("vega_lite_chart")) == charts_before, "the last good heat map stays"
    find(at, "text").set_value("   ")  # blank falls back to the example sentence
    at.run()
    assert_healthy(at)


def test_run_button_trains_one_setting_in_zh() -> None:
    at = open_page(SPEC, "zh", {"rk": "transformer", "rT": "5", "rs": "50"})
    at.button(key="transformer_vs_rnn_run").click().run()
    assert_healthy(at)
    assert at.success, "the run reports its accuracy"
