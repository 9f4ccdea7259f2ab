"""Each "Try this" sentence of pages/grpo.py, checked in numbers (issue 22).

Every test applies the preset's values on top of the page's defaults and computes the
claim with the core functions the page calls (core.grpo.example_group, core.grpo.train_all).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core import grpo

# The page's defaults: group section (gG, right, gcost, gfmt, prob) and training form (G, beta, eps, lr, steps, cost, seed)
GROUP = {"gG": 8, "right": 3, "gcost": 0.0, "gfmt": 0.0, "prob": 7}
TRAIN = grpo.Config(group_size=8, beta=0.04, epsilon=0.2, learning_rate=0.005, num_steps=60, length_cost=0.0)


def _train(**changes) -> dict[str, grpo.History]:
    return grpo.train_all(dataclasses.replace(TRAIN, **changes), seed=0)


@pytest.fixture(scope="module")
def default_runs():
    return _train()


def test_all_right():
    # "All eight answers are right, so every reward equals the mean: every advantage is 0"
    v = {**GROUP, "gG": 8, "right": 8, "gcost": 0.0}
    g = grpo.example_group(v["right"], v["gG"], v["gcost"], v["gfmt"], seed=v["prob"])
    assert g.correct.all() and len(g.correct) == 8
    assert np.all(g.rewards == g.rewards.mean())
    assert np.all(g.advantages == 0.0)


def test_length_tax():
    # "answers get shorter instead of longer, and as thinking stops GRPO's accuracy falls from {a0} to {a1}"
    runs = _train(length_cost=0.3, group_size=8, beta=0.04)
    for h in runs.values():  # every method: thinking shrinks
        assert h.length[-10:].mean() < h.length[:10].mean() - 0.2
    h = runs["grpo"]
    a0, a1 = h.pass1[0], h.pass1[-10:].mean()  # the page's summary: first step -> mean of the last 10
    assert a0 == pytest.approx(0.49, abs=0.01) and a1 <= a0 - 0.05  # 49% -> 40%
    assert h.length[-10:].mean() < 0.5


def test_tiny_group(default_runs):
    # "With G = 2 many groups are both-right or both-wrong: the fraction of all-zero groups and GRPO's slower rise"
    tiny = _train(group_size=2, length_cost=0.0)["grpo"]
    ref = default_runs["grpo"]
    assert tiny.zero_adv_frac.mean() >= ref.zero_adv_frac.mean() + 0.1
    assert tiny.pass1[19] <= ref.pass1[19] - 0.1  # slower: 20 steps in, at least 10 points behind


def test_tight_leash(default_runs):
    # "β = 0.5 holds the policy near the reference: KL stays small, answers stay short and accuracy plateaus lower"
    tight = _train(beta=0.5, length_cost=0.0, group_size=8)
    for m, h in tight.items():
        ref = default_runs[m]
        assert h.kl[-1] <= 0.3 * ref.kl[-1], m
        assert h.length[-10:].mean() <= ref.length[-10:].mean() - 1.5, m
        assert h.pass1[-10:].mean() <= ref.pass1[-10:].mean() - 0.2, m
