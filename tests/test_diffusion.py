"""Diffusion core: schedule, grids, samplers, the exact Gaussian-mixture prior and posterior,
load_prior (shipped, analytic, hub offline), and the solver plumbing."""
import copy
import math
import os
import shutil

import pytest
import torch

import invlab
from invlab.diffusion import (GaussianMixturePrior, PriorUnavailable, UNetPrior, VPSchedule, gmm2d,
                              gmm_grid, load_prior, timesteps)
from invlab.gmm_bench import linear_gaussian_problem
from invlab.metrics import sliced_wasserstein
from invlab.solvers import SOLVERS, Result


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


# -- schedule -------------------------------------------------------------------------------------
def test_linear_schedule_values():
    s = VPSchedule.linear()
    assert s.alpha_bar.dtype == torch.float64 and s.T == 1000
    assert s.alpha_bar[-1].item() == pytest.approx(4.036e-5, rel=1e-3)
    assert s.ab(-1).item() == 1.0
    from diffusers import DDPMScheduler
    cfg = DDPMScheduler(beta_schedule="linear", beta_start=1e-4, beta_end=0.02).config
    torch.testing.assert_close(VPSchedule.from_config(cfg).alpha_bar, s.alpha_bar)


def test_conversions_roundtrip():
    s = VPSchedule.linear()
    x0 = torch.randn(3, 1, 4, 4, generator=_g(), dtype=torch.float64)
    eps = torch.randn(3, 1, 4, 4, generator=_g(1), dtype=torch.float64)
    t = torch.tensor([0, 500, 999])
    xt = s.noise(x0, t, eps)
    torch.testing.assert_close(s.x0_from_eps(xt, eps, t), x0)
    torch.testing.assert_close(s.eps_from_x0(xt, x0, t), eps)
    torch.testing.assert_close(s.eps_from_score(s.score_from_eps(eps, t), t), eps)
    assert s.t_for_sigma(float(s.sigma_ve(300))) == 300


def test_time_grids():
    lead = timesteps(1000, 50)
    assert lead[0] == 980 and lead[-1] == 0 and len(lead) == 50
    resp = timesteps(1000, 10, "respaced")
    assert resp[0] == 999 and resp[-1] == 0 and len(resp) == 10
    assert torch.equal(timesteps(1000, 1000, "all"), torch.arange(999, -1, -1))
    with pytest.raises(ValueError, match="steps: must lie in"):
        timesteps(1000, 0)
    with pytest.raises(ValueError, match="steps: must lie in"):
        timesteps(1000, 1001)
    with pytest.raises(ValueError, match="kind: unknown value"):
        timesteps(1000, 10, "cosine")


# -- Gaussian mixtures ----------------------------------------------------------------------------
@pytest.mark.parametrize("prior, t", [(GaussianMixturePrior(gmm2d()), 100), (GaussianMixturePrior(gmm2d()), 400),
                                      (GaussianMixturePrior(gmm_grid(8, spacing=2.0)), 500),
                                      (GaussianMixturePrior(gmm_grid(8, spacing=2.0)), 800)],
                         ids=["gmm2d-100", "gmm2d-400", "grid8-500", "grid8-800"])
def test_exact_x0_matches_monte_carlo_conditional_expectation(prior, t):
    """E[x_0 | x_t] by self-normalised importance sampling from the prior vs the closed form
    (at times where the importance weights keep an effective sample size above 200)."""
    g = _g(2)
    x0_true = prior.mixture.sample(3, g)
    a = float(prior.schedule.ab(t))
    xt = math.sqrt(a) * x0_true + math.sqrt(1 - a) * torch.randn(x0_true.shape, generator=g, dtype=torch.float64)
    draws = prior.mixture.sample(400_000, g)                                     # N, d
    logw = -((xt[:, None, :] - math.sqrt(a) * draws[None]) ** 2).sum(-1) / (2 * (1 - a))
    w = torch.softmax(logw, dim=1)
    mc = w @ draws
    ess = 1 / (w ** 2).sum(1)
    assert bool((ess > 200).all())
    exact = prior.x0(xt, t)
    spread = prior.mixture.covariance().diagonal().sqrt().max()
    assert float((exact - mc).abs().max()) < 0.05 * float(spread)


