"""Robbins–Monro: step sizes that find a root through noise (Zhao, Chapter 6)."""

import json

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import stochastic_approx as core
from ui import charts, page, url_state, widgets
from ui.i18n import t

P = "robbins_monro"
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
N_SAMPLE_RUNS = 3  # single runs drawn over the band
# Selection widgets put their displayed label in the URL, so the labels are formulas, the
# same in every language (a shared link then works in both); the translated name is a caption.
EX_LABELS = {"mean": "w* = E[X]", "tanh": "tanh(w − 1) = 0", "cube": "w³ − 5 = 0", "sgd": "w* = x̄ (SGD)"}
FAM_LABELS = {"harmonic": "1/k", "power": "c/kᵅ", "constant": "a = const"}


class AllRunsDiverged(ValueError):
    """Every run left |w| <= 1e8: nothing to draw."""


@st.cache_data(max_entries=24, show_spinner=False)
def simulate(
    example: str,
    family: str,
    c: float,
    alpha: float,
    runs: int,
    num_steps: int,
    sigma: float,
    w1: float,
    m: int,
    seed: int,
) -> dict:
    """Run the experiment and keep only what the page draws (~200 k values, never the whole W)."""
    steps = core.StepSizes(family, c, alpha)
    a = steps(num_steps)  # (K,)
    exp = core.run_experiment(example, a, sigma, runs, w1, np.random.default_rng(seed), batch_size=m)
    idx = core.log_spaced_indices(num_steps + 1, 200)  # columns of W that the charts show
    W = exp.W[:, idx]  # (R, ~200)
    summary = core.summarize_runs(W, exp.target, QUANTILES)
    if summary.n_diverged == runs:
        raise AllRunsDiverged(example)
    k = idx + 1  # W[:, j] is w_{j+1}
    columns = {"k": k, "a_k": np.append(a, np.nan)[idx]}
    columns |= {f"q{round(q * 100):02d}": row for q, row in zip(QUANTILES, summary.quantiles, strict=True)}
    columns |= {
        "mean": summary.mean,
        "rmse": summary.rmse,
        "theory_rmse": exp.theory_rmse[idx] if exp.theory_rmse is not None else np.full(len(k), np.nan),
    }
    table = pd.DataFrame(columns)
    finite = np.flatnonzero(np.all(np.isfinite(W), axis=1))[:N_SAMPLE_RUNS]
    return {
        "table": table,
        "iterates": iterates_data(table, W[finite], finite + 1, exp.target),
        "errors": errors_data(table),
        "target": exp.target,
        "n_diverged": summary.n_diverged,
    }


# The series of each figure, in legend order. The data name a series by its position
# ("s": 0, 1, ...), numbers only, so the frames are cheap to cache and to send and the
# same in every language; each figure's template maps the position to its translated
# label ("series") and filters its layers by position.
ITERATE_SERIES = ("band_outer", "band_inner", "mean_line", "single_runs", "target_line")
OUTER, INNER, MEAN, SINGLE, TARGET = range(len(ITERATE_SERIES))
ERROR_SERIES = {"rmse": "rmse_series", "theory_rmse": "theory_series"}  # table column: label
SPAN = len(ERROR_SERIES)  # the error figure's row that carries its last k, so its k axis ends there


def labels(keys: tuple[str, ...]) -> tuple[list[str], str]:
    """The translated labels of the series, and the expression of series number "s"'s label."""
    texts = [t(f"{P}.{key}") for key in keys]
    return texts, f"{json.dumps(texts, ensure_ascii=False)}[datum.s]"


