"""Modules that behave: MLP is a module, every module is callable and shows its settings, the
methods that switch the mode give back the one they found, and fit is the documented loop."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from fastdrop import nn
from fastdrop.nn import MLP, SGD, Linear, Module, ReLU, Sequential, SoftmaxCrossEntropy, softmax
from fastdrop.nn._module import temporary_mode


def data(rows=60, features=5, seed=0):
    """Inputs far from unit scale (so the standardization matters) and labels that depend on
    them."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)) * 4 + 2
    return X, (X[:, 0] > 2).astype(int) + (X[:, 1] > 4)


def flags(module):
    """The training flags of the module and everything below it, parents first."""
    return [module.training] + [flag for child in module.children() for flag in flags(child)]


# -- 1. MLP is a module ------------------------------------------------------------------------


def test_mlp_is_a_module_with_the_network_as_its_child():
    model = MLP([5, 8, 3], dropout=[0.2, 0.5], rng=0)
    assert isinstance(model, Module)
    assert model.children() == [model.network]
    assert model.named_children() == [("network", model.network)]
    assert [id(p) for p in model.parameters()] == [id(p) for p in model.network.parameters()]
    assert model.eval() is model and flags(model) == [False] * 7
    assert model.train() is model and flags(model) == [True] * 7
    for parameter in model.parameters():
        parameter.grad[...] = 1.0
    model.zero_grad()
    assert not any(parameter.grad.any() for parameter in model.parameters())


def test_the_training_flag_is_the_networks():
    model = MLP([5, 8, 3], dropout=[0.2, 0.5], rng=0)
    model.network.eval()
    assert model.training is False
    model.training = True
    assert model.network.training is True
    model.train(False)
    assert flags(model) == [False] * 7


def test_calling_the_model_gives_the_logits_of_prepared_rows():
    """model(X): X standardized as predict does, through the network in the current mode."""
    X, y = data()
    model = MLP([5, 8, 3], dropout=[0.2, 0.5], rng=1)
    model.fit(X, y, epochs=1, verbose=False)
    assert model.input_scale != 1  # the standardization is fitted and changes the rows
    model.eval()
    np.testing.assert_array_equal(softmax(model(X)), model.predict_proba(X))
    np.testing.assert_array_equal(model(X), model.forward(X))
    twin = MLP([5, 8, 3], dropout=[0.2, 0.5], rng=1)
    twin.fit(X, y, epochs=1, verbose=False)
    rows = (X.astype(np.float32) - twin.input_shift) / twin.input_scale
    for training in (True, False):  # with dropout: the same masks from the same stream
        model.train(training)
        twin.train(training)
        np.testing.assert_array_equal(model(X), twin.network(rows))
    with pytest.raises(ValueError, match=r"X must have shape \(n, 5\)"):
        model(X[:, :4])


def test_backward_is_the_gradient_of_forward():
    """Through the network and the standardization: finite differences in float64 at
    evaluation, and in training the network's backward (same masks) divided by the scale."""
    X, y = data(rows=4, seed=2)
    grad = np.random.default_rng(3).standard_normal((4, 3))
    models = [
        MLP([5, 6, 3], dropout=[0.2, 0.5], rng=4, activation="tanh", dtype=np.float64)
        for _ in range(2)
    ]
    for model in models:
        model.fit(X, y, epochs=1, verbose=False)
    model, twin = models
    model.eval()
    numerical = np.zeros_like(X)
    for index in np.ndindex(X.shape):
        step = np.zeros_like(X)
        step[index] = 1e-6
        up, down = ((model(X + sign * step) * grad).sum() for sign in (1, -1))
        numerical[index] = (up - down) / 2e-6
    model(X)
    np.testing.assert_allclose(model.backward(grad), numerical, rtol=1e-6, atol=1e-9)
    model.train()
    twin.train()
    model.zero_grad()
    twin.zero_grad()
    model(X)
    twin.network(twin._inputs(X))
    np.testing.assert_array_equal(
        model.backward(grad), twin.network.backward(grad) / twin.input_scale
    )
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(a.grad, b.grad)


# -- 2. callable, with a repr that shows the settings ----------------------------------------


