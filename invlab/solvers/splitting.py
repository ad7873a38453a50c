"""Variable splitting: DDiff — dual ascent diffusion — and its ablations (seed 002;
ALGORITHMS §3; notebook 05).

MAP by ADMM on min_x f(x) + g(z) s.t. x = z, one ADMM iteration per diffusion step, no network
backprop. The four updates of one step are the helpers below; ``variant`` switches the dual and
the re-noising off to give the paper's ablations from the same function.
"""
from __future__ import annotations

import math

import torch

from .._checks import check_choice, check_int, check_positive
from ..diffusion import timesteps
from .base import Result, solver
from .guidance import likelihood_of, paper_scale

__all__ = ["ddiff", "DDIFF_VARIANTS"]

DDIFF_VARIANTS = ("ddiff", "hqs", "pnp_admm", "pnp_hqs")

# FFHQ defaults (γ_0, t_0) at σ_y = 0.05 and the re-noising rule per task (t_γ = 90 throughout)
_TASK_DEFAULTS = {
    "sr": (18.0, 1, "full"), "box_inpaint": (30.0, 1, "full"), "random_inpaint": (50.0, 1, "full"),
    "freeform_inpaint": (30.0, 1, "full"), "gaussian_blur": (2.9, 50, "ddpm"), "motion_blur": (2.9, 80, "ddpm"),
    "phase_retrieval": (38.0, 1, "full"), "hdr": (3.5, 120, "ddpm"),
}


def _task_defaults(task: str):
    key = "sr" if task.startswith("sr") else task
    return _TASK_DEFAULTS.get(key, (18.0, 1, "full"))


def z_update(prior, x_t, t):
    """z = clamp(x̂_0(x_t)): Tweedie at the current point of the noise manifold (clamped to
    [-1, 1] for image priors, as the DDiff code does; the prior's default decides)."""
    return prior.x0(x_t, t)


def x_update(problem, v, step):
    """x = v − γ g/‖g‖, g = ∇_v ½‖y − A(v)‖²: one normalised linearised-ADMM step (per image;
    the 1/σ² of the paper's f cancels in the normalisation)."""
    with torch.enable_grad():
        vv = v.detach().requires_grad_(True)
        loss = 0.5 * ((problem.y - problem.op(vv)) ** 2).sum()
        (g,) = torch.autograd.grad(loss, vv)
    norm = g.flatten(1).norm(dim=1).clamp_min(1e-12).view((-1,) + (1,) * (g.ndim - 1))
    return v - step * g / norm


def renoise(sched, x_t, x, u, t, s, rule, noise):
    """x_s from the primal-plus-dual point x + u: "full" re-noising √ᾱ_s(x+u) + √(1−ᾱ_s) n, or
    "ddpm": √ᾱ_s(x+u) + √(1−ᾱ_s−σ_t²) ε̂ + σ_t n with ε̂ = (x_t − √ᾱ_t x)/√(1−ᾱ_t), σ_t² = β̃_t."""
    a_t, a_s = sched.ab(t, x), sched.ab(s, x)
    if rule == "full":
        return a_s.sqrt() * (x + u) + (1 - a_s).sqrt() * noise
    eps_hat = (x_t - a_t.sqrt() * x) / (1 - a_t).sqrt()
    beta = 1 - a_t / a_s
    var = beta * (1 - a_s) / (1 - a_t)
    return a_s.sqrt() * (x + u) + (1 - a_s - var).clamp_min(0).sqrt() * eps_hat + var.sqrt() * noise


