"""Activation functions: from Rosenblatt's threshold to SwiGLU, f and f', and gradients through depth."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import activations as core
from ui import charts, layout, page, widgets
from ui.i18n import t

P = "activations"
NAMES = list(core.ACTIVATIONS)
DEFAULT_ACTS = ["sigmoid", "relu", "gelu", "silu"]
MAX_ACTS = 4
# slider key for each (activation, parameter); softplus' beta gets its own key
PARAM_KEYS = {
    ("leaky_relu", "slope"): "slope",
    ("elu", "alpha"): "alpha",
    ("silu", "beta"): "beta",
    ("softplus", "beta"): "sp_beta",
}
N_POINTS = 301
INIT_OPTIONS = list(core.INITS)
WIDTHS = [16, 32, 64, 128]


def act_label(name: str) -> str:
    return t(f"{P}.act_{name}")


@st.cache_data(max_entries=32, show_spinner=False)
def curves(
    names: tuple[str, ...], params: tuple[tuple[str, float], ...], lo: float, hi: float
) -> pd.DataFrame:
    """f and f' of each chosen activation on a grid: long format, one row per (activation, x)."""
    x = np.linspace(lo, hi, N_POINTS)
    kw = dict(params)
    frames = []
    for name in names:
        act = core.ACTIVATIONS[name]
        p = {k: kw[f"{name}.{k}"] for k in act.params}
        frames.append(pd.DataFrame({"activation": name, "x": x, "f": act.f(x, **p), "df": act.df(x, **p)}))
    return pd.concat(frames, ignore_index=True)


@st.cache_data(max_entries=64, show_spinner=False)
def depth_stats(
    name: str, depth: int, width: int, init: str, seed: int, params: tuple[tuple[str, float], ...]
):
    r = core.gradient_through_depth(name, depth, width, init, seed, params=dict(params))
    return r.grad_rel, r.act_std, r.dead_frac


@st.cache_data(max_entries=32, show_spinner=False)
def depth_frame(
    names: tuple[str, ...],
    params: tuple[tuple[str, float], ...],
    depth: int,
    width: int,
    init: str,
    seed: int,
) -> pd.DataFrame:
    """`depth_stats` of each chosen activation: long format, one row per (activation, layer)."""
    kw = dict(params)
    stats = []
    for name in names:
        p = tuple((k, kw[f"{name}.{k}"]) for k in core.ACTIVATIONS[name].params)
        stats.append(depth_stats(name, depth, width, init, seed, p))
    grad_rel, act_std, dead = (np.concatenate(column) for column in zip(*stats, strict=True))
    return pd.DataFrame(
        {
            "activation": np.repeat(names, depth),
            "layer": np.tile(np.arange(1, depth + 1), len(names)),
            "grad_rel": grad_rel,
            "act_std": act_std,
            "dead": dead,
        }
    )


def check_choice(names: list[str], lo: float, hi: float) -> tuple[tuple[str, ...], float, float]:
    if not names:
        raise ValueError("no activation")
    if hi - lo < 1e-9:
        raise ValueError("empty range")
    return tuple(names[:MAX_ACTS]), lo, hi


def colour(names: tuple[str, ...]) -> dict:
    """One colour and one dash per chosen activation, in the order chosen, the same on every chart
    (colours that stay apart under colour-vision deficiency: `charts.CATEGORY`)."""
    return charts.series("activation", t(f"{P}.activation"), [act_label(n) for n in names])


