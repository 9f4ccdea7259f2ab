"""The Transformer itself: a block drawn with real shapes, induction heads trained live, attention maps per head."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import induction as core
from ui import charts, page, widgets
from ui.i18n import current_lang, t

P = "transformer"
RUNS_FILE = Path(__file__).resolve().parent.parent / "assets" / "induction_runs.pt"
DEFAULT = core.InductionConfig()
LAYERS = ("1", "2")  # strings: the URL and the segmented control speak strings
HEADS = (1, 2, 4, 8)
D_MODELS = (16, 32, 64)
STEPS = ("500", "1000", "1500", "2000")  # strings: AppTest sets select sliders in a form by text
LRS = ("0.001", "0.003", "0.01")
SHOW_LENGTH = 24  # tokens of the fresh sequence on the attention maps (<= 5,000 cells with 2 x 8 heads)
SMOOTH = 25  # steps in the moving average of the loss curves
TARGET_COLOUR = "#e6550d"  # orange squares: where an induction head should look
STORE = "transformer_runs"
MAX_RUN_SECONDS = 60  # a live Run estimated longer than this here and now is not started
QUIET_REFERENCE = 0.33  # s, benchmarks.heavy.reference_seconds on a quiet host
# "Try this": the shipped runs at the first / last checkpoint (the rest: page defaults)
PRESETS = {
    "phase_change": {"layers": "2", "ck": 0},
    "one_layer": {"layers": "1", "ck": core.CHECKPOINTS},
    "heads": {"layers": "2", "ck": core.CHECKPOINTS},
}
LN_COLOURS = {"repeated": charts.CATEGORY[0], "other": "#7f7f7f", "one_layer": charts.CATEGORY[1]}


# Shipped and live runs ---------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def shipped() -> dict[int, core.InductionRun]:
    """The default runs made by scripts/train_induction.py, by number of layers (never trained at load)."""
    stored = torch.load(RUNS_FILE, weights_only=True)
    return {int(layers): core.run_from_dict(d) for layers, d in stored.items()}


def shipped_for(config: core.InductionConfig, seed: int) -> core.InductionRun | None:
    run = shipped().get(config.layers)
    return run if run is not None and run.config == config and run.seed == seed else None


@st.cache_data(max_entries=16, show_spinner=False)
def run_summary(key: str, _run: core.InductionRun) -> dict[str, float]:
    """Accuracy and loss of the final model on the fixed evaluation batch, and the best scores."""
    tokens, mask = core.eval_batch(_run.config)
    with core.one_thread():
        out = core.evaluate(_run.model, tokens, mask)
    out["ln_vocab"] = float(np.log(_run.config.vocab))
    out["best_prev_l1"] = float(_run.prev_token[-1, 0].max())
    out["best_induction_last"] = float(_run.induction[-1, -1].max())
    return out


@st.cache_data(max_entries=16, show_spinner=False)
def loss_frame(
    key: str, _run: core.InductionRun, _contrast: core.InductionRun | None, lang: str
) -> pd.DataFrame:
    """Moving averages of the two losses (every 5th step), and the 1-layer contrast's repeated loss."""
    names = {s: t(f"{P}.series_{s}") for s in LN_COLOURS}
    frames = []
    series = [("repeated", _run.loss_repeated), ("other", _run.loss_other)]
    if _contrast is not None:
        series.append(("one_layer", _contrast.loss_repeated))
    for name, loss in series:
        smooth = pd.Series(loss).rolling(SMOOTH, min_periods=1).mean().to_numpy()
        idx = np.arange(0, len(loss), 5)
        frames.append(pd.DataFrame({"step": idx + 1, "loss": smooth[idx], "series": names[name]}))
    return pd.concat(frames, ignore_index=True)


@st.cache_data(max_entries=16, show_spinner=False)
def score_frame(key: str, _run: core.InductionRun) -> pd.DataFrame:
    """Long table: checkpoint step, layer, head, previous-token and induction score."""
    C, L, H = _run.prev_token.shape
    ck, layer, head = np.meshgrid(np.arange(C), np.arange(L), np.arange(H), indexing="ij")
    return pd.DataFrame(
        {
            "step": _run.checkpoints[ck.ravel()],
            "layer": layer.ravel() + 1,
            "head": [f"L{a + 1} H{b + 1}" for a, b in zip(layer.ravel(), head.ravel(), strict=True)],
            "prev_token": _run.prev_token.reshape(-1),
            "induction": _run.induction.reshape(-1),
        }
    )


