"""The glyph classifier: a small CNN whose predictions and penultimate features give the course
its semantic metrics (classifier accuracy, Fréchet distance), as ImageNet papers use a ResNet.

Trained by ``data_scripts/train_classifier.py``; weights ship in ``invlab/weights/glyph_classifier``.
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn

__all__ = ["GlyphClassifier", "load_classifier"]


class GlyphClassifier(nn.Module):
    """(B, 1, 32, 32) in [-1, 1] → 10 logits; ``features`` gives the 128-D penultimate layer."""

    def __init__(self, width: int = 24, feat: int = 128):
        super().__init__()
        w = width

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                                 nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

        self.body = nn.Sequential(block(1, w), block(w, 2 * w), block(2 * w, 4 * w))     # 32 → 4
        self.neck = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * w * 16, feat), nn.ReLU())
        self.head = nn.Linear(feat, 10)
        self.config = {"width": width, "feat": feat}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.neck(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@functools.lru_cache(maxsize=4)
def _load(device: str) -> GlyphClassifier:
    from .weights_manifest import WeightsError, load_state_dict_file, read_json, shipped_weights, verify_shipped
    path = shipped_weights("glyph_classifier", "model.safetensors", "data_scripts/train_classifier.py")
    verify_shipped(path)
    cfg = read_json(path / "config.json")
    if not all(isinstance(cfg.get(k), int) for k in ("width", "feat")):
        raise WeightsError(f"{path / 'config.json'}: expected integer 'width' and 'feat', got {cfg}")
    model = GlyphClassifier(cfg["width"], cfg["feat"])
    load_state_dict_file(model, path / "model.safetensors", "classifier weights file")
    return model.eval().to(device)


def load_classifier(device="cpu") -> GlyphClassifier:
    """The shipped classifier (eval mode, frozen), cached per device."""
    model = _load(str(torch.device(device)))
    for p in model.parameters():
        p.requires_grad_(False)
    return model
