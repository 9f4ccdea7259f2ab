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


# The presets are built at import time; the tests call the builders again so that a change in a
# builder (or a mutant planted in one, mutation testing) is seen by them.
BUILDERS = {
    "vgg16": rf._vgg16,
    "alexnet_v2": rf._alexnet_v2,
    "resnet50_slim": lambda: rf._resnet50(stride_in_first_unit=False),
    "resnet50_tv": lambda: rf._resnet50(stride_in_first_unit=True),
    "dilated": rf._dilated,
}


def test_presets_are_their_builders():
    assert set(BUILDERS) == set(rf.PRESETS) == set(rf.PRESET_NAMES)
    for name, build in BUILDERS.items():
        assert build() == rf.PRESETS[name], name


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
    stats = _by_name(BUILDERS[preset]())
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
        last = rf.receptive_field(BUILDERS[preset]())[-1]
        assert (last.size, last.jump, last.padding) == expected


def test_dilated_preset_matches_yu_koltun_table1():
    sizes = [s.size for s in rf.receptive_field(rf._dilated())]
    assert sizes == [3, 5, 9, 17, 33, 65, 67, 67]
    assert all(s.jump == 1 for s in rf.receptive_field(rf._dilated()))


def test_presets_output_sizes_match_torch_modules():
    # independent reference: run torch layers with the presets' parameters on a 224 input
    for preset in rf.PRESETS:
        layers = BUILDERS[preset]()
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
    assert rf.output_size(rf._vgg16(), 224)[-1] == 7
    assert rf.output_size(BUILDERS["resnet50_slim"](), 224)[1] == 56  # TF "SAME" max-pool: 112 -> 56
    assert rf.output_size(BUILDERS["resnet50_tv"](), 224)[-1] == 7


def test_resnet_torchvision_field_from_literal_index_sets():
    # stride in the first unit (torchvision) vs the last unit (TF-Slim): same jump 32, smaller field;
    # the size is checked against the slow index-set oracle defined below, not against our recursion
    tv, slim = (
        rf.receptive_field(BUILDERS["resnet50_tv"]())[-1],
        rf.receptive_field(BUILDERS["resnet50_slim"]())[-1],
    )
    assert tv.jump == slim.jump == 32
    window = _literal_window(BUILDERS["resnet50_tv"](), 0)[0]
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


# --- mutation-testing follow-ups (issue 21) -------------------------------------------


def _literal_random_field(layers: list[Layer], n: int, seed: int, G: int, C: int, dims: int) -> np.ndarray:
    """Slow oracle for weights="random": one network at a time with torch.nn modules and a
    plain backward(), no grouped convolutions, no hooks, float64 arithmetic. The weights are
    the documented draws from one torch.Generator(seed): the N(0, 1) image for all G
    networks first, then per conv layer N(0, 2 / fan_in) weights of all G networks."""
    gen = torch.Generator().manual_seed(seed)
    x_all = torch.randn((1, G * C) + (n,) * dims, generator=gen, dtype=torch.float32)
    ws = []
    for layer in layers:
        if layer.kind == "pool":
            ws.append(None)
        else:
            w = torch.randn((G * C, C) + (layer.kernel,) * dims, generator=gen, dtype=torch.float32)
            ws.append(w.double() * math.sqrt(2.0 / (C * layer.kernel**dims)))
    Conv = torch.nn.Conv2d if dims == 2 else torch.nn.Conv1d
    Pool = torch.nn.AvgPool2d if dims == 2 else torch.nn.AvgPool1d
    maps = []
    for g in range(G):
        x = x_all[:, g * C : (g + 1) * C].double().clone().requires_grad_(True)
        h = x
        for layer, w in zip(layers, ws, strict=True):
            pad = torch.nn.ConstantPad2d if dims == 2 else torch.nn.ConstantPad1d
            h = pad((layer.padding, layer.pad_right) * dims, 0.0)(h)
            if w is None:  # average pool (dilation 1 in the stacks used here)
                h = Pool(layer.kernel, layer.stride)(h)
            else:
                m = Conv(C, C, layer.kernel, layer.stride, 0, layer.dilation, bias=False).double()
                with torch.no_grad():
                    m.weight.copy_(w[g * C : (g + 1) * C])
                h = torch.relu(m(h))
        c = (h.shape[-1] - 1) // 2
        h[(0, slice(None)) + (c,) * dims].sum().backward()
        grad = x.grad[0].abs().sum(0).numpy()
        maps.append(grad / grad.sum() if grad.sum() > 0 else np.zeros_like(grad))
    mean = np.mean(maps, axis=0)
    return mean / mean.sum()


