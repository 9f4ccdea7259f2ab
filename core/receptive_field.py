"""Receptive fields of convolution / pooling stacks: computed and measured.

A unit deep in a convolutional network only "sees" a window of the input image,
its receptive field (RF). For a single path of layers l = 1..L with kernel k_l,
stride s_l, left padding p_l and dilation d_l this module computes, after each
layer,

* the RF size r_l (how many input pixels wide the window is),
* the effective stride (jump) S_l: moving one unit in layer l moves the window
  by S_l input pixels,
* the effective padding P_l: how far the window of unit 0 hangs over the left
  edge of the image,
* the input coordinate of the centre of unit 0's window.

It does so twice, in two independent ways that the tests show agree:

1. Top-down (the recursion of the source note): start from one unit of layer L,
   RF_L = 1, and walk back to the image with RF_{n-1} = (RF_n - 1) * s_n + k_n.
2. Bottom-up (Araujo et al.): carry (r, S, P) forward from the image,
   r_l = r_{l-1} + (k_l - 1) S_{l-1},  S_l = S_{l-1} s_l,  P_l = P_{l-1} + p_l S_{l-1}.

A dilated kernel spans k' = d (k - 1) + 1 inputs, so k is replaced by k' above.

It also *measures* the field with torch autograd: the gradient of the centre
output unit with respect to the input image. With constant positive weights the
non-zero support of that gradient is exactly the theoretical field; with random
weights and ReLU, averaged over seeds, it is the effective receptive field (ERF)
of Luo et al., a roughly Gaussian blob that fills a shrinking fraction of the
theoretical field as the network gets deeper.

Residual networks are described by their main (longest) path: the shortcut
branch is shorter and never widens the field.

References:
    A. Araujo, W. Norris, J. Sim, "Computing Receptive Fields of Convolutional
    Neural Networks", Distill, 2019, doi:10.23915/distill.00021 -- section
    "Single-path networks" (recurrence and closed form of r_0; effective stride
    S_0 and padding P_0; field of unit u: u_0 = u S_0 - P_0) and the table of
    common networks at 224x224 input (alexnet_v2: r=195, S=32, P=64;
    vgg_16: 212, 32, 90; resnet_v1_50: 483, 32, 239), the same numbers as
    google-research/receptive_field, RF_numbers.md.
    W. Luo, Y. Li, R. Urtasun, R. Zemel, "Understanding the Effective Receptive
    Field in Deep Convolutional Neural Networks", NeurIPS 2016, sec. 2-3
    (ERF = gradient of the centre unit, Gaussian, shrinks as O(1/sqrt(n))).
    F. Yu, V. Koltun, "Multi-Scale Context Aggregation by Dilated
    Convolutions", ICLR 2016, sec. 3 and table 1 (context module: dilations
    1,1,2,4,8,16,1 give fields 3,5,9,17,33,65,67).
    V. Dumoulin, F. Visin, "A guide to convolution arithmetic for deep
    learning", 2016, relationship 15 (output size with dilation).
    K. Simonyan, A. Zisserman, 2015 (VGG-16); A. Krizhevsky 2014 / TF-Slim
    nets/alexnet.py (AlexNet v2); K. He et al. 2016 (ResNet-50), TF-Slim
    nets/resnet_v1.py (stride in the last unit of a block) and torchvision
    models/resnet.py (stride in the first unit, on the 3x3 conv).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

MAX_LAYERS = 200
"""Longest stack the explorer accepts (validation rejects more)."""

MAX_MEASURE_SIZE = 256
"""Largest input side the torch measurement runs on (keeps it fast and bounded)."""


# ---------------------------------------------------------------------------
# Layers and the closed-form statistics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """One convolution or pooling layer of a single-path stack (one spatial axis;
    square kernels in 2-D).

    padding is the left/top padding; padding_right is the right/bottom padding
    (None: the same as padding, the usual symmetric case; TF's "SAME" padding
    can be asymmetric). Only the left padding moves the receptive field.
    """

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    kind: str = "conv"
    name: str = ""
    padding_right: int | None = None

    @property
    def span(self) -> int:
        """Input positions one output unit covers: k' = d (k - 1) + 1."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def pad_right(self) -> int:
        return self.padding if self.padding_right is None else self.padding_right


