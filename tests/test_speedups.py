"""The compiled fast path of the verifier (``safepickle/_speedups.c``) against the Python pass.

The C pass implements the accepting path only and bails (returns None) on anything unusual, so
the contract tested here is: for every input, ``verify()`` gives exactly what the pure-Python
pass gives (the same :class:`Verified`, or the same exception class, message and offset), and
whenever the C pass accepts on its own, its :class:`Verified` is the Python one. A C pass that
always bailed would satisfy that, so some tests also require it to accept ordinary pickles.

Both implementations are forced with ``safepickle.verify._verify_with``. CI installs the package
with pip, which builds the extension: these tests run there, and ``IMPLEMENTATION`` must be
``"c"`` unless ``SAFEPICKLE_PURE_PYTHON`` is set (the tox env that runs the whole suite on the
pure-Python verifier).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import io
import os
import pickle
import pickletools
import struct
import sys
import tracemalloc
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safepickle import GlobalRef, LimitExceeded, Limits, SafePickleError
from safepickle import verify as V

# As in test_properties: cache hypothesis's patch module with its DeprecationWarning silenced,
# or a failing example turns into an INTERNALERROR under filterwarnings=["error"].
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore")
    import hypothesis.extra._patching  # noqa: F401

PURE = bool(os.environ.get("SAFEPICKLE_PURE_PYTHON"))
HAVE_C = V._c_fast_verify is not None
needs_c = pytest.mark.skipif(
    not HAVE_C and PURE, reason="safepickle._speedups is not built (pure-Python run)"
)
DEFAULT = Limits()


def test_implementation_is_the_compiled_one_unless_told_otherwise() -> None:
    if PURE:
        assert V.IMPLEMENTATION == "python"
    else:
        assert HAVE_C, "safepickle._speedups did not build: CI must compile the extension"
        assert V.IMPLEMENTATION == "c"


# --- the differential check ----------------------------------------------------------------------

Outcome = tuple[Any, ...]


def _outcome(run: Callable[[], V.Verified | None]) -> Outcome:
    """What a verifier did: its Verified, or everything that identifies its exception."""
    try:
        return ("ok", run())
    except SafePickleError as exc:
        extra = tuple(
            (name, getattr(exc, name))
            for name in ("limit", "maximum", "opcode")
            if hasattr(exc, name)
        )
        return ("error", type(exc), str(exc), exc.offset, extra)


def check(data: bytes | bytearray, start: int = 0, **options: Any) -> bool:
    """Assert that both implementations agree on ``data``; return whether C accepted alone."""
    options.setdefault("limits", DEFAULT)
    python = _outcome(lambda: V._verify_with("python", data, start, **options))
    shipped = _outcome(lambda: V.verify(data, start, **options))
    assert shipped == python
    # a reader with more to read (partial=True) hears the same
    assert _outcome(lambda: V.verify(data, start, partial=True, **options)) == python
    if not HAVE_C:
        return False
    # accepts, bails, or refuses by itself with the very error the Python pass raises (the
    # first error, wherever it is: see verify._refusal)
    compiled_outcome = _outcome(lambda: V._verify_with("c", data, start, **options))
    if compiled_outcome[0] == "error":
        assert compiled_outcome == python
        return False
    compiled = compiled_outcome[1]
    if compiled is None:
        return False
    # the whole Verified, the node model's numbers included (estimated_bytes, hash_work and
    # unknown_hash_keys come from the counts the compiled pass returns)
    assert python == ("ok", compiled)
    verified = python[1]
    assert (compiled.estimated_bytes, compiled.hash_work, compiled.unknown_hash_keys) == (
        verified.estimated_bytes,
        verified.hash_work,
        verified.unknown_hash_keys,
    )
    return True


# --- values to pickle ----------------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: Any
    y: Any


class Plain:
    def __init__(self, a: Any = None) -> None:
        self.a = a


class Slots:
    __slots__ = ("a", "b")

    def __init__(self, a: Any = None, b: Any = None) -> None:
        self.a = a
        self.b = b


class Outer:
    class Inner:
        def __init__(self, a: Any = None) -> None:
            self.a = a

        def method(self) -> None:
            """Bound, it pickles as getattr(self, "method")."""


class Color(enum.Enum):
    RED = 1
    GREEN = "green"


class KeywordOnly:
    """``__getnewargs_ex__`` makes protocols 4 and 5 write NEWOBJ_EX."""

    def __init__(self, *, a: Any = None) -> None:
        self.a = a

    def __getnewargs_ex__(self) -> tuple[tuple[()], dict[str, Any]]:
        return (), {"a": self.a}

    def __new__(cls, *, a: Any = None) -> KeywordOnly:
        return super().__new__(cls)


def _hashable_leaves(*, ranges: bool) -> st.SearchStrategy[Any]:
    """Scalars and standard-library values; ``ranges``: range objects too, whose calls make the
    compiled pass defer to Python (it tracks them into materialising constructors)."""
    found = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**300), max_value=2**300),
        st.floats(),
        st.text(st.characters(exclude_categories=()), max_size=12),
        st.binary(max_size=12),
        st.complex_numbers(),
        st.dates(),
        st.datetimes(timezones=st.sampled_from([None, datetime.timezone.utc])),
        st.timedeltas(),
        st.decimals(allow_nan=False),
        st.fractions(),
        st.uuids(),
        st.sampled_from(list(Color)),
    )
    if ranges:
        found |= st.builds(range, st.integers(-5, 5), st.integers(-5, 50))
    return found


def _values(*, ranges: bool) -> st.SearchStrategy[Any]:
    hashable_leaves = _hashable_leaves(ranges=ranges)
    leaves = st.one_of(
        hashable_leaves,
        st.decimals(),  # NaNs too, which cannot be set members
        st.binary(max_size=300),
        st.binary(max_size=12).map(bytearray),
    )
    hashables = st.recursive(
        hashable_leaves, lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=4
    )

    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(inner, max_size=5),
            st.lists(inner, max_size=4).map(tuple),
            st.dictionaries(hashables, inner, max_size=4),
            st.sets(hashables, max_size=4),
            st.frozensets(hashables, max_size=4),
            st.dictionaries(st.text(max_size=4), inner, max_size=3).map(collections.OrderedDict),
            # reduces to defaultdict((list,), ...): a tuple that starts with a global
            st.dictionaries(st.text(max_size=4), st.lists(inner, max_size=2), max_size=3).map(
                lambda items: collections.defaultdict(list, items)
            ),
            st.lists(inner, max_size=3).map(collections.deque),
            # partial(Point) + BUILD: a call on class arguments, then changed
            st.builds(functools.partial, st.just(Point), inner),
            st.builds(Point, inner, inner),
            st.builds(Plain, inner),
            st.builds(Slots, inner, inner),
            st.builds(Outer.Inner, inner),
            # shared references: memo GETs of containers (and of the globals they carry)
            st.tuples(inner, st.integers(2, 3)).map(lambda pair: [pair[0]] * pair[1]),
        )

    return st.recursive(leaves, extend, max_leaves=16)


plain_values = _values(ranges=True)
#: what the compiled pass must accept on its own at protocols 2-5
common_values = _values(ranges=False)


def _recursive_list(value: Any) -> list[Any]:
    box: list[Any] = [value]
    box.append(box)
    box.append((box, value))  # a tuple that holds its own container: POP / POP_MARK + GET
    return box


def _recursive_dict(value: Any) -> dict[str, Any]:
    box: dict[str, Any] = {"v": value}
    box["self"] = box
    return box


#: values whose pickles take the rarer paths (bail or error in the C pass)
rare_values = st.one_of(
    st.builds(KeywordOnly, a=plain_values),
    st.builds(lambda v: Outer.Inner(v).method, plain_values),  # getattr(obj, "method")
    st.just([].append),
    st.builds(_recursive_list, plain_values),
    st.builds(_recursive_dict, plain_values),
)

PICKLERS: dict[str, Callable[[Any, int], bytes]] = {
    "c": pickle.dumps,
    "python": pickle._dumps,  # type: ignore[attr-defined]
    "optimized": lambda value, protocol: pickletools.optimize(pickle.dumps(value, protocol)),
}


def dumps_all(value: Any, protocols: range = range(6)) -> list[tuple[str, int, bytes]]:
    """``value`` pickled by every pickler at every protocol that can pickle it."""
    found = []
    for name, dumps in PICKLERS.items():
        for protocol in protocols:
            try:
                data = dumps(value, protocol)
            except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError):
                continue
            found.append((name, protocol, data))
    return found


# --- generated inputs ----------------------------------------------------------------------------


@given(plain_values, st.booleans())
def test_plain_values_at_every_protocol(value: Any, fix_imports: bool) -> None:
    for _, _, data in dumps_all(value):
        check(data, fix_imports=fix_imports)


@needs_c
@given(common_values, st.booleans())
def test_the_compiled_pass_accepts_plain_values_on_its_own(value: Any, fix_imports: bool) -> None:
    """Protocols 2-5 write none of the opcodes the C pass leaves to Python, except the
    ``getattr(Outer, "Inner")`` shape protocols 2 and 3 use for nested classes."""
    for name, protocol, data in dumps_all(value, range(2, 6)):
        nested = protocol < 4 and b"getattr" in data
        assert check(data, fix_imports=fix_imports) or nested, (name, protocol, data)


@given(rare_values, st.booleans(), st.booleans())
def test_rare_values_at_every_protocol(value: Any, fix_imports: bool, persistent: bool) -> None:
    for _, _, data in dumps_all(value):
        check(data, fix_imports=fix_imports, persistent_ids=persistent)


class _PersistentPickler(pickle.Pickler):
    """Writes every str ``"pid:..."`` as a persistent id (PERSID at protocol 0, BINPERSID)."""

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, str) and obj.startswith("pid:"):
            return obj
        return None


@given(plain_values, st.integers(0, 5), st.booleans())
def test_persistent_ids(value: Any, protocol: int, allowed: bool) -> None:
    out = io.BytesIO()
    try:
        _PersistentPickler(out, protocol).dump(["pid:1", value, "pid:2"])
    except (pickle.PicklingError, TypeError):  # e.g. __slots__ at protocols 0 and 1
        return
    check(out.getvalue(), persistent_ids=allowed)


@needs_c
@given(common_values, st.integers(2, 5))
def test_the_compiled_pass_accepts_persistent_ids_on_its_own(value: Any, protocol: int) -> None:
    """Checkpoints (torch.save) are BINPERSID streams: when a plugin resolves persistent ids,
    the C pass accepts them without handing the stream to Python."""
    out = io.BytesIO()
    _PersistentPickler(out, protocol).dump(["pid:1", value, "pid:2"])
    data = out.getvalue()
    nested = protocol < 4 and b"getattr" in data
    assert check(data, persistent_ids=True) or nested
    assert not check(data, persistent_ids=False)  # refused: Python names the opcode
    if not nested:
        assert V.verify(data, limits=DEFAULT, persistent_ids=True).persistent_ids == 2


limits = st.builds(
    Limits,
    max_input_bytes=st.one_of(st.just(DEFAULT.max_input_bytes), st.integers(1, 400)),
    max_opcodes=st.one_of(st.just(DEFAULT.max_opcodes), st.integers(1, 60)),
    max_stack_depth=st.one_of(st.just(DEFAULT.max_stack_depth), st.integers(1, 20)),
    max_memo_entries=st.one_of(st.just(DEFAULT.max_memo_entries), st.integers(1, 20)),
    max_container_items=st.one_of(st.just(DEFAULT.max_container_items), st.integers(1, 8)),
    max_nesting=st.one_of(st.just(DEFAULT.max_nesting), st.integers(1, 6)),
    max_globals=st.one_of(st.just(DEFAULT.max_globals), st.integers(1, 4)),
    max_int_digits=st.one_of(st.just(DEFAULT.max_int_digits), st.integers(1, 30)),
)


@given(plain_values, limits)
def test_small_limits(value: Any, chosen: Limits) -> None:
    for _, _, data in dumps_all(value):
        check(data, limits=chosen)


@dataclasses.dataclass
class Mutation:
    kind: str
    at: int
    byte: int
    length: int


OPCODE_BYTES = bytes(sorted({ord(op.code) for op in pickletools.opcodes}))
mutations = st.builds(
    Mutation,
    kind=st.sampled_from(["flip", "insert", "delete", "replace", "truncate"]),
    at=st.integers(0, 10_000),
    byte=st.one_of(st.sampled_from(OPCODE_BYTES), st.integers(0, 255)),
    length=st.integers(1, 4),
)


def mutate(data: bytes, changes: list[Mutation]) -> bytes:
    buf = bytearray(data)
    for change in changes:
        at = change.at % (len(buf) + 1)
        if change.kind == "flip" and at < len(buf):
            buf[at] ^= 1 << (change.byte % 8)
        elif change.kind == "insert":
            buf[at:at] = bytes([change.byte]) * change.length
        elif change.kind == "delete":
            del buf[at : at + change.length]
        elif change.kind == "replace" and at < len(buf):
            buf[at] = change.byte
        elif change.kind == "truncate":
            del buf[at:]
    return bytes(buf)


@given(st.one_of(plain_values, rare_values), st.lists(mutations, min_size=1, max_size=4), limits)
def test_mutated_pickles(value: Any, changes: list[Mutation], chosen: Limits) -> None:
    for _, _, data in dumps_all(value):
        check(mutate(data, changes), limits=chosen)


@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    check(data)
    check(b"\x80\x05" + data)
    check(b"\x80\x02" + data + b".", fix_imports=False)


#: an opcode with a plausible argument, so that random streams get past their first bytes
def _piece(draw: st.DrawFn) -> bytes:
    op = draw(st.sampled_from(OPCODE_BYTES))
    if op in b"cip":
        return bytes([op]) + draw(st.sampled_from([b"builtins\nset\n", b"a\nb\n", b"1\n", b""]))
    if op in b"\x8cX\x8dCB\x8e\x96\x8a\x8b":
        text = draw(st.sampled_from([b"builtins", b"getattr", b"set", b"\xff", b"\xed\xa0\x80"]))
        width = {0x8C: "<B", 0x43: "<B", 0x8A: "<B", 0x58: "<I", 0x42: "<I", 0x8B: "<I"}
        return bytes([op]) + struct.pack(width.get(op, "<Q"), len(text)) + text
    return bytes([op]) + draw(st.binary(max_size=draw(st.sampled_from([0, 1, 4, 8]))))


@st.composite
def opcode_soups(draw: st.DrawFn) -> bytes:
    pieces = [draw(st.sampled_from([b"", b"\x80\x02", b"\x80\x04", b"\x80\x05"]))]
    pieces += [_piece(draw) for _ in range(draw(st.integers(0, 25)))]
    return b"".join(pieces) + draw(st.sampled_from([b".", b""]))


@given(opcode_soups(), limits, st.booleans(), st.booleans())
def test_opcode_soups(data: bytes, chosen: Limits, fix_imports: bool, persistent: bool) -> None:
    check(data, limits=chosen, fix_imports=fix_imports, persistent_ids=persistent)


@given(plain_values, st.binary(max_size=8), st.binary(max_size=8), st.booleans())
def test_offsets_and_bytearrays(value: Any, before: bytes, after: bytes, mutable: bool) -> None:
    for _, _, data in dumps_all(value, range(2, 6)):
        framed = before + data + after
        check(bytearray(framed) if mutable else framed, len(before))


# --- hand-written streams ------------------------------------------------------------------------

LIST_GLOBAL = b"\x80\x04\x8c\x08builtins\x8c\x04list\x93"
GETATTR = b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93"
ORDERED_DICT = b"\x8c\x0bcollections\x8c\x0bOrderedDict\x93"


def _frame(size: int) -> bytes:
    return b"\x95" + size.to_bytes(8, "little")


TRICKY: list[tuple[str, bytes, dict[str, Any]]] = [
    ("empty", b"", {}),
    ("stop on an empty stack", b".", {}),
    ("none", b"N.", {}),
    ("no stop", b"N", {}),
    ("garbage after stop", b"N.\xff\xff", {}),
    ("stop with an open mark", b"(N.", {}),
    ("stop right after a mark", b"N(.", {}),
    ("proto 5", b"\x80\x05N.", {}),
    ("proto 6", b"\x80\x06N.", {}),
    ("proto 255", b"\x80\xffN.", {}),
    ("proto not first", b"N\x80\x02.", {}),
    ("proto twice", b"\x80\x02\x80\x02N.", {}),
    ("proto truncated", b"\x80", {}),
    ("invalid first byte", b"\xffN.", {}),
    ("invalid later byte", b"N\xff.", {}),
    ("frame", b"\x80\x05" + _frame(2) + b"N.", {}),
    ("frame past stop", b"\x80\x05" + _frame(3) + b"N.x", {}),
    ("frame longer than the input", b"\x80\x05" + _frame(3) + b"N.", {}),
    ("frame length truncated", b"\x80\x05\x95\x02\x00", {}),
    ("frame length huge", b"\x80\x05" + b"\x95" + b"\xff" * 8 + b"N.", {}),
    ("frame length 2**63", b"\x80\x05\x95" + (1 << 63).to_bytes(8, "little") + b"N.", {}),
    ("frame of nothing", b"\x80\x05" + _frame(0) + b"N.", {}),
    ("frames of nothing", b"\x80\x05" + _frame(0) + _frame(0) + _frame(2) + b"N.", {}),
    ("two frames", b"\x80\x05" + _frame(1) + b"N" + _frame(1) + b".", {}),
    ("a frame then unframed", b"\x80\x05" + _frame(1) + b"NN0.", {}),
    ("a frame ends at stop, bytes after", b"\x80\x05" + _frame(2) + b"N.xx", {}),
    ("bytes after stop in the frame", b"\x80\x05" + _frame(5) + b"N.abc", {}),
    ("a stop and a stop in the frame", b"\x80\x05" + _frame(3) + b"N..", {}),
    # a FRAME may fill the last 9 bytes of the current frame; anywhere else inside it, refused
    ("a frame at the end of a frame", b"\x80\x05" + _frame(11) + b"N0" + _frame(2) + b"N.", {}),
    ("a frame inside a frame", b"\x80\x05" + _frame(12) + b"N0" + _frame(2) + b"N.", {}),
    ("a frame early in a frame", b"\x80\x05" + _frame(12) + b"N" + _frame(2) + b"N.", {}),
    ("a frame past the input in a frame", b"\x80\x05" + _frame(9) + _frame(9) + b"N.", {}),
    ("nested frames past stop", b"\x80\x05" + _frame(10) + b"N" + _frame(3) + b".xy", {}),
    # an opcode may not cross its frame's end
    ("binint1 crosses the frame", b"\x80\x05" + _frame(1) + b"K\x01.", {}),
    ("a run crosses the frame", b"\x80\x05" + _frame(6) + b"(K\x01K\x02K\x03l.", {}),
    ("a long run crosses the frame", b"\x80\x05" + _frame(12) + b"(" + b"K\x01" * 10 + b"l.", {}),
    ("a long run in the frame", b"\x80\x05" + _frame(13) + b"(" + b"K\x01" * 10 + b"l.", {}),
    ("a run ends with the frame", b"\x80\x05" + _frame(7) + b"(K\x01K\x02K\x03l.", {}),
    ("a str crosses the frame", b"\x80\x05" + _frame(3) + b"\x8c\x02ab.", {}),
    ("a str length crosses the frame", b"\x80\x05" + _frame(2) + b"X\x01\x00\x00\x00a.", {}),
    ("binput crosses the frame", b"\x80\x05" + _frame(2) + b"Nq\x00.", {}),
    (
        "long_binput after a str crosses",
        b"\x80\x05" + _frame(6) + b"\x8c\x01ar\x00\x00\x00\x00.",
        {},
    ),
    ("a frame length crosses the frame", b"\x80\x05" + _frame(4) + b"N0" + _frame(2) + b"N.", {}),
    ("a global crosses the frame", b"\x80\x02" + _frame(13) + b"cbuiltins\nset\n.", {}),
    ("a global within the frame", b"\x80\x02" + _frame(15) + b"cbuiltins\nset\n.", {}),
    ("stop outside a frame of the rest", b"\x80\x05" + _frame(3) + b"NN0.", {}),
    # the node model: depth, cost, hash work, unknown keys, calls, sets, BUILD items, the memo
    ("a list appended to itself", b"\x80\x04]\x94h\x00a.", {}),
    ("a list appended to itself twice", b"\x80\x04]\x94h\x00ah\x00a.", {}),
    ("late: a node into a list inside another", b"\x80\x04]\x94]\x94h\x00a0h\x00]a0h\x01.", {}),
    (
        "a plain value into a list inside another",
        b"\x80\x04]\x94]\x94h\x00a0h\x00K\x01a0h\x01.",
        {},
    ),
    (
        "a plain batch into a list inside another",
        b"\x80\x04]\x94]\x94h\x00a0h\x00(K\x01K\x02e0h\x01.",
        {},
    ),
    ("late: a node into a tuple's list", b"\x80\x04]\x94\x85\x94h\x00]a0.", {}),
    ("late: into a call's args", LIST_GLOBAL + b"]\x94\x85R0h\x00]a0N.", {}),
    (
        "late: state into a built instance",
        LIST_GLOBAL + b")\x81\x94]\x94\x85]b0h\x01}b0h\x00.",
        {},
    ),
    ("append into a shared tuple", b"\x80\x04K\x01\x85\x94]\x94h\x00a0h\x00]a.", {}),
    ("setitems into a shared tuple", b"\x80\x04K\x01\x85(K\x01K\x02u.", {}),
    (
        "a shared tuple as a dict key",
        b"\x80\x04K\x01K\x02\x86\x94}(h\x00K\x01u}(h\x00K\x02u\x87.",
        {},
    ),
    ("a tuple of a list as a key", b"\x80\x04](K\x01K\x02e\x85\x94}h\x00K\x01s.", {}),
    ("tuples of tuples as keys", b"\x80\x04}(K\x01\x85\x85\x85K\x01K\x02\x85K\x03\x86K\x02u.", {}),
    ("a doubled tuple as a key", b"\x80\x04}(K\x01\x85" + b"2\x86" * 20 + b"K\x01u.", {}),
    ("a doubled tuple as too big a key", b"\x80\x04}(K\x01\x85" + b"2\x86" * 30 + b"K\x01u.", {}),
    ("a doubled tuple past the cost cap", b"\x80\x04](K\x01\x85" + b"2\x86" * 70 + b"e.", {}),
    (
        "long1 keys",
        b"\x80\x04}(\x8a\x08" + b"\x01" * 8 + b"K\x01\x8a\x07" + b"\x01" * 7 + b"Nu.",
        {},
    ),
    ("a long1 in a tuple key", b"\x80\x04}\x8a\x09" + b"\x01" * 9 + b"\x85K\x01s.", {}),
    ("long4 keys in a set", b"\x80\x04\x8f(\x8b\x01\x00\x00\x00\x01K\x01\x90.", {}),
    ("a frozenset key", b"\x80\x04}((K\x01\x91K\x02u.", {}),
    ("a call's result as a key", LIST_GLOBAL + b")\x81\x94}h\x00K\x01s.", {}),
    ("a dict by mark", b"\x80\x04(K\x01]\x8a\x09" + b"\x01" * 9 + b"Nd.", {}),
    ("a tuple by mark of four", b"\x80\x04(K\x01K\x02K\x03K\x04t.", {}),
    ("a tuple by mark of nothing", b"\x80\x04(t\x94h\x00\x86.", {}),
    ("a tuple by mark of a list", b"\x80\x04(]t.", {}),
    ("build copies the state's items", LIST_GLOBAL + b")\x81}(K\x01K\x02K\x03K\x04ub.", {}),
    ("build with a tuple state", LIST_GLOBAL + b")\x81NK\x01\x86b.", {}),
    ("build onto a shared tuple", b"\x80\x04K\x01\x85}(K\x01K\x02ub.", {}),
    ("build onto plain data", b"\x80\x04N}(K\x01K\x02ub.", {}),
    ("setitems onto plain data", b"\x80\x04N(K\x01\x8a\x09" + b"\x01" * 9 + b"u.", {}),
    ("empty batches", b"\x80\x04](e}(u\x8f(\x90\x87.", {}),
    ("obj with items", LIST_GLOBAL + b"\x94(h\x00]K\x01o.", {}),
    ("obj of nothing", b"\x80\x04(o.", {}),
    ("newobj_ex with kwargs", LIST_GLOBAL + b")}(\x8c\x01aK\x01u\x92}b.", {}),
    ("binint1 truncated", b"K", {}),
    ("binint2 truncated", b"M\x01", {}),
    ("binint truncated", b"J\x01\x02\x03", {}),
    ("binfloat truncated", b"G\x01\x02\x03\x04\x05\x06\x07", {}),
    ("binfloat then stop", b"G" + b"\x00" * 8 + b".", {}),
    ("a run of binint1", b"]" + b"(" + b"K\x01" * 50 + b"e.", {}),
    ("a run cut short", b"]" + b"(" + b"K\x01" * 50, {}),
    (
        "a run of binfloat",
        b"](" + b"G" + b"\x01" * 8 + b"G" + b"\x02" * 8 + b"G\x00" * 9 + b"e.",
        {},
    ),
    ("a run of binint then stop", b"(" + b"J\x01\x02\x03\x04" * 7 + b"t.", {}),
    ("a run ending the input", b"J\x01\x02\x03\x04" * 3, {}),
    ("a run of binint2 into binint1", b"(" + b"M\x01\x02" * 5 + b"K\x01" * 5 + b"l.", {}),
    ("short_binunicode past the end", b"\x8c\x05abc.", {}),
    ("short_binunicode ends at the end", b"\x8c\x02ab", {}),
    ("short_binunicode not utf-8", b"\x8c\x01\xff.", {}),
    ("binunicode huge", b"X\xff\xff\xff\xff.", {}),
    ("binunicode truncated length", b"X\x01\x00", {}),
    ("binunicode8 huge", b"\x8d" + b"\xff" * 8 + b".", {}),
    ("binunicode8 2**63", b"\x8d" + (1 << 63).to_bytes(8, "little") + b"ab.", {}),
    ("binunicode8 fits", b"\x8d" + (2).to_bytes(8, "little") + b"ab.", {}),
    ("binbytes8 huge", b"\x8e" + b"\xff" * 8 + b".", {}),
    ("bytearray8 huge", b"\x96" + b"\xff" * 8 + b".", {}),
    ("bytearray8 fits", b"\x80\x05\x96" + (1).to_bytes(8, "little") + b"a.", {}),
    ("binbytes huge", b"B\xff\xff\xff\xff.", {}),
    ("binbytes fits", b"B\x01\x00\x00\x00a.", {}),
    ("short_binbytes fits", b"C\x01a.", {}),
    ("long1", b"\x8a\x01\x01.", {}),
    ("long1 empty", b"\x8a\x00.", {}),
    ("long4 negative length", b"\x8b\xff\xff\xff\xff.", {}),
    ("long4 length 2**31", b"\x8b\x00\x00\x00\x80" + b"\x00" * 8 + b".", {}),
    ("long4 fits", b"\x8b\x01\x00\x00\x00\x01.", {}),
    ("binstring", b"T\x01\x00\x00\x00a.", {}),
    ("binstring not ascii", b"T\x01\x00\x00\x00\xff.", {}),
    ("short_binstring not ascii", b"U\x01\xff.", {}),
    ("short_binstring latin1", b"U\x01\xff.", {"encoding": "latin1"}),
    ("memoize", b"N\x94h\x00.", {}),
    ("memoize on an empty stack", b"\x94N.", {}),
    ("memoize above a mark", b"N(\x94.", {}),
    ("binput above a mark", b"N(q\x00.", {}),
    ("binput on an empty stack", b"q\x00N.", {}),
    ("binput gap", b"N\x94q\x05.", {}),
    ("binput appends", b"Nq\x00q\x01h\x01.", {}),
    ("binput overwrites", b"Nq\x00]q\x00h\x00.", {}),
    ("binget never written", b"h\x00.", {}),
    ("binget past the memo", b"N\x94h\x01.", {}),
    ("binget truncated", b"N\x94h", {}),
    ("long_binput gap", b"Nr\x01\x00\x00\x00.", {}),
    ("long_binput huge", b"Nr\xff\xff\xff\xff.", {}),
    ("long_binput then long_binget", b"Nr\x00\x00\x00\x00j\x00\x00\x00\x00.", {}),
    ("long_binget huge", b"N\x94j\xff\xff\xff\xff.", {}),
    ("long_binget truncated", b"N\x94j\x00\x00", {}),
    ("binunicode then binput", b"X\x01\x00\x00\x00aq\x00h\x00.", {}),
    ("binunicode then a gap", b"X\x01\x00\x00\x00aq\x01.", {}),
    ("binbytes then long_binput", b"B\x01\x00\x00\x00ar\x00\x00\x00\x00h\x00.", {}),
    ("odd setitems", b"}(K\x01u.", {}),
    ("even setitems", b"}(K\x01K\x02u.", {}),
    ("setitems without a mark", b"}K\x01K\x02u.", {}),
    ("appends without a mark", b"]K\x01e.", {}),
    ("appends with nothing below", b"(K\x01e.", {}),
    ("appends onto a global", LIST_GLOBAL + b"(K\x01e.", {}),
    ("setitems onto a global", LIST_GLOBAL + b"(K\x01K\x02u.", {}),
    ("additems onto a global", LIST_GLOBAL + b"(K\x01\x90.", {}),
    ("append onto a global", LIST_GLOBAL + b"K\x01a.", {}),
    ("setitem onto a global", LIST_GLOBAL + b"K\x01K\x02s.", {}),
    ("build onto a global", LIST_GLOBAL + b"}b.", {}),
    ("append", b"]K\x01a.", {}),
    ("append underflow", b"K\x01a.", {}),
    ("append across a mark", b"](K\x01a.", {}),
    ("setitem underflow", b"K\x01K\x02s.", {}),
    ("setitem across a mark", b"}(K\x01K\x02s.", {}),
    ("build underflow", b"}b.", {}),
    ("a global as an item", b"]" + LIST_GLOBAL[2:] + b"a.", {}),
    ("odd dict", b"(K\x01d.", {}),
    ("even dict", b"(K\x01K\x02d.", {}),
    ("dict without a mark", b"K\x01K\x02d.", {}),
    ("list tuple frozenset", b"(l(t(\x91(K\x01t\x87.", {}),
    ("tuple1 underflow", b"\x85.", {}),
    ("tuple2 underflow", b"N\x86.", {}),
    ("tuple3 across a mark", b"NN(N\x87.", {}),
    ("tuple3", b"NNN\x87.", {}),
    ("empty containers", b")]}\x8f\x87N.", {}),
    ("pop", b"NN0.", {}),
    ("pop a mark", b"N(0.", {}),
    ("pop nothing", b"0N.", {}),
    ("pop_mark", b"N(K\x01K\x021.", {}),
    ("pop_mark without a mark", b"N1.", {}),
    ("dup", b"N2.", {}),
    ("dup nothing", b"2.", {}),
    ("dup above a mark", b"N(2.", {}),
    ("dup a global", LIST_GLOBAL + b"2\x86.", {}),
    ("global", b"cbuiltins\nset\n)\x85R.", {}),
    ("global no newline", b"cbuiltins\nset", {}),
    ("global one newline", b"cbuiltins\n", {}),
    ("global empty names", b"c\n\n.", {}),
    ("global not utf-8", b"c\xff\nset\n.", {}),
    ("global surrogate", b"cbuiltins\n\xed\xa0\x80\n.", {}),
    ("global twice", b"cbuiltins\nset\ncbuiltins\nset\n\x86.", {}),
    (
        "global then stack_global",
        b"\x80\x04cbuiltins\nset\n\x8c\x08builtins\x8c\x03set\x93\x86.",
        {},
    ),
    ("python 2 names", b"\x80\x02c__builtin__\nset\n)\x85R.", {}),
    ("python 2 names unfixed", b"\x80\x02c__builtin__\nset\n)\x85R.", {"fix_imports": False}),
    ("python 2 names at protocol 3", b"\x80\x03c__builtin__\nset\n)\x85R.", {}),
    ("copy_reg", b"\x80\x02ccopy_reg\n_reconstructor\n.", {}),
    ("stack_global", LIST_GLOBAL + b")\x85R.", {}),
    (
        "stack_global from the memo",
        b"\x80\x04\x8c\x08builtins\x94\x8c\x03set\x94\x93\x94h\x00h\x01\x93h\x02\x87.",
        {},
    ),
    ("stack_global not str", b"\x80\x04K\x01K\x02\x93.", {}),
    ("stack_global one str", b"\x80\x04K\x01\x8c\x01a\x93.", {}),
    ("stack_global one operand", b"\x80\x04\x8c\x01a\x93.", {}),
    ("stack_global across a mark", b"\x80\x04\x8c\x01a(\x8c\x01b\x93.", {}),
    ("stack_global not utf-8", b"\x80\x04\x8c\x01\xff\x8c\x01a\x93.", {}),
    ("stack_global name not utf-8", b"\x80\x04\x8c\x01a\x8c\x01\xff\x93.", {}),
    ("stack_global surrogates", b"\x80\x04\x8c\x03\xed\xa0\x80\x8c\x01a\x93.", {}),
    ("stack_global binunicode", b"\x80\x04X\x01\x00\x00\x00aX\x01\x00\x00\x00b\x93.", {}),
    (
        "stack_global binunicode8",
        b"\x80\x04\x8d" + (1).to_bytes(8, "little") + b"a\x8c\x01b\x93.",
        {},
    ),
    ("stack_global unicode", b"\x80\x04Va\n\x8c\x01b\x93.", {}),
    ("reduce a non-global", b"])R.", {}),
    ("newobj a non-global", b"])\x81.", {}),
    ("reduce underflow", b")R.", {}),
    ("reduce across a mark", LIST_GLOBAL + b"()R.", {}),
    ("newobj", LIST_GLOBAL + b")\x81.", {}),
    ("getattr not called", GETATTR + b".", {}),
    ("getattr called on data", GETATTR + b"]\x8c\x06append\x86R.", {}),
    ("getattr newobj", GETATTR + b")\x81.", {}),
    ("getattr shape", GETATTR + ORDERED_DICT + b"\x8c\x04keys\x86R.", {}),
    ("getattr shape by mark", GETATTR + b"(" + ORDERED_DICT + b"\x8c\x04keyst\x85R.", {}),
    (
        "getattr shape memoized",
        GETATTR + b"\x94" + ORDERED_DICT + b"\x8c\x04keys\x86\x94Rh\x01.",
        {},
    ),
    ("a (global, str) tuple", ORDERED_DICT + b"\x8c\x04keys\x86.", {}),
    ("a (global, str) tuple by mark", b"(" + ORDERED_DICT + b"\x8c\x04keyst.", {}),
    ("a (global, str, str) tuple", ORDERED_DICT + b"\x8c\x01a\x8c\x01b\x87.", {}),
    ("python 2 getattr", b"\x80\x02c__builtin__\ngetattr\n]X\x01\x00\x00\x00a\x86R.", {}),
    (
        "python 2 getattr unfixed",
        b"\x80\x02c__builtin__\ngetattr\n]X\x01\x00\x00\x00a\x86R.",
        {"fix_imports": False},
    ),
    ("next_buffer", b"\x80\x05\x97\x98.", {}),
    ("readonly_buffer underflow", b"\x80\x05\x98N.", {}),
    ("readonly_buffer above a mark", b"\x80\x05N(\x98.", {}),
    ("persid", b"Pid\n.", {}),
    ("persid allowed", b"Pid\n.", {"persistent_ids": True}),
    ("binpersid", b"K\x01Q.", {}),
    ("binpersid allowed", b"K\x01Q.", {"persistent_ids": True}),
    ("ext1", b"\x82\x01.", {}),
    ("ext2", b"\x83\x01\x00.", {}),
    ("ext4", b"\x84\x01\x00\x00\x00.", {}),
    ("inst", b"(cbuiltins\nset\nibuiltins\nset\n.", {}),
    ("obj", LIST_GLOBAL + b"(h\x00o.", {}),
    ("newobj_ex", LIST_GLOBAL + b")}\x92.", {}),
    ("text opcodes", b"(I1\nL2L\nF1.5\nS'a'\nVb\np0\ng0\nl.", {}),
    ("int base 0", b"I0x1f\n.", {}),
    # names: at most MAX_NAME_BYTES characters in a GLOBAL line, bytes in a STACK_GLOBAL operand
    ("global name at the limit", b"c" + b"m" * 1024 + b"\n" + b"n" * 1024 + b"\n.", {}),
    ("global module too long", b"c" + b"m" * 1025 + b"\nn\n.", {}),
    ("global name too long", b"cm\n" + b"n" * 1025 + b"\n.", {}),
    ("global 2-byte names", b"c" + "\xe9".encode() * 1000 + b"\nn\n.", {}),
    (
        "stack_global name at the limit",
        b"\x80\x04\x8c\x01mX\x00\x04\x00\x00" + b"n" * 1024 + b"\x93.",
        {},
    ),
    (
        "stack_global name too long",
        b"\x80\x04\x8c\x01mX\x01\x04\x00\x00" + b"n" * 1025 + b"\x93.",
        {},
    ),
    (
        "stack_global 2-byte names",
        b"\x80\x04X\xd0\x07\x00\x00" + "\xe9".encode() * 1000 + b"\x8c\x01n\x93.",
        {},
    ),
    # what a call returned, changed: GlobalUse.mutated for the callee and its class arguments
    ("reduce then build", b"cbuiltins\nset\n)\x85R}b.", {}),
    ("newobj then build", LIST_GLOBAL + b")\x81}b.", {}),
    ("reduce then append", LIST_GLOBAL + b")\x85RK\x01a.", {}),
    ("reduce then setitem", LIST_GLOBAL + b")\x85RK\x01K\x02s.", {}),
    ("reduce then appends", LIST_GLOBAL + b")\x85R(K\x01e.", {}),
    ("reduce then additems", LIST_GLOBAL + b")\x85R(K\x01\x90.", {}),
    ("reduce then setitems", LIST_GLOBAL + b")\x85R\x94(K\x01K\x02u0h\x00}b.", {}),
    ("a result changed from the memo", LIST_GLOBAL + b")\x85R\x94Nh\x00}b\x86.", {}),
    ("an enum member changed", b"ctest_speedups\nColor\nK\x01\x85R}b.", {}),
    ("a class argument", b"cfunctools\npartial\ncbuiltins\nlen\n\x85R.", {}),
    ("a class argument changed", b"cfunctools\npartial\ncbuiltins\nlen\n\x85R}b.", {}),
    (
        "two class arguments changed",
        b"ccopy_reg\n_reconstructor\n(ctest_speedups\nPoint\ncbuiltins\nobject\nNtR}b.",
        {},
    ),
    (
        "class arguments by mark, changed",
        b"\x80\x02ccopy_reg\n_reconstructor\n(ctest_speedups\nPlain\nN\x8c\x01xtR}b.",
        {},
    ),
    (
        "class arguments from the memo",
        b"cfunctools\npartial\ncbuiltins\nlen\n\x85\x94Rh\x00\x86.",
        {},
    ),
    ("class arguments newobj", b"cfunctools\npartial\ncbuiltins\nlen\n\x85\x81}b.", {}),
    ("a global and two strs", b"\x80\x04" + ORDERED_DICT + b"\x8c\x01a\x8c\x01b\x87.", {}),
    ("an empty tuple by mark", b"cbuiltins\nset\n(tR}b.", {}),
    # ranges: passed into a materialising constructor they are refused
    ("range not called", b"cbuiltins\nrange\n.", {}),
    ("range", b"cbuiltins\nrange\nK\x05\x85R.", {}),
    ("range into list", b"cbuiltins\nlist\ncbuiltins\nrange\nK\x05\x85R\x85R.", {}),
    ("bare range into list", b"cbuiltins\nlist\ncbuiltins\nrange\nK\x05\x85RR.", {}),
    ("range into list by newobj", b"cbuiltins\nlist\ncbuiltins\nrange\nK\x05\x85R\x85\x81.", {}),
    ("range into list by mark", b"cbuiltins\nlist\n(cbuiltins\nrange\nK\x05\x85RtR.", {}),
    ("range into reversed", b"cbuiltins\nreversed\ncbuiltins\nrange\nK\x05\x85R\x85R.", {}),
    (
        "python 2 xrange into list",
        b"\x80\x02c__builtin__\nlist\nc__builtin__\nxrange\nK\x05\x85R\x85R.",
        {},
    ),
    (
        "range through __newobj__",
        b"\x80\x02ccopyreg\n__newobj__\ncbuiltins\nrange\nK\x00K\x05\x87R.",
        {},
    ),
    (
        "range through __newobj__ into list",
        b"\x80\x02cbuiltins\nlist\nccopyreg\n__newobj__\ncbuiltins\nrange\nK\x00K\x05\x87R\x85R.",
        {},
    ),
    (
        "range through _reconstructor, changed",
        b"ccopy_reg\n_reconstructor\n(cbuiltins\nrange\ncbuiltins\nobject\nNtR}b.",
        {},
    ),
    ("range as a class argument, changed", b"cfunctools\npartial\ncbuiltins\nrange\n\x85R}b.", {}),
    (
        "range in class arguments into _reconstructor",
        b"ccopy_reg\n_reconstructor\n(cbuiltins\nlist\ncbuiltins\nlist\ncbuiltins\nrange\nK\x05\x85RtR.",
        {},
    ),
    (
        "python 2 xrange into list unfixed",
        b"\x80\x02c__builtin__\nlist\nc__builtin__\nxrange\nK\x05\x85R\x85R.",
        {"fix_imports": False},
    ),
]


@pytest.mark.parametrize(
    ("data", "options"), [case[1:] for case in TRICKY], ids=[c[0] for c in TRICKY]
)
def test_tricky_streams(data: bytes, options: dict[str, Any]) -> None:
    check(data, **options)
    check(bytearray(data), **options)
    check(b"xyz" + data, 3, **options)
    for cut in range(len(data)):
        check(data[:cut], **options)


LIMITED: list[tuple[str, bytes, Limits]] = [
    ("opcodes at the limit", b"NNN.", Limits(max_opcodes=4)),
    ("opcodes over the limit", b"NNN.", Limits(max_opcodes=3)),
    ("a run over the opcode limit", b"](" + b"K\x01" * 40 + b"e.", Limits(max_opcodes=20)),
    ("stack at the limit", b"(((N.", Limits(max_stack_depth=4)),
    ("stack over the limit", b"(((N.", Limits(max_stack_depth=3)),
    ("marks over the limit", b"N" + b"(" * 5 + b"N.", Limits(max_stack_depth=5)),
    ("values over the limit", b"NNNN0000N.", Limits(max_stack_depth=3)),
    ("a batch over the depth", b"](" + b"K\x01" * 100 + b"e.", Limits(max_stack_depth=50)),
    ("a run at the depth", b"(" + b"K\x01" * 10 + b"l.", Limits(max_stack_depth=11)),
    ("a run over the depth", b"(" + b"K\x01" * 10 + b"l.", Limits(max_stack_depth=10)),
    (
        "a binfloat run at the opcode limit",
        b"(" + (b"G" + b"\x00" * 8) * 9 + b"l.",
        Limits(max_opcodes=12),
    ),
    (
        "a binfloat run over the opcode limit",
        b"(" + (b"G" + b"\x00" * 8) * 9 + b"l.",
        Limits(max_opcodes=11),
    ),
    ("memo at the limit", b"N\x94\x94.", Limits(max_memo_entries=2)),
    ("memo over the limit", b"N\x94\x94.", Limits(max_memo_entries=1)),
    ("memo overwritten", b"Nq\x00q\x00q\x00.", Limits(max_memo_entries=1)),
    ("batch at the limit", b"](K\x01K\x02e.", Limits(max_container_items=2)),
    ("batch over the limit", b"](K\x01K\x02K\x03e.", Limits(max_container_items=2)),
    ("tuple over the limit", b"(K\x01K\x02K\x03t.", Limits(max_container_items=2)),
    ("tuple3 is no batch", b"K\x01K\x02K\x03\x87.", Limits(max_container_items=2)),
    ("pop_mark over the limit", b"N(K\x01K\x02K\x031.", Limits(max_container_items=2)),
    ("input at the limit", b"NNN.", Limits(max_input_bytes=4)),
    ("input over the limit", b"NNN.", Limits(max_input_bytes=3)),
    ("frame past the input limit", b"\x80\x05" + _frame(2) + b"N.xx", Limits(max_input_bytes=12)),
    # past 0x4000 opcodes the Python pass checks the limits it otherwise checks at STOP only
    ("periodic depth", b"(" + b"K\x01" * 20_000 + b"l.", Limits(max_stack_depth=10_000)),
    ("periodic depth passes", b"(" + b"K\x01" * 20_000 + b"l.", Limits(max_stack_depth=20_001)),
    ("periodic memo", b"N" + b"\x94" * 20_000 + b".", Limits(max_memo_entries=19_999)),
    ("periodic opcodes", b"N" + b"\x94" * 20_000 + b".", Limits(max_opcodes=17_000)),
    ("nesting at the limit", b"(((N.", Limits(max_nesting=3)),
    ("nesting over the limit", b"(((N.", Limits(max_nesting=2)),
    ("nesting closed again", b"((l(l(lN.", Limits(max_nesting=2)),
    ("globals at the limit", b"cbuiltins\nset\ncbuiltins\nlist\n\x86.", Limits(max_globals=2)),
    ("globals over the limit", b"cbuiltins\nset\ncbuiltins\nlist\n\x86.", Limits(max_globals=1)),
    ("one global twice", b"cbuiltins\nset\ncbuiltins\nset\n\x86.", Limits(max_globals=1)),
]


@pytest.mark.parametrize(
    ("data", "chosen"), [case[1:] for case in LIMITED], ids=[c[0] for c in LIMITED]
)
def test_limits(data: bytes, chosen: Limits) -> None:
    check(data, limits=chosen)
    check(b"\x80\x05" + data, limits=chosen)


# --- what the compiled pass must do on its own ---------------------------------------------------


@needs_c
@pytest.mark.parametrize(
    "data",
    [
        b"N.",
        b"\x80\x05" + _frame(2) + b"N.",
        b"(N.",
        b"NN0.",
        b"N(0.",
        b"N2.",
        b"N(K\x01K\x021.",
        b"\x80\x05\x97\x98.",
        b"cbuiltins\nset\n)\x85R.",
        b"\x80\x04\x8c\x08builtins\x94\x8c\x03set\x94\x93\x94h\x00h\x01\x93h\x02\x87.",
        GETATTR + b".",
        b"\x80\x02c__builtin__\ngetattr\n]X\x01\x00\x00\x00a\x86R.",  # with fix_imports=False
        b"\x8c\x01\xff.",
        *(
            data
            for name, data, _ in TRICKY
            if name.startswith(("reduce then", "newobj then", "a result", "an enum", "class arg"))
            or name
            in {
                "range not called",
                "a class argument changed",
                "two class arguments changed",
                "a global and two strs",
                "an empty tuple by mark",
                "global name at the limit",
                "global 2-byte names",
                "stack_global name at the limit",
                "frame past stop",
                "frames of nothing",
                "two frames",
                "a frame then unframed",
                "a frame ends at stop, bytes after",
                "bytes after stop in the frame",
                "a stop and a stop in the frame",
                "a frame at the end of a frame",
                "nested frames past stop",
                "a run ends with the frame",
                "a long run in the frame",
                "a global within the frame",
                "a plain value into a list inside another",
                "a plain batch into a list inside another",
                "append into a shared tuple",
                "setitems into a shared tuple",
                "a shared tuple as a dict key",
                "a tuple of a list as a key",
                "tuples of tuples as keys",
                "a doubled tuple as a key",
                "a doubled tuple past the cost cap",
                "long1 keys",
                "a long1 in a tuple key",
                "long4 keys in a set",
                "a frozenset key",
                "a call's result as a key",
                "a dict by mark",
                "a tuple by mark of four",
                "a tuple by mark of nothing",
                "a tuple by mark of a list",
                "build copies the state's items",
                "build with a tuple state",
                "build onto a shared tuple",
                "build onto plain data",
                "setitems onto plain data",
                "empty batches",
                "obj with items",
                "newobj_ex with kwargs",
            }
        ),
    ],
)
def test_the_compiled_pass_accepts(data: bytes) -> None:
    assert check(data, fix_imports=False)


@needs_c
def test_changed_results_mark_their_callee_and_class_arguments() -> None:
    data = b"ccopy_reg\n_reconstructor\n(ctest_speedups\nPoint\ncbuiltins\nobject\nNtR}b."
    verified = V._verify_with("c", data, limits=DEFAULT)
    assert verified is not None
    assert [(use.raw_name, use.mutated) for use in verified.globals] == [
        ("_reconstructor", True),
        ("Point", True),
        ("object", True),
    ]
    data = b"cbuiltins\nset\n)\x85Rcbuiltins\nlist\n)\x85R}b\x86."  # only list() changed
    verified = V._verify_with("c", data, limits=DEFAULT)
    assert verified is not None
    assert [use.mutated for use in verified.globals] == [False, True]


@needs_c
def test_a_global_named_twice_and_fetched_from_the_memo() -> None:
    """Two STACK_GLOBALs of one name, a memo GET of it and a DUP: one global, first offset."""
    data = b"\x80\x04\x8c\x08builtins\x94\x8c\x03set\x94\x93\x94h\x00h\x01\x93h\x022\x87\x85."
    assert check(data)
    verified = V._verify_with("c", data, limits=DEFAULT)
    assert verified is not None
    (use,) = verified.globals
    assert (use.raw_module, use.raw_name, use.offset, use.opcode) == (
        "builtins",
        "set",
        19,
        "STACK_GLOBAL",
    )
    assert use.ref == GlobalRef("builtins", "set") and not use.shape_only
    assert verified.opcodes == 15 and verified.end == len(data)


def _many_globals(count: int, width: int) -> bytes:
    """``count`` distinct globals, each naming ``2 * width`` characters."""
    parts = [b"\x80\x04\x8d" + width.to_bytes(8, "little") + b"m" * width + b"\x94"]
    for i in range(count):
        name = b"%06d" % i + b"n" * (width - 6)
        parts.append(b"h\x00X" + len(name).to_bytes(4, "little") + name + b"\x930")
    return b"".join(parts) + b"N."


@pytest.mark.parametrize("count", [520, 530])
def test_the_budget_of_all_names(count: int) -> None:
    """Python bounds the total length of the distinct globals' names (about a megabyte)."""
    accepted = check(_many_globals(count, 1000))
    assert accepted == (HAVE_C and count == 520)