@pytest.mark.parametrize(
    "layers, n, dims, G, C, seed",
    [
        ([Layer(3, 1, 1), Layer(2, 2, 0, kind="pool"), Layer(3, 2, 2, 2), Layer(1)], 20, 2, 3, 2, 7),
        ([Layer(5, 2, 1), Layer(3, 1, 0, kind="pool", padding_right=2), Layer(3, 1, 1, 3)], 33, 1, 4, 3, 1),
        # deep: the per-layer rescaling must stay neutral
        ([Layer(3, 1, 1) for _ in range(30)], 48, 1, 2, 2, 4),
        # one channel behind a 1x1 conv: some networks' gradients sum to < 1 before their normalisation
        ([Layer(1), Layer(5, 1, 2)], 9, 1, 4, 1, 1),
    ],
)
def test_random_field_equals_literal_per_network_loop(layers, n, dims, G, C, seed):
    # float32 forward/backward in the code against float64 in the oracle: rtol 1e-4, atol 1e-7
    got = rf.measured_receptive_field(layers, n, "random", seed, num_seeds=G, channels=C, dims=dims)
    ref = _literal_random_field(layers, n, seed, G, C, dims)
    assert got.shape == (n,) * dims and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-7)


def test_erf_ratio_by_depth_against_literal_pieces():
    # 6 layers c3p1 at n = 9, max_points 3: depths round(linspace(1, 6, 3)) = 1, 4 (3.5 rounds to even), 6.
    # r_l = 2 l + 1 (3, 9, 13); unit u = 4 of a 9-wide map sees [4 - l, 4 + l], clipped to [0, 8]: 3, 9, 9.
    # at mass 0.5: erf_ones the 50 % width of the l-fold box convolution (numpy), erf that of the literal oracle.
    layers = [Layer(3, 1, 1) for _ in range(6)]
    res = rf.erf_ratio_by_depth(layers, 9, seed=2, num_seeds=3, channels=2, mass=0.5, max_points=3)
    assert res["depth"].tolist() == [1, 4, 6]
    assert res["rf"].tolist() == [3, 9, 13] and res["rf"].dtype.kind == "i"
    assert res["rf_visible"].tolist() == [3.0, 9.0, 9.0]
    assert all(res[key].dtype == np.float64 for key in ("rf_visible", "erf", "erf_ones", "ratio"))
    for i, depth in enumerate([1, 4, 6]):
        box = np.array([1.0])
        for _ in range(depth):
            box = np.convolve(box, np.full(3, 1 / 3))
        lo = 4 - depth
        line = np.zeros(9 + 2 * 6)
        line[lo + 6 : lo + 6 + box.size] = box  # the field, then clipped to the image
        ones = line[6:15] / line[6:15].sum()
        v = np.sort(ones)[::-1]
        want_ones = int(np.argmax(np.cumsum(v) >= 0.5 - 1e-12)) + 1
        assert res["erf_ones"][i] == pytest.approx(want_ones)
        r = _literal_random_field(layers[:depth], 9, 2, 3, 2, 1)
        v = np.sort(r)[::-1]
        want = int(np.argmax(np.cumsum(v) >= 0.5 - 1e-6)) + 1
        assert res["erf"][i] == pytest.approx(want)
        assert res["ratio"][i] == pytest.approx(want / res["rf_visible"][i])


def test_erf_ratio_by_depth_skips_depths_that_do_not_fit():
    # c3 stride 2 without padding at n = 16: 7, 3, 1, then (1 - 3) // 2 + 1 = 0: depth 4 is dropped
    layers = [Layer(3, 2, 0) for _ in range(4)]
    res = rf.erf_ratio_by_depth(layers, 16, num_seeds=2, channels=2)
    assert res["depth"].tolist() == [1, 2, 3]
    # r = 3, 7, 15; unit (n_l - 1) // 2 = 3, 1, 0 starts at u S = 6, 4, 0 (P = 0)
    assert res["rf"].tolist() == [3, 7, 15]
    assert res["rf_visible"].tolist() == [3.0, 7.0, 15.0]
    # a field hanging over both edges of the image is clipped on both sides
    wide = rf.erf_ratio_by_depth([Layer(7, 1, 3), Layer(7, 1, 3)], 5, num_seeds=1, channels=1)
    assert wide["rf"].tolist() == [7, 13] and wide["rf_visible"].tolist() == [5.0, 5.0]


