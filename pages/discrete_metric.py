"""Training for a discrete metric: smooth stand-ins (softmax / sigmoid with a temperature) or REINFORCE."""

import time

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import smooth_metrics as core
from ui import charts, layout, page, widgets
from ui.i18n import t

P = "discrete_metric"
TEMPS = [0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]
OBJ_COLOURS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"]
CLASS_COLOURS = ["#1f4e8c", "#c4480c"]
METRICS = ["test_acc", "test_f1", "test_ce", "loss"]
SWEEP = (0.05, 0.1, 0.2, 0.3, 0.5)  # positive fractions for the imbalance sweep


@st.cache_data(max_entries=32, show_spinner=False)
def dataset(kind: str, positive_fraction: float, seed: int) -> core.Dataset:
    return core.make_dataset(kind, positive_fraction=positive_fraction, seed=seed)


@st.cache_data(max_entries=256, show_spinner=False)
def train(kind: str, positive_fraction: float, seed: int, objective: str, temperature: float, steps: int,
          lr: float) -> core.TrainResult:
    d = dataset(kind, positive_fraction, seed)
    return core.train_classifier(d.X_train, d.y_train, objective, temperature, steps, lr, seed,
                                 X_test=d.X_test, y_test=d.y_test)


def obj_label(name: str) -> str:
    return t(f"{P}.obj_{name}")


def obj_colour(names: list[str]) -> alt.Scale:
    return alt.Scale(domain=[obj_label(n) for n in names], range=OBJ_COLOURS[: len(names)])


def box_of(X: np.ndarray) -> tuple[float, float, float, float]:
    pad = 0.4
    return X[:, 0].min() - pad, X[:, 0].max() + pad, X[:, 1].min() - pad, X[:, 1].max() + pad


def boundary_points(w: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """Two points of the line w1 x1 + w2 x2 + c = 0 spanning the box (None if w = 0)."""
    x0, x1, y0, y1 = box
    if abs(w[1]) >= abs(w[0]) and w[1] != 0:
        xs = np.array([x0, x1])
        return np.stack([xs, -(w[0] * xs + w[2]) / w[1]], axis=1)
    if w[0] != 0:
        ys = np.array([y0, y1])
        return np.stack([-(w[1] * ys + w[2]) / w[0], ys], axis=1)
    return None


def data_layer(X: np.ndarray, y: np.ndarray, box) -> alt.Chart:
    label = t(f"{P}.label")
    names = [t(f"{P}.class_0"), t(f"{P}.class_1")]
    pts = pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], label: np.where(y == 1, names[1], names[0])})
    return (
        alt.Chart(pts)
        .mark_point(filled=True, size=28, opacity=0.65)
        .encode(
            x=alt.X("x1", type="quantitative", title="x₁", scale=alt.Scale(domain=[box[0], box[1]], nice=False)),
            y=alt.Y("x2", type="quantitative", title="x₂", scale=alt.Scale(domain=[box[2], box[3]], nice=False)),
            shape=alt.Shape(label, type="nominal", title=label, scale=alt.Scale(domain=names, range=["circle", "triangle-up"]),
                            legend=None),
            fill=alt.Fill(label, type="nominal", title=label, scale=alt.Scale(domain=names, range=CLASS_COLOURS),
                          legend=None),
            tooltip=[alt.Tooltip("x1", type="quantitative", format=".2f"),
                     alt.Tooltip("x2", type="quantitative", format=".2f"), alt.Tooltip(label, type="nominal")],
        )
    )


