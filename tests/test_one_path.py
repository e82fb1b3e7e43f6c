"""One path through the Python layer: each rule written once and applied the same way by every
entry point (functions, layers, the MLP), draws as values, and results in the input's layout."""

from __future__ import annotations

import copy
import itertools
import pickle
from fractions import Fraction

import numpy as np
import pytest

import fastdrop
from fastdrop import _core, nn

# A rate of every kind an entry point may be given, and what each must raise.
NOT_A_RATE = [
    "0.5",
    "",
    None,
    True,
    np.True_,
    1j,
    0.5 + 0j,
    [0.5],
    (0.5,),
    np.array([0.5]),
    np.array(True),
]
RATE_OUT_OF_RANGE = [-0.1, 1.5, float("nan"), float("inf"), -1, 2, 10**400, Fraction(10**400, 3)]


def rate_users(p):
    """Every public entry point that takes a drop rate, as calls of it alone."""
    x = np.ones((4, 6), np.float32)
    return {
        "dropout": lambda: fastdrop.dropout(x, p, rng=1),
        "dropout at evaluation": lambda: fastdrop.dropout(x, p, training=False),
        "dropout_mask": lambda: fastdrop.dropout_mask(x.shape, p, rng=1),
        "gaussian_dropout": lambda: fastdrop.gaussian_dropout(x, p, rng=1),
        "Dropout": lambda: nn.Dropout(p),
        "Dropout2d": lambda: nn.Dropout2d(p),
        "AlphaDropout": lambda: nn.AlphaDropout(p),
        "GaussianDropout": lambda: nn.GaussianDropout(p),
        "MLP": lambda: nn.MLP([6, 3], dropout=[p]),
    }


def _named(user):
    """How a message starts: the MLP says which of its rates it is (the rates are ``dropout``)."""
    return r"^dropout\[0\]: " if user == "MLP" else "^"


@pytest.mark.parametrize("p", NOT_A_RATE, ids=repr)
def test_a_rate_of_the_wrong_type_is_a_type_error_everywhere(p):
    for name, call in rate_users(p).items():
        with pytest.raises(TypeError, match=_named(name) + r"p must be a real number") as caught:
            call()
        assert type(p).__name__ in str(caught.value), name


@pytest.mark.parametrize("p", RATE_OUT_OF_RANGE, ids=lambda p: repr(p)[:20])
def test_a_rate_out_of_range_is_a_value_error_everywhere(p):
    for name, call in rate_users(p).items():
        with pytest.raises(ValueError, match=_named(name) + r"p must be in \[0, 1[\])]") as caught:
            call()
        assert len(str(caught.value)) < 200, name  # a huge value is named, not printed whole


def test_a_huge_rate_is_named_by_its_size():
    with pytest.raises(ValueError, match="an int of about 401 digits"):
        fastdrop.dropout(np.ones(3), 10**400)
    with pytest.raises(ValueError, match="an int of about 5001 digits"):
        nn.Dropout(10**5000)  # beyond what Python prints as digits


@pytest.mark.parametrize("half", [Fraction(1, 2), np.array(0.5)], ids=repr)
def test_a_fraction_or_0d_array_is_a_rate_everywhere(half):
    """Real numbers of other types: a Fraction, and a 0-d array as NumPy's ufuncs take one."""
    x = np.ones(1000)
    expected = fastdrop.dropout(x, 0.5, rng=3)
    assert np.array_equal(fastdrop.dropout(x, half, rng=3), expected)
    assert nn.Dropout(half, rng=3).p == 0.5
    assert nn.GaussianDropout(half).p == nn.AlphaDropout(half).p == 0.5
    assert nn.MLP([2, 2], dropout=[half]).rates == [0.5]


@pytest.mark.parametrize("rate", [1, 1.0, Fraction(1)])
def test_a_rate_of_one_is_refused_where_it_has_no_finite_scale(rate):
    x = np.ones(4)
    for call in (
        lambda: fastdrop.gaussian_dropout(x, rate),
        lambda: nn.GaussianDropout(rate),
        lambda: nn.AlphaDropout(rate),
        lambda: nn.MLP([4, 2], dropout=[rate]),
    ):
        with pytest.raises(ValueError, match=r"p must be in \[0, 1\) .*infinite\), got "):
            call()
    assert np.array_equal(fastdrop.dropout(x, rate, rng=1), np.zeros(4))  # dropout takes 1


