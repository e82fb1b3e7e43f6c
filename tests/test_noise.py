"""Normal variates (fastdrop.standard_normal), Gaussian dropout, and the first two moments of
every dropout layer, with SciPy tests at ALPHA = 1e-6 on fixed keys (see test_statistics.py)."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import reference
from scipy import stats
from test_statistics import _assert_not_rejected, _keep_probability, _key

import fastdrop
from fastdrop.nn import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, GaussianDropout

N = 2**20


@pytest.fixture(scope="module")
def normals():
    return fastdrop.standard_normal(N, rng=_key("normal"))


# ---------------------------------------------------------------------------------------------
# The rule


@pytest.mark.parametrize("offset", [0, 2**32 - 1, 2**64 - 3])
def test_standard_normal_follows_the_documented_rule(offset):
    """Against the NumPy model of the formula; fastdrop computes ln, sin and cos itself, NumPy
    with the C library (whose cos(2 pi u) loses digits near its zeros), hence a tolerance."""
    n = 3 * 128 + 77  # odd: the last pair is cut; crosses the 96-bit carry at 2**64 - 3
    expected = reference.standard_normal(123456789, offset, n)
    got = fastdrop.standard_normal(n, rng=fastdrop.Philox(123456789, offset=offset))
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-14)


def test_standard_normal_known_answer():
    """The variates are fastdrop's own arithmetic (no C library calls), so these bytes are the
    same on every platform; recorded from this implementation, they catch any change to it.
    More accurate than the textbook formula: measured against 80-bit long double on 2^18
    variates, 0.5 ulp on average and 40 ulp at most, where log/cos(2 pi u) reach 85,000 ulp."""
    z = fastdrop.standard_normal(2**20, rng=fastdrop.Philox(2024, offset=2**64 - 3))
    digest = hashlib.sha256(z[:1001].astype("<f8").tobytes()).hexdigest()
    assert digest == "e66af0b261b5de13f6e732ae3e9e63d687982ae7492651ac748d6541d697bc4f"
    assert z[:3].tolist() == [0.5729393333499854, -0.6823711853833206, -0.2712245600236355]
    # 2^20 variates: a change of 1 ulp in one term of the logarithm's series moved 9 of them
    # (aarch64 under QEMU gave this digest too)
    digest = hashlib.sha256(z.astype("<f8").tobytes()).hexdigest()
    assert digest == "120460f0ab0650dc08649ddadbdc67964d6c07a7671a41d659c27b5ebc20c81d"


def test_gaussian_dropout_with_p_zero_takes_its_counters():
    """As dropout does: the call's blocks (0 and 1) are used up, and the next call gets the
    counters after them."""
    stream = fastdrop.Philox(1)
    x = np.full(256, 2.0)
    np.testing.assert_array_equal(fastdrop.gaussian_dropout(x, 0.0, rng=stream), x)
    assert stream.offset == 2
    fastdrop.gaussian_dropout(x, 0.0, rng=stream, training=False)  # evaluation draws nothing
    assert stream.offset == 2
    y = fastdrop.gaussian_dropout(x, 0.5, rng=stream)
    np.testing.assert_array_equal(y, fastdrop.gaussian_dropout(x, 0.5, rng=fastdrop.Draw(1, 2)))
    assert stream.offset == 4


def test_float32_is_the_float64_variate_rounded_once():
    z64 = fastdrop.standard_normal((300, 7), rng=3)
    z32 = fastdrop.standard_normal((300, 7), rng=3, dtype=np.float32)
    assert z32.dtype == np.float32 and z32.shape == (300, 7)
    np.testing.assert_array_equal(z32, z64.astype(np.float32))


def test_a_stream_continues_where_the_last_call_ended():
    stream = fastdrop.Philox(8)
    first, second = (
        fastdrop.standard_normal(200, rng=stream),
        fastdrop.standard_normal(5, rng=stream),
    )
    assert stream.offset == 3  # ceil(200 / 128) + ceil(5 / 128) blocks
    whole = fastdrop.standard_normal(261, rng=8)
    np.testing.assert_array_equal(first, whole[:200])
    np.testing.assert_array_equal(second, whole[256:])


def test_thread_counts_give_the_same_variates():
    before = fastdrop.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            fastdrop.set_num_threads(threads)
            results.append(fastdrop.standard_normal(3 * 2**17 + 5, rng=4))
    finally:
        fastdrop.set_num_threads(before)
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


def test_standard_normal_errors():
    with pytest.raises(TypeError, match="float32 or float64"):
        fastdrop.standard_normal(3, dtype=np.float16)
    with pytest.raises(ValueError, match="negative"):
        fastdrop.standard_normal((2, -1))
    with pytest.raises(TypeError, match="rng"):
        fastdrop.standard_normal(3, rng="seed")
    stream = fastdrop.Philox(1)
    with pytest.raises(TypeError):
        fastdrop.standard_normal(3, rng=stream, dtype=np.int32)
    assert stream.offset == 0  # a rejected call takes no counters
    assert fastdrop.standard_normal(0, rng=1).shape == (0,)


# ---------------------------------------------------------------------------------------------
# The distribution


def test_standard_normal_distribution(normals):
    _assert_not_rejected(stats.kstest(normals, "norm").pvalue, "Kolmogorov-Smirnov")
    _assert_not_rejected(stats.cramervonmises(normals, "norm").pvalue, "Cramer-von Mises")
    # The tails, where a uniform's low bits matter: 40 equiprobable cells plus |z| > 4 and 5.
    edges = np.concatenate(
        [[-np.inf, -5, -4], stats.norm.ppf(np.linspace(0, 1, 41)[1:-1]), [4, 5, np.inf]]
    )
    observed = np.histogram(normals, edges)[0]
    expected = N * np.diff(stats.norm.cdf(edges))
    assert expected.min() > 0.2  # |z| > 5 has 0.3 expected: pooled below if too sparse
    pooled_observed = np.concatenate([[observed[:2].sum()], observed[2:-2], [observed[-2:].sum()]])
    pooled_expected = np.concatenate([[expected[:2].sum()], expected[2:-2], [expected[-2:].sum()]])
    _assert_not_rejected(
        stats.chisquare(pooled_observed, pooled_expected).pvalue, "chi-square of cells and tails"
    )


@pytest.mark.parametrize("lag", [1, 2, 128, 129])
def test_neighbours_are_uncorrelated(normals, lag):
    """Pearson correlation of z_i and z_{i+lag} (lag 1: the two of a Box-Muller pair) and of
    their squares; under independence sqrt(n) r is standard normal."""
    for transform, what in ((lambda z: z, "values"), (np.square, "squares")):
        values = transform(normals)
        r = np.corrcoef(values[:-lag], values[lag:])[0, 1]
        pvalue = 2 * stats.norm.sf(abs(r) * np.sqrt(N - lag))
        _assert_not_rejected(pvalue, f"correlation of {what} at lag {lag}")


# ---------------------------------------------------------------------------------------------
# Gaussian dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_gaussian_dropout_moments(p):
    """Noise mean 1 and variance p / (1 - p): t-tests of y and of (y - 1)^2 for x = 1."""
    y = fastdrop.gaussian_dropout(np.ones(N), p, rng=_key("gaussian", p))
    variance = p / (1 - p)
    _assert_not_rejected(stats.ttest_1samp(y, 1.0).pvalue, "mean")
    _assert_not_rejected(stats.ttest_1samp((y - 1) ** 2, variance).pvalue, "variance")
    z = (y - 1) / np.sqrt(variance)
    _assert_not_rejected(stats.kstest(z, "norm").pvalue, "normal noise")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_gaussian_dropout_is_x_times_the_noise(dtype):
    x = np.random.default_rng(0).standard_normal((40, 30)).astype(dtype)
    p = 0.3
    noise_dtype = np.float64 if dtype == np.float64 else np.float32
    z = fastdrop.standard_normal(x.shape, rng=9, dtype=noise_dtype)
    noise = np.asarray(1, noise_dtype) + np.asarray(np.sqrt(p / (1 - p)), noise_dtype) * z
    expected = (x * noise).astype(dtype)
    np.testing.assert_array_equal(fastdrop.gaussian_dropout(x, p, rng=9), expected)
    out = np.empty_like(x)
    assert fastdrop.gaussian_dropout(x, p, rng=9, out=out) is out
    np.testing.assert_array_equal(out, expected)
    view = x.copy()[::2]
    fastdrop.gaussian_dropout(view, p, rng=9, out=view)  # in place, strided
    np.testing.assert_array_equal(view, fastdrop.gaussian_dropout(x[::2], p, rng=9))
    np.testing.assert_array_equal(fastdrop.gaussian_dropout(x, p, training=False), x)


def _gaussian_dropout_in_numpy(x, p, draw):
    """gaussian_dropout as NumPy computes it from standard_normal's noise: noise * sigma, + 1,
    then x * noise into x's dtype, in float64 for float64 x and float32 otherwise."""
    work = np.float64 if x.dtype == np.float64 else np.float32
    noise = fastdrop.standard_normal(x.shape, rng=draw, dtype=work)
    noise *= work(np.sqrt(p / (1 - p)))
    noise += work(1)
    result = np.empty_like(x)
    with np.errstate(over="ignore", invalid="ignore"):
        np.multiply(x, noise, out=result, casting="same_kind")
    return result


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_one_pass_kernel_gives_the_bits_of_numpys_steps(dtype):
    """Contiguous arrays take one C pass (noise and product together, fd_gaussian_dropout): the
    same bytes as NumPy's steps on standard_normal's noise, with inf, NaN, -0 and large values,
    across the counter's carry, in place, into an overlapping out, and as a strided x (which
    takes NumPy's steps) gives."""
    n = 3 * 128 + 77
    source = np.random.default_rng(5).standard_normal(n).astype(dtype)
    source[3:400:41] = [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e4, 3e-5, np.inf, 2.0, -1.5]
    for p in (0.1, 0.5, 0.9):
        for offset in (0, 2**64 - 2):
            draw = fastdrop.Draw(7, offset)
            expected = _gaussian_dropout_in_numpy(source, p, draw).view(np.uint8)
            got = fastdrop.gaussian_dropout(source, p, rng=draw)
            np.testing.assert_array_equal(got.view(np.uint8), expected)
            in_place = source.copy()
            fastdrop.gaussian_dropout(in_place, p, rng=draw, out=in_place)
            np.testing.assert_array_equal(in_place.view(np.uint8), expected)
            shared = np.empty(n + 5, dtype)
            shared[:n] = source
            fastdrop.gaussian_dropout(shared[:n], p, rng=draw, out=shared[5:])
            np.testing.assert_array_equal(shared[5:].view(np.uint8), expected)
            strided = np.empty(2 * n, dtype)[::2]
            strided[...] = source
            got = fastdrop.gaussian_dropout(strided, p, rng=draw)
            np.testing.assert_array_equal(np.ascontiguousarray(got).view(np.uint8), expected)


