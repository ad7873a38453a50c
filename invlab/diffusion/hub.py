"""``load_prior(name)``: the shipped glyph prior, analytic mixtures, and diffusers hub models.

Hub models load through the ordinary ``from_pretrained`` (safetensors only) from the Hugging Face
cache. Offline with nothing cached, the error says to run ``data_scripts/fetch_pretrained.py``.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .._checks import check_device, check_dtype, check_int
from ..weights_manifest import WeightsError, from_pretrained, read_json, shipped_weights
from .consistency import load_consistency_model
from .gmm import GaussianMixturePrior, gmm2d, gmm_grid
from .latent import is_latent_folder, is_latent_index, load_latent_folder, model_index
from .priors import UNetPrior
from .schedule import schedule_from_pretrained

__all__ = ["load_prior", "PRIORS", "HUB_PRIORS", "PriorUnavailable", "stand_in_prior"]

PRIORS = ("glyphs32", "glyphs32-cm", "glyphs32-latent", "gmm2d", "gmm-grid")
HUB_PRIORS = ("google/ddpm-ema-celebahq-256", "google/ddpm-cifar10-32", "google/ddpm-ema-bedroom-256",
              "CompVis/ldm-celebahq-256")


class PriorUnavailable(WeightsError):
    """A prior's weights are not on this machine (offline, or never downloaded)."""


def _is_cm_pipeline(folder: Path) -> bool:
    cfg = folder / "scheduler" / "scheduler_config.json"
    return cfg.exists() and read_json(cfg).get("_class_name") == "CMStochasticIterativeScheduler"


def _load_unet_prior(path_or_id: str, name: str, *, device=None, dtype=None, index: dict | None = None,
                     **kw) -> UNetPrior:
    from diffusers import UNet2DModel
    local = Path(path_or_id)
    if local.is_dir():
        subfolder = "unet" if (local / "unet" / "config.json").exists() else None
    else:
        index = model_index(path_or_id, **kw) if index is None else index
        subfolder = "unet" if "unet" in index else None
    unet = from_pretrained(UNet2DModel, path_or_id, subfolder=subfolder, use_safetensors=True,
                           low_cpu_mem_usage=False, torch_dtype=dtype, **kw)
    sched = schedule_from_pretrained(path_or_id, "scheduler" if subfolder else None, **kw)
    prior = UNetPrior(unet, sched, name=name)
    return prior.to(device=device) if device is not None else prior


