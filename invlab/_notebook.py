"""One quiet call at the top of every notebook."""
from __future__ import annotations

import logging
import os
import warnings

import torch

__all__ = ["setup_notebook"]


def setup_notebook(seed: int = 0, *, device: str | None = None, dpi: int = 80) -> torch.device:
    """Seed torch's global generator (for code outside the package), set plotting defaults,
    silence progress bars and library chatter, and return the device — without printing it.

    ``device=None`` picks CUDA when available, else the CPU. The package itself never uses the
    global generator: its randomness comes from explicit ``generator`` arguments.
    """
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