def test_effective_size_by_hand():
    # cumulative mass 0.5, 0.75, 1.0: the smallest set holding 0.75 has 2 pixels (not 3)
    assert rf.effective_size(np.array([0.25, 0.5, 0.25]), mass=0.75) == 2.0
    # an unnormalised field is normalised first (here the sum is 0.5 < 1)
    assert rf.effective_size(np.array([0.125, 0.25, 0.125]), mass=0.75) == 2.0
    assert rf.effective_size(np.array([0.125, 0.25, 0.125]), mass=0.5) == 1.0
    # default mass 0.95: masses 0.9 and 0.1 need both pixels
    assert rf.effective_size(np.array([0.0, 0.9, 0.1])) == 2.0
    # 2-D: 9 pixels -> a 3-pixel side; 1-D: the count itself
    f = np.zeros((5, 5))
    f[1:4, 1:4] = 1 / 9
    assert rf.effective_size(f, mass=0.999) == pytest.approx(3.0)
    assert rf.effective_size(np.full(9, 1 / 9), mass=0.999) == 9.0


def test_support_extent_by_hand():
    f = np.zeros((6, 9))
    f[2:5, 5:8] = 0.1
    assert rf.support_extent(f) == (2, 4)
    assert rf.support_extent(f, axis=0) == (2, 4)
    assert rf.support_extent(f, axis=1) == (5, 7)
    assert rf.support_extent(np.array([0.0, 0.0, 0.3, 0.0, 0.7, 0.0])) == (2, 4)
    assert rf.support_extent(np.zeros(4)) == (-1, -1)
    assert rf.support_extent(np.zeros((3, 3)), axis=1) == (-1, -1)


def test_measurement_cost_by_hand():
    # c3p1 then a 2x2 stride-2 pool at n = 8: maps 8, 4; 2-D: 8^2 3^2 + 4^2 2^2 = 640; 1-D: 8*3 + 4*2 = 32
    layers = [Layer(3, 1, 1), Layer(2, 2, 0, kind="pool")]
    assert rf.measurement_cost(layers, 8) == 640
    assert rf.measurement_cost(layers, 8, dims=1) == 32
    assert rf.measurement_cost(layers, 8, 2) == 640


def test_output_size_after_a_layer_that_does_not_fit():
    # 5 -> (5 - 7) // 1 + 1 = -1 -> 0, and every later layer 0
    assert rf.output_size([Layer(3), Layer(7), Layer(1), Layer(1)], 5) == [3, 0, 0, 0]
    assert rf.output_size([Layer(5, 2, 0)], 4) == [0]
    assert rf.output_size([Layer(3, 2, 1, padding_right=0)], 8) == [4]  # (8 + 1 + 0 - 3) // 2 + 1
    assert rf.output_size([Layer(3, 2, 1)], 8) == [4] and rf.output_size(
        [Layer(3, 2, 1, padding_right=2)], 8
    ) == [5]


def test_measurement_rejects_bad_arguments():
    rf.measured_receptive_field([Layer(3)], rf.MAX_MEASURE_SIZE, dims=1)  # the largest size is allowed
    with pytest.raises(ValueError, match="input_size 257 > 256"):
        rf.measured_receptive_field([Layer(3)], rf.MAX_MEASURE_SIZE + 1)
    with pytest.raises(ValueError, match="dims must be 1 or 2"):
        rf.measured_receptive_field([Layer(3)], 8, dims=3)
    with pytest.raises(ValueError, match="^the stack does not fit the input size$"):
        rf.measured_receptive_field([Layer(9)], 8)
    with pytest.raises(ValueError, match="^the stack does not fit the input size$"):
        rf.measured_receptive_field([], 8)
    # an output of exactly one unit fits: c5 on 5 pixels, every pixel weighs 1/5
    np.testing.assert_allclose(rf.measured_receptive_field([Layer(5)], 5, dims=1), np.full(5, 0.2), atol=1e-7)


