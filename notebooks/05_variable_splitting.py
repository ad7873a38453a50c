# %% [markdown]
# # 05 · Variable splitting: PnP-ADMM, DiffPIR, DDiff (dual ascent), DAPS
#
# Guidance (notebooks 03–04) pushes a sampler towards the data with a gradient through the network.
# Splitting methods instead **alternate** two easy problems — "agree with the data" and "look like
# an image" — and never backpropagate through the network. This notebook builds them up from
# plain optimisation to DDiff, the dual-ascent diffusion solver of [DDiff].
#
# **You will learn**
# - half-quadratic splitting (HQS) and ADMM on a two-line quadratic, and what the dual variable buys;
# - plug-and-play priors, and why a diffusion denoiser applied *off* its noise manifold fails;
# - DDiff derived and written out, then checked against the package;
# - the paper's ablation (DDiff, DDiff-HQS, Diff-PnP-ADMM, Diff-PnP-HQS) reproduced on glyphs;
# - noise robustness (DDiff vs DAPS vs DPS) and the residual $\|y-A\hat x\|^2/\dim y$ against
#   $\sigma_y^2$ as a hallucination gauge.

# %% [markdown]
# ## Parameters

# %%
PRIOR = "glyphs32"   # on a GPU: "google/ddpm-ema-celebahq-256"
SEED = 0
N_GLYPHS = 16        # test glyphs in the ablation
SIGMA_Y = 0.05       # [-1, 1] units
STEPS = 100          # DDiff iterations (= NFE); the paper runs 1000

# %%
import matplotlib.pyplot as plt
import torch

import invlab
from IPython.display import Markdown
from invlab import metrics
from invlab.solvers import SOLVERS, defaults
from invlab.solvers.guidance import paper_scale
from invlab.solvers.splitting import renoise, x_update, z_update
from invlab.diffusion import timesteps
from invlab.viz import show_images

device = invlab.setup_notebook(seed=SEED)
prior = invlab.load_prior(PRIOR, device=device)
x_true, labels = invlab.glyphs(N_GLYPHS, split="test", seed=SEED)
x_true = x_true.to(device)


def gen(seed=SEED):
    return torch.Generator().manual_seed(seed)


# %% [markdown]
# ## 1 · Splitting, from the optimisation side
#
# MAP estimation minimises $f(x) + g(x)$: a data term $f(x) = \tfrac12\|Ax - y\|^2$ and a prior
# term $g$. Split the variable, $\min f(x) + g(z)$ subject to $x = z$, and alternate:
#
# - **HQS** penalises the disagreement, $\tfrac\rho2\|x - z\|^2$: $x \leftarrow \operatorname{prox}_{f/\rho}(z)$,
#   $z \leftarrow \operatorname{prox}_{g/\rho}(x)$. For a fixed $\rho$ it solves a *relaxed* problem.
# - **ADMM** adds a scaled dual variable $u$ (the running sum of disagreements):
#   $x \leftarrow \operatorname{prox}_{f/\rho}(z - u)$, $z \leftarrow \operatorname{prox}_{g/\rho}(x + u)$,
#   $u \leftarrow u + x - z$ — and converges to the true minimiser at any fixed $\rho$.
#
# A two-dimensional example: one measurement $y = x_1 + 0.6x_2$, a Gaussian prior
# $g(z) = \tfrac12 (z-m)^\top P (z-m)$, both proximal steps in closed form.

# %%
A = torch.tensor([[1.0, 0.6]], dtype=torch.float64)
y0 = torch.tensor([1.2], dtype=torch.float64)
P = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
m = torch.tensor([-0.5, 0.2], dtype=torch.float64)
I2 = torch.eye(2, dtype=torch.float64)
x_map = torch.linalg.solve(A.T @ A + P, A.T @ y0 + P @ m)          # the exact minimiser


def split_path(rho, iters=60, dual=True):
    z, u, path = m.clone(), torch.zeros(2, dtype=torch.float64), []
    for _ in range(iters):
        x = torch.linalg.solve(A.T @ A + rho * I2, A.T @ y0 + rho * (z - u))   # prox of f
        z = torch.linalg.solve(P + rho * I2, P @ m + rho * (x + u))             # prox of g
        if dual:
            u = u + x - z
        path.append(x)
    return torch.stack(path)


