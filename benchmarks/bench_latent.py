"""Latent solvers on the shipped latent prior (notebook 06b).

    python benchmarks/bench_latent.py [--n 16] [--threads 2]

1. **SR×4, ``--n`` test glyphs, σ_y = 0** — Latent-DPS, PSLD, ReSample, latent DCDP approach I
   (``dc_space="latent"``) and approach II (``dc_space="pixel"``) on ``glyphs32-latent``, and pixel
   DCDP on ``glyphs32`` — PSNR, SSIM, classifier accuracy, seconds, network passes (UNet, encoder,
   decoder) and their backprops. Writes ``results/latent.csv`` and ``results/latent.md``.
2. **Approach I vs II** on SR×4, Gaussian blur and box inpainting (the paper: II for blurs, I for
   SR and inpainting; II ≥ 5× faster), same glyphs. Writes ``results/latent_spaces.csv``.
3. **Tuning approach I** on SR×4 (rounds K and data steps τ), so that the claim against PSLD and
   ReSample is judged after tuning, not only at the paper's defaults. Writes
   ``results/latent_tuning.csv``. ``--only-tuning`` runs this part alone.
4. **Tuning ReSample's step scale** on SR×4 on held-out glyphs (``--n`` test glyphs of another stream,
   seed 1), at the guided step count: the authors' 0.5 at 500 steps under the rule 0.5·500/steps, and
   2× and 4× that. Writes ``results/latent_resample_tuning.csv``; ``--only-resample-tuning`` runs this
   part alone (its best setting is ReSample's default for super-resolution, in
   ``invlab.solvers.defaults.TABLE``).

Step counts: the guided baselines run at the papers' step counts scaled to what a CPU affords
(``--guided-steps``, default 250 for all three; each method's step size is rescaled by T/steps as
in its docstring). Every DCDP row uses [DCDP]'s super-resolution defaults (K = 10 rounds, τ = 100;
``--sr-rounds`` changes K for all three DCDP rows alike).
"""
from __future__ import annotations

import argparse
import os

import torch
from _tables import write_csv

import invlab
from invlab import metrics
from invlab.solvers import SOLVERS

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def run(method: str, problem, prior, x_true, labels, **kw) -> dict:
    res = SOLVERS[method](problem, prior, generator=torch.Generator().manual_seed(0), **kw)
    x = res.x.clamp(-1, 1)
    calls = res.info.get("calls", {"eps": res.nfe, "eps_vjp": res.vjp})
    per_image = metrics.psnr(x, x_true)
    return {"method": method, "psnr": round(float(per_image.mean()), 2),
            "ssim": round(float(metrics.ssim(x, x_true).mean()), 3),
            "accuracy": round(float(metrics.classifier_accuracy(x, labels).mean()), 3),
            "seconds": round(res.seconds, 2), "nfe": res.nfe, "vjp": res.vjp,
            "unet": calls.get("eps", 0), "encoder": calls.get("encode", 0), "decoder": calls.get("decode", 0),
            "decoder_vjp": calls.get("decode_vjp", 0),
            "psnr_per_image": " ".join(f"{float(v):.3f}" for v in per_image)}   # for paired intervals


