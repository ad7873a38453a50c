"""Regenerate executed notebooks from their py:percent sources.

    python tools/sync_notebooks.py notebooks/01_forward_operators.py [...]

For each source: build the .ipynb with jupytext (cell tags kept), execute it in the notebooks
folder with the project's kernel, and write it with volatile metadata stripped
(``nbstripout --keep-output --keep-count``), so the committed twin is exactly what nbval checks.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbconvert.preprocessors import ExecutePreprocessor


def sync(py: Path, timeout: int = 900) -> float:
    nb = jupytext.read(py)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    t0 = time.time()
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(py.parent)}})
    seconds = time.time() - t0
    out = py.with_suffix(".ipynb")
    nbformat.write(nb, out)
    subprocess.run([sys.executable, "-m", "nbstripout", "--keep-output", "--keep-count", str(out)], check=True)
    return seconds


def main(argv: list[str]) -> None:
    for arg in argv:
        s = sync(Path(arg))
        print(f"{arg}: executed in {s:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
