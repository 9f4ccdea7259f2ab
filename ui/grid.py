"""Grid-world drawing shared by the RL pages (gridworld, monte_carlo).

Frames that turn a value vector, a policy and a grid layout into chart data,
and the chart templates (`ui.charts.template`) that draw them by name: the
value heat map with greedy arrows, and the state-action visit counts.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from core.gridworld import ARROWS, MOVES
from ui import charts

KIND_COLORS = {"forbidden": "#e8a33d", "target": "#3d9be8", "free": "#bbbbbb"}


def grid_frame(kinds: np.ndarray, V: np.ndarray, policy: np.ndarray | None) -> pd.DataFrame:
    """One row per cell: 1-based row/col (as in the book), value, greedy arrow, cell kind.

    kinds: (rows, cols) "free"/"forbidden"/"target"; V: (S,); policy: (S, A) or None.
    A stochastic policy shows the arrow of its most likely action and that probability.
    """
    rows, cols = kinds.shape
    r, c = np.divmod(np.arange(rows * cols), cols)
    # white ink on the dark ends of the diverging colour scale, dark ink elsewhere
    scale = max(float(np.abs(V).max()), 1e-12)
    columns = {
        "row": r + 1,
        "col": c + 1,
        "kind": kinds.ravel(),
        "V": np.round(V, 3),
        "ink": np.where(np.abs(V) / scale > 0.6, "white", "#1a1a1a"),
        # a second channel besides the outline colour: ✕ forbidden, ★ target (issue 20)
        "glyph": np.select([kinds.ravel() == "forbidden", kinds.ravel() == "target"], ["✕", "★"], ""),
    }
    if policy is not None:
        a = policy.argmax(1)
        columns.update(action=a, arrow=np.array(ARROWS)[a], p=np.round(policy.max(1), 3))
    # one constructor: adding columns one by one costs several times as much on a rerun
    return pd.DataFrame(columns)


def cell_size(rows: int, cols: int, size: int = 300) -> int:
    """Pixels per cell so the longer side of the grid is about `size`."""
    return max(26, size // max(rows, cols))


@charts.template
def grid_template(
    rows: int,
    cols: int,
    *,
    value_title: str,
    x_title: str,
    y_title: str,
    size: int = 300,
    show_values: bool = True,
    arrows: bool = True,
) -> alt.LayerChart:
    """Heat map of V with the policy's arrows on top; forbidden/target cells outlined.

    Data by name: "cells", a `grid_frame` (with a policy when `arrows`).
    Show it with `chart_height=cell_size(rows, cols, size) * rows`.
    """
    cell = cell_size(rows, cols, size)
    # typed channels, never "field:T" shorthand: parsing shorthand costs ~10 ms per channel
    x = alt.X("col", type="ordinal", title=x_title, axis=alt.Axis(labelAngle=0, orient="top"))
    y = alt.Y("row", type="ordinal", title=y_title)
    base = alt.Chart(charts.named("cells")).encode(x=x, y=y)
    heat = base.mark_rect(strokeWidth=3).encode(
        # the values are printed in the cells: no colour legend, the grid gets the width
        color=alt.Color(
            "V",
            type="quantitative",
            title=value_title,
            scale=alt.Scale(scheme="redyellowgreen", domainMid=0),
            legend=None,
        ),
        stroke=alt.Stroke(
            "kind",
            type="nominal",
            scale=alt.Scale(domain=list(KIND_COLORS), range=list(KIND_COLORS.values())),
            legend=None,
        ),
        tooltip=[
            alt.Tooltip("row", type="ordinal", title=y_title),
            alt.Tooltip("col", type="ordinal", title=x_title),
            alt.Tooltip("V", type="quantitative", title=value_title, format=".3f"),
        ],
    )
    layers = [heat]
    if arrows:
        layers.append(
            base.mark_text(
                fontSize=max(13, cell // 3), fontWeight="bold", dy=-cell // 7 if show_values else 0
            ).encode(
                text=alt.Text("arrow", type="nominal"), color=alt.Color("ink", type="nominal", scale=None)
            )
        )
    if show_values:
        layers.append(
            base.mark_text(fontSize=max(10, cell // 5), dy=cell // 4 if arrows else 0).encode(
                text=alt.Text("V", type="quantitative", format=".1f"),
                color=alt.Color("ink", type="nominal", scale=None),
            )
        )
    layers.append(  # the kind glyph sits right of the arrow, inside the cell at any rendered size
        base.mark_text(fontSize=max(10, cell // 6), dx=cell // 4, dy=-cell // 7 if show_values else 0).encode(
            text=alt.Text("glyph", type="nominal"), color=alt.Color("ink", type="nominal", scale=None)
        )
    )
    # the arrows and numbers take their ink colour as is: keep that out of the heat scale
    return (
        alt.layer(*layers)
        .resolve_scale(color="independent")
        .properties(width=cell * cols, height=cell * rows)
    )


# sub-cell of each action inside a 3x3 block: up = top middle, stay = centre, ...
_SUB = {a: (1 + int(MOVES[a][0]), 1 + int(MOVES[a][1])) for a in range(len(ARROWS))}


def visits_frame(rows: int, cols: int, visits: np.ndarray, action_names: list[str]) -> pd.DataFrame:
    """(S, A) visit counts -> one row per (s, a), placed in a 3x3 block per cell."""
    S, A = visits.shape
    s, a = np.divmod(np.arange(S * A), A)
    r, c = np.divmod(s, cols)
    sub = np.array([_SUB[i] for i in a])  # (S*A, 2) (d_row, d_col) inside the block
    return pd.DataFrame(
        {
            "row": r + 1,
            "col": c + 1,
            "action": np.array(action_names)[a],
            "x": c * 3 + sub[:, 1],
            "y": r * 3 + sub[:, 0],
            "x2": c * 3 + sub[:, 1] + 1,
            "y2": r * 3 + sub[:, 0] + 1,
            "visits": visits.ravel().astype(int),
            "log_visits": np.log10(1 + visits.ravel()),
        }
    )


def outline_frame(rows: int, cols: int) -> pd.DataFrame:
    """One 3x3 block per grid cell, for the outlines drawn over `visits_frame`."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    return pd.DataFrame({"x": c * 3, "x2": c * 3 + 3, "y": r * 3, "y2": r * 3 + 3})


