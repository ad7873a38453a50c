"""Bad or edge input to problems, metrics, solvers and devices: each gets one clear error naming
the argument before any work; finite estimates outside [-1, 1] are scored clamped."""
import copy
import dataclasses

import numpy as np
import pytest
import torch

import invlab
from invlab import metrics
from invlab._checks import check_device, check_generator
from invlab.diffusion import load_prior
from invlab.problems import InverseProblem, linear_problem, make_problem
from invlab.solvers import SOLVERS
from invlab.solvers.base import Result

LATENT = {name for name, fn in SOLVERS.items() if fn.spaces == ("latent",)}


def g(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def prior():
    return load_prior("glyphs32")


@pytest.fixture(scope="module")
def latent_prior():
    return load_prior("glyphs32-latent")


@pytest.fixture(scope="module")
def x1():
    return invlab.glyphs(1, split="test", seed=0)[0]


@pytest.fixture
def sr(x1):
    return make_problem("sr4", x1, sigma_y=0.05, seed=0)


def _no_work(p):
    """A copy of prior ``p`` whose network fails loudly if a solver ever reaches it."""
    q = copy.copy(p)

    def fail(*a, **k):
        raise AssertionError("the network was called")

    for name in getattr(p, "counted_methods", ("eps",)):
        setattr(q, name, fail)
    return q


# ------------------------------------------------------------------------------------------------
# metrics: any finite estimate, scored clamped to [-1, 1]

def _overshoot(x, seed=0):
    """An estimate like RED-diff's at few steps: values in about [-2, 1.75]."""
    n = torch.randn(x.shape, generator=g(seed))
    out = x + 0.4 * n
    out.view(-1)[0], out.view(-1)[1] = -1.99, 1.74
    return out


@pytest.mark.parametrize("fn", [metrics.psnr, metrics.ssim])
def test_reference_metrics_score_the_clamped_estimate(fn, x1):
    est = _overshoot(x1)
    assert float(est.min()) < -1.5 and float(est.max()) > 1.5      # out of the old ±1.5 tolerance
    got = fn(est, x1)
    torch.testing.assert_close(got, fn(est.clamp(-1, 1), x1), rtol=0, atol=0)
    assert bool(torch.isfinite(got).all())
    assert not torch.equal(got, fn(est * 0.9, x1))                  # the values inside still count


def test_single_image_metrics_score_the_clamped_estimate(x1):
    est = _overshoot(x1)
    for fn in (metrics.canny, metrics.edge_density, metrics.laplacian_energy, metrics.classifier_probs,
               metrics.classifier_features):
        assert torch.equal(fn(est), fn(est.clamp(-1, 1))), fn.__name__
    labels = torch.tensor([3])
    assert torch.equal(metrics.classifier_accuracy(est, labels), metrics.classifier_accuracy(est.clamp(-1, 1), labels))
    two = torch.cat([_overshoot(x1, 1), _overshoot(x1, 2)])
    assert metrics.frechet_distance(two, two * 3) == metrics.frechet_distance(two.clamp(-1, 1), (two * 3).clamp(-1, 1))


def test_lpips_scores_the_clamped_estimate(x1):
    est = _overshoot(x1)
    try:
        got = metrics.lpips(est, x1)
    except metrics.LpipsUnavailable:
        pytest.skip("lpips is not installed here")
    torch.testing.assert_close(got, metrics.lpips(est.clamp(-1, 1), x1))


def test_red_diff_output_is_scored_like_the_cli(sr, prior, x1):
    r = SOLVERS["red_diff"](sr, prior, steps=2, generator=g())
    assert float(r.x.abs().max()) > 1.5                             # this would have raised
    assert torch.equal(metrics.psnr(r.x, x1), metrics.psnr(r.x.clamp(-1, 1), x1))
    assert torch.equal(metrics.ssim(r.x, x1), metrics.ssim(r.x.clamp(-1, 1), x1))
    row = metrics.scorecard(sr, r)
    assert row["psnr"] == pytest.approx(float(metrics.psnr(r.x.clamp(-1, 1), x1).mean()))
    # the residual measures the estimate as returned: no clamp
    want = ((sr.y - sr.op(r.x)) ** 2).flatten(1).mean(1)
    torch.testing.assert_close(metrics.residual(sr, r.x), want)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_metrics_refuse_non_finite_estimates_naming_them(bad, x1):
    est = x1.clone()
    est[0, 0, 3, 3] = bad
    for fn in (metrics.psnr, metrics.ssim, metrics.lpips):
        with pytest.raises(ValueError, match="^x: contains NaN or infinite values"):
            fn(est, x1)
        with pytest.raises(ValueError, match="^ref: contains NaN or infinite values"):
            fn(x1, est)
    for fn in (metrics.canny, metrics.edge_density, metrics.laplacian_energy, metrics.classifier_probs):
        with pytest.raises(ValueError, match="^x: contains NaN"):
            fn(est)
    with pytest.raises(ValueError, match="^x_hat: contains NaN"):
        metrics.residual(make_problem("sr4", x1), est)
    with pytest.raises(ValueError, match="^result.x: contains NaN"):
        metrics.scorecard(make_problem("sr4", x1), Result(x=est))


def test_metric_arguments_checked(x1):
    with pytest.raises(ValueError, match="^ref: values must lie in"):            # a [0, 255] image
        metrics.psnr(x1, (x1 + 1) * 127.5)
    with pytest.raises(TypeError, match="^x: expected a floating-point tensor"):
        metrics.psnr(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), torch.zeros(1, 1, 8, 8))
    with pytest.raises(TypeError, match="^x: expected a torch.Tensor"):
        metrics.ssim(np.zeros((1, 1, 8, 8)), torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="^ref: shape"):
        metrics.psnr(torch.zeros(2, 1, 8, 8), torch.zeros(1, 1, 4, 4))
    torch.testing.assert_close(metrics.psnr(x1.expand(3, -1, -1, -1), x1), metrics.psnr(x1, x1).expand(3))
    with pytest.raises(ValueError, match="^x: is a meta tensor"):
        metrics.psnr(torch.zeros(1, 1, 8, 8, device="meta"), torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="^ref: is a meta tensor"):
        metrics.ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8, device="meta"))
    with pytest.raises(ValueError, match="^x: expected a batch"):
        metrics.excess_kurtosis(torch.zeros(5))
    a = torch.randn(20, 3, generator=g(0))
    assert metrics.sliced_wasserstein(a, a + 1, generator=4) == metrics.sliced_wasserstein(a, a + 1, generator=g(4))
    with pytest.raises(ValueError, match="^n_dirs: must lie in"):
        metrics.sliced_wasserstein(a, a, n_dirs=0)
    with pytest.raises(ValueError, match="^b: needs at least one sample"):
        metrics.sliced_wasserstein(a, a[:0])


