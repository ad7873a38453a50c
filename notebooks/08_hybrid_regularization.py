# %% [markdown]
# # 08 · Regularisation by denoising: RED-diff, consistency regularisation, HRDIS
#
# The last family treats restoration as plain **optimisation of an image** $\mu$: a data term
# plus a regulariser built from the diffusion model, minimised with Adam. RED-diff ([RED-diff], Mardani et al.
# 2024) draws fresh noise at every step; HRDIS ([HRDIS]) keeps most of the previous step's
# predicted noise and mixes in a little fresh noise — a single number $\beta$ between the two.
#
# **You will learn**
# - the variational view and why its gradient needs no network Jacobian;
# - the bootstrap target $\hat x_0$ and why it jitters under fresh noise (DR) and not under
#   consistent noise (CR);
# - hybrid regularisation as a noise mix with constant variance, and the β sweep on glyphs;
# - diversity over seeds (HRDIS) against RED-diff, and what 10× fewer steps cost.

# %% [markdown]
# ## Parameters

# %%
PRIOR = "glyphs32"   # on a GPU: "google/ddpm-ema-celebahq-256"
SEED = 0
N_GLYPHS = 16
SIGMA_Y = 0.0        # the paper's main tables are noiseless
STEPS_LIVE = 10      # section 5: steps of each benchmark run retraced live

# %%
import csv
import math
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from safetensors.torch import load_file

import invlab
from invlab import metrics
from invlab.diffusion import timesteps
from invlab.solvers import SOLVERS, Result
from invlab.solvers.regularization import omega
from invlab.stats import paired_difference
from invlab.viz import show_images, show_trajectory
from IPython.display import Markdown

device = invlab.setup_notebook(seed=SEED)
prior = invlab.load_prior(PRIOR, device=device)
x_true, labels = invlab.glyphs(N_GLYPHS, split="test", seed=SEED)
x_true = x_true.to(device)
RESULTS = next(p for p in (Path("../benchmarks/results"), Path("benchmarks/results")) if p.exists())


def gen(seed=SEED):
    return torch.Generator().manual_seed(seed)


def high_freq(x):
    """The high-frequency energy the paper uses to call an image sharp (mean squared Laplacian)."""
    return float(metrics.laplacian_energy(x).mean())


def seeds_by_glyphs(rows, key="psnr", **match):
    """[seeds, glyphs] of column ``key`` over a benchmark's rows (one per seed and glyph) whose columns
    equal ``match``: the shape :func:`paired_difference` pairs over glyphs and seeds."""
    v = {(int(r["seed"]), int(r["image"])): float(r[key]) for r in rows
         if all(r[k] == str(m) for k, m in match.items())}
    seeds, glyphs = sorted({s for s, _ in v}), sorted({i for _, i in v})
    return torch.tensor([[v[s, i] for i in glyphs] for s in seeds], dtype=torch.float64)


# %% [markdown]
# ## 1 · The variational view
#
# RED-diff minimises over an image $\mu$
# $$\lambda_1\,\tfrac12\|y - A\mu\|^2 \;+\; \omega_t\,\big\langle \mathrm{sg}\big[\varepsilon_\theta(\mu_t, t) - \varepsilon\big],\ \mu\big\rangle,
# \qquad \mu_t = \sqrt{\bar\alpha_t}\,\mu + \sqrt{1-\bar\alpha_t}\,\varepsilon,$$
# walking $t$ down from 1000 to 0, one Adam step per $t$. The second term is a score-distillation
# loss: its gradient is $\omega_t(\varepsilon_\theta - \varepsilon)$, the network's *output* — the stop-gradient
# $\mathrm{sg}$ means no backpropagation through the network. $\omega_t = \lambda_2\sigma_t/\alpha_t$
# weights the prior more at large $t$.
#
# **HRDIS** changes only the noise: $\varepsilon_h = \sqrt{1-\beta}\,\varepsilon_\text{prev} + \sqrt\beta\,\varepsilon_\text{fresh}$,
# where $\varepsilon_\text{prev}$ is the network's prediction at the previous step. Both parts are unit
# Gaussians (approximately, for $\varepsilon_\text{prev}$), so the variance stays 1: $\beta = 1$ is RED-diff
# ("DR", fresh noise), $\beta = 0$ is consistency regularisation ("CR": the network's own prediction
# is fed back, like a consistency-model trajectory), $\beta = 0.2$ the paper's hybrid.
#
# The loop, written out (box inpainting), then checked against the package:

# %%
pb = invlab.make_problem("box_inpaint", x_true, sigma_y=SIGMA_Y, seed=SEED)


def hrdis_by_hand(problem, prior, *, beta, steps, lr, lambda2, generator):
    sched = prior.schedule
    mu = problem.op.pinv(problem.y).clone().requires_grad_(True)          # start from A⁺y
    opt = torch.optim.Adam([mu], lr=lr, betas=(0.9, 0.99))
    eps_prev = None
    for t in timesteps(prior.T, steps, "leading").tolist():               # descending
        fresh = torch.randn(mu.shape, generator=generator)
        eps_h = fresh if eps_prev is None else math.sqrt(1 - beta) * eps_prev + math.sqrt(beta) * fresh
        a = sched.ab(t, mu)
        with torch.no_grad():
            eps_t = prior.eps(a.sqrt() * mu + (1 - a).sqrt() * eps_h, t)  # no grad through the network
        if eps_prev is not None:                                          # HRDIS: step 1 only seeds ε_prev
            prior_term = ((eps_t - eps_h) * mu).flatten(1).mean(1)         # ⟨sg(ε_θ − ε_h), µ⟩ / D
            data_term = ((problem.y - problem.op(mu)) ** 2).flatten(1).mean(1) / 2
            loss = (omega(sched, t, lambda2, "linear") * prior_term + data_term).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        eps_prev = eps_t
    return mu.detach()


