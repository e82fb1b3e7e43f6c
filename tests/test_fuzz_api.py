"""A hypothesis fuzzer over the public API: dropout, dropout_mask, gaussian_dropout,
standard_normal, philox4x32, Philox and the nn dropout layers, with valid and invalid arguments
mixed in one call (shapes incl. 0-d and empty, strided/reversed/transposed views, every dtype,
non-native byte order, unaligned memory, out aliasing, ndarray subclasses, array-likes, bad p,
bad rng, Draws, exhausted streams).

Oracle: a valid call gives exactly tests/reference.py's result (bit for bit; standard_normal to
the tolerance of tests/test_noise.py, since fastdrop computes ln/sin/cos itself), in a new array
laid out as x unless out is given; an invalid call raises the documented TypeError (wrong type)
or ValueError (right type, out of range) with a message, leaves x and out byte-for-byte untouched
and moves no stream. Budget: FASTDROP_FUZZ_EXAMPLES examples per target (default 400, about 10 s
in all); a long run is ``FASTDROP_FUZZ_EXAMPLES=10000 pytest tests/test_fuzz_api.py`` (10 min).
The number of executions is printed at the end of the run (tests/conftest.py) and, with
FASTDROP_FUZZ_LOG=path, appended there as JSON.
"""

from __future__ import annotations

import collections
import copy
import fractions
import itertools
import math
import os
import pickle
import warnings

import numpy as np
import pytest
import reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import (
    FLOATS,
    allocate,
    assert_same_bits,
    bits,
    ids_view,
    keys,
    shapes,
    values,
    view_specs,
)

import fastdrop
from fastdrop import nn

