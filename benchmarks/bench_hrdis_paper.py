"""HRDIS's two settings for special cases, tested on held-out glyphs before they become defaults.

    python benchmarks/bench_hrdis_paper.py [--threads 1] [--n 32] [--seeds 3]

The HRDIS paper (Dou et al., ICLR 2025) runs two settings beside its Table 5:

- **phase retrieval's warm start** (App. B.1): the first 250 of 500 steps take fresh noise (β = 1,
  RED-diff's rule), the rest the hybrid rule — ``warm_start=0.5`` against ``0`` (the hybrid rule from
  the second step), and RED-diff (fresh noise throughout) beside them; every run starts from the
  authors' |F⁻¹ y|;
- **noisy data** (App. C.2): λ1 = 0.1 and ω_t clipped below at 2λ2 (``weighting="clip"``) against
  the noiseless setting (λ1 = 1, ``weighting="linear"``), on SR×4, Gaussian blur and box inpainting.

Every arm runs on the same ``n`` glyphs of the test split's second stream (``invlab.glyphs(n,
split="test", seed=1)``, the images the defaults are tuned on, never the benchmark grid's) with
σ_y = 0.05 (problem seed 1) and ``seeds`` generator seeds, every other setting at the solver's
defaults. Writes ``benchmarks/results/hrdis_paper.csv``: one row per arm, task, seed and glyph (PSNR,
the arm's NFE and seconds). The paired differences are printed (``invlab.stats.paired_difference``
over [seeds, images]).
"""
from __future__ import annotations

from pathlib import Path

from _tables import check_seeds_and_glyphs, script_args, seeded_psnr, seeds_and_glyphs, write_csv

import invlab
from invlab import stats

RESULTS = Path(__file__).resolve().parent / "results"
SIGMA_Y = 0.05
NOISY = {"lambda1": 0.1, "weighting": "clip", "clip_min": 2.0}
NOISELESS = {"lambda1": 1.0, "weighting": "linear"}
# (task, arm) -> (solver, settings); the first arm of each task is the one the others are compared with
ARMS = {
    ("phase_retrieval", "hrdis, warm start 0.5"): ("hrdis", {"warm_start": 0.5}),
    ("phase_retrieval", "hrdis, no warm start"): ("hrdis", {"warm_start": 0.0}),
    ("phase_retrieval", "red_diff"): ("red_diff", {}),
    **{(task, arm): ("hrdis", kw) for task in ("sr4", "gaussian_blur", "box_inpaint")
       for arm, kw in (("hrdis, noiseless setting", NOISELESS), ("hrdis, noisy-data setting", NOISY))},
}


def main(argv=None):
    args = script_args(__doc__, argv, lambda ap: seeds_and_glyphs(ap, "held-out glyphs"))
    check_seeds_and_glyphs(args)
    prior = invlab.load_prior("glyphs32")
    x, _ = invlab.glyphs(args.n, split="test", seed=1)
    rows, psnr = [], {}
    for (task, arm), (solver, kw) in ARMS.items():
        p = invlab.make_problem(task, x, sigma_y=SIGMA_Y, seed=1)
        psnr[task, arm], new, r = seeded_psnr(lambda g: invlab.SOLVERS[solver](p, prior, **kw, generator=g), x,
                                              args.seeds, {"task": task, "arm": arm})
        rows += new
        print(f"{task:16s} {arm:28s} {float(psnr[task, arm].mean()):6.2f} dB  ({r.seconds:.0f} s a run)", flush=True)
        write_csv(str(RESULTS / "hrdis_paper.csv"), rows)       # after every arm: an interrupted run keeps its rows
    for task in dict.fromkeys(t for t, _ in ARMS):
        arms = [a for t, a in ARMS if t == task]
        for other in arms[1:]:
            d = stats.paired_difference(psnr[task, other], psnr[task, arms[0]])
            print(f"{task}: {d.verdict(other, arms[0])}")
    print(f"wrote {RESULTS / 'hrdis_paper.csv'} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
