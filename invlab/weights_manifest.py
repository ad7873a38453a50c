"""Integrity of network weights: the sha256 manifest of the shipped files, and checked loading.

Every file under ``invlab/weights/`` is listed with its sha256 in ``invlab/weights/SHA256SUMS``
(the format of ``sha256sum``: ``<hex digest>  <path relative to invlab/weights>``, so
``cd invlab/weights && sha256sum -c SHA256SUMS`` checks an installation by hand).

Loading a shipped folder first compares its weights and configs (``*.safetensors``, ``*.json``)
with the manifest; a file that differs, is missing, or is not listed stops the load with a
:class:`WeightsError` naming the file and the fix (reinstall invlab, or re-run the training script
and then ``python tools/update_weights_manifest.py``). A folder of the user's own has no manifest;
there, and for hub models, every loaded tensor is checked to be finite instead. In both cases a
checkpoint that does not fit its config (size mismatch, missing or unexpected tensors) and a
truncated file raise a :class:`WeightsError` naming the folder or file.

Digests are cached per process (keyed by path, size and modification time), so each file is read
once however many times it is loaded.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:                      # torch is imported where it is used: the manifest tool does without it
    import torch

__all__ = ["WeightsError", "weights_dir", "shipped_weights", "WEIGHTS_ROOT", "MANIFEST_NAME", "UPDATE_COMMAND",
           "sha256_file", "read_manifest",
           "compute_manifest", "write_manifest", "manifest_problems", "is_shipped", "verify_shipped",
           "check_finite", "read_json", "read_safetensors", "from_pretrained", "load_state_dict_file"]

WEIGHTS_ROOT = Path(__file__).resolve().parent / "weights"
MANIFEST_NAME = "SHA256SUMS"
UPDATE_COMMAND = "python tools/update_weights_manifest.py"
CHECKED_SUFFIXES = (".safetensors", ".json")     # what the loaders read; the manifest lists every file

# shipped folder -> the script that retrains it
TRAINING_SCRIPTS = {
    "glyphs32": "data_scripts/train_prior.py",
    "glyphs32-cm": "data_scripts/distill_endpoints.py",
    "glyphs32-latent": "data_scripts/train_latent.py",
    "glyphs32-ddc": "data_scripts/train_ddc.py --name glyphs32-ddc",
    "glyphs32-ddc-sr4": "data_scripts/train_ddc.py --name glyphs32-ddc-sr4",
    "glyph_classifier": "data_scripts/train_classifier.py",
}

_digests: dict[tuple, str] = {}
_manifests: dict[tuple, dict[str, str]] = {}


def weights_dir(name: str) -> Path:
    """Folder of a model shipped inside the package (``invlab/weights/<name>``)."""
    return WEIGHTS_ROOT / name


class WeightsError(OSError):
    """A weights file or folder cannot be used: corrupted, truncated, not matching the shipped
    manifest, or not matching its own config. The message names the file or folder."""


def shipped_weights(name: str, present, script: str, error=None) -> Path:
    """The folder of shipped model ``name``, or ``error`` (default :class:`WeightsError`) naming the
    folder and ``script`` when it is missing. ``present``: a file the folder must hold, or a test
    of the folder."""
    path = weights_dir(name)
    if not ((path / present).exists() if isinstance(present, str) else present(path)):
        raise (error or WeightsError)(f"name: the shipped {name} weights are missing from {path}; run {script} "
                                      "(or reinstall invlab)")
    return path


def _stat_key(path: Path) -> tuple:
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns, st.st_ino


def sha256_file(path) -> str:
    """Hex sha256 of a file, cached per process while its size and modification time stay the same."""
    path = Path(path).resolve()
    key = _stat_key(path)
    digest = _digests.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = _digests[key] = h.hexdigest()
    return digest


def _listed_files(root: Path) -> list[str]:
    """Every file under ``root`` a manifest lists: all but the manifest itself, hidden files and caches."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        for name in filenames:
            if name.startswith(".") or (Path(dirpath) == root and name == MANIFEST_NAME):
                continue
            out.append((Path(dirpath) / name).relative_to(root).as_posix())
    return sorted(out)


def compute_manifest(root=None) -> dict[str, str]:
    """``{relative path: sha256}`` of the files under ``root`` (default: the shipped weights)."""
    root = Path(root or WEIGHTS_ROOT).resolve()
    return {rel: sha256_file(root / rel) for rel in _listed_files(root)}


def _format(manifest: dict[str, str]) -> str:
    return "".join(f"{digest}  {rel}\n" for rel, digest in sorted(manifest.items()))


