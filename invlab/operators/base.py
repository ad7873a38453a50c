"""Operator base classes, the SVD view, conjugate gradient and composition.

An operator maps images of shape ``(*batch, C, H, W)`` to measurements. Per-image parameters
(masks drawn per image, say) have a leading batch dimension of 1 or B and broadcast against the
last batch dimension of ``x``, so a solver may also pass ``(N, B, C, H, W)`` Monte-Carlo stacks.
Buffers live in float64 on the CPU and are cast on first use to the input's device and dtype.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["Operator", "LinearOperator", "SVDView", "Composed", "conjugate_gradient",
           "least_squares", "batch_dot"]


def batch_dot(a: torch.Tensor, b: torch.Tensor, dims: int = 3) -> torch.Tensor:
    """Inner product over the last ``dims`` dimensions, keeping the batch dimensions."""
    return (a * b).flatten(-dims).sum(-1)


class Operator:
    """A forward model ``y = A(x)``.

    Attributes:
        name: short task-like name.
        input_shape: (C, H, W) of one image.
        output_shape: shape of one measurement.
        linear: whether ``A`` is linear (then ``T``, ``pinv`` exist).
        differentiable: whether autograd through ``A`` gives the true gradient.
        batch_size: 1 if the operator is the same for every image, else B (per-image masks).
    """

    name = "operator"
    linear = False
    differentiable = True

    def __init__(self, input_shape, output_shape, batch_size: int = 1):
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_shape = tuple(int(s) for s in output_shape)
        self.batch_size = int(batch_size)
        self._cache: dict = {}

    # -- buffers ------------------------------------------------------------------------------
    def _buf(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """Buffer ``name`` (float64 CPU master copy) cast to ``like``'s device and dtype."""
        key = (name, like.device, like.dtype)
        if key not in self._cache:
            master = getattr(self, name)
            if master.is_complex():
                dtype = torch.complex128 if like.dtype == torch.float64 else torch.complex64
            elif master.is_floating_point():
                dtype = like.dtype
            else:
                dtype = master.dtype
            self._cache[key] = master.to(device=like.device, dtype=dtype)
        return self._cache[key]

    # -- checks -------------------------------------------------------------------------------
    def _check(self, arg: str, t, shape: tuple[int, ...]) -> None:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{arg}: expected a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{arg}: expected a floating-point tensor, got dtype {t.dtype}")
        k = len(shape)
        if t.ndim < k + 1 or tuple(t.shape[-k:]) != shape:
            raise ValueError(f"{arg}: {self.name} expects shape (B, {', '.join(map(str, shape))}), "
                             f"got {tuple(t.shape)}")
        if self.batch_size > 1 and t.shape[-k - 1] not in (1, self.batch_size):
            raise ValueError(f"{arg}: {self.name} was built for a batch of {self.batch_size} images "
                             f"(per-image parameters), got batch dimension {t.shape[-k - 1]}")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self._check("x", x, self.input_shape)
        return self.forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __matmul__(self, other: "Operator") -> "Composed":
        return Composed(self, other)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}: {self.input_shape} -> {self.output_shape})"


@dataclass(frozen=True)
class SVDView:
    """A = U diag(s) Vᵀ in a flat spectral layout of length N = C·H·W per image.

    ``Vt(x)`` gives spectral coordinates (…, N); ``s`` (1 or B, N) holds the singular value paired
    with each coordinate (0 on the null space); ``Ut(y)`` puts a measurement into the same layout
    (0 where s = 0) and ``U`` maps back. Then A(x) = U(s·Vt(x)) and Aᵀ(y) = V(s·Ut(y)).
    """

    s: torch.Tensor
    Vt: Callable[[torch.Tensor], torch.Tensor]
    V: Callable[[torch.Tensor], torch.Tensor]
    Ut: Callable[[torch.Tensor], torch.Tensor]
    U: Callable[[torch.Tensor], torch.Tensor]

    def singular_values(self, like: torch.Tensor) -> torch.Tensor:
        return self.s.to(device=like.device, dtype=like.dtype)


