"""dropout and dropout_mask against the NumPy models of tests/reference.py, bit for bit."""

from __future__ import annotations

import copy
import itertools
import math
import pickle
import sys

import numpy as np
import pytest
import reference
from isolated import run_python

import fastdrop

FLOATS = [np.float16, np.float32, np.float64]
MODES = ["inverted", "vanilla"]
UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


# ---------------------------------------------------------------------------------------------
# helpers


def bits(a: np.ndarray) -> np.ndarray:
    """The raw bits of a float array (native byte order), flattened in C order."""
    a = np.asarray(a)
    a = a.astype(a.dtype.newbyteorder("="), copy=False)
    return np.ascontiguousarray(a).reshape(-1).view(UINT[a.dtype.itemsize])


def assert_same_bits(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal as arrays (NaN == NaN), same native dtype and shape, same bits wherever not NaN."""
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype.newbyteorder("=")
    assert actual.dtype.isnative
    assert np.array_equal(actual, expected, equal_nan=True)
    not_nan = ~np.isnan(expected).reshape(-1)
    assert np.array_equal(bits(actual)[not_nan], bits(expected)[not_nan])


def assert_unchanged(a: np.ndarray, before: np.ndarray) -> None:
    """a still holds exactly the bytes of its copy ``before``."""
    assert a.dtype == before.dtype and a.shape == before.shape
    assert a.tobytes() == before.tobytes()


def assert_layout_of(result: np.ndarray, x: np.ndarray) -> None:
    """result is laid out as a new array like x in NumPy's order="K": np.empty_like(x)'s strides
    on every axis of extent above 1 (the others have no say in where an element is)."""
    like = np.empty_like(x, dtype=result.dtype)
    assert result.shape == x.shape
    for axis, extent in enumerate(x.shape):
        if extent > 1:
            assert result.strides[axis] == like.strides[axis], (result.strides, like.strides)


def expected_dropout(x, p, key, offset=0, *, training=True, mode="inverted"):
    x = np.asarray(x)
    mask = reference.keep_mask(key, offset, x.shape, p)
    return reference.dropout(x, p, mask, training=training, mode=mode)


def sample_values(dtype, shape, seed=0) -> np.ndarray:
    """Normal values of both signs mixed with +-0, +-inf, NaNs, subnormals, huge values (which
    overflow when scaled) and random bit patterns."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    x = (rng.standard_normal(n) * 10).astype(dtype)
    specials = reference.special_values(dtype)
    where = rng.random(n) < 0.2
    x[where] = rng.choice(specials, int(where.sum()))
    raw = rng.integers(
        0, np.iinfo(UINT[dtype.itemsize]).max, n, dtype=UINT[dtype.itemsize], endpoint=True
    )
    where = rng.random(n) < 0.05
    x.view(UINT[dtype.itemsize])[where] = raw[where]
    return x.reshape(shape)


# ---------------------------------------------------------------------------------------------
# semantics against the reference model


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.75, 0.9, 1.0])
def test_matches_reference(dtype, mode, training, p):
    x = sample_values(dtype, (3, 37, 29), seed=int(p * 100))
    x_before = x.copy()
    key = 0x0123456789ABCDEF
    y = fastdrop.dropout(x, p, rng=key, training=training, mode=mode)
    assert_same_bits(y, expected_dropout(x, p, key, training=training, mode=mode))
    assert_unchanged(x, x_before)  # x untouched
    assert not np.shares_memory(x, y)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("training", [True, False])
def test_call_forms_agree(dtype, mode, training):
    """out None, out x (in place) and out another array, each with and without return_mask, and
    an int, a Philox or a Draw as rng: the reference model's bits, the same mask, and a stream
    moved past the call's blocks (in training only) whatever the form."""
    x = sample_values(dtype, (5, 300), seed=3)
    start = 2**64 - 2  # the call runs on into the 96-bit counters
    sources = [
        (lambda: 77, 0),
        (lambda: fastdrop.Philox(77, offset=start), start),
        (lambda: fastdrop.Draw(77, start), start),
    ]
    for p in [0.0, 0.1, 0.5, 1.0]:
        for make_rng, offset in sources:
            expected = expected_dropout(x, p, 77, offset, training=training, mode=mode)
            if training:
                expected_mask = reference.keep_mask(77, offset, x.shape, p)
            else:
                expected_mask = np.ones(x.shape, bool)
            for out_kind, return_mask in itertools.product(["none", "x", "other"], [False, True]):
                rng = make_rng()
                source = x.copy()
                out = {"none": None, "x": source, "other": np.full_like(x, 7)}[out_kind]
                result = fastdrop.dropout(
                    source,
                    p,
                    rng=rng,
                    training=training,
                    mode=mode,
                    out=out,
                    return_mask=return_mask,
                )
                form = (p, type(rng).__name__, out_kind, return_mask)
                if return_mask:
                    y, mask = result
                    assert mask.dtype == np.bool_, form
                    assert np.array_equal(mask, expected_mask), form
                else:
                    y = result
                assert_same_bits(y, expected)
                if out is None:
                    assert not np.shares_memory(y, source), form
                    assert_unchanged(source, x)
                else:
                    assert y is out, form
                if out_kind == "other":
                    assert_unchanged(source, x)
                if isinstance(rng, fastdrop.Philox):
                    assert rng.offset == start + (12 if training else 0), form  # ceil(1500 / 128)
                if isinstance(rng, fastdrop.Draw):
                    assert rng == fastdrop.Draw(77, start), form


def test_rng_is_checked_at_evaluation():
    x = np.ones(10, np.float32)
    for rng in ["7", -1, 2**64, 1.0]:
        with pytest.raises((TypeError, ValueError), match="rng"):
            fastdrop.dropout(x, 0.5, rng=rng, training=False, out=x)
    assert np.all(x == 1)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n", [1, 31, 32, 33, 127, 128, 129, 2047, 2048, 2049, 4100])
def test_matches_reference_sizes(dtype, n):
    # sizes around the 32-element groups, the 128-element blocks and the 2048-element chunks
    x = sample_values(dtype, (n,), seed=n)
    for mode in MODES:
        y = fastdrop.dropout(x, 0.3, rng=n, mode=mode)
        assert_same_bits(y, expected_dropout(x, 0.3, n, mode=mode))


@pytest.mark.parametrize("p", [2.0**-32, 2.0**-33, 1 - 2.0**-33, 1 - 2.0**-32, 1 / 3, 0.999])
def test_matches_reference_extreme_p(p):
    x = np.ones(3000, np.float32)
    y = fastdrop.dropout(x, p, rng=5)
    assert_same_bits(y, expected_dropout(x, p, 5))
    mask = fastdrop.dropout_mask(3000, p, rng=5)
    assert np.array_equal(mask, reference.keep_mask(5, 0, 3000, p))


