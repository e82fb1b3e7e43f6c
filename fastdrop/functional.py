"""The functional API: dropout, its masks, and raw Philox access.

Every function checks all of its arguments before it writes a byte; the kernels run in C, with
the GIL released for calls of 2**14 elements or more.
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Iterable, Sequence
from typing import Any, SupportsIndex, cast

import numpy as np
import numpy.typing as npt

from . import _core
from ._core import check_bool, check_floating, check_p, check_rng, dropout, empty_like
from .random import RNGLike, is_integer

__all__ = [
    "dropout",
    "dropout_mask",
    "gaussian_dropout",
    "philox4x32",
    "simd_path",
    "standard_normal",
]

# dropout itself is fastdrop._core.dropout (its docstring and types are there); doctest finds its
# examples through this module.
__test__ = {"dropout": dropout}

# What the arguments accept, as the docstrings say: NumPy's scalars and arrays too.
ShapeLike = SupportsIndex | Sequence[SupportsIndex] | npt.NDArray[np.integer]
Probability = float | np.floating | np.integer
Flag = bool | np.bool_

_NORMAL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # made once: 0.3 us a call
_NORMAL_TYPES = {kind.type: kind for kind in _NORMAL_DTYPES}  # dtype=np.float32: no np.dtype call


def _extent(value: object) -> int:
    """An extent as NumPy's shapes take it (operator.index), but not a bool, as np.empty."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("a bool is not an extent")
    return operator.index(cast(SupportsIndex, value))


def _check_shape(shape: object) -> tuple[int, ...]:
    dims: tuple[int, ...]
    if type(shape) is int and shape >= 0:  # the common case, without the calls below
        return (shape,)
    try:
        dims = (_extent(shape),)
    except TypeError:
        try:
            dims = tuple(map(_extent, cast(Iterable[object], shape)))
        except TypeError:
            raise TypeError(
                f"shape must be an int or a sequence of ints, got {_core.describe(shape)}"
            ) from None
    if dims and min(dims) < 0:
        raise ValueError(f"shape must not have negative extents, got {dims}")
    return dims


