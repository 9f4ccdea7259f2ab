"""Altair chart builders with one look: titled axes, readable fonts, lecture-mode sizes.

Builders return an `alt.Chart`; pages may layer or concatenate them, then pass
the result to `show`, which applies the fonts and sizes once.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ui.layout import is_lecture

MAX_ROWS = 5_000  # DESIGN.md: data sent per chart


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


def _axis(values: pd.Series) -> alt.Axis:
    """Whole-number data (epochs, counts) get whole-number ticks."""
    if pd.api.types.is_integer_dtype(values):
        return alt.Axis(tickMinStep=1, format="d")
    return alt.Axis()


def _scale(log: bool) -> alt.Scale:
    return alt.Scale(type="log") if log else alt.Scale(zero=False)


def _xy(
    df: pd.DataFrame,
    x: str,
    y: str,
    x_title: str,
    y_title: str,
    color: str | None,
    color_title: str | None,
    log_x: bool = False,
    log_y: bool = False,
) -> dict:
    enc = {
        "x": alt.X(x, type="quantitative", title=x_title, scale=_scale(log_x), axis=_axis(df[x])),
        "y": alt.Y(y, type="quantitative", title=y_title, scale=_scale(log_y), axis=_axis(df[y])),
        "tooltip": _tooltip(x, y, color),
    }
    if color:
        enc["color"] = alt.Color(color, type="nominal", title=color_title or color)
    return enc


def line(
    df: pd.DataFrame,
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
) -> alt.Chart:
    """Lines of y against x, one per value of `color`."""
    enc = _xy(df, x, y, x_title, y_title, color, color_title, log_x, log_y)
    return alt.Chart(df).mark_line(point=points).encode(**enc)


def scatter(
    df: pd.DataFrame,
    x: str,
    y: str,
    *,
    x_title: str,
    y_title: str,
    color: str | None = None,
    color_title: str | None = None,
    size: int = 60,
) -> alt.Chart:
    enc = _xy(df, x, y, x_title, y_title, color, color_title)
    return alt.Chart(df).mark_circle(size=size, opacity=0.85).encode(**enc)


def heatmap(
    df: pd.DataFrame,
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
        alt.Chart(df)
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


def show(chart: alt.TopLevelMixin, *, chart_height: int | None = None) -> None:
    """Render with the app's fonts; lecture mode makes every label projector-sized."""
    big = is_lecture()
    label, title = (16, 18) if big else (12, 13)
    if isinstance(chart, alt.Chart | alt.LayerChart):
        chart = chart.properties(height=chart_height or height())
    chart = (
        chart.configure_axis(labelFontSize=label, titleFontSize=title, grid=True)
        .configure_legend(labelFontSize=label, titleFontSize=title, orient="right", symbolSize=140)
        .configure_title(fontSize=title + 2)
        .configure_range(category={"scheme": "tableau10"})  # distinct hues that survive a projector
    )
    # The spec is built by the page's own code from typed channels; skipping
    # Altair's JSON-schema validation saves ~40% of a chart's rerun cost.
    st.vega_lite_chart(chart.to_dict(validate=False), width="stretch")
