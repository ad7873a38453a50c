"""Rewrite the sha256 manifest of the shipped weights, ``invlab/weights/SHA256SUMS``.

    python tools/update_weights_manifest.py          # rehash every file and write the manifest
    python tools/update_weights_manifest.py --check  # exit 1 (listing the differences) if it is stale

Run it after retraining any shipped network (``data_scripts/*.py``): loading a shipped folder
compares its files with this manifest and refuses a file that differs, and the test suite fails
while the manifest is stale.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

# the module alone, not the package: the manifest can be rebuilt even while invlab does not import
_spec = importlib.util.spec_from_file_location(
    "invlab_weights_manifest", Path(__file__).resolve().parent.parent / "invlab" / "weights_manifest.py")
_wm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_wm)
MANIFEST_NAME, WEIGHTS_ROOT, WeightsError = _wm.MANIFEST_NAME, _wm.WEIGHTS_ROOT, _wm.WeightsError
manifest_problems, read_manifest, write_manifest = _wm.manifest_problems, _wm.read_manifest, _wm.write_manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 if the manifest is stale")
    args = ap.parse_args(argv)
    if args.check:
        try:
            problems = manifest_problems()
        except WeightsError as e:
            print(e, file=sys.stderr)
            return 1
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print(f"{WEIGHTS_ROOT / MANIFEST_NAME} is stale: run python tools/update_weights_manifest.py",
                  file=sys.stderr)
            return 1
        print(f"{WEIGHTS_ROOT / MANIFEST_NAME}: {len(read_manifest())} files match")
        return 0
    old = read_manifest() if (WEIGHTS_ROOT / MANIFEST_NAME).is_file() else {}
    new = write_manifest()
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    for rel in changed:
        state = "added" if rel not in old else "removed" if rel not in new else "changed"
        print(f"{state:8} {rel}")
    total = sum((WEIGHTS_ROOT / rel).stat().st_size for rel in new)
    print(f"wrote {WEIGHTS_ROOT / MANIFEST_NAME}: {len(new)} files, {total / 2**20:.1f} MiB, {len(changed)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