mine = hrdis_by_hand(pb, prior, beta=0.2, steps=30, lr=0.1, lambda2=0.25, generator=gen())
with warnings.catch_warnings():       # 30 steps (below HRDIS's minimum) only to compare with the loop by hand
    warnings.simplefilter("ignore", UserWarning)
    pkg = invlab.solvers.hrdis(pb, prior, steps=30, generator=gen())
torch.testing.assert_close(mine, pkg.x)
print(f"NFE {pkg.nfe}, VJP {pkg.vjp}: the network is only ever evaluated")

# %% [markdown]
# ### How HRDIS's estimate evolves
#
# RED-diff and HRDIS have no $\hat x_0$ of their own: their estimate is the image $\mu$ being
# optimised — the callback's third argument (its fourth is the bootstrap target of section 2). One
# glyph, box inpainting, HRDIS with its defaults: $\mu$ at every step, and its per-pixel RMS
# residual $\sqrt{\|y - A\mu\|^2/m}$. The data are noiseless, so the true glyph's residual is 0.

# %%
pb0 = invlab.make_problem("box_inpaint", x_true[:1], sigma_y=SIGMA_Y, seed=SEED)
ts_one, mus, rms = [], [], []


def keep(i, t, mu, x0):
    ts_one.append(t)
    mus.append(mu.clone())
    rms.append(float(metrics.residual(pb0, mu).sqrt()))


invlab.solvers.hrdis(pb0, prior, generator=gen(), callback=keep)
picks = [0, 2, 6, 15, 30, 60, 100, len(mus) - 1]
show_trajectory([x_true[:1]] + [mus[i] for i in picks], ["truth"] + [f"step {i}\nt={ts_one[i]}" for i in picks],
                title=f"HRDIS µ along one run ({len(mus)} steps), box inpainting")
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(range(1, len(rms)), rms[1:], label="HRDIS µ")
ax.set(xlabel="step", ylabel="RMS of y − A µ", title="HRDIS: residual along one run (step 0: A⁺y, residual 0)")
ax.legend()
fig.tight_layout();

# %%
peak = max(range(len(rms)), key=rms.__getitem__)
assert rms[0] < 1e-6                          # A⁺y explains noiseless inpainting data exactly
assert 0 < peak < len(rms) // 10              # the pull off the data comes in the first steps
assert rms[-1] < rms[peak] / 10               # the prior's pull off the data is undone by the end
Markdown(f"$\\mu$ starts at $A^+y$, which fits the data exactly (residual {rms[0]:.1g}) and leaves the hole "
         f"at 0 (mid-grey). The first steps, where $\\omega_t$ weights the prior most, pull $\\mu$ off the data: the "
         f"residual peaks at {rms[peak]:.3f} at step {peak} (t = {ts_one[peak]}). As $t$ falls the data term "
         f"takes over again, and the run ends at {rms[-1]:.4f}, {rms[peak] / rms[-1]:.0f}× below the peak.")

# %% [markdown]
# ## 2 · The bootstrap target, step by step
#
# At every step the network implies a clean image $\hat x_0(\mu_t)$ — the "target" the regulariser
# pulls $\mu$ towards. With fresh noise (DR) each step sees a new noise draw and the target jumps
# around; with consistent noise (CR) consecutive targets agree. The paper's figure, on one glyph:

# %%
targets = {}
pb1 = invlab.make_problem("box_inpaint", x_true[4:5], sigma_y=SIGMA_Y, seed=SEED)
for beta in (1.0, 0.0):
    frames = []
    invlab.solvers.hrdis(pb1, prior, beta=beta, generator=gen(),
                     callback=lambda i, t, mu, x0: frames.append(x0[0].clone()))
    targets[beta] = frames
picks = [60, 61, 62, 63, 64, 65]
show_images([targets[1.0][i] for i in picks] + [targets[0.0][i] for i in picks],
            [f"DR step {i}" for i in picks] + [f"CR step {i}" for i in picks], ncols=6, size=1.3);

# %%
jitter = {b: float(torch.stack([(f[i + 1] - f[i]).pow(2).mean() for i in range(30, len(f) - 1)]).mean())
          for b, f in targets.items()}
print({("DR" if b == 1.0 else "CR"): round(v, 4) for b, v in jitter.items()}, "mean squared change of x̂₀ per step")
assert jitter[1.0] > 3 * jitter[0.0]

# %% [markdown]
# ## 3 · The β sweep
#
# β from 0 (CR) to 1 (RED-diff) on box inpainting, free-form inpainting and SR×4 (16 glyphs, the
# paper's steps and learning rates: 150 steps at lr 0.1 for inpainting, 100 at lr 0.5 for SR),
# with PSNR, classifier accuracy, Fréchet distance to 256 other test glyphs (biased upwards for 16
# images: compare rows), and the high-frequency energy of the output (sharpness). Fifteen runs of
# 100–150 network passes on 16 glyphs take longer than this notebook may, so one run of
# `benchmarks/bench_regularization.py` measured them; we read its table and re-run the two rows
# the claims compare (HR and DR on box inpainting) as a regression check.