def dropout_mask(
    shape: ShapeLike,
    p: Probability = 0.5,
    *,
    rng: RNGLike = None,
    packed: Flag = False,
    chunks: Any = None,
) -> Any:
    """The keep-mask that :func:`dropout` uses for the same ``rng``, shape and ``p``.

    Parameters
    ----------
    shape : int or sequence of int
        The shape of the array the mask is for.
    p : float, optional
        The drop probability, in [0, 1].
    rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
        As for :func:`dropout`.
    packed : bool, optional
        Return the mask bit-packed: ``np.packbits(mask.ravel(), bitorder="little")``, a 1-d
        uint8 array of ceil(size / 8) bytes.
    chunks : None, int, tuple or "auto", optional
        None: a NumPy array. Otherwise a Dask array with these chunks (anything
        ``dask.array`` takes as ``chunks``; with ``packed``, chunks of the bytes), built chunk
        by chunk: computed, it equals the NumPy result bit for bit, for any chunks. A Philox
        stream moves past the whole mask's counters now, once.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        bool of ``shape`` (True = kept), or the packed uint8 bytes.

    Raises
    ------
    TypeError
        If ``shape`` is not an int or a sequence of ints, p is not a real number, or ``rng`` or
        ``packed`` has a wrong type.
    ValueError
        If p is outside [0, 1], an extent of ``shape`` is negative, ``rng`` is an int outside
        [0, 2**64), or a Philox stream is exhausted.

    Examples
    --------
    >>> import numpy as np, fastdrop
    >>> mask = fastdrop.dropout_mask((2, 3), 0.5, rng=7)
    >>> y = fastdrop.dropout(np.ones((2, 3)), 0.5, rng=7)
    >>> bool(np.array_equal(mask, y != 0))
    True
    >>> packed = fastdrop.dropout_mask((2, 3), 0.5, rng=7, packed=True)
    >>> bool(np.array_equal(packed, np.packbits(mask.ravel(), bitorder="little")))
    True
    """
    dims = _check_shape(shape)
    p = check_p(p)
    packed = check_bool(packed, "packed")
    check_rng(rng)
    if chunks is not None:
        from . import _lazy

        return _lazy.dropout_mask(dims, p, rng, packed, chunks)
    size = math.prod(dims)
    result = np.empty((size + 7) // 8, np.uint8) if packed else np.empty(dims, np.bool_)
    _core.mask(result, size, _core.resolve_draw(rng, size), _core.threshold(p), packed)
    return result


def standard_normal(
    shape: ShapeLike, *, rng: RNGLike = None, dtype: npt.DTypeLike = np.float64, chunks: Any = None
) -> Any:
    """Standard normal variates from Philox, a pure function of the key, offset and index.

    Element i (C order) is one of the Box-Muller pair at counter ``(offset + i // 128,
    64 + i % 128 // 2)`` with 53-bit uniforms (the exact formula is in src_c/fd_dropout.h), so a
    recorded (key, offset) replays them, for any thread count and kernel path. The logarithm,
    sine and cosine are fastdrop's own IEEE arithmetic (no C library calls), so every platform
    gives the same bits; they are within a few ulps of the exact values.

    Parameters
    ----------
    shape : int or sequence of int
        The shape of the result.
    rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
        As for :func:`dropout`; a stream moves past ceil(size / 128) blocks, as for a mask.
    dtype : float32 or float64, optional
        float32 rounds each float64 variate once.
    chunks : None, int, tuple or "auto", optional
        None: a NumPy array. Otherwise a Dask array with these chunks, built chunk by chunk:
        computed, it equals the NumPy result bit for bit, for any chunks.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        The variates, of ``shape`` and ``dtype``.

    Raises
    ------
    TypeError
        If ``shape`` is not an int or a sequence of ints, ``dtype`` is not float32 or float64,
        or ``rng`` has a wrong type.
    ValueError
        If an extent of ``shape`` is negative, ``rng`` is an int outside [0, 2**64), or a
        Philox stream is exhausted.

    Examples
    --------
    >>> import numpy as np, fastdrop
    >>> z = fastdrop.standard_normal(100_000, rng=3)
    >>> bool(abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02)
    True
    >>> bool(np.array_equal(z[:10], fastdrop.standard_normal(10, rng=3)))
    True
    """
    dims = _check_shape(shape)
    kind: np.dtype | None = _NORMAL_TYPES.get(dtype) if isinstance(dtype, type) else None
    if kind is None:
        try:
            kind = np.dtype(dtype)
        except TypeError:
            kind = None
    if kind is None or kind not in _NORMAL_DTYPES:
        shown = _core.describe(dtype) if kind is None else kind
        raise TypeError(f"dtype must be float32 or float64, got {shown}")
    check_rng(rng)
    if chunks is not None:
        from . import _lazy

        return _lazy.standard_normal(dims, rng, kind, chunks)
    result = np.empty(dims, kind)
    _core.normal(result, _core.resolve_draw(rng, result.size))
    return result


def gaussian_dropout(
    x: npt.ArrayLike,
    p: Probability = 0.5,
    *,
    rng: RNGLike = None,
    training: Flag = True,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Multiplicative Gaussian noise with mean 1 and variance p / (1 - p) (Keras'
    ``GaussianDropout``): ``x * (1 + sqrt(p / (1 - p)) * z)`` with z from
    :func:`standard_normal` for the same ``rng``; the identity at evaluation.

    The noise is computed in float64 for float64 ``x`` and in float32 otherwise (float16 results
    are the float32 results rounded). With p = 0 the result is x, and a ``Philox`` still moves
    past the call's counters, as for :func:`dropout`. Because z is a pure function of (key,
    offset, index), calling this on a gradient with the forward call's :class:`fastdrop.Draw`
    multiplies it by the same noise: that is the backward pass.

    Parameters
    ----------
    x : array_like, dask.array.Array or xarray.DataArray
        float16, float32 or float64, any shape and strides. A Dask array gives a Dask array,
        lazily, chunk by chunk: computed, it equals the NumPy call's result bit for bit, for any
        chunks (``rng`` is resolved when it is built). A DataArray gives a DataArray with its
        dims, coords, name and attrs.
    p : float, optional
        In [0, 1): the drop rate whose variance p / (1 - p) the noise matches. 0 is the identity.
    rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
        As for :func:`dropout`.
    training : bool, optional
        Add noise (True) or return x unchanged (False).
    out : numpy.ndarray, optional
        As for :func:`dropout`: same shape and dtype as x, writeable; may be x (in place). Not
        for a Dask array or a DataArray.

    Returns
    -------
    numpy.ndarray, dask.array.Array or xarray.DataArray
        The result: ``out`` itself if given, else a new array in x's memory layout (or of x's
        kind).

    Raises
    ------
    TypeError
        If p is not a real number, x is not float16/32/64, ``out`` is not an ndarray of x's
        dtype or is given with a Dask array or a DataArray, or ``rng`` or ``training`` has a
        wrong type.
    ValueError
        If p is outside [0, 1), ``out`` has another shape or is read-only, ``rng`` is an int
        outside [0, 2**64), a Philox stream is exhausted, or a Dask x has chunks of unknown
        size. A Dask x's errors come when the call builds the graph: nothing is computed.

    Examples
    --------
    >>> import numpy as np, fastdrop
    >>> y = fastdrop.gaussian_dropout(np.ones(100_000), 0.2, rng=1)
    >>> bool(abs(y.mean() - 1) < 0.01 and abs(y.var() - 0.25) < 0.01)
    True
    >>> draw = fastdrop.Philox(5).draw(4)
    >>> y = fastdrop.gaussian_dropout(np.full(4, 2.0), 0.2, rng=draw)
    >>> g = fastdrop.gaussian_dropout(np.ones(4), 0.2, rng=draw)  # the same noise again
    >>> bool(np.array_equal(y, 2.0 * g))
    True
    """
    p = check_p(p, below_one=True)
    training = check_bool(training, "training")
    check_rng(rng)
    if type(x) is not np.ndarray:  # a Dask array or an xarray DataArray: built lazily there
        engine = _core.lazy_engine(x)
        if engine is not None:
            return engine.gaussian_dropout(x, p, rng, training, out)
    source = check_floating(x)
    if out is None:
        result = empty_like(source)
    else:
        result = _core.check_out(out, source)
        source = _core.readable_before_written(source, result)
    if not training or p == 0.0:
        if training:
            _core.resolve_draw(rng, source.size)  # the counters are the call's, as in dropout
        if result is not source:
            np.copyto(result, source)
        return result
    sigma = math.sqrt(p / (1.0 - p))
    if source.flags.c_contiguous and result.flags.c_contiguous:
        # One pass in C: the noise and the product together, with the roundings of the NumPy
        # steps below (and so their bits), without their three passes and temporary.
        _core.gaussian_dropout(source, result, _core.resolve_draw(rng, source.size), sigma)
        return result
    noise = standard_normal(source.shape, rng=rng, dtype=_noise_dtype(source.dtype))
    return _apply_noise(source, noise, sigma, result)


def _noise_dtype(dtype: np.dtype) -> type[np.floating]:
    """What gaussian_dropout computes its noise in: float64 for float64 x, float32 otherwise."""
    return np.float64 if dtype == np.float64 else np.float32


def _apply_noise(source: np.ndarray, noise: np.ndarray, sigma: float, result: np.ndarray) -> Any:
    """``result = source * (1 + sigma * noise)``, noise overwritten: gaussian_dropout's NumPy
    arithmetic (the bits of fd_gaussian_dropout's one pass), for strided arrays and for each
    chunk of a Dask array."""
    # Constants in the noise's dtype: NumPy 1 would compute a 0-d array's products with Python
    # floats in float64 (tests/test_zero_d.py).
    work = noise.dtype.type
    np.multiply(noise, work(sigma), out=noise)
    np.add(noise, work(1), out=noise)
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN silently, as in dropout
        np.multiply(source, noise, out=result, casting="same_kind")
    return result


def _as_uint32(name: str, value: object) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind in "fO" and not isinstance(value, np.ndarray):
        # Python ints beyond int64/uint64 make NumPy build float64 or object arrays: judge the
        # ints themselves, so an out-of-range int is a ValueError, not a dtype complaint.
        ints = np.array(value, dtype=object)
        if all(is_integer(v) for v in ints.flat):
            if any(not 0 <= v <= 0xFFFFFFFF for v in ints.flat):
                raise ValueError(f"{name} must hold integers in [0, 2**32)")
            array = ints.astype(np.uint32)
    if array.dtype.kind not in "ui":
        raise TypeError(f"{name} must hold integers in [0, 2**32), got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() > 0xFFFFFFFF):
        raise ValueError(f"{name} must hold integers in [0, 2**32)")
    return np.asarray(array, dtype=np.uint32, order="C")  # ascontiguousarray makes 0-d 1-d


def philox4x32(counter: npt.ArrayLike, key: npt.ArrayLike) -> np.ndarray:
    """Philox4x32-10 (Random123) of each 128-bit counter under a 64-bit key.

    Parameters
    ----------
    counter : array_like of int
        Shape (..., 4): counter words, least significant first, each in [0, 2**32).
    key : array_like of int
        Shape (2,): the key words; fastdrop's 64-bit key k is ``(k & 0xFFFFFFFF, k >> 32)``.

    Returns
    -------
    numpy.ndarray of uint32
        Shape (..., 4): the four output words of each counter.

    Raises
    ------
    TypeError
        If counter or key does not hold integers.
    ValueError
        If a value is outside [0, 2**32) or a shape is wrong.

    Examples
    --------
    >>> import fastdrop
    >>> [hex(w) for w in fastdrop.philox4x32([0, 0, 0, 0], [0, 0])]
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
    """
    counters = _as_uint32("counter", counter)
    keys = _as_uint32("key", key)
    if counters.ndim == 0 or counters.shape[-1] != 4:
        raise ValueError(f"counter must have shape (..., 4), got {counters.shape}")
    if keys.shape != (2,):
        raise ValueError(f"key must have shape (2,), got {keys.shape}")
    result = np.empty(counters.shape, np.uint32)
    _core.philox4x32(counters, keys, result)
    return result


def simd_path() -> str:
    """The kernel path in use: chosen at import, overridable with ``FASTDROP_SIMD``.

    Every path gives bit-identical results; only the speed differs.

    Returns
    -------
    str
        For example ``"scalar"``.

    Examples
    --------
    >>> import fastdrop
    >>> fastdrop.simd_path() in ("scalar", "avx2", "avx512", "neon")
    True
    """
    return _core.simd_path()


def set_num_threads(n: int) -> None:
    """Set how many threads one call may use, the calling thread included.

    A call of n elements uses up to n // 2**17 threads (so calls under 2**18 stay on the calling
    thread), which take pieces of 2**15 elements in turn; the output is the same for every
    thread count. Helper threads are shared: a call uses only idle ones, so calls
    from several Python threads at once never oversubscribe the machine. The default is the
    number of CPUs the process may run on, or ``FASTDROP_NUM_THREADS`` if set. Until this is
    called (or that variable set), :mod:`fastdrop.torch` uses ``torch.get_num_threads()`` instead.

    Parameters
    ----------
    n : int
        Threads, in [1, 256].

    Raises
    ------
    TypeError
        If ``n`` is not an int.
    ValueError
        If ``n`` is outside [1, 256].

    Examples
    --------
    >>> import fastdrop
    >>> before = fastdrop.get_num_threads()
    >>> fastdrop.set_num_threads(1)
    >>> fastdrop.get_num_threads()
    1
    >>> fastdrop.set_num_threads(before)
    """
    _core.set_num_threads(_core.check_int(n, "the number of threads", 1, _core.MAX_THREADS))


def get_num_threads() -> int:
    """The number of threads one call may use (see :func:`set_num_threads`).

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> import fastdrop
    >>> fastdrop.get_num_threads() >= 1
    True
    """
    return _core.get_num_threads()


def _default_num_threads() -> int:
    """FASTDROP_NUM_THREADS if set, else the CPUs this process may run on."""
    value = os.environ.get("FASTDROP_NUM_THREADS", "").strip()
    if value:
        if not value.isdigit() or not 1 <= int(value) <= _core.MAX_THREADS:
            raise ImportError(
                f"FASTDROP_NUM_THREADS={value!r} is not a whole number in [1, {_core.MAX_THREADS}]"
            )
        return int(value)
    if hasattr(os, "process_cpu_count"):  # Python 3.13
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Not the user's choice unless FASTDROP_NUM_THREADS made it (fastdrop.torch replaces a default).
_core.set_num_threads(
    min(_default_num_threads(), _core.MAX_THREADS),
    bool(os.environ.get("FASTDROP_NUM_THREADS", "").strip()),
)
