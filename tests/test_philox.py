"""Philox4x32-10 and the keep rule of src_c/fd_dropout.h, checked exactly.

* fastdrop.philox4x32 and reference.philox4x32_10 against Random123's known answers
  (tests/kat_vectors), and against each other on thousands of (counter, key) pairs.
* fastdrop.dropout_mask against reference.keep_mask: keys, offsets whose 96-bit counters carry,
  shapes that end inside words, blocks and chunks, and many p.
* The threshold: fastdrop's T(p) is 2**32 - round(p * 2**32), proved with exact fractions, and the
  mask is exactly the test U < T on the 32-bit uniforms U of the reference, so the keep
  probability is exactly T / 2**32.
"""

from __future__ import annotations

import math
import pathlib
from fractions import Fraction

import numpy as np
import pytest
import reference

import fastdrop
from fastdrop import _core

SEED = 0x5EED_F1D0
KAT_FILE = pathlib.Path(__file__).with_name("kat_vectors")
TWO32 = 2**32
TWO64 = 2**64
# Words that stress carries, sign bits and the multiplications' high halves.
EDGE_WORDS = (0, 1, 2, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF)


# ---------------------------------------------------------------------------------------------
# Known answers


def _read_kat(path: pathlib.Path) -> list:
    """The lines of a Random123 kat_vectors file: name rounds ctr[4] key[2] expected[4]."""
    vectors = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 12:
            raise ValueError(f"{path.name}:{number}: expected 12 fields, got {len(fields)}")
        name, rounds, *words = fields
        values = [int(word, 16) for word in words]
        vectors.append(
            pytest.param(name, int(rounds), values[:4], values[4:6], values[6:], id=f"line{number}")
        )
    return vectors


KAT = _read_kat(KAT_FILE)


def test_kat_file_holds_the_three_philox4x32_10_vectors():
    assert len(KAT) == 3
    assert all(v.values[:2] == ("philox4x32", 10) for v in KAT)
    # the all-zero and all-ones vectors are there, and the pi-digits one
    assert [v.values[2][0] for v in KAT] == [0x00000000, 0xFFFFFFFF, 0x243F6A88]


@pytest.mark.parametrize(("name", "rounds", "counter", "key", "expected"), KAT)
def test_known_answers(name, rounds, counter, key, expected):
    assert (name, rounds) == ("philox4x32", 10)
    got = fastdrop.philox4x32(counter, key)
    assert got.dtype == np.uint32
    assert got.shape == (4,)
    assert got.tolist() == expected
    assert reference.philox4x32_10(np.array(counter), key).tolist() == expected


# ---------------------------------------------------------------------------------------------
# fastdrop.philox4x32 against the reference


def _random_words(rng: np.random.Generator, shape) -> np.ndarray:
    """Uniform 32-bit words, a quarter of them replaced by edge words."""
    words = rng.integers(0, TWO32, size=shape, dtype=np.uint64)
    edge = rng.random(shape) < 0.25
    words[edge] = rng.choice(np.array(EDGE_WORDS, dtype=np.uint64), size=int(edge.sum()))
    return words.astype(np.uint32)


def test_random_counters_and_keys_match_reference():
    """5000 (counter, key) pairs: 500 keys with 10 counters each."""
    rng = np.random.default_rng([SEED, 1])
    keys = _random_words(rng, (500, 2))
    counters = _random_words(rng, (500, 10, 4))
    checked = 0
    for key, batch in zip(keys, counters, strict=False):
        got = fastdrop.philox4x32(batch, key)
        want = reference.philox4x32_10(batch, key)
        np.testing.assert_array_equal(got, want, err_msg=f"key {key.tolist()}")
        checked += len(batch)
    assert checked == 5000


def test_all_edge_words():
    """Every counter and every key made of edge words only."""
    words = np.array(EDGE_WORDS, dtype=np.uint32)
    counters = np.stack(np.meshgrid(words, words, words, words, indexing="ij"), -1).reshape(-1, 4)
    for k0 in EDGE_WORDS:
        for k1 in EDGE_WORDS:
            got = fastdrop.philox4x32(counters, [k0, k1])
            want = reference.philox4x32_10(counters, (k0, k1))
            np.testing.assert_array_equal(got, want, err_msg=f"key {(k0, k1)}")


