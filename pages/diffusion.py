"""Latent diffusion you can step through: schedules, forward noising, sampling steps, guidance.

Runs a small latent diffusion model trained by scripts/train_latent_diffusion.py (weights
in assets/, loaded once); the page never trains. Sampling runs are cached and show a
progress bar while they run. 1000-step DDPM runs take longer than the 5 s budget for heavy
work, so the settings a lecturer picks (every class x every guidance slider value, seed 0)
are sampled ahead of time by scripts/precompute_diffusion_runs.py (assets/diffusion_runs.npz);
the page decodes them and says so.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa
import streamlit as st

from core import diffusion as dm
from core import latent_diffusion as ld
from ui import charts, page, widgets
from ui.i18n import current_lang, t

P = "diffusion"
ASSETS = Path(__file__).resolve().parent.parent / "assets"
UPSCALE = 3  # nearest-neighbour: a 32-pixel image becomes 96 pixels, crisp on a projector
NUM_SAMPLES = 8
# A live run longer than this draws half the samples: one guided step costs ~5.5-6.5 ms for
# 8 samples on one core, so 1000 DDPM steps took 5.5-6.5 s (over DESIGN.md's 5 s); 4 samples
# take 3.7-4.5 s. The 1000-step runs at the default seed are shipped with all 8.
LIVE_STEPS_FOR_ALL_SAMPLES = 500
NUM_FRAMES = 8
NUM_GALLERY = 4 * len(ld.CLASSES)  # data-set images to noise and reconstruct, 4 per class
FORWARD_WIDTH, GRID_WIDTH = 150, 78  # display widths of the forward images and the sample grid
T = ld.NUM_TRAIN_STEPS
SAMPLERS = ("DDIM", "DDPM")  # the same in every language, so the URL reads ?sampler=DDPM
DDPM_STEPS = ("1", "2", "5", "10", "20", "50", "100", "250", "500", "1000")  # strings: URL-safe options
SHIPPED_RUNS = ASSETS / "diffusion_runs.npz"  # 1000-step DDPM runs, too slow live
PRECOMPUTE_SCRIPT = "scripts/precompute_diffusion_runs.py"  # wrote SHIPPED_RUNS


# ---------------------------------------------------------------------------- cached work


@st.cache_resource(show_spinner=False)
def load_model() -> ld.LatentDiffusion:
    import torch

    # These nets are tiny (batch 16 on an 8x8 grid): a second OpenMP thread buys nothing and,
    # on a busy 2-core machine, its spin-waiting made a 50-step run >10x slower (measured).
    torch.set_num_threads(1)
    return ld.load(str(ASSETS / "diffusion_model.pt"))


@st.cache_data(max_entries=2, show_spinner=False)
def quality_table() -> pd.DataFrame:
    return pd.read_csv(ASSETS / "diffusion_quality.csv")


@st.cache_data(max_entries=2, show_spinner=False)
def schedule_table() -> pd.DataFrame:
    """alpha_bar and SNR of the three schedules at 200 steps each (1,200 rows)."""
    idx = np.unique(np.r_[np.arange(0, T, 5), T - 1])
    rows = []
    for kind in dm.SCHEDULES:
        alpha_bar = dm.alphas_cumprod(dm.beta_schedule(kind, T))[idx]
        for q, v in (("alpha_bar", alpha_bar), ("snr", dm.snr(alpha_bar))):
            rows.append(pd.DataFrame({"schedule": kind, "t": idx + 1, "quantity": q, "value": v}))
    return pd.concat(rows, ignore_index=True)


@st.cache_data(max_entries=2, show_spinner=False)
def gallery() -> tuple[np.ndarray, np.ndarray]:
    """A fixed set of data-set images to noise and reconstruct (4 per class)."""
    labels = np.tile(np.arange(len(ld.CLASSES)), NUM_GALLERY // len(ld.CLASSES))
    return ld.make_shapes(len(labels), seed=2024, labels=labels)


@st.cache_data(max_entries=32, show_spinner=False)
def forward_images(img: int, kind: str, t_step: int) -> dict[str, bytes | float]:
    """x0, pixel-space x_t and decoded latent-space z_t (PNG) for one image at step t (t = 0: clean)."""
    model = load_model()
    x0 = gallery()[0][img : img + 1]  # (1, 32, 32, 3)
    alpha_bar = 1.0 if t_step == 0 else float(dm.alphas_cumprod(dm.beta_schedule(kind, T))[t_step - 1])
    rng = np.random.default_rng(img)  # the same noise for every t: watch it fade in
    x_t = dm.q_sample(x0, alpha_bar, rng.standard_normal(x0.shape))
    z0 = model.encode(x0)
    z_t = dm.q_sample(z0, alpha_bar, rng.standard_normal(z0.shape))
    images = {"x0": x0[0], "x_t": x_t[0], "z_t": model.decode(z_t)[0]}
    return {**{k: png(to_uint8(im, 5), FORWARD_WIDTH) for k, im in images.items()}, "alpha_bar": alpha_bar}


@st.cache_resource(show_spinner=False)
def shipped_runs() -> dict[ld.RunKey, ld.StoredRun]:
    """DDPM runs too slow to sample live within the 5 s budget, computed ahead of time (84 runs, ~0.9 MB)."""
    return ld.load_runs(str(SHIPPED_RUNS)) if SHIPPED_RUNS.exists() else {}


def run_key(cls: int, sampler: str, steps: int, eta: float, w: float, seed: int) -> ld.RunKey:
    """How runs are stored: by the page and by scripts/precompute_diffusion_runs.py."""
    return (cls, sampler, steps, round(eta, 3), round(w, 3), seed)


def live_samples(steps: int) -> int:
    """How many samples a live run draws: all of them, or half for runs too long for 5 s."""
    return NUM_SAMPLES if steps <= LIVE_STEPS_FOR_ALL_SAMPLES else NUM_SAMPLES // 2


def run_view(frame_t: np.ndarray, strip_zt: np.ndarray, strip_x0: np.ndarray, final: np.ndarray,
             seconds: float, shipped: bool = False) -> dict:  # fmt: skip
    """What the page shows of a run: the first sample's filmstrips and the final samples, as PNG."""
    return {
        "frame_t": frame_t,  # -1: after the last step (z_0)
        "strip_zt": png(strip(strip_zt)),
        "strip_x0": png(strip(strip_x0)),
        "final": [png(to_uint8(im), GRID_WIDTH) for im in final],
        "probs": load_model().classify(final),
        "seconds": seconds,  # the live run's wall time (for a shipped run: when the script made it)
        "shipped": shipped,  # computed ahead of time by PRECOMPUTE_SCRIPT
    }


