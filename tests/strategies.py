"""Hypothesis strategies for the property tests: values, object graphs, hostile and broken bytes.

Everything here builds values only from types the default policy allows (or from
:mod:`sample_classes`, which the tests pass through ``allow=``), so a disagreement between
``safepickle.loads`` and ``pickle.loads`` is always safepickle's bug, never a policy refusal.
"""

from __future__ import annotations

import array
import collections
import datetime
import decimal
import ipaddress
import pathlib
import pickle
import pickletools
import uuid
import zoneinfo
from collections.abc import Callable, Hashable
from typing import Any

import sample_classes
from hypothesis import strategies as st

PROTOCOLS = tuple(range(pickle.HIGHEST_PROTOCOL + 1))

# --- leaves -----------------------------------------------------------------------------------

#: Python's ``int`` <-> decimal text limit (``sys.get_int_max_str_digits``): protocols 0 and 1
#: write every int that does not fit BININT as decimal text, so pickle itself cannot dump a
#: longer one there. Ints up to this many digits go to every protocol.
INT_TEXT_DIGITS = 4300

#: ints around the places where the pickler switches opcodes (BININT1/BININT2/BININT/LONG1/
#: LONG4) and the protocol-0 text limit, where an off-by-one in the verifier would show
_INT_EDGES = (
    0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -(2**31), 2**31, -(2**31) - 1,
    2**63 - 1, -(2**63), 2**64, 2**2039, -(2**2040), 10**(INT_TEXT_DIGITS - 1),
    10**INT_TEXT_DIGITS - 1, -(10**INT_TEXT_DIGITS - 1),
)  # fmt: skip


#: ranges within the default max_container_items (longer ones are refused, see
#: tests/test_policy.py::test_ranges_are_bounded_by_max_container_items)
ranges: st.SearchStrategy[range] = st.builds(
    lambda start, length, step, slack: range(start, start + length * step + slack, step),
    st.integers(-(2**70), 2**70),
    st.integers(0, 2_000_000 - 1),
    st.integers(-(2**40), 2**40).filter(bool),
    st.integers(-1, 1),
)


def _int_edge(index: int) -> int:
    """``_INT_EDGES[index]`` (sampling indices keeps the strategy's repr short)."""
    return _INT_EDGES[index]


@st.composite
def big_ints(draw: st.DrawFn, min_bits: int = 0, max_bits: int = 14_000) -> int:
    """An int of ``min_bits`` to ``max_bits`` bits, either sign.

    A composite rather than ``st.integers(-(2**14000), 2**14000)``, whose repr (the bounds in
    full) is so long that Hypothesis warns about it, and pytest's filterwarnings=error turns
    the warning into a failure. 14,000 bits is about 4,200 decimal digits: within the text
    limit, so every protocol can write it.
    """
    bits = draw(st.integers(min_bits, max_bits))
    magnitude = draw(st.integers(1 << max(bits - 1, 0), (1 << bits) - 1)) if bits else 0
    return -magnitude if draw(st.booleans()) else magnitude


ints: st.SearchStrategy[int] = st.one_of(
    st.integers(),
    st.integers(0, len(_INT_EDGES) - 1).map(_int_edge),
    big_ints(),
)

#: text with lone surrogates, which every protocol round-trips (``surrogatepass`` for
#: BINUNICODE, ``raw-unicode-escape`` for protocol 0's UNICODE)
texts: st.SearchStrategy[str] = st.text(st.characters(exclude_categories=()), max_size=30)

floats: st.SearchStrategy[float] = st.floats(allow_nan=True, allow_infinity=True)

#: floats that may be dict keys and set members: no NaN, because ``nan != nan`` lets a dict or
#: set hold several NaN keys that no longer match up one to one after a round trip
key_floats: st.SearchStrategy[float] = st.floats(allow_nan=False, allow_infinity=True)

scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    floats,
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    texts,
    st.binary(max_size=40),
    st.binary(max_size=40).map(bytearray),
    st.sampled_from([Ellipsis, NotImplemented]),
)

