"""The variance-preserving schedule, time grids and ε ↔ x̂_0 ↔ score conversions (notebook 02).

Conventions (ALGORITHMS §0): indices t = 0..T−1, ᾱ_t = ∏_{s≤t}(1 − β_s) in float64, ᾱ_{−1} = 1;
x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε; Tweedie x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t; score = −ε̂/√(1−ᾱ_t).
"""
from __future__ import annotations

import torch

from .._checks import check_choice, check_int

__all__ = ["VPSchedule", "timesteps", "GRIDS"]

GRIDS = ("leading", "respaced", "all", "linspace")


class VPSchedule:
    """ᾱ_t (float64) and the quantities derived from it.

    Build from a beta range (``VPSchedule.linear()``, the papers' 1e-4 → 0.02, T = 1000) or from
    any diffusers scheduler config (``VPSchedule.from_config(cfg)``), which is how hub models
    carry their schedule.
    """

    def __init__(self, betas: torch.Tensor):
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.ndim != 1 or not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError("betas: expected a 1-D tensor of values in (0, 1)")
        self.betas = betas
        self.alpha_bar = torch.cumprod(1 - betas, 0)
        self.T = betas.numel()

    @classmethod
    def linear(cls, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> "VPSchedule":
        return cls(torch.linspace(beta_start, beta_end, T, dtype=torch.float64))

    @classmethod
    def from_config(cls, config) -> "VPSchedule":
        """From a diffusers scheduler (or its config dict): linear, scaled_linear, squaredcos_cap_v2."""
        from diffusers import DDPMScheduler
        cfg = dict(getattr(config, "config", config))
        known = {k: cfg[k] for k in ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule",
                                     "trained_betas") if k in cfg and cfg[k] is not None}
        sched = DDPMScheduler(**known)
        return cls(sched.betas.double())

    def ab(self, t, like: torch.Tensor | None = None) -> torch.Tensor:
        """ᾱ_t for integer t (int or tensor), with ᾱ_{−1} = 1; cast to ``like``'s dtype/device,
        shaped to broadcast over ``like`` (batch first)."""
        t = torch.as_tensor(t, dtype=torch.long)
        padded = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar])
        a = padded[t + 1]
        if like is not None:
            a = a.to(device=like.device, dtype=like.dtype)
            if a.ndim == 1 and like.ndim > 1:
                a = a.view((-1,) + (1,) * (like.ndim - 1))
        return a

    # conversions ------------------------------------------------------------------------------
    def x0_from_eps(self, x_t, eps, t):
        a = self.ab(t, x_t)
        return (x_t - (1 - a).sqrt() * eps) / a.sqrt()

    def eps_from_x0(self, x_t, x0, t):
        a = self.ab(t, x_t)
        return (x_t - a.sqrt() * x0) / (1 - a).sqrt()

    def score_from_eps(self, eps, t):
        return -eps / (1 - self.ab(t, eps)).sqrt()

    def eps_from_score(self, score, t):
        return -score * (1 - self.ab(t, score)).sqrt()

    def noise(self, x0, t, eps):
        """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε."""
        a = self.ab(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * eps

    def sigma_ve(self, t):
        """σ(t) = √((1−ᾱ_t)/ᾱ_t): the noise level of x_t/√ᾱ_t (VE/EDM scale, DAPS and PnP)."""
        a = self.ab(t)
        return ((1 - a) / a).sqrt()

    def t_for_sigma(self, sigma: float) -> int:
        """The t whose VE noise level √((1−ᾱ_t)/ᾱ_t) is closest to ``sigma`` (PnP denoisers)."""
        s = ((1 - self.alpha_bar) / self.alpha_bar).sqrt()
        return int((s - float(sigma)).abs().argmin())


def timesteps(T: int, steps: int, kind: str = "leading") -> torch.Tensor:
    """A descending grid of ``steps`` integer times in [0, T).

    - ``"leading"``: ``range(0, T, T//steps)`` reversed (first t = T − T/steps, e.g. 980 for 50
      steps) — DDIM, DDRM, DDNM, RED-diff, and diffusers' default spacing;
    - ``"respaced"``: guided-diffusion's respacing, evenly spaced and including 0 and T−1 (DPS lineage);
    - ``"all"``: T−1, …, 0 (``steps`` must equal T);
    - ``"linspace"``: rounded linspace from T−1 to 0 (unique).
    """
    check_choice("kind", kind, GRIDS)
    check_int("steps", steps, lo=1, hi=T)
    if kind == "all":
        if steps != T:
            raise ValueError(f"steps: the 'all' grid has exactly T = {T} steps, got {steps}")
        return torch.arange(T - 1, -1, -1)
    if kind == "leading":
        return torch.arange(0, T, T // steps)[:steps].flip(0)
    if kind == "respaced":
        if steps == 1:
            return torch.tensor([T - 1])
        frac = (T - 1) / (steps - 1)
        return torch.tensor(sorted({round(i * frac) for i in range(steps)}, reverse=True))
    return torch.linspace(T - 1, 0, steps).round().long().unique().flip(0)
