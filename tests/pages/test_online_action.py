"""Page-specific checks for pages/online_action.py (the generic ones live in test_all_pages.py)."""

from __future__ import annotations

import json
from pathlib import Path

from core import online_action as oa
from tests.apptest_utils import assert_healthy, find, open_page
from ui.registry import by_key

SPEC = by_key("online_action")
ROOT = Path(__file__).resolve().parents[2]


def table_models(at) -> list[str]:
    df = at.dataframe[0].value
    return list(df.iloc[:, 0])


def test_default_view_uses_shipped_weights_and_lists_every_model():
    at = open_page(SPEC)
    assert_healthy(at, "default")
    assert len(table_models(at)) == 5  # MLP, GRU, OadTR and the two ablations
    assert any("Shipped weights" in c.value for c in at.caption)


def test_moving_a_form_slider_does_not_train_until_run():
    at = open_page(SPEC)
    find(at, "hist").set_value(8)
    at.run()
    assert_healthy(at, "hist=8 without Run")
    assert find(at, "hist").value == 16  # a form commits on Run only
    assert any("Shipped weights" in c.value for c in at.caption)


def test_run_trains_a_new_setting_and_caches_it():
    at = open_page(SPEC)
    find(at, "hist").set_value(8)
    find(at, "abl").set_value(False)
    run = next(b for b in at.button if b.label.startswith("Run"))  # the form's submit button
    run.click().run()
    assert_healthy(at, "Run with T=8")
    trained = next(c.value for c in at.caption if "Trained just now" in c.value)
    # the caption compares the live step count with the shipped one, both read from their sources
    shipped_steps = json.loads((ROOT / "assets" / oa.METRICS_FILE).read_text())["runs"][0]["settings"][
        "steps"
    ]
    assert f"{oa.Experiment().steps} steps per model" in trained and f"had {shipped_steps}," in trained
    assert len(table_models(at)) == 3  # ablations off: MLP, GRU, OadTR
    # moving the frame slider afterwards reuses the cached training
    find(at, "frame").set_value(100)
    at.run()
    assert_healthy(at, "frame after training")
    assert any("Trained just now" in c.value for c in at.caption)


def test_frame_slider_moves_the_attention_without_training():
    at = open_page(SPEC)
    for frame in (0, 1, 999, 1999):
        find(at, "frame").set_value(frame)
        at.run()
        assert_healthy(at, f"frame={frame}")
        assert any("Shipped weights" in c.value for c in at.caption)


def test_unshipped_setting_from_url_waits_for_run():
    at = open_page(SPEC, "zh", {"hist": "12", "dec": "2", "noise": "2.4"})
    assert_healthy(at, "URL with an untrained setting")
    assert find(at, "hist").value == 12
    assert at.info and "运行" in at.info[0].value  # asks for Run, in Chinese
    assert len(table_models(at)) == 5  # meanwhile: the shipped default
    # Run alone, no value changed, trains the shared link's setting
    next(b for b in at.button if b.proto.is_form_submitter).click().run()
    assert_healthy(at, "Run on the URL's setting")
    assert not at.info or "运行" not in at.info[0].value
    assert any("刚刚训练" in c.value for c in at.caption)
    assert find(at, "hist").value == 12 and len(table_models(at)) == 5
