"""Verify-only time: the compiled fast path against the pure-Python pass and ``pickle.loads``.

    python benchmarks/verify_speed.py            # the four payloads at protocols 2 and 5
    python benchmarks/verify_speed.py --repeat 9

Each payload is built by ``payloads.py`` (full size) and measured interleaved (C, Python,
pickle.loads, C, ...) so that machine noise hits all three alike; the median is printed. The
C column is ``verify()`` as shipped (the compiled pass), the Python column the same call with
the compiled pass forced off. It never asserts a speed.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _path in (str(HERE.parent), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import payloads  # noqa: E402

from safepickle import verify as verify_module  # noqa: E402
from safepickle.limits import Limits  # noqa: E402

PAYLOADS = ("ints", "str_dict", "dataclasses", "stdlib_values")
PROTOCOLS = (2, 5)


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    if verify_module._c_fast_verify is None:
        sys.exit("safepickle._speedups is not built: pip install . (with a C compiler)")
    limits = Limits()
    print(f"implementation: {verify_module.IMPLEMENTATION}; median of {args.repeat}")
    header = ("payload", "proto", "MB", "C ms", "Python ms", "loads ms", "C/loads", "Py/loads",
              "Py/C")  # fmt: skip
    print("{:<14}{:>6}{:>7}{:>9}{:>11}{:>10}{:>9}{:>10}{:>8}".format(*header))
    for name in PAYLOADS:
        obj = payloads.build(name).obj
        for protocol in PROTOCOLS:
            data = pickle.dumps(obj, protocol)
            # the C pass must accept these payloads, not bail to Python
            assert verify_module._verify_with("c", data, limits=limits) is not None, name
            runs: dict[str, Callable[[], object]] = {
                "c": partial(verify_module._verify_with, "c", data, limits=limits),
                "python": partial(verify_module._verify_with, "python", data, limits=limits),
                "loads": partial(pickle.loads, data),
            }
            samples: dict[str, list[float]] = {key: [] for key in runs}
            for _ in range(args.repeat):
                for key, run in runs.items():
                    gc.collect()
                    began = time.perf_counter()
                    run()
                    samples[key].append(time.perf_counter() - began)
            c, py, loads = (_median_ms(samples[key]) for key in ("c", "python", "loads"))
            print(
                f"{name:<14}{protocol:>6}{len(data) / 1e6:>7.1f}{c:>9.2f}{py:>11.1f}"
                f"{loads:>10.1f}{c / loads:>9.3f}{py / loads:>10.2f}{py / c:>8.0f}"
            )


if __name__ == "__main__":
    main()
