"""Every solver's default hyperparameters, in one table, with the paper's value beside each.

A solver called without a hyperparameter takes it from :data:`TABLE` for its task. An entry
applies to all tasks (``"*"``), to a task family (``"sr"``, ``"deblur"``, ``"inpaint"``,
``"phase_retrieval"``, ``"hdr"``, ``"cs"``), or to one task (``"motion_blur"``); a more specific
entry wins, and an entry whose place ends in ``"/noiseless"`` applies only when σ_y = 0.

Each entry holds the value invlab uses, the value in the paper or its official code (``paper``),
and where invlab's value comes from (``source``):

* ``"paper"`` — the paper's value, unchanged (it is unit-free, or the rule carries it over);
* ``"scaled"`` — the paper's value times a scaling rule the solver applies (the rule is named);
* ``"tuned"`` — the best setting of the sweep in ``benchmarks/tune_defaults.py`` on held-out glyphs
  at σ_y = 0.05 (``benchmarks/results/tuning.csv`` holds every setting tried).

``invlab.solvers.defaults.table("diffpir")`` lists a solver's rows; notebook 09 shows them all.
"""
from __future__ import annotations

import os
import sys
import warnings
from typing import Any

__all__ = ["MIN_STEPS", "TABLE", "family", "lookup", "table", "warn_few_steps"]