@pytest.mark.parametrize("shape", [(4,), (1, 4), (7, 4), (0, 4), (3, 5, 4), (2, 1, 3, 4)], ids=str)
def test_philox_shapes(shape):
    rng = np.random.default_rng([SEED, 2, len(shape), shape[0]])
    counters = _random_words(rng, shape)
    key = (0x01234567, 0x89ABCDEF)
    got = fastdrop.philox4x32(counters, key)
    assert got.shape == shape
    assert got.dtype == np.uint32
    want = reference.philox4x32_10(counters.reshape(-1, 4), key).reshape(shape)
    np.testing.assert_array_equal(got, want)
    # each counter is mapped on its own: the same as one call per counter
    for index in np.ndindex(shape[:-1]):
        np.testing.assert_array_equal(got[index], fastdrop.philox4x32(counters[index], key))


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda a: a.tolist(), id="list"),
        pytest.param(lambda a: a.astype(np.int64), id="int64"),
        pytest.param(lambda a: a.astype(np.uint64), id="uint64"),
        pytest.param(lambda a: np.asfortranarray(a), id="fortran"),
        pytest.param(lambda a: np.repeat(a, 2, axis=0)[::2], id="strided"),
        pytest.param(lambda a: a.astype(a.dtype.newbyteorder(">")), id="big-endian"),
    ],
)
def test_philox_input_layouts(convert):
    rng = np.random.default_rng([SEED, 3])
    counters = _random_words(rng, (9, 4))
    key = np.array([0xFFFFFFFF, 0x00000001], dtype=np.uint32)
    want = reference.philox4x32_10(counters, key)
    got = fastdrop.philox4x32(convert(counters), convert(key[None])[0])
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------------
# dropout_mask against the reference model of the rule

MASK_KEYS = [0, 1, 0xFFFFFFFF, 2**32, TWO64 - 1, 0x0123456789ABCDEF]
MASK_OFFSETS = [
    0,
    1,
    TWO32 - 2,  # blocks 2, 3, ... carry into counter word 1
    TWO64 - 3,  # blocks 3, 4, ... carry into counter word 2 (the 96-bit counter)
    TWO64 - 1,  # the last 64-bit offset: the call's block 1 is 2**64
]
MASK_SHAPES = [1, 31, 32, 33, 127, 128, 129, (3, 100), (2, 3, 64), 2048 + 129, (5, 0), 0]
MASK_PS = [0.0, 2**-32, 0.01, 0.1, 1 / 3, 0.5, 0.7, 0.9, 1 - 2**-32, 1.0]


@pytest.mark.parametrize("offset", MASK_OFFSETS, ids=hex)
@pytest.mark.parametrize("shape", MASK_SHAPES, ids=str)
def test_mask_matches_reference(shape, offset):
    dims = (shape,) if isinstance(shape, int) else shape
    n = math.prod(dims)
    for key in MASK_KEYS:
        # reference.keep_mask(key, offset, dims, p) for every p, sharing the uniforms
        u = reference.uniforms(key, offset, n)
        np.testing.assert_array_equal(
            reference.keep_mask(key, offset, dims, 1 / 3),
            (u < reference.threshold(1 / 3)).reshape(dims),
        )
        for p in MASK_PS:
            want = (u < reference.threshold(p)).reshape(dims)
            got = fastdrop.dropout_mask(shape, p, rng=fastdrop.Philox(key, offset=offset))
            assert got.dtype == np.bool_
            assert got.shape == dims
            np.testing.assert_array_equal(got, want, err_msg=f"key {key:#x}, p {p!r}")
            packed = fastdrop.dropout_mask(
                shape, p, rng=fastdrop.Philox(key, offset=offset), packed=True
            )
            np.testing.assert_array_equal(
                packed, np.packbits(want.ravel(), bitorder="little"), err_msg=f"packed, p {p!r}"
            )


@pytest.mark.parametrize("p", [0.1, 0.5, 0.7])
def test_int_rng_is_key_at_offset_zero(p):
    rng = np.random.default_rng([SEED, 4])
    for key in [0, 5, *(int(k) for k in rng.integers(0, TWO64, 5, dtype=np.uint64))]:
        np.testing.assert_array_equal(
            fastdrop.dropout_mask((4, 77), p, rng=key), reference.keep_mask(key, 0, (4, 77), p)
        )