@dataclass(frozen=True)
class RFStats:
    """Receptive field of a unit of one layer, measured in input pixels.

    size:    r, the width of the window of input pixels that feed one unit.
    jump:    S, the effective stride (input pixels between neighbouring units).
    padding: P, the effective padding: unit 0's window starts at input -P.
    centre:  input coordinate of the centre of unit 0's window, (r - 1)/2 - P.
    """

    size: int
    jump: int
    padding: int
    centre: float

    @property
    def stride(self) -> int:
        return self.jump

    def start(self, unit: int) -> int:
        """First input pixel of unit `unit`'s window: u_0 = u S - P (Araujo eq. 5)."""
        return unit * self.jump - self.padding

    def end(self, unit: int) -> int:
        """Last input pixel of unit `unit`'s window: v_0 = u_0 + r - 1."""
        return self.start(unit) + self.size - 1


def receptive_field(layers: list[Layer]) -> list[RFStats]:
    """Bottom-up (jump/start) form: the statistics after each layer, in order."""
    r, S, P = 1, 1, 0  # the image itself: one pixel, stride 1, no padding
    out: list[RFStats] = []
    for layer in layers:
        # r_l = r_{l-1} + (k'_l - 1) S_{l-1}
        r = r + (layer.span - 1) * S
        # P_l = P_{l-1} + p_l S_{l-1}
        P = P + layer.padding * S
        # S_l = S_{l-1} s_l
        S = S * layer.stride
        # centre of unit 0: (r_l - 1)/2 - P_l
        out.append(RFStats(size=r, jump=S, padding=P, centre=(r - 1) / 2 - P))
    return out


def receptive_field_top_down(layers: list[Layer]) -> list[RFStats]:
    """The source note's recursion, run from each layer back to the image.

    For a unit of layer n: RF_n = 1, then RF_{m-1} = (RF_m - 1) s_m + k'_m down
    to the image; the window of unit 0 starts at a_{m-1} = a_m s_m - p_m
    (a_n = 0), and the jump is the product of the strides walked through.
    O(L^2), deliberately literal.
    """
    out: list[RFStats] = []
    for n in range(1, len(layers) + 1):
        rf, a, jump = 1, 0, 1
        for layer in reversed(layers[:n]):
            # RF_{m-1} = (RF_m - 1) * stride + ksize
            rf = (rf - 1) * layer.stride + layer.span
            # first input index of the window one layer down
            a = a * layer.stride - layer.padding
            jump *= layer.stride
        out.append(RFStats(size=rf, jump=jump, padding=-a, centre=a + (rf - 1) / 2))
    return out


def output_size(layers: list[Layer], input_size: int) -> list[int]:
    """Spatial size after each layer: n_l = floor((n_{l-1} + p + p_r - k') / s) + 1.

    Values < 1 mean the layer does not fit; every later entry is then 0.
    """
    sizes: list[int] = []
    n = input_size
    for layer in layers:
        if n < 1:
            sizes.append(0)
            continue
        # Dumoulin & Visin, relationship 15 (with asymmetric padding)
        n = (n + layer.padding + layer.pad_right - layer.span) // layer.stride + 1
        sizes.append(max(int(n), 0))
        n = sizes[-1]
    return sizes


def tower(layers: list[Layer], unit: int) -> list[tuple[int, int]]:
    """Top-down picture: for unit `unit` of the last layer, the index interval
    [first, last] of the units in every layer below (index 0 = the image, index
    L = the last layer itself) that feed it. Indices may lie in the padding
    (negative or past the end of a layer)."""
    first, last = unit, unit
    out = [(first, last)]
    for layer in reversed(layers):
        # a_{m-1} = a_m s_m - p_m,  b_{m-1} = b_m s_m - p_m + k'_m - 1
        first = first * layer.stride - layer.padding
        last = last * layer.stride - layer.padding + layer.span - 1
        out.append((first, last))
    return out[::-1]