@pytest.mark.parametrize("layout", ["F", "transposed", "reversed"])
def test_gaussian_noise_keeps_the_input_layout(layout):
    """A new result is laid out as x (NumPy's order="K"); element i gets the noise of its logical
    C-order index, as for a C-contiguous x."""
    c_order = np.random.default_rng(1).standard_normal((6, 5, 4)).astype(np.float32)
    x = {
        "F": np.asfortranarray(c_order),
        "transposed": np.ascontiguousarray(c_order.transpose(2, 0, 1)).transpose(1, 2, 0),
        "reversed": c_order[::-1, :, ::-1].copy()[::-1, :, ::-1],
    }[layout]
    np.testing.assert_array_equal(x, c_order)
    layout_of_x = np.empty_like(x).strides
    calls = [
        lambda a: fastdrop.gaussian_dropout(a, 0.3, rng=9),
        lambda a: fastdrop.gaussian_dropout(a, 0.0, rng=9),
        lambda a: fastdrop.gaussian_dropout(a, 0.3, training=False),
        lambda a: GaussianDropout(0.3, rng=9).forward(a),
        lambda a: AlphaDropout(0.3, rng=9).forward(a),
        lambda a: GaussianDropout(0.3, rng=9).eval().forward(a),
        lambda a: AlphaDropout(0.3, rng=9).eval().forward(a),
    ]
    for call in calls:
        y = call(x)
        assert y.strides == layout_of_x
        np.testing.assert_array_equal(y, call(c_order))
    for layer in (GaussianDropout(0.3, rng=9), AlphaDropout(0.3, rng=9)):
        layer.forward(c_order)
        g = layer.backward(x)
        assert g.strides == layout_of_x
        np.testing.assert_array_equal(g, layer.backward(c_order))


