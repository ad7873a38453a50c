# %% [markdown]
# # 01 · Forward operators, noise, and why inversion is ill-posed
#
# Every method in this course solves the same kind of problem: recover an image $x$ from
# $$y = \mathcal{A}(x) + n .$$
# This notebook is about the two ingredients that do not involve a diffusion model at all — the
# forward operator $\mathcal{A}$ and the noise $n$ — and about why the naive inversions fail.
#
# **You will learn**
# - the fifteen forward operators of the course, what each destroys, and how they are built
#   (`invlab.make_problem`, `invlab.operators`);
# - what "linear operator" buys: an exact adjoint $A^\top$, a pseudo-inverse $A^+$, an SVD;
# - the three noise models (Gaussian, Poisson, speckle) and their units;
# - why $A^+y$ and least squares fail (null space, small singular values, noise amplification)
#   and what Tikhonov regularisation can and cannot fix — the gap a prior must fill.

# %% [markdown]
# ## Parameters

# %%
PRIOR = "glyphs32"   # unused here: no diffusion model yet
SIZE = 32            # glyph images are 32×32; the photo gallery uses 64×64
SIGMA_Y = 0.05       # measurement noise std, in [-1, 1] image units
SEED = 0

# %%
import matplotlib.pyplot as plt
import torch

import invlab
from invlab import make_problem, metrics
from invlab.operators import least_squares
from invlab.viz import show_images

device = invlab.setup_notebook(seed=SEED)
x_glyph, _ = invlab.glyphs(8, split="test")
x_photo = invlab.test_image("camera", 64)
x_colour = invlab.test_image("astronaut", 64)

# %% [markdown]
# ## 1 · The operators
#
# `make_problem(task, x, sigma_y=..., seed=...)` builds the operator for `task` at the size of `x`
# and measures `x`. Defaults are the papers' 256-pixel settings **scaled to the image side**: a
# 128-pixel box on 256 becomes a 16-pixel box on 32; the 61×61 motion-blur kernel becomes 9×9;
# the Gaussian blur (std 3 on 256) would be invisible at 0.375 px, so it is kept at 1 px.
# Every default can be overridden by keyword (`box=8`, `p=0.9`, `std=1.5`, ...).

# %%
def measurement_preview(problem):
    """An image-sized picture of y (for display only)."""
    y, op = problem.y, problem.op
    if problem.task.startswith("sr"):
        return torch.nn.functional.interpolate(y, size=op.input_shape[1:], mode="nearest")
    if problem.task.startswith("cs"):
        return op.T(y)                          # back-projection Aᵀy
    if problem.task == "phase_retrieval":
        mag = torch.fft.fftshift(y.log1p(), dim=(-2, -1))
        return mag / mag.amax(dim=(-2, -1), keepdim=True) * 2 - 1
    return y


problems = {t: make_problem(t, x_glyph[:1], sigma_y=SIGMA_Y, seed=SEED) for t in invlab.TASKS}
show_images([x_glyph[0]] + [measurement_preview(p)[0] for p in problems.values()],
            ["x"] + list(problems), ncols=8, size=1.4);

# %% [markdown]
# The same operators on a photograph (64×64, grayscale) — the structures they remove are easier
# to see there:

# %%
photo_tasks = ["box_inpaint", "random_inpaint", "freeform_inpaint", "sr4", "sr4_bicubic",
               "gaussian_blur", "motion_blur", "cs25", "phase_retrieval", "hdr", "jpeg10"]
photo = {t: make_problem(t, x_photo, sigma_y=0.0, seed=SEED) for t in photo_tasks}
show_images([x_photo[0]] + [measurement_preview(p)[0] for p in photo.values()],
            ["x"] + photo_tasks, ncols=6, size=1.6);

# %% [markdown]
# and on a colour image (channels share the masks and kernels; JPEG works in YCbCr):

