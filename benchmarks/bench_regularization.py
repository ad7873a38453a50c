"""The HRDIS β sweep on three tasks (notebook 08).

    python benchmarks/bench_regularization.py [--threads N]

On 16 test glyphs (seed 0, σ_y = 0, the paper's noiseless setting) for box inpainting, free-form
inpainting and SR×4: HRDIS with β ∈ {0 (CR), 0.1, 0.2 (HR), 0.5, 1 (DR = RED-diff)} at the paper's
per-task steps and learning rates, with PSNR, SSIM, classifier accuracy, Fréchet distance to 256
other test glyphs, and the high-frequency energy (mean squared Laplacian) of the outputs.
Writes ``benchmarks/results/hrdis_sweep.csv`` and ``.md`` and, for the notebook's picture, the
outputs for glyph 2 (``hrdis_sweep_glyph2.safetensors``). Notebook 08 reads them and re-runs the
HR and DR rows of box inpainting live (so it stays within its time budget).
"""
from __future__ import annotations

import argparse
import os

import torch
from _tables import write_tables
from safetensors.torch import save_file

import invlab
from invlab import metrics

OUT = os.path.join(os.path.dirname(__file__), "results")
TASKS = ("box_inpaint", "freeform_inpaint", "sr4")
BETAS = (0.0, 0.1, 0.2, 0.5, 1.0)


def high_freq(x: torch.Tensor) -> float:
    return float(metrics.laplacian_energy(x).mean())


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    prior = invlab.load_prior("glyphs32")
    x, labels = invlab.glyphs(16, split="test", seed=0)
    reference, _ = invlab.glyphs(256, split="test", seed=1)
    rows, pictures = [], {}
    for task in TASKS:
        p = invlab.make_problem(task, x, sigma_y=0.0, seed=0)
        for beta in BETAS:
            r = invlab.SOLVERS["hrdis"](p, prior, beta=beta, generator=torch.Generator().manual_seed(0))
            row = dict(task=task, beta=beta, **metrics.scorecard(p, r, labels),
                       fd=round(metrics.frechet_distance(r.x.clamp(-1, 1), reference), 3), hf=round(high_freq(r.x), 5))
            rows.append(row)
            pictures[f"{task}/{beta}"] = r.x[2].clamp(-1, 1).contiguous()
            print(row, flush=True)
    os.makedirs(OUT, exist_ok=True)
    save_file(pictures, os.path.join(OUT, "hrdis_sweep_glyph2.safetensors"))
    write_tables(os.path.join(OUT, "hrdis_sweep.csv"), rows,
                 f"torch {torch.__version__}, {torch.get_num_threads()} threads; 16 test glyphs, σ_y = 0, "
                 f"reference HF energy of the true glyphs {high_freq(x):.4f}")


if __name__ == "__main__":
    main()
