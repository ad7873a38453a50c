# %% [markdown]
# # 02 · Solutions to the exercises
#
# Worked, executed solutions to the exercises of [02 · Diffusion priors](02_diffusion_priors.ipynb);
# each solution restates its exercise first. Sizes are kept small enough for a CPU in seconds;
# where an exercise asks for more, the text says which parameter gives the full size.

# %% [markdown]
# ## Parameters

# %%
PRIOR = "glyphs32"
SEED = 0
N_ETA = 16                          # exercise 2: DDIM samples per η (the chapter's benchmark uses 128)
TRAIN_STEPS = 600                   # exercises 5–7: one training run of the tiny MLP (the chapter: 3500)
SNAPSHOTS = (100, 300, 600)         # exercise 5: its EMA weights after these steps (full size: 1000, 2500, 5000)
BLIND_STEPS = 500                   # exercise 6: training steps of the network without a time input
N_DPS = 1000                        # exercise 7: posterior samples per DPS run

# %%
import copy
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import Markdown

import invlab
from invlab import metrics
from invlab.diffusion import GaussianMixturePrior, Prior, gmm2d
from invlab.diffusion.gmm import GaussianMixture
from invlab.gmm_bench import gmm2d_problem
from invlab.stats import paired_difference
from invlab.training import EMA, step_generator
from invlab.viz import show_images

device = invlab.setup_notebook(seed=SEED)
prior = invlab.load_prior(PRIOR, device=device)
sched = prior.schedule
x_test, y_test = invlab.glyphs(256, split="test")
x_test = x_test.to(device)
mix = GaussianMixturePrior(gmm2d(), name="gmm2d")


def gen(seed=SEED):
    return torch.Generator().manual_seed(seed)


# %% [markdown]
# ## Exercise 1 · Tweedie's error against $t$
# *Plot the error of Tweedie's estimate against $t$ for 64 test glyphs. Where does it saturate?*
#
# One network pass per $t$ on the same 64 glyphs and the same noise. Two yardsticks: the error
# of the best *constant* guess, the mean training glyph, which is what the exact posterior mean
# $\mathbb E[x_0\mid x_t]$ tends to as $x_t$ forgets $x_0$; and the error of a random ±1 image.

# %%
x64 = x_test[:64]
eps64 = torch.randn(x64.shape, generator=gen()).to(x64)
ts_err = [50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 950, 999]
with torch.no_grad():
    tw_mse = torch.stack([((prior.x0(sched.noise(x64, t, eps64), t) - x64) ** 2).flatten(1).mean(1)
                          for t in ts_err])                                   # (len(ts_err), 64)
x_train, _ = invlab.glyphs(256, split="train")
mean_glyph = x_train.mean(0, keepdim=True).to(x64)
mse_mean_glyph = float(((mean_glyph - x64) ** 2).mean())
curve = tw_mse.mean(1)
fig, ax = plt.subplots(figsize=(5.5, 3.2))
ax.semilogy(ts_err, curve, "o-", label="Tweedie x̂₀ (network)")
ax.axhline(mse_mean_glyph, color="tab:green", ls="--", label="the mean training glyph")
ax.set(xlabel="t", ylabel="MSE to x₀ (per pixel)", title="error of x̂₀(x_t), 64 test glyphs")
ax.legend(fontsize=8);

# %%
err = dict(zip(ts_err, curve.tolist()))
t_reach = next(t for t in ts_err if err[t] >= 0.8 * mse_mean_glyph)
assert all(a < b for a, b in zip(curve[:8], curve[1:8]))                # rises steadily up to t = 700
assert 0.6 * mse_mean_glyph < err[700] < 1.2 * mse_mean_glyph              # levels off near the mean glyph…
assert err[999] > 3 * mse_mean_glyph                                       # …then the last steps blow up
Markdown(f"The error rises steadily, from {err[50]:.4f} at t = 50 to {err[700]:.3f} at t = 700, and levels off where "
         f"the posterior mean has forgotten the glyph: the mean training glyph scores {mse_mean_glyph:.3f}, and the "
         f"curve first reaches 80 % of that at t = {t_reach}. That is the saturation Tweedie predicts: once $x_t$ "
         "says nothing about $x_0$, $\\mathbb E[x_0\\mid x_t]$ is the data mean. In the last steps of the chain the measured "
         f"curve does *not* stay there: it climbs to {err[950]:.2f} at t = 950 and {err[999]:.2f} at t = 999. Tweedie's formula "
         f"divides by $\\sqrt{{\\bar\\alpha_t}}$ ({float(sched.ab(999)) ** 0.5:.3f} at t = 999), so the network's error in ε "
         f"is multiplied by $\\sqrt{{1-\\bar\\alpha_t}}/\\sqrt{{\\bar\\alpha_t}}$ = {((1 - float(sched.ab(999))) / float(sched.ab(999))) ** 0.5:.0f}, "
         "and the clamp to [-1, 1] turns the result into near-binary noise. The exact posterior mean saturates; "
         "the network's estimate of it is ill-conditioned at the very end of the chain, which is why the first "
         "frames of every solver's trajectory look like clipped noise.")

