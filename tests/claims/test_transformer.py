"""The "Try this" sentences of pages/transformer.py, computed from the shipped runs as the page shows them.

Page defaults: the shipped default run (core.InductionConfig(), seed 0) with the number of layers the
preset sets, the fresh sequence of seed 0 (24 tokens), checkpoint as the preset sets.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core import induction as core
from tests.apptest_utils import ROOT

SHOW_LENGTH, SMOOTH = 24, 25  # as in pages/transformer.py
PRESETS = {
    "phase_change": {"layers": "2", "ck": 0},
    "one_layer": {"layers": "1", "ck": core.CHECKPOINTS},
    "heads": {"layers": "2", "ck": core.CHECKPOINTS},
}


@pytest.fixture(scope="module")
def runs() -> dict[int, core.InductionRun]:
    stored = torch.load(ROOT / "assets" / "induction_runs.pt", weights_only=True)
    return {int(k): core.run_from_dict(v) for k, v in stored.items()}


def _fresh(run: core.InductionRun, ck: int, seed: int = 0):
    """The page's attention maps: the fresh sequence of `seed` at checkpoint `ck`."""
    tokens, mask = core.repeated_sequences(1, SHOW_LENGTH, run.config.vocab, np.random.default_rng(seed))
    return core.attention_maps(run.model_at(ck), tokens[0]), tokens, mask


def test_phase_change(runs) -> None:
    """'At step 0 every head spreads its attention evenly ... the loss on repeated tokens drops, and a
    layer-2 head sharpens into a shifted stripe, ending with an induction score of {ind}.'"""
    run = runs[int(PRESETS["phase_change"]["layers"])]
    maps, _, _ = _fresh(run, PRESETS["phase_change"]["ck"])
    T = maps.shape[-1]
    # evenly: every row's largest weight within 2.5x of uniform 1/(i+1)
    for i in range(T):
        assert maps[:, :, i, : i + 1].max() < 2.5 / (i + 1)
    assert run.induction[0].max() < 0.15
    loss = np.convolve(run.loss_repeated, np.ones(SMOOTH) / SMOOTH, mode="valid")
    assert loss[-1] < 0.3 * loss[0]
    ind = run.induction[-1, 1].max()
    assert ind >= 0.5
    # the stripe on the page's sequence: the best head puts most of its weight on the orange squares
    final, tokens, mask = _fresh(run, core.CHECKPOINTS)
    _, on_seq = core.head_scores(final[None], tokens, mask)
    assert on_seq[1].max() > 0.5


def test_one_layer(runs) -> None:
    """'the loss on repeated tokens stays at {ratio} of ln V, and the best head's induction score is only {ind}'."""
    one, two = runs[1], runs[2]
    assert one.config.layers == int(PRESETS["one_layer"]["layers"])
    ratio = one.loss_repeated[-SMOOTH:].mean() / math.log(one.config.vocab)
    assert ratio > 0.6
    assert one.induction[-1].max() < 0.5 * two.induction[-1, 1].max()


def test_heads(runs) -> None:
    """'The heads with the high scores are the ones whose maps show the stripes': on the page's sequence at the
    last checkpoint, the layer-1 head with the highest previous-token score (evaluation batch) also has the
    most weight one step below the diagonal, and the best layer-2 induction head the most on the squares."""
    run = runs[int(PRESETS["heads"]["layers"])]
    maps, tokens, mask = _fresh(run, PRESETS["heads"]["ck"])
    prev, ind = core.head_scores(maps[None], tokens, mask)
    assert np.argmax(prev[0]) == np.argmax(run.prev_token[-1, 0])
    assert np.argmax(ind[1]) == np.argmax(run.induction[-1, 1])
    assert prev[0].max() > 0.3 and ind[1].max() > 0.5
