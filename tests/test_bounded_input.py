"""Hostile shapes of input: reading is linear in the input on every path, and decompression is
bounded by the policy's expansion limits.

Work is measured by counting, never by the clock: a fixture counts the bytes handed to the
pickle verifier and to the JSON decoder, and fails the test as soon as they pass a small
multiple of the input (so a quadratic reader fails quickly instead of running for hours).
Memory is measured with tracemalloc.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import json
import lzma
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import lz4.frame
import numpy as np
import pytest

import safepickle
import safepickle._json
import safepickle.containers
import safepickle.verify
from safepickle import Limits, MalformedPickle, Policy, TruncatedPickle
from safepickle.scan import Scanner


# --- counting work ------------------------------------------------------------------------------
class TooMuchWork(AssertionError):
    """The code under test examined more bytes than the test allows."""


@dataclass
class Work:
    """Bytes examined by the pickle verifier and the JSON decoder; past ``allowed`` the next
    call fails the test."""

    allowed: int = 1 << 62
    examined: int = 0
    calls: int = 0
    #: the compiled pass gave up on the last stream: the Python pass examines it again
    bailed: bool = False

    def add(self, count: int) -> None:
        self.calls += 1
        self.examined += count
        if self.examined > self.allowed:
            raise TooMuchWork(f"{self.examined:,} bytes examined in {self.calls:,} calls")

    def allow(self, factor: int, size: int) -> None:
        """From now on, allow ``factor`` times ``size`` bytes (plus a little per stream)."""
        self.examined = self.calls = 0
        self.allowed = factor * size + (1 << 16)


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Work:
    """Counts what the verifier examines (to the STOP it finds, the error it raises, or the end
    of the data when the pickle runs past it; twice when the compiled pass gives up and the
    Python pass starts again) and what the JSON decoder is handed (the whole range)."""
    counter = Work()
    verify_module = safepickle.verify
    fast_path, python_pass = verify_module._fast_path, verify_module._run
    json_scan = safepickle._json._scan

    compiled = verify_module.IMPLEMENTATION == "c"  # else the "fast path" only defers

    def counted_fast_path(data: Any, start: int, stop: int, state: Any) -> Any:
        found = fast_path(data, start, stop, state)
        if found is None:
            counter.bailed = compiled  # counted by the Python pass, which runs next
        else:
            counter.add((stop if found is False else found[0]) - start)
        return found

    def counted_python_pass(data: Any, start: int, stop: int, state: Any) -> Any:
        passes = 2 if counter.bailed else 1
        counter.bailed = False
        try:
            found = python_pass(data, start, stop, state)
        except Exception as exc:
            offset = getattr(exc, "offset", None)
            counter.add(passes * ((stop if offset is None else min(offset + 1, stop)) - start))
            raise
        counter.add(passes * (found[0] - start))
        return found

    def counted_json_scan(data: Any, start: int, stop: int, *args: Any, **kwargs: Any) -> Any:
        counter.add(stop - start)
        return json_scan(data, start, stop, *args, **kwargs)

    monkeypatch.setattr(verify_module, "_fast_path", counted_fast_path)
    monkeypatch.setattr(verify_module, "_run", counted_python_pass)
    monkeypatch.setattr(safepickle._json, "_scan", counted_json_scan)
    return counter


# --- sources: real pipes and sockets, written in awkward pieces by a thread ----------------------
def _pieces(data: bytes, sizes: tuple[int, ...]) -> Iterator[bytes]:
    pos = 0
    index = 0
    while pos < len(data):
        size = sizes[index % len(sizes)]
        yield data[pos : pos + size]
        pos += size
        index += 1


def _writer(
    write: Callable[[bytes], Any], close: Callable[[], Any], data: bytes, sizes: Any
) -> Any:
    def run() -> None:
        try:
            for piece in _pieces(data, sizes):
                write(piece)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the reader gave up (a failing test): stop writing
        finally:
            close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


SOURCES = ["pipe", "raw-pipe", "read-only", "socket"]


class ReadOnly:
    """An unseekable file with ``read`` and nothing else: no ``readline``, no ``peek``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, size: int) -> bytes:
        data: bytes = self._inner.read(size)
        return data


