"""A symbolic pass over a pickle's opcodes that evaluates just enough to check numpy's states.

Two things need more than safepickle's verifier can see, and both are decided here before a
single opcode runs (this pass executes nothing but ``numpy.dtype`` on constants):

* **Object arrays.** numpy's ``ndarray.__setstate__`` reads as many items from an object
  array's list as its shape says, without checking the list's length: a short list crashes the
  interpreter. Every ``BUILD`` whose state holds an object dtype (or ``StringDType``) must have
  numpy's layout ``(version, shape, dtype, is_fortran, items, ...)`` with exactly
  ``prod(shape)`` items; anything the pass cannot evaluate is refused
  (:class:`~safepickle.UnsafeOpcode`). The numpy plugin's inspect hook runs this on every
  stream that names a numpy global, before core executes it.
* **joblib files** (``joblib=True``). joblib writes each array as a
  ``joblib.numpy_pickle.NumpyArrayWrapper`` followed, right after its ``BUILD``, by the raw
  array bytes (or a nested pickle for object arrays). The pass learns each wrapper's dtype and
  shape, skips the data, and rewrites the stream into a plain pickle: the wrapper class becomes
  :data:`ARRAY_GLOBAL`, its ``NEWOBJ`` a ``POP`` and its ``BUILD`` ``<index> TUPLE2 REDUCE``, so
  ``ARRAY_GLOBAL(state, index)`` returns the array. ``FRAME`` opcodes are dropped. Memo indices
  and stack shapes are unchanged by every rewrite.

Values are tracked as plain constants, lists, tuples and dicts (built as the unpickler would),
:class:`_Name` for globals, :class:`_Dtype` for dtypes, ``BLOB`` for long bytes and text (array
data, skipped without a copy) and ``_UNKNOWN`` for everything else. The opcodes are read from
the buffer directly (pickletools' table, our readers); an object array's items (strings, small
ints, memo writes) are handled inline, which makes the pass ~3x faster than ``genops``.
"""

from __future__ import annotations

import math
import pickletools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, cast

import numpy as np
from safepickle import MalformedPickle, TruncatedPickle, UnsafeOpcode

from . import _narrow
from ._dtype_state import BAD_DTYPE, dtype_from_state
from ._opcodes import (
    BINUNICODE,
    BLOB,
    FAST,
    FAST_INTS,
    KEEP,
    LONG_BINPUT,
    MEMOIZE,
    STRINGS,
    TABLE,
    UINT4,
    Arg,
    Buffer,
    LineReader,
    sized,
)  # fmt: skip

__all__ = ["ARRAY_GLOBAL", "ArraySpec", "Buffer", "check_object_arrays", "split_joblib"]


#: the global the rewritten stream calls in place of each wrapper: (module, qualname)
ARRAY_GLOBAL = ("safepickle_numpy._joblib", "joblib_array")
_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_MAX_ARRAYS = 1_000_000
_MAX_DIMS = 64


@dataclass(frozen=True)
class ArraySpec:
    """Where one joblib array's data lies in the decompressed file, and what it is."""

    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    order: str
    #: offset of the raw data (after any alignment padding), or of the nested pickle
    offset: int
    #: bytes of raw data, or of the nested pickle (object arrays)
    length: int
    #: the data is a nested pickle (object dtype), not raw bytes
    nested: bool


class _Unknown:
    """A value the pass does not evaluate."""

    __slots__ = ()


_UNKNOWN = _Unknown()
_WRAPPER_CLASS = object()
_WRAPPER_INSTANCE = object()


@dataclass(frozen=True)
class _Name:
    """A global the stream named (nothing is imported)."""

    module: str
    name: str


class _Dtype:
    """A dtype the stream builds (``numpy.dtype(...)`` then ``BUILD``); ``value`` is None when
    its arguments could not be evaluated, and then it may be an object dtype."""

    __slots__ = ("value",)

    def __init__(self, value: np.dtype[Any] | None) -> None:
        self.value = value

    @property
    def may_hold_objects(self) -> bool:
        return self.value is None or self.value.hasobject


