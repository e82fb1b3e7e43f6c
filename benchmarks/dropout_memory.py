"""Bytes a dropout layer holds between forward and backward, per layer, for one batch.

fastdrop.nn's dropout layers keep the draw (key, offset) of their forward call and regenerate
the mask in backward, so they hold O(1) bytes; storing the mask costs one byte per activation as
a bool array (8 for naive NumPy dropout's float64 mask), and PyTorch's dropout saves a mask
tensor for its backward. Measured, not computed: tracemalloc counts what NumPy allocates during
the forward call and is still alive after it (minus the output), and PyTorch's saved tensors
are counted with torch.autograd.graph.saved_tensors_hooks (when PyTorch is importable).

    python benchmarks/dropout_memory.py
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np

from fastdrop._mlp_demo import NaiveDropout
from fastdrop.nn import AlphaDropout, Dropout, Dropout1d, GaussianDropout, Module

SHAPES = [(128, 1024), (512, 4096)]


class BoolMaskDropout(Module):
    """Dropout that stores its mask as bool for backward: the usual NumPy layer."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p, self.random, self.mask = p, np.random.default_rng(0), None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = self.random.random(x.shape, dtype=np.float32) >= self.p
        return np.where(self.mask, x / np.float32(1 - self.p), np.float32(0))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return np.where(self.mask, grad / np.float32(1 - self.p), np.float32(0))


def held_by_numpy_layer(layer: Module, shape: tuple[int, ...]) -> int:
    x = np.ones(shape, np.float32)
    layer.forward(x)  # warm-up: lazily created state is not per-call memory
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        y = layer.forward(x)
        held = tracemalloc.get_traced_memory()[0] - before - y.nbytes
    finally:
        tracemalloc.stop()
    layer.backward(np.ones_like(y))
    return held


def held_by_torch(shape: tuple[int, ...]) -> int | None:
    try:
        import torch
    except ImportError:
        return None
    saved: list[int] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor.element_size() * tensor.nelement())
        return tensor

    x = torch.ones(shape, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        y = torch.nn.functional.dropout(x, 0.5, training=True)
    y.sum().backward()
    return sum(saved)


def main() -> None:
    layers: dict[str, Callable[[], Module]] = {
        "fastdrop.nn.Dropout": lambda: Dropout(0.5, rng=1),
        "fastdrop.nn.Dropout1d": lambda: Dropout1d(0.5, rng=1),
        "fastdrop.nn.AlphaDropout": lambda: AlphaDropout(0.5, rng=1),
        "fastdrop.nn.GaussianDropout": lambda: GaussianDropout(0.5, rng=1),
        "NumPy, bool mask kept": lambda: BoolMaskDropout(0.5),
        "naive NumPy (float64 mask)": lambda: NaiveDropout(0.5, seed=1),
    }
    header = "".join(f"{'x'.join(map(str, shape)) + ' f32':>18}" for shape in SHAPES)
    print(f"{'bytes held between forward and backward':<40}{header}")
    for name, make in layers.items():
        cells = "".join(f"{held_by_numpy_layer(make(), shape):>18,}" for shape in SHAPES)
        print(f"{name:<40}{cells}")
    torch_bytes = [held_by_torch(shape) for shape in SHAPES]
    if torch_bytes[0] is None:
        print(f"{'PyTorch F.dropout (saved tensors)':<40}{'not installed':>18}")
    else:
        import torch

        cells = "".join(f"{n:>18,}" for n in torch_bytes)
        print(f"{f'PyTorch {torch.__version__} F.dropout (saved)':<40}{cells}")


if __name__ == "__main__":
    main()