@st.cache_data(max_entries=64, show_spinner=False)
def map_frame(
    key: str, _run: core.InductionRun, checkpoint: int, seq_seed: int, lang: str
) -> tuple[pd.DataFrame, dict]:
    """Attention of every head on a fresh repeated sequence at one checkpoint (lower triangle only)."""
    cfg = _run.config
    length = min(SHOW_LENGTH, cfg.length)
    tokens, mask = core.repeated_sequences(1, length, cfg.vocab, np.random.default_rng(seq_seed))
    with core.one_thread():
        maps = core.attention_maps(_run.model_at(checkpoint), tokens[0])  # (L, H, T, T)
    names = core.token_names(cfg.vocab)
    labels = [f"{i + 1} {names[tok]}" for i, tok in enumerate(tokens[0])]
    L, H, T, _ = maps.shape
    qi, kj = np.tril_indices(T)
    rows = []
    for layer in range(L):
        for head in range(H):
            rows.append(
                pd.DataFrame(
                    {
                        "layer": f"{t(f'{P}.layer')} {layer + 1}",
                        "head": f"{t(f'{P}.head')} {head + 1}",
                        "query": [labels[i] for i in qi],
                        "key": [labels[j] for j in kj],
                        "weight": maps[layer, head, qi, kj],
                    }
                )
            )
    df = pd.concat(rows, ignore_index=True)
    # where an induction head should look: query i whose next token is predictable -> key j(i) + 1
    q = np.nonzero(mask[0, 1:])[0]
    j = core.earlier_occurrence(tokens)[0, q]
    targets = {(labels[a], labels[b]) for a, b in zip(q, j + 1, strict=True)}
    df["target"] = [pair in targets for pair in zip(df["query"], df["key"], strict=True)]
    prev, ind = core.head_scores(maps[None], tokens, mask)
    info = {
        "repeated": int(mask.sum()),
        "tokens": [names[x] for x in tokens[0]],
        "mask": mask[0].tolist(),
        "prev": prev,
        "ind": ind,
    }
    return df, info


def quiet_seconds(run: core.InductionRun) -> float:
    """The run's training time scaled to a quiet host (reference workload 0.33 s there)."""
    ratio = QUIET_REFERENCE / run.reference_seconds if run.reference_seconds > 0 else 1.0
    return run.seconds * ratio


@st.cache_data(max_entries=32, show_spinner=False)
def estimate_for(config: core.InductionConfig) -> float:
    """Seconds a Run of `config` takes on this server now (a few timed steps, core.estimate_seconds)."""
    return core.estimate_seconds(config)


def one_layer_ratio(run: core.InductionRun) -> float:
    """Loss on repeated tokens over the last SMOOTH steps of `run`, as a fraction of ln V."""
    return float(run.loss_repeated[-SMOOTH:].mean() / np.log(run.config.vocab))


def run_key(config: core.InductionConfig, seed: int, live: bool) -> str:
    return f"{config}|{seed}|{'live' if live else 'shipped'}"


