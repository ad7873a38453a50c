"""Argument checks shared by the package.

Every public entry point validates its inputs *before* doing any work and raises a
``ValueError``/``TypeError`` whose message starts with the offending argument's name.
"""
from __future__ import annotations

import math
import numbers
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



def check_batch(name: str, x, shape, owner: str) -> torch.Tensor:
    """A finite floating tensor of shape (B, *shape); the error names ``name`` and ``owner`` (e.g.
    "the glyphs32 prior")."""
    check_tensor(name, x)
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(f"{name}: {owner} expects shape (B, {', '.join(map(str, shape))}), got {tuple(x.shape)}")
    return x


def per_sample(value, dtype: torch.dtype, batch: int) -> torch.Tensor:
    """A scalar or a per-sample value as a CPU tensor, a scalar expanded to (batch,)."""
    v = torch.as_tensor(value, dtype=dtype).to("cpu")
    return v.expand(batch) if v.ndim == 0 else v

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


def check_bool(name: str, value, *, allow_none: bool = False):
    """``value`` if it is a bool (or None when ``allow_none``), else a TypeError naming ``name``."""
    if (value is None and allow_none) or isinstance(value, bool):
        return value
    raise TypeError(f"{name}: expected True or False{' or None' if allow_none else ''}, got {value!r}")


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





def _backend_available(kind: str) -> bool:
    if kind == "cpu":
        return True
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    module = getattr(torch, kind, None)
    probe = getattr(module, "is_available", None)
    return bool(probe()) if callable(probe) else False


def check_device(name: str, device, *, allow_none: bool = False) -> torch.device | None:
    """Check that ``device`` names a device this torch build can put data on, and return it as a
    :class:`torch.device`.

    ``device`` is a string (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``), a
    :class:`torch.device`, an int (CUDA device index, as torch reads it) or a tensor, whose own
    device is checked (the message then speaks of the tensor). ``None`` is returned as is when
    ``allow_none``. Refused, each with its own message: a string that is no device, a CUDA device
    on a torch built without CUDA, a CUDA device or index that is not visible, an unavailable
    backend, and the ``meta`` device (tensors there have a shape but no values).
    """
    if isinstance(device, torch.Tensor):
        if device.is_meta:
            raise ValueError(f"{name}: is a meta tensor (a shape without values); create it on a real "
                             f"device such as 'cpu' or 'cuda'")
        device = device.device
        what = f"{name}: lives on {str(device)!r}, "
    else:
        what = f"{name}: {device!r} asked for, "
        if device is None:
            if allow_none:
                return None
            raise TypeError(f"{name}: expected a device such as 'cpu' or 'cuda', got None")
        if isinstance(device, bool) or not isinstance(device, (str, torch.device, int)):
            raise TypeError(f"{name}: expected a device such as 'cpu' or 'cuda' (a str, torch.device or "
                            f"int CUDA index), got {type(device).__name__}")
        if isinstance(device, int):
            if device < 0:
                raise ValueError(f"{name}: a CUDA device index must be >= 0, got {device}")
            device = f"cuda:{device}"
        try:
            device = torch.device(device)
        except (RuntimeError, ValueError):
            raise ValueError(f"{name}: unknown device {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    kind = device.type
    if kind == "meta":
        raise ValueError(f"{name}: the 'meta' device holds shapes without values; use 'cpu' or 'cuda'")
    if kind == "cuda":
        if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
            raise ValueError(what + f"but this torch ({torch.__version__}) is built without CUDA; use 'cpu', "
                             "or install a CUDA build of torch")
        if not torch.cuda.is_available():
            raise ValueError(what + "but no CUDA GPU is visible here (torch.cuda.is_available() is False); "
                             "use 'cpu'")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(what + f"but only {count} CUDA device(s) are visible "
                             f"(indices 0 to {count - 1})")
    elif not _backend_available(kind):
        raise ValueError(what + f"but the {kind!r} backend is not available in this torch build; use 'cpu'")
    return device


def check_dtype(name: str, dtype, *, allow_none: bool = False) -> torch.dtype | None:
    """Check that ``dtype`` is a floating torch dtype (what a network's weights can be cast to)."""
    if dtype is None and allow_none:
        return None
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{name}: expected a floating torch dtype such as torch.float32 or torch.bfloat16, "
                        f"got {dtype!r}")
    return dtype


def check_generator(name: str, generator) -> torch.Generator | None:
    """``None`` (torch's global generator), a CPU :class:`torch.Generator` (returned as is) or an
    int seed, made into ``torch.Generator().manual_seed(seed)``: the same numbers as passing that
    generator. invlab draws its random numbers on the CPU and moves them to the data's device, so
    every device sees the same numbers; a generator on another device is refused."""
    if generator is None:
        return None
    if isinstance(generator, torch.Generator):
        if generator.device.type != "cpu":
            raise ValueError(f"{name}: expected a CPU torch.Generator (invlab draws its random numbers on "
                             f"the CPU, the same on every device), got one on {str(generator.device)!r}")
        return generator
    if isinstance(generator, bool) or not isinstance(generator, numbers.Integral):
        raise TypeError(f"{name}: expected a torch.Generator or an int seed, got {type(generator).__name__}")
    seed = int(generator)
    if not 0 <= seed < 2 ** 64:
        raise ValueError(f"{name}: a seed must lie in [0, 2**64), got {seed}")
    return torch.Generator().manual_seed(seed)
