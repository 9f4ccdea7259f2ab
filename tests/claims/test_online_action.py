"""The online-action page's "Try this" sentences, computed (issue 22): each preset on the page's defaults,
through the core calls the page makes (`shipped_view` -> load_shipped + evaluate_all; `default_frame`).

Every preset's setting is shipped, so the claims are about the shipped weights the page shows."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from core import online_action as oa
from tests.claims.helpers import Expr, setting

P = "online_action"
ASSETS = Path(__file__).resolve().parents[2] / "assets"
MAIN = ("mlp", "gru", "oadtr")


@functools.cache
def shipped() -> dict:
    return oa.load_shipped(ASSETS)


@functools.cache
def view(key: tuple[int, int, float]) -> oa.Evaluation:
    """The page's `shipped_view`."""
    run = shipped()[key]
    return oa.evaluate_all(run.models, run.experiment)


def key_of(s: dict) -> tuple[int, int, float]:
    key = (int(s["hist"]), int(s["dec"]), round(float(s["noise"]), 3))
    assert key in shipped(), f"preset setting {key} is not shipped: the page would wait for Run"
    return key


def boundary() -> int:
    """The page's `default_frame`: 6 frames after the first action start at or after frame 300."""
    labels = oa.held_out_stream(oa.Experiment()).labels
    starts = np.flatnonzero((labels[1:] > 0) & (labels[:-1] == 0)) + 1
    return int(starts[starts >= 300][0] + 6)


def mAP(key) -> dict[str, float]:
    return {k: view(key).results[k].mAP for k in MAIN}


def action_mass(attention: np.ndarray, labels: np.ndarray, t: int, c: int) -> tuple[float, float]:
    """Attention at t on the window's frames of class c, and those frames' share of the window."""
    T = attention.shape[1]
    idx = t + np.arange(-T + 1, 1)
    of_c = (idx >= 0) & (labels[np.maximum(idx, 0)] == c)
    return float(attention[t][of_c].sum()), float(of_c.mean())


def test_onset():
    """'t = {t} sits {lag} frames into an action, and all three models still say background. Scrub t forward:
    the per-frame MLP first names the action {mlp} frames after its start, the GRU {gru}, OadTR-lite {oadtr};
    watch the token's attention move onto the new action's frames.'"""
    s = setting(P, "onset")
    assert s["frame"] == Expr("boundary - 3")
    t = boundary() - 3
    key = key_of(s)
    v = view(key)
    c = int(v.labels[t])
    start = t
    while v.labels[start - 1] == c:
        start -= 1
    assert c != 0 and t - start == 3  # 3 frames into an action
    for k in MAIN:
        am = v.results[k].probs.argmax(1)
        assert am[t] == 0, k  # still background
        first = int(np.flatnonzero(am[start:] == c)[0])
        assert first > t - start, k  # so each first names it later than t
    A = v.results["oadtr"].attention
    now, share_now = action_mass(A, v.labels, t, c)
    later, share_later = action_mass(A, v.labels, t + 5, c)
    assert later > now + 0.15  # the attention moves onto the action's frames ...
    assert later > share_later + 0.15  # ... more than their share of the window


def test_clean():
    """'With little noise one frame says much more: the per-frame MLP's mAP rises to {mlp}, yet the models
    that see history still lead with {best}.'"""
    clean = mAP(key_of(setting(P, "clean")))
    noisy = mAP(key_of(setting(P, "onset")))  # the default noise σ = 1.6
    assert clean["mlp"] > noisy["mlp"] + 0.3  # rises
    assert max(clean["gru"], clean["oadtr"]) > clean["mlp"] + 0.05  # history still leads, clearly


def test_short():
    """'With only 4 frames of context the GRU and OadTR-lite fall to {gru} and {oadtr} mAP (from {gru16} and
    {oadtr16} at T = 16): they keep a clear lead over the per-frame MLP ({mlp}) but lose about {lost} of it.'"""
    short = mAP(key_of(setting(P, "short")))
    ref = mAP(key_of({**setting(P, "short"), "hist": 16}))
    kept = []
    for k in ("gru", "oadtr"):
        assert short[k] < ref[k] - 0.05  # fall
        assert short[k] > short["mlp"] + 0.2  # a clear lead remains
        kept.append((short[k] - short["mlp"]) / (ref[k] - ref["mlp"]))
    assert 0.2 < 1 - np.mean(kept) < 0.5  # "about" a third, not "much of it"


def test_long():
    """'The window now spans whole actions and the background around them: watch how the attention spreads
    and whether the token ignores frames of the previous segment.'"""
    s = setting(P, "long")
    key = key_of(s)
    v = view(key)
    T = key[0]
    labels = v.labels
    change = np.flatnonzero(np.diff(labels)) + 1
    begin, end = np.r_[0, change], np.r_[change, len(labels)]
    lengths = (end - begin)[labels[begin] > 0]
    assert (lengths <= T).mean() > 0.6  # most actions fit whole in the window

    def spread(A: np.ndarray) -> float:  # the effective number of frames attended, exp(entropy)
        return float(np.exp(-(A * np.log(A + 1e-12)).sum(1)).mean())

    default = view(key_of(setting(P, "onset")))
    assert spread(v.results["oadtr"].attention) > spread(default.results["oadtr"].attention) + 2
