"""``fastdrop-mlp``: the dropout paper's findings, reproduced on scikit-learn's 8x8 digits.

Srivastava et al. (2014) report that dropout lowers test error, that max-norm helps it further
and that weight scaling matches averaging about 50 sampled networks; vanilla and inverted dropout
are the same network with rescaled weights. This trains the same MLP with and without dropout
from several random seeds and prints those comparisons with their spread, plus the time dropout
adds to a training epoch with fastdrop and with naive NumPy dropout.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from types import ModuleType

import numpy as np

import fastdrop

from ._progress import Progress, unwritable
from .nn import MLP, Dropout, Linear, Module

MC_SAMPLES = (1, 5, 10, 50, 100)
TEST_ROWS = 600  # of the 1,797 digits; the rest train


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


def load_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (offline, inside the package), pixels scaled to [0, 1], split
    once (fixed order) into 1,197 training and 600 test images."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        sys.exit(
            'fastdrop-mlp needs scikit-learn for its data: python -m pip install "fastdrop[demo]"'
        )
    X, y = sklearn_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order] / 16.0, y[order]
    return X[TEST_ROWS:], y[TEST_ROWS:], X[:TEST_ROWS], y[:TEST_ROWS]


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


def spread(values: Sequence[float]) -> str:
    """Mean ± sample standard deviation, in percent."""
    mean = 100 * statistics.fmean(values)
    deviation = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:5.2f} ± {deviation:4.2f}"


def parser() -> argparse.ArgumentParser:
    """The command line of fastdrop-mlp.

    Examples
    --------
    >>> parser().parse_args(["--seeds", "2"]).seeds
    2
    """
    result = argparse.ArgumentParser(
        prog="fastdrop-mlp",
        description="Dropout's findings (Srivastava et al. 2014) on the 8x8 digits: test error "
        "without/with dropout and max-norm, weight scaling vs Monte-Carlo averaging, vanilla vs "
        "inverted dropout, and the time dropout adds to an epoch.",
        allow_abbrev=False,  # "--p 2" is an error, not "--plot 2"
    )
    add = result.add_argument
    add("--seeds", type=int, default=3, help="runs (random seeds) per configuration, >= 1 (3)")
    add("--epochs", type=int, default=60, help="epochs per run, >= 1 (60)")
    add("--hidden", type=int, default=256, help="units per hidden layer, >= 1 (256)")
    add("--layers", type=int, default=2, help="hidden layers, >= 1 (2)")
    add("--input-p", type=float, default=0.1, help="input drop rate, in [0, 1) (0.1)")
    add("--hidden-p", type=float, default=0.5, help="hidden drop rate, in [0, 1) (0.5)")
    add("--max-norm", type=float, default=2.0, help="max-norm bound c, > 0 (2.0)")
    add("--lr", type=float, default=0.05, help="SGD learning rate, > 0 (0.05)")
    add(
        "--plot",
        metavar="FILE.png",
        help="draw error curves (needs matplotlib; the extension names the format: .png, .pdf, "
        ".svg, ...)",
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    command = parser()
    args = command.parse_args(argv)
    for option in ("seeds", "epochs", "hidden", "layers"):
        if (count := getattr(args, option)) < 1:
            command.error(f"--{option} must be at least 1, got {count}")
    for option, rate in (("--input-p", args.input_p), ("--hidden-p", args.hidden_p)):
        if not 0.0 <= rate < 1.0:
            command.error(f"{option} must be in [0, 1), got {rate:g}")
    for option, value in (("--max-norm", args.max_norm), ("--lr", args.lr)):
        if not 0.0 < value < math.inf:
            command.error(f"{option} must be positive and finite, got {value:g}")
    if args.plot is not None and (problem := plot_problem(args.plot)):  # before the runs
        command.error(f"--plot: {problem}")
    started = time.perf_counter()
    X, y, X_test, y_test = load_digits()
    sizes = [X.shape[1]] + [args.hidden] * args.layers + [10]
    rates = [args.input_p] + [args.hidden_p] * args.layers
    configs = {
        "no dropout": (None, None),
        "dropout": (rates, None),
        f"dropout + max-norm (c = {args.max_norm:g})": (rates, args.max_norm),
    }
    print(
        f"fastdrop {fastdrop.__version__} ({fastdrop.simd_path()}), digits 8x8: "
        f"{len(y)} training / {len(y_test)} test images"
    )
    print(
        f"MLP {'-'.join(map(str, sizes))}, ReLU, drop rates {rates}, SGD lr {args.lr} "
        f"momentum 0.9, batch 64, {args.epochs} epochs, seeds 0..{args.seeds - 1}\n"
    )

    progress = Progress(args.seeds * (len(configs) + 1), sys.stderr.isatty())
    errors: dict[str, list[float]] = {name: [] for name in configs}
    histories: dict[str, dict[str, list[float]]] = {}
    dropout_models = []
    for name, (config_rates, max_norm) in configs.items():
        for seed in range(args.seeds):
            model = MLP(sizes, dropout=config_rates, rng=seed)
            history = model.fit(
                X,
                y,
                epochs=args.epochs,
                lr=args.lr,
                max_norm=max_norm,
                validation_data=(X_test, y_test),
                verbose=False,
            )
            errors[name].append(history["val_error"][-1])
            histories.setdefault(name, history)
            if max_norm is None and config_rates is not None:
                dropout_models.append(model)
            progress.step(f"{name}, seed {seed}")
    vanilla_models = []
    for seed in range(args.seeds):
        model = MLP(sizes, dropout=rates, rng=seed, mode="vanilla")
        model.fit(X, y, epochs=args.epochs, lr=args.lr, verbose=False)
        vanilla_models.append(model)
        progress.step(f"vanilla, seed {seed}")
    progress.close()

    print("Test error (%), mean ± std over seeds, same architecture and epochs")
    for name, values in errors.items():
        print(f"  {name:<34} {spread(values)}")

    print("\nInference for the dropout networks: test error (%)")
    print(
        f"  {'weight scaling (no dropout)':<34} "
        f"{spread([1 - (m.predict(X_test) == y_test).mean() for m in dropout_models])}"
    )
    for k in MC_SAMPLES:
        values = [1 - (m.predict(X_test, mc_samples=k) == y_test).mean() for m in dropout_models]
        print(f"  {f'Monte-Carlo average, k = {k}':<34} {spread(values)}")

    print("\nVanilla (scale 1 - p at test) versus inverted (1 / (1 - p) in training)")
    vanilla_errors = [1 - (m.predict(X_test) == y_test).mean() for m in vanilla_models]
    agreement = [
        (v.predict(X_test) == i.predict(X_test)).mean()
        for v, i in zip(vanilla_models, dropout_models, strict=True)
    ]
    gaps = []
    for vanilla in vanilla_models:
        inverted = to_inverted(vanilla)
        gaps.append(
            float(np.abs(vanilla.predict_proba(X_test) - inverted.predict_proba(X_test)).max())
        )
    print(f"  {'vanilla test error (%)':<34} {spread(vanilla_errors)}")
    print(f"  {'inverted test error (%)':<34} {spread(errors['dropout'])}")
    print(f"  {'same predictions, trained apart':<34} {spread(agreement)} % of test images")
    print(f"  {'vanilla weights x (1 - p), inverted':<34} max |Δ probability| = {max(gaps):.1e}")

    timed = {kind: MLP(sizes, dropout=rates, rng=0) for kind in ("fastdrop", "naive")}
    results = interleaved_shares(timed, X, y, repeat=7, lr=args.lr)
    print("\nTime dropout adds to a training epoch (median of 7, interleaved)")
    for kind, (seconds, share) in results.items():
        label = "fastdrop" if kind == "fastdrop" else "naive NumPy dropout"
        print(f"  {label:<34} {100 * share:5.2f} % of {1000 * seconds:.1f} ms")

    if args.plot is not None:
        plot(histories, args.plot)
        print(f"\nerror curves: {args.plot}")
    print(f"\nwall time {time.perf_counter() - started:.0f} s")
    return 0


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


def plot(histories: dict[str, dict[str, list[float]]], path: str) -> None:
    """Train (as trained) and test error per epoch, one line pair per configuration."""
    figure, axes = _pyplot().subplots(figsize=(7, 4.5))
    for name, history in histories.items():
        epochs = range(1, len(history["val_error"]) + 1)
        (line,) = axes.plot(epochs, 100 * np.array(history["val_error"]), label=f"{name}: test")
        axes.plot(
            epochs,
            100 * np.array(history["error"]),
            "--",
            color=line.get_color(),
            label=f"{name}: train (as trained)",
        )
    axes.set(xlabel="epoch", ylabel="error (%)", yscale="log", title="8x8 digits, seed 0")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
