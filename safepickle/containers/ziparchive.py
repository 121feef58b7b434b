"""Zip archives (PyTorch checkpoints, ``.npz``, anything zipped), read tolerantly.

Scanners have been fooled by archives that Python's :mod:`zipfile` refuses but the loader
(PyTorch's miniz reader) accepts: a local header whose name differs from the central
directory's, "encrypted" or other flag bits, bad CRCs, members missing from the central
directory. So this reader does not use :mod:`zipfile`: it takes every entry of the central
directory (as miniz does) *and* every local header found by walking the file, reads each
member's bytes from its local header, ignores flags and CRCs (noting them), and yields each
distinct member once. A member is never judged by its name: the scanner opens or scans each.

Nothing a header claims is allocated: stored members are views of the file, compressed ones
are inflated in bounded steps against the file's expansion budget, members that read the same
bytes of the archive again (the "better zip bomb": many headers, one compressed kernel) are
charged what they read twice, and entries are counted against ``MAX_MEMBERS`` as they are
collected.
"""

from __future__ import annotations

import bisect
import bz2
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import LimitExceeded
from . import ArchiveReads, Buffer, ContainerError, ContainerStream, ExpansionBudget, Member
from .compressed import ZlibAdapter, inflate

__all__ = ["open_zip"]

_LOCAL = b"PK\x03\x04"
_CENTRAL = b"PK\x01\x02"
_END = b"PK\x05\x06"
_END64_LOCATOR = b"PK\x06\x07"
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<4sHHHHHHIIIHHHHHII")
_END_RECORD = struct.Struct("<4sHHHHIIH")
_MAX_COMMENT = 0xFFFF
# searched with re, which reads memory maps and memoryviews in place (no copy of the archive)
_LOCAL_SIGNATURE = re.compile(re.escape(_LOCAL))


@dataclass(frozen=True)
class _Entry:
    name: str
    method: int
    flags: int
    compressed_size: int
    header_offset: int
    source: str  # "central" or "local"


def _decode(raw: bytes, flags: int) -> str:
    return raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")