def test_score_is_gradient_of_noisy_log_density():
    prior = GaussianMixturePrior(gmm2d())
    t = 250
    a = float(prior.schedule.ab(t))
    mix = prior.mixture
    noisy = invlab.diffusion.GaussianMixture(mix.weights, math.sqrt(a) * mix.means,
                                             a * mix.covs + (1 - a) * torch.eye(2, dtype=torch.float64))
    x = torch.randn(5, 2, generator=_g(3), dtype=torch.float64).requires_grad_()
    grad, = torch.autograd.grad(noisy.log_prob(x).sum(), x)
    torch.testing.assert_close(prior.score(x.detach(), t), grad)


def _brute_force_posterior_moments(prior, A, y, s):
    # 2-D grid integration of p(x) p(y|x)
    lin = torch.linspace(-1.6, 1.6, 801, dtype=torch.float64)
    X, Y = torch.meshgrid(lin, lin, indexing="ij")
    pts = torch.stack([X.flatten(), Y.flatten()], 1)
    logp = prior.mixture.log_prob(pts) - ((y - pts @ A.T) ** 2).sum(1) / (2 * s * s)
    w = torch.softmax(logp, 0)
    mean = w @ pts
    d = pts - mean
    cov = (w[:, None] * d).T @ d
    return mean, cov


def test_posterior_closed_form_matches_brute_force_and_samples():
    prior = GaussianMixturePrior(gmm2d())
    A = torch.tensor([[1.0, 0.6]], dtype=torch.float64)
    y = torch.tensor([0.3], dtype=torch.float64)
    s = 0.15
    post = prior.posterior(A, y, s)
    mean_bf, cov_bf = _brute_force_posterior_moments(prior, A, y, s)
    torch.testing.assert_close(post.mean(), mean_bf, atol=2e-3, rtol=0)
    torch.testing.assert_close(post.covariance(), cov_bf, atol=2e-3, rtol=0)
    xs = post.sample(200_000, _g(4))
    torch.testing.assert_close(xs.mean(0), post.mean(), atol=3e-3, rtol=0)
    torch.testing.assert_close(torch.cov(xs.T), post.covariance(), atol=3e-3, rtol=0)


def test_posterior_in_80_dims_is_stable():
    prior = load_prior("gmm-grid", dim=80)
    A, y, s, x = linear_gaussian_problem(prior, m=4, seed=1)
    post = prior.posterior(A, y, s)
    assert torch.isfinite(post.means).all() and torch.isfinite(post.weights).all()
    assert abs(float(post.weights.sum()) - 1) < 1e-9
    assert post.sample(10, _g()).shape == (10, 80)


def test_ddim_on_mixture_matches_exact_samples():
    prior = GaussianMixturePrior(gmm2d())
    exact = prior.mixture.sample(2000, _g(5))
    ddim = prior.sample(2000, 100, generator=_g(6))
    other = prior.mixture.sample(2000, _g(7))
    assert sliced_wasserstein(ddim, exact) < 3 * sliced_wasserstein(other, exact) + 0.01
    ddpm = prior.sample(2000, 200, method="ddpm", generator=_g(8))
    assert sliced_wasserstein(ddpm, exact) < 3 * sliced_wasserstein(other, exact) + 0.01
    far = prior.mixture.sample(2000, _g(9)) + 0.3
    assert sliced_wasserstein(far, exact) > 5 * sliced_wasserstein(other, exact)


def test_sliced_wasserstein_of_a_shift():
    a = torch.randn(20000, 4, generator=_g(10), dtype=torch.float64)
    delta = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    b = torch.randn(20000, 4, generator=_g(11), dtype=torch.float64) + delta
    # E_θ[(θᵀδ)²] = ‖δ‖²/d for θ uniform on the sphere
    assert sliced_wasserstein(a, b, n_dirs=2000) == pytest.approx(float(delta.norm()) / 2, rel=0.05)
    assert sliced_wasserstein(a, a) == 0.0


# -- UNet priors and load_prior -------------------------------------------------------------------
def _tiny_unet(out_channels=3):
    from diffusers import UNet2DModel
    torch.manual_seed(0)
    return UNet2DModel(sample_size=16, in_channels=3, out_channels=out_channels, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       layers_per_block=1, norm_num_groups=4)


