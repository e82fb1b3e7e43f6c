"""Dropout layers that replay their noise instead of storing it.

Every layer here draws its noise from a counter-based Philox stream, so the noise of a forward
call is a pure function of the (key, offset) it used. The layer keeps only that pair (and the
input's shape) for backward, which regenerates the noise: O(1) bytes held between forward and
backward, not one mask element per activation as in PyTorch.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..functional import (
    Probability,
    _check_floating,
    _rate_as_float,
    dropout,
    dropout_mask,
    gaussian_dropout,
)
from ..random import Philox, check_rng, is_integer, key_and_offset
from ._module import Module
from .layers import SELU_ALPHA, SELU_SCALE, _constants_type, _gradient

__all__ = [
    "AlphaDropout",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "GaussianDropout",
]

RNGSeed = None | int | np.integer | np.random.Generator | Philox


def _stream(rng: RNGSeed) -> Philox:
    """The layer's Philox stream: a stream shared with other layers, or one under the key that
    ``rng`` gives a single call (fresh entropy, the int itself, a key drawn from a Generator)."""
    check_rng(rng)
    return rng if isinstance(rng, Philox) else Philox(key_and_offset(rng, 0)[0])


def _check_rate(p: object, *, upper_inclusive: bool) -> float:
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"p must be a real number, got {type(p).__name__}")
    value = _rate_as_float(p)
    if not (0.0 <= value <= 1.0 if upper_inclusive else 0.0 <= value < 1.0):
        bounds = "[0, 1]" if upper_inclusive else "[0, 1)"
        raise ValueError(f"p must be in {bounds}, got {p!r}")
    return value


class _ReplayedNoise(Module):
    """What the layers share: the rate, the stream, and the (key, offset) of the last forward.

    Backward follows its forward: the forward's noise after a training forward, the evaluation
    rule after an evaluation one, whatever ``training`` says in between. A forward that raises
    changes nothing: neither the stream nor what backward replays.
    """

    def __init__(self, p: Probability, rng: RNGSeed, *, upper_inclusive: bool = True) -> None:
        super().__init__()
        self.p = _check_rate(p, upper_inclusive=upper_inclusive)
        self.stream = _stream(rng)
        self.last_draw: tuple[int, int] | None = None  # what backward replays
        self._shape: tuple[int, ...] | None = None

    def _replay(self, grad: np.ndarray) -> Philox | None:
        """A stream that gives backward the forward's noise again; None if that forward drew
        none (evaluation, or a rate of 0)."""
        if self._shape is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs a forward call first")
        _gradient(grad, self._shape, type(self).__name__)
        if self.last_draw is None:
            return None
        key, offset = self.last_draw
        return Philox(key, offset=offset)

    def _record(self, shape: tuple[int, ...], draw: tuple[int, int] | None) -> None:
        self._shape = shape
        self.last_draw = draw


class Dropout(_ReplayedNoise):
    """Dropout (``fastdrop.dropout``) as a layer; backward replays the mask.

    Parameters
    ----------
    p : float, optional
        The drop probability, in [0, 1].
    mode : {"inverted", "vanilla"}, optional
        Inverted scales kept units by 1 / (1 - p) in training and is the identity at evaluation;
        vanilla trains unscaled and multiplies by 1 - p at evaluation.
    rng : None, int, numpy.random.Generator or fastdrop.Philox, optional
        The layer's Philox stream: fresh entropy, that key, a key drawn from the Generator, or a
        stream shared with other layers. Every training forward takes new counters from it.
    axes : None, int or tuple of int, optional
        Axes along which one mask value is shared (for example the time axis for "locked"
        variational dropout, or the spatial axes for channel dropout). None: every element has
        its own.

    Examples
    --------
    >>> import numpy as np, fastdrop
    >>> from fastdrop.nn import Dropout
    >>> layer = Dropout(0.5, rng=7)
    >>> y = layer(np.ones((2, 6), np.float32))
    >>> grad = layer.backward(np.ones((2, 6), np.float32))
    >>> bool(np.array_equal(grad, y))  # the same mask and scale
    True
    >>> layer.eval()(np.ones(3))  # inverted dropout at evaluation: the identity
    array([1., 1., 1.])
    """

    def __init__(
        self,
        p: Probability = 0.5,
        mode: Literal["inverted", "vanilla"] = "inverted",
        rng: RNGSeed = None,
        *,
        axes: int | tuple[int, ...] | None = None,
    ) -> None:
        super().__init__(p, rng)
        if mode not in ("inverted", "vanilla"):
            raise ValueError(f"mode must be 'inverted' or 'vanilla', got {mode!r}")
        self.mode = mode
        if axes is not None:
            listed = (axes,) if is_integer(axes) else axes
            if not isinstance(listed, (tuple, list)) or not all(is_integer(a) for a in listed):
                raise TypeError(f"axes must be None, an int or a tuple of ints, got {axes!r}")
            axes = tuple(int(a) for a in listed)
        self.axes = axes

    def _mask_shape(self, shape: tuple[int, ...]) -> tuple[int, ...] | None:
        """The shape of the mask a forward of that shape draws; None: one value per element."""
        if self.axes is None:
            return None
        ndim = len(shape)
        if any(not -ndim <= a < ndim for a in self.axes):
            raise ValueError(f"axes {self.axes} out of range for an input of shape {shape}")
        shared = {a % ndim for a in self.axes}
        return tuple(1 if d in shared else n for d, n in enumerate(shape))

    def _scale(self) -> float:
        return 1.0 / (1.0 - self.p) if self.mode == "inverted" and self.p < 1.0 else 1.0

    def _shared(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """fastdrop.dropout's rule, mask broadcast: float16 scaled in float32, then rounded."""
        work = np.float32 if x.dtype == np.float16 else x.dtype
        with np.errstate(over="ignore", invalid="ignore"):  # inf, NaN silently, as in dropout
            scaled = (x.astype(work) * np.asarray(self._scale(), work)).astype(x.dtype)
        return np.where(mask, scaled, x.dtype.type(0))

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _check_floating(x)
        mask_shape = self._mask_shape(x.shape)  # checked in either mode, before the stream moves
        draw = None
        if not self.training:
            y = dropout(x, self.p, training=False, mode=self.mode)
        elif mask_shape is None:
            y = dropout(x, self.p, rng=self.stream, mode=self.mode)
            draw = self.stream.last_draw
        else:
            mask = dropout_mask(mask_shape, self.p, rng=self.stream)
            draw = self.stream.last_draw
            y = self._shared(x, mask)
        self._record(x.shape, draw)
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad = _check_floating(grad)
        stream = self._replay(grad)
        if stream is None:
            return dropout(grad, self.p, training=False, mode=self.mode)  # as the forward
        mask_shape = self._mask_shape(grad.shape)
        if mask_shape is None:
            return dropout(grad, self.p, rng=stream, mode=self.mode)
        return self._shared(grad, dropout_mask(mask_shape, self.p, rng=stream))


