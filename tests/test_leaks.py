"""100,000 calls of each public function, and of its error paths, leave the resident memory flat
and the reference counts of their arguments unchanged.

The bound: after 10,000 warm-up calls, RSS (from /proc/self/statm) may grow by less than 1 MiB
over 100,000 more calls. A leak of 16 bytes per call is 1.6 MB over those calls (more with
malloc's per-chunk overhead: 32-byte chunks, 3.2 MB), so even the smallest C allocation leaked
once per call fails the test; test_the_probe_sees_a_16_byte_leak proves the probe sees one. A
leaked reference (a Py_INCREF without its DECREF) leaks no memory worth measuring when the
object is kept alive anyway, so the reference counts of x, out, p, the key and the rng object
are checked separately: they must be exactly what they were before the calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fastdrop
from fastdrop.nn import Dropout

CALLS = 100_000
WARM_UP = 10_000
BOUND = 1 << 20  # bytes


class _MemoryCounters(ctypes.Structure):  # Windows' PROCESS_MEMORY_COUNTERS
    _fields_ = [("cb", ctypes.c_uint32), ("page_faults", ctypes.c_uint32)] + [
        (name, ctypes.c_size_t)
        for name in ("peak_working_set", "working_set", "a", "b", "c", "d", "e", "f")
    ]


def rss() -> int:
    """Resident set size of this process in bytes: the second field of /proc/self/statm on
    Linux, the working set on Windows, else the peak (getrusage), which a steady leak raises too."""
    if os.path.exists("/proc/self/statm"):
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    if sys.platform == "win32":
        counters = _MemoryCounters(cb=ctypes.sizeof(_MemoryCounters))
        process = ctypes.windll.kernel32.GetCurrentProcess()
        assert ctypes.windll.psapi.GetProcessMemoryInfo(
            process, ctypes.byref(counters), counters.cb
        )
        return counters.working_set
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


class Arguments:
    """Objects of the calls, each a fresh object (so its reference count is the test's own)."""

    def __init__(self):
        self.x = np.linspace(-1, 1, 16, dtype=np.float32)
        self.out = np.empty(16, np.float32)
        self.x_int = np.arange(16, dtype=np.int32)
        self.out_f64 = np.empty(16, np.float64)
        self.p = float("0.25")
        self.bad_p = float("1.5")
        self.key = int("12345678901234567890")
        self.stream = fastdrop.Philox(self.key)
        self.exhausted = fastdrop.Philox(1, offset=2**64 - 1)
        self.exhausted.draw(1)
        self.draw = fastdrop.Philox(self.key).draw(16)
        self.huge = int("18446744073709551616")  # 2**64
        self.x_fortran = np.asfortranarray(np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4))
        self.bad_mode = "".join(["scal", "ed"])
        self.layer = Dropout(self.p, rng=fastdrop.Philox(3))
        self.counter = np.array([[0, 1, 2, 3]], np.uint32)
        self.philox_key = np.array([5, 6], np.uint32)

    def objects(self):
        return dict(vars(self))


