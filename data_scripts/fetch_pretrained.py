"""Download a pretrained diffusers model once (online users), check it, store safetensors.

    python data_scripts/fetch_pretrained.py google/ddpm-ema-celebahq-256 [more ids ...]
    python data_scripts/fetch_pretrained.py --list

Downloads the repository snapshot into the Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE``),
prints the sha256 of every weight file and checks it against ``KNOWN_SHA256`` when we recorded
one (a mismatch is an error). Repositories that only ship pickled ``.bin`` weights are converted
to ``diffusion_pytorch_model.safetensors`` next to them with ``torch.load(weights_only=True)`` —
invlab never unpickles a checkpoint at run time. Afterwards ``invlab.load_prior(<id>)`` works
offline.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

SUPPORTED = {
    "google/ddpm-ema-celebahq-256": "DDPM, CelebA-HQ faces 256×256 (notebook 10's default)",
    "google/ddpm-cifar10-32": "DDPM, CIFAR-10 32×32",
    "google/ddpm-ema-bedroom-256": "DDPM, LSUN bedrooms 256×256",
    "openai/diffusers-cd_imagenet64_l2": "consistency model, ImageNet 64×64",
    "CompVis/ldm-celebahq-256": "latent diffusion (VQModel + UNet), CelebA-HQ 256×256",
}
# sha256 of weight files we have verified ourselves; extend when you verify another file.
KNOWN_SHA256: dict[str, str] = {}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def convert_bin(path: Path) -> Path:
    import torch
    from safetensors.torch import save_file
    state = torch.load(path, map_location="cpu", weights_only=True)
    out = path.with_suffix(".safetensors")
    save_file({k: v.contiguous() for k, v in state.items()}, str(out))
    return out


def fetch(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    root = Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.bin", "*.txt"]))
    for weights in sorted(root.rglob("*.bin")):
        if not weights.with_suffix(".safetensors").exists():
            print(f"  converting {weights.relative_to(root)} to safetensors (weights_only load)")
            convert_bin(weights.resolve())
    for f in sorted(root.rglob("*.safetensors")):
        digest = sha256(f)
        key = f"{repo_id}/{f.relative_to(root)}"
        expected = KNOWN_SHA256.get(key)
        if expected and expected != digest:
            raise SystemExit(f"sha256 mismatch for {key}: {digest} != {expected}")
        print(f"  {f.relative_to(root)}  sha256 {digest}{'  (verified)' if expected else ''}")
    return root


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo_ids", nargs="*")
    ap.add_argument("--list", action="store_true", help="list the models the course knows")
    args = ap.parse_args(argv)
    if args.list or not args.repo_ids:
        for k, v in SUPPORTED.items():
            print(f"{k:<40} {v}")
        return 0
    for rid in args.repo_ids:
        print(f"{rid}:")
        try:
            print(f"  stored in {fetch(rid)}")
        except Exception as e:  # network errors, missing repos
            print(f"  failed: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
