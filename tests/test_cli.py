"""fastdrop-bench: its tables, JSON, argument errors and ``python -m fastdrop``."""

import doctest
import json
import subprocess
import sys
import tempfile

import pytest

import fastdrop
from fastdrop import _bench, _cli

QUICK = ["--sizes", "2^10,3000", "--dtypes", "float16,float64", "--p", "0.1", "--repeat", "2"]


def test_tables_and_json(capsys, tmp_path):
    threads = fastdrop.get_num_threads()
    assert _cli.main([*QUICK, "--json", str(tmp_path / "r.json")]) == 0
    assert fastdrop.get_num_threads() == threads  # restored
    printed = capsys.readouterr().out
    assert printed.startswith("# fastdrop-bench: cpu ")
    assert f"simd {fastdrop.simd_path()}" in printed
    for line in ("2^10  float16   0.1", "3000  float64   0.1", "2^10   0.1", "3000   0.1"):
        assert line in printed
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["header"]["threads"] == 1
    assert [(r["size"], r["dtype"]) for r in result["dropout"]] == [
        (1024, "float16"),
        (1024, "float64"),
        (3000, "float16"),
        (3000, "float64"),
    ]
    for row in result["dropout"]:
        assert set(row["samples_ns"]) == {"multiply", "fastdrop", "seeds"}
        assert all(len(s) == 2 and min(s) > 0 for s in row["samples_ns"].values())
        ns = row["ns_per_element"]
        assert row["vs_multiply"] == pytest.approx(ns["fastdrop"] / ns["multiply"])
    assert [(r["size"], r["p"]) for r in result["mask"]] == [(1024, 0.1), (3000, 0.1)]


def test_peers_without_or_with_torch(capsys):
    assert _cli.main(["--sizes", "2^10", "--dtypes", "float32", "--repeat", "1", "--peers"]) == 0
    printed = capsys.readouterr().out
    assert "numpy_u8" in printed
    try:
        import torch  # noqa: F401
    except ImportError:
        assert "PyTorch: not installed" in printed
    else:
        assert " torch" in printed


@pytest.mark.parametrize(
    "argv",
    [
        ["--sizes", "0"],
        ["--sizes", "2^x"],
        ["--dtypes", "int8"],
        ["--p", "1"],
        ["--p", "-0.1"],
        ["--repeat", "0"],
        ["--threads", "-1"],
        ["--bogus"],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        _cli.main(argv)
    assert info.value.code == 2
    assert "fastdrop-bench: error" in capsys.readouterr().err


def test_module_help():
    result = subprocess.run(
        [sys.executable, "-m", "fastdrop", "--help"],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: fastdrop-bench" in result.stdout


def test_harness_doctests():
    assert doctest.testmod(_bench).failed == 0
    assert doctest.testmod(_cli, optionflags=doctest.ELLIPSIS).failed == 0