def labelled(df: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """`df` with each activation's key replaced by its label, as the charts' legends show it."""
    return df.assign(activation=df["activation"].map({n: act_label(n) for n in names}))


@charts.template
def curve_template(names: tuple[str, ...], y: str, y_title: str, title_key: str) -> alt.Chart:
    """f or f′ of each chosen activation ("curves"); the x axis spans the chosen range, which the data span."""
    return (
        alt.Chart(charts.named("curves"), title=t(f"{P}.{title_key}"))
        .mark_line(strokeWidth=2.5)
        .encode(
            x=alt.X("x", type="quantitative", title="x", scale=alt.Scale(zero=False, nice=False)),
            y=alt.Y(y, type="quantitative", title=y_title),
            **colour(names),
            tooltip=[
                alt.Tooltip("activation", type="nominal", title=t(f"{P}.activation")),
                alt.Tooltip("x", type="quantitative", format=".2f"),
                alt.Tooltip(y, type="quantitative", format=".3f", title=y_title),
            ],
        )
    )


# what each depth chart draws from the "depth" data: field, chart title, axis title, log scale
DEPTH_VIEWS = {
    "grad": ("grad_rel", "grad_chart_title", "grad_axis", True),
    "std": ("act_std", "std_chart_title", "std_axis", True),
    "dead": ("dead", "dead_chart_title", "dead_axis", False),
}


@charts.template
def depth_template(names: tuple[str, ...], view: str, points: bool) -> alt.Chart:
    """One measure per layer and activation ("depth"); the layer axis spans the data, layers 1 to depth."""
    field, title_key, axis_key, log = DEPTH_VIEWS[view]
    return (
        alt.Chart(charts.named("depth"), title=t(f"{P}.{title_key}"))
        .mark_line(point=points, strokeWidth=2.5)
        .encode(
            x=alt.X(
                "layer", type="quantitative", title=t(f"{P}.layer"), scale=alt.Scale(zero=False, nice=False)
            ),
            y=alt.Y(
                field,
                type="quantitative",
                title=t(f"{P}.{axis_key}"),
                scale=alt.Scale(type="log") if log else alt.Scale(domain=[0, 1]),
                axis=charts.log_axis(5) if log else alt.Axis(),
            ),
            **colour(names),
            tooltip=[
                alt.Tooltip("activation", type="nominal"),
                alt.Tooltip("layer", type="quantitative"),
                alt.Tooltip(field, type="quantitative", format=".2e"),
            ],
        )
    )


# 1. Title and lead ----------------------------------------------------------------
page.header(P)

# 2. Controls beside the main figure: f and f' ------------------------------------------
layout.drop_empty_url_selection("acts")
top_l, top_r = st.columns([3, 1], gap="large")
chosen = top_l.multiselect(
    t(f"{P}.pick"),
    NAMES,
    default=DEFAULT_ACTS,
    format_func=widgets.labels({n: f"{P}.act_{n}" for n in NAMES}),
    key="acts",
    bind="query-params",
    help=t(f"{P}.pick_help"),
)
x_lo, x_hi = top_r.slider(t(f"{P}.x_range"), -10.0, 10.0, (-4.0, 4.0), 0.5, key="xr", bind="query-params")
if len(chosen) > MAX_ACTS:
    st.warning(t(f"{P}.too_many", n=MAX_ACTS), icon=":material/warning:")
left, right = page.columns(3.2)
with left:
    params: dict[str, float] = {}
    for name in NAMES:
        act = core.ACTIVATIONS[name]
        for pname, spec in act.params.items():
            if name in chosen[:MAX_ACTS]:
                key = PARAM_KEYS[(name, pname)]
                params[f"{name}.{pname}"] = st.slider(
                    t(f"{P}.param_{key}"),
                    spec.low,
                    spec.high,
                    spec.default,
                    spec.step,
                    key=key,
                    bind="query-params",
                )
            else:
                params[f"{name}.{pname}"] = spec.default
    if not any(core.ACTIVATIONS[n].params for n in chosen[:MAX_ACTS]):
        st.caption(t(f"{P}.no_params"))

choice = page.keep_last_good(
    "activations_choice", lambda: check_choice(chosen, x_lo, x_hi), t(f"{P}.bad_choice")
)
if choice is None:
    choice = (tuple(DEFAULT_ACTS), -4.0, 4.0)
names, lo, hi = choice
param_items = tuple(sorted(params.items()))
df = curves(names, param_items, lo, hi)
plot_df = labelled(df, names)

with right:
    c_f, c_df = st.columns(2)
    x0 = min(max(1.0, lo), hi)  # the values read out: at x = 1, or the range's nearest end
    at_one = plot_df.loc[(plot_df["x"] - x0).abs().groupby(plot_df["activation"], sort=False).idxmin()]

    def describe(y: str, title_key: str) -> str:  # the chart's text alternative: title + values at x = 1
        values = ", ".join(f"{a} {v:.3g}" for a, v in zip(at_one["activation"], at_one[y], strict=True))
        x = f"{at_one['x'].iloc[0]:.2g}"
        return t(f"{P}.desc_f", title=t(f"{P}.{title_key}"), lo=f"{lo:g}", hi=f"{hi:g}", x=x, values=values)

    with c_f:
        charts.show(
            curve_template(names, "f", "f(x)", "f_title", chart_height=charts.height(270)),
            data={"curves": plot_df},
            description=describe("f", "f_title"),
        )
    with c_df:
        charts.show(
            curve_template(names, "df", "f′(x)", "df_title", chart_height=charts.height(270)),
            data={"curves": plot_df},
            description=describe("df", "df_title"),
        )
    st.caption(t(f"{P}.curves_caption"))

page.prose(t(f"{P}.explain_curves"))


# Gradients through depth --------------------------------------------------------------
@st.fragment
def depth_section(names: tuple[str, ...], param_items: tuple[tuple[str, float], ...]) -> None:
    st.subheader(t(f"{P}.depth_title"))
    lc, rc = page.columns(2.8)
    with lc:
        depth = st.slider(t(f"{P}.depth"), 2, 50, 30, 1, key="depth", bind="query-params")
        init = st.selectbox(
            t(f"{P}.init"),
            INIT_OPTIONS,
            format_func=widgets.labels({k: f"{P}.init_{k}" for k in INIT_OPTIONS}),
            key="init",
            bind="query-params",
        )
        width = st.select_slider(t(f"{P}.width"), WIDTHS, value=64, key="width", bind="query-params")
        seed = widgets.seed(key="dseed")
        view = st.radio(
            t(f"{P}.second_view"),
            ["std", "dead"],
            format_func=widgets.labels({k: f"{P}.view_{k}" for k in ("std", "dead")}),
            key="dview",
            bind="query-params",
        )
    ddf = labelled(depth_frame(names, param_items, depth, width, init, seed), names)
    # log scales cannot show exact zeros (the step function passes no gradient at all)
    tiny = 1e-300
    second_df = ddf[ddf["act_std"] > tiny] if view == "std" else ddf
    height = charts.height(280)
    first = ddf[ddf["layer"] == 1]

    def describe(v: str) -> str:  # the chart's text alternative: title + each activation's layer-1 value
        field, title_key, _, _ = DEPTH_VIEWS[v]
        values = ", ".join(f"{a} {x:.2g}" for a, x in zip(first["activation"], first[field], strict=True))
        return t(f"{P}.desc_depth", title=t(f"{P}.{title_key}"), depth=depth, values=values)

    with rc:
        c_g, c_s = st.columns(2)
        with c_g:
            charts.show(
                depth_template(names, "grad", depth <= 20, chart_height=height),
                data={"depth": ddf[ddf["grad_rel"] > tiny]},
                description=describe("grad"),
            )
        with c_s:
            charts.show(
                depth_template(names, view, depth <= 20, chart_height=height),
                data={"depth": second_df},
                description=describe(view),
            )
        summary = t(f"{P}.list_sep").join(
            f"{n}: {v:.1e}" for n, v in zip(first["activation"], first["grad_rel"], strict=True)
        )
        st.caption(t(f"{P}.depth_caption", depth=depth, summary=summary))
        if "step" in names:
            st.caption(t(f"{P}.step_no_grad"))
    page.prose(t(f"{P}.explain_depth"))


depth_section(names, param_items)


# SwiGLU ----------------------------------------------------------------------------------
@st.cache_data(max_entries=16, show_spinner=False)
def swiglu_grid(beta: float) -> pd.DataFrame:
    """One SwiGLU unit over a grid of its two pre-activations: W = e1 picks u, V = e2 picks v."""
    g = np.linspace(-3, 3, 41)
    U, V = np.meshgrid(g, g)
    x = np.stack([U.ravel(), V.ravel()], axis=1)  # (1681, 2)
    W = np.array([[1.0], [0.0]])
    Vm = np.array([[0.0], [1.0]])
    out = core.swiglu(x, W, Vm, beta=beta)[:, 0]
    return pd.DataFrame({"u": x[:, 0].round(2), "v": x[:, 1].round(2), "out": out})


@charts.template
def swiglu_heat_template() -> alt.Chart:
    """The unit's output over its two pre-activations ("grid", from `swiglu_grid`)."""
    ticks = [-3, -2, -1, 0, 1, 2, 3]
    return (
        alt.Chart(charts.named("grid"))
        .mark_rect()
        .encode(
            x=alt.X(
                "u", type="ordinal", title=t(f"{P}.gate_axis"), axis=alt.Axis(values=ticks, labelAngle=0)
            ),
            y=alt.Y(
                "v",
                type="ordinal",
                title=t(f"{P}.linear_axis"),
                sort="descending",
                axis=alt.Axis(values=ticks),
            ),
            color=alt.Color(
                "out",
                type="quantitative",
                title=t(f"{P}.swiglu_out"),
                scale=alt.Scale(scheme="redblue", domainMid=0, reverse=True),
            ),
            tooltip=[
                alt.Tooltip("u", type="quantitative"),
                alt.Tooltip("v", type="quantitative"),
                alt.Tooltip("out", type="quantitative", format=".2f"),
            ],
        )
    )


@charts.template
def gate_template() -> alt.Chart:
    """Swish and its sigmoid gate against the gate input u ("gate")."""
    return charts.line(
        "gate",
        "u",
        "value",
        color="curve",
        color_title=t(f"{P}.curve"),
        x_title=t(f"{P}.gate_axis"),
        y_title=t(f"{P}.gate_value"),
    )


@st.fragment
def swiglu_section(swish_beta: float) -> None:
    st.subheader(t(f"{P}.swiglu_title"))
    lc, mc, rc = st.columns([1.5, 1.3, 1.3], gap="medium")
    with lc:
        d = st.number_input(t(f"{P}.d_model"), 256, 16384, 4096, 256, key="dmodel", bind="query-params")
        counts = core.ffn_param_counts(int(d))
        table = pd.DataFrame(
            {
                t(f"{P}.ffn_kind"): [
                    t(f"{P}.ffn_classic"),
                    t(f"{P}.ffn_swiglu_unscaled"),
                    t(f"{P}.ffn_swiglu"),
                ],
                t(f"{P}.ffn_hidden"): [
                    counts["classic_hidden"],
                    counts["classic_hidden"],
                    counts["swiglu_hidden"],
                ],
                t(f"{P}.ffn_params"): [
                    f"{c / 1e6:,.1f} M"
                    for c in (counts["classic"], counts["swiglu_unscaled"], counts["swiglu"])
                ],
            }
        )
        st.dataframe(table, hide_index=True, width="stretch")
        st.caption(
            t(
                f"{P}.ffn_caption",
                d=int(d),
                h=counts["swiglu_hidden"],
                ratio=counts["swiglu"] / counts["classic"],
            )
        )
    beta = float(swish_beta)
    height = charts.height(270)  # the titles sit above, so the plots keep their size
    with mc:
        st.markdown(f"**{t(f'{P}.swiglu_heat_title')}**")
        grid = swiglu_grid(beta)
        charts.show(
            swiglu_heat_template(chart_height=height),
            data={"grid": grid},
            description=t(
                f"{P}.desc_heat", title=t(f"{P}.swiglu_heat_title"), beta=beta,
                lo=float(grid["out"].min()), hi=float(grid["out"].max()),
            ),
        )
    with rc:
        # the title carries β, so it sits above the chart and the chart's spec stays the same
        st.markdown(f"**{t(f'{P}.gate_title', beta=beta)}**")
        u = np.linspace(-4, 4, 161)
        gate = pd.DataFrame(
            {
                "u": np.concatenate([u, u]),
                "value": np.concatenate([core.silu(u, beta), core.sigmoid(beta * u)]),
                "curve": [t(f"{P}.gate_swish")] * len(u) + [t(f"{P}.gate_sigmoid")] * len(u),
            }
        )
        charts.show(
            gate_template(chart_height=height),
            data={"gate": gate},
            description=t(
                f"{P}.desc_gate", title=t(f"{P}.gate_title", beta=beta),
                g1=float(core.sigmoid(np.array([beta]))[0]), s1=float(core.silu(np.array([1.0]), beta)[0]),
            ),
        )
    page.prose(t(f"{P}.explain_swiglu"))


swiglu_section(params["silu.beta"])

# Timeline -------------------------------------------------------------------------------------
st.subheader(t(f"{P}.timeline_title"))
TIMELINE = ["1957", "1986", "2010", "2016", "2020"]
rows = "\n".join(
    f"| {t(f'{P}.tl_{y}_year')} | {t(f'{P}.tl_{y}_name')} | {t(f'{P}.tl_{y}_fixed')} | {t(f'{P}.tl_{y}_left')} |"
    for y in TIMELINE
)
st.markdown(
    f"| {t(f'{P}.tl_year')} | {t(f'{P}.tl_name')} | {t(f'{P}.tl_fixed')} | {t(f'{P}.tl_left')} |\n"
    "|---|---|---|---|\n" + rows
)

# 4. Try this -------------------------------------------------------------------------------------
PRESETS = {
    "vanish": {"acts": ["sigmoid", "tanh", "relu", "gelu"], "init": "he", "depth": 50, "dview": "std"},
    "small_init": {"acts": ["tanh", "relu", "gelu", "silu"], "init": "small", "depth": 20},
    "swish_beta": {"acts": ["relu", "silu", "softplus"], "beta": 10.0, "sp_beta": 1.0, "xr": (-3.0, 3.0)},
    "dead_relu": {
        "acts": ["step", "relu", "leaky_relu", "elu"],
        "slope": 0.1,
        "init": "he",
        "depth": 50,
        "dview": "dead",
    },
}


def small_init_facts(names: tuple[str, ...], params: tuple[tuple[str, float], ...]) -> dict[str, object]:
    """What the depth charts show now: the last layer's largest activation spread, layer 1's gradient ratios."""
    state = st.session_state
    depth = int(state.get("depth", 30))
    ddf = depth_frame(
        names, params, depth, int(state.get("width", 64)), state.get("init", "he"), int(state.get("dseed", 0))
    )
    first, last = ddf[ddf["layer"] == 1], ddf[ddf["layer"] == depth]
    summary = t(f"{P}.list_sep").join(
        f"{act_label(n)} {v:.2g}" for n, v in zip(first["activation"], first["grad_rel"], strict=True)
    )
    return {"depth": depth, "spread": f"{last['act_std'].max():.0e}", "summary": summary}


facts = {}
if st.session_state.get(f"_try_{P}") == "small_init":
    facts["small_init"] = small_init_facts(names, param_items)
page.try_this(P, PRESETS, facts=facts)

# 5. The math --------------------------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"\mathrm{step}(x) = \mathbb 1[x \ge 0],\qquad \sigma(x) = \frac{1}{1+e^{-x}},\ \ \sigma'(x) = \sigma(x)\,(1-\sigma(x)) \le \tfrac14",
            t(f"{P}.src_sigmoid"),
        ),
        (
            r"\tanh'(x) = 1 - \tanh^2 x,\qquad \mathrm{ReLU}(x) = \max(0, x),\ \ \mathrm{LeakyReLU}(x) = \max(x, 0) + s\,\min(x, 0)",
            t(f"{P}.src_relu"),
        ),
        (
            r"\mathrm{ELU}(x) = \begin{cases} x & x > 0 \\ \alpha\,(e^{x}-1) & x \le 0 \end{cases},\qquad \mathrm{softplus}_\beta(x) = \tfrac1\beta \log(1 + e^{\beta x})",
            t(f"{P}.src_elu"),
        ),
        (
            r"\mathrm{GELU}(x) = x\,\Phi(x),\quad \mathrm{GELU}'(x) = \Phi(x) + x\,\varphi(x),\quad"
            r"\mathrm{GELU}(x) \approx \tfrac{x}{2}\Big(1 + \tanh\big(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\big)\Big)",
            t(f"{P}.src_gelu"),
        ),
        (
            r"\mathrm{Swish}_\beta(x) = x\,\sigma(\beta x),\quad \mathrm{Swish}_\beta'(x) = \sigma(\beta x) + \beta x\,\sigma(\beta x)(1 - \sigma(\beta x)),\quad"
            r"\mathrm{Mish}(x) = x \tanh(\mathrm{softplus}(x))",
            t(f"{P}.src_swish"),
        ),
        (
            r"\frac{\partial L}{\partial h_{l-1}} = \Big(\frac{\partial L}{\partial h_l} \odot f'(a_l)\Big) W_l^\top,\qquad"
            r"\frac{\partial L}{\partial W_l} = h_{l-1}^\top \Big(\frac{\partial L}{\partial h_l} \odot f'(a_l)\Big),\qquad"
            r"\mathrm{Var}[W_{ij}] = \tfrac{2}{n}\ (\text{He}),\ \tfrac{2}{n_\text{in}+n_\text{out}}\ (\text{Xavier})",
            t(f"{P}.src_depth"),
        ),
        (
            r"\mathrm{FFN}_\mathrm{SwiGLU}(x) = \big(\mathrm{Swish}_1(xW) \odot xV\big)\,W_2,\qquad"
            r"h = 256\left\lceil \frac{\lfloor \tfrac23 \cdot 4d \rfloor}{256} \right\rceil,\quad 3dh \approx 8d^2",
            t(f"{P}.src_swiglu"),
        ),
    ],
)

# 6. Download ----------------------------------------------------------------------------------------
page.download_csv(df.rename(columns={"df": "f_prime"}), f"{P}_curves.csv")
