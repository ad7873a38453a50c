"""Property tests (hypothesis) over every operator family and over compositions.

Linear families (identity, masks, separable maps, FFT convolution, block compressed sensing,
explicit matrices, compositions): linearity, the adjoint identity <Ax, y> = <x, Aᵀy>, the normal
operator, the four Penrose conditions of A⁺ (tolerances from the dtype, the conditioning and
``rcond``), the closed-form pseudo-inverse against a dense one with the documented cut, and the
optimality of the closed-form proximal step. Nonlinear families (phase retrieval, HDR, JPEG):
their defining identities. Each family's parameters are drawn too (blur widths that force the
``rcond`` cut, mask densities, factors, sensing ratios, kernel sizes).
"""
import math

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import invlab.operators as ops
from invlab import make_operator
from invlab.operators import Composed, LinearOperator, Matrix, cgls
from invlab.problems import TASKS

EPS = {torch.float32: torch.finfo(torch.float32).eps, torch.float64: torch.finfo(torch.float64).eps}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# the iterative pseudo-inverse is the slow part: no shrinking there (a failure is reported as drawn)
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                phases=[Phase.explicit, Phase.reuse, Phase.generate])


def _g(seed):
    return torch.Generator().manual_seed(seed)


def _rel(a, b):
    return float(torch.linalg.vector_norm((a - b).double()) / torch.linalg.vector_norm(b.double()).clamp_min(1e-300))


def _norm(t):
    return float(torch.linalg.vector_norm(t.double()))


