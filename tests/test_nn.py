"""fastdrop.nn: gradients against finite differences, replayed masks, the module protocol, SGD."""

import copy
import itertools
import pickle
import tracemalloc

import numpy as np
import pytest

import fastdrop
from fastdrop.nn import (
    SELU,
    SGD,
    AlphaDropout,
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    GaussianDropout,
    Linear,
    Module,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
    Tanh,
    softmax,
)
from fastdrop.nn.layers import SELU_ALPHA, SELU_SCALE


def numerical_gradient(f, x, eps=1e-6):
    """Central differences of the scalar f at x (float64), element by element."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        up = f(x)
        x[index] = saved - eps
        down = f(x)
        x[index] = saved
        grad[index] = (up - down) / (2 * eps)
    return grad


def away_from_kinks(shape, seed):
    """Inputs at least 0.05 from 0, where ReLU's derivative jumps."""
    x = np.random.default_rng(seed).uniform(0.05, 2.0, shape)
    return x * np.where(np.random.default_rng(seed + 1).random(shape) < 0.5, -1, 1)


# Each case: a layer factory (the same masks on every call: fixed keys) and an input shape.
LAYERS = {
    "ReLU": (ReLU, (3, 5)),
    "Tanh": (Tanh, (3, 5)),
    "SELU": (SELU, (3, 5)),
    "Dropout": (lambda: Dropout(0.3, rng=11), (4, 6)),
    "Dropout vanilla": (lambda: Dropout(0.3, "vanilla", rng=11), (4, 6)),
    "Dropout axes": (lambda: Dropout(0.4, rng=5, axes=(0,)), (3, 4, 5)),
    "Dropout1d": (lambda: Dropout1d(0.5, rng=2), (2, 6, 3)),
    "Dropout2d": (lambda: Dropout2d(0.5, rng=2), (2, 4, 3, 2)),
    "Dropout3d": (lambda: Dropout3d(0.5, rng=2), (4, 2, 2, 2)),
    "AlphaDropout": (lambda: AlphaDropout(0.3, rng=4), (4, 6)),
    "GaussianDropout": (lambda: GaussianDropout(0.3, rng=4), (4, 6)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_backward_matches_finite_differences(name):
    make, shape = LAYERS[name]
    x = away_from_kinks(shape, 1)
    upstream = np.random.default_rng(2).standard_normal(shape)

    def loss(inputs):
        return float((upstream * make().forward(inputs)).sum())

    layer = make()
    layer.forward(x.copy())
    analytic = layer.backward(upstream)
    np.testing.assert_allclose(analytic, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)


def test_dropout_layers_drop_something():
    """The gradient checks above would pass for the identity: make sure masks were drawn."""
    for name in ("Dropout", "Dropout axes", "Dropout1d", "AlphaDropout"):
        make, shape = LAYERS[name]
        x = np.ones(shape)
        y = make().forward(x)
        assert (y != y.flat[0]).any(), name


def test_linear_parameter_gradients():
    layer = Linear(4, 3, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((5, 4))
    upstream = np.random.default_rng(2).standard_normal((5, 3))
    layer.forward(x)
    grad_x = layer.backward(upstream)

    def loss_of(parameter):
        def loss(value):
            saved = parameter.value.copy()
            parameter.value[...] = value
            result = float((upstream * layer.forward(x)).sum())
            parameter.value[...] = saved
            return result

        return loss

    for parameter in layer.parameters():
        expected = numerical_gradient(loss_of(parameter), parameter.value.copy())
        np.testing.assert_allclose(parameter.grad, expected, rtol=1e-6, atol=1e-8)
    expected_x = numerical_gradient(lambda v: float((upstream * layer.forward(v)).sum()), x)
    np.testing.assert_allclose(grad_x, expected_x, rtol=1e-6, atol=1e-8)


def test_linear_gives_inf_and_nan_silently():
    """As the dropout layers do (the suite makes warnings errors): a product that overflows is
    inf and one of inf and 0 is NaN, in forward and backward, without NumPy's warnings."""
    layer = Linear(2, 2, bias=False, rng=0)
    layer.weight.value[...] = [[1e30, 0.0], [1e30, 0.0]]
    y = layer.forward(np.array([[1e30, np.inf]], np.float32))
    assert np.isposinf(y[0, 0]) and np.isnan(y[0, 1])
    grad = layer.backward(np.array([[1e30, 0.0]], np.float32))
    assert np.isposinf(grad).all() and np.isnan(layer.weight.grad[1, 1])


def test_softmax_cross_entropy_gradient():
    logits = np.random.default_rng(3).standard_normal((6, 4)) * 3
    labels = np.array([0, 3, 1, 1, 2, 0])
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    expected = numerical_gradient(lambda z: SoftmaxCrossEntropy().forward(z, labels), logits)
    np.testing.assert_allclose(loss.backward(), expected, rtol=1e-6, atol=1e-9)
    # Stable for huge logits, and equal to the naive formula where that is finite.
    big = SoftmaxCrossEntropy().forward(np.array([[1000.0, 0.0]]), np.array([1]))
    assert big == pytest.approx(1000.0)
    naive = -np.log(softmax(logits)[np.arange(6), labels]).mean()
    assert SoftmaxCrossEntropy().forward(logits, labels) == pytest.approx(naive, rel=1e-12)


def test_backward_is_grad_times_the_forward_mask():
    """Backward regenerates the forward's mask from (key, offset): grad * mask * scale, exactly."""
    layer = Dropout(0.25, rng=fastdrop.Philox(9, offset=1000))
    rng = np.random.default_rng(0)
    for _ in range(3):  # each forward takes new counters; backward follows the latest
        x = rng.standard_normal((64, 100)).astype(np.float32)
        before = layer.stream.offset
        y = layer.forward(x)
        assert layer.last_draw == fastdrop.Draw(9, before)  # the counters it took
        assert layer.stream.offset == before + 50  # ceil(6400 / 128)
        key, offset = layer.last_draw
        mask = fastdrop.dropout_mask(x.shape, 0.25, rng=fastdrop.Philox(key, offset=offset))
        assert np.array_equal(mask, fastdrop.dropout_mask(x.shape, 0.25, rng=layer.last_draw))
        scale = np.float32(1 / 0.75)
        np.testing.assert_array_equal(y, np.where(mask, x * scale, 0))
        grad = rng.standard_normal(x.shape).astype(np.float32)
        np.testing.assert_array_equal(layer.backward(grad), np.where(mask, grad * scale, 0))
    assert 0.2 < 1 - mask.mean() < 0.3


@pytest.mark.parametrize(
    "make",
    [
        lambda: Dropout(0.5, rng=1),
        lambda: Dropout(0.5, rng=1, axes=(1,)),
        lambda: AlphaDropout(0.5, rng=1),
        lambda: GaussianDropout(0.5, rng=1),
    ],
)
def test_dropout_layers_hold_constant_memory(make):
    """Between forward and backward a dropout layer holds O(1) bytes: no mask, no input."""
    layer = make()
    layer.backward(layer.forward(np.ones((256, 1024), np.float32)))  # first-call caches aside
    for rows in (256, 4096):  # 16x more activations must not mean more bytes held
        x = np.ones((rows, 1024), np.float32)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            y = layer.forward(x)
            held = tracemalloc.get_traced_memory()[0] - before - y.nbytes
        finally:
            tracemalloc.stop()
        assert held < 2048, (rows, held)
        assert not any(isinstance(v, np.ndarray) and v.size > 1 for v in vars(layer).values())
        layer.backward(y)


def test_backward_needs_a_forward_of_that_shape():
    layer = Dropout(0.5, rng=1)
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.ones(3))
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        layer.backward(np.ones((3, 2)))


def test_eval_mode():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    for layer in (Dropout(0.5), AlphaDropout(0.5), GaussianDropout(0.5), Dropout2d(0.5)):
        layer.eval()
        np.testing.assert_array_equal(layer.forward(x.reshape(1, 2, 3, 1)), x.reshape(1, 2, 3, 1))
        np.testing.assert_array_equal(layer.backward(np.ones((1, 2, 3, 1))), 1.0)
    vanilla = Dropout(0.25, "vanilla").eval()
    np.testing.assert_allclose(vanilla.forward(x), 0.75 * x)
    np.testing.assert_allclose(vanilla.backward(np.ones_like(x)), 0.75)


def test_channel_dropout_shapes_are_checked():
    with pytest.raises(ValueError, match="expects"):
        Dropout2d(0.5, rng=1).forward(np.ones((2, 3)))
    y = Dropout2d(0.5, rng=1).forward(np.ones((3, 4, 4)))  # unbatched (C, H, W)
    assert ((y == 0).all(axis=(1, 2)) | (y == 2).all(axis=(1, 2))).all()
    with pytest.raises(ValueError, match="out of range"):
        Dropout(0.5, rng=1, axes=(2,)).forward(np.ones((2, 3)))
    with pytest.raises(TypeError, match="axes"):
        Dropout(0.5, axes=(0.5,))


def test_layers_sharing_a_stream_get_disjoint_counters():
    stream = fastdrop.Philox(5)
    first, second = Dropout(0.5, rng=stream), Dropout(0.5, rng=stream)
    first.forward(np.ones(1000))
    second.forward(np.ones(1000))
    assert first.last_draw == fastdrop.Draw(5, 0) and second.last_draw == fastdrop.Draw(5, 8)
    assert stream.offset == 16


def test_rate_and_rng_errors():
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="p must be"):
            Dropout(bad)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        AlphaDropout(1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        GaussianDropout(1.0)
    with pytest.raises(TypeError, match="real number"):
        Dropout("0.5")
    with pytest.raises(TypeError, match="rng"):
        Dropout(0.5, rng=1.5)
    with pytest.raises(ValueError, match="mode"):
        Dropout(0.5, "scaled")
    layer = Dropout(0.5, rng=np.random.default_rng(0))  # a Generator gives the key
    assert layer.stream.key == Dropout(0.5, rng=np.random.default_rng(0)).stream.key


def test_train_eval_propagate_to_children():
    inner = Sequential(Dropout(0.5), ReLU())
    net = Sequential(Linear(2, 2, rng=0), inner, Dropout(0.1))
    net.eval()
    assert not any(m.training for m in (net, inner, inner[0], inner[1], net[2]))
    net.train()
    assert all(m.training for m in (net, inner, inner[0], inner[1], net[2]))
    with pytest.raises(TypeError, match="bool"):
        net.train("yes")
    with pytest.raises(TypeError, match="Modules"):
        Sequential(ReLU(), np.tanh)
    assert len(net.parameters()) == 2


def test_sequential_backward_chains_the_layers():
    net = Sequential(
        Linear(3, 4, rng=0, dtype=np.float64), Tanh(), Linear(4, 2, rng=1, dtype=np.float64)
    )
    x = np.random.default_rng(0).standard_normal((5, 3))
    upstream = np.random.default_rng(1).standard_normal((5, 2))
    net.forward(x)
    grad = net.backward(upstream)
    expected = numerical_gradient(lambda v: float((upstream * net.forward(v)).sum()), x.copy())
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8)


def test_sgd_update_rules():
    layer = Linear(2, 2, rng=0, dtype=np.float64)
    w0, b0 = layer.weight.value.copy(), layer.bias.value.copy()
    optimizer = SGD(layer.parameters(), lr=0.1, momentum=0.5, weight_decay=0.01, lr_decay=0.5)
    g = np.array([[1.0, -2.0], [0.5, 0.0]])
    layer.weight.grad[...] = g
    layer.bias.grad[...] = [1.0, 1.0]
    optimizer.step()
    v = g + 0.01 * w0  # weight decay on weights only
    np.testing.assert_allclose(layer.weight.value, w0 - 0.1 * v)
    np.testing.assert_allclose(layer.bias.value, b0 - 0.1)
    w1 = layer.weight.value.copy()
    optimizer.step()  # same gradient again: velocity = 0.5 v + (g + decay w1)
    np.testing.assert_allclose(layer.weight.value, w1 - 0.1 * (0.5 * v + g + 0.01 * w1))
    optimizer.epoch_end()
    assert optimizer.lr == pytest.approx(0.05)
    optimizer.zero_grad()
    assert not layer.weight.grad.any()


def test_max_norm_bounds_each_units_incoming_weights():
    layer = Linear(5, 4, rng=0, dtype=np.float64)
    layer.weight.value[:, 0] *= 100  # one column far over the bound
    layer.weight.value[:, 1] = 0.01  # one well under it
    small = layer.weight.value[:, 1].copy()
    optimizer = SGD(layer.parameters(), lr=1e-9, max_norm=1.5)
    optimizer.step()
    norms = np.linalg.norm(layer.weight.value, axis=0)
    assert norms.max() <= 1.5 * (1 + 1e-12)
    assert norms[0] == pytest.approx(1.5)
    np.testing.assert_allclose(layer.weight.value[:, 1], small)  # untouched below the bound
    for bad in ({"lr": 0}, {"momentum": 1.0}, {"max_norm": 0}, {"lr_decay": 2}):
        with pytest.raises(ValueError):
            SGD(layer.parameters(), **{"lr": 0.1, **bad})
    with pytest.raises(TypeError):
        SGD([np.ones(3)])


def test_module_protocol_is_abstract():
    with pytest.raises(NotImplementedError):
        Module().forward(np.ones(2))


def all_masks(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.float64)


def mask_probabilities(masks, p):
    kept = masks.sum(axis=1)
    return (1 - p) ** kept * p ** (masks.shape[1] - kept)


@pytest.mark.parametrize("p", [0.5, 0.3])
def test_exact_ensemble_when_the_rest_is_linear(p):
    """The dropout paper's claim: with only linear layers after dropout, the average over all 2^n
    sub-networks (weighted by their probability) is the weight-scaled network, exactly."""
    n = 10
    x = np.random.default_rng(0).standard_normal((3, n))
    rest = Sequential(Linear(n, 4, rng=1, dtype=np.float64), Linear(4, 2, rng=2, dtype=np.float64))
    masks, weights = all_masks(n), mask_probabilities(all_masks(n), p)
    assert weights.sum() == pytest.approx(1.0, rel=1e-14)
    outputs = np.stack([rest.forward(x * m / (1 - p)) for m in masks])  # inverted sub-networks
    ensemble = np.tensordot(weights, outputs, axes=1)
    layer = Dropout(p).eval()
    np.testing.assert_allclose(ensemble, rest.forward(layer.forward(x)), rtol=1e-12, atol=1e-12)


def test_weight_scaling_is_the_geometric_mean_for_softmax():
    """Softmax after one linear layer: weight scaling gives exactly the renormalised geometric
    mean of the 2^n sub-networks' class probabilities (Srivastava et al. 2014, section 9)."""
    n, p = 8, 0.5
    x = np.random.default_rng(4).standard_normal((2, n))
    linear = Linear(n, 3, rng=5, dtype=np.float64)
    masks = all_masks(n)
    log_probs = np.stack([np.log(softmax(linear.forward(x * m))) for m in masks])
    geometric = np.exp(log_probs.mean(axis=0))
    geometric /= geometric.sum(axis=1, keepdims=True)
    vanilla = Dropout(p, "vanilla").eval()
    np.testing.assert_allclose(geometric, softmax(linear.forward(vanilla.forward(x))), rtol=1e-12)


def relu_ensemble_gap(seed):
    """For a dropout -> Linear -> ReLU -> Linear network, the weight-scaled output and the exact
    ensemble mean over all 2^12 masks, and the mean distance of single sub-networks to it."""
    n, p = 12, 0.5
    x = np.random.default_rng(seed).standard_normal((4, n))
    rest = Sequential(
        Linear(n, 16, rng=seed + 1, dtype=np.float64),
        ReLU(),
        Linear(16, 3, rng=seed + 2, dtype=np.float64),
    )
    masks = all_masks(n)
    outputs = np.stack([rest.forward(x * m / (1 - p)) for m in masks])
    ensemble = outputs.mean(axis=0)
    scaled = rest.forward(x)
    single = np.abs(outputs - ensemble).mean()
    return np.abs(scaled - ensemble).mean() / np.abs(ensemble).mean(), single / np.abs(
        ensemble
    ).mean()


def test_weight_scaling_approximates_a_relu_ensemble():
    """With a ReLU between, weight scaling is not exact but lands far closer to the ensemble mean
    than a single sampled sub-network does (README quotes these figures)."""
    for seed in range(5):
        gap, single = relu_ensemble_gap(seed)
        assert 0 < gap < single / 2, (seed, gap, single)


DROPOUT_LAYERS = {
    "Dropout": lambda: Dropout(0.5, rng=21),
    "Dropout vanilla": lambda: Dropout(0.5, "vanilla", rng=21),
    "Dropout axes": lambda: Dropout(0.5, rng=21, axes=1),
    "Dropout2d": lambda: Dropout2d(0.5, rng=21),
    "AlphaDropout": lambda: AlphaDropout(0.5, rng=21),
    "GaussianDropout": lambda: GaussianDropout(0.5, rng=21),
}


@pytest.mark.parametrize("name", DROPOUT_LAYERS)
def test_backward_follows_the_mode_of_its_forward(name):
    """Switching train/eval between forward and backward does not change what backward does."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    grad = np.random.default_rng(1).standard_normal(x.shape)
    for training in (True, False):
        kept, switched = (DROPOUT_LAYERS[name]().train(training) for _ in range(2))
        kept.forward(x)
        switched.forward(x)
        switched.train(not training)
        np.testing.assert_array_equal(switched.backward(grad), kept.backward(grad))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", DROPOUT_LAYERS)
def test_backward_returns_a_new_array_in_either_mode(name, training):
    """Never the grad it was given, nor a view of it (AlphaDropout returned grad itself after an
    evaluation forward, while the others returned new arrays)."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    grad = np.random.default_rng(1).standard_normal(x.shape)
    layer = DROPOUT_LAYERS[name]().train(training)
    layer.forward(x)
    result = layer.backward(grad)
    assert result is not grad and not np.shares_memory(result, grad)
    if not training:  # the evaluation rule, linear: what forward does to grad
        np.testing.assert_array_equal(result, layer.forward(grad))


@pytest.mark.parametrize("name", DROPOUT_LAYERS)
def test_a_failed_forward_changes_nothing(name):
    """A forward that raises moves no stream and leaves backward replaying the forward before."""
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    grad = np.random.default_rng(3).standard_normal(x.shape)
    layer, twin = DROPOUT_LAYERS[name](), DROPOUT_LAYERS[name]()
    layer.forward(x)
    twin.forward(x)
    offset = layer.stream.offset
    for bad in (np.ones((3, 4, 5), np.int64), np.ones((2, 3), np.int32), ["a"]):
        with pytest.raises(TypeError):
            layer.forward(bad)
    if name == "Dropout2d":
        with pytest.raises(ValueError, match="expects"):
            layer.forward(np.ones((2, 3)))
    assert layer.stream.offset == offset
    assert layer.last_draw == twin.last_draw
    np.testing.assert_array_equal(layer.backward(grad), twin.backward(grad))


@pytest.mark.parametrize("name", DROPOUT_LAYERS)
def test_dropout_layers_keep_the_memory_layout(name):
    """forward and backward return arrays in their input's memory layout (NumPy's order="K":
    Fortran order, channels-last), in training and at evaluation, with the values C-ordered
    input gives element by element."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    grad = rng.standard_normal(x.shape).astype(np.float32)
    for training, order in itertools.product((True, False), [(3, 2, 1, 0), (0, 2, 3, 1)]):

        def laid_out(a, order=order):
            return np.ascontiguousarray(a.transpose(order)).transpose(np.argsort(order))

        layer, twin = DROPOUT_LAYERS[name]().train(training), DROPOUT_LAYERS[name]().train(training)
        y, y_c = layer.forward(laid_out(x)), twin.forward(x)
        g, g_c = layer.backward(laid_out(grad)), twin.backward(grad)
        assert layer.last_draw == twin.last_draw
        assert (layer.last_draw is None) == (not training)
        for result, expected in ((y, y_c), (g, g_c)):
            assert result.dtype == expected.dtype == np.float32
            np.testing.assert_array_equal(result, expected)
            assert result.strides == np.empty_like(laid_out(x)).strides, (order, training)


def test_a_layer_given_a_draw_starts_its_stream_there():
    """rng=Draw: the layer's stream starts at the draw's counters; the first forward is the call
    that Draw gives, the next ones follow on."""
    x = np.ones((3, 100), np.float32)
    layer = Dropout(0.5, rng=fastdrop.Draw(5, 10))
    assert (layer.stream.key, layer.stream.offset) == (5, 10)
    np.testing.assert_array_equal(
        layer.forward(x), fastdrop.dropout(x, 0.5, rng=fastdrop.Draw(5, 10))
    )
    assert layer.last_draw == fastdrop.Draw(5, 10)
    layer.forward(x)
    assert layer.last_draw == fastdrop.Draw(5, 13) and layer.stream.offset == 16
    gaussian = GaussianDropout(0.5, rng=fastdrop.Draw(5, 10))
    np.testing.assert_array_equal(
        gaussian.forward(x), fastdrop.gaussian_dropout(x, 0.5, rng=fastdrop.Draw(5, 10))
    )
    assert gaussian.last_draw == fastdrop.Draw(5, 10)


@pytest.mark.parametrize("training", [True, False])
def test_dropout_layers_refuse_integers_in_either_mode(training):
    for make in DROPOUT_LAYERS.values():
        layer = make().train(training)
        with pytest.raises(TypeError, match="dtype"):
            layer.forward(np.ones((2, 3, 4, 5), np.int64))


def test_layers_take_array_likes():
    nested = [[0.5, -1.0, 2.0], [-0.25, 3.0, -4.0]]
    for make in (
        lambda: Dropout(0.5, rng=1),
        lambda: Dropout(0.5, rng=1, axes=0),
        lambda: AlphaDropout(0.5, rng=1),
        lambda: GaussianDropout(0.5, rng=1),
        ReLU,
        Tanh,
        SELU,
        lambda: Linear(3, 2, rng=1, dtype=np.float64),
    ):
        from_list, from_array = make(), make()
        y = from_list.forward(nested)
        np.testing.assert_array_equal(y, from_array.forward(np.array(nested)))
        grad = np.ones_like(y)
        np.testing.assert_array_equal(from_list.backward(grad.tolist()), from_array.backward(grad))


def test_dropout_axes_may_be_one_int():
    x = np.ones((3, 4, 5))
    y = Dropout(0.5, rng=6, axes=-1).forward(x)
    assert (y == y[:, :, :1]).all()  # shared along the last axis, as axes=2 says too
    np.testing.assert_array_equal(y, Dropout(0.5, rng=6, axes=(2,)).forward(x))
    np.testing.assert_array_equal(y, Dropout(0.5, rng=6, axes=(-1,)).forward(x))
    for bad in (1.0, "1", (0, 1.5), {0}):
        with pytest.raises(TypeError, match="axes must be None, an int or a tuple of ints"):
            Dropout(0.5, axes=bad)


def test_selu_of_integers_is_float64_like_tanh():
    ints = np.array([3, 1, 0, -1, -3])
    layer, reference = SELU(), SELU()
    y = layer.forward(ints)
    assert y.dtype == np.float64 == Tanh().forward(ints).dtype
    np.testing.assert_array_equal(y, reference.forward(ints.astype(np.float64)))
    grad = layer.backward(np.ones(5, np.int64))
    assert grad.dtype == np.float64
    np.testing.assert_array_equal(grad, reference.backward(np.ones(5)))


def test_linear_refuses_another_width_and_keeps_its_last_input():
    layer = Linear(4, 3, rng=0, dtype=np.float64)
    x = np.random.default_rng(7).standard_normal((2, 4))
    layer.forward(x)
    with pytest.raises(ValueError, match="Linear expects inputs of width 4, got shape"):
        layer.forward(np.ones((2, 5)))
    np.testing.assert_allclose(
        layer.backward(np.ones((2, 3))), np.ones((2, 3)) @ layer.weight.value.T
    )
    np.testing.assert_allclose(layer.weight.grad, x.T @ np.ones((2, 3)))


def test_selu_gradient_at_zero_is_the_negative_sides():
    """As PyTorch's: SELU's derivative jumps at 0 (scale on the right, scale * alpha on the
    left), and x = 0 takes the left one, as does -0.0."""
    layer = SELU()
    layer.forward(np.array([0.0, -0.0, 1e-300, -1e-300]))
    slope = SELU_SCALE * SELU_ALPHA
    np.testing.assert_allclose(layer.backward(np.ones(4)), [slope, slope, SELU_SCALE, slope])


def test_relu_keeps_nan_and_gives_positive_zero():
    for dtype in (np.float16, np.float32, np.float64):
        x = np.array([np.nan, -np.inf, np.inf, 1.5, -2.0, -0.0, 0.0], dtype)
        layer = ReLU()
        y = layer.forward(x)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y, np.maximum(x, dtype(0)))  # NaN where x is NaN
        assert not np.signbit(y).any()
        np.testing.assert_array_equal(layer.backward(np.ones(7, dtype)), [0, 0, 1, 1, 0, 0, 0])


def test_backward_refuses_a_gradient_of_another_shape():
    """No broadcasting: a gradient must have the forward output's shape, in every layer."""
    x = np.random.default_rng(4).standard_normal((4, 3))
    for layer, wrong in (
        (ReLU(), np.ones(3)),
        (Tanh(), np.ones((1, 3))),
        (SELU(), np.ones((4, 1))),
        (Linear(3, 2, rng=0, dtype=np.float64), np.ones((2, 2, 2))),
        (Dropout(0.5, rng=1), np.ones(3)),
        (Dropout(0.5, rng=1).eval(), np.ones(3)),
    ):
        layer.forward(x)
        with pytest.raises(ValueError, match=r"grad has shape"):
            layer.backward(wrong)


def test_layers_copy_and_pickle_with_their_streams():
    """A copy replays the copied forward in backward, and its stream continues from the
    original's position: its next forward is the original's next forward."""
    x = np.random.default_rng(5).standard_normal((2, 3, 4, 1))
    for make in DROPOUT_LAYERS.values():
        layer = make()
        y = layer.forward(x)
        twins = [copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))]
        replayed = layer.backward(y)
        following = layer.forward(x)
        for twin in twins:
            np.testing.assert_array_equal(twin.backward(y), replayed)
            np.testing.assert_array_equal(twin.forward(x), following)
