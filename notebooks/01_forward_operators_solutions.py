# %% [markdown]
# # 01 · Solutions to the exercises
#
# Worked, executed solutions to the exercises of
# [01 · Forward operators, noise, and why inversion is ill-posed](01_forward_operators.ipynb);
# each solution restates its exercise first.

# %% [markdown]
# ## Parameters

# %%
SEED = 0
SIGMA_Y = 0.05       # measurement noise std, in [-1, 1] image units (as in the chapter)

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown

import invlab
from invlab import make_problem, metrics
from invlab.operators import least_squares
from invlab.viz import show_images

device = invlab.setup_notebook(seed=SEED)
x_glyph, _ = invlab.glyphs(8, split="test")


def gen(seed=SEED):
    return torch.Generator().manual_seed(seed)


# %% [markdown]
# ## Exercise 1 · Composing operators
# *Compose SR×2 after a Gaussian blur, `A = sr @ blur`, check its adjoint with the dot-product
# test, and decide whether $A^+$ exists in closed form.*
#
# `@` builds a `Composed` operator; it is linear because both parts are, so it has `A.T` (the
# adjoints applied in reverse order) and a `pinv`, but no SVD view.

# %%
sr = invlab.make_operator("sr2", (1, 32, 32))
blur = invlab.make_operator("gaussian_blur", (1, 32, 32))
A = sr @ blur
xr = torch.randn((4,) + A.input_shape, generator=gen(), dtype=torch.float64)
yr = torch.randn((4,) + A.output_shape, generator=gen(1), dtype=torch.float64)
lhs, rhs = (A(xr) * yr).sum(), (xr * A.T(yr)).sum()
dot_gap = float((lhs - rhs).abs() / lhs.abs())
assert A.linear and not A.has_svd
assert dot_gap < 1e-12                                  # ⟨Ax, y⟩ = ⟨x, Aᵀy⟩ to float64 rounding

# %% [markdown]
# The operator is small enough to write down as a matrix ($256\times1024$: apply it to every
# pixel basis image), which gives the exact $A^+$ to compare with and the singular values that
# explain how the package's iterative `pinv` (CGLS) behaves:

# %%
M = A(torch.eye(1024, dtype=torch.float64).view(1024, 1, 32, 32)).reshape(1024, -1).T     # (256, 1024)
s_A = torch.linalg.svdvals(M)
rank_A = int((s_A > 1e-10 * s_A.max()).sum())
y_g = A(x_glyph[:1].double())
pinv_cgls = A.pinv(y_g)
pinv_dense = (torch.linalg.pinv(M) @ y_g.flatten()).view_as(pinv_cgls)
cgls_gap = float((pinv_cgls - pinv_dense).norm() / pinv_dense.norm())
assert rank_A == 256                                    # full row rank: every measurement is independent
assert cgls_gap < 1e-8

# %% [markdown]
# Full row rank means $A^+ = A^\top(AA^\top)^{-1}$. And $AA^\top$ is shift-invariant on the 16×16
# grid (shifting the image by two pixels shifts the blurred, pooled image by one), so it is a
# circular convolution there: one FFT diagonalises it. That is a closed form, checked against
# the dense pseudo-inverse:

# %%
delta = torch.zeros((1,) + A.output_shape, dtype=torch.float64)
delta[..., 0, 0] = 1.0
h_hat = torch.fft.fft2(A(A.T(delta)))                   # the eigenvalues of AAᵀ


def pinv_fft(y):
    """A⁺y = Aᵀ (AAᵀ)⁻¹ y, with (AAᵀ)⁻¹ applied by FFT on the low-resolution grid."""
    return A.T(torch.fft.ifft2(torch.fft.fft2(y) / h_hat).real)


fft_gap = float((pinv_fft(y_g) - pinv_dense).norm() / pinv_dense.norm())
assert fft_gap < 1e-10

