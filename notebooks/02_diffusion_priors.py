# %% [markdown]
# # 02 · Diffusion priors
#
# A diffusion model learns to undo noise. Trained on images, it becomes a *prior*: it can produce
# new images, tell how plausible an image is (its score), and — the part the rest of the course
# uses — make a noisy or corrupted image more image-like.
#
# **You will learn**
# - the variance-preserving forward process $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon$;
# - Tweedie's formula: the network's noise prediction *is* a posterior-mean denoiser, and why that
#   estimate is blurry;
# - DDPM and DDIM sampling, and what the number of steps costs and buys (measured);
# - the score field of an analytic Gaussian mixture, where everything is exact;
# - purification (noise up, denoise down): the projection onto the data manifold that DCDP uses;
# - how the course's own prior, `glyphs32`, was trained, and how to switch to a pretrained model;
# - training in miniature: a small MLP learns ε for the 2-D mixture in seconds, with the same loss
#   as `glyphs32`, and its learned score and samples are compared with the exact ones.

# %% [markdown]
# ## Parameters

# %%
PRIOR = "glyphs32"   # on a GPU with internet: "google/ddpm-ema-celebahq-256" (256×256 RGB)
SEED = 0
N_LIVE = 8           # DDIM samples per setting re-run live against benchmarks/bench_samplers.py

# %%
import json

import matplotlib.pyplot as plt
import torch

import invlab
from invlab import metrics
from invlab.diffusion import GaussianMixturePrior, gmm2d, weights_dir
from invlab.viz import show_images
from IPython.display import Markdown

device = invlab.setup_notebook(seed=SEED)
prior = invlab.load_prior(PRIOR, device=device)
sched = prior.schedule
x_test, y_test = invlab.glyphs(256, split="test")
x_test = x_test.to(device)


def gen(seed=SEED):
    return torch.Generator().manual_seed(seed)


# %% [markdown]
# ## 1 · The forward process
#
# With $\beta_t$ rising linearly from $10^{-4}$ to $0.02$ over $T = 1000$ steps and
# $\bar\alpha_t = \prod_{s\le t}(1-\beta_s)$, a clean image $x_0$ is noised in one shot:
# $$x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\qquad \varepsilon\sim\mathcal N(0, I).$$
# The signal fraction $\sqrt{\bar\alpha_t}$ falls from 1 to $0.006$: by $t = 999$ nothing of $x_0$ is
# left.

# %%
ts = [0, 50, 150, 300, 500, 750, 999]
x0 = x_test[:1]
eps = torch.randn(x0.shape, generator=gen()).to(x0)
frames = [sched.noise(x0, t, eps) for t in ts]
show_images([f[0] for f in frames], [f"t={t}\n√ᾱ={float(sched.ab(t)) ** 0.5:.2f}" for t in ts],
            ncols=7, size=1.4, vrange=(-2.5, 2.5));

# %%
assert abs(float(sched.alpha_bar[-1]) - 4.04e-5) < 1e-6          # [DDPM]'s linear schedule: ᾱ_999 ≈ 4.0e-5

# %% [markdown]
# The same process on a 2-D Gaussian mixture (the analytic prior `gmm2d`): the six clusters
# shrink towards the origin and dissolve into one standard Gaussian.

# %%
mix = GaussianMixturePrior(gmm2d(), name="gmm2d")
pts = mix.sample_exact(3000, gen())
fig, ax = plt.subplots(1, 5, figsize=(13, 2.8), sharex=True, sharey=True)
for a, t in zip(ax, [0, 100, 200, 400, 999]):
    z = torch.randn(pts.shape, generator=gen(1), dtype=torch.float64)
    xt = sched.noise(pts, t, z)
    a.scatter(xt[:, 0], xt[:, 1], s=1, alpha=0.3)
    a.set(title=f"t = {t}", xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
fig.tight_layout();

# %% [markdown]
# ## 2 · Tweedie: the noise predictor is a denoiser
#
# The network $\varepsilon_\theta(x_t, t)$ is trained to predict the noise that was added. For
# Gaussian noise, Tweedie's formula turns that into the **posterior mean** of the clean image:
# $$\hat x_0(x_t) = \mathbb E[x_0\mid x_t] = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon_\theta(x_t,t)}{\sqrt{\bar\alpha_t}},
# \qquad \nabla_{x_t}\log p_t(x_t) = -\frac{\varepsilon_\theta(x_t,t)}{\sqrt{1-\bar\alpha_t}}.$$
# Written out, then the package's `prior.x0`:

# %%
t = 400
xt = sched.noise(x0, t, eps)
with torch.no_grad():
    eps_hat = prior.eps(xt, t)
    a = sched.ab(t, xt)
    x0_hat = (xt - (1 - a).sqrt() * eps_hat) / a.sqrt()
    torch.testing.assert_close(x0_hat, prior.x0(xt, t, clamp=False))

# %% [markdown]
# At small $t$ the estimate is sharp; at large $t$ many digits are consistent with $x_t$ and
# their **average** is a blur. That blur is not a bug of the network: it is what a posterior mean
# is. Every "guidance" method in notebooks 03–05 starts from this estimate.

# %%
ts_tw = [50, 200, 400, 600, 800, 950]
with torch.no_grad():
    x_ts = [sched.noise(x0, t, eps) for t in ts_tw]
    tweedie = [prior.x0(x, t) for x, t in zip(x_ts, ts_tw)]
show_images([x[0] for x in x_ts] + [x[0] for x in tweedie],
            [f"x_t, t={t}" for t in ts_tw] + [f"x̂₀, t={t}" for t in ts_tw], ncols=6, size=1.4);

# %%
errs = [float(((tw - x0) ** 2).mean()) for tw in tweedie]
assert all(e1 <= e2 + 1e-3 for e1, e2 in zip(errs, errs[1:]))   # more noise, worse posterior mean
assert errs[0] < 0.02

# %% [markdown]
# On the mixture, Tweedie is exact, and the blur has a picture: for a point between two clusters,
# $\hat x_0$ lands *between* them — where no sample of the prior ever lies.

# %%
grid = torch.stack(torch.meshgrid(torch.linspace(-1.2, 1.2, 15, dtype=torch.float64),
                                  torch.linspace(-1.2, 1.2, 15, dtype=torch.float64), indexing="xy"), -1).reshape(-1, 2)
fig, ax = plt.subplots(1, 3, figsize=(12, 4))
for a, t in zip(ax, [30, 150, 400]):
    score = mix.score(grid, t)
    x0g = mix.x0(grid, t)
    a.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.15, color="gray")
    a.quiver(grid[:, 0], grid[:, 1], score[:, 0], score[:, 1], color="tab:blue", alpha=0.7)
    a.scatter(x0g[:, 0], x0g[:, 1], s=6, color="tab:red", label="x̂₀(x_t)")
    a.set(title=f"score ∇log p_t and x̂₀ at t = {t}", xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), aspect="equal")
