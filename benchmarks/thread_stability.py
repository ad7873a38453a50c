"""How much a solver's PSNR moves when only the number of torch threads changes.

    python benchmarks/thread_stability.py [--n 8] [--methods dps,ddnm]

Every solver of the benchmark grid runs on the same ``n`` test glyphs, problems and seeds (SR×4
and box inpainting, σ_y = 0.05, the grid's settings ``invlab.bench.grid_hyper``) once with one
torch thread and once with two, each in a fresh process so the thread pool is set before any
work. Floating-point sums are reduced in a different order, so the estimates differ in the last
bits and, for iterative stochastic solvers, those differences can grow. Writes
``benchmarks/results/thread_stability.csv``: per solver and task the mean PSNR at each thread
count and the largest per-image difference. A notebook claim that rests on a difference smaller
than a solver's spread here is not a claim about the method.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

OUT = os.path.join(os.path.dirname(__file__), "results")
TASKS = ("sr4", "box_inpaint")
COLUMNS = ("method", "task", "images", "psnr_1", "psnr_2", "max_abs_diff")


def worker(threads: int, methods: list[str], n: int) -> dict:
    import torch

    import invlab
    from invlab.bench import grid_hyper
    torch.set_num_threads(threads)
    prior = invlab.load_prior("glyphs32")
    x, _ = invlab.glyphs(n, split="test", seed=0)
    out = {}
    for task in TASKS:
        problem = invlab.make_problem(task, x, sigma_y=0.05, seed=0)
        for m in methods:
            try:
                r = invlab.SOLVERS[m](problem, prior, **grid_hyper(m, problem.task), generator=0)
            except ValueError:                      # a task the method does not take (e.g. DDC's networks)
                continue
            out[f"{m}/{task}"] = invlab.metrics.psnr(r.x, x).double().tolist()
    return out


def main(argv=None):
    from _tables import write_csv

    import invlab
    from invlab.bench import GRID_METHODS
    invlab.pin_cpu_kernels()                       # the notebooks' kernels; the workers inherit the setting
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--methods", default=",".join(m for m in GRID_METHODS if m != "pseudo_inverse"))
    ap.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    methods = args.methods.split(",")
    if args.worker:
        print(json.dumps(worker(args.worker, methods, args.n)))
        return
    runs = {}
    for threads in (1, 2):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        proc = subprocess.run([sys.executable, __file__, "--worker", str(threads), "--n", str(args.n),
                               "--methods", args.methods], capture_output=True, text=True, env=env, check=True)
        runs[threads] = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = []
    for key in runs[1]:
        a, b = runs[1][key], runs[2][key]
        m, task = key.split("/")
        rows.append({"method": m, "task": task, "images": len(a), "psnr_1": round(sum(a) / len(a), 3),
                     "psnr_2": round(sum(b) / len(b), 3),
                     "max_abs_diff": round(max(abs(u - v) for u, v in zip(a, b)), 4)})
        r = rows[-1]
        print(f"{m:15s} {task:12s} {r['psnr_1']:7.3f} {r['psnr_2']:7.3f}  max |Δ| {r['max_abs_diff']:.4f} dB")
    write_csv(os.path.join(OUT, "thread_stability.csv"), rows, COLUMNS)


if __name__ == "__main__":
    main()