def test_threshold_rounding_just_below_one_half_ulp():
    # Regression: floor(v + 0.5) rounds v = 0.5 - 2**-54 up to 1 in double arithmetic.
    # p * 2**32 is the largest double below 0.5: round(p * 2**32) = 0, T = 2**32 keeps everything.
    p = float(np.nextafter(2.0**-33, 0.0))
    assert reference.threshold(p) == 2**32
    # element 22 of counter block 81907660 under key 0 has U = 2**32 - 1 (found by search)
    stream_offset = 81907660
    assert reference.uniforms(0, stream_offset, 128)[22] == 2**32 - 1
    mask = fastdrop.dropout_mask(128, p, rng=fastdrop.Philox(0, offset=stream_offset))
    assert mask.all()


def test_float16_every_bit_pattern():
    x = np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    for p in [0.0, 0.1, 0.3, 0.5, 0.99]:
        for mode in MODES:
            for training in (True, False):
                y = fastdrop.dropout(x, p, rng=99, training=training, mode=mode)
                assert_same_bits(y, expected_dropout(x, p, 99, training=training, mode=mode))


@pytest.mark.parametrize("dtype", FLOATS)
def test_dropped_elements_are_positive_zero(dtype):
    x = np.array([-1.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 5.0] * 300, dtype=dtype)
    for mode in MODES:
        y, mask = fastdrop.dropout(x, 0.5, rng=3, mode=mode, return_mask=True)
        assert 0 < mask.sum() < mask.size
        assert np.all(bits(y)[~mask] == 0)  # +0.0: sign bit clear, even for -0.0, NaN, inf
        assert np.all(np.isnan(y[mask]) == np.isnan(x[mask]))  # kept NaN stays NaN
        assert np.all(np.isinf(y[mask]) == np.isinf(x[mask]))
        assert np.all(np.signbit(y[mask]) == np.signbit(x[mask]))


