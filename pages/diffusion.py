"""Text-to-image latent diffusion you can step through: schedules, forward noising, sampling
steps, guidance, and how the prompt's words steer the image through cross-attention.

Runs a small text-conditioned latent diffusion model trained by
scripts/train_latent_diffusion.py (weights in assets/, loaded once); the page never trains.
Sampling runs are cached and show a progress bar while they run. A run too long for the 5 s
budget for heavy work (DDPM with more than LIVE_STEPS_FOR_ALL_SAMPLES steps) draws fewer
samples; nothing is computed ahead of time except the quality sweep (assets/diffusion_quality.csv).
"""

from __future__ import annotations

import io
import json
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
from ui.layout import is_lecture, keep_empty_url_value

P = "diffusion"
ASSETS = Path(__file__).resolve().parent.parent / "assets"
UPSCALE = 3  # nearest-neighbour: a 32-pixel image becomes 96 pixels, crisp on a projector
NUM_SAMPLES = 8
# A live run longer than this draws half the samples, so that it stays within DESIGN.md's 5 s.
LIVE_STEPS_FOR_ALL_SAMPLES = 100
NUM_FRAMES = 8
NUM_SWAP = 4  # samples shown side by side in the word swap
FORWARD_WIDTH, GRID_WIDTH = 150, 78  # display widths of the forward images and the sample grid
SWAP_WIDTH, HELD_WIDTH = GRID_WIDTH - 8, GRID_WIDTH - 20  # the word swap's and the held-out samples' widths
T = ld.NUM_TRAIN_STEPS
SAMPLERS = ("DDIM", "DDPM")  # the same in every language, so the URL reads ?sampler=DDPM
# strings: URL-safe options. Up to 250: the text model's U-Net costs ~7-11 ms a step on a quiet host
# (2-8 samples; convolutions), so a live 500-step run with the word swap measured ~7 s (benchmarks.heavy,
# scaled by its reference workload), over the 5 s budget
DDPM_STEPS = ("1", "2", "5", "10", "20", "50", "100", "250")
DEFAULT_PROMPT = "a large red triangle"
SWAP_WORDS = (*ld.COLOURS, *ld.SHAPES, *ld.SIZES, *ld.POSITIONS)
HELD_OUT_PROMPTS = tuple(f"a large {c} {s}" for c, s in ld.HELD_OUT)
GALLERY = [(c, s) for c, s in ld.training_pairs()][::3] + [(3, 0), (0, 1), (1, 2), (2, 3)]  # colour, shape


# ---------------------------------------------------------------------------- cached work


@st.cache_resource(show_spinner=False)
def load_model() -> ld.LatentDiffusion:
    import torch

    # These nets are tiny (batch 16 on an 8x8 grid): a second OpenMP thread buys nothing and,
    # on a busy 2-core machine, its spin-waiting made a 50-step run >10x slower (measured).
    torch.set_num_threads(1)
    return ld.load(ASSETS / "diffusion_model.pt")


@st.cache_data(max_entries=2, show_spinner=False)
def quality_table() -> pd.DataFrame:
    return pd.read_csv(ASSETS / "diffusion_quality.csv")


@st.cache_data(max_entries=2, show_spinner=False)
def metrics() -> dict:
    path = ASSETS / "diffusion_metrics.json"
    return json.loads(path.read_text()) if path.exists() else {}


