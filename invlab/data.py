"""Data the course runs on, offline: the procedural glyph data set and classic test images.

* :func:`glyphs` — 32×32 grayscale digits 0–9 rendered with the TrueType fonts matplotlib ships,
  with random size, rotation, shear, stroke width and shift. Deterministic for a (split, seed)
  and random-access: image ``i`` of a split never depends on how many images were asked for.
  Introduced in notebook 02.
* :func:`test_image` — the photographs scikit-image ships (no download), cropped, resized and
  mapped to [-1, 1]. Introduced in notebook 01.
"""
from __future__ import annotations

import functools
import hashlib
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import check_choice, check_int

__all__ = ["glyphs", "glyph_fonts", "test_image", "TEST_IMAGES"]

GLYPH_SIZE = 32
_CANVAS = 128          # templates are rendered at 4x the output size, then warped and pooled
_CHUNK = 256           # images are generated in chunks, each from its own seeded generator
_SPLITS = {"train": 0, "test": 1}
# Fonts that carry code points 0x30-0x39 but draw symbols or old-style figures there.
_NOT_DIGIT_FONTS = {"cmsy10", "cmex10", "cmmi10", "LastResortHE-Regular"}


def _font_dir() -> str:
    import matplotlib
    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf")


def _render_digit(path: str, digit: int) -> np.ndarray | None:
    from matplotlib.ft2font import FT2Font
    font = FT2Font(path)
    if font.get_char_index(ord(str(digit))) == 0:
        return None
    font.set_size(72, 72)
    font.set_text(str(digit), 0.0)
    font.draw_glyphs_to_bitmap(antialiased=True)
    img = np.asarray(font.get_image(), dtype=np.float32) / 255.0
    if img.size == 0 or img.max() < 0.5:
        return None
    return img


@functools.lru_cache(maxsize=1)
def _templates() -> tuple[torch.Tensor, tuple[str, ...]]:
    """(F, 10, 1, 128, 128) ink templates in [0, 1], glyph height normalised to 80 px, centred."""
    temps, names = [], []
    for fname in sorted(os.listdir(_font_dir())):
        stem, ext = os.path.splitext(fname)
        if ext != ".ttf" or stem in _NOT_DIGIT_FONTS:
            continue
        imgs = [_render_digit(os.path.join(_font_dir(), fname), d) for d in range(10)]
        if any(im is None for im in imgs):
            continue
        font_t = []
        for im in imgs:
            t = torch.from_numpy(im)[None, None]
            h, w = t.shape[-2:]
            s = min(80.0 / h, 110.0 / w)        # height 80 px unless that makes it wider than 110
            nh, nw = max(1, round(h * s)), max(1, round(w * s))
            t = F.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
            canvas = torch.zeros(1, 1, _CANVAS, _CANVAS)
            top, left = (_CANVAS - nh) // 2, (_CANVAS - nw) // 2
            canvas[..., top:top + nh, left:left + nw] = t
            font_t.append(canvas[0])
        stack = torch.stack(font_t)
        # drop fonts whose ten digits are not ten distinct shapes
        flat = stack.flatten(1)
        dist = torch.cdist(flat, flat) + torch.eye(10) * 1e9
        if float(dist.min()) < 1.0:
            continue
        temps.append(stack)
        names.append(stem)
    if not temps:
        raise RuntimeError("no usable TrueType font with digits found in matplotlib's data folder")
    return torch.stack(temps), tuple(names)


def glyph_fonts() -> tuple[str, ...]:
    """Names of the fonts the glyph data set draws from (those that can draw ten distinct digits)."""
    return _templates()[1]


