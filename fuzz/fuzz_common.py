"""What the fuzz harnesses share: the optional atheris engine, a sandbox directory, a strict
value comparison, the harmless classes one policy allows, and the option header of
``verifier_differential.py``.

Nothing here imports safepickle at module level: each harness imports it inside
``instrument_imports()``, so that atheris instruments safepickle and not this file (coverage of
the comparison below would only make the fuzzer collect inputs for value shapes).

Every harness's ``TestOneInput`` behaves the same with or without atheris installed: CI runs it
over the seed corpus with plain pytest (``tests/test_fuzz_harnesses.py``), and an input the fuzzer
saved reproduces with ``python fuzz/<harness>.py <file>`` or in that test.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import dataclasses
import decimal
import enum
import importlib
import math
import os
import pickle
import reprlib
import shutil
import struct
import tempfile
import types
import warnings
from collections import deque
from collections.abc import Iterator
from typing import Any

__all__ = [
    "HARMLESS_CLASSES",
    "LIMIT_FIELDS",
    "OPTIONS_MAGIC",
    "Blob",
    "Color",
    "Options",
    "Plain",
    "Point",
    "Reduced",
    "Sandbox",
    "Slots",
    "Stateful",
    "atheris",
    "encode_options",
    "finding",
    "first_difference",
    "instrument_imports",
    "parse_options",
    "quiet",
    "short",
]

# --- the engine: optional ------------------------------------------------------------------------

try:
    atheris: Any = importlib.import_module("atheris")
except ImportError:  # CI's test envs: TestOneInput still runs, over the seeds, without an engine
    atheris = None


#: instrument what the harnesses import (the tests turn it off: they run no engine)
INSTRUMENT = atheris is not None


def instrument_imports() -> contextlib.AbstractContextManager[Any]:
    """``atheris.instrument_imports()`` when atheris is installed, else a no-op."""
    if atheris is None or not INSTRUMENT:
        return contextlib.nullcontext()
    return atheris.instrument_imports()  # type: ignore[no-any-return]


#: check names whose findings are not raised (comma-separated ``SAFEPICKLE_FUZZ_IGNORE``), so a
#: long campaign can go on past a finding already reported; never set in CI or the tests
IGNORED = frozenset(filter(None, os.environ.get("SAFEPICKLE_FUZZ_IGNORE", "").split(",")))


def finding(check: str, message: str, cause: BaseException | None = None) -> None:
    """Report a finding of the check named ``check``: raise, unless that check is ignored."""
    if check not in IGNORED:
        raise AssertionError(f"[{check}] {message}") from cause


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 4
_SHORT.maxstring = _SHORT.maxother = 120
_SHORT.maxlong = 60


def short(value: Any) -> str:
    """A bounded repr for messages: never deep (a 10,000-deep list), never huge."""
    try:
        return _SHORT.repr(value)
    except Exception as exc:  # a repr that raises must not hide the finding being reported
        return f"<{type(value).__name__}: repr raised {type(exc).__name__}>"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Warnings ignored: pickle's STRING opcode warns on bad escapes, and pytest's ``error``
    filter would turn that into an exception, so a harness would judge an input differently
    under pytest than under the fuzzer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --- the sandbox: a directory that must stay empty -----------------------------------------------


class Sandbox:
    """A temporary directory each input runs in (as the current directory); a file that appears
    there (the catalogue's ``CANARY``, or anything else) means something executed."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="safepickle-fuzz-")
        atexit.register(shutil.rmtree, self.path, True)

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        """Run the block with the sandbox as the current directory; fail if it leaves a file.

        The directory is changed per input and changed back before any exception leaves, so
        libFuzzer's own relative paths (corpus folders, crash files) keep working."""
        old = os.getcwd()
        os.chdir(self.path)
        try:
            yield
        finally:
            os.chdir(old)
            left = os.listdir(self.path)
            if left:
                for name in left:
                    full = os.path.join(self.path, name)
                    if os.path.isdir(full) and not os.path.islink(full):
                        shutil.rmtree(full, ignore_errors=True)
                    else:
                        os.unlink(full)
                raise AssertionError(f"the input created {sorted(left)} in the sandbox")


# --- harmless classes: what the "allow a few classes" policy admits ------------------------------


@dataclasses.dataclass
class Point:
    """A dataclass: ``__eq__`` compares fields; NEWOBJ/``_reconstructor`` plus BUILD."""

    x: Any = None
    y: Any = None


class Plain:
    """No ``__eq__``: compared attribute by attribute."""

    def __init__(self, a: Any = None, b: Any = None) -> None:
        self.a = a
        self.b = b


class Slots:
    """State in ``__slots__``: BUILD gets ``(None, slotstate)``."""

    __slots__ = ("a", "b")

    def __init__(self, a: Any = None, b: Any = None) -> None:
        self.a = a
        self.b = b


class Stateful:
    """``__setstate__`` with a tuple state (kept as is)."""

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.value,)

    def __setstate__(self, state: Any) -> None:
        self.value = state


