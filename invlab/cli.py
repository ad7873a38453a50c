"""The ``invlab`` command line: ``invlab list``, ``invlab solve`` and ``invlab bench``.

    invlab list
    invlab solve --task sr4 --method ddnm --image glyph:3 --sigma-y 0.05 --out result.png
    invlab bench --methods ddrm,ddnm --tasks sr4,box_inpaint --n 16 --out results.csv

Bad arguments give a one-line error on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import inspect
import os
import sys

__all__ = ["main"]


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="invlab", description="Image inverse problems with diffusion priors.")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list tasks, methods and priors", description="List tasks, methods and priors.")
    s = sub.add_parser("solve", help="solve one inverse problem and write the result",
                       description="Measure an image with a task's operator, solve with a method, write the result.")
    s.add_argument("--task", required=True, help="a task name (see `invlab list`)")
    s.add_argument("--method", required=True, help="a solver name (see `invlab list`)")
    s.add_argument("--image", required=True, help="an image file (PNG/JPEG) or glyph:N (test glyph N)")
    s.add_argument("--prior", default="glyphs32", help="prior name (default glyphs32)")
    s.add_argument("--sigma-y", type=float, default=0.05, help="Gaussian noise std in [-1, 1] units")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--steps", type=int, default=None, help="solver steps (default: the method's)")
    s.add_argument("--out", default="result.png", help="restored image; a side-by-side figure goes next to it")
    b = sub.add_parser("bench", help="run a benchmark grid and write a CSV",
                       description="Solve every (method, task, σ_y, seed) cell on n test glyphs; cells are cached.")
    b.add_argument("--methods", required=True, help="comma-separated solver names")
    b.add_argument("--tasks", required=True, help="comma-separated task names")
    b.add_argument("--n", type=int, default=16, help="test glyphs per cell")
    b.add_argument("--sigma-y", default="0.05", help="comma-separated noise levels ([-1, 1] units)")
    b.add_argument("--seeds", default="0", help="comma-separated seeds")
    b.add_argument("--prior", default="glyphs32")
    b.add_argument("--out", default="results.csv")
    b.add_argument("--no-cache", action="store_true", help="recompute every cell")
    b.add_argument("--nproc", type=int, default=1, help="worker processes launched by torchrun (one per GPU)")
    return ap


def _load_image(spec: str, shape):
    import numpy as np
    import torch
    import torch.nn.functional as F
    C, H, W = shape
    if spec.startswith("glyph:"):
        try:
            n = int(spec.split(":", 1)[1])
        except ValueError:
            raise UsageError(f"--image: expected glyph:N with an integer N, got {spec!r}") from None
        if n < 0:
            raise UsageError(f"--image: glyph index must be >= 0, got {n}")
        if (C, H, W) != (1, 32, 32):
            raise UsageError(f"--image: glyphs are 1×32×32 but the prior expects {C}×{H}×{W}")
        from .data import glyphs
        return glyphs(1, split="test", start=n)[0]
    if not os.path.isfile(spec):
        raise UsageError(f"--image: no such file {spec!r}")
    from PIL import Image
    try:
        img = Image.open(spec).convert("L" if C == 1 else "RGB")
    except OSError as e:
        raise UsageError(f"--image: cannot read {spec!r} as an image ({e})") from None
    a = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0)
    a = a[None, None] if a.ndim == 2 else a.permute(2, 0, 1)[None]
    m = min(a.shape[-2:])
    top, left = (a.shape[-2] - m) // 2, (a.shape[-1] - m) // 2
    a = a[..., top:top + m, left:left + m]
    a = F.interpolate(a, size=(H, W), mode="bicubic", antialias=True, align_corners=False)
    return a.clamp(0, 1) * 2 - 1


def _cmd_list() -> int:
    from . import SOLVERS, TASKS
    from .diffusion import HUB_PRIORS, PRIORS
    print("tasks:   " + ", ".join(TASKS))
    print("methods: " + ", ".join(sorted(SOLVERS)))
    print("priors:  " + ", ".join(PRIORS) + " (shipped/analytic); hub: " + ", ".join(HUB_PRIORS))
    return 0


def _cmd_solve(args) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import torch

    from . import SOLVERS, TASKS, load_prior, make_problem, metrics
    from .viz import compare, to_numpy_image
    if args.task not in TASKS:
        raise UsageError(f"--task: unknown task {args.task!r}; choose one of {', '.join(TASKS)}")
    if args.method not in SOLVERS:
        raise UsageError(f"--method: unknown method {args.method!r}; choose one of {', '.join(sorted(SOLVERS))}")
    if args.sigma_y < 0:
        raise UsageError(f"--sigma-y: must be >= 0, got {args.sigma_y}")
    fn = SOLVERS[args.method]
    kwargs = {}
    if args.steps is not None:
        if "steps" not in inspect.signature(fn.__wrapped__).parameters:
            raise UsageError(f"--steps: {args.method} has no 'steps' hyperparameter")
        kwargs["steps"] = args.steps
    try:
        prior = load_prior(args.prior)
    except (ValueError, OSError) as e:
        raise UsageError(f"--prior: {str(e).splitlines()[0]}") from None
    x = _load_image(args.image, getattr(prior, "pixel_shape", None) or prior.image_shape)
    try:
        problem = make_problem(args.task, x, sigma_y=args.sigma_y, seed=args.seed)
        result = fn(problem, prior, generator=torch.Generator().manual_seed(args.seed), **kwargs)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e).splitlines()[0]) from None
    est = result.x.clamp(-1, 1)
    import matplotlib.pyplot as plt
    plt.imsave(args.out, to_numpy_image(est[0]), cmap="gray", vmin=0, vmax=1)
    side = os.path.splitext(args.out)[0] + "_compare.png"
    base = {"A⁺y": problem.op.pinv(problem.y)} if hasattr(problem.op, "pinv") else {}
    fig = compare(x, {**base, args.method: est})
    fig.savefig(side, dpi=100)
    p, s = float(metrics.psnr(est, x)), float(metrics.ssim(est, x))
    print(f"{args.method} on {args.task}: PSNR {p:.2f} dB, SSIM {s:.3f}, NFE {result.nfe}, VJP {result.vjp}, "
          f"{result.seconds:.1f} s -> {args.out}, {side}")
    return 0


def _split(name: str, value: str, conv):
    try:
        return [conv(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{name}: expected a comma-separated list, got {value!r}") from None


def _cmd_bench(args) -> int:
    from .bench import run_grid, run_sharded, summarize, write_csv
    if args.n < 1:
        raise UsageError(f"--n: must be >= 1, got {args.n}")
    if args.nproc < 1:
        raise UsageError(f"--nproc: must be >= 1, got {args.nproc}")
    sigmas = _split("--sigma-y", args.sigma_y, float)
    if any(s < 0 for s in sigmas):
        raise UsageError("--sigma-y: noise levels must be >= 0")
    try:
        grid = dict(methods=_split("--methods", args.methods, str), tasks=_split("--tasks", args.tasks, str),
                    sigma_y=sigmas, n=args.n, seeds=_split("--seeds", args.seeds, int), prior=args.prior,
                    use_cache=not args.no_cache)
        rows = run_sharded(args.nproc, **grid) if args.nproc > 1 else run_grid(**grid)
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        raise UsageError(str(e).splitlines()[0]) from None
    write_csv(rows, args.out)
    for r in summarize(rows):
        print(f"{r['method']:<14}{r['task']:<16}σ_y={r['sigma_y']:<6} PSNR {r['psnr']:6.2f}  SSIM {r['ssim']:.3f}  "
              f"acc {r['classifier_acc']:.2f}  NFE {r['nfe']:.0f}  {r['seconds']:.2f} s/image")
    print(f"{len(rows)} rows -> {args.out}")
    return 0


def main(argv=None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)   # argparse itself exits 2 with a usage line on bad syntax
    try:
        if args.command == "list":
            return _cmd_list()
        return _cmd_solve(args) if args.command == "solve" else _cmd_bench(args)
    except UsageError as e:
        print(f"invlab: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