# -- strategies --------------------------------------------------------------------------------
def _task_params(task: str, n: int):
    """A strategy for the keyword parameters of ``task`` on n×n images (None: the defaults)."""
    if task == "box_inpaint":
        return st.integers(1, n // 2).flatmap(
            lambda box: st.fixed_dictionaries({"box": st.just(box), "margin": st.integers(0, (n - box) // 2)}))
    if task == "random_inpaint":
        return st.fixed_dictionaries({"p": st.floats(0.0, 0.95)})
    if task == "freeform_inpaint":
        return st.floats(0.05, 0.5).map(lambda lo: {"hole_range": (lo, lo + 0.1)})
    if task in ("sr2", "sr4", "sr8"):
        return st.fixed_dictionaries({"factor": st.sampled_from([f for f in (1, 2, 4, 8) if n % f == 0])})
    if task == "sr4_bicubic":
        return st.fixed_dictionaries({"factor": st.sampled_from([2, 4])})
    if task == "gaussian_blur":
        return st.fixed_dictionaries({"std": st.floats(0.3, 4.0)})       # ≥ 2 px: the rcond cut bites
    if task == "motion_blur":
        return st.fixed_dictionaries({"kernel_size": st.sampled_from([k for k in (1, 3, 5, 7, 9) if k <= n]),
                                      "intensity": st.floats(0.0, 1.0)})
    if task in ("cs10", "cs25"):
        return st.fixed_dictionaries({"ratio": st.floats(0.02, 1.0), "block": st.sampled_from([4, 8])})
    return st.just({})


LINEAR_TASKS = tuple(t for t in TASKS if make_operator(t, (1, 32, 32)).linear)
NONLINEAR_TASKS = tuple(t for t in TASKS if t not in LINEAR_TASKS)


@st.composite
def task_ops(draw, tasks=LINEAR_TASKS, sizes=(8, 16), channels=(1, 3), batches=(1, 2)):
    task = draw(st.sampled_from(tasks))
    n, C, B = draw(st.sampled_from(sizes)), draw(st.sampled_from(channels)), draw(st.sampled_from(batches))
    params = draw(_task_params(task, n))
    op = make_operator(task, (C, n, n), batch=B, generator=_g(draw(st.integers(0, 2 ** 16))), **params)
    return op, B


@st.composite
def matrix_ops(draw):
    m, d = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    rank = draw(st.integers(0, min(m, d)))
    g = _g(draw(st.integers(0, 2 ** 16)))
    A = torch.randn(m, rank, generator=g, dtype=torch.float64) @ torch.randn(rank, d, generator=g, dtype=torch.float64)
    return Matrix(A), draw(st.sampled_from([1, 3]))


# compositions: an outer operator of any kind after at most one mask or identity and at most
# one blur, the blur innermost (image-shaped parts, so anything fits after them). That keeps
# their condition number within what CGLS resolves in its budget: M·B has singular values
# ≥ σ_min(B), but a blur between masks (M₁·B·M₂), two blurs, or std ≥ 1 px leave singular
# values down to the Gaussian's tails, and the iterative A⁺ then raises (tested separately).
_MIDDLE = {"denoise": st.just({}), "random_inpaint": st.fixed_dictionaries({"p": st.floats(0.0, 0.8)}),
           "box_inpaint": st.just({})}
_BLUR = {"gaussian_blur": st.fixed_dictionaries({"std": st.floats(0.4, 0.8)}),
         "motion_blur": st.fixed_dictionaries({"kernel_size": st.just(3), "intensity": st.floats(0.0, 0.3)})}
_OUTER = {"sr2": st.just({}), "sr4": st.just({}), "sr4_bicubic": st.just({"factor": 2}),
          "cs25": st.just({"block": 8}), **_MIDDLE}


@st.composite
def composed_ops(draw, n=16):
    C, B = draw(st.sampled_from([1, 3])), draw(st.sampled_from([1, 2]))
    names = [draw(st.sampled_from(sorted(_OUTER)))]
    names += draw(st.lists(st.sampled_from(sorted(_MIDDLE)), max_size=1))
    names += draw(st.lists(st.sampled_from(sorted(_BLUR)), min_size=2 - len(names), max_size=1))
    seed = draw(st.integers(0, 2 ** 16))
    params = _OUTER | _BLUR
    parts = [make_operator(t, (C, n, n), batch=B, generator=_g(seed + i), **draw(params[t]))
             for i, t in enumerate(names)]
    op = parts[-1]
    for outer in reversed(parts[:-1]):
        op = outer @ op
    return op, B


LINEAR_OPS = st.one_of(task_ops(), matrix_ops(), composed_ops())


def _inputs(op, B, seed, dtype=torch.float64):
    g = _g(seed)
    x = torch.randn((B,) + op.input_shape, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randn((B,) + op.output_shape, generator=g, dtype=torch.float64).to(dtype)
    return x, y


def _spectrum(op) -> torch.Tensor | None:
    """The singular values of a closed-form operator (None for a composition)."""
    if op.has_svd:
        return op.svd().s
    if isinstance(op, ops.Convolution):
        return op.transfer_magnitude().flatten()
    return None


def _opnorm(op, B) -> float:
    s = _spectrum(op)
    if s is not None:
        return float(s.max())
    v = torch.randn((B,) + op.input_shape, generator=_g(0), dtype=torch.float64)
    for _ in range(100):                            # power iteration on AᵀA
        v = op.gram(v)
        v = v / torch.linalg.vector_norm(v)
    return math.sqrt(float(torch.linalg.vector_norm(op.gram(v))))


# -- the registry is covered -------------------------------------------------------------------
def test_every_operator_family_has_property_tests():
    families = {c for c in vars(ops).values() if isinstance(c, type) and issubclass(c, ops.Operator)
                and c not in (ops.Operator, LinearOperator)}
    built = {type(make_operator(t, (3, 32, 32), batch=2)) for t in TASKS} | {Matrix, Composed}
    assert families <= built, f"operator families without property tests: {families - built}"
    assert set(LINEAR_TASKS) | set(NONLINEAR_TASKS) == set(TASKS) and NONLINEAR_TASKS
    assert {"phase_retrieval", "hdr", "jpeg10"} == set(NONLINEAR_TASKS)


# -- linear families ---------------------------------------------------------------------------
@FAST
@given(case=LINEAR_OPS, seed=st.integers(0, 2 ** 16), a=st.floats(-3, 3), b=st.floats(-3, 3))
def test_linearity(case, seed, a, b):
    op, B = case
    x, _ = _inputs(op, B, seed)
    z, _ = _inputs(op, B, seed + 1)
    lhs, rhs = op(a * x + b * z), a * op(x) + b * op(z)
    assert _norm(lhs - rhs) <= 1e-12 * (abs(a) * _norm(x) + abs(b) * _norm(z)) * max(_opnorm(op, B), 1.0)


@FAST
@given(case=LINEAR_OPS, seed=st.integers(0, 2 ** 16), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_adjoint_identity(case, seed, dtype):
    op, B = case
    x, y = _inputs(op, B, seed, dtype)
    ax, aty = op(x), op.T(y)
    assert ax.dtype == aty.dtype == dtype
    assert ax.shape == (B,) + op.output_shape and aty.shape == x.shape
    lhs, rhs = float((ax.double() * y.double()).sum()), float((x.double() * aty.double()).sum())
    # |<Ax, y> − <x, Aᵀy>| against the size of the terms, ‖A‖‖x‖‖y‖
    assert abs(lhs - rhs) <= 50 * EPS[dtype] * _opnorm(op, B) * _norm(x) * _norm(y)
    torch.testing.assert_close(op.gram(x.double()), op.T(op(x.double())), atol=1e-12 * _norm(x), rtol=1e-10)


@FAST
@given(case=st.one_of(task_ops(), matrix_ops()), seed=st.integers(0, 2 ** 16))
def test_penrose_identities_closed_form(case, seed):
    """The four Penrose conditions of the closed-form A⁺ (SVD or FFT), float64.

    With singular values ≤ rcond·max cut, A A⁺ A differs from A by at most rcond·‖A‖ (the
    dropped part); A⁺ A A⁺ = A⁺ and the symmetry of A A⁺ and A⁺A stay exact, up to rounding
    amplified by the kept condition number."""
    op, B = case
    x, y = _inputs(op, B, seed)
    s = _spectrum(op)
    smax = float(s.max())
    if smax == 0:                                   # the zero matrix: A⁺ = 0
        assert _norm(op.pinv(y)) == 0
        return
    kept = s[s > op.rcond * smax]
    kappa = smax / float(kept.min())
    ax, py = op(x), op.pinv(y)
    tol = 1e3 * EPS[torch.float64] * kappa
    assert _norm(op(op.pinv(ax)) - ax) <= (2 * op.rcond + 1e3 * EPS[torch.float64]) * smax * _norm(x)
    assert _norm(op.pinv(op(py)) - py) <= tol * _norm(py) + 1e-300
    u, v = _inputs(op, B, seed + 1)[0], _inputs(op, B, seed + 2)[0]     # (A⁺A)ᵀ = A⁺A
    assert abs(float((op.pinv(op(u)) * v).sum() - (u * op.pinv(op(v))).sum())) <= tol * _norm(u) * _norm(v)
    w = _inputs(op, B, seed + 3)[1]                                    # (AA⁺)ᵀ = AA⁺
    assert abs(float((op(op.pinv(y)) * w).sum() - (y * op(op.pinv(w))).sum())) <= tol * _norm(y) * _norm(w)
    # A⁺Ax is the orthogonal projection of x on range(Aᵀ): never longer than x
    assert _norm(op.pinv(ax)) <= _norm(x) * (1 + tol)


@FAST
@given(case=task_ops(sizes=(8,), batches=(1,), channels=(1,)), seed=st.integers(0, 2 ** 16))
def test_closed_form_pinv_matches_dense_pinv_with_documented_cut(case, seed):
    """A⁺ equals the dense Moore–Penrose inverse with singular values ≤ rcond·max set to zero."""
    op, _ = case
    N = math.prod(op.input_shape)
    basis = torch.eye(N, dtype=torch.float64).view((N,) + op.input_shape)
    M = op(basis).reshape(N, -1).T                      # (m, N) dense matrix of A
    s = torch.linalg.svdvals(M)
    smax = float(s.max())
    near_cut = ((s - op.rcond * smax).abs() <= 1e-3 * op.rcond * smax).any()
    if smax == 0 or bool(near_cut):                     # a value on the cut itself: either side is right
        return
    y = torch.randn((1,) + op.output_shape, generator=_g(seed), dtype=torch.float64)
    dense = (torch.linalg.pinv(M, rtol=op.rcond) @ y.flatten()).view((1,) + op.input_shape)
    kept = s[s > op.rcond * smax]
    kappa = smax / float(kept.min())
    assert _norm(op.pinv(y) - dense) <= 1e4 * EPS[torch.float64] * kappa * _norm(dense) + 1e-12 * _norm(y) / smax


@pytest.mark.parametrize("n, std", [(16, 1.7), (64, 2.0), (256, 3.0)])
def test_separable_pinv_cuts_the_two_dimensional_singular_values(n, std):
    """Separable blur: A⁺ keeps exactly the products sh_i·sw_j > rcond·max, so A A⁺ A = A up
    to the dropped part (≤ rcond·‖A‖); a cut of each 1-D factor at √rcond dropped far more."""
    op = make_operator("gaussian_blur", (1, n, n), std=std)
    s = op.s.flatten()
    keep = s > op.rcond * s.max()
    assert 0 < int(keep.sum()) < s.numel()                        # the cut bites here
    x = torch.randn(2, 1, n, n, generator=_g(n), dtype=torch.float64)
    c = op.svd().Vt(x)
    expected = op.svd().V(torch.where(keep, c, torch.zeros_like(c)))  # the projection on kept directions
    torch.testing.assert_close(op.pinv(op(x)), expected, atol=1e-9 * _norm(x), rtol=0)
    dropped = float(s[~keep].max())
    assert _norm(op(op.pinv(op(x))) - op(x)) <= dropped * _norm(x) <= op.rcond * float(s.max()) * _norm(x)
    one_d = torch.linalg.svdvals(op.mh)
    per_factor = int((one_d > op.rcond ** 0.5 * one_d.max()).sum()) ** 2
    assert per_factor < int(keep.sum())


@SLOW
@given(case=composed_ops(), seed=st.integers(0, 2 ** 16), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_penrose_identities_composed(case, seed, dtype):
    """The iterative A⁺ of a composition (CGLS in float64): Penrose conditions to the accuracy its
    tolerance promises (1e-10 float64, 1e-6 float32), ‖A⁺Ax‖ ≤ ‖x‖, the dtype kept."""
    op, B = case
    x, y = _inputs(op, B, seed, dtype)
    tol = 1e-6 if dtype == torch.float32 else 1e-8
    ax = op(x)
    pax = op.pinv(ax)
    assert pax.dtype == dtype and pax.shape == x.shape
    assert _norm(pax) <= _norm(x) * (1 + tol)
    assert _norm(op(pax) - ax) <= 10 * tol * _norm(ax) + 1e3 * EPS[dtype] * _opnorm(op, B) * _norm(x)
    py = op.pinv(y)
    # A⁺AA⁺ = A⁺: in float64 directly; in float32 the rounding of A(A⁺y) is amplified by the
    # conditioning, so it is checked on float64 copies of the float32 operator's result
    again = op.pinv(op(py.double()))
    assert _rel(again, py.double()) <= (1e-6 if dtype == torch.float64 else 1e-4)
    # y − AA⁺y is orthogonal to range(A) (the least-squares optimality), on every image
    r = y.double() - op(py.double())
    assert _norm(op.T(r)) <= 1e-4 * _opnorm(op, B) * _norm(y)


def test_composed_pinv_float32_regression():
    """SR×2 after a Gaussian blur in float32: A⁺Ax was 4e7× longer than x."""
    g = _g(0)
    A = make_operator("sr2", (1, 32, 32)) @ make_operator("gaussian_blur", (1, 32, 32))
    x = torch.randn(2, 1, 32, 32, generator=g)
    pax = A.pinv(A(x))
    assert pax.dtype == torch.float32
    assert _norm(pax) <= _norm(x)
    assert _rel(A(pax), A(x)) < 5e-6
    mask = make_operator("random_inpaint", (1, 32, 32), generator=g)
    B = mask @ make_operator("gaussian_blur", (1, 32, 32))
    y = torch.randn(1, 1, 32, 32, generator=g, dtype=torch.float64)
    py = B.pinv(y)
    assert _rel(B.pinv(B(py)), py) < 1e-8                          # A⁺AA⁺ = A⁺ in float64


def test_composed_pinv_raises_when_it_cannot_converge():
    A = make_operator("random_inpaint", (1, 16, 16), generator=_g(0)) @ make_operator("gaussian_blur", (1, 16, 16))
    y = torch.randn(1, 1, 16, 16, generator=_g(1), dtype=torch.float64)
    A.pinv_iters = 3
    with pytest.raises(RuntimeError, match=r"random_inpaint∘gaussian_blur: the pseudo-inverse did not converge.*"
                                           r"after 3 iterations.*pinv_iters"):
        A.pinv(y)
    with pytest.raises(ValueError, match="y: contains NaN"):
        A.pinv(torch.full_like(y, float("nan")))
    A.pinv_iters = 5000
    x, info = cgls(A, y)
    assert bool(info.converged.all()) and 3 < info.iterations < 5000
    torch.testing.assert_close(x, A.pinv(y))


@FAST
@given(case=st.one_of(task_ops(), matrix_ops()), seed=st.integers(0, 2 ** 16),
       gamma=st.floats(1e-3, 1e3), per_image=st.booleans())
def test_prox_optimality(case, seed, gamma, per_image):
    """x = prox(v, y, γ) zeroes the gradient Aᵀ(Ax − y) + (x − v)/γ of ½‖Ax − y‖² + ‖x − v‖²/(2γ)."""
    op, B = case
    assert op.has_prox
    v, y = _inputs(op, B, seed)
    g = gamma * torch.arange(1, B + 1, dtype=torch.float64) if per_image else gamma
    x = op.prox(v, y, g)
    gb = g.view((B,) + (1,) * len(op.input_shape)) if per_image else g
    grad = op.T(op(x) - y) + (x - v) / gb
    a = _opnorm(op, B)
    scale = a * a * _norm(x) + a * _norm(y) + (_norm(x) + _norm(v)) / gamma
    assert _norm(grad) <= 1e-10 * scale


@SLOW
@given(case=composed_ops(), seed=st.integers(0, 2 ** 16))
def test_composition_is_its_parts(case, seed):
    op, B = case
    assert isinstance(op, Composed) and op.linear and not op.has_svd and not op.has_prox
    x, y = _inputs(op, B, seed)
    torch.testing.assert_close(op(x), op.outer(op.inner(x)))
    torch.testing.assert_close(op.T(y), op.inner.T(op.outer.T(y)))
    with pytest.raises(NotImplementedError, match="no closed-form proximal step"):
        op.prox(x, y, 1.0)


# -- nonlinear families ------------------------------------------------------------------------
@FAST
@given(C=st.sampled_from([1, 3]), n=st.sampled_from([8, 16]), ov=st.floats(1.0, 4.0),
       seed=st.integers(0, 2 ** 16), c=st.floats(-4, 4).filter(lambda v: abs(v) > 1e-3))
def test_phase_retrieval_identities(C, n, ov, seed, c):
    op = make_operator("phase_retrieval", (C, n, n), oversampling=ov)
    x = torch.randn(2, C, n, n, generator=_g(seed), dtype=torch.float64)
    y = op(x)
    assert y.shape == (2,) + op.output_shape and bool((y >= 0).all())
    torch.testing.assert_close((y ** 2).sum((-2, -1)), (x ** 2).sum((-2, -1)))      # Parseval
    torch.testing.assert_close(op(c * x), abs(c) * y)                             # |c|-homogeneous
    torch.testing.assert_close(op(torch.flip(x, (-2, -1))), y)                    # 180° rotation


@FAST
@given(C=st.sampled_from([1, 3]), scale=st.floats(0.1, 10.0), seed=st.integers(0, 2 ** 16))
def test_hdr_identities(C, scale, seed):
    op = make_operator("hdr", (C, 8, 8), scale=scale)
    x = torch.randn(2, C, 8, 8, generator=_g(seed), dtype=torch.float64)
    y = op(x)
    torch.testing.assert_close(y, (scale * x).clamp(-1, 1))
    inside = (scale * x).abs() < 1
    torch.testing.assert_close(op.pinv(y)[inside], x[inside])                     # inverse where unsaturated
    assert bool((op.pinv(y).abs() <= 1 / scale + 1e-12).all())


@FAST
@given(C=st.sampled_from([1, 3]), quality=st.integers(1, 100), seed=st.integers(0, 2 ** 16))
def test_jpeg_identities(C, quality, seed):
    op = make_operator("jpeg10", (C, 16, 16), quality=quality)
    x = torch.rand(2, C, 16, 16, generator=_g(seed), dtype=torch.float64) * 2 - 1
    y = op(x)
    assert y.shape == x.shape and bool((y.abs() <= 1).all())
    ste = make_operator("jpeg10", (C, 16, 16), quality=quality, straight_through=True)
    torch.testing.assert_close(ste(x), y)                                         # same forward
    torch.testing.assert_close(op.pinv(y), y)
    if C == 1:
        # grayscale: per 8×8 block, orthonormal DCT rounding moves ≤ ½ q_k per coefficient
        q = op.qtab[0]
        err = ((y - x) * 127.5).unflatten(-2, (2, 8)).unflatten(-1, (2, 8)).transpose(-3, -2)
        bound = float(0.5 * torch.linalg.vector_norm(q))
        assert float(torch.linalg.vector_norm(err, dim=(-2, -1)).max()) <= bound + 1e-9


@FAST
@given(seed=st.integers(0, 2 ** 16), scale=st.floats(0.5, 4.0))
def test_nonlinear_composition_is_its_parts(seed, scale):
    blur = make_operator("gaussian_blur", (1, 16, 16))
    op = make_operator("hdr", (1, 16, 16), scale=scale) @ blur
    assert isinstance(op, Composed) and not op.linear and not isinstance(op, LinearOperator)
    x = torch.randn(1, 1, 16, 16, generator=_g(seed), dtype=torch.float64)
    torch.testing.assert_close(op(x), (scale * blur(x)).clamp(-1, 1))