class Reduced:
    """``__reduce__`` to itself: a plain REDUCE of an allowed class."""

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __reduce__(self) -> tuple[type[Reduced], tuple[Any, ...]]:
        return (Reduced, self.args)


class Color(enum.Enum):
    RED = 1
    GREEN = "green"


class Blob(bytes):
    """A bytes subclass: protocols 0-1 rebuild it with ``copyreg._reconstructor(Blob, bytes,
    value)``, naming its base."""


HARMLESS_CLASSES: tuple[type, ...] = (Point, Plain, Slots, Stateful, Reduced, Color, Blob)


# --- the option header of verifier_differential.py -----------------------------------------------

#: first byte of an input that starts with options; neither a pickle opcode nor a JSON byte
OPTIONS_MAGIC = 0xFE
#: one header byte per field, in this order (0: the default; 1-255: that value). Fixed here, not
#: read from ``Limits``, so that a saved input keeps its meaning when fields are added; a name
#: ``Limits`` does not have (yet, or any more) is skipped
LIMIT_FIELDS = (
    "max_input_bytes",
    "max_opcodes",
    "max_stack_depth",
    "max_nesting",
    "max_memo_entries",
    "max_container_items",
    "max_globals",
    "max_global_name_bytes",
    "max_int_digits",
    "max_depth",
    "max_hash_work",
    "max_result_bytes",
    "max_result_ratio",
    "result_bytes_floor",
)
_FLAG_NO_FIX_IMPORTS = 1
_FLAG_PERSISTENT_IDS = 2
_FLAG_BYTEARRAY = 4
_START_SHIFT = 3  # bits 3-5: how many bytes before the pickle (verify's ``start``)
#: bit 6: Limits.max_slow_path_bytes is SHORT_SLOW_PATH (a field of its own would move every
#: saved input's stream by a byte), so that what only the Python pass handles is refused by
#: the compiled pass past it, in inputs as small as the fuzzer's
_FLAG_SHORT_SLOW_PATH = 64
SHORT_SLOW_PATH = 24


@dataclasses.dataclass(frozen=True)
class Options:
    """How one input is verified: the stream, where it starts, and the verifier's options."""

    data: bytes | bytearray
    start: int
    limits: dict[str, int]
    fix_imports: bool = True
    persistent_ids: bool = False

    def describe(self) -> str:
        return (
            f"start={self.start} limits={self.limits} fix_imports={self.fix_imports} "
            f"persistent_ids={self.persistent_ids} type={type(self.data).__name__}"
        )


def parse_options(data: bytes, known: frozenset[str] | set[str]) -> Options:
    """Split an input into options and stream.

    An input that does not start with :data:`OPTIONS_MAGIC` is a stream verified as it is,
    under the default limits. One that does is ``MAGIC, flags, one byte per LIMIT_FIELDS, the
    stream``; a short header reads as zeros (defaults). ``known`` are the fields ``Limits`` has.
    """
    if not data or data[0] != OPTIONS_MAGIC:
        return Options(data, 0, {})
    flags = data[1] if len(data) > 1 else 0
    header = data[2 : 2 + len(LIMIT_FIELDS)]
    limits = {
        name: value
        for name, value in zip(LIMIT_FIELDS, header, strict=False)
        if value and name in known
    }
    body = data[2 + len(LIMIT_FIELDS) :]
    start = min((flags >> _START_SHIFT) & 7, len(body))
    stream: bytes | bytearray = bytearray(body) if flags & _FLAG_BYTEARRAY else body
    if flags & _FLAG_SHORT_SLOW_PATH and "max_slow_path_bytes" in known:
        limits["max_slow_path_bytes"] = SHORT_SLOW_PATH
    return Options(
        stream,
        start,
        limits,
        fix_imports=not flags & _FLAG_NO_FIX_IMPORTS,
        persistent_ids=bool(flags & _FLAG_PERSISTENT_IDS),
    )


