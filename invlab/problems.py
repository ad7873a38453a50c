"""Named inverse problems: ``make_problem(task, x, sigma_y=..., seed=...)`` (notebook 01).

Defaults are the papers' 256-pixel settings scaled to the image side ``n``:
sizes scale with the side (a 128-px box on 256 is a 16-px box on 32), kernel widths likewise,
with the Gaussian blur kept visibly strong on small images (std ≥ 1 px). Every default can be
overridden by keyword; unknown keywords are an error, never ignored.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import torch

from ._checks import (check_choice, check_device, check_fraction, check_generator, check_image, check_int,
                      check_positive, check_tensor)
from .rng import make_generator
from .noise import Noise, make_noise
from .operators import (HDR, JPEG, BlockCS, Convolution, Identity, Mask, Matrix, Operator, PhaseRetrieval,
                        Separable, avg_pool_matrix, bicubic_matrix, box_mask, circulant,
                        freeform_mask, gaussian_kernel1d, motion_kernel, random_mask,
                        random_orthogonal)

__all__ = ["InverseProblem", "make_problem", "make_operator", "linear_problem", "TASKS", "task_defaults"]


def _odd(v: float) -> int:
    """The smallest odd integer >= v."""
    return 2 * int(math.ceil((v - 1) / 2)) + 1


def task_defaults(task: str, size: int) -> dict[str, Any]:
    """The default parameters of ``task`` on ``size``×``size`` images, with where they come from."""
    check_choice("task", task, TASKS)
    s = size / 256
    d: dict[str, Any] = {
        "denoise": {},
        # DPS: 128x128 hole on 256, margin 16, one random box per image
        "box_inpaint": {"box": max(1, round(128 * s)), "margin": round(16 * s)},
        # DAPS / DDiff drop 70 % of the pixels
        "random_inpaint": {"p": 0.7},
        # Palette-style brush strokes; 20-30 % hole
        "freeform_inpaint": {"hole_range": (0.2, 0.3)},
        "sr2": {"factor": 2}, "sr4": {"factor": 4}, "sr8": {"factor": 8},
        "sr4_bicubic": {"factor": 4},
        # DPS: 61x61 kernel, std 3.0 on 256 -> std 0.375 on 32 would be invisible: keep >= 1 px
        "gaussian_blur": {"std": max(3.0 * s, 1.0)},
        # DPS/DAPS: 61x61 kernel, intensity 0.5 -> 9x9 on 32
        "motion_blur": {"kernel_size": max(5, _odd(61 * s)), "intensity": 0.5},
        "cs10": {"ratio": 0.10, "block": 32}, "cs25": {"ratio": 0.25, "block": 32},
        # DPS: pad by side/4 each way ("oversampling 2")
        "phase_retrieval": {"oversampling": 2.0},
        "hdr": {"scale": 2.0},
        "jpeg10": {"quality": 10, "straight_through": False},
    }[task]
    return d


TASKS = ("denoise", "box_inpaint", "random_inpaint", "freeform_inpaint", "sr2", "sr4", "sr8",
         "sr4_bicubic", "gaussian_blur", "motion_blur", "cs10", "cs25", "phase_retrieval", "hdr",
         "jpeg10")


def _check_batch(name: str, x: torch.Tensor) -> None:
    """At least one item in the batch, and no empty dimension."""
    if x.shape[0] == 0:
        raise ValueError(f"{name}: an empty batch (shape {tuple(x.shape)}); pass at least one image")
    if 0 in x.shape:
        raise ValueError(f"{name}: has an empty dimension (shape {tuple(x.shape)})")


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2 ** 64:
        raise ValueError(f"seed: must lie in [0, 2**64), got {seed}")
    return int(seed)


def _problem_generator(seed, generator) -> torch.Generator:
    """The generator of a problem's masks, kernels and noise: ``generator`` when given (a CPU
    torch.Generator), else one seeded with ``seed``."""
    seed = _check_seed(seed)
    if generator is not None and not isinstance(generator, torch.Generator):
        if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
            raise TypeError("generator: expected a torch.Generator; pass an int seed as seed=")
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    return make_generator(seed, check_generator("generator", generator))


def make_operator(task: str, input_shape, *, batch: int = 1, generator: torch.Generator | None = None,
                  **params) -> Operator:
    """Build the forward operator of ``task`` for images of ``input_shape`` = (C, H, W).

    Per-image random parts (inpainting masks) are drawn for ``batch`` images from ``generator``;
    shared ones (motion kernel, sensing matrix) once.
    """
    check_choice("task", task, TASKS)
    C, H, W = (int(v) for v in input_shape)
    if H != W:
        raise ValueError(f"x: square images expected, got {H}x{W}")
    g = make_generator(0, generator)
    p = task_defaults(task, H)
    unknown = set(params) - set(p)
    if unknown:
        raise TypeError(f"{sorted(unknown)[0]}: not a parameter of task {task!r}; "
                        f"its parameters are {sorted(p) or 'none'}")
    p.update(params)
    shape = (C, H, W)
    if task == "denoise":
        return Identity(shape)
    if task == "box_inpaint":
        box = check_int("box", p["box"], lo=1)
        margin = check_int("margin", p["margin"], lo=0)
        if box + 2 * margin > H:
            raise ValueError(f"box: a {box}-px box with margin {margin} does not fit a {H}-px image")
        return Mask(box_mask(batch, H, box, margin, g), C, "box_inpaint")
    if task == "random_inpaint":
        pr = check_fraction("p", p["p"])
        return Mask(random_mask(batch, H, pr, g), C, "random_inpaint")
    if task == "freeform_inpaint":
        lo, hi = p["hole_range"]
        check_fraction("hole_range", lo, hi=0.9)
        check_fraction("hole_range", hi, lo=lo, hi=0.9, closed_hi=True)
        if hi - lo < 0.05:
            raise ValueError(f"hole_range: needs a range at least 0.05 wide, got {p['hole_range']}")
        return Mask(freeform_mask(batch, H, (lo, hi), g), C, "freeform_inpaint")
    if task in ("sr2", "sr4", "sr8", "sr4_bicubic"):
        f = check_int("factor", p["factor"], lo=1)
        if H % f:
            raise ValueError(f"factor: image side {H} is not divisible by {f}")
        if task == "sr4_bicubic":
            m = bicubic_matrix(H, f)
            return Separable(m, m, C, task)
        m = avg_pool_matrix(H, f)
        return Separable(m, m, C, task)
    if task == "gaussian_blur":
        std = check_positive("std", p["std"])
        radius = min(int(math.ceil(4 * std)), (H - 1) // 2)   # scipy's truncate = 4
        k = gaussian_kernel1d(std, radius)
        c = circulant(k, H)
        return Separable(c, c, C, "gaussian_blur")
    if task == "motion_blur":
        ks = check_int("kernel_size", p["kernel_size"], lo=1, hi=H)
        if ks % 2 == 0:
            raise ValueError(f"kernel_size: must be odd, got {ks}")
        intensity = check_fraction("intensity", p["intensity"], closed_hi=True)
        return Convolution(motion_kernel(ks, intensity, g), shape, "motion_blur")
    if task in ("cs10", "cs25"):
        ratio = check_fraction("ratio", p["ratio"], lo=1e-6, closed_hi=True)
        b = check_int("block", p["block"], lo=1)
        if H % b:
            raise ValueError(f"block: image side {H} is not divisible by the block {b}")
        return BlockCS(shape, ratio, random_orthogonal(b * b, g), b)
    if task == "phase_retrieval":
        ov = check_positive("oversampling", p["oversampling"])
        if ov < 1:
            raise ValueError(f"oversampling: must be >= 1, got {ov}")
        return PhaseRetrieval(shape, ov)
    if task == "hdr":
        return HDR(shape, check_positive("scale", p["scale"]))
    if task == "jpeg10":
        q = check_int("quality", p["quality"], lo=1, hi=100)
        return JPEG(shape, q, straight_through=bool(p["straight_through"]))
    raise AssertionError(task)  # pragma: no cover


@dataclass
class InverseProblem:
    """A measured inverse problem y = A(x) + noise.

    Attributes:
        task: task name. op: the operator. x: ground truth (B, C, H, W) in [-1, 1].
        y: measurement (B, *op.output_shape). noise: the noise model. sigma_y: Gaussian std in
        [-1, 1] units (0 for Poisson/speckle). params: the task parameters used. seed: the seed.

    A problem checks itself when it is built (:meth:`validate`), and every solver checks it again
    on entry, so a ``y`` replaced afterwards is caught too.
    """

    task: str
    op: Operator
    x: torch.Tensor
    y: torch.Tensor
    noise: Noise
    sigma_y: float
    params: dict = field(default_factory=dict)
    seed: int = 0
    _aty: Any = field(default=None, init=False, repr=False, compare=False)   # cache of Aᵀy

    def __post_init__(self):
        self.validate()

    def validate(self) -> "InverseProblem":
        """Check that ``x`` and ``y`` fit the operator and each other; returns the problem.

        ``x``: a finite floating tensor (B, *op.input_shape) with B >= 1, on a real device.
        ``y``: a finite floating tensor of the shape the operator gives for ``x``,
        (B, *op.output_shape) with the same B, on ``x``'s device. ``sigma_y`` >= 0 and finite.
        Each failure raises a ``ValueError``/``TypeError`` naming ``x`` or ``y``.
        """
        in_shape = tuple(int(v) for v in self.op.input_shape)
        out_shape = tuple(int(v) for v in self.op.output_shape)
        if isinstance(self.x, torch.Tensor):
            check_device("x", self.x)
        check_tensor("x", self.x)
        if self.x.ndim != 1 + len(in_shape) or tuple(self.x.shape[1:]) != in_shape:
            raise ValueError(f"x: the operator works on (B, {', '.join(map(str, in_shape))}), got shape "
                             f"{tuple(self.x.shape)}")
        _check_batch("x", self.x)
        B = self.x.shape[0]
        op_batch = int(getattr(self.op, "batch_size", 1))
        if op_batch > 1 and op_batch != B:
            raise ValueError(f"x: holds {B} image(s) but the operator was built for {op_batch} "
                             "(per-image parameters)")
        if isinstance(self.y, torch.Tensor):
            check_device("y", self.y)
        check_tensor("y", self.y)
        want = (B,) + out_shape
        if tuple(self.y.shape) != want:
            if self.y.ndim == len(want) and tuple(self.y.shape[1:]) == out_shape:
                raise ValueError(f"y: holds {self.y.shape[0]} measurement(s) but x holds {B} image(s); "
                                 "one measurement per image")
            raise ValueError(f"y: expected shape {want} (what the {self.op.name} operator gives for x), "
                             f"got {tuple(self.y.shape)}")
        if self.y.device != self.x.device:
            raise ValueError(f"y: lives on {str(self.y.device)!r} but x on {str(self.x.device)!r}; "
                             "put both on one device")
        check_positive("sigma_y", self.sigma_y, allow_zero=True)
        return self

    @property
    def batch_size(self) -> int:
        return self.x.shape[0]

    def repeat(self, n: int) -> "InverseProblem":
        """The same single measurement ``n`` times: one solver call then draws ``n`` posterior
        samples for it (diversity, uncertainty). Needs a problem of batch size 1."""
        import dataclasses
        check_int("n", n, lo=1)
        if self.batch_size != 1:
            raise ValueError(f"problem: repeat needs one measurement, this problem has {self.batch_size}")
        return dataclasses.replace(self, x=self.x.expand((n,) + tuple(self.x.shape[1:])),
                                   y=self.y.expand((n,) + tuple(self.y.shape[1:])))

    def data_gradient(self, x: torch.Tensor) -> torch.Tensor:
        """∇_x ½‖y − A(x)‖² = Aᵀ(A x − y) per image. A linear operator computes AᵀA x − Aᵀy with
        its normal operator (``op.gram``: one pass for masks, separable maps and FFT blurs) and
        Aᵀy kept from the first call — no autograd graph, which on small images costs more than
        the operator itself and adds up in loops of thousands of data steps such as DAPS's
        Langevin; any other operator goes through autograd, so it must be differentiable."""
        if self.op.linear:
            return self.op.gram(x) - self._adjoint_y(x)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(0.5 * ((self.y - self.op(xg)) ** 2).sum(), xg)
        return g

    def _adjoint_y(self, like: torch.Tensor) -> torch.Tensor:
        """Aᵀy in ``like``'s dtype and device, computed once per measurement: recomputed when ``y``
        is replaced (the cache holds the tensor itself, so its identity cannot be recycled) or
        changed in place (its version counter moves)."""
        c = self._aty
        if (c is None or c[0] is not self.y or c[1] != (self.y._version, like.dtype, like.device)):
            c = self._aty = (self.y, (self.y._version, like.dtype, like.device), self.op.T(self.y.to(like)))
        return c[2]

    def residual(self, x_hat: torch.Tensor) -> torch.Tensor:
        """‖y − A(x̂)‖² / dim(y) per image (DDiff's hallucination gauge; ≈ σ_y² is ideal)."""
        from .metrics import residual
        return residual(self, x_hat)

    def __repr__(self):
        return (f"InverseProblem(task={self.task!r}, x={tuple(self.x.shape)}, y={tuple(self.y.shape)}, "
                f"noise={self.noise!r})")


def make_problem(task: str, x: torch.Tensor, *, sigma_y: float = 0.0, noise: str | Noise = "gaussian",
                 seed: int = 0, generator: torch.Generator | None = None, rate: float = 1.0,
                 looks: float = 10.0, **params) -> InverseProblem:
    """Build the operator of ``task`` for the images ``x`` and measure them.

    Args:
        task: one of :data:`TASKS`.
        x: ground-truth images (B, C, H, W) in [-1, 1], square.
        sigma_y: Gaussian noise std in [-1, 1] units.
        noise: ``"gaussian"``, ``"poisson"`` (DPS convention, set by ``rate``) or ``"speckle"``
            (Gamma, set by ``looks``), or a :class:`~invlab.noise.Noise`.
        seed / generator: randomness of masks, kernels and noise (same seed ⇒ identical y).
        **params: task parameters overriding :func:`task_defaults` (e.g. ``box=12``, ``p=0.9``).
    """
    check_choice("task", task, TASKS)
    if isinstance(x, torch.Tensor):
        check_device("x", x)
    check_image("x", x)
    _check_batch("x", x)
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"x: square images expected, got shape {tuple(x.shape)}")
    nz = make_noise(noise, sigma_y=sigma_y, rate=rate, looks=looks)
    g = _problem_generator(seed, generator)
    op = make_operator(task, x.shape[1:], batch=x.shape[0], generator=g, **params)
    with torch.no_grad():
        y = nz.sample(op(x), g)
    used = task_defaults(task, x.shape[-1])
    used.update(params)
    return InverseProblem(task, op, x, y, nz, nz.sigma_y, used, seed)