def test_measured_defaults_are_ones_weights_2d():
    # default weights="ones", dims=2: the 2-D mean filter c3 at n = 5, centre 2: a 3x3 block of 1/9
    f = rf.measured_receptive_field([Layer(3, 1, 1)], 5)
    ref = np.zeros((5, 5))
    ref[1:4, 1:4] = 1 / 9
    np.testing.assert_allclose(f, ref, atol=1e-7)
    # default num_seeds 8, channels 4, seed 0: the literal oracle with those numbers
    layers = [Layer(3, 1, 1), Layer(3, 1, 1)]
    got = rf.measured_receptive_field(layers, 12, "random", dims=1)
    np.testing.assert_allclose(got, _literal_random_field(layers, 12, 0, 8, 4, 1), rtol=1e-4, atol=1e-7)


def test_centre_unit_is_the_left_middle_one():
    # an even map of 4 units: the centre is unit (4 - 1) // 2 = 1, whose c1 window is pixel 1
    f = rf.measured_receptive_field([Layer(1)], 4, dims=1)
    assert f.tolist() == [0.0, 1.0, 0.0, 0.0]
    f = rf.measured_receptive_field([Layer(1)], 5, dims=1)
    assert f.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


def test_preset_layer_names_and_kinds():
    # written out from the networks' definitions (TF-Slim / torchvision end-point names)
    vgg = rf._vgg16()
    want = []
    for block, reps in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)]:
        want += [(f"conv{block}_{i}", "conv", 3, 1, 1) for i in range(1, reps + 1)]
        want.append((f"pool{block}", "pool", 2, 2, 0))
    assert [(x.name, x.kind, x.kernel, x.stride, x.padding) for x in vgg] == want
    alex = [(x.name, x.kind) for x in rf._alexnet_v2()]
    assert alex == [("conv1", "conv"), ("pool1", "pool"), ("conv2", "conv"), ("pool2", "pool"),
                    ("conv3", "conv"), ("conv4", "conv"), ("conv5", "conv"), ("pool5", "pool")]  # fmt: skip
    dil = rf._dilated()
    assert [x.name for x in dil] == ["ctx1_d1", "ctx2_d1", "ctx3_d2", "ctx4_d4", "ctx5_d8", "ctx6_d16",
                                     "ctx7_d1", "ctx8_1x1"]  # fmt: skip
    assert [(x.kernel, x.padding, x.dilation, x.kind) for x in dil] == [
        (3, d, d, "conv") for d in (1, 1, 2, 4, 8, 16, 1)
    ] + [(1, 0, 1, "conv")]
    for key, stem, blocks in [("resnet50_slim", "pool1", "block"), ("resnet50_tv", "maxpool", "layer")]:
        net = BUILDERS[key]()
        assert [(x.name, x.kind) for x in net[:2]] == [("conv1", "conv"), (stem, "pool")]
        names = [x.name for x in net[2:]]
        want = [
            f"{blocks}{b}/unit_{u}/conv{c}"
            for b, units in zip([1, 2, 3, 4], [3, 4, 6, 3], strict=True)
            for u in range(1, units + 1)
            for c in (1, 2, 3)
        ]
        assert names == want, key
        assert all(x.kind == "conv" for x in net[2:])
        # bottleneck: 1x1 pad 0, 3x3 pad 1 (the only one that may stride), 1x1 pad 0
        assert [(x.kernel, x.padding) for x in net[2:5]] == [(1, 0), (3, 1), (1, 0)]
        assert all(x.stride == 1 for x in net[2:] if x.kernel == 1)
    # where the strides sit: torchvision on unit 1 of layer2..4, TF-Slim on the last unit of block1..3
    tv = {x.name for x in BUILDERS["resnet50_tv"]()[2:] if x.stride == 2}
    assert tv == {"layer2/unit_1/conv2", "layer3/unit_1/conv2", "layer4/unit_1/conv2"}
    slim = {x.name for x in BUILDERS["resnet50_slim"]()[2:] if x.stride == 2}
    assert slim == {"block1/unit_3/conv2", "block2/unit_4/conv2", "block3/unit_6/conv2"}
    assert BUILDERS["resnet50_tv"]()[1] == Layer(3, 2, 1, kind="pool", name="maxpool")
    assert BUILDERS["resnet50_slim"]()[1] == Layer(3, 2, 0, kind="pool", name="pool1", padding_right=1)