def encode_options(
    stream: bytes,
    limits: dict[str, int] | None = None,
    *,
    fix_imports: bool = True,
    persistent_ids: bool = False,
    as_bytearray: bool = False,
    prefix: bytes = b"",
    short_slow_path: bool = False,
) -> bytes:
    """The input that :func:`parse_options` reads back as these options (for seeds)."""
    limits = limits or {}
    unknown = set(limits) - set(LIMIT_FIELDS)
    if unknown or not all(0 < value < 256 for value in limits.values()):
        raise ValueError(f"limits must be fields of LIMIT_FIELDS with values 1-255: {limits}")
    if len(prefix) > 7:
        raise ValueError("at most 7 bytes before the stream")
    flags = len(prefix) << _START_SHIFT
    flags |= 0 if fix_imports else _FLAG_NO_FIX_IMPORTS
    flags |= _FLAG_PERSISTENT_IDS if persistent_ids else 0
    flags |= _FLAG_BYTEARRAY if as_bytearray else 0
    flags |= _FLAG_SHORT_SLOW_PATH if short_slow_path else 0
    header = bytes(limits.get(name, 0) for name in LIMIT_FIELDS)
    return bytes((OPTIONS_MAGIC, flags)) + header + prefix + stream


# --- comparing two loaded values -----------------------------------------------------------------

#: compared with ``==`` (their types match exactly first)
_ATOMS = (type(None), bool, int, str, bytes, type(Ellipsis), type(NotImplemented))
#: compared by identity: a global loaded as a value, an enum member
_BY_IDENTITY = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    enum.Enum,
)
#: how a difference that is the default policy's stand-in for a class starts (issue 15): the
#: harness reports it as its own check, so a campaign can go on past it
NARROWED_STAND_IN = "narrowed stand-in"
_MAX_SET_MATCHING = 64  # members matched pairwise when their orders differ (NaN hashes by id)


def _is_stand_in(value: Any) -> bool:
    """A default policy's stand-in for a global (a callable of ``safepickle.builtin``)."""
    return callable(value) and getattr(value, "__module__", "").startswith("safepickle.builtin.")


