"""invlab.stats.paired_difference: bootstrap coverage, verdicts, determinism and input checks."""
import numpy as np
import pytest
import torch

import invlab
from invlab.stats import PairedDifference, paired_difference


def test_interval_covers_the_true_mean_at_about_the_nominal_rate():
    # differences ~ N(0.5, 1) over 32 pairs: the 95 % interval should hold 0.5 about 95 % of the time
    g = torch.Generator().manual_seed(1)
    hits = 0
    for _ in range(300):
        a = torch.randn(32, generator=g) + 0.5
        d = paired_difference(a, torch.zeros(32), n_boot=1000, generator=g)
        assert d.low < d.mean < d.high
        hits += d.low <= 0.5 <= d.high
    assert 0.90 <= hits / 300 <= 0.99


def test_two_way_scheme_covers_the_true_mean_for_crossed_effects():
    # [seeds, images]: an image effect shared across seeds, a small seed effect, cell noise
    g = torch.Generator().manual_seed(2)
    hits = 0
    for _ in range(300):
        a = (0.5 + 0.1 * torch.randn(3, 1, generator=g) + torch.randn(1, 32, generator=g)
             + 0.5 * torch.randn(3, 32, generator=g))
        d = paired_difference(a, torch.zeros(3, 32), n_boot=1000, generator=g)
        assert d.scheme == "images and seeds" and d.n == 96
        hits += d.low <= 0.5 <= d.high
    assert 0.88 <= hits / 300 <= 0.99


def test_two_way_scheme_is_wider_than_treating_correlated_cells_as_independent():
    # with a strong image effect, resampling the 96 cells as if independent understates the spread
    g = torch.Generator().manual_seed(3)
    a = torch.randn(1, 32, generator=g).repeat(3, 1) + 0.1 * torch.randn(3, 32, generator=g)
    two_way = paired_difference(a, torch.zeros_like(a))
    flat = paired_difference(a.flatten(), torch.zeros(96))
    assert two_way.mean == pytest.approx(flat.mean)
    assert (two_way.high - two_way.low) > 1.4 * (flat.high - flat.low)


def test_zero_difference_reads_no_measurable_difference():
    x = [24.1, 23.0, 25.2, 22.8]
    d = paired_difference(x, x)
    assert (d.mean, d.low, d.high) == (0.0, 0.0, 0.0) and d.holds_zero
    assert d.verdict("DPS", "DDNM") == ("no measurable difference between DPS and DDNM "
                                        "(mean difference 0.0 dB, 95 % CI 0.0 to 0.0)")
    g = torch.Generator().manual_seed(4)
    noise = torch.randn(64, generator=g)
    d = paired_difference(20 + noise, 20 + noise.flip(0))   # same values, shuffled pairing: mean 0
    assert d.holds_zero and d.verdict("A", "B").startswith("no measurable difference between A and B")


def test_verdict_follows_the_interval_and_the_metric_direction():
    g = torch.Generator().manual_seed(5)
    b = 20 + torch.randn(32, generator=g)
    a = b + 1.2 + 0.3 * torch.randn(32, generator=g)
    d = paired_difference(a, b)
    assert d.low > 0 and not d.holds_zero
    text = d.verdict("DPS", "DDNM")
    assert text == f"DPS beats DDNM by {d.mean:.1f} dB (95 % CI {d.low:.1f} to {d.high:.1f})"
    # swapped arguments: B's side of zero, the winner named first with positive figures
    r = paired_difference(b, a)
    assert r.verdict("DDNM", "DPS") == text
    # lower is better (a distance): the smaller one wins
    assert r.verdict("X", "Y", "", higher_is_better=False).startswith(f"X beats Y by {d.mean:.1f} (95 % CI")
    # an interval just above zero gets the decimals it needs, and the level is printed as given
    tiny = paired_difference([0.031, 0.052, 0.043, 0.06, 0.038], [0.0] * 5, level=0.9)
    assert tiny.low > 0 and tiny.verdict("A", "B", "dB").startswith("A beats B by 0.04 dB (90 % CI 0.0")
    assert "\u2212" in paired_difference([1.0, -2.0, 0.5], [0.0, 0.0, 0.0]).verdict("A", "B")


def test_deterministic_given_the_generator_and_frozen():
    a, b = np.linspace(0, 1, 20), np.linspace(0.1, 0.8, 20) ** 2
    one = paired_difference(a, b, generator=torch.Generator().manual_seed(7))
    two = paired_difference(a, b, generator=torch.Generator().manual_seed(7))
    other = paired_difference(a, b, generator=torch.Generator().manual_seed(8))
    assert one == two and (one.low, one.high) != (other.low, other.high)
    assert paired_difference(a, b) == paired_difference(a, b)      # default: a stream seeded with 0
    assert isinstance(one, PairedDifference) and invlab.paired_difference is paired_difference
    with pytest.raises(AttributeError):
        one.mean = 0.0


@pytest.mark.parametrize("a, b, kw, match", [
    ([1.0, 2.0, 3.0], [1.0, 2.0], {}, r"b: shape \(2,\) differs from a's \(3,\)"),
    ([[1.0, 2.0]], [1.0, 2.0], {}, r"b: shape \(2,\) differs from a's \(1, 2\)"),
    ([1.0, float("nan"), 3.0], [1.0, 2.0, 3.0], {}, r"a: 1 of 3 values are not finite"),
    ([1.0, 2.0, 3.0], [1.0, float("inf"), 3.0], {}, r"b: 1 of 3 values are not finite"),
    ([1.0], [2.0], {}, r"a: need at least 2 pairs, got 1"),
    (torch.zeros(2, 2, 2), torch.zeros(2, 2, 2), {}, r"a: expected a 1-D .* or a 2-D \[seeds, images\]"),
    ([1.0, 2.0], [1.0, 2.0], {"n_boot": 10}, r"n_boot: expected an integer ≥ 100"),
    ([1.0, 2.0], [1.0, 2.0], {"level": 95}, r"level: expected a number strictly between 0 and 1"),
])
def test_bad_input_names_the_argument(a, b, kw, match):
    with pytest.raises(ValueError, match=match):
        paired_difference(a, b, **kw)


def test_bad_types_name_the_argument():
    with pytest.raises(TypeError, match="generator: expected a torch.Generator"):
        paired_difference([1.0, 2.0], [1.0, 3.0], generator=0)
    with pytest.raises(TypeError, match="a: expected numbers"):
        paired_difference("abc", [1.0, 2.0])
    d = paired_difference([1.0, 2.0], [1.0, 3.0])
    with pytest.raises(ValueError, match="name_b: expected a non-empty string"):
        d.verdict("A", "")
