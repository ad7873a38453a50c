"""DPG — Diffusion Policy Gradient guidance [DPG] (notebook 04).

∇_{x_t} log p(y|x_t), with p(y|x_t) = E_{x_0 ~ p(x_0|x_t)} p(y|x_0), estimated by REINFORCE with
the Gaussian "policy" q(x_0|x_t) = N(x̂_0(x_t), r_t² I): only *forward* evaluations of A on N
Monte-Carlo samples, plus one VJP through the network. A need not be differentiable (JPEG).
"""
from __future__ import annotations

import functools
import math

import torch

from .._checks import check_choice, check_fraction, check_int, check_positive
from ..rng import randn
from ..diffusion import ddim_step, ddpm_step, pairs, timesteps
from .base import initial_noise, solver, Trace
from .defaults import lookup, warn_few_steps
from .guidance import likelihood_of, paper_scale

__all__ = ["dpg"]


def _policy_weights(excess, Z, poisson):
    """p_i = exp(−excess_i/Z): ``excess`` = ‖y − A x_0^(i)‖² − E_t (Gaussian) or ‖y − A x_0^(i)‖₁ (Poisson)."""
    return torch.exp(-(excess / Z).clamp(max=80)) if poisson else torch.exp(-(excess / Z).clamp(-80, 80))


def _loo_sum(s1, s0, P, n):
    """Σ_i (p_i − b_i) ξ_i with the leave-one-out baseline b_i = (P − p_i)/(N − 1), from
    s1 = Σ_i p_i ξ_i, s0 = Σ_i ξ_i and P = Σ_i p_i (each image's P broadcast over its ξ)."""
    return s1 - (P * s0 - s1) / (n - 1)


def _rewards(problem, x0, res0, r, n_samples, chunk, E, Z, poisson, generator):
    """Σ_i (p_i − b_i) ξ_i over N samples x_0^(i) = x̂_0 + r ξ_i, ξ_i ~ N(0, I), in chunks.

    ``res0`` = y − A x̂_0. For a linear A the sample residuals are res0 − r A ξ_i (the same numbers
    up to rounding, without forming the N images x̂_0 + r ξ_i)."""
    B = x0.shape[0]
    shape = x0.shape[1:]
    s1 = torch.zeros_like(x0)
    s0 = torch.zeros_like(x0)
    P = torch.zeros(B, dtype=x0.dtype, device=x0.device)
    rr = r.view((1, B) + (1,) * len(shape))
    rr_y = r.view((1, B) + (1,) * (res0.ndim - 1))
    done = 0
    while done < n_samples:
        n = min(chunk, n_samples - done)
        xi = randn((n, B) + tuple(shape), generator, like=x0)
        if problem.op.linear:
            res = res0[None] - rr_y * problem.op(xi)                        # (n, B, *y)
        else:
            res = problem.y - problem.op(torch.addcmul(x0[None], rr, xi))
        excess = res.abs().flatten(2).sum(-1) if poisson else (res ** 2).flatten(2).sum(-1) - E
        p = _policy_weights(excess, Z, poisson)
        s1 += torch.einsum("nb,nb...->b...", p, xi)
        s0 += xi.sum(0)
        P += p.sum(0)
        done += n
    return _loo_sum(s1, s0, P.view((B,) + (1,) * len(shape)), n_samples)


def _row_space(op, like):
    """A's SVD view, the spectral coordinates K where some image's s ≠ 0 (a superset of every
    image's support) and s on them: fixed for a whole solver call."""
    sv = op.svd()
    s = sv.singular_values(like)                                    # (1 or B, D)
    K = (s != 0).any(0).nonzero().squeeze(1)
    return sv, K, s[:, K]


