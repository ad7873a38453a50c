"""Generate ``benchmarks/README.md`` from the committed benchmark results.

    python tools/benchmarks_readme.py            # rewrite benchmarks/README.md
    python tools/benchmarks_readme.py --check    # exit 1 if the committed README differs

Every table in the README is read from a results file that a script in ``benchmarks/`` writes: the
CSVs in ``benchmarks/results/`` and the quality-gate records ``invlab/weights/*/eval.json``. Each
results file has a sidecar ``benchmarks/results/<name>.meta.json`` (for ``<name>.csv``, or naming
its ``"file"`` when the results live elsewhere) saying how it was produced::

    {"script": "benchmarks/bench_ddc.py",
     "runs": [{"command": "python benchmarks/bench_ddc.py", "threads": 2, "torch": "2.13.0+cpu",
               "machine": "…", "date": "YYYY-MM-DD", "wall_s": 332,
               "rows": {"method": ["dps-1000"]}}],
     "provenance": "where each entry above comes from"}

Only ``command`` is required in a run; ``"notes"`` (a list of short strings) holds other facts the
run recorded and is printed under its table. A field the run did not record is left out and the README
says "not recorded". ``rows`` tells which rows a run wrote when several runs share one table
(``{"column": [values]}``, or ``{"column": "others"}`` for the rest); without it a run wrote every
row. After re-running a script, update its runs in the sidecar (``--stamp`` below fills the machine,
torch version and date of this machine) and regenerate.

    python tools/benchmarks_readme.py --stamp grid --command "python benchmarks/bench_grid.py --threads 1"

replaces the runs of ``grid.meta.json`` with that one run; after a partial re-run (``--methods dpg``)
add ``--rows method=dpg`` so that only those rows' run is replaced. Standard library only (``--stamp``
imports torch for its version), so ``--check`` runs before any install.
"""
from __future__ import annotations

import argparse
import ast
import csv
import datetime
import difflib
import json
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "benchmarks" / "README.md"
MINUS = "\u2212"


# ---------------------------------------------------------------- reading