@pytest.mark.parametrize("mode", [3, None, b"inverted", ["inverted"]], ids=repr)
def test_a_mode_that_is_no_string_is_a_type_error_everywhere(mode):
    for call in (
        lambda: fastdrop.dropout(np.ones(3), 0.5, mode=mode),
        lambda: nn.Dropout(0.5, mode),
        lambda: nn.MLP([3, 2], mode=mode),
    ):
        with pytest.raises(TypeError, match="mode must be 'inverted' or 'vanilla'"):
            call()


@pytest.mark.parametrize("mode", ["Inverted", "", "scaled"])
def test_another_mode_string_is_a_value_error_everywhere(mode):
    for call in (
        lambda: fastdrop.dropout(np.ones(3), 0.5, mode=mode),
        lambda: nn.Dropout(0.5, mode),
        lambda: nn.MLP([3, 2], mode=mode),
    ):
        with pytest.raises(ValueError, match=f"mode must be 'inverted' or 'vanilla', got '{mode}'"):
            call()


LAYERS = [
    lambda: nn.Dropout(0.5, rng=1),
    lambda: nn.Dropout(0.5, rng=1, axes=0),
    lambda: nn.Dropout2d(0.5, rng=1),
    lambda: nn.AlphaDropout(0.5, rng=1),
    lambda: nn.GaussianDropout(0.5, rng=1),
]


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize("training", ["no", 1, 0, None, np.array(True)], ids=repr)
def test_a_layer_checks_its_training_attribute_at_call_time(make, training):
    layer = make()
    layer.training = training
    offset = layer.stream.offset
    with pytest.raises(TypeError, match="training must be a bool"):
        layer(np.ones((2, 3, 2, 2), np.float32))
    assert layer.stream.offset == offset and layer.last_draw is None  # nothing happened


# -- draws --------------------------------------------------------------------------------------


def test_a_draw_is_an_immutable_value():
    draw = fastdrop.Draw(7, offset=3)
    assert (draw.key, draw.offset) == (7, 3) and tuple(draw) == (7, 3)
    assert repr(draw) == "fastdrop.Draw(key=7, offset=3)"
    assert draw == fastdrop.Draw(7, 3) and draw != fastdrop.Draw(7, 4) and draw != (7, 3)
    assert len({draw, fastdrop.Draw(7, 3)}) == 1
    assert pickle.loads(pickle.dumps(draw)) == draw and copy.deepcopy(draw) == draw
    with pytest.raises(AttributeError):
        draw.offset = 4  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        draw.__init__(9, 9)  # type: ignore[misc]
    assert draw == fastdrop.Draw(7, 3) and hash(draw) == hash(fastdrop.Draw(7, 3))


@pytest.mark.parametrize(
    ("key", "offset", "error"),
    [
        (-1, 0, ValueError),
        (2**64, 0, ValueError),
        (0, 2**64, ValueError),
        ("1", 0, TypeError),
        (1.0, 0, TypeError),
        (True, 0, TypeError),
        (0, None, TypeError),
    ],
)
def test_a_draw_checks_its_key_and_offset(key, offset, error):
    with pytest.raises(error, match=r"key|offset"):
        fastdrop.Draw(key, offset)


def test_every_rng_argument_takes_a_draw_and_uses_exactly_its_counters():
    stream = fastdrop.Philox(11)
    stream.draw(1000)  # a stream past its start: a draw at another offset than 0
    draw = stream.draw(300)
    assert draw == fastdrop.Draw(11, 8) and stream.offset == 11
    twin = fastdrop.Philox(11, offset=8)
    x = np.linspace(-1, 1, 300)
    assert np.array_equal(fastdrop.dropout(x, 0.3, rng=draw), fastdrop.dropout(x, 0.3, rng=twin))
    for call in (
        lambda rng: fastdrop.dropout(x, 0.3, rng=rng),
        lambda rng: fastdrop.dropout_mask(300, 0.3, rng=rng),
        lambda rng: fastdrop.standard_normal(300, rng=rng),
        lambda rng: fastdrop.gaussian_dropout(x, 0.3, rng=rng),
    ):
        first, again = call(draw), call(draw)
        assert np.array_equal(first, again)
        assert np.array_equal(first, call(fastdrop.Philox(11, offset=8)))
    assert stream.offset == 11  # a draw is a value: using it moves nothing


def test_a_layer_given_a_draw_starts_its_stream_there():
    layer = nn.Dropout(0.5, rng=fastdrop.Draw(5, offset=40))
    assert (layer.stream.key, layer.stream.offset) == (5, 40)
    layer(np.ones(10))
    assert layer.last_draw == fastdrop.Draw(5, 40)