@st.cache_data(max_entries=16, show_spinner=False)
def quality_row(sweep: str, steps: int = 50, w: float = 3.0, sampler: str = "ddim") -> dict:
    """One measured row of the sweep, as plain numbers (cached: a pandas filter on every rerun
    cost more than the rest of the page's text)."""
    q = quality_table()
    hit = q[(q["sweep"] == sweep) & (q["sampler"] == sampler) & (q["steps"] == steps) & (q["guidance"] == w)]
    return hit.iloc[0].to_dict()


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
def gallery() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A fixed set of scenes to noise and reconstruct: trained and held-out colour-shape pairs."""
    n = len(GALLERY)
    attrs = {"colour": np.array([c for c, _ in GALLERY]), "shape": np.array([s for _, s in GALLERY]),
             "size": np.ones(n, dtype=np.int64), "position": np.full(n, 4)}  # fmt: skip
    return ld.make_scenes(attrs, seed=2024), attrs


def scene_name(attrs: dict[str, np.ndarray], i: int) -> str:
    return t(f"{P}.verdict_name", colour=t(f"{P}.col_{ld.COLOURS[attrs['colour'][i]]}"),
             shape=t(f"{P}.cls_{ld.SHAPES[attrs['shape'][i]]}"))  # fmt: skip


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


def live_samples(steps: int) -> int:
    """How many samples a live run draws: all of them, or half for the 250-step DDPM run (~2 s on a
    quiet host with 4 samples, ~2.7 s with 8, before the word swap's two DDIM-50 runs)."""
    return NUM_SAMPLES if steps <= LIVE_STEPS_FOR_ALL_SAMPLES else NUM_SAMPLES // 2


def run_view(traj: ld.Trajectory, seconds: float) -> dict:
    """What the page shows of a run: filmstrips, attention strips, final samples (PNG), verdicts."""
    model = load_model()
    S = len(traj.timesteps)
    frames = traj.frame_index
    attn = traj.cross_attention[np.minimum(frames, S - 1), 0]  # (F, L, 8, 8), sample 1
    probs = model.classify(traj.final)
    hue, sat = ld.foreground_hue((traj.final + 1) / 2)
    return {
        "frame_t": np.r_[traj.timesteps, -1][frames],  # -1: after the last step (z_0)
        "strip_zt": png(strip(traj.images[:, 0])),
        "strip_x0": png(strip(traj.x0_images[:, 0])),
        "final": [png(to_uint8(im), GRID_WIDTH) for im in traj.final],
        # the word swap's smaller copies, at their display width (Streamlit re-encodes a larger PNG on every rerun)
        "final_swap": [png(to_uint8(im), SWAP_WIDTH) for im in traj.final[:NUM_SWAP]],
        "tokens": traj.tokens,
        # one strip per word (not <start>), each word's map scaled by its own maximum
        "attention": [png(attention_strip(attn[:, k])) for k in range(1, len(traj.tokens))],
        "attention_peak": [float(attn[:, k].max()) for k in range(1, len(traj.tokens))],
        "probs": probs,
        "hue_colour": ld.hue_colour(hue),
        "saturation": sat,
        "seconds": seconds,
    }


def sampled(prompt: str, neg: str, sampler: str, steps: int, eta: float, w: float, seed: int) -> dict:
    """A sampling run, kept for later visits (24 runs); a new one shows a progress bar.

    Raises ValueError (before any work) for an unknown word in either prompt.
    """
    words, neg_words = " ".join(ld.tokenize(prompt)), " ".join(ld.tokenize(neg))
    key = (words, neg_words, sampler, steps, round(eta, 3), round(w, 3), seed)

    def sample(report: page.Report) -> dict:
        t0 = time.perf_counter()
        traj = ld.sample(load_model(), words, steps, sampler=sampler, eta=eta, guidance_scale=w, seed=seed,
                         num_samples=live_samples(steps), num_frames=NUM_FRAMES, negative_prompt=neg_words,
                         progress=lambda i, n: report(i / n, t(f"{P}.sampling_progress", i=i, n=n)))  # fmt: skip
        return run_view(traj, time.perf_counter() - t0)

    return page.with_progress(P, key, sample, text=t(f"{P}.sampling_progress", i=0, n=steps))


@st.cache_data(max_entries=2, show_spinner=False)
def held_out_samples(seed: int) -> list[dict]:
    """Each held-out pair at the page's default settings: 4 samples each, in one batch, decoded."""
    model = load_model()
    texts = [p for p in HELD_OUT_PROMPTS for _ in range(4)]
    traj = ld.sample(model, texts, 50, guidance_scale=3.0, seed=seed, num_samples=len(texts), num_frames=1)
    probs = model.classify(traj.final)
    out = []
    for j, prompt in enumerate(HELD_OUT_PROMPTS):
        sl = slice(4 * j, 4 * j + 4)
        out.append({"prompt": prompt, "images": [png(to_uint8(im), HELD_WIDTH) for im in traj.final[sl]],
                    "shape": probs["shape"][sl].argmax(1), "colour": probs["colour"][sl].argmax(1)})  # fmt: skip
    return out


@st.cache_resource(show_spinner=False)
def step_costs() -> dict[str, float]:
    """Multiply-accumulates and measured time of one denoising step, latent vs pixel space."""
    import torch

    model = load_model()
    net = model.denoiser.unet
    pixel_net = ld.NoisePredictor(in_channels=3, width=net.width).eval()
    ids, mask = ld.encode_tokens([DEFAULT_PROMPT])
    with torch.no_grad():
        ctx = model.denoiser.text(ids, mask)
    t1 = torch.zeros(1, dtype=torch.int64)
    z = torch.zeros(1, ld.LATENT_CHANNELS, ld.LATENT_SIZE, ld.LATENT_SIZE)
    x = torch.zeros(1, 3, ld.IMAGE_SIZE, ld.IMAGE_SIZE)
    out = {
        "latent_macs": ld.count_macs(net, z, t1, ctx, mask),
        "pixel_macs": ld.count_macs(pixel_net, x, t1, ctx, mask),
    }
    batch = 2 * NUM_SAMPLES  # a guided step evaluates conditional + unconditional
    for name, m, inp in (("latent", net, z), ("pixel", pixel_net, x)):
        xb, tb = inp.expand(batch, -1, -1, -1), t1.expand(batch)
        cb, mb = ctx.expand(batch, -1, -1), mask.expand(batch, -1)
        with torch.no_grad():
            m(xb, tb, cb, mb)
            reps, t0 = 2, time.perf_counter()
            for _ in range(reps):
                m(xb, tb, cb, mb)
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
    return tiles_row([to_uint8(im, scale) for im in images], gap)


def tiles_row(tiles: list[np.ndarray], gap: int = 6) -> np.ndarray:
    white = np.full((tiles[0].shape[0], gap, 3), 255, dtype=np.uint8)
    return np.concatenate([p for tile in tiles for p in (tile, white)][:-1], axis=1)


# magma-like colour map: dark (no attention) -> light yellow (most attention)
_CMAP = np.array([(0, 0, 4), (80, 18, 123), (183, 55, 121), (252, 137, 97), (252, 253, 191)], dtype=np.float64)


def heat(a: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (H, W) -> uint8 RGB through the colour map."""
    x = np.clip(a, 0, 1) * (len(_CMAP) - 1)
    i = np.minimum(x.astype(int), len(_CMAP) - 2)
    f = (x - i)[..., None]
    return ((1 - f) * _CMAP[i] + f * _CMAP[i + 1]).round().astype(np.uint8)


def attention_strip(maps: np.ndarray) -> np.ndarray:
    """One word's attention maps over the frames (F, 8, 8), scaled by their maximum, as a strip
    aligned with the filmstrips (each 8 x 8 map drawn 96 x 96)."""
    scale = UPSCALE * ld.DOWNSAMPLE
    top = max(float(maps.max()), 1e-6)
    return tiles_row([np.repeat(np.repeat(heat(m / top), scale, axis=0), scale, axis=1) for m in maps])


def png(img: np.ndarray, width: int | None = None) -> bytes:
    """A uint8 image as PNG bytes, shrunk to `width` as st.image would shrink it (bilinear).

    Done once, in the cached work: st.image would otherwise encode every image
    again on every rerun (~2-5 ms each). Shown with output_format="PNG", the bytes go
    to the browser untouched.
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


def verdict(probs: dict[str, np.ndarray], i: int) -> str:
    """The classifier's reading of sample i: "red triangle 97%" (the product of both heads)."""
    c, s = int(probs["colour"][i].argmax()), int(probs["shape"][i].argmax())
    name = t(f"{P}.verdict_name", colour=t(f"{P}.col_{ld.COLOURS[c]}"), shape=t(f"{P}.cls_{ld.SHAPES[s]}"))
    return f"{name} {probs['colour'][i, c] * probs['shape'][i, s]:.0%}"


def frame_caption(ts: int) -> str:
    return "0" if ts < 0 else f"{ts + 1}"


def shown_prompt(words: str) -> str:
    """A prompt for markdown: its known words only (never raw input), in a code span."""
    return f"`{words}`" if words else t(f"{P}.empty_prompt")


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
        y=alt.Y("value", type="quantitative", title=t(f"{P}.schedule_axis"), scale=alt.Scale(type="log"), axis=charts.log_axis(5)),
        color=alt.Color("schedule", type="nominal", title=t(f"{P}.schedule"),
                        scale=alt.Scale(domain=sched_names, range=charts.CATEGORY[:3])),
        strokeDash=alt.StrokeDash("quantity", type="nominal", title=t(f"{P}.quantity"),
                                  scale=alt.Scale(domain=list(QTY_NAMES.values()), range=[[1, 0], [6, 3]])),
        tooltip=[alt.Tooltip("schedule", type="nominal"), alt.Tooltip("quantity", type="nominal"),
                 alt.Tooltip("t", type="quantitative"), alt.Tooltip("value", type="quantitative", format=".3g")],
    )  # fmt: skip
    return alt.layer(lines, charts.rule("now", "t"))


QUALITY_METRICS = ("shape", "colour", "distance")


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
        "quality": pa.Table.from_pandas(d[["x", "sampler", *QUALITY_METRICS]], preserve_index=False),
        "real": pa.Table.from_pandas(q[q["sweep"] == "real"][list(QUALITY_METRICS)], preserve_index=False),
    }