# %%
colour = {t: make_problem(t, x_colour, sigma_y=0.0, seed=SEED) for t in ["box_inpaint", "sr4", "motion_blur", "jpeg10"]}
show_images([x_colour[0]] + [measurement_preview(p)[0] for p in colour.values()],
            ["x"] + list(colour), ncols=5, size=1.8);

# %% [markdown]
# ### Shapes
# Measurements keep their natural shape: $8\times8$ for SR×4, tiles × rows for compressed
# sensing, a $48\times48$ padded spectrum for phase retrieval (padding by side/4 on each side is
# what DPS calls "oversampling 2").

# %% tags=["nbval-check-output"]
for t, p in problems.items():
    print(f"{t:<17} y {tuple(p.y.shape[1:])!s:<14} linear={p.op.linear!s:<5} differentiable={p.op.differentiable}")

# %% [markdown]
# ## 2 · What "linear" buys: $A^\top$, $A^+$, the SVD
#
# A linear operator is a matrix $A\in\mathbb{R}^{m\times d}$ that we never form. Solvers need
#
# - the **adjoint** $A^\top$ (for gradients $\nabla_x \tfrac12\|Ax-y\|^2 = A^\top(Ax-y)$);
# - the **pseudo-inverse** $A^+$ (the minimum-norm least-squares solution);
# - for spectral methods (DDRM, DDNM), the **SVD** $A = U\Sigma V^\top$.
#
# The adjoint is only correct if it passes the *dot-product test*
# $\langle Ax, y\rangle = \langle x, A^\top y\rangle$ for random $x, y$. Here it is, written out:

# %%
g = torch.Generator().manual_seed(SEED)
worst = 0.0
for t, p in problems.items():
    if not p.op.linear:
        continue
    xr = torch.randn((2,) + p.op.input_shape, generator=g, dtype=torch.float64)
    yr = torch.randn((2,) + p.op.output_shape, generator=g, dtype=torch.float64)
    op = invlab.make_operator(t, p.op.input_shape, batch=2, generator=torch.Generator().manual_seed(1))
    lhs, rhs = (op(xr) * yr).sum(), (xr * op.T(yr)).sum()
    worst = max(worst, float((lhs - rhs).abs() / lhs.abs()))
assert worst < 1e-10, worst

# %% [markdown]
# In float64 the two sides agree to machine precision for every linear operator (the unit tests
# check several shapes and batch sizes too). The pseudo-inverse satisfies $A A^+ A = A$:

# %%
for t, p in problems.items():
    if p.op.linear:
        ax = p.op(x_glyph[:1].double())
        err = (p.op(p.op.pinv(ax)) - ax).norm() / ax.norm()
        assert err < 1e-4, (t, float(err))

# %% [markdown]
# ### Singular values tell you how ill-posed a problem is
# The SVD view gives each spectral coordinate its singular value $s_i$. Coordinates with $s_i=0$
# (the **null space**) are invisible in $y$; coordinates with tiny $s_i$ are visible only through
# noise. For the Gaussian blur the singular values are the Fourier transform of the kernel and
# decay like $e^{-\sigma^2\omega^2/2}$; the motion blur's (by FFT) has near-zeros; SR×4 keeps one
# coordinate in sixteen; masks keep what they keep.

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
for t in ["gaussian_blur", "sr4", "sr4_bicubic", "random_inpaint", "cs25"]:
    s = problems[t].op.svd().s[0].sort(descending=True).values
    ax[0].semilogy(s.clamp_min(1e-12), label=t)
mb = problems["motion_blur"].op.transfer_magnitude().flatten().sort(descending=True).values
ax[0].semilogy(mb.clamp_min(1e-12), label="motion_blur (|FFT|)")
ax[0].set(xlabel="index i", ylabel="singular value $s_i$", title="spectra (1024 coordinates)", ylim=(1e-6, 2))
ax[0].legend(fontsize=7)
for std in [0.5, 1.0, 1.5, 2.0]:
    s = make_problem("gaussian_blur", x_glyph[:1], std=std).op.svd().s[0].sort(descending=True).values
    ax[1].semilogy(s, label=f"std {std} px")
