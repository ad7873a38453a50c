"""Regularisation by denoising: RED-diff (DR) [RED-diff], consistency regularisation (CR) and hybrid
regularisation HRDIS [HRDIS, Alg. 1] (notebook 08) — one optimisation loop whose only
difference is the noise rule β.

Adam optimises an image µ. At each t of a descending grid the loss is
    ω_t · mean(sg(ε_θ(µ_t, t) − ε_h) ⊙ µ) + λ1 · data(µ),   µ_t = √ᾱ_t µ + √(1−ᾱ_t) ε_h,
whose gradient needs no network Jacobian. ε_h mixes fresh noise with the previous prediction:
ε_h = √(1−β) ε_prev + √β ε_fresh (β = 1: RED-diff, fresh noise each step; β = 0: CR; β = 0.2:
HRDIS). Adam normalises gradients per element, so learning rates carry over from 256×256 images
unchanged; both loss terms are means, so their balance matches the paper's for the same task.
"""
from __future__ import annotations

import math

import torch

from .._checks import check_choice, check_fraction, check_int, check_positive, check_tensor
from ..rng import randn
from ..diffusion import timesteps
from ..noise import GaussianNoise
from .defaults import lookup, warn_few_steps
from .base import solver

__all__ = ["red_diff", "hrdis", "omega"]

WEIGHTINGS = ("linear", "sqrt", "const", "clip")


def omega(schedule, t: int, lambda2: float, weighting: str, clip_min: float = 2.0) -> float:
    """ω_t = λ2·σ_t/α_t with σ_t/α_t = √(1−ᾱ_t)/√ᾱ_t ("linear"), its square root ("sqrt"), λ2
    ("const"), or the linear weight clipped below at ``clip_min``·λ2 ("clip", for noisy data)."""
    snr = math.sqrt(float((1 - schedule.ab(t)) / schedule.ab(t)))
    if weighting == "linear":
        return lambda2 * snr
    if weighting == "sqrt":
        return lambda2 * math.sqrt(snr)
    if weighting == "const":
        return lambda2
    return max(lambda2 * snr, clip_min * lambda2)


def _data_loss(problem, mu: torch.Tensor) -> torch.Tensor:
    """Per-image data term on the Gaussian term's scale: ½ mean((y − Aµ)²) for Gaussian data; for
    Poisson and speckle data the same mean with per-pixel Fisher weights 1/Var[y | Aµ], the
    variance floored at its image mean and the weights normalised to mean 1.

    The floor matters: near-black pixels have almost no Poisson or speckle variance, and their
    raw weights (thousands of times the others at rate 20) let them swamp the data term — HRDIS
    on Poisson SR×4 then fails outright (2.5 dB on glyphs; 20.9 dB with the floor, 21.6 for
    Gaussian noise of similar size). The weighting is the project's: the papers treat Gaussian
    data only."""
    ax = problem.op(mu)
    r2 = (problem.y - ax) ** 2
    if isinstance(problem.noise, GaussianNoise):
        return r2.flatten(1).mean(1) / 2
    var = problem.noise.variance(ax.detach())
    var = torch.maximum(var, var.flatten(1).mean(1).view((-1,) + (1,) * (var.ndim - 1)))
    w = 1 / var
    return (w * r2).flatten(1).mean(1) / w.flatten(1).mean(1) / 2


def starting_image(problem) -> torch.Tensor:
    """µ's start: A⁺y for noiseless data (the papers); with σ_y > 0 the noise-aware
    (AᵀA + σ_y² I)⁻¹ Aᵀ y, which damps the directions whose singular values are below the noise
    — the authors' code gets the same effect from DDRM's deblurring pseudo-inverse, which zeroes
    singular values below 3e-2. (The exact A⁺y of a noisy Gaussian blur is pure amplified noise:
    3 dB on glyphs, and RED-diff never recovers from it.)

    Phase retrieval has no pseudo-inverse; the authors' code starts from the measured magnitudes
    with zero phase, |F⁻¹ y| cropped to the image (centred, so the zero shift lands mid-image)."""
    if problem.op.name == "phase_retrieval":
        (ph, pw), (h, w) = problem.op.pad, problem.x.shape[-2:]
        back = torch.fft.fftshift(torch.fft.ifft2(problem.y, norm="ortho"), dim=(-2, -1)).abs()
        return back[..., ph:ph + h, pw:pw + w].contiguous()
    if not hasattr(problem.op, "pinv"):
        raise ValueError(f"x_init: {problem.op.name} has no pseudo-inverse to start µ from; pass "
                         "x_init=<an image batch> (e.g. zeros, or a DPS estimate)")
    if problem.sigma_y > 0 and problem.op.linear:
        from .splitting import data_prox
        return data_prox(problem, torch.zeros_like(problem.x), 1.0 / problem.sigma_y ** 2)
    return problem.op.pinv(problem.y)


