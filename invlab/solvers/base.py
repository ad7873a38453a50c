"""Solver plumbing shared by every method (notebook 02 onwards).

Every solver is a plain function ``solver(problem, prior, *, <hyperparameters>, generator=None,
callback=None) -> Result`` decorated with :func:`solver`. The decorator

* checks the problem again (:meth:`InverseProblem.validate`: a ``y`` replaced or edited after
  the problem was built is refused, naming ``y``) and that the problem and the prior fit (image
  shape, device) before any work;
* takes ``generator`` as a CPU :class:`torch.Generator`, ``None`` (torch's global generator) or an
  int seed, which becomes ``torch.Generator().manual_seed(seed)`` (the same numbers as passing that
  generator; solvers draw on the CPU, so the numbers do not depend on the device);
* hands the function a *counting* view of the prior: every ``prior.eps`` call is one network
  forward pass (``nfe``) and every backward pass through one of its outputs is a VJP (``vjp``),
  so a solver cannot under-report its cost; a latent prior's ``encode`` and ``decode`` are
  networks too and are counted the same way (``info["calls"]`` splits the total by network);
* refuses a latent prior in a pixel-space solver and a pixel prior in a latent-only one;
* times the call and records peak memory (CUDA allocator peak on a GPU, growth of the kernel's
  resident-set high-water mark on a Linux CPU);
* registers the function in :data:`SOLVERS` under its name.
"""
from __future__ import annotations

import copy
import functools
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .._checks import check_generator

__all__ = ["Result", "SOLVERS", "solver", "counting_prior", "initial_noise"]

SOLVERS: dict[str, Callable] = {}


@dataclass
class Result:
    """What a solver returns.

    Attributes:
        x: the estimate (B, C, H, W) (or (B, d) for vector priors).
        nfe: network forward passes (calls of ``prior.eps``; one call = one batched pass).
        vjp: network backward passes (vector–Jacobian products through the network).
        seconds: wall time of the call.
        peak_memory_bytes: peak extra memory during the call (see module docstring), or None.
        trajectory: optional snapshots (list of tensors) the solver chose to keep.
        info: solver-specific extras (e.g. per-step losses).
    """

    x: torch.Tensor
    nfe: int = 0
    vjp: int = 0
    seconds: float = 0.0
    peak_memory_bytes: int | None = None
    trajectory: list | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self):
        return (f"Result(x={tuple(self.x.shape)}, nfe={self.nfe}, vjp={self.vjp}, "
                f"seconds={self.seconds:.3g}, peak_memory_bytes={self.peak_memory_bytes})")


class Trace:
    """What a step loop keeps, written once for the loops that share it: the per-step residual norms,
    every ``keep``-th x̂_0 (and the last step's) for ``Result.trajectory``, and the caller's
    ``callback(i, t, x, x̂_0)``. Call it once per step; :meth:`result` builds the :class:`Result`
    (``info["residual_norm"]`` the stacked norms, when any were recorded)."""

    def __init__(self, keep: int = 0, callback=None):
        self.keep, self.callback, self.norms, self.frames = keep, callback, [], []

    def __call__(self, i: int, t: int, s: int, x: torch.Tensor, x0: torch.Tensor, norm=None) -> None:
        if norm is not None:
            self.norms.append(norm)
        if self.keep and (i % self.keep == 0 or s < 0):
            self.frames.append(x0)
        if self.callback is not None:
            self.callback(i, t, x, x0)

    def result(self, x: torch.Tensor, **info) -> "Result":
        if self.norms:
            info = {"residual_norm": torch.stack(self.norms), **info}
        return Result(x=x, trajectory=self.frames or None, info=info)


class _Counter:
    def __init__(self):
        self.nfe = 0
        self.vjp = 0
        self.calls: dict[str, int] = {}

    def hooked(self, key: str):
        def hook(grad):
            self.vjp += 1
            self.calls[key + "_vjp"] = self.calls.get(key + "_vjp", 0) + 1
            return grad
        return hook


def counting_prior(prior, counter: _Counter, method: str | tuple[str, ...] = "eps"):
    """A shallow copy of ``prior`` whose ``eps`` counts forward and backward network passes.

    Everything derived from ``eps`` (``x0``, ``score``, ``sample``, ``purify``) goes through the
    counting version, because those methods call ``self.eps``. Each network class names what is
    counted in ``counted_methods``: ``network`` for a consistency model (one call per f
    evaluation), ``residual`` for a DDC network, ``eps``, ``encode`` and ``decode`` for a latent
    prior.
    """
    counted = copy.copy(prior)
    for name in (method,) if isinstance(method, str) else method:
        inner = getattr(prior, name)

        def counting(*args, _inner=inner, _name=name, **kw):
            counter.nfe += 1
            counter.calls[_name] = counter.calls.get(_name, 0) + 1
            out = _inner(*args, **kw)
            if out.requires_grad:
                out.register_hook(counter.hooked(_name))
            return out

        setattr(counted, name, counting)
    return counted