@dataclass
class Source:
    file: Any
    close: Callable[[], None]


def open_source(kind: str, data: bytes, sizes: tuple[int, ...] = (4093, 1, 7, 65537)) -> Source:
    """``data`` arriving through a real pipe or socket, written in pieces of ``sizes``."""
    if kind == "socket":
        reading, writing = socket.socketpair()
        thread = _writer(writing.sendall, writing.close, data, sizes)
        file = reading.makefile("rb")

        def close_socket() -> None:
            file.close()
            reading.close()
            thread.join()

        return Source(file, close_socket)
    read_fd, write_fd = os.pipe()
    thread = _writer(
        lambda piece: os.write(write_fd, piece), lambda: os.close(write_fd), data, sizes
    )
    raw = open(read_fd, "rb", buffering=0 if kind == "raw-pipe" else -1)  # noqa: SIM115
    file = ReadOnly(raw) if kind == "read-only" else raw

    def close_pipe() -> None:
        raw.close()
        thread.join()

    return Source(file, close_pipe)


def load_through(
    kind: str,
    data: bytes,
    count: int = 1,
    policy: safepickle.Policy | None = None,
    **kwargs: Any,
) -> list[Any]:
    """``count`` loads, one after the other, from ``data`` arriving through ``kind``."""
    source = open_source(kind, data, **kwargs)
    try:
        return [safepickle.load(source.file, policy=policy) for _ in range(count)]
    finally:
        source.close()


def load_all_through(kind: str, data: bytes, **kwargs: Any) -> list[Any]:
    source = open_source(kind, data, **kwargs)
    try:
        return list(safepickle.load_all(source.file))
    finally:
        source.close()


