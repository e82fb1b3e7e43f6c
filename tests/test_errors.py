"""Every error path: the right exception and message, raised before anything is written and
before any randomness is consumed (a Generator is not advanced, a Philox stream does not move)."""

from __future__ import annotations

import copy
import re
from fractions import Fraction

import numpy as np
import pytest

import fastdrop
from fastdrop import nn

ACCEPTED = "float16, float32, float64 or bfloat16"  # what fastdrop.dropout takes


class State:
    """x, out, a Generator and a Philox stream, with copies to prove that a failed call touched
    none of them."""

    def __init__(self, dtype=np.float32, shape=(40, 50)):
        self.x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
        self.out = np.full(shape, 7.0, dtype)
        self.generator = np.random.default_rng(1)
        self.stream = fastdrop.Philox(2, offset=3)
        self.x_before = self.x.copy()
        self.out_before = self.out.copy()
        self.generator_before = copy.deepcopy(self.generator)

    def check_untouched(self):
        assert self.x.tobytes() == self.x_before.tobytes()
        assert self.out.tobytes() == self.out_before.tobytes()
        assert self.generator.integers(2**63) == self.generator_before.integers(2**63)
        assert self.stream.offset == 3


def rngs(state):
    return [state.generator, state.stream, fastdrop.Draw(2, 3)]


def expect_dropout_error(exception, match, *, state=None, x=None, **kwargs):
    """dropout(x, **kwargs) raises, with out given (or out=x), with both kinds of stateful rng and
    with a Draw, and writes/draws nothing."""
    for use_out in ("out", "x", None):
        for rng_index in range(3):
            s = state or State()
            arg = s.x if x is None else x
            call = dict(kwargs)
            call.setdefault("rng", rngs(s)[rng_index])
            if use_out == "out":
                call.setdefault("out", s.out)
            elif use_out == "x":
                call.setdefault("out", arg)
            with pytest.raises(exception, match=match):
                fastdrop.dropout(arg, **call)
            s.check_untouched()
            if state is not None:
                return


# A real number outside [0, 1] is a ValueError; anything else (not a real number, or a bool) a
# TypeError. The message names p, the rule and the value, a huge one by its size.
P_RANGE = r"p must be in \[0, 1\] \(the drop probability\), got "
P_TYPE = r"p must be a real number \(the drop probability\), got "
BAD_P = [
    -0.1,
    1.1,
    -1e-300,
    1.0 + 2**-52,
    2.0,
    -1,
    2,
    float("nan"),
    float("inf"),
    float("-inf"),
    np.float32(np.nan),
    np.float64(1.5),
    np.int64(-1),
    10**400,  # beyond the floats: float(p) overflows
    -(10**400),
    Fraction(10**400, 3),
    np.array(1.5),
]
BAD_P_TYPE = [
    "0.5",
    "",
    None,
    1j,
    complex(0.5, 0),
    True,
    False,
    np.bool_(True),
    [0.5],
    (0.5,),
    np.array([0.5]),
    np.array(True),
    np.array("0.5"),
    b"0.5",
]


def _shown(p):
    """p as the error message shows it: its repr, a huge int by its digits, a long repr cut."""
    if isinstance(p, int) and abs(p) > 2**128:
        return f"an int of about {len(str(abs(p)))} digits"
    text = repr(p)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad_p_error(p):
    """(exception, message pattern) that a bad p must raise."""
    if any(p is bad for bad in BAD_P_TYPE):
        return TypeError, P_TYPE + re.escape(f"{type(p).__name__} {_shown(p)}") + "$"
    return ValueError, P_RANGE + re.escape(_shown(p)) + "$"


def test_huge_p_is_shown_short():
    assert _shown(10**400) == "an int of about 401 digits"
    assert _shown(-(10**400)) == "an int of about 401 digits"
    assert _shown(Fraction(10**400, 3)) == "Fraction(1" + "0" * 47 + "..."


@pytest.mark.parametrize("p", BAD_P + BAD_P_TYPE, ids=repr)
@pytest.mark.parametrize("training", [True, False])
def test_dropout_bad_p(p, training):
    exception, match = _bad_p_error(p)
    expect_dropout_error(exception, match, p=p, training=training)
    assert re.search(match, _message(exception, fastdrop.dropout, np.ones(3), p))


@pytest.mark.parametrize("p", BAD_P + BAD_P_TYPE, ids=repr)
def test_dropout_mask_bad_p(p):
    exception, match = _bad_p_error(p)
    generator = np.random.default_rng(3)
    before = copy.deepcopy(generator)
    stream = fastdrop.Philox(4)
    for rng in (generator, stream, 5, None, fastdrop.Draw(4, 0)):
        with pytest.raises(exception, match=match):
            fastdrop.dropout_mask((10, 10), p, rng=rng)
        with pytest.raises(exception, match=match):
            fastdrop.dropout_mask(100, p, rng=rng, packed=True)
    assert generator.random() == before.random()
    assert stream.offset == 0


MODE = r"mode must be 'inverted' or 'vanilla', got "


P_BELOW_ONE = re.escape(
    "p must be in [0, 1) (the drop probability; at 1 the scale 1 / (1 - p) or the variance "
    "p / (1 - p) is infinite), got "
)
RATES_IN_0_1 = {
    "Dropout": lambda p: nn.Dropout(p, rng=1),
    "Dropout1d": lambda p: nn.Dropout1d(p, rng=1),
    "Dropout2d": lambda p: nn.Dropout2d(p, rng=1),
    "Dropout3d": lambda p: nn.Dropout3d(p, rng=1),
}
RATES_BELOW_1 = {
    "gaussian_dropout": lambda p: fastdrop.gaussian_dropout(np.ones(3), p, rng=1),
    "AlphaDropout": lambda p: nn.AlphaDropout(p, rng=1),
    "GaussianDropout": lambda p: nn.GaussianDropout(p, rng=1),
    "MLP": lambda p: nn.MLP([2, 3, 2], dropout=[0.0, p]),
}


