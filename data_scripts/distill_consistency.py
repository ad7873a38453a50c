"""Consistency distillation of ``glyphs32`` — the method of [CM]; the shipped ``glyphs32-cm`` comes
from ``distill_endpoints.py`` instead (ODE-endpoint distillation, far cheaper on a CPU; notebook 06).

Consistency distillation (Song et al. 2023, Alg. 2; EDM scale σ ∈ [0.002, 80], N = 18 Karras
levels, ρ = 7, Heun teacher steps, L2 metric, target EMA μ = 0.95 — the paper's CIFAR-10 setting).
The student starts from the teacher's weights (``vp-eps`` parameterisation, see
``invlab/diffusion/consistency.py``), so at step 0 it is the teacher's one-step Tweedie denoiser.

Seeded and resumable like ``train_prior.py``: the full state (student, slow EMA, target, AdamW
moments, step) lives in ``$INVLAB_CACHE/train/glyphs32-cm.safetensors``, rewritten every 100 steps,
when ``--hours`` runs out and on SIGTERM; every save exports the slow-EMA student in float16 to
``--out`` (default ``build/glyphs32-cm-cd``; ``benchmarks/eval_consistency.py --model`` measures it)
with its loss log.

    python data_scripts/distill_consistency.py --steps 20000 --hours 2      # CPU
    python data_scripts/distill_consistency.py --steps 20000 --device cuda  # a GPU, when lent
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from invlab.data import glyphs  # noqa: E402
from invlab.diffusion.consistency import ConsistencyModel  # noqa: E402
from invlab.diffusion import weights_dir  # noqa: E402
from invlab.training import export_glyph_consistency_model, train_consistency_distillation  # noqa: E402

CFG = {"parameterization": "vp-eps", "sigma_min": 0.002, "sigma_max": 80.0, "sigma_data": 0.5,
       "sigma_skip": 0.005, "teacher": "glyphs32"}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hours", type=float, default=float("inf"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default="build/glyphs32-cm-cd")
    cache = os.environ.get("INVLAB_CACHE", os.path.expanduser("~/.cache/invlab"))
    ap.add_argument("--ckpt", default=os.path.join(cache, "train", "glyphs32-cm.safetensors"))
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from diffusers import DDPMScheduler, UNet2DModel
    from invlab.diffusion.schedule import VPSchedule
    os.makedirs(os.path.dirname(args.ckpt), exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    src = str(weights_dir("glyphs32"))
    sched = VPSchedule.from_config(DDPMScheduler.load_config(src))
    dev = torch.device(args.device)
    teacher = ConsistencyModel(UNet2DModel.from_pretrained(src, use_safetensors=True).to(dev), schedule=sched)
    student = ConsistencyModel(UNet2DModel.from_pretrained(src, use_safetensors=True).to(dev), schedule=sched)

    def data_fn(step: int, batch: int) -> torch.Tensor:
        return glyphs(batch, split="train", seed=args.seed + 1, start=step * batch, cache=False)[0].to(dev)

    train_consistency_distillation(student, teacher, data_fn, steps=args.steps, batch_size=args.batch_size,
                                   lr=args.lr, ckpt_path=args.ckpt, log_path=os.path.join(args.out, "train_log.jsonl"),
                                   seed=args.seed, time_budget_s=args.hours * 3600,
                                   on_save=lambda state: export_glyph_consistency_model(state, args.out, CFG))


if __name__ == "__main__":
    main()