def pretty_document(size: int) -> tuple[Any, bytes]:
    """A pretty-printed JSON document of about ``size`` bytes: many short lines, strings with
    escapes and brackets in them, nested lists and objects."""
    records = [
        {"id": i, "name": f'item "{i}" [x]\\', "tags": ["a", "b", {"deep": [i, None, True]}]}
        for i in range(max(1, size // 190))
    ]
    return records, json.dumps(records, indent=2).encode() + b"\n"


# --- A. reading is linear ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", SOURCES)
def test_a_pretty_json_document_from_a_pipe_is_decoded_once(kind: str, work: Work) -> None:
    """2 MB over 60,000 lines: decoding again after each line would examine ~60 GB."""
    value, data = pretty_document(2 << 20)
    work.allow(4, len(data))
    assert load_through(kind, data) == [value]
    assert work.calls <= 30


def test_a_json_document_written_one_byte_at_a_time(work: Work) -> None:
    value, data = pretty_document(200_000)
    work.allow(4, len(data))
    assert load_through("pipe", data, sizes=(1,)) == [value]
    assert load_through("raw-pipe", data, sizes=(1,)) == [value]


def test_a_ten_megabyte_json_document_from_a_socket(work: Work) -> None:
    value, data = pretty_document(10 << 20)
    work.allow(4, len(data))
    assert load_through("socket", data, sizes=(65521, 3, 1021)) == [value]


def test_json_documents_on_one_line_each_still_stop_at_their_line(work: Work) -> None:
    """A pipe is never read past the document: the next load gets the next one."""
    values = [{"n": i, "s": "x" * (i % 50)} for i in range(3000)]
    data = b"".join(safepickle.dumps(value) + b"\n" for value in values)
    work.allow(4, len(data))
    assert load_through("pipe", data, count=len(values)) == values


@pytest.mark.parametrize(
    "data",
    [b"12345", b"12345\n", b'"a \\" string"\n', b'[1, [2, {"]": "["}]]\n', b"\xef\xbb\xbf[1]\n"],
)
def test_document_ends_found_incrementally(data: bytes) -> None:
    for kind in ("pipe", "read-only"):
        assert load_through(kind, data, sizes=(1,)) == [json.loads(data.decode("utf-8-sig"))]


def test_malformed_json_from_a_pipe_is_refused_not_waited_for() -> None:
    # the writer keeps the pipe open: a reader waiting for more would hang
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b'{"a": 1]\n')
    try:
        with open(read_fd, "rb") as pipe, pytest.raises(MalformedPickle):
            safepickle.load(pipe)
    finally:
        os.close(write_fd)


def test_a_complete_document_is_returned_while_the_pipe_stays_open() -> None:
    """An interactive peer: the document is loaded as soon as its line is there."""
    read_fd, write_fd = os.pipe()
    value, data = pretty_document(20_000)
    os.write(write_fd, data)
    try:
        with open(read_fd, "rb") as pipe:
            assert safepickle.load(pipe) == value
    finally:
        os.close(write_fd)


def test_many_small_pretty_documents_with_load_all(work: Work) -> None:
    """Each document is decoded in a window around it, not to the end of the buffer; a large
    document first makes the buffer large."""
    big_value, big = pretty_document(1 << 20)
    smalls = [{"i": i, "v": [i]} for i in range(20_000)]
    data = big + b"".join(json.dumps(value, indent=1).encode() + b"\n" for value in smalls)
    work.allow(8, len(data))
    assert list(safepickle.load_all(io.BytesIO(data))) == [big_value, *smalls]
    work.allow(8, len(data))
    assert load_all_through("raw-pipe", data, sizes=(999,)) == [big_value, *smalls]


def test_many_documents_on_one_line_with_load_all(work: Work) -> None:
    data = b" ".join(b"[%d]" % i for i in range(100_000)) + b"\n"
    work.allow(8, len(data))
    assert list(safepickle.load_all(io.BytesIO(data))) == [[i] for i in range(100_000)]


@pytest.mark.parametrize("kind", SOURCES)
def test_a_long_protocol_0_pickle_from_a_pipe(kind: str, work: Work) -> None:
    """Every line of a protocol-0 pickle is read to its newline; nothing is verified twice.
    (Only the Python pass reads protocol 0, by default for the first 512 KiB of a stream: this one
    is 2 MB.)"""
    value = [f"line {i}" for i in range(100_000)] + list(range(50_000))
    data = pickle.dumps(value, protocol=0)
    work.allow(2, len(data))
    policy = safepickle.Policy(limits=safepickle.Limits(max_slow_path_bytes=len(data)))
    assert load_through(kind, data + pickle.dumps("next", protocol=0), 2, policy) == [
        value,
        "next",
    ]


@pytest.mark.parametrize("kind", SOURCES)
def test_a_pickle_of_many_small_frames_from_a_pipe(
    kind: str, work: Work, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pickle._Framer, "_FRAME_SIZE_TARGET", 16)  # type: ignore[attr-defined]
    value = [(i, str(i)) for i in range(50_000)]
    data = pickle._dumps(value, protocol=4)  # type: ignore[attr-defined]
    assert data.count(b"\x95") > 10_000  # FRAME
    work.allow(2, len(data))
    assert load_through(kind, data) == [value]
    work.allow(4, 3 * len(data))
    assert load_all_through(kind, data * 3) == [value] * 3


class ReadlineWithoutSize:
    """An unseekable file whose ``readline()`` takes no size: enough for ``pickle.load``."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, size: int) -> bytes:
        return self._inner.read(size)

    def readline(self) -> bytes:
        return self._inner.readline()


def test_a_readline_without_a_size_is_never_called_unbounded() -> None:
    value = ["line"] * 1000
    _, document = pretty_document(5000)
    stream = pickle.dumps(value, protocol=0) + document
    file = ReadlineWithoutSize(stream)
    assert safepickle.load(file) == value  # type: ignore[arg-type]
    assert safepickle.load(file) == json.loads(document)  # type: ignore[arg-type]
    small = Policy(limits=Limits(max_input_bytes=1000))
    with pytest.raises(safepickle.LimitExceeded):  # one line longer than the limit
        safepickle.load(ReadlineWithoutSize(b"S'" + b"x" * 5000 + b"'\n."), policy=small)  # type: ignore[arg-type]


class ShortReads(io.RawIOBase):
    """An unseekable file whose every read returns at most ``most`` bytes (a slow pipe)."""

    def __init__(self, data: bytes, most: int) -> None:
        self._inner = io.BytesIO(data)
        self._most = most

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as view:
            return self._inner.readinto(view[: self._most])


def test_a_large_pickle_read_in_short_pieces_is_verified_a_few_times(work: Work) -> None:
    value = [list(range(40)) for _ in range(20_000)]
    data = pickle.dumps(value, protocol=4)
    work.allow(4, len(data))
    assert list(safepickle.load_all(ShortReads(data, 1000))) == [value]  # type: ignore[arg-type]
    work.allow(4, len(data))
    assert load_all_through("raw-pipe", data, sizes=(1000,)) == [value]
    work.allow(4, len(data))
    assert load_all_through("socket", data, sizes=(1000,)) == [value]


class ConcatenationCounter(bytes):
    """Bytes that count what concatenating them copies: a long argument read in short pieces
    must be copied once into the buffer, never grown piece by piece as a bytes object."""

    copied = 0

    def __add__(self, other: Any) -> bytes:
        ConcatenationCounter.copied += len(self) + len(other)
        return ConcatenationCounter(bytes(self) + bytes(other))

    def __radd__(self, other: Any) -> bytes:
        ConcatenationCounter.copied += len(self) + len(other)
        return ConcatenationCounter(bytes(other) + bytes(self))


class CountingPieces:
    def __init__(self, data: bytes, most: int) -> None:
        self._inner = io.BytesIO(data)
        self._most = most

    def read(self, size: int) -> bytes:
        return ConcatenationCounter(self._inner.read(min(size, self._most)))


def test_a_long_argument_from_a_pipe_is_not_concatenated_piece_by_piece() -> None:
    value = b"z" * (4 << 20)
    data = pickle.dumps(value, protocol=4)
    ConcatenationCounter.copied = 0
    assert safepickle.load(CountingPieces(data, 512)) == value  # type: ignore[arg-type]
    assert ConcatenationCounter.copied <= 2 * len(data)


@pytest.mark.parametrize("kind", ["bytes", *SOURCES])
def test_many_tiny_pickles_with_load_all(kind: str, work: Work) -> None:
    values = list(range(30_000))
    data = b"".join(pickle.dumps(value, protocol=value % 6) for value in values)
    work.allow(4, len(data))
    if kind == "bytes":
        assert list(safepickle.load_all(io.BytesIO(data))) == values
    else:
        assert load_all_through(kind, data, sizes=(1, 4093, 7)) == values


class CountingFile(io.RawIOBase):
    """A seekable file that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._inner.readinto(buffer)
        self.bytes_read += count
        return count

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()


def test_a_loop_of_loads_reads_what_each_pickle_needs(work: Work) -> None:
    """``while True: load(f)`` over a file of many tiny pickles and documents: each load reads
    a little more than its own pickle and seeks back, not a fixed 64 KB chunk."""
    values = list(range(20_000))
    data = b"".join(
        pickle.dumps(v, protocol=v % 6) if v % 2 else json.dumps(v).encode() + b"\n"
        for v in values
    )
    file = CountingFile(data)
    first_read = 64  # what a load reads before it knows how long its pickle is
    work.allow(2, len(data) + first_read * len(values))
    assert [safepickle.load(file) for _ in values] == values  # type: ignore[arg-type]
    with pytest.raises(EOFError):
        safepickle.load(file)  # type: ignore[arg-type]
    assert file.bytes_read <= 2 * (len(data) + first_read * len(values))


def _mixed_stream(count: int) -> tuple[list[Any], bytes]:
    values: list[Any] = []
    out = io.BytesIO()
    for i in range(count):
        value: Any
        if i % 3 == 0:
            value = {"doc": i, "items": [[i] * 3, {"k": "v"}]}
            out.write(json.dumps(value, indent=2).encode() + b"\n")
        elif i % 3 == 1:
            value = (i, f"t{i}")
            safepickle.dump(value, out, protocol=i % 6)
        else:
            value = [i, str(i)]
            safepickle.dump(value, out)
        values.append(value)
    return values, out.getvalue()


@pytest.mark.parametrize("kind", SOURCES)
def test_mixed_json_and_pickle_streams(kind: str, work: Work) -> None:
    values, data = _mixed_stream(6000)
    work.allow(8, len(data))
    assert load_through(kind, data, count=len(values)) == values
    work.allow(8, len(data))
    assert load_all_through(kind, data) == values
    work.allow(8, len(data))
    assert list(safepickle.load_all(io.BytesIO(data))) == values


def test_scanning_a_file_of_many_documents(work: Work) -> None:
    values, data = _mixed_stream(6000)
    work.allow(8, len(data))
    result = Scanner(Policy(), static=True).scan_bytes(data)
    assert result.status == "clean"
    assert len(result.streams) == len(values)


def test_reading_a_pipe_still_stops_at_the_limits() -> None:
    small = Policy(limits=Limits(max_input_bytes=10_000))
    _, document = pretty_document(50_000)
    protocol_0 = pickle.dumps(["line"] * 5000, protocol=0)
    for kind, data, error in [
        ("pipe", document, safepickle.LimitExceeded),
        ("read-only", document, safepickle.LimitExceeded),
        ("pipe", protocol_0, safepickle.LimitExceeded),
        ("read-only", protocol_0, safepickle.LimitExceeded),
        ("pipe", b"[1, 2", TruncatedPickle),
        ("read-only", b'{"a": "\\', TruncatedPickle),
    ]:
        source = open_source(kind, data)
        try:
            with pytest.raises(error):
                safepickle.load(source.file, policy=small)
        finally:
            source.close()


# --- B. decompression is bounded for the whole file --------------------------------------------
# Each bomb is small on disk and expands past what the default limits allow for it: the
# file's containers may produce max_expansion_ratio (1,100) times its size, at least
# result_bytes_floor (64 MiB), at most max_decompressed_bytes (2 GiB), at every nesting level
# and in every member together.
MiB = 1 << 20
NUMPY_NAMES = ["numpy._core.multiarray:_reconstruct", "numpy:ndarray", "numpy:dtype"]


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return out.getvalue()


def _overlapping_zip(kernel: bytes, count: int) -> bytes:
    """D. Fifield's "better zip bomb": ``count`` members whose deflate streams all end in one
    shared ``kernel``. The file is header 0, then for each next member a stored deflate block
    quoting its header, then the kernel: member i inflates to the headers after it and then to
    the kernel's whole output, and the central directory lists every member."""
    headers = [
        struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, 0, 0, 0, 7, 0) + b"m%06d" % i
        for i in range(count)
    ]
    parts, offsets = [headers[0]], [0]
    pos = len(headers[0])
    for header in headers[1:]:
        parts.append(b"\x00" + struct.pack("<HH", len(header), len(header) ^ 0xFFFF))
        offsets.append(pos + 5)
        parts.append(header)
        pos += 5 + len(header)
    data = b"".join([*parts, kernel])
    central = b"".join(
        _central_entry(header, offset, len(data) - offset - len(header))
        for offset, header in zip(offsets, headers, strict=True)
    )
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), len(data), 0)
    return data + central + end


