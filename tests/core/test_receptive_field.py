"""Receptive-field arithmetic against published tables, a literal index-set
loop, torch's own output shapes and torch autograd measurements.

Published numbers: A. Araujo, W. Norris, J. Sim, "Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019 (doi:10.23915/distill.00021), table
of common networks at 224x224 input, whose per-end-point values are listed in
google-research/receptive_field, RF_numbers.md (TF-Slim models), and F. Yu,
V. Koltun, ICLR 2016, table 1 (context module fields). Integer quantities are
compared exactly; measured fields (float32) with the tolerance stated.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core import receptive_field as rf
from core.receptive_field import Layer

torch.set_num_threads(1)

# (end-point layer name, RF size r, effective stride S, effective padding P) at 224x224
VGG16_PUBLISHED = [
    ("conv1_1", 3, 1, 1), ("pool1", 6, 2, 2), ("conv2_1", 10, 2, 4), ("pool2", 16, 4, 6),
    ("conv3_1", 24, 4, 10), ("conv3_2", 32, 4, 14), ("pool3", 44, 8, 18),
    ("conv4_1", 60, 8, 26), ("conv4_2", 76, 8, 34), ("pool4", 100, 16, 42),
    ("conv5_1", 132, 16, 58), ("conv5_2", 164, 16, 74), ("pool5", 212, 32, 90),
]  # fmt: skip
ALEXNET_V2_PUBLISHED = [
    ("conv1", 11, 4, 0), ("pool1", 19, 8, 0), ("conv2", 51, 8, 16), ("conv3", 99, 16, 32),
    ("conv4", 131, 16, 48), ("conv5", 163, 16, 64), ("pool5", 195, 32, 64),
]  # fmt: skip
# TF-Slim block end-points = the last 1x1 conv of the last unit of each block
RESNET_V1_50_PUBLISHED = [
    ("block1/unit_3/conv3", 35, 8, 15), ("block2/unit_4/conv3", 99, 16, 47),
    ("block3/unit_6/conv3", 291, 32, 143), ("block4/unit_3/conv3", 483, 32, 239),
]  # fmt: skip


def _by_name(layers: list[Layer]) -> dict[str, rf.RFStats]:
    return {layer.name: s for layer, s in zip(layers, rf.receptive_field(layers), strict=True)}


@pytest.mark.parametrize(
    "preset, table",
    [
        ("vgg16", VGG16_PUBLISHED),
        ("alexnet_v2", ALEXNET_V2_PUBLISHED),
        ("resnet50_slim", RESNET_V1_50_PUBLISHED),
    ],
)
def test_presets_reproduce_published_table(preset, table):
    stats = _by_name(rf.PRESETS[preset])
    for name, r, S, P in table:
        s = stats[name]
        assert (s.size, s.jump, s.padding) == (r, S, P), name


def test_final_rows_of_distill_table():
    # the networks' last rows: (r, S, P) = AlexNet v2 (195, 32, 64), VGG-16 (212, 32, 90), ResNet-50 v1 (483, 32, 239)
    for preset, expected in [
        ("alexnet_v2", (195, 32, 64)),
        ("vgg16", (212, 32, 90)),
        ("resnet50_slim", (483, 32, 239)),
    ]:
        last = rf.receptive_field(rf.PRESETS[preset])[-1]
        assert (last.size, last.jump, last.padding) == expected


def test_dilated_preset_matches_yu_koltun_table1():
    sizes = [s.size for s in rf.receptive_field(rf.PRESETS["dilated"])]
    assert sizes == [3, 5, 9, 17, 33, 65, 67, 67]
    assert all(s.jump == 1 for s in rf.receptive_field(rf.PRESETS["dilated"]))


def test_presets_output_sizes_match_torch_modules():
    # independent reference: run torch layers with the presets' parameters on a 224 input
    for preset in rf.PRESETS:
        layers = rf.PRESETS[preset]
        x = torch.zeros(1, 1, 224, 224)
        shapes = []
        for layer in layers:
            x = F.pad(x, (layer.padding, layer.pad_right) * 2)
            x = (
                F.max_pool2d(x, layer.kernel, layer.stride, dilation=layer.dilation)
                if layer.kind == "pool"
                else F.conv2d(
                    x,
                    torch.ones(1, 1, layer.kernel, layer.kernel),
                    stride=layer.stride,
                    dilation=layer.dilation,
                )
            )
            shapes.append(x.shape[-1])
        assert rf.output_size(layers, 224) == shapes, preset
    # the well-known map sizes
    assert rf.output_size(rf.PRESETS["vgg16"], 224)[-1] == 7
    assert rf.output_size(rf.PRESETS["resnet50_slim"], 224)[1] == 56  # TF "SAME" max-pool: 112 -> 56
    assert rf.output_size(rf.PRESETS["resnet50_tv"], 224)[-1] == 7


def test_resnet_torchvision_field_from_literal_index_sets():
    # stride in the first unit (torchvision) vs the last unit (TF-Slim): same jump 32, smaller field;
    # the size is checked against the slow index-set oracle defined below, not against our recursion
    tv, slim = (
        rf.receptive_field(rf.PRESETS["resnet50_tv"])[-1],
        rf.receptive_field(rf.PRESETS["resnet50_slim"])[-1],
    )
    assert tv.jump == slim.jump == 32
    window = _literal_window(rf.PRESETS["resnet50_tv"], 0)[0]
    assert max(window) - min(window) + 1 == tv.size == 427
    assert min(window) == -tv.padding


# --- random stacks -----------------------------------------------------------------


@st.composite
def stacks(draw, max_layers=5, max_kernel=5, max_stride=3, max_dilation=3, max_pad=3):
    n = draw(st.integers(1, max_layers))
    layers = []
    for _ in range(n):
        k = draw(st.integers(1, max_kernel))
        layers.append(
            Layer(
                kernel=k,
                stride=draw(st.integers(1, max_stride)),
                padding=draw(st.integers(0, max_pad)),
                dilation=draw(st.integers(1, max_dilation)),
                kind=draw(st.sampled_from(["conv", "pool"])),
            )
        )
    return layers


@given(stacks(max_layers=12, max_kernel=7, max_stride=4, max_dilation=4, max_pad=6))
@settings(max_examples=100, deadline=None)
def test_top_down_equals_bottom_up(layers):
    assert rf.receptive_field_top_down(layers) == rf.receptive_field(layers)


def _literal_window(layers: list[Layer], unit: int) -> list[set[int]]:
    """Slow oracle: the explicit set of indices of every layer feeding `unit`."""
    sets = [{unit}]
    for layer in reversed(layers):
        below = set()
        for j in sets[-1]:
            below |= {j * layer.stride - layer.padding + t * layer.dilation for t in range(layer.kernel)}
        sets.append(below)
    return sets[::-1]


@given(stacks(), st.integers(0, 6))
@settings(max_examples=100, deadline=None)
def test_tower_and_stats_match_literal_index_sets(layers, unit):
    sets = _literal_window(layers, unit)
    tw = rf.tower(layers, unit)
    assert [(min(s), max(s)) for s in sets] == tw
    assert [set(a.tolist()) for a in rf.feeding_units(layers, unit)] == sets
    s = rf.receptive_field(layers)[-1]
    assert (s.start(unit), s.end(unit)) == tw[0]
    assert s.end(unit) - s.start(unit) + 1 == s.size
    assert s.centre + unit * s.jump == pytest.approx((tw[0][0] + tw[0][1]) / 2)


@given(stacks(max_layers=6, max_pad=4), st.integers(1, 80), st.data())
@settings(max_examples=100, deadline=None)
def test_output_size_matches_torch(layers, n, data):
    # asymmetric right padding on some layers
    layers = [
        Layer(
            lay.kernel,
            lay.stride,
            lay.padding,
            lay.dilation,
            lay.kind,
            padding_right=data.draw(st.sampled_from([None, 0, 1, 2])),
        )
        for lay in layers
    ]
    expected = rf.output_size(layers, n)
    x = torch.zeros(1, 1, n)
    got = []
    for layer in layers:
        if x.shape[-1] < 1:
            got.append(0)
            continue
        x = F.pad(x, (layer.padding, layer.pad_right))
        if x.shape[-1] < layer.span:
            x = torch.zeros(1, 1, 0)
            got.append(0)
            continue
        x = F.conv1d(x, torch.ones(1, 1, layer.kernel), stride=layer.stride, dilation=layer.dilation)
        got.append(x.shape[-1])
    assert expected == got


@given(stacks(max_layers=5, max_kernel=5, max_stride=3, max_dilation=3, max_pad=3))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_measured_extent_with_ones_equals_computed_size(layers):
    s = rf.receptive_field(layers)[-1]
    n = min(rf.MAX_MEASURE_SIZE, 2 * (s.size + s.padding) + 3)
    sizes = rf.output_size(layers, n)
    assume(sizes[-1] >= 1)
    u = (sizes[-1] - 1) // 2
    assume(0 <= s.start(u) and s.end(u) <= n - 1)
    field = rf.measured_receptive_field(layers, n, "ones", dims=1)  # torch autograd
    assert rf.support_extent(field) == (s.start(u), s.end(u))


@pytest.mark.parametrize("preset", ["vgg16", "alexnet_v2", "dilated"])
def test_measured_2d_extent_of_presets(preset):
    layers = rf.PRESETS[preset]
    n = 224
    s = rf.receptive_field(layers)[-1]
    u = (rf.output_size(layers, n)[-1] - 1) // 2
    a, b = max(s.start(u), 0), min(s.end(u), n - 1)
    field = rf.measured_receptive_field(layers, n, "ones")
    assert field.shape == (n, n)
    assert rf.support_extent(field, 0) == (a, b) and rf.support_extent(field, 1) == (a, b)
    assert field.sum() == pytest.approx(1.0, abs=1e-5)


def test_ones_field_is_a_convolution_of_boxes():
    # n layers of k=3, stride 1: the 1-D ones field is the n-fold convolution of a box of 3
    # (closed form via numpy), and its variance is n (k^2 - 1)/12 (sum of n uniforms). Tol 1e-6.
    for n_layers in (1, 4, 9):
        layers = [Layer(3, 1, 1) for _ in range(n_layers)]
        field = rf.measured_receptive_field(layers, 61, "ones", dims=1)
        box = np.full(3, 1 / 3)
        ref = np.array([1.0])
        for _ in range(n_layers):
            ref = np.convolve(ref, box)
        start = 30 - n_layers
        np.testing.assert_allclose(field[start : start + ref.size], ref, atol=1e-6)
        x = np.arange(61)
        mean = (field * x).sum()
        assert (field * (x - mean) ** 2).sum() == pytest.approx(n_layers * (9 - 1) / 12, rel=1e-5)
        # 2-D field is the outer product of the 1-D one
        f2 = rf.measured_receptive_field(layers, 61, "ones")
        np.testing.assert_allclose(f2, np.outer(field, field), atol=1e-6)


def test_measured_equals_literal_autograd_loop():
    # independent construction with torch.nn modules and plain backward(), ones weights
    layers = [Layer(3, 2, 1), Layer(2, 2, 0, kind="pool"), Layer(3, 1, 2, 2)]
    n = 40
    x = torch.ones(1, 1, n, n, requires_grad=True)
    h = x
    for layer in layers:
        if layer.kind == "pool":
            h = torch.nn.AvgPool2d(layer.kernel, layer.stride, layer.padding, count_include_pad=True)(h)
        else:
            m = torch.nn.Conv2d(1, 1, layer.kernel, layer.stride, layer.padding, layer.dilation, bias=False)
            torch.nn.init.constant_(m.weight, 1.0)
            h = m(h)
    c = (h.shape[-1] - 1) // 2
    h[0, 0, c, c].backward()
    ref = x.grad[0, 0].numpy()
    ref = ref / ref.sum()
    np.testing.assert_allclose(rf.measured_receptive_field(layers, n, "ones"), ref, atol=1e-6)


def test_effective_field_shrinks_relative_to_theoretical():
    # Luo et al. 2016: with random weights the ERF grows like sqrt(n) while the RF grows like n
    layers = [Layer(3, 1, 1) for _ in range(24)]
    res = rf.erf_ratio_by_depth(layers, 101, seed=0, num_seeds=16, max_points=24)
    ratio = dict(zip(res["depth"].tolist(), res["ratio"].tolist(), strict=True))
    assert ratio[1] == pytest.approx(1.0)
    assert ratio[24] < 0.6 * ratio[4]
    assert ratio[24] < ratio[12] < ratio[4]
    # measured random-weight field is a distribution (sums to 1), symmetric-ish, peaked at the centre
    f = rf.measured_receptive_field(layers, 101, "random", seed=3, num_seeds=16, dims=1)
    assert f.sum() == pytest.approx(1.0, abs=1e-5)
    assert abs(int(np.argmax(f)) - 50) <= 3


def test_random_field_reproducible_and_seed_dependent():
    layers = [Layer(3, 1, 1), Layer(3, 2, 1), Layer(3, 1, 1)]
    a = rf.measured_receptive_field(layers, 32, "random", seed=5)
    b = rf.measured_receptive_field(layers, 32, "random", seed=5)
    c = rf.measured_receptive_field(layers, 32, "random", seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_measurement_is_bounded():
    with pytest.raises(ValueError):
        rf.measured_receptive_field([Layer(3)], rf.MAX_MEASURE_SIZE + 1)


def test_effective_size():
    f = np.zeros((10, 10))
    f[2:6, 3:7] = 1 / 16
    assert rf.effective_size(f, mass=0.999) == pytest.approx(4.0)
    assert rf.effective_size(np.array([0, 0.5, 0.5, 0])) == pytest.approx(2.0)


# --- the compact stack string and validation ------------------------------------------


@given(stacks(max_layers=10, max_kernel=11, max_stride=4, max_dilation=4, max_pad=5))
@settings(max_examples=100, deadline=None)
def test_stack_string_round_trip(layers):
    text = rf.layers_to_string(layers)
    parsed, errors = rf.parse_stack(text)
    assert errors == []
    assert parsed == layers


def test_stack_string_examples():
    layers, errors = rf.parse_stack("c3p1, c3p1, m2s2, c3p2d2, m3s2r1")
    assert errors == []
    assert layers == [Layer(3, 1, 1), Layer(3, 1, 1), Layer(2, 2, 0, kind="pool"), Layer(3, 1, 2, 2),
                      Layer(3, 2, 0, kind="pool", padding_right=1)]  # fmt: skip
    for name, layers in rf.PRESETS.items():
        parsed, errors = rf.parse_stack(rf.layers_to_string(layers), 224)
        assert errors == [] and [
            (p.kernel, p.stride, p.padding, p.dilation, p.kind, p.pad_right) for p in parsed
        ] == [(q.kernel, q.stride, q.padding, q.dilation, q.kind, q.pad_right) for q in layers], name


@pytest.mark.parametrize(
    "text, row, kind",
    [
        ("c3,c0", 2, "kernel"),
        ("c3,c3s0", 2, "stride"),
        ("c3d0", 1, "dilation"),
        ("c3,c3,c3p-1", 3, "padding"),
        ("c3,c2.5", 2, "integer"),
        ("c3s1.5", 1, "integer"),
        ("c3,hello", 2, "parse"),
        ("", 0, "empty"),
        ("c3,c3s2,c9", 3, "fits"),  # at input 8: 8 -> 6 -> 3 -> (3 - 9) < 0
    ],
)
def test_validation_names_the_row(text, row, kind):
    layers, errors = rf.parse_stack(text, input_size=8)
    assert layers == []
    assert errors[0].row == row and errors[0].kind == kind


def test_too_many_layers():
    layers, errors = rf.parse_stack(",".join(["c1"] * (rf.MAX_LAYERS + 1)))
    assert layers == [] and errors[0].kind == "too_many"
    layers, errors = rf.parse_stack(",".join(["c1"] * rf.MAX_LAYERS))
    assert errors == [] and len(layers) == rf.MAX_LAYERS


def test_validate_rows_from_an_editor_table():
    rows = [
        {"kind": "conv", "kernel": 3, "stride": 1, "padding": 1, "dilation": 1},
        {"kind": "pool", "kernel": 2.0, "stride": 2.0, "padding": 0.0, "dilation": float("nan")},
        {"kind": "conv", "kernel": None, "stride": 1, "padding": 0, "dilation": 1},
    ]
    layers, errors = rf.validate_rows(rows)
    assert layers == [] and [(e.row, e.kind) for e in errors] == [(3, "missing")]
    layers, errors = rf.validate_rows(rows[:2])
    assert errors == [] and layers[1] == Layer(2, 2, 0, 1, "pool")
    assert math.isclose(rf.receptive_field(layers)[-1].size, 4)


def test_apply_table_edits_then_round_trip():
    cols = ["kind", "kernel", "stride", "padding", "dilation", "padding_right"]
    rows = [rf.layer_to_row(x) for x in [Layer(3, 1, 1), Layer(2, 2, 0, kind="pool"), Layer(5, 1, 2)]]
    delta = {
        "edited_rows": {"0": {"kernel": 5, "padding": 2}, 2: {"stride": 0}},
        "deleted_rows": [1],
        "added_rows": [{"kind": "pool", "kernel": 3}, {}],
    }
    new = rf.apply_table_edits(rows, delta, cols)
    text = rf.encode_stack(new)
    assert text == "c5p2,c5s0p2,m3s2,c3p1"
    layers, errors = rf.parse_stack(text)
    assert layers == [] and (errors[0].row, errors[0].kind) == (2, "stride")  # the bad edit survives, named
