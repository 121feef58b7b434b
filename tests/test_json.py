"""The JSON path: plain data written as JSON, told apart from pickle by its first byte, decoded
under the policy's limits, and never a way into pickle."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickle
import threading
from collections import OrderedDict
from collections.abc import Iterator
from enum import IntEnum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import plain_values

import safepickle
from safepickle import (
    LimitExceeded,
    Limits,
    MalformedPickle,
    Policy,
    SafePickleError,
    TruncatedPickle,
)
from safepickle._json import JSON_FIRST_BYTES
from safepickle.context import LoadEvent

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)

#: every value JSON holds exactly: the types json.loads returns, finite floats, str keys
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def same(a: Any, b: Any) -> bool:
    """Equal in value and in type at every level (``1 == 1.0 == True`` is not enough)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is float:
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@given(json_values)
def test_plain_data_is_written_as_json_and_reads_back_exactly(value: Any) -> None:
    data = safepickle.dumps(value)
    assert data[0] in JSON_FIRST_BYTES
    assert same(json.loads(data), value)  # real JSON, readable by anything
    assert same(safepickle.loads(data), value)


@given(json_values, st.sampled_from(PROTOCOLS))
def test_format_pickle_still_pickles_plain_data(value: Any, protocol: int) -> None:
    data = safepickle.dumps(value, protocol, format="pickle")
    assert same(pickle.loads(data), value)
    assert same(safepickle.loads(data), value)


@given(plain_values(), st.sampled_from(PROTOCOLS))
def test_no_pickle_starts_with_a_json_byte(value: Any, protocol: int) -> None:
    assert pickle.dumps(value, protocol)[0] not in JSON_FIRST_BYTES


@given(st.sampled_from(sorted(JSON_FIRST_BYTES)), st.binary(max_size=40))
def test_no_valid_pickle_can_start_with_a_json_byte(first: int, rest: bytes) -> None:
    """The detection rule is unambiguous: pickle itself rejects every stream starting so."""
    with pytest.raises(Exception):  # noqa: B017 - whatever pickle raises, it refuses
        pickle.loads(bytes([first]) + rest)


class Color(IntEnum):
    RED = 1


@pytest.mark.parametrize(
    "value",
    [
        pytest.param((1, 2), id="tuple"),
        pytest.param({1: "int key"}, id="int-key"),
        pytest.param(OrderedDict(a=1), id="dict-subclass"),
        pytest.param({"nan": math.nan}, id="nan"),
        pytest.param([math.inf], id="inf"),
        pytest.param("lone \ud800 surrogate", id="surrogate"),
        pytest.param(Color.RED, id="int-subclass"),
        pytest.param(10**5000, id="huge-int"),
        pytest.param({"set": {1, 2}}, id="set"),
        pytest.param(b"bytes", id="bytes"),
    ],
)
def test_what_json_cannot_hold_exactly_is_pickled(value: Any) -> None:
    data = safepickle.dumps(value)
    assert data[0] == 0x80  # a pickle (the default protocol is binary)
    loaded = safepickle.loads(data, allow=[Color])
    assert type(loaded) is type(value)
    assert pickle.dumps(loaded, 5) == pickle.dumps(value, 5)  # equal, NaN included
    with pytest.raises(TypeError, match="format='json' needs plain JSON data"):
        safepickle.dumps(value, format="json")


def test_shared_and_cyclic_containers_are_pickled_to_keep_identity() -> None:
    inner: list[int] = [1]
    shared = {"a": inner, "b": inner}
    loaded = safepickle.loads(safepickle.dumps(shared))
    assert loaded["a"] is loaded["b"]
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    loaded = safepickle.loads(safepickle.dumps(cyclic))
    assert loaded[0] is loaded


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_explicit_protocol_asks_for_a_pickle(protocol: int) -> None:
    """``pickle.dump(x, f, protocol=2)`` swapped for safepickle still writes a pickle."""
    data = safepickle.dumps({"a": [1]}, protocol)
    assert pickle.loads(data) == {"a": [1]}
    assert data[0] not in JSON_FIRST_BYTES
    assert safepickle.dumps({"a": [1]}, protocol, format="json") == b'{"a":[1]}'