# Chart templates ---------------------------------------------------------------------------------
@charts.template
def diagram_template() -> alt.LayerChart:
    """The block: boxes ("boxes": x, x2, y, y2, label, kind), arrows ("lines" with "heads"), texts ("texts")."""
    x = alt.X("x", type="quantitative", axis=None, scale=alt.Scale(domain=[0, 100]))
    y = alt.Y("y", type="quantitative", axis=None, scale=alt.Scale(domain=[0, 100], reverse=True))
    fill = alt.Color(
        "kind",
        type="nominal",
        legend=None,
        scale=alt.Scale(
            domain=["data", "embed", "attn", "mlp", "norm", "out"],
            range=["#ffffff", "#e8f0fb", "#fde9d9", "#e6f4e6", "#f1f1f1", "#f3e8f7"],
        ),
    )
    boxes = (
        alt.Chart(charts.named("boxes"))
        # aria=False: the tints are decoration (each box is labelled), not information
        .mark_rect(stroke="#333", strokeWidth=1.2, cornerRadius=4, aria=False)
        .encode(x=x, y=y, x2="x2", y2="y2", color=fill)
    )
    lines = (
        alt.Chart(charts.named("lines"))
        .mark_line(color="#333", strokeWidth=1.4)
        .encode(x=x, y=y, detail=alt.Detail("id", type="nominal"), order=alt.Order("o", type="quantitative"))
    )
    heads = (
        alt.Chart(charts.named("heads"))
        .mark_point(shape="triangle-up", size=55, filled=True, opacity=1, color="#333")
        .encode(x=x, y=y, angle=alt.Angle("angle", type="quantitative", scale=None))
    )
    texts = [
        alt.Chart(charts.named("texts"))
        .transform_filter(f"datum.weight == '{weight}'")
        .mark_text(fontSize=12, color="#111", baseline="middle", fontWeight=weight)
        .encode(x=x, y=y, text=alt.Text("text", type="nominal"))
        for weight in ("normal", "bold")
    ]
    return alt.layer(boxes, lines, heads, *texts)


@charts.template
def loss_template() -> alt.LayerChart:
    """Smoothed loss against step, one line per series ("loss"), ln V ("lnv"), the checkpoint shown ("now")."""
    names = [t(f"{P}.series_{s}") for s in LN_COLOURS]
    lines = (
        alt.Chart(charts.named("loss"))
        .mark_line(strokeWidth=2.2)
        .encode(
            x=alt.X("step", type="quantitative", title=t(f"{P}.step_axis")),
            y=alt.Y("loss", type="quantitative", title=t(f"{P}.loss_axis"), scale=alt.Scale(zero=True)),
            color=alt.Color(
                "series",
                type="nominal",
                title=None,
                scale=alt.Scale(domain=names, range=list(LN_COLOURS.values())),
            ),
            strokeDash=alt.StrokeDash(
                "series",
                type="nominal",
                title=None,
                scale=alt.Scale(domain=names, range=[[1, 0], [2, 2], [8, 4]]),
            ),
            tooltip=[
                alt.Tooltip("series", type="nominal"),
                alt.Tooltip("step", type="quantitative"),
                alt.Tooltip("loss", type="quantitative", format=".3f"),
            ],
        )
    )
    lnv = (
        alt.Chart(charts.named("lnv"))
        .mark_rule(color="#222", strokeWidth=1)
        .encode(y=alt.Y("lnv", type="quantitative"))
    )
    lnv_label = (
        alt.Chart(charts.named("lnv"))
        .mark_text(align="left", dx=4, dy=-7, fontSize=12, color="#222", text="ln V")
        .encode(y=alt.Y("lnv", type="quantitative"), x=alt.value(0))
    )
    return alt.layer(lines, lnv, lnv_label, charts.rule("now", "step"))


@charts.template
def score_template(score: str) -> alt.LayerChart:
    """One score of every head against the checkpoint step ("scores"), the checkpoint shown ("now")."""
    lines = (
        alt.Chart(charts.named("scores"))
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=alt.X("step", type="quantitative", title=t(f"{P}.step_axis")),
            y=alt.Y(
                score, type="quantitative", title=t(f"{P}.score_{score}"), scale=alt.Scale(domain=[0, 1])
            ),
            color=alt.Color("head", type="nominal", title=t(f"{P}.head")),
            strokeDash=alt.StrokeDash(
                "layer", type="ordinal", title=t(f"{P}.layer"), scale=alt.Scale(range=[[1, 0], [6, 3]])
            ),
            tooltip=[
                alt.Tooltip("head", type="nominal"),
                alt.Tooltip("step", type="quantitative"),
                alt.Tooltip(score, type="quantitative", format=".2f"),
            ],
        )
    )
    return alt.layer(lines, charts.rule("now", "step"))


