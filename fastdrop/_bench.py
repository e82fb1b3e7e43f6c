"""The timing harness behind ``fastdrop-bench``: interleaved candidates, medians, ratios.

Every row times its candidates in rounds (round r runs A, B, C, ... once each), so drift of a
noisy machine hits all of them alike; each sample loops a call long enough to last about a
millisecond, and a row reports the median sample of each candidate.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

import fastdrop
from fastdrop import _core

T = TypeVar("T")

SAMPLE_NS = 1_000_000  # a sample loops its call for at least this long
MAX_SIZE = 2**40  # element counts beyond this are typos, not benchmarks
PEER_CHUNK = 2**16  # the hand-tuned NumPy peer works in L2-sized chunks


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


def list_of(convert: Callable[[str], T], name: str) -> Callable[[str], list[T]]:
    """An argparse type: comma- or space-separated values, each through ``convert``."""

    def parse(text: str) -> list[T]:
        items = [item for item in re.split(r"[,\s]+", text.strip()) if item]
        if not items:
            raise argparse.ArgumentTypeError(f"no {name} in {text!r}")
        try:
            return [convert(item) for item in items]
        except ValueError as error:  # its message names the value and the rule
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def parse_size(text: str) -> int:
    """An element count written as ``262144``, ``2^18`` or ``2**18``.

    Parameters
    ----------
    text : str
        The count, a whole number or a power.

    Returns
    -------
    int
        The count, in [1, MAX_SIZE].

    Raises
    ------
    ValueError
        If ``text`` is not such a count; the message says which rule it breaks.

    Examples
    --------
    >>> parse_size("2^18"), parse_size("2**10"), parse_size(" 1000 ")
    (262144, 1024, 1000)
    >>> parse_size("-5")
    Traceback (most recent call last):
    ...
    ValueError: size '-5' is not in [1, 2^40]
    """
    parts = [part.strip() for part in re.split(r"\*\*|\^", text)]
    if len(parts) > 2 or not all(re.fullmatch(r"[+-]?\d+", part) for part in parts):
        raise ValueError(f"size {text!r} is not a whole number or a power such as 2^18")
    limit = MAX_SIZE.bit_length() - 1
    if len(parts) == 2:
        base, exponent = int(parts[0]), int(parts[1])
        if base < 1:
            raise ValueError(f"size {text!r}: the base must be at least 1")
        if not 0 <= exponent <= limit:  # no giant ints from a typo
            raise ValueError(f"size {text!r}: the exponent must be in [0, {limit}]")
        value = base**exponent
    else:
        value = int(parts[0])
    if not 1 <= value <= MAX_SIZE:
        raise ValueError(f"size {text!r} is not in [1, 2^{limit}]")
    return value


def bytes_needed(n: int, dtype: np.dtype) -> int:
    """About the most memory a dropout row of n elements holds at once: x, its pristine copy
    and naive NumPy dropout's temporaries (its float64 uniforms and their mask, at most 16 bytes
    an element).

    Examples
    --------
    >>> bytes_needed(2**20, np.dtype(np.float32)) / 2**20
    24.0
    """
    return n * (2 * dtype.itemsize + 16)


LINE_OFFSET = 16  # bytes past a 64-byte cache line where NumPy's large arrays start (glibc)


def placed_copy(values: np.ndarray) -> np.ndarray:
    """A copy of the 1-d array ``values`` starting LINE_OFFSET bytes past a cache line.

    NumPy's large arrays start there (glibc's allocations carry a 16-byte header); smaller ones
    start wherever its allocator puts them, and a 32-byte vector loop can take 30% longer 16
    bytes past a line than on one. Timing every size at one placement keeps runs, builds and
    machines comparable.

    Examples
    --------
    >>> x = placed_copy(np.arange(5, dtype=np.float32))
    >>> x.ctypes.data % 64, x.tolist()
    (16, [0.0, 1.0, 2.0, 3.0, 4.0])
    """
    buffer = np.empty(values.nbytes + 64, np.uint8)
    start = (LINE_OFFSET - buffer.ctypes.data) % 64
    placed = buffer[start : start + values.nbytes].view(values.dtype)
    placed[...] = values
    return placed


def physical_memory() -> int | None:
    """The machine's memory in bytes, or None where the OS does not say (Windows).

    Examples
    --------
    >>> memory = physical_memory()
    >>> memory is None or memory > 2**20
    True
    """
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def size_label(n: int) -> str:
    """``2^k`` for powers of two, the number otherwise.

    Parameters
    ----------
    n : int
        An element count.

    Returns
    -------
    str
        Its label in the tables.

    Examples
    --------
    >>> size_label(2**22), size_label(1000)
    ('2^22', '1000')
    """
    return f"2^{n.bit_length() - 1}" if n > 0 and n & (n - 1) == 0 else str(n)


def _timed_call(candidate: Candidate) -> int:
    candidate.reset()
    start = time.perf_counter_ns()
    candidate.call()
    return max(time.perf_counter_ns() - start, 1)


def _loops(candidate: Candidate) -> int:
    """Calls per sample, enough for SAMPLE_NS: a warm-up call, then a timed one if it was short."""
    once = _timed_call(candidate)  # warm-up (caches, page faults, lazy imports)
    if once < 10 * SAMPLE_NS:  # a long call needs no second look: it is one call a sample
        once = _timed_call(candidate)
    return max(1, min(10_000, SAMPLE_NS // once))


def time_interleaved(candidates: Sequence[Candidate], repeat: int) -> None:
    """Fill each candidate's samples (ns per call): warm-up, then ``repeat`` interleaved rounds.

    Round r resets and times candidate A, then B, then C, ...; each sample is a loop of calls
    lasting about SAMPLE_NS (one call if a call is longer), divided by the number of calls.

    Parameters
    ----------
    candidates : sequence of Candidate
        What to time; their ``samples`` lists are appended to.
    repeat : int
        Rounds, so samples per candidate.

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
    """The CPU's model name (Linux /proc/cpuinfo), else what the platform module says.

    Returns
    -------
    str
        For example ``"AMD EPYC"``; ``"unknown"`` if nothing says.

    Examples
    --------
    >>> isinstance(cpu_model(), str) and cpu_model() != ""
    True
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def header(threads: int, torch_version: str | None) -> dict[str, object]:
    """What the numbers were measured on: CPU, SIMD path, threads, versions.

    Parameters
    ----------
    threads : int
        The threads fastdrop (and PyTorch) were given.
    torch_version : str or None
        PyTorch's version if it takes part.

    Returns
    -------
    dict
        cpu, cpus, simd, threads, python, numpy, fastdrop and, with PyTorch, torch.

    Examples
    --------
    >>> facts = header(1, None)
    >>> facts["threads"], facts["fastdrop"] == fastdrop.__version__, "torch" in facts
    (1, True, False)
    """
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


def naive_dropout(x: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Naive NumPy dropout, the reference fastdrop-bench times: ``x * (rng.random(x.shape) <
    keep) / keep`` with keep = 1 - p.

    What a NumPy user writes first: a float64 uniform per element, a bool mask from it, then two
    passes over x, each making a new array.

    Parameters
    ----------
    x : numpy.ndarray
        The input (not modified).
    p : float
        The drop probability, in [0, 1).
    rng : numpy.random.Generator
        Where the uniforms come from.

    Returns
    -------
    numpy.ndarray
        A new array of x's dtype: each element 0 or x / keep.

    Examples
    --------
    >>> x = np.ones(1000, np.float32)
    >>> y = naive_dropout(x, 0.5, np.random.default_rng(0))
    >>> y.dtype, sorted(set(y.tolist()))
    (dtype('float32'), [0.0, 2.0])
    """
    keep = 1.0 - p
    return x * (rng.random(x.shape) < keep) / keep