def _rewards_spectral(problem, x0, res0, r, n_samples, chunk, E, Z, poisson, generator, row_space=None):
    """The same estimator for an operator with an SVD view A = U diag(s) Vᵀ, drawn in its row space.

    The rewards see ξ only through A ξ = U(s ⊙ Vᵀξ). Split Vᵀξ into η, its coordinates on the
    support K of s (rank of A, 64 of 1024 on SR×4), and the rest ν, independent of η and of every
    p_i. Then Σ_i c_i ξ_i (c_i = p_i − b_i) = V(Σ_i c_i η_i on K, Σ_i c_i ν_i off K), and given the
    c_i the second block is exactly N(0, ‖c‖² I): one draw per image instead of N. The estimate
    has the same distribution as the full draw's (a different random stream); N·rank + D normals
    per image instead of N·D. For Gaussian noise the residuals need no operator either:
    ‖res0 − r A ξ‖² − ‖res0‖² = r²‖s_K ⊙ η‖² − 2r ⟨s_K ⊙ (Uᵀ res0)_K, η⟩. ``row_space``:
    :func:`_row_space`, computed once per call by the solver."""
    sv, K, sK = row_space or _row_space(problem.op, x0)
    B, D = x0.shape[0], math.prod(x0.shape[1:])
    a = sv.Ut(res0)[:, K] * sK                                      # A ξ · res0 = ⟨a, η⟩
    rr = r.view(1, B)
    s1 = x0.new_zeros(B, K.numel())
    s0 = torch.zeros_like(s1)
    ps = []                                                         # every p_i: N × B numbers
    done = 0
    while done < n_samples:
        n = min(chunk, n_samples - done)
        eta = randn((n, B, K.numel()), generator, like=x0)
        if poisson:
            coords = x0.new_zeros(n, B, D)
            coords[..., K] = sK * eta
            res = res0[None] - r.view((1, B) + (1,) * (res0.ndim - 1)) * sv.U(coords)
            excess = res.abs().flatten(2).sum(-1)
        else:
            excess = rr * (rr * ((sK * eta) ** 2).sum(-1) - 2 * (a * eta).sum(-1))
        p = _policy_weights(excess, Z, poisson)
        s1 += torch.einsum("nb,nbk->bk", p, eta)
        s0 += eta.sum(0)
        ps.append(p)
        done += n
    p = torch.cat(ps)
    P = p.sum(0)
    c_norm = ((n_samples * p - P) / (n_samples - 1)).norm(dim=0)   # ‖c‖, c_i = p_i − b_i = (N p_i − P)/(N − 1)
    coords = randn((B, D), generator, like=x0) * c_norm[:, None]
    coords[:, K] = _loo_sum(s1, s0, P[:, None], n_samples)
    return sv.V(coords)