@charts.template
def quality_template(sweep: str, metric: str, legend: bool) -> alt.LayerChart:
    """One measure (shape or colour accuracy, distance) against the sweep's x, per sampler ("quality").

    Marked: the real images' own level ("real", grey) and the current setting ("now"). One chart
    per measure, not a vconcat: Streamlit stretches each vconcat panel's plot area to the column
    and the axes then spilled out of it (cut off in lecture mode).
    """
    steps = sweep == "steps"
    x_title = t(f"{P}.steps_axis") if steps else t(f"{P}.guidance_axis")
    # short axis titles (the caption says the accuracies are the classifier's): lecture mode's short
    # charts cut "Colour right (classifier)" to "Colour right (classifie"
    chart = charts.line("quality", "x", metric, x_title=x_title, y_title=t(f"{P}.axis_{metric}"), color="sampler",
                        log_x=steps, whole_x=steps, points=True)  # fmt: skip
    if steps:  # 1..250 steps span 2.4 decades: ticks and grid lines at the powers of ten only
        log_x = alt.X("x", type="quantitative", title=x_title, scale=alt.Scale(type="log"), axis=charts.log_axis())
        chart = chart.encode(x=log_x)
    chart = chart.encode(
        # the sampler legend on top of the first chart only
        color=alt.Color("sampler", type="nominal", title=t(f"{P}.sampler"),
                        legend=alt.Legend(orient="top") if legend else None),  # fmt: skip
        strokeDash=alt.StrokeDash("sampler", type="nominal", legend=None),  # a second channel besides colour
    )
    baseline = alt.Chart(charts.named("real")).mark_rule(color="gray", strokeDash=[4, 4])
    baseline = baseline.encode(y=alt.Y(metric, type="quantitative"))
    # the same room for every chart's y labels, so the stacked plot areas line up
    return alt.layer(chart, baseline, charts.rule("now", "x")).configure_axisY(minExtent=44 if is_lecture() else 36)


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
        img = st.slider(t(f"{P}.image"), 0, len(GALLERY) - 1, 0, key="img", bind="query-params")
    f = forward_images(img, kind, t_step)
    alpha_bar = f["alpha_bar"]
    name = scene_name(gallery()[1], img)
    with right:
        cols = st.columns(3)
        for col, key in zip(cols, ("x0", "x_t", "z_t"), strict=True):
            with col:
                page.image(f[key], alt=t(f"{P}.alt_fwd_{key}", name=name, t=t_step, T=T),
                           caption=t(f"{P}.fwd_{key}", t=t_step), width=FORWARD_WIDTH, output_format="PNG")  # fmt: skip
        m1, m2, m3 = st.columns(3)
        m1.metric("ᾱ_t", f"{alpha_bar:.4f}")
        m2.metric(t(f"{P}.signal_weight"), f"{np.sqrt(alpha_bar):.3f}")
        m3.metric("SNR(t)", "∞" if alpha_bar >= 1 else f"{dm.snr(alpha_bar):.3g}")
    now = charts.now("t", max(t_step, 1))
    charts.show(
        schedule_template(chart_height=charts.height(280)),
        data={"schedules": schedule_frame(current_lang()), "now": now},
        description=t(f"{P}.desc_schedule", t=t_step, a=f"{alpha_bar:.4f}", sched=t(f"{P}.sched_{kind}")),
    )
    page.prose(t(f"{P}.explain_forward"))