@st.cache_data(max_entries=4, show_spinner=False)
def shipped_view(key: ld.RunKey) -> dict:
    """A shipped run as `sampled` returns it: its latents decoded and classified (milliseconds)."""
    run, model = shipped_runs()[key], load_model()
    return run_view(run.frame_t, model.decode(run.z_frames), model.decode(run.x0_frames), model.decode(run.final),
                    run.seconds, shipped=True)  # fmt: skip


def sampled(cls: int, sampler: str, steps: int, eta: float, w: float, seed: int) -> dict:
    """A sampling run, kept for later visits (24 runs of ~100 kB); a new one shows a progress bar.

    A setting scripts/precompute_diffusion_runs.py computed ahead of time is read from its file.
    """
    key = run_key(cls, sampler, steps, eta, w, seed)
    if key in shipped_runs():
        return shipped_view(key)

    def sample(report: page.Report) -> dict:
        t0 = time.perf_counter()
        traj = ld.sample(load_model(), cls, steps, sampler=sampler, eta=eta, guidance_scale=w, seed=seed,
                         num_samples=live_samples(steps), num_frames=NUM_FRAMES,
                         progress=lambda i, n: report(i / n, t(f"{P}.sampling_progress", i=i, n=n)))  # fmt: skip
        seconds = time.perf_counter() - t0
        frame_t = np.r_[traj.timesteps, -1][traj.frame_index]
        return run_view(frame_t, traj.images[:, 0], traj.x0_images[:, 0], traj.final, seconds)

    return page.with_progress(P, key, sample, text=t(f"{P}.sampling_progress", i=0, n=steps))