def test_unet_prior_learned_variance_split():
    prior = UNetPrior(_tiny_unet(6), VPSchedule.linear())
    assert prior.learned_variance and prior.image_shape == (3, 16, 16)
    x = torch.randn(2, 3, 16, 16, generator=_g())
    assert prior.eps(x, 10).shape == (2, 3, 16, 16)
    lv = prior.log_variance(x, torch.tensor([10, 500]))
    assert lv.shape == x.shape and torch.isfinite(lv).all()
    fixed = UNetPrior(_tiny_unet(3), VPSchedule.linear())
    assert not fixed.learned_variance
    assert torch.isfinite(fixed.log_variance(x, 10)).all()


def _save_as_hub_cache(tmp_path, repo_id):
    """Save a tiny UNet + scheduler exactly where huggingface_hub's cache would hold a download."""
    from diffusers import DDPMScheduler
    snap = tmp_path / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    _tiny_unet(3).save_pretrained(snap, safe_serialization=True)
    DDPMScheduler(beta_start=1e-4, beta_end=0.02).save_pretrained(snap)
    refs = snap.parent.parent / "refs"
    refs.mkdir()
    (refs / "main").write_text("0" * 40)
    return tmp_path / "hub"


def test_hub_prior_loads_offline_from_cache(tmp_path, monkeypatch):
    cache = _save_as_hub_cache(tmp_path, "google/ddpm-tiny-test")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    prior = load_prior("google/ddpm-tiny-test")
    assert prior.image_shape == (3, 16, 16)
    torch.testing.assert_close(prior.alpha_bar, VPSchedule.linear().alpha_bar)
    x = prior.sample(2, 3, generator=_g())
    assert x.shape == (2, 3, 16, 16)


def test_hub_prior_not_cached_gives_clear_error(tmp_path, monkeypatch):
    import huggingface_hub.constants as c
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PriorUnavailable, match="data_scripts/fetch_pretrained.py google/ddpm-ema-celebahq-256"):
        load_prior("google/ddpm-ema-celebahq-256")


def test_local_folder_prior(tmp_path):
    _tiny_unet(3).save_pretrained(tmp_path / "m", safe_serialization=True)
    assert load_prior(str(tmp_path / "m")).image_shape == (3, 16, 16)


@pytest.mark.parametrize("name, match", [("glyphs64", "name: unknown prior 'glyphs64'"),
                                         ("a/b/c", "name: unknown prior")])
def test_unknown_prior_lists_names(name, match):
    with pytest.raises(ValueError, match=match) as e:
        load_prior(name)
    assert "glyphs32" in str(e.value) and "google/ddpm-ema-celebahq-256" in str(e.value)


@pytest.fixture(scope="module")
def glyph_prior():
    return load_prior("glyphs32")


def test_glyph_prior_shipped_and_deterministic(glyph_prior):
    assert glyph_prior.image_shape == (1, 32, 32)
    n_params = sum(p.numel() for p in glyph_prior.unet.parameters())
    assert 1e6 <= n_params <= 3e6
    size = sum(f.stat().st_size for f in invlab.diffusion.weights_dir("glyphs32").iterdir())
    assert size <= 10 * 2 ** 20
    a = glyph_prior.sample(2, 3, generator=_g(1))
    b = glyph_prior.sample(2, 3, generator=_g(1))
    assert torch.equal(a, b) and float(a.abs().max()) <= 1


@pytest.mark.parametrize("call, exc, match", [
    (lambda p: p.eps(torch.zeros(1, 1, 16, 16), 5), ValueError,
     r"x_t: the glyphs32 prior expects shape \(B, 1, 32, 32\)"),
    (lambda p: p.eps(torch.zeros(1, 3, 32, 32), 5), ValueError, "x_t: the glyphs32 prior expects"),
    (lambda p: p.eps(torch.zeros(1, 1, 32, 32), 1000), ValueError, r"t: must lie in \[0, 1000\)"),
    (lambda p: p.eps(torch.zeros(1, 1, 32, 32), -1), ValueError, "t: must lie in"),
    (lambda p: p.eps(torch.full((1, 1, 32, 32), float("nan")), 5), ValueError, "x_t: contains NaN"),
    (lambda p: p.sample(2, 0), ValueError, "steps: must lie in"),
    (lambda p: p.sample(2, 1001), ValueError, "steps: must lie in"),
    (lambda p: p.sample(2, 10, eta=1.5), ValueError, "eta: must lie in"),
    (lambda p: p.purify(torch.zeros(1, 1, 32, 32), 1000), ValueError, "t_start: must lie in"),
])
def test_prior_bad_input(glyph_prior, call, exc, match):
    with pytest.raises(exc, match=match):
        call(glyph_prior)


