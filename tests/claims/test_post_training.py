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
    # "With β = 0.2 the gold accuracy peaks at {peak} and ends at {end}: ... the hack never gets going in
    # 100 steps, and the peak is lower because thinking is held back too."
    tight, default = _hack(0.2), _hack(DEFAULT_BETA)
    g = tight.gold_accuracy
    assert _hack_step(tight) == len(g)  # never 0.10 below its peak
    assert g.max() - g[-1] <= 0.05
    assert g.max() <= default.gold_accuracy.max() - 0.05  # a lower peak than the page default β = 0.04
    assert (
        tight.length[-20:].mean() <= default.length[: _hack_step(default)].mean() - 1.0
    )  # thinking held back
    assert tight.checks[-20:].mean() <= 2.5  # about the base policy's one or two check lines


def test_loose_leash():
    # "With β = 0.01 thinking first fills the 8-line budget and the gold accuracy stays at {peak} until
    # step {step}; then check lines push work lines out and it falls to {end}."
    h, default = _hack(0.01), _hack(DEFAULT_BETA)
    g = h.gold_accuracy
    fall = _hack_step(h)
    assert fall < len(g) and g[-1] <= g.max() - 0.10  # it does fall, within the 100 steps
    assert fall > _hack_step(default)  # later than with the default β = 0.04
    lines = h.length + h.checks
    assert lines[10:40].mean() >= 7.5  # the budget is (nearly) full before the fall
    assert h.checks[fall:].mean() > h.checks[10:40].mean() + 1.0  # then check lines crowd in
