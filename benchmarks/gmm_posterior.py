"""Every solver family against the exact Gaussian-mixture posterior (the benchmark of [MCGdiff]).

    python benchmarks/gmm_posterior.py [--dims 8,80] [--seeds 0,1,2] [--n 1000] [--solvers dpg,...]

For each dimension d and problem seed: the 25-component grid mixture, a random A (1 × d, singular
value U(0, 1)) and σ_y = U(0, 1)·s (``linear_gaussian_problem``); every solver draws ``n`` posterior
samples for the same y. Reported per solver (:func:`invlab.gmm_bench.posterior_report`): sliced
Wasserstein distance to 2000 exact posterior samples, the per-coordinate error of the sample mean,
and the total-variation error of the recovered mixture weights. ``exact`` (fresh exact posterior
samples) is the floor set by sampling noise; ``prior`` (unconditional exact samples) is the
yardstick every solver must beat. Writes ``benchmarks/results/gmm_posterior.csv``
and prints a Markdown table; ``--solvers`` re-runs some solvers and replaces only their rows.

``to mode`` / ``to mean``: the mean distance of a sample to the nearest posterior mode and to the
posterior mean (per coordinate) — the yardstick for the MAP-style splitting solvers (DDiff,
DiffPIR), which are not samplers: exact samples sit about one standard deviation (≈ 1) from a
mode, a MAP estimate should sit closer.

Hyperparameters are for the mixture's scale (modes ±16 apart, not images in [-1, 1]): DPS
ζ = 1 at 100 steps, DPG a normalised step of 0.1 (DDIM-100, N = 64, r_min = 0).
"""
from __future__ import annotations

import argparse
import os
import time

import torch
from _tables import merge_rows, write_csv

from invlab import pin_cpu_kernels
from invlab.diffusion import load_prior
from invlab.gmm_bench import linear_gaussian_problem, posterior_report
from invlab.problems import linear_problem
from invlab.solvers import SOLVERS

SETTINGS = {"dps": dict(steps=100, zeta=1.0), "pigdm": dict(steps=50), "ddrm": dict(steps=20),
            "ddnm": dict(steps=50, clamp=False),
            "dpg": dict(steps=100, sampler="ddim", scale=0.1, n_samples=64, r_min=0.0),
            # splitting (MAP-style): DDiff and its no-dual ablation, DiffPIR
            "ddiff": dict(steps=200, gamma0=1.0), "ddiff_hqs": dict(steps=200, gamma0=1.0, variant="hqs", hqs_step=1.0),
            "diffpir": dict(steps=50, zeta=0.2), "pnp_admm": dict(iterations=30, sigma_max=20.0),
            "daps": dict(annealing_steps=20, langevin_steps=10, lr=1e-2),          # τ = σ_y, set in run()
            # purification and regularisation (μ starts from 0: the 1 × d operator has no useful A⁺y)
            "dcdp": dict(rounds=10, dc_steps=20, lr=0.5, t_start=700, t_end=0),
            "red_diff": dict(steps=100, lr=0.5), "hrdis": dict(steps=100, lr=0.5)}


def run(dim: int, seed: int, n: int, solvers=tuple(SETTINGS)) -> list[dict]:
    prior = load_prior("gmm-grid", dim=dim)
    A, y, sy, x = linear_gaussian_problem(prior, m=1, seed=seed)
    post = prior.posterior(A, y, sy)
    prob = linear_problem(A, x.expand(n, -1).clone(), sigma_y=sy, y=y.expand(n, -1).clone())
    rows = []
    samples = {"exact": (post.sample(n, torch.Generator().manual_seed(5)), 0, 0, 0.0),     # the floor
               "prior": (prior.sample_exact(n, torch.Generator().manual_seed(3)), 0, 0, 0.0)}
    for name in solvers:
        kw = SETTINGS[name]
        fn = SOLVERS["ddiff" if name.startswith("ddiff") else name]
        kw = dict(kw, tau=sy) if name == "daps" else kw
        kw = dict(kw, x_init=torch.zeros_like(prob.x)) if name in ("red_diff", "hrdis") else kw
        r = fn(prob, prior, generator=torch.Generator().manual_seed(4), **kw)
        samples[name] = (r.x, r.nfe, r.vjp, r.seconds)
    for name, (xs, nfe, vjp, sec) in samples.items():
        rep = posterior_report(xs, post, generator=torch.Generator().manual_seed(1))
        rows.append(dict(dim=dim, seed=seed, sigma_y=round(sy, 4), solver=name, nfe=nfe, vjp=vjp,
                         seconds=round(sec, 2), finite=bool(torch.isfinite(xs).all()),
                         **{k: round(v, 4) for k, v in rep.items()}))
    return rows


def main(argv=None):
    pin_cpu_kernels()                              # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", default="8,80")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--solvers", default=",".join(SETTINGS),
                    help="a subset re-runs those solvers (each has its own seeded generator) and replaces "
                         "their rows in --out, keeping the others")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "gmm_posterior.csv"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    solvers = args.solvers.split(",")
    unknown = sorted(set(solvers) - set(SETTINGS))
    if unknown:
        ap.error(f"--solvers: unknown {unknown}; choose from {list(SETTINGS)}")
    rows = [r for d in map(int, args.dims.split(",")) for s in map(int, args.seeds.split(","))
            for r in run(d, s, args.n, solvers)]
    if solvers != list(SETTINGS):
        rows = merge_rows(args.out, rows, lambda r: (str(r["dim"]), str(r["seed"]), r["solver"]))
    write_csv(args.out, rows)
    print("| d | seed | σ_y | solver | NFE | VJP | SW ↓ | mean error ↓ | weight TV ↓ | to mode | to mean | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dim']} | {r['seed']} | {r['sigma_y']} | {r['solver']} | {r['nfe']} | {r['vjp']} | "
              + " | ".join(f"{float(r[k]):.2f}" for k in ("sw", "mean_error", "weight_tv", "to_mode", "to_mean"))
              + f" | {float(r['seconds']):.1f} |")
    print(f"\n{args.n} samples per solver; total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
