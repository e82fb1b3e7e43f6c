"""Linear layers, activations and the softmax cross-entropy loss."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from .._core import check_bool, check_choice, check_int, check_rng, describe, resolve_draw
from ..random import RNGLike
from ._module import Module, Parameter

# SELU (Klambauer et al. 2017): the fixed point of mean 0 and variance 1.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _constants_type(x: np.ndarray) -> type[np.floating]:
    """The type of a formula's constants for x: x's own float type (NumPy 1 would compute a 0-d
    x with Python floats in float64, an n-d x in its dtype), float64 for integer x."""
    return x.dtype.type if x.dtype.kind == "f" else np.float64


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` with NumPy's floating-point warnings off: inf and NaN silently, as in the dropout
    layers. Those warnings are wrong on some ARM64 CPUs anyway: OpenBLAS's float32 kernels leave
    all four flags set after finite products (numpy/numpy#28687; under QEMU's aarch64 "max" CPU,
    with NumPy 2.4.6, every float32 product of 4 x 4 or larger warned)."""
    with np.errstate(all="ignore"):
        return a @ b


def seed_sequence(rng: RNGLike) -> np.random.SeedSequence:
    """The SeedSequence of NumPy's generators for ``rng``, checked as fastdrop.dropout checks it.

    None: fresh entropy. An int k, or a Draw (k, offset): ``SeedSequence(k + offset * 2**64)``,
    so that ``Draw(k)`` is k. A Philox stream: its next draw (one counter block). A Generator: a
    seed drawn from it. A SeedSequence or BitGenerator: the key fastdrop.dropout would draw.

    Examples
    --------
    >>> import fastdrop
    >>> seed_sequence(fastdrop.Draw(5)).entropy, seed_sequence(fastdrop.Draw(5, 1)).entropy
    (5, 18446744073709551621)
    """
    check_rng(rng)
    if rng is None:
        return np.random.SeedSequence()
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(0, 2**63)))
    draw = resolve_draw(rng, 1)
    return np.random.SeedSequence(draw.key | draw.offset << 64)


def check_parameter_dtype(dtype: npt.DTypeLike) -> np.dtype:
    """The dtype of a layer's parameters: float32 or float64, TypeError otherwise."""
    try:
        kind = np.dtype(dtype)
    except TypeError:  # not a dtype at all
        raise TypeError(f"dtype must be float32 or float64, got {describe(dtype)}") from None
    if kind not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {kind}")
    return kind


def _saved(value: np.ndarray | None, layer: str) -> np.ndarray:
    if value is None:
        raise RuntimeError(f"{layer}.backward needs a forward call first")
    return value


def _gradient(grad: npt.ArrayLike, shape: tuple[int, ...], layer: str) -> np.ndarray:
    """grad as an array of the forward output's shape (no broadcasting), or ValueError."""
    grad = np.asarray(grad)
    if grad.shape != shape:
        raise ValueError(
            f"{layer}.backward: grad has shape {grad.shape}, the forward output {shape}"
        )
    return grad


