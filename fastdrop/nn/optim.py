"""Stochastic gradient descent with momentum, weight decay, max-norm and learning-rate decay."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .._core import check_real
from ._module import Parameter


class SGD:
    """SGD as in PyTorch (``v = momentum * v + g``, ``w -= lr * v``), plus the max-norm
    constraint of Srivastava et al. (2014).

    Weights are the parameters of two or more dimensions; biases (1-d) get neither weight decay
    nor max-norm. After each step, every column of a weight (one unit's incoming weights, as
    :class:`~fastdrop.nn.Linear` lays them out) whose L2 norm exceeds ``max_norm`` is scaled
    back to that norm.

    Parameters
    ----------
    parameters : iterable of Parameter
        What to update, e.g. ``model.parameters()``.
    lr : float, optional
        The learning rate, > 0 and finite.
    momentum : float, optional
        In [0, 1).
    weight_decay : float, optional
        L2 penalty coefficient added to the weights' gradients, >= 0 and finite.
    max_norm : float or None, optional
        The bound c on each unit's incoming weight norm, > 0 and finite; None for no
        constraint.
    lr_decay : float, optional
        :meth:`epoch_end` multiplies the learning rate by this, in (0, 1].

    Raises
    ------
    TypeError
        If a number is not a real number (a bool is none) or a parameter not a Parameter.
    ValueError
        If a number is out of its range (NaN and infinity are).

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import SGD, Linear
    >>> layer = Linear(3, 2, rng=0)
    >>> optimizer = SGD(layer.parameters(), lr=0.1, max_norm=0.5)
    >>> layer.weight.grad[...] = 1.0
    >>> optimizer.step()
    >>> bool((np.linalg.norm(layer.weight.value, axis=0) <= 0.5 + 1e-6).all())
    True
    >>> optimizer
    SGD(2 parameters, lr=0.1, momentum=0.0, weight_decay=0.0, max_norm=0.5, lr_decay=1.0)
    """

    def __init__(
        self,
        parameters: Iterable[Parameter],
        lr: float = 0.01,
        *,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        max_norm: float | None = None,
        lr_decay: float = 1.0,
    ) -> None:
        if not isinstance(parameters, Iterable):
            raise TypeError(
                "parameters must be an iterable of fastdrop.nn.Parameter, got "
                f"{type(parameters).__name__}"
            )
        self.parameters = list(parameters)
        for parameter in self.parameters:
            if not isinstance(parameter, Parameter):
                raise TypeError(
                    "parameters must be an iterable of fastdrop.nn.Parameter, got one "
                    f"{type(parameter).__name__}"
                )
        self.lr = check_real(lr, "lr", 0, low_open=True)
        self.momentum = check_real(momentum, "momentum", 0, 1, high_open=True)
        self.weight_decay = check_real(weight_decay, "weight_decay", 0)
        self.max_norm = (
            None if max_norm is None else check_real(max_norm, "max_norm", 0, low_open=True)
        )
        self.lr_decay = check_real(lr_decay, "lr_decay", 0, 1, low_open=True)
        self._velocity = [np.zeros_like(p.value) for p in self.parameters]

    def __repr__(self) -> str:
        """The settings, the learning rate as it is now (after any decay)."""
        count = f"{len(self.parameters)} parameter" + ("" if len(self.parameters) == 1 else "s")
        return (
            f"SGD({count}, lr={self.lr}, momentum={self.momentum}, "
            f"weight_decay={self.weight_decay}, max_norm={self.max_norm}, "
            f"lr_decay={self.lr_decay})"
        )

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero.

        Examples
        --------
        >>> from fastdrop.nn import SGD, Linear
        >>> layer = Linear(3, 2, rng=0)
        >>> optimizer = SGD(layer.parameters())
        >>> layer.bias.grad[...] = 1.0
        >>> optimizer.zero_grad()
        >>> layer.bias.grad
        array([0., 0.], dtype=float32)
        """
        for parameter in self.parameters:
            parameter.grad[...] = 0

    def step(self) -> None:
        """One update from the accumulated gradients, then the max-norm projection.

        Examples
        --------
        >>> from fastdrop.nn import SGD, Linear
        >>> layer = Linear(3, 2, rng=0)
        >>> optimizer = SGD(layer.parameters(), lr=0.5)
        >>> layer.bias.grad[...] = 1.0
        >>> optimizer.step()  # bias -= lr * grad
        >>> layer.bias.value
        array([-0.5, -0.5], dtype=float32)
        """
        for parameter, velocity in zip(self.parameters, self._velocity, strict=True):
            is_weight = parameter.value.ndim >= 2
            grad = parameter.grad
            if is_weight and self.weight_decay:
                grad = grad + self.weight_decay * parameter.value
            velocity *= self.momentum
            velocity += grad
            parameter.value -= self.lr * velocity
            if is_weight and self.max_norm is not None:
                norms = np.sqrt((parameter.value**2).sum(axis=0, keepdims=True))
                parameter.value *= np.minimum(1.0, self.max_norm / np.maximum(norms, 1e-30))

    def epoch_end(self) -> None:
        """Decay the learning rate: ``lr *= lr_decay``.

        Examples
        --------
        >>> from fastdrop.nn import SGD, Linear
        >>> optimizer = SGD(Linear(3, 2, rng=0).parameters(), lr=0.1, lr_decay=0.5)
        >>> optimizer.epoch_end()
        >>> optimizer.lr
        0.05
        """
        self.lr *= self.lr_decay