def test_gaussian_dropout_rejects_bad_input_and_writes_nothing():
    x = np.ones(5)
    out = np.full(5, 7.0)
    stream = fastdrop.Philox(2)
    bad_calls = [
        (
            {"p": 1.0},
            ValueError,
            re.escape(
                "p must be in [0, 1) (the drop probability; at 1 the scale 1 / (1 - p) or the "
                "variance p / (1 - p) is infinite), got 1.0"
            ),
        ),
        ({"p": -0.5}, ValueError, r"p must be in \[0, 1\) .*, got -0.5$"),
        ({"p": "0.5"}, TypeError, r"p must be a real number \(the drop probability\), got str"),
        ({"p": None}, TypeError, "p must be a real number"),
        ({"p": True}, TypeError, "p must be a real number"),
        ({"p": 0.5, "training": 1}, TypeError, "training"),
        ({"p": 0.5, "rng": 1.5}, TypeError, "rng"),
    ]
    for kwargs, error, message in bad_calls:
        with pytest.raises(error, match=message):
            fastdrop.gaussian_dropout(x, out=out, **{"rng": stream, **kwargs})
    with pytest.raises(TypeError, match="dtype"):
        fastdrop.gaussian_dropout(np.ones(5, np.int32), 0.5, rng=stream)
    with pytest.raises(ValueError, match="shape"):
        fastdrop.gaussian_dropout(x, 0.5, rng=stream, out=np.ones(4))
    np.testing.assert_array_equal(out, 7.0)
    assert stream.offset == 0


