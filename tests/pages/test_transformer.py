"""Page-specific checks for pages/transformer.py beyond the generic page tests.

The page's numbers (issue 21) are compared with core's values for the same setting:
the metrics of the shipped run recomputed with core.evaluate, the parameter total with
core.parameter_counts (itself checked against the layer formulas in tests/core).
"""

from __future__ import annotations

import re
from dataclasses import replace

import torch

from core import induction as core
from tests.apptest_utils import ROOT, assert_healthy, open_page
from ui.registry import by_key

SPEC = by_key("transformer")


def _shipped(layers: int) -> core.InductionRun:
    stored = torch.load(ROOT / "assets" / "induction_runs.pt", weights_only=True)
    return core.run_from_dict(stored[layers])


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_opens_with_the_shipped_run_and_its_numbers() -> None:
    at = open_page(SPEC, "en")
    assert_healthy(at)
    assert not at.info and not at.success  # nothing trained at load, nothing missing
    run = _shipped(2)
    ev = core.evaluate(run.model, *core.eval_batch(run.config))
    m = _metrics(at)
    assert m["Accuracy on repeated tokens"] == f"{ev['accuracy_repeated']:.1%}"
    lnv = torch.log(torch.tensor(float(run.config.vocab))).item()
    assert m["Loss on repeated tokens / ln V"] == f"{ev['loss_repeated'] / lnv:.1%}"
    assert m["Loss elsewhere / ln V"] == f"{ev['loss_other'] / lnv:.1%}"
    assert m["Best induction score, layer 2"] == f"{run.induction[-1, 1].max():.2f}"
    assert m["Parameters in total"] == f"{sum(core.parameter_counts(core.InductionConfig()).values()):,}"


def test_parameter_total_follows_the_settings() -> None:
    at = open_page(SPEC, "zh", {"heads": "4", "dm": "64", "mlp": "true", "layers": "1"})
    assert_healthy(at)
    cfg = core.InductionConfig(layers=1, heads=4, d_model=64, attention_only=False)
    assert _metrics(at)["参数总数"] == f"{sum(core.parameter_counts(cfg).values()):,}"
    # not trained yet: says so (with a time), shows the shipped 1-layer run, trains nothing
    assert at.info and "运行" in at.info[0].value
    assert _metrics(at)["第 1 层最高的归纳分数"] == f"{_shipped(1).induction[-1, 0].max():.2f}"


def test_one_layer_toggle_shows_the_contrast_run() -> None:
    at = open_page(SPEC, "en", {"layers": "1"})
    assert_healthy(at)
    assert not at.info
    one = _shipped(1)
    assert one.config == replace(core.InductionConfig(), layers=1)
    assert _metrics(at)["Best induction score, layer 1"] == f"{one.induction[-1, 0].max():.2f}"


def test_run_trains_live_with_progress_and_shows_the_result() -> None:
    """The form's Run trains the chosen settings (a small one here) and the page shows that run."""
    at = open_page(SPEC, "en", {"layers": "1", "heads": "1", "dm": "16"})
    at.select_slider(key="steps").set_value("500")
    at.number_input(key="seed").set_value(3)
    next(b for b in at.button if b.proto.is_form_submitter).click()
    at.run()
    assert_healthy(at)
    assert at.success and at.success[0].value.startswith("Trained live in")
    cfg = core.InductionConfig(layers=1, heads=1, d_model=16, steps=500)
    run = core.train(cfg, 3)
    ev = core.evaluate(run.model, *core.eval_batch(cfg))
    assert _metrics(at)["Accuracy on repeated tokens"] == f"{ev['accuracy_repeated']:.1%}"


def test_a_run_estimated_past_the_cap_is_not_started(monkeypatch) -> None:
    """A Run that would hold the server process past MAX_RUN_SECONDS gets a message with the
    estimate, and the page keeps showing a result (the shipped run); nothing trains."""
    cap = int(re.search(r"^MAX_RUN_SECONDS = (\d+)", (ROOT / "pages" / "transformer.py").read_text(), re.M)[1])
    monkeypatch.setattr(core, "estimate_seconds", lambda config, probe=3: 2.5 * cap)
    monkeypatch.setattr(core, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    at = open_page(SPEC, "en", {"heads": "8", "dm": "64"})
    next(b for b in at.button if b.proto.is_form_submitter).click()
    at.run()
    assert_healthy(at)
    assert not at.success
    warning = next(w.value for w in at.warning if "more than the" in w.value)
    assert f"about {2.5 * cap:.0f} s" in warning and f"{cap} s" in warning
    assert at.metric, "the shipped run's metrics stay on screen"
