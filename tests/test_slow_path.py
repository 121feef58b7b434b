"""Bounded time when the compiled verifier leaves a stream to the pure-Python one.

The compiled pass walks a stream at a few nanoseconds an opcode; the Python pass takes about a
microsecond. A long stream that goes wrong only at its end used to be handed to the Python pass
to say what was wrong (half a minute for 10 MB), and so was a stream that uses something only
the Python pass handles. Now the compiled pass names every error itself, with the very error
the Python pass raises, and the Python pass reads at most ``Limits.max_slow_path_bytes`` of a
stream that needs it (the compiled pass refuses one that needs it only past that, itself).
These tests check *that the Python pass does not run* (or where it stops), not how long
anything takes: timings are the benchmark's (``benchmarks/adversarial.py``, class 9).
"""

from __future__ import annotations

import functools
import pickle
import struct
from typing import Any

import pytest

import safepickle
import safepickle.verify as V
from safepickle import Limits, SafePickleError
from safepickle.verify import _verify_with

pytestmark = pytest.mark.skipif(V._c_fast_verify is None, reason="needs the compiled verifier")
#: verify() runs the compiled pass first (not under SAFEPICKLE_PURE_PYTHON, the py3-pure env)
compiled_first = pytest.mark.skipif(
    V.IMPLEMENTATION != "c", reason="verify() runs the Python pass only (SAFEPICKLE_PURE_PYTHON)"
)

#: a tuple of a new list and a new dict, dropped: 4 bytes the compiled pass walks
DENSE = b"]}\x860"
BODY = b"\x80\x04" + DENSE * 20_000  # 80 KB

#: (name, tail after BODY, limits): each ends the stream with its first error
ERRORS: list[tuple[str, bytes, Limits]] = [
    ("bad byte", b"\xff", Limits()),
    ("a zero byte", b"\x00", Limits()),
    ("truncated", b"", Limits()),
    ("truncated argument", b"J\x01\x00", Limits()),
    ("truncated payload", b"\x8c\x05ab", Limits()),
    ("POP of nothing", b"0", Limits()),
    ("DUP of nothing", b"2", Limits()),
    ("STOP of nothing", b".", Limits()),
    ("MEMOIZE of nothing", b"\x94", Limits()),
    ("BINPUT of nothing", b"q\x01", Limits()),
    ("APPEND of one", b"Na", Limits()),
    ("SETITEM of two", b"NNs", Limits()),
    ("TUPLE3 of two", b"NN\x87", Limits()),
    ("BUILD of one", b"Nb", Limits()),
    ("REDUCE of one", b"NR", Limits()),
    ("READONLY_BUFFER of nothing", b"\x98", Limits()),
    ("APPENDS without a MARK", b"]e", Limits()),
    ("POP_MARK without a MARK", b"1", Limits()),
    ("TUPLE without a MARK", b"t", Limits()),
    ("SETITEMS of an odd batch", b"}(Nu", Limits()),
    ("DICT of an odd batch", b"(Nd", Limits()),
    ("APPENDS into nothing", b"(Ne", Limits()),
    ("a batch past max_container_items", b"(" + b"N" * 10 + b"l", Limits(max_container_items=5)),
    ("REDUCE of a non-global", b"N)R", Limits()),
    ("NEWOBJ of a non-global", b"N)\x81", Limits()),
    ("OBJ of a non-global", b"(No", Limits()),
    ("APPEND into a global", b"\x8c\x08builtins\x8c\x04list\x93Na", Limits()),
    ("BUILD into a global", b"\x8c\x08builtins\x8c\x04list\x93}b", Limits()),
    ("EXT1", b"\x82\x01", Limits()),
    ("EXT4", b"\x84\x01\x00\x00\x00", Limits()),
    ("PROTO not first", b"\x80\x02", Limits()),
    ("BINPERSID without a plugin", b"N" + b"Q", Limits()),
    ("LONG4 of a negative length", b"\x8b\xff\xff\xff\xff", Limits()),
    (
        "FRAME inside a frame",
        b"\x95\x0a\x00\x00\x00\x00\x00\x00\x00N\x95\x01" + b"\x00" * 7 + b"N",
        Limits(),
    ),
    (
        "an opcode across its frame's end",
        b"\x95\x02\x00\x00\x00\x00\x00\x00\x00NJ\x01\x00\x00\x00",
        Limits(),
    ),
    (
        "a GLOBAL line across its frame's end",
        b"\x95\x05\x00\x00\x00\x00\x00\x00\x00cabc\ndef\n",
        Limits(),
    ),
    ("STACK_GLOBAL of ints", b"KK\x93", Limits()),
    (
        "STACK_GLOBAL of a long name",
        b"X" + struct.pack("<I", 2000) + b"m" * 2000 + b"\x8c\x01n\x93",
        Limits(),
    ),
    ("STACK_GLOBAL of a name that is not UTF-8", b"\x8c\x01\xff\x8c\x01n\x93", Limits()),
    ("GLOBAL of a name that is not UTF-8", b"c\xff\n\xff\n", Limits()),
    ("GLOBAL of a name too long", b"c" + b"m" * 2000 + b"\nn\n", Limits()),
    ("globals past max_globals", b"cm\na\n0cm\nb\n0cm\nc\n", Limits(max_globals=2)),
    ("names past their budget", b"cmmmm\na\n0cmmmm\nb\n", Limits(max_global_name_bytes=8)),
    ("GET never written", b"h\x07", Limits()),
    ("LONG_BINGET never written", b"j\x07\x00\x00\x00", Limits()),
    ("BINPUT past max_memo_entries", b"Nq\x09", Limits(max_memo_entries=5)),
    ("MEMOIZE past max_memo_entries", b"N" + b"\x94" * 6, Limits(max_memo_entries=5)),
    ("the stack past max_stack_depth", b"N" * 40, Limits(max_stack_depth=30)),
    ("a run past max_stack_depth", b"K\x01" * 40, Limits(max_stack_depth=30)),
    ("MARKs past max_nesting", b"(" * 40, Limits(max_nesting=30)),
    ("a Python 2 str that is not ASCII", b"U\x02a\xff", Limits()),
    ("a Python 2 str of a negative length", b"T\xff\xff\xff\xff", Limits()),
    ("hashing past max_hash_work", b"(" + b"K\x01" * 30 + b"\x91", Limits(max_hash_work=20)),
]

