"""The hash chain of an audit JSON Lines file: how a line is sealed, and how a file is checked.

Every line is one JSON document (ASCII, ``\\n``-terminated) carrying three chain fields:

* ``event.sequence``: 1 for the first record of the file, then the previous record's plus one;
* ``safepickle.chain.prev``: hex SHA-256 of the previous line's exact bytes (without its
  ``\\n``), or :data:`GENESIS` (64 zeros) for the first line;
* ``event.hash``: hex SHA-256 of this line's exact bytes with the 64 hex digits of
  ``event.hash`` itself replaced by zeros.

The hashes are over bytes, not over a re-serialisation, so any tool can recompute them without
knowing how JSON was formatted. A record's own hash names the line that was edited; ``prev``
ties each line to the one before it, so a removed, inserted or reordered line breaks the chain
at the first line after the change; the sequence tells a removal from a reordering; a last
line without its ``\\n`` is a truncated record. What no hash chain can show on its own is that
whole records were cut off the *end* of the file: compare the head (last sequence and hash,
printed by ``safepickle audit verify``) with a copy kept elsewhere (your SIEM).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "GENESIS",
    "ChainReport",
    "Problem",
    "line_digest",
    "seal",
    "verify_file",
    "verify_lines",
]

#: ``prev`` of a file's first record
GENESIS = "0" * 64
_ZEROS = b"0" * 64

# The placeholders a record is encoded with before its place in the chain is known. Each is a
# key followed by its value, so it can occur once only: JSON escapes every quote inside a
# string, which makes ``"key":`` impossible anywhere but at a real key, and these keys
# (event.sequence, event.hash, safepickle.chain.prev) exist once per record.
SEQUENCE_PLACEHOLDER = b'"sequence":0,'
HASH_PLACEHOLDER = b'"hash":"' + _ZEROS + b'"'
PREV_PLACEHOLDER = b'"prev":"' + _ZEROS + b'"'
# The number must be complete (followed by ',' or '}'): a torn line may end inside it.
SEQUENCE = re.compile(rb'"sequence":(\d+)[,}]')
_HASH = re.compile(rb'"hash":"([0-9a-f]{64})"')

#: how many problems a report lists (the first is the one that matters)
MAX_PROBLEMS = 20
#: how far back a broken link is looked up, to recognise inserted lines
_RECENT = 1024


def line_digest(line: bytes) -> str:
    """Hex SHA-256 of one line's bytes, without its ``\\n``: the next record's ``prev``."""
    return hashlib.sha256(line).hexdigest()


def seal(body: bytes, prev: str, sequence: int) -> bytes:
    """Fill the placeholders of an encoded record and return the line, ``\\n`` included.

    ``body`` is the record's JSON with :data:`SEQUENCE_PLACEHOLDER`, :data:`PREV_PLACEHOLDER`
    and :data:`HASH_PLACEHOLDER` in it, once each.
    """
    body = body.replace(SEQUENCE_PLACEHOLDER, b'"sequence":%d,' % sequence, 1)
    body = body.replace(PREV_PLACEHOLDER, b'"prev":"' + prev.encode("ascii") + b'"', 1)
    digest = hashlib.sha256(body).hexdigest().encode("ascii")
    return body.replace(HASH_PLACEHOLDER, b'"hash":"' + digest + b'"', 1) + b"\n"


@dataclass(frozen=True)
class Problem:
    """One place where the chain does not hold.

    ``kind`` is ``"edited"``, ``"removed"``, ``"reordered"``, ``"inserted"``, ``"malformed"``
    (not a record: a torn write in the middle of the file, or a foreign line) or
    ``"truncated"`` (the last line has no end).
    """

    line: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.detail}"


@dataclass
class ChainReport:
    """The result of checking one file."""

    records: int = 0
    lines: int = 0
    #: sequence and hash of the last line that was a record (the head, to keep elsewhere)
    head_sequence: int | None = None
    head_hash: str | None = None
    problems: list[Problem] = field(default_factory=list)
    #: problems found beyond the ones listed
    more_problems: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "records": self.records,
            "lines": self.lines,
            "head": {"sequence": self.head_sequence, "hash": self.head_hash},
            "first_problem": _problem_dict(self.first_problem),
            "problems": [_problem_dict(p) for p in self.problems],
            "more_problems": self.more_problems,
        }


def _problem_dict(problem: Problem | None) -> dict[str, Any] | None:
    if problem is None:
        return None
    return {"line": problem.line, "kind": problem.kind, "detail": problem.detail}


def _parse(body: bytes) -> tuple[int, str, str] | str:
    """(sequence, prev, own hash) of a record line, or why it is not one."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        return f"not a JSON document ({exc.msg} at column {exc.colno})"
    except ValueError:  # bytes that are not UTF-8
        return "not a JSON document (not UTF-8)"
    try:
        event = document["event"]
        sequence, claimed = event["sequence"], event["hash"]
        prev = document["safepickle"]["chain"]["prev"]
    except (KeyError, TypeError):
        return "a JSON document without the chain fields (event.sequence, event.hash, prev)"
    if not (type(sequence) is int and isinstance(claimed, str) and isinstance(prev, str)):
        return "chain fields of the wrong type"
    return sequence, prev, claimed


