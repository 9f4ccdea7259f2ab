"""Online action detection with a Transformer (OadTR) against a GRU and a per-frame MLP."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import online_action as oa
from ui import charts, page, widgets
from ui.i18n import t

P = "online_action"
ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT = oa.Experiment()
WINDOW_BEFORE, WINDOW_AFTER = 220, 80  # frames shown around the current frame t
# background grey, then the app's category colours (apart for red-green colour-blind eyes too)
CLASS_COLORS = ["#d9d9d9", *charts.CATEGORY]


def experiment(history: int, decoder_steps: int, noise: float) -> oa.Experiment:
    return oa.Experiment(
        stream=oa.StreamConfig(noise=noise),
        model=oa.ModelConfig(history=history, decoder_steps=decoder_steps),
    )


@st.cache_resource(show_spinner=False)
def shipped_models() -> dict[tuple[int, int, float], oa.Shipped]:
    """The weights made by scripts/train_online_action.py, loaded once per server."""
    return oa.load_shipped(ASSETS)


@st.cache_data(max_entries=8, show_spinner=False)
def shipped_view(key: tuple[int, int, float]) -> oa.Evaluation:
    run = shipped_models()[key]
    return oa.evaluate_all(run.models, run.experiment)


MAX_TRAINED = 8  # settings trained on this server and kept (each a few MB of predictions)


def trained_view(history: int, decoder_steps: int, noise: float, ablations: bool) -> oa.Evaluation:
    """Train the models for a setting that is not shipped (few large steps, within the budget)."""

    def train(report: page.Report) -> oa.Evaluation:
        exp = experiment(history, decoder_steps, noise)
        kinds = oa.MODEL_KINDS if ablations else ("mlp", "gru", "oadtr")
        test, results, _ = oa.run_experiment(exp, kinds, on_progress=report)
        return oa.Evaluation(test.labels, results, exp.steps)

    key = (history, decoder_steps, noise, ablations)
    return page.with_progress(P, key, train, text=t(f"{P}.training"), max_entries=MAX_TRAINED)


def runs(seg: np.ndarray, lo: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length encoding of the labels of frames lo, lo + 1, ...: (start, end exclusive, value) of
    every constant run."""
    change = np.flatnonzero(np.diff(seg)) + 1
    starts = np.r_[0, change]
    ends = np.r_[change, len(seg)]
    return starts + lo, ends + lo, seg[starts]


def class_name(c: int) -> str:
    return t(f"{P}.background") if c == oa.BACKGROUND else t(f"{P}.action", k=c)


def class_names(classes: int) -> list[str]:
    return [class_name(c) for c in range(classes)]


def row_names(kinds: tuple[str, ...]) -> list[str]:
    """The timeline's rows, top to bottom: the ground truth, then each model's prediction."""
    return [t(f"{P}.ground_truth")] + [t(f"{P}.short_{k}") for k in kinds]


# Chart templates (specs cached per language and lecture mode; data by name) ---------------
@charts.template
def timeline_template(kinds: tuple[str, ...], classes: int) -> alt.LayerChart:
    """Ground truth and every model's online arg-max as coloured runs ("runs"), the history window
    the models see at t and the current frame ("window"). The x axis spans the runs, i.e. the
    frames shown around t."""
    row_title, class_title = t(f"{P}.row"), t(f"{P}.class")
    domain = class_names(classes)
    x_scale = alt.Scale(zero=False, nice=False)
    bars = (
        alt.Chart(charts.named("runs"))
        .mark_rect()
        .encode(
            x=alt.X("start", type="quantitative", title=t(f"{P}.frame_axis"), scale=x_scale),
            x2=alt.X2("end"),
            y=alt.Y(
                "row",
                type="nominal",
                title=None,
                sort=row_names(kinds),
                axis=alt.Axis(labelLimit=200, labelOverlap=False),
            ),
            color=alt.Color(
                "class",
                type="nominal",
                title=class_title,
                scale=alt.Scale(domain=domain, range=CLASS_COLORS[: len(domain)]),
            ),
            tooltip=[
                alt.Tooltip("row", type="nominal", title=row_title),
                alt.Tooltip("class", type="nominal", title=class_title),
                alt.Tooltip("start", type="quantitative"),
                alt.Tooltip("end", type="quantitative"),
            ],
        )
    )
    shade = (
        alt.Chart(charts.named("window"))
        .mark_rect(color="black", opacity=0.12)
        .encode(x=alt.X("a", type="quantitative", scale=x_scale), x2=alt.X2("b"))
    )
    now = (
        alt.Chart(charts.named("window"))
        .mark_rule(color="black", strokeWidth=2)
        .encode(x=alt.X("b", type="quantitative", scale=x_scale))
    )
    return alt.layer(bars, shade, now).properties(width="container")