def lines_layer(lines: dict[str, np.ndarray], box, colour_title: str, scale: alt.Scale,
                dashed: dict[str, bool] | None = None, legend: bool = True) -> alt.Chart | None:
    rows = []
    for name, w in lines.items():
        pts = boundary_points(w, box)
        if pts is not None:
            rows.append(pd.DataFrame({"x1": pts[:, 0], "x2": pts[:, 1], "line": name}))
    if not rows:
        return None
    df = pd.concat(rows, ignore_index=True)
    return (
        alt.Chart(df)
        .mark_line(strokeWidth=3, clip=True)
        .encode(x=alt.X("x1", type="quantitative"), y=alt.Y("x2", type="quantitative"),
                color=alt.Color("line", type="nominal", title=colour_title, scale=scale,
                                legend=None),
                strokeDash=alt.StrokeDash("line", type="nominal", legend=None,
                                          scale=alt.Scale(domain=list(lines),
                                                          range=[[6, 3] if (dashed or {}).get(n) else [1, 0]
                                                                 for n in lines])))
    )


# 1. Title and lead --------------------------------------------------------------------------
layout.drop_empty_url_selection("metric")
page.header(P)

# Part 1: the smooth pieces ----------------------------------------------------------------------


@st.fragment
def smooth_section() -> None:
    """Moving T or z2 reruns only this part."""
    st.subheader(t(f"{P}.smooth_title"))
    left, right = page.columns(3.2)
    with left:
        T = st.select_slider(t(f"{P}.temperature"), TEMPS, value=1.0, key="T", bind="query-params",
                             help=t(f"{P}.temperature_help"))
        z2 = st.slider(t(f"{P}.z2"), -2.0, 2.0, 0.5, 0.1, key="z2", bind="query-params")
        st.caption(t(f"{P}.smooth_caption"))

    x = np.linspace(-3, 3, 241)
    step_df = pd.DataFrame({
        "x": np.concatenate([x, x]),
        "value": np.concatenate([(x >= 0).astype(float), core.smooth_step(x, T)]),
        "curve": [t(f"{P}.hard_step")] * len(x) + [t(f"{P}.soft_step", T=T)] * len(x),
    })
    # three classes with logits (z1, z2, 0): as z1 sweeps, the winner changes
    z1 = np.linspace(-3, 3, 121)
    Z = np.stack([z1, np.full_like(z1, z2), np.zeros_like(z1)], axis=1)  # (121, 3)
    soft = core.softmax(Z, T)
    hard = np.eye(3)[Z.argmax(axis=1)]
    cls = [t(f"{P}.class_k", k=k + 1) for k in range(3)]
    soft_df = pd.concat(
        [pd.DataFrame({"z1": z1, "p": soft[:, k], "class": cls[k], "kind": t(f"{P}.softmax")}) for k in range(3)]
        + [pd.DataFrame({"z1": z1, "p": hard[:, k], "class": cls[k], "kind": t(f"{P}.argmax")}) for k in range(3)],
        ignore_index=True,
    )
    with right:
        c1, c2 = st.columns(2)
        with c1:
            step_chart = charts.line(step_df, "x", "value", color="curve", color_title=t(f"{P}.curve"),
                                     x_title="x", y_title=t(f"{P}.output")).properties(title=t(f"{P}.step_title"))
            charts.show(step_chart, chart_height=charts.height(250))
        with c2:
            soft_chart = (
                alt.Chart(soft_df, title=t(f"{P}.softmax_title"))
                .mark_line(strokeWidth=2.5)
                .encode(
                    x=alt.X("z1", type="quantitative", title=t(f"{P}.z1_axis")),
                    y=alt.Y("p", type="quantitative", title=t(f"{P}.prob_axis"), scale=alt.Scale(domain=[0, 1])),
                    color=alt.Color("class", type="nominal", title=t(f"{P}.class")),
                    strokeDash=alt.StrokeDash("kind", type="nominal", title=t(f"{P}.kind"), legend=None,
                                              scale=alt.Scale(domain=[t(f"{P}.softmax"), t(f"{P}.argmax")],
                                                              range=[[1, 0], [5, 4]])),
                    tooltip=[alt.Tooltip("z1", type="quantitative", format=".2f"),
                             alt.Tooltip("p", type="quantitative", format=".3f"), alt.Tooltip("class", type="nominal")],
                )
            )
            charts.show(soft_chart, chart_height=charts.height(250))
    page.prose(t(f"{P}.explain_smooth"))


smooth_section()

