"""Python threads sharing one fastdrop.Philox stream: every call gets its own counter blocks, the
blocks of all calls tile the stream with no gap and no overlap, and every call's output is the
one its blocks define, for small calls (under the GIL) and large ones (GIL released, helper
threads), while another thread keeps changing the thread count.

Half the calls take their counters from the stream themselves (``rng=stream``: the blocks are
reserved inside the call); the other half reserve them first with ``stream.draw(n)`` and pass
that Draw. A Draw says where its call's blocks are; a call on the stream says so only through its
output, so :func:`place_calls` finds the free blocks whose single-threaded replay gives that
output: two calls that shared counters, or a call that used other counters than it reserved,
leave a call with no place or a block with no call.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import reference

import fastdrop

THREADS = 8
CALLS = 2000  # per thread
LARGE = (1 << 18) + 300  # releases the GIL and is split between helper threads
P = 0.5


def _blocks(n: int) -> int:
    return -(-n // 128)


def place_calls(key, start, stop, p, drawn, on_stream):
    """Place calls on one stream's blocks [start, stop) and check that they tile them.

    ``drawn``: (Draw, n) of the calls whose counters are known; ``on_stream``: (n, keep mask) of
    the calls that took theirs from the stream, placed here. Asserts that the calls' blocks add
    up to the blocks taken, that no block is used twice or not at all, and that each call of
    ``on_stream`` has a place where the single-threaded replay gives its mask. Returns the
    offset of each call of ``on_stream`` (None for 0 elements: no block), and the replay: the
    keep-mask of all the blocks, 128 elements each.

    Placing is greedy, longest call first: a call of 64 elements or more goes where the first 64
    elements of a block match its own (almost always a single block); a shorter call takes one
    block, and the blocks that fit it are those whose first n elements match: for two calls
    these sets are nested or disjoint, so taking any free block that fits (after the longer
    calls) finds a placement whenever one exists. The check can fail falsely only if two of the
    stream's blocks start with the same 64 mask bits and a call of exactly 64 elements is put
    on the wrong one: for 10**6 blocks, a chance of about 3 * 10**-8.
    """
    total = stop - start
    assert total == sum(_blocks(n) for _, n in drawn) + sum(_blocks(n) for n, _ in on_stream)
    before = fastdrop.get_num_threads()
    try:
        fastdrop.set_num_threads(1)
        replay = fastdrop.dropout_mask(total * 128, p, rng=fastdrop.Draw(key, start))
    finally:
        fastdrop.set_num_threads(before)
    used = np.zeros(total, bool)
    for draw, n in drawn:
        assert draw.key == key
        first = draw.offset - start
        assert 0 <= first <= total
        assert not used[first : first + _blocks(n)].any(), f"overlap at block {draw.offset}"
        used[first : first + _blocks(n)] = True

    # the first 64 mask bits of each block, element i as bit i
    heads = np.packbits(replay.reshape(total, 128)[:, :64], axis=1, bitorder="little")
    heads = heads.view("<u8").reshape(total)
    order = np.argsort(heads, kind="stable")
    sorted_heads = heads[order]
    offsets: list[int | None] = [None] * len(on_stream)
    for i in sorted(range(len(on_stream)), key=lambda i: -on_stream[i][0]):
        n, output = on_stream[i]
        if n == 0:
            continue
        head = np.uint64(int.from_bytes(np.packbits(output[:64], bitorder="little"), "little"))
        if n >= 64:
            low = np.searchsorted(sorted_heads, head, side="left")
            high = np.searchsorted(sorted_heads, head, side="right")
            candidates = np.sort(order[low:high])
        else:
            bits = np.uint64((1 << n) - 1)
            candidates = np.flatnonzero(((heads & bits) == head) & ~used)
        size = _blocks(n)
        for block in candidates:
            window = slice(block * 128, block * 128 + n)
            if block + size <= total and not used[block : block + size].any():
                if np.array_equal(replay[window], output):
                    used[block : block + size] = True
                    offsets[i] = start + int(block)
                    break
        else:
            raise AssertionError(f"no free blocks of the stream give the mask of a call of {n}")
    assert used.all(), f"a block no call used: {start + int(np.argmin(used))}"
    return offsets, replay


def _worker(stream, seed, barrier, results):
    """CALLS calls of four kinds on the shared stream; appends (kind, draw, n, output), the draw
    None where the call took its counters from the stream itself."""
    rng = np.random.default_rng(seed)
    ones = np.ones(LARGE + 1000, np.float32)
    barrier.wait()
    for _ in range(CALLS):
        n = LARGE + int(rng.integers(0, 1000)) if rng.random() < 0.03 else int(rng.integers(0, 700))
        kind = ("mask", "dropout", "drawn dropout", "normal")[int(rng.integers(0, 4))]
        draw = None
        if kind == "mask":  # the stream moves in resolve_draw, as for standard_normal
            output = fastdrop.dropout_mask(n, P, rng=stream)
        elif kind == "dropout":  # the stream moves inside _core.dropout, without Python
            output = fastdrop.dropout(ones[:n], P, rng=stream) != 0
        elif kind == "drawn dropout":
            draw = stream.draw(n)
            output = fastdrop.dropout(ones[:n], P, rng=draw) != 0
        else:
            draw = stream.draw(n)
            output = fastdrop.standard_normal(n, rng=draw, dtype=np.float32)
        results.append((kind, draw, n, output))


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
    for kind in ("mask", "dropout", "drawn dropout", "normal"):  # GIL-free calls of each kind
        assert sum(k == kind and n > LARGE for k, _, n, _ in results) > 0, kind
    drawn = [(draw, n) for _, draw, n, _ in results if draw is not None]
    on_stream = [(n, output) for _, draw, n, output in results if draw is None]
    offsets, replay = place_calls(stream.key, start, stream.offset, P, drawn, on_stream)
    placed = iter(offsets)
    calls = []  # (kind, offset, n, output) of every call
    for kind, draw, n, output in results:
        offset = draw.offset if draw is not None else next(placed)
        calls.append((kind, offset, n, output))
        if draw is not None and n == 0:
            assert start <= draw.offset <= stream.offset  # 0 elements take no block
    before = fastdrop.get_num_threads()
    try:
        fastdrop.set_num_threads(1)
        for kind, offset, n, output in calls:
            if kind == "normal":
                expected = fastdrop.standard_normal(
                    n, rng=fastdrop.Draw(stream.key, offset), dtype=np.float32
                )
                assert np.array_equal(output, expected)
            elif kind == "drawn dropout":  # placed by their draws: their masks are checked here
                first = (offset - start) * 128
                assert np.array_equal(output, replay[first : first + n]), (kind, offset, n)
    finally:
        fastdrop.set_num_threads(before)
    # and the replayed stream is the reference model's, on a few calls of each kind and size
    for kind in ("mask", "dropout", "drawn dropout"):
        checked = [c for c in calls if c[0] == kind and c[2] > LARGE][:1]
        checked += [c for c in calls if c[0] == kind and 0 < c[2] < LARGE][:7]
        for _, offset, n, output in checked:
            assert np.array_equal(output, reference.keep_mask(stream.key, offset, n, P))


def test_shared_stream_tiles_its_blocks():
    """8 threads x 2000 calls on one stream: disjoint, gap-free block ranges; correct outputs."""
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


def test_short_lived_threads_draw_consecutive_blocks():
    """1,100 threads, one after the other, each drawing once from a stream: the stream keeps no
    record of them, and each draw is the next block (past the 1,024 threads of which streams
    once kept a record)."""
    stream = fastdrop.Philox(77)
    draws = [stream.draw(1)]  # this thread's draw: block 0

    def draw_once() -> None:
        draws.append(stream.draw(1))

    for _ in range(1100):
        thread = threading.Thread(target=draw_once)
        thread.start()
        thread.join()
    assert draws == [fastdrop.Draw(77, block) for block in range(1101)]
    assert stream.offset == 1101
    assert stream.draw(1) == fastdrop.Draw(77, 1101)
