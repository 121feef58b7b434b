"""safepickle.loads of JSON documents against json.loads of the same bytes, in one run.

Each round times every contender once per document, in turn (interleaved, so a noisy neighbour
hits all of them alike); the reported figure is the median over the rounds, and the ratio
is safepickle's median over json.loads's. Usage: ``python benchmarks/json_speed.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import safepickle


def documents() -> dict[str, bytes]:
    record = {"id": 1, "name": "Ada Lovelace", "email": "ada@example.org", "score": 97.5,
              "tags": ["admin", "math"], "active": True, "manager": None}  # fmt: skip
    return {
        "small record (~130 B)": json.dumps(record).encode(),
        "config (~10 KB)": json.dumps(
            {
                f"section{i}": {"enabled": True, "ports": list(range(10)), "name": f"s{i}"}
                for i in range(100)
            }
        ).encode(),
        "10k records (~1.3 MB)": json.dumps([dict(record, id=i) for i in range(10_000)]).encode(),
        "1M ints (~6.9 MB)": json.dumps(list(range(1_000_000))).encode(),
        "200k str dict (~6 MB)": json.dumps(
            {f"key{i}": f"value {i}" for i in range(200_000)}
        ).encode(),
    }


def _time(func: Callable[[bytes], Any], data: bytes, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        func(data)
    return (time.perf_counter() - start) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    contenders: dict[str, Callable[[bytes], Any]] = {
        "json.loads": json.loads,
        "safepickle.loads": safepickle.loads,
    }
    print(f"{'document':<24}{'json.loads':>14}{'safepickle':>14}{'ratio':>8}")
    for name, data in documents().items():
        assert safepickle.loads(data) == json.loads(data)
        number = max(1, int(0.05 / max(_time(json.loads, data, 1), 1e-7)))
        times: dict[str, list[float]] = {key: [] for key in contenders}
        for _ in range(args.rounds):
            for key, func in contenders.items():
                times[key].append(_time(func, data, number))
        base = statistics.median(times["json.loads"])
        ours = statistics.median(times["safepickle.loads"])
        print(f"{name:<24}{base * 1e6:>12.1f}us{ours * 1e6:>12.1f}us{ours / base:>7.2f}x")


if __name__ == "__main__":
    main()
