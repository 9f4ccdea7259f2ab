"""The presets of the four RL pages as the pages define them, with each page's defaults.

The claim tests apply a preset on top of the defaults, as the page does; tests/pages/
test_rl_presets.py presses every preset in AppTest and checks that the page holds
exactly these values, so this copy cannot drift from the pages.
"""

from core.gridworld import BOOK_LAYOUT

RL_BASICS_DEFAULTS = {
    "grid": "3x3",
    "pol": "det",
    "src": "optimal",
    "eps": 0.2,
    "pseed": 0,
    "slip": 0.0,
    "task": "continuing",
    "gamma": 0.9,
    "start": 1,
    "T": 12,
    "seed": 0,
    "t": 0,
    "N": 500,
}
_RB = {"grid": "3x3", "src": "optimal", "slip": 0.0, "gamma": 0.9, "start": 1, "T": 12, "seed": 0, "t": 0}
RL_BASICS = {
    "book_return": {**_RB, "pol": "det", "task": "continuing", "t": 12},
    "episodic": {**_RB, "pol": "det", "task": "episodic", "t": 4},
    "through_forbidden": {**_RB, "pol": "det", "src": "straight", "task": "continuing", "t": 4},
    "uniform_slip": {**_RB, "grid": "5x5", "pol": "uniform", "slip": 0.2, "task": "continuing", "N": 1000},
}

GRIDWORLD_DEFAULTS = {
    "gamma": 0.9,
    "algo": "vi",
    "sweeps": 5,
    "rb": -1.0,
    "rf": -1.0,
    "rt": 1.0,
    "ro": 0.0,
    "layout": BOOK_LAYOUT,
}
_GW = {"layout": BOOK_LAYOUT, "rb": -1.0, "rt": 1.0, "ro": 0.0, "k": 200}
GRIDWORLD = {
    "far_sighted": {**_GW, "rf": -1.0, "gamma": 0.9, "algo": "vi"},
    "short_sighted": {**_GW, "rf": -1.0, "gamma": 0.5, "algo": "vi"},
    "strict": {**_GW, "rf": -10.0, "gamma": 0.9, "algo": "pi"},
    "truncated": {**_GW, "rf": -1.0, "gamma": 0.9, "algo": "tpi", "sweeps": 1, "k": 10},
}

MONTE_CARLO_DEFAULTS = {
    "algo": "eps",
    "eps": 0.2,
    "sched": "constant",
    "T": 100,
    "N": 500,
    "K": 10,
    "visit": "every",
    "avg": "batch",
    "rf": -10.0,
    "gamma": 0.9,
    "seed": 0,
}
_MC = {"rf": -10.0, "gamma": 0.9, "k": 10, "K": 10, "seed": 0, "avg": "batch", "visit": "every"}
MONTE_CARLO = {
    "basic_short": {**_MC, "algo": "basic", "T": 4, "N": 1},
    "basic_long": {**_MC, "algo": "basic", "T": 100, "N": 1},
    "greedy_blind": {**_MC, "algo": "eps", "eps": 0.0, "sched": "constant", "T": 100, "N": 500},
    "explore": {**_MC, "algo": "eps", "eps": 0.5, "sched": "constant", "T": 1000, "N": 100},
}

ROBBINS_MONRO_DEFAULTS = {
    "ex": "mean",
    "fam": "harmonic",
    "c": 1.0,
    "alpha": 1.0,
    "a": 0.1,
    "sigma": 1.0,
    "w1": 3.0,
    "runs": 200,
    "K": 500,
    "m": 1,
    "seed": 0,
}
ROBBINS_MONRO = {
    "too_fast": {
        "K": 500,
        "runs": 200,
        "seed": 0,
        "ex": "tanh",
        "fam": "power",
        "c": 1.0,
        "alpha": 2.0,
        "sigma": 0.3,
        "w1": 3.0,
    },
    "constant_floor": {
        "K": 500,
        "runs": 200,
        "seed": 0,
        "ex": "mean",
        "fam": "constant",
        "a": 0.2,
        "sigma": 1.0,
        "w1": 3.0,
    },
    "cube": {
        "K": 500,
        "runs": 200,
        "seed": 0,
        "ex": "cube",
        "fam": "power",
        "c": 0.1,
        "alpha": 1.0,
        "sigma": 1.0,
        "w1": 2.0,
    },
    "minibatch": {
        "K": 500,
        "runs": 200,
        "seed": 0,
        "ex": "sgd",
        "fam": "constant",
        "a": 0.2,
        "sigma": 1.0,
        "m": 20,
        "w1": 3.0,
    },
}

PAGES = {
    "rl_basics": (RL_BASICS_DEFAULTS, RL_BASICS),
    "gridworld": (GRIDWORLD_DEFAULTS, GRIDWORLD),
    "monte_carlo": (MONTE_CARLO_DEFAULTS, MONTE_CARLO),
    "robbins_monro": (ROBBINS_MONRO_DEFAULTS, ROBBINS_MONRO),
}


def settings(page: str, preset: str) -> dict:
    """The page's defaults with the preset's values on top."""
    defaults, presets = PAGES[page]
    return {**defaults, **presets[preset]}
