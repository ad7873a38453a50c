"""Latent baselines: Latent-DPS, [PSLD] and [ReSample] on an [LDM] prior (notebook 06b).

All three guide a latent diffusion model z_t with a pixel-space likelihood reached through the
decoder: every guided step backpropagates through the decoder *and* the UNet. (Latent DCDP, the
method that avoids this, is :func:`invlab.solvers.dcdp` with a latent prior.)

Step sizes follow DPS's argument (notebook 03): the gradient of an un-squared norm has about unit
length at any image size, so the papers' ζ (DPS), ω and γ (PSLD) are kept and only rescaled by
T/steps when fewer steps than the paper's are used (the total pull towards the data stays fixed).
"""
from __future__ import annotations

import torch

from .._checks import check_choice, check_fraction, check_int, check_positive
from ..rng import randn
from ..diffusion import ddim_step, ddpm_step, pairs, timesteps
from .base import Result, initial_noise, solver
from .defaults import lookup
from .guidance import likelihood_of

__all__ = ["latent_dps", "psld", "resample", "stochastic_resample", "gluing_residual"]


def _check_guided(problem, method: str) -> None:
    likelihood_of(problem, "gaussian", method)
    if not problem.op.differentiable:
        raise ValueError(f"problem: {problem.op.name} is not differentiable; {method} needs ∇A")


def _data_norm(problem, x: torch.Tensor) -> torch.Tensor:
    """Per-sample ‖y − A(x)‖ (un-squared, as in DPS and PSLD)."""
    return (problem.y - problem.op(x)).flatten(1).norm(dim=1)


def _guided(problem, prior, z, t, weight: float = 1.0, extra=None, need_grad: bool = True):
    """One guided evaluation at z_t, shared by the three baselines: ε̂ and ẑ_0 (one UNet pass),
    x̂_0 = D(ẑ_0), the data norm ‖y − A(x̂_0)‖ and ∇_{z_t}(weight·norm + extra(ẑ_0, x̂_0)) —
    the backprop through decoder (and encoder, for PSLD's extra term) and UNet; zeros when
    ``need_grad`` is False. Returns detached (ε̂, ẑ_0, x̂_0, norm, grad)."""
    z = z.detach().requires_grad_(True)
    with torch.enable_grad():
        eps, z0 = prior.eps_and_x0(z, t)
        x0 = prior.decode(z0)
        norm = _data_norm(problem, x0)
        if need_grad:
            loss = weight * norm if extra is None else weight * norm + extra(z0, x0)
            (grad,) = torch.autograd.grad(loss.sum(), z)
        else:
            grad = torch.zeros_like(z)
    return eps.detach(), z0.detach(), x0.detach(), norm.detach(), grad


@solver(spaces=("latent",))
def latent_dps(problem, prior, *, steps: int = 1000, zeta: float | None = None, generator=None, callback=None):
    """DPS on the latents (the baseline of PSLD and ReSample):

    for t on the respaced grid (DDPM ancestral):
        ẑ_0 = Tweedie(z_t)                                      (unclamped: latents have no range)
        z'_{t−1} ~ q(z_{t−1} | z_t, ẑ_0)
        z_{t−1} = z'_{t−1} − ζ ∇_{z_t} ‖y − A(D(ẑ_0))‖          (decoder + UNet backprop)
    return D(ẑ_0) at t = 0.

    ``zeta`` defaults to DPS's per-task value times T/steps (as :func:`dps`).
    """
    check_int("steps", steps, lo=1, hi=prior.T)
    _check_guided(problem, "Latent-DPS")
    zeta = lookup("dps", problem.task)["zeta"] * prior.T / steps if zeta is None else check_positive("zeta", zeta)
    grid = timesteps(prior.T, steps, "respaced").tolist()
    z = initial_noise(problem, prior, generator)
    norms = []
    for i, (t, s) in enumerate(pairs(grid)):
        _, z0, x0, norm, grad = _guided(problem, prior, z, t)
        with torch.no_grad():
            z = ddpm_step(prior.schedule, z0, z.detach(), t, s, generator) - zeta * grad
        norms.append(norm)
        if callback is not None:
            callback(i, t, z, x0)
    with torch.no_grad():
        x = prior.decode(z)
    return Result(x=x, info={"residual_norm": torch.stack(norms), "zeta": zeta, "z": z})


