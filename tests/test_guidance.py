"""Guidance and projection solvers on glyphs: hyperparameter sweeps never produce NaN,
DPG's state and chunking, non-differentiable operators, Poisson data, bad input, and the ground
truth in d = 80."""
import dataclasses
import itertools

import pytest
import torch

import invlab
from invlab.diffusion import load_prior
from invlab.gmm_bench import linear_gaussian_problem, posterior_report
from invlab.metrics import scorecard
from invlab.problems import linear_problem
from invlab.solvers import SOLVERS


@pytest.fixture(scope="module")
def prior():
    return load_prior("glyphs32")


@pytest.fixture(scope="module")
def glyphs2():
    return invlab.glyphs(2, split="test", seed=0)


def g(seed=0):
    return torch.Generator().manual_seed(seed)


# the documented ranges of each solver's hyperparameters (docstrings and notebooks 03-04)
SWEEPS = {
    "dps": dict(zeta=[0.01, 6.0, 100.0], steps=[1, 4]),
    "pigdm": dict(eta=[0.0, 1.0], weight=[0.1, 10.0], steps=[1, 4]),
    "ddrm": dict(eta=[0.0, 0.85, 1.0], eta_b=[0.0, 1.0], steps=[1, 4]),
    "ddnm": dict(eta=[0.0, 1.0], steps=[1, 4]),
    "dpg": dict(scale=[0.1, 20.0, 2000.0], n_samples=[2, 64], r_min=[0.0, 0.5], sampler=["ddpm", "ddim"], steps=[3]),
}


@pytest.mark.parametrize("name", list(SWEEPS))
@pytest.mark.parametrize("sigma_y", [0.0, 0.05, 0.5])
def test_no_nan_over_documented_ranges(prior, glyphs2, name, sigma_y):
    x, _ = glyphs2
    p = invlab.make_problem("sr4", x, sigma_y=sigma_y, seed=0)
    keys, values = zip(*SWEEPS[name].items())
    for combo in itertools.product(*values):
        kw = dict(zip(keys, combo))
        r = SOLVERS[name](p, prior, generator=g(), **kw)
        assert torch.isfinite(r.x).all(), (name, sigma_y, kw)
        assert r.nfe == kw["steps"]


def test_dpg_resets_state_per_call_and_is_seeded(prior, glyphs2):
    x, _ = glyphs2
    p = invlab.make_problem("sr4", x, sigma_y=0.05, seed=0)
    a = SOLVERS["dpg"](p, prior, steps=5, scale=20.0, beta_cfg=0.5, generator=g(3))
    SOLVERS["dpg"](invlab.make_problem("box_inpaint", x, sigma_y=0.05), prior, steps=5, beta_cfg=0.5, generator=g(1))
    b = SOLVERS["dpg"](p, prior, steps=5, scale=20.0, beta_cfg=0.5, generator=g(3))
    torch.testing.assert_close(a.x, b.x, rtol=0, atol=0)       # nothing leaks from the call in between
    assert (a.nfe, a.vjp) == (5, 5)


def test_dpg_chunks_bound_the_batch_through_the_operator(prior, glyphs2):
    x, _ = glyphs2
    p = invlab.make_problem("sr4", x, sigma_y=0.05, seed=0)
    seen = []
    op = p.op
    inner = op.forward if hasattr(op, "forward") else None

    class Spy:
        def __getattr__(self, k):
            return getattr(op, k)

        def __call__(self, v):
            seen.append(v.shape[0] if v.dim() == 5 else 0)
            return op(v)

    import dataclasses
    spied = dataclasses.replace(p, op=Spy())
    r = SOLVERS["dpg"](spied, prior, steps=2, n_samples=100, chunk=16, spectral=False, generator=g())
    assert inner is None or callable(inner)
    assert torch.isfinite(r.x).all()
    mc = [n for n in seen if n]
    assert max(mc) == 16 and sum(mc) == 2 * 100         # 100 samples per step, never more than 16 at once
    seen.clear()                                        # the row-space draw (SR×4 has an SVD view) needs no A
    r = SOLVERS["dpg"](spied, prior, steps=2, n_samples=100, chunk=16, generator=g())
    assert torch.isfinite(r.x).all() and not any(seen)


