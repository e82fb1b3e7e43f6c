"""Why fit's old default learning rate (0.05) diverged with dropout on MNIST: one change at a time.

The paper's network, 784-256-256-10 with drop rates 0.2 (input) and 0.5 (hidden), seed 0, is
trained for 6 epochs on the 3,000 training images of fastdrop-mlp's MNIST split with fit's old
defaults (lr 0.05, momentum 0.9, batch 64, standardized inputs), then with one thing changed.
Printed: the training error of each epoch (as trained), the validation error after the last,
the share of the second hidden layer's units that no training image activates (dead ReLUs)
and the largest norm of a unit's incoming weights, per Linear layer.

    python benchmarks/mnist_divergence.py
"""

from __future__ import annotations

import numpy as np

from fastdrop._mlp_demo import NaiveDropout, load_mnist
from fastdrop.nn import MLP, Dropout, Linear, ReLU

EPOCHS = 6
RATES = [0.2, 0.5, 0.5]
VARIANTS: list[tuple[str, dict, dict]] = [  # label, MLP options, fit options
    ("old defaults: lr 0.05, momentum 0.9", {}, {}),
    ("no dropout", {"dropout": None}, {}),
    ("no input dropout (hidden 0.5)", {"dropout": [0.0, 0.5, 0.5]}, {}),
    ("no hidden dropout (input 0.2)", {"dropout": [0.2, 0.0, 0.0]}, {}),
    ("vanilla dropout (no 1 / (1 - p))", {"mode": "vanilla"}, {}),
    ("naive NumPy dropout", {"naive": True}, {}),
    ("float64", {"dtype": np.float64}, {}),
    ("inputs not standardized", {"standardize": False}, {}),
    ("momentum 0", {}, {"momentum": 0.0}),
    ("momentum 0, lr 0.5 (the same step size)", {}, {"momentum": 0.0, "lr": 0.5}),
    ("lr 0.01 (the new default)", {}, {"lr": 0.01}),
]


def main() -> None:
    split = load_mnist()
    print(
        "| change | training error per epoch (%) | validation error (%) | dead units, layer 2 "
        "| largest incoming-weight norm per layer |"
    )
    print("|---|---|---|---|---|")
    for label, options, fit_options in VARIANTS:
        options = {"dropout": RATES, **options}
        naive = options.pop("naive", False)
        model = MLP([784, 256, 256, 10], rng=0, **options)
        if naive:  # the same layers, masks drawn by NumPy
            for i, layer in enumerate(model.network.modules):
                if isinstance(layer, Dropout):
                    model.network.modules[i] = NaiveDropout(layer.p, seed=i)
        history = model.fit(
            split.X, split.y, epochs=EPOCHS, **{"lr": 0.05, **fit_options}, verbose=False
        )
        validation = model.evaluate(split.X_val, split.y_val)[1]
        activity = model.eval()._inputs(split.X)
        dead = []
        for layer in model.network.modules:
            activity = layer.forward(activity)
            if isinstance(layer, ReLU):
                dead.append(float((activity.max(axis=0) <= 0).mean()))
        norms = [
            float(np.linalg.norm(layer.weight.value, axis=0).max())
            for layer in model.network.modules
            if isinstance(layer, Linear)
        ]
        errors = " ".join(f"{100 * e:.0f}" for e in history["error"])
        print(
            f"| {label} | {errors} | {100 * validation:.1f} | {100 * dead[1]:.0f} % | "
            f"{' / '.join(f'{n:.1f}' for n in norms)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