# (method, where, parameter, value, paper, source)
TABLE: list[tuple[str, str, str, Any, Any, str]] = [
    # DPS [DPS, App. C]: ζ for 1000 steps; the solver multiplies by T/steps (ζ·steps fixed)
    ("dps", "*", "zeta", 0.3, 0.3, "paper; × T/steps"),
    ("dps", "inpaint", "zeta", 0.5, 0.5, "paper; × T/steps"),
    ("dps", "phase_retrieval", "zeta", 1.0, 1.0, "paper; × T/steps"),
    # DPG [DPG code configs, FFHQ]: the step s for each sampler; the solver multiplies by √(D/D_paper)
    # … and tuned for the DDPM sampler at its 1000 steps (benchmarks/tune_defaults.py, results/tuning.csv): the
    # paper's rule gives 144 on SR×4 glyphs, 20.3 dB against 24.9 at the best step 8; for the blur the paper's
    # motion-blur value is the sweep's best
    ("dpg", "*", "scale_ddpm", 2000.0, 2000.0, "paper (SR×4); × √(D/D_paper)"),
    ("dpg", "sr", "scale_ddpm", 110.85, 2000.0, "tuned; × √(D/D_paper), 8 at 32×32"),
    ("dpg", "inpaint", "scale_ddpm", 277.13, 2000.0,
     "tuned; × √(D/D_paper), 20 at 32×32 (the official inpainting configs use DDIM)"),
    ("dpg", "deblur", "scale_ddpm", 200.0, 200.0,
     "tuned on Gaussian blur (the paper's motion-blur value is the best); × √(D/D_paper)"),
    ("dpg", "*", "scale_ddim", 10.0, 10.0, "paper (random inpainting); × √(D/D_paper)"),
    ("dpg", "box_inpaint", "scale_ddim", 3.0, 3.0, "paper; × √(D/D_paper)"),
    ("dpg", "gaussian_blur", "scale_ddpm", 200.0, 120.0,
     "tuned; × √(D/D_paper) (the official Gaussian-blur config runs Poisson data at s = 1; its "
     "Gaussian-noise variants, left commented out there, use 100-120 with N = 800)"),
    # DPG's Monte-Carlo samples N per step: the official configs use 500-11000; invlab draws in A's row space
    # (dpg(spectral=...)), so N only needs to cover rank(A), 64-1024 coordinates at 32×32
    ("dpg", "*", "n_samples", 256, 500, "invlab (cost); paper 500 (SR×4, motion blur)"),
    ("dpg", "gaussian_blur", "n_samples", 256, 1000, "invlab (cost); paper 1000 (Poisson data)"),
    ("dpg", "random_inpaint", "n_samples", 256, 5000, "invlab (cost); paper 5000 (DDIM, 91-92 % missing)"),
    ("dpg", "box_inpaint", "n_samples", 256, 11000, "invlab (cost); paper 11000 (DDIM)"),
    ("dpg", "*", "r_min", 0.05, 0.05, "paper"),
    # gradient smoothing β_cfg: 0 in the official DDPM configs (SR×4, motion blur), 0.1 in the DDIM inpainting
    # and Poisson Gaussian-blur ones
    ("dpg", "*", "beta_cfg", 0.0, 0.0, "paper (SR×4, motion blur)"),
    ("dpg", "gaussian_blur", "beta_cfg", 0.0, 0.1, "invlab (Gaussian data); paper 0.1 (Poisson data)"),
    ("dpg", "inpaint", "beta_cfg", 0.0, 0.1, "invlab; paper 0.1 (DDIM)"),
    # DDiff [DDiff, Table 5, FFHQ σ_y = 0.05]: γ_0 (× √(D/D_paper) in the solver), t_0, re-noising rule
    ("ddiff", "*", "gamma0", 18.0, 18.0, "paper (SR); × √(D/D_paper)"),
    ("ddiff", "sr", "gamma0", 55.0, 18.0, "tuned; × √(D/D_paper), 4.0 at 32×32"),
    ("ddiff", "*", "t0", 1, 1, "paper"),
    ("ddiff", "*", "renoise_rule", "full", "full", "paper"),
    ("ddiff", "box_inpaint", "gamma0", 30.0, 30.0, "paper; × √(D/D_paper)"),
    ("ddiff", "freeform_inpaint", "gamma0", 30.0, 30.0, "paper; × √(D/D_paper)"),
    ("ddiff", "random_inpaint", "gamma0", 50.0, 50.0, "paper; × √(D/D_paper)"),
    ("ddiff", "deblur", "gamma0", 2.9, 2.9, "paper; × √(D/D_paper)"),
    ("ddiff", "gaussian_blur", "t0", 50, 50, "paper"),
    ("ddiff", "motion_blur", "t0", 80, 80, "paper"),
    ("ddiff", "deblur", "renoise_rule", "ddpm", "ddpm", "paper"),
    ("ddiff", "phase_retrieval", "gamma0", 38.0, 38.0, "paper; × √(D/D_paper)"),
    ("ddiff", "hdr", "gamma0", 3.5, 3.5, "paper; × √(D/D_paper)"),
    ("ddiff", "hdr", "t0", 120, 120, "paper"),
    ("ddiff", "hdr", "renoise_rule", "ddpm", "ddpm", "paper"),
    # DAPS [DAPS, the authors' configs]: Langevin rate; per pixel, so unchanged by the image size
    ("daps", "*", "lr", 1e-4, 1e-4, "paper"),
    ("daps", "motion_blur", "lr", 5e-5, 5e-5, "paper"),
    ("daps", "box_inpaint", "lr", 5e-5, 5e-5, "paper"),
    ("daps", "phase_retrieval", "lr", 5e-5, 5e-5, "paper"),
    ("daps", "hdr", "lr", 2e-5, 2e-5, "paper"),
    # PnP-ADMM with DPIR's penalty rule [DPIR]: σ_max (49/255 in [0, 1] units there) and λ
    ("pnp_admm", "*", "sigma_max", 1.0, 2 * 49 / 255, "tuned"),
    ("pnp_admm", "*", "lam", 2.0, 0.23, "tuned"),
    ("pnp_admm", "sr", "lam", 0.23, 0.23, "tuned (the paper's value is the best here)"),
    # DiffPIR [DiffPIR, Sec. 5 and its scripts]: 100 steps (20 for inpainting), λ, ζ
    ("diffpir", "*", "steps", 100, 100, "paper"),
    ("diffpir", "*", "lam", 1.0, 1.0, "paper"),
    ("diffpir", "*", "zeta", 1.0, 0.1, "tuned"),
    ("diffpir", "inpaint", "steps", 20, 20, "paper"),
    ("diffpir", "inpaint", "zeta", 1.0, 1.0, "paper"),
    # DDRM [DDRM, Sec. 5]: 20 steps, η = 0.85 (η_b = 1 stays the paper's)
    ("ddrm", "*", "steps", 100, 20, "tuned"),
    ("ddrm", "*", "eta", 1.0, 0.85, "tuned"),
    ("ddrm", "deblur", "eta", 0.85, 0.85, "tuned (the paper's value is the best here)"),
    # DDNM [DDNM, the authors' configs]: 100 steps, η
    ("ddnm", "*", "eta", 1.0, 0.85, "tuned"),
    ("ddnm", "deblur", "eta", 0.85, 0.85, "tuned (the paper's value is the best here)"),
    # DCDP [DCDP, App., FFHQ]: rounds K, data steps τ, paper rate η (the solver keeps the effective
    # step 2η/M_paper), T_0, T_K
    ("dcdp", "*", "purifier", "tweedie", "ddim", "tuned (V2: one Tweedie step beats V1 on glyphs at 1/20 the cost)"),
    ("dcdp", "*", "rounds", 30, 10, "tuned"),
    ("dcdp", "sr", "rounds", 50, 10, "tuned"),
    ("dcdp", "*", "dc_steps", 100, 100, "paper"),
    ("dcdp", "*", "eta", 1e3, 1e3, "paper; × M/M_paper"),
    ("dcdp", "*", "t_start", 400, 400, "paper"),
    ("dcdp", "*", "t_end", 0, 0, "paper"),
    ("dcdp", "deblur/noiseless", "eta", 1e5, 1e5, "paper; × M/M_paper"),
    ("dcdp", "inpaint", "rounds", 20, 20, "paper (the best here)"),
    ("dcdp", "inpaint", "dc_steps", 50, 50, "paper"),
    ("dcdp", "inpaint", "t_start", 700, 700, "paper"),
    ("dcdp", "phase_retrieval", "rounds", 200, 200, "paper"),
    ("dcdp", "phase_retrieval", "eta", 500.0, 500.0, "paper; × M/M_paper"),
    ("dcdp", "phase_retrieval", "t_start", 999, 999, "paper"),
    ("dcdp", "phase_retrieval", "t_end", 20, 20, "paper"),
    # RED-diff and HRDIS [HRDIS, Table 5]: steps, λ₂, Adam rate (unchanged by the image size)
    ("hrdis", "*", "steps", 100, 100, "paper"),
    ("hrdis", "*", "lambda1", 1.0, 1.0, "paper (noiseless data; its noisy-data 0.1 measured worse)"),
    ("hrdis", "*", "lambda2", 0.25, 0.25, "paper"),
    ("hrdis", "*", "lr", 0.1, 0.1, "paper"),
    ("hrdis", "inpaint", "steps", 150, 150, "paper"),
    ("hrdis", "sr", "lambda2", 0.2, 0.2, "paper"),
    ("hrdis", "sr", "lr", 0.5, 0.5, "paper"),
    ("hrdis", "cs", "steps", 300, 300, "paper"),
    ("hrdis", "cs", "lambda2", 0.2, 0.2, "paper"),
    ("hrdis", "cs", "lr", 0.5, 0.5, "paper"),
    ("hrdis", "phase_retrieval", "steps", 500, 500, "paper"),
    ("hrdis", "phase_retrieval", "lr", 0.7, 0.7, "paper"),
    ("hrdis", "phase_retrieval", "lambda1", 0.5, 0.5, "paper"),
    # HRDIS's settings for special cases, measured on held-out glyphs by benchmarks/bench_hrdis_paper.py
    # (32 glyphs × 3 seeds, σ_y = 0.05; results/hrdis_paper.csv): its noisy-data setting (App. C.2: λ1 = 0.1,
    # ω_t clipped below at 2λ2) loses 4.3 dB on SR×4, 9.8 on Gaussian blur, 1.2 on box inpainting, and
    # phase retrieval's warm start (App. B.1: 250 fresh-noise steps of 500) loses 2.2 dB (95 % CI 0.2-4.2)
    ("hrdis", "*", "weighting", "linear", "linear", "paper (noiseless data; its noisy-data 'clip' measured worse)"),
    ("hrdis", "*", "warm_start", 0.0, 0.0, "paper"),
    ("hrdis", "phase_retrieval", "warm_start", 0.0, 0.5, "tuned (the paper's 0.5 measured 2.2 dB worse)"),
    ("red_diff", "*", "steps", 100, 100, "HRDIS's table (RED-diff: 50–1000 steps)"),
    ("red_diff", "*", "lr", 0.1, 0.1, "HRDIS's table (RED-diff: 0.1–0.5)"),
    ("red_diff", "inpaint", "steps", 150, 150, "HRDIS's table"),
    ("red_diff", "sr", "lr", 0.5, 0.5, "HRDIS's table"),
    ("red_diff", "cs", "steps", 300, 300, "HRDIS's table"),
    ("red_diff", "cs", "lr", 0.5, 0.5, "HRDIS's table"),
    ("red_diff", "phase_retrieval", "steps", 500, 500, "HRDIS's table"),
    ("red_diff", "phase_retrieval", "lr", 0.7, 0.7, "HRDIS's table"),
    # ReSample [the authors' resample_sampling]: the pull is scale·ᾱ_t at 500 steps; the solver multiplies by
    # 500/steps. On SR×4 with the latent prior, 2× and 4× it moved the mean PSNR by less than 0.2 dB
    # (benchmarks/bench_latent.py --only-resample-tuning, results/latent_resample_tuning.csv)
    ("resample", "*", "scale", 0.5, 0.5, "paper; × 500/steps"),
]


