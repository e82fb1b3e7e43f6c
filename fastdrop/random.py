"""Where dropout's randomness comes from: ``rng`` arguments resolved to a Philox (key, offset).

A mask is a pure function of a 64-bit key, a 64-bit offset (in counter blocks of 128 elements)
and the element count, so a (key, offset) pair is all it takes to replay one.
"""

from __future__ import annotations

import numbers
import operator
import os
from typing import TypeGuard, Union

import numpy as np

from . import _core

__all__ = ["Philox", "RNGLike"]

_UINT64_LIMIT = 1 << 64

RNGLike = Union[None, int, np.integer, np.random.Generator, "Philox"]


def _entropy_key() -> int:
    """A fresh 64-bit key from the operating system (fork-safe: nothing is cached)."""
    return int.from_bytes(os.urandom(8), "little")


def is_integer(value: object) -> TypeGuard[int | np.integer]:
    """An integer, and not a bool (True is not a key, a size or a count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _uint64(name: str, value: object) -> int:
    """``value`` as an int in [0, 2**64), or the error that names it."""
    if type(value) is int and 0 <= value < _UINT64_LIMIT:  # the common case, quickly
        return value
    if not is_integer(value):
        raise TypeError(
            f"{name} must be an int in [0, 2**64), got {type(value).__name__} {value!r}"
        )
    result = int(value)
    if not 0 <= result < _UINT64_LIMIT:
        raise ValueError(f"{name} must be an int in [0, 2**64), got {result}")
    return result


class Philox(_core.Counter):
    """A stream of Philox4x32-10 counters under one key, shared safely between threads.

    Each call that uses the stream reserves the counter blocks it needs (one block per 128
    elements) and the stream's offset moves past them, so consecutive calls get independent
    masks and no two calls, from any threads, ever get overlapping counters.

    Parameters
    ----------
    seed : int or None, optional
        The 64-bit key, an int in [0, 2**64) (the same int as ``rng=seed`` gives the same key).
        None draws a key from the operating system's entropy.
    offset : int, optional
        The first counter block to use, in [0, 2**64). A stream rebuilt as
        ``Philox(key, offset=offset)`` from a recorded :attr:`last_draw` replays that call.

    Attributes
    ----------
    key : int
        The 64-bit Philox key (word 0 is its low 32 bits).
    offset : int
        The first counter block the next call will use (past 2**64 - 1: exhausted).
    last_draw : tuple of int or None
        The (key, offset) of the latest call this thread made with the stream, or None. A stream
        remembers the latest draws of the 1,024 threads that drew from it last.

    Raises
    ------
    TypeError
        If ``seed`` or ``offset`` is not an int.
    ValueError
        If ``seed`` or ``offset`` is outside [0, 2**64).

    Examples
    --------
    >>> import numpy as np, fastdrop
    >>> stream = fastdrop.Philox(2024)
    >>> y = fastdrop.dropout(np.ones(1000), 0.5, rng=stream)
    >>> key, offset = stream.last_draw
    >>> mask = fastdrop.dropout_mask(1000, 0.5, rng=fastdrop.Philox(key, offset=offset))
    >>> bool(np.array_equal(mask, y != 0))
    True
    """

    # The attributes live in the C base class (under a mutex), where fastdrop.dropout's fast
    # path takes counters and records the draw without a Python call.
    __slots__ = ()

    def __init__(
        self, seed: int | np.integer | None = None, *, offset: int | np.integer = 0
    ) -> None:
        key = _entropy_key() if seed is None else _uint64("seed", seed)
        super().__init__(key, _uint64("offset", offset))

    def draw(self, size: int) -> tuple[int, int]:
        """Reserve the counters of a call over ``size`` elements.

        Parameters
        ----------
        size : int
            The number of elements of the call, >= 0.

        Returns
        -------
        tuple of int
            The (key, offset) the call must use; the stream moves past its blocks.

        Raises
        ------
        ValueError
            If ``size`` is negative or the stream is exhausted (offset past 2**64 - 1).

        Examples
        --------
        >>> import fastdrop
        >>> stream = fastdrop.Philox(7)
        >>> stream.draw(300), stream.draw(1)
        ((7, 0), (7, 3))
        """
        size = operator.index(size)
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        # A call's counters are 96-bit (offset + block), so only its start must fit 64 bits.
        return self.key, self._take(size)

    def __repr__(self) -> str:
        return f"fastdrop.Philox({self.key}, offset={self.offset})"

    def __reduce__(self) -> tuple[type[Philox], tuple[int], int]:
        """``copy``, ``deepcopy`` and ``pickle`` give a separate stream under the same key that
        starts where this one is now (as copying a numpy Generator does), with no draws yet."""
        return Philox, (self.key,), self.offset

    def __setstate__(self, offset: int) -> None:
        self._continue_from(offset % _UINT64_LIMIT, offset >= _UINT64_LIMIT)


def check_rng(rng: object) -> None:
    """Raise the error a bad ``rng`` deserves, without drawing from it."""
    if rng is None or isinstance(rng, (Philox, np.random.Generator)):
        return
    if type(rng) is int and 0 <= rng < _UINT64_LIMIT:  # the common case, without the ABC check
        return
    if is_integer(rng):
        _uint64("rng", rng)
        return
    raise TypeError(
        "rng must be None, an int in [0, 2**64), a numpy.random.Generator or a fastdrop.Philox, "
        f"got {type(rng).__name__}"
    )


def key_and_offset(rng: RNGLike, size: int) -> tuple[int, int]:
    """The (key, offset) a call over ``size`` elements uses; ``rng`` passed check_rng.

    None: a fresh key; an int: that key; a Generator: a key drawn from it; a Philox: the
    stream's next counters. All but the Philox start at offset 0.
    """
    if rng is None:
        return _entropy_key(), 0
    if isinstance(rng, Philox):
        return rng.draw(size)
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, _UINT64_LIMIT, dtype=np.uint64)), 0
    return int(rng), 0
