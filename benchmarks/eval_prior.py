"""Quality gates and speed of the shipped glyphs32 prior (issue: diffusion core).

    python benchmarks/eval_prior.py [--n 1000] [--steps 50]

Measures, on DDIM-``steps`` samples (η = 0, seed 0):
- share of samples the classifier reads with max-probability ≥ 0.9 (gate: ≥ 85 %);
- class histogram (gate: every digit between 5 % and 15 %);
- Fréchet distance (classifier features) samples↔test vs a train subset of the same size↔test
  (gate: ratio ≤ 3);
- wall time of DDIM-50 for 64 glyphs (target ≤ 5 s on 2 CPU cores), median of 3, with the network
  in float32 (default) and in bfloat16 (``load_prior("glyphs32", dtype=torch.bfloat16)``), plus
  the confident share of 256 bf16 samples to show the precision costs nothing;
- the same in bfloat16 with the network compiled (``prior.compile()``: torch.compile with frozen
  weights, used for gradient-free passes), its one-off compilation time reported apart, and the
  classifier gates re-measured on its own ``--n`` samples.
Prints a JSON record (also written to ``--out`` if given).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import invlab
from invlab import metrics


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    prior = invlab.load_prior("glyphs32")
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    xs = torch.cat([prior.sample(min(250, args.n - i), args.steps, generator=g) for i in range(0, args.n, 250)])
    sample_s = time.perf_counter() - t0
    probs = metrics.classifier_probs(xs)
    confident = float((probs.max(1).values >= 0.9).double().mean())
    hist = torch.bincount(probs.argmax(1), minlength=10).double() / args.n
    x_test = invlab.glyphs(args.n, split="test")[0]
    x_train = invlab.glyphs(args.n, split="train", seed=7)[0]
    fd_samples = metrics.frechet_distance(xs, x_test)
    fd_train = metrics.frechet_distance(x_train, x_test)
    def ddim50_seconds(p):
        out = []
        for i in range(3):
            t0 = time.perf_counter()
            p.sample(64, 50, generator=torch.Generator().manual_seed(i))
            out.append(time.perf_counter() - t0)
        return out

    times = ddim50_seconds(prior)
    # the same sampler with the network in bfloat16 (state and schedule stay float32)
    bf16 = invlab.load_prior("glyphs32", dtype=torch.bfloat16)
    times_bf16 = ddim50_seconds(bf16)
    xs_bf16 = bf16.sample(256, args.steps, generator=torch.Generator().manual_seed(0))
    conf_bf16 = float((metrics.classifier_probs(xs_bf16).max(1).values >= 0.9).double().mean())
    # compiled: the first call compiles (for this batch size), so it is timed apart
    fast = invlab.load_prior("glyphs32", dtype=torch.bfloat16).compile()
    t0 = time.perf_counter()
    fast.sample(64, 50, generator=torch.Generator().manual_seed(99))
    compile_s = time.perf_counter() - t0
    times_fast = ddim50_seconds(fast)
    g = torch.Generator().manual_seed(0)
    xs_fast = torch.cat([fast.sample(min(64, args.n - i), args.steps, generator=g) for i in range(0, args.n, 64)])
    probs_fast = metrics.classifier_probs(xs_fast)
    conf_fast = float((probs_fast.max(1).values >= 0.9).double().mean())
    hist_fast = torch.bincount(probs_fast.argmax(1), minlength=10).double() / args.n
    fd_fast = metrics.frechet_distance(xs_fast, x_test)
    rec = {
        "n": args.n, "steps": args.steps, "confident_share": round(confident, 4),
        "class_share": [round(float(v), 4) for v in hist],
        "fd_samples_test": round(fd_samples, 3), "fd_train_test": round(fd_train, 3),
        "fd_ratio": round(fd_samples / fd_train, 3),
        "ddim50_64_seconds_median": round(statistics.median(times), 3),
        "ddim50_64_seconds_median_bf16": round(statistics.median(times_bf16), 3),
        "confident_share_bf16_256": round(conf_bf16, 4),
        "compiled_bf16": {
            "compile_seconds_first_call": round(compile_s, 1),
            "ddim50_64_seconds_median": round(statistics.median(times_fast), 3),
            "confident_share": round(conf_fast, 4),
            "class_share": [round(float(v), 4) for v in hist_fast],
            "fd_ratio": round(fd_fast / fd_train, 3),
        },
        "sampling_seconds_total": round(sample_s, 1),
        "gates": {"confident>=0.85": confident >= 0.85,
                  "classes_5_15pct": bool(((hist >= 0.05) & (hist <= 0.15)).all()),
                  "fd_ratio<=3": fd_samples <= 3 * fd_train,
                  "ddim50_64<=5s": statistics.median(times) <= 5.0,
                  "ddim50_64<=5s_compiled_bf16": statistics.median(times_fast) <= 5.0,
                  "compiled_bf16_quality_gates": conf_fast >= 0.85 and fd_fast <= 3 * fd_train
                  and bool(((hist_fast >= 0.05) & (hist_fast <= 0.15)).all())},
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(rec, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rec, f, indent=1)


if __name__ == "__main__":
    main()