# %% [markdown]
# ## Exercise 2 · DDIM with $\eta \in \{0, 0.5, 1\}$
# *Sample with DDIM at η ∈ {0, 0.5, 1} and 20 steps. Which gives the lowest Fréchet distance?*
#
# `N_ETA` samples per η, all from the same starting noise $x_T$, so samples are paired by index
# across η; the three sets run as one batch through a written-out DDIM loop (`ddim_step` on the
# "leading" grid that `prior.sample` uses), one network pass per step for all three. η = 0 is then
# the deterministic update of `prior.sample(..., eta=0)` from the same $x_T$; for η > 0 each set draws its fresh noise from its own
# generator. The Fréchet distance is a set-level number; to see whether its differences mean
# anything at this size we bootstrap them over the paired samples (the same resampled indices for
# every η). The written-out distance is checked against `metrics.frechet_distance` once. Per
# sample, the classifier's top probability is a paired measure for `paired_difference`.

# %%
from invlab.diffusion import ddim_step, pairs, timesteps

ETAS = [0.0, 0.5, 1.0]
x = torch.randn((N_ETA,) + prior.image_shape, generator=gen(20)).to(device).repeat(len(ETAS), 1, 1, 1)
noise_gen = [gen(21 + i) for i in range(len(ETAS))]
with torch.no_grad():
    for t, s in pairs(timesteps(prior.T, 20, "leading")):
        eps, x0 = prior.eps_and_x0(x, t)
        if s < 0:
            x = x0
            break
        x = torch.cat([ddim_step(sched, x0[i * N_ETA:(i + 1) * N_ETA], eps[i * N_ETA:(i + 1) * N_ETA], t, s, eta,
                                 torch.randn((N_ETA,) + prior.image_shape, generator=noise_gen[i]).to(x)
                                 if eta > 0 else None)
                       for i, eta in enumerate(ETAS)])
samples_eta = dict(zip(ETAS, x.split(N_ETA)))
feat_ref = metrics.classifier_features(x_test)
feat = {eta: metrics.classifier_features(v) for eta, v in samples_eta.items()}


def frechet(fa, fb):
    """FID's formula on classifier features: ‖μa − μb‖² + Tr(Ca + Cb − 2 (Ca Cb)^½)."""
    ca, cb = torch.cov(fa.T), torch.cov(fb.T)
    ea, va = torch.linalg.eigh(ca)
    sa = va @ torch.diag(ea.clamp_min(0).sqrt()) @ va.T
    root = torch.linalg.eigvalsh(sa @ cb @ sa).clamp_min(0).sqrt().sum()
    return float(((fa.mean(0) - fb.mean(0)) ** 2).sum() + ca.trace() + cb.trace() - 2 * root)


fd = {eta: frechet(f, feat_ref) for eta, f in feat.items()}
assert abs(fd[0.0] - metrics.frechet_distance(samples_eta[0.0], x_test)) < 1e-6 * fd[0.0]
g_boot = gen(30)
boot = torch.tensor([[frechet(feat[eta][idx], feat_ref) for eta in ETAS]
                     for idx in (torch.randint(N_ETA, (N_ETA,), generator=g_boot) for _ in range(200))])
fd_ci = {(a, b): torch.quantile(boot[:, i] - boot[:, j], torch.tensor([0.025, 0.975], dtype=boot.dtype)).tolist()
         for (i, a), (j, b) in [((0, 0.0), (1, 0.5)), ((0, 0.0), (2, 1.0)), ((1, 0.5), (2, 1.0))]}
top = {eta: metrics.classifier_probs(v).max(1).values.double() for eta, v in samples_eta.items()}
conf_diff = {(a, b): paired_difference(top[a], top[b], generator=gen()) for a, b in ((0.0, 0.5), (0.0, 1.0))}
show_images(torch.cat([samples_eta[eta][:8] for eta in ETAS]),
            [f"η = {eta}" if i == 0 else "" for eta in ETAS for i in range(8)], ncols=8, size=1.0);

# %%
best_eta = min(fd, key=fd.get)
fd_holds_zero = [lo <= 0 <= hi for lo, hi in fd_ci.values()]
assert all(fd_holds_zero)                 # measured: at this size no Fréchet difference is resolved
fd_rows = "\n".join(f"- FD(η={a}) − FD(η={b}): {fd[a] - fd[b]:+.1f}, bootstrap 95 % interval "
                    f"{lo:+.1f} to {hi:+.1f}" for (a, b), (lo, hi) in fd_ci.items())
