"""Thread scaling of in-place dropout: ns per element and speed-up over one thread.

    python benchmarks/thread_scaling.py [--sizes 2^18,2^20,2^22,2^24] [--threads 1,2] [--repeat 9]
                                        [--pause-ms 3]

Thread counts are interleaved within each round (fastdrop._bench.time_interleaved), so drift of
the machine hits all of them alike. Calls run back to back, unless --pause-ms is given: then each
call is timed alone after that long asleep, as in a training loop where other work (the matrix
products) comes between dropout calls and the helper threads have gone to sleep meanwhile.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fastdrop
from fastdrop import _bench


def main() -> None:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument(
        "--sizes", type=_bench.list_of(_bench.parse_size, "size"), default="2^18,2^20,2^22,2^24"
    )
    parse.add_argument("--threads", type=_bench.list_of(int, "thread count"), default="1,2")
    parse.add_argument("--p", type=_bench.list_of(float, "p"), default="0.1,0.5")
    parse.add_argument("--repeat", type=int, default=9)
    parse.add_argument("--pause-ms", type=float, default=0.0)
    args = parse.parse_args()
    sizes, counts = args.sizes, args.threads
    before = fastdrop.get_num_threads()
    print(f"# {_bench.header(0, None)}")
    print(
        f"{'size':>6} {'p':>5}"
        + "".join(f" {f'{t} thr ns/el':>13}" for t in counts)
        + "".join(f" {f'x{t}':>6}" for t in counts[1:])
    )
    for n in sizes:
        x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        for p in args.p:
            stream = fastdrop.Philox(1)

            def run(threads: int, x: np.ndarray = x, p: float = p, stream=stream) -> None:
                fastdrop.set_num_threads(threads)
                fastdrop.dropout(x, p, rng=stream, out=x)

            candidates = [
                _bench.Candidate(
                    str(t), lambda t=t: run(t), lambda t=t: fastdrop.set_num_threads(t)
                )
                for t in counts
            ]
            with np.errstate(over="ignore"):
                if args.pause_ms > 0:
                    paused(candidates, 5 * args.repeat, args.pause_ms / 1e3)
                else:
                    _bench.time_interleaved(candidates, args.repeat)
            ns = [c.median / n for c in candidates]
            print(
                f"{_bench.size_label(n):>6} {p:>5}"
                + "".join(f" {v:>13.3f}" for v in ns)
                + "".join(f" {ns[0] / v:>6.2f}" for v in ns[1:])
            )
    fastdrop.set_num_threads(before)


def paused(candidates: list[_bench.Candidate], rounds: int, pause: float) -> None:
    """Interleaved rounds of single calls, each after `pause` seconds asleep."""
    for _ in range(rounds):
        for candidate in candidates:
            candidate.reset()
            time.sleep(pause)
            start = time.perf_counter_ns()
            candidate.call()
            candidate.samples.append(time.perf_counter_ns() - start)


if __name__ == "__main__":
    main()
