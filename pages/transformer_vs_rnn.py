"""Transformer vs RNN: vanishing gradients over distance, sequential depth, attention and positions."""

from __future__ import annotations

import time
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import sequence_models as core
from ui import charts, page, widgets
from ui.i18n import current_lang, t

P = "transformer_vs_rnn"
RECALL_CSV = Path(__file__).resolve().parent.parent / "assets" / "transformer_vs_rnn_recall.csv"
TIME_SEQ_LENS = (8, 32, 128, 512)
MAX_TOKENS = 40
EXAMPLES = ("ex1", "ex2", "ex3")
RUN_SEQ_LENS = (5, 10, 20, 50)
RUN_STEPS = (50, 100, 200)
MAX_RUNS = 16  # runs kept per session


# One fixed colour per model on every chart, from the app's colour-blind-safe scheme
# (charts.CATEGORY: every pair stays apart under protanopia and deuteranopia).
COLOURS = {
    "rnn": charts.CATEGORY[0],
    "lstm": charts.CATEGORY[1],
    "gru": charts.CATEGORY[3],
    "attention": charts.CATEGORY[4],
    "transformer": charts.CATEGORY[4],
}


def kind_name(kind: str) -> str:
    return t(f"{P}.kind_{kind}")


def model_colour(kinds: tuple[str, ...]) -> alt.Color:
    """The `model` colour channel with the fixed colours, legend in `kinds` order."""
    scale = alt.Scale(domain=[kind_name(k) for k in kinds], range=[COLOURS[k] for k in kinds])
    return alt.Color(
        "model", type="nominal", title=t(f"{P}.model"), scale=scale, sort=[kind_name(k) for k in kinds]
    )


# Chart templates (specs cached per language and lecture mode; data by name) -----------
@charts.template
def gradient_template() -> alt.LayerChart:
    """||dh_T/dx_t|| against the distance T - t, one line per model ("grads"), and the RNN bound ("bound")."""
    lines = charts.line(
        "grads",
        "distance",
        "norm",
        color="model",
        color_title=t(f"{P}.model"),
        x_title=t(f"{P}.distance"),
        y_title=t(f"{P}.grad_norm"),
        log_y=True,
        whole_x=True,
    ).encode(color=model_colour(core.KINDS))
    bound = (
        alt.Chart(charts.named("bound"))
        .mark_line(color="#555", strokeDash=[6, 4], strokeWidth=1.5)
        .encode(x=alt.X("distance", type="quantitative"), y=alt.Y("norm", type="quantitative"))
    )
    return alt.layer(lines, bound)


@charts.template
def timing_template(y: str, legend: bool) -> alt.LayerChart:
    """Measured forward time ("ms") or sequential depth ("depth") against T, per model ("timing")."""
    y_title = t(f"{P}.forward_ms") if y == "ms" else t(f"{P}.depth")
    x_axis = alt.X(
        "T",
        type="quantitative",
        title=t(f"{P}.seq_len_T"),
        scale=alt.Scale(type="log", domain=[TIME_SEQ_LENS[0], TIME_SEQ_LENS[-1]]),
        axis=alt.Axis(values=list(TIME_SEQ_LENS)),
    )
    colour = model_colour(core.KINDS)
    chart = charts.line(
        "timing",
        "T",
        y,
        color="model",
        points=True,
        log_x=True,
        log_y=True,
        x_title=t(f"{P}.seq_len_T"),
        y_title=y_title,
        whole_y=y == "depth",
    ).encode(x=x_axis, color=colour if legend else colour.legend(None))
    # A one-layer LayerChart without a Vega title: Streamlit then honours the
    # height (a bare Chart, or one with a title, was drawn squashed).
    return alt.layer(chart)