Markdown(f"Fréchet distance to the 256 test glyphs, {N_ETA} samples each, 20 steps: "
         + ", ".join(f"η = {eta}: {v:.1f}" for eta, v in fd.items())
         + f". The lowest is η = {best_eta}, but the paired bootstrap of the differences says not to trust that "
         f"ranking:\n\n{fd_rows}\n\nEvery interval holds zero: with {N_ETA} samples (in a {feat_ref.shape[1]}-dimensional "
         "feature space) the Fréchet distance cannot tell these three samplers apart. Per sample, the classifier's top "
         "probability, paired by starting noise: "
         + "; ".join(d.verdict(f"η = {a}", f"η = {b}", "", digits=3) for (a, b), d in conf_diff.items())
         + ". So the honest answer at this size is the point value above and no ranking. What η does: η = 0 follows "
         "the deterministic ODE path from $x_T$; η > 0 re-injects fresh noise at every jump, which lets a sample "
         "correct earlier errors but, with only 20 large jumps, leaves less time to remove the noise it adds. For "
         "the full-size comparison raise `N_ETA` to 128 or more (the chapter's benchmark size): the chapter's note "
         "holds here too, the Fréchet distance of small sets moves a lot between seeds.")

# %% [markdown]
# ## Exercise 3 · DDPM with 20 steps on `gmm2d`
# *Run DDPM with 20 steps on `gmm2d`: which clusters lose mass? Compare with the exact weights.*
#
# 4000 samples each from ancestral DDPM with 20 and with 200 steps (exact ε), every sample assigned
# to its most responsible component, as in the chapter. With $n$ samples a share $w$ has a
# binomial standard error $\sqrt{w(1-w)/n}$; we call a cluster short of mass when the share's
# 95 % interval lies wholly below its weight.

# %%
N_MIX = 4000


def shares(x):
    return torch.bincount(mix.mixture.responsibilities(x).argmax(1), minlength=6).double() / x.shape[0]


w = mix.mixture.weights
ddpm = {k: mix.sample(N_MIX, k, method="ddpm", generator=gen(11)) for k in (20, 200)}
share = {k: shares(x) for k, x in ddpm.items()}
half = 1.96 * (share[20] * (1 - share[20]) / N_MIX).sqrt()
loses = [k for k in range(6) if share[20][k] + half[k] < w[k]]
gains = [k for k in range(6) if share[20][k] - half[k] > w[k]]
centre = int(mix.mixture.means.norm(dim=1).argmin())
fig, ax = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 1.3]})
ax[0].scatter(ddpm[20][:, 0], ddpm[20][:, 1], s=1, alpha=0.3)
for k, m in enumerate(mix.mixture.means):
    ax[0].annotate(str(k), m.tolist(), color="tab:red", fontsize=10, weight="bold")
ax[0].set(title="DDPM-20 on gmm2d (component numbers in red)", aspect="equal", xlim=(-1.2, 1.2), ylim=(-1.2, 1.2))
for j, (lab, v) in enumerate((("weights", w), ("DDPM-20", share[20]), ("DDPM-200", share[200]))):
    ax[1].bar(torch.arange(6) + 0.27 * j - 0.27, v, width=0.27, label=lab,
              yerr=half if lab == "DDPM-20" else None)
ax[1].set(xlabel="component", ylabel="share of samples", title="mass per component")
ax[1].legend(fontsize=8)
fig.tight_layout();

# %%
assert gains == [centre]                                   # the central cluster is the one that gains…
assert len(loses) >= 2 and centre not in loses             # …at the expense of outer ones
tv = {k: 0.5 * float((s - w).abs().sum()) for k, s in share.items()}
assert tv[200] < 0.5 * tv[20]                              # more steps fix it
assert float((mix.mixture.mean() - mix.mixture.means[centre]).norm()) < 0.1   # the mixture's mean sits by it
Markdown(f"With 20 steps, component {centre} — the small cluster at the centre, at "
         f"({float(mix.mixture.means[centre, 0]):.2f}, {float(mix.mixture.means[centre, 1]):.2f}) — claims "
         f"{float(share[20][centre]):.1%} of the samples against a weight of {float(w[centre]):.0%}; the clusters "
         f"whose 95 % interval lies below their weight are {', '.join(map(str, loses))} (shares "
         + ", ".join(f"{float(share[20][k]):.1%} vs {float(w[k]):.0%}" for k in loses)
         + f"). With 200 steps the total variation to the weights drops from {tv[20]:.3f} to {tv[200]:.3f}. Why: the "
         "first, large ancestral steps move $x_t$ towards Tweedie's $\\hat x_0$, which at large $t$ is close to the "
         f"mixture's mean, ({float(mix.mixture.mean()[0]):.2f}, {float(mix.mixture.mean()[1]):.2f}) — near the centre. With few steps there is too little time afterwards for each sample to "
         "commit to an outer cluster, so samples that were still undecided stay in the middle, and the central "
         "cluster (or the space around it) collects them.")