def test_stream_calls_use_consecutive_blocks_across_the_96_bit_carry():
    key, start = 0xDEADBEEFCAFEF00D, TWO64 - 8
    stream = fastdrop.Philox(key, offset=start)
    offset = start
    # sizes: one element still takes a whole block; 0 takes none; the last call passes 2**64
    for n, p in [(1, 0.3), (300, 0.5), (128, 0.1), (0, 0.5), (2177, 0.3)]:
        got = fastdrop.dropout_mask(n, p, rng=stream)
        # the call's counters were (key, offset): what that Draw gives, and the reference's
        np.testing.assert_array_equal(
            got, fastdrop.dropout_mask(n, p, rng=fastdrop.Draw(key, offset))
        )
        np.testing.assert_array_equal(got, reference.keep_mask(key, offset, n, p), err_msg=str(n))
        offset += -(-n // 128)
        assert stream.offset == offset
    assert offset > TWO64


# ---------------------------------------------------------------------------------------------
# The threshold T(p) = 2**32 - round(p * 2**32), exactly


def _threshold_error(p: float, t: int) -> Fraction:
    """T / 2**32 - (1 - p), exactly."""
    return Fraction(t, TWO32) - (1 - Fraction(p))


EDGE_PS = [
    0.0,
    1.0,
    5e-324,  # the smallest subnormal
    2.2250738585072014e-308,  # the smallest normal
    2**-64,
    2**-33,  # p * 2**32 = 1/2: a tie, rounded up
    math.nextafter(2**-33, 0.0),  # p * 2**32 just below 1/2: must round to 0
    math.nextafter(2**-33, 1.0),
    2**-32,
    3 * 2**-33,  # p * 2**32 = 3/2: a tie
    math.nextafter(3 * 2**-33, 0.0),
    0.5,
    math.nextafter(0.5, 0.0),
    math.nextafter(0.5, 1.0),
    1 - 2**-32,
    1 - 2**-33,  # p * 2**32 = 2**32 - 1/2: a tie, rounded up to 2**32
    math.nextafter(1 - 2**-33, 0.0),
    1 - 2**-53,
    math.nextafter(1.0, 0.0),
    *(k / 10 for k in range(1, 10)),
    1 / 3,
    2 / 3,
    1 / 7,
    0.01,
    0.99,
]


@pytest.mark.parametrize("p", EDGE_PS, ids=repr)
def test_threshold_edge_cases(p):
    t = _core.threshold(p)
    assert t == reference.threshold(p)
    assert 0 <= t <= TWO32
    error = abs(_threshold_error(p, t))
    assert error < Fraction(1, TWO32)
    assert error <= Fraction(1, 2 * TWO32)  # round to nearest, as fd_dropout.h documents


def test_threshold_endpoints():
    assert _core.threshold(0.0) == TWO32  # keeps everything
    assert _core.threshold(1.0) == 0  # drops everything
    assert _core.threshold(0.5) == 2**31


def _many_probabilities() -> list[float]:
    rng = np.random.default_rng([SEED, 5])
    uniform = rng.random(10_000)  # multiples of 2**-53
    # every binary exponent, down into the subnormals
    scaled = rng.random(3_000) * np.exp2(-rng.integers(0, 1075, 3_000).astype(np.float64))
    # p * 2**32 = k + 1/2 (ties) and the doubles on either side of them
    ties = (rng.integers(1, TWO32, 2_000, dtype=np.uint64) + 0.5) / TWO32
    near = np.concatenate([ties, np.nextafter(ties, 0.0), np.nextafter(ties, 1.0)])
    values = np.concatenate([uniform, scaled, near])
    assert values.min() >= 0.0
    assert values.max() <= 1.0
    return values.tolist()


def test_threshold_is_exactly_rounded_for_many_p():
    """|T / 2**32 - (1 - p)| < 2**-32, computed with fractions, for 19,000 doubles p."""
    mismatches, too_far = [], []
    probabilities = _many_probabilities()
    for p in probabilities:
        t = _core.threshold(p)
        if t != reference.threshold(p):
            mismatches.append((p, t, reference.threshold(p)))
        error = abs(_threshold_error(p, t))
        if not error < Fraction(1, TWO32) or error > Fraction(1, 2 * TWO32):
            too_far.append((p, t, float(error)))
    assert len(probabilities) == 19_000
    assert mismatches == []
    assert too_far == []


# ---------------------------------------------------------------------------------------------
# The rule is the threshold test U < T on 32 uniform bits


def _p_for_threshold(t: int) -> float:
    """The p whose threshold is t: (2**32 - t) / 2**32 is exact in double."""
    p = (TWO32 - t) / TWO32
    assert Fraction(p) == Fraction(TWO32 - t, TWO32)
    return p


def _interesting_thresholds(u: np.ndarray, rng: np.random.Generator) -> list[int]:
    ts = {0, 1, 2, 3, 2**31 - 1, 2**31, 2**31 + 1, 3 << 30, TWO32 - 2, TWO32 - 1, TWO32}
    ts.update(1 << k for k in range(32))
    ts.update(int(t) | 1 for t in rng.integers(0, TWO32, 30, dtype=np.uint64))  # odd
    for _ in range(30):  # few set bits: decided after a few planes, then the rest is ">= T"
        bits = rng.choice(32, size=int(rng.integers(1, 4)), replace=False)
        ts.add(sum(1 << int(b) for b in bits))
    # thresholds right at the elements' own uniforms: U_i < U_i is false, U_i < U_i + 1 is true
    for i in rng.choice(u.size, 40, replace=False):
        value = int(u[i])
        low = int(rng.integers(0, 32))
        prefix = value >> low << low  # U_i with its low bits cleared: ends in `low` zero bits
        ts.update({value, value + 1, prefix, prefix + (1 << low)})
    return sorted(t for t in ts if 0 <= t <= TWO32)


@pytest.mark.parametrize(("key", "offset"), [(0x243F6A8885A308D3, 0), (7, TWO64 - 4)])
def test_mask_is_uniform_below_threshold(key, offset):
    """For every T, fastdrop keeps element i iff U_i < T, where U_i is the reference's 32-bit
    uniform assembled from all 32 bit planes. U_i is uniform on [0, 2**32) (32 Philox bits),
    so the keep probability is exactly T / 2**32."""
    n = 1000
    u = reference.uniforms(key, offset, n)
    assert u.max() < TWO32
    rng = np.random.default_rng([SEED, 6, offset])
    thresholds = _interesting_thresholds(u, rng)
    assert len(thresholds) > 150
    for t in thresholds:
        p = _p_for_threshold(t)
        assert _core.threshold(p) == t
        got = fastdrop.dropout_mask(n, p, rng=fastdrop.Philox(key, offset=offset))
        np.testing.assert_array_equal(got, u < t, err_msg=f"T = {t:#x}")


def test_p_zero_keeps_all_and_p_one_drops_all():
    for offset in (0, 12345, TWO64 - 1):
        keep = fastdrop.dropout_mask(3000, 0.0, rng=fastdrop.Philox(99, offset=offset))
        drop = fastdrop.dropout_mask(3000, 1.0, rng=fastdrop.Philox(99, offset=offset))
        assert keep.all()
        assert not drop.any()


def rule_keep_probability(t: int) -> Fraction:
    """The exact keep probability of fd_dropout.h's rule for threshold t, from its structure:
    the top byte of U (8 bit planes) is uniform on 0..255; below T's top byte keeps, above
    drops, equal (a tie, probability 1/256) keeps iff 24 fresh uniform bits are below T's low 24."""
    if t >= TWO32:
        return Fraction(1)
    top, low = t >> 24, t & 0xFFFFFF
    return Fraction(top, 256) + Fraction(1, 256) * Fraction(low, 2**24)


@pytest.mark.parametrize("seed", range(4))
def test_rule_keep_probability_is_exact_for_many_p(seed):
    rng = np.random.default_rng(seed)
    ps = [0.0, 0.1, 0.5, 1 / 3, 2**-33, 1 - 2**-33, 1.0, *rng.random(500).tolist()]
    for p in ps:
        t = int(_core.threshold(p))
        keep = rule_keep_probability(t)
        assert keep == Fraction(t, TWO32)
        assert abs(keep - (1 - Fraction(p))) <= Fraction(1, 2**33) < Fraction(1, TWO32)


def test_ties_follow_the_low_bits():
    """Elements whose top byte ties T's are decided by their low 24 bits, as the rule says."""
    key, n = 77, 128 * 400
    u = reference.uniforms(key, 0, n)
    tied = u >> np.uint64(24) == 0x80
    assert tied.sum() > 100  # about n / 256
    for t in (0x80000001, 0x80800000, 0x80FFFFFF):
        mask = fastdrop.dropout_mask(n, 1 - t / TWO32, rng=key)
        assert _core.threshold(1 - t / TWO32) == t
        assert np.array_equal(mask[tied], (u[tied] & np.uint64(0xFFFFFF)) < (t & 0xFFFFFF))
        assert mask[u >> np.uint64(24) < 0x80].all() and not mask[u >> np.uint64(24) > 0x80].any()