@charts.template
def attention_template() -> alt.LayerChart:
    """Attention weights, query rows by key columns ("attention"), tokens in the order of the data."""
    no_skip = {"labelOverlap": False, "labelFontSize": 11}
    heat = charts.heatmap(
        "attention",
        "key",
        "query",
        "weight",
        x_title=t(f"{P}.key_axis"),
        y_title=t(f"{P}.query_axis"),
        value_title=t(f"{P}.weight"),
        scheme="blues",
    ).encode(
        # sort=None: the sentence's order, as the rows come (not alphabetical)
        x=alt.X(
            "key",
            type="ordinal",
            sort=None,
            title=t(f"{P}.key_axis"),
            axis=alt.Axis(labelAngle=-50, **no_skip),
        ),
        y=alt.Y("query", type="ordinal", sort=None, title=t(f"{P}.query_axis"), axis=alt.Axis(**no_skip)),
    )
    return alt.layer(heat)


@charts.template
def position_template(ticks: tuple[int, ...]) -> alt.LayerChart:
    """Sinusoidal positional encodings, position rows by dimension columns ("pe"); a tick every 8."""
    heat = charts.heatmap(
        "pe",
        "dim",
        "position",
        "value",
        x_title=t(f"{P}.pe_dim"),
        y_title=t(f"{P}.pe_pos"),
        value_title="PE",
        scheme="redblue",
    ).encode(
        x=alt.X(
            "dim", type="ordinal", title=t(f"{P}.pe_dim"), axis=alt.Axis(values=list(ticks), labelAngle=0)
        ),
        y=alt.Y("position", type="ordinal", title=t(f"{P}.pe_pos"), axis=alt.Axis(values=list(ticks))),
    )
    return alt.layer(heat)


@charts.template
def recall_template(with_runs: bool) -> alt.LayerChart:
    """Grouped bars (one per model at each T; lines would hide each other at 100 %) of the shipped
    mean accuracy ("mean"), the chance level, and, `with_runs`, your own runs as diamonds ("runs";
    a layer only when there are runs, as its diamonds also change the legend's symbols)."""
    names = [kind_name(k) for k in core.RECALL_KINDS]
    x = alt.X("seq_len", type="ordinal", title=t(f"{P}.seq_len_T"), axis=alt.Axis(labelAngle=0))
    offset = alt.XOffset("model", type="nominal", sort=names, scale=alt.Scale(domain=names))
    y = alt.Y("accuracy", type="quantitative", title=t(f"{P}.accuracy"), scale=alt.Scale(domain=[0, 1.05]))
    accuracy = alt.Tooltip("accuracy", type="quantitative", format=".2f")
    # bars and diamonds share the grouped position and the model colour
    enc = {"x": x, "xOffset": offset, "y": y, "color": model_colour(core.RECALL_KINDS)}
    bars = (
        alt.Chart(charts.named("mean"))
        .mark_bar()
        .encode(
            **enc,
            tooltip=[alt.Tooltip("model", type="nominal"), alt.Tooltip("seq_len", type="ordinal"), accuracy],
        )
    )
    chance = (
        alt.Chart(pd.DataFrame({"chance": [1 / core.RECALL_CLASSES]}))
        .mark_rule(color="#333", strokeDash=[4, 4])
        .encode(y=alt.Y("chance", type="quantitative"))
    )
    yours = (
        alt.Chart(charts.named("runs"))
        .mark_point(shape="diamond", size=160, filled=True, stroke="black", opacity=1)
        .encode(
            **enc,
            tooltip=[
                alt.Tooltip("model", type="nominal"),
                alt.Tooltip("steps", type="quantitative"),
                accuracy,
            ],
        )
    )
    return alt.layer(bars, chance, yours) if with_runs else alt.layer(bars, chance)


# Cached computations ------------------------------------------------------------
@st.cache_data(max_entries=32, show_spinner=False)
def gradient_table(seq_len: int, hidden: int, rho: float, seed: int) -> pd.DataFrame:
    """Long table: kind, distance T - t, ||dh_T/dx_t||, plus the RNN bound rho^(T-t) ||U||."""
    distance = np.arange(seq_len - 1, -1, -1)  # T - t for t = 1..T
    # Small matrices, one step at a time: on the shared 2-core server torch's second
    # thread only adds contention (measured 4-10x slower with two threads under load).
    with core.one_thread():
        norms = {kind: core.input_gradient_norms(kind, seq_len, hidden, rho, seed) for kind in core.KINDS}
        bound = core.rnn_gradient_bound(seq_len, hidden, rho, seed)
    frames = [
        pd.DataFrame({"kind": kind, "distance": distance, "norm": norm}) for kind, norm in norms.items()
    ]
    frames.append(pd.DataFrame({"kind": "bound", "distance": distance, "norm": bound}))
    return pd.concat(frames, ignore_index=True)