# ------------------------------------------------------------------------------------------------
# the problem checks y (and x) itself

def test_problem_refuses_a_bad_y_at_construction(sr):
    B = sr.batch_size
    cases = [
        (sr.y[..., :-1], ValueError, r"^y: expected shape \(1, 1, 8, 8\) \(what the sr4 operator gives"),
        (sr.y.expand(2, -1, -1, -1), ValueError, r"^y: holds 2 measurement\(s\) but x holds 1 image"),
        (sr.y[0], ValueError, r"^y: expected shape"),
        (sr.y.to(torch.int64), TypeError, "^y: expected a floating-point tensor"),
        (sr.y.to(torch.complex64), TypeError, "^y: expected a floating-point tensor"),
        (torch.full_like(sr.y, float("nan")), ValueError, "^y: contains NaN or infinite values"),
        (sr.y.clone().index_fill_(-1, torch.tensor([2]), float("inf")), ValueError, "^y: contains NaN"),
        (sr.y.numpy(), TypeError, "^y: expected a torch.Tensor"),
        (torch.zeros(B, 1, 8, 8, device="meta"), ValueError, "^y: is a meta tensor"),
    ]
    for y, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            dataclasses.replace(sr, y=y)
        with pytest.raises(exc, match=msg):
            InverseProblem(sr.task, sr.op, sr.x, y, sr.noise, sr.sigma_y)
    ok = dataclasses.replace(sr, y=sr.y.double())                    # another float dtype is fine
    assert ok.y.dtype == torch.float64


