"""GRPO: group-relative advantages, rule-based rewards and a toy that learns to think longer."""

from typing import NamedTuple

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st

from core import grpo as core
from ui import charts, page, widgets
from ui.i18n import t

P = "grpo"
METHOD_NAMES = {"grpo": "GRPO", "reinforce": "REINFORCE", "ppo": "PPO"}
LR_OPTIONS = ("0.001", "0.002", "0.005", "0.01", "0.02")  # strings: exact in the URL
MAX_RUNS = 24  # trained settings kept in memory (each a few kB of curves)
CURVES = ("pass1", "length", "kl", "zero_adv_frac")  # the training figure's panels


# --- cached computation ---------------------------------------------------------------------------


@st.cache_data(max_entries=64, show_spinner=False)
def group_table(
    num_correct: int, group_size: int, length_cost: float, format_weight: float, problem: int
) -> core.Group:
    return core.example_group(num_correct, group_size, length_cost, format_weight, seed=problem)


class Run(NamedTuple):
    """One setting's training, as the page shows it."""

    curves: pd.DataFrame  # every logged curve per (method, step): the CSV download
    plot: pa.Table  # the curves the training figure draws (`CURVES`), per (method, step)
    by_digits: pd.DataFrame  # thinking tokens per number of digits, per policy
    summary: dict[str, tuple[float, float, float, float]]  # accuracy and length, first -> last steps


def _to_run(runs: dict[str, core.History]) -> Run:
    curves = pd.concat(
        [
            pd.DataFrame(
                {
                    "step": np.arange(1, len(h.pass1) + 1),
                    "method": METHOD_NAMES[m],
                    "pass1": h.pass1,
                    "accuracy": h.accuracy,
                    "length": h.length,
                    "kl": h.kl,
                    "zero_adv_frac": h.zero_adv_frac,
                    "reward": h.reward,
                }
            )
            for m, h in runs.items()
        ],
        ignore_index=True,
    )
    D = runs["grpo"].config.max_digits
    digits = np.arange(1, D + 1)
    rows = [pd.DataFrame({"digits": digits, "series": "base", "tokens": runs["grpo"].length_by_digits[0]})]
    rows += [
        pd.DataFrame({"digits": digits, "series": METHOD_NAMES[m], "tokens": h.length_by_digits[1]})
        for m, h in runs.items()
    ]
    rows.append(pd.DataFrame({"digits": digits, "series": "needed", "tokens": digits.astype(float)}))
    # accuracy and length: first step -> mean of the last 10 steps
    summary = {
        METHOD_NAMES[m]: (h.pass1[0], h.pass1[-10:].mean(), h.length[0], h.length[-10:].mean())
        for m, h in runs.items()
    }
    # An Arrow table: Streamlit sends it as it is, where a DataFrame is converted on every rerun.
    plot = pa.Table.from_pandas(curves[["step", "method", *CURVES]], preserve_index=False)
    return Run(curves, plot, pd.concat(rows, ignore_index=True), summary)


def training_runs(cfg: core.Config, seed: int) -> Run:
    """Curves for GRPO, REINFORCE and PPO at this setting: from memory, or trained now with a progress bar."""
    return page.with_progress(
        P,
        (cfg, seed),
        lambda report: _to_run(core.train_all(cfg, seed, report)),
        text=t(f"{P}.training"),
        max_entries=MAX_RUNS,
    )


# 1. Title and lead --------------------------------------------------------------------------------
page.header(P)


