"""What each solver costs per image at 256×256 (notebook 10).

    python benchmarks/bench_scaling.py [--threads 1] [--no-celeba]
    python benchmarks/bench_scaling.py --full --prior google/ddpm-ema-celebahq-256 --device cuda [--images DIR]
        [--settings paper|defaults] [--solvers dps,ddiff]

**Default mode (CPU, offline).** One 3×256×256 image (``astronaut``), SR×4, σ_y = 0.05, the
untrained stand-in prior of :func:`invlab.diffusion.stand_in_prior` (the hub models' class and
image size, a tiny network), one thread. Every time is CPU time (``time.process_time``): on a shared
machine wall time also counts the other processes (``Result.seconds``, wall, is kept beside it).

- seconds per network pass of the stand-in (batch 1, no gradient; best of 3) and per VJP (a pass
  with gradient plus its backward, minus one pass; best of 2);
- every solver of ``SOLVERS`` that runs on the stand-in, at its default settings except its loop
  length (a few steps; DAPS also with one ODE step per level): seconds, NFE, VJP and
  ``Result.peak_memory_bytes`` (the heap trimmed first, see :func:`trim_heap`); the non-network
  seconds per loop iteration = (seconds − NFE × pass − VJP × VJP cost) / the iterations doing
  that work;
- NFE and VJP at the solver's *defaults*: ``Result.nfe``/``.vjp`` of the solver run at its defaults
  on one SR×4 test glyph (1×32×32, ``glyphs32``) — the counts depend on the settings, not on the
  image size, which the script checks by running the timed settings on the glyph too;
- the seconds per image at the defaults, *projected from measured per-step cost*: default NFE ×
  pass + default VJP × VJP cost + default iterations × non-network seconds per iteration (a
  negative non-network estimate, timing noise, counts as 0);
- the same projection with the pass and VJP costs of a ``UNet2DModel`` built with the config of
  ``google/ddpm-ema-celebahq-256`` [DDPM] and random weights (113.7 M parameters; no download),
  measured here once each (``--no-celeba`` skips it). A projection, not a measurement of a run.

Solvers that do not run on the stand-in (DDC needs a DDC network for its size, the latent solvers a
latent prior) get a row with the reason the solver gives. Writes ``benchmarks/results/scaling.csv``
(read by notebook 10) and a Markdown twin.

**``--full`` (a GPU and a real prior).** Every solver on each image, with ``--settings paper`` (the
default) at the papers' values of the defaults table (the ``paper`` column, for a 3×256×256 prior
only) or ``--settings defaults`` at invlab's defaults: measured wall seconds per image, NFE, VJP, peak
memory (``Result.peak_memory_bytes``: the CUDA allocator's peak on a GPU), PSNR, SSIM and LPIPS (when
the ``lpips`` extra is installed). ``--images``: a folder of PNG/JPEG files (e.g. CelebA-HQ faces) or
comma-separated names of ``invlab.TEST_IMAGES``. Writes ``benchmarks/results/scaling_gpu.csv``.
"""
from __future__ import annotations

import argparse
import ctypes
import inspect
import os
import tempfile
import time
from pathlib import Path

import torch
from _tables import write_tables

import invlab
from invlab import metrics
from invlab.diffusion import stand_in_prior
from invlab.solvers import SOLVERS
from invlab.solvers.defaults import TABLE, family, lookup
from invlab.solvers.guidance import paper_scale
from invlab.solvers.purification import paper_measurement_size

OUT = os.path.join(os.path.dirname(__file__), "results")
TASK, SIGMA_Y, IMAGE = "sr4", 0.05, "astronaut"
CLOCK = time.process_time      # CPU time: on a shared machine wall time measures the other processes too


def default_loop(name: str, arg: str | None) -> int:
    """The loop length a solver uses when it is not given one: the defaults table, else its signature."""
    if arg is None:
        return 0
    table = lookup(name, TASK, SIGMA_Y) if any(m == name for m, *_ in TABLE) else {}
    return table[arg] if arg in table else inspect.signature(SOLVERS[name]).parameters[arg].default