class Linear(Module):
    """``y = x @ weight + bias``; weight has shape (in_features, out_features), so column j
    holds unit j's incoming weights (what the max-norm constraint bounds).

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths.
    init : {"he", "glorot"}, optional
        He normal (std sqrt(2 / in), for ReLU) or Glorot uniform (limit sqrt(6 / (in + out)),
        for tanh); biases start at 0.
    bias : bool, optional
        Whether to add a bias.
    rng : None, int, numpy.random.Generator, fastdrop.Philox or fastdrop.Draw, optional
        Where the initial weights come from: the Generator itself, or one made from rng (see
        :func:`seed_sequence`).
    dtype : float32 or float64, optional
        Of the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import Linear
    >>> layer = Linear(4, 3, rng=0)
    >>> y = layer(np.ones((2, 4), np.float32))
    >>> layer.backward(np.ones_like(y)).shape, layer.weight.grad.shape
    ((2, 4), (4, 3))
    >>> layer
    Linear(in_features=4, out_features=3, bias=True, dtype=float32)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: Literal["he", "glorot"] = "he",
        bias: bool = True,
        rng: RNGLike = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        shape = (
            check_int(in_features, "in_features", 1),
            check_int(out_features, "out_features", 1),
        )
        check_choice(init, "init", ("he", "glorot"))
        has_bias = check_bool(bias, "bias")
        kind = check_parameter_dtype(dtype)
        # last, as it may move a stream: a Generator itself, or one seeded from rng
        generator = (
            rng
            if isinstance(rng, np.random.Generator)
            else np.random.default_rng(seed_sequence(rng))
        )
        if init == "he":
            weight = generator.normal(0.0, math.sqrt(2.0 / shape[0]), shape)
        else:
            limit = math.sqrt(6.0 / (shape[0] + shape[1]))
            weight = generator.uniform(-limit, limit, shape)
        self.weight = Parameter(weight.astype(kind), "weight")
        self.bias = Parameter(np.zeros(shape[1], kind), "bias") if has_bias else None
        self._input: np.ndarray | None = None

    def extra_repr(self) -> str:
        width_in, width_out = self.weight.value.shape
        return (
            f"in_features={width_in}, out_features={width_out}, bias={self.bias is not None}, "
            f"dtype={self.weight.value.dtype}"
        )

    def own_parameters(self) -> list[Parameter]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x @ weight + bias``; x is kept for :meth:`backward`.

        Parameters
        ----------
        x : numpy.ndarray, shape (..., in_features)
            The inputs.

        Returns
        -------
        numpy.ndarray
            Of shape (..., out_features).

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import Linear
        >>> Linear(4, 3, rng=0)(np.zeros((2, 4))).tolist()  # the bias, 0 at first
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        """
        x = np.asarray(x)
        if x.shape[-1:] != self.weight.value.shape[:1]:
            raise ValueError(
                f"Linear expects inputs of width {self.weight.value.shape[0]}, got shape {x.shape}"
            )
        self._input = x
        y = _matmul(x, self.weight.value)
        if self.bias is not None:
            y += self.bias.value
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """Add the gradients of weight and bias to their ``.grad``; returns ``grad @ weight.T``.

        Parameters
        ----------
        grad : numpy.ndarray, shape (..., out_features)
            The gradient with respect to the last :meth:`forward`'s output.

        Returns
        -------
        numpy.ndarray
            The gradient with respect to that forward's input.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import Linear
        >>> layer = Linear(4, 3, rng=0)
        >>> _ = layer(np.ones((2, 4)))
        >>> layer.backward(np.ones((2, 3))).shape, layer.bias.grad.tolist()
        ((2, 4), [2.0, 2.0, 2.0])
        """
        x = _saved(self._input, "Linear")
        grad = _gradient(grad, x.shape[:-1] + self.weight.value.shape[1:], "Linear")
        rows = x.reshape(-1, x.shape[-1])
        grads = grad.reshape(-1, grad.shape[-1])
        self.weight.grad += _matmul(rows.T, grads)
        if self.bias is not None:
            self.bias.grad += grads.sum(axis=0)
        return _matmul(grad, self.weight.value.T)


class ReLU(Module):
    """``max(x, 0)``, NaN staying NaN (as in ``np.maximum`` and PyTorch); its gradient at 0 and
    at NaN is taken as 0.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import ReLU
    >>> ReLU()(np.array([-1.0, 2.0]))
    array([0., 2.])
    """

    def __init__(self) -> None:
        super().__init__()
        self._positive: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``max(x, 0)``, in x's dtype; where x > 0 is kept for :meth:`backward`.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import ReLU
        >>> ReLU().forward(np.array([-2, 0, 3]))
        array([0, 0, 3])
        """
        x = np.asarray(x)
        self._positive = x > 0
        return np.where(x <= 0, x.dtype.type(0), x).astype(x.dtype, copy=False)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """``grad`` where the last forward's input was > 0, else 0.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import ReLU
        >>> layer = ReLU()
        >>> _ = layer(np.array([-1.0, 0.0, 2.0]))
        >>> layer.backward(np.array([5.0, 5.0, 5.0]))
        array([0., 0., 5.])
        """
        positive = _saved(self._positive, "ReLU")
        grad = _gradient(grad, positive.shape, "ReLU")
        return np.where(positive, grad, 0).astype(grad.dtype, copy=False)


class Tanh(Module):
    """``tanh(x)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import Tanh
    >>> layer = Tanh()
    >>> _ = layer(np.zeros(2))
    >>> layer.backward(np.ones(2))
    array([1., 1.])
    """

    def __init__(self) -> None:
        super().__init__()
        self._output: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``np.tanh(x)``, kept for :meth:`backward`.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import Tanh
        >>> Tanh().forward(np.array([0.0]))
        array([0.])
        """
        self._output = np.tanh(x)
        return self._output

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """``grad * (1 - y**2)``, y the last forward's output.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import Tanh
        >>> layer = Tanh()
        >>> _ = layer(np.array([0.0, 100.0]))
        >>> layer.backward(np.array([2.0, 2.0]))
        array([2., 0.])
        """
        y = _saved(self._output, "Tanh")
        grad = _gradient(grad, y.shape, "Tanh")
        one = _constants_type(y)(1)
        return grad * (one - y * y)


