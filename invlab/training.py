"""Training loops the ``data_scripts/`` call: seeded, checkpointed, resumable.

A training run may be stopped at any moment, so every loop here

* draws its data and noise from generators seeded by ``(seed, step)``: a resumed run sees
  exactly the batches an uninterrupted run would have seen;
* writes a full checkpoint (model, EMA, optimiser moments, step) as safetensors — never pickle —
  every ``save_every`` steps, when its time budget runs out, and on SIGTERM/SIGINT;
* appends its losses to a JSON-lines log that ships with the weights (notebooks plot it).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

__all__ = ["EMA", "TrainState", "save_train_state", "load_train_state", "step_generator",
           "train_eps_model", "train_consistency_distillation", "ddim_trajectories", "trajectory_point",
           "train_endpoint_distillation", "export_glyph_consistency_model", "train_ddc", "train_autoencoder",
           "glyph_unet_config", "linear_alpha_bar"]


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator for one training step: the same numbers whenever that step is run."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 7 + stream)


def linear_alpha_bar(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """ᾱ_t of the papers' linear schedule (β from 1e-4 to 0.02 over T = 1000, as in [DDPM]), float64."""
    betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0)


def glyph_unet_config() -> dict:
    """The UNet2DModel configuration of the shipped ``glyphs32`` prior (1.8 M parameters).

    Sixteen channels at full resolution keep a DDIM step on 64 glyphs near 0.1 s on two CPU
    cores; attention sits at 8×8 and 4×4 where it is cheap.
    """
    return dict(sample_size=32, in_channels=1, out_channels=1, block_out_channels=(16, 32, 64, 96),
                down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
                up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
                layers_per_block=1, norm_num_groups=8)