# Part 1: one group ---------------------------------------------------------------------------------
@charts.template
def advantage_template() -> alt.Chart:
    """One bar per answer: its advantage, green if right, orange if wrong ("bars", from `advantage_data`)."""
    right_, wrong_ = t(f"{P}.right"), t(f"{P}.wrong")
    return (
        alt.Chart(charts.named("bars"))
        .mark_bar()
        .encode(
            x=alt.X("i", type="ordinal", title=t(f"{P}.response_i"), axis=alt.Axis(labelAngle=0)),
            y=alt.Y("A", type="quantitative", title=t(f"{P}.advantage"), scale=alt.Scale(domain=[-3, 3])),
            color=alt.Color(
                "ok",
                type="nominal",
                title=t(f"{P}.answer"),
                scale=alt.Scale(domain=[right_, wrong_], range=[charts.CATEGORY[0], charts.CATEGORY[2]]),
            ),
            tooltip=[alt.Tooltip("i", type="ordinal"), alt.Tooltip("A", type="quantitative", format=".3f")],
        )
    )


def advantage_data(g: core.Group) -> dict[str, pa.Table]:
    """The frame of `advantage_template`, as an Arrow table: Streamlit sends it as it is."""
    ok = np.where(g.correct, t(f"{P}.right"), t(f"{P}.wrong"))
    return {"bars": pa.table({"i": np.arange(1, len(g.rewards) + 1), "A": g.advantages, "ok": ok})}


@st.fragment
def group_section() -> None:
    """Moving a group control reruns only this section."""
    st.subheader(t(f"{P}.group_title"))
    left, right = page.columns()
    with left:
        gG = st.slider(t(f"{P}.group_size"), 2, 16, 8, 1, key="gG", bind="query-params")
        n_right = st.slider(t(f"{P}.num_correct"), 0, 16, 3, 1, key="right", bind="query-params")
        g_cost = st.slider(
            t(f"{P}.length_cost"),
            0.0,
            0.3,
            0.0,
            0.01,
            key="gcost",
            bind="query-params",
            help=t(f"{P}.length_cost_help"),
        )
        g_fmt = st.slider(
            t(f"{P}.format_weight"),
            0.0,
            0.5,
            0.0,
            0.05,
            key="gfmt",
            bind="query-params",
            help=t(f"{P}.format_weight_help"),
        )
        problem = st.number_input(t(f"{P}.problem"), 0, 999, 7, 1, key="prob", bind="query-params")
        if n_right > gG:
            st.warning(t(f"{P}.too_many_correct", n=n_right, G=gG), icon=":material/warning:")
            n_right = gG
    g = group_table(int(n_right), int(gG), float(g_cost), float(g_fmt), int(problem))
    with right:
        st.markdown(t(f"{P}.group_prompt", a=g.a, b=g.b))
        charts.show(
            advantage_template(chart_height=charts.height(230)),
            data=advantage_data(g),
            description=t(
                f"{P}.advantage_desc",
                G=gG,
                right=int(g.correct.sum()),
                top=f"{float(g.advantages.max()):.2f}",
            ),
        )
        cols = [t(f"{P}.col_{c}") for c in ("correct", "k", "reward", "adv", "reinforce", "response")]
        table = pd.DataFrame(
            {
                "#": np.arange(1, gG + 1),
                cols[0]: np.where(g.correct, "✓", "✗"),
                cols[1]: g.thinking_steps,
                cols[2]: np.round(g.rewards, 3),
                cols[3]: np.round(g.advantages, 3),
                cols[4]: np.round(g.rewards, 3),
                cols[5]: g.texts,  # last: the long text may scroll
            }
        )
        st.dataframe(table, hide_index=True, width="stretch", height=min(38 + 35 * gG, 320))
        mu, sd = float(g.rewards.mean()), float(g.rewards.std())
        st.markdown(t(f"{P}.group_stats", mean=f"{mu:.3f}", std=f"{sd:.3f}"))
        if np.all(g.advantages == 0):
            st.info(t(f"{P}.group_silent"), icon=":material/block:")
    page.prose(t(f"{P}.explain_group"))


group_section()

# Part 2: training -----------------------------------------------------------------------------------


