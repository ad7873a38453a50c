"""Quality of a consistency model for ``glyphs32`` against its gates (notebook 06).

    python benchmarks/eval_consistency.py [--model glyphs32-cm] [--n 1000] [--dcdp-n 32]
                                          [--out invlab/weights/glyphs32-cm/eval.json]

``--model``: the shipped name or a folder (a candidate, e.g. ``build/glyphs32-cm``).
On ``n`` one-step samples f(80 z, 80) (seed 0): the share the glyph classifier reads with
max-probability ≥ 0.9 (gate ≥ 50 %, stretch ≥ 70 %), the class histogram, and the Fréchet
distance to test glyphs in the classifier's features (gate ≤ 10); the same for the multistep
sampler with two (σ = 80, then 2.0) and three (80, 5.0, 1.0) passes, and for the parent's DDIM
with 3 steps (as many passes: what distillation buys); seconds per 64 one-step samples. The
parent's DDIM-50 figures and the train-subset reference are not re-measured: they are read from
``invlab/weights/glyphs32/eval.json`` (``benchmarks/eval_prior.py``, same seed).

DCDP gate (``--dcdp-n`` test glyphs, seed 0, σ_y = 0, the settings of
``benchmarks/bench_purification.py``): DCDP with this model as purifier against DCDP-V1 (DDIM
purifier) on SR×4 and Gaussian blur — the paired PSNR difference with its 95 % bootstrap interval
(gate: the interval's lower end ≥ −1 dB) and the network passes (gate: ≤ 1/10 of V1's).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from bench_purification import SETTINGS

import invlab
from invlab import metrics
from invlab.stats import paired_difference


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="glyphs32-cm", help="a shipped name or a model folder")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--dcdp-n", type=int, default=32, help="test glyphs for the DCDP gate (0: skip it)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in ("n", "dcdp_n"):
        if getattr(args, name) < (1 if name == "n" else 0):
            ap.error(f"--{name.replace('_', '-')}: must be ≥ {1 if name == 'n' else 0}, got {getattr(args, name)}")
    cm = invlab.load_prior(args.model)
    if not isinstance(cm, invlab.diffusion.ConsistencyModel):
        ap.error(f"--model: {args.model} is not a consistency model")
    folder = Path(args.model) if Path(args.model).is_dir() else invlab.diffusion.weights_dir(args.model)
    x_test = invlab.glyphs(args.n, split="test")[0]
    parent = json.loads((invlab.diffusion.weights_dir("glyphs32") / "eval.json").read_text())

    def chunks(fn):
        g = torch.Generator().manual_seed(0)
        return torch.cat([fn(min(250, args.n - i), g) for i in range(0, args.n, 250)])

    cfg = json.loads((folder / "consistency.json").read_text())
    rec = {"model": str(args.model), "method": cfg.get("method", "consistency distillation"),
           "n": args.n, "step": cfg.get("step")}
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
    rec["gate_confident>=0.50"] = rec["one_step"]["confident_share"] >= 0.50
    rec["gate_confident>=0.70"] = rec["one_step"]["confident_share"] >= 0.70
    rec["gate_fd<=10"] = rec["one_step"]["fd_test"] <= 10
    if args.dcdp_n:
        rec["dcdp"] = dcdp_gate(prior, cm, args.dcdp_n)
    rec["threads"] = torch.get_num_threads()
    print(json.dumps(rec, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rec, f, indent=1)


def dcdp_gate(prior, cm, n: int) -> dict:
    """DCDP with ``cm`` as purifier against DCDP-V1 on SR×4 and Gaussian blur (module docstring)."""
    x, _ = invlab.glyphs(n, split="test", seed=0)
    out = {"n": n}
    for task in ("sr4", "gaussian_blur"):
        prob = invlab.make_problem(task, x, sigma_y=0.0, seed=0)
        runs = {}
        for pur in ("ddim", "consistency"):
            extra = {"consistency_model": cm} if pur == "consistency" else {}
            runs[pur] = invlab.SOLVERS["dcdp"](prob, prior, purifier=pur, generator=torch.Generator().manual_seed(0),
                                               **SETTINGS[task], **extra)
        psnr = {k: metrics.psnr(r.x, x) for k, r in runs.items()}
        d = paired_difference(psnr["consistency"], psnr["ddim"])
        nfe_v1, nfe_cm = runs["ddim"].nfe, runs["consistency"].nfe
        out[task] = {"psnr_v1": round(float(psnr["ddim"].mean()), 3),
                     "psnr_cm": round(float(psnr["consistency"].mean()), 3),
                     "difference": round(d.mean, 3), "ci95": [round(d.low, 3), round(d.high, 3)],
                     "nfe_v1": nfe_v1, "nfe_cm": nfe_cm,
                     "gate_within_1dB": d.low >= -1.0, "gate_nfe<=v1/10": nfe_cm * 10 <= nfe_v1}
    return out


if __name__ == "__main__":
    main()
