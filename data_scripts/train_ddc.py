"""Train the DDC networks (learned data consistency, [DDC, Alg. 2]; notebook 07).

The frozen ``glyphs32`` prior supplies x̂_0; a small UNet Δ_φ(x̂_0, ỹ, t) learns the correction.
Per step: one task drawn from the task set (seeded), σ_y ~ U[0, 0.1], t ~ U{0..999}, and the loss
1·MSE + 0.1·LPIPS + 1e-3·KL (:func:`invlab.ddc.ddc_loss`). LPIPS needs the optional ``lpips``
extra and its backbone weights; without them the term is absent and the run says so (and records
it in ``ddc.json``). AdamW lr 1e-4 (the paper's), EMA 0.999, the network's last convolution
starts at zero so Δ = 0 at step 0 (x̂_{0,y} = x̂_0: plain DDPM).

Seeded and resumable like ``train_prior.py``: the full state lives in
``$INVLAB_CACHE/train/<name>.safetensors``, rewritten every 250 steps, when ``--hours`` runs out
and on SIGTERM; every save exports the EMA network in float16 to ``invlab/weights/<name>``.

    python data_scripts/train_ddc.py --steps 20000 --hours 1.1 --threads 1         # generalised
    python data_scripts/train_ddc.py --name glyphs32-ddc-sr4 --tasks sr4 --hours 0.4 --threads 1  # specialised
    python data_scripts/train_ddc.py --device cuda --steps 50000                   # a GPU, when lent
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from invlab.data import glyphs  # noqa: E402
from invlab.ddc import DDC_CONFIG, GENERAL_TASKS, DDCNetwork, ddc_unet_config  # noqa: E402
from invlab.diffusion import weights_dir  # noqa: E402
from invlab.training import train_ddc  # noqa: E402


def lpips_or_none():
    """The LPIPS loss if the optional extra and its weights are here, else None (said aloud)."""
    try:
        from invlab.metrics import _lpips_model
        model = _lpips_model("vgg")
    except ImportError as err:
        print(f"LPIPS term absent: {err}".splitlines()[0], flush=True)
        return None
    return lambda a, b: model(a.repeat(1, 3, 1, 1), b.repeat(1, 3, 1, 1))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", default="glyphs32-ddc")
    ap.add_argument("--tasks", default=",".join(GENERAL_TASKS), help="comma-separated subset of "
                    f"{list(GENERAL_TASKS)}")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--sigma-max", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hours", type=float, default=float("inf"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0)
    cache = os.environ.get("INVLAB_CACHE", os.path.expanduser("~/.cache/invlab"))
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--out", default=None, help="export folder (default invlab/weights/<name>)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    tasks = {k: GENERAL_TASKS[k] for k in args.tasks.split(",")}
    ckpt = args.ckpt or os.path.join(cache, "train", args.name + ".safetensors")
    out = Path(args.out) if args.out else weights_dir(args.name)
    os.makedirs(os.path.dirname(ckpt), exist_ok=True)
    os.makedirs(out, exist_ok=True)
    from diffusers import UNet2DModel

    from invlab import load_prior
    dev = torch.device(args.device)
    prior = load_prior("glyphs32", device=dev)
    prior.unet.requires_grad_(False)
    torch.manual_seed(args.seed)
    unet = UNet2DModel(**ddc_unet_config(args.width)).to(dev)
    with torch.no_grad():                                      # Δ = 0 at the start: plain DDPM
        unet.conv_out.weight.zero_()
        unet.conv_out.bias.zero_()
    net = DDCNetwork(unet, tasks, (0.0, args.sigma_max), name=args.name)
    lpips_fn = lpips_or_none()
    log_path = str(out / "train_log.jsonl")

    def data_fn(step: int, batch: int) -> torch.Tensor:
        return glyphs(batch, split="train", seed=args.seed + 2, start=step * batch, cache=False)[0].to(dev)

    def export(state) -> None:
        model = UNet2DModel(**ddc_unet_config(args.width))
        state.ema.copy_to(model)
        model.half().save_pretrained(out, safe_serialization=True)
        meta = {"name": args.name, "tasks": tasks, "sigma_range": [0.0, args.sigma_max], "prior": "glyphs32",
                "step": state.step, "batch_size": args.batch_size, "lr": args.lr,
                "loss_weights": {"mse": 1.0, "lpips": 0.1 if lpips_fn else 0.0, "kl": 1e-3},
                "lpips": lpips_fn is not None, "measurement_image": "SR: pixel replication; others: y as is"}
        (out / DDC_CONFIG).write_text(json.dumps(meta, indent=1) + "\n")

    train_ddc(net, prior, data_fn, steps=args.steps, batch_size=args.batch_size, lr=args.lr, ckpt_path=ckpt,
              log_path=log_path, seed=args.seed, sigma_max=args.sigma_max, lpips_fn=lpips_fn,
              time_budget_s=args.hours * 3600, on_save=export)


if __name__ == "__main__":
    main()