@pytest.mark.parametrize("p", BAD_P + BAD_P_TYPE, ids=repr)
def test_every_rate_follows_the_rule_of_dropout(p):
    """The same bad p gives the same exception and message wherever a rate is taken; where p
    must be below 1, only the rule's text differs."""
    exception, match = _bad_p_error(p)
    for make in RATES_IN_0_1.values():
        with pytest.raises(exception, match=match):
            make(p)
    below_one = match if exception is TypeError else match.replace(P_RANGE, P_BELOW_ONE)
    for make in RATES_BELOW_1.values():
        with pytest.raises(exception, match=below_one):
            make(p)


@pytest.mark.parametrize("p", [1, 1.0, np.float32(1), np.float64(1), np.int64(1), Fraction(1)])
@pytest.mark.parametrize("name", sorted(RATES_BELOW_1))
def test_rate_of_one_where_the_scale_is_infinite(name, p):
    with pytest.raises(ValueError, match=P_BELOW_ONE + re.escape(repr(p)) + "$"):
        RATES_BELOW_1[name](p)
    for make in RATES_IN_0_1.values():  # drops everything: valid
        make(p)


@pytest.mark.parametrize("mode", ["bogus", "Inverted", "VANILLA", "", "inverted "])
def test_dropout_bad_mode(mode):
    match = MODE + re.escape(repr(mode)) + "$"
    expect_dropout_error(ValueError, match, p=0.5, mode=mode)
    expect_dropout_error(ValueError, match, p=0.5, mode=mode, training=False)


@pytest.mark.parametrize("mode", [None, 1, b"inverted", ["inverted"], True], ids=repr)
def test_dropout_mode_not_a_string(mode):
    match = MODE + re.escape(f"{type(mode).__name__} {mode!r}") + "$"
    expect_dropout_error(TypeError, match, p=0.5, mode=mode)
    expect_dropout_error(TypeError, match, p=0.5, mode=mode, training=False)


def _flag_error(name, value):
    return rf"{name} must be a bool, got " + re.escape(f"{type(value).__name__} {value!r}") + "$"


@pytest.mark.parametrize("training", [1, 0, "yes", None, 1.0, np.array(True), [True]], ids=repr)
def test_dropout_training_not_bool(training):
    expect_dropout_error(TypeError, _flag_error("training", training), p=0.5, training=training)


@pytest.mark.parametrize("return_mask", [1, 0, "yes", None])
def test_dropout_return_mask_not_bool(return_mask):
    match = _flag_error("return_mask", return_mask)
    expect_dropout_error(TypeError, match, p=0.5, return_mask=return_mask)


BAD_DTYPES = [
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint64,
    np.bool_,
    np.complex64,
    np.complex128,
    np.object_,
    np.str_,
    np.bytes_,
    "datetime64[s]",
    "timedelta64[s]",
]
if np.dtype(np.longdouble).itemsize != 8:
    BAD_DTYPES.append(np.longdouble)
    BAD_DTYPES.append(np.clongdouble)


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
def test_dropout_bad_x_dtype(dtype):
    x = np.zeros((40, 50), dtype)
    x_before = x.copy()
    match = rf"x must have dtype {ACCEPTED}, got dtype {re.escape(str(x.dtype))}$"
    for training in (True, False):
        expect_dropout_error(TypeError, match, x=x, p=0.5, training=training)
        # also with x's own memory as out
        with pytest.raises(TypeError, match=match):
            fastdrop.dropout(x, 0.5, rng=1, out=x, training=training)
        assert x.tobytes() == x_before.tobytes()


@pytest.mark.parametrize(
    "x",
    [
        [1, 2, 3],
        [True, False],
        [1 + 2j],
        ["a", "b"],
        "abc",
        3,
        True,
        [[1], [2]],
        [None, 1.0],
        np.int32(4),
    ],
    ids=repr,
)
def test_dropout_bad_array_likes(x):
    dtype = np.asarray(x).dtype
    with pytest.raises(TypeError, match=rf"{ACCEPTED}, got dtype {re.escape(str(dtype))}"):
        fastdrop.dropout(x, 0.5, rng=1)
    generator = np.random.default_rng(6)
    before = copy.deepcopy(generator)
    with pytest.raises(TypeError, match="x must have dtype"):
        fastdrop.dropout(x, 0.5, rng=generator)
    assert generator.random() == before.random()


@pytest.mark.parametrize("shape", [(50, 40), (40,), (40, 50, 1), (1, 40, 50), (), (0,), (40, 1)])
def test_dropout_out_wrong_shape(shape):
    s = State()
    bad_out = np.full(shape, 7.0, np.float32)
    bad_before = bad_out.copy()
    expect_dropout_error(
        ValueError,
        rf"out has shape {re.escape(str(shape))}, but x has shape \(40, 50\)",
        state=s,
        p=0.5,
        out=bad_out,
    )
    assert bad_out.tobytes() == bad_before.tobytes()
    expect_dropout_error(ValueError, "out has shape", p=0.5, out=bad_out, training=False)


def _swapped(dtype):
    return np.dtype(dtype).newbyteorder("S")