class LinearOperator(Operator):
    """A linear operator: adds the exact adjoint ``T``, the pseudo-inverse ``pinv`` and,
    where cheap, an SVD view and a closed-form proximal step."""

    linear = True
    has_svd = False
    rcond = 1e-6   # singular values below rcond * max are treated as zero by pinv

    def T(self, y: torch.Tensor) -> torch.Tensor:
        """Exact adjoint Aᵀ y."""
        self._check("y", y, self.output_shape)
        return self.adjoint(y)

    def gram(self, x: torch.Tensor) -> torch.Tensor:
        """The normal operator AᵀA x. Operators with a cheaper closed form than "apply A, then Aᵀ"
        (masks, separable maps, FFT convolutions) override ``normal``; data steps in long loops
        (DAPS's Langevin, DDiff's x-step) use it through ``InverseProblem.data_gradient``."""
        self._check("x", x, self.input_shape)
        return self.normal(x)

    def normal(self, x):
        return self.adjoint(self.forward(x))

    def pinv(self, y: torch.Tensor) -> torch.Tensor:
        """Moore–Penrose pseudo-inverse A⁺ y (singular values < rcond·max treated as 0)."""
        self._check("y", y, self.output_shape)
        return self.pseudo_inverse(y)

    def adjoint(self, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def pseudo_inverse(self, y):
        if self.has_svd:
            sv = self.svd()
            s = sv.singular_values(y)
            keep = s > self.rcond * s.max()
            return sv.V(torch.where(keep, sv.Ut(y) / torch.where(keep, s, torch.ones_like(s)),
                                    torch.zeros_like(s)))
        return least_squares(self, y, iters=200)

    def svd(self) -> SVDView:
        raise NotImplementedError(
            f"{self.name}: this operator has no SVD view; spectral solvers (DDRM, DDNM) need one — "
            "use an inpainting, super-resolution, Gaussian-blur, compressed-sensing or denoising task")

    @property
    def has_prox(self) -> bool:
        return self.has_svd

    def prox(self, v: torch.Tensor, y: torch.Tensor, gamma) -> torch.Tensor:
        """argmin_x ½‖A x − y‖² + ‖x − v‖²/(2γ) = (I + γAᵀA)⁻¹(v + γAᵀy), in closed form.

        ``gamma`` is a float or a per-image tensor broadcastable to ``v``'s batch. Operators with
        no closed form raise; use :func:`least_squares` (conjugate gradient) instead.
        """
        if not self.has_prox:
            raise NotImplementedError(f"{self.name}: no closed-form proximal step; use "
                                      "invlab.operators.least_squares (conjugate gradient)")
        sv = self.svd()
        s = sv.singular_values(v)
        g = torch.as_tensor(gamma, dtype=v.dtype, device=v.device)
        if g.ndim:
            g = g.reshape(g.shape + (1,))
        return sv.V((sv.Vt(v) + g * s * sv.Ut(y)) / (1 + g * s * s))


def conjugate_gradient(apply: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
                       x0: torch.Tensor | None = None, *, iters: int = 100, tol: float = 1e-10,
                       dims: int = 3) -> torch.Tensor:
    """Solve ``apply(x) = b`` for a symmetric positive (semi-)definite ``apply``, per image.

    Each image of the batch runs its own CG (step sizes are per image). Stops after ``iters``
    iterations or when every residual is below ``tol`` relative to ‖b‖.
    """
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = b - apply(x) if x0 is not None else b.clone()
    p = r.clone()
    rr = batch_dot(r, r, dims)
    bb = batch_dot(b, b, dims).clamp_min(1e-300)
    expand = (slice(None),) * rr.ndim + (None,) * dims
    for _ in range(iters):
        if bool((rr <= tol * tol * bb).all()):
            break
        Ap = apply(p)
        pAp = batch_dot(p, Ap, dims)
        alpha = torch.where(pAp > 0, rr / pAp.clamp_min(1e-300), torch.zeros_like(rr))
        x = x + alpha[expand] * p
        r = r - alpha[expand] * Ap
        rr_new = batch_dot(r, r, dims)
        beta = torch.where(rr > 0, rr_new / rr.clamp_min(1e-300), torch.zeros_like(rr))
        p = r + beta[expand] * p
        rr = rr_new
    return x


def least_squares(op: LinearOperator, y: torch.Tensor, *, damp: float = 0.0, x0=None,
                  iters: int = 100) -> torch.Tensor:
    """Tikhonov least squares argmin_x ‖A x − y‖² + damp‖x‖² by CG on the normal equations.

    With ``damp = 0`` and no ``x0`` the iterates stay in range(Aᵀ), so CG converges to the
    minimum-norm solution A⁺y. Introduced in notebook 01.
    """
    if not op.linear:
        raise TypeError(f"op: least squares needs a linear operator, {op.name} is not linear")
    b = op.adjoint(y)
    return conjugate_gradient(lambda v: op.gram(v) + damp * v, b, x0, iters=iters)


class Composed(Operator):
    """``outer ∘ inner``; written ``outer @ inner``. Linear when both parts are."""

    def __init__(self, outer: Operator, inner: Operator):
        if tuple(inner.output_shape) != tuple(outer.input_shape):
            raise ValueError(f"op: cannot compose {outer.name} after {inner.name}: "
                             f"{inner.output_shape} != {outer.input_shape}")
        super().__init__(inner.input_shape, outer.output_shape,
                         max(inner.batch_size, outer.batch_size))
        self.outer, self.inner = outer, inner
        self.name = f"{outer.name}∘{inner.name}"
        self.differentiable = inner.differentiable and outer.differentiable
        self.linear = inner.linear and outer.linear
        if self.linear:
            self.__class__ = _ComposedLinear

    def forward(self, x):
        return self.outer.forward(self.inner.forward(x))


class _ComposedLinear(LinearOperator, Composed):
    def adjoint(self, y):
        return self.inner.adjoint(self.outer.adjoint(y))
