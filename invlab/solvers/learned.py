"""Learned data consistency — DDC [DDC] (notebook 07).

Five reverse steps, each "denoise, correct, step": x̂_0 from the prior, the learned correction
x̂_{0,y} = x̂_0 − Δ_φ(x̂_0, ỹ, t), then the DDPM posterior step on the respaced pair with x̂_{0,y}
in place of x̂_0. The network is never differentiated and the operator never applied at sampling
time: all data consistency was learned.
"""
from __future__ import annotations

import torch

from .._checks import check_int
from ..ddc import DDCNetwork, load_ddc, measurement_image
from ..diffusion import ddpm_step, pairs
from .base import Result, initial_noise, solver
from .defaults import warn_few_steps

__all__ = ["ddc", "ddc_grid", "SHIPPED_NETWORKS"]

SHIPPED_NETWORKS = ("glyphs32-ddc", "glyphs32-ddc-sr4")     # tried in this order when no network is given


def ddc_grid(steps: int, t_start: int = 800) -> list[int]:
    """The sampling times: ``steps`` values evenly spaced from ``t_start`` down to 0 (the paper's
    5 steps: 800, 600, 400, 200, 0); one step is t_start alone."""
    if steps == 1:
        return [t_start]
    return torch.linspace(t_start, 0, steps).round().long().tolist()


def network_for(problem, kwargs: dict) -> dict:
    """Resolve ``network``: a name or folder is loaded (:func:`invlab.load_ddc`); ``None`` takes the
    first shipped network trained for the problem's task (and task parameters)."""
    net = kwargs.get("network")
    if isinstance(net, str):
        kwargs["network"] = load_ddc(net, device=problem.y.device)
    elif net is None:
        for name in SHIPPED_NETWORKS:
            candidate = load_ddc(name, device=problem.y.device)
            try:
                candidate.check_problem(problem)
            except ValueError:
                continue
            kwargs["network"] = candidate
            break
        else:
            raise ValueError(f"network: no shipped DDC network was trained for {problem.task!r} with "
                             f"{problem.params}; pass network=<a DDCNetwork or its folder> (and "
                             "allow_untrained=True to run one on a task it never saw)")
    return kwargs


@solver(prepare=network_for)
def ddc(problem, prior, *, network: DDCNetwork | str | None = None, steps: int = 5, t_start: int = 800,
        clamp: bool = False, allow_untrained: bool = False, generator=None, callback=None):
    """Deep data consistency, [DDC, Alg. 1] with the correction of its eq. 7:

    ỹ = y brought to image size (SR: pixel replication), x_{t_1} ~ N(0, I) with t_1 = 800;
    for each t_i on the grid 800, 600, 400, 200, 0 (next s = t_{i+1}, or −1 after the last):
        ε̂ = ε_θ(x_t, t); x̂_0 = Tweedie(x_t, ε̂)   (unclamped, as the authors' code)
        x̂_{0,y} = x̂_0 − Δ_φ(x̂_0, ỹ, t)                                     (learned correction)
        x_s = c1'·x̂_{0,y} + c2'·x_t + √β̃' z   on the respaced pair (t, s)
    and the last pair (0, −1) returns x̂_{0,y} itself (no noise; its log-variance would be log 0).

    ``network`` is a :class:`invlab.ddc.DDCNetwork` (``invlab.load_ddc("glyphs32-ddc")``), its
    name or folder (loaded by :func:`invlab.load_ddc`), or ``None``: the first shipped network
    trained for the task (:data:`SHIPPED_NETWORKS`); a task it was not trained for raises unless
    ``allow_untrained=True``. The defaults are the paper's
    (5 steps from t = 800); nothing is image-size dependent. ``Result.nfe`` counts prior *and*
    DDC-network passes (2 per step); ``info["ddc_calls"]`` the latter alone, and
    ``info["sigma_y_in_training_range"]`` whether σ_y lies in the range the network was trained on
    (outside it DDC still runs — notebook 07 measures how it degrades).
    """
    steps = check_int("steps", steps, lo=1, hi=prior.T)
    warn_few_steps("ddc", "steps", steps, prior)
    t_start = check_int("t_start", t_start, lo=0, hi=prior.T - 1)
    if steps > t_start + 1:
        raise ValueError(f"steps: {steps} distinct times do not fit between t_start={t_start} and 0")
    network.check_problem(problem, allow_untrained)
    y_img = measurement_image(problem)
    grid = ddc_grid(steps, t_start)
    x = initial_noise(problem, prior, generator)
    trajectory, calls = [], 0
    with torch.no_grad():
        for i, (t, s) in enumerate(pairs(grid)):
            x0 = prior.x0(x, t, clamp=clamp)
            x0y = x0 - network.residual(x0, y_img, t)
            calls += 1
            x = ddpm_step(prior.schedule, x0y, x, t, s, generator)
            trajectory.append(x0y)
            if callback is not None:
                callback(i, t, x, x0y)
    lo, hi = network.sigma_range
    return Result(x=x, trajectory=trajectory, info={"grid": grid, "ddc_calls": calls,
                                                    "sigma_y_in_training_range": lo <= problem.sigma_y <= hi})