def _same_float(a: float, b: float) -> bool:
    """Equal as floats, NaN equal to NaN, and the sign of zero significant."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)


def _slot_names(kind: type) -> list[str]:
    names: list[str] = []
    for klass in kind.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__"):
                names.append(name)
    return names


def _has_own_eq(kind: type) -> bool:
    return any("__eq__" in klass.__dict__ for klass in kind.__mro__[:-1])


_Trail = tuple[Any, ...] | None  # (parent trail, step): rendered only when a difference is found


def _render(trail: _Trail) -> str:
    steps: list[str] = []
    while trail is not None:
        trail, step = trail
        steps.append(step if isinstance(step, str) else f"[{short(step[0])}]")
    return "".join(reversed(steps)) or "<root>"


def first_difference(actual: Any, expected: Any) -> str | None:
    """Where two loaded values differ, or None when they are the same.

    Stricter than ``==`` and safe where ``==`` is not: types equal all the way down, NaN equal
    to NaN and ``-0.0`` distinct from ``0.0``, objects without ``__eq__`` compared by their
    state, and sharing kept alike (an object reached twice on one side is one object reached
    twice on the other), which also ends the walk on cycles. Iterative: deep values are fine.
    """
    pairs: dict[int, int] = {}
    reverse: dict[int, int] = {}
    work: list[tuple[Any, Any, _Trail]] = [(actual, expected, None)]
    while work:
        a, b, trail = work.pop()
        problem = _compare_one(a, b, trail, pairs, reverse, work)
        if problem is not None:
            return f"at {_render(trail)}: {problem}"
    return None


def _compare_one(
    a: Any,
    b: Any,
    trail: _Trail,
    pairs: dict[int, int],
    reverse: dict[int, int],
    work: list[tuple[Any, Any, _Trail]],
) -> str | None:
    """Compare ``a`` with ``b`` here; push their parts onto ``work``."""
    kind = type(a)
    if kind is not type(b):
        if _is_stand_in(a) and callable(b):  # the open finding narrowed-global-as-value
            return f"{NARROWED_STAND_IN} {short(a)} where the reference has {short(b)}"
        return f"type {kind.__name__} != {type(b).__name__}"
    if kind in _ATOMS:
        return None if a == b else f"{short(a)} != {short(b)}"
    if kind is float:
        return None if _same_float(a, b) else f"{short(a)} != {short(b)}"
    if kind is complex:
        same = _same_float(a.real, b.real) and _same_float(a.imag, b.imag)
        return None if same else f"{short(a)} != {short(b)}"
    if kind is decimal.Decimal:
        return None if a.as_tuple() == b.as_tuple() else f"{short(a)} != {short(b)}"
    if kind is types.FunctionType and "<locals>" in a.__qualname__:
        # made per instance by the class's own code (IPv6Network('::1/128').hosts is a lambda
        # its __init__ makes): the same code, not the same object
        return None if a.__code__ is b.__code__ else f"{short(a)} is not {short(b)}"
    if isinstance(a, _BY_IDENTITY):
        return None if a is b else f"{short(a)} is not {short(b)}"
    if kind is range:
        same = (a.start, a.stop, a.step) == (b.start, b.stop, b.step)
        return None if same else f"{short(a)} != {short(b)}"

    # containers and objects: shared alike on both sides
    seen = pairs.get(id(a))
    if seen is not None or id(b) in reverse:
        if seen != id(b) or reverse.get(id(b)) != id(a):
            return "one object on one side is several (or another) on the other"
        return None
    pairs[id(a)] = id(b)
    reverse[id(b)] = id(a)

    if isinstance(a, (list, tuple, deque)):  # subclasses too: the types matched
        if len(a) != len(b) or getattr(a, "maxlen", None) != getattr(b, "maxlen", None):
            return f"lengths {len(a)} != {len(b)}"
        work.extend((x, y, (trail, f"[{i}]")) for i, (x, y) in enumerate(zip(a, b, strict=True)))
    elif isinstance(a, dict):
        if len(a) != len(b):
            return f"lengths {len(a)} != {len(b)}"
        if getattr(a, "default_factory", None) is not getattr(b, "default_factory", None):
            return "default factories differ"
        # both sides ran the same SETITEM(S) in the same order
        for i, ((ka, va), (kb, vb)) in enumerate(zip(a.items(), b.items(), strict=True)):
            work.append((ka, kb, (trail, f".keys()[{i}]")))
            work.append((va, vb, (trail, (ka,))))
    elif isinstance(a, (set, frozenset)):
        problem = _set_difference(a, b)
        if problem is not None:
            return problem
    elif kind is bytearray:
        return None if a == b else f"{short(a)} != {short(b)}"
    elif kind is array.array:
        same = a.typecode == b.typecode and a.tobytes() == b.tobytes()
        return None if same else "arrays differ"
    elif kind is pickle.PickleBuffer or kind is memoryview:
        with memoryview(a) as ma, memoryview(b) as mb:
            left = (ma.readonly, ma.format, ma.shape, ma.tobytes())
            right = (mb.readonly, mb.format, mb.shape, mb.tobytes())
        return None if left == right else "buffers differ"
    elif kind is slice:
        work.append((a.start, b.start, (trail, ".start")))
        work.append((a.stop, b.stop, (trail, ".stop")))
        work.append((a.step, b.step, (trail, ".step")))
        return None
    elif _has_own_eq(kind) and not hasattr(a, "__dict__"):
        # value types with their own equality (datetime, UUID, Fraction, PurePath, IPv4Address);
        # the repr also shows what == ignores (a datetime's fold, a path's flavour)
        same = bool(a == b) and repr(a) == repr(b)
        return None if same else f"{short(a)} != {short(b)}"
    elif kind is object:
        return None
    elif hasattr(a, "__dict__") or _slot_names(kind):
        for name in _slot_names(kind):
            missing = object()
            x, y = getattr(a, name, missing), getattr(b, name, missing)
            if (x is missing) != (y is missing):
                return f"slot {name} set on one side only"
            if x is not missing:
                work.append((x, y, (trail, f".{name}")))
    else:
        same = bool(a == b) and repr(a) == repr(b)
        return None if same else f"{short(a)} != {short(b)} ({kind.__name__})"
    if hasattr(a, "__dict__"):  # objects, and subclasses of builtin containers
        work.append((vars(a), vars(b), (trail, ".__dict__")))
    return None


def _set_difference(a: Any, b: Any) -> str | None:
    """Sets hold the same members: in the same order (both sides added them in one order), or,
    when a NaN (hashed by its id) ordered them apart, matched pairwise."""
    if len(a) != len(b):
        return f"sizes {len(a)} != {len(b)}"
    if all(first_difference(x, y) is None for x, y in zip(a, b, strict=True)):
        return None
    if len(a) > _MAX_SET_MATCHING:
        return f"sets of {len(a)} members differ in order or content"
    left = list(b)
    for x in a:
        for i, y in enumerate(left):
            if first_difference(x, y) is None:
                del left[i]
                break
        else:
            if _is_stand_in(x):  # the open finding narrowed-global-as-value, in a set
                return f"{NARROWED_STAND_IN} {short(x)} is a member where the reference has none"
            return f"member {short(x)} has no counterpart"
    return None