def _policy_sums(task, M=2000, **kw):
    """DPG's Σ_i (p_i − b_i) ξ_i (N = 8) for M copies of one x̂_0 and y, by the full and the row-space draw."""
    from invlab.solvers.dpg import _rewards, _rewards_spectral
    x, _ = invlab.glyphs(2, split="test", seed=1)
    p = invlab.make_problem(task, x[:1].expand(M, -1, -1, -1).clone(), seed=0, **kw)
    x0 = x[1:2].expand(M, -1, -1, -1).clone()
    res0 = p.y - p.op(x0)
    poisson = "rate" in kw
    E = (res0.abs() if poisson else res0 ** 2).flatten(1).sum(1)
    r = ((E / 1024) if poisson else (E / 1024).sqrt() / 2).clamp_min(0.05)
    return [f(p, x0, res0, r, 8, 3, E, E.clone(), poisson, g(2)).flatten(1) for f in (_rewards, _rewards_spectral)]


@pytest.mark.parametrize("task,kw", [("sr4", dict(sigma_y=0.0)), ("cs25", dict(sigma_y=0.0)),
                                     ("box_inpaint", dict(noise="poisson", rate=20.0))])
def test_dpg_row_space_draw_has_the_full_draws_distribution(task, kw):
    full, spec = _policy_sums(task, **kw)
    M = full.shape[0]
    se = ((full.var(0) + spec.var(0)) / M).sqrt()
    z = (full.mean(0) - spec.mean(0)) / se                       # per pixel, ~N(0, 1) if the means agree
    assert 0.72 < float(z.abs().mean()) < 0.88                   # E|N(0, 1)| = 0.80
    e_full, e_spec = (full ** 2).sum(1), (spec ** 2).sum(1)      # E‖Σ c_i ξ_i‖²: the null-space draw's share
    assert abs(float(e_full.mean() - e_spec.mean())) < 4 * float((e_full.var() / M + e_spec.var() / M).sqrt())
    assert not torch.equal(full, spec)                           # a different stream, not the same numbers


def test_dpg_row_space_draw_is_exact_where_the_row_space_is_everything():
    # per-image random masks: the union of supports is every pixel and V = I, so η is ξ, drawn in
    # the same order, and the closed-form residuals must reproduce the operator's to rounding
    full, spec = _policy_sums("random_inpaint", M=64, sigma_y=0.0)
    torch.testing.assert_close(spec, full, rtol=1e-4, atol=1e-5)


def test_dpg_solves_jpeg_without_its_gradient_and_dps_needs_straight_through(prior):
    x, _ = invlab.glyphs(2, split="test", seed=1)
    pj = invlab.make_problem("jpeg10", x, sigma_y=0.05, seed=0)
    r = SOLVERS["dpg"](pj, prior, steps=20, scale=20.0, n_samples=32, generator=g())
    assert torch.isfinite(r.x).all() and (r.nfe, r.vjp) == (20, 20)
    with pytest.raises(ValueError, match="straight_through=True, or use DPG"):
        SOLVERS["dps"](pj, prior, steps=2)
    pst = invlab.make_problem("jpeg10", x, sigma_y=0.05, seed=0, straight_through=True)
    assert torch.isfinite(SOLVERS["dps"](pst, prior, steps=2, zeta=2.0, generator=g()).x).all()


def test_poisson_solvers_and_gaussian_only_methods(prior, glyphs2):
    x, _ = glyphs2
    pp = invlab.make_problem("sr4", x, noise="poisson", rate=20.0, seed=0)
    for name, kw in [("dps", dict(zeta=0.3)), ("dpg", dict(scale=20.0))]:
        r = SOLVERS[name](pp, prior, steps=4, generator=g(), **kw)
        assert torch.isfinite(r.x).all()
    for name in ("ddrm", "ddnm", "pigdm"):
        with pytest.raises(ValueError, match="assumes Gaussian noise, this problem has Poisson noise"):
            SOLVERS[name](pp, prior, steps=2)
    with pytest.raises(ValueError, match="likelihood: the problem has Poisson noise"):
        SOLVERS["dpg"](pp, prior, steps=2, likelihood="gaussian")


