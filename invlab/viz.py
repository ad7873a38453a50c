"""Figures for the notebooks: image grids, comparisons annotated with metrics, trajectories."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

__all__ = ["to_numpy_image", "tile", "panel", "show_images", "compare", "show_trajectory", "diverged"]


def to_numpy_image(x: torch.Tensor, *, vrange=(-1.0, 1.0)):
    """(C, H, W) or (H, W) tensor → an (H, W) or (H, W, 3) float array in [0, 1] for imshow.

    Values outside ``vrange`` are clipped *for display only*.
    """
    x = x.detach().float().cpu()
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"x: expected a single image, got a batch of shape {tuple(x.shape)}")
        x = x[0]
    lo, hi = vrange
    x = ((x - lo) / (hi - lo)).clamp(0, 1)
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else x.permute(1, 2, 0)
    return x.numpy()


def tile(x: torch.Tensor, nrow: int = 4, pad: int = 1, value: float = -1.0) -> torch.Tensor:
    """A (B, C, H, W) batch as one (C, H', W') image, ``nrow`` images per row, ``pad`` pixels of
    ``value`` between them (a dependency-free ``make_grid``)."""
    if x.ndim != 4:
        raise ValueError(f"x: expected a (B, C, H, W) batch, got shape {tuple(x.shape)}")
    x = x.detach().float().cpu()
    B, C, H, W = x.shape
    ncol = min(nrow, B)
    rows = -(-B // ncol)
    out = torch.full((C, rows * (H + pad) - pad, ncol * (W + pad) - pad), value)
    for i in range(B):
        r, c = divmod(i, ncol)
        out[:, r * (H + pad):r * (H + pad) + H, c * (W + pad):c * (W + pad) + W] = x[i]
    return out


def panel(ax, x: torch.Tensor, title: str = "", nrow: int = 4, vrange=(-1.0, 1.0), cmap: str = "gray"):
    """Draw a batch as one tiled image on a matplotlib axis (for side-by-side comparisons)."""
    ax.imshow(to_numpy_image(tile(x, nrow, value=vrange[0]), vrange=vrange), cmap=cmap)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return ax


def show_images(images: Sequence[torch.Tensor] | torch.Tensor, titles: Sequence[str] | None = None, *,
                ncols: int | None = None, size: float = 1.6, vrange=(-1.0, 1.0), suptitle: str | None = None,
                cmap: str = "gray"):
    """A grid of images (a list of (C, H, W)/(1, C, H, W) tensors, or a (B, C, H, W) batch).

    Returns the matplotlib figure (end the notebook line with ``;`` to keep the output quiet).
    """
    import matplotlib.pyplot as plt
    if isinstance(images, torch.Tensor):
        images = list(images) if images.ndim == 4 else [images]
    n = len(images)
    ncols = ncols or min(n, 8)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if titles else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(to_numpy_image(images[i], vrange=vrange), cmap=cmap, vmin=0, vmax=1,
                      interpolation="nearest")
            if titles is not None and i < len(titles):
                ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def compare(truth: torch.Tensor, estimates: Mapping[str, torch.Tensor], *, measurement: torch.Tensor | None = None,
            index: int = 0, size: float = 1.8):
    """Ground truth, optionally the measurement, and each estimate, titled with PSNR / SSIM.

    ``truth`` (B, C, H, W); ``estimates`` name → (B, C, H, W); shows image ``index``.
    """
    from .metrics import psnr, ssim
    imgs, titles = [truth[index]], ["ground truth"]
    if measurement is not None:
        imgs.append(measurement[index])
        titles.append("measurement")
    for name, est in estimates.items():
        e = est[index:index + 1]
        t = truth[index:index + 1]
        p, s = float(psnr(e.clamp(-1, 1), t)), float(ssim(e.clamp(-1, 1), t))
        imgs.append(est[index])
        titles.append(f"{name}\n{p:.1f} dB / {s:.2f}")
    return show_images(imgs, titles, size=size)


def show_trajectory(frames: Sequence[torch.Tensor], labels: Sequence[str] | None = None, *, index: int = 0,
                    size: float = 1.4, title: str | None = None):
    """A row of snapshots along a solver's trajectory (each frame (B, C, H, W))."""
    return show_images([f[index] for f in frames], labels, ncols=len(frames), size=size, suptitle=title)


def diverged(x: torch.Tensor, title: str, why: str) -> bool:
    """For a widget callback: when the estimate ``x`` holds non-finite values, draw a small figure that
    says so (the estimate diverged, then ``why``: what to change) under ``title`` and return True;
    otherwise draw nothing and return False."""
    if bool(torch.isfinite(x).all()):
        return False
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.6, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, f"No image: the estimate diverged (it holds non-finite values).\n{why}",
            ha="center", va="center", fontsize=9, wrap=True)
    ax.set_title(title, fontsize=10)
    return True
