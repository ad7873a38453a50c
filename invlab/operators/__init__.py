"""Forward operators A(x) for image inverse problems (notebook 01).

Linear operators (:class:`LinearOperator`) have an exact adjoint ``A.T(y)``, a pseudo-inverse
``A.pinv(y)`` and, where the spectral solvers need it, an SVD view ``A.svd()``. Nonlinear ones
(phase retrieval, HDR, JPEG) are plain :class:`Operator` s. ``A @ B`` composes. Build them by task
name with :func:`invlab.make_operator` (or :func:`invlab.make_problem`, which also measures).
"""
from .base import (CGLSInfo, Composed, LinearOperator, Operator, SVDView, batch_dot,  # noqa: F401
                   cgls, conjugate_gradient, least_squares)
from .linear import (BlockCS, Convolution, Identity, Mask, Matrix, Separable, avg_pool_matrix,  # noqa: F401
                     bicubic_matrix, circulant, gaussian_kernel1d)
from .nonlinear import HDR, JPEG, PhaseRetrieval, dct_matrix, jpeg_quant_tables  # noqa: F401
from .random import box_mask, freeform_mask, motion_kernel, random_mask, random_orthogonal  # noqa: F401
