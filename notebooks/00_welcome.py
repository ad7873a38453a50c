# %% [markdown]
# # 00 · Welcome to invlab
#
# **Solving image inverse problems with diffusion priors** — a course you can run, check and
# play with on a laptop.
#
# An *inverse problem* asks for an image $x$ from a measurement $y = \mathcal{A}(x) + n$: a
# low-resolution, blurred, masked, compressed or Fourier-magnitude view of it, plus noise. The
# measurement alone rarely pins $x$ down; a *prior* — what images look like — has to fill the gap.
# Diffusion models are today's strongest image priors, and this course is about the many ways of
# combining one with a measurement.
#
# **What you will learn here**
# - how the course is organised and what each notebook teaches;
# - how to check that your environment works (the cell below asserts it quietly);
# - how to switch from the small CPU prior the course ships to a pretrained 256×256 model on a GPU.

# %% [markdown]
# ## The learning path
#
# | notebook | topic | methods |
# |---|---|---|
# | 01 | forward operators, noise, ill-posedness | masks, super-resolution, blurs, compressed sensing, phase retrieval, HDR, JPEG |
# | 02 | diffusion priors | forward process, Tweedie, DDPM/DDIM, scores, purification |
# | 03 | posterior sampling by guidance | DPS, ΠGDM, DDRM, DDNM |
# | 04 | policy-gradient guidance | DPG |
# | 05 | variable splitting | PnP-ADMM, DiffPIR, DDiff (dual ascent), DAPS |
# | 06 | diffusion purification | DCDP (DDIM, Tweedie and consistency-model purifiers) |
# | 06b | latent diffusion | latent DCDP, Latent-DPS, PSLD, ReSample |
# | 07 | learned data consistency | DDC |
# | 08 | hybrid regularisation | RED-diff, consistency regularisation, HRDIS |
# | 09 | the benchmark | every solver side by side |
# | 10 | scaling up | pretrained 256×256 models on a GPU |
#
# Every notebook follows one template: learning goals → parameters → the idea and its maths → the
# key step written out → the package function → figures → **checked numbers** (`assert` cells) →
# a widget to play with → what the paper claims and what we see on our prior → exercises, each with a
# hint; the companion notebook `NN_name_solutions` works every exercise out, executed.
#
# Notebooks are also regression tests: `make test` runs each one and fails if an `assert` does.

# %% [markdown]
# ## Parameters
# The default configuration is the one a CPU runs and CI checks. `PRIOR` names the diffusion
# prior later notebooks use: `"glyphs32"` is the small model trained by this project and shipped
# with it (32×32 grayscale digits, runs offline on a CPU).

# %%
PRIOR = "glyphs32"
SEED = 0

# %% [markdown]
# ## Environment check
# `invlab.setup_notebook` seeds, sets plotting defaults, silences progress bars and returns the
# device without printing it (so the checked outputs are the same on every machine).

# %%
import importlib

import torch

import invlab

device = invlab.setup_notebook(seed=SEED)

for module in ("torch", "diffusers", "safetensors", "matplotlib", "ipywidgets", "skimage", "tqdm"):
    assert importlib.import_module(module) is not None, module
assert device.type in ("cpu", "cuda")

# a measured inverse problem, end to end
x, labels = invlab.glyphs(4, split="test")
problem = invlab.make_problem("sr4", x, sigma_y=0.05, seed=SEED)
assert problem.y.shape == (4, 1, 8, 8)
assert torch.allclose(problem.residual(x), torch.full((4,), 0.05 ** 2), rtol=0.5)

# %% tags=["nbval-check-output"]
print(f"{len(invlab.TASKS)} tasks, measurement of shape {tuple(problem.y.shape)}")

# %% [markdown]
# ## A first look
# Four test glyphs from the course's data set, their 4× downsampled, noisy measurements, and the
# simplest possible "inversion" — the pseudo-inverse, which copies each measured pixel into a 4×4
# block. The rest of the course is about doing much better than the right-hand column.

# %%
from invlab.viz import show_images

imgs = [*x, *problem.y, *problem.op.pinv(problem.y)]
titles = [f"digit {int(d)}" for d in labels] + ["y (8×8)"] * 4 + ["A⁺y"] * 4
show_images(imgs, titles, ncols=4, size=1.5);

# %% [markdown]
# ## Switching to a GPU and a pretrained prior
# Everything in the course runs on the CPU with `PRIOR = "glyphs32"`. With a GPU and internet:
#
# 1. download a pretrained diffusers model once, e.g.
#    `python data_scripts/fetch_pretrained.py google/ddpm-ema-celebahq-256` (it checks the files'
#    sha256 and stores them in the Hugging Face cache);
# 2. set `PRIOR = "google/ddpm-ema-celebahq-256"` in a notebook's parameter cell, and use 256×256
#    test images (`invlab.test_image("astronaut", 256)`); `invlab.setup_notebook` returns the CUDA
#    device when there is one.
#
# Notebook 10 does exactly this and explains what changes at that scale (hyperparameters, time,
# memory). Offline, a pretrained name gives a clear error that says how to download it.

# %% [markdown]
# ## How to work through the course
# - `make lab` opens the notebooks in JupyterLab. Each has a `.py` twin (jupytext): edit either.
# - Move the widgets: they are the fastest way to feel a hyperparameter.
# - Read the `assert` cells: they state what we measured and with what tolerance.
# - `make test` re-runs every notebook as a test; `make course` renders the whole course to HTML.
#
# ## Further reading
# All references, with venues, arXiv ids and official code, are on the course's references page,
# [docs/references.md](../docs/references.md); the notebooks cite them by the key in brackets.
# - [Survey] Daras et al., *A Survey on Diffusion Models for Inverse Problems* (arXiv 2024) — the map
#   of the field.
# - [DPS] Chung et al., *Diffusion Posterior Sampling for General Noisy Inverse Problems* (ICLR 2023),
#   Algorithm 1 — the method most of the course measures itself against.
# - The five papers the course implements: [DPG] (notebook 04), [DDiff] (05), [DCDP] (06, 06b),
#   [DDC] (07) and [HRDIS] (08).
