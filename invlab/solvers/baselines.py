"""Two solvers that exercise the plumbing: the pseudo-inverse and the unconditional prior."""
from __future__ import annotations

import torch

from .._checks import check_fraction, check_int
from .base import solver

__all__ = ["pseudo_inverse", "prior_sample"]


@solver
def pseudo_inverse(problem, prior, *, generator=None, callback=None):
    """A⁺y — no prior at all; the baseline every method must beat (notebook 01).

    Nonlinear operators use their natural inverse when they have one (HDR: y/2; JPEG: y);
    phase retrieval has none and raises.
    """
    op = problem.op
    if not hasattr(op, "pinv"):
        raise ValueError(f"problem: {op.name} has no pseudo-inverse; pass an initial image another way")
    with torch.no_grad():
        return op.pinv(problem.y)


@solver
def prior_sample(problem, prior, *, steps: int = 50, eta: float = 0.0, generator=None, callback=None):
    """Unconditional samples of the prior, one per problem: ignores y entirely.

    The yardstick every posterior sampler must beat (DDIM(η) with ``steps`` steps).
    """
    check_int("steps", steps, lo=1, hi=prior.T)
    check_fraction("eta", eta, closed_hi=True)
    ref = problem.y
    return prior.sample(problem.batch_size, steps, eta, generator=generator, callback=callback,
                        device=ref.device, dtype=ref.dtype)
