"""Benchmark grids: solvers × tasks × σ_y × seeds on test glyphs, one tidy row per image
(notebook 09; ``invlab bench``).

Each grid cell (method, task, σ_y, seed) solves its ``n`` problems in one batched call and is
cached on disk under a hash of everything that determines it — the cell's configuration, the
hyperparameters, the prior's weights and the package version — so re-running a notebook re-uses
finished cells.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Iterable

import torch

from . import __version__

__all__ = ["run_grid", "run_sharded", "cell_key", "summarize", "write_csv", "COLUMNS", "network_seconds",
           "paired_overhead", "overhead_ratio", "GRID_TASKS", "GRID_METHODS", "GRID_HYPER", "GRID_TASK_HYPER",
           "grid_hyper"]

# The course benchmark (``benchmarks/bench_grid.py``, notebook 09): every solver on seven tasks at
# about 100 network passes each. A solver runs at its defaults (invlab.solvers.defaults) unless it
# is listed in GRID_HYPER, which brings the 1000-step methods to the same budget (grid_hyper).
GRID_TASKS = ("sr4", "box_inpaint", "gaussian_blur", "motion_blur", "random_inpaint", "phase_retrieval", "hdr")
GRID_METHODS = ("pseudo_inverse", "prior_sample", "dps", "pigdm", "ddrm", "ddnm", "dpg", "ddiff", "pnp_admm",
                "diffpir", "daps", "dcdp", "red_diff", "hrdis", "ddc")
GRID_HYPER = {
    "dps": dict(steps=100),                          # ζ default: the paper's ζ × 1000/steps
    "dpg": dict(steps=100, scale=20.0),              # the best step at 100 steps on SR×4 (notebook 04)
    "ddiff": dict(steps=100),
    "daps": dict(annealing_steps=50, ode_steps=2, langevin_steps=20),
}
# ... and where one task's default alone is far above the budget (HRDIS's table: 500 steps for phase retrieval)
GRID_TASK_HYPER = {
    ("red_diff", "phase_retrieval"): dict(steps=100),
    ("hrdis", "phase_retrieval"): dict(steps=100),
}


def grid_hyper(method: str, task: str) -> dict:
    """The settings the course benchmark gives ``method`` on ``task`` on top of its defaults."""
    return {**GRID_HYPER.get(method, {}), **GRID_TASK_HYPER.get((method, task), {})}

COLUMNS = ("method", "task", "sigma_y", "seed", "image", "psnr", "ssim", "lpips", "classifier_acc", "fd",
           "residual", "nfe", "vjp", "seconds", "peak_memory_bytes")


def cache_folder(cache_dir=None) -> Path:
    """Where benchmark cells are cached: ``cache_dir``, else ``$INVLAB_CACHE/bench``."""
    root = cache_dir or os.path.join(os.environ.get("INVLAB_CACHE", os.path.expanduser("~/.cache/invlab")), "bench")
    return Path(root)


def _prior_fingerprint(prior) -> str:
    unet = getattr(prior, "unet", None)
    if unet is None:
        return getattr(prior, "name", type(prior).__name__)
    h = hashlib.sha256()
    for k, v in sorted(unet.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().float().cpu().numpy().tobytes()[:4096])
        h.update(str(float(v.float().sum())).encode())
    return h.hexdigest()[:16]


def cell_key(method: str, task: str, sigma_y: float, seed: int, n: int, hyper: dict, prior_id: str) -> str:
    cfg = {"method": method, "task": task, "sigma_y": sigma_y, "seed": seed, "n": n, "hyper": hyper,
           "prior": prior_id, "version": __version__}
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _solve_cell(method, task, sigma_y, seed, n, hyper, prior):
    from . import metrics
    from .data import glyphs
    from .problems import make_problem
    from .solvers import SOLVERS
    x, labels = glyphs(n, split="test", seed=0)
    x = x.to(getattr(prior, "device", "cpu"))
    problem = make_problem(task, x, sigma_y=sigma_y, seed=seed)
    res = SOLVERS[method](problem, prior, generator=torch.Generator().manual_seed(seed), **hyper)
    est = res.x.clamp(-1, 1)
    psnr, ssim = metrics.psnr(est, x), metrics.ssim(est, x)
    try:
        lp = metrics.lpips(est, x).tolist()
    except metrics.LpipsUnavailable:
        lp = [math.nan] * n
    acc = metrics.classifier_accuracy(est, labels)
    fd = metrics.frechet_distance(est, x) if n >= 2 else math.nan
    resid = metrics.residual(problem, res.x)
    return [{"method": method, "task": task, "sigma_y": sigma_y, "seed": seed, "image": i,
             "psnr": float(psnr[i]), "ssim": float(ssim[i]), "lpips": float(lp[i]), "classifier_acc": float(acc[i]),
             "fd": fd, "residual": float(resid[i]), "nfe": res.nfe, "vjp": res.vjp, "seconds": res.seconds / n,
             "peak_memory_bytes": res.peak_memory_bytes} for i in range(n)]


def _check_grid(methods, tasks, n) -> None:
    from . import TASKS
    from .solvers import SOLVERS
    for m in methods:
        if m not in SOLVERS:
            raise ValueError(f"methods: unknown method {m!r}; choose from {sorted(SOLVERS)}")
    for t in tasks:
        if t not in TASKS:
            raise ValueError(f"tasks: unknown task {t!r}; choose from {list(TASKS)}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n: must be a positive int, got {n!r}")


def run_grid(methods: Iterable[str], tasks: Iterable[str], *, sigma_y: float | Iterable[float] = 0.05, n: int = 16,
             seeds: Iterable[int] = (0,), prior="glyphs32", hyper: dict | None = None, cache_dir=None,
             use_cache: bool = True, refresh: bool = False, progress: bool = True,
             shard: tuple[int, int] = (0, 1)) -> list[dict]:
    """Run (or load from the cache) every cell of the grid and return one row per image.

    Args:
        methods, tasks: names from :data:`invlab.SOLVERS` and :data:`invlab.TASKS`.
        sigma_y: one value or several (Gaussian noise, [-1, 1] units).
        n: test glyphs per cell (the same n images in every cell).
        seeds: seeds of the measurement noise, masks and solver randomness.
        prior: a prior or its name. hyper: ``{method: {hyperparameter: value}}`` overrides.
        cache_dir: where cells are cached (default ``$INVLAB_CACHE/bench``).
        refresh: recompute cached cells and overwrite them (after a solver's code changed: the
            cache key covers the configuration, not the code).
        shard: ``(rank, world)`` — run only every world-th cell (for multi-process runs).
    Rows have the keys of :data:`COLUMNS`; "fd" (Fréchet distance of the n estimates to the n
    ground truths) and the costs are per cell, repeated on its rows; "seconds" is per image.
    """
    from .diffusion import load_prior
    methods, tasks = list(methods), list(tasks)
    sigmas = [float(sigma_y)] if isinstance(sigma_y, (int, float)) else [float(s) for s in sigma_y]
    _check_grid(methods, tasks, n)
    hyper = hyper or {}
    prior = load_prior(prior) if isinstance(prior, str) else prior
    prior_id = _prior_fingerprint(prior)
    cache = cache_folder(cache_dir)
    cells = [(m, t, s, sd) for m in methods for t in tasks for s in sigmas for sd in seeds]
    rank, world = shard
    cells = cells[rank::world]
    rows = []
    try:
        from tqdm.auto import tqdm
        it = tqdm(cells, desc="bench", disable=not progress or os.environ.get("TQDM_DISABLE") == "1")
    except ImportError:  # pragma: no cover
        it = cells
    for m, t, s, sd in it:
        hp = dict(hyper.get(m, {}))
        key = cell_key(m, t, s, sd, n, hp, prior_id)
        path = cache / f"{key}.json"
        if use_cache and not refresh and path.exists():
            rows.extend(json.loads(path.read_text()))
            continue
        cell = _solve_cell(m, t, s, sd, n, hp, prior)
        if use_cache:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(cell))
            os.replace(tmp, path)
        rows.extend(cell)
    return rows


def summarize(rows: list[dict], by=("method", "task", "sigma_y")) -> list[dict]:
    """Mean of the per-image metrics per group (costs: mean per cell)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    out = []
    for key, rs in groups.items():
        row = dict(zip(by, key))
        for col in ("psnr", "ssim", "lpips", "classifier_acc", "fd", "residual", "nfe", "vjp", "seconds"):
            vals = [r[col] for r in rs if not (isinstance(r[col], float) and math.isnan(r[col]))]
            row[col] = sum(vals) / len(vals) if vals else math.nan
        row["images"] = len(rs)
        out.append(row)
    return out


