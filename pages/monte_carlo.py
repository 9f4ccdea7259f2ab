"""Monte Carlo control: MC Basic, MC Exploring Starts, MC epsilon-greedy on the book's grid world."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import mdp
from core import monte_carlo as mc
from core.gridworld import ACTIONS, GridWorld
from ui import charts, grid, page, url_state, widgets
from ui.i18n import t

P = "monte_carlo"
ALGOS = ("eps", "es", "basic")
MAX_STEPS = 4_000_000  # simulated steps per Run: ~4 s on one core (DESIGN.md: heavy work <= 5 s)
COMPARE_EPS = (0.0, 0.1, 0.2, 0.5)
AVERAGING = ("batch", "running")
# Every preset names the seed and the averaging: its sentence is checked at these values
# (tests/claims/test_monte_carlo.py), whatever was set before.
COMMON = {"rf": -10.0, "gamma": 0.9, "k": 10, "K": 10, "seed": 0, "avg": "batch", "visit": "every"}
PRESETS = {
    "basic_short": {**COMMON, "algo": "basic", "T": 4, "N": 1},
    "basic_long": {**COMMON, "algo": "basic", "T": 100, "N": 1},
    "greedy_blind": {**COMMON, "algo": "eps", "eps": 0.0, "sched": "constant", "T": 100, "N": 500},
    "explore": {**COMMON, "algo": "eps", "eps": 0.5, "sched": "constant", "T": 1000, "N": 100},
}
# the mean-estimation example: X takes these values with these probabilities
X_VALUES = np.array([-1.0, 0.0, 1.0, 5.0])
X_PROBS = np.array([0.2, 0.4, 0.3, 0.1])


class BudgetError(ValueError):
    pass


def steps_of(algo: str, T: int, N: int, K: int, S: int = 25, A: int = 5) -> int:
    # MC Basic runs N episodes from every one of the S*A pairs per iteration
    return T * N * K * (S * A if algo == "basic" else 1)


@st.cache_resource(show_spinner=False)
def world(rf: float) -> GridWorld:
    return GridWorld(r_forbidden=rf)


def run(
    algo: str,
    eps: float,
    T: int,
    N: int,
    K: int,
    visit: str,
    rf: float,
    gamma: float,
    seed: int,
    avg: str = "batch",
    sched: str = "constant",
) -> mc.MCHistory:
    """A finished run, kept for every session (the newest 16); a new one shows a progress bar."""

    def simulate(report: page.Report) -> mc.MCHistory:
        gw = world(rf)
        rng = np.random.default_rng(seed)
        first = visit == "first"
        if algo == "basic":
            res = mc.mc_basic(
                gw.P, gw.R, gamma, T, K, rng, episodes_per_pair=N, progress=report, averaging=avg
            )
        elif algo == "es":
            res = mc.mc_exploring_starts(
                gw.P, gw.R, gamma, T, N, K, rng, first_visit=first, progress=report, averaging=avg
            )
        else:
            eps_k = mc.epsilon_schedule(sched, eps, K)
            res = mc.mc_epsilon_greedy(
                gw.P, gw.R, gamma, eps_k, T, N, K, rng, first_visit=first, progress=report, averaging=avg
            )
        return res.history

    key = (algo, eps, T, N, K, visit, rf, gamma, seed, avg, sched)
    return page.with_progress(P, key, simulate, text=t(f"{P}.running"), max_entries=16)


@st.cache_data(max_entries=32, show_spinner=False)
def exact_curves(rf: float, gamma: float) -> pd.DataFrame:
    """Exact (model-based) reference: v* and the optimal epsilon-greedy policy for epsilon on a grid."""
    gw = world(rf)
    v_star = mdp.value_iteration(gw.P, gw.R, gamma).V
    target = gw.state(*gw.targets[0])
    rows = []
    for e in np.round(np.linspace(0, 0.95, 20), 2):  # at eps = 1 every action is equally likely
        best = mdp.epsilon_greedy_policy_iteration(gw.P, gw.R, gamma, float(e))
        rows.append(
            {
                "epsilon": float(e),
                "v_star": v_star.mean(),
                "v_eps_opt": best.V.mean(),
                "stays": bool(best.policy[target].argmax() == ACTIONS.index("stay")),
            }
        )
    return pd.DataFrame(rows)


@st.cache_data(max_entries=32, show_spinner=False)
def optimal_values(rf: float, gamma: float) -> np.ndarray:
    gw = world(rf)
    return mdp.value_iteration(gw.P, gw.R, gamma).V


@st.cache_data(max_entries=64, show_spinner=False)
def exact_value(policy: np.ndarray, rf: float, gamma: float) -> np.ndarray:
    gw = world(rf)
    return mdp.policy_evaluation(gw.P, gw.R, policy, gamma)


@st.cache_data(max_entries=32, show_spinner=False)
def iteration_frames(
    params: tuple, k: int, action_names: tuple[str, ...], _hist: mc.MCHistory
) -> dict[str, pd.DataFrame | np.ndarray]:
    """Iteration k of the run `params`, whose result `_hist` is (deterministic, so out of the key).

    "cells" for the grid figure; "visits" and "outline" for the visits figure;
    "v_pi" the exact value of the learned policy; "csv" the download.
    """
    rf, gamma = params[6], params[7]
    gw = world(rf)
    V, policy, visits = _hist.V[k], _hist.policy[k], _hist.visits[k]
    cells = grid.grid_frame(gw.kinds(), V, policy)
    v_pi = exact_value(policy, rf, gamma)
    csv = cells.assign(
        action=np.array(ACTIONS)[cells["action"]],
        v_exact=np.round(v_pi, 4),
        v_star=np.round(optimal_values(rf, gamma), 4),
        iteration=k,
        **{f"visits_{name}": visits[:, a] for a, name in enumerate(ACTIONS)},
    )
    return {
        "cells": cells,
        "visits": grid.visits_frame(gw.rows, gw.cols, visits, list(action_names)),
        "outline": grid.outline_frame(gw.rows, gw.cols),
        "v_pi": v_pi,
        "csv": csv,
    }


@st.cache_data(max_entries=32, show_spinner=False)
def compare_frames(
    rf: float,
    gamma: float,
    learned: tuple[tuple[float, float], ...],
    series: tuple[str, str],
    columns: tuple[str, str],
) -> dict:
    """The comparison's data: "curves" (the exact curves, long form, named by `series`),
    "learned" (epsilon, v_learned), "table" (its columns named by `columns`), and
    "leaves": (the smallest epsilon whose best policy leaves the target, the largest below it) or None.
    """
    curves = exact_curves(rf, gamma)
    eps, v_star, v_eps_opt = (curves[c].to_numpy() for c in ("epsilon", "v_star", "v_eps_opt"))
    learned_df = pd.DataFrame(list(learned), columns=["epsilon", "v_learned"])
    leaves = eps[~curves["stays"].to_numpy()]
    if len(leaves):
        below = eps[eps < leaves.min()]
        leaves_at = (float(leaves.min()), float(below.max()) if len(below) else np.nan)
    else:
        leaves_at = None
    table = pd.DataFrame(
        {
            "ε": learned_df["epsilon"],
            columns[0]: learned_df["v_learned"],
            columns[1]: [float(np.interp(e, eps, v_eps_opt)) for e in learned_df["epsilon"]],
            "v*": float(v_star[0]),
        }
    )
    return {
        "curves": pd.DataFrame(
            {
                "epsilon": np.tile(eps, 2),
                "v": np.concatenate([v_star, v_eps_opt]),
                "series": np.repeat(list(series), len(eps)),
            }
        ),
        "learned": learned_df,
        "table": table.round(2),
        "leaves": leaves_at,
    }


@charts.template
def compare_template() -> alt.LayerChart:
    """Mean exact value against epsilon: v* and the best epsilon-greedy policy, one line each
    ("curves": epsilon, v, series), and the learned policies as diamonds ("learned": epsilon, v_learned).
    """
    series_title = t(f"{P}.series")
    lines = charts.line(
        "curves",
        "epsilon",
        "v",
        color="series",
        color_title=series_title,
        x_title="ε",
        y_title=t(f"{P}.mean_value"),
    ).encode(strokeDash=alt.StrokeDash("series", type="nominal", title=series_title))  # not colour alone
    dots = (
        alt.Chart(charts.named("learned"))
        .mark_point(size=140, filled=True, shape="diamond", color="#c4480c")
        .encode(
            x=alt.X("epsilon", type="quantitative"),
            y=alt.Y("v_learned", type="quantitative"),
            tooltip=[
                alt.Tooltip("epsilon", type="quantitative"),
                alt.Tooltip("v_learned", type="quantitative", format=".2f"),
            ],
        )
    )
    return alt.layer(lines, dots)


# After a preset its session values beat the URL the page was loaded with (issue 22)
url_state.prefer_preset_values(PRESETS)

# 1. Title and lead ------------------------------------------------------------------
page.header(P)

# 2. Controls | main figure. Heavy work only on "Run": moving a control alone reruns
# nothing expensive, so the page stays instant (a plain button rather than st.form:
# the AppTest harness cannot drive selectboxes inside forms yet).
left, right = page.columns(2.2)
with left:
    algo = st.selectbox(
        t(f"{P}.algorithm"),
        ALGOS,
        format_func={a: t(f"{P}.algo_{a}") for a in ALGOS}.get,
        key="algo",
        bind="query-params",
    )
    eps = st.slider(
        t(f"{P}.epsilon"), 0.0, 1.0, 0.2, 0.05, key="eps", bind="query-params", help=t(f"{P}.epsilon_help")
    )
    sched = "constant"
    if algo == "eps":
        sched = st.selectbox(
            t(f"{P}.schedule"),
            mc.SCHEDULES,
            format_func=widgets.labels({k: f"{P}.sched_{k}" for k in mc.SCHEDULES}),
            key="sched",
            bind="query-params",
            help=t(f"{P}.schedule_help"),
        )
    T = st.slider(t(f"{P}.episode_length"), 1, 1000, 100, 1, key="T", bind="query-params")
    N = st.slider(
        t(f"{P}.episodes"), 1, 2000, 500, 1, key="N", bind="query-params", help=t(f"{P}.episodes_help")
    )
    K = st.slider(t(f"{P}.iterations"), 1, 30, 10, 1, key="K", bind="query-params")
    visit = st.radio(
        t(f"{P}.visit"),
        ("every", "first"),
        format_func={v: t(f"{P}.visit_{v}") for v in ("every", "first")}.get,
        key="visit",
        bind="query-params",
        horizontal=True,
        help=t(f"{P}.visit_help"),
    )
    avg = st.radio(
        t(f"{P}.averaging"),
        AVERAGING,
        format_func=widgets.labels({a: f"{P}.avg_{a}" for a in AVERAGING}),
        key="avg",
        bind="query-params",
        horizontal=True,
        help=t(f"{P}.averaging_help"),
    )
    c1, c2 = st.columns(2)
    with c1:
        rf = st.slider(t(f"{P}.r_forbidden"), -10.0, 0.0, -10.0, 1.0, key="rf", bind="query-params")
    with c2:
        gamma = st.slider(t(f"{P}.gamma"), 0.5, 0.99, 0.9, 0.01, key="gamma", bind="query-params")
    seed = widgets.seed()
    # the request is recorded in a callback (before the rerun), not read from the
    # button's return value, so it survives whatever reruns the router makes
    st.button(
        t(f"{P}.run"),
        key="mc_run",
        type="primary",
        icon=":material/play_arrow:",
        width="stretch",
        on_click=lambda: st.session_state.update({f"_{P}_run_requested": True}),
    )
    submitted = st.session_state.pop(f"_{P}_run_requested", False)

# A run happens on "Run", on a "Try this" preset, and on a first visit (so a shared
# URL shows its own result); moving a slider alone never starts heavy work.
params = (algo, float(eps), int(T), int(N), int(K), visit, float(rf), float(gamma), int(seed), avg, sched)
# page.try_this applies a preset in a button callback and records its name; the
# controls then hold exactly the preset's values.
marker = st.session_state.get(f"_try_{P}")
preset_clicked = marker in PRESETS and all(
    st.session_state.get(key) == value for key, value in PRESETS[marker].items() if key != "k"
)
if submitted or preset_clicked or f"_{P}_params" not in st.session_state:
    st.session_state[f"_{P}_params"] = params
run_params = st.session_state[f"_{P}_params"]


def compute() -> tuple[tuple, mc.MCHistory]:
    a, e, T_, N_, K_ = run_params[:5]
    if steps_of(a, T_, N_, K_) > MAX_STEPS:
        raise BudgetError("too many steps")
    return run_params, run(*run_params)


with right:
    result = page.keep_last_good(
        f"{P}_run",
        compute,
        lambda exc: t(
            f"{P}.err_budget", steps=f"{steps_of(*run_params[:1], *run_params[2:5]):,}", max=f"{MAX_STEPS:,}"
        ),
    )
    if result is not None and result[0] != params:
        st.caption(t(f"{P}.press_run"))


@st.fragment
def learned_section(result: tuple) -> None:
    """Scrubbing the iteration reruns only this part."""
    params, hist = result
    r_rf, r_gamma = params[6], params[7]
    gw = world(r_rf)
    K_run = len(hist.V) - 1
    widgets.keep_within("k", K_run)
    k = st.slider(t(f"{P}.iteration"), 0, max(K_run, 1), K_run, key="k", bind="query-params")
    k = min(k, K_run)
    frames = iteration_frames(params, k, tuple(t(f"{P}.act_{a}") for a in ACTIONS), hist)
    g1, g2 = st.columns([1.15, 1])
    with g1:
        st.markdown(t(f"{P}.learned_title", k=k))
        charts.show(
            grid.grid_template(
                gw.rows,
                gw.cols,
                value_title=t(f"{P}.value_est"),
                x_title=t(f"{P}.col"),
                y_title=t(f"{P}.row"),
                size=280,
                chart_height=grid.cell_size(gw.rows, gw.cols, 280) * gw.rows,
            ),
            data={"cells": frames["cells"]},
            description=t(f"{P}.learned_desc", k=k, mean=f"{hist.V[k].mean():.2f}"),
        )
    with g2:
        st.markdown(t(f"{P}.visits_title", k=k))
        charts.show(
            grid.visits_template(
                gw.rows, gw.cols, count_title=t(f"{P}.log_visits"), size=230, chart_height=230
            ),
            data={"visits": frames["visits"], "cells": frames["outline"]},
            description=t(
                f"{P}.visits_desc", k=k, never=int((hist.visits[k] == 0).sum()), total=hist.visits[k].size
            ),
        )
    v_star = optimal_values(r_rf, r_gamma)
    m1, m2, m3 = st.columns(3)
    m1.metric(t(f"{P}.mean_est"), f"{hist.V[k].mean():.2f}")
    m2.metric(t(f"{P}.mean_exact"), f"{frames['v_pi'].mean():.2f}")
    m3.metric(t(f"{P}.mean_star"), f"{v_star.mean():.2f}")
    never = int((hist.visits[k] == 0).sum())
    st.caption(t(f"{P}.visits_caption", never=never, total=hist.visits[k].size))
    r_algo, r_eps, r_K, r_avg, r_sched = params[0], params[1], params[4], params[9], params[10]
    st.caption(t(f"{P}.avg_caption_{r_avg}"))
    if r_algo == "eps" and r_sched != "constant":
        eps_k = mc.epsilon_schedule(r_sched, r_eps, r_K)
        st.caption(t(f"{P}.glie_caption", first=f"{eps_k[0]:.3g}", last=f"{eps_k[-1]:.3g}", K=r_K))
    page.download_csv(frames["csv"], f"{P}_k{k}.csv")


with right:
    if result is None:
        st.info(t(f"{P}.no_result"))
    else:
        learned_section(result)

page.prose(t(f"{P}.explain"))


# Mean estimation: with a model, sum p(x) x; without one, data -------------------------------------
@st.cache_data(max_entries=16, show_spinner=False)
def mean_path(n: int, seed: int) -> tuple[float, pd.DataFrame, float]:
    exact, path = mc.running_sample_mean(X_VALUES, X_PROBS, n, np.random.default_rng(seed))
    idx = np.unique(np.geomspace(1, n, min(n, 400)).astype(int)) - 1
    frame = pd.DataFrame(
        {
            "n": np.concatenate([idx + 1, [1, n]]),
            "mean": np.concatenate([path[idx], [exact, exact]]),
            "series": np.array([0] * len(idx) + [1, 1]),
        }
    )
    return exact, frame, float(path[-1])


@charts.template
def mean_template() -> alt.Chart:
    """Running sample mean and the model's sum p(x) x (dashed), one frame "path" with series 0 / 1."""
    names = [t(f"{P}.series_sample_mean"), t(f"{P}.series_model_mean")]
    label = f"{names!r}[datum.series]".replace("'", '"')
    return (
        alt.Chart(charts.named("path"))
        .transform_calculate(label=label)
        .mark_line(strokeWidth=2.5)
        .encode(
            x=alt.X(
                "n",
                type="quantitative",
                title=t(f"{P}.samples_axis"),
                scale=alt.Scale(type="log", nice=False),
                axis=charts.log_axis(),
            ),
            y=alt.Y("mean", type="quantitative", title=t(f"{P}.mean_axis"), scale=alt.Scale(zero=False)),
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
                alt.Tooltip("mean", type="quantitative", format=".3f"),
            ],
        )
    )


