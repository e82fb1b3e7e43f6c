"""Hypothesis properties: dropout and dropout_mask equal the NumPy models of tests/reference.py
for random shapes, dtypes, byte orders, strides, transposes, alignments, p, keys, offsets, modes
and out aliasing."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastdrop

FLOATS = [np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)]
UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}
MAX_ELEMENTS = 2500

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# strategies


@st.composite
def shapes(draw, max_elements=MAX_ELEMENTS):
    """0 to 4 dimensions, extents 0 and up, at most max_elements elements."""
    ndim = draw(st.integers(0, 4))
    shape = []
    budget = max_elements
    for _ in range(ndim):
        side = draw(st.integers(0, max(1, min(budget, 60 if ndim > 1 else budget))))
        shape.append(side)
        budget = max(1, budget // max(side, 1))
    shape = tuple(shape)
    if math.prod(shape) > max_elements:  # pragma: no cover - the budget keeps this rare
        shape = tuple(min(s, 5) for s in shape)
    return shape


probabilities = st.one_of(
    st.sampled_from([0.0, 1.0, 0.5, 0.25, 0.75, 0.1, 0.9, 2.0**-32, 1 - 2.0**-32, 1 / 3]),
    st.floats(0.0, 1.0),
)
keys = st.one_of(st.sampled_from([0, 1, 2**32 - 1, 2**32, 2**64 - 1]), st.integers(0, 2**64 - 1))
offsets = st.one_of(
    st.sampled_from([0, 1, 2**32 - 1, 2**64 - 1, 2**64 - 2, 2**64 - 20]),
    st.integers(0, 2**64 - 1),
)


@dataclass
class ViewSpec:
    """A view of logical shape `shape` into a base array: per base dimension a start and a
    step (negative: reversed), then a transpose."""

    perm: tuple[int, ...]
    steps: tuple[int, ...]
    starts: tuple[int, ...]

    def pre_shape(self, shape):
        pre = [0] * len(shape)
        for k, axis in enumerate(self.perm):
            pre[axis] = shape[k]
        return pre

    def need(self, shape):
        """The extent of each base dimension the view reaches."""
        return [
            start + (side - 1) * abs(step) + 1 if side else start
            for side, step, start in zip(
                self.pre_shape(shape), self.steps, self.starts, strict=False
            )
        ]

    def apply(self, base, shape):
        slices = []
        for side, step, start in zip(self.pre_shape(shape), self.steps, self.starts, strict=False):
            if side == 0:
                slices.append(slice(0, 0))
            elif step > 0:
                slices.append(slice(start, start + side * step, step))
            else:
                high = start + (side - 1) * -step
                low = high + side * step
                slices.append(slice(high, low if low >= 0 else None, step))
        view = base[(*slices, Ellipsis)].transpose(self.perm)
        assert view.shape == tuple(shape)
        return view


@st.composite
def view_specs(draw, ndim):
    return ViewSpec(
        perm=tuple(draw(st.permutations(range(ndim)))),
        steps=tuple(
            draw(st.lists(st.sampled_from([1, 1, 2, 3, -1, -2]), min_size=ndim, max_size=ndim))
        ),
        starts=tuple(draw(st.lists(st.integers(0, 2), min_size=ndim, max_size=ndim))),
    )


def allocate(dtype, base_shape, unaligned):
    """A fresh base array, filled with a marker; unaligned: at byte offset 1 of a buffer."""
    n = math.prod(base_shape)
    if unaligned:
        raw = np.zeros(n * dtype.itemsize + 1, np.uint8)
        base = raw[1:].view(dtype).reshape(base_shape)
    else:
        base = np.zeros(base_shape, dtype)
    base[...] = 7.0
    return base


def values(dtype, n, seed):
    """Normal values mixed with +-0, +-inf, NaN (with payloads), subnormals, extremes and raw
    bit patterns."""
    rng = np.random.default_rng(seed)
    native = dtype.newbyteorder("=")
    uint = UINT[native.itemsize]
    x = (rng.standard_normal(n) * 8).astype(native)
    specials = reference.special_values(native)
    where = rng.random(n) < 0.25
    x[where] = rng.choice(specials, int(where.sum()))
    where = rng.random(n) < 0.1
    x.view(uint)[where] = rng.integers(
        0, np.iinfo(uint).max, int(where.sum()), dtype=uint, endpoint=True
    )
    return x


def ids_view(spec, base_shape, shape):
    """The flat base index of each element of the view."""
    ids = np.arange(math.prod(base_shape)).reshape(base_shape)
    return spec.apply(ids, shape)


# ---------------------------------------------------------------------------------------------
# checks


def bits(a):
    a = np.asarray(a)
    a = a.astype(a.dtype.newbyteorder("="), copy=False)
    return np.ascontiguousarray(a).reshape(-1).view(UINT[a.dtype.itemsize])


def assert_same_bits(actual, expected):
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype.newbyteorder("=")
    assert np.array_equal(actual, expected, equal_nan=True)
    not_nan = ~np.isnan(expected).reshape(-1)
    assert np.array_equal(bits(actual)[not_nan], bits(expected)[not_nan])


# ---------------------------------------------------------------------------------------------
# properties


@st.composite
def dropout_cases(draw):
    shape = draw(shapes())
    ndim = len(shape)
    dtype = draw(st.sampled_from(FLOATS))
    out_kind = draw(st.sampled_from(["none", "separate", "same", "overlap"]))
    order = "=" if out_kind in ("same", "overlap") else draw(st.sampled_from(["=", ">", "<"]))
    x_spec = draw(view_specs(ndim))
    out_spec = draw(view_specs(ndim))
    return {
        "shape": shape,
        "dtype": dtype,
        "x_dtype": dtype.newbyteorder(order),
        "out_kind": out_kind,
        "x_spec": x_spec,
        "out_spec": out_spec,
        "x_unaligned": draw(st.booleans()),
        "out_unaligned": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


@st.composite
def call_rngs(draw):
    """(key, offset, rng) of a call: the int key itself (offset 0), a Philox stream at
    offset, or the Draw of it."""
    key = draw(keys)
    kind = draw(st.sampled_from(["int", "stream", "draw"]))
    if kind == "int":
        return key, 0, key
    offset = draw(offsets)
    rng = fastdrop.Draw(key, offset) if kind == "draw" else fastdrop.Philox(key, offset=offset)
    return key, offset, rng


def assert_layout_of(result, x):
    """result is laid out as a new array like x in NumPy's order="K": np.empty_like(x)'s
    strides on every axis of extent above 1 (the others have no say in where an element is)."""
    like = np.empty_like(x, dtype=result.dtype)
    for axis, extent in enumerate(x.shape):
        if extent > 1:
            assert result.strides[axis] == like.strides[axis], (result.strides, like.strides)


@SETTINGS
@given(
    case=dropout_cases(),
    p=probabilities,
    call_rng=call_rngs(),
    mode=st.sampled_from(["inverted", "vanilla"]),
    training=st.booleans(),
    return_mask=st.booleans(),
)
def test_dropout_matches_reference(case, p, call_rng, mode, training, return_mask):
    shape, x_spec, out_spec = case["shape"], case["x_spec"], case["out_spec"]
    n = math.prod(shape)
    x_need = x_spec.need(shape)
    out_need = out_spec.need(shape)

    if case["out_kind"] == "overlap":  # x and out are two views of one buffer
        base_shape = [max(a, b) for a, b in zip(x_need, out_need, strict=False)]
        base = allocate(case["x_dtype"], base_shape, case["x_unaligned"])
        x = x_spec.apply(base, shape)
        x[...] = values(case["dtype"], n, case["seed"]).reshape(shape)
        out = out_spec.apply(base, shape)
        out_ids = ids_view(out_spec, base_shape, shape)
        watched = base
    else:
        base = allocate(case["x_dtype"], x_need, case["x_unaligned"])
        x = x_spec.apply(base, shape)
        x[...] = values(case["dtype"], n, case["seed"]).reshape(shape)
        out = None
        watched = None
        if case["out_kind"] == "same":
            out = x
            out_ids = ids_view(x_spec, x_need, shape)
            watched = base
        elif case["out_kind"] == "separate":
            watched = allocate(case["dtype"], out_need, case["out_unaligned"])
            out = out_spec.apply(watched, shape)
            out_ids = ids_view(out_spec, out_need, shape)
    x_before = x.copy()
    base_before = base.copy()
    watched_before = None if watched is None else watched.copy()

    key, offset, rng = call_rng
    mask = reference.keep_mask(key, offset, shape, p)
    expected = reference.dropout(x_before, p, mask, training=training, mode=mode)

    result = fastdrop.dropout(
        x, p, rng=rng, training=training, mode=mode, out=out, return_mask=return_mask
    )
    if return_mask:
        y, y_mask = result
        assert y_mask.dtype == np.bool_ and y_mask.shape == shape
        assert np.array_equal(y_mask, mask if training else np.ones(shape, bool))
        if out is None:
            assert_layout_of(y_mask, x)
    else:
        y = result
    if out is not None:
        assert y is out
    else:
        assert_layout_of(y, x)  # a new result keeps x's memory layout
    assert_same_bits(y, expected)

    # a stream moved by ceil(n / 128) blocks, and only in training; a Draw is a value
    if isinstance(rng, fastdrop.Philox):
        assert rng.key == key
        assert rng.offset == offset + (-(-n // 128) if training else 0)
    elif isinstance(rng, fastdrop.Draw):
        assert rng == fastdrop.Draw(key, offset)

    # x untouched unless out writes over it; nothing outside out written
    if out is None or not np.may_share_memory(x, out):
        assert x.tobytes() == x_before.tobytes()
    if case["out_kind"] != "overlap" and out is not x:
        assert base.tobytes() == base_before.tobytes()
    if watched is not None:
        written = np.zeros(watched.size, bool)
        written[out_ids.reshape(-1)] = True
        assert np.array_equal(bits(watched)[~written], bits(watched_before)[~written])


@settings(max_examples=200, deadline=None)
@given(
    shape=shapes(),
    p=probabilities,
    call_rng=call_rngs(),
    packed=st.booleans(),
)
def test_dropout_mask_matches_reference(shape, p, call_rng, packed):
    key, offset, rng = call_rng
    expected = reference.keep_mask(key, offset, shape, p)
    mask = fastdrop.dropout_mask(shape, p, rng=rng, packed=packed)
    if packed:
        assert mask.dtype == np.uint8
        assert np.array_equal(mask, np.packbits(expected.reshape(-1), bitorder="little"))
    else:
        assert mask.dtype == np.bool_
        assert np.array_equal(mask, expected)
    if isinstance(rng, fastdrop.Philox):
        assert rng.key == key
        assert rng.offset == offset + -(-expected.size // 128)
    elif isinstance(rng, fastdrop.Draw):
        assert rng == fastdrop.Draw(key, offset)


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=6),
    key=keys,
    offset=st.one_of(st.integers(0, 2**20), st.integers(2**64 - 2**12, 2**64 - 50)),
    p=probabilities,
)
def test_philox_stream_sequence(sizes, key, offset, p):
    """Calls on a stream and draws from it, in any order, each start where the stream is and
    move it past ceil(n / 128) blocks; each call is replayed by its Draw or a stream there."""
    stream = fastdrop.Philox(key, offset=offset)
    expected_offset = offset
    for i, n in enumerate(sizes):
        if i % 3 == 0:
            mask = fastdrop.dropout_mask(n, p, rng=stream)
        elif i % 3 == 1:
            y, mask = fastdrop.dropout(np.ones(n, np.float32), p, rng=stream, return_mask=True)
            assert np.array_equal(mask, y != 0)
        else:
            draw = stream.draw(n)
            assert draw == fastdrop.Draw(key, expected_offset)
            y, mask = fastdrop.dropout(np.ones(n, np.float32), p, rng=draw, return_mask=True)
            assert np.array_equal(mask, y != 0)
        assert np.array_equal(mask, reference.keep_mask(key, expected_offset, n, p))
        # a replay from the call's counters gives the same mask
        replay = fastdrop.dropout_mask(n, p, rng=fastdrop.Draw(key, expected_offset))
        assert np.array_equal(replay, mask)
        replay = fastdrop.dropout_mask(n, p, rng=fastdrop.Philox(key, offset=expected_offset))
        assert np.array_equal(replay, mask)
        expected_offset += -(-n // 128)
        assert stream.offset == expected_offset


@settings(max_examples=150, deadline=None)
@given(
    shape=shapes(max_elements=1500),
    dtypes=st.lists(st.sampled_from(FLOATS), min_size=2, max_size=2),
    orders=st.lists(st.sampled_from(["C", "F"]), min_size=2, max_size=2),
    p=probabilities,
    key=keys,
)
def test_mask_independent_of_dtype_and_order(shape, dtypes, orders, p, key):
    masks = []
    for dtype, order in zip(dtypes, orders, strict=False):
        x = np.ones(shape, dtype, order=order)
        y, mask = fastdrop.dropout(x, p, rng=key, return_mask=True)
        assert np.array_equal(mask, y != 0)
        assert_layout_of(y, x)
        assert_layout_of(mask, x)
        masks.append(mask)
    assert np.array_equal(masks[0], masks[1])
    assert np.array_equal(masks[0], fastdrop.dropout_mask(shape, p, rng=key))


@settings(max_examples=150, deadline=None)
@given(
    x=hnp.arrays(
        dtype=st.sampled_from(FLOATS),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9),
        elements={"allow_nan": True, "allow_infinity": True, "allow_subnormal": True},
    ),
    p=probabilities,
    key=keys,
    mode=st.sampled_from(["inverted", "vanilla"]),
    training=st.booleans(),
)
def test_hypothesis_values(x, p, key, mode, training):
    """Element values chosen by hypothesis (edge floats) rather than by a seeded generator."""
    before = x.copy()
    mask = reference.keep_mask(key, 0, x.shape, p)
    expected = reference.dropout(x, p, mask, training=training, mode=mode)
    y = fastdrop.dropout(x, p, rng=key, training=training, mode=mode)
    assert_same_bits(y, expected)
    assert x.tobytes() == before.tobytes()
    # in place gives the same
    assert fastdrop.dropout(x, p, rng=key, training=training, mode=mode, out=x) is x
    assert_same_bits(x, expected)
