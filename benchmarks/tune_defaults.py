"""Where the solvers' defaults come from: small sweeps on held-out glyphs.

    python benchmarks/tune_defaults.py [--threads 1] [--n 16] [--methods diffpir,ddnm] [--families sr,deblur]
                                       [--settings "scale=8.0"]

Each solver's key hyperparameter(s) are swept per task family (``sr``: ``sr4``; ``deblur``:
``gaussian_blur``; ``inpaint``: ``box_inpaint``) at σ_y = 0.05 on ``n`` glyphs of the test
split's second stream (``invlab.glyphs(n, split="test", seed=1)``) — images the benchmark grid
and the acceptance checks (stream 0) never see. The best value per (method, family) is the one
:data:`invlab.solvers.defaults.DEFAULTS` holds. Writes ``benchmarks/results/tuning.csv``, one
row per setting (mean PSNR over the images, its standard error, NFE), replacing the rows of the
swept (method, family) pairs and keeping the others.
"""
from __future__ import annotations

import argparse
import itertools
import os
import time

import torch

import invlab

OUT = os.path.join(os.path.dirname(__file__), "results")
FAMILIES = {"sr": "sr4", "deblur": "gaussian_blur", "inpaint": "box_inpaint", "sr_rounds": "sr4"}
SIGMA_Y = 0.05

# (method, family) -> {hyperparameter: values}; one entry per swept pair, fixed settings in FIXED
SWEEPS = {
    ("diffpir", "sr"): {"zeta": [0.1, 0.3, 0.6, 1.0], "lam": [1.0, 7.0]},
    ("diffpir", "deblur"): {"zeta": [0.1, 0.3, 0.6, 1.0], "lam": [1.0, 7.0]},
    ("diffpir", "inpaint"): {"steps": [20, 100], "zeta": [0.3, 1.0], "lam": [1.0, 7.0]},
    ("ddnm", "sr"): {"eta": [0.0, 0.5, 0.85, 1.0]},
    ("ddnm", "deblur"): {"eta": [0.0, 0.5, 0.85, 1.0]},
    ("ddnm", "inpaint"): {"eta": [0.0, 0.5, 0.85, 1.0]},
    ("pnp_admm", "sr"): {"sigma_max": [0.38, 1.0, 3.0], "lam": [0.23, 2.0]},
    ("pnp_admm", "deblur"): {"sigma_max": [0.38, 1.0, 3.0], "lam": [0.23, 2.0]},
    ("pnp_admm", "inpaint"): {"sigma_max": [0.38, 1.0, 3.0], "lam": [0.23, 2.0]},
    ("dcdp", "sr"): {"purifier": ["ddim", "tweedie"], "rounds": [10, 30, 50]},
    ("dcdp", "deblur"): {"purifier": ["ddim", "tweedie"], "rounds": [10, 30, 50]},
    ("dcdp", "inpaint"): {"purifier": ["ddim", "tweedie"], "rounds": [20, 50]},
    ("daps", "sr"): {"lr": [1e-5, 1e-4, 1e-3]},
    ("daps", "deblur"): {"lr": [1e-5, 5e-5, 1e-4]},
    ("daps", "inpaint"): {"lr": [5e-5, 1e-4]},
    ("ddrm", "sr"): {"steps": [20, 100], "eta": [0.85, 1.0]},
    ("ddrm", "deblur"): {"steps": [20, 100], "eta": [0.85, 1.0]},
    ("ddrm", "inpaint"): {"steps": [20, 100], "eta": [0.85, 1.0]},
    ("ddiff", "sr"): {"gamma0": [0.5, 1.3, 4.0]},
    ("ddiff", "deblur"): {"gamma0": [0.1, 0.21, 0.6]},
    ("ddiff", "inpaint"): {"gamma0": [1.0, 2.2, 6.0]},
    ("red_diff", "sr"): {"lr": [0.1, 0.5], "lambda2": [0.05, 0.25]},
    ("red_diff", "deblur"): {"lr": [0.1, 0.5], "lambda2": [0.05, 0.25]},
    ("red_diff", "inpaint"): {"lr": [0.1, 0.5], "lambda2": [0.05, 0.25]},
    ("hrdis", "sr"): {"lr": [0.1, 0.5], "lambda2": [0.05, 0.2]},
    ("hrdis", "deblur"): {"lr": [0.1, 0.5], "lambda2": [0.05, 0.25]},
    ("hrdis", "inpaint"): {"lr": [0.1, 0.5], "lambda2": [0.05, 0.25]},
    ("dcdp", "sr_rounds"): {"purifier": ["tweedie"], "rounds": [100]},
    ("dpg", "sr"): {"scale": [3.0, 8.0, 20.0, 50.0, 144.0]},
    ("dpg", "deblur"): {"scale": [5.0, 14.4, 50.0]},
    ("dpg", "inpaint"): {"scale": [8.0, 20.0, 50.0, 144.0]},
}
FIXED: dict[str, dict] = {}
COLUMNS = ("method", "family", "task", "setting", "psnr", "psnr_se", "images", "nfe", "seconds")


