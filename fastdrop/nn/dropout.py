"""Dropout layers that replay their noise instead of storing it.

Every layer here draws its noise from a counter-based Philox stream, so the noise of a forward
call is a pure function of the (key, offset) it used. The layer keeps only that pair (and the
input's shape) for backward, which regenerates the noise: O(1) bytes held between forward and
backward, not one mask element per activation as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from .._core import (
    check_bool,
    check_floating,
    check_mode,
    check_p,
    check_rng,
    empty_like,
    inverted_scale,
    resolve_draw,
)
from ..functional import Probability, dropout, dropout_mask, gaussian_dropout
from ..random import Draw, Philox, is_integer
from ._module import Module
from .layers import SELU_ALPHA, SELU_SCALE, _gradient

RNGSeed = None | int | np.integer | np.random.Generator | Philox | Draw


def _stream(rng: RNGSeed) -> Philox:
    """The layer's Philox stream: a stream shared with other layers, or one of its own that
    starts at the counters ``rng`` gives a single call (fresh entropy, the int itself, a key
    drawn from a Generator, a Draw's key and offset)."""
    check_rng(rng)
    if isinstance(rng, Philox):
        return rng
    start = resolve_draw(rng, 0)
    return Philox(start.key, offset=start.offset)


def _zero_where_dropped(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """y with its dropped elements (mask False, broadcast) set to +0.0, by selection: a dropped
    NaN or inf becomes 0, as in fastdrop.dropout."""
    np.copyto(y, y.dtype.type(0), where=~mask)
    return y


class _ReplayedNoise(Module):
    """What the layers share: the rate, the stream, and the draw of the last forward.

    A training forward takes a :class:`fastdrop.Draw` from the stream and keeps it as
    :attr:`last_draw`; backward applies the same noise again from that draw (None after an
    evaluation forward, or one that drew nothing: backward then follows the evaluation rule),
    whatever ``training`` says in between. A forward that raises changes nothing: neither the
    stream nor what backward replays. ``training`` is checked at every forward: it must be a
    bool.
    """

    def __init__(self, p: Probability, rng: RNGSeed, *, below_one: bool = False) -> None:
        super().__init__()
        self.p = check_p(p, below_one)
        self.stream = _stream(rng)
        self.last_draw: Draw | None = None  # what backward replays
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x with fresh noise in training mode (its draw kept as :attr:`last_draw`), the
        evaluation rule otherwise; a new array of x's float dtype and shape.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import Dropout
        >>> layer = Dropout(0.5, rng=7)
        >>> layer.forward(np.ones(4)), layer.last_draw
        (array([0., 2., 0., 0.]), fastdrop.Draw(key=7, offset=0))
        """
        x = check_floating(x)
        elements = self._noise_elements(x.shape)  # checked in either mode
        draw = None
        if check_bool(self.training, "training") and elements is not None:
            draw = self.stream.draw(elements)
        y = self._apply(x, draw)
        self._shape, self.last_draw = x.shape, draw
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """grad with the noise of the last forward applied again (replayed from
        :attr:`last_draw`), or the evaluation rule after an evaluation forward; a new array.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import Dropout
        >>> layer = Dropout(0.5, rng=7)
        >>> _ = layer(np.ones(4))
        >>> layer.backward(np.full(4, 3.0))  # the forward's mask and scale
        array([0., 6., 0., 0.])
        """
        return self._apply(self._gradient(grad), self.last_draw)

    def _noise_elements(self, shape: tuple[int, ...]) -> int | None:
        """How many noise values a training forward of that shape draws; None: none at all (a
        rate of 0, where the noise is the identity)."""
        return None if self.p == 0.0 else math.prod(shape)

    def _apply(self, x: np.ndarray, draw: Draw | None) -> np.ndarray:
        """x with the noise of ``draw`` (None: the evaluation rule), in x's layout."""
        raise NotImplementedError

    def _gradient(self, grad: object) -> np.ndarray:
        """grad checked against the last forward: a float array of its output's shape."""
        if self._shape is None:
            raise RuntimeError(f"{type(self).__name__}.backward needs a forward call first")
        grad = check_floating(grad, "grad")
        _gradient(grad, self._shape, type(self).__name__)
        return grad

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(_ReplayedNoise):
    """Dropout (``fastdrop.dropout``) as a layer; backward replays the mask.

    Parameters
    ----------
    p : float, optional
        The drop probability, in [0, 1].
    mode : {"inverted", "vanilla"}, optional
        Inverted scales kept units by 1 / (1 - p) in training and is the identity at evaluation;
        vanilla trains unscaled and multiplies by 1 - p at evaluation.
    rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
        The layer's Philox stream: fresh entropy, that key, a key drawn from the Generator, a
        stream shared with other layers, or a stream that starts at a draw's counters. Every
        training forward takes a new :class:`fastdrop.Draw` from it and keeps it as
        ``last_draw``, which backward replays.
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
        check_mode(mode)
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

    def _noise_elements(self, shape: tuple[int, ...]) -> int:
        """The mask's size (at any rate, as fastdrop.dropout takes its counters at p = 0 too)."""
        mask_shape = self._mask_shape(shape)
        return math.prod(shape if mask_shape is None else mask_shape)

    def _apply(self, x: np.ndarray, draw: Draw | None) -> np.ndarray:
        """fastdrop.dropout of x with the draw's mask (None: at evaluation), in x's layout."""
        if draw is None:
            return dropout(x, self.p, training=False, mode=self.mode)
        mask_shape = self._mask_shape(x.shape)
        if mask_shape is None:
            return dropout(x, self.p, rng=draw, mode=self.mode)
        # One mask value shared along self.axes: fastdrop.dropout's rule with the mask broadcast
        # (float16 scaled in float32, then rounded).
        work = np.float32 if x.dtype == np.float16 else x.dtype.type
        scale = inverted_scale(self.p) if self.mode == "inverted" else 1.0
        y = empty_like(x)
        with np.errstate(over="ignore", invalid="ignore"):  # inf, NaN silently, as in dropout
            np.multiply(x.astype(work, copy=False), work(scale), out=y, casting="same_kind")
        return _zero_where_dropped(y, dropout_mask(mask_shape, self.p, rng=draw))

    def extra_repr(self) -> str:
        axes = "" if self.axes is None else f", axes={self.axes}"
        return f"p={self.p}, mode={self.mode!r}{axes}"


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

    def extra_repr(self) -> str:
        return f"p={self.p}"


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
    rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
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
        super().__init__(p, rng, below_one=True)
        saturation = -SELU_SCALE * SELU_ALPHA
        keep = 1.0 - self.p
        self.a = (keep * (1.0 + self.p * saturation**2)) ** -0.5
        self.b = -self.a * saturation * self.p
        self.saturation = saturation

    def _apply(self, x: np.ndarray, draw: Draw | None) -> np.ndarray:
        """a * (x where kept, else the saturation) + b, in x's dtype and layout (None: a copy)."""
        if draw is None:
            return x.copy(order="K")
        typed = x.dtype.type
        y = empty_like(x)
        np.copyto(y, x)
        np.copyto(y, typed(self.saturation), where=~dropout_mask(x.shape, self.p, rng=draw))
        with np.errstate(over="ignore", invalid="ignore"):  # inf, NaN silently, as in dropout
            np.multiply(y, typed(self.a), out=y)
            np.add(y, typed(self.b), out=y)
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """``a * grad`` where the last forward kept the unit, 0 where it dropped it (the
        saturation is a constant); after an evaluation forward, a copy of grad.

        Parameters
        ----------
        grad : numpy.ndarray
            Float, of the last forward's output shape.

        Returns
        -------
        numpy.ndarray
            A new array: the gradient with respect to that forward's input.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import AlphaDropout
        >>> layer = AlphaDropout(0.2, rng=1)
        >>> _ = layer(np.ones(6))
        >>> bool(np.isin(layer.backward(np.ones(6)), [0.0, layer.a]).all())
        True
        """
        grad = self._gradient(grad)
        if self.last_draw is None:  # the identity, as a new array like every layer's backward
            return self._apply(grad, None)
        y = empty_like(grad)
        with np.errstate(over="ignore", invalid="ignore"):
            np.multiply(grad, grad.dtype.type(self.a), out=y)
        return _zero_where_dropped(y, dropout_mask(grad.shape, self.p, rng=self.last_draw))


class GaussianDropout(_ReplayedNoise):
    """Multiplicative Gaussian noise with mean 1 and variance p / (1 - p) (Keras
    ``GaussianDropout``; ``fastdrop.gaussian_dropout``). The identity at evaluation.

    Parameters
    ----------
    p : float, optional
        In [0, 1).
    rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
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
        super().__init__(p, rng, below_one=True)

    def _apply(self, x: np.ndarray, draw: Draw | None) -> np.ndarray:
        """x times the draw's noise (None: the identity, as a copy)."""
        if draw is None:
            return gaussian_dropout(x, self.p, training=False)
        return gaussian_dropout(x, self.p, rng=draw)
