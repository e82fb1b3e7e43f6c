"""Dask arrays and xarray DataArrays: every chunked result equals the NumPy call on the computed
input bit for bit, whatever the chunking and the scheduler, a real two-process LocalCluster
included; rng is resolved when the graph is built; bad input fails then, with nothing computed.
Monte-Carlo dropout of the MLP gives each row the same masks however the rows are batched.

The test extra installs dask, distributed and xarray (fastdrop[dask]); tests/conftest.py leaves
this file out only where they are not installed (the run with the oldest dependencies).
"""

from __future__ import annotations

import itertools
import math
import pickle

import dask
import dask.array as da
import ml_dtypes
import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster
from hypothesis import given, settings
from hypothesis import strategies as st
from isolated import run_python

import fastdrop
from fastdrop.nn import MLP, Linear

SCHEDULERS = ["sync", "threads"]


@pytest.fixture(scope="module")
def client():
    """Two worker processes on loopback, started and closed here (about 3 s)."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # its HTTP server on any free port (not 8787)
            scheduler_kwargs={"dashboard": False},
        ) as cluster,
        Client(cluster) as connection,
    ):
        yield connection


def _bits(array):
    """An array's bytes, in C order: equal bits, not just equal values (0.0 and -0.0, NaNs)."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def _values(shape, dtype, seed=0):
    values = np.random.default_rng(seed).standard_normal(shape) * 4
    return values.astype(dtype)


# Chunkings of every kind: regular, irregular, single elements, one chunk, 0-d, empty.
CASES = [
    ((), ()),
    ((1,), (1,)),
    ((1000,), (128,)),
    ((1000,), ((1, 127, 129, 256, 487),)),
    ((37, 75), ((10, 27), (1, 30, 44))),
    ((7, 9), (1, 1)),
    ((6, 5, 4, 3), (1, 2, 3, 2)),
    ((6, 5, 4, 3), ((3, 3), (5,), (1, 3), (3,))),
    ((300, 257), (300, 257)),
    ((0, 7), (1, 3)),
]


@pytest.mark.parametrize(("shape", "chunks"), CASES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, ml_dtypes.bfloat16])
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_dropout_of_any_chunking_is_the_numpy_call(shape, chunks, dtype, scheduler):
    x = _values(shape, dtype)
    lazy = da.from_array(x, chunks=chunks)
    for p in (0.1, 0.5):
        y, mask = fastdrop.dropout(x, p, rng=9, return_mask=True)
        lazy_y, lazy_mask = fastdrop.dropout(lazy, p, rng=9, return_mask=True)
        assert isinstance(lazy_y, da.Array) and isinstance(lazy_mask, da.Array)
        got_y, got_mask = dask.compute(lazy_y, lazy_mask, scheduler=scheduler)
        assert got_y.dtype == y.dtype and got_mask.dtype == np.bool_
        np.testing.assert_array_equal(_bits(got_y), _bits(y))  # bits
        np.testing.assert_array_equal(got_mask, mask)
        alone = fastdrop.dropout(lazy, p, rng=9).compute(scheduler=scheduler)
        np.testing.assert_array_equal(_bits(alone), _bits(y))