hashable_scalars: st.SearchStrategy[Hashable] = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    key_floats,
    st.complex_numbers(allow_nan=False, allow_infinity=True),
    texts,
    st.binary(max_size=20),
)


def hashables(max_leaves: int = 6) -> st.SearchStrategy[Hashable]:
    """Hashable values, nested through tuples and frozensets (valid dict keys/set members)."""
    return st.recursive(
        hashable_scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(tuple),
            st.frozensets(inner, max_size=3),
        ),
        max_leaves=max_leaves,
    )


# --- standard-library values the default policy allows ----------------------------------------


def _fixed_offsets() -> st.SearchStrategy[datetime.timezone]:
    """``datetime.timezone`` with an offset strictly inside +-24h, named or not."""
    offsets = st.timedeltas(
        min_value=datetime.timedelta(hours=-23, minutes=-59, seconds=-59),
        max_value=datetime.timedelta(hours=23, minutes=59, seconds=59),
    )
    return st.one_of(
        st.builds(datetime.timezone, offsets),
        st.builds(datetime.timezone, offsets, st.text(max_size=8)),
    )


def _zoneinfo_available() -> bool:
    """Whether the system (or the ``tzdata`` package) has time-zone data."""
    try:
        zoneinfo.ZoneInfo("Europe/Paris")
    except zoneinfo.ZoneInfoNotFoundError:
        return False
    return True


HAVE_TZDATA = _zoneinfo_available()

#: a handful of real zones (DST in both hemispheres, half-hour offsets, UTC)
ZONE_KEYS = ("Europe/Paris", "America/New_York", "Australia/Adelaide", "Asia/Kolkata", "UTC")

tzinfos: st.SearchStrategy[datetime.tzinfo | None] = st.one_of(
    st.none(), st.just(datetime.timezone.utc), _fixed_offsets()
)

#: tzinfos including ZoneInfo; kept apart because the default policy's handling of ZoneInfo
#: is tested on its own (a failure there must not hide every other datetime case)
zone_infos: st.SearchStrategy[zoneinfo.ZoneInfo] = (
    st.sampled_from(ZONE_KEYS).map(zoneinfo.ZoneInfo) if HAVE_TZDATA else st.nothing()
)


def _networks(version: int) -> st.SearchStrategy[Any]:
    """An IPv4/IPv6 network (host bits cleared) with any prefix length."""
    bits = 32 if version == 4 else 128
    return st.builds(
        lambda addr, prefix: ipaddress.ip_network(f"{addr}/{prefix}", strict=False),
        st.ip_addresses(v=version),
        st.integers(0, bits),
    )


def _interfaces(version: int) -> st.SearchStrategy[Any]:
    """An IPv4/IPv6 interface (address plus prefix length)."""
    bits = 32 if version == 4 else 128
    return st.builds(
        lambda addr, prefix: ipaddress.ip_interface(f"{addr}/{prefix}"),
        st.ip_addresses(v=version),
        st.integers(0, bits),
    )


# The text typecode: 'w' (Py_UCS4) from 3.13, where array('u') raises a DeprecationWarning
# (an error under the suite's filterwarnings); 'u' before, where 'w' does not exist.
_TEXT_TYPECODE = "w" if "w" in array.typecodes else "u"

#: typecode -> element strategy within the typecode's range
_ARRAY_ITEMS: dict[str, st.SearchStrategy[Any]] = {
    "b": st.integers(-128, 127),
    "B": st.integers(0, 255),
    "h": st.integers(-(2**15), 2**15 - 1),
    "H": st.integers(0, 2**16 - 1),
    "i": st.integers(-(2**31), 2**31 - 1),
    "I": st.integers(0, 2**32 - 1),
    "l": st.integers(-(2**63), 2**63 - 1),
    "L": st.integers(0, 2**64 - 1),
    "q": st.integers(-(2**63), 2**63 - 1),
    "Q": st.integers(0, 2**64 - 1),
    "f": st.floats(width=32),
    "d": floats,
    # no surrogates: array('u') stores wchar_t, which rejects them on some platforms
    _TEXT_TYPECODE: st.characters(exclude_categories=("Cs",)),
}