def write_manifest(root=None) -> dict[str, str]:
    """Hash every file under ``root`` (default: the shipped weights) and write ``root/SHA256SUMS``
    atomically; returns the manifest."""
    root = Path(root or WEIGHTS_ROOT).resolve()
    manifest = compute_manifest(root)
    tmp = root / (MANIFEST_NAME + ".tmp")
    tmp.write_text(_format(manifest))
    os.replace(tmp, root / MANIFEST_NAME)
    return manifest


def read_manifest(root=None) -> dict[str, str]:
    """The manifest of ``root`` (default: the shipped weights) as ``{relative path: sha256}``."""
    root = Path(root or WEIGHTS_ROOT).resolve()
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise WeightsError(f"{path}: the weights manifest is missing; reinstall invlab, or run {UPDATE_COMMAND} "
                           "in a source checkout")
    key = _stat_key(path)
    if key not in _manifests:
        manifest = {}
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            digest, sep, rel = line.partition("  ")
            if not sep or len(digest) != 64 or not rel:
                raise WeightsError(f"{path}: line {n} is not '<sha256>  <path>': {line!r}; reinstall invlab or "
                                   f"run {UPDATE_COMMAND}")
            manifest[rel.strip()] = digest.lower()
        _manifests[key] = manifest
    return dict(_manifests[key])


def manifest_problems(root=None) -> list[str]:
    """Differences between the files under ``root`` and its manifest, one line each (empty: they agree)."""
    root = Path(root or WEIGHTS_ROOT).resolve()
    listed = read_manifest(root)
    present = compute_manifest(root)
    problems = [f"{rel}: listed in {MANIFEST_NAME} but missing" for rel in sorted(set(listed) - set(present))]
    problems += [f"{rel}: not listed in {MANIFEST_NAME}" for rel in sorted(set(present) - set(listed))]
    problems += [f"{rel}: sha256 {present[rel][:12]}… does not match the manifest's {listed[rel][:12]}…"
                 for rel in sorted(set(present) & set(listed)) if present[rel] != listed[rel]]
    return problems


def is_shipped(path) -> bool:
    """Whether ``path`` lies inside the shipped weights folder ``invlab/weights``."""
    try:
        Path(path).resolve().relative_to(WEIGHTS_ROOT)
    except ValueError:
        return False
    return True


def _fix(rel: str) -> str:
    script = TRAINING_SCRIPTS.get(rel.split("/", 1)[0])
    retrain = f"python {script}" if script else "the training script in data_scripts/"
    return (f"reinstall invlab (pip install --force-reinstall invlab, or restore the file from git), or re-run "
            f"{retrain} and then {UPDATE_COMMAND}")


def verify_shipped(folder) -> None:
    """Check the weights and configs of a shipped folder against the manifest (nothing to do for
    any other folder). Raises :class:`WeightsError` naming the first file that is corrupted (its
    sha256 differs), missing, or not listed."""
    folder = Path(folder).resolve()
    if not is_shipped(folder) or not folder.is_dir():
        return
    listed = read_manifest(WEIGHTS_ROOT)
    prefix = folder.relative_to(WEIGHTS_ROOT).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    for rel, digest in sorted(listed.items()):
        if not rel.startswith(prefix) or not rel.endswith(CHECKED_SUFFIXES):
            continue
        path = WEIGHTS_ROOT / rel
        if not path.is_file():
            raise WeightsError(f"{path}: this shipped weights file is missing; {_fix(rel)}")
        if sha256_file(path) != digest:
            raise WeightsError(f"{path}: this shipped weights file is corrupted: its sha256 does not match the "
                               f"manifest {WEIGHTS_ROOT / MANIFEST_NAME}; {_fix(rel)}")
    for rel in _listed_files(folder):
        full = prefix + rel
        if full.endswith(CHECKED_SUFFIXES) and full not in listed:
            raise WeightsError(f"{WEIGHTS_ROOT / full}: this file in the shipped weights is not listed in the "
                               f"manifest {WEIGHTS_ROOT / MANIFEST_NAME}; if you retrained it, run {UPDATE_COMMAND}, "
                               "otherwise delete it or reinstall invlab")


def check_finite(tensors, where: str, fix: str = "re-download or re-train it") -> None:
    """Raise :class:`WeightsError` naming ``where`` and the tensor if any floating tensor of
    ``tensors`` (a module or a ``{name: tensor}`` dict) holds NaN or ±Inf."""
    import torch
    items = tensors.state_dict().items() if isinstance(tensors, torch.nn.Module) else tensors.items()
    for name, t in items:
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
            raise WeightsError(f"{where}: tensor {name!r} holds NaN or infinite values, so the file is corrupted; "
                               f"{fix}")


