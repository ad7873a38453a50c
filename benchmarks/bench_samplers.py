"""Unconditional samplers of the glyphs32 prior: quality against steps (notebook 02, section 3).

    python benchmarks/bench_samplers.py [--threads 1]

The settings of notebook 02's steps-vs-quality table: DDIM (η = 0) and ancestral DDPM at 10 and 50
steps for 128 samples each, DDPM at 1000 steps for 8, every setting drawn from a generator seeded
with its step count; and 128 real test glyphs (from index 1000) as the reference row. For every
sample: the glyph classifier's top probability and digit (a sample is *confident* when the top
probability is ≥ 0.9); for every set: the Fréchet distance in the classifier's feature space to the
first test glyphs of the same count (sets of ≥ 64 only) and the sampling wall time.

Writes ``benchmarks/results/samplers.csv`` (one row per sample; the set's Fréchet distance and
seconds repeated on each of its rows) and ``benchmarks/results/samplers_images.safetensors`` (the
first 8 samples of every setting, for the notebook's pictures).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from _tables import script_args, write_csv
from safetensors.torch import save_file

import invlab
from invlab import metrics

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = [("ddim", 10, 128), ("ddim", 50, 128), ("ddpm", 10, 128), ("ddpm", 50, 128), ("ddpm", 1000, 8)]
COLUMNS = ("sampler", "steps", "samples", "index", "max_prob", "digit", "confident", "fd", "seconds")


def main(argv=None):
    script_args(__doc__, argv)
    torch.manual_seed(0)
    prior = invlab.load_prior("glyphs32")
    x_test = invlab.glyphs(256, split="test")[0]
    rows, images = [], {}

    def record(name, steps, samples, seconds):
        probs = metrics.classifier_probs(samples)
        top = probs.max(1)
        fd = metrics.frechet_distance(samples, x_test[:samples.shape[0]]) if samples.shape[0] >= 64 else float("nan")
        for i in range(samples.shape[0]):
            rows.append({"sampler": name, "steps": steps, "samples": samples.shape[0], "index": i,
                         "max_prob": f"{float(top.values[i]):.6f}", "digit": int(top.indices[i]),
                         "confident": int(float(top.values[i]) >= 0.9), "fd": f"{fd:.4f}",
                         "seconds": f"{seconds:.3f}"})
        share = float((top.values >= 0.9).double().mean())
        print(f"{name}-{steps}: {samples.shape[0]} samples, confident {share:.3f}, Fréchet {fd:.2f}, {seconds:.1f} s",
              flush=True)

    record("real", 0, invlab.glyphs(128, split="test", start=1000)[0], 0.0)
    for method, steps, n in SETTINGS:
        t0 = time.perf_counter()
        out = prior.sample(n, steps, eta=0.0, method=method, generator=torch.Generator().manual_seed(steps))
        record(method, steps, out, time.perf_counter() - t0)
        images[f"{method}/{steps}"] = out[:8].contiguous()
    write_csv(str(RESULTS / "samplers.csv"), rows, COLUMNS)
    save_file(images, str(RESULTS / "samplers_images.safetensors"))
    print(f"wrote {RESULTS / 'samplers.csv'} ({len(rows)} rows) and samplers_images.safetensors")


if __name__ == "__main__":
    main()
