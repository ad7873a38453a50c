"""The table helpers the benchmark scripts share (benchmarks/_tables.py)."""
import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _tables import merge_rows, write_csv, write_tables  # noqa: E402


def test_write_tables_csv_and_markdown(tmp_path, capsys):
    rows = [{"task": "sr4", "psnr": 24.5}, {"task": "blur", "psnr": 33.9, "nfe": 5}]
    path = tmp_path / "sub" / "t.csv"
    assert write_tables(str(path), rows, "preamble") == ["task", "psnr", "nfe"]
    with open(path) as f:
        back = list(csv.DictReader(f))
    assert back == [{"task": "sr4", "psnr": "24.5", "nfe": ""}, {"task": "blur", "psnr": "33.9", "nfe": "5"}]
    md = (tmp_path / "sub" / "t.md").read_text().splitlines()
    assert md == ["preamble", "", "| task | psnr | nfe |", "|---|---|---|", "| sr4 | 24.5 |  |", "| blur | 33.9 | 5 |"]
    assert "| blur | 33.9 | 5 |" in capsys.readouterr().out
    with pytest.raises(ValueError, match="path: expected a .csv"):
        write_tables(str(tmp_path / "t.txt"), rows, "")


def test_merge_rows_replaces_only_rerun_keys(tmp_path):
    path = str(tmp_path / "r.csv")
    key = lambda r: (r["task"], r["method"])  # noqa: E731
    new = [{"task": "sr4", "method": "cm", "psnr": "22.0"}]
    assert merge_rows(path, new, key) == new                      # no file yet: the new rows alone
    write_csv(path, [{"task": "sr4", "method": "cm", "psnr": "21.7"}, {"task": "sr4", "method": "v1", "psnr": "25.9"}])
    merged = merge_rows(path, new, key)
    assert [(r["method"], r["psnr"]) for r in merged] == [("cm", "22.0"), ("v1", "25.9")]   # in place
    merged = merge_rows(path, [{"task": "sr4", "method": "v2", "psnr": "27.1"}] + new, key)
    assert [(r["method"], r["psnr"]) for r in merged] == [("cm", "22.0"), ("v1", "25.9"), ("v2", "27.1")]


def test_write_csv_with_fixed_columns_keeps_the_header_of_an_empty_table(tmp_path):
    path = tmp_path / "u.csv"
    assert write_csv(str(path), [], ("method", "task", "reason")) == ["method", "task", "reason"]
    assert path.read_text().splitlines() == ["method,task,reason"]
    with pytest.raises(ValueError, match="extra"):                # a column outside the fixed ones is an error
        write_csv(str(path), [{"task": "hdr", "method": "ddrm", "extra": 1}], ("method", "task"))


# ---------------------------------------------------------------- the generated benchmarks/README.md

ROOT = Path(__file__).resolve().parents[1]


def _readme_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location("benchmarks_readme", ROOT / "tools" / "benchmarks_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_benchmarks_readme_is_what_the_generator_writes():
    import subprocess
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "benchmarks_readme.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_results_csv_has_a_sidecar_with_its_command(tmp_path, monkeypatch):
    tool = _readme_tool()
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.csv")):
        meta = tool.read_meta(path.stem)
        assert all(run["command"].startswith("python benchmarks/") for run in meta["runs"]), path.name
    text = tool.generate()
    assert text == tool.generate()                                # deterministic: no clock, no machine
    assert "`python benchmarks/bench_grid.py --threads 1 --fresh" in text
    # --check fails (and names the fix) when the README is edited by hand, passes once rewritten
    readme = tmp_path / "README.md"
    readme.write_text(text.replace("| dps |", "| dps (edited) |", 1))
    monkeypatch.setattr(tool, "README", readme)
    assert tool.main(["--check"]) == 1
    assert tool.main([]) == 0 and tool.main(["--check"]) == 0 and readme.read_text() == text


def test_sidecar_runs_must_cover_every_row_once():
    tool = _readme_tool()
    rows = [{"method": "a"}, {"method": "b"}]
    two = {"_name": "t", "runs": [{"command": "x", "rows": {"method": ["a"]}},
                                  {"command": "y", "rows": {"method": ["a", "b"]}}]}
    with pytest.raises(SystemExit, match="claimed by two runs"):
        tool.run_rows(two, rows)
    gap = {"_name": "t", "runs": [{"command": "x", "rows": {"method": ["a"]}},
                                  {"command": "y", "rows": {"method": ["c"]}}]}
    with pytest.raises(SystemExit, match="claimed by no run"):
        tool.run_rows(gap, rows)
    ok = {"_name": "t", "runs": [{"command": "x", "rows": {"method": ["a"]}},
                                 {"command": "y", "rows": {"method": "others"}}]}
    assert [w for _, w in tool.run_rows(ok, rows)] == ["method a", "the others"]


def test_stamp_records_a_partial_rerun_beside_the_earlier_run(tmp_path, monkeypatch):
    import json
    tool = _readme_tool()
    monkeypatch.setattr(tool, "RESULTS", tmp_path)
    (tmp_path / "t.meta.json").write_text(json.dumps(
        {"script": "benchmarks/bench_grid.py", "runs": [{"command": "python benchmarks/bench_grid.py --threads 1"}]}))
    tool.stamp("t", "python benchmarks/bench_grid.py --threads 1 --methods dpg", "method=dpg")
    runs = json.loads((tmp_path / "t.meta.json").read_text())["runs"]
    assert [r.get("rows") for r in runs] == [{"method": "others"}, {"method": ["dpg"]}]
    assert runs[1]["threads"] == 1 and runs[1]["date"] and "CPU cores" in runs[1]["machine"]
    tool.stamp("t", "python benchmarks/bench_grid.py", None)           # a full re-run replaces every run
    assert [r["command"] for r in json.loads((tmp_path / "t.meta.json").read_text())["runs"]] == [
        "python benchmarks/bench_grid.py"]
    with pytest.raises(SystemExit, match="--rows: expected column=value"):
        tool.stamp("t", "python benchmarks/bench_grid.py", "dpg")