forward_section()


# 2. Sampling ----------------------------------------------------------------------
def unknown_word_message(exc: Exception) -> str:
    if isinstance(exc, ld.UnknownWordError):
        return t(f"{P}.unknown_word", word=exc.word, close=", ".join(f"`{w}`" for w in exc.suggestions))
    if isinstance(exc, ld.PromptTooLongError):
        return t(f"{P}.too_long", n=exc.num_words, limit=exc.limit)
    return t(f"{P}.bad_prompt")


@st.fragment
def sampling_section() -> None:
    st.subheader(t(f"{P}.sampling_title"))
    left, right = page.columns()
    with left:
        # the prompts sit outside the form: a new prompt resamples at once (50 DDIM steps: ~1 s)
        keep_empty_url_value("prompt")  # a link to the unconditional samples (`?prompt=`)
        prompt = st.text_input(t(f"{P}.prompt"), DEFAULT_PROMPT, max_chars=120, key="prompt", bind="query-params",
                               help=t(f"{P}.prompt_help", words=", ".join(ld.WORDS)))  # fmt: skip
        neg = st.text_input(t(f"{P}.negative"), "", max_chars=120, key="neg", bind="query-params",
                            help=t(f"{P}.negative_help"))  # fmt: skip
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
    steps = ddim_steps if sampler == "DDIM" else int(ddpm_steps)
    eta_used = eta if sampler == "DDIM" else 1.0
    settings = (sampler.lower(), int(steps), float(eta_used), float(w), int(seed))
    with right:
        got = page.keep_last_good(
            "diffusion_run",
            lambda: (" ".join(ld.tokenize(prompt or "")), " ".join(ld.tokenize(neg or "")),
                     sampled(prompt or "", neg or "", *settings)),  # fmt: skip
            unknown_word_message,
        )
        if got is None:
            return
        words, neg_words, run = got
        n = len(run["final"])
        st.markdown(t(f"{P}.run_summary", prompt=shown_prompt(words), sampler=sampler, steps=steps, w=w,
                      seconds=run["seconds"], n=n))  # fmt: skip
        if neg_words:
            st.caption(t(f"{P}.negative_used", neg=shown_prompt(neg_words)))
        if n < NUM_SAMPLES:
            st.caption(t(f"{P}.fewer_samples", n=n, all=NUM_SAMPLES, steps=LIVE_STEPS_FOR_ALL_SAMPLES))
        frames = "t = " + " → ".join(frame_caption(ts) for ts in run["frame_t"])
        label = shown_prompt(words).strip("`")
        st.caption(t(f"{P}.filmstrip_zt"))
        page.image(run["strip_zt"], alt=t(f"{P}.alt_strip_zt", prompt=label, frames=frames), caption=frames,
                   output_format="PNG")  # fmt: skip
        st.caption(t(f"{P}.filmstrip_x0"))
        page.image(run["strip_x0"], alt=t(f"{P}.alt_strip_x0", prompt=label, frames=frames), caption=frames,
                   output_format="PNG")  # fmt: skip
        st.caption(t(f"{P}.grid_title", n=n))
        verdicts = [verdict(run["probs"], i) for i in range(n)]
        page.image(run["final"], width=GRID_WIDTH, output_format="PNG", caption=verdicts,
                   alt=[t(f"{P}.alt_sample", i=i + 1, prompt=label, verdict=v) for i, v in enumerate(verdicts)])  # fmt: skip
        asked = ld.parse_caption(words)
        m = st.columns(3)
        for col, key in zip(m, ("shape", "colour", "colour_hue"), strict=True):
            target = asked.get("colour" if key == "colour_hue" else key)
            if target is None:
                col.metric(t(f"{P}.metric_{key}"), "–")
                continue
            pred = run["hue_colour"] if key == "colour_hue" else run["probs"][key].argmax(axis=1)
            col.metric(t(f"{P}.metric_{key}"), f"{(pred == target).mean():.0%}")
        if "colour" in asked and "shape" in asked:
            pair = (ld.COLOURS[asked["colour"]], ld.SHAPES[asked["shape"]])
            if pair in ld.HELD_OUT:
                h = quality_row("heldout")
                st.info(t(f"{P}.held_out_note", shape=h["shape"], colour=h["colour"]), icon=":material/science:")
    attention_section(run, words, frames)
    swap_section(words, neg, settings, run)
    quality_charts(sampler, int(steps), float(w))
    page.prose(t(f"{P}.explain_sampling"))


