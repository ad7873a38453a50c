"""One quiet call at the top of every notebook."""
from __future__ import annotations

import logging
import os
import platform
import warnings

import torch

__all__ = ["pin_cpu_kernels", "setup_notebook"]

KERNELS = ("avx2",)


def pin_cpu_kernels(kernels: str | None = "avx2") -> str:
    """Make torch's CPU kernels the same on every x86-64 machine: ATen's vectorised kernels and oneDNN's
    convolutions use at most AVX2 (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``; a variable the caller
    already set is left alone). Returns the capability torch then uses (``torch.backends.cpu``).

    Why: an AVX-512 machine sums in a different order than an AVX2 one; the first network pass already
    differs by 1e-5 relative, and DPS at ζ = 6 grows that to 50 % within ten steps on SR×4 glyphs, so
    a run stored by a benchmark would not retrace on another machine. With the kernels pinned it
    retraces bit for bit. Both settings are read at torch's first kernel call: call this before any
    computation (``setup_notebook`` does, and every benchmark script). On other CPUs, or with
    ``kernels=None``, nothing changes."""
    if kernels is not None:
        if kernels not in KERNELS:
            raise ValueError(f"kernels: expected one of {KERNELS} or None, got {kernels!r}")
        if platform.machine().lower() in ("x86_64", "amd64"):
            os.environ.setdefault("ATEN_CPU_CAPABILITY", kernels)
            os.environ.setdefault("ONEDNN_MAX_CPU_ISA", kernels.upper())
    return torch.backends.cpu.get_cpu_capability()


def setup_notebook(seed: int = 0, *, device: str | None = None, dpi: int = 80,
                   threads: int | None = 1, kernels: str | None = "avx2") -> torch.device:
    """Seed torch's global generator (for code outside the package), set plotting defaults,
    silence progress bars and library chatter, pin torch's CPU threads, and return the device —
    without printing it.

    ``device=None`` picks CUDA when available, else the CPU. The package itself never uses the
    global generator: its randomness comes from explicit ``generator`` arguments.

    ``threads`` (default 1) is torch's intra-op thread count on the CPU. The course's numbers, and
    the benchmarks the notebooks check them against (run with ``--threads 1``), are computed on one
    thread: a sum split over two threads rounds differently, and along a diffusion trajectory that
    grows past the notebooks' 1e-3 agreement checks. The course's small tensors gain little from
    more threads. ``None`` leaves torch's setting as it is.

    ``kernels`` (default ``"avx2"``) pins torch's CPU kernels with :func:`pin_cpu_kernels`, for the same
    reason across machines; ``None`` leaves them as they are.
    """
    pin_cpu_kernels(kernels)
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads: expected an integer >= 1 or None, got {threads!r}")
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("diffusers", "transformers", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*TypedStorage.*")
    warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")   # huggingface_hub, via diffusers
    try:
        import matplotlib
        import matplotlib.pyplot as plt
        plt.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "image.interpolation": "nearest",
                             "axes.grid": False, "figure.max_open_warning": 0})
        matplotlib.rcParams["image.cmap"] = "gray"
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        pass
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)
