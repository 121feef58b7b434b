"""Reading pickles from files: bounded, and leaving the file just past each pickle's STOP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ._json import DocumentEnd, is_json_start
from .errors import LimitExceeded, MalformedPickle, TruncatedPickle
from .verify import Verified

__all__ = ["ReadableFile", "WritableFile", "iter_stream", "read_one"]


class ReadableFile(Protocol):
    """What ``load`` reads from, as with :func:`pickle.load`: anything with ``read(n)``
    (``readline``, ``seek`` and ``tell`` are used when present)."""

    def read(self, n: int, /) -> bytes: ...


class WritableFile(Protocol):
    """What ``dump`` writes to: anything with ``write(bytes)``."""

    def write(self, data: bytes, /) -> Any: ...


#: what ``load_all`` reads first (the buffer then grows as the stream needs)
_FIRST_CHUNK = 1 << 16
#: what one ``load`` reads first from a file it seeks back in: each load costs what its own
#: pickle needs, not a fixed chunk (a file of many tiny pickles read by a loop of loads)
_FIRST_CHUNK_OF_ONE = 64
_READ_CHUNK = 1 << 20
#: verify(buffer, start, eof): the stream (pickle or JSON) at ``buffer[start:]``; ``eof`` says
#: whether the buffer holds everything that is left (a JSON number may go on otherwise)
Verifier = Callable[[bytearray, int, bool], Verified]
_WHITESPACE = b" \t\r\n"


def only_whitespace(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` (what is left of a file after its last stream) is blank: the end, for
    ``load_all`` and the scanner alike (JSON documents and pickles alike)."""
    return not bytes(data).strip(_WHITESPACE)


def _seekable(file: Any) -> bool:
    try:
        return bool(file.seekable()) and isinstance(file.tell(), int)
    except Exception:
        return False


def read_one(file: ReadableFile, limit: int, verify: Verifier) -> tuple[bytearray, Verified]:
    """Read exactly one pickle from ``file``; the file is left just past its STOP.

    A seekable file is read in doubling chunks, never more than ``limit`` + 1 bytes, whatever a
    length prefix claims; the verifier tells when the pickle ends, and the file is sought back
    to that point. A pipe or socket cannot be sought, so it is read opcode by opcode.
    """
    if not _seekable(file):
        return _read_pipe(file, limit, verify)
    seekable: Any = file
    origin = seekable.tell()
    stream = iter_stream(file, limit, verify, single=True, first_chunk=_FIRST_CHUNK_OF_ONE)
    for buf, verified in stream:
        if len(buf) != verified.end:
            seekable.seek(origin + verified.end)
        return buf, verified
    raise TruncatedPickle("no pickle data: the file is at its end", offset=0)


def iter_stream(
    file: ReadableFile,
    limit: int,
    verify: Verifier,
    *,
    single: bool = False,
    first_chunk: int = _FIRST_CHUNK,
) -> Iterator[tuple[bytearray, Verified]]:
    """Yield (buffer, verified) for each pickle in ``file``, one after the other.

    The buffer holds the pickle at ``verified.start:verified.end`` (and possibly more).
    """
    buf = bytearray()
    start = 0
    eof = False
    while True:
        if start == len(buf) and eof:
            return
        try:
            if start == len(buf):
                raise TruncatedPickle("", offset=start)
            verified = verify(buf, start, eof)
        except TruncatedPickle:
            held = len(buf) - start
            if eof or held > limit:
                if held == 0 or (eof and only_whitespace(buf[start:])):
                    return  # the end (whitespace after the last JSON document included)
                raise
            if start:  # drop what earlier pickles used before growing the buffer
                del buf[:start]
                start = 0
            # Verifying again costs what the buffer holds, so read until it holds twice as
            # much (or the end): then the verifications of one stream add up to a few times
            # its size, however little each read returns (a pipe, a socket, a raw file).
            eof = _fill(file, buf, min(max(2 * held, first_chunk), limit + 1))
            continue
        yield buf, verified
        if single:
            return
        start = verified.end


def _fill(file: ReadableFile, buf: bytearray, size: int) -> bool:
    """Read until ``buf`` holds ``size`` bytes; True if the file ended first."""
    while len(buf) < size:
        chunk = file.read(min(size - len(buf), _READ_CHUNK))
        if not chunk:
            return True
        buf += chunk
    return False


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


def _read_pipe(file: ReadableFile, limit: int, verify: Verifier) -> tuple[bytearray, Verified]:
    first = file.read(1)
    if not first:
        raise TruncatedPickle("no pickle data: the input is empty", offset=0)
    if is_json_start(first[0]):
        return _read_json(file, bytearray(first), limit, verify)
    buf = _read_exact(file, limit, first[0])
    return buf, verify(buf, 0, True)


