"""Dask arrays and xarray DataArrays: fastdrop's functions chunk by chunk, lazily.

Imported only when such an object is passed (``fastdrop._core.lazy_engine``) or ``chunks=`` is
given, so fastdrop needs neither package otherwise. Each chunk is a box of the whole logical array
(``fd_box`` in src_c/fd_dropout.h): its elements get the decisions and variates of their indices
in the whole array, so the computed result equals the NumPy call on the computed input bit for
bit, whatever the chunking, scheduler or machine. ``rng`` is resolved when the graph is built:
a ``Philox`` stream reserves the whole array's counters then, once, and every chunk uses that one
:class:`fastdrop.Draw`, so computing twice, or on other workers, gives the same bits. Arguments
are checked when the graph is built, with the exceptions NumPy input gets; nothing is computed.

Examples
--------
>>> import dask.array as da, numpy as np, fastdrop
>>> x = np.random.default_rng(0).standard_normal((1000, 300)).astype(np.float32)
>>> lazy = fastdrop.dropout(da.from_array(x, chunks=(128, 100)), 0.5, rng=7)
>>> bool(np.array_equal(lazy.compute(), fastdrop.dropout(x, 0.5, rng=7)))
True
>>> mask = fastdrop.dropout_mask((1000, 300), 0.5, rng=7, chunks=(333, 77))
>>> bool(np.array_equal(mask.compute(), lazy.compute() != 0))
True
>>> z = fastdrop.standard_normal(10_000, rng=3, chunks=3_000)
>>> bool(np.array_equal(z.compute(), fastdrop.standard_normal(10_000, rng=3)))
True
"""

from __future__ import annotations

import math
import operator
from typing import Any, Literal

import numpy as np

from . import _core
from ._core import Draw

__all__ = ["dropout", "dropout_mask", "gaussian_dropout", "handles", "standard_normal"]


def handles(x: object) -> bool:
    """Whether ``x`` is a Dask array or an xarray DataArray (their modules are imported already:
    ``x`` is one of their objects)."""
    return _is_dask(x) or _is_xarray(x)


def _is_dask(x: object) -> bool:
    import dask.array as da

    return isinstance(x, da.Array)


def _is_xarray(x: object) -> bool:
    if not type(x).__module__.startswith("xarray."):
        return False
    import xarray as xr

    return isinstance(x, xr.DataArray)


def _dask_array() -> Any:
    try:
        import dask.array as da
    except ImportError as error:
        raise ImportError(
            "chunks= builds a Dask array: install Dask with 'pip install fastdrop[dask]'"
        ) from error
    return da


# -- checks: what NumPy input gets, before anything is built ----------------------------------


def _check_lazy(x: Any, out: object, bfloat16: bool, name: str = "x") -> np.dtype:
    """The result dtype for Dask array ``x``, as check_float_dtype says for NumPy input;
    ``out`` must be None (TypeError) and every chunk size known (ValueError)."""
    dtype = _core.check_float_dtype(np.dtype(x.dtype), name, bfloat16)
    if out is not None:
        raise TypeError(
            f"out is not supported when {name} is a Dask array (Dask arrays are immutable): "
            "use the returned array"
        )
    _check_known_chunks(x, name, "each chunk's place in the whole array is needed")
    return dtype


def _check_known_chunks(x: Any, name: str, why: str) -> None:
    """ValueError if a chunk of Dask array ``x`` has an unknown size (NaN), saying ``why`` it
    is needed."""
    if any(math.isnan(size) for sizes in x.chunks for size in sizes):
        raise ValueError(
            f"{name} has chunks of unknown size (NaN): {why}; call {name}.compute_chunk_sizes() "
            "first"
        )


def _empty_meta(ndim: int, dtype: Any) -> np.ndarray:
    return np.empty((0,) * ndim, dtype)


def _start(block_info: dict[Any, Any], which: Any) -> tuple[int, ...]:
    """The first coordinates, in the whole array, of the chunk that block_info describes."""
    return tuple(int(first) for first, _ in block_info[which]["array-location"])


def _shape(block_info: dict[Any, Any], which: Any) -> tuple[int, ...]:
    """The shape of the chunk that block_info describes."""
    return tuple(int(stop - first) for first, stop in block_info[which]["array-location"])


