"""Regenerate executed notebooks from their py:percent sources.

    python tools/sync_notebooks.py [--timings] notebooks/01_forward_operators.py [...]
    python tools/sync_notebooks.py --text-only notebooks/01_forward_operators.py [...]

For each source: build the .ipynb with jupytext (cell tags kept), execute it in the notebooks
folder with the project's kernel, and write it with volatile metadata stripped
(``nbstripout --keep-output --keep-count``), so the committed twin is exactly what nbval checks.
``--timings`` prints the five slowest cells of each notebook (for the 120-s budget).
``--text-only`` copies only the markdown cells of the source into the executed twin, without executing
it: allowed only when every code cell of the source is the same as in the twin (else it refuses and
names the first changed cell), so the outputs stay those of the code beside them.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbconvert.preprocessors import ExecutePreprocessor


def cell_seconds(nb) -> list[tuple[float, int, str]]:
    """(seconds, cell index, first source line) of every executed code cell, from nbclient's
    timing metadata (before nbstripout removes it)."""
    from datetime import datetime
    out = []
    for i, cell in enumerate(nb.cells):
        ex = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            a, b = (datetime.fromisoformat(ex[k].replace("Z", "+00:00"))
                    for k in ("iopub.execute_input", "shell.execute_reply"))
            out.append(((b - a).total_seconds(), i, cell.source.splitlines()[0] if cell.source else ""))
    return out


# The kernel as `ipykernel install` names it: what JupyterLab writes into a notebook it saves.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def lab_form(nb) -> None:
    """Put ``nb``'s metadata in the form JupyterLab (with jupytext's contents manager) saves it, so that
    opening a committed notebook and saving it changes nothing: Lab names the kernel by its display name
    and jupytext drops ``text_representation`` from an .ipynb."""
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.get("jupytext", {}).pop("text_representation", None)


def sync(py: Path, timeout: int = 900, timings: bool = False) -> float:
    nb = jupytext.read(py)
    lab_form(nb)
    t0 = time.time()
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(py.parent)}})
    seconds = time.time() - t0
    if timings:
        for sec, i, first in sorted(cell_seconds(nb), reverse=True)[:5]:
            print(f"  cell {i:3d}: {sec:6.1f} s  {first[:70]}")
    out = py.with_suffix(".ipynb")
    nbformat.write(nb, out)
    subprocess.run([sys.executable, "-m", "nbstripout", "--keep-output", "--keep-count", str(out)], check=True)
    return seconds


def sync_text(py: Path) -> None:
    """Copy the markdown cells of ``py`` into its executed twin; refuse if any code cell differs."""
    src = jupytext.read(py)
    out = py.with_suffix(".ipynb")
    twin = nbformat.read(out, as_version=4)
    kinds = [c.cell_type for c in src.cells], [c.cell_type for c in twin.cells]
    if kinds[0] != kinds[1]:
        raise SystemExit(f"{py}: the cells changed kind or number; run without --text-only to execute it")
    for i, (a, b) in enumerate(zip(src.cells, twin.cells)):
        if a.cell_type == "code" and (a.source != b.source or a.metadata.get("tags") != b.metadata.get("tags")):
            raise SystemExit(f"{py}: code cell {i} changed ({a.source.splitlines()[:1]}); run without --text-only")
        if a.cell_type == "markdown":
            b.source = a.source
            b.metadata = a.metadata
    nbformat.write(twin, out)
    subprocess.run([sys.executable, "-m", "nbstripout", "--keep-output", "--keep-count", str(out)], check=True)


def main(argv: list[str]) -> None:
    timings, text_only = "--timings" in argv, "--text-only" in argv
    for arg in (a for a in argv if a not in ("--timings", "--text-only")):
        if text_only:
            sync_text(Path(arg))
            print(f"{arg}: markdown cells copied, outputs kept")
            continue
        s = sync(Path(arg), timings=timings)
        print(f"{arg}: executed in {s:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