def linear_problem(A: torch.Tensor, x: torch.Tensor, *, sigma_y: float, seed: int = 0,
                   generator: torch.Generator | None = None, y: torch.Tensor | None = None) -> InverseProblem:
    """A vector problem y = A x + σ_y n with an explicit (m, d) matrix — the Gaussian-mixture
    ground truth (the [MCGdiff] benchmark). ``x`` is (B, d); pass ``y`` (B, m) to use a given measurement
    (e.g. one y repeated B times, to draw B posterior samples for the same data)."""
    if isinstance(x, torch.Tensor):
        check_device("x", x)
    check_tensor("x", x, ndim=2)
    _check_batch("x", x)
    op = Matrix(A)
    if x.shape[1] != op.input_shape[0]:
        raise ValueError(f"x: expected (B, {op.input_shape[0]}) vectors for A of shape {tuple(A.shape)}, "
                         f"got {tuple(x.shape)}")
    nz = make_noise("gaussian", sigma_y=sigma_y)
    g = _problem_generator(seed, generator)
    if y is None:
        with torch.no_grad():
            y = nz.sample(op(x), g)
    else:
        if isinstance(y, torch.Tensor):
            check_device("y", y)
        check_tensor("y", y, ndim=2)
        if y.shape != (x.shape[0],) + op.output_shape:
            raise ValueError(f"y: expected shape {(x.shape[0],) + op.output_shape}, got {tuple(y.shape)}")
    return InverseProblem("matrix", op, x, y.to(x), nz, nz.sigma_y, {"A": tuple(A.shape)}, seed)