# %%
BETAS = [0.0, 0.1, 0.2, 0.5, 1.0]
with open(RESULTS / "hrdis_sweep.csv") as f:
    sweep = {(r["task"], float(r["beta"])): {k: float(r[k]) for k in ("psnr", "accuracy", "fd", "hf")}
             for r in csv.DictReader(f)}
pictures = load_file(str(RESULTS / "hrdis_sweep_glyph2.safetensors"))
print(f"{'task':16s} {'β':>4s} {'PSNR':>6s} {'acc':>5s} {'FD':>6s} {'HF':>6s}")
for (task, beta), s in sweep.items():
    print(f"{task:16s} {beta:4.1f} {s['psnr']:6.2f} {s['accuracy']:5.2f} {s['fd']:6.1f} {s['hf']:6.3f}")
print(f"reference HF energy of the true glyphs: {high_freq(x_true):.3f}")
live = {beta: invlab.solvers.hrdis(pb, prior, beta=beta, generator=gen()) for beta in (0.2, 1.0)}
for beta, r in live.items():
    q = metrics.scorecard(pb, r, labels)["psnr"]
    print(f"live re-run, box inpainting, β = {beta}: {q:.2f} dB")
    assert abs(q - sweep["box_inpaint", beta]["psnr"]) < 0.05              # the benchmark row reproduces

# %%
for task in ("box_inpaint", "freeform_inpaint", "sr4"):
    show_images([x_true[2]] + [pictures[f"{task}/{b}"] for b in BETAS],
                ["truth"] + [f"β={b}" for b in BETAS], ncols=6, size=1.4, suptitle=task)

# %%
TASKS3 = ("box_inpaint", "freeform_inpaint", "sr4")
hr_vs_dr = {task: {k: (sweep[task, 0.2][k], sweep[task, 1.0][k]) for k in ("psnr", "accuracy", "fd", "hf")}
            for task in TASKS3}
for task, d in hr_vs_dr.items():
    print(task, {k: f"HRDIS {a:.2f} / RED-diff {b:.2f}" for k, (a, b) in d.items()})
for task in ("box_inpaint", "sr4"):
    assert hr_vs_dr[task]["psnr"][0] > hr_vs_dr[task]["psnr"][1] - 1.0         # HRDIS loses < 1 dB (here: none)
assert hr_vs_dr["freeform_inpaint"]["psnr"][0] < hr_vs_dr["freeform_inpaint"]["psnr"][1] - 1.0   # in this one run
for task in ("box_inpaint", "sr4"):
    assert hr_vs_dr[task]["accuracy"][0] > hr_vs_dr[task]["accuracy"][1]         # HRDIS reads better
top2 = {task: sorted(BETAS, key=lambda b: -sweep[task, b]["psnr"])[:2] for task in TASKS3}
print("best two β by PSNR:", top2)
assert sum(0.2 in t for t in top2.values()) >= 2          # β = 0.2 is among the best two on 2 of 3 tasks
assert 0.2 not in top2["freeform_inpaint"]                 # but not on free-form inpainting (measured)

# %% [markdown]
# That table is one run on 16 glyphs, and a dB here or there on a few glyphs is within the spread of
# seeds. `python benchmarks/bench_hrdis_efficiency.py --part equal` ran the two rows the paper compares,
# HR (β = 0.2) and DR (β = 1, RED-diff), again on the first 32 test glyphs × 3 solver seeds, each task
# at its default steps; the differences HRDIS − RED-diff below are paired over those 96 runs.

# %%
with open(RESULTS / "hrdis_equal_steps.csv") as f:
    eq_rows = list(csv.DictReader(f))


hr_dr = {t: paired_difference(seeds_by_glyphs(eq_rows, task=t, beta=0.2), seeds_by_glyphs(eq_rows, task=t, beta=1.0),
                              generator=gen()) for t in TASKS3}
hr_dr_acc = {t: paired_difference(seeds_by_glyphs(eq_rows, "correct", task=t, beta=0.2),
                                  seeds_by_glyphs(eq_rows, "correct", task=t, beta=1.0), generator=gen()) for t in TASKS3}


def within_1db(d):
    """The paper's "loses at most 1 dB", read from the interval of HRDIS − RED-diff."""
    return "holds" if d.low > -1 else ("fails" if d.high < -1 else "is not established")


for t in TASKS3:
    print(f"{t:16s} PSNR: {hr_dr[t].verdict('HRDIS', 'RED-diff')}; accuracy: "
          f"{hr_dr_acc[t].verdict('HRDIS', 'RED-diff', unit='', digits=2)}; within 1 dB {within_1db(hr_dr[t])}")

# %%
assert hr_dr["sr4"].low > 0 and within_1db(hr_dr["sr4"]) == "holds"              # SR×4: HRDIS measurably ahead
assert all(hr_dr[t].holds_zero and within_1db(hr_dr[t]) == "is not established"  # inpainting: no measurable
           for t in ("box_inpaint", "freeform_inpaint"))                          # difference, a 1 dB loss not excluded

# %% [markdown]
# ## 4 · Diversity: eight seeds for one measurement
#
# The paper's claim: RED-diff collapses — whatever the seed, it returns nearly the same image — and
# HRDIS's partially fresh noise keeps some diversity in the hole. The two runs (150 steps each) are
# `python benchmarks/bench_hrdis_steps.py`'s, with exactly these settings; it kept every sample's
# RMS residual at every step. Each run is started again here and stopped after its first
# `STEPS_LIVE` steps (a callback that raises): with the same seed it must retrace them.

