"""Adversarial benchmark: the worst hostile inputs of each class, at 1 MB and 10 MB.

For every shape of ``tests/hostile_round2.py`` marked ``bench`` (``--all``: every shape whose
size can grow), at each size: build the payload, load it with ``safepickle.loads`` under the
default policy in a fresh child interpreter with the same limits as the tests (2 GiB of address
space, a CPU-time limit), and report what happened, how long the load took and the child's peak
resident memory. The target (the issue's): every input up to 10 MB answered -- refused, or
loaded -- within 2 s and 1 GiB. A crash, a hang (the CPU-time limit) or a MemoryError is never
within it.

    python benchmarks/adversarial.py                 # 1 MB and 10 MB, the bench shapes
    python benchmarks/adversarial.py --quick         # 100 KB: a smoke run
    python benchmarks/adversarial.py --only 1 --only 3 --json benchmarks/results/adv.json
    python benchmarks/adversarial.py --all --pure    # every shape, pure-Python verifier

"as expected" says whether the outcome is the one the catalogue asks for (refused, or loaded:
the benchmark does not compare values or watch imports; the tests do). The exit status is 1
when any row misses the target or the expectation, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import hostile_round2 as h  # noqa: E402

import safepickle  # noqa: E402

SIZES = (1_000_000, 10_000_000)
QUICK_SIZES = (100_000,)
TARGET_SECONDS = 2.0
TARGET_BYTES = 1 << 30
#: what a "bounded" row may grow beyond ``result_bound`` (the tests allow the same)
BOUND_SLACK = 48 << 20
COLUMNS = (
    "class",
    "shape",
    "size",
    "outcome",
    "seconds",
    "cpu s",
    "peak MB",
    "within 2 s / 1 GiB",
    "as expected",
)


def _class_of(text: str) -> int:
    """``3``, ``c3`` or a word of the class's name ("flood") -> the class number."""
    token = text.strip().lower().removeprefix("c")
    if token.isdigit() and int(token) in h.CLASSES:
        return int(token)
    for number, name in h.CLASSES.items():
        if token and token in name:
            return number
    raise argparse.ArgumentTypeError(f"no class {text!r}; classes: {h.CLASSES}")


def select(only: list[int], everything: bool) -> list[h.Shape]:
    """The shapes to run: the bench ones (or every growable one), of the classes asked for.
    Benign shapes are among them: "within 2 s" holds for what must load as well."""
    chosen = []
    for shape in h.ALL:
        if only and shape.cls not in only:
            continue
        if shape.bench or (everything and not shape.fixed_size):
            chosen.append(shape)
    return chosen


def outcome_text(outcome: h.Outcome) -> str:
    kind = outcome.kind()
    run = outcome.entry()
    if kind == "crash":
        where = f" after '{outcome.stage}'" if outcome.stage else ""
        return f"CRASH ({signal.Signals(-int(outcome.returncode or 0)).name}){where}"
    if kind == "hang":
        return "HANG (CPU-time limit)" if outcome.returncode is not None else "HANG (wall)"
    if kind == "memory":
        return "MEMORY (MemoryError)"
    if kind == "no-result":
        return "NO RESULT"
    if kind == "loaded":
        return "loaded"
    error = run["error"]
    return ("refused: " if kind == "refused" else "ERROR: ") + error["class"]


def measure(shape: h.Shape, size: int, pure: bool, cpu_seconds: int) -> dict[str, Any]:
    started = time.perf_counter()
    data = shape.build(size)
    built = time.perf_counter() - started
    outcome = h.run_payload(
        data,
        root=ROOT,
        modules=shape.modules,
        pure_python=pure,
        cpu_seconds=cpu_seconds,
        wall_seconds=max(120.0, 6.0 * cpu_seconds),
    )
    kind = outcome.kind()
    run = outcome.entry()
    seconds = run.get("seconds")
    peak = outcome.peak if outcome.report else None
    within = (
        kind in ("refused", "loaded")
        and seconds is not None
        and seconds <= TARGET_SECONDS
        and peak is not None
        and peak <= TARGET_BYTES
    )
    bound = safepickle.Limits().result_bound(len(data))
    if shape.expect == "refused":
        expected = kind == "refused"
    elif shape.expect == "loads":
        expected = kind == "loaded"
    else:  # bounded: either, within result_bound (and what the interpreter needs besides)
        expected = kind in ("refused", "loaded")
        if shape.expect == "bounded":
            expected = expected and outcome.growth <= bound + BOUND_SLACK
    return {
        "class": shape.cls,
        "class_name": h.CLASSES[shape.cls],
        "shape": shape.id,
        "description": shape.shape,
        "plain_pickle": shape.plain,
        "expect": shape.expect,
        "requested_size": size,
        "size": len(data),
        "build_seconds": built,
        "kind": kind,
        "outcome": outcome_text(outcome),
        "error": run.get("error"),
        "seconds": seconds,
        "cpu_seconds": run.get("cpu"),
        "child_wall_seconds": outcome.wall,
        "returncode": outcome.returncode,
        "peak_bytes": peak,
        "growth_bytes": outcome.growth if outcome.report else None,
        "result_bound": bound,
        "within_target": within,
        "as_expected": expected,
        "stderr_tail": outcome.stderr[-800:] if kind not in ("refused", "loaded") else "",
    }


