"""Page-specific checks for pages/transformer_vs_rnn.py beyond the generic page tests."""

from __future__ import annotations

import importlib.util

import pandas as pd

from core import sequence_models as core
from tests.apptest_utils import ROOT, assert_healthy, open_page
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


def test_example_sentences_fit_the_heat_map() -> None:
    """Every example, in both languages, tokenises to 5..40 tokens and repeats a token (so the map shows it)."""
    from ui.i18n import LANGS, strings

    for lang in LANGS:
        for ex in ("ex1", "ex2", "ex3"):
            tokens = core.tokenize(strings(lang)[f"transformer_vs_rnn.{ex}"])
            assert 5 <= len(tokens) <= 40, (lang, ex, len(tokens))
            assert len(set(tokens)) < len(tokens), (lang, ex)


def test_page_never_trains_at_load() -> None:
    """The Train button is there, and opening the page (zh) trains nothing: no runs, no success box.

    (The click itself is checked in a real browser: AppTest does not register a
    click on a button inside a fragment here.)
    """
    at = open_page(SPEC, "zh", {"rk": "transformer", "rT": "5", "rs": "50"})
    assert_healthy(at)
    assert at.button(key="transformer_vs_rnn_run")
    assert at.session_state["_transformer_vs_rnn_runs"] == []
    assert not at.success