@st.composite
def arrays(draw: st.DrawFn) -> array.array[Any]:
    """An ``array.array`` of any typecode with in-range items."""
    code = draw(st.sampled_from(sorted(_ARRAY_ITEMS)))
    items = draw(st.lists(_ARRAY_ITEMS[code], max_size=8))
    if code == _TEXT_TYPECODE:
        return array.array(code, "".join(items))
    return array.array(code, items)


# Exponents as large as the default policy's narrowed Decimal takes (max_int_digits, 4,300:
# int() of 1E+999999 runs for minutes; tests/test_stdlib_narrowed.py refuses those)
_DECIMAL_SPECIALS = ("NaN", "-NaN", "NaN123", "sNaN", "-sNaN", "sNaN42", "Infinity", "-0",
                     "0E-4000", "1E+4000", "-1.000000000000000000000000000001")  # fmt: skip

decimals: st.SearchStrategy[decimal.Decimal] = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(_DECIMAL_SPECIALS).map(decimal.Decimal),
)

uuids: st.SearchStrategy[uuid.UUID] = st.one_of(
    st.uuids(),
    # is_safe is part of the pickled state and brings uuid.SafeUUID along
    st.builds(
        lambda u, safe: uuid.UUID(int=u.int, is_safe=safe),
        st.uuids(),
        st.sampled_from(list(uuid.SafeUUID)),
    ),
)

stdlib_atoms: st.SearchStrategy[Any] = st.one_of(
    st.dates(),
    st.times(timezones=tzinfos),
    st.datetimes(timezones=tzinfos),
    st.timedeltas(),
    _fixed_offsets(),
    st.just(datetime.timezone.utc),
    decimals,
    st.fractions(),
    uuids,
    ranges,
    st.builds(slice, scalars, scalars, scalars),
    st.ip_addresses(),
    _networks(4),
    _networks(6),
    _interfaces(4),
    _interfaces(6),
    st.builds(pathlib.PurePosixPath, texts),
    st.builds(pathlib.PureWindowsPath, texts),
    arrays(),
)


def _stdlib_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The collections types of the default policy, holding ``inner`` values."""
    keys = hashables(max_leaves=3)
    return st.one_of(
        st.dictionaries(keys, inner, max_size=4).map(collections.OrderedDict),
        st.dictionaries(keys, st.lists(inner, max_size=3), max_size=3).map(
            lambda d: collections.defaultdict(list, d)
        ),
        st.dictionaries(keys, ints, max_size=3).map(lambda d: collections.defaultdict(int, d)),
        st.builds(
            collections.deque,
            st.lists(inner, max_size=4),
            st.one_of(st.none(), st.integers(0, 5)),
        ),
        st.dictionaries(keys, ints, max_size=4).map(collections.Counter),
        st.dictionaries(keys, inner, max_size=3).map(collections.UserDict),
        st.lists(inner, max_size=3).map(collections.UserList),
        texts.map(collections.UserString),
        st.lists(st.dictionaries(keys, inner, max_size=2), max_size=3).map(
            lambda maps: collections.ChainMap(*maps)
        ),
    )


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Builtin containers of ``inner`` (sets and keys from the hashable strategy)."""
    keys = hashables(max_leaves=3)
    return st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(keys, inner, max_size=5),
        st.sets(keys, max_size=5),
        st.frozensets(keys, max_size=5),
    )


def plain_values(max_leaves: int = 25, *, stdlib: bool = True) -> st.SearchStrategy[Any]:
    """Nested plain data (and, with ``stdlib``, the default policy's stdlib value types)."""
    leaves = st.one_of(scalars, stdlib_atoms) if stdlib else scalars
    if stdlib:

        def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
            return st.one_of(_containers(inner), _stdlib_containers(inner))

    else:
        extend = _containers
    return st.recursive(leaves, extend, max_leaves=max_leaves)


