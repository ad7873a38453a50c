"""DDiff and DAPS cost, and DDiff's NFE ablation (notebook 05).

    python benchmarks/bench_splitting.py [--skip-ablation]

- overhead = wall time / (the call's NFE network forward passes timed alone right after it),
  median of 5 paired rounds (``invlab.bench.paired_overhead``), for DDiff (100 iterations) and
  DAPS (50 levels × 2 ODE steps, 20 Langevin steps), batch 1, SR×4 glyph, σ_y = 0.05 (target
  ≤ 1.10: neither backpropagates through the network);
- DDiff at 1000 NFE for one glyph: seconds (target ≤ 25 s on 2 CPU cores);
- DDiff's quality at 1000, 250 and 100 iterations (PSNR, SSIM, classifier accuracy, residual/σ_y
  over 16 test glyphs, SR×4 and Gaussian blur) — the paper's NFE ablation.
Prints Markdown tables. Wall times are the best of the paired runs (noise only adds time).
"""
from __future__ import annotations

import argparse

import torch

import invlab
from invlab import metrics
from invlab.bench import network_seconds, overhead_ratio, paired_overhead


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-ablation", action="store_true", help="only the cost table")
    args = ap.parse_args(argv)
    prior = invlab.load_prior("glyphs32")
    x16, labels = invlab.glyphs(16, split="test")
    p1 = invlab.make_problem("sr4", x16[:1], sigma_y=0.05, seed=0)
    network_seconds(prior, 1, 3, 0)                                          # warm-up
    fwd = min(network_seconds(prior, 1, 20, 0) for _ in range(5)) / 20
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; one forward (batch 1): {fwd * 1e3:.1f} ms\n")
    print("| solver | NFE | VJP | seconds (batch 1) | overhead |")
    print("|---|---|---|---|---|")
    S, g = invlab.SOLVERS, torch.Generator
    runs = {"ddiff (100)": lambda: S["ddiff"](p1, prior, steps=100, generator=g().manual_seed(0)),
            "daps (50×2, 20 Langevin)": lambda: S["daps"](p1, prior, annealing_steps=50, ode_steps=2, langevin_steps=20,
                                                          generator=g().manual_seed(0)),
            "ddiff (1000)": lambda: S["ddiff"](p1, prior, steps=1000, generator=g().manual_seed(0))}
    for name, fn in runs.items():
        fn()
        pairs, r = paired_overhead(fn, prior, rounds=3 if "1000" in name else 5)
        print(f"| {name} | {r.nfe} | {r.vjp} | {min(w for w, _ in pairs):.2f} | {overhead_ratio(pairs):.2f} |")
    if args.skip_ablation:
        return
    print("\n| task | iterations | PSNR | SSIM | accuracy | residual/σ_y | seconds (16 glyphs) |")
    print("|---|---|---|---|---|---|---|")
    for task in ("sr4", "gaussian_blur"):
        p = invlab.make_problem(task, x16, sigma_y=0.05, seed=0)
        for steps in (1000, 250, 100):
            r = invlab.SOLVERS["ddiff"](p, prior, steps=steps, generator=torch.Generator().manual_seed(0))
            s = metrics.scorecard(p, r, labels)
            print(f"| {task} | {steps} | {s['psnr']:.2f} | {s['ssim']:.3f} | {s['accuracy']:.2f} | "
                  f"{s['residual'] / 0.05:.2f} | {r.seconds:.1f} |")


if __name__ == "__main__":
    main()
