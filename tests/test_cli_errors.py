"""The invlab command line refuses every misuse before any work, in one line on stderr with exit
code 2, naming the flag; outputs are written atomically, so a failed run leaves nothing behind."""
import os

import pytest

import invlab
import invlab.bench
from invlab.cli import main

SOLVE = ["solve", "--task", "sr4", "--method", "ddrm", "--image", "glyph:0", "--steps", "2"]
BENCH = ["bench", "--methods", "pseudo_inverse", "--tasks", "sr4", "--n", "1"]


def _no_work(monkeypatch):
    """Make any start of real work fail the test: measuring the problem (solve), running the grid (bench)."""
    def boom(*a, **k):
        raise AssertionError("work started before the arguments were checked")
    monkeypatch.setattr(invlab, "make_problem", boom)
    monkeypatch.setattr(invlab.bench, "run_grid", boom)
    monkeypatch.setattr(invlab.bench, "run_sharded", boom)


def _one_line_error(capsys, *fragments):
    err = capsys.readouterr().err.strip()
    assert err.startswith("invlab: error: ") and "\n" not in err, err
    assert "Traceback" not in err
    for f in fragments:
        assert f in err, (f, err)
    return err


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# ------------------------------------------------------------------------------------------------
# --out: every problem found before the solve

@pytest.mark.parametrize("out, fragment", [
    ("missing/r.png", "does not exist"),
    ("afile/r.png", "is a file, not a folder"),
    ("afile/sub/r.png", "is a file, not a folder"),
    ("adir", "is a folder"),
    ("adir/", "is a folder"),
    ("r.gif", "unknown extension '.gif'"),
    ("r", "unknown extension '(none)'"),
    ("blocked.png", "blocked_compare.png' is a folder"),
])
def test_solve_out_problems_found_before_the_solve(out, fragment, tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    (tmp_path / "blocked_compare.png").mkdir()
    before = _files(tmp_path)
    _no_work(monkeypatch)
    target = str(tmp_path / out) + ("/" if out.endswith("/") else "")
    assert main(SOLVE + ["--out", target]) == 2
    _one_line_error(capsys, "--out:", fragment)
    assert _files(tmp_path) == before                     # nothing written, nothing left over


def test_solve_refuses_an_unwritable_existing_compare_figure(tmp_path, capsys, monkeypatch):
    side = tmp_path / "r_compare.png"
    side.write_bytes(b"keep")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if os.fspath(p) == str(side) else real(p, mode))
    _no_work(monkeypatch)
    assert main(SOLVE + ["--out", str(tmp_path / "r.png")]) == 2
    _one_line_error(capsys, "--out:", "r_compare.png' exists and is not writable")
    assert side.read_bytes() == b"keep" and not (tmp_path / "r.png").exists()


def test_a_failed_solve_leaves_existing_outputs_untouched_and_no_temp_files(tmp_path, capsys):
    out, side = tmp_path / "r.png", tmp_path / "r_compare.png"
    out.write_bytes(b"old result")
    side.write_bytes(b"old figure")
    argv = ["solve", "--task", "motion_blur", "--method", "ddrm", "--image", "glyph:0", "--out", str(out)]
    assert main(argv) == 2                                 # refused at the solver's entry
    _one_line_error(capsys, "--method ddrm on --task motion_blur:", "SVD view")
    assert out.read_bytes() == b"old result" and side.read_bytes() == b"old figure"
    assert _files(tmp_path) == ["r.png", "r_compare.png"]


def test_an_unexpected_failure_inside_the_solve_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    def fail(*a, **k):
        raise ArithmeticError("deep inside")
    monkeypatch.setattr(invlab, "make_problem", fail)
    assert main(SOLVE + ["--out", str(tmp_path / "r.png")]) == 2
    _one_line_error(capsys, "solve failed: ArithmeticError: deep inside")
    assert _files(tmp_path) == []
    monkeypatch.setenv("INVLAB_DEBUG", "1")                 # the traceback on request
    with pytest.raises(ArithmeticError):
        main(SOLVE + ["--out", str(tmp_path / "r.png")])


def test_a_non_finite_estimate_is_refused_and_nothing_written(tmp_path, capsys, monkeypatch):
    import torch

    from invlab.solvers import SOLVERS
    inner = SOLVERS["ddrm"]

    def nan_solver(problem, prior, **kw):
        r = inner(problem, prior, **kw)
        r.x = torch.full_like(r.x, float("nan"))
        return r
    nan_solver.__wrapped__, nan_solver.spaces = inner.__wrapped__, inner.spaces
    monkeypatch.setitem(SOLVERS, "ddrm", nan_solver)
    assert main(SOLVE + ["--out", str(tmp_path / "r.png")]) == 2
    _one_line_error(capsys, "--method ddrm on --task sr4:", "not finite")
    assert _files(tmp_path) == []


# ------------------------------------------------------------------------------------------------
# flags, priors and the DDC network