def test_decode_stack_rows_by_hand():
    rows, errors = rf.decode_stack(" C3s2P1D2r0 , m2S2 ")  # case and spaces do not matter
    assert errors == []
    assert rows == [
        {"kind": "conv", "kernel": 3.0, "stride": 2.0, "padding": 1.0, "dilation": 2.0, "padding_right": 0.0},
        {
            "kind": "pool",
            "kernel": 2.0,
            "stride": 2.0,
            "padding": 0.0,
            "dilation": 1.0,
            "padding_right": None,
        },
    ]
    rows, errors = rf.decode_stack("c 3 p 1")  # spaces inside a token too
    assert errors == [] and rows[0]["padding"] == 1.0
    rows, errors = rf.decode_stack(
        "c3\t,x9,c2.5s-1"
    )  # tab stripped; a bad token keeps its text; numbers unchecked
    assert [(e.row, e.kind, e.value) for e in errors] == [(2, "parse", "x9")]
    assert [(r["kernel"], r["stride"]) for r in rows] == [(3.0, 1.0), (2.5, -1.0)]
    assert rf.decode_stack("") == ([], [rf.RowError(0, "empty")])
    assert rf.decode_stack("   ") == ([], [rf.RowError(0, "empty")])
    rows, errors = rf.decode_stack("c3,,c3")
    assert [(e.row, e.kind, e.value) for e in errors] == [(2, "parse", "")]


def test_validate_rows_errors_by_hand():
    rows = [
        {"kind": "conv", "kernel": 0, "stride": 0, "padding": -1, "dilation": 0, "padding_right": -2},
        {"kind": "conv", "kernel": "abc", "stride": float("inf"), "padding": 1.5},
        {"kind": "pool", "kernel": 3, "padding_right": float("nan")},
        {"kernel": None},
    ]
    layers, errors = rf.validate_rows(rows)
    assert layers == []
    assert [(e.row, e.kind, e.field, e.value) for e in errors] == [
        (1, "kernel", "kernel", "0"),
        (1, "stride", "stride", "0"),
        (1, "dilation", "dilation", "0"),
        (1, "padding", "padding", "-1"),
        (1, "padding", "padding_right", "-2"),
        (2, "integer", "kernel", "abc"),
        (2, "integer", "stride", "inf"),
        (2, "integer", "padding", "1.5"),
        (4, "missing", "kernel", ""),
    ]
    # the valid rows alone: defaults s1 p0 d1, kind default conv, names kept, NaN right padding = symmetric
    layers, errors = rf.validate_rows([{"kernel": 5.0, "name": "a"}, rows[2], {"kernel": 1, "kind": "other"}])
    assert errors == []
    assert layers == [Layer(5, 1, 0, 1, "conv", "a"), Layer(3, 1, 0, 1, "pool"), Layer(1, 1, 0, 1, "conv")]
    assert rf.validate_rows([]) == ([], [rf.RowError(0, "empty")])
    too_many = [{"kernel": 1}] * (rf.MAX_LAYERS + 1)
    assert rf.validate_rows(too_many) == (
        [],
        [rf.RowError(rf.MAX_LAYERS + 1, "too_many", value=str(rf.MAX_LAYERS + 1))],
    )
    # fits: 8 -> 6 -> 3 -> -5: row 3, the input size as value; without input_size no check
    stack = [{"kernel": 3}, {"kernel": 3, "stride": 2}, {"kernel": 9}]
    assert rf.validate_rows(stack, 8) == ([], [rf.RowError(3, "fits", value="8")])
    assert len(rf.validate_rows(stack)[0]) == 3
    assert len(rf.validate_rows(stack[:2], 8)[0]) == 2
    assert rf.parse_stack("c8", 8) == ([Layer(8)], [])  # an output of exactly one unit fits
    # the first non-fitting row is named, even when a later one also fails
    assert rf.parse_stack("c9,c9", 8) == ([], [rf.RowError(1, "fits", value="8")])
    assert rf.parse_stack("c3,,c3") == ([], [rf.RowError(2, "parse", value="")])


