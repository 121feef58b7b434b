"""Property-based tests: safepickle is a drop-in for pickle on everything pickle writes, and on
everything else it either refuses with its own errors or does exactly what pickle would.

The oracle is always CPython's own ``pickle`` run on the same bytes. Outputs are compared with
:func:`assert_same`, which is stricter than ``==``: equal types all the way down, NaN equal
to NaN, ``-0.0`` distinct from ``0.0``, and the same sharing (which objects are one object).
"""

from __future__ import annotations

import array
import collections
import contextlib
import datetime
import decimal
import enum
import fractions
import io
import ipaddress
import math
import os
import pathlib
import pickle
import pickletools
import reprlib
import struct
import threading
import types
import uuid
import warnings
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sample_classes
import strategies as sp
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import safepickle
from safepickle import LimitExceeded, Limits, Policy
from safepickle._json import JSON_FIRST_BYTES

# When a property fails, hypothesis's pytest plugin imports hypothesis.extra._patching (and
# libcst) to suggest an @example patch. On this install that import emits a DeprecationWarning
# (mypy_extensions.TypedDict), which pyproject's filterwarnings=["error"] turns into an
# INTERNALERROR that aborts the whole session and hides the failure. Importing it here once,
# with warnings silenced, leaves the module cached for the plugin.
# (Without libcst the import fails and the plugin skips patches on its own.)
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore")
    import hypothesis.extra._patching  # noqa: F401


# --- settings -------------------------------------------------------------------------------


def _settings(*extra: HealthCheck) -> settings:
    """The loaded profile (dev or ci, see conftest) plus some suppressed health checks.

    ``settings(...)`` alone would replace the profile's suppress list; this keeps it.
    ``function_scoped_fixture`` is suppressed where a test uses ``canary`` or ``tmp_path``:
    those are set up once per test, which is what we want (one temp dir, checked after every
    example by hand and once more at teardown by the fixture).
    """
    base = settings.default
    return settings(base, suppress_health_check=[*base.suppress_health_check, *extra])


_FIXTURES = _settings(HealthCheck.function_scoped_fixture, HealthCheck.too_slow)
_SLOW_DATA = _settings(HealthCheck.too_slow, HealthCheck.data_too_large)

# --- comparing results ----------------------------------------------------------------------


class _ShortRepr(reprlib.Repr):
    """Bounded reprs for failure messages, which also survive ints past the 4300-digit
    ``repr`` limit (plain reprlib raises ValueError on them)."""

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 10_000:
            return f"<int of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_short = _ShortRepr()
_short.maxlevel = 3
_short.maxstring = 60
_short.maxother = 60
_short.maxlong = 60

#: compared by value only; their identity is not observable through pickle's contract
_SIMPLE = (type(None), bool, int, str, bytes, type(Ellipsis), type(NotImplemented))
_BY_REPR = (
    datetime.date,  # and datetime.datetime: repr shows tzinfo and fold, == ignores them
    datetime.time,
    datetime.timedelta,
    datetime.timezone,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
    pathlib.PurePath,  # repr shows the flavour and the exact text; == folds Windows case
    fractions.Fraction,
)