@solver
def dpg(problem, prior, *, steps: int = 1000, sampler: str = "ddpm", scale: float | None = None,
        n_samples: int | None = None, r_min: float | None = None, beta_cfg: float | None = None, chunk: int = 128,
        likelihood: str | None = None, clamp: bool | None = None, spectral: bool | None = None, keep: int = 0,
        generator=None, callback=None):
    """Diffusion Policy Gradient guidance, [DPG, Alg. 1] with the details of its official code. Per step t:

    1. x̂_0 = Tweedie(x_t), clamped to [-1, 1] for image priors (``clamp``); x' = the unconditional
       DDPM (respaced grid) or DDIM (η = 0) step.
    2. E_t = ‖y − A x̂_0‖²; Z_t = 0.9 Z_{t+1} + 0.1 E_t (Z = E at the first step);
       r_t = max(√(Z_t/D)/2, r_min).  [Poisson: Z_t = ‖y − A x̂_0‖₁, r_t = max(Z_t/D, r_min)]
    3. x_0^(i) = x̂_0 + r_t ξ_i (N samples, detached); p_i = exp(−(‖y − A x_0^(i)‖² − E_t)/Z_t).
    4. Leave-one-out baseline b_i = (Σ_j p_j − p_i)/(N − 1).
    5. ℓ(x_t) = (1/N) Σ_i (p_i − b_i) ‖x_0^(i) − x̂_0(x_t)‖²/(2r_t²); g = ∇_{x_t} ℓ (one VJP);
       optional smoothing g̃ = w g_prev + (1 − w) g, w = β_cfg·(1 for DDIM; k/N for DDPM, the step's
       index k on the N-step grid counted from 0 at the end: t/1000 at 1000 steps), with
       g_prev the previous step's *unsmoothed* gradient (a two-step average, not a running one).
    6. x_{t−1} = x' − s · η_t · g̃/‖g̃‖, η_t = 1 (DDIM) or β_t/(√α_t √(1−ᾱ_t)) (DDPM); η_t = 0 at DDIM's
       last step and DDPM's last two, as in the official sampling loop.

    Z and g_prev are reset at every call (the official script leaks them across images). The N
    samples go through A in chunks of ``chunk`` (memory stays bounded). ``scale`` defaults to the
    table's value for the task and sampler — the paper's FFHQ value, or for DDPM on SR and inpainting
    one tuned on glyphs, both stated for 3×256×256 — times √(D_ours/D_paper); ``n_samples``, ``r_min`` and
    ``beta_cfg`` default per task from :mod:`invlab.solvers.defaults`, the official configs' values
    beside them (N = 500-11000 there; 256 here, drawn in A's row space).

    ``spectral`` (default: whenever A is linear with an SVD view) draws the N samples in A's row
    space and their summed null-space part in one draw (:func:`_rewards_spectral`): the same
    estimator in distribution, N·rank(A) + D normals per image instead of N·D. ``False`` draws
    every ξ_i in full, as the paper's code does.
    """
    poisson, spectral, scale, n_samples, r_min, beta_cfg = _checked(problem, prior, steps, sampler, n_samples, chunk,
                                                                    r_min, beta_cfg, likelihood, spectral, scale)
    sched, D = prior.schedule, math.prod(prior.image_shape)
    grid = timesteps(prior.T, steps, "respaced" if sampler == "ddpm" else "leading").tolist()
    x = initial_noise(problem, prior, generator)
    rewards = functools.partial(_rewards_spectral, row_space=_row_space(problem.op, x)) if spectral else _rewards
    view = (-1,) + (1,) * len(prior.image_shape)
    Z, g_prev = None, None
    trace = Trace(keep, callback)
    for i, (t, s) in enumerate(pairs(grid)):
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            eps, x0 = prior.eps_and_x0(x, t, clamp)                                  # 1. Tweedie
        x0d = x0.detach()
        with torch.no_grad():
            x_next = _unconditional_step(sched, sampler, x0d, eps.detach(), x.detach(), t, s, generator)
            res = problem.y - problem.op(x0d)
            E, Z, r = _policy_radius(res, Z, D, poisson, r_min)                       # 2. E_t, Z_t, r_t
            weighted = rewards(problem, x0d, res, r, n_samples, chunk, E, Z, poisson, generator)   # 3.-4.
            v = -(weighted / n_samples) / r.view(view)                               # 5. ∂ℓ/∂x̂_0 at x̂_0
        with torch.enable_grad():
            (g,) = torch.autograd.grad(x0, x, grad_outputs=v)                         # 5. one VJP
        with torch.no_grad():
            g, g_prev = _smoothed(g, g_prev, beta_cfg, sampler, i, len(grid)), g     # 5. smoothing
            gnorm = g.flatten(1).norm(dim=1).view(view)
            x = x_next - scale * _step_weight(sched, sampler, t, s, len(grid) - i) * g / (gnorm + 1e-7)   # 6.
        trace(i, t, s, x, x0d, E.sqrt())
    return trace.result(x, scale=scale, grid=grid)