@pytest.mark.parametrize("dtype", FLOATS)
def test_vanilla_training_keeps_bits(dtype):
    x = sample_values(dtype, (4000,), seed=1)
    x[:50] = -0.0
    y, mask = fastdrop.dropout(x, 0.4, rng=11, mode="vanilla", return_mask=True)
    # kept elements bit for bit, NaN payloads and -0.0 included
    assert np.array_equal(bits(y)[mask], bits(x)[mask])
    assert np.all(bits(y)[~mask] == 0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_eval_inverted_is_identity(dtype):
    x = sample_values(dtype, (17, 13), seed=2)
    for p in (0.0, 0.5, 1.0):
        y, mask = fastdrop.dropout(x, p, rng=1, training=False, return_mask=True)
        assert y is not x
        assert not np.shares_memory(x, y)
        assert np.array_equal(bits(y), bits(x))  # NaN payloads too
        assert mask.dtype == np.bool_ and mask.shape == x.shape and mask.all()
        out = np.empty_like(x)
        assert fastdrop.dropout(x, p, training=False, out=out) is out
        assert np.array_equal(bits(out), bits(x))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("p", [0.0, 0.1, 0.3, 0.5, 1.0])
def test_eval_vanilla_scales_by_keep_probability(dtype, p):
    x = sample_values(dtype, (500,), seed=3)
    work = np.float32 if dtype == np.float16 else dtype
    with np.errstate(all="ignore"):
        expected = (x.astype(work) * work(1.0 - p)).astype(dtype)  # float16: one rounding
    y = fastdrop.dropout(x, p, training=False, mode="vanilla")
    assert_same_bits(y, expected)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
def test_p_zero_keeps_everything(dtype, mode):
    x = sample_values(dtype, (1000,), seed=4)
    y, mask = fastdrop.dropout(x, 0.0, rng=4, mode=mode, return_mask=True)
    assert mask.all()
    assert np.array_equal(bits(y), bits(x))  # scale 1 in both modes: x unchanged
    assert fastdrop.dropout_mask(1000, 0, rng=4).all()


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
def test_p_one_drops_everything(dtype, mode):
    x = sample_values(dtype, (1000,), seed=5)
    y, mask = fastdrop.dropout(x, 1.0, rng=5, mode=mode, return_mask=True)
    assert not mask.any()
    assert np.all(bits(y) == 0)
    assert not fastdrop.dropout_mask(1000, 1, rng=5).any()
    assert not fastdrop.dropout_mask(1000, 1, rng=5, packed=True).any()


def test_p_accepts_real_number_types():
    x = np.ones(300)
    expected = fastdrop.dropout(x, 0.25, rng=8)
    for p in (np.float64(0.25), np.float32(0.25), np.float16(0.25), np.array(0.25)):
        assert_same_bits(fastdrop.dropout(x, p, rng=8), expected)  # 0-d: as a ufunc takes it
    for p in (0, 1, np.int64(1)):
        assert_same_bits(fastdrop.dropout(x, p, rng=8), expected_dropout(x, float(p), 8))


# ---------------------------------------------------------------------------------------------
# out: in place, strided views and overlap


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("training", [True, False])
def test_out_is_x_in_place(dtype, mode, training):
    x = sample_values(dtype, (40, 50), seed=6)
    expected = expected_dropout(x, 0.4, 12, training=training, mode=mode)
    y = fastdrop.dropout(x, 0.4, rng=12, training=training, mode=mode, out=x)
    assert y is x
    assert_same_bits(x, expected)


@pytest.mark.parametrize("dtype", FLOATS)
def test_out_is_a_same_layout_view_of_x(dtype):
    x = sample_values(dtype, (40, 50), seed=6)
    expected = expected_dropout(x, 0.4, 12)
    out = x[:]
    assert fastdrop.dropout(x, 0.4, rng=12, out=out) is out
    assert_same_bits(x, expected)


@pytest.mark.parametrize("dtype", FLOATS)
def test_out_strided_view_writes_only_its_elements(dtype):
    x = sample_values(dtype, (20, 15), seed=7)
    buf = np.full((40, 45), 7.0, dtype=dtype)
    out = buf[::2, ::3]
    assert out.shape == x.shape
    y = fastdrop.dropout(x, 0.5, rng=13, out=out)
    assert y is out
    assert_same_bits(out, expected_dropout(x, 0.5, 13))
    untouched = np.ones(buf.shape, bool)
    untouched[::2, ::3] = False
    assert np.all(buf[untouched] == 7.0)


@pytest.mark.parametrize("dtype", FLOATS)
def test_out_reversed_strided_view(dtype):
    x = sample_values(dtype, (6, 300), seed=8)
    buf = np.full((12, 301), 7.0, dtype=dtype)
    out = buf[::-2, ::-1][:, :300]
    fastdrop.dropout(x, 0.5, rng=14, out=out)
    assert_same_bits(out, expected_dropout(x, 0.5, 14))
    untouched = np.ones(buf.shape, bool)
    untouched[::-2, ::-1][:, :300] = False
    assert np.all(buf[untouched] == 7.0)


def overlap_cases(dtype):
    """(name, x, out) where out overlaps x without being x (same first byte and strides)."""
    n = 3000
    yield "shift_forward", *_pair(n, dtype, lambda b: (b[1:], b[:-1]))
    yield "shift_back", *_pair(n, dtype, lambda b: (b[:-1], b[1:]))
    yield "shift_far", *_pair(n, dtype, lambda b: (b[100:], b[:-100]))
    yield "reversed", *_pair(n, dtype, lambda b: (b, b[::-1]))
    yield "reversed_x", *_pair(n, dtype, lambda b: (b[::-1], b))
    yield "interleaved", *_pair(n, dtype, lambda b: (b[:-1:2], b[1::2]))
    yield "stride_change", *_pair(n, dtype, lambda b: (b[:1000], b[::3]))
    yield (
        "transpose",
        *_pair(n, dtype, lambda b: (b[:2500].reshape(50, 50), b[:2500].reshape(50, 50).T)),
    )
    yield (
        "transpose_x",
        *_pair(n, dtype, lambda b: (b[:2500].reshape(50, 50).T, b[:2500].reshape(50, 50))),
    )
    yield (
        "rows_shifted",
        *_pair(n, dtype, lambda b: (b[:2900].reshape(29, 100)[1:], b[:2900].reshape(29, 100)[:-1])),
    )
    yield (
        "flipped_2d",
        *_pair(
            n, dtype, lambda b: (b[:2500].reshape(50, 50), b[:2500].reshape(50, 50)[::-1, ::-1])
        ),
    )


def _pair(n, dtype, make):
    return make(sample_values(dtype, (n,), seed=n))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("training", [True, False])
def test_out_overlapping_x(dtype, mode, training):
    for name, x, out in overlap_cases(dtype):
        assert np.may_share_memory(x, out), name
        x_copy = x.copy()
        expected = expected_dropout(x_copy, 0.5, 15, training=training, mode=mode)
        separate = fastdrop.dropout(x_copy, 0.5, rng=15, training=training, mode=mode)
        y, mask = fastdrop.dropout(
            x, 0.5, rng=15, training=training, mode=mode, out=out, return_mask=True
        )
        assert y is out, name
        assert_same_bits(separate, expected)
        assert_same_bits(out, expected)
        assert np.array_equal(mask, reference.keep_mask(15, 0, x.shape, 0.5) | (not training))


# ---------------------------------------------------------------------------------------------
# masks


@pytest.mark.parametrize(
    "shape", [(), (0,), (1,), (7,), (128,), (129,), (3, 0, 2), (33, 65), (2, 3, 4, 5), (2100,)]
)
def test_return_mask_matches_dropout_mask(shape):
    x = sample_values(np.float32, shape, seed=9)
    x[x == 0] = 1.0
    y, mask = fastdrop.dropout(x, 0.3, rng=16, return_mask=True)
    assert mask.dtype == np.bool_
    assert mask.shape == x.shape
    assert np.array_equal(mask, y != 0)
    assert np.array_equal(mask, fastdrop.dropout_mask(shape, 0.3, rng=16))
    assert np.array_equal(mask, reference.keep_mask(16, 0, shape, 0.3))


# 3 * 8192 + 5 and 2^18 + 3: whole chunks, which the kernels write into the packed mask in place
@pytest.mark.parametrize(
    "n", [0, 1, 7, 8, 9, 31, 127, 128, 129, 2047, 2048, 2049, 2055, 5000, 24581, 262147]
)
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
def test_packed_mask_is_packbits(n, p):
    mask = fastdrop.dropout_mask(n, p, rng=17)
    packed = fastdrop.dropout_mask(n, p, rng=17, packed=True)
    assert packed.dtype == np.uint8
    assert packed.shape == ((n + 7) // 8,)
    assert np.array_equal(packed, np.packbits(mask.ravel(), bitorder="little"))
    assert np.array_equal(mask, reference.keep_mask(17, 0, n, p))


def test_packed_mask_of_a_shape():
    mask = fastdrop.dropout_mask((5, 7, 3), 0.5, rng=18)
    packed = fastdrop.dropout_mask((5, 7, 3), 0.5, rng=18, packed=True)
    assert np.array_equal(packed, np.packbits(mask.ravel(), bitorder="little"))


@pytest.mark.parametrize(
    "shape",
    [5, (5,), [2, 3], (2, 3, 4), (), (0,), (3, 0, 2), np.array([4, 5]), (np.int64(3), np.uint8(2))],
)
def test_dropout_mask_shapes(shape):
    mask = fastdrop.dropout_mask(shape, 0.5, rng=19)
    expected_shape = (shape,) if isinstance(shape, int) else tuple(int(d) for d in shape)
    assert mask.shape == expected_shape
    assert mask.dtype == np.bool_
    assert np.array_equal(mask, reference.keep_mask(19, 0, expected_shape, 0.5))


def test_mask_depends_on_element_count_prefix():
    # element i's decision depends only on (key, offset, i): masks of different sizes share a
    # prefix, and the shape only reshapes it
    long = fastdrop.dropout_mask(5000, 0.5, rng=20)
    for n in (1, 100, 128, 300, 2048, 2049):
        assert np.array_equal(fastdrop.dropout_mask(n, 0.5, rng=20), long[:n])
    assert np.array_equal(fastdrop.dropout_mask((50, 100), 0.5, rng=20).ravel(), long)


# ---------------------------------------------------------------------------------------------
# shapes and input kinds


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
def test_zero_d(dtype, mode):
    for value in (3.0, -2.0, np.nan):
        x = np.array(value, dtype=dtype)
        for key in range(8):
            y, mask = fastdrop.dropout(x, 0.5, rng=key, mode=mode, return_mask=True)
            assert y.shape == () and mask.shape == ()
            assert_same_bits(y, expected_dropout(x, 0.5, key, mode=mode))
            assert bool(mask) == bool(reference.keep_mask(key, 0, (), 0.5))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), (0, 5), (2, 0)])
def test_empty(dtype, shape):
    x = np.empty(shape, dtype)
    y, mask = fastdrop.dropout(x, 0.5, rng=1, return_mask=True)
    assert y.shape == shape and y.dtype == dtype and mask.shape == shape
    out = np.empty(shape, dtype)
    assert fastdrop.dropout(x, 0.5, rng=1, out=out) is out
    assert fastdrop.dropout(x, 0.5, rng=1, out=x) is x
    assert fastdrop.dropout(x, 0.5, training=False, mode="vanilla").shape == shape
    assert fastdrop.dropout_mask(shape, 0.5, rng=1).shape == shape
    assert fastdrop.dropout_mask(shape, 0.5, rng=1, packed=True).shape == (0,)