# %%
stored = load_file(str(RESULTS / "hrdis_steps.safetensors"))


class StopRun(Exception):
    """Raised by the callback below to end a run after its first steps."""


def first_steps(problem, k, out):
    """A solver callback that keeps every sample's RMS residual at each step and stops the run after k steps."""
    def callback(i, t, mu, x0):
        out.append(metrics.residual(problem, mu).sqrt().double())
        if i + 1 == k:
            raise StopRun
    return callback


def retrace(name, problem, ref, solver, seed=SEED, **kw):
    """Run ``solver`` for its first STEPS_LIVE steps and check every sample's residual against ``ref``
    (steps × samples, the benchmark's)."""
    live = []
    try:
        SOLVERS[solver](problem, prior, generator=gen(seed), callback=first_steps(problem, STEPS_LIVE, live), **kw)
    except StopRun:
        pass
    live, ref = torch.stack(live), ref[:STEPS_LIVE].reshape(STEPS_LIVE, -1)
    live = live[:, :ref.shape[1]]
    gap = float(((live - ref).abs() / ref.abs().clamp_min(1e-12)).where(ref > 0, live.abs()).max())
    print(f"{name}: first {len(live)} steps live, largest relative gap to the benchmark's residuals {gap:.1e}")
    assert len(live) == STEPS_LIVE and gap < 1e-3                       # the benchmark's run, retraced


p1 = invlab.make_problem("box_inpaint", x_true[5:6], sigma_y=SIGMA_Y, seed=SEED).repeat(8)
for beta in (0.2, 1.0):
    retrace(f"diversity, β = {beta}", p1, stored[f"diversity/{beta}/rms"], "hrdis", beta=beta, seed=3)
div = {beta: stored[f"diversity/{beta}/x"] for beta in (0.2, 1.0)}
std = {beta: float(v.std(0).mean()) for beta, v in div.items()}
show_images(list(div[0.2].clamp(-1, 1)) + list(div[1.0].clamp(-1, 1)),
            ["HRDIS"] * 8 + ["RED-diff"] * 8, ncols=8, size=1.2);
print({f"β={b}": round(v, 4) for b, v in std.items()}, "pixel-wise std over 8 seeds")
assert std[0.2] > std[1.0]                                                        # on this glyph, HRDIS varies more

# %% [markdown]
# One glyph says little. `python benchmarks/bench_hrdis_efficiency.py --part diversity` ran the same
# experiment on each of the first 16 test glyphs (this one among them, with the same seed): the
# spread over 8 seeds per glyph, paired across glyphs.

# %%
with open(RESULTS / "hrdis_diversity.csv") as f:
    div_rows = list(csv.DictReader(f))
spread = {b: torch.tensor([float(r["std"]) for r in div_rows if float(r["beta"]) == b]) for b in (0.2, 1.0)}
div_gain = paired_difference(spread[0.2], spread[1.0], generator=gen())
assert all(abs(float(spread[b][5]) - std[b]) < 1e-4 for b in std)     # glyph 5: the run above
more = int((spread[0.2] > spread[1.0]).sum())
Markdown(f"Over {len(spread[0.2])} glyphs, HRDIS's spread is larger than RED-diff's on {more}; paired: "
         f"{div_gain.verdict('HRDIS (β = 0.2)', 'RED-diff (β = 1)', unit='', digits=4)} (pixel-wise standard "
         "deviation over 8 seeds, averaged over the image).")

# %% [markdown]
# ## 5 · Steps: HRDIS at 100 vs RED-diff at 1000
#
# The paper claims an order of magnitude fewer steps than RED-diff. SR×4 on 2 glyphs. The
# 1000-step run alone costs more than this notebook may spend, so
# `python benchmarks/bench_hrdis_steps.py` ran the three runs with exactly these settings and kept,
# at every step, what the callback saw (t, µ of glyph 0 and its RMS residual). We read its
# results; here each run is started again and stopped after its first `STEPS_LIVE` steps (a
# callback that raises): with the same seeds it must retrace the benchmark's residuals.

# %%
p4 = invlab.make_problem("sr4", x_true[:2], sigma_y=SIGMA_Y, seed=SEED)
RUNS = {"HRDIS 100": ("hrdis", 100), "RED-diff 100": ("red_diff", 100), "RED-diff 1000": ("red_diff", 1000)}
with open(RESULTS / "hrdis_steps.csv") as f:
    cost = {b["run"]: b for b in csv.DictReader(f)}                  # one row per glyph; the cost repeats
eff = {name: Result(x=stored[f"{name}/x"], nfe=int(cost[name]["nfe"]), seconds=float(cost[name]["seconds"]))
       for name in RUNS}
tracks = {name: {"t": stored[f"{name}/t"].tolist(), "rms": stored[f"{name}/rms"].tolist(),
                 "mu": list(stored[f"{name}/mu"][:, None]) if f"{name}/mu" in stored else None} for name in RUNS}
eff_scores = {}
for name, (solver, steps) in RUNS.items():
    retrace(name, p4, stored[f"{name}/rms"][:, None], solver, steps=steps)   # glyph 0's residual
for name, r in eff.items():
    s = eff_scores[name] = metrics.scorecard(p4, r, labels[:2])
    print(f"{name:14s} PSNR {s['psnr']:6.2f}  acc {s['accuracy']:.2f}  NFE {r.nfe:5d}  {r.seconds:5.1f} s "
          "(the benchmark's run)")

