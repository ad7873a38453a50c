"""Each solver against a small literal transcription of its authors' update, on a fixed tiny
problem (the 8-d Gaussian-mixture prior, one linear measurement), same generator, same noise.

The transcriptions follow the official code's structure and variable names (change-index
arithmetic, ``seq``/``sigmas`` lookups, ᾱ with a leading 1) rather than invlab's helpers, so an
edit of a solver that drifts from the published rule fails here. Where the official code draws
noise it multiplies by zero, or draws per branch, the transcription draws once per step in the
solver's order; each such place is marked. Shared pieces that are not under test (the prior's
denoiser, the operator's SVD view and proximal step) are called, not re-implemented.
"""
import pytest
import torch

from invlab.diffusion import load_prior
from invlab.gmm_bench import linear_gaussian_problem
from invlab.problems import linear_problem
from invlab.solvers import SOLVERS
from invlab.solvers.splitting import data_prox

B = 6


@pytest.fixture(scope="module")
def tiny():
    prior = load_prior("gmm-grid", dim=8)
    A, y, sy, x = linear_gaussian_problem(prior, m=3, seed=0)
    prob = linear_problem(A, x.expand(B, -1).clone(), sigma_y=sy, y=y.expand(B, -1).clone())
    clean = linear_problem(A, x.expand(B, -1).clone(), sigma_y=0.0, y=(x @ A.T).expand(B, -1).clone())
    return prior, prob, clean


def gen(seed=7):
    return torch.Generator().manual_seed(seed)


def alphas_cumprod_with_one(prior):
    """The official ``compute_alpha``: ᾱ with a 1 prepended, indexed by t + 1."""
    return torch.cat([torch.ones(1, dtype=torch.float64), prior.alpha_bar])


# --------------------------------------------------------------------------------------- DDNM
def ddnm_official(prior, problem, steps, eta, generator):
    """wyhuai/DDNM functions/svd_ddnm.py: ddnm_diffusion (σ_y = 0) and ddnm_plus_diffusion with the
    Lambda / Lambda_noise of the SVD operators; no time-travel (travel_length = 1)."""
    sv, y, sigma_y = problem.op.svd(), problem.y, problem.sigma_y
    singulars = sv.singular_values(y)[0] if sv.singular_values(y).ndim > 1 else sv.singular_values(y)
    inverse_singulars = torch.where(singulars > 0, 1.0 / torch.where(singulars > 0, singulars, 1.0), 0.0)
    ab = alphas_cumprod_with_one(prior)
    skip = prior.T // steps
    times = list(range(steps - 1, -1, -1)) + [-1]
    x = torch.randn((y.shape[0],) + tuple(prior.image_shape), generator=generator, dtype=torch.float64).to(y)

    def A_pinv(v):
        return sv.V(torch.where(singulars > 0, sv.Ut(v) * inverse_singulars, 0.0))

    for i, j in zip(times[:-1], times[1:]):
        i, j = i * skip, j * skip
        if j < 0:
            j = -1
        at, at_next = ab[i + 1].item(), ab[j + 1].item()
        et = prior.eps(x, i)
        x0_t = (x - et * (1 - at) ** 0.5) / at ** 0.5
        fresh_draw = torch.randn(sv.Vt(x0_t).shape, generator=generator, dtype=torch.float64).to(y)
        randn_like_x0 = sv.V(fresh_draw)                 # the official pixel-space draw, via V
        sigma_t, a = (1 - at_next) ** 0.5, at_next ** 0.5
        if sigma_y == 0:
            x0_t_hat = x0_t - A_pinv(problem.op(x0_t) - y)
            c1, c2 = sigma_t * eta, sigma_t * (1 - eta ** 2) ** 0.5
            x = a * x0_t_hat + c1 * randn_like_x0 + c2 * et
            continue
        # Lambda
        lambda_t = torch.ones_like(singulars)
        change_index = (sigma_t < a * sigma_y * inverse_singulars) * 1.0
        lambda_t = (lambda_t * (-change_index + 1.0)
                    + change_index * (singulars * sigma_t * (1 - eta ** 2) ** 0.5 / a / sigma_y))
        x0_t_hat = x0_t - sv.V(sv.Vt(A_pinv(problem.op(x0_t) - y)) * lambda_t)
        # Lambda_noise
        d1_t = torch.ones_like(singulars) * sigma_t * eta
        d2_t = torch.ones_like(singulars) * sigma_t * (1 - eta ** 2) ** 0.5
        change_index = (sigma_t < a * sigma_y * inverse_singulars) * 1.0
        d1_t = d1_t * (-change_index + 1.0) + change_index * sigma_t * eta
        d2_t = d2_t * (-change_index + 1.0)
        change_index = (sigma_t > a * sigma_y * inverse_singulars) * 1.0
        d1_t = d1_t * (-change_index + 1.0) + torch.sqrt(
            change_index * (sigma_t ** 2 - a ** 2 * sigma_y ** 2 * inverse_singulars ** 2))
        d2_t = d2_t * (-change_index + 1.0)
        change_index = (singulars == 0) * 1.0
        d1_t = d1_t * (-change_index + 1.0) + change_index * sigma_t * eta
        d2_t = d2_t * (-change_index + 1.0) + change_index * sigma_t * (1 - eta ** 2) ** 0.5
        x = a * x0_t_hat + sv.V(sv.Vt(randn_like_x0) * d1_t) + sv.V(sv.Vt(et) * d2_t)
    return x


