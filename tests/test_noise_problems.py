"""Noise statistics, determinism, task defaults and bad input for make_problem."""
import dataclasses
import math

import pytest
import torch

import invlab
from invlab import TASKS, make_problem
from invlab.noise import GaussianNoise, PoissonNoise, SpeckleNoise, make_noise


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gaussian_noise_statistics():
    ax = torch.zeros(64, 1, 32, 32)
    y = GaussianNoise(0.1).sample(ax, _g())
    assert abs(float(y.mean())) < 3e-3
    assert abs(float(y.std()) - 0.1) < 2e-3


def test_poisson_noise_statistics_dps_convention():
    level = 0.2                                    # x01 = 0.6 -> 153 photons at rate 1
    ax = torch.full((64, 1, 32, 32), level, dtype=torch.float64)
    nz = PoissonNoise(1.0)
    y = nz.sample(ax, _g())
    counts = (y + 1) / 2 * 255
    assert abs(float(counts.mean()) - 153) < 0.5
    assert abs(float(counts.var()) - 153) < 3
    torch.testing.assert_close(counts, counts.round())     # integer photon counts
    assert float(nz.variance(ax).mean()) == pytest.approx(4 * 153 / 255 ** 2)


def test_speckle_noise_statistics_gamma_definition():
    ax = torch.full((64, 1, 32, 32), 0.0, dtype=torch.float64)  # x01 = 0.5
    y = SpeckleNoise(looks=10).sample(ax, _g())
    y01 = (y + 1) / 2
    assert abs(float(y01.mean()) - 0.5) < 5e-3
    assert abs(float(y01.var()) - 0.25 / 10) < 1.5e-3      # Var = x01^2 / looks


@pytest.mark.parametrize("noise", ["gaussian", "poisson", "speckle"])
def test_nll_is_smallest_near_the_truth(noise):
    ax = torch.full((4, 1, 8, 8), 0.1, dtype=torch.float64)
    nz = make_noise(noise, sigma_y=0.05 if noise == "gaussian" else 0.0)
    y = nz.sample(ax, _g(3))
    vals = [float(nz.nll(y, ax + d).sum()) for d in (-0.2, 0.0, 0.2)]
    assert vals[1] < vals[0] and vals[1] < vals[2]


@pytest.mark.parametrize("task", TASKS)
def test_every_task_is_deterministic_and_keeps_shapes(task):
    x = invlab.glyphs(3)[0]
    a = make_problem(task, x, sigma_y=0.05, seed=7)
    b = make_problem(task, x, sigma_y=0.05, seed=7)
    c = make_problem(task, x, sigma_y=0.05, seed=8)
    assert torch.equal(a.y, b.y)
    assert not torch.equal(a.y, c.y)
    assert a.y.shape == (3,) + a.op.output_shape
    assert a.x is x and a.task == task and a.sigma_y == 0.05
    r = a.residual(x)
    # the residual at the truth is σ_y² times a χ²_m/m draw (m = dim y): 5 standard deviations
    m = a.y[0].numel()
    assert r.shape == (3,) and torch.allclose(r, torch.full((3,), 0.0025), rtol=5 * (2 / m) ** 0.5)


def test_defaults_scale_with_image_size():
    assert invlab.task_defaults("box_inpaint", 256) == {"box": 128, "margin": 16}
    assert invlab.task_defaults("box_inpaint", 32) == {"box": 16, "margin": 2}
    assert invlab.task_defaults("motion_blur", 256)["kernel_size"] == 61
    assert invlab.task_defaults("motion_blur", 32)["kernel_size"] == 9
    assert invlab.task_defaults("gaussian_blur", 256)["std"] == 3.0
    p = make_problem("box_inpaint", invlab.glyphs(4)[0], box=8)
    holes = (p.op.mask == 0).flatten(1).sum(1)
    assert torch.equal(holes, torch.full((4,), 64.0, dtype=holes.dtype))


def test_freeform_hole_fraction_in_range():
    p = make_problem("freeform_inpaint", invlab.glyphs(6)[0], hole_range=(0.3, 0.4), seed=1)
    frac = 1 - p.op.mask.flatten(1).mean(1)
    assert bool(((frac >= 0.3) & (frac <= 0.4)).all())


def test_random_inpaint_fraction():
    p = make_problem("random_inpaint", invlab.glyphs(8)[0], p=0.92)
    assert abs(1 - float(p.op.mask.mean()) - 0.92) < 0.03