# %%
Markdown(f"The dot-product test passes (relative gap {dot_gap:.0e}). $A$ has no SVD view, so `A.pinv` runs CGLS; it "
         f"agrees with the dense pseudo-inverse to {cgls_gap:.0e}, and converges fast because $A$ is well conditioned: "
         f"rank {rank_A} of 256, singular values from {float(s_A.min()):.3f} to {float(s_A.max()):.3f}. "
         f"**Yes, $A^+$ has a closed form** here, though the package does not build it: $A^\\top(AA^\\top)^{{-1}}$ with "
         f"$AA^\\top$ diagonalised by the FFT of the 16×16 grid (gap to the dense $A^+$: {fft_gap:.0e}). "
         "Why it matters: a composition loses the SVD view of its parts, so the spectral solvers (DDRM, DDNM) cannot "
         "run on it, while the gradient-based ones need only $A$ and $A^\\top$, which compose for free.")

# %% [markdown]
# ## Exercise 2 · $A^+y$ is the minimum-norm solution
# *For SR×4 with $\sigma_y = 0$, add null-space vectors $v - A^+Av$ to $A^+y$ and check that the
# residual stays 0 while the norm grows.*

# %%
p_sr = make_problem("sr4", x_glyph[:1].double(), sigma_y=0.0, seed=SEED)
x_min = p_sr.op.pinv(p_sr.y)
v = torch.randn((8,) + p_sr.op.input_shape, generator=gen(2), dtype=torch.float64)
null = v - p_sr.op.pinv(p_sr.op(v))                      # (I − A⁺A) v: invisible to A
others = x_min + null                                    # eight other exact solutions of Ax = y
resid = (p_sr.op(others) - p_sr.y).flatten(1).norm(dim=1)
norms = others.flatten(1).norm(dim=1)
pythagoras = (norms ** 2 - (x_min.norm() ** 2 + null.flatten(1).norm(dim=1) ** 2)).abs().max()
assert float(resid.max()) < 1e-12                        # every one reproduces y exactly
assert bool((norms > x_min.norm()).all())                # and every one is longer than A⁺y
assert float(pythagoras) < 1e-9                          # ‖A⁺y + n‖² = ‖A⁺y‖² + ‖n‖²: n ⟂ A⁺y
show_images([p_sr.x[0], x_min[0]] + [o for o in others[:3, 0:1]],
            ["x", f"A⁺y  ‖·‖={float(x_min.norm()):.1f}"] + [f"A⁺y + n  ‖·‖={float(n):.1f}" for n in norms[:3]],
            ncols=5, size=1.6);

# %%
Markdown(f"All eight perturbed images reproduce $y$ (largest residual {float(resid.max()):.0e}), and all are longer: "
         f"‖A⁺y‖ = {float(x_min.norm()):.2f} against {float(norms.min()):.2f} to {float(norms.max()):.2f}. "
         "The norms add as squares (to float64 rounding) because $A^+y$ lies in the range of $A^\\top$ and the "
         "null-space part is orthogonal to it, so $A^+y$ is the shortest of all exact solutions. Minimum norm is a "
         "*choice*, not information: it sets every null-space coordinate to 0, which for SR×4 means flat 4×4 "
         "blocks. A prior makes a different choice.")

# %% [markdown]
# ## Exercise 3 · The best Tikhonov μ against the noise level
# *Find the μ that maximises PSNR for σ_y ∈ {0.01, 0.05, 0.2} (Gaussian blur). How does it scale?*
#
# The blur is diagonal in the Fourier basis, so the Tikhonov solution has a closed form:
# `op.prox(0, y, 1/μ)` $= A^\top y/(A^\top A + \mu)$, the same minimiser that `least_squares`
# reaches by conjugate gradient (checked below). That makes a fine grid of μ (8 values per decade)
# cheap. Three 64×64 test images, one noise draw each.

# %%
SIGMAS = [0.01, 0.05, 0.2]
mus = torch.logspace(-6, 1, 57, dtype=torch.float64)
images = {n: invlab.test_image(n, 64).double() for n in ["camera", "moon", "coins"]}


