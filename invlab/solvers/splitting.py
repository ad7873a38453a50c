"""Variable splitting: DDiff — dual ascent diffusion [DDiff] — and its ablations, plug-and-play
ADMM [PnP] [ADMM] and DiffPIR [DiffPIR] (notebook 05).

MAP by ADMM on min_x f(x) + g(z) s.t. x = z, one ADMM iteration per diffusion step, no network
backprop. The four updates of one step are the helpers below; ``variant`` switches the dual and
the re-noising off to give the paper's ablations from the same function.
"""
from __future__ import annotations

import math

import torch

from .._checks import check_choice, check_fraction, check_int, check_positive
from ..rng import randn
from ..diffusion import pairs, timesteps
from .base import initial_noise, Result, solver
from .defaults import lookup, warn_few_steps
from .guidance import likelihood_of, paper_scale

__all__ = ["ddiff", "DDIFF_VARIANTS", "pnp_admm", "diffpir", "data_prox"]

DDIFF_VARIANTS = ("ddiff", "hqs", "pnp_admm", "pnp_hqs")

def z_update(prior, x_t, t):
    """z = clamp(x̂_0(x_t)): Tweedie at the current point of the noise manifold (clamped to
    [-1, 1] for image priors, as the DDiff code does; the prior's default decides)."""
    return prior.x0(x_t, t)


def x_update(problem, v, step):
    """x = v − γ g/‖g‖, g = ∇_v ½‖y − A(v)‖²: one normalised linearised-ADMM step (per image;
    the 1/σ² of the paper's f cancels in the normalisation)."""
    g = problem.data_gradient(v)
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
    """DDiff (dual ascent diffusion), [DDiff, Alg. 1]. From x_T ~ N(0, I), u = 0,
    for t on the grid (all 1000 steps by default; fewer on the respaced grid):

    1. z = clamp(x̂_0(x_t))                                   (z-update, Tweedie)
    2. x = (z − u) − γ_t g/‖g‖, g = ∇ ½‖y − A(z − u)‖², γ_t = γ_0·a if t > t_γ else γ_0·b
    3. x_s = re-noise(x + u): "full" (SR, inpainting, phase retrieval) or "DDPM-type" (blurs, HDR);
       fresh noise only while t > t_0
    4. u ← u + x − z                                          (dual ascent; step 3 used the old u)

    Output: x + u of the last iteration, with the u that step 3 used (not clamped). Variants ([DDiff, Table 2]):
    ``"hqs"`` — no dual, fixed normalised step ``hqs_step`` (90 on FFHQ, scaled), DDPM-type noise;
    ``"pnp_admm"`` / ``"pnp_hqs"`` — no re-noising: the next iterate is √ᾱ_s(x + u) (resp. √ᾱ_s x),
    i.e. the diffusion model used as a one-step denoiser at a decreasing level (the paper names
    these variants; this reading of them is the project's).
    γ_0 defaults to the paper's FFHQ value for the task times √(D_ours/D_paper).
    """
    gamma0, t0, rule, hqs_step = _ddiff_settings(problem, prior, steps, variant, gamma0, a, b, t_gamma, t0,
                                                 renoise_rule, hqs_step)
    use_dual = variant in ("ddiff", "pnp_admm")
    sched, y = prior.schedule, problem.y
    grid = timesteps(prior.T, steps, "all" if steps == prior.T else "respaced").tolist()
    x_t = initial_noise(problem, prior, generator)
    u = torch.zeros_like(x_t)
    residuals = []
    with torch.no_grad():
        for i, (t, s) in enumerate(pairs(grid)):
            z = z_update(prior, x_t, t)
            step = hqs_step if variant == "hqs" else gamma0 * (a if t > t_gamma else b)
            x = x_update(problem, z - u, step)
            if s < 0:
                out = x + u if use_dual else x          # the last "re-noise" to t = −1: √ᾱ_{−1} = 1
            else:
                if variant in ("pnp_admm", "pnp_hqs"):
                    x_t = sched.ab(s, x).sqrt() * (x + u if use_dual else x)
                else:
                    n = randn(x.shape, generator, like=x) if t > t0 else torch.zeros_like(x)
                    x_t = renoise(sched, x_t, x, u, t, s, rule, n)
            if use_dual:
                u = u + x - z
            residuals.append(((y - problem.op(x)) ** 2).flatten(1).mean(1))
            if callback is not None:
                callback(i, t, x_t, z)
    return Result(x=out, info={"residual": torch.stack(residuals), "gamma0": gamma0, "rule": rule})


