"""monte_carlo "Try this" sentences, computed with core/monte_carlo.py as pages/monte_carlo.py calls it."""

from collections import deque

import numpy as np

from core import mdp
from core import monte_carlo as mc
from core.gridworld import ACTIONS, GridWorld
from tests.claims.helpers import setting


def run(preset: str):
    v = setting("monte_carlo", preset)
    gw = GridWorld(r_forbidden=v["rf"])
    rng = np.random.default_rng(v["seed"])
    first = v["visit"] == "first"
    if v["algo"] == "basic":
        res = mc.mc_basic(
            gw.P, gw.R, v["gamma"], v["T"], v["K"], rng, episodes_per_pair=v["N"], averaging=v["avg"]
        )
    else:
        eps_k = mc.epsilon_schedule(v["sched"], v["eps"], v["K"])
        res = mc.mc_epsilon_greedy(
            gw.P, gw.R, v["gamma"], eps_k, v["T"], v["N"], v["K"], rng, first_visit=first, averaging=v["avg"]
        )
    return v, gw, res


def steps_to_target(gw: GridWorld) -> np.ndarray:
    """Fewest moves from each cell to enter the target (breadth-first over the deterministic moves)."""
    t = gw.state(*gw.targets[0])
    dist = np.full(gw.num_states, np.inf)
    pred = {s: set() for s in range(gw.num_states)}
    for s in range(gw.num_states):
        for a in range(gw.num_actions):
            pred[int(gw.next_state[s, a])].add(s)
    queue = deque()
    for s in pred[t]:
        dist[s] = 1
        queue.append(s)
    while queue:
        x = queue.popleft()
        for y in pred[x]:
            if dist[y] == np.inf:
                dist[y] = dist[x] + 1
                queue.append(y)
    return dist


def test_basic_short():
    """Only cells within 4 steps of the target get a non-zero value; the rest is exactly 0."""
    v, gw, res = run("basic_short")
    dist = steps_to_target(gw)
    assert np.all(res.V[dist > v["T"]] == 0.0)
    assert np.all(dist[res.V != 0] <= v["T"])
    # the cells near the target light up, most of the grid stays blank (book Figure 5.4, T = 4)
    assert 5 <= (res.V != 0).sum() <= 12


def test_basic_long():
    """Episodes of 100 steps: the values match v* (book Figure 3.4 d) to within 0.01."""
    v, gw, res = run("basic_long")
    v_star = mdp.value_iteration(gw.P, gw.R, v["gamma"]).V
    assert np.abs(res.V - v_star).max() < 0.01


def test_greedy_blind():
    """After the uniform first batch only {pairs} = 25 pairs, one per cell, get new visits; the learned
    policy's exact value stays far below v*."""
    v, gw, res = run("greedy_blind")
    h = res.history
    assert (h.visits[1] == 0).sum() == 0  # the uniform pi_0 tried every pair
    new = (h.visits[-1] - h.visits[1]) > 0
    assert new.sum() == 25 and np.all(new.sum(1) == 1)
    v_pi = mdp.policy_evaluation(gw.P, gw.R, res.policy, v["gamma"]).mean()
    v_star = mdp.value_iteration(gw.P, gw.R, v["gamma"]).V.mean()
    assert v_pi < v_star - 3


def test_explore():
    """Every action gets tried, the learned values are low and the policy on the target is not 'stay'."""
    v, gw, res = run("explore")
    assert (res.visits == 0).sum() == 0
    v_star = mdp.value_iteration(gw.P, gw.R, v["gamma"]).V
    assert res.V.mean() < v_star.mean() - 3
    target = gw.state(*gw.targets[0])
    assert res.policy[target].argmax() != ACTIONS.index("stay")