ax[0].legend(loc="lower right", fontsize=7)
fig.tight_layout();

# %% [markdown]
# ## 3 · Sampling: DDPM and DDIM
#
# **DDPM** (ancestral) walks the reverse chain with the Gaussian posterior
# $q(x_{t-1}\mid x_t, \hat x_0) = \mathcal N(c_1\hat x_0 + c_2 x_t,\ \tilde\beta_t I)$; on a shorter
# grid $S$ it uses $\beta'_{S_i} = 1-\bar\alpha_{S_i}/\bar\alpha_{S_{i-1}}$. **DDIM** jumps deterministically
# ($\eta = 0$): $x_s = \sqrt{\bar\alpha_s}\hat x_0 + \sqrt{1-\bar\alpha_s}\,\hat\varepsilon$. One step costs one
# network evaluation (NFE). Below, one DDIM step written out, checked against the package:

# %%
from invlab.diffusion import ddim_step

x = torch.randn((2,) + prior.image_shape, generator=gen()).to(device)
t, s = 980, 960
with torch.no_grad():
    e = prior.eps(x, t)
    x0h = sched.x0_from_eps(x, e, t)
    mine = sched.ab(s, x).sqrt() * x0h + (1 - sched.ab(s, x)).sqrt() * e
    torch.testing.assert_close(mine, ddim_step(sched, x0h, e, t, s))

# %% [markdown]
# How many steps does it take? We measure sample quality with the course's glyph classifier
# (share of samples it reads with confidence ≥ 0.9) and the **Fréchet distance** in its feature
# space (our FID analogue; lower is better, biased upwards for small sets — compare rows, not
# papers). The reference row is the distance between two sets of real test glyphs.
#
# The sampler settings of the table cost more network passes than this notebook may spend, so
# `python benchmarks/bench_samplers.py` measured them sample by
# sample (the classifier's verdict on every sample, the Fréchet distance and wall time of every
# set); we read its table. DDIM with η = 0 is deterministic once its starting noise is drawn, so
# the first samples of both DDIM rows are re-run here and must *be* the benchmark's samples.

# %%
import csv
import time
from pathlib import Path

from safetensors.torch import load_file

from invlab.stats import paired_difference

RESULTS = next(p for p in (Path("../benchmarks/results"), Path("benchmarks/results")) if p.exists())
with open(RESULTS / "samplers.csv") as f:
    bench = list(csv.DictReader(f))
sets = {}                                       # (sampler, steps) → the benchmark's per-sample verdicts
for b in bench:
    k = (b["sampler"], int(b["steps"]))
    d = sets.setdefault(k, {"max_prob": [], "confident": [], "fd": float(b["fd"]), "seconds": float(b["seconds"])})
    d["max_prob"].append(float(b["max_prob"]))
    d["confident"].append(float(b["confident"]))
sets = {k: {**d, "max_prob": torch.tensor(d["max_prob"], dtype=torch.float64),
            "confident": torch.tensor(d["confident"], dtype=torch.float64)} for k, d in sets.items()}
rows = {("real test glyphs" if m == "real" else f"{m.upper()}-{steps} ({d['confident'].numel()} samples)"):
        {"confident": float(d["confident"].mean()), "fd": d["fd"], "seconds": d["seconds"], "nfe": steps}
        for (m, steps), d in sets.items()}
pictures = load_file(str(RESULTS / "samplers_images.safetensors"))     # the first 8 samples of every setting
samples = {("ddpm", 50): pictures["ddpm/50"], ("ddpm", 1000): pictures["ddpm/1000"]}
for steps in (10, 50):                                                # the live check
    t0 = time.perf_counter()
    out = prior.sample(N_LIVE, steps, eta=0.0, method="ddim", generator=gen(steps))
    live_seconds = time.perf_counter() - t0
    samples[("ddim", steps)] = out
    gap = float((out - pictures[f"ddim/{steps}"][:N_LIVE]).abs().max())
    prob_gap = float((metrics.classifier_probs(out).max(1).values.double() - sets["ddim", steps]["max_prob"][:N_LIVE])
                     .abs().max())
    print(f"DDIM-{steps}, first {N_LIVE} samples live ({live_seconds:.1f} s): largest pixel difference to the "
          f"benchmark's {gap:.1e}, largest difference in the classifier's top probability {prob_gap:.1e}")
    assert gap < 1e-3 and prob_gap < 1e-3                             # the benchmark's samples, reproduced

