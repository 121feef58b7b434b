"""safepickle.loads against pickle.loads and its peers, measured in one process and one run.

For every payload of ``payloads.py`` pickled at protocols 5 and 2, this measures the median wall
time of ``pickle.loads``, of ``safepickle.loads(data, allow=...)`` with the verifier as shipped
and with the pure-Python verifier forced, of the static verifier alone (as shipped, compiled pass
only, pure-Python pass only) and of the peers of ``peers.py`` (picklescan's scan, fickling's
safety analysis, torch's weights-only unpickler), all interleaved (plain, safe, safe-py, verify,
..., plain, safe, ...) so that noise on a shared machine hits every series alike, plus the
tracemalloc peak of one plain and one safe load. It prints ratios against ``pickle.loads`` of the
same bytes; it never asserts a speed. See ``benchmarks/README.md``.

    python benchmarks/bench.py                 # full suite (a quarter of an hour with the peers)
    python benchmarks/bench.py --quick         # 1/10 sizes, 3 repeats: a smoke test
    python benchmarks/bench.py --only numpy --repeat 11 --json results/numpy.json
    python benchmarks/bench.py --peers none    # safepickle and pickle only
"""

from __future__ import annotations

import argparse
import gc
import io
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from importlib.util import find_spec
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
import peers  # noqa: E402

import safepickle  # noqa: E402
from safepickle import verify as verify_module  # noqa: E402
from safepickle.verify import verify  # noqa: E402

PROTOCOLS = (5, 2)
MB = 1_000_000

#: which verifier ``safepickle.loads`` and ``verify()`` run first: "c" (the compiled pass, which
#: falls back to the Python pass where it bails) or "python"
IMPLEMENTATION: str = getattr(verify_module, "IMPLEMENTATION", "python")

#: the loaders: pickle, safepickle as shipped and with the Python verifier, torch's weights-only
LOAD_COLUMNS = (
    "payload",
    "proto",
    "size MB",
    "plain ms",
    "safe ms",
    "ratio",
    "py ratio",
    "torch wo",
    "verify ms",
    "v.ratio",
    "IQR%",
    "peak MB plain",
    "peak MB safe",
    "mem ratio",
)
#: the static passes: our verifier (as shipped, C only, Python only) and the two scanners
SCAN_COLUMNS = (
    "payload",
    "proto",
    "plain ms",
    "v.ratio",
    "v.c",
    "v.py",
    "picklescan",
    "fickling",
    "v/picklescan",
    "v/fickling",
    "IQR%",
    "picklescan says",
    "fickling says",
)
#: kept for callers of the first version: the loaders' table
COLUMNS = LOAD_COLUMNS