@st.cache_data(max_entries=32, show_spinner=False)
def gradient_view(
    seq_len: int, hidden: int, rho: float, seed: int, lang: str
) -> tuple[pd.DataFrame, pd.DataFrame, str, pd.DataFrame]:
    """What the gradient section shows, in `lang` (the cache key; `t` reads the session's language):
    the models' and the bound's positive norms (log scale) with model names, the first/last
    caption, the CSV table."""
    df = gradient_table(seq_len, hidden, rho, seed)
    names = {k: kind_name(k) for k in (*core.KINDS, "bound")}
    shown = df[df["norm"] > 0].assign(model=lambda d: d["kind"].map(names))
    first_last = {
        kind: float(g["norm"].iloc[0] / g["norm"].iloc[-1]) for kind, g in df.groupby("kind", sort=False)
    }
    caption = (
        t(f"{P}.ratio_caption", T=seq_len)
        + "  ·  "
        + "  ·  ".join(f"{names[k]}: {first_last[k]:.1e}" for k in core.KINDS)
        + "  \n"
        + t(f"{P}.bound_caption")
    )
    bound = shown["kind"] == "bound"
    return shown[~bound], shown[bound], caption, df.rename(columns={"norm": "grad_norm"})


# every (hidden, batch) pair of the two select sliders stays measured once
@st.cache_data(max_entries=9, show_spinner=False)
def timing_table(hidden: int, batch: int) -> tuple[pd.DataFrame, str]:
    """Measured once per (hidden, batch) on this server; the time of measurement is returned too."""
    rows = [
        {
            "kind": kind,
            "T": T,
            "ms": 1e3 * core.forward_time(kind, T, hidden, batch),
            "depth": core.sequential_depth(kind, T),
        }
        for kind in core.KINDS
        for T in TIME_SEQ_LENS
    ]
    return pd.DataFrame(rows), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


@st.cache_data(max_entries=32, show_spinner=False)
def attention_table(text: str, causal: bool, temperature: float, position_scale: float) -> pd.DataFrame:
    tokens = core.tokenize(text)
    if not tokens:
        raise ValueError("empty")
    if len(tokens) > MAX_TOKENS:
        raise ValueError("too long")
    x = core.token_embeddings(tokens, 32, position_scale)
    with core.one_thread():  # a tiny torch softmax: see gradient_table
        A = core.attention_weights(x, causal, temperature)  # (T, T)
    labels = [f"{i + 1} {tok}" for i, tok in enumerate(tokens)]
    n = len(tokens)
    return pd.DataFrame(
        {
            "query": np.repeat(labels, n),
            "key": np.tile(labels, n),
            "weight": A.reshape(-1),
        }
    )


@st.cache_data(max_entries=16, show_spinner=False)
def position_table(n: int, d: int) -> pd.DataFrame:
    PE = core.sinusoidal_positions(n, d)  # (n, d)
    return pd.DataFrame(
        {"position": np.repeat(np.arange(n), d), "dim": np.tile(np.arange(d), n), "value": PE.reshape(-1)}
    )


@st.cache_resource(show_spinner=False)
def shipped_recall() -> pd.DataFrame:
    """The accuracy table made by scripts/transformer_vs_rnn_recall.py (never trained at load)."""
    return pd.read_csv(RECALL_CSV)


# 1. Title and lead ------------------------------------------------------------------
page.header(P)


