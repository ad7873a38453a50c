"""HRDIS against RED-diff over many glyphs and seeds: the steps claim, and equal steps on three tasks.

    python benchmarks/bench_hrdis_efficiency.py [--threads 1] [--n 32] [--seeds 3] [--part steps|equal|diversity|all]

The HRDIS paper (Dou et al., ICLR 2025) claims that HRDIS at 100 steps matches RED-diff at 1000.
Notebook 08's section 5 follows the three runs step by step on 2 glyphs (``bench_hrdis_steps.py``);
this script measures the claim as a distribution: the first ``n`` glyphs of the test split's first
stream (``invlab.glyphs(n, split="test", seed=0)``, the notebook's glyphs; the defaults are tuned on
the second stream), SR×4 with noiseless data (problem seed 0, as the notebook), ``seeds`` generator
seeds, every other setting at the solver's defaults. Writes ``benchmarks/results/hrdis_efficiency.csv``:
one row per run, seed and glyph (PSNR, the run's NFE and seconds), and prints the paired differences
(``invlab.stats.paired_difference`` over [seeds, images]).

``--part equal``: the paper's other claim, HRDIS beats RED-diff at equal steps while losing at most
1 dB of PSNR, on the three tasks of notebook 08's β sweep (box and free-form inpainting, SR×4), same
glyphs, noiseless data, problem seed 0: HRDIS at β = 0.2 against β = 1 (RED-diff's fresh noise),
each at the task's default steps and learning rate. Writes ``benchmarks/results/hrdis_equal_steps.csv``
(one row per task, β, seed and glyph: PSNR, whether the classifier reads the right digit, NFE).

``--part diversity``: the diversity claim (RED-diff returns nearly the same image whatever the seed,
HRDIS keeps some diversity) over glyphs instead of one: box inpainting of each of the first 16 test
glyphs, noiseless, repeated 8 times in one call (generator seed 3, as notebook 08's one-glyph run),
HRDIS at β = 0.2 and β = 1 with box inpainting's defaults. Writes
``benchmarks/results/hrdis_diversity.csv``: per β and glyph the pixel-wise standard deviation over
the 8 samples, averaged over the pixels.
"""
from __future__ import annotations

from pathlib import Path

import torch
from _tables import check_seeds_and_glyphs, script_args, seeded_psnr, seeds_and_glyphs, write_csv

import invlab
from invlab import metrics, stats

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = {"HRDIS 100": ("hrdis", 100), "RED-diff 100": ("red_diff", 100), "RED-diff 1000": ("red_diff", 1000)}
EQUAL_TASKS, EQUAL_BETAS = ("box_inpaint", "freeform_inpaint", "sr4"), (0.2, 1.0)


def flags(ap):
    seeds_and_glyphs(ap, "test glyphs")
    ap.add_argument("--part", choices=("steps", "equal", "diversity", "all"), default="all",
                    help="which part (default all)")


def main(argv=None):
    args = script_args(__doc__, argv, flags)
    check_seeds_and_glyphs(args)
    prior = invlab.load_prior("glyphs32")
    x, labels = invlab.glyphs(args.n, split="test", seed=0)
    if args.part in ("steps", "all"):
        steps_part(prior, x, args.seeds)
    if args.part in ("equal", "all"):
        equal_part(prior, x, labels, args.seeds)
    if args.part in ("diversity", "all"):
        diversity_part(prior)


def diversity_part(prior, n=16, samples=8):
    x = invlab.glyphs(n, split="test", seed=0)[0]
    rows, std = [], {}
    for beta in EQUAL_BETAS:
        per_glyph = []
        for i in range(n):
            p = invlab.make_problem("box_inpaint", x[i:i + 1], sigma_y=0.0, seed=0).repeat(samples)
            r = invlab.solvers.hrdis(p, prior, beta=beta, generator=torch.Generator().manual_seed(3))
            per_glyph.append(float(r.x.std(0).mean()))
            rows.append({"beta": beta, "image": i, "samples": samples, "std": f"{per_glyph[-1]:.5f}"})
        std[beta] = torch.tensor(per_glyph)
        write_csv(str(RESULTS / "hrdis_diversity.csv"), rows)
    print(stats.paired_difference(std[0.2], std[1.0]).verdict("HRDIS (β = 0.2)", "RED-diff (β = 1)", unit="", digits=4))
    print(f"wrote {RESULTS / 'hrdis_diversity.csv'} ({len(rows)} rows)")


def equal_part(prior, x, labels, seeds):
    rows = []
    for task in EQUAL_TASKS:
        p = invlab.make_problem(task, x, sigma_y=0.0, seed=0)
        psnr = {}
        for beta in EQUAL_BETAS:
            per_seed = []
            for seed in range(seeds):
                r = invlab.solvers.hrdis(p, prior, beta=beta, generator=torch.Generator().manual_seed(seed))
                q, ok = metrics.psnr(r.x, x), metrics.classifier_accuracy(r.x.clamp(-1, 1), labels)
                per_seed.append(q)
                rows += [{"task": task, "beta": beta, "seed": seed, "image": i, "psnr": f"{float(v):.4f}",
                          "correct": int(float(c) > 0.5), "nfe": r.nfe} for i, (v, c) in enumerate(zip(q, ok))]
            psnr[beta] = torch.stack(per_seed)
            write_csv(str(RESULTS / "hrdis_equal_steps.csv"), rows)
        print(f"{task}: {stats.paired_difference(psnr[0.2], psnr[1.0]).verdict('HRDIS (β = 0.2)', 'RED-diff (β = 1)')}",
              flush=True)
    print(f"wrote {RESULTS / 'hrdis_equal_steps.csv'} ({len(rows)} rows)")


def steps_part(prior, x, seeds):
    p = invlab.make_problem("sr4", x, sigma_y=0.0, seed=0)
    rows, psnr = [], {}
    for name, (solver, steps) in RUNS.items():
        psnr[name], new, r = seeded_psnr(lambda g: invlab.SOLVERS[solver](p, prior, steps=steps, generator=g), x,
                                         seeds, {"run": name})
        rows += new
        print(f"{name:14s} {float(psnr[name].mean()):6.2f} dB  ({r.seconds:.0f} s a run)", flush=True)
        write_csv(str(RESULTS / "hrdis_efficiency.csv"), rows)    # after every run: an interrupted run keeps its rows
    for a, b in (("HRDIS 100", "RED-diff 100"), ("RED-diff 1000", "HRDIS 100")):
        print(stats.paired_difference(psnr[a], psnr[b]).verdict(a, b))
    print(f"wrote {RESULTS / 'hrdis_efficiency.csv'} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