@pytest.mark.parametrize(("shape", "chunks"), CASES)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_masks_and_normals_of_any_chunking_are_the_numpy_ones(shape, chunks, scheduler):
    draw = fastdrop.Philox(3, offset=(1 << 64) - 5).draw(1)  # counters carry into the 3rd word
    mask = fastdrop.dropout_mask(shape, 0.3, rng=draw, chunks=chunks)
    np.testing.assert_array_equal(
        mask.compute(scheduler=scheduler), fastdrop.dropout_mask(shape, 0.3, rng=draw)
    )
    size = math.prod(shape)
    for byte_chunks in sorted({1 if size < 100 else 3, max(size // 200, 1), max(size // 40, 1)}):
        packed = fastdrop.dropout_mask(shape, 0.3, rng=draw, packed=True, chunks=byte_chunks)
        np.testing.assert_array_equal(
            packed.compute(scheduler=scheduler),
            fastdrop.dropout_mask(shape, 0.3, rng=draw, packed=True),
        )
    for dtype in (np.float32, np.float64):
        normal = fastdrop.standard_normal(shape, rng=draw, dtype=dtype, chunks=chunks)
        assert normal.dtype == dtype
        np.testing.assert_array_equal(
            _bits(normal.compute(scheduler=scheduler)),
            _bits(fastdrop.standard_normal(shape, rng=draw, dtype=dtype)),
        )


@pytest.mark.parametrize(("shape", "chunks"), CASES[2:8])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_gaussian_dropout_of_any_chunking_is_the_numpy_call(shape, chunks, dtype):
    x = _values(shape, dtype)
    lazy = da.from_array(x, chunks=chunks)
    for p in (0.2, 0.0):
        expected = fastdrop.gaussian_dropout(x, p, rng=4)
        got = fastdrop.gaussian_dropout(lazy, p, rng=4).compute()
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(_bits(got), _bits(expected))
    evaluated = fastdrop.gaussian_dropout(lazy, 0.2, training=False).compute()
    np.testing.assert_array_equal(evaluated, x)


@st.composite
def chunked_arrays(draw):
    """A shape of 1 to 4 dimensions and a random partition of each extent."""
    shape = draw(st.lists(st.integers(1, 40), min_size=1, max_size=4))
    chunks = []
    for extent in shape:
        cuts = draw(st.lists(st.integers(1, extent - 1), max_size=4)) if extent > 1 else []
        edges = [0, *sorted(set(cuts)), extent]
        chunks.append(tuple(b - a for a, b in itertools.pairwise(edges)))
    return tuple(shape), tuple(chunks)


@settings(max_examples=60, deadline=None)
@given(
    chunked_arrays(),
    st.sampled_from([np.float16, np.float32, np.float64]),
    st.sampled_from([0.0, 0.1, 0.5, 1 / 3, 0.999]),
    st.sampled_from(["inverted", "vanilla"]),
    st.booleans(),
)
def test_dropout_of_random_chunkings_is_the_numpy_call(case, dtype, p, mode, layout):
    shape, chunks = case
    x = _values(shape, dtype, seed=len(shape))
    if layout:  # chunks of a Fortran-ordered array: strided blocks
        x = np.asfortranarray(x)
    lazy = da.from_array(x, chunks=chunks)
    y, mask = fastdrop.dropout(x, p, rng=11, mode=mode, return_mask=True)
    got_y, got_mask = dask.compute(
        *fastdrop.dropout(lazy, p, rng=11, mode=mode, return_mask=True), scheduler="sync"
    )
    np.testing.assert_array_equal(_bits(got_y), _bits(y))
    np.testing.assert_array_equal(got_mask, mask)


def test_evaluation_and_byte_swapped_input():
    x = _values((50, 30), np.float32)
    lazy = da.from_array(x, chunks=(7, 11))
    for mode in ("inverted", "vanilla"):
        y, mask = fastdrop.dropout(lazy, 0.3, training=False, mode=mode, return_mask=True)
        np.testing.assert_array_equal(
            y.compute(), fastdrop.dropout(x, 0.3, training=False, mode=mode)
        )
        assert mask.compute().all()
    swapped = x.astype(x.dtype.newbyteorder(">"))
    result = fastdrop.dropout(da.from_array(swapped, chunks=(7, 11)), 0.3, rng=2)
    assert result.dtype == np.float32 and result.dtype.isnative
    np.testing.assert_array_equal(result.compute(), fastdrop.dropout(x, 0.3, rng=2))


def test_a_stream_is_resolved_when_the_graph_is_built():
    """A Philox stream reserves the whole array's counters at call time: computing twice gives
    the same bits, which are those of the NumPy call with that draw."""
    x = _values((100, 33), np.float32)
    lazy = da.from_array(x, chunks=(9, 10))
    stream = fastdrop.Philox(5, offset=17)
    y = fastdrop.dropout(lazy, 0.5, rng=stream)
    assert stream.offset == 17 + math.ceil(x.size / 128)
    first, second = y.compute(), y.compute(scheduler="threads")
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, fastdrop.dropout(x, 0.5, rng=fastdrop.Draw(5, 17)))
    mask = fastdrop.dropout_mask((100, 33), 0.5, rng=stream, chunks=10)
    np.testing.assert_array_equal(
        mask.compute(), fastdrop.dropout_mask((100, 33), 0.5, rng=fastdrop.Draw(5, 17 + 26))
    )
    assert stream.offset == 17 + 2 * 26


class _Recorder:
    """A Dask array whose chunks, when computed, are counted: to see that nothing is."""

    def __init__(self, dtype):
        self.calls = 0
        self.dtype = dtype

    def make(self):
        self.calls += 1
        return np.ones((4, 5), self.dtype)

    def array(self):
        return da.from_delayed(dask.delayed(self.make)(), (4, 5), dtype=self.dtype)


@pytest.mark.parametrize(
    ("call", "error", "message", "numpy_too"),
    [
        (lambda x: fastdrop.dropout(x, 1.5), ValueError, "p must be in", True),
        (lambda x: fastdrop.dropout(x, "half"), TypeError, "p must be a real number", True),
        (lambda x: fastdrop.dropout(x, 0.5, rng=-1), ValueError, "rng must be", True),
        (lambda x: fastdrop.dropout(x, 0.5, rng="seed"), TypeError, "rng must be", True),
        (lambda x: fastdrop.dropout(x, 0.5, training=1), TypeError, "training must be", True),
        (lambda x: fastdrop.dropout(x.astype(int), 0.5), TypeError, "float16, float32", True),
        (lambda x: fastdrop.dropout(x, 0.5, out=np.ones((4, 5))), TypeError, "out is not", False),
        (lambda x: fastdrop.dropout(x[x[:, 0] > 0], 0.5), ValueError, "unknown size", False),
        (lambda x: fastdrop.gaussian_dropout(x, 1.0), ValueError, "p must be in", True),
        (lambda x: fastdrop.gaussian_dropout(x.astype(int), 0.5), TypeError, "float16", True),
        (lambda x: fastdrop.gaussian_dropout(x, 0.5, out=x), TypeError, "out is not", False),
        (lambda x: fastdrop.gaussian_dropout(x[x[:, 0] > 0], 0.5), ValueError, "unknown", False),
    ],
)
def test_bad_input_fails_when_the_graph_is_built(call, error, message, numpy_too):
    """The exception NumPy input gets (where NumPy input can be wrong that way), with nothing
    computed and no counters taken."""
    recorder = _Recorder(np.float32)
    with pytest.raises(error, match=message):
        call(recorder.array())
    assert recorder.calls == 0
    if numpy_too:
        with pytest.raises(error, match=message):
            call(np.ones((4, 5), np.float32))


def test_a_failed_call_takes_no_counters():
    stream = fastdrop.Philox(1)
    lazy = da.ones((4, 5), chunks=2, dtype=np.float32)
    for bad in (
        lambda: fastdrop.dropout(lazy, 0.5, rng=stream, out=lazy),
        lambda: fastdrop.dropout(lazy[lazy[:, 0] > 0], 0.5, rng=stream),
        lambda: fastdrop.dropout(lazy.astype(int), 0.5, rng=stream),
    ):
        with pytest.raises((TypeError, ValueError)):
            bad()
    assert stream.offset == 0


def test_nothing_is_computed_when_the_graph_is_built():
    recorder = _Recorder(np.float64)
    x = recorder.array()
    results = [
        fastdrop.dropout(x, 0.5, rng=1),
        *fastdrop.dropout(x, 0.5, rng=1, return_mask=True),
        fastdrop.gaussian_dropout(x, 0.5, rng=1),
    ]
    assert recorder.calls == 0
    dask.compute(*results, scheduler="sync")
    assert recorder.calls >= 1


def test_chunks_are_checked_as_dask_checks_them():
    with pytest.raises(ValueError):
        fastdrop.dropout_mask((10, 10), 0.5, chunks=(3, 3, 3))
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        fastdrop.standard_normal((10,), dtype=np.int32, chunks=3)


@pytest.mark.parametrize("chunked", [False, True])
def test_xarray_keeps_dims_coords_name_and_attrs(chunked):
    x = _values((12, 7), np.float32)
    array = xr.DataArray(
        x,
        dims=("time", "station"),
        coords={"time": np.arange(12), "station": list("abcdefg")},
        name="temperature",
        attrs={"units": "K"},
    )
    if chunked:
        array = array.chunk({"time": 5, "station": 3})
    y, mask = fastdrop.dropout(array, 0.4, rng=3, return_mask=True)
    noisy = fastdrop.gaussian_dropout(array, 0.4, rng=3)
    for result in (y, noisy):
        assert isinstance(result, xr.DataArray)
        assert result.dims == array.dims and result.name == "temperature"
        assert result.attrs == {"units": "K"}
        xr.testing.assert_identical(result.coords.to_dataset(), array.coords.to_dataset())
        assert isinstance(result.data, da.Array) == chunked
    assert mask.dims == array.dims and mask.dtype == np.bool_
    expected, expected_mask = fastdrop.dropout(x, 0.4, rng=3, return_mask=True)
    np.testing.assert_array_equal(y.values, expected)
    np.testing.assert_array_equal(mask.values, expected_mask)
    np.testing.assert_array_equal(noisy.values, fastdrop.gaussian_dropout(x, 0.4, rng=3))
    with pytest.raises(TypeError, match="out is not supported"):
        fastdrop.dropout(array, 0.4, out=x)


# -- Monte-Carlo dropout that does not depend on batching ---------------------------------------


def _identity_model():
    """Dropout on the input of one Linear layer whose weight is the identity: the logits are
    the masked inputs themselves, exactly (no rounding in the products), so masks can be read."""
    model = MLP([6, 6], dropout=[0.5], rng=3, dtype=np.float64, standardize=False)
    layer = next(layer for layer in model.network if isinstance(layer, Linear))
    layer.weight.value[...] = np.eye(6)
    return model


def test_monte_carlo_masks_do_not_depend_on_batching():
    model = _identity_model()
    X = np.random.default_rng(0).uniform(1, 2, (50, 6))
    whole = model.predict_proba(X, mc_samples=7)
    again = model.predict_proba(X, mc_samples=7)
    np.testing.assert_array_equal(whole[0], again[0])
    for size in (1, 3, 16, 49):
        parts = [
            model.predict_proba(X[i : i + size], mc_samples=7, first_row=i)
            for i in range(0, 50, size)
        ]
        for k in (0, 1):
            np.testing.assert_array_equal(np.concatenate([part[k] for part in parts]), whole[k])
    # another first_row: other rows' masks
    shifted = model.predict_proba(X, mc_samples=7, first_row=1)
    assert not np.array_equal(shifted[0], whole[0])
    np.testing.assert_array_equal(shifted[0][:-1], model.predict_proba(X[:-1], 7, first_row=1)[0])


def test_monte_carlo_rng_and_the_key_kept_by_the_model(tmp_path):
    model = _identity_model()
    X = np.random.default_rng(1).uniform(1, 2, (20, 6))
    default = model.predict_proba(X, mc_samples=5)[0]
    np.testing.assert_array_equal(
        model.predict_proba(X, mc_samples=5, rng=fastdrop.Draw(model.mc_key))[0], default
    )
    seeded = model.predict_proba(X, mc_samples=5, rng=12)[0]
    assert not np.array_equal(seeded, default)
    np.testing.assert_array_equal(model.predict_proba(X, mc_samples=5, rng=12)[0], seeded)
    stream = fastdrop.Philox(12)
    first = model.predict_proba(X, mc_samples=5, rng=stream)[0]
    np.testing.assert_array_equal(first, seeded)  # the stream's first block: the int's draw
    assert stream.offset == 1
    assert not np.array_equal(model.predict_proba(X, mc_samples=5, rng=stream)[0], first)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = MLP.load(path, rng=99)
    assert loaded.mc_key == model.mc_key
    np.testing.assert_array_equal(loaded.predict_proba(X, mc_samples=5)[0], default)
    copied = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copied.predict_proba(X, mc_samples=5)[0], default)
    assert MLP([6, 6], rng=3).mc_key == model.mc_key != MLP([6, 6], rng=4).mc_key


def test_monte_carlo_checks_its_arguments():
    model = _identity_model()
    X = np.ones((2, 6))
    with pytest.raises(ValueError, match="first_row"):
        model.predict_proba(X, mc_samples=2, first_row=-1)
    with pytest.raises(TypeError, match="first_row"):
        model.predict_proba(X, mc_samples=2, first_row=1.5)
    with pytest.raises(ValueError, match="first_row"):
        model.predict_proba(X, mc_samples=2, first_row=(1 << 62) // 6)
    with pytest.raises(TypeError, match="rng"):
        model.predict_proba(X, mc_samples=2, rng="seed")
    lazy = da.from_array(np.ones((4, 5)), chunks=2)
    with pytest.raises(ValueError, match="shape"):
        model.predict_proba(lazy, mc_samples=2)


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 20)).astype(np.float32)
    y = (X[:, :10].sum(axis=1) > 0).astype(int)
    model = MLP([20, 64, 64, 2], dropout=[0.2, 0.5, 0.5], rng=1)
    model.fit(X, y, epochs=2, verbose=False)
    return model, X