@pytest.mark.parametrize(
    ("x_dtype", "out_dtype"),
    [
        (np.float32, np.float64),
        (np.float32, np.float16),
        (np.float64, np.float32),
        (np.float16, np.float32),
        (np.float32, np.int32),
        (np.float64, np.int64),
        (np.float32, np.complex64),
        (np.float32, np.bool_),
        (np.float32, _swapped(np.float32)),
        (np.float64, _swapped(np.float64)),
        (np.float16, _swapped(np.float16)),
        (_swapped(np.float32), _swapped(np.float32)),  # out must be native byte order
    ],
    ids=str,
)
def test_dropout_out_wrong_dtype(x_dtype, out_dtype):
    for training in (True, False):
        s = State()
        s.x = s.x.astype(x_dtype)
        s.x_before = s.x.copy()
        bad_out = np.zeros(s.x.shape, out_dtype)
        bad_before = bad_out.copy()
        native = s.x.dtype.newbyteorder("=")
        expect_dropout_error(
            TypeError,
            re.escape(
                f"out has dtype {bad_out.dtype}, but the result has dtype {native} "
                "(native byte order)"
            )
            + "$",
            state=s,
            p=0.5,
            out=bad_out,
            training=training,
        )
        assert bad_out.tobytes() == bad_before.tobytes()


def test_dropout_out_read_only():
    for make in (
        lambda out: (out.setflags(write=False), out)[1],
        lambda out: np.broadcast_to(out[0], out.shape),
        lambda out: np.frombuffer(out.tobytes(), out.dtype).reshape(out.shape),
    ):
        s = State()
        bad_out = make(s.out)
        assert not bad_out.flags.writeable
        expect_dropout_error(ValueError, "out is read-only", state=s, p=0.5, out=bad_out)
        for training in (True, False):
            with pytest.raises(ValueError, match="read-only"):
                fastdrop.dropout(s.x, 0.5, rng=1, training=training, out=bad_out)
    # x read-only with out=x
    x = np.ones((4, 5), np.float32)
    x.setflags(write=False)
    with pytest.raises(ValueError, match="out is read-only"):
        fastdrop.dropout(x, 0.5, rng=1, out=x)
    assert np.all(x == 1)


@pytest.mark.parametrize(
    "bad_out",
    [[[0.0] * 50] * 40, (0.0,) * 50, 0.0, "out", memoryview(np.zeros((40, 50), np.float32))],
    ids=["list", "tuple", "float", "str", "memoryview"],
)
def test_dropout_out_not_ndarray(bad_out):
    name = type(bad_out).__name__
    expect_dropout_error(TypeError, rf"out must be a numpy.ndarray, got {name}", p=0.5, out=bad_out)


BAD_RNG_TYPE = [
    1.5,
    1.0,
    "42",
    b"42",
    True,
    False,
    np.bool_(True),
    np.random.RandomState(0),
    [1, 2],
    np.array(5),
    fastdrop.Philox,
    fastdrop.Draw,
    (2, 3),  # a draw's (key, offset) as a tuple is no Draw
]
BAD_RNG_VALUE = [-1, 2**64, 2**70, -(2**63), np.int64(-5), 10**400]


@pytest.mark.parametrize("rng", BAD_RNG_TYPE, ids=lambda r: type(r).__name__)
@pytest.mark.parametrize("training", [True, False])
def test_dropout_rng_wrong_type(rng, training):
    expect_dropout_error(
        TypeError,
        re.escape(
            "rng must be None, an int in [0, 2**64), a numpy.random.Generator (or a "
            "SeedSequence or BitGenerator), a fastdrop.Philox or a fastdrop.Draw, got "
            f"{type(rng).__name__}"
        )
        + "$",
        p=0.5,
        rng=rng,
        training=training,
    )


@pytest.mark.parametrize("rng", BAD_RNG_VALUE, ids=repr)
@pytest.mark.parametrize("training", [True, False])
def test_dropout_rng_out_of_range(rng, training):
    expect_dropout_error(
        ValueError,
        re.escape(f"rng must be an int in [0, 2**64), got {_shown(rng)}") + "$",
        p=0.5,
        rng=rng,
        training=training,
    )


@pytest.mark.parametrize(
    ("rng", "exception"),
    [(rng, TypeError) for rng in BAD_RNG_TYPE] + [(rng, ValueError) for rng in BAD_RNG_VALUE],
    ids=repr,
)
def test_dropout_mask_bad_rng(rng, exception):
    with pytest.raises(exception, match="rng must be"):
        fastdrop.dropout_mask((3, 4), 0.5, rng=rng)
    with pytest.raises(exception, match="rng must be"):
        fastdrop.dropout_mask(12, 0.5, rng=rng, packed=True)


@pytest.mark.parametrize("shape", [-1, (2, -3), [-5], (0, -1), np.int64(-2)], ids=repr)
def test_dropout_mask_negative_shape(shape):
    generator = np.random.default_rng(7)
    before = copy.deepcopy(generator)
    stream = fastdrop.Philox(8)
    for rng in (generator, stream):
        with pytest.raises(ValueError, match="shape must not have negative extents"):
            fastdrop.dropout_mask(shape, 0.5, rng=rng)
        with pytest.raises(ValueError, match="shape must not have negative extents"):
            fastdrop.dropout_mask(shape, 0.5, rng=rng, packed=True)
    assert generator.random() == before.random()
    assert stream.offset == 0


