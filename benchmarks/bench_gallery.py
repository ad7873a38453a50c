"""The reconstruction gallery of notebook 09: for every grid task, the truth, A⁺y (the measurement
y where the task has no pseudo-inverse) and the six solvers with the highest mean PSNR in
``results/grid.csv``, on the first test glyphs of the grid.

    python benchmarks/bench_gallery.py [--threads N] [--n 4]

Every solver runs with the grid's settings (``benchmarks/bench_grid.py``): σ_y = 0.05, the problem
and the solver seeded with 0 (``torch.Generator``), its defaults plus ``invlab.bench.grid_hyper``.
The glyphs are the first ``n`` of the grid's 32, but the problem is built for those ``n`` alone, so
its noise draw (and a stochastic solver's) is not the grid's: the PSNR here are this run's own, one
per image, beside the grid's mean over its 32 glyphs.

Writes ``results/gallery.safetensors`` (float16: ``truth``, ``labels``, ``measurement/<task>`` and
``<task>/<method>``, estimates clamped to [-1, 1]; the file's metadata lists each task's solvers in
rank order) and ``results/gallery.csv`` (one row per task, image shown and glyph: PSNR of the
float32 estimate, the grid's mean PSNR, the rank in the grid, NFE and seconds of the call).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import time

import torch
from _tables import write_csv
from safetensors.torch import save_file

import invlab
from invlab import metrics
from invlab.bench import GRID_HYPER, GRID_TASK_HYPER, GRID_TASKS, grid_hyper

OUT = os.path.join(os.path.dirname(__file__), "results")
BASELINES = ("pseudo_inverse", "prior_sample")
TOP = 6
SIGMA_Y, SEED = 0.05, 0          # the grid's (bench_grid.py)


def ranking(grid_rows: list[dict], task: str, top: int = TOP) -> list[str]:
    """The solvers (baselines left out) of ``task`` by mean PSNR in grid.csv, best first."""
    rs = [r for r in grid_rows if r["task"] == task and r["method"] not in BASELINES]
    return [r["method"] for r in sorted(rs, key=lambda r: -float(r["psnr"]))][:top]


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--n", type=int, default=4, help="glyphs (the first n test glyphs of the grid)")
    args = ap.parse_args(argv)
    if args.n < 2:
        raise SystemExit(f"--n: need at least 2 glyphs, got {args.n}")
    if args.threads:
        torch.set_num_threads(args.threads)
    with open(os.path.join(OUT, "grid.csv")) as f:
        grid_rows = list(csv.DictReader(f))
    grid_psnr = {(r["method"], r["task"]): float(r["psnr"]) for r in grid_rows}
    prior = invlab.load_prior("glyphs32")
    x, labels = invlab.glyphs(args.n, split="test", seed=0)
    tensors = {"truth": x.half(), "labels": labels.to(torch.int32)}
    order, rows = {}, []
    t0 = time.time()
    for task in GRID_TASKS:
        p = invlab.make_problem(task, x, sigma_y=SIGMA_Y, seed=SEED)
        methods = ranking(grid_rows, task)
        order[task] = methods
        shown = [("pseudo_inverse", 0)] if ("pseudo_inverse", task) in grid_psnr else []
        if not shown:                                  # no A⁺: the measurement itself (phase retrieval: |F x|)
            tensors[f"measurement/{task}"] = p.y.half().contiguous()
        for method, rank in shown + [(m, i + 1) for i, m in enumerate(methods)]:
            r = invlab.SOLVERS[method](p, prior, generator=torch.Generator().manual_seed(SEED),
                                       **grid_hyper(method, task))
            est = r.x.clamp(-1, 1)
            key = f"measurement/{task}" if method == "pseudo_inverse" else f"{task}/{method}"
            tensors[key] = est.half().contiguous()
            for i, q in enumerate(metrics.psnr(est, x).tolist()):
                rows.append({"task": task, "method": method, "rank": rank, "image": i, "label": int(labels[i]),
                             "psnr": round(q, 4), "grid_psnr": grid_psnr[method, task], "nfe": r.nfe,
                             "seconds": round(r.seconds, 2)})
            print(f"{task:16s} {method:15s} rank {rank}  {float(metrics.psnr(est, x).mean()):6.2f} dB "
                  f"(grid {grid_psnr[method, task]:6.2f})  NFE {r.nfe:5d}  {r.seconds:6.1f} s  "
                  f"[{time.time() - t0:5.0f} s]", flush=True)
    meta = {"order": json.dumps(order), "sigma_y": str(SIGMA_Y), "seed": str(SEED), "images": str(args.n),
            "hyper": json.dumps(GRID_HYPER, sort_keys=True),
            "task_hyper": json.dumps({f"{m}/{t}": kw for (m, t), kw in GRID_TASK_HYPER.items()}, sort_keys=True)}
    save_file(tensors, os.path.join(OUT, "gallery.safetensors"), metadata=meta)
    write_csv(os.path.join(OUT, "gallery.csv"), rows)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {time.time() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
