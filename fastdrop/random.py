"""Where dropout's randomness comes from: ``rng`` arguments resolved to a :class:`Draw`.

A mask is a pure function of a 64-bit key, a 64-bit offset (in counter blocks of 128 elements)
and the element count, so a draw, the (key, offset) pair, is all it takes to replay one.
"""

from __future__ import annotations

from typing import TypeGuard, Union

import numpy as np

from . import _core
from ._core import Draw, check_uint64

__all__ = ["Draw", "Philox", "RNGLike"]

RNGLike = Union[
    None,
    int,
    np.integer,
    np.random.Generator,
    np.random.SeedSequence,
    np.random.BitGenerator,
    "Philox",
    Draw,
]

# Draw is defined in the extension: doctest finds its example through this module.
__test__ = {"Draw": Draw}


def is_integer(value: object) -> TypeGuard[int | np.integer]:
    """An integer, and not a bool (True is not a key, a size or a count)."""
    return _core.is_integer(value)


class Philox(_core.PhiloxState):
    """A stream of Philox4x32-10 counters under one key, shared safely between threads.

    Each call that uses the stream reserves the counter blocks it needs (one block per 128
    elements) and the stream's offset moves past them, so consecutive calls get independent
    masks and no two calls, from any threads, ever get overlapping counters. To replay a call,
    take its :class:`Draw` first with :meth:`draw` and pass that as ``rng``, as often as needed.

    Parameters
    ----------
    seed : int or None, optional
        The 64-bit key, an int in [0, 2**64) (the same int as ``rng=seed`` gives the same key).
        None draws a key from the operating system's entropy.
    offset : int, optional
        The first counter block to use, in [0, 2**64).

    Attributes
    ----------
    key : int
        The 64-bit Philox key (word 0 is its low 32 bits).
    offset : int
        The first counter block the next call will use (past 2**64 - 1: exhausted).

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
    >>> a = fastdrop.dropout(np.ones(1000), 0.5, rng=stream)
    >>> b = fastdrop.dropout(np.ones(1000), 0.5, rng=stream)  # the next counters: another mask
    >>> stream.offset  # two calls of 1,000 elements took 8 blocks of 128 each
    16
    >>> draw = stream.draw(1000)  # reserve a call's counters, to use and replay
    >>> y = fastdrop.dropout(np.ones(1000), 0.5, rng=draw)
    >>> bool(np.array_equal(fastdrop.dropout_mask(1000, 0.5, rng=draw), y != 0))
    True
    """

    # The state lives in the C base class (under a mutex), where fastdrop.dropout takes
    # counters without a Python call.
    __slots__ = ()

    def __init__(
        self, seed: int | np.integer | None = None, *, offset: int | np.integer = 0
    ) -> None:
        key = _core.entropy_key() if seed is None else check_uint64(seed, "seed")
        super().__init__(key, check_uint64(offset, "offset"))

    def draw(self, size: int | np.integer) -> Draw:
        """Reserve the counters of a call over ``size`` elements.

        Parameters
        ----------
        size : int
            The number of elements of the call, >= 0.

        Returns
        -------
        Draw
            The (key, offset) the call uses; the stream moves past its ceil(size / 128) blocks.
            Pass it as ``rng`` to make the call, and again to replay it.

        Raises
        ------
        TypeError
            If ``size`` is not an int.
        ValueError
            If ``size`` is negative or the stream is exhausted (offset past 2**64 - 1).

        Examples
        --------
        >>> import fastdrop
        >>> stream = fastdrop.Philox(7)
        >>> stream.draw(300), stream.draw(1)
        (fastdrop.Draw(key=7, offset=0), fastdrop.Draw(key=7, offset=3))
        """
        # A call's counters are 96-bit (offset + block), so only its start must fit 64 bits.
        return self._take(check_uint64(size, "size"))

    def __repr__(self) -> str:
        return f"fastdrop.Philox({self.key}, offset={self.offset})"

    def __reduce__(self) -> tuple[type[Philox], tuple[int], int]:
        """``copy``, ``deepcopy`` and ``pickle`` give a separate stream under the same key that
        starts where this one is now (as copying a numpy Generator does)."""
        return type(self), (self.key,), self.offset

    def __setstate__(self, offset: int) -> None:
        self._continue_from(offset % (1 << 64), offset >= 1 << 64)