# %%
print(f"{'sampler':<28}{'NFE':>6}{'conf≥0.9':>10}{'Fréchet':>9}{'seconds':>9}")
for k, r in rows.items():
    print(f"{k:<28}{r['nfe']:>6}{r['confident']:>10.2f}{r['fd']:>9.1f}{r['seconds']:>9.1f}")
print("(seconds: wall time of the benchmark's run, all samples of a row in one batch)")

# %%
show_images(torch.cat([samples[("ddim", 10)][:8], samples[("ddim", 50)][:8], samples[("ddpm", 50)][:8],
                       samples[("ddpm", 1000)][:8]]),
            ["DDIM-10"] + [""] * 7 + ["DDIM-50"] + [""] * 7 + ["DDPM-50"] + [""] * 7 + ["DDPM-1000"] + [""] * 7,
            ncols=8, size=1.0);

# %%
r = rows
real_fd = r["real test glyphs"]["fd"]
assert r["DDIM-50 (128 samples)"]["confident"] >= 0.6
assert r["DDPM-50 (128 samples)"]["fd"] < 0.7 * r["DDPM-10 (128 samples)"]["fd"]
assert r["DDPM-50 (128 samples)"]["confident"] > r["DDPM-10 (128 samples)"]["confident"] + 0.1
assert all(v["fd"] > real_fd for k, v in r.items() if k != "real test glyphs" and v["fd"] == v["fd"])
assert all(sets[k]["confident"].numel() == 128 for k in sets if k[1] != 1000)   # the table's sample counts
sampler_rows = {k: v for k, v in r.items() if k != "real test glyphs"}
best_share = max(sampler_rows, key=lambda k: sampler_rows[k]["confident"])
worst_fd = max(sampler_rows, key=lambda k: sampler_rows[k]["fd"])
assert best_share.startswith("DDPM-50") and worst_fd.startswith("DDPM-10 ")
d10, d50, p10, p50 = (r[f"{m}-{n} (128 samples)"] for m, n in (("DDIM", 10), ("DDIM", 50), ("DDPM", 10), ("DDPM", 50)))
train_step = int((weights_dir(PRIOR) / "train_state.txt").read_text().split()[1])
Markdown(f"What we measured on this prior (training step {train_step:,}): ancestral DDPM gains most from "
         f"more steps — at 10 steps its large posterior variance leaves visible noise (the worst Fréchet distance, "
         f"{p10['fd']:.1f}), at 50 steps it is the best sampler of the table ({p50['confident']:.0%} confident, Fréchet "
         f"{p50['fd']:.1f}, next to real glyphs' {real_fd:.1f}). DDIM's 10- and 50-step sets read "
         f"{d10['confident']:.0%} and {d50['confident']:.0%} confident; their Fréchet distances ({d10['fd']:.1f} and "
         f"{d50['fd']:.1f}) differ more than their pictures do — with 128 samples this distance moves a lot between "
         f"seeds, so we do not rank them by it. Every sampler stays further from the test set than real glyphs are.")

# %% [markdown]
# The confident shares, compared sample by sample: each row's 128 verdicts (1: read with
# confidence ≥ 0.9, 0: not), paired by sample index, with a bootstrap interval of the mean
# difference (`invlab.stats.paired_difference`), in percentage points:

# %%
share_diff = {(a, b): paired_difference(100 * sets[a]["confident"], 100 * sets[b]["confident"], generator=gen())
              for a, b in ((("ddpm", 50), ("ddpm", 10)), (("ddim", 50), ("ddim", 10)), (("ddpm", 50), ("ddim", 50)))}
assert share_diff[("ddpm", 50), ("ddpm", 10)].low > 0                 # DDPM gains from 50 steps, measurably
assert share_diff[("ddim", 50), ("ddim", 10)].holds_zero              # DDIM: no measurable gain (section's summary)
Markdown("\n".join(f"- {d.verdict(f'{a[0].upper()}-{a[1]}', f'{b[0].upper()}-{b[1]}', 'percentage points', digits=0)}"
                   for (a, b), d in share_diff.items()))

# %% [markdown]
# On the mixture, where the true distribution is known, DDIM with the exact score reproduces it:
# the sliced Wasserstein distance to exact samples is at the level of two independent exact sets.

# %%
exact = mix.sample_exact(2000, gen(10))
ddim_mix = mix.sample(2000, 100, generator=gen(11))
sw_ddim = metrics.sliced_wasserstein(ddim_mix, exact, generator=gen(12))
sw_ref = metrics.sliced_wasserstein(mix.sample_exact(2000, gen(13)), exact, generator=gen(12))
fig, ax = plt.subplots(1, 2, figsize=(8, 3.8), sharex=True, sharey=True)
ax[0].scatter(exact[:, 0], exact[:, 1], s=1, alpha=0.4)
ax[0].set(title="exact samples", aspect="equal")
ax[1].scatter(ddim_mix[:, 0], ddim_mix[:, 1], s=1, alpha=0.4, color="tab:orange")
ax[1].set(title=f"DDIM-100 with the exact score\nsliced W = {sw_ddim:.3f} (exact vs exact {sw_ref:.3f})", aspect="equal")
fig.tight_layout();

# %%
assert sw_ddim < 3 * sw_ref + 0.01

# %% [markdown]
# ## 4 · Purification: a projection onto the data manifold
#
# Take a corrupted image, noise it to some $t_\text{start}$, and run the deterministic sampler back
# to $t=0$ (`prior.purify`). Small $t_\text{start}$ keeps the image (and its corruption); large
# $t_\text{start}$ produces a clean glyph that may no longer be *this* glyph. DCDP (notebook 06)
# alternates this with data-consistency steps and lowers $t_\text{start}$ as it goes.

