"""Post-training, the whole picture: the pipeline, thinking longer at test time, majority voting,
and why a learned reward model can be gamed where a rule cannot."""

import dataclasses
from functools import lru_cache
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import grpo as core
from ui import charts, page
from ui.i18n import current_lang, t
from ui.layout import is_lecture

P = "post_training"
ASSET = Path(__file__).resolve().parent.parent / "assets" / "grpo_runs.npz"
POLICIES = ("base", "grpo", "reinforce", "ppo")  # the test-time section's policies
VOTERS = ("base", "grpo")  # the voting figure's policies (one line each for cons@k and pass@1)
NAMES = {"base": None, "grpo": "GRPO", "reinforce": "REINFORCE", "ppo": "PPO"}
CAPS = np.arange(0, core.Config().max_think + 1)
VOTE_KS = np.unique(np.round(np.geomspace(1, 64, 20)).astype(int))  # 1 ... 64
BETA_OPTIONS = ("0.0", "0.01", "0.02", "0.04", "0.1", "0.2", "0.3", "0.5")  # strings: exact in the URL
HACK_CURVES = ("proxy_reward", "gold_accuracy", "kl")
R1_PASS1, R1_CONS64 = 0.710, 0.867  # DeepSeek-R1-Zero, AIME 2024 (arXiv:2501.12948v1, Table 2)


# --- shipped runs and cached computation -----------------------------------------------------------


@st.cache_resource(show_spinner=False)
def shipped() -> dict[str, np.ndarray]:
    """assets/grpo_runs.npz (scripts/precompute_grpo_runs.py): the page's default runs."""
    with np.load(ASSET) as z:
        return {k: z[k] for k in z.files}


def name_of(policy: str) -> str:
    return NAMES[policy] or t(f"{P}.base_policy")


def length_probs(policy: str) -> np.ndarray:
    """P(k | q) on the 250 eval prompts: the base policy, or a method's policy after training."""
    S = shipped()
    if policy == "base":
        return S["base_grpo/length_probs"][0]
    return S[f"base_{policy}/length_probs"][1]


@st.cache_data(max_entries=4, show_spinner=False)
def cap_table() -> pd.DataFrame:
    """Exact accuracy against the thinking cap, per policy (language-free: policy keys)."""
    n = shipped()["base_grpo/eval_problems"][2]
    slip = core.Config().slip
    rows = [
        pd.DataFrame(
            {"cap": CAPS, "policy": p, "accuracy": core.capped_accuracy(length_probs(p), n, slip, CAPS)}
        )
        for p in POLICIES
    ]
    return pd.concat(rows, ignore_index=True)


@st.cache_data(max_entries=16, show_spinner=False)
def vote_table(seed: int) -> pd.DataFrame:
    """cons@k for k = 1..64 and pass@1, per policy, from 64 sampled answers per eval prompt."""
    a, b, n = shipped()["base_grpo/eval_problems"]
    rows = []
    for i, p in enumerate(VOTERS):
        rng = np.random.default_rng([seed, i])
        answers = core.sample_answers(a, b, n, length_probs(p), 64, core.Config().slip, rng)
        cons, pass1 = core.consensus_curve(answers, a + b, VOTE_KS)
        rows.append(pd.DataFrame({"k": VOTE_KS, "policy": p, "kind": "cons", "accuracy": cons}))
        rows.append(pd.DataFrame({"k": VOTE_KS, "policy": p, "kind": "pass1", "accuracy": float(pass1)}))
    return pd.concat(rows, ignore_index=True)


def hack_key(reward: str, beta: float) -> str:
    return f"hack_{reward}_{beta}"


