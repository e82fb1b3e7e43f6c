"""Stochastic gradient descent with momentum, weight decay, max-norm and learning-rate decay."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

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
        The learning rate, > 0.
    momentum : float, optional
        In [0, 1).
    weight_decay : float, optional
        L2 penalty coefficient added to the weights' gradients, >= 0.
    max_norm : float or None, optional
        The bound c on each unit's incoming weight norm; None for no constraint.
    lr_decay : float, optional
        :meth:`epoch_end` multiplies the learning rate by this, in (0, 1].

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
        self.parameters = list(parameters)
        if not all(isinstance(p, Parameter) for p in self.parameters):
            raise TypeError("SGD takes an iterable of fastdrop.nn.Parameter")
        checks = [
            ("lr", lr, lr > 0),
            ("momentum", momentum, 0 <= momentum < 1),
            ("weight_decay", weight_decay, weight_decay >= 0),
            ("lr_decay", lr_decay, 0 < lr_decay <= 1),
        ]
        if max_norm is not None:
            checks.append(("max_norm", max_norm, max_norm > 0))
        for name, value, ok in checks:
            if not ok:
                raise ValueError(f"{name} is out of range: {value!r}")
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.max_norm = None if max_norm is None else float(max_norm)
        self.lr_decay = float(lr_decay)
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
        """Set every parameter's gradient to zero."""
        for parameter in self.parameters:
            parameter.grad[...] = 0

    def step(self) -> None:
        """One update from the accumulated gradients, then the max-norm projection."""
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
        """Decay the learning rate: ``lr *= lr_decay``."""
        self.lr *= self.lr_decay
