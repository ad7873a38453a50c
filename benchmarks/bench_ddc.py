"""DDC against DPS-1000 and DDNM in one run (notebook 07).

    python benchmarks/bench_ddc.py [--threads N] [--only METHOD ...]

On 16 test glyphs (seed 0, σ_y = 0.05) for SR×4, Gaussian blur and 92 % random inpainting:
- ``ddc-5``: the shipped generalised network ``glyphs32-ddc``, the paper's 5 steps;
- ``ddc-5-sr4``: the specialised SR×4 network ``glyphs32-ddc-sr4`` (SR×4 only);
- ``dps-1000``: DPS with its defaults (1000 DDPM steps);
- ``ddnm-100``: DDNM+ with its defaults (100 DDIM steps, η = 0.85);
PSNR, SSIM, classifier accuracy, NFE, VJP, seconds and the speed-up over DPS of the same run; and,
for every method, the excess kurtosis of ε̂ at each network call (``ddc_kurtosis.csv``: is the
network input still Gaussian?). Also the DDC timing target: 16 problems in one batch, best of 5.
Writes ``benchmarks/results/ddc.csv``, ``ddc_kurtosis.csv`` and ``ddc.md`` (read by notebook 07).
``--only`` re-runs some methods and merges them into the existing files.
"""
from __future__ import annotations

import argparse
import os
import time

import torch
from _tables import merge_rows, write_csv, write_tables

import invlab
from invlab import metrics
from invlab.ddc import GENERAL_TASKS, load_ddc, recording_eps

OUT = os.path.join(os.path.dirname(__file__), "results")
TASKS = ("sr4", "gaussian_blur", "random_inpaint")
SIGMA_Y = 0.05


def problem(task: str, x: torch.Tensor):
    return invlab.make_problem(task, x, sigma_y=SIGMA_Y, seed=0, **GENERAL_TASKS[task])


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(OUT, "ddc.csv"))
    ap.add_argument("--only", nargs="*", default=None, help="methods to (re-)run, merged into --out")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    prior = invlab.load_prior("glyphs32")
    nets = {"ddc-5": load_ddc("glyphs32-ddc")}
    try:
        nets["ddc-5-sr4"] = load_ddc("glyphs32-ddc-sr4")
    except FileNotFoundError:
        pass
    x, labels = invlab.glyphs(16, split="test", seed=0)
    S, g = invlab.SOLVERS, lambda: torch.Generator().manual_seed(0)
    rows, kurt = [], []
    for task in TASKS:
        prob = problem(task, x)
        runs = {"dps-1000": lambda p: S["dps"](prob, p, steps=1000, generator=g()),
                "ddnm-100": lambda p: S["ddnm"](prob, p, generator=g())}
        for name, net in nets.items():
            if task in net.tasks:
                runs[name] = lambda p, net=net: S["ddc"](prob, p, network=net, generator=g())
        for name, fn in runs.items():
            if args.only is not None and name not in args.only:
                continue
            view, rec = recording_eps(prior)
            r = fn(view)
            row = dict(task=task, method=name, **metrics.scorecard(prob, r, labels))
            if name.startswith("ddc"):
                times = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    S["ddc"](prob, prior, network=nets[name], generator=g())
                    times.append(time.perf_counter() - t0)
                row["batch16_seconds_best_of_5"] = round(min(times), 3)
            rows.append(row)
            kurt += [dict(task=task, method=name, call=i, t=t, kurtosis=round(k, 4)) for i, (t, k) in enumerate(rec)]
            print(row, flush=True)
    if args.only is not None:
        rows = merge_rows(args.out, rows, lambda r: (r["task"], r["method"]))
        kurt = merge_rows(args.out.replace(".csv", "_kurtosis.csv"), kurt,
                      lambda r: (r["task"], r["method"], str(r["call"])))
    for task in TASKS:
        dps = next((r for r in rows if r["task"] == task and r["method"] == "dps-1000"), None)
        for r in rows:
            if r["task"] == task and dps is not None:
                r["speedup_vs_dps"] = round(float(dps["seconds"]) / float(r["seconds"]), 1)
    write_csv(args.out.replace(".csv", "_kurtosis.csv"), kurt)
    meta = {k: load_ddc(n).info.get("step") for k, n in (("ddc-5", "glyphs32-ddc"), ("ddc-5-sr4", "glyphs32-ddc-sr4"))
            if k in nets}
    write_tables(args.out, rows, f"torch {torch.__version__}, {torch.get_num_threads()} threads; 16 test glyphs, "
                 f"σ_y = {SIGMA_Y}; DDC networks at training steps {meta}")


if __name__ == "__main__":
    main()