@pytest.mark.parametrize(
    "x",
    [
        [1.0, -2.0, 3.5, 4.0] * 50,
        [[1.0, 2.0], [3.0, 4.0]],
        (1.5, 2.5, -3.5),
        [],
        2.5,
        np.float32(2.5),
        np.float16(-1.5),
        np.float64(7.0),
        [np.float32(1.0)] * 40,
    ],
    ids=[
        "list",
        "nested",
        "tuple",
        "empty_list",
        "float",
        "f32_scalar",
        "f16_scalar",
        "f64_scalar",
        "list_of_f32",
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_array_likes(x, mode):
    array = np.asarray(x)
    for key in (0, 1, 2):
        y = fastdrop.dropout(x, 0.5, rng=key, mode=mode)
        assert_same_bits(y, expected_dropout(array, 0.5, key, mode=mode))
        assert_same_bits(y, fastdrop.dropout(array, 0.5, rng=key, mode=mode))


def test_broadcast_read_only_x():
    x = np.broadcast_to(np.float32(3.0), (40, 50))
    y = fastdrop.dropout(x, 0.5, rng=21)
    assert_same_bits(y, expected_dropout(np.full((40, 50), 3.0, np.float32), 0.5, 21))


def test_many_dimensions():
    x = sample_values(np.float64, (2,) * 11, seed=10)
    y = fastdrop.dropout(x, 0.5, rng=22)
    assert_same_bits(y, expected_dropout(x, 0.5, 22))
    x = sample_values(np.float32, (1,) * 30 + (300,), seed=10)
    y = fastdrop.dropout(x[..., ::-1], 0.5, rng=22)
    assert_same_bits(y, expected_dropout(x[..., ::-1], 0.5, 22))


# ---------------------------------------------------------------------------------------------
# determinism


def layouts(dtype):
    """The same logical (30, 70) array in many memory layouts."""
    base = sample_values(dtype, (30, 70), seed=11)
    yield "C", base
    yield "F", np.asfortranarray(base)
    big = np.zeros((60, 210), dtype)
    big[::2, ::3] = base
    yield "strided", big[::2, ::3]
    rev = np.ascontiguousarray(base[::-1, ::-1])
    yield "negative", rev[::-1, ::-1]
    yield "transposed", np.ascontiguousarray(base.T).T
    yield "swapped", base.astype(base.dtype.newbyteorder(">" if sys.byteorder == "little" else "<"))
    yield (
        "swapped_F",
        np.asfortranarray(base).astype(
            base.dtype.newbyteorder(">" if sys.byteorder == "little" else "<")
        ),
    )
    raw = np.zeros(base.nbytes + 1, np.uint8)
    unaligned = raw[1:].view(dtype).reshape(base.shape)
    unaligned[...] = base
    yield "unaligned", unaligned


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
def test_mask_independent_of_layout(dtype, mode):
    base = next(layouts(dtype))[1]
    expected = expected_dropout(base, 0.4, 23, mode=mode)
    expected_mask = reference.keep_mask(23, 0, base.shape, 0.4)
    for name, x in layouts(dtype):
        assert np.array_equal(x, base, equal_nan=True), name
        x_before = x.copy()
        y, mask = fastdrop.dropout(x, 0.4, rng=23, mode=mode, return_mask=True)
        assert np.array_equal(mask, expected_mask), name
        assert_same_bits(y, expected)
        assert_unchanged(x, x_before)  # x never modified (also not byte-swapped in place)
        # results in x's layout (as np.empty_like), each element's bits by its logical index
        assert_layout_of(y, x)
        assert_layout_of(mask, x)
        for training in (True, False):
            assert_layout_of(fastdrop.dropout(x, 0.4, rng=23, training=training, mode=mode), x)
            assert_layout_of(fastdrop.gaussian_dropout(x, 0.4, rng=23, training=training), x)


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1), (0, 2, 1)])
def test_results_keep_any_order_of_axes(order):
    """A new result and its mask keep x's order of axes in memory (channels-last and every
    other permutation, reversed axes read forwards); the bits by logical index do not change."""
    base = sample_values(np.float32, (6, 7, 130), seed=17)
    x = np.ascontiguousarray(base.transpose(order)).transpose(np.argsort(order))
    assert np.array_equal(x, base, equal_nan=True)
    for view in (x, x[::-1, :, ::-2]):
        y, mask = fastdrop.dropout(view, 0.3, rng=18, return_mask=True)
        assert_same_bits(y, expected_dropout(view, 0.3, 18))
        assert np.array_equal(mask, reference.keep_mask(18, 0, view.shape, 0.3))
        assert_layout_of(y, view)
        assert_layout_of(mask, view)
        assert all(stride > 0 for stride in y.strides + mask.strides)  # read forwards
        assert y.flags.c_contiguous == (order == (0, 1, 2))
        assert y.flags.f_contiguous == (order == (2, 1, 0))


def test_mask_layout_does_not_depend_on_out_overlapping_x():
    """With out given, the mask of return_mask=True is laid out the same way whether out
    overlaps x or not (x Fortran-ordered, out C-ordered in both calls)."""
    buffer = sample_values(np.float64, (2500,), seed=19)
    x = buffer.reshape(50, 50).T  # Fortran-ordered
    separate_out = np.empty((50, 50))
    overlapping_out = buffer.reshape(50, 50)  # x's memory, C-ordered
    assert x.flags.f_contiguous and np.may_share_memory(x, overlapping_out)
    expected = expected_dropout(x, 0.5, 20)
    _, separate_mask = fastdrop.dropout(
        x.copy(order="F"), 0.5, rng=20, out=separate_out, return_mask=True
    )
    assert_same_bits(separate_out, expected)
    _, overlapping_mask = fastdrop.dropout(x, 0.5, rng=20, out=overlapping_out, return_mask=True)
    assert_same_bits(overlapping_out, expected)
    assert np.array_equal(separate_mask, overlapping_mask)
    assert separate_mask.strides == overlapping_mask.strides


def test_mask_independent_of_dtype():
    masks = []
    for dtype in FLOATS:
        x = np.ones((21, 31), dtype)
        y, mask = fastdrop.dropout(x, 0.3, rng=24, return_mask=True)
        masks.append(mask)
        assert np.array_equal(mask, y != 0)
    assert all(np.array_equal(m, masks[0]) for m in masks)
    assert np.array_equal(masks[0], fastdrop.dropout_mask((21, 31), 0.3, rng=24))


def test_same_int_key_same_result():
    x = sample_values(np.float32, (1000,), seed=12)
    first = fastdrop.dropout(x, 0.5, rng=25)
    for _ in range(3):
        assert_same_bits(fastdrop.dropout(x, 0.5, rng=25), first)
    assert not np.array_equal(fastdrop.dropout(x, 0.5, rng=26), first, equal_nan=True)
    ones = fastdrop.dropout(np.ones(1000, np.float32), 0.5, rng=25)
    assert np.array_equal(fastdrop.dropout_mask(1000, 0.5, rng=25), ones != 0)