@st.fragment
def gradient_section() -> None:
    st.subheader(t(f"{P}.grad_title"))
    left, right = page.columns()
    with left:
        seq_len = st.slider(t(f"{P}.seq_len"), 5, 150, 50, 5, key="T", bind="query-params")
        rho = st.slider(
            t(f"{P}.rho"), 0.3, 1.7, 0.5, 0.05, key="rho", bind="query-params", help=t(f"{P}.rho_help")
        )
        hidden = st.select_slider(t(f"{P}.hidden"), [8, 16, 32, 64], 32, key="H", bind="query-params")
        seed = widgets.seed()
    lines, bound, caption, csv = gradient_view(seq_len, hidden, rho, seed, current_lang())
    with right:
        charts.show(
            gradient_template(chart_height=charts.height(360)),
            data={"grads": lines, "bound": bound},
            description=t(f"{P}.grad_alt", T=seq_len, rho=f"{rho:g}") + " " + caption.replace("\n", " "),
        )
        st.caption(caption)
    page.prose(t(f"{P}.explain_grad", b=f"{core.GATE_KEEP_BIAS:g}", gate=f"{core.initial_keep_gate():.2f}"))
    # 6. Download (the main figure's data)
    page.download_csv(
        csv,
        f"{P}_gradients_T{seq_len}_rho{rho:g}_H{hidden}_seed{seed}.csv",
    )


gradient_section()


@st.fragment
def speed_section() -> None:
    st.subheader(t(f"{P}.speed_title"))
    left, right = page.columns()
    with left:
        hidden = st.select_slider(t(f"{P}.time_hidden"), [32, 64, 128], 64, key="th", bind="query-params")
        batch = st.select_slider(t(f"{P}.batch"), [1, 16, 64], 16, key="tb", bind="query-params")
    with st.spinner(t(f"{P}.measuring")):
        df, when = timing_table(hidden, batch)
    df = df.assign(model=df["kind"].map({k: kind_name(k) for k in core.KINDS}))
    with left:
        st.caption(t(f"{P}.measured_note", when=when))
    with right:
        for y, title, h, legend in (("ms", "time_chart", 240, True), ("depth", "depth_chart", 190, False)):
            st.markdown(f"**{t(f'{P}.{title}')}**")
            charts.show(
                timing_template(y, legend, chart_height=charts.height(h)),
                data={"timing": df},
                description=t(f"{P}.{y}_alt"),
            )
    page.prose(t(f"{P}.explain_speed"))


speed_section()


@st.fragment
def attention_section() -> None:
    st.subheader(t(f"{P}.attn_title"))
    left, right = page.columns()
    with left:
        # format_func reads a dict built now, in this run's language (AppTest formats outside the run)
        sentences = {k: t(f"{P}.{k}") for k in EXAMPLES}
        example = st.selectbox(
            t(f"{P}.example"), EXAMPLES, format_func=sentences.get, key="ex", bind="query-params"
        )
        causal = st.toggle(
            t(f"{P}.causal"), False, key="causal", bind="query-params", help=t(f"{P}.causal_help")
        )
        temperature = st.slider(t(f"{P}.temperature"), 0.1, 5.0, 1.0, 0.1, key="temp", bind="query-params")
        position_scale = st.slider(t(f"{P}.pos_scale"), 0.0, 2.0, 1.0, 0.1, key="pos", bind="query-params")
    df = page.keep_last_good(
        f"{P}_attn_{current_lang()}",
        lambda: attention_table(sentences[example], causal, temperature, position_scale),
        t(f"{P}.bad_text", max=MAX_TOKENS),
    )
    with right:
        if df is not None:
            # about 16 px per row so every token label shows; 40 tokens stay under 650 px
            rows = df["query"].nunique()
            charts.show(
                attention_template(chart_height=charts.height(min(650, max(300, 16 * rows)))),
                data={"attention": df},
                description=t(f"{P}.attn_alt", n=rows),
            )
    page.prose(t(f"{P}.explain_attn"))

    st.subheader(t(f"{P}.pe_title"))
    left, right = page.columns()
    with left:
        n = st.slider(t(f"{P}.pe_n"), 8, 64, 50, 1, key="pe_n", bind="query-params")
        d = st.slider(t(f"{P}.pe_d"), 4, 64, 64, 2, key="pe_d", bind="query-params")
    pe = position_table(n, d)
    with right:
        # the tick values are a few fixed sets (every 8 up to the longer axis), not a slider value
        ticks = tuple(range(0, max(n, d), 8))
        charts.show(
            position_template(ticks, chart_height=charts.height(320)),
            data={"pe": pe},
            description=t(f"{P}.pe_alt", n=n, d=d),
        )
    page.prose(t(f"{P}.explain_pe"))