@charts.template
def maps_template(heads: int) -> alt.FacetChart:
    """Attention weights of every head ("maps": layer, head, query, key, weight); rows = layers, columns = heads;
    hollow squares ("target") mark where an induction head should look."""
    tick = {"labelFontSize": 8, "labelOverlap": False, "titleFontSize": 11}
    x = alt.X(
        "key", type="ordinal", sort=None, title=t(f"{P}.key_axis"), axis=alt.Axis(**tick, labelAngle=-90)
    )
    y = alt.Y("query", type="ordinal", sort=None, title=t(f"{P}.query_axis"), axis=alt.Axis(**tick))
    target = (
        alt.Chart()
        .transform_filter("datum.target")
        .mark_rect(filled=False, stroke=TARGET_COLOUR, strokeWidth=1.8)
        .encode(x=x, y=y)
    )
    heat = (
        alt.Chart()
        .mark_rect()
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "weight",
                type="quantitative",
                title=t(f"{P}.weight"),
                scale=alt.Scale(scheme="blues", domain=[0, 1]),
            ),
            tooltip=[
                alt.Tooltip("query", type="ordinal"),
                alt.Tooltip("key", type="ordinal"),
                alt.Tooltip("weight", type="quantitative", format=".2f"),
            ],
        )
    )
    size = {1: 260, 2: 210, 4: 150}.get(heads, 95)
    return (
        alt.layer(heat, target, data=charts.named("maps"))
        .properties(width=size, height=size)
        .facet(
            row=alt.Row("layer", type="nominal", title=None),
            column=alt.Column("head", type="nominal", title=None),
        )
        .resolve_scale(x="shared", y="shared")
    )


# Block diagram geometry (pure layout of the current settings) -------------------------------------
def block_diagram(cfg: core.InductionConfig) -> dict[str, pd.DataFrame]:
    """Boxes top to bottom along the data path of one sequence: what each step computes, the shape
    of its output for these settings, and its parameters (from the formulas; their sum is the model's)."""
    T, d, h, V = cfg.length, cfg.d_model, cfg.heads, cfg.vocab
    dk = d // h
    ln = 2 * d  # LayerNorm gain and bias
    stages = [
        ("data", "d_tokens", f"({T},)", 0),
        ("embed", "d_embed", f"({T}, {d})", V * d),
        ("norm", "d_ln", f"({T}, {d})", ln),
        ("attn", "d_qkv", f"3 × ({h}, {T}, {dk})", 3 * d * d),
        ("attn", "d_scores", f"({h}, {T}, {T})", 0),
        ("attn", "d_softmax", f"({h}, {T}, {T})", 0),
        ("attn", "d_weighted", f"({h}, {T}, {dk}) → ({T}, {d})", 0),
        ("attn", "d_wo", f"({T}, {d})", d * d),
    ]
    if not cfg.attention_only:
        stages += [
            ("norm", "d_ln", f"({T}, {d})", ln),
            ("mlp", "d_mlp", f"({T}, {4 * d}) → ({T}, {d})", 8 * d * d + 5 * d),
        ]
    stages += [("norm", "d_lnf", f"({T}, {d})", ln), ("out", "d_unembed", f"({T}, {V})", d * V)]
    n = len(stages) + 1  # one row of headings
    step = 100 / n
    boxes, texts, lines, heads = [], [], [], []
    texts += [
        {"x": 13, "y": step / 2, "text": t(f"{P}.d_params"), "align": "center", "weight": "bold"},
        {
            "x": 44,
            "y": step / 2,
            "text": t(f"{P}.d_block", layers=cfg.layers),
            "align": "center",
            "weight": "bold",
        },
        {"x": 86, "y": step / 2, "text": t(f"{P}.d_shape"), "align": "center", "weight": "bold"},
    ]

    def arrow(name: str, pts: list[tuple[float, float]]) -> None:
        lines.extend({"id": name, "o": o, "x": px, "y": py} for o, (px, py) in enumerate(pts))
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        heads.append({"x": x1, "y": y1, "angle": float(np.degrees(np.arctan2(x1 - x0, y0 - y1)))})

    centre = []
    for i, (kind, label, shape, params) in enumerate(stages, start=1):
        y0, y1 = i * step + step * 0.14, (i + 1) * step - step * 0.14
        centre.append((y0 + y1) / 2)
        boxes.append({"x": 24, "x2": 64, "y": y0, "y2": y1, "kind": kind})
        texts.append(
            {"x": 44, "y": (y0 + y1) / 2, "text": t(f"{P}.{label}"), "align": "center", "weight": "normal"}
        )
        texts.append({"x": 86, "y": (y0 + y1) / 2, "text": shape, "align": "center", "weight": "normal"})
        if params:
            texts.append(
                {"x": 13, "y": (y0 + y1) / 2, "text": f"{params:,}", "align": "center", "weight": "normal"}
            )
        if i > 1:
            arrow(f"a{i}", [(44, y0 - step * 0.28), (44, y0 - 0.6)])
    # residual connections: from the stream before each LayerNorm of the block to the add after its sub-layer
    subs = [(2, 7)] + ([(8, 9)] if not cfg.attention_only else [])  # (LayerNorm row, add row), 0-based
    for r, (a, b) in enumerate(subs):
        ya, yb = centre[a] - step * 0.5, centre[b]
        xr = 70 + 3 * r
        arrow(f"res{r}", [(44, ya), (xr, ya), (xr, yb), (64.5, yb)])
    return {
        "boxes": pd.DataFrame(boxes),
        "texts": pd.DataFrame(texts),
        "lines": pd.DataFrame(lines),
        "heads": pd.DataFrame(heads),
    }