@pytest.mark.parametrize("extra, fragments", [
    (["--sigma-y", "nan"], ["--sigma-y: must be a finite number >= 0, got nan"]),
    (["--sigma-y", "inf"], ["--sigma-y: must be a finite number"]),
    (["--seed", "-1"], ["--seed: must lie in [0, 2**63 - 1]"]),
    (["--seed", str(2 ** 64)], ["--seed: must lie in"]),
    (["--steps", "0"], ["--steps: must be >= 1"]),
    (["--network", "glyphs32-ddc"], ["--network: only a method with a learned network takes it"]),
    (["--image", "glyph:-3"], ["--image: glyph index must be >= 0"]),
])
def test_solve_flag_values_refused_before_work(extra, fragments, tmp_path, capsys, monkeypatch):
    _no_work(monkeypatch)
    argv = SOLVE + extra + ["--out", str(tmp_path / "r.png")]
    assert main(argv) == 2
    _one_line_error(capsys, *fragments)
    assert _files(tmp_path) == []


def test_library_errors_are_reported_under_the_flag(tmp_path, capsys):
    out = ["--out", str(tmp_path / "r.png")]
    assert main(SOLVE[:-1] + ["5000"] + out) == 2                        # the solver's own range check
    err = _one_line_error(capsys, "--steps: must lie in [1, 1000], got 5000")
    assert " steps:" not in err
    ddc = ["solve", "--task", "sr4", "--method", "ddc", "--image", "glyph:0", "--steps", "900"]
    assert main(ddc + out) == 2
    _one_line_error(capsys, "--steps: 900 distinct times do not fit")
    assert _files(tmp_path) == []


def test_image_that_is_a_folder_or_not_an_image(tmp_path, capsys):
    (tmp_path / "bad.png").write_text("not a png")
    for spec, frag in ((str(tmp_path), "is a folder"), (str(tmp_path / "bad.png"), "cannot read")):
        assert main(SOLVE[:6] + [spec, "--out", str(tmp_path / "r.png")]) == 2
        _one_line_error(capsys, "--image:", frag)


@pytest.mark.parametrize("prior, fragments", [
    ("gmm2d", ["--prior: gmm2d is a prior over (2,) vectors, not an image prior", "glyphs32, glyphs32-latent"]),
    ("gmm-grid", ["--prior: gmm-grid is a prior over (8,) vectors"]),
    ("glyphs32-cm", ["--prior: glyphs32-cm is a consistency model, not a diffusion prior", "glyphs32, "]),
    ("glyphs32-latent", ["--prior: ddrm does not work with the latent prior", "--method dcdp, latent_dps, psld"]),
    ("no-such-prior", ["--prior: unknown prior 'no-such-prior'"]),
])
def test_solve_priors_that_do_not_fit_are_refused_in_one_line(prior, fragments, tmp_path, capsys, monkeypatch):
    _no_work(monkeypatch)
    assert main(SOLVE + ["--prior", prior, "--out", str(tmp_path / "r.png")]) == 2
    _one_line_error(capsys, *fragments)


def test_latent_only_method_on_a_pixel_prior_lists_the_pixel_methods(tmp_path, capsys, monkeypatch):
    _no_work(monkeypatch)
    argv = ["solve", "--task", "sr4", "--method", "psld", "--image", "glyph:0", "--out", str(tmp_path / "r.png")]
    assert main(argv) == 2
    err = _one_line_error(capsys, "--prior: psld does not work with the pixel prior glyphs32", "ddnm")
    assert "psld," not in err.split("use", 1)[1]


def test_solve_with_a_latent_prior_runs(tmp_path):
    argv = ["solve", "--task", "sr4", "--method", "psld", "--prior", "glyphs32-latent", "--image", "glyph:0",
            "--steps", "2", "--out", str(tmp_path / "r.png")]
    assert main(argv) == 0
    assert _files(tmp_path) == ["r.png", "r_compare.png"]


@pytest.mark.parametrize("extra, fragments", [
    (["--task", "random_inpaint"], ["--task: no shipped DDC network was trained for random_inpaint",
                                    "glyphs32-ddc: denoise, sr2, sr4, gaussian_blur, jpeg10", "--network"]),
    (["--task", "sr2", "--network", "glyphs32-ddc-sr4"],
     ["--task: the DDC network glyphs32-ddc-sr4 was not trained for sr2", "it covers: sr4"]),
    (["--task", "sr4", "--network", "no/such/folder"], ["--network: 'no/such/folder' is neither a shipped"]),
    (["--task", "sr4", "--prior", "glyphs32-latent"], ["--prior: ddc does not work with the latent prior"]),
])
def test_ddc_refuses_a_task_or_network_that_does_not_fit(extra, fragments, tmp_path, capsys, monkeypatch):
    _no_work(monkeypatch)
    argv = ["solve", "--method", "ddc", "--image", "glyph:0", "--out", str(tmp_path / "r.png")] + extra
    assert main(argv) == 2
    _one_line_error(capsys, *fragments)


