"""DPS, ΠGDM, DDRM and DDNM on glyphs, with their trajectories (notebook 03, section 5).

    python benchmarks/bench_posterior_glyphs.py [--threads 1]

The settings of notebook 03's section 5: 16 test glyphs (split "test", seed 0), σ_y = 0.05, SR×4
and box inpainting (problem seed 0); DPS at 100 DDPM steps with ζ = 6 (SR×4) and ζ = 2 (box), ΠGDM,
DDRM and DDNM at their defaults; every solver's generator seeded with 0, all 16 glyphs in one
batch. At every step the solver's callback sees x̂₀: the run keeps t, x̂₀ of glyph 1 and
‖y − A x̂₀‖ of every glyph. Writes

- ``benchmarks/results/posterior_glyphs.csv``: per task, solver (and the pseudo-inverse) and glyph,
  PSNR, SSIM, whether the classifier reads the right digit, and the run's NFE, VJP and seconds;
- ``benchmarks/results/posterior_glyphs.safetensors``: per task and solver the 16 estimates
  (``{task}/{solver}/x``), the trajectory's t (``/t``) and ‖y − A x̂₀‖ (``/residual``: steps × 16), and
  for SR×4 x̂₀ of glyph 1 (``/x0_glyph1`` at the steps ``/x0_steps``: all for DDRM and DDNM, every tenth
  and the last for DPS and ΠGDM).
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
N_GLYPHS, SIGMA_Y, STEPS, SEED = 16, 0.05, 100, 0
SETTINGS = {"sr4": {"dps": dict(steps=STEPS, zeta=6.0), "pigdm": {}, "ddrm": {}, "ddnm": {}},
            "box_inpaint": {"dps": dict(steps=STEPS, zeta=2.0), "pigdm": {}, "ddrm": {}, "ddnm": {}}}


def main(argv=None):
    script_args(__doc__, argv)
    torch.manual_seed(SEED)
    prior = invlab.load_prior("glyphs32")
    x_true, labels = invlab.glyphs(N_GLYPHS, split="test", seed=SEED)
    rows, tensors = [], {}

    def record(task, name, r):
        x_hat = r.x.clamp(-1, 1)
        q, s = metrics.psnr(x_hat, x_true), metrics.ssim(x_hat, x_true)
        ok = metrics.classifier_accuracy(x_hat, labels)
        for i in range(N_GLYPHS):
            rows.append({"task": task, "method": name, "image": i, "psnr": f"{float(q[i]):.4f}",
                         "ssim": f"{float(s[i]):.4f}", "correct": int(float(ok[i]) > 0.5), "nfe": r.nfe,
                         "vjp": r.vjp, "seconds": f"{r.seconds:.2f}"})
        tensors[f"{task}/{name}/x"] = r.x.contiguous()

    for task, methods in SETTINGS.items():
        p = invlab.make_problem(task, x_true, sigma_y=SIGMA_Y, seed=SEED)
        record(task, "pseudo_inverse", SOLVERS["pseudo_inverse"](p, prior))
        for name, kw in methods.items():
            track = []

            def callback(i, t, x_t, x0, p=p, track=track):
                track.append((t, x0[1].clone(), (p.y - p.op(x0)).flatten(1).norm(dim=1)))

            r = SOLVERS[name](p, prior, generator=torch.Generator().manual_seed(SEED), callback=callback, **kw)
            record(task, name, r)
            tensors[f"{task}/{name}/t"] = torch.tensor([t for t, _, _ in track])
            tensors[f"{task}/{name}/residual"] = torch.stack([v for _, _, v in track]).contiguous()
            if task == "sr4":         # the pictures: every step for DDRM and DDNM, every tenth (and the last) else
                keep = [i for i in range(len(track)) if name in ("ddrm", "ddnm") or i % 10 == 0 or i == len(track) - 1]
                tensors[f"{task}/{name}/x0_steps"] = torch.tensor(keep)
                tensors[f"{task}/{name}/x0_glyph1"] = torch.stack([track[i][1] for i in keep]).contiguous()
            print(f"{task} {name}: {r.seconds:.1f} s", flush=True)
    write_csv(str(RESULTS / "posterior_glyphs.csv"), rows)
    save_file(tensors, str(RESULTS / "posterior_glyphs.safetensors"))
    print(f"wrote {RESULTS / 'posterior_glyphs.csv'} ({len(rows)} rows) and posterior_glyphs.safetensors")


if __name__ == "__main__":
    main()