def family(task: str) -> str:
    """The task family a task's defaults come from."""
    if task.startswith("sr"):
        return "sr"
    if task.endswith("blur"):
        return "deblur"
    if "inpaint" in task:
        return "inpaint"
    if task.startswith("cs"):
        return "cs"
    return task if task in ("phase_retrieval", "hdr") else "other"


def lookup(method: str, task: str, sigma_y: float = 0.05) -> dict[str, Any]:
    """The default of every tabled hyperparameter of ``method`` on ``task``: ``"*"``, then the
    family, then the task, each followed by its ``"/noiseless"`` entry when σ_y = 0."""
    order = ["*", family(task), task]
    if sigma_y == 0:
        order = [p for place in order for p in (place, place + "/noiseless")]
    rank = {place: i for i, place in enumerate(order)}
    out: dict[str, tuple[int, Any]] = {}
    for m, where, param, value, _, _ in TABLE:
        if m == method and where in rank and rank[where] >= out.get(param, (-1, None))[0]:
            out[param] = (rank[where], value)
    if not out:
        raise KeyError(f"method: {method!r} has no entry in the defaults table")
    return {k: v for k, (_, v) in out.items()}


def table(method: str | None = None) -> list[dict[str, Any]]:
    """The rows of :data:`TABLE` (of one ``method``) as dicts, for display."""
    keys = ("method", "where", "parameter", "value", "paper", "source")
    return [dict(zip(keys, row)) for row in TABLE if method is None or row[0] == method]