# %% [markdown]
# ## Exercise 4 · Purifying an SR×4 measurement
# *Purify a glyph corrupted by SR×4 (upsampled by `op.pinv`) instead of a box. Which $t_\text{start}$
# works best, and is it higher or lower than for the box? Why?* (The chapter's original wording
# asked why it is *higher*; the measurement below says it is not, so the exercise is restated.)
#
# The chapter's box corruption (a 12-pixel box, σ_y = 0.2) and SR×4 with the same noise, on the
# same eight glyphs, purified in one batch with 10 DDIM steps per start (the chapter uses 20; the
# comparison between the two corruptions uses the same steps for both).

# %%
x8 = x_test[:8]
p_box = invlab.make_problem("box_inpaint", x8, sigma_y=0.2, seed=SEED, box=12)
p_sr4 = invlab.make_problem("sr4", x8, sigma_y=0.2, seed=SEED)
bad = torch.cat([p_box.y, p_sr4.op.pinv(p_sr4.y)])                  # box glyphs 0–7, SR×4 glyphs 8–15
STARTS = [0, 100, 200, 300, 400, 550]
pur = {t: prior.purify(bad, t, 10, generator=gen(t)) for t in STARTS}
psnr_pur = {t: metrics.psnr(out.clamp(-1, 1), torch.cat([x8, x8])).double() for t, out in pur.items()}
curve_box = {t: float(v[:8].mean()) for t, v in psnr_pur.items()}
curve_sr = {t: float(v[8:].mean()) for t, v in psnr_pur.items()}
best_box, best_sr = max(curve_box, key=curve_box.get), max(curve_sr, key=curve_sr.get)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(STARTS, list(curve_box.values()), "o-", label="box 12, σ_y = 0.2")
ax.plot(STARTS, list(curve_sr.values()), "s-", label="SR×4 (A⁺y), σ_y = 0.2")
ax.set(xlabel="t_start", ylabel="PSNR to the clean glyph (dB)", title="purification, 8 glyphs, 10 steps")
ax.legend(fontsize=8)
show_images([x8[1], bad[1], pur[best_box][1], bad[9], pur[best_sr][9], pur[best_box][9]],
            ["clean", "box", f"purified t={best_box}", "SR×4 A⁺y", f"purified t={best_sr}", f"t={best_box}"],
            ncols=6, size=1.4);

# %%
sr_gain = paired_difference(psnr_pur[best_sr][8:], psnr_pur[0][8:], generator=gen())
box_gain = paired_difference(psnr_pur[best_box][:8], psnr_pur[0][:8], generator=gen())
assert best_sr <= best_box                               # measured: SR×4 wants no higher start than the box
assert box_gain.low > 0                                  # the box gains measurably from purification
Markdown(f"Best start on the grid, by mean PSNR over the eight glyphs: t = {best_box} for the box "
         f"({curve_box[best_box]:.1f} dB, from {curve_box[0]:.1f} dB unpurified) and t = {best_sr} for SR×4 "
         f"({curve_sr[best_sr]:.1f} dB, from {curve_sr[0]:.1f} dB). "
         + ("SR×4 wants a *lower* start than the box. " if best_sr < best_box else
            "SR×4 wants the same start as the box, not a higher one. ")
         + "The measured answer does not support the expectation in the exercise's original wording (that SR×4 "
         "needs a higher start). Against no purification, paired over the eight glyphs: box, "
         f"{box_gain.verdict(f't = {best_box}', 'no purification')}; SR×4, "
         f"{sr_gain.verdict(f't = {best_sr}', 'no purification')}. "
         "Why: $A^+y$ for SR×4 already has the right coarse structure everywhere (the digit's identity lives in "
         "the 8×8 block averages, which the measurement keeps), and what is wrong, the blockiness and the "
         "block-constant noise, is fine detail that moderate noise already drowns; more noise starts to erase the "
         f"coarse structure that was right. A {p_box.params['box']}-pixel hole in a "
         f"{x8.shape[-1]}-pixel glyph is a large-scale defect: only a noise level that erases structures of that size lets the prior redraw the stroke. The right "
         "$t_\\text{start}$ is set by the *scale* of what is wrong and by how much of the rest is right, not by "
         "how bad the input looks.")

# %% [markdown]
# ## Exercise 5 · What the tiny MLP learns first
# *Train the tiny MLP for several lengths and plot $e(t)$ for each: which noise levels are learned
# first? Does the sliced Wasserstein distance of the samples follow $e(t)$ at small or at large $t$?*
#
# Restated small: one run of `TRAIN_STEPS` steps (the chapter's recipe: batch 512, AdamW
# with warm-up, EMA 0.999), evaluated through its EMA weights after `SNAPSHOTS` steps. Because every
# step's batch comes from `step_generator` and the learning rate is constant after warm-up, the
# snapshot after $k$ steps *is* a $k$-step run. For the sizes of the original exercise set
# `TRAIN_STEPS = 5000` and `SNAPSHOTS = (1000, 2500, 5000)` in the parameters cell. The
# network, loss and loop are the chapter's, with one switch added for exercise 6 (`use_t`).

