"""Chart colours stay distinguishable for students with red-green colour-vision deficiency.

Every chart the pages draw (rendered with AppTest: each page at its defaults and
after each "Try this" preset) is walked for the colours that tell its series
apart: a nominal colour scale's colours (as many as the data has categories) and
each layer's constant mark colour, composited over the white page with the
mark's opacity, grouped by kind of mark (lines and rules / filled areas /
translucent shading / points). Each pair within a group, simulated for protanopia and deuteranopia at
severity 1.0, must differ by CIEDE2000 >= 15 (a difference that is obvious at a
glance; ΔE ≈ 1 is a just-noticeable one). The app's category scheme
(`ui.charts.CATEGORY`) is checked on its own for every number of series up to
its length. Text drawn in our own colours (Vega-Lite text marks) needs 4.5:1
contrast on white (WCAG 2.1 SC 1.4.3). Sequential / diverging colour scales for
quantities (heat maps: viridis, redblue, ...) are outside this test: they encode
one number by lightness as well as hue.

References:
- G. M. Machado, M. M. Oliveira, L. A. F. Fernandes, "A Physiologically-based
  Model for Simulation of Color Vision Deficiency", IEEE TVCG 15(6), 2009,
  pp. 1291-1298: the severity-1.0 matrices, applied to linear sRGB.
- G. Sharma, W. Wu, E. N. Dalal, "The CIEDE2000 Color-Difference Formula:
  Implementation Notes, Supplementary Test Data, and Mathematical Observations",
  Color Res. Appl. 30(1), 2005, pp. 21-30: eqs. (1)-(23); Table 1 test pairs.
- IEC 61966-2-1 (sRGB transfer function and D65 primaries); CIE 15:2004 (CIELAB).
- WCAG 2.1, SC 1.4.1 (use of colour) and 1.4.3 (contrast), relative luminance.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pyarrow as pa
import pytest

from ui import charts

MIN_DELTA_E = 15.0
MIN_TEXT_CONTRAST = 4.5

# Machado et al. 2009, severity 1.0 (their Table / supplementary matrices).
MACHADO = {
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
}

# Vega's named category schemes a spec may ask for (vega-scale's scheme tables).
SCHEMES = {
    "tableau10": ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"],
    "category10": ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"],
}
NAMED = {"white": "#ffffff", "black": "#000000", "grey": "#808080", "gray": "#808080", "red": "#ff0000", "steelblue": "#4682b4"}


# Colour maths ------------------------------------------------------------------------------------
def hex_rgb(colour: str) -> np.ndarray:
    c = NAMED.get(colour.lower(), colour).lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    return np.array([int(c[i : i + 2], 16) for i in (0, 2, 4)]) / 255.0


def to_linear(rgb: np.ndarray) -> np.ndarray:  # IEC 61966-2-1
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def simulate(rgb: np.ndarray, kind: str) -> np.ndarray:
    """sRGB in [0, 1] as seen with the deficiency: Machado's matrix on linear RGB."""
    return to_srgb(MACHADO[kind] @ to_linear(rgb))


def lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (D65) -> CIELAB (D65 white)."""
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ to_linear(rgb) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def ciede2000(lab1, lab2, kL: float = 1.0, kC: float = 1.0, kH: float = 1.0) -> float:
    """ΔE00 between two CIELAB colours, Sharma et al. 2005, eqs. (1)-(23)."""
    L1, a1, b1 = map(float, lab1)
    L2, a2, b2 = map(float, lab2)
    # (2)-(3): mean chroma, and the a* rescaling G
    C_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    G = 0.5 * (1 - math.sqrt(C_bar**7 / (C_bar**7 + 25.0**7)))
    # (4)-(7)
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = 0.0 if (a1p == 0 and b1 == 0) else math.degrees(math.atan2(b1, a1p)) % 360
    h2p = 0.0 if (a2p == 0 and b2 == 0) else math.degrees(math.atan2(b2, a2p)) % 360
    # (8)-(10)
    dLp, dCp = L2 - L1, C2p - C1p
    if C1p * C2p == 0:
        dhp = 0.0
    elif abs(h2p - h1p) <= 180:
        dhp = h2p - h1p
    elif h2p - h1p > 180:
        dhp = h2p - h1p - 360
    else:
        dhp = h2p - h1p + 360
    dHp = 2 * math.sqrt(C1p * C2p) * math.sin(math.radians(dhp) / 2)
    # (12)-(14)
    Lp_bar, Cp_bar = (L1 + L2) / 2, (C1p + C2p) / 2
    if C1p * C2p == 0:
        hp_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hp_bar = (h1p + h2p) / 2
    elif h1p + h2p < 360:
        hp_bar = (h1p + h2p + 360) / 2
    else:
        hp_bar = (h1p + h2p - 360) / 2
    # (15)-(22)
    T = (
        1
        - 0.17 * math.cos(math.radians(hp_bar - 30))
        + 0.24 * math.cos(math.radians(2 * hp_bar))
        + 0.32 * math.cos(math.radians(3 * hp_bar + 6))
        - 0.20 * math.cos(math.radians(4 * hp_bar - 63))
    )
    d_theta = 30 * math.exp(-(((hp_bar - 275) / 25) ** 2))
    R_C = 2 * math.sqrt(Cp_bar**7 / (Cp_bar**7 + 25.0**7))
    S_L = 1 + 0.015 * (Lp_bar - 50) ** 2 / math.sqrt(20 + (Lp_bar - 50) ** 2)
    S_C = 1 + 0.045 * Cp_bar
    S_H = 1 + 0.015 * Cp_bar * T
    R_T = -math.sin(math.radians(2 * d_theta)) * R_C
    # (23)
    tL, tC, tH = dLp / (kL * S_L), dCp / (kC * S_C), dHp / (kH * S_H)
    return math.sqrt(tL * tL + tC * tC + tH * tH + R_T * tC * tH)


def luminance(rgb: np.ndarray) -> float:
    """WCAG 2.1 relative luminance."""
    return float(np.array([0.2126, 0.7152, 0.0722]) @ to_linear(rgb))


def contrast(fg: np.ndarray, bg: np.ndarray) -> float:
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def over_white(colour: str, opacity: float) -> np.ndarray:
    return opacity * hex_rgb(colour) + (1 - opacity)


def worst_pair(colours: dict[str, np.ndarray]) -> tuple[float, str, str, str] | None:
    """The smallest simulated ΔE00 over every pair and both deficiencies."""
    worst = None
    for (n1, c1), (n2, c2) in itertools.combinations(colours.items(), 2):
        for kind in MACHADO:
            d = ciede2000(lab(simulate(c1, kind)), lab(simulate(c2, kind)))
            if worst is None or d < worst[0]:
                worst = (d, kind, n1, n2)
    return worst


# The reference checks ----------------------------------------------------------------------------
# Sharma et al. 2005, Table 1: (L1, a1, b1, L2, a2, b2, ΔE00), all 34 pairs.
SHARMA_TABLE_1 = [
    (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
    (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
    (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
    (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977),
    (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630),
    (61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731),
    (35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146),
    (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
    (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]


@pytest.mark.parametrize("row", SHARMA_TABLE_1, ids=[f"pair{i + 1}" for i in range(len(SHARMA_TABLE_1))])
def test_ciede2000_matches_sharma_table_1(row):
    # The paper prints 4 decimals: agreement to half a unit of the last one.
    *pair, expected = row
    assert ciede2000(pair[:3], pair[3:]) == pytest.approx(expected, abs=5e-5)
    assert ciede2000(pair[3:], pair[:3]) == pytest.approx(expected, abs=5e-5)  # symmetric


def test_colour_maths_against_known_values():
    # sRGB white is L*=100, a*=b*=0 (D65); pure sRGB red is L*a*b* ≈ (53.24, 80.09, 67.20) (CIE 15 / IEC 61966-2-1).
    assert lab(hex_rgb("#ffffff")) == pytest.approx([100, 0, 0], abs=0.02)
    assert lab(hex_rgb("#ff0000")) == pytest.approx([53.24, 80.09, 67.20], abs=0.05)
    # WCAG: black on white is 21:1; #767676 is the lightest grey with 4.5:1 on white.
    assert contrast(hex_rgb("#000000"), hex_rgb("#ffffff")) == pytest.approx(21.0)
    assert contrast(hex_rgb("#767676"), hex_rgb("#ffffff")) >= 4.5 > contrast(hex_rgb("#777777"), hex_rgb("#ffffff"))
    # Machado's matrices keep greys grey (each row sums to 1 within rounding) ...
    for m in MACHADO.values():
        assert m.sum(axis=1) == pytest.approx(np.ones(3), abs=1e-5)
    # ... and a dichromat confuses a red and a green that a trichromat tells apart at once.
    red, green = hex_rgb("#d62728"), hex_rgb("#8c8c00")
    assert ciede2000(lab(red), lab(green)) > 40
    assert min(ciede2000(lab(simulate(red, k)), lab(simulate(green, k))) for k in MACHADO) < 10


def test_category_scheme_is_distinguishable_for_every_series_count():
    colours = {c: hex_rgb(c) for c in charts.CATEGORY}
    worst = worst_pair(colours)
    assert worst is not None and worst[0] >= MIN_DELTA_E, f"category scheme: {worst}"
    # each series line must also stand out from the white page (WCAG 2.1 SC 1.4.11: 3:1)
    for c, rgb in colours.items():
        assert contrast(rgb, hex_rgb("#ffffff")) >= 3.0, c
    # and from the marker of the current setting drawn on top of them
    for c, rgb in colours.items():
        for kind in MACHADO:
            d = ciede2000(lab(simulate(rgb, kind)), lab(simulate(hex_rgb(charts.NOW_COLOR), kind)))
            assert d >= MIN_DELTA_E, (c, kind, d)


# Walking the charts the pages draw ---------------------------------------------------------------
def _units(spec: dict, inherited: dict | None = None):
    """Every unit (single-mark) spec in a layered / concatenated / faceted spec, with its data name."""
    data = spec.get("data", inherited)
    if "mark" in spec:
        yield spec, data
    for part in ("layer", "hconcat", "vconcat", "concat"):
        for child in spec.get(part, []):
            yield from _units(child, data)
    if isinstance(spec.get("spec"), dict):
        yield from _units(spec["spec"], data)


def _categories(datasets: dict[str, pa.Table], data: dict | None, field: str) -> int:
    table = datasets.get((data or {}).get("name", ""))
    if table is None or field not in table.column_names:
        return 0
    return len(set(table.column(field).to_pylist()))


BLANK = ("white", "#ffffff", "#fff", "transparent", "none")
LINES, AREAS, POINTS = "lines", "areas", "points"  # plus "shading": translucent areas
FAMILY = {"line": LINES, "rule": LINES, "trail": LINES, "area": AREAS, "rect": AREAS, "bar": AREAS,
          "arc": AREAS, "point": POINTS, "circle": POINTS, "square": POINTS, "tick": POINTS}


def series_colours(
    spec: dict, datasets: dict[str, pa.Table]
) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """({mark family: the colours that tell its series apart, over white}, colours of text marks).

    Series are compared within a family of marks (lines and rules; filled areas; translucent
    shading; points): a line is not mistaken for a dot or a shaded band whatever their colours.
    """
    category = spec.get("config", {}).get("range", {}).get("category", {})
    default = category if isinstance(category, list) else SCHEMES[category.get("scheme", "tableau10")]
    families: dict[str, dict[str, np.ndarray]] = {}
    texts: list[str] = []
    for unit, data in _units(spec):
        mark = unit["mark"] if isinstance(unit["mark"], dict) else {"type": unit["mark"]}
        enc = unit.get("encoding", {})
        if mark.get("aria") is False:
            continue  # marked decorative for assistive technology (a labelled diagram box's tint)
        family = FAMILY.get(mark["type"], mark["type"])
        if mark["type"] == "line" and mark.get("strokeOpacity") == 0 and "fill" in mark:
            family = AREAS  # a filled polygon drawn as a closed line
        if family == AREAS and float(mark.get("opacity", 1)) * float(mark.get("fillOpacity", 1)) < 0.3:
            family = "shading"  # translucent bands laid over a chart (a window, a half-plane)
        out = families.setdefault(family, {})
        if mark["type"] == "text":
            if "color" in mark:
                texts.append(mark["color"])
            continue
        opacity = float(mark.get("opacity", 1.0))
        scaled = [enc[ch] for ch in ("color", "fill", "stroke") if ch in enc and enc[ch].get("type") in ("nominal", "ordinal")]
        if scaled:
            ch = scaled[0]
            scale = ch.get("scale", {})
            n = len(scale["domain"]) if "domain" in scale else _categories(datasets, data, ch["field"])
            palette = scale.get("range") or (SCHEMES[scale["scheme"]] if "scheme" in scale else default)
            for c in palette[: max(n, 1)]:  # one series may span layers: the first one's opacity
                if c.lower() not in BLANK:  # white on the white page: "nothing here", not a series
                    out.setdefault(c, over_white(c, opacity))
            continue
        if any(ch in enc and "field" in enc[ch] for ch in ("color", "fill", "stroke")):
            continue  # a quantity on a sequential scale: not a series colour
        colour = mark.get("color") or (mark.get("fill") if mark.get("fill") not in (None, "white", "#ffffff") else None) or mark.get("stroke")
        if not colour or colour.lower() in BLANK:
            continue
        if mark.get("strokeOpacity") == 0 and "fill" in mark:
            opacity *= float(mark.get("fillOpacity", 1.0))
        out.setdefault(colour, over_white(colour, opacity))
    return {f: c for f, c in families.items() if c}, texts


def _chart_specs(at) -> list[tuple[dict, dict[str, pa.Table]]]:
    out = []
    for el in at.get("vega_lite_chart"):
        proto = el.proto
        datasets = {d.name: pa.ipc.open_stream(d.data.data).read_all() for d in proto.datasets}
        out.append((json.loads(proto.spec), datasets))
    return out


def _page_charts(spec) -> list[tuple[str, dict, dict[str, pa.Table]]]:
    """(where, Vega-Lite spec, datasets) of every chart a page draws: defaults, then each preset."""
    from tests.apptest_utils import open_page

    at = open_page(spec)
    found = [("default", s, d) for s, d in _chart_specs(at)]
    for button in [b for b in at.main.button if b.key and b.key.startswith(f"try_{spec.key}_")]:
        at.button(key=button.key).click().run()
        found += [(button.key, s, d) for s, d in _chart_specs(at)]
    return found


def _pages():
    from tests.apptest_utils import ALL_PAGES

    return [pytest.param(s, id=s.key) for s in ALL_PAGES]


@pytest.mark.parametrize("page_spec", _pages())
def test_every_chart_keeps_its_series_apart_under_colour_blindness(page_spec):
    problems = []
    seen = set()
    for where, spec, datasets in _page_charts(page_spec):
        families, texts = series_colours(spec, datasets)
        key = (tuple((f, tuple(sorted(c))) for f, c in sorted(families.items())), tuple(texts))
        if key in seen:
            continue
        seen.add(key)
        for family, colours in families.items():
            worst = worst_pair(colours)
            if worst is not None and worst[0] < MIN_DELTA_E:
                d, kind, c1, c2 = worst
                problems.append(f"{where} {family}: {c1} vs {c2} under {kind}: ΔE00 {d:.1f} < {MIN_DELTA_E}")
        for c in texts:
            ratio = contrast(hex_rgb(c), hex_rgb("#ffffff"))
            if ratio < MIN_TEXT_CONTRAST:
                problems.append(f"{where}: text colour {c} on white {ratio:.2f}:1 < {MIN_TEXT_CONTRAST}:1")
    assert not problems, "\n".join(problems)
