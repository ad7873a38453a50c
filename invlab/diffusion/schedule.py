"""The variance-preserving schedule, time grids and ε ↔ x̂_0 ↔ score conversions (notebook 02).

Conventions ([DDPM], indexed from 0): indices t = 0..T−1, ᾱ_t = ∏_{s≤t}(1 − β_s) in float64, ᾱ_{−1} = 1;
x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε; Tweedie [Tweedie] x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t; score = −ε̂/√(1−ᾱ_t).
"""
from __future__ import annotations

from pathlib import Path

import torch

from .._checks import check_choice, check_int

__all__ = ["VPSchedule", "timesteps", "GRIDS", "pairs", "karras_sigmas", "schedule_from_pretrained"]

GRIDS = ("leading", "respaced", "all", "quad")


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


def schedule_from_pretrained(path_or_id: str, subfolder: str | None = None, **kw) -> VPSchedule:
    """The schedule of a diffusers model folder or hub id (its ``scheduler_config.json``); a model
    without one gets the DDPM default (:meth:`VPSchedule.linear`); a config that exists but cannot
    be read is an error naming it (never a silent fallback)."""
    from diffusers import DDPMScheduler

    from ..weights_manifest import WeightsError
    try:
        cfg = DDPMScheduler.load_config(path_or_id, subfolder=subfolder, **kw)
    except Exception as e:
        local = Path(str(path_or_id)) / (subfolder or "") / "scheduler_config.json"
        if local.is_file():
            raise WeightsError(f"{local}: cannot read this scheduler config ({type(e).__name__}: "
                               f"{str(e).splitlines()[0] if str(e) else ''})") from None
        return VPSchedule.linear()
    return VPSchedule.from_config(cfg)


def timesteps(T: int, steps: int, kind: str = "leading") -> torch.Tensor:
    """A descending grid of ``steps`` integer times in [0, T) (fewer when a rule repeats a time).

    - ``"leading"``: ``range(0, T, T//steps)`` reversed (first t = T − T/steps, e.g. 990 for 100
      steps) — DDIM, DDRM, DDNM, ΠGDM, RED-diff and diffusers' default spacing [DDIM];
    - ``"respaced"``: guided-diffusion's respacing, evenly spaced and including 0 and T−1 (the DPS
      lineage) [IDDPM];
    - ``"all"``: T−1, …, 0 (``steps`` must equal T);
    - ``"quad"``: DiffPIR's quadratic skip, t_i = T − 1 − ⌊√(i T²/(steps−1))⌋ with the last
      t = 0: 999, 899, 857, …, fine steps near t = 0 where the data step matters most [DiffPIR,
      the ``skip_type="quad"`` of its scripts]; a time the rounding repeats is kept once.
    """
    check_choice("kind", kind, GRIDS)
    check_int("steps", steps, lo=1, hi=T)
    if kind == "all":
        if steps != T:
            raise ValueError(f"steps: the 'all' grid has exactly T = {T} steps, got {steps}")
        return torch.arange(T - 1, -1, -1)
    if kind == "leading":
        return torch.arange(0, T, T // steps)[:steps].flip(0)
    if steps == 1:
        return torch.tensor([T - 1])
    if kind == "respaced":
        frac = (T - 1) / (steps - 1)
        return torch.tensor(sorted({round(i * frac) for i in range(steps)}, reverse=True))
    seq = [int(v) for v in torch.linspace(0, T ** 2, steps, dtype=torch.float64).sqrt().tolist()]
    seq[-1] = T - 1
    return torch.tensor(list(dict.fromkeys(T - 1 - v for v in seq)))


def pairs(grid) -> list[tuple[int, int]]:
    """(t, s) for each step of a descending grid, s the next time and −1 after the last
    (ᾱ_{−1} = 1: the step to s = −1 lands on the clean image)."""
    grid = [int(t) for t in grid]
    return list(zip(grid, grid[1:] + [-1]))


def karras_sigmas(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> torch.Tensor:
    """EDM's n noise levels σ_i = (σ_min^{1/ρ} + i/(n−1) (σ_max^{1/ρ} − σ_min^{1/ρ}))^ρ, i = 0..n−1,
    increasing, float64 [EDM, eq. 5] (reverse for a sampler; DAPS anneals along them, consistency
    distillation discretises with them)."""
    check_int("n", n, lo=2)
    i = torch.arange(n, dtype=torch.float64) / (n - 1)
    return (sigma_min ** (1 / rho) + i * (sigma_max ** (1 / rho) - sigma_min ** (1 / rho))) ** rho