def test_reprs_show_the_settings():
    assert repr(Linear(4, 3)) == "Linear(in_features=4, out_features=3, bias=True, dtype=float32)"
    assert (
        repr(Linear(2, 5, bias=False, dtype=np.float64))
        == "Linear(in_features=2, out_features=5, bias=False, dtype=float64)"
    )
    assert [repr(layer()) for layer in (ReLU, nn.Tanh, nn.SELU)] == ["ReLU()", "Tanh()", "SELU()"]
    assert repr(SoftmaxCrossEntropy()) == "SoftmaxCrossEntropy()"
    assert repr(Sequential()) == "Sequential()"
    layer = Linear(3, 2, rng=0)
    optimizer = SGD(layer.parameters(), lr=0.5, momentum=0.9, max_norm=2.0, lr_decay=0.5)
    optimizer.epoch_end()  # the learning rate as it is now
    assert repr(optimizer) == (
        "SGD(2 parameters, lr=0.25, momentum=0.9, weight_decay=0.0, max_norm=2.0, lr_decay=0.5)"
    )
    assert repr(SGD([layer.weight])).startswith("SGD(1 parameter, lr=0.01,")


def test_containers_print_their_children_one_a_line_indented():
    net = Sequential(Linear(3, 4, rng=0), Sequential(ReLU(), nn.Tanh()), nn.SELU())
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=4, bias=True, dtype=float32)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Tanh()\n"
        "  )\n"
        "  (2): SELU()\n"
        ")"
    )
    assert repr(MLP([2, 8, 2], rng=0, activation="tanh", dtype=np.float64)) == (
        "MLP(\n"
        "  sizes=[2, 8, 2], dropout=[0.0, 0.0], activation='tanh', mode='inverted', "
        "dtype=float64, standardize=True\n"
        "  (network): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=8, bias=True, dtype=float64)\n"
        "    (1): Tanh()\n"
        "    (2): Linear(in_features=8, out_features=2, bias=True, dtype=float64)\n"
        "  )\n"
        ")"
    )


def test_an_mlp_with_dropout_lists_its_dropout_layers():
    """The dropout layers' own settings are theirs to print: only the layout is checked."""
    lines = repr(MLP([4, 16, 3], dropout=[0.2, 0.5], rng=0, mode="vanilla")).splitlines()
    assert lines[1].startswith("  sizes=[4, 16, 3], dropout=[0.2, 0.5], ")
    assert "mode='vanilla'" in lines[1]
    assert lines[0] == "MLP(" and lines[2] == "  (network): Sequential("
    names = [re.match(r" {4}\((\d)\): (\w+)\(", line).groups() for line in lines[3:8]]
    assert names == [
        (str(i), name) for i, name in enumerate(["Dropout", "Linear", "ReLU", "Dropout", "Linear"])
    ]
    assert lines[8:] == ["  )", ")"]


def test_a_subclass_that_defines_extra_repr_gets_name_and_settings():
    class Scale(Module):
        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def extra_repr(self):
            return f"factor={self.factor}, mode='inverted'"

    class Plain(Module):
        pass

    class Wrapper(Module):  # names no children: they are numbered
        def __init__(self, *inner):
            super().__init__()
            self.inner = list(inner)

        def children(self):
            return self.inner

    class Notes(Module):
        def extra_repr(self):
            return "first\nsecond"

    assert repr(Scale(2.0)) == "Scale(factor=2.0, mode='inverted')"
    assert repr(Plain()) == "Plain()"
    assert repr(Wrapper(Scale(1), Plain())) == (
        "Wrapper(\n  (0): Scale(factor=1, mode='inverted')\n  (1): Plain()\n)"
    )
    assert repr(Sequential(Notes())) == "Sequential(\n  (0): Notes(\n    first\n    second\n  )\n)"


MODULES = {
    "Linear": (lambda: Linear(4, 3, rng=0), (2, 4)),
    "ReLU": (ReLU, (2, 4)),
    "Tanh": (nn.Tanh, (2, 4)),
    "SELU": (nn.SELU, (2, 4)),
    "Dropout": (lambda: nn.Dropout(0.5, rng=1), (2, 4)),
    "Dropout1d": (lambda: nn.Dropout1d(0.5, rng=1), (2, 3, 4)),
    "Dropout2d": (lambda: nn.Dropout2d(0.5, rng=1), (2, 3, 2, 2)),
    "Dropout3d": (lambda: nn.Dropout3d(0.5, rng=1), (2, 3, 2, 2, 2)),
    "AlphaDropout": (lambda: nn.AlphaDropout(0.2, rng=1), (2, 4)),
    "GaussianDropout": (lambda: nn.GaussianDropout(0.2, rng=1), (2, 4)),
    "Sequential": (lambda: Sequential(Linear(4, 3, rng=0), nn.Dropout(0.5, rng=1)), (2, 4)),
    "MLP": (lambda: MLP([4, 8, 3], dropout=[0.2, 0.5], rng=0), (2, 4)),
}


