"""``safepickle audit verify FILE`` and ``safepickle audit summary FILE``.

``verify`` exits 0 when the hash chain is intact, 1 when it is not (naming the first bad
line: edited, removed, reordered, inserted, malformed or truncated), 2 when the file cannot be
read. ``summary`` exits 0, or 2 when the file cannot be read; it reports the chain's state too.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..cli import UsageError
from .chain import ChainReport, verify_file
from .summary import summarize

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``audit`` and its actions on the main parser's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit",
        help="check and summarise audit logs (JSON Lines files written by Policy(audit=...))",
        description="Check and summarise safepickle's hash-chained JSON Lines audit logs.",
    )
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)

    verify = actions.add_parser(
        "verify",
        help="check the hash chain: exit 0 if intact, 1 if not, 2 if unreadable",
        description="Check that no record of FILE was edited, removed, reordered or truncated. "
        "Exit status: 0 intact, 1 broken (the first bad line is named), 2 unreadable.",
    )
    verify.add_argument("file", metavar="FILE")
    verify.add_argument("--format", choices=("text", "json"), default="text")
    verify.set_defaults(run=_verify)

    summary = actions.add_parser(
        "summary",
        help="counts by outcome, top refused globals, sources, time range",
        description="Summarise FILE: counts by outcome, the most refused globals, sources, "
        "errors, limits hit, policies, the time range and the chain's state.",
    )
    summary.add_argument("file", metavar="FILE")
    summary.add_argument("--format", choices=("text", "json"), default="text")
    summary.add_argument("--top", type=int, default=10, metavar="N", help="rows per list")
    summary.set_defaults(run=_summary)
    return parser


def _verify(args: argparse.Namespace) -> int:
    try:
        report = verify_file(args.file)
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    if args.format == "json":
        print(json.dumps({"file": args.file, **report.as_dict()}, indent=2))
    else:
        print(_verify_text(args.file, report))
    return 0 if report.intact else 1


def _verify_text(file: str, report: ChainReport) -> str:
    head = (
        f"head: sequence {report.head_sequence}, hash {report.head_hash}"
        if report.head_hash
        else "no records"
    )
    first = report.first_problem
    if first is None:
        return f"{file}: intact, {report.records} record(s); {head}"
    lines = [f"{file}: BROKEN at line {first.line}: {first.kind}: {first.detail}"]
    for problem in report.problems[1:]:
        lines.append(f"  then {problem}")
    if report.more_problems:
        lines.append(f"  and {report.more_problems} more problem(s)")
    lines.append(f"{report.records} record(s) in {report.lines} line(s); {head}")
    return "\n".join(lines)


def _summary(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    try:
        summary = summarize(args.file, top=args.top)
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    elif sys.stdout.isatty() and _rich_available():
        _print_rich(summary)
    else:
        print(_summary_text(summary))
    return 0


def _chain_text(summary: dict[str, Any]) -> str:
    chain = summary["chain"]
    return "intact" if chain["intact"] else f"BROKEN ({chain['first_problem']})"


def _sections(summary: dict[str, Any]) -> list[tuple[str, list[tuple[str, int]]]]:
    def pairs(items: Any) -> list[tuple[str, int]]:
        if isinstance(items, dict):
            return [(str(k), int(v)) for k, v in items.items()]
        return [(str(item["name"]), int(item["count"])) for item in items]

    return [
        ("outcomes", pairs(summary["outcomes"])),
        ("top refused globals", pairs(summary["top_refused_globals"])),
        ("top sources", pairs(summary["top_sources"])),
        ("errors", pairs(summary["errors"])),
        ("limits hit", pairs(summary["limits_hit"])),
        ("policies (fingerprint)", pairs(summary["policies"])),
        ("hosts", pairs(summary["hosts"])),
    ]


def _summary_text(summary: dict[str, Any]) -> str:
    span = summary["time_range"]
    lines = [
        f"{summary['file']}: {summary['records']} record(s)"
        + (
            f", {summary['unreadable_lines']} unreadable line(s)"
            if summary["unreadable_lines"]
            else ""
        ),
        f"time range: {span['first'] or '-'} .. {span['last'] or '-'}",
        f"chain: {_chain_text(summary)}",
    ]
    for title, rows in _sections(summary):
        lines.append(f"{title}:")
        if not rows:
            lines.append("  (none)")
        width = max((len(f"{count:,}") for _, count in rows), default=0)
        lines.extend(f"  {count:>{width},}  {name}" for name, count in rows)
    return "\n".join(lines)


def _rich_available() -> bool:
    try:
        import rich  # noqa: F401, PLC0415 - optional: only for a terminal
    except ImportError:
        return False
    return True


def _print_rich(summary: dict[str, Any]) -> None:  # pragma: no cover - needs a terminal
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    console = Console()
    span = summary["time_range"]
    console.print(
        f"[bold]{summary['file']}[/bold]: {summary['records']:,} record(s), "
        f"{span['first'] or '-'} .. {span['last'] or '-'}; chain: {_chain_text(summary)}",
        markup=True,
        highlight=False,
    )
    for title, rows in _sections(summary):
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        table.add_column("count", justify="right")
        table.add_column("name", overflow="fold")
        for name, count in rows:
            table.add_row(f"{count:,}", name)
        console.print(table)