def read_json(path) -> dict:
    """A JSON config file; a malformed one raises :class:`WeightsError` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise WeightsError(f"{path}: not valid JSON ({e}); the file is corrupted") from None


def read_safetensors(path, what: str = "weights file") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(tensors, metadata)`` of a safetensors file; a truncated or malformed file raises
    :class:`WeightsError` naming it."""
    from safetensors import safe_open
    path = str(path)
    try:
        tensors = {}
        with safe_open(path, "pt") as f:
            metadata = dict(f.metadata() or {})
            for k in f.keys():
                tensors[k] = f.get_tensor(k)
    except Exception as e:        # SafetensorError, OSError: a short or garbled file
        if isinstance(e, FileNotFoundError):
            raise WeightsError(f"{path}: no such {what}") from None
        raise WeightsError(f"{path}: this {what} is truncated or corrupted and cannot be read "
                           f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    return tensors, metadata


def _first_lines(msg: str, n: int = 3) -> str:
    lines = [ln.strip().rstrip(".") for ln in str(msg).splitlines() if ln.strip()]
    more = f" (and {len(lines) - n} more)" if len(lines) > n else ""
    return "; ".join(lines[:n]) + more


_VACUOUS_FP32 = "that should be kept in float32: []. "


def _vacuous_fp32_notice(record) -> bool:
    """Logging filter: False (drop) for diffusers' notice "There are modules in <model> that should
    be kept in float32: []. Casting directly with `to()` …", which ``ModelMixin.to(dtype=...)``
    prints even when the list of such modules is empty, as it is for every model invlab loads. The
    notice with a non-empty list, and every other message, passes."""
    msg = record.getMessage()
    return not (msg.startswith("There are modules in ") and _VACUOUS_FP32 in msg)


def _quiet_diffusers(kw: dict) -> dict:
    """The keyword arguments for diffusers' ``from_pretrained`` without its two known-harmless
    messages. Without ``accelerate`` diffusers falls back to ``low_cpu_mem_usage=False`` with a
    warning; passing ``False`` here loads the same way in silence (an explicit choice is kept). The
    empty float32 notice is dropped by :func:`_vacuous_fp32_notice` on diffusers' model logger."""
    import logging

    from diffusers.utils import is_accelerate_available
    logger = logging.getLogger("diffusers.models.modeling_utils")
    if _vacuous_fp32_notice not in logger.filters:
        logger.addFilter(_vacuous_fp32_notice)
    if not is_accelerate_available():
        kw = {"low_cpu_mem_usage": False, **kw}
    return kw


def from_pretrained(cls, path_or_id, *, subfolder: str | None = None, **kw):
    """``cls.from_pretrained(path_or_id, subfolder=..., **kw)`` (a diffusers model) with the checks
    above: a shipped folder is verified against the manifest first; a local folder's loading
    errors (truncated file, size mismatch with ``config.json``, missing or unexpected tensors) are
    re-raised as :class:`WeightsError` naming the folder; every tensor must be finite. diffusers'
    known-harmless loading messages (no ``accelerate``; an empty list of float32 modules) are not
    printed; every other warning is (see :func:`_quiet_diffusers`)."""
    kw = _quiet_diffusers(kw)
    local = Path(str(path_or_id)).expanduser()
    is_local = local.is_dir()
    folder = local / subfolder if (is_local and subfolder) else local
    where = str(folder) if is_local else "/".join(p for p in (str(path_or_id), subfolder) if p)
    if is_local:
        verify_shipped(local)                # the whole pipeline folder: configs, scheduler, every subfolder
    try:
        model, info = cls.from_pretrained(str(local) if is_local else path_or_id, subfolder=subfolder,
                                          output_loading_info=True, **kw)
    except (OSError, RuntimeError, ValueError) as e:
        if not is_local:
            raise
        msg = str(e)
        if "size mismatch" in msg:
            raise WeightsError(f"{where}: the weights do not match config.json (the config describes another "
                               f"network): {_first_lines(msg.split(':', 1)[1] if ':' in msg else msg)}") from None
        raise WeightsError(f"{where}: cannot load {cls.__name__} weights: {_first_lines(msg)}") from None
    bad = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if bad:
        detail = "; ".join(f"{k.replace('_', ' ')} {list(v)[:3]}" + (f" (+{len(v) - 3} more)" if len(v) > 3 else "")
                           for k, v in bad.items())
        raise WeightsError(f"{where}: the weights do not match config.json: {detail}")
    check_finite(model, where)
    return model


def load_state_dict_file(module: torch.nn.Module, path, what: str = "weights file") -> torch.nn.Module:
    """Load a safetensors state dict into ``module`` (strict), verifying a shipped file against the
    manifest and every tensor's finiteness; every failure names ``path``."""
    path = Path(path)
    verify_shipped(path.parent)
    tensors, _ = read_safetensors(path, what)
    check_finite(tensors, str(path))
    try:
        module.load_state_dict(tensors)
    except RuntimeError as e:
        raise WeightsError(f"{path}: the {what} does not match the model (another config?): "
                           f"{_first_lines(str(e).split(':', 1)[-1])}") from None
    return module