def _chunk_by_chunk(model, X, chunks, **kwargs):
    """The NumPy calls on each chunk of rows, each with its own first_row, concatenated."""
    parts, first = [], 0
    for size in chunks:
        parts.append(model.predict_proba(X[first : first + size], first_row=first, **kwargs))
        first += size
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(column) for column in zip(*parts, strict=True))
    return np.concatenate(parts)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_monte_carlo_over_a_dask_array_of_rows(trained, scheduler):
    model, X = trained
    chunks = (700, 1, 299, 1000)
    lazy = da.from_array(X, chunks=(chunks, (7, 13)))
    mean, spread = model.predict_proba(lazy, mc_samples=6)
    assert isinstance(mean, da.Array) and mean.chunks == (chunks, (2,))
    got = dask.compute(mean, spread, scheduler=scheduler)
    expected = _chunk_by_chunk(model, X, chunks, mc_samples=6)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)  # each chunk scored as the NumPy call scores it
    whole = model.predict_proba(X, mc_samples=6)
    np.testing.assert_allclose(got[0], whole[0], rtol=1e-5, atol=1e-6)  # BLAS rounding only
    labels = model.predict(lazy, mc_samples=6).compute(scheduler=scheduler)
    np.testing.assert_array_equal(labels, got[0].argmax(axis=1))
    plain = model.predict_proba(lazy).compute(scheduler=scheduler)
    np.testing.assert_array_equal(plain, _chunk_by_chunk(model, X, chunks))
    assert model.training  # as it was