@st.cache_resource(show_spinner=False)
def step_costs() -> dict[str, float]:
    """Multiply-accumulates and measured time of one denoising step, latent vs pixel space."""
    import torch

    model = load_model()
    pixel_net = ld.NoisePredictor(in_channels=3, width=model.eps_model.width).eval()
    t1, c1 = torch.zeros(1, dtype=torch.int64), torch.zeros(1, dtype=torch.int64)
    z = torch.zeros(1, ld.LATENT_CHANNELS, ld.LATENT_SIZE, ld.LATENT_SIZE)
    x = torch.zeros(1, 3, ld.IMAGE_SIZE, ld.IMAGE_SIZE)
    out = {
        "latent_macs": ld.count_macs(model.eps_model, z, t1, c1),
        "pixel_macs": ld.count_macs(pixel_net, x, t1, c1),
    }
    batch = 2 * NUM_SAMPLES  # a guided step evaluates conditional + unconditional
    for name, net, inp in (("latent", model.eps_model, z), ("pixel", pixel_net, x)):
        xb, tb, cb = inp.expand(batch, -1, -1, -1), t1.expand(batch), c1.expand(batch)
        with torch.no_grad():
            net(xb, tb, cb)
            reps, t0 = 2, time.perf_counter()
            for _ in range(reps):
                net(xb, tb, cb)
        out[f"{name}_ms"] = (time.perf_counter() - t0) / reps * 1000
    return out


@st.cache_data(max_entries=2, show_spinner=False)
def reconstructions() -> dict[str, bytes | float]:
    """Data-set images, their reconstructions and the first image's latent channels, as PNG."""
    model = load_model()
    x, _ = gallery()
    z = model.encode(x)
    rec = model.decode(z)
    return {"strip_x": png(strip(x[:8])), "strip_rec": png(strip(rec[:8])), "latent": png(latent_tile(z[0])),
            "rmse": float(np.sqrt(((rec - x) ** 2).mean()))}  # fmt: skip


# ---------------------------------------------------------------------------- drawing helpers


def to_uint8(img: np.ndarray, scale: int = UPSCALE) -> np.ndarray:
    """[-1, 1] float image (H, W, 3) -> uint8, upscaled by pixel repetition (no smoothing)."""
    u8 = ((np.clip(img, -1.0, 1.0) + 1.0) * 127.5).round().astype(np.uint8)
    return np.repeat(np.repeat(u8, scale, axis=0), scale, axis=1)


def strip(images: np.ndarray, scale: int = UPSCALE, gap: int = 6) -> np.ndarray:
    """Images (F, H, W, 3) in [-1, 1] side by side with white gaps: one PNG instead of F."""
    tiles = [to_uint8(im, scale) for im in images]
    white = np.full((tiles[0].shape[0], gap, 3), 255, dtype=np.uint8)
    return np.concatenate([p for tile in tiles for p in (tile, white)][:-1], axis=1)


def png(img: np.ndarray, width: int | None = None) -> bytes:
    """A uint8 image as PNG bytes, shrunk to `width` as st.image would shrink it (bilinear).

    Done once, in the cached work: st.image would otherwise encode every image
    again on every rerun (~2-5 ms each, 16 images on this page). Shown with
    output_format="PNG", the bytes go to the browser untouched.
    """
    from PIL import Image

    pic = Image.fromarray(img)
    if width is not None and pic.width > width:
        pic = pic.resize((width, int(pic.height * width / pic.width)), resample=Image.BILINEAR)
    buf = io.BytesIO()
    pic.save(buf, format="PNG")
    return buf.getvalue()


