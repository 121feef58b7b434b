"""The JSON Lines audit sink: one hash-chained ECS document per line, appended safely by any
number of threads and processes.

Each append, under an exclusive ``flock`` on the file:

1. reads the file's last line (a ``pread`` of its tail) to learn the previous record's hash and
   sequence: re-read every time, so other writers never have to be trusted or tracked;
2. fills the record's chain fields (:mod:`safepickle.audit.chain`);
3. writes the whole line with one ``os.write`` on an ``O_APPEND`` descriptor (optionally
   followed by ``fsync``).

The lock makes every record see its predecessor; the single write means readers such as a log
shipper never see half a line unless the process died inside the write. A crash can therefore
lose only the record being written, which is left without its ``\\n``: the next writer ends that
line before its own (so nothing is written into it) and chains to its bytes, and
``safepickle audit verify`` reports it as a truncated or malformed record.

POSIX only (``fcntl.flock``). Locks are per open file description, which a forked child shares
with its parent, so a child drops the descriptors it inherited and opens its own.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import PolicyError
from ..hookspecs import hookimpl
from . import chain
from .event import to_json

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from ..context import LoadEvent

__all__ = ["JsonlSink", "encode"]

_TAIL = 4096
#: how often (seconds) a writer checks that its path still names the file it has open. A
#: record appended to a file just renamed by log rotation is chained correctly there, so the
#: check need not run on every append (a stat per load); a deleted file is noticed at once.
RECHECK_SECONDS = 1.0
# ASCII only (no encoding question for any reader), compact, and strict JSON (no NaN).
_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def encode(record: Mapping[str, Any]) -> bytes:
    """``record`` as one ASCII JSON document with the chain placeholders in it."""
    document = dict(record)
    # dict order puts sequence and hash last in ``event`` and the chain last in ``safepickle``
    document["event"] = {**record.get("event", {}), "sequence": 0, "hash": chain.GENESIS}
    document["safepickle"] = {**record.get("safepickle", {}), "chain": {"prev": chain.GENESIS}}
    return _encoder.encode(document).encode("ascii")


class JsonlSink:
    """Append every audit event to the JSON Lines file ``path`` as a hash-chained ECS document.

    ``Policy(audit="audit.jsonl")`` makes one; build it yourself for ``fsync=True`` (every
    record on disk before the load returns, at the cost of a disk flush per load). A relative
    path is made absolute now, so a later ``chdir`` does not move the log. The file is created
    (mode 0o600 before the umask) on the first event; failing to write it fails the load, so
    nothing is loaded unaudited.

    .. versionadded:: 0.1
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            raise PolicyError("the JSON Lines audit sink needs fcntl.flock (a POSIX system)")
        self.path = os.path.abspath(os.fspath(path))
        self.fsync = fsync

    @property
    def name(self) -> str:
        """The plugin name this sink is registered under."""
        return f"audit-jsonl:{self.path}"

    def __repr__(self) -> str:
        return f"JsonlSink({self.path!r}, fsync={self.fsync!r})"

    @hookimpl
    def safepickle_audit(self, event: LoadEvent) -> None:
        body = to_json(event, chain=True).encode("ascii")
        _appender(self.path).append(body, self.fsync)

    def write(self, record: Mapping[str, Any]) -> bytes:
        """Append one ECS document (a scanner's, say); returns the line as written."""
        return _appender(self.path).append(encode(record), self.fsync)


class _Appender:
    """This process's descriptor for one file, and the lock its threads take around appends
    (``flock`` does not exclude threads sharing one descriptor)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.fd = -1
        self.ident: tuple[int, int] = (-1, -1)
        self.checked = 0.0

    def _descriptor(self, stale: bool) -> int:
        """The open descriptor; reopened when it is ``stale`` (its file was deleted) or, when
        last checked over RECHECK_SECONDS ago, the path names another file (log rotation)."""
        now = time.monotonic()
        if not stale and self.fd >= 0 and now - self.checked < RECHECK_SECONDS:
            return self.fd
        self.checked = now
        try:
            st = os.stat(self.path)
            current: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            current = None
        if stale or self.fd < 0 or current != self.ident:
            self.forget()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            st = os.fstat(fd)
            self.fd, self.ident = fd, (st.st_dev, st.st_ino)
        return self.fd

    def append(self, body: bytes, fsync: bool) -> bytes:
        with self.lock:
            stale = False
            while True:
                fd = self._descriptor(stale)
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    st = os.fstat(fd)
                    if st.st_nlink == 0:  # deleted: what we wrote would be lost
                        stale = True
                        continue
                    lead, prev, sequence = _tail(fd, st.st_size)
                    line = chain.seal(body, prev, sequence)
                    _write_all(fd, lead + line)
                    if fsync:
                        os.fsync(fd)
                    return line
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def forget(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _tail(fd: int, size: int) -> tuple[bytes, str, int]:
    """(bytes to write first, prev, sequence) for the record appended next to a file of
    ``size`` bytes."""
    if size == 0:
        return b"", chain.GENESIS, 1
    block = _TAIL
    while True:
        start = max(0, size - block)
        data = os.pread(fd, size - start, start)
        complete = data.endswith(b"\n")
        end = len(data) - 1 if complete else len(data)
        newline = data.rfind(b"\n", 0, end)
        if newline >= 0 or start == 0:
            break
        block *= 4  # a long last line: read further back
    last = data[newline + 1 : end]
    found = chain.SEQUENCE.search(last)
    sequence = int(found.group(1)) if found else _last_sequence(fd, size)
    # A last line without its newline was torn by a crash: end it, so the new record starts on
    # a line of its own; the chain runs through the torn bytes and verify reports them.
    return (b"" if complete else b"\n"), chain.line_digest(last), sequence + 1


def _last_sequence(fd: int, size: int) -> int:
    """The last sequence number anywhere in the file (0 when there is none): the slow path
    for a last line that is not a whole record."""
    position = size
    overlap = b""
    while position > 0:
        start = max(0, position - (1 << 20))
        data = os.pread(fd, position - start, start) + overlap
        matches = list(chain.SEQUENCE.finditer(data))
        if matches:
            return int(matches[-1].group(1))
        overlap = data[:64]  # a match may straddle two blocks
        position = start
    return 0


def _write_all(fd: int, data: bytes) -> None:
    # One write for a regular file in practice; a short write (a full disk) is completed while
    # the lock is still held, or raises, leaving a torn line the next writer ends.
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


_APPENDERS: dict[str, _Appender] = {}
_APPENDERS_LOCK = threading.Lock()


def _appender(path: str) -> _Appender:
    appender = _APPENDERS.get(path)
    if appender is None:
        with _APPENDERS_LOCK:
            appender = _APPENDERS.setdefault(path, _Appender(path))
    return appender


def _after_fork_in_child() -> None:
    # The inherited descriptors share their open file descriptions (and so their flock) with
    # the parent; a lock held by a parent thread at fork time would never be released here.
    global _APPENDERS_LOCK
    for appender in _APPENDERS.values():
        appender.forget()
    _APPENDERS.clear()
    _APPENDERS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