@pytest.mark.parametrize(
    "shape",
    [
        2.0,
        (2, 3.0),
        "ab",
        "3",
        None,
        [2.5],
        (2, None),
        {"a": 1},
        1j,
        np.float64(3),
        True,
        (True, 2),
        (2, np.bool_(False)),
    ],
    ids=repr,
)
def test_dropout_mask_shape_not_ints(shape):
    generator = np.random.default_rng(9)
    before = copy.deepcopy(generator)
    stream = fastdrop.Philox(10)
    for rng in (generator, stream):
        with pytest.raises(
            TypeError,
            match=r"shape must be an int or a sequence of ints, got " + re.escape(repr(shape)),
        ):
            fastdrop.dropout_mask(shape, 0.5, rng=rng)
    assert generator.random() == before.random()
    assert stream.offset == 0


@pytest.mark.parametrize("packed", [1, 0, "yes", None])
def test_dropout_mask_packed_not_bool(packed):
    generator = np.random.default_rng(11)
    before = copy.deepcopy(generator)
    with pytest.raises(TypeError, match="packed must be a bool"):
        fastdrop.dropout_mask(10, 0.5, rng=generator, packed=packed)
    assert generator.random() == before.random()


# ---------------------------------------------------------------------------------------------
# philox4x32


@pytest.mark.parametrize(
    "counter",
    [[0, 0, 0], [[0, 0, 0]], 0, [], np.zeros((2, 5), np.uint32), np.zeros((4, 3))],
    ids=["3", "1x3", "scalar", "empty", "2x5", "4x3_float"],
)
def test_philox4x32_bad_counter_shape(counter):
    is_float = isinstance(counter, np.ndarray) and counter.dtype.kind == "f"
    exception = TypeError if is_float else ValueError
    match = (
        "counter must hold integers"
        if exception is TypeError
        else (r"counter must have shape \(\.\.\., 4\)")
    )
    if exception is ValueError:  # the shape given, not one NumPy made of it
        match += re.escape(f", got {np.shape(counter)}")
    with pytest.raises(exception, match=match):
        fastdrop.philox4x32(counter, [0, 0])


@pytest.mark.parametrize(
    "counter",
    [
        [0.0, 0, 0, 0],
        [True, False, True, False],
        ["0", "0", "0", "0"],
        [1j, 0, 0, 0],
        np.zeros(4, np.float32),
        [None, 0, 0, 0],
    ],
    ids=["float", "bool", "str", "complex", "float32", "none"],
)
def test_philox4x32_counter_not_integers(counter):
    dtype = np.asarray(counter).dtype
    with pytest.raises(
        TypeError,
        match=rf"counter must hold integers in \[0, 2\*\*32\), got "
        rf"dtype {re.escape(str(dtype))}",
    ):
        fastdrop.philox4x32(counter, [0, 0])


@pytest.mark.parametrize(
    "counter",
    [
        [-1, 0, 0, 0],
        [0, 0, 0, 2**32],
        [[0, 0, 0, 0], [0, 2**33, 0, 0]],
        np.array([0, 0, 0, -1], np.int64),
        np.array([2**63, 0, 0, 0], np.uint64),
    ],
    ids=["-1", "2**32", "row", "int64", "uint64"],
)
def test_philox4x32_counter_out_of_range(counter):
    with pytest.raises(ValueError, match=r"counter must hold integers in \[0, 2\*\*32\)"):
        fastdrop.philox4x32(counter, [0, 0])


@pytest.mark.parametrize("counter", [[2**64, 0, 0, 0], [-1, 2**63, 0, 0]], ids=["2**64", "mixed"])
def test_philox4x32_huge_counter_values_are_value_errors(counter):
    with pytest.raises(ValueError, match=r"counter must hold integers in \[0, 2\*\*32\)"):
        fastdrop.philox4x32(counter, [0, 0])


@pytest.mark.parametrize(
    "key",
    [[0], [0, 0, 0], [[0, 0]], 0, np.zeros(0, np.uint32), np.zeros((2, 2), np.uint32)],
    ids=["1", "3", "1x2", "scalar", "empty", "2x2"],
)
def test_philox4x32_bad_key_shape(key):
    match = re.escape(f"key must have shape (2,), got {np.shape(key)}")
    with pytest.raises(ValueError, match=match):
        fastdrop.philox4x32([0, 0, 0, 0], key)


@pytest.mark.parametrize(
    "key", [[-1, 0], [0, 2**32], [0.0, 0.0], [True, False], ["a", "b"]], ids=repr
)
def test_philox4x32_bad_key_values(key):
    kind = np.asarray(key).dtype.kind
    exception = ValueError if kind in "ui" else TypeError
    with pytest.raises(exception, match=r"key must hold integers in \[0, 2\*\*32\)"):
        fastdrop.philox4x32([0, 0, 0, 0], key)


# ---------------------------------------------------------------------------------------------
# Philox


@pytest.mark.parametrize(
    ("kwargs", "exception", "match"),
    [
        ({"seed": -1}, ValueError, r"seed must be an int in \[0, 2\*\*64\), got -1"),
        (
            {"seed": 2**64},
            ValueError,
            r"seed must be an int in \[0, 2\*\*64\), got 18446744073709551616",
        ),
        ({"seed": 1.5}, TypeError, r"seed must be an int in \[0, 2\*\*64\), got float 1.5"),
        ({"seed": 1.0}, TypeError, "seed must be an int"),
        ({"seed": "1"}, TypeError, "seed must be an int"),
        ({"seed": True}, TypeError, "seed must be an int"),
        ({"seed": np.float64(3)}, TypeError, "seed must be an int"),
        ({"seed": np.int8(-1)}, ValueError, "seed must be an int"),
        (
            {"seed": 1, "offset": 2**64},
            ValueError,
            r"offset must be an int in \[0, 2\*\*64\), got 18446744073709551616",
        ),
        ({"seed": 1, "offset": -1}, ValueError, r"offset must be an int in \[0, 2\*\*64\)"),
        ({"seed": 1, "offset": 1.5}, TypeError, "offset must be an int"),
        ({"seed": 1, "offset": None}, TypeError, "offset must be an int"),
        ({"seed": None, "offset": False}, TypeError, "offset must be an int"),
    ],
    ids=repr,
)
def test_philox_bad_arguments(kwargs, exception, match):
    with pytest.raises(exception, match=match):
        fastdrop.Philox(**kwargs)