def test_bad_input_is_named_before_work(prior, glyphs2):
    x, _ = glyphs2
    p = invlab.make_problem("sr4", x, sigma_y=0.05)
    small = invlab.make_problem("sr4", torch.zeros(1, 1, 16, 16), sigma_y=0.05)
    with pytest.raises(ValueError, match="sigma_y: must be >= 0"):
        invlab.make_problem("sr4", x, sigma_y=-0.1)
    for name in ("dps", "pigdm", "ddrm", "ddnm", "dpg"):
        with pytest.raises(ValueError, match="problem: the operator works on images of shape"):
            SOLVERS[name](small, prior)
        for steps in (0, 1001):
            with pytest.raises(ValueError, match="steps: must lie in"):
                SOLVERS[name](p, prior, steps=steps)
    for kw, match in [(dict(n_samples=1), "n_samples: must lie in"), (dict(sampler="euler"), "sampler: unknown"),
                      (dict(scale=0.0), "scale: must be > 0"), (dict(beta_cfg=1.5), "beta_cfg: must lie in"),
                      (dict(chunk=0), "chunk: must lie in")]:
        with pytest.raises(ValueError, match=match):
            SOLVERS["dpg"](p, prior, **kw)
    with pytest.raises(ValueError, match="spectral: needs a linear operator with an SVD view; motion_blur"):
        SOLVERS["dpg"](invlab.make_problem("motion_blur", x, sigma_y=0.05), prior, spectral=True)
    with pytest.raises(ValueError, match="spectral: expected None"):
        SOLVERS["dpg"](p, prior, spectral="yes")
    with pytest.raises(ValueError, match="eta: must lie in"):
        SOLVERS["ddrm"](p, prior, eta=1.5)
    with pytest.raises(TypeError, match="zeta_max: not a hyperparameter of dps"):
        SOLVERS["dps"](p, prior, zeta_max=1.0)


def test_repeat_and_scorecard(prior, glyphs2):
    x, labels = glyphs2
    p = invlab.make_problem("box_inpaint", x[:1], sigma_y=0.05, seed=0).repeat(3)
    assert p.batch_size == 3 and torch.equal(p.y[0], p.y[2])
    with pytest.raises(ValueError, match="problem: repeat needs one measurement"):
        invlab.make_problem("sr4", x).repeat(2)
    r = SOLVERS["pseudo_inverse"](p, prior)
    row = scorecard(p, r, labels[:1].expand(3))
    assert set(row) == {"psnr", "ssim", "accuracy", "residual", "nfe", "vjp", "seconds"}
    assert row["nfe"] == 0 and row["residual"] < 0.05           # y itself, up to clipping to [-1, 1]


def test_posterior_report_is_zero_for_exact_samples_and_large_for_the_prior():
    gmm = load_prior("gmm-grid", dim=8)
    A, y, sy, _ = linear_gaussian_problem(gmm, m=1, seed=0)
    post = gmm.posterior(A, y, sy)
    own = posterior_report(post.sample(2000, g(7)), post, generator=g(1))
    far = posterior_report(gmm.sample_exact(2000, g(7)), post, generator=g(1))
    assert own["sw"] < 1.0 and own["mean_error"] < 0.2 and own["weight_tv"] < 0.05
    assert far["sw"] > 5 * own["sw"] and far["weight_tv"] > 0.5
    with pytest.raises(ValueError, match="samples: expected dimension 8"):
        posterior_report(torch.zeros(10, 3), post)


GT_SETTINGS = {"dps": dict(steps=100, zeta=1.0), "pigdm": dict(steps=50), "ddrm": dict(steps=20),
               "ddnm": dict(steps=50, clamp=False),
               "dpg": dict(steps=100, sampler="ddim", scale=0.1, n_samples=64, r_min=0.0)}


