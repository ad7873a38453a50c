"""HRDIS at 100 steps against RED-diff at 100 and 1000, with their trajectories (notebook 08, sections 4-5).

    python benchmarks/bench_hrdis_steps.py [--threads 1]

The settings of notebook 08's section 5: the first 2 test glyphs (split "test", seed 0), SR×4 with
noiseless data (problem seed 0), HRDIS at 100 steps and RED-diff at 100 and 1000 steps, every other
setting at the solver's defaults, each generator seeded with 0. At every step the callback keeps t,
µ of glyph 0 and its per-pixel RMS residual √(‖y − A µ‖²/m). And section 4's diversity runs: box
inpainting of test glyph 5 repeated 8 times (noiseless, problem seed 0), HRDIS at β = 0.2 and β = 1
(RED-diff's fresh noise) with box inpainting's defaults, the generator seeded with 3. Writes

- ``benchmarks/results/hrdis_steps.csv``: per run and glyph, PSNR and whether the classifier reads
  the right digit, and the run's NFE and seconds;
- ``benchmarks/results/hrdis_steps.safetensors``: per run the estimates (``{run}/x``), t (``/t``)
  and the RMS residual of glyph 0 (``/rms``) at every step, and for RED-diff at 100 steps µ of
  glyph 0 at every step (``/mu``); for the diversity runs ``diversity/{β}/x`` (the 8 estimates) and
  ``diversity/{β}/rms`` (steps × 8: the RMS residual of every sample at every step).
"""
from __future__ import annotations

from pathlib import Path

import torch
from _tables import script_args, write_csv
from safetensors.torch import save_file

import invlab
from invlab import metrics
from invlab.solvers import SOLVERS

RESULTS = Path(__file__).resolve().parent / "results"
N_GLYPHS, SEED = 2, 0
RUNS = {"HRDIS 100": ("hrdis", 100), "RED-diff 100": ("red_diff", 100), "RED-diff 1000": ("red_diff", 1000)}


def main(argv=None):
    script_args(__doc__, argv)
    torch.manual_seed(SEED)
    prior = invlab.load_prior("glyphs32")
    x_true, labels = invlab.glyphs(16, split="test", seed=SEED)
    x_true, labels = x_true[:N_GLYPHS], labels[:N_GLYPHS]
    p = invlab.make_problem("sr4", x_true, sigma_y=0.0, seed=SEED)
    rows, tensors = [], {}
    for name, (solver, steps) in RUNS.items():
        t_, mu_, rms_ = [], [], []

        def keep(i, t, mu, x0):
            t_.append(t)
            mu_.append(mu[0].clone())
            rms_.append(float(metrics.residual(p, mu)[0].sqrt()))

        r = SOLVERS[solver](p, prior, steps=steps, generator=torch.Generator().manual_seed(SEED), callback=keep)
        x_hat = r.x.clamp(-1, 1)
        q, ok = metrics.psnr(x_hat, x_true), metrics.classifier_accuracy(x_hat, labels)
        for i in range(N_GLYPHS):
            rows.append({"run": name, "image": i, "psnr": f"{float(q[i]):.4f}", "correct": int(float(ok[i]) > 0.5),
                         "nfe": r.nfe, "seconds": f"{r.seconds:.2f}"})
        tensors[f"{name}/x"] = r.x.contiguous()
        tensors[f"{name}/t"] = torch.tensor(t_)
        tensors[f"{name}/rms"] = torch.tensor(rms_, dtype=torch.float64)
        if name == "RED-diff 100":
            tensors[f"{name}/mu"] = torch.stack(mu_).contiguous()
        print(f"{name}: {r.seconds:.1f} s", flush=True)
    x16 = invlab.glyphs(16, split="test", seed=SEED)[0]
    p1 = invlab.make_problem("box_inpaint", x16[5:6], sigma_y=0.0, seed=SEED).repeat(8)
    for beta in (0.2, 1.0):
        rms_ = []
        r = SOLVERS["hrdis"](p1, prior, beta=beta, generator=torch.Generator().manual_seed(3),
                             callback=lambda i, t, mu, x0: rms_.append(metrics.residual(p1, mu).sqrt().double()))
        tensors[f"diversity/{beta}/x"] = r.x.contiguous()
        tensors[f"diversity/{beta}/rms"] = torch.stack(rms_).contiguous()
        print(f"diversity β={beta}: {r.seconds:.1f} s", flush=True)
    write_csv(str(RESULTS / "hrdis_steps.csv"), rows)
    save_file(tensors, str(RESULTS / "hrdis_steps.safetensors"))
    print(f"wrote {RESULTS / 'hrdis_steps.csv'} ({len(rows)} rows) and hrdis_steps.safetensors")


if __name__ == "__main__":
    main()