def _same_float(a: float, b: float) -> bool:
    """Equal as floats, with NaN equal to NaN and the sign of zero significant."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and struct.pack("<d", a) == struct.pack("<d", b)


def _path(trail: tuple[Any, ...] | None) -> str:
    """Render the linked path ``(parent, step)`` the comparator keeps for each pair."""
    steps: list[str] = []
    while trail is not None:
        trail, step = trail
        # a dict value's step is its key, rendered only now that a failure needs it
        steps.append(step if isinstance(step, str) else f"[{_short.repr(step[0])}]")
    return "".join(reversed(steps)) or "<root>"


def assert_same(actual: Any, expected: Any) -> None:
    """Assert ``actual`` (safepickle's result) is what ``expected`` (pickle's) is.

    Walks both values together without recursion (so 100,000-deep nestings are fine) and keeps
    a one-to-one map between the container objects met on each side: a list reached twice in
    ``expected`` must be one list reached twice in ``actual``, and cycles end the walk.
    """
    pairs: dict[int, int] = {}
    reverse: dict[int, int] = {}
    work: list[tuple[Any, Any, tuple[Any, ...] | None]] = [(actual, expected, None)]

    def fail(why: str, a: Any, b: Any, trail: tuple[Any, ...] | None) -> None:
        raise AssertionError(
            f"at {_path(trail)}: {why}\n  safepickle: {_short.repr(a)}\n"
            f"  pickle:     {_short.repr(b)}"
        )

    while work:
        a, b, trail = work.pop()
        kind = type(a)
        if kind is not type(b):
            fail(f"type {kind.__name__} != {type(b).__name__}", a, b, trail)
        if isinstance(a, _SIMPLE):
            if a != b:
                fail("values differ", a, b, trail)
            continue
        if kind is float:
            if not _same_float(a, b):
                fail("floats differ", a, b, trail)
            continue
        if kind is complex:
            if not (_same_float(a.real, b.real) and _same_float(a.imag, b.imag)):
                fail("complex numbers differ", a, b, trail)
            continue
        if kind is decimal.Decimal:
            if a.as_tuple() != b.as_tuple():  # exact: sign, digits, exponent, NaN kind
                fail("decimals differ", a, b, trail)
            continue
        if kind is uuid.UUID:
            if (a.int, a.is_safe) != (b.int, b.is_safe):
                fail("UUIDs differ", a, b, trail)
            continue
        if kind is range:
            if (a.start, a.stop, a.step) != (b.start, b.stop, b.step):
                fail("ranges differ", a, b, trail)
            continue
        if isinstance(a, _BY_REPR):
            if a != b or repr(a) != repr(b):
                fail("values differ", a, b, trail)
            continue
        if kind is zoneinfo.ZoneInfo:
            if a.key != b.key:
                fail("zones differ", a, b, trail)
            continue
        if isinstance(a, (type, types.FunctionType, types.BuiltinFunctionType)):
            if a is not b:  # a global itself (a stream may load a class as its value)
                fail("different globals", a, b, trail)
            continue
        if isinstance(a, enum.Enum):
            if a is not b:
                fail("enum members differ", a, b, trail)
            continue

        # containers and objects: identity must be shared the same way on both sides
        seen = pairs.get(id(a))
        if seen is not None or id(b) in reverse:
            if seen != id(b) or reverse.get(id(b)) != id(a):
                fail("one object on one side is several (or another) on the other", a, b, trail)
            continue
        pairs[id(a)] = id(b)
        reverse[id(b)] = id(a)

        if isinstance(a, (list, tuple)):  # tuple covers namedtuples (the type check above)
            if len(a) != len(b):
                fail(f"lengths {len(a)} != {len(b)}", a, b, trail)
            items = enumerate(zip(a, b, strict=True))
            work.extend((x, y, (trail, f"[{i}]")) for i, (x, y) in items)
        elif isinstance(a, dict):
            if len(a) != len(b):
                fail(f"lengths {len(a)} != {len(b)}", a, b, trail)
            if (
                isinstance(a, collections.defaultdict)
                and a.default_factory is not b.default_factory
            ):
                fail("default factories differ", a, b, trail)
            # pickle rebuilds a dict in its original order, so item i matches item i
            for i, ((ka, va), (kb, vb)) in enumerate(zip(a.items(), b.items(), strict=True)):
                work.append((ka, kb, (trail, f".keys()[{i}]")))
                work.append((va, vb, (trail, (ka,))))
            if hasattr(a, "__dict__"):
                work.append((vars(a), vars(b), (trail, ".__dict__")))
        elif isinstance(a, (set, frozenset)):
            if len(a) != len(b):
                fail(f"sizes {len(a)} != {len(b)}", a, b, trail)
            # not in iteration order: a NaN hashes by its id (3.10+), so two sets built alike
            # from the same items can iterate differently; sorted by a canonical key instead
            in_order = zip(sorted(a, key=_canonical), sorted(b, key=_canonical), strict=True)
            work.extend((x, y, (trail, f"{{#{i}}}")) for i, (x, y) in enumerate(in_order))
        elif isinstance(a, collections.deque):
            if a.maxlen != b.maxlen or len(a) != len(b):
                fail("deques differ in maxlen or length", a, b, trail)
            items = enumerate(zip(a, b, strict=True))
            work.extend((x, y, (trail, f"[{i}]")) for i, (x, y) in items)
        elif kind is bytearray:
            if a != b:
                fail("bytearrays differ", a, b, trail)
        elif kind is array.array:
            if a.typecode != b.typecode or a.tobytes() != b.tobytes():
                fail("arrays differ", a, b, trail)
        elif kind is pickle.PickleBuffer or kind is memoryview:
            # views released at once: an export left alive can crash the GC (gh-77894)
            with memoryview(a) as ma, memoryview(b) as mb:
                same = (ma.readonly, ma.format, ma.shape, ma.tobytes()) == (
                    mb.readonly,
                    mb.format,
                    mb.shape,
                    mb.tobytes(),
                )
            if not same:
                fail("buffers differ", a, b, trail)
        elif kind is slice:
            work.append((a.start, b.start, (trail, ".start")))
            work.append((a.stop, b.stop, (trail, ".stop")))
            work.append((a.step, b.step, (trail, ".step")))
        elif kind is object:
            pass  # a bare object() has no state
        elif hasattr(a, "__dict__") or _slot_names(kind):
            if hasattr(a, "__dict__"):
                work.append((vars(a), vars(b), (trail, ".__dict__")))
            for name in _slot_names(kind):
                missing = object()
                x, y = getattr(a, name, missing), getattr(b, name, missing)
                if (x is missing) != (y is missing):
                    fail(f"slot {name} set on one side only", a, b, trail)
                if x is not missing:
                    work.append((x, y, (trail, f".{name}")))
        else:
            fail(f"assert_same does not know how to compare {kind.__name__}", a, b, trail)


def _canonical(value: Any) -> str:
    """A text key that orders set members the same way on both sides (equal members of one
    type get equal keys; decimal ``repr`` is avoided for ints past its digit limit)."""
    kind = type(value).__name__
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{kind}:{value:x}"
    if isinstance(value, float):
        return f"{kind}:{value.hex()}"
    if isinstance(value, complex):
        return f"{kind}:{value.real.hex()},{value.imag.hex()}"
    if isinstance(value, (tuple, frozenset)):
        items = [_canonical(item) for item in value]
        return f"{kind}:({','.join(items if isinstance(value, tuple) else sorted(items))})"
    return f"{kind}:{value!r}"


def _slot_names(kind: type) -> list[str]:
    """Every slot a class and its bases declare (except ``__dict__``/``__weakref__``)."""
    names: list[str] = []
    for klass in kind.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__"):
                names.append(name)
    return names


def assert_own_error(exc: BaseException) -> None:
    """The exception is one safepickle raises on purpose (and thus a pickle error too)."""
    assert isinstance(exc, safepickle.SafePickleError), f"foreign exception {exc!r}"
    assert isinstance(exc, pickle.UnpicklingError), f"not an UnpicklingError: {exc!r}"


Outcome = tuple[str, Any]


def outcome(call: Callable[[], Any]) -> Outcome:
    """``("ok", value)`` or ``("error", exception)``: run ``call`` and record how it ended."""
    try:
        return ("ok", call())
    except Exception as exc:
        return ("error", exc)


def assert_agrees(mine: Outcome, theirs: Outcome) -> None:
    """safepickle's outcome matches pickle's: the same value, or (any) error on both sides,
    safepickle's being its own."""
    if mine[0] == "error":
        assert_own_error(mine[1])
    if mine[0] != theirs[0]:
        raise AssertionError(
            f"safepickle: {mine[0]} {_short.repr(mine[1])}; "
            f"pickle: {theirs[0]} {_short.repr(theirs[1])}"
        )
    if mine[0] == "ok":
        assert_same(mine[1], theirs[1])


