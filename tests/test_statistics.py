"""Statistical tests of fastdrop's masks with SciPy: keep rates, unbiasedness, independence.

Every test draws its mask from a fixed key (derived from SEED and the test's name), so it
gives the same verdict on every run: there is no flakiness. Each rejects its null hypothesis at
ALPHA = 1e-6, which is the test's false-failure rate: had the key been chosen at random, a correct
implementation would fail a given test with probability at most 1e-6 (and the whole file, by
the union bound, with probability at most 1e-6 times the number of tests, under 1e-4).

Where a probability enters a test it is the exact keep probability T / 2**32 of the rule in
src_c/fd_dropout.h (within 2**-33 of 1 - p), not 1 - p. fastdrop's p is the DROP probability.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from itertools import product

import numpy as np
import pytest
from scipy import stats

import fastdrop
from fastdrop import _core

ALPHA = 1e-6  # per-test false-failure rate (see the module docstring)
SEED = 20240917
TWO32 = 2**32
KEEP_RATE_N = 1_000_000
BIG_N = 2**25  # elements of the masks the structure tests share (one per p)
MIN_EXPECTED = 10  # smallest expected cell count a chi-square test here may rely on

KEEP_RATE_PS = [0.01, 0.1, 0.3, 1 / 3, 0.5, 0.7, 0.9, 0.99]
DTYPES = [np.float16, np.float32, np.float64]


def _key(*tags: object) -> int:
    """A fixed 64-bit key for one test: a hash of SEED and the tags."""
    text = ":".join(map(str, (SEED, *tags))).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _keep_probability(p: float) -> float:
    """The exact keep probability T / 2**32 (a double: T has at most 33 bits)."""
    return _core.threshold(p) / TWO32


def _assert_not_rejected(pvalue: float, what: str) -> None:
    assert pvalue > ALPHA, f"{what}: p-value {pvalue:.3g} <= alpha {ALPHA}"


# ---------------------------------------------------------------------------------------------
# Keep rate: the number of kept elements is Binomial(n, T / 2**32)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("p", KEEP_RATE_PS, ids=repr)
def test_keep_rate_of_dropout(p, dtype):
    y = fastdrop.dropout(np.ones(KEEP_RATE_N, dtype), p, rng=_key("rate", p, dtype.__name__))
    kept = int(np.count_nonzero(y))
    result = stats.binomtest(kept, KEEP_RATE_N, _keep_probability(p))
    _assert_not_rejected(result.pvalue, f"{kept} kept of {KEEP_RATE_N} at p = {p}")


@pytest.mark.slow
@pytest.mark.parametrize("p", KEEP_RATE_PS, ids=repr)
def test_keep_rate_of_dropout_mask(p):
    mask = fastdrop.dropout_mask((1000, 1000), p, rng=_key("rate-mask", p))
    kept = int(np.count_nonzero(mask))
    result = stats.binomtest(kept, mask.size, _keep_probability(p))
    _assert_not_rejected(result.pvalue, f"{kept} kept of {mask.size} at p = {p}")


# ---------------------------------------------------------------------------------------------
# Inverted dropout is unbiased: E[y_i] = x_i


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_inverted_dropout_preserves_the_mean(p, dtype):
    """d_i = y_i - x_i are independent with mean 0 (x_i fixed, the masks independent), so
    sum(d) / sqrt(sum(d**2)) is asymptotically standard normal (Lindeberg) and the one-sample
    t-test of mean(d) = 0 is valid at n = 10**6 although the d_i are not identically
    distributed. The float rounding of x * 1/(1-p) biases E[d] by far less than the test's
    standard error (about 1e-3 here)."""
    rng = np.random.default_rng(_key("inverted-x", p, dtype.__name__))
    x = rng.uniform(-1.0, 3.0, KEEP_RATE_N).astype(dtype)
    y = fastdrop.dropout(x, p, rng=_key("inverted", p, dtype.__name__))
    d = y.astype(np.float64) - x.astype(np.float64)
    assert 0 < np.count_nonzero(y) < np.count_nonzero(x)  # something was dropped and kept
    result = stats.ttest_1samp(d, 0.0)
    _assert_not_rejected(result.pvalue, f"mean of y - x = {d.mean():.3g} at p = {p}")


# The bound on |fl(x * scale) / (x / (1 - p)) - 1| for the kept value: the dtype's rounding of
# the product plus the roundings of 1 - p, 1 / (1 - p) and (float16, float32) of the scale to
# float32, with a factor of 2 to spare.
_ROUNDING = {np.float16: 2.0**-11 + 2.0**-21, np.float32: 2.0**-22, np.float64: 2.0**-50}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("p", [0.01, 0.1, 1 / 3, 0.5, 0.9, 0.99])
def test_inverted_dropout_expectation_is_exact_for_constant_input(p, dtype):
    """For constant x, y is 0 or c = the kept value, so E[y] = (T / 2**32) * c exactly (the
    count of kept elements is Binomial(n, T / 2**32), tested above). Here E[y] is compared
    with x in exact arithmetic."""
    q = Fraction(_core.threshold(p), TWO32)
    for value in (1.0, 0.75, -3.0, 100.0):  # 100 / (1 - 0.99) still fits float16
        x = np.full(4096, value, dtype)  # none kept at p = 0.99: probability 1e-18
        y, mask = fastdrop.dropout(x, p, rng=_key("exact", p, value), return_mask=True)
        kept = np.unique(y[mask])
        assert kept.size == 1
        assert not y[~mask].any()
        expectation = q * Fraction(float(kept[0]))
        xv = Fraction(float(x[0]))
        bound = abs(xv) * (Fraction(_ROUNDING[dtype]) + Fraction(1, TWO32) / (1 - Fraction(p)))
        assert abs(expectation - xv) <= bound, (value, float(expectation), float(xv))


# ---------------------------------------------------------------------------------------------
# The two-input neuron of README's "Why 1/(1-p)": z = w1 * x1 + w2 * x2 under vanilla dropout.
# fastdrop's p is the DROP probability; the dropout paper writes p for the KEEP
# probability, which is 1 - p here. Vanilla dropout does not scale in training, so
# E[z] = (1 - p) * (w1 * x1 + w2 * x2), and evaluation multiplies by 1 - p to match.

NEURONS = [  # (x1, x2, w1, w2, p)
    (1.0, 1.0, 1.0, 1.0, 0.5),
    (0.3, -1.7, 2.5, 0.75, 0.2),
    (3.0, 5.0, -0.5, 0.125, 1 / 3),
    (1.0, 2.0, 0.5, -1.0, 0.9),
    (-2.25, 0.1, 1e3, 7.0, 0.05),
]


@pytest.mark.parametrize(("x1", "x2", "w1", "w2", "p"), NEURONS)
def test_two_input_neuron_exact_expectation(x1, x2, w1, w2, p):
    X1, X2, W1, W2, P = map(Fraction, (x1, x2, w1, w2, p))
    exact_sum = W1 * X1 + W2 * X2

    def expectation(keep: Fraction) -> Fraction:
        """E[z] by enumerating the four masks (m1, m2), each element kept with prob `keep`."""
        total = Fraction(0)
        for m1, m2 in product((0, 1), repeat=2):
            probability = (keep if m1 else 1 - keep) * (keep if m2 else 1 - keep)
            total += probability * (W1 * m1 * X1 + W2 * m2 * X2)
        return total

    assert expectation(1 - P) == (1 - P) * exact_sum
    # with fastdrop's exact keep probability T / 2**32, within 2**-33 of 1 - p
    q = Fraction(_core.threshold(p), TWO32)
    assert expectation(q) == q * exact_sum
    assert abs(expectation(q) - expectation(1 - P)) <= Fraction(1, 2 * TWO32) * abs(exact_sum)

    # evaluation mode of vanilla dropout gives that expectation, up to float64 rounding:
    # fl(1 - p), the two products with it, the two with w and the sum, each a relative 2**-53
    scaled = fastdrop.dropout(np.array([x1, x2]), p, training=False, mode="vanilla")
    z = Fraction(float(scaled @ np.array([w1, w2])))
    bound = Fraction(6, 2**53) * (1 - P) * (abs(W1 * X1) + abs(W2 * X2))
    assert abs(z - expectation(1 - P)) <= bound


@pytest.mark.slow
@pytest.mark.parametrize(("x1", "x2", "w1", "w2", "p"), NEURONS)
def test_two_input_neuron_monte_carlo(x1, x2, w1, w2, p):
    """N independent draws of z = m1 * w1 * x1 + m2 * w2 * x2 (vanilla training, no scaling):
    a one-sample t-test of E[z] = (1 - p) * (w1 * x1 + w2 * x2). The rows are independent
    and identically distributed with finite variance, so the t-test is valid at N = 10**6."""
    n = KEEP_RATE_N
    inputs = np.tile(np.array([x1, x2]), (n, 1))
    y = fastdrop.dropout(inputs, p, rng=_key("neuron", x1, x2, p), mode="vanilla")
    assert set(np.unique(y[:, 0])) <= {0.0, x1}  # no scaling in vanilla training
    z = y @ np.array([w1, w2])
    mean = (1 - p) * (w1 * x1 + w2 * x2)
    result = stats.ttest_1samp(z, mean)
    _assert_not_rejected(result.pvalue, f"mean z = {z.mean():.6g}, expected {mean:.6g}")


# ---------------------------------------------------------------------------------------------
# Independence. The rule's structure: element i is bit i % 32 of word (i % 128) // 32 of the
# Philox outputs of counter block i // 128, one output per bit plane. Tests look at pairs and
# groups across those boundaries, for p = 0.5 (plane 0 alone decides) and p = 0.3 and 0.1
# (several planes).


@pytest.fixture(scope="module")
def big_mask():
    """big_mask(p): one mask of BIG_N elements per p, made once for the module."""
    masks: dict[float, np.ndarray] = {}

    def get(p: float) -> np.ndarray:
        if p not in masks:
            masks[p] = fastdrop.dropout_mask(BIG_N, p, rng=_key("big", p))
            masks[p].flags.writeable = False
        return masks[p]

    yield get
    masks.clear()


def _table(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 2x2 table of counts of (a_i, b_i)."""
    codes = 2 * a.ravel().astype(np.int64) + b.ravel()
    return np.bincount(codes, minlength=4).reshape(2, 2)