def _ddiff_settings(problem, prior, steps, variant, gamma0, a, b, t_gamma, t0, renoise_rule, hqs_step):
    """ddiff's arguments checked before any work, each ``None`` resolved from the defaults table (γ_0 and
    the HQS step scaled by :func:`~invlab.solvers.guidance.paper_scale`): (gamma0, t0, rule, hqs_step)."""
    check_int("steps", steps, lo=1, hi=prior.T)
    warn_few_steps("ddiff", "steps", steps, prior)
    check_choice("variant", variant, DDIFF_VARIANTS)
    check_int("t_gamma", t_gamma, lo=0, hi=prior.T - 1)
    check_positive("a", a)
    check_positive("b", b)
    likelihood_of(problem, "gaussian", "DDiff")
    d = lookup("ddiff", problem.task, problem.sigma_y)
    gamma0 = d["gamma0"] * paper_scale(problem) if gamma0 is None else gamma0
    if isinstance(gamma0, bool) or not isinstance(gamma0, (int, float)) or not gamma0 > 0 or not math.isfinite(gamma0):
        raise ValueError(f"gamma0: must be > 0 and finite, got {gamma0!r}")
    t0 = d["t0"] if t0 is None else check_int("t0", t0, lo=-1, hi=prior.T - 1)
    rule = d["renoise_rule"] if renoise_rule is None else check_choice("renoise_rule", renoise_rule, ("full", "ddpm"))
    hqs_step = 90.0 * paper_scale(problem) if hqs_step is None else check_positive("hqs_step", hqs_step)
    if variant == "hqs":
        rule = "ddpm"
    return gamma0, t0, rule, hqs_step


# ---------------------------------------------------------------------------------------------
PROX_METHODS = ("auto", "closed_form", "cg")


def check_prox(problem, method: str) -> str:
    """Validate a solver's ``prox`` choice against the operator before any work."""
    check_choice("prox", method, PROX_METHODS)
    op = problem.op
    if not op.linear:
        raise ValueError(f"problem: a proximal data step needs a linear operator, {op.name} is not linear")
    if method == "closed_form" and not op.has_prox:
        raise ValueError(f"prox: 'closed_form' was requested but {op.name} has no closed-form proximal step; "
                         "use prox='auto' or 'cg' (conjugate gradient)")
    return method


def data_prox(problem, v, gamma, cg_iters: int = 50, method: str = "auto"):
    """argmin_x ½‖A x − y‖² + ‖x − v‖²/(2γ): closed form when the operator has one (masks,
    pooling, separable and FFT blurs, block CS), conjugate gradient otherwise (``method="auto"``);
    ``"closed_form"`` insists on the closed form (an error when the operator has none, e.g. a
    composition), ``"cg"`` always uses conjugate gradient."""
    from ..operators import conjugate_gradient
    op = problem.op
    check_prox(problem, method)
    if op.has_prox and method != "cg":
        return op.prox(v, problem.y, gamma)
    g = torch.as_tensor(gamma, dtype=v.dtype, device=v.device)
    g = g.view((-1,) + (1,) * (v.ndim - 1)) if g.ndim else g
    return conjugate_gradient(lambda u: u + g * op.gram(u), v + g * op.T(problem.y), iters=cg_iters,
                              dims=v.ndim - 1)