attention_section()


@st.cache_data(max_entries=2, show_spinner=False)
def recall_mean(lang: str) -> pd.DataFrame:
    """Mean shipped accuracy per (kind, T) over the seeds, with model names in `lang` (the cache key)."""
    mean = shipped_recall().groupby(["kind", "seq_len"], as_index=False)["accuracy"].mean()
    return mean.assign(model=mean["kind"].map({k: kind_name(k) for k in core.RECALL_KINDS}))


def recall_data(runs: list[dict]) -> dict[str, pd.DataFrame]:
    """The frames `recall_template` draws: the shipped means and this session's runs."""
    data = {"mean": recall_mean(current_lang())}
    if runs:
        yours = pd.DataFrame(runs)
        data["runs"] = yours.assign(model=yours["kind"].map({k: kind_name(k) for k in core.RECALL_KINDS}))
    return data


@st.fragment
def recall_section() -> None:
    st.subheader(t(f"{P}.recall_title"))
    st.markdown(t(f"{P}.recall_lead", K=core.RECALL_CLASSES))
    table = shipped_recall()
    runs: list[dict] = st.session_state.setdefault(f"_{P}_runs", [])
    left, right = page.columns()
    # The training controls live in this fragment and train only on the button, so
    # changing them never trains and never reruns the rest of the page. (A st.form
    # would do the same, but AppTest cannot set a formatted selectbox inside a form.)
    with left, st.container(border=True):
        st.markdown(t(f"{P}.run_form"))
        names = {k: kind_name(k) for k in core.RECALL_KINDS}
        kind = st.selectbox(
            t(f"{P}.model"), core.RECALL_KINDS, format_func=names.get, key="rk", bind="query-params"
        )
        seq_len = st.select_slider(t(f"{P}.seq_len_T"), RUN_SEQ_LENS, 20, key="rT", bind="query-params")
        steps = st.select_slider(t(f"{P}.steps"), RUN_STEPS, 100, key="rs", bind="query-params")
        submitted = st.button(t(f"{P}.run"), key=f"{P}_run", icon=":material/play_arrow:", type="primary")
    if submitted:
        bar = left.progress(0.0, text=t(f"{P}.training"))
        result = core.train_recall(
            kind,
            seq_len,
            steps=steps,
            seed=0,
            progress=lambda i, n: bar.progress(i / n, text=t(f"{P}.training")),
        )
        bar.empty()
        runs.append({"kind": kind, "seq_len": seq_len, "steps": steps, "accuracy": result.accuracy})
        del runs[:-MAX_RUNS]
        left.success(t(f"{P}.run_done", acc=f"{result.accuracy:.0%}", s=f"{result.seconds:.1f}"))
    with right:
        charts.show(
            recall_template(bool(runs), chart_height=charts.height(320)),
            data=recall_data(runs),
            description=t(f"{P}.recall_alt", chance=f"{1 / core.RECALL_CLASSES:.2f}"),
        )
        steps_shipped = int(table["steps"].iloc[0])
        st.caption(t(f"{P}.recall_caption", steps=steps_shipped, seeds=table["seed"].nunique()))
    page.prose(t(f"{P}.explain_recall"))


recall_section()


# Recurrence, drawn ----------------------------------------------------------------------------------
# Figures drawn by code: boxes (rect), operation nodes (circles with a symbol), arrows (polylines
# with a triangle head at the end), free texts. Coordinates 0..100, y pointing down.
ARROW = list[tuple[float, float]]


