"""The ``invlab`` command line: ``invlab list``, ``invlab solve`` and ``invlab bench``.

    invlab list
    invlab solve --task sr4 --method ddnm --image glyph:3 --sigma-y 0.05 --out result.png
    invlab solve --task sr4 --method ddc --image glyph:3 --out result.png   # the shipped DDC network
    invlab bench --methods ddrm,ddnm --tasks sr4,box_inpaint --n 16 --out results.csv

Every argument is checked before any work starts: the flags' values, the prior (a diffusion
prior over images that the chosen methods accept), the DDC network (``--network``, or the first
shipped network trained for the task), and the output paths (folder exists and is writable, the
file name is not a folder, a known extension). Outputs are written to a temporary file in the
target folder and moved into place, so a failed run leaves no partial file.

An image file is turned into the prior's input (colour conversion, centre crop, resize), and one
line on stderr says which of these steps happened. With a glyph prior, an input far from the
glyphs (the glyph classifier's confidence and glyphs32's denoising error, see
:func:`glyph_statistics`) gets a warning on stderr naming a hub prior for photos; the solve still
runs, and the result line gives A⁺y's PSNR beside the estimate's. The restored image keeps the
prior's resolution; ``<stem>_compare.png`` shows each panel at least ``--display-size`` pixels.

Every failure is one line on stderr, ``invlab: error: --flag: cause``, with exit code 2; errors
raised by the library are reported under the flag they come from. Set ``INVLAB_DEBUG=1`` to get
the Python traceback of an unexpected error instead.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
import tempfile

__all__ = ["main"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
SHIPPED_DDC = ("glyphs32-ddc", "glyphs32-ddc-sr4")   # tried in this order when --network is not given
_SEED_MAX = 2 ** 63 - 1                              # torch.Generator.manual_seed's range
DISPLAY_MIN, DISPLAY_MAX = 16, 1024                  # --display-size: pixels per panel of the compare figure

# The library names its arguments; the command line reports them under these flags.
_SOLVE_FLAGS = {"steps": "--steps", "sigma_y": "--sigma-y", "seed": "--seed", "generator": "--seed",
                "x": "--image", "task": "--task", "prior": "--prior", "network": "--network"}
_BENCH_FLAGS = {"methods": "--methods", "tasks": "--tasks", "n": "--n", "nproc": "--nproc",
                "sigma_y": "--sigma-y", "seed": "--seeds", "seeds": "--seeds", "generator": "--seeds",
                "prior": "--prior", "network": "--network"}


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line: ``invlab solve: error: argument --steps: ...``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="invlab", description="Image inverse problems with diffusion priors.")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list tasks, methods and priors", description="List tasks, methods and priors.")
    s = sub.add_parser("solve", help="solve one inverse problem and write the result",
                       description="Measure an image with a task's operator, solve with a method, write the result.")
    s.add_argument("--task", required=True, help="a task name (see `invlab list`)")
    s.add_argument("--method", required=True, help="a solver name (see `invlab list`)")
    s.add_argument("--image", required=True, help="an image file (PNG/JPEG) or glyph:N (test glyph N)")
    s.add_argument("--prior", default="glyphs32", help="prior name (default glyphs32)")
    s.add_argument("--sigma-y", type=float, default=0.05, help="Gaussian noise std in [-1, 1] units")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--steps", type=int, default=None, help="solver steps (default: the method's)")
    s.add_argument("--network", default=None,
                   help="--method ddc only: a DDC network folder or shipped name "
                        f"(default: the first of {', '.join(SHIPPED_DDC)} trained for the task)")
    s.add_argument("--out", default="result.png",
                   help=f"restored image ({', '.join(IMAGE_EXTENSIONS)}) at the prior's resolution (32×32 for "
                        "glyphs32); <stem>_compare.png goes next to it (truth, A⁺y, estimate)")
    s.add_argument("--display-size", type=int, default=256, metavar="N",
                   help="each panel of <stem>_compare.png is at least N pixels wide and high, upscaled "
                        f"nearest-neighbour (default 256; {DISPLAY_MIN} to {DISPLAY_MAX})")
    b = sub.add_parser("bench", help="run a benchmark grid and write a CSV",
                       description="Solve every (method, task, σ_y, seed) cell on n test glyphs; cells are cached.")
    b.add_argument("--methods", required=True, help="comma-separated solver names")
    b.add_argument("--tasks", required=True, help="comma-separated task names")
    b.add_argument("--n", type=int, default=16, help="test glyphs per cell")
    b.add_argument("--sigma-y", default="0.05", help="comma-separated noise levels ([-1, 1] units)")
    b.add_argument("--seeds", default="0", help="comma-separated seeds")
    b.add_argument("--prior", default="glyphs32")
    b.add_argument("--network", default=None,
                   help="the DDC network of --methods ddc: a folder or shipped name (default: the first of "
                        f"{', '.join(SHIPPED_DDC)} trained for every task); cells are keyed by this name, "
                        "so pass --no-cache after retraining a folder")
    b.add_argument("--out", default="results.csv", help="the CSV file")
    b.add_argument("--no-cache", action="store_true", help="recompute every cell")
    b.add_argument("--nproc", type=int, default=1, help="worker processes launched by torchrun (one per GPU)")
    return ap


# ------------------------------------------------------------------------------------------------
# errors from the library, reported under the flag they come from

def _flagged(e: Exception, flags: dict, context: str) -> UsageError:
    """A library error as a one-line usage error: ``name: cause`` becomes ``--flag: cause`` when
    ``name`` is one of ``flags``; anything else is prefixed with ``context`` (e.g. ``--method ddrm``)."""
    msg = " ".join(str(e).split()) or type(e).__name__
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*): (.*)", msg)
    if m and m.group(1) in flags:
        return UsageError(f"{flags[m.group(1)]}: {m.group(2)}")
    if m and m.group(1) == "problem":          # the (task, method) pair as a whole
        return UsageError(f"{context}: {m.group(2)}")
    return UsageError(f"{context}: {msg}")


def _check_seed(flag: str, seed: int) -> int:
    if not 0 <= seed <= _SEED_MAX:
        raise UsageError(f"{flag}: must lie in [0, 2**63 - 1], got {seed}")
    return seed


def _check_sigma(sigma: float) -> float:
    if not math.isfinite(sigma) or sigma < 0:
        raise UsageError(f"--sigma-y: must be a finite number >= 0, got {sigma}")
    return sigma


# ------------------------------------------------------------------------------------------------
# output paths: checked before the work, written atomically after it

def _check_out(path: str, extensions: tuple[str, ...], what: str) -> str:
    """Raise unless ``path`` can take a new file: its folder exists and is writable, it is not a
    folder, an existing file there is writable, its extension is one of ``extensions``."""
    if os.path.isdir(path):
        raise UsageError(f"--out: {path!r} is a folder; give a file name")
    if not path or path.endswith(os.sep) or (os.altsep and path.endswith(os.altsep)):
        raise UsageError(f"--out: expected a file name, got {path!r}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in extensions:
        raise UsageError(f"--out: unknown extension {ext or '(none)'!r} for {what} {path!r}; "
                         f"use one of {', '.join(extensions)}")
    _check_target(path)
    return path


def _check_target(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"--out: {path!r} is a folder; give a file name")
    if os.path.lexists(path) and not os.path.isfile(path):
        raise UsageError(f"--out: {path!r} exists and is not a regular file")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"--out: {path!r} exists and is not writable")
    probe = folder
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise UsageError(f"--out: {probe!r} is a file, not a folder, in {path!r}")
    if probe != folder:
        raise UsageError(f"--out: the folder {os.path.dirname(path) or '.'!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--out: the folder {folder!r} is not writable")


class _Outputs:
    """Temporary files reserved next to each target before the work (proving the folder takes new
    files), moved onto the targets by :meth:`commit`, removed if anything fails first."""

    def __init__(self, targets: list[str]):
        self.pairs: list[tuple[str, str]] = []
        try:
            for t in targets:
                folder, name = os.path.split(os.path.abspath(t))
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=os.path.splitext(t)[1])
                os.close(fd)
                self.pairs.append((tmp, t))
        except OSError as e:
            self.discard()
            raise UsageError(f"--out: cannot create a file in {os.path.dirname(os.path.abspath(t))!r} "
                             f"({e.strerror or e})") from None

    def tmp(self, target: str) -> str:
        return dict((t, p) for p, t in self.pairs)[target]

    def commit(self) -> None:
        umask = os.umask(0)
        os.umask(umask)
        while self.pairs:
            tmp, target = self.pairs[0]
            try:
                os.chmod(tmp, 0o666 & ~umask)        # what open() would have given (mkstemp gives 0600)
                os.replace(tmp, target)
            except OSError as e:
                raise UsageError(f"--out: cannot write {target!r} ({e.strerror or e})") from None
            self.pairs.pop(0)

    def discard(self) -> None:
        for tmp, _ in self.pairs:
            try:
                os.remove(tmp)
            except OSError:
                pass
        self.pairs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()
        return False


# ------------------------------------------------------------------------------------------------
# priors and DDC networks

def _load_prior(name: str, methods: list[str], command: str):
    """The prior ``name``, refused in one line unless it is a diffusion prior over images that
    every method in ``methods`` works with."""
    from .diffusion import HUB_PRIORS, Prior, is_latent_prior, load_prior
    from .diffusion.consistency import ConsistencyModel
    from .solvers import SOLVERS
    works = (f"{command} works with glyphs32, glyphs32-latent, a diffusers hub id (e.g. {HUB_PRIORS[0]}) "
             "or a local folder")
    try:
        prior = load_prior(name)
    except (ValueError, TypeError, OSError) as e:
        raise _flagged(e, {"name": "--prior", "prior": "--prior"}, "--prior") from None
    if isinstance(prior, ConsistencyModel):
        raise UsageError(f"--prior: {name} is a consistency model, not a diffusion prior; {works}")
    shape = tuple(getattr(prior, "pixel_shape", None) or getattr(prior, "image_shape", ()))
    if not isinstance(prior, Prior) or len(shape) != 3:
        kind = f"a prior over {shape} vectors" if shape else f"a {type(prior).__name__}"
        raise UsageError(f"--prior: {name} is {kind}, not an image prior; {works}")
    latent = is_latent_prior(prior)
    space = "latent" if latent else "pixel"
    for m in methods:
        if space not in getattr(SOLVERS[m], "spaces", ("pixel",)):
            fit = sorted(k for k, f in SOLVERS.items() if space in getattr(f, "spaces", ("pixel",)))
            other = "a pixel prior such as glyphs32" if latent else "a latent prior such as glyphs32-latent"
            raise UsageError(f"--prior: {m} does not work with the {space} prior {name}; with it use "
                             f"{'--method' if command == 'solve' else '--methods'} {', '.join(fit)}, "
                             f"or {other}")
    return prior, shape


def _trained_for(net, task: str, shape) -> bool:
    """Whether the DDC network ``net`` was trained for ``task`` at the parameters the command line
    uses (the task's defaults for this image size)."""
    from .problems import task_defaults
    if task not in net.tasks or tuple(net.image_shape) != tuple(shape):
        return False
    used = task_defaults(task, shape[-1])
    return all(used.get(k) == v for k, v in net.tasks[task].items())


def _coverage(net, shape) -> str:
    from .problems import TASKS
    return ", ".join(t for t in TASKS if _trained_for(net, t, shape)) or "none"


def _load_ddc(name: str):
    from .ddc import load_ddc
    try:
        return load_ddc(name)
    except (ValueError, TypeError, OSError, KeyError) as e:
        raise _flagged(e, {"name": "--network"}, "--network") from None


def _ddc_network(spec: str | None, tasks: list[str], prior_name: str, shape, task_flag: str):
    """The DDC network for ``--method ddc``: ``spec`` checked against ``tasks`` and the prior, or
    the first shipped network trained for all of them. Returns its shipped name or absolute folder
    (what the benchmark's cache key and workers take) and the loaded network."""
    if spec is None:
        nets = [(n, _load_ddc(n)) for n in SHIPPED_DDC]
        fits = [n for n, net in nets if all(_trained_for(net, t, shape) for t in tasks)]
        if not fits:
            cover = "; ".join(f"{n}: {_coverage(net, shape)}" for n, net in nets)
            bad = [t for t in tasks if not any(_trained_for(net, t, shape) for _, net in nets)] or tasks
            raise UsageError(f"{task_flag}: no shipped DDC network was trained for {', '.join(bad)} at the "
                             f"command line's task parameters ({cover}); choose such a task, another method, "
                             "or pass --network <folder>")
        name, net = fits[0], dict(nets)[fits[0]]
    else:
        name, net = spec, _load_ddc(spec)
    trained_prior = net.info.get("prior")
    if trained_prior and os.path.basename(os.path.normpath(prior_name)) != trained_prior:
        raise UsageError(f"--prior: the DDC network {net.name} was trained with the {trained_prior} prior, "
                         f"not {prior_name}; pass --prior {trained_prior}")
    if tuple(net.image_shape) != tuple(shape):
        raise UsageError(f"--network: {net.name} works on {net.image_shape} images, the prior on {shape}")
    bad = [t for t in tasks if not _trained_for(net, t, shape)]
    if bad:
        raise UsageError(f"{task_flag}: the DDC network {net.name} was not trained for {', '.join(bad)} at the "
                         f"command line's task parameters; it covers: {_coverage(net, shape)}")
    return (name if name in SHIPPED_DDC else os.path.abspath(os.path.expanduser(name))), net


# ------------------------------------------------------------------------------------------------
# commands

_MODE_NAMES = {"1": "1-bit", "L": "grayscale", "LA": "grayscale+alpha", "P": "palette", "PA": "palette+alpha",
               "RGB": "RGB", "RGBA": "RGBA", "CMYK": "CMYK", "YCbCr": "YCbCr", "I": "32-bit grayscale",
               "F": "float grayscale", "I;16": "16-bit grayscale", "I;16B": "16-bit grayscale",
               "I;16L": "16-bit grayscale"}


def _prepare(img, shape, prior_name: str):
    """A PIL image as the prior's input: (1, C, H, W) in [-1, 1], and the steps applied to it, in
    order, as phrases (``"grayscale"``, ``"centre crop 480×480"``, ``"resized to 32×32 (…)"``):
    EXIF orientation, colour conversion (16-bit images scaled by 65535, not clipped at 255),
    a centre crop to a square, an antialiased bicubic resize to the prior's size."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import ImageOps
    C, H, W = shape
    steps = []
    orientation = img.getexif().get(0x0112, 1)
    if orientation not in (1, None):
        img = ImageOps.exif_transpose(img)
        steps.append("rotated by its EXIF orientation")
    mode, target = img.mode, ("L" if C == 1 else "RGB")
    if mode.startswith("I") or mode == "F":           # 16/32-bit or float grey: PIL's convert("L") clips at 255
        a = np.asarray(img, dtype=np.float64)
        scale = 65535.0 if mode.startswith("I;16") or (mode == "I" and a.max() > 255) else \
            (1.0 if mode == "F" and a.max() <= 1 else 255.0)
        a = np.clip(a / scale, 0, 1).astype(np.float32)
        if mode == "F" and scale == 1.0:
            steps.append("float values read as [0, 1]")
        elif scale == 65535.0:
            steps.append("16-bit values scaled to [0, 1]")
        if C == 3:
            a = np.repeat(a[..., None], 3, axis=-1)
            steps.append("grey copied to RGB")
    else:
        has_alpha = "A" in mode or (mode == "P" and "transparency" in img.info)
        if mode != target:
            img = img.convert(target)
            steps.append(("grayscale" if target == "L" else "RGB") + (" (alpha ignored)" if has_alpha else ""))
        a = np.asarray(img, dtype=np.float32) / 255.0
    t = torch.from_numpy(np.ascontiguousarray(a))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    h, w = t.shape[-2:]
    m = min(h, w)
    if m < 1:
        raise ValueError("has no pixels")
    if h != w:
        top, left = (h - m) // 2, (w - m) // 2
        t = t[..., top:top + m, left:left + m]
        steps.append(f"centre crop {m}×{m}")
    if (m, m) != (H, W):
        t = F.interpolate(t, size=(H, W), mode="bicubic", antialias=True, align_corners=False)
        steps.append(f"{'resized' if m > H else 'upscaled'} to {W}×{H} (the prior {prior_name}'s size)")
    return t.clamp(0, 1) * 2 - 1, steps


def _load_image(spec: str, shape, prior_name: str = "glyphs32"):
    """The ``--image`` as a (1, C, H, W) tensor in [-1, 1], and the line that says what was done
    to it (None for ``glyph:N``, which is used as is)."""
    C, H, W = shape
    if spec.startswith("glyph:"):
        try:
            n = int(spec.split(":", 1)[1])
        except ValueError:
            raise UsageError(f"--image: expected glyph:N with an integer N, got {spec!r}") from None
        if n < 0:
            raise UsageError(f"--image: glyph index must be >= 0, got {n}")
        if (C, H, W) != (1, 32, 32):
            raise UsageError(f"--image: glyphs are 1×32×32 but the prior expects {C}×{H}×{W}")
        from .data import glyphs
        return glyphs(1, split="test", start=n)[0], None
    if os.path.isdir(spec):
        raise UsageError(f"--image: {spec!r} is a folder, not an image file")
    if not os.path.isfile(spec):
        raise UsageError(f"--image: no such file {spec!r}")
    from PIL import Image
    try:
        with Image.open(spec) as img:
            img.load()
            size, mode = img.size, img.mode
            x, steps = _prepare(img, shape, os.path.basename(os.path.normpath(prior_name)))
    except (OSError, ValueError, SyntaxError) as e:
        raise UsageError(f"--image: cannot read {spec!r} as an image ({' '.join(str(e).split())})") from None
    head = f"--image {os.path.basename(spec)}: {size[0]}×{size[1]} {_MODE_NAMES.get(mode, mode)}"
    return x, head + (" → " + ", ".join(steps) if steps else ", used as is")


# ------------------------------------------------------------------------------------------------
# does the image look like what a glyph prior knows?
#
# Two cheap statistics (under 0.1 s per image on one CPU core), measured by glyph_statistics on the
# first 512 test glyphs and on 23 scikit-image pictures (camera, astronaut, coffee, coins, text,
# page, hubble_deep_field, …) prepared as the command line prepares them (tests/test_cli_photo.py
# measures both again on 32 glyphs and 6 pictures):
#   the glyph classifier's top class probability    test glyphs >= 0.918   pictures <= 0.588 (coins)
#   glyphs32's denoising error (mean squared error   test glyphs <= 0.0021  pictures >= 0.0147
#     of Tweedie's x̂0 at σ = 0.2, 4 noise draws)                                 (hubble_deep_field)
# An image beyond either threshold gets the warning (the solve still runs).

GLYPH_PRIORS = ("glyphs32", "glyphs32-latent")
MIN_CONFIDENCE = 0.75
MAX_DENOISE_ERROR = 0.006
DENOISE_SIGMA, DENOISE_DRAWS = 0.2, 4


def glyph_statistics(x, prior=None) -> tuple[float, float]:
    """(classifier confidence, denoising error) of a (1, 1, 32, 32) image in [-1, 1]: the shipped
    glyph classifier's top class probability, and the mean squared error of the ``glyphs32``
    prior's Tweedie estimate x̂0 from x at VE noise level ``DENOISE_SIGMA`` (``DENOISE_DRAWS``
    fixed noise draws). ``prior``: the loaded ``glyphs32`` (loaded here when None)."""
    import torch

    from . import metrics
    from .diffusion import load_prior
    prior = prior if prior is not None else load_prior("glyphs32")
    with torch.no_grad():
        conf = float(metrics.classifier_probs(x).max(dim=1).values[0])
        t = prior.schedule.t_for_sigma(DENOISE_SIGMA)
        ab = float(prior.alpha_bar[t])
        g = torch.Generator().manual_seed(0)
        xs = x.expand(DENOISE_DRAWS, *x.shape[1:])
        noise = torch.randn(xs.shape, generator=g).to(x)
        x0 = prior.x0(ab ** 0.5 * xs + (1 - ab) ** 0.5 * noise, t)
        err = float(((x0 - xs) ** 2).mean())
    return conf, err


def _glyph_warning(x, prior, prior_name: str, image: str) -> str | None:
    """The warning for an image far from the glyphs a glyph prior was trained on, or None (also
    None for a prior that is not a shipped glyph prior: nothing is calibrated for it)."""
    from .diffusion import HUB_PRIORS
    name = os.path.basename(os.path.normpath(prior_name))
    if name not in GLYPH_PRIORS or tuple(x.shape[1:]) != (1, 32, 32):
        return None
    shipped = prior if prior_name == "glyphs32" else None        # the statistics are calibrated on it
    conf, err = glyph_statistics(x, shipped)
    if conf >= MIN_CONFIDENCE and err <= MAX_DENOISE_ERROR:
        return None
    c2, e2 = glyph_statistics(-x, shipped)
    if c2 >= MIN_CONFIDENCE and e2 <= MAX_DENOISE_ERROR:
        return (f"--image {image} looks like a glyph with inverted colours (glyph classifier confidence {conf:.2f}, "
                f"inverted {c2:.2f}; test glyphs >= 0.92): the prior {name} knows light ink on a black "
                "background; invert the image, or expect a glyph-like hallucination, not a restoration")
    faces = next((h for h in HUB_PRIORS if "celebahq" in h and not h.startswith("CompVis")), HUB_PRIORS[0])
    small = next((h for h in HUB_PRIORS if "cifar10" in h), None)
    alt = f"--prior {faces} (faces, 256×256)" + (f" or --prior {small} (small natural images, 32×32)"
                                                   if small else "")
    return (f"--image {image} does not look like a glyph, the only kind of image the prior {name} knows "
            f"(glyph classifier confidence {conf:.2f}, test glyphs >= 0.92; glyphs32's denoising error {err:.4f}, "
            f"test glyphs <= 0.0021): expect a glyph-like hallucination, not a restoration of this image. "
            f"For a photo use a hub prior, e.g. {alt}; hub priors need their weights "
            "(python data_scripts/fetch_pretrained.py <id>, once, online) and a 256×256 model runs far slower "
            "than glyphs32 on a CPU")


def _figure_dpi(fig, pixels: int) -> float:
    """The resolution at which every image panel of ``fig`` is at least ``pixels`` wide and high
    (the figure's layout is in inches, so its pixel sizes scale with the dpi); never below 100."""
    fig.canvas.draw()
    sides = [min(im.get_window_extent().width, im.get_window_extent().height)
             for ax in fig.axes for im in ax.get_images()]
    if not sides:
        return 100.0
    return max(100.0, fig.dpi * pixels / min(sides) * 1.01)


def _cmd_list() -> int:
    from . import SOLVERS, TASKS
    from .diffusion import HUB_PRIORS, PRIORS
    print("tasks:   " + ", ".join(TASKS))
    print("methods: " + ", ".join(sorted(SOLVERS)))
    print("priors:  " + ", ".join(PRIORS) + " (shipped/analytic); hub: " + ", ".join(HUB_PRIORS))
    return 0


def _cmd_solve(args) -> int:
    import inspect

    from . import SOLVERS, TASKS
    if args.task not in TASKS:
        raise UsageError(f"--task: unknown task {args.task!r}; choose one of {', '.join(TASKS)}")
    if args.method not in SOLVERS:
        raise UsageError(f"--method: unknown method {args.method!r}; choose one of {', '.join(sorted(SOLVERS))}")
    _check_sigma(args.sigma_y)
    _check_seed("--seed", args.seed)
    fn = SOLVERS[args.method]
    params = inspect.signature(fn.__wrapped__).parameters
    kwargs = {}
    if args.steps is not None:
        if "steps" not in params:
            raise UsageError(f"--steps: {args.method} has no 'steps' hyperparameter")
        if args.steps < 1:
            raise UsageError(f"--steps: must be >= 1, got {args.steps}")
        kwargs["steps"] = args.steps
    if args.network is not None and "network" not in params:
        raise UsageError(f"--network: only a method with a learned network takes it (ddc), not {args.method}")
    if not DISPLAY_MIN <= args.display_size <= DISPLAY_MAX:
        raise UsageError(f"--display-size: must lie in [{DISPLAY_MIN}, {DISPLAY_MAX}] pixels, got {args.display_size}")
    out = _check_out(args.out, IMAGE_EXTENSIONS, "the restored image")
    side = os.path.splitext(out)[0] + "_compare.png"
    _check_target(side)

    prior, shape = _load_prior(args.prior, [args.method], "solve")
    if "network" in params:
        label, kwargs["network"] = _ddc_network(args.network, [args.task], args.prior, shape, "--task")
    x, note = _load_image(args.image, shape, args.prior)
    if note:
        print(note, file=sys.stderr)
    warning = _glyph_warning(x, prior, args.prior, os.path.basename(args.image))
    if warning:
        print(f"invlab: warning: {warning}", file=sys.stderr)
    with _Outputs([out, side]) as files:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import torch

        from . import make_problem, metrics
        from .viz import compare, to_numpy_image
        try:
            problem = make_problem(args.task, x, sigma_y=args.sigma_y, seed=args.seed)
        except (ValueError, TypeError) as e:
            raise _flagged(e, _SOLVE_FLAGS, f"--task {args.task}") from None
        try:
            result = fn(problem, prior, generator=torch.Generator().manual_seed(args.seed), **kwargs)
        except (ValueError, TypeError, RuntimeError) as e:
            raise _flagged(e, _SOLVE_FLAGS, f"--method {args.method} on --task {args.task}") from None
        if not bool(torch.isfinite(result.x).all()):
            raise UsageError(f"--method {args.method} on --task {args.task}: the estimate is not finite "
                             "(NaN or inf); nothing written")
        est = result.x.clamp(-1, 1)
        fmt = os.path.splitext(out)[1].lower().lstrip(".")
        plt.imsave(files.tmp(out), to_numpy_image(est[0]), cmap="gray", vmin=0, vmax=1,
                   format={"jpg": "jpeg", "tif": "tiff"}.get(fmt, fmt))
        base = {"A⁺y": problem.op.pinv(problem.y)} if hasattr(problem.op, "pinv") else {}
        fig = compare(x, {**base, args.method: est})
        fig.savefig(files.tmp(side), dpi=_figure_dpi(fig, args.display_size), format="png")
        plt.close(fig)
        p, s = float(metrics.psnr(est, x)), float(metrics.ssim(est, x))
        p0 = float(metrics.psnr(base["A⁺y"], x)) if base else None
        files.commit()
    net = f" with {os.path.basename(label)}" if "network" in kwargs else ""
    ref = f" (A⁺y: {p0:.2f} dB)" if p0 is not None and args.method != "pseudo_inverse" else ""
    print(f"{args.method}{net} on {args.task}: PSNR {p:.2f} dB{ref}, SSIM {s:.3f}, NFE {result.nfe}, "
          f"VJP {result.vjp}, {result.seconds:.1f} s -> {out}, {side}")
    return 0


def _split(flag: str, value: str, conv, choices=None) -> list:
    """A comma-separated list: not empty, no empty or repeated items, each in ``choices``."""
    items = [v.strip() for v in value.split(",")]
    if not any(items):
        listing = f"; choose from {', '.join(choices)}" if choices else ""
        raise UsageError(f"{flag}: empty list {value!r}{listing}")
    if not all(items):
        raise UsageError(f"{flag}: empty item in {value!r}; separate values with single commas")
    try:
        vals = [conv(v) for v in items]
    except ValueError:
        raise UsageError(f"{flag}: expected a comma-separated list of {conv.__name__} values, got {value!r}") from None
    if choices is not None:
        for v in vals:
            if v not in choices:
                kind = {"--methods": "method", "--tasks": "task"}.get(flag, "value")
                raise UsageError(f"{flag}: unknown {kind} {v!r}; choose from {', '.join(choices)}")
    seen = set()
    for v in vals:
        if v in seen:
            raise UsageError(f"{flag}: {v!r} is listed twice in {value!r}")
        seen.add(v)
    return vals


def _cmd_bench(args) -> int:
    from . import SOLVERS, TASKS
    from .bench import cache_folder, run_grid, run_sharded, summarize, write_csv
    methods = _split("--methods", args.methods, str, sorted(SOLVERS))
    tasks = _split("--tasks", args.tasks, str, list(TASKS))
    sigmas = [_check_sigma(s) for s in _split("--sigma-y", args.sigma_y, float)]
    seeds = [_check_seed("--seeds", s) for s in _split("--seeds", args.seeds, int)]
    if args.n < 1:
        raise UsageError(f"--n: must be >= 1, got {args.n}")
    if args.nproc < 1:
        raise UsageError(f"--nproc: must be >= 1, got {args.nproc}")
    if args.network is not None and "ddc" not in methods:
        raise UsageError("--network: only --methods ddc takes a network, and ddc is not in --methods")
    out = _check_out(args.out, (".csv",), "the results table")
    prior, shape = _load_prior(args.prior, methods, "bench")
    hyper = {}
    if "ddc" in methods:
        hyper["ddc"] = {"network": _ddc_network(args.network, tasks, args.prior, shape, "--tasks")[0]}
    if not args.no_cache:
        cache = cache_folder(None)
        try:
            os.makedirs(cache, exist_ok=True)
            with tempfile.TemporaryFile(dir=cache):
                pass
        except OSError as e:
            raise UsageError(f"INVLAB_CACHE: the cache folder {str(cache)!r} is not writable ({e.strerror or e}); "
                             "set INVLAB_CACHE to another folder or pass --no-cache") from None
    with _Outputs([out]) as files:
        grid = dict(methods=methods, tasks=tasks, sigma_y=sigmas, n=args.n, seeds=seeds, hyper=hyper,
                    use_cache=not args.no_cache)
        try:
            if args.nproc > 1:
                rows = run_sharded(args.nproc, prior=args.prior, **grid)
            else:
                rows = run_grid(prior=prior, **grid)
        except (ValueError, TypeError, OSError, RuntimeError) as e:
            raise _flagged(e, _BENCH_FLAGS, "--methods/--tasks") from None
        write_csv(rows, files.tmp(out))
        files.commit()
    for r in summarize(rows):
        print(f"{r['method']:<14}{r['task']:<16}σ_y={r['sigma_y']:<6} PSNR {r['psnr']:6.2f}  SSIM {r['ssim']:.3f}  "
              f"acc {r['classifier_acc']:.2f}  NFE {r['nfe']:.0f}  {r['seconds']:.2f} s/image")
    print(f"{len(rows)} rows -> {out}")
    return 0


def main(argv=None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)   # argparse itself exits 2 with a one-line error on bad syntax
    if args.command == "list":
        return _cmd_list()
    from diffusers.utils import logging as dlog
    level = dlog.get_verbosity()
    dlog.set_verbosity_error()          # diffusers' loading notes are not the command's output
    try:
        return _cmd_solve(args) if args.command == "solve" else _cmd_bench(args)
    except UsageError as e:
        print(f"invlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("invlab: interrupted", file=sys.stderr)
        return 130
    except Exception as e:                              # a library failure: still one line, no traceback
        if os.environ.get("INVLAB_DEBUG", "0") not in ("", "0"):
            raise
        msg = " ".join(str(e).split())
        print(f"invlab: error: {args.command} failed: {type(e).__name__}: {msg} (INVLAB_DEBUG=1 shows the "
              "traceback)", file=sys.stderr)
        return 2
    finally:
        dlog.set_verbosity(level)


if __name__ == "__main__":
    sys.exit(main())