@solver
def pnp_admm(problem, prior, *, iterations: int = 50, sigma_max: float | None = None, sigma_min: float | None = None,
             lam: float | None = None, prox: str = "auto", generator=None, callback=None):
    """Plug-and-play ADMM [PnP] [ADMM] with the diffusion model as denoiser:

        u ← prox_{γ_k f}(x − z),  x ← D_{σ_k}(u + z),  z ← z + (u − x)

    σ_k log-spaced from ``sigma_max`` down to ``sigma_min`` (σ_y, at least 0.01); the penalty
    follows [DPIR], γ_k = σ_k²/(λ σ_y²) (the project's choice: no paper fixes γ for this variant).
    DPIR's values are σ_max = 49/255 in [0, 1] units (0.38 here) and λ = 0.23; the defaults
    (:mod:`~invlab.solvers.defaults`) are tuned on glyphs: σ_max = 1.0, and λ = 2 except on
    super-resolution (0.23).
    The prox is closed-form for masks, pooling, separable and FFT blurs and block CS, else CG
    (``prox``: "auto", "closed_form" — an error when there is none — or "cg").
    """
    check_int("iterations", iterations, lo=1)
    warn_few_steps("pnp_admm", "iterations", iterations, prior)
    d = lookup("pnp_admm", problem.task, problem.sigma_y)
    sigma_max = d["sigma_max"] if sigma_max is None else check_positive("sigma_max", sigma_max)
    lam = d["lam"] if lam is None else check_positive("lam", lam)
    likelihood_of(problem, "gaussian", "PnP-ADMM")
    check_prox(problem, prox)
    s_min = max(problem.sigma_y, 0.01) if sigma_min is None else check_positive("sigma_min", sigma_min)
    if s_min >= sigma_max:
        raise ValueError(f"sigma_min: must be below sigma_max ({sigma_max}), got {s_min}")
    sigmas = torch.logspace(math.log10(sigma_max), math.log10(s_min), iterations).tolist()
    sy2 = max(problem.sigma_y, 0.01) ** 2
    x = problem.op.pinv(problem.y) if problem.op.linear else torch.zeros_like(problem.x)
    z = torch.zeros_like(x)
    with torch.no_grad():
        for k, sk in enumerate(sigmas):
            u = data_prox(problem, x - z, sk ** 2 / (lam * sy2), method=prox)
            x = prior.denoise(u + z, sk)
            z = z + (u - x)
            if callback is not None:
                callback(k, prior.schedule.t_for_sigma(sk), u, x)
    return x


@solver
def diffpir(problem, prior, *, steps: int | None = None, lam: float | None = None, zeta: float | None = None,
            prox: str = "auto", generator=None, callback=None):
    """DiffPIR [DiffPIR, Alg. 1]. With σ̄_t = √(1−ᾱ_t)/√ᾱ_t and ρ_t = λ σ_n²/σ̄_t² (σ_n = σ_y/2:
    DiffPIR's σ is in [0, 1] image units; floored at 1e-3), for each step t → s of the quadratic
    grid 999, 899, 857, …, 5, 0 (fine steps near t = 0):

        x_0 = clamp(x̂_0(x_t)) (image priors);  x̂ = argmin_z ‖y − Az‖² + ρ_t ‖z − x_0‖²  (closed form / CG)
        ε̂ = (x_t − √ᾱ_t x̂)/√(1−ᾱ_t);  x_s = √ᾱ_s x̂ + √(1−ᾱ_s)(√(1−ζ) ε̂ + √ζ z)

    The output is the iterate at the grid's last time t = 0 (its noise level is √(1−ᾱ_0) = 0.01):
    the authors' scripts also run the denoiser there and discard it, a call skipped here.
    Defaults: 100 steps, λ = 1, ζ = 0.1 (deblur, SR: the value in the authors' scripts); 20 steps,
    ζ = 1 (inpainting) [DiffPIR].
    """
    d = lookup("diffpir", problem.task, problem.sigma_y)
    steps = d["steps"] if steps is None else check_int("steps", steps, lo=2, hi=prior.T)
    warn_few_steps("diffpir", "steps", steps, prior)
    lam = d["lam"] if lam is None else check_positive("lam", lam)
    zeta = d["zeta"] if zeta is None else check_fraction("zeta", zeta, closed_hi=True)
    likelihood_of(problem, "gaussian", "DiffPIR")
    check_prox(problem, prox)
    sched = prior.schedule
    sigma_n = max(problem.sigma_y / 2, 1e-3)
    grid = timesteps(prior.T, steps, "quad").tolist()
    x_t = initial_noise(problem, prior, generator)
    with torch.no_grad():
        for i, (t, s) in enumerate(zip(grid[:-1], grid[1:])):
            x0 = prior.x0(x_t, t)                                   # clamped for image priors
            rho = lam * sigma_n ** 2 / float(sched.sigma_ve(t)) ** 2
            xh = data_prox(problem, x0, 1.0 / rho, method=prox)   # ½‖Az − y‖² + ρ/2 ‖z − x0‖²
            eps = sched.eps_from_x0(x_t, xh, t)
            z = randn(xh.shape, generator, like=xh)
            a_s = sched.ab(s, xh)
            x_t = a_s.sqrt() * xh + (1 - a_s).sqrt() * ((1 - zeta) ** 0.5 * eps + zeta ** 0.5 * z)
            if callback is not None:
                callback(i, t, x_t, x0)
    return x_t
