"""Spectral projection solvers: [DDRM] and [DDNM] / DDNM+ (notebook 03).

Both need the operator's SVD view (:meth:`~invlab.operators.LinearOperator.svd`): they treat
each spectral coordinate of x separately — observed ones (s_i > 0) are pulled to the data,
unobserved ones are left to the prior. No network backprop: NFE = steps, VJP = 0.
"""
from __future__ import annotations

import torch

from .._checks import check_fraction, check_int
from ..rng import randn
from ..diffusion import pairs, timesteps
from .base import initial_noise, solver
from .defaults import lookup, warn_few_steps
from .guidance import likelihood_of

__all__ = ["ddrm", "ddnm", "ddnm_weights"]


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
def ddrm(problem, prior, *, steps: int | None = None, eta: float | None = None, eta_b: float = 1.0,
         clamp: bool = False, generator=None, callback=None):
    """Denoising Diffusion Restoration Models [DDRM, eq. 7-8; the authors' efficient_generalized_steps].

    In spectral coordinates x̄ = Vᵀx_t/√ᾱ_t (VE scale, level σ_t = √((1−ᾱ_t)/ᾱ_t)) with
    ȳ = Σ⁻¹Uᵀy, going from σ_t to the next level σ on the leading grid (η_b = 1; the paper's
    20 steps and η = 0.85 beside the tuned defaults of :mod:`~invlab.solvers.defaults`: 100 steps,
    η = 1 except on blurs):
      unobserved (s_i = 0):      x̄_i = x̄_0,i + √(1−η²) σ ε̄_i + η σ z
      observed, s_i σ < σ_y:     x̄_i = x̄_0,i + √(1−η²) σ (ȳ_i − x̄_0,i)/(σ_y/s_i) + η σ z
      observed, s_i σ > σ_y:     x̄_i = η_b ȳ_i + (1−η_b) x̄_0,i + √(σ² − σ_y² η_b²/s_i²) z
    (s_i σ = σ_y takes the unobserved rule)
    where ε̄ = (x̄_t − x̄_0)/σ_t. The last step (σ = 0) returns the estimate.
    """
    d = lookup("ddrm", problem.task, problem.sigma_y)
    steps = d["steps"] if steps is None else check_int("steps", steps, lo=1, hi=prior.T)
    warn_few_steps("ddrm", "steps", steps, prior)
    eta = d["eta"] if eta is None else check_fraction("eta", eta, closed_hi=True)
    check_fraction("eta_b", eta_b, closed_hi=True)
    sv = _svd_or_raise(problem, "DDRM")
    sched, y, sy = prior.schedule, problem.y, problem.sigma_y
    s, obs, s_safe, ybar = _spectral_data(sv, y)
    spectral = (s, obs, sy / s_safe, ybar, sy)                          # σ_y/s_i on the observed coords
    grid = timesteps(prior.T, steps, "leading").tolist()

    def sigma(t):
        return float(sched.sigma_ve(t)) if t >= 0 else 0.0

    xbar = _ddrm_init(spectral, sigma(grid[0]), generator)
    x = sv.V(xbar) * sched.ab(grid[0], y).sqrt()
    with torch.no_grad():
        for i, (t, nxt) in enumerate(pairs(grid)):
            _, x0 = prior.eps_and_x0(x, t, clamp)
            sig_t = sigma(t)
            x0bar = sv.Vt(x0)
            xbar_t = sv.Vt(x / sched.ab(t, x).sqrt())
            epsbar = (xbar_t - x0bar) / sig_t
            xbar = _ddrm_update(spectral, x0bar, epsbar, sigma(nxt), eta, eta_b, generator)
            x = sv.V(xbar) * sched.ab(nxt, y).sqrt()
            if callback is not None:
                callback(i, t, x, x0)
    return x


def _ddrm_init(spectral, sig0, generator):
    """DDRM's x̄_T in spectral coordinates: the data where they dominate the noise (s_i σ_T > σ_y),
    ȳ_i + √(σ_T² − σ_y²/s_i²) z_i, and pure noise σ_T z_i elsewhere."""
    s, obs, sy_over_s, ybar, sy = spectral
    z0 = randn(ybar.shape, generator, like=ybar)
    init_strong = ybar + (sig0 ** 2 - sy_over_s ** 2).clamp_min(0).sqrt() * z0
    return torch.where(obs & (s * sig0 > sy), init_strong, sig0 * z0)