def _figure(
    boxes: list, nodes: list, arrows: list[ARROW], texts: list, dashed: list[ARROW] = ()
) -> dict[str, pd.DataFrame]:
    lines, heads = [], []
    for style, group in (("solid", arrows), ("dashed", dashed)):
        for n, pts in enumerate(group):
            for o, (x, y) in enumerate(pts):
                lines.append({"id": f"{style}{n}", "o": o, "x": x, "y": y, "style": style})
            (x0, y0), (x1, y1) = pts[-2], pts[-1]
            # clockwise from "up" on screen (y grows downwards)
            heads.append(
                {"x": x1, "y": y1, "angle": float(np.degrees(np.arctan2(x1 - x0, y0 - y1))), "style": style}
            )
    return {
        "boxes": pd.DataFrame(boxes, columns=["x", "x2", "y", "y2", "label", "kind"]),
        "nodes": pd.DataFrame(nodes, columns=["x", "y", "label"]),
        "lines": pd.DataFrame(lines),
        "heads": pd.DataFrame(heads),
        "texts": pd.DataFrame(texts, columns=["x", "y", "text"]),
    }


def _box(cx: float, cy: float, w: float, h: float, label: str, kind: str) -> tuple:
    return (cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2, label, kind)


def unrolled_rnn() -> dict[str, pd.DataFrame]:
    """Four steps of h_t = tanh(W h_(t-1) + U x_t): the same cell, the same W and U, copied along time."""
    xs = (16, 39, 62, 85)
    boxes = [_box(c, 50, 12, 18, "tanh", "cell") for c in xs]
    arrows = [[(c, 90), (c, 59)] for c in xs] + [[(c, 41), (c, 14)] for c in xs]
    arrows += [[(a + 6, 50), (b - 6, 50)] for a, b in zip(xs, xs[1:], strict=False)] + [[(3, 50), (10, 50)]]
    texts = [(c, 95, f"x{i + 1}") for i, c in enumerate(xs)] + [(c, 8, f"h{i + 1}") for i, c in enumerate(xs)]
    texts += [(c + 3.5, 75, "U") for c in xs] + [
        ((a + b) / 2, 45, "W") for a, b in zip(xs, xs[1:], strict=False)
    ]
    texts += [(3, 44, "h0")]
    dashed = [[(85, 30), (16, 30)]]
    texts += [(50, 26, t(f"{P}.draw_backprop"))]
    return _figure(boxes, [], arrows, texts, dashed)


def lstm_cell() -> dict[str, pd.DataFrame]:
    """c_t = f * c_(t-1) + i * g, h_t = o * tanh(c_t); gates from [h_(t-1), x_t]."""
    gates = [(28, "σ  f", "gate"), (44, "σ  i", "gate"), (60, "tanh  g", "cand"), (76, "σ  o", "gate")]
    boxes = [_box(c, 64, 12, 12, label, kind) for c, label, kind in gates]
    nodes = [(28, 15, "×"), (52, 15, "+"), (52, 38, "×"), (88, 34, "tanh"), (88, 64, "×")]
    arrows = [
        [(3, 15), (24, 15)],
        [(32, 15), (48, 15)],
        [(56, 15), (97, 15)],  # the cell state c
        [(28, 58), (28, 19)],  # f -> forget
        [(44, 58), (44, 38), (48, 38)],
        [(60, 58), (60, 38), (56, 38)],
        [(52, 34), (52, 19)],  # i*g -> +
        [(88, 15), (88, 30)],
        [(88, 38), (88, 60)],
        [(82, 64), (84, 64)],  # tanh(c) * o
        [(88, 68), (88, 80), (97, 80)],  # h_t
        [(3, 88), (76, 88)],
        [(12, 97), (12, 88)],  # [h_(t-1), x_t] bus
    ] + [[(c, 88), (c, 70)] for c, _, _ in gates]
    texts = [(5, 9, "c(t−1)"), (95, 9, "c(t)"), (5, 94, "h(t−1)"), (17, 97, "x(t)"), (95, 74, "h(t)")]
    texts += [(37, 24, t(f"{P}.draw_forget")), (66, 24, t(f"{P}.draw_add"))]
    return _figure(boxes, nodes, arrows, texts)


