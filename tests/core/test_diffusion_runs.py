"""The DDPM runs shipped in assets/diffusion_runs.npz (scripts/precompute_diffusion_runs.py).

Independent reference: the run sampled again, live, with the same call the script makes.
Tolerances:
* float16 storage rounds each latent to 2^-11 of its size (half a float16 ulp), so stored vs
  live latents agree to rtol = 2^-11;
* plus atol = 1e-3 for float32 rounding in the network if the live run happens on a CPU
  whose convolution kernels round differently from the one that ran the script: ~1e-5 in
  z (measured between the plain and the fast sampler), up to ~15x more in the x0
  prediction at t = T (x0 = (z - sqrt(1 - a) eps) / sqrt(a), a = 0.0047);
* decoded final images (pixel range [-1, 1]): 1e-2, the float16 latent rounding through
  the decoder (measured ~2e-3).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from core import latent_diffusion as ld

torch.set_num_threads(1)  # as the page and the script

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "assets" / "diffusion_runs.npz"
F16_RTOL = 2.0**-11
NET_ATOL = 1e-3
IMAGE_ATOL = 1e-2


def _script():
    spec = importlib.util.spec_from_file_location("precompute_runs", ROOT / "scripts" / "precompute_diffusion_runs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def script():
    return _script()


@pytest.fixture(scope="module")
def shipped_runs() -> dict[ld.RunKey, ld.StoredRun]:
    if not RUNS.exists():
        pytest.fail(f"missing {RUNS}: run scripts/precompute_diffusion_runs.py")
    return ld.load_runs(str(RUNS))


def test_shipped_file_covers_exactly_the_scripts_settings(script, shipped_runs):
    wanted = script.settings()
    assert len(set(wanted)) == len(wanted) == len(shipped_runs)
    assert set(shipped_runs) == set(wanted)
    # keyed as the page keys a run: DDPM with eta 1, floats rounded to 3 decimals
    for cls, sampler, _steps, eta, w, _seed in shipped_runs:
        assert sampler == "ddpm" and eta == 1.0 and round(w, 3) == w and 0 <= cls < len(ld.CLASSES)
    # every class x every value of the page's guidance slider (0 to 10 by 0.5), seed 0, at 1000 steps
    assert {(k[0], k[2], k[4], k[5]) for k in wanted} >= {
        (c, 1000, w / 2, 0) for c in range(len(ld.CLASSES)) for w in range(21)
    }
    for run in shipped_runs.values():
        assert run.frame_t.shape == (script.NUM_FRAMES,) and run.frame_t[-1] == -1
        assert run.z_frames.shape == run.x0_frames.shape == (script.NUM_FRAMES, ld.LATENT_CHANNELS, 8, 8)
        assert run.final.shape == (script.NUM_SAMPLES, ld.LATENT_CHANNELS, 8, 8)
        assert run.seconds > 0


def test_shipped_file_is_small():
    assert RUNS.stat().st_size < 1_000_000


def test_cheapest_shipped_run_is_reproduced_live(script, shipped_runs):
    # the cheapest: fewest steps, then one network half only (w = 0 or 1: batch 8, not 16)
    key = min(shipped_runs, key=lambda k: (k[2], k[4] not in (0.0, 1.0)))
    model = ld.load(str(ROOT / "assets" / "diffusion_model.pt"))
    live = script.compute(model, key)
    stored = shipped_runs[key]
    np.testing.assert_array_equal(stored.frame_t, live.frame_t)
    for name in ("z_frames", "x0_frames", "final"):
        np.testing.assert_allclose(getattr(stored, name), getattr(live, name), rtol=F16_RTOL, atol=NET_ATOL,
                                   err_msg=name)  # fmt: skip
    # what the page shows: the decoded final samples
    assert np.abs(model.decode(stored.final) - model.decode(live.final)).max() < IMAGE_ATOL


def test_stored_run_round_trip_and_page_view(tmp_path):
    # from_trajectory keeps what the page decodes; save/load rounds latents to float16 only
    torch.manual_seed(0)
    eps_model = ld.NoisePredictor()
    torch.nn.init.normal_(eps_model.conv_out.weight, std=0.05)
    model = ld.LatentDiffusion(ld.Autoencoder(), eps_model, ld.Classifier(), latent_scale=1.3)
    traj = ld.sample(model, 1, 6, sampler="ddpm", eta=1.0, guidance_scale=3.0, seed=2, num_samples=3, num_frames=4)
    run = ld.StoredRun.from_trajectory(traj, seconds=1.5)
    frames = traj.frame_index
    np.testing.assert_array_equal(run.frame_t, np.r_[traj.timesteps, -1][frames])
    np.testing.assert_array_equal(run.z_frames, traj.latents[frames, 0])
    np.testing.assert_array_equal(run.final, traj.latents[-1])
    # decoded, the stored latents are the trajectory's own images for sample 0
    np.testing.assert_allclose(model.decode(run.z_frames), traj.images[:, 0], atol=1e-5)
    np.testing.assert_allclose(model.decode(run.x0_frames), traj.x0_images[:, 0], atol=1e-5)
    key = (1, "ddpm", 6, 1.0, 3.0, 2)
    path = tmp_path / "runs.npz"
    ld.save_runs(str(path), {key: run})
    back = ld.load_runs(str(path))
    assert list(back) == [key]
    got = back[key]
    np.testing.assert_array_equal(got.frame_t, run.frame_t)
    assert got.seconds == 1.5
    for name in ("z_frames", "x0_frames", "final"):
        np.testing.assert_allclose(getattr(got, name), getattr(run, name), rtol=F16_RTOL, atol=2.0**-24, err_msg=name)
