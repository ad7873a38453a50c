"""A one-step model for ``glyphs32`` by ODE-endpoint distillation (notebook 06, DCDP's third purifier).

The shipped prior is deterministic under DDIM (η = 0), so the end x_0 of its probability-flow run
through any state x_t can be computed once and regressed on directly [KD],
instead of being learned step by step from a target network (consistency distillation [CM],
``distill_consistency.py``). Two phases, each seeded and resumable:

1. ``generate``: DDIM-25 runs of ``glyphs32`` from pure noise (25 network passes per run; the
   teacher's DDIM-25 and DDIM-50 samples are read as digits about equally often), keeping the 25
   states and the end point in float16 chunks of 256 runs under ``$INVLAB_CACHE/endpoints/``
   (chunk c is drawn from the generator seeded by (seed, c); existing chunks are kept, so an
   interrupted run continues where it stopped; 256 runs take 13.6 MB).
2. ``train``: f_θ(x_σ, σ) ≈ x_0 in the ``"vp-scaled"`` consistency parameterisation
   (``invlab/diffusion/consistency.py``: f is the identity at σ_min, the student starts from the
   teacher's weights and is its Tweedie denoiser for σ ≪ σ_s = 5, the output gain stays ≤ σ_s at
   large σ), pseudo-Huber metric, AdamW, EMA 0.999. A batch takes each pair from a random run;
   a share ``--start-share`` sits at the run's start (pure noise, σ_max: one-step generation),
   the rest at a uniform integer time on [0, t_0], between grid times by
   :func:`invlab.training.trajectory_point` (so the student sees every σ that purification asks
   for). The checkpoint is ``$INVLAB_CACHE/train/glyphs32-cm-endpoint.safetensors``; every save
   exports the EMA student in float16 to ``--out``.

    python data_scripts/distill_endpoints.py generate --runs 6144
    python data_scripts/distill_endpoints.py train --steps 8000 --hours 1 --lr 2e-4 --out build/glyphs32-cm
    python benchmarks/eval_consistency.py --model build/glyphs32-cm
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from invlab.diffusion import weights_dir  # noqa: E402
from invlab.diffusion.consistency import ConsistencyModel  # noqa: E402
from invlab.training import (ddim_trajectories, export_glyph_consistency_model, step_generator,  # noqa: E402
                             train_endpoint_distillation, trajectory_point)

CACHE = Path(os.environ.get("INVLAB_CACHE", os.path.expanduser("~/.cache/invlab")))
CHUNK = 256


def generate(args) -> None:
    import invlab
    from safetensors.torch import load_file, save_file
    folder = Path(args.data)
    folder.mkdir(parents=True, exist_ok=True)
    prior = invlab.load_prior("glyphs32")
    n_chunks = math.ceil(args.runs / CHUNK)
    for c in range(n_chunks):
        path = folder / f"chunk_{c:05d}.safetensors"
        if path.exists():
            load_file(str(path))                       # a truncated chunk raises here: delete it and re-run
            continue
        ts, xs, x0 = ddim_trajectories(prior, CHUNK, args.ddim_steps, generator=step_generator(args.seed, c, stream=1))
        tmp = path.with_suffix(".tmp")
        save_file({"ts": ts, "xs": xs.half().contiguous(), "x0": x0.half().contiguous()}, str(tmp),
                  metadata={"teacher": "glyphs32", "ddim_steps": str(args.ddim_steps), "seed": str(args.seed),
                            "chunk": str(c)})
        os.replace(tmp, path)
        print(f"chunk {c + 1}/{n_chunks}", flush=True)


def load_runs(folder: Path):
    from safetensors.torch import load_file
    files = sorted(folder.glob("chunk_*.safetensors"))
    if not files:
        raise SystemExit(f"--data: no chunk_*.safetensors in {folder}; run the generate phase first")
    parts = [load_file(str(f)) for f in files]
    ts = parts[0]["ts"]
    if any(not torch.equal(p["ts"], ts) for p in parts):
        raise SystemExit(f"--data: the chunks in {folder} were generated on different DDIM grids")
    return ts, torch.cat([p["xs"] for p in parts]), torch.cat([p["x0"] for p in parts])


def train(args) -> None:
    from diffusers import UNet2DModel
    from invlab.diffusion.schedule import VPSchedule
    from diffusers import DDPMScheduler
    teacher = weights_dir("glyphs32")
    sched = VPSchedule.from_config(DDPMScheduler.load_config(str(teacher)))
    student = ConsistencyModel(UNet2DModel.from_pretrained(str(teacher), use_safetensors=True, low_cpu_mem_usage=False),
                               schedule=sched, parameterization=args.parameterization, sigma_skip=args.sigma_skip)
    ts, xs, x0 = load_runs(Path(args.data))
    print(f"{xs.shape[0]} runs, grid {ts.tolist()[:3]}…{ts.tolist()[-1]}", flush=True)
    smax = student.sigma_max
    t0 = int(ts[0])

    def pairs_fn(step: int, batch: int):
        g = step_generator(args.seed, step)
        j = torch.randint(0, xs.shape[0], (batch,), generator=g)
        t = torch.randint(0, t0 + 1, (batch,), generator=g)
        t = torch.where(torch.rand(batch, generator=g) < args.start_share, torch.full_like(t, t0), t)
        x_t = trajectory_point(sched, ts, xs[j], t)
        a, sigma = sched.ab(t).float().sqrt(), sched.sigma_ve(t).float()
        # beyond σ_max the state is pure noise: keep its VP input x_t, label it σ_max
        x = torch.where((sigma > smax).view(-1, 1, 1, 1), math.sqrt(1 + smax ** 2) * x_t, x_t / a.view(-1, 1, 1, 1))
        return x, sigma.clamp(max=smax).double(), x0[j].float()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {"parameterization": args.parameterization, "sigma_min": 0.002, "sigma_max": 80.0, "sigma_data": 0.5,
           "sigma_skip": args.sigma_skip, "teacher": "glyphs32", "method": "ode-endpoint distillation",
           "runs": int(xs.shape[0])}
    os.makedirs(os.path.dirname(args.ckpt), exist_ok=True)
    train_endpoint_distillation(student, pairs_fn, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                                ckpt_path=args.ckpt, log_path=str(out / "train_log.jsonl"),
                                time_budget_s=args.hours * 3600,
                                on_save=lambda s: export_glyph_consistency_model(s, out, cfg))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phase", choices=("generate", "train"))
    ap.add_argument("--data", default=str(CACHE / "endpoints" / "glyphs32-ddim25"))
    ap.add_argument("--runs", type=int, default=6144, help="generate: number of DDIM runs")
    ap.add_argument("--ddim-steps", type=int, default=25)
    ap.add_argument("--steps", type=int, default=6000, help="train: optimiser steps")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--start-share", type=float, default=0.4)
    ap.add_argument("--parameterization", choices=("vp-scaled", "vp-eps"), default="vp-scaled")
    ap.add_argument("--sigma-skip", type=float, default=5.0, help="σ_s of the c_skip/c_out scalings")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hours", type=float, default=float("inf"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default="build/glyphs32-cm")
    ap.add_argument("--ckpt", default=str(CACHE / "train" / "glyphs32-cm-endpoint.safetensors"))
    args = ap.parse_args(argv)
    for name in ("runs", "ddim_steps", "steps", "batch_size"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')}: must be ≥ 1, got {getattr(args, name)}")
    if not args.sigma_skip > 0:
        ap.error(f"--sigma-skip: must be > 0, got {args.sigma_skip}")
    if not 0 <= args.start_share <= 1:
        ap.error(f"--start-share: must lie in [0, 1], got {args.start_share}")
    if args.threads:
        torch.set_num_threads(args.threads)
    generate(args) if args.phase == "generate" else train(args)


if __name__ == "__main__":
    main()