@pytest.mark.parametrize(
    "key", [0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1, np.uint64(2**64 - 1), np.int32(7)]
)
def test_int_keys(key):
    x = np.ones(300, np.float64)
    assert_same_bits(fastdrop.dropout(x, 0.5, rng=key), expected_dropout(x, 0.5, int(key)))


def test_generator_rng():
    x = np.ones(1000, np.float32)
    gen = np.random.default_rng(27)
    first = fastdrop.dropout(x, 0.5, rng=gen)
    second = fastdrop.dropout(x, 0.5, rng=gen)
    assert not np.array_equal(first, second)
    again = np.random.default_rng(27)
    assert_same_bits(fastdrop.dropout(x, 0.5, rng=again), first)
    assert_same_bits(fastdrop.dropout(x, 0.5, rng=again), second)
    # dropout_mask draws the same way
    gen = np.random.default_rng(27)
    assert np.array_equal(fastdrop.dropout_mask(1000, 0.5, rng=gen), first != 0)
    assert np.array_equal(fastdrop.dropout_mask(1000, 0.5, rng=gen), second != 0)


def test_seed_sequence_and_bit_generator_rng():
    """The other values SPEC 7 names: a SeedSequence or BitGenerator draws the key from
    numpy.random.default_rng(rng), so a SeedSequence gives the same mask every call and a
    BitGenerator's state moves on, as a Generator's does."""
    x = np.ones(1000, np.float32)
    sequence = np.random.SeedSequence(31)
    expected = fastdrop.dropout(x, 0.5, rng=np.random.default_rng(np.random.SeedSequence(31)))
    assert_same_bits(fastdrop.dropout(x, 0.5, rng=sequence), expected)
    assert_same_bits(fastdrop.dropout(x, 0.5, rng=sequence), expected)
    bits = np.random.PCG64(32)
    first, second = (fastdrop.dropout(x, 0.5, rng=bits) for _ in range(2))
    again = np.random.default_rng(np.random.PCG64(32))
    assert_same_bits(first, fastdrop.dropout(x, 0.5, rng=again))
    assert_same_bits(second, fastdrop.dropout(x, 0.5, rng=again))


def test_generator_not_used_at_evaluation():
    gen = np.random.default_rng(28)
    fastdrop.dropout(np.ones(10), 0.5, rng=gen, training=False)
    assert gen.random() == np.random.default_rng(28).random()


def test_none_rng_differs_between_calls():
    x = np.ones(1000, np.float32)
    assert not np.array_equal(fastdrop.dropout(x, 0.5), fastdrop.dropout(x, 0.5))
    assert not np.array_equal(fastdrop.dropout_mask(1000), fastdrop.dropout_mask(1000))
    y, mask = fastdrop.dropout(x, 0.5, return_mask=True)
    assert np.array_equal(mask, y != 0)


def test_philox_stream():
    x = sample_values(np.float32, (1000,), seed=13)
    stream = fastdrop.Philox(29)
    assert stream.key == 29 and stream.offset == 0
    first, first_mask = fastdrop.dropout(x, 0.5, rng=stream, return_mask=True)
    assert stream.offset == 8  # ceil(1000 / 128)
    second = fastdrop.dropout(x, 0.5, rng=stream)
    assert stream.offset == 16
    assert not np.array_equal(first, second, equal_nan=True)
    assert_same_bits(first, expected_dropout(x, 0.5, 29, 0))
    assert_same_bits(second, expected_dropout(x, 0.5, 29, 8))
    # replay a call from its counters: a stream that starts there, or the Draw of them
    assert_same_bits(fastdrop.dropout(x, 0.5, rng=fastdrop.Philox(29, offset=8)), second)
    assert_same_bits(fastdrop.dropout(x, 0.5, rng=fastdrop.Draw(29, 8)), second)
    replay = fastdrop.dropout_mask(1000, 0.5, rng=fastdrop.Philox(29, offset=0))
    assert np.array_equal(replay, first_mask)
    # a Draw taken first: the stream moves once, the draw gives the same call every time
    draw = stream.draw(1000)
    assert draw == fastdrop.Draw(29, 16) and stream.offset == 24
    third = fastdrop.dropout(x, 0.5, rng=draw)
    assert_same_bits(third, expected_dropout(x, 0.5, 29, 16))
    assert_same_bits(fastdrop.dropout(x, 0.5, rng=draw), third)
    mask = fastdrop.dropout_mask(1000, 0.5, rng=draw)
    assert np.array_equal(mask, reference.keep_mask(29, 16, 1000, 0.5))
    assert stream.offset == 24


