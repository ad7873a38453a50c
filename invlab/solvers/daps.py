"""DAPS — decoupled annealing posterior sampling ([DAPS], Zhang et al., CVPR 2025; notebook 05),
the baseline DDiff compares with. No network backprop: 5 ODE steps per level, Langevin on the
data term only.
"""
from __future__ import annotations

import torch

from .._checks import check_int, check_positive
from ..rng import randn
from ..diffusion import karras_sigmas
from .base import solver
from .defaults import lookup, warn_few_steps
from .guidance import likelihood_of

__all__ = ["daps", "edm_sigmas", "langevin_step"]


def edm_sigmas(n: int, sigma_max: float = 100.0, sigma_min: float = 0.1, rho: float = 7.0) -> list[float]:
    """The "poly-7" levels: EDM's n levels from ``sigma_max`` down to ``sigma_min``, then 0
    (:func:`~invlab.diffusion.schedule.karras_sigmas`, reversed) [DAPS code, cores/scheduler.py]."""
    if n == 1:
        return [float(sigma_max), 0.0]
    return karras_sigmas(n, sigma_min, sigma_max, rho).flip(0).tolist() + [0.0]


def pf_ode_x0(prior, x, sigma: float, steps: int = 5, sigma_end: float = 0.01):
    """x̂_0 by ``steps`` Euler steps of the probability-flow ODE dx/dσ = (x − D(x, σ))/σ on the
    poly-7 levels from σ down to ``sigma_end``, then to 0 (the last step lands on D(x, σ_end));
    D is not clamped [DAPS code]."""
    levels = edm_sigmas(steps, sigma, sigma_end)
    for s0, s1 in zip(levels[:-1], levels[1:]):
        x = x + (s1 - s0) * (x - prior.denoise(x, s0, clamp=False)) / s0
    return x


def langevin_step(x, x0, data_grad, z, *, eta: float, tau: float, sigma: float):
    """x + η ∇log p + √(2η) z for p(x) ∝ exp(−‖A x − y‖²/τ² − ‖x − x̂_0‖²/(2σ²)), whose score is
    −2 ``data_grad``/τ² + (x̂_0 − x)/σ² (``data_grad`` = Aᵀ(A x − y)); written as four fused
    scaled adds, because on a 32×32 glyph the loop's cost is one small kernel launch per op."""
    return (x.mul(1 - eta / sigma ** 2).add_(x0, alpha=eta / sigma ** 2)
            .add_(data_grad, alpha=-2 * eta / tau ** 2).add_(z, alpha=(2 * eta) ** 0.5))


@solver
def daps(problem, prior, *, annealing_steps: int = 200, ode_steps: int = 5, langevin_steps: int = 100,
         lr: float | None = None, lr_min_ratio: float = 0.01, tau: float = 0.01, sigma_max: float = 100.0,
         sigma_min: float = 0.1, generator=None, callback=None):
    """DAPS [DAPS, Alg. 1] in VE scale, σ_k on the poly-7 levels 100 → 0.1 (200 levels), then 0:

        x̂_0 = PF-ODE(x_k, σ_k → 0.01) in ``ode_steps`` Euler steps     (no grad, not clamped)
        x = x̂_0; ``langevin_steps`` times (not at the last level, which keeps x̂_0):
            x ← x + η_k (−∇‖A x − y‖²/τ² + (x̂_0 − x)/σ_k²) + √(2η_k) z
        x_{k+1} = x + σ_{k+1} z

    The Langevin rate is constant within a level and decays linearly across levels,
    η_k = lr·(1 − (1 − ``lr_min_ratio``) k/K) [DAPS code, cores/mcmc.py]. NFE = annealing_steps ×
    ode_steps (1000 by default). τ and the rates act per pixel, so they carry over from 256×256
    unchanged: lr 1e-4 (SR, Gaussian blur, random inpainting), 5e-5 (motion blur, box inpainting,
    phase retrieval), 2e-5 (HDR), the rates of the authors' configs [DAPS].
    """
    check_int("annealing_steps", annealing_steps, lo=1)
    warn_few_steps("daps", "annealing_steps", annealing_steps, prior)
    check_int("ode_steps", ode_steps, lo=1)
    check_int("langevin_steps", langevin_steps, lo=0)
    check_positive("tau", tau)
    check_positive("sigma_max", sigma_max)
    check_positive("sigma_min", sigma_min)
    if not 0 <= lr_min_ratio <= 1:
        raise ValueError(f"lr_min_ratio: must lie in [0, 1], got {lr_min_ratio!r}")
    if sigma_min > sigma_max:
        raise ValueError(f"sigma_min: must not exceed sigma_max ({sigma_max}), got {sigma_min}")
    lr = lookup("daps", problem.task)["lr"] if lr is None else check_positive("lr", lr)
    likelihood_of(problem, "gaussian", "DAPS")
    y = problem.y
    sigmas = edm_sigmas(annealing_steps, sigma_max, sigma_min)
    x = sigmas[0] * randn((problem.batch_size,) + tuple(prior.image_shape), generator, like=y)
    with torch.no_grad():
        for k in range(annealing_steps):
            sk, snext = sigmas[k], sigmas[k + 1]
            x = x0 = pf_ode_x0(prior, x, sk, ode_steps)
            eta = lr * (1 - (1 - lr_min_ratio) * k / annealing_steps)
            for _ in range(langevin_steps if k < annealing_steps - 1 else 0):
                x = langevin_step(x, x0, problem.data_gradient(x), randn(x.shape, generator, like=x),
                                  eta=eta, tau=tau, sigma=sk)
            x = x + snext * randn(x.shape, generator, like=x) if snext > 0 else x
            if callback is not None:
                callback(k, prior.schedule.t_for_sigma(sk), x, x0)
    return x
