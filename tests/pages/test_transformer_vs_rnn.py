"""Page-specific checks for pages/transformer_vs_rnn.py beyond the generic page tests."""

from __future__ import annotations

import importlib.util
import math

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


def test_caption_ratios_are_the_core_values() -> None:
    """Issue 21: the first/last gradient ratios in the caption are core's, at a non-default setting."""
    at = open_page(SPEC, "en", {"T": "30", "rho": "0.8", "H": "16", "seed": "3"})
    assert_healthy(at)
    caption = next(c.value for c in at.caption if "First token vs last token" in c.value)
    with core.one_thread():
        for kind in core.KINDS:
            g = core.input_gradient_norms(kind, 30, 16, 0.8, 3)
            name = {"rnn": "RNN (tanh)", "lstm": "LSTM", "gru": "GRU", "attention": "Self-attention"}[kind]
            assert f"{name}: {g[0] / g[-1]:.1e}" in caption, (kind, caption)


def test_gates_start_at_sigmoid_of_their_bias() -> None:
    """The explanation states the keep gates' starting value from the code: sigma(1) = 0.7311 (not 'half open')."""
    import math

    assert core.GATE_KEEP_BIAS == 1.0
    assert abs(core.initial_keep_gate() - 1 / (1 + math.exp(-1.0))) < 1e-15
    cell = core.make_cell("lstm", 8, 1.0, 0)
    # forget-gate rows (block 1 of i, f, g, o) carry the bias; for x = 0, h = 0 the gate is sigma(b)
    f = torch_sigmoid(cell.b[8:16])
    assert all(abs(v - 0.7310585786300049) < 1e-12 for v in f)
    for lang, words in (("en", "σ(1) ≈ 0.73"), ("zh", "σ(1) ≈ 0.73")):
        at = open_page(SPEC, lang)
        assert_healthy(at)
        text = " ".join(m.value for m in at.markdown)
        assert words in text, lang
        assert "half open" not in text and "一半" not in text


def torch_sigmoid(x) -> list[float]:
    return [1 / (1 + math.exp(-float(v))) for v in x]


def test_recurrence_figures_render_each_cell() -> None:
    """'Recurrence, drawn': every figure draws (no error) with its own caption, in both languages."""
    for lang in ("en", "zh"):
        for cell in ("rnn", "lstm", "gru"):
            at = open_page(SPEC, lang)
            at.session_state["cell"] = cell
            at.run()
            assert_healthy(at, f"{lang} {cell}")
            from ui.i18n import strings

            caption = strings(lang)[f"transformer_vs_rnn.draw_caption_{cell}"].format(gate="0.73")
            assert caption in [c.value for c in at.caption], (lang, cell)