#: small nested values; built once, because a strategy made anew inside a composite is
#: validated anew on every draw (that alone made the file tests several times slower)
small_values: st.SearchStrategy[Any] = plain_values(max_leaves=8)


def deeply_nested(max_depth: int = 300) -> st.SearchStrategy[Any]:
    """One value wrapped ``depth`` times in lists/tuples/dicts (a long, thin structure).

    The depth stays below pickle's own recursion limit for dumping (about 1000 frames).
    """

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        depth = draw(st.integers(1, max_depth))
        shape = draw(st.sampled_from(["list", "tuple", "dict", "mixed"]))
        value: Any = draw(scalars)
        for level in range(depth):
            kind = shape if shape != "mixed" else ("list", "tuple", "dict")[level % 3]
            if kind == "list":
                value = [value]
            elif kind == "tuple":
                value = (value,)
            else:
                value = {level: value}
        return value

    return build()


# --- object graphs with shared and recursive references ---------------------------------------

_NODE_KINDS = ("list", "dict", "deque", "ordereddict", "plain")


@st.composite
def shared_graphs(draw: st.DrawFn, *, with_objects: bool = False) -> Any:
    """A root container in a small graph where containers may appear several times, contain
    themselves, or be reached through a shared tuple (a recursive tuple, which pickle writes
    with POP_MARK/GET tricks at protocols 0-1 and POP/GET at 2+)."""
    kinds = _NODE_KINDS if with_objects else _NODE_KINDS[:-1]
    count = draw(st.integers(1, 5))
    node_kinds = draw(st.lists(st.sampled_from(kinds), min_size=count, max_size=count))
    nodes: list[Any] = []
    for kind in node_kinds:
        if kind == "list":
            nodes.append([])
        elif kind == "dict":
            nodes.append({})
        elif kind == "deque":
            nodes.append(collections.deque())
        elif kind == "ordereddict":
            nodes.append(collections.OrderedDict())
        else:
            nodes.append(sample_classes.Plain())
    wrappers: dict[int, tuple[Any, ...]] = {}  # one shared tuple per wrapped node

    def child() -> Any:
        how = draw(st.sampled_from(["ref", "ref", "tuple", "leaf"]))
        if how == "leaf":
            return draw(hashable_scalars)
        index = draw(st.integers(0, count - 1))
        if how == "ref":
            return nodes[index]
        if index not in wrappers:
            wrappers[index] = (nodes[index], draw(hashable_scalars))
        return wrappers[index]

    for node in nodes:
        for _ in range(draw(st.integers(0, 4))):
            value = child()
            if isinstance(node, (list, collections.deque)):
                node.append(value)
            elif isinstance(node, dict):
                node[draw(hashable_scalars)] = value
            elif node.a is None:
                node.a = value
            else:
                node.b = value
    # the root sees every node, so no part of the graph is left out of the pickle
    return [nodes[draw(st.integers(0, count - 1))], *nodes]


# --- user classes ---------------------------------------------------------------------------

#: (class, strategy of instances, protocols pickle can dump it with)
UserCase = tuple[type, "st.SearchStrategy[Any]", tuple[int, ...]]


def user_cases(inner: st.SearchStrategy[Any]) -> list[UserCase]:
    """One case per class of :mod:`sample_classes`, with ``inner`` values as its state."""
    text = st.text(max_size=10)
    return [
        (sample_classes.Plain, st.builds(sample_classes.Plain, inner, inner), PROTOCOLS),
        (sample_classes.Slotted, st.builds(sample_classes.Slotted, inner, inner), PROTOCOLS[2:]),
        (
            sample_classes.SlottedWithState,
            st.builds(sample_classes.SlottedWithState, inner),
            PROTOCOLS,
        ),
        (sample_classes.Stateful, st.builds(sample_classes.Stateful, inner, text), PROTOCOLS),
        (sample_classes.Reduced, st.builds(sample_classes.Reduced, inner, inner), PROTOCOLS),
        (sample_classes.Record, st.builds(sample_classes.Record, inner, inner), PROTOCOLS),
        (sample_classes.Color, st.sampled_from(list(sample_classes.Color)), PROTOCOLS),
        (sample_classes.Pair, st.builds(sample_classes.Pair, inner, inner), PROTOCOLS),
    ]