# %% [markdown]
# Two glyphs are an anecdote. `python benchmarks/bench_hrdis_efficiency.py` ran the same three settings
# on the first 32 test glyphs (these two among them, in a batch of 32, so with other noise draws) × 3
# solver seeds; the comparisons below are paired over those 96 runs, with a bootstrap 95 % interval
# over glyphs and seeds.

# %%
with open(RESULTS / "hrdis_efficiency.csv") as f:
    eff_rows = list(csv.DictReader(f))
many = {name: seeds_by_glyphs(eff_rows, run=name) for name in RUNS}
equal_steps = paired_difference(many["HRDIS 100"], many["RED-diff 100"], generator=gen())
ten_x = paired_difference(many["RED-diff 1000"], many["HRDIS 100"], generator=gen())
print({name: round(float(v.mean()), 2) for name, v in many.items()}, f"(dB, {many['HRDIS 100'].numel()} runs each)")

# %%
assert equal_steps.low > 0                                                   # at equal steps HRDIS is ahead
assert ten_x.low > 0                                                         # RED-diff at 1000 is ahead of HRDIS at 100
Markdown(f"At equal steps, {equal_steps.verdict('HRDIS', 'RED-diff')} (100 steps each). But on our prior RED-diff "
         f"does **not** need HRDIS's help at ten times the steps: {ten_x.verdict('RED-diff at 1000 steps', 'HRDIS at 100')}"
         " — the paper's efficiency claim (\"HRDIS at 100 matches RED-diff at 1000\") does not hold here.")

# %% [markdown]
# ### How RED-diff's estimate evolves
#
# The three runs above, followed on their first glyph: RED-diff's $\mu$ along its 100 steps, and the
# per-pixel RMS residual $\sqrt{\|y - A\mu\|^2/m}$ of all three runs against $t$ (the runs have
# different step counts; HRDIS's first step only seeds $\varepsilon_\text{prev}$, so it starts at
# $A^+y$, residual 0, which a log axis cannot show).

# %%
red = tracks["RED-diff 100"]
picks = [0, 2, 5, 10, 20, 40, 70, len(red["mu"]) - 1]
show_trajectory([x_true[:1]] + [red["mu"][i] for i in picks], ["truth"] + [f"step {i}\nt={red['t'][i]}" for i in picks],
                title="RED-diff µ along one run (100 steps), SR×4")
fig, ax = plt.subplots(figsize=(6, 3))
for name, tr in tracks.items():
    start = 1 if tr["rms"][0] == 0 else 0
    ax.semilogy(tr["t"][start:], tr["rms"][start:], label=name)
ax.invert_xaxis()
ax.set(xlabel="t (the runs go from 1000 to 0 →)", ylabel="RMS of y − A µ", title="residual along the runs, glyph 0")
ax.legend()
fig.tight_layout();

# %%
end = {name: tr["rms"][-1] for name, tr in tracks.items()}
q0 = {name: float(metrics.psnr(r.x[:1].clamp(-1, 1), x_true[:1])) for name, r in eff.items()}
fit_ratio = end["RED-diff 100"] / end["RED-diff 1000"]
gain = eff["RED-diff 1000"].x[:1] - eff["RED-diff 100"].x[:1]
unseen = 1 - float((p4.op.pinv(p4.op(gain)) ** 2).sum() / (gain ** 2).sum())   # share outside A's row space
assert red["rms"][-1] < red["rms"][0] / 10                  # the residual falls by over 10× along the run
assert 0.5 < fit_ratio < 2                                  # 100 and 1000 steps fit y about equally well …
assert q0["RED-diff 1000"] > q0["RED-diff 100"] + 3         # … yet 1000 steps give a much better glyph
assert unseen > 0.5                                         # and most of the difference is invisible to A
Markdown(f"RED-diff's residual jumps to {red['rms'][0]:.2f} after its first Adam step (that step moves every pixel "
         f"by about the learning rate) and falls as $t$ decreases, to {end['RED-diff 100']:.4f} at the end of the "
         f"100-step run; the 1000-step run ends at {end['RED-diff 1000']:.4f} and HRDIS at {end['HRDIS 100']:.4f}. "
         f"So the two RED-diff runs end fitting $y$ about equally well (a factor {fit_ratio:.1f} apart), yet on this "
         f"glyph the 1000-step run is {q0['RED-diff 1000'] - q0['RED-diff 100']:.1f} dB better. What the extra "
         f"steps change is mostly what $A$ does not see: {unseen:.0%} of the difference between the two results lies "
         f"outside $A$'s row space.")

# %% [markdown]
# ## 6 · The shift: how far apart are consecutive noise levels?
#
# CR ties the prediction at $t$ to the one at the next level $t - \Delta$; the paper calls
# $\varepsilon = \Delta/T$ the *shift* and finds $\varepsilon \approx 10^{-2}$ best (sweep
# $10^{-3} \ldots 10^{-1}$). On the descending grid the shift is one grid step, $\varepsilon = 1/N$,
# so the sweep is a sweep over the number of steps. Box inpainting, 4 glyphs, HRDIS (β = 0.2);
# $\varepsilon = 10^{-3}$ (1000 steps) is left out for time — exercise 5.