def test_purify_returns_clean_image(glyph_prior):
    x = invlab.glyphs(2, split="test")[0]
    out = glyph_prior.purify(x, 100, 5, generator=_g())
    assert out.shape == x.shape and float(out.abs().max()) <= 1
    assert float(((out - x) ** 2).mean()) < float(((x - x.mean()) ** 2).mean())


# -- solver plumbing ------------------------------------------------------------------------------
def test_result_counts_network_calls(glyph_prior):
    x = invlab.glyphs(3, split="test")[0]
    prob = invlab.make_problem("sr4", x, sigma_y=0.05)
    r = SOLVERS["prior_sample"](prob, glyph_prior, steps=4, generator=_g())
    assert isinstance(r, Result) and r.nfe == 4 and r.vjp == 0 and r.x.shape == x.shape
    assert r.seconds > 0 and r.peak_memory_bytes is not None
    r = SOLVERS["pseudo_inverse"](prob, glyph_prior)
    assert r.nfe == 0 and torch.equal(r.x, prob.op.pinv(prob.y))


def test_vjp_counting():
    from invlab.solvers import solver

    @solver
    def one_gradient_step(problem, prior, *, generator=None, callback=None):
        x = torch.zeros_like(problem.x).requires_grad_()
        loss = ((problem.y - problem.op(prior.x0(x, 500))) ** 2).sum()
        (g,) = torch.autograd.grad(loss, x)
        return x.detach() - g

    prior = GaussianMixturePrior(gmm_grid(4, spacing=0.5), image_shape=(1, 2, 2))
    prob = invlab.make_problem("denoise", torch.zeros(2, 1, 2, 2), sigma_y=0.1)
    r = one_gradient_step(prob, prior)
    assert (r.nfe, r.vjp) == (1, 1)
    SOLVERS.pop("one_gradient_step")


def test_solver_checks_problem_prior_fit(glyph_prior):
    prob = invlab.make_problem("sr4", invlab.test_image("camera", 64))
    with pytest.raises(ValueError, match=r"problem: the operator works on images of shape \(1, 64, 64\)"):
        SOLVERS["prior_sample"](prob, glyph_prior)
    prob = invlab.make_problem("sr4", invlab.glyphs(1)[0])
    with pytest.raises(TypeError, match="stepz: not a hyperparameter of prior_sample"):
        SOLVERS["prior_sample"](prob, glyph_prior, stepz=3)
    with pytest.raises(ValueError, match="steps: must lie in"):
        SOLVERS["prior_sample"](prob, glyph_prior, steps=0)


def test_env_not_leaked():
    assert os.environ.get("HF_HUB_OFFLINE") in (None, "0", "1")


def test_sampler_callbacks_and_grids():
    prior = GaussianMixturePrior(gmm2d())
    seen = []
    prior.sample(3, 7, generator=_g(), callback=lambda i, t, x, x0: seen.append((i, t, x.shape, x0.shape)))
    assert [s[1] for s in seen] == timesteps(1000, 7).tolist()
    seen.clear()
    prior.sample(3, 5, method="ddpm", generator=_g(), callback=lambda i, t, x, x0: seen.append(t))
    assert seen == timesteps(1000, 5, "respaced").tolist()
    seen.clear()
    out = prior.purify(torch.zeros(3, 2, dtype=torch.float64), 200, 4, generator=_g(),
                       callback=lambda i, t, x, x0: seen.append(t))
    assert seen[0] == 200 and seen[-1] == 0 and len(seen) == 4 and out.shape == (3, 2)


