"""bfloat16 through NumPy (ml_dtypes.bfloat16): fastdrop.dropout scales in float32 and rounds
once to nearest even, with the mask of every other dtype, in any layout; the C core's paths are
compared bit for bit in src_c/tests/test_core.c."""

import ml_dtypes
import numpy as np
import pytest

import fastdrop
from fastdrop import nn

BF16 = np.dtype(ml_dtypes.bfloat16)


def bf16_values(shape, seed=0) -> np.ndarray:
    """Random bfloat16 bits, with zeros, infinities, NaNs, subnormals and the largest values."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 1 << 16, size=shape, dtype=np.uint16)
    special = np.array([0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFFA1, 0x0001, 0x807F, 0x7F7F])
    where = rng.random(shape) < 0.1
    bits[where] = rng.choice(special, size=int(where.sum()))
    return bits.view(BF16)


def model(x: np.ndarray, p: float, draw: fastdrop.Draw) -> np.ndarray:
    """The rule: x * float32(1 / (1 - p)) in float32, rounded to nearest even by ml_dtypes (an
    independent conversion) where kept, +0.0 where dropped; NaNs compared as NaNs."""
    kept = fastdrop.dropout_mask(x.shape, p, rng=draw)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (x.astype(np.float32) * np.float32(1.0 / (1.0 - p))).astype(BF16)
    return np.where(kept, scaled, np.zeros((), BF16)).astype(BF16)


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == BF16 and actual.shape == expected.shape
    nan = np.isnan(expected.astype(np.float32))
    assert np.array_equal(np.isnan(actual.astype(np.float32)), nan)
    assert np.array_equal(actual.view(np.uint16)[~nan], expected.view(np.uint16)[~nan])


@pytest.mark.parametrize("p", [0.1, 0.5, 1 / 3, 0.9])
def test_matches_the_float32_model(p):
    x = bf16_values((67, 129), seed=1)
    draw = fastdrop.Draw(2024, 3)
    assert_same(fastdrop.dropout(x, p, rng=draw), model(x, p, draw))


def test_mask_is_every_dtypes_mask():
    draw = fastdrop.Draw(5, 77)
    y = fastdrop.dropout(np.ones(5000, BF16), 0.3, rng=draw)
    assert np.array_equal(y != 0, fastdrop.dropout(np.ones(5000, np.float32), 0.3, rng=draw) != 0)


def test_kept_nan_stays_nan_and_dropped_is_positive_zero():
    x = np.full(4096, np.nan, BF16)
    x[::2] = -np.inf
    y = fastdrop.dropout(x, 0.5, rng=9)
    kept = fastdrop.dropout_mask(4096, 0.5, rng=9)
    assert (y.view(np.uint16)[~kept] == 0).all()
    assert np.isnan(y.astype(np.float32)[1::2][kept[1::2]]).all()


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a.T,
        lambda a: a[::-2, 1::3],
        lambda a: np.asfortranarray(a),
        lambda a: a[:, None, :].repeat(2, axis=1)[:, :, ::2],
    ],
)
def test_layouts(view):
    x = view(bf16_values((40, 60), seed=2))
    draw = fastdrop.Draw(11, 2)
    y = fastdrop.dropout(x, 0.25, rng=draw)
    assert_same(y, model(np.ascontiguousarray(x), 0.25, draw))
    assert y.flags.f_contiguous == (x.flags.f_contiguous and not x.flags.c_contiguous)


def test_in_place_zero_d_empty_and_evaluation():
    x = bf16_values((3, 50), seed=3)
    expected = model(x, 0.4, fastdrop.Draw(1))
    assert fastdrop.dropout(x, 0.4, rng=fastdrop.Draw(1), out=x) is x
    assert_same(x, expected)
    assert fastdrop.dropout(np.zeros((0, 4), BF16), 0.5).shape == (0, 4)
    scalar = fastdrop.dropout(np.array(1.5, BF16), 0.0, rng=1)
    assert scalar.shape == () and scalar.dtype == BF16 and float(scalar) == 1.5
    ones = np.ones(8, BF16)
    assert (fastdrop.dropout(ones, 0.5, training=False).view(np.uint16) == 0x3F80).all()
    half = fastdrop.dropout(ones, 0.5, training=False, mode="vanilla")
    assert (half.astype(np.float32) == 0.5).all()


def test_vanilla_training_copies_bits():
    x = bf16_values(3001, seed=4)
    y = fastdrop.dropout(x, 0.3, rng=4, mode="vanilla")
    kept = fastdrop.dropout_mask(3001, 0.3, rng=4)
    assert np.array_equal(y.view(np.uint16), np.where(kept, x.view(np.uint16), 0))


def test_return_mask_and_out():
    x = bf16_values((10, 10), seed=5)
    out = np.empty_like(x)
    y, mask = fastdrop.dropout(x, 0.5, rng=6, out=out, return_mask=True)
    assert y is out and np.array_equal(mask, fastdrop.dropout_mask((10, 10), 0.5, rng=6))
    with pytest.raises(TypeError, match="out has dtype float32"):
        fastdrop.dropout(x, 0.5, out=np.empty((10, 10), np.float32))


def test_other_user_dtypes_are_refused():
    with pytest.raises(TypeError, match=r"float16, float32, float64 or bfloat16, got dtype float8"):
        fastdrop.dropout(np.zeros(4, ml_dtypes.float8_e4m3fn), 0.5)


def test_layers_take_numpy_floats_only():
    """bfloat16 is fastdrop.dropout's; the layers and gaussian_dropout refuse it, naming the
    dtypes they take."""
    x = np.ones((2, 4), BF16)
    with pytest.raises(TypeError, match="float16, float32 or float64, got dtype bfloat16"):
        nn.Dropout(0.5, rng=1)(x)
    with pytest.raises(TypeError, match="got dtype bfloat16"):
        fastdrop.gaussian_dropout(x, 0.5)
