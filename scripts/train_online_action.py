"""Train the shipped OadTR-lite / GRU / per-frame MLP weights for pages/online_action.py.

Trains every model kind of core.online_action on the default setting and on the
settings the page's "Try this" presets use, with fixed seeds, on the CPU with
one thread, and writes
    assets/online_action_weights.pt     state dicts + the experiment of every run
    assets/online_action_metrics.json   mAP / AP per class / parameters / seconds
Run:  .venv/bin/python scripts/train_online_action.py      (a few minutes)
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import online_action as oa  # noqa: E402

STEPS = 600
BATCH = 64
LR = 3e-3

DEFAULT = oa.Experiment(steps=STEPS, batch_size=BATCH, lr=LR)
RUNS = [
    DEFAULT,
    replace(DEFAULT, stream=replace(DEFAULT.stream, noise=0.6)),  # "clean stream" preset
    replace(DEFAULT, model=replace(DEFAULT.model, history=4)),  # "short history" preset
    replace(DEFAULT, model=replace(DEFAULT.model, history=32)),  # "long history" preset
]


def main() -> None:
    torch.set_num_threads(1)
    runs, metrics = [], []
    for exp in RUNS:
        train, test = oa.streams_for(exp)
        models, entry = (
            {},
            {"settings": oa.experiment_to_dict(exp), "mAP": {}, "AP": {}, "parameters": {}, "seconds": {}},
        )
        for kind in oa.MODEL_KINDS:
            torch.manual_seed(exp.seed)
            model = oa.build_model(kind, exp.stream.feature_dim, train.num_classes, exp.model)
            t0 = time.perf_counter()
            losses = oa.train_model(
                model, train, exp.model, exp.steps, seed=exp.seed, batch_size=exp.batch_size, lr=exp.lr
            )
            seconds = time.perf_counter() - t0
            result = oa.evaluate(model, kind, test, exp, losses)
            models[kind] = model
            entry["mAP"][kind] = result.mAP
            entry["AP"][kind] = result.ap.tolist()
            entry["parameters"][kind] = result.num_parameters
            entry["seconds"][kind] = round(seconds, 2)
            print(
                f"{oa.settings_key(exp)} {kind:18s} mAP {result.mAP:.3f}  "
                f"{result.num_parameters} params  {seconds:.1f} s",
                flush=True,
            )
        runs.append((exp, models))
        metrics.append(entry)
    oa.save_shipped(ROOT / "assets" / oa.WEIGHTS_FILE, runs)
    (ROOT / "assets" / oa.METRICS_FILE).write_text(json.dumps({"runs": metrics}, indent=1))
    print("size", (ROOT / "assets" / oa.WEIGHTS_FILE).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
