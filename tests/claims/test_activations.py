"""The activations page's "Try this" sentences, computed (issue 22): each preset on the page's defaults,
through the core calls the page makes (`depth_stats` -> gradient_through_depth, `curves` -> f and f')."""

from __future__ import annotations

import numpy as np

from core import activations as core
from tests.claims.helpers import setting

P = "activations"
PARAM_KEYS = {
    ("leaky_relu", "slope"): "slope",
    ("elu", "alpha"): "alpha",
    ("silu", "beta"): "beta",
    ("softplus", "beta"): "sp_beta",
}


def params(s: dict, name: str) -> dict[str, float]:
    """An activation's parameters as the page passes them: its slider's value, else the default."""
    return {
        p: float(s.get(PARAM_KEYS[(name, p)], spec.default))
        for p, spec in core.ACTIVATIONS[name].params.items()
    }


def depth(s: dict) -> dict[str, core.DepthResult]:
    return {
        n: core.gradient_through_depth(n, s["depth"], s["width"], s["init"], s["dseed"], params=params(s, n))
        for n in s["acts"]
    }


def test_vanish():
    """'At depth 50 with He init, the sigmoid's gradient at layer 1 is more than 20 orders of magnitude below
    the last layer's, while ReLU and GELU stay near 1.'"""
    s = setting(P, "vanish")
    r = depth(s)
    assert s["depth"] == 50 and s["init"] == "he"
    assert r["sigmoid"].grad_rel[0] < 1e-20
    for n in ("relu", "gelu"):  # "near 1" on a chart spanning 20+ decades: within one decade
        assert 0.1 <= r[n].grad_rel[0] <= 10, (n, r[n].grad_rel[0])


def test_small_init():
    """'With N(0, 0.01²) weights every layer multiplies the activations by roughly 0.01·√n·f′: by layer {depth}
    their spread is {spread} or less. The gradient chart stays flat ... For ReLU the ratio is exactly the one
    with He init.'"""
    s = setting(P, "small_init")
    r = depth(s)
    factor = 0.01 * np.sqrt(s["width"])  # per layer, times f' <= 1
    for n, res in r.items():
        # the activations collapse: over 20 orders of magnitude, about factor**depth
        assert res.act_std[-1] < 1e-20 * res.act_std[0], n
        per_layer = (res.act_std[-1] / res.act_std[0]) ** (1 / (s["depth"] - 1))
        assert 0.2 * factor < per_layer <= 1.1 * factor, (n, per_layer, factor)
        # the ratio chart stays flat: layer 1's gradient within a factor 20 of the last layer's ...
        assert 0.05 < res.grad_rel[0] < 20, (n, res.grad_rel[0])
        # ... because every layer's gradient is tiny alike
        assert res.grad_norm.max() < 1e-15
    he = core.gradient_through_depth("relu", s["depth"], s["width"], "he", s["dseed"])
    np.testing.assert_allclose(r["relu"].grad_rel, he.grad_rel, rtol=1e-9)  # ReLU is scale-free


def test_swish_beta():
    """'With β = 10 the Swish curve and its slope almost coincide with ReLU's; drag β down to 0.1 and it
    flattens into the line x/2.'"""
    s = setting(P, "swish_beta")
    lo, hi = s["xr"]
    x = np.linspace(lo, hi, 301)  # the page's grid
    beta = params(s, "silu")["beta"]
    assert beta == 10.0
    assert np.max(np.abs(core.silu(x, beta) - core.relu(x))) < 0.03
    away = np.abs(x) > 0.5  # the slopes agree except right at the kink
    assert np.max(np.abs(core.d_silu(x, beta) - core.d_relu(x))[away]) < 0.05
    flat = core.silu(x, 0.1)
    assert np.max(np.abs(flat - x / 2)) < 0.25 < np.max(np.abs(core.relu(x) - x / 2))
    assert np.max(np.abs(core.d_silu(x, 0.1) - 0.5)) < 0.16


def test_dead_relu():
    """'The right-hand chart counts units whose slope is 0 on all 128 inputs: none for Leaky ReLU and ELU, a
    growing share for ReLU in deep layers, all of them for the step.'"""
    s = setting(P, "dead_relu")
    assert s["dview"] == "dead"
    r = depth(s)
    assert np.all(r["leaky_relu"].dead_frac == 0) and np.all(r["elu"].dead_frac == 0)
    assert np.all(r["step"].dead_frac == 1)
    relu = r["relu"].dead_frac
    assert relu[-10:].mean() > relu[:10].mean() + 0.02 and relu[-10:].mean() > 0.02