@st.fragment
def mean_section() -> None:
    st.subheader(t(f"{P}.mean_title"))
    me1, me2 = st.columns([1, 1.8])
    with me1:
        st.dataframe(pd.DataFrame([X_PROBS], columns=[f"x = {x:g}" for x in X_VALUES], index=["p(x)"]))
        ns = st.slider(t(f"{P}.samples"), 1, 5_000, 100, 1, key="ns", bind="query-params")
        exact, frame, last = mean_path(int(ns), 0)
        st.latex(rf"\mathbb E[X] = \sum_x p(x)\,x = {exact:.2f}")
        st.latex(
            rf"\bar x_{{{int(ns)}}} = \frac{{1}}{{{int(ns)}}}\sum_{{i=1}}^{{{int(ns)}}} x_i = {last:.3f}"
        )
    with me2:
        charts.show(
            mean_template(chart_height=charts.height(220)),
            data={"path": frame},
            description=t(f"{P}.mean_desc", n=int(ns), last=f"{last:.3f}", exact=f"{exact:.2f}"),
        )
    page.prose(t(f"{P}.explain_mean"))


mean_section()

# Exploration costs optimality: several epsilons --------------------------------------------
st.subheader(t(f"{P}.compare_title"))
_, _, cT, cN, cK, cvisit, crf, cgamma, cseed, cavg, _ = run_params
compare_keys = [("eps", e, cT, cN, cK, cvisit, crf, cgamma, cseed, cavg, "constant") for e in COMPARE_EPS]
learned: list[tuple[float, float]] = []
if 4 * steps_of("eps", cT, cN, cK) <= MAX_STEPS:
    for key in compare_keys:  # each run not yet stored shows its own progress bar
        h = run(*key)
        learned.append((key[1], float(exact_value(h.policy[-1], crf, cgamma).mean())))
