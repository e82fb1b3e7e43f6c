"""64-bit cleanliness of the counter and index arithmetic, against tests/reference.py.

Counters: calls whose blocks cross 2**32 (the carry from counter word 0 into word 1) and 2**64
(the carry into word 2 of the 96-bit counter offset + block) give the reference model's masks,
packed masks, dropout and normal variates; a stream that has passed 2**64 - 1 refuses every
further call with a ValueError, writing nothing and staying where it is.

Indices: every output of fastdrop is allocated to its full size (out must be writeable, and a
stride-0 out would make elements overwrite each other), so elements beyond 2**31 and 2**32 need
real calls of that size: a packed mask of 2**32 + 777 elements (512 MiB) and a bool mask of
2**31 + 300 elements (2 GiB). Windows of them are checked against the reference model at the
matching offset: elements [128 k, 128 k + m) of a call at offset o are the mask of m elements
at offset o + k.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference
from test_properties import assert_same_bits, values

import fastdrop
from fastdrop.nn import Dropout, GaussianDropout

KEY = 0x0123456789ABCDEF
P = 0.3
CARRIES = [2**32, 2**64]  # the block counter's carry into word 1, and into word 2
N = 5 * 128 + 17  # six blocks: three below the carry, three from it


def _blocks(n: int) -> int:
    return -(-n // 128)


@pytest.mark.parametrize("carry", CARRIES, ids=["2**32", "2**64"])
def test_each_function_across_the_carry(carry):
    """Calls of 6 blocks starting 3 below the carry equal the reference model."""
    offset = carry - 3
    expected = reference.keep_mask(KEY, offset, N, P)

    def stream():
        return fastdrop.Philox(KEY, offset=offset)

    assert np.array_equal(fastdrop.dropout_mask(N, P, rng=stream()), expected)
    assert np.array_equal(fastdrop.dropout_mask(N, P, rng=fastdrop.Draw(KEY, offset)), expected)
    packed = fastdrop.dropout_mask(N, P, rng=stream(), packed=True)
    assert np.array_equal(packed, np.packbits(expected, bitorder="little"))
    for dtype in (np.float16, np.float32, np.float64):
        x = values(np.dtype(dtype), N, seed=carry % 1000)
        y, mask = fastdrop.dropout(x, P, rng=stream(), return_mask=True)
        assert np.array_equal(mask, expected)
        assert_same_bits(y, reference.dropout(x, P, expected))
        in_place = x.copy()
        fastdrop.dropout(in_place, P, rng=stream(), out=in_place)
        assert_same_bits(in_place, reference.dropout(x, P, expected))
    z = fastdrop.standard_normal(N, rng=stream())
    # fastdrop computes ln, sin and cos itself: the tolerance of tests/test_noise.py
    np.testing.assert_allclose(z, reference.standard_normal(KEY, offset, N), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("carry", CARRIES, ids=["2**32", "2**64"])
def test_a_stream_of_calls_across_the_carry(carry):
    """Consecutive calls of one stream (masks, and a Dropout layer on it), the third straddling
    the carry, each get the reference mask at the offset the stream had reached; past 2**64 - 1
    the stream is exhausted."""
    stream = fastdrop.Philox(KEY, offset=carry - 4)
    layer = Dropout(P, rng=stream)
    position = carry - 4
    for kind, n in [("mask", 200), ("layer", 1), ("mask", 3 * 128 + 5), ("layer", 300)]:
        if position >= 2**64:
            with pytest.raises(ValueError, match="exhausted"):
                fastdrop.dropout_mask(n, P, rng=stream)
            assert stream.offset == position
            continue
        if kind == "mask":
            mask = fastdrop.dropout_mask(n, P, rng=stream)
        else:
            mask = layer.forward(np.ones(n, np.float32)) != 0
            assert layer.last_draw == fastdrop.Draw(KEY, position)
        assert np.array_equal(mask, reference.keep_mask(KEY, position, n, P))
        position += _blocks(n)
        assert stream.offset == position


def test_an_exhausted_stream_refuses_every_call():
    """Past 2**64 - 1 a stream raises ValueError for every function, writes nothing and stays
    put; a call may start at 2**64 - 1 and run on into the 96-bit counters."""
    stream = fastdrop.Philox(KEY, offset=2**64 - 1)
    first = fastdrop.dropout_mask(300, P, rng=stream)  # blocks 2**64 - 1, 2**64, 2**64 + 1
    assert np.array_equal(first, reference.keep_mask(KEY, 2**64 - 1, 300, P))
    assert stream.offset == 2**64 + 2
    x = np.ones(10, np.float32)
    out = np.full(10, 7.0, np.float32)
    layer, gaussian = Dropout(P, rng=stream), GaussianDropout(P, rng=stream)
    for call in (
        lambda: fastdrop.dropout(x, P, rng=stream),
        lambda: fastdrop.dropout(x, P, rng=stream, out=out),
        lambda: fastdrop.dropout(out, P, rng=stream, out=out),
        lambda: fastdrop.dropout(x, P, rng=stream, out=out, return_mask=True),
        lambda: fastdrop.dropout_mask(10, P, rng=stream, packed=True),
        lambda: fastdrop.dropout_mask(0, P, rng=stream),
        lambda: fastdrop.standard_normal(10, rng=stream),
        lambda: fastdrop.gaussian_dropout(x, P, rng=stream, out=out),
        lambda: layer.forward(out),
        lambda: gaussian.forward(out),
        lambda: stream.draw(1),
    ):
        with pytest.raises(ValueError, match="Philox stream exhausted"):
            call()
        assert (stream.key, stream.offset) == (KEY, 2**64 + 2)
        assert layer.last_draw is None and gaussian.last_draw is None  # no forward recorded
        assert np.all(x == 1) and np.all(out == 7)


def _check_windows(bits_of, offset, n, starts, m):
    """bits_of(a, m): elements [a, a + m) of the big call; each equals the reference mask of m
    elements at offset + a / 128."""
    for a in starts:
        assert a % 128 == 0
        width = min(m, n - a)
        expected = reference.keep_mask(KEY, offset + a // 128, width, P)
        assert np.array_equal(bits_of(a, width), expected), a


@pytest.mark.slow
def test_packed_mask_beyond_2_32_elements():
    """A 2**32 + 777-element packed mask (512 MiB) whose blocks cross 2**64 at element 2**31:
    windows at 0, 2**31, 2**32 and the end are the reference model's."""
    n = 2**32 + 777
    offset = 2**64 - 2**24  # 2**24 blocks = 2**31 elements before the 96-bit carry
    stream = fastdrop.Philox(KEY, offset=offset)
    packed = fastdrop.dropout_mask(n, P, rng=stream, packed=True)
    assert packed.shape == ((n + 7) // 8,) and stream.offset == offset + _blocks(n)

    def bits_of(a, m):
        return np.unpackbits(packed[a // 8 : (a + m + 7) // 8], bitorder="little")[:m] == 1

    starts = [0, 2**31 - 3 * 128, 2**32 - 3 * 128, 128 * ((n - 1) // 128 - 2)]
    _check_windows(bits_of, offset, n, starts, 7 * 128)
    assert packed[-1] >> (n % 8) == 0  # the padding bits of the last byte are zero


@pytest.mark.slow
def test_bool_mask_beyond_2_31_elements():
    """A 2**31 + 300-element bool mask (2 GiB): windows at 2**31 - 384 and the end are the
    reference model's."""
    n = 2**31 + 300
    offset = 2**32 - 2**23  # the c0 -> c1 carry at element 2**30
    mask = fastdrop.dropout_mask(n, P, rng=fastdrop.Philox(KEY, offset=offset))
    starts = [2**30 - 3 * 128, 2**31 - 3 * 128, 128 * ((n - 1) // 128 - 2)]
    _check_windows(lambda a, m: mask[a : a + m], offset, n, starts, 7 * 128)