def timeline_data(
    view: oa.Evaluation, kinds: tuple[str, ...], classes: list[str], frame: int, history: int
) -> dict[str, pd.DataFrame]:
    """The frames `timeline_template` draws, for the frames shown around t."""
    lo, hi = max(0, frame - WINDOW_BEFORE), min(len(view.labels), frame + WINDOW_AFTER)
    # the arg-max of the frames shown only, not of the whole stream
    labels = [view.labels[lo:hi]] + [view.results[k].probs[lo:hi].argmax(1) for k in kinds]
    parts = [runs(lab, lo) for lab in labels]
    rows = np.repeat(row_names(kinds), [len(s) for s, _, _ in parts])
    start, end, c = (np.concatenate(column) for column in zip(*parts, strict=True))
    return {
        "runs": pd.DataFrame({"row": rows, "start": start, "end": end, "class": np.asarray(classes)[c]}),
        "window": pd.DataFrame({"a": [max(frame - history + 1, 0)], "b": [frame + 1]}),
    }


@charts.template
def attention_template(classes: int, ablated: bool) -> alt.LayerChart:
    """OadTR's task-token attention over the T history frames at t (bars, coloured by each frame's
    true class; "attention"), and, with `ablated`, the current frame's own attention row when the
    token is ablated (line; "ablated")."""
    class_title, variant_title = t(f"{P}.class_of_frame"), t(f"{P}.variant")
    domain = class_names(classes) + [t(f"{P}.before_start")]
    x = alt.X("lag", type="ordinal", title=t(f"{P}.lag_axis"), axis=alt.Axis(labelAngle=0))
    y = alt.Y("weight", type="quantitative", title=t(f"{P}.attention_axis"))
    lag_weight = [
        alt.Tooltip("lag", type="ordinal"),
        alt.Tooltip("weight", type="quantitative", format=".3f"),
    ]
    bars = (
        alt.Chart(charts.named("attention"))
        .mark_bar()
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "class",
                type="nominal",
                title=class_title,
                scale=alt.Scale(domain=domain, range=CLASS_COLORS[:classes] + ["#ffffff"]),
            ),
            tooltip=[*lag_weight, alt.Tooltip("class", type="nominal", title=class_title)],
        )
    )
    if not ablated:
        return alt.layer(bars).properties(width="container")
    line = (
        alt.Chart(charts.named("ablated"))
        .mark_line(point=True, color="black", strokeWidth=2)
        .encode(
            x=x,
            y=y,
            strokeDash=alt.StrokeDash(
                "variant",
                type="nominal",
                title=variant_title,
                scale=alt.Scale(domain=[t(f"{P}.model_oadtr_no_token")], range=[[6, 3]]),
                legend=alt.Legend(labelLimit=320),
            ),
            tooltip=[*lag_weight, alt.Tooltip("variant", type="nominal", title=variant_title)],
        )
    )
    return alt.layer(bars, line).properties(width="container")


