"""One prior interface for every diffusion model of the course (notebook 02).

``prior.eps(x_t, t)`` predicts the noise; ``x0`` (Tweedie), ``score``, ``sample``, ``purify``
and the schedule (``alpha_bar``) are derived from it, so the shipped UNet, a hub model and the
exact Gaussian mixture behave the same way, and solvers never care which they got.
"""
from __future__ import annotations

import torch

from .._checks import check_batch, check_fraction, check_int, check_tensor, per_sample
from ..rng import randn
from .schedule import VPSchedule, pairs, timesteps

__all__ = ["Prior", "UNetPrior", "ddim_step", "ddpm_posterior", "ddpm_step"]


def ddpm_posterior(sched: VPSchedule, x0, x_t, t, s):
    """Mean and variance of q(x_s | x_t, x_0) for s < t on a (possibly respaced) grid:
    β' = 1 − ᾱ_t/ᾱ_s, mean = √ᾱ_s β'/(1−ᾱ_t) x_0 + √(1−β') (1−ᾱ_s)/(1−ᾱ_t) x_t,
    var = β' (1−ᾱ_s)/(1−ᾱ_t): [DDPM, eqs. 6–7] with β_t replaced by the step's β'."""
    a_t, a_s = sched.ab(t, x_t), sched.ab(s, x_t)
    beta = 1 - a_t / a_s
    c1 = a_s.sqrt() * beta / (1 - a_t)
    c2 = (1 - beta).sqrt() * (1 - a_s) / (1 - a_t)
    return c1 * x0 + c2 * x_t, beta * (1 - a_s) / (1 - a_t)


def ddpm_step(sched: VPSchedule, x0, x_t, t, s, generator):
    """One ancestral step t → s: a draw from q(x_s | x_t, x̂_0) (:func:`ddpm_posterior`), noise from
    ``generator``; the last step (s = −1) returns x̂_0 and draws nothing [DDPM, Alg. 2]."""
    if s < 0:
        return x0
    mean, var = ddpm_posterior(sched, x0, x_t, t, s)
    return mean + var.sqrt() * randn(x_t.shape, generator, like=x_t)


def ddim_step(sched: VPSchedule, x0, eps, t, s, eta: float = 0.0, noise=None):
    """DDIM t → s: x_s = √ᾱ_s x̂_0 + √(1−ᾱ_s−σ²) ε̂ + σ z, σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_s)."""
    a_t, a_s = sched.ab(t, x0), sched.ab(s, x0)
    sigma = eta * ((1 - a_s) / (1 - a_t)).sqrt() * (1 - a_t / a_s).sqrt()
    x = a_s.sqrt() * x0 + (1 - a_s - sigma ** 2).clamp_min(0).sqrt() * eps
    if eta > 0 and noise is not None:
        x = x + sigma * noise
    return x