@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize("eta", [0.0, 0.85])
def test_ddnm_matches_the_official_update(tiny, noisy, eta):
    prior, prob, clean = tiny
    problem = prob if noisy else clean
    ours = SOLVERS["ddnm"](problem, prior, steps=20, eta=eta, generator=gen()).x
    ref = ddnm_official(prior, problem, 20, eta, gen())
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------- DDRM
def ddrm_official(prior, problem, steps, etaA, etaB, etaC, generator):
    """bahjat-kawar/ddrm functions/denoising.py: efficient_generalized_steps. One normal draw per
    step serves the three branches (the official code draws per branch); the start is scaled by
    √ᾱ_T (the official divides by σ_T, the same to a factor √(1−ᾱ_T))."""
    sv, y, sigma_0 = problem.op.svd(), problem.y, problem.sigma_y
    singulars = sv.singular_values(y)[0] if sv.singular_values(y).ndim > 1 else sv.singular_values(y)
    obs = singulars > 0
    safe = torch.where(obs, singulars, 1.0)
    ab = alphas_cumprod_with_one(prior)
    skip = prior.T // steps
    seq = list(range(0, prior.T, skip))
    seq_next = [-1] + seq[:-1]
    Sig_inv_U_t_y = torch.where(obs, sv.Ut(y) / safe, 0.0)
    # x_T from p(x_T | x_0, y)
    a_T = ab[seq[-1] + 1].item()
    largest_sigma = ((1 - a_T) / a_T) ** 0.5
    z = torch.randn(Sig_inv_U_t_y.shape, generator=generator, dtype=torch.float64).to(y)
    large = obs & (singulars * largest_sigma > sigma_0)
    inv_singulars_and_zero = torch.where(large, sigma_0 / safe, 0.0)
    init_y = torch.where(large, Sig_inv_U_t_y, 0.0)
    init_y = init_y + (largest_sigma ** 2 - inv_singulars_and_zero ** 2).clamp_min(0).sqrt() * z
    x = sv.V(init_y) * a_T ** 0.5
    for i, j in zip(reversed(seq), reversed(seq_next)):
        at, at_next = ab[i + 1].item(), ab[j + 1].item()
        et = prior.eps(x, i)
        x0_t = (x - et * (1 - at) ** 0.5) / at ** 0.5
        sigma_next = ((1 - at_next) / at_next) ** 0.5
        V_t_x0 = sv.Vt(x0_t)
        cond_before = obs & (singulars * sigma_next > sigma_0)
        cond_after = obs & (singulars * sigma_next < sigma_0)
        std_nextC = sigma_next * etaC
        sigma_tilde_nextC = (sigma_next ** 2 - std_nextC ** 2) ** 0.5
        std_nextA = sigma_next * etaA
        sigma_tilde_nextA = (sigma_next ** 2 - std_nextA ** 2) ** 0.5
        diff_sigma_t_nextB = (sigma_next ** 2 - sigma_0 ** 2 / safe ** 2 * etaB ** 2).clamp_min(0).sqrt()
        n = torch.randn(V_t_x0.shape, generator=generator, dtype=torch.float64).to(y)
        nxt = V_t_x0 + sigma_tilde_nextC * sv.Vt(et) + std_nextC * n                       # missing
        after = V_t_x0 + sigma_tilde_nextA * (sv.Ut(y) - V_t_x0 * singulars) / max(sigma_0, 1e-30) + std_nextA * n
        before = Sig_inv_U_t_y * etaB + (1 - etaB) * V_t_x0 + diff_sigma_t_nextB * n
        nxt = torch.where(cond_after, after, torch.where(cond_before, before, nxt))
        x = sv.V(nxt) * at_next ** 0.5
    return x


