"""safepickle_torch.load against torch.load (weights_only False and True) on the same files.

Two checkpoints: one big state dict (~200 MB of float32 by default) and one of many small
tensors. Each round loads every file with all three loaders in turn (interleaved, so drift in
the machine's load hits all three alike, and in a rotating order); the report is the median
per loader and the ratios against safepickle_torch. Targets: safepickle_torch.load <= 1.2x
torch.load(weights_only=False) and faster than torch.load(weights_only=True).

    python benchmarks/torch_checkpoint.py [--rounds 7] [--big-mb 200] [--small 5000]

On Linux the script re-runs itself with glibc's mmap threshold pinned
(``MALLOC_MMAP_THRESHOLD_=131072``, glibc's starting value; ``--no-pin`` to skip). glibc raises
the threshold as large blocks are freed, after which a load may get pages the previous loader
already faulted in, and then the *order* of the loaders, not their code, decides a 200 MB
comparison (one loader measured 18 ms or 110 ms for the same file). Pinned, every big storage
is a fresh mapping, as in the process that loads a checkpoint once. The last line reports the
machine's load average, since other work on the machine skews every number.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import safepickle_torch
import torch

_PIN = "MALLOC_MMAP_THRESHOLD_"


def make_files(folder: Path, big_mb: int, small: int) -> dict[str, Path]:
    """The two checkpoints, saved with torch.save's defaults (zip, protocol 2)."""
    generator = torch.Generator().manual_seed(0)
    rows = max(1, big_mb * (1 << 20) // 4 // 4096)
    big = {
        f"layer{i}.weight": torch.randn(rows // 8 or 1, 4096, generator=generator)
        for i in range(8)
    }
    many = {f"block{i}.bias": torch.randn(16, generator=generator) for i in range(small)}
    paths = {"big": folder / "big.pt", "many_small": folder / "many_small.pt"}
    torch.save(big, paths["big"])
    torch.save(many, paths["many_small"])
    return paths


def loaders() -> dict[str, Callable[[Path], Any]]:
    return {
        "safepickle_torch": lambda path: safepickle_torch.load(path, map_location="cpu"),
        "torch_unsafe": lambda path: torch.load(path, map_location="cpu", weights_only=False),
        "torch_weights_only": lambda path: torch.load(path, map_location="cpu", weights_only=True),
    }


def run(paths: dict[str, Path], rounds: int) -> dict[str, dict[str, float]]:
    """Median seconds per (file, loader), loaders interleaved within each round."""
    times: dict[str, dict[str, list[float]]] = {
        name: {loader: [] for loader in loaders()} for name in paths
    }
    for path in paths.values():
        for fn in loaders().values():
            fn(path)  # warm the page cache and imports
    order = list(loaders().items())
    for round_ in range(rounds):
        # rotate who goes first: a loader allocating right after another freed 200 MB gets
        # warm pages, and that, not its code, can decide a comparison of memory-bound loads
        shift = round_ % len(order)
        rotated = order[shift:] + order[:shift]
        for name, path in paths.items():
            for loader, fn in rotated:
                gc.collect()
                start = time.perf_counter()
                result = fn(path)
                times[name][loader].append(time.perf_counter() - start)
                del result
    return {
        name: {loader: statistics.median(values) for loader, values in per.items()}
        for name, per in times.items()
    }


def report(medians: dict[str, dict[str, float]], paths: dict[str, Path]) -> str:
    lines = []
    for name, per in medians.items():
        ours = per["safepickle_torch"]
        size = paths[name].stat().st_size / (1 << 20)
        lines.append(f"{name} ({size:.1f} MB):")
        for loader, seconds in per.items():
            lines.append(
                f"  {loader:20s} {seconds * 1000:9.2f} ms  ours/this {ours / seconds:5.2f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--small", type=int, default=5000)
    parser.add_argument("--no-pin", action="store_true", help="leave glibc's malloc as it is")
    args = parser.parse_args(argv)
    if sys.platform.startswith("linux") and not args.no_pin and _PIN not in os.environ:
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, _PIN: "131072"})
    warnings.simplefilter("ignore")  # torch's TypedStorage deprecation notes
    with tempfile.TemporaryDirectory() as folder:
        paths = make_files(Path(folder), args.big_mb, args.small)
        medians = run(paths, args.rounds)
        print(report(medians, paths))
    pinned = os.environ.get(_PIN, "not pinned")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average {load}; {_PIN}={pinned}")


if __name__ == "__main__":
    main()