MAX_EXAMPLES = int(os.environ.get("FASTDROP_FUZZ_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXECUTIONS: collections.Counter[str] = collections.Counter()
MAX_ELEMENTS = 700
# A file name per memmap: Windows cannot truncate a file that a live map (one an example that
# failed keeps in a reference cycle until the next collection) still holds.
_MEMMAP_NAMES = (f"x{i}.dat" for i in itertools.count())
U64 = 1 << 64


def _count(name: str) -> None:
    EXECUTIONS[name] += 1


def _blocks(n: int) -> int:
    return -(-n // 128)


def _matrix(array):
    """An np.matrix view of a 2-d array (without NumPy's warning that matrix is discouraged)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(array)


# ---------------------------------------------------------------------------------------------
# Arguments, each drawn with what a correct fastdrop must do with it: None when valid, else the
# exception class it documents.

VALID_P = st.one_of(
    st.floats(0.0, 1.0),
    st.sampled_from([0.0, 1.0, 0.5, 2.0**-32, 1 - 2.0**-32, 0, 1]),
    st.floats(0.0, 1.0, width=32).map(np.float32),
    st.sampled_from([np.float64(0.25), np.int64(0), np.uint8(1), fractions.Fraction(1, 3)]),
    st.floats(0.0, 1.0).map(np.array),  # 0-d, as a ufunc takes it
)
# A real number outside [0, 1] is a ValueError, any other type (a bool too) a TypeError.
BAD_P = st.one_of(
    st.sampled_from(
        [
            -0.1,
            1.1,
            -1e-300,
            1 + 2**-52,
            2,
            -1,
            math.nan,
            math.inf,
            -math.inf,
            np.float32(np.nan),
            np.int64(-1),
            10**400,
            fractions.Fraction(-1, 3),
        ]
    ).map(lambda p: (p, ValueError)),
    st.sampled_from(
        ["0.5", "", None, 1j, True, np.bool_(False), [0.5], (0.5,), np.array(True), np.ones(3)]
    ).map(lambda p: (p, TypeError)),
)


@st.composite
def probabilities(draw):
    if draw(st.integers(0, 9)) == 0:
        return draw(BAD_P)
    return draw(VALID_P), None


BAD_RNG = st.sampled_from(
    [
        (1.5, TypeError),
        (1.0, TypeError),
        ("42", TypeError),
        (b"1", TypeError),
        (True, TypeError),
        (np.bool_(False), TypeError),
        ([1, 2], TypeError),
        (np.array(5), TypeError),
        (np.random.RandomState(0), TypeError),
        ((1, 0), TypeError),  # a (key, offset) tuple is no Draw
        (fastdrop.Draw, TypeError),
        (-1, ValueError),
        (2**64, ValueError),
        (2**70, ValueError),
        (np.int64(-5), ValueError),
    ]
)
OFFSETS = st.one_of(
    st.integers(0, 2**20),
    st.sampled_from([2**32 - 1, 2**32 - 2, 2**64 - 1, 2**64 - 2, 2**64 - 5]),
    st.integers(0, 2**64 - 1),
)


class Rng:
    """An rng argument, what it must make the call do, and how to check it afterwards.

    Where the key is known, the oracle's expected result is computed from (key, offset): a
    match proves the call used exactly those counters."""

    def __init__(self, value, error=None, kind="int"):
        self.value, self.error, self.kind = value, error, kind
        self.offset = value.offset if kind in ("philox", "draw") else 0
        self.counters = tuple(value) if kind == "draw" else None
        self.state = copy.deepcopy(value.bit_generator.state) if kind == "generator" else None

    @property
    def key(self):
        """The key of the call, if the test can know it before the call."""
        if self.kind == "int":
            return int(self.value)
        return self.value.key if self.kind in ("philox", "draw") else None

    def __repr__(self):
        return f"Rng({self.value!r}, {self.error}, offset={self.offset})"

    def exhausted(self):
        return self.kind == "philox" and self.offset >= U64

    def check_untouched(self):
        if self.kind == "philox":
            assert self.value.offset == self.offset
        if self.kind == "draw":
            assert tuple(self.value) == self.counters
        if self.kind == "generator":
            assert self.value.bit_generator.state == self.state

    def check_consumed(self, n):
        """After a successful call that drew a mask or variates for n elements."""
        if self.kind == "philox":
            assert self.value.offset == self.offset + _blocks(n)
        elif self.kind == "draw":  # a value: used as it is, again and again
            assert tuple(self.value) == self.counters
        elif self.kind == "generator":
            assert self.value.bit_generator.state != self.state


@st.composite
def rngs(draw):
    choice = draw(st.integers(0, 12))
    if choice <= 3:
        return Rng(draw(keys))
    if choice == 4:
        return Rng(draw(st.sampled_from([np.uint64(2**64 - 1), np.int64(7), np.uint32(3)])))
    if choice <= 7:
        stream = fastdrop.Philox(draw(keys), offset=draw(OFFSETS))
        if draw(st.integers(0, 9)) == 0:  # exhaust it: past 2**64 - 1
            stream = fastdrop.Philox(stream.key, offset=2**64 - 1)
            stream.draw(draw(st.integers(1, 300)))
        return Rng(stream, kind="philox")
    if choice == 8:
        return Rng(None, kind="none")
    if choice == 9:
        return Rng(np.random.default_rng(draw(st.integers(0, 2**32))), kind="generator")
    if choice == 10:  # a Draw never runs out: its counters are 96-bit, as a stream's
        return Rng(fastdrop.Draw(draw(keys), draw(OFFSETS)), kind="draw")
    value, error = draw(BAD_RNG)
    return Rng(value, error, kind="bad")


BAD_DTYPES = [
    np.int8,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.bool_,
    np.complex64,
    np.complex128,
    np.object_,
    "U3",
    "datetime64[s]",
]


class Operand:
    """An x or out argument: the object passed, the buffer it lives in (to prove what was and
    was not written), the flat buffer index of each of its elements, and its array view."""

    def __init__(self, obj, base=None, ids=None):
        self.obj, self.base, self.ids = obj, base, ids
        self.base_before = None if base is None else base.copy()

    @property
    def array(self):
        return np.asarray(self.obj)

    def __repr__(self):
        return f"Operand({type(self.obj).__name__}, {self.array.dtype}, {self.array.shape})"


@st.composite
def float_views(draw, shape, dtype, *, writeable=True):
    """A float view (any byte order, strides, transposes, alignment) with a marker around it."""
    spec = draw(view_specs(len(shape)))
    need = spec.need(shape)
    base = allocate(dtype, need, draw(st.booleans()))
    view = spec.apply(base, shape)
    view[...] = values(dtype, math.prod(shape), draw(st.integers(0, 2**32 - 1))).reshape(shape)
    if not writeable:
        base.flags.writeable = False
        view = spec.apply(base, shape)
    return view, base, ids_view(spec, need, shape)


@st.composite
def xs(draw, tmp_dir, shape):
    """x: (Operand, expected error). Valid: float arrays in any layout, subclasses, array-likes."""
    kind = draw(
        st.sampled_from(
            ["view"] * 8 + ["masked", "matrix", "memmap", "list", "scalar", "dunder", "bad"]
        )
    )
    dtype = draw(st.sampled_from(FLOATS))
    n = math.prod(shape)
    if kind == "view":
        dtype = dtype.newbyteorder(draw(st.sampled_from(["=", "=", ">", "<"])))
        view, base, ids = draw(float_views(shape, dtype, writeable=draw(st.integers(0, 5)) > 0))
        return Operand(view, base, ids), None
    data = values(dtype, n, draw(st.integers(0, 2**32 - 1))).reshape(shape)
    if kind == "masked":
        mask = np.random.default_rng(n).random(shape) < 0.5
        return Operand(np.ma.masked_array(data, mask=mask)), None
    if kind == "matrix" and len(shape) == 2:
        return Operand(_matrix(data)), None
    if kind == "memmap" and n:
        path = os.path.join(tmp_dir, next(_MEMMAP_NAMES))
        mapped = np.memmap(path, dtype=dtype, mode="w+", shape=shape)
        mapped[...] = data
        return Operand(mapped), None
    if kind == "list" and n:  # an empty nested list would lose its shape
        with np.errstate(invalid="ignore"):  # signalling NaNs become quiet
            as_list = data.astype(np.float64).tolist()
        return Operand(tuple(as_list) if len(shape) == 1 else as_list), None
    if kind == "scalar" and shape == ():
        return Operand(draw(st.sampled_from([float(data), data[()]]))), None
    if kind == "dunder":

        class ArrayLike:
            def __array__(self, dtype=None, copy=None):
                return data if dtype is None else data.astype(dtype)

        return Operand(ArrayLike()), None
    if shape == () and draw(st.booleans()):
        return Operand(draw(st.sampled_from([3, True, 1j, "1.0", None]))), TypeError
    bad = np.zeros(shape, draw(st.sampled_from(BAD_DTYPES)))
    if draw(st.booleans()) and bad.dtype.kind in "iub" and bad.size:  # [] would be float64
        return Operand(bad.tolist() if shape else bad.item()), TypeError
    return Operand(bad, bad, np.arange(bad.size)), TypeError


@st.composite
def outs(draw, x, shape):
    """out: (Operand or None, expected error), given x."""
    kind = draw(st.sampled_from(["none"] * 3 + ["fresh"] * 3 + ["x", "overlap", "bad"]))
    dtype = x.array.dtype
    native = dtype.newbyteorder("=") if dtype.kind == "f" else np.dtype(np.float64)
    if kind == "none":
        return None, None
    if kind == "x":
        if not isinstance(x.obj, np.ndarray):
            return x, TypeError
        if x.array.dtype != native:
            return x, TypeError
        return x, None if x.obj.flags.writeable else ValueError
    if kind == "overlap" and x.base is not None and x.base.dtype == native:
        spec = draw(view_specs(len(shape)))
        base = x.base
        if all(a <= b for a, b in zip(spec.need(shape), base.shape, strict=False)):
            view = spec.apply(base, shape)
            return Operand(view, base, ids_view(spec, base.shape, shape)), (
                None if view.flags.writeable else ValueError
            )
    if kind == "bad":
        choice = draw(st.integers(0, 5))
        if choice == 0:
            return Operand(np.zeros((*shape, 2), native)), ValueError
        if choice == 1:
            other = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int32]))
            if np.dtype(other) != native:
                return Operand(np.zeros(shape, other)), TypeError
        if choice == 2 and native.itemsize > 1:
            return Operand(np.zeros(shape, native.newbyteorder("S"))), TypeError
        if choice == 3:
            return Operand(np.broadcast_to(np.zeros((), native), shape)), ValueError
        if choice == 4:
            return Operand(np.zeros(shape, native).tolist()), TypeError
        if choice == 5:
            mapped = np.zeros(shape, native)
            mapped.flags.writeable = False
            return Operand(mapped), ValueError
    view, base, ids = draw(float_views(shape, native))
    if draw(st.integers(0, 4)) == 0 and len(shape) == 2:
        return Operand(_matrix(view), base, ids), None
    return Operand(view, base, ids), None


def _check_raises(expected_errors, call):
    """call() raises one of the expected exception classes, with a message."""
    with pytest.raises(tuple(expected_errors)) as info:
        call()
    assert isinstance(info.value, tuple(expected_errors)), (info.value, expected_errors)
    assert str(info.value)


def _check_rejected(expected_errors, call, x, x_before, out, rng):
    """call() raises one of the expected errors, and nothing was written or drawn."""
    _check_raises(expected_errors, call)
    assert x.array.tobytes() == x_before.tobytes()
    _check_written_only(x)
    _check_written_only(out)
    rng.check_untouched()


def _check_written_only(operand, result=None):
    """Outside its elements, operand's buffer is untouched; with result, its elements hold it."""
    if operand is None or operand.base is None:
        return
    if result is None:
        assert operand.base.tobytes() == operand.base_before.tobytes()
        return
    written = np.zeros(operand.base.size, bool)
    written[operand.ids.reshape(-1)] = True
    assert np.array_equal(bits(operand.base)[~written], bits(operand.base_before)[~written])


def _check_layout_of_x(result, x):
    """A result fastdrop allocated is a base-class ndarray laid out as x (NumPy's order="K"):
    the strides of np.empty_like(x), on the axes where a stride means something (extent > 1)."""
    assert type(result) is np.ndarray
    array = x if isinstance(x, np.ndarray) else x.array
    expected = np.empty_like(array, dtype=result.dtype).strides
    if result.size:
        axes = [d for d, n in enumerate(result.shape) if n > 1]
        assert [result.strides[d] for d in axes] == [expected[d] for d in axes]


def _either_kept_or_dropped(y, x, p, training, mode):
    """Each element of y is x's kept value or +0.0: the check for an unknown (random) key."""
    kept = reference.dropout(x, p, np.ones(x.shape, bool), training=training, mode=mode)
    dropped = reference.dropout(x, p, np.zeros(x.shape, bool), training=training, mode=mode)
    y_bits, kept_bits = bits(y), bits(kept)
    is_kept = (y_bits == kept_bits) | (np.isnan(y).reshape(-1) & np.isnan(kept).reshape(-1))
    assert np.all(is_kept | (y_bits == bits(dropped))), "an element neither kept nor dropped"
    return (y.reshape(-1) != 0) | is_kept


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzz"))


# ---------------------------------------------------------------------------------------------
# fastdrop.dropout


@FUZZ
@given(data=st.data())
def test_fuzz_dropout(tmp_dir, data):
    _count("dropout")
    shape = data.draw(shapes(MAX_ELEMENTS))
    x, x_error = data.draw(xs(tmp_dir, shape))
    out, out_error = data.draw(outs(x, shape)) if x_error is None else (None, None)
    p, p_error = data.draw(probabilities())
    rng = data.draw(rngs())
    training = data.draw(st.sampled_from([True, True, False, np.bool_(True), 1, None]))
    mode = data.draw(st.sampled_from(["inverted", "vanilla", "inverted", "Inverted", None]))
    return_mask = data.draw(st.sampled_from([False, False, True, np.bool_(True), 0]))

    errors = {x_error, out_error, p_error, rng.error}
    if not isinstance(training, (bool, np.bool_)) or not isinstance(return_mask, (bool, np.bool_)):
        errors.add(TypeError)
    if not isinstance(mode, str):
        errors.add(TypeError)
    elif mode not in ("inverted", "vanilla"):
        errors.add(ValueError)
    if training and rng.exhausted():
        errors.add(ValueError)
    errors.discard(None)

    x_before = np.array(x.array, copy=True)
    kwargs = {"rng": rng.value, "training": training, "mode": mode, "return_mask": return_mask}
    if out is not None:
        kwargs["out"] = out.obj
    if errors:
        _check_rejected(errors, lambda: fastdrop.dropout(x.obj, p, **kwargs), x, x_before, out, rng)
        return

    result = fastdrop.dropout(x.obj, p, **kwargs)
    y, y_mask = result if return_mask else (result, None)
    p = float(p)
    if out is not None:
        assert y is out.obj
    else:
        _check_layout_of_x(y, x)
    if y_mask is not None:
        _check_layout_of_x(y_mask, x)
    y = np.asarray(y)
    if training and rng.key is not None:
        mask = reference.keep_mask(rng.key, rng.offset, shape, p)
    elif training:
        mask = _either_kept_or_dropped(y, x_before, p, training, mode).reshape(shape)
        if y_mask is not None:
            mask = y_mask
    else:
        mask = np.ones(shape, bool)
    assert_same_bits(y, reference.dropout(x_before, p, mask, training=training, mode=mode))
    if y_mask is not None:
        assert y_mask.dtype == np.bool_ and np.array_equal(y_mask, mask)
    if training:
        rng.check_consumed(x_before.size)
    else:
        rng.check_untouched()
    _check_written_only(out, y)
    if out is None or not np.may_share_memory(x.array, out.array):
        assert x.array.tobytes() == x_before.tobytes()
        if out is None or out.base is not x.base:  # else out's check covered the shared buffer
            _check_written_only(x)


# ---------------------------------------------------------------------------------------------
# fastdrop.gaussian_dropout


@FUZZ
@given(data=st.data())
def test_fuzz_gaussian_dropout(tmp_dir, data):
    _count("gaussian_dropout")
    shape = data.draw(shapes(MAX_ELEMENTS))
    x, x_error = data.draw(xs(tmp_dir, shape))
    out, out_error = data.draw(outs(x, shape)) if x_error is None else (None, None)
    p, p_error = data.draw(probabilities())
    rng = data.draw(rngs())
    training = data.draw(st.sampled_from([True, True, False, 1]))

    errors = {x_error, out_error, p_error, rng.error}
    if p_error is None and float(p) == 1.0:
        errors.add(ValueError)  # infinite variance
    if not isinstance(training, bool):
        errors.add(TypeError)
    draws = training is True and p_error is None  # p = 0 too: its counters, as in dropout
    noisy = draws and float(p) != 0.0
    if draws and rng.exhausted():
        errors.add(ValueError)
    errors.discard(None)

    x_before = np.array(x.array, copy=True)
    kwargs = {"rng": rng.value, "training": training}
    if out is not None:
        kwargs["out"] = out.obj
    if errors:
        _check_rejected(
            errors, lambda: fastdrop.gaussian_dropout(x.obj, p, **kwargs), x, x_before, out, rng
        )
        return

    y = fastdrop.gaussian_dropout(x.obj, p, **kwargs)
    if out is not None:
        assert y is out.obj
    else:
        _check_layout_of_x(y, x)
    y = np.asarray(y)
    native = x_before.dtype.newbyteorder("=")
    if not noisy:
        assert_same_bits(y, x_before.astype(native))
        if draws:
            rng.check_consumed(x_before.size)
        else:
            rng.check_untouched()
    else:
        # x * (1 + sqrt(p / (1 - p)) z), in float64 for float64 x and float32 otherwise, with z
        # the standard normals of the call's (key, offset) (checked by test_fuzz_standard_normal)
        work = np.float64 if native == np.float64 else np.float32
        if rng.key is None:  # unknown key: the noise y / x is at least finite where x is
            assert y.shape == shape and y.dtype == native
        else:
            z = fastdrop.standard_normal(
                shape, rng=fastdrop.Philox(rng.key, offset=rng.offset), dtype=work
            )
            noise = work(1) + work(math.sqrt(float(p) / (1 - float(p)))) * z
            with np.errstate(all="ignore"):
                expected = (x_before.astype(work) * noise).astype(native)
            assert_same_bits(y, expected)
        rng.check_consumed(x_before.size)
    _check_written_only(out, y)
    if out is None or not np.may_share_memory(x.array, out.array):
        assert x.array.tobytes() == x_before.tobytes()


@pytest.mark.parametrize(("x_slice", "out_slice"), [((0, 4, 1), (0, 8, 2)), ((1, 5, 1), (0, 7, 2))])
@pytest.mark.parametrize("kwargs", [{"p": 0.0}, {"p": 0.5, "training": False}])
def test_gaussian_dropout_identity_into_an_overlapping_out(x_slice, out_slice, kwargs):
    """Found by the long fuzz: the identity case copied x into an out that overlaps it with
    other strides through np.copyto, which overwrote elements of x before reading them."""
    base = np.arange(10, dtype=np.float32)
    x, out = base[slice(*x_slice)], base[slice(*out_slice)]
    expected = x.copy()
    assert fastdrop.gaussian_dropout(x, rng=1, out=out, **kwargs) is out
    assert np.array_equal(out, expected)


# ---------------------------------------------------------------------------------------------
# dropout_mask and standard_normal: shape arguments


@st.composite
def shape_args(draw, max_elements):
    """A shape argument in any accepted spelling, or a bad one: (argument, dims, error)."""
    choice = draw(st.integers(0, 9))
    if choice <= 5:
        dims = draw(shapes(max_elements))
        spelling = draw(st.sampled_from(["tuple", "list", "numpy", "array", "int"]))
        if spelling == "int" and len(dims) == 1:
            return dims[0], dims, None
        if spelling == "numpy":
            return tuple(np.int64(d) for d in dims), dims, None
        if spelling == "array":
            return np.array(dims, np.intp), dims, None
        return (list(dims) if spelling == "list" else dims), dims, None
    if choice == 6:  # empty with a huge extent: valid, nothing to draw
        dims = draw(st.permutations([0, draw(st.integers(2**20, 2**40))]))
        return tuple(dims), tuple(dims), None
    if choice == 7:
        return draw(st.sampled_from([-1, (2, -3), [-5], (0, -1), np.int64(-2)])), None, ValueError
    if choice == 8:
        bad = [2.0, (2, 3.0), "ab", None, [2.5], (2, None), 1j, np.float64(3), {"a": 1}]
        return draw(st.sampled_from(bad)), None, TypeError
    # more elements than memory can hold: NumPy refuses to allocate (ValueError if the byte
    # count passes 2**63, else MemoryError), before any randomness is drawn
    huge = draw(st.sampled_from([(2**40, 2**40), (2**63,), (2**35, 2**35, 2**35), 2**64, 2**62]))
    return huge, None, MemoryError


@FUZZ
@given(data=st.data())
def test_fuzz_dropout_mask(data):
    _count("dropout_mask")
    shape, dims, shape_error = data.draw(shape_args(2000))
    p, p_error = data.draw(probabilities())
    rng = data.draw(rngs())
    packed = data.draw(st.sampled_from([False, True, np.bool_(True), 1, None]))
    errors = {shape_error, p_error, rng.error}
    if shape_error is MemoryError:
        errors.add(ValueError)
    if not isinstance(packed, (bool, np.bool_)):
        errors.add(TypeError)
    if rng.exhausted():
        errors.add(ValueError)
    errors.discard(None)
    if errors:
        _check_raises(errors, lambda: fastdrop.dropout_mask(shape, p, rng=rng.value, packed=packed))
        rng.check_untouched()
        return
    mask = fastdrop.dropout_mask(shape, p, rng=rng.value, packed=packed)
    n = math.prod(dims)
    if rng.key is None:
        expected = np.unpackbits(mask, count=n, bitorder="little") if packed else mask
        expected = expected.astype(bool).reshape(dims)
    else:
        expected = reference.keep_mask(rng.key, rng.offset, dims, float(p))
    if packed:
        assert mask.dtype == np.uint8 and mask.shape == ((n + 7) // 8,)
        assert np.array_equal(mask, np.packbits(expected.reshape(-1), bitorder="little"))
    else:
        assert mask.dtype == np.bool_ and mask.shape == dims
        assert np.array_equal(mask, expected)
    rng.check_consumed(n)


@FUZZ
@given(data=st.data())
def test_fuzz_standard_normal(data):
    _count("standard_normal")
    shape, dims, shape_error = data.draw(shape_args(400))
    rng = data.draw(rngs())
    dtype, dtype_error = data.draw(
        st.sampled_from(
            [
                (np.float64, None),
                (np.float32, None),
                ("f4", None),
                (None, None),
                (np.float16, TypeError),
                (">f8", TypeError),
                (np.int32, TypeError),
                (complex, TypeError),
                ("junk", TypeError),
            ]
        )
    )
    errors = {shape_error, rng.error, dtype_error}
    if shape_error is MemoryError:
        errors.add(ValueError)
    if rng.exhausted():
        errors.add(ValueError)
    errors.discard(None)
    if errors:
        _check_raises(errors, lambda: fastdrop.standard_normal(shape, rng=rng.value, dtype=dtype))
        rng.check_untouched()
        return
    z = fastdrop.standard_normal(shape, rng=rng.value, dtype=dtype)
    assert z.shape == dims and z.dtype == np.dtype(dtype)
    n = z.size
    rng.check_consumed(n)
    if rng.key is None:
        assert np.all(np.isfinite(z))
        return
    z64 = reference.standard_normal(rng.key, rng.offset, n).reshape(dims)
    if z.dtype == np.float64:
        np.testing.assert_allclose(z, z64, rtol=1e-13, atol=1e-14)
    else:  # the float64 variate rounded once
        replay = fastdrop.standard_normal(dims, rng=fastdrop.Philox(rng.key, offset=rng.offset))
        np.testing.assert_array_equal(z, replay.astype(np.float32))
        np.testing.assert_allclose(replay, z64, rtol=1e-13, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# Philox and philox4x32


SEEDS = st.one_of(
    keys.map(lambda k: (k, None)),
    st.sampled_from([None, np.uint64(2**64 - 1), np.int8(5)]).map(lambda k: (k, None)),
    st.sampled_from([-1, 2**64, np.int8(-1)]).map(lambda k: (k, ValueError)),
    st.sampled_from([1.5, 1.0, "1", True, np.float64(3), b"1"]).map(lambda k: (k, TypeError)),
)


@FUZZ
@given(
    seed=SEEDS,
    offset=st.one_of(
        OFFSETS.map(lambda o: (o, None)),
        st.sampled_from([-1, 2**64, 2**65]).map(lambda o: (o, ValueError)),
        st.sampled_from([1.5, None, False, "0"]).map(lambda o: (o, TypeError)),
    ),
    sizes=st.lists(
        st.one_of(
            st.integers(0, 1000),
            st.integers(2**60, 2**64 - 1),  # a size whose blocks run a stream out
            st.sampled_from([-1, 1.5, "3", None]),
        ),
        max_size=6,
    ),
)
def test_fuzz_philox_stream(seed, offset, sizes):
    _count("Philox")
    (seed, seed_error), (offset, offset_error) = seed, offset
    errors = {seed_error, offset_error} - {None}
    if errors:
        _check_raises(errors, lambda: fastdrop.Philox(seed, offset=offset))
        return
    stream = fastdrop.Philox(seed, offset=offset)
    key = stream.key
    if seed is not None:
        assert key == int(seed)
    position = int(offset)  # the model: the next block
    for size in sizes:
        bad = (
            TypeError
            if not isinstance(size, int)
            else ValueError
            if size < 0 or position >= U64
            else None
        )
        if bad:
            _check_raises({bad}, lambda size=size: stream.draw(size))
        else:
            draw = stream.draw(size)
            assert type(draw) is fastdrop.Draw
            assert draw == fastdrop.Draw(key, position)
            assert hash(draw) == hash(fastdrop.Draw(key, position))
            assert tuple(draw) == (draw.key, draw.offset) == (key, position)
            assert draw != (key, position)  # equal only to another Draw
            assert pickle.loads(pickle.dumps(draw)) == draw
            position += _blocks(size)
        assert stream.offset == position
    assert repr(stream) == f"fastdrop.Philox({key}, offset={position})"


@FUZZ
@given(
    counters=st.lists(
        st.lists(st.integers(0, 2**32 - 1), min_size=4, max_size=4), min_size=0, max_size=5
    ),
    key=st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2),
    spelling=st.sampled_from(["list", "uint32", "int64", "uint64"]),
)
def test_fuzz_philox4x32(counters, key, spelling):
    _count("philox4x32")
    array = np.array(counters, dtype=np.uint64).reshape(-1, 4)
    argument = array.astype(np.uint32 if spelling == "list" else spelling)
    if spelling == "list" and counters:
        argument = counters
    result = fastdrop.philox4x32(argument, key)
    assert result.dtype == np.uint32 and result.shape == array.shape
    assert np.array_equal(result, reference.philox4x32_10(array, key))


# ---------------------------------------------------------------------------------------------
# nn dropout layers: forward and backward


LAYERS = {
    "Dropout": (lambda p, s: nn.Dropout(p, rng=s), None),
    "Dropout vanilla": (lambda p, s: nn.Dropout(p, mode="vanilla", rng=s), None),
    "Dropout axes": (lambda p, s: nn.Dropout(p, rng=s, axes=(0, -1)), None),
    "Dropout1d": (lambda p, s: nn.Dropout1d(p, rng=s), 1),
    "Dropout2d": (lambda p, s: nn.Dropout2d(p, rng=s), 2),
    "Dropout3d": (lambda p, s: nn.Dropout3d(p, rng=s), 3),
    "AlphaDropout": (lambda p, s: nn.AlphaDropout(p, rng=s), None),
    "GaussianDropout": (lambda p, s: nn.GaussianDropout(p, rng=s), None),
}


def _layer_mask_shape(name, shape):
    if name == "Dropout axes":
        return tuple(1 if d in (0, len(shape) - 1) else n for d, n in enumerate(shape))
    k = LAYERS[name][1]
    if k is None:
        return shape
    return tuple(n if d < len(shape) - k else 1 for d, n in enumerate(shape))


def _layer_expected(name, layer, x, mask, key, offset, training):
    """What forward(x), or backward(x) as a gradient, must give (x native)."""
    p = layer.p
    if name.startswith("Dropout"):
        mode = getattr(layer, "mode", "inverted")
        return reference.dropout(x, p, np.broadcast_to(mask, x.shape), training=training, mode=mode)
    if not training or p == 0.0:
        return x
    if name == "GaussianDropout":
        return fastdrop.gaussian_dropout(x, p, rng=fastdrop.Philox(key, offset=offset))
    return None  # AlphaDropout: checked against its affine formula by the caller


@FUZZ
@given(data=st.data())
def test_fuzz_layers(data):
    _count("nn layers")
    name = data.draw(st.sampled_from(sorted(LAYERS)))
    k = LAYERS[name][1]
    if k is None:
        shape = data.draw(shapes(MAX_ELEMENTS))
        if name == "Dropout axes" and not shape:
            shape = (3,)
    else:
        extra = data.draw(st.integers(1, 2))
        sides = st.lists(st.integers(0, 5), min_size=k + extra, max_size=k + extra)
        shape = tuple(data.draw(sides))
    upper = name.startswith("Dropout")
    p = data.draw(st.floats(0.0, 1.0, exclude_max=not upper))
    key, offset = data.draw(keys), data.draw(OFFSETS.filter(lambda o: o < 2**64 - 2**20))
    stream = fastdrop.Philox(key, offset=offset)
    layer = LAYERS[name][0](p, stream)
    training = data.draw(st.booleans())
    if not training:
        layer.eval()
    dtype = data.draw(st.sampled_from(FLOATS)).newbyteorder(data.draw(st.sampled_from("=><")))
    x, _, _ = data.draw(float_views(shape, dtype))
    x_before = x.copy()
    native = x_before.astype(dtype.newbyteorder("="))
    mask_shape = _layer_mask_shape(name, shape)
    uses_noise = training and (upper or p > 0.0)
    mask = (
        reference.keep_mask(key, offset, mask_shape, p) if uses_noise else np.ones(mask_shape, bool)
    )

    bad = np.zeros(shape, data.draw(st.sampled_from([np.int32, np.bool_, np.complex64])))
    if upper or uses_noise:  # every Dropout rejects a non-float x; the others when they add noise
        _check_raises({TypeError}, lambda: layer.forward(bad))
        assert stream.offset == offset and layer.last_draw is None

    y = layer.forward(x)
    assert x.tobytes() == x_before.tobytes()
    expected = _layer_expected(name, layer, native, mask, key, offset, training)
    if name == "AlphaDropout" and expected is None:  # a y + b in x's dtype, y = x or saturation
        typed = native.dtype.type
        with np.errstate(all="ignore"):
            y_model = typed(layer.a) * np.where(mask, native, typed(layer.saturation))
            y_model += typed(layer.b)
            expected = y_model.astype(native.dtype)
    assert_same_bits(np.asarray(y).astype(native.dtype), expected)
    _check_layout_of_x(y, x)
    if uses_noise:
        assert layer.last_draw == fastdrop.Draw(key, offset)
        assert stream.offset == offset + _blocks(math.prod(mask_shape))
    else:
        assert layer.last_draw is None
        assert stream.offset == offset

    grad, _, _ = data.draw(float_views(shape, dtype))
    grad_native = grad.astype(dtype.newbyteorder("="))
    position = stream.offset
    g = layer.backward(grad)
    assert stream.offset == position  # backward replays, it never draws
    if not np.shares_memory(g, grad):  # AlphaDropout's identity returns grad itself
        _check_layout_of_x(g, grad)
    if name == "AlphaDropout" and uses_noise:
        with np.errstate(all="ignore"):
            a = np.asarray(layer.a, grad_native.dtype)
            expected = np.where(mask, grad_native * a, 0).astype(grad_native.dtype)
    elif name == "AlphaDropout":
        expected = grad_native
    else:
        expected = _layer_expected(name, layer, grad_native, mask, key, offset, training)
    assert_same_bits(np.asarray(g).astype(grad_native.dtype), expected)
