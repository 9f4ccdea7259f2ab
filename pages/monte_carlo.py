"""Monte Carlo control: MC Basic, MC Exploring Starts, MC epsilon-greedy on the book's grid world."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import mdp
from core import monte_carlo as mc
from core.gridworld import ACTIONS, GridWorld
from ui import charts, grid, page, widgets
from ui.i18n import t

P = "monte_carlo"
ALGOS = ("eps", "es", "basic")
MAX_STEPS = 4_000_000  # simulated steps per Run: ~4 s on one core (DESIGN.md: heavy work <= 5 s)
COMPARE_EPS = (0.0, 0.1, 0.2, 0.5)
PRESETS = {
    "basic_short": {"algo": "basic", "T": 4, "N": 1, "K": 10, "rf": -10.0, "gamma": 0.9, "k": 10},
    "basic_long": {"algo": "basic", "T": 100, "N": 1, "K": 10, "rf": -10.0, "gamma": 0.9, "k": 10},
    "greedy_blind": {
        "algo": "eps",
        "eps": 0.0,
        "T": 100,
        "N": 500,
        "K": 10,
        "rf": -10.0,
        "gamma": 0.9,
        "k": 10,
    },
    "explore": {"algo": "eps", "eps": 0.5, "T": 1000, "N": 100, "K": 10, "rf": -10.0, "gamma": 0.9, "k": 10},
}


class BudgetError(ValueError):
    pass


def steps_of(algo: str, T: int, N: int, K: int, S: int = 25, A: int = 5) -> int:
    # MC Basic runs N episodes from every one of the S*A pairs per iteration
    return T * N * K * (S * A if algo == "basic" else 1)


@st.cache_resource(show_spinner=False)
def world(rf: float) -> GridWorld:
    return GridWorld(r_forbidden=rf)


def run(
    algo: str, eps: float, T: int, N: int, K: int, visit: str, rf: float, gamma: float, seed: int
) -> mc.MCHistory:
    """A finished run, kept for every session (the newest 16); a new one shows a progress bar."""

    def simulate(report: page.Report) -> mc.MCHistory:
        gw = world(rf)
        rng = np.random.default_rng(seed)
        first = visit == "first"
        if algo == "basic":
            res = mc.mc_basic(gw.P, gw.R, gamma, T, K, rng, episodes_per_pair=N, progress=report)
        elif algo == "es":
            res = mc.mc_exploring_starts(gw.P, gw.R, gamma, T, N, K, rng, first_visit=first, progress=report)
        else:
            res = mc.mc_epsilon_greedy(
                gw.P, gw.R, gamma, eps, T, N, K, rng, first_visit=first, progress=report
            )
        return res.history

    key = (algo, eps, T, N, K, visit, rf, gamma, seed)
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
    )
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
params = (algo, float(eps), int(T), int(N), int(K), visit, float(rf), float(gamma), int(seed))
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
        )
    with g2:
        st.markdown(t(f"{P}.visits_title", k=k))
        charts.show(
            grid.visits_template(
                gw.rows, gw.cols, count_title=t(f"{P}.log_visits"), size=230, chart_height=230
            ),
            data={"visits": frames["visits"], "cells": frames["outline"]},
        )
    v_star = optimal_values(r_rf, r_gamma)
    m1, m2, m3 = st.columns(3)
    m1.metric(t(f"{P}.mean_est"), f"{hist.V[k].mean():.2f}")
    m2.metric(t(f"{P}.mean_exact"), f"{frames['v_pi'].mean():.2f}")
    m3.metric(t(f"{P}.mean_star"), f"{v_star.mean():.2f}")
    never = int((hist.visits[k] == 0).sum())
    st.caption(t(f"{P}.visits_caption", never=never, total=hist.visits[k].size))
    page.download_csv(frames["csv"], f"{P}_k{k}.csv")


with right:
    if result is None:
        st.info(t(f"{P}.no_result"))
    else:
        learned_section(result)

page.prose(t(f"{P}.explain"))

# Exploration costs optimality: several epsilons --------------------------------------------
st.subheader(t(f"{P}.compare_title"))
_, _, cT, cN, cK, cvisit, crf, cgamma, cseed = run_params
compare_keys = [("eps", e, cT, cN, cK, cvisit, crf, cgamma, cseed) for e in COMPARE_EPS]
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
    )
with cc2:
    st.markdown(t(f"{P}.compare_note"))
    if compare["leaves"] is not None:
        leaves, below = compare["leaves"]
        st.markdown(t(f"{P}.target_leaves", eps=f"{leaves:.2f}", below=f"{below:.2f}"))
    st.dataframe(compare["table"], hide_index=True)
page.prose(t(f"{P}.explain_compare"))

# 4. Try this ------------------------------------------------------------------------------
page.try_this(P, PRESETS)

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
    ],
)
