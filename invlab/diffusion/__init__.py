"""Diffusion core (notebook 02): VP schedule, time grids, samplers, priors, ``load_prior``."""
from .consistency import ConsistencyModel, load_consistency_model  # noqa: F401
from .gmm import GaussianMixture, GaussianMixturePrior, gmm2d, gmm_grid  # noqa: F401
from ..weights_manifest import weights_dir  # noqa: F401
from .hub import HUB_PRIORS, PRIORS, PriorUnavailable, load_prior, stand_in_prior  # noqa: F401
from .latent import LatentPrior, is_latent_prior  # noqa: F401
from .priors import Prior, UNetPrior, ddim_step, ddpm_posterior, ddpm_step  # noqa: F401
from .schedule import GRIDS, VPSchedule, karras_sigmas, pairs, timesteps  # noqa: F401