# Part 2: cross-entropy falls, accuracy does not rise ---------------------------------------------


@st.fragment
def mismatch_section() -> None:
    st.subheader(t(f"{P}.mismatch_title"))
    lc, rc = page.columns(3.2)
    with lc:
        kind2 = st.selectbox(t(f"{P}.dataset"), core.DATASETS, index=1, format_func=widgets.labels({k: f"{P}.data_{k}" for k in core.DATASETS}),
                             key="d2", bind="query-params")
    run = train(kind2, 0.5, 0, "cross_entropy", 1.0, 300, 0.05)
    peak = int(np.argmax(run.train_acc))
    with lc:
        it = st.slider(t(f"{P}.iterate"), 0, 300, 300, 5, key="it", bind="query-params")
        st.metric(t(f"{P}.train_ce"), f"{run.train_ce[it]:.3f}", f"{run.train_ce[it] - run.train_ce[peak]:+.3f}",
                  delta_color="inverse", help=t(f"{P}.delta_vs_peak"))
        st.metric(t(f"{P}.train_acc"), f"{run.train_acc[it]:.1%}",
                  f"{100 * (run.train_acc[it] - run.train_acc[peak]):+.1f} pt", help=t(f"{P}.delta_vs_peak"))
    steps = np.arange(301)
    hist = pd.DataFrame({"step": steps, "ce": run.train_ce, "acc": run.train_acc})
    rule = alt.Chart(pd.DataFrame({"step": [it]})).mark_rule(color="#c4480c", strokeDash=[6, 3], strokeWidth=2).encode(
        x=alt.X("step", type="quantitative"))
    peak_rule = alt.Chart(pd.DataFrame({"step": [peak]})).mark_rule(color="#54a24b", strokeWidth=2).encode(
        x=alt.X("step", type="quantitative"))
    ce_chart = charts.line(hist, "step", "ce", x_title=t(f"{P}.step"), y_title=t(f"{P}.train_ce"))
    acc_chart = charts.line(hist, "step", "acc", x_title=t(f"{P}.step"), y_title=t(f"{P}.train_acc"))
    d = dataset(kind2, 0.5, 0)
    box = box_of(d.X_train)
    w_now = run.theta[it][:, 1] - run.theta[it][:, 0]
    w_peak = run.theta[peak][:, 1] - run.theta[peak][:, 0]
    names = {t(f"{P}.line_now", k=it): w_now, t(f"{P}.line_peak", k=peak): w_peak}
    scale = alt.Scale(domain=list(names), range=["#c4480c", "#54a24b"])
    layers = [data_layer(d.X_train, d.y_train, box)]
    lines = lines_layer(names, box, t(f"{P}.boundary"), scale, dashed={list(names)[0]: True})
    if lines is not None:
        layers.append(lines)
    with rc:
        a, b = st.columns([1, 1.1])
        with a:
            charts.show(alt.layer(ce_chart, rule, peak_rule).properties(title=t(f"{P}.ce_title")),
                        chart_height=charts.height(200))
            charts.show(alt.layer(acc_chart, rule, peak_rule).properties(title=t(f"{P}.acc_title")),
                        chart_height=charts.height(200))
        with b:
            charts.show(alt.layer(*layers).properties(title=t(f"{P}.boundary_title")), chart_height=charts.height(360))
            st.caption(t(f"{P}.boundary_key"))
        st.caption(t(f"{P}.mismatch_caption", peak=peak, acc_peak=run.train_acc[peak], acc_end=run.train_acc[-1],
                     ce_peak=run.train_ce[peak], ce_end=run.train_ce[-1]))
    page.prose(t(f"{P}.explain_mismatch"))


mismatch_section()