def tikhonov(problem, mu):
    return problem.op.prox(torch.zeros_like(problem.y), problem.y, 1.0 / mu)


check = make_problem("gaussian_blur", images["camera"], sigma_y=SIGMA_Y, seed=SEED)
torch.testing.assert_close(tikhonov(check, 0.01), least_squares(check.op, check.y, damp=0.01, iters=300),
                           atol=1e-6, rtol=0)

psnr_mu, best_mu = {}, {}
for name, x in images.items():
    for s in SIGMAS:
        p = make_problem("gaussian_blur", x, sigma_y=s, seed=SEED)
        psnr_mu[name, s] = torch.tensor([float(metrics.psnr(tikhonov(p, float(m)).clamp(-1, 1), x)) for m in mus])
        best_mu[name, s] = float(mus[psnr_mu[name, s].argmax()])
log_s = torch.tensor(SIGMAS, dtype=torch.float64).log()
slope = {n: float(torch.linalg.lstsq(torch.stack([log_s, torch.ones(3, dtype=torch.float64)], 1),
                                      torch.tensor([best_mu[n, s] for s in SIGMAS], dtype=torch.float64).log()[:, None]).solution[0])
         for n in images}

fig, ax = plt.subplots(figsize=(5.5, 3.2))
for s, c in zip(SIGMAS, ["tab:blue", "tab:orange", "tab:green"]):
    ax.semilogx(mus, psnr_mu["camera", s], color=c, label=f"σ_y = {s}")
    ax.axvline(best_mu["camera", s], color=c, ls=":", lw=1)
ax.set(xlabel="damping μ", ylabel="PSNR (dB)", title="Tikhonov on Gaussian blur (camera)", ylim=(5, None))
ax.legend(fontsize=8);

# %% [markdown]
# For comparison, the case where theory gives the answer: if the image itself were white noise
# of variance τ², the best *linear* estimate (the Wiener filter) is Tikhonov at
# $\mu = \sigma_y^2/\tau^2$, a scaling like $\sigma_y^2$. Checked on white images, pixels uniform on
# [-1, 1] (τ² = 1/3), by mean squared error (no clipping):

# %%
TAU = 3 ** -0.5
x_white = 2 * torch.rand((4, 1, 64, 64), generator=gen(3), dtype=torch.float64) - 1
best_mu_white = {}
for s in SIGMAS:
    p = make_problem("gaussian_blur", x_white, sigma_y=s, seed=SEED)
    mse = torch.stack([((tikhonov(p, float(m)) - x_white) ** 2).mean() for m in mus])
    best_mu_white[s] = float(mus[mse.argmin()])
for s in SIGMAS:                                       # within one grid step (10^(1/8)) of σ²/τ²
    assert abs(torch.log10(torch.tensor(best_mu_white[s] * TAU ** 2 / s ** 2))) <= 1 / 8 + 1e-9
for n in images:
    assert all(best_mu[n, a] < best_mu[n, b] for a, b in zip(SIGMAS, SIGMAS[1:]))   # more noise, more damping
    assert 0.7 < slope[n] < 1.5                                                      # about linear in σ_y, not σ_y²
assert all(best_mu["moon", s] == max(best_mu[n, s] for n in images) for s in SIGMAS)   # the smoothest image

# %%
rows = "\n".join(f"| {n} | " + " | ".join(f"{best_mu[n, s]:.2g}" for s in SIGMAS) + f" | {slope[n]:.2f} |"
                 for n in images)