_DTYPE_NAMES = frozenset({_Name("numpy", "dtype")})
_STRINGDTYPE_NAMES = frozenset(
    {_Name(m, "_convert_to_stringdtype_kwargs") for m in ("numpy._core._internal",)}
)
_BYTES_NAMES = frozenset(
    {_Name("_codecs", "encode"), _Name("builtins", "bytes"), _Name("__builtin__", "bytes")}
)
#: classes a dtype may be built from by name (numpy.record for record arrays)
_DTYPE_CLASSES = {_Name("numpy", "record"): np.record}


def _fail(message: str, offset: int) -> MalformedPickle:
    return MalformedPickle(f"safepickle_numpy cannot accept this stream: {message}", offset=offset)


#: why an object array state that does not match its shape is refused
COUNT_WHY = (
    "numpy's ndarray.__setstate__ reads an object array's items without checking their count "
    "(a short list crashes the interpreter) and numpy never writes such a state"
)


def _refuse(message: str, offset: int, why: str = COUNT_WHY) -> UnsafeOpcode:
    """A state or dtype numpy could not load safely: a refusal no policy can lift."""
    return UnsafeOpcode(
        f"safepickle_numpy refuses the BUILD at offset {offset}: {message}. {why}, so no "
        "policy can allow it",
        opcode="BUILD",
        offset=offset,
    )


_CONSTANT_OPS = frozenset(
    {
        "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
        "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINBYTES",
        "BINBYTES", "BINBYTES8", "STRING", "BINSTRING", "SHORT_BINSTRING",
    }
)  # fmt: skip
_SINGLETONS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_TUPLE_SIZES = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
_MEMO_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})
_OPCODES = {op.name: op for op in pickletools.opcodes}


