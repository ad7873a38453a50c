"""invlab — image inverse problems with diffusion priors: the package behind the course.

Start with ``notebooks/00_welcome``. The main entry points are re-exported here:
:func:`make_problem` (a measured inverse problem), :func:`make_operator`, :func:`load_prior`,
:func:`test_image`, :func:`glyphs`, :func:`load_ddc`, :data:`SOLVERS` and :func:`setup_notebook`.
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import diffusion, metrics, noise, operators, solvers, viz  # noqa: F401
from .data import glyphs, test_image  # noqa: F401
from .ddc import load_ddc  # noqa: F401
from .diffusion import load_prior  # noqa: F401
from .problems import TASKS, InverseProblem, make_operator, make_problem, task_defaults  # noqa: F401
from ._notebook import pin_cpu_kernels, setup_notebook  # noqa: F401
from .solvers import SOLVERS, Result  # noqa: F401
from .stats import PairedDifference, paired_difference  # noqa: F401