def check_agreement(
    value: Any,
    protocols: tuple[int, ...] = sp.PROTOCOLS,
    allow: list[object] | None = None,
    **kw: Any,
) -> None:
    """Pickle ``value`` with each protocol; safepickle.loads must return what pickle.loads
    returns (``kw`` goes to both loaders, ``allow`` to safepickle only)."""
    for protocol in protocols:
        data = pickle.dumps(value, protocol)
        expected = pickle.loads(data, **kw)
        try:
            actual = safepickle.loads(data, allow=allow, **kw)
        except safepickle.SafePickleError as exc:
            raise AssertionError(f"protocol {protocol}: safepickle refused {data!r}") from exc
        try:
            assert_same(actual, expected)
        except AssertionError as exc:
            raise AssertionError(f"protocol {protocol}, pickle {data!r}:\n{exc}") from None


# === 1. agreement on plain data ===============================================================


@_SLOW_DATA
@given(sp.plain_values())
def test_plain_values_load_as_pickle_loads_them(value: Any) -> None:
    """Builtin and default-policy stdlib values, nested, at every protocol."""
    check_agreement(value)


@given(sp.scalars)
def test_scalars_load_as_pickle_loads_them(value: Any) -> None:
    """Every scalar alone too, so that shrinking lands on one opcode when something breaks."""
    check_agreement(value)


@_SLOW_DATA
@given(sp.stdlib_atoms)
def test_stdlib_values_load_as_pickle_loads_them(value: Any) -> None:
    """Each default-policy stdlib type alone (datetime, Decimal, UUID, ipaddress, paths ...)."""
    check_agreement(value)


@pytest.mark.skipif(not sp.HAVE_TZDATA, reason="no time-zone data on this system")
@given(
    st.one_of(
        sp.zone_infos, st.datetimes(timezones=sp.zone_infos), st.times(timezones=sp.zone_infos)
    )
)
def test_zoneinfo_values_load_under_the_default_policy(value: Any) -> None:
    """The default policy lists ``zoneinfo.ZoneInfo._unpickle``, so ZoneInfo keys (and
    datetimes in a zone) must load like any other stdlib value."""
    check_agreement(value)


@given(sp.big_ints(min_bits=14_300, max_bits=60_000))  # 14,300 bits > 4,300 digits
def test_ints_too_long_for_text_load_at_binary_protocols(value: int) -> None:
    """Ints past the 4300-digit text limit: protocols 2-5 write them as LONG4 bytes (0 and 1
    cannot write them at all; pickle raises ValueError there)."""
    with pytest.raises(ValueError, match="digits"):
        pickle.dumps(value, 0)
    check_agreement(value, protocols=sp.PROTOCOLS[2:])


@_SLOW_DATA
@given(sp.deeply_nested())
def test_deep_nesting_loads_as_pickle_loads_it(value: Any) -> None:
    """Hundreds of levels of lists/tuples/dicts (up to what pickle.dumps can recurse)."""
    check_agreement(value)


_DEPTH_SHAPES = pytest.mark.parametrize(
    ("opener", "closer"),
    [(b"]", b"a"), (b"}K\x00", b"s"), (b"(", b"t"), (b"(", b"l")],
    ids=["list-append", "dict-setitem", "tuple-mark", "list-mark"],
)


def _nested(depth: int, opener: bytes, closer: bytes) -> bytes:
    if opener == b"]":  # [[[...]]]: EMPTY_LIST * depth, then APPEND * (depth - 1)
        return b"\x80\x02" + opener * depth + closer * (depth - 1) + b"."
    # each level opens with a mark or a key and closes around the level inside it
    return b"\x80\x02" + opener * depth + b"N" + closer * depth + b"."


@pytest.mark.parametrize("depth", [1_000, Limits().max_depth])
@_DEPTH_SHAPES
def test_nesting_up_to_max_depth_loads(depth: int, opener: bytes, closer: bytes) -> None:
    """Hand-built streams nested as deep as max_depth allows (deeper than pickle.dumps can
    recurse before 3.13): the C unpickler builds them iteratively, and so must everything
    safepickle puts in front of it."""
    data = _nested(depth, opener, closer)
    assert_same(safepickle.loads(data), pickle.loads(data))


@_DEPTH_SHAPES
def test_nesting_past_max_depth_is_refused_unless_raised(opener: bytes, closer: bytes) -> None:
    """One level past max_depth is refused before anything runs; a policy that raises the
    limit loads it (100,000 levels: the C unpickler and CPython's trashcan cope with lists,
    dicts and tuples; slices and deques are what the limit protects)."""
    limit = Limits().max_depth
    with pytest.raises(LimitExceeded, match="max_depth"):
        safepickle.loads(_nested(limit + 1, opener, closer))
    data = _nested(100_000, opener, closer)
    raised = Policy(limits=Limits(max_depth=100_001))
    assert_same(safepickle.loads(data, policy=raised), pickle.loads(data))


# === 2. shared and recursive references =======================================================


@_SLOW_DATA
@given(sp.shared_graphs())
def test_shared_and_recursive_references_keep_their_identity(root: Any) -> None:
    """Lists, dicts, deques and OrderedDicts that appear several times, contain themselves, or
    sit in a shared tuple: safepickle's result has exactly pickle's sharing."""
    check_agreement(root)