# %%
class TinyEps(torch.nn.Module):
    """ε_θ(x_t, t) for 2-D points: x_t and sin/cos of t at eight frequencies, three hidden layers.
    ``use_t=False`` drops the time input (exercise 6)."""

    def __init__(self, width=128, n_freq=8, use_t=True):
        super().__init__()
        self.use_t = use_t
        self.register_buffer("freqs", torch.exp(-math.log(1000.0) * torch.arange(n_freq) / n_freq))
        layers, d = [], 2 + (2 * n_freq if use_t else 0)
        for _ in range(3):
            layers += [torch.nn.Linear(d, width), torch.nn.SiLU()]
            d = width
        self.mlp = torch.nn.Sequential(*layers, torch.nn.Linear(width, 2))

    def forward(self, x, t):
        if not self.use_t:
            return self.mlp(x)
        angles = t.float()[:, None] * self.freqs
        return self.mlp(torch.cat([x, angles.sin(), angles.cos()], 1))


BATCH, LR, WARMUP, EMA_DECAY = 512, 2e-3, 200, 0.999
ab32 = sched.alpha_bar.float()


def gmm_batch(step, batch):
    return mix.mixture.sample(batch, step_generator(SEED, step, stream=1)).float()


def train_tiny(net, steps, snapshots=()):
    """The chapter's loop; returns the per-step losses and the EMA weights at the given steps."""
    ema = EMA(net, EMA_DECAY)
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=0.0)
    losses, snaps = [], {}
    for step in range(steps):
        x0 = gmm_batch(step, BATCH)
        g = step_generator(SEED, step)
        t = torch.randint(0, sched.T, (BATCH,), generator=g)
        eps = torch.randn(x0.shape, generator=g)
        a = ab32[t][:, None]
        loss = F.mse_loss(net(a.sqrt() * x0 + (1 - a).sqrt() * eps, t), eps)
        for group in opt.param_groups:
            group["lr"] = LR * min(1.0, (step + 1) / WARMUP)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        ema.update(net, step)
        losses.append(float(loss.detach()))
        if step + 1 in snapshots:
            snaps[step + 1] = copy.deepcopy(net)
            ema.copy_to(snaps[step + 1])
    return losses, snaps


class TinyPrior(Prior):
    """An MLP as a diffusion prior on 2-D points. Unlike the chapter's wrapper it keeps autograd on,
    so that DPS (exercise 7) can differentiate through the network."""

    image_shape = (2,)
    clamp_default = False
    name = "tiny-mlp"

    def __init__(self, net):
        super().__init__(sched)
        self.net = net

    def _eps(self, x_t, t):
        return self.net(x_t.float(), t).to(x_t)


def noisy_points(t, n=4000):
    """x_t ~ p_t, the noise that made it, and the exact ε*(x_t, t) = E[ε | x_t] (the chapter's)."""
    g = gen(21)
    x0 = mix.mixture.sample(n, g)
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    x_t = sched.noise(x0, t, eps)
    return x_t, eps, mix.eps(x_t, t)


def eps_error(model, t, n=4000):
    x_t, _, eps_star = noisy_points(t, n)
    with torch.no_grad():
        return float(((model(x_t.float(), torch.full((n,), t)) - eps_star.float()) ** 2).mean())


torch.manual_seed(SEED)                        # the chapter's initial weights
net = TinyEps()
losses, snaps = train_tiny(net, TRAIN_STEPS, SNAPSHOTS)
t_eval = [5, 10, 20, 30, 50, 100, 150, 250, 400, 600, 800, 999]
e_t = {k: {t: eps_error(m, t) for t in t_eval} for k, m in snaps.items()}
exact = mix.sample_exact(2000, gen(10))
sw_ref = metrics.sliced_wasserstein(mix.sample_exact(2000, gen(13)), exact, generator=gen(12))
with torch.no_grad():
    sw_exact_eps = metrics.sliced_wasserstein(mix.sample(2000, 100, generator=gen(11)), exact, generator=gen(12))
    sw_snap = {k: metrics.sliced_wasserstein(TinyPrior(m).sample(2000, 100, generator=gen(11)).double(), exact,
                                             generator=gen(12)) for k, m in snaps.items()}
BANDS = {"t ≤ 50": (-1, 50), "50 < t ≤ 250": (50, 250), "t > 250": (250, sched.T)}


