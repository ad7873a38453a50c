"""Train the shipped ``glyphs32`` diffusion prior (a diffusers UNet2DModel, ε-prediction).

Seeded and resumable: the full training state lives in one safetensors checkpoint under
``$INVLAB_CACHE/train`` (default ``~/.cache/invlab/train``) and is rewritten every few hundred
steps, so a run that is stopped simply continues when started again with the same command.
Each checkpoint also exports the EMA weights to ``invlab/weights/glyphs32`` (``save_pretrained``
layout: config.json, diffusion_pytorch_model.safetensors, scheduler_config.json) and the loss log
to ``invlab/weights/glyphs32/train_log.jsonl``.

    python data_scripts/train_prior.py --steps 30000 --hours 2.5      # CPU (2 cores)
    python data_scripts/train_prior.py --steps 60000 --device cuda    # a GPU, when one is lent

With no checkpoint but shipped weights present, ``--init-from-shipped`` starts from them (a
warm start on a machine that lost the checkpoint).
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from invlab.data import glyphs  # noqa: E402
from invlab.training import glyph_unet_config, train_eps_model  # noqa: E402

WEIGHTS = os.path.join(os.path.dirname(__file__), "..", "invlab", "weights", "glyphs32")


def scheduler_config() -> dict:
    from diffusers import DDPMScheduler
    return dict(DDPMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02,
                              beta_schedule="linear", prediction_type="epsilon",
                              clip_sample=True).config)


def export(model_cls, state) -> None:
    from diffusers import DDPMScheduler
    model = model_cls(**glyph_unet_config())
    state.ema.copy_to(model)
    os.makedirs(WEIGHTS, exist_ok=True)
    model.save_pretrained(WEIGHTS, safe_serialization=True)
    DDPMScheduler.from_config(scheduler_config()).save_pretrained(WEIGHTS)
    with open(os.path.join(WEIGHTS, "train_state.txt"), "w") as f:
        f.write(f"step {state.step}\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--ema-decay", type=float, default=0.999)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hours", type=float, default=float("inf"), help="stop (after a checkpoint) after this long")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    cache = os.environ.get("INVLAB_CACHE", os.path.expanduser("~/.cache/invlab"))
    ap.add_argument("--ckpt", default=os.path.join(cache, "train", "glyphs32.safetensors"))
    ap.add_argument("--init-from-shipped", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from diffusers import UNet2DModel
    os.makedirs(os.path.dirname(args.ckpt), exist_ok=True)
    model = UNet2DModel(**glyph_unet_config())
    if args.init_from_shipped and not os.path.exists(args.ckpt) and os.path.isdir(WEIGHTS):
        model = UNet2DModel.from_pretrained(WEIGHTS, use_safetensors=True)
    os.makedirs(WEIGHTS, exist_ok=True)

    def data_fn(step: int, batch: int) -> torch.Tensor:
        return glyphs(batch, split="train", seed=args.seed, start=step * batch, cache=False)[0]

    train_eps_model(model, data_fn, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                    ckpt_path=args.ckpt, log_path=os.path.join(WEIGHTS, "train_log.jsonl"),
                    seed=args.seed, ema_decay=args.ema_decay, time_budget_s=args.hours * 3600,
                    device=args.device, on_save=lambda s: export(UNet2DModel, s))


if __name__ == "__main__":
    main()