def feeding_units(layers: list[Layer], unit: int) -> list[np.ndarray]:
    """Like `tower`, but the exact sorted indices (dilation and stride > kernel
    leave holes): entry m holds the units of layer m (0 = the image) that feed
    unit `unit` of the last layer. Vectorised per layer."""
    idx = np.array([unit], dtype=np.int64)
    out = [idx]
    for layer in reversed(layers):
        taps = np.arange(layer.kernel, dtype=np.int64) * layer.dilation  # (k,)
        # unit j of layer m reads j s - p + t d of layer m-1, t = 0..k-1
        idx = np.unique((idx[:, None] * layer.stride - layer.padding + taps[None, :]).ravel())
        out.append(idx)
    return out[::-1]


def measurement_cost(layers: list[Layer], input_size: int, dims: int = 2) -> int:
    """Multiply-adds of one single-channel pass: sum_l n_l^dims k_l^dims."""
    sizes = output_size(layers, input_size)
    return int(sum(n**dims * layer.kernel**dims for n, layer in zip(sizes, layers, strict=True)))


# ---------------------------------------------------------------------------
# Presets (main path of each network)
# ---------------------------------------------------------------------------


def _vgg16() -> list[Layer]:
    layers: list[Layer] = []
    for block, reps in enumerate([2, 2, 3, 3, 3], start=1):
        for i in range(1, reps + 1):
            layers.append(Layer(3, 1, 1, name=f"conv{block}_{i}"))
        layers.append(Layer(2, 2, 0, kind="pool", name=f"pool{block}"))
    return layers


def _alexnet_v2() -> list[Layer]:
    # TF-Slim nets/alexnet.py: conv1 VALID, conv2..5 SAME (pad (k-1)/2), pools VALID
    return [
        Layer(11, 4, 0, name="conv1"),
        Layer(3, 2, 0, kind="pool", name="pool1"),
        Layer(5, 1, 2, name="conv2"),
        Layer(3, 2, 0, kind="pool", name="pool2"),
        Layer(3, 1, 1, name="conv3"),
        Layer(3, 1, 1, name="conv4"),
        Layer(3, 1, 1, name="conv5"),
        Layer(3, 2, 0, kind="pool", name="pool5"),
    ]


def _bottleneck(prefix: str, stride: int) -> list[Layer]:
    # 1x1 -> 3x3 (carries the stride; pad 1 either way) -> 1x1
    return [
        Layer(1, 1, 0, name=f"{prefix}/conv1"),
        Layer(3, stride, 1, name=f"{prefix}/conv2"),
        Layer(1, 1, 0, name=f"{prefix}/conv3"),
    ]


def _resnet50(stride_in_first_unit: bool) -> list[Layer]:
    if stride_in_first_unit:  # torchvision
        layers = [Layer(7, 2, 3, name="conv1"), Layer(3, 2, 1, kind="pool", name="maxpool")]
        names = ["layer1", "layer2", "layer3", "layer4"]
    else:  # TF-Slim: conv2d_same pads 3/3 explicitly; max-pool "SAME" at 112 pads 0 left, 1 right
        layers = [
            Layer(7, 2, 3, name="conv1"),
            Layer(3, 2, 0, kind="pool", name="pool1", padding_right=1),
        ]
        names = ["block1", "block2", "block3", "block4"]
    for b, (units, name) in enumerate(zip([3, 4, 6, 3], names, strict=True)):
        for u in range(units):
            strided = b > 0 and u == 0 if stride_in_first_unit else b < 3 and u == units - 1
            layers += _bottleneck(f"{name}/unit_{u + 1}", 2 if strided else 1)
    return layers


def _dilated() -> list[Layer]:
    # Yu & Koltun 2016 basic context module: 3x3 convs, dilations 1,1,2,4,8,16,1, then 1x1
    layers = [Layer(3, 1, d, d, name=f"ctx{i + 1}_d{d}") for i, d in enumerate([1, 1, 2, 4, 8, 16, 1])]
    return layers + [Layer(1, 1, 0, name="ctx8_1x1")]