def uint8_dropout(x: np.ndarray, p: float, bits: np.random.BitGenerator) -> np.ndarray:
    """Hand-tuned NumPy dropout, in place: keep iff a random byte >= round(256 p).

    The peer a NumPy user could write: raw generator words read as bytes (p has 1/256
    resolution), in chunks of PEER_CHUNK elements so the bytes and the mask stay in cache.

    Parameters
    ----------
    x : numpy.ndarray
        C-contiguous floats, overwritten.
    p : float
        The drop probability, in [0, 1].
    bits : numpy.random.BitGenerator
        Where the bytes come from.

    Returns
    -------
    numpy.ndarray
        ``x``.

    Examples
    --------
    >>> x = np.ones(1000, np.float32)
    >>> sorted(set(uint8_dropout(x, 0.5, np.random.SFC64(0)).tolist()))
    [0.0, 2.0]
    """
    flat = x.reshape(-1)
    cut = round(256 * p)  # 256 (p > 1 - 1/512) drops everything
    scale = x.dtype.type(1.0 / (1.0 - p) if p < 1.0 else 1.0)
    keep = np.empty(min(PEER_CHUNK, flat.size), np.bool_)
    for start in range(0, flat.size, PEER_CHUNK):
        part = flat[start : start + PEER_CHUNK]
        mask = keep[: part.size]
        random_bytes = bits.random_raw(-(-part.size // 8)).view(np.uint8)[: part.size]
        np.greater_equal(random_bytes, cut, out=mask)
        np.multiply(part, mask, out=part)
        np.multiply(part, scale, out=part)
    return x


def _torch_candidate(
    torch: Any, x: np.ndarray, p: float, reset: Callable[[], object]
) -> Candidate | None:
    """PyTorch's in-place dropout over x's memory, or None if this PyTorch refuses the dtype."""
    t = torch.from_numpy(x)  # shares x's memory
    dropout = torch.nn.functional.dropout
    try:
        dropout(t, p, True, True)
    except (RuntimeError, TypeError):  # e.g. an operation not implemented for 'Half'
        return None
    return Candidate("torch", lambda: dropout(t, p, True, True), reset)


def rng_floor(n: int, p: float) -> None:
    """The RNG floor of a dropout or mask call of n elements at drop probability p: the Philox
    outputs that call needs (its bit planes, and the ties' outputs where ties follow), generated
    by the active kernel path as its kernels generate them, then discarded (nothing stored).

    A kernel cannot take less time than its floor; its time over the floor says how much is
    the generator and how much the rest.

    Parameters
    ----------
    n : int
        Elements.
    p : float
        The drop probability, in [0, 1].

    Examples
    --------
    >>> rng_floor(4096, 0.1)
    """
    _core.floor(n, 1, 0, _core.threshold(p))


def dropout_row(
    n: int, dtype: np.dtype, p: float, repeat: int, torch: Any | None, numpy_peer: bool
) -> dict[str, object]:
    """Time in-place dropout of n elements against np.multiply, its RNG floor, naive NumPy dropout
    and peers.

    Candidates: ``np.multiply(x, c, out=x)`` with c = 1/(1-p) in x's dtype (the memory-bound
    floor), ``rng_floor`` (:func:`rng_floor`), ``fastdrop.dropout(x, p, rng=stream, out=x)``,
    :func:`naive_dropout` (named ``naive_numpy``) and optionally :func:`uint8_dropout`
    (``numpy_u8``) and PyTorch. x (standard normal) is restored from a pristine copy, untimed,
    before every sample.

    Parameters
    ----------
    n : int
        Elements.
    dtype : numpy.dtype
        float16, float32 or float64.
    p : float
        The drop probability.
    repeat : int
        Samples per candidate.
    torch : module or None
        PyTorch, to time it too.
    numpy_peer : bool
        Also time :func:`uint8_dropout`.

    Returns
    -------
    dict
        size, dtype, p, ns_per_element (medians), fastdrop_gb_per_s (2 * itemsize bytes per
        element), vs_multiply, vs_floor_plus_multiply (fastdrop's time over the sum of the
        floor's and multiply's: at most 1 is no slower than making the bits, then multiplying),
        speedup_vs_naive_numpy and samples_ns (every sample, ns per call).

    Examples
    --------
    >>> row = dropout_row(1000, np.dtype(np.float32), 0.5, 2, None, True)
    >>> sorted(row["samples_ns"]), len(row["samples_ns"]["fastdrop"])
    (['fastdrop', 'multiply', 'naive_numpy', 'numpy_u8', 'rng_floor'], 2)
    """
    rng = np.random.default_rng(0)
    pristine = rng.standard_normal(n).astype(dtype)
    x = placed_copy(pristine)
    scale = dtype.type(1.0 / (1.0 - p))
    stream = fastdrop.Philox(1)
    uniforms = np.random.default_rng(1)

    def reset() -> None:
        np.copyto(x, pristine)

    candidates = [
        Candidate("multiply", lambda: np.multiply(x, scale, out=x), reset),
        Candidate("rng_floor", lambda: rng_floor(n, p)),
        Candidate("fastdrop", lambda: fastdrop.dropout(x, p, rng=stream, out=x), reset),
        Candidate("naive_numpy", lambda: naive_dropout(x, p, uniforms), reset),
    ]
    if numpy_peer:
        bits = np.random.SFC64(1)
        candidates.append(Candidate("numpy_u8", lambda: uint8_dropout(x, p, bits), reset))
    # Loops of in-place scaling may reach inf (and inf * 0 NaN). That costs float32 and float64
    # no speed; NumPy's float16 multiply, scalar code, gets faster on inf (4.9 against 6.8 ns/el
    # on this kind of machine), which makes float16 ratios pessimistic for fastdrop.
    with np.errstate(over="ignore", invalid="ignore"):
        if torch is not None:
            torch_candidate = _torch_candidate(torch, x, p, reset)
            if torch_candidate is not None:
                candidates.append(torch_candidate)
        time_interleaved(candidates, repeat)
    medians = {c.name: c.median for c in candidates}
    row: dict[str, object] = {
        "size": n,
        "dtype": dtype.name,
        "p": p,
        "ns_per_element": {k: v / n for k, v in medians.items()},
        "fastdrop_gb_per_s": 2 * dtype.itemsize * n / medians["fastdrop"],
        "vs_multiply": medians["fastdrop"] / medians["multiply"],
        "vs_floor_plus_multiply": medians["fastdrop"]
        / (medians["rng_floor"] + medians["multiply"]),
        "speedup_vs_naive_numpy": medians["naive_numpy"] / medians["fastdrop"],
        "samples_ns": {c.name: c.samples for c in candidates},
    }
    return row


def mask_row(n: int, p: float, repeat: int) -> dict[str, object]:
    """Time dropout_mask (bool and packed) against np.copyto of n bytes and the RNG floor.

    Parameters
    ----------
    n : int
        Elements (mask bytes for bool, n / 8 for packed).
    p : float
        The drop probability.
    repeat : int
        Samples per candidate.

    Returns
    -------
    dict
        size, p, ns_per_element (medians), bool_vs_copyto, packed_vs_copyto, packed_vs_floor,
        bool_vs_floor_plus_copyto (the bool mask's time over the sum of the floor's and
        copyto's) and samples_ns.

    Examples
    --------
    >>> row = mask_row(4096, 0.1, 2)
    >>> sorted(row["samples_ns"]), row["bool_vs_copyto"] > 0
    (['bool', 'copyto', 'packed', 'rng_floor'], True)
    """
    source = np.ones(n, np.uint8)
    dest = np.empty(n, np.uint8)
    stream = fastdrop.Philox(2)
    candidates = [
        Candidate("copyto", lambda: np.copyto(dest, source)),
        Candidate("rng_floor", lambda: rng_floor(n, p)),
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
        "packed_vs_floor": medians["packed"] / medians["rng_floor"],
        "bool_vs_floor_plus_copyto": medians["bool"] / (medians["rng_floor"] + medians["copyto"]),
        "samples_ns": {c.name: c.samples for c in candidates},
    }