class EMA:
    """Exponential moving average of parameters with the usual warm-up (decay ≤ (1+n)/(10+n))."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.999):
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for k, v in model.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach().float(), alpha=1 - d)
            else:
                self.shadow[k].copy_(v)

    def copy_to(self, model: torch.nn.Module) -> None:
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in self.shadow.items()})


@dataclass
class TrainState:
    step: int
    model: torch.nn.Module
    ema: EMA
    opt: torch.optim.Optimizer


def save_train_state(path: str, state: TrainState, extra: dict[str, torch.nn.Module] | None = None) -> None:
    """Write model, EMA, AdamW moments (and any ``extra`` modules, e.g. a distillation target) to
    one safetensors file (atomic rename)."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in state.model.state_dict().items()}
    for name, module in (extra or {}).items():
        tensors.update({f"{name}.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()})
    tensors.update({f"ema.{k}": v.cpu().contiguous() for k, v in state.ema.shadow.items()})
    names = [n for n, _ in state.model.named_parameters()]
    params = [p for _, p in state.model.named_parameters()]
    for n, p in zip(names, params):
        st = state.opt.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in st:
                tensors[f"opt.{key}.{n}"] = st[key].detach().cpu().contiguous()
        if "step" in st:
            tensors[f"opt.step.{n}"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1)
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata={"step": str(state.step)})
    os.replace(tmp, path)


def load_train_state(path: str, state: TrainState, extra: dict[str, torch.nn.Module] | None = None) -> int:
    """Restore a checkpoint written by :func:`save_train_state`; returns the step.

    Raises:
        WeightsError: the file is truncated or corrupted (unreadable, no step, NaN/Inf tensors) or
            was written for another network; the message names the file.
    """
    from .weights_manifest import WeightsError, check_finite, read_safetensors
    fix = "delete it to train from step 0, or pass another checkpoint path"
    try:
        t, meta = read_safetensors(path, "training checkpoint")
    except WeightsError as e:
        raise WeightsError(f"{e}; {fix}") from None
    try:
        step = int(meta["step"])
    except (KeyError, ValueError):
        raise WeightsError(f"{path}: this training checkpoint has no valid 'step' in its metadata "
                           f"(got {meta.get('step')!r}); {fix}") from None
    check_finite(t, f"{path} (training checkpoint)", fix)
    ema = {k[4:]: v for k, v in t.items() if k.startswith("ema.")}
    try:
        state.model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
        for name, module in (extra or {}).items():
            n = len(name) + 1
            module.load_state_dict({k[n:]: v for k, v in t.items() if k.startswith(name + ".")})
        if set(ema) != set(state.ema.shadow) or any(ema[k].shape != v.shape for k, v in state.ema.shadow.items()):
            raise RuntimeError("its EMA tensors do not match the model's parameters")
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        raise WeightsError(f"{path}: this training checkpoint was written for another network "
                           f"({'; '.join(lines[:3])}); {fix}") from None
    state.ema.shadow = ema
    for n, p in state.model.named_parameters():
        if f"opt.exp_avg.{n}" in t:
            state.opt.state[p] = {
                "exp_avg": t[f"opt.exp_avg.{n}"].to(p.device),
                "exp_avg_sq": t[f"opt.exp_avg_sq.{n}"].to(p.device),
                "step": t[f"opt.step.{n}"].reshape(()).clone(),
            }
    state.step = step
    return step


def _train_loop(model: torch.nn.Module, loss_fn: Callable[[int], torch.Tensor | dict], *, steps: int, lr: float,
                warmup: int, ema_decay: float, ckpt_path: str, log_path: str, save_every: int, log_every: int,
                time_budget_s: float, on_save: Callable[[TrainState], None] | None,
                extra: dict[str, torch.nn.Module] | None = None,
                after_step: Callable[[], None] | None = None) -> TrainState:
    """The loop both trainers share: resume from ``ckpt_path``, then per step a linear lr warm-up,
    ``loss_fn(step)``, AdamW with gradient clipping at 1, ``after_step()``, the EMA, the loss log,
    and a checkpoint every ``save_every`` steps, at the end, when the budget runs out and on
    SIGTERM/SIGINT (``extra`` modules are checkpointed alongside). ``loss_fn`` returns the loss, or
    a dict of terms with the total under ``"loss"`` (every term's running mean is then logged)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    state = TrainState(0, model, EMA(model, ema_decay), opt)
    if os.path.exists(ckpt_path):
        load_train_state(ckpt_path, state, extra=extra)
    t_start = time.time()
    log = open(log_path, "a")
    running: dict[str, float] = {}
    n_run = 0
    stop = _StopFlag()
    while state.step < steps and not stop.requested:
        step = state.step
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup)
        out = loss_fn(step)
        terms = out if isinstance(out, dict) else {"loss": out}
        loss = terms["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if after_step is not None:
            after_step()
        state.ema.update(model, step)
        state.step = step + 1
        for k, v in terms.items():
            running[k] = running.get(k, 0.0) + float(v.detach())
        n_run += 1
        if state.step % log_every == 0:
            log.write(json.dumps({"step": state.step, **{k: v / n_run for k, v in running.items()},
                                  "seconds": round(time.time() - t_start, 1)}) + "\n")
            log.flush()
            running, n_run = {}, 0
        out_of_time = time.time() - t_start > time_budget_s or stop.requested
        if state.step % save_every == 0 or state.step == steps or out_of_time:
            save_train_state(ckpt_path, state, extra=extra)
            if on_save is not None:
                on_save(state)
        if out_of_time:
            break
    log.close()
    stop.restore()
    return state


def train_eps_model(model: torch.nn.Module, data_fn: Callable[[int, int], torch.Tensor], *,
                    steps: int, batch_size: int, lr: float, ckpt_path: str, log_path: str,
                    seed: int = 0, ema_decay: float = 0.999, warmup: int = 200,
                    save_every: int = 250, log_every: int = 50, time_budget_s: float = math.inf,
                    alpha_bar: torch.Tensor | None = None, device: str | torch.device = "cpu",
                    on_save: Callable[[TrainState], None] | None = None) -> TrainState:
    """Train an ε-prediction diffusion model, resuming from ``ckpt_path`` if it exists.

    ``data_fn(step, batch_size)`` returns the clean batch of that step, in [-1, 1]. The loss is
    the DDPM simple loss E‖ε − ε_θ(√ᾱ_t x + √(1−ᾱ_t) ε, t)‖² with t uniform on 0..T−1.
    Returns the final state; ``on_save`` is called after each checkpoint (e.g. to export EMA).
    """
    device = torch.device(device)
    model.to(device).train()
    ab = (linear_alpha_bar() if alpha_bar is None else alpha_bar).to(device)

    def loss_fn(step: int) -> torch.Tensor:
        x0 = data_fn(step, batch_size).to(device)
        g = step_generator(seed, step)
        t = torch.randint(0, ab.numel(), (x0.shape[0],), generator=g).to(device)
        eps = torch.randn(x0.shape, generator=g).to(device)
        a = ab[t].float().view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps
        return F.mse_loss(model(x_t, t).sample, eps)

    return _train_loop(model, loss_fn, steps=steps, lr=lr, warmup=warmup, ema_decay=ema_decay,
                       ckpt_path=ckpt_path, log_path=log_path, save_every=save_every, log_every=log_every,
                       time_budget_s=time_budget_s, on_save=on_save)


def train_consistency_distillation(student, teacher, data_fn: Callable[[int, int], torch.Tensor], *,
                                   steps: int, batch_size: int, lr: float, ckpt_path: str, log_path: str,
                                   seed: int = 0, n_sigmas: int = 18, rho: float = 7.0, target_decay: float = 0.95,
                                   ema_decay: float = 0.999, warmup: int = 100, save_every: int = 100,
                                   log_every: int = 25, time_budget_s: float = math.inf,
                                   on_save: Callable[[TrainState], None] | None = None) -> TrainState:
    """Consistency distillation (Song et al. 2023, Algorithm 2), resuming from ``ckpt_path``.

    ``student`` and ``teacher`` are :class:`invlab.diffusion.consistency.ConsistencyModel` objects; the
    teacher's denoiser D(x, σ) = ``teacher.network`` drives one Heun step of the probability-flow
    ODE. Per step: x_0 from ``data_fn``, n ~ U{0..N−2} on the Karras grid σ_0 < … < σ_{N−1},
    x_{n+1} = x_0 + σ_{n+1} z, x̂_n = Heun(x_{n+1}, σ_{n+1} → σ_n), and the loss
    ‖f_θ(x_{n+1}, σ_{n+1}) − f_θ⁻(x̂_n, σ_n)‖² (the L2 metric of ``cd_imagenet64_l2``), with the
    target θ⁻ ← μ θ⁻ + (1−μ) θ (μ = ``target_decay``) and a slow EMA of θ for export.
    """
    import copy
    from .diffusion.consistency import heun_step, karras_sigmas
    model = student.unet
    model.train().requires_grad_(True)
    target = copy.deepcopy(student)
    target.unet.eval().requires_grad_(False)
    teacher.unet.eval().requires_grad_(False)
    sigmas = karras_sigmas(n_sigmas, student.sigma_min, student.sigma_max, rho)

    def loss_fn(step: int) -> torch.Tensor:
        x0 = data_fn(step, batch_size)
        g = step_generator(seed, step)
        n = torch.randint(0, n_sigmas - 1, (x0.shape[0],), generator=g)
        z = torch.randn(x0.shape, generator=g).to(x0.device)
        s_hi, s_lo = sigmas[n + 1], sigmas[n]
        x_hi = x0 + s_hi.to(x0).view(-1, 1, 1, 1) * z
        with torch.no_grad():
            x_lo = heun_step(teacher.network, x_hi, s_hi, s_lo)
            target_out = target(x_lo, s_lo, clamp=False)
        return F.mse_loss(student(x_hi, s_hi, clamp=False), target_out)

    @torch.no_grad()
    def update_target() -> None:
        for p_t, p in zip(target.unet.parameters(), model.parameters()):
            p_t.mul_(target_decay).add_(p.detach(), alpha=1 - target_decay)

    return _train_loop(model, loss_fn, steps=steps, lr=lr, warmup=warmup, ema_decay=ema_decay,
                       ckpt_path=ckpt_path, log_path=log_path, save_every=save_every, log_every=log_every,
                       time_budget_s=time_budget_s, on_save=on_save, extra={"target": target.unet},
                       after_step=update_target)


@torch.no_grad()
def ddim_trajectories(prior, n: int, steps: int, *,
                      generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` deterministic DDIM (η = 0) runs of ``prior`` from pure noise on its "leading" grid of
    ``steps`` times: (ts, xs, x0) with ts the (K,) grid times t_0 > … > t_{K−1} = 0, xs the (n, K, C, H, W)
    states x_{t_k} (VP scale) and x0 the (n, C, H, W) end points. Every state with the end of its
    run is one (input, target) pair of ODE-endpoint distillation, at no extra network cost."""
    states, times = [], []

    def keep(i, t, x, x0_hat):
        states.append(x.clone())
        times.append(int(t))

    x0 = prior.sample(n, steps, generator=generator, callback=keep)
    return torch.tensor(times), torch.stack(states, 1), x0


def trajectory_point(schedule, ts: torch.Tensor, xs: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The state of each DDIM run at any integer time ``t`` (B,) in [t_{K−1}, t_0], from the stored
    states ``xs`` (B, K, …) on the grid ``ts``: a DDIM (η = 0) step from t_k to t_{k+1} moves along
    the line √ᾱ x̂_0 + √(1−ᾱ) ε̂ with the pair (x̂_0, ε̂) fixed, so the two neighbours determine the
    pair and the state at every t in between (the run's own step, stopped early)."""
    k = (ts.view(1, -1) >= t.view(-1, 1)).sum(1).clamp(1, ts.numel() - 1) - 1    # t_{k+1} ≤ t ≤ t_k
    view = (-1,) + (1,) * (xs.ndim - 2)
    ab = lambda tt: schedule.ab(tt).float().view(view)          # noqa: E731
    a_k, a_n, a = ab(ts[k]).sqrt(), ab(ts[k + 1]).sqrt(), ab(t).sqrt()
    b_k, b_n, b = (1 - a_k ** 2).sqrt(), (1 - a_n ** 2).sqrt(), (1 - a ** 2).sqrt()
    rows = torch.arange(xs.shape[0])
    x_k, x_n = xs[rows, k].float(), xs[rows, k + 1].float()
    det = a_k * b_n - a_n * b_k
    x0_hat, eps = (b_n * x_k - b_k * x_n) / det, (a_k * x_n - a_n * x_k) / det
    return a * x0_hat + b * eps


def train_endpoint_distillation(student, pairs_fn: Callable[[int, int], tuple[torch.Tensor, ...]], *,
                                steps: int, batch_size: int, lr: float, ckpt_path: str, log_path: str,
                                huber_c: float | None = None, ema_decay: float = 0.999, warmup: int = 200,
                                save_every: int = 250, log_every: int = 50, time_budget_s: float = math.inf,
                                on_save: Callable[[TrainState], None] | None = None) -> TrainState:
    """Direct ODE-endpoint distillation [KD] in the consistency-model
    parameterisation [CM]: regress f_θ(x_σ, σ) on the end x_0 of the teacher's deterministic run
    through x_σ. ``pairs_fn(step, batch)`` gives (x_σ on the EDM scale, σ (B,), x_0). The metric is
    the pseudo-Huber d(a, b) = √(‖a − b‖² + c²) − c of [iCT] with c = 0.00054 √dim unless ``huber_c``
    is given (``huber_c=0``: the L2 norm). No target network: the targets are fixed, which is what
    makes this cheaper than consistency distillation."""
    model = student.unet
    model.train().requires_grad_(True)

    def loss_fn(step: int) -> torch.Tensor:
        x, sigma, x0 = pairs_fn(step, batch_size)
        c = 0.00054 * math.sqrt(x0[0].numel()) if huber_c is None else huber_c
        d2 = (student(x, sigma, clamp=False) - x0).flatten(1).pow(2).sum(1)
        return ((d2 + c ** 2).sqrt() - c).mean()

    return _train_loop(model, loss_fn, steps=steps, lr=lr, warmup=warmup, ema_decay=ema_decay,
                       ckpt_path=ckpt_path, log_path=log_path, save_every=save_every, log_every=log_every,
                       time_budget_s=time_budget_s, on_save=on_save)


def export_glyph_consistency_model(state: TrainState, out, cfg: dict) -> None:
    """Write a distilled student's EMA weights in float16 (3.6 MB) to ``out`` as a consistency-model
    folder: the ``glyphs32`` UNet, the teacher's scheduler config and ``consistency.json`` = ``cfg``
    plus the step (what :func:`invlab.diffusion.load_consistency_model` reads)."""
    from pathlib import Path

    from diffusers import DDPMScheduler, UNet2DModel

    from .diffusion.consistency import CM_CONFIG
    from .weights_manifest import weights_dir
    out = Path(out)
    model = UNet2DModel(**glyph_unet_config())
    state.ema.copy_to(model)
    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(out, safe_serialization=True)
    DDPMScheduler.from_pretrained(str(weights_dir("glyphs32"))).save_pretrained(out)
    (out / CM_CONFIG).write_text(json.dumps({**cfg, "step": state.step}, indent=1) + "\n")


def train_ddc(network, prior, data_fn: Callable[[int, int], torch.Tensor], *, steps: int, batch_size: int,
              lr: float, ckpt_path: str, log_path: str, seed: int = 0, sigma_max: float = 0.1, lpips_fn=None,
              ema_decay: float = 0.999, warmup: int = 200, save_every: int = 250, log_every: int = 50,
              time_budget_s: float = math.inf, on_save: Callable[[TrainState], None] | None = None) -> TrainState:
    """Train a DDC network ([DDC, Alg. 2]) against a frozen ``prior``, resuming from
    ``ckpt_path``. Per step (all draws from the step's generator): a task from ``network.tasks``,
    σ_y ~ U[0, ``sigma_max``], the batch ``data_fn(step, batch_size)``, and the loss of
    :func:`invlab.ddc.ddc_loss` (MSE + LPIPS when ``lpips_fn`` is given + KL). Every term is logged.
    """
    from .ddc import ddc_loss
    names = list(network.tasks)
    network.unet.train().requires_grad_(True)

    def loss_fn(step: int) -> dict:
        g = step_generator(seed, step)
        task = names[int(torch.randint(0, len(names), (1,), generator=g))]
        sigma_y = float(torch.rand((), generator=g)) * sigma_max
        return ddc_loss(network, prior, data_fn(step, batch_size), task, sigma_y, g, lpips_fn=lpips_fn)

    return _train_loop(network.unet, loss_fn, steps=steps, lr=lr, warmup=warmup, ema_decay=ema_decay,
                       ckpt_path=ckpt_path, log_path=log_path, save_every=save_every, log_every=log_every,
                       time_budget_s=time_budget_s, on_save=on_save)


def train_autoencoder(autoencoder, data_fn: Callable[[int, int], torch.Tensor], *, steps: int, batch_size: int,
                      lr: float, ckpt_path: str, log_path: str, seed: int = 0, kl_weight: float = 1e-6,
                      ema_decay: float = 0.999, warmup: int = 200, save_every: int = 250, log_every: int = 50,
                      time_budget_s: float = math.inf,
                      on_save: Callable[[TrainState], None] | None = None) -> TrainState:
    """Train a diffusers ``AutoencoderKL`` (the first stage of a latent prior), resuming from
    ``ckpt_path``: z ~ q(z|x) by the reparameterisation (noise from the step's generator), the
    reconstruction loss mean|x − D(z)| + mean(x − D(z))² and the LDM's small KL to N(0, I) —
    weight ``kl_weight`` on the per-image KL sum relative to the per-image reconstruction sum, as
    in the LDM code (1e-6), so the latents stay near unit scale without blurring the decoder.
    No perceptual or adversarial term: neither is available offline, and glyphs do not need them."""
    autoencoder.train().requires_grad_(True)

    def loss_fn(step: int) -> dict:
        x = data_fn(step, batch_size)
        g = step_generator(seed, step)
        post = autoencoder.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=g).to(x)
        rec = autoencoder.decode(z).sample
        l1, l2 = (rec - x).abs().mean(), ((rec - x) ** 2).mean()
        kl = post.kl().mean() / x[0].numel()
        return {"loss": l1 + l2 + kl_weight * kl, "l1": l1, "mse": l2, "kl": kl}

    return _train_loop(autoencoder, loss_fn, steps=steps, lr=lr, warmup=warmup, ema_decay=ema_decay,
                       ckpt_path=ckpt_path, log_path=log_path, save_every=save_every, log_every=log_every,
                       time_budget_s=time_budget_s, on_save=on_save)


class _StopFlag:
    """SIGTERM/SIGINT ask the loop to checkpoint and return after the current step."""

    def __init__(self):
        import signal
        import threading
        self.requested = False
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.requested = True

    def restore(self):
        import signal
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