hqs_path, admm_path = split_path(1.0, dual=False), split_path(1.0)
lin = torch.linspace(-1.5, 2.0, 101, dtype=torch.float64)
G = torch.stack(torch.meshgrid(lin, lin, indexing="xy"), -1)
obj = 0.5 * ((G @ A.T)[..., 0] - y0) ** 2 + 0.5 * torch.einsum("...i,ij,...j->...", G - m, P, G - m)
fig, ax = plt.subplots(figsize=(5, 4.5))
ax.contour(lin, lin, obj, levels=25, cmap="viridis", linewidths=0.7)
ax.plot(hqs_path[:, 0], hqs_path[:, 1], ".-", label="HQS (ρ = 1)")
ax.plot(admm_path[:, 0], admm_path[:, 1], ".-", label="ADMM (ρ = 1)")
ax.plot(*x_map, "k*", ms=12, label="minimiser")
ax.set(aspect="equal", title="f + g and the x-iterates")
ax.legend(fontsize=8);

# %%
err_hqs, err_admm = float((hqs_path[-1] - x_map).norm()), float((admm_path[-1] - x_map).norm())
print(f"after 60 iterations: HQS off by {err_hqs:.3f}, ADMM off by {err_admm:.1e}")
assert err_admm < 1e-6 and err_hqs > 0.05       # the dual variable removes HQS's bias

# %% [markdown]
# ## 2 · Plug-and-play priors, and the diffusion model as a denoiser
#
# The $z$-step $\operatorname{prox}_{g/\rho}$ is a *denoiser* (MAP denoising at noise level
# $1/\sqrt\rho$). Plug-and-play replaces it by any good denoiser $D_\sigma$ — here the diffusion
# model: to denoise $v$ at level $\sigma$, pick $t$ with $\sqrt{(1-\bar\alpha_t)/\bar\alpha_t}\approx\sigma$,
# feed $\sqrt{\bar\alpha_t}\,v$, return Tweedie's $\hat x_0$ (`pnp_admm`, with $\sigma$ decreasing).
#
# The catch: the network only knows inputs that look like $\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\varepsilon$
# with *Gaussian* $\varepsilon$. The error of $A^+y$ or of a data step is structured, not Gaussian —
# off that "noise manifold" the denoiser does not know what to do. **DDiff** keeps the iterate on
# the manifold by *re-noising* $x + u$ with fresh Gaussian noise after every data step:
#
# 1. $z = \hat x_0(x_t)$ (clamped) — the prior step, Tweedie on the manifold;
# 2. $x = (z - u) - \gamma_t\, g/\|g\|$, $g = \nabla\tfrac12\|y - A(z-u)\|^2$ — one normalised
#    linearised data step ($\gamma_t = 3.3\gamma_0$ while $t > t_\gamma = 90$, then $0.1\gamma_0$);
# 3. $x_{t-1} = \sqrt{\bar\alpha_{t-1}}(x + u) + \sqrt{1-\bar\alpha_{t-1}}\,n$ — re-noising ("full"; blurs
#    use a DDPM-type split that keeps part of $\hat\varepsilon$);
# 4. $u \leftarrow u + x - z$ — dual ascent.
#
# One network evaluation per iteration, no backpropagation. Written out with the package's named
# helpers, then checked against `SOLVERS["ddiff"]`:

# %%
p4 = invlab.make_problem("sr4", x_true[:4], sigma_y=SIGMA_Y, seed=SEED)


def ddiff_by_hand(problem, prior, steps, gamma0, generator, t_gamma=90, a=3.3, b=0.1, t0=1):
    sched = prior.schedule
    grid = timesteps(prior.T, steps, "respaced").tolist()
    x_t = torch.randn((problem.batch_size,) + tuple(prior.image_shape), generator=generator)
    u = torch.zeros_like(x_t)
    for i, t in enumerate(grid):
        s = grid[i + 1] if i + 1 < len(grid) else -1
        with torch.no_grad():
            z = z_update(prior, x_t, t)                                      # 1. prior step
        x = x_update(problem, z - u, gamma0 * (a if t > t_gamma else b))   # 2. data step
        if s < 0:
            return x + u
        n = torch.randn(x.shape, generator=generator) if t > t0 else torch.zeros_like(x)
        x_t = renoise(sched, x_t, x, u, t, s, "full", n)                     # 3. re-noise x + u
        u = u + x - z                                                        # 4. dual ascent