class SELU(Module):
    """``scale * (x if x > 0 else alpha * (exp(x) - 1))`` with the self-normalizing constants;
    in x's float type, or float64 for integer x (as ``np.tanh``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import SELU
    >>> SELU()(np.array([0.0, 1.0]))
    array([0.        , 1.05070099])
    """

    def __init__(self) -> None:
        super().__init__()
        self._input: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """SELU of x (see the class); x is kept for :meth:`backward`.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import SELU
        >>> SELU().forward(np.array([-100.0]))  # saturates at -scale * alpha
        array([-1.75809934])
        """
        x = np.asarray(x)
        self._input = x
        typed = _constants_type(x)
        negative = typed(SELU_ALPHA) * np.expm1(np.minimum(x, typed(0)))
        return (typed(SELU_SCALE) * np.where(x > 0, x, negative)).astype(typed, copy=False)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """``grad`` times SELU's slope at the last forward's input.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import SELU
        >>> layer = SELU()
        >>> _ = layer(np.array([1.0]))
        >>> layer.backward(np.array([1.0]))  # the scale, for x > 0
        array([1.05070099])
        """
        x = _saved(self._input, "SELU")
        grad = _gradient(grad, x.shape, "SELU")
        typed = _constants_type(x)
        exp = np.exp(np.minimum(x, typed(0)))
        slope = typed(SELU_SCALE) * np.where(x > 0, typed(1), typed(SELU_ALPHA) * exp)
        return (grad * slope).astype(_constants_type(grad), copy=False)


class SoftmaxCrossEntropy:
    """Mean cross-entropy of softmax(logits) against integer labels, computed stably.

    Not a module (its forward takes the labels too and its backward no gradient), but called
    like one: ``loss(logits, labels)`` is ``loss.forward(logits, labels)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import SoftmaxCrossEntropy
    >>> loss = SoftmaxCrossEntropy()
    >>> round(loss(np.zeros((2, 4)), np.array([0, 3])), 4)  # log 4
    1.3863
    >>> loss.backward().shape
    (2, 4)
    >>> loss
    SoftmaxCrossEntropy()
    """

    def __init__(self) -> None:
        self._probabilities: np.ndarray | None = None
        self._labels: np.ndarray | None = None

    def __repr__(self) -> str:
        return "SoftmaxCrossEntropy()"

    def __call__(self, logits: npt.ArrayLike, labels: npt.ArrayLike) -> float:
        """``self.forward(logits, labels)``."""
        return self.forward(logits, labels)

    def forward(self, logits: npt.ArrayLike, labels: npt.ArrayLike) -> float:
        """The mean loss; the softmax probabilities and the labels are kept for
        :meth:`backward`.

        Parameters
        ----------
        logits : array_like of float, shape (n, classes)
            Unnormalised log-probabilities.
        labels : array_like of int, shape (n,)
            The classes, in [0, classes).

        Returns
        -------
        float
            The mean over the n rows of ``-log softmax(logits)[label]``.

        Raises
        ------
        TypeError
            If logits are not real numbers or labels not integers.
        ValueError
            If a shape is wrong or a label out of range.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import SoftmaxCrossEntropy
        >>> logits = np.array([[0.0, np.log(3.0)]])  # probabilities 1/4 and 3/4
        >>> round(SoftmaxCrossEntropy().forward(logits, np.array([1])), 4)  # -log(3/4)
        0.2877
        """
        logits, labels = np.asarray(logits), np.asarray(labels)
        if logits.dtype.kind not in "iuf":
            raise TypeError(f"logits must be real numbers, got dtype {logits.dtype}")
        if labels.dtype.kind not in "iu":
            raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
        if logits.ndim != 2 or labels.shape != logits.shape[:1]:
            raise ValueError(
                f"logits must be (n, classes) and labels (n,), got {logits.shape} and "
                f"{labels.shape}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
            raise ValueError(f"labels must be integers in [0, {logits.shape[1]})")
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_probabilities = shifted - log_sum
        self._probabilities = np.exp(log_probabilities)
        self._labels = labels
        return float(-log_probabilities[np.arange(labels.size), labels].mean())

    def backward(self) -> np.ndarray:
        """The gradient of the mean loss with respect to the logits."""
        probabilities = _saved(self._probabilities, "SoftmaxCrossEntropy")
        grad = probabilities.copy()
        grad[np.arange(grad.shape[0]), self._labels] -= 1
        grad /= grad.shape[0]
        return grad


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed stably.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import softmax
    >>> softmax(np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]]))
    array([[0.25, 0.75],
           [0.5 , 0.5 ]])
    """
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