def iterates_data(table: pd.DataFrame, runs: np.ndarray, numbers: np.ndarray, target: float) -> pd.DataFrame:
    """One frame for every layer of `iterates_template`, series by number "s".

    Rows: the 10–90 % band (lo, hi), the 25–75 % band, the mean (w, with q10, q50, q90 for
    its tooltip), the single `runs` (w, numbered by `numbers`), one row for the target (w).
    """
    k = table["k"].to_numpy(float)
    n, r = len(k), len(runs)
    nan = np.full(n, np.nan)
    nan_runs = np.full(n * r, np.nan)

    def stack(outer, inner, mean, single, target_row) -> np.ndarray:
        return np.concatenate([outer, inner, mean, single, [target_row]])

    return pd.DataFrame(
        {
            "k": stack(k, k, k, np.tile(k, r), np.nan),
            "lo": stack(table["q10"], table["q25"], nan, nan_runs, np.nan),
            "hi": stack(table["q90"], table["q75"], nan, nan_runs, np.nan),
            "w": stack(nan, nan, table["mean"], runs.ravel(), target),
            "q10": stack(nan, nan, table["q10"], nan_runs, np.nan),
            "q50": stack(nan, nan, table["q50"], nan_runs, np.nan),
            "q90": stack(nan, nan, table["q90"], nan_runs, np.nan),
            "run": stack(nan, nan, nan, np.repeat(numbers, n).astype(float), np.nan),
            "s": np.repeat([OUTER, INNER, MEAN, SINGLE, TARGET], [n, n, n, n * r, 1]),
        }
    )


@charts.template
def iterates_template() -> alt.LayerChart:
    """Quantile bands of w_k over the runs, their mean, a few single runs and the target line.

    Data by name, from `iterates_data`: "iterates", one frame for all layers (each layer
    filters its series by number, "s").
    """
    names, label = labels(ITERATE_SERIES)
    color = alt.Color(
        "series",
        type="nominal",
        title=t(f"{P}.legend"),
        scale=alt.Scale(domain=names, range=[*charts.CATEGORY[:3], charts.CATEGORY[4], "#44aa99"]),
    )
    # log k from k = 1 to the data's last k: the first steps (where the step sizes differ
    # most) get as much room as the long tail
    x = alt.X(
        "k",
        type="quantitative",
        title=t(f"{P}.k_axis_log"),
        scale=alt.Scale(type="log", domainMin=1, nice=False),
        axis=charts.log_axis(),
    )
    y = alt.Y("w", type="quantitative", title=t(f"{P}.w_axis"), scale=alt.Scale(zero=False))

    def only(*numbers: int) -> alt.FieldOneOfPredicate:
        return alt.FieldOneOfPredicate(field="s", oneOf=list(numbers))

    base = alt.Chart()
    band = (
        base.transform_filter(only(OUTER, INNER))
        .mark_area(opacity=0.75)
        .encode(x=x, y=alt.Y("lo", type="quantitative", title=t(f"{P}.w_axis")), y2=alt.Y2("hi"), color=color)
    )
    singles = (
        base.transform_filter(only(SINGLE))
        .mark_line(strokeWidth=1, opacity=0.7)
        .encode(x=x, y=y, detail=alt.Detail("run", type="nominal"), color=color)
    )
    mean = (
        base.transform_filter(only(MEAN))
        .mark_line(strokeWidth=2.5)
        .encode(
            x=x,
            y=y,
            color=color,
            tooltip=[
                alt.Tooltip("k", type="quantitative"),
                alt.Tooltip("w", type="quantitative", format=".4g", title=names[MEAN]),
                alt.Tooltip("q50", type="quantitative", format=".4g", title="50%"),
                alt.Tooltip("q10", type="quantitative", format=".4g", title="10%"),
                alt.Tooltip("q90", type="quantitative", format=".4g", title="90%"),
            ],
        )
    )
    rule = (
        base.transform_filter(only(TARGET))
        .mark_rule(strokeDash=[6, 4], strokeWidth=2)
        .encode(y=y, color=color)
    )
    layers = alt.layer(band, singles, mean, rule, data=charts.named("iterates"))
    return layers.transform_calculate(series=label)


