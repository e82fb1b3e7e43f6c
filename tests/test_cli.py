"""fastdrop-bench (tables, legend, JSON, argument errors, ``python -m fastdrop``) and the
command line of fastdrop-mlp (its whole run is tests/test_mlp.py's)."""

import doctest
import json
import pathlib
import re
import sys
import types

import numpy as np
import pytest
from isolated import run_interpreter

import fastdrop
from fastdrop import _bench, _cli, _mlp_demo

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
QUICK = ["--sizes", "2^10,3000", "--dtypes", "float16,float64", "--p", "0.1", "--repeat", "2"]


@pytest.fixture
def nothing_runs(monkeypatch):
    """Neither CLI may start its work: only option checks happen."""
    monkeypatch.setattr(_bench, "dropout_row", None)
    monkeypatch.setattr(_mlp_demo, "load", None)


def _refused(main, argv, capsys):
    """What main(argv) says on stderr, having exited with argparse's status 2."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


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
        assert set(row["samples_ns"]) == {"multiply", "rng_floor", "fastdrop", "naive_numpy"}
        assert all(len(s) == 2 and min(s) > 0 for s in row["samples_ns"].values())
        ns = row["ns_per_element"]
        assert row["vs_multiply"] == pytest.approx(ns["fastdrop"] / ns["multiply"])
        assert row["vs_floor_plus_multiply"] == pytest.approx(
            ns["fastdrop"] / (ns["rng_floor"] + ns["multiply"])
        )
    assert [(r["size"], r["p"]) for r in result["mask"]] == [(1024, 0.1), (3000, 0.1)]
    for row in result["mask"]:
        assert set(row["samples_ns"]) == {"copyto", "rng_floor", "bool", "packed"}
        assert row["bool_vs_copyto"] > 0 and row["packed_vs_copyto"] > 0
        ns = row["ns_per_element"]
        assert row["packed_vs_floor"] == pytest.approx(ns["packed"] / ns["rng_floor"])
        assert row["bool_vs_floor_plus_copyto"] == pytest.approx(
            ns["bool"] / (ns["rng_floor"] + ns["copyto"])
        )


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
def test_bad_arguments_exit_2(argv, capsys, nothing_runs):
    assert "fastdrop-bench: error" in _refused(_cli.main, argv, capsys)


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


def test_an_unwritable_json_file_is_refused_before_the_run(tmp_path, capsys, nothing_runs):
    for path in (tmp_path / "missing" / "r.json", tmp_path):
        err = _refused(_cli.main, [*QUICK, "--json", str(path)], capsys)
        assert f"--json: cannot write {path}" in err
    assert list(tmp_path.iterdir()) == []


def test_sizes_beyond_the_machines_memory_are_refused(capsys, monkeypatch, nothing_runs):
    monkeypatch.setattr(_bench, "physical_memory", lambda: 2**30)
    argv = ["--sizes", "2^26", "--dtypes", "float64"]  # 32 B an element: 2 GiB
    err = _refused(_cli.main, argv, capsys)
    assert "the largest row needs about 2.0 GiB, more than this machine's 1.0 GiB" in err


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
    result = run_interpreter(["-m", "fastdrop", "--help"])
    assert result.returncode == 0, result.stderr
    assert "usage: fastdrop-bench" in result.stdout


def test_harness_doctests():
    assert doctest.testmod(_bench).failed == 0
    assert doctest.testmod(_cli, optionflags=doctest.ELLIPSIS).failed == 0


def _keys(value):
    """Every dict key in a JSON value, at any depth."""
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


def test_the_reference_is_called_naive_numpy_dropout(capsys, tmp_path):
    """What a user sees names the reference for what it is: no "seeds" (the project's history)."""
    assert _cli.main([*QUICK, "--peers", "--json", str(tmp_path / "r.json")]) == 0
    printed = capsys.readouterr().out
    help_text = _cli.parser().format_help()
    keys = _keys(json.loads((tmp_path / "r.json").read_text()))
    for text in (printed, help_text, " ".join(keys)):
        assert "seed" not in text.lower()
    assert "naive NumPy dropout" in printed and "naive NumPy dropout" in help_text
    assert {"naive_numpy", "speedup_vs_naive_numpy"} <= set(keys)
    x = np.ones(64, np.float32)
    y = _bench.naive_dropout(x, 0.25, np.random.default_rng(5))
    mask = np.random.default_rng(5).random(64) < 0.75
    assert np.array_equal(y, x * mask / 0.75) and y.dtype == np.float32


def _small_digits(name):
    rng = np.random.default_rng(0)
    X, y = rng.random((90, 64)), rng.integers(0, 10, 90)
    return _mlp_demo.Split("toy", X[40:], y[40:], X[30:40], y[30:40], X[:30], y[:30])


def test_the_demo_calls_its_reference_naive_numpy_dropout(capsys, monkeypatch):
    monkeypatch.setattr(_mlp_demo, "load", _small_digits)
    argv = ["--seeds", "1", "--epochs", "1", "--hidden", "4", "--layers", "1"]
    assert _mlp_demo.main(argv) == 0
    printed = capsys.readouterr().out
    assert re.search(r"naive NumPy dropout +\d+\.\d\d % of ", printed)
    for text in (printed, _mlp_demo.parser().format_help()):
        assert "seeds'" not in text and "SeedDropout" not in text  # seeds of a generator are fine
    readme = README.read_text()
    assert "seeds'" not in readme and "the seeds" not in readme


def test_options_are_not_abbreviated(capsys, monkeypatch, tmp_path, nothing_runs):
    """argparse would read "--rep 3" as --repeat and "--p 2" (fastdrop-mlp) as "--plot 2"."""
    monkeypatch.chdir(tmp_path)
    for main, argv in ((_cli.main, ["--rep", "3"]), (_mlp_demo.main, ["--p", "2"])):
        assert f"unrecognized arguments: {' '.join(argv)}" in _refused(main, argv, capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--plot", "curves.txt"], "'curves.txt' must end in one of "),
        (["--plot", "curves"], "'curves' must end in one of "),
        (["--plot", ""], "'' must end in one of "),
    ],
)
def test_the_plot_format_is_checked_before_training(argv, message, capsys, nothing_runs):
    err = _refused(_mlp_demo.main, argv, capsys)
    assert f"fastdrop-mlp: error: --plot: {message}" in err
    assert ".pdf" in err and ".png" in err and "(the extension names the format)" in err


