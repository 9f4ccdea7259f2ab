"""Numbers the pages display, read back in AppTest and compared with the core function for the same setting
(issue 21), including the numbers "Try this" sentences fill in from computation (issue 22).

One test per page; each test name starts with the page key, so `-k <page>` selects it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from core import activations as act_core
from core import online_action as oa
from core import perceptron as perc_core
from core import receptive_field as rf_core
from core import smooth_metrics as sm_core
from tests.apptest_utils import assert_healthy, open_page
from ui.registry import by_key

ROOT = Path(__file__).resolve().parents[2]


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def numbers(text: str) -> list[float]:
    return [float(x.replace(",", "")) for x in re.findall(r"-?\d[\d,]*\.?\d*(?:e[-+]?\d+)?", text)]


def press(at, page: str, preset: str):
    at.button(key=f"try_{page}_{preset}").click().run()
    assert_healthy(at, f"{page}: {preset}")
    return at.info[-1].value


def test_perceptron_accuracy_and_thin_margin_numbers():
    at = open_page(by_key("perceptron"))
    data = perc_core.make_dataset_info("through_origin", 60, 0.15, np.random.default_rng(0))
    acc = (perc_core.predict(data.X, np.array([1.0, 1.0]), 0.0) == data.y).mean()
    assert metric(at, "Accuracy") == f"{acc:.0%}"
    info = press(at, "perceptron", "thin_margin")
    data = perc_core.make_dataset_info("through_origin", 200, 0.0, np.random.default_rng(0))
    bound = perc_core.novikoff_bound(data.X, data.y, data.normal, data.offset, True)
    updates = perc_core.train(data.X, data.y, max_epochs=100, use_bias=True).updates
    assert f"{bound:,.0f}" in info and f"only {updates} updates" in info


def test_activations_depth_caption_and_small_init_numbers():
    at = open_page(by_key("activations"))
    caption = next(c.value for c in at.caption if "Gradient at layer 1" in c.value)
    for name in ("sigmoid", "relu", "gelu", "silu"):
        r = act_core.gradient_through_depth(name, 30, 64, "he", 0)
        assert f"{r.grad_rel[0]:.1e}" in caption, (name, caption)
    info = press(at, "activations", "small_init")
    relu = act_core.gradient_through_depth("relu", 20, 64, "small", 0)
    assert f"ReLU {relu.grad_rel[0]:.2g}" in info
    spread = max(
        act_core.gradient_through_depth(n, 20, 64, "small", 0).act_std[-1]
        for n in ("tanh", "relu", "gelu", "silu")
    )
    assert f"{spread:.0e}" in info


def test_discrete_metric_training_metric_and_rare_numbers():
    at = open_page(by_key("discrete_metric"))
    d = sm_core.make_dataset(sm_core.DATASETS[1], positive_fraction=0.5, seed=0)
    run = sm_core.train_classifier(
        d.X_train, d.y_train, "cross_entropy", 1.0, 300, 0.05, 0, X_test=d.X_test, y_test=d.y_test
    )
    assert metric(at, "Cross-entropy (training)") == f"{run.train_ce[300]:.3f}"
    info = press(at, "discrete_metric", "rare")
    d = sm_core.make_dataset("blobs", positive_fraction=0.1, seed=0)
    f1 = sm_core.train_classifier(
        d.X_train, d.y_train, "soft_f1", 0.5, 300, 0.05, 0, X_test=d.X_test, y_test=d.y_test
    ).test_f1[-1]
    assert f"F1, {f1:.3f} against" in info


def test_receptive_field_size_metric_and_exceeds_image_numbers():
    at = open_page(by_key("receptive_field"))
    preset = at.selectbox(key="preset").value
    layers, _ = rf_core.parse_stack(rf_core.layers_to_string(rf_core.PRESETS[preset]))
    assert metric(at, "RF size r") == str(rf_core.receptive_field(layers)[-1].size)
    info = press(at, "receptive_field", "exceeds_image")
    assert metric(at, "RF size r") == "427" and "(r = 427)" in info
    layers, _ = rf_core.parse_stack(rf_core.layers_to_string(rf_core.PRESETS["resnet50_tv"]), 128)
    nets = int(min(8, 2e8 // max(rf_core.measurement_cost(layers, 128) * 16, 1)))
    erf = rf_core.effective_size(rf_core.measured_receptive_field(layers, 128, "random", 0, num_seeds=nets))
    assert f"about {erf:.0f} pixels wide" in info and f"{erf / 128:.0%} of the image" in info


def test_online_action_map_table_and_short_numbers():
    at = open_page(by_key("online_action"))
    shipped = oa.load_shipped(ROOT / "assets")
    default = oa.evaluate_all(shipped[(16, 4, 1.6)].models, shipped[(16, 4, 1.6)].experiment)
    table = at.dataframe[0].value
    assert list(table["mAP"]) == pytest.approx([default.results[k].mAP for k in oa.MODEL_KINDS], abs=1e-9)
    info = press(at, "online_action", "short")
    short = oa.evaluate_all(shipped[(4, 4, 1.6)].models, shipped[(4, 4, 1.6)].experiment)
    assert f"fall to {short.results['gru'].mAP:.3f} and {short.results['oadtr'].mAP:.3f}" in info
    assert f"({short.results['mlp'].mAP:.3f})" in info
    assert list(at.dataframe[0].value["mAP"]) == pytest.approx(
        [short.results[k].mAP for k in oa.MODEL_KINDS], abs=1e-9
    )
