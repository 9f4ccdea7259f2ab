"""RL basics: agent, environment, policy, trajectory and return on the book's grid, before Bellman."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import mdp
from core import rl_basics as rb
from core.gridworld import ACTIONS, ARROWS, BOOK_CH1_LAYOUT, BOOK_LAYOUT, MOVES, GridWorld
from ui import charts, page, url_state, widgets
from ui.i18n import current_lang, t

P = "rl_basics"
GRIDS = {"3x3": BOOK_CH1_LAYOUT, "5x5": BOOK_LAYOUT}
KINDS = ("det", "eps", "uniform", "cells")
SOURCES = ("optimal", "straight", "custom")
TASKS = ("continuing", "episodic")
KIND_FILL = {"free": "#ffffff", "forbidden": "#f2b880", "target": "#8cc4f0"}
MAX_MC = 1_000  # episodes for the sample mean (sampled once per setting: ~0.03 s at gamma 0.9, ~0.3 s at 0.99)
MC_POINTS = 400
HORIZON_TOL = 1e-6  # continuing episodes end when gamma^t < this: bias <= 1e-6 max|r| / (1 - gamma)  # points of the running-mean curve sent to the browser


@st.cache_resource(show_spinner=False)
def world(grid: str) -> GridWorld:
    return GridWorld.from_layout(GRIDS[grid])


@st.cache_data(max_entries=16, show_spinner=False)
def source_arrows(grid: str, source: str) -> np.ndarray:
    """The arrows of a named deterministic policy (S,).

    optimal: greedy w.r.t. v* at gamma = 0.9 (book Figure 3.4 on the 5x5 grid; on the 3x3 grid the
    path of Figure 1.6 (a)); straight: vertical towards the target's row first, then horizontal,
    ignoring forbidden cells (on the 3x3 grid the path of Figure 1.6 (b))."""
    gw = world(grid)
    if source == "optimal":
        return mdp.value_iteration(gw.P, gw.R, 0.9).policy.argmax(1)
    tr, tc = gw.targets[0]
    r, c = np.divmod(np.arange(gw.num_states), gw.cols)
    up, right, down, left, stay = range(5)
    vertical = np.where(r < tr, down, up)
    horizontal = np.where(c < tc, right, np.where(c > tc, left, stay))
    return np.where(r != tr, vertical, horizontal)


@st.cache_data(max_entries=32, show_spinner=False)
def build(
    grid: str, kind: str, source: str, custom: str, eps: float, pseed: int, slip: float, task: str
) -> dict:
    """The environment (with slips, with an absorbing target when episodic) and the policy."""
    gw = world(grid)
    S, A = gw.num_states, gw.num_actions
    arrows = rb.parse_arrows(custom, gw.rows, gw.cols) if source == "custom" else source_arrows(grid, source)
    if kind == "det":
        policy = rb.deterministic_policy(arrows, A)
    elif kind == "eps":
        policy = rb.epsilon_arrows_policy(arrows, eps, A)
    elif kind == "uniform":
        policy = rb.uniform_policy(S, A)
    else:
        policy = rb.random_cell_policy(S, A, np.random.default_rng(pseed))
    model = rb.slip_model(gw.P, gw.R, slip)
    target = [gw.state(*gw.targets[0])]
    terminal = target if task == "episodic" else None
    return {
        # what identifies this environment and policy in the caches below
        "key": (grid, kind, rb.arrows_text(arrows, gw.cols), float(eps), int(pseed), float(slip), task),
        "model": model,
        "policy": policy,
        "terminal": terminal,
        "target": target[0],
        "rows": gw.rows,
        "cols": gw.cols,
        "kinds": gw.kinds().ravel(),
        "arrows_text": rb.arrows_text(arrows, gw.cols),
    }


@st.cache_data(max_entries=32, show_spinner=False)
def episode(params: tuple, start: int, T: int, gamma: float, seed: int, _env: dict) -> dict:
    """One recorded episode (the slider scrubs it) with its return term by term."""
    m = _env["model"]
    s, a, r = rb.rollout(
        m.P, m.R_sas, _env["policy"], start, T, np.random.default_rng(seed), _env["terminal"]
    )
    terms, running = rb.return_terms(r, gamma)
    return {"s": s, "a": a, "r": r, "terms": terms, "running": running}


@st.cache_data(max_entries=16, show_spinner=False)
def all_returns(
    params: tuple, start: int, gamma: float, seed: int, _env: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Exact v_pi (linear solve; absorbing target when episodic) and MAX_MC sampled returns:
    moving the N slider then only takes the first N of them."""
    m, pol = _env["model"], _env["policy"]
    P_, R_ = (m.P, m.R) if _env["terminal"] is None else rb.absorbing(m.P, m.R, _env["terminal"])
    v = mdp.policy_evaluation(P_, R_, pol, gamma)
    steps = rb.horizon(gamma, HORIZON_TOL)
    G = rb.sample_returns(
        m.P, m.R_sas, pol, start, steps, MAX_MC, gamma, np.random.default_rng(10_000 + seed), _env["terminal"]
    )
    return v, G