def load_prior(name: str, *, dim: int = 8, device=None, dtype=None, offline: bool | None = None):
    """A prior by name.

    Args:
        name: ``"glyphs32"`` (shipped: 32×32 glyphs, 1.8 M-parameter UNet), ``"glyphs32-cm"`` (its
            distilled consistency model, a :class:`ConsistencyModel`, not a :class:`Prior`),
            ``"glyphs32-latent"`` (shipped latent prior, a :class:`LatentPrior`: autoencoder
            32×32×1 ↔ 8×8×4 and a latent UNet), ``"gmm2d"`` (2-D
            mixture for pictures), ``"gmm-grid"`` (25-component benchmark mixture in ``dim``
            dimensions), a diffusers hub id such as ``"google/ddpm-ema-celebahq-256"`` (a latent
            pipeline such as ``"CompVis/ldm-celebahq-256"`` — VQModel + UNet + scheduler — gives a
            :class:`LatentPrior`), or a local folder saved with ``save_pretrained`` (a
            consistency-model folder gives a :class:`ConsistencyModel`, a pipeline folder with
            ``unet`` and ``vae``/``vqvae`` a :class:`LatentPrior`).
        dim: dimension of ``"gmm-grid"``.
        device, dtype: where the network lives (default: CPU, float32).
        offline: look only in the local cache (default: the ``HF_HUB_OFFLINE`` setting).

    Raises:
        ValueError: unknown name (the message lists the known ones).
        PriorUnavailable: a hub model that is not cached and cannot be downloaded here.
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a string, got {type(name).__name__}")
    device = check_device("device", device, allow_none=True)
    dtype = check_dtype("dtype", dtype, allow_none=True)
    if name == "glyphs32":
        path = shipped_weights(name, "config.json", "data_scripts/train_prior.py", PriorUnavailable)
        return _load_unet_prior(str(path), name, device=device, dtype=dtype)
    if name == "glyphs32-cm":
        path = shipped_weights(name, "consistency.json", "data_scripts/distill_endpoints.py", PriorUnavailable)
        return load_consistency_model(path, device=device, dtype=dtype, name=name)
    if name == "glyphs32-latent":
        path = shipped_weights(name, is_latent_folder, "data_scripts/train_latent.py", PriorUnavailable)
        return load_latent_folder(path, name, device=device, dtype=dtype)
    if name == "gmm2d":
        return GaussianMixturePrior(gmm2d(), name="gmm2d")
    if name == "gmm-grid":
        check_int("dim", dim, lo=2)
        return GaussianMixturePrior(gmm_grid(dim), name=f"gmm-grid{dim}")
    if Path(name).is_dir():
        if (Path(name) / "consistency.json").exists() or _is_cm_pipeline(Path(name)):
            return load_consistency_model(name, device=device, dtype=dtype)
        if is_latent_folder(name):
            return load_latent_folder(name, device=device, dtype=dtype)
        return _load_unet_prior(name, Path(name).name, device=device, dtype=dtype)
    parts = name.split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"name: unknown prior {name!r}; choose one of {list(PRIORS)}, a diffusers hub id "
                         f"such as {list(HUB_PRIORS)}, or a local save_pretrained folder")
    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    try:
        index = model_index(name, local_files_only=offline)
        if is_latent_index(index):                                     # LDM pipelines: unet + vqvae/vae
            return load_latent_folder(name, name, device=device, dtype=dtype, index=index, local_files_only=offline)
        if index.get("_class_name") == "ConsistencyModelPipeline":     # openai/diffusers-cd_* and ct_*
            from huggingface_hub import snapshot_download
            folder = snapshot_download(name, local_files_only=offline, allow_patterns=["*.json", "*.safetensors"])
            return load_consistency_model(folder, device=device, dtype=dtype, name=name)
        return _load_unet_prior(name, name, device=device, dtype=dtype, index=index, local_files_only=offline)
    except WeightsError:
        raise                                                           # cached but unusable: say so
    except (OSError, ValueError, EnvironmentError) as e:
        raise PriorUnavailable(
            f"name: the hub model {name!r} is not in the local Hugging Face cache and could not be downloaded "
            f"here. On a machine with internet run `python data_scripts/fetch_pretrained.py {name}` once "
            f"(it checks sha256 and stores safetensors in the cache). Cause: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}") from None


def stand_in_prior(folder, *, size: int = 256, channels: int = 3, seed: int = 0) -> UNetPrior:
    """An *untrained* tiny diffusers ``UNet2DModel`` of the hub models' class and image size, saved
    to ``folder`` with the DDPM schedule (linear β 1e-4…0.02, T = 1000) and loaded back through
    :func:`load_prior`'s local-folder path (notebook 10).

    It produces noise, not faces: its only job is to run every code path a 256×256 pretrained model
    takes — loading, 3-channel operators, every solver — on a CPU without internet.
    """
    from diffusers import DDPMScheduler, UNet2DModel
    check_int("size", size, lo=8)
    check_int("channels", channels, lo=1)
    torch.manual_seed(seed)
    unet = UNet2DModel(sample_size=size, in_channels=channels, out_channels=channels, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       layers_per_block=1, norm_num_groups=4)
    folder = Path(folder)
    unet.save_pretrained(folder, safe_serialization=True)
    DDPMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02).save_pretrained(folder)
    return load_prior(str(folder))
