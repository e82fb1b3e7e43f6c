"""fastdrop.torch against PyTorch's own CPU dropout: a training step, single calls, saved bytes.

1. The MLP of the dropout paper's MNIST runs, 784-1024-1024-10 (ReLU; nn.Dropout 0.2 on the
   input, 0.5 on each hidden layer), float32, batch 128, cross-entropy, SGD with momentum 0.9, on
   random data of MNIST's shape: one training step (forward, backward, update) with
   torch.nn.Dropout, with fastdrop.torch.Dropout (the same model after fastdrop.torch.patch) and
   with no dropout (nn.Identity), on 1 and 2 threads. The three take turns within every round;
   the medians over rounds are reported, with the fastest round and the spread (the largest
   minus the smallest round, over the median). Dropout's share of a step is
   (step - step without dropout) / step.
2. torch.nn.functional.dropout against fastdrop.torch.dropout, training, out of place, on
   2^10 .. 2^24 float32 and bfloat16 elements: ns per element, medians of interleaved rounds.
3. The bytes each dropout layer of that MLP saves for backward (saved_tensors_hooks).

    python benchmarks/torch_dropout.py [--rounds 9] [--steps 10] [--threads 1 2] [--skip-calls]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import fastdrop
import fastdrop.torch

SIZES = [784, 1024, 1024, 10]
RATES = [0.2, 0.5, 0.5]
BATCH = 128


def mlp(dropout: Callable[[float], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, rate in enumerate(RATES):
        layers += [dropout(rate), nn.Linear(SIZES[i], SIZES[i + 1])]
        if i + 1 < len(RATES):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def spread(samples: list[float]) -> float:
    """(max - min) / median: how much the rounds disagree."""
    return (max(samples) - min(samples)) / statistics.median(samples)


def interleaved(candidates: dict[str, Callable[[], None]], rounds: int, calls: int):
    """Seconds per call of each candidate: one untimed round, then `rounds` rounds in which each
    runs `calls` times in turn. Returns {name: samples}."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for round_number in range(rounds + 1):
        for name, run in candidates.items():
            start = time.perf_counter()
            for _ in range(calls):
                run()
            if round_number:
                samples[name].append((time.perf_counter() - start) / calls)
    return samples


def step_benchmark(threads: int, rounds: int, steps: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    reference = mlp(nn.Dropout)
    models = {
        "torch.nn.Dropout": reference,
        "fastdrop.torch.Dropout": fastdrop.torch.patch(copy.deepcopy(reference)),
        "no dropout": mlp(lambda rate: nn.Identity()),
    }
    x = torch.rand(BATCH, SIZES[0])
    y = torch.randint(0, SIZES[-1], (BATCH,))
    loss = nn.CrossEntropyLoss()

    def trainer(model: nn.Module) -> Callable[[], None]:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step() -> None:
            optimizer.zero_grad()
            loss(model(x), y).backward()
            optimizer.step()

        return step

    samples = interleaved({name: trainer(m) for name, m in models.items()}, rounds, steps)
    none = statistics.median(samples["no dropout"])
    torch_step = statistics.median(samples["torch.nn.Dropout"])
    print(f"\n### Training step, {threads} thread{'s' if threads > 1 else ''}\n")
    print(
        "| dropout | step (ms) | fastest round (ms) | spread | dropout's share "
        "| speed-up over torch.nn.Dropout |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, times in samples.items():
        step = statistics.median(times)
        share = "-" if name == "no dropout" else f"{100 * (step - none) / step:.1f} %"
        print(
            f"| {name} | {1e3 * step:.2f} | {1e3 * min(times):.2f} | {100 * spread(times):.0f} % "
            f"| {share} | {torch_step / step:.2f}x |"
        )
    # Issue 26's second target, a step 1.35x faster than with torch.nn.Dropout, is reachable only
    # if removing dropout altogether (the ceiling of any dropout) is that much faster.
    print(
        f"\nCeiling: no dropout at all is {torch_step / none:.2f}x faster than torch.nn.Dropout "
        f"(a 1.35x speed-up needs torch.nn.Dropout to be {100 * (1 - 1 / 1.35):.1f} % of the step "
        f"or more; here it is {100 * (torch_step - none) / torch_step:.1f} %)."
    )


def call_benchmark(threads: int, rounds: int) -> None:
    torch.set_num_threads(threads)
    print(f"\n### One call, training, out of place, p = 0.5, {threads} thread(s): ns per element\n")
    print("| elements | dtype | F.dropout | fastdrop.torch.dropout | speed-up | spread (F / fd) |")
    print("|---:|---|---:|---:|---:|---:|")
    for dtype in (torch.float32, torch.bfloat16):
        for log2 in range(10, 25, 2):
            n = 1 << log2
            x = torch.randn(n).to(dtype)
            calls = max(1, (1 << 22) // n)
            samples = interleaved(
                {
                    "torch": lambda x=x: torch.nn.functional.dropout(x, 0.5),
                    "fastdrop": lambda x=x: fastdrop.torch.dropout(x, 0.5),
                },
                rounds,
                calls if log2 < 22 else max(1, calls // 2),
            )
            t, f = (1e9 * statistics.median(samples[k]) / n for k in ("torch", "fastdrop"))
            print(
                f"| 2^{log2} | {str(dtype).removeprefix('torch.')} | {t:.2f} | {f:.2f} | "
                f"{t / f:.1f}x | {100 * spread(samples['torch']):.0f} % / "
                f"{100 * spread(samples['fastdrop']):.0f} % |"
            )


def saved_bytes(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> int:
    sizes: list[int] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        sizes.append(t.untyped_storage().nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(sizes)


def memory_table() -> None:
    print("\n### Bytes saved for backward, per dropout layer of the MLP, batch 128\n")
    print("| layer input | dtype | torch.nn.Dropout | fastdrop.torch.Dropout |")
    print("|---|---|---:|---:|")
    for width, rate in zip(SIZES[:-1], RATES, strict=True):
        for dtype in (torch.float32, torch.bfloat16):
            x = torch.randn(BATCH, width, dtype=dtype, requires_grad=True) * 1
            counts = [saved_bytes(layer(rate), x) for layer in (nn.Dropout, fastdrop.torch.Dropout)]
            print(
                f"| {BATCH} x {width} (p = {rate}) | {str(dtype).removeprefix('torch.')} | "
                f"{counts[0]:,} | {counts[1]:,} |"
            )


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--rounds", type=int, default=9, help="timed rounds (9)")
    options.add_argument("--steps", type=int, default=10, help="training steps per round (10)")
    options.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="(1 2)")
    options.add_argument("--skip-calls", action="store_true", help="only the step and memory")
    args = options.parse_args()
    before = torch.get_num_threads()
    print(
        f"torch {torch.__version__}, fastdrop {fastdrop.__version__} ({fastdrop.simd_path()} "
        f"path), {platform.processor() or platform.machine()}, {os.cpu_count()} cores; medians "
        f"of {args.rounds} interleaved rounds; load average {os.getloadavg()[0]:.1f} at the start"
    )
    try:
        for threads in args.threads:
            step_benchmark(threads, args.rounds, args.steps)
        if not args.skip_calls:
            for threads in args.threads:
                call_benchmark(threads, args.rounds)
        memory_table()
    finally:
        torch.set_num_threads(before)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