def test_on_a_local_cluster_of_two_processes(client, trained):
    """Chunked dropout, masks, normals and MC predictions computed by two worker processes:
    the bits of the NumPy calls."""
    x = _values((3000, 101), np.float32, seed=5)
    lazy = da.from_array(x, chunks=(333, 50))
    stream = fastdrop.Philox(21)
    draw = fastdrop.Draw(21, 0)
    y, mask = fastdrop.dropout(lazy, 0.3, rng=stream, return_mask=True)
    packed = fastdrop.dropout_mask(x.shape, 0.3, rng=draw, packed=True, chunks=4096)
    normal = fastdrop.standard_normal(x.shape, rng=draw, chunks=(1000, 37))
    noisy = fastdrop.gaussian_dropout(lazy, 0.3, rng=draw)
    got = client.compute([y, mask, packed, normal, noisy], sync=True)
    expected_y, expected_mask = fastdrop.dropout(x, 0.3, rng=draw, return_mask=True)
    np.testing.assert_array_equal(_bits(got[0]), _bits(expected_y))
    np.testing.assert_array_equal(got[1], expected_mask)
    np.testing.assert_array_equal(
        got[2], fastdrop.dropout_mask(x.shape, 0.3, rng=draw, packed=True)
    )
    np.testing.assert_array_equal(got[3], fastdrop.standard_normal(x.shape, rng=draw))
    np.testing.assert_array_equal(got[4], fastdrop.gaussian_dropout(x, 0.3, rng=draw))
    # computed again, on whichever worker: the same bits
    np.testing.assert_array_equal(client.compute(y, sync=True), got[0])

    model, X = trained
    chunks = (500, 500, 1000)
    rows = da.from_array(X, chunks=(chunks, 20))
    mean, spread = model.predict_proba(rows, mc_samples=5, rng=fastdrop.Philox(8))
    got_mean, got_spread = client.compute([mean, spread], sync=True)
    expected = _chunk_by_chunk(model, X, chunks, mc_samples=5, rng=fastdrop.Draw(8, 0))
    np.testing.assert_array_equal(got_mean, expected[0])
    np.testing.assert_array_equal(got_spread, expected[1])


