"""Perceptron page: the update scrubber survives data that need fewer updates."""

import numpy as np

from core import perceptron as core
from tests.apptest_utils import assert_healthy, find, open_page
from ui.registry import by_key

SPEC = by_key("perceptron")


def longest_run(kind: str, n: int, margin: float, seed: int) -> int:
    """Updates of the longer of the two runs (with / without bias), as the page computes them."""
    data = core.make_dataset_info(kind, n, margin, np.random.default_rng(seed))
    return max(core.train(data.X, data.y, max_epochs=100, use_bias=b).updates for b in (True, False))


def test_scrubber_at_its_end_then_a_seed_with_fewer_updates():
    """k at the end of a long run, then data needing fewer updates: k is pulled back, no error.

    Streamlit raises (StreamlitValueAboveMaxError) when a remembered value exceeds a new max.
    """
    kind, n, margin = "offset", 200, 0.15
    lengths = {seed: longest_run(kind, n, margin, seed) for seed in range(12)}
    long_seed, short_seed = max(lengths, key=lengths.get), min(lengths, key=lengths.get)
    assert lengths[long_seed] > lengths[short_seed]  # the data really differ
    at = open_page(SPEC, "en")
    find(at, "data").set_value(kind)
    find(at, "n").set_value(n)
    find(at, "margin").set_value(margin)
    find(at, "seed").set_value(long_seed).run()
    assert find(at, "k").max == lengths[long_seed]  # the page trains what this test trained
    find(at, "k").set_value(lengths[long_seed]).run()
    assert_healthy(at, "k at the end")
    find(at, "seed").set_value(short_seed).run()
    assert_healthy(at, "fewer updates")
    assert find(at, "k").value == max(lengths[short_seed], 1)
