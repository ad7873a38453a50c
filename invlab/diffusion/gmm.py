"""Gaussian-mixture priors: exact scores at every t, exact posteriors for linear-Gaussian data.

p(x) = Σ_k w_k N(μ_k, Σ_k). Under the VP forward process the noisy marginal is
Σ_k w_k N(√ᾱ_t μ_k, ᾱ_t Σ_k + (1−ᾱ_t) I), so ε, x̂_0 and the score are exact (responsibilities by
logsumexp, solves by Cholesky). With y = A x + σ_y n the posterior is again a mixture
(Gaussian conjugacy, one component at a time): Σ'_k = (Σ_k⁻¹ + AᵀA/σ_y²)⁻¹, μ'_k = Σ'_k(Aᵀy/σ_y² + Σ_k⁻¹μ_k),
w'_k ∝ w_k N(y; Aμ_k, AΣ_kAᵀ + σ_y² I). Every solver can thus be measured against the true
posterior, not just one ground-truth image (notebooks 02–09).
"""
from __future__ import annotations

import math

import torch

from .._checks import check_int, check_positive, check_tensor
from .priors import Prior
from .schedule import VPSchedule

__all__ = ["GaussianMixture", "GaussianMixturePrior", "gmm_grid", "gmm2d"]


class GaussianMixture:
    """Σ_k w_k N(μ_k, Σ_k) in R^d with full covariances. float64 throughout."""

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor):
        w = torch.as_tensor(weights, dtype=torch.float64)
        mu = torch.as_tensor(means, dtype=torch.float64)
        cov = torch.as_tensor(covs, dtype=torch.float64)
        if mu.ndim != 2:
            raise ValueError(f"means: expected shape (K, d), got {tuple(mu.shape)}")
        K, d = mu.shape
        if w.shape != (K,) or bool((w < 0).any()) or not math.isclose(float(w.sum()), 1.0, abs_tol=1e-6):
            raise ValueError("weights: expected K non-negative weights summing to 1")
        if cov.ndim == 1:
            cov = cov[:, None, None] * torch.eye(d, dtype=torch.float64)
        if cov.shape != (K, d, d):
            raise ValueError(f"covs: expected shape (K, d, d) or (K,), got {tuple(cov.shape)}")
        self.weights, self.means, self.covs = w / w.sum(), mu, 0.5 * (cov + cov.transpose(-1, -2))
        self.chol = torch.linalg.cholesky(self.covs)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def mean(self) -> torch.Tensor:
        return (self.weights[:, None] * self.means).sum(0)

    def covariance(self) -> torch.Tensor:
        m = self.mean()
        dm = self.means - m
        return (self.weights[:, None, None] * (self.covs + dm[:, :, None] * dm[:, None, :])).sum(0)

    def sample(self, n: int, generator: torch.Generator | None = None, *, return_components: bool = False):
        """``n`` exact samples, shape (n, d) float64."""
        check_int("n", n, lo=1)
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        x = self.means[k] + (self.chol[k] @ z[:, :, None])[..., 0]
        return (x, k) if return_components else x

    def _joint_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log w_k + log N(x; μ_k, Σ_k), shape (n, K)."""
        x = x.reshape(x.shape[0], -1).double().cpu()
        diff = x[:, None, :] - self.means[None]                       # n, K, d
        sol = torch.linalg.solve_triangular(self.chol[None], diff[..., None], upper=False)[..., 0]
        maha = (sol ** 2).sum(-1)
        logdet = 2 * torch.log(torch.diagonal(self.chol, dim1=-2, dim2=-1)).sum(-1)
        lp = -0.5 * (maha + logdet + self.dim * math.log(2 * math.pi))
        return lp + torch.log(self.weights.clamp_min(1e-300))

    def modes(self, iters: int = 200, tol: float = 1e-10) -> torch.Tensor:
        """The local maxima of the density, (M, d): Gaussian-mixture mean shift
        x ← (Σ_k r_k Σ_k⁻¹)⁻¹ Σ_k r_k Σ_k⁻¹ μ_k started from every component mean (a fixed point of
        ∇ log p = 0), duplicates merged. What a MAP solver should return (notebook 05)."""
        prec = torch.cholesky_inverse(self.chol)                            # K, d, d
        pm = (prec @ self.means[..., None])[..., 0]                         # K, d
        x = self.means.clone()
        for _ in range(iters):
            r = self.responsibilities(x)                                    # K starts, K comps
            lhs = torch.einsum("nk,kij->nij", r, prec)
            new = torch.linalg.solve(lhs, torch.einsum("nk,ki->ni", r, pm))
            done = float((new - x).abs().max()) < tol
            x = new
            if done:
                break
        keep: list[torch.Tensor] = []
        scale = float(self.covs.diagonal(dim1=-2, dim2=-1).max().sqrt())
        for v in x[torch.argsort(self.log_prob(x), descending=True)]:
            if all(float((v - k).norm()) > 1e-3 * scale for k in keep):
                keep.append(v)
        return torch.stack(keep)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self._joint_log_prob(x), dim=1)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """p(component k | x), shape (n, K): which mode each sample sits in."""
        return torch.softmax(self._joint_log_prob(x), dim=1)


class GaussianMixturePrior(Prior):
    """A Gaussian mixture as a diffusion prior: exact ε, x̂_0 and score at every t.

    ``image_shape`` may be (d,) for vectors or (C, H, W) for images (flattened internally; keep
    d small — covariances are full). Has no network: ``eps`` is the exact conditional expectation
    of the noise, and clamping is off by default (the mixture is not confined to [-1, 1]).
    """

    clamp_default = False

    def __init__(self, mixture: GaussianMixture, schedule: VPSchedule | None = None,
                 image_shape: tuple[int, ...] | None = None, name: str = "gmm"):
        super().__init__(schedule or VPSchedule.linear())
        self.mixture = mixture
        d = mixture.dim
        self.image_shape = tuple(image_shape) if image_shape is not None else (d,)
        if math.prod(self.image_shape) != d:
            raise ValueError(f"image_shape: {self.image_shape} does not hold {d} values")
        self.name = name

    def _noisy(self, t: torch.Tensor):
        """Per-sample component parameters of p_t: means √ᾱ μ_k and Cholesky of ᾱΣ_k + (1−ᾱ)I.

        Factorised once per distinct t (solvers pass one t for the whole batch) and indexed."""
        uniq, inv = torch.unique(t, return_inverse=True)
        a = self.schedule.ab(uniq)                                     # (U,)
        mu = a.sqrt()[:, None, None] * self.mixture.means[None]        # U, K, d
        eye = torch.eye(self.mixture.dim, dtype=torch.float64)
        cov = a[:, None, None, None] * self.mixture.covs[None] + (1 - a)[:, None, None, None] * eye
        L = torch.linalg.cholesky(cov)
        if uniq.numel() == 1:
            return mu, L                                               # broadcast over the batch
        return mu[inv], L[inv]

    def _whiten(self, x: torch.Tensor, t: torch.Tensor):
        """L⁻¹(x − √ᾱ μ_k) per component, its inverse factor, and log-responsibilities."""
        mu, L = self._noisy(t)
        eye = torch.eye(L.shape[-1], dtype=L.dtype).expand_as(L)
        Linv = torch.linalg.solve_triangular(L, eye, upper=False)      # (1 or B, K, d, d)
        diff = x[:, None, :] - mu                                      # B, K, d
        sol = torch.einsum("...kij,bkj->bki", Linv, diff) if Linv.shape[0] == 1 else \
            torch.einsum("bkij,bkj->bki", Linv, diff)
        logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
        logr = torch.log(self.mixture.weights.clamp_min(1e-300))[None] - 0.5 * ((sol ** 2).sum(-1) + logdet)
        return sol, Linv, logr

    def _score_flat(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        sol, Linv, logr = self._whiten(x, t)
        r = torch.softmax(logr, dim=1)                                 # responsibilities
        if Linv.shape[0] == 1:
            prec_diff = torch.einsum("...kji,bkj->bki", Linv, sol)      # Σ_t⁻¹ (x − √ᾱ μ_k)
        else:
            prec_diff = torch.einsum("bkji,bkj->bki", Linv, sol)
        return -(r[..., None] * prec_diff).sum(1)

    def _eps(self, x_t, t):
        flat = x_t.reshape(x_t.shape[0], -1).double().cpu()
        score = self._score_flat(flat, t)
        eps = -score * (1 - self.schedule.ab(t)).sqrt()[:, None]
        return eps.reshape(x_t.shape).to(x_t)

    def responsibilities(self, x_t: torch.Tensor, t) -> torch.Tensor:
        """p(component k | x_t), shape (B, K)."""
        tt = self._check(x_t, t)
        return torch.softmax(self._whiten(x_t.reshape(x_t.shape[0], -1).double().cpu(), tt)[2], 1)

    def _reference(self, device=None, dtype=None):
        return torch.empty(0, device=device or "cpu", dtype=dtype or torch.float64)

    def sample_exact(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact prior samples (no diffusion), shaped (n, *image_shape)."""
        return self.mixture.sample(n, generator).reshape((n,) + self.image_shape)

    def log_likelihood(self, x_t: torch.Tensor, t, A: torch.Tensor, y: torch.Tensor, sigma_y: float) -> torch.Tensor:
        """The exact guidance target log p(y | x_t) for y = A x_0 + σ_y n, shape (B,).

        p(x_0 | x_t) is a mixture with components N(m_k(x_t), C_k), C_k = (Σ_k⁻¹ + ᾱ/(1−ᾱ) I)⁻¹,
        m_k = C_k(Σ_k⁻¹μ_k + √ᾱ x_t/(1−ᾱ)) and weights p(k | x_t); so
        p(y | x_t) = Σ_k p(k | x_t) N(y; A m_k, A C_k Aᵀ + σ_y² I) — what DPS approximates by
        N(y; A x̂_0(x_t), σ_y² I) and DPG by Monte Carlo (notebook 04). Differentiable in ``x_t``.
        """
        A = check_tensor("A", A, ndim=2).double()
        y = check_tensor("y", y, ndim=1).double()
        check_positive("sigma_y", sigma_y)
        tt = self._check(x_t, t)
        if len(set(tt.tolist())) != 1:
            raise ValueError("t: log_likelihood takes one t for the whole batch")
        x = x_t.reshape(x_t.shape[0], -1).double()
        if A.shape[1] != x.shape[1] or y.shape != (A.shape[0],):
            raise ValueError(f"A: expected shape (m, {x.shape[1]}) and y (m,), "
                             f"got {tuple(A.shape)} and {tuple(y.shape)}")
        mix = self.mixture
        ab = float(self.schedule.ab(int(tt[0])))
        d, m = x.shape[1], A.shape[0]
        prec = torch.cholesky_inverse(mix.chol)                                  # Σ_k⁻¹
        C = torch.linalg.inv(prec + ab / (1 - ab) * torch.eye(d, dtype=torch.float64))
        rhs = (prec @ mix.means[..., None])[None, ..., 0] + math.sqrt(ab) / (1 - ab) * x[:, None, :]
        mk = torch.einsum("kij,bkj->bki", C, rhs)                                # (B, K, d)
        S = A[None] @ C @ A.T[None] + float(sigma_y) ** 2 * torch.eye(m, dtype=torch.float64)
        Ls = torch.linalg.cholesky(S)                                            # (K, m, m)
        r = (y[None, None] - mk @ A.T)[..., None]                                # (B, K, m, 1)
        sol = torch.linalg.solve_triangular(Ls[None].expand(r.shape[0], -1, -1, -1), r, upper=False)[..., 0]
        logdet = 2 * torch.log(torch.diagonal(Ls, dim1=-2, dim2=-1)).sum(-1)
        logn = -0.5 * ((sol ** 2).sum(-1) + logdet + m * math.log(2 * math.pi))
        logr = torch.log_softmax(self._whiten(x, tt)[2], 1)
        return torch.logsumexp(logr + logn, 1)

    def posterior(self, A: torch.Tensor, y: torch.Tensor, sigma_y: float) -> GaussianMixture:
        """The exact posterior p(x | y) for y = A x + σ_y n, A an (m, d) matrix, y of shape (m,)."""
        A = check_tensor("A", A, ndim=2).double()
        y = check_tensor("y", y, ndim=1).double()
        check_positive("sigma_y", sigma_y)
        m, d = A.shape
        if d != self.mixture.dim or y.shape != (m,):
            raise ValueError(f"A: expected shape (m, {self.mixture.dim}) and y (m,), "
                             f"got {tuple(A.shape)} and {tuple(y.shape)}")
        mix = self.mixture
        s2 = float(sigma_y) ** 2
        prec = torch.cholesky_inverse(mix.chol)                        # Σ_k⁻¹
        post_prec = prec + (A.T @ A)[None] / s2
        Lp = torch.linalg.cholesky(0.5 * (post_prec + post_prec.transpose(-1, -2)))
        post_cov = torch.cholesky_inverse(Lp)
        rhs = (A.T @ y)[None] / s2 + (prec @ mix.means[..., None])[..., 0]
        post_mean = torch.cholesky_solve(rhs[..., None], Lp)[..., 0]
        # evidence of each component: N(y; A μ_k, A Σ_k Aᵀ + σ² I)
        S = A[None] @ mix.covs @ A.T[None] + s2 * torch.eye(m, dtype=torch.float64)
        Ls = torch.linalg.cholesky(S)
        r = (y[None] - mix.means @ A.T)[..., None]
        sol = torch.linalg.solve_triangular(Ls, r, upper=False)[..., 0]
        logev = -0.5 * ((sol ** 2).sum(-1) + 2 * torch.log(torch.diagonal(Ls, dim1=-2, dim2=-1)).sum(-1))
        logw = torch.log(mix.weights.clamp_min(1e-300)) + logev
        w = torch.softmax(logw, 0)
        return GaussianMixture(w, post_mean, post_cov)