def attention_section(run: dict, words: str, frames: str) -> None:
    st.markdown(f"**{t(f'{P}.attention_title')}**")
    if not run["attention"]:
        st.caption(t(f"{P}.attention_empty"))
        return
    st.caption(t(f"{P}.attention_caption"))
    for word, pic, peak in zip(run["tokens"][1:], run["attention"], run["attention_peak"], strict=True):
        c1, c2 = st.columns([1, 5])
        c1.markdown(f"`{word}`")
        with c2:
            page.image(pic, alt=t(f"{P}.alt_attention", word=word, frames=frames, peak=peak),
                       caption=t(f"{P}.attention_peak", peak=peak), output_format="PNG")  # fmt: skip


def swap_section(words: str, neg: str, settings: tuple, run: dict) -> None:
    st.markdown(f"**{t(f'{P}.swap_title')}**")
    c1, c2 = st.columns([1, 2.6])
    with c1:
        word = st.selectbox(t(f"{P}.swap_word"), SWAP_WORDS, index=SWAP_WORDS.index("blue"), key="swap",
                            bind="query-params", help=t(f"{P}.swap_help"))  # fmt: skip
    swapped = ld.swap_word(words, word)
    ddpm = settings[0] == "ddpm"
    if ddpm:
        # a DDPM run of 250-500 steps takes 3-4 s: a second one for the swap would pass the 5 s budget,
        # so the swap compares both prompts with DDIM, 50 steps, eta = 0 (the same w and seed)
        settings = ("ddim", 50, 0.0, *settings[3:])
        run = sampled(words, neg, *settings)
    other = sampled(swapped, neg, *settings)
    with c2:
        st.caption(t(f"{P}.swap_caption", a=shown_prompt(words), b=shown_prompt(swapped), seed=settings[-1]))
        if ddpm:
            st.caption(t(f"{P}.swap_ddim"))
        left, right = st.columns(2)
        for col, w, r in ((left, words, run), (right, swapped, other)):
            k = min(NUM_SWAP, len(r["final"]))
            with col:
                st.markdown(shown_prompt(w))
                vs = [verdict(r["probs"], i) for i in range(k)]
                page.image(r["final_swap"][:k], width=SWAP_WIDTH, output_format="PNG", caption=vs,
                           alt=[t(f"{P}.alt_sample", i=i + 1, prompt=w, verdict=v) for i, v in enumerate(vs)])  # fmt: skip


