"""Audit under load: N processes x M loads each append to one JSON Lines file at once, then
``safepickle audit verify`` must pass with exactly N x M records.

    python benchmarks/audit_load.py                      # 8 processes x 10,000 loads
    python benchmarks/audit_load.py --processes 4 --loads 1000 --keep audit.jsonl

Prints the wall time, the loads per second, the file size and the verify result; exits 1 if
the chain is broken or the record count is wrong.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # measure the checkout this script lives in
    sys.path.insert(0, str(ROOT))

import safepickle  # noqa: E402
from safepickle.audit import verify_file  # noqa: E402

# a small, typical payload with a few globals, so every record carries decisions
PAYLOAD = pickle.dumps(
    {"id": 7, "tags": {"a", "b"}, "when": __import__("datetime").date(2024, 1, 2), "n": [1.5] * 8}
)


def _work(path: str, loads: int, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    policy = safepickle.Policy(audit=path)
    for _ in range(loads):
        safepickle.loads(PAYLOAD, policy=policy)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--loads", type=int, default=10_000, help="loads per process")
    parser.add_argument("--keep", metavar="PATH", help="write the log here and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or os.path.join(tmp, "audit.jsonl")
        if os.path.exists(path):
            os.remove(path)
        start = multiprocessing.Event()
        workers = [
            multiprocessing.Process(target=_work, args=(path, args.loads, start))
            for _ in range(args.processes)
        ]
        for worker in workers:
            worker.start()
        time.sleep(0.5)  # let every worker import and wait at the start line
        began = time.perf_counter()
        start.set()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - began
        failed = [w.exitcode for w in workers if w.exitcode != 0]
        expected = args.processes * args.loads
        size = os.path.getsize(path)
        print(
            f"{args.processes} processes x {args.loads:,} loads = {expected:,} audited loads "
            f"in {elapsed:.2f} s ({expected / elapsed:,.0f} loads/s, "
            f"{elapsed / expected * 1e6:.1f} us per load across the machine); "
            f"file {size / 1e6:.1f} MB ({size / max(expected, 1):,.0f} bytes per record)"
        )
        checked = time.perf_counter()
        report = verify_file(path)
        verify_time = time.perf_counter() - checked
        verdict = "intact" if report.intact else f"BROKEN: {report.first_problem}"
        print(
            f"audit verify: {verdict}; {report.records:,} records in {report.lines:,} lines; "
            f"head sequence {report.head_sequence}; verified in {verify_time:.2f} s"
        )
        ok = not failed and report.intact and report.records == expected == report.lines
        if failed:
            print(f"worker exit codes: {failed}")
        print("PASS" if ok else f"FAIL (expected exactly {expected:,} records)")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
