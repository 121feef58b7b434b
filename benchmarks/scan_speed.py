"""``safepickle scan`` against picklescan on the same files, side by side.

Two workloads, made fresh in a temporary directory:

* **folder**: 1,000 small pickles (dicts, lists, tuples, floats, strings of a few hundred bytes
  to a few kilobytes; a few with a payload), scanned as one folder;
* **checkpoint**: one PyTorch checkpoint of about 200 MB (``torch.save`` of a dict of large
  float tensors), scanned as one file.

Both tools run in this process through their Python APIs (``Scanner.scan_file`` under the
default policy, ``picklescan.scanner.scan_directory_path``/``scan_file_path``), so no process
start-up is timed. Runs are interleaved (ours, theirs, ours, ...) so that drifts in machine
load hit both, each workload is warmed up once per tool, and the median of ``--runs`` runs is
reported with the ratio picklescan / safepickle (above 1: safepickle is faster).

    python benchmarks/scan_speed.py [--runs 5] [--checkpoint-mb 200] [--files 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safepickle import Policy
from safepickle.scan import Scanner
from safepickle.scan.walk import find_files


def make_folder(root: Path, count: int) -> Path:
    folder = root / "pickles"
    folder.mkdir()
    rng = random.Random(1234)
    for index in range(count):
        value: Any = {
            "id": index,
            "name": f"item-{index}",
            "scores": [rng.random() for _ in range(rng.randint(5, 200))],
            "tags": tuple(f"t{rng.randint(0, 99)}" for _ in range(rng.randint(0, 10))),
            "nested": {"a": [1, 2, 3], "b": {"c": None, "d": b"\x00" * rng.randint(0, 64)}},
        }
        data = pickle.dumps(value, protocol=rng.choice([2, 4, 5]))
        if index % 100 == 7:  # a payload now and then: both tools must report these
            data = b"cos\nsystem\n(S'echo scanned'\ntR."
        (folder / f"{index:04}.pkl").write_bytes(data)
    return folder


def make_checkpoint(root: Path, megabytes: int) -> Path:
    import torch  # only this workload needs it

    path = root / "model.pt"
    tensors = max(1, megabytes // 16)
    state = {f"layer{i}.weight": torch.randn(4 << 20) for i in range(tensors)}  # 16 MB each
    state["meta"] = torch.arange(10)
    torch.save(state, path)
    return path


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--checkpoint-mb", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    import picklescan.scanner as picklescan  # a peer, imported on use

    scanner = Scanner(Policy())
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = make_folder(root, args.files)
        checkpoint = make_checkpoint(root, args.checkpoint_mb)
        size_mb = os.path.getsize(checkpoint) / 1e6

        def ours_folder() -> None:
            found = [scanner.scan_file(p) for p in find_files([str(folder)])]
            assert sum(r.status == "refused" for r in found) == args.files // 100

        def theirs_folder() -> None:
            result = picklescan.scan_directory_path(str(folder))
            assert result.infected_files == args.files // 100

        def ours_checkpoint() -> None:
            # the default policy refuses the checkpoint (persistent ids): a full scan either way
            assert scanner.scan_file(checkpoint).status == "refused"

        def theirs_checkpoint() -> None:
            assert picklescan.scan_file_path(str(checkpoint)).scanned_files >= 1

        workloads = {
            "folder": (ours_folder, theirs_folder),
            "checkpoint": (ours_checkpoint, theirs_checkpoint),
        }
        for name, (ours, theirs) in workloads.items():
            ours(), theirs()  # warm-up: imports, caches, page cache
            times: dict[str, list[float]] = {"safepickle": [], "picklescan": []}
            for _ in range(args.runs):
                times["safepickle"].append(timed(ours))
                times["picklescan"].append(timed(theirs))
            medians = {tool: statistics.median(values) for tool, values in times.items()}
            results[name] = {
                "median_seconds": medians,
                "ratio_picklescan_over_safepickle": medians["picklescan"] / medians["safepickle"],
                "runs": args.runs,
            }
        results["folder"]["files"] = args.files
        results["checkpoint"]["megabytes"] = round(size_mb, 1)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, row in results.items():
            ours_s = row["median_seconds"]["safepickle"]
            theirs_s = row["median_seconds"]["picklescan"]
            ratio = row["ratio_picklescan_over_safepickle"]
            print(
                f"{name:10}  safepickle {ours_s * 1e3:8.1f} ms  "
                f"picklescan {theirs_s * 1e3:8.1f} ms  ratio {ratio:.2f}x  "
                f"(median of {row['runs']})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