@st.cache_data(max_entries=32, show_spinner=False)
def values(params: tuple, start: int, gamma: float, N: int, seed: int, _env: dict) -> dict:
    """The first N returns' running mean and band, next to the exact v_pi."""
    v, G_all = all_returns(params, start, gamma, seed, _env)
    G = G_all[:N]
    steps = rb.horizon(gamma, HORIZON_TOL)
    mean, lo, hi = rb.running_mean_band(G, 2.0)
    idx = np.unique(np.geomspace(1, N, min(N, MC_POINTS)).astype(int)) - 1
    n = idx + 1
    # series 2: two invisible points that keep the y axis at least 0.1 wide around v_pi, so a
    # band of width ~0 (a deterministic policy) is not blown up into a gap of 1e-6
    pad = 0.05 * max(1.0, abs(float(v[start])))
    curve = pd.DataFrame(
        {
            "n": np.concatenate([n, [1, N, 1, N]]),
            "g": np.concatenate([mean[idx], [v[start], v[start], v[start] - pad, v[start] + pad]]),
            "lo": np.concatenate([lo[idx], [np.nan] * 4]),
            "hi": np.concatenate([hi[idx], [np.nan] * 4]),
            "series": np.array([0] * len(idx) + [1, 1, 2, 2]),
        }
    )
    se = float(G.std(ddof=1) / np.sqrt(N)) if N > 1 else float("nan")
    return {"v": v, "mean": float(mean[-1]), "se": se, "curve": curve, "steps": steps}


@st.cache_data(max_entries=16, show_spinner=False)
def markov(params: tuple, state: int, action: int, seed: int, _env: dict) -> dict[int, np.ndarray]:
    """Empirical p(s'|s, a) split by the state before s (at most four of them).

    The histories come from uniformly random actions, so every (s, a) is visited whatever
    the page's policy: the property is about the environment, not the policy."""
    m = _env["model"]
    pol = rb.uniform_policy(m.P.shape[0], m.P.shape[1])
    by_prev = rb.markov_check(
        m.P, m.R_sas, pol, state, action, 25, 2_000, np.random.default_rng(seed), start=0
    )
    return dict(list(by_prev.items())[:4])


@st.cache_data(max_entries=32, show_spinner=False)
def markov_view(
    params: tuple, state: int, action: int, seed: int, lang: str, _env: dict
) -> pd.DataFrame | None:
    by_prev = markov(params, state, action, seed, _env)
    return markov_table(by_prev, _env["model"].P[state, action]) if by_prev else None


def markov_table(by_prev: dict[int, np.ndarray], P_row: np.ndarray) -> pd.DataFrame:
    """Rows: one per previous state, then the exact p(s'|s, a); columns: the reachable s'."""
    reach = np.flatnonzero(P_row > 0)
    rows = {t(f"{P}.markov_after", s=p + 1): dist[reach] for p, dist in by_prev.items()}
    rows["p(s'|s,a)"] = P_row[reach]
    return pd.DataFrame(rows, index=[f"s{j + 1}" for j in reach]).T.round(2)


def policy_frame(policy: np.ndarray, rows: int, cols: int) -> pd.DataFrame:
    """One row per (s, move) with pi > 0: a segment from the cell centre towards the move, width by pi."""
    S, A = policy.shape
    s, a = np.divmod(np.arange(S * A), A)
    p = policy.ravel()
    r, c = np.divmod(s, cols)
    dy, dx = MOVES[a, 0], MOVES[a, 1]
    keep = p > 1e-9
    return pd.DataFrame(
        {
            "x": (c + 0.5)[keep],
            "y": (r + 0.5)[keep],
            "x2": (c + 0.5 + 0.36 * dx)[keep],
            "y2": (r + 0.5 + 0.36 * dy)[keep],
            # Vega's triangle-up points up; rotate clockwise by the move's angle
            "angle": np.array([0, 90, 180, 270, 0])[a][keep],
            "p": np.round(p[keep], 3),
            "stay": (a == 4)[keep],
            "action": np.array(ARROWS)[a][keep],
        }
    )