# Part 3: four objectives on the same data ----------------------------------------------------------
st.subheader(t(f"{P}.compare_title"))
lc, rc = page.columns(3.2)
with lc:
    with st.form("train_form", border=False):
        # plain sliders and a toggle in the form: they round-trip through the URL without a format_func
        outliers = st.toggle(t(f"{P}.add_outliers"), False, key="outl", bind="query-params",
                             help=t(f"{P}.add_outliers_help"))
        kind = "outliers" if outliers else "blobs"
        pos = st.slider(t(f"{P}.positive_fraction"), 0.05, 0.5, 0.3, 0.05, key="pos", bind="query-params",
                        help=t(f"{P}.positive_fraction_help"))
        T_train = st.slider(t(f"{P}.train_temperature"), 0.05, 5.0, 0.5, 0.05, key="tt", bind="query-params")
        steps = st.slider(t(f"{P}.steps"), 50, 600, 300, 50, key="steps", bind="query-params")
        lr = st.slider(t(f"{P}.lr"), 0.01, 0.2, 0.05, 0.01, key="lr", bind="query-params")
        seed = widgets.seed()
        st.form_submit_button(t(f"{P}.run"), type="primary", icon=":material/play_arrow:")

objectives = list(core.OBJECTIVES)
# every run this view needs: the four objectives here, and CE vs soft-F1 across imbalances for the sweep
jobs = [(kind, pos, obj) for obj in objectives] + [
    ("blobs", frac, obj) for frac in SWEEP for obj in ("cross_entropy", "soft_f1")
]
started = time.perf_counter()
bar = None
runs: dict[tuple[str, float, str], core.TrainResult] = {}
for i, (k, frac, obj) in enumerate(jobs):
    runs[(k, frac, obj)] = train(k, frac, seed, obj, T_train, steps, lr)
    if bar is None and time.perf_counter() - started > 0.3:  # only show progress for real work
        bar = rc.progress(0.0, text=t(f"{P}.training"))
    if bar is not None:
        bar.progress((i + 1) / len(jobs), text=t(f"{P}.training"))
if bar is not None:
    bar.empty()
results = {obj: runs[(kind, pos, obj)] for obj in objectives}

curves = pd.concat(
    [pd.DataFrame({"step": np.arange(steps + 1), "objective": o, "loss": r.loss, "test_acc": r.test_acc,
                   "test_f1": r.test_f1, "test_ce": r.test_ce}) for o, r in results.items()],
    ignore_index=True,
)
data = dataset(kind, pos, seed)


@st.fragment
def compare_section(results: dict[str, core.TrainResult], data: core.Dataset, curves: pd.DataFrame) -> None:
    """Switching the curve shown reruns only this part; the training above is cached."""
    objectives = list(results)
    curves = curves.assign(objective=curves["objective"].map(obj_label))
    box = box_of(data.X_train)
    metric = st.segmented_control(
        t(f"{P}.metric"), METRICS, default="test_acc",
        format_func=widgets.labels({k: f"{P}.metric_{k}" for k in METRICS}), key="metric", bind="query-params", required=True,
    )
    metric = metric or "test_acc"
    a, b = st.columns([1.2, 1])
    with a:
        curve_chart = alt.Chart(curves, title=t(f"{P}.curves_title")).mark_line(strokeWidth=2.2).encode(
            x=alt.X("step", type="quantitative", title=t(f"{P}.step")),
            y=alt.Y(metric, type="quantitative", title=t(f"{P}.metric_{metric}"), scale=alt.Scale(zero=False)),
            color=alt.Color("objective", type="nominal", title=t(f"{P}.objective"),
                            scale=obj_colour(objectives)),
            tooltip=[alt.Tooltip("objective", type="nominal"), alt.Tooltip("step", type="quantitative"),
                     alt.Tooltip(metric, type="quantitative", format=".3f")],
        )
        charts.show(curve_chart, chart_height=charts.height(260))
    with b:
        lines = lines_layer({obj_label(o): r.boundary for o, r in results.items()}, box, t(f"{P}.objective"),
                            obj_colour(objectives), legend=False)
        layers = [data_layer(data.X_train, data.y_train, box)] + ([lines] if lines is not None else [])
        charts.show(alt.layer(*layers).properties(title=t(f"{P}.boundaries_title")), chart_height=charts.height(260))
        st.caption(t(f"{P}.boundaries_key"))