def _checked(problem, prior, steps, sampler, n_samples, chunk, r_min, beta_cfg, likelihood, spectral, scale):
    """dpg's arguments, the unset ones filled from the defaults table, checked before any work:
    (Poisson likelihood?, spectral draw?, guidance scale, n_samples, r_min, beta_cfg)."""
    d = lookup("dpg", problem.task)
    n_samples = d["n_samples"] if n_samples is None else n_samples
    r_min = d["r_min"] if r_min is None else r_min
    beta_cfg = d["beta_cfg"] if beta_cfg is None else beta_cfg
    check_int("steps", steps, lo=1, hi=prior.T)
    warn_few_steps("dpg", "steps", steps, prior)
    check_choice("sampler", sampler, ("ddpm", "ddim"))
    check_int("n_samples", n_samples, lo=2)
    check_int("chunk", chunk, lo=1)
    check_positive("r_min", r_min, allow_zero=True)
    check_fraction("beta_cfg", beta_cfg)
    poisson = likelihood_of(problem, likelihood) == "poisson"
    if spectral not in (None, True, False):
        raise ValueError(f"spectral: expected None (automatic), True or False, got {spectral!r}")
    has_svd = problem.op.linear and getattr(problem.op, "has_svd", False)
    if spectral and not has_svd:
        raise ValueError(f"spectral: needs a linear operator with an SVD view; {problem.op.name} has none "
                         "(leave spectral=None to pick the full draw)")
    scale = d[f"scale_{sampler}"] * paper_scale(problem) if scale is None else check_positive("scale", scale)
    return poisson, (has_svd if spectral is None else spectral), scale, n_samples, r_min, beta_cfg


def _smoothed(g, g_prev, beta_cfg: float, sampler: str, i: int, n: int):
    """Step 5's optional smoothing w g_prev + (1 − w) g, w = β_cfg (DDIM) or β_cfg·k/n (DDPM, k = n − 1 − i
    the step's index on the n-step grid counted from 0 at the end); ``g_prev`` is the previous step's
    unsmoothed gradient, as the official code keeps it. ``g`` itself at the first step or with β_cfg = 0."""
    if beta_cfg == 0 or g_prev is None:
        return g
    w = beta_cfg * (1.0 if sampler == "ddim" else (n - 1 - i) / n)
    return w * g_prev + (1 - w) * g


def _unconditional_step(sched, sampler, x0, eps, x_t, t, s, generator):
    """Step 1's x': the DDPM (ancestral) or DDIM (η = 0) step from x̂_0; x̂_0 itself after the last step."""
    if s < 0:
        return x0
    return ddim_step(sched, x0, eps, t, s) if sampler == "ddim" else ddpm_step(sched, x0, x_t, t, s, generator)


def _policy_radius(res, Z, D, poisson, r_min):
    """Step 2: E_t = ‖y − A x̂_0‖² (Poisson: ‖·‖₁), its running mean Z_t = 0.9 Z_{t+1} + 0.1 E_t (Poisson:
    Z_t = E_t) and the policy's radius r_t = max(√(Z_t/D)/2, r_min) (Poisson: max(Z_t/D, r_min))."""
    E = res.abs().flatten(1).sum(1) if poisson else (res ** 2).flatten(1).sum(1)
    Z = (E if (Z is None or poisson) else 0.9 * Z + 0.1 * E).clamp_min(1e-12)
    r = ((Z / D) if poisson else (Z / D).sqrt() / 2).clamp_min(r_min).clamp_min(1e-6)
    return E, Z, r


def _step_weight(sched, sampler, t, s, left: int) -> float:
    """Step 6's η_t, ``left`` the steps still to take including this one: 1 for DDIM, 0 at its last step;
    β_t/(√α_t √(1−ᾱ_t)) for DDPM on the respaced grid, 0 at its last two steps (the official sampling loop:
    ``eta = 1 if idx > 0`` for DDIM, ``… if idx > 1 else 0`` for DDPM)."""
    if left <= (1 if sampler == "ddim" else 2):
        return 0.0
    if sampler == "ddim":
        return 1.0
    beta = 1 - float(sched.ab(t) / sched.ab(s))
    return beta / (math.sqrt(1 - beta) * math.sqrt(1 - float(sched.ab(t))))
