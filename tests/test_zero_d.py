"""Results do not depend on how many dimensions hold the elements: a 0-d array gives what the
same element gives in a 1-element 1-d or 2-d array. (NumPy 1.x computes an operation among
0-d arrays and Python floats in float64, but among n-d arrays in the arrays' dtype; an
implementation that leaves constants untyped differs between the two, and between NumPy 1 and 2.)
"""

import numpy as np
import pytest
from test_properties import assert_same_bits, values

import fastdrop
from fastdrop import nn

P = 0.3
N = 300  # elements tried, each alone under its own key


def _functional(f, **kwargs):
    return lambda x, grad, key: (f(x, P, rng=key, **kwargs),)


def _layer(make, *, train=True):
    def run(x, grad, key):
        layer = make(key)
        if not train:
            layer.eval()
        return layer.forward(x), layer.backward(grad)

    return run


CASES = {
    "dropout": _functional(fastdrop.dropout),
    "dropout vanilla": _functional(fastdrop.dropout, mode="vanilla"),
    "dropout vanilla eval": _functional(fastdrop.dropout, mode="vanilla", training=False),
    "gaussian_dropout": _functional(fastdrop.gaussian_dropout),
    "Dropout": _layer(lambda key: nn.Dropout(P, rng=key)),
    "Dropout vanilla eval": _layer(lambda key: nn.Dropout(P, "vanilla", rng=key), train=False),
    "AlphaDropout": _layer(lambda key: nn.AlphaDropout(P, rng=key)),
    "GaussianDropout": _layer(lambda key: nn.GaussianDropout(P, rng=key)),
    "ReLU": _layer(lambda key: nn.ReLU()),
    "Tanh": _layer(lambda key: nn.Tanh()),
    "SELU": _layer(lambda key: nn.SELU()),
}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_a_0d_array_gives_what_its_element_gives_in_1d_and_2d(name, dtype):
    run = CASES[name]
    dtype = np.dtype(dtype)
    xs, grads = values(dtype, N, seed=1), values(dtype, N, seed=2)
    for key in range(N):
        x, grad = xs[key], grads[key]
        with np.errstate(all="ignore"):  # the layers' own formulas warn on inf and NaN
            scalar = run(np.array(x), np.array(grad), key)
            for shape in [(1,), (1, 1)]:
                shaped = run(np.full(shape, x), np.full(shape, grad), key)
                for actual, expected in zip(scalar, shaped, strict=True):
                    assert_same_bits(np.asarray(actual).reshape(shape), expected)
