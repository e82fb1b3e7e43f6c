"""Python-thread scaling: throughput of in-place dropout from 1 vs 2 Python threads, each on its
own large array, with fastdrop's helper threads off (set_num_threads(1)), so any speed-up comes
from the GIL being released during the kernel.

    python benchmarks/python_threads.py [--sizes 2^20,2^22,2^24] [--threads 1,2] [--calls 16]
                                        [--repeat 9]

A sample runs ``calls`` dropout calls per array, the arrays split among the Python threads; the
thread counts are interleaved round by round (fastdrop._bench.time_interleaved), so the ratio
is measured in the same run on the same machine state.
"""

from __future__ import annotations

import argparse
import threading

import numpy as np

import fastdrop
from fastdrop import _bench


def _work(arrays: list[np.ndarray], calls: int, stream: fastdrop.Philox) -> None:
    for x in arrays:
        for _ in range(calls):
            fastdrop.dropout(x, 0.5, rng=stream, out=x)


def run(arrays: list[np.ndarray], threads: int, calls: int, stream: fastdrop.Philox) -> None:
    """All arrays, split evenly among ``threads`` Python threads (the caller is one of them)."""
    parts = [arrays[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=_work, args=(part, calls, stream)) for part in parts[1:]]
    for worker in workers:
        worker.start()
    _work(parts[0], calls, stream)
    for worker in workers:
        worker.join()


def main() -> None:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument(
        "--sizes", type=_bench.list_of(_bench.parse_size, "size"), default="2^20,2^22,2^24"
    )
    parse.add_argument("--threads", type=_bench.list_of(int, "thread count"), default="1,2")
    parse.add_argument("--calls", type=int, default=16)
    parse.add_argument("--repeat", type=int, default=9)
    args = parse.parse_args()
    sizes, counts = args.sizes, args.threads
    most = max(counts)
    before = fastdrop.get_num_threads()
    fastdrop.set_num_threads(1)
    print(f"# {_bench.header(1, None)}")
    print(f"# {most} float32 arrays per sample, {args.calls} in-place calls each, p = 0.5")
    print(
        f"{'size':>6}"
        + "".join(f" {f'{t} thr Gel/s':>12}" for t in counts)
        + "".join(f" {f'x{t}/x{counts[0]}':>7}" for t in counts[1:])
    )
    stream = fastdrop.Philox(1)
    for n in sizes:
        arrays = [np.ones(n, np.float32) for _ in range(most)]
        candidates = [
            _bench.Candidate(f"{t}", lambda t=t, a=arrays: run(a, t, args.calls, stream))
            for t in counts
        ]
        with np.errstate(over="ignore"):
            _bench.time_interleaved(candidates, args.repeat)
        elements = most * args.calls * n
        rates = [elements / c.median for c in candidates]  # elements per ns = Gelem/s
        print(
            f"{_bench.size_label(n):>6}"
            + "".join(f" {r:>12.3f}" for r in rates)
            + "".join(f" {r / rates[0]:>7.2f}" for r in rates[1:])
        )
    fastdrop.set_num_threads(before)


if __name__ == "__main__":
    main()