# %%
SHIFTS = {0.1: 10, 0.03: 33, 0.01: 100, 0.003: 333}
pb4 = invlab.make_problem("box_inpaint", x_true[:4], sigma_y=SIGMA_Y, seed=SEED)
with warnings.catch_warnings():       # 10 and 33 steps are below HRDIS's minimum (MIN_STEPS): the sweep shows why
    warnings.simplefilter("ignore", UserWarning)
    shift_runs = {eps: invlab.solvers.hrdis(pb4, prior, steps=n, generator=gen()) for eps, n in SHIFTS.items()}
shift = {eps: metrics.scorecard(pb4, r, labels[:4]) for eps, r in shift_runs.items()}
for eps, s in shift.items():
    print(f"ε = {eps:<6} ({SHIFTS[eps]:3d} steps): PSNR {s['psnr']:6.2f}, accuracy {s['accuracy']:.2f}")
best_eps = max(SHIFTS, key=lambda e: shift[e]["psnr"])
assert shift[0.01]["psnr"] > shift[0.1]["psnr"]            # a shift of 1e-1 (10 steps) is too coarse
assert best_eps == 0.003                                   # the paper's ε ≈ 1e-2 is not the best here

# %% [markdown]
# The paper's optimum does not carry over: on our prior the smallest shift we tried
# ($\varepsilon \approx 3\cdot10^{-3}$, 333 steps) is clearly best (printed above), and
# $10^{-2}$ is only second. Because the shift is tied to the step count here, a smaller shift
# also means more optimisation steps — the sweep cannot separate the two effects, and the paper's
# (which varies the shift at a fixed step count in its consistency-distillation view) may not be
# the same experiment.

# %% [markdown]
# ## 7 · Other noise: Poisson counts and speckle
#
# The data term follows the noise model of the problem: least squares for Gaussian noise; for
# photon counts (Poisson) and multiplicative speckle (Gamma) a least squares weighted by each
# pixel's inverse noise variance — the likelihood's curvature — on the Gaussian term's scale.
# The regulariser does not change. SR×4, 4 glyphs:

# %%
NOISES = {"gaussian σ=0.05": dict(sigma_y=0.05), "poisson rate 20": dict(noise="poisson", rate=20.0),
          "speckle 10 looks": dict(noise="speckle", looks=10.0)}
noise_runs = {}
for name, kw in NOISES.items():
    p = invlab.make_problem("sr4", x_true[:4], seed=SEED, **kw)
    r = invlab.solvers.hrdis(p, prior, generator=gen())
    noise_runs[name] = (p, r, metrics.scorecard(p, r, labels[:4]))
show_images([x_true[0]] + [r.x[0].clamp(-1, 1) for _, r, _ in noise_runs.values()],
            ["truth"] + [f"{n}\n{s['psnr']:.1f} dB" for n, (_, _, s) in noise_runs.items()], ncols=4, size=1.5)
noise_gain = {}
for name, (p, r, s) in noise_runs.items():
    base = float(metrics.psnr(p.op.pinv(p.y).clamp(-1, 1), x_true[:4]).mean())
    noise_gain[name] = s["psnr"] - base
    print(f"{name:18s} HRDIS {s['psnr']:6.2f} dB, accuracy {s['accuracy']:.2f}  (A⁺y: {base:.2f} dB)")
assert noise_gain["gaussian σ=0.05"] > 2 and noise_gain["poisson rate 20"] > 2    # well above A⁺y
assert abs(noise_gain["speckle 10 looks"]) < 1.5                                  # speckle: no better than A⁺y

# %% [markdown]
# Poisson counts at rate 20 are handled almost as well as Gaussian noise of similar size. For
# the Poisson and speckle terms the package weights each pixel by its inverse variance, floored
# at the image mean — without the floor, near-black pixels (almost no variance) swamp the data
# term and HRDIS fails outright (the floor is `_data_loss` in `invlab/solvers/regularization.py`).
# Speckle with 10 looks defeats HRDIS on SR×4: it ends where $A^+y$ starts. Multiplicative noise
# with a standard deviation of 30 % of the intensity on every stroke pixel leaves too little for
# the prior to work with at these settings — an open exercise (exercise 4).

# %% [markdown]
# ## 8 · Two settings of the paper for special cases, measured
#
# Beside its main table the paper runs two more settings: for **phase retrieval**, "starting with
# random noise for the first 250 steps, followed by hybrid noise for the remaining 250" (fresh noise,
# RED-diff's rule, before the hybrid one: `hrdis(warm_start=0.5)`), and for **noisy data** a data
# weight $\lambda_1 = 0.1$ with $\omega_t$ clipped below at $2\lambda_2$ so the prior stays active
# near $t = 0$ (`lambda1=0.1, weighting="clip"`). Either would become a default only if it helped on
# our prior. `python benchmarks/bench_hrdis_paper.py` ran both against the package's defaults on 32
# held-out glyphs (the ones the defaults are tuned on) × 3 solver seeds at $\sigma_y = 0.05$; we read
# its runs (one PSNR per glyph and seed), pair them and re-run one arm here to check the file.

# %%
with open(RESULTS / "hrdis_paper.csv") as f:
    paper_rows = list(csv.DictReader(f))
arms_of = {}
for r in paper_rows:
    arms_of.setdefault(r["task"], {})[r["arm"]] = None                 # each task's arms, in the file's order
special = {t: {a: seeds_by_glyphs(paper_rows, task=t, arm=a) for a in arms_of[t]} for t in arms_of}
n_seeds, n_held = special["phase_retrieval"]["red_diff"].shape
warm = paired_difference(special["phase_retrieval"]["hrdis, warm start 0.5"],
                         special["phase_retrieval"]["hrdis, no warm start"])