def _central_entry(local: bytes, offset: int, compressed_size: int) -> bytes:
    """The central directory entry of the local header ``local`` at ``offset`` (deflate)."""
    name = local[30:]
    fields = (20, 20, 0, 8, 0, 0, 0, compressed_size, 0, len(name), 0, 0, 0, 0, 0, offset)
    return struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", *fields) + name


def _lying_zip() -> bytes:
    """One stored member whose central entry claims 4 GiB, in a directory claiming 65,535
    entries."""
    data = bytearray(_zip([("a.pkl", pickle.dumps(1))], zipfile.ZIP_STORED))
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<II", data, central + 20, 0xFFFFFFF0, 0xFFFFFFF0)
    end = data.index(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 0xFFFF, 0xFFFF)
    return bytes(data)


@functools.cache
def bomb(name: str) -> bytes:
    """The hostile payloads, each a few bytes to a few hundred kilobytes."""
    if name == "nested-gzip":
        return gzip.compress(gzip.compress(bytes(96 * MiB), 9), 9)
    if name == "zip-of-zips":  # 42.zip in small: 4 levels of 4 archives, 256 leaves of 1 MiB
        data = _zip([("leaf.bin", bytes(MiB))])
        for _ in range(4):
            data = _zip([(f"{i}.zip", data) for i in range(4)])
        return data
    if name == "overlapping-zip":
        return _overlapping_zip(_deflate(bytes(8 * MiB)), 64)
    if name == "bz2":
        return bz2.compress(bytes(96 * MiB), 9)
    if name == "xz":
        return lzma.compress(bytes(96 * MiB), preset=0)
    if name == "lz4":
        return lz4.frame.compress(lz4.frame.compress(bytes(96 * MiB)))
    if name == "joblib":
        out = io.BytesIO()
        joblib.dump({"weights": np.zeros(12 * MiB)}, out, compress=("bz2", 9))
        return out.getvalue()
    if name == "npz":  # a .npz member compressed with bzip2, as zipfile writes it
        out = io.BytesIO()
        np.save(out, np.zeros(12 * MiB))
        return _zip([("weights.npy", out.getvalue())], zipfile.ZIP_BZIP2)
    if name == "npz-deflate":  # deflate's 1,032:1: refused by max_decompressed_bytes below
        out = io.BytesIO()
        np.savez_compressed(out, weights=np.zeros(12 * MiB))
        return out.getvalue()
    raise AssertionError(name)


