"""Solvers: one plain function per method, one signature for all (notebooks 02–09).

``solver(problem, prior, *, <hyperparameters>, generator=None, callback=None) -> Result``;
:data:`SOLVERS` maps names to functions.
"""
from .base import SOLVERS, Result, solver  # noqa: F401
from .baselines import prior_sample, pseudo_inverse  # noqa: F401
from .guidance import dps, pigdm  # noqa: F401,E402
from .projection import ddnm, ddrm  # noqa: F401,E402
from .dpg import dpg  # noqa: F401,E402
from .regularization import hrdis, red_diff  # noqa: F401,E402
from .splitting import ddiff, diffpir, pnp_admm  # noqa: F401,E402
from .purification import dcdp  # noqa: F401,E402
from .daps import daps  # noqa: F401,E402
from .learned import ddc  # noqa: F401,E402
from .latent import latent_dps, psld, resample  # noqa: F401,E402