def quality_charts(sampler: str, steps: int, w: float) -> None:
    st.markdown(f"**{t(f'{P}.quality_title')}**")
    cols = st.columns(2)
    best = quality_row("steps")
    for col, sweep, now_x in ((cols[0], "steps", steps), (cols[1], "guidance", w)):
        with col:
            data = {**quality_frames(sweep, current_lang()), "now": charts.now("x", now_x)}
            axis = t(f"{P}.steps_axis") if sweep == "steps" else t(f"{P}.guidance_axis")
            for i, metric in enumerate(QUALITY_METRICS):
                desc = (t(f"{P}.desc_quality_{sweep}", shape=best["shape"], colour=best["colour"]) if i == 0
                        else t(f"{P}.desc_quality_panel", metric=t(f"{P}.metric_{metric}"), axis=axis))  # fmt: skip
                # the height includes the axes (autosize "fit", padding contained) and the legend on top:
                # about 150 px of plot area each, room for the y title
                chart_height = charts.height(200 + (50 if i == 0 else 0))
                charts.show(quality_template(sweep, metric, i == 0, chart_height=chart_height), data=data,
                            description=desc)  # fmt: skip
    n = len(quality_table().query("sweep == 'heldout'"))
    st.caption(t(f"{P}.quality_caption", g=3, s=50, n_prompts=len(ld.training_pairs()) * len(ld.SIZES), n=n))


