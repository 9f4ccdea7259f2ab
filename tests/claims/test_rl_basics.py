"""rl_basics "Try this" sentences, computed with core as pages/rl_basics.py calls it."""

import numpy as np
import pytest

from core import mdp
from core import rl_basics as rb
from core.gridworld import BOOK_CH1_LAYOUT, BOOK_LAYOUT, GridWorld
from tests.claims.helpers import setting

GRIDS = {"3x3": BOOK_CH1_LAYOUT, "5x5": BOOK_LAYOUT}


def arrows(gw: GridWorld, source: str) -> np.ndarray:
    """As the page's source_arrows: greedy w.r.t. v* at gamma 0.9, or straight (vertical first)."""
    if source == "optimal":
        return mdp.value_iteration(gw.P, gw.R, 0.9).policy.argmax(1)
    tr, tc = gw.targets[0]
    r, c = np.divmod(np.arange(gw.num_states), gw.cols)
    return np.where(r != tr, np.where(r < tr, 2, 0), np.where(c < tc, 1, np.where(c > tc, 3, 4)))


def episode(preset: str):
    v = setting("rl_basics", preset)
    gw = GridWorld.from_layout(GRIDS[v["grid"]])
    m = rb.slip_model(gw.P, gw.R, v["slip"])
    pol = (
        rb.deterministic_policy(arrows(gw, v["src"]))
        if v["pol"] == "det"
        else rb.uniform_policy(gw.num_states)
    )
    terminal = [gw.state(*gw.targets[0])] if v["task"] == "episodic" else None
    s, a, r = rb.rollout(
        m.P, m.R_sas, pol, v["start"] - 1, v["T"], np.random.default_rng(v["seed"]), terminal
    )
    return v, s, a, r


def test_book_return():
    """The terms gamma^3..gamma^11 add up to {partial} after 12 steps, on their way to gamma^3/(1-gamma)."""
    v, s, a, r = episode("book_return")
    g = v["gamma"]
    assert (s[:5] + 1).tolist() == [1, 2, 5, 8, 9]  # the book's trajectory of Figure 1.6 (a)
    shown = rb.discounted_return(r[: v["t"]], g)
    partial = sum(g**i for i in range(3, 12))
    assert shown == pytest.approx(partial, rel=1e-12)
    # "on their way": below the limit, and the gap is exactly the tail gamma^12 / (1 - gamma)
    assert g**3 / (1 - g) - shown == pytest.approx(g**12 / (1 - g), rel=1e-9)


def test_episodic():
    """The episode stops after 4 steps in s9 with the single term gamma^3."""
    v, s, a, r = episode("episodic")
    assert len(r) == 4 and s[-1] + 1 == 9
    assert rb.discounted_return(r, v["gamma"]) == pytest.approx(v["gamma"] ** 3)


def test_through_forbidden():
    """s1 -> s4 -> s7 -> s8 -> s9 with return 0 - 1 + 0 + 1 = 0, below the good policy's 1."""
    v, s, a, r = episode("through_forbidden")
    assert (s[:5] + 1).tolist() == [1, 4, 7, 8, 9]
    assert r[:4].tolist() == [0, -1, 0, 1] and r[: v["t"]].sum() == 0
    _, _, _, r_good = episode("book_return")
    assert r_good[:4].sum() == 1


def test_uniform_slip():
    """The mean of 1,000 returns from s1 is within two standard errors of the exact v_pi(s1)."""
    v = setting("rl_basics", "uniform_slip")
    gw = GridWorld.from_layout(GRIDS[v["grid"]])
    m = rb.slip_model(gw.P, gw.R, v["slip"])
    pol = rb.uniform_policy(gw.num_states)
    exact = mdp.policy_evaluation(m.P, m.R, pol, v["gamma"])[0]
    G = rb.sample_returns(
        m.P,
        m.R_sas,
        pol,
        0,
        rb.horizon(v["gamma"], 1e-6),
        v["N"],
        v["gamma"],
        np.random.default_rng(10_000 + v["seed"]),
    )
    se = G.std(ddof=1) / np.sqrt(len(G))
    assert v["N"] == 1000 and abs(G.mean() - exact) < 2 * se
