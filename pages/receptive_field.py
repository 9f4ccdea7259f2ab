"""Receptive-field explorer: which input pixels can move one unit of a conv stack.

URL design (st.data_editor cannot bind to the URL): the stack lives in two bound
widgets, `preset` (a selectbox) and `stack` (a text field holding a compact
string such as ``c3p1,c3p1,m2s2``). An empty `stack` means "the preset's layers",
so ``?preset=resnet50_tv`` alone is a full URL; any edit in the table is written
back into `stack` by the editor's callback (and `preset` becomes "custom"), so
the URL always reproduces the view. The editor's key carries a hash of the
stack it shows, so after a write-back it restarts from the new rows. A stack in
a link that does not parse is dropped on the session's first run (with a message
naming the row), so a broken link shows the preset instead.

Speed: the arithmetic is instant; the torch measurements (ERF curve, 2-D maps)
are cached, and after the first visit they rerun on their own only for small
stacks or a "Try this" preset, otherwise on "Measure". Each chart is a
`charts.template` (its spec built once per language and lecture mode) with
its data by name, mostly from cached functions; the unit picker and the log
switch live in fragments.
"""

from __future__ import annotations

import hashlib
import math

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.state import get_session_state

from core import receptive_field as core
from ui import charts, page, widgets
from ui.i18n import current_lang, t

P = "receptive_field"
DEFAULT_PRESET = "vgg16"
PRESET_KEYS = [*core.PRESETS, "custom"]
HEAT = 40  # heat maps: at most HEAT x HEAT cells (<= 1,600 rows per chart)
AUTO_COST = 3e7  # multiply-adds under which the measurements run without pressing "Measure"
COST_BUDGET = 2e8  # multiply-adds for one 2-D random-weight measurement (~1 s on one core)
EDIT_COLS = ["kind", "kernel", "stride", "padding", "dilation", "padding_right"]


# ---------------------------------------------------------------------------
# State: preset + compact stack string (both in the URL) <-> the table editor
# ---------------------------------------------------------------------------


def preset_label(key: str) -> str:
    """Language-neutral labels: the URL holds the label, so a link works in both languages."""
    return core.PRESET_NAMES.get(key, "Custom · 自定义")


def preset_text(name: str) -> str:
    return core.layers_to_string(core.PRESETS.get(name, core.PRESETS[DEFAULT_PRESET]))


def on_preset() -> None:
    st.session_state.pop("_rf_url_error", None)
    name = st.session_state.get("preset", DEFAULT_PRESET)
    if name == "custom":  # start editing from what was on screen
        if not (st.session_state.get("stack") or "").strip():
            st.session_state["stack"] = preset_text(st.session_state.get("_rf_prev_preset", DEFAULT_PRESET))
    else:
        st.session_state["stack"] = ""


def on_stack_text() -> None:
    st.session_state.pop("_rf_url_error", None)
    if (st.session_state.get("stack") or "").strip():
        st.session_state["preset"] = "custom"
    else:
        st.session_state["preset"] = st.session_state.get("_rf_prev_preset", DEFAULT_PRESET)


def on_editor(editor_key: str, base_rows: list[dict]) -> None:
    """Apply the editor's delta to the rows it was given, write the string back."""
    rows = core.apply_table_edits(base_rows, st.session_state.get(editor_key) or {}, EDIT_COLS)
    st.session_state["stack"] = core.encode_stack(rows)
    st.session_state["preset"] = "custom"


@st.cache_data(max_entries=32, show_spinner=False)
def editor_rows(source_text: str, shown_text: str) -> tuple[list[dict], pd.DataFrame]:
    """The editor's rows and table for a stack; if its tokens are unreadable, those of the stack on screen."""
    raw_rows, parse_errors = core.decode_stack(source_text)
    if parse_errors and parse_errors[0].kind != "empty":  # unreadable tokens: edit what was last good
        raw_rows = [core.layer_to_row(x) for x in core.parse_stack(shown_text)[0]]
    base_rows = [{k: r.get(k) for k in EDIT_COLS} for r in raw_rows]
    return base_rows, editor_frame(base_rows)


def editor_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=EDIT_COLS)
    for col in EDIT_COLS[1:]:
        vals = pd.to_numeric(df[col], errors="coerce")
        whole = vals.dropna()
        df[col] = vals.astype("Int64") if (whole == whole.round()).all() else vals
    df.index = pd.RangeIndex(1, len(df) + 1)
    return df