def _chunk_seed(split: str, seed: int, chunk: int) -> int:
    h = hashlib.sha256(f"invlab-glyphs/{split}/{seed}/{chunk}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def _render_chunk(split: str, seed: int, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    temps, _ = _templates()
    n_fonts = temps.shape[0]
    g = torch.Generator().manual_seed(_chunk_seed(split, seed, chunk))
    n = _CHUNK
    labels = torch.randint(0, 10, (n,), generator=g)
    fonts = torch.randint(0, n_fonts, (n,), generator=g)
    u = torch.rand(n, 7, generator=g)
    x = temps[fonts, labels]                                     # (n, 1, 128, 128)
    # stroke width: dilate (positive) or erode (negative) by up to a few canvas pixels
    stroke = torch.floor(u[:, 0] * 5).long() - 1                 # -1..3 canvas px (= -0.25..0.75 output px)
    out = torch.empty_like(x)
    for k in stroke.unique().tolist():
        sel = stroke == k
        xs = x[sel]
        if k > 0:
            xs = F.max_pool2d(xs, 2 * k + 1, stride=1, padding=k)
        elif k < 0:
            xs = -F.max_pool2d(-xs, 2 * (-k) + 1, stride=1, padding=-k)
        out[sel] = xs
    x = out
    # random affine: size, rotation, shear, shift (inverse map from output to template coords)
    scale = 0.62 + 0.3 * u[:, 1]                                  # glyph height 0.62..0.92 of canvas*0.625
    angle = (u[:, 2] - 0.5) * math.radians(24)                    # +-12 degrees
    shear = (u[:, 3] - 0.5) * 0.5                                 # +-0.25
    aspect = 0.85 + 0.3 * u[:, 4]
    shift = (u[:, 5:7] - 0.5) * 0.25                              # +-0.125 of half-width = +-2 px
    c, s = torch.cos(angle), torch.sin(angle)
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    sh = torch.zeros(n, 2, 2)
    sh[:, 0, 0] = 1.0
    sh[:, 0, 1] = shear
    sh[:, 1, 1] = 1.0
    sc = torch.diag_embed(torch.stack([scale * aspect, scale], -1))
    fwd = rot @ sh @ sc                                           # template -> output
    inv = torch.linalg.inv(fwd)
    theta = torch.cat([inv, (-inv @ shift[..., None])], -1)       # output -> template
    grid = F.affine_grid(theta, (n, 1, _CANVAS, _CANVAS), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x = F.avg_pool2d(x, _CANVAS // GLYPH_SIZE)                    # antialiased downsampling to 32x32
    x = x.clamp(0, 1) * 2 - 1
    return x, labels


@functools.lru_cache(maxsize=64)
def _cached_chunk(split: str, seed: int, chunk: int):
    return _render_chunk(split, seed, chunk)


def glyphs(n: int, *, split: str = "train", seed: int = 0, start: int = 0,
           cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Glyph images and their digit labels.

    Args:
        n: number of images.
        split: ``"train"`` or ``"test"``; the two splits come from disjoint random streams, and
            the unit tests check that they share no image.
        seed: selects another stream of the same split.
        start: index of the first image (images are random-access: ``glyphs(5, start=3)`` equals
            ``glyphs(8)[3:]``).
        cache: keep rendered chunks in memory (turn off in a training loop that streams).

    Returns:
        ``x`` of shape (n, 1, 32, 32), float32 in [-1, 1] (ink is +1, background -1), and
        ``labels`` of shape (n,), int64 in 0..9.
    """
    check_int("n", n, lo=0)
    check_int("start", start, lo=0)
    check_choice("split", split, _SPLITS)
    check_int("seed", seed, lo=0)
    xs, ls = [], []
    first, last = start // _CHUNK, (start + n - 1) // _CHUNK
    for chunk in range(first, last + 1) if n else []:
        x, lab = (_cached_chunk if cache else _render_chunk)(split, seed, chunk)
        lo = max(start - chunk * _CHUNK, 0)
        hi = min(start + n - chunk * _CHUNK, _CHUNK)
        xs.append(x[lo:hi])
        ls.append(lab[lo:hi])
    if not xs:
        return torch.empty(0, 1, GLYPH_SIZE, GLYPH_SIZE), torch.empty(0, dtype=torch.long)
    return torch.cat(xs).clone(), torch.cat(ls).clone()


# --------------------------------------------------------------------------------------------
# test images shipped with scikit-image (no download)
TEST_IMAGES = ("astronaut", "camera", "coffee", "chelsea", "rocket", "moon", "brick", "grass",
               "gravel", "coins", "page", "text", "cell")


def test_image(name: str = "camera", size: int = 32, gray: bool = False, *,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A classic test image as a (1, C, size, size) tensor in [-1, 1].

    The image is centre-cropped to a square and resized with an antialiased filter. Colour
    images give C = 3 unless ``gray=True`` (ITU-R 601 luma); grayscale images always give C = 1.
    Introduced in notebook 01.
    """
    check_choice("name", name, TEST_IMAGES)
    check_int("size", size, lo=8, hi=4096)
    import skimage.data
    img = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
    if img.max() > 1.0:
        img = img / (65535.0 if img.max() > 255 else 255.0)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    t = torch.from_numpy(img)
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    if gray and t.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=t.dtype).view(1, 3, 1, 1)
        t = (t * w).sum(1, keepdim=True)
    h, w = t.shape[-2:]
    m = min(h, w)
    top, left = (h - m) // 2, (w - m) // 2
    t = t[..., top:top + m, left:left + m]
    t = F.interpolate(t, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    return (t.clamp(0, 1) * 2 - 1).to(dtype)