def _size_text(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1e6:.1f} MB"
    return f"{size / 1e3:.0f} KB"


def _cells(row: dict[str, Any]) -> list[str]:
    seconds = "-" if row["seconds"] is None else f"{row['seconds']:.2f}"
    if row["seconds"] is None and row["kind"] in ("hang", "crash"):
        seconds = f">{row['child_wall_seconds']:.0f} wall" if row["kind"] == "hang" else "-"
    peak = "-" if row["peak_bytes"] is None else f"{row['peak_bytes'] / 1e6:.0f}"
    cpu = "-" if row["cpu_seconds"] is None else f"{row['cpu_seconds']:.2f}"
    return [
        str(row["class"]),
        row["shape"],
        _size_text(row["size"]),
        row["outcome"],
        seconds,
        cpu,
        peak,
        "yes" if row["within_target"] else "NO",
        f"yes ({row['expect']})" if row["as_expected"] else f"NO ({row['expect']})",
    ]


def print_table(rows: list[dict[str, Any]]) -> None:
    table = [list(COLUMNS)] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    for n, line in enumerate(table):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
        if n == 0:
            print("  ".join("-" * width for width in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 KB inputs only: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        type=_class_of,
        default=[],
        metavar="CLASS",
        help="a class (1-8, c3, or a word of its name); repeat for several",
    )
    parser.add_argument("--all", action="store_true", help="every growable hostile shape")
    parser.add_argument("--pure", action="store_true", help="SAFEPICKLE_PURE_PYTHON=1")
    parser.add_argument("--cpu", type=int, default=h.CPU_SECONDS, help="CPU-time limit (s)")
    parser.add_argument("--json", metavar="PATH", help="also write every number here")
    args = parser.parse_args(argv)

    sizes = QUICK_SIZES if args.quick else SIZES
    shapes = select(args.only, args.all)
    implementation = h.child_verifier(ROOT, args.pure)
    verifier = "C (Python on bail)" if implementation == "c" else "pure Python"
    print(
        f"safepickle {safepickle.__version__} from {Path(safepickle.__file__).parent} | "
        f"Python {platform.python_version()} | verifier: {verifier}"
    )
    print(
        f"limits per child: {h.ADDRESS_SPACE >> 30} GiB address space, {args.cpu} s CPU; "
        f"target: answered within {TARGET_SECONDS:.0f} s and {TARGET_BYTES >> 30} GiB"
    )
    print()
    rows: list[dict[str, Any]] = []
    for shape in shapes:
        for size in sizes:
            row = measure(shape, size, args.pure, args.cpu)
            rows.append(row)
            print(f"  {' | '.join(_cells(row))}", file=sys.stderr, flush=True)
    print_table(rows)
    missed = [row for row in rows if not row["within_target"]]
    wrong = [row for row in rows if not row["as_expected"]]
    print()
    print(
        f"summary: {len(rows) - len(missed)} of {len(rows)} rows within the target, "
        f"{len(rows) - len(wrong)} as expected (refused / loaded, as the catalogue says)"
    )
    for kind in ("crash", "hang", "memory", "error", "no-result"):
        names = sorted({row["shape"] for row in rows if row["kind"] == kind})
        if names:
            print(f"  {kind}: {', '.join(names)}")
    slow = sorted(
        {
            row["shape"]
            for row in rows
            if row["kind"] in ("refused", "loaded") and not row["within_target"]
        }
    )
    if slow:
        print(f"  answered, but past 2 s or 1 GiB: {', '.join(slow)}")
    if args.json:
        document = {
            "environment": {
                "python": platform.python_version(),
                "executable": sys.executable,
                "platform": platform.platform(),
                "safepickle": safepickle.__version__,
                "verifier": verifier,
                "pure_python": bool(args.pure or os.environ.get("SAFEPICKLE_PURE_PYTHON")),
                "address_space_bytes": h.ADDRESS_SPACE,
                "cpu_seconds": args.cpu,
                "sizes": list(sizes),
                "target_seconds": TARGET_SECONDS,
                "target_bytes": TARGET_BYTES,
            },
            "rows": rows,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(document, indent=2), encoding="utf-8")
    return 1 if missed or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
