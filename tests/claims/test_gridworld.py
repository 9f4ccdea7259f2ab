"""gridworld "Try this" sentences, computed with core/mdp.py as pages/gridworld.py calls it."""

import numpy as np

from core import mdp
from core.gridworld import GridWorld
from tests.claims.helpers import setting


def solve(preset: str):
    v = setting("gridworld", preset)
    gw = GridWorld.from_layout(
        v["layout"], r_boundary=v["rb"], r_forbidden=v["rf"], r_target=v["rt"], r_other=v["ro"]
    )
    if v["algo"] == "pi":
        res = mdp.policy_iteration(gw.P, gw.R, v["gamma"])
    elif v["algo"] == "tpi":
        res = mdp.truncated_policy_iteration(gw.P, gw.R, v["gamma"], v["sweeps"], tol=1e-8, max_iter=5000)
    else:
        res = mdp.value_iteration(gw.P, gw.R, v["gamma"], tol=1e-8, max_iter=5000)
    return v, gw, res


def passes_forbidden(gw: GridWorld, policy: np.ndarray) -> dict[int, bool]:
    """For every free cell: does the greedy path from it enter a forbidden cell?"""
    kinds = gw.kinds().ravel()
    out = {}
    for s in np.flatnonzero(kinds == "free"):
        x, hit = int(s), False
        for _ in range(gw.num_states + 1):
            x = int(gw.next_state[x, policy[x].argmax()])
            hit |= kinds[x] == "forbidden"
        out[int(s)] = hit
    return out


def test_far_sighted():
    """From the left column the arrows cut straight through the forbidden cells."""
    v, gw, res = solve("far_sighted")
    through = passes_forbidden(gw, res.policy)
    left = [gw.state(r, 0) for r in range(gw.rows) if gw.kinds()[r, 0] == "free"]
    assert left and all(through[s] for s in left)


def test_short_sighted():
    """The policy walks around the forbidden cells; values far from the target are close to 0."""
    v, gw, res = solve("short_sighted")
    assert not any(passes_forbidden(gw, res.policy).values())
    tr, tc = gw.targets[0]
    r, c = np.divmod(np.arange(gw.num_states), gw.cols)
    far = np.abs(r - tr) + np.abs(c - tc) >= 5  # "far": five or more cells away
    assert np.abs(res.V[far]).max() < 0.05
    assert res.V.max() >= 1.9  # the target itself is worth 1 / (1 - 0.5) = 2


def test_strict():
    """Policy iteration converges in a few iterations and the optimal policy avoids every forbidden cell."""
    v, gw, res = solve("strict")
    assert res.converged and len(res.history) - 1 <= 10
    assert not any(passes_forbidden(gw, res.policy).values())


def test_truncated():
    """One evaluation sweep: truncated policy iteration is value iteration, iterate for iterate."""
    v, gw, res = solve("truncated")
    vi = mdp.value_iteration(gw.P, gw.R, v["gamma"], tol=1e-8, max_iter=5000)
    assert res.history.shape == vi.history.shape
    np.testing.assert_allclose(res.history, vi.history, atol=1e-12)
    assert v["k"] == 10 <= len(res.history) - 1