def latent_tile(z: np.ndarray, scale: int = 12) -> np.ndarray:
    """The 4 latent channels (4, 8, 8) side by side as grey tiles, uint8."""
    lo, hi = -3.0, 3.0
    tiles = [np.clip((c - lo) / (hi - lo), 0, 1) for c in z]
    gap = np.ones((z.shape[1], 1))
    row = np.concatenate([p for c in tiles for p in (c, gap)][:-1], axis=1)
    u8 = (row * 255).round().astype(np.uint8)
    return np.repeat(np.repeat(u8, scale, axis=0), scale, axis=1)


def class_name(k: int) -> str:
    return t(f"{P}.cls_{ld.CLASSES[k]}")


def frame_caption(ts: int) -> str:
    return "0" if ts < 0 else f"{ts + 1}"


# ---------------------------------------------------------------------------- charts
# Each figure is a template (its Vega-Lite spec, built once per language and lecture mode)
# and its data by name: a rerun sends only frames.


QTY_NAMES = {"alpha_bar": "ᾱ_t", "snr": "SNR(t)"}


@st.cache_data(max_entries=4, show_spinner=False)
def schedule_frame(lang: str) -> pa.Table:
    """`schedule_table` with the schedules and quantities named as the legend names them.

    An Arrow table: Streamlit sends it as it is, where a DataFrame is converted on every rerun.
    """
    df = schedule_table()
    sched_names = {k: t(f"{P}.sched_{k}") for k in dm.SCHEDULES}
    named = df.assign(schedule=df["schedule"].map(sched_names), quantity=df["quantity"].map(QTY_NAMES))
    return pa.Table.from_pandas(named, preserve_index=False)


@charts.template
def schedule_template() -> alt.LayerChart:
    """ᾱ_t and SNR(t) of the three schedules ("schedules", from `schedule_frame`); the step t ("now")."""
    sched_names = [t(f"{P}.sched_{k}") for k in dm.SCHEDULES]
    lines = alt.Chart(charts.named("schedules")).mark_line().encode(
        x=alt.X("t", type="quantitative", title=t(f"{P}.t_axis")),
        y=alt.Y("value", type="quantitative", title=t(f"{P}.schedule_axis"), scale=alt.Scale(type="log")),
        color=alt.Color("schedule", type="nominal", title=t(f"{P}.schedule"),
                        scale=alt.Scale(domain=sched_names, range=charts.CATEGORY[:3])),
        strokeDash=alt.StrokeDash("quantity", type="nominal", title=t(f"{P}.quantity"),
                                  scale=alt.Scale(domain=list(QTY_NAMES.values()), range=[[1, 0], [6, 3]])),
        tooltip=[alt.Tooltip("schedule", type="nominal"), alt.Tooltip("quantity", type="nominal"),
                 alt.Tooltip("t", type="quantitative"), alt.Tooltip("value", type="quantitative", format=".3g")],
    )  # fmt: skip
    return alt.layer(lines, charts.rule("now", "t"))


@st.cache_data(max_entries=8, show_spinner=False)
def quality_frames(sweep: str, lang: str) -> dict[str, pa.Table]:
    """A sweep's measured quality per sampler ("quality") and the real images' own ("real").

    Arrow tables, as `schedule_frame`.
    """
    q = quality_table()
    names = {"ddim": t(f"{P}.sampler_ddim"), "ddpm": t(f"{P}.sampler_ddpm")}
    d = (
        q[q["sweep"] == sweep]
        .assign(sampler=lambda d: d["sampler"].map(names))
        .rename(columns={"steps" if sweep == "steps" else "guidance": "x"})
    )
    return {
        "quality": pa.Table.from_pandas(d[["x", "sampler", "accuracy", "distance"]], preserve_index=False),
        "real": pa.Table.from_pandas(q[q["sweep"] == "real"][["accuracy", "distance"]], preserve_index=False),
    }