class _ChannelDropout(Dropout):
    spatial_dims = 0

    def __init__(self, p: Probability = 0.5, rng: RNGSeed = None) -> None:
        super().__init__(p, "inverted", rng)

    def _mask_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """One value per channel: the spatial axes (the last ``spatial_dims``) share it."""
        k = self.spatial_dims
        if len(shape) not in (k + 1, k + 2):
            raise ValueError(
                f"{type(self).__name__} expects (N, C, {k} spatial) or (C, {k} spatial) input, "
                f"got shape {shape}"
            )
        return shape[: len(shape) - k] + (1,) * k


class Dropout1d(_ChannelDropout):
    """Channel dropout (PyTorch ``Dropout1d``): whole channels of (N, C, L) or (C, L) input.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import Dropout1d
    >>> y = Dropout1d(0.5, rng=3)(np.ones((2, 8, 5), np.float32))
    >>> bool(((y == 0).all(axis=2) | (y == 2).all(axis=2)).all())  # channel by channel
    True
    """

    spatial_dims = 1


class Dropout2d(_ChannelDropout):
    """Channel dropout (PyTorch ``Dropout2d``, Keras ``SpatialDropout2D``) of (N, C, H, W) or
    (C, H, W) input.

    A 3-d input is one unbatched image, as PyTorch's documentation describes. PyTorch 2.13 itself
    still warns and drops rows of a 3-d input, as if it were (N, C, L); :class:`Dropout1d` does
    that here.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import Dropout2d
    >>> y = Dropout2d(0.5, rng=3)(np.ones((2, 8, 3, 3)))
    >>> bool(((y == 0).all(axis=(2, 3)) | (y == 2).all(axis=(2, 3))).all())
    True
    """

    spatial_dims = 2


