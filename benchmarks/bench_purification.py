"""DCDP against DPS in one run, and DCDP's purifiers (notebook 06).

    python benchmarks/bench_purification.py [--threads N]

On 16 test glyphs (seed 0, σ_y = 0), SR×4 and Gaussian blur:
- DPS with 1000 steps (its defaults) and DCDP with the V1 (DDIM-20), V2 (Tweedie) and, when the
  shipped ``glyphs32-cm`` exists, consistency-model purifiers, all in this one process: PSNR,
  SSIM, classifier accuracy, Canny edge density, NFE, VJP, seconds. DCDP runs with the settings
  notebook 06 uses (SR×4: K = 30 rounds, the paper's K = 10 is too few for glyphs; blur: the
  paper's defaults);
- the no-backprop cost check: (DCDP seconds − its data phases' seconds) / (NFE × one forward
  pass at batch 16), target ≤ 1.10.
Writes ``benchmarks/results/purification.csv`` (read by notebook 06) and a Markdown table.
``--only dcdp-consistency`` re-runs some methods and merges them into the existing CSV (the
DPS/DCDP speed ratio always comes from DPS and DCDP-V2 of one run).
"""
from __future__ import annotations

import argparse
import os
import time

import torch
from _tables import merge_rows, write_tables

import invlab
from invlab import metrics
from invlab.solvers.purification import data_consistency, dcdp_schedule

OUT = os.path.join(os.path.dirname(__file__), "results")
# DCDP settings per task, shared with notebook 06
SETTINGS = {"sr4": dict(rounds=30), "gaussian_blur": dict(rounds=10)}   # the rounds this table was measured at


def forward_seconds(prior, batch: int) -> float:
    xb = torch.randn(batch, *prior.image_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for _ in range(3):
            prior.eps(xb, 500)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(10):
                prior.eps(xb, 500)
            times.append((time.perf_counter() - t0) / 10)
    return min(times)


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(OUT, "purification.csv"))
    ap.add_argument("--only", nargs="*", default=None, help="methods to (re-)run, merged into --out")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    prior = invlab.load_prior("glyphs32")
    try:
        cm = invlab.load_prior("glyphs32-cm")
    except OSError:
        cm = None
    x, labels = invlab.glyphs(16, split="test", seed=0)
    fwd = forward_seconds(prior, 16)
    rows = []
    S, g = invlab.SOLVERS, lambda: torch.Generator().manual_seed(0)
    for task in ("sr4", "gaussian_blur"):
        prob = invlab.make_problem(task, x, sigma_y=0.0, seed=0)
        runs = {"dps-1000": lambda: S["dps"](prob, prior, steps=1000, generator=g())}
        for pur in ("ddim", "tweedie") + (("consistency",) if cm is not None else ()):
            kw = dict(SETTINGS[task], purifier=pur, generator=g())
            if pur == "consistency":
                kw["consistency_model"] = cm
            runs[f"dcdp-{pur}"] = lambda kw=kw: S["dcdp"](prob, prior, **kw)
        for name, fn in runs.items():
            if args.only is not None and name not in args.only:
                continue
            r = fn()
            row = dict(task=task, method=name, **metrics.scorecard(prob, r, labels),
                       edge_density=round(float(metrics.edge_density(r.x).mean()), 4))
            if name.startswith("dcdp"):
                lr, dc_steps = r.info["lr"], r.info.get("dc_steps", 100)
                levels = r.info["levels"]
                t0 = time.perf_counter()
                xk = torch.zeros_like(prob.x)
                for _ in levels:
                    xk = data_consistency(prob, xk, dc_steps, lr, 0.9)
                dc_s = time.perf_counter() - t0
                row.update(data_phase_seconds=round(dc_s, 2),
                           network_overhead=round((r.seconds - dc_s) / (r.nfe * fwd), 3))
            rows.append(row)
            print(row, flush=True)
    if args.only is not None:
        rows = merge_rows(args.out, rows, lambda r: (r["task"], r["method"]))
    for task in ("sr4", "gaussian_blur"):
        dps = next(r for r in rows if r["task"] == task and r["method"] == "dps-1000")
        for r in rows:
            if r["task"] == task:
                r["speedup_vs_dps"] = round(float(dps["seconds"]) / float(r["seconds"]), 1)
    write_tables(args.out, rows, f"torch {torch.__version__}, {torch.get_num_threads()} threads; one forward pass at "
                 f"batch 16: {fwd * 1e3:.1f} ms; DCDP settings {SETTINGS} (levels {dcdp_schedule(30, 400, 0)[:3]}… "
                 f"for SR×4)")


if __name__ == "__main__":
    main()