def test_poisson_problem():
    x = invlab.glyphs(2)[0]
    p = make_problem("sr4", x, noise="poisson", rate=0.5)
    assert p.sigma_y == 0 and isinstance(p.noise, PoissonNoise)
    with pytest.raises(ValueError, match="sigma_y: applies to Gaussian noise only"):
        make_problem("sr4", x, noise="poisson", sigma_y=0.1)


x32 = None


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(task="nope"), ValueError, "task: unknown value 'nope'"),
    (dict(sigma_y=-0.1), ValueError, "sigma_y: must be >= 0"),
    (dict(sigma_y=float("nan")), ValueError, "sigma_y"),
    (dict(noise="laplace"), ValueError, "noise: unknown value"),
    (dict(task="box_inpaint", box=40), ValueError, "box: a 40-px box"),
    (dict(task="phase_retrieval", oversampling=0.5), ValueError, "oversampling: must be >= 1"),
    (dict(task="random_inpaint", p=1.5), ValueError, "p: must lie in"),
    (dict(task="sr4", factor=5), ValueError, "factor: image side 32 is not divisible by 5"),
    (dict(task="sr4", boxx=3), TypeError, "boxx: not a parameter of task 'sr4'"),
    (dict(task="motion_blur", kernel_size=8), ValueError, "kernel_size: must be odd"),
    (dict(task="gaussian_blur", std=0), ValueError, "std: must be > 0"),
    (dict(task="jpeg10", quality=0), ValueError, "quality: must lie in"),
    (dict(noise="speckle", looks=0.5), ValueError, "looks: must be >= 1"),
])
def test_bad_arguments_name_the_argument(kwargs, exc, match):
    kw = dict(task="sr4")
    kw.update(kwargs)
    task = kw.pop("task")
    with pytest.raises(exc, match=match):
        make_problem(task, invlab.glyphs(2)[0], **kw)


@pytest.mark.parametrize("x, match", [
    (torch.zeros(1, 32, 32), "x: expected a 4-D tensor"),
    (torch.full((1, 1, 32, 32), float("nan")), "x: contains NaN"),
    (torch.full((1, 1, 32, 32), 5.0), r"x: values must lie in \[-1, 1\]"),
    (torch.zeros(1, 1, 32, 16), "x: square images expected"),
    (torch.zeros(1, 1, 32, 32, dtype=torch.int64), "x: expected a floating-point tensor"),
    ([[0.0]], "x: expected a torch.Tensor"),
])
def test_bad_images_rejected_before_work(x, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_problem("sr4", x)


def test_jpeg_on_side_not_multiple_of_8():
    with pytest.raises(ValueError, match="x: JPEG needs a side divisible by 8"):
        make_problem("jpeg10", torch.zeros(1, 1, 12, 12))


def test_phase_retrieval_noise_units():
    x = invlab.glyphs(2)[0]
    p = make_problem("phase_retrieval", x, sigma_y=0.05)
    noise = p.y - p.op(x)
    assert abs(float(noise.std()) - 0.05) < 0.005
    assert math.isclose(p.params["oversampling"], 2.0)


@pytest.mark.parametrize("task", ["sr4", "gaussian_blur", "motion_blur", "random_inpaint", "box_inpaint",
                                  "phase_retrieval", "hdr"])
def test_data_gradient_is_the_gradient_of_half_the_squared_residual(task):
    # linear operators take the exact adjoint, the others autograd: both must be ∇ ½‖y − A(x)‖²
    x = invlab.glyphs(2, split="test")[0]
    p = make_problem(task, x, sigma_y=0.05, seed=1)
    v = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).mul(0.5).clamp(-1, 1)
    vv = v.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(0.5 * ((p.y - p.op(vv)) ** 2).sum(), vv)
    got = p.data_gradient(v)
    assert not got.requires_grad and got.shape == v.shape
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(p.data_gradient(v), got)                  # cached Aᵀy: same answer
    p64 = dataclasses.replace(p, y=p.y.double())                         # a new y: a new Aᵀy
    torch.testing.assert_close(p64.data_gradient(v.double()), want.double(), atol=1e-4, rtol=1e-4)
    p.y.mul_(0.5)                                                        # y changed in place: a new Aᵀy
    vv = v.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(0.5 * ((p.y - p.op(vv)) ** 2).sum(), vv)
    torch.testing.assert_close(p.data_gradient(v), want, atol=1e-4, rtol=1e-4)