def attention_data(
    view: oa.Evaluation, classes: list[str], frame: int, history: int
) -> dict[str, pd.DataFrame]:
    """The frames `attention_template` draws at frame t: the T lags up to t (before the stream: no class)."""
    lags = np.arange(-history + 1, 1)
    idx = frame + lags
    truth = np.where(
        idx >= 0, np.asarray(classes, dtype=object)[view.labels[np.maximum(idx, 0)]], t(f"{P}.before_start")
    )
    data = {
        "attention": pd.DataFrame(
            {"lag": lags, "weight": view.results["oadtr"].attention[frame], "class": truth}
        )
    }
    ablated = view.results.get("oadtr_no_token")
    if ablated is not None and ablated.attention is not None:
        data["ablated"] = pd.DataFrame(
            {"lag": lags, "weight": ablated.attention[frame], "variant": t(f"{P}.model_oadtr_no_token")}
        )
    return data


@st.cache_data(max_entries=1, show_spinner=False)
def default_frame() -> int:
    """A frame shortly after an action starts in the (seed 0) test stream: a telling first view.

    The segment layout does not depend on T, l or the noise, so one frame suits every setting.
    """
    test = oa.held_out_stream(DEFAULT)
    starts = np.flatnonzero((test.labels[1:] > 0) & (test.labels[:-1] == 0)) + 1
    after = starts[starts >= 300]
    return int(after[0] + 6) if len(after) else 300


# 1. Title and lead -----------------------------------------------------------------------
page.header(P)

shipped_keys = set(shipped_models())
left, right = page.columns(2.8)
with left:
    with st.form("oad_settings", border=True):
        history = st.slider(
            t(f"{P}.history"),
            4,
            32,
            DEFAULT.model.history,
            4,
            key="hist",
            bind="query-params",
            help=t(f"{P}.history_help"),
        )
        decoder_steps = st.slider(
            t(f"{P}.decoder_steps"),
            0,
            8,
            DEFAULT.model.decoder_steps,
            1,
            key="dec",
            bind="query-params",
            help=t(f"{P}.decoder_help"),
        )
        noise = st.slider(
            t(f"{P}.noise"),
            0.2,
            3.0,
            DEFAULT.stream.noise,
            0.2,
            key="noise",
            bind="query-params",
            help=t(f"{P}.noise_help"),
        )
        ablations = st.checkbox(
            t(f"{P}.ablations"), True, key="abl", bind="query-params", help=t(f"{P}.ablations_help")
        )
        submitted = st.form_submit_button(t(f"{P}.run"), type="primary", icon=":material/play_arrow:")
    noise = round(float(noise), 2)

# Form values change only on Run (or through a preset / the URL), so a slider move alone never trains;
# a setting that is neither shipped nor trained on this server waits for Run, even when it came by URL.
T_, l_, noise_, abl_ = int(history), int(decoder_steps), noise, bool(ablations)
# committed values that differ from this session's previous run also mean Run (or a preset) was pressed
seen = st.session_state.get("_oad_seen")
st.session_state["_oad_seen"] = (T_, l_, noise_, abl_)
run_pressed = submitted or (seen is not None and seen != (T_, l_, noise_, abl_))
key = (T_, l_, round(noise_, 3))
shipped = key in shipped_keys
if shipped:
    view = shipped_view(key)
elif run_pressed or page.has_result(P, (T_, l_, noise_, abl_)):
    with left:
        view = trained_view(T_, l_, noise_, abl_)
else:
    with left:
        st.info(t(f"{P}.press_run"), icon=":material/play_arrow:")
    shipped = True
    T_, l_, noise_ = DEFAULT.model.history, DEFAULT.model.decoder_steps, DEFAULT.stream.noise
    view = shipped_view(oa.settings_key(DEFAULT))