def count_table(counts: dict[str, int]) -> pd.DataFrame:
    names = []
    for part in counts:
        if part.startswith("layer"):
            layer, kind = part[5:].split("_")
            names.append(t(f"{P}.part_{kind}", layer=layer))
        else:
            names.append(t(f"{P}.part_{part}"))
    return pd.DataFrame({t(f"{P}.part"): names, t(f"{P}.count"): list(counts.values())})


@st.cache_data(max_entries=64, show_spinner=False)
def counts_for(cfg: core.InductionConfig) -> dict[str, int]:
    return core.parameter_counts(cfg)


# 1. Title and lead ---------------------------------------------------------------------------------
page.header(P)

# 2. Model settings (instant: they redraw the diagram) and the training form -------------------------
left, right = page.columns(1.6)
with left:
    st.markdown(f"**{t(f'{P}.model_title')}**")
    layers = st.segmented_control(
        t(f"{P}.layers"),
        LAYERS,
        default=str(DEFAULT.layers),
        key="layers",
        bind="query-params",
        required=True,
        help=t(f"{P}.layers_help"),
    )
    heads = st.select_slider(t(f"{P}.heads"), HEADS, DEFAULT.heads, key="heads", bind="query-params")
    d_model = st.select_slider(t(f"{P}.d_model"), D_MODELS, DEFAULT.d_model, key="dm", bind="query-params")
    mlp = st.toggle(
        t(f"{P}.mlp"), not DEFAULT.attention_only, key="mlp", bind="query-params", help=t(f"{P}.mlp_help")
    )
    with st.form(f"{P}_form", border=True):
        st.markdown(t(f"{P}.train_title"))
        steps = st.select_slider(t(f"{P}.steps"), STEPS, str(DEFAULT.steps), key="steps", bind="query-params")
        lr = st.select_slider(t(f"{P}.lr"), LRS, f"{DEFAULT.lr:g}", key="lr", bind="query-params")
        seed = widgets.seed()
        submitted = st.form_submit_button(t(f"{P}.run"), icon=":material/play_arrow:", type="primary")

config = core.InductionConfig(
    layers=int(layers or DEFAULT.layers),
    heads=int(heads),
    d_model=int(d_model),
    attention_only=not mlp,
    steps=int(steps),
    lr=float(lr),
)
counts = counts_for(config)
with right:
    st.markdown(f"**{t(f'{P}.block_title', layers=config.layers)}**")
    charts.show(
        diagram_template(chart_height=charts.height(360 if mlp else 310)),
        data=block_diagram(config),
        description=t(
            f"{P}.diagram_alt",
            params=f"{sum(counts.values()):,}",
            T=config.length,
            d=config.d_model,
            h=config.heads,
        ),
    )
    st.metric(t(f"{P}.total_params"), f"{sum(counts.values()):,}")
