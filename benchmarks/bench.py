"""safepickle.loads against pickle.loads, measured in one process and one run.

For every payload of ``payloads.py`` pickled at protocols 5 and 2, this measures the median wall
time of ``pickle.loads``, of ``safepickle.loads(data, allow=...)`` and of the static verifier
alone, interleaved (plain, safe, verify, plain, safe, verify, ...) so that noise on a shared
machine hits all three alike, plus the tracemalloc peak of one plain and one safe load. It
prints ratios; it never asserts a speed. See ``benchmarks/README.md``.

    python benchmarks/bench.py                 # full suite (several minutes)
    python benchmarks/bench.py --quick         # 1/10 sizes, 3 repeats: a smoke test
    python benchmarks/bench.py --only numpy --repeat 11 --json results/numpy.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import time
import traceback
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The payload classes must pickle as ``payloads.Record`` and the checkout's safepickle is the one
# measured (it need not be installed).
for _path in (str(ROOT), str(HERE)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import payloads  # noqa: E402

import safepickle  # noqa: E402
from safepickle.verify import verify  # noqa: E402

PROTOCOLS = (5, 2)
MB = 1_000_000

COLUMNS = (
    "payload",
    "proto",
    "size MB",
    "plain ms",
    "safe ms",
    "ratio",
    "verify ms",
    "v.ratio",
    "IQR%",
    "peak MB plain",
    "peak MB safe",
    "mem ratio",
)


def _times(ratio: float) -> str:
    """A ratio with two significant decimals, and more below 0.1 (the verifier on arrays)."""
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def _megabytes(size: int) -> str:
    return f"{size / MB:.1f}" if size >= MB else f"{size / MB:.3f}"


@dataclass
class Timing:
    """Every sample of one series, in seconds, in the order they were taken."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Interquartile range / median: how much this series moved during the run (one
        outlier on either side does not move it at 7 repeats)."""
        if len(self.samples) < 2 or not self.median:
            return 0.0
        low, _, high = statistics.quantiles(self.samples, n=4, method="inclusive")
        return (high - low) / self.median


@dataclass
class Row:
    """The measurements for one payload at one protocol."""

    payload: str
    protocol: int
    description: str
    size_bytes: int
    allow: list[str]
    plain: Timing = field(default_factory=Timing)
    safe: Timing = field(default_factory=Timing)
    verify: Timing = field(default_factory=Timing)
    peak_plain_bytes: int = 0
    peak_safe_bytes: int = 0
    #: set when safepickle failed to load the payload (a safepickle bug) or it was skipped
    error: str | None = None
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.skipped is None

    @property
    def ratio(self) -> float:
        return self.safe.median / self.plain.median

    @property
    def verify_ratio(self) -> float:
        return self.verify.median / self.plain.median

    @property
    def memory_ratio(self) -> float:
        return self.peak_safe_bytes / self.peak_plain_bytes if self.peak_plain_bytes else 0.0

    @property
    def spread(self) -> float:
        return max(self.plain.spread, self.safe.spread)

    @property
    def label(self) -> str:
        return f"{self.payload}/p{self.protocol}"

    def cells(self) -> list[str]:
        if self.skipped is not None:
            return [self.payload, str(self.protocol), "-", f"SKIPPED: {self.skipped}"]
        head = [self.payload, str(self.protocol), _megabytes(self.size_bytes)]
        if self.error is not None:
            return [*head, f"ERROR: {self.error}"]
        return [
            *head,
            f"{self.plain.median * 1e3:.2f}",
            f"{self.safe.median * 1e3:.2f}",
            _times(self.ratio),
            f"{self.verify.median * 1e3:.2f}",
            _times(self.verify_ratio),
            f"{self.spread * 100:.0f}",
            _megabytes(self.peak_plain_bytes),
            _megabytes(self.peak_safe_bytes),
            _times(self.memory_ratio),
        ]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "payload": self.payload,
            "protocol": self.protocol,
            "description": self.description,
            "size_bytes": self.size_bytes,
            "allow": self.allow,
            "error": self.error,
            "skipped": self.skipped,
        }
        if self.ok:
            for name in ("plain", "safe", "verify"):
                timing: Timing = getattr(self, name)
                out[name] = {
                    "median_s": timing.median,
                    "iqr_over_median": timing.spread,
                    "samples_s": timing.samples,
                }
            out.update(
                ratio=self.ratio,
                verify_ratio=self.verify_ratio,
                peak_plain_bytes=self.peak_plain_bytes,
                peak_safe_bytes=self.peak_safe_bytes,
                memory_ratio=self.memory_ratio,
            )
        return out


# --- measuring ------------------------------------------------------------------------------


def _timed(fn: Callable[[], object]) -> float:
    """Wall time of one call, with a fresh collection before it and the gc off during it.
    The result is freed after the clock stops."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    del result
    return elapsed