def write_csv(rows: list[dict], path) -> None:
    import csv
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(COLUMNS))
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k) for k in COLUMNS})


# ------------------------------------------------------------------------------------------------
# several processes / GPUs: torchrun launches the workers, each takes every world-th cell

def run_sharded(nproc: int, **grid_kwargs) -> list[dict]:
    """Run :func:`run_grid` in ``nproc`` processes launched by ``torchrun`` (one per GPU when
    there are GPUs: worker r uses cuda:r). Each worker writes its rows to a part file; they are
    merged back in grid order. Results are identical to a single-process run."""
    import subprocess
    import sys
    import tempfile
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc: must be a positive int, got {nproc!r}")
    _check_grid(list(grid_kwargs.get("methods", [])), list(grid_kwargs.get("tasks", [])), grid_kwargs.get("n", 16))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "grid.json"
        cfg.write_text(json.dumps({k: (list(v) if isinstance(v, (tuple, set)) else v)
                                   for k, v in grid_kwargs.items()}))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "invlab.bench", str(cfg)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise RuntimeError("nproc: the torchrun workers failed: " + " | ".join(tail))
        parts = [json.loads((Path(tmp) / f"part{r}.json").read_text()) for r in range(nproc)]
    # cells were dealt round-robin; restore the single-process order
    n = grid_kwargs.get("n", 16)
    cells = [[p[i:i + n] for i in range(0, len(p), n)] for p in parts]
    rows = []
    for i in range(max(len(c) for c in cells)):
        for c in cells:
            if i < len(c):
                rows.extend(c[i])
    return rows