with st.expander(t(f"{P}.count_title")):
    st.dataframe(count_table(counts), hide_index=True)
page.prose(t(f"{P}.explain_block"))

# 3. Training: the shipped default, or a live run ----------------------------------------------------
st.subheader(t(f"{P}.train_section"))
run, live = shipped_for(config, seed), False
trained = page.has_result(STORE, (config, seed))
estimate = estimate_for(config) if submitted and not trained else None
if estimate is not None and estimate > MAX_RUN_SECONDS:
    # one Run holds a worker's interpreter: a minutes-long one stalls every other student on it
    st.warning(t(f"{P}.too_long", s=f"{estimate:.0f}", cap=MAX_RUN_SECONDS), icon=":material/timer_off:")
elif submitted or trained:
    run = page.with_progress(
        STORE,
        (config, seed),
        lambda report: core.train(config, seed, progress=lambda i, n: report(i / n)),
        text=t(f"{P}.training", s=f"{estimate:.0f}") if estimate is not None else "",  # shown only when it trains
        max_entries=6,
    )
    live = True
if run is None:
    # no timing here (it would cost a warm rerun ~0.1 s): the shipped default's time, scaled by the steps
    default_s = quiet_seconds(shipped()[2]) * config.steps / DEFAULT.steps
    st.info(t(f"{P}.not_trained", s=f"{default_s:.0f}"), icon=":material/info:")
    run = shipped()[config.layers]
key = run_key(run.config, run.seed, live)
summary = run_summary(key, run)
# the 1-layer contrast joins the loss chart of the shipped 2-layer default
contrast = shipped()[1] if not live and run is shipped()[2] else None
if live:
    st.success(t(f"{P}.run_done", s=f"{run.seconds:.1f}"))
else:
    st.caption(t(f"{P}.shipped_note", s=f"{quiet_seconds(run):.0f}"))

m1, m2, m3, m4 = st.columns(4)
m1.metric(t(f"{P}.acc_repeated"), f"{summary['accuracy_repeated']:.1%}")
m2.metric(t(f"{P}.loss_repeated_ratio"), f"{summary['loss_repeated'] / summary['ln_vocab']:.1%}")
m3.metric(t(f"{P}.loss_other_ratio"), f"{summary['loss_other'] / summary['ln_vocab']:.1%}")
m4.metric(t(f"{P}.best_induction", layer=run.config.layers), f"{summary['best_induction_last']:.2f}")

C = len(run.checkpoints) - 1
widgets.keep_within("ck", C)
scores = score_frame(key, run)


@st.fragment
def curves_and_heads() -> None:
    ck = st.slider(
        t(f"{P}.checkpoint"), 0, C, C, 1, key="ck", bind="query-params", help=t(f"{P}.checkpoint_help")
    )
    step_now = int(run.checkpoints[ck])
    now = charts.now("step", step_now)
    st.markdown(f"**{t(f'{P}.loss_title')}**")
    charts.show(
        loss_template(chart_height=charts.height(280)),
        data={
            "loss": loss_frame(key, run, contrast, current_lang()),
            "lnv": pd.DataFrame({"lnv": [summary["ln_vocab"]]}),
            "now": now,
        },
        description=t(
            f"{P}.loss_alt",
            rep=f"{summary['loss_repeated']:.2f}",
            other=f"{summary['loss_other']:.2f}",
            lnv=f"{summary['ln_vocab']:.2f}",
        ),
    )
    page.prose(t(f"{P}.explain_loss"))
    c1, c2 = st.columns(2)
    for col, score in ((c1, "prev_token"), (c2, "induction")):
        with col:
            st.markdown(f"**{t(f'{P}.score_title_{score}')}**")
            best = scores[scores["step"] == run.checkpoints[-1]].sort_values(score).iloc[-1]
            charts.show(
                score_template(score, chart_height=charts.height(240)),
                data={"scores": scores, "now": now},
                description=t(f"{P}.score_alt_{score}", head=best["head"], v=f"{best[score]:.2f}"),
            )
    page.prose(t(f"{P}.explain_scores"))

    st.subheader(t(f"{P}.heads_title"))
    a, b = st.columns([1, 3])
    with a:
        seq_seed = st.number_input(
            t(f"{P}.sequence"), 0, 999, 0, 1, key="sq", bind="query-params", help=t(f"{P}.sequence_help")
        )
    df, info = map_frame(key, run, ck, int(seq_seed), current_lang())
    with b:
        shown = " ".join(f"**{tok}**" if info["mask"][i] else tok for i, tok in enumerate(info["tokens"]))
        st.markdown(t(f"{P}.sequence_shown", seq=shown))
    st.caption(t(f"{P}.maps_caption", step=step_now, n=info["repeated"]))
    charts.show(
        maps_template(run.config.heads),
        data={"maps": df},
        width="content",
        description=t(
            f"{P}.maps_alt", step=step_now, ind=f"{float(info['ind'][-1].max()):.2f}", layer=run.config.layers
        ),
    )
    page.prose(t(f"{P}.explain_heads"))
    page.download_csv(df, f"{P}_attention_step{step_now}_seq{seq_seed}.csv")


