"""Linear forward models: identity, masks, separable maps (pooling, bicubic, Gaussian blur),
circular convolution by FFT (motion blur) and block-orthogonal compressed sensing.

Every operator here has an exact adjoint (checked by the dot-product test in
``tests/test_operators.py``); those with an SVD view also get an exact pseudo-inverse and a
closed-form proximal step from it.
"""
from __future__ import annotations

import math

import torch

from .base import LinearOperator, SVDView

__all__ = ["Identity", "Mask", "Separable", "Convolution", "BlockCS", "Matrix", "avg_pool_matrix",
           "bicubic_matrix", "gaussian_kernel1d", "circulant"]


class Identity(LinearOperator):
    """A = I (denoising)."""

    name = "denoise"
    has_svd = True

    def __init__(self, input_shape):
        super().__init__(input_shape, input_shape)
        n = math.prod(self.input_shape)
        self.s = torch.ones(1, n, dtype=torch.float64)

    def forward(self, x):
        return x.clone()

    def _adjoint(self, y):
        return y.clone()

    def _normal(self, x):
        return x.clone()

    def _pinv(self, y):
        return y.clone()

    def svd(self):
        flat = lambda t: t.flatten(-3)  # noqa: E731
        unflat = lambda c: c.unflatten(-1, self.input_shape)  # noqa: E731
        return SVDView(self.s, flat, unflat, flat, unflat)


class Mask(LinearOperator):
    """y = x ⊙ M with a 0/1 mask shared by the channels; A = Aᵀ = A⁺ = diag(M).

    ``mask`` has shape (B or 1, 1, H, W). The measurement keeps the image shape (zeros in the
    hole), as the DPS code does.
    """

    has_svd = True

    def __init__(self, mask: torch.Tensor, channels: int, name: str = "inpaint"):
        if mask.ndim != 4 or mask.shape[1] != 1:
            raise ValueError(f"mask: expected shape (B, 1, H, W), got {tuple(mask.shape)}")
        shape = (channels,) + tuple(mask.shape[-2:])
        super().__init__(shape, shape, batch_size=mask.shape[0])
        self.name = name
        self.mask = (mask > 0.5).to(torch.float64)

    def forward(self, x):
        return x * self._buf("mask", x)

    def _adjoint(self, y):
        return y * self._buf("mask", y)

    def _normal(self, x):          # M ⊙ M ⊙ x = M ⊙ x for a 0/1 mask
        return x * self._buf("mask", x)

    def _pinv(self, y):
        return y * self._buf("mask", y)

    @property
    def s(self):
        return self.mask.expand(-1, self.input_shape[0], -1, -1).flatten(1)

    def svd(self):
        flat = lambda t: t.flatten(-3)  # noqa: E731
        unflat = lambda c: c.unflatten(-1, self.input_shape)  # noqa: E731
        m = self.s
        return SVDView(m, flat, unflat, flat, unflat)

    def prox(self, v, y, gamma):
        g = torch.as_tensor(gamma, dtype=v.dtype, device=v.device)
        if g.ndim:
            g = g.reshape(g.shape + (1, 1, 1))
        m = self._buf("mask", v)
        return (v + g * m * y) / (1 + g * m)


# ---------------------------------------------------------------------------------------------
# separable operators: y = Mh x Mwᵀ per channel