# per solver: the argument that sets its loop length, the value timed at 256×256, extra settings of
# the timed run, and how many loop iterations do non-network work for a given loop length (DiffPIR's
# n grid points make n − 1 steps; DAPS's last level has no Langevin steps)
LOOPS = {
    "pseudo_inverse": (None, 0, {}, lambda n: 0),
    "prior_sample": ("steps", 2, {}, lambda n: n),
    "dps": ("steps", 2, {}, lambda n: n),
    "pigdm": ("steps", 2, {}, lambda n: n),
    "ddrm": ("steps", 2, {}, lambda n: n),
    "ddnm": ("steps", 2, {}, lambda n: n),
    "dpg": ("steps", 2, {}, lambda n: n),
    "red_diff": ("steps", 2, {}, lambda n: n),
    "hrdis": ("steps", 2, {}, lambda n: n),
    "ddiff": ("steps", 2, {}, lambda n: n),
    "pnp_admm": ("iterations", 2, {}, lambda n: n),
    "diffpir": ("steps", 3, {}, lambda n: n - 1),
    "dcdp": ("rounds", 2, {}, lambda n: n),
    "daps": ("annealing_steps", 3, {"ode_steps": 1}, lambda n: n - 1),
}
# the config of google/ddpm-ema-celebahq-256's UNet2DModel (its config.json), random weights
CELEBA_UNET = dict(sample_size=256, in_channels=3, out_channels=3, layers_per_block=2,
                   block_out_channels=(128, 128, 256, 256, 512, 512),
                   down_block_types=("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
                   up_block_types=("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4,
                   act_fn="silu", attention_head_dim=None, center_input_sample=False, downsample_padding=0,
                   flip_sin_to_cos=False, freq_shift=1, mid_block_scale_factor=1, norm_eps=1e-6,
                   norm_num_groups=32, time_embedding_type="positional")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def trim_heap() -> None:
    """Hand the freed heap back to the system (glibc ``malloc_trim``), so that memory a call reuses
    shows as growth of the resident set (what ``Result.peak_memory_bytes`` measures on a CPU)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakRSS:
    """Growth of the resident-set high-water mark during a block (Linux; None elsewhere), after
    returning the freed heap to the system (glibc ``malloc_trim``)."""

    @staticmethod
    def _kb(field):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))

    def __enter__(self):
        trim_heap()
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.base = self._kb("VmRSS")
        except OSError:
            self.base = None
        self.peak = None
        return self

    def __exit__(self, *exc):
        if self.base is not None:
            self.peak = max(0, self._kb("VmHWM") - self.base)
        return False


def pass_costs(prior, reps_fwd: int = 3, reps_vjp: int = 2, warm: bool = True):
    """(CPU seconds per pass, CPU seconds per VJP beyond its pass, peak bytes of a pass, of a pass +
    VJP) at batch 1; best of the repetitions (noise only adds time)."""
    x = torch.randn(1, *prior.image_shape, generator=gen())
    with torch.no_grad():
        if warm:
            prior.eps(x, 500)
        fwd = []
        with PeakRSS() as m_fwd:
            for _ in range(reps_fwd):
                t0 = CLOCK()
                prior.eps(x, 500)
                fwd.append(CLOCK() - t0)
    both = []
    with PeakRSS() as m_vjp:
        for _ in range(reps_vjp):
            xr = x.clone().requires_grad_(True)
            t0 = CLOCK()
            with torch.enable_grad():
                (g,) = torch.autograd.grad(prior.eps(xr, 500).square().sum(), xr)
            both.append(CLOCK() - t0)
    return min(fwd), min(both) - min(fwd), m_fwd.peak, m_vjp.peak


def celeba_costs():
    from diffusers import UNet2DModel
    from invlab.diffusion.priors import UNetPrior
    torch.manual_seed(0)
    unet = UNet2DModel(**CELEBA_UNET)
    n_params = sum(p.numel() for p in unet.parameters())
    sched = stand_in_prior(Path(tempfile.mkdtemp()) / "stand-in-3x8x8", size=8, channels=3).schedule
    fwd, vjp, m_fwd, m_vjp = pass_costs(UNetPrior(unet, sched, name="ddpm-celebahq-256-config"), 1, 1)
    return n_params, fwd, vjp, m_fwd, m_vjp


def cpu_table(args) -> list[dict]:
    t_start, c_start = time.perf_counter(), CLOCK()
    prior = stand_in_prior(Path(tempfile.mkdtemp()) / "stand-in-3x256x256", size=256, channels=3)
    glyph_prior = invlab.load_prior("glyphs32")
    p = invlab.make_problem(TASK, invlab.test_image(IMAGE, 256), sigma_y=SIGMA_Y, seed=0)
    pg = invlab.make_problem(TASK, invlab.glyphs(1, split="test")[0], sigma_y=SIGMA_Y, seed=0)
    n_params = sum(q.numel() for q in prior.unet.parameters())
    fwd, vjp, _, _ = pass_costs(prior)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); stand-in {n_params} parameters: "
          f"pass {fwd:.3f} s, VJP {vjp:.3f} s")
    celeba = celeba_costs() if args.celeba else None
    if celeba:
        print(f"CelebA-HQ config, random weights, {celeba[0] / 1e6:.1f} M parameters: pass {celeba[1]:.2f} s, "
              f"VJP {celeba[2]:.2f} s")
    rows = []
    for name, fn in SOLVERS.items():
        row = {"solver": name, "task": TASK, "image": "3x256x256"}
        if name not in LOOPS:
            try:
                fn(p, prior, generator=gen())
                raise AssertionError(f"{name} ran on the stand-in: add it to LOOPS")
            except (ValueError, TypeError, OSError) as e:
                row.update(runs_on_stand_in="no", reason=str(e).splitlines()[0])
            rows.append(row)
            continue
        arg, n, extra, units = LOOPS[name]
        default_n = default_loop(name, arg)
        kw = dict(extra, **({arg: n} if arg else {}))
        trim_heap()
        c0 = CLOCK()
        r = fn(p, prior, generator=gen(), **kw)
        cpu = CLOCK() - c0
        small = fn(pg, glyph_prior, generator=gen(), **kw)
        assert (small.nfe, small.vjp) == (r.nfe, r.vjp), (name, small.nfe, r.nfe)    # counts: size-free
        full = fn(pg, glyph_prior, generator=gen())                                   # the defaults
        other = (cpu - r.nfe * fwd - r.vjp * vjp) / units(n) if units(n) else 0.0
        kept = max(other, 0.0)                    # a negative difference is timing noise: counts as 0
        u = units(default_n)
        row.update(runs_on_stand_in="yes", loop=arg or "", default_loop=default_n, timed_loop=n,
                   timed_settings=" ".join(f"{k}={v}" for k, v in kw.items()),
                   timed_cpu_s=round(cpu, 3), timed_wall_s=round(r.seconds, 3), timed_nfe=r.nfe, timed_vjp=r.vjp,
                   default_nfe=full.nfe, default_vjp=full.vjp,
                   nfe_source="Result.nfe/.vjp at the defaults on a 1x32x32 SR4 glyph",
                   pass_s=round(fwd, 4), vjp_s=round(vjp, 4), other_s_per_iteration=round(other, 4),
                   projected_s=round(full.nfe * fwd + full.vjp * vjp + u * kept, 1),
                   peak_mb=round((r.peak_memory_bytes or 0) / 2 ** 20, 1))
        if celeba:
            row.update(celeba_pass_s=round(celeba[1], 2), celeba_vjp_s=round(celeba[2], 2),
                       celeba_projected_s=round(full.nfe * celeba[1] + full.vjp * celeba[2] + u * kept, 1))
        rows.append(row)
        print(f"  {name}: {cpu:.2f} CPU s at {kw}, defaults NFE {full.nfe} VJP {full.vjp}")
    for row in rows:
        row.update(standin_params=n_params)
        if celeba:
            row.update(celeba_params=celeba[0], celeba_pass_mb=round((celeba[3] or 0) / 2 ** 20),
                       celeba_vjp_mb=round((celeba[4] or 0) / 2 ** 20))
    print(f"wall {time.perf_counter() - t_start:.0f} s, CPU {CLOCK() - c_start:.0f} s")
    return rows


def load_images(spec: str, shape) -> list[tuple[str, torch.Tensor]]:
    C, H, _ = shape
    if Path(spec).is_dir():
        import numpy as np
        from PIL import Image
        out = []
        for f in sorted(Path(spec).iterdir()):
            if f.suffix.lower() not in (".png", ".jpg", ".jpeg"):
                continue
            with Image.open(f) as im:
                im = im.convert("RGB" if C == 3 else "L")
                m = min(im.size)
                im = im.crop(((im.width - m) // 2, (im.height - m) // 2, (im.width + m) // 2, (im.height + m) // 2))
                a = np.asarray(im.resize((H, H), Image.BICUBIC), dtype=np.float32) / 127.5 - 1
            t = torch.from_numpy(a)
            out.append((f.name, (t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]).contiguous()))
        if not out:
            raise SystemExit(f"--images: no PNG/JPEG file in {spec}")
        return out
    return [(n, invlab.test_image(n, H, gray=C == 1)) for n in spec.split(",")]


def paper_settings(name: str, problem) -> dict:
    """The paper's value of every tabled hyperparameter of ``name`` on ``problem`` (the ``paper``
    column of the row :func:`~invlab.solvers.defaults.lookup` picks), as the solver's keywords.
    Only for 3×256×256 images: there every scaling rule of the table is a factor of 1, except
    DCDP's η, converted to its ``lr`` by the solver's own rule."""
    if not any(m == name for m, *_ in TABLE):
        return {}
    if paper_scale(problem) != 1.0:
        raise SystemExit("--settings paper: the papers' values are for 3×256×256 images; use --settings defaults")
    task, sy = problem.task, problem.sigma_y
    order = ["*", family(task), task]                   # lookup's precedence: the most specific row wins
    if sy == 0:
        order = [q for place in order for q in (place, place + "/noiseless")]
    best: dict[str, tuple[int, object]] = {}
    for m, where, param, _, paper, _ in TABLE:
        if m == name and where in order and order.index(where) >= best.get(param, (-1, None))[0]:
            best[param] = (order.index(where), paper)
    out = {k: v for k, (_, v) in best.items()}
    assert set(out) == set(lookup(name, task, sy)), name
    if name == "dpg":
        out = {"scale": out["scale_ddpm"]}                   # the default DDPM sampler's step
    if name == "dcdp":
        out["lr"] = out.pop("eta") * problem.y[0].numel() / paper_measurement_size(problem)
    return out


def full_table(args) -> list[dict]:
    device = torch.device(args.device)
    prior = invlab.load_prior(args.prior, device=device)
    images = load_images(args.images, prior.image_shape)
    try:
        metrics.lpips(images[0][1], images[0][1])
        has_lpips = True
    except metrics.LpipsUnavailable as e:
        print(f"LPIPS skipped: {str(e).splitlines()[0]}")
        has_lpips = False
    rows = []
    names = args.solvers.split(",") if args.solvers else [n for n in SOLVERS if n in LOOPS]
    for name in names:
        for label, x in images:
            x = x.to(device)
            p = invlab.make_problem(TASK, x, sigma_y=SIGMA_Y, seed=0)
            kw = paper_settings(name, p) if args.settings == "paper" else {}
            r = SOLVERS[name](p, prior, generator=gen(), **kw)
            est = r.x.clamp(-1, 1)
            row = {"solver": name, "task": TASK, "prior": args.prior, "device": str(device), "image": label,
                   "settings": args.settings + ("" if not kw else ": " + " ".join(f"{k}={v:g}" if isinstance(
                       v, float) else f"{k}={v}" for k, v in kw.items())),
                   "seconds": round(r.seconds, 2), "nfe": r.nfe, "vjp": r.vjp,
                   "peak_mb": round((r.peak_memory_bytes or 0) / 2 ** 20, 1),
                   "psnr": round(float(metrics.psnr(est, x)), 3), "ssim": round(float(metrics.ssim(est, x)), 4)}
            if has_lpips:
                row["lpips"] = round(float(metrics.lpips(est, x)), 4)
            rows.append(row)
            print(row)
    return rows


def main(argv=None):
    invlab.pin_cpu_kernels()                       # the notebooks' kernels: stored runs retrace anywhere
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-celeba", dest="celeba", action="store_false",
                    help="skip the pass of the CelebA-HQ-config UNet (random weights)")
    ap.add_argument("--full", action="store_true", help="every solver at its defaults with --prior (a GPU)")
    ap.add_argument("--prior", default="google/ddpm-ema-celebahq-256", help="with --full: the prior")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="with --full")
    ap.add_argument("--images", default=IMAGE, help="with --full: a folder of PNG/JPEG files or test-image names")
    ap.add_argument("--solvers", default=None, help="with --full: comma-separated solvers (default: all)")
    ap.add_argument("--settings", choices=("paper", "defaults"), default="paper",
                    help="with --full: the papers' values (3×256×256 priors) or invlab's defaults")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.full:
        rows = full_table(args)
        write_tables(args.out or os.path.join(OUT, "scaling_gpu.csv"), rows,
                     f"Every solver ({args.settings} settings), {args.prior} on {args.device}, {TASK}, σ_y = {SIGMA_Y}")
    else:
        rows = cpu_table(args)
        write_tables(args.out or os.path.join(OUT, "scaling.csv"), rows,
                     f"Cost per image at 3×256×256 on the CPU stand-in, {TASK}, σ_y = {SIGMA_Y}, "
                     f"{torch.get_num_threads()} thread(s); projected_s and celeba_projected_s are projected "
                     "from measured per-step cost")


if __name__ == "__main__":
    main()