red_pr = paired_difference(special["phase_retrieval"]["red_diff"], special["phase_retrieval"]["hrdis, no warm start"])
noisy = {t: paired_difference(special[t]["hrdis, noisy-data setting"], special[t]["hrdis, noiseless setting"])
         for t in ("sr4", "gaussian_blur", "box_inpaint")}
for t, arms in special.items():
    print(f"{t:16s} " + "  ".join(f"{a}: {float(v.mean()):.2f} dB" for a, v in arms.items()))

# one arm live: the defaults on SR×4, solver seed 0, must give the file's PSNR glyph by glyph
x_held, _ = invlab.glyphs(n_held, split="test", seed=1)
p_held = invlab.make_problem("sr4", x_held.to(device), sigma_y=0.05, seed=1)
live_held = metrics.psnr(invlab.solvers.hrdis(p_held, prior, generator=gen(0)).x, x_held.to(device)).double().cpu()
gap_held = float((live_held - special["sr4"]["hrdis, noiseless setting"][0]).abs().max())
print(f"SR×4 at the defaults, seed 0, live: largest per-glyph gap to the file {gap_held:.1e} dB")

# %%
assert gap_held < 1e-3                                   # the benchmark's run, retraced
assert not warm.holds_zero and warm.mean < 0             # the warm start loses on glyphs
assert all(not d.holds_zero and d.mean < 0 for d in noisy.values())   # so does the noisy-data setting
assert invlab.solvers.defaults.lookup("hrdis", "phase_retrieval")["warm_start"] == 0.0   # hence the defaults
assert invlab.solvers.defaults.lookup("hrdis", "sr4")["weighting"] == "linear"

# %%
tn8 = {"sr4": "SR×4", "gaussian_blur": "Gaussian blur", "box_inpaint": "box inpainting"}
PAPER_NOISY = "the paper's noisy-data setting"
Markdown(f"On phase retrieval (500 steps, µ started from $|F^{{-1}}y|$ as in the authors' code): "
         f"{warm.verdict('HRDIS with the warm start', 'HRDIS without it')}; RED-diff, fresh noise throughout, "
         f"against HRDIS without it: {red_pr.verdict('RED-diff', 'HRDIS')}. With noisy data, the paper's setting "
         f"against the package's (λ1 = 1, unclipped ω_t): "
         + "; ".join(f"{tn8[t]}: {d.verdict(PAPER_NOISY, 'the default')}" for t, d in noisy.items())
         + f". Both stay off by default (`invlab.solvers.defaults` shows the paper's values beside ours). "
           f"Over {n_held} glyphs × {n_seeds} seeds these are statements about the distribution on this prior; the "
           f"paper tunes λ1 for 256×256 faces, where the balance of the two loss terms differs.")

# %% [markdown]
# ## Your turn: β, λ2 and the learning rate

# %%
pw = pb4                                    # the four glyphs of the shift sweep (section 6)
done = {(0.2, 0.25, 0.1, 100): shift_runs[0.01]}   # its ε = 0.01 run is this setting at box inpainting's defaults


def show_hrdis(beta=0.2, lambda2=0.25, lr=0.1, steps=100):
    key = (beta, lambda2, lr, steps)
    r = done[key] if key in done else invlab.solvers.hrdis(pw, prior, beta=beta, lambda2=lambda2, lr=lr, steps=steps,
                                                       generator=gen())
    q = metrics.psnr(r.x.clamp(-1, 1), x_true[:4])
    show_images(list(r.x.clamp(-1, 1)), [f"{float(v):.1f} dB" for v in q], ncols=4, size=1.4,
                suptitle=f"β={beta:.3g}, λ2={lambda2:.3g}, lr={lr:.3g}, {steps} steps: mean {float(q.mean()):.1f} dB")
    return float(q.mean())


q_static = show_hrdis()
assert q_static > float(metrics.psnr(pw.op.pinv(pw.y).clamp(-1, 1), x_true[:4]).mean()) + 2
assert abs(q_static - shift[0.01]["psnr"]) < 1e-6            # the number of section 6's ε = 0.01 row

# %% [markdown]
# One run takes a few seconds, so the widget waits for **Run**: set the sliders, then press it.

# %% tags=["nbval-ignore-output"]
import ipywidgets as w

w.interact_manual.options(manual_name="Run")(
    show_hrdis, beta=w.FloatSlider(0.2, min=0, max=1, step=0.05, readout_format=".2f"),
    lambda2=w.FloatLogSlider(0.25, base=10, min=-2, max=1, readout_format=".3g"),
    lr=w.FloatLogSlider(0.1, base=10, min=-3, max=0, readout_format=".3g"), steps=w.IntSlider(100, 10, 500, 10));

# %% [markdown]
# ## What the paper claims, what we see here
# The paper's figures in one place, then each claim beside what this notebook measured (single runs
# on the glyphs of each section unless an interval is given; the asserts beside each section test the
# direction of each entry).