def main(argv=None) -> None:
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--guided-steps", type=int, default=250)
    ap.add_argument("--sr-rounds", type=int, default=10)
    ap.add_argument("--out", default=RESULTS)
    ap.add_argument("--only-tuning", action="store_true")
    ap.add_argument("--only-resample-tuning", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    latent = invlab.load_prior("glyphs32-latent")
    pixel = invlab.load_prior("glyphs32")
    x_true, labels = invlab.glyphs(args.n, split="test")
    sr = invlab.make_problem("sr4", x_true, sigma_y=0.0, generator=torch.Generator().manual_seed(1))
    S, K = args.guided_steps, args.sr_rounds
    if args.only_tuning:
        return tune(sr, latent, x_true, labels, args.out)
    if args.only_resample_tuning:
        return tune_resample(latent, args.n, S, args.out)
    rows = []
    for label, method, prior, kw in [
        ("Latent-DPS", "latent_dps", latent, dict(steps=S)),
        ("PSLD", "psld", latent, dict(steps=S)),
        ("ReSample", "resample", latent, dict(steps=S)),
        ("latent DCDP I (latent DC)", "dcdp", latent, dict(dc_space="latent", rounds=K)),
        ("latent DCDP II (pixel DC)", "dcdp", latent, dict(dc_space="pixel", rounds=K)),
        ("pixel DCDP (glyphs32)", "dcdp", pixel, dict(rounds=K)),
    ]:
        row = {"label": label, **run(method, sr, prior, x_true, labels, **kw), "settings": repr(kw)}
        print(row, flush=True)
        rows.append(row)
    write_csv(os.path.join(args.out, "latent.csv"), rows)
    with open(os.path.join(args.out, "latent.md"), "w") as f:
        f.write(f"SR×4, σ_y = 0, {args.n} test glyphs, {args.threads} threads "
                f"(`python benchmarks/bench_latent.py --n {args.n} --threads {args.threads}`)\n\n")
        f.write("| method | PSNR | SSIM | acc | s | UNet | enc | dec | dec VJP |\n")
        f.write("|---|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r['label']} | {r['psnr']} | {r['ssim']} | {r['accuracy']} | {r['seconds']} | {r['unet']} | "
                    f"{r['encoder']} | {r['decoder']} | {r['decoder_vjp']} |\n")
    keys = ["method", "psnr", "ssim", "accuracy", "seconds", "nfe", "vjp", "unet", "encoder", "decoder", "decoder_vjp",
            "psnr_per_image"]
    spaces = [{"task": "sr4", "dc_space": space, **{k: rows[i][k] for k in keys}}      # the same runs as above
              for i, space in ((3, "latent"), (4, "pixel"))]
    for task in ("gaussian_blur", "box_inpaint"):
        prob = invlab.make_problem(task, x_true, sigma_y=0.0, generator=torch.Generator().manual_seed(1))
        for space in ("latent", "pixel"):
            row = {"task": task, "dc_space": space, **run("dcdp", prob, latent, x_true, labels, dc_space=space)}
            print(row, flush=True)
            spaces.append(row)
    write_csv(os.path.join(args.out, "latent_spaces.csv"), spaces)
    tune(sr, latent, x_true, labels, args.out)


def tune(sr, latent, x_true, labels, out: str) -> None:
    """Approach I on SR×4 at smaller and larger budgets than the paper's (K = 10, τ = 100)."""
    rows = []
    for rounds, tau in [(10, 20), (20, 20), (20, 50), (30, 30)]:
        row = {"rounds": rounds, "dc_steps": tau,
               **run("dcdp", sr, latent, x_true, labels, dc_space="latent", rounds=rounds, dc_steps=tau)}
        print(row, flush=True)
        rows.append(row)
    write_csv(os.path.join(out, "latent_tuning.csv"), rows)


def tune_resample(latent, n: int, steps: int, out: str) -> None:
    """ReSample's scale on SR×4, held-out glyphs: the rule's value and 2× and 4× it."""
    x_held, labels = invlab.glyphs(n, split="test", seed=1)
    sr = invlab.make_problem("sr4", x_held, sigma_y=0.0, generator=torch.Generator().manual_seed(1))
    rule = 0.5 * 500 / steps
    rows = []
    for factor in (1, 2, 4):
        row = {"steps": steps, "factor": factor,
               **run("resample", sr, latent, x_held, labels, steps=steps, scale=factor * rule), "scale": factor * rule}
        print(row, flush=True)
        rows.append(row)
    write_csv(os.path.join(out, "latent_resample_tuning.csv"), rows)


if __name__ == "__main__":
    main()