PRESETS: dict[str, list[Layer]] = {
    "vgg16": _vgg16(),
    "alexnet_v2": _alexnet_v2(),
    "resnet50_slim": _resnet50(stride_in_first_unit=False),
    "resnet50_tv": _resnet50(stride_in_first_unit=True),
    "dilated": _dilated(),
}
"""Main path of each network, up to its last spatial layer (VGG-16: pool5;
AlexNet v2: pool5; ResNet-50: the last unit of block 4)."""

PRESET_NAMES: dict[str, str] = {
    "vgg16": "VGG-16",
    "alexnet_v2": "AlexNet v2",
    "resnet50_slim": "ResNet-50 v1 · TF-Slim",
    "resnet50_tv": "ResNet-50 · torchvision",
    "dilated": "Dilated · Yu & Koltun",
}
"""Proper names, the same in every language (a selectbox puts its label in the URL)."""


# ---------------------------------------------------------------------------
# A compact text form of a stack (URL friendly) and validation
# ---------------------------------------------------------------------------
#
# One token per layer, tokens joined by ",":  <kind><kernel>[s<stride>][p<pad>][d<dil>][r<pad right>]
# kind is "c" (conv) or "m" (pool, think max-pool). Defaults: s1 p0 d1, r = p.
# Example, VGG block 1:  c3p1,c3p1,m2s2

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_TOKEN = re.compile(rf"^([cm])({_NUM})((?:[spdr]{_NUM})*)$")
_FIELD = re.compile(rf"([spdr])({_NUM})")


@dataclass(frozen=True)
class RowError:
    """One problem in row `row` (1-based) of a stack; `kind` names the rule."""

    row: int
    kind: Literal[
        "parse", "kernel", "stride", "dilation", "padding", "integer", "too_many", "fits", "empty", "missing"
    ]
    field: str = ""
    value: str = ""


def encode_stack(rows: list[dict]) -> str:
    """Rows (dicts with kind, kernel, stride, padding, dilation[, padding_right])
    -> the compact string. Values are written as given (even invalid ones), so a
    bad row survives the round trip and can be reported."""
    tokens = []
    for row in rows:
        kind = "m" if str(row.get("kind", "conv")) == "pool" else "c"
        tok = f"{kind}{_fmt(row.get('kernel'))}"
        for key, letter, default in (("stride", "s", 1), ("padding", "p", 0), ("dilation", "d", 1)):
            v = row.get(key, default)
            if v is None or _is_nan(v):
                v = default
            if v != default:
                tok += f"{letter}{_fmt(v)}"
        pr = row.get("padding_right")
        if pr is not None and not _is_nan(pr) and pr != row.get("padding", 0):
            tok += f"r{_fmt(pr)}"
        tokens.append(tok)
    return ",".join(tokens)


def layers_to_string(layers: list[Layer]) -> str:
    return encode_stack([layer_to_row(layer) for layer in layers])


def layer_to_row(layer: Layer) -> dict:
    return {
        "kind": layer.kind,
        "kernel": layer.kernel,
        "stride": layer.stride,
        "padding": layer.padding,
        "dilation": layer.dilation,
        "padding_right": layer.padding_right,
    }


def apply_table_edits(rows: list[dict], delta: dict, columns: list[str]) -> list[dict]:
    """Apply a table editor's delta ({"edited_rows": {i: {col: v}}, "deleted_rows": [i],
    "added_rows": [{col: v}]}, positions in the original rows) and return new rows.
    Added rows start as a 3x3 conv with padding 1 (size-preserving) or a 2x2,
    stride-2 pooling, whichever kind the new row names."""
    out = [dict(r) for r in rows]
    for i, change in (delta.get("edited_rows") or {}).items():
        if 0 <= int(i) < len(out):
            out[int(i)].update({k: v for k, v in change.items() if k in columns})
    for i in sorted({int(i) for i in delta.get("deleted_rows") or []}, reverse=True):
        if 0 <= i < len(out):
            del out[i]
    for added in delta.get("added_rows") or []:
        if added.get("kind") == "pool":
            new = {
                "kind": "pool",
                "kernel": 2,
                "stride": 2,
                "padding": 0,
                "dilation": 1,
                "padding_right": None,
            }
        else:
            new = {
                "kind": "conv",
                "kernel": 3,
                "stride": 1,
                "padding": 1,
                "dilation": 1,
                "padding_right": None,
            }
        new.update({k: v for k, v in added.items() if k in columns and v is not None})
        out.append(new)
    return out


