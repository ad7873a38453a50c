"""Consistency models: the parameterisations, the hub layout, distillation and DCDP's CM purifier."""
from __future__ import annotations

import pytest
import torch

import invlab
from invlab.diffusion import ConsistencyModel, karras_sigmas, load_consistency_model, load_prior
from invlab.diffusion.consistency import heun_step
from invlab.solvers import SOLVERS


def _tiny_unet(seed=0, channels=1, size=16):
    from diffusers import UNet2DModel
    torch.manual_seed(seed)
    return UNet2DModel(sample_size=size, in_channels=channels, out_channels=channels, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       layers_per_block=1, norm_num_groups=4)


def test_karras_grid_and_heun_step_is_exact_for_a_point_mass():
    s = karras_sigmas(18)
    assert s[0] == pytest.approx(0.002) and s[-1] == pytest.approx(80.0) and bool((s.diff() > 0).all())
    # data at 0: D ≡ 0, the ODE dx/dσ = x/σ has x(σ') = x σ'/σ, which Heun integrates exactly
    x = torch.randn(4, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    hi, lo = torch.full((4,), 7.0, dtype=torch.float64), torch.full((4,), 2.0, dtype=torch.float64)
    out = heun_step(lambda x, s: torch.zeros_like(x), x, hi, lo)
    torch.testing.assert_close(out, x * 2 / 7)


@pytest.mark.parametrize("param", ["vp-eps", "vp-scaled", "edm"])
def test_boundary_condition_and_range(param):
    cm = ConsistencyModel(_tiny_unet(), parameterization=param, clamp=False)
    x = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(cm(x, cm.sigma_min), x)                    # f(x, σ_min) = x
        assert cm(x, 80.0).shape == x.shape
    with pytest.raises(ValueError, match="sigma: must lie in"):
        cm(x, 100.0)
    with pytest.raises(ValueError, match="x: the consistency model expects shape"):
        cm(torch.zeros(2, 3, 16, 16), 1.0)
    with pytest.raises(ValueError, match="parameterization: unknown value"):
        ConsistencyModel(_tiny_unet(), parameterization="ve")


def test_vp_eps_network_is_the_teachers_tweedie_denoiser():
    prior = load_prior("glyphs32")
    cm = ConsistencyModel(prior.unet, schedule=prior.schedule)
    t = torch.tensor([0, 137, 600, 999])
    torch.testing.assert_close(cm.vp_time(prior.schedule.sigma_ve(t)), t.float(), atol=1e-3, rtol=0)
    x0 = invlab.glyphs(4)[0]
    xt = prior.schedule.noise(x0, t, torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        edm = xt / prior.schedule.ab(t, xt).sqrt()                       # x_t/√ᾱ_t = x_0 + σ_t ε
        torch.testing.assert_close(cm.network(edm, prior.schedule.sigma_ve(t)), prior.x0(xt, t, clamp=False),
                                   atol=2e-4, rtol=1e-4)


def test_hub_consistency_pipeline_loads_offline_and_matches_diffusers(tmp_path):
    from diffusers import CMStochasticIterativeScheduler, ConsistencyModelPipeline
    unet, sched = _tiny_unet(channels=3), CMStochasticIterativeScheduler()
    unet.save_pretrained(tmp_path / "unet", safe_serialization=True)
    sched.save_pretrained(tmp_path / "scheduler")
    cm = load_prior(str(tmp_path))
    assert isinstance(cm, ConsistencyModel) and cm.parameterization == "edm" and cm.image_shape == (3, 16, 16)
    z = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    ref = ConsistencyModelPipeline(unet=unet.eval(), scheduler=sched)(batch_size=2, num_inference_steps=1,
                                                                      latents=z.clone(), output_type="pt").images
    with torch.no_grad():
        ours = cm(cm.sigma_max * z, cm.sigma_max)
    ref = torch.as_tensor(ref)
    ref = ref.permute(0, 3, 1, 2) if ref.shape[-1] == 3 else ref
    torch.testing.assert_close((ours / 2 + 0.5).clamp(0, 1), ref, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="path: .* is not a consistency-model folder"):
        load_consistency_model(tmp_path / "unet")


def test_distillation_resumes_exactly(tmp_path, assert_resumes_exactly):
    from invlab.training import train_consistency_distillation

    def run(steps, ckpt):
        teacher = ConsistencyModel(_tiny_unet(seed=0))
        student = ConsistencyModel(_tiny_unet(seed=0))
        data = lambda step, b: torch.rand(b, 1, 16, 16, generator=torch.Generator().manual_seed(step)) * 2 - 1  # noqa: E731
        st = train_consistency_distillation(student, teacher, data, steps=steps, batch_size=4, lr=1e-3,
                                            ckpt_path=str(ckpt), log_path=str(tmp_path / "log.jsonl"), save_every=2)
        return {k: v.clone() for k, v in st.model.state_dict().items()}

    assert_resumes_exactly(run)


def test_trajectory_point_recovers_the_runs_states_and_its_ddim_step():
    from invlab.diffusion.priors import ddim_step
    from invlab.training import ddim_trajectories, trajectory_point
    prior = load_prior("glyphs32")
    ts, xs, x0 = ddim_trajectories(prior, 3, 5, generator=torch.Generator().manual_seed(0))
    assert ts.tolist() == [800, 600, 400, 200, 0] and xs.shape == (3, 5, 1, 32, 32)
    torch.testing.assert_close(x0, prior.sample(3, 5, generator=torch.Generator().manual_seed(0)))
    for k in range(5):                                   # at the grid times: the stored states
        torch.testing.assert_close(trajectory_point(prior.schedule, ts, xs, ts[k].repeat(3)), xs[:, k],
                                   atol=1e-5, rtol=0)
    # in between: the run's own DDIM step from t_k, stopped at t
    eps, x0_hat = prior.eps_and_x0(xs[:, 1], 600)
    with torch.no_grad():
        direct = ddim_step(prior.schedule, x0_hat, eps, 600, 517)
    torch.testing.assert_close(trajectory_point(prior.schedule, ts, xs, torch.full((3,), 517)), direct,
                               atol=1e-5, rtol=0)


def test_endpoint_distillation_fits_fixed_targets_and_resumes_exactly(tmp_path, assert_resumes_exactly):
    from invlab.training import train_endpoint_distillation
    x = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 3
    target = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    sigma = torch.full((4,), 3.0, dtype=torch.float64)

    def run(steps, ckpt, lr=1e-3):
        student = ConsistencyModel(_tiny_unet(seed=0))
        st = train_endpoint_distillation(student, lambda step, b: (x, sigma, target), steps=steps, batch_size=4,
                                         lr=lr, ckpt_path=str(ckpt), log_path=str(tmp_path / "log.jsonl"),
                                         save_every=2, warmup=1)
        return {k: v.clone() for k, v in st.model.state_dict().items()}, student

    assert_resumes_exactly(lambda steps, ckpt: run(steps, ckpt)[0])
    before = ConsistencyModel(_tiny_unet(seed=0))
    _, student = run(60, tmp_path / "c.safetensors", lr=3e-3)
    with torch.no_grad():
        err0 = float((before(x, sigma, clamp=False) - target).pow(2).mean())
        err1 = float((student(x, sigma, clamp=False) - target).pow(2).mean())
    assert err1 < 0.5 * err0                             # the regression moves f towards the end points


def test_dcdp_consistency_purifier_costs_one_pass_per_round():
    prior = load_prior("glyphs32")
    cm = ConsistencyModel(prior.unet, schedule=prior.schedule, name="untrained")   # the teacher as f: enough here
    prob = invlab.make_problem("sr4", invlab.glyphs(2)[0], sigma_y=0.0)
    res = SOLVERS["dcdp"](prob, prior, rounds=4, dc_steps=5, purifier="consistency", consistency_model=cm,
                          generator=torch.Generator().manual_seed(0))
    assert res.nfe == 4 and res.vjp == 0 and res.x.shape == prob.x.shape
    with pytest.raises(ValueError, match="consistency_model: its images are"):
        SOLVERS["dcdp"](prob, prior, purifier="consistency", consistency_model=ConsistencyModel(_tiny_unet()))


def test_shipped_glyph_consistency_model():
    from invlab.diffusion import weights_dir
    folder = weights_dir("glyphs32-cm")
    size = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    assert size <= 10 * 2 ** 20
    cm = load_prior("glyphs32-cm")
    assert isinstance(cm, ConsistencyModel) and cm.parameterization == "vp-scaled" and cm.image_shape == (1, 32, 32)
    assert next(cm.unet.parameters()).dtype == torch.float32          # stored in float16, run in float32
    x = cm.sample(4, generator=torch.Generator().manual_seed(0))
    assert x.shape == (4, 1, 32, 32) and float(x.abs().max()) <= 1.0
    torch.testing.assert_close(x, cm.sample(4, generator=torch.Generator().manual_seed(0)))
    # on the CPU the network runs channels-last, like the glyph prior: the same function up to rounding
    assert cm.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    plain = load_prior("glyphs32-cm")
    plain.unet.to(memory_format=torch.contiguous_format)
    plain._channels_last = False
    xn = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(cm(xn, 0.5), plain(xn, 0.5), atol=1e-4, rtol=1e-4)
