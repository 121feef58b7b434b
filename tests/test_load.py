"""Reading from files: bounded reads, positions, several pickles, pipes, limits."""

from __future__ import annotations

import io
import os
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest

import safepickle
from safepickle import LimitExceeded, Limits, MalformedPickle, Policy, TruncatedPickle
from safepickle.scan import Scanner


class CountingReader(io.RawIOBase):
    """A seekable file that records how many bytes were read from it."""

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


def test_load_leaves_the_file_after_stop_like_pickle(tmp_path: Path) -> None:
    values = [{"a": 1}, list(range(50_000)), "x" * 100_000, None, (1, 2)]
    path = tmp_path / "many.pkl"
    with path.open("wb") as f:
        for protocol, value in enumerate(values):
            pickle.dump(value, f, protocol=protocol)
    with path.open("rb") as plain, path.open("rb") as safe:
        for value in values:
            assert safepickle.load(safe) == pickle.load(plain) == value
            assert safe.tell() == plain.tell()
        with pytest.raises(EOFError):
            pickle.load(plain)
        with pytest.raises(TruncatedPickle) as info:
            safepickle.load(safe)
        assert isinstance(info.value, EOFError)


def test_the_eof_loop_of_the_tutorial_works(tmp_path: Path) -> None:
    path = tmp_path / "log.pkl"
    with path.open("ab") as f:
        for i in range(100):
            pickle.dump({"event": i}, f)
    loaded = []
    with path.open("rb") as f:
        while True:
            try:
                loaded.append(safepickle.load(f))
            except EOFError:
                break
    assert loaded == [{"event": i} for i in range(100)]
    with path.open("rb") as f:
        assert list(safepickle.load_all(f)) == loaded
    with path.open("rb") as f:
        unpickler = safepickle.Unpickler(f)
        assert [unpickler.load() for _ in range(100)] == loaded


def test_load_all_stops_at_the_refused_pickle_before_running_it(
    tmp_path: Path, canary: Path
) -> None:
    # os.system("touch CANARY") at protocol 0, after two harmless pickles
    stream = pickle.dumps(1) + pickle.dumps(2) + b"cos\nsystem\n(S'touch CANARY'\ntR."
    results = safepickle.load_all(io.BytesIO(stream))
    assert next(results) == 1
    assert next(results) == 2
    with pytest.raises(safepickle.ForbiddenGlobal):
        next(results)


def test_truncated_last_pickle_is_an_error() -> None:
    stream = pickle.dumps([1, 2, 3]) + pickle.dumps({"k": "v"})[:-3]
    results = safepickle.load_all(io.BytesIO(stream))
    assert next(results) == [1, 2, 3]
    with pytest.raises(TruncatedPickle):
        next(results)


def test_loads_refuses_trailing_bytes() -> None:
    with pytest.raises(MalformedPickle, match="load_all"):
        safepickle.loads(pickle.dumps(1) + b"garbage")
    with pytest.raises(MalformedPickle, match="load_all"):
        safepickle.loads(pickle.dumps(1) + b" \n" + pickle.dumps(2))


def test_whitespace_after_the_last_stream_is_the_end_everywhere() -> None:
    """loads, load_all and the scanner read a file that ends in a newline alike."""
    data = pickle.dumps({"a": 1}, 2) + b" \r\n\t"
    assert safepickle.loads(data) == {"a": 1}
    assert list(safepickle.load_all(io.BytesIO(data))) == [{"a": 1}]
    streams = Scanner(Policy()).scan_bytes(data).streams
    assert [stream.status for stream in streams] == ["clean"]


def test_a_large_pickle_is_read_in_chunks_and_positioned(tmp_path: Path) -> None:
    big = pickle.dumps([b"x" * 1000] * 3000 + list(range(300_000)), protocol=2)
    reader = CountingReader(big + pickle.dumps("next"))
    assert safepickle.load(reader) == pickle.loads(big)  # type: ignore[arg-type]
    assert reader.tell() == len(big)
    assert safepickle.load(reader) == "next"  # type: ignore[arg-type]