def hack_curves(reward: str, beta: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Proxy, gold and KL per step: shipped for seed 0 where precomputed, else trained behind the Run button."""
    S = shipped()
    key = hack_key(reward, beta)
    if seed == 0 and f"{key}/gold_accuracy" in S:
        cols = {c: S[f"{key}/{c}"] for c in (*HACK_CURVES, "length", "checks")}
        theta = S[f"{key}/rm_theta"]
    else:
        cfg = dataclasses.replace(core.HACK_CONFIG, beta=beta, reward=reward)
        h = page.with_progress(
            P,
            (reward, beta, seed),
            lambda report: core.train("grpo", cfg, seed, report),
            text=t(f"{P}.training"),
            max_entries=12,
        )
        cols = {c: getattr(h, c) for c in (*HACK_CURVES, "length", "checks")}
        theta = h.reward_model.theta
    df = pd.DataFrame({"step": np.arange(1, len(cols["kl"]) + 1), "reward": reward, **cols})
    df["sqrt_kl"] = np.sqrt(np.maximum(df["kl"], 0.0))  # d, Gao et al. (2022) Sec. 1
    return df, theta


def hack_summary(df: pd.DataFrame) -> dict[str, float]:
    """The numbers the page states about one run: the gold peak, the end, and the proxy at both."""
    g, r = df["gold_accuracy"].to_numpy(), df["proxy_reward"].to_numpy()
    peak = int(np.argmax(g))
    below = np.nonzero(g[peak:] < g[peak] - 0.10)[0]  # where the fall starts: 0.10 below the peak
    return {
        "peak_step": peak + 1,
        "fall_step": peak + int(below[0]) + 1 if len(below) else len(g) + 1,
        "peak": float(g[peak]),
        "end": float(g[-1]),
        "drop": float(g[peak] - g[peak:].min()),
        "proxy_peak": float(r[peak]),
        "proxy_end": float(r[-5:].mean()),
        "k_end": float(df["length"].to_numpy()[-5:].mean()),
        "c_end": float(df["checks"].to_numpy()[-5:].mean()),
    }


# 1. Title and lead --------------------------------------------------------------------------------
page.header(P)


# Part 1: the pipeline ------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def pipeline_dot(lang: str, lecture: bool) -> str:
    """The post-training pipeline as Graphviz DOT: three routes from one pre-trained model."""
    del lang, lecture  # cache keys: the labels come from t() in the current language

    def node(name: str, key: str, fill: str, shape: str = "box") -> str:
        label = t(f"{P}.node_{key}").replace('"', "'")
        return f'{name} [label="{label}", shape={shape}, style="rounded,filled", fillcolor="{fill}"];'

    lines = [
        "digraph G {",
        'rankdir=LR; bgcolor="transparent"; node [fontname="Helvetica", fontsize=11, color="#555555"];',
        'edge [color="#555555"];',
        node("pre", "pretrain", "#e8e8e8"),
        node("sft", "sft", "#dbe9f6"),
        node("rm", "rm", "#dbe9f6"),
        node("ppo", "ppo", "#dbe9f6"),
        node("zero", "zero", "#fde3d3"),
        node("cold", "cold", "#dcefdc"),
        node("rl1", "rl1", "#dcefdc"),
        node("rs", "rs", "#dcefdc"),
        node("rl2", "rl2", "#dcefdc"),
        f'subgraph cluster_i {{ label="{t(f"{P}.route_instruct")}"; color="#9bbbd9"; sft; rm; ppo; }}',
        f'subgraph cluster_z {{ label="{t(f"{P}.route_zero")}"; color="#e8a27a"; zero; }}',
        f'subgraph cluster_r {{ label="{t(f"{P}.route_r1")}"; color="#8cc48c"; cold; rl1; rs; rl2; }}',
        "pre -> sft -> rm -> ppo;",
        "pre -> zero;",
        "pre -> cold -> rl1 -> rs -> rl2;",
        'zero -> cold [style=dashed, label="' + t(f"{P}.edge_zero_data") + '"];',
        "}",
    ]
    return "\n".join(lines)


STAGES = ("pretrain", "sft", "rm", "ppo", "zero", "cold", "rl1", "rs", "rl2")


def stage_table() -> pd.DataFrame:
    cols = [t(f"{P}.col_{c}") for c in ("stage", "data", "cost", "source")]
    return pd.DataFrame(
        {
            cols[0]: [t(f"{P}.node_{s}").replace("\\n", " ") for s in STAGES],
            cols[1]: [t(f"{P}.data_{s}") for s in STAGES],
            cols[2]: [t(f"{P}.cost_{s}") for s in STAGES],
            cols[3]: [t(f"{P}.src_{s}") for s in STAGES],
        }
    )


def pipeline_section() -> None:
    st.graphviz_chart(pipeline_dot(current_lang(), is_lecture()), width="stretch")
    st.caption(t(f"{P}.pipeline_alt"))
    st.dataframe(stage_table(), hide_index=True, width="stretch")
    page.prose(t(f"{P}.explain_pipeline"))


if is_lecture():  # a projector shows the first computed figure without scrolling; the map opens on a click
    with st.expander(t(f"{P}.pipeline_title"), icon=":material/account_tree:"):
        pipeline_section()
else:
    st.subheader(t(f"{P}.pipeline_title"))
    pipeline_section()


# Part 2: thinking at test time, and voting -----------------------------------------------------------
@charts.template
def cap_template() -> alt.LayerChart:
    """Accuracy against the thinking cap, one line per policy ("caps"), the cap marker ("now")."""
    lines = (
        alt.Chart(charts.named("caps"))
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "cap", type="quantitative", title=t(f"{P}.x_cap"), axis=alt.Axis(tickMinStep=1, format="d")
            ),
            y=alt.Y(
                "accuracy", type="quantitative", title=t(f"{P}.y_accuracy"), scale=alt.Scale(domain=[0, 1])
            ),
            color=alt.Color("name", type="nominal", title=t(f"{P}.policy")),
            # same field and title as the colour: one legend shows colour, dash and marker together
            # (legend=None on a channel that shares the field dropped the whole legend)
            strokeDash=alt.StrokeDash("name", type="nominal", title=t(f"{P}.policy")),
            shape=alt.Shape("name", type="nominal", title=t(f"{P}.policy")),
            tooltip=[
                alt.Tooltip("name", type="nominal"),
                alt.Tooltip("cap", type="quantitative"),
                alt.Tooltip("accuracy", type="quantitative", format=".3f"),
            ],
        )
    )
    return alt.layer(lines, charts.rule("now", "cap"))


@charts.template
def vote_template() -> alt.LayerChart:
    """cons@k against k (log scale), solid; pass@1 of the same policy, dashed ("votes")."""
    return (
        alt.Chart(charts.named("votes"))
        .mark_line()
        .encode(
            x=alt.X("k", type="quantitative", title=t(f"{P}.x_votes"), scale=alt.Scale(type="log", base=2)),
            y=alt.Y(
                "accuracy", type="quantitative", title=t(f"{P}.y_accuracy"), scale=alt.Scale(domain=[0, 1])
            ),
            color=alt.Color("name", type="nominal", title=t(f"{P}.policy")),
            strokeDash=alt.StrokeDash("what", type="nominal", title=t(f"{P}.vote_kind")),
            tooltip=[
                alt.Tooltip("name", type="nominal"),
                alt.Tooltip("what", type="nominal"),
                alt.Tooltip("k", type="quantitative"),
                alt.Tooltip("accuracy", type="quantitative", format=".3f"),
            ],
        )
    )


@st.fragment
def test_time_section() -> None:
    st.subheader(t(f"{P}.budget_title"))
    left, right = page.columns()
    with left:
        cap = st.slider(
            t(f"{P}.cap"), 0, int(CAPS[-1]), 3, 1, key="cap", bind="query-params", help=t(f"{P}.cap_help")
        )
        vseed = st.number_input(t(f"{P}.vseed"), 0, 999, 0, 1, key="vseed", bind="query-params")
    caps = cap_table()
    names = {p: name_of(p) for p in POLICIES}
    at_cap = caps[caps["cap"] == cap].set_index("policy")["accuracy"]
    with right:
        data = {"caps": caps.assign(name=caps["policy"].map(names)), "now": charts.now("cap", cap)}
        desc = t(f"{P}.cap_desc", cap=cap, base=f"{at_cap['base']:.0%}", grpo=f"{at_cap['grpo']:.0%}")
        charts.show(cap_template(chart_height=charts.height(260)), data=data, description=desc)
        st.markdown(" · ".join(t(f"{P}.at_cap", m=names[p], acc=f"{at_cap[p]:.1%}") for p in POLICIES))
    page.prose(t(f"{P}.explain_budget"))

    st.markdown(f"**{t(f'{P}.vote_title')}**")
    left, right = page.columns()
    votes = vote_table(int(vseed))
    kinds = {"cons": t(f"{P}.kind_cons"), "pass1": t(f"{P}.kind_pass1")}
    end = votes[(votes["k"] == 64) & (votes["kind"] == "cons")].set_index("policy")["accuracy"]
    p1 = votes[(votes["k"] == 64) & (votes["kind"] == "pass1")].set_index("policy")["accuracy"]
    with right:
        data = {"votes": votes.assign(name=votes["policy"].map(names), what=votes["kind"].map(kinds))}
        desc = t(f"{P}.vote_desc", p1=f"{p1['base']:.0%}", c64=f"{end['base']:.0%}")
        charts.show(vote_template(chart_height=charts.height(260)), data=data, description=desc)
    with left:
        st.metric(
            t(f"{P}.metric_base"),
            f"{end['base']:.1%}",
            f"{end['base'] - p1['base']:+.1%}",
            help=t(f"{P}.metric_help"),
        )
        st.metric(
            t(f"{P}.metric_r1"), f"{R1_CONS64:.1%}", f"{R1_CONS64 - R1_PASS1:+.1%}", help=t(f"{P}.r1_src")
        )
    st.markdown(
        t(
            f"{P}.vote_numbers",
            p1=f"{p1['base']:.1%}",
            c64=f"{end['base']:.1%}",
            g1=f"{p1['grpo']:.1%}",
            g64=f"{end['grpo']:.1%}",
        )
    )
    page.prose(t(f"{P}.explain_votes"))
    page.download_csv(votes, f"{P}_votes_seed{vseed}.csv")


test_time_section()


# Part 3: reward hacking ------------------------------------------------------------------------------
@charts.template
def hack_template(x: str = "step") -> alt.ConcatChart:
    """Proxy score, gold accuracy and KL, learned vs rule reward: one spec, three panels ("hack").

    x = "step", or "sqrt_kl": the distance d = √KL(π ‖ π_ref) that Gao et al. (2022, Sec. 1, Fig. 1)
    put on the horizontal axis; the KL panel is then dropped (it would plot d against d²).
    """
    titles = {"proxy_reward": t(f"{P}.y_proxy"), "gold_accuracy": t(f"{P}.y_gold"), "kl": t(f"{P}.y_kl")}
    x_title = t(f"{P}.x_step") if x == "step" else t(f"{P}.x_sqrt_kl")
    curves = HACK_CURVES if x == "step" else tuple(c for c in HACK_CURVES if c != "kl")
    parts = []
    for i, c in enumerate(curves):
        # whole labels: at lecture font sizes Vega's default limit cut "trained on the learned reward"
        legend = alt.Legend(orient="top", title=None, labelLimit=0) if i == 0 else None
        chart = (
            alt.Chart(charts.named("hack"))
            .mark_line()
            .encode(
                x=alt.X(x, type="quantitative", title=x_title),
                y=alt.Y(c, type="quantitative", title=titles[c]),
                color=alt.Color("trained_on", type="nominal", legend=legend),
                strokeDash=alt.StrokeDash("trained_on", type="nominal", legend=None),
                order=alt.Order("step", type="quantitative"),  # along training, whatever the x axis
                tooltip=[
                    alt.Tooltip("trained_on", type="nominal"),
                    alt.Tooltip("step", type="quantitative"),
                    alt.Tooltip("sqrt_kl", type="quantitative", format=".2f"),
                    alt.Tooltip(c, type="quantitative", format=".3f"),
                ],
            )
            .properties(width=235 if x == "step" else 360, height=charts.height(190))
        )
        parts.append(chart)
    return alt.concat(*parts, columns=len(curves))


@charts.template
def beta_template() -> alt.Chart:
    """Gold accuracy per step for every shipped beta (learned reward, seed 0) ("betas")."""
    return (
        alt.Chart(charts.named("betas"))
        .mark_line()
        .encode(
            x=alt.X("step", type="quantitative", title=t(f"{P}.x_step")),
            y=alt.Y(
                "gold_accuracy", type="quantitative", title=t(f"{P}.y_gold"), scale=alt.Scale(domain=[0, 1])
            ),
            color=alt.Color("beta", type="nominal", title="β"),
            strokeDash=alt.StrokeDash("beta", type="nominal", title="β"),
            tooltip=[
                alt.Tooltip("beta", type="nominal"),
                alt.Tooltip("step", type="quantitative"),
                alt.Tooltip("gold_accuracy", type="quantitative", format=".3f"),
            ],
        )
    )


@st.cache_data(max_entries=2, show_spinner=False)
def beta_table() -> pd.DataFrame:
    rows = []
    for b in core.HACK_BETAS:
        g = shipped()[f"{hack_key('learned', b)}/gold_accuracy"]
        rows.append(pd.DataFrame({"step": np.arange(1, len(g) + 1), "beta": f"{b:g}", "gold_accuracy": g}))
    return pd.concat(rows, ignore_index=True)


FEATURES = ("bias", "n1", "n2", "n3", "n4", "n5", "k", "c")


@st.fragment
def hacking_section() -> None:
    st.subheader(t(f"{P}.hack_title"))
    st.markdown(t(f"{P}.hack_setup"))
    left, right = page.columns(2.6)
    with left, st.form("hack_form", border=True):
        beta = st.select_slider(
            t(f"{P}.hbeta"), BETA_OPTIONS, "0.04", key="hbeta", bind="query-params", help=t(f"{P}.hbeta_help")
        )
        seed = st.number_input(t(f"{P}.hseed"), 0, 99, 0, 1, key="hseed", bind="query-params")
        st.form_submit_button(t(f"{P}.run"), type="primary", icon=":material/play_arrow:", width="stretch")
    b, s = float(beta), int(seed)
    (learned, theta), (rule, _) = hack_curves("learned", b, s), hack_curves("rule", b, s)
    sm, sr = hack_summary(learned), hack_summary(rule)
    both = pd.concat([learned, rule], ignore_index=True)
    with right:
        st.markdown(
            t(
                f"{P}.hack_numbers",
                peak=f"{sm['peak']:.1%}",
                step=sm["peak_step"],
                end=f"{sm['end']:.1%}",
                p0=f"{sm['proxy_peak']:.2f}",
                p1=f"{sm['proxy_end']:.2f}",
                k=f"{sm['k_end']:.1f}",
                c=f"{sm['c_end']:.1f}",
                rpeak=f"{sr['peak']:.1%}",
                rend=f"{sr['end']:.1%}",
            )
        )
    # full width: three panels side by side (two against √KL)
    # a toggle, not a labelled choice: its URL value (true/false) is the same in every language
    x = "sqrt_kl" if st.toggle(t(f"{P}.hack_x_kl"), False, key="hkl", bind="query-params") else "step"
    labels = {"learned": t(f"{P}.on_learned"), "rule": t(f"{P}.on_rule")}
    data = {"hack": both.assign(trained_on=both["reward"].map(labels))}
    desc = t(
        f"{P}.hack_desc" if x == "step" else f"{P}.hack_desc_kl",
        peak=f"{sm['peak']:.0%}",
        step=sm["peak_step"],
        end=f"{sm['end']:.0%}",
    )
    charts.show(hack_template(x), data=data, description=desc)
    if x == "sqrt_kl":
        st.caption(
            t(
                f"{P}.hack_x_note",
                d_rule=f"{rule['sqrt_kl'].iloc[-1]:.2f}",
                d_learned=f"{learned['sqrt_kl'].iloc[-1]:.2f}",
            )
        )
    st.markdown(t(f"{P}.rm_learned", wk=f"{theta[-2]:.2f}", wc=f"{theta[-1]:.2f}"))
    names = [t(f"{P}.feat_{f}") for f in FEATURES]
    st.dataframe(pd.DataFrame([np.round(theta, 3)], columns=names, index=["θ"]), width="stretch")
    page.prose(t(f"{P}.explain_hack"))

    st.markdown(f"**{t(f'{P}.beta_title')}**")
    betas = beta_table()
    charts.show(
        beta_template(chart_height=charts.height(230)), data={"betas": betas}, description=t(f"{P}.beta_desc")
    )
    page.prose(t(f"{P}.explain_beta"))
    page.download_csv(both, f"{P}_hacking_beta{b:g}_seed{s}.csv")


hacking_section()


# 4. Try this ------------------------------------------------------------------------------------------
def preset_facts() -> dict[str, dict[str, str]]:
    """The numbers each preset's sentence states, computed from the preset's own setting."""
    caps = cap_table()
    zero = caps[caps["cap"] == 0].set_index("policy")["accuracy"]
    full = caps[caps["cap"] == CAPS[-1]].set_index("policy")["accuracy"]
    tight = hack_summary(hack_curves("learned", 0.2, 0)[0])
    loose = hack_summary(hack_curves("learned", 0.01, 0)[0])
    return {
        "no_thinking": {"acc": f"{zero['base']:.0%}", "full": f"{full['grpo']:.0%}"},
        "tight_leash": {
            "step": tight["peak_step"],
            "peak": f"{tight['peak']:.0%}",
            "end": f"{tight['end']:.0%}",
        },
        "loose_leash": {
            "peak": f"{loose['peak']:.0%}",
            "step": loose["fall_step"] - 1,  # the last step before the fall
            "end": f"{loose['end']:.0%}",
        },
    }


page.try_this(
    P,
    {
        "no_thinking": {"cap": 0},
        "tight_leash": {"hbeta": "0.2", "hseed": 0},
        "loose_leash": {"hbeta": "0.01", "hseed": 0},
    },
    facts=preset_facts(),
)

# 5. The math ------------------------------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"\operatorname{acc}(c) = \frac{1}{|Q|}\sum_{q}\sum_{k=0}^{K} \pi(k\mid q)\,(1-p_\text{slip})^{\max(n_q - \min(k, c),\,0)}",
            t(f"{P}.math_cap"),
        ),
        (
            r"\hat y = \arg\max_{y}\ \#\{j \le k : y_j = y\}\ \text{(ties: first seen)},\qquad"
            r"\text{cons@}k = \frac{1}{|Q|}\sum_q \mathbf{1}[\hat y_q = y_q^\star]",
            t(f"{P}.math_vote"),
        ),
        (
            r"r_\phi(o) = \theta^\top\big[1,\ \mathbf{1}[n{=}1..5],\ k,\ c\big],\quad"
            r"\min_\theta\ \frac{1}{N}\sum_i \mathrm{BCE}\big(\sigma(r_\phi(o_i)),\ \mathbf{1}[o_i\ \text{right}]\big)"
            r" + \tfrac{\lambda}{2}\lVert\theta_{1:}\rVert^2",
            t(f"{P}.math_rm"),
        ),
        (
            r"\mathrm{KL}(\pi\,\Vert\,\pi_\text{ref}) = \mathrm{KL}_k + \mathbb{E}_{k,\,\text{agree}}\big[\mathrm{KL}_{c\mid k,\,\text{agree}}\big]",
            t(f"{P}.math_kl"),
        ),
    ],
)

# 6. What the toy shows, and what only the paper shows -----------------------------------------------------
st.subheader(t(f"{P}.honest_title"))
for key in ("aha", "mixing", "prm", "mcts"):
    with st.container(border=True):
        st.markdown(f"**{t(f'{P}.box_{key}_title')}**")
        paper, toy = st.columns(2)
        paper.markdown(t(f"{P}.box_{key}_paper"))
        toy.markdown(t(f"{P}.box_{key}_toy"))