@pytest.mark.parametrize("noisy", [False, True])
def test_ddrm_matches_the_official_update(tiny, noisy):
    prior, prob, clean = tiny
    problem = prob if noisy else clean
    ours = SOLVERS["ddrm"](problem, prior, steps=20, eta=0.85, eta_b=1.0, generator=gen()).x
    ref = ddrm_official(prior, problem, 20, 0.85, 1.0, 0.85, gen())
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------- DiffPIR
def diffpir_official(prior, problem, iter_num, lambda_, zeta, generator):
    """yuanzhi-zhu/DiffPIR main_ddpir_sisr.py, skip_type = "quad", η = 0, iter_num_U = 1, x_T pure
    noise (the script starts from the noised bicubic upsampling). With η = 0 the script's first
    fresh draw is multiplied by 0; it is not drawn here."""
    T = prior.T
    ab = prior.alpha_bar
    sqrt_ab, sqrt_1m_ab = ab.sqrt(), (1 - ab).sqrt()
    reduced_alpha_cumprod = sqrt_1m_ab / sqrt_ab
    sigma = max(0.001, problem.sigma_y / 2)
    sigmas = [reduced_alpha_cumprod[T - 1 - i] for i in range(T)]
    rhos = [lambda_ * sigma ** 2 / (reduced_alpha_cumprod[i] ** 2) for i in range(T)]
    seq = [int(s) for s in torch.linspace(0, T ** 2, iter_num, dtype=torch.float64).sqrt().tolist()]
    seq[-1] = seq[-1] - 1

    def find_nearest(array, value):
        return int((array - value).abs().argmin())

    x = torch.randn(problem.x.shape, generator=generator, dtype=torch.float64).to(problem.y)
    for i in range(len(seq)):
        t_i = find_nearest(reduced_alpha_cumprod, sigmas[seq[i]])
        x0 = prior.x0(x, t_i)
        if seq[i] != seq[-1]:
            x0 = data_prox(problem, x0, 1.0 / float(rhos[t_i]))
            t_im1 = find_nearest(reduced_alpha_cumprod, sigmas[seq[i + 1]])
            eps = (x - sqrt_ab[t_i] * x0) / sqrt_1m_ab[t_i]
            x = sqrt_ab[t_im1] * x0 + (1 - zeta) ** 0.5 * sqrt_1m_ab[t_im1] * eps \
                + zeta ** 0.5 * sqrt_1m_ab[t_im1] * torch.randn(x.shape, generator=generator, dtype=torch.float64).to(x)
    return x


@pytest.mark.parametrize("zeta", [0.1, 1.0])
def test_diffpir_matches_the_official_update(tiny, zeta):
    prior, prob, _ = tiny
    ours = SOLVERS["diffpir"](prob, prior, steps=20, lam=1.0, zeta=zeta, generator=gen()).x
    ref = diffpir_official(prior, prob, 20, 1.0, zeta, gen())
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------- DAPS
def daps_official(prior, problem, num_steps, ode_step, langevin_steps, lr, tau, sigma_max, sigma_min, generator,
                  lr_min_ratio=0.01):
    """zhangbingliang2019/DAPS: the annealing sampler (poly-7 levels, then 0), the PF-ODE inner
    sampler (poly-7 from σ to 0.01, then 0, Euler) and the Langevin SGD of the likelihood
    estimator (``lr_scheduler="decay"``), autograd on the official loss. At the last level the
    official code adds 0·z; that draw is not made here."""
    y = problem.y

    def poly7(smax, smin, n):
        r = torch.linspace(0, 1, n, dtype=torch.float64)
        return ((smax ** (1 / 7) + r * (smin ** (1 / 7) - smax ** (1 / 7))) ** 7).tolist() + [0.0]

    def randn_like(v):
        return torch.randn(v.shape, generator=generator, dtype=torch.float64).to(v)

    sigma_steps = poly7(sigma_max, sigma_min, num_steps)
    x = torch.randn(problem.x.shape, generator=generator, dtype=torch.float64).to(y) * sigma_max
    for s in range(num_steps):
        sigma = sigma_steps[s]
        inner = poly7(sigma, 0.01, ode_step)
        x0 = x
        with torch.no_grad():
            for k in range(ode_step):
                score = (prior.denoise(x0, inner[k], clamp=False) - x0) / inner[k] ** 2
                factor = 2 * inner[k] * (inner[k] - inner[k + 1])
                x0 = x0 + factor * score * 0.5
        if s != num_steps - 1:
            ratio = s / num_steps
            step_lr = lr * (1 + ratio * (lr_min_ratio - 1))
            xl = x0.clone().requires_grad_(True)
            for _ in range(langevin_steps):
                loss = ((problem.op(xl) - y) ** 2).sum() / tau ** 2 + ((xl - x0) ** 2).sum() / (2 * sigma ** 2)
                (grad,) = torch.autograd.grad(loss, xl)
                with torch.no_grad():
                    xl = xl - step_lr * grad
                    xl = xl + (2 * step_lr) ** 0.5 * randn_like(xl)
                xl.requires_grad_(True)
            x0 = xl.detach()
        x = x0 + sigma_steps[s + 1] * randn_like(x0) if sigma_steps[s + 1] > 0 else x0
    return x


