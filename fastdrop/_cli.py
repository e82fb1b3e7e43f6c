"""``fastdrop-bench`` (also ``python -m fastdrop``): fastdrop against NumPy and its peers."""

from __future__ import annotations

import argparse
import json
import sys
import time
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

import fastdrop

from . import _bench
from ._progress import Progress, unwritable

DTYPES = ("float16", "float32", "float64")
T = TypeVar("T")


def _flat(lists: list[list[T]]) -> list[T]:
    return [item for values in lists for item in values]


def _dtype(text: str) -> np.dtype:
    if text not in DTYPES:
        raise ValueError(f"dtype {text!r} is not one of {', '.join(DTYPES)}")
    return np.dtype(text)


def _probability(text: str) -> float:
    """A drop probability in [0, 1): at p = 1 np.multiply's scale 1/(1-p) is infinite."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"p {text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise ValueError(f"p must be in [0, 1), got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line of fastdrop-bench (lists are comma- or space-separated).

    Examples
    --------
    >>> args = parser().parse_args(["--sizes", "2^10,2**12", "4096", "--p", "0.25"])
    >>> _flat(args.sizes), _flat(args.p)
    ([1024, 4096, 4096], [0.25])
    """
    parse = argparse.ArgumentParser(
        prog="fastdrop-bench",
        description="In-place dropout and mask generation: fastdrop against np.multiply "
        "(the memory-bandwidth bound), the RNG floor (the random bits it needs, made and "
        "discarded), naive NumPy dropout (x * (rng.random(x.shape) < keep) "
        "/ keep) and, with --peers, PyTorch and hand-tuned NumPy. Medians of interleaved "
        "repeats; ns per element. A legend under the tables says what each column means.",
        allow_abbrev=False,  # "--rep 3" is an error, not a guess at "--repeat"
    )
    parse.add_argument(
        "--sizes",
        type=_bench.list_of(_bench.parse_size, "size"),
        nargs="+",
        default=[[2**18, 2**22, 2**24]],
        help="element counts, e.g. '2^18,2^22' (default: 2^18 2^22 2^24)",
    )
    parse.add_argument(
        "--dtypes",
        type=_bench.list_of(_dtype, "dtype"),
        nargs="+",
        default=[[np.dtype("float32"), np.dtype("float64")]],
        help="of float16, float32, float64 (default: float32,float64)",
    )
    parse.add_argument(
        "--p",
        type=_bench.list_of(_probability, "p"),
        nargs="+",
        default=[[0.1, 0.5]],
        help="drop probabilities in [0, 1) (default: 0.1,0.5)",
    )
    parse.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for fastdrop and PyTorch, in [0, 256] (default 1; 0: fastdrop's default)",
    )
    parse.add_argument("--repeat", type=int, default=7, help="timed rounds, >= 1 (default 7)")
    parse.add_argument(
        "--peers", action="store_true", help="also time PyTorch (if installed) and hand-tuned NumPy"
    )
    parse.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    return parse


def _import_torch(wanted: bool) -> ModuleType | None:
    if not wanted:
        return None
    try:
        import torch
    except (ImportError, OSError):  # OSError: installed, but a library of it failed to load
        return None
    return torch


# Printed under the tables: what a newcomer needs to read them (README.md, Semantics, has more).
DROPOUT_LEGEND = """\
  fastdrop  fastdrop.dropout(x, p, rng=stream, out=x); all times are ns per element, medians;
            x starts 16 bytes past a cache line at every size, as NumPy's large arrays do
  GB/s      bytes fastdrop reads and writes per second: 2 x itemsize per element
  multiply  np.multiply(x, 1/(1-p), out=x): the same bytes moved, no random bits
  ratio     fastdrop's time / multiply's
  floor     the RNG floor: the Philox outputs fastdrop needs for p (bit planes and ties), made
            by the same kernel path and discarded
  f+m       fastdrop's time / (floor's + multiply's): <= 1 is no slower than making the bits,
            then multiplying
  naive     naive NumPy dropout: x * (rng.random(x.shape) < keep) / keep, keep = 1 - p
  speed-up  naive's time / fastdrop's"""
PEER_LEGEND = {
    "numpy_u8": "  numpy_u8  hand-tuned NumPy: keep where a random byte >= round(256 p), in "
    "L2-sized chunks",
    "torch": "  torch     torch.nn.functional.dropout(t, p, training=True, inplace=True)",
}
MASK_LEGEND = """\
  bool      fastdrop.dropout_mask(n, p): n bools
  packed    fastdrop.dropout_mask(n, p, packed=True): n bits, 8 to a byte
  copyto    np.copyto of n uint8: n bytes read and n written
  floor     the RNG floor, as in the dropout table
  bool/copy, packed/copy: their time / copyto's
  bool/(f+c): bool's time / (floor's + copyto's); packed/floor: packed's time / floor's"""
P_NOTE = """
Why p = 0.1 can be slower than p = 0.5: each element's 32-bit random number is compared with
the keep threshold one bit plane at a time, top bit first (one Philox call makes a plane for
128 elements). p = 0.5 is settled by the first plane; p = 0.1 needs up to 8 planes, plus 24 more
bits for the ties (1 element in 256). See "Semantics" in README.md."""