def _own_hash_ok(body: bytes, claimed: str) -> bool:
    field_bytes = b'"hash":"' + claimed.encode("ascii", "replace") + b'"'
    if len(_HASH.findall(body)) != 1 or body.count(field_bytes) != 1:
        return False
    return hashlib.sha256(body.replace(field_bytes, HASH_PLACEHOLDER)).hexdigest() == claimed


def verify_lines(lines: Iterable[bytes], later: Iterable[bytes] = ()) -> ChainReport:
    """Check the chain of ``lines`` (each as read from the file, ``\\n`` included).

    ``later`` is only read after a broken link, to tell a reordering (the record that should
    come first is further down) from a removal: pass a second iterator over the same file.
    """
    report = ChainReport()
    expected_prev = GENESIS
    last_sequence: int | None = None
    later_iter: Iterator[bytes] | None = iter(later)
    recent: OrderedDict[str, int] = OrderedDict()  # digest -> line, for the last few lines
    for number, raw in enumerate(lines, 1):
        report.lines = number
        complete = raw.endswith(b"\n")
        body = raw[:-1] if complete else raw
        parsed = _parse(body)
        digest = line_digest(body)
        if not complete:
            _add(
                report, Problem(number, "truncated", "the last line has no end: a partial record")
            )
        elif isinstance(parsed, str):
            _add(report, Problem(number, "malformed", parsed))
        else:
            sequence, prev, claimed = parsed
            report.records += 1
            if not _own_hash_ok(body, claimed):
                _add(report, Problem(number, "edited", "its event.hash does not match its bytes"))
            elif digest in recent:  # a replayed copy: checked first, its prev is an old one
                _add(report, Problem(number, "inserted", f"it repeats line {recent[digest]}"))
            elif prev != expected_prev:
                problem = _broken_link(number, prev, sequence, last_sequence, recent, later_iter)
                later_iter = None  # one look-ahead per report: the first break is what counts
                _add(report, problem)
            report.head_sequence, report.head_hash = sequence, claimed
            last_sequence = sequence
        expected_prev = digest
        recent[digest] = number
        if len(recent) > _RECENT:
            recent.popitem(last=False)
    return report


def _broken_link(
    number: int,
    prev: str,
    sequence: int,
    last_sequence: int | None,
    recent: dict[str, int],
    later: Iterator[bytes] | None,
) -> Problem:
    """Explain a record whose ``prev`` is not the hash of the line before it."""
    if number == 1:
        return Problem(
            number,
            "removed",
            "the first line does not start the chain: records before it are missing",
        )
    earlier = recent.get(prev)
    if earlier is not None:
        return Problem(
            earlier + 1,
            "inserted",
            f"line(s) {earlier + 1}-{number - 1} are not in the chain: "
            f"line {number} follows line {earlier}",
        )
    if later is not None:
        for offset, raw in enumerate(later, 1):
            if offset <= number:
                continue  # ``later`` reads the file from its start
            if line_digest(raw.rstrip(b"\n")) == prev:
                return Problem(
                    number, "reordered", f"it was written right after line {offset}, not before"
                )
    if last_sequence is not None and sequence > last_sequence + 1:
        missing = sequence - last_sequence - 1
        return Problem(
            number,
            "removed",
            f"{missing} record(s) missing before it "
            f"(sequence jumps from {last_sequence} to {sequence})",
        )
    if last_sequence is not None and sequence <= last_sequence:
        return Problem(
            number,
            "reordered",
            f"its sequence {sequence} does not follow {last_sequence}",
        )
    # The sequence follows, so nothing is missing: the previous line was rewritten, hash and
    # all, after this one was chained to it.
    return Problem(
        number - 1,
        "edited",
        f"line {number} was chained to a different version of it (its hash was recomputed)",
    )


def _add(report: ChainReport, problem: Problem) -> None:
    if len(report.problems) <= MAX_PROBLEMS:
        report.problems.append(problem)
    else:
        report.more_problems += 1


def _lines(file: BinaryIO) -> Iterator[bytes]:
    # iterating a binary file splits after b"\n" only, and keeps a last line without one
    yield from file


def verify_file(path: str | Path) -> ChainReport:
    """Check the chain of the JSON Lines file at ``path``; ``OSError`` if it cannot be read."""
    with open(path, "rb") as file, open(path, "rb") as again:
        return verify_lines(_lines(file), _lines(again))