curves_and_heads()

# 4. Try this -------------------------------------------------------------------------------------------
two, one = shipped()[2], shipped()[1]
page.try_this(
    P,
    PRESETS,
    facts={
        "phase_change": {"ind": f"{two.induction[-1, -1].max():.2f}"},
        "one_layer": {
            "ratio": f"{one_layer_ratio(one):.0%}",
            "ind": f"{one.induction[-1, -1].max():.2f}",
        },
        "heads": {
            "prev": ", ".join(f"{v:.2f}" for v in two.prev_token[-1, 0]),
            "ind": ", ".join(f"{v:.2f}" for v in two.induction[-1, 1]),
        },
    },
)

# 5. The math ---------------------------------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"x^{(0)}_i = W_E[\text{token}_i] + PE_i,\quad PE_{(i,\,2k)} = \sin(i / 10000^{2k/d}),\ PE_{(i,\,2k+1)} = \cos(i / 10000^{2k/d})",
            t(f"{P}.src_embed"),
        ),
        (
            r"\operatorname{head}_j = \operatorname{softmax}\!\Big(\frac{(x W^Q_j)(x W^K_j)^\top}{\sqrt{d_k}} + M\Big)\, x W^V_j,"
            r"\quad M_{ik} = -\infty \text{ for } k > i",
            t(f"{P}.src_attention"),
        ),
        (
            r"\operatorname{MultiHead}(x) = \operatorname{Concat}(\operatorname{head}_1, \dots, \operatorname{head}_h)\, W^O,"
            r"\quad d_k = d_{\text{model}} / h",
            t(f"{P}.src_multihead"),
        ),
        (
            r"x \leftarrow x + \operatorname{MultiHead}(\operatorname{LN}(x)),\quad"
            r"x \leftarrow x + \max(0,\ \operatorname{LN}(x) W_1 + b_1) W_2 + b_2",
            t(f"{P}.src_block"),
        ),
        (
            r"\text{logits} = \operatorname{LN}(x^{(L)})\, W_U,\quad \mathcal L = -\tfrac{1}{T-1}\sum_i \log p(\text{token}_{i+1} \mid \text{token}_{\le i})",
            t(f"{P}.src_loss"),
        ),
        (
            r"\text{prev}(h) = \operatorname{mean}_i A^h_{i,\,i-1},\qquad"
            r"\text{ind}(h) = \operatorname{mean}_{i:\ \text{token}_{i+1} \text{ predictable}} A^h_{i,\,j(i)+1},\ "
            r"\text{token}_{j(i)} = \text{token}_i,\ j(i) < i",
            t(f"{P}.src_scores"),
        ),
    ],
)

# 6. Download: the loss curves of the run shown ---------------------------------------------------------------
page.download_csv(
    pd.DataFrame({"step": run.steps, "loss_repeated": run.loss_repeated, "loss_other": run.loss_other}),
    f"{P}_loss_L{run.config.layers}_H{run.config.heads}_d{run.config.d_model}_seed{run.seed}.csv",
)