# %%
HRDIS_PAPER = {"max_psnr_loss_db": 1.0, "beta": 0.2, "shift": 1e-2, "fewer_steps": 10}   # [HRDIS], as claimed
tn = {"box_inpaint": "box inpainting", "freeform_inpaint": "free-form inpainting", "sr4": "SR×4"}
Markdown(
    f"- *HRDIS beats RED-diff in perceptual quality at equal steps, losing at most {HRDIS_PAPER['max_psnr_loss_db']:g} dB "
    "of PSNR*: over 32 glyphs × 3 seeds, HRDIS − RED-diff in PSNR "
    + "; ".join(f"{tn[t]} {hr_dr[t].mean:+.2f} dB (95 % CI {hr_dr[t].low:+.2f} to {hr_dr[t].high:+.2f}): within 1 dB "
                f"{within_1db(hr_dr[t])}" for t in TASKS3)
    + ". Classifier accuracy, HRDIS − RED-diff: "
    + ", ".join(f"{hr_dr_acc[t].mean:+.2f} on {tn[t]} (95 % CI {hr_dr_acc[t].low:+.2f} to {hr_dr_acc[t].high:+.2f})"
                for t in TASKS3)
    + ". The Fréchet distance and the high-frequency energy do **not** consistently favour HRDIS on our prior (the "
    "one-run table of section 3): on glyphs, RED-diff's outputs are not visibly blurrier.\n"
    f"- *β = {HRDIS_PAPER['beta']:g} is a good default*: the best two β by PSNR are "
    + "; ".join(f"{tn[t]}: {', '.join(f'{b:g}' for b in top2[t])}" for t in TASKS3) + ".\n"
    f"- *Diversity*: over 16 glyphs × 8 seeds, {div_gain.verdict('HRDIS (β = 0.2)', 'RED-diff (β = 1)', unit='', digits=4)}"
    " in pixel-wise standard deviation (section 4).\n"
    f"- *{HRDIS_PAPER['fewer_steps']}× fewer steps*: **not** on our prior — {ten_x.verdict('RED-diff at 1000 steps', 'HRDIS at 100')}"
    f" (32 glyphs × 3 seeds); at equal steps {equal_steps.verdict('HRDIS', 'RED-diff')} (section 5).\n"
    f"- *A shift ε ≈ {HRDIS_PAPER['shift']:g} is best*: **not** here — the smallest shift tried ({best_eps:g}, "
    f"{SHIFTS[best_eps]} steps) is best on box inpainting (section 6).\n"
    "- Noise types (not a paper claim): gain over $A^+y$ " + ", ".join(f"{v:+.1f} dB with {k}" for k, v in noise_gain.items())
    + " (section 7).\n"
    f"- *A fresh-noise warm start helps phase retrieval*: **not** on glyphs — {warm.verdict('HRDIS with the warm start', 'HRDIS without it')}"
    f" (section 8).\n"
    f"- *λ1 = 0.1 with a clipped ω_t for noisy data*: **not** on glyphs at σ_y = 0.05 — it loses "
    + ", ".join(f"{-d.mean:.1f} dB on {tn8[t]}" for t, d in noisy.items()) + " (section 8).")

# %% [markdown]
# ## Exercises
# Each exercise has a hint; worked solutions, executed, are in
# [08 · Solutions to the exercises](08_hybrid_regularization_solutions.ipynb).
#
# 1. Sweep the weighting (`weighting="sqrt"`, `"const"`) for SR×4. Which stays sharpest?
#    <details><summary>Hint</summary>Measure sharpness as in section 3 (`metrics.laplacian_energy`) and compare it with the true glyphs' value, not just between weightings; look at the PSNR and the residual too. Ask what each weighting does to the prior as $t \to 0$.</details>
#
# 2. Add noise ($\sigma_y = 0.05$) and use `weighting="clip"` with $\lambda_1 = 0.1$. Why must the
#    prior stay active near $t = 0$ for noisy data?
#    <details><summary>Hint</summary>Compare the final residual $\sqrt{\|y - A\mu\|^2/m}$ with $\sigma_y$ for the linear and the clipped weighting: a residual well below $\sigma_y$ means the noise was fitted. The PSNR says whether these particular values strike the balance.</details>
#
# 3. Start $\mu$ from zeros instead of $A^+y$ (`x_init=`). How much does the start matter?
#    <details><summary>Hint</summary>Run both starts with the same seed and compare per glyph with `invlab.stats.paired_difference`; section 1's residual curve shows how quickly the first steps move µ away from where it began.</details>
#
# 4. Make HRDIS work on speckle SR×4: try $\lambda_1$, the learning rate, or a log-domain data term.
#    <details><summary>Hint</summary>Call "work" measurably above $A^+y$ per glyph. `hrdis` takes `lambda1=` and `lr=`; its data term is fixed by the noise model, so a log-domain term means writing your own loop (section 1's `hrdis_by_hand`).</details>
#
# 5. Add $\varepsilon = 10^{-3}$ (1000 steps) to the shift sweep. Does the trend continue?
#    <details><summary>Hint</summary>Run 333 and 1000 steps on the same glyphs and seed (a couple of glyphs keep it short, at the price of a wide interval). Remember that $\varepsilon = 1/N$ here: the sweep changes the number of Adam steps too.</details>
#
# ## Further reading
# All references, with venues, arXiv ids and official code, are on the course's references page,
# [docs/references.md](../docs/references.md); the notebooks cite them by the key in brackets.
# - [RED-diff] Mardani et al., *A Variational Perspective on Solving Inverse Problems with Diffusion
#   Models* (ICLR 2024).
# - [HRDIS] Dou et al., *Hybrid Regularization Improves Diffusion-based Inverse Problem Solving*
#   (ICLR 2025), Algorithm 1.
# - [CM] Song et al., *Consistency Models* (ICML 2023) — the distillation view behind HRDIS's
#   consistency regularisation.
