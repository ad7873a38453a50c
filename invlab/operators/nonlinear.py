"""Nonlinear forward models: phase retrieval, HDR, JPEG-like quantisation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Operator

__all__ = ["PhaseRetrieval", "HDR", "JPEG", "jpeg_quant_tables", "dct_matrix"]


class PhaseRetrieval(Operator):
    """y = |FFT(pad(x))| — Fourier magnitude with zero padding (DPS's operator).

    The image is zero-padded by ``int(oversampling/8 · H)`` pixels on each side (DPS's
    convention: oversampling 2 pads 256 → 384), then an orthonormal 2-D FFT is taken and its
    magnitude kept. A global sign flip, shifts and the 180° flip give the same y: these
    symmetries are why papers report the best of several runs (an oracle).
    """

    name = "phase_retrieval"

    def __init__(self, input_shape, oversampling: float = 2.0):
        C, H, W = input_shape
        self.pad = int(oversampling / 8 * H), int(oversampling / 8 * W)
        super().__init__(input_shape, (C, H + 2 * self.pad[0], W + 2 * self.pad[1]))
        self.oversampling = oversampling

    def forward(self, x):
        ph, pw = self.pad
        xp = F.pad(x, (pw, pw, ph, ph))
        return torch.fft.fft2(xp, norm="ortho").abs()


class HDR(Operator):
    """y = clip(scale · x, −1, 1) (DAPS / RED-diff HDR); its pseudo-inverse is y / scale.

    Gradients through the clip are zero where the pixel saturates.
    """

    name = "hdr"

    def __init__(self, input_shape, scale: float = 2.0):
        super().__init__(input_shape, input_shape)
        self.scale = float(scale)

    def forward(self, x):
        return torch.clamp(self.scale * x, -1.0, 1.0)

    def pinv(self, y):
        """The inverse on the unsaturated part, y / scale (saturated pixels stay at ±1/scale)."""
        self._check("y", y, self.output_shape)
        return y / self.scale


_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69,
         56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81,
         104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
_CHROMA = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99,
           99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32


def jpeg_quant_tables(quality: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The IJG luminance and chrominance tables scaled to ``quality`` (1..100), as (8, 8)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    out = []
    for base in (_LUMA, _CHROMA):
        t = torch.tensor(base, dtype=torch.float64).view(8, 8)
        out.append(torch.clamp(torch.floor((t * scale + 50) / 100), 1, 255))
    return out[0], out[1]


def dct_matrix(n: int = 8) -> torch.Tensor:
    """Orthonormal DCT-II matrix D (coefficients = D b Dᵀ)."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None]
    d = torch.cos(torch.pi * (2 * i + 1) * k / (2 * n)) * (2.0 / n) ** 0.5
    d[0] /= 2 ** 0.5
    return d


class JPEG(Operator):
    """JPEG-like compression at quality q (RED-diff's ``jpeg_torch`` recipe).

    [-1, 1] → [0, 255]; colour images go to YCbCr (JFIF), grayscale keep Y only; 8×8 blocks,
    orthonormal DCT, divide by the IJG table at quality q, round, multiply back, inverse DCT,
    back to RGB and [-1, 1], clipped to the valid range as a decoder does. Chroma is not
    subsampled (a simplification; say so when comparing with real JPEG files).

    Rounding has zero gradient, so the operator is **not differentiable**: calling it on a
    tensor that requires grad raises, unless it was built with ``straight_through=True``, which
    uses the straight-through estimator round(v) ≈ v in the backward pass.
    """

    def __init__(self, input_shape, quality: int = 10, straight_through: bool = False):
        C, H, W = input_shape
        if H % 8 or W % 8:
            raise ValueError(f"x: JPEG needs a side divisible by 8, got {H}x{W}")
        super().__init__(input_shape, input_shape)
        self.name = f"jpeg{quality}"
        self.quality = quality
        self.straight_through = straight_through
        self.differentiable = straight_through
        luma, chroma = jpeg_quant_tables(quality)
        self.qtab = torch.stack([luma] + [chroma] * (C - 1)) if C == 3 else luma[None].expand(C, 8, 8).clone()
        self.dct = dct_matrix(8)
        self.rgb2ycc = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                                     [0.5, -0.418688, -0.081312]], dtype=torch.float64)
        self.ycc2rgb = torch.linalg.inv(self.rgb2ycc)

    def _round(self, v):
        if self.straight_through:
            return v + (torch.round(v) - v).detach()
        return torch.round(v)

    def forward(self, x):
        if not self.straight_through and torch.is_grad_enabled() and x.requires_grad:
            raise RuntimeError(
                f"{self.name}: JPEG rounding has no gradient, so this operator is not differentiable. "
                "Build it with straight_through=True (make_problem(..., straight_through=True)) or use "
                "a solver that never differentiates A (DPG, ΠGDM).")
        C, H, W = self.input_shape
        v = (x + 1) * 127.5
        if C == 3:
            v = torch.einsum("ij,...jhw->...ihw", self._buf("rgb2ycc", x), v)
            v = v + x.new_tensor([0.0, 128.0, 128.0]).view(3, 1, 1)
        v = v - 128.0
        blocks = v.unflatten(-2, (H // 8, 8)).unflatten(-1, (W // 8, 8)).transpose(-3, -2)  # ..C,hb,wb,8,8
        d = self._buf("dct", x)
        q = self._buf("qtab", x)[:, None, None]
        coef = d @ blocks @ d.T
        coef = self._round(coef / q) * q
        blocks = d.T @ coef @ d
        v = blocks.transpose(-3, -2).flatten(-4, -3).flatten(-2) + 128.0
        if C == 3:
            v = v - x.new_tensor([0.0, 128.0, 128.0]).view(3, 1, 1)
            v = torch.einsum("ij,...jhw->...ihw", self._buf("ycc2rgb", x), v)
        return torch.clamp(v / 127.5 - 1, -1, 1)

    def pinv(self, y):
        """JPEG's decoded image is already an image: the natural inverse is the identity."""
        self._check("y", y, self.output_shape)
        return y.clone()