def test_a_file_is_never_read_past_the_limit() -> None:
    limit = 100_000
    policy = Policy(limits=Limits(max_input_bytes=limit))
    huge = pickle.dumps(b"y" * 1_000_000, protocol=4)
    reader = CountingReader(huge)
    with pytest.raises(LimitExceeded) as info:
        safepickle.load(reader, policy=policy)  # type: ignore[arg-type]
    assert info.value.limit == "max_input_bytes"
    assert reader.bytes_read <= limit + 1
    with pytest.raises(LimitExceeded):
        safepickle.loads(huge, policy=policy)


def test_a_length_prefix_is_never_trusted() -> None:
    # BINBYTES8 claiming 2**62 bytes, in a 20-byte file: an error, no giant read or allocation
    payload = b"\x80\x04\x8e" + (1 << 62).to_bytes(8, "little") + b"abc."
    reader = CountingReader(payload)
    with pytest.raises(TruncatedPickle):
        safepickle.load(reader)  # type: ignore[arg-type]
    assert reader.bytes_read == len(payload)


def test_pipes_are_read_exactly_to_stop() -> None:
    read_fd, write_fd = os.pipe()
    first = pickle.dumps({"a": [1, 2, 3], "b": "text\n" * 10}, protocol=0)
    second = pickle.dumps(list(range(1000)), protocol=5)

    def writer() -> None:
        with open(write_fd, "wb") as out:
            out.write(first + second)

    thread = threading.Thread(target=writer)
    thread.start()
    with open(read_fd, "rb") as pipe:
        assert safepickle.load(pipe) == pickle.loads(first)
        assert safepickle.load(pipe) == pickle.loads(second)
        with pytest.raises(TruncatedPickle):
            safepickle.load(pipe)
    thread.join()


def test_pipe_limit_and_garbage() -> None:
    limit = 1000
    policy = Policy(limits=Limits(max_input_bytes=limit))

    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._data.read(size)

    with pytest.raises(LimitExceeded):
        safepickle.load(ReadOnly(pickle.dumps("z" * 5000)), policy=policy)  # type: ignore[arg-type]
    with pytest.raises(MalformedPickle):
        safepickle.load(ReadOnly(b"\xff\xff"))  # type: ignore[arg-type]
    with pytest.raises(TruncatedPickle):
        safepickle.load(ReadOnly(b""))  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [b"", b"\x80", b"\x80\x05", b"(", b"K", b"\x80\x04\x95"])
def test_empty_and_truncated_input(data: bytes) -> None:
    with pytest.raises(TruncatedPickle):
        safepickle.loads(data)


def test_out_of_band_buffers() -> None:
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(
        [pickle.PickleBuffer(b"abc"), pickle.PickleBuffer(bytearray(b"def"))],
        protocol=5,
        buffer_callback=buffers.append,
    )
    result = safepickle.loads(data, buffers=buffers)
    assert [bytes(item) for item in result] == [b"abc", b"def"]
    with pytest.raises(MalformedPickle, match="out-of-band"):
        safepickle.loads(data, buffers=buffers[:1])
    with pytest.raises(MalformedPickle, match="out-of-band"):
        safepickle.loads(data)


def test_memoryview_and_bytearray_input() -> None:
    data = pickle.dumps({"k": [1, 2]})
    assert safepickle.loads(bytearray(data)) == {"k": [1, 2]}
    assert safepickle.loads(memoryview(data)) == {"k": [1, 2]}
    with pytest.raises(TypeError):
        safepickle.loads("not bytes")  # type: ignore[arg-type]


def test_allowed_code_that_raises_is_an_execution_error() -> None:
    # decimal.Decimal("not a number") raises InvalidOperation inside the C unpickler
    payload = b"\x80\x02cdecimal\nDecimal\nX\x0c\x00\x00\x00not a number\x85R."
    with pytest.raises(safepickle.ExecutionError) as info:
        safepickle.loads(payload)
    assert info.value.__cause__ is not None
