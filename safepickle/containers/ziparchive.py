"""Zip archives (PyTorch checkpoints, ``.npz``, anything zipped), read tolerantly.

Scanners have been fooled by archives that Python's :mod:`zipfile` refuses but the loader
(PyTorch's miniz reader) accepts: a local header whose name differs from the central
directory's, "encrypted" or other flag bits, bad CRCs, members missing from the central
directory. So this reader does not use :mod:`zipfile`: it takes every entry of the central
directory (as miniz does) *and* every local header found by walking the file, reads each
member's bytes from its local header, ignores flags and CRCs (noting them), and yields each
distinct member once. A member is never judged by its name: the scanner opens or scans each.
"""

from __future__ import annotations

import bz2
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import LimitExceeded
from . import Buffer, ContainerError, ContainerStream, Member
from .compressed import inflate

__all__ = ["open_zip"]

_LOCAL = b"PK\x03\x04"
_CENTRAL = b"PK\x01\x02"
_END = b"PK\x05\x06"
_END64_LOCATOR = b"PK\x06\x07"
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL_HEADER = struct.Struct("<4sHHHHHHIIIHHHHHII")
_END_RECORD = struct.Struct("<4sHHHHIIH")
_MAX_COMMENT = 0xFFFF


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


def _central_entries(data: Buffer) -> list[_Entry]:
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
    entries = []
    pos = cd_offset
    for _ in range(min(count, size // _CENTRAL_HEADER.size)):
        fixed = bytes(data[pos : pos + _CENTRAL_HEADER.size])
        if len(fixed) < _CENTRAL_HEADER.size or fixed[:4] != _CENTRAL:
            break
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


def _find_all(data: Buffer, start: int, end: int) -> Iterator[int]:
    """Offsets of every local header signature in ``data[start:end]``."""
    find = getattr(data, "find", None)
    if find is None:
        data = bytes(data)
        find = data.find
    pos = find(_LOCAL, start, end)
    while pos >= 0:
        yield pos
        pos = find(_LOCAL, pos + 4, end)


def _hidden_offsets(data: Buffer, entries: list[_Entry], has_directory: bool) -> list[int]:
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
        return list(_find_all(data, 0, size))
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
            candidates.update(_find_all(data, pos, start))
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


def _member_bytes(data: Buffer, entry: _Entry, data_offset: int, max_bytes: int) -> Buffer:
    if entry.method == 0:
        size = entry.compressed_size
        if entry.source == "local" and size in (0, 0xFFFFFFFF):
            # sizes in a data descriptor: a stored member then runs to the next header
            found = (_find(data, _LOCAL, data_offset), _find(data, _CENTRAL, data_offset))
            nxt = [at for at in found if at >= 0]
            size = (min(nxt) if nxt else len(data)) - data_offset
        if data_offset + size > len(data):
            raise ContainerError(
                f"zip member {entry.name!r} runs past the end of the archive", offset=data_offset
            )
        if size > max_bytes:
            raise LimitExceeded(
                f"zip member {entry.name!r} is {size:,} bytes, past the limit "
                f"max_input_bytes={max_bytes:,}",
                limit="max_input_bytes",
                maximum=max_bytes,
            )
        return memoryview(data)[data_offset : data_offset + size]
    if entry.method == 8:
        # deflate knows where it ends, so a member whose sizes are in a data descriptor (or
        # lie) is still read exactly; the compressed size only bounds the input
        return inflate(
            memoryview(data)[data_offset:], _RawDeflate, max_bytes, "deflate", concatenated=False
        )
    if entry.method == 12:
        return inflate(
            memoryview(data)[data_offset:],
            bz2.BZ2Decompressor,
            max_bytes,
            "bzip2",
            concatenated=False,
        )
    raise ContainerError(
        f"zip member {entry.name!r} uses compression method {entry.method}, which safepickle "
        "cannot read (stored, deflate and bzip2 only)",
        offset=entry.header_offset,
    )


def _find(data: Buffer, needle: bytes, start: int) -> int:
    find = getattr(data, "find", None)
    return int(find(needle, start)) if find is not None else bytes(data).find(needle, start)


class _RawDeflate:
    """A raw deflate stream (zip's method 8) behind the interface ``inflate`` expects."""

    def __init__(self) -> None:
        self._obj = zlib.decompressobj(-15)

    @property
    def eof(self) -> bool:
        return bool(self._obj.eof)

    @property
    def unused_data(self) -> bytes:
        return b""  # what follows a member is the next header, not more deflate data

    @property
    def needs_input(self) -> bool:
        return not self._obj.unconsumed_tail

    def decompress(self, data: bytes, max_length: int) -> bytes:
        result: bytes = self._obj.decompress(data or self._obj.unconsumed_tail, max_length)
        return result


def open_zip(stream: ContainerStream) -> Iterator[Member] | None:
    """Every member of a zip archive, or None if the bytes are not one."""
    head = bytes(stream.data[:4])
    if head not in (_LOCAL, _END):
        return None
    return _members(stream)


def _members(stream: ContainerStream) -> Iterator[Member]:
    data = stream.data
    entries = _central_entries(data)
    has_directory = bool(entries) or _find_directory(data) is not None
    for offset in _hidden_offsets(data, entries, has_directory):
        local = _read_local(data, offset)
        if local is not None and local[2] in (0, 8, 12):
            name, flags, method, csize, _ = local
            entries.append(_Entry(name, method, flags, csize, offset, "local"))
    if not entries:
        raise ContainerError("a zip archive with no readable member", offset=0)
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
        try:
            content = _member_bytes(data, entry, data_offset, stream.max_bytes)
        except (ContainerError, LimitExceeded) as exc:
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