# %%
def corrupt(x, seed=SEED):
    p = invlab.make_problem("box_inpaint", x, sigma_y=0.2, seed=seed, box=12)
    return p.y


x_bad = corrupt(x_test[:4])


def purify_row(t_start, steps=20, index=0):
    return prior.purify(x_bad, t_start, steps, generator=gen(t_start))


starts = [0, 50, 150, 300, 500, 800]
purified = {t: purify_row(t) for t in starts}
show_images([x_test[0], x_bad[0]] + [purified[t][0] for t in starts],
            ["clean", "corrupted"] + [f"t_start={t}" for t in starts], ncols=8, size=1.4);

# %%
mse_clean = {t: float(((purified[t] - x_test[:4]) ** 2).mean()) for t in starts}
mse_input = [float(((purified[t] - x_bad) ** 2).mean()) for t in starts]
print("mean squared error to the clean glyphs by t_start:", {t: round(v, 3) for t, v in mse_clean.items()})
assert mse_clean[300] < 0.75 * mse_clean[0]     # moderate purification removes the corruption
assert mse_clean[800] > mse_clean[300]          # too much, and it is another glyph
assert all(a < b for a, b in zip(mse_input, mse_input[1:]))   # it moves further from the input

# %% [markdown]
# Move $t_\text{start}$ yourself (the static call first is what the test checks):

# %%
def show_purify(t_start=300, steps=20):
    out = purified[t_start] if steps == 20 and t_start in purified else prior.purify(x_bad, t_start, steps,
                                                                                      generator=gen(t_start))
    q = metrics.psnr(out, x_test[:4])
    show_images(torch.cat([x_bad, out]), ["corrupted"] * 4 + [f"{float(v):.1f} dB" for v in q], ncols=4, size=1.4)
    return q


q300 = show_purify(300, 20)
assert float(q300.mean()) > float(metrics.psnr(x_bad.clamp(-1, 1), x_test[:4]).mean()) + 2

# %% tags=["nbval-ignore-output"]
import ipywidgets as w

def purify_panel(t_start, steps):
    show_purify(t_start, steps)                   # the figure only: the PSNRs it returns stay out of the output


w.interact(purify_panel, t_start=w.IntSlider(300, 0, 999, 25, description="t_start"),
           steps=w.IntSlider(20, 1, 50, description="steps"));

# %% [markdown]
# ## 5 · How `glyphs32` was trained
#
# A diffusers `UNet2DModel` (1.8 M parameters; 16/32/64/96 channels, attention at 8×8 and 4×4) with
# ε-prediction on the papers' schedule, trained with the DDPM loss
# $\mathbb E\,\|\varepsilon - \varepsilon_\theta(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\varepsilon, t)\|^2$
# on freshly rendered training glyphs each step, AdamW, EMA of the weights (shipped), by
# `python data_scripts/train_prior.py` (seeded, checkpointed, resumable), which calls
# `invlab.training.train_eps_model`; section 6 runs the same loop in miniature. The loss curve ships
# with the weights:

# %%
log = [json.loads(line) for line in (weights_dir("glyphs32") / "train_log.jsonl").read_text().splitlines()]
fig, ax = plt.subplots(figsize=(5, 3))
ax.semilogy([r["step"] for r in log], [r["loss"] for r in log])
ax.set(xlabel="step (batch 128)", ylabel="ε-MSE", title="glyphs32 training loss");

# %%
assert log[-1]["loss"] < log[0]["loss"]

# %% [markdown]
# ## 6 · Training, in miniature
#
# The recipe of section 5, small enough to run here: a 36 k-parameter MLP learns ε for the 2-D
# mixture `gmm2d`. The mixture's exact ε (section 2) is what makes this instructive — we can look
# at what the loss curve alone cannot show.
#
# **The network** takes the point $x_t$ and the sines and cosines of $t$ at eight frequencies
# (the sinusoidal time embedding of [DDPM]) through three hidden layers of 128 SiLU units.
# **The loss** is the DDPM simple loss of section 5 and of `train_eps_model`,
# $\mathbb E_{t, x_0, \varepsilon}\|\varepsilon - \varepsilon_\theta(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon, t)\|^2$,
# with $t$ uniform on $0..T-1$ and fresh mixture samples every step. **The optimiser** is
# `train_eps_model`'s: AdamW with a linear warm-up of the learning rate, gradients clipped at norm
# 1, and an EMA of the weights (decay 0.999) — the EMA weights are what `glyphs32` ships and what
# we evaluate. Every step's data and noise come from generators seeded by the step
# (`step_generator`), as in the package's training loops.

# %%
import copy
import math

import torch.nn.functional as F

from invlab.diffusion import Prior
from invlab.training import EMA, step_generator, train_eps_model


class TinyEps(torch.nn.Module):
    """ε_θ(x_t, t) for 2-D points: x_t and sin/cos of t at eight frequencies, three hidden layers."""

    def __init__(self, width=128, n_freq=8):
        super().__init__()
        self.register_buffer("freqs", torch.exp(-math.log(1000.0) * torch.arange(n_freq) / n_freq))
        layers, d = [], 2 + 2 * n_freq
        for _ in range(3):
            layers += [torch.nn.Linear(d, width), torch.nn.SiLU()]
            d = width
        self.mlp = torch.nn.Sequential(*layers, torch.nn.Linear(width, 2))

    def forward(self, x, t):
        angles = t.float()[:, None] * self.freqs
        return self.mlp(torch.cat([x, angles.sin(), angles.cos()], 1))


