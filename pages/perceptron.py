"""Perceptron: the threshold T, the bias b = -T, and Rosenblatt's learning rule."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import perceptron as core
from ui import charts, page, widgets
from ui.i18n import t

P = "perceptron"


@st.cache_data(max_entries=32, show_spinner=False)
def dataset(kind: str, n: int, margin: float, seed: int) -> core.Dataset:
    return core.make_dataset_info(kind, n, margin, np.random.default_rng(seed))


@st.cache_data(max_entries=32, show_spinner=False)
def learn(kind: str, n: int, margin: float, seed: int, max_epochs: int) -> dict[bool, core.PerceptronHistory]:
    data = dataset(kind, n, margin, seed)
    return {bias: core.train(data.X, data.y, max_epochs=max_epochs, use_bias=bias) for bias in (True, False)}


def bounds(X: np.ndarray) -> tuple[float, float, float, float]:
    pad = 0.3
    return X[:, 0].min() - pad, X[:, 0].max() + pad, X[:, 1].min() - pad, X[:, 1].max() + pad


@charts.template
def decision_template() -> alt.LayerChart:
    """Shaded half-planes (the unit's output everywhere), the line w·x + b = 0, the data.

    Data by name, from `decision_data`: "fires", "silent", "points", "boundary".
    The two half-planes tile the data's box, so the axes span exactly that box.
    """
    x_scale = alt.Scale(zero=False, nice=False)
    y_scale = alt.Scale(zero=False, nice=False)
    # The two half-planes as filled polygons: orange where the unit fires, blue where it is silent
    # (at 0.24 opacity the two tints stay >= 15 CIEDE2000 apart for red-green colour-blind eyes).
    regions = [
        alt.Chart(charts.named(name))
        .mark_line(fill=colour, fillOpacity=0.24, strokeOpacity=0, interpolate="linear-closed")
        .encode(
            x=alt.X("x1", type="quantitative", title="x₁", scale=x_scale),
            y=alt.Y("x2", type="quantitative", title="x₂", scale=y_scale),
            order=alt.Order("order", type="quantitative"),
        )
        for name, colour in (("fires", "#f58518"), ("silent", "#4c78a8"))
    ]
    label = t(f"{P}.label")
    points = (
        alt.Chart(charts.named("points"))
        .mark_point(filled=True, size=70, stroke="white", strokeWidth=0.8, opacity=1)
        .encode(
            x=alt.X("x1", type="quantitative"),
            y=alt.Y("x2", type="quantitative"),
            shape=alt.Shape(
                "label",
                type="nominal",
                title=label,
                scale=alt.Scale(domain=["0", "1"], range=["circle", "triangle-up"]),
            ),
            fill=alt.Fill(
                "label",
                type="nominal",
                title=label,
                scale=alt.Scale(domain=["0", "1"], range=["#1f4e8c", charts.NOW_COLOR]),
            ),
            tooltip=[
                alt.Tooltip("x1", type="quantitative", format=".2f"),
                alt.Tooltip("x2", type="quantitative", format=".2f"),
                alt.Tooltip("label", type="nominal", title=label),
            ],
        )
    )
    boundary = (
        alt.Chart(charts.named("boundary"))
        .mark_line(color="black", strokeWidth=3, clip=True)
        .encode(x=alt.X("x1", type="quantitative"), y=alt.Y("x2", type="quantitative"))
    )
    return alt.layer(*regions, points, boundary)


def decision_data(data: core.Dataset, w: np.ndarray, b: float) -> dict[str, pd.DataFrame]:
    """The frames `decision_template` draws, for the unit (w, b)."""
    box = bounds(data.X)
    fires, silent = (
        pd.DataFrame({"x1": poly[:, 0], "x2": poly[:, 1], "order": np.arange(len(poly))})
        for poly in core.halfplanes(w, b, box)
    )
    ends = core.line_in_box(w, b, box)  # (2, 2) or None
    return {
        "fires": fires,
        "silent": silent,
        "points": pd.DataFrame({"x1": data.X[:, 0], "x2": data.X[:, 1], "label": data.y.astype(str)}),
        "boundary": pd.DataFrame(ends if ends is not None else np.empty((0, 2)), columns=["x1", "x2"]),
    }


@charts.template
def firing_template() -> alt.LayerChart:
    """The firing rate against T ("rate"), with the unit's own T marked ("now")."""
    rate = charts.line("rate", "T", "rate", x_title=t(f"{P}.threshold_T"), y_title=t(f"{P}.firing_rate"))
    return alt.layer(rate, charts.rule("now", "T"))


@charts.template
def mistakes_template() -> alt.Chart:
    """Mistakes per epoch, one line per run ("mistakes")."""
    return charts.line(
        "mistakes",
        "epoch",
        "mistakes",
        color="run",
        color_title=t(f"{P}.run"),
        x_title=t(f"{P}.epoch"),
        y_title=t(f"{P}.mistakes"),
        points=True,
        whole_x=True,
        whole_y=True,
    )


# 1. Title and lead ---------------------------------------------------------
page.header(P)

# 2. Controls: the data on one row; the unit's own controls sit beside its figure.
c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
kind = c1.selectbox(
    t(f"{P}.dataset"),
    core.DATASET_KINDS,
    format_func=lambda k: t(f"{P}.kind_{k}"),
    key="data",
    bind="query-params",
)
n = c2.slider(t(f"{P}.n"), 10, 200, 60, 10, key="n", bind="query-params")
margin = c3.slider(t(f"{P}.margin"), 0.0, 0.5, 0.15, 0.05, key="margin", bind="query-params")
with c4:
    seed = widgets.seed()


@st.fragment
def unit_section(kind: str, n: int, margin: float, seed: int) -> None:
    """Moving w or b reruns only this section: the decision figure and the firing-rate curve."""
    data = dataset(kind, n, margin, seed)
    left, right = page.columns()
    with left:
        st.markdown(f"**{t(f'{P}.your_unit')}**")
        w1 = st.slider("w₁", -3.0, 3.0, 1.0, 0.1, key="w1", bind="query-params")
        w2 = st.slider("w₂", -3.0, 3.0, 1.0, 0.1, key="w2", bind="query-params")
        b = st.slider(
            t(f"{P}.bias"), -4.0, 4.0, 0.0, 0.1, key="b", bind="query-params", help=t(f"{P}.bias_help")
        )
        st.markdown(t(f"{P}.threshold_view", T=f"{0.0 - b:+.1f}"))
        st.caption(t(f"{P}.regions"))
        w = np.array([w1, w2])
        acc = float((core.predict(data.X, w, b) == data.y).mean())
        st.metric(t(f"{P}.accuracy"), f"{acc:.0%}")
    # 3. Main figure
    with right:
        charts.show(
            decision_template(chart_height=charts.height(380)),
            data=decision_data(data, w, b),
            description=t(f"{P}.desc_decision", w1=f"{w1:.1f}", w2=f"{w2:.1f}", b=f"{b:.1f}", acc=f"{acc:.0%}", n=len(data.y)),
        )
    page.prose(t(f"{P}.explain_bias"))

    st.subheader(t(f"{P}.firing_title"))
    T_grid = np.linspace(-6, 6, 121)
    fire_df = pd.DataFrame({"T": T_grid, "rate": core.firing_rate(data.X, w, T_grid)})
    charts.show(
        firing_template(chart_height=charts.height(220)),
        data={"rate": fire_df, "now": charts.now("T", -b)},
        description=t(f"{P}.desc_firing", T=f"{-b:+.1f}", rate=f"{float(core.firing_rate(data.X, w, np.array([-b]))[0]):.0%}"),
    )
    page.prose(t(f"{P}.explain_firing"))
    # 6. Download (the main figure's data)
    page.download_csv(
        pd.DataFrame(
            {
                "x1": data.X[:, 0],
                "x2": data.X[:, 1],
                "label": data.y,
                "unit_output": core.predict(data.X, w, b),
            }
        ),
        f"{P}_{kind}_seed{seed}.csv",
    )


unit_section(kind, n, margin, seed)


# Learning: the rule with and without a learnable bias ------------------------
@st.fragment
def learning_section(kind: str, n: int, margin: float, seed: int) -> None:
    """Scrubbing through the updates reruns only this section."""
    data = dataset(kind, n, margin, seed)
    runs = learn(kind, n, margin, seed, 100)
    names = {True: t(f"{P}.with_bias"), False: t(f"{P}.without_bias")}
    st.subheader(t(f"{P}.learning_title"))
    longest = max(h.updates for h in runs.values())
    lc, rc = page.columns()
    with lc:
        widgets.keep_within("k", max(longest, 1))  # other data may need fewer updates than the last
        k = st.slider(t(f"{P}.update_k"), 0, max(longest, 1), max(longest, 1), key="k", bind="query-params")
        for bias, h in runs.items():
            bound = core.novikoff_bound(data.X, data.y, data.normal, data.offset, bias)
            status = t(f"{P}.converged") if h.converged else t(f"{P}.not_converged")
            bound_txt = f"{bound:.0f}" if np.isfinite(bound) else "∞"
            st.markdown(
                t(f"{P}.run_summary", name=names[bias], updates=h.updates, status=status, bound=bound_txt)
            )
    with rc:
        for col, (bias, h) in zip(st.columns(2), runs.items(), strict=True):
            j = min(k, h.updates)
            with col:
                st.markdown(f"**{t(f'{P}.after_updates', name=names[bias], k=j)}**")
                acc_j = float((core.predict(data.X, h.w[j], h.b[j]) == data.y).mean())
                charts.show(
                    decision_template(chart_height=charts.height(280)),
                    data=decision_data(data, h.w[j], h.b[j]),
                    description=t(f"{P}.desc_after", name=names[bias], k=j, acc=f"{acc_j:.0%}"),
                )
    mistakes = pd.concat(
        [
            pd.DataFrame(
                {
                    "epoch": np.arange(1, len(h.mistakes_per_epoch) + 1),
                    "mistakes": h.mistakes_per_epoch,
                    "run": names[bias],
                }
            )
            for bias, h in runs.items()
        ]
    )
    last = "; ".join(f"{names[bias]} {int(h.mistakes_per_epoch[-1])}" for bias, h in runs.items() if len(h.mistakes_per_epoch))
    charts.show(
        mistakes_template(chart_height=charts.height(220)),
        data={"mistakes": mistakes},
        description=t(f"{P}.desc_mistakes", summary=last),
    )
    page.prose(t(f"{P}.explain_learning"))


learning_section(kind, n, margin, seed)

# 4. Try this ------------------------------------------------------------------
PRESETS = {
    "offset_no_bias": {"data": "offset", "margin": 0.15, "k": 0},
    "xor": {"data": "xor", "margin": 0.2, "k": 0},
    "silence": {"data": "through_origin", "w1": 1.0, "w2": 1.0, "b": -4.0},
    # the update count depends on the sample, so the sentence names its seed
    "thin_margin": {"data": "through_origin", "margin": 0.0, "n": 200, "k": 0, "seed": 0},
}
REFERENCE_MARGIN = 0.15  # the margin slider's default, the thin margin's point of comparison


def thin_margin_facts(kind: str, n: int, margin: float, seed: int) -> dict[str, str]:
    """The biased run's update count and Novikoff bound at this margin, and the bound at the default margin."""
    data, ref = dataset(kind, n, margin, seed), dataset(kind, n, REFERENCE_MARGIN, seed)
    bound = core.novikoff_bound(data.X, data.y, data.normal, data.offset, True)
    ref_bound = core.novikoff_bound(ref.X, ref.y, ref.normal, ref.offset, True)
    return {
        "updates": learn(kind, n, margin, seed, 100)[True].updates,
        "bound": f"{bound:,.0f}" if np.isfinite(bound) else "∞",
        "ratio": f"{bound / ref_bound:,.0f}" if np.isfinite(bound) else "∞",
    }


facts = {}
if st.session_state.get(f"_try_{P}") == "thin_margin":
    facts["thin_margin"] = thin_margin_facts(kind, n, margin, seed)
page.try_this(P, PRESETS, facts=facts)

# 5. The math --------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"\hat y = \mathbb{1}\left[w^\top x \ge T\right] = \mathbb{1}\left[w^\top x + b \ge 0\right],\quad b = -T",
            t(f"{P}.src_unit"),
        ),
        (
            r"w \leftarrow w + \eta\,(y - \hat y)\,x,\qquad b \leftarrow b + \eta\,(y - \hat y)",
            t(f"{P}.src_rule"),
        ),
        (
            r"\#\text{updates} \le \left(\frac{R}{\gamma}\right)^2,\quad R = \max_i \lVert \tilde x_i \rVert,\quad"
            r"\gamma = \min_i\, y_i^{\pm}\, \tilde w_*^\top \tilde x_i,\ \lVert \tilde w_* \rVert = 1",
            t(f"{P}.src_novikoff"),
        ),
    ],
)
