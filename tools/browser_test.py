"""The course in a real browser: JupyterLab and the rendered pages, driven by Chromium.

    python tools/browser_test.py [--out build/browser] [--notebook 03_posterior_sampling_dps.ipynb]

What a student does in the first hour, checked end to end:

1. JupyterLab starts on 127.0.0.1 with a throw-away configuration (settings, workspaces and runtime
   files in a temporary folder, a random token), as root too.
2. The notebook opens; a tab that shows unsaved changes right after opening is a failure.
3. Run All: every cell finishes, and no cell shows an error or a warning (stderr output).
4. The first slider of the notebook's widget is moved; the figure under it must change.
5. Math in the markdown cells is typeset (MathJax nodes, no raw ``$...$`` left).
6. The notebook is saved the way Lab saves it and closed; ``git status`` of the notebooks folder must
   be unchanged afterwards (Lab's save writes outputs only to the student's working copy, see below).
7. A rendered course page (``build/course/00_welcome.html``, rendered here if missing) is opened
   from disk with the network blocked; its math must be typeset by the MathJax shipped with the build.

The notebook is run from a throw-away copy in ``.browser-lab/`` at the top of the repository, the
layout ``make lab`` gives a student (``my-notebooks/``): a run and its autosaves write there only,
and the notebooks' relative paths (``../benchmarks/results``) resolve as from ``notebooks/``. Step 6
checks that opening the tracked notebooks themselves and letting Lab autosave leaves them
byte-identical. Screenshots go to ``--out``. Every process started here is
stopped at the end, also on failure. Needs Debian's ``chromium`` (``make browser-test`` installs it
and the ``playwright`` package).
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Failure(AssertionError):
    pass


def check(ok: bool, message: str) -> None:
    if not ok:
        raise Failure(message)
    print(f"  ok  {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git_status(path: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain", "--", str(path)], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


class Lab:
    """JupyterLab on 127.0.0.1 serving ``root`` with every configuration path in a temporary folder."""

    def __init__(self, root: Path, scratch: Path):
        self.root, self.port, self.token = root, free_port(), secrets.token_hex(16)
        env = dict(os.environ)
        for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                         ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                         ("IPYTHONDIR", "ipython")):
            (scratch / sub).mkdir(parents=True, exist_ok=True)
            env[var] = str(scratch / sub)
        env.pop("MPLBACKEND", None)        # as a student's Lab: inline figures (CI exports MPLBACKEND=Agg)
        cmd = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
               "--ServerApp.open_browser=False", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
               "jupyterlab.NeverCheckForUpdate"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(scratch / "lab.log", "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2)
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.5)
        self.stop()
        raise Failure(f"JupyterLab did not start (log: {scratch / 'lab.log'})")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?token={self.token}&reset"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


PROMPTS_JS = """() => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    if (!panel) return null;
    const p = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent);
    return {cells: p.length, busy: p.filter(t => t.includes('*')).length,
            done: p.filter(t => /\\d/.test(t)).length};
}"""


# every stderr/error output of the open notebook, with its cell's prompt (textContent: Lab may not lay out
# cells outside the viewport, so their innerText is empty)
STDERR_JS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => {
        const cell = e.closest('.jp-CodeCell');
        const prompt = cell ? cell.querySelector('.jp-InputArea-prompt').textContent : '?';
        return prompt + ' ' + e.textContent.trim().slice(0, 400);
    })"""


def wait_for_kernel(page, timeout_s: float, out: Path | None = None) -> None:
    """Wait until no code cell of the open notebook is queued or running, printing progress."""
    t0, last = time.time(), 0.0
    while True:
        state = page.evaluate(PROMPTS_JS)
        if state and state["cells"] and not state["busy"]:
            return
        if time.time() - t0 > timeout_s:
            if out is not None:
                page.screenshot(path=str(out / "lab_timeout.png"))
            raise Failure(f"cells still running after {timeout_s:.0f} s: {state}")
        if time.time() - last > 30:
            last = time.time()
            if state:
                print(f"  ..  {state['done']} of {state['cells']} code cells done", flush=True)
        time.sleep(1)


def dirty(page) -> bool:
    return page.locator(".jp-mod-current.jp-mod-dirty, .lm-TabBar-tab.lm-mod-current.jp-mod-dirty").count() > 0


def run_notebook(page, lab: Lab, name: str, out: Path, timeout_s: float) -> None:
    page.goto(lab.url(name))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                           ".jp-Toolbar-kernelStatus:has-text('Idle')", timeout=60_000, state="attached")
    time.sleep(2)
    check(not dirty(page), f"{name} opens without unsaved changes")
    page.screenshot(path=str(out / "lab_open.png"))
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Escape")
    page.locator("li.lm-MenuBar-item:has-text('Run')").first.click()
    page.locator(".lm-Menu-item:has-text('Run All Cells')").first.click()
    time.sleep(3)
    t0 = time.time()
    wait_for_kernel(page, timeout_s, out)
    print(f"  ..  Run All finished in {time.time() - t0:.0f} s", flush=True)
    page.screenshot(path=str(out / "lab_ran.png"), full_page=False)
    texts = page.evaluate(STDERR_JS)
    check(not texts, "no cell shows an error or a warning" + (": " + " | ".join(texts) if texts else ""))
    typeset = page.locator(".jp-MarkdownOutput mjx-container, .jp-MarkdownOutput .MathJax").count()
    check(typeset > 0, f"math in the markdown cells is typeset in Lab ({typeset} formulas)")


