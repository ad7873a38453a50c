"""Median wall time of applying every operator (forward, and adjoint where linear).

    python benchmarks/bench_operators.py [--repeats 50]

Targets: (16, 1, 32, 32) ≤ 5 ms and (1, 3, 256, 256) ≤ 50 ms per call on CPU.
Prints a Markdown table; construction time (masks, kernels, SVDs) is excluded.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import invlab


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None) -> None:
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args(argv)
    small = invlab.glyphs(16)[0]
    big = invlab.test_image("astronaut", 256)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| task | (16,1,32,32) A ms | Aᵀ ms | (1,3,256,256) A ms | Aᵀ ms |")
    print("|---|---|---|---|---|")
    worst_small = worst_big = 0.0
    with torch.no_grad():
        for task in invlab.TASKS:
            row = [task]
            for x in (small, big):
                p = invlab.make_problem(task, x, sigma_y=0.05)
                a = median_ms(lambda: p.op(x), args.repeats)
                row.append(f"{a:.2f}")
                at = median_ms(lambda: p.op.T(p.y), args.repeats) if p.op.linear else float("nan")
                row.append(f"{at:.2f}" if p.op.linear else "–")
                m = max(a, at if p.op.linear else 0)
                if x is small:
                    worst_small = max(worst_small, m)
                else:
                    worst_big = max(worst_big, m)
            print("| " + " | ".join(row) + " |")
    print(f"\nworst (16,1,32,32): {worst_small:.2f} ms (target 5); worst (1,3,256,256): {worst_big:.2f} ms (target 50)")


if __name__ == "__main__":
    main()
