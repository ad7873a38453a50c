"""Solver overhead and batching (issue: guidance solvers).

    python benchmarks/bench_solvers.py [--steps 20] [--methods dps,pigdm,ddrm,ddnm,dpg]

For each solver on SR×4 glyphs (σ_y = 0.05), at batch 1 and batch 16:
- overhead ratio = wall time / (NFE × t_fwd + VJP × t_fwd+bwd), with t_fwd and t_fwd+bwd the
  median time of one network forward (no grad) and one forward+backward at that batch size,
  measured in the same run as the best of 5 × 20 back-to-back calls (target ≤ 1.10); solver
  times are the best of 3 calls;
- batch gain = time of 16 single-problem calls / time of one call on 16 problems (target ≥ 5).
Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import time

import torch

import invlab


def best_time(fn, n=5, inner=1):
    """Fastest of ``n`` repetitions of ``inner`` back-to-back calls, per call, after two warm-up
    calls (oneDNN's per-shape set-up is not counted). On a shared 2-core machine noise only ever
    adds time, so the minimum is the stable figure."""
    fn()
    fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        out.append((time.perf_counter() - t0) / inner)
    return min(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--methods", default="dps,pigdm,ddrm,ddnm,dpg")
    ap.add_argument("--dpg-samples", type=int, default=64)
    args = ap.parse_args(argv)
    prior = invlab.load_prior("glyphs32")
    x16 = invlab.glyphs(16, split="test")[0]
    unit = {}
    for b in (1, 16):
        xb = torch.randn(b, 1, 32, 32)
        with torch.no_grad():
            unit[b, "fwd"] = best_time(lambda: prior.eps(xb, 500), inner=20)

        def fwd_bwd():
            xg = xb.clone().requires_grad_()
            torch.autograd.grad(prior.eps(xg, 500).sum(), xg)
        unit[b, "fwdbwd"] = best_time(fwd_bwd, inner=20)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; one forward: "
          f"{unit[1, 'fwd'] * 1e3:.1f} ms (b1), {unit[16, 'fwd'] * 1e3:.1f} ms (b16); forward+backward: "
          f"{unit[1, 'fwdbwd'] * 1e3:.1f} ms (b1), {unit[16, 'fwdbwd'] * 1e3:.1f} ms (b16)")
    print(f"the network alone batches 16 images {16 * unit[1, 'fwd'] / unit[16, 'fwd']:.1f}× (forward) and "
          f"{16 * unit[1, 'fwdbwd'] / unit[16, 'fwdbwd']:.1f}× (forward+backward) faster than one at a time: "
          "the ceiling of any solver's batch gain\n")
    print("| solver | steps | NFE | VJP | overhead b1 | overhead b16 | 16 single calls s "
          "| one batched call s | batch gain |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.methods.split(","):
        kw = {"steps": args.steps}
        if name == "dpg":
            kw.update(n_samples=args.dpg_samples)
        fn = invlab.SOLVERS[name]
        ratios, wall = {}, {}
        for b in (1, 16):
            prob = invlab.make_problem("sr4", x16[:b], sigma_y=0.05, seed=0)
            runs = [fn(prob, prior, generator=torch.Generator().manual_seed(0), **kw) for _ in range(3)]
            r = runs[-1]
            wall[b] = min(x.seconds for x in runs)
            ratios[b] = wall[b] / (r.nfe * unit[b, "fwd"] + r.vjp * unit[b, "fwdbwd"])
        singles = 0.0
        for i in range(16):
            p1 = invlab.make_problem("sr4", x16[i:i + 1], sigma_y=0.05, seed=0)
            singles += min(fn(p1, prior, generator=torch.Generator().manual_seed(0), **kw).seconds for _ in range(2))
        print(f"| {name} | {args.steps} | {r.nfe} | {r.vjp} | {ratios[1]:.2f} | {ratios[16]:.2f} | "
              f"{singles:.2f} | {wall[16]:.2f} | {singles / wall[16]:.1f}× |")


if __name__ == "__main__":
    main()
