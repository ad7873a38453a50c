"""HRDIS's efficiency claim over many glyphs and seeds: HRDIS at 100 steps against RED-diff at 100 and 1000.

    python benchmarks/bench_hrdis_efficiency.py [--threads 1] [--n 32] [--seeds 3]

The HRDIS paper (Dou et al., ICLR 2025) claims that HRDIS at 100 steps matches RED-diff at 1000.
Notebook 08's section 5 follows the three runs step by step on 2 glyphs (``bench_hrdis_steps.py``);
this script measures the claim as a distribution: the first ``n`` glyphs of the test split's first
stream (``invlab.glyphs(n, split="test", seed=0)``, the notebook's glyphs; the defaults are tuned on
the second stream), SR×4 with noiseless data (problem seed 0, as the notebook), ``seeds`` generator
seeds, every other setting at the solver's defaults. Writes ``benchmarks/results/hrdis_efficiency.csv``:
one row per run, seed and glyph (PSNR, the run's NFE and seconds), and prints the paired differences
(``invlab.stats.paired_difference`` over [seeds, images]).
"""
from __future__ import annotations

from pathlib import Path

import torch
from _tables import script_args, write_csv

import invlab
from invlab import metrics, stats

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = {"HRDIS 100": ("hrdis", 100), "RED-diff 100": ("red_diff", 100), "RED-diff 1000": ("red_diff", 1000)}


def flags(ap):
    ap.add_argument("--n", type=int, default=32, help="test glyphs (default 32)")
    ap.add_argument("--seeds", type=int, default=3, help="generator seeds per glyph (default 3)")


def main(argv=None):
    args = script_args(__doc__, argv, flags)
    if args.n < 2 or args.seeds < 1:
        raise SystemExit(f"--n: need at least 2 glyphs and --seeds at least 1, got {args.n} and {args.seeds}")
    prior = invlab.load_prior("glyphs32")
    x, _ = invlab.glyphs(args.n, split="test", seed=0)
    p = invlab.make_problem("sr4", x, sigma_y=0.0, seed=0)
    rows, psnr = [], {}
    for name, (solver, steps) in RUNS.items():
        per_seed = []
        for seed in range(args.seeds):
            r = invlab.SOLVERS[solver](p, prior, steps=steps, generator=torch.Generator().manual_seed(seed))
            q = metrics.psnr(r.x, x)
            per_seed.append(q)
            rows += [{"run": name, "seed": seed, "image": i, "psnr": f"{float(v):.4f}", "nfe": r.nfe,
                      "seconds": f"{r.seconds:.2f}"} for i, v in enumerate(q)]
        psnr[name] = torch.stack(per_seed)
        print(f"{name:14s} {float(psnr[name].mean()):6.2f} dB  ({r.seconds:.0f} s a run)", flush=True)
        write_csv(str(RESULTS / "hrdis_efficiency.csv"), rows)    # after every run: an interrupted run keeps its rows
    for a, b in (("HRDIS 100", "RED-diff 100"), ("RED-diff 1000", "HRDIS 100")):
        print(stats.paired_difference(psnr[a], psnr[b]).verdict(a, b))
    print(f"wrote {RESULTS / 'hrdis_efficiency.csv'} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
