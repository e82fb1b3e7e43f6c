"""The share of an MLP training epoch spent in dropout: fastdrop versus naive NumPy dropout.

The network of the dropout paper's MNIST runs, 784-1024-1024-10 (ReLU, dropout 0.2 on the input
and 0.5 on each hidden layer), float32, batch 128, trained by fastdrop.nn's SGD on random data of
MNIST's shape (the time per epoch does not depend on the pixels). The dropout layers are timed
inside each epoch (forward and backward); epochs of the two dropout implementations take turns
and the medians are reported.

    python benchmarks/mlp_epoch.py [--batches 40] [--repeat 5]
"""

from __future__ import annotations

import argparse

import numpy as np

import fastdrop
from fastdrop._mlp_demo import interleaved_shares
from fastdrop.nn import MLP

SIZES = [784, 1024, 1024, 10]
RATES = [0.2, 0.5, 0.5]
BATCH = 128


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--batches", type=int, default=40, help="batches per epoch (40)")
    options.add_argument("--repeat", type=int, default=5, help="epochs per implementation (5)")
    args = options.parse_args()
    rng = np.random.default_rng(0)
    X = rng.random((args.batches * BATCH, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], X.shape[0])
    models = {kind: MLP(SIZES, dropout=RATES, rng=1) for kind in ("fastdrop", "naive")}
    results = interleaved_shares(models, X, y, args.repeat, batch_size=BATCH, lr=0.01)
    print(
        f"fastdrop {fastdrop.__version__} ({fastdrop.simd_path()}, "
        f"{fastdrop.get_num_threads()} threads), numpy {np.__version__}"
    )
    print(
        f"MLP {'-'.join(map(str, SIZES))}, dropout {RATES}, float32, batch {BATCH}, "
        f"{args.batches} batches per epoch, median of {args.repeat} epochs each\n"
    )
    print(f"{'dropout':<26}{'epoch (ms)':>12}{'in dropout':>12}{'per batch':>12}")
    for kind, (seconds, share) in results.items():
        label = "fastdrop.nn.Dropout" if kind == "fastdrop" else "naive NumPy dropout"
        per_batch = 1e3 * seconds * share / args.batches
        print(f"{label:<26}{1e3 * seconds:>12.1f}{100 * share:>11.2f}%{per_batch:>9.3f} ms")


if __name__ == "__main__":
    main()
