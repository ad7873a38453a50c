"""DDC: the measurement map, the sampler's algebra, the KL term, the training script and bad input."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import invlab
from invlab.ddc import (GENERAL_TASKS, DDCNetwork, ddc_loss, kl_to_forward_marginal, load_ddc,
                        measurement_image)
from invlab.diffusion.priors import ddpm_posterior
from invlab.solvers import SOLVERS
from invlab.solvers.learned import ddc_grid

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def prior():
    return invlab.load_prior("glyphs32")


def _tiny_net(tasks=None, zero=True):
    from diffusers import UNet2DModel
    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=32, in_channels=2, out_channels=1, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       layers_per_block=1, norm_num_groups=4)
    if zero:
        with torch.no_grad():
            unet.conv_out.weight.zero_()
            unet.conv_out.bias.zero_()
    return DDCNetwork(unet, GENERAL_TASKS if tasks is None else tasks, name="tiny")


class _Oracle(DDCNetwork):
    """Δ = x̂_0 − x_true: the perfect correction, so DDC must return the ground truth."""

    def __init__(self, x_true):
        super().__init__(_tiny_net().unet, GENERAL_TASKS, name="oracle")
        self.x_true = x_true

    def residual(self, x0_hat, y_image, t):
        return x0_hat - self.x_true


def _problem(task="sr4", n=2, sigma_y=0.05, **params):
    params = {**GENERAL_TASKS.get(task, {}), **params}
    return invlab.make_problem(task, invlab.glyphs(n, split="test")[0], sigma_y=sigma_y, seed=1, **params)


def test_measurement_image_replicates_low_resolution_pixels_and_keeps_image_sized_y():
    p = _problem("sr4")
    y_img = measurement_image(p)
    assert y_img.shape == p.x.shape
    torch.testing.assert_close(y_img[:, :, ::4, ::4], p.y)
    torch.testing.assert_close(y_img[:, :, 3::4, 1::4], p.y)
    q = _problem("random_inpaint")
    assert measurement_image(q) is q.y
    with pytest.raises(ValueError, match="problem: DDC needs a measurement"):
        measurement_image(invlab.make_problem("cs10", invlab.glyphs(1)[0]))


def test_grid_is_the_papers_five_steps():
    assert ddc_grid(5) == [800, 600, 400, 200, 0]
    assert ddc_grid(1) == [800] and ddc_grid(2) == [800, 0]


def test_zero_correction_is_plain_respaced_ddpm(prior):
    p = _problem("sr4")
    res = SOLVERS["ddc"](p, prior, network=_tiny_net(), generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    x = torch.randn((2, 1, 32, 32), generator=g)
    grid = [800, 600, 400, 200, 0]
    with torch.no_grad():
        for i, t in enumerate(grid):
            x0 = prior.x0(x, t, clamp=False)
            if i == len(grid) - 1:
                x = x0
            else:
                mean, var = ddpm_posterior(prior.schedule, x0, x, t, grid[i + 1])
                x = mean + var.sqrt() * torch.randn(x.shape, generator=g)
    torch.testing.assert_close(res.x, x)
    assert res.nfe == 10 and res.vjp == 0 and res.info["ddc_calls"] == 5 and len(res.trajectory) == 5


@pytest.mark.parametrize("steps", [1, 5, 10])
def test_a_perfect_correction_returns_the_truth(prior, steps):
    p = _problem("gaussian_blur")
    res = SOLVERS["ddc"](p, prior, network=_Oracle(p.x), steps=steps, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(res.x, p.x)
    assert res.nfe == 2 * steps


def test_kl_vanishes_exactly_on_the_forward_marginal_statistics():
    a_prev = torch.tensor([0.3, 0.9])
    x0 = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    r = torch.randn(2, 64, generator=torch.Generator().manual_seed(1))
    r = (r - r.mean(1, keepdim=True)) / r.std(1, keepdim=True)               # mean 0, variance 1 exactly
    r = r * (1 - a_prev).sqrt()[:, None]
    x_prev = a_prev.sqrt().view(-1, 1, 1, 1) * x0 + r.view(2, 1, 8, 8)
    torch.testing.assert_close(kl_to_forward_marginal(x_prev, x0, a_prev), torch.zeros(2), atol=1e-5, rtol=0)
    kl = kl_to_forward_marginal(x_prev + 0.5, x0, a_prev)                     # a shifted mean costs m²/2s²
    torch.testing.assert_close(kl, 0.5 * 0.25 / (1 - a_prev), atol=1e-4, rtol=1e-4)


def test_loss_trains_only_the_network_and_skips_kl_at_t0(prior):
    net = _tiny_net(zero=False)
    x0 = invlab.glyphs(4)[0]
    g = torch.Generator().manual_seed(0)
    terms = ddc_loss(net, prior, x0, "sr4", 0.05, g, t=torch.tensor([0, 0, 0, 0]))
    assert float(terms["kl"]) == 0.0 and set(terms) == {"mse", "kl", "loss"}
    terms = ddc_loss(net, prior, x0, "random_inpaint", 0.05, g, t=torch.tensor([0, 10, 500, 999]))
    kl = float(terms["kl"].detach())
    assert math.isfinite(kl) and kl > 0
    terms["loss"].backward()
    assert all(p.grad is not None for p in net.unet.parameters())
    assert all(p.grad is None for p in prior.unet.parameters())


def test_bad_input_names_the_argument(prior):
    p = _problem("sr4")
    ddc = SOLVERS["ddc"]
    with pytest.raises(ValueError, match="network: no shipped DDC network was trained for 'box_inpaint'"):
        ddc(_problem("box_inpaint"), prior)                       # no network given, none shipped for the task
    r = ddc(p, prior, steps=1, generator=0)                       # none given: the first shipped one for sr4
    assert r.info["ddc_calls"] == 1 and r.nfe == 2
    only_sr4 = _tiny_net({"sr4": {"factor": 4}})
    with pytest.raises(ValueError, match=r"not trained for task 'gaussian_blur'; it was trained for: sr4"):
        ddc(_problem("gaussian_blur"), prior, network=only_sr4)
    ddc(_problem("gaussian_blur"), prior, network=only_sr4, allow_untrained=True)
    with pytest.raises(ValueError, match=r"trained on random_inpaint with \{'p': 0.92\}, the problem has"):
        ddc(_problem("random_inpaint", p=0.5), prior, network=_tiny_net())
    with pytest.raises(ValueError, match="problem: DDC needs a measurement"):
        ddc(invlab.make_problem("cs10", invlab.glyphs(1)[0]), prior, network=_tiny_net(), allow_untrained=True)
    with pytest.raises(ValueError, match="steps"):
        ddc(p, prior, network=_tiny_net(), steps=0)
    with pytest.raises(ValueError, match="steps: 12 distinct times"):
        ddc(p, prior, network=_tiny_net(), steps=12, t_start=10)
    with pytest.raises(ValueError, match="name: 'nope' is neither a shipped DDC network"):
        load_ddc("nope")


def test_training_script_logs_every_term_and_resumes(tmp_path):
    out, ckpt = tmp_path / "net", tmp_path / "state.safetensors"
    cmd = [sys.executable, str(ROOT / "data_scripts" / "train_ddc.py"), "--name", "tiny", "--tasks", "sr4,denoise",
           "--width", "8", "--batch-size", "4", "--threads", "1", "--out", str(out), "--ckpt", str(ckpt)]
    subprocess.run(cmd + ["--steps", "50"], check=True, capture_output=True, text=True)
    run = subprocess.run(cmd + ["--steps", "100"], check=True, capture_output=True, text=True)
    assert "LPIPS term absent" in run.stdout or "lpips" not in run.stdout
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [50, 100] and {"mse", "kl", "loss"} <= set(log[0])
    net = load_ddc(str(out))
    assert list(net.tasks) == ["sr4", "denoise"] and net.info["step"] == 100
    assert net.info["lpips"] in (True, False)


def test_shipped_networks_load_with_their_task_sets():
    general, special = load_ddc("glyphs32-ddc"), load_ddc("glyphs32-ddc-sr4")
    assert general.tasks == GENERAL_TASKS and list(special.tasks) == ["sr4"]
    assert general.image_shape == (1, 32, 32) and next(general.unet.parameters()).dtype == torch.float32
    assert general.sigma_range == (0.0, 0.1) and general.info["lpips"] in (True, False)
    size = sum(f.stat().st_size for n in ("glyphs32-ddc", "glyphs32-ddc-sr4")
               for f in (invlab.diffusion.weights_dir(n)).glob("*.safetensors"))
    assert size < 6e6


def test_network_by_name_is_loaded_and_counted(prior):
    res = SOLVERS["ddc"](_problem("sr4"), prior, network="glyphs32-ddc", generator=torch.Generator().manual_seed(0))
    assert res.nfe == 10 and res.info["ddc_calls"] == 5
