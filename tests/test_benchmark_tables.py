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