# The fewest steps (PnP-ADMM: iterations, DCDP: rounds, DAPS: annealing levels) from which a solver's estimate
# is at least as good as A⁺y in PSNR on SR×4, box inpainting and Gaussian blur (8 test glyphs, σ_y = 0.05,
# every other setting at its default) on the shipped prior glyphs32, and stays so at every larger count of
# benchmarks/bench_min_steps.py (1, 2, 5, 10, 20, 50, 100; results/min_steps.csv).
MIN_STEPS_PRIOR = "glyphs32"
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))     # the invlab folder
# DPG has no entry: at its default step scale it stays below A⁺y on SR×4 and box inpainting up to 100 steps
# (its default is 1000; notebook 04 runs 100 steps with a tuned scale).
MIN_STEPS: dict[str, int] = {"dps": 10, "pigdm": 20, "ddrm": 5, "ddnm": 5, "red_diff": 20, "hrdis": 50, "ddiff": 20,
                             "pnp_admm": 2, "diffpir": 5, "dcdp": 2, "daps": 10, "ddc": 1}


def warn_few_steps(method: str, name: str, value: int, prior) -> None:
    """Warn when ``value`` (the solver's ``name`` argument) is below ``method``'s measured minimum on the prior
    it was measured on: fewer steps still run (tests and cost measurements use them), but the estimate is then
    worse than the pseudo-inverse's."""
    least = MIN_STEPS.get(method)
    if least is not None and value < least and getattr(prior, "name", None) == MIN_STEPS_PRIOR:
        frame, level = sys._getframe(0), 1              # point the warning at the caller outside invlab
        while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
            frame, level = frame.f_back, level + 1
        warnings.warn(f"{name}={value}: {method} needs at least {least} {name} on {MIN_STEPS_PRIOR} to beat the "
                      f"pseudo-inverse on every course task (SR×4, box inpainting, Gaussian blur; measured by "
                      f"benchmarks/bench_min_steps.py); with fewer it fell short of A⁺y on at least one",
                      UserWarning, stacklevel=level)