@st.fragment
def held_out_section() -> None:
    st.subheader(t(f"{P}.held_title"))
    h = quality_row("heldout")
    trained = quality_row("guidance")
    st.markdown(t(f"{P}.held_lead", pairs=", ".join(f"`{c} {s}`" for c, s in ld.HELD_OUT), shape=h["shape"],
                  colour=h["colour"], t_shape=trained["shape"], t_colour=trained["colour"]))  # fmt: skip
    cols = st.columns(len(HELD_OUT_PROMPTS))
    for col, res in zip(cols, held_out_samples(0), strict=True):
        c, s = ld.parse_caption(res["prompt"])["colour"], ld.parse_caption(res["prompt"])["shape"]
        ok = [t(f"{P}.held_ok" if (a == s and b == c) else f"{P}.held_wrong") for a, b in
              zip(res["shape"], res["colour"], strict=True)]  # fmt: skip
        with col:
            st.markdown(f"`{res['prompt']}`")
            # the mark alone under each small image (the words wrapped to three lines); legend below
            page.image(res["images"], width=HELD_WIDTH, output_format="PNG", caption=[o[0] for o in ok],
                       alt=[t(f"{P}.alt_sample", i=i + 1, prompt=res["prompt"], verdict=o) for i, o in enumerate(ok)])  # fmt: skip
    st.caption(t(f"{P}.held_legend"))


sampling_section()
held_out_section()


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
    system_table()


def system_table() -> None:
    """Stable Diffusion v1 next to this model: each part, its size, its source."""
    st.markdown(f"**{t(f'{P}.system_title')}**")
    counts = load_model().parameter_counts()
    rows = [
        ("sys_text", t(f"{P}.sys_text_sd"), t(f"{P}.sys_text_ours", n=counts["text_encoder"])),
        ("sys_tokens", "77 × 768", f"≤ {ld.MAX_TOKENS} × {ld.TEXT_DIM}"),
        ("sys_unet", t(f"{P}.sys_unet_sd"), t(f"{P}.sys_unet_ours", n=counts["unet"])),
        ("sys_vae", t(f"{P}.sys_vae_sd"), t(f"{P}.sys_vae_ours", n=counts["autoencoder"])),
        ("sys_latent", "3×512×512 → 4×64×64", "3×32×32 → 4×8×8"),
        ("sys_data", t(f"{P}.sys_data_sd"), t(f"{P}.sys_data_ours", vocab=len(ld.WORDS))),
    ]
    table = "| | Stable Diffusion v1 | " + t(f"{P}.sys_ours") + " |\n|---|---|---|\n"
    table += "\n".join(f"| {t(f'{P}.{k}')} | {sd} | {ours} |" for k, sd, ours in rows)
    st.markdown(table)
    st.caption(t(f"{P}.system_flow"))
    st.caption(t(f"{P}.system_sources"))
    page.prose(t(f"{P}.explain_context"))


latent_section()