def _self_list() -> Any:
    """``l = [l]`` and two references to one inner list."""
    inner = [1]
    outer: list[Any] = [inner, inner]
    outer.append(outer)
    return outer


def _self_dict() -> Any:
    """``d["me"] = d`` and a dict shared through two keys."""
    shared = {"k": 1}
    d: dict[str, Any] = {"a": shared, "b": shared}
    d["me"] = d
    return d


def _recursive_tuple() -> Any:
    """``l = [(l,)]``: a tuple inside its own referent (pickle's POP_MARK/POP + GET path)."""
    outer: list[Any] = []
    outer.append((outer, outer))
    return outer


@pytest.mark.parametrize("protocol", sp.PROTOCOLS)
@pytest.mark.parametrize("build", [_self_list, _self_dict, _recursive_tuple])
def test_self_containing_structures(build: Callable[[], Any], protocol: int) -> None:
    """The classic recursive shapes, spelled out, at every protocol."""
    data = pickle.dumps(build(), protocol)
    actual = safepickle.loads(data)
    assert_same(actual, pickle.loads(data))
    if build is _self_list:
        assert actual[2] is actual and actual[0] is actual[1]
    elif build is _self_dict:
        assert actual["me"] is actual and actual["a"] is actual["b"]
    else:
        assert actual[0][0] is actual and actual[0][1] is actual


@_SLOW_DATA
@given(sp.shared_graphs(with_objects=True))
def test_shared_references_through_user_objects(root: Any) -> None:
    """The same graphs with instances in them (attributes pointing back at the graph)."""
    check_agreement(root, allow=[sample_classes.Plain])


# === 3. out-of-band buffers ===================================================================

_BUFFER_KINDS = ("bytes", "bytearray", "readonly-bytearray")

#: what to build: ("value", value, _) or (buffer kind, raw bytes, whether it goes in band)
_Spec = list[tuple[str, Any, bool]]


@st.composite
def _buffer_specs(draw: st.DrawFn) -> _Spec:
    """A list mixing PickleBuffers (of bytes, of a bytearray, of a read-only view of a
    bytearray) with plain values, as a recipe: :func:`_built` makes the buffers in the test.

    Only a recipe, because on CPython < 3.12.7 a PickleBuffer over a memoryview must never
    reach the cyclic garbage collector: when the GC breaks a cycle holding both, it clears
    the memoryview despite the export and the interpreter segfaults (CPython gh-77894).
    Hypothesis keeps drawn values in reference cycles, so the views are made and released
    inside the test instead.
    """
    spec: _Spec = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            spec.append(("value", draw(sp.scalars), False))
            continue
        raw = draw(st.one_of(st.binary(max_size=64), st.sampled_from([b"", b"x" * 70_000])))
        in_band = draw(st.booleans()) and draw(st.booleans())  # mostly out of band
        spec.append((draw(st.sampled_from(_BUFFER_KINDS)), raw, in_band))
    return spec


@contextlib.contextmanager
def _built(spec: _Spec) -> Iterator[tuple[bytes, list[pickle.PickleBuffer]]]:
    """Pickle the recipe with protocol 5; yield (stream, out-of-band buffers); then release
    every buffer and view made (see :func:`_buffer_specs` for why)."""
    items: list[Any] = []
    in_band: dict[int, bool] = {}
    views: list[memoryview] = []
    made: list[pickle.PickleBuffer] = []
    for kind, raw, band in spec:
        if kind == "value":
            items.append(raw)
            continue
        if kind == "bytes":
            backing: Any = raw
        elif kind == "bytearray":
            backing = bytearray(raw)
        else:
            backing = memoryview(bytearray(raw)).toreadonly()
            views.append(backing)
        made.append(pickle.PickleBuffer(backing))
        in_band[id(made[-1])] = band
        items.append(made[-1])
    buffers: list[pickle.PickleBuffer] = []

    def callback(buffer: pickle.PickleBuffer) -> bool:
        if in_band[id(buffer)]:
            return True  # a true return value means: serialise it in band
        buffers.append(buffer)
        return False

    try:
        yield pickle.dumps(items, protocol=5, buffer_callback=callback), buffers
    finally:
        for buffer in made:
            buffer.release()
        for view in views:
            view.release()


@_SLOW_DATA
@given(_buffer_specs())
def test_out_of_band_buffers_load_as_pickle_loads_them(spec: _Spec) -> None:
    """``buffers=`` as a list and as a one-shot iterator, like pickle accepts."""
    with _built(spec) as (data, buffers):
        expected = pickle.loads(data, buffers=buffers)
        assert_same(safepickle.loads(data, buffers=buffers), expected)
        assert_same(safepickle.loads(data, buffers=iter(buffers)), expected)
        assert_same(safepickle.load(io.BytesIO(data), buffers=buffers), expected)
        del expected


@given(_buffer_specs(), st.data())
def test_too_few_buffers_is_malformed(spec: _Spec, data: st.DataObject) -> None:
    """Fewer buffers than NEXT_BUFFER opcodes (or none): MalformedPickle, where pickle raises
    UnpicklingError."""
    with _built(spec) as (stream, buffers):
        assume(buffers)
        count = data.draw(st.one_of(st.none(), st.integers(0, len(buffers) - 1)), label="count")
        given_buffers = None if count is None else buffers[:count]
        with pytest.raises(pickle.UnpicklingError):
            pickle.loads(stream, buffers=given_buffers)
        with pytest.raises(safepickle.MalformedPickle):
            safepickle.loads(stream, buffers=given_buffers)


# === 4. user classes through allow= ===========================================================

#: class -> (strategy of instances, protocols pickle can write it with); parametrized by the
#: class alone, so that a failure report does not print the whole strategy
_USER_CASES = {case[0]: case[1:] for case in sp.user_cases(sp.plain_values(max_leaves=6))}