def test_every_module_of_the_package_is_in_the_list():
    exported = {name for name in nn.__all__ if name != "Module"}
    modules = {name for name in exported if isinstance(getattr(nn, name), type)}
    assert {name for name in modules if issubclass(getattr(nn, name), Module)} == set(MODULES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_is_called_as_its_forward(name):
    make, shape = MODULES[name]
    x = np.random.default_rng(5).standard_normal(shape)
    called, forwarded = make(), make()  # the same weights and noise
    for training in (True, False):
        called.train(training)
        forwarded.train(training)
        np.testing.assert_array_equal(called(x), forwarded.forward(x))


def test_the_loss_is_called_as_its_forward():
    logits, labels = np.random.default_rng(6).standard_normal((4, 3)), np.array([0, 2, 1, 2])
    loss = SoftmaxCrossEntropy()
    assert loss(logits, labels) == SoftmaxCrossEntropy().forward(logits, labels)
    np.testing.assert_allclose(loss.backward(), (softmax(logits) - np.eye(3)[labels]) / 4)


# -- 3. every method that switches the mode gives back the one it found ----------------------

X_SMALL, Y_SMALL = data(rows=30, seed=7)
CALLS = {
    "predict_proba": lambda m: m.predict_proba(X_SMALL),
    "predict_proba mc": lambda m: m.predict_proba(X_SMALL, mc_samples=2),
    "predict": lambda m: m.predict(X_SMALL),
    "predict mc": lambda m: m.predict(X_SMALL, mc_samples=2),
    "evaluate": lambda m: m.evaluate(X_SMALL, Y_SMALL),
    "fit": lambda m: m.fit(X_SMALL, Y_SMALL, epochs=1, verbose=False),
    "fit validated": lambda m: m.fit(
        X_SMALL, Y_SMALL, epochs=2, validation_split=0.3, patience=1, verbose=False
    ),
}


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_methods_leave_the_mode_they_found(call, training):
    model = MLP([5, 8, 3], dropout=[0.2, 0.5], rng=0)
    model.network.train(training)
    CALLS[call](model)
    assert flags(model.network) == [training] * 6


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_mixed_mode_is_given_back_layer_by_layer(call):
    model = MLP([5, 8, 3], dropout=[0.2, 0.5], rng=0)
    model.network[3].eval()  # the hidden dropout only
    before = flags(model.network)
    CALLS[call](model)
    assert flags(model.network) == before == [True, True, True, True, False, True]


def test_fit_trains_in_training_mode_and_validates_in_eval_mode(monkeypatch):
    model = MLP([5, 8, 3], dropout=[0.2, 0.5], rng=0)
    model.network.eval()
    layer = model.network[0]
    seen = []
    original = layer.forward

    def recording(x):
        seen.append((x.shape[0], layer.training))
        return original(x)

    monkeypatch.setattr(layer, "forward", recording)
    model.fit(X_SMALL, Y_SMALL, epochs=2, batch_size=10, validation_split=0.2, verbose=False)
    epoch = [(10, True), (10, True), (4, True), (6, False)]  # 24 rows trained, 6 validated
    assert seen == epoch * 2
    assert flags(model.network) == [False] * 6


def test_monte_carlo_samples_use_dropout_from_either_mode():
    model = MLP([5, 8, 3], dropout=[0.2, 0.5], rng=0)
    model.network.eval()
    assert model.predict_proba(X_SMALL, mc_samples=3)[1].any()
    assert flags(model.network) == [False] * 6


def test_temporary_mode_gives_back_the_flags_when_the_block_raises():
    net = Sequential(nn.Dropout(0.5), Sequential(ReLU().eval(), nn.Dropout(0.1)))
    before = flags(net)
    with pytest.raises(KeyError), temporary_mode(net, False) as inside:
        assert inside is net and flags(net) == [False] * 5
        raise KeyError
    assert flags(net) == before == [True, True, True, False, True]


# -- 4. fit is the documented loop, step for step -------------------------------------------


def reference_fit(model, X, y, *, epochs, batch_size, lr, lr_decay, split, patience):
    """fit written out as one loop from the model's parts: the same random draws in the same
    order (standardization, batch order, masks), so the same history and weights, bit for
    bit."""
    X = X.astype(model.dtype)
    cut = X.shape[0] - math.ceil(split * X.shape[0])
    shift = X[:cut].mean(axis=0, dtype=np.float64)
    scale = float(np.sqrt(np.mean((X[:cut] - shift) ** 2)))
    X = (X - shift.astype(model.dtype)) / np.array(scale, model.dtype)
    (X, y), (val_X, val_y) = (X[:cut], y[:cut]), (X[cut:], y[cut:])
    optimizer = SGD(model.network.parameters(), lr, momentum=0.9, lr_decay=lr_decay)
    history = {key: [] for key in ("loss", "error", "val_loss", "val_error", "lr")}
    best = (math.inf, None)
    for epoch in range(epochs):
        model.network.train()
        loss_sum = errors = 0.0
        order = model._order.permutation(X.shape[0])
        for first in range(0, X.shape[0], batch_size):
            rows = order[first : first + batch_size]
            logits = model.network(X[rows])
            loss_sum += model.loss.forward(logits, y[rows]) * rows.size
            errors += np.count_nonzero(logits.argmax(axis=1) != y[rows])
            optimizer.zero_grad()
            model.network.backward(model.loss.backward())
            optimizer.step()
        history["loss"].append(loss_sum / X.shape[0])
        history["error"].append(errors / X.shape[0])
        history["lr"].append(optimizer.lr)
        optimizer.epoch_end()
        logits = model.network.eval()(val_X)
        history["val_loss"].append(SoftmaxCrossEntropy().forward(logits, val_y))
        history["val_error"].append(np.count_nonzero(logits.argmax(axis=1) != val_y) / val_y.size)
        if history["val_loss"][-1] < best[0]:
            best = (history["val_loss"][-1], [w.copy() for w in model.weights()])
        elif epoch - int(np.argmin(history["val_loss"])) >= patience:
            break
    model.set_weights(best[1])
    return history


def test_fit_is_the_reference_loop_bit_for_bit():
    X, y = data(rows=200, seed=8)
    options = {"epochs": 40, "batch_size": 16, "lr": 0.4, "lr_decay": 0.95}
    model, twin = (MLP([5, 16, 3], dropout=[0.1, 0.5], rng=9) for _ in range(2))
    history = model.fit(X, y, validation_split=0.25, patience=2, verbose=False, **options)
    expected = reference_fit(twin, X, y, split=0.25, patience=2, **options)
    assert 2 < len(history["loss"]) < 40  # early stopping ran
    assert {key: history[key] for key in expected} == expected
    for a, b in zip(model.weights(), twin.weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.stream.offset == twin.stream.offset
    assert model._order.bit_generator.state == twin._order.bit_generator.state


def test_fit_reports_one_line_an_epoch(capsys):
    model = MLP([5, 8, 3], rng=0)
    history = model.fit(X_SMALL, Y_SMALL, epochs=2, verbose=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    for epoch, line in enumerate(lines):
        assert re.fullmatch(
            rf"epoch   {epoch + 1}/2  loss {history['loss'][epoch]:.4f}  "
            rf"error {history['error'][epoch]:.4f}  val_loss nan  val_error nan  \d+\.\d\d s",
            line,
        )


# -- 5. train takes a bool ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["yes", 1, None])
def test_train_refuses_a_mode_that_is_not_a_bool(mode):
    model = MLP([5, 8, 3], dropout=[0.2, 0.5], rng=0)
    for module in (model, model.network):
        with pytest.raises(TypeError, match=f"mode must be a bool, got {type(mode).__name__}"):
            module.train(mode)
        with pytest.raises(TypeError, match="mode must be a bool"), temporary_mode(module, mode):
            pass
    assert flags(model) == [True] * 7
    assert model.train(np.False_).training is False
