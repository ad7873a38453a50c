"""Result tables shared by the benchmark scripts: a CSV (read by the notebooks), its Markdown twin
(pasted into ``benchmarks/README.md``), and the merge that lets ``--only`` re-run some rows."""
from __future__ import annotations

import csv
import os
from typing import Callable


def columns(rows: list[dict]) -> list[str]:
    """Every key of every row, in first-seen order."""
    return list(dict.fromkeys(k for r in rows for k in r))


def write_csv(path: str, rows: list[dict], keys: list[str] | None = None) -> list[str]:
    """Write ``rows`` to ``path`` (folders created) under ``keys`` (default: :func:`columns`);
    returns the columns. A row without some column leaves its cell empty."""
    keys = list(keys) if keys is not None else columns(rows)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)
    return keys


def markdown(rows: list[dict], keys: list[str]) -> list[str]:
    """The rows as the lines of a Markdown table (empty cells where a row lacks a column)."""
    return (["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            + ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows])


def write_tables(path: str, rows: list[dict], preamble: str) -> list[str]:
    """``path`` (a .csv) and the same table in Markdown beside it (.md) under ``preamble``; prints
    the Markdown and returns the columns."""
    if not path.endswith(".csv"):
        raise ValueError(f"path: expected a .csv file, got {path!r}")
    keys = write_csv(path, rows)
    md = [preamble + "\n", *markdown(rows, keys)]
    with open(path[:-4] + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    return keys


def merge_rows(path: str, rows: list[dict], key: Callable[[dict], tuple]) -> list[dict]:
    """The rows already in ``path`` with those whose ``key`` is among the new ``rows`` replaced in
    place, then the new rows with a new key (a re-run of some methods replaces exactly their old
    rows and keeps the table's order)."""
    if not os.path.exists(path):
        return rows
    new = {key(r): r for r in rows}
    with open(path) as f:
        old = list(csv.DictReader(f))
    merged = [new.get(key(r), r) for r in old]
    seen = {key(r) for r in old}
    return merged + [r for r in rows if key(r) not in seen]


def script_args(doc: str, argv=None, flags: Callable | None = None):
    """The command line of a benchmark script: ``--threads N`` (torch's intra-op threads; 0 keeps torch's
    default) and whatever ``flags(parser)`` adds; parsed, the threads set, the namespace returned. The CPU
    kernels are pinned first (:func:`invlab.pin_cpu_kernels`), as the notebooks pin them, so a stored run
    retraces in a notebook on any x86-64 machine."""
    import argparse

    import torch

    import invlab
    invlab.pin_cpu_kernels()
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    if flags is not None:
        flags(ap)
    args = ap.parse_args(argv)
    if args.threads < 0:
        ap.error(f"--threads: must be >= 0, got {args.threads}")
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def seeds_and_glyphs(ap, glyphs: str = "glyphs") -> None:
    """The ``--n`` and ``--seeds`` flags of the scripts that pair runs over glyphs × solver seeds."""
    ap.add_argument("--n", type=int, default=32, help=f"{glyphs} (default 32)")
    ap.add_argument("--seeds", type=int, default=3, help="generator seeds per glyph (default 3)")


def check_seeds_and_glyphs(args) -> None:
    if args.n < 2 or args.seeds < 1:
        raise SystemExit(f"--n: need at least 2 glyphs and --seeds at least 1, got {args.n} and {args.seeds}")


def seeded_psnr(solve: Callable, x, seeds: int, cols: dict):
    """``solve(generator)`` for generator seeds 0 … seeds − 1: the [seeds, images] PSNR against ``x``, one row
    per seed and image (``cols``, then seed, image, PSNR, NFE and seconds) and the last run's Result."""
    import torch

    from invlab import metrics
    rows, per_seed = [], []
    for seed in range(seeds):
        r = solve(torch.Generator().manual_seed(seed))
        q = metrics.psnr(r.x, x)
        per_seed.append(q)
        rows += [{**cols, "seed": seed, "image": i, "psnr": f"{float(v):.4f}", "nfe": r.nfe,
                  "seconds": f"{r.seconds:.2f}"} for i, v in enumerate(q)]
    return torch.stack(per_seed), rows, r
