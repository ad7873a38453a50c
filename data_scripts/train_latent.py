"""Train the shipped latent prior ``glyphs32-latent``: an AutoencoderKL (32×32×1 ↔ 8×8×4), then a
latent UNet2DModel with the LDM schedule (notebook 06b).

Two stages, each seeded and resumable (one safetensors checkpoint per stage under
``$INVLAB_CACHE/train``, default ``~/.cache/invlab/train``; a stopped run continues when the same
command is given again):

1. ``--stage ae``: the autoencoder (L1 + MSE + 1e-6 KL, :func:`invlab.training.train_autoencoder`).
   Every checkpoint exports the EMA weights in float16 to ``<out>/vae`` with the latent scaling
   factor s = 1/std(z) measured on 2048 training glyphs (the Stable-Diffusion convention: the
   diffusion model sees unit-variance latents).
2. ``--stage unet``: the ε-prediction UNet on s·E(x) of the exported (float16) autoencoder, so
   it learns exactly the latents the shipped prior decodes; exports to ``<out>/unet`` and writes
   ``<out>/scheduler`` and ``<out>/model_index.json`` (the layout of a diffusers pipeline, so
   ``load_prior`` reads it like a hub model).

    python data_scripts/train_latent.py --stage ae --steps 4000 --threads 2
    python data_scripts/train_latent.py --stage unet --steps 20000 --threads 2
    python data_scripts/train_latent.py --stage all --device cuda      # a GPU, when one is lent

Then ``python benchmarks/eval_latent.py`` measures the quality gates (reconstruction PSNR,
confident share of decoded DDIM-50 samples) and writes ``<out>/eval.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from invlab.data import glyphs  # noqa: E402
from invlab.diffusion.latent import (autoencoder_config, latent_scheduler_config,  # noqa: E402
                                     latent_unet_config)
from invlab.training import train_autoencoder, train_eps_model  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "invlab", "weights", "glyphs32-latent")


@torch.no_grad()
def latent_std(ae, n: int = 2048) -> float:
    x = glyphs(n, split="train", seed=3)[0]
    z = torch.cat([ae.encode(x[i:i + 256].to(ae.dtype)).latent_dist.mean.float() for i in range(0, n, 256)])
    return float(z.std())


def export_ae(state, out: str) -> None:
    from diffusers import AutoencoderKL
    ae = AutoencoderKL(**autoencoder_config())
    state.ema.copy_to(ae)
    ae.eval()
    ae.register_to_config(scaling_factor=round(1.0 / latent_std(ae), 5))
    ae.half().save_pretrained(os.path.join(out, "vae"), safe_serialization=True)
    with open(os.path.join(out, "vae", "train_state.txt"), "w") as f:
        f.write(f"step {state.step}\n")


def export_unet(state, out: str) -> None:
    from diffusers import DDIMScheduler, UNet2DModel
    unet = UNet2DModel(**latent_unet_config())
    state.ema.copy_to(unet)
    unet.half().save_pretrained(os.path.join(out, "unet"), safe_serialization=True)
    DDIMScheduler(**latent_scheduler_config()).save_pretrained(os.path.join(out, "scheduler"))
    index = {"_class_name": "LDMPipeline", "_diffusers_version": "0.0", "unet": ["diffusers", "UNet2DModel"],
             "vae": ["diffusers", "AutoencoderKL"], "scheduler": ["diffusers", "DDIMScheduler"]}
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
    with open(os.path.join(out, "unet", "train_state.txt"), "w") as f:
        f.write(f"step {state.step}\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", choices=("ae", "unet", "all"), required=True)
    ap.add_argument("--steps", type=int, default=None, help="steps of the stage (ae 4000, unet 20000)")
    ap.add_argument("--batch-size", type=int, default=None, help="ae 64, unet 128")
    ap.add_argument("--lr", type=float, default=None, help="ae 1e-3, unet 5e-4")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hours", type=float, default=float("inf"), help="stop (after a checkpoint) after this long")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--out", default=OUT)
    cache = os.environ.get("INVLAB_CACHE", os.path.expanduser("~/.cache/invlab"))
    ap.add_argument("--ckpt-dir", default=os.path.join(cache, "train"))
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.ckpt_dir, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DModel
    dev = torch.device(args.device)

    def pixels(step: int, batch: int, seed: int) -> torch.Tensor:
        return glyphs(batch, split="train", seed=seed, start=step * batch, cache=False)[0].to(dev)

    if args.stage in ("ae", "all"):
        ae = AutoencoderKL(**autoencoder_config()).to(dev)
        train_autoencoder(ae, lambda s, b: pixels(s, b, args.seed), steps=args.steps or 4000,
                          batch_size=args.batch_size or 64, lr=args.lr or 1e-3,
                          ckpt_path=os.path.join(args.ckpt_dir, "glyphs32-latent-ae.safetensors"),
                          log_path=os.path.join(args.out, "train_log_ae.jsonl"), seed=args.seed,
                          time_budget_s=args.hours * 3600, on_save=lambda s: export_ae(s, args.out))
    if args.stage in ("unet", "all"):
        ae = AutoencoderKL.from_pretrained(os.path.join(args.out, "vae"), use_safetensors=True,
                                           low_cpu_mem_usage=False).float().to(dev)
        ae.eval().requires_grad_(False)
        scale = float(ae.config.scaling_factor)

        @torch.no_grad()
        def latents(step: int, batch: int) -> torch.Tensor:
            # another glyph stream than the autoencoder's (seed + 1): the prior sees fresh images
            return ae.encode(pixels(step, batch, args.seed + 1)).latent_dist.mean * scale

        sched = DDPMScheduler(**{k: v for k, v in latent_scheduler_config().items() if k != "clip_sample"})
        unet = UNet2DModel(**latent_unet_config()).to(dev)
        train_eps_model(unet, latents, steps=args.steps or 20000, batch_size=args.batch_size or 128,
                        lr=args.lr or 5e-4, ckpt_path=os.path.join(args.ckpt_dir, "glyphs32-latent-unet.safetensors"),
                        log_path=os.path.join(args.out, "train_log_unet.jsonl"), seed=args.seed,
                        time_budget_s=args.hours * 3600, alpha_bar=sched.alphas_cumprod.double(), device=dev,
                        on_save=lambda s: export_unet(s, args.out))


if __name__ == "__main__":
    main()