def test_a_missing_matplotlib_is_an_option_error_before_training(capsys, monkeypatch, nothing_runs):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    err = _refused(_mlp_demo.main, ["--plot", "curves.png"], capsys)
    assert '--plot: it needs matplotlib: python -m pip install "fastdrop[plot]"' in err


def test_an_empty_json_file_name_is_refused_before_the_run(capsys, nothing_runs):
    err = _refused(_cli.main, [*QUICK, "--json", ""], capsys)
    assert "--json: the file name is empty" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sizes", "-5"], "argument --sizes: size '-5' is not in [1, 2^40]"),
        (
            ["--sizes", "2^x"],
            "argument --sizes: size '2^x' is not a whole number or a power such as 2^18",
        ),
        (["--sizes", "2^18^2"], "argument --sizes: size '2^18^2' is not a whole number or a power"),
        (["--sizes=0^3"], "argument --sizes: size '0^3': the base must be at least 1"),
        (["--sizes", "2^99"], "argument --sizes: size '2^99': the exponent must be in [0, 40]"),
        (["--sizes", ","], "argument --sizes: no size in ','"),
        (
            ["--dtypes", "int8"],
            "argument --dtypes: dtype 'int8' is not one of float16, float32, float64",
        ),
        (["--p", "2"], "argument --p: p must be in [0, 1), got 2"),
        (["--p", "0.5,1"], "argument --p: p must be in [0, 1), got 1"),
        (["--p", "half"], "argument --p: p 'half' is not a number"),
        (["--repeat", "0"], "--repeat must be at least 1, got 0"),
        (["--threads", "300"], "--threads must be in [0, 256], got 300"),
    ],
)
def test_bench_errors_give_the_reason_and_the_range(argv, message, capsys, nothing_runs):
    assert message in _refused(_cli.main, argv, capsys).splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "0"], "--seeds must be at least 1, got 0"),
        (["--epochs", "-3"], "--epochs must be at least 1, got -3"),
        (["--hidden", "0"], "--hidden must be at least 1, got 0"),
        (["--layers", "0"], "--layers must be at least 1, got 0"),
    ],
)
def test_demo_errors_name_the_option_and_the_range(argv, message, capsys, nothing_runs):
    assert f"fastdrop-mlp: error: {message}\n" in _refused(_mlp_demo.main, argv, capsys)


def test_a_legend_under_the_tables_says_what_the_columns_mean(capsys):
    assert _cli.main([*QUICK, "--peers"]) == 0
    printed = capsys.readouterr().out
    for line in (
        "  GB/s      bytes fastdrop reads and writes per second: 2 x itemsize per element",
        "  ratio     fastdrop's time / multiply's",
        "  f+m       fastdrop's time / (floor's + multiply's): <= 1 is no slower than making the "
        "bits,",
        "  naive     naive NumPy dropout: x * (rng.random(x.shape) < keep) / keep, keep = 1 - p",
        "  speed-up  naive's time / fastdrop's",
        "  numpy_u8  hand-tuned NumPy: keep where a random byte >= round(256 p), in L2-sized "
        "chunks",
        "  bool/copy, packed/copy: their time / copyto's",
        "  bool/(f+c): bool's time / (floor's + copyto's); packed/floor: packed's time / floor's",
    ):
        assert f"\n{line}\n" in printed
    note = printed[printed.index("Why p = 0.1 can be slower than p = 0.5") :]
    assert "p = 0.5 is settled by the first plane; p = 0.1 needs up to 8 planes" in note
    assert "ties" in note and "README.md" in note
    # The legend comes after both tables, and before the closing line.
    assert (
        printed.index("dropout_mask, ns per element")
        < printed.index(note)
        < printed.index("# 2 repeats, wall time")
    )


def test_readme_gives_measured_times_for_the_first_commands():
    """The first two commands' times are what a newcomer measured ("35-50 s" for the first),
    not a bound ("< 30 s") that a fresh machine does not meet."""
    commands = re.findall(r"^python -m pip install .*$", README.read_text(), flags=re.M)
    for command in commands[:2]:
        comment = command.split("#", 1)[1]
        assert "<" not in comment
        assert re.search("\\((about )?\\d+(\u2013\\d+)? (s|min) on 2 cores\\)", comment), command
