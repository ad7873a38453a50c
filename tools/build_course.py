"""Execute the whole course in order on the embedded prior and render it to HTML.

    python tools/build_course.py --out build/course [--jobs 2] [--only 00_welcome 03_posterior_sampling_dps]

Each notebook is rebuilt from its py:percent source, executed in the notebooks folder, and
written as HTML next to an index page; the time of each is printed and recorded in the index.
The index is rewritten as each notebook finishes, so an interrupted build still has one.
Math is typeset by the MathJax copy that ships with the build (``mathjax/``, from the
jupyter-server-mathjax package): the pages read offline, with nothing fetched from a CDN.

``--jobs N`` executes N notebooks at a time, each kernel with cores/N threads (the notebooks are
independent: each loads what it needs). Exits non-zero if any notebook fails (its partial HTML is
still written).
"""
from __future__ import annotations

import argparse
import html
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jupytext
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from sync_notebooks import lab_form  # noqa: E402

# MathJax 2.7 as jupyter-server-mathjax ships it; the configuration keeps nbconvert's (TeX, AMS, Safe)
MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"


def copy_mathjax(out: Path) -> None:
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise SystemExit("build_course: the jupyter-server-mathjax package is missing (it ships MathJax for "
                         "offline pages); `make install` installs it with the dev extra") from None
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (out / "mathjax" / "MathJax.js").exists():
        shutil.copytree(static, out / "mathjax", dirs_exist_ok=True)


def render(nb, path: Path) -> None:
    exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(ROOT / "tools" / "templates")],
                            mathjax_url=MATHJAX_URL)
    body, _ = exporter.from_notebook_node(nb)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(path)


def write_index(out: Path, names: list[str], rows: dict, started: float, finished: bool) -> None:
    items = []
    for n in names:
        if n in rows:
            secs, status = rows[n]
            items.append(f'<li><a href="{html.escape(n)}.html">{html.escape(n)}</a> — {secs:.1f} s {status}</li>')
        else:
            items.append(f"<li>{html.escape(n)} — not built yet</li>")
    total = time.time() - started
    state = (f"Executed on the embedded prior in {total:.0f} s." if finished else
             f"Build in progress or interrupted: {len(rows)} of {len(names)} notebooks done after {total:.0f} s.")
    tmp = out / "index.html.tmp"
    tmp.write_text(f"<!doctype html><meta charset='utf-8'><title>invlab course</title><h1>invlab — the course</h1>"
                   f"<p>{state}</p><ol>{''.join(items)}</ol>", encoding="utf-8")
    tmp.replace(out / "index.html")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="build/course")
    ap.add_argument("--timeout", type=int, default=900, help="per-cell timeout in seconds")
    ap.add_argument("--jobs", type=int, default=1, help="notebooks executed at a time (default 1)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="build only these notebooks (file stems)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error(f"--jobs: must be >= 1, got {args.jobs}")
    out = (ROOT / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]*.py"))
    if args.only:
        unknown = sorted(set(args.only) - {p.stem for p in sources})
        if unknown:
            ap.error(f"--only: no notebook named {', '.join(unknown)}; "
                     f"choose from {', '.join(p.stem for p in sources)}")
        sources = [p for p in sources if p.stem in args.only]
    copy_mathjax(out)
    if args.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:      # the kernels inherit it
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // args.jobs))
    names = [p.stem for p in sources]
    rows, failed, lock, t_all = {}, [], threading.Lock(), time.time()
    write_index(out, names, rows, t_all, finished=False)

    def build(py: Path) -> None:
        nb = jupytext.read(py)
        lab_form(nb)
        t0 = time.time()
        status = "ok"
        try:
            ExecutePreprocessor(timeout=args.timeout, kernel_name="python3").preprocess(
                nb, {"metadata": {"path": str(py.parent)}})
        except CellExecutionError as e:
            status = "FAILED"
            print(str(e)[-2000:], file=sys.stderr)
        secs = time.time() - t0
        render(nb, out / f"{py.stem}.html")
        with lock:
            rows[py.stem] = (secs, status)
            if status != "ok":
                failed.append(py.stem)
            write_index(out, names, rows, t_all, finished=False)
            print(f"{py.stem:<36} {secs:7.1f} s  {status}", flush=True)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for f in [pool.submit(build, py) for py in sources]:
            f.result()
    total = time.time() - t_all
    write_index(out, names, rows, t_all, finished=True)
    print(f"\nThe rendered course is in {out}/index.html ({len(rows)} notebooks, {total:.0f} s in all"
          f"{f', {args.jobs} at a time' if args.jobs > 1 else ''})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
