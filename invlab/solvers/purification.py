"""Diffusion purification — DCDP [DCDP] (notebook 06).

Data consistency and the prior are decoupled: τ momentum-SGD steps on the data term alone, then
purification (noise up to t_k, denoise down) with t_k decaying over K rounds. Only ∇ of the data
term is needed, so nonlinear operators work, and the network is never differentiated.
"""
from __future__ import annotations

import torch

from .._checks import check_choice, check_fraction, check_int, check_positive
from ..rng import randn
from .defaults import lookup, warn_few_steps
from .base import Result, solver
from .guidance import likelihood_of

__all__ = ["dcdp", "dcdp_schedule", "default_dc_space"]

M_PAPER = 3 * 256 * 256


def dcdp_schedule(rounds: int, t_start: int, t_end: int, kind: str = "linear") -> list[int]:
    """Purification levels t_k: linear from t_start to t_end over ``rounds``, the last level at
    least 1 (K = 10, 400 → 0 gives 400, 356, …, 44, 1), or constant t_start."""
    if kind == "constant":
        return [t_start] * rounds
    ts = torch.linspace(t_start, t_end, rounds).round().long().tolist()
    return [max(t, 1) for t in ts]


def paper_measurement_size(problem) -> int:
    """Values in the paper's measurement for this task on 3×256×256 FFHQ: 3·(256/f)² for
    super-resolution by f (SR×4: 12288, so [DCDP]'s η = 1e3 is an effective step 2η/M ≈ 0.16),
    3·256² otherwise (masks and blurs keep the image size)."""
    if problem.task.startswith("sr"):
        return 3 * (256 // int(problem.params.get("factor", 4))) ** 2
    return M_PAPER


def data_consistency(problem, x, steps: int, lr: float, momentum: float, decode=None) -> torch.Tensor:
    """τ steps of momentum SGD on mean((y − A(x))²), with a fresh optimiser. With ``decode`` (a
    latent prior's decoder D) the variable is a latent z and the loss mean((y − A(D(z)))²):
    approach I's data phase, one decoder pass and backprop per step."""
    x = x.detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([x], lr=lr, momentum=momentum)
    with torch.enable_grad():
        for _ in range(steps):
            loss = ((problem.y - problem.op(x if decode is None else decode(x))) ** 2).flatten(1).mean(1).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return x.detach()


def default_dc_space(task: str) -> str:
    """The paper's advice for latent DCDP: approach II (pixel data phase) for deblurring, approach I
    (latent data phase) for super-resolution and inpainting."""
    return "pixel" if task.endswith("blur") else "latent"


def purify(prior, x, t_k: int, purifier: str, ddim_steps: int, generator, consistency_model=None):
    """Noise to index t_k − 1, then map back: DDIM (V1, min(ddim_steps, t_k) steps), one
    Tweedie step (V2), or one consistency-model evaluation (CM); x̂_0 is clamped for image priors,
    as the DCDP code does."""
    t = t_k - 1
    if purifier == "ddim":
        return prior.purify(x, t, ddim_steps, generator=generator)
    if purifier == "consistency":
        return consistency_model.purify(x, t, generator=generator)
    noisy = prior.schedule.noise(x, t, randn(x.shape, generator, like=x))
    return prior.x0(noisy, t)


@solver(spaces=("pixel", "latent"))
def dcdp(problem, prior, *, rounds: int | None = None, dc_steps: int | None = None, lr: float | None = None,
         momentum: float = 0.9, t_start: int | None = None, t_end: int | None = None, purifier: str | None = None,
         ddim_steps: int = 20, schedule: str = "linear", consistency_model=None, dc_space: str | None = None,
         x_init=None, generator=None, callback=None):
    """Decoupled data consistency with diffusion purification, [DCDP, Alg. 1] (latent prior: Alg. 2):

    x = 0 (or ``x_init``); for k = 1..K:
        x ← τ momentum-SGD steps on mean((y − A(x))²) from x (fresh optimiser)      (data)
        x ← purify(x, t_k): noise to t_k − 1, DDIM back (V1) or one Tweedie step (V2)  (prior)
    The defaults (:mod:`~invlab.solvers.defaults`) are the paper's except the purifier and K,
    tuned on glyphs: V2 with K = 50 (SR), 30 (blurs), 20 (inpainting); latent priors keep V1.
    return x (the last purified image, at t ≈ 1). ``Result.trajectory`` holds the purified image of
    every round and ``info["data_consistent"]`` the image after each data phase.

    ``lr`` is the SGD rate on *our* mean loss. The paper's rate η acts on a mean over the M_paper
    values of its measurement (:func:`paper_measurement_size`: 3·64² for SR×4, 3·256² for masks
    and blurs), an effective step 2η/M_paper; the default keeps that effective step:
    lr = η · M/M_paper for our measurement size M. On noisy blurs (σ_y > 0) the default η drops
    from 1e5 to 1e3 (the paper: "a smaller step" for noisy data, values lost). ``t_end`` > 0 keeps
    some purification at the end for noisy data. ``purifier="consistency"`` purifies with one evaluation of
    ``consistency_model`` (e.g. ``load_prior("glyphs32-cm")``): x + σ_k z with σ_k the EDM level of
    t_k − 1, then f(·, σ_k) — the paper's σ_k decaying in [0.002, 80] is this same schedule.

    **Latent priors** (``load_prior("glyphs32-latent")``, notebook 06b) purify z, not x:

    * ``dc_space="latent"`` (approach I): τ steps on mean((y − A(D(z)))²) w.r.t. z (decoder
      backprop), then the re-encode z ← E(D(z)) — the optimised z leaves the encoder's range, and
      the prior was only trained on encoder outputs — then purify z;
    * ``dc_space="pixel"`` (approach II): τ steps in pixel space from x = D(z), then z ← E(x),
      purify z, x ← D(z): no decoder backprop at all.

    ``dc_space`` defaults to the paper's advice (:func:`default_dc_space`: II for blurs, I
    otherwise). ``lr`` is the same effective step on the same pixel loss in both approaches
    (approach I's gradient reaches z through the decoder's Jacobian). The first round starts
    from z = E(0) (the latent of the zero image), the last purified latent is decoded.
    ``info["calls"]`` counts UNet, encoder and decoder passes separately.
    """
    rounds, dc_steps, lr, t_start, t_end, purifier, dc_space = _settings(
        problem, prior, rounds, dc_steps, lr, momentum, t_start, t_end, purifier, ddim_steps, schedule,
        consistency_model, dc_space)
    latent = getattr(prior, "is_latent", False)
    x = torch.zeros_like(problem.x) if x_init is None else x_init.detach().clone()
    levels = dcdp_schedule(rounds, t_start, t_end, schedule)
    if latent:
        return _dcdp_latent(problem, prior, x, levels, dc_space, dc_steps, lr, momentum, purifier, ddim_steps,
                            generator, callback)

    def one_round(x, t_k):
        x_dc = data_consistency(problem, x, dc_steps, lr, momentum)
        with torch.no_grad():
            return x_dc, purify(prior, x_dc, t_k, purifier, ddim_steps, generator, consistency_model)

    x, data_steps, purified = _rounds(levels, one_round, x, callback)
    return Result(x=x, trajectory=purified, info={"levels": levels, "data_consistent": data_steps, "lr": lr,
                                                      "dc_steps": dc_steps})


def _rounds(levels, one_round, x, callback):
    """DCDP's outer loop: ``(x_dc, x) = one_round(x, t_k)`` for each level t_k — the data-consistent
    image, then its purification — keeping both per round and calling ``callback(k, t_k, x_dc, x)``.
    Returns the last x and the two lists."""
    data_steps, purified = [], []
    for k, t_k in enumerate(levels):
        x_dc, x = one_round(x, t_k)
        data_steps.append(x_dc)
        purified.append(x)
        if callback is not None:
            callback(k, t_k, x_dc, x)
    return x, data_steps, purified


def _settings(problem, prior, rounds, dc_steps, lr, momentum, t_start, t_end, purifier, ddim_steps, schedule,
              consistency_model, dc_space):
    """dcdp's arguments checked before any work, each ``None`` resolved from the defaults table:
    (rounds, dc_steps, lr, t_start, t_end, purifier, dc_space)."""
    d = lookup("dcdp", problem.task, problem.sigma_y)
    check_fraction("momentum", momentum)
    rounds = d["rounds"] if rounds is None else check_int("rounds", rounds, lo=1)
    warn_few_steps("dcdp", "rounds", rounds, prior)
    dc_steps = d["dc_steps"] if dc_steps is None else check_int("dc_steps", dc_steps, lo=0)
    m = problem.y[0].numel()
    lr = d["eta"] * m / paper_measurement_size(problem) if lr is None else check_positive("lr", lr)
    t_start = d["t_start"] if t_start is None else check_int("t_start", t_start, lo=1, hi=prior.T)
    t_end = d["t_end"] if t_end is None else check_int("t_end", t_end, lo=0, hi=prior.T)
    if schedule == "linear" and t_start <= t_end:
        raise ValueError(f"t_start: must exceed t_end for the linear schedule, got {t_start} <= {t_end}")
    check_choice("schedule", schedule, ("linear", "constant"))
    latent = getattr(prior, "is_latent", False)
    if purifier is None:                    # the table's purifier was tuned in pixel space; latent DCDP keeps V1
        purifier = "ddim" if latent else d["purifier"]
    check_choice("purifier", purifier, ("ddim", "tweedie", "consistency"))
    if latent:
        dc_space = default_dc_space(problem.task) if dc_space is None else check_choice(
            "dc_space", dc_space, ("latent", "pixel"))
        if purifier == "consistency":
            raise ValueError("purifier: 'consistency' needs a pixel prior; a latent prior purifies with 'ddim' "
                             "or 'tweedie'")
    elif dc_space not in (None, "pixel"):
        check_choice("dc_space", dc_space, ("latent", "pixel"))
        raise ValueError(f"dc_space: {dc_space!r} needs a latent prior (e.g. load_prior('glyphs32-latent')); "
                         f"the {prior.name} prior works in pixel space")
    check_int("ddim_steps", ddim_steps, lo=1, hi=prior.T)
    check_positive("momentum", momentum, allow_zero=True)
    if purifier == "consistency" and consistency_model is None:
        raise ValueError("consistency_model: purifier='consistency' needs a consistency model of this prior, "
                         "e.g. consistency_model=load_prior('glyphs32-cm')")
    if consistency_model is not None and tuple(consistency_model.image_shape) != tuple(prior.image_shape):
        raise ValueError(f"consistency_model: its images are {tuple(consistency_model.image_shape)}, "
                         f"the prior's {tuple(prior.image_shape)}")
    likelihood_of(problem, "gaussian", "DCDP")
    return rounds, dc_steps, lr, t_start, t_end, purifier, dc_space


def _dcdp_latent(problem, prior, x, levels, dc_space, dc_steps, lr, momentum, purifier, ddim_steps, generator,
                 callback):
    """DCDP with a latent prior, approaches I (``dc_space="latent"``) and II (``"pixel"``)."""
    with torch.no_grad():
        state = {"z": prior.encode(x)}

    def one_round(x, t_k):
        if dc_space == "latent":                                  # approach I
            z = data_consistency(problem, state["z"], dc_steps, lr, momentum, decode=prior.decode)
            with torch.no_grad():
                x_dc = prior.decode(z)
                z = prior.encode(x_dc)                            # re-encode: back onto E's range
        else:                                                     # approach II
            x_dc = data_consistency(problem, x, dc_steps, lr, momentum)
            with torch.no_grad():
                z = prior.encode(x_dc)
        with torch.no_grad():
            state["z"] = purify(prior, z, t_k, purifier, ddim_steps, generator)
            return x_dc, prior.decode(state["z"])

    x, data_steps, purified = _rounds(levels, one_round, x, callback)
    z = state["z"]
    return Result(x=x, trajectory=purified, info={"levels": levels, "data_consistent": data_steps, "lr": lr,
                                                      "dc_steps": dc_steps, "dc_space": dc_space, "z": z})