def decode_stack(text: str) -> tuple[list[dict], list[RowError]]:
    """The compact string -> raw rows (numbers as floats, unchecked) and parse errors."""
    rows: list[dict] = []
    errors: list[RowError] = []
    tokens = [tok.strip() for tok in text.replace(" ", "").split(",")]
    if tokens == [""]:
        return [], [RowError(0, "empty")]
    for i, tok in enumerate(tokens, start=1):
        m = _TOKEN.match(tok.lower())
        if not m:
            errors.append(RowError(i, "parse", value=tok))
            continue
        row: dict = {"kind": "pool" if m.group(1) == "m" else "conv", "kernel": float(m.group(2))}
        row |= {"stride": 1.0, "padding": 0.0, "dilation": 1.0, "padding_right": None}
        names = {"s": "stride", "p": "padding", "d": "dilation", "r": "padding_right"}
        for letter, value in _FIELD.findall(m.group(3)):
            row[names[letter]] = float(value)
        rows.append(row)
    return rows, errors


def validate_rows(rows: list[dict], input_size: int | None = None) -> tuple[list[Layer], list[RowError]]:
    """Check every row; return the layers (when there is no error) and the errors.

    Rules: kernel, stride, dilation >= 1; padding >= 0; all integers; at most
    MAX_LAYERS rows; at input_size (if given) every layer's output size >= 1.
    """
    errors: list[RowError] = []
    if not rows:
        return [], [RowError(0, "empty")]
    if len(rows) > MAX_LAYERS:
        return [], [RowError(len(rows), "too_many", value=str(len(rows)))]
    layers: list[Layer] = []
    for i, row in enumerate(rows, start=1):
        before = len(errors)
        values: dict[str, int | None] = {}
        for key, default in (
            ("kernel", None),
            ("stride", 1),
            ("padding", 0),
            ("dilation", 1),
            ("padding_right", None),
        ):
            v = row.get(key, default)
            if v is None or _is_nan(v):
                if key == "kernel":
                    errors.append(RowError(i, "missing", key))
                values[key] = default
                continue
            try:
                fv = float(v)
            except (TypeError, ValueError):
                errors.append(RowError(i, "integer", key, str(v)))
                continue
            if not math.isfinite(fv) or fv != int(fv):
                errors.append(RowError(i, "integer", key, _fmt(v)))
                continue
            values[key] = int(fv)
        for key in ("kernel", "stride", "dilation"):
            if values.get(key) is not None and values[key] < 1:
                errors.append(RowError(i, key, key, str(values[key])))  # type: ignore[arg-type]
        for key in ("padding", "padding_right"):
            if values.get(key) is not None and values[key] < 0:
                errors.append(RowError(i, "padding", key, str(values[key])))
        if len(errors) == before:
            kind = str(row.get("kind", "conv"))
            layers.append(
                Layer(
                    kernel=values["kernel"],  # type: ignore[arg-type]
                    stride=values["stride"],  # type: ignore[arg-type]
                    padding=values["padding"],  # type: ignore[arg-type]
                    dilation=values["dilation"],  # type: ignore[arg-type]
                    kind="pool" if kind == "pool" else "conv",
                    name=str(row.get("name") or ""),
                    padding_right=values["padding_right"],
                )
            )
    if errors:
        return [], errors
    if input_size is not None:
        for i, n in enumerate(output_size(layers, input_size), start=1):
            if n < 1:
                return [], [RowError(i, "fits", value=str(input_size))]
    return layers, []


