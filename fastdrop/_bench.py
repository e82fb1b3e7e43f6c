"""The timing harness behind ``fastdrop-bench``: interleaved candidates, medians, ratios.

Every row times its candidates in rounds (round r runs A, B, C, ... once each), so drift of a
noisy machine hits all of them alike; each sample loops a call long enough to last about a
millisecond, and a row reports the median sample of each candidate.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

import fastdrop

SAMPLE_NS = 1_000_000  # a sample loops its call for at least this long


@dataclass
class Candidate:
    """One timed thing: ``call`` is timed; ``reset`` (untimed) restores its input first."""

    name: str
    call: Callable[[], object]
    reset: Callable[[], object] = lambda: None
    samples: list[float] = field(default_factory=list)  # ns per call

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def parse_size(text: str) -> int:
    """An element count written as ``262144``, ``2^18`` or ``2**18``.

    Examples
    --------
    >>> parse_size("2^18"), parse_size("2**10"), parse_size("1000")
    (262144, 1024, 1000)
    """
    for power in ("**", "^"):
        if power in text:
            base, exponent = text.split(power)
            return int(base) ** int(exponent)
    return int(text)


def size_label(n: int) -> str:
    """``2^k`` for powers of two, the number otherwise.

    Examples
    --------
    >>> size_label(2**22), size_label(1000)
    ('2^22', '1000')
    """
    return f"2^{n.bit_length() - 1}" if n > 0 and n & (n - 1) == 0 else str(n)


def _loops(candidate: Candidate) -> int:
    """Calls per sample: enough for SAMPLE_NS, found from a warm-up call."""
    candidate.reset()
    start = time.perf_counter_ns()
    candidate.call()
    once = max(time.perf_counter_ns() - start, 1)
    return max(1, min(10_000, SAMPLE_NS // once))


def time_interleaved(candidates: Sequence[Candidate], repeat: int) -> None:
    """Fill each candidate's samples (ns per call): warm-up, then ``repeat`` interleaved rounds.

    Examples
    --------
    >>> a = Candidate("sum", lambda: sum(range(100)))
    >>> time_interleaved([a], repeat=3)
    >>> len(a.samples), a.median > 0
    (3, True)
    """
    loops = [_loops(c) for c in candidates]
    for _ in range(repeat):
        for candidate, n in zip(candidates, loops, strict=True):
            candidate.reset()
            start = time.perf_counter_ns()
            for _ in range(n):
                candidate.call()
            candidate.samples.append((time.perf_counter_ns() - start) / n)


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what the platform module says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def header(threads: int, torch_version: str | None) -> dict[str, object]:
    """What the numbers were measured on."""
    facts: dict[str, object] = {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "simd": fastdrop.simd_path(),
        "threads": threads,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "fastdrop": fastdrop.__version__,
    }
    if torch_version is not None:
        facts["torch"] = torch_version
    return facts


class Progress:
    """A one-line progress bar on stderr (stdout stays clean for the table)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled

    def step(self, label: str) -> None:
        self.done += 1
        if self.enabled:
            filled = 30 * self.done // self.total
            bar = "#" * filled + "." * (30 - filled)
            sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {label:<28}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 72 + "\r")
            sys.stderr.flush()


def dropout_row(
    n: int, dtype: np.dtype, p: float, repeat: int, torch: object | None, numpy_peer: bool
) -> dict[str, object]:
    """Time in-place dropout of n elements against np.multiply, the seeds' code and peers."""
    rng = np.random.default_rng(0)
    pristine = rng.standard_normal(n).astype(dtype)
    x = pristine.copy()
    keep = 1.0 - p
    scale = dtype.type(1.0 / keep)
    stream = fastdrop.Philox(1)

    def reset() -> None:
        np.copyto(x, pristine)

    def seeds() -> object:  # the seeds' NumPy dropout, as written there
        return x * ((np.random.rand(*x.shape) < keep) / keep)  # noqa: NPY002 (as the seeds)

    candidates = [
        Candidate("multiply", lambda: np.multiply(x, scale, out=x), reset),
        Candidate("fastdrop", lambda: fastdrop.dropout(x, p, rng=stream, out=x), reset),
        Candidate("seeds", seeds, reset),
    ]
    if numpy_peer:
        generator = np.random.default_rng(1)
        cut = np.uint8(round(p * 256))

        def numpy_u8() -> None:  # hand-tuned NumPy: one random byte per element (1/256 steps)
            keep_mask = generator.integers(0, 256, size=n, dtype=np.uint8) >= cut
            np.multiply(x, keep_mask, out=x)
            np.multiply(x, scale, out=x)

        candidates.append(Candidate("numpy_u8", numpy_u8, reset))
    if torch is not None:
        t = torch.from_numpy(x)  # shares x's memory
        dropout = torch.nn.functional.dropout
        candidates.append(Candidate("torch", lambda: dropout(t, p, True, True), reset))
    with np.errstate(over="ignore"):  # loops of in-place scaling may reach inf; speed is the same
        time_interleaved(candidates, repeat)
    medians = {c.name: c.median for c in candidates}
    row: dict[str, object] = {
        "size": n,
        "dtype": dtype.name,
        "p": p,
        "ns_per_element": {k: v / n for k, v in medians.items()},
        "fastdrop_gb_per_s": 2 * dtype.itemsize * n / medians["fastdrop"],
        "vs_multiply": medians["fastdrop"] / medians["multiply"],
        "speedup_vs_seeds": medians["seeds"] / medians["fastdrop"],
        "samples_ns": {c.name: c.samples for c in candidates},
    }
    return row


def mask_row(n: int, p: float, repeat: int) -> dict[str, object]:
    """Time dropout_mask (bool and packed) against np.copyto of n bytes."""
    source = np.ones(n, np.uint8)
    dest = np.empty(n, np.uint8)
    stream = fastdrop.Philox(2)
    candidates = [
        Candidate("copyto", lambda: np.copyto(dest, source)),
        Candidate("bool", lambda: fastdrop.dropout_mask(n, p, rng=stream)),
        Candidate("packed", lambda: fastdrop.dropout_mask(n, p, rng=stream, packed=True)),
    ]
    time_interleaved(candidates, repeat)
    medians = {c.name: c.median for c in candidates}
    return {
        "size": n,
        "p": p,
        "ns_per_element": {k: v / n for k, v in medians.items()},
        "bool_vs_copyto": medians["bool"] / medians["copyto"],
        "packed_vs_copyto": medians["packed"] / medians["copyto"],
        "samples_ns": {c.name: c.samples for c in candidates},
    }
