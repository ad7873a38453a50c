"""Write the glyph data set to disk (the course itself renders glyphs on the fly, offline).

    python data_scripts/make_glyphs.py --train 60000 --test 10000 --out build/glyphs

Writes ``glyphs_{split}.safetensors`` with ``x`` (N, 1, 32, 32) float32 in [-1, 1] and ``labels``
(N,) int64, plus a PNG contact sheet of the first 100 test images. Deterministic for a seed;
``invlab.data.glyphs(n, split=..., seed=...)`` returns exactly the same images.
"""
from __future__ import annotations

import argparse
import os
import sys

from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from invlab.data import glyph_fonts, glyphs  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", type=int, default=60000)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="build/glyphs")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for split, n in (("train", args.train), ("test", args.test)):
        x, labels = glyphs(n, split=split, seed=args.seed, cache=False)
        save_file({"x": x.contiguous(), "labels": labels}, os.path.join(args.out, f"glyphs_{split}.safetensors"))
        print(f"{split}: {n} images")
    import matplotlib
    matplotlib.use("Agg")
    from invlab.viz import show_images
    x, labels = glyphs(100, split="test", seed=args.seed)
    show_images(x, [str(int(v)) for v in labels], ncols=20, size=0.6).savefig(os.path.join(args.out, "test_sheet.png"))
    print(f"fonts: {', '.join(glyph_fonts())}")


if __name__ == "__main__":
    main()