#: the series timed for safepickle on every row, in the interleaved order (peers follow)
OUR_SERIES = ("plain", "safe", "safe_python", "verify", "verify_c", "verify_python")
LOAD_SERIES = ("plain", "safe", "safe_python", "torch")
SCAN_SERIES = ("verify", "verify_c", "verify_python", "picklescan", "fickling")


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
    #: every timed series by name (``OUR_SERIES`` and the peers' names)
    series: dict[str, Timing] = field(default_factory=dict)
    #: a series that was not timed on this row, and what its cell says instead
    untimed: dict[str, str] = field(default_factory=dict)
    #: what each scanner said about the payload, what torch's load returned
    verdicts: dict[str, str] = field(default_factory=dict)
    #: (series, text): why a series was not timed, what a scanner flagged
    notes: list[tuple[str, str]] = field(default_factory=list)
    peak_plain_bytes: int = 0
    peak_safe_bytes: int = 0
    #: set when safepickle failed to load the payload (a safepickle bug) or it was skipped
    error: str | None = None
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.skipped is None

    @property
    def plain(self) -> Timing:
        return self.series["plain"]

    @property
    def safe(self) -> Timing:
        return self.series["safe"]

    @property
    def verify(self) -> Timing:
        return self.series["verify"]

    def timed(self, name: str) -> bool:
        timing = self.series.get(name)
        return timing is not None and bool(timing.samples)

    def ratio_of(self, name: str) -> float | None:
        """Median of series ``name`` / median of ``pickle.loads``; None when not timed."""
        return self.between(name, "plain")

    def between(self, name: str, other: str) -> float | None:
        """Median of series ``name`` / median of series ``other``; None if either is missing."""
        if not (self.timed(name) and self.timed(other)):
            return None
        return self.series[name].median / self.series[other].median

    @property
    def ratio(self) -> float:
        return self.safe.median / self.plain.median

    @property
    def verify_ratio(self) -> float:
        return self.verify.median / self.plain.median

    @property
    def memory_ratio(self) -> float:
        return self.peak_safe_bytes / self.peak_plain_bytes if self.peak_plain_bytes else 0.0

    def spread_of(self, names: Iterable[str]) -> float:
        """The largest IQR / median among the timed series ``names``."""
        return max((self.series[name].spread for name in names if self.timed(name)), default=0.0)

    @property
    def spread(self) -> float:
        return self.spread_of(LOAD_SERIES)

    @property
    def label(self) -> str:
        return f"{self.payload}/p{self.protocol}"

    def _ratio_cell(self, name: str, other: str = "plain") -> str:
        value = self.between(name, other)
        if value is not None:
            return _times(value)
        return self.untimed.get(name) or self.untimed.get(other) or "n/a"

    def _head(self, with_size: bool) -> list[str] | None:
        """The leading cells, or the whole row when it was skipped or failed."""
        size = [_megabytes(self.size_bytes)] if with_size else []
        if self.skipped is not None:
            dash = ["-"] if with_size else []
            return [self.payload, str(self.protocol), *dash, f"SKIPPED: {self.skipped}"]
        if self.error is not None:
            return [self.payload, str(self.protocol), *size, f"ERROR: {self.error}"]
        return None

    def cells(self) -> list[str]:
        """The loaders' table (``LOAD_COLUMNS``)."""
        whole = self._head(with_size=True)
        if whole is not None:
            return whole
        return [
            self.payload,
            str(self.protocol),
            _megabytes(self.size_bytes),
            f"{self.plain.median * 1e3:.2f}",
            f"{self.safe.median * 1e3:.2f}",
            _times(self.ratio),
            self._ratio_cell("safe_python"),
            self._ratio_cell("torch"),
            f"{self.verify.median * 1e3:.2f}",
            _times(self.verify_ratio),
            f"{self.spread * 100:.0f}",
            _megabytes(self.peak_plain_bytes),
            _megabytes(self.peak_safe_bytes),
            _times(self.memory_ratio),
        ]

    def scan_cells(self) -> list[str]:
        """The static passes' table (``SCAN_COLUMNS``)."""
        whole = self._head(with_size=False)
        if whole is not None:
            return whole
        return [
            self.payload,
            str(self.protocol),
            f"{self.plain.median * 1e3:.2f}",
            _times(self.verify_ratio),
            self._ratio_cell("verify_c"),
            self._ratio_cell("verify_python"),
            self._ratio_cell("picklescan"),
            self._ratio_cell("fickling"),
            self._ratio_cell("verify", "picklescan"),
            self._ratio_cell("verify", "fickling"),
            f"{self.spread_of(SCAN_SERIES) * 100:.0f}",
            self.verdicts.get("picklescan") or self.untimed.get("picklescan", "-"),
            self.verdicts.get("fickling") or self.untimed.get("fickling", "-"),
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
            for name, timing in self.series.items():
                if timing.samples:
                    out[name] = {
                        "median_s": timing.median,
                        "iqr_over_median": timing.spread,
                        "samples_s": timing.samples,
                    }
            out.update(
                ratio=self.ratio,
                verify_ratio=self.verify_ratio,
                ratios={name: self.ratio_of(name) for name in self.series if name != "plain"},
                verify_over_peer={
                    peer: self.between("verify", peer) for peer in ("picklescan", "fickling")
                },
                untimed=self.untimed,
                verdicts=self.verdicts,
                notes=[{"series": name, "note": text} for name, text in self.notes],
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


def _deep_dumps(obj: object, protocol: int, recursion_limit: int) -> bytes:
    """``pickle.dumps(obj, protocol)`` with the recursion limit raised to ``recursion_limit``.

    CPython 3.12's C pickler counts each nesting level against a fixed C recursion limit
    (about 750 nested lists on 3.12.1) that ``sys.setrecursionlimit`` does not raise, so the
    deep ``nested_list`` payload overflows it. On a RecursionError this falls back to the
    pure-Python pickler, which only needs the raised Python limit and writes the same bytes:
    the payload stays identical on every version, so the numbers stay comparable. Setup only,
    never timed.
    """
    limit = sys.getrecursionlimit()
    if recursion_limit > limit:
        sys.setrecursionlimit(recursion_limit)
    try:
        try:
            return pickle.dumps(obj, protocol=protocol)
        except RecursionError:
            out = io.BytesIO()
            pickle._Pickler(out, protocol).dump(obj)
            return out.getvalue()
    finally:
        sys.setrecursionlimit(limit)


def _dumps(payload: payloads.Payload, protocol: int) -> bytes:
    return _deep_dumps(payload.obj, protocol, payload.recursion_limit)


def _fingerprint(obj: object, recursion_limit: int) -> bytes:
    """A canonical byte form of a loaded object, to check safepickle loaded what pickle did."""
    return _deep_dumps(obj, 5, recursion_limit)


def _describe_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    first = text.splitlines()[0] if text.strip() else type(exc).__name__
    return first if len(first) <= 160 else first[:157] + "..."


def _entry_text(entry: object) -> str:
    """An allow entry as text (classes as ``module:qualname``), for the report."""
    if isinstance(entry, str):
        return entry
    return f"{getattr(entry, '__module__', '?')}:{getattr(entry, '__qualname__', entry)}"


def _compiled_built() -> bool:
    return getattr(verify_module, "_c_fast_verify", None) is not None


def _probe_verifier(row: Row, name: str, fn: Callable[[], object]) -> bool:
    """Run one forced-implementation verify untimed; True when the series is to be timed."""
    try:
        result = fn()
    except Exception as exc:
        row.untimed[name] = type(exc).__name__
        row.notes.append((name, _describe_error(exc)))
        return False
    if result is None:  # only the compiled pass returns None: it bailed
        row.untimed[name] = "bail"
        row.notes.append((name, "the compiled pass bails here (verify() then runs Python)"))
        return False
    return True


def measure(
    payload: payloads.Payload,
    protocol: int,
    repeat: int,
    active_peers: Sequence[peers.Peer] = (),
    inactive_peers: dict[str, str] | None = None,
) -> Row:
    """Time and measure one payload at one protocol: safepickle's series, then the peers'.
    ``inactive_peers`` maps a peer that is not run to what its cells say instead."""
    data = _dumps(payload, protocol)
    allow = list(payload.allow)
    row = Row(
        payload=payload.name,
        protocol=protocol,
        description=payload.description,
        size_bytes=len(data),
        allow=[_entry_text(entry) for entry in allow],
    )
    row.untimed.update(inactive_peers or {})
    limits = safepickle.allowed(*allow).limits if allow else safepickle.Policy().limits
    force = getattr(verify_module, "_verify_with", None)

    def plain() -> object:
        return pickle.loads(data)

    def safe() -> object:
        return safepickle.loads(data, allow=allow)

    def safe_python() -> object:
        # the verifier's own switch, as SAFEPICKLE_PURE_PYTHON sets it at import: the compiled
        # pass is skipped and verify() runs the Python pass only
        saved = verify_module._fast_path
        verify_module._fast_path = verify_module._python_only
        try:
            return safepickle.loads(data, allow=allow)
        finally:
            verify_module._fast_path = saved

    def verify_only() -> object:
        return verify(data, 0, limits=limits)

    def verify_c() -> object:
        return force("c", data, 0, limits=limits)

    def verify_python() -> object:
        return force("python", data, 0, limits=limits)

    # Warm-up (untimed): the first safe call builds the policy and resolves the globals; both
    # results are also compared, so a wrong load is reported rather than timed.
    expected = [_fingerprint(plain(), payload.recursion_limit)]  # emptied before timing

    def same_as_plain(obj: object) -> bool:
        return _fingerprint(obj, payload.recursion_limit) == expected[0]

    calls: dict[str, Callable[[], object]] = {"plain": plain}
    for name, fn, what in (
        ("safe", safe, "safepickle"),
        ("safe_python", safe_python, "safepickle (Python verifier)"),
    ):
        try:
            loaded = fn()
        except Exception as exc:
            row.error = f"{what}: {_describe_error(exc)}"
            print(f"\n{what} failed to load {row.label}:", file=sys.stderr)
            traceback.print_exc()
            return row
        if not same_as_plain(loaded):
            row.error = f"{what}.loads returned a different object than pickle.loads"
            return row
        del loaded
        calls[name] = fn
    calls["verify"] = verify_only
    if force is None:
        for name in ("verify_c", "verify_python"):
            row.untimed[name] = "n/a"
        row.notes.append(("verify_c", "safepickle.verify has no _verify_with"))
    else:
        if not _compiled_built():
            row.untimed["verify_c"] = "not built"
        elif _probe_verifier(row, "verify_c", verify_c):
            calls["verify_c"] = verify_c
        if _probe_verifier(row, "verify_python", verify_python):
            calls["verify_python"] = verify_python

    for peer in active_peers:
        probe = peer.probe(data, payload, same_as_plain)
        if probe.verdict:
            row.verdicts[peer.name] = probe.verdict
        if probe.note:
            row.notes.append((peer.name, probe.note))
        if probe.call is None:
            row.untimed[peer.name] = probe.cell
        else:
            calls[peer.name] = probe.call
    expected.clear()

    # One more untimed round in the timed order, so the first timed run starts from the same
    # allocator state as the others.
    for fn in calls.values():
        _timed(fn)

    row.series = {name: Timing() for name in calls}
    for _ in range(repeat):
        for name, fn in calls.items():
            row.series[name].samples.append(_timed(fn))

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


def _implementation_text() -> str:
    if IMPLEMENTATION == "c":
        return "C (safepickle._speedups; the Python pass where it bails)"
    if _compiled_built():
        return "pure Python (SAFEPICKLE_PURE_PYTHON is set)"
    return "pure Python (safepickle._speedups is not built)"


def environment(
    args: argparse.Namespace, repeat: int, peer_states: dict[str, str] | None = None
) -> dict[str, Any]:
    """What the numbers were measured on (third-party versions read without importing them).
    ``peer_states`` maps each peer to its version, or to why it does not run."""
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
        "verifier_implementation": IMPLEMENTATION,
        "verifier": _implementation_text(),
        "peers": dict(peer_states or {}),
        "quick": args.quick,
        "repeat": repeat,
    }


def _spread_stats(rows: Sequence[Row], value: Callable[[Row], float | None]) -> dict[str, Any]:
    """Median, min and max (with their rows) of ``value`` over the rows where it exists."""
    pairs = [(v, row.label) for row in rows if (v := value(row)) is not None]
    if not pairs:
        return {"rows": 0}
    low, high = min(pairs), max(pairs)
    return {
        "rows": len(pairs),
        "median": statistics.median(v for v, _ in pairs),
        "min": low[0],
        "min_payload": low[1],
        "max": high[0],
        "max_payload": high[1],
    }


#: a scanner's verdict that does not flag the payload (every payload here is benign); "error"
#: (the scanner failed) is reported in its column and the notes, not as a flag
_NOT_FLAGGED = {"clean", "likely safe", "error", "refused"}


def summarize(rows: Sequence[Row]) -> dict[str, Any]:
    ok = [row for row in rows if row.ok]
    summary: dict[str, Any] = {
        "rows": len(rows),
        "measured": len(ok),
        "errors": [f"{row.label}: {row.error}" for row in rows if row.error is not None],
        "skipped": [f"{row.label}: {row.skipped}" for row in rows if row.skipped is not None],
        "verifier_implementation": IMPLEMENTATION,
        "compiled_verifier_built": _compiled_built(),
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
    # safepickle.loads with each verifier: as shipped is the C one when it is active
    by_verifier = {"python": _spread_stats(ok, lambda row: row.ratio_of("safe_python"))}
    by_verifier["c"] = (
        _spread_stats(ok, lambda row: row.ratio_of("safe"))
        if IMPLEMENTATION == "c"
        else {"rows": 0}
    )
    summary["loads_ratio_by_verifier"] = by_verifier
    summary["verify_ratio_by_verifier"] = {
        "c": _spread_stats(ok, lambda row: row.ratio_of("verify_c")),
        "python": _spread_stats(ok, lambda row: row.ratio_of("verify_python")),
    }
    summary["peer_ratio"] = {
        peer.name: _spread_stats(ok, lambda row, name=peer.name: row.ratio_of(name))
        for peer in peers.PEERS
    }
    summary["verify_over_scan"] = {
        name: _spread_stats(ok, lambda row, name=name: row.between("verify", name))
        for name in ("picklescan", "fickling")
    }
    summary["safe_over_torch"] = _spread_stats(ok, lambda row: row.between("safe", "torch"))
    summary["flagged_benign"] = {
        name: [
            f"{row.label}: {row.verdicts[name]}"
            for row in ok
            if row.verdicts.get(name, "clean") not in _NOT_FLAGGED
        ]
        for name in ("picklescan", "fickling")
    }
    return summary


def _fmt_stats(stats: dict[str, Any], what: str = "median") -> str:
    if not stats.get("rows"):
        return "n/a"
    return (
        f"{what} {_times(stats['median'])}, min {_times(stats['min'])} ({stats['min_payload']}), "
        f"max {_times(stats['max'])} ({stats['max_payload']}), {stats['rows']} rows"
    )


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
        verifier = "C" if summary["verifier_implementation"] == "c" else "Python"
        for key, text in (("c", "C verifier"), ("python", "Python verifier")):
            stats = summary["loads_ratio_by_verifier"][key]
            alone = summary["verify_ratio_by_verifier"][key]
            if stats.get("rows"):
                body = (
                    f"median {_times(stats['median'])}, worst {_times(stats['max'])} "
                    f"({stats['max_payload']})"
                )
            else:
                body = "n/a"
                if key == "c":
                    built = summary.get("compiled_verifier_built")
                    body += " (SAFEPICKLE_PURE_PYTHON is set)" if built else " (not built)"
            if alone.get("rows"):
                body += (
                    f"; its verify alone median {_times(alone['median'])}, worst "
                    f"{_times(alone['max'])} ({alone['max_payload']})"
                )
            lines.append(f"  safepickle.loads with the {text}: {body}")
        names = {"picklescan": "picklescan scan", "fickling": "fickling analysis"}
        for name, stats in summary["verify_over_scan"].items():
            lines.append(f"  verify-only ({verifier}) / {names[name]}: {_fmt_stats(stats)}")
        for peer in peers.PEERS:
            stats = summary["peer_ratio"][peer.name]
            lines.append(f"  {peer.title} / pickle.loads: {_fmt_stats(stats)}")
        lines.append(f"  safepickle.loads / torch wo: {_fmt_stats(summary['safe_over_torch'])}")
        for name, flagged in summary["flagged_benign"].items():
            if flagged:
                lines.append(f"  {name} flags benign payloads: {'; '.join(flagged)}")
    else:
        lines.append("summary: nothing was measured")
    lines += [f"ERROR (safepickle failed to load) {error}" for error in summary["errors"]]
    lines += [f"SKIPPED {skipped}" for skipped in summary["skipped"]]
    return lines


def note_lines(rows: Sequence[Row]) -> list[str]:
    """The rows' notes, one line per distinct (series, text), naming the rows it applies to."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        for name, text in row.notes:
            grouped.setdefault((name, text), []).append(row.label)
    return [f"  {name} on {', '.join(labels)}: {text}" for (name, text), labels in grouped.items()]


def _plain_table(rows_cells: Sequence[list[str]], columns: Sequence[str] = COLUMNS) -> str:
    table = [list(columns), *rows_cells]
    # An ERROR/SKIPPED row's last cell spans the rest of the row and sets no width.
    widths = [
        max(len(cells[i]) for cells in table if len(cells) == len(columns) or i < len(cells) - 1)
        for i in range(len(columns))
    ]
    lines = []
    for cells in table:
        full = len(cells) == len(columns)
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


def _print_rich(title: str, rows_cells: Sequence[list[str]], columns: Sequence[str]) -> bool:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return False
    table = Table(title=title, title_justify="left", show_lines=False)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for cells in rows_cells:
        table.add_row(*cells, *([""] * (len(columns) - len(cells))))
    Console().print(table)
    return True


#: the two tables: title, columns, and how a row fills them
TABLES: tuple[tuple[str, tuple[str, ...], Callable[[Row], list[str]]], ...] = (
    (
        "loaders, each / pickle.loads of the same bytes",
        LOAD_COLUMNS,
        Row.cells,
    ),
    (
        "static passes (no load), each / pickle.loads of the same bytes",
        SCAN_COLUMNS,
        Row.scan_cells,
    ),
)


def print_report(rows: Sequence[Row], summary: dict[str, Any], use_rich: bool) -> None:
    for title, columns, fill in TABLES:
        rows_cells = [fill(row) for row in rows]
        if not (use_rich and _print_rich(title, rows_cells, columns)):
            print(f"{title}:")
            print(_plain_table(rows_cells, columns))
        print()
    notes = note_lines(rows)
    if notes:
        print("notes:")
        for line in notes:
            print(line)
        print()
    for line in summary_lines(summary):
        print(line)


# --- plots (--plot DIR) ---------------------------------------------------------------------

#: the bars of each plot: (series, legend label); every bar is that series / pickle.loads
LOAD_BARS = (
    ("safe", "safepickle.loads (as shipped)"),
    ("safe_python", "safepickle.loads (pure-Python verifier)"),
    ("torch", "torch weights-only unpickler"),
)
SCAN_BARS = (
    ("verify", "safepickle verify only (as shipped)"),
    ("verify_python", "safepickle verify only (pure Python)"),
    ("picklescan", "picklescan scan"),
    ("fickling", "fickling analysis"),
)


def _plot_ratios(
    rows: Sequence[Row], bars: Sequence[tuple[str, str]], title: str, path: Path
) -> None:
    """One horizontal bar group per row: each series / pickle.loads, on a log scale, with
    the untimed cells (n/a, an error) written where their bar would be."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a CI machine
    import matplotlib.pyplot as plt

    measured = [row for row in rows if row.ok]
    height = 0.8 / len(bars)
    figure, axes = plt.subplots(figsize=(9, 0.55 * len(bars) * len(measured) + 1.6))
    for i, (name, label) in enumerate(bars):
        offsets = [y + (i - (len(bars) - 1) / 2) * height for y in range(len(measured))]
        ratios = [row.ratio_of(name) for row in measured]
        bar = axes.barh(
            offsets, [r or 0 for r in ratios], height=height, label=label, color=f"C{i}"
        )
        for offset, ratio, row, patch in zip(offsets, ratios, measured, bar, strict=True):
            text = _times(ratio) if ratio is not None else row._ratio_cell(name)
            x = patch.get_width() if ratio is not None else 1.0
            axes.text(x, offset, f" {text}", va="center", fontsize=7)
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_yticks(range(len(measured)), [row.label for row in measured])
    axes.invert_yaxis()
    axes.set_xlabel("median time / pickle.loads of the same bytes (log scale; 1x = pickle)")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    # no timestamp in the file: the same run draws the same bytes
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)


def _markdown_table(
    rows: Sequence[Row], columns: Sequence[str], fill: Callable[[Row], list[str]]
) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = fill(row)
        cells += [""] * (len(columns) - len(cells))
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def write_plots(
    rows: Sequence[Row], summary: dict[str, Any], env: dict[str, Any], directory: Path
) -> list[Path]:
    """Draw ``loaders.png`` and ``static-passes.png`` into ``directory``, and write the tables
    they came from, with the run's date and machine, as ``bench-table.md`` (Markdown the docs
    include, so the picture and the numbers beside it cannot disagree)."""
    directory.mkdir(parents=True, exist_ok=True)
    loaders, scans = directory / "loaders.png", directory / "static-passes.png"
    _plot_ratios(rows, LOAD_BARS, "loaders: each / pickle.loads of the same bytes", loaders)
    _plot_ratios(rows, SCAN_BARS, "static passes (no load): each / pickle.loads", scans)
    peers_text = ", ".join(f"{name} {state}" for name, state in env["peers"].items())
    load = env["load_average_at_start"]
    parts = [
        f"Measured {env['date']} with `python benchmarks/bench.py {env['argv']}` on "
        f"{env['platform']}, {env['cpus']} CPUs (load average at start "
        f"{'n/a' if load is None else ' '.join(f'{x:.2f}' for x in load)}), Python "
        f"{env['python']}, safepickle {env['safepickle']} (git {env['git_revision']}, "
        f"verifier: {env['verifier']}); {peers_text}; "
        f"{'quick (1/10 sizes)' if env['quick'] else 'full sizes'}, median of "
        f"{env['repeat']} interleaved runs.",
    ]
    for title, columns, fill in TABLES:
        parts += [f"**{title}**", _markdown_table(rows, columns, fill)]
    notes = note_lines(rows)
    if notes:
        parts.append("Notes:\n\n" + "\n".join(f"- {line.strip()}" for line in notes))
    parts.append(
        "Summary:\n\n" + "\n".join(f"- {line.strip()}" for line in summary_lines(summary))
    )
    table = directory / "bench-table.md"
    table.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return [loaders, scans, table]


# --- main -----------------------------------------------------------------------------------


def _peer_names(text: str) -> list[str]:
    if text == "all":
        return list(peers.NAMES)
    if text == "none":
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(peers.NAMES))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown peer {', '.join(unknown)} (choose from {', '.join(peers.NAMES)}, "
            "'all' or 'none')"
        )
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark safepickle.loads against pickle.loads and its peers (ratios, "
        "same run).",
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
    parser.add_argument(
        "--peers",
        type=_peer_names,
        default=list(peers.NAMES),
        metavar="LIST",
        help=f"comma-separated peers to run: {', '.join(peers.NAMES)}, 'all' (default; those "
        "installed) or 'none'",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every number here")
    parser.add_argument(
        "--plain", action="store_true", help="plain-text table even when rich is installed"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        metavar="DIR",
        help="draw loaders.png and static-passes.png (matplotlib) and write bench-table.md here",
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.plot is not None and find_spec("matplotlib") is None:
        # say so before the run, not after a quarter of an hour of measuring
        parser.error("--plot needs matplotlib: pip install matplotlib (the 'bench' extra)")
    return args


def set_up_peers(
    selected: Sequence[str],
) -> tuple[list[peers.Peer], dict[str, str], dict[str, str]]:
    """The peers to run, what the cells of the others say, and every peer's version or state."""
    active: list[peers.Peer] = []
    inactive: dict[str, str] = {}
    states: dict[str, str] = {}
    for peer in peers.PEERS:
        if peer.name not in selected:
            inactive[peer.name] = states[peer.name] = "off"
        elif not peer.installed():
            inactive[peer.name] = states[peer.name] = "not installed"
        else:
            try:
                peer.setup()
            except Exception as exc:  # a broken install: its column says so, the run goes on
                inactive[peer.name] = type(exc).__name__
                states[peer.name] = f"failed to import: {_describe_error(exc)}"
                continue
            active.append(peer)
            states[peer.name] = peer.version()
    return active, inactive, states


def _progress(row: Row) -> str:
    if row.error:
        return "ERROR"
    parts = [f"safe/plain {row.ratio:.2f}x", f"py {row._ratio_cell('safe_python')}"]
    parts += [
        f"{name} {row._ratio_cell(name)}" for name in ("verify_c", "verify_python", *peers.NAMES)
    ]
    return ", ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; returns 1 when safepickle failed to load a payload, else 0."""
    args = parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (3 if args.quick else 7)
    names = [name for name in payloads.NAMES if not args.only or name in args.only]
    active_peers, inactive_peers, peer_states = set_up_peers(args.peers)
    env = environment(args, repeat, peer_states)
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
    print(f"verifier: {env['verifier']}")
    print("peers: " + " | ".join(f"{name} {state}" for name, state in peer_states.items()))
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
            started = time.perf_counter()
            row = measure(payload, protocol, repeat, active_peers, inactive_peers)
            rows.append(row)
            print(
                f"{row.label}: {payload.description}; {row.size_bytes / MB:.1f} MB pickled; "
                f"{_progress(row)} ({time.perf_counter() - started:.0f} s)",
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
            "columns": list(LOAD_COLUMNS),
            "scan_columns": list(SCAN_COLUMNS),
            "rows": [row.to_json() for row in rows],
            "summary": summary,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    if args.plot is not None:
        env.update(
            date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            argv=" ".join(argv if argv is not None else sys.argv[1:]),
        )
        for path in write_plots(rows, summary, env, args.plot):
            print(f"wrote {path}")
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
