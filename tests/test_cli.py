"""fastdrop-bench: its tables, JSON, argument errors and ``python -m fastdrop``."""

import doctest
import json
import subprocess
import sys
import tempfile
import types

import numpy as np
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
    assert "# 2 repeats, wall time " in printed
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["header"]["threads"] == 1
    assert result["header"]["simd"] == fastdrop.simd_path()
    assert result["repeat"] == 2 and result["wall_s"] > 0
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
    for row in result["mask"]:
        assert set(row["samples_ns"]) == {"copyto", "bool", "packed"}
        assert row["bool_vs_copyto"] > 0 and row["packed_vs_copyto"] > 0


def test_list_forms(capsys, tmp_path):
    argv = ["--sizes", "2**6", "100", "--dtypes", "float32 float64", "--p", "0,0.999"]
    assert _cli.main([*argv, "--repeat", "1", "--peers", "--json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert [(r["size"], r["dtype"], r["p"]) for r in result["dropout"]] == [
        (n, d, p) for n in (64, 100) for d in ("float32", "float64") for p in (0.0, 0.999)
    ]
    assert all("numpy_u8" in r["ns_per_element"] for r in result["dropout"])


@pytest.mark.parametrize(("p", "kept"), [(0.0, 1.0), (0.1, 1 - 26 / 256), (0.5, 0.5), (0.999, 0.0)])
def test_uint8_peer_keeps_bytes_at_or_above_the_cut(p, kept):
    x = np.ones(2**17 + 5, np.float32)  # past one chunk, and not a multiple of 8
    _bench.uint8_dropout(x, p, np.random.SFC64(3))
    assert set(np.unique(x).tolist()) <= {0.0, np.float32(1 / (1 - p))}
    assert np.mean(x != 0) == pytest.approx(kept, abs=0.01)


class FakeTorch(types.ModuleType):
    """Just what the CLI uses of PyTorch: in-place dropout on a tensor sharing x's memory."""

    __version__ = "0.0-fake"

    def __init__(self, refuse_half=False):
        super().__init__("torch")
        self.threads, self.calls, self.refuse_half = None, 0, refuse_half
        self.nn = types.SimpleNamespace(functional=types.SimpleNamespace(dropout=self.dropout))

    def set_num_threads(self, n):
        self.threads = n

    def from_numpy(self, x):
        return x

    def dropout(self, t, p, training, inplace):
        assert training is True and inplace is True
        if self.refuse_half and t.dtype == np.float16:
            raise RuntimeError("\"bernoulli_\" not implemented for 'Half'")
        self.calls += 1
        t *= (np.random.default_rng(0).random(t.shape) >= p) / t.dtype.type(1 - p)
        return t


@pytest.mark.parametrize("refuse_half", [False, True])
def test_torch_column(monkeypatch, capsys, tmp_path, refuse_half):
    torch = FakeTorch(refuse_half)
    monkeypatch.setitem(sys.modules, "torch", torch)
    argv = ["--sizes", "2^10", "--dtypes", "float16,float32", "--p", "0.5", "--repeat", "2"]
    assert _cli.main([*argv, "--peers", "--threads", "1", "--json", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    assert "torch 0.0-fake" in printed and torch.threads == 1 and torch.calls > 0
    header = next(line for line in printed.splitlines() if line.lstrip().startswith("size"))
    assert header.split()[-2:] == ["numpy_u8", "torch"]
    rows = json.loads((tmp_path / "r.json").read_text())["dropout"]
    assert ("torch" in rows[0]["ns_per_element"]) is not refuse_half  # float16
    assert "torch" in rows[1]["ns_per_element"]  # float32
    assert ("n/a" in printed) is refuse_half


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
        ["--sizes", ""],
        ["--sizes", "2^999999999"],
        ["--sizes", "2^18^2"],
        ["--sizes=-2^2"],
        ["--dtypes", ","],
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


def test_a_torch_that_fails_to_load_counts_as_absent(capsys, monkeypatch, tmp_path):
    """A PyTorch whose libraries fail to load (OSError, as a missing DLL on Windows gives) is
    reported, not a traceback, and leaves the thread count as it was."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise OSError('[WinError 126] c10.dll')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    threads = fastdrop.get_num_threads()
    argv = ["--sizes", "2^10", "--dtypes", "float32", "--repeat", "1", "--peers", "--threads", "2"]
    assert _cli.main(argv) == 0
    assert "PyTorch: not installed (or not importable)" in capsys.readouterr().out
    assert fastdrop.get_num_threads() == threads


def test_an_unwritable_json_file_is_refused_before_the_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_bench, "dropout_row", None)  # the run must not start
    for path in (tmp_path / "missing" / "r.json", tmp_path):
        with pytest.raises(SystemExit) as info:
            _cli.main([*QUICK, "--json", str(path)])
        assert info.value.code == 2
        assert f"--json: cannot write {path}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_sizes_beyond_the_machines_memory_are_refused(capsys, monkeypatch):
    monkeypatch.setattr(_bench, "physical_memory", lambda: 2**30)
    with pytest.raises(SystemExit) as info:
        _cli.main(["--sizes", "2^26", "--dtypes", "float64"])  # 32 B an element: 2 GiB
    assert info.value.code == 2
    assert "the largest row needs about 2.0 GiB, more than this machine's 1.0 GiB" in (
        capsys.readouterr().err
    )


def test_running_out_of_memory_is_a_message(capsys, monkeypatch):
    def exhausted(*args):
        raise MemoryError

    monkeypatch.setattr(_bench, "dropout_row", exhausted)
    threads = fastdrop.get_num_threads()
    assert _cli.main(QUICK) == 1
    assert fastdrop.get_num_threads() == threads
    assert "fastdrop-bench: not enough memory for dropout 2^10 float16 p=0.1" in (
        capsys.readouterr().err
    )


def test_sizes_up_to_2_to_the_40():
    assert _bench.parse_size("2^40") == 2**40 == _bench.MAX_SIZE
    for text in ("2^41", str(2**40 + 1)):
        with pytest.raises(ValueError):
            _bench.parse_size(text)


def test_samples_are_interleaved_and_summarised_by_their_median(monkeypatch):
    monkeypatch.setattr(_bench, "SAMPLE_NS", 0)  # one call a sample
    calls = []
    a = _bench.Candidate("a", lambda: calls.append("a"))
    b = _bench.Candidate("b", lambda: calls.append("b"))
    _bench.time_interleaved([a, b], repeat=3)
    assert "".join(calls).endswith("ababab")  # after each one's warm-up calls
    assert _bench.Candidate("c", lambda: None, samples=[1.0, 2.0, 10.0]).median == 2.0


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
