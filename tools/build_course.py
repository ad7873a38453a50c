"""Execute the whole course in order on the embedded prior and render it to HTML.

    python tools/build_course.py --out build/course

Each notebook is rebuilt from its py:percent source, executed in the notebooks folder, and
written as HTML next to an index page; the time of each is printed and recorded in the index.
Exits non-zero if any notebook fails (its partial HTML is still written).
"""
from __future__ import annotations

import argparse
import html
import sys
import time
from pathlib import Path

import jupytext
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="build/course")
    ap.add_argument("--timeout", type=int, default=900, help="per-cell timeout in seconds")
    args = ap.parse_args(argv)
    out = (ROOT / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]*.py"))
    rows, failed = [], []
    t_all = time.time()
    for py in sources:
        nb = jupytext.read(py)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        t0 = time.time()
        status = "ok"
        try:
            ExecutePreprocessor(timeout=args.timeout, kernel_name="python3").preprocess(
                nb, {"metadata": {"path": str(py.parent)}})
        except CellExecutionError as e:
            status = "FAILED"
            failed.append(py.name)
            print(str(e)[-2000:], file=sys.stderr)
        secs = time.time() - t0
        body, _ = HTMLExporter().from_notebook_node(nb)
        (out / f"{py.stem}.html").write_text(body, encoding="utf-8")
        rows.append((py.stem, secs, status))
        print(f"{py.stem:<36} {secs:7.1f} s  {status}", flush=True)
    total = time.time() - t_all
    items = "\n".join(f'<li><a href="{html.escape(n)}.html">{html.escape(n)}</a> — {s:.1f} s {st}</li>'
                      for n, s, st in rows)
    (out / "index.html").write_text(
        f"<!doctype html><meta charset='utf-8'><title>invlab course</title><h1>invlab — the course</h1>"
        f"<p>Executed on the embedded prior in {total:.0f} s.</p><ol>{items}</ol>", encoding="utf-8")
    print(f"\nThe rendered course is in {out}/index.html ({len(rows)} notebooks, {total:.0f} s in all)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
