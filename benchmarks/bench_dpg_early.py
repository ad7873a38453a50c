"""DPS against DPG along the trajectory on glyphs (notebook 04, sections 4 and 6).

    python benchmarks/bench_dpg_early.py [--threads 1]

The settings of notebook 04's section 4: 16 test glyphs (split "test", seed 0), σ_y = 0.05, SR×4 and
motion blur (problem seed 0), 100 DDPM steps for both solvers, DPS at ζ = 6 and DPG at step scale
s = 20, each solver's generator seeded with 0, all 16 glyphs in one batch; DPG alone, with the same
settings, on box inpainting; and JPEG (quality 10) on the first 8 glyphs: DPG (s = 20) on the real
JPEG and DPS (ζ = 2) on the straight-through JPEG, 100 steps each. Writes

- ``benchmarks/results/dpg_early_curves.csv``: per task, solver and step, the timestep and the mean
  over the glyphs of ‖y − A x̂₀‖ (the solver's ``info["residual_norm"]``);
- ``benchmarks/results/dpg_early_glyphs.csv``: per task, solver (and the pseudo-inverse) and glyph,
  PSNR, SSIM, whether the classifier reads the right digit, and the run's NFE, VJP and seconds;
- ``benchmarks/results/dpg_early_jpeg.safetensors``: the JPEG runs' estimates (``jpeg10/dpg``,
  ``jpeg10/dps_st``).
"""
from __future__ import annotations

from pathlib import Path

import torch
from _tables import script_args, write_csv

import invlab
from safetensors.torch import save_file

from invlab import metrics
from invlab.solvers import SOLVERS

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = ("sr4", "motion_blur")
SOLVER_SETTINGS = {"dps": dict(zeta=6.0), "dpg": dict(scale=20.0)}
N_GLYPHS, SIGMA_Y, STEPS, SEED = 16, 0.05, 100, 0


def main(argv=None):
    script_args(__doc__, argv)
    torch.manual_seed(SEED)
    prior = invlab.load_prior("glyphs32")
    x_true, labels = invlab.glyphs(N_GLYPHS, split="test", seed=SEED)
    curves, glyphs, images = [], [], {}

    def per_glyph(task, name, p, r):
        x_hat = r.x.clamp(-1, 1)
        q, s = metrics.psnr(x_hat, p.x), metrics.ssim(x_hat, p.x)
        ok = metrics.classifier_accuracy(x_hat, labels[:len(x_hat)])
        for i in range(len(x_hat)):
            glyphs.append({"task": task, "method": name, "image": i, "psnr": f"{float(q[i]):.4f}",
                           "ssim": f"{float(s[i]):.4f}", "correct": int(float(ok[i]) > 0.5), "nfe": r.nfe,
                           "vjp": r.vjp, "seconds": f"{r.seconds:.2f}"})

    def run(task, name, p, solver, **kw):
        r = SOLVERS[solver](p, prior, steps=STEPS, generator=torch.Generator().manual_seed(SEED), **kw)
        for i, (t, v) in enumerate(zip(r.info["grid"], r.info["residual_norm"].mean(1))):
            curves.append({"task": task, "method": name, "step": i, "t": int(t), "residual_mean": f"{float(v):.6f}"})
        per_glyph(task, name, p, r)
        print(f"{task} {name}: {r.seconds:.1f} s", flush=True)
        return r

    for task in (*TASKS, "box_inpaint"):
        p = invlab.make_problem(task, x_true, sigma_y=SIGMA_Y, seed=SEED)
        for name, kw in SOLVER_SETTINGS.items():
            if task != "box_inpaint" or name == "dpg":
                run(task, name, p, name, **kw)
        per_glyph(task, "pseudo_inverse", p, SOLVERS["pseudo_inverse"](p, prior))
    pj = invlab.make_problem("jpeg10", x_true[:8], sigma_y=SIGMA_Y, seed=SEED)
    pj_st = invlab.make_problem("jpeg10", x_true[:8], sigma_y=SIGMA_Y, seed=SEED, straight_through=True)
    images["jpeg10/dpg"] = run("jpeg10", "dpg", pj, "dpg", scale=20.0).x.contiguous()
    images["jpeg10/dps_st"] = run("jpeg10", "dps_st", pj_st, "dps", zeta=2.0).x.contiguous()
    save_file(images, str(RESULTS / "dpg_early_jpeg.safetensors"))
    for name, rows in (("dpg_early_curves", curves), ("dpg_early_glyphs", glyphs)):
        write_csv(str(RESULTS / f"{name}.csv"), rows)
        print(f"wrote {RESULTS / name}.csv ({len(rows)} rows)")


if __name__ == "__main__":
    main()