def error_text(err: core.RowError) -> str:
    field = t(f"{P}.col_{err.field}") if err.field else ""
    return t(f"{P}.err_{err.kind}", row=err.row, field=field, value=err.value, max=core.MAX_LAYERS)


# ---------------------------------------------------------------------------
# Cached computation
# ---------------------------------------------------------------------------


def _threads() -> None:
    import torch

    torch.set_num_threads(1)  # a shared 2-core machine: one thread is faster than two fighting


@st.cache_data(max_entries=32, show_spinner=False)
def measured_fields(text: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(ones field, random-weight field or None if too costly, number of random networks)."""
    _threads()
    layers, _ = core.parse_stack(text, n)
    ones = core.measured_receptive_field(layers, n, "ones", seed)
    per_net = core.measurement_cost(layers, n) * 4 * 4  # 4 x 4 channels per network
    nets = int(min(8, COST_BUDGET // max(per_net, 1)))
    rand = core.measured_receptive_field(layers, n, "random", seed, num_seeds=nets) if nets >= 1 else None
    return ones, rand, nets


@st.cache_data(max_entries=32, show_spinner=False)
def erf_curve(text: str, n: int, seed: int) -> pd.DataFrame:
    _threads()
    layers, _ = core.parse_stack(text, n)
    res = core.erf_ratio_by_depth(layers, n, seed, max_points=16)
    return pd.DataFrame(res)


@st.cache_data(max_entries=32, show_spinner=False)
def analyse(text: str, n: int, names: tuple[str, ...] | None) -> dict:
    """Validate the stack and compute the per-layer statistics (raises ValueError with the message).

    Cached: an error is raised again (in the current language) on every call, never stored.
    """
    layers, errors = core.parse_stack(text, n)
    if errors:
        raise ValueError(" ".join(error_text(e) for e in errors[:3]))
    stats = core.receptive_field(layers)
    sizes = core.output_size(layers, n)
    if names is None or len(names) != len(layers):
        names = tuple(f"{'conv' if x.kind == 'conv' else 'pool'}{i}" for i, x in enumerate(layers, start=1))
    table = pd.DataFrame(
        {
            "layer": np.arange(1, len(layers) + 1),
            "name": list(names),
            "kind": [x.kind for x in layers],
            "kernel": [x.kernel for x in layers],
            "stride": [x.stride for x in layers],
            "padding": [x.padding for x in layers],
            "dilation": [x.dilation for x in layers],
            "rf": [s.size for s in stats],
            "jump": [s.jump for s in stats],
            "eff_padding": [s.padding for s in stats],
            "centre0": [s.centre for s in stats],
            "out_size": sizes,
        }
    )
    return {
        "text": core.layers_to_string(layers),
        "layers": layers,
        "stats": stats,
        "sizes": sizes,
        "n": n,
        "table": table,
    }


# ---------------------------------------------------------------------------
# Figures: each is a `charts.template` (its Vega-Lite spec, built once per
# language and lecture mode) and a function for its data by name, cached where
# building the frames costs more than reading them back.
# ---------------------------------------------------------------------------


def tower_frame(res: dict, unit: int) -> pd.DataFrame:
    """Layer m (0 = image) on the y axis; each unit drawn at its centre in input pixels, S_m wide.

    One row per layer with `bar` true (all its units, a thin grey bar; the image's bar spans
    its pixels), then the runs of units that feed `unit` (inside the map, or in its padding).
    """
    layers, stats, sizes, n = res["layers"], res["stats"], res["sizes"], res["n"]
    feed = core.feeding_units(layers, unit)
    depth = np.arange(len(feed))
    centres = np.array([0.0] + [s.centre for s in stats])  # centre of unit 0 of layer m
    jumps = np.array([1.0] + [s.jump for s in stats])
    counts = np.array([n, *sizes])
    lab_layer, lab_used, lab_pad = t(f"{P}.tw_layer_units"), t(f"{P}.tw_feeds"), t(f"{P}.tw_padding")
    names = np.array([t(f"{P}.input_image"), *res["table"]["name"]], dtype=object)
    # runs of consecutive unit indices of one layer, split where they cross into the padding
    m = np.repeat(depth, [idx.size for idx in feed])
    u = np.concatenate(feed)
    side = (u >= 0).astype(int) + (u >= counts[m])  # 0: left padding, 1: inside, 2: right padding
    new = np.ones(u.size, dtype=bool)
    new[1:] = (m[1:] != m[:-1]) | (u[1:] != u[:-1] + 1) | (side[1:] != side[:-1])
    start = np.flatnonzero(new)
    m, first, last = m[start], u[start], u[np.r_[start[1:], u.size] - 1]
    what = np.where(side[start] == 1, lab_used, lab_pad)
    if depth.size + m.size > charts.MAX_ROWS:  # fall back to one interval per layer
        first, last = np.array(core.tower(layers, unit)).T
        m, what = depth, np.full(depth.size, lab_used)
    c, S = centres[m], jumps[m]
    return pd.DataFrame(
        {
            "depth": np.r_[depth, m],
            "x0": np.r_[centres - jumps / 2, c + first * S - S / 2],
            "x1": np.r_[centres + (counts - 1) * jumps + jumps / 2, c + last * S + S / 2],
            "what": np.r_[np.full(depth.size, lab_layer), what],
            "name": np.r_[names, names[m]],
            "first": np.r_[np.zeros(depth.size, dtype=int), first],
            "last": np.r_[counts - 1, last],
            "bar": np.r_[np.ones(depth.size, dtype=bool), np.zeros(m.size, dtype=bool)],
            "y0": np.r_[depth - 0.12, m - 0.42],
            "y1": np.r_[depth + 0.12, m + 0.42],
        }
    )


@st.cache_data(max_entries=32, show_spinner=False)
def tower_data(text: str, n: int, names: tuple[str, ...], unit: int, lang: str) -> pd.DataFrame:
    return tower_frame(analyse(text, n, names), unit)


# grey / blue / orange: apart for red-green colour-blind eyes too (tests/test_colour_vision.py)
TOWER_COLOURS = ["#c7c7c7", charts.CATEGORY[0], "#e69f00"]
IMAGE_EDGE = "#c62828"  # the image-size line and its label: 5.6:1 on white, readable as text


@charts.template
def tower_template() -> alt.LayerChart:
    """Grey bars per layer, the cells feeding the unit on top, the image's edges dashed (all from "tower")."""
    lab_layer, lab_used, lab_pad = t(f"{P}.tw_layer_units"), t(f"{P}.tw_feeds"), t(f"{P}.tw_padding")
    color = alt.Color(
        "what",
        type="nominal",
        title=None,
        legend=alt.Legend(orient="top"),
        scale=alt.Scale(domain=[lab_layer, lab_used, lab_pad], range=TOWER_COLOURS),
    )
    tooltip = [alt.Tooltip("name", type="nominal", title=t(f"{P}.col_name")), alt.Tooltip("what", type="nominal", title=t(f"{P}.tw_legend")),
               alt.Tooltip("first", type="quantitative", title=t(f"{P}.tw_first")), alt.Tooltip("last", type="quantitative", title=t(f"{P}.tw_last"))]  # fmt: skip
    enc = dict(x=alt.X("x0", type="quantitative", title=t(f"{P}.tw_x")), x2=alt.X2("x1"),
               y=alt.Y("y0", type="quantitative", title=t(f"{P}.tw_y")), y2=alt.Y2("y1"), color=color, tooltip=tooltip)  # fmt: skip
    tower = alt.Chart(charts.named("tower"))
    base = tower.transform_filter("datum.bar").mark_rect(opacity=0.9).encode(**enc)
    top = (
        tower.transform_filter("!datum.bar")
        .mark_rect(opacity=0.85, stroke="white", strokeWidth=0.3)
        .encode(**enc)
    )
    edges = (  # the two ends of the image's own bar (layer 0)
        tower.transform_filter("datum.bar && datum.depth == 0")
        .transform_fold(["x0", "x1"], as_=["end", "x"])
        .mark_rule(strokeDash=[4, 3], color="#555")
        .encode(x=alt.X("x", type="quantitative"))
    )
    return alt.layer(base, top, edges)


def depth_data(res: dict) -> dict[str, pd.DataFrame]:
    """The RF size after each layer ("rf") and the image size, drawn as a labelled line ("image")."""
    n = res["n"]
    return {
        "rf": pd.DataFrame(
            {"depth": np.arange(len(res["stats"]) + 1), "rf": [1] + [s.size for s in res["stats"]]}
        ),
        "image": pd.DataFrame({"y": [n], "label": [t(f"{P}.image_size", n=n)]}),
    }


@charts.template
def depth_template() -> alt.LayerChart:
    line = charts.line(
        "rf",
        "depth",
        "rf",
        x_title=t(f"{P}.depth"),
        y_title=t(f"{P}.col_rf"),
        points=True,
        whole_x=True,
        whole_y=True,
    )
    img = alt.Chart(charts.named("image"))
    rule = img.mark_rule(color=IMAGE_EDGE, strokeDash=[6, 3]).encode(y=alt.Y("y", type="quantitative"))
    label = img.mark_text(align="left", dx=4, dy=-7, color=IMAGE_EDGE).encode(
        y=alt.Y("y", type="quantitative"), x=alt.value(4), text=alt.Text("label", type="nominal")
    )
    return alt.layer(line, rule, label)


@st.cache_data(max_entries=32, show_spinner=False)
def ratio_data(text: str, n: int, seed: int, lang: str) -> pd.DataFrame:
    """Measured ERF / RF by depth, for random and for constant weights."""
    curve = erf_curve(text, n, seed)
    return pd.concat(
        [
            pd.DataFrame({"depth": curve.depth, "ratio": curve.ratio, "weights": t(f"{P}.w_random")}),
            pd.DataFrame(
                {
                    "depth": curve.depth,
                    "ratio": curve.erf_ones / curve.rf_visible,
                    "weights": t(f"{P}.w_ones"),
                }
            ),
        ],
        ignore_index=True,
    )


@charts.template
def ratio_template() -> alt.Chart:
    return (
        alt.Chart(charts.named("ratio"))
        .mark_line(point=True)
        .encode(
            x=alt.X("depth", type="quantitative", title=t(f"{P}.depth")),
            y=alt.Y(
                "ratio", type="quantitative", title=t(f"{P}.ratio_axis"), scale=alt.Scale(domain=[0, 1.05])
            ),
            color=alt.Color("weights", type="nominal", title=None, legend=alt.Legend(orient="top")),
            strokeDash=alt.StrokeDash("weights", type="nominal", title=None, legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip("depth", type="quantitative"),
                alt.Tooltip("ratio", type="quantitative", format=".2f"),
                alt.Tooltip("weights", type="nominal"),
            ],
        )
    )


def heat_frames(field: np.ndarray, box: tuple[int, int], log: bool) -> dict[str, pd.DataFrame]:
    """The field cropped to the theoretical box (plus a margin), block-summed to <= HEAT x HEAT cells.

    "cells": the heat map; "box": the edges of the theoretical field that fall inside the crop.
    Every coordinate stays within the crop, so the axes (which follow the data) span exactly it.
    """
    n = field.shape[0]
    a, b = box
    margin = max((b - a + 1) // 4, 4)
    lo, hi = max(min(a, n - 1) - margin, 0), min(max(b, 0) + margin, n - 1)
    crop = field[lo : hi + 1, lo : hi + 1]
    f = max(1, math.ceil(crop.shape[0] / HEAT))
    m = math.ceil(crop.shape[0] / f) * f
    padded = np.zeros((m, m), dtype=float)
    padded[: crop.shape[0], : crop.shape[1]] = crop
    blocks = padded.reshape(m // f, f, m // f, f).sum(axis=(1, 3))  # (cells, cells)
    v = blocks / max(blocks.max(), 1e-30)
    if log:
        v = np.log10(np.maximum(v, 1e-8))
    iy, ix = np.meshgrid(np.arange(v.shape[0]), np.arange(v.shape[1]), indexing="ij")
    cells = pd.DataFrame(
        {
            "x0": lo + ix.ravel() * f - 0.5,
            "y0": lo + iy.ravel() * f - 0.5,
            "value": v.ravel(),
        }
    )
    cells = cells[(cells.x0 <= hi) & (cells.y0 <= hi)]
    # cells overlap by a quarter so the canvas shows no antialiasing seams between them
    top = hi + 0.5
    cells = cells.assign(x1=np.minimum(cells.x0 + 1.25 * f, top), y1=np.minimum(cells.y0 + 1.25 * f, top))
    # the dashed box, as the parts of its four edges inside the crop
    start, stop = max(a - 0.5, lo - 0.5), min(b + 0.5, top)
    edges = []
    if start <= stop:
        for at in (a - 0.5, b + 0.5):
            if lo - 0.5 <= at <= top:
                edges += [(at, at, start, stop), (start, stop, at, at)]  # a column edge, a row edge
    return {"cells": cells, "box": pd.DataFrame(edges, columns=["x0", "x1", "y0", "y1"])}


@st.cache_data(max_entries=32, show_spinner=False)
def heat_data(
    text: str, n: int, seed: int, which: str, log: bool, lang: str
) -> tuple[dict[str, pd.DataFrame] | None, str, str]:
    """(frames or None if too costly, title, caption) of one heat map: which = "ones" or "random"."""
    layers, _ = core.parse_stack(text, n)
    last = core.receptive_field(layers)[-1]
    centre = (core.output_size(layers, n)[-1] - 1) // 2
    box = (last.start(centre), last.end(centre))
    ones, rand, nets = measured_fields(text, n, seed)
    if which == "ones":
        lo, hi = core.support_extent(ones, 0)
        caption = t(f"{P}.support", lo=lo, hi=hi, w=hi - lo + 1, a=box[0], b=box[1])
        return heat_frames(ones, box, log), t(f"{P}.heat_ones"), caption
    if rand is None:
        return None, "", t(f"{P}.too_costly")
    visible = min(box[1], n - 1) - max(box[0], 0) + 1
    erf = core.effective_size(rand)
    caption = t(f"{P}.erf_caption", erf=f"{erf:.0f}", r=visible, ratio=f"{erf / max(visible, 1):.2f}")
    return heat_frames(rand, box, log), t(f"{P}.heat_random", k=nets), caption


@charts.template
def heat_template(log: bool, side: int) -> alt.LayerChart:
    """A heat map over a square patch of the image ("cells") with the theoretical field dashed ("box").

    Drawn square: the plot is `side` pixels wide and high, axes and legend come on top.
    """
    heat = (
        alt.Chart(charts.named("cells"))
        .mark_rect()
        .encode(
            x=alt.X(
                "x0", type="quantitative", title=t(f"{P}.heat_x"), scale=alt.Scale(nice=False, zero=False)
            ),
            x2=alt.X2("x1"),
            # image rows grow downwards
            y=alt.Y(
                "y0",
                type="quantitative",
                title=t(f"{P}.heat_y"),
                scale=alt.Scale(nice=False, zero=False, reverse=True),
            ),
            y2=alt.Y2("y1"),
            color=alt.Color(
                "value",
                type="quantitative",
                title=t(f"{P}.heat_log") if log else t(f"{P}.heat_lin"),
                scale=alt.Scale(scheme="viridis"),
                legend=alt.Legend(orient="bottom", gradientLength=220),
            ),
            tooltip=[
                alt.Tooltip("x0", type="quantitative", title="x"),
                alt.Tooltip("y0", type="quantitative", title="y"),
                alt.Tooltip("value", type="quantitative", format=".3g"),
            ],
        )
    )
    box = (
        alt.Chart(charts.named("box"))
        .mark_rule(color="#ff4b4b", strokeWidth=2, strokeDash=[6, 3])
        .encode(
            x=alt.X("x0", type="quantitative"),
            x2=alt.X2("x1"),
            y=alt.Y("y0", type="quantitative"),
            y2=alt.Y2("y1"),
        )
    )
    return alt.layer(heat, box).properties(width=side, autosize=alt.AutoSizeParams(type="pad"))


# ---------------------------------------------------------------------------
# 1. Title, lead; 2. controls
# ---------------------------------------------------------------------------

page.header(P)

# A stack in the link is checked once per session, before its widget exists: an
# unreadable or invalid one is ignored (the widget falls back to the preset) and
# the message names the row, so a hostile or stale link never sticks.
if "_rf_url_checked" not in st.session_state:
    st.session_state["_rf_url_checked"] = True
    url_stack = st.query_params.get("stack") or ""
    if url_stack.strip():
        _, url_errors = core.parse_stack(url_stack[:20_000])
        if url_errors:  # forget it before the widget binds (same private API as ui/layout.py)
            with get_session_state().query_params() as qp:
                qp._initial_query_params.pop("stack", None)
                qp._query_params.pop("stack", None)
            st.session_state["_rf_url_error"] = [
                (e.row, e.kind, e.field, e.value[:40]) for e in url_errors[:3]
            ]
if st.session_state.get("_rf_url_error"):
    errs = [core.RowError(*e) for e in st.session_state["_rf_url_error"]]
    st.warning(t(f"{P}.url_ignored", why=" ".join(error_text(e) for e in errs)), icon=":material/link_off:")

left, right = page.columns()

with left:
    preset = st.selectbox(
        t(f"{P}.preset"),
        PRESET_KEYS,
        format_func=preset_label,
        key="preset",
        bind="query-params",
        on_change=on_preset,
    )
    st.caption(t(f"{P}.preset_{preset}"))
    if preset != "custom":
        st.session_state["_rf_prev_preset"] = preset
    text_in = st.text_input(
        t(f"{P}.stack"),
        key="stack",
        bind="query-params",
        on_change=on_stack_text,
        placeholder=preset_text(
            preset if preset != "custom" else st.session_state.get("_rf_prev_preset", DEFAULT_PRESET)
        ),
        help=t(f"{P}.stack_help"),
    )
    n = st.slider(t(f"{P}.input_size"), 16, core.MAX_MEASURE_SIZE, 224, 1, key="n", bind="query-params",
                  help=t(f"{P}.input_size_help"))  # fmt: skip

text = (text_in or "").strip()
if text:
    source_text, names = text, None
else:
    name = preset if preset in core.PRESETS else st.session_state.get("_rf_prev_preset", DEFAULT_PRESET)
    source_text, names = (
        preset_text(name),
        tuple(x.name for x in core.PRESETS.get(name, core.PRESETS[DEFAULT_PRESET])),
    )

res = page.keep_last_good(f"{P}_result", lambda: analyse(source_text, n, names), lambda e: str(e))
if res is None:  # first visit with a bad stack: show the default network under the warning
    res = analyse(preset_text(DEFAULT_PRESET), n, tuple(x.name for x in core.PRESETS[DEFAULT_PRESET]))
layers, n_shown = res["layers"], res["n"]

with left:
    seed = widgets.seed()


# ---------------------------------------------------------------------------
# 3. Main figure: the tower (with its unit picker), and the headline numbers.
# A fragment: moving the unit reruns only this part of the page.
# ---------------------------------------------------------------------------


@st.fragment
def tower_section(res: dict) -> None:
    stats, sizes, n = res["stats"], res["sizes"], res["n"]
    last, out_last = stats[-1], sizes[-1]
    unit_max = max(out_last - 1, 0)
    widgets.keep_within("unit", unit_max)  # a new stack may have fewer output units
    pick, title = st.columns([1, 3], vertical_alignment="bottom")
    with pick:
        unit = int(
            st.number_input(
                t(f"{P}.unit"), 0, unit_max, 0, 1, key="unit", bind="query-params", help=t(f"{P}.unit_help")
            )
        )
    unit = min(unit, unit_max)
    with title:
        st.markdown(f"**{t(f'{P}.tower_title', unit=unit, layer=res['table']['name'].iloc[-1])}**")
    tall = min(max(10 * (len(stats) + 1), 280), 350)
    names = tuple(res["table"]["name"])
    window = t(f"{P}.window", unit=unit, a=last.start(unit), b=last.end(unit), r=last.size, n_minus=n - 1)
    charts.show(
        tower_template(chart_height=charts.height(tall)),
        data={"tower": tower_data(res["text"], n, names, unit, current_lang())},
        description=t(
            f"{P}.desc_pair", title=t(f"{P}.tower_title", unit=unit, layer=res["table"]["name"].iloc[-1]), text=window
        ),
    )
    m = st.columns(4)
    m[0].metric(t(f"{P}.m_rf"), f"{last.size}", help=t(f"{P}.m_rf_help"))
    m[1].metric(t(f"{P}.m_jump"), f"{last.jump}")
    m[2].metric(t(f"{P}.m_pad"), f"{last.padding}")
    m[3].metric(t(f"{P}.m_out"), f"{out_last}")
    st.caption(window)


with right:
    tower_section(res)

page.prose(t(f"{P}.explain_tower"))

# ---------------------------------------------------------------------------
# The stack: editor and per-layer table
# ---------------------------------------------------------------------------

st.subheader(t(f"{P}.stack_title"))
ed_col, tab_col = st.columns([1, 1.6], gap="medium")
with ed_col:
    base_rows, editor_table = editor_rows(source_text, res["text"])
    editor_key = "rf_editor_" + hashlib.sha1(source_text.encode()).hexdigest()[:12]
    st.data_editor(
        editor_table,
        key=editor_key,
        num_rows="dynamic",
        height=320,
        on_change=on_editor,
        args=(editor_key, base_rows),
        column_config={
            "kind": st.column_config.SelectboxColumn(
                t(f"{P}.col_kind"), options=["conv", "pool"], required=True
            ),
            "kernel": st.column_config.NumberColumn("k", help=t(f"{P}.col_kernel_help")),
            "stride": st.column_config.NumberColumn("s", help=t(f"{P}.col_stride_help")),
            "padding": st.column_config.NumberColumn("p", help=t(f"{P}.col_padding_help")),
            "dilation": st.column_config.NumberColumn("d", help=t(f"{P}.col_dilation_help")),
            "padding_right": st.column_config.NumberColumn(
                t(f"{P}.ed_padding_right"), help=t(f"{P}.col_padding_right_help")
            ),
        },
    )
    st.caption(t(f"{P}.editor_caption"))
with tab_col:
    shown = res["table"].rename(
        columns={
            "layer": t(f"{P}.col_row"),
            "name": t(f"{P}.col_name"),
            "kind": t(f"{P}.col_kind"),
            "kernel": "k",
            "stride": "s",
            "padding": "p",
            "dilation": "d",
            "rf": t(f"{P}.col_rf"),
            "jump": t(f"{P}.col_jump"),
            "eff_padding": t(f"{P}.col_eff_padding"),
            "centre0": t(f"{P}.col_centre"),
            "out_size": t(f"{P}.col_out"),
        }
    )
    st.dataframe(shown, hide_index=True, height=320)

# ---------------------------------------------------------------------------
# Growth with depth: RF size, and the effective / theoretical ratio
# ---------------------------------------------------------------------------

# The torch measurements (ERF-by-depth curve, 2-D maps) take up to a second or two
# cold, so they run on the first visit, after a "Try this" preset, for small stacks,
# or when "Measure" is pressed; other controls stay instant (DESIGN.md budgets).
view_key = (res["text"], n_shown, seed)
small = core.measurement_cost(layers, n_shown) * 16 * 8 <= AUTO_COST and len(layers) <= 24
if st.session_state.pop("rf_measure_now", False) or small or "rf_measured" not in st.session_state:
    st.session_state["rf_measured"] = view_key
measured = st.session_state["rf_measured"] == view_key

g1, g2 = st.columns(2, gap="medium")
with g1:
    st.markdown(f"**{t(f'{P}.rf_depth_title')}**")
    charts.show(
        depth_template(chart_height=charts.height(300)),
        data=depth_data(res),
        description=t(
            f"{P}.desc_depth", title=t(f"{P}.rf_depth_title"), rf=res["stats"][-1].size if res["stats"] else 1,
            depth=len(res["stats"]), n=res["n"],
        ),
    )
with g2:
    st.markdown(f"**{t(f'{P}.ratio_title')}**")
    if measured:
        with st.spinner(t(f"{P}.measuring")):
            ratio = ratio_data(res["text"], n_shown, seed, current_lang())
            deepest = ratio[ratio["depth"] == ratio["depth"].max()]
            values = ", ".join(f"{w} {r:.2f}" for w, r in zip(deepest["weights"], deepest["ratio"], strict=True))
            charts.show(
                ratio_template(chart_height=charts.height(300)),
                data={"ratio": ratio},
                description=t(f"{P}.desc_ratio", title=t(f"{P}.ratio_title"), values=values),
            )
    else:
        st.info(t(f"{P}.stale"), icon=":material/hourglass_empty:")
        st.button(
            t(f"{P}.measure"),
            key="rf_measure",
            type="primary",
            icon=":material/play_arrow:",
            on_click=st.session_state.__setitem__,
            args=("rf_measured", view_key),
        )

page.prose(t(f"{P}.explain_depth"))

# ---------------------------------------------------------------------------
# Measured (ones) and effective (random) fields in 2-D
# ---------------------------------------------------------------------------


@st.fragment
def heat_section(text: str, n: int, seed: int) -> None:
    """The log-scale switch reruns only the two heat maps."""
    head, switch = st.columns([3, 1], vertical_alignment="bottom")
    head.subheader(t(f"{P}.heat_title"))
    with switch:
        log_scale = st.toggle(
            t(f"{P}.log_scale"), False, key="log", bind="query-params", help=t(f"{P}.log_help")
        )
    h1, h2 = st.columns(2, gap="medium")
    for col, which in ((h1, "ones"), (h2, "random")):
        with col, st.spinner(t(f"{P}.measuring")):
            frames, title, caption = heat_data(text, n, seed, which, log_scale, current_lang())
            if frames is None:
                st.info(caption)
            else:
                side = charts.height(280)
                st.markdown(f"**{title}**")
                charts.show(
                    heat_template(log_scale, side, chart_height=side),
                    data=frames,
                    width="content",
                    description=t(f"{P}.desc_pair", title=title, text=caption),
                )
                st.caption(caption)


if measured:
    heat_section(res["text"], n_shown, seed)
else:
    st.subheader(t(f"{P}.heat_title"))
    st.info(t(f"{P}.stale"), icon=":material/hourglass_empty:")

page.prose(t(f"{P}.explain_heat"))

# ---------------------------------------------------------------------------
# 4. Try this; 5. the math; 6. download
# ---------------------------------------------------------------------------


def exceeds_image_facts(res: dict, seed: int, measured: bool) -> dict[str, str]:
    """The theoretical size r, and the effective field's width and share of the image, as the maps show them
    ("…" until the maps are measured)."""
    r, n_img = res["stats"][-1].size, res["n"]
    rand = measured_fields(res["text"], n_img, seed)[1] if measured else None
    if rand is None:
        return {"r": f"{r}", "erf": "…", "share": "…"}
    erf = core.effective_size(rand)
    return {"r": f"{r}", "erf": f"{erf:.0f}", "share": f"{erf / n_img:.0%}"}


facts = {}
if st.session_state.get(f"_try_{P}") == "exceeds_image":
    facts["exceeds_image"] = exceeds_image_facts(res, seed, measured)
page.try_this(
    P,
    {
        "small_vs_large": {
            "preset": "custom",
            "stack": "c3p1,c3p1,c3p1",
            "n": 64,
            "unit": 0,
            "rf_measure_now": True,
        },
        "stride_early": {
            "preset": "custom",
            "stack": "c3s2p1,c3p1,c3p1,c3p1",
            "n": 64,
            "unit": 0,
            "rf_measure_now": True,
        },
        "dilation": {
            "preset": "custom",
            "stack": "c3p1,c3p2d2,c3p4d4,c3p8d8",
            "n": 64,
            "unit": 0,
            "rf_measure_now": True,
        },
        "exceeds_image": {"preset": "resnet50_tv", "stack": "", "n": 128, "unit": 0, "rf_measure_now": True},
    },
    facts=facts,
)

page.math(
    P,
    [
        (
            r"\mathrm{RF}_{L}=1,\qquad \mathrm{RF}_{n-1}=(\mathrm{RF}_{n}-1)\,s_n+k'_n,\qquad k'=d\,(k-1)+1",
            t(f"{P}.src_topdown"),
        ),
        (
            r"r_0=\sum_{l=1}^{L}(k'_l-1)\prod_{i=1}^{l-1}s_i+1,\qquad S_0=\prod_{l=1}^{L}s_l",
            t(f"{P}.src_closed"),
        ),
        (
            r"P_0=\sum_{l=1}^{L}p_l\prod_{i=1}^{l-1}s_i,\qquad u_0=u\,S_0-P_0,\quad v_0=u_0+r_0-1",
            t(f"{P}.src_padding"),
        ),
        (
            r"n_l=\left\lfloor\frac{n_{l-1}+p_l+p^{\mathrm{right}}_l-k'_l}{s_l}\right\rfloor+1",
            t(f"{P}.src_size"),
        ),
        (
            r"g_{ij}=\mathbb{E}\left|\frac{\partial y_{c}}{\partial x_{ij}}\right|,\qquad"
            r"\mathrm{ERF}\propto\sqrt{L}\ \text{while}\ r_0\propto L",
            t(f"{P}.src_erf"),
        ),
    ],  # fmt: skip
)

page.download_csv(res["table"], f"{P}_{preset}_n{n_shown}.csv")
