"""The module protocol of fastdrop.nn: parameters, train/eval, call syntax, reprs, Sequential."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TypeVar

import numpy as np

from .._core import check_bool

_M = TypeVar("_M", bound="Module")


class Parameter:
    """A trainable array and the gradient accumulated for it.

    Parameters
    ----------
    value : numpy.ndarray
        The array; optimizers update it in place.
    name : str
        For messages and saved files.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import Parameter
    >>> w = Parameter(np.ones((2, 3)), "weight")
    >>> w.grad.shape
    (2, 3)
    """

    __slots__ = ("grad", "name", "value")

    def __init__(self, value: np.ndarray, name: str) -> None:
        self.value = value
        self.grad = np.zeros_like(value)
        self.name = name

    def __repr__(self) -> str:
        return f"Parameter({self.name}, shape={self.value.shape}, dtype={self.value.dtype})"


class Module:
    """Base of every layer: ``forward``, ``backward``, parameters and the training flag.

    ``backward(grad)`` takes the gradient of the loss with respect to the last ``forward``'s
    output, adds the parameters' gradients to their ``.grad`` and returns the gradient with
    respect to that forward's input. ``train()`` and ``eval()`` set ``training`` on the module
    and all its children, as in PyTorch. A module is called as a function (``module(x)`` is
    ``module.forward(x)``), and its repr shows its settings (:meth:`extra_repr`) and its
    children, as PyTorch prints them.

    Examples
    --------
    >>> from fastdrop.nn import Dropout, ReLU, Sequential
    >>> net = Sequential(ReLU(), Dropout(0.5))
    >>> net.eval().training, net[1].training
    (False, False)
    """

    def __init__(self) -> None:
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``self.forward(x)``."""
        return self.forward(x)

    def extra_repr(self) -> str:
        """The module's settings, as its repr shows them between the parentheses.

        Empty here; a layer with settings returns them as keyword arguments, and
        ``repr(module)`` is then ``Name(settings)``.

        Returns
        -------
        str
            For example ``"p=0.5, mode='inverted'"``.

        Examples
        --------
        >>> from fastdrop.nn import Linear, Module
        >>> class Scale(Module):
        ...     def __init__(self, factor: float) -> None:
        ...         super().__init__()
        ...         self.factor = factor
        ...
        ...     def extra_repr(self) -> str:
        ...         return f"factor={self.factor}"
        >>> Scale(2.0)
        Scale(factor=2.0)
        >>> Linear(4, 3).extra_repr()
        'in_features=4, out_features=3, bias=True, dtype=float32'
        """
        return ""

    def __repr__(self) -> str:
        """``Name(settings)``, or, for a module with children, its settings and then one
        ``(name): child`` a line, indented by two spaces (as PyTorch prints modules)."""
        extra = self.extra_repr()
        children = [f"({name}): {child!r}" for name, child in self.named_children()]
        if not children and "\n" not in extra:
            return f"{type(self).__name__}({extra})"
        body = "\n".join(extra.splitlines() + children).replace("\n", "\n  ")
        return f"{type(self).__name__}(\n  {body}\n)"

    def children(self) -> list[Module]:
        """The modules this one contains (none for a plain layer)."""
        return []

    def named_children(self) -> list[tuple[str, Module]]:
        """The children with the names the repr shows: their positions, unless the module
        names them.

        Returns
        -------
        list of (str, Module)
            In the order of :meth:`children`.

        Examples
        --------
        >>> from fastdrop.nn import ReLU, Sequential, Tanh
        >>> Sequential(ReLU(), Tanh()).named_children()
        [('0', ReLU()), ('1', Tanh())]
        """
        return [(str(i), child) for i, child in enumerate(self.children())]

    def own_parameters(self) -> list[Parameter]:
        """The parameters of this module itself, not of its children."""
        return []

    def parameters(self) -> list[Parameter]:
        """Every parameter of this module and its children, in order.

        Examples
        --------
        >>> from fastdrop.nn import Linear, ReLU, Sequential
        >>> net = Sequential(Linear(3, 4, rng=0), ReLU(), Linear(4, 2, bias=False, rng=1))
        >>> [(parameter.name, parameter.value.shape) for parameter in net.parameters()]
        [('weight', (3, 4)), ('bias', (4,)), ('weight', (4, 2))]
        """
        result = list(self.own_parameters())
        for child in self.children():
            result.extend(child.parameters())
        return result

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero.

        Examples
        --------
        >>> from fastdrop.nn import Linear
        >>> layer = Linear(3, 2, rng=0)
        >>> layer.weight.grad[...] = 1.0
        >>> layer.zero_grad()
        >>> bool(layer.weight.grad.any())
        False
        """
        for parameter in self.parameters():
            parameter.grad[...] = 0

    def train(self: _M, mode: bool = True) -> _M:
        """Set training mode (``mode=False``: evaluation) here and in every child.

        Parameters
        ----------
        mode : bool, optional
            True for training, False for evaluation; TypeError for anything else.

        Returns
        -------
        Module
            self.

        Examples
        --------
        >>> from fastdrop.nn import Dropout, Sequential
        >>> net = Sequential(Dropout(0.5))
        >>> net.train(False)[0].training, net.train()[0].training
        (False, True)
        """
        self.training = check_bool(mode, "mode")
        for child in self.children():
            child.train(mode)
        return self

    def eval(self: _M) -> _M:
        """Evaluation mode, here and in every child: ``train(False)``; returns self.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import Dropout
        >>> Dropout(0.5, rng=0).eval()(np.ones(3))  # inverted dropout at evaluation: identity
        array([1., 1., 1.])
        """
        return self.train(False)


def _tree(module: Module) -> Iterator[Module]:
    """The module and everything below it, parents before their children."""
    yield module
    for child in module.children():
        yield from _tree(child)


@contextlib.contextmanager
def temporary_mode(module: Module, training: bool) -> Iterator[Module]:
    """``module.train(training)`` for the ``with`` block; on leaving it, however it is left,
    every module in the tree gets back the ``training`` flag it had before.

    Examples
    --------
    >>> from fastdrop.nn import Dropout, ReLU, Sequential
    >>> net = Sequential(ReLU(), Dropout(0.5).eval())
    >>> with temporary_mode(net, False):
    ...     net.training, net[1].training
    (False, False)
    >>> net.training, net[0].training, net[1].training
    (True, True, False)
    """
    found = [(member, member.training) for member in _tree(module)]
    module.train(training)
    try:
        yield module
    finally:
        for member, flag in found:
            member.training = flag


class Sequential(Module):
    """Modules applied one after the other; backward runs them in reverse.

    Parameters
    ----------
    *modules : Module
        The layers, input side first.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import Linear, ReLU, Sequential
    >>> net = Sequential(Linear(3, 4, rng=0), ReLU(), Linear(4, 2, rng=1))
    >>> net(np.ones((5, 3), np.float32)).shape
    (5, 2)
    >>> len(net), len(net.parameters())
    (3, 4)
    >>> net
    Sequential(
      (0): Linear(in_features=3, out_features=4, bias=True, dtype=float32)
      (1): ReLU()
      (2): Linear(in_features=4, out_features=2, bias=True, dtype=float32)
    )
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for module in modules:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential takes Modules, got {type(module).__name__}")
        self.modules = list(modules)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x through every module, input side first.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import ReLU, Sequential, Tanh
        >>> Sequential(ReLU(), Tanh()).forward(np.array([-1.0, 0.0]))
        array([0., 0.])
        """
        for module in self.modules:
            x = module.forward(x)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """grad through every module's backward, output side first: the gradient with respect
        to the last :meth:`forward`'s input.

        Examples
        --------
        >>> import numpy as np
        >>> from fastdrop.nn import ReLU, Sequential, Tanh
        >>> net = Sequential(ReLU(), Tanh())
        >>> _ = net(np.array([-1.0, 0.0, 1.0]))
        >>> net.backward(np.ones(3)).round(4)  # 0 where ReLU cut, 1 - tanh(1)**2 past it
        array([0.  , 0.  , 0.42])
        """
        for module in reversed(self.modules):
            grad = module.backward(grad)
        return grad

    def children(self) -> list[Module]:
        return list(self.modules)

    def __getitem__(self, index: int) -> Module:
        return self.modules[index]

    def __len__(self) -> int:
        return len(self.modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.modules)