ax[1].axhline(SIGMA_Y, color="k", ls="--", lw=1)
ax[1].text(10, SIGMA_Y * 1.3, "σ_y = noise level", fontsize=7)
ax[1].set(xlabel="index i", title="Gaussian blur: wider kernel, faster decay", ylim=(1e-6, 2))
ax[1].legend(fontsize=7)
fig.tight_layout();

# %%
s_blur = problems["gaussian_blur"].op.svd().s[0]
frac_below_noise = float((s_blur < SIGMA_Y).double().mean())
rank_sr4 = int((problems["sr4"].op.svd().s[0] > 0).sum())
assert rank_sr4 == 64                      # 1024 pixels, 64 measurements
assert 0.2 < frac_below_noise < 0.6        # a large share of the blur's spectrum is under the noise

# %% tags=["nbval-check-output"]
print(f"SR×4 rank: {rank_sr4} of 1024; Gaussian blur coordinates with s_i < σ_y: {frac_below_noise:.0%}")

# %% [markdown]
# ## 3 · Noise models
#
# All noise is in **[-1, 1] image units**: `sigma_y = 0.05` is a standard deviation of 0.05 on
# images in [-1, 1] (DPS, DAPS, DCDP, DPG, DDiff). DDRM, DDNM, ΠGDM, RED-diff, HRDIS, DDC and
# DiffPIR quote σ in [0, 1] units, so their "0.05" is `sigma_y = 0.1` here.
#
# - **Gaussian**: $y = A(x) + \sigma_y n$.
# - **Poisson** (DPS's convention): photon counts $\mathrm{Poisson}(255\,\lambda\,x_{01})$ with
#   $x_{01} = (A x + 1)/2$ — the noise grows with brightness.
# - **Speckle** (the Gamma definition): $y_{01} = x_{01}\,g$, $g\sim\Gamma(\ell, 1/\ell)$ — mean 1,
#   variance $1/\ell$ — multiplicative, worst on bright pixels; nothing is clipped.

# %%
noisy = [make_problem("denoise", x_photo, sigma_y=0.1, seed=SEED),
         make_problem("denoise", x_photo, noise="poisson", rate=0.1, seed=SEED),
         make_problem("denoise", x_photo, noise="speckle", looks=4, seed=SEED)]
names = ["gaussian σ_y=0.1", "poisson rate 0.1", "speckle ℓ=4"]
fig, ax = plt.subplots(1, 4, figsize=(11, 2.8))
ax[0].imshow(invlab.viz.to_numpy_image(x_photo[0]), cmap="gray")
ax[0].set_title("x")
for a, p, n in zip(ax[1:], noisy, names):
    a.imshow(invlab.viz.to_numpy_image(p.y[0]), cmap="gray")
    a.set_title(n, fontsize=9)
for a in ax:
    a.axis("off")
fig.tight_layout();

# %% [markdown]
# The noise's standard deviation as a function of the clean intensity shows the difference:

# %%
levels = torch.linspace(-0.9, 0.9, 10, dtype=torch.float64)
flat = levels.view(10, 1, 1, 1).expand(10, 1, 64, 64).contiguous()
stds = {}
for n, kw in zip(names, [dict(sigma_y=0.1), dict(noise="poisson", rate=0.1), dict(noise="speckle", looks=4)]):
    p = make_problem("denoise", flat, seed=SEED, **kw)
    stds[n] = (p.y - flat).flatten(1).std(1)
fig, ax = plt.subplots(figsize=(5, 3))
for n, s in stds.items():
    ax.plot(levels, s, "o-", label=n)
ax.set(xlabel="clean value", ylabel="noise std", title="signal-dependent noise")
ax.legend(fontsize=8);

