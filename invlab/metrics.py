"""Image-quality and posterior metrics. Every function takes batches and returns per-image values.

* :func:`psnr`, :func:`ssim` (a torch port of scikit-image's ``structural_similarity`` with its
  defaults, verified against it in the tests), :func:`residual` (DDiff's ‖y − A(x̂)‖²/dim(y)),
  :func:`lpips` (optional: needs the ``lpips`` extra, its torchvision, and the backbone weights),
  :func:`edge_density` (share of Canny edge pixels: DCDP's "high-frequency detail" measure).
* Glyph metrics built on the shipped classifier (:func:`classifier_accuracy`,
  :func:`frechet_distance` in its penultimate features — our data set's FID analogue) and
  :func:`sliced_wasserstein` between vector samples (notebook 02).
* :func:`scorecard`: one table row for a solver's result on glyphs (notebooks 03 onwards).

One rule for estimates: every image metric (PSNR, SSIM, LPIPS, Canny edges and edge density,
the Laplacian energy and the classifier metrics) takes any *finite* estimate and measures it
clamped to the data range [-1, 1], as the command line and the benchmark report it — a solver
whose output overshoots the range (RED-diff's, for one) is scored on the image it shows. The
clamp is applied in one place, :func:`clamp_estimate`. A NaN or infinite value is an error
naming the argument. A reference image (``ref``) must be an image in [-1, 1] (the checks allow
0.5 of slack, which catches images on another scale such as [0, 255]) and is clamped the same
way. :func:`residual` is the exception: it measures how well the estimate *as returned* explains
``y``, so it does not clamp.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from ._checks import check_device, check_generator, check_image, check_int, check_tensor

__all__ = ["clamp_estimate", "psnr", "ssim", "residual", "lpips", "LpipsUnavailable", "classifier_probs",
           "classifier_accuracy", "classifier_features", "frechet_distance", "sliced_wasserstein", "scorecard",
           "canny", "edge_density", "excess_kurtosis", "laplacian_energy"]


DATA_RANGE = (-1.0, 1.0)


def clamp_estimate(x: torch.Tensor, name: str = "x", *, ndim: int | None = 4) -> torch.Tensor:
    """The estimate the metrics measure: ``x`` checked (a finite floating tensor, ``ndim``-D, on a
    real device; the error names ``name``) and clamped to the data range [-1, 1]."""
    if isinstance(x, torch.Tensor):
        check_device(name, x)
    check_tensor(name, x, ndim=ndim)
    return x.clamp(*DATA_RANGE)


def _reference(ref: torch.Tensor, name: str = "ref") -> torch.Tensor:
    if isinstance(ref, torch.Tensor):
        check_device(name, ref)
    check_image(name, ref)
    return ref.clamp(*DATA_RANGE)


def _pair(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` and ``ref`` as the image metrics compare them (module docstring): both clamped to
    [-1, 1]; ``ref`` of ``x``'s shape, or one reference image for a batch of estimates."""
    x = clamp_estimate(x, "x")
    ref = _reference(ref, "ref")
    if ref.device != x.device:
        raise ValueError(f"ref: lives on {str(ref.device)!r} but x on {str(x.device)!r}; put both on one device")
    if not (ref.shape[0] == 1 and x.shape[0] > 1 and ref.shape[1:] == x.shape[1:]) and x.shape != ref.shape:
        raise ValueError(f"ref: shape {tuple(ref.shape)} does not match x {tuple(x.shape)}")
    return x, ref