def test_problem_refuses_a_bad_x_and_an_empty_batch(sr, x1):
    with pytest.raises(ValueError, match=r"^x: an empty batch \(shape \(0, 1, 32, 32\)\)"):
        make_problem("sr4", x1[:0])
    with pytest.raises(ValueError, match="^x: an empty batch"):
        make_problem("denoise", torch.zeros(0, 1, 8, 8), sigma_y=0.1)
    with pytest.raises(ValueError, match="^x: an empty batch"):
        dataclasses.replace(sr, x=sr.x[:0], y=sr.y[:0])
    with pytest.raises(ValueError, match="^x: an empty batch"):
        linear_problem(torch.eye(3)[:2], torch.zeros(0, 3), sigma_y=0.1)
    with pytest.raises(ValueError, match="^x: has an empty dimension"):
        linear_problem(torch.zeros(2, 0), torch.zeros(1, 0), sigma_y=0.1)
    with pytest.raises(ValueError, match=r"^x: the operator works on \(B, 1, 32, 32\)"):
        dataclasses.replace(sr, x=sr.x[..., :16, :16])
    with pytest.raises(ValueError, match="^x: contains NaN"):
        dataclasses.replace(sr, x=torch.full_like(sr.x, float("nan")))
    with pytest.raises(ValueError, match="^x: is a meta tensor"):
        make_problem("sr4", torch.zeros(1, 1, 32, 32, device="meta"))
    masks = make_problem("random_inpaint", invlab.glyphs(2, split="test")[0])   # per-image masks
    with pytest.raises(ValueError, match=r"^x: holds 1 image\(s\) but the operator was built for 2"):
        dataclasses.replace(masks, x=masks.x[:1], y=masks.y[:1])
    with pytest.raises(ValueError, match="^sigma_y: must be >= 0"):
        dataclasses.replace(sr, sigma_y=float("nan"))


def test_make_problem_seed_and_generator_checked(x1):
    with pytest.raises(TypeError, match="^generator: expected a torch.Generator; pass an int seed as seed="):
        make_problem("sr4", x1, generator=3)
    with pytest.raises(TypeError, match="^seed: expected an int, got str"):
        make_problem("sr4", x1, seed="3")
    with pytest.raises(ValueError, match=r"^seed: must lie in \[0, 2\*\*64\)"):
        make_problem("sr4", x1, seed=-1)
    a = make_problem("random_inpaint", x1, sigma_y=0.1, seed=np.int64(5))
    b = make_problem("random_inpaint", x1, sigma_y=0.1, generator=g(5))
    assert torch.equal(a.y, b.y) and a.seed == 5


def test_every_problem_task_builds_a_valid_problem(x1):
    for task in invlab.TASKS:
        p = make_problem(task, x1, sigma_y=0.05 if task != "phase_retrieval" else 0.0)
        assert p.validate() is p
        assert tuple(p.y.shape) == (1,) + tuple(p.op.output_shape) == tuple(p.op(p.x).shape)
    rep = make_problem("sr4", x1).repeat(3)
    assert rep.batch_size == 3 and rep.y.shape[0] == 3


# ------------------------------------------------------------------------------------------------
# solvers refuse a bad problem at entry, naming y, before any network call

@pytest.mark.parametrize("name", sorted(SOLVERS))
@pytest.mark.parametrize("corrupt", ["nan_in_place", "wrong_shape", "batch_2"])
def test_solvers_refuse_a_mutated_y_before_any_work(name, corrupt, sr, prior, latent_prior):
    p = latent_prior if name in LATENT else prior
    if corrupt == "nan_in_place":
        sr.y[0, 0, 1, 1] = float("nan")
        msg = "^y: contains NaN or infinite values"
    elif corrupt == "wrong_shape":
        sr.y = torch.zeros(1, 1, 16, 16)
        msg = r"^y: expected shape \(1, 1, 8, 8\)"
    else:
        sr.y = sr.y.expand(2, -1, -1, -1)
        msg = r"^y: holds 2 measurement\(s\) but x holds 1"
    with pytest.raises(ValueError, match=msg):
        SOLVERS[name](sr, _no_work(p), generator=g())


def test_pseudo_inverse_never_sees_a_nan_y(sr, prior):
    sr.y = torch.full_like(sr.y, float("nan"))
    with pytest.raises(ValueError, match="^y: contains NaN"):
        SOLVERS["pseudo_inverse"](sr, prior)