def errors_data(table: pd.DataFrame) -> pd.DataFrame | None:
    """RMS error over runs and its theory curve (series 0 and 1 in "s"), then the last k ("s": SPAN).

    Only errors a log axis can show; None when there is none (no noise and a start on the target).
    """
    k = table["k"].to_numpy(float)
    error = np.concatenate([table[column].to_numpy(float) for column in ERROR_SERIES])
    keep = np.isfinite(error) & (error > 0)
    if not keep.any():
        return None
    series = np.repeat(np.arange(len(ERROR_SERIES)), len(k))
    return pd.DataFrame(
        {
            "k": np.append(np.tile(k, len(ERROR_SERIES))[keep], k[-1]),
            "error": np.append(error[keep], np.nan),
            "s": np.append(series[keep], SPAN),
        }
    )


@charts.template
def error_template() -> alt.LayerChart:
    """RMS error over runs against k on log-log axes, with the theory curve (dashed) where one applies.

    Data by name, from `errors_data`: "errors". The k axis runs from 1 to the last k even when
    the errors reach 0 (and leave the log axis) before it: an invisible rule stands there.
    """
    names, label = labels(tuple(ERROR_SERIES.values()))
    x = alt.X(
        "k",
        type="quantitative",
        title=t(f"{P}.k_axis_log"),
        scale=alt.Scale(type="log", domainMin=1, nice=False),
        axis=charts.log_axis(),
    )
    span = alt.Chart().transform_filter(alt.datum.s == SPAN).mark_rule(opacity=0).encode(x=x)
    lines = (
        alt.Chart()
        .transform_filter(alt.datum.s < SPAN)
        .mark_line(strokeWidth=2.5)
        .encode(
            x=x,
            y=alt.Y(
                "error",
                type="quantitative",
                title=t(f"{P}.err_axis"),
                scale=alt.Scale(type="log"),
                axis=charts.log_axis(),  # the decades the data span, never "3, 0.2, 0.01"
            ),
            color=alt.Color(
                "series",
                type="nominal",
                title=t(f"{P}.legend"),
                scale=alt.Scale(domain=names, range=["#08519c", "#d62728"]),
            ),
            strokeDash=alt.StrokeDash(
                "series",
                type="nominal",
                title=t(f"{P}.legend"),
                scale=alt.Scale(domain=names, range=[[1, 0], [6, 4]]),
            ),
            tooltip=[
                alt.Tooltip("k", type="quantitative"),
                alt.Tooltip("error", type="quantitative", format=".3g"),
                alt.Tooltip("series", type="nominal"),
            ],
        )
    )
    return alt.layer(lines, span, data=charts.named("errors")).transform_calculate(series=label)


def condition_line(ok: bool, label: str, partial: str) -> str:
    mark = ":green[✓]" if ok else ":red[✗]"
    return f"{mark} **{label}** · {partial}"


PRESETS = {
    "too_fast": {
        "K": 500,
        "runs": 200,
        "seed": 0,
        "ex": "tanh",
        "fam": "power",
        "c": 1.0,
        "alpha": 2.0,
        "sigma": 0.3,
        "w1": 3.0,
    },
    "constant_floor": {
        "K": 500,
        "runs": 200,
        "seed": 0,
        "ex": "mean",
        "fam": "constant",
        "a": 0.2,
        "sigma": 1.0,
        "w1": 3.0,
    },
    "cube": {
        "K": 500,
        "runs": 200,
        "seed": 0,
        "ex": "cube",
        "fam": "power",
        "c": 0.1,
        "alpha": 1.0,
        "sigma": 1.0,
        "w1": 2.0,
    },
    "minibatch": {
        "K": 500,
        "runs": 200,
        "seed": 0,
        "ex": "sgd",
        "fam": "constant",
        "a": 0.2,
        "sigma": 1.0,
        "m": 20,
        "w1": 3.0,
    },
}