def _assert_independent(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Pearson's chi-square test of independence of the pairs (a_i, b_i), pairs independent of
    each other (no element in two pairs). No continuity correction: the counts are large."""
    table = _table(a, b)
    _, pvalue, dof, expected = stats.chi2_contingency(table, correction=False)
    assert dof == 1
    assert expected.min() >= MIN_EXPECTED
    _assert_not_rejected(pvalue, f"{what}: table {table.tolist()}")


@pytest.mark.slow
@pytest.mark.parametrize("p", [0.5, 0.3])
@pytest.mark.parametrize(
    ("lag", "start"),
    [
        (1, 0),  # (2k, 2k + 1): inside a word
        (1, 1),  # (2k + 1, 2k + 2): includes bit 31 / bit 0 of the next word and block
        (32, 0),  # the same bit of words 0 and 1, 2 and 3 of a block
        (32, 32),  # words 1 and 2, and word 3 with word 0 of the next block
        (128, 0),  # the same lane of consecutive counter blocks
        (128, 128),
    ],
)
def test_pairs_at_lag_are_independent(big_mask, lag, start, p):
    mask = big_mask(p)
    count = (mask.size - start) // (2 * lag)
    pairs = mask[start : start + count * 2 * lag].reshape(count, 2, lag)
    _assert_independent(pairs[:, 0], pairs[:, 1], f"elements i and i + {lag}, p = {p}")


@pytest.mark.slow
@pytest.mark.parametrize("p", [0.5, 0.3])
def test_keep_rate_is_the_same_at_every_position_of_a_block(big_mask, p):
    """A 128 x 2 contingency table: kept / dropped counts by the element's lane i % 128."""
    blocks = big_mask(p).reshape(-1, 128)
    kept = blocks.sum(axis=0)
    table = np.stack([kept, blocks.shape[0] - kept], axis=1)
    _, pvalue, dof, expected = stats.chi2_contingency(table)
    assert dof == 127
    assert expected.min() >= MIN_EXPECTED
    _assert_not_rejected(pvalue, f"keep counts by lane, p = {p}")


@pytest.mark.slow
@pytest.mark.parametrize("p", [0.5, 0.3])
@pytest.mark.parametrize("flip", [1, 1 << 32, 1 << 63], ids=["key+1", "high-word", "top-bit"])
def test_related_keys_give_independent_masks(flip, p):
    """The masks of keys k and k ^ flip (or k + 1), compared at the same index."""
    key = _key("related", p) & ~1  # even, so k ^ 1 = k + 1
    first = fastdrop.dropout_mask(2**22, p, rng=key)
    second = fastdrop.dropout_mask(2**22, p, rng=key ^ flip)
    _assert_independent(first, second, f"keys {key:#x} and {key ^ flip:#x}, p = {p}")


@pytest.mark.slow
@pytest.mark.parametrize("p", [0.5, 0.3])
def test_consecutive_calls_of_a_stream_are_independent(p):
    stream = fastdrop.Philox(_key("stream", p))
    n = 1_000_003  # not a multiple of 128: the second call starts at the next whole block
    first = fastdrop.dropout_mask(n, p, rng=stream)
    second = fastdrop.dropout_mask(n, p, rng=stream)
    blocks = -(-n // 128)
    assert stream.offset == 2 * blocks
    assert np.array_equal(
        second, fastdrop.dropout_mask(n, p, rng=fastdrop.Draw(stream.key, blocks))
    )
    _assert_independent(first, second, f"consecutive calls, p = {p}")


def _pattern_probabilities(size: int, q: float) -> np.ndarray:
    """P(pattern) of `size` independent Bernoulli(q) bits, pattern bit j = element j."""
    ones = np.array([bin(code).count("1") for code in range(2**size)])
    return q**ones * (1 - q) ** (size - ones)


def _assert_patterns_multinomial(groups: np.ndarray, p: float, what: str) -> None:
    """Chi-square goodness of fit of the patterns of the rows of `groups` (n, size) to the
    multinomial of independent elements kept with probability T / 2**32."""
    size = groups.shape[1]
    codes = np.packbits(groups, axis=1, bitorder="little")[:, 0]
    observed = np.bincount(codes, minlength=2**size)
    expected = groups.shape[0] * _pattern_probabilities(size, _keep_probability(p))
    assert expected.min() >= MIN_EXPECTED, "too few groups for a chi-square test"
    result = stats.chisquare(observed, expected)
    _assert_not_rejected(result.pvalue, f"{what}, p = {p}")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "start", "period", "p"),
    [
        (size, start, period, p)
        for size, ps in ((4, (0.5, 0.3, 0.1)), (8, (0.5, 0.3)))
        for start, period in (
            (0, size),  # consecutive groups aligned at 0 mod size
            (32 - size // 2, 32),  # one group a word, straddling two words
            (128 - size // 2, 128),  # one group a block, straddling two counter blocks
        )
        for p in ps
    ],
)
def test_patterns_of_consecutive_elements(big_mask, size, start, period, p):
    """Groups of `size` consecutive elements starting at start + k * period, k = 0, 1, ...:
    the 2**size patterns follow the multinomial of independent Bernoulli(T / 2**32)."""
    mask = big_mask(p)
    count = (mask.size - start) // period
    groups = mask[start : start + count * period].reshape(count, period)[:, :size]
    _assert_patterns_multinomial(groups, p, f"{size} elements at {start} mod {period}")


@pytest.mark.slow
@pytest.mark.parametrize("p", [0.5, 0.3, 0.1])
def test_patterns_of_one_bit_in_the_four_words(big_mask, p):
    """Elements i, i + 32, i + 64, i + 96 with i % 128 < 32: the same bit of the four output
    words of each Philox call."""
    blocks = big_mask(p).reshape(-1, 4, 32)
    groups = blocks.transpose(0, 2, 1).reshape(-1, 4)
    _assert_patterns_multinomial(groups, p, "bit j of words 0..3")
