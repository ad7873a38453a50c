"""Every pixel solver at its defaults, on glyphs no default was tuned on.

    python benchmarks/check_defaults.py [--threads 1] [--n 16] [--methods dps,ddnm] [--tasks sr4]

Each solver runs with no hyperparameter given (the learned DDC with the shipped network for the
task, where there is one) on ``sr4``, ``gaussian_blur`` and ``box_inpaint`` at σ_y = 0.05, on the
first ``n`` glyphs of the test split's stream 0 (``benchmarks/tune_defaults.py`` tunes on stream
1). For each task it reports every solver's mean PSNR, its gap to the best solver and the paired
95 % interval of that gap (:func:`invlab.stats.paired_difference`). The acceptance rule for the
defaults: no solver more than 3 dB below the best on SR×4 and the Gaussian blur, 4 dB on box
inpainting. Writes ``benchmarks/results/defaults.csv`` (per-image PSNRs in
``defaults_images.csv``; with ``--noiseless``, σ_y = 0, ``defaults_noiseless*.csv``), replacing the
rows of the methods and tasks run.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import invlab
from invlab.stats import paired_difference

OUT = os.path.join(os.path.dirname(__file__), "results")
TASKS = ("sr4", "gaussian_blur", "box_inpaint")
TOLERANCE = {"sr4": 3.0, "gaussian_blur": 3.0, "box_inpaint": 4.0}
METHODS = ("dps", "pigdm", "ddrm", "ddnm", "dpg", "ddiff", "pnp_admm", "diffpir", "daps", "dcdp", "red_diff",
           "hrdis", "ddc")
REFERENCE = ("pseudo_inverse",)
SIGMA_Y = 0.05
DDC_NETWORK = {"sr4": "glyphs32-ddc-sr4"}               # the generic network covers the other tasks
COLUMNS = ("method", "task", "images", "psnr", "gap", "gap_low", "gap_high", "within", "nfe", "vjp", "seconds")


def solve(method: str, task: str, n: int, prior, sigma_y: float = SIGMA_Y):
    x, _ = invlab.glyphs(n, split="test", seed=0)
    problem = invlab.make_problem(task, x, sigma_y=sigma_y, seed=0)
    kw = {"network": DDC_NETWORK.get(task, "glyphs32-ddc")} if method == "ddc" else {}
    res = invlab.SOLVERS[method](problem, prior, **kw, generator=torch.Generator().manual_seed(0))
    return invlab.metrics.psnr(res.x, x).double(), res


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    from _tables import merge_rows, write_csv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--noiseless", action="store_true",
                    help="σ_y = 0 instead of 0.05; writes defaults_noiseless*.csv")
    args = ap.parse_args(argv)
    sigma_y, suffix = (0.0, "_noiseless") if args.noiseless else (SIGMA_Y, "")
    if args.threads:
        torch.set_num_threads(args.threads)
    methods, tasks = args.methods.split(","), args.tasks.split(",")
    for values, known, flag in ((methods, METHODS, "--methods"), (tasks, TASKS, "--tasks")):
        if not values or any(v not in known for v in values):
            ap.error(f"{flag}: choose from {', '.join(known)}; got {','.join(values)!r}")
    prior = invlab.load_prior("glyphs32")
    images_csv = os.path.join(OUT, f"defaults{suffix}_images.csv")
    t0 = time.time()
    for task in tasks:
        for method in (*REFERENCE, *methods):
            try:
                p, res = solve(method, task, args.n, prior, sigma_y)
            except (ValueError, TypeError) as e:
                print(f"{task:14s} {method:15s} unsupported: {str(e).splitlines()[0]}", flush=True)
                continue
            new = [{"method": method, "task": task, "image": i, "psnr": round(float(v), 4), "nfe": res.nfe,
                    "vjp": res.vjp, "seconds": round(res.seconds, 1)} for i, v in enumerate(p)]
            print(f"{task:14s} {method:15s} {float(p.mean()):6.2f} dB  NFE {res.nfe:5d}  {res.seconds:6.1f} s  "
                  f"[{time.time() - t0:5.0f} s]", flush=True)
            per_image = merge_rows(images_csv, new, lambda r: (r["method"], r["task"], str(r["image"])))
            write_csv(images_csv, per_image, ("method", "task", "image", "psnr", "nfe", "vjp", "seconds"))
            write_csv(os.path.join(OUT, f"defaults{suffix}.csv"), summarize(per_image), COLUMNS)   # every cell


def summarize(per_image: list[dict]) -> list[dict]:
    """One row per (method, task): mean PSNR, the gap to the task's best solver with its paired
    bootstrap 95 % interval, and whether the gap is within the task's tolerance."""
    rows = []
    for task in dict.fromkeys(r["task"] for r in per_image):
        cells = {}
        for r in per_image:
            if r["task"] == task:
                cells.setdefault(r["method"], []).append(r)
        psnr = {m: torch.tensor([float(r["psnr"]) for r in sorted(c, key=lambda r: int(r["image"]))],
                                dtype=torch.float64) for m, c in cells.items()}
        solvers = [m for m in psnr if m not in REFERENCE]
        best = max(solvers, key=lambda m: float(psnr[m].mean())) if solvers else None   # None: only A⁺y so far
        for m, p in psnr.items():
            c = cells[m][0]
            row = {"method": m, "task": task, "images": len(p), "psnr": round(float(p.mean()), 2),
                   "nfe": c["nfe"], "vjp": c["vjp"], "seconds": c["seconds"]}
            if best is not None and m != best and len(p) == len(psnr[best]):
                d = paired_difference(psnr[best], p, generator=torch.Generator().manual_seed(0))
                row.update(gap=round(d.mean, 2), gap_low=round(d.low, 2), gap_high=round(d.high, 2))
            else:
                row.update(gap=0.0, gap_low=0.0, gap_high=0.0)
            row["within"] = "reference" if m in REFERENCE else str(row["gap"] <= TOLERANCE.get(task, 3.0))
            rows.append(row)
    return rows


if __name__ == "__main__":
    main()
