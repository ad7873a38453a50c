"""Measurement noise models (notebook 01).

All in [-1, 1] image units: ``sigma_y = 0.05`` is a standard deviation of 0.05 on [-1, 1]
images, as in the DPS, DAPS, DCDP, DPG and DDiff code. (DDRM, DDNM, ΠGDM, RED-diff, HRDIS, DDC
and DiffPIR quote a σ in [0, 1] units: their "0.05" is ``sigma_y = 0.1`` here.)

Each model has ``sample(Ax, generator)`` and ``nll(y, Ax)`` (negative log-likelihood per image,
up to an additive constant that does not depend on Ax).
"""
from __future__ import annotations

import torch

from ._checks import check_choice, check_positive, check_tensor

__all__ = ["Noise", "GaussianNoise", "PoissonNoise", "SpeckleNoise", "make_noise", "NOISE_MODELS"]


def _flat_sum(t: torch.Tensor, batch_dims: int) -> torch.Tensor:
    return t.flatten(batch_dims).sum(-1)


class Noise:
    name = "noise"
    sigma_y = 0.0

    def sample(self, ax: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def nll(self, y: torch.Tensor, ax: torch.Tensor, batch_dims: int = 1) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover


class GaussianNoise(Noise):
    """y = A(x) + σ_y n, n ~ N(0, I). NLL = ‖y − A(x)‖² / (2σ_y²)."""

    name = "gaussian"

    def __init__(self, sigma_y: float = 0.0):
        self.sigma_y = check_positive("sigma_y", sigma_y, allow_zero=True)

    def sample(self, ax, generator=None):
        check_tensor("ax", ax)
        if self.sigma_y == 0:
            return ax.clone()
        n = torch.randn(ax.shape, generator=generator, dtype=torch.float64 if ax.dtype == torch.float64
                        else torch.float32).to(ax)
        return ax + self.sigma_y * n

    def nll(self, y, ax, batch_dims=1):
        s2 = max(self.sigma_y, 1e-3) ** 2   # σ_y = 0 is a hard constraint; use a tiny floor
        return _flat_sum((y - ax) ** 2, batch_dims) / (2 * s2)

    def __repr__(self):
        return f"GaussianNoise(sigma_y={self.sigma_y})"


class PoissonNoise(Noise):
    """Photon noise, DPS's convention: x01 = clamp((A x + 1)/2, 0, 1),
    y01 = Poisson(255·rate·x01)/(255·rate), y = clamp(2·y01 − 1, −1, 1).

    ``rate`` scales the photon count (1.0 in the papers: peak 255 counts). The exact NLL is the
    Poisson one in counts; :meth:`weighted_ls` is the weighted least squares with a variance floor
    that solvers use instead of DPS's division by |y| (which explodes near 0).
    """

    name = "poisson"

    def __init__(self, rate: float = 1.0):
        self.rate = check_positive("rate", rate)

    @property
    def peak(self) -> float:
        return 255.0 * self.rate

    def sample(self, ax, generator=None):
        check_tensor("ax", ax)
        x01 = ((ax + 1) / 2).clamp(0, 1)
        counts = torch.poisson((self.peak * x01).double().cpu(), generator=generator)
        y01 = counts.to(ax) / self.peak
        return (2 * y01 - 1).clamp(-1, 1)

    def nll(self, y, ax, batch_dims=1):
        lam = (self.peak * ((ax + 1) / 2)).clamp_min(1e-6)
        k = self.peak * ((y + 1) / 2)
        return _flat_sum(lam - k * torch.log(lam), batch_dims)

    def variance(self, ax: torch.Tensor, floor: float = 1.0) -> torch.Tensor:
        """Variance of y (in [-1, 1] units) at A x, with at least ``floor`` photon of variance."""
        counts = (self.peak * ((ax + 1) / 2)).clamp_min(floor)
        return 4 * counts / self.peak ** 2

    def weighted_ls(self, y, ax, batch_dims=1, floor: float = 1.0):
        """½ Σ (y − Ax)² / Var(y | Ax): the Gaussian approximation of the Poisson likelihood."""
        return _flat_sum((y - ax) ** 2 / self.variance(ax.detach(), floor), batch_dims) / 2

    def __repr__(self):
        return f"PoissonNoise(rate={self.rate})"


class SpeckleNoise(Noise):
    """Multiplicative speckle, the Gamma definition: on [0, 1] intensities,
    y01 = x01 · g with g ~ Gamma(ℓ, 1/ℓ) (mean 1, variance 1/ℓ, ℓ = ``looks``), then y = 2·y01 − 1.

    Speckle can push y above 1; nothing is clipped. NLL (per pixel, x01 > 0):
    ℓ·y01/x01 + ℓ·log x01, the Gamma log-likelihood up to terms free of x.
    """

    name = "speckle"

    def __init__(self, looks: float = 10.0):
        self.looks = check_positive("looks", looks)
        if self.looks < 1:
            raise ValueError(f"looks: must be >= 1 (the Gamma sampler needs shape >= 1), got {looks}")

    def _gamma(self, shape, generator):
        # Marsaglia–Tsang for shape >= 1, scale 1/looks, vectorised with redraws of rejects
        d = self.looks - 1.0 / 3.0
        c = 1.0 / (9.0 * d) ** 0.5
        n = 1
        for k in shape:
            n *= int(k)
        out = torch.empty(n, dtype=torch.float64)
        todo = torch.arange(n)
        while todo.numel():
            z = torch.randn(todo.numel(), generator=generator, dtype=torch.float64)
            u = torch.rand(todo.numel(), generator=generator, dtype=torch.float64)
            v = (1 + c * z) ** 3
            ok = (v > 0) & (torch.log(u.clamp_min(1e-300)) < 0.5 * z * z + d - d * v
                            + d * torch.log(v.clamp_min(1e-300)))
            out[todo[ok]] = d * v[ok] / self.looks
            todo = todo[~ok]
        return out.view(tuple(shape))

    def sample(self, ax, generator=None):
        check_tensor("ax", ax)
        x01 = (ax + 1) / 2
        g = self._gamma(ax.shape, generator).to(ax)
        return 2 * x01 * g - 1

    def variance(self, ax: torch.Tensor, floor: float = 1 / 255) -> torch.Tensor:
        """Variance of y (in [-1, 1] units) at A x: 4·x01²/ℓ, with x01 at least ``floor``."""
        return 4 * ((ax + 1) / 2).clamp_min(floor) ** 2 / self.looks

    def nll(self, y, ax, batch_dims=1):
        x01 = ((ax + 1) / 2).clamp_min(1e-3)
        y01 = ((y + 1) / 2).clamp_min(0)
        return _flat_sum(self.looks * (y01 / x01 + torch.log(x01)), batch_dims)

    def __repr__(self):
        return f"SpeckleNoise(looks={self.looks})"


NOISE_MODELS = ("gaussian", "poisson", "speckle")


def make_noise(noise="gaussian", *, sigma_y: float = 0.0, rate: float = 1.0, looks: float = 10.0) -> Noise:
    """A noise model by name. ``sigma_y`` is for Gaussian noise only; Poisson is set by ``rate``
    and speckle by ``looks`` — a non-zero ``sigma_y`` with them is an error, not ignored."""
    if isinstance(noise, Noise):
        return noise
    check_choice("noise", noise, NOISE_MODELS)
    sigma_y = check_positive("sigma_y", sigma_y, allow_zero=True)
    if noise == "gaussian":
        return GaussianNoise(sigma_y)
    if sigma_y:
        raise ValueError(f"sigma_y: applies to Gaussian noise only; {noise} noise is set by "
                         f"{'rate' if noise == 'poisson' else 'looks'}=")
    return PoissonNoise(rate) if noise == "poisson" else SpeckleNoise(looks)
