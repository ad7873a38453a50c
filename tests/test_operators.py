"""Operators: exact adjoints, pseudo-inverses, SVD views, proximal steps, composition, shapes."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import invlab
from invlab import make_operator
from invlab.operators import Composed, LinearOperator, least_squares

LINEAR = ["denoise", "box_inpaint", "random_inpaint", "freeform_inpaint", "sr2", "sr4", "sr8",
          "sr4_bicubic", "gaussian_blur", "motion_blur", "cs10", "cs25"]
NONLINEAR = ["phase_retrieval", "hdr", "jpeg10"]
SHAPES = [(1, 1, 32), (3, 1, 32), (2, 3, 32), (2, 1, 64)]


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _op(task, B, C, n, seed=0):
    return make_operator(task, (C, n, n), batch=B, generator=_g(seed))


@pytest.mark.parametrize("task", LINEAR)
@pytest.mark.parametrize("shape", SHAPES)
def test_adjoint_dot_product(task, shape):
    B, C, n = shape
    op = _op(task, B, C, n)
    g = _g(1)
    x = torch.randn((B, C, n, n), generator=g, dtype=torch.float64)
    y = torch.randn((B,) + op.output_shape, generator=g, dtype=torch.float64)
    lhs = (op(x) * y).sum()
    rhs = (x * op.T(y)).sum()
    assert abs(float(lhs - rhs)) / max(abs(float(lhs)), 1e-12) < 1e-6


@pytest.mark.parametrize("task", LINEAR)
@pytest.mark.parametrize("shape", SHAPES)
def test_gram_is_adjoint_of_forward(task, shape):
    # the closed forms (mask, Kronecker Gram matrices, |K̂|² filter) equal Aᵀ(A x)
    B, C, n = shape
    op = _op(task, B, C, n)
    x = torch.randn((B, C, n, n), generator=_g(2), dtype=torch.float64)
    torch.testing.assert_close(op.gram(x), op.T(op(x)), atol=1e-10, rtol=1e-10)
    with pytest.raises(ValueError, match="x: .* expects shape"):
        op.gram(torch.zeros(B, C, n + 1, n + 1, dtype=torch.float64))


@pytest.mark.parametrize("task", LINEAR)
def test_pinv_reproduces_measurement(task):
    op = _op(task, 2, 1, 32)
    x = torch.randn(2, 1, 32, 32, generator=_g(2), dtype=torch.float64)
    ax = op(x)
    again = op(op.pinv(ax))
    assert torch.linalg.vector_norm(again - ax) / torch.linalg.vector_norm(ax) < 1e-4


@pytest.mark.parametrize("task", [t for t in LINEAR if t != "motion_blur"])
@pytest.mark.parametrize("shape", [(2, 1, 32), (1, 3, 32)])
def test_svd_view_reconstructs_operator(task, shape):
    B, C, n = shape
    op = _op(task, B, C, n)
    assert op.has_svd
    sv = op.svd()
    x = torch.randn(B, C, n, n, generator=_g(3), dtype=torch.float64)
    y = torch.randn((B,) + op.output_shape, generator=_g(4), dtype=torch.float64)
    s = sv.singular_values(x)
    assert s.shape[-1] == C * n * n
    torch.testing.assert_close(sv.V(sv.Vt(x)), x, atol=1e-10, rtol=0)           # V orthogonal
    torch.testing.assert_close(sv.U(s * sv.Vt(x)), op(x), atol=1e-10, rtol=0)    # A = U S Vᵀ
    torch.testing.assert_close(sv.V(s * sv.Ut(y)), op.T(y), atol=1e-10, rtol=0)  # Aᵀ = V S Uᵀ
    assert (sv.Vt(x).norm() - x.norm()).abs() < 1e-8                            # isometry


def test_motion_blur_has_no_svd_view_but_fft():
    op = _op("motion_blur", 1, 1, 32)
    with pytest.raises(NotImplementedError, match="no SVD view"):
        op.svd()
    assert op.has_prox


@pytest.mark.parametrize("task", LINEAR)
def test_prox_matches_conjugate_gradient(task):
    op = _op(task, 2, 1, 32)
    assert op.has_prox
    g = _g(5)
    v = torch.randn(2, 1, 32, 32, generator=g, dtype=torch.float64)
    y = op(torch.randn(2, 1, 32, 32, generator=g, dtype=torch.float64))
    gamma = torch.tensor([0.5, 3.0], dtype=torch.float64)
    closed = op.prox(v, y, gamma)
    # (I + γAᵀA) x = v + γAᵀy, per image
    from invlab.operators import conjugate_gradient
    gm = gamma.view(2, 1, 1, 1)
    cg = conjugate_gradient(lambda u: u + gm * op.gram(u), v + gm * op.T(y), iters=300, tol=1e-14)
    torch.testing.assert_close(closed, cg, atol=1e-7, rtol=0)


def test_least_squares_is_min_norm_solution():
    op = _op("sr4", 1, 1, 32)
    y = torch.randn((1,) + op.output_shape, generator=_g(6), dtype=torch.float64)
    torch.testing.assert_close(least_squares(op, y, iters=200), op.pinv(y), atol=1e-8, rtol=0)


def test_composition_adjoint_and_nonlinear():
    blur = _op("gaussian_blur", 1, 1, 32)
    sr = _op("sr2", 1, 1, 32)
    comp = sr @ blur
    assert isinstance(comp, LinearOperator) and comp.linear
    x = torch.randn(1, 1, 32, 32, generator=_g(7), dtype=torch.float64)
    y = torch.randn(1, 1, 16, 16, generator=_g(8), dtype=torch.float64)
    assert abs(float((comp(x) * y).sum() - (x * comp.T(y)).sum())) < 1e-9
    torch.testing.assert_close(comp(x), sr(blur(x)))
    again = comp(comp.pinv(comp(x)))
    assert torch.linalg.vector_norm(again - comp(x)) / torch.linalg.vector_norm(comp(x)) < 1e-3
    hdr_blur = _op("hdr", 1, 1, 32) @ blur
    assert isinstance(hdr_blur, Composed) and not hdr_blur.linear
    with pytest.raises(ValueError, match="op: cannot compose"):
        blur @ sr


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("task", LINEAR + NONLINEAR)
def test_dtype_and_leading_batch_dims(task, dtype):
    op = _op(task, 2, 1, 32)
    x = torch.rand(5, 2, 1, 32, 32, generator=_g(9), dtype=dtype) * 2 - 1   # (N, B, C, H, W)
    y = op(x)
    assert y.dtype == dtype and y.shape == (5, 2) + op.output_shape
    torch.testing.assert_close(y[3], op(x[3]))


def test_phase_retrieval_symmetries_and_shape():
    op = _op("phase_retrieval", 1, 1, 32)
    assert op.output_shape == (1, 48, 48)            # pad 32/4 each side
    x = torch.rand(1, 1, 32, 32, generator=_g(10), dtype=torch.float64) * 2 - 1
    torch.testing.assert_close(op(-x), op(x))
    torch.testing.assert_close(op(torch.flip(x, (-1, -2))), op(x))
    assert torch.allclose((op(x) ** 2).sum(), (x ** 2).sum())   # Parseval (orthonormal FFT)


def test_hdr_and_its_inverse():
    op = _op("hdr", 1, 1, 32)
    x = torch.linspace(-1, 1, 1024, dtype=torch.float64).view(1, 1, 32, 32)
    y = op(x)
    assert float(y.abs().max()) <= 1
    inside = x.abs() < 0.5
    torch.testing.assert_close(op.pinv(y)[inside], x[inside])


def test_jpeg_not_differentiable_unless_straight_through():
    x = invlab.glyphs(2)[0].double()
    op = make_operator("jpeg10", (1, 32, 32), batch=2)
    assert not op.differentiable
    y = op(x)
    assert (y - x).abs().max() > 0.05                  # quality 10 is lossy
    # re-compressing a decoded image changes it far less than the first compression did
    assert (op(y) - y).abs().mean() < 0.5 * (y - x).abs().mean()
    with pytest.raises(RuntimeError, match="not differentiable"):
        op(x.clone().requires_grad_())
    ste = make_operator("jpeg10", (1, 32, 32), batch=2, straight_through=True)
    assert ste.differentiable
    xr = x.clone().requires_grad_()
    ste(xr).sum().backward()
    assert xr.grad is not None and xr.grad.abs().sum() > 0
    torch.testing.assert_close(ste(x), y)


def test_jpeg_colour_roundtrip_at_high_quality():
    x = invlab.test_image("astronaut", 64, dtype=torch.float64)
    op = make_operator("jpeg10", (3, 64, 64), quality=95)
    assert float((op(x) - x).abs().mean()) < 0.02


def test_bicubic_matrix_matches_matlab_properties():
    from invlab.operators import bicubic_matrix
    m = bicubic_matrix(32, 4)
    torch.testing.assert_close(m.sum(1), torch.ones(8, dtype=torch.float64))
    ramp = torch.arange(32, dtype=torch.float64)
    # MATLAB samples output i (1-based) at input coordinate 4i - 1.5 (4i - 2.5 zero-based); the
    # cubic reproduces a ramp exactly where the 16-tap kernel does not reach the mirrored border
    out = m @ ramp
    torch.testing.assert_close(out[2:-2], 4 * torch.arange(3, 7, dtype=torch.float64) - 2.5)


def test_operator_rejects_wrong_shapes_and_types():
    op = _op("sr4", 2, 1, 32)
    with pytest.raises(ValueError, match="x: sr4 expects shape"):
        op(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match="x: sr4 expects shape"):
        op(torch.zeros(1, 32, 32))
    with pytest.raises(TypeError, match="x: expected a floating"):
        op(torch.zeros(2, 1, 32, 32, dtype=torch.long))
    with pytest.raises(ValueError, match="y: sr4 expects shape"):
        op.T(torch.zeros(2, 1, 32, 32))
    masked = _op("box_inpaint", 3, 1, 32)
    with pytest.raises(ValueError, match="batch of 3 images"):
        masked(torch.zeros(2, 1, 32, 32))


@settings(max_examples=25, deadline=None)
@given(task=st.sampled_from(LINEAR), B=st.integers(1, 3), C=st.sampled_from([1, 3]),
       n=st.sampled_from([32, 64]), seed=st.integers(0, 2 ** 16))
def test_property_shapes_and_adjoint(task, B, C, n, seed):
    op = _op(task, B, C, n, seed)
    x = torch.randn(B, C, n, n, generator=_g(seed), dtype=torch.float64)
    y = op(x)
    assert y.shape == (B,) + op.output_shape
    assert op.T(y).shape == x.shape and op.pinv(y).shape == x.shape
    r = torch.randn(y.shape, generator=_g(seed + 1), dtype=torch.float64)
    lhs, rhs = float((y * r).sum()), float((x * op.T(r)).sum())
    assert abs(lhs - rhs) <= 1e-6 * max(abs(lhs), 1.0)


@pytest.mark.parametrize("task", ["sr4", "gaussian_blur", "random_inpaint", "motion_blur"])
def test_damped_least_squares_is_the_prox_at_zero(task):
    # argmin ‖Ax − y‖² + μ‖x‖² = (AᵀA + μI)⁻¹Aᵀy = prox(0, y, γ = 1/μ), in float32 too
    op = _op(task, 2, 1, 32)
    y = torch.randn((2,) + op.output_shape, generator=_g(11), dtype=torch.float64)
    for mu in (1e-3, 0.1):
        ref = op.prox(torch.zeros(2, 1, 32, 32, dtype=torch.float64), y, 1 / mu)
        torch.testing.assert_close(least_squares(op, y, damp=mu, iters=2000), ref, atol=1e-7 * ref.norm(), rtol=0)
        got32 = least_squares(op, y.float(), damp=mu, iters=2000)
        assert got32.dtype == torch.float32
        torch.testing.assert_close(got32.double(), ref, atol=1e-5 * ref.norm(), rtol=0)


def test_least_squares_on_vectors_and_bad_arguments():
    from invlab.operators import Matrix
    A = torch.randn(3, 5, generator=_g(12), dtype=torch.float64)
    op = Matrix(A)
    y = torch.randn(4, 3, generator=_g(13), dtype=torch.float64)
    torch.testing.assert_close(least_squares(op, y, iters=50), y @ torch.linalg.pinv(A).T)
    with pytest.raises(ValueError, match="damp: expected a finite number >= 0"):
        least_squares(op, y, damp=-1.0)
    with pytest.raises(ValueError, match="iters: expected an integer"):
        least_squares(op, y, iters=2.5)
    with pytest.raises(ValueError, match="y: contains NaN"):
        least_squares(op, torch.full_like(y, float("nan")))
    with pytest.raises(ValueError, match="y: matrix expects shape"):
        least_squares(op, torch.zeros(4, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="op: least squares needs a linear operator"):
        least_squares(_op("hdr", 1, 1, 32), torch.zeros(1, 1, 32, 32))
