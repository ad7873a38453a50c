"""Latent diffusion priors: an autoencoder (E, D) around a diffusion model of the latents z
(notebook 06b; [LDM], and the latent solvers of [PSLD], [ReSample] and [DCDP, Alg. 2]).

A :class:`LatentPrior` *is* a :class:`~invlab.diffusion.priors.Prior` — over latents, so
``prior.image_shape`` is the latent shape (C_z, h, w) and ``eps``, ``x0``, ``sample``, ``purify``
all work on z — plus

* ``encode(x)``: pixels in [-1, 1] → z (the encoder's posterior mean for an ``AutoencoderKL``,
  the pre-quantisation latent for a ``VQModel``, times the latent scaling factor);
* ``decode(z)``: z → pixels (unclamped; ``clamp=True`` to clip to [-1, 1]);
* ``pixel_shape``: the shape of one decoded image, which is what inverse problems are built on.

Conventions follow diffusers' pipelines: the diffusion model sees s·E(x) with
s = ``config.scaling_factor`` of the autoencoder, for an ``AutoencoderKL`` (Stable-Diffusion
style) and for a ``VQModel`` alike (``LDMPipeline``, e.g. ``CompVis/ldm-celebahq-256``: ``VQModel``
+ ``UNet2DModel`` + DDIM scheduler, divides by it before decoding); a VQ decoder quantises
(straight-through, so gradients still flow). Latents are never clamped: x̂_0 of
z has no [-1, 1] range (``clamp_default = False``).

The shipped ``glyphs32-latent`` (trained by ``data_scripts/train_latent.py``) is stored in the
same folder layout as a hub pipeline: ``model_index.json``, ``vae/``, ``unet/``, ``scheduler/``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .._checks import check_tensor
from ..weights_manifest import from_pretrained, read_json
from .priors import UNetPrior
from .schedule import VPSchedule, schedule_from_pretrained

__all__ = ["LatentPrior", "is_latent_prior", "autoencoder_config", "latent_unet_config", "latent_scheduler_config",
           "load_latent_folder", "model_index", "is_latent_index", "require_latent", "require_pixel"]


def autoencoder_config() -> dict:
    """``AutoencoderKL`` of ``glyphs32-latent``: 32×32×1 ↔ 8×8×4 (two down-samplings), 0.65 M
    parameters. No attention in the middle block: on glyphs it cost 25 % more time per step for no
    gain in reconstruction we could measure."""
    return dict(in_channels=1, out_channels=1, latent_channels=4, block_out_channels=(16, 32, 64),
                down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                layers_per_block=1, norm_num_groups=8, sample_size=32, mid_block_add_attention=False)


def latent_unet_config() -> dict:
    """``UNet2DModel`` of ``glyphs32-latent`` on 4×8×8 latents: two levels (8×8, 4×4 with
    attention), 0.82 M parameters — sized so that every shipped network together stays under the
    course's 20 MB (a 96-wide time embedding instead of the default 4 × 48 saves 80 k)."""
    return dict(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(48, 64),
                down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                layers_per_block=1, norm_num_groups=16, time_embedding_dim=96)


def latent_scheduler_config() -> dict:
    """The LDM schedule: β from 0.0015 to 0.0195 on a square-root-linear ramp ("scaled_linear"
    in diffusers, "linear" in the LDM code), T = 1000."""
    return dict(num_train_timesteps=1000, beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear",
                prediction_type="epsilon", clip_sample=False)


