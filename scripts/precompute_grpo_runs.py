"""Precompute the post-training page's default runs into assets/grpo_runs.npz.

The page calls the same core functions with the same settings; tests/core/test_grpo.py
recomputes one run and compares it with the file. Run from the repository root: `.venv/bin/python scripts/precompute_grpo_runs.py`
(about 15 s on one core).

- "base_<method>": core.grpo.train(method, Config(), seed=0) for GRPO, REINFORCE and PPO: the
  length distributions before and after training on the 250 eval prompts (test-time section).
- "hack_<reward>_<beta>": train("grpo", HACK_CONFIG with beta, reward), seed 0: the reward-hacking
  curves, learned reward for every beta in HACK_BETAS, the rule reward at the default beta.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import grpo  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "assets" / "grpo_runs.npz"
CURVES = ("proxy_reward", "gold_accuracy", "kl", "length", "checks", "accuracy")


def hack_runs() -> dict[str, grpo.Config]:
    runs = {f"hack_learned_{b}": dataclasses.replace(grpo.HACK_CONFIG, beta=b) for b in grpo.HACK_BETAS}
    runs[f"hack_rule_{grpo.HACK_CONFIG.beta}"] = dataclasses.replace(grpo.HACK_CONFIG, reward="rule")
    return runs


def arrays_of(name: str, h: grpo.History) -> dict[str, np.ndarray]:
    if name.startswith("base_"):
        return {f"{name}/length_probs": h.length_probs, f"{name}/eval_problems": h.eval_problems}
    out = {f"{name}/{c}": getattr(h, c) for c in CURVES}
    out[f"{name}/rm_theta"] = h.reward_model.theta
    return out


def main() -> None:
    arrays: dict[str, np.ndarray] = {}
    for m in grpo.METHODS:
        arrays |= arrays_of(f"base_{m}", grpo.train(m, grpo.Config(), seed=0))
        print("trained", m, flush=True)
    for name, cfg in hack_runs().items():
        arrays |= arrays_of(name, grpo.train("grpo", cfg, seed=0))
        print("trained", name, flush=True)
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