gamma0 = SOLVERS["ddiff"](p4, prior, steps=2, generator=gen()).info["gamma0"]    # the default, scaled to 32×32
mine = ddiff_by_hand(p4, prior, 20, gamma0, gen())
pkg = SOLVERS["ddiff"](p4, prior, steps=20, generator=gen())
torch.testing.assert_close(mine, pkg.x)
paper_g0 = next(r["paper"] for r in defaults.table("ddiff") if r["where"] == "*" and r["parameter"] == "gamma0")
print(f"γ0 = {gamma0:.2f}: the default for SR (tuned on held-out glyphs) × √(D_ours/D_paper) = {paper_scale(p4):.3f}; "
      f"the paper's {paper_g0:g} on 3×256×256 would give {paper_g0 * paper_scale(p4):.2f}. NFE {pkg.nfe}, VJP {pkg.vjp}")

# %% [markdown]
# ## 3 · The paper's ablation, on glyphs
#
# Table 2 of the paper: **DDiff** (dual + re-noising), **DDiff-HQS** (no dual, fixed normalised
# step), **Diff-PnP-ADMM** and **Diff-PnP-HQS** (no re-noising: the next iterate is
# $\sqrt{\bar\alpha_s}(x+u)$, the model used as a one-step denoiser). 16 test glyphs, SR×4 and
# Gaussian blur, $\sigma_y = 0.05$, 100 iterations each, every variant at the paper's step sizes
# scaled to our image size.

# %%
# [DDiff, Table 5]: γ_0 on FFHQ 3×256×256 at σ_y = 0.05 (the package's SR default is tuned higher)
PAPER_GAMMA0 = {"sr4": 18.0, "gaussian_blur": 2.9}

# %%
VARIANTS = {"DDiff": "ddiff", "DDiff-HQS": "hqs", "Diff-PnP-ADMM": "pnp_admm", "Diff-PnP-HQS": "pnp_hqs"}
ablation, ab_results = {}, {}
for task in ("sr4", "gaussian_blur"):
    p = invlab.make_problem(task, x_true, sigma_y=SIGMA_Y, seed=SEED)
    for label, variant in VARIANTS.items():
        r = SOLVERS["ddiff"](p, prior, steps=STEPS, variant=variant, gamma0=PAPER_GAMMA0[task] * paper_scale(p),
                             generator=gen())
        ab_results[task, label] = r
        ablation[task, label] = metrics.scorecard(p, r, labels)
print(f"{'task':14s} {'variant':14s} {'PSNR':>6s} {'SSIM':>5s} {'acc':>5s} {'resid/σ_y':>9s}")
for (task, label), s in ablation.items():
    print(f"{task:14s} {label:14s} {s['psnr']:6.2f} {s['ssim']:5.2f} {s['accuracy']:5.2f} {s['residual'] / SIGMA_Y:9.2f}")

# %%
for task in ("sr4", "gaussian_blur"):
    show_images([x_true[3]] + [ab_results[task, v].x[3].clamp(-1, 1) for v in VARIANTS],
                ["truth"] + [f"{v}\n{ablation[task, v]['psnr']:.1f} dB" for v in VARIANTS], ncols=5, size=1.5,
                suptitle=task)

# %%
for task in ("sr4", "gaussian_blur"):
    q = {v: ablation[task, v]["psnr"] for v in VARIANTS}
    assert q["DDiff"] > q["DDiff-HQS"] + 2                                            # the dual helps
    assert q["DDiff-HQS"] > max(q["Diff-PnP-ADMM"], q["Diff-PnP-HQS"]) + 1            # re-noising helps
    assert ablation[task, "DDiff"]["accuracy"] >= max(ablation[task, v]["accuracy"] for v in VARIANTS)

# %% [markdown]
# The paper's order holds on both tasks: DDiff > DDiff-HQS > the two variants without re-noising,
# which stay far from the data (their residual is several times $\sigma_y$: the denoiser fed
# off-manifold inputs undoes the data steps). One caveat we measured while tuning: with a
# larger step ($\gamma_0 = 5$ on SR×4, 100 iterations) Diff-PnP-ADMM *overtakes* DDiff
# (26.7 vs 24.9 dB on 8 glyphs) — the collapse of the naive variant depends on the step size.

# %% [markdown]
# ## 4 · Noise robustness, and the residual as a hallucination gauge
#
# PSNR against $\sigma_y$ for DDiff, DAPS and DPS (SR×4, 8 glyphs). DAPS runs with the paper's
# likelihood temperature $\tau = 0.01$ (fixed, whatever $\sigma_y$) at 100 NFE (50 annealing
# levels × 2 ODE steps, 20 Langevin steps each; the paper uses 1000 NFE).
# The residual $\|y - A\hat x\|^2/\dim y$ should be close to $\sigma_y^2$: much lower means the
# solver fitted the noise (hallucinated detail), much higher that it ignored the data.