TRAIN_STEPS, BATCH, LR, WARMUP, EMA_DECAY = 3500, 512, 2e-3, 200, 0.999
ab32 = sched.alpha_bar.float()


def gmm_batch(step, batch):
    """The clean points of one training step: fresh mixture samples, seeded by the step."""
    return mix.mixture.sample(batch, step_generator(SEED, step, stream=1)).float()


def train_tiny(net, ema, steps):
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=0.0)
    losses = []
    for step in range(steps):
        x0 = gmm_batch(step, BATCH)
        g = step_generator(SEED, step)
        t = torch.randint(0, sched.T, (BATCH,), generator=g)                       # t ~ U{0, …, T−1}
        eps = torch.randn(x0.shape, generator=g)
        a = ab32[t][:, None]
        loss = F.mse_loss(net(a.sqrt() * x0 + (1 - a).sqrt() * eps, t), eps)      # the DDPM simple loss
        for group in opt.param_groups:
            group["lr"] = LR * min(1.0, (step + 1) / WARMUP)                       # linear warm-up
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        ema.update(net, step)
        losses.append(float(loss.detach()))
    return losses


torch.manual_seed(SEED)                       # the initial weights
net = TinyEps()
untrained = copy.deepcopy(net)
ema = EMA(net, EMA_DECAY)
t0 = time.perf_counter()
losses = train_tiny(net, ema, TRAIN_STEPS)
train_seconds = time.perf_counter() - t0
tiny_net = copy.deepcopy(net)
ema.copy_to(tiny_net)                         # the EMA weights: the model we evaluate
n_params = sum(p.numel() for p in net.parameters())
assert round(n_params, -3) == 36_000

# %% tags=["nbval-ignore-output"]
print(f"{n_params} parameters, {TRAIN_STEPS} steps of {BATCH} points "
      f"in {train_seconds:.0f} s")

# %% [markdown]
# The package's `train_eps_model` (the loop that trained `glyphs32`) is this loop plus
# checkpoints and a loss log. It expects a diffusers-style network — images $(B, C, H, W)$ in, an
# object with `.sample` out — so we wrap the MLP, hand it the points as $(B, 2, 1, 1)$ "images", and
# run 50 steps of both from the same start: the weights and their EMA agree.

# %%
import tempfile
import types


class AsImages(torch.nn.Module):
    """The interface train_eps_model expects of a network: (B, C, H, W) in, `.sample` out."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, t):
        return types.SimpleNamespace(sample=self.net(x.flatten(1), t).view_as(x))


mine, theirs = copy.deepcopy(untrained), copy.deepcopy(untrained)
mine_ema = EMA(mine, EMA_DECAY)
train_tiny(mine, mine_ema, 50)
with tempfile.TemporaryDirectory() as tmp:
    state = train_eps_model(AsImages(theirs), lambda step, b: gmm_batch(step, b)[:, :, None, None], steps=50,
                            batch_size=BATCH, lr=LR, warmup=WARMUP, ema_decay=EMA_DECAY, seed=SEED,
                            ckpt_path=f"{tmp}/ckpt.safetensors", log_path=f"{tmp}/log.jsonl")
for (name, p_mine), p_theirs in zip(mine.named_parameters(), theirs.parameters()):
    torch.testing.assert_close(p_mine, p_theirs)
for name, v in mine_ema.shadow.items():
    torch.testing.assert_close(v, state.ema.shadow[f"net.{name}"])

# %% [markdown]
# **The loss curve, and its floor.** The loss cannot reach zero: no network can predict the noise
# better than its conditional mean $\mathbb E[\varepsilon\mid x_t] = \varepsilon^*(x_t, t)$, which for
# the mixture is known exactly. The best achievable loss is
# $\mathbb E\|\varepsilon - \varepsilon^*(x_t, t)\|^2$ (per coordinate, as `F.mse_loss` averages), and
# the loss of any network splits into that floor plus its own error:
# $\mathbb E\|\varepsilon - \varepsilon_\theta\|^2 = \mathbb E\|\varepsilon - \varepsilon^*\|^2 + \mathbb E\|\varepsilon^* - \varepsilon_\theta\|^2$.
# The second term, per noise level, is what we plot next to the curve:
# $e(t) = \mathbb E_{x_t\sim p_t}\|\varepsilon_\theta(x_t,t) - \varepsilon^*(x_t,t)\|^2$ per coordinate.

# %%
g = gen(20)
t_f = torch.arange(sched.T).repeat(100)              # every t 100 times: the uniform t, stratified
x0_f = mix.mixture.sample(t_f.numel(), g)
eps_f = torch.randn(x0_f.shape, generator=g, dtype=torch.float64)
a_f = sched.alpha_bar[t_f][:, None]
with torch.no_grad():
    loss_floor = float(((mix.eps(a_f.sqrt() * x0_f + (1 - a_f).sqrt() * eps_f, t_f) - eps_f) ** 2).mean())


def noisy_points(t, n=4000):
    """x_t ~ p_t, the noise that made it, and the exact ε*(x_t, t) = E[ε | x_t]."""
    g = gen(21)
    x0 = mix.mixture.sample(n, g)
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    x_t = sched.noise(x0, t, eps)
    return x_t, eps, mix.eps(x_t, t)


def eps_error(model, t, n=4000):
    """e(t): the mean squared gap between the network's ε and the exact ε*, over x_t ~ p_t."""
    x_t, _, eps_star = noisy_points(t, n)
    with torch.no_grad():
        return float(((model(x_t.float(), torch.full((n,), t)) - eps_star.float()) ** 2).mean())