BOMBS = ["nested-gzip", "zip-of-zips", "overlapping-zip", "bz2", "xz", "lz4", "joblib", "npz"]
EXPANSION_LIMITS = {"max_expansion_ratio", "max_decompressed_bytes"}


def _traced(call: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def _expansion_problems(result: Any) -> list[Any]:
    return [
        stream.problem
        for stream in result.streams
        if stream.problem is not None and stream.problem.rule.startswith("limit:max_")
    ]


@pytest.mark.parametrize("name", BOMBS)
def test_bombs_are_refused_by_the_default_limits(name: str, canary: Path) -> None:
    data = bomb(name)
    assert len(data) < 300_000
    result, peak = _traced(lambda: Scanner(Policy(allow=NUMPY_NAMES)).scan_bytes(data, name))
    assert result.status == "error", result
    problems = _expansion_problems(result)
    assert problems, result
    problem = problems[0]
    assert problem.error_type == "LimitExceeded"
    assert problem.rule == "limit:max_expansion_ratio"
    assert f"at '{name}!" in problem.message  # the member path
    assert "raise it: Policy(limits=Limits(max_expansion_ratio=...))" in problem.message
    # what the file may expand to (64 MiB for a small one), plus one decompression step
    assert peak < 160 * MiB, f"{peak / MiB:.0f} MiB"


SMALL = Limits(result_bytes_floor=2 * MiB, max_expansion_ratio=100)


@pytest.mark.parametrize("name", BOMBS)
def test_memory_follows_the_limits(name: str, canary: Path) -> None:
    """With a 2 MiB allowance the same bombs stop within a few megabytes."""
    data = bomb(name)
    scanner = Scanner(Policy(allow=NUMPY_NAMES, limits=SMALL))
    result, peak = _traced(lambda: scanner.scan_bytes(data, name))
    problems = _expansion_problems(result)
    assert problems and problems[0].rule == "limit:max_expansion_ratio", result
    assert peak < 24 * MiB, f"{peak / MiB:.0f} MiB"


def test_the_total_is_bounded_whatever_the_ratio(canary: Path) -> None:
    data = bomb("npz-deflate")  # 96 MiB in about 100 KB: within deflate's ratio
    limits = Limits(max_decompressed_bytes=16 * MiB)
    result, peak = _traced(lambda: Scanner(Policy(limits=limits)).scan_bytes(data, "x.npz"))
    problems = _expansion_problems(result)
    assert problems and problems[0].rule == "limit:max_decompressed_bytes", result
    assert "Policy(limits=Limits(max_decompressed_bytes=...))" in problems[0].message
    assert "'x.npz!weights.npy'" in problems[0].message
    assert peak < 48 * MiB


# ``python -m safepickle scan PATH --format json``, then the process's own peak RSS: VmHWM
# belongs to the process's memory after exec (getrusage's maxrss would include the parent's)
_SCAN_THEN_PEAK = """
import runpy, sys
sys.argv = ["safepickle", "scan", sys.argv[1], "--format", "json"]
try:
    runpy.run_module("safepickle", run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status:
        print(*(line for line in status if line.startswith("VmHWM")), file=sys.stderr)
"""


def _cli_scan(path: Path) -> tuple[int, dict[str, Any], int]:
    """``safepickle scan PATH --format json`` in a fresh process: status, report, peak RSS."""
    process = subprocess.run(
        [sys.executable, "-c", _SCAN_THEN_PEAK, str(path)], capture_output=True, check=False
    )
    peak_kib = int(process.stderr.split(b"VmHWM:")[1].split()[0])
    return process.returncode, json.loads(process.stdout), peak_kib * 1024


@pytest.mark.parametrize("name", BOMBS)
def test_bombs_through_the_command(name: str, canary: Path) -> None:
    path = Path(f"{name}.bin")
    path.write_bytes(bomb(name))
    status, report, peak_rss = _cli_scan(path)
    assert status == 2, report
    rules = {
        stream["problem"]["rule"]
        for file in report["files"]
        for stream in file["streams"]
        if stream.get("problem")
    }
    assert rules & {f"limit:{name}" for name in EXPANSION_LIMITS}, report
    assert peak_rss < 400 * MiB, f"{peak_rss / MiB:.0f} MiB"


def test_overlapping_members_that_read_without_writing(canary: Path) -> None:
    """Members overlapping over a long run of empty deflate blocks produce almost nothing but
    each reads the whole run: what they read twice counts against the budget."""
    empty_blocks = b"\x00\x00\x00\xff\xff" * 200_000  # 1 MB of stored blocks of no bytes
    final = b"\x03\x00"  # an empty final block
    data = _overlapping_zip(empty_blocks + final, 300)
    result = Scanner(Policy(limits=Limits(result_bytes_floor=MiB, max_expansion_ratio=10)))
    scanned = result.scan_bytes(data, "run.zip")
    problems = _expansion_problems(scanned)
    assert problems and "re-reading what other members read" in problems[0].message, scanned


def _stored_members_into_one_tail(count: int, tail: int) -> bytes:
    """``count`` local headers of stored members whose sizes are in data descriptors (so each
    runs to the next header), packed at the start: each one's extra field covers the headers
    after it, so that every member's data starts in one long tail without headers."""
    start = 40 * count
    headers = []
    for i in range(count):
        extra = start + i - 40 * i - 34  # data of member i starts at start + i
        fields = (20, 0x8, 0, 0, 0, 0, 0, 0, 4, extra)
        headers.append(
            struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *fields) + b"a%03d" % i + bytes(6)
        )
    return b"".join(headers) + bytes(tail)