# %%
assert torch.allclose(stds[names[0]], torch.full((10,), 0.1, dtype=torch.float64), atol=0.01)
assert stds[names[1]][-1] > 2 * stds[names[1]][0]      # Poisson: brighter is noisier
assert stds[names[2]][-1] > 5 * stds[names[2]][0]      # speckle: multiplicative

# %% [markdown]
# ## 4 · Naive inversions, and why they fail
#
# Three "solvers" that use no prior at all:
#
# 1. the **adjoint** $A^\top y$ — a back-projection, not an inverse;
# 2. the **pseudo-inverse** $A^+ y$ — the minimum-norm solution of $\min_x\|Ax-y\|^2$: it sets every
#    null-space coordinate to 0 and divides each measured one by $s_i$, so noise on small $s_i$
#    explodes;
# 3. **Tikhonov** least squares $\min_x \|Ax-y\|^2 + \mu\|x\|^2$, solved by conjugate gradient on
#    $(A^\top A + \mu I)x = A^\top y$ (`invlab.operators.least_squares`): it damps small singular
#    values by $s_i/(s_i^2+\mu)$ instead of $1/s_i$.
#
# Written out, conjugate gradient on the normal equations is a few lines (the package's version is
# batched, one CG per image):

# %%
def tikhonov_cg(op, y, mu, iters=100):
    """min ‖Ax − y‖² + μ‖x‖² by conjugate gradient on (AᵀA + μI) x = Aᵀy."""
    b = op.T(y)
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = (r * r).sum()
    for _ in range(iters):
        Ap = op.T(op(p)) + mu * p
        alpha = rr / (p * Ap).sum()
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = (r * r).sum()
        if rr_new < 1e-20:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


blur = make_problem("gaussian_blur", x_photo.double(), sigma_y=SIGMA_Y, seed=SEED)
ours = tikhonov_cg(blur.op, blur.y, mu=0.01)
torch.testing.assert_close(ours, least_squares(blur.op, blur.y, damp=0.01, iters=100), atol=1e-6, rtol=0)

# %% [markdown]
# Now all three on three tasks, with noise $\sigma_y = 0.05$:

# %%
def naive(problem, mu):
    y, op = problem.y.double(), problem.op
    return {"Aᵀy": op.T(y), "A⁺y": op.pinv(y), f"Tikhonov μ={mu}": least_squares(op, y, damp=mu, iters=200)}


rows, table = [], {}
for t, mu in [("sr4", 0.01), ("gaussian_blur", 0.02), ("random_inpaint", 0.01)]:
    p = make_problem(t, x_photo.double(), sigma_y=SIGMA_Y, seed=SEED)
    est = naive(p, mu)
    table[t] = {k: float(metrics.psnr(v.clamp(-1, 1), p.x.double())) for k, v in est.items()}
    rows += [p.x[0], measurement_preview(p)[0]] + [v[0] for v in est.values()]
titles = []
for t in table:
    titles += [t, "y"] + [f"{k}\n{v:.1f} dB" for k, v in table[t].items()]
show_images(rows, titles, ncols=5, size=1.8);

# %%
for t, row in table.items():
    print(f"{t:<15}" + "  ".join(f"{k.split(' ')[0]} {v:5.1f} dB" for k, v in row.items()))

# %% [markdown]
# What the numbers say:
# - **SR×4**: $A^+y$ replicates each pixel into a 4×4 block (blocky, but the best of the three by
#   PSNR); the 960 null-space coordinates are simply zero. No amount of damping brings them back.
# - **Gaussian blur**: $A^+y$ divides noise by singular values as small as $10^{-4}$ — the result
#   is pure noise. Tikhonov trades that for blur.
# - **Random inpainting**: the missing 70 % of pixels are in the null space; every linear method
#   leaves them at 0.

