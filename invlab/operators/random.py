"""Seeded random ingredients of operators: inpainting masks, motion-blur kernels, orthogonal
sensing matrices. Every function takes an explicit ``torch.Generator``."""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["box_mask", "random_mask", "freeform_mask", "motion_kernel", "random_orthogonal"]


def box_mask(batch: int, size: int, box: int, margin: int, generator: torch.Generator) -> torch.Tensor:
    """(B, 1, size, size) masks with one box×box hole (0) per image at a random position whose
    distance to the border is at least ``margin`` (DPS draws one box per image)."""
    hi = size - margin - box
    top = torch.randint(margin, hi + 1, (batch,), generator=generator)
    left = torch.randint(margin, hi + 1, (batch,), generator=generator)
    m = torch.ones(batch, 1, size, size, dtype=torch.float64)
    for b in range(batch):
        m[b, :, top[b]:top[b] + box, left[b]:left[b] + box] = 0
    return m


def random_mask(batch: int, size: int, p: float, generator: torch.Generator) -> torch.Tensor:
    """(B, 1, size, size) masks dropping each pixel (all channels together) with probability p."""
    return (torch.rand(batch, 1, size, size, generator=generator, dtype=torch.float64) >= p).double()


def _segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    L2 = dx * dx + dy * dy
    t = ((px - ax) * dx + (py - ay) * dy) / max(L2, 1e-12)
    t = t.clamp(0, 1)
    return torch.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _stroke(size: int, g: torch.Generator) -> torch.Tensor:
    u = lambda: float(torch.rand((), generator=g, dtype=torch.float64))  # noqa: E731
    n_vertex = int(torch.randint(4, 13, (), generator=g))
    width = (0.05 + 0.10 * u()) * size
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float64) + 0.5,
                            torch.arange(size, dtype=torch.float64) + 0.5, indexing="ij")
    hole = torch.zeros(size, size, dtype=torch.bool)
    x, y = u() * size, u() * size
    angle = u() * 2 * math.pi
    for _ in range(n_vertex - 1):
        angle += (u() - 0.5) * math.pi          # turn by up to +-90 degrees
        length = (0.1 + 0.25 * u()) * size
        nx = min(max(x + length * math.cos(angle), 0.0), float(size))
        ny = min(max(y + length * math.sin(angle), 0.0), float(size))
        hole |= _segment_distance(xx, yy, x, y, nx, ny) <= width / 2
        x, y = nx, ny
    return hole


def freeform_mask(batch: int, size: int, hole_range: tuple[float, float], generator: torch.Generator,
                  max_tries: int = 1000) -> torch.Tensor:
    """(B, 1, size, size) free-form masks in the style of [Palette]: random brush strokes (polylines with
    4–12 vertices, width 5–15 % of the side), added until the hole fraction reaches
    ``hole_range[0]``; a mask that overshoots ``hole_range[1]`` is rejected and redrawn."""
    lo, hi = hole_range
    out = torch.ones(batch, 1, size, size, dtype=torch.float64)
    for b in range(batch):
        for _ in range(max_tries):
            hole = torch.zeros(size, size, dtype=torch.bool)
            while hole.double().mean() < lo:
                hole |= _stroke(size, generator)
            if hole.double().mean() <= hi:
                break
        else:  # pragma: no cover - the ranges we allow are reached in a few tries
            raise RuntimeError(f"hole_range: no mask with a hole fraction in {hole_range} after {max_tries} tries")
        out[b, 0][hole] = 0
    return out


def motion_kernel(size: int, intensity: float, generator: torch.Generator) -> torch.Tensor:
    """A random camera-shake kernel (size × size, sums to 1), after LeviBorodenko's ``motionblur``
    as used by [DPS] and [DAPS]: a random jittery path on a 2× canvas, drawn as a
    1-px line, blurred (radius 1), resized, normalised. Asymmetric in general."""
    from PIL import Image, ImageDraw, ImageFilter
    rng = np.random.default_rng(int(torch.randint(0, 2 ** 62, (), generator=generator)))
    canvas = 2 * size
    diag = math.sqrt(2) * canvas
    path_len = 0.75 * diag * (rng.uniform() + rng.uniform(0, intensity ** 2))
    steps = []
    while sum(steps) < path_len:
        step = rng.beta(1, 30) * (1 - intensity + 0.1) * diag
        steps.append(min(step, path_len - sum(steps)) if sum(steps) + step > path_len else step)
    max_angle = rng.uniform(0, intensity * math.pi)
    jitter = rng.beta(2, 20)
    angles = [rng.uniform(-max_angle, max_angle)]
    while len(angles) < len(steps):
        a = rng.triangular(0, intensity * max_angle, max_angle + 0.1)
        prev = np.sign(angles[-1]) or 1.0
        angles.append(-prev * a if rng.uniform() < jitter else prev * a)
    path = np.cumsum(np.array(steps) * np.exp(1j * np.array(angles)))
    path = np.concatenate([[0j], path])
    path = path - path.mean()
    path = path * np.exp(1j * rng.uniform(0, 2 * math.pi))
    path = path + complex(canvas / 2, canvas / 2)
    img = Image.new("L", (canvas, canvas), 0)
    ImageDraw.Draw(img).line([(p.real, p.imag) for p in path], fill=255, width=1)
    img = img.filter(ImageFilter.GaussianBlur(radius=1)).resize((size, size), Image.LANCZOS)
    k = torch.from_numpy(np.asarray(img, dtype=np.float64)).clamp_min(0)
    if float(k.sum()) <= 0:  # pragma: no cover - a path always leaves ink
        k = torch.zeros(size, size, dtype=torch.float64)
        k[size // 2, size // 2] = 1
    return k / k.sum()


def random_orthogonal(n: int, generator: torch.Generator) -> torch.Tensor:
    """A Haar-random n×n orthogonal matrix (QR of a Gaussian matrix with the sign fix)."""
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    return q * torch.sign(torch.diagonal(r))[None]