else:
    st.info(t(f"{P}.compare_skipped"))
compare = compare_frames(
    crf,
    cgamma,
    tuple(learned),
    (t(f"{P}.series_star"), t(f"{P}.series_eps_opt")),
    (t(f"{P}.col_learned"), t(f"{P}.col_eps_opt")),
)
cc1, cc2 = st.columns([1.6, 1])
with cc1:
    charts.show(
        compare_template(chart_height=charts.height(300)),
        data={"curves": compare["curves"], "learned": compare["learned"]},
        description=t(f"{P}.compare_desc", vstar=f"{compare['curves']['v'].iloc[0]:.2f}"),
    )
with cc2:
    st.markdown(t(f"{P}.compare_note"))
    if compare["leaves"] is not None:
        leaves, below = compare["leaves"]
        st.markdown(t(f"{P}.target_leaves", eps=f"{leaves:.2f}", below=f"{below:.2f}"))
    st.dataframe(compare["table"], hide_index=True)
page.prose(t(f"{P}.explain_compare"))


# 4. Try this ------------------------------------------------------------------------------
def blind_facts(result: tuple | None) -> dict[str, dict[str, str]]:
    """greedy_blind's sentence in numbers: the run on screen when it is that preset's run."""
    facts = {"greedy_blind": {"pairs": "…", "v": "…", "vstar": "…"}}
    if result is None or result[0][0] != "eps" or result[0][1] != 0.0:
        return facts
    r_params, hist = result
    after = int(((hist.visits[-1] - hist.visits[1]) > 0).sum())
    v = float(exact_value(hist.policy[-1], r_params[6], r_params[7]).mean())
    vstar = float(optimal_values(r_params[6], r_params[7]).mean())
    facts["greedy_blind"] = {"pairs": str(after), "v": f"{v:.2f}", "vstar": f"{vstar:.2f}"}
    return facts