def _pair(pairs: Any, dtypes: tuple[np.dtype, np.dtype]) -> tuple[Any, Any]:
    """Two Dask arrays from one whose chunks are pairs of arrays (each chunk computed once)."""
    ndim = pairs.ndim
    return tuple(  # type: ignore[return-value]
        pairs.map_blocks(operator.itemgetter(i), dtype=dtype, meta=_empty_meta(ndim, dtype))
        for i, dtype in enumerate(dtypes)
    )


# -- the chunk functions (module level: workers import them by name) --------------------------


def _dropout_chunk(
    chunk: Any,
    block_info: dict[Any, Any] | None = None,
    *,
    whole: tuple[int, ...],
    draw: Draw,
    threshold: int,
    scale: float,
    with_mask: bool,
) -> Any:
    assert block_info is not None
    source = _core.check_floating(chunk, "x", True)
    result = _core.empty_like(source)
    mask = np.empty(source.shape, np.bool_) if with_mask else None
    _core.dropout_box(source, result, mask, whole, _start(block_info, 0), draw, threshold, scale)
    return (result, mask) if with_mask else result


def _mask_chunk(
    block_info: dict[Any, Any] | None = None,
    *,
    whole: tuple[int, ...],
    draw: Draw,
    threshold: int,
    packed: bool,
) -> np.ndarray:
    assert block_info is not None
    if not packed:
        result = np.empty(_shape(block_info, None), np.bool_)
        _core.mask(result, result.size, draw, threshold, False, whole, _start(block_info, None))
        return result
    # bytes [first, stop) of the packed mask: the whole array's elements [8 first, 8 stop)
    first, stop = (int(v) for v in block_info[None]["array-location"][0])
    size = whole[0]
    result = np.empty(stop - first, np.uint8)
    elements = min(8 * stop, size) - 8 * first
    _core.mask(result, elements, draw, threshold, True, whole, (8 * first,))
    return result


def _normal_chunk(
    block_info: dict[Any, Any] | None = None,
    *,
    whole: tuple[int, ...],
    draw: Draw,
    kind: np.dtype,
) -> np.ndarray:
    assert block_info is not None
    result = np.empty(_shape(block_info, None), kind)
    _core.normal(result, draw, whole, _start(block_info, None))
    return result


def _gaussian_chunk(
    chunk: Any,
    block_info: dict[Any, Any] | None = None,
    *,
    whole: tuple[int, ...],
    draw: Draw,
    sigma: float,
) -> np.ndarray:
    from .functional import _apply_noise, _noise_dtype

    assert block_info is not None
    source = _core.check_floating(chunk)
    noise = np.empty(source.shape, _noise_dtype(source.dtype))
    _core.normal(noise, draw, whole, _start(block_info, 0))
    return _apply_noise(source, noise, sigma, _core.empty_like(source))


# -- the functions ----------------------------------------------------------------------------


def dropout(
    x: Any, drop: float, inverted: bool, train: bool, with_mask: bool, rng: Any, out: object
) -> Any:
    """fastdrop.dropout of a Dask array or a DataArray (its other arguments checked already)."""
    if _is_xarray(x):
        mode: Literal["inverted", "vanilla"] = "inverted" if inverted else "vanilla"
        if out is not None:
            raise TypeError("out is not supported when x is an xarray.DataArray")
        data = _core.dropout(
            x.data, drop, rng=rng, training=train, mode=mode, return_mask=with_mask
        )
        if not with_mask:
            return x.copy(data=data)
        return x.copy(data=data[0]), _mask_array(x, data[1])
    dtype = _check_lazy(x, out, bfloat16=True)
    draw = _core.resolve_draw(rng, x.size) if train else Draw(0)
    threshold, scale = _core.dropout_rule(drop, inverted, train)
    kwargs = {"whole": x.shape, "draw": draw, "threshold": threshold, "scale": scale}
    if not with_mask:
        return x.map_blocks(
            _dropout_chunk, dtype=dtype, meta=_empty_meta(x.ndim, dtype), with_mask=False, **kwargs
        )
    pairs = x.map_blocks(
        _dropout_chunk, dtype=object, meta=_empty_meta(x.ndim, object), with_mask=True, **kwargs
    )
    return _pair(pairs, (dtype, np.dtype(np.bool_)))


def _mask_array(x: Any, data: Any) -> Any:
    """A mask as a DataArray with x's dims and coords (not its name or attrs: those describe the
    values, not which were kept)."""
    import xarray as xr

    return xr.DataArray(data, coords=x.coords, dims=x.dims)


