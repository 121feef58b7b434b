"""What auditing to a JSON Lines file adds to ``safepickle.loads``, measured in one run.

For each payload the script times ``safepickle.loads(data, policy=...)`` under the same policy
without and with ``audit=<a temp file>``, interleaved (plain, audited, plain, audited ...) so
noise on a shared machine hits both, and prints the medians, their difference and ratio.

* ``tiny``: a small dict, timed in batches of ``--batch`` loads (microseconds per load);
* the standard-library payloads of ``payloads.py`` (full size unless ``--quick``), at
  protocols 5 and 2, one load per sample. ``ints`` is the benchmark suite's median payload
  (by size, over the 14 rows of the full suite).

    python benchmarks/audit_overhead.py                 # ~1 minute
    python benchmarks/audit_overhead.py --quick --repeat 5
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import payloads  # noqa: E402

import safepickle  # noqa: E402

STDLIB_PAYLOADS = ("ints", "str_dict", "dataclasses", "stdlib_values", "nested_list")


#: the clock: wall time, or with --cpu this thread's CPU time, which another process on the
#: same core does not inflate (what a busy shared machine needs)
_CLOCK = time.perf_counter


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = _CLOCK()
        result = fn()
        elapsed = _CLOCK() - start
    finally:
        gc.enable()
    del result
    return elapsed


def _iqr(samples: list[float]) -> float:
    """Interquartile range / median, in percent: how noisy a series was."""
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return (q3 - q1) / statistics.median(samples) * 100


class Result:
    def __init__(self, plain: list[float], audited: list[float]) -> None:
        self.plain = statistics.median(plain)
        self.audited = statistics.median(audited)
        self.noise = max(_iqr(plain), _iqr(audited))


def _compare(plain: Callable[[], object], audited: Callable[[], object], repeat: int) -> Result:
    plain(), audited()  # warm: policies, imports, the log file's descriptor
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        a.append(_timed(plain))
        b.append(_timed(audited))
    return Result(a, b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--batch", type=int, default=2000, help="loads per tiny sample")
    parser.add_argument("--quick", action="store_true", help="payloads at 1/10 of their size")
    parser.add_argument("--only", action="append", help="a payload name (or 'tiny')")
    parser.add_argument("--cpu", action="store_true", help="time thread CPU, not wall time")
    args = parser.parse_args()
    global _CLOCK
    if args.cpu:
        _CLOCK = time.thread_time
    names = args.only or ["tiny", *STDLIB_PAYLOADS]

    print(f"safepickle {safepickle.__version__} from {Path(safepickle.__file__).parent}")
    clock = "thread CPU time" if args.cpu else "wall time"
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.repeat} repeats, {clock}"
    )
    print(
        f"{'payload':<16}{'size':>10}{'plain':>14}{'audited':>14}{'added':>14}{'ratio':>9}"
        f"{'IQR%':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "audit.jsonl")
        if "tiny" in names:
            data = pickle.dumps({"user": "alice", "id": 42, "roles": ["a", "b"]})
            plain_policy = safepickle.Policy()
            audit_policy = plain_policy.with_audit(log)

            def batch(policy: safepickle.Policy) -> Callable[[], object]:
                def run() -> None:
                    for _ in range(args.batch):
                        safepickle.loads(data, policy=policy)

                return run

            result = _compare(batch(plain_policy), batch(audit_policy), args.repeat)
            p, a = result.plain / args.batch * 1e6, result.audited / args.batch * 1e6
            print(
                f"{'tiny':<16}{len(data):>9}B{p:>11.1f} us{a:>11.1f} us{a - p:>11.1f} us"
                f"{a / p:>8.2f}x{result.noise:>6.0f}%"
            )
        for name in names:
            if name == "tiny":
                continue
            payload = payloads.build(name, quick=args.quick)
            if payload.recursion_limit:
                sys.setrecursionlimit(max(sys.getrecursionlimit(), payload.recursion_limit))
            for protocol in (5, 2):
                data = pickle.dumps(payload.obj, protocol=protocol)
                plain_policy = safepickle.Policy(allow=payload.allow)
                audit_policy = plain_policy.with_audit(log)
                result = _compare(
                    lambda d=data, q=plain_policy: safepickle.loads(d, policy=q),
                    lambda d=data, q=audit_policy: safepickle.loads(d, policy=q),
                    args.repeat,
                )
                p, a = result.plain, result.audited
                label = f"{name} p{protocol}"
                print(
                    f"{label:<16}{len(data) / 1e6:>8.2f}MB{p * 1e3:>11.2f} ms{a * 1e3:>11.2f} ms"
                    f"{(a - p) * 1e3:>11.3f} ms{a / p:>8.3f}x{result.noise:>6.0f}%"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