def psnr(x: torch.Tensor, ref: torch.Tensor, *, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image; images in [-1, 1] (range 2). Shape (B,).

    ``x`` may hold any finite values: it is measured clamped to [-1, 1] (module docstring).
    """
    x, ref = _pair(x, ref)
    mse = ((x.double() - ref.double()) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(data_range ** 2 / mse.clamp_min(1e-20))).to(x.dtype)


def ssim(x: torch.Tensor, ref: torch.Tensor, *, data_range: float = 2.0, win_size: int = 7) -> torch.Tensor:
    """Structural similarity per image, as ``skimage.metrics.structural_similarity`` with its
    defaults (7×7 uniform window, K1 = 0.01, K2 = 0.03, sample covariance, border of 3 pixels
    cropped, mean over channels). Shape (B,). ``x`` is measured clamped to [-1, 1]."""
    x, ref = _pair(x, ref)
    if min(x.shape[-2:]) < win_size:
        raise ValueError(f"x: images must be at least {win_size}x{win_size} for SSIM, got {tuple(x.shape)}")
    a, b = x.double(), ref.double().expand_as(x)
    C = a.shape[1]
    k = torch.ones(C, 1, win_size, win_size, dtype=a.dtype, device=a.device) / win_size ** 2
    filt = lambda t: F.conv2d(t, k, groups=C)  # noqa: E731  (valid region = skimage's crop)
    n = win_size ** 2
    cov_norm = n / (n - 1)
    ux, uy = filt(a), filt(b)
    vx = cov_norm * (filt(a * a) - ux * ux)
    vy = cov_norm * (filt(b * b) - uy * uy)
    vxy = cov_norm * (filt(a * b) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1).to(x.dtype)


def residual(problem, x_hat: torch.Tensor) -> torch.Tensor:
    """Measurement residual ‖y − A(x̂)‖² / dim(y) per image (DDiff's metric).

    For a solver that explains the data without fitting the noise it is ≈ σ_y²: much lower means
    the noise was fitted (hallucination), much higher that the data were ignored. The estimate is
    taken as returned (not clamped): this measures the solver's fit to ``y``.
    """
    if isinstance(x_hat, torch.Tensor):
        check_device("x_hat", x_hat)
    check_tensor("x_hat", x_hat, ndim=4)
    if tuple(x_hat.shape[1:]) != tuple(problem.op.input_shape):
        raise ValueError(f"x_hat: shape {tuple(x_hat.shape)} does not match the problem's images "
                         f"{tuple(problem.x.shape)}")
    with torch.no_grad():
        r = problem.y - problem.op(x_hat)
    return (r.double() ** 2).flatten(1).mean(1).to(x_hat.dtype)


class LpipsUnavailable(ImportError):
    """LPIPS cannot run here: the package, torchvision, or the backbone weights are missing."""


@functools.lru_cache(maxsize=2)
def _lpips_model(net: str):
    try:
        import lpips as _lp  # noqa: F401
    except Exception as e:  # ImportError, or torchvision failing to import beside CPU torch
        raise LpipsUnavailable(
            "lpips: the LPIPS metric needs the optional 'lpips' package and a torchvision that matches "
            "your torch. Install them with `pip install -e \".[lpips]\"` (on a CPU-only torch install the "
            f"matching CPU torchvision first). Import failed with: {type(e).__name__}: {e}") from None
    try:
        model = _lp.LPIPS(net=net, verbose=False)
    except Exception as e:
        raise LpipsUnavailable(
            f"lpips: the '{net}' backbone weights could not be loaded (they are downloaded by torchvision "
            "on first use, so this needs the internet once, or the file in torch's hub cache "
            f"$TORCH_HOME/hub/checkpoints). Error: {type(e).__name__}: {e}") from None
    return model.eval()


def lpips(x: torch.Tensor, ref: torch.Tensor, *, net: str = "alex") -> torch.Tensor:
    """LPIPS distance per image (lower is closer). Grayscale images are repeated to 3 channels.

    Raises :class:`LpipsUnavailable` with what is missing and how to install it when the
    optional dependency or its weights are not there; it never downloads silently in a test.
    ``x`` is measured clamped to [-1, 1].
    """
    x, ref = _pair(x, ref)
    model = _lpips_model(net).to(x.device)
    a, b = x, ref.expand_as(x)
    if a.shape[1] == 1:
        a, b = a.repeat(1, 3, 1, 1), b.repeat(1, 3, 1, 1)
    with torch.no_grad():
        return model(a.float(), b.float()).flatten().to(x.dtype)


# ------------------------------------------------------------------------------------------------
# glyph metrics on the shipped classifier

def _glyph_batch(name: str, x: torch.Tensor) -> torch.Tensor:
    x = clamp_estimate(x, name)
    if tuple(x.shape[1:]) != (1, 32, 32):
        raise ValueError(f"{name}: the glyph classifier reads (B, 1, 32, 32) images, got {tuple(x.shape)}")
    return x


def _batched(fn, x: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    from .classifier import load_classifier
    model = load_classifier(x.device)
    with torch.no_grad():
        return torch.cat([fn(model, x[i:i + chunk].float()) for i in range(0, x.shape[0], chunk)])


def classifier_probs(x: torch.Tensor) -> torch.Tensor:
    """Class probabilities (B, 10) of the shipped glyph classifier (inputs clamped to [-1, 1])."""
    x = _glyph_batch("x", x)
    return _batched(lambda m, b: torch.softmax(m(b), 1), x)


def classifier_accuracy(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per image: 1.0 where the classifier reads the intended digit, else 0.0. Shape (B,)."""
    _glyph_batch("x", x)
    if not isinstance(labels, torch.Tensor) or labels.shape != (x.shape[0],):
        raise ValueError(f"labels: expected a ({x.shape[0]},) tensor of digits")
    return (classifier_probs(x).argmax(1).cpu() == labels.cpu()).to(torch.float32)


def classifier_features(x: torch.Tensor) -> torch.Tensor:
    """The classifier's 128-D penultimate features, (B, 128) float64 (inputs clamped to [-1, 1])."""
    x = _glyph_batch("x", x)
    return _batched(lambda m, b: m.features(b), x).double()


def _frechet(fa: torch.Tensor, fb: torch.Tensor) -> float:
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    ca, cb = torch.cov(fa.T), torch.cov(fb.T)
    # Tr (Ca Cb)^{1/2} = Σ sqrt(eig(Ca^{1/2} Cb Ca^{1/2}))
    ea, va = torch.linalg.eigh(ca)
    sa = va @ torch.diag(ea.clamp_min(0).sqrt()) @ va.T
    ev = torch.linalg.eigvalsh(sa @ cb @ sa).clamp_min(0)
    return float(((mu_a - mu_b) ** 2).sum() + torch.trace(ca) + torch.trace(cb) - 2 * ev.sqrt().sum())


def frechet_distance(x_a: torch.Tensor, x_b: torch.Tensor) -> float:
    """Fréchet distance between two sets of glyph images in the classifier's feature space:
    ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2(Σ_a Σ_b)^{1/2}) — FID's formula with our classifier.

    A set-level number (one float): compare sets of equal size, ideally ≥ 500 images; small sets
    are biased upwards.
    """
    _glyph_batch("x_a", x_a)
    _glyph_batch("x_b", x_b)
    if x_a.shape[0] < 2 or x_b.shape[0] < 2:
        raise ValueError("x_a: need at least two images per set")
    return _frechet(classifier_features(x_a).cpu(), classifier_features(x_b).cpu())


def canny(x: torch.Tensor, *, sigma: float = 1.0, low: float = 0.1, high: float = 0.2) -> torch.Tensor:
    """Canny edge map (B, H, W) of images in [-1, 1] (channels averaged, mapped to [0, 1]):
    Gaussian smoothing (σ pixels), Sobel gradients, non-maximum suppression across the edge,
    double threshold on the gradient magnitude (``low``/``high``, in intensity per pixel of the
    [0, 1] image — scikit-image's defaults for float images) and hysteresis (weak pixels kept when
    8-connected to a strong one). ``x`` is measured clamped to [-1, 1]."""
    x = clamp_estimate(x, "x")
    g = ((x.mean(1, keepdim=True) + 1) / 2).float()
    r = max(1, int(round(3 * sigma)))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma ** 2))
    k = (k / k.sum()).to(g.device)
    g = F.conv2d(F.pad(g, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    g = F.conv2d(F.pad(g, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    sob = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=g.device)
    gp = F.pad(g, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(gp, sob.view(1, 1, 3, 3))[:, 0]
    gy = F.conv2d(gp, sob.t().reshape(1, 1, 3, 3))[:, 0]
    mag = torch.hypot(gx, gy)
    # gradient direction quantised to 0°, 45°, 90°, 135°; compare with both neighbours along it
    ang = torch.rad2deg(torch.atan2(gy, gx)) % 180
    sector = (((ang + 22.5) // 45) % 4).long()
    mp = F.pad(mag, (1, 1, 1, 1))
    H, W = mag.shape[-2:]
    shifted = lambda dy, dx: mp[:, 1 + dy:1 + dy + H, 1 + dx:1 + dx + W]  # noqa: E731
    offsets = [(0, 1), (1, 1), (1, 0), (1, -1)]
    keep = torch.zeros_like(mag, dtype=torch.bool)
    for s_, (dy, dx) in enumerate(offsets):
        local_max = (mag >= shifted(dy, dx)) & (mag >= shifted(-dy, -dx))
        keep |= (sector == s_) & local_max
    mag = torch.where(keep, mag, torch.zeros_like(mag))
    strong, weak = mag >= high, mag >= low
    edges = strong
    for _ in range(H * W):
        grown = weak & (F.max_pool2d(edges.float().unsqueeze(1), 3, 1, 1)[:, 0] > 0)
        if bool((grown == edges).all()):
            break
        edges = grown
    return edges


def edge_density(x: torch.Tensor, **kw) -> torch.Tensor:
    """Share of pixels on a :func:`canny` edge, per image — the DCDP paper's measure of
    high-frequency detail (sharper reconstructions have more edges)."""
    return canny(x, **kw).flatten(1).float().mean(1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, n_dirs: int = 100,
                       generator: torch.Generator | None = None) -> float:
    """Sliced 2-Wasserstein distance between two sample sets (n, d) and (m, d):
    sqrt(mean over ``n_dirs`` random unit directions θ of W_2²(θᵀa, θᵀb)).

    1-D W_2 compares sorted projections (quantiles at common levels when n ≠ m).
    """
    for name, t in (("a", a), ("b", b)):
        if isinstance(t, torch.Tensor):
            check_device(name, t)
        check_tensor(name, t, ndim=2)
        if t.shape[0] == 0 or t.shape[1] == 0:
            raise ValueError(f"{name}: needs at least one sample of at least one dimension, got shape "
                             f"{tuple(t.shape)}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"b: dimension {b.shape[1]} does not match a's {a.shape[1]}")
    check_int("n_dirs", n_dirs, lo=1)
    g = check_generator("generator", generator)
    g = g if g is not None else torch.Generator().manual_seed(0)
    theta = torch.randn(a.shape[1], n_dirs, generator=g, dtype=torch.float64)
    theta = theta / theta.norm(dim=0, keepdim=True)
    pa = (a.double().cpu() @ theta).sort(0).values
    pb = (b.double().cpu() @ theta).sort(0).values
    if pa.shape[0] != pb.shape[0]:
        q = torch.linspace(0, 1, max(pa.shape[0], pb.shape[0]), dtype=torch.float64)
        pa, pb = torch.quantile(pa, q, dim=0), torch.quantile(pb, q, dim=0)
    return float(((pa - pb) ** 2).mean(0).mean().sqrt())


def laplacian_energy(x: torch.Tensor) -> torch.Tensor:
    """Mean squared 5-point Laplacian of each image (clamped to [-1, 1]), shape (B,): the
    high-frequency energy [HRDIS] uses to call an output sharp (notebook 08)."""
    x = clamp_estimate(x, "x")
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=x.dtype, device=x.device)
    k = k.expand(x.shape[1], 1, 3, 3)
    return F.conv2d(x, k, groups=x.shape[1]).pow(2).flatten(1).mean(1)


def excess_kurtosis(x: torch.Tensor) -> torch.Tensor:
    """Excess kurtosis E[(x−μ)⁴]/σ⁴ − 3 of each sample's values (0 for Gaussian noise, < 0 for
    flat, > 0 for heavy-tailed): DDC's test of whether a network input still looks like noise."""
    if isinstance(x, torch.Tensor):
        check_device("x", x)
    check_tensor("x", x)
    if x.ndim < 2 or 0 in x.shape[1:]:
        raise ValueError(f"x: expected a batch (B, ...) of non-empty samples, got shape {tuple(x.shape)}")
    v = x.flatten(1).double()
    c = v - v.mean(1, keepdim=True)
    return ((c ** 4).mean(1) / (c ** 2).mean(1).clamp_min(1e-300) ** 2 - 3).to(x.dtype)


def scorecard(problem, result, labels: torch.Tensor | None = None) -> dict:
    """One table row for a solver's :class:`~invlab.solvers.Result` on ``problem``: mean PSNR and
    SSIM against the problem's ground truth (estimate clamped to [-1, 1]), the classifier's
    accuracy when ``labels`` are given (glyphs), the root residual √(‖y − A x̂‖²/dim y) (≈ σ_y when
    the data are explained), and the cost (NFE, VJP, seconds)."""
    x_hat = clamp_estimate(result.x, "result.x")
    row = {"psnr": float(psnr(x_hat, problem.x).mean()), "ssim": float(ssim(x_hat, problem.x).mean())}
    if labels is not None:
        row["accuracy"] = float(classifier_accuracy(x_hat, labels).mean())
    row.update(residual=float(residual(problem, result.x).mean().sqrt()), nfe=result.nfe, vjp=result.vjp,
               seconds=round(result.seconds, 2))
    return row