@pytest.mark.parametrize(
    ("args", "exception", "match"),
    [
        ((-1,), ValueError, r"key must be an int in \[0, 2\*\*64\), got -1$"),
        ((2**64,), ValueError, r"key must be an int in \[0, 2\*\*64\), got 18446744073709551616$"),
        ((10**400,), ValueError, r"key must be an int in \[0, 2\*\*64\), got an int of about 401 "),
        ((1.5,), TypeError, r"key must be an int in \[0, 2\*\*64\), got float 1.5$"),
        ((1.0,), TypeError, r"key must be an int in \[0, 2\*\*64\), got float 1.0$"),
        (("1",), TypeError, r"key must be an int in \[0, 2\*\*64\), got str '1'$"),
        ((True,), TypeError, r"key must be an int in \[0, 2\*\*64\), got bool True$"),
        ((None,), TypeError, r"key must be an int in \[0, 2\*\*64\), got NoneType None$"),
        ((np.int8(-1),), ValueError, "key must be an int"),
        ((1, -1), ValueError, r"offset must be an int in \[0, 2\*\*64\), got -1$"),
        ((1, 2**64), ValueError, r"offset must be an int in \[0, 2\*\*64\), got 1844674407"),
        ((1, 1.5), TypeError, r"offset must be an int in \[0, 2\*\*64\), got float 1.5$"),
        ((1, None), TypeError, "offset must be an int"),
        ((1, False), TypeError, "offset must be an int"),
        ((1, np.float64(2)), TypeError, "offset must be an int"),
    ],
    ids=repr,
)
def test_draw_bad_arguments(args, exception, match):
    with pytest.raises(exception, match=match):
        fastdrop.Draw(*args)


def test_draw_is_immutable():
    draw = fastdrop.Draw(1, 2)
    for name in ("key", "offset"):
        with pytest.raises(AttributeError):
            setattr(draw, name, 3)
    assert draw == fastdrop.Draw(1, 2)


def test_philox_offset_is_keyword_only():
    with pytest.raises(TypeError):
        fastdrop.Philox(1, 2)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("size", "exception", "match"),
    [
        (-1, ValueError, r"size must be an int in \[0, 2\*\*64\), got -1$"),
        (np.int64(-1), ValueError, r"size must be an int in \[0, 2\*\*64\), got "),
        (1.5, TypeError, r"size must be an int in \[0, 2\*\*64\), got float 1.5$"),
        (1.0, TypeError, r"size must be an int in \[0, 2\*\*64\), got float 1.0$"),
        (True, TypeError, r"size must be an int in \[0, 2\*\*64\), got bool True$"),
        ("3", TypeError, r"size must be an int in \[0, 2\*\*64\), got str '3'$"),
        (None, TypeError, r"size must be an int in \[0, 2\*\*64\), got NoneType None$"),
    ],
    ids=repr,
)
def test_philox_draw_bad_size(size, exception, match):
    stream = fastdrop.Philox(1, offset=10)
    with pytest.raises(exception, match=match):
        stream.draw(size)
    assert stream.offset == 10


@pytest.mark.parametrize("size", [2**64, 10**400], ids=["2**64", "10**400"])
def test_philox_draw_huge_size_is_a_value_error(size):
    """An int of the right type out of range is a ValueError that names size (it was an
    OverflowError from the conversion to uint64, naming nothing)."""
    stream = fastdrop.Philox(1, offset=10)
    with pytest.raises(ValueError, match=r"size must be an int"):
        stream.draw(size)
    assert stream.offset == 10


def test_philox_stream_exhausted():
    stream = fastdrop.Philox(1, offset=2**64 - 1)
    y = fastdrop.dropout(np.ones(129), 0.5, rng=stream)  # blocks 2**64 - 1 and 2**64 (96-bit)
    assert stream.offset == 2**64 + 1
    # the call's counters were (1, 2**64 - 1)
    assert np.array_equal(y, fastdrop.dropout(np.ones(129), 0.5, rng=fastdrop.Draw(1, 2**64 - 1)))
    x = np.ones(10, np.float32)
    out = np.full(10, 7.0, np.float32)
    for call in (
        lambda: fastdrop.dropout(x, 0.5, rng=stream),
        lambda: fastdrop.dropout(x, 0.5, rng=stream, out=out),
        lambda: fastdrop.dropout(x, 0.5, rng=stream, out=x),
        lambda: fastdrop.dropout_mask(10, 0.5, rng=stream),
        lambda: fastdrop.gaussian_dropout(x, 0.5, rng=stream, out=out),
        lambda: fastdrop.standard_normal(10, rng=stream),
        lambda: stream.draw(1),
    ):
        with pytest.raises(ValueError, match="Philox stream exhausted"):
            call()
        assert stream.offset == 2**64 + 1
        assert np.all(x == 1) and np.all(out == 7)
    # evaluation uses no randomness, so it still works
    assert np.array_equal(fastdrop.dropout(x, 0.5, rng=stream, training=False), x)