def test_linear_problem_checks():
    from invlab.problems import linear_problem
    A = torch.randn(2, 5, dtype=torch.float64)
    p = linear_problem(A, torch.zeros(3, 5, dtype=torch.float64), sigma_y=0.1, seed=1)
    assert p.y.shape == (3, 2) and p.op.linear and p.op.has_svd
    with pytest.raises(ValueError, match=r"x: expected \(B, 5\) vectors"):
        linear_problem(A, torch.zeros(3, 4, dtype=torch.float64), sigma_y=0.1)
    with pytest.raises(ValueError, match="y: expected shape"):
        linear_problem(A, torch.zeros(3, 5, dtype=torch.float64), sigma_y=0.1, y=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="sigma_y: must be >= 0"):
        linear_problem(A, torch.zeros(3, 5, dtype=torch.float64), sigma_y=-1.0)


def test_gmm_exact_likelihood_of_a_noisy_iterate_matches_monte_carlo():
    # p(y|x_t) = ∫ N(y; A x0, σ²) N(x_t; √ᾱ x0, (1−ᾱ) I) p(x0) dx0 / p_t(x_t), by prior samples
    import math
    from invlab.diffusion import GaussianMixturePrior, gmm2d
    mix = GaussianMixturePrior(gmm2d())
    A = torch.tensor([[1.0, 0.6]], dtype=torch.float64)
    y, sy, t = torch.tensor([0.3], dtype=torch.float64), 0.1, 500
    x_t = torch.tensor([[0.2, -0.4], [-0.5, 0.5]], dtype=torch.float64)
    exact = mix.log_likelihood(x_t, t, A, y, sy)
    x0 = mix.sample_exact(400_000, torch.Generator().manual_seed(0))
    ab = float(mix.schedule.ab(t))
    for i in range(2):
        lik = torch.exp(-0.5 * ((y - x0 @ A.T)[:, 0] / sy) ** 2) / (sy * math.sqrt(2 * math.pi))
        tr = torch.exp(-0.5 * ((x_t[i] - math.sqrt(ab) * x0) ** 2).sum(1) / (1 - ab)) / (2 * math.pi * (1 - ab))
        p_t = float((tr).mean())
        mc = math.log(float((lik * tr).mean()) / p_t)
        assert abs(mc - float(exact[i])) < 0.05
    x_req = x_t.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(mix.log_likelihood(x_req, t, A, y, sy).sum(), x_req)
    assert torch.isfinite(g).all()
    with pytest.raises(ValueError, match="A: expected shape"):
        mix.log_likelihood(x_t, t, torch.ones(1, 3, dtype=torch.float64), y, sy)


def test_gmm_modes_are_stationary_points_of_the_density():
    from invlab.diffusion import gmm2d
    mix = gmm2d()
    modes = mix.modes()
    x = modes.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(mix.log_prob(x).sum(), x)
    assert g.abs().max() < 1e-6                                     # ∇ log p = 0 at every mode
    assert 1 <= modes.shape[0] <= 6
    assert torch.cdist(modes, mix.means).min(1).values.max() < 0.05  # near component means here


def test_stand_in_prior_has_the_hub_models_shape_and_schedule(tmp_path):
    from invlab.diffusion import stand_in_prior
    prior = stand_in_prior(tmp_path / "s", size=32)
    assert prior.image_shape == (3, 32, 32) and prior.T == 1000
    torch.testing.assert_close(prior.alpha_bar, VPSchedule.linear().alpha_bar)
    assert (tmp_path / "s" / "diffusion_pytorch_model.safetensors").exists()


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                    reason="torch.compile on the CPU needs a C++ compiler")
def test_compiled_prior_matches_eager_and_keeps_gradients():
    """compile(): the same ε without gradients; passes that need gradients run the eager network;
    moving the prior drops the compiled network."""
    from diffusers import UNet2DModel
    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), layers_per_block=1, norm_num_groups=4,
                       attention_head_dim=8)
    x = torch.randn(2, 1, 8, 8, generator=_g())
    eager = UNetPrior(copy.deepcopy(unet), VPSchedule.linear())
    fast = UNetPrior(unet, VPSchedule.linear()).compile()
    with torch.no_grad():
        torch.testing.assert_close(fast.eps(x, 300), eager.eps(x, 300), atol=1e-4, rtol=1e-4)
    xg = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(fast.eps(xg, 300).sum(), xg)
    (g_ref,) = torch.autograd.grad(eager.eps(xg, 300).sum(), xg)
    torch.testing.assert_close(g, g_ref, atol=1e-4, rtol=1e-4)
    assert fast._compiled is not None and fast.to(dtype=torch.float32)._compiled is None