# %%
assert table["gaussian_blur"]["A⁺y"] < 5                    # noise amplification destroys A⁺y
assert table["gaussian_blur"]["Tikhonov μ=0.02"] > table["gaussian_blur"]["A⁺y"] + 10
assert table["sr4"]["A⁺y"] > table["sr4"]["Aᵀy"]             # the adjoint is not an inverse
assert table["random_inpaint"]["A⁺y"] < 15                   # the null space stays empty

# %% [markdown]
# ### The Tikhonov trade-off
# The damping $\mu$ is the simplest *prior* (small images are likely). Too little and noise
# explodes, too much and everything is smoothed away; the best $\mu$ is still far from good.

# %%
mus = [1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]
curve = [float(metrics.psnr(least_squares(blur.op, blur.y, damp=m, iters=300).clamp(-1, 1), blur.x.double()))
         for m in mus]
fig, ax = plt.subplots(figsize=(5, 3))
ax.semilogx(mus, curve, "o-")
ax.set(xlabel="damping μ", ylabel="PSNR (dB)", title="Tikhonov on Gaussian blur, σ_y = 0.05");

# %%
best = max(range(len(mus)), key=lambda i: curve[i])
assert 0 < best < len(mus) - 1          # an interior optimum: both extremes lose
assert curve[best] - min(curve[0], curve[-1]) > 3

# %% [markdown]
# ## 5 · Play: a widget over the task and the noise
# Pick a task, its main parameter and σ_y; see the measurement, the pseudo-inverse (where there is
# one) and the PSNR. The static call first is what the test checks.

# %%
MAIN_PARAM = {"box_inpaint": ("box", [4, 8, 12, 16, 20, 24]), "random_inpaint": ("p", [0.3, 0.5, 0.7, 0.9, 0.95]),
              "sr4": ("factor", [2, 4, 8]), "gaussian_blur": ("std", [0.5, 1.0, 1.5, 2.0, 3.0]),
              "motion_blur": ("intensity", [0.1, 0.3, 0.5, 0.8]), "hdr": ("scale", [1.0, 1.5, 2.0, 3.0, 4.0]),
              "jpeg10": ("quality", [5, 10, 25, 50, 90])}


def explore(task="sr4", value=4, sigma_y=SIGMA_Y, image="camera"):
    x = invlab.test_image(image, 64) if image != "glyph" else x_glyph[:1]
    key = MAIN_PARAM[task][0]
    p = make_problem(task, x, sigma_y=sigma_y, seed=SEED, **{key: value})
    has_pinv = hasattr(p.op, "pinv")
    inv = p.op.pinv(p.y) if has_pinv else p.y
    q = float(metrics.psnr(inv.clamp(-1, 1), p.x))
    show_images([p.x[0], measurement_preview(p)[0], inv[0]],
                ["x", f"y ({task}, {key}={value:g}, σ_y={sigma_y:.3g})",
                 f"A⁺y: {q:.1f} dB" if has_pinv else f"no A⁺: y itself, {q:.1f} dB"], size=2.2)
    return q


q_static = explore("sr4", 4, SIGMA_Y, "camera")
assert 20 < q_static < 30

# %% tags=["nbval-ignore-output"]
import ipywidgets as w

task_w = w.Dropdown(options=list(MAIN_PARAM), value="sr4", description="task")
value_w = w.SelectionSlider(options=MAIN_PARAM["sr4"][1], value=4, description="param")
task_w.observe(lambda ch: setattr(value_w, "options", MAIN_PARAM[ch["new"]][1]), names="value")
def explore_panel(task, value, sigma_y, image):
    explore(task, value, sigma_y, image)          # the figure only: the number it returns stays out of the output


w.interact(explore_panel, task=task_w, value=value_w,
           sigma_y=w.FloatLogSlider(value=SIGMA_Y, base=10, min=-3, max=-0.5, description="σ_y",
                                    readout_format=".3g"),
           image=w.Dropdown(options=["camera", "moon", "coins", "glyph"], value="camera"));