def test_philox_stream_exhausted_empty_call():
    # An exhausted stream has no valid offset left to report, even for a call that needs none.
    stream = fastdrop.Philox(1, offset=2**64 - 1)
    fastdrop.dropout(np.ones(1), 0.5, rng=stream)
    assert stream.offset == 2**64
    with pytest.raises(ValueError, match="Philox stream exhausted"):
        fastdrop.dropout(np.ones(0), 0.5, rng=stream)
    with pytest.raises(ValueError, match="Philox stream exhausted"):
        fastdrop.dropout_mask((3, 0), 0.5, rng=stream)
    assert stream.offset == 2**64


def _message(exception, function, *args, **kwargs):
    with pytest.raises(exception) as info:
        function(*args, **kwargs)
    return str(info.value)


# -- fastdrop.nn and the MLP: the same rules, and nothing changed by a call that raises ----------

REAL = r" must be a finite real number > 0, got "


def _in_range(name, interval):
    return re.escape(f"{name} must be a real number in {interval}, got ")


# SGD's numbers, and fit's, which passes them on: (keyword, value, exception, message pattern)
BAD_SGD_NUMBERS = [
    ("lr", "0.1", TypeError, "lr" + REAL + "str '0.1'$"),
    ("lr", True, TypeError, "lr" + REAL + "bool True$"),
    ("lr", None, TypeError, "lr" + REAL + "NoneType None$"),
    ("lr", np.array([0.1]), TypeError, "lr" + REAL + "ndarray"),  # a 0-d array is a number
    ("lr", 0, ValueError, "lr" + REAL + "0$"),
    ("lr", -0.1, ValueError, "lr" + REAL + r"-0\.1$"),
    ("lr", float("inf"), ValueError, "lr" + REAL + "inf$"),
    ("lr", float("nan"), ValueError, "lr" + REAL + "nan$"),
    ("lr", 10**400, ValueError, "lr" + REAL + "an int of about 401 digits$"),
    ("momentum", True, TypeError, _in_range("momentum", "[0, 1)") + "bool True$"),
    ("momentum", "0.9", TypeError, _in_range("momentum", "[0, 1)") + "str '0.9'$"),
    ("momentum", 1.0, ValueError, _in_range("momentum", "[0, 1)") + r"1\.0$"),
    ("momentum", -0.5, ValueError, _in_range("momentum", "[0, 1)") + r"-0\.5$"),
    ("weight_decay", "0", TypeError, r"weight_decay must be a finite real number >= 0, got str"),
    ("weight_decay", -1e-3, ValueError, r"weight_decay must be a finite real number >= 0, got"),
    ("weight_decay", float("inf"), ValueError, r"weight_decay must be a finite real .* got inf$"),
    ("max_norm", "1", TypeError, "max_norm" + REAL + "str '1'$"),
    ("max_norm", 0.0, ValueError, "max_norm" + REAL + r"0\.0$"),
    ("max_norm", float("inf"), ValueError, "max_norm" + REAL + "inf$"),
    ("lr_decay", np.array([1.0, 1.0]), TypeError, _in_range("lr_decay", "(0, 1]") + "ndarray"),
    ("lr_decay", False, TypeError, _in_range("lr_decay", "(0, 1]") + "bool False$"),
    ("lr_decay", 0, ValueError, _in_range("lr_decay", "(0, 1]") + "0$"),
    ("lr_decay", 1.5, ValueError, _in_range("lr_decay", "(0, 1]") + r"1\.5$"),
]


@pytest.mark.parametrize(("name", "value", "exception", "match"), BAD_SGD_NUMBERS, ids=repr)
def test_sgd_numbers(name, value, exception, match):
    layer = nn.Linear(3, 2, rng=0)
    with pytest.raises(exception, match=match):
        nn.SGD(layer.parameters(), **{"lr": 0.1, name: value})


@pytest.mark.parametrize("parameters", [5, None, [np.ones(3)], [nn.Linear(2, 2)]], ids=repr)
def test_sgd_takes_parameters_only(parameters):
    with pytest.raises(TypeError, match=r"parameters must be an iterable of fastdrop\.nn\."):
        nn.SGD(parameters)


def _trained_state(model):
    """What a failed call must leave as it was: weights, standardization, streams."""
    return (
        [w.copy() for w in model.weights()],
        None if model.input_shift is None else model.input_shift.copy(),
        model.stream.offset,
        copy.deepcopy(model._order.bit_generator.state),
        model.training,
    )


def _assert_same_state(before, after):
    weights, shift, offset, order, training = before
    for a, b in zip(weights, after[0], strict=True):
        assert a.tobytes() == b.tobytes()
    assert (shift is None and after[1] is None) or np.array_equal(shift, after[1])
    assert (offset, order, training) == after[2:]