@solver
def ddiff(problem, prior, *, steps: int = 1000, variant: str = "ddiff", gamma0: float | None = None,
          t_gamma: int = 90, a: float = 3.3, b: float = 0.1, t0: int | None = None, renoise_rule: str | None = None,
          hqs_step: float | None = None, generator=None, callback=None):
    """DDiff (dual ascent diffusion), the algorithm box of ALGORITHMS §3. From x_T ~ N(0, I), u = 0,
    for t on the grid (all 1000 steps by default; fewer on the respaced grid):

    1. z = clamp(x̂_0(x_t))                                   (z-update, Tweedie)
    2. x = (z − u) − γ_t g/‖g‖, g = ∇ ½‖y − A(z − u)‖², γ_t = γ_0·a if t > t_γ else γ_0·b
    3. x_s = re-noise(x + u): "full" (SR, inpainting, phase retrieval) or "DDPM-type" (blurs, HDR);
       fresh noise only while t > t_0
    4. u ← u + x − z                                          (dual ascent; step 3 used the old u)

    Output: x + u of the last iteration, with the u that step 3 used (not clamped). Variants (paper Table 2):
    ``"hqs"`` — no dual, fixed normalised step ``hqs_step`` (90 on FFHQ, scaled), DDPM-type noise;
    ``"pnp_admm"`` / ``"pnp_hqs"`` — no re-noising: the next iterate is √ᾱ_s(x + u) (resp. √ᾱ_s x),
    i.e. the diffusion model used as a one-step denoiser at a decreasing level [recon].
    γ_0 defaults to the paper's FFHQ value for the task times √(D_ours/D_paper).
    """
    check_int("steps", steps, lo=1, hi=prior.T)
    check_choice("variant", variant, DDIFF_VARIANTS)
    check_int("t_gamma", t_gamma, lo=0, hi=prior.T - 1)
    likelihood_of(problem, "gaussian")
    g0, t0_default, rule_default = _task_defaults(problem.task)
    gamma0 = g0 * paper_scale(problem) if gamma0 is None else gamma0
    if isinstance(gamma0, bool) or not isinstance(gamma0, (int, float)) or not gamma0 > 0 or not math.isfinite(gamma0):
        raise ValueError(f"gamma0: must be > 0 and finite, got {gamma0!r}")
    t0 = t0_default if t0 is None else check_int("t0", t0, lo=-1, hi=prior.T - 1)
    rule = rule_default if renoise_rule is None else check_choice("renoise_rule", renoise_rule, ("full", "ddpm"))
    hqs_step = 90.0 * paper_scale(problem) if hqs_step is None else check_positive("hqs_step", hqs_step)
    use_dual = variant in ("ddiff", "pnp_admm")
    if variant == "hqs":
        rule = "ddpm"
    sched, y = prior.schedule, problem.y
    grid = timesteps(prior.T, steps, "all" if steps == prior.T else "respaced").tolist()
    dtype = torch.float64 if y.dtype == torch.float64 else torch.float32
    x_t = torch.randn((problem.batch_size,) + tuple(prior.image_shape), generator=generator, dtype=dtype).to(y)
    u = torch.zeros_like(x_t)
    residuals = []
    with torch.no_grad():
        for i, t in enumerate(grid):
            s = grid[i + 1] if i + 1 < len(grid) else -1
            z = z_update(prior, x_t, t)
            step = hqs_step if variant == "hqs" else gamma0 * (a if t > t_gamma else b)
            x = x_update(problem, z - u, step)
            if s < 0:
                out = x + u if use_dual else x          # the last "re-noise" to t = −1: √ᾱ_{−1} = 1
            else:
                if variant in ("pnp_admm", "pnp_hqs"):
                    x_t = sched.ab(s, x).sqrt() * (x + u if use_dual else x)
                else:
                    n = torch.randn(x.shape, generator=generator, dtype=dtype).to(x) if t > t0 else torch.zeros_like(x)
                    x_t = renoise(sched, x_t, x, u, t, s, rule, n)
            if use_dual:
                u = u + x - z
            residuals.append(((y - problem.op(x)) ** 2).flatten(1).mean(1))
            if callback is not None:
                callback(i, t, x_t, z)
    return Result(x=out, info={"residual": torch.stack(residuals), "gamma0": gamma0, "rule": rule})
