"""The fewest steps at which each solver beats the pseudo-inverse (the solvers' minimum ``steps``).

    python benchmarks/bench_min_steps.py [--threads 1]

Every pixel-space solver with a step count (``steps``; PnP-ADMM's ``iterations``, DCDP's ``rounds``,
DAPS's ``annealing_steps``) at 1, 2, 5, 10, 20, 50 and 100 of them, all other settings at their defaults,
on 8 test glyphs (split "test", seed 0, solver seed 0) at σ_y = 0.05 for SR×4, box inpainting and
Gaussian blur. A step count is *meaningful* on a task when the mean PSNR is at least A⁺y's there;
a solver's minimum is the smallest count from which every larger count of the list is meaningful on
every task. Writes ``benchmarks/results/min_steps.csv`` (task, solver, steps, mean PSNR, A⁺y's PSNR)
and prints the minimum per solver; ``invlab/solvers/defaults.py`` (``MIN_STEPS``) holds them.
"""
from __future__ import annotations

from pathlib import Path

import torch
from _tables import script_args, write_csv

import invlab
from invlab import metrics
from invlab.ddc import load_ddc
from invlab.solvers import SOLVERS

RESULTS = Path(__file__).resolve().parent / "results"
TASKS, COUNTS, SIGMA_Y = ("sr4", "box_inpaint", "gaussian_blur"), (1, 2, 5, 10, 20, 50, 100), 0.05
KNOB = {"pnp_admm": "iterations", "dcdp": "rounds", "daps": "annealing_steps"}
SOLVER_NAMES = ("dps", "pigdm", "ddrm", "ddnm", "dpg", "red_diff", "hrdis", "ddiff", "pnp_admm", "diffpir", "dcdp",
                "daps", "ddc")


def minimum(psnr: dict, base: dict) -> int | None:
    """The smallest count from which every larger count beats A⁺y on every task (None: no such count)."""
    ok = [all(psnr[t, n] >= base[t] for t in base) for n in COUNTS]
    for i, n in enumerate(COUNTS):
        if all(ok[i:]):
            return n
    return None


def main(argv=None):
    script_args(__doc__, argv)
    prior = invlab.load_prior("glyphs32")
    ddc_net = load_ddc("glyphs32-ddc")
    x, _ = invlab.glyphs(8, split="test", seed=0)
    rows, mins = [], {}
    problems = {t: invlab.make_problem(t, x, sigma_y=SIGMA_Y, seed=0) for t in TASKS}
    base = {t: float(metrics.psnr(p.op.pinv(p.y).clamp(-1, 1), x).mean()) for t, p in problems.items()}
    for name in SOLVER_NAMES:
        psnr = {}
        for task, p in problems.items():
            if name == "ddc" and task not in ddc_net.tasks:
                continue
            for n in COUNTS:
                kw = {KNOB.get(name, "steps"): n}
                if name == "ddc":
                    kw["network"] = ddc_net
                try:
                    r = SOLVERS[name](p, prior, generator=torch.Generator().manual_seed(0), **kw)
                    q = float(metrics.psnr(metrics.clamp_estimate(r.x, "x"), x).mean())
                except ValueError as e:                   # a count the solver refuses
                    print(f"{name} {task} {n}: refused ({e})")
                    q = float("nan")
                psnr[task, n] = q
                rows.append({"task": task, "solver": name, "steps": n, "psnr": f"{q:.4f}",
                             "pseudo_inverse_psnr": f"{base[task]:.4f}"})
        mins[name] = minimum(psnr, {t: base[t] for t in problems if (t, COUNTS[0]) in psnr})
        print(f"{name}: minimum {mins[name]} ({KNOB.get(name, 'steps')}); PSNR by count: "
              + "; ".join(f"{t} " + " ".join(f"{psnr[t, n]:.1f}" for n in COUNTS) for t in TASKS if (t, 1) in psnr),
              flush=True)
    write_csv(str(RESULTS / "min_steps.csv"), rows)
    print("MIN_STEPS =", mins)


if __name__ == "__main__":
    main()
