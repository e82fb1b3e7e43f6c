"""Dropout and Monte-Carlo dropout over Dask arrays: chunks against one call, and a LocalCluster.

    python benchmarks/dask_scaling.py dropout [--log2-size 28] [--chunks 20,22,24,26] [--repeat 5]
    python benchmarks/dask_scaling.py cluster [--log2-size 28] [--chunks 20,22,24,26] [--repeat 5]
    python benchmarks/dask_scaling.py mc [--rows 1000000] [--chunk-rows 10000] [--samples 20]

dropout: float32 dropout (p = 0.5, inverted, out of place) of 2**28 elements (1 GiB) made on the
workers (``fastdrop.standard_normal(..., chunks=).persist()``: real chunks, not the read-only
broadcast scalar of ``da.ones``), each chunk's result kept where it was computed
(``persist``), on Dask's threaded scheduler, against one fastdrop call on the same total
(``fastdrop.dropout(x, 0.5, rng=1)`` on a NumPy array, also out of place). Median and best of
--repeat runs, interleaved (the best is the run least disturbed by other work on the machine);
fastdrop uses its default thread count in both (helpers are shared: Dask's threads never
oversubscribe the pool).

cluster: the same on a ``LocalCluster`` of 2 worker processes on loopback (1 thread each; each
process's fastdrop has its default threads, and once FASTDROP_NUM_THREADS=1).

mc: ``MLP([784, 512, 512, 10], dropout=[0.2, 0.5, 0.5]).predict_proba(X, mc_samples=20)`` for X
of --rows rows of 784 features made on the workers (``fastdrop.standard_normal(..., chunks=)``),
on the LocalCluster: rows per second, and each worker's peak resident memory (sampled every
0.2 s), against the bytes of its chunks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import numpy as np

import fastdrop
from fastdrop import _bench

P = 0.5


def _seconds(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def dropout_table(args: argparse.Namespace, client=None, label: str = "threads") -> None:
    from distributed import wait

    n = 1 << args.log2_size
    threads = fastdrop.get_num_threads()
    scheduler = {} if client is not None else {"scheduler": "threads"}
    whole = fastdrop.standard_normal(n, rng=0, dtype=np.float32)
    single: list[float] = []
    lazy: dict[int, list[float]] = {c: [] for c in args.chunks}
    build: dict[int, list[float]] = {c: [] for c in args.chunks}
    for c in args.chunks:  # one input at a time (each is 1 GiB), the one call interleaved
        x = fastdrop.standard_normal(n, rng=0, dtype=np.float32, chunks=1 << c)
        x = x.persist(**scheduler)
        if client is not None:
            wait(x)
        for _ in range(args.repeat):
            single.append(_seconds(lambda: fastdrop.dropout(whole, P, rng=1)))
            fastdrop.set_num_threads(args.chunk_threads or threads)
            start = time.perf_counter()
            y = fastdrop.dropout(x, P, rng=1)
            build[c].append(time.perf_counter() - start)
            y = y.persist(**scheduler)
            if client is not None:
                wait(y)
            lazy[c].append(time.perf_counter() - start)
            fastdrop.set_num_threads(threads)
            del y
        del x
    base, best = statistics.median(single), min(single)
    print(
        f"# {label}: {n} float32 (2^{args.log2_size}), p = {P}, median of {args.repeat}; "
        f"fastdrop threads: one call {threads}, in Dask {args.chunk_threads or threads}"
    )
    print(
        f"{'chunk':>8} {'chunks':>7} {'seconds':>8} {'GB/s':>6} {'vs one call':>12} "
        f"{'best':>6} {'best vs best':>13} {'graph':>7}"
    )
    print(
        f"{'one call':>8} {1:>7} {base:8.3f} {8 * n / base / 1e9:6.2f} {1.0:12.2f} "
        f"{best:6.3f} {1.0:13.2f}"
    )
    for c in args.chunks:
        t, b, fastest = statistics.median(lazy[c]), statistics.median(build[c]), min(lazy[c])
        print(
            f"{'2^' + str(c):>8} {n >> c:>7} {t:8.3f} {8 * n / t / 1e9:6.2f} {t / base:12.2f} "
            f"{fastest:6.3f} {fastest / best:13.2f} {b * 1e3:5.1f}ms"
        )


def _cluster(threads: str | None):
    from distributed import Client, LocalCluster

    env = {} if threads is None else {"FASTDROP_NUM_THREADS": threads}
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # its HTTP server on any free port (not 8787)
        scheduler_kwargs={"dashboard": False},
        env=env,
    )
    return cluster, Client(cluster)


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def mc_table(args: argparse.Namespace) -> None:
    from fastdrop.nn import MLP

    cluster, client = _cluster(None)
    with cluster, client:
        model = MLP([784, 512, 512, 10], dropout=[0.2, 0.5, 0.5], rng=0)
        X = fastdrop.standard_normal(
            (args.rows, 784), rng=1, dtype=np.float32, chunks=(args.chunk_rows, 784)
        )
        mean, spread = model.predict_proba(X, mc_samples=args.samples)
        baseline = client.run(_rss)
        peaks = dict(baseline)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                for worker, rss in client.run(_rss).items():
                    peaks[worker] = max(peaks[worker], rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        got_mean, got_spread = client.compute([mean, spread], sync=True)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        assert got_mean.shape == (args.rows, 10) and np.isfinite(got_spread).all()
    chunk_mib = args.chunk_rows * 784 * 4 / 2**20
    print(
        f"# MC dropout: {args.rows} rows x 784, 784-512-512-10, k = {args.samples}, chunks of "
        f"{args.chunk_rows} rows ({chunk_mib:.1f} MiB), LocalCluster of 2 processes x 1 thread"
    )
    print(f"rows/s {args.rows / seconds:,.0f}  ({seconds:.1f} s)")
    for worker in sorted(peaks):
        print(
            f"{worker}: peak RSS {peaks[worker] / 2**20:,.0f} MiB, "
            f"{(peaks[worker] - baseline[worker]) / 2**20:,.0f} MiB above its start"
        )
    print(f"input, whole: {args.rows * 784 * 4 / 2**30:.2f} GiB (never materialised)")


def main() -> None:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument("what", choices=["dropout", "cluster", "mc"])
    parse.add_argument("--log2-size", type=int, default=28)
    parse.add_argument(
        "--chunks", type=_bench.list_of(int, "log2 chunk"), default="20,21,22,23,24,25,26"
    )
    parse.add_argument("--repeat", type=int, default=5)
    parse.add_argument(
        "--chunk-threads",
        type=int,
        default=0,
        help="fastdrop threads while Dask's threads run (0: the default, as the one call)",
    )
    parse.add_argument("--rows", type=int, default=1_000_000)
    parse.add_argument("--chunk-rows", type=int, default=10_000)
    parse.add_argument("--samples", type=int, default=20)
    args = parse.parse_args()
    print(f"# {_bench.header(fastdrop.get_num_threads(), None)}")
    print(f"# dask_scaling.py {args.what}, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs")
    if args.what == "dropout":
        dropout_table(args)
    elif args.what == "cluster":
        for threads in (None, "1"):
            cluster, client = _cluster(threads)
            with cluster, client:
                label = f"LocalCluster 2 x 1, FASTDROP_NUM_THREADS={threads or 'default'}"
                dropout_table(args, client, label)
    else:
        mc_table(args)


if __name__ == "__main__":
    main()