# %%
SIGMAS = [0.01, 0.05, 0.2, 0.5]
x8, l8 = x_true[:8], labels[:8]
DAPS_KW = dict(annealing_steps=50, ode_steps=2, langevin_steps=20)
robust = {}
for sy in SIGMAS:
    p = invlab.make_problem("sr4", x8, sigma_y=sy, seed=SEED)
    runs = {"DDiff": SOLVERS["ddiff"](p, prior, steps=STEPS, generator=gen()),
            "DAPS τ=0.01": SOLVERS["daps"](p, prior, **DAPS_KW, generator=gen()),
            "DPS": SOLVERS["dps"](p, prior, steps=STEPS, zeta=6.0, generator=gen())}
    if sy == SIGMA_Y:
        runs["DiffPIR"] = SOLVERS["diffpir"](p, prior, generator=gen())
    for name, r in runs.items():
        robust[name, sy] = metrics.scorecard(p, r, l8)
fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
for name in ("DDiff", "DAPS τ=0.01", "DPS"):
    ax[0].semilogx(SIGMAS, [robust[name, s]["psnr"] for s in SIGMAS], "o-", label=name)
    ax[1].semilogx(SIGMAS, [robust[name, s]["residual"] ** 2 / s ** 2 for s in SIGMAS], "o-", label=name)
ax[0].set(xlabel="σ_y", ylabel="PSNR (dB)", title="noise robustness, SR×4")
ax[1].axhline(1.0, color="gray", ls="--")
ax[1].set(xlabel="σ_y", ylabel="residual / σ_y²", yscale="log", title="hallucination gauge (1 is ideal)")
ax[0].legend(fontsize=8)
fig.tight_layout()
for sy in SIGMAS:
    print(f"σ_y={sy:<5}", "  ".join(f"{n}: {robust[n, sy]['psnr']:.1f} dB" for n in ("DDiff", "DAPS τ=0.01", "DPS")))

# %%
gauge = {n: abs(torch.log(torch.tensor(robust[n, SIGMA_Y]["residual"] ** 2 / SIGMA_Y ** 2)).item())
         for n in ("DDiff", "DPS", "DiffPIR")}
print("|log(residual/σ_y²)| at σ_y = 0.05:", {k: round(v, 2) for k, v in gauge.items()})
assert max(gauge.values()) < 1.0                        # all three explain y to within a factor e of σ_y²
closest = min(gauge, key=gauge.get)
above_daps = {sy: robust["DDiff", sy]["psnr"] > robust["DAPS τ=0.01", sy]["psnr"] for sy in (0.2, 0.5)}
drop = {n: robust[n, 0.05]["psnr"] - robust[n, 0.5]["psnr"] for n in ("DDiff", "DAPS τ=0.01")}
dps_ahead = [sy for sy in SIGMAS if robust["DPS", sy]["psnr"] > robust["DDiff", sy]["psnr"]]
print("PSNR lost from σ_y = 0.05 to 0.5:", {k: round(v, 1) for k, v in drop.items()})
print("DDiff above DAPS at σ_y = 0.2, 0.5:", above_daps, "| DPS ahead of DDiff at σ_y =", dps_ahead)

# %% [markdown]
# **What we measured** (the sentences below are built from the numbers printed above):

# %%
Markdown(
    f"- The residual gauge: all three solvers explain $y$ to within a factor $e$ of $\\sigma_y^2$; the "
    f"closest to 1 on these 8 glyphs is **{closest}** (|log| = {gauge[closest]:.2f}), as the DDiff paper claims "
    f"for DDiff{'' if closest == 'DDiff' else ' — here it does not single DDiff out'}. On 8 glyphs this gauge is "
    f"fragile: read the order as this run's, not as a law.\n"
    f"- At high noise DDiff is {'above' if all(above_daps.values()) else 'not always above'} DAPS with the "
    f"paper's settings; from $\\sigma_y = 0.05$ to $0.5$ DDiff loses {drop['DDiff']:.1f} dB and DAPS "
    f"{drop['DAPS τ=0.01']:.1f} dB.\n"
    f"- DPS, which pays a backward pass per step, is ahead of DDiff in PSNR at "
    f"{len(dps_ahead)} of the {len(SIGMAS)} noise levels.")