def test_daps_matches_the_official_update(tiny):
    prior, prob, _ = tiny
    kw = dict(annealing_steps=6, ode_steps=3, langevin_steps=4, lr=1e-2, tau=0.5, sigma_max=20.0, sigma_min=0.1)
    ours = SOLVERS["daps"](prob, prior, **kw, generator=gen()).x
    ref = daps_official(prior, prob, 6, 3, 4, 1e-2, 0.5, 20.0, 0.1, gen())
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------------------- DPG
def dpg_official(prior, problem, steps, sampler, scale, mc, beta, rmin, generator):
    """loveisbasa/DPG: ``p_sample_loop`` of guided_diffusion/gaussian_diffusion.py (its η and β per step)
    around ``PGSampling.grad_and_value`` of guided_diffusion/condition_methods.py, for one image (the
    official norms run over the whole batch), ``Znorm`` = the image's size. The unconditional step is
    the respaced DDIM (η = 0) step or the DDPM posterior draw with the fixed posterior variance (the
    official model learns it); the DDPM loop's draw at t = 0, multiplied by zero there, is not made."""
    y, A = problem.y, problem.op
    ab_all = prior.alpha_bar
    T = prior.T
    if sampler == "ddim":                                        # space_timesteps("ddimN"): the leading grid
        use = list(range(0, T, T // steps))
    else:                                                        # space_timesteps("N"): evenly spread, rounded
        use = [round(i * (T - 1) / (steps - 1)) for i in range(steps)]
    n = len(use)
    ab = ab_all[use]
    ab_prev = torch.cat([torch.ones(1, dtype=ab.dtype), ab[:-1]])
    D = problem.x[0].numel()
    x = torch.randn(problem.x.shape, generator=generator, dtype=torch.float64).to(y)
    prev_Z, prev_grad = None, None
    for idx in reversed(range(n)):
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            et = prior.eps(x, use[idx])
            x0_hat = (x - (1 - ab[idx]).sqrt() * et) / ab[idx].sqrt()
        with torch.no_grad():
            if sampler == "ddim":
                eps = (x / ab[idx].sqrt() - x0_hat) / (1 / ab[idx] - 1).sqrt()
                sample = ab_prev[idx].sqrt() * x0_hat + (1 - ab_prev[idx]).sqrt() * eps
                eta_w, beta_w = (1.0 if idx > 0 else 0.0), 1.0
            else:
                b = 1 - ab[idx] / ab_prev[idx]
                coef1 = b * ab_prev[idx].sqrt() / (1 - ab[idx])
                coef2 = (1 - ab_prev[idx]) * (1 - b).sqrt() / (1 - ab[idx])
                sample = coef1 * x0_hat + coef2 * x
                if idx != 0:
                    var = b * (1 - ab_prev[idx]) / (1 - ab[idx])
                    sample = sample + var.sqrt() * torch.randn(x.shape, generator=generator, dtype=x.dtype)
                eta_w = float(b / (1 - b).sqrt() / (1 - ab[idx]).sqrt()) if idx > 1 else 0.0
                beta_w = 1.0 * idx / n
            # PGSampling.grad_and_value
            x_ref = x0_hat.detach()
            Z = torch.linalg.norm(y - A(x_ref)) ** 2
            norm_base = Z.clone()
            if prev_Z is None:
                prev_Z = Z
            Z = 0.9 * prev_Z + 0.1 * Z
            prev_Z = Z
            r = torch.clamp(torch.sqrt(Z / D) / 2, min=rmin)
            x0s = r * torch.randn((mc,) + tuple(x.shape[1:]), generator=generator, dtype=x.dtype) + x0_hat
            difference = y - A(x0s)
            err_norms = torch.linalg.norm(difference, dim=1) ** 2 - norm_base
            p_0l = torch.exp(-err_norms / Z)
            pB = (torch.sum(p_0l) - p_0l) / (mc - 1)
        with torch.enable_grad():
            log_q0t = torch.linalg.norm(x0s - x0_hat, dim=1) ** 2 / (2 * r * r)
            loss = torch.mean((p_0l - pB) * log_q0t)
            (x_t_grad,) = torch.autograd.grad(loss, x)
        if prev_grad is None:
            prev_grad = x_t_grad
        else:
            tmp_grad = x_t_grad
            x_t_grad = beta * beta_w * prev_grad + (1 - beta * beta_w) * tmp_grad
            prev_grad = tmp_grad                                 # the unsmoothed gradient is kept
        grad = x_t_grad / (x_t_grad.norm() + 1e-7)
        x = sample - scale * eta_w * grad
    return x.detach()


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_dpg_matches_the_official_update(tiny, sampler, beta):
    prior, prob, _ = tiny
    one = linear_problem(prob.op.A, prob.x[:1].clone(), sigma_y=prob.sigma_y, y=prob.y[:1].clone())
    kw = dict(steps=10, sampler=sampler, scale=0.3, n_samples=16, r_min=0.05, beta_cfg=beta)
    ours = SOLVERS["dpg"](one, prior, **kw, spectral=False, chunk=16, generator=gen()).x
    ref = dpg_official(prior, one, 10, sampler, 0.3, 16, beta, 0.05, gen())
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------- HRDIS
def hrdis_official(prior, problem, steps, beta, lr, obs_weight, grad_term_weight, mu0, generator, warm=0):
    """deng-ai-lab/HRDIS algos/HRDIS.py ``sample`` (σ_x0 = 0, ``awd``, linear weighting) with the Adam of
    its code; ``warm`` > 0 adds the paper's phase-retrieval warm start (App. B.1: the first ``warm`` steps
    take fresh noise), which the code does not carry. The official ``noise_x0`` draw, multiplied by
    σ_x0 = 0, is not made; the loss is a mean over the batch, which Adam's normalisation makes the same
    step as invlab's sum of per-image means."""
    ab_all = prior.alpha_bar
    ts = list(range(0, prior.T, prior.T // steps))
    mu = mu0.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([mu], lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    last_noise = None
    for i, ti in enumerate(reversed(ts)):
        alpha_t = ab_all[ti]
        noise_xt = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        noise = noise_xt if i == 0 or i < warm else (1 - beta) ** 0.5 * last_noise + beta ** 0.5 * noise_xt
        xt = alpha_t.sqrt() * mu.detach() + (1 - alpha_t).sqrt() * noise
        with torch.no_grad():
            et = prior.eps(xt, ti)
        if i > 0:
            loss_obs = ((problem.y - problem.op(mu)) ** 2).mean() / 2
            loss_noise = torch.mul((et - noise).detach(), mu).mean()
            w_t = grad_term_weight * (1 - alpha_t).sqrt() / alpha_t.sqrt()
            loss = w_t * loss_noise + obs_weight * loss_obs
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        last_noise = et.clone()
    return mu.detach()


@pytest.mark.parametrize("warm_start", [0.0, 0.5])
def test_hrdis_matches_the_official_update(tiny, warm_start):
    prior, prob, _ = tiny
    mu0 = prob.op.pinv(prob.y)
    kw = dict(steps=20, beta=0.2, lr=0.05, lambda1=1.0, lambda2=0.25)
    ours = SOLVERS["hrdis"](prob, prior, **kw, weighting="linear", warm_start=warm_start, x_init=mu0,
                            generator=gen()).x
    ref = hrdis_official(prior, prob, 20, 0.2, 0.05, 1.0, 0.25, mu0, gen(), warm=round(warm_start * 20))
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
