"""The shipped glyph classifier and the metrics built on it."""
import pytest
import torch
import torch.nn.functional as F

import invlab
from invlab import metrics
from invlab.diffusion import weights_dir


@pytest.fixture(scope="module")
def test_set():
    return invlab.glyphs(600, split="test", start=5000)


def test_classifier_shipped_small_and_accurate(test_set):
    size = sum(f.stat().st_size for f in weights_dir("glyph_classifier").iterdir())
    assert size <= 2 * 2 ** 20
    x, labels = test_set
    acc = float(metrics.classifier_accuracy(x, labels).mean())
    assert acc >= 0.98


def test_classifier_probabilities(test_set):
    x, _ = test_set
    p = metrics.classifier_probs(x[:50])
    assert p.shape == (50, 10)
    torch.testing.assert_close(p.sum(1), torch.ones(50))
    assert float((p.max(1).values >= 0.9).float().mean()) > 0.9


def test_frechet_distance_orders_sets(test_set):
    x, _ = test_set
    train = invlab.glyphs(600, split="train", seed=3)[0]
    blurred = F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    noise = torch.rand(600, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    same = metrics.frechet_distance(x[:300], x[:300])
    fd_train = metrics.frechet_distance(train, x)
    fd_blur = metrics.frechet_distance(blurred, x)
    fd_noise = metrics.frechet_distance(noise, x)
    assert abs(same) < 1e-6
    assert fd_train < fd_blur < fd_noise


def test_glyph_metric_bad_input():
    with pytest.raises(ValueError, match=r"x: the glyph classifier reads \(B, 1, 32, 32\)"):
        metrics.classifier_probs(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="labels: expected a"):
        metrics.classifier_accuracy(torch.zeros(2, 1, 32, 32), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="x_a: need at least two images"):
        metrics.frechet_distance(torch.zeros(1, 1, 32, 32), torch.zeros(5, 1, 32, 32))


def test_canny_outlines_a_square_and_ignores_flat_images():
    x = -torch.ones(2, 1, 32, 32)
    x[0, :, 10:20, 10:20] = 1.0
    edges = metrics.canny(x)
    assert not bool(edges[1].any())                                    # a flat image has no edges
    assert not bool(edges[0, 12:18, 12:18].any())                      # nothing inside the square
    assert not bool(edges[0, :7].any()) and not bool(edges[0, 23:].any())
    assert 30 <= int(edges[0].sum()) <= 48                              # one thin outline (perimeter 40)
    d = metrics.edge_density(x)
    assert d.shape == (2,) and float(d[0]) == pytest.approx(int(edges[0].sum()) / 1024)
    with pytest.raises(ValueError, match="x:"):
        metrics.edge_density(torch.full((1, 1, 8, 8), float("nan")))


def test_excess_kurtosis_is_zero_for_gaussians_and_negative_for_flat_noise():
    g = torch.Generator().manual_seed(0)
    k_gauss = metrics.excess_kurtosis(torch.randn(4, 1, 64, 64, generator=g))
    k_flat = metrics.excess_kurtosis(torch.rand(4, 1, 64, 64, generator=g))
    assert k_gauss.shape == (4,) and float(k_gauss.abs().max()) < 0.2
    torch.testing.assert_close(k_flat, torch.full((4,), -1.2), atol=0.1, rtol=0)     # uniform: −6/5
    with pytest.raises(ValueError, match="x: contains NaN"):
        metrics.excess_kurtosis(torch.full((1, 4), float("nan")))


def test_laplacian_energy_is_zero_on_ramps_and_counts_a_checkerboard():
    ramp = torch.linspace(-1, 1, 16).expand(2, 1, 16, 16).contiguous()
    assert float(metrics.laplacian_energy(ramp).abs().max()) < 1e-10
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2.0 - 1
    torch.testing.assert_close(metrics.laplacian_energy(checker.expand(1, 1, 16, 16)), torch.tensor([64.0]))