@charts.template
def quality_template(sweep: str) -> alt.VConcatChart:
    """Accuracy above distance against the sweep's x, per sampler ("quality", from `quality_frames`).

    Marked: the real images' own level ("real", grey) and the current setting ("now").
    """
    metric_names = {"accuracy": t(f"{P}.accuracy"), "distance": t(f"{P}.distance")}
    steps = sweep == "steps"
    x_title = t(f"{P}.steps_axis") if steps else t(f"{P}.guidance_axis")
    panels = []
    for i, metric in enumerate(("accuracy", "distance")):
        chart = charts.line(
            "quality",
            "x",
            metric,
            x_title=x_title,
            y_title=metric_names[metric],
            color="sampler",
            log_x=steps,
            whole_x=steps,
            points=True,
        )
        # the sampler legend on top of the first panel (a legend on the right was cut off in vconcat)
        legend = alt.Legend(orient="top") if i == 0 else None
        chart = chart.encode(
            color=alt.Color("sampler", type="nominal", title=t(f"{P}.sampler"), legend=legend)
        )
        baseline = alt.Chart(charts.named("real")).mark_rule(color="gray", strokeDash=[4, 4])
        baseline = baseline.encode(y=alt.Y(metric, type="quantitative"))
        panels.append(
            alt.layer(chart, baseline, charts.rule("now", "x")).properties(height=charts.height(160))
        )
    return alt.vconcat(*panels)


# ---------------------------------------------------------------------------- page

page.header(P)
if not (ASSETS / "diffusion_model.pt").exists():
    st.warning(t(f"{P}.no_weights"))
    st.stop()


# 1. Forward process ---------------------------------------------------------------
@st.fragment
def forward_section() -> None:
    st.subheader(t(f"{P}.forward_title"))
    left, right = page.columns()
    with left:
        # labels looked up now, in this run's language (AppTest calls format_func outside the run)
        sched_label = {k: t(f"{P}.sched_{k}") for k in dm.SCHEDULES}
        kind = st.selectbox(t(f"{P}.schedule"), dm.SCHEDULES, index=1, format_func=sched_label.__getitem__,
                            key="sched", bind="query-params")  # fmt: skip
        t_step = st.slider(
            t(f"{P}.t_slider"), 0, T, 250, 10, key="t", bind="query-params", help=t(f"{P}.t_help")
        )
        img = st.slider(t(f"{P}.image"), 0, NUM_GALLERY - 1, 0, key="img", bind="query-params")
    f = forward_images(img, kind, t_step)
    alpha_bar = f["alpha_bar"]
    with right:
        cols = st.columns(3)
        shape = class_name(int(gallery()[1][img]))
        for col, name in zip(cols, ("x0", "x_t", "z_t"), strict=True):
            with col:
                page.image(f[name], alt=t(f"{P}.alt_fwd_{name}", cls=shape, t=t_step, T=T),
                           caption=t(f"{P}.fwd_{name}", t=t_step), width=FORWARD_WIDTH, output_format="PNG")  # fmt: skip
        m1, m2, m3 = st.columns(3)
        m1.metric("ᾱ_t", f"{alpha_bar:.4f}")
        m2.metric(t(f"{P}.signal_weight"), f"{np.sqrt(alpha_bar):.3f}")
        m3.metric("SNR(t)", "∞" if alpha_bar >= 1 else f"{dm.snr(alpha_bar):.3g}")
    now = charts.now("t", max(t_step, 1))
    charts.show(
        schedule_template(chart_height=charts.height(280)),
        data={"schedules": schedule_frame(current_lang()), "now": now},
        description=t(f"{P}.desc_schedule", t=t_step, a=f"{alpha_bar:.4f}", sched=sched_label[kind]),
    )
    page.prose(t(f"{P}.explain_forward"))


forward_section()