class Band(TinyPrior):
    """The learned ε, except the exact ε of the mixture for lo < t ≤ hi."""

    def __init__(self, net, lo, hi):
        super().__init__(net)
        self.lo, self.hi = lo, hi

    def _eps(self, x_t, t):
        use_exact = ((t > self.lo) & (t <= self.hi)).view(-1, 1)
        return torch.where(use_exact, mix.eps(x_t, t), super()._eps(x_t, t))


with torch.no_grad():
    sw_band = {name: metrics.sliced_wasserstein(Band(snaps[SNAPSHOTS[-1]], lo, hi).sample(2000, 100, generator=gen(11))
                                                .double(), exact, generator=gen(12))
               for name, (lo, hi) in BANDS.items()}
fig, ax = plt.subplots(1, 2, figsize=(11, 3.4))
for k in SNAPSHOTS:
    ax[0].loglog(t_eval, list(e_t[k].values()), "o-", label=f"after {k} steps")
ax[0].set(xlabel="t", ylabel="e(t) = E‖ε_θ − ε*‖²", title="the network's ε error per noise level")
ax[0].legend(fontsize=8)
ax[1].plot(SNAPSHOTS, list(sw_snap.values()), "o-", label="DDIM-100, learned ε")
ax[1].axhline(sw_exact_eps, color="tab:green", ls="--", label="DDIM-100, exact ε")
ax[1].axhline(sw_ref, color="gray", ls=":", label="exact vs exact")
ax[1].set(xlabel="training steps", ylabel="sliced W to exact samples", title="sample quality", ylim=(0, None))
ax[1].legend(fontsize=8)
fig.tight_layout();

# %%
first, last = SNAPSHOTS[0], SNAPSHOTS[-1]
large = [t for t in t_eval if t >= 400]
small = [t for t in t_eval if t <= 30]
drop_small = {t: e_t[first][t] / e_t[last][t] for t in small}
assert max(e_t[first][t] for t in large) < 0.05 * min(e_t[first][t] for t in small)   # large t: learned first
assert all(e_t[last][t] < e_t[first][t] for t in small)                               # small t: still improving
assert min(sw_snap.values()) > 2 * sw_exact_eps                                        # samples far from exact-ε ones
assert sw_band["t > 250"] > 0.9 * sw_snap[last]                  # exact ε at large t: no help
assert max(sw_band["t ≤ 50"], sw_band["50 < t ≤ 250"]) < 0.7 * sw_snap[last]   # at small or moderate t: a lot
Markdown(f"After only {first} steps the error at large $t$ (≥ 400) is already at most "
         f"{max(e_t[first][t] for t in large):.4f}, while at small $t$ (≤ 30) it is {min(e_t[first][t] for t in small):.2f} "
         f"or more; by {last} steps the small-$t$ error has fallen by factors of "
         + ", ".join(f"{v:.1f} (t = {t})" for t, v in drop_small.items())
         + ", still far above the large-$t$ one. **Large $t$ is learned first**: there $p_t$ is nearly a single "
         "Gaussian and ε* is an almost linear function of $x_t$, which a few hundred steps fit; at small $t$ ε* "
         "changes across the width of a thin cluster, a sharp function that takes long to learn.\n\n"
         "The samples' sliced Wasserstein distance goes " + " → ".join(f"{v:.3f}" for v in sw_snap.values())
         + f" over the snapshots (DDIM-100 with the exact ε: {sw_exact_eps:.3f}; two exact sets: {sw_ref:.3f}): it "
         "stays well above the exact-ε sampler although the large-$t$ error is small from the start. Which noise "
         f"levels it follows is tested directly on the {last}-step network, by handing one band of $t$ to the "
         "exact ε and keeping the learned ε elsewhere: "
         + ", ".join(f"exact for {k}: {v:.3f}" for k, v in sw_band.items())
         + f" (all learned: {sw_snap[last]:.3f}). Fixing large $t$ changes nothing; fixing either $t \\le 50$ or "
         "$50 < t \\le 250$ removes much of the gap. **The samples follow the error at small and moderate $t$**, "
         "where the sample decides which cluster it joins and is pulled onto it; the large-$t$ part is learned "
         "early and then no longer limits them.")

# %% [markdown]
# ## Exercise 6 · No time input
# *Drop the time input (feed $x_t$ only). How far above the floor does the loss stay, and why can
# a network that does not know $t$ not reach it?*
#
# A network that sees only $x_t$ can at best predict $\mathbb E[\varepsilon\mid x_t]$ with $t$ averaged
# out: $\varepsilon^\circ(x) = \sum_t p(t\mid x)\,\varepsilon^*(x, t)$ with $p(t\mid x)\propto p_t(x)$ for
# uniform $t$. Its floor $\mathbb E\|\varepsilon-\varepsilon^\circ\|^2$ is computable exactly on the
# mixture, because every $p_t$ is a Gaussian mixture with means $\sqrt{\bar\alpha_t}\mu_k$ and
# covariances $\bar\alpha_t\Sigma_k + (1-\bar\alpha_t)I$: below, over all 1000 values of $t$ for 1000
# points $(x_0, t, \varepsilon)$, as a paired difference to the t-aware floor on the same points. The t-blind network is trained for `BLIND_STEPS` steps on exactly the
# batches of the first `BLIND_STEPS` steps of exercise 5's run, so their losses pair step by step.