t_eval = [5, 10, 20, 30, 50, 100, 150, 250, 400, 600, 800, 999]
err_tiny = {t: eps_error(tiny_net, t) for t in t_eval}
err_untrained = {t: eps_error(untrained, t) for t in t_eval}
floor_t = {t: float(((lambda x, e, es: (e - es) ** 2)(*noisy_points(t))).mean()) for t in t_eval}
smooth = torch.tensor(losses).unfold(0, 50, 50).mean(1)          # means over 50 steps, like train_log.jsonl
loss_end = float(torch.tensor(losses[-500:]).mean())

fig, ax = plt.subplots(1, 2, figsize=(11, 3.4))
ax[0].semilogy(torch.arange(1, smooth.numel() + 1) * 50, smooth, label="training loss (mean of 50 steps)")
ax[0].axhline(loss_floor, color="tab:green", ls=":", label="floor E‖ε − ε*‖² (exact ε*)")
ax[0].set(xlabel="step (batch 512)", ylabel="ε-MSE", title="tiny MLP training loss", ylim=(0.8 * loss_floor, 1.2))
ax[0].legend(fontsize=8)
ax[1].loglog(t_eval, list(err_untrained.values()), "o-", color="gray", label="untrained")
ax[1].loglog(t_eval, list(err_tiny.values()), "o-", color="tab:orange", label="trained (EMA)")
ax[1].loglog(t_eval, list(floor_t.values()), ":", color="tab:green", label="floor E‖ε − ε*‖² at t")
ax[1].set(xlabel="t", ylabel="e(t) = E‖ε_θ − ε*‖²", title="the network's ε error per noise level")
ax[1].legend(fontsize=8)
fig.tight_layout()
print(f"loss floor {loss_floor:.4f}; training loss over the last 500 steps {loss_end:.4f}")
print("e(t), trained:  ", {t: round(e, 4) for t, e in err_tiny.items()})
print("e(t), untrained:", {t: round(e, 3) for t, e in err_untrained.items()})
print("floor at t:     ", {t: round(e, 4) for t, e in floor_t.items()})

# %%
floor_share = loss_floor / loss_end
assert loss_floor < loss_end and floor_share > 0.8               # most of the final loss is the floor
assert floor_t[5] > 0.5 and floor_t[800] < 0.01                  # unpredictable noise at small t, none at large t
assert err_tiny[150] < 0.01 * err_untrained[150]                 # at a mid noise level: 100× better than untrained
assert max(err_tiny, key=err_tiny.get) <= 50                     # the network is worst at small t…
assert err_tiny[30] > 10 * err_tiny[150]                         # …by more than 10× against t = 150

# %%
Markdown(f"The floor is high: it is {floor_share:.0%} of the training loss of the last 500 steps. Most of the "
         "loss is noise that no network can predict: at small $t$, $x_t \\approx x_0$ and the added noise is "
         "almost invisible in it, while at large $t$ the noise *is* $x_t$ (dotted line, right). The network's "
         f"own error $e(t)$ is smallest at moderate and large $t$, where $p_t$ is smooth, and largest at "
         f"t = {max(err_tiny, key=err_tiny.get)}, where the exact ε* changes across the width of a thin "
         "cluster. The score fields show where: learned (orange) and exact (blue) arrows, "
         "$\\nabla\\log p_t = -\\varepsilon/\\sqrt{1-\\bar\\alpha_t}$, on the grid of section 2.")

# %%
fig, ax = plt.subplots(1, 2, figsize=(9, 4.4))
for a, t in zip(ax, [30, 150]):
    exact_score = mix.score(grid, t)
    with torch.no_grad():
        learned_score = -tiny_net(grid.float(), torch.full((grid.shape[0],), t)) / float(1 - sched.ab(t)) ** 0.5
    scale = float(exact_score.norm(dim=1).max()) * 8
    a.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.15, color="gray")
    a.quiver(grid[:, 0], grid[:, 1], exact_score[:, 0], exact_score[:, 1], color="tab:blue", alpha=0.7,
             scale=scale, label="exact")
    a.quiver(grid[:, 0], grid[:, 1], learned_score[:, 0], learned_score[:, 1], color="tab:orange", alpha=0.7,
             scale=scale, label="learned")
    a.set(title=f"score at t = {t}: e(t) = {err_tiny[t]:.3f}", xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), aspect="equal")
ax[0].legend(loc="lower right", fontsize=7)
fig.tight_layout();

# %% [markdown]
# **Samples.** Wrapping the MLP as a `Prior` (it needs only `_eps`) gives it the package's samplers
# and every solver of the course. DDIM-100 from the learned ε, next to exact samples and to
# DDIM-100 from the learned ε with the last steps ($t \le 50$, where $e(t)$ is largest) handed to
# the exact ε; the bars are the share of samples each component claims (by its responsibility),
# against the mixture's weights, with section 3's DDIM-100 from the exact ε for reference.

# %%
class TinyPrior(Prior):
    """The trained MLP as a diffusion prior on 2-D points."""

    image_shape = (2,)
    clamp_default = False
    name = "tiny-mlp"

    def __init__(self, net):
        super().__init__(sched)
        self.net = net

    def _eps(self, x_t, t):
        with torch.no_grad():
            return self.net(x_t.float(), t).to(x_t)


class HandOver(TinyPrior):
    """The learned ε for t > t_exact, the exact ε of the mixture for t ≤ t_exact."""

    def __init__(self, net, t_exact):
        super().__init__(net)
        self.t_exact = t_exact

    def _eps(self, x_t, t):
        late = (t <= self.t_exact).view(-1, 1)
        return torch.where(late, mix.eps(x_t, t), super()._eps(x_t, t))