@pytest.mark.parametrize("sizes", [[0], [1], [128], [129], [1000, 1], [0, 0, 5], [256, 257, 3]])
def test_philox_stream_advances_by_blocks(sizes):
    """Each call starts where the stream is (its output is that of a Draw there) and moves the
    stream past ceil(n / 128) blocks, as a draw does."""
    stream = fastdrop.Philox(30, offset=5)
    expected = 5
    for n in sizes:
        x = np.ones(n)
        y = fastdrop.dropout(x, 0.5, rng=stream)
        assert_same_bits(y, fastdrop.dropout(x, 0.5, rng=fastdrop.Draw(30, expected)))
        expected += -(-n // 128)
        assert stream.offset == expected
        packed = fastdrop.dropout_mask(n, 0.5, rng=stream, packed=True)
        here = fastdrop.Draw(30, expected)
        assert np.array_equal(packed, fastdrop.dropout_mask(n, 0.5, rng=here, packed=True))
        expected += -(-n // 128)
        assert stream.offset == expected
        assert stream.draw(n) == fastdrop.Draw(30, expected)
        expected += -(-n // 128)
        assert stream.offset == expected


def test_philox_draw():
    stream = fastdrop.Philox(7)
    assert stream.draw(300) == fastdrop.Draw(7, 0)
    assert stream.draw(1) == fastdrop.Draw(7, 3)
    assert stream.draw(0) == fastdrop.Draw(7, 4)
    assert stream.draw(128) == fastdrop.Draw(7, 4)
    assert stream.draw(np.int64(129)) == fastdrop.Draw(7, 5)
    assert stream.offset == 7
    assert repr(stream) == "fastdrop.Philox(7, offset=7)"


def test_draw_is_a_value():
    draw = fastdrop.Draw(7, 3)
    key, offset = draw
    assert (key, offset) == (7, 3) and (draw.key, draw.offset) == (7, 3)
    assert repr(draw) == "fastdrop.Draw(key=7, offset=3)"
    assert draw == fastdrop.Draw(7, 3) and not draw != fastdrop.Draw(7, 3)
    assert draw != fastdrop.Draw(7, 4) and draw != fastdrop.Draw(8, 3)
    assert draw != (7, 3) and (7, 3) != draw and draw != [7, 3]  # only a Draw equals a Draw
    assert hash(draw) == hash(fastdrop.Draw(np.uint64(7), np.int32(3)))
    assert {draw: "call"}[fastdrop.Draw(7, 3)] == "call"
    assert len({draw, fastdrop.Draw(7, 3), fastdrop.Draw(3, 7)}) == 2
    assert fastdrop.Draw(7) == fastdrop.Draw(7, 0)
    assert fastdrop.Draw(2**64 - 1, 2**64 - 1) == fastdrop.Draw(key=2**64 - 1, offset=2**64 - 1)
    for duplicate in (copy.copy, copy.deepcopy, lambda d: pickle.loads(pickle.dumps(d))):
        twin = duplicate(draw)
        assert type(twin) is fastdrop.Draw and twin == draw
    for name in ("key", "offset"):
        with pytest.raises(AttributeError):
            setattr(draw, name, 5)
    assert draw == fastdrop.Draw(7, 3)
    for bad, error in [(-1, ValueError), (2**64, ValueError), (1.0, TypeError), (True, TypeError)]:
        with pytest.raises(error, match="key must be an int"):
            fastdrop.Draw(bad)
        with pytest.raises(error, match="offset must be an int"):
            fastdrop.Draw(1, bad)


def test_a_draw_replays_its_call_with_every_function():
    """The same Draw gives the same counters to dropout, dropout_mask and standard_normal, as the
    stream would have given them, and never moves a stream."""
    stream = fastdrop.Philox(46, offset=2**32 - 1)
    draw = stream.draw(3000)
    x = sample_values(np.float64, (3000,), seed=16)
    expected = expected_dropout(x, 0.3, 46, 2**32 - 1)
    for _ in range(2):
        assert_same_bits(fastdrop.dropout(x, 0.3, rng=draw), expected)
        mask = fastdrop.dropout_mask(3000, 0.3, rng=draw)
        assert np.array_equal(mask, reference.keep_mask(46, 2**32 - 1, 3000, 0.3))
    twin = fastdrop.Philox(46, offset=2**32 - 1)
    assert np.array_equal(
        fastdrop.standard_normal(3000, rng=draw), fastdrop.standard_normal(3000, rng=twin)
    )
    assert stream.offset == twin.offset == 2**32 - 1 + 24


@pytest.mark.parametrize(
    "duplicate", [copy.copy, copy.deepcopy, lambda s: pickle.loads(pickle.dumps(s))]
)
def test_philox_copies_continue_from_the_same_offset(duplicate):
    stream = fastdrop.Philox(41, offset=9)
    fastdrop.dropout(np.ones(1000), 0.5, rng=stream)
    twin = duplicate(stream)
    assert type(twin) is fastdrop.Philox and twin is not stream
    assert (twin.key, twin.offset) == (41, 17)
    x = np.ones(3000, np.float32)
    assert_same_bits(fastdrop.dropout(x, 0.3, rng=twin), fastdrop.dropout(x, 0.3, rng=stream))
    assert twin.offset == stream.offset == 17 + 24  # two streams, each moved on by its own call

    exhausted = fastdrop.Philox(42, offset=2**64 - 1)
    exhausted.draw(200)
    again = duplicate(exhausted)
    assert again.offset == exhausted.offset == 2**64 + 1
    with pytest.raises(ValueError, match="exhausted"):
        again.draw(1)


def test_a_copy_of_a_stream_just_exhausted_is_exhausted():
    stream = fastdrop.Philox(45, offset=2**64 - 1)
    stream.draw(1)  # its last block: the offset is now exactly 2**64
    for twin in (copy.copy(stream), pickle.loads(pickle.dumps(stream))):
        assert twin.offset == 2**64
        with pytest.raises(ValueError, match="exhausted"):
            twin.draw(1)


class _Stream(fastdrop.Philox):
    """A subclass (at module level, so that pickle finds it)."""


def test_a_copy_of_a_subclassed_stream_keeps_its_class():
    stream = _Stream(46, offset=5)
    for twin in (copy.copy(stream), copy.deepcopy(stream), pickle.loads(pickle.dumps(stream))):
        assert type(twin) is _Stream and (twin.key, twin.offset) == (46, 5)


def test_a_generator_gives_a_key_from_all_of_uint64():
    """rng=Generator draws the key as integers(0, 2**64, dtype=uint64) does: the same mask as
    that int gives (0xa30febcfd9c2825f here: in the upper half)."""
    x = np.ones(1000)
    key = int(np.random.default_rng(0).integers(0, 2**64, dtype=np.uint64))
    assert key >= 2**63
    assert_same_bits(
        fastdrop.dropout(x, 0.5, rng=np.random.default_rng(0)), fastdrop.dropout(x, 0.5, rng=key)
    )


def test_entropy_keys_use_all_64_bits():
    """Fresh keys (rng=None, Philox()) come from 8 bytes of entropy: among 8 keys one has a bit
    above 32 set, except with probability 2**-256."""
    assert any(fastdrop.Philox().key >= 2**32 for _ in range(8))


def test_byte_swapped_input_gives_the_native_result():
    x = np.random.default_rng(6).standard_normal(1000).astype(np.float32)
    for training in (True, False):
        assert_same_bits(
            fastdrop.dropout(x.astype(">f4"), 0.3, rng=5, training=training),
            fastdrop.dropout(x, 0.3, rng=5, training=training),
        )


def test_philox_init_again_starts_a_new_stream():
    stream = fastdrop.Philox(43, offset=2**64 - 1)
    stream.draw(300)
    stream.__init__(44, offset=5)
    assert (stream.key, stream.offset) == (44, 5)
    assert stream.draw(1) == fastdrop.Draw(44, 5)
    assert stream.offset == 6


def test_philox_stream_not_used_at_evaluation():
    stream = fastdrop.Philox(31)
    y = fastdrop.dropout(np.ones(1000), 0.5, rng=stream, training=False)
    assert stream.offset == 0
    assert np.all(y == 1)
    assert stream.draw(1) == fastdrop.Draw(31, 0)  # the next call still gets block 0


def test_philox_seed_none_uses_entropy():
    a, b = fastdrop.Philox(), fastdrop.Philox()
    assert a.key != b.key
    assert 0 <= a.key < 2**64


def test_philox_same_seed_as_int_key():
    x = np.ones(500)
    assert_same_bits(
        fastdrop.dropout(x, 0.5, rng=fastdrop.Philox(32)), fastdrop.dropout(x, 0.5, rng=32)
    )


@pytest.mark.parametrize("offset", [2**32 - 1, 2**32 - 3, 2**64 - 1, 2**64 - 5])
def test_philox_offsets_carry_into_96_bits(offset):
    x = np.ones(1000, np.float32)
    y = fastdrop.dropout(x, 0.3, rng=fastdrop.Philox(33, offset=offset))
    assert_same_bits(y, expected_dropout(x, 0.3, 33, offset))
    mask = fastdrop.dropout_mask(1000, 0.3, rng=fastdrop.Philox(33, offset=offset))
    assert np.array_equal(mask, reference.keep_mask(33, offset, 1000, 0.3))


def test_philox_threads_get_disjoint_counters():
    """4 threads x 50 calls of 300 elements, half on the stream, half with a Draw taken first:
    the calls' blocks tile blocks 0 to 599, and each output is the one of its blocks."""
    import threading

    from test_threads import place_calls

    stream = fastdrop.Philox(34)
    drawn, on_stream = [], []
    lock = threading.Lock()

    def work():
        for i in range(50):
            if i % 2:
                draw = stream.draw(300)
                y = fastdrop.dropout(np.ones(300), 0.5, rng=draw)
                with lock:
                    drawn.append((draw, y))
            else:
                y = fastdrop.dropout(np.ones(300), 0.5, rng=stream)
                with lock:
                    on_stream.append((300, y != 0))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stream.offset == 600
    assert len(drawn) == len(on_stream) == 100
    offsets, _ = place_calls(34, 0, 600, 0.5, [(d, 300) for d, _ in drawn], on_stream)
    starts = sorted(offsets + [d.offset for d, _ in drawn])
    assert starts == list(range(0, 3 * 200, 3))
    for draw, y in drawn:
        assert_same_bits(y, expected_dropout(np.ones(300), 0.5, 34, draw.offset))


def test_philox_draws_from_threads_are_consecutive():
    """One stream for all threads: whichever thread takes the next counters, by a call on the
    stream or a draw, gets the block after the last one taken."""
    import threading

    stream = fastdrop.Philox(35)
    a_drew, main_drew = threading.Event(), threading.Event()
    seen = {}

    def a():
        seen["a"] = stream.draw(128)  # block 3
        seen["a mask"] = fastdrop.dropout_mask(128, 0.5, rng=seen["a"])
        a_drew.set()
        main_drew.wait(timeout=60)

    def b():
        seen["b"] = stream.draw(10)  # block 5

    fastdrop.dropout(np.ones(300), 0.5, rng=stream)  # blocks 0 to 2
    thread = threading.Thread(target=a)
    thread.start()
    assert a_drew.wait(timeout=60)
    assert stream.offset == 4
    mask = fastdrop.dropout_mask(1, 0.5, rng=stream)  # block 4
    assert np.array_equal(mask, reference.keep_mask(35, 4, 1, 0.5))
    main_drew.set()
    thread.join()
    thread = threading.Thread(target=b)
    thread.start()
    thread.join()
    assert seen["a"] == fastdrop.Draw(35, 3) and seen["b"] == fastdrop.Draw(35, 5)
    assert np.array_equal(seen["a mask"], reference.keep_mask(35, 3, 128, 0.5))
    assert stream.offset == 6


# ---------------------------------------------------------------------------------------------
# unaligned memory


def unaligned(dtype, shape, fill=None):
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    raw = np.zeros(n * dtype.itemsize + 1, np.uint8)
    a = raw[1:].view(dtype).reshape(shape)
    assert not a.flags.aligned or dtype.itemsize == 1
    if fill is not None:
        a[...] = fill
    return raw, a


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
def test_unaligned_x_and_out(dtype, mode):
    values = sample_values(dtype, (3, 1000), seed=14)
    expected = expected_dropout(values, 0.4, 35, mode=mode)
    _, x = unaligned(dtype, values.shape, values)
    assert_same_bits(fastdrop.dropout(x, 0.4, rng=35, mode=mode), expected)
    raw, out = unaligned(dtype, values.shape)
    assert fastdrop.dropout(values, 0.4, rng=35, mode=mode, out=out) is out
    assert_same_bits(out, expected)
    assert raw[0] == 0
    # in place, unaligned
    fastdrop.dropout(x, 0.4, rng=35, mode=mode, out=x)
    assert_same_bits(x, expected)
    # strided unaligned views
    _, x = unaligned(dtype, values.shape, values)
    raw, big = unaligned(dtype, (3, 2000))
    out = big[:, ::-2]
    fastdrop.dropout(x[:, ::-1], 0.4, rng=35, mode=mode, out=out)
    assert_same_bits(out, expected_dropout(values[:, ::-1], 0.4, 35, mode=mode))
    assert np.all(bits(big[:, -2::-2]) == 0)


def test_unaligned_frombuffer():
    values = sample_values(np.float32, (1001,), seed=15)
    raw = bytearray(b"\x00" + values.tobytes())
    x = np.frombuffer(raw, dtype=np.float32, offset=1)
    assert not x.flags.aligned
    assert_same_bits(fastdrop.dropout(x, 0.5, rng=36), expected_dropout(values, 0.5, 36))
    target = bytearray(len(raw))
    out = np.frombuffer(target, dtype=np.float32, offset=1)
    assert out.flags.writeable
    fastdrop.dropout(values, 0.5, rng=36, out=out)
    assert_same_bits(out, expected_dropout(values, 0.5, 36))
    assert target[0] == 0


# ---------------------------------------------------------------------------------------------
# kernel path selection


def test_simd_path_default():
    assert fastdrop.simd_path() in ("scalar", "avx2", "avx512", "neon")


def test_simd_path_scalar_by_environment():
    code = (
        "import numpy as np, fastdrop\n"
        "print(fastdrop.simd_path())\n"
        "y = fastdrop.dropout(np.ones(3000, np.float32), 0.3, rng=37)\n"
        "print(np.packbits(y != 0, bitorder='little').tobytes().hex())\n"
    )
    result = run_python(code, FASTDROP_SIMD="scalar")
    assert result.returncode == 0, result.stderr
    path, mask_hex = result.stdout.split()
    assert path == "scalar"
    expected = np.packbits(reference.keep_mask(37, 0, 3000, 0.3), bitorder="little")
    assert mask_hex == expected.tobytes().hex()
    auto = run_python("import fastdrop; print(fastdrop.simd_path())", FASTDROP_SIMD="auto")
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout.strip() == fastdrop.simd_path()


def test_simd_path_bogus_fails_import():
    result = run_python("import fastdrop", FASTDROP_SIMD="bogus")
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "FASTDROP_SIMD" in result.stderr
    assert "bogus" in result.stderr


# Every path and every thread count gives the same bytes. The cases below are big enough to be
# split into parts (2**17 elements each) and to hold ties (1 element in 256 needs its own counter).
SAME_BYTES_CODE = """
import hashlib, numpy as np, fastdrop
digest = hashlib.sha256()
x = np.random.default_rng(3).standard_normal((700, 1500))
for p in (0.1, 0.5, 1 / 3, 0.999):
    for dtype in (np.float16, np.float32, np.float64):
        a = x.astype(dtype)
        for view in (a, a[::-1, ::2], a.T):
            y, mask = fastdrop.dropout(view, p, rng=fastdrop.Philox(11, offset=2**32 - 5),
                                       return_mask=True)
            digest.update(y.tobytes() + mask.tobytes())
    digest.update(fastdrop.dropout_mask(10**6 + 3, p, rng=5, packed=True).tobytes())
for dtype in (np.float32, np.float64):
    digest.update(fastdrop.standard_normal(5 * 2**17 + 3, rng=fastdrop.Philox(7, offset=2**64 - 9),
                                           dtype=dtype).tobytes())
print(fastdrop.simd_path(), fastdrop.get_num_threads(), digest.hexdigest())
"""


def test_every_simd_path_and_thread_count_gives_the_same_bytes():
    from fastdrop import _core

    runs = [
        run_python(SAME_BYTES_CODE, FASTDROP_SIMD=path, FASTDROP_NUM_THREADS=str(threads))
        for path in _core.simd_available()
        for threads in (1, 3)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    outputs = [run.stdout.split() for run in runs]
    assert [(path, int(threads)) for path, threads, _ in outputs] == [
        (path, threads) for path in _core.simd_available() for threads in (1, 3)
    ]
    assert len({digest for _, _, digest in outputs}) == 1


# Vanilla training copies kept elements; a multiply by 1 would quiet signaling NaNs (a Clang -O3
# build once did so on the AVX-512 path). Arrays of signaling NaNs only, random signs and
# payloads, at four start offsets and strided, out of place and in place, on every path.
VANILLA_SIGNALING_NAN_CODE = """
import numpy as np, fastdrop
rng = np.random.default_rng(6)
changed = 0
for dtype, uint, quiet_bit, exponent in (
    (np.float16, np.uint16, 9, 0x7C00),
    (np.float32, np.uint32, 22, 0x7F800000),
    (np.float64, np.uint64, 51, 0x7FF0000000000000),
):
    n = 40_000
    payload = rng.integers(1, 1 << quiet_bit, n, dtype=np.uint64).astype(uint)
    top = uint(8 * np.dtype(uint).itemsize - 1)
    sign = rng.integers(0, 2, n, dtype=np.uint64).astype(uint) << top
    signaling = (payload | uint(exponent) | sign).view(dtype)
    for x in [signaling[start:] for start in range(4)] + [signaling[::3], signaling[::-2]]:
        y, mask = fastdrop.dropout(x, 0.4, rng=11, mode="vanilla", return_mask=True)
        z = x.copy()
        fastdrop.dropout(z, 0.4, rng=11, mode="vanilla", out=z)
        for result in (y, z):
            changed += int(np.count_nonzero(result.view(uint)[mask] != x.view(uint)[mask]))
            changed += int(np.count_nonzero(result.view(uint)[~mask]))
print(fastdrop.simd_path(), changed)
"""


def test_vanilla_training_keeps_signaling_nans_on_every_path():
    from fastdrop import _core

    for path in _core.simd_available():
        run = run_python(VANILLA_SIGNALING_NAN_CODE, FASTDROP_SIMD=path)
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == [path, "0"]


def test_thread_counts_agree_with_the_reference():
    before = fastdrop.get_num_threads()
    x = np.random.default_rng(4).standard_normal(3 * 2**17 + 77).astype(np.float32)
    expected = reference.dropout(x, 0.3, reference.keep_mask(9, 0, x.size, 0.3))
    try:
        for threads in (1, 2, 4):
            fastdrop.set_num_threads(threads)
            assert_same_bits(fastdrop.dropout(x, 0.3, rng=9), expected)
    finally:
        fastdrop.set_num_threads(before)


@pytest.mark.parametrize("p", [0.25, 0.5, 0.75])
def test_float32_streams_of_few_planes_agree_with_the_reference(p):
    # p = 0.25, 0.5, 0.75 decide in 1 or 2 bit planes; float32 parts of 2^20 elements or more then
    # take shorter windows of keep bits (src_c/fd_dropout.c), contiguous and along a walk
    before = fastdrop.get_num_threads()
    x = np.random.default_rng(5).standard_normal((1030, 1031)).astype(np.float32)
    try:
        fastdrop.set_num_threads(1)
        for view in (x, x.T, x[:, 2:]):
            expected = reference.dropout(view, p, reference.keep_mask(12, 3, view.shape, p))
            assert_same_bits(fastdrop.dropout(view, p, rng=fastdrop.Draw(12, 3)), expected)
    finally:
        fastdrop.set_num_threads(before)


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (257, ValueError), (1.0, TypeError), (True, TypeError)]
)
def test_set_num_threads_rejects(value, error):
    before = fastdrop.get_num_threads()
    with pytest.raises(error, match="number of threads"):
        fastdrop.set_num_threads(value)
    assert fastdrop.get_num_threads() == before


def test_num_threads_environment():
    result = run_python(
        "import fastdrop; print(fastdrop.get_num_threads())", FASTDROP_NUM_THREADS="3"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"
    for value in ("many", "0", "257"):
        bad = run_python("import fastdrop", FASTDROP_NUM_THREADS=value)
        assert bad.returncode != 0
        assert f"FASTDROP_NUM_THREADS={value!r}" in bad.stderr


def test_python_threads_share_a_stream():
    """Concurrent large calls (GIL released) on one Philox stream, on the stream and with Draws
    taken first, get disjoint counters that tile the stream, and replayable masks."""
    import threading

    from test_threads import place_calls

    stream = fastdrop.Philox(21)
    drawn: list[tuple[fastdrop.Draw, np.ndarray]] = []
    on_stream: list[tuple[int, np.ndarray]] = []
    lock = threading.Lock()

    def work(seed: int) -> None:
        x = np.ones(2**18 + seed, np.float32)
        for i in range(6):
            if i % 2:
                draw = stream.draw(x.size)
                y = fastdrop.dropout(x, 0.25, rng=draw)
                with lock:
                    drawn.append((draw, y != 0))
            else:
                y = fastdrop.dropout(x, 0.25, rng=stream)
                with lock:
                    on_stream.append((x.size, y != 0))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drawn_sizes = [(draw, mask.size) for draw, mask in drawn]
    offsets, replay = place_calls(21, 0, stream.offset, 0.25, drawn_sizes, on_stream)
    spans = sorted(
        (offset, offset + -(-n // 128)) for offset, (n, _) in zip(offsets, on_stream, strict=True)
    )
    spans += [(d.offset, d.offset + -(-mask.size // 128)) for d, mask in drawn]
    spans.sort()
    assert spans[0][0] == 0 and spans[-1][1] == stream.offset
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(spans))
    for draw, mask in drawn:
        first = draw.offset * 128
        assert np.array_equal(replay[first : first + mask.size], mask)
        assert np.array_equal(fastdrop.dropout_mask(mask.size, 0.25, rng=draw), mask)
    for offset, (n, mask) in zip(offsets, on_stream, strict=True):
        replayed = fastdrop.dropout_mask(n, 0.25, rng=fastdrop.Philox(21, offset=offset))
        assert np.array_equal(replayed, mask)