# 4. Try this --------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def guidance_facts(words: str, seed: int, lang: str) -> dict:
    """Colour accuracy and foreground saturation of the page's 8 samples at w = 1, 3, 7.5 (50 DDIM steps)."""
    model, out = load_model(), {}
    colour = ld.parse_caption(words).get("colour")
    for key, w in (("1", 1.0), ("3", 3.0), ("75", 7.5)):
        traj = ld.sample(model, words, 50, guidance_scale=w, seed=seed, num_samples=NUM_SAMPLES, num_frames=1)
        out[f"s{key}"] = float(ld.foreground_saturation(traj.final).mean())
        pred = model.classify(traj.final)["colour"].argmax(1)
        out[f"c{key}"] = float((pred == colour).mean()) if colour is not None else float("nan")
    out["trend"] = t(f"{P}.trend_paler" if out["s75"] < out["s1"] else f"{P}.trend_more_saturated")
    return out


@st.cache_data(max_entries=8, show_spinner=False)
def eta_facts(words: str, seed: int) -> dict:
    """When the predicted image settles, with eta = 0 and eta = 1 (mean over the 8 samples)."""
    model, finals, out = load_model(), {}, {}
    for key, eta in (("0", 0.0), ("1", 1.0)):
        traj = ld.sample(model, words, 50, eta=eta, guidance_scale=3.0, seed=seed, num_samples=NUM_SAMPLES)
        out[f"settle{key}"] = float(ld.settle_steps(traj).mean())
        finals[key] = traj.final
    out["change"] = float(np.abs(finals["0"] - finals["1"]).mean())
    return out


def try_facts() -> dict[str, dict]:
    """The numbers the "Try this" sentences read out: the measured sweep, or the page's own runs."""
    h, tr = quality_row("heldout"), quality_row("guidance")
    ab = {k: float(dm.alphas_cumprod(dm.beta_schedule(k, T))[599]) for k in dm.SCHEDULES}
    facts = {
        "held_out": {"shape": h["shape"], "colour": h["colour"], "t_shape": tr["shape"], "t_colour": tr["colour"]},
        "cosine": {"cos": ab["cosine"], "sd": ab["scaled_linear"], "lin": ab["linear"]},
    }
    chosen = st.session_state.get(f"_try_{P}")
    seed = int(st.session_state.get("seed", 0))
    try:
        words = " ".join(ld.tokenize(st.session_state.get("prompt", DEFAULT_PROMPT) or ""))
    except ValueError:
        words = DEFAULT_PROMPT
    if chosen == "guidance":
        facts["guidance"] = guidance_facts(words, seed, current_lang())
    if chosen == "eta":
        facts["eta"] = eta_facts(words, seed)
    return facts


PRESETS = {
    "held_out": {"prompt": "a large blue triangle", "neg": "", "sampler": "DDIM", "steps": 50, "eta": 0.0, "w": 3.0},
    "guidance": {"sampler": "DDIM", "steps": 50, "eta": 0.0, "w": 7.5},
    "cosine": {"sched": "cosine", "t": 600},
    "eta": {"sampler": "DDIM", "steps": 50, "eta": 1.0, "w": 3.0, "seed": 0},
}
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
            r"\mathrm{Attention}(Q,K,V) = \mathrm{softmax}\!\Big(\frac{QK^\top}{\sqrt d}\Big)V,\quad "
            r"Q = W_Q\,\varphi(z_t),\ K = W_K\,\tau_\theta(y),\ V = W_V\,\tau_\theta(y)",
            t(f"{P}.src_cross"),
        ),
        (
            r"L = \mathbb E_{z_0=\mathcal E(x),\,y,\,\varepsilon,\,t}\big\lVert \varepsilon - "
            r"\varepsilon_\theta(z_t, t, \tau_\theta(y))\big\rVert^2,\quad y \to \text{“”} \text{ with prob. } 0.1",
            t(f"{P}.src_loss"),
        ),
        (
            r"\tilde\varepsilon = \varepsilon_\theta(z_t, t, \tau(y_-)) + w\,\big(\varepsilon_\theta(z_t, t, \tau(y)) - "
            r"\varepsilon_\theta(z_t, t, \tau(y_-))\big)",
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
