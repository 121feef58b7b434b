"""Reports for people and for tools: a rich table per file, and JSON."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import __version__
from ..policy import Policy
from .model import FileResult, GlobalFinding, issues, worst

__all__ = ["exit_code", "print_text", "summary", "to_json"]


def exit_code(results: Sequence[FileResult]) -> int:
    """1 if anything was refused, else 2 if anything could not be scanned, else 0."""
    status = worst([result.status for result in results])
    return {"clean": 0, "skipped": 0, "refused": 1, "error": 2}[status]


def summary(results: Sequence[FileResult]) -> dict[str, int]:
    counts = Counter(result.status for result in results)
    return {
        "files": len(results),
        "clean": counts["clean"] + counts["skipped"],
        "refused": counts["refused"],
        "error": counts["error"],
        "streams": sum(
            1 for result in results for stream in result.streams if stream.status != "skipped"
        ),
    }


def print_text(
    console: Console,
    results: Sequence[FileResult],
    policy: Policy,
    *,
    static: bool = False,
    verbose: bool = False,
) -> None:
    """A table per file with something refused or unreadable (every file with ``verbose``),
    then one summary line naming the policy."""
    for result in results:
        found = issues(result)
        if not found:
            if verbose:
                scanned = sum(1 for s in result.streams if s.status != "skipped")
                console.print(
                    f"[green]clean[/green]  {escape(result.path)} ({scanned} pickle(s))",
                    highlight=False,
                )
            continue
        colour = "red" if result.status == "refused" else "yellow"
        table = Table(
            title=f"[{colour}]{result.status}[/{colour}]  {escape(result.path)}",
            title_justify="left",
            show_lines=False,
        )
        table.add_column("stream", overflow="fold")
        table.add_column("refused global / problem", overflow="fold")
        table.add_column("rule", no_wrap=True)
        table.add_column("offset", justify="right", no_wrap=True)
        table.add_column("why", overflow="fold")
        for issue in found:
            stream = issue.stream
            if issue.name is not None:
                finding = next(g for g in stream.refused_globals if g.name == issue.name)
                what, why = issue.name, finding.reason + _hint(finding)
            else:
                what = stream.problem.error_type if stream.problem is not None else ""
                why = issue.message
            table.add_row(
                escape(stream.location or "-"),
                escape(what),
                escape(issue.rule),
                "-" if issue.offset is None else str(issue.offset),
                escape(why),
            )
        console.print(table)
    counts = summary(results)
    mode = "static: nothing imported" if static else "allowed globals resolved"
    console.print(
        f"{counts['files']} file(s), {counts['streams']} pickle(s): "
        f"{counts['clean']} clean, {counts['refused']} refused, {counts['error']} error(s); "
        f"policy {policy.fingerprint[:16]} ({mode})",
        highlight=False,
    )


def _hint(finding: GlobalFinding) -> str:
    """How to allow a refused global when that is possible (never for the floor)."""
    if finding.rule == "floor":
        return "; on the floor: it can never be allowed"
    if finding.rule == "default-deny":
        return f"; if you trust it: --allow '{finding.module}:{finding.qualname}'"
    return ""


def to_json(results: Sequence[FileResult], policy: Policy, *, static: bool) -> dict[str, Any]:
    return {
        "tool": {"name": "safepickle", "version": __version__},
        "policy": {"fingerprint": policy.fingerprint, **policy.describe()},
        "static": static,
        "summary": summary(results),
        "exit_code": exit_code(results),
        "files": [result.as_dict() for result in results],
    }