def test_encode_stack_by_hand():
    rows = [
        {"kind": "conv", "kernel": 3, "stride": 1, "padding": 1, "dilation": 1, "padding_right": 1},
        {"kind": "pool", "kernel": 2.0, "stride": 2.0, "padding": None, "dilation": float("nan")},
        {"kind": "conv", "kernel": 3, "stride": 2, "padding": 0, "dilation": 2, "padding_right": 1},
        {"kernel": 2.5, "stride": "x", "padding_right": float("nan")},
        {"kind": "conv", "kernel": 1, "stride": None, "padding": 2, "padding_right": 0},
    ]
    assert rf.encode_stack(rows) == "c3p1,m2s2,c3s2d2r1,c2.5sx,c1p2r0"
    assert rf.encode_stack([]) == ""
    # no padding given: it is 0, so a right padding of 0 is the symmetric default, 1 is not
    assert (
        rf.encode_stack([{"kernel": 3, "padding_right": 0}, {"kernel": 3, "padding_right": 1}]) == "c3,c3r1"
    )
    assert rf.encode_stack([{"kernel": float("inf")}]) == "cinf"
    assert rf.layers_to_string([Layer(3, 2, 1, 2, "pool", padding_right=3)]) == "m3s2p1d2r3"
    assert rf.layer_to_row(Layer(3, 2, 1, 2, "pool", "x", 3)) == {
        "kind": "pool", "kernel": 3, "stride": 2, "padding": 1, "dilation": 2, "padding_right": 3,
    }  # fmt: skip


def test_apply_table_edits_by_hand():
    cols = ["kind", "kernel", "stride", "padding", "dilation", "padding_right"]
    rows = [rf.layer_to_row(x) for x in [Layer(3, 1, 1), Layer(2, 2, 0, kind="pool"), Layer(5, 1, 2)]]
    new = rf.apply_table_edits(
        rows,
        {
            # positions 3 (= len), 5 and -1 do not exist: ignored; "name" is not a column: ignored
            "edited_rows": {
                "1": {"kernel": 4, "name": "ignored"},
                3: {"kernel": 9},
                5: {"kernel": 9},
                -1: {"kernel": 9},
            },
            # rows 0 and 2 go (both, whatever the order of deletion); 3, 7, -1 do not exist
            "deleted_rows": [2, 0, 0, 3, 7, -1],
            "added_rows": [{"kind": "pool"}, {"kernel": 5, "padding": None, "junk": 1}],
        },
        cols,
    )
    assert new == [
        {"kind": "pool", "kernel": 4, "stride": 2, "padding": 0, "dilation": 1, "padding_right": None},
        {"kind": "pool", "kernel": 2, "stride": 2, "padding": 0, "dilation": 1, "padding_right": None},
        {"kind": "conv", "kernel": 5, "stride": 1, "padding": 1, "dilation": 1, "padding_right": None},
    ]
    assert rows[1]["kernel"] == 2  # the input rows are not modified
    assert (
        rf.apply_table_edits(rows, {"edited_rows": {2: {"stride": 3}}}, cols)[2]["stride"] == 3
    )  # the last row
    assert rf.apply_table_edits(rows, {"edited_rows": {0: {"stride": 3}}}, cols)[0]["stride"] == 3
    assert rf.apply_table_edits(rows, {"deleted_rows": [2]}, cols) == rows[:2]
    assert rf.apply_table_edits(rows, {"deleted_rows": [0, 1]}, cols) == rows[2:]
    assert rf.apply_table_edits(rows, {}, cols) == rows
    empty = {"edited_rows": None, "deleted_rows": None, "added_rows": None}
    assert rf.apply_table_edits(rows, empty, cols) == rows
    # the new row's kind picks its defaults even when "kind" is not an editable column
    assert rf.apply_table_edits([], {"added_rows": [{"kind": "pool", "kernel": 3}]}, ["kernel"]) == [
        {"kind": "pool", "kernel": 3, "stride": 2, "padding": 0, "dilation": 1, "padding_right": None}
    ]
    # an added row's None and non-column entries are dropped, the rest overrides the defaults
    added = rf.apply_table_edits(
        [], {"added_rows": [{"kind": "conv", "stride": None, "dilation": 2, "x": 1}]}, cols
    )
    assert added == [
        {"kind": "conv", "kernel": 3, "stride": 1, "padding": 1, "dilation": 2, "padding_right": None}
    ]