tiny_samples = TinyPrior(tiny_net).sample(2000, 100, generator=gen(11)).double()   # the seeds of section 3's DDIM run
handover_samples = HandOver(tiny_net, 50).sample(2000, 100, generator=gen(11)).double()
sw_tiny = metrics.sliced_wasserstein(tiny_samples, exact, generator=gen(12))


def shares(x):
    return torch.bincount(mix.mixture.responsibilities(x).argmax(1), minlength=6).double() / x.shape[0]


share = {"mixture weights": mix.mixture.weights, "exact samples": shares(exact),
         "DDIM-100, exact ε": shares(ddim_mix), "DDIM-100, learned ε": shares(tiny_samples)}
tv_tiny = 0.5 * float((share["DDIM-100, learned ε"] - mix.mixture.weights).abs().sum())
worst_ratio = float((share["DDIM-100, learned ε"] / mix.mixture.weights).min())
low_density = float(mix.mixture.log_prob(exact).quantile(0.01))          # 1 % of exact samples lie below
off = {k: float((mix.mixture.log_prob(x) < low_density).double().mean())
       for k, x in (("exact ε", ddim_mix), ("learned ε", tiny_samples), ("learned, exact for t ≤ 50", handover_samples))}

fig, ax = plt.subplots(1, 4, figsize=(16, 3.9), gridspec_kw={"width_ratios": [1, 1, 1, 1.3]})
for a, x, title, c in ((ax[0], exact, "exact samples", "tab:blue"),
                       (ax[1], tiny_samples, f"DDIM-100, learned ε: sliced W = {sw_tiny:.3f}\n"
                                             f"(exact ε {sw_ddim:.3f}, exact vs exact {sw_ref:.3f})", "tab:orange"),
                       (ax[2], handover_samples, "learned ε, exact ε for t ≤ 50", "tab:purple")):
    a.scatter(x[:, 0], x[:, 1], s=1, alpha=0.4, color=c)
    a.set(title=title, aspect="equal", xlim=(-1.2, 1.2), ylim=(-1.2, 1.2))
for j, (k, v) in enumerate(share.items()):
    ax[3].bar(torch.arange(6) + 0.2 * j - 0.3, v, width=0.2, label=k)
ax[3].set(xlabel="mixture component", ylabel="share of samples", title="mass per component")
ax[3].legend(fontsize=7)
fig.tight_layout()
print(f"learned ε: sliced W {sw_tiny:.3f}, total variation of the component shares {tv_tiny:.3f}, "
      f"smallest share/weight {worst_ratio:.2f}")
print("share of samples where the mixture density is below that of 99 % of exact samples:",
      {k: f"{v:.1%}" for k, v in off.items()})

# %%
assert sw_tiny < 3 * sw_ddim                  # within a factor 3 of the same sampler with the exact ε
assert tv_tiny < 0.1                          # the component masses are roughly right…
assert worst_ratio > 1 / 3                    # …and every cluster is found (at least a third of its weight)
assert off["learned ε"] > 5 * 0.01            # …but many samples land between the clusters,
assert off["learned, exact for t ≤ 50"] < 0.25 * off["learned ε"]   # and the last steps (t ≤ 50) put them there

# %%
Markdown(f"The learned sampler finds every cluster with roughly the right mass (total variation {tv_tiny:.2f}; "
         f"no cluster below {worst_ratio:.0%} of its weight), but {off['learned ε']:.1%} of its samples land where "
         f"the mixture is thinner than for all but 1 % of exact samples (exact ε: {off['exact ε']:.1%}): the web "
         "between the clusters. That is the small-$t$ error at work: the last steps, which should pull each "
         "sample onto a thin cluster, run on the least accurate part of ε_θ. Hand just those steps "
         f"($t \\le 50$) to the exact ε and the share drops to {off['learned, exact for t ≤ 50']:.1%}.\n\n"
         "What the miniature says about the real thing: the loss curve of `glyphs32` (section 5) also "
         "flattens at a floor nobody can see, because for images the exact ε* is unknown, and the loss "
         "averages over $t$. Here the loss ends within "
         f"{1 / floor_share - 1:.0%} of its floor and the samples are still visibly blurred: a flat loss does "
         "not say how good the samples are. That is why section 3 measures samples, not losses.")

# %% [markdown]
# ## Sampling faster on a CPU
# Every pass above ran the network eagerly in float32. For long sampling runs,
# `load_prior("glyphs32", dtype=torch.bfloat16).compile()` compiles the network (`torch.compile`
# with its weights frozen into the graph) for every pass that needs no gradient — sampling,
# purification, DDIM — while DPS-style gradients still run the eager network. On two CPU cores
# DDIM-50 for 64 glyphs is faster, at the same share of confident samples, after a one-off compilation
# on the first call — which is why this notebook does not use it. `benchmarks/eval_prior.py` measured it:

# %%
ev_prior = json.loads((weights_dir(PRIOR) / "eval.json").read_text())
fast = ev_prior["compiled_bf16"]
assert fast["ddim50_64_seconds_median"] < ev_prior["ddim50_64_seconds_median"]
Markdown(f"median DDIM-50 time for 64 glyphs {ev_prior['ddim50_64_seconds_median']:.1f} s eager in float32, "
         f"{fast['ddim50_64_seconds_median']:.1f} s compiled in bfloat16 ({ev_prior['threads']} threads); confident "
         f"share {ev_prior['confident_share']:.1%} and {fast['confident_share']:.1%} on {ev_prior['n']:,} samples; the "
         f"first compiled call took {fast['compile_seconds_first_call']:.0f} s.")