# After a preset its session values beat the URL the page was loaded with (issue 22)
url_state.prefer_preset_values(PRESETS)

# 1. Title and lead ---------------------------------------------------------
page.header(P)
left, right = page.columns()

# 2. Controls -----------------------------------------------------------------
with left:
    example = st.selectbox(
        t(f"{P}.example"),
        core.EXAMPLES,
        format_func=EX_LABELS.get,
        key="ex",
        bind="query-params",
    )
    st.caption(t(f"{P}.ex_{example}"))
    family = st.radio(
        t(f"{P}.family"),
        core.FAMILIES,
        format_func=FAM_LABELS.get,
        horizontal=True,
        key="fam",
        bind="query-params",
    )
    if family == "power":
        cc, ca = st.columns(2)
        c = cc.slider("c", 0.05, 2.0, 1.0, 0.05, key="c", bind="query-params", help=t(f"{P}.c_help"))
        alpha = ca.slider(
            "α", 0.1, 2.0, 1.0, 0.05, key="alpha", bind="query-params", help=t(f"{P}.alpha_help")
        )
    elif family == "constant":
        c = st.slider(t(f"{P}.a"), 0.01, 1.0, 0.1, 0.01, key="a", bind="query-params")
        alpha = 0.0
    else:
        c, alpha = 1.0, 1.0
    cs, cw = st.columns(2)
    sigma = cs.slider(t(f"{P}.sigma"), 0.0, 3.0, 1.0, 0.1, key="sigma", bind="query-params")
    w1 = cw.slider(t(f"{P}.w1"), -5.0, 5.0, 3.0, 0.5, key="w1", bind="query-params")
    cr, ck = st.columns(2)
    runs = cr.slider(t(f"{P}.runs"), 10, 500, 200, 10, key="runs", bind="query-params")
    num_steps = ck.slider(t(f"{P}.K"), 50, 2000, 500, 50, key="K", bind="query-params")
    if example == "sgd":
        m = st.slider(
            t(f"{P}.m"),
            1,
            100,
            1,
            1,
            key="m",
            bind="query-params",
            help=t(f"{P}.m_help", n=core.SGD_DATA_SIZE),
        )
    else:
        m = 1
    seed = widgets.seed()

steps = core.StepSizes(family, c, alpha)
conditions = core.step_size_conditions(steps)
S, Q = core.partial_sums(steps(num_steps))  # the live partial sums next to the analytic verdict

# 3. Main figures -------------------------------------------------------------
with right:
    c1, c2 = st.columns(2)
    c1.markdown(
        condition_line(
            conditions.sum_diverges, "Σ aₖ = ∞", t(f"{P}.partial", K=num_steps, value=f"{S[-1]:.4g}")
        )
    )
    c2.markdown(
        condition_line(
            conditions.squares_summable, "Σ aₖ² < ∞", t(f"{P}.partial", K=num_steps, value=f"{Q[-1]:.4g}")
        )
    )
    verdict = {
        (True, True): "both",
        (False, True): "no_sum",
        (True, False): "no_squares",
        (False, False): "neither",
    }
    st.caption(t(f"{P}.verdict_{verdict[conditions.sum_diverges, conditions.squares_summable]}"))
    # bad input (every run diverged): a warning here, above the figure, and the last good figures stay
    result = page.keep_last_good(
        f"{P}_sim",
        lambda: simulate(example, family, c, alpha, runs, num_steps, sigma, w1, m, seed),
        t(f"{P}.all_diverged"),
    )
    if result is not None:
        table = result["table"]
        if result["n_diverged"]:
            st.warning(t(f"{P}.diverged", n=result["n_diverged"], R=runs), icon=":material/warning:")
        charts.show(
            iterates_template(chart_height=charts.height(300)),
            data={"iterates": result["iterates"]},
            description=t(
                f"{P}.iterates_desc",
                R=runs,
                target=f"{result['target']:.4f}",
                err=f"{table['rmse'].iloc[-1]:.3g}",
            ),
        )
        st.caption(
            t(
                f"{P}.status",
                target=f"{result['target']:.4f}",
                K=int(table["k"].iloc[-1]),
                err=f"{table['rmse'].iloc[-1]:.3g}",
            )
        )
        if result["errors"] is None:  # no noise and a start on the target: nothing to put on a log axis
            st.info(t(f"{P}.zero_error"))
        else:
            charts.show(
                error_template(chart_height=charts.height(240)),
                data={"errors": result["errors"]},
                description=t(f"{P}.errors_desc", err=f"{table['rmse'].iloc[-1]:.3g}"),
            )

