"""Train the shipped runs of the Transformer page: the default model (2 layers) and its 1-layer contrast.

Usage:  python scripts/train_induction.py   (each run about 10-30 s of one CPU thread on a quiet host)

Output: assets/induction_runs.pt, a dict {layers: core.induction.run_to_dict(run)} for
core.induction.InductionConfig() with layers = 2 and layers = 1, seed 0: the loss on
repeated and other positions at every step, the previous-token and induction scores
of every head at each checkpoint, and the weights at each checkpoint (float16, so
the page can replay the attention maps). It also prints the final accuracy and the
time a fixed reference workload takes here (benchmarks.heavy.reference_seconds;
0.33 s on a quiet host), to judge the timing. The page reads this file and never
trains at load; tests/core/test_induction.py checks the targets on it and retrains
a short prefix to compare.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.heavy import reference_seconds  # noqa: E402
from core import induction as core  # noqa: E402

OUT = ROOT / "assets" / "induction_runs.pt"
SEED = 0


def main() -> None:
    reference = reference_seconds()
    print(f"reference workload: {reference:.2f} s (0.33 s on a quiet host)", flush=True)
    runs = {}
    for layers in (2, 1):
        config = replace(core.InductionConfig(), layers=layers)
        run = core.train(config, SEED)
        run.reference_seconds = reference  # the page scales run.seconds by 0.33 / reference
        tokens, mask = core.eval_batch(config)
        ev = core.evaluate(run.model, tokens, mask)
        lnv = np.log(config.vocab)
        print(
            f"layers={layers}: {run.seconds:.1f} s; accuracy on repeated {ev['accuracy_repeated']:.3f}, "
            f"loss repeated {ev['loss_repeated'] / lnv:.0%} of ln V, other {ev['loss_other'] / lnv:.0%}; "
            f"best induction score per layer {run.induction[-1].max(axis=1).round(2)}, "
            f"previous-token scores layer 1 {run.prev_token[-1, 0].round(2)}",
            flush=True,
        )
        runs[layers] = core.run_to_dict(run)
    torch.save(runs, OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