def move_widget(page, out: Path) -> None:
    """Move the first slider of the first widget one step to the right and compare the figure."""
    slider = page.locator(".jp-OutputArea .widget-slider .noUi-handle, .jp-OutputArea .widget-slider "
                          "input[type=range]").first
    check(slider.count() == 1, "the notebook has a widget with a slider")
    box = page.locator(".jp-OutputArea .widget-vbox, .jp-OutputArea .widget-interact").first
    box.scroll_into_view_if_needed()
    figure = box.locator("img").first
    figure.wait_for(timeout=60_000)
    before = figure.get_attribute("src")
    box.screenshot(path=str(out / "widget_before.png"))
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
        time.sleep(0.2)
    page.wait_for_function(
        """([sel, before]) => {
            const img = document.querySelector(sel);
            return img && img.getAttribute('src') !== before;
        }""", arg=[".jp-OutputArea .widget-interact img, .jp-OutputArea .widget-vbox img", before],
        timeout=120_000, polling=500)
    wait_for_kernel(page, 120)
    settled, last = False, None                  # each key press queues a callback: wait for the last figure
    for _ in range(60):
        current = box.locator("img").first.get_attribute("src")
        if current == last:
            settled = True
            break
        last = current
        time.sleep(1.5)
    check(settled, "the figure settles after the slider move")
    box.screenshot(path=str(out / "widget_after.png"))
    check(box.locator("img").first.get_attribute("src") != before, "moving the slider changes the figure")
    texts = page.evaluate(STDERR_JS)
    check(not texts, "no output shows an error or a warning after the move"
          + (": " + " | ".join(texts) if texts else ""))


def check_autosave(page, lab: Lab, tracked: str, wait_s: float) -> None:
    """Open a tracked notebook, wait past an autosave, save it with Lab's own command, close it."""
    before = git_status(ROOT / "notebooks")
    page.goto(lab.url(tracked))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    time.sleep(wait_s)
    check(not dirty(page), f"{tracked} shows no unsaved changes after {wait_s:.0f} s open")
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    time.sleep(3)
    page.goto("about:blank")
    after = git_status(ROOT / "notebooks")
    check(after == before, f"opening and saving {tracked} in Lab leaves git status unchanged"
                           f"{'' if after == before else ': ' + after.strip()}")


def check_rendered_page(browser, out: Path) -> None:
    page_file = ROOT / "build" / "course" / "00_welcome.html"
    if not page_file.exists():
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_course.py"), "--out", "build/course",
                        "--only", "00_welcome"], check=True)
    context = browser.new_context()
    blocked = []

    def route(r):
        if r.request.url.startswith("file:"):
            return r.continue_()
        blocked.append(r.request.url)
        return r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(page_file.as_uri())
    page.wait_for_function("() => window.MathJax && window.MathJax.Hub && "
                           "document.querySelectorAll('.MathJax, .MathJax_Display, mjx-container').length > 0",
                           timeout=60_000, polling=500)
    time.sleep(1)
    n = page.locator(".MathJax, .MathJax_Display, mjx-container").count()
    page.screenshot(path=str(out / "course_00_welcome.png"))
    check(n > 0, f"the rendered course page typesets its math offline ({n} formulas)")
    raw = page.evaluate("() => [...document.querySelectorAll('.jp-MarkdownOutput')]"
                        ".some(e => /\\$[^$\\s][^$]*\\$/.test(e.innerText))")
    check(not raw, "no raw $...$ left on the rendered page")
    asked = (": " + ", ".join(blocked)) if blocked else ""
    check(not blocked, f"the rendered page asks for nothing off the machine{asked}")
    context.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="build/browser")
    ap.add_argument("--notebook", default="03_posterior_sampling_dps.ipynb")
    ap.add_argument("--autosave-wait", type=float, default=10.0,
                    help="seconds to keep the tracked notebook open (Lab's autosave runs every 2 s here)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed for Run All")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"browser test: {CHROMIUM} not found; install Debian's chromium (apt-get install chromium) "
              "or set CHROMIUM to a Chromium binary", file=sys.stderr)
        return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser test: the playwright package is missing; `make browser-test` installs it", file=sys.stderr)
        return 2
    out = (ROOT / args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    status_before = git_status(ROOT)
    scratch = Path(tempfile.mkdtemp(prefix="invlab-browser-"))
    work = ROOT / ".browser-lab"             # like make lab's my-notebooks/: a run writes here only
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / args.notebook, work / args.notebook)
    for plugin, setting in (("docmanager-extension/plugin", '{"autosaveInterval": 2}'),
                            ("apputils-extension/notification", '{"fetchNews": "false"}'),
                            ("notebook-extension/tracker", '{"windowingMode": "none"}')):
        f = scratch / "work" / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(setting)
    t0 = time.time()
    lab_tracked = lab_work = None
    try:
        lab_work = Lab(work, scratch / "work")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            print(f"browser test: {args.notebook} in JupyterLab", flush=True)
            run_notebook(page, lab_work, args.notebook, out, args.timeout)
            move_widget(page, out)
            lab_work.stop()
            print("browser test: the tracked notebooks, opened and saved in Lab", flush=True)
            shutil.copytree(scratch / "work" / "settings", scratch / "tracked" / "settings", dirs_exist_ok=True)
            lab_tracked = Lab(ROOT / "notebooks", scratch / "tracked")
            for name in ("00_welcome.ipynb", args.notebook):
                check_autosave(page, lab_tracked, name, args.autosave_wait)
            lab_tracked.stop()
            print("browser test: the rendered course", flush=True)
            check_rendered_page(browser, out)
            browser.close()
    except Failure as e:
        print(f"  FAIL {e}", file=sys.stderr)
        return 1
    finally:
        for lab in (lab_work, lab_tracked):
            if lab is not None:
                lab.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    check(git_status(ROOT) == status_before, "git status is unchanged by the whole test")
    print(f"browser test passed in {time.time() - t0:.0f} s; screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
