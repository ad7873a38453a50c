"""Each notebooks/NN_*.py (the source) has an executed .ipynb twin with the same cells.

Compared by content — the .ipynb converted to py:percent in memory with the repository's
jupytext.toml — never by file times, which mean nothing after a clone.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

NB = Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted(NB.glob("[0-9][0-9]*.py"))


def test_there_are_notebooks():
    assert len(SOURCES) >= 2


@pytest.mark.parametrize("py", SOURCES, ids=[p.stem for p in SOURCES])
def test_ipynb_matches_py_source(py):
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make notebooks`"
    out = subprocess.run([sys.executable, "-m", "jupytext", "--to", "py:percent", "-o", "-", str(ipynb)],
                         capture_output=True, text=True, check=True, cwd=NB.parent).stdout
    assert out == py.read_text(), f"{ipynb.name} differs from {py.name}: run `make notebooks`"


@pytest.mark.parametrize("py", SOURCES, ids=[p.stem for p in SOURCES])
def test_ipynb_is_executed_and_small(py):
    ipynb = py.with_suffix(".ipynb")
    nb = json.loads(ipynb.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code), f"{ipynb.name} has unexecuted cells"
    assert ipynb.stat().st_size < 2_500_000, f"{ipynb.name} is over 2.5 MB"


@pytest.mark.parametrize("py", SOURCES, ids=[p.stem for p in SOURCES])
def test_ipynb_is_stored_as_jupyterlab_saves_it(py):
    """Opening a committed notebook in JupyterLab and saving it must not change the file (the browser
    test checks it in Lab itself): the kernel under ipykernel's display name, no jupytext
    text_representation, nbformat's JSON layout."""
    sys.path.insert(0, str(NB.parent / "tools"))
    import nbformat
    from sync_notebooks import KERNELSPEC, lab_form
    ipynb = py.with_suffix(".ipynb")
    text = ipynb.read_text()
    nb = nbformat.reads(text, as_version=4)
    assert nb.metadata["kernelspec"] == KERNELSPEC
    lab_form(nb)
    assert nbformat.writes(nb) + "\n" == text, f"{ipynb.name} is not in the form Lab saves: run `make notebooks`"
