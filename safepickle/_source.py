"""Reading pickles from files: bounded, and leaving the file just past each pickle's STOP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

from .errors import LimitExceeded, MalformedPickle, TruncatedPickle
from .verify import Verified

__all__ = ["iter_stream", "read_one"]

_FIRST_CHUNK = 1 << 16
_READ_CHUNK = 1 << 20
Verifier = Callable[[bytearray, int], Verified]


def _seekable(file: Any) -> bool:
    try:
        return bool(file.seekable()) and isinstance(file.tell(), int)
    except Exception:
        return False


def read_one(file: IO[bytes], limit: int, verify: Verifier) -> tuple[bytearray, Verified]:
    """Read exactly one pickle from ``file``; the file is left just past its STOP.

    A seekable file is read in doubling chunks, never more than ``limit`` + 1 bytes, whatever a
    length prefix claims; the verifier tells when the pickle ends, and the file is sought back
    to that point. A pipe or socket cannot be sought, so it is read opcode by opcode.
    """
    if not _seekable(file):
        buf = _read_exact(file, limit)
        return buf, verify(buf, 0)
    origin = file.tell()
    for buf, verified in iter_stream(file, limit, verify, single=True):
        if len(buf) != verified.end:
            file.seek(origin + verified.end)
        return buf, verified
    raise TruncatedPickle("no pickle data: the file is at its end", offset=0)


def iter_stream(
    file: IO[bytes], limit: int, verify: Verifier, *, single: bool = False
) -> Iterator[tuple[bytearray, Verified]]:
    """Yield (buffer, verified) for each pickle in ``file``, one after the other.

    The buffer holds the pickle at ``verified.start:verified.end`` (and possibly more).
    """
    buf = bytearray()
    start = 0
    want = _FIRST_CHUNK
    eof = False
    while True:
        if start == len(buf) and eof:
            return
        try:
            if start == len(buf):
                raise TruncatedPickle("", offset=start)
            verified = verify(buf, start)
        except TruncatedPickle:
            held = len(buf) - start
            if eof or held > limit:
                if held == 0:
                    return
                raise
            if start:  # drop what earlier pickles used before growing the buffer
                del buf[:start]
                start = 0
            room = limit + 1 - len(buf)
            chunk = file.read(min(max(want, len(buf)), room))
            if not chunk:
                eof = True
            else:
                buf += chunk
                want = len(buf)
            continue
        yield buf, verified
        if single:
            return
        start = verified.end


# --- pipes and sockets: read exactly to STOP, one opcode at a time ----------------------------
# For each opcode byte: fixed argument size, or (prefix size, signed) for a length prefix, or
# the number of newline-terminated lines.
_FIXED: dict[int, int] = {}
_PREFIXED: dict[int, tuple[int, bool]] = {}
_LINES: dict[int, int] = {}
for _ops, _size in ((b"(.0123N]}a)b\x85\x86\x87\x88\x89\x8f\x90\x91\x92\x93\x94\x97\x98"
                     b"RdeltosuoQ\x81", 0), (b"Khq\x80\x82", 1), (b"M\x83", 2),
                    (b"Jjr\x84", 4), (b"G\x95", 8)):  # fmt: skip
    for _op in _ops:
        _FIXED[_op] = _size
for _ops, _prefix in (
    (b"UC\x8a\x8c", (1, False)), (b"XB", (4, False)), (b"T\x8b", (4, True)),
    (b"\x8d\x8e\x96", (8, False)),
):  # fmt: skip
    for _op in _ops:
        _PREFIXED[_op] = _prefix
for _op in b"FILSVPgp":
    _LINES[_op] = 1
for _op in b"ci":
    _LINES[_op] = 2


def _read_exact(file: IO[bytes], limit: int) -> bytearray:
    buf = bytearray()

    def take(count: int) -> bytes:
        if len(buf) + count > limit:
            raise LimitExceeded(
                f"the pickle's size exceeds the limit max_input_bytes={limit:,}; if you trust "
                "this input, raise it: Policy(limits=Limits(max_input_bytes=...))",
                limit="max_input_bytes",
                maximum=limit,
                offset=len(buf),
            )
        # Never ask for more than a chunk at once: a file object allocates what is asked for,
        # and a length prefix in a pipe may claim gigabytes the stream does not have.
        data = file.read(min(count, _READ_CHUNK)) if count else b""
        while len(data) < count:
            more = file.read(min(count - len(data), _READ_CHUNK))
            if not more:
                if not buf and not data:
                    raise TruncatedPickle("no pickle data: the input is empty", offset=0)
                raise TruncatedPickle(
                    f"pickle data was truncated at offset {len(buf) + len(data)}",
                    offset=len(buf) + len(data),
                )
            data += more
        buf.extend(data)
        return data

    while True:
        op = take(1)[0]
        if op == 0x2E:  # STOP
            return buf
        if op in _FIXED:
            take(_FIXED[op])
        elif op in _PREFIXED:
            size, signed = _PREFIXED[op]
            length = int.from_bytes(take(size), "little", signed=signed)
            if length < 0:
                return buf  # the verifier reports the negative length
            take(length)
        elif op in _LINES:
            for _ in range(_LINES[op]):
                while take(1) != b"\n":
                    pass
        else:
            raise MalformedPickle(
                f"invalid opcode byte 0x{op:02x} (at offset {len(buf) - 1})", offset=len(buf) - 1
            )