def cells_frame(kinds: np.ndarray, rows: int, cols: int) -> pd.DataFrame:
    r, c = np.divmod(np.arange(rows * cols), cols)
    glyph = np.where(kinds == "forbidden", "✕", np.where(kinds == "target", "★", ""))
    return pd.DataFrame(
        {
            "x": c,
            "x2": c + 1,
            "y": r,
            "y2": r + 1,
            "kind": kinds,
            "name": [f"s{i + 1}" for i in range(rows * cols)],
            "glyph": glyph,
        }
    )


def trajectory_frame(states: np.ndarray, cols: int, upto: int) -> pd.DataFrame:
    """Cell centres of s_0..s_upto, nudged a little per step so repeated visits stay visible."""
    s = states[: upto + 1]
    r, c = np.divmod(s, cols)
    jitter = 0.12 * np.sin(np.arange(len(s)) * 1.7)
    return pd.DataFrame({"t": np.arange(len(s)), "x": c + 0.5 + jitter, "y": r + 0.5 + jitter * 0.6})


@charts.template
def grid_template(rows: int, cols: int, *, size: int = 320) -> alt.LayerChart:
    """Cells ("cells"), the policy's arrows with width = pi(a|s) ("policy"), the trajectory so far
    ("path") and the agent at s_t ("agent")."""
    cell = max(40, size // max(rows, cols))
    xs = alt.Scale(domain=[0, cols], nice=False)
    ys = alt.Scale(domain=[rows, 0], nice=False)
    X = alt.X("x", type="quantitative", scale=xs, axis=None)
    Y = alt.Y("y", type="quantitative", scale=ys, axis=None)
    fill = alt.Color(
        "kind",
        type="nominal",
        scale=alt.Scale(domain=list(KIND_FILL), range=list(KIND_FILL.values())),
        legend=None,
    )
    cells = (
        alt.Chart(charts.named("cells"))
        .mark_rect(stroke="#555", strokeWidth=1)
        .encode(
            x=X,
            x2=alt.X2("x2"),
            y=Y,
            y2=alt.Y2("y2"),
            color=fill,
            tooltip=[alt.Tooltip("name", type="nominal")],
        )
    )
    names = (
        alt.Chart(charts.named("cells"))
        .mark_text(align="left", baseline="top", dx=3, dy=3, fontSize=max(10, cell // 6), color="#333")
        .encode(x=X, y=Y, text=alt.Text("name", type="nominal"))
    )
    glyphs = (
        alt.Chart(charts.named("cells"))
        .mark_text(align="right", baseline="top", dx=-3, dy=3, fontSize=max(10, cell // 6), color="#333")
        .encode(
            x=alt.X("x2", type="quantitative", scale=xs, axis=None),
            y=Y,
            text=alt.Text("glyph", type="nominal"),
        )
    )
    width = alt.StrokeWidth(
        "p", type="quantitative", scale=alt.Scale(domain=[0, 1], range=[0.5, 7]), legend=None
    )
    tips = [alt.Tooltip("action", type="nominal"), alt.Tooltip("p", type="quantitative", title="π(a|s)")]
    moves = alt.Chart(charts.named("policy")).transform_filter(alt.datum.stay == False)  # noqa: E712
    shafts = moves.mark_rule(color="#444").encode(
        x=X, y=Y, x2=alt.X2("x2"), y2=alt.Y2("y2"), strokeWidth=width, tooltip=tips
    )
    heads = moves.mark_point(shape="triangle-up", filled=True, color="#444").encode(
        x=alt.X("x2", type="quantitative", scale=xs, axis=None),
        y=alt.Y("y2", type="quantitative", scale=ys, axis=None),
        angle=alt.Angle("angle", type="quantitative", scale=None),
        size=alt.Size("p", type="quantitative", scale=alt.Scale(domain=[0, 1], range=[8, 160]), legend=None),
        tooltip=tips,
    )
    stays = (
        alt.Chart(charts.named("policy"))
        .transform_filter(alt.datum.stay == True)  # noqa: E712
        .mark_point(shape="circle", color="#444", filled=False)
        .encode(
            x=X,
            y=Y,
            size=alt.Size(
                "p", type="quantitative", scale=alt.Scale(domain=[0, 1], range=[10, 500]), legend=None
            ),
            strokeWidth=width,
            tooltip=tips,
        )
    )
    path = (
        alt.Chart(charts.named("path"))
        .mark_line(
            color=charts.NOW_COLOR,
            strokeWidth=3,
            strokeDash=[6, 3],
            point=alt.OverlayMarkDef(color=charts.NOW_COLOR, size=40),
        )
        .encode(
            x=X,
            y=Y,
            order=alt.Order("t", type="quantitative"),
            tooltip=[alt.Tooltip("t", type="quantitative")],
        )
    )
    agent = (
        alt.Chart(charts.named("agent"))
        .mark_point(
            shape="diamond",
            filled=True,
            size=cell * 9,
            color=charts.NOW_COLOR,
            stroke="black",
            strokeWidth=1.5,
        )
        .encode(x=X, y=Y)
    )
    return alt.layer(cells, names, glyphs, shafts, heads, stays, path, agent).properties(
        width=cell * cols, height=cell * rows
    )


LOOP_BOXES = pd.DataFrame({"x": [0.2, 6.3], "x2": [3.7, 9.8], "y": [1.2, 1.2], "y2": [2.8, 2.8]})
LOOP_EDGES = pd.DataFrame(
    {"x": [3.7, 6.3], "y": [3.4, 0.6], "x2": [6.3, 3.7], "y2": [3.4, 0.6], "angle": [90, 270]}
)


@charts.template
def loop_template() -> alt.LayerChart:
    """Agent and environment boxes ("boxes"), the two arrows ("edges") and the current values ("labels")."""
    xs = alt.Scale(domain=[0, 10], nice=False)
    ys = alt.Scale(domain=[0, 4], nice=False)
    X = alt.X("x", type="quantitative", scale=xs, axis=None)
    Y = alt.Y("y", type="quantitative", scale=ys, axis=None)
    boxes = (
        alt.Chart(charts.named("boxes"))
        .mark_rect(fill="#f4f4f4", stroke="#333", strokeWidth=1.5, cornerRadius=8)
        .encode(x=X, x2=alt.X2("x2"), y=Y, y2=alt.Y2("y2"))
    )
    # the arrows leave the boxes' sides and come back round: agent -> environment on top, back below
    elbows = pd.DataFrame(
        {
            "x": [1.95, 1.95, 8.05, 8.05, 8.05, 8.05, 1.95, 1.95],
            "y": [2.8, 3.4, 3.4, 2.8, 1.2, 0.6, 0.6, 1.2],
            "k": [0, 0, 0, 0, 1, 1, 1, 1],
            "o": [0, 1, 2, 3, 0, 1, 2, 3],
        }
    )
    lines = (
        alt.Chart(elbows)
        .mark_line(color="#333", strokeWidth=2)
        .encode(x=X, y=Y, detail=alt.Detail("k", type="nominal"), order=alt.Order("o", type="quantitative"))
    )
    heads = (
        alt.Chart(pd.DataFrame({"x": [8.05, 1.95], "y": [2.95, 1.05], "angle": [180, 0]}))
        .mark_point(shape="triangle-up", filled=True, size=260, color="#333")
        .encode(x=X, y=Y, angle=alt.Angle("angle", type="quantitative", scale=None))
    )
    labels = alt.Chart(charts.named("labels"))
    titles = (
        labels.transform_filter(alt.datum.bold == "bold")
        .mark_text(fontSize=16, fontWeight="bold")
        .encode(x=X, y=Y, text=alt.Text("text", type="nominal"))
    )
    values = (
        labels.transform_filter(alt.datum.bold != "bold")
        .mark_text(fontSize=14)
        .encode(x=X, y=Y, text=alt.Text("text", type="nominal"))
    )
    return alt.layer(boxes, lines, heads, titles, values)


@charts.template
def mc_template() -> alt.LayerChart:
    """Running mean of the sampled discounted returns with its ±2 SE band, and exact v_pi (dashed): "curve"."""
    names = [t(f"{P}.series_mean"), t(f"{P}.series_exact")]
    label = f"{names!r}[datum.series]".replace("'", '"')
    x = alt.X(
        "n", type="quantitative", title=t(f"{P}.episodes_axis"), scale=alt.Scale(type="log", nice=False),
        axis=charts.log_axis(),
    )
    y_title = t(f"{P}.return_axis")
    band = (
        alt.Chart()
        .transform_filter(alt.datum.series == 0)
        .mark_area(opacity=0.25, color="#1f77b4")
        .encode(
            x=x,
            y=alt.Y("lo", type="quantitative", title=y_title, scale=alt.Scale(zero=False)),
            y2=alt.Y2("hi"),
        )
    )
    span = (
        alt.Chart()
        .transform_filter(alt.datum.series == 2)
        .mark_point(opacity=0)
        .encode(x=x, y=alt.Y("g", type="quantitative", title=y_title, scale=alt.Scale(zero=False)))
    )
    lines = (
        alt.Chart()
        .transform_filter(alt.datum.series < 2)
        .mark_line(strokeWidth=2.5)
        .encode(
            x=x,
            y=alt.Y("g", type="quantitative", title=y_title, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "label",
                type="nominal",
                title=None,
                scale=alt.Scale(domain=names, range=["#1f77b4", "#c4480c"]),
            ),
            strokeDash=alt.StrokeDash(
                "label", type="nominal", title=None, scale=alt.Scale(domain=names, range=[[1, 0], [6, 4]])
            ),
            tooltip=[
                alt.Tooltip("n", type="quantitative"),
                alt.Tooltip("g", type="quantitative", format=".4f"),
            ],
        )
    )
    return alt.layer(band, lines, span, data=charts.named("curve")).transform_calculate(label=label)


def action_name(a: int) -> str:
    return f"{ARROWS[a]} {t(f'{P}.act_{ACTIONS[a]}')}"


# "Try this" presets; after one, its session values beat the URL the page was loaded with (issue 22)
BASE = {"grid": "3x3", "src": "optimal", "slip": 0.0, "gamma": 0.9, "start": 1, "T": 12, "seed": 0, "t": 0}
PRESETS = {
    "book_return": {**BASE, "pol": "det", "task": "continuing", "t": 12},
    "episodic": {**BASE, "pol": "det", "task": "episodic", "t": 4},
    "through_forbidden": {**BASE, "pol": "det", "src": "straight", "task": "continuing", "t": 4},
    "uniform_slip": {**BASE, "grid": "5x5", "pol": "uniform", "slip": 0.2, "task": "continuing", "N": 1000},
}
url_state.prefer_preset_values(PRESETS)

# 1. Title and lead ------------------------------------------------------------------------------
page.header(P)

# 2. Controls | main figure ------------------------------------------------------------------------
left, right = page.columns(2.3)
with left:
    grid = st.selectbox(
        t(f"{P}.grid"),
        tuple(GRIDS),
        format_func=widgets.labels({g: f"{P}.grid_{g}" for g in GRIDS}),
        key="grid",
        bind="query-params",
    )
    gw = world(grid)
    kind = st.selectbox(
        t(f"{P}.policy"),
        KINDS,
        format_func=widgets.labels({k: f"{P}.kind_{k}" for k in KINDS}),
        key="pol",
        bind="query-params",
    )
    source, custom, eps, pseed = "optimal", "", 0.0, 0
    if kind in ("det", "eps"):
        source = st.selectbox(
            t(f"{P}.arrows"),
            SOURCES,
            format_func=widgets.labels({s: f"{P}.src_{s}" for s in SOURCES}),
            key="src",
            bind="query-params",
        )
        if source == "custom":
            custom = st.text_input(
                t(f"{P}.custom"),
                rb.arrows_text(source_arrows(grid, "optimal"), gw.cols),
                key="arrows",
                bind="query-params",
                help=t(f"{P}.custom_help"),
            )
        if kind == "eps":
            eps = st.slider(t(f"{P}.eps"), 0.0, 1.0, 0.2, 0.05, key="eps", bind="query-params")
    elif kind == "cells":
        pseed = int(st.number_input(t(f"{P}.pseed"), 0, 999, 0, 1, key="pseed", bind="query-params"))
    slip = st.slider(
        t(f"{P}.slip"), 0.0, 0.5, 0.0, 0.05, key="slip", bind="query-params", help=t(f"{P}.slip_help")
    )
    task = st.radio(
        t(f"{P}.task"),
        TASKS,
        format_func=widgets.labels({k: f"{P}.task_{k}" for k in TASKS}),
        key="task",
        bind="query-params",
        horizontal=True,
        help=t(f"{P}.task_help"),
    )
    gamma = st.slider(t(f"{P}.gamma"), 0.0, 0.99, 0.9, 0.01, key="gamma", bind="query-params")
    c1, c2 = st.columns(2)
    widgets.keep_within("start", gw.num_states)
    start = c1.number_input(t(f"{P}.start"), 1, gw.num_states, 1, 1, key="start", bind="query-params") - 1
    T = c2.slider(t(f"{P}.T"), 1, 60, 12, 1, key="T", bind="query-params")
    seed = widgets.seed()

params = (grid, kind, source, custom, float(eps), int(pseed), float(slip), task)
env = page.keep_last_good(f"{P}_env", lambda: build(*params), t(f"{P}.err_arrows"))
if env is not None:
    params = env["key"]  # after bad arrows, the last good environment and its key
    start = min(int(start), env["rows"] * env["cols"] - 1)


def loop_labels(s_t: int, a_t: int | None, r: float | None, s_next: int | None, t_: int) -> pd.DataFrame:
    act = action_name(a_t) if a_t is not None else "–"
    nxt = f"s{s_next + 1}" if s_next is not None else "–"
    rew = f"{r:g}" if r is not None else "–"
    return pd.DataFrame(
        {
            "x": [1.95, 8.05, 5.0, 5.0, 1.95, 8.05],
            "y": [2.25, 2.25, 3.7, 0.3, 1.6, 1.6],
            "text": [
                t(f"{P}.loop_agent"),
                t(f"{P}.loop_env"),
                t(f"{P}.loop_action", t=t_, a=act),
                t(f"{P}.loop_feedback", t=t_ + 1, s=nxt, r=rew),
                f"s_{t_} = s{s_t + 1}  ·  π(·|s_{t_})",
                "p(s', r | s, a)",
            ],
            "bold": ["bold", "bold", "normal", "normal", "normal", "normal"],
        }
    )


@st.fragment
def step_section(env: dict, ep: dict, ep_key: tuple) -> None:
    """The step slider and the Step button rerun only this part: the grid, the loop and the table."""
    n = len(ep["a"])
    widgets.keep_within("t", n)
    b1, b2 = st.columns([3, 1], vertical_alignment="bottom")
    step = b1.slider(
        t(f"{P}.step"), 0, max(n, 1), 0, 1, key="t", bind="query-params", help=t(f"{P}.step_help")
    )
    step = min(step, n)

    def advance() -> None:
        st.session_state["t"] = min(int(st.session_state.get("t", 0)) + 1, n)

    b2.button(
        t(f"{P}.step_button"),
        key="step_btn",
        on_click=advance,
        icon=":material/skip_next:",
        width="stretch",
        disabled=step >= n,
    )
    s_now = int(ep["s"][step])
    rows, cols = env["rows"], env["cols"]
    fixed = env_frames(env["key"], env)
    g1, g2 = st.columns([1, 1.25])
    with g1:
        st.markdown(t(f"{P}.grid_title", t=step, s=s_now + 1))
        charts.show(
            grid_template(rows, cols, chart_height=max(40, 320 // max(rows, cols)) * rows),
            data={
                "cells": fixed["cells"],
                "policy": fixed["policy"],
                "path": trajectory_frame(ep["s"], cols, step),
                "agent": pd.DataFrame({"x": [s_now % cols + 0.5], "y": [s_now // cols + 0.5]}),
            },
            description=t(f"{P}.grid_desc", t=step, s=s_now + 1, n=n),
        )
    with g2:
        st.markdown(t(f"{P}.loop_title"))
        if step < n:
            a_t, r_t, s_n = int(ep["a"][step]), float(ep["r"][step]), int(ep["s"][step + 1])
            labels = loop_labels(s_now, a_t, r_t, s_n, step)
            desc = t(f"{P}.loop_desc", t=step, s=s_now + 1, a=action_name(a_t), r=f"{r_t:g}", s2=s_n + 1)
        else:
            labels = loop_labels(s_now, None, None, None, step)
            desc = t(f"{P}.loop_desc_end", t=step, s=s_now + 1)
        charts.show(
            loop_template(chart_height=charts.height(210)),
            data={"boxes": LOOP_BOXES, "labels": labels},
            description=desc,
        )
        if step >= n and env["terminal"] is not None and s_now in env["terminal"]:
            st.caption(t(f"{P}.episode_over", n=n))
        # P(s'|s, a) of the cell the agent is in, every action
        table = transition_table(env["key"], s_now, current_lang(), env)
        st.markdown(t(f"{P}.P_title", s=s_now + 1))
        st.dataframe(table, height=215)
    # the whole recorded episode (the CSV); the table shows it up to the current step
    k = step
    full = episode_table(ep_key, current_lang(), ep)
    traj = full.iloc[:k]
    ret = float(ep["r"][:k].sum())
    disc = float(ep["running"][k - 1]) if k else 0.0
    m1, m2, m3 = st.columns(3)
    m1.metric(t(f"{P}.steps_shown"), f"{k} / {n}")
    m2.metric(t(f"{P}.return"), f"{ret:g}")
    m3.metric(t(f"{P}.disc_return"), f"{disc:.4f}")
    if k:
        shown = min(k, 6)
        terms = " + ".join(f"{gamma_str(i)}\\cdot({ep['r'][i]:g})" for i in range(shown)) + (
            r" + \dots" if k > shown else ""
        )
        st.latex(rf"G = {terms} = {disc:.4f}")
    st.dataframe(traj, hide_index=True, height=min(35 * (k + 1) + 3, 250))
    page.download_csv(full, f"{P}_trajectory.csv")


@st.cache_data(max_entries=32, show_spinner=False)
def env_frames(key: tuple, _env: dict) -> dict[str, pd.DataFrame]:
    """The chart data that only the environment and policy decide: cells and arrows."""
    rows, cols = _env["rows"], _env["cols"]
    return {
        "cells": cells_frame(_env["kinds"], rows, cols),
        "policy": policy_frame(_env["policy"], rows, cols),
    }


@st.cache_data(max_entries=64, show_spinner=False)
def transition_table(key: tuple, s: int, lang: str, _env: dict) -> pd.DataFrame:
    """p(s'|s, a) for every action (rows) and the reachable s' (columns), with pi(a|s) in front."""
    m = _env["model"]
    reach = np.flatnonzero(m.P[s].max(0) > 0)
    table = pd.DataFrame(
        m.P[s][:, reach].round(3),
        index=[action_name(a) for a in range(len(ACTIONS))],
        columns=[f"s{j + 1}" for j in reach],
    )
    table.insert(0, "π(a|s)", _env["policy"][s].round(3))
    return table


@st.cache_data(max_entries=32, show_spinner=False)
def episode_table(key: tuple, lang: str, _ep: dict) -> pd.DataFrame:
    return episode_frame(_ep)


def episode_frame(ep: dict) -> pd.DataFrame:
    """(t, s_t, a_t, r_{t+1}, s_{t+1}, gamma^t r_{t+1}, running sum) for every step of the episode."""
    n = len(ep["a"])
    return pd.DataFrame(
        {
            "t": np.arange(n),
            "s_t": [f"s{s + 1}" for s in ep["s"][:n]],
            "a_t": [action_name(a) for a in ep["a"]],
            "r_{t+1}": ep["r"],
            "s_{t+1}": [f"s{s + 1}" for s in ep["s"][1:]],
            "γ^t·r_{t+1}": np.round(ep["terms"], 4),
            "Σ": np.round(ep["running"], 4),
        }
    )


def gamma_str(i: int) -> str:
    return {0: "1", 1: r"\gamma"}.get(i, rf"\gamma^{{{i}}}")


with right:
    if env is None:
        st.info(t(f"{P}.no_result"))
    else:
        ep = episode(params, start, int(T), float(gamma), int(seed), env)
        step_section(env, ep, (params, start, int(T), float(gamma), int(seed)))

page.prose(t(f"{P}.explain_loop"))

# The book's example: gamma^3 / (1 - gamma) -------------------------------------------------------------
st.subheader(t(f"{P}.book_title"))
bk1, bk2 = st.columns([1.2, 1])
with bk1:
    st.latex(
        r"s_1 \xrightarrow[r=0]{a_2} s_2 \xrightarrow[r=0]{a_3} s_5 \xrightarrow[r=0]{a_3} s_8"
        r"\xrightarrow[r=1]{a_2} s_9 \xrightarrow[r=1]{a_5} s_9 \xrightarrow[r=1]{a_5} \cdots"
    )
    st.latex(r"G = 0 + \gamma\cdot 0 + \gamma^2\cdot 0 + \gamma^3\cdot 1 + \gamma^4\cdot 1 + \dots")
    st.latex(r"\phantom{G} = \gamma^3(1 + \gamma + \gamma^2 + \dots) = \frac{\gamma^3}{1-\gamma}")
with bk2:
    g = float(gamma)
    st.markdown(
        t(
            f"{P}.book_values",
            gamma=f"{g:g}",
            cont=f"{g**3 / (1 - g):.4f}",
            epi=f"{g**3:.4f}",
        )
    )
    st.caption(t(f"{P}.book_src"))
page.prose(t(f"{P}.explain_return"))

# The Markov property --------------------------------------------------------------------------------
if env is not None:
    st.subheader(t(f"{P}.markov_title"))
    mk1, mk2 = st.columns([1, 1.3])
    cell_opts = list(range(env["rows"] * env["cols"]))
    with mk1:
        widgets.keep_within("mcell", len(cell_opts))
        mcell = (
            st.number_input(
                t(f"{P}.mcell"),
                1,
                len(cell_opts),
                min(5, len(cell_opts)),
                1,
                key="mcell",
                bind="query-params",
            )
            - 1
        )
        mact = st.selectbox(
            t(f"{P}.mact"),
            tuple(range(5)),
            index=1,
            format_func=lambda a: action_name(int(a)),
            key="mact",
            bind="query-params",
        )
        st.latex(r"p(s_{t+1}\mid s_t, a_t, s_{t-1}, a_{t-1}, \dots, s_0, a_0) = p(s_{t+1}\mid s_t, a_t)")
    with mk2:
        table = markov_view(params, int(mcell), int(mact), int(seed), current_lang(), env)
        if table is None:
            st.info(t(f"{P}.markov_none"))
        else:
            st.markdown(t(f"{P}.markov_table", s=mcell + 1, a=action_name(int(mact))))
            st.dataframe(table)
    page.prose(t(f"{P}.explain_markov"))

# Towards values: the mean of many discounted returns -------------------------------------------------
if env is not None:
    st.subheader(t(f"{P}.values_title"))
    v1, v2 = st.columns([1, 2.2])
    with v1:
        N = st.slider(t(f"{P}.N"), 10, MAX_MC, 500, 10, key="N", bind="query-params")
        res = values(params, start, float(gamma), int(N), int(seed), env)
        st.metric(t(f"{P}.mc_mean", s=start + 1), f"{res['mean']:.3f}", help=t(f"{P}.mc_mean_help"))
        st.metric(t(f"{P}.v_exact", s=start + 1), f"{res['v'][start]:.3f}")
        st.caption(t(f"{P}.mc_caption", se=f"{res['se']:.3f}", steps=res["steps"], N=int(N)))
    with v2:
        charts.show(
            mc_template(chart_height=charts.height(280)),
            data={"curve": res["curve"]},
            description=t(
                f"{P}.mc_desc", N=int(N), mean=f"{res['mean']:.3f}", v=f"{res['v'][start]:.3f}", s=start + 1
            ),
        )
    l1, l2 = st.columns(2)
    l1.page_link("pages/gridworld.py", label=t(f"{P}.link_gridworld"), icon=":material/grid_on:")
    l2.page_link("pages/monte_carlo.py", label=t(f"{P}.link_mc"), icon=":material/casino:")
    page.prose(t(f"{P}.explain_values"))


# 4. Try this ------------------------------------------------------------------------------------------
def preset_facts() -> dict[str, dict[str, str]]:
    g = 0.9
    facts = {
        "book_return": {
            "value": f"{g**3 / (1 - g):.3f}",
            "partial": f"{sum(g**i for i in range(3, 12)):.3f}",
        },
        "episodic": {"value": f"{g**3:.3f}"},
    }
    if st.session_state.get(f"_try_{P}") == "uniform_slip" and env is not None and params[0] == "5x5":
        r = values(params, start, float(gamma), int(st.session_state.get("N", 500)), int(seed), env)
        facts["uniform_slip"] = {
            "v": f"{r['v'][start]:.3f}",
            "mean": f"{r['mean']:.3f}",
            "se": f"{r['se']:.3f}",
        }
    else:
        facts["uniform_slip"] = {"v": "…", "mean": "…", "se": "…"}
    return facts


page.try_this(P, PRESETS, facts=preset_facts())

# 5. The math ------------------------------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"a_t \sim \pi(\cdot\mid s_t),\quad s_{t+1} \sim p(\cdot\mid s_t, a_t),\quad r_{t+1} = r(s_t, a_t, s_{t+1})",
            t(f"{P}.src_loop"),
        ),
        (
            r"p(s'\mid s,a) = (1-p)\,\mathbb 1[s' = s_a] + \frac{p}{3}\sum_{m \ne a,\ m \ne \text{stay}} \mathbb 1[s' = s_m]",
            t(f"{P}.src_slip"),
        ),
        (
            r"\pi_\varepsilon(a\mid s) = (1-\varepsilon)\,\mathbb 1[a = \text{arrow}(s)] + \frac{\varepsilon}{|\mathcal A|}",
            t(f"{P}.src_eps"),
        ),
        (r"G_0 = \sum_{t=0}^{T-1} \gamma^t r_{t+1}", t(f"{P}.src_return")),
        (
            r"v_\pi(s) = \mathbb E[G_t \mid S_t = s] \approx \frac1N \sum_{i=1}^N g^{(i)}, \quad v_\pi = (I-\gamma P_\pi)^{-1} r_\pi",
            t(f"{P}.src_value"),
        ),
    ],
)
