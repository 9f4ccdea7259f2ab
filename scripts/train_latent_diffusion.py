"""Train the toy latent diffusion model shipped with the diffusion page.

Run from the repository root:

    .venv/bin/python scripts/train_latent_diffusion.py            # full run, writes assets/
    .venv/bin/python scripts/train_latent_diffusion.py --quick --out /tmp/x   # seconds, for tests

Stages (fixed seed, CPU): 1. draw the shape data set; 2. train the autoencoder (f = 4,
4 latent channels); 3. train the scoring classifier on real images; 4. encode the data
set once, scale latents to unit variance; 5. train eps_theta(z_t, t, c) with condition
dropout; 6. sweep sample quality over steps and guidance scale (the page's quality chart
reads it, so the page never samples hundreds of runs live). Writes
``diffusion_model.pt`` (float16 weights), ``diffusion_quality.csv`` and
``diffusion_training.csv`` (loss curves).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import latent_diffusion as ld  # noqa: E402

SEED = 0
FULL = dict(n_train=6000, n_ref=1000, ae_iters=800, ae_batch=32, clf_iters=400, eps_iters=3000, eps_batch=64,
            per_class=8)  # fmt: skip
QUICK = dict(n_train=128, n_ref=32, ae_iters=25, ae_batch=16, clf_iters=10, eps_iters=40, eps_batch=32,
             per_class=1)  # fmt: skip
STEPS_DDIM = (1, 2, 5, 10, 20, 50, 100)
STEPS_DDPM = (1, 5, 20, 50, 100, 250)
GUIDANCE = (0.0, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0)
SWEEP_GUIDANCE = 3.0
SWEEP_STEPS = 50


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def quality_sweep(model: ld.LatentDiffusion, reference: np.ndarray, per_class: int, quick: bool) -> pd.DataFrame:
    """Sample every class under each setting and score it (accuracy, distance to data)."""
    K = len(ld.CLASSES)
    labels = np.repeat(np.arange(K), per_class)
    rows = []
    settings = [("steps", "ddim", s, SWEEP_GUIDANCE) for s in STEPS_DDIM]
    settings += [("steps", "ddpm", s, SWEEP_GUIDANCE) for s in STEPS_DDPM]
    settings += [("guidance", "ddim", SWEEP_STEPS, w) for w in GUIDANCE]
    if quick:
        settings = settings[:1]
    for sweep, sampler, steps, w in settings:
        t0 = time.time()
        traj = ld.sample(model, labels, steps, sampler=sampler, eta=0.0, guidance_scale=w, seed=SEED + 1,
                         num_samples=len(labels), num_frames=1)  # fmt: skip
        sc = ld.score(model, traj.final, labels, reference)
        rows.append(dict(sweep=sweep, sampler=sampler, steps=steps, guidance=w, **sc))
        log(f"sweep {sweep:8s} {sampler} steps={steps:4d} w={w:4.1f} acc={sc['accuracy']:.2f} "
            f"dist={sc['distance']:.1f} ({time.time() - t0:.1f}s)")  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "assets"))
    ap.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; 1 is fastest on a shared, oversubscribed machine")  # fmt: skip
    ap.add_argument("--sweep-only", action="store_true",
                    help="keep the weights in --out, recompute only the quality sweep")  # fmt: skip
    args = ap.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()

    # 1. data: training images, and a separate reference set for "distance to the data"
    images, labels = ld.make_shapes(cfg["n_train"], seed=SEED)
    reference, _ = ld.make_shapes(cfg["n_ref"], seed=SEED + 100)
    log(f"data {images.shape}")

    if args.sweep_only:
        return _sweep(ld.load(str(out / "diffusion_model.pt")), reference, cfg, out, args.quick, t_start)

    # 2. autoencoder
    ae, ae_loss = ld.train_autoencoder(images, cfg["ae_iters"], seed=SEED, batch_size=cfg["ae_batch"],
                                       log=_every(100, "ae"))  # fmt: skip
    # 3. classifier on the real images
    clf, clf_loss = ld.train_classifier(images, labels, cfg["clf_iters"], seed=SEED)
    # 4. encode once; scale so the latents have unit standard deviation (SD: 0.18215)
    with torch.no_grad():
        z = torch.cat([ae.encode(ld.to_chw(images[i : i + 500])) for i in range(0, len(images), 500)]).numpy()
    latent_scale = float(1.0 / z.std())
    latents = (latent_scale * z).astype(np.float64)
    log(f"autoencoder done, latent scale {latent_scale:.4f} ({time.time() - t_start:.0f}s)")

    # 5. the noise predictor with condition dropout
    eps_model, eps_loss = ld.train_noise_predictor(latents, labels, cfg["eps_iters"], seed=SEED,
                                                   batch_size=cfg["eps_batch"], log=_every(250, "eps"))  # fmt: skip
    model = ld.LatentDiffusion(ae, eps_model, clf, latent_scale)
    log(f"noise predictor done ({time.time() - t_start:.0f}s)")
    ld.save(model, str(out / "diffusion_model.pt"))

    # 6. quality sweep + real-data baseline
    result = _sweep(model, reference, cfg, out, args.quick, t_start)

    def curve(name: str, loss: np.ndarray) -> pd.DataFrame:
        k = max(1, len(loss) // 200)  # <= ~200 points per curve, mean over each window
        n = len(loss) // k * k
        return pd.DataFrame(dict(model=name, iteration=np.arange(0, n, k) + k, loss=loss[:n].reshape(-1, k).mean(1)))

    pd.concat([curve("autoencoder", ae_loss), curve("classifier", clf_loss), curve("eps_model", eps_loss)]).to_csv(
        out / "diffusion_training.csv", index=False
    )
    log(f"done in {time.time() - t_start:.0f}s; weights {(out / 'diffusion_model.pt').stat().st_size / 1e6:.2f} MB")
    return dict(ae_loss=ae_loss, clf_loss=clf_loss, eps_loss=eps_loss, **result)


def _sweep(model: ld.LatentDiffusion, reference: np.ndarray, cfg: dict, out: Path, quick: bool, t_start: float) -> dict:
    """Score real held-out images (the baseline) and the sampler settings; write the CSV."""
    # real baseline of the same size as each sweep point (the distance is biased by sample size)
    held_labels = np.repeat(np.arange(len(ld.CLASSES)), cfg["per_class"])
    held_out, _ = ld.make_shapes(len(held_labels), seed=SEED + 200, labels=held_labels)
    real = ld.score(model, held_out, held_labels, reference)
    recon = model.decode(model.encode(held_out))
    rec_rmse = float(np.sqrt(((recon - held_out) ** 2).mean()))
    log(f"real data: acc={real['accuracy']:.3f} dist={real['distance']:.1f}; AE recon RMSE {rec_rmse:.4f}")
    sweep = quality_sweep(model, reference, cfg["per_class"], quick)
    base = pd.DataFrame([dict(sweep="real", sampler="data", steps=0, guidance=0.0, **real)])
    pd.concat([sweep, base], ignore_index=True).to_csv(out / "diffusion_quality.csv", index=False)
    log(f"sweep written ({time.time() - t_start:.0f}s)")
    return dict(recon_rmse=rec_rmse, seconds=time.time() - t_start)


def _every(n: int, name: str):
    def f(i: int, loss: float) -> None:
        if (i + 1) % n == 0:
            log(f"{name} iter {i + 1} loss {loss:.4f}")

    return f


if __name__ == "__main__":
    main()