kinds = tuple(k for k in oa.MODEL_KINDS if k in view.results)
C = view.results["mlp"].probs.shape[1]
classes = class_names(C)
N = len(view.labels)
with left:
    widgets.keep_within("frame", N - 1)  # another setting's test stream may be shorter
    frame = st.slider(
        t(f"{P}.frame"),
        0,
        N - 1,
        default_frame(),
        1,
        key="frame",
        bind="query-params",
        help=t(f"{P}.frame_help"),
    )
    st.caption(
        t(f"{P}.source_shipped", steps=view.steps)
        if shipped
        else t(
            f"{P}.source_trained",
            steps=view.steps,
            shipped_steps=shipped_models()[oa.settings_key(DEFAULT)].experiment.steps,
        )
    )

# 3. Main figure: the timeline ---------------------------------------------------------------
with right:
    st.markdown(f"**{t(f'{P}.timeline_title', t=frame)}**")
    preds = "; ".join(f"{t(f'{P}.model_{k}')} {classes[int(view.results[k].probs[frame].argmax())]}" for k in kinds)
    charts.show(
        timeline_template(kinds, C, chart_height=charts.height(250)),
        data=timeline_data(view, kinds, classes, frame, T_),
        description=t(
            f"{P}.desc_timeline", title=t(f"{P}.timeline_title", t=frame),
            truth=classes[int(view.labels[frame])], preds=preds,
        ),
    )
    st.caption(t(f"{P}.timeline_caption"))

# The task token's attention, frame by frame ---------------------------------------------------
c_attn, c_table = st.columns([1.3, 1.0], gap="large")
with c_attn:
    st.subheader(t(f"{P}.attention_title"))
    if view.results["oadtr"].attention is not None:
        data = attention_data(view, classes, frame, T_)
        top = data["attention"].loc[data["attention"]["weight"].idxmax()]
        charts.show(
            attention_template(C, "ablated" in data, chart_height=charts.height(260)),
            data=data,
            description=t(
                f"{P}.desc_attention", title=t(f"{P}.attention_title"), T=T_, w=float(top["weight"]), lag=int(top["lag"])
            ),
        )
    st.caption(t(f"{P}.attention_caption"))

