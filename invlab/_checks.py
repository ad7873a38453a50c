"""Argument checks shared by the package.

Every public entry point validates its inputs *before* doing any work and raises a
``ValueError``/``TypeError`` whose message starts with the offending argument's name.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch


def check_tensor(name: str, x, *, ndim: int | Iterable[int] | None = None, finite: bool = True,
                 floating: bool = True) -> torch.Tensor:
    """Check that ``x`` is a tensor of the right rank, floating dtype and finite values."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name}: expected a {want}-D tensor, got shape {tuple(x.shape)}")
    if finite and x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x


def check_image(name: str, x, *, channels: int | None = None, size: tuple[int, int] | None = None,
                range_tol: float = 0.5) -> torch.Tensor:
    """Check an image batch (B, C, H, W) with values in [-1, 1] (up to ``range_tol``)."""
    check_tensor(name, x, ndim=4)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name}: expected {channels} channel(s), got shape {tuple(x.shape)}")
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        raise ValueError(f"{name}: expected spatial size {tuple(size)}, got shape {tuple(x.shape)}")
    if x.numel():
        lo, hi = float(x.min()), float(x.max())
        if lo < -1 - range_tol or hi > 1 + range_tol:
            raise ValueError(f"{name}: values must lie in [-1, 1] (images are in [-1, 1]); "
                             f"got range [{lo:.3g}, {hi:.3g}]")
    return x


def check_positive(name: str, value, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: must be {bound} and finite, got {value!r}")
    return float(value)


def check_int(name: str, value, *, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name}: must lie in [{lo}, {hi}], got {value}")
    return value


def check_fraction(name: str, value, *, lo: float = 0.0, hi: float = 1.0,
                   closed_hi: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    ok = lo <= value <= hi if closed_hi else lo <= value < hi
    if not ok:
        rb = "]" if closed_hi else ")"
        raise ValueError(f"{name}: must lie in [{lo}, {hi}{rb}, got {value!r}")
    return float(value)


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name}: unknown value {value!r}; choose one of {sorted(choices)}")
    return value


def make_generator(seed=None, generator: torch.Generator | None = None) -> torch.Generator:
    """A CPU generator from ``generator`` (returned as is) or an int ``seed``."""
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
        return generator
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def randn(shape, generator: torch.Generator | None, *, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise drawn on the CPU (same numbers on every device), moved to ``like``."""
    z = torch.randn(shape, generator=generator, dtype=torch.float64 if like.dtype == torch.float64
                    else torch.float32)
    return z.to(device=like.device, dtype=like.dtype)


def rand(shape, generator: torch.Generator | None, *, like: torch.Tensor) -> torch.Tensor:
    z = torch.rand(shape, generator=generator, dtype=torch.float64 if like.dtype == torch.float64
                   else torch.float32)
    return z.to(device=like.device, dtype=like.dtype)
