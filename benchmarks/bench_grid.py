"""The course benchmark: every solver × seven tasks on 32 test glyphs at σ_y = 0.05 (notebook 09).

    python benchmarks/bench_grid.py [--threads N] [--n 32]

Each solver runs at its defaults (``invlab.solvers.defaults``) at a budget of about 100 network
passes: the 1000-step methods get the settings of ``invlab.bench.grid_hyper`` — the same budget
for everyone is the fair comparison on a CPU. A (method, task) pair the method cannot handle — a nonlinear operator
for a method that needs an SVD or a closed-form proximal step — is recorded as unsupported with
the solver's own error message, raised before any work. Cells are cached by
:func:`invlab.bench.run_grid`, so an interrupted run resumes (``--fresh dcdp,hrdis`` ignores
the cache for methods whose code changed). A run on a slice (``--methods dpg`` or ``--tasks``)
replaces that slice's rows in the CSVs and keeps the others.

Writes ``benchmarks/results/grid.csv`` (one row per method × task: means over the images, costs
per cell), ``grid_images.csv`` (one row per method × task × image: the per-image metrics that
paired intervals need) and ``grid_unsupported.csv``; notebook 09 reads them and re-runs a slice live.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import invlab
from invlab.bench import GRID_METHODS, GRID_TASKS, grid_hyper, run_grid, summarize

OUT = os.path.join(os.path.dirname(__file__), "results")
TASKS, METHODS = GRID_TASKS, GRID_METHODS
COLUMNS = ("method", "task", "sigma_y", "images", "psnr", "ssim", "classifier_acc", "fd", "residual", "nfe", "vjp",
           "seconds")
IMAGE_COLUMNS = ("method", "task", "image", "psnr", "ssim", "classifier_acc", "residual")


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    from _tables import merge_rows, write_csv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--fresh", default="", help="methods whose cached cells are ignored (after a code change)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    prior = invlab.load_prior("glyphs32")
    rows, images, unsupported = [], [], []
    t0 = time.time()
    for task in args.tasks.split(","):
        for method in args.methods.split(","):
            try:
                cell = run_grid([method], [task], sigma_y=0.05, n=args.n, prior=prior,
                                hyper={method: grid_hyper(method, task)}, progress=False,
                                refresh=method in args.fresh.split(","))
            except (ValueError, TypeError, NotImplementedError) as e:
                unsupported.append({"method": method, "task": task, "reason": str(e).splitlines()[0]})
                print(f"{task:16s} {method:15s} unsupported: {unsupported[-1]['reason']}", flush=True)
                continue
            images += [{"method": method, "task": task, "image": i, **{k: round(r[k], 4) for k in IMAGE_COLUMNS[3:]}}
                       for i, r in enumerate(cell)]
            s = summarize(cell)[0]
            s["seconds"] = s["seconds"] * args.n                      # per cell (n images in one batch)
            rows.append(s)
            print(f"{task:16s} {method:15s} {s['psnr']:6.2f} dB  acc {s['classifier_acc']:.2f}  fd {s['fd']:8.2f}  "
                  f"NFE {s['nfe']:5.0f}  {s['seconds']:6.1f} s   [{time.time() - t0:6.0f} s]", flush=True)
    grid_csv, unsupported_csv = os.path.join(OUT, "grid.csv"), os.path.join(OUT, "grid_unsupported.csv")
    images_csv = os.path.join(OUT, "grid_images.csv")
    rows = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k in COLUMNS} for r in rows]
    if args.methods != ",".join(METHODS) or args.tasks != ",".join(TASKS):   # a slice: replace its cells only
        cell = lambda r: (r["method"], r["task"])  # noqa: E731
        rows = merge_rows(grid_csv, rows, cell)
        if os.path.exists(images_csv):
            images = merge_rows(images_csv, images, lambda r: (r["method"], r["task"], str(r["image"])))
        supported = {cell(r) for r in rows}
        unsupported = [r for r in merge_rows(unsupported_csv, unsupported, cell) if cell(r) not in supported]
    write_csv(grid_csv, rows, COLUMNS)
    write_csv(images_csv, images, IMAGE_COLUMNS)
    write_csv(unsupported_csv, unsupported, ("method", "task", "reason"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {time.time() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