def _read_json(
    file: ReadableFile, buf: bytearray, limit: int, verify: Verifier
) -> tuple[bytearray, Verified]:
    """A JSON document from a pipe, line by line: ``dump`` ends each document with a newline
    and JSON strings cannot hold one, so a document never ends inside a line. It is decoded
    once :class:`DocumentEnd` sees it complete, not after every line."""
    read_line = _line_reader(file)
    document_end = DocumentEnd()
    tried = 0  # the buffer's size when the decoder last found the document incomplete
    while True:
        end = document_end.feed(buf)
        # the decoder needs a byte after the document to know that it does not go on; should
        # it disagree with DocumentEnd, it is asked again only once the buffer has doubled
        if end is not None and end < len(buf) and len(buf) >= 2 * tried:
            try:
                verified = verify(buf, 0, False)
            except TruncatedPickle:
                tried = len(buf)
            else:
                if buf[verified.end :].strip(_WHITESPACE):
                    raise MalformedPickle(
                        "several JSON documents on one line cannot be read from a pipe one at "
                        "a time; write one document per line (safepickle.dump does)",
                        offset=verified.end,
                    )
                return buf, verified
        room = min(limit + 1 - len(buf), _READ_CHUNK)
        if room <= 0:
            return buf, verify(buf, 0, True)  # raises the size limit
        line = read_line(room)
        if not line:
            return buf, verify(buf, 0, True)
        buf += line


def _line_reader(file: ReadableFile) -> Callable[[int], bytes]:
    """``read_line(room)``: the next line, at most ``room`` bytes of it: ``readline(room)``
    where the file has one that takes a size, else one byte at a time. Never a readline
    without a size (pickle's own calls): a line of a hostile stream may be as long as it likes.
    """
    readline = getattr(file, "readline", None)

    def read_line(room: int) -> bytes:
        nonlocal readline
        if readline is not None:
            try:
                line: bytes = readline(room)
            except TypeError:  # readline() takes no size
                readline = None
            else:
                return line
        return _read_line(file, room)

    return read_line


def _read_line(file: ReadableFile, room: int) -> bytes:
    line = bytearray()
    while len(line) < room:
        byte = file.read(1)
        if not byte:
            break
        line += byte
        if byte == b"\n":
            break
    return bytes(line)


def _too_long(limit: int, offset: int) -> LimitExceeded:
    return LimitExceeded(
        f"the pickle's size exceeds the limit max_input_bytes={limit:,}; if you trust this "
        "input, raise it: Policy(limits=Limits(max_input_bytes=...))",
        limit="max_input_bytes",
        maximum=limit,
        offset=offset,
    )


def _read_exact(file: ReadableFile, limit: int, first: int) -> bytearray:
    """The pickle that starts with opcode ``first``, read to its STOP and not one byte
    further. Every byte is appended to one buffer once (never a bytes object grown by
    concatenation), and a protocol-0 line is read with ``readline`` where the file has one."""
    buf = bytearray((first,))
    read_line = _line_reader(file)

    def take(count: int) -> int:
        """Read ``count`` more bytes into ``buf``; where they start in it."""
        begin = len(buf)
        if begin + count > limit:
            raise _too_long(limit, begin)
        end = begin + count
        while len(buf) < end:
            # Never ask for more than a chunk at once: a file object allocates what is asked
            # for, and a length prefix in a pipe may claim gigabytes the stream does not have.
            more = file.read(min(end - len(buf), _READ_CHUNK))
            if not more:
                raise TruncatedPickle(
                    f"pickle data was truncated at offset {len(buf)}", offset=len(buf)
                )
            buf.extend(more)
        return begin

    def take_line() -> None:
        while True:
            room = min(limit - len(buf), _READ_CHUNK)
            if room <= 0:
                raise _too_long(limit, len(buf))
            line = read_line(room)
            if not line:
                raise TruncatedPickle(
                    f"pickle data was truncated at offset {len(buf)}", offset=len(buf)
                )
            buf.extend(line)
            if line[-1] == 0x0A:
                return

    op = first
    while True:
        if op == 0x2E:  # STOP
            return buf
        if op in _FIXED:
            take(_FIXED[op])
        elif op in _PREFIXED:
            size, signed = _PREFIXED[op]
            at = take(size)
            length = int.from_bytes(buf[at : at + size], "little", signed=signed)
            if length < 0:
                return buf  # the verifier reports the negative length
            take(length)
        elif op in _LINES:
            for _ in range(_LINES[op]):
                take_line()
        else:
            raise MalformedPickle(
                f"invalid opcode byte 0x{op:02x} (at offset {len(buf) - 1})", offset=len(buf) - 1
            )
        op = buf[take(1)]