def _raises(error, function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except error:
        return
    raise AssertionError(f"{function.__name__} did not raise {error.__name__}")


CASES = {
    "dropout": lambda a: fastdrop.dropout(a.x, a.p, rng=a.key),
    "dropout draw": lambda a: fastdrop.dropout(a.x, a.p, rng=a.draw, out=a.out),
    "dropout Fortran order and mask": lambda a: fastdrop.dropout(
        a.x_fortran, a.p, rng=a.draw, return_mask=True
    ),
    "dropout stream in place": lambda a: fastdrop.dropout(a.out, a.p, rng=a.stream, out=a.out),
    "dropout out and mask": lambda a: fastdrop.dropout(
        a.x, a.p, rng=a.stream, out=a.out, return_mask=True
    ),
    "dropout eval": lambda a: fastdrop.dropout(a.x, a.p, training=False, mode="vanilla"),
    "dropout_mask": lambda a: fastdrop.dropout_mask(16, a.p, rng=a.stream),
    "dropout_mask packed": lambda a: fastdrop.dropout_mask((4, 4), a.p, rng=a.key, packed=True),
    "standard_normal": lambda a: fastdrop.standard_normal(16, rng=a.stream, dtype=np.float32),
    "gaussian_dropout": lambda a: fastdrop.gaussian_dropout(a.x, a.p, rng=a.stream, out=a.out),
    "philox4x32": lambda a: fastdrop.philox4x32(a.counter, a.philox_key),
    "Philox": lambda a: fastdrop.Philox(a.key, offset=a.key).draw(16),
    "stream draw": lambda a: a.stream.draw(16),
    "Draw": lambda a: (
        fastdrop.Draw(a.key, a.key) == a.draw,
        hash(a.draw),
        tuple(a.draw),
        repr(a.draw),
    ),
    "gaussian_dropout Fortran order": lambda a: fastdrop.gaussian_dropout(
        a.x_fortran, a.p, rng=a.draw
    ),
    "threads": lambda a: fastdrop.set_num_threads(fastdrop.get_num_threads()),
    "Dropout layer": lambda a: a.layer.backward(a.layer.forward(a.x)),
    "Dropout layer Fortran order": lambda a: a.layer.backward(a.layer.forward(a.x_fortran)),
    "bad p": lambda a: _raises(ValueError, fastdrop.dropout, a.x, a.bad_p, rng=a.stream),
    "bad p, mask": lambda a: _raises(ValueError, fastdrop.dropout_mask, 16, a.bad_p, rng=a.key),
    "bad dtype": lambda a: _raises(TypeError, fastdrop.dropout, a.x_int, a.p, rng=a.stream),
    "bad out": lambda a: _raises(TypeError, fastdrop.dropout, a.x, a.p, rng=a.key, out=a.out_f64),
    "bad rng": lambda a: _raises(TypeError, fastdrop.dropout, a.x, a.p, rng=a.bad_p, out=a.out),
    "bad p type": lambda a: _raises(TypeError, fastdrop.dropout, a.x, a.bad_mode, rng=a.key),
    "bad mode": lambda a: _raises(ValueError, fastdrop.dropout, a.x, a.p, mode=a.bad_mode),
    "bad flag": lambda a: _raises(TypeError, fastdrop.dropout, a.x, a.p, training=a.bad_p),
    "bad Draw": lambda a: _raises(ValueError, fastdrop.Draw, a.key, a.huge),
    "exhausted stream": lambda a: _raises(ValueError, fastdrop.dropout, a.x, a.p, rng=a.exhausted),
    "bad normal dtype": lambda a: _raises(
        TypeError, fastdrop.standard_normal, 16, rng=a.stream, dtype=np.int32
    ),
}


def _libc():
    if sys.platform == "win32":
        return ctypes.cdll.msvcrt
    return ctypes.CDLL(ctypes.util.find_library("c"))


def _growth(call, calls=CALLS):
    for _ in range(WARM_UP):
        call()
    # glibc: give the heap's free pages back first. A leak that re-uses memory freed before
    # would otherwise not raise the resident size (with NumPy 1.23, 3.6 MB were free after the
    # imports, and the probe below saw no growth).
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)
    before = rss()
    for _ in range(calls):
        call()
    return rss() - before


def check_no_leak(name):
    """Memory stays flat over 100,000 calls, and no argument gains or loses a reference."""
    arguments = Arguments()
    call = CASES[name]
    objects = arguments.objects()
    counts = {key: sys.getrefcount(value) for key, value in objects.items()}
    with np.errstate(over="ignore"):
        growth = _growth(lambda: call(arguments))
    assert growth < BOUND, f"RSS grew by {growth} bytes over {CALLS} calls"
    assert {key: sys.getrefcount(value) for key, value in objects.items()} == counts


def check_probe_sees_a_leak():
    """A C leak of 16 bytes per call (malloc without free) over 100,000 calls breaks the bound."""
    libc = _libc()
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    pointers = (ctypes.c_void_p * (WARM_UP + CALLS))()  # allocated before: no Python growth
    slots = iter(range(WARM_UP + CALLS))
    try:
        growth = _growth(lambda: pointers.__setitem__(next(slots), libc.malloc(16)))
    finally:
        for pointer in pointers:
            libc.free(pointer)
    assert growth >= BOUND, growth


def _in_fresh_process(check, *args):
    """Run check(*args) in a new interpreter. Its heap is fresh: memory that earlier tests freed
    (still resident, in pieces) could otherwise absorb a leak without the resident size growing."""
    code = f"import test_leaks; test_leaks.{check.__name__}(*{args!r})"
    tests = pathlib.Path(__file__).resolve().parent
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:  # under AddressSanitizer (.ci/asan_python) freed memory waits in a
        env["ASAN_OPTIONS"] += ":quarantine_size_mb=0"  # quarantine: RSS would measure that
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tests,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_leak(name):
    _in_fresh_process(check_no_leak, name)


def test_the_probe_sees_a_16_byte_leak():
    _in_fresh_process(check_probe_sees_a_leak)