#: (name, what only the Python pass handles): put last in a long stream, or first in one
SLOW: list[tuple[str, bytes]] = [
    ("a protocol-0 INT", b"I1\n"),
    ("a protocol-0 STRING", b"S'a'\n"),
    ("INST", b"(i__builtin__\nlist\n"),
    ("a call of range", b"\x8c\x08builtins\x8c\x05range\x93K\x05\x85R"),
    ("a global and a str", b"\x8c\x08builtins\x8c\x03int\x93\x8c\x04real\x86"),
    ("a memo index far past the memo", b"Nr\x00\x00\x10\x00"),
    ("an int of 300 bytes", b"\x8b" + struct.pack("<I", 300) + b"\x01" * 300),
]


def python_error(data: bytes, limits: Limits) -> SafePickleError:
    with pytest.raises(SafePickleError) as raised:
        _verify_with("python", data, limits=limits)
    return raised.value


def same(a: SafePickleError, b: SafePickleError) -> bool:
    return (type(a), str(a), a.offset) == (type(b), str(b), b.offset)


@compiled_first
@pytest.mark.parametrize(("name", "tail", "limits"), ERRORS, ids=[e[0] for e in ERRORS])
def test_the_compiled_pass_names_every_error_itself(
    name: str, tail: bytes, limits: Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = BODY + tail
    expected = python_error(data, limits)
    monkeypatch.setattr(V, "_run", lambda *args: pytest.fail("the Python pass ran"))
    for partial in (False, True):
        with pytest.raises(SafePickleError) as raised:
            V.verify(data, limits=limits, partial=partial)
        assert same(raised.value, expected), (raised.value, expected)


@compiled_first
@pytest.mark.parametrize(("name", "feature"), SLOW, ids=[s[0] for s in SLOW])
def test_what_only_python_handles_past_the_limit_is_refused_by_the_compiled_pass(
    name: str, feature: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = Limits(max_slow_path_bytes=10_000)
    data = BODY + feature + b"N."
    expected = python_error(data, limits)
    assert getattr(expected, "limit", None) == "max_slow_path_bytes", expected
    assert expected.offset >= len(BODY)  # where the feature is
    monkeypatch.setattr(V, "_run", lambda *args: pytest.fail("the Python pass ran"))
    with pytest.raises(SafePickleError) as raised:
        V.verify(data, limits=limits)
    assert same(raised.value, expected), (raised.value, expected)


@pytest.mark.parametrize(("name", "feature"), SLOW, ids=[s[0] for s in SLOW])
def test_the_python_pass_stops_soon_after_the_limit(
    name: str, feature: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What only the Python pass handles comes first: the Python pass reads the stream, and
    stops at its next check past max_slow_path_bytes (every 16,384 opcodes)."""
    limits = Limits(max_slow_path_bytes=10_000)
    data = b"\x80\x04" + feature + b"0" + DENSE * 50_000 + b"N."
    reached: list[int] = []
    periodic = V._periodic

    def watch(st: Any, pos: int, *rest: Any) -> None:
        reached.append(pos)
        periodic(st, pos, *rest)

    monkeypatch.setattr(V, "_periodic", watch)
    for implementation in ("c", "python"):
        reached.clear()
        verify = V.verify if implementation == "c" else functools.partial(_verify_with, "python")
        with pytest.raises(safepickle.LimitExceeded) as raised:
            verify(data, limits=limits)
        assert raised.value.limit == "max_slow_path_bytes"
        assert reached and max(reached) <= 10_000 + 4 * 0x4000 + 64, max(reached)


def test_what_only_python_handles_within_the_limit_loads() -> None:
    value = {"a": [1, 2.5, "x", None, True], "r": range(3), "t": (1, (2, 3))}
    for protocol in range(6):
        data = pickle.dumps(value, protocol)
        assert safepickle.loads(data) == value
        assert _verify_with("python", data, limits=Limits()) is not None


def test_the_limit_is_counted_from_the_stream_start() -> None:
    """A stream after others in one buffer: its bytes count from its own first byte."""
    first = pickle.dumps(list(range(10_000)), 4)  # 30 KB the compiled pass reads
    second = pickle.dumps([1, 2, 3], 0)  # protocol 0: the Python pass
    data = first + second
    limits = Limits(max_slow_path_bytes=len(second))
    start = len(first)
    assert V.verify(data, start, limits=limits).end == len(data)
    with pytest.raises(safepickle.LimitExceeded):
        V.verify(data, start, limits=Limits(max_slow_path_bytes=len(second) - 8))


@compiled_first
@pytest.mark.parametrize("encoding", ["ASCII", "latin1", "bytes"])
def test_python_2_strs_are_read_by_the_compiled_pass(
    encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Python 2 pickle (protocol 2, str as SHORT_BINSTRING and BINSTRING) far longer than
    max_slow_path_bytes: the compiled pass checks that its strs decode, as the load will."""
    strs = b"".join(b"U\x05abcde" + b"T" + struct.pack("<I", 300) + b"x" * 300 for _ in range(400))
    data = b"\x80\x02(" + strs + b"l."
    limits = Limits(max_slow_path_bytes=1000)
    python = _verify_with("python", data, limits=limits, encoding=encoding)
    monkeypatch.setattr(V, "_run", lambda *args: pytest.fail("the Python pass ran"))
    assert V.verify(data, limits=limits, encoding=encoding) == python
    loaded = safepickle.loads(data, encoding=encoding, policy=safepickle.Policy(limits=limits))
    assert loaded == pickle.loads(data, encoding=encoding)


def test_python_2_strs_in_another_encoding_are_left_to_the_python_pass() -> None:
    data = b"\x80\x02U\x02\xc3\xa9."
    assert safepickle.loads(data, encoding="utf-8") == "\u00e9"
    with pytest.raises(safepickle.LimitExceeded):
        V.verify(
            b"\x80\x02" + DENSE * 500 + data[2:],
            limits=Limits(max_slow_path_bytes=1000),
            encoding="utf-8",
        )