# 2. Sampling ----------------------------------------------------------------------
@st.fragment
def sampling_section() -> None:
    st.subheader(t(f"{P}.sampling_title"))
    left, right = page.columns()
    with left:
        # the prompt sits outside the form: a new class resamples at once (50 DDIM steps: < 1 s)
        cls_label = {c: t(f"{P}.cls_{c}") for c in ld.CLASSES}
        cls_name = st.selectbox(t(f"{P}.prompt"), ld.CLASSES, format_func=cls_label.__getitem__, key="cls",
                                bind="query-params")  # fmt: skip
    with left, st.form("diffusion_sampling", border=True):
        sampler = st.radio(t(f"{P}.sampler"), SAMPLERS, key="sampler", bind="query-params", horizontal=True)
        ddim_steps = st.slider(t(f"{P}.ddim_steps"), 1, 100, 50, key="steps", bind="query-params")
        ddpm_steps = st.select_slider(
            t(f"{P}.ddpm_steps"), DDPM_STEPS, "250", key="dsteps", bind="query-params"
        )
        eta = st.slider(
            t(f"{P}.eta"), 0.0, 1.0, 0.0, 0.1, key="eta", bind="query-params", help=t(f"{P}.eta_help")
        )
        w = st.slider(t(f"{P}.guidance"), 0.0, 10.0, 3.0, 0.5, key="w", bind="query-params",
                      help=t(f"{P}.guidance_help"))  # fmt: skip
        seed = widgets.seed()
        st.form_submit_button(t(f"{P}.run"), type="primary", width="stretch")
    cls = ld.CLASSES.index(cls_name)
    steps = ddim_steps if sampler == "DDIM" else int(ddpm_steps)
    eta_used = eta if sampler == "DDIM" else 1.0
    run = sampled(int(cls), sampler.lower(), int(steps), float(eta_used), float(w), int(seed))
    with right:
        # a shipped run says so, with the time it takes live
        summary = f"{P}.run_summary_shipped" if run["shipped"] else f"{P}.run_summary"
        n = len(run["final"])
        st.markdown(t(summary, sampler=sampler, steps=steps, w=w, seconds=run["seconds"], cls=class_name(int(cls)),
                      script=PRECOMPUTE_SCRIPT, n=n))  # fmt: skip
        if n < NUM_SAMPLES:
            st.caption(t(f"{P}.fewer_samples", n=n, all=NUM_SAMPLES, steps=LIVE_STEPS_FOR_ALL_SAMPLES))
        frames = "t = " + " → ".join(frame_caption(ts) for ts in run["frame_t"])
        name = class_name(int(cls))
        st.caption(t(f"{P}.filmstrip_zt"))
        page.image(run["strip_zt"], alt=t(f"{P}.alt_strip_zt", cls=name, frames=frames), caption=frames,
                   output_format="PNG")  # fmt: skip
        st.caption(t(f"{P}.filmstrip_x0"))
        page.image(run["strip_x0"], alt=t(f"{P}.alt_strip_x0", cls=name, frames=frames), caption=frames,
                   output_format="PNG")  # fmt: skip
        st.caption(t(f"{P}.grid_title", n=n))
        pred = run["probs"].argmax(axis=1)
        verdicts = [f"{class_name(int(k))} {p.max():.0%}" for k, p in zip(pred, run["probs"], strict=True)]
        page.image(run["final"], width=GRID_WIDTH, output_format="PNG", caption=verdicts,
                   alt=[t(f"{P}.alt_sample", i=i + 1, cls=name, verdict=v) for i, v in enumerate(verdicts)])  # fmt: skip
        a1, a2 = st.columns(2)
        a1.metric(t(f"{P}.accuracy"), f"{(pred == int(cls)).mean():.0%}")
        a2.metric(t(f"{P}.confidence"), f"{run['probs'][:, int(cls)].mean():.0%}")
    quality_charts(sampler, int(steps), float(w))
    page.prose(t(f"{P}.explain_sampling"))


def quality_charts(sampler: str, steps: int, w: float) -> None:
    st.markdown(f"**{t(f'{P}.quality_title')}**")
    cols = st.columns(2)
    for col, sweep, now_x in ((cols[0], "steps", steps), (cols[1], "guidance", w)):
        with col:
            now = charts.now("x", now_x)
            row = quality_table().query("sweep == 'guidance' and guidance == 3.0").iloc[0]
            charts.show(quality_template(sweep), data={**quality_frames(sweep, current_lang()), "now": now},
                        description=t(f"{P}.desc_quality_{sweep}", acc=row["accuracy"], dist=row["distance"]))  # fmt: skip
    st.caption(t(f"{P}.quality_caption", g=3, s=50))


sampling_section()