def gmm_grid(dim: int = 8, *, spacing: float = 8.0, scale: float = 1.0, weights: str = "uniform",
             seed: int = 0) -> GaussianMixture:
    """The 25-component benchmark mixture (the Gaussian-mixture benchmark of [MCGdiff]): unit covariances, means
    (s·i, s·j, s·i, s·j, …) for (i, j) ∈ {−2..2}², s = ``spacing``; ``scale`` multiplies means and
    standard deviations together. ``weights="uniform"`` or ``"random"`` (Dirichlet(1), seeded)."""
    check_int("dim", dim, lo=2)
    pts = torch.tensor([(i, j) for i in range(-2, 3) for j in range(-2, 3)], dtype=torch.float64)
    means = pts.repeat(1, (dim + 1) // 2)[:, :dim] * spacing * scale
    if weights == "uniform":
        w = torch.full((25,), 1 / 25, dtype=torch.float64)
    elif weights == "random":
        g = torch.Generator().manual_seed(seed)
        e = -torch.log(torch.rand(25, generator=g, dtype=torch.float64))
        w = e / e.sum()
    else:
        raise ValueError(f"weights: unknown value {weights!r}; choose 'uniform' or 'random'")
    return GaussianMixture(w, means, torch.full((25,), scale ** 2, dtype=torch.float64))


def gmm2d() -> GaussianMixture:
    """A 2-D mixture for pictures: six anisotropic components inside [-1, 1]², unequal weights."""
    means = torch.tensor([[-0.6, -0.5], [0.55, -0.55], [0.0, 0.6], [-0.55, 0.35], [0.6, 0.3], [0.05, -0.05]],
                         dtype=torch.float64)
    angles = torch.tensor([0.3, -0.6, 0.0, 1.1, 0.8, 0.0], dtype=torch.float64)
    sx = torch.tensor([0.12, 0.10, 0.16, 0.06, 0.08, 0.05], dtype=torch.float64)
    sy = torch.tensor([0.04, 0.05, 0.04, 0.06, 0.03, 0.05], dtype=torch.float64)
    c, s = torch.cos(angles), torch.sin(angles)
    R = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    D = torch.diag_embed(torch.stack([sx, sy], -1) ** 2)
    covs = R @ D @ R.transpose(-1, -2)
    w = torch.tensor([0.25, 0.2, 0.2, 0.1, 0.15, 0.1], dtype=torch.float64)
    return GaussianMixture(w, means, covs)