def test_prior_on_another_device_is_refused(sr, prior):
    class Elsewhere:
        image_shape = (1, 32, 32)
        name = "elsewhere"
        device = torch.device("meta")

        def eps(self, *a):                                        # pragma: no cover - never reached
            raise AssertionError("the network was called")

    with pytest.raises(ValueError, match="^prior: lives on 'meta' but the problem's x and y on 'cpu'"):
        SOLVERS["ddnm"](sr, Elsewhere(), steps=2, generator=g())


# ------------------------------------------------------------------------------------------------
# generator=<int>: a seed, the same as torch.Generator().manual_seed(seed)

@pytest.mark.parametrize("name, kw", [("ddnm", dict(steps=2)), ("dps", dict(steps=2)),
                                      ("red_diff", dict(steps=2)), ("prior_sample", dict(steps=2)),
                                      ("ddrm", dict(steps=2))])
def test_an_int_generator_is_a_seed(name, kw, sr, prior):
    by_int = SOLVERS[name](sr, prior, generator=7, **kw).x
    by_gen = SOLVERS[name](sr, prior, generator=g(7), **kw).x
    assert torch.equal(by_int, by_gen)
    assert torch.equal(SOLVERS[name](sr, prior, generator=np.int64(7), **kw).x, by_gen)
    assert not torch.equal(SOLVERS[name](sr, prior, generator=8, **kw).x, by_gen)


def test_bad_generators_and_callbacks_are_refused(sr, prior):
    cases = [("7", TypeError, "^generator: expected a torch.Generator or an int seed, got str"),
             (True, TypeError, "^generator: expected a torch.Generator or an int seed, got bool"),
             (7.0, TypeError, "got float"),
             (np.random.default_rng(0), TypeError, "got Generator"),
             (-1, ValueError, r"^generator: a seed must lie in \[0, 2\*\*64\)"),
             (2 ** 64, ValueError, "^generator: a seed must lie")]
    for bad, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            SOLVERS["ddnm"](sr, _no_work(prior), steps=2, generator=bad)
    with pytest.raises(TypeError, match="^callback: expected None or a callable, got int"):
        SOLVERS["ddnm"](sr, _no_work(prior), steps=2, generator=g(), callback=3)
    assert check_generator("generator", None) is None
    gen = g(1)
    assert check_generator("generator", gen) is gen


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_generator_is_refused(sr, prior):
    with pytest.raises(ValueError, match="^generator: expected a CPU torch.Generator"):
        SOLVERS["ddnm"](sr, _no_work(prior), steps=2, generator=torch.Generator(device="cuda"))


# ------------------------------------------------------------------------------------------------
# devices: one clear message each

def test_check_device_accepts_real_devices():
    assert check_device("device", "cpu") == torch.device("cpu")
    assert check_device("device", torch.device("cpu")) == torch.device("cpu")
    assert check_device("device", None, allow_none=True) is None
    assert check_device("x", torch.zeros(1)) == torch.device("cpu")


def test_check_device_refuses_unknown_and_meta():
    with pytest.raises(ValueError, match=r"^device: unknown device 'foo'; use 'cpu', 'cuda', 'cuda:N' or 'mps'"):
        check_device("device", "foo")
    with pytest.raises(ValueError, match="^device: unknown device 'cuda:x'"):
        check_device("device", "cuda:x")
    with pytest.raises(ValueError, match="^device: the 'meta' device holds shapes without values"):
        check_device("device", "meta")
    with pytest.raises(ValueError, match="^x: is a meta tensor"):
        check_device("x", torch.zeros(2, device="meta"))
    with pytest.raises(TypeError, match="^device: expected a device such as 'cpu' or 'cuda'.*got float"):
        check_device("device", 1.5)
    with pytest.raises(TypeError, match="got bool"):
        check_device("device", True)
    with pytest.raises(TypeError, match="got None"):
        check_device("device", None)
    with pytest.raises(ValueError, match="^device: a CUDA device index must be >= 0"):
        check_device("device", -1)


def test_check_device_cuda_on_a_cpu_build(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"^device: 'cuda' asked for, but this torch \(.*\) is built without CUDA"):
        check_device("device", "cuda")
    with pytest.raises(ValueError, match="built without CUDA"):
        check_device("device", 0)