def run(method: str, task: str, setting: dict, n: int, prior) -> dict:
    x, _ = invlab.glyphs(n, split="test", seed=1)
    problem = invlab.make_problem(task, x, sigma_y=SIGMA_Y, seed=1)
    fn = invlab.SOLVERS[method]
    try:
        res = fn(problem, prior, **{**FIXED.get(method, {}), **setting}, generator=torch.Generator().manual_seed(1))
    except ValueError as e:                        # a setting that diverges (NaN iterate) is recorded, not fatal
        if "NaN" not in str(e):
            raise
        return {"psnr": float("nan"), "psnr_se": float("nan"), "images": n, "nfe": 0, "seconds": 0.0}
    p = invlab.metrics.psnr(res.x, x)
    return {"psnr": float(p.mean()), "psnr_se": float(p.std() / len(p) ** 0.5), "images": n, "nfe": res.nfe,
            "seconds": round(res.seconds, 1)}


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--methods", default=",".join(sorted({m for m, _ in SWEEPS})))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--settings", default="", help="only these settings, as the table labels them "
                    "(e.g. 'scale=8.0'; ';' between several): extends a sweep without rerunning it")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    methods, families = args.methods.split(","), args.families.split(",")
    for name, known, flag in ((methods, {m for m, _ in SWEEPS}, "--methods"), (families, FAMILIES, "--families")):
        bad = [v for v in name if v not in known]
        if bad:
            ap.error(f"{flag}: unknown {bad}; choose from {sorted(known)}")
    prior = invlab.load_prior("glyphs32")
    rows, t0 = [], time.time()
    for (method, family), grid in SWEEPS.items():
        if method not in methods or family not in families:
            continue
        task = FAMILIES[family]
        for values in itertools.product(*grid.values()):
            setting = dict(zip(grid, values))
            label = " ".join(f"{k}={v}" for k, v in setting.items())
            if args.settings and label not in args.settings.split(";"):
                continue
            r = {"method": method, "family": family, "task": task, "setting": label,
                 **run(method, task, setting, args.n, prior)}
            rows.append(r)
            print(f"{method:8s} {task:14s} {r['setting']:24s} {r['psnr']:6.2f} ± {r['psnr_se']:.2f} dB  "
                  f"NFE {r['nfe']:4d}  [{time.time() - t0:5.0f} s]", flush=True)
            save([r])                              # after every setting: an interrupted sweep keeps its rows


def save(rows: list[dict]) -> None:
    from _tables import merge_rows, write_csv
    path = os.path.join(OUT, "tuning.csv")
    rows = merge_rows(path, [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
                      lambda r: (r["method"], r["family"], r["setting"]))
    write_csv(path, rows, COLUMNS)


if __name__ == "__main__":
    main()