FIT_ROWS = np.random.default_rng(0).standard_normal((40, 3))
FIT_LABELS = np.arange(40) % 2
BAD_FIT_OPTIONS = [
    (name, value, exception, match) for name, value, exception, match in BAD_SGD_NUMBERS
] + [
    ("verbose", 1, TypeError, _flag_error("verbose", 1)),
    ("verbose", "yes", TypeError, _flag_error("verbose", "yes")),
    ("verbose", None, TypeError, _flag_error("verbose", None)),
    ("validation_split", "0.1", TypeError, _in_range("validation_split", "[0, 1)") + "str"),
    ("validation_split", True, TypeError, _in_range("validation_split", "[0, 1)") + "bool"),
    ("validation_split", 1.0, ValueError, _in_range("validation_split", "[0, 1)") + r"1\.0$"),
    ("validation_split", float("nan"), ValueError, _in_range("validation_split", "[0, 1)")),
    ("validation_data", 5, TypeError, r"validation_data must be None or a pair \(X, y\), got 5$"),
    ("validation_data", (FIT_ROWS,), TypeError, r"validation_data must be None or a pair"),
    ("epochs", True, TypeError, r"epochs must be an int >= 1, got bool True$"),
    ("epochs", 2.0, TypeError, r"epochs must be an int >= 1, got float 2\.0$"),
    ("epochs", 0, ValueError, r"epochs must be an int >= 1, got 0$"),
    ("batch_size", "8", TypeError, r"batch_size must be an int >= 1, got str '8'$"),
    ("batch_size", 0, ValueError, r"batch_size must be an int >= 1, got 0$"),
    ("patience", True, TypeError, r"patience \(or None\) must be an int >= 1, got bool True$"),
    ("patience", 0, ValueError, r"patience \(or None\) must be an int >= 1, got 0$"),
]


@pytest.mark.parametrize(("name", "value", "exception", "match"), BAD_FIT_OPTIONS, ids=repr)
@pytest.mark.parametrize("fitted", [False, True])
def test_fit_options_change_nothing(name, value, exception, match, fitted):
    model = nn.MLP([3, 8, 2], dropout=[0.2, 0.5], rng=0)
    if fitted:
        model.fit(FIT_ROWS, FIT_LABELS, epochs=1, verbose=False)
    model.eval()
    before = _trained_state(model)
    with pytest.raises(exception, match=match):
        model.fit(FIT_ROWS, FIT_LABELS, **{"epochs": 2, "verbose": False, name: value})
    _assert_same_state(before, _trained_state(model))


@pytest.mark.parametrize(
    ("labels", "exception", "match"),
    [
        (FIT_LABELS.astype(float), TypeError, "y must hold integer labels, got dtype float64$"),
        (FIT_LABELS.astype(str), TypeError, "y must hold integer labels, got dtype <U"),
        (FIT_LABELS[:-1], ValueError, r"y must be 40 labels, one a row of X, got shape \(39,\)$"),
        (FIT_LABELS + 2, ValueError, r"labels must be in \[0, 2\)"),
    ],
    ids=["float", "str", "short", "out of range"],
)
def test_fit_and_evaluate_labels(labels, exception, match):
    model = nn.MLP([3, 8, 2], dropout=[0.2, 0.5], rng=0)
    before = _trained_state(model)
    with pytest.raises(exception, match=match):
        model.fit(FIT_ROWS, labels, verbose=False)
    with pytest.raises(exception, match=match):
        model.evaluate(FIT_ROWS, labels)
    _assert_same_state(before, _trained_state(model))


BAD_PREDICT_OPTIONS = [
    ({"mc_samples": True}, TypeError, r"mc_samples \(or None\) must be an int >= 1, got bool"),
    ({"mc_samples": 2.0}, TypeError, r"mc_samples \(or None\) must be an int >= 1, got float"),
    ({"mc_samples": 0}, ValueError, r"mc_samples \(or None\) must be an int >= 1, got 0$"),
    ({"first_row": True}, TypeError, r"first_row must be an int >= 0, got bool True$"),
    ({"first_row": -1}, ValueError, r"first_row must be an int >= 0, got -1$"),
    ({"mc_samples": 2, "rng": -1}, ValueError, re.escape("rng must be an int in [0, 2**64)")),
    ({"mc_samples": 2, "rng": "7"}, TypeError, "rng must be None, an int in"),
]


@pytest.mark.parametrize(("kwargs", "exception", "match"), BAD_PREDICT_OPTIONS, ids=repr)
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_predict_options(method, kwargs, exception, match):
    model = nn.MLP([3, 8, 2], dropout=[0.2, 0.5], rng=0)
    before = _trained_state(model)
    with pytest.raises(exception, match=match):
        getattr(model, method)(FIT_ROWS, **kwargs)
    _assert_same_state(before, _trained_state(model))