def test_check_device_cuda_build_without_a_visible_gpu(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "12.1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"^device: 'cuda:0' asked for, but no CUDA GPU is visible here"):
        check_device("device", "cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"^device: 'cuda:3' asked for, but only 1 CUDA device\(s\) are visible"):
        check_device("device", "cuda:3")
    assert check_device("device", "cuda:0") == torch.device("cuda:0")


def test_check_device_unavailable_backend(monkeypatch):
    mps = getattr(torch.backends, "mps", None)
    if mps is not None:
        monkeypatch.setattr(mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="^device: 'mps' asked for, but the 'mps' backend is not available"):
        check_device("device", "mps")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_problems_and_mixed_devices(x1, prior):
    assert check_device("device", "cuda") == torch.device("cuda")
    p = make_problem("sr4", x1.cuda(), sigma_y=0.05, seed=0)
    with pytest.raises(ValueError, match="^y: lives on 'cpu' but x on 'cuda:0'"):
        dataclasses.replace(p, y=p.y.cpu())
    with pytest.raises(ValueError, match="^ref: lives on 'cpu' but x on 'cuda:0'"):
        metrics.psnr(p.x, x1)
    with pytest.raises(ValueError, match="^prior: lives on 'cpu' but the problem's x and y on 'cuda:0'"):
        SOLVERS["ddnm"](p, prior, steps=2, generator=g())
    cpu = make_problem("sr4", x1, sigma_y=0.05, seed=0)
    torch.testing.assert_close(p.y.cpu(), cpu.y)                  # noise drawn on the CPU: same numbers


# --- hyperparameters out of range are refused before any work, naming the argument ---------------

@pytest.mark.parametrize("method, kw, match", [
    ("pigdm", dict(eta=2.0), "eta: must lie in"), ("pigdm", dict(eta=-1), "eta: must lie in"),
    ("ddiff", dict(a=-1.0), "a: must be > 0"), ("ddiff", dict(b=-1.0), "b: must be > 0"),
    ("dcdp", dict(momentum=5), "momentum: must lie in"), ("red_diff", dict(clip_min=float("nan")), "clip_min: must be"),
    ("dps", dict(clamp="no"), "clamp: expected True or False"),
    ("dps", dict(poisson_floor=0.0), "poisson_floor: must be"),
    ("diffpir", dict(zeta="0.5"), "zeta: expected a number"), ("daps", dict(sigma_min=-1.0), "sigma_min: must be > 0"),
    ("daps", dict(sigma_min=200.0), "sigma_min: must not exceed sigma_max"),
    ("hrdis", dict(warm_start=1.5), "warm_start: must lie in"),
    ("hrdis", dict(warm_start="half"), "warm_start: expected"),
    ("hrdis", dict(weighting="log"), "weighting"), ("dpg", dict(n_samples=1), "n_samples"),
    ("dpg", dict(beta_cfg=-0.1), "beta_cfg: must lie in"),
])
def test_hyperparameters_out_of_range_name_the_argument(method, kw, match):
    import invlab
    from invlab.solvers import SOLVERS
    prior = invlab.load_prior("glyphs32")
    problem = invlab.make_problem("sr4", invlab.glyphs(1)[0], sigma_y=0.05)
    calls = []
    counting = type(prior)                                       # the network must never run
    original = counting._eps
    counting._eps = lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    try:
        with pytest.raises((ValueError, TypeError), match=match):
            SOLVERS[method](problem, prior, **kw)
    finally:
        counting._eps = original
    assert not calls


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(device="gpu0"), (ValueError, RuntimeError, TypeError), "^device: "),
    (dict(device=[0]), TypeError, "^device: expected a device"),
    (dict(dtype="float16"), TypeError, "^dtype: expected a floating torch dtype"),
    (dict(dtype=torch.int8), TypeError, "^dtype: expected a floating torch dtype"),
])
@pytest.mark.parametrize("loader", ["prior", "ddc"])
def test_loaders_check_device_and_dtype_before_loading(loader, kw, exc, msg):
    from invlab.ddc import load_ddc
    fn = (lambda **k: invlab.load_prior("glyphs32", **k)) if loader == "prior" else (lambda **k: load_ddc(**k))
    with pytest.raises(exc, match=msg):
        fn(**kw)