# ---------------------------------------------------------------------------------------------
# The layers' first two moments


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_layer_moments(p, mode):
    """y takes two values, 0 and c (the scaled x), so its mean and variance are those of the
    kept count, which must be Binomial(n, T / 2^32)."""
    layer = Dropout(p, mode, rng=_key("layer", p, mode))
    y = layer.forward(np.full(N, 3.0))
    scaled = 3.0 / (1 - p) if mode == "inverted" else 3.0
    assert set(np.unique(y)) <= {0.0, scaled}
    kept = int(np.count_nonzero(y))
    _assert_not_rejected(stats.binomtest(kept, N, _keep_probability(p)).pvalue, "kept count")
    expected_mean = 3.0 if mode == "inverted" else 3.0 * (1 - p)
    assert layer.eval().forward(np.full(4, 3.0)) == pytest.approx(expected_mean)


@pytest.mark.parametrize(
    "make, shape, shared",
    [
        (lambda: Dropout(0.3, rng=_key("locked"), axes=(0,)), (20, 512, 64), (0,)),
        (lambda: Dropout1d(0.3, rng=_key("channels 1d")), (64, 256, 16), (2,)),
        (lambda: Dropout2d(0.3, rng=_key("channels")), (64, 256, 4, 4), (2, 3)),
        (lambda: Dropout3d(0.3, rng=_key("channels 3d")), (64, 256, 2, 2, 4), (2, 3, 4)),
    ],
)
def test_shared_mask_layer_moments(make, shape, shared):
    """One decision per mask entry, the same along the shared axes; the count of kept entries is
    Binomial(entries, T / 2^32)."""
    y = make().forward(np.ones(shape))
    first = y[tuple(slice(0, 1) if axis in shared else slice(None) for axis in range(len(shape)))]
    assert (y == first).all()
    kept = int(np.count_nonzero(first))
    _assert_not_rejected(stats.binomtest(kept, first.size, _keep_probability(0.3)).pvalue, "kept")
    assert set(np.unique(first)) <= {0.0, 1 / 0.7}


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5])
def test_alpha_dropout_keeps_zero_mean_and_unit_variance(p):
    x = np.random.default_rng(_key("alpha input", p)).standard_normal(N)
    y = AlphaDropout(p, rng=_key("alpha", p)).forward(x)
    _assert_not_rejected(stats.ttest_1samp(y, 0.0).pvalue, "mean 0")
    _assert_not_rejected(stats.ttest_1samp(y * y, 1.0).pvalue, "second moment 1")
    layer = AlphaDropout(p)
    saturated = int(np.count_nonzero(y == np.float64(layer.a * layer.saturation + layer.b)))
    _assert_not_rejected(stats.binomtest(saturated, N, 1 - _keep_probability(p)).pvalue, "drops")


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_gaussian_dropout_layer_moments(p):
    x = np.random.default_rng(_key("gaussian layer input", p)).uniform(-2, 2, N)
    y = GaussianDropout(p, rng=_key("gaussian layer", p)).forward(x)
    noise = y / x
    _assert_not_rejected(stats.ttest_1samp(noise, 1.0).pvalue, "mean")
    _assert_not_rejected(stats.ttest_1samp((noise - 1) ** 2, p / (1 - p)).pvalue, "variance")
