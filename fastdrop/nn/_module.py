"""The module protocol of fastdrop.nn: parameters, train/eval, Sequential."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["Module", "Parameter", "Sequential"]


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
    and all its children, as in PyTorch.

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
        return self.forward(x)

    def children(self) -> list[Module]:
        """The modules this one contains (none for a plain layer)."""
        return []

    def own_parameters(self) -> list[Parameter]:
        """The parameters of this module itself, not of its children."""
        return []

    def parameters(self) -> list[Parameter]:
        """Every parameter of this module and its children, in order."""
        result = list(self.own_parameters())
        for child in self.children():
            result.extend(child.parameters())
        return result

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero."""
        for parameter in self.parameters():
            parameter.grad[...] = 0

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=False``: evaluation) here and in every child; returns self."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"mode must be a bool, got {type(mode).__name__}")
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode, here and in every child; returns self."""
        return self.train(False)


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
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for module in modules:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential takes Modules, got {type(module).__name__}")
        self.modules = list(modules)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for module in self.modules:
            x = module.forward(x)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
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
