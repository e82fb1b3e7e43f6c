"""Neural-network layers in NumPy around fastdrop's dropout: a module protocol with train/eval,
the dropout family (whose backward replays the mask from its (key, offset) instead of storing
it), Linear layers, activations, softmax cross-entropy, SGD with max-norm, and an MLP (itself a
module).

Examples
--------
>>> import numpy as np
>>> from fastdrop.nn import Dropout, Linear, ReLU, Sequential, SoftmaxCrossEntropy, SGD
>>> net = Sequential(Dropout(0.2, rng=1), Linear(4, 16, rng=0), ReLU(), Linear(16, 3, rng=2))
>>> loss = SoftmaxCrossEntropy()
>>> optimizer = SGD(net.parameters(), lr=0.1, momentum=0.9, max_norm=3.0)
>>> value = loss(net(np.ones((8, 4), np.float32)), np.zeros(8, int))
>>> _ = net.backward(loss.backward()); optimizer.step()
>>> net.eval().training
False
"""

from ._module import Module, Parameter, Sequential
from .dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, GaussianDropout
from .layers import SELU, Linear, ReLU, SoftmaxCrossEntropy, Tanh, softmax
from .mlp import MLP
from .optim import SGD

__all__ = [
    "MLP",
    "SELU",
    "SGD",
    "AlphaDropout",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "GaussianDropout",
    "Linear",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "SoftmaxCrossEntropy",
    "Tanh",
    "softmax",
]