def gru_cell() -> dict[str, pd.DataFrame]:
    """h_t = (1 - z) * n + z * h_(t-1), n = tanh(W x_t + b + r * (U h_(t-1))); torch's gate convention."""
    gates = [(24, "σ  r", "gate"), (40, "σ  z", "gate"), (60, "tanh  n", "cand")]
    boxes = [_box(c, 64, 12, 12, label, kind) for c, label, kind in gates]
    nodes = [(40, 15, "×"), (85, 15, "+"), (50, 30, "1−"), (70, 45, "×")]
    arrows = [
        [(3, 15), (36, 15)],
        [(44, 15), (81, 15)],
        [(89, 15), (97, 15)],  # the state h
        [(40, 58), (40, 19)],  # z keeps h_(t-1)
        [(40, 30), (46, 30)],
        [(54, 30), (70, 30), (70, 41)],  # 1 - z
        [(62, 58), (62, 45), (66, 45)],
        [(74, 45), (85, 45), (85, 19)],  # (1 - z) * n -> +
        [(24, 58), (24, 52), (56, 52), (56, 58)],  # r gates the recurrent input of n
        [(8, 15), (8, 88)],
        [(8, 88), (60, 88)],
        [(14, 97), (14, 88)],  # [h_(t-1), x_t] bus
    ] + [[(c, 88), (c, 70)] for c, _, _ in gates]
    texts = [(5, 9, "h(t−1)"), (95, 9, "h(t)"), (19, 97, "x(t)"), (40, 48, "r ⊙ U h(t−1)")]
    texts += [(62, 9, t(f"{P}.draw_keep"))]
    return _figure(boxes, nodes, arrows, texts)


@charts.template
def cell_template() -> alt.LayerChart:
    """A figure of `_figure`'s datasets: "boxes", "nodes", "lines", "heads", "texts"."""
    x = alt.X("x", type="quantitative", axis=None, scale=alt.Scale(domain=[0, 100]))
    y = alt.Y("y", type="quantitative", axis=None, scale=alt.Scale(domain=[0, 100], reverse=True))
    fill = alt.Fill(
        "kind",
        type="nominal",
        legend=None,
        scale=alt.Scale(domain=["cell", "gate", "cand"], range=["#e8f0fb", "#fde9d9", "#e6f4e6"]),
    )
    boxes = (
        alt.Chart(charts.named("boxes"))
        # aria=False: the tints are decoration (each box is labelled), not information
        .mark_rect(stroke="#222", strokeWidth=1.3, cornerRadius=4, aria=False)
        .encode(x=x, y=y, x2="x2", y2="y2", fill=fill)
    )
    labels = (
        alt.Chart(charts.named("boxes"))
        .transform_calculate(cx="(datum.x + datum.x2) / 2", cy="(datum.y + datum.y2) / 2")
        .mark_text(fontSize=13, fontWeight="bold", color="#111", aria=False)
        .encode(
            x=alt.X("cx", type="quantitative", axis=None, scale=alt.Scale(domain=[0, 100])),
            y=alt.Y("cy", type="quantitative", axis=None, scale=alt.Scale(domain=[0, 100], reverse=True)),
            text=alt.Text("label", type="nominal"),
        )
    )
    # solid black arrows for the data, a dashed orange one for the gradient (dash + colour: two channels)
    lines, heads = [], []
    for style, colour, dash in (("solid", "#222", [1, 0]), ("dashed", "#b8410a", [6, 4])):
        lines.append(
            alt.Chart(charts.named("lines"))
            .transform_filter(f"datum.style == '{style}'")
            .mark_line(strokeWidth=1.6, color=colour, strokeDash=dash, aria=False)
            .encode(
                x=x, y=y, detail=alt.Detail("id", type="nominal"), order=alt.Order("o", type="quantitative")
            )
        )
        heads.append(
            alt.Chart(charts.named("heads"))
            .transform_filter(f"datum.style == '{style}'")
            .mark_point(shape="triangle-up", size=70, filled=True, opacity=1, color=colour, aria=False)
            .encode(x=x, y=y, angle=alt.Angle("angle", type="quantitative", scale=None))
        )
    nodes = (
        alt.Chart(charts.named("nodes"))
        .mark_circle(size=700, color="#fff", stroke="#222", strokeWidth=1.3, opacity=1, aria=False)
        .encode(x=x, y=y)
    )
    node_text = (
        alt.Chart(charts.named("nodes"))
        .mark_text(fontSize=13, fontWeight="bold", color="#111", aria=False)
        .encode(x=x, y=y, text=alt.Text("label", type="nominal"))
    )
    texts = (
        alt.Chart(charts.named("texts"))
        .mark_text(fontSize=12, color="#111", aria=False)
        .encode(x=x, y=y, text=alt.Text("text", type="nominal"))
    )
    return alt.layer(*lines, *heads, boxes, labels, nodes, node_text, texts)


