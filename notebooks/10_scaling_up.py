# %% [markdown]
# # 10 · Scaling up: pretrained 256×256 models on a GPU
#
# Everything in this course ran on a 1.8 M-parameter prior for 32×32 glyphs, so that it fits a
# laptop CPU. The papers run the same algorithms on 256×256 faces with ~100 M-parameter models.
# This notebook runs the course's solvers on such a model — `google/ddpm-ema-celebahq-256`, the
# DDPM that DPS, DDRM, ΠGDM and DDiff report on — for a reader with a GPU and internet.
#
# **On a CPU without internet** (and in CI) the heavy cells say what they would do and skip
# cleanly; a tiny *untrained* stand-in model of the same class and size (3×256×256) runs every
# code path instead — loading a saved model, 3-channel 256×256 operators, every solver — so the
# plumbing is still tested. Its outputs are noise, not faces: only shapes, costs and finiteness
# are checked on it.
#
# **You will learn**
# - how to fetch a hub model once and use it offline (`data_scripts/fetch_pretrained.py`);
# - that the solver API does not change with the model: the same calls, the same `Result`;
# - what the cost of each solver becomes at 256×256 (network passes, seconds, memory).

# %% [markdown]
# ## Parameters

# %%
PRIOR_256 = "google/ddpm-ema-celebahq-256"
ALLOW_DOWNLOAD = False      # True on a machine with internet: load_prior downloads once into the HF cache
IMAGE = "astronaut"         # a course test image (invlab.TEST_IMAGES), centre-cropped to 256×256
SIGMA_Y = 0.05
SEED = 0

# %%
import tempfile

import torch

import invlab
from invlab.diffusion import PriorUnavailable, stand_in_prior
from invlab.solvers import SOLVERS
from invlab.viz import show_images

device = invlab.setup_notebook(seed=SEED)


def gen(seed=SEED):
    return torch.Generator().manual_seed(seed)


# %% [markdown]
# ## 1 · Loading the pretrained model — or the stand-in
#
# `load_prior` takes a hub id. Offline, with nothing cached, it raises `PriorUnavailable` with the
# command that fixes it; we catch that and fall back to the stand-in. A GPU is worth it: one
# forward pass of the 114 M-parameter CelebA-HQ UNet costs seconds on a CPU.

# %%
try:
    prior = invlab.load_prior(PRIOR_256, device=device, offline=not ALLOW_DOWNLOAD)
    REAL = True
except PriorUnavailable as e:
    print(str(e).split(". Cause")[0] + ".")
    print("→ running the plumbing on an untrained stand-in of the same class and size instead.")
    prior = stand_in_prior(tempfile.mkdtemp(prefix="invlab-standin-"), size=256, channels=3)
    REAL = False
print(f"prior image shape {prior.image_shape}, {sum(p.numel() for p in prior.unet.parameters()) / 1e6:.2f} M parameters")

# %%
assert prior.image_shape == (3, 256, 256)
assert prior.T == 1000                                         # the papers' schedule, like glyphs32

# %% [markdown]
# ## 2 · The same problems at 256×256
#
# The task defaults scale with the image side: a 128-pixel box on 256 is the
# 16-pixel box we used on 32, the motion-blur kernel is 61×61 instead of 9×9.

# %%
x = invlab.test_image(IMAGE, 256).to(device)
problems = {task: invlab.make_problem(task, x, sigma_y=SIGMA_Y, seed=SEED)
            for task in ("sr4", "box_inpaint", "gaussian_blur", "motion_blur")}
show_images([x[0]] + [p.op.pinv(p.y)[0] if p.op.has_svd else p.y[0] for p in problems.values()],
            ["x"] + [f"{t}: A⁺y" if p.op.has_svd else f"{t}: y" for t, p in problems.items()], ncols=5, size=2.2);

# %%
assert problems["box_inpaint"].params["box"] == 128 and problems["motion_blur"].params["kernel_size"] == 61

# %% [markdown]
# ## 3 · Every solver, one call each
#
# With the real model these are the papers' settings (a few minutes per image on a GPU for the
# 1000-step methods). With the stand-in, two or three network evaluations per solver — enough to
# run each code path at 256×256 on a CPU.

