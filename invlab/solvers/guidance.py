"""Posterior sampling by guidance: DPS [DPS, Alg. 1] and ΠGDM [ΠGDM] (notebook 03).

Both add a likelihood gradient to an unconditional reverse step; both pay one network VJP per
step. Defaults are the papers' FFHQ settings; :func:`paper_scale` converts a *normalised* step
(fixed Euclidean length, as in DPG and DDiff) to our image size: to keep the per-pixel step we
multiply it by √(D_ours / D_paper), D_paper = 3·256·256. DPS's ζ is scaled by steps only (see
:func:`dps`).
"""
from __future__ import annotations

import math

import torch

from .._checks import check_bool, check_choice, check_fraction, check_int, check_positive
from ..rng import randn
from ..diffusion import ddim_step, ddpm_step, pairs, timesteps
from ..noise import PoissonNoise
from .defaults import lookup, warn_few_steps
from .base import initial_noise, solver, Trace

__all__ = ["dps", "pigdm", "paper_scale", "likelihood_of"]

D_PAPER = 3 * 256 * 256


def paper_scale(problem) -> float:
    """√(D_ours / D_paper): converts a normalised step tuned on 3×256×256 images to our size."""
    return math.sqrt(math.prod(problem.op.input_shape) / D_PAPER)


def likelihood_of(problem, likelihood: str | None, method: str | None = None) -> str:
    """Resolve and check the likelihood a solver uses against the problem's noise model.

    ``method`` names a solver that only knows Gaussian noise (it then gets its own error)."""
    is_poisson = isinstance(problem.noise, PoissonNoise)
    if method is not None and is_poisson:
        raise ValueError(f"problem: {method} assumes Gaussian noise, this problem has Poisson noise; "
                         "use dps or dpg (likelihood='poisson', weighted least squares)")
    if likelihood is None:
        return "poisson" if is_poisson else "gaussian"
    check_choice("likelihood", likelihood, ("gaussian", "poisson"))
    if is_poisson and likelihood != "poisson":
        raise ValueError("likelihood: the problem has Poisson noise; "
                         "use likelihood='poisson' (weighted least squares)")
    if likelihood == "poisson" and not is_poisson:
        raise ValueError(f"likelihood: 'poisson' needs a Poisson-noise problem, "
                         f"this one has {problem.noise.name} noise")
    return likelihood


def _residual_norm(problem, x0: torch.Tensor, likelihood: str, floor: float) -> torch.Tensor:
    """Per-sample ‖y − A(x̂_0)‖ (Gaussian), or the square root of the Poisson weighted least
    squares Σ (y − Ax)²/Var(y|Ax) with a variance floor — not DPS's division by |y|."""
    ax = problem.op(x0)
    r2 = (problem.y - ax) ** 2
    if likelihood == "poisson":
        r2 = r2 / problem.noise.variance(ax.detach(), floor)
    return r2.flatten(1).sum(1).clamp_min(1e-20).sqrt()


@solver
def dps(problem, prior, *, steps: int = 1000, zeta: float | None = None, likelihood: str | None = None,
        poisson_floor: float = 1.0, clamp: bool | None = None, keep: int = 0, generator=None, callback=None):
    """Diffusion Posterior Sampling (Chung et al. 2023), the algorithm box:

    for t on the respaced grid (1000 steps by default, DDPM ancestral):
        x̂_0 = Tweedie(x_t) (clamped as in the DPS code)
        x'_{t−1} ~ q(x_{t−1} | x_t, x̂_0)                     (unconditional step)
        x_{t−1} = x'_{t−1} − ζ ∇_{x_t} ‖y − A(x̂_0)‖            (un-squared norm, one VJP)

    Norms are per sample (the original couples a batch through one norm). ``zeta`` defaults to
    the paper's per-task value (0.3 SR/blur, 0.5 inpainting, 1.0 phase retrieval) times
    T/steps: the paper's ζ is for 1000 steps, and ζ·steps fixed keeps the total pull towards the
    data. No image-size factor: ∇‖r‖ = Jᵀ Aᵀr/‖r‖ has about unit length at any size, and on
    glyphs (notebook 03, SR×4, 100 steps) the best ζ was 6 — twice the scaled paper value, where
    the per-pixel rescaling of :func:`paper_scale` would have given 0.22. Poisson data use the
    weighted least squares of :meth:`~invlab.noise.PoissonNoise.weighted_ls`. ``keep`` > 0 stores
    every ``keep``-th x̂_0 in ``Result.trajectory``.
    """
    check_int("steps", steps, lo=1, hi=prior.T)
    warn_few_steps("dps", "steps", steps, prior)
    lik = likelihood_of(problem, likelihood)
    zeta = lookup("dps", problem.task)["zeta"] * prior.T / steps if zeta is None else check_positive("zeta", zeta)
    check_bool("clamp", clamp, allow_none=True)
    check_positive("poisson_floor", poisson_floor)
    if not problem.op.differentiable:
        raise ValueError(f"problem: {problem.op.name} is not differentiable; DPS needs ∇A — build it with "
                         "straight_through=True, or use DPG")
    grid = timesteps(prior.T, steps, "respaced").tolist()
    x = initial_noise(problem, prior, generator)
    trace = Trace(keep, callback)
    for i, (t, s) in enumerate(pairs(grid)):
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            _, x0 = prior.eps_and_x0(x, t, clamp)
            norm = _residual_norm(problem, x0, lik, poisson_floor)
            (grad,) = torch.autograd.grad(norm.sum(), x)
        with torch.no_grad():
            x0 = x0.detach()
            x = ddpm_step(prior.schedule, x0, x.detach(), t, s, generator) - zeta * grad
        trace(i, t, s, x, x0, norm.detach())
    return trace.result(x, zeta=zeta, grid=grid)