def _ddrm_update(spectral, x0bar, epsbar, sig, eta, eta_b, generator):
    """One DDRM step to noise level σ = ``sig``, coordinate by coordinate [DDRM, Eq. 7-8]:
    unobserved (s_i = 0) free DDIM-like; observed with s_i σ < σ_y (weak) pulled towards ȳ_i by
    the noise ratio; observed with s_i σ > σ_y (strong) η_b ȳ_i + (1 − η_b) x̄_0 plus the
    remaining noise. Strict tests both ways: where s_i σ = σ_y (e.g. σ = σ_y = 0 at the last
    step) the coordinate takes the unobserved rule, as in the authors' code."""
    s, obs, sy_over_s, ybar, sy = spectral
    z = randn(x0bar.shape, generator, like=x0bar)
    free = x0bar + (1 - eta ** 2) ** 0.5 * sig * epsbar + eta * sig * z
    weak = x0bar + (1 - eta ** 2) ** 0.5 * sig * (ybar - x0bar) * s / max(sy, 1e-12) + eta * sig * z
    strong = eta_b * ybar + (1 - eta_b) * x0bar + (sig ** 2 - (sy_over_s * eta_b) ** 2).clamp_min(0).sqrt() * z
    return torch.where(obs & (s * sig > sy), strong, torch.where(obs & (s * sig < sy), weak, free))


def ddnm_weights(s, obs, sigma_y: float, a: float, sig: float, eta: float):
    """Per spectral coordinate, DDNM+'s correction weight λ_i and the weights of fresh noise and of
    ε̂ in the step to the next time (a = √ᾱ_s, sig = √(1−ᾱ_s)) [DDNM; the
    ``Lambda`` and ``Lambda_noise`` of the authors' code]. With t_i = a σ_y/s_i:

        unobserved, or σ_y = 0:  λ = 1,  fresh η sig,  ε̂ √(1−η²) sig
        sig < t_i:               λ = s_i sig √(1−η²)/(a σ_y),  fresh η sig,  no ε̂
        sig > t_i:               λ = 1,  fresh √(sig² − t_i²),  no ε̂

    so each observed coordinate's total variance, y's noise included, is sig²."""
    lam, fresh = torch.ones_like(s), torch.full_like(s, eta * sig)
    epsw = torch.full_like(s, (1 - eta ** 2) ** 0.5 * sig)
    if sigma_y == 0:
        return lam, fresh, epsw
    thr = torch.where(obs, a * sigma_y / torch.where(obs, s, torch.ones_like(s)), torch.zeros_like(s))
    low, high = obs & (sig < thr), obs & (sig > thr)
    lam = torch.where(low, s * sig * (1 - eta ** 2) ** 0.5 / (a * sigma_y), lam)
    fresh = torch.where(high, (sig ** 2 - thr ** 2).clamp_min(0).sqrt(), fresh)
    return lam, fresh, torch.where(low | high, torch.zeros_like(s), epsw)


@solver
def ddnm(problem, prior, *, steps: int = 100, eta: float | None = None, clamp: bool = False, generator=None,
         callback=None):
    """Denoising Diffusion Null-space Model [DDNM]; DDNM+ when σ_y > 0.

    Leading DDIM grid (100 steps; η from :mod:`~invlab.solvers.defaults`: 1.0, and the paper's
    0.85 on blurs), ᾱ_{−1} = 1, x̂_0 not clamped (``clamp=True`` gives a
    clamped variant). For t → s, in the operator's spectral coordinates (x̄ = Vᵀx, ȳ = Σ⁺Uᵀy):

        x̂_0 ← x̂_0 − V(λ ⊙ (x̄_0 − ȳ) on observed coordinates)     (noiseless: λ = 1, x̂_0 − A⁺(A x̂_0 − y))
        x_s = √ᾱ_s x̂_0 + V(fresh ⊙ z̄ + w ⊙ ε̄)

    with λ, fresh and w from :func:`ddnm_weights`. Noiseless DDNM's η is the fresh-noise share
    of √(1−ᾱ_s), not DDIM's σ(η). At the last step (s = −1) the output is the corrected x̂_0
    (noiseless) or x̂_0 itself (noisy: λ = 0 there). Time-travel ([RePaint]'s jumps) is not used.
    """
    check_int("steps", steps, lo=1, hi=prior.T)
    warn_few_steps("ddnm", "steps", steps, prior)
    eta = lookup("ddnm", problem.task)["eta"] if eta is None else check_fraction("eta", eta, closed_hi=True)
    sv = _svd_or_raise(problem, "DDNM")
    sched, y = prior.schedule, problem.y
    s, obs, _, ybar = _spectral_data(sv, y)
    x = initial_noise(problem, prior, generator)
    with torch.no_grad():
        for i, (t, nxt) in enumerate(pairs(timesteps(prior.T, steps, "leading"))):
            eps, x0 = prior.eps_and_x0(x, t, clamp)
            a_s = float(sched.ab(nxt))
            lam, fresh, w = ddnm_weights(s, obs, problem.sigma_y, a_s ** 0.5, (1 - a_s) ** 0.5, eta)
            x0bar = sv.Vt(x0)
            x0c = sv.V(x0bar - torch.where(obs, lam * (x0bar - ybar), torch.zeros_like(x0bar)))
            noise = sv.V(fresh * randn(x0bar.shape, generator, like=x0bar) + w * sv.Vt(eps)) if nxt >= 0 else 0
            x = a_s ** 0.5 * x0c + noise
            if callback is not None:
                callback(i, t, x, x0)
    return x