# %%
if REAL:
    settings = {"dps": dict(), "pigdm": dict(), "ddrm": dict(), "ddnm": dict(), "dpg": dict(n_samples=64),
                "ddiff": dict(), "diffpir": dict(), "dcdp": dict(), "red_diff": dict(), "hrdis": dict()}
else:
    settings = {"dps": dict(steps=2), "pigdm": dict(steps=2), "ddrm": dict(steps=2), "ddnm": dict(steps=2),
                "dpg": dict(steps=2, n_samples=8), "ddiff": dict(steps=2), "diffpir": dict(steps=2),
                "dcdp": dict(rounds=1, dc_steps=2, ddim_steps=2), "red_diff": dict(steps=2), "hrdis": dict(steps=2)}
p = problems["sr4"]
results = {name: SOLVERS[name](p, prior, generator=gen(), **kw) for name, kw in settings.items()}
print(f"{'solver':10s} {'NFE':>5s} {'VJP':>5s} {'seconds':>8s} {'peak MB':>8s} {'PSNR':>6s}")
for name, r in results.items():
    mb = (r.peak_memory_bytes or 0) / 2 ** 20
    print(f"{name:10s} {r.nfe:5d} {r.vjp:5d} {r.seconds:8.2f} {mb:8.1f} "
          f"{float(invlab.metrics.psnr(r.x.clamp(-1, 1), x)):6.2f}")

# %%
for name, r in results.items():
    assert r.x.shape == x.shape and torch.isfinite(r.x).all(), name
    assert r.nfe >= 1, name
assert results["dps"].vjp == results["dps"].nfe and results["ddiff"].vjp == 0

# %% [markdown]
# ## 4 · Pictures (real model only)

# %%
if REAL:
    show_images([x[0], p.op.pinv(p.y)[0]] + [r.x[0].clamp(-1, 1) for r in results.values()],
                ["truth", "A⁺y"] + list(results), ncols=6, size=2.2)
else:
    print("Skipped: the stand-in is untrained, its outputs are noise. With a GPU and internet, set "
          "ALLOW_DOWNLOAD = True (or run data_scripts/fetch_pretrained.py once) and re-run.")

# %% [markdown]
# ## Running it for real
#
# 1. On a machine with internet: `python data_scripts/fetch_pretrained.py google/ddpm-ema-celebahq-256`
#    (downloads once, checks sha256, stores safetensors in the Hugging Face cache).
# 2. On the GPU machine: open this notebook; `invlab.setup_notebook()` returns the CUDA device and
#    `load_prior` puts the model there. Every other notebook takes `PRIOR = "google/ddpm-ema-celebahq-256"`
#    in its parameter cell too (the glyph classifier metrics are then skipped or meaningless:
#    use PSNR/SSIM, and LPIPS with `pip install invlab[lpips]`).
# 3. For many images, `invlab bench` shards a grid over GPUs with `torchrun` (notebook 09).
#
# Not yet measured in this course: GPU timings of the real model. They are recorded here when a
# GPU was available to the maintainers (see `benchmarks/README.md`).
#
# ## Exercises
# 1. With the real model, compare DPS at 1000 steps with DDiff at 100 on SR×4: quality and time.
# 2. Run the stand-in with `dtype=torch.bfloat16` (`load_prior(..., dtype=...)`). Which solvers
#    keep working, and why do DPS-like methods care more about precision?
#
# ## Further reading
# All references, with venues, arXiv ids and official code, are on the course's references page,
# [docs/references.md](../docs/references.md); the notebooks cite them by the key in brackets.
# - [DDPM] Ho, Jain, Abbeel (NeurIPS 2020) — the source of `google/ddpm-ema-celebahq-256`; [ADM]
#   Dhariwal, Nichol (NeurIPS 2021) — the 256×256 UNets most of the papers' experiments use.
# - [LDM] Rombach et al. (CVPR 2022) for the hub latent models; [CM] Song et al. (ICML 2023) for the
#   hub consistency models.
# - [SSIM] Wang et al. (IEEE TIP 2004) and [LPIPS] Zhang et al. (CVPR 2018) — the metrics to use
#   when the glyph classifier does not apply.