@pytest.mark.parametrize("cls", list(_USER_CASES), ids=lambda cls: cls.__name__)
@_SLOW_DATA
@given(data=st.data())
def test_user_classes_round_trip_when_allowed(cls: type, data: st.DataObject) -> None:
    """Each sample class loads, at every protocol pickle can write it, with allow=[cls]."""
    instances, protocols = _USER_CASES[cls]
    value = data.draw(instances, label="value")
    check_agreement(value, protocols, allow=[cls])
    if isinstance(value, enum.Enum):
        assert safepickle.loads(pickle.dumps(value, protocols[-1]), allow=[cls]) is value


@pytest.mark.parametrize("cls", list(_USER_CASES), ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_user_classes_are_refused_without_allow(cls: type, data: st.DataObject) -> None:
    """Without allow=, the same pickles raise ForbiddenGlobal naming the class."""
    instances, protocols = _USER_CASES[cls]
    value = data.draw(instances, label="value")
    for protocol in protocols:
        stream = pickle.dumps(value, protocol)
        with pytest.raises(safepickle.ForbiddenGlobal) as info:
            safepickle.loads(stream)
        refused = {(err.module, err.name) for err in info.value.refused}
        assert (cls.__module__, cls.__qualname__) in refused, (protocol, refused)


# === 5. no input raises anything but safepickle's errors =====================================


class _ReadOnly:
    """A stream with nothing but ``read``: not seekable, no peek, no readline."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def tell_inner(self) -> int:
        return self._inner.tell()


class _NeedsGlobal(Exception):
    """Raised by :class:`_DataOnlyUnpickler` where the stream needs a global."""


class _DataOnlyUnpickler(pickle.Unpickler):
    """CPython's unpickler with every way to reach code cut off: no globals (so no calls),
    no persistent ids, no extension codes. It can only build plain data, so it is safe to run
    on any bytes, and it is the oracle for what pickle makes of data-only streams."""

    def find_class(self, module: str, name: str) -> Any:
        raise _NeedsGlobal(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise _NeedsGlobal(f"persistent id {pid!r}")


_MEMO_INDEX_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


def _pickle_outcome_on_data_only(data: bytes) -> Outcome | None:
    """What CPython's unpickler makes of ``data`` when it needs no global, else None.

    Not run (None) on streams that pickletools cannot parse or that write a far memo index:
    a memo index is the one thing that makes the C unpickler allocate memory out of
    proportion to the input (``LONG_BINPUT 4000000000`` asks for a 32 GB memo).

    Also None where safepickle's verifier is stricter than pickle on purpose, so that the
    comparison does not stop at those every time: a PROTO that is not the first opcode (it
    would change how later GLOBALs are named), and a memo index past the entries written so
    far (covered by :func:`test_load_reads_several_dumps_of_one_pickler`).
    """
    written = 0  # memo entries so far, as the verifier counts them
    boundaries: set[int] = set()  # offsets where an opcode starts, and the end past STOP
    frame_ends: list[int] = []
    try:
        for opcode, arg, pos in pickletools.genops(data):
            boundaries.add(pos)
            if opcode.name == "PROTO" and pos != 0:
                return None
            if opcode.name == "FRAME":
                frame_ends.append(pos + 9 + int(arg))
            elif opcode.name == "MEMOIZE":
                written += 1
            elif opcode.name in _MEMO_INDEX_OPS:
                if int(arg) > min(written, 100_000):
                    return None
                written += int(arg) == written
            elif opcode.name == "STOP":
                boundaries.add(pos + 1)
    except Exception:
        return None
    if any(end not in boundaries for end in frame_ends):
        # A frame that ends inside an opcode or past STOP: CPython itself reads such a
        # stream one way from bytes (pickle.loads) and another from a file (pickle.load),
        # so there is no single answer to compare with. Frames past STOP are tested below.
        return None
    with warnings.catch_warnings():
        # the C unpickler warns on invalid escapes in STRING; safepickle runs the same code
        # under pytest's "error" filter, so the oracle runs it the same way
        warnings.simplefilter("error")
        result = outcome(lambda: _DataOnlyUnpickler(io.BytesIO(data)).load())
    if result[0] == "error" and isinstance(result[1], _NeedsGlobal):
        return None
    return result


def check_only_own_errors(data: bytes, canary: Path) -> None:
    """Every entry point either returns or raises a SafePickleError; nothing ran; and for
    data-only streams the result is what CPython's unpickler makes of them."""
    mine = outcome(lambda: safepickle.load(io.BytesIO(data)))
    # a stream starting like JSON is decoded as JSON (tests/test_json.py): pickle is no oracle
    json_like = bool(data) and data[0] in JSON_FIRST_BYTES
    theirs = None if json_like else _pickle_outcome_on_data_only(data)
    # how often the comparison ran, for --hypothesis-show-statistics
    event(f"pickle oracle: {'not run' if theirs is None else theirs[0]}, safepickle: {mine[0]}")
    if theirs is not None:
        assert_agrees(mine, theirs)
    elif mine[0] == "error":
        assert_own_error(mine[1])

    # loads: the same, except that bytes after STOP are an error of its own
    result = outcome(lambda: safepickle.loads(data))
    if result[0] == "error":
        assert_own_error(result[1])
    elif mine[0] == "ok":
        assert_same(result[1], mine[1])

    loaded: list[Any] = []

    def load_all() -> list[Any]:
        for value in safepickle.load_all(io.BytesIO(data)):
            loaded.append(value)
        return loaded

    result = outcome(load_all)
    if result[0] == "error":
        assert_own_error(result[1])
    if mine[0] == "ok":  # the first pickle of the stream is what load returned
        assert loaded, "load returned a value, load_all yielded nothing"
        assert_same(loaded[0], mine[1])

    # a stream that is not seekable is read opcode by opcode: another code path
    stream = _ReadOnly(data)
    result = outcome(lambda: safepickle.load(stream))  # type: ignore[arg-type]
    if result[0] == "error":
        assert_own_error(result[1])
    else:
        assert mine[0] == "ok", f"only the read()-only stream loaded: {result[1]!r}"
        assert_same(result[1], mine[1])
    assert not canary.exists(), f"the canary was created by {data!r}"


@_FIXTURES
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_safepickle_errors(data: bytes, canary: Path) -> None:
    check_only_own_errors(data, canary)


@_FIXTURES
@given(data=sp.mutated_pickles())
def test_mutated_pickles_raise_only_safepickle_errors(data: bytes, canary: Path) -> None:
    """Valid (some hostile) pickles with flipped, inserted, deleted, duplicated, truncated
    and spliced bytes."""
    check_only_own_errors(data, canary)


@_FIXTURES
@given(data=sp.opcode_soup())
def test_opcode_soup_raises_only_safepickle_errors(data: bytes, canary: Path) -> None:
    """Random sequences of real opcodes with plausible arguments."""
    check_only_own_errors(data, canary)


@_FIXTURES
@given(data=sp.data_only_streams())
def test_data_only_streams_load_as_pickle_loads_them(data: bytes, canary: Path) -> None:
    """Mostly valid streams of data opcodes: here the pickle oracle runs nearly every time."""
    check_only_own_errors(data, canary)


#: frames whose length does not match the opcodes in them; pickle never writes them, but
#: pickle.loads and pickle.load read these particular ones alike
_ODD_FRAMES = {
    # FRAME 6 holds "]2." and then "NN." past the STOP
    "frame-past-stop": b"\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00]2.NN.",
    # FRAME 1 holds "]", the rest of the stream follows unframed
    "frame-shorter-than-stream": b"\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00]N\x85.",
    # two frames, the second one empty
    "empty-frame": b"\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00]"
    b"\x95\x00\x00\x00\x00\x00\x00\x00\x00.",
}


@pytest.mark.parametrize("data", list(_ODD_FRAMES.values()), ids=list(_ODD_FRAMES))
def test_odd_frames_load_as_pickle_loads_them(data: bytes) -> None:
    """safepickle.load agrees with pickle.load (which agrees with pickle.loads) on these, and
    leaves the file where pickle.load does."""
    assert_same(pickle.loads(data), pickle.load(io.BytesIO(data)))
    theirs = io.BytesIO(data)
    expected = pickle.load(theirs)
    mine = io.BytesIO(data)
    assert_same(safepickle.load(mine), expected)
    assert mine.tell() == theirs.tell()


@pytest.mark.parametrize("protocol", sp.PROTOCOLS)
@pytest.mark.parametrize("payload", [sp.Hostile(), sp.HostileGetattr()], ids=["open", "getattr"])
def test_hostile_seeds_are_refused(payload: Any, protocol: int, canary: Path) -> None:
    """The hostile pickles the mutation test starts from are refused as they are."""
    data = pickle.dumps([payload], protocol)
    with pytest.raises((safepickle.ForbiddenGlobal, safepickle.UnsafeOpcode)):
        safepickle.loads(data)
    assert not canary.exists()


# === 6. file positions ========================================================================


#: one opcode with a 70 KB argument, and 300 opcodes making a 75 KB pickle
_BIG_BLOB = b"\x00" * 70_000
_BIG_LIST = [bytes([i % 256]) * 250 for i in range(300)]


@st.composite
def _file_values(draw: st.DrawFn) -> Any:
    """A small generated value, or (one time in ten) one whose pickle is bigger than the
    64 KiB safepickle reads first from a file, so that it has to read on and seek back."""
    if draw(st.integers(0, 9)):
        return draw(sp.small_values)
    return draw(st.sampled_from([_BIG_BLOB, _BIG_LIST]))


#: a few pickles in a row, each with its protocol
_SEQUENCES = st.lists(
    st.tuples(_file_values(), st.sampled_from(sp.PROTOCOLS)), min_size=1, max_size=5
)


def _dumped(sequence: list[tuple[Any, int]]) -> bytes:
    """The values written one after another with pickle.dump."""
    out = io.BytesIO()
    for value, protocol in sequence:
        pickle.dump(value, out, protocol)
    return out.getvalue()


def _check_positions(mine: Any, theirs: Any, count: int) -> None:
    """Alternate safepickle.load on ``mine`` and pickle.load on ``theirs`` (same content)."""
    for i in range(count):
        assert_same(safepickle.load(mine), pickle.load(theirs))
        assert mine.tell() == theirs.tell(), f"after pickle {i}"
    with pytest.raises(EOFError):
        pickle.load(theirs)
    with pytest.raises(safepickle.TruncatedPickle) as info:
        safepickle.load(mine)
    assert isinstance(info.value, EOFError)


@_FIXTURES
@given(sequence=_SEQUENCES)
def test_load_leaves_files_where_pickle_load_does(
    sequence: list[tuple[Any, int]], tmp_path: Path
) -> None:
    """In a BytesIO, a buffered file and an unbuffered file: same values, same tell()."""
    data = _dumped(sequence)
    _check_positions(io.BytesIO(data), io.BytesIO(data), len(sequence))
    path = tmp_path / "stream.pickle"
    path.write_bytes(data)
    with path.open("rb") as mine, path.open("rb") as theirs:
        _check_positions(mine, theirs, len(sequence))
    with open(path, "rb", buffering=0) as mine, path.open("rb") as theirs:
        _check_positions(mine, theirs, len(sequence))


@_SLOW_DATA
@given(_SEQUENCES)
def test_load_all_yields_every_pickle(sequence: list[tuple[Any, int]]) -> None:
    data = _dumped(sequence)
    theirs = io.BytesIO(data)
    expected = [pickle.load(theirs) for _ in sequence]
    assert_same(list(safepickle.load_all(io.BytesIO(data))), expected)


@_SLOW_DATA
@given(_SEQUENCES)
def test_load_from_a_pipe(sequence: list[tuple[Any, int]]) -> None:
    """A real pipe (not seekable): fed by a thread so that big streams do not block."""
    data = _dumped(sequence)
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        try:
            with open(write_fd, "wb") as pipe:
                pipe.write(data)
        except BrokenPipeError:  # the reader gave up (a failed assertion): nothing to report
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        with open(read_fd, "rb") as pipe:
            theirs = io.BytesIO(data)
            for _ in sequence:
                assert_same(safepickle.load(pipe), pickle.load(theirs))
            with pytest.raises(safepickle.TruncatedPickle):
                safepickle.load(pipe)
    finally:
        feeder.join(timeout=10)


@_SLOW_DATA
@given(_SEQUENCES)
def test_load_from_a_read_only_stream(sequence: list[tuple[Any, int]]) -> None:
    """An object with only ``read()``: after each load it has consumed exactly one pickle."""
    data = _dumped(sequence)
    mine = _ReadOnly(data)
    theirs = io.BytesIO(data)
    for _ in sequence:
        assert_same(safepickle.load(mine), pickle.load(theirs))  # type: ignore[arg-type]
        assert mine.tell_inner() == theirs.tell()
    with pytest.raises(safepickle.TruncatedPickle):
        safepickle.load(mine)  # type: ignore[arg-type]


#: values that share no object with each other: no str or bytes of length 0-1 (CPython's
#: singletons), which a reused Pickler would reference across dumps through its memo
_UNSHARED = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(min_size=2, max_size=10),
        st.binary(min_size=2, max_size=10).map(bytearray),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, min_size=1, max_size=4).map(tuple),
        st.dictionaries(st.integers(), inner, max_size=4),
    ),
    max_leaves=8,
)