def gluing_residual(problem, prior, z0: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """PSLD's "gluing" term ‖E(Aᵀy + (I − AᵀA) D(ẑ_0)) − ẑ_0‖ per sample: the decoded image with
    its measured part replaced by the measurement must encode back to the same latent, which
    keeps ẑ_0 on the encoder's range (a fixed point of E∘D)."""
    op = problem.op
    glued = op.T(problem.y) + x0 - op.T(op(x0))
    return (prior.encode(glued) - z0).flatten(1).norm(dim=1)


@solver(spaces=("latent",))
def psld(problem, prior, *, steps: int = 1000, omega: float | None = None, gamma: float | None = None,
         eta: float = 0.0, generator=None, callback=None):
    """Posterior Sampling with Latent Diffusion ([PSLD], Rout et al., NeurIPS 2023):

    for t on the leading DDIM grid:
        ẑ_0 = Tweedie(z_t); z'_s = DDIM(z_t → s; η)
        z_s = z'_s − ∇_{z_t} ( ω ‖A(D(ẑ_0)) − y‖ + γ ‖E(Aᵀy + (I − AᵀA) D(ẑ_0)) − ẑ_0‖ )
    return D(z_0).

    The paper's ω = 1, γ = 0.1 at 1000 steps (un-squared norms), times T/steps here. The gluing
    term needs the exact adjoint Aᵀ, so A must be linear; each step is one UNet pass, one decoder
    and one encoder pass, and their backprops.
    """
    check_int("steps", steps, lo=1, hi=prior.T)
    _check_guided(problem, "PSLD")
    if not problem.op.linear:
        raise ValueError(f"problem: PSLD's gluing term needs Aᵀ, and {problem.op.name} is not linear")
    omega = prior.T / steps if omega is None else check_positive("omega", omega, allow_zero=True)
    gamma = 0.1 * prior.T / steps if gamma is None else check_positive("gamma", gamma, allow_zero=True)
    check_fraction("eta", eta, closed_hi=True)
    grid = timesteps(prior.T, steps, "leading").tolist()
    glue = (lambda z0, x0: gamma * gluing_residual(problem, prior, z0, x0)) if gamma > 0 else None
    z = initial_noise(problem, prior, generator)
    norms = []
    for i, (t, s) in enumerate(pairs(grid)):
        eps, z0, x0, data, grad = _guided(problem, prior, z, t, omega, glue)
        with torch.no_grad():
            if s >= 0:
                noise = randn(z.shape, generator, like=z) if eta > 0 else None
                z = ddim_step(prior.schedule, z0, eps, t, s, eta, noise) - grad
            else:
                z = z0 - grad
        norms.append(data)
        if callback is not None:
            callback(i, t, z, x0)
    with torch.no_grad():
        x = prior.decode(z)
    return Result(x=x, info={"residual_norm": torch.stack(norms), "omega": omega, "gamma": gamma, "z": z})


def stochastic_resample(z0: torch.Tensor, z_s: torch.Tensor, a_s: torch.Tensor, gamma: torch.Tensor,
                        noise: torch.Tensor) -> torch.Tensor:
    """ReSample's stochastic resampling: a draw from the Gaussian that combines the data-consistent
    ẑ_0 (pushed forward, N(√ᾱ_s ẑ_0, γ⁻¹…)) with the unconditional sample z'_s (N(z'_s, 1 − ᾱ_s)):
    z_s = (γ √ᾱ_s ẑ_0 + (1−ᾱ_s) z'_s)/(γ + 1 − ᾱ_s) + √(1/(1/γ + 1/(1−ᾱ_s))) n."""
    return ((gamma * a_s.sqrt() * z0 + (1 - a_s) * z_s) / (gamma + 1 - a_s)
            + (1 / (1 / gamma + 1 / (1 - a_s))).sqrt() * noise)


def _fit(problem, v0: torch.Tensor, to_pixels, iters: int, lr: float, tol: float) -> torch.Tensor:
    """ReSample's hard data consistency: argmin_v ‖y − A(to_pixels(v))‖² from v0 by Adam, stopped
    once every sample's mean squared residual reaches ``tol``. v is a latent (``to_pixels`` = D)
    or an image (``to_pixels`` = identity)."""
    v = v0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([v], lr=lr)
    with torch.enable_grad():
        for _ in range(iters):
            r2 = ((problem.y - problem.op(to_pixels(v))) ** 2).flatten(1).mean(1)
            if float(r2.detach().max()) <= tol:
                break
            opt.zero_grad(set_to_none=True)
            r2.sum().backward()
            opt.step()
    return v.detach()


def _hard_dc(problem, prior, z0, space: str, iters: int, lr: float, tol: float) -> torch.Tensor:
    """ẑ_0(y): the latent fitted through the decoder (``"latent"``), or the image fitted from D(ẑ_0)
    and then encoded (``"pixel"``, no decoder backprop)."""
    if space == "latent":
        return _fit(problem, z0, prior.decode, iters, lr, tol)
    with torch.no_grad():
        x0 = prior.decode(z0)
    x = _fit(problem, x0, lambda x: x, iters, lr, tol)
    with torch.no_grad():
        return prior.encode(x)


@solver(spaces=("latent",))
def resample(problem, prior, *, steps: int = 500, zeta: float | None = None, every: int = 10,
             hard_dc: str = "latent", dc_iters: int = 50, dc_lr: float = 0.05, gamma_scale: float = 40.0,
             generator=None, callback=None):
    """[ReSample] (Song et al., ICLR 2024): latent DPS steps, plus — every ``every``-th step
    in the later two thirds of the grid — hard data consistency and stochastic resampling:

    for t on the leading DDIM grid (500 steps in the paper):
        ẑ_0 = Tweedie(z_t); z'_s = DDIM(z_t → s) − ζ ∇_{z_t} ‖y − A(D(ẑ_0))‖
        if it is a resampling step:
            ẑ_0(y) = argmin_z ‖y − A(D(z))‖² from ẑ_0    (``hard_dc="latent"``)
                  or E(argmin_x ‖y − A x‖² from D(ẑ_0))  (``hard_dc="pixel"``)
            z_s = stochastic_resample(ẑ_0(y), z'_s, ᾱ_s, γ),
            γ = 40 (1−ᾱ_s)/(1−ᾱ_t) (1 − ᾱ_t/ᾱ_s)
    return D(z_0).

    The hard data consistency stops early once the mean squared residual reaches σ_y² (1e-4 when
    noiseless), as the authors' code does with its noise-level threshold; ``dc_iters`` caps it.
    """
    check_int("steps", steps, lo=1, hi=prior.T)
    check_int("every", every, lo=1)
    check_int("dc_iters", dc_iters, lo=0)
    check_positive("dc_lr", dc_lr)
    check_positive("gamma_scale", gamma_scale)
    check_choice("hard_dc", hard_dc, ("latent", "pixel"))
    _check_guided(problem, "ReSample")
    zeta = lookup("dps", problem.task)["zeta"] * prior.T / steps if zeta is None else check_positive("zeta", zeta,
                                                                                               allow_zero=True)
    tol = max(problem.sigma_y ** 2, 1e-4)
    grid = timesteps(prior.T, steps, "leading").tolist()
    sched = prior.schedule
    z = initial_noise(problem, prior, generator)
    n_resample = 0
    for i, (t, s) in enumerate(pairs(grid)):
        if s < 0:                                   # the last step returns ẑ_0: no guidance left to apply
            with torch.no_grad():
                z = prior.x0(z, t)
            break
        eps, z0, x0, _, grad = _guided(problem, prior, z, t, need_grad=zeta > 0)
        with torch.no_grad():
            z = ddim_step(sched, z0, eps, t, s) - zeta * grad
        if i >= len(grid) // 3 and i % every == 0:
            z0_y = _hard_dc(problem, prior, z0, hard_dc, dc_iters, dc_lr, tol)
            a_t, a_s = sched.ab(t, z), sched.ab(s, z)
            gamma = gamma_scale * (1 - a_s) / (1 - a_t) * (1 - a_t / a_s)
            z = stochastic_resample(z0_y, z, a_s, gamma, randn(z.shape, generator, like=z))
            n_resample += 1
        if callback is not None:
            callback(i, t, z, x0)
    with torch.no_grad():
        x = prior.decode(z)
    return Result(x=x, info={"zeta": zeta, "resampling_steps": n_resample, "z": z})