def _print_dropout_table(results: list[dict[str, Any]]) -> None:
    print(
        "\nIn-place dropout, ns per element (median); ratio to np.multiply(x, c, out=x) "
        "in the same run"
    )
    peers = [
        name for name in ("numpy_u8", "torch") if any(name in r["ns_per_element"] for r in results)
    ]
    title = (
        f"{'size':>6} {'dtype':>8} {'p':>5} {'fastdrop':>9} {'GB/s':>7} {'multiply':>9} "
        f"{'ratio':>6} {'floor':>7} {'f+m':>5} {'naive':>8} {'speed-up':>9}"
        + "".join(f" {n:>9}" for n in peers)
    )
    print(title)
    for row in results:
        ns = row["ns_per_element"]
        print(
            f"{_bench.size_label(row['size']):>6} {row['dtype']:>8} {row['p']:>5} "
            f"{ns['fastdrop']:>9.3f} {row['fastdrop_gb_per_s']:>7.1f} {ns['multiply']:>9.3f} "
            f"{row['vs_multiply']:>6.2f} {ns['rng_floor']:>7.3f} "
            f"{row['vs_floor_plus_multiply']:>5.2f} {ns['naive_numpy']:>8.2f} "
            f"{row['speedup_vs_naive_numpy']:>8.1f}x"
            + "".join(f" {ns[n]:>9.3f}" if n in ns else f" {'n/a':>9}" for n in peers)
        )
    print(DROPOUT_LEGEND)
    for name in peers:
        print(PEER_LEGEND[name])


def _print_mask_table(mask_results: list[dict[str, Any]]) -> None:
    print("\ndropout_mask, ns per element (median); ratio to np.copyto of as many uint8")
    print(
        f"{'size':>6} {'p':>5} {'bool':>8} {'packed':>8} {'copyto':>8} {'floor':>7} "
        f"{'bool/copy':>10} {'packed/copy':>12} {'bool/(f+c)':>11} {'packed/floor':>13}"
    )
    for row in mask_results:
        ns = row["ns_per_element"]
        print(
            f"{_bench.size_label(row['size']):>6} {row['p']:>5} {ns['bool']:>8.3f} "
            f"{ns['packed']:>8.3f} {ns['copyto']:>8.3f} {ns['rng_floor']:>7.3f} "
            f"{row['bool_vs_copyto']:>10.2f} {row['packed_vs_copyto']:>12.2f} "
            f"{row['bool_vs_floor_plus_copyto']:>11.2f} {row['packed_vs_floor']:>13.2f}"
        )
    print(MASK_LEGEND)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables; returns the exit status.

    Examples
    --------
    >>> main(["--sizes", "2^10", "--dtypes", "float32", "--p", "0.5", "--repeat", "1"])
    ... # doctest: +ELLIPSIS
    # fastdrop-bench:...
    0
    """
    started = time.perf_counter()
    command = parser()
    args = command.parse_args(argv)
    sizes, dtypes, ps = _flat(args.sizes), _flat(args.dtypes), _flat(args.p)
    if args.repeat < 1:
        command.error(f"--repeat must be at least 1, got {args.repeat}")
    if not 0 <= args.threads <= 256:
        command.error(f"--threads must be in [0, 256], got {args.threads}")
    if args.json is not None and (problem := unwritable(args.json)):
        command.error(f"--json: {problem}")
    memory = _bench.physical_memory()
    needed = max(_bench.bytes_needed(n, dtype) for n in sizes for dtype in dtypes)
    if memory is not None and needed > memory:
        command.error(
            f"--sizes: the largest row needs about {needed / 2**30:.1f} GiB, more than this "
            f"machine's {memory / 2**30:.1f} GiB"
        )
    torch = _import_torch(args.peers)  # before anything changes: importing it may fail
    threads = args.threads or fastdrop.get_num_threads()
    before = fastdrop.get_num_threads()
    fastdrop.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    facts = _bench.header(threads, torch.__version__ if torch is not None else None)
    print(f"# fastdrop-bench: {', '.join(f'{k} {v}' for k, v in facts.items())}")
    if args.peers and torch is None:
        print("# PyTorch: not installed (or not importable)")

    rows = [(n, d, p) for n in sizes for d in dtypes for p in ps]
    masks = [(n, p) for n in sizes for p in ps]
    progress = Progress(len(rows) + len(masks), sys.stderr.isatty())
    results: list[dict[str, Any]] = []
    mask_results: list[dict[str, Any]] = []
    current = ""
    try:
        for n, dtype, p in rows:
            current = f"dropout {_bench.size_label(n)} {dtype.name} p={p}"
            progress.step(current)
            results.append(_bench.dropout_row(n, dtype, p, args.repeat, torch, args.peers))
        for n, p in masks:
            current = f"mask {_bench.size_label(n)} p={p}"
            progress.step(current)
            mask_results.append(_bench.mask_row(n, p, args.repeat))
    except MemoryError:
        progress.close()
        print(f"fastdrop-bench: not enough memory for {current}", file=sys.stderr)
        return 1
    finally:
        progress.close()
        fastdrop.set_num_threads(before)

    _print_dropout_table(results)
    _print_mask_table(mask_results)
    print(P_NOTE)
    wall = time.perf_counter() - started
    print(f"\n# {args.repeat} repeats, wall time {wall:.1f} s")
    if args.json is not None:
        report = {
            "header": facts,
            "repeat": args.repeat,
            "wall_s": wall,
            "dropout": results,
            "mask": mask_results,
        }
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
