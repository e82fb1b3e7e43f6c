"""Thread scaling of in-place dropout: ns per element and speed-up over one thread.

    python benchmarks/thread_scaling.py [--sizes 2^18,2^20,2^22,2^24] [--threads 1,2] [--repeat 9]

Thread counts are interleaved within each round (fastdrop._bench.time_interleaved), so drift of
the machine hits all of them alike.
"""

from __future__ import annotations

import argparse

import numpy as np

import fastdrop
from fastdrop import _bench


def main() -> None:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument("--sizes", default="2^18,2^20,2^22,2^24")
    parse.add_argument("--threads", default="1,2")
    parse.add_argument("--p", default="0.1,0.5")
    parse.add_argument("--repeat", type=int, default=9)
    args = parse.parse_args()
    sizes = [_bench.parse_size(s) for s in args.sizes.split(",")]
    counts = [int(t) for t in args.threads.split(",")]
    before = fastdrop.get_num_threads()
    print(f"# {_bench.header(0, None)}")
    print(
        f"{'size':>6} {'p':>5}"
        + "".join(f" {f'{t} thr ns/el':>13}" for t in counts)
        + "".join(f" {f'x{t}':>6}" for t in counts[1:])
    )
    for n in sizes:
        x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        for p in (float(v) for v in args.p.split(",")):
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
                _bench.time_interleaved(candidates, args.repeat)
            ns = [c.median / n for c in candidates]
            print(
                f"{_bench.size_label(n):>6} {p:>5}"
                + "".join(f" {v:>13.3f}" for v in ns)
                + "".join(f" {ns[0] / v:>6.2f}" for v in ns[1:])
            )
    fastdrop.set_num_threads(before)


if __name__ == "__main__":
    main()