@st.fragment
def drawn_section() -> None:
    st.subheader(t(f"{P}.draw_title"))
    cell = st.segmented_control(
        t(f"{P}.draw_which"),
        ("rnn", "lstm", "gru"),
        default="lstm",
        format_func=widgets.labels({k: f"{P}.draw_{k}" for k in ("rnn", "lstm", "gru")}),
        key="cell",
        bind="query-params",
        required=True,
    )
    build = {"rnn": unrolled_rnn, "lstm": lstm_cell, "gru": gru_cell}[cell or "lstm"]
    charts.show(
        cell_template(chart_height=charts.height(330)),
        data=build(),
        description=t(f"{P}.draw_alt_{cell or 'lstm'}", gate=f"{core.initial_keep_gate():.2f}"),
    )
    st.caption(t(f"{P}.draw_caption_{cell or 'lstm'}", gate=f"{core.initial_keep_gate():.2f}"))
    page.prose(t(f"{P}.explain_drawn"))


drawn_section()

# 4. Try this ------------------------------------------------------------------------
page.try_this(
    P,
    {
        "vanish": {"T": 100, "rho": 0.5, "H": 32},
        "explode": {"T": 100, "rho": 1.5, "H": 32},
        "edge": {"T": 150, "rho": 1.0, "H": 64},
        "causal": {"causal": True, "temp": 0.3, "ex": "ex1"},
    },
)

# 5. The math ------------------------------------------------------------------------
page.math(
    P,
    [
        (r"h_t = \tanh\left(W h_{t-1} + U x_t + b\right)", t(f"{P}.src_rnn")),
        (
            r"\frac{\partial h_T}{\partial x_t} = \Big(\prod_{k=t+1}^{T} D_k W\Big) D_t U,\quad"
            r"D_k = \operatorname{diag}(1 - h_k^2),\quad"
            r"\Big\lVert \frac{\partial h_T}{\partial x_t} \Big\rVert_F \le \rho^{\,T-t}\,\lVert U \rVert_F",
            t(f"{P}.src_bound"),
        ),
        (
            r"c_t = f_t \odot c_{t-1} + i_t \odot g_t,\quad h_t = o_t \odot \tanh(c_t);\qquad"
            r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}",
            t(f"{P}.src_gates"),
        ),
        (
            r"\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}\,\tau}"
            r" + M\right) V,\quad M_{ij} = -\infty \text{ if causal and } j > i",
            t(f"{P}.src_attention"),
        ),
        (
            r"PE_{(pos,\,2i)} = \sin\!\left(pos / 10000^{2i/d}\right),\quad"
            r"PE_{(pos,\,2i+1)} = \cos\!\left(pos / 10000^{2i/d}\right)",
            t(f"{P}.src_pe"),
        ),
        (
            r"\text{recurrent: } O(n\,d^2) \text{ work},\ O(n) \text{ sequential steps};\quad"
            r"\text{self-attention: } O(n^2 d) \text{ work},\ O(1) \text{ sequential steps}",
            t(f"{P}.src_complexity"),
        ),
        (r"b_f \sim \log\,\mathcal U\left(1,\ T_{\max} - 1\right),\quad b_i = -b_f", t(f"{P}.src_chrono")),
    ],
)
