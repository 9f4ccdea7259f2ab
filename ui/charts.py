"""Altair chart builders with one look: titled axes, readable fonts, lecture-mode sizes.

Builders return an `alt.Chart`; pages may layer or concatenate them, then pass
the result to `show`, which applies the fonts and sizes once.

Speed. Building an Altair chart and turning it into Vega-Lite costs 10-40 ms
(deep copies, schema checks), several times the warm-rerun budget on a page
with five charts. So a figure is split in two:
- its *template*: the Altair chart built from dataset names, titles and
  domains, turned into a Vega-Lite dict once per (arguments, language,
  lecture mode) by `@template` and cached;
- its *data*: DataFrames handed to `show(spec, data={name: frame})`, which
  Streamlit sends to the browser as Arrow.
A rerun then costs what the DataFrames cost, and the browser swaps the data
of a chart whose spec did not change instead of redrawing it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import CodeType
from typing import Any, ParamSpec

import altair as alt
import pandas as pd
import pyarrow as pa
import streamlit as st

from ui.i18n import current_lang
from ui.layout import is_lecture

MAX_ROWS = 5_000  # DESIGN.md: data sent per chart
NOW_COLOR = "#ad3f0a"  # the current setting, on every chart (the theme's primary colour)
# Series colours when a chart names none: every pair stays >= 15 CIEDE2000 apart under
# simulated protanopia and deuteranopia, and from NOW_COLOR, each with >= 3:1 contrast
# on white (tests/test_colour_vision.py). Okabe & Ito's blue, Paul Tol's olive, wine and
# teal, then black. Series also differ by dash (lines) or shape (points): never colour alone.
CATEGORY = ["#0072b2", "#999933", "#882255", "#009988", "#000000"]

Source = pd.DataFrame | str  # a frame, or the name of a dataset given to `show`
Spec = dict[str, Any]
Params = ParamSpec("Params")


def named(source: Source) -> pd.DataFrame | alt.NamedData:
    """Chart data: a frame as it is, a name as a reference filled in by `show`."""
    return alt.NamedData(name=source) if isinstance(source, str) else source


def height(base: int = 320) -> int:
    """Chart height in pixels; taller in lecture mode, still fitting a 720-pixel projector."""
    return int(base * 1.15) if is_lecture() else base


def _tooltip(x: str, y: str, color: str | None) -> list[alt.Tooltip]:
    # Typed channel objects, never "field:Q" shorthand: parsing shorthand costs
    # tens of milliseconds per chart, a large part of the warm-rerun budget.
    tips = [
        alt.Tooltip(x, type="quantitative", format=".3g"),
        alt.Tooltip(y, type="quantitative", format=".3g"),
    ]
    return tips + ([alt.Tooltip(color, type="nominal")] if color else [])


def _axis(source: Source, column: str, whole: bool | None, log: bool = False) -> alt.Axis:
    """Whole-number data (epochs, counts) get whole-number ticks.

    `whole=None` looks at a frame's dtype; a named dataset is not whole unless told.
    A log axis gets about five powers of ten (`log_axis`): over many decades Vega's default
    draws a grid line at each 2..9 multiple, a crowded block on a short chart.
    """
    if log:
        return log_axis(5)
    if whole is None:
        whole = isinstance(source, pd.DataFrame) and pd.api.types.is_integer_dtype(source[column])
    return alt.Axis(tickMinStep=1, format="d") if whole else alt.Axis()


# Every power of ten from 1e-40 to 1e40: Vega draws only the values inside the scale's domain.
DECADES = [10.0**e for e in range(-40, 41)]


def log_axis(ticks: int | None = None, **kwargs: Any) -> alt.Axis:
    """The axis of a log scale (pages that build their own log encodings use it too).

    `ticks=None`: a tick and grid line at every power of ten in the domain, nothing between (for
    axes over one to six decades: steps 1..250, iterations 1..500). Vega's own log ticks (d3's
    `log.ticks(count)`) add every 2..9 multiple while the domain spans fewer decades than the
    count: at 5 a 1..500 axis drew 24 grid lines for 6 labels, and at 2 a 1..250 axis showed
    only 1 and 100. `ticks=n` keeps Vega's choice of about n powers of ten, for axes over many
    decades (an error falling to 1e-12), where one label per decade would crowd.
    """
    if ticks is None:
        return alt.Axis(values=DECADES, format="~g", **kwargs)
    return alt.Axis(tickCount=ticks, **kwargs)


def _scale(log: bool) -> alt.Scale:
    return alt.Scale(type="log") if log else alt.Scale(zero=False)


def _xy(
    df: Source,
    x: str,
    y: str,
    x_title: str,
    y_title: str,
    color: str | None,
    color_title: str | None,
    log_x: bool = False,
    log_y: bool = False,
    whole_x: bool | None = None,
    whole_y: bool | None = None,
) -> dict:
    enc = {
        "x": alt.X(x, type="quantitative", title=x_title, scale=_scale(log_x), axis=_axis(df, x, whole_x, log_x)),
        "y": alt.Y(y, type="quantitative", title=y_title, scale=_scale(log_y), axis=_axis(df, y, whole_y, log_y)),
        "tooltip": _tooltip(x, y, color),
    }
    if color:
        enc["color"] = alt.Color(color, type="nominal", title=color_title or color)
    return enc


DASHES = [[1, 0], [7, 3], [2, 2], [9, 3, 2, 3], [4, 4]]  # solid first; a dash pattern per series


def series(
    field: str, title: str, domain: list[str], *, colours: list[str] | None = None, channel: str = "strokeDash"
) -> dict[str, Any]:
    """Encodings that tell named series apart by colour AND dash (lines) or shape (points).

    `encode(**series(...))`: the i-th name of `domain` gets the i-th colour (CATEGORY unless
    given) and the i-th dash pattern / shape, on every chart that uses the same domain.
    """
    colours = list(colours or CATEGORY)
    n = len(domain)
    enc: dict[str, Any] = {
        "color": alt.Color(field, type="nominal", title=title, scale=alt.Scale(domain=domain, range=colours[:n]))
    }
    if channel == "strokeDash":
        enc["strokeDash"] = alt.StrokeDash(
            field, type="nominal", title=title, scale=alt.Scale(domain=domain, range=DASHES[:n])
        )
    else:
        shapes = ["circle", "square", "triangle-up", "diamond", "cross"][:n]
        enc["shape"] = alt.Shape(field, type="nominal", title=title, scale=alt.Scale(domain=domain, range=shapes))
    return enc


def _second_channel(enc: dict, color: str | None, color_title: str | None, channel: str) -> dict:
    """Series told apart by dash or shape as well as colour (WCAG 2.1 SC 1.4.1).

    Same field and title as the colour, so Vega-Lite draws one legend with both.
    """
    if color:
        kind = alt.StrokeDash if channel == "strokeDash" else alt.Shape
        enc[channel] = kind(color, type="nominal", title=color_title or color)
    return enc


def line(
    df: Source,
    x: str,
    y: str,
    *,
    x_title: str,
    y_title: str,
    color: str | None = None,
    color_title: str | None = None,
    log_x: bool = False,
    log_y: bool = False,
    points: bool = False,
    whole_x: bool | None = None,
    whole_y: bool | None = None,
) -> alt.Chart:
    """Lines of y against x, one per value of `color`."""
    enc = _xy(df, x, y, x_title, y_title, color, color_title, log_x, log_y, whole_x, whole_y)
    enc = _second_channel(enc, color, color_title, "strokeDash")
    return alt.Chart(named(df)).mark_line(point=points).encode(**enc)


def scatter(
    df: Source,
    x: str,
    y: str,
    *,
    x_title: str,
    y_title: str,
    color: str | None = None,
    color_title: str | None = None,
    size: int = 60,
) -> alt.Chart:
    enc = _second_channel(_xy(df, x, y, x_title, y_title, color, color_title), color, color_title, "shape")
    return alt.Chart(named(df)).mark_point(size=size, opacity=0.85, filled=True).encode(**enc)


def heatmap(
    df: Source,
    x: str,
    y: str,
    value: str,
    *,
    x_title: str,
    y_title: str,
    value_title: str,
    scheme: str = "viridis",
    ordinal: bool = True,
) -> alt.Chart:
    """A cell per (x, y), coloured by `value`; ordinal axes by default (grids, matrices)."""
    kind = "ordinal" if ordinal else "quantitative"
    return (
        alt.Chart(named(df))
        .mark_rect()
        .encode(
            x=alt.X(x, type=kind, title=x_title),
            y=alt.Y(y, type=kind, title=y_title),
            color=alt.Color(value, type="quantitative", title=value_title, scale=alt.Scale(scheme=scheme)),
            tooltip=[
                alt.Tooltip(x, type=kind),
                alt.Tooltip(y, type=kind),
                alt.Tooltip(value, type="quantitative", format=".3g"),
            ],
        )
    )


def now(field: str, value: float) -> pa.Table:
    """The one-row dataset of a `rule` marker: the current setting."""
    return pa.table({field: [float(value)]})


def rule(source: Source, field: str, *, channel: str = "x") -> alt.Chart:
    """The dashed orange marker of the current setting (a slider's value) on a chart."""
    enc = alt.X(field, type="quantitative") if channel == "x" else alt.Y(field, type="quantitative")
    return alt.Chart(named(source)).mark_rule(color=NOW_COLOR, strokeWidth=2, strokeDash=[6, 3]).encode(enc)


def _detach_data(chart: alt.TopLevelMixin, datasets: dict[str, pd.DataFrame]) -> None:
    """Swap each DataFrame in the chart tree for a named reference; collect the frames.

    Streamlit sends named datasets to the browser as Arrow, so Altair never turns
    the rows into JSON records (its slowest step), and the browser can update a
    chart's data in place when only the numbers change.
    """
    data = getattr(chart, "data", alt.Undefined)
    if isinstance(data, pd.DataFrame):
        name = next((n for n, d in datasets.items() if d is data), f"_inline{len(datasets)}")
        datasets[name] = data
        chart.data = alt.NamedData(name=name)
    for part in ("layer", "hconcat", "vconcat", "concat"):
        children = getattr(chart, part, alt.Undefined)
        if isinstance(children, list):
            for child in children:
                _detach_data(child, datasets)


def spec(chart: alt.TopLevelMixin, *, chart_height: int | None = None, legend: str = "right") -> Spec:
    """The chart as a Vega-Lite dict with the app's fonts and sizes; data as named DataFrames.

    Styling is written into the dict rather than through `configure_*` /
    `properties`, each of which deep-copies the whole Altair tree.
    """
    datasets: dict[str, pd.DataFrame] = {}
    _detach_data(chart, datasets)
    # The spec is built by the page's own code from typed channels; skipping
    # Altair's JSON-schema validation saves ~40% of a chart's cost.
    out = chart.to_dict(validate=False)
    big = is_lecture()
    label, title = (16, 18) if big else (12, 13)
    if "mark" in out or "layer" in out:
        out["height"] = chart_height or height()
    config = out.setdefault("config", {})
    config.setdefault("axis", {}).update(labelFontSize=label, titleFontSize=title, grid=True)
    config.setdefault("legend", {}).update(
        labelFontSize=label, titleFontSize=title, orient=legend, symbolSize=140
    )
    config.setdefault("title", {}).update(fontSize=title + 2)
    # Hues that survive a projector and colour-vision deficiency (CATEGORY; Streamlit's
    # theme would swap in its own blue / light blue / red); a chart's own scale still wins.
    config.setdefault("range", {}).setdefault("category", list(CATEGORY))
    out.setdefault("datasets", {}).update(datasets)
    return out


_SPEC_CACHES: dict[tuple[str, str], tuple[CodeType, Callable[..., Spec]]] = {}


def _spec_cache(build: Callable[..., alt.TopLevelMixin]) -> Callable[..., Spec]:
    """The st.cache_data function of one template, made once per template source.

    A page script reruns its `@template` lines on every run; making a new
    cached function each time would have Streamlit read and hash its source
    again (1-2 ms a template a rerun). The current `build` is passed on every
    call (`_build`: not hashed), so a template never runs a stale copy.
    """
    where = (build.__code__.co_filename, build.__qualname__)
    known = _SPEC_CACHES.get(where)
    if known is None or known[0] != build.__code__:

        def cached_spec(
            _build, lang: str, lecture: bool, chart_height: int | None, *args: Any, **kwargs: Any
        ) -> Spec:
            return spec(_build(*args, **kwargs), chart_height=chart_height)

        # One cache per template (and per version of its code): Streamlit keys a
        # cache by module and qualified name, and every page script runs as `__main__`.
        cached_spec.__qualname__ = f"{where[0]}:{where[1]}:{hash(build.__code__.co_code)}"
        known = (build.__code__, st.cache_data(max_entries=32, show_spinner=False)(cached_spec))
        _SPEC_CACHES[where] = known
    return known[1]


def template(build: Callable[Params, alt.TopLevelMixin]) -> Callable[Params, Spec]:
    """Cache a figure's Vega-Lite spec per (arguments, language, lecture mode).

    `build` takes what shapes the figure (titles, domains, sizes; hashable by
    st.cache_data) and draws its data from names (`charts.named`, or a name in
    place of a frame in `line` / `scatter` / `heatmap` / `rule`); the frames
    come with each `show`. Pass `chart_height=` to the decorated function to
    set the height of a single or layered chart. Bounded: 32 specs a template.
    """

    cached = _spec_cache(build)

    @functools.wraps(build)
    def spec_for_now(*args: Params.args, chart_height: int | None = None, **kwargs: Params.kwargs) -> Spec:
        return cached(build, current_lang(), is_lecture(), chart_height, *args, **kwargs)

    return spec_for_now


def arrow_bytes(data: Any) -> Any:
    """A chart dataset as Arrow IPC bytes, which Streamlit sends as they are.

    Streamlit converts a DataFrame through `pa.Table.from_pandas`, whose pandas
    bookkeeping (index, column metadata) costs ~2.5 ms for a 400-row frame and
    adds ~2 kB of schema metadata no chart reads. Column by column it is ~0.5 ms
    (measured; README "Server cost"). NaN becomes null either way (`from_pandas`
    semantics). Anything else (Arrow tables: already cheap) goes to Streamlit unchanged.
    """
    if isinstance(data, pd.DataFrame) and data.columns.is_unique:
        try:
            table = pa.table({str(c): pa.Array.from_pandas(data[c]) for c in data.columns})
        except (pa.ArrowException, TypeError, ValueError):
            return data  # an unusual column: Streamlit's own conversion
    else:
        return data
    sink = pa.BufferOutputStream()
    with pa.RecordBatchStreamWriter(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def show(
    chart: alt.TopLevelMixin | Spec,
    *,
    data: dict[str, pd.DataFrame | pa.Table] | None = None,
    chart_height: int | None = None,
    width: str = "stretch",
    description: str | None = None,
) -> None:
    """Render with the app's fonts; lecture mode makes every label projector-sized.

    Takes an Altair chart, or a spec from a `@template` with its `data` by name:
    DataFrames, or Arrow tables (sent as they are; cheaper for data kept in a cache).
    `description` is the chart's text alternative for a screen reader (translated;
    its title and the headline number): Streamlit's `alt`, which the browser applies as the
    chart's description (its aria-label). Not written into the spec: the spec would change
    with every slider and the chart be redrawn instead of having its data swapped, and
    Streamlit logs a warning with a stack trace when both are set.
    """
    out = chart if isinstance(chart, dict) else spec(chart, chart_height=chart_height)
    # A fresh top level: Streamlit moves `datasets` out of the dict it is given.
    datasets = {**out.get("datasets", {}), **(data or {})}
    top = {**out, "datasets": {name: arrow_bytes(d) for name, d in datasets.items()}}
    st.vega_lite_chart(top, width=width, alt=description)
