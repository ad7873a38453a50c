"""Figures: grids, comparisons with metrics, trajectories (headless)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import invlab  # noqa: E402
from invlab import viz  # noqa: E402


def test_show_images_and_titles():
    x = invlab.glyphs(5)[0]
    fig = viz.show_images(x, [str(i) for i in range(5)], ncols=3)
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "0"
    plt.close(fig)


def test_compare_annotates_metrics():
    x = invlab.glyphs(2)[0]
    p = invlab.make_problem("sr4", x, sigma_y=0.05)
    fig = viz.compare(x, {"A⁺y": p.op.pinv(p.y)}, measurement=p.op.pinv(p.y), index=1)
    titles = [a.get_title() for a in fig.axes]
    assert titles[0] == "ground truth" and "dB" in titles[2]
    plt.close(fig)


def test_to_numpy_image_colour_and_errors():
    img = viz.to_numpy_image(invlab.test_image("astronaut", 16))
    assert img.shape == (16, 16, 3) and img.min() >= 0 and img.max() <= 1
    with pytest.raises(ValueError, match="x: expected a single image"):
        viz.to_numpy_image(torch.zeros(2, 1, 4, 4))


def test_show_trajectory():
    frames = [invlab.glyphs(1)[0] * s for s in (0.2, 0.6, 1.0)]
    fig = viz.show_trajectory(frames, ["a", "b", "c"], title="x̂₀")
    assert len(fig.axes) == 3
    plt.close(fig)