# 3. Why latent ----------------------------------------------------------------------
@st.fragment
def latent_section() -> None:
    st.subheader(t(f"{P}.latent_title"))
    costs = step_costs()
    rec = reconstructions()
    pix = 3 * ld.IMAGE_SIZE**2
    lat = ld.LATENT_CHANNELS * ld.LATENT_SIZE**2
    m = st.columns(4)
    m[0].metric(t(f"{P}.pixel_dims") + " (3×32×32)", f"{pix:,}")
    m[1].metric(t(f"{P}.latent_dims") + " (4×8×8)", f"{lat:,}", f"÷{pix / lat:.0f}", delta_color="off")
    m[2].metric(t(f"{P}.macs_per_step"), f"{costs['latent_macs'] / 1e6:.1f} M",
                t(f"{P}.vs_pixel", v=f"{costs['pixel_macs'] / 1e6:.0f} M"), delta_color="off")  # fmt: skip
    m[3].metric(t(f"{P}.ms_per_step"), f"{costs['latent_ms']:.1f} ms",
                t(f"{P}.vs_pixel", v=f"{costs['pixel_ms']:.0f} ms"), delta_color="off")  # fmt: skip
    st.caption(t(f"{P}.cost_caption", f=ld.DOWNSAMPLE, c=ld.LATENT_CHANNELS))
    st.caption(t(f"{P}.recon_row_x"))
    page.image(rec["strip_x"], alt=t(f"{P}.alt_recon_x"), output_format="PNG")
    st.caption(t(f"{P}.recon_row_rec", rmse=rec["rmse"]))
    page.image(rec["strip_rec"], alt=t(f"{P}.alt_recon_rec", rmse=rec["rmse"]), output_format="PNG")
    st.caption(t(f"{P}.latent_channels"))
    page.image(rec["latent"], alt=t(f"{P}.alt_latent"), output_format="PNG")
    page.prose(t(f"{P}.explain_latent"))


latent_section()

# 4. Try this --------------------------------------------------------------------------
PRESETS = {
    "one_step": {"sampler": "DDIM", "steps": 1, "eta": 0.0, "w": 3.0},
    "guidance": {"sampler": "DDIM", "steps": 50, "eta": 0.0, "w": 7.5},
    "cosine": {"sched": "cosine", "t": 600},
    "eta": {"sampler": "DDIM", "steps": 50, "eta": 1.0, "w": 3.0},
}


@st.cache_data(max_entries=8, show_spinner=False)
def guidance_facts(cls: int, seed: int, lang: str) -> dict:
    """Saturation and accuracy of the page's 8 samples at w = 1, 3, 7.5 (50 DDIM steps)."""
    model, out = load_model(), {}
    for key, w in (("1", 1.0), ("3", 3.0), ("75", 7.5)):
        traj = ld.sample(model, cls, 50, "ddim", 0.0, w, seed=seed, num_samples=NUM_SAMPLES, num_frames=1)
        out[f"s{key}"] = float(ld.foreground_saturation(traj.final).mean())
        out[f"acc{key}"] = float((model.classify(traj.final).argmax(1) == cls).mean())
    out["trend"] = t(f"{P}.trend_paler" if out["s75"] < out["s1"] else f"{P}.trend_more_saturated")
    return out


@st.cache_data(max_entries=8, show_spinner=False)
def eta_facts(cls: int, seed: int) -> dict:
    """When the predicted image settles, with eta = 0 and eta = 1 (mean over the 8 samples)."""
    model, out = load_model(), {}
    for key, eta in (("0", 0.0), ("1", 1.0)):
        traj = ld.sample(model, cls, 50, "ddim", eta, 3.0, seed=seed, num_samples=NUM_SAMPLES, num_frames=None)
        out[f"settle{key}"] = float(ld.settle_steps(traj).mean())
        out[f"final{key}"] = traj.final
    out["change"] = float(np.abs(out.pop("final0") - out.pop("final1")).mean())
    return out