@_SLOW_DATA
@given(st.lists(_UNSHARED, min_size=2, max_size=4), st.sampled_from(sp.PROTOCOLS[:4]))
def test_load_reads_several_dumps_of_one_pickler(values: list[Any], protocol: int) -> None:
    """One ``pickle.Pickler`` dumping several values into one file (a common way to write a
    stream of records): its memo carries on from dump to dump, so the second pickle's PUT
    indices start past 0. ``pickle.load`` reads each pickle; so must ``safepickle.load``.

    Protocols 0-3 only: they write memo indices explicitly (PUT/BINPUT); with 4-5 (MEMOIZE)
    a reused Pickler writes streams that pickle.load itself misreads.
    """
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol)
    for value in values:
        pickler.dump(value)
    data = out.getvalue()
    theirs = io.BytesIO(data)
    expected = [outcome(lambda: pickle.load(theirs)) for _ in values]
    # an object shared between two values is a memo reference across dumps, which a fresh
    # pickle.load cannot resolve either; such examples say nothing about safepickle
    assume(all(result[0] == "ok" for result in expected))
    mine = io.BytesIO(data)
    theirs.seek(0)
    for i, (_, value) in enumerate(expected):
        try:
            loaded = safepickle.load(mine)
        except safepickle.SafePickleError as exc:
            raise AssertionError(f"pickle {i} of {data!r} refused; pickle.load reads it") from exc
        assert_same(loaded, value)
        pickle.load(theirs)
        assert mine.tell() == theirs.tell()


