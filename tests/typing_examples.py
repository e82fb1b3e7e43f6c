"""Calls the documentation allows, for mypy (run by .ci/run, configured in pyproject.toml): the
public API's type hints must accept them and give these types. tests/test_docs.py runs the file
too, so every call here also works."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

import fastdrop
from fastdrop.nn import MLP, AlphaDropout, Dropout, Dropout2d, GaussianDropout

x = np.ones((4, 8), np.float32)
want_mask: bool = bool(np.random.default_rng(0).integers(2))

y: np.ndarray = fastdrop.dropout(x, 0.5)
y = fastdrop.dropout([1.0, 2.0], np.float32(0.25), rng=np.uint64(3), training=np.True_)
y = fastdrop.dropout(x, 1, rng=fastdrop.Philox(np.uint64(7), offset=np.int64(2)), out=x)
y, mask = fastdrop.dropout(x, 0.1, rng=np.random.default_rng(1), return_mask=True)
either: np.ndarray | tuple[np.ndarray, np.ndarray] = fastdrop.dropout(x, return_mask=want_mask)
mask = fastdrop.dropout_mask(np.array([2, 3]), np.float64(0.5), rng=5, packed=np.False_)
mask = fastdrop.dropout_mask((np.int64(2), 3), rng=None)
z: np.ndarray = fastdrop.standard_normal(np.int32(10), rng=2, dtype=np.float32)
y = fastdrop.gaussian_dropout(x, 0.2, rng=np.int8(4), training=True)
words: np.ndarray = fastdrop.philox4x32([0, 0, 0, 0], np.array([1, 2], np.uint32))
draw: fastdrop.Draw = fastdrop.Philox(None).draw(np.int16(300))
key, offset = draw
y = fastdrop.dropout(x, 0.5, rng=draw)
y = fastdrop.gaussian_dropout(x, 0.5, rng=fastdrop.Draw(np.uint64(1), offset=2))
rate = float(Fraction(1, 3))

for layer in (
    Dropout(np.float32(0.3), rng=np.uint64(1), axes=0),
    Dropout(0.3, "vanilla", axes=(0, 1)),
    Dropout2d(0.5),
    AlphaDropout(rate, rng=fastdrop.Philox(3)),
    GaussianDropout(np.float64(0.1), rng=np.random.default_rng(2)),
    Dropout(0.5, rng=draw),
):
    grad: np.ndarray = layer.backward(layer.forward(x.reshape(1, 4, 8, 1)))

model = MLP(np.array([8, 4, 3]), dropout=[0.1, np.float64(0.5)], rng=0)
probabilities: np.ndarray = model.predict_proba(x)
mean, spread = model.predict_proba(x, mc_samples=np.int64(3))
labels: np.ndarray = model.predict(x, mc_samples=2)
