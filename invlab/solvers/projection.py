"""Spectral projection solvers: DDRM and DDNM / DDNM+ (ALGORITHMS §2; notebook 03).

Both need the operator's SVD view (:meth:`~invlab.operators.LinearOperator.svd`): they treat
each spectral coordinate of x separately — observed ones (s_i > 0) are pulled to the data,
unobserved ones are left to the prior. No network backprop: NFE = steps, VJP = 0.
"""
from __future__ import annotations

import torch

from .._checks import check_fraction, check_int, randn
from ..diffusion import ddim_step, timesteps
from .base import initial_noise, solver
from .guidance import likelihood_of

__all__ = ["ddrm", "ddnm"]


def _svd_or_raise(problem, method: str):
    op = problem.op
    if not (op.linear and op.has_svd):
        raise ValueError(f"problem: {method} needs an operator with an SVD view; {op.name} has none "
                         "(use inpainting, super-resolution, Gaussian blur, compressed sensing or denoising)")
    likelihood_of(problem, "gaussian", method)
    return op.svd()


def _spectral_data(sv, y):
    """Singular values per coordinate (B, N), the observed mask s > 0, s with 1 where s = 0, and
    ȳ = Σ⁺Uᵀy (the measurement in spectral coordinates, 0 where unobserved)."""
    s = sv.singular_values(y).expand(y.shape[0], -1)
    obs = s > 0
    s_safe = torch.where(obs, s, torch.ones_like(s))
    return s, obs, s_safe, torch.where(obs, sv.Ut(y) / s_safe, torch.zeros_like(s))


@solver
def ddrm(problem, prior, *, steps: int = 20, eta: float = 0.85, eta_b: float = 1.0, clamp: bool = False,
         generator=None, callback=None):
    """Denoising Diffusion Restoration Models (Kawar et al. 2022).

    In spectral coordinates x̄ = Vᵀx_t/√ᾱ_t (VE scale, level σ_t = √((1−ᾱ_t)/ᾱ_t)) with
    ȳ = Σ⁻¹Uᵀy, going from σ_t to the next level σ (leading grid, 20 steps, η = 0.85, η_b = 1):
      unobserved (s_i = 0):      x̄_i = x̄_0,i + √(1−η²) σ ε̄_i + η σ z
      observed, s_i σ < σ_y:     x̄_i = x̄_0,i + √(1−η²) σ (ȳ_i − x̄_0,i)/(σ_y/s_i) + η σ z
      observed, s_i σ ≥ σ_y:     x̄_i = η_b ȳ_i + (1−η_b) x̄_0,i + √(σ² − σ_y² η_b²/s_i²) z
    where ε̄ = (x̄_t − x̄_0)/σ_t. The last step (σ = 0) returns the estimate.
    """
    check_int("steps", steps, lo=1, hi=prior.T)
    check_fraction("eta", eta, closed_hi=True)
    check_fraction("eta_b", eta_b, closed_hi=True)
    sv = _svd_or_raise(problem, "DDRM")
    sched, y = prior.schedule, problem.y
    sy = problem.sigma_y
    s, obs, s_safe, ybar = _spectral_data(sv, y)
    sy_over_s = sy / s_safe                                              # σ_y/s_i (observed coords)
    grid = timesteps(prior.T, steps, "leading").tolist()

    def sigma(t):
        return float(sched.sigma_ve(t)) if t >= 0 else 0.0

    def spectral_update(x0bar, epsbar, sig):
        z = randn(x0bar.shape, generator, like=x0bar)
        free = x0bar + (1 - eta ** 2) ** 0.5 * sig * epsbar + eta * sig * z
        weak = x0bar + (1 - eta ** 2) ** 0.5 * sig * (ybar - x0bar) * s / max(sy, 1e-12) + eta * sig * z
        strong = eta_b * ybar + (1 - eta_b) * x0bar + (sig ** 2 - (sy_over_s * eta_b) ** 2).clamp_min(0).sqrt() * z
        return torch.where(~obs, free, torch.where(s * sig < sy, weak, strong))

    # initialisation at the first level: the data where they dominate the noise, pure noise elsewhere
    sig0 = sigma(grid[0])
    z0 = randn(ybar.shape, generator, like=ybar)
    init_strong = ybar + (sig0 ** 2 - sy_over_s ** 2).clamp_min(0).sqrt() * z0
    xbar = torch.where(obs & (s * sig0 >= sy), init_strong, sig0 * z0)
    x = sv.V(xbar) * sched.ab(grid[0], y).sqrt()
    with torch.no_grad():
        for i, t in enumerate(grid):
            nxt = grid[i + 1] if i + 1 < len(grid) else -1
            _, x0 = prior.eps_and_x0(x, t, clamp)
            sig_t = sigma(t)
            x0bar = sv.Vt(x0)
            xbar_t = sv.Vt(x / sched.ab(t, x).sqrt())
            epsbar = (xbar_t - x0bar) / sig_t
            xbar = spectral_update(x0bar, epsbar, sigma(nxt))
            x = sv.V(xbar) * sched.ab(nxt, y).sqrt()
            if callback is not None:
                callback(i, t, x, x0)
    return x