def _regularize(problem, prior, *, beta, steps, lr, lambda1, lambda2, weighting, clip_min, x_init,
                skip_first, generator, callback, warm_start=0.0):
    check_fraction("beta", beta, closed_hi=True)
    check_int("steps", steps, lo=1, hi=prior.T)
    check_fraction("warm_start", warm_start, closed_hi=True)
    warn_few_steps("red_diff" if beta == 1.0 else "hrdis", "steps", steps, prior)
    check_positive("lr", lr)
    check_positive("lambda1", lambda1, allow_zero=True)
    check_positive("lambda2", lambda2, allow_zero=True)
    check_choice("weighting", weighting, WEIGHTINGS)
    check_positive("clip_min", clip_min, allow_zero=True)
    if x_init is None:
        mu0 = starting_image(problem)
    else:
        mu0 = check_tensor("x_init", x_init)
        if mu0.shape != problem.x.shape:
            raise ValueError(f"x_init: expected shape {tuple(problem.x.shape)}, got {tuple(mu0.shape)}")
    sched = prior.schedule
    mu = mu0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([mu], lr=lr, betas=(0.9, 0.99))
    grid = timesteps(prior.T, steps, "leading").tolist()
    eps_prev, n_warm = None, round(warm_start * len(grid))
    for i, t in enumerate(grid):
        fresh = randn(mu.shape, generator, like=mu)
        hybrid = eps_prev is not None and i >= n_warm      # the warm start's steps take fresh noise (β = 1)
        eps_h = math.sqrt(1 - beta) * eps_prev + math.sqrt(beta) * fresh if hybrid else fresh
        a = sched.ab(t, mu)
        with torch.no_grad():
            mu_t = a.sqrt() * mu.detach() + (1 - a).sqrt() * eps_h
            eps_t = prior.eps(mu_t, t)
        if not (skip_first and eps_prev is None):
            w = omega(sched, t, lambda2, weighting, clip_min)
            prior_term = ((eps_t - eps_h).detach() * mu).flatten(1).mean(1)
            loss = (w * prior_term + lambda1 * _data_loss(problem, mu)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        eps_prev = eps_t
        if callback is not None:                    # the iterate µ and the bootstrap target x̂_0(µ_t)
            callback(i, t, mu.detach(), ((mu_t - (1 - a).sqrt() * eps_t) / a.sqrt()).detach())
    return mu.detach()


@solver
def red_diff(problem, prior, *, steps: int | None = None, lr: float | None = None, lambda1: float = 1.0,
             lambda2: float = 0.25, weighting: str = "linear", clip_min: float = 2.0, x_init=None,
             generator=None, callback=None):
    """RED-diff (Mardani et al. 2023): the loop with fresh noise at every step (β = 1, "DR").

    Defaults: λ = 0.25 and the task's steps and lr from HRDIS's table (RED-diff itself uses
    lr 0.1–0.5 and 50–1000 steps).
    """
    d = lookup("red_diff", problem.task, problem.sigma_y)
    return _regularize(problem, prior, beta=1.0, steps=d["steps"] if steps is None else steps,
                       lr=d["lr"] if lr is None else lr, lambda1=lambda1,
                       lambda2=lambda2, weighting=weighting, clip_min=clip_min, x_init=x_init, skip_first=False,
                       generator=generator, callback=callback)


@solver
def hrdis(problem, prior, *, beta: float = 0.2, steps: int | None = None, lr: float | None = None,
          lambda1: float | None = None, lambda2: float | None = None, weighting: str | None = None,
          clip_min: float = 2.0, warm_start: float | None = None, x_init=None, generator=None, callback=None):
    """Hybrid regularisation (HRDIS) [HRDIS, Alg. 1, Eq. 17]: ε_h = √(1−β) ε_prev + √β ε_fresh,
    β = 0.2 by default; ``beta=0`` is consistency regularisation (CR). The first step only seeds
    ε_prev, as in the authors' code.

    ``warm_start`` is the fraction of the steps that take fresh noise (β = 1, RED-diff's rule)
    before the hybrid rule starts: the paper runs phase retrieval so, 250 fresh-noise steps of
    500 (App. B.1). For noisy data the paper sets λ1 = 0.1 and clips ω_t below at 2λ2
    (``lambda1=0.1, weighting="clip"``, App. C.2). Neither helps on glyphs (the warm start loses
    2.2 dB on phase retrieval, the noisy-data setting 1.2–9.8 dB on SR×4, blur and inpainting at
    σ_y = 0.05: ``benchmarks/bench_hrdis_paper.py``), so both are off by default. Defaults per task
    from :mod:`invlab.solvers.defaults`, the paper's values beside them.
    """
    d = lookup("hrdis", problem.task, problem.sigma_y)
    return _regularize(problem, prior, beta=beta, steps=d["steps"] if steps is None else steps,
                       lr=d["lr"] if lr is None else lr,
                       lambda1=d["lambda1"] if lambda1 is None else lambda1,
                       lambda2=d["lambda2"] if lambda2 is None else lambda2,
                       weighting=d["weighting"] if weighting is None else weighting,
                       clip_min=clip_min, warm_start=d["warm_start"] if warm_start is None else warm_start,
                       x_init=x_init, skip_first=True, generator=generator, callback=callback)