@charts.template
def training_template() -> alt.ConcatChart:
    """Accuracy, length, KL and all-zero groups per method: one concatenated chart (one spec, not four).

    One dataset for the four panels ("curves", `Run.plot`): step, method and the `CURVES`.
    """
    titles = {
        "pass1": t(f"{P}.y_pass1"),
        "length": t(f"{P}.y_length"),
        "kl": t(f"{P}.y_kl"),
        "zero_adv_frac": t(f"{P}.y_zero"),
    }
    parts = []
    for i, m in enumerate(CURVES):
        chart = charts.line(
            "curves", "step", m, color="method", x_title=t(f"{P}.x_step"), y_title=titles[m], whole_x=True
        ).properties(width=250, height=charts.height(150))
        # one legend, above the first panel, so the 2 x 2 grid fits the column
        legend = alt.Legend(orient="top", title=None) if i == 0 else None
        parts.append(chart.encode(color=alt.Color("method", type="nominal", legend=legend)))
    return alt.concat(*parts, columns=2)


@charts.template
def digits_template() -> alt.Chart:
    """Thinking tokens against the number of digits, per policy ("digits", from `digits_data`)."""
    chart = charts.line(
        "digits",
        "digits",
        "tokens",
        color="series",
        x_title=t(f"{P}.x_digits"),
        y_title=t(f"{P}.y_tokens"),
        points=True,
        whole_x=True,
    )
    return chart.encode(color=alt.Color("series", type="nominal", title=t(f"{P}.series")))


def digits_data(by_digits: pd.DataFrame) -> dict[str, pa.Table]:
    """The frame of `digits_template`, the base policy and the need named in this language."""
    names = {"base": t(f"{P}.base_policy"), "needed": t(f"{P}.needed")}
    series = [names.get(s, s) for s in by_digits["series"]]
    return {
        "digits": pa.table({"digits": by_digits["digits"], "series": series, "tokens": by_digits["tokens"]})
    }


@st.fragment
def training_section() -> None:
    """Submitting the form reruns only this section; training is cached per setting."""
    st.subheader(t(f"{P}.train_title"))
    left, right = page.columns(2.2)
    with left, st.form("grpo_train", border=True):
        G = st.slider(t(f"{P}.group_size"), 2, 16, 8, 1, key="G", bind="query-params")
        beta = st.slider(
            t(f"{P}.beta"), 0.0, 0.5, 0.04, 0.01, key="beta", bind="query-params", help=t(f"{P}.beta_help")
        )
        eps = st.slider(
            t(f"{P}.epsilon"),
            0.05,
            0.5,
            0.2,
            0.05,
            key="eps",
            bind="query-params",
            help=t(f"{P}.epsilon_help"),
        )
        lr = st.select_slider(t(f"{P}.lr"), LR_OPTIONS, "0.005", key="lr", bind="query-params")
        steps = st.slider(t(f"{P}.steps"), 20, 120, 60, 10, key="steps", bind="query-params")
        cost = st.slider(
            t(f"{P}.length_cost"),
            0.0,
            0.3,
            0.0,
            0.01,
            key="cost",
            bind="query-params",
            help=t(f"{P}.length_cost_help"),
        )
        seed = widgets.seed()
        st.form_submit_button(t(f"{P}.run"), type="primary", icon=":material/play_arrow:", width="stretch")
    cfg = core.Config(
        group_size=int(G),
        beta=float(beta),
        epsilon=float(eps),
        learning_rate=float(lr),
        num_steps=int(steps),
        length_cost=float(cost),
    )
    with right:
        run = training_runs(cfg, int(seed))
        st.caption(
            t(f"{P}.train_caption", G=cfg.group_size, B=cfg.num_prompts, N=cfg.group_size * cfg.num_prompts)
        )
        a0, a1, l0, l1 = run.summary["GRPO"]
        charts.show(
            training_template(),
            data={"curves": run.plot},
            description=t(
                f"{P}.training_desc", a0=f"{a0:.0%}", a1=f"{a1:.0%}", l0=f"{l0:.1f}", l1=f"{l1:.1f}"
            ),
        )
        st.markdown(
            " · ".join(
                t(f"{P}.summary", m=m, a0=f"{a0:.0%}", a1=f"{a1:.0%}", l0=f"{l0:.1f}", l1=f"{l1:.1f}")
                for m, (a0, a1, l0, l1) in run.summary.items()
            )
        )
    page.prose(t(f"{P}.explain_training"))

    st.markdown(f"**{t(f'{P}.digits_title')}**")
    charts.show(
        digits_template(chart_height=charts.height(240)),
        data=digits_data(run.by_digits),
        description=t(f"{P}.digits_desc"),
    )
    page.prose(t(f"{P}.explain_digits"))
    # 6. Download: the training curves behind the main figure
    page.download_csv(
        run.curves, f"{P}_G{cfg.group_size}_beta{cfg.beta}_cost{cfg.length_cost}_seed{seed}.csv"
    )
    # the numbers the "length tax" sentence reads out: GRPO's accuracy and thinking, first -> last steps
    st.session_state["_grpo_facts"] = {
        "a0": f"{a0:.0%}",
        "a1": f"{a1:.0%}",
        "l0": f"{l0:.1f}",
        "l1": f"{l1:.1f}",
    }


