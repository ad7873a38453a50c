"""Train the glyph classifier that the course's semantic metrics use.

    python data_scripts/train_classifier.py            # ≈ 5 CPU-minutes, seeded

Streams fresh training glyphs (train split) each step, light extra augmentation (noise, blur) so
the classifier also reads imperfect reconstructions, evaluates on 5000 test glyphs, and writes
``invlab/weights/glyph_classifier/{model.safetensors, config.json, metrics.json}``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from invlab.classifier import GlyphClassifier  # noqa: E402
from invlab.data import glyphs  # noqa: E402
from invlab.training import step_generator  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "invlab", "weights", "glyph_classifier")


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Half the batch: mild Gaussian noise or a small blur, so degraded digits stay readable."""
    n = x.shape[0]
    u = torch.rand(n, generator=g)
    noisy = x + 0.15 * torch.rand(n, 1, 1, 1, generator=g) * torch.randn(x.shape, generator=g)
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = torch.where((u < 0.25).view(-1, 1, 1, 1), noisy, x)
    x = torch.where(((u >= 0.25) & (u < 0.5)).view(-1, 1, 1, 1), blurred, x)
    return x.clamp(-1, 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)      # parameter initialisation
    model = GlyphClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps)
    for step in range(args.steps):
        x, y = glyphs(args.batch_size, split="train", seed=1, start=step * args.batch_size, cache=False)
        x = augment(x, step_generator(args.seed, step))
        loss = F.cross_entropy(model(x), y, label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 250 == 0:
            print(f"step {step + 1} loss {loss.item():.4f}", flush=True)
    model.eval()
    xt, yt = glyphs(5000, split="test", seed=0)
    with torch.no_grad():
        pred = torch.cat([model(xt[i:i + 500]).argmax(1) for i in range(0, 5000, 500)])
    acc = float((pred == yt).double().mean())
    print(f"test accuracy {acc:.4f}")
    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(OUT, "model.safetensors"))
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(model.config, f)
    with open(os.path.join(OUT, "metrics.json"), "w") as f:
        json.dump({"test_accuracy": acc, "test_images": 5000, "steps": args.steps,
                   "command": "python data_scripts/train_classifier.py"}, f, indent=1)


if __name__ == "__main__":
    main()