@needs_c
def test_the_raw_function_bails_on_odd_arguments() -> None:
    fast = V._c_fast_verify
    assert fast is not None
    big = sys.maxsize
    many = (big,) * 11 + (False,)  # the limits, then persistent_ok
    # hash work, unknown keys, calls, sets, BUILD items, memo entries, memo slots, graph depth,
    # the depth that went past max_depth and where
    nothing = (0,) * 10

    assert fast(b"N.", 0, 2, *many) == (2, 0, False, 2, 0, (), 0, nothing, None)
    assert fast(b"N.", 0, 99, *many) == (2, 0, False, 2, 0, (), 0, nothing, None)  # n past end
    assert fast(b"N.", -1, 2, *many) is None
    assert fast(b"N.", 2, 2, *many) is None
    # refused by the compiled pass itself: (kind, offset, argument), end -1 (verify._refusal)
    ran_out = fast(b"N.", 0, 1, *many)  # STOP lies past n: the input ended first
    assert ran_out is not None and ran_out[0] == -1 and ran_out[-1] == (V._R_TRUNCATED, 1, 0)
    inside_frame = fast(b"\x80\x04\x95\x10\x00", 0, 5, *many)  # inside a frame's prefix
    assert inside_frame is not None and inside_frame[-1] == (V._R_TRUNCATED, 2, 0)
    pop_nothing = fast(b"\x80\x040", 0, 3, *many)  # a POP of nothing
    assert pop_nothing is not None and pop_nothing[-1] == (V._R_UNDERFLOW, 2, ord("0"))
    assert fast(b"N.", 0, -5, *many) is None
    for at in range(11):  # a limit below 1 is for Python to report
        assert fast(b"N.", 0, 2, *many[:at], 0, *many[at + 1 :]) is None
    assert fast(memoryview(b"N."), 0, 2, *many) is None  # type: ignore[arg-type]
    huge = 1 << 200  # ints past Py_ssize_t saturate
    assert fast(b"N.", 0, huge, *(huge,) * 11, False) == (2, 0, False, 2, 0, (), 0, nothing, None)
    # BINPERSID only when a plugin resolves persistent ids; the id becomes plain data
    persistent = b"\x80\x02X\x03\x00\x00\x00abcQ\x85."
    refused = fast(persistent, 0, len(persistent), *many)
    assert refused is not None and refused[-1] == (V._R_NO_PERSISTENT_LOAD, 10, ord("Q"))
    accepted = fast(persistent, 0, len(persistent), *many[:-1], True)
    assert accepted == (len(persistent), 2, False, 5, 0, (), 1, nothing, None)
    nothing_to_pop = fast(b"\x80\x02Q.", 0, 4, *many[:-1], True)
    assert nothing_to_pop is not None and nothing_to_pop[-1] == (V._R_UNDERFLOW, 2, ord("Q"))
    assert fast(b"N.", -huge, 2, *many) is None
    assert fast(b"N.", huge, 2, *many) is None
    with pytest.raises(TypeError):
        fast(b"N.", 0, 2, *many[1:])  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        fast(b"N.", 0, 2.0, *many)  # type: ignore[arg-type]