# %% [markdown]
# ## Switching to a pretrained 256×256 model
# With a GPU and internet, `python data_scripts/fetch_pretrained.py google/ddpm-ema-celebahq-256`
# once, then `PRIOR = "google/ddpm-ema-celebahq-256"` above: `load_prior` returns the same
# interface (`eps`, `x0`, `sample`, `purify`), so every cell that does not use the glyph classifier
# runs unchanged on faces (use `invlab.test_image(name, 256)` for inputs). Notebook 10 goes further.
#
# ## What we see on our prior
# - Tweedie's estimate is sharp at small $t$ and a blurred average at large $t$ — on the mixture it
#   literally lands between clusters.
# - DDIM reads as well at 10 steps as at 50 (no measurable difference in the classifier's share);
#   DDPM is the noisiest sampler at 10 steps and the best at 50 (section 3).
# - Purification trades fidelity for realism through one number, $t_\text{start}$.
# - Training in miniature: the DDPM loss flattens at a floor set by the data, not by the network;
#   on the mixture, where that floor and the exact ε are known, the learned ε is worst at small $t$,
#   and its DDIM samples find all six clusters with roughly the right mass but leave many samples
#   between them — a loss close to its floor does not mean sharp samples.
#
# ## Exercises
# Each exercise has a hint; worked solutions, executed, are in
# [02 · Solutions to the exercises](02_diffusion_priors_solutions.ipynb).
#
# 1. Plot the error of Tweedie's estimate against $t$ for 64 test glyphs. Where does it saturate?
#    <details><summary>Hint</summary>Noise the same glyphs with the same ε at a dozen values of t and compare `prior.x0` with x₀, as in section 2. Compare the curve with the error of the mean training glyph, which is what E[x₀ | x_t] tends to, and look closely at the last few t, where Tweedie's formula divides by a tiny √ᾱ_t.</details>
#
# 2. Sample with DDIM at $\eta \in \{0, 0.5, 1\}$ and 20 steps. Which gives the lowest Fréchet distance?
#    <details><summary>Hint</summary>Start every η from the same x_T so the samples pair by index, and compute the Fréchet distance against real test glyphs. Before ranking, bootstrap the differences over the samples: with a few dozen samples the distance moves a lot. A per-sample measure, such as the classifier's top probability, can go through `paired_difference`.</details>
#
# 3. On `gmm2d`, run DDPM with 20 steps: which clusters lose mass? Compare with the exact weights.
#    <details><summary>Hint</summary>Use `mix.sample(n, 20, method="ddpm")` and the responsibilities of section 6 to count samples per component; a binomial interval per share tells real losses from noise. Look at where the mixture's mean lies, and at what Tweedie's x̂₀ is early in the chain.</details>
#
# 4. Purify a glyph corrupted by SR×4 (`make_problem("sr4", ...)`, upsampled by `op.pinv`) instead
#    of a box. Which $t_\text{start}$ works best, and is it higher or lower than for the box? Why?
#    <details><summary>Hint</summary>Purify both corruptions of the same glyphs at the same grid of t_start and steps, and compare PSNR per glyph (paired) against no purification. Think about which structures each corruption destroys (the 12-pixel box of section 4 erases a whole stroke; SR×4 erases detail inside 4×4 blocks) and which noise level erases structures of that scale.</details>
#
# 5. Train the tiny MLP for 100, 300 and 600 steps (snapshots of one run; for the full size,
#    1000, 2500 and 5000). Plot $e(t)$ for each: which noise levels are learned first? Does the
#    sliced Wasserstein distance of the samples follow $e(t)$ at small or at large $t$?
#    <details><summary>Hint</summary>With per-step generators and a constant learning rate after warm-up, the EMA weights after k steps of one long run are a k-step run, so keep copies at the snapshot steps. To see which t the samples depend on, hand one band of t at a time to the exact ε (like `HandOver` in section 6) and watch the sliced W.</details>
#
# 6. Drop the time input (feed $x_t$ only). How far above the floor does the loss stay, and why can
#    a network that does not know $t$ not reach it?
#    <details><summary>Hint</summary>The best t-blind prediction is E[ε | x_t] with t averaged out: Σ_t p(t | x) ε*(x, t), with p(t | x) ∝ p_t(x). On the mixture every p_t is a Gaussian mixture (means √ᾱ μ_k, covariances ᾱΣ_k + (1−ᾱ)I), so this floor can be computed exactly and compared point by point with the t-aware one.</details>
#
# 7. Use `TinyPrior(tiny_net)` as the prior of notebook 03's 2-D problem (`gmm2d_problem`) and run
#    DPS. How do its posterior samples compare with DPS on the exact mixture?
#    <details><summary>Hint</summary>DPS differentiates through ε_θ, so the wrapper must not switch off autograd (this notebook's `TinyPrior._eps` does). Run both priors with the same generator so the samples pair by starting noise, and besides the sliced W count, per sample, how many land where the exact posterior density is low.</details>
#
# ## Further reading
# All references, with venues, arXiv ids and official code, are on the course's references page,
# [docs/references.md](../docs/references.md); the notebooks cite them by the key in brackets.
# - [DDPM] Ho, Jain, Abbeel, *Denoising Diffusion Probabilistic Models* (NeurIPS 2020), eqs. 6–7 for
#   the posterior step; [DDIM] Song, Meng, Ermon, *Denoising Diffusion Implicit Models* (ICLR 2021),
#   eq. 12 for the deterministic step.
# - [Tweedie] Efron, *Tweedie's Formula and Selection Bias* (JASA 2011); [ScoreSDE] Song et al.
#   (ICLR 2021) for the score view.
# - [SDEdit] Meng et al. (ICLR 2022); [DiffPure] Nie et al. (ICML 2022) — purification.
# - Next: **03 · posterior sampling by guidance** — steering this sampler with a measurement.
