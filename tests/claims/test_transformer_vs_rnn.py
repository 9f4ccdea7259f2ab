"""The "Try this" sentences of pages/transformer_vs_rnn.py, computed with core as the page calls it.

Each test applies the preset's values on top of the page defaults (T = 50, ρ = 0.5, H = 32,
seed 0; causal off, τ = 1, position weight 1, example ex1) and checks the sentence in numbers.
"""

from __future__ import annotations

import numpy as np

from core import sequence_models as core
from ui.i18n import strings

DEFAULTS = {"T": 50, "rho": 0.5, "H": 32, "seed": 0, "causal": False, "temp": 1.0, "pos": 1.0, "ex": "ex1"}
PRESETS = {
    "vanish": {"T": 100, "rho": 0.5, "H": 32},
    "explode": {"T": 100, "rho": 1.5, "H": 32},
    "edge": {"T": 150, "rho": 1.0, "H": 64},
    "causal": {"causal": True, "temp": 0.3, "ex": "ex1"},
}


def _values(name: str) -> dict:
    return {**DEFAULTS, **PRESETS[name]}


def _norms(v: dict, kind: str) -> np.ndarray:
    """||dh_T/dx_t|| for t = 1..T, as the page's gradient_table computes it (index = t - 1)."""
    with core.one_thread():
        return core.input_gradient_norms(kind, v["T"], v["H"], v["rho"], v["seed"])


def _log_slope(g: np.ndarray) -> float:
    """Least-squares slope of ln ||dh_T/dx_t|| against the distance T - t."""
    distance = np.arange(len(g) - 1, -1, -1)
    return float(np.polyfit(distance, np.log(g), 1)[0])


def test_vanish() -> None:
    """'drops as a straight line on the log axis, hugging its dashed bound; attention stays flat'."""
    v = _values("vanish")
    g = _norms(v, "rnn")
    bound = core.rnn_gradient_bound(v["T"], v["H"], v["rho"], v["seed"])
    assert np.all(g <= bound * (1 + 1e-9))
    # straight line: slope within 15% of ln(rho), and a line fits (R^2 > 0.99)
    slope = _log_slope(g)
    assert abs(slope - np.log(v["rho"])) < 0.15 * abs(np.log(v["rho"]))
    distance = np.arange(len(g) - 1, -1, -1)
    fit = np.polyval(np.polyfit(distance, np.log(g), 1), distance)
    r2 = 1 - np.sum((np.log(g) - fit) ** 2) / np.sum((np.log(g) - np.log(g).mean()) ** 2)
    assert r2 > 0.99
    # hugging the bound: within a factor 10 of it on the whole range, while it falls by > 1e25
    assert np.all(g > bound / 10) and g[-1] / g[0] > 1e25
    a = _norms(v, "attention")
    assert a.max() / a.min() < 10


def test_explode() -> None:
    """'rises with distance: far tokens get larger gradients than near ones'."""
    g = _norms(_values("explode"), "rnn")
    assert g[0] > 100 * g[-1]
    assert _log_slope(g) > 0


def test_edge() -> None:
    """'neither shrinks nor grows from W alone; the tanh slopes below 1 still make it fade slowly'."""
    v = _values("edge")
    g = _norms(v, "rnn")
    assert g[0] < g[-1]  # it fades ...
    slope = _log_slope(g)
    # ... slowly: far less than 1/10 of the decay rate at rho = 0.5 (ln 0.5 = -0.69 per step)
    assert -0.069 < slope < 0


def test_causal() -> None:
    """'upper triangle exactly zero, each row concentrates on its best match'."""
    v = _values("causal")
    tokens = core.tokenize(strings("en")[f"transformer_vs_rnn.{v['ex']}"])
    x = core.token_embeddings(tokens, 32, v["pos"])
    A = core.attention_weights(x, v["causal"], v["temp"])
    T = len(tokens)
    assert np.all(A[np.triu_indices(T, 1)] == 0.0)
    sharp = A.max(axis=1)
    soft = core.attention_weights(x, v["causal"], 1.0).max(axis=1)
    assert sharp.mean() > 0.8 and sharp.mean() > soft.mean() + 0.1
