"""Noise robustness of DDiff, DAPS and DPS on SR×4, per glyph (notebook 05, section 8).

    python benchmarks/bench_noise_robustness.py [--threads N]

On 16 test glyphs (seed 0), SR×4 at σ_y = 0.05, 0.2 and 0.5: DDiff (100 iterations, its defaults
otherwise), DAPS (20 annealing levels, likelihood temperature τ = 0.01, its defaults otherwise) and
DPS (100 steps, ζ = 6), the settings notebook 05 uses. Every run starts from
``torch.Generator().manual_seed(0)``; the problems are ``invlab.make_problem("sr4", x, sigma_y=s,
seed=0)``, so the σ_y = 0.05 rows are the very runs of the notebook's section 7 (which checks them).
Writes ``benchmarks/results/noise_robustness.csv``, one row per (method, σ_y, glyph): PSNR (estimate
clamped to [-1, 1]), the classifier's verdict and the residual ‖y − A x̂‖²/dim y, plus each run's
seconds and NFE/VJP on its glyph-0 row.
"""
from __future__ import annotations

import argparse
import os

import torch
from _tables import write_csv

import invlab
from invlab import metrics
from invlab.solvers import SOLVERS

OUT = os.path.join(os.path.dirname(__file__), "results")
SIGMAS = (0.05, 0.2, 0.5)
N_GLYPHS, SEED, STEPS, DAPS_ANNEAL = 16, 0, 100, 20
METHODS = {   # shared with notebook 05
    "DDiff": lambda p, prior, g: SOLVERS["ddiff"](p, prior, steps=STEPS, generator=g),
    "DAPS": lambda p, prior, g: SOLVERS["daps"](p, prior, annealing_steps=DAPS_ANNEAL, generator=g),
    "DPS": lambda p, prior, g: SOLVERS["dps"](p, prior, steps=STEPS, zeta=6.0, generator=g),
}


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(OUT, "noise_robustness.csv"))
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    prior = invlab.load_prior("glyphs32")
    x, labels = invlab.glyphs(N_GLYPHS, split="test", seed=SEED)
    rows = []
    for sy in SIGMAS:
        p = invlab.make_problem("sr4", x, sigma_y=sy, seed=SEED)
        for name, run in METHODS.items():
            r = run(p, prior, torch.Generator().manual_seed(SEED))
            xh = r.x.clamp(-1, 1)
            q, acc, res = metrics.psnr(xh, x), metrics.classifier_accuracy(xh, labels), metrics.residual(p, r.x)
            for i in range(N_GLYPHS):
                rows.append({"method": name, "sigma_y": sy, "image": i, "psnr": round(float(q[i]), 4),
                             "accuracy": float(acc[i]), "residual": f"{float(res[i]):.6g}",
                             "seconds": round(r.seconds, 2) if i == 0 else "",
                             "nfe": r.nfe if i == 0 else "", "vjp": r.vjp if i == 0 else ""})
            print(f"σ_y = {sy:<4} {name:6s} {float(q.mean()):6.2f} dB  {r.seconds:6.1f} s", flush=True)
    write_csv(args.out, rows)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
