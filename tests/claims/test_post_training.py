"""Each "Try this" sentence of pages/post_training.py, checked in numbers (issue 22).

The page reads shipped runs (assets/grpo_runs.npz); these tests recompute them with
core.grpo.train, as scripts/precompute_grpo_runs.py does, and evaluate the claims with the
functions the page calls (capped_accuracy, the gold / proxy curves).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core import grpo

DEFAULT_BETA = 0.04  # the page's default hbeta; hseed 0


def _hack(beta: float) -> grpo.History:
    return grpo.train("grpo", dataclasses.replace(grpo.HACK_CONFIG, beta=beta), seed=0)


def _hack_step(h: grpo.History) -> int:
    """First step after the gold peak where gold accuracy is 0.10 below the peak (len if never)."""
    g = h.gold_accuracy
    peak = int(np.argmax(g))
    below = np.nonzero(g[peak:] < g[peak] - 0.10)[0]
    return peak + int(below[0]) if len(below) else len(g)


def test_no_thinking():
    # "With a cap of 0 every policy, trained or not, scores {acc} ... With the full budget GRPO reaches {full}."
    h = grpo.train("grpo", grpo.Config(), seed=0)
    n, slip = h.eval_problems[2], h.config.slip
    base, trained = h.length_probs
    at0 = [grpo.capped_accuracy(P, n, slip, [0])[0] for P in (base, trained)]
    # equal (no thinking, same slips) up to the float32 length probabilities summing to 1 (1e-6)
    assert at0[0] == pytest.approx(at0[1], abs=1e-6)
    # the same number as answering in the head: mean over prompts of (1 - slip)^n
    assert at0[0] == pytest.approx(np.mean((1 - slip) ** n), abs=1e-6)
    full = grpo.capped_accuracy(trained, n, slip, [8])[0]
    assert full >= at0[0] + 0.3


def test_tight_leash():
    # "With β = 0.2 the gold accuracy peaks at {peak} at step {step} and falls to {end}: ... the hack sooner"
    tight, default = _hack(0.2), _hack(DEFAULT_BETA)
    g = tight.gold_accuracy
    assert g.max() - g[-1] >= 0.3
    assert _hack_step(tight) < _hack_step(default) < len(g)


def test_loose_leash():
    # "With β = 0.01 ... at most one check line fits ({c} on average at the end) and the gold accuracy ends at {end}"
    h = _hack(0.01)
    assert h.checks[-5:].mean() <= 1.1
    assert h.length[-5:].mean() >= 6.5  # thinking fills most of the 8-line budget
    assert h.gold_accuracy[-1] >= h.gold_accuracy.max() - 0.02
    assert _hack_step(h) == len(h.gold_accuracy)  # no 0.10 fall within the 60 steps