def test_ddc_network_folder_trained_with_another_prior_is_refused(tmp_path, capsys, monkeypatch):
    import json
    import shutil

    from invlab.diffusion import weights_dir
    net = tmp_path / "mynet"
    shutil.copytree(weights_dir("glyphs32-ddc"), net)
    meta = json.loads((net / "ddc.json").read_text())
    meta["prior"] = "another-prior"
    (net / "ddc.json").write_text(json.dumps(meta))
    _no_work(monkeypatch)
    argv = ["solve", "--task", "sr4", "--method", "ddc", "--network", str(net), "--image", "glyph:0",
            "--out", str(tmp_path / "r.png")]
    assert main(argv) == 2
    _one_line_error(capsys, "--prior: the DDC network", "trained with the another-prior prior")


def test_argparse_errors_are_one_line(capsys):
    for argv in (["solve", "--task", "sr4", "--method", "ddrm", "--image", "glyph:0", "--steps", "x"],
                 ["solve", "--task", "sr4"], ["bench", "--methods", "ddrm", "--tasks", "sr4", "--n", "1.5"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "error:" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------------
# bench

@pytest.mark.parametrize("change, fragments", [
    ({"--methods": ","}, ["--methods: empty list ','", "choose from daps,", "pseudo_inverse"]),
    ({"--methods": ""}, ["--methods: empty list"]),
    ({"--methods": "ddrm,,ddnm"}, ["--methods: empty item"]),
    ({"--methods": "ddrm,ddrm"}, ["--methods: 'ddrm' is listed twice"]),
    ({"--methods": "ddrm,magic"}, ["--methods: unknown method 'magic'; choose from daps,"]),
    ({"--tasks": ","}, ["--tasks: empty list", "sr4"]),
    ({"--tasks": "sr5"}, ["--tasks: unknown task 'sr5'; choose from denoise,"]),
    ({"--sigma-y": "nan"}, ["--sigma-y: must be a finite number >= 0, got nan"]),
    ({"--sigma-y": "0.05,-1"}, ["--sigma-y: must be a finite number >= 0, got -1.0"]),
    ({"--sigma-y": "a"}, ["--sigma-y: expected a comma-separated list of float values"]),
    ({"--seeds": "-1"}, ["--seeds: must lie in [0, 2**63 - 1]"]),
    ({"--seeds": ","}, ["--seeds: empty list"]),
    ({"--n": "0"}, ["--n: must be >= 1"]),
    ({"--nproc": "0"}, ["--nproc: must be >= 1"]),
    ({"--prior": "gmm2d"}, ["--prior: gmm2d is a prior over (2,) vectors", "bench works with glyphs32"]),
    ({"--prior": "glyphs32-cm"}, ["--prior: glyphs32-cm is a consistency model"]),
    ({"--methods": "ddrm,psld"}, ["--prior: psld does not work with the pixel prior glyphs32", "--methods daps"]),
    ({"--network": "glyphs32-ddc"}, ["--network: only --methods ddc takes a network"]),
    ({"--methods": "ddc", "--tasks": "sr4,random_inpaint"},
     ["--tasks: no shipped DDC network was trained for random_inpaint"]),
    ({"--methods": "ddc", "--tasks": "sr2", "--network": "glyphs32-ddc-sr4"},
     ["--tasks: the DDC network glyphs32-ddc-sr4 was not trained for sr2"]),
    ({"--out": "afile/b.csv"}, ["--out:", "is a file, not a folder"]),
    ({"--out": "missing/b.csv"}, ["--out:", "does not exist"]),
    ({"--out": "adir"}, ["--out:", "is a folder"]),
    ({"--out": "b.txt"}, ["--out: unknown extension '.txt'", ".csv"]),
])
def test_bench_misuse_refused_before_computing(change, fragments, tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    monkeypatch.setenv("INVLAB_CACHE", str(tmp_path / "cache"))
    _no_work(monkeypatch)
    opts = {"--out": "b.csv", **change}
    argv = list(BENCH)
    for k, v in opts.items():
        v = str(tmp_path / v) if k == "--out" else v
        if k in argv:
            argv[argv.index(k) + 1] = v
        else:
            argv += [k, v]
    assert main(argv) == 2
    _one_line_error(capsys, *fragments)
    assert not (tmp_path / "b.csv").exists() and not (tmp_path / "cache").exists()


def test_bench_unwritable_cache_is_refused_before_computing(tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("INVLAB_CACHE", str(tmp_path / "afile"))
    _no_work(monkeypatch)
    assert main(BENCH + ["--out", str(tmp_path / "b.csv")]) == 2
    _one_line_error(capsys, "INVLAB_CACHE: the cache folder", "--no-cache")


def test_bench_failure_mid_grid_leaves_the_old_csv(tmp_path, capsys, monkeypatch):
    out = tmp_path / "b.csv"
    out.write_text("old")

    def fail(**kw):
        raise ValueError("problem: something the grid found")
    monkeypatch.setattr(invlab.bench, "run_grid", fail)
    assert main(BENCH + ["--no-cache", "--out", str(out)]) == 2
    _one_line_error(capsys, "--methods/--tasks: something the grid found")
    assert out.read_text() == "old" and _files(tmp_path) == ["b.csv"]