@solver
def pigdm(problem, prior, *, steps: int = 100, eta: float = 1.0, weight: float = 1.0, clamp: bool = False,
          generator=None, callback=None):
    """Pseudoinverse-guided diffusion (ΠGDM, Song et al. 2023), RED-diff's implementation:

    start x_T = √ᾱ_T A⁺y + √(1−ᾱ_T) z; on the leading DDIM grid (100 steps, η = 1):
        x̂_0 = Tweedie(x_t) (unclamped)
        noiseless:  g = ∇_{x_t} ⟨A⁺y − A⁺A x̂_0, x̂_0⟩           (vector detached, one VJP)
        noisy:      g = r_t² ∇_{x_t} ⟨(r_t² AAᵀ + σ_y² I)⁻¹ (y − A x̂_0), A x̂_0⟩,  r_t² = 1 − ᾱ_t
        x_s = DDIM(x̂_0, ε̂; η) + √ᾱ_s √ᾱ_t · weight · g
    and the last step (s = −1) returns x̂_0 unguided (one NFE, no VJP).

    The noisy inverse is elementwise in the operator's SVD basis (masks, pooling, block CS, any
    operator with an SVD view). The factor r_t² on the noisy form (the project's choice) makes it
    reduce to the noiseless form as σ_y → 0.
    """
    _check_pigdm(problem, prior, steps, weight, eta, clamp)
    op, sched, y, noisy = problem.op, prior.schedule, problem.y, problem.sigma_y > 0
    grid = timesteps(prior.T, steps, "leading").tolist()
    a_T = sched.ab(grid[0], y)
    pinv_y = op.pinv(y)
    x = a_T.sqrt() * pinv_y + (1 - a_T).sqrt() * initial_noise(problem, prior, generator)
    sv = op.svd() if noisy else None
    for i, (t, s) in enumerate(pairs(grid)):
        if s < 0:                                     # the last step returns x̂_0: no guidance, no VJP
            with torch.no_grad():
                x = prior.eps_and_x0(x.detach(), t, clamp)[1]
            if callback is not None:
                callback(i, t, x, x)
            break
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            eps, x0 = prior.eps_and_x0(x, t, clamp)
            g = _pigdm_guidance(problem, x, x0, float(1 - sched.ab(t)), pinv_y, sv)
        with torch.no_grad():
            x0, eps = x0.detach(), eps.detach()
            z = randn(x.shape, generator, like=x) if eta > 0 else None
            x = ddim_step(sched, x0, eps, t, s, eta, z) + (sched.ab(s, x) * sched.ab(t, x)).sqrt() * weight * g
        if callback is not None:
            callback(i, t, x, x0)
    return x


def _check_pigdm(problem, prior, steps, weight, eta, clamp) -> None:
    """pigdm's arguments and problem checked before any work."""
    check_int("steps", steps, lo=1, hi=prior.T)
    warn_few_steps("pigdm", "steps", steps, prior)
    check_positive("weight", weight)
    check_fraction("eta", eta, closed_hi=True)
    check_bool("clamp", clamp)
    op = problem.op
    if not op.linear:
        raise ValueError(f"problem: ΠGDM needs a linear operator with a pseudo-inverse, {op.name} is not linear")
    if problem.sigma_y > 0 and not op.has_svd:
        raise ValueError(f"problem: noisy ΠGDM needs (r²AAᵀ + σ²I)⁻¹, i.e. an SVD view; {op.name} has none")
    likelihood_of(problem, "gaussian", "ΠGDM")


def _pigdm_guidance(problem, x, x0, r2, pinv_y, sv):
    """ΠGDM's guidance g (one VJP through x̂_0 = ``x0``, a function of ``x``): noiseless
    ∇_{x_t} ⟨A⁺y − A⁺A x̂_0, x̂_0⟩; noisy (``sv``, the operator's SVD view, given)
    r_t² ∇_{x_t} ⟨(r_t² AAᵀ + σ_y² I)⁻¹ (y − A x̂_0), A x̂_0⟩, the vectors detached."""
    op, y = problem.op, problem.y
    if sv is None:
        m = (pinv_y - op.pinv(op(x0.detach()))).detach()
        return torch.autograd.grad((m * x0).sum(), x)[0]
    v = sv.U(sv.Ut(y - op(x0.detach())) / (r2 * sv.singular_values(y) ** 2 + problem.sigma_y ** 2)).detach()
    return r2 * torch.autograd.grad((v * op(x0)).sum(), x)[0]