def gaussian_dropout(x: Any, p: float, rng: Any, training: bool, out: object) -> Any:
    """fastdrop.gaussian_dropout of a Dask array or a DataArray (other arguments checked)."""
    if _is_xarray(x):
        if out is not None:
            raise TypeError("out is not supported when x is an xarray.DataArray")
        from .functional import gaussian_dropout as apply

        return x.copy(data=apply(x.data, p, rng=rng, training=training))
    dtype = _check_lazy(x, out, bfloat16=False)
    if not training or p == 0.0:
        if training:
            _core.resolve_draw(rng, x.size)  # the counters are the call's, as for NumPy input
        return x.astype(dtype)
    draw = _core.resolve_draw(rng, x.size)
    return x.map_blocks(
        _gaussian_chunk,
        dtype=dtype,
        meta=_empty_meta(x.ndim, dtype),
        whole=x.shape,
        draw=draw,
        sigma=math.sqrt(p / (1.0 - p)),
    )


def dropout_mask(dims: tuple[int, ...], p: float, rng: object, packed: bool, chunks: object) -> Any:
    """fastdrop.dropout_mask as a Dask array (arguments checked)."""
    da = _dask_array()
    size = math.prod(dims)
    shape, dtype = ((size + 7) // 8,) if packed else dims, np.dtype(np.uint8 if packed else bool)
    normalized = da.core.normalize_chunks(chunks, shape, dtype=dtype)
    draw = _core.resolve_draw(rng, size)
    return da.map_blocks(
        _mask_chunk,
        chunks=normalized,
        dtype=dtype,
        meta=_empty_meta(len(shape), dtype),
        whole=(size,) if packed else dims,
        draw=draw,
        threshold=_core.threshold(p),
        packed=packed,
    )


def standard_normal(dims: tuple[int, ...], rng: object, dtype: np.dtype, chunks: object) -> Any:
    """fastdrop.standard_normal as a Dask array (arguments checked)."""
    da = _dask_array()
    normalized = da.core.normalize_chunks(chunks, dims, dtype=dtype)
    draw = _core.resolve_draw(rng, math.prod(dims))
    return da.map_blocks(
        _normal_chunk,
        chunks=normalized,
        dtype=dtype,
        meta=_empty_meta(len(dims), dtype),
        whole=dims,
        draw=draw,
        kind=dtype,
    )


# -- MLP.predict_proba over a Dask array of rows ----------------------------------------------


def _predict_chunk(
    chunk: Any,
    block_info: dict[Any, Any] | None = None,
    *,
    model: Any,
    mc_samples: int | None,
    first_row: int,
    rng: object,
) -> Any:
    assert block_info is not None
    first = first_row + int(block_info[0]["array-location"][0][0])
    return model.predict_proba(chunk, mc_samples, first_row=first, rng=rng)


def predict_proba(model: Any, X: Any, mc_samples: int | None, first_row: int, rng: object) -> Any:
    """MLP.predict_proba of a Dask array of rows (or a DataArray of them: its data), lazily:
    each chunk of rows is scored with its own first row (mc_samples, first_row and rng
    checked). ``rng`` is resolved now, once: a stream moves once, every chunk gets the draw."""
    import dask

    if _is_xarray(X):
        X = X.data
        if not _is_dask(X):
            return model.predict_proba(X, mc_samples, first_row=first_row, rng=rng)
    model._check_input_form(np.dtype(X.dtype), X.shape)
    _check_known_chunks(X, "X", "each chunk's first row is needed")
    model._check_rows(first_row, X.shape[0])
    if rng is not None and mc_samples is not None:
        rng = _core.resolve_draw(rng, 1)  # the call's key, as the NumPy call takes it
    X = X.rechunk({1: -1})  # whole rows
    classes = model.sizes[-1]
    chunks = (X.chunks[0], (classes,))
    kwargs = {
        "model": dask.delayed(model, pure=True),
        "mc_samples": mc_samples,
        "first_row": first_row,
        "rng": rng,
        "chunks": chunks,
    }
    if mc_samples is None:
        return X.map_blocks(
            _predict_chunk, dtype=model.dtype, meta=_empty_meta(2, model.dtype), **kwargs
        )
    pairs = X.map_blocks(_predict_chunk, dtype=object, meta=_empty_meta(2, object), **kwargs)
    return _pair(pairs, (model.dtype, model.dtype))
