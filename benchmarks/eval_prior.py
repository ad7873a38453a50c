"""Quality thresholds and speed of the shipped glyphs32 prior (notebook 02).

    python benchmarks/eval_prior.py [--n 1000] [--steps 50]

Measures, on DDIM-``steps`` samples (η = 0, seed 0):
- share of samples the classifier reads with max-probability ≥ 0.9 (threshold: ≥ 85 %);
- class histogram (threshold: every digit between 5 % and 15 %);
- Fréchet distance (classifier features) samples↔test vs a train subset of the same size↔test
  (threshold: ratio ≤ 3);
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
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    x_test = invlab.glyphs(args.n, split="test")[0]
    x_train = invlab.glyphs(args.n, split="train", seed=7)[0]
    fd_train = metrics.frechet_distance(x_train, x_test)

    def draw(p, chunk):
        """``args.n`` DDIM samples of prior ``p`` from one seeded generator, ``chunk`` at a time."""
        g = torch.Generator().manual_seed(0)
        return torch.cat([p.sample(min(chunk, args.n - i), args.steps, generator=g) for i in range(0, args.n, chunk)])

    def quality(xs):
        """Confident share, class shares and Fréchet distance to the test glyphs, and the gates."""
        probs = metrics.classifier_probs(xs)
        q = {"confident": float((probs.max(1).values >= 0.9).double().mean()),
             "hist": torch.bincount(probs.argmax(1), minlength=10).double() / len(xs),
             "fd": metrics.frechet_distance(xs, x_test)}
        q["gates"] = (q["confident"] >= 0.85, bool(((q["hist"] >= 0.05) & (q["hist"] <= 0.15)).all()),
                      q["fd"] <= 3 * fd_train)
        return q

    def ddim50_seconds(p):
        out = []
        for i in range(3):
            t0 = time.perf_counter()
            p.sample(64, 50, generator=torch.Generator().manual_seed(i))
            out.append(time.perf_counter() - t0)
        return out

    prior = invlab.load_prior("glyphs32")
    t0 = time.perf_counter()
    xs = draw(prior, 250)
    sample_s = time.perf_counter() - t0
    q = quality(xs)
    times = ddim50_seconds(prior)
    # the same sampler with the network in bfloat16 (state and schedule stay float32)
    bf16 = invlab.load_prior("glyphs32", dtype=torch.bfloat16)
    times_bf16 = ddim50_seconds(bf16)
    xs_bf16 = bf16.sample(256, args.steps, generator=torch.Generator().manual_seed(0))
    conf_bf16 = float((metrics.classifier_probs(xs_bf16).max(1).values >= 0.9).double().mean())
    # compiled: the first call compiles (for this batch size), so it is timed apart; batches of 64
    # keep to the compiled shape
    fast = invlab.load_prior("glyphs32", dtype=torch.bfloat16).compile()
    t0 = time.perf_counter()
    fast.sample(64, 50, generator=torch.Generator().manual_seed(99))
    compile_s = time.perf_counter() - t0
    times_fast = ddim50_seconds(fast)
    q_fast = quality(draw(fast, 64))
    rec = {
        "n": args.n, "steps": args.steps, "confident_share": round(q["confident"], 4),
        "class_share": [round(float(v), 4) for v in q["hist"]],
        "fd_samples_test": round(q["fd"], 3), "fd_train_test": round(fd_train, 3),
        "fd_ratio": round(q["fd"] / fd_train, 3),
        "ddim50_64_seconds_median": round(statistics.median(times), 3),
        "ddim50_64_seconds_median_bf16": round(statistics.median(times_bf16), 3),
        "confident_share_bf16_256": round(conf_bf16, 4),
        "compiled_bf16": {
            "compile_seconds_first_call": round(compile_s, 1),
            "ddim50_64_seconds_median": round(statistics.median(times_fast), 3),
            "confident_share": round(q_fast["confident"], 4),
            "class_share": [round(float(v), 4) for v in q_fast["hist"]],
            "fd_ratio": round(q_fast["fd"] / fd_train, 3),
        },
        "sampling_seconds_total": round(sample_s, 1),
        "gates": {"confident>=0.85": q["gates"][0],
                  "classes_5_15pct": q["gates"][1],
                  "fd_ratio<=3": q["gates"][2],
                  "ddim50_64<=5s": statistics.median(times) <= 5.0,
                  "ddim50_64<=5s_compiled_bf16": statistics.median(times_fast) <= 5.0,
                  "compiled_bf16_quality_gates": all(q_fast["gates"])},
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(rec, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rec, f, indent=1)


if __name__ == "__main__":
    main()
