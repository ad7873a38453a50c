"""The Gaussian-mixture test bed: linear problems whose posterior is known exactly, and the
report that measures solver samples against it (notebooks 03–04, ``benchmarks/gmm_posterior.py``).

The mixtures themselves live in :mod:`invlab.diffusion.gmm`; this module adds what needs the
problem and metric layers on top of them.
"""
from __future__ import annotations

import math

import torch

from ._checks import check_int, check_tensor
from .diffusion.gmm import GaussianMixture, GaussianMixturePrior, gmm2d
from .metrics import sliced_wasserstein
from .problems import linear_problem

__all__ = ["gmm2d_problem", "linear_gaussian_problem", "posterior_report"]


def gmm2d_problem(n: int = 2000, *, sigma_y: float = 0.1):
    """The 2-D picture problem of notebooks 03–04: the ``gmm2d`` prior, one measurement
    y = x_1 + 0.6 x_2 + σ_y n of x* = (0.55, −0.55) (the noise draw fixed at +0.05), repeated
    ``n`` times so one solver call draws ``n`` posterior samples.

    Returns ``(prior, problem, posterior)``: the :class:`GaussianMixturePrior`, the
    :class:`~invlab.problems.InverseProblem` (``problem.op.A`` is the 1×2 matrix) and the exact
    posterior :class:`GaussianMixture`.
    """
    check_int("n", n, lo=1)
    prior = GaussianMixturePrior(gmm2d(), name="gmm2d")
    A = torch.tensor([[1.0, 0.6]], dtype=torch.float64)
    x_star = torch.tensor([0.55, -0.55], dtype=torch.float64)
    y = A @ x_star + 0.05
    problem = linear_problem(A, x_star.expand(n, -1).clone(), sigma_y=sigma_y, y=y.expand(n, -1).clone())
    return prior, problem, prior.posterior(A, y, sigma_y)


def linear_gaussian_problem(prior: GaussianMixturePrior, m: int = 1, *, seed: int = 0):
    """The benchmark's random linear problem (as in [MCGdiff]): A (m, d) with singular values
    U(0, 1) and random orthogonal factors, σ_y = U(0, 1)·max s, x ~ prior, y = A x + σ_y n.

    Returns ``(A, y, sigma_y, x)``.
    """
    d = prior.mixture.dim
    check_int("m", m, lo=1, hi=d)
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(m, m, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    s = torch.rand(m, generator=g, dtype=torch.float64)
    A = U @ torch.diag(s) @ V[:, :m].T
    sigma_y = float(torch.rand((), generator=g, dtype=torch.float64)) * float(s.max())
    x = prior.mixture.sample(1, g)[0]
    y = A @ x + sigma_y * torch.randn(m, generator=g, dtype=torch.float64)
    return A, y, sigma_y, x


def posterior_report(samples: torch.Tensor, posterior: GaussianMixture, *, n_exact: int = 2000,
                     generator: torch.Generator | None = None) -> dict[str, float]:
    """How close solver ``samples`` (n, d) are to the exact ``posterior``: [MCGdiff]'s sliced
    Wasserstein yardstick plus the project's mean, weight and mode errors.

    Returns ``sw`` (sliced Wasserstein to ``n_exact`` exact samples, 100 directions),
    ``mean_error`` (‖sample mean − posterior mean‖ / √d, per coordinate) and ``weight_tv``
    (total-variation distance between the exact weights w'_k and the share of samples that each
    component claims, by responsibility) — 0 when every mode is visited as often as it should be.
    For MAP solvers: ``to_mode`` (mean distance of a sample to the nearest posterior mode) and
    ``to_mean`` (mean distance to the posterior mean), both per coordinate. Exact posterior
    samples sit about one standard deviation from both; a MAP solver should be near a mode.
    """
    x = check_tensor("samples", samples).reshape(samples.shape[0], -1).double().cpu()
    if x.shape[1] != posterior.dim:
        raise ValueError(f"samples: expected dimension {posterior.dim}, got {x.shape[1]}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    exact = posterior.sample(n_exact, g)
    share = posterior.responsibilities(x).mean(0)
    modes = posterior.modes()
    d = math.sqrt(posterior.dim)
    return {"sw": sliced_wasserstein(x, exact, generator=g),
            "mean_error": float((x.mean(0) - posterior.mean()).norm() / d),
            "weight_tv": float(0.5 * (share - posterior.weights).abs().sum()),
            "to_mode": float(torch.cdist(x, modes).min(1).values.mean() / d),
            "to_mean": float((x - posterior.mean()).norm(dim=1).mean() / d)}