def read_csv(name: str) -> list[dict]:
    with open(RESULTS / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def script_constant(script: str, name: str):
    """A literal constant of ``benchmarks/<script>.py`` (read, not imported: the scripts need torch), so a
    section states the rule its script applies without a copy of it."""
    tree = ast.parse((ROOT / "benchmarks" / f"{script}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit(f"benchmarks/{script}.py: no constant {name}")


def read_meta(name: str) -> dict:
    path = RESULTS / f"{name}.meta.json"
    if not path.exists():
        raise SystemExit(f"{path.relative_to(ROOT)}: missing; every results file needs its sidecar")
    meta = json.loads(path.read_text())
    if not meta.get("runs") or any("command" not in r for r in meta["runs"]):
        raise SystemExit(f"{path.relative_to(ROOT)}: 'runs' must list at least one run, each with a 'command'")
    return meta


def read_json_result(name: str) -> dict:
    meta = read_meta(name)
    return json.loads((ROOT / meta["file"]).read_text())


def num(v, digits: int = 2) -> str:
    """A CSV cell as a rounded number ("" stays "", a non-number is kept as it is)."""
    if v is None or v == "":
        return ""
    try:
        x = float(v)
    except ValueError:
        return str(v)
    s = f"{x:.{digits}f}"
    if float(s) == 0.0:
        s = s.lstrip("-")
    return s.replace("-", MINUS)


def integer(v) -> str:
    return "" if v in (None, "") else str(int(float(v)))


def pct(v, digits: int = 1) -> str:
    return f"{float(v) * 100:.{digits}f} %"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(r) + " |" for r in rows])


def met(ok) -> str:
    return "met" if ok else "**not met**"


def span(values: list[float], fmt=num) -> str:
    lo, hi = min(values), max(values)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"


# ---------------------------------------------------------------- provenance

def run_rows(meta: dict, rows: list[dict] | None) -> list[tuple[dict, str]]:
    """Each run with the rows it wrote, in words; checks that the runs' row filters cover every row
    exactly once."""
    runs = meta["runs"]
    out = []
    if rows is not None and len(runs) > 1:
        claimed = [0] * len(rows)
        rest = None
        for run in runs:
            sel = run.get("rows")
            if not sel or len(sel) != 1:
                raise SystemExit(f"{meta['_name']}.meta.json: with several runs each needs rows: {{column: ...}}")
            (col, vals), = sel.items()
            if vals == "others":
                rest = run
                continue
            for i, r in enumerate(rows):
                if r.get(col) in vals:
                    claimed[i] += 1
        if any(c > 1 for c in claimed):
            raise SystemExit(f"{meta['_name']}.meta.json: some rows are claimed by two runs")
        if rest is None and not all(claimed):
            raise SystemExit(f"{meta['_name']}.meta.json: some rows are claimed by no run")
    for run in runs:
        sel = run.get("rows")
        if not sel:
            what = "all"
        else:
            (col, vals), = sel.items()
            what = "the others" if vals == "others" else f"{col} {', '.join(vals)}"
        out.append((run, what))
    return out


def provenance(name: str, rows: list[dict] | None = None, label: str | None = None) -> list[str]:
    meta = read_meta(name)
    meta["_name"] = name
    file = meta.get("file", f"benchmarks/results/{name}.csv")
    lines = [f"Produced by `{meta['script']}` into `{file}`"
             + (f" ({label})" if label else "") + ":", ""]
    body = []
    nr = "not recorded"
    for run, what in run_rows(meta, rows):
        wall = run.get("wall_s")
        body.append([what, f"`{run['command']}`", str(run.get("threads", nr)), run.get("torch", nr),
                     run.get("machine", nr), run.get("date", nr),
                     nr if wall is None else f"{wall} s"])
    header = ["rows", "command", "threads", "torch", "machine", "date", "wall time"]
    if all(r[0] == "all" for r in body):
        header, body = header[1:], [r[1:] for r in body]
    notes = meta.get("notes", [])
    extra = [f"Recorded with these results: {'; '.join(notes)}.", ""] if notes else []
    return lines + table(header, body) + [""] + extra


# ---------------------------------------------------------------- sections

def intro() -> list[str]:
    return [
        "# Benchmarks",
        "",
        "<!-- Generated by tools/benchmarks_readme.py from benchmarks/results/ and invlab/weights/*/eval.json;",
        "     do not edit by hand: change the results or their .meta.json sidecars and run",
        "     `python tools/benchmarks_readme.py`. CI runs it with --check. -->",
        "",
        "Every table below is read from a results file that a script in this folder writes. Each section",
        "names the command that produced its table and, where the run recorded them, the threads, torch",
        "version, machine and date (the date of the commit that added the rows); \"not recorded\" marks",
        "what the run did not store. The Makefile pins torch 2.13.0 (the CPU wheel); `make bench` runs",
        "every script. The scripts' timing targets are stated for a 2-core CPU.",
        "",
        "How to read the tables: PSNR in dB and SSIM are means over the listed test glyphs (higher is",
        "better); *accuracy* is the share of outputs the shipped glyph classifier reads as the true digit;",
        "*FD* is the Fréchet distance in the classifier's features (lower is better); *NFE* counts network",
        "evaluations and *VJP* those that also backpropagate through the network; seconds are wall time",
        "of one call on the whole batch. Each table is one run on one set of glyphs with no interval: a gap",
        "of a few tenths of a dB between two methods can come from the glyphs or the random stream, so",
        "compare per-image values with `invlab.stats.paired_difference` before calling one method better.",
        "",
    ]


def section_prior() -> list[str]:
    ev = read_json_result("eval_prior")
    comp = ev["compiled_bf16"]
    g = ev["gates"]
    rows = [
        ["float32, eager", f"{ev['n']}", pct(ev["confident_share"]), span(ev["class_share"], pct),
         num(ev["fd_ratio"]), num(ev["ddim50_64_seconds_median"])],
        ["bfloat16, eager", "256", pct(ev["confident_share_bf16_256"], 2), "", "",
         num(ev["ddim50_64_seconds_median_bf16"])],
        ["bfloat16, compiled", f"{ev['n']}", pct(comp["confident_share"]), span(comp["class_share"], pct),
         num(comp["fd_ratio"]), num(comp["ddim50_64_seconds_median"])],
    ]
    gates = [
        ["classifier confidence ≥ 0.9 on ≥ 85 % of samples", met(g["confident>=0.85"])],
        ["every digit between 5 % and 15 %", met(g["classes_5_15pct"])],
        ["Fréchet ratio (samples↔test / train↔test) ≤ 3", met(g["fd_ratio<=3"])],
        ["DDIM-50 for 64 glyphs ≤ 5 s, float32 eager", met(g["ddim50_64<=5s"])],
        ["DDIM-50 for 64 glyphs ≤ 5 s, bfloat16 compiled", met(g["ddim50_64<=5s_compiled_bf16"])],
        ["the compiled sampler's own samples pass the quality gates", met(g["compiled_bf16_quality_gates"])],
    ]
    return [
        "## The glyphs32 prior: quality gates and sampling speed",
        "",
        *provenance("eval_prior"),
        f"DDIM-{ev['steps']} samples (η = 0, seed 0). *Confident*: the share the glyph classifier reads with",
        "max-probability ≥ 0.9; *digits*: the range of the ten digits' shares; *Fréchet ratio*: the Fréchet",
        f"distance samples↔test over a train subset↔test (here {num(ev['fd_samples_test'])} over "
        f"{num(ev['fd_train_test'])}); seconds: the median of",
        "3 DDIM-50 runs on 64 glyphs. *Compiled*: `UNetPrior.compile()` (`torch.compile` with the weights",
        "frozen into the graph, used for the passes without gradients; passes that need gradients keep the",
        "eager network); its first call compiles, which took "
        f"{num(comp['compile_seconds_first_call'], 1)} s and is not in the median.",
        "",
        *table(["network", "samples", "confident", "digits", "Fréchet ratio", "DDIM-50, 64 glyphs (s)"], rows),
        "",
        *table(["gate", ""], gates),
        "",
    ]


def section_consistency() -> list[str]:
    ev = read_json_result("eval_consistency")
    names = [("one_step", "CM, 1 pass (σ = 80)"), ("two_step", "CM, 2 passes (σ = 80, 2)"),
             ("three_step", "CM, 3 passes (σ = 80, 5, 1)"), ("parent_ddim3", "parent glyphs32, DDIM-3"),
             ("parent_ddim50", "parent glyphs32, DDIM-50 (read from its eval.json)")]
    rows = [[label, pct(ev[k]["confident_share"]), span(ev[k]["class_share"], pct), num(ev[k]["fd_test"], 1)]
            for k, label in names]
    lines = [
        "## The consistency model glyphs32-cm",
        "",
        *provenance("eval_consistency"),
        f"{ev['n']} samples per sampler (seed 0) from `glyphs32-cm` ({ev.get('method', 'consistency distillation')},",
        f"step {ev['step']}). Gates on one-pass samples: classifier confidence ≥ 0.9 on ≥ 50 % of them",
        f"(stretch ≥ 70 %) — {met(ev['gate_confident>=0.50'])} (stretch {met(ev['gate_confident>=0.70'])}); Fréchet",
        f"distance to test glyphs in the classifier's features ≤ 10 — {met(ev['gate_fd<=10'])}. The parent's DDIM-3",
        "uses as many network passes as the three-pass sampler: the difference between those two rows is what",
        f"distillation buys. Train subset↔test FD: {num(ev['fd_train_test'])}. One-pass sampling of 64 glyphs:",
        f"{num(ev['one_step_64_seconds'], 3)} s.",
        "",
        *table(["sampler", "confident", "digits", "FD"], rows),
        "",
    ]
    if "dcdp" in ev:
        d = ev["dcdp"]
        body = [[TASK_NAMES.get(t, t), num(d[t]["psnr_v1"]), num(d[t]["psnr_cm"]),
                 f"{num(d[t]['difference'])} ({num(d[t]['ci95'][0])} to {num(d[t]['ci95'][1])})",
                 f"{d[t]['nfe_cm']} / {d[t]['nfe_v1']}", met(d[t]["gate_within_1dB"] and d[t]["gate_nfe<=v1/10"])]
                for t in ("sr4", "gaussian_blur")]
        lines += [
            f"DCDP with the consistency model as purifier against DCDP-V1 (DDIM purifier), {d['n']} test glyphs",
            "(seed 0), σ_y = 0, the settings of `bench_purification.py`. Gate: the 95 % interval of the paired",
            "PSNR difference lies above −1 dB, at ≤ 1/10 of V1's network passes.",
            "",
            *table(["task", "V1 PSNR", "CM PSNR", "CM − V1 (95 % CI)", "NFE CM / V1", "gate"], body),
            "",
        ]
    return lines


def section_latent_prior() -> list[str]:
    ev = read_json_result("eval_latent")
    rows = [
        [f"autoencoder reconstruction x ↔ D(E(x)), {ev['n']} test glyphs",
         f"mean {num(ev['reconstruction_psnr_mean'])} dB (min {num(ev['reconstruction_psnr_min'])})",
         f"mean ≥ 25 dB: {met(ev['gate_reconstruction_25db'])}"],
        [f"decoded DDIM-{ev['steps']} samples read with confidence ≥ 0.9 ({ev['n']} samples)",
         pct(ev["confident_share"]), f"≥ 75 %: {met(ev['gate_confident_75'])}"],
        ["the same for the pixel prior glyphs32 (256 samples)", pct(ev["confident_share_pixel_prior_256"]), ""],
        ["digits' shares among the decoded samples", span(ev["class_histogram"], pct), ""],
        ["DDIM-50 plus decoding, 64 glyphs (median of 3)", f"{num(ev['ddim50_decode_64_seconds'])} s", ""],
    ]
    return [
        "## The latent prior glyphs32-latent",
        "",
        *provenance("eval_latent"),
        *table(["measure", "value", "gate"], rows),
        "",
    ]


SOLVER_NAMES = {"exact": "exact (floor)", "prior": "prior (ceiling)", "dps": "DPS", "pigdm": "ΠGDM",
                "ddrm": "DDRM", "ddnm": "DDNM", "dpg": "DPG", "ddiff": "DDiff", "ddiff_hqs": "DDiff-HQS",
                "pnp_admm": "PnP-ADMM", "diffpir": "DiffPIR", "daps": "DAPS", "dcdp": "DCDP",
                "red_diff": "RED-diff", "hrdis": "HRDIS"}


def section_gmm() -> list[str]:
    rows = read_csv("gmm_posterior")
    problems = list(dict.fromkeys((r["dim"], r["seed"]) for r in rows))
    summary = []
    for dim, seed in problems:
        rs = [r for r in rows if (r["dim"], r["seed"]) == (dim, seed)]
        by = {r["solver"]: r for r in rs}
        solvers = [r for r in rs if r["solver"] not in ("exact", "prior")]
        best = min(solvers, key=lambda r: float(r["sw"]))
        prior = float(by["prior"]["sw"])
        worse = [SOLVER_NAMES.get(r["solver"], r["solver"]) for r in solvers if float(r["sw"]) > prior]
        summary.append([dim, seed, num(rs[0]["sigma_y"], 4), num(by["exact"]["sw"]), num(prior),
                        f"{SOLVER_NAMES.get(best['solver'], best['solver'])} {num(best['sw'])}",
                        ", ".join(worse) or "none"])
    dims = list(dict.fromkeys(r["dim"] for r in rows))
    solvers = list(dict.fromkeys(r["solver"] for r in rows))

    def mean(solver, dim, key):
        return statistics.fmean(float(r[key]) for r in rows if r["solver"] == solver and r["dim"] == dim)

    order = ["exact", "prior"] + sorted((s for s in solvers if s not in ("exact", "prior")),
                                        key=lambda s: statistics.fmean(mean(s, d, "sw") for d in dims))
    means = [[SOLVER_NAMES.get(s, s)] + [num(mean(s, d, k)) for k in ("sw", "weight_tv", "to_mode") for d in dims]
             for s in order]
    n_prob = len(problems) // len(dims)
    return [
        "## Ground truth: the Gaussian-mixture posterior",
        "",
        *provenance("gmm_posterior", rows),
        "Every solver family against an exact posterior: a 25-component grid mixture in d dimensions, a",
        "random 1 × d measurement A and noise level σ_y per problem seed (`linear_gaussian_problem`); each",
        "solver draws 1000 posterior samples for the same y. *SW*: sliced Wasserstein distance to 2000 exact",
        "posterior samples (lower is better); *weight TV*: total-variation error of the recovered mixture",
        "weights; *to mode*: mean distance per coordinate of a sample to the nearest posterior mode.",
        "`exact` (fresh exact samples) is the floor set by sampling noise, `prior` (unconditional exact",
        "samples) the yardstick every sampler must beat. DDiff and DiffPIR are MAP-style methods, not",
        "samplers: for them *to mode* is the measure (exact samples sit about one standard deviation from",
        "a mode; a MAP estimate should sit closer). Hyperparameters are set for the mixture's scale (modes",
        "16 apart), see the script's docstring.",
        "",
        "Per problem: the exact and prior SW, the solver closest to the posterior, and the solvers whose",
        "samples are further from it than the prior's:",
        "",
        *table(["d", "problem seed", "σ_y", "exact SW", "prior SW", "closest", "worse than the prior"], summary),
        "",
        f"Means over the {n_prob} problems of each dimension, solvers ordered by their mean SW:",
        "",
        *table(["solver"] + [f"{k} d={d}" for k in ("SW", "weight TV", "to mode") for d in dims], means),
        "",
    ]


GRID_TASKS = [("sr4", "SR×4"), ("box_inpaint", "box"), ("gaussian_blur", "g-blur"), ("motion_blur", "m-blur"),
              ("random_inpaint", "rand-inp"), ("phase_retrieval", "phase"), ("hdr", "HDR")]


def section_grid() -> list[str]:
    rows = read_csv("grid")
    refused = read_csv("grid_unsupported")
    tasks = [t for t, _ in GRID_TASKS if any(r["task"] == t for r in rows)]
    labels = dict(GRID_TASKS)
    methods = list(dict.fromkeys(r["method"] for r in rows + refused))
    cell = {(r["method"], r["task"]): r for r in rows}
    no = {(r["method"], r["task"]) for r in refused}

    def pivot(key, digits, with_cost):
        out = []
        for m in methods:
            line = [m]
            for t in tasks:
                r = cell.get((m, t))
                line.append(num(r[key], digits) if r else ("—" if (m, t) in no else "?"))
            if with_cost:
                rs = [cell[(m, t)] for t in tasks if (m, t) in cell]
                line.append(span([float(r["nfe"]) for r in rs], integer))
                line.append(span([float(r["seconds"]) for r in rs], lambda v: num(v, 1)))
            out.append(line)
        return out

    best = []
    for t in tasks:
        rs = [r for r in rows if r["task"] == t and r["method"] not in ("pseudo_inverse", "prior_sample")]
        b = max(rs, key=lambda r: float(r["psnr"]))
        best.append(f"{labels[t]} {b['method']} ({num(b['psnr'], 1)})")
    images = sorted({r["images"] for r in rows})
    sigmas = sorted({r["sigma_y"] for r in rows})
    refused_by = {}
    for r in refused:
        refused_by.setdefault(r["method"], []).append(labels.get(r["task"], r["task"]))
    return [
        "## The course benchmark grid",
        "",
        *provenance("grid", rows),
        *provenance("grid_unsupported", None, "the refused pairs and the solvers' reasons"),
        f"Every solver on seven tasks, {' / '.join(images)} test glyphs, σ_y = {' / '.join(sigmas)}, each at a",
        "budget of about 100 network passes (the settings in the script's `HYPER`: the notebooks' choices, the",
        "same budget for everyone, not each paper's 1000-step defaults; DPG at notebook 04's tuned step",
        "scale 20). Notebook 09 reads these CSVs and re-runs a slice live. \"—\": the solver refuses the",
        "pair before any work (no SVD view, a nonlinear operator, no pseudo-inverse to start from, or a",
        "task the DDC network was not trained on); the reasons are in `results/grid_unsupported.csv`.",
        "`pseudo_inverse` (A⁺y) and `prior_sample` (an unconditional sample) are the yardsticks.",
        "",
        "PSNR (dB), with each method's NFE and seconds per cell across the tasks it runs:",
        "",
        *table(["method"] + [labels[t] for t in tasks] + ["NFE", "seconds"], pivot("psnr", 1, True)),
        "",
        "Highest PSNR per task (solvers only): " + "; ".join(best) + ".",
        "",
        "Classifier accuracy:",
        "",
        *table(["method"] + [labels[t] for t in tasks], pivot("classifier_acc", 2, False)),
        "",
        "Refused pairs: " + "; ".join(f"{m} ({', '.join(ts)})" for m, ts in refused_by.items()) + ".",
        "",
    ]


TASK_NAMES = {"sr4": "SR×4", "gaussian_blur": "Gaussian blur", "random_inpaint": "random inpainting",
              "box_inpaint": "box inpainting", "freeform_inpaint": "free-form inpainting"}


def section_purification() -> list[str]:
    rows = read_csv("purification")
    body = [[TASK_NAMES.get(r["task"], r["task"]), r["method"], num(r["psnr"]), num(r["ssim"], 3),
             num(r["accuracy"]), num(r["edge_density"], 4), integer(r["nfe"]), integer(r["vjp"]),
             num(r["seconds"]), num(r["speedup_vs_dps"], 1), num(r["network_overhead"])] for r in rows]
    return [
        "## Diffusion purification: DCDP against DPS",
        "",
        *provenance("purification", rows),
        "16 test glyphs (seed 0), σ_y = 0, SR×4 and Gaussian blur: DPS with its defaults (1000 steps) and",
        "DCDP with three purifiers — `dcdp-ddim` (V1, DDIM-20), `dcdp-tweedie` (V2, one Tweedie step) and",
        "`dcdp-consistency` (the consistency model `glyphs32-cm`). DCDP runs with notebook 06's settings:",
        "30 rounds on SR×4 (the paper's 10 are too few for glyphs), the paper's defaults on the blur.",
        "*Edge density*: the share of Canny edge pixels (DCDP's high-frequency detail measure). *× DPS*:",
        "DPS's seconds over the row's, DPS and the DCDP row from one process. *Network overhead*: (seconds",
        "− the data phases' seconds alone) / (NFE × one forward pass at batch 16), target ≤ 1.10: DCDP",
        "never backpropagates through the network.",
        "",
        *table(["task", "method", "PSNR", "SSIM", "accuracy", "edge density", "NFE", "VJP", "seconds", "× DPS",
                "network overhead"], body),
        "",
    ]


def section_hrdis() -> list[str]:
    rows = read_csv("hrdis_sweep")
    body = [[TASK_NAMES.get(r["task"], r["task"]), num(r["beta"], 1), num(r["psnr"]), num(r["ssim"], 3),
             num(r["accuracy"]), num(r["fd"], 1), num(r["hf"], 3), integer(r["nfe"]), num(r["seconds"], 1)]
            for r in rows]
    best = []
    for task in dict.fromkeys(r["task"] for r in rows):
        rs = [r for r in rows if r["task"] == task]
        b = max(rs, key=lambda r: float(r["psnr"]))
        best.append(f"{TASK_NAMES.get(task, task)} β = {num(b['beta'], 1)} ({num(b['psnr'])} dB)")
    return [
        "## Hybrid regularisation: the HRDIS β sweep",
        "",
        *provenance("hrdis_sweep", rows),
        "16 test glyphs (seed 0), σ_y = 0 (the paper's noiseless setting): HRDIS with β from 0 (consistency",
        "regularisation, CR) through 0.2 (the paper's hybrid, HR) to 1 (denoising regularisation, DR =",
        "RED-diff), at the paper's per-task steps and learning rates. *FD*: Fréchet distance to 256 other",
        "test glyphs; *HF*: high-frequency energy, the mean squared Laplacian of the outputs",
        "(`metrics.laplacian_energy`). Notebook 08 reads this table and re-runs the HR and DR rows of box",
        "inpainting live.",
        "",
        *table(["task", "β", "PSNR", "SSIM", "accuracy", "FD", "HF", "NFE", "seconds"], body),
        "",
        "Highest PSNR per task: " + "; ".join(best) + ".",
        "",
    ]


def section_ddc() -> list[str]:
    rows = read_csv("ddc")
    paired, tuning = read_csv("ddc_paired"), read_csv("ddc_paired_tuning")
    body = [[TASK_NAMES.get(r["task"], r["task"]), r["method"], num(r["psnr"]), num(r["ssim"], 3),
             num(r["accuracy"]), integer(r["nfe"]), integer(r["vjp"]), num(r["seconds"]),
             num(r["speedup_vs_dps"], 1), num(r["batch16_seconds_best_of_5"], 3)] for r in rows]
    kurt = read_csv("ddc_kurtosis")
    pairs = list(dict.fromkeys((r["task"], r["method"]) for r in kurt))
    kbody = []
    for task, method in pairs:
        ks = [float(r["kurtosis"]) for r in kurt if (r["task"], r["method"]) == (task, method)]
        kbody.append([TASK_NAMES.get(task, task), method, str(len(ks)), num(statistics.fmean(abs(k) for k in ks), 3),
                      num(max(abs(k) for k in ks), 3)])
    return [
        "## Learned data consistency: DDC against DPS and DDNM",
        "",
        *provenance("ddc", rows),
        *provenance("ddc_kurtosis", None, "the excess kurtosis of ε̂ at every network call"),
        "16 test glyphs (seed 0), σ_y = 0.05, the tasks' trained parameters (random inpainting drops 92 % of",
        "the pixels), every method in one process: `dps-1000` (DPS, its defaults), `ddnm-100` (DDNM+, its",
        "defaults), `ddc-5` (the generalised network `glyphs32-ddc`, the paper's 5 steps) and `ddc-5-sr4`",
        "(the SR×4 specialist `glyphs32-ddc-sr4`). *× DPS*: DPS's seconds over the row's; *batch 16*: DDC on",
        "16 problems in one batch, best of 5 (target ≤ 1 s).",
        "",
        *table(["task", "method", "PSNR", "SSIM", "accuracy", "NFE", "VJP", "seconds", "× DPS", "batch 16 (s)"], body),
        "",
        "Is the network's input still Gaussian? The excess kurtosis of ε̂ at each network call (0 for a",
        "Gaussian):",
        "",
        *table(["task", "method", "calls", "mean absolute excess kurtosis", "largest"], kbody),
        "",
        "### Glyph by glyph, three seeds",
        "",
        *provenance("ddc_paired", paired),
        *provenance("ddc_paired_tuning", tuning, "DPS-100's ζ sweep"),
        "32 test glyphs (seed 0, in two batches of 16), σ_y = 0.05, solver seeds 0, 1, 2 (A⁺y: one, it is",
        "deterministic); `ddc-N`: the generalised network at N steps; `dps-100`: DPS at 100 steps with ζ tuned per",
        "task on 16 other test glyphs (the sweep below). One row per glyph and seed in the CSV; notebook 07 forms",
        "its paired intervals from them. Means over glyphs and seeds:",
        "",
        *table(["task", "method", "glyph × seed", "PSNR", "SSIM", "correct"],
               [[TASK_NAMES.get(t, t), m, n, q, ss, c] for t, m, n, q, ss, c in
                per_image_means(paired, ["task", "method"], ["psnr", "ssim", "correct"])]),
        "",
        "DPS-100's ζ sweep (16 test glyphs of the seed-1 stream, solver seed 0; mean PSNR):",
        "",
        *table(["task", "ζ", "PSNR"], [[TASK_NAMES.get(r["task"], r["task"]), r["zeta"], num(r["psnr"])]
                                      for r in tuning]),
        "",
    ]


def section_min_steps() -> list[str]:
    rows = read_csv("min_steps")
    solvers = list(dict.fromkeys(r["solver"] for r in rows))
    counts = list(dict.fromkeys(r["steps"] for r in rows))
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    body = []
    for task in tasks:
        base = next(r["pseudo_inverse_psnr"] for r in rows if r["task"] == task)
        for solver in solvers:
            rs = {r["steps"]: r["psnr"] for r in rows if (r["task"], r["solver"]) == (task, solver)}
            if rs:
                body.append([TASK_NAMES.get(task, task), solver, num(base)] + [num(rs[c]) for c in counts])
    return [
        "## The fewest meaningful steps per solver",
        "",
        *provenance("min_steps", rows),
        "8 test glyphs (seed 0, solver seed 0), σ_y = 0.05, every other setting at the solver's defaults; mean",
        "PSNR (dB) at each step count (PnP-ADMM: iterations, DCDP: rounds, DAPS: annealing levels). A count is",
        "meaningful when it reaches A⁺y's PSNR (nan: the solver refuses the count). Below its minimum",
        "(`invlab.solvers.defaults.MIN_STEPS`, the smallest count from which every larger one is meaningful on",
        "every task) a solver on glyphs32 still runs, with a warning that names the minimum.",
        "",
        *table(["task", "solver", "A⁺y"] + [f"{c}" for c in counts], body),
        "",
    ]


def section_defaults() -> list[str]:
    rows = read_csv("defaults")
    tol = script_constant("check_defaults", "TOLERANCE")
    solvers = [r for r in rows if r["within"] != "reference"]
    out = [r for r in solvers if r["within"] != "True"]
    body = [[TASK_NAMES.get(r["task"], r["task"]), r["method"], num(r["psnr"]),
             "—" if r["within"] == "reference" else f"{num(r['gap'])} ({num(r['gap_low'])} to {num(r['gap_high'])})",
             {"True": "yes", "False": "**no**"}.get(r["within"], "reference"), integer(r["nfe"]), num(r["seconds"], 1)]
            for r in sorted(rows, key=lambda r: (list(tol).index(r["task"]) if r["task"] in tol else 9,
                                                 -float(r["psnr"])))]
    lines = [
        "## Every solver at its defaults, on glyphs no default was tuned on",
        "",
        *provenance("defaults", rows),
        "16 test glyphs of stream 0 (the tuning uses stream 1), σ_y = 0.05, no hyperparameter given (DDC with the",
        "shipped network for the task). Gap: the task's best mean PSNR minus the solver's, with its paired",
        "bootstrap 95 % interval. The rule for the defaults: no solver more than "
        + ", ".join(f"{v:g} dB below the best on {TASK_NAMES.get(k, k)}" for k, v in tol.items())
        + f". **{len(solvers) - len(out)} of {len(solvers)}** (solver, task) pairs meet it; outside: "
        + (", ".join(f"{r['method']} on {TASK_NAMES.get(r['task'], r['task'])} ({num(r['gap'])} dB)" for r in out)
           or "none") + ".",
        "",
        *table(["task", "solver", "PSNR", "gap to the best (95 % CI)", "within", "NFE", "seconds"], body),
        "",
    ]
    if (RESULTS / "defaults_noiseless.csv").exists():
        noiseless = read_csv("defaults_noiseless")
        nl = {r["method"]: r for r in noiseless if r["task"] == "sr4"}
        if "dps" in nl and "dcdp" in nl:
            speed = float(nl["dps"]["seconds"]) / float(nl["dcdp"]["seconds"])
            lines += [*provenance("defaults_noiseless", noiseless, label="noiseless"),
                      f"Noiseless SR×4 (σ_y = 0), same glyphs: DCDP at its defaults {num(nl['dcdp']['psnr'])} dB in "
                      f"{num(nl['dcdp']['seconds'], 1)} s, DPS at its 1000 steps {num(nl['dps']['psnr'])} dB in "
                      f"{num(nl['dps']['seconds'], 1)} s: DCDP is {speed:.0f}× faster and "
                      + ("at or above" if float(nl["dcdp"]["psnr"]) >= float(nl["dps"]["psnr"]) else "**below**")
                      + " DPS's PSNR (the target: ≥ 50× faster at ≥ DPS's PSNR).", ""]
    return lines


def runs_by(rows: list[dict], arm, key: str = "psnr") -> dict:
    """``key`` per (seed, image) for each arm (``arm(row)`` names a row's arm), arms in first-seen order."""
    by: dict = {}
    for r in rows:
        by.setdefault(arm(r), {})[r["seed"], r["image"]] = float(r[key])
    return by


def mean_and_gap(v: dict, ref: dict) -> list[str]:
    """An arm's mean and its mean paired difference to the reference arm ``ref`` ("—" for ``ref`` itself)."""
    return [num(sum(v.values()) / len(v)), "—" if v is ref else num(sum(v[k] - ref[k] for k in v) / len(v))]


def section_hrdis_paper() -> list[str]:
    rows = read_csv("hrdis_paper")
    by, first = runs_by(rows, lambda r: (r["task"], r["arm"])), {}
    body = [[TASK_NAMES.get(task, task), arm, *mean_and_gap(v, by[task, first.setdefault(task, arm)]), str(len(v))]
            for (task, arm), v in by.items()]
    return [
        "## HRDIS: the paper's phase-retrieval warm start and noisy-data setting",
        "",
        *provenance("hrdis_paper", rows),
        "32 held-out glyphs (the test split's stream 1, the one the defaults are tuned on) × 3 solver seeds,",
        "σ_y = 0.05, every other setting at the defaults. Mean PSNR (dB) and the mean paired difference to the",
        "task's first arm over the glyph × seed runs; notebook 08 gives the bootstrap intervals. Neither setting",
        "is a default: both lose on glyphs.",
        "",
        *table(["task", "arm", "PSNR", "minus the first arm", "runs"], body),
        "",
    ]


def section_hrdis_efficiency() -> list[str]:
    rows = read_csv("hrdis_efficiency")
    by = runs_by(rows, lambda r: r["run"])
    first, nfe = next(iter(by.values())), {r["run"]: r["nfe"] for r in rows}
    body = [[run, *mean_and_gap(v, first), str(len(v)), integer(nfe[run])] for run, v in by.items()]
    return [
        "## HRDIS at 100 steps against RED-diff at 100 and 1000",
        "",
        *provenance("hrdis_efficiency", rows),
        "The paper's efficiency claim (HRDIS at 100 steps matches RED-diff at 1000) on the first 32 test glyphs",
        "× 3 solver seeds, SR×4 with noiseless data, every other setting at the defaults. Mean PSNR (dB) and the",
        "mean paired difference to HRDIS at 100 over the glyph × seed runs; notebook 08 gives the bootstrap",
        "intervals.",
        "",
        *table(["run", "PSNR", "minus HRDIS 100", "runs", "NFE"], body),
        "",
        *section_hrdis_equal_steps(),
        *section_hrdis_diversity(),
    ]


def section_hrdis_diversity() -> list[str]:
    rows = read_csv("hrdis_diversity")
    body = []
    for beta in dict.fromkeys(r["beta"] for r in rows):
        v = [float(r["std"]) for r in rows if r["beta"] == beta]
        body.append([f"{float(beta):g}", str(len(v)), num(sum(v) / len(v), 4), num(min(v), 4), num(max(v), 4)])
    return [
        *provenance("hrdis_diversity", rows),
        "Diversity: box inpainting of each of the first 16 test glyphs repeated 8 times, noiseless; per glyph the",
        "pixel-wise standard deviation over the 8 samples, averaged over the image (notebook 08 pairs the glyphs):",
        "",
        *table(["β", "glyphs", "mean spread", "smallest", "largest"], body),
        "",
    ]


def section_hrdis_equal_steps() -> list[str]:
    rows = read_csv("hrdis_equal_steps")
    arm = lambda r: (r["task"], float(r["beta"]))                                  # noqa: E731
    by, correct = runs_by(rows, arm), runs_by(rows, arm, "correct")
    body = [[TASK_NAMES.get(task, task), f"{beta:g}", *mean_and_gap(v, by[task, 0.2]),
             num(sum(correct[task, beta].values()) / len(v), 3), str(len(v))] for (task, beta), v in by.items()]
    return [
        *provenance("hrdis_equal_steps", rows),
        "HRDIS (β = 0.2) against RED-diff (β = 1) at equal steps (each task's default) on the same 32 glyphs × 3",
        "seeds, noiseless data: mean PSNR (dB), the mean paired difference to HRDIS (β = 0.2), and classifier",
        "accuracy (notebook 08 gives the intervals):",
        "",
        *table(["task", "β", "PSNR", "minus β = 0.2", "accuracy", "runs"], body),
        "",
    ]


def section_latent() -> list[str]:
    rows = read_csv("latent")
    body = [[r["label"], num(r["psnr"]), num(r["ssim"], 3), num(r["accuracy"]), num(r["seconds"], 1),
             integer(r["unet"]), integer(r["encoder"]), integer(r["decoder"]), integer(r["decoder_vjp"])]
            for r in rows]
    spaces = read_csv("latent_spaces")
    sbody = [[TASK_NAMES.get(r["task"], r["task"]), "I (latent)" if r["dc_space"] == "latent" else "II (pixel)",
              num(r["psnr"]), num(r["ssim"], 3), num(r["seconds"], 1), integer(r["unet"]), integer(r["decoder"])]
             for r in spaces]
    tuning = read_csv("latent_tuning")
    tbody = [[integer(r["rounds"]), integer(r["dc_steps"]), num(r["psnr"]), num(r["ssim"], 3), num(r["accuracy"]),
              num(r["seconds"], 1), integer(r["unet"]), integer(r["decoder"])] for r in tuning]
    return [
        "## Latent diffusion: five latent solvers on glyphs32-latent",
        "",
        *provenance("latent", rows),
        "SR×4, σ_y = 0, 16 test glyphs, one seed: Latent-DPS, PSLD and ReSample at 250 steps (each method's step",
        "size rescaled to that count), latent DCDP with its data step in latent space (approach I) or in pixel space",
        "(approach II) at the paper's K = 10 rounds and τ = 100 data steps, and pixel DCDP on `glyphs32`. The",
        "columns UNet, encoder, decoder count network passes; *decoder VJP* the passes backpropagated through",
        "the decoder.",
        "",
        *table(["method", "PSNR", "SSIM", "accuracy", "seconds", "UNet", "encoder", "decoder", "decoder VJP"], body),
        "",
        *provenance("latent_spaces", spaces),
        "Approach I against II on three tasks, same glyphs and settings (the paper recommends II for blurs",
        "and I for SR and inpainting, with II at least 5× faster):",
        "",
        *table(["task", "approach", "PSNR", "SSIM", "seconds", "UNet", "decoder"], sbody),
        "",
        *provenance("latent_tuning", tuning),
        "Approach I on SR×4 with other rounds K and data steps τ, so that it is judged after tuning too:",
        "",
        *table(["K", "τ", "PSNR", "SSIM", "accuracy", "seconds", "UNet", "decoder"], tbody),
        "",
        *section_latent_resample(),
    ]


def section_latent_resample() -> list[str]:
    rows = read_csv("latent_resample_tuning")
    body = [[integer(r["steps"]), f"{float(r['scale']):g}", f"{float(r['factor']):g}×", num(r["psnr"]),
             num(r["ssim"], 3), num(r["seconds"], 1), integer(r["decoder_vjp"])] for r in rows]
    return [
        *provenance("latent_resample_tuning", rows),
        "ReSample's step scale on SR×4, σ_y = 0, 8 held-out glyphs (the test split's stream 1): the authors' 0.5",
        "at 500 steps under the rule 0.5·500/steps, and 2× and 4× it. The best row is ReSample's default for",
        "super-resolution (`invlab.solvers.defaults.TABLE`):",
        "",
        *table(["steps", "scale", "× the rule", "PSNR", "SSIM", "seconds", "decoder VJP"], body),
        "",
    ]


def section_thread_stability() -> list[str]:
    rows = read_csv("thread_stability")
    body = [[r["method"], TASK_NAMES.get(r["task"], r["task"]), integer(r["images"]), num(r["psnr_1"], 3),
             num(r["psnr_2"], 3), num(r["max_abs_diff"], 4)] for r in rows]
    worst = max(rows, key=lambda r: float(r["max_abs_diff"]))
    return [
        "## The same runs on one and on two threads",
        "",
        *provenance("thread_stability", rows),
        "Every solver of the grid at the grid's settings on the same test glyphs, problems and seeds (σ_y = 0.05),",
        "once with one torch thread and once with two, each in a fresh process. Only the order of floating-point",
        "sums changes; the last column is the largest per-image PSNR difference (dB). A claim resting on a",
        f"difference below a solver's spread is not a claim about the method. Largest: {worst['method']} on",
        f"{TASK_NAMES.get(worst['task'], worst['task'])}, {num(worst['max_abs_diff'], 4)} dB.",
        "",
        *table(["method", "task", "images", "PSNR, 1 thread", "PSNR, 2 threads", "largest |Δ| per image"], body),
        "",
    ]


def section_gallery() -> list[str]:
    rows = read_csv("gallery")
    body = []
    for task in dict.fromkeys(r["task"] for r in rows):
        rs = [r for r in rows if r["task"] == task and r["method"] != "pseudo_inverse"]
        for m in dict.fromkeys(r["method"] for r in rs):
            mr = [r for r in rs if r["method"] == m]
            body.append([TASK_NAMES.get(task, task), m, mr[0]["rank"],
                         num(sum(float(r["psnr"]) for r in mr) / len(mr)), num(mr[0]["grid_psnr"])])
    return [
        "## The reconstruction gallery",
        "",
        *provenance("gallery", rows),
        "The six solvers with the highest mean PSNR in the grid table, per task, run once more on the grid's",
        "first test glyphs at the grid's settings (σ_y = 0.05, seed 0); notebook 09 shows the images",
        "(`gallery.safetensors`, float16). *Gallery PSNR*: the mean over these glyphs; *grid PSNR*: the",
        "grid table's mean over 32 glyphs.",
        "",
        *table(["task", "method", "grid rank", "gallery PSNR", "grid PSNR"], body),
        "",
    ]


def section_scaling() -> list[str]:
    rows = read_csv("scaling")
    ran = [r for r in rows if r["runs_on_stand_in"] == "yes"]
    body = [[r["solver"], integer(r["default_nfe"]), integer(r["default_vjp"]), num(r["projected_s"], 1),
             num(r["celeba_projected_s"], 0), num(r["peak_mb"], 0)] for r in ran]
    refused = [f"`{r['solver']}` ({r['reason'].split(';')[0]})" for r in rows if r["runs_on_stand_in"] != "yes"]
    r0 = ran[0]
    return [
        "## Cost per image at 256×256 on the CPU",
        "",
        *provenance("scaling", rows),
        "SR×4 on one 3×256×256 image, σ_y = 0.05, each solver at its defaults. NFE and VJP are measured",
        "(`Result.nfe`/`.vjp` at the defaults); the seconds are **projected from measured per-step cost**:",
        "a few steps of each solver are timed on the untrained stand-in UNet, and the default counts times",
        f"the measured cost of one pass ({num(r0['pass_s'], 3)} s) and one VJP ({num(r0['vjp_s'], 3)} s), plus",
        "each solver's own per-iteration work. *CelebA architecture*: the same projection with one pass",
        f"({num(r0['celeba_pass_s'])} s) and one VJP ({num(r0['celeba_vjp_s'])} s) of a randomly initialised",
        f"UNet2DModel with the `google/ddpm-ema-celebahq-256` configuration ({int(r0['celeba_params']):,} parameters).",
        "*Peak MB*: `Result.peak_memory_bytes` on the stand-in. Notebook 10 reads this table.",
        "",
        *table(["solver", "NFE", "VJP", "projected s, stand-in", "projected s, CelebA architecture", "peak MB"],
               body),
        "",
        "Not run on the stand-in: " + "; ".join(refused) + ".",
        "",
    ]


def per_image_means(rows: list[dict], keys: list[str], values: list[str]) -> list[list[str]]:
    """One line per combination of ``keys`` (in the CSV's order): the number of images and the mean of each
    of ``values`` over them (cells empty or nan in the CSV are skipped)."""
    body = []
    for combo in dict.fromkeys(tuple(r[k] for k in keys) for r in rows):
        rs = [r for r in rows if tuple(r[k] for k in keys) == combo]
        means = []
        for v in values:
            xs = [float(r[v]) for r in rs if r.get(v, "") not in ("", "nan")]
            means.append(num(sum(xs) / len(xs), 4 if v == "residual" else 2) if xs else "")
        body.append(list(combo) + [str(len(rs))] + means)
    return body


def section_noise_robustness() -> list[str]:
    rows = read_csv("noise_robustness")
    return [
        "## Robustness to measurement noise",
        "",
        *provenance("noise_robustness", rows),
        "SR×4 on 16 test glyphs (one row per glyph in the CSV) at σ_y = 0.05, 0.2 and 0.5, at notebook 05's",
        "settings: DDiff 100 iterations, DAPS 20 annealing levels (τ = 0.01), DPS 100 steps (ζ = 6), the",
        "rest at their defaults. *Residual*: mean (y − A x̂)² per measurement value (σ_y² is where an",
        "estimate that explains the data and no more of it lands). Notebook 05 reads the per-glyph rows",
        "and reports paired differences with bootstrap intervals.",
        "",
        *table(["method", "σ_y", "glyphs", "PSNR", "classifier accuracy", "residual"],
               per_image_means(rows, ["method", "sigma_y"], ["psnr", "accuracy", "residual"])),
        "",
    ]


def section_notebook_runs() -> list[str]:
    """The benchmarks that run a notebook's long glyph experiments at the notebook's settings (the notebook reads
    their per-image rows and re-runs their first steps live as a check)."""
    samplers = read_csv("samplers")
    posterior = read_csv("posterior_glyphs")
    dpg = read_csv("dpg_early_glyphs")
    hrdis = read_csv("hrdis_steps")
    return [
        "## Notebook experiments on glyphs",
        "",
        "Each script runs the long glyph experiments of one notebook at that notebook's settings (the script's",
        "docstring lists them) and keeps one row per sample or glyph; the notebook reads the rows, computes its",
        "paired intervals from them, and re-runs the first steps of each run live to check it agrees.",
        "",
        "### Unconditional samplers (notebook 02)",
        "",
        *provenance("samplers", samplers),
        "*Confident*: the glyph classifier's top probability ≥ 0.9; *FD*: Fréchet distance in the classifier's",
        "features to as many test glyphs (sets of ≥ 64 samples).",
        "",
        *table(["sampler", "steps", "samples", "confident share", "FD", "seconds"],
               [[r[0], r[1], r[2], r[3], num(r[4]), num(r[5], 1)] for r in per_image_means(
                   samplers, ["sampler", "steps"], ["confident", "fd", "seconds"])]),
        "",
        "### DPS, ΠGDM, DDRM and DDNM on glyphs (notebook 03)",
        "",
        *provenance("posterior_glyphs", posterior),
        "σ_y = 0.05, DPS at 100 steps (ζ = 6 SR×4, 2 box inpainting), the others at their defaults.",
        "",
        *table(["task", "method", "glyphs", "PSNR", "SSIM", "classifier accuracy"],
               per_image_means(posterior, ["task", "method"], ["psnr", "ssim", "correct"])),
        "",
        "### DPS against DPG (notebook 04)",
        "",
        *provenance("dpg_early_glyphs", dpg),
        "σ_y = 0.05, 100 DDPM steps, DPS ζ = 6 (JPEG: 2, straight-through), DPG step scale 20; the residual",
        "curves along the steps are in `dpg_early_curves.csv`.",
        "",
        *table(["task", "method", "glyphs", "PSNR", "SSIM", "classifier accuracy"],
               per_image_means(dpg, ["task", "method"], ["psnr", "ssim", "correct"])),
        "",
        "### HRDIS against RED-diff by steps (notebook 08)",
        "",
        *provenance("hrdis_steps", hrdis),
        "SR×4, noiseless, the first 2 test glyphs; the per-step residuals and section 4's diversity runs are",
        "in `hrdis_steps.safetensors`.",
        "",
        *table(["run", "glyphs", "PSNR", "classifier accuracy", "seconds"],
               per_image_means(hrdis, ["run"], ["psnr", "correct", "seconds"])),
        "",
    ]


def section_print_only() -> list[str]:
    items = [
        ("python benchmarks/bench_operators.py",
         "the median wall time of every operator's forward map (and adjoint where linear) on a (16, 1, 32, 32)"
         " glyph batch and a (1, 3, 256, 256) image, targets 5 ms and 50 ms per call"),
        ("python benchmarks/bench_solvers.py",
         "each guidance and projection solver's overhead over its own network passes (target ≤ 1.10) and its"
         " batching gain (16 single calls against one batched call, target ≥ 5×) on SR×4 glyphs;"
         " `--methods red_diff,hrdis` adds the ratio with the operator's cost taken out"),
        ("python benchmarks/bench_splitting.py",
         "DDiff's and DAPS's overhead over their network passes (target ≤ 1.10), DDiff at 1000 iterations for"
         " one glyph (target ≤ 25 s), and DDiff's quality at 1000, 250 and 100 iterations"),
    ]
    lines = ["## Benchmarks that print their table", "",
             "These scripts print a Markdown table and write no results file, so this report holds no figures",
             "of theirs; run them to measure on your machine.", ""]
    for cmd, what in items:
        lines.append(f"- `{cmd}`: {what}.")
    return lines + [""]


SECTIONS = [section_prior, section_consistency, section_latent_prior, section_gmm, section_grid, section_gallery,
            section_defaults, section_purification, section_hrdis, section_hrdis_paper, section_hrdis_efficiency,
            section_ddc, section_latent,
            section_scaling, section_noise_robustness, section_min_steps, section_thread_stability,
            section_notebook_runs, section_print_only]


def generate() -> str:
    lines = intro()
    for s in SECTIONS:
        lines += s()
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def stamp(name: str, command: str, rows: str | None = None) -> None:
    """Record a run of ``command`` on this machine, today, in ``<name>.meta.json``: it replaces every
    earlier run, or with ``rows`` ("column=v1,v2": the rows a partial re-run replaced) only those
    rows' run, the earlier runs keeping the rest."""
    path = RESULTS / f"{name}.meta.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    script = next((w for w in command.split() if w.startswith("benchmarks/") and w.endswith(".py")), None)
    if script is None:
        raise SystemExit(f"--command: expected a 'python benchmarks/<script>.py ...' command, got {command!r}")
    run = {"command": command, "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
           "date": datetime.date.today().isoformat()}
    try:
        import torch
        run["torch"], run["threads"] = torch.__version__, torch.get_num_threads()
    except ImportError:
        pass
    words = command.split()
    if "--threads" in words[:-1] and words[words.index("--threads") + 1] != "0":
        run["threads"] = int(words[words.index("--threads") + 1])
    runs = [run]
    if rows:
        col, sep, vals = rows.partition("=")
        if not sep or not col or not vals:
            raise SystemExit(f"--rows: expected column=value1,value2, got {rows!r}")
        run["rows"] = {col: vals.split(",")}
        runs = []
        for r in old.get("runs", []):
            sel = r.get("rows") or {col: "others"}
            if col in sel and sel[col] != "others":
                sel = {col: [v for v in sel[col] if v not in run["rows"][col]]}
                if not sel[col]:
                    continue
            runs.append({**r, "rows": sel})
        runs.append(run)
    meta = {k: v for k, v in old.items() if k in ("file", "notes") and rows}
    meta.update({"script": script, "runs": runs, "provenance": "runs recorded by tools/benchmarks_readme.py --stamp"
                 + (f"; earlier: {old['provenance']}" if rows and old.get("provenance") else "")})
    if "file" in old:
        meta["file"] = old["file"]
    path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if benchmarks/README.md differs from the output")
    ap.add_argument("--stamp", metavar="NAME", help="record a fresh run of results/NAME.csv in its sidecar")
    ap.add_argument("--command", help="with --stamp: the command that was run")
    ap.add_argument("--rows", help="with --stamp: column=v1,v2, the rows a partial re-run replaced")
    args = ap.parse_args(argv)
    if args.stamp:
        if not args.command:
            ap.error("--stamp needs --command")
        stamp(args.stamp, args.command, args.rows)
        return 0
    text = generate()
    if args.check:
        current = README.read_text() if README.exists() else ""
        if current == text:
            return 0
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(), "benchmarks/README.md (committed)",
                                    "benchmarks/README.md (generated)", lineterm="", n=1)
        print("\n".join(list(diff)[:60]), file=sys.stderr)
        print("benchmarks/README.md is out of date: run `python tools/benchmarks_readme.py`", file=sys.stderr)
        return 1
    README.write_text(text)
    print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
