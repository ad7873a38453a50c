"""Quality of the shipped consistency model ``glyphs32-cm`` against its thresholds (notebook 06).

    python benchmarks/eval_consistency.py [--n 1000] [--out invlab/weights/glyphs32-cm/eval.json]

On ``n`` one-step samples f(80 z, 80) (seed 0): the share the glyph classifier reads with
max-probability ≥ 0.9 (threshold: ≥ 70 %), the class histogram, and the Fréchet distance to test
glyphs; the same for the multistep sampler with two (σ = 80, then 2.0) and three (80, 5.0, 1.0)
passes, and for the parent's DDIM with 3 steps (as many passes: what distillation buys); seconds
per 64 one-step samples. The parent's DDIM-50 figures and the train-subset reference are not
re-measured: they are read from ``invlab/weights/glyphs32/eval.json`` (``benchmarks/eval_prior.py``, same seed).
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import invlab
from invlab import metrics


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cm = invlab.load_prior("glyphs32-cm")
    x_test = invlab.glyphs(args.n, split="test")[0]
    parent = json.loads((invlab.diffusion.weights_dir("glyphs32") / "eval.json").read_text())

    def chunks(fn):
        g = torch.Generator().manual_seed(0)
        return torch.cat([fn(min(250, args.n - i), g) for i in range(0, args.n, 250)])

    rec = {"n": args.n, "step": json.loads((invlab.diffusion.weights_dir("glyphs32-cm") / "consistency.json")
                                           .read_text()).get("step")}
    prior = invlab.load_prior("glyphs32")
    samplers = {"one_step": lambda k, g: cm.sample(k, generator=g),
                "two_step": lambda k, g: cm.sample(k, (80.0, 2.0), generator=g),
                "three_step": lambda k, g: cm.sample(k, (80.0, 5.0, 1.0), generator=g),
                "parent_ddim3": lambda k, g: prior.sample(k, 3, generator=g)}
    for name, fn in samplers.items():
        xs = chunks(fn)
        probs = metrics.classifier_probs(xs)
        hist = torch.bincount(probs.argmax(1), minlength=10) / args.n
        rec[name] = {"confident_share": round(float((probs.max(1).values >= 0.9).double().mean()), 4),
                     "class_share": [round(float(v), 3) for v in hist],
                     "fd_test": round(metrics.frechet_distance(xs, x_test), 3)}
    rec["parent_ddim50"] = {"confident_share": parent["confident_share"], "class_share": parent["class_share"],
                            "fd_test": parent["fd_samples_test"], "n": parent["n"]}
    rec["fd_train_test"] = parent["fd_train_test"]
    t0 = time.perf_counter()
    for i in range(3):
        cm.sample(64, generator=torch.Generator().manual_seed(i))
    rec["one_step_64_seconds"] = round((time.perf_counter() - t0) / 3, 4)
    rec["gate_confident>=0.70"] = rec["one_step"]["confident_share"] >= 0.70
    rec["threads"] = torch.get_num_threads()
    print(json.dumps(rec, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rec, f, indent=1)


if __name__ == "__main__":
    main()
