"""Operator base classes, the SVD view, conjugate gradient and composition.

An operator maps images of shape ``(*batch, C, H, W)`` to measurements. Per-image parameters
(masks drawn per image, say) have a leading batch dimension of 1 or B and broadcast against the
last batch dimension of ``x``, so a solver may also pass ``(N, B, C, H, W)`` Monte-Carlo stacks.
Buffers live in float64 on the CPU and are cast on first use to the input's device and dtype.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch

__all__ = ["Operator", "LinearOperator", "SVDView", "Composed", "conjugate_gradient",
           "least_squares", "cgls", "CGLSInfo", "batch_dot"]


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
    """A linear operator: adds the exact adjoint ``T``, the normal operator ``gram``, the
    pseudo-inverse ``pinv`` and, where cheap, an SVD view and a closed-form proximal step.

    Those public methods check their argument and call the implementation hooks a subclass
    writes: ``_adjoint`` (required), ``_normal`` and ``_pinv`` (optional, with generic defaults)."""

    linear = True
    has_svd = False
    rcond = 1e-6        # closed-form pinv: singular values <= rcond * max are treated as zero
    pinv_iters = 5000   # iterative pinv (no closed form): CGLS iteration budget, and the relative
    pinv_tol = None     # residual it must reach (None: 1e-10 for float64 y, 1e-6 otherwise; see cgls)

    def T(self, y: torch.Tensor) -> torch.Tensor:
        """Exact adjoint Aᵀ y."""
        self._check("y", y, self.output_shape)
        return self._adjoint(y)

    def gram(self, x: torch.Tensor) -> torch.Tensor:
        """The normal operator AᵀA x. Operators with a cheaper closed form than "apply A, then Aᵀ"
        (masks, separable maps, FFT convolutions) override ``_normal``; data steps in long loops
        (DAPS's Langevin, DDiff's x-step) use it through ``InverseProblem.data_gradient``."""
        self._check("x", x, self.input_shape)
        return self._normal(x)

    def _normal(self, x):
        return self._adjoint(self.forward(x))

    def pinv(self, y: torch.Tensor) -> torch.Tensor:
        """Moore–Penrose pseudo-inverse A⁺ y, the minimum-norm least-squares solution.

        Operators with an SVD view or an FFT diagonalisation apply it in closed form, treating
        singular values ≤ ``rcond``·max as zero. The others (compositions) run :func:`cgls` in
        float64 to a relative residual of ``pinv_tol`` (1e-10 for a float64 ``y``, 1e-6 for
        lower precisions) and raise a ``RuntimeError`` when ``pinv_iters`` iterations do not get
        there. The result has ``y``'s dtype.
        """
        self._check("y", y, self.output_shape)
        return self._pinv(y)

    def _adjoint(self, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def _pinv(self, y):
        if self.has_svd:
            sv = self.svd()
            s = sv.singular_values(y)
            keep = s > self.rcond * s.max()
            return sv.V(torch.where(keep, sv.Ut(y) / torch.where(keep, s, torch.ones_like(s)),
                                    torch.zeros_like(s)))
        tol = self.pinv_tol
        if tol is None:
            tol = 1e-10 if y.dtype == torch.float64 else 1e-6
        x, info = cgls(self, y, iters=self.pinv_iters, tol=tol)
        if not bool(info.converged.all()):
            worst = float(info.residual.max())
            raise RuntimeError(
                f"{self.name}: the pseudo-inverse did not converge: CGLS stopped at a relative residual of "
                f"{worst:.1e} after {info.iterations} iterations (needs {tol:.0e}); A is too "
                "ill-conditioned for an iterative A⁺y within pinv_iters = "
                f"{self.pinv_iters}. Raise the operator's pinv_iters, or regularise with "
                "invlab.operators.least_squares(op, y, damp=...) (Tikhonov)")
        return x

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


class CGLSInfo(NamedTuple):
    """How :func:`cgls` ended, per image (tensors have the batch shape of ``y``)."""

    converged: torch.Tensor   # bool: the stopping test was met
    residual: torch.Tensor    # the relative residual of the stopping test (see cgls)
    iterations: int           # iterations run (the slowest image)


def _work_dtype(t: torch.Tensor) -> torch.dtype:
    # float64 wherever the device has it (Apple's MPS does not)
    return torch.float32 if t.device.type == "mps" else torch.float64


def cgls(op: LinearOperator, y: torch.Tensor, *, damp: float = 0.0, x0: torch.Tensor | None = None,
         iters: int = 5000, tol: float = 1e-10) -> tuple[torch.Tensor, CGLSInfo]:
    """argmin_x ‖A x − y‖² + damp‖x‖² by CGLS, in float64, one solve per image.

    CGLS is conjugate gradient on the normal equations (AᵀA + damp I) x = Aᵀy arranged to use
    A and Aᵀ only and to update the residual r = y − A x itself, which keeps it accurate where
    CG on AᵀA loses digits ([Björck], *Numerical Methods for Least Squares Problems*, SIAM 1996,
    section 7.4). With ``damp = 0`` and no ``x0`` every iterate lies in range(Aᵀ), so the limit is the
    minimum-norm least-squares solution A⁺y.

    An image stops (its iterate is frozen) as soon as either test holds:

    * ``damp = 0``: ‖r‖ ≤ tol·‖y‖ (y is reproduced: the consistent case), or
      ‖Aᵀr‖ ≤ tol·‖A‖·‖r‖ (the least-squares optimality test of Paige and Saunders' LSQR, with
      ‖A‖ estimated from the iterations: the inconsistent case);
    * ``damp > 0``: ‖Aᵀr − damp·x‖ ≤ tol·‖Aᵀy − (AᵀA + damp I) x0‖.

    Returns ``x`` in ``y``'s dtype and a :class:`CGLSInfo` (``residual`` is the smaller of the
    two relative residuals for ``damp = 0``). Never raises on non-convergence: callers decide.
    """
    if not op.linear:
        raise TypeError(f"op: least squares needs a linear operator, {op.name} is not linear")
    try:
        damp_f = float(damp)
    except (TypeError, ValueError):
        damp_f = float("nan")
    if isinstance(damp, bool) or not 0 <= damp_f < float("inf"):
        raise ValueError(f"damp: expected a finite number >= 0, got {damp!r}")
    damp = damp_f
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 0:
        raise ValueError(f"iters: expected an integer >= 0, got {iters!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise ValueError(f"tol: expected a number in (0, 1), got {tol!r}")
    op._check("y", y, op.output_shape)
    if not bool(torch.isfinite(y).all()):
        raise ValueError("y: contains NaN or infinite values")
    if x0 is not None:
        op._check("x0", x0, op.input_shape)
        if not bool(torch.isfinite(x0).all()):
            raise ValueError("x0: contains NaN or infinite values")
    dx, dy = len(op.input_shape), len(op.output_shape)
    wd = _work_dtype(y)
    yw = y.to(wd)
    batch = yw.shape[:-dy]
    if x0 is None:
        x = yw.new_zeros(batch + op.input_shape)
        r = yw.clone()
    else:
        x = x0.to(wd).expand(torch.broadcast_shapes(x0.shape[:-dx], batch) + op.input_shape).clone()
        r = yw - op.forward(x)
    s = op._adjoint(r) - damp * x
    p = s.clone()
    gamma = batch_dot(s, s, dx)
    expand = (...,) + (None,) * dx
    if damp > 0:
        ref = gamma.sqrt()
    else:
        ynorm = batch_dot(yw, yw, dy).sqrt().expand(gamma.shape)
    anorm = torch.zeros_like(gamma)
    tiny = torch.finfo(wd).tiny

    def residual():
        if damp > 0:
            return torch.where(ref > 0, gamma.sqrt() / ref.clamp_min(tiny), torch.zeros_like(gamma))
        rn = batch_dot(r, r, dy).sqrt()
        consistent = torch.where(ynorm > 0, rn / ynorm.clamp_min(tiny), torch.zeros_like(rn))
        scale = anorm * rn
        normal = torch.where(scale > 0, gamma.sqrt() / scale.clamp_min(tiny),
                             torch.where(gamma > 0, torch.full_like(gamma, float("inf")), torch.zeros_like(gamma)))
        return torch.minimum(consistent, normal)

    res = residual()
    done = res <= tol
    k = 0
    while k < iters and not bool(done.all()):
        q = op.forward(p)
        qq = batch_dot(q, q, dy)
        pp = batch_dot(p, p, dx)
        anorm = torch.maximum(anorm, torch.where(pp > 0, (qq / pp.clamp_min(tiny)).sqrt(), anorm))
        delta = qq + damp * pp
        live = ~done & (delta > 0)
        alpha = torch.where(live, gamma / delta.clamp_min(tiny), torch.zeros_like(gamma))
        x = x + alpha[expand] * p
        r = r - alpha[(...,) + (None,) * dy] * q
        s = op._adjoint(r) - damp * x
        gamma_new = torch.where(live, batch_dot(s, s, dx), gamma)
        beta = torch.where(live & (gamma > 0), gamma_new / gamma.clamp_min(tiny), torch.zeros_like(gamma))
        p = torch.where(live[expand], s + beta[expand] * p, p)
        gamma = gamma_new
        k += 1
        res = torch.where(done, res, residual())
        done = done | (res <= tol) | ~(delta > 0)
    return x.to(y.dtype), CGLSInfo(res <= tol, res, k)


def least_squares(op: LinearOperator, y: torch.Tensor, *, damp: float = 0.0, x0=None,
                  iters: int = 100, tol: float = 1e-10) -> torch.Tensor:
    """Tikhonov least squares argmin_x ‖A x − y‖² + damp‖x‖² by :func:`cgls` (float64 inside).

    A fixed budget of ``iters`` iterations (early stopping is itself a regulariser), stopping
    sooner at relative residual ``tol``; it never raises on non-convergence. With ``damp = 0``
    and no ``x0`` the iterates stay in range(Aᵀ), so it converges to the minimum-norm solution
    A⁺y. Introduced in notebook 01.
    """
    return cgls(op, y, damp=damp, x0=x0, iters=iters, tol=tol)[0]


class Composed(Operator):
    """``outer ∘ inner``; written ``outer @ inner``. Linear when both parts are.

    A linear composition has no SVD view or closed-form proximal step; its ``pinv`` is the
    iterative one of :meth:`LinearOperator.pinv` (:func:`cgls` in float64, raising when it does
    not converge, as for a blur between two masks whose singular values reach the blur's tails).
    """

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
    def _adjoint(self, y):
        return self.inner._adjoint(self.outer._adjoint(y))
