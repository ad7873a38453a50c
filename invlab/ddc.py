"""Learned data consistency — the DDC network Δ_φ of [DDC] (notebook 07).

Guidance (DPS), projection (DDNM) and decoupled methods (DDS, DCDP) all end a step with the same
move: take the denoiser's estimate x̂_0 and subtract a correction that pulls it toward the data,
x̂_{0,y} = x̂_0 − Δ. DDC *learns* Δ: a small UNet reads x̂_0, the measurement brought to image size
ỹ, and the time t, and is trained with a variational bound (MSE + LPIPS + KL to the forward
marginal) so that a handful of reverse steps suffice.

This module holds the network wrapper (:class:`DDCNetwork`), the measurement-to-image map used in
training *and* sampling (:func:`measurement_image`), the training loss (:func:`ddc_loss`, with its
KL term :func:`kl_to_forward_marginal`) and the loader of the shipped networks (:func:`load_ddc`).
The sampler is :func:`invlab.solvers.ddc`.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from .rng import randn

__all__ = ["DDCNetwork", "DDC_CONFIG", "GENERAL_TASKS", "ddc_unet_config", "measurement_image",
           "kl_to_forward_marginal", "ddc_loss", "load_ddc", "task_problem", "recording_eps"]

DDC_CONFIG = "ddc.json"

# The task set of the generalised network, with the parameters it was trained on. The paper uses
# SR×4 and SR×8 on 256-px faces (64- and 32-px inputs); on 32-px glyphs ×8 would leave a 4×4
# thumbnail, so the pair here is ×2 and ×4 (16- and 8-px inputs). 92 % random inpainting and
# JPEG-10 are the paper's; the blur is the course's gaussian_blur (std 1 px, see problems.py).
GENERAL_TASKS: dict[str, dict] = {
    "sr2": {"factor": 2},
    "sr4": {"factor": 4},
    "gaussian_blur": {"std": 1.0},
    "random_inpaint": {"p": 0.92},
    "jpeg10": {"quality": 10, "straight_through": False},
    "denoise": {},
}


def ddc_unet_config(width: int = 16) -> dict:
    """UNet2DModel configuration of the DDC network (1.1 M parameters at width 16): 2 input channels
    (x̂_0 and ỹ), 1 output (Δ), four levels (32 → 16 → 8 → 4 px, attention at 8×8, so 92 %-missing
    inpainting sees the whole glyph), sinusoidal time embedding. Width 16 at full resolution keeps
    a training step (batch 32, frozen prior included) near 0.5 s on one CPU core."""
    return dict(sample_size=32, in_channels=2, out_channels=1,
                block_out_channels=(width, 2 * width, 4 * width, 4 * width),
                down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
                layers_per_block=1, norm_num_groups=8)


def measurement_image(problem) -> torch.Tensor:
    """ỹ: the measurement brought to image size, the same map in training and sampling
    (as in [DDC]'s code): super-resolution by pixel replication, every other task's y as it is (masks
    leave 0 in the holes; blurs, JPEG and denoising already live on the image grid)."""
    y, shape = problem.y, tuple(problem.op.input_shape)
    if tuple(y.shape[1:]) == shape:
        return y
    if problem.task.startswith("sr") and y.ndim == 4 and y.shape[1] == shape[0]:
        f = shape[-1] // y.shape[-1]
        if f * y.shape[-1] == shape[-1] and f * y.shape[-2] == shape[-2]:
            return y.repeat_interleave(f, -2).repeat_interleave(f, -1)
    raise ValueError(f"problem: DDC needs a measurement it can bring to the image size {shape} (an image, "
                     f"or a low-resolution image for SR); task {problem.task!r} measures "
                     f"{tuple(y.shape[1:])}")


class DDCNetwork:
    """Δ_φ(x̂_0, ỹ, t): a diffusers ``UNet2DModel`` with 2 input channels, plus what it was trained on.

    Args:
        unet: the network (in_channels = 2 × image channels, out_channels = image channels).
        tasks: ``{task: parameters}`` it was trained on (e.g. :data:`GENERAL_TASKS`).
        sigma_range: the σ_y range of training ([−1, 1] units).
        name: a label for tables.
        info: anything else from the training run (steps, whether LPIPS was used, ...).
    """

    counted_methods = ("residual",)    # one pass per correction (solvers are charged for it)

    def __init__(self, unet, tasks: dict[str, dict], sigma_range=(0.0, 0.1), name: str = "ddc",
                 info: dict | None = None):
        self.unet = unet
        self.tasks = {k: dict(v) for k, v in tasks.items()}
        self.sigma_range = tuple(float(s) for s in sigma_range)
        self.name = name
        self.info = dict(info or {})
        c = int(unet.config.in_channels) // 2
        self.image_shape = (c, int(unet.config.sample_size), int(unet.config.sample_size))

    def residual(self, x0_hat: torch.Tensor, y_image: torch.Tensor, t) -> torch.Tensor:
        """Δ = Δ_φ(x̂_0, ỹ, t), the correction subtracted from x̂_0."""
        p = next(self.unet.parameters())
        t = torch.as_tensor(t, device=p.device).long().expand(x0_hat.shape[0])
        inp = torch.cat([x0_hat, y_image], 1).to(p.dtype)
        return self.unet(inp, t).sample.to(x0_hat.dtype)

    def __call__(self, x0_hat, y_image, t):
        return self.residual(x0_hat, y_image, t)

    def check_problem(self, problem, allow_untrained: bool = False) -> None:
        """A clear error when the network never saw this task (or these task parameters)."""
        if tuple(problem.op.input_shape) != self.image_shape:
            raise ValueError(f"problem: the DDC network {self.name!r} works on {self.image_shape} images, the "
                             f"problem's are {tuple(problem.op.input_shape)}")
        if allow_untrained:
            return
        trained = ", ".join(f"{k} {v}" if v else k for k, v in self.tasks.items())
        if problem.task not in self.tasks:
            raise ValueError(f"problem: the DDC network {self.name!r} was not trained for task "
                             f"{problem.task!r}; it was trained for: {trained}. Pass allow_untrained=True "
                             "to run it anyway")
        want = self.tasks[problem.task]
        differ = {k: problem.params.get(k) for k, v in want.items() if problem.params.get(k) != v}
        if differ:
            raise ValueError(f"problem: the DDC network {self.name!r} was trained on {problem.task} with "
                             f"{want}, the problem has {differ}. Pass allow_untrained=True to run it anyway")

    def to(self, device=None, dtype=None) -> "DDCNetwork":
        self.unet.to(device=device, dtype=dtype)
        return self

    def __repr__(self):
        n = sum(p.numel() for p in self.unet.parameters())
        return f"DDCNetwork({self.name!r}, {n / 1e6:.2f} M parameters, tasks={list(self.tasks)})"


def kl_to_forward_marginal(x_prev: torch.Tensor, x0: torch.Tensor, a_prev: torch.Tensor) -> torch.Tensor:
    """The KL term of [DDC, eq. 12] per sample, as the authors' code computes it:
    R = x_{t−1} − √ᾱ_{t−1} x_0 should be N(0, (1−ᾱ_{t−1}) I) if x_{t−1} followed the forward
    marginal q(x_{t−1}|x_0); with m, v the mean and variance of R over its pixels,
    KL = ½[−log v + log(1−ᾱ_{t−1}) + (v + m²)/(1−ᾱ_{t−1}) − 1]. ``a_prev`` = ᾱ_{t−1} < 1 per sample."""
    a_prev = a_prev.reshape(-1).to(x0)
    r = (x_prev - a_prev.sqrt().view(-1, *([1] * (x0.ndim - 1))) * x0).flatten(1)
    m, v = r.mean(1), r.var(1).clamp_min(1e-12)
    s2 = 1 - a_prev
    return 0.5 * (-v.log() + s2.log() + (v + m ** 2) / s2 - 1)


def task_problem(task: str, x0: torch.Tensor, sigma_y: float, generator: torch.Generator, tasks=None):
    """The problem of one training batch: ``task`` with its trained parameters, noise σ_y."""
    from .problems import make_problem
    params = dict((GENERAL_TASKS if tasks is None else tasks)[task])
    return make_problem(task, x0, sigma_y=sigma_y, generator=generator, **params)


def ddc_loss(network: DDCNetwork, prior, x0: torch.Tensor, task: str, sigma_y: float, generator: torch.Generator,
             *, weights=(1.0, 0.1, 1e-3), lpips_fn=None, t: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """One batch of the DDC objective ([DDC, eq. 12; Alg. 2]): y = A(x_0) + σ_y n for ``task``; t ~ U{0..T−1};
    x_t; x̂_0 from the frozen ``prior`` (unclamped); x̂_{0,y} = x̂_0 − Δ_φ(x̂_0, ỹ, t);

        loss = λ1 MSE(x̂_{0,y}, x_0) + λ2 LPIPS(x̂_{0,y}, x_0) + λ3 KL,

    KL from :func:`kl_to_forward_marginal` on the one-step reverse sample x_{t−1} built from
    x̂_{0,y} (rows with t = 0, where ᾱ_{−1} = 1 and the log would be −∞, are left out). The LPIPS
    term is used only when ``lpips_fn`` is given. Returns the terms and the total under "loss"."""
    from .diffusion.priors import ddpm_posterior
    problem = task_problem(task, x0, sigma_y, generator, network.tasks)
    y_img = measurement_image(problem)
    sched = prior.schedule
    if t is None:
        t = torch.randint(0, prior.T, (x0.shape[0],), generator=generator)
    t = t.to(x0.device)
    x_t = sched.noise(x0, t, randn(x0.shape, generator, like=x0))
    with torch.no_grad():
        x0_hat = prior.x0(x_t, t, clamp=False)
    x0y = x0_hat - network.residual(x0_hat, y_img, t)
    terms = {"mse": F.mse_loss(x0y, x0)}
    if lpips_fn is not None:
        terms["lpips"] = lpips_fn(x0y, x0).mean()
    mean, var = ddpm_posterior(sched, x0y, x_t, t, t - 1)
    x_prev = mean + var.sqrt() * randn(x0.shape, generator, like=x0)
    keep = t >= 1
    if bool(keep.any()):
        terms["kl"] = kl_to_forward_marginal(x_prev[keep], x0[keep], sched.ab(t[keep] - 1).to(x0)).mean()
    else:
        terms["kl"] = x0.new_zeros(())
    lam = dict(zip(("mse", "lpips", "kl"), weights))
    terms["loss"] = sum(lam[k] * v for k, v in terms.items())
    return terms


def load_ddc(name: str = "glyphs32-ddc", *, device=None, dtype=None) -> DDCNetwork:
    """Load a DDC network: a shipped name (``"glyphs32-ddc"``, the generalised network;
    ``"glyphs32-ddc-sr4"``, the specialised SR×4 one) or a folder written by
    ``data_scripts/train_ddc.py`` (``config.json`` + safetensors + ``ddc.json``)."""
    from diffusers import UNet2DModel

    from ._checks import check_device, check_dtype
    from .weights_manifest import WeightsError, from_pretrained, read_json, weights_dir
    device = check_device("device", device, allow_none=True)
    dtype = check_dtype("dtype", dtype, allow_none=True)
    shipped = ("glyphs32-ddc", "glyphs32-ddc-sr4")
    path = Path(weights_dir(name)) if name in shipped else Path(os.path.expanduser(str(name)))
    if not (path / DDC_CONFIG).exists():
        if name in shipped:
            raise FileNotFoundError(f"name: the shipped {name} weights are missing from {path}; "
                                    "train them with data_scripts/train_ddc.py")
        raise ValueError(f"name: {name!r} is neither a shipped DDC network {list(shipped)} nor a folder with "
                         f"{DDC_CONFIG}")
    meta = read_json(path / DDC_CONFIG)
    if not isinstance(meta.get("tasks"), dict):
        raise WeightsError(f"{path / DDC_CONFIG}: expected a 'tasks' mapping (task name -> settings)")
    unet = from_pretrained(UNet2DModel, path, use_safetensors=True, low_cpu_mem_usage=False)
    unet = unet.float().eval().requires_grad_(False)
    net = DDCNetwork(unet, meta["tasks"], meta.get("sigma_range", (0.0, 0.1)), name=meta.get("name", path.name),
                     info=meta)
    return net.to(device=device, dtype=dtype)



def recording_eps(prior, fn=None):
    """A shallow copy of ``prior`` that records ``(t, fn(ε̂))`` for every ``eps`` call (default
    ``fn``: the mean excess kurtosis of ε̂ over the batch — notebook 07's Gaussianity check).
    Returns ``(view, records)``; pass ``view`` to any solver."""
    import copy

    from .metrics import excess_kurtosis
    fn = fn or (lambda e: float(excess_kurtosis(e.detach()).mean()))
    view, inner, records = copy.copy(prior), prior.eps, []

    def eps(x_t, t):
        out = inner(x_t, t)
        records.append((int(torch.as_tensor(t).reshape(-1)[0]), fn(out)))
        return out

    view.eps = eps
    return view, records