# %% [markdown]
# Setting DAPS's $\tau$ to the true $\sigma_y$ does not rescue it at this budget: with the paper's
# Langevin step sizes the data term then pulls too weakly — the paper's $\tau = 0.01$ acts as a
# tuned step, not as a noise model (try `tau=SIGMA_Y` in the cell above).

# %% [markdown]
# ## Your turn: $\gamma_0$, $t_\gamma$, and the dual on/off

# %%
p1 = invlab.make_problem("sr4", x_true[:4], sigma_y=SIGMA_Y, seed=SEED)


def show_ddiff(gamma0=1.3, t_gamma=90, dual=True, steps=50):
    r = SOLVERS["ddiff"](p1, prior, steps=steps, gamma0=gamma0, t_gamma=t_gamma,
                         variant="ddiff" if dual else "hqs", generator=gen())
    s = metrics.scorecard(p1, r, labels[:4])
    show_images(list(r.x.clamp(-1, 1)), [f"{q:.1f} dB" for q in metrics.psnr(r.x.clamp(-1, 1), x_true[:4])],
                ncols=4, size=1.4, suptitle=f"γ0={gamma0}, t_γ={t_gamma}, dual={'on' if dual else 'off'}: "
                                            f"{s['psnr']:.1f} dB, residual/σ_y {s['residual'] / SIGMA_Y:.2f}")
    return s["psnr"]


assert show_ddiff() > show_ddiff(dual=False) + 2

# %% tags=["nbval-ignore-output"]
import ipywidgets as w

w.interact(show_ddiff, gamma0=w.FloatLogSlider(1.3, base=10, min=-1, max=1.5), t_gamma=w.IntSlider(90, 0, 999, 10),
           dual=w.Checkbox(True), steps=w.IntSlider(50, 10, 250, 10));

# %% [markdown]
# ## What the paper claims, what we see here
# - *Dual ascent plus re-noising beats either alone, and the naive Diff-PnP variants collapse*:
#   confirmed on SR×4 and Gaussian blur at the paper's (scaled) step sizes — with the caveat that
#   a larger step rescues Diff-PnP-ADMM on SR×4.
# - *The residual stays near $\sigma_y^2$ (no hallucination)*: near it, yes; closer than DPS and
#   DiffPIR, no — not on the shipped prior.
# - *Robust to heavy noise, better than DAPS*: above DAPS at $\sigma_y \ge 0.2$ with DAPS's paper
#   settings; the drop from low noise is larger for DDiff. Not better than DPS here (at half the
#   cost per iteration).
# - DDiff is a MAP method: on the exact mixture (tests/test_solvers_gmm.py) its outputs cluster at
#   posterior modes rather than spreading like posterior samples — good for PSNR, not for
#   uncertainty.
#
# ## Exercises
# 1. Run DDiff with 250 and 1000 iterations on SR×4. How much PSNR does the paper's full NFE buy?
# 2. Switch the re-noising rule (`renoise_rule="ddpm"`) on SR×4 and `"full"` on the blur. Why does
#    the paper pick different rules per task?
# 3. Implement DiffPIR as "DDiff without $u$, unnormalised step $\bar\sigma_t^2/(2\lambda\sigma_n^2)$"
#    and compare with `SOLVERS["diffpir"]`.
# 4. Give DAPS its full 1000 NFE at $\sigma_y = 0.2$. Does it catch up with DDiff?
#
# ## Further reading
# All references, with venues, arXiv ids and official code, are on the course's references page,
# [docs/references.md](../docs/references.md); the notebooks cite them by the key in brackets.
# - [DDiff] Kim, Levy, Wetzstein, *Dual Ascent Diffusion for Inverse Problems* (CVPR 2026),
#   Algorithm 1.
# - [ADMM] Boyd et al., *Distributed Optimization and Statistical Learning via the Alternating
#   Direction Method of Multipliers* (2011).
# - [PnP] Venkatakrishnan, Bouman, Wohlberg, *Plug-and-Play Priors for Model Based Reconstruction*
#   (GlobalSIP 2013); [DPIR] Zhang et al. (TPAMI 2022) for the penalty schedule of PnP-ADMM.
# - [DiffPIR] Zhu et al., *Denoising Diffusion Models for Plug-and-Play Image Restoration*
#   (CVPRW 2023); [DAPS] Zhang et al., *Improving Diffusion Inverse Problem Solving with Decoupled
#   Noise Annealing* (CVPR 2025), with [EDM]'s noise levels.
# - Next: **06 · diffusion purification (DCDP)**.