@pytest.mark.parametrize("make", LAYERS)
def test_backward_replays_the_forward_draw_without_the_stream(make):
    """Backward uses the draw its forward kept: other calls on the shared stream in between, or
    another forward of another layer, change nothing, and backward moves no stream."""
    layer = make()
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    grad = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    layer(x)
    expected = layer.backward(grad)
    draw = layer.last_draw
    assert isinstance(draw, fastdrop.Draw)
    fastdrop.dropout(x, 0.5, rng=layer.stream)  # the stream moves on
    offset = layer.stream.offset
    assert np.array_equal(layer.backward(grad), expected)
    assert layer.stream.offset == offset and layer.last_draw == draw


def test_a_stream_keeps_no_record_of_its_draws():
    """Nothing per call or per thread is stored in a stream: only its key and next block."""
    stream = fastdrop.Philox(3)
    assert not hasattr(stream, "last_draw")
    assert not hasattr(stream, "__dict__")


def test_the_core_has_only_what_is_used():
    for gone in ("Counter", "common_dropout", "blocks", "BLOCK_ELEMENTS", "THREADS_REMEMBERED"):
        assert not hasattr(_core, gone), gone


# -- memory layout ------------------------------------------------------------------------------


def permuted(order, shape=(2, 3, 4, 5), dtype=np.float32):
    """An array whose memory order of axes is ``order`` (as x.transpose(order) is C order)."""
    rng = np.random.default_rng(sum(order))
    base = rng.standard_normal([shape[a] for a in order]).astype(dtype)
    return base.transpose(np.argsort(order))


def same_layout(a, b):
    """The same shape and the same order of axes in memory (by stride size)."""
    return a.shape == b.shape and np.argsort(a.strides).tolist() == np.argsort(b.strides).tolist()


PERMUTATIONS = list(itertools.permutations(range(4)))


@pytest.mark.parametrize("order", PERMUTATIONS, ids=str)
def test_dropout_keeps_any_order_of_axes(order):
    x = permuted(order)
    c_order = np.ascontiguousarray(x)
    for training in (True, False):
        y, mask = fastdrop.dropout(x, 0.3, rng=9, training=training, return_mask=True)
        expected, expected_mask = fastdrop.dropout(
            c_order, 0.3, rng=9, training=training, return_mask=True
        )
        assert same_layout(y, x) and same_layout(mask, x)
        assert np.array_equal(y, expected) and np.array_equal(mask, expected_mask)
    noisy = fastdrop.gaussian_dropout(x, 0.3, rng=9)
    assert same_layout(noisy, x)
    assert np.array_equal(noisy, fastdrop.gaussian_dropout(c_order, 0.3, rng=9))
    assert same_layout(fastdrop.gaussian_dropout(x, 0.3, training=False), x)


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (0, 2, 3, 1), (1, 0, 3, 2)], ids=str)
@pytest.mark.parametrize("make", LAYERS)
def test_layers_keep_the_layout_forward_and_backward(make, order):
    x = permuted(order)
    layer, reference = make(), make()
    for training in (True, False):
        layer.train(training)
        reference.train(training)
        y = layer(x)
        expected = reference(np.ascontiguousarray(x))
        assert same_layout(y, x) and np.array_equal(y, expected)
        grad = layer.backward(x)
        assert same_layout(grad, x)
        assert np.array_equal(grad, reference.backward(np.ascontiguousarray(x)))


def test_fortran_and_reversed_inputs_keep_their_layout():
    fortran = np.asfortranarray(np.ones((6, 7), np.float64))
    assert fastdrop.dropout(fortran, 0.5, rng=1).flags.f_contiguous
    reversed_rows = np.ones((6, 7), np.float32)[::-1]
    y = fastdrop.dropout(reversed_rows, 0.5, rng=1)
    assert y.flags.c_contiguous  # positive strides, the same order of axes, as NumPy's order="K"
    assert np.array_equal(y, fastdrop.dropout(np.ones((6, 7), np.float32), 0.5, rng=1))


# -- modules ------------------------------------------------------------------------------------


def test_dropout_layers_show_their_settings():
    assert repr(nn.Dropout(0.5)) == "Dropout(p=0.5, mode='inverted')"
    assert repr(nn.Dropout(0.25, "vanilla", axes=(0, 2))) == (
        "Dropout(p=0.25, mode='vanilla', axes=(0, 2))"
    )
    assert repr(nn.Dropout2d(0.1)) == "Dropout2d(p=0.1)"
    assert repr(nn.AlphaDropout(0.2)) == "AlphaDropout(p=0.2)"
    assert repr(nn.GaussianDropout(0.3)) == "GaussianDropout(p=0.3)"