page.try_this(P, PRESETS, facts=blind_facts(result))

# 5. The math ------------------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"q_\pi(s,a) = \mathbb{E}[G_t \mid S_t=s, A_t=a] \approx \frac{1}{n}\sum_{i=1}^{n} g^{(i)}(s,a)",
            t(f"{P}.src_mean"),
        ),
        (r"g \leftarrow \gamma g + r_{t+1},\quad t = T-1, \dots, 0", t(f"{P}.src_return")),
        (
            r"\pi_{k+1}(a|s) = \begin{cases} 1 - \frac{|\mathcal A|-1}{|\mathcal A|}\,\varepsilon & a = \arg\max_{a'} q_k(s,a') \\ \frac{\varepsilon}{|\mathcal A|} & \text{otherwise}\end{cases}",
            t(f"{P}.src_eps"),
        ),
        (r"v_\pi = (I - \gamma P_\pi)^{-1} r_\pi", t(f"{P}.src_exact")),
        (
            r"\mathrm{Returns}(s,a) \mathrel{+}= g,\quad \mathrm{Num}(s,a) \mathrel{+}= 1,\quad"
            r"q(s,a) = \frac{\mathrm{Returns}(s,a)}{\mathrm{Num}(s,a)}",
            t(f"{P}.src_running"),
        ),
        (
            r"\varepsilon_k = \frac{\varepsilon}{k}\ \text{or}\ \varepsilon\Big(1 - \frac kK\Big)",
            t(f"{P}.src_glie"),
        ),
        (
            r"\mathbb E[X] = \sum_x p(x)\,x \;\approx\; \bar x_n = \frac1n\sum_{i=1}^n x_i",
            t(f"{P}.src_mean_est"),
        ),
    ],
)
