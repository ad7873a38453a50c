"""Quality thresholds of the shipped latent prior ``glyphs32-latent`` (notebook 06b).

    python benchmarks/eval_latent.py [--n 1000] [--steps 50]

Measures
- autoencoder reconstruction PSNR x ↔ D(E(x)) on ``--n`` test glyphs (threshold: mean ≥ 25 dB);
- the share of ``--n`` decoded DDIM-``steps`` samples (η = 0, seed 0) that the glyph classifier
  reads with max-probability ≥ 0.9 (threshold: ≥ 75 %), their class histogram, and the same share for
  the pixel prior ``glyphs32`` for comparison;
- the wall time of DDIM-50 + decoding for 64 glyphs (median of 3).
Prints a JSON record and writes it to ``invlab/weights/glyphs32-latent/eval.json`` (``--out``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

import invlab
from invlab import metrics


def confident_share(x: torch.Tensor) -> tuple[float, list[float]]:
    probs = metrics.classifier_probs(x.clamp(-1, 1))
    hist = torch.bincount(probs.argmax(1), minlength=10).double() / x.shape[0]
    return float((probs.max(1).values >= 0.9).double().mean()), [round(float(h), 3) for h in hist]


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "invlab", "weights",
                                                  "glyphs32-latent", "eval.json"))
    args = ap.parse_args(argv)
    prior = invlab.load_prior("glyphs32-latent")
    x_test = invlab.glyphs(args.n, split="test")[0]
    with torch.no_grad():
        rec = torch.cat([prior.decode(prior.encode(x_test[i:i + 250])) for i in range(0, args.n, 250)])
    rec_psnr = metrics.psnr(rec.clamp(-1, 1), x_test)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        zs = torch.cat([prior.sample(min(250, args.n - i), args.steps, generator=g) for i in range(0, args.n, 250)])
        xs = torch.cat([prior.decode(zs[i:i + 250]) for i in range(0, args.n, 250)])
    share, hist = confident_share(xs)
    pixel = invlab.load_prior("glyphs32").sample(256, args.steps, generator=torch.Generator().manual_seed(0))
    share_pixel, _ = confident_share(pixel)
    times = []
    for i in range(3):
        t0 = time.perf_counter()
        with torch.no_grad():
            prior.decode(prior.sample(64, 50, generator=torch.Generator().manual_seed(i)))
        times.append(time.perf_counter() - t0)
    rec = {
        "n": args.n, "steps": args.steps, "threads": torch.get_num_threads(),
        "reconstruction_psnr_mean": round(float(rec_psnr.mean()), 2),
        "reconstruction_psnr_min": round(float(rec_psnr.min()), 2),
        "gate_reconstruction_25db": bool(rec_psnr.mean() >= 25),
        "confident_share": round(share, 3), "class_histogram": hist,
        "gate_confident_75": share >= 0.75,
        "confident_share_pixel_prior_256": round(share_pixel, 3),
        "ddim50_decode_64_seconds": round(statistics.median(times), 3),
        "latent_scaling_factor": prior.scaling_factor,
    }
    print(json.dumps(rec, indent=1))
    with open(args.out, "w") as f:
        json.dump(rec, f, indent=1)


if __name__ == "__main__":
    main()