class Prior:
    """Base class. Subclasses implement :meth:`_eps` and set ``schedule`` and ``image_shape``.

    Attributes:
        schedule: the :class:`VPSchedule`; ``alpha_bar`` is its float64 ᾱ_t.
        image_shape: shape of one sample, (C, H, W) for images or (d,) for vectors.
        clamp_default: whether :meth:`x0` clamps to [-1, 1] by default (True for image priors).
    """

    image_shape: tuple[int, ...] = ()
    clamp_default = True
    counted_methods: tuple[str, ...] = ("eps",)     # the network passes solvers are charged for
    name = "prior"

    def __init__(self, schedule: VPSchedule):
        self.schedule = schedule

    @property
    def alpha_bar(self) -> torch.Tensor:
        return self.schedule.alpha_bar

    @property
    def T(self) -> int:
        return self.schedule.T

    # -- core -----------------------------------------------------------------------------------
    def _check(self, x_t, t):
        check_batch("x_t", x_t, self.image_shape, f"the {self.name} prior")
        t = per_sample(t, torch.long, x_t.shape[0])
        if t.shape != (x_t.shape[0],):
            raise ValueError(f"t: expected an int or a (B,) tensor, got shape {tuple(t.shape)}")
        if bool(((t < 0) | (t >= self.T)).any()):
            raise ValueError(f"t: must lie in [0, {self.T}), got {t.min().item()}..{t.max().item()}")
        return t

    def eps(self, x_t: torch.Tensor, t) -> torch.Tensor:
        """Predicted noise ε̂(x_t, t); ``t`` an int or a (B,) integer tensor."""
        t = self._check(x_t, t)
        return self._eps(x_t, t)

    def _eps(self, x_t, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def x0(self, x_t: torch.Tensor, t, clamp: bool | None = None) -> torch.Tensor:
        """Tweedie's estimate E[x_0 | x_t] = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t, optionally clamped to [-1, 1]."""
        x0 = self.schedule.x0_from_eps(x_t, self.eps(x_t, t), t)
        return x0.clamp(-1, 1) if (self.clamp_default if clamp is None else clamp) else x0

    def eps_and_x0(self, x_t: torch.Tensor, t, clamp: bool | None = None):
        """(ε̂, x̂_0) from one network call; with clamping, ε̂ is recomputed from the clamped x̂_0 so
        the pair stays consistent with x_t (what DDIM steps need)."""
        eps = self.eps(x_t, t)
        x0 = self.schedule.x0_from_eps(x_t, eps, t)
        if self.clamp_default if clamp is None else clamp:
            x0 = x0.clamp(-1, 1)
            eps = self.schedule.eps_from_x0(x_t, x0, t)
        return eps, x0

    def denoise(self, x: torch.Tensor, sigma: float, clamp: bool | None = None) -> torch.Tensor:
        """D(x, σ): the model as a Gaussian denoiser in VE units, x = x_0 + σ n. It runs at the
        grid time t whose level √((1−ᾱ_t)/ᾱ_t) is nearest σ, on the VP input √ᾱ_t x, and returns
        Tweedie's x̂_0 ([EDM]'s denoiser, through the VP↔VE change of variables) (PnP, DiffPIR, DAPS)."""
        t = self.schedule.t_for_sigma(sigma)
        return self.x0(self.schedule.ab(t, x).sqrt() * x, t, clamp)

    def score(self, x_t: torch.Tensor, t) -> torch.Tensor:
        """∇ log p_t(x_t) = −ε̂/√(1−ᾱ_t)."""
        return self.schedule.score_from_eps(self.eps(x_t, t), t)

    # -- sampling -------------------------------------------------------------------------------
    def _noise(self, shape, generator, like):
        return randn(shape, generator, like=like)

    def _reference(self, device=None, dtype=None):
        return torch.empty(0, device=device or "cpu", dtype=dtype or torch.float32)

    def sample(self, n: int, steps: int = 50, eta: float = 0.0, *, generator: torch.Generator | None = None,
               callback=None, clamp: bool | None = None, method: str = "ddim", device=None,
               dtype=None) -> torch.Tensor:
        """``n`` unconditional samples.

        ``method="ddim"``: DDIM(η) on the "leading" grid with ``steps`` steps (η = 0:
        deterministic; η = 1: DDPM-like). ``method="ddpm"``: ancestral DDPM on the respaced grid
        (including 0 and T−1), posterior variance β̃. ``callback(i, t, x_t, x0_hat)`` after each step.
        """
        check_int("n", n, lo=1)
        check_int("steps", steps, lo=1, hi=self.T)
        check_fraction("eta", eta, closed_hi=True)
        if method not in ("ddim", "ddpm"):
            raise ValueError(f"method: unknown value {method!r}; choose 'ddim' or 'ddpm'")
        ref = self._reference(device, dtype)
        x = self._noise((n,) + tuple(self.image_shape), generator, ref)
        grid = timesteps(self.T, steps, "leading" if method == "ddim" else "respaced").tolist()
        return self._walk(x, grid, method, eta, generator, clamp, callback)

    def _walk(self, x, grid, method, eta, generator, clamp, callback):
        """The unconditional reverse walk from x at ``grid[0]`` along ``grid``: DDIM (η) or DDPM steps,
        x̂_0 after the last; ``callback(i, t, x_t, x̂_0)`` at each step."""
        with torch.no_grad():
            for i, (t, s) in enumerate(pairs(grid)):
                eps, x0 = self.eps_and_x0(x, t, clamp)
                if callback is not None:
                    callback(i, t, x, x0)
                if method == "ddim":
                    z = self._noise(x.shape, generator, x) if eta > 0 and s >= 0 else None
                    x = ddim_step(self.schedule, x0, eps, t, s, eta, z) if s >= 0 else x0
                else:
                    x = ddpm_step(self.schedule, x0, x, t, s, generator)
        return x

    def purify(self, x: torch.Tensor, t_start: int, steps: int = 20, *, generator: torch.Generator | None = None,
               callback=None, clamp: bool | None = None) -> torch.Tensor:
        """SDEdit-style purification: noise ``x`` to ``t_start`` (x_t = √ᾱ x + √(1−ᾱ) ε), then map
        back with deterministic DDIM in min(steps, t_start + 1) steps on the original schedule,
        the last step returning x̂_0 at t = 0. Foreshadows DCDP (notebook 06)."""
        check_int("t_start", t_start, lo=0, hi=self.T - 1)
        check_int("steps", steps, lo=1, hi=self.T)
        check_tensor("x", x)
        n_steps = min(steps, t_start + 1)
        grid = torch.linspace(t_start, 0, n_steps).round().long().unique().flip(0).tolist()
        xt = self.schedule.noise(x, t_start, self._noise(x.shape, generator, x))
        return self._walk(xt, grid, "ddim", 0.0, generator, clamp, callback)


def cpu_layout(unet) -> bool:
    """Give a diffusers UNet the channels-last layout when it sits on the CPU, where that layout
    was as fast or faster at every batch size we measured (glyphs32, 2 cores: batch 16 56 → 42 ms
    per forward pass, batch 1 and 64 within noise). Returns whether it did: inputs must then
    follow (:func:`unet_input`)."""
    if next(unet.parameters()).device.type != "cpu":
        return False
    unet.to(memory_format=torch.channels_last)
    return True


def unet_input(x: torch.Tensor, dtype: torch.dtype, channels_last: bool) -> torch.Tensor:
    """``x`` in the network's dtype and, after :func:`cpu_layout`, its memory layout."""
    x = x.to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


class UNetPrior(Prior):
    """A diffusers ``UNet2DModel`` with ε-prediction as a prior.

    3- (or C-) channel outputs are ε; 2C-channel outputs (ADM's learned variance) are split: the
    first C channels are ε, the rest the variance interpolant v exposed by :meth:`log_variance`
    (log σ² = ((v+1)/2) log β_t + (1 − (v+1)/2) log β̃_t).
    """

    def __init__(self, unet, schedule: VPSchedule, name: str = "unet"):
        super().__init__(schedule)
        self.unet = unet.eval()
        for p in self.unet.parameters():
            p.requires_grad_(False)
        cfg = unet.config
        C = cfg.in_channels
        size = cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0]
        self.image_shape = (C, size, size)
        self.learned_variance = cfg.out_channels == 2 * C
        if cfg.out_channels not in (C, 2 * C):
            raise ValueError(f"unet: {cfg.out_channels} output channels for {C} input channels; "
                             "expected ε (C) or ε and a variance (2C)")
        self.name = name
        self._layout()

    def _layout(self) -> None:
        self._channels_last = cpu_layout(self.unet)
        self._compiled = None                                # compiled for the old weights: stale

    def compile(self) -> "UNetPrior":
        """Compile the network for passes without gradients (sampling, purification, DDIM).

        ``torch.compile`` (inductor) with the weights frozen into the graph, and attention by the
        plain matmul–softmax processor, which compiles to faster code than fused SDPA for the
        tiny heads of small UNets. Passes that need gradients (DPS's VJP, …) keep the eager
        network, so every solver still works. Costs one compilation (tens of seconds on 2 CPU
        cores, more per new batch size); pays off for repeated sampling — on glyphs32 with
        ``dtype=torch.bfloat16`` it takes a batch-64 forward pass from ~120 to ~85 ms
        (``benchmarks/eval_prior.py``). Needs a C++ compiler on the CPU. Moving the prior
        (:meth:`to`) drops the compiled network; call ``compile()`` again.
        """
        import warnings

        from diffusers.models.attention_processor import Attention, AttnProcessor
        # diffusers' upsampler asks is_torch_version(...) (an lru_cache'd version check) when
        # the network is in bfloat16; dynamo warns that it traces through the cache. Harmless.
        warnings.filterwarnings("ignore", message=r"Dynamo detected a call to a `functools.lru_cache`",
                                category=UserWarning)
        for m in self.unet.modules():
            if isinstance(m, Attention):
                m.set_processor(AttnProcessor())
        self._compiled = torch.compile(self.unet, options={"freezing": True})
        return self

    def _run(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = unet_input(x_t, self.dtype, self._channels_last)
        net = self.unet if self._compiled is None or torch.is_grad_enabled() else self._compiled
        return net(x, t.to(x_t.device)).sample.contiguous().to(x_t.dtype)

    @property
    def device(self):
        return next(self.unet.parameters()).device

    @property
    def dtype(self):
        return next(self.unet.parameters()).dtype

    def to(self, device=None, dtype=None) -> "UNetPrior":
        kw = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
        self.unet.to(**kw)                                   # (diffusers warns when dtype=None is passed)
        self._layout()
        return self

    def _reference(self, device=None, dtype=None):
        return torch.empty(0, device=device or self.device, dtype=dtype or self.dtype)

    def model_output(self, x_t: torch.Tensor, t) -> torch.Tensor:
        return self._run(x_t, self._check(x_t, t))

    def _eps(self, x_t, t):
        out = self._run(x_t, t)
        return out[:, :self.image_shape[0]] if self.learned_variance else out

    def log_variance(self, x_t: torch.Tensor, t) -> torch.Tensor:
        """log σ_t² of the reverse step: learned (ADM interpolant) when the model has it,
        else the fixed posterior variance log β̃_t."""
        tt = self._check(x_t, t)
        beta = self.schedule.betas[tt]
        ab_prev = self.schedule.ab(tt - 1)
        beta_tilde = (beta * (1 - ab_prev) / (1 - self.schedule.ab(tt))).clamp_min(1e-20)
        shape = (-1,) + (1,) * (x_t.ndim - 1)
        lo = beta_tilde.log().to(x_t).view(shape)
        if not self.learned_variance:
            return lo.expand_as(x_t)
        v = self.model_output(x_t, t)[:, self.image_shape[0]:]
        frac = (v + 1) / 2
        return frac * beta.log().to(x_t).view(shape) + (1 - frac) * lo