# %%
g = gen(30)
n_f = 1000
t_f = torch.randint(0, sched.T, (n_f,), generator=g)
x0_f = mix.mixture.sample(n_f, g)
eps_f = torch.randn(x0_f.shape, generator=g, dtype=torch.float64)
a_f = sched.alpha_bar[t_f][:, None]
xt_f = a_f.sqrt() * x0_f + (1 - a_f).sqrt() * eps_f
assert sched.T == 1000                                        # the 1000 values of t named above
log_pt = torch.empty(sched.T, n_f, dtype=torch.float64)
eps_star_all = torch.empty(sched.T, n_f, 2, dtype=torch.float64)
mm = mix.mixture
for t in range(sched.T):
    a = sched.alpha_bar[t]
    p_t = GaussianMixture(mm.weights, a.sqrt() * mm.means, a * mm.covs + (1 - a) * torch.eye(2, dtype=torch.float64))
    log_pt[t] = p_t.log_prob(xt_f)
    eps_star_all[t] = mix.eps(xt_f, t)
eps_blind = (torch.softmax(log_pt, 0)[..., None] * eps_star_all).sum(0)            # Σ_t p(t | x) ε*(x, t)
per_point_aware = ((eps_star_all[t_f, torch.arange(n_f)] - eps_f) ** 2).mean(1)     # knows t
per_point_blind = ((eps_blind - eps_f) ** 2).mean(1)                                # does not
floor_gap = paired_difference(per_point_blind, per_point_aware, generator=gen())
g = gen(31)                                   # the t-aware floor itself, precisely: every t 100 times (the chapter's)
t_p = torch.arange(sched.T).repeat(100)
x0_p = mix.mixture.sample(t_p.numel(), g)
eps_p = torch.randn(x0_p.shape, generator=g, dtype=torch.float64)
a_p = sched.alpha_bar[t_p][:, None]
floor = float(((mix.eps(a_p.sqrt() * x0_p + (1 - a_p).sqrt() * eps_p, t_p) - eps_p) ** 2).mean())
blind_floor = (floor + floor_gap.low, floor + floor_gap.mean, floor + floor_gap.high)
torch.manual_seed(SEED)
blind_losses, _ = train_tiny(TinyEps(use_t=False), BLIND_STEPS)
window = slice(BLIND_STEPS - 200, BLIND_STEPS)                                      # the last 200 steps
loss_gap = paired_difference(torch.tensor(blind_losses[window]), torch.tensor(losses[window]), generator=gen())
loss_blind_end = sum(blind_losses[window]) / 200
loss_aware_end = sum(losses[-200:]) / 200
fig, ax = plt.subplots(figsize=(5.5, 3.2))
k = 25
ax.plot(torch.arange(TRAIN_STEPS // k) * k + k, torch.tensor(losses).view(-1, k).mean(1), label="with t")
ax.plot(torch.arange(BLIND_STEPS // k) * k + k, torch.tensor(blind_losses).view(-1, k).mean(1), label="without t")
ax.axhline(floor, color="tab:blue", ls=":", label="floor, knowing t")
ax.axhspan(blind_floor[0], blind_floor[2], color="tab:orange", alpha=0.25, label="floor, not knowing t (95 % CI)")
ax.set(xlabel="step", ylabel="ε-MSE (mean of 25 steps)", ylim=(0.8 * floor, 0.4), title="training loss")
ax.legend(fontsize=8);

# %%
assert floor_gap.low > 0                                # not knowing t costs a measurable amount of loss
assert loss_blind_end > floor + floor_gap.low           # the blind network stays above that
blind_at_floor = blind_floor[0] <= loss_blind_end <= blind_floor[2]
Markdown(f"The floor for a network that knows $t$ is {floor:.4f} (the chapter's estimate: every $t$ 100 times). Not "
         f"knowing $t$ raises it by {floor_gap.mean:.3f} (95 % CI {floor_gap.low:.3f} to {floor_gap.high:.3f}, paired "
         f"over the {n_f} points), to about {blind_floor[1]:.3f}, {floor_gap.mean / floor:.0%} higher. No amount of "
         "training closes that gap: it is information the input lacks. The t-blind network ends its "
         f"{BLIND_STEPS} steps at {loss_blind_end:.3f} (mean of the last 200) "
         + ("— inside the interval of its own floor: a function of $x_t$ alone is simple enough to learn in a few "
            "hundred steps, and it has hit the wall. " if blind_at_floor else
            f"— {'above' if loss_blind_end > blind_floor[2] else 'below'} the interval of its own floor. ")
         + f"The t-aware run ends its {TRAIN_STEPS} steps at {loss_aware_end:.3f}, not at its floor yet either; over "
         f"the same batches of steps {window.start + 1}–{window.stop}, "
         f"{loss_gap.verdict('the blind network', 'the t-aware one', '', higher_is_better=False, digits=4)} (in ε-MSE). "
         "Why no blind network reaches the floor: the same point $x_t$ arises from different $(x_0, t, \\varepsilon)$. "
         "Near a cluster it may be a clean-ish sample at small $t$, where ε is large and invisible, or a noisy one "
         "at larger $t$, where ε points back to the cluster; far out it is almost surely large $t$, where "
         "ε ≈ $x_t$. The best blind prediction averages those cases, weighted by $p(t\\mid x)$; knowing $t$ removes "
         "the averaging.")

# %% [markdown]
# ## Exercise 7 · DPS with a learned 2-D prior
# *Use the learned MLP as the prior of notebook 03's 2-D problem (`gmm2d_problem`) and run DPS. How
# do its posterior samples compare with DPS on the exact mixture?*
#
# The network after `TRAIN_STEPS` steps, wrapped as `TinyPrior` (autograd on: DPS's guidance is a
# VJP through ε_θ), against the exact mixture, both with notebook 03's setting (200 steps, ζ = 0.1)
# and the same generator, so each sample starts from the same noise in both runs. Yardsticks:
# sliced Wasserstein distance to exact posterior samples, and per sample whether it lands where the
# exact posterior density is lower than for 99 % of exact posterior samples.

# %%
_, prob2d, post2d = gmm2d_problem(N_DPS, sigma_y=0.1)
exact_post = post2d.sample(N_DPS, gen(1))
runs = {"exact mixture": invlab.solvers.dps(prob2d, mix, steps=200, zeta=0.1, generator=gen()),
        f"MLP, {TRAIN_STEPS} steps": invlab.solvers.dps(prob2d, TinyPrior(snaps[TRAIN_STEPS]), steps=200, zeta=0.1,
                                                     generator=gen())}
pts = {k: r.x.detach().double() for k, r in runs.items()}
sw_dps = {k: metrics.sliced_wasserstein(x, exact_post, generator=gen(12)) for k, x in pts.items()}
sw_post_ref = metrics.sliced_wasserstein(post2d.sample(N_DPS, gen(3)), exact_post, generator=gen(12))
low_dens = float(post2d.log_prob(exact_post).quantile(0.01))
off_post = {k: (post2d.log_prob(x) < low_dens).double() for k, x in pts.items()}
(name_exact, name_mlp) = runs
off_gap = paired_difference(100 * off_post[name_mlp], 100 * off_post[name_exact], generator=gen())
prior_pts = mix.sample_exact(2000, gen(2))
fig, ax = plt.subplots(1, 3, figsize=(12, 4))
for a, (title, x, c) in zip(ax, [("exact posterior", exact_post, "tab:green")]
                            + [(f"DPS, {k}: SW {sw_dps[k]:.3f}", x, col) for (k, x), col in
                               zip(pts.items(), ["tab:blue", "tab:orange"])]):
    a.scatter(prior_pts[:, 0], prior_pts[:, 1], s=1, color="lightgray")
    a.scatter(x[:, 0], x[:, 1], s=1, alpha=0.3, color=c)
    a.set(title=title, xlim=(-1.2, 1.2), ylim=(-1.2, 1.2), aspect="equal")
fig.tight_layout();

# %%
assert off_gap.low > 0                                   # the learned prior puts more samples off the posterior
assert min(sw_dps.values()) > 1.5 * sw_post_ref            # neither DPS run samples the posterior exactly
Markdown("Sliced Wasserstein distance to exact posterior samples: "
         + ", ".join(f"DPS on the {k}: {v:.3f}" for k, v in sw_dps.items())
         + f" (two exact posterior sets: {sw_post_ref:.3f}): both are well above the exact-vs-exact level, DPS's own "
         "approximation costs something even with the exact score. These are single set-level numbers with no "
         f"interval; the per-sample measure pairs the two runs: {float(off_post[name_exact].mean()):.1%} of the exact-mixture DPS samples land where the "
         f"posterior is thinner than for 99 % of its own samples, against {float(off_post[name_mlp].mean()):.1%} "
         f"with the learned prior; paired by starting noise, {off_gap.verdict('the learned prior', 'the exact one', 'percentage points', higher_is_better=False, digits=0)}. "
         "The learned ε is least accurate at small and moderate $t$ (exercise 5), which is exactly where DPS's last steps pull "
         "each sample onto the line $x_1 + 0.6x_2 \\approx y$ *and* onto a cluster; with a blurred small-$t$ "
         "score the samples reach the line but not the clusters. A solver can only be as good as the prior's "
         "score where it uses it most.")
