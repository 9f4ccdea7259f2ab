"""Receptive-field page: bad stacks give a message naming the row (never an
exception) and the last valid result stays; the URL reproduces presets and
custom stacks; the "Try this" presets show the numbers their texts promise."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.receptive_field import PRESET_NAMES
from tests.apptest_utils import APP, assert_healthy, open_page, set_formatted
from ui.registry import by_key

SPEC = by_key("receptive_field")


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def rf_metric(at) -> int:
    return int(at.metric[0].value)


def table_rf(at) -> list[int]:
    df = at.dataframe[1].value  # [0] is the stack editor, [1] the per-layer results
    return [int(v) for v in df.iloc[:, 7]]  # the "RF size r" column


BAD = [
    ("c3,c0", "Row 2", "kernel"),
    ("c3,c3s0", "Row 2", "stride"),
    ("c3,c3,c3d0", "Row 3", "dilation"),
    ("c3p-1", "Row 1", "negative"),
    ("c3,c2.5", "Row 2", "whole number"),
    ("c3,c3s1.5", "Row 2", "whole number"),
    ("c3,c300", "Row 2", "less than one unit"),  # output size < 1 at 224
    (",".join(["c1"] * 201), "201 layers", "at most 200"),
    ("c3,zz", "Row 2", "cannot read"),
]


@pytest.fixture(scope="module")
def page():
    at = open_page(SPEC, "en")
    assert_healthy(at, "first render")
    return at


@pytest.mark.parametrize(("text", "row", "words"), BAD, ids=[b[2] + "-" + b[1] for b in BAD])
def test_bad_row_names_the_row_and_keeps_last_result(page, text, row, words):
    at = page
    at.text_input(key="stack").set_value("c3p1,c3p1,m2s2").run()  # a valid custom stack first
    assert_healthy(at)
    assert not at.warning
    good = table_rf(at)
    assert good == [3, 5, 6]
    at.text_input(key="stack").set_value(text).run()
    assert_healthy(at, text[:30])
    assert at.warning, f"no message for {text[:30]!r}"
    msg = at.warning[0].value
    assert row in msg and words in msg, msg
    assert table_rf(at) == good  # the last valid result stays on screen
    assert rf_metric(at) == 6


def test_bad_row_message_in_chinese():
    # the language set through session state: open_page's ?lang=zh does not reach AppTest's first run
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lang"] = "zh"
    at.query_params["stack"] = "c3,c3,c0"
    at.switch_page(SPEC.file)
    at.run()
    assert_healthy(at)
    assert at.title[0].value == "卷积堆叠的感受野"
    assert "第 3 行" in at.warning[0].value and "卷积核" in at.warning[0].value
    # nothing valid yet in this session: the default network is shown under the message
    assert rf_metric(at) == 212


@pytest.mark.parametrize(
    ("preset", "r", "jump", "pad"),
    [
        ("vgg16", 212, 32, 90),
        ("alexnet_v2", 195, 32, 64),
        ("resnet50_slim", 483, 32, 239),
        ("resnet50_tv", 427, 32, 213),
    ],
)
def test_preset_from_url(preset, r, jump, pad):
    # Araujo et al., Distill 2019 table (VGG-16, AlexNet v2, ResNet-50 v1 at 224x224)
    at = open_page(SPEC, "en", {"preset": PRESET_NAMES[preset]})  # the URL holds the label
    assert_healthy(at)
    vals = [int(m.value) for m in at.metric]
    assert vals[:3] == [r, jump, pad]
    assert vals[3] in (5, 7)  # final map: AlexNet v2 5x5, the others 7x7


def test_custom_stack_from_url_and_unit():
    at = open_page(SPEC, "en", {"stack": "c3p1,c3s2p1,m2s2", "n": "32", "unit": "3"})
    assert_healthy(at)
    assert table_rf(at) == [3, 5, 7]
    editor = at.dataframe[0].value  # the editor shows the stack from the URL
    assert editor["kind"].tolist() == ["conv", "conv", "pool"]
    assert editor["stride"].tolist() == [1, 2, 2]
    assert at.number_input(key="unit").value == 3
    assert at.slider(key="n").value == 32
    # unit 3 of the last layer (jump 4, padding 2) reads input 10 ... 16
    assert any("10 … 16" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("name", "r", "out"),
    [("small_vs_large", 7, 64), ("stride_early", 15, 32), ("dilation", 31, 64), ("exceeds_image", 427, 4)],
)
def test_try_this_numbers(name, r, out):
    at = open_page(SPEC, "en")
    at.button(key=f"try_receptive_field_{name}").click().run()
    assert_healthy(at, name)
    vals = [int(m.value) for m in at.metric]
    assert vals[0] == r and vals[3] == out


def test_preset_change_clears_custom_stack():
    at = open_page(SPEC, "en", {"stack": "c3p1,c3p1"})
    assert at.selectbox(key="preset").value == "vgg16"  # the URL gave only a stack: it wins
    assert rf_metric(at) == 5
    set_formatted(at, at.selectbox(key="preset"), PRESET_NAMES["alexnet_v2"])
    at.run()
    assert_healthy(at)
    assert at.text_input(key="stack").value == ""
    assert rf_metric(at) == 195


def test_measurement_runs_on_first_visit_then_waits_for_measure():
    at = open_page(SPEC, "en")
    charts = len(at.get("vega_lite_chart"))
    assert charts == 5  # tower, RF by depth, ERF ratio, two heat maps
    at.slider(key="n").set_value(200).run()  # VGG at 200 px: too costly to re-measure on every change
    assert_healthy(at)
    assert any("Measure" in i.value for i in at.info)
    assert len(at.get("vega_lite_chart")) == 2  # the arithmetic charts stay live
    at.button(key="rf_measure").click().run()
    assert_healthy(at)
    assert len(at.get("vega_lite_chart")) == 5
    assert not any("Measure" in i.value for i in at.info)


def test_bad_stack_in_link_is_ignored_with_a_message():
    at = open_page(SPEC, "en", {"stack": "c3,banana", "preset": PRESET_NAMES["alexnet_v2"]})
    assert_healthy(at)
    msg = at.warning[0].value
    assert "could not be used" in msg and "Row 2" in msg, msg
    assert at.text_input(key="stack").value == ""  # the link's value is dropped, the preset shows
    assert rf_metric(at) == 195
