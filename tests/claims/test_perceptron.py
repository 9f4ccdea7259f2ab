"""The perceptron page's "Try this" sentences, computed (issue 22): each preset on the page's defaults,
through the core calls the page makes (`dataset` -> make_dataset_info, `learn` -> train, novikoff_bound)."""

from __future__ import annotations

import numpy as np

from core import perceptron as core
from tests.claims.helpers import setting

P = "perceptron"


def runs(s: dict) -> tuple[core.Dataset, dict[bool, core.PerceptronHistory]]:
    """The page's `dataset` and `learn` for a setting: both runs, with and without a bias, 100 epochs."""
    data = core.make_dataset_info(s["data"], s["n"], s["margin"], np.random.default_rng(s["seed"]))
    return data, {bias: core.train(data.X, data.y, max_epochs=100, use_bias=bias) for bias in (True, False)}


def test_offset_no_bias():
    """'The run without a bias keeps making mistakes every epoch ... its line spins around the origin
    while the biased line settles.'"""
    s = setting(P, "offset_no_bias")
    data, run = runs(s)
    no_bias, bias = run[False], run[True]
    assert not no_bias.converged and len(no_bias.mistakes_per_epoch) == 100
    assert (no_bias.mistakes_per_epoch > 0).all()  # every epoch
    assert np.all(no_bias.b == 0)  # its line always passes through the origin
    # it spins: the direction of w turns through more than a half turn over the updates
    angle = np.unwrap(np.arctan2(no_bias.w[1:, 1], no_bias.w[1:, 0]))
    assert np.ptp(angle) > np.pi / 2
    assert bias.converged and bias.mistakes_per_epoch[-1] == 0  # the biased line settles
    assert bias.updates < no_bias.updates / 5
    assert s["k"] == 0  # the scrubber starts at the first update


def test_xor():
    """'No single line separates the quadrants: neither run ever reaches an epoch without mistakes.'"""
    _, run = runs(setting(P, "xor"))
    for h in run.values():
        assert not h.converged
        assert h.mistakes_per_epoch.min() > 0 and len(h.mistakes_per_epoch) == 100


def test_silence():
    """'With T = 4 no point reaches the threshold: the whole plane is silent and the firing-rate curve is
    at 0 at your T.' The figure's data: the unit's output on the points, the two half-planes of the box."""
    s = setting(P, "silence")
    data = core.make_dataset_info(s["data"], s["n"], s["margin"], np.random.default_rng(s["seed"]))
    w, b = np.array([s["w1"], s["w2"]]), s["b"]
    assert -b == 4.0
    assert core.predict(data.X, w, b).sum() == 0
    pad = 0.3  # the page's bounds(): the data's box plus 0.3
    box = (
        data.X[:, 0].min() - pad,
        data.X[:, 0].max() + pad,
        data.X[:, 1].min() - pad,
        data.X[:, 1].max() + pad,
    )
    fires, silent = core.halfplanes(w, b, box)
    assert len(fires) == 0 and len(silent) == 4  # the whole drawn plane is silent
    assert core.firing_rate(data.X, w, np.array([-b]))[0] == 0.0
    # and not trivially: at T = 0 the same unit fires on about half the points
    assert 0.3 < core.firing_rate(data.X, w, np.array([0.0]))[0] < 0.7


def test_thin_margin():
    """'With margin 0 (seed 0) γ is tiny: the bound (R/γ)² on the biased run shoots up to {bound}, {ratio}
    times its value at margin 0.15, while the run itself needs only {updates} updates.'"""
    s = setting(P, "thin_margin")
    assert s["seed"] == 0 and s["margin"] == 0.0  # the preset fixes the sample the sentence is about
    data, run = runs(s)
    ref = core.make_dataset_info(s["data"], s["n"], 0.15, np.random.default_rng(s["seed"]))
    bound = core.novikoff_bound(data.X, data.y, data.normal, data.offset, True)
    ref_bound = core.novikoff_bound(ref.X, ref.y, ref.normal, ref.offset, True)
    assert bound / ref_bound > 100  # "shoots up"
    assert run[True].converged and run[True].updates <= bound  # Novikoff holds
    assert run[True].updates < bound / 1000  # "needs only": far below the worst case