def parse_stack(text: str, input_size: int | None = None) -> tuple[list[Layer], list[RowError]]:
    """decode_stack + validate_rows: the compact string -> layers, or the errors."""
    rows, errors = decode_stack(text)
    if errors:
        return [], errors
    return validate_rows(rows, input_size)


def _is_nan(v: object) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _fmt(v: object) -> str:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if math.isfinite(f) and f == int(f) else repr(f)


# ---------------------------------------------------------------------------
# Measuring the field with torch
# ---------------------------------------------------------------------------


def _centre_index(n: int) -> int:
    return (n - 1) // 2


def measured_receptive_field(
    layers: list[Layer],
    input_size: int,
    weights: Literal["ones", "random"] = "ones",
    seed: int = 0,
    *,
    num_seeds: int = 8,
    channels: int = 4,
    dims: int = 2,
) -> np.ndarray:
    """|d y_centre / d x|: how much each input pixel moves the centre unit of
    the last layer, normalised to sum 1. Shape (input_size,) * dims.

    weights="ones": every kernel constant and positive (all-ones up to a scale),
    no non-linearity; the support of the result is exactly the theoretical
    field (clipped to the image). weights="random": `num_seeds` independent
    networks of `channels` channels with N(0, 2/fan_in) weights, ReLU after each
    conv, a N(0, 1) input image each; the mean of their normalised |gradient| is
    the effective receptive field (Luo et al. 2016, sec. 2). Pooling layers are
    average pools in both cases (a max-pool's gradient picks one pixel per
    window and would depend on the input). Batched over seeds with grouped
    convolutions; intermediate gradients are rescaled by a positive factor per
    seed (hooks) so deep stacks neither overflow nor underflow.
    """
    import torch
    import torch.nn.functional as F

    if input_size > MAX_MEASURE_SIZE:
        raise ValueError(f"input_size {input_size} > {MAX_MEASURE_SIZE}")
    if dims not in (1, 2):
        raise ValueError("dims must be 1 or 2")
    sizes = output_size(layers, input_size)
    if not layers or sizes[-1] < 1:
        raise ValueError("the stack does not fit the input size")

    G = 1 if weights == "ones" else num_seeds  # independent networks, batched as groups
    C = 1 if weights == "ones" else channels  # channels per network
    gen = torch.Generator().manual_seed(int(seed))
    dtype = torch.float32
    conv = F.conv2d if dims == 2 else F.conv1d

    def rescale(g: torch.Tensor) -> torch.Tensor:
        # divide each network's gradient by its own max |g| (a positive scalar: support/shape unchanged)
        m = g.abs().reshape(G, -1).amax(dim=1).clamp_min(1e-30)
        return g / m.repeat_interleave(C).reshape((1, G * C) + (1,) * dims)

    shape = (1, G * C) + (input_size,) * dims
    if weights == "ones":
        x = torch.ones(shape, dtype=dtype)
    else:
        x = torch.randn(shape, generator=gen, dtype=dtype)  # (1, G*C, H[, W])
    x.requires_grad_(True)
    h = x
    for layer in layers:
        k, s, d = layer.kernel, layer.stride, layer.dilation
        # F.pad wants (left, right) for the last axis first
        h = F.pad(h, (layer.padding, layer.pad_right) * dims)
        kshape = (k,) * dims
        if layer.kind == "pool" or weights == "ones":
            # constant kernel 1/k^dims: a mean filter (per channel when random)
            w = torch.full((G * C, 1) + kshape, 1.0 / k**dims, dtype=dtype)
            h = conv(h, w, stride=s, dilation=d, groups=G * C)
        else:
            fan_in = C * k**dims
            # W ~ N(0, 2 / fan_in)  (He et al. 2015), one block of C x C per network
            w = torch.randn((G * C, C) + kshape, generator=gen, dtype=dtype) * math.sqrt(2.0 / fan_in)
            h = torch.relu(conv(h, w, stride=s, dilation=d, groups=G))
        if h.requires_grad:
            h.register_hook(rescale)
    # the centre unit of the last layer, summed over channels: y = sum_c h[0, c, centre...]
    idx = (0, slice(None)) + tuple(_centre_index(n) for n in [sizes[-1]] * dims)
    y = h[idx].sum()
    (g,) = torch.autograd.grad(y, x, allow_unused=True)
    if g is None:  # pragma: no cover - every layer touches the input
        g = torch.zeros_like(x)
    g = g.detach().abs().reshape((G, C) + (input_size,) * dims).sum(dim=1)  # (G, H[, W])
    total = g.reshape(G, -1).sum(dim=1).clamp_min(1e-30)
    g = g / total.reshape((G,) + (1,) * dims)  # each network's map sums to 1
    g = g.mean(dim=0)  # networks whose centre unit is dead (ReLU) contribute zeros
    return (g / g.sum().clamp_min(1e-30)).numpy()