def try_facts() -> dict:
    """The numbers of the chosen preset's sentence, for the prompt and seed on the page now."""
    chosen = st.session_state.get(f"_try_{P}")
    cls = ld.CLASSES.index(st.session_state.get("cls", ld.CLASSES[0]))
    seed = int(st.session_state.get("seed", 0))
    ab = {k: float(dm.alphas_cumprod(dm.beta_schedule(k, T))[599]) for k in dm.SCHEDULES}
    facts = {"cosine": {"cos": ab["cosine"], "sd": ab["scaled_linear"], "lin": ab["linear"]}}
    if chosen == "guidance":
        facts["guidance"] = guidance_facts(cls, seed, current_lang())
    if chosen == "eta":
        facts["eta"] = eta_facts(cls, seed)
    if chosen == "one_step":
        q = quality_table().query("sweep == 'steps' and sampler == 'ddim'").set_index("steps")
        facts["one_step"] = {"acc1": q.loc[1, "accuracy"], "acc50": q.loc[50, "accuracy"]}
    return facts


page.try_this(P, PRESETS, facts=try_facts())

# 5. The math ----------------------------------------------------------------------------
page.math(
    P,
    [
        (
            r"x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\quad "
            r"\bar\alpha_t = \prod_{s\le t}(1-\beta_s),\quad \varepsilon\sim\mathcal N(0, I)",
            t(f"{P}.src_forward"),
        ),
        (
            r"\beta_t^{\text{lin}} = 10^{-4} + (0.02-10^{-4})\tfrac{t-1}{T-1},\quad "
            r"\beta_t^{\text{SD}} = \Big(\sqrt{0.00085} + (\sqrt{0.012}-\sqrt{0.00085})\tfrac{t-1}{T-1}\Big)^2,\quad "
            r"\bar\alpha_t^{\cos} = \frac{f(t)}{f(0)},\ f(t) = \cos^2\!\Big(\frac{t/T + s}{1+s}\cdot\frac{\pi}{2}\Big)",
            t(f"{P}.src_schedules"),
        ),
        (r"\mathrm{SNR}(t) = \frac{\bar\alpha_t}{1-\bar\alpha_t}", t(f"{P}.src_snr")),
        (
            r"L = \mathbb E_{z_0=\mathcal E(x),\,c,\,\varepsilon,\,t}\big\lVert \varepsilon - "
            r"\varepsilon_\theta(z_t, t, c)\big\rVert^2,\quad c \to \varnothing \text{ with prob. } 0.15",
            t(f"{P}.src_loss"),
        ),
        (
            r"\tilde\varepsilon = \varepsilon_\theta(z_t, t, \varnothing) + w\,\big(\varepsilon_\theta(z_t, t, c) - "
            r"\varepsilon_\theta(z_t, t, \varnothing)\big)",
            t(f"{P}.src_cfg"),
        ),
        (
            r"\hat z_0 = \frac{z_t - \sqrt{1-\bar\alpha_t}\,\tilde\varepsilon}{\sqrt{\bar\alpha_t}},\quad "
            r"z_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat z_0 + \sqrt{1-\bar\alpha_{t'}-\sigma_t^2}\,\tilde\varepsilon + "
            r"\sigma_t\,\xi,\quad \sigma_t = \eta\sqrt{\frac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}"
            r"\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_{t'}}}",
            t(f"{P}.src_ddim"),
        ),
        (
            r"\tilde\mu = \frac{\sqrt{\bar\alpha_{t'}}\,\beta}{1-\bar\alpha_t}\hat z_0 + "
            r"\frac{\sqrt{\alpha}\,(1-\bar\alpha_{t'})}{1-\bar\alpha_t} z_t,\quad "
            r"\tilde\beta = \frac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}\,\beta,\quad "
            r"\alpha = \bar\alpha_t/\bar\alpha_{t'},\ \beta = 1-\alpha",
            t(f"{P}.src_ddpm"),
        ),
    ],
)

# 6. Download -----------------------------------------------------------------------------
c1, c2 = st.columns(2)
with c1:
    page.download_csv(quality_table(), f"{P}_quality.csv")
with c2:
    page.download_csv(schedule_table(), f"{P}_schedules.csv")