class LatentPrior(UNetPrior):
    """A latent diffusion model: ``unet`` on z, ``autoencoder`` between z and pixels."""

    clamp_default = False
    is_latent = True
    counted_methods = ("eps", "encode", "decode")

    def __init__(self, unet, autoencoder, schedule: VPSchedule, name: str = "latent",
                 scaling_factor: float | None = None):
        super().__init__(unet, schedule, name=name)
        self.autoencoder = autoencoder.eval()
        for p in self.autoencoder.parameters():
            p.requires_grad_(False)
        cfg = autoencoder.config
        self.kind = "vq" if type(autoencoder).__name__ == "VQModel" else "kl"
        if scaling_factor is None:
            scaling_factor = float(getattr(cfg, "scaling_factor", None) or 1.0)
        self.scaling_factor = float(scaling_factor)
        C = cfg.in_channels
        size = cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0]
        f = 2 ** (len(cfg.block_out_channels) - 1)
        self.pixel_shape = (C, size, size)
        latent = (cfg.latent_channels, size // f, size // f)
        if tuple(self.image_shape) != latent:
            raise ValueError(f"unet: works on {tuple(self.image_shape)} but the autoencoder makes latents {latent}")

    def _ae_dtype(self):
        return next(self.autoencoder.parameters()).dtype

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z = s · E(x) for images x in [-1, 1] of ``pixel_shape`` (deterministic: the posterior
        mean of an AutoencoderKL, the unquantised latent of a VQModel)."""
        check_tensor("x", x)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.pixel_shape:
            raise ValueError(f"x: the {self.name} encoder expects (B, {', '.join(map(str, self.pixel_shape))}), "
                             f"got {tuple(x.shape)}")
        h = x.to(self._ae_dtype())
        if self.kind == "vq":
            z = self.autoencoder.encode(h).latents
        else:
            z = self.autoencoder.encode(h).latent_dist.mean
        return (z * self.scaling_factor).to(x.dtype)

    def decode(self, z: torch.Tensor, clamp: bool = False) -> torch.Tensor:
        """x = D(z / s); differentiable in z (a VQ decoder quantises with a straight-through gradient)."""
        check_tensor("z", z)
        if z.ndim != 4 or tuple(z.shape[1:]) != tuple(self.image_shape):
            shape = ", ".join(map(str, self.image_shape))
            raise ValueError(f"z: the {self.name} decoder expects latents (B, {shape}), got {tuple(z.shape)}")
        x = self.autoencoder.decode((z / self.scaling_factor).to(self._ae_dtype())).sample.to(z.dtype)
        return x.clamp(-1, 1) if clamp else x

    def to(self, device=None, dtype=None) -> "LatentPrior":
        super().to(device=device, dtype=dtype)
        kw = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
        self.autoencoder.to(**kw)
        return self


def is_latent_prior(prior) -> bool:
    return bool(getattr(prior, "is_latent", False))


def require_latent(prior, method: str) -> None:
    """Raise unless ``prior`` is a latent prior (latent-only solvers)."""
    if not is_latent_prior(prior):
        raise TypeError(f"prior: {method} works in a latent space and needs a latent prior with encode/decode "
                        f"(e.g. load_prior('glyphs32-latent')); got the pixel prior "
                        f"{getattr(prior, 'name', type(prior).__name__)!r}")


def require_pixel(prior, method: str) -> None:
    """Raise if ``prior`` is a latent prior (pixel-space solvers)."""
    if is_latent_prior(prior):
        raise TypeError(f"prior: {method} works in pixel space; {prior.name!r} is a latent prior. Use a latent "
                        "solver (dcdp, latent_dps, psld, resample) or a pixel prior such as load_prior('glyphs32')")


def load_latent_folder(folder, name: str | None = None, *, device=None, dtype=None, index: dict | None = None,
                       **kw) -> LatentPrior:
    """A latent prior from a pipeline folder (``model_index.json`` with ``unet`` and ``vae`` or
    ``vqvae``), local or a hub id in the cache (``kw`` goes to ``from_pretrained``; ``index``: the
    folder's model index when the caller has already read it)."""
    from diffusers import AutoencoderKL, UNet2DModel, VQModel

    index = model_index(folder, **kw) if index is None else index
    ae_key = "vqvae" if "vqvae" in index else "vae"
    ae_cls = VQModel if ae_key == "vqvae" else AutoencoderKL
    common = dict(use_safetensors=True, low_cpu_mem_usage=False, **kw)
    unet = from_pretrained(UNet2DModel, str(folder), subfolder="unet", **common).float()
    ae = from_pretrained(ae_cls, str(folder), subfolder=ae_key, **common).float()
    sched = schedule_from_pretrained(str(folder), "scheduler", **kw)
    prior = LatentPrior(unet, ae, sched, name=name or Path(str(folder)).name)
    return prior.to(device=device, dtype=dtype)


def model_index(folder, **kw) -> dict:
    """The ``model_index.json`` of a pipeline: a local folder's, or a hub repo's (from the cache
    with ``local_files_only=True``); ``{}`` when there is none."""
    local = Path(str(folder))
    if local.is_dir():
        path = local / "model_index.json"
        return read_json(path) if path.exists() else {}
    from huggingface_hub import hf_hub_download
    kw = {k: v for k, v in kw.items() if k in ("local_files_only", "revision", "cache_dir")}
    try:
        return json.loads(Path(hf_hub_download(str(folder), "model_index.json", **kw)).read_text())
    except Exception:
        return {}


def is_latent_index(index: dict) -> bool:
    """Whether a pipeline index names a latent model: a ``unet`` and a ``vae`` or ``vqvae``."""
    return "unet" in index and ("vae" in index or "vqvae" in index)


def is_latent_folder(folder) -> bool:
    return Path(str(folder)).is_dir() and is_latent_index(model_index(folder))
