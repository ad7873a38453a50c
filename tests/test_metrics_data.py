"""Metrics (PSNR, SSIM against scikit-image, residual, LPIPS's error) and the data module."""
import numpy as np
import pytest
import torch

import invlab
from invlab import metrics
from invlab.data import glyphs
from invlab.data import test_image as load_test_image


def test_psnr_known_value():
    ref = torch.zeros(2, 1, 8, 8)
    x = ref + torch.tensor([0.1, 0.2]).view(2, 1, 1, 1)
    expected = 10 * np.log10(4 / np.array([0.01, 0.04]))
    np.testing.assert_allclose(metrics.psnr(x, ref).numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("C", [1, 3])
def test_ssim_matches_scikit_image(C):
    from skimage.metrics import structural_similarity
    g = torch.Generator().manual_seed(0)
    ref = load_test_image("astronaut" if C == 3 else "camera", 32, dtype=torch.float64).expand(3, -1, -1, -1)
    x = (ref + 0.2 * torch.randn(ref.shape, generator=g, dtype=torch.float64)).clamp(-1, 1)
    ours = metrics.ssim(x, ref)
    for b in range(3):
        a, r = x[b].numpy(), ref[b].numpy()
        sk = structural_similarity(a, r, data_range=2.0, channel_axis=0)
        assert abs(float(ours[b]) - sk) < 1e-6
    assert float(metrics.ssim(ref, ref).min()) == pytest.approx(1.0)


def test_residual_matches_definition():
    x = glyphs(2)[0]
    p = invlab.make_problem("sr4", x, sigma_y=0.1)
    r = metrics.residual(p, x)
    expected = ((p.y - p.op(x)) ** 2).flatten(1).mean(1)
    torch.testing.assert_close(r, expected)
    with pytest.raises(ValueError, match="x_hat: shape"):
        metrics.residual(p, torch.zeros(2, 1, 16, 16))


def test_metric_inputs_checked():
    with pytest.raises(ValueError, match="ref: shape"):
        metrics.psnr(torch.zeros(2, 1, 8, 8), torch.zeros(3, 1, 8, 8))
    with pytest.raises(ValueError, match="x: contains NaN"):
        metrics.psnr(torch.full((1, 1, 8, 8), float("nan")), torch.zeros(1, 1, 8, 8))


def test_lpips_missing_gives_one_clear_error():
    try:
        import lpips  # noqa: F401
        pytest.skip("lpips is installed here")
    except Exception:
        pass
    with pytest.raises(metrics.LpipsUnavailable, match=r"pip install -e \"\.\[lpips\]\""):
        metrics.lpips(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32))


def test_glyphs_deterministic_random_access_and_range():
    x, lab = glyphs(300, split="test", seed=0)
    x2, lab2 = glyphs(300, split="test", seed=0)
    assert torch.equal(x, x2) and torch.equal(lab, lab2)
    xs, ls = glyphs(10, split="test", seed=0, start=250)
    assert torch.equal(xs, x[250:260]) and torch.equal(ls, lab[250:260])
    assert x.shape == (300, 1, 32, 32) and x.dtype == torch.float32
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert set(lab.tolist()) == set(range(10))
    # ink covers a sensible share of the image and every image has ink
    ink = ((x + 1) / 2).flatten(1).mean(1)
    assert float(ink.min()) > 0.01 and float(ink.max()) < 0.6
    assert len(invlab.data.glyph_fonts()) >= 10


def test_train_and_test_share_no_image():
    tr = glyphs(2048, split="train")[0].flatten(1)
    te = glyphs(512, split="test")[0].flatten(1)
    d = torch.cdist(te, tr)
    assert float(d.min()) > 1e-3
    assert not torch.equal(glyphs(8, seed=1)[0], glyphs(8, seed=0)[0])


def test_glyph_bad_args():
    with pytest.raises(ValueError, match="split: unknown value"):
        glyphs(4, split="val")
    with pytest.raises(ValueError, match="n: must lie in"):
        glyphs(-1)


@pytest.mark.parametrize("name", invlab.data.TEST_IMAGES)
def test_test_images_offline(name):
    x = load_test_image(name, 32)
    assert x.shape[0] == 1 and x.shape[1] in (1, 3) and x.shape[-2:] == (32, 32)
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert load_test_image(name, 16, gray=True).shape == (1, 1, 16, 16)


def test_test_image_unknown_name():
    with pytest.raises(ValueError, match="name: unknown value 'lena'"):
        load_test_image("lena")