def support_extent(field: np.ndarray, axis: int = 0) -> tuple[int, int]:
    """First and last index along `axis` where the field is non-zero (-1, -1 if none)."""
    other = tuple(a for a in range(field.ndim) if a != axis)
    line = field.sum(axis=other) if other else field
    nz = np.flatnonzero(line > 0)
    return (int(nz[0]), int(nz[-1])) if nz.size else (-1, -1)


def effective_size(field: np.ndarray, mass: float = 0.95) -> float:
    """Side of the smallest set of pixels holding `mass` of the field, as an
    equivalent square (2-D: sqrt(count); 1-D: count). A size in input pixels
    comparable to the RF size r. A field without mass (every pixel 0: the centre
    unit reads only padding, or every random network is dead) has size 0."""
    v = np.sort(np.asarray(field, dtype=np.float64).ravel())[::-1]  # float64 sums for any input dtype
    total = v.sum()
    if not total > 0:
        return 0.0
    cum = np.cumsum(v) / total
    count = int(np.searchsorted(cum, mass) + 1)
    return float(count ** (1.0 / field.ndim))


def erf_ratio_by_depth(
    layers: list[Layer],
    input_size: int,
    seed: int = 0,
    *,
    num_seeds: int = 8,
    channels: int = 4,
    mass: float = 0.95,
    max_points: int = 24,
) -> dict[str, np.ndarray]:
    """ERF / RF along the depth of the stack, measured in 1-D (the same stack on
    a line: cheap, and the ratio behaves as in 2-D). For up to `max_points`
    depths l: the theoretical size r_l clipped to the image, the 95%-mass width
    of the random-weight field and of the ones-weight field. Returns arrays
    depth, rf, rf_visible, erf, erf_ones, ratio (= erf / rf_visible).
    """
    stats = receptive_field(layers)
    sizes = output_size(layers, input_size)
    L = len(layers)
    depths = np.unique(np.linspace(1, L, num=min(L, max_points)).round().astype(int))
    depths = np.array([n for n in depths if sizes[n - 1] >= 1], dtype=int)
    rf, vis, erf, erf1 = [], [], [], []
    for depth in depths:
        sub = layers[:depth]
        st = stats[depth - 1]
        u = _centre_index(sizes[depth - 1])
        # visible part of [u S - P, u S - P + r - 1] inside [0, n - 1]
        a, b = max(st.start(u), 0), min(st.end(u), input_size - 1)
        rf.append(st.size)
        vis.append(max(b - a + 1, 1))
        f_rand = measured_receptive_field(
            sub, input_size, "random", seed, num_seeds=num_seeds, channels=channels, dims=1
        )
        f_ones = measured_receptive_field(sub, input_size, "ones", seed, dims=1)
        erf.append(effective_size(f_rand, mass))
        erf1.append(effective_size(f_ones, mass))
    vis_a = np.asarray(vis, dtype=float)
    erf_a = np.asarray(erf, dtype=float)
    return {
        "depth": depths,
        "rf": np.asarray(rf, dtype=int),
        "rf_visible": vis_a,
        "erf": erf_a,
        "erf_ones": np.asarray(erf1, dtype=float),
        "ratio": erf_a / vis_a,
    }