# --- broken and hostile bytes ---------------------------------------------------------------

#: every opcode byte pickle knows, so that insertions hit opcodes far more often than chance
OPCODE_BYTES = bytes(sorted({ord(op.code) for op in pickletools.opcodes}))


class Hostile:
    """Reduces to ``builtins.open("CANARY", "w")``: loading it unguarded creates the canary."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, str]]:
        return (open, ("CANARY", "w"))


class HostileGetattr:
    """Reduces to ``getattr(pathlib.PosixPath("CANARY"), "touch")()``: pickle writes a bound
    method as ``getattr(obj, name)``, the shape safepickle accepts for nested classes, here
    aimed at a method with a side effect."""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[()]]:
        return (pathlib.Path("CANARY").touch, ())


@st.composite
def valid_pickles(draw: st.DrawFn, *, hostile: bool = True) -> bytes:
    """A pickle of a small generated value at any protocol; sometimes (``hostile``) one that
    would create the canary if it ever ran."""
    protocol = draw(st.sampled_from(PROTOCOLS))
    if hostile and draw(st.integers(0, 4)) == 0:
        value: Any = [draw(st.sampled_from([Hostile(), HostileGetattr()])), draw(scalars)]
    else:
        value = draw(small_values)
    return pickle.dumps(value, protocol)


@st.composite
def mutated_pickles(draw: st.DrawFn) -> bytes:
    """A valid pickle damaged by a few byte-level mutations (flip, insert, delete, duplicate,
    truncate, splice with another pickle), the way real corruption and fuzzers break them."""
    data = bytearray(draw(valid_pickles()))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(
            st.sampled_from(["flip", "insert", "opcode", "delete", "dup", "truncate", "splice"])
        )
        size = len(data)
        at = draw(st.integers(0, size))
        if how == "flip" and size:
            at = min(at, size - 1)
            data[at] ^= draw(st.integers(1, 255))
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif how == "opcode":
            data[at:at] = bytes([draw(st.sampled_from(OPCODE_BYTES))])
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 4))]
        elif how == "dup":
            end = draw(st.integers(at, size))
            data[end:end] = data[at:end]
        elif how == "truncate":
            del data[at:]
        elif how == "splice":
            other = draw(valid_pickles())
            data = data[:at] + other[draw(st.integers(0, len(other))) :]
    return bytes(data)


@st.composite
def opcode_soup(draw: st.DrawFn) -> bytes:
    """A stream of real opcodes with plausible arguments in random order: far more of them
    get past the first few bytes than random bytes do, so they reach the verifier's stack,
    mark and memo logic (and the C unpickler behind it)."""
    out = bytearray()
    if draw(st.booleans()):
        out += bytes([0x80, draw(st.integers(0, 5))])
    for _ in range(draw(st.integers(1, 25))):
        op = draw(st.sampled_from(OPCODE_BYTES))
        out.append(op)
        out += draw(_opcode_argument(op))
    if draw(st.booleans()):
        out.append(0x2E)  # STOP
    return bytes(out)


def _line(body: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """A newline-terminated argument."""
    return body.map(lambda b: b.replace(b"\n", b"") + b"\n")


_GLOBAL_NAMES = (
    b"builtins\nset\n", b"__builtin__\nset\n", b"collections\nOrderedDict\n",
    b"datetime\ndate\n", b"copy_reg\n_reconstructor\n", b"copyreg\n_reconstructor\n",
    b"builtins\ngetattr\n", b"builtins\nopen\n", b"os\nsystem\n", b"decimal\nDecimal\n",
    b"_codecs\nencode\n", b"collections\ndefaultdict\n", b"builtins\nobject\n",
)  # fmt: skip


def _opcode_argument(op: int) -> st.SearchStrategy[bytes]:
    """Bytes that plausibly follow opcode ``op`` (sometimes wrong on purpose)."""
    small = st.integers(0, 6)
    if op in b"Khq\x82":
        return small.map(lambda n: bytes([n]))
    if op in b"M\x83":
        return small.map(lambda n: n.to_bytes(2, "little"))
    if op in b"Jjr\x84":
        return small.map(lambda n: n.to_bytes(4, "little"))
    if op == 0x80:
        return st.integers(0, 6).map(lambda n: bytes([n]))
    if op in b"G\x95":
        return st.one_of(
            small.map(lambda n: n.to_bytes(8, "little")), st.binary(min_size=8, max_size=8)
        )
    if op in b"UC\x8a\x8c":
        return st.binary(max_size=6).map(lambda b: bytes([len(b)]) + b)
    if op in b"XBT\x8b":
        return st.binary(max_size=6).map(lambda b: len(b).to_bytes(4, "little") + b)
    if op in b"\x8d\x8e\x96":
        return st.binary(max_size=6).map(lambda b: len(b).to_bytes(8, "little") + b)
    if op in b"ci":
        return st.sampled_from(_GLOBAL_NAMES)
    if op in b"gpP":
        return _line(small.map(lambda n: str(n).encode()))
    if op in b"IL":
        return _line(st.sampled_from([b"0", b"1", b"01", b"-7", b"0x1f", b" 3", b"9L", b"x"]))
    if op == ord("F"):
        return _line(st.sampled_from([b"1.5", b"nan", b"-inf", b"1e400", b"1_0.0", b"x"]))
    if op == ord("S"):
        return _line(st.sampled_from([b"'a'", b'"\\x41"', b"'\\q'", b"'", b"'abc", b"'\\xe9'"]))
    if op == ord("V"):
        return _line(st.sampled_from([b"abc", b"\\u20ac", b"\\ud800", b"\\x", b"\\u12"]))
    return st.just(b"")


# --- mostly valid data-only streams ---------------------------------------------------------

#: pushes of one hashable scalar, with their argument bytes
_SCALAR_PUSHES: tuple[bytes, ...] = (
    b"N", b"\x88", b"\x89", b")", b"K\x07", b"M\x01\x02", b"J\xff\xff\xff\xff",
    b"G\x7f\xf8\x00\x00\x00\x00\x00\x00", b"\x8a\x02\x00\x80", b"\x8c\x01a", b"\x8c\x02\xc3\xa9",
    b"X\x00\x00\x00\x00", b"C\x01b", b"B\x02\x00\x00\x00xy", b"I42\n", b"I01\n", b"L-7L\n",
    b"F2.5\n", b"Fnan\n", b"S'ab'\n", b"Vx\\u20ac\n", b"U\x01c", b"T\x00\x00\x00\x00",
    b"\x8e\x01\x00\x00\x00\x00\x00\x00\x00z", b"\x8d\x00\x00\x00\x00\x00\x00\x00\x00",
)  # fmt: skip


@st.composite
def data_only_streams(draw: st.DrawFn) -> bytes:
    """A stream of data opcodes (no global, no call) that is valid most of the time.

    A small model of the unpickler's stack (kinds of values, marks, memo size) picks opcodes
    that fit; now and then a random opcode breaks the stream on purpose. Because no global is
    involved, CPython's unpickler can be run on each one as the oracle, and these streams
    reach the verifier's mark, fence, memo and container rules far more often than mutated
    pickles do.
    """
    out = bytearray()
    protocol = draw(st.integers(0, 5))
    if protocol >= 2 or draw(st.booleans()):
        out += bytes([0x80, protocol])
    stack: list[str] = []  # "list", "dict", "set", "key" (hashable), "other"
    marks: list[int] = []
    memo: list[str] = []

    def fence() -> int:
        return marks[-1] if marks else 0

    for _ in range(draw(st.integers(1, 30))):
        above = len(stack) - fence()
        choices = ["scalar", "scalar", "container", "mark"]
        if above >= 1:
            choices += ["memo", "dup", "pop", "tuple_n"]
        if memo:
            choices += ["get"]
        if marks:
            choices += ["close", "close", "pop_mark"]
        if above >= 2 and stack[-2] == "list":
            choices += ["append", "append"]
        if above >= 3 and stack[-3] == "dict" and stack[-2] == "key":
            choices += ["setitem", "setitem"]
        if marks and fence() > (marks[-2] if len(marks) > 1 else 0):
            choices += ["batch", "batch"]
        choices += ["chaos"]
        how = draw(st.sampled_from(choices))
        if how == "scalar":
            out += draw(st.sampled_from(_SCALAR_PUSHES))
            stack.append("key")
        elif how == "container":
            op, kind = draw(st.sampled_from([(b"]", "list"), (b"}", "dict"), (b"\x8f", "set")]))
            out += op
            stack.append(kind)
        elif how == "mark":
            out += b"("
            marks.append(len(stack))
        elif how == "memo":
            index = len(memo) if draw(st.booleans()) else draw(st.integers(0, len(memo)))
            form = draw(st.sampled_from(["MEMOIZE", "BINPUT", "PUT", "LONG_BINPUT"]))
            if form == "MEMOIZE":
                out += b"\x94"
                index = len(memo)
            elif form == "BINPUT":
                out += b"q" + bytes([min(index, 255)])
                index = min(index, 255)
            elif form == "PUT":
                out += b"p%d\n" % index
            else:
                out += b"r" + index.to_bytes(4, "little")
            if index == len(memo):
                memo.append(stack[-1])
            elif index < len(memo):
                memo[index] = stack[-1]
        elif how == "get":
            index = draw(st.integers(0, len(memo) - 1))
            form = draw(st.sampled_from([b"h", b"g", b"j"]))
            if form == b"h" and index < 256:
                out += b"h" + bytes([index])
            elif form == b"g":
                out += b"g%d\n" % index
            else:
                out += b"j" + index.to_bytes(4, "little")
            stack.append(memo[index])
        elif how == "dup":
            out += b"2"
            stack.append(stack[-1])
        elif how == "pop":
            out += b"0"
            if marks and marks[-1] == len(stack):
                marks.pop()
            else:
                stack.pop()
        elif how == "tuple_n":
            count = draw(st.integers(1, min(3, above)))
            out += bytes([0x84 + count])
            hashable = all(kind == "key" for kind in stack[-count:])
            del stack[-count:]
            stack.append("key" if hashable else "other")
        elif how == "close":
            op, kind = draw(
                st.sampled_from(
                    [(b"t", "tuple"), (b"l", "list"), (b"d", "dict"), (b"\x91", "frozenset")]
                )
            )
            out += op
            mark = marks.pop()
            items = stack[mark:]
            del stack[mark:]
            if kind == "frozenset" or (kind == "tuple" and all(i == "key" for i in items)):
                kind = "key"
            stack.append("other" if kind == "tuple" else kind)
        elif how == "pop_mark":
            out += b"1"
            del stack[marks.pop() :]
        elif how == "batch":
            target = stack[fence() - 1]
            op = {"list": b"e", "dict": b"u", "set": b"\x90"}.get(target, b"e")
            out += op
            del stack[marks.pop() :]
        elif how == "append":
            out += b"a"
            stack.pop()
        elif how == "setitem":
            out += b"s"
            del stack[-2:]
        else:  # chaos: any opcode, any argument
            op = draw(st.sampled_from(OPCODE_BYTES))
            out.append(op)
            out += draw(_opcode_argument(op))
    if stack or draw(st.booleans()):
        out += b"."
    if protocol >= 4 and draw(st.booleans()):
        # a FRAME around everything after PROTO (sometimes with a wrong length)
        body = bytes(out[2:])
        size = len(body) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        out = out[:2] + b"\x95" + max(size, 0).to_bytes(8, "little") + body
    return bytes(out)