Markdown("Best μ on the grid (PSNR after clipping to [-1, 1]) and the slope of log μ* against log σ_y:\n\n"
         "| image | " + " | ".join(f"σ_y = {s}" for s in SIGMAS) + " | slope |\n|---|" + "---|" * (len(SIGMAS) + 1)
         + f"\n{rows}\n| white noise, τ² = 1/3 | " + " | ".join(f"{best_mu_white[s]:.2g}" for s in SIGMAS)
         + " | (σ²/τ²) |\n\n"
         f"The best μ grows with the noise, but on the photographs only about **linearly** in σ_y (slopes "
         f"{min(slope.values()):.2f} to {max(slope.values()):.2f}), not like σ_y² as the white-noise case (and the "
         "Wiener formula) would suggest. The reason is the prior that μ stands for: $\\mu\\|x\\|^2$ says every "
         "frequency has the same variance, but photographs have most of their energy at low frequencies. One μ "
         "must damp the noise-dominated high frequencies without erasing the signal-dominated low ones, and the "
         "compromise moves more slowly than σ². The optimum also depends on the image (moon, the smoothest, "
         "wants the most damping): one number cannot encode what an image looks like.")

# %% [markdown]
# ## Exercise 4 · Poisson noise and brightness
# *With Poisson noise at `rate=0.05`, how does the pseudo-inverse's error change with brightness?*
#
# Flat images at ten brightness levels (as in the chapter's noise section), four 64×64 images per
# level, SR×4 (whose $A^+$ copies each measurement into its 4×4 block, so the error of $A^+y$ is
# the measurement noise itself). At rate λ the counts are $\mathrm{Poisson}(255\lambda x_{01})$, so
# the predicted standard deviation in [-1, 1] units is $2\sqrt{x_{01}/(255\lambda)}$, before `y` is
# clipped to [-1, 1].

# %%
RATE = 0.05
levels = torch.linspace(-0.9, 0.9, 10, dtype=torch.float64)
flat = levels.view(10, 1, 1, 1, 1).expand(10, 4, 1, 64, 64).reshape(40, 1, 64, 64).contiguous()
pp = make_problem("sr4", flat, noise="poisson", rate=RATE, seed=SEED)
err = (pp.op.pinv(pp.y) - flat).view(10, -1)
rmse, bias = err.pow(2).mean(1).sqrt(), err.mean(1)
predicted = 2 * ((levels + 1) / 2 / (255 * RATE)).sqrt()
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(levels, rmse, "o-", label="RMSE of A⁺y")
ax.plot(levels, predicted, "k--", lw=1, label="2√(x₀₁ / 255λ)")
ax.plot(levels, bias, "s:", label="mean error (bias)")
ax.set(xlabel="clean value", ylabel="error", title=f"SR×4, Poisson, rate {RATE}")
ax.legend(fontsize=8);

# %%
low = levels <= 0.3
rel_gap = float((rmse[low] / predicted[low] - 1).abs().max())
assert rmse[6] > 3 * rmse[0]                      # brighter is noisier…
assert rel_gap < 0.1                              # …as √brightness, up to 0.3
assert rmse[-1] < 0.85 * predicted[-1] and bias[-1] < -0.1   # at the top, clipping caps and biases it
Markdown(f"The error grows with brightness, as the square root of it: from {float(rmse[0]):.2f} at level "
         f"{float(levels[0]):.1f} to {float(rmse[6]):.2f} at {float(levels[6]):.1f}, within {rel_gap:.0%} of "
         f"$2\\sqrt{{x_{{01}}/(255\\lambda)}}$ up to 0.3. At rate {RATE} the peak is only {255 * RATE:.2f} photons, so "
         f"bright pixels often count more photons than the peak and `y` is clipped at 1: the error stops growing "
         f"({float(rmse[-1]):.2f} at {float(levels[-1]):.1f}, predicted {float(predicted[-1]):.2f}) and acquires a "
         f"bias of {float(bias[-1]):.2f}. The pseudo-inverse adds nothing here (SR×4's $A^+$ only copies); with "
         "the blur it would also divide this noise by small singular values. Why it matters: the noise level is "
         "not one number, so a solver should weight each measurement by its own variance (the weighted least "
         "squares of `PoissonNoise.weighted_ls`), and clipped measurements carry less information than they seem.")