@charts.template
def visits_template(rows: int, cols: int, *, count_title: str, size: int = 300) -> alt.LayerChart:
    """Each grid cell split into a plus of five squares (up/right/down/left/stay), coloured by log visits.

    Data by name: "visits", a `visits_frame`; "cells", an `outline_frame`.
    """
    unit = max(6, size // (3 * max(rows, cols)))
    x_scale = alt.Scale(domain=[0, cols * 3], nice=False)
    y_scale = alt.Scale(domain=[rows * 3, 0], nice=False)
    squares = (
        alt.Chart(charts.named("visits"))
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("x", type="quantitative", scale=x_scale, axis=None),
            x2=alt.X2("x2"),
            y=alt.Y("y", type="quantitative", scale=y_scale, axis=None),
            y2=alt.Y2("y2"),
            color=alt.Color(
                "log_visits", type="quantitative", title=count_title, scale=alt.Scale(scheme="blues")
            ),
            tooltip=[
                alt.Tooltip("row", type="ordinal"),
                alt.Tooltip("col", type="ordinal"),
                alt.Tooltip("action", type="nominal"),
                alt.Tooltip("visits", type="quantitative", title=count_title),
            ],
        )
    )
    outline = (
        alt.Chart(charts.named("cells"))
        .mark_rect(fill=None, stroke="#999", strokeWidth=1)
        .encode(
            x=alt.X("x", type="quantitative", scale=x_scale),
            x2=alt.X2("x2"),
            y=alt.Y("y", type="quantitative", scale=y_scale),
            y2=alt.Y2("y2"),
        )
    )
    return alt.layer(squares, outline).properties(width=unit * 3 * cols, height=unit * 3 * rows)