def avg_pool_matrix(n: int, factor: int) -> torch.Tensor:
    """(n/factor, n) block-averaging matrix."""
    if n % factor:
        raise ValueError(f"factor: image side {n} is not divisible by {factor}")
    m = torch.zeros(n // factor, n, dtype=torch.float64)
    for i in range(n // factor):
        m[i, i * factor:(i + 1) * factor] = 1.0 / factor
    return m


def _cubic(x: torch.Tensor) -> torch.Tensor:
    ax = x.abs()
    ax2, ax3 = ax ** 2, ax ** 3
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def bicubic_matrix(n: int, factor: int) -> torch.Tensor:
    """(n/factor, n) matrix of MATLAB ``imresize(x, 1/factor, 'bicubic')`` with antialiasing.

    Keys cubic (a = −0.5) stretched by the factor, symmetric boundary (indices mirrored), rows
    normalised to sum 1 — the operator of the DPS/DAPS super-resolution code.
    """
    if n % factor:
        raise ValueError(f"factor: image side {n} is not divisible by {factor}")
    out = n // factor
    scale = 1.0 / factor
    width = 4.0 / scale
    x = torch.arange(1, out + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - width / 2)
    p = int(math.ceil(width)) + 2
    idx = left[:, None] + torch.arange(p, dtype=torch.float64)[None]
    w = scale * _cubic(scale * (u[:, None] - idx))
    w = w / w.sum(1, keepdim=True)
    aux = torch.cat([torch.arange(n), torch.arange(n - 1, -1, -1)])
    idx = aux[torch.remainder(idx.long() - 1, 2 * n)]
    m = torch.zeros(out, n, dtype=torch.float64)
    m.scatter_add_(1, idx, w)
    return m


def gaussian_kernel1d(std: float, radius: int) -> torch.Tensor:
    k = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (k / std) ** 2)
    return g / g.sum()


def circulant(kernel1d: torch.Tensor, n: int) -> torch.Tensor:
    """(n, n) circular convolution matrix of a centred odd-length 1-D kernel."""
    r = kernel1d.numel() // 2
    m = torch.zeros(n, n, dtype=torch.float64)
    for j, w in enumerate(kernel1d.tolist()):
        off = j - r
        idx = torch.arange(n)
        m[idx, (idx - off) % n] += w
    return m


class Separable(LinearOperator):
    """y = Mh x Mwᵀ on every channel (average pooling, bicubic down-sampling, separable blur).

    The SVD comes from the two small 1-D SVDs: A = Mh ⊗ Mw, so singular values are the outer
    products sh_i·sw_j. The pseudo-inverse treats products ≤ ``rcond``·max as zero, like every
    closed-form pinv; when none is that small it is Mh⁺ ⊗ Mw⁺ (computed once in float64).
    """

    has_svd = True

    def __init__(self, mh: torch.Tensor, mw: torch.Tensor, channels: int, name: str):
        super().__init__((channels, mh.shape[1], mw.shape[1]), (channels, mh.shape[0], mw.shape[0]))
        self.name = name
        self.mh, self.mw = mh.to(torch.float64), mw.to(torch.float64)
        uh, sh, vht = torch.linalg.svd(self.mh)
        uw, sw, vwt = torch.linalg.svd(self.mw)
        self.uh, self.uw, self.vh, self.vw = uh, uw, vht.T.contiguous(), vwt.T.contiguous()
        H, W = self.input_shape[1:]
        shp = torch.zeros(H, dtype=torch.float64)
        shp[:sh.numel()] = sh
        swp = torch.zeros(W, dtype=torch.float64)
        swp[:sw.numel()] = sw
        s2 = torch.outer(shp, swp)
        self.s = s2[None].expand(channels, -1, -1).reshape(1, -1).contiguous()
        # A⁺ keeps the products sh_i·sw_j > rcond·max (the rule of every closed-form pinv). When
        # none is dropped, A⁺ = Mh⁺ ⊗ Mw⁺ (two matmuls); otherwise the cut is not separable and
        # A⁺y = Vh (S⁺ ⊙ Uhᵀ y Uw) Vwᵀ with S⁺ the (kh, kw) table of kept 1/(sh_i·sw_j).
        kh, kw = sh.numel(), sw.numel()
        prod = torch.outer(sh, sw)
        keep = prod > self.rcond * prod.max()
        self.pinv_exact_kronecker = bool(keep.all())
        if self.pinv_exact_kronecker:
            self.ph = self.vh[:, :kh] @ torch.diag(1 / sh) @ uh[:, :kh].T
            self.pw = self.vw[:, :kw] @ torch.diag(1 / sw) @ uw[:, :kw].T
        else:
            self.sinv = torch.where(keep, 1 / torch.where(keep, prod, torch.ones_like(prod)),
                                    torch.zeros_like(prod))
            self.pvh, self.pvw = self.vh[:, :kh].contiguous(), self.vw[:, :kw].contiguous()
            self.puh, self.puw = uh[:, :kh].contiguous(), uw[:, :kw].contiguous()
        self.gh, self.gw = self.mh.T @ self.mh, self.mw.T @ self.mw   # AᵀA = (MhᵀMh) ⊗ (MwᵀMw)

    @staticmethod
    def _apply(a, x, b):
        return a @ x @ b.transpose(-1, -2)

    def forward(self, x):
        return self._apply(self._buf("mh", x), x, self._buf("mw", x))

    def _adjoint(self, y):
        return self._apply(self._buf("mh", y).T, y, self._buf("mw", y).T)

    def _normal(self, x):
        return self._apply(self._buf("gh", x), x, self._buf("gw", x))

    def _pinv(self, y):
        if self.pinv_exact_kronecker:
            return self._apply(self._buf("ph", y), y, self._buf("pw", y))
        c = self._apply(self._buf("puh", y).T, y, self._buf("puw", y).T) * self._buf("sinv", y)
        return self._apply(self._buf("pvh", y), c, self._buf("pvw", y))

    def svd(self):
        C, H, W = self.input_shape
        h, w = self.output_shape[1:]

        def vt(x):
            return self._apply(self._buf("vh", x).T, x, self._buf("vw", x).T).flatten(-3)

        def v(c):
            return self._apply(self._buf("vh", c), c.unflatten(-1, (C, H, W)), self._buf("vw", c))

        def ut(y):
            z = self._apply(self._buf("uh", y).T, y, self._buf("uw", y).T)
            out = y.new_zeros(y.shape[:-2] + (H, W))
            out[..., :h, :w] = z
            return out.flatten(-3)

        def u(c):
            z = c.unflatten(-1, (C, H, W))[..., :h, :w]
            return self._apply(self._buf("uh", c), z, self._buf("uw", c))

        return SVDView(self.s, vt, v, ut, u)


# ---------------------------------------------------------------------------------------------
class Convolution(LinearOperator):
    """Circular 2-D convolution y = k ⊛ x (true convolution, not correlation), by FFT.

    FFT diagonalises A: Aᵀ multiplies by the conjugate transfer function, A⁺ divides by it
    where |K̂| > rcond·max, and the proximal step (I + γAᵀA)⁻¹ is a division too. The kernel is
    shared by channels and images.
    """

    def __init__(self, kernel: torch.Tensor, input_shape, name: str = "blur"):
        super().__init__(input_shape, input_shape)
        self.name = name
        k = kernel.to(torch.float64)
        if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
            raise ValueError(f"kernel: expected an odd-sized 2-D kernel, got shape {tuple(kernel.shape)}")
        H, W = self.input_shape[1:]
        if k.shape[0] > H or k.shape[1] > W:
            raise ValueError(f"kernel: {tuple(k.shape)} is larger than the image {H}x{W}")
        self.kernel = k
        canvas = torch.zeros(H, W, dtype=torch.float64)
        canvas[:k.shape[0], :k.shape[1]] = k
        canvas = torch.roll(canvas, (-(k.shape[0] // 2), -(k.shape[1] // 2)), (0, 1))
        self.khat = torch.fft.fft2(canvas)
        self.khat2 = self.khat.abs() ** 2          # AᵀA is the filter |K̂|²

    def _filter(self, x, h):
        return torch.fft.ifft2(torch.fft.fft2(x) * h).real

    def forward(self, x):
        return self._filter(x, self._buf("khat", x))

    def _adjoint(self, y):
        return self._filter(y, self._buf("khat", y).conj())

    def _normal(self, x):
        return self._filter(x, self._buf("khat2", x))

    def _pinv(self, y):
        kh = self._buf("khat", y)
        mag2 = kh.abs() ** 2
        keep = kh.abs() > self.rcond * kh.abs().max()
        inv = torch.where(keep, kh.conj() / torch.where(keep, mag2, torch.ones_like(mag2)),
                          torch.zeros_like(kh))
        return self._filter(y, inv)

    @property
    def has_prox(self):
        return True

    def prox(self, v, y, gamma):
        kh = self._buf("khat", v)
        g = torch.as_tensor(gamma, dtype=v.dtype, device=v.device)
        if g.ndim:
            g = g.reshape(g.shape + (1, 1, 1))
        num = torch.fft.fft2(v) + g * kh.conj() * torch.fft.fft2(y)
        return torch.fft.ifft2(num / (1 + g * kh.abs() ** 2)).real

    def transfer_magnitude(self) -> torch.Tensor:
        """|K̂| on the H×W frequency grid: the singular values of the circulant A."""
        return self.khat.abs()


# ---------------------------------------------------------------------------------------------
class BlockCS(LinearOperator):
    """Block-orthogonal compressed sensing (DDNM ``cs_blockbased``).

    Each channel is cut into ``block``×``block`` tiles; each tile (flattened, length b²) is
    multiplied by the first m = ratio·b² rows of one seeded random orthogonal matrix Q.
    A Aᵀ = I, so A⁺ = Aᵀ. Measurement shape: (C, n_tiles, m).
    """

    has_svd = True

    def __init__(self, input_shape, ratio: float, q: torch.Tensor, block: int = 32):
        C, H, W = input_shape
        if H % block or W % block:
            raise ValueError(f"x: compressed sensing needs a side divisible by the block {block}, "
                             f"got {H}x{W}")
        n = block * block
        m = max(1, int(round(ratio * n)))
        super().__init__(input_shape, (C, (H // block) * (W // block), m))
        self.name = f"cs{int(round(ratio * 100))}"
        self.block, self.m = block, m
        self.q = q.to(torch.float64)
        self.qm = self.q[:m].contiguous()
        s = torch.zeros(C, H // block * (W // block), n, dtype=torch.float64)
        s[..., :m] = 1.0
        self.s = s.reshape(1, -1)

    def _tiles(self, x):
        b = self.block
        C, H, W = self.input_shape
        t = x.unflatten(-2, (H // b, b)).unflatten(-1, (W // b, b))      # ..., C, hb, b, wb, b
        t = t.transpose(-3, -2)                                          # ..., C, hb, wb, b, b
        return t.flatten(-2).flatten(-3, -2)                             # ..., C, nt, b*b

    def _untile(self, t):
        b = self.block
        C, H, W = self.input_shape
        t = t.unflatten(-1, (b, b)).unflatten(-3, (H // b, W // b))      # ..., C, hb, wb, b, b
        return t.transpose(-3, -2).flatten(-4, -3).flatten(-2)           # ..., C, H, W

    def forward(self, x):
        return self._tiles(x) @ self._buf("qm", x).T

    def _adjoint(self, y):
        return self._untile(y @ self._buf("qm", y))

    def _pinv(self, y):
        return self._adjoint(y)

    def svd(self):
        n = self.block ** 2

        def vt(x):
            return (self._tiles(x) @ self._buf("q", x).T).flatten(-3)

        def v(c):
            return self._untile(c.unflatten(-1, self.output_shape[:2] + (n,)) @ self._buf("q", c))

        def ut(y):
            out = y.new_zeros(y.shape[:-1] + (n,))
            out[..., :self.m] = y
            return out.flatten(-3)

        def u(c):
            return c.unflatten(-1, self.output_shape[:2] + (n,))[..., :self.m]

        return SVDView(self.s, vt, v, ut, u)


# ---------------------------------------------------------------------------------------------
class Matrix(LinearOperator):
    """y = A x for vectors x of shape (d,) and an explicit (m, d) matrix — the Gaussian-mixture
    ground-truth problems of the [MCGdiff] benchmark. Full SVD view (A = U diag(s) Vᵀ, s padded to d)."""

    has_svd = True

    def __init__(self, A: torch.Tensor, name: str = "matrix"):
        if not isinstance(A, torch.Tensor) or A.ndim != 2:
            raise ValueError("A: expected an (m, d) matrix tensor")
        m, d = A.shape
        super().__init__((d,), (m,))
        self.name = name
        self.A = A.to(torch.float64)
        u, s, vh = torch.linalg.svd(self.A)
        self.u, self.v = u, vh.T.contiguous()
        sp = torch.zeros(d, dtype=torch.float64)
        sp[:s.numel()] = s
        self.s = sp[None]
        self.k = s.numel()

    def forward(self, x):
        return x @ self._buf("A", x).T

    def _adjoint(self, y):
        return y @ self._buf("A", y)

    def svd(self):
        d = self.input_shape[0]

        def ut(y):
            out = y.new_zeros(y.shape[:-1] + (d,))
            out[..., :self.k] = (y @ self._buf("u", y))[..., :self.k]
            return out

        return SVDView(self.s, lambda x: x @ self._buf("v", x), lambda c: c @ self._buf("v", c).T, ut,
                       lambda c: c[..., :self.k] @ self._buf("u", c)[:, :self.k].T)