with rc:
    compare_section(results, data, curves)

table = pd.DataFrame({
    t(f"{P}.objective"): [obj_label(o) for o in objectives],
    t(f"{P}.metric_test_acc"): [f"{results[o].test_acc[-1]:.1%}" for o in objectives],
    t(f"{P}.metric_test_f1"): [f"{results[o].test_f1[-1]:.3f}" for o in objectives],
    t(f"{P}.metric_test_ce"): [f"{results[o].test_ce[-1]:.3f}" for o in objectives],
})
st.dataframe(table, hide_index=True, width="stretch")
st.caption(t(f"{P}.compare_caption", n=len(data.y_train), m=len(data.y_test), pos=pos))
page.prose(t(f"{P}.explain_compare"))

# Imbalance sweep: where soft-F1 beats cross-entropy on F1 ---------------------------------------------------
with st.expander(t(f"{P}.sweep_title"), icon=":material/balance:"):
    sw = pd.DataFrame(
        [{"positive_fraction": frac, "objective": obj_label(obj), "f1": runs[("blobs", frac, obj)].test_f1[-1]}
         for frac in SWEEP for obj in ("cross_entropy", "soft_f1")]
    )
    sweep_chart = charts.line(sw, "positive_fraction", "f1", color="objective", color_title=t(f"{P}.objective"),
                              x_title=t(f"{P}.positive_fraction"), y_title=t(f"{P}.metric_test_f1"), points=True)
    charts.show(sweep_chart.encode(color=alt.Color("objective", type="nominal", title=t(f"{P}.objective"),
                                                   scale=obj_colour(["cross_entropy", "soft_f1"]))),
                chart_height=charts.height(240))
    st.caption(t(f"{P}.sweep_caption"))

# 4. Try this ----------------------------------------------------------------------------------------------
page.try_this(
    P,
    {
        "cold": {"T": 0.05, "z2": 0.5},
        "outliers": {"d2": "outliers", "it": 300, "outl": True, "pos": 0.5, "metric": "test_acc"},
        "rare": {"outl": False, "pos": 0.1, "tt": 0.5, "lr": 0.05, "metric": "test_f1"},
        "hot": {"T": 5.0, "outl": False, "pos": 0.3, "tt": 5.0, "metric": "test_ce"},
    },
)

# 5. The math -----------------------------------------------------------------------------------------------
page.math(
    P,
    [
        (r"\mathrm{acc} = \frac1N\sum_n \mathbb 1\big[\arg\max_k z_{nk} = y_n\big]\ \longrightarrow\ "
         r"\widetilde{\mathrm{acc}}_T = \frac1N \sum_n \mathrm{softmax}(z_n / T)_{y_n},\qquad "
         r"\mathbb 1[x \ge 0] \approx \sigma(x / T)", t(f"{P}.src_soft_acc")),
        (r"F_1 = \frac{2\,TP}{2\,TP + FP + FN} \ \longrightarrow\ \widetilde F_1 = \frac{2 \sum_n p_n y_n}{\sum_n (p_n + y_n)}",
         t(f"{P}.src_soft_f1")),
        (r"\mathrm{CE} = -\frac1N \sum_n \log \mathrm{softmax}(z_n)_{y_n},\qquad "
         r"\frac{\partial\,\mathrm{CE}}{\partial z_n} = \frac1N\big(\mathrm{softmax}(z_n) - e_{y_n}\big)",
         t(f"{P}.src_ce")),
        (r"\nabla_\theta\, \mathbb E_{a \sim \pi_\theta}[r] = \mathbb E\big[(r - b)\,\nabla_\theta \log \pi_\theta(a \mid x)\big],\qquad "
         r"\nabla_z \log \mathrm{softmax}(z/T)_a = \tfrac1T\,(e_a - \mathrm{softmax}(z/T))",
         t(f"{P}.src_reinforce")),
    ],
)

# 6. Download --------------------------------------------------------------------------------------------------
page.download_csv(curves, f"{P}_{kind}_pos{pos}_seed{seed}.csv")
