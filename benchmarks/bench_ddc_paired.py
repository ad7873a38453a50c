"""DDC against DPS and DDNM+, glyph by glyph over several seeds (notebook 07's paired claims).

    python benchmarks/bench_ddc_paired.py [--threads 1] [--paper-dps]

32 test glyphs (split "test", seed 0, in two batches of 16: glyphs 0-15 are notebook 07's), σ_y = 0.05,
SR×4, Gaussian blur and 92 % random inpainting (problem seed 0, the same noise for every method), and
three solver seeds (0, 1, 2) for every method:

- ``ddc-N``: the shipped generalised network ``glyphs32-ddc`` at N = 1, 2, 3, 4, 5, 6, 8, 10 steps
  (the paper's 5 included); ``ddc-5-sr4``: the specialised SR×4 network ``glyphs32-ddc-sr4``;
- ``dps-100``: DPS at 100 steps with ζ tuned per task on 16 other test glyphs (split "test", seed 1;
  ζ from 0.375 to 12 in factors of 2, seed 0) — DPS at its best on these tasks;
- with ``--paper-dps`` also ``dps-1000``, DPS at the paper's setting (1000 DDPM steps, its ζ): 18 runs
  of 16 glyphs × 1000 steps with a backward pass each, some hours on a CPU, run after everything else;
- ``ddnm-100``: DDNM+ at its defaults; ``pseudo_inverse``: A⁺y (seed 0 only: it is deterministic).

Writes ``benchmarks/results/ddc_paired.csv`` (one row per task, method, glyph and seed: PSNR, SSIM,
whether the classifier reads the right digit, and the run's NFE, VJP and seconds for its batch of 16)
and ``ddc_paired_tuning.csv`` (the ζ sweep). The CSV is rewritten after every run and a re-started
run skips what it holds, so an interrupted run resumes.
"""
from __future__ import annotations

import csv
from pathlib import Path

import torch
from _tables import script_args, write_csv

import invlab
from invlab import metrics
from invlab.ddc import GENERAL_TASKS, load_ddc
from invlab.solvers import SOLVERS

RESULTS = Path(__file__).resolve().parent / "results"
OUT, TUNING = RESULTS / "ddc_paired.csv", RESULTS / "ddc_paired_tuning.csv"
TASKS, SIGMA_Y, SEEDS, BATCHES = ("sr4", "gaussian_blur", "random_inpaint"), 0.05, (0, 1, 2), (0, 16)
DDC_STEPS, ZETAS, BATCH = (1, 2, 3, 4, 5, 6, 8, 10), (0.375, 0.75, 1.5, 3.0, 6.0, 12.0), 16


def problem(task, x):
    return invlab.make_problem(task, x, sigma_y=SIGMA_Y, seed=0, **GENERAL_TASKS[task])


def mean_psnr(r, p):
    return float(metrics.psnr(r.x.clamp(-1, 1), p.x).mean())


def tune_dps(prior) -> dict[str, float]:
    """ζ for DPS-100 per task: the best mean PSNR on 16 held-out test glyphs."""
    x_val, _ = invlab.glyphs(BATCH, split="test", seed=1)
    rows = []
    for task in TASKS:
        p = problem(task, x_val)
        for zeta in ZETAS:
            r = SOLVERS["dps"](p, prior, steps=100, zeta=zeta, generator=torch.Generator().manual_seed(0))
            rows.append({"task": task, "zeta": zeta, "psnr": f"{mean_psnr(r, p):.4f}"})
            print(f"tune {task} ζ={zeta}: {rows[-1]['psnr']} dB", flush=True)
    write_csv(str(TUNING), rows)
    return {t: float(max((r for r in rows if r["task"] == t), key=lambda r: float(r["psnr"]))["zeta"]) for t in TASKS}


def main(argv=None):
    args = script_args(__doc__, argv, lambda ap: ap.add_argument("--paper-dps", action="store_true",
                                                                 help="also DPS-1000 (hours on a CPU)"))
    prior = invlab.load_prior("glyphs32")
    general, special = load_ddc("glyphs32-ddc"), load_ddc("glyphs32-ddc-sr4")
    rows = list(csv.DictReader(OUT.open())) if OUT.exists() else []
    done = {(r["task"], r["method"], int(r["image"]) // BATCH * BATCH, int(r["seed"])) for r in rows}
    if TUNING.exists():
        tuned = {}
        for r in csv.DictReader(TUNING.open()):
            if r["task"] not in tuned or float(r["psnr"]) > tuned[r["task"]][1]:
                tuned[r["task"]] = (float(r["zeta"]), float(r["psnr"]))
        zeta = {t: z for t, (z, _) in tuned.items()}
    else:
        zeta = tune_dps(prior)
    print("DPS-100 ζ:", zeta, flush=True)

    def methods(task):
        m = {f"ddc-{n}": dict(solver="ddc", network=general, steps=n) for n in DDC_STEPS}
        if task in special.tasks:
            m["ddc-5-sr4"] = dict(solver="ddc", network=special)
        m["ddnm-100"] = dict(solver="ddnm")
        m["dps-100"] = dict(solver="dps", steps=100, zeta=zeta[task])
        if args.paper_dps:
            m["dps-1000"] = dict(solver="dps", steps=1000)
        return m

    for slow in (False, True):              # every quick method first, then DPS-1000 (most of the hours)
        for start in BATCHES:
            x, labels = invlab.glyphs(BATCH, split="test", seed=0, start=start)
            for task in TASKS:
                p = problem(task, x)
                for name, kw in {"pseudo_inverse": dict(solver="pseudo_inverse"), **methods(task)}.items():
                    for seed in SEEDS[:1] if name == "pseudo_inverse" else SEEDS:
                        if (task, name, start, seed) in done or (name == "dps-1000") != slow:
                            continue
                        settings = {k: v for k, v in kw.items() if k != "solver"}
                        r = SOLVERS[kw["solver"]](p, prior, generator=torch.Generator().manual_seed(seed), **settings)
                        x_hat = r.x.clamp(-1, 1)
                        q, s = metrics.psnr(x_hat, x), metrics.ssim(x_hat, x)
                        ok = metrics.classifier_accuracy(x_hat, labels)
                        rows += [{"task": task, "method": name, "image": start + i, "seed": seed,
                                  "psnr": f"{float(q[i]):.4f}", "ssim": f"{float(s[i]):.4f}",
                                  "correct": int(float(ok[i]) > 0.5), "nfe": r.nfe, "vjp": r.vjp,
                                  "seconds": f"{r.seconds:.2f}"} for i in range(BATCH)]
                        write_csv(str(OUT), rows)
                        print(f"glyphs {start}-{start + BATCH - 1} {task} {name} seed {seed}: "
                              f"{float(q.mean()):.2f} dB, {r.seconds:.1f} s", flush=True)
    print(f"wrote {OUT} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
