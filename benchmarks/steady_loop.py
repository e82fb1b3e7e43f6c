"""In-place dropout against np.multiply in a steady loop, one thread: x is never restored.

    python benchmarks/steady_loop.py [--sizes 2^22,2^24] [--p 0.1,0.5] [--repeat 15]

fastdrop-bench restores x from a pristine copy (untimed) before every sample, as a layer's input
has just been written by the layer before it; here both candidates run back to back on the same
array instead, so each finds x where the other left it. The two protocols bracket what a user
sees: which lines are still in cache, and dirty, changes np.multiply's time more than fastdrop's.
x starts 16 bytes past a cache line, as in fastdrop-bench (fastdrop._bench.placed_copy; with an
older fastdrop, wherever NumPy puts it). The RNG floor (the Philox outputs the call needs, made by
the same kernel path and discarded) is timed in the same rounds: where floor / multiply alone is
above a target ratio, no schedule of the apply can meet it.
"""

from __future__ import annotations

import argparse

import numpy as np

import fastdrop
from fastdrop import _bench


def main() -> None:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument(
        "--sizes", type=_bench.list_of(_bench.parse_size, "size"), default="2^22,2^24"
    )
    parse.add_argument(
        "--dtypes", type=_bench.list_of(np.dtype, "dtype"), default="float32,float64"
    )
    parse.add_argument("--p", type=_bench.list_of(float, "p"), default="0.1,0.5")
    parse.add_argument("--repeat", type=int, default=15)
    args = parse.parse_args()
    before = fastdrop.get_num_threads()
    fastdrop.set_num_threads(1)
    print(f"# {_bench.header(1, None)}")
    print(
        f"{'size':>6} {'dtype':>8} {'p':>5} {'fastdrop':>9} {'multiply':>9} {'ratio':>6}"
        f" {'floor':>7} {'floor/multiply':>14}"
    )
    for n in args.sizes:
        for dtype in args.dtypes:
            values = np.random.default_rng(0).standard_normal(n).astype(dtype)
            # an older fastdrop, without placed_copy: x wherever NumPy puts it
            x = getattr(_bench, "placed_copy", np.copy)(values)
            for p in args.p:
                stream, scale = fastdrop.Philox(1), dtype.type(1.0 / (1.0 - p))
                multiply = _bench.Candidate(
                    "multiply", lambda x=x, c=scale: np.multiply(x, c, out=x)
                )
                dropout = _bench.Candidate(
                    "fastdrop", lambda x=x, p=p, s=stream: fastdrop.dropout(x, p, rng=s, out=x)
                )
                floor = _bench.Candidate("rng_floor", lambda n=n, p=p: _bench.rng_floor(n, p))
                with np.errstate(over="ignore", invalid="ignore"):  # no speed cost on x86
                    _bench.time_interleaved([multiply, dropout, floor], args.repeat)
                ns = dropout.median / n, multiply.median / n, floor.median / n
                print(
                    f"{_bench.size_label(n):>6} {dtype.name:>8} {p:>5} {ns[0]:>9.3f} {ns[1]:>9.3f}"
                    f" {ns[0] / ns[1]:>6.2f} {ns[2]:>7.3f} {ns[2] / ns[1]:>14.2f}"
                )
    fastdrop.set_num_threads(before)


if __name__ == "__main__":
    main()