@solver
def ddnm(problem, prior, *, steps: int = 100, eta: float = 0.85, clamp: bool = True, generator=None, callback=None):
    """Denoising Diffusion Null-space Model (Wang et al. 2023); DDNM+ when σ_y > 0.

    Leading DDIM grid (100 steps, η = 0.85). Noiseless: the range–null-space correction
        x̂_0 ← x̂_0 − A⁺(A x̂_0 − y)
    then the DDIM step. Noisy (DDNM+), per spectral coordinate with singular value s_i, next
    level σ_s = √(1−ᾱ_s):
        λ_i = 1 if σ_s ≥ √ᾱ_s σ_y/s_i else s_i σ_s √(1−η²)/(√ᾱ_s σ_y)
        x̂_0 ← x̂_0 − V(λ ⊙ (x̄_0 − ȳ)) on observed coordinates,
    and the noise is re-balanced so each coordinate's total variance stays 1−ᾱ_s: the correction
    injects (√ᾱ_s λ_i σ_y/s_i)² of y's noise, and the DDIM noise fills the rest (deterministic
    share first, fresh noise for the remainder). Time-travel (RePaint jumps) is not used.
    """
    check_int("steps", steps, lo=1, hi=prior.T)
    check_fraction("eta", eta, closed_hi=True)
    sv = _svd_or_raise(problem, "DDNM")
    sched, y = prior.schedule, problem.y
    sy = problem.sigma_y
    s, obs, s_safe, ybar = _spectral_data(sv, y)
    grid = timesteps(prior.T, steps, "leading").tolist()
    x = initial_noise(problem, prior, generator)
    with torch.no_grad():
        for i, t in enumerate(grid):
            nxt = grid[i + 1] if i + 1 < len(grid) else -1
            eps, x0 = prior.eps_and_x0(x, t, clamp)
            a_s = float(sched.ab(nxt))
            x0bar = sv.Vt(x0)
            if sy == 0:
                lam = obs.to(x0bar.dtype)
            else:
                sig_s = (1 - a_s) ** 0.5
                lam = torch.where(sig_s >= a_s ** 0.5 * sy / s_safe, torch.ones_like(s),
                                  s * sig_s * (1 - eta ** 2) ** 0.5 / (a_s ** 0.5 * sy))
                lam = torch.where(obs, lam, torch.zeros_like(s))
            x0c_bar = x0bar - lam * (x0bar - ybar)
            x0c = sv.V(x0c_bar)
            if nxt < 0:
                x = x0c
            elif sy == 0:
                z = randn(x.shape, generator, like=x) if eta > 0 else None
                x = ddim_step(sched, x0c, eps, t, nxt, eta, z)
            else:
                total = 1 - a_s
                injected = torch.where(obs, a_s * (lam * sy / s_safe) ** 2, torch.zeros_like(s))
                rest = (total - injected).clamp_min(0)
                # the injected y-noise takes the place of the deterministic ε̂ share first
                det = (total * (1 - eta ** 2) - injected).clamp_min(0)
                epsbar = sv.Vt(eps)
                zbar = randn(epsbar.shape, generator, like=epsbar)
                noise_bar = det.sqrt() * epsbar + (rest - det).sqrt() * zbar
                x = a_s ** 0.5 * x0c + sv.V(noise_bar)
            if callback is not None:
                callback(i, t, x, x0)
    return x