class _Scan:
    def __init__(self, data: Buffer, start: int, joblib: bool, nested_end: Callable[[int], int]):
        self.data = data
        self.start = start
        self.joblib = joblib
        self.nested_end = nested_end
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}
        self.out = bytearray()
        self.arrays: list[ArraySpec] = []
        #: the last wrapper's (dtype, shape, order, alignment), until its data is skipped
        self.pending: tuple[np.dtype[Any], tuple[int, ...], str, Any] | None = None

    # --- stack helpers ----------------------------------------------------------------------
    def pop(self, offset: int) -> Any:
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            raise _fail("stack underflow", offset)
        return self.stack.pop()

    def pop_mark(self, offset: int) -> list[Any]:
        if not self.marks:
            raise _fail("no MARK", offset)
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def run(self) -> int:
        """Walk to STOP; return the offset just past it."""
        data = self.data
        size = len(data)
        pos = self.start
        stack, memo, marks, joblib = self.stack, self.memo, self.marks, self.joblib
        try:
            while True:
                if pos >= size:
                    raise TruncatedPickle("pickle data was truncated: no STOP opcode")
                code = data[pos]
                # an object array is a string (or int) and a memo write per item: those two
                # inline, the rest through the table and step()
                if code in FAST:
                    if code in STRINGS:
                        wide = code == BINUNICODE
                        length = UINT4.unpack_from(data, pos + 1)[0] if wide else data[pos + 1]
                        first = pos + (5 if wide else 2)
                        end = first + length
                        if end > size:
                            raise TruncatedPickle("pickle data was truncated in a string")
                        stack.append(
                            BLOB
                            if length > KEEP
                            else str(data[first:end], "utf-8", "surrogatepass")
                        )
                    elif code in FAST_INTS:
                        number = FAST_INTS[code]
                        end = pos + 1 + number.size
                        stack.append(number.unpack_from(data, pos + 1)[0])
                    else:
                        if not stack or (marks and len(stack) <= marks[-1]):
                            raise _fail("stack underflow", pos)
                        if code == MEMOIZE:
                            end = pos + 1
                            memo[len(memo)] = stack[-1]
                        else:
                            wide = code == LONG_BINPUT
                            end = pos + (5 if wide else 2)
                            index = UINT4.unpack_from(data, pos + 1)[0] if wide else data[pos + 1]
                            memo[index] = stack[-1]
                    if joblib:
                        self.out += data[pos:end]
                    pos = end
                    continue
                entry = TABLE[code]
                if entry is None:
                    raise _fail(f"unknown opcode {code:#04x}", pos)
                name, kind, prefix, decode = entry
                end = pos + 1
                if kind is Arg.NONE:
                    arg: Any = None
                elif kind is Arg.FIXED:
                    arg = prefix.unpack_from(data, end)[0]
                    end += prefix.size
                elif kind is Arg.SIZED:
                    arg, end = sized(data, end, prefix, decode)
                else:
                    reader = LineReader(data, end)
                    arg = _OPCODES[name].arg.reader(cast("IO[bytes]", reader))  # type: ignore[union-attr]
                    end = reader.pos
                replacement = self.step(name, arg, pos)
                if self.joblib:
                    self.out += data[pos:end] if replacement is None else replacement
                    if replacement is not None and name == "BUILD":
                        end = self.skip_array_data(end)
                pos = end
                if name == "STOP":
                    return pos
        except (ValueError, struct.error, IndexError, KeyError) as exc:  # a malformed stream
            text = str(exc)
            if any(hint in text for hint in ("remain", "at end", "truncated", "requires a buf")):
                raise TruncatedPickle(f"pickle data was truncated: {exc}") from None
            raise _fail(f"malformed pickle: {exc}", pos) from None

    # --- one opcode -------------------------------------------------------------------------
    def step(self, name: str, arg: Any, pos: int) -> bytes | None:
        """Update the symbolic state; return replacement bytes, or None to copy the opcode."""
        stack = self.stack
        if name in _CONSTANT_OPS:
            stack.append(arg)
        elif name in _SINGLETONS:
            stack.append(_SINGLETONS[name])
        elif name in ("PROTO", "STOP"):
            pass
        elif name == "FRAME":
            return b""
        elif name == "MARK":
            self.marks.append(len(stack))
        elif name in _TUPLE_SIZES or name == "TUPLE":
            count = _TUPLE_SIZES.get(name)
            if count is None:
                stack.append(tuple(self.pop_mark(pos)))
            else:
                items = [self.pop(pos) for _ in range(count)]
                stack.append(tuple(reversed(items)))
        elif name in ("EMPTY_LIST", "EMPTY_DICT"):
            stack.append([] if name == "EMPTY_LIST" else {})
        elif name in ("LIST", "DICT"):
            items = self.pop_mark(pos)
            stack.append(items if name == "LIST" else _fill({}, items))
        elif name in ("APPEND", "APPENDS"):
            items = [self.pop(pos)] if name == "APPEND" else self.pop_mark(pos)
            target = self.top(pos)
            if isinstance(target, list):
                target.extend(items)
        elif name in ("SETITEM", "SETITEMS"):
            if name == "SETITEM":
                value = self.pop(pos)
                items = [self.pop(pos), value]
            else:
                items = self.pop_mark(pos)
            target = self.top(pos)
            if isinstance(target, dict):
                _fill(target, items)
        elif name in _MEMO_PUT or name == "MEMOIZE":
            self.memo[len(self.memo) if name == "MEMOIZE" else arg] = self.top(pos)
        elif name in _MEMO_GET:
            if arg not in self.memo:
                raise _fail(f"memo index {arg} was never written", pos)
            stack.append(self.memo[arg])
        elif name == "POP":
            self.pop(pos)
        elif name == "POP_MARK":
            self.pop_mark(pos)
        elif name == "DUP":
            stack.append(self.top(pos))
        elif name == "GLOBAL":
            module, _, qualname = arg.partition(" ")
            return self.push_global(module, qualname, pos, b"")
        elif name == "STACK_GLOBAL":
            qualname, module = self.pop(pos), self.pop(pos)
            if not (isinstance(module, str) and isinstance(qualname, str)):
                module, qualname = "?", "?"  # safepickle's verifier refuses this shape
            return self.push_global(module, qualname, pos, b"00")  # 0x30 is POP
        elif name == "NEWOBJ":
            args, cls = self.pop(pos), self.pop(pos)
            if cls is _WRAPPER_CLASS:
                stack.append(_WRAPPER_INSTANCE)
                return b"0"  # POP the arguments: the stack keeps ARRAY_GLOBAL
            stack.append(_UNKNOWN)
        elif name == "REDUCE":
            args, func = self.pop(pos), self.pop(pos)
            stack.append(self.call(func, args, pos))
        elif name == "BUILD":
            state = self.pop(pos)
            target = self.top(pos)
            if target is _WRAPPER_INSTANCE:
                stack[-1] = _UNKNOWN
                return self.wrapper_built(state, pos)
            if isinstance(target, _Dtype):
                # in place: the memo may hold the same dtype, and BUILD changes that one too
                target.value = _build_dtype(target, state)
                if target.value is None:
                    raise _refuse(
                        "a dtype BUILD whose state is not exactly what numpy writes for the "
                        "dtype it makes (or the pass cannot evaluate it)",
                        pos,
                        why=BAD_DTYPE,
                    )
            else:
                self.check_state(state, pos)
        else:
            self.generic(name, pos)
        return None

    def top(self, pos: int) -> Any:
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            raise _fail("stack underflow", pos)
        return self.stack[-1]

    def generic(self, name: str, pos: int) -> None:
        """Any other opcode: its stack effect, with unknown results."""
        op = _OPCODES[name]
        before = list(op.stack_before)
        if pickletools.markobject in before:
            for item in self.pop_mark(pos):
                self.refuse_wrapper(item, pos)
            before = before[: before.index(pickletools.markobject)]
        for _ in before:
            self.refuse_wrapper(self.pop(pos), pos)
        self.stack.extend(_UNKNOWN for _ in op.stack_after)

    def refuse_wrapper(self, item: Any, pos: int) -> None:
        if item is _WRAPPER_CLASS or item is _WRAPPER_INSTANCE:
            raise _fail("a joblib array wrapper used other than as joblib writes it", pos)

    def push_global(self, module: str, qualname: str, pos: int, prefix: bytes) -> bytes | None:
        # a joblib file must not name it; the stream load_joblib rewrites names it (and only
        # load_joblib's per-load plugin allows it), which the inspect hook then walks
        ours = module == ARRAY_GLOBAL[0] or module.startswith(ARRAY_GLOBAL[0] + ".")
        if self.joblib and ours:
            raise _fail(f"the stream names '{module}.{qualname}', which only we write", pos)
        if self.joblib and (module, qualname) == _WRAPPER:
            self.stack.append(_WRAPPER_CLASS)
            return prefix + b"c%s\n%s\n" % (ARRAY_GLOBAL[0].encode(), ARRAY_GLOBAL[1].encode())
        self.stack.append(_Name(module, qualname))
        return None

    def call(self, func: Any, args: Any, pos: int) -> Any:
        self.refuse_wrapper(func, pos)
        if func in _DTYPE_NAMES:
            return _Dtype(_evaluate_dtype(args))
        if func in _STRINGDTYPE_NAMES:
            try:
                return _Dtype(_narrow.stringdtype(*_real(args)))
            except Exception:
                return _Dtype(None)
        # protocols 0-2 write bytes as _codecs.encode(text, "latin1"), and b"" as bytes()
        if func in _BYTES_NAMES and (
            args == ()
            or (
                isinstance(args, tuple)
                and len(args) == 2
                and isinstance(args[0], str)
                and args[1] in ("latin1", "latin-1")
            )
        ):
            return args[0].encode("latin-1") if args else b""
        return _UNKNOWN

    # --- object arrays ----------------------------------------------------------------------
    def check_state(self, state: Any, pos: int) -> None:
        """Refuse a BUILD whose state holds an object dtype unless it is numpy's layout with
        exactly as many items as the shape says; and numpy's layout with an item list whose
        dtype the pass could not follow (only numpy.dtype makes dtypes, so that is not a
        pickle numpy wrote)."""
        if not _may_hold_objects(state):  # numpy checks the length of a non-object state
            if _looks_like_object_array(state):
                raise _refuse(
                    "an array state with items in a list and a dtype the pass cannot follow", pos
                )
            return
        if not isinstance(state, tuple):
            raise _refuse("an object dtype in a state that is not numpy's array layout", pos)
        if len(state) >= 5 and type(state[0]) is int:
            shape, dtype, items, rest = state[1], state[2], state[4], (state[0], *state[5:])
        elif len(state) == 4:
            shape, dtype, items, rest = state[0], state[1], state[3], ()
        else:
            raise _refuse("an object dtype in a state that is not numpy's array layout", pos)
        if any(_may_hold_objects(part) for part in rest) or _may_hold_objects(shape):
            raise _refuse("an object dtype in an unexpected place of an array's state", pos)
        if not isinstance(dtype, _Dtype) or dtype.value is None:
            raise _refuse("an array state whose dtype cannot be checked", pos)
        if not (isinstance(shape, tuple) and len(shape) <= _MAX_DIMS) or not all(
            type(n) is int and n >= 0 for n in shape
        ):
            raise _refuse(f"an object array with shape {shape!r}", pos)
        if not isinstance(items, list):
            raise _refuse(
                f"an object array of shape {shape} whose items are not a list the pass can "
                "count (built by a call, or not a list)",
                pos,
            )
        if len(items) != math.prod(shape):
            raise _refuse(
                f"an object array of shape {shape} ({math.prod(shape)} items) whose item list "
                f"holds {len(items)}",
                pos,
            )

    # --- joblib's array wrapper -------------------------------------------------------------
    def wrapper_built(self, state: Any, pos: int) -> bytes:
        if not isinstance(state, dict):
            raise _fail("a joblib array wrapper whose state is not a plain dict", pos)
        dtype = state.get("dtype")
        shape = state.get("shape")
        order = state.get("order", "C")
        if not isinstance(dtype, _Dtype) or dtype.value is None:
            raise _fail("a joblib array wrapper whose dtype is not a plain numpy.dtype", pos)
        if not (
            isinstance(shape, tuple)
            and len(shape) <= _MAX_DIMS
            and all(type(n) is int and n >= 0 for n in shape)
        ):
            raise _fail(f"a joblib array wrapper with shape {shape!r}", pos)
        if order not in ("C", "F"):
            raise _fail(f"a joblib array wrapper with order {order!r}", pos)
        if len(self.arrays) >= _MAX_ARRAYS:
            raise _fail(f"more than {_MAX_ARRAYS} arrays", pos)
        index = len(self.arrays)
        self.pending = (dtype.value, shape, order, state.get("numpy_array_alignment_bytes"))
        return b"J" + struct.pack("<i", index) + b"\x86R"  # BININT index, TUPLE2, REDUCE

    def skip_array_data(self, offset: int) -> int:
        """Record the array whose data starts at ``offset``; return where the opcodes resume."""
        assert self.pending is not None  # set by wrapper_built, just before
        dtype, shape, order, alignment = self.pending
        data = self.data
        if dtype.hasobject:
            end = self.nested_end(offset)
            self.arrays.append(ArraySpec(dtype, shape, order, offset, end - offset, True))
            return end
        if alignment is not None:
            if offset >= len(data):
                raise TruncatedPickle("joblib data truncated in an array's padding")
            offset += 1 + data[offset]
        length = math.prod(shape) * dtype.itemsize
        if offset + length > len(data):
            raise TruncatedPickle(
                f"joblib data truncated: an array of {length} bytes at offset {offset} runs "
                f"past the end of the data ({len(data)} bytes)"
            )
        self.arrays.append(ArraySpec(dtype, shape, order, offset, length, False))
        return offset + length


