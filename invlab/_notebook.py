"""One quiet call at the top of every notebook."""
from __future__ import annotations

import logging
import os
import warnings

import torch

__all__ = ["setup_notebook"]


def setup_notebook(seed: int = 0, *, device: str | None = None, dpi: int = 80,
                   threads: int | None = 1) -> torch.device:
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
    """
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
