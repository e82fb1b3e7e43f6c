"""Python threads sharing one fastdrop.Philox stream: every call gets its own counter blocks, the
blocks of all calls tile the stream with no gap and no overlap, and every call's output is the
one its blocks define, for small calls (under the GIL) and large ones (GIL released, helper
threads), while another thread keeps changing the thread count.

Each call's blocks are read from the stream's thread-local ``last_draw`` right after the call,
and then proved: the mask (or variates) of the call must equal those of a single-threaded replay
at that offset, so a wrong ``last_draw`` fails as surely as two calls sharing counters.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import reference

import fastdrop
from fastdrop import _core

THREADS = 8
CALLS = 2000  # per thread
LARGE = (1 << 18) + 300  # releases the GIL and is split between helper threads
P = 0.5


def _blocks(n: int) -> int:
    return -(-n // 128)


def _worker(stream, seed, barrier, results):
    """CALLS calls of three kinds on the shared stream; appends (kind, offset, n, output)."""
    rng = np.random.default_rng(seed)
    ones = np.ones(LARGE + 1000, np.float32)
    barrier.wait()
    for _ in range(CALLS):
        n = LARGE + int(rng.integers(0, 1000)) if rng.random() < 0.03 else int(rng.integers(0, 700))
        kind = ("mask", "dropout", "normal")[int(rng.integers(0, 3))]
        if kind == "mask":
            output = fastdrop.dropout_mask(n, P, rng=stream)
        elif kind == "dropout":  # the C fast path, which takes its blocks without Python
            output = fastdrop.dropout(ones[:n], P, rng=stream) != 0
        else:
            output = fastdrop.standard_normal(n, rng=stream, dtype=np.float32)
        key, offset = stream.last_draw
        results.append((kind, key, offset, n, output))


def _run_threads(stream, extra=None):
    barrier = threading.Barrier(THREADS + (extra is not None))
    results: list = []
    threads = [
        threading.Thread(target=_worker, args=(stream, seed, barrier, results))
        for seed in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    if extra is not None:
        barrier.wait()
        extra(threads)
    for thread in threads:
        thread.join()
    return results


def _check_tiling_and_outputs(stream, start, results):
    """The calls' block ranges are disjoint and cover [start, stream.offset) exactly; each call's
    output is the single-threaded output at its offset."""
    assert len(results) == THREADS * CALLS
    assert sum(n > LARGE for _, _, _, n, _ in results) > THREADS  # GIL-free calls ran too
    assert all(key == stream.key for _, key, _, _, _ in results)
    ranges = sorted((offset, offset + _blocks(n)) for _, _, offset, n, _ in results)
    empty = [r for r in ranges if r[0] == r[1]]  # 0-element calls take no block
    ranges = [r for r in ranges if r[0] != r[1]]
    position = start
    for low, high in ranges:
        assert low == position, f"gap or overlap at block {position}: next call starts at {low}"
        position = high
    assert position == stream.offset
    assert all(start <= low <= stream.offset for low, _ in empty)

    fastdrop.set_num_threads(1)
    total = (stream.offset - start) * 128
    masks = fastdrop.dropout_mask(total, P, rng=fastdrop.Philox(stream.key, offset=start))
    for kind, key, offset, n, output in results:
        first = (offset - start) * 128
        if kind == "normal":
            expected = fastdrop.standard_normal(
                n, rng=fastdrop.Philox(key, offset=offset), dtype=np.float32
            )
            assert np.array_equal(output, expected)
        else:
            assert np.array_equal(output, masks[first : first + n]), (kind, offset, n)
    # and the replayed stream is the reference model's, on a few calls of each size
    checked = [r for r in results if r[0] != "normal" and r[3] > LARGE][:2]
    checked += [r for r in results if r[0] != "normal" and 0 < r[3] < LARGE][:20]
    for _, key, offset, n, output in checked:
        assert np.array_equal(output, reference.keep_mask(key, offset, n, P))


def test_shared_stream_tiles_its_blocks():
    """8 threads x 1000 calls on one stream: disjoint, gap-free block ranges; correct outputs."""
    before = fastdrop.get_num_threads()
    try:
        fastdrop.set_num_threads(4)
        start = 2**32 - 5000  # the calls cross the 2**32 carry into counter word 1
        stream = fastdrop.Philox(987654321, offset=start)
        results = _run_threads(stream)
        _check_tiling_and_outputs(stream, start, results)
    finally:
        fastdrop.set_num_threads(before)


def test_changing_the_thread_count_during_calls():
    """set_num_threads from another thread while 8 threads run: no crash, same outputs."""
    before = fastdrop.get_num_threads()

    def keep_changing(workers):
        counts = [1, 3, 2, 8, 1, 256, 2]
        i = 0
        while any(worker.is_alive() for worker in workers):
            fastdrop.set_num_threads(counts[i % len(counts)])
            i += 1
            time.sleep(0.0002)
        assert i > len(counts)

    try:
        start = 123
        stream = fastdrop.Philox(2024, offset=start)
        results = _run_threads(stream, extra=keep_changing)
        _check_tiling_and_outputs(stream, start, results)
    finally:
        fastdrop.set_num_threads(before)


def test_a_stream_remembers_the_draws_of_the_threads_that_drew_last():
    """A stream keeps the latest draw of its last THREADS_REMEMBERED threads, not of every thread
    that ever used it (a stream shared by short-lived threads would grow without end)."""
    stream = fastdrop.Philox(77)
    stream.draw(1)  # this thread's draw: block 0

    def draw_in_new_threads(count: int) -> None:
        for _ in range(count):
            thread = threading.Thread(target=stream.draw, args=(1,))
            thread.start()
            thread.join()

    draw_in_new_threads(_core.THREADS_REMEMBERED - 1)
    assert stream.last_draw == (77, 0)  # one of the last THREADS_REMEMBERED threads
    draw_in_new_threads(1)
    assert stream.last_draw is None
    assert stream.offset == _core.THREADS_REMEMBERED + 1
    stream.draw(1)
    assert stream.last_draw == (77, _core.THREADS_REMEMBERED + 1)
