"""Train the toy text-to-image latent diffusion model shipped with the diffusion page.

Run from the repository root. The shipped weights came from exactly this command (4000
denoiser iterations, chosen so the whole training fits issue 16's 20 CPU-minute budget; the
training CPU time is written to diffusion_metrics.json), then the four files copied to assets/:

    nice -n 10 .venv/bin/python scripts/train_latent_diffusion.py --eps-iters 4000 --threads 1 --out /tmp/dtext_out

Other uses:

    nice -n 10 .venv/bin/python scripts/train_latent_diffusion.py      # the same full run, writes assets/
    .venv/bin/python scripts/train_latent_diffusion.py --quick --out /tmp/x   # seconds, for tests
    .venv/bin/python scripts/train_latent_diffusion.py --sweep-only      # re-measure the shipped weights

Stages (fixed seed, CPU, one torch thread): 1. draw the scenes: training images from the 12
colour-shape pairs not held out, and real images of all 16 pairs for the scoring classifier
and the reference set; 2. train the autoencoder (f = 4, 4 latent channels) on the training
images; 3. train the scoring classifier (one head per attribute) on real images; 4. encode the
training images once, scale latents to unit variance; 5. train the text encoder and the
cross-attention U-Net jointly, with random partial captions and condition dropout, saving the
EMA weights every 1000 iterations; 6. measure (``--sweep-only`` runs just this): accuracy per
attribute on prompts from the training distribution and on the held-out pairs, swept over
steps and guidance. Writes ``diffusion_model.pt`` (float16 weights), ``diffusion_quality.csv``,
``diffusion_training.csv`` (loss curves) and ``diffusion_metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import latent_diffusion as ld  # noqa: E402

SEED = 0
FULL = dict(n_train=12000, n_real=6000, ae_iters=700, ae_batch=32, clf_iters=500, eps_iters=4000, eps_batch=64,
            per_prompt=2, per_held=4, width=32)  # fmt: skip
QUICK = dict(n_train=128, n_real=64, ae_iters=25, ae_batch=16, clf_iters=10, eps_iters=40, eps_batch=16,
             per_prompt=1, per_held=1, width=16)  # fmt: skip
STEPS_DDIM = (1, 2, 5, 10, 20, 50, 100)
STEPS_DDPM = (1, 5, 20, 50, 100, 250)
GUIDANCE = (0.0, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0)
SWEEP_GUIDANCE = 3.0
SWEEP_STEPS = 50
SWEEP_SEED = SEED + 1


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def eval_prompts(held_out: bool) -> list[tuple[str, dict[str, int]]]:
    """Full prompts "a <size> <colour> <shape>" for the trained pairs (or the held-out ones)."""
    held = {(ld.COLOURS.index(c), ld.SHAPES.index(s)) for c, s in ld.HELD_OUT}
    pairs = sorted(held) if held_out else ld.training_pairs()
    return [
        (f"a {size} {ld.COLOURS[c]} {ld.SHAPES[s]}", {"shape": s, "colour": c, "size": k})
        for c, s in pairs
        for k, size in enumerate(ld.SIZES)
    ]


def measure(model: ld.LatentDiffusion, prompts: list[tuple[str, dict[str, int]]], per_prompt: int, steps: int,
            sampler: str, w: float, reference: np.ndarray, seed: int = SWEEP_SEED) -> dict:  # fmt: skip
    """Sample ``per_prompt`` images per prompt (one seeded batch) and score them against their prompts."""
    texts = [p for p, _ in prompts for _ in range(per_prompt)]
    traj = ld.sample(model, texts, steps, sampler=sampler, eta=0.0, guidance_scale=w, seed=seed,
                     num_samples=len(texts), num_frames=1)  # fmt: skip
    targets = {k: np.array([a[k] for _, a in prompts for _ in range(per_prompt)]) for k in ("shape", "colour", "size")}
    sc = ld.score(model, traj.final, targets, reference)
    _, sat = ld.foreground_hue((traj.final + 1) / 2)
    return {**sc, "saturation": float(np.mean(sat))}


def quality_sweep(model: ld.LatentDiffusion, reference: np.ndarray, cfg: dict, quick: bool) -> pd.DataFrame:
    """Score the trained-pair prompts under each setting, and the held-out pairs at the default."""
    train_prompts, held_prompts = eval_prompts(False), eval_prompts(True)
    settings = [("steps", "ddim", s, SWEEP_GUIDANCE) for s in STEPS_DDIM]
    settings += [("steps", "ddpm", s, SWEEP_GUIDANCE) for s in STEPS_DDPM]
    settings += [("guidance", "ddim", SWEEP_STEPS, w) for w in GUIDANCE]
    settings += [("heldout", "ddim", SWEEP_STEPS, w) for w in (1.0, 3.0, 7.5)]
    if quick:  # the rows the page reads
        settings = [("steps", "ddim", 1, 3.0), ("steps", "ddim", 50, 3.0)]
        settings += [("guidance", "ddim", 50, w) for w in (1.0, 3.0, 7.5)] + [("heldout", "ddim", 50, 3.0)]
        train_prompts, held_prompts = train_prompts[:2], held_prompts[:2]
    rows = []
    for sweep, sampler, steps, w in settings:
        t0 = time.time()
        heldout = sweep == "heldout"
        sc = measure(model, held_prompts if heldout else train_prompts, cfg["per_held" if heldout else "per_prompt"],
                     steps, sampler, w, reference)  # fmt: skip
        rows.append(dict(sweep=sweep, sampler=sampler, steps=steps, guidance=w, **sc))
        log(f"sweep {sweep:8s} {sampler} steps={steps:4d} w={w:4.1f} shape={sc['shape']:.2f} "
            f"colour={sc['colour']:.2f} hue={sc['colour_hue']:.2f} size={sc['size']:.2f} "
            f"sat={sc['saturation']:.2f} dist={sc['distance']:.1f} ({time.time() - t0:.1f}s)")  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "assets"))
    ap.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; 1 is fastest on a shared, oversubscribed machine")  # fmt: skip
    ap.add_argument("--sweep-only", action="store_true",
                    help="keep the weights in --out, recompute only the quality sweep")  # fmt: skip
    ap.add_argument("--eps-iters", type=int, default=None, help="override the denoiser's iterations")
    args = ap.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.eps_iters:
        cfg["eps_iters"] = args.eps_iters
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    cpu_start = time.process_time()

    # 1. data: training scenes (held-out pairs excluded) and real scenes of every pair
    rng = np.random.default_rng(SEED)
    attrs = ld.random_attributes(cfg["n_train"], rng, ld.training_pairs())
    images = ld.make_scenes(attrs, seed=SEED)
    real_attrs = ld.random_attributes(cfg["n_real"], rng)
    real = ld.make_scenes(real_attrs, seed=SEED + 100)
    reference = real[: min(1000, len(real))]
    log(f"data {images.shape}, real {real.shape}")

    if args.sweep_only:
        model = ld.load(out / "diffusion_model.pt")
        return _sweep(model, real, real_attrs, reference, cfg, out, args.quick, t_start, cpu_start)

    # 2. autoencoder (training scenes only)
    ae, ae_loss = ld.train_autoencoder(images, cfg["ae_iters"], seed=SEED, batch_size=cfg["ae_batch"],
                                       log=_every(100, "ae"))  # fmt: skip
    # 3. scoring classifier on real images of all pairs (it never sees a generated image)
    clf, clf_loss = ld.train_classifier(real, real_attrs, cfg["clf_iters"], seed=SEED)
    # 4. encode once; scale so the latents have unit standard deviation (SD: 0.18215)
    with torch.no_grad():
        z = torch.cat([ae.encode(ld.to_chw(images[i : i + 500])) for i in range(0, len(images), 500)]).numpy()
    latent_scale = float(1.0 / z.std())
    latents = (latent_scale * z).astype(np.float64)
    log(f"autoencoder + classifier done, latent scale {latent_scale:.4f} ({time.time() - t_start:.0f}s)")

    # 5. text encoder + U-Net with condition dropout; EMA weights saved every 1000 iterations
    def checkpoint(i: int, ema: ld.Denoiser) -> None:
        ld.save(ld.LatentDiffusion(ae, ema, clf, latent_scale), str(out / "diffusion_model.pt"))
        log(f"checkpoint at iteration {i} ({time.time() - t_start:.0f}s, cpu {time.process_time() - cpu_start:.0f}s)")

    den, eps_loss = ld.train_denoiser(latents, attrs, cfg["eps_iters"], seed=SEED, batch_size=cfg["eps_batch"],
                                      width=cfg["width"], log=_every(250, "eps"), checkpoint=checkpoint)  # fmt: skip
    model = ld.LatentDiffusion(ae, den, clf, latent_scale)
    train_cpu = time.process_time() - cpu_start
    log(f"denoiser done ({time.time() - t_start:.0f}s, cpu {train_cpu:.0f}s)")
    ld.save(model, str(out / "diffusion_model.pt"))
    # measure what ships: the saved weights are float16, and rounding moves the samples slightly
    model = ld.load(out / "diffusion_model.pt")

    def curve(name: str, loss: np.ndarray) -> pd.DataFrame:
        k = max(1, len(loss) // 200)  # <= ~200 points per curve, mean over each window
        n = len(loss) // k * k
        return pd.DataFrame(dict(model=name, iteration=np.arange(0, n, k) + k, loss=loss[:n].reshape(-1, k).mean(1)))

    pd.concat([curve("autoencoder", ae_loss), curve("classifier", clf_loss), curve("eps_model", eps_loss)]).to_csv(
        out / "diffusion_training.csv", index=False
    )
    (out / "diffusion_metrics.json").write_text(json.dumps({"train_cpu_seconds": round(train_cpu, 1),
                                                            "eps_iters": cfg["eps_iters"]}, indent=1))  # fmt: skip
    # 6. quality sweep + real-data baseline
    result = _sweep(model, real, real_attrs, reference, cfg, out, args.quick, t_start, cpu_start)
    log(f"done in {time.time() - t_start:.0f}s; weights {(out / 'diffusion_model.pt').stat().st_size / 1e6:.2f} MB")
    return dict(ae_loss=ae_loss, clf_loss=clf_loss, eps_loss=eps_loss, **result)


def _sweep(model: ld.LatentDiffusion, real: np.ndarray, real_attrs: dict, reference: np.ndarray, cfg: dict,
           out: Path, quick: bool, t_start: float, cpu_start: float) -> dict:  # fmt: skip
    """Score fresh real images (the baseline) and the sampler settings; write the CSV and JSON."""
    rng = np.random.default_rng(SEED + 200)
    held_attrs = ld.random_attributes(len(eval_prompts(False)) * cfg["per_prompt"], rng)
    held_real = ld.make_scenes(held_attrs, seed=SEED + 200)
    targets = {k: held_attrs[k] for k in ("shape", "colour", "size")}
    real_sc = ld.score(model, held_real, targets, reference)
    real_sc["saturation"] = float(np.mean(ld.foreground_hue((held_real + 1) / 2)[1]))
    recon = model.decode(model.encode(held_real))
    rec_rmse = float(np.sqrt(((recon - held_real) ** 2).mean()))
    log(f"real data: {real_sc}; AE recon RMSE {rec_rmse:.4f}")
    sweep = quality_sweep(model, reference, cfg, quick)
    base = pd.DataFrame([dict(sweep="real", sampler="data", steps=0, guidance=0.0, **real_sc)])
    pd.concat([sweep, base], ignore_index=True).to_csv(out / "diffusion_quality.csv", index=False)
    metrics_path = out / "diffusion_metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    metrics.update(recon_rmse=round(rec_rmse, 4), parameters=model.parameter_counts(),
                   weights_bytes=(out / "diffusion_model.pt").stat().st_size)  # fmt: skip
    metrics_path.write_text(json.dumps(metrics, indent=1))
    log(f"sweep written ({time.time() - t_start:.0f}s)")
    return dict(recon_rmse=rec_rmse, seconds=time.time() - t_start, quality=sweep)


def _every(n: int, name: str):
    def f(i: int, loss: float) -> None:
        if (i + 1) % n == 0:
            log(f"{name} iter {i + 1} loss {loss:.4f}")

    return f


if __name__ == "__main__":
    main()
