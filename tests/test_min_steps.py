"""Each solver's measured minimum step count (``invlab.solvers.defaults.MIN_STEPS``): below it a solver on the
shipped prior still runs, with a warning that names the argument, the minimum and why."""
import csv
import warnings
from pathlib import Path

import pytest
import torch

import invlab
from invlab.solvers import SOLVERS
from invlab.solvers.defaults import MIN_STEPS, MIN_STEPS_PRIOR

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "min_steps.csv"
KNOB = {"pnp_admm": "iterations", "dcdp": "rounds", "daps": "annealing_steps"}


def test_every_table_entry_is_the_benchmarks_minimum():
    """MIN_STEPS is what benchmarks/bench_min_steps.py measured: the smallest count from which every larger count
    reaches A⁺y's PSNR on every task."""
    rows = list(csv.DictReader(RESULTS.open()))
    solvers = dict.fromkeys(r["solver"] for r in rows)
    for name in solvers:
        mine = [r for r in rows if r["solver"] == name]
        counts = sorted({int(r["steps"]) for r in mine})
        ok = {n: all(float(r["psnr"]) >= float(r["pseudo_inverse_psnr"]) for r in mine if int(r["steps"]) == n)
              for n in counts}
        least = next((n for i, n in enumerate(counts) if all(ok[m] for m in counts[i:])), None)
        assert MIN_STEPS.get(name) == least, name


@pytest.fixture(scope="module")
def glyph_problem():
    x, _ = invlab.glyphs(1, split="test")
    return invlab.make_problem("sr4", x, sigma_y=0.05, seed=0), invlab.load_prior(MIN_STEPS_PRIOR)


@pytest.mark.parametrize("name", ["dps", "ddnm", "pnp_admm", "dcdp"])
def test_fewer_steps_warn_and_name_the_argument(glyph_problem, name):
    problem, prior = glyph_problem
    least = MIN_STEPS[name]
    if least == 1:
        pytest.skip(f"{name}: every count is meaningful")
    knob = KNOB.get(name, "steps")
    with pytest.warns(UserWarning, match=rf"{knob}={least - 1}: {name} needs at least {least} {knob}") as rec:
        SOLVERS[name](problem, prior, generator=torch.Generator().manual_seed(0), **{knob: least - 1})
    assert all(Path(w.filename).name == Path(__file__).name for w in rec)      # the warning points at the caller


def test_enough_steps_and_other_priors_do_not_warn(glyph_problem):
    """At the minimum no warning; below it on a prior the minimum was not measured on, no warning either."""
    import copy
    problem, prior = glyph_problem
    other = copy.copy(prior)
    other.name = "another-prior"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SOLVERS["ddnm"](problem, prior, steps=MIN_STEPS["ddnm"], generator=torch.Generator().manual_seed(0))
        SOLVERS["ddnm"](problem, other, steps=1, generator=torch.Generator().manual_seed(0))