# The mAP table -----------------------------------------------------------------------------------
with c_table:
    st.subheader(t(f"{P}.map_title"))
    models_col, params_col = t(f"{P}.col_model"), t(f"{P}.col_params")
    model_names = [t(f"{P}.model_{k}") for k in kinds]
    table = pd.DataFrame(
        {
            models_col: model_names,
            "mAP": [view.results[k].mAP for k in kinds],
            params_col: [view.results[k].num_parameters for k in kinds],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height="content",  # every model's row, no inner scroll bar
        column_config={"mAP": st.column_config.NumberColumn(format="%.3f")},
    )
    with st.expander(t(f"{P}.ap_per_class")):
        per_class = pd.DataFrame(
            {
                models_col: model_names,
                **{classes[c]: [view.results[k].ap[c - 1] for k in kinds] for c in range(1, C)},
            }
        )
        st.dataframe(
            per_class,
            hide_index=True,
            width="stretch",
            column_config={classes[c]: st.column_config.NumberColumn(format="%.3f") for c in range(1, C)},
        )
    st.caption(t(f"{P}.map_caption"))
    st.info(t(f"{P}.paper_numbers"), icon=":material/menu_book:")

page.prose(t(f"{P}.explain"))

# 4. Try this ------------------------------------------------------------------------------------
boundary = default_frame()
PRESETS = {
    "onset": {"hist": 16, "dec": 4, "noise": 1.6, "frame": boundary - 3},
    "clean": {"hist": 16, "dec": 4, "noise": 0.6},
    "short": {"hist": 4, "dec": 4, "noise": 1.6},
    "long": {"hist": 32, "dec": 4, "noise": 1.6},
}
MAIN = ("mlp", "gru", "oadtr")


def onset_facts(view: oa.Evaluation, frame: int) -> dict[str, object]:
    """How far t is into its action, and how many frames after the action's start each main model first names it."""
    facts: dict[str, object] = {"t": frame, "lag": "…"} | {k: "…" for k in MAIN}
    c = int(view.labels[frame])
    if c == oa.BACKGROUND:
        return facts
    start = frame
    while start > 0 and view.labels[start - 1] == c:
        start -= 1
    end = start
    while end < len(view.labels) and view.labels[end] == c:
        end += 1
    facts["lag"] = frame - start
    for k in MAIN:
        hits = np.flatnonzero(view.results[k].probs[start:end].argmax(1) == c)
        facts[k] = int(hits[0]) if len(hits) else "–"
    return facts


def map_facts(view: oa.Evaluation, reference: oa.Evaluation | None = None) -> dict[str, str]:
    """mAPs the sentences read out; with a reference run, the history models' lead over the MLP kept there."""
    m = {k: view.results[k].mAP for k in MAIN}
    facts = {k: f"{v:.3f}" for k, v in m.items()} | {"best": f"{max(m['gru'], m['oadtr']):.3f}"}
    if reference is not None:
        r = {k: reference.results[k].mAP for k in MAIN}
        facts |= {f"{k}16": f"{r[k]:.3f}" for k in ("gru", "oadtr")}
        kept = np.mean([(m[k] - m["mlp"]) / (r[k] - r["mlp"]) for k in ("gru", "oadtr")])
        facts["lost"] = f"{1 - kept:.0%}"
    return facts


chosen = st.session_state.get(f"_try_{P}")
facts = {}
if chosen == "onset":
    facts["onset"] = onset_facts(view, frame)
elif chosen == "clean":
    facts["clean"] = map_facts(view)
elif chosen == "short":
    facts["short"] = map_facts(view, shipped_view(oa.settings_key(DEFAULT)))
page.try_this(P, PRESETS, facts=facts)

# 5. The math ------------------------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"x_t = \mu_{y_t} + \delta\,(p_t - \tfrac12)\,v_{y_t} + \sigma\,\varepsilon_t,\quad"
            r"\varepsilon_t \sim \mathcal N(0, I)",
            t(f"{P}.src_stream"),
        ),
        (
            r"[z_{\text{task}}; h_{t-T+1..t}] = \mathrm{Encoder}\big([\text{token};\, E x_{t-T+1}, \dots, E x_t] + P\big),"
            r"\quad \mathrm{Attn}(Q,K,V) = \mathrm{softmax}\!\big(QK^\top/\sqrt{d_k}\big)V",
            t(f"{P}.src_encoder"),
        ),
        (
            r"\hat p_t = \mathrm{softmax}\big(W[z_{\text{task}};\ \tfrac1\ell\textstyle\sum_{i=1}^{\ell} q_i]\big),\quad"
            r"\mathcal L = \mathrm{CE}(y_t, \hat p_t) + \lambda\,\tfrac1\ell\sum_{i=1}^{\ell}"
            r"\mathrm{CE}\big(y_{t+i}, \mathrm{softmax}(W_f q_i)\big)",
            t(f"{P}.src_decoder"),
        ),
        (
            r"\mathrm{AP}_c = \frac{1}{|\{i: y_i=c\}|}\sum_{i:\,y_i=c}"
            r"\frac{|\{j: s_{j,c}\ge s_{i,c},\ y_j=c\}|}{|\{j: s_{j,c}\ge s_{i,c}\}|},\qquad"
            r"\mathrm{mAP} = \frac1K\sum_{c=1}^{K}\mathrm{AP}_c",
            t(f"{P}.src_map"),
        ),
    ],
)

# 6. Download ------------------------------------------------------------------------------------
# one frame from one dict: adding the columns one by one cost more than the charts
columns = {"frame": np.arange(N), "ground_truth": view.labels}
for k in kinds:
    columns[f"pred_{k}"] = view.results[k].probs.argmax(1)
    columns[f"score_true_class_{k}"] = view.results[k].probs[np.arange(N), view.labels]
csv = pd.DataFrame(columns)
page.download_csv(csv, f"{P}_T{T_}_l{l_}_noise{noise_}.csv")