# === 7. fix_imports and encoding ===============================================================

#: values whose protocol 0-2 pickles name a global Python 2 spelled differently
#: (_compat_pickle.REVERSE_NAME_MAPPING / REVERSE_IMPORT_MAPPING) and the default policy allows
_RENAMED: st.SearchStrategy[Any] = st.one_of(
    sp.ranges,  # __builtin__.xrange
    st.sets(sp.hashable_scalars, max_size=4),  # __builtin__.set
    st.frozensets(sp.hashable_scalars, max_size=4),
    st.binary(max_size=10).map(bytearray),  # __builtin__.bytearray
    st.complex_numbers(allow_nan=False),  # __builtin__.complex
    st.builds(slice, sp.scalars, sp.scalars),  # __builtin__.slice
    st.sampled_from([Ellipsis, NotImplemented]),  # __builtin__.Ellipsis
    st.dictionaries(sp.texts, sp.ints, max_size=3).map(
        collections.UserDict
    ),  # UserDict.IterableUserDict
    st.lists(sp.ints, max_size=3).map(collections.UserList),
    sp.texts.map(collections.UserString),
    st.just(object()),  # copy_reg._reconstructor at protocols 0-1
)

_PY2_MODULES = frozenset({"__builtin__", "copy_reg", "UserDict", "UserList", "UserString"})


def _modules_named(data: bytes) -> set[str]:
    """The modules a stream's GLOBAL opcodes name."""
    return {
        arg.split(" ")[0]
        for op, arg, _ in pickletools.genops(data)
        if op.name in ("GLOBAL", "INST")
    }


@_SLOW_DATA
@given(st.lists(_RENAMED, min_size=1, max_size=4), st.sampled_from(sp.PROTOCOLS[:3]))
def test_fix_imports_maps_python2_names(values: list[Any], protocol: int) -> None:
    """Protocols 0-2 with fix_imports=True write Python 2 names; they load as pickle loads
    them. With fix_imports=False pickle cannot import them, and safepickle refuses them."""
    data = pickle.dumps(values, protocol, fix_imports=True)
    assert _modules_named(data) & _PY2_MODULES, "the stream should name a Python 2 module"
    assert_same(safepickle.loads(data), pickle.loads(data))
    with pytest.raises(ImportError):  # no module named __builtin__ / UserDict ...
        pickle.loads(data, fix_imports=False)
    with pytest.raises(safepickle.ForbiddenGlobal):
        safepickle.loads(data, fix_imports=False)

    # written with Python 3 names, the stream loads the same whatever fix_imports says
    data = pickle.dumps(values, protocol, fix_imports=False)
    for fix in (True, False):
        assert_same(safepickle.loads(data, fix_imports=fix), pickle.loads(data, fix_imports=fix))


