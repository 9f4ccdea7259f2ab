"""Grid world & Bellman equations: value iteration, policy iteration, truncated policy iteration."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import mdp
from core.gridworld import ACTIONS, ARROWS, BOOK_LAYOUT, GridWorld, GridWorldError
from ui import charts, grid, page, url_state, widgets
from ui.i18n import t

P = "gridworld"
ALGOS = ("vi", "pi", "tpi")
MAX_ITER = 5_000  # value iteration at gamma = 0.99 needs ~2,100 sweeps to reach 1e-8


@st.cache_data(max_entries=32, show_spinner=False)
def solve(
    layout: str, rb: float, rf: float, rt: float, ro: float, gamma: float, algo: str, sweeps: int
) -> dict:
    """Build the grid, run the chosen algorithm, and the exact v* for the error curve.

    {"error": ...} when the iterations do not converge (see `solved`).
    """
    gw = GridWorld.from_layout(layout, r_boundary=rb, r_forbidden=rf, r_target=rt, r_other=ro)
    if algo == "pi":
        res = mdp.policy_iteration(gw.P, gw.R, gamma)  # raises NotConvergedError at gamma = 1
    elif algo == "tpi":
        res = mdp.truncated_policy_iteration(gw.P, gw.R, gamma, sweeps, tol=1e-8, max_iter=MAX_ITER)
    else:
        res = mdp.value_iteration(gw.P, gw.R, gamma, tol=1e-8, max_iter=MAX_ITER)
    if not res.converged:
        # kept like a result: at gamma = 1 the iterations that fail cost 0.2-0.5 s, on every rerun otherwise
        return {"error": f"no convergence in {MAX_ITER} iterations"}
    # v* exactly: evaluate the final greedy policy with a linear solve
    V_star = mdp.policy_evaluation(gw.P, gw.R, res.policy, gamma)
    r_pi, P_pi = mdp.policy_matrices(gw.P, gw.R, res.policy)
    # max_s |v_k(s) - v*(s)|, floored for the log axis
    err = np.maximum(np.abs(res.history - V_star).max(axis=1), 1e-12)
    curve = pd.DataFrame({"k": np.arange(len(err)), "err": err})
    if len(curve) > 1_000:  # stay far under the 5,000-row chart budget: log-spaced k
        curve = curve.iloc[np.unique(np.geomspace(1, len(err), 800).astype(int) - 1)]
    S = len(V_star)
    return {
        "kinds": gw.kinds(),
        "history": res.history,
        "policies": res.policies,
        "V_star": V_star,
        "err": err,
        "curve": curve,
        "r_pi": r_pi,
        "P_pi": P_pi,
        "P_frame": pd.DataFrame(
            {"s": np.repeat(np.arange(1, S + 1), S), "s2": np.tile(np.arange(1, S + 1), S), "p": P_pi.ravel()}
        ),
        "rows": gw.rows,
        "cols": gw.cols,
        "algo": algo,
        "gamma": gamma,
    }


@charts.template
def error_template() -> alt.LayerChart:
    """max_s |v_k(s) - v*(s)| against k on a log axis ("curve"), the shown k marked ("now")."""
    curve = charts.line(
        "curve",
        "k",
        "err",
        x_title=t(f"{P}.iteration_k"),
        y_title=t(f"{P}.max_error"),
        log_y=True,
        whole_x=True,
    )
    return alt.layer(curve, charts.rule("now", "k"))


@charts.template
def transition_template() -> alt.Chart:
    """The matrix P_pi(s, s') of the final policy ("P")."""
    return charts.heatmap(
        "P",
        "s2",
        "s",
        "p",
        x_title=t(f"{P}.next_state"),
        y_title=t(f"{P}.state"),
        value_title="P_π(s, s')",
        scheme="greys",
    )


def solved(*args) -> dict:
    """`solve`'s result, or its cached failure raised again (for `page.keep_last_good`)."""
    sol = solve(*args)
    if "error" in sol:
        raise mdp.NotConvergedError(sol["error"])
    return sol


def error_message(exc: Exception) -> str:
    if isinstance(exc, GridWorldError):
        return t(f"{P}.err_{exc.code}")
    if isinstance(exc, mdp.NotConvergedError):
        return t(f"{P}.err_no_convergence")
    return t(f"{P}.err_bad_input")


# Every key a preset sets: after a preset its session value beats the URL the page loaded with
PRESET_KEYS = ("layout", "rb", "rf", "rt", "ro", "gamma", "algo", "sweeps", "k")
url_state.prefer_session_values(PRESET_KEYS)

# 1. Title and lead --------------------------------------------------------------
page.header(P)

# 2. Controls | main figure ---------------------------------------------------------
left, right = page.columns(2.2)
with left:
    gamma = st.slider(t(f"{P}.gamma"), 0.0, 1.0, 0.9, 0.01, key="gamma", bind="query-params")
    algo = st.selectbox(
        t(f"{P}.algorithm"),
        ALGOS,
        format_func={a: t(f"{P}.algo_{a}") for a in ALGOS}.get,
        key="algo",
        bind="query-params",
    )
    sweeps = 5
    if algo == "tpi":  # the sweep count exists only for truncated policy iteration
        sweeps = st.slider(
            t(f"{P}.sweeps"), 1, 50, 5, 1, key="sweeps", bind="query-params", help=t(f"{P}.sweeps_help")
        )
    c1, c2 = st.columns(2)
    rb = c1.slider(t(f"{P}.r_boundary"), -10.0, 5.0, -1.0, 0.5, key="rb", bind="query-params")
    rf = c2.slider(t(f"{P}.r_forbidden"), -10.0, 5.0, -1.0, 0.5, key="rf", bind="query-params")
    rt = c1.slider(t(f"{P}.r_target"), -5.0, 10.0, 1.0, 0.5, key="rt", bind="query-params")
    ro = c2.slider(t(f"{P}.r_other"), -5.0, 5.0, 0.0, 0.5, key="ro", bind="query-params")
    with st.expander(t(f"{P}.edit_grid"), icon=":material/grid_on:"):
        layout = st.text_area(
            t(f"{P}.layout"),
            BOOK_LAYOUT,
            height=150,
            key="layout",
            bind="query-params",
            help=t(f"{P}.layout_help"),
        )
        st.caption(t(f"{P}.layout_help"))

sol = page.keep_last_good(
    f"{P}_solution", lambda: solved(layout, rb, rf, rt, ro, gamma, algo, sweeps), error_message
)


@st.fragment
def figure_section(sol: dict) -> None:
    """Scrubbing k reruns only this part: the grid at iteration k and the error curve."""
    history, policies, V_star, err = sol["history"], sol["policies"], sol["V_star"], sol["err"]
    K = len(history) - 1
    widgets.keep_within("k", max(K, 1))  # a preset or an earlier grid may leave k above the new maximum
    k = st.slider(t(f"{P}.iteration"), 0, max(K, 1), min(K, 3), key="k", bind="query-params")
    k = min(k, K)
    g1, g2 = st.columns([1.4, 1])
    df = grid.grid_frame(sol["kinds"], history[k], policies[k])
    with g1:
        st.markdown(t(f"{P}.grid_title", k=k))
        rows, cols = sol["rows"], sol["cols"]
        charts.show(
            grid.grid_template(
                rows,
                cols,
                value_title=t(f"{P}.value"),
                x_title=t(f"{P}.col"),
                y_title=t(f"{P}.row"),
                chart_height=grid.cell_size(rows, cols) * rows,
            ),
            data={"cells": df},
            description=t(f"{P}.grid_desc", k=k, err=f"{err[k]:.2e}"),
        )
    with g2:
        st.markdown(t(f"{P}.curve_title"))
        charts.show(
            error_template(chart_height=charts.height(300)),
            data={"curve": sol["curve"], "now": charts.now("k", k)},
            description=t(f"{P}.curve_desc", K=K, k=k, err=f"{err[k]:.2e}"),
        )
    # the solved algorithm: after a failed solve the last good result is shown
    st.caption(t(f"{P}.status", algo=t(f"{P}.algo_{sol['algo']}"), K=K, err=f"{err[k]:.2e}"))
    csv = df.assign(action=np.array(ACTIONS)[df["action"]], V_star=np.round(V_star, 6), iteration=k)
    page.download_csv(csv, f"{P}_k{k}.csv")


with right:
    if sol is None:
        st.info(t(f"{P}.no_result"))
    else:
        figure_section(sol)

page.prose(t(f"{P}.explain"))

# The Bellman equation in matrix form, next to the solved values ----------------------
if sol is not None:
    st.subheader(t(f"{P}.bellman_title"))
    b1, b2 = st.columns([1, 1.3])
    with b1:
        st.latex(
            r"v_\pi = r_\pi + \gamma P_\pi v_\pi \;\Longleftrightarrow\; v_\pi = (I - \gamma P_\pi)^{-1} r_\pi"
        )
        # the solution's own discount: after a failed solve the last good result is shown
        V, r_pi, P_pi, g = sol["V_star"], sol["r_pi"], sol["P_pi"], sol["gamma"]
        S = len(V)
        cols = sol["cols"]
        nxt = P_pi.argmax(1)  # deterministic moves: the one s' with P_pi(s, s') = 1
        table = pd.DataFrame(
            {
                t(f"{P}.state"): [f"s{s + 1} ({s // cols + 1},{s % cols + 1})" for s in range(S)],
                "π(s)": np.array(ARROWS)[sol["policies"][-1].argmax(1)],
                "r_π(s)": np.round(r_pi, 3),
                "s'": [f"s{j + 1}" for j in nxt],
                "v(s')": np.round(V[nxt], 3),
                f"r_π + {g:g}·v(s')": np.round(r_pi + g * P_pi @ V, 3),
                "v(s)": np.round(V, 3),
            }
        )
        st.dataframe(table, hide_index=True, height=260)
        st.caption(t(f"{P}.bellman_check", res=f"{np.abs(r_pi + g * P_pi @ V - V).max():.1e}"))
    with b2:
        st.markdown(t(f"{P}.P_title"))
        charts.show(
            transition_template(chart_height=charts.height(300)),
            data={"P": sol["P_frame"]},
            description=t(f"{P}.P_desc", S=S),
        )
    page.prose(t(f"{P}.explain_bellman"))

# 4. Try this ----------------------------------------------------------------------------
BOOK = {"layout": BOOK_LAYOUT, "rb": -1.0, "rt": 1.0, "ro": 0.0, "k": 200}
page.try_this(
    P,
    {
        "far_sighted": {**BOOK, "rf": -1.0, "gamma": 0.9, "algo": "vi"},
        "short_sighted": {**BOOK, "rf": -1.0, "gamma": 0.5, "algo": "vi"},
        "strict": {**BOOK, "rf": -10.0, "gamma": 0.9, "algo": "pi"},
        "truncated": {**BOOK, "rf": -1.0, "gamma": 0.9, "algo": "tpi", "sweeps": 1, "k": 10},
    },
)

# 5. The math ---------------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"v_\pi(s) = \sum_a \pi(a|s)\Big[r(s,a) + \gamma \sum_{s'} p(s'|s,a)\, v_\pi(s')\Big]",
            t(f"{P}.src_bellman"),
        ),
        (
            r"v_\pi = r_\pi + \gamma P_\pi v_\pi,\qquad v_\pi = (I-\gamma P_\pi)^{-1} r_\pi",
            t(f"{P}.src_matrix"),
        ),
        (r"v_{k+1}(s) = \max_a \Big[r(s,a) + \gamma \sum_{s'} p(s'|s,a)\, v_k(s')\Big]", t(f"{P}.src_vi")),
        (
            r"\pi_{k+1} = \arg\max_\pi\,(r_\pi + \gamma P_\pi v_{\pi_k}),\quad v_{\pi_k} = (I - \gamma P_{\pi_k})^{-1} r_{\pi_k}",
            t(f"{P}.src_pi"),
        ),
        (
            r"v^{(j+1)} = r_{\pi_k} + \gamma P_{\pi_k} v^{(j)},\ j = 0..j_{\mathrm{trunc}}-1,\quad v^{(0)} = v_{k-1}",
            t(f"{P}.src_tpi"),
        ),
        (r"\|v_{k+1} - v^*\|_\infty \le \gamma\, \|v_k - v^*\|_\infty", t(f"{P}.src_contraction")),
    ],
)
