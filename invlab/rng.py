"""Random numbers drawn the same way everywhere: on the CPU, from an explicit generator, in the
precision of the tensor they join, then moved to its device (so a seed gives the same numbers on
every device)."""
from __future__ import annotations

import torch

__all__ = ["randn", "make_generator"]


def randn(shape, generator: torch.Generator | None, *, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise drawn on the CPU (same numbers on every device), moved to ``like``."""
    z = torch.randn(shape, generator=generator, dtype=torch.float64 if like.dtype == torch.float64
                    else torch.float32)
    return z.to(device=like.device, dtype=like.dtype)


def make_generator(seed=None, generator: torch.Generator | None = None) -> torch.Generator:
    """A CPU generator from ``generator`` (returned as is) or an int ``seed``."""
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
        return generator
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g