def test_fmt_and_is_nan():
    assert rf._fmt(3) == "3" and rf._fmt(3.0) == "3" and rf._fmt("2") == "2"
    assert rf._fmt(2.5) == "2.5" and rf._fmt(float("inf")) == "inf" and rf._fmt(None) == "None"
    assert rf._fmt("abc") == "abc" and rf._fmt(-0.0) == "0"
    assert rf._is_nan(float("nan")) and not rf._is_nan(1.0) and not rf._is_nan("nan") and not rf._is_nan(None)


def test_rfstats_accessors():
    s = rf.RFStats(size=7, jump=4, padding=2, centre=1.0)
    assert s.stride == 4
    assert (s.start(0), s.end(0)) == (-2, 4)
    assert (s.start(3), s.end(3)) == (10, 16)
    assert Layer(3, dilation=4).span == 9 and Layer(1, dilation=5).span == 1
    assert Layer(3, padding=2).pad_right == 2 and Layer(3, padding=2, padding_right=0).pad_right == 0


def test_erf_ratio_by_depth_defaults_and_edges(monkeypatch):
    # 25 layers, default max_points 24: round(linspace(1, 25, 24)) skips one depth -> 24 depths
    # (only the choice of depths is under test here: a flat stand-in for the measurement keeps it fast)
    with monkeypatch.context() as m:
        m.setattr(
            rf, "measured_receptive_field", lambda layers, n, *a, dims=2, **k: np.full((n,) * dims, 1 / n)
        )
        res = rf.erf_ratio_by_depth([Layer(1) for _ in range(25)], 3)
    assert len(res["depth"]) == 24 and res["depth"][0] == 1 and res["depth"][-1] == 25
    # defaults seed 0, 8 networks of 4 channels, mass 0.95: the literal oracle with those numbers
    layers = [Layer(3, 1, 1)] * 3
    res = rf.erf_ratio_by_depth(layers, 15)
    for i, depth in enumerate([1, 2, 3]):
        v = np.sort(_literal_random_field(layers[:depth], 15, 0, 8, 4, 1))[::-1]
        assert res["erf"][i] == int(np.argmax(np.cumsum(v) >= 0.95 - 1e-6)) + 1
    # the ones fields are box convolutions (1,1,1)/3, (1,2,3,2,1)/9, (1,3,6,7,6,3,1)/27: 95 % needs 3, 5, 6
    assert res["erf_ones"].tolist() == [3.0, 5.0, 6.0]
    # c3 VALID at n = 5: maps 3, 1; depth 2 is unit 0 with r = 5 -> [0, 4], all 5 visible
    assert rf.erf_ratio_by_depth([Layer(3), Layer(3)], 5, num_seeds=1, channels=1)["rf_visible"].tolist() == [
        3.0,
        5.0,
    ]
    # the centre unit's window entirely in the padding: nothing visible, counted as 1 pixel
    res = rf.erf_ratio_by_depth([Layer(1, 1, 10, padding_right=0)], 3, num_seeds=1, channels=1)
    assert res["rf_visible"].tolist() == [1.0]
    # no depth fits: empty, still integer depths
    res = rf.erf_ratio_by_depth([Layer(9)], 5, num_seeds=1, channels=1)
    assert res["depth"].shape == (0,) and res["depth"].dtype.kind == "i" and res["rf"].dtype.kind == "i"


# --- deep stacks the page accepts (MAX_LAYERS = 200): float32 range (issue 21, second pass) ----
# A positive constant per layer (a mean filter's weight, the He scale) is removed by the final
# normalisation only while the float32 forward and backward stay in range. These stacks are the
# short, tiny ones (1 channel or a few, 16 pixels, 1-D where it suffices) on which a per-layer
# factor of 2..9 overflows float32 (3.4e38) while the documented weights stay O(1).


def test_ones_field_of_a_deep_stack_does_not_underflow():
    # 50 layers of kernel 161, padding 80 on 16 pixels: every unit of every layer averages all
    # 16 units below it with weight 1/161, so the centre unit's field is uniform, 1/16 each
    # (closed form). The raw gradient is 16^49 / 161^50 ~ 5e-52 per pixel: below float32's
    # smallest subnormal, so the per-layer rescale must also scale UP (max |g| < 1).
    layers = [Layer(161, 1, 80)] * 50
    got = rf.measured_receptive_field(layers, 16, "ones", dims=1)
    np.testing.assert_allclose(got, np.full(16, 1 / 16), rtol=1e-5)


