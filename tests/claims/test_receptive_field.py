"""The receptive-field page's "Try this" sentences, computed (issue 22): each preset on the page's defaults,
through the core calls the page makes (`analyse` -> parse_stack, receptive_field, output_size;
`measured_fields` -> measured_receptive_field, effective_size)."""

from __future__ import annotations

import numpy as np

from core import receptive_field as core
from tests.claims.helpers import setting

P = "receptive_field"
COST_BUDGET = 2e8  # pages/receptive_field.py: multiply-adds for one 2-D random-weight measurement


def stack(s: dict) -> tuple[list[core.Layer], int]:
    """The page's choice of text: the stack field if filled in, else the preset's layers."""
    text = s["stack"].strip() or core.layers_to_string(core.PRESETS[s["preset"]])
    layers, errors = core.parse_stack(text, s["n"])
    assert not errors
    return layers, s["n"]


def measured(layers: list[core.Layer], n: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The page's `measured_fields`: the ones field, and the random-weight field on as many networks as fit."""
    ones = core.measured_receptive_field(layers, n, "ones", seed)
    nets = int(min(8, COST_BUDGET // max(core.measurement_cost(layers, n) * 16, 1)))
    rand = core.measured_receptive_field(layers, n, "random", seed, num_seeds=nets) if nets >= 1 else None
    return ones, rand


def weights(layers: list[core.Layer]) -> int:
    """Weights per (input, output) channel pair: k² for every convolution."""
    return sum(x.kernel**2 for x in layers if x.kind == "conv")


def test_small_vs_large():
    """'Three 3×3 convolutions reach r = 7, the same as one 7×7 (c7p3), with 27 instead of 49 weights per
    channel pair and a field that is more peaked at the centre.'"""
    s = setting(P, "small_vs_large")
    three, n = stack(s)
    one, _ = core.parse_stack("c7p3", n)
    assert core.receptive_field(three)[-1].size == core.receptive_field(one)[-1].size == 7
    assert (weights(three), weights(one)) == (27, 49)
    f3, _ = measured(three, n, s["seed"])
    f7, _ = measured(one, n, s["seed"])
    assert f3.max() > 3 * f7.max()  # both fields sum to 1 over the same 7×7 support
    assert core.support_extent(f3, 0) == core.support_extent(f7, 0)


def test_stride_early():
    """'With the stride-2 layer first, every later 3×3 adds 2·2 = 4 pixels: r = 15. Move s2 to the last token
    (c3p1,c3p1,c3p1,c3s2p1) and r drops to 9.'"""
    s = setting(P, "stride_early")
    layers, _ = stack(s)
    sizes = [x.size for x in core.receptive_field(layers)]
    assert sizes == [3, 7, 11, 15]  # + 4 per later 3×3
    late, _ = core.parse_stack("c3p1,c3p1,c3p1,c3s2p1", s["n"])
    assert core.receptive_field(late)[-1].size == 9


def test_dilation():
    """'Dilations 1, 2, 4, 8 grow the field exponentially (r = 31) while the output keeps the full 64×64
    resolution: the jump stays 1. Switch on the log scale: the pale cells of the linear scale all carry weight.'"""
    s = setting(P, "dilation")
    layers, n = stack(s)
    stats = core.receptive_field(layers)
    assert [x.size for x in stats] == [3, 7, 15, 31]  # doubling: 2^(l+1) - 1
    assert all(x.jump == 1 for x in stats)
    assert core.output_size(layers, n)[-1] == n == 64
    ones, _ = measured(layers, n, s["seed"])
    lo, hi = core.support_extent(ones, 0)
    box = ones[lo : hi + 1, lo : hi + 1]
    assert box.shape == (31, 31) and box.min() > 0  # no holes inside the field ...
    assert box.max() / box.min() > 10  # ... but cells pale enough to look empty on a linear scale


def test_exceeds_image():
    """'ResNet-50's theoretical field (r = {r}) is more than three times as wide as the 128-pixel image ...
    The effective field is far smaller, about {erf} pixels wide, yet that is still {share} of the image.'"""
    s = setting(P, "exceeds_image")
    layers, n = stack(s)
    r = core.receptive_field(layers)[-1].size
    assert n == 128 and r == 427 and r > 3 * n
    _, rand = measured(layers, n, s["seed"])
    assert rand is not None
    erf = core.effective_size(rand)
    assert erf < r / 3  # "far smaller" than r
    assert 0.7 * n < erf <= n  # "yet still most of the image"