def test_unknown_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="format must be one of auto, json, pickle"):
        safepickle.dumps([], format="yaml")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"5", 5),
        (b"-0.0", -0.0),
        (b"  \t\r\n[1]\n\n", [1]),
        (b'\xef\xbb\xbf{"bom": true}', {"bom": True}),
        (b'"\\ud83d\\ude00 and \\u00e9"', "\U0001f600 and \xe9"),
        (b"null", None),
        (b'{\n  "pretty": [\n    1\n  ]\n}\n', {"pretty": [1]}),
        (b'{"a": 1, "a": 2}', {"a": 2}),  # duplicate keys: the last wins, as json.loads
    ],
)
def test_json_edge_cases(data: bytes, expected: Any) -> None:
    assert same(safepickle.loads(data), expected)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (b"[NaN]", MalformedPickle, "NaN, which is not JSON"),
        (b"-Infinity", MalformedPickle, "-Infinity, which is not JSON"),
        (b"[1,", TruncatedPickle, "truncated"),
        (b'"open', TruncatedPickle, "truncated"),
        (b"", TruncatedPickle, "empty"),
        (b"   ", TruncatedPickle, "only whitespace"),
        (b'{"a" 1}', MalformedPickle, r"malformed JSON: Expecting ':' delimiter \(line 1"),
        (b'["\xff"]', MalformedPickle, "not valid UTF-8 at offset 2"),
        (b"[1] [2]", MalformedPickle, "follow the JSON document"),
        (b"tru", MalformedPickle, "malformed JSON"),
        (b"[" * 100_000, LimitExceeded, "recursion limit"),
        (b"9" * 5000, LimitExceeded, "more digits than allowed"),
        (b"\xff\xfe[\x001\x00]\x00", MalformedPickle, "opcode"),  # UTF-16 is not our JSON
    ],
)
def test_bad_json_gets_our_errors(data: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        safepickle.loads(data)


def test_json_errors_are_pickle_errors_and_eof_errors() -> None:
    with pytest.raises(pickle.UnpicklingError):
        safepickle.loads(b"[1, oops]")
    with pytest.raises(EOFError):
        safepickle.load(io.BytesIO(b"[1, 2"))


def test_json_limits_come_from_the_policy() -> None:
    small = Policy(limits=Limits(max_input_bytes=10, max_nesting=3, max_int_digits=5))
    assert safepickle.loads(b"[[[1]]]", policy=small) == [[[1]]]
    with pytest.raises(LimitExceeded, match="max_nesting=3"):
        safepickle.loads(b"[[[[1]]]]", policy=small)
    with pytest.raises(LimitExceeded, match="max_input_bytes=10"):
        safepickle.loads(b"[1,2,3,4,5,6]", policy=small)
    with pytest.raises(LimitExceeded, match="more digits"):
        safepickle.loads(b"123456", policy=small)
    with pytest.raises(LimitExceeded, match="max_input_bytes"):
        safepickle.load(io.BytesIO(b"[" + b"1," * 50 + b"1]"), policy=small)
    # brackets inside strings do not count as nesting
    assert safepickle.loads(b'["[[[[["]', policy=small) == ["[[[[["]


@given(st.binary(max_size=60), st.sampled_from(sorted(JSON_FIRST_BYTES)))
def test_any_bytes_starting_like_json_raise_only_our_errors(rest: bytes, first: int) -> None:
    data = bytes([first]) + rest
    try:
        expected = json.loads(data)
    except (ValueError, RecursionError):
        expected = None
    try:
        loaded = safepickle.loads(data)
    except SafePickleError:
        return
    assert loaded == expected


# --- streams: files, pipes, several documents -------------------------------------------------
def _dump_all(values: list[Any], protocol: int) -> bytes:
    """Every other value with the default protocol (plain data as JSON), the rest pickled at
    ``protocol``: streams that mix the two."""
    stream = io.BytesIO()
    for index, value in enumerate(values):
        safepickle.dump(value, stream, protocol if index % 2 else None)
    return stream.getvalue()


mixed_sequences = st.lists(
    json_values | st.tuples(st.integers(), st.text()) | st.frozensets(st.integers()), max_size=6
)


@given(mixed_sequences, st.sampled_from(PROTOCOLS))
# a float whose exponent is cut by the first decoding window ("-5.767172749219e" of 16 bytes):
# the decoder stops before the "e", which must read as "more data decides", not as malformed
@example([None, None, -5.767172749219e16, frozenset([0])], 0)
def test_json_and_pickles_dumped_to_one_file_load_back_in_order(
    values: list[Any], protocol: int
) -> None:
    data = _dump_all(values, protocol)
    assert list(safepickle.load_all(io.BytesIO(data))) == values
    stream = io.BytesIO(data)
    loaded = []
    while True:  # the tutorial's loop: pickle.load until EOFError
        try:
            loaded.append(safepickle.load(stream))
        except EOFError:
            break
    assert loaded == values
    assert stream.tell() == len(data)


def _pipe(data: bytes) -> Iterator[io.BufferedReader]:
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as writer:
            writer.write(data)

    thread = threading.Thread(target=feed)
    thread.start()
    with os.fdopen(read_fd, "rb") as reader:
        yield reader
    thread.join()


@given(mixed_sequences, st.sampled_from(PROTOCOLS))
def test_json_and_pickles_load_from_a_pipe(values: list[Any], protocol: int) -> None:
    for reader in _pipe(_dump_all(values, protocol)):
        assert [safepickle.load(reader) for _ in values] == values
        with pytest.raises(EOFError):
            safepickle.load(reader)


def test_pretty_printed_json_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    document = {"name": "app", "ports": [80, 443], "debug": False, "ratio": 0.25}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    with path.open("rb") as file:
        assert safepickle.load(file) == document
        with pytest.raises(EOFError):
            safepickle.load(file)


def test_several_documents_on_one_line_of_a_pipe_are_refused() -> None:
    for reader in _pipe(b"[1] [2]\n"):
        with pytest.raises(MalformedPickle, match="one document per line"):
            safepickle.load(reader)


def test_a_bare_number_at_the_end_of_a_pipe() -> None:
    for reader in _pipe(b"12345"):
        assert safepickle.load(reader) == 12345


# --- hooks and audit see JSON loads too ------------------------------------------------------
def test_validators_and_audit_see_json_loads() -> None:
    seen: list[Any] = []
    events: list[LoadEvent] = []

    class Plugin:
        @safepickle.hookimpl
        def safepickle_validate_object(self, obj: Any) -> None:
            seen.append(obj)

        @safepickle.hookimpl
        def safepickle_audit(self, event: LoadEvent) -> None:
            events.append(event)

    policy = Policy(plugins=[Plugin()])
    assert safepickle.loads(b'{"a": [1]}', policy=policy) == {"a": [1]}
    with pytest.raises(MalformedPickle):
        safepickle.loads(b'{"a": ', policy=policy)
    assert seen == [{"a": [1]}]
    assert [(e.outcome, e.format, e.protocol, e.size) for e in events] == [
        ("loaded", "json", None, 10),
        ("error", "json", None, 6),
    ]
    assert events[0].sha256 == hashlib.sha256(b'{"a": [1]}').hexdigest()
    assert events[0].ecs["safepickle"]["format"] == "json"
    assert events[0].ecs["message"].startswith("loaded json (10 bytes)")