def _py2_repr(raw: bytes, quote: bytes, octal: bool) -> bytes:
    """How Python 2 ``repr(str)`` quotes ``raw`` for the STRING opcode (optionally with the
    octal escapes that old picklers and hand-written streams use)."""
    out = bytearray(quote)
    for byte in raw:
        char = bytes([byte])
        if char in (b"\\", quote):
            out += b"\\" + char
        elif char == b"\n":
            out += b"\\n"
        elif char == b"\t":
            out += b"\\t"
        elif 32 <= byte < 127:
            out += char
        elif octal:
            out += b"\\%03o" % byte
        else:
            out += b"\\x%02x" % byte
    return bytes(out + quote)


@st.composite
def _py2_strings(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A hand-written Python 2 pickle of a ``str`` (SHORT_BINSTRING, BINSTRING or STRING),
    inside a list so that there is more than one opcode; returns (stream, raw str bytes)."""
    raw = draw(st.one_of(st.binary(max_size=40), st.text(max_size=10).map(str.encode)))
    form = draw(st.sampled_from(["SHORT_BINSTRING", "BINSTRING", "STRING"]))
    if form == "SHORT_BINSTRING" and len(raw) < 256:
        body = b"U" + bytes([len(raw)]) + raw
    elif form == "STRING":
        quote = draw(st.sampled_from([b"'", b'"']))
        body = b"S" + _py2_repr(raw, quote, draw(st.booleans())) + b"\np1\n"
        return b"(lp0\n" + body + b"a.", raw
    else:
        body = b"T" + len(raw).to_bytes(4, "little") + raw
    return b"\x80\x02]q\x00" + body + b"q\x01a.", raw


_ENCODINGS = st.sampled_from(["ASCII", "latin1", "bytes", "utf-8", "koi8_r"])
_ERRORS = st.sampled_from(["strict", "strict", "replace", "ignore", "surrogateescape"])


@given(_py2_strings(), _ENCODINGS, _ERRORS)
def test_python2_strings_decode_as_pickle_decodes_them(
    stream: tuple[bytes, bytes], encoding: str, errors: str
) -> None:
    """encoding=/errors= decide what a Python 2 str becomes; safepickle agrees with pickle,
    and where pickle fails (a non-ASCII str under the default encoding) safepickle raises
    its own error."""
    data, raw = stream
    mine = outcome(lambda: safepickle.loads(data, encoding=encoding, errors=errors))
    theirs = outcome(lambda: pickle.loads(data, encoding=encoding, errors=errors))
    assert_agrees(mine, theirs)
    if encoding == "bytes":
        assert mine == ("ok", [raw])
    if encoding == "ASCII" and errors == "strict" and any(byte > 127 for byte in raw):
        assert mine[0] == "error"


@_SLOW_DATA
@given(
    st.one_of(st.dates(), st.times(), st.datetimes()),
    st.sampled_from(["SHORT_BINSTRING", "STRING"]),
    _ENCODINGS,
)
def test_python2_datetimes_load_as_pickle_loads_them(value: Any, form: str, encoding: str) -> None:
    """Python 2 pickled date/time/datetime state as a str: Python 3 reads it back with
    encoding='latin1' (or 'bytes'); other encodings fail the same way on both sides."""
    state = value.__reduce__()[1][0]
    klass = type(value).__name__.encode()
    if form == "SHORT_BINSTRING":
        data = b"\x80\x02cdatetime\n" + klass + b"\nU" + bytes([len(state)]) + state + b"\x85R."
    else:
        data = b"cdatetime\n" + klass + b"\n(" + b"S" + _py2_repr(state, b"'", False) + b"\ntR."
    mine = outcome(lambda: safepickle.loads(data, encoding=encoding))
    theirs = outcome(lambda: pickle.loads(data, encoding=encoding))
    assert_agrees(mine, theirs)
    if encoding in ("latin1", "bytes"):
        assert mine[0] == "ok" and mine[1] == value


# --- guard: every helper type the comparator meets is covered ------------------------------


def test_assert_same_notices_differences() -> None:
    """The comparator is the oracle's eyes: make sure it fails where it must."""
    shared: list[Any] = []
    cases: list[tuple[Any, Any]] = [
        (1, True),
        (0.0, -0.0),
        (float("nan"), 1.0),
        ([shared, shared], [[], []]),
        ({"a": 1}, {"a": 2}),
        (collections.defaultdict(list), collections.defaultdict(int)),
        (decimal.Decimal("1.0"), decimal.Decimal("1.00")),
        (pathlib.PureWindowsPath("A"), pathlib.PureWindowsPath("a")),
        (datetime.datetime(2000, 1, 1, fold=1), datetime.datetime(2000, 1, 1)),
        (sample_classes.Slotted(1, 2), sample_classes.Slotted(1, 3)),
        (collections.deque([1], maxlen=2), collections.deque([1])),
        (types.SimpleNamespace(), types.SimpleNamespace(x=1)),
    ]
    for a, b in cases:
        with pytest.raises(AssertionError):
            assert_same(a, b)
    loop: list[Any] = []
    loop.append(loop)
    other: list[Any] = []
    other.append(other)
    assert_same(loop, other)
    assert_same(float("nan"), float("nan"))
