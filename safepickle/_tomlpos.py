"""Where a key sits in a TOML file: ``tomllib`` gives no positions, so scan the text.

Best effort, for error messages: table headers (``[tool.safepickle.limits]``), dotted keys
(``limits.max_opcodes = 5`` under ``[tool.safepickle]``) and inline tables
(``limits = { max_opcodes = 5 }``) are understood; multi-line strings are not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["key_line"]

_PART = r"""(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"\s*({_DOTTED})\s*=")
_PART_RE = re.compile(_PART)


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _PART_RE.findall(dotted))


def key_line(text: str, path: Sequence[str], needle: str | None = None) -> int:
    """The 1-based line where the key ``path`` (``("tool", "safepickle", "allow")``) is set,
    or where ``needle`` (say an array item's text) appears from that line on; else the line
    of the nearest enclosing table header; else 1."""
    target = tuple(path)
    lines = text.splitlines()
    table: tuple[str, ...] = ()
    best = (0, 1)  # (how many leading parts matched, line)
    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header:
            table = _parts(header.group(1))
            matched = table if target[: len(table)] == table else ()
            if len(matched) > best[0]:
                best = (len(matched), number)
            continue
        assign = _ASSIGN.match(line)
        if not assign:
            continue
        full = table + _parts(assign.group(1))
        if full == target:
            return _find_needle(lines, number, needle)
        if full == target[: len(full)] and len(full) < len(target):
            # an inline table holding the key: ``limits = { max_opcodes = 5 }``
            rest = target[len(full) :]
            if re.search(rf"[{{,]\s*{re.escape(rest[0])}\s*[.=]", line):
                return _find_needle(lines, number, needle)
            if len(full) > best[0]:
                best = (len(full), number)
    return best[1]


def _find_needle(lines: Sequence[str], start: int, needle: str | None) -> int:
    if needle is None:
        return start
    for number in range(start, len(lines) + 1):
        line = lines[number - 1]
        if needle in line:
            return number
        if number > start and (_HEADER.match(line) or _ASSIGN.match(line)):
            break  # the next key: the item was not found as written
    return start
