"""The invlab command line: list, solve, one-line errors with exit code 2."""
import os

import numpy as np
import pytest
from PIL import Image

from invlab.cli import main


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "sr4" in out and "ddnm" in out and "glyphs32" in out


def test_solve_writes_result_and_figure(tmp_path, capsys):
    out = tmp_path / "r.png"
    assert main(["solve", "--task", "sr4", "--method", "ddrm", "--image", "glyph:2", "--steps", "3",
                 "--out", str(out)]) == 0
    assert out.exists() and (tmp_path / "r_compare.png").exists()
    assert "PSNR" in capsys.readouterr().out


def test_solve_from_an_image_file(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(0).random((50, 40)) * 255).astype(np.uint8)).save(src)
    assert main(["solve", "--task", "box_inpaint", "--method", "pseudo_inverse", "--image", str(src),
                 "--out", str(tmp_path / "o.png")]) == 0


@pytest.mark.parametrize("argv, msg", [
    (["solve", "--task", "sr5", "--method", "ddnm", "--image", "glyph:0"], "--task: unknown task 'sr5'"),
    (["solve", "--task", "sr4", "--method", "magic", "--image", "glyph:0"], "--method: unknown method 'magic'"),
    (["solve", "--task", "sr4", "--method", "ddnm", "--image", "nofile.png"], "--image: no such file"),
    (["solve", "--task", "sr4", "--method", "ddnm", "--image", "glyph:x"], "--image: expected glyph:N"),
    (["solve", "--task", "sr4", "--method", "ddnm", "--image", "glyph:0", "--sigma-y", "-1"],
     "--sigma-y: must be a finite number >= 0"),
    (["solve", "--task", "sr4", "--method", "pseudo_inverse", "--image", "glyph:0", "--steps", "3"], "--steps:"),
    (["solve", "--task", "motion_blur", "--method", "ddrm", "--image", "glyph:0"],
     "needs an operator with an SVD view"),
])
def test_bad_arguments_one_line_exit_2(argv, msg, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("invlab: error:") and msg in err and "\n" not in err


def test_argparse_errors_exit_2():
    with pytest.raises(SystemExit) as e:
        main(["bogus"])
    assert e.value.code == 2


def test_bench_writes_csv_and_caches(tmp_path, capsys, monkeypatch):
    import csv
    monkeypatch.setenv("INVLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "r.csv"
    argv = ["bench", "--methods", "pseudo_inverse,ddrm", "--tasks", "sr4", "--n", "3", "--out", str(out)]
    assert main(argv) == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 6 and {r["method"] for r in rows} == {"pseudo_inverse", "ddrm"}
    assert len(list((tmp_path / "cache" / "bench").glob("*.json"))) == 2
    first = out.read_text()
    assert main(argv) == 0                      # second run: from the cache, identical
    assert out.read_text() == first
    assert main(["bench", "--methods", "nope", "--tasks", "sr4", "--out", str(out)]) == 2
    assert "methods: unknown method 'nope'" in capsys.readouterr().err


def test_bench_sharded_over_two_processes_matches_one(tmp_path, monkeypatch):
    from invlab.bench import run_grid, run_sharded
    monkeypatch.setenv("INVLAB_CACHE", str(tmp_path / "cache"))
    grid = dict(methods=["pseudo_inverse", "ddrm"], tasks=["sr4", "box_inpaint"], n=2, use_cache=False)
    one = run_grid(progress=False, **grid)
    two = run_sharded(2, **grid)
    assert [(r["method"], r["task"], r["image"]) for r in two] == [(r["method"], r["task"], r["image"]) for r in one]
    for a, b in zip(one, two):
        assert abs(a["psnr"] - b["psnr"]) < 1e-4


def test_run_grid_refresh_recomputes_a_cached_cell(tmp_path):
    import json
    from invlab.bench import run_grid
    kw = dict(methods=["pseudo_inverse"], tasks=["sr4"], n=2, cache_dir=tmp_path, progress=False)
    first = run_grid(**kw)
    (cached,) = list(tmp_path.glob("*.json"))
    rows = json.loads(cached.read_text())
    rows[0]["psnr"] = -1.0                                        # a stale entry, as after a code change
    cached.write_text(json.dumps(rows))
    assert run_grid(**kw)[0]["psnr"] == -1.0                       # the cache is trusted…
    assert run_grid(**kw, refresh=True)[0]["psnr"] == first[0]["psnr"]   # …unless refreshed
    assert json.loads(cached.read_text())[0]["psnr"] == first[0]["psnr"]  # and the cell is re-cached


def test_paired_overhead_times_each_call_against_its_own_network_passes():
    import torch

    import invlab
    from invlab.bench import network_seconds, overhead_ratio, paired_overhead
    prior = invlab.load_prior("glyphs32")
    problem = invlab.make_problem("sr4", invlab.glyphs(2, split="test")[0], sigma_y=0.05, seed=0)
    calls = []

    def call():
        calls.append(1)
        return invlab.SOLVERS["dps"](problem, prior, steps=3, generator=torch.Generator().manual_seed(0))
    pairs, r = paired_overhead(call, prior, rounds=3)
    assert len(calls) == 3 and len(pairs) == 3 and (r.nfe, r.vjp) == (3, 3)
    assert all(w > 0 and n > 0 for w, n in pairs)
    ratio = overhead_ratio(pairs)
    assert 0.2 < ratio < 5                                   # same passes, same machine: the same order
    assert overhead_ratio(pairs, extra_seconds=min(w for w, _ in pairs) / 2) < ratio
    assert network_seconds(prior, 2, 0, 0) < 0.01           # nothing to run


def test_solve_ddc_loads_the_shipped_network_for_the_task(tmp_path, capsys):
    base = ["solve", "--task", "sr4", "--method", "ddc", "--image", "glyph:1", "--steps", "2"]
    assert main(base + ["--out", str(tmp_path / "g.png")]) == 0
    assert "ddc with glyphs32-ddc on sr4" in capsys.readouterr().out
    assert main(base + ["--network", "glyphs32-ddc-sr4", "--out", str(tmp_path / "s.png")]) == 0
    assert "ddc with glyphs32-ddc-sr4 on sr4" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.png", "g_compare.png", "s.png", "s_compare.png"]


def test_bench_ddc_uses_the_shipped_network(tmp_path, capsys, monkeypatch):
    import csv
    monkeypatch.setenv("INVLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "d.csv"
    assert main(["bench", "--methods", "ddc", "--tasks", "sr2", "--n", "1", "--out", str(out)]) == 0
    (row,) = list(csv.DictReader(open(out)))
    assert row["method"] == "ddc" and row["task"] == "sr2" and row["nfe"] == "10" and float(row["psnr"]) > 20


def test_outputs_are_moved_into_place_with_ordinary_permissions(tmp_path):
    out = tmp_path / "r.jpg"
    out.write_bytes(b"previous")
    assert main(["solve", "--task", "sr4", "--method", "pseudo_inverse", "--image", "glyph:0",
                 "--out", str(out)]) == 0
    assert Image.open(out).format == "JPEG" and Image.open(tmp_path / "r_compare.png").format == "PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jpg", "r_compare.png"]   # no temp files left
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == 0o666 & ~umask
