"""Consistency models [CM] (Song et al., ICML 2023): one network evaluation from noise to image (notebook 06).

A consistency model f(x, σ) maps any point x = x_0 + σ z of the probability-flow ODE trajectory
([EDM] scale, σ ∈ [σ_min, σ_max] = [0.002, 80]) to the trajectory's end x_0, with the boundary
condition f(x, σ_min) = x built into the parameterisation:

    f(x, σ) = c_skip(σ) x + c_out(σ) F(x, σ),  c_skip = σ_d²/((σ−σ_min)² + σ_d²),  σ_d = 0.5.

Two parameterisations of F share this class:

* ``"edm"`` — the hub models (``openai/diffusers-cd_imagenet64_l2``; diffusers'
  ``CMStochasticIterativeScheduler``): F = unet(x/√(σ²+σ_d²), 250·log σ),
  c_out = (σ−σ_min) σ_d/√(σ²+σ_d²).
* ``"vp-eps"`` — ours (``glyphs32-cm``), distilled from the VP ε-prediction prior ``glyphs32`` and
  initialised from it: the UNet keeps the teacher's input convention (x_t = x/√(1+σ²) at the
  continuous VP time t(σ)), F is the Tweedie estimate x − σ ε̂, c_out = 1 − c_skip, and c_skip
  uses a small scale σ_skip = 0.005 in place of σ_d. At initialisation f is then the teacher's
  one-step Tweedie denoiser at every σ ≳ 0.02, which is where distillation starts. (With σ_d = 0.5
  the initial f would keep c_skip ≈ 20 % of the *noisy* input at σ = 1: 21 dB where Tweedie gives
  26 on glyphs.) Its flaw is at large σ: f = x − σ ε̂ multiplies every error of ε̂ by σ (80 at
  σ_max), so a one-step sample carries the network's ε-error as visible noise.
* ``"vp-scaled"`` — the same UNet input and teacher initialisation, with the bounded scalings
  of [CM]: F is the raw network output, c_skip = σ_s²/((σ−σ_min)² + σ_s²) and
  c_out = −(σ−σ_min) σ_s/√(σ² + σ_s²) with a scale σ_s = ``sigma_skip`` (5 for ``glyphs32-cm``).
  For σ ≪ σ_s, c_skip ≈ 1 and c_out ≈ −σ: f starts as the teacher's Tweedie denoiser x − σ ε̂
  where purification works (σ ≲ 2); for σ ≫ σ_s the output gain |c_out| ≤ σ_s, sixteen times
  smaller than σ_max, and the network learns a new output there.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from .._checks import check_batch, check_int, per_sample
from ..rng import randn
from ..weights_manifest import WeightsError, from_pretrained, read_json
from .priors import cpu_layout, unet_input
from .schedule import VPSchedule, karras_sigmas

__all__ = ["ConsistencyModel", "karras_sigmas", "heun_step", "load_consistency_model", "CM_CONFIG"]

CM_CONFIG = "consistency.json"


def heun_step(denoise, x: torch.Tensor, sigma_from: torch.Tensor, sigma_to: torch.Tensor) -> torch.Tensor:
    """One Heun step of the probability-flow ODE dx/dσ = (x − D(x, σ))/σ from σ_from to σ_to
    (per-sample (B,) tensors; the teacher's solver in consistency distillation)."""
    view = (-1,) + (1,) * (x.ndim - 1)
    s0, s1 = sigma_from.view(view).to(x), sigma_to.view(view).to(x)
    d0 = (x - denoise(x, sigma_from)) / s0
    x1 = x + (s1 - s0) * d0
    d1 = (x1 - denoise(x1, sigma_to)) / s1
    return x + (s1 - s0) * (d0 + d1) / 2


class ConsistencyModel:
    """f(x, σ) on the EDM scale, plus one-step sampling and one-step purification.

    Args:
        unet: a diffusers ``UNet2DModel``.
        parameterization: ``"vp-eps"``, ``"vp-scaled"`` (both need ``schedule``) or ``"edm"``.
        schedule: the teacher's :class:`VPSchedule` (also used by :meth:`purify`; the linear
            DDPM schedule when omitted).
    """

    counted_methods = ("network",)     # one pass per f evaluation (solvers are charged for it)

    def __init__(self, unet, *, parameterization: str = "vp-eps", schedule: VPSchedule | None = None,
                 sigma_min: float = 0.002, sigma_max: float = 80.0, sigma_data: float = 0.5,
                 sigma_skip: float = 0.005, clamp: bool = True, name: str = "consistency"):
        if parameterization not in ("vp-eps", "vp-scaled", "edm"):
            raise ValueError(f"parameterization: unknown value {parameterization!r}; "
                             f"choose 'vp-eps', 'vp-scaled' or 'edm'")
        self.unet = unet
        self.parameterization = parameterization
        self.schedule = schedule or VPSchedule.linear()
        self.sigma_min, self.sigma_max, self.sigma_data = float(sigma_min), float(sigma_max), float(sigma_data)
        self.sigma_skip = float(sigma_skip) if parameterization != "edm" else self.sigma_data
        self.clamp = clamp
        self.name = name
        cfg = unet.config
        size = cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0]
        self.image_shape = (cfg.in_channels, size, size)
        self._channels_last = False                 # set by load_consistency_model (cpu_layout)
        ab = self.schedule.alpha_bar
        self._log_sigma_t = (((1 - ab) / ab).sqrt()).log()          # increasing in t

    @property
    def T(self) -> int:
        return self.schedule.T

    @property
    def device(self):
        return next(self.unet.parameters()).device

    # -- the parameterisation ----------------------------------------------------------------------
    def c_skip(self, sigma: torch.Tensor) -> torch.Tensor:
        return self.sigma_skip ** 2 / ((sigma - self.sigma_min) ** 2 + self.sigma_skip ** 2)

    def c_out(self, sigma: torch.Tensor) -> torch.Tensor:
        if self.parameterization == "vp-eps":
            return 1 - self.c_skip(sigma)
        sign = -1 if self.parameterization == "vp-scaled" else 1
        return sign * (sigma - self.sigma_min) * self.sigma_skip / (sigma ** 2 + self.sigma_skip ** 2).sqrt()

    def vp_time(self, sigma: torch.Tensor) -> torch.Tensor:
        """The continuous VP time t(σ) with √((1−ᾱ_t)/ᾱ_t) = σ, by linear interpolation of log σ_t
        (clamped to [0, T−1])."""
        ls = self._log_sigma_t
        q = sigma.double().clamp_min(1e-12).log().clamp(float(ls[0]), float(ls[-1]))
        i = torch.searchsorted(ls, q).clamp(1, ls.numel() - 1)
        frac = (q - ls[i - 1]) / (ls[i] - ls[i - 1])
        return (i - 1 + frac).float()

    def network(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """F(x, σ) (see the module docstring); ``sigma`` a (B,) tensor."""
        view = (-1,) + (1,) * (x.ndim - 1)
        s = sigma.to(x).view(view)
        if self.parameterization != "edm":
            eps = self._unet(x / (1 + s ** 2).sqrt(), self.vp_time(sigma))
            return x - s * eps if self.parameterization == "vp-eps" else eps
        c_in = 1 / (s ** 2 + self.sigma_data ** 2).sqrt()
        return self._unet(c_in * x, (1000 * 0.25 * torch.log(sigma.double() + 1e-44)).float())

    def _unet(self, x_in: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = unet_input(x_in, next(self.unet.parameters()).dtype, self._channels_last)
        return self.unet(x, t.to(x_in.device)).sample.contiguous().to(x_in.dtype)

    def __call__(self, x: torch.Tensor, sigma, clamp: bool | None = None) -> torch.Tensor:
        """f(x, σ): the consistency function. ``sigma`` a float or a (B,) tensor in [σ_min, σ_max]."""
        check_batch("x", x, self.image_shape, f"the {self.name} model")
        sigma = per_sample(sigma, torch.float64, x.shape[0])
        if bool(((sigma < self.sigma_min - 1e-9) | (sigma > self.sigma_max + 1e-6)).any()):
            raise ValueError(f"sigma: must lie in [{self.sigma_min}, {self.sigma_max}], "
                             f"got {sigma.min().item():.4g}..{sigma.max().item():.4g}")
        view = (-1,) + (1,) * (x.ndim - 1)
        s = sigma.to(device=x.device, dtype=x.dtype).view(view)
        out = self.c_skip(s) * x + self.c_out(s) * self.network(x, sigma)
        return out.clamp(-1, 1) if (self.clamp if clamp is None else clamp) else out

    # -- use -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, sigmas=(80.0,), *, generator: torch.Generator | None = None) -> torch.Tensor:
        """One-step generation f(σ_max z, σ_max); more ``sigmas`` (decreasing) give the multistep
        sampler: re-noise the estimate to each next σ and apply f again."""
        check_int("n", n, lo=1)
        ref = torch.empty(0, device=self.device)
        x = None
        for i, s in enumerate(sigmas):
            z = randn((n,) + self.image_shape, generator, like=ref)
            x_s = s * z if i == 0 else x + math.sqrt(max(s ** 2 - self.sigma_min ** 2, 0.0)) * z
            x = self(x_s, s)
        return x

    @torch.no_grad()
    def purify(self, x: torch.Tensor, t: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Consistency purification (DCDP's third purifier): noise ``x`` to the VP index t, i.e.
        x + σ_t z with σ_t = √((1−ᾱ_t)/ᾱ_t) on the EDM scale (σ_t clipped to [σ_min, σ_max]),
        then one evaluation of f. One network call, whatever t."""
        check_int("t", t, lo=0, hi=self.T - 1)
        sigma = float(self.schedule.sigma_ve(t).clamp(self.sigma_min, self.sigma_max))
        return self(x + sigma * randn(x.shape, generator, like=x), sigma)


def load_consistency_model(path, *, device=None, dtype=None, name: str | None = None) -> ConsistencyModel:
    """A consistency model from a local folder: ours (``consistency.json`` beside a
    ``save_pretrained`` UNet and its DDPM scheduler config) or a hub pipeline layout
    (``unet/`` + ``scheduler/`` with a ``CMStochasticIterativeScheduler`` config)."""
    from diffusers import UNet2DModel
    path = Path(path)
    kw = dict(use_safetensors=True, low_cpu_mem_usage=False)
    if (path / CM_CONFIG).exists():
        cfg = read_json(path / CM_CONFIG)
        lacking = [k for k in ("parameterization", "sigma_min", "sigma_max", "sigma_data") if k not in cfg]
        if lacking:
            raise WeightsError(f"{path / CM_CONFIG}: missing the key(s) {lacking}")
        unet = from_pretrained(UNet2DModel, path, **kw)
        from diffusers import DDPMScheduler
        sched = VPSchedule.from_config(DDPMScheduler.load_config(str(path)))
        model = ConsistencyModel(unet, parameterization=cfg["parameterization"], schedule=sched,
                                 sigma_min=cfg["sigma_min"], sigma_max=cfg["sigma_max"],
                                 sigma_data=cfg["sigma_data"], sigma_skip=cfg.get("sigma_skip", 0.005),
                                 name=name or path.name)
    elif (path / "unet" / "config.json").exists() and (path / "scheduler").is_dir():
        unet = from_pretrained(UNet2DModel, path, subfolder="unet", **kw)
        scfg = read_json(path / "scheduler" / "scheduler_config.json")
        if scfg.get("_class_name") != "CMStochasticIterativeScheduler":
            raise ValueError(f"path: {path} holds a {scfg.get('_class_name')} pipeline, not a consistency model")
        model = ConsistencyModel(unet, parameterization="edm", sigma_min=scfg.get("sigma_min", 0.002),
                                 sigma_max=scfg.get("sigma_max", 80.0), sigma_data=scfg.get("sigma_data", 0.5),
                                 name=name or path.name)
    else:
        raise ValueError(f"path: {path} is not a consistency-model folder ({CM_CONFIG} or unet/ + scheduler/)")
    unet = unet.float() if dtype is None else unet.to(dtype)
    if device is not None:
        unet.to(device)
    unet.eval().requires_grad_(False)
    model.unet = unet
    model._channels_last = cpu_layout(unet)          # as the glyph prior: channels-last on the CPU
    return model