training_section()

# 4. Try this ------------------------------------------------------------------------------------------
page.try_this(
    P,
    {
        "all_right": {"gG": 8, "right": 8, "gcost": 0.0},
        "length_tax": {"cost": 0.3, "G": 8, "beta": 0.04},
        "tiny_group": {"G": 2, "cost": 0.0},
        "tight_leash": {"beta": 0.5, "cost": 0.0, "G": 8},
    },
    facts={"length_tax": st.session_state.get("_grpo_facts", {})},
)

# 5. The math and the paper ------------------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"r_i = \mathbf{1}[\text{answer}_i = a+b] + w_{\text{fmt}}\,\mathbf{1}[k_i \ge 1] - \lambda\,k_i",
            t(f"{P}.src_reward"),
        ),
        (
            r"A_i = \frac{r_i - \operatorname{mean}(r_1,\dots,r_G)}{\operatorname{std}(r_1,\dots,r_G) + \varepsilon_0}",
            t(f"{P}.src_adv"),
        ),
        (
            r"J(\theta) = \mathbb{E}\Big[\frac{1}{G}\sum_{i=1}^{G}\sum_{t}\Big(\min\big(\rho_{i,t}A_i,\,"
            r"\operatorname{clip}(\rho_{i,t},1-\epsilon,1+\epsilon)A_i\big) - \beta\,\mathbb{D}_{i,t}\Big)\Big],"
            r"\quad \rho_{i,t} = \frac{\pi_\theta(o_{i,t}\mid q, o_{i,<t})}{\pi_{\theta_\text{old}}(o_{i,t}\mid q, o_{i,<t})}",
            t(f"{P}.src_objective"),
        ),
        (
            r"\mathbb{D}_{i,t} = \frac{\pi_\text{ref}(o_{i,t}\mid\cdot)}{\pi_\theta(o_{i,t}\mid\cdot)}"
            r" - \log\frac{\pi_\text{ref}(o_{i,t}\mid\cdot)}{\pi_\theta(o_{i,t}\mid\cdot)} - 1 \;\ge 0",
            t(f"{P}.src_kl"),
        ),
        (r"A_i^{\text{REINFORCE}} = r_i, \qquad A_i^{\text{PPO}} = r_i - V_\phi(q)", t(f"{P}.src_baselines")),
        (r"P(\text{correct}\mid n, k) = (1 - p_\text{slip})^{\max(n-k,\,0)}", t(f"{P}.src_task")),
    ],
)

with st.container(border=True):
    st.markdown(f"#### {t(f'{P}.paper_title')}")
    st.markdown(t(f"{P}.paper_quote"))
    st.caption(t(f"{P}.paper_cite"))

with st.container(border=True):
    st.markdown(f"#### {t(f'{P}.honest_title')}")
    toy_col, paper_col = st.columns(2)
    toy_col.markdown(t(f"{P}.honest_toy"))
    paper_col.markdown(t(f"{P}.honest_paper"))