@needs_c
def test_a_verified_bytearray_can_grow_again() -> None:
    """The buffer is released on every path, so a file reader may keep filling it."""
    for data in (b"N.", b"N", b"\x80\x04" + GETATTR[2:] + b")\x81."):
        buf = bytearray(data)
        assert V._c_fast_verify is not None
        V._c_fast_verify(buf, 0, len(buf), *(10,) * 11, False)
        buf += b"more"  # BufferError if an export were still held


@needs_c
def test_no_memory_or_references_leak() -> None:
    value = [Point(i, f"s{i}") for i in range(50)] + [collections.OrderedDict(a=Color.RED)]
    streams = [data for _, _, data in dumps_all(value)] + [case[1] for case in TRICKY]
    fast = V._c_fast_verify
    assert fast is not None

    def run() -> None:
        for data in streams:
            fast(data, 0, len(data), *(10**6,) * 11, False)

    run()
    references = [sys.getrefcount(data) for data in streams]
    tracemalloc.start()
    try:
        run()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            run()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 10_000
    assert [sys.getrefcount(data) for data in streams] == references


@needs_c
@settings(max_examples=20)
@given(st.integers(1, 3_000))
def test_large_streams(count: int) -> None:
    """Past the growth steps of every C array and the Python pass's periodic checks."""
    value = {
        "ints": list(range(-count, count * 1000, 997)),
        "strs": {f"k{i}": f"v{i}" for i in range(count)},
        "points": [Point(i, decimal.Decimal(i)) for i in range(count // 10)],
        "nested": fractions.Fraction(1, 3),
        "uuid": uuid.UUID(int=count),
    }
    for _, protocol, data in dumps_all(value):
        assert check(data) or protocol < 2


# --- frames: any opcode boundary, nested, crossed, bytes after STOP -----------------------------


def _opcodes(data: bytes) -> list[bytes]:
    """The opcodes of one stream, each with its argument; its FRAMEs left out."""
    ops = [(op.name, pos) for op, _, pos in pickletools.genops(data) if pos is not None]
    ends = [pos for _, pos in ops[1:]] + [ops[-1][1] + 1]  # the last one is STOP
    return [data[pos:end] for (name, pos), end in zip(ops, ends, strict=True) if name != "FRAME"]


@st.composite
def reframed_pickles(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> tuple[bytes, bool]:
    """A protocol 4 or 5 pickle cut into frames anew at any opcode boundaries: frames of
    nothing, a frame that holds the next FRAME in its last 9 bytes (nested), frames a few bytes
    short or long (an opcode crosses their end, or a FRAME begins inside them), bytes after STOP
    inside the last frame or after it. Also returns whether every frame is exact."""
    data = pickle.dumps(draw(values), draw(st.sampled_from([4, 5])))
    ops = _opcodes(data)
    head, body = ops[:1], ops[1:]  # PROTO stays first
    cuts = sorted(draw(st.sets(st.integers(0, len(body)), max_size=5)))
    groups = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    after_stop = draw(st.sampled_from([b"", b"", b".", b"\x00junk", b"\x95"]))
    framed = [draw(st.booleans()) for _ in groups]
    exact = True
    pieces = [*head]
    for index, group in enumerate(groups):
        chunk = b"".join(group)
        if index == len(groups) - 1:
            chunk += after_stop
        if framed[index]:
            nested = index + 1 < len(groups) and framed[index + 1]
            delta = draw(st.sampled_from([0, 0, 0, 9, -1, 1, -2, 3] if nested else [0, 0, -1, 1]))
            exact = exact and delta in ((0, 9) if nested else (0,))
            pieces.append(_frame(max(0, len(chunk) + delta)))
        pieces.append(chunk)
    return b"".join(pieces), exact


@given(reframed_pickles(plain_values), limits)
def test_frames_anywhere(case: tuple[bytes, bool], chosen: Limits) -> None:
    data, _ = case
    check(data, limits=chosen)
    check(b"\x00" + data, 1)


@needs_c
@given(reframed_pickles(common_values))
def test_the_compiled_pass_accepts_every_exact_framing(case: tuple[bytes, bool]) -> None:
    """However a pickle is framed, when the frames fit its opcodes (nested ones too, bytes
    after STOP too) the compiled pass accepts it on its own; when they do not, Python refuses."""
    data, exact = case
    accepted = check(data)
    try:
        V._verify_with("python", data, limits=DEFAULT)
    except SafePickleError:
        assert not exact
        return
    assert accepted


# --- the node model: depth, late insertions, hash work -------------------------------------------


def _nested(kind: str, depth: int) -> Any:
    """A value ``depth`` deep as the verifier counts it (scalars 0, an empty container 1)."""
    value: Any
    if kind == "list":
        value = []
        for _ in range(depth - 1):
            value = [value]
    elif kind == "tuple":  # (1,) is a shared flat tuple of depth 1
        value = (1,)
        for _ in range(depth - 1):
            value = (value, 2)
    elif kind == "dict":
        value = {}
        for _ in range(depth - 1):
            value = {"k": value}
    elif kind == "frozenset":
        value = frozenset()
        for _ in range(depth - 1):
            value = frozenset({value})
    else:  # objects: NEWOBJ + BUILD, two levels each (the instance holds its state dict)
        value = Plain()
        for _ in range(depth // 2 - 1):
            value = Plain(value)
    return value


@given(
    st.integers(1, 40),
    st.sampled_from(["list", "tuple", "dict", "frozenset", "objects"]),
    st.integers(-2, 2),
)
def test_nesting_near_max_depth(depth: int, kind: str, offset: int) -> None:
    chosen = Limits(max_depth=max(1, depth + offset))
    for _, protocol, data in dumps_all(_nested(kind, depth)):
        accepted = check(data, limits=chosen)
        try:
            V._verify_with("python", data, limits=chosen)
        except SafePickleError:
            assert not accepted
            continue
        assert accepted or not HAVE_C or protocol < 2


#: what memo_programs does next: make a container, or link, hash or call the ones made
_ACTIONS = (
    *("list", "dict", "set", "tuple", "frozenset", "call", "link"),
    *("plain", "key", "hashy", "add", "build", "double", "batch"),
)


@st.composite
def memo_programs(draw: st.DrawFn) -> bytes:
    """Containers made, then linked through the memo in any order: values into values that are
    already inside others (late insertions), cycles, tuples and frozensets shared as dict keys,
    hashy ints as keys, doubled tuples, calls and BUILD on their results."""
    out = [b"\x80\x04" + LIST_GLOBAL[2:] + b"\x94"]  # memo 0: builtins.list
    made = 1
    for _ in range(draw(st.integers(1, 16))):
        action = draw(st.sampled_from(_ACTIONS))
        if made == 1 or action in ("list", "dict", "set"):
            out.append({"dict": b"}", "set": b"\x8f"}.get(action, b"]") + b"\x940")
            made += 1
            continue
        i = draw(st.integers(1, made - 1))
        j = draw(st.integers(1, made - 1))
        get_i, get_j = b"h" + bytes([i]), b"h" + bytes([j])
        if action == "tuple":
            out.append(get_i + draw(st.sampled_from([get_j, b"K\x01", b"\x8a\x08" + b"\x07" * 8]))
                       + b"\x86\x940")  # fmt: skip
        elif action == "frozenset":
            out.append(b"(" + get_i + get_j + b"\x91\x940")
        elif action == "call":
            out.append(b"h\x00" + get_i + b"\x85R\x940")
        elif action == "double":
            out.append(get_i + b"2\x86" * draw(st.integers(1, 8)) + b"\x940")
        elif action == "link":
            out.append(get_i + get_j + b"a0")
        elif action == "plain":
            out.append(get_i + b"K\x01a0")
        elif action == "key":
            out.append(get_i + get_j + b"K\x01s0")
        elif action == "hashy":
            out.append(get_i + b"\x8a\x09" + b"\x05" * 9 + get_j + b"s0")
        elif action == "add":
            out.append(get_i + b"(" + get_j + b"K\x01\x90" + b"0")
        elif action == "build":
            out.append(get_i + get_j + b"b0")
        else:  # a batch of items from the memo
            out.append(get_i + b"(" + get_j + b"K\x01" + get_j + b"e0")
        made += 1 if action in ("tuple", "frozenset", "call", "double") else 0
    out.append(b"h" + bytes([draw(st.integers(0, made - 1))]) + b".")
    return b"".join(out)


small_node_limits = st.builds(
    Limits,
    max_depth=st.one_of(st.just(DEFAULT.max_depth), st.integers(1, 8)),
    max_hash_work=st.one_of(st.just(DEFAULT.max_hash_work), st.integers(1, 60)),
    max_container_items=st.one_of(st.just(DEFAULT.max_container_items), st.integers(1, 3)),
)


@settings(max_examples=300)
@given(memo_programs(), small_node_limits)
def test_containers_linked_through_the_memo(data: bytes, chosen: Limits) -> None:
    check(data, limits=chosen)


@given(memo_programs(), st.lists(mutations, min_size=1, max_size=3))
def test_memo_programs_mutated(data: bytes, changes: list[Mutation]) -> None:
    check(mutate(data, changes))


@needs_c
@pytest.mark.parametrize("doublings", [0, 1, 5, 20, 40, 61, 62, 63, 70])
def test_hash_work_at_its_limit(doublings: int) -> None:
    """A tuple doubled with DUP holds 2**n values unfolded, saturating at COST_CAP, and hashing
    it as a key walks them all: the compiled pass counts what Python counts, to the unit."""
    data = b"\x80\x04}(K\x01\x85" + b"2\x86" * doublings + b"\x8a\x09" + b"\x01" * 9 + b"u."
    unlimited = Limits(max_hash_work=1 << 100, max_result_bytes=1 << 100)
    verified = V._verify_with("python", data, limits=unlimited)
    assert verified is not None
    work = verified.hash_work
    assert work == min(3 * 2**doublings - 1, 1 << 62)
    assert check(data, limits=unlimited)
    assert check(data, limits=Limits(max_hash_work=work))
    assert not check(data, limits=Limits(max_hash_work=work - 1)) if work > 1 else True
    compiled = V._verify_with("c", data, limits=Limits(max_hash_work=work))
    assert compiled is not None and compiled.unknown_hash_keys == 0


@given(
    st.lists(_hashable_leaves(ranges=False), min_size=1, max_size=3).map(tuple),
    st.integers(2**63, 2**80),
)
def test_shared_tuples_and_big_ints_as_keys(key: tuple[Any, ...], big: int) -> None:
    value = [key, {key: 1}, {key: 2, big: 3, (big,): 4}, frozenset({key, big}), {big}]
    for _, _, data in dumps_all(value):
        check(data)


# --- the compiled pass does not bail on what real programs pickle -------------------------------


BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks")


@needs_c
@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize(
    "name", ["ints", "str_dict", "dataclasses", "stdlib_values", "nested_list", "records"]
)
def test_the_compiled_pass_accepts_the_benchmark_payloads(
    name: str, protocol: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payloads of benchmarks/bench.py (1/10 size), and the three the node model was timed
    on: a silent regression to "always bail" would make every load run the Python pass."""
    monkeypatch.syspath_prepend(BENCHMARKS)
    import payloads  # type: ignore[import-not-found]

    if name == "records":
        values = [
            [{"a": i, "b": (i, i + 1), "c": [i]} for i in range(2_000)],
            [payloads.Record(i, f"r{i}", i * 0.5, i % 7) for i in range(2_000)],
            list(range(20_000)),
        ]
    else:
        payload = payloads.build(name, quick=True)
        values = [payload.obj]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5_000))
    streams = []
    try:
        for value in values:
            try:
                streams.append(pickle.dumps(value, protocol))
            except RecursionError:  # 3.12's C pickler stops at a fixed C recursion limit
                streams.append(pickle._dumps(value, protocol))  # type: ignore[attr-defined]
    finally:
        sys.setrecursionlimit(limit)
    for data in streams:
        assert check(data), (name, protocol)


# --- the counts, field by field -----------------------------------------------------------------


def _python_counts(data: bytes, limits: Limits) -> tuple[int, ...]:
    """What the Python pass's Tally and memo counted (the compiled pass's last item)."""
    state = V._State(0, limits, True, "ASCII", "strict", False)
    V._run(data, 0, len(data), state)
    tally = state.tally
    return (
        tally.hash_work,
        tally.unknown_keys,
        tally.calls,
        tally.empty_sets,
        tally.build_items,
        *state.memo_size,
        tally.depth_of_graph() if tally.late else 0,
        0,  # a value past max_depth: the Python pass raises instead
        0,
    )


def _compiled_counts(data: bytes, limits: Limits) -> tuple[int, ...] | None:
    assert V._c_fast_verify is not None
    found = V._c_fast_verify(
        data,
        0,
        len(data),
        limits.max_opcodes,
        limits.max_stack_depth,
        limits.max_nesting,
        limits.max_memo_entries,
        limits.max_container_items,
        limits.max_globals,
        V.MAX_NAME_BYTES,
        limits.max_global_name_bytes,
        limits.max_depth,
        limits.max_hash_work,
        limits.max_slow_path_bytes,
        False,
    )
    return None if found is None or found[0] < 0 else tuple(found[7])


@needs_c
@given(st.one_of(common_values.map(lambda value: pickle.dumps(value, 4)), memo_programs()))
def test_every_count_is_pythons(data: bytes) -> None:
    """estimated_bytes is a sum of counts: compare the counts themselves, so that two wrong
    ones cannot make a right sum."""
    compiled = _compiled_counts(data, DEFAULT)
    if compiled is not None and compiled[8]:  # too deep: where the Python pass refuses it
        with pytest.raises(LimitExceeded) as refused:
            _python_counts(data, DEFAULT)
        assert (refused.value.limit, refused.value.offset) == ("max_depth", compiled[9])
        assert f"{compiled[8]:,} deep" in str(refused.value)
    elif compiled is not None:
        assert compiled == _python_counts(data, DEFAULT)