def _worker(cfg_path: str) -> None:
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    kw = json.loads(Path(cfg_path).read_text())
    prior = kw.pop("prior", "glyphs32")
    if isinstance(prior, str):
        from .diffusion import load_prior
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else None
        prior = load_prior(prior, device=device)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    rows = run_grid(prior=prior, shard=(rank, world), progress=False, **kw)
    (Path(cfg_path).parent / f"part{rank}.json").write_text(json.dumps(rows))


def network_seconds(prior, batch: int, nfe: int, vjp: int) -> float:
    """Seconds for a solver call's network passes alone, back to back at batch ``batch``: ``vjp``
    forward+backward passes and ``nfe − vjp`` forwards without gradient (a VJP pass is also one of
    the call's ``nfe`` forwards, so its forward is counted once)."""
    x = torch.randn((batch,) + tuple(prior.image_shape))
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(nfe - vjp):
            prior.eps(x, 500)
    for _ in range(vjp):
        xg = x.clone().requires_grad_()
        torch.autograd.grad(prior.eps(xg, 500).sum(), xg)
    return time.perf_counter() - t0


def paired_overhead(call, prior, rounds: int = 5):
    """A solver call's cost next to its own network passes: ``rounds`` times, run ``call()`` (→ a
    ``Result``) and at once time the same passes alone (:func:`network_seconds`). Returns the
    (wall, network) pairs and the last result; :func:`overhead_ratio` reads them.

    Pairing each call with its own reference cancels the drift of a shared machine, which moves a
    9 ms batch-1 forward pass by ±15 % within a minute."""
    pairs = []
    for _ in range(rounds):
        r = call()
        pairs.append((r.seconds, network_seconds(prior, r.x.shape[0], r.nfe, r.vjp)))
    return pairs, r


def overhead_ratio(pairs, extra_seconds: float = 0.0) -> float:
    """Median over paired rounds of (wall − ``extra_seconds``) / network time; ``extra_seconds``
    takes out work a target allows on top of the network (e.g. an operator's cost)."""
    return statistics.median((w - extra_seconds) / n for w, n in pairs)


if __name__ == "__main__":
    import sys
    _worker(sys.argv[1])