@pytest.fixture(scope="module")
def gt80():
    gmm = load_prior("gmm-grid", dim=80)
    A, y, sy, x = linear_gaussian_problem(gmm, m=1, seed=0)
    post = gmm.posterior(A, y, sy)
    n = 300
    prob = linear_problem(A, x.expand(n, -1).clone(), sigma_y=sy, y=y.expand(n, -1).clone())
    prior_sw = posterior_report(gmm.sample_exact(n, g(3)), post, generator=g(1))["sw"]
    return gmm, prob, post, prior_sw


@pytest.mark.parametrize("name", list(GT_SETTINGS))
def test_solver_beats_the_prior_in_dimension_80(gt80, name):
    # problem seed 0, as in d = 8 (tests/test_solvers_gmm.py); benchmarks/gmm_posterior.py has
    # seeds 1-2 too, where DPS does worse than the prior on one d = 80 problem (reported there)
    gmm, prob, post, prior_sw = gt80
    r = SOLVERS[name](prob, gmm, generator=g(4), **GT_SETTINGS[name])
    assert torch.isfinite(r.x).all()
    assert posterior_report(r.x, post, generator=g(1))["sw"] < prior_sw


def test_peak_memory_sees_a_transient_allocation_on_the_cpu():
    from invlab.solvers.base import _PeakMemory
    with _PeakMemory(torch.device("cpu")) as mem:
        big = torch.ones(50_000_000, dtype=torch.float32)      # 200 MB, freed before the block ends
        del big
    assert mem.peak is not None and mem.peak > 150_000_000


def test_hrdis_callback_sees_the_bootstrap_target(prior, glyphs2):
    x, _ = glyphs2
    p = invlab.make_problem("box_inpaint", x, seed=0)
    seen = []
    SOLVERS["hrdis"](p, prior, steps=5, generator=g(), callback=lambda i, t, mu, x0: seen.append((t, x0)))
    assert [t for t, _ in seen] == [800, 600, 400, 200, 0]
    assert all(x0.shape == x.shape and torch.isfinite(x0).all() for _, x0 in seen)


def test_regularisation_starts_phase_retrieval_from_the_measured_magnitudes(prior, glyphs2):
    """No pseudo-inverse: µ starts, as in the HRDIS code, from |F⁻¹ y| with zero phase, cropped to the image —
    which depends on y only, so the glyph turned by 180° with its sign flipped (the same magnitudes) starts the same."""
    from invlab.solvers.regularization import starting_image
    x, _ = glyphs2
    p = invlab.make_problem("phase_retrieval", x, sigma_y=0.0, seed=0)
    start = starting_image(p)
    assert start.shape == x.shape and bool((start >= 0).all())
    shifted = invlab.make_problem("phase_retrieval", -torch.flip(x, dims=(-2, -1)), sigma_y=0.0, seed=0)
    torch.testing.assert_close(shifted.y, p.y, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(starting_image(shifted), start, rtol=1e-4, atol=1e-4)
    for name in ("hrdis", "red_diff"):                             # x_init is no longer needed
        r = SOLVERS[name](p, prior, steps=3, generator=g())
        assert r.x.shape == x.shape and bool(torch.isfinite(r.x).all())


def test_regularisation_data_terms_for_poisson_and_speckle():
    from invlab.solvers.regularization import _data_loss
    x = invlab.glyphs(2, split="test")[0]
    for kw in (dict(noise="poisson", rate=20.0), dict(noise="speckle", looks=10.0)):
        p = invlab.make_problem("sr4", x, seed=0, **kw)
        mu = p.op.pinv(p.y).clone().requires_grad_(True)
        loss = _data_loss(p, mu)
        assert loss.shape == (2,) and bool(torch.isfinite(loss).all())
        (g,) = torch.autograd.grad(loss.sum(), mu)
        assert bool(torch.isfinite(g).all())
        # on the Gaussian term's scale: equal to ½ mean((y − Aµ)²) when the residual is uniform
        flat = p.op(mu).detach() + 0.1
        q = dataclasses.replace(p, y=flat)
        torch.testing.assert_close(_data_loss(q, mu), torch.full((2,), 0.005), atol=1e-6, rtol=1e-5)
