"""What a scan found: per global, per stream (one pickle), per file. Plain, picklable data
(``--jobs`` sends it between processes), turned into JSON by :meth:`as_dict`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "FileResult",
    "GlobalFinding",
    "Issue",
    "Problem",
    "Status",
    "StreamResult",
    "issues",
    "worst",
]

Status = Literal["clean", "refused", "error", "skipped"]
#: how bad each status is, for a file's overall status and the exit code
_RANK = {"skipped": 0, "clean": 0, "error": 1, "refused": 2}


def worst(statuses: list[Status]) -> Status:
    """The status that summarises several: refused > error > clean (skipped counts as clean)."""
    best: Status = "clean"
    for status in statuses:
        if _RANK[status] > _RANK[best]:
            best = status
    return best


@dataclass(frozen=True)
class GlobalFinding:
    """One global a stream names, with the policy's decision on it."""

    name: str
    module: str
    qualname: str
    #: what the stream spelled, ``module name`` (differs for protocol 0-2 aliases)
    raw: str
    opcode: str
    offset: int
    decision: Literal["allow", "deny"]
    rule: str
    plugin: str
    reason: str


@dataclass(frozen=True)
class Problem:
    """Why a stream is refused or could not be scanned (besides refused globals)."""

    #: ``opcode:<NAME>``, ``limit:<name>``, ``malformed``, ``container``, ``unreadable``,
    #: ``plugin-error``, or the rule of a refusal only the resolved object revealed
    rule: str
    message: str
    error_type: str
    offset: int | None = None


@dataclass(frozen=True)
class StreamResult:
    """One pickle (or one member that is not a pickle) inside a file."""

    #: the member path inside the file, one entry per container level ("" for the file)
    member: tuple[str, ...]
    #: pickles in the same stream are numbered from 0 (several pickles in one file)
    index: int
    status: Status
    #: container formats from the file inwards ("zip", "gzip", "joblib" ...)
    formats: tuple[str, ...] = ()
    start: int | None = None
    end: int | None = None
    protocol: int | None = None
    globals: tuple[GlobalFinding, ...] = ()
    problem: Problem | None = None
    notes: tuple[str, ...] = ()

    @property
    def refused_globals(self) -> tuple[GlobalFinding, ...]:
        return tuple(g for g in self.globals if g.decision == "deny")

    @property
    def location(self) -> str:
        """``member!member`` (empty for the file itself), plus ``#n`` for the n-th pickle."""
        where = "!".join(self.member)
        return f"{where}#{self.index}" if self.index else where


@dataclass(frozen=True)
class FileResult:
    """Everything one file held."""

    path: str
    size: int | None
    streams: tuple[StreamResult, ...]
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        return worst([stream.status for stream in self.streams])

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "size": self.size,
            "seconds": round(self.seconds, 6),
            "streams": [
                {"location": stream.location, **dataclasses.asdict(stream)}
                for stream in self.streams
            ],
        }


@dataclass(frozen=True)
class Issue:
    """One line of a report: a refused global, or the problem that stopped a stream."""

    file: str
    stream: StreamResult
    #: decision or problem rule (``floor``, ``default-deny``, ``opcode:EXT1``, ``malformed``)
    rule: str
    #: the refused global's canonical name, or None for a problem
    name: str | None
    offset: int | None
    message: str


def issues(result: FileResult) -> list[Issue]:
    """Every refused global and problem of a file, in stream order."""
    found = []
    for stream in result.streams:
        for finding in stream.refused_globals:
            found.append(
                Issue(
                    result.path,
                    stream,
                    finding.rule,
                    finding.name,
                    finding.offset,
                    f"global '{finding.name}' ({finding.opcode} at offset {finding.offset}) is "
                    f"refused: {finding.reason} [rule {finding.rule}"
                    + (f", plugin {finding.plugin}" if finding.plugin else "")
                    + "]",
                )
            )
        if stream.problem is not None:
            problem = stream.problem
            found.append(
                Issue(result.path, stream, problem.rule, None, problem.offset, problem.message)
            )
    return found