def test_stored_members_that_share_their_bytes(canary: Path) -> None:
    data = _stored_members_into_one_tail(300, MiB)
    limits = Limits(result_bytes_floor=MiB, max_expansion_ratio=10)
    result = Scanner(Policy(limits=limits)).scan_bytes(data, "descriptors.zip")
    problems = _expansion_problems(result)
    assert problems and "a stored zip member, re-reading" in problems[0].message, result
    assert len(result.streams) < 20


def test_entries_are_counted_before_they_are_collected(
    canary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safepickle.containers, "MAX_MEMBERS", 1000)
    many = _zip([(f"{i}.pkl", pickle.dumps(i)) for i in range(1500)], zipfile.ZIP_STORED)
    signatures = b"PK\x03\x04" * 2_000_000  # 8 MB of local header signatures, no directory
    for name, data in [("many.zip", many), ("signatures.zip", signatures)]:
        result, peak = _traced(lambda data=data: Scanner(Policy()).scan_bytes(data))
        assert any("more than 1,000 members" in str(s.problem) for s in result.streams), result
        assert peak < 32 * MiB, (name, peak)


def test_claimed_sizes_and_counts_allocate_nothing(canary: Path) -> None:
    result, peak = _traced(lambda: Scanner(Policy()).scan_bytes(_lying_zip(), "lies.zip"))
    assert result.status == "error", result
    assert "runs past the end of the archive" in str(result.streams[0].problem)
    assert peak < MiB