def test_fastdrop_imports_no_engine_and_works_without_them():
    """fastdrop imports neither dask nor xarray for NumPy work, and works with both missing
    (chunks= then says what to install)."""
    result = run_python(
        """
        import sys
        import numpy as np
        import fastdrop
        from fastdrop.nn import MLP
        y = fastdrop.dropout(np.ones(1000, np.float32), 0.5, rng=1)
        fastdrop.gaussian_dropout([1.0, 2.0], 0.5, rng=1)
        MLP([3, 4, 2], dropout=[0.2, 0.5], rng=0).predict_proba(np.ones((2, 3)), mc_samples=2)
        assert not {"dask", "xarray", "distributed"} & set(sys.modules), sorted(sys.modules)
        for name in ("dask", "dask.array", "xarray", "distributed"):
            sys.modules[name] = None  # as if not installed
        fastdrop.dropout(np.ones(10), 0.5, rng=1)
        try:
            fastdrop.dropout_mask(10, 0.5, chunks=5)
        except ImportError as error:
            assert "fastdrop[dask]" in str(error)
        else:
            raise AssertionError("chunks= without dask")
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_examples_of_the_dask_module_and_readme_run():
    import doctest

    from test_docs import README, readme_blocks

    from fastdrop import _lazy

    result = doctest.testmod(_lazy, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
    blocks = readme_blocks(dask=True)
    assert blocks
    # as in a fresh interpreter: not on the LocalCluster this module may have started
    with dask.config.set(scheduler="threads"):
        for block in blocks:
            exec(compile(block, str(README), "exec"), {"__name__": "__main__"})