def _zip64(extra: bytes, sizes: list[int]) -> list[int]:
    """Replace the 0xFFFFFFFF fields (uncompressed, compressed, offset) from the zip64 extra."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 1:
            values = iter(struct.unpack_from(f"<{len(body) // 8}Q", body))
            return [next(values, v) if v == 0xFFFFFFFF else v for v in sizes]
        pos += 4 + length
    return sizes


def _central_entries(data: Buffer, most: int) -> list[_Entry]:
    """The central directory's entries; more than ``most`` is a :class:`_TooMany`."""
    size = len(data)
    tail_start = max(0, size - _END_RECORD.size - _MAX_COMMENT)
    tail = bytes(data[tail_start:])
    at = tail.rfind(_END)
    if at < 0 or at + _END_RECORD.size > len(tail):
        return []
    end = tail_start + at
    _, _, _, _, count, cd_size, cd_offset, _ = _END_RECORD.unpack_from(tail, at)
    shift = 0
    locator = bytes(data[max(0, end - 20) : end])
    if locator[:4] == _END64_LOCATOR:
        (end64,) = struct.unpack_from("<Q", locator, 8)
        record = bytes(data[end64 : end64 + 56])
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            count, cd_size, cd_offset = struct.unpack_from("<QQQ", record, 32)
    elif end - cd_size - cd_offset > 0:
        shift = end - cd_size - cd_offset  # data prepended to the archive (a self-extractor)
        cd_offset += shift
    entries: list[_Entry] = []
    pos = cd_offset
    for _ in range(min(count, size // _CENTRAL_HEADER.size)):
        fixed = bytes(data[pos : pos + _CENTRAL_HEADER.size])
        if len(fixed) < _CENTRAL_HEADER.size or fixed[:4] != _CENTRAL:
            break
        if len(entries) >= most:
            raise _TooMany
        fields = _CENTRAL_HEADER.unpack(fixed)
        flags, method = fields[3], fields[4]
        csize, usize, nlen, xlen, clen, offset = (
            fields[8], fields[9], fields[10], fields[11], fields[12], fields[16],
        )  # fmt: skip
        name_end = pos + _CENTRAL_HEADER.size + nlen
        raw_name = bytes(data[pos + _CENTRAL_HEADER.size : name_end])
        extra = bytes(data[name_end : name_end + xlen])
        usize, csize, offset = _zip64(extra, [usize, csize, offset])
        entries.append(
            _Entry(_decode(raw_name, flags), method, flags, csize, offset + shift, "central")
        )
        pos = name_end + xlen + clen
    return entries


class _TooMany(Exception):
    """More entries than the file may still hold (see ``MAX_MEMBERS``)."""


def _find_all(data: Buffer, start: int, end: int, most: int) -> Iterator[int]:
    """Offsets of every local header signature in ``data[start:end]``; more than ``most`` is a
    :class:`_TooMany` (a file of nothing but signatures must not become a list of millions)."""
    for count, found in enumerate(_LOCAL_SIGNATURE.finditer(data, start, end)):
        if count >= most:
            raise _TooMany
        yield found.start()


def _hidden_offsets(
    data: Buffer, entries: list[_Entry], has_directory: bool, most: int
) -> list[int]:
    """Local headers the central directory does not list.

    A reader that walks local headers one after the other (as streaming unzippers do) finds a
    member right after another's data (by the local or the central size, and after a data
    descriptor) or in a gap between members; one that reads the central directory finds only
    what it lists. So we follow every such chain, and search for signatures in every byte not
    inside a listed member: the whole file when there is no central directory. The inside of a
    listed member is its data, which no reader parses as headers (and searching it would cost a
    pass over every tensor of a checkpoint)."""
    size = len(data)
    if not has_directory:
        return list(_find_all(data, 0, size, most))
    known = {entry.header_offset for entry in entries}
    covered = []
    candidates = {0}
    for entry in entries:
        local = _read_local(data, entry.header_offset)
        if local is None:
            continue
        data_offset, local_size = local[4], local[3]
        end = data_offset + entry.compressed_size
        covered.append((entry.header_offset, end))
        candidates.update(_next_headers(data_offset + local_size, local[1]))
        candidates.update(_next_headers(end, local[1]))
    directory_start = min((o for o in (_find_directory(data),) if o is not None), default=size)
    covered.append((directory_start, size))
    covered.sort()
    pos = 0
    for start, end in covered:
        if start > pos:
            candidates.update(_find_all(data, pos, start, most - len(candidates)))
        pos = max(pos, end)
    found = []
    pending = sorted(candidates)
    seen: set[int] = set()
    while pending:
        offset = pending.pop()
        if offset in seen or offset in known or offset >= size:
            continue
        seen.add(offset)
        local = _read_local(data, offset)
        if local is None:
            continue
        found.append(offset)
        if len(found) > most:
            raise _TooMany
        pending.extend(_next_headers(local[4] + local[3], local[1]))
    return sorted(found)


def _next_headers(after: int, flags: int) -> tuple[int, ...]:
    """Where the next local header may start after a member's data ending at ``after``: right
    there, or after a data descriptor (12 to 24 bytes, with or without its signature) when
    flag bit 3 says there is one."""
    if flags & 0x8:
        return (after, after + 12, after + 16, after + 20, after + 24)
    return (after,)


def _find_directory(data: Buffer) -> int | None:
    """Where the central directory starts (its first entry's signature), if it has one."""
    tail_start = max(0, len(data) - _END_RECORD.size - _MAX_COMMENT)
    tail = bytes(data[tail_start:])
    at = tail.rfind(_END)
    if at < 0 or at + _END_RECORD.size > len(tail):
        return None
    end = tail_start + at
    cd_size, cd_offset = _END_RECORD.unpack_from(tail, at)[5:7]
    locator = bytes(data[max(0, end - 20) : end])
    if locator[:4] == _END64_LOCATOR:
        (end64,) = struct.unpack_from("<Q", locator, 8)
        record = bytes(data[end64 : end64 + 56])
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            cd_size, cd_offset = struct.unpack_from("<QQ", record, 40)
            return int(min(cd_offset, end64))
        return end - 20
    return int(end - cd_size)


def _read_local(data: Buffer, offset: int) -> tuple[str, int, int, int, int] | None:
    """(name, flags, method, compressed size, data offset) of the local header at
    ``offset``, or None where there is no plausible one."""
    fixed = bytes(data[offset : offset + _LOCAL_HEADER.size])
    if len(fixed) < _LOCAL_HEADER.size or fixed[:4] != _LOCAL:
        return None
    _, _, flags, method, _, _, _, csize, usize, nlen, xlen = _LOCAL_HEADER.unpack(fixed)
    start = offset + _LOCAL_HEADER.size
    raw_name = bytes(data[start : start + nlen])
    extra = bytes(data[start + nlen : start + nlen + xlen])
    usize, csize = _zip64(extra, [usize, csize])
    data_offset = start + nlen + xlen
    if data_offset > len(data):
        return None
    return _decode(raw_name, flags), flags, method, csize, data_offset


def _member_bytes(
    data: Buffer,
    entry: _Entry,
    data_offset: int,
    max_bytes: int,
    where: str,
    budget: ExpansionBudget,
    reads: ArchiveReads,
    headers: list[int],
) -> Buffer:
    if entry.method == 0:
        size = entry.compressed_size
        if entry.source == "local" and size in (0, 0xFFFFFFFF):
            # sizes in a data descriptor: a stored member then runs to the next header (of
            # ``headers``, sorted: searching the bytes again for each such member would cost
            # a pass to the next signature each, as far as the end of the file)
            size = headers[bisect.bisect_left(headers, data_offset)] - data_offset
        if data_offset + size > len(data):
            raise ContainerError(
                f"zip member {where!r} runs past the end of the archive", offset=data_offset
            )
        if size > max_bytes:
            raise LimitExceeded(
                f"zip member {where!r} is {size:,} bytes, past the limit "
                f"max_input_bytes={max_bytes:,}; if you trust this input, raise it: "
                "Policy(limits=Limits(max_input_bytes=...))",
                limit="max_input_bytes",
                maximum=max_bytes,
            )
        reads.add(size, where, "a stored zip member")
        return memoryview(data)[data_offset : data_offset + size]
    new = _DECOMPRESSORS.get(entry.method)
    if new is None:
        raise ContainerError(
            f"zip member {where!r} uses compression method {entry.method}, which safepickle "
            "cannot read (stored, deflate and bzip2 only)",
            offset=entry.header_offset,
        )
    # the compressed stream knows where it ends, so a member whose sizes are in a data
    # descriptor (or lie) is still read exactly; what it reads is counted in ``reads``
    return inflate(
        memoryview(data)[data_offset:],
        new,
        max_bytes,
        _METHOD_NAMES[entry.method],
        budget=budget,
        where=where,
        concatenated=False,
        reads=reads,
    )


_DECOMPRESSORS: dict[int, Callable[[], Any]] = {
    8: lambda: ZlibAdapter(zlib.decompressobj(-15)),
    12: bz2.BZ2Decompressor,
}
_METHOD_NAMES = {8: "deflate", 12: "bzip2"}


def open_zip(stream: ContainerStream) -> Iterator[Member] | None:
    """Every member of a zip archive, or None if the bytes are not one."""
    head = bytes(stream.data[:4])
    if head not in (_LOCAL, _END):
        return None
    return _members(stream)


def _members(stream: ContainerStream) -> Iterator[Member]:
    data = stream.data
    budget = stream.budget
    most = budget.members_left()
    try:
        entries = _central_entries(data, most)
        directory = _find_directory(data)
        has_directory = bool(entries) or directory is not None
        hidden = _hidden_offsets(data, entries, has_directory, most - len(entries))
    except _TooMany:
        raise budget.too_many_members(stream.name) from None
    for offset in hidden:
        local = _read_local(data, offset)
        if local is not None and (local[2] == 0 or local[2] in _DECOMPRESSORS):
            name, flags, method, csize, _ = local
            entries.append(_Entry(name, method, flags, csize, offset, "local"))
    # where each header, the central directory and the end of the archive start
    headers = {entry.header_offset for entry in entries} | set(hidden) | {len(data)}
    if directory is not None:
        headers.add(min(max(directory, 0), len(data)))
    sorted_headers = sorted(headers)
    if not entries:
        raise ContainerError("a zip archive with no readable member", offset=0)
    reads = ArchiveReads(budget, len(data))
    seen: set[int] = set()
    # A member that cannot be read does not stop the others from being scanned: the first
    # such problem is raised once every readable member was yielded.
    problems: list[ContainerError | LimitExceeded] = []
    for entry in entries:
        local = _read_local(data, entry.header_offset)
        if local is None:
            problems.append(
                ContainerError(
                    f"zip member {entry.name!r}: no local header at offset {entry.header_offset}",
                    offset=entry.header_offset,
                )
            )
            continue
        local_name, local_flags, _, _, data_offset = local
        if data_offset in seen:
            continue
        seen.add(data_offset)
        notes = []
        if entry.source == "local":
            notes.append("found by its local header; the central directory does not list it")
        elif local_name != entry.name:
            notes.append(f"its local header names it {local_name!r}")
        if (entry.flags | local_flags) & 0x1:
            notes.append("flagged as encrypted; read as plain data, as PyTorch does")
        where = f"{stream.name}!{entry.name}"
        try:
            content = _member_bytes(
                data, entry, data_offset, stream.max_bytes, where, budget, reads, sorted_headers
            )
        except LimitExceeded as exc:
            if exc.limit != "max_input_bytes":
                raise  # the file's budget is spent: no other member can be read either
            if not (entry.source == "local" and has_directory):
                problems.append(exc)
            continue
        except ContainerError as exc:
            if not (entry.source == "local" and has_directory):
                problems.append(exc)
            # else: bytes that only look like a local header, between members
            continue
        yield Member(entry.name, content, kind="data", format="zip", notes=tuple(notes))
    if not has_directory:
        # every member we found was scanned above; what a loader would find is unknown
        problems.append(
            ContainerError(
                "the zip archive has no central directory: it is truncated or damaged",
                offset=len(data),
            )
        )
    if problems:
        first = problems[0]
        if len(problems) > 1:
            first.message += f" (and {len(problems) - 1} more problem(s) in this archive)"
        raise first