# %% [markdown]
# ## What the papers assume, and what we see here
# - The papers' operators are defined on 256×256 images; we scaled sizes with the side and say so
#   in `invlab.task_defaults`. Two choices differ from some papers and are stated where they apply:
#   **both blurs use circular boundaries** (FFT-diagonalisable, exact adjoints; DPS pads by
#   reflection, DiffPIR uses circular), and **JPEG does not subsample chroma**.
# - DPS's bicubic "transpose" is nearest-neighbour upsampling; ours is the true adjoint (it passes
#   the dot-product test above), which matters for every gradient-based solver.
# - Phase retrieval's measurements are invariant to a sign flip and a 180° rotation (and shifts):
#   papers report the best of several runs, an oracle. We will say so whenever we do the same.
#
# ## Exercises
# Each exercise has a hint; worked solutions, executed, are in
# [01 · Solutions to the exercises](01_forward_operators_solutions.ipynb).
#
# 1. Compose operators: `sr = invlab.make_operator("sr2", (1, 32, 32)); blur = ...; A = sr @ blur`.
#    Check its adjoint with the dot-product test. Does $A^+$ exist in closed form?
#    <details><summary>Hint</summary>Reuse the dot-product test of section 2 on `A`; `A.has_svd` tells you whether the package has a spectral form. A 32×32 operator is small enough to write as a dense matrix (apply it to the 1024 pixel basis images): compare `A.pinv` with `torch.linalg.pinv`, look at its rank, and ask whether AAᵀ is shift-invariant on the low-resolution grid.</details>
#
# 2. For SR×4 with σ_y = 0, show that $A^+y$ is the *minimum-norm* solution: add any null-space
#    vector $v - A^+Av$ to it and check the residual stays 0 while the norm grows.
#    <details><summary>Hint</summary>Draw a few random v, form n = v − A⁺(Av) with `op.pinv` and `op`, and print ‖A(A⁺y + n) − y‖ and ‖A⁺y + n‖. The norms should add as squares, ‖A⁺y‖² + ‖n‖², because A⁺y lies in the range of Aᵀ.</details>
#
# 3. Find the Tikhonov μ that maximises PSNR for σ_y ∈ {0.01, 0.05, 0.2}. How does it scale?
#    <details><summary>Hint</summary>Sweep μ on a log grid as in the Tikhonov trade-off above, for each σ_y, and fit the slope of log μ* against log σ_y. For the blur, `op.prox(0, y, 1/μ)` gives the same minimiser as `least_squares` in closed form, so a fine grid is cheap. Compare with white-noise images, where the Wiener filter predicts μ = σ_y²/τ².</details>
#
# 4. Poisson noise at `rate=0.05`: how does the pseudo-inverse's error change with brightness?
#    <details><summary>Hint</summary>Use flat images at several levels as in section 3 and an operator whose A⁺ only copies measurements (SR×4), so the error of A⁺y is the noise itself. Compare its RMSE with 2√(x₀₁/(255·rate)), and look at the brightest levels, where `y` is clipped to [-1, 1].</details>
#
# ## Further reading
# All references, with venues, arXiv ids and official code, are on the course's references page,
# [docs/references.md](../docs/references.md); the notebooks cite them by the key in brackets.
# - [Hansen] Hansen, *Discrete Inverse Problems: Insight and Algorithms* (SIAM 2010) — SVD and
#   regularisation.
# - [DDRM] Kawar et al., *Denoising Diffusion Restoration Models* (NeurIPS 2022) — the SVD view used
#   by spectral solvers.
# - [DPS] and [DAPS] define the benchmark operators (box inpainting, motion and Gaussian blur, phase
#   retrieval); [Palette] the free-form masks.
# - Next: **02 · diffusion priors** — the prior that fills the null space.