class _PeakMemory:
    """Peak memory during a block: the CUDA allocator's peak on a GPU; on Linux CPUs the kernel's
    resident-set high-water mark (VmHWM), reset at the start through ``/proc/self/clear_refs`` —
    no sampling thread, so no GIL contention slows small-batch solvers. Elsewhere ``None``."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak: int | None = None

    @staticmethod
    def _status_kb(field: str) -> int | None:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            return None
        return None

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            return self
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")                                   # reset VmHWM to the current RSS
            self.base = self._status_kb("VmRSS")
        except OSError:
            self.base = None
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = int(torch.cuda.max_memory_allocated(self.device) - self.base)
        elif self.base is not None:
            hwm = self._status_kb("VmHWM")
            self.peak = None if hwm is None else max(0, hwm - self.base)
        return False


def initial_noise(problem, prior, generator) -> torch.Tensor:
    """x_T ~ N(0, I): one sample per problem, drawn on the CPU, on the measurement's device/dtype."""
    from ..rng import randn
    return randn((problem.batch_size,) + tuple(prior.image_shape), generator, like=problem.y)


def _check_space(name: str, prior, spaces) -> None:
    from ..diffusion.latent import require_latent, require_pixel
    if getattr(prior, "is_latent", False) and "latent" not in spaces:
        require_pixel(prior, name)
    if not getattr(prior, "is_latent", False) and "pixel" not in spaces and getattr(prior, "image_shape", ()):
        require_latent(prior, name)


def _check_fit(problem, prior) -> None:
    from ..problems import InverseProblem
    if not isinstance(problem, InverseProblem):
        raise TypeError(f"problem: expected an InverseProblem (invlab.make_problem), got {type(problem).__name__}")
    shape = tuple(getattr(prior, "pixel_shape", None) or getattr(prior, "image_shape", ()))
    if not shape:
        raise TypeError(f"prior: expected an invlab prior (invlab.load_prior), got {type(prior).__name__}")
    if tuple(problem.op.input_shape) != shape:
        raise ValueError(f"problem: the operator works on images of shape {tuple(problem.op.input_shape)} but "
                         f"the {getattr(prior, 'name', 'given')} prior makes {shape}; "
                         "build the problem at the prior's size")
    problem.validate()
    dev = getattr(prior, "device", None)
    if isinstance(dev, torch.device) and dev != problem.y.device:
        raise ValueError(f"prior: lives on {str(dev)!r} but the problem's x and y on {str(problem.y.device)!r}; "
                         "move one of them (prior.to(device), or build the problem from x on the prior's device)")


def solver(fn: Callable | None = None, *, spaces: tuple[str, ...] = ("pixel",),
           prepare: Callable | None = None) -> Callable:
    """Register ``fn`` in :data:`SOLVERS` and wrap it with checks, cost counting and timing.

    Before ``fn`` runs, the wrapper refuses unknown hyperparameters, a prior of the wrong space,
    size or device, and a problem that fails :meth:`InverseProblem.validate` (so a NaN or
    wrong-shaped ``y`` is named as ``y`` before any work). ``generator`` may be an int seed: ``fn``
    then receives ``torch.Generator().manual_seed(seed)``, exactly as if that had been passed;
    anything else but ``None`` or a CPU :class:`torch.Generator` is refused. ``callback`` must be
    ``None`` or callable.

    Inside ``fn`` the ``prior`` argument is the counting view; ``fn`` returns the estimate
    (a tensor) or a :class:`Result` whose cost fields the wrapper fills in. ``spaces`` says which
    priors the solver takes: ``"pixel"`` priors, ``"latent"`` priors (:class:`LatentPrior`), or both
    (``@solver(spaces=("pixel", "latent"))``). ``prepare(problem, kwargs) -> kwargs`` runs after the
    checks and before the cost counting starts: a solver that is handed a second network by name
    (DDC) resolves it there, so the network's passes are counted like the prior's.
    """
    if fn is None:
        return functools.partial(solver, spaces=spaces, prepare=prepare)
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    names = [p.name for p in params]
    if names[:2] != ["problem", "prior"] or not {"generator", "callback"} <= set(names):
        raise TypeError(f"{fn.__name__}: a solver takes (problem, prior, *, ..., generator=None, callback=None)")

    @functools.wraps(fn)
    def wrapped(problem, prior, **kwargs):
        unknown = set(kwargs) - set(sig.parameters)
        if unknown:
            raise TypeError(f"{sorted(unknown)[0]}: not a hyperparameter of {fn.__name__}; "
                            f"it takes {[p.name for p in params[2:]]}")
        _check_space(fn.__name__, prior, spaces)
        _check_fit(problem, prior)
        if "generator" in kwargs:
            kwargs["generator"] = check_generator("generator", kwargs["generator"])
        cb = kwargs.get("callback")
        if cb is not None and not callable(cb):
            raise TypeError(f"callback: expected None or a callable, got {type(cb).__name__}")
        counter = _Counter()
        counted = counting_prior(prior, counter, getattr(prior, "counted_methods", ("eps",)))
        if prepare is not None:
            kwargs = prepare(problem, dict(kwargs))
        for key, value in kwargs.items():          # other networks a solver is handed (CM purifier, DDC)
            if hasattr(value, "counted_methods"):
                kwargs[key] = counting_prior(value, counter, value.counted_methods)
        device = problem.y.device
        t0 = time.perf_counter()
        with _PeakMemory(device) as mem:
            out = fn(problem, counted, **kwargs)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        res = out if isinstance(out, Result) else Result(x=out)
        res.x = res.x.detach()
        res.nfe, res.vjp, res.seconds, res.peak_memory_bytes = counter.nfe, counter.vjp, seconds, mem.peak
        if getattr(prior, "is_latent", False):
            res.info["calls"] = dict(counter.calls)
        return res

    wrapped.spaces = tuple(spaces)
    SOLVERS[fn.__name__] = wrapped
    return wrapped