page.prose(t(f"{P}.explain"))


# 4. Try this ------------------------------------------------------------------
def floor_rmse(m_: int) -> float:
    """The constant-step noise floor in RMS: the mean RMS error over the second half of the run."""
    res = simulate(example, family, c, alpha, runs, num_steps, sigma, w1, m_, seed)
    tab = res["table"]
    return float(tab["rmse"][tab["k"] > num_steps / 2].mean())


def minibatch_facts() -> dict[str, dict[str, str]]:
    """minibatch's sentence in numbers: floor at m = 1 over floor at the chosen m."""
    if st.session_state.get(f"_try_{P}") != "minibatch" or example != "sgd" or family != "constant" or m <= 1:
        return {"minibatch": {"ratio": "…"}}
    return {"minibatch": {"ratio": f"{floor_rmse(1) / floor_rmse(m):.1f}"}}


page.try_this(P, PRESETS, facts=minibatch_facts())

# 5. The math --------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"w_{k+1} = w_k - a_k\,\tilde g(w_k,\eta_k),\qquad \tilde g(w,\eta) = g(w) + \eta",
            t(f"{P}.src_rm"),
        ),
        (
            r"\sum_{k=1}^{\infty} a_k = \infty,\qquad \sum_{k=1}^{\infty} a_k^2 < \infty",
            t(f"{P}.src_conditions"),
        ),
        (
            r"a_k = \frac{c}{k^{\alpha}}:\quad \sum_k a_k = \infty \iff \alpha \le 1,\quad"
            r"\sum_k a_k^2 < \infty \iff \alpha > \tfrac12",
            t(f"{P}.src_pseries"),
        ),
        (
            r"w_{k+1} = w_k - a_k\,(w_k - x_k);\quad a_k = \tfrac1k \Rightarrow w_{k+1} = \tfrac1k\sum_{i=1}^{k} x_i",
            t(f"{P}.src_mean"),
        ),
        (
            r"a_k \equiv a:\quad \operatorname{Var}(w_k) \to \frac{a\,\sigma^2}{2-a}",
            t(f"{P}.src_floor"),
        ),
        (
            r"w_{k+1} = w_k - a_k\Big(w_k - \frac1m\sum_{i\in\mathcal I_k} x_i\Big),\quad"
            r"\operatorname{Var}\Big(\frac1m\sum_{i\in\mathcal I_k} x_i\Big) = \frac{s^2}{m}",
            t(f"{P}.src_sgd"),
        ),
        (
            r"a_k = \frac ck,\ 2c\,g'(w^*) > 1:\quad \sqrt{k}\,(w_k - w^*) \Rightarrow"
            r"\mathcal N\!\Big(0,\ \frac{c^2\sigma^2}{2c\,g'(w^*) - 1}\Big)",
            t(f"{P}.src_sacks"),
        ),
        (r"(w - w^*)\,g(w) > 0\ \ \forall w \ne w^*,\quad |g(w)| \le A + B|w|", t(f"{P}.src_blum")),
    ],
)

# 6. Download ----------------------------------------------------------------------
if result is not None:
    page.download_csv(result["table"], f"{P}_{example}_{family}_seed{seed}.csv")