# --- benign files at realistic ratios keep scanning clean ------------------------------------
def _benign(name: str) -> bytes:
    zeros = np.zeros(100 * MiB // 8)  # past the 64 MiB floor: the ratio decides
    out = io.BytesIO()
    if name == "gzip-9-pickle":  # deflate's best, ~1,025:1
        return gzip.compress(pickle.dumps(bytes(100 * MiB), protocol=4), 9)
    if name == "joblib-zlib-3":
        joblib.dump({"w": zeros}, out, compress=("zlib", 3))
    elif name == "joblib-gzip-9":
        joblib.dump({"w": zeros}, out, compress=("gzip", 9))
    elif name == "joblib-lz4":
        joblib.dump({"w": zeros}, out, compress=("lz4", 3))
    elif name == "joblib-xz-small":  # xz of zeros is ~6,800:1, within the 64 MiB floor
        joblib.dump({"w": np.zeros(50 * MiB // 8)}, out, compress=("xz", 3))
    elif name == "joblib-bz2-small":  # bz2 of zeros is ~160,000:1, within the floor
        joblib.dump({"w": np.zeros(50 * MiB // 8)}, out, compress=("bz2", 3))
    elif name == "npz-compressed":
        np.savez_compressed(out, w=zeros)
    elif name == "zip-of-npz":
        np.savez_compressed(out, w=zeros)
        return _zip([("inner.npz", out.getvalue())], zipfile.ZIP_STORED)
    return out.getvalue()


BENIGN = [
    "gzip-9-pickle",
    "joblib-zlib-3",
    "joblib-gzip-9",
    "joblib-lz4",
    "joblib-xz-small",
    "joblib-bz2-small",
    "npz-compressed",
    "zip-of-npz",
]


@pytest.mark.parametrize("name", BENIGN)
def test_benign_compressed_files_at_realistic_ratios_scan_clean(name: str, canary: Path) -> None:
    data = _benign(name)
    result = Scanner(Policy(allow=NUMPY_NAMES)).scan_bytes(data, name)
    assert result.status == "clean", result


def test_following_a_joblib_pickle_is_bounded_by_the_policy_limits(canary: Path) -> None:
    """A file that names joblib's wrapper is followed by pickle's pure-Python unpickler, which
    builds a list for every MARK: 4 MB of them used to cost some 300 MB."""
    data = b"\x80\x04" + b"(" * (4 * MiB) + b"\x8c\x11NumpyArrayWrapper."
    result, peak = _traced(lambda: Scanner(Policy()).scan_bytes(data, "marks.joblib"))
    (stream,) = result.streams
    assert stream.problem is not None and stream.problem.rule == "limit:max_nesting", result
    assert "joblib" in stream.problem.message
    assert peak < 48 * MiB, f"{peak / MiB:.0f} MiB"


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "lzma": lambda data: lzma.compress(data, format=lzma.FORMAT_ALONE),
    "zlib": zlib.compress,
    "lz4": lz4.frame.compress,
    "zip": lambda data: _zip([("a.pkl", data)]),
}


@pytest.mark.parametrize("fmt", sorted(COMPRESSORS))
def test_corrupt_compressed_data_gets_our_errors(fmt: str, canary: Path) -> None:
    """A damaged stream is a safepickle error naming the member, never the decompressor's own
    exception (lz4 raises RuntimeError)."""
    good = COMPRESSORS[fmt](pickle.dumps(list(range(2000))))
    scanner = Scanner(Policy())
    for offset in range(0, len(good), max(1, len(good) // 60)):
        bad = bytearray(good)
        bad[offset] ^= 0xA5
        result = scanner.scan_bytes(bytes(bad), f"bad.{fmt}")
        for stream in result.streams:
            assert stream.problem is None or stream.problem.rule != "plugin-error", (
                offset,
                stream,
            )