def _peak(fn: Callable[[], object]) -> int:
    """tracemalloc peak of one call, in bytes above what was traced when it started (the
    pickle itself already exists, so it is not counted; the loaded object is)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    del result
    return peak


def _dumps(payload: payloads.Payload, protocol: int) -> bytes:
    limit = sys.getrecursionlimit()
    if payload.recursion_limit > limit:
        sys.setrecursionlimit(payload.recursion_limit)
    try:
        return pickle.dumps(payload.obj, protocol=protocol)
    finally:
        sys.setrecursionlimit(limit)


def _fingerprint(obj: object, recursion_limit: int) -> bytes:
    """A canonical byte form of a loaded object, to check safepickle loaded what pickle did."""
    limit = sys.getrecursionlimit()
    if recursion_limit > limit:
        sys.setrecursionlimit(recursion_limit)
    try:
        return pickle.dumps(obj, protocol=5)
    finally:
        sys.setrecursionlimit(limit)


def _describe_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    first = text.splitlines()[0]
    return first if len(first) <= 160 else first[:157] + "..."


def _entry_text(entry: object) -> str:
    """An allow entry as text (classes as ``module:qualname``), for the report."""
    if isinstance(entry, str):
        return entry
    return f"{getattr(entry, '__module__', '?')}:{getattr(entry, '__qualname__', entry)}"


def measure(payload: payloads.Payload, protocol: int, repeat: int) -> Row:
    """Time and measure one payload at one protocol."""
    data = _dumps(payload, protocol)
    allow = list(payload.allow)
    row = Row(
        payload=payload.name,
        protocol=protocol,
        description=payload.description,
        size_bytes=len(data),
        allow=[_entry_text(entry) for entry in allow],
    )
    limits = safepickle.allowed(*allow).limits if allow else safepickle.Policy().limits

    def plain() -> object:
        return pickle.loads(data)

    def safe() -> object:
        return safepickle.loads(data, allow=allow)

    def verify_only() -> object:
        return verify(data, 0, limits=limits)

    # Warm-up (untimed): the first safe call builds the policy and resolves the globals; both
    # results are also compared, so a wrong load is reported rather than timed.
    expected = _fingerprint(plain(), payload.recursion_limit)
    try:
        loaded = safe()
    except Exception as exc:
        row.error = _describe_error(exc)
        print(f"\nsafepickle failed to load {row.label}:", file=sys.stderr)
        traceback.print_exc()
        return row
    if _fingerprint(loaded, payload.recursion_limit) != expected:
        row.error = "safepickle.loads returned a different object than pickle.loads"
        return row
    del loaded, expected
    # One more untimed round in the timed order, so the first timed run starts from the same
    # allocator state as the others.
    for fn in (plain, safe, verify_only):
        _timed(fn)

    for _ in range(repeat):
        row.plain.samples.append(_timed(plain))
        row.safe.samples.append(_timed(safe))
        row.verify.samples.append(_timed(verify_only))

    row.peak_plain_bytes = _peak(plain)
    row.peak_safe_bytes = _peak(safe)
    return row


# --- reporting ------------------------------------------------------------------------------


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str:
    """The checkout's commit, with ``+dirty`` when safepickle/ has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "safepickle"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def environment(args: argparse.Namespace, repeat: int) -> dict[str, Any]:
    """What the numbers were measured on (third-party versions read without importing them)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": load,
        "numpy": _version("numpy"),
        "scikit-learn": _version("scikit-learn"),
        "safepickle": safepickle.__version__,
        "safepickle_path": str(Path(safepickle.__file__).parent),
        "git_revision": _git_revision(),
        "quick": args.quick,
        "repeat": repeat,
    }


def summarize(rows: Sequence[Row]) -> dict[str, Any]:
    ok = [row for row in rows if row.ok]
    summary: dict[str, Any] = {
        "rows": len(rows),
        "measured": len(ok),
        "errors": [f"{row.label}: {row.error}" for row in rows if row.error is not None],
        "skipped": [f"{row.label}: {row.skipped}" for row in rows if row.skipped is not None],
    }
    if ok:
        worst = max(ok, key=lambda row: row.ratio)
        worst_memory = max(ok, key=lambda row: row.memory_ratio)
        summary.update(
            median_ratio=statistics.median(row.ratio for row in ok),
            median_verify_ratio=statistics.median(row.verify_ratio for row in ok),
            worst_ratio=worst.ratio,
            worst_ratio_payload=worst.label,
            worst_memory_ratio=worst_memory.memory_ratio,
            worst_memory_ratio_payload=worst_memory.label,
        )
    return summary


def summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = []
    if summary["measured"]:
        lines.append(
            f"summary: median ratio {summary['median_ratio']:.2f}x over "
            f"{summary['measured']} rows (verify alone {summary['median_verify_ratio']:.2f}x); "
            f"worst ratio {summary['worst_ratio']:.2f}x ({summary['worst_ratio_payload']}); "
            f"worst memory ratio {summary['worst_memory_ratio']:.2f}x "
            f"({summary['worst_memory_ratio_payload']})"
        )
    else:
        lines.append("summary: nothing was measured")
    lines += [f"ERROR (safepickle failed to load) {error}" for error in summary["errors"]]
    lines += [f"SKIPPED {skipped}" for skipped in summary["skipped"]]
    return lines


def _plain_table(rows: Sequence[Row]) -> str:
    table = [list(COLUMNS), *(row.cells() for row in rows)]
    # An ERROR/SKIPPED row's last cell spans the rest of the row and sets no width.
    widths = [
        max(len(cells[i]) for cells in table if len(cells) == len(COLUMNS) or i < len(cells) - 1)
        for i in range(len(COLUMNS))
    ]
    lines = []
    for cells in table:
        full = len(cells) == len(COLUMNS)
        parts = []
        for i, cell in enumerate(cells):
            if not full and i == len(cells) - 1:
                parts.append(cell)  # an ERROR/SKIPPED message spans the rest of the row
            elif i == 0:
                parts.append(cell.ljust(widths[i]))
            else:
                parts.append(cell.rjust(widths[i]))
        lines.append("  ".join(parts).rstrip())
        if cells is table[0]:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _print_rich(rows: Sequence[Row]) -> bool:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return False
    table = Table(show_lines=False)
    for i, name in enumerate(COLUMNS):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        cells = row.cells()
        if len(cells) < len(COLUMNS):
            cells = [*cells, *([""] * (len(COLUMNS) - len(cells)))]
        table.add_row(*cells)
    Console().print(table)
    return True


def print_report(rows: Sequence[Row], summary: dict[str, Any], use_rich: bool) -> None:
    if not (use_rich and _print_rich(rows)):
        print(_plain_table(rows))
    print()
    for line in summary_lines(summary):
        print(line)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark safepickle.loads against pickle.loads (ratios, same run).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="1/10 payload sizes and 3 repeats (a smoke test)"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed repeats per series (default 7; 3 quick)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=payloads.NAMES,
        metavar="NAME",
        help=f"run only this payload (repeatable): {', '.join(payloads.NAMES)}",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every number here")
    parser.add_argument(
        "--plain", action="store_true", help="plain-text table even when rich is installed"
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; returns 1 when safepickle failed to load a payload, else 0."""
    args = parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (3 if args.quick else 7)
    names = [name for name in payloads.NAMES if not args.only or name in args.only]
    env = environment(args, repeat)
    use_rich = not args.plain and sys.stdout.isatty()

    print(
        f"safepickle {env['safepickle']} vs pickle | Python {env['python']} "
        f"({env['implementation']}) | numpy {env['numpy']} | scikit-learn {env['scikit-learn']}"
    )
    load = env["load_average_at_start"]
    print(
        f"{env['platform']} | {env['cpus']} CPUs | load average "
        f"{'n/a' if load is None else ' '.join(f'{x:.2f}' for x in load)} | "
        f"{'quick (1/10 sizes)' if args.quick else 'full sizes'} | median of {repeat} "
        "interleaved runs"
    )
    print(f"safepickle from {env['safepickle_path']} (git {env['git_revision']})")
    print(flush=True)

    rows: list[Row] = []
    for name in names:
        missing = payloads.missing_requirements(name)
        if missing:
            for protocol in PROTOCOLS:
                reason = f"not installed: {', '.join(missing)}"
                rows.append(Row(name, protocol, "", 0, [], skipped=reason))
            print(f"{name}: skipped ({', '.join(missing)} not installed)", flush=True)
            continue
        started = time.perf_counter()
        payload = payloads.build(name, quick=args.quick)
        built = time.perf_counter() - started
        for protocol in PROTOCOLS:
            row = measure(payload, protocol, repeat)
            rows.append(row)
            status = "ERROR" if row.error else f"safe/plain {row.ratio:.2f}x"
            print(
                f"{row.label}: {payload.description}; {row.size_bytes / MB:.1f} MB pickled; "
                f"{status}",
                flush=True,
            )
        del payload
        print(f"  (built in {built:.1f} s)", flush=True)
    print()

    summary = summarize(rows)
    print_report(rows, summary, use_rich)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "environment": env,
            "columns": list(COLUMNS),
            "rows": [row.to_json() for row in rows],
            "summary": summary,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