# The constructors' arguments, rng apart: (arguments, keywords, exception, message pattern)
BAD_LINEAR = [
    ((3.0, 2), {}, TypeError, r"in_features must be an int >= 1, got float 3\.0$"),
    (("3", 2), {}, TypeError, r"in_features must be an int >= 1, got str '3'$"),
    ((True, 2), {}, TypeError, r"in_features must be an int >= 1, got bool True$"),
    ((0, 2), {}, ValueError, r"in_features must be an int >= 1, got 0$"),
    ((3, np.float64(2)), {}, TypeError, r"out_features must be an int >= 1, got float64"),
    ((3, -2), {}, ValueError, r"out_features must be an int >= 1, got -2$"),
    ((3, 2), {"init": None}, TypeError, r"init must be 'he' or 'glorot', got NoneType None$"),
    ((3, 2), {"init": "xavier"}, ValueError, r"init must be 'he' or 'glorot', got 'xavier'$"),
    ((3, 2), {"bias": "no"}, TypeError, r"bias must be a bool, got str 'no'$"),
    ((3, 2), {"bias": 0}, TypeError, r"bias must be a bool, got int 0$"),
    ((3, 2), {"dtype": np.float16}, TypeError, r"dtype must be float32 or float64, got float16$"),
]
BAD_MLP = [
    (([3, 2.0],), {}, TypeError, r"each of sizes must be an int >= 1, got float 2\.0$"),
    (([3, True],), {}, TypeError, r"each of sizes must be an int >= 1, got bool True$"),
    (([3, 0],), {}, ValueError, r"each of sizes must be an int >= 1, got 0$"),
    (([3, 2],), {"activation": None}, TypeError, r"activation must be 'relu' or 'tanh', got None"),
    (([3, 2],), {"activation": "sigmoid"}, ValueError, r"activation must be 'relu' or 'tanh', got"),
    (([3, 2],), {"mode": None}, TypeError, MODE + "NoneType None$"),
    (([3, 2],), {"standardize": 1}, TypeError, r"standardize must be a bool, got int 1$"),
    (([3, 2],), {"dropout": 0.5}, TypeError, r"dropout must be None or a sequence of drop rates"),
    (([3, 4, 2],), {"dropout": [0.5]}, ValueError, r"dropout must give one rate per layer input"),
    (([3, 4, 2],), {"dropout": [0.1, 1.0]}, ValueError, r"dropout\[1\]: p must be in \[0, 1\)"),
    (([3, 4, 2],), {"dropout": [True, 0.1]}, TypeError, r"dropout\[0\]: p must be a real number"),
    (([3, 2],), {"dtype": "int32"}, TypeError, r"dtype must be float32 or float64, got int32$"),
    (
        ([3, 2],),
        {"dtype": "float33"},
        TypeError,
        r"dtype must be float32 or float64, got 'float33'$",
    ),
]


@pytest.mark.parametrize(
    ("make", "args", "kwargs", "exception", "match"),
    [(nn.Linear, *case) for case in BAD_LINEAR] + [(nn.MLP, *case) for case in BAD_MLP],
    ids=repr,
)
def test_constructors_check_before_drawing(make, args, kwargs, exception, match):
    """Each argument by the core's rule, before the stream or Generator seeding the weights
    moves."""
    stream, generator = fastdrop.Philox(2, offset=3), np.random.default_rng(1)
    generator_before = copy.deepcopy(generator)
    for rng in (stream, generator):
        with pytest.raises(exception, match=match):
            make(*args, rng=rng, **kwargs)
    assert stream.offset == 3
    assert generator.integers(2**63) == generator_before.integers(2**63)


MODEL_RNG = {
    "Linear": lambda rng: nn.Linear(3, 2, rng=rng),
    "MLP": lambda rng: nn.MLP([3, 2], rng=rng),
}


@pytest.mark.parametrize("rng", BAD_RNG_TYPE, ids=lambda r: type(r).__name__)
@pytest.mark.parametrize("name", sorted(MODEL_RNG))
def test_model_rng_wrong_type_as_in_dropout(name, rng):
    expected = _message(TypeError, fastdrop.dropout, np.ones(3), rng=rng)
    assert _message(TypeError, MODEL_RNG[name], rng) == expected


@pytest.mark.parametrize("rng", BAD_RNG_VALUE, ids=repr)
@pytest.mark.parametrize("name", sorted(MODEL_RNG))
def test_model_rng_out_of_range_as_in_dropout(name, rng):
    expected = _message(ValueError, fastdrop.dropout, np.ones(3), rng=rng)
    assert _message(ValueError, MODEL_RNG[name], rng) == expected


def test_model_rng_takes_what_dropout_takes():
    """An int key is its Draw at offset 0; a Philox stream gives the draw it is at, and moves."""
    weights = nn.MLP([3, 4, 2], rng=5).weights()
    for same in (np.int64(5), fastdrop.Draw(5), fastdrop.Philox(5)):
        for a, b in zip(nn.MLP([3, 4, 2], rng=same).weights(), weights, strict=True):
            np.testing.assert_array_equal(a, b)
    stream = fastdrop.Philox(5, offset=7)
    moved = nn.MLP([3, 4, 2], rng=stream).weights()
    assert stream.offset == 8
    for a, b in zip(nn.MLP([3, 4, 2], rng=fastdrop.Draw(5, 7)).weights(), moved, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(moved[0], weights[0])
    for rng in (None, 2**64 - 1, np.random.default_rng(0)):
        nn.MLP([3, 2], rng=rng)
        nn.Linear(3, 2, rng=rng)


@pytest.mark.parametrize(
    ("arrays", "exception", "match"),
    [
        (5, TypeError, "arrays must be a sequence of arrays, got int$"),
        ([np.ones((3, 2))], ValueError, "expected 2 arrays, got 1$"),
        ([np.ones((3, 2)), np.ones(3)], ValueError, r"bias has shape \(2,\), got \(3,\)$"),
        ([np.ones((3, 2)), np.array(["a", "b"])], TypeError, "bias must be real numbers, got"),
        ([np.ones((3, 2)), np.ones(2, complex)], TypeError, "bias must be real numbers, got"),
    ],
    ids=["int", "count", "shape", "str", "complex"],
)
def test_set_weights_writes_nothing_unless_all_fit(arrays, exception, match):
    model = nn.MLP([3, 2], rng=0)
    before = _trained_state(model)
    with pytest.raises(exception, match=match):
        model.set_weights(arrays)
    _assert_same_state(before, _trained_state(model))


def test_loss_checks_its_arguments():
    loss = nn.SoftmaxCrossEntropy()
    with pytest.raises(TypeError, match=r"labels must be integers, got dtype float64$"):
        loss(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(TypeError, match=r"logits must be real numbers, got dtype <U1$"):
        loss(np.full((2, 3), "a"), np.zeros(2, int))
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\)$"):
        loss(np.zeros((2, 3)), np.array([0, 3]))