def _fill(target: dict[Any, Any], items: list[Any]) -> dict[Any, Any]:
    for key, value in zip(items[::2], items[1::2], strict=False):
        try:
            target[key] = value
        except TypeError:  # unhashable: the real load reports it
            continue
    return target


def _looks_like_object_array(state: Any) -> bool:
    """numpy's array state layout with a list of items (or items the pass could not follow)
    and a dtype that is not a :class:`_Dtype`."""
    if not isinstance(state, tuple):
        return False
    if len(state) >= 5 and type(state[0]) is int and isinstance(state[1], tuple):
        dtype, items = state[2], state[4]
    elif len(state) == 4 and isinstance(state[0], tuple):
        dtype, items = state[1], state[3]
    else:
        return False
    # items the pass could not follow (built by a call) may be a list too
    return isinstance(items, (list, _Unknown)) and isinstance(dtype, (_Unknown, _Name))


def _may_hold_objects(value: Any, depth: int = 0) -> bool:
    """Does ``value`` (a state or argument) contain a dtype that may hold objects? Looks into
    tuples and dicts (where states keep their dtypes), not into lists (array items)."""
    if isinstance(value, _Dtype):
        return value.may_hold_objects
    if depth >= 4:
        return False
    if isinstance(value, tuple):
        return any(_may_hold_objects(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return any(_may_hold_objects(item, depth + 1) for item in value.values())
    return False


def _evaluate_dtype(args: Any) -> np.dtype[Any] | None:
    """``numpy.dtype(*args)`` when the arguments are constants the pass evaluated; else None."""
    if not isinstance(args, tuple) or not args or len(args) > 3:
        return None
    first = _DTYPE_CLASSES.get(args[0], args[0]) if isinstance(args[0], _Name) else args[0]
    if not isinstance(first, (str, bytes, type)) or not all(type(a) is bool for a in args[1:]):
        return None
    try:
        return _narrow.make_dtype(first, *args[1:])
    except Exception:
        return None


def _real(value: Any, depth: int = 0) -> Any:
    """``value`` with evaluated dtypes in place of :class:`_Dtype`; LookupError if one was not
    evaluated or something else is unknown."""
    if isinstance(value, _Dtype):
        if value.value is None:
            raise LookupError
        return value.value
    if isinstance(value, (_Unknown, _Name)) or depth > 8:
        raise LookupError
    if isinstance(value, tuple):
        return tuple(_real(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return {key: _real(item, depth + 1) for key, item in value.items()}
    return value


def _build_dtype(target: _Dtype, state: Any) -> np.dtype[Any] | None:
    """The dtype after ``BUILD``, built by numpy's constructor from the state, or None when
    the state is not numpy's own for it: then the stream is refused, because numpy's
    ``dtype.__setstate__`` trusts its state (and crashes on some)."""
    if target.value is None:
        return None
    try:
        return dtype_from_state(target.value, _real(state))
    except LookupError:
        return None


def check_object_arrays(data: Buffer, start: int = 0) -> int:
    """Check every object array's state in the pickle at ``data[start]``; return its end."""
    return _Scan(data, start, joblib=False, nested_end=_no_nesting).run()


def _no_nesting(offset: int) -> int:  # pragma: no cover - only joblib streams nest
    raise _fail("a nested pickle outside a joblib file", offset)


def split_joblib(data: bytes, nested_end: Callable[[int], int]) -> tuple[bytes, list[ArraySpec]]:
    """The plain pickle a joblib stream amounts to, and where each array's data is.

    ``nested_end(offset)`` checks the nested pickle (an object array) starting at ``offset``
    and returns where it ends.
    """
    scan = _Scan(data, 0, joblib=True, nested_end=nested_end)
    end = scan.run()
    if end != len(data):
        raise _fail(f"{len(data) - end} byte(s) follow the STOP", end)
    return bytes(scan.out), scan.arrays