class Dropout3d(_ChannelDropout):
    """Channel dropout (PyTorch ``Dropout3d``) of (N, C, D, H, W) or (C, D, H, W) input.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import Dropout3d
    >>> Dropout3d(0.5, rng=3)(np.ones((2, 4, 2, 2, 2))).shape
    (2, 4, 2, 2, 2)
    """

    spatial_dims = 3


class AlphaDropout(_ReplayedNoise):
    """Alpha dropout for SELU networks (Klambauer et al. 2017; PyTorch ``AlphaDropout``).

    Dropped units are set to SELU's negative saturation ``-scale * alpha`` and the result is
    mapped by ``a * y + b`` (in x's dtype) so that a zero-mean, unit-variance input keeps mean 0
    and variance 1. The identity at evaluation.

    Parameters
    ----------
    p : float, optional
        The drop probability, in [0, 1).
    rng : None, int, numpy.random.Generator or fastdrop.Philox, optional
        As for :class:`Dropout`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import AlphaDropout
    >>> y = AlphaDropout(0.2, rng=1)(np.random.default_rng(0).standard_normal(200_000))
    >>> bool(abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.02)
    True
    """

    def __init__(self, p: Probability = 0.5, rng: RNGSeed = None) -> None:
        super().__init__(p, rng, upper_inclusive=False)
        saturation = -SELU_SCALE * SELU_ALPHA
        keep = 1.0 - self.p
        self.a = (keep * (1.0 + self.p * saturation**2)) ** -0.5
        self.b = -self.a * saturation * self.p
        self.saturation = saturation

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _check_floating(x)  # before the stream moves
        if not self.training or self.p == 0.0:
            self._record(x.shape, None)
            return x.copy()
        mask = dropout_mask(x.shape, self.p, rng=self.stream)
        draw = self.stream.last_draw
        with np.errstate(over="ignore", invalid="ignore"):  # inf, NaN silently, as in dropout
            typed = _constants_type(x)
            y = typed(self.a) * np.where(mask, x, typed(self.saturation)) + typed(self.b)
        self._record(x.shape, draw)
        return y.astype(x.dtype, copy=False)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad = _check_floating(grad)
        stream = self._replay(grad)
        if stream is None:
            return grad
        mask = dropout_mask(grad.shape, self.p, rng=stream)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.where(mask, grad * np.asarray(self.a, grad.dtype), 0).astype(grad.dtype)


class GaussianDropout(_ReplayedNoise):
    """Multiplicative Gaussian noise with mean 1 and variance p / (1 - p) (Keras
    ``GaussianDropout``; ``fastdrop.gaussian_dropout``). The identity at evaluation.

    Parameters
    ----------
    p : float, optional
        In [0, 1).
    rng : None, int, numpy.random.Generator or fastdrop.Philox, optional
        As for :class:`Dropout`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import GaussianDropout
    >>> layer = GaussianDropout(0.2, rng=4)
    >>> y = layer(np.full(5, 3.0))
    >>> bool(np.allclose(layer.backward(np.ones(5)) * 3.0, y))
    True
    """

    def __init__(self, p: Probability = 0.5, rng: RNGSeed = None) -> None:
        super().__init__(p, rng, upper_inclusive=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _check_floating(x)
        if not self.training or self.p == 0.0:
            self._record(x.shape, None)
            return x.copy()
        y = gaussian_dropout(x, self.p, rng=self.stream)
        self._record(x.shape, self.stream.last_draw)
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad = _check_floating(grad)
        stream = self._replay(grad)
        return grad if stream is None else gaussian_dropout(grad, self.p, rng=stream)