@pytest.mark.parametrize(
    "layers, dims, G, C",
    [
        # 45 mean-filter pools of kernel 3 between convs: a weight 3 instead of 1/3 grows the
        # (non-negative, smoothed) activations ~9x per pool, past float32 after ~40 pools
        ([Layer(3, 1, 1)] + [Layer(3, 1, 1, kind="pool")] * 45 + [Layer(3, 1, 1)] * 10, 1, 2, 2),
        # 135 pools of kernel 1 (weight 1): a weight 2 doubles the activations per pool, 2^135
        ([Layer(3, 1, 1)] + [Layer(1, kind="pool")] * 135 + [Layer(3, 1, 1)] * 5, 1, 2, 2),
        # 2-D, 52 pools of 3x3: a weight 2/3 (1/k * dims) instead of 1/9 is 6x per pool
        ([Layer(3, 1, 1)] + [Layer(3, 1, 1, kind="pool")] * 52 + [Layer(3, 1, 1)] * 4, 2, 4, 4),
        # 55 convs of kernel 7, 4 channels: weights k^d = 7 times the He scale overflow at ~45
        ([Layer(7, 1, 3)] * 55, 1, 2, 4),
        # 45 convs of kernel 7, 4 channels: weights fan_in / 2 = 14 times the He scale
        ([Layer(7, 1, 3)] * 45, 1, 2, 4),
    ],
)
def test_random_field_of_a_deep_stack_stays_in_float32_range(layers, dims, G, C):
    # reference: the float64 per-network oracle above (no hooks, no grouping); a float32 forward
    # that overflows turns the ReLU inputs into inf/NaN and lets every gradient through, so the
    # field would change by ~1e-2. Tolerance rtol 1e-3, atol 1e-5 (measured code-oracle gap < 1e-6).
    n, seed = 16, 0
    got = rf.measured_receptive_field(layers, n, "random", seed, num_seeds=G, channels=C, dims=dims)
    ref = _literal_random_field(layers, n, seed, G, C, dims)
    assert np.isfinite(got).all() and ref.max() > 0
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-5)


def test_effective_size_of_a_field_without_mass_is_zero():
    # Layer(1, 1, 10, padding_right=0) on 3 pixels: 3 + 10 - 1 + 1 = 13 outputs, the centre one
    # (index 6) reads padded position 6 = input pixel 6 - 10 = -4, padding: the measured field is
    # 0 everywhere (by hand), so no pixel holds any mass and the size is 0 (the old code divided
    # 0 by 1e-300 rounded to float32 0, got NaN and reported 1 pixel).
    field = rf.measured_receptive_field([Layer(1, 1, 10, padding_right=0)], 3, "ones", dims=1)
    assert field.dtype == np.float32 and not field.any()
    assert rf.effective_size(field) == 0.0
    assert rf.effective_size(np.zeros((4, 4), dtype=np.float32), mass=0.5) == 0.0
    # a float32 field with a tiny total: normalised in float64, 2 of 4 equal pixels hold 0.5
    assert rf.effective_size(np.full(4, 1e-40, dtype=np.float32), mass=0.5) == 2.0


def test_effective_size_sums_a_float32_field_in_float64():
    # one pixel of 1 and 1000 of 1e-8 (float32): in float32 the running sum 1 + 1e-8 rounds back
    # to 1 (eps 1.2e-7), so the tail would never add up and every pixel would be counted.
    # Reference: a literal loop in exact fractions, the fewest pixels (largest first) whose sum
    # reaches mass x total: 501 (1 + 500 x 1e-8 >= 0.999995 x (1 + 1000 x 1e-8)).
    from fractions import Fraction

    field = np.array([1.0] + [1e-8] * 1000, dtype=np.float32)
    mass = 0.999995
    vals = sorted((Fraction(float(x)) for x in field), reverse=True)
    target, acc, count = Fraction(mass) * sum(vals), Fraction(0), 0
    while acc < target:
        acc += vals[count]
        count += 1
    assert count == 501
    assert rf.effective_size(field, mass=mass) == float(count)
