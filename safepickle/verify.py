"""The verifier: one linear pass over a pickle's opcodes that executes nothing.

It checks the stream's structure the way CPython's C unpickler would (so that execution cannot
fail half way on a malformed stream), enforces the policy's :class:`~safepickle.Limits`, and keeps
a symbolic stack just rich enough to know

* every global the stream references, including ``STACK_GLOBAL`` operands fetched from the memo;
* what every ``BUILD``, ``SETITEM(S)``, ``APPEND(S)`` and ``ADDITEMS`` acts on (never a global);
* what every ``REDUCE``, ``NEWOBJ(_EX)`` and ``OBJ`` calls (only ever a global, which the policy
  then decides).

Symbolic values are cheap on purpose (no object per plain value): ``_DATA`` for any plain
value (``HASHY`` for an int whose hash the stream can choose), an ``int`` (the opcode's offset)
for a str constant that ``STACK_GLOBAL`` may need, a :class:`_Global` for an imported name,
``_RANGE`` for a range, and a :class:`~safepickle._nodes.Node` for every value that contains
others (containers, tuples, what a call returned), which knows its depth, unfolded size and hash
cost (see :mod:`safepickle._nodes`). A tuple that starts with a global is a node with
``parent`` set (the ``getattr(Outer, "Inner")`` shape of nested classes, copyreg's
constructors). The scanner and the loader share this pass, so scanning a stream and loading it
can never disagree.
"""

from __future__ import annotations

import codecs
import os
import re
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Literal

from ._nodes import (
    COST_CAP,
    FLAT_TUPLES,
    HASHY,
    HOLDS_ITS_ITEMS,
    LEVELS_PER_NESTING,
    SPECIAL,
    Tally,
    hash_work_limit,
)
from ._nodes import Node as _Node
from .decision import GlobalRef
from .errors import (
    LimitExceeded,
    MalformedPickle,
    SafePickleError,
    TruncatedPickle,
    UnsafeOpcode,
)
from .limits import Limits
from .names import canonical_ref

# --- compiled fast path: the optional extension (dispatch at the end of this module) -----------
_FastVerify = Callable[..., Any]
try:
    from ._speedups import fast_verify as _compiled_verify
except ImportError:  # built without a compiler: the pure-Python pass does everything
    _c_fast_verify: _FastVerify | None = None
else:
    _c_fast_verify = _compiled_verify
# -----------------------------------------------------------------------------------------------

__all__ = ["GlobalUse", "Verified", "verify"]

HIGHEST_PROTOCOL = 5
_GETATTR = GlobalRef("builtins", "getattr")
_U32 = struct.Struct("<I").unpack_from
# Classes nest a few levels deep; a chain of getattr() a thousand deep is an attack on the
# name building (quadratic) and on the recursion that spells it out.
_MAX_NESTING = 32

# The value every plain datum (number, bytes, container, call result) stands as.
_DATA = object()


class _Global:
    """A name the stream imports: by ``GLOBAL``/``INST``/``STACK_GLOBAL``, or by the 3.14
    ``getattr(parent, "attr")`` shape (then ``parent`` and ``attr`` are set)."""

    __slots__ = (
        "attr",
        "is_getattr",
        "is_range",
        "key",
        "mutated",
        "offset",
        "opcode",
        "parent",
        "pushes",
        "ref",
        "shaped",
    )

    def __init__(
        self,
        key: tuple[str, str],
        ref: GlobalRef,
        offset: int,
        opcode: str,
        parent: _Global | None = None,
        attr: str = "",
    ) -> None:
        self.key = key
        self.ref = ref
        self.offset = offset
        self.opcode = opcode
        self.parent = parent
        self.attr = attr
        self.is_getattr = parent is None and ref == _GETATTR
        #: times the value was put on the stack (GLOBAL, GET, DUP, a GET of its getattr tuple)
        self.pushes = 0
        #: of those, times it was consumed by ``getattr(parent, "attr")`` as callable or parent
        self.shaped = 0
        self.is_range = parent is None and ref == _RANGE_REF
        #: a value it returned was changed by BUILD/SETITEM(S)/APPEND(S)/ADDITEMS
        self.mutated = False

    @property
    def shape_only(self) -> bool:
        """Used only inside the getattr shape: never called, changed or handed out."""
        return self.shaped > 0 and self.pushes == self.shaped


# A range object, and a tuple that holds one: a range passed straight into set(), bytes(),
# array() ... would be materialised, turning a few bytes of pickle into gigabytes.
_RANGE = object()
_RANGE_ARGS = object()
_RANGE_REF = GlobalRef("builtins", "range")
#: opcodes only the Python pass handles (the compiled pass leaves them to it): protocol 0-1
#: text and Python 2 strings (BINSTRING and SHORT_BINSTRING are noted in the loop); the
#: stream may then be at most Limits.max_slow_path_bytes long
_SLOW_OPCODES = frozenset(b"ILSVFgpiP")
#: callables that iterate their argument while constructing
_MATERIALIZERS = frozenset(
    f"builtins.{name}"
    for name in ("list", "tuple", "set", "frozenset", "bytes", "bytearray", "dict", "str")
) | frozenset(
    {
        "collections.deque",
        "collections.Counter",
        "collections.OrderedDict",
        "collections.UserList",
        "collections.UserDict",
        "collections.defaultdict",
        "array.array",
    }
)
#: copyreg's helpers call a class from their arguments (cls.__new__, base.__init__), which may
#: be a materialising constructor given a range
_CONSTRUCTOR_CALLERS = frozenset(
    {"copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__"}
)

_Sym = object | int | _Global | _Node
_COST_CAP = COST_CAP


@dataclass(frozen=True)
class GlobalUse:
    """One distinct global a stream references, as found by the verifier.

    ``ref`` is the canonical name the policy decides on; ``raw_module``/``raw_name`` what the
    stream spelled (for a 3.14 ``getattr`` reference, the parent's raw names and the dotted
    attribute); ``offset`` where it first appears; ``opcode`` the opcode that named it.

    .. versionadded:: 0.1
    """

    ref: GlobalRef
    raw_module: str
    raw_name: str
    offset: int
    opcode: str
    #: for a ``getattr(parent, attr)`` reference: the parent's :attr:`key` and the attribute
    via_getattr: tuple[Any, str] | None = None
    #: used only inside ``getattr(parent, "attr")`` (as ``builtins.getattr`` or as the parent):
    #: never called, changed or handed out, so core approves it without asking the policy
    shape_only: bool = False
    #: identifies the global within its stream: ``(raw_module, raw_name)``, or for a getattr
    #: reference ``(parent key, attr)``
    key: Any = None
    #: a value a call of it returned was then changed by BUILD, SETITEM(S), APPEND(S) or
    #: ADDITEMS (refused for enums, whose calls return shared members)
    mutated: bool = False


@dataclass(frozen=True)
class Verified:
    """What the verifier learned about one stream; nothing in it has been executed.

    .. versionadded:: 0.1
    """

    #: offset of the first byte of the stream and just past its ``STOP``
    start: int
    end: int
    protocol: int
    #: every distinct global, in order of first appearance
    globals: tuple[GlobalUse, ...]
    framed: bool
    opcodes: int
    persistent_ids: int
    out_of_band_buffers: int
    #: "pickle", or "json" for a JSON document (:class:`safepickle._json.JsonDocument`)
    format: str = "pickle"
    #: bytes executing the stream may allocate, estimated from its opcodes (an upper bound,
    #: but for what allowed callables allocate themselves: see :mod:`safepickle.budget`)
    estimated_bytes: int = 0
    #: values its dict keys and set members make CPython hash, unfolded
    hash_work: int = 0
    #: of those keys, the ones whose hash the stream could have chosen (big ints, call results,
    #: frozensets, tuples holding any): the loader guards such streams against hash flooding
    unknown_hash_keys: int = 0


# --- the opcode table -----------------------------------------------------------------------
# Each opcode byte maps to a small int "kind", dispatched by an if-chain ordered by how often the
# kind appears in real pickles. Fixed-size pushes share one kind and a step table.
_UNKNOWN = 0
# group 1 (kind <= _BINGET)
_PUSH = 1  # fixed-size argument, pushes one datum
_SHORT_UNICODE = 2
_BINPUT = 3
_BINGET = 4
# group 2 (kind <= _SHORT_DATA)
_EMPTY = 5  # EMPTY_LIST, EMPTY_DICT, EMPTY_SET: a new container (a node)
_LONG_BINPUT = 6
_LONG_BINGET = 7
_DATA4 = 8  # 4-byte length prefix
_SHORT_DATA = 9  # 1-byte length prefix
# group 3 (kind <= _SETITEM)
_APPENDS = 10  # APPENDS, SETITEMS, ADDITEMS: items above a MARK into the value below it
_MARK = 11
_APPEND = 12
_SETITEM = 13
# group 4 (kind <= _BUILD)
_TUPLE_N = 14
_REDUCE = 15
_NEWOBJ = 16
_BUILD = 17
_OTHER = 18  # everything rare: handled in a second function

_KIND = [_UNKNOWN] * 256
_STEP = [0] * 256
for _code, _step in (
    (b"K", 2), (b"M", 3), (b"J", 5), (b"G", 9), (b"N", 1), (b"\x88", 1), (b"\x89", 1),
    (b")", 1),
):  # fmt: skip
    _KIND[_code[0]] = _PUSH
    _STEP[_code[0]] = _step
for _code, _kind in (
    (b"]", _EMPTY), (b"}", _EMPTY), (b"\x8f", _EMPTY),
    (b"\x8c", _SHORT_UNICODE), (b"q", _BINPUT), (b"h", _BINGET), (b"r", _LONG_BINPUT),
    (b"j", _LONG_BINGET), (b"X", _DATA4), (b"B", _DATA4), (b"T", _DATA4), (b"\x8b", _DATA4),
    (b"C", _SHORT_DATA), (b"U", _SHORT_DATA), (b"\x8a", _SHORT_DATA),
    (b"e", _APPENDS), (b"u", _APPENDS), (b"\x90", _APPENDS), (b"(", _MARK), (b"a", _APPEND),
    (b"s", _SETITEM), (b"\x85", _TUPLE_N), (b"\x86", _TUPLE_N), (b"\x87", _TUPLE_N),
    (b"R", _REDUCE), (b"\x81", _NEWOBJ), (b"b", _BUILD),
):  # fmt: skip
    _KIND[_code[0]] = _kind
for _byte in b".012dgilopt\x80\x82\x83\x84\x91\x92\x93\x95\x8d\x8e\x96\x97\x98cFILPQSV":
    _KIND[_byte] = _OTHER
_KIND[0x94] = _OTHER  # MEMOIZE is tested before the table is consulted

# A run of the same fixed-size push (a list of a million ints is runs of a thousand BININTs)
# is skipped with one regex match instead of one loop turn per opcode.
_RUNS = {
    op: re.compile(b"(?:%s.{%d})+" % (re.escape(bytes([op])), _STEP[op] - 1), re.DOTALL)
    for op in range(256)
    if _STEP[op] > 1
}
# Bytes of argument each opcode reads at a fixed place (a length prefix counts, its payload
# does not): an IndexError with fewer bytes left than this means the input was truncated.
_ARGLEN = {op: max(_STEP[op] - 1, 0) for op in range(256)}
_ARGLEN.update({
    0x8C: 1, 0x71: 1, 0x68: 1, 0x72: 4, 0x6A: 4, 0x58: 4, 0x42: 4, 0x54: 4, 0x8B: 4,
    0x43: 1, 0x55: 1, 0x8A: 1, 0x80: 1, 0x82: 1, 0x83: 2, 0x84: 4, 0x95: 8, 0x8D: 8,
    0x8E: 8, 0x96: 8,
})  # fmt: skip

_UNICODE_OPS = frozenset(b"\x8cX\x8dV")
_NAMES = {
    0x28: "MARK", 0x2E: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT",
    0x49: "INT", 0x4A: "BININT", 0x4B: "BININT1", 0x4C: "LONG", 0x4D: "BININT2", 0x4E: "NONE",
    0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING",
    0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND",
    0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT", 0x7D: "EMPTY_DICT", 0x65: "APPENDS",
    0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6A: "LONG_BINGET", 0x6C: "LIST",
    0x5D: "EMPTY_LIST", 0x6F: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
    0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
    0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
    0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8A: "LONG1",
    0x8B: "LONG4", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8C: "SHORT_BINUNICODE",
    0x8D: "BINUNICODE8", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS",
    0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME",
    0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
}  # fmt: skip

_DECIMAL = re.compile(rb"[0-9]+\Z")
_INT_TEXT = re.compile(rb"[ \t]*[+-]?[0-9]+[ \t]*\Z")
# Unambiguous on purpose: each digit can belong to one repetition only, so a long non-float
# fails in linear time (``[0-9]+\.?[0-9]*`` backtracks quadratically on a million digits).
_FLOAT_TEXT = re.compile(
    rb"[ \t]*[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)"
    rb"[ \t]*\Z",
    re.IGNORECASE,
)
#: longest module or qualified name, in bytes; real ones are a few dozen
MAX_NAME_BYTES = 1024
#: longest protocol-0 FLOAT text
_MAX_FLOAT_TEXT = 1024


def opcode_name(op: int) -> str:
    """The pickletools name of opcode byte ``op`` (or its hex value when unknown)."""
    return _NAMES.get(op, f"0x{op:02x}")


class _State:
    """The verifier's state shared between the hot loop and the rare-opcode handler."""

    __slots__ = (
        "binstrings",
        "buffers",
        "encoding",
        "errors",
        "fix_imports",
        "frame_end",
        "framed",
        "globals",
        "limits",
        "memo_size",
        "name_bytes",
        "names",
        "persistent_ids",
        "persistent_ok",
        "protocol",
        "start",
        "tally",
    )

    def __init__(
        self,
        start: int,
        limits: Limits,
        fix_imports: bool,
        encoding: str,
        errors: str,
        persistent_ok: bool,
    ) -> None:
        self.start = start
        self.limits = limits
        self.fix_imports = fix_imports
        self.encoding = encoding
        self.errors = errors
        self.persistent_ok = persistent_ok
        #: how the compiled pass may check Python 2 strs (see _binstring_mode)
        self.binstrings = _binstring_mode(encoding, errors)
        self.protocol = 0
        self.framed = False
        #: where the last FRAME ends: a frame may run past STOP, and pickle reads all of it
        self.frame_end = 0
        self.globals: dict[object, _Global] = {}
        self.names: dict[int, str] = {}
        self.name_bytes = 0
        self.persistent_ids = 0
        self.buffers = 0
        self.tally = Tally(limits.max_depth, limits.max_hash_work)
        self.tally.max_slow_path_bytes = limits.max_slow_path_bytes
        self.tally.slow_end = start + limits.max_slow_path_bytes
        #: memo entries written, and slots CPython allocates for them (the largest index + 1)
        self.memo_size = (0, 0)

    def make_global(self, module: str, name: str, offset: int, opcode: str) -> _Global:
        key = (module, name)
        found = self.globals.get(key)
        if found is None:
            self._check_new_global(offset, len(module) + len(name))
            if len(module) > MAX_NAME_BYTES or len(name) > MAX_NAME_BYTES:
                raise _name_too_long(offset)
            ref = canonical_ref(module, name, self.protocol, self.fix_imports)
            if ref.dotted in LEVELS_PER_NESTING and f"{module}.{name}" != ref.dotted:
                # the compiled pass weighs a defaultdict's levels by the name as written
                self.tally.slow_path(_respelled(ref.dotted, module, name), offset)
            found = self.globals[key] = _Global(key, ref, offset, opcode)
        found.pushes += 1
        return found

    def _check_new_global(self, offset: int, name_bytes: int) -> None:
        maximum = self.limits.max_globals
        if len(self.globals) >= maximum:
            raise _max_globals(maximum, offset)
        # Many distinct long names (every pair of a few hundred long strings) would make
        # megabytes of refs and decisions out of kilobytes of pickle: bound their total size.
        self.name_bytes += name_bytes
        if self.name_bytes > self.limits.max_global_name_bytes:
            raise _name_budget(self.limits.max_global_name_bytes, self.name_bytes, offset)

    def attr_global(self, parent: _Global, attr: str, offset: int) -> _Global:
        key = (parent.key, attr)
        found = self.globals.get(key)
        if found is None:
            self._check_new_global(offset, len(parent.ref.qualname) + len(attr))
            if parent.ref.qualname.count(".") >= _MAX_NESTING:
                raise _malformed(f"getattr nests deeper than {_MAX_NESTING} names", offset)
            ref = GlobalRef(parent.ref.module, f"{parent.ref.qualname}.{attr}")
            found = _Global(key, ref, offset, "REDUCE", parent=parent, attr=attr)  # type: ignore[arg-type]
            self.globals[key] = found
        found.pushes += 1
        return found


def _raw_names(glob: _Global) -> tuple[str, str]:
    """The raw (module, dotted name) a global was spelled with, through getattr parents."""
    if glob.parent is None:
        return glob.key
    module, name = _raw_names(glob.parent)
    return module, f"{name}.{glob.attr}"


def _truncated(offset: int) -> TruncatedPickle:
    return TruncatedPickle(
        f"pickle data was truncated at offset {offset}: the stream ends before its STOP opcode",
        offset=offset,
    )


def _malformed(message: str, offset: int) -> MalformedPickle:
    return MalformedPickle(f"{message} (at offset {offset})", offset=offset)


def _underflow(op: int, offset: int) -> MalformedPickle:
    return _malformed(f"{opcode_name(op)} pops more values than the stack holds", offset)


_limit = LimitExceeded.of


def _unsafe(op: int, message: str, offset: int) -> UnsafeOpcode:
    return UnsafeOpcode(f"{message} (at offset {offset})", opcode=opcode_name(op), offset=offset)


#: encodings in which any bytes decode (what ``pickle`` does with Python 2 strs then never fails)
_ANY_BYTES = frozenset({"bytes", "latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "l1"})


def _binstring_mode(encoding: str, errors: str) -> int:
    """How the compiled pass may check a Python 2 str (BINSTRING, SHORT_BINSTRING) for
    ``_check_binstring``: 1 any bytes decode, 2 strict ASCII (the default), 0 it leaves them
    to the Python pass. By the name alone: looking a codec up would import its module."""
    name = encoding.lower()
    if name in _ANY_BYTES:
        return 1
    if name in ("ascii", "us-ascii") and errors == "strict":
        return 2
    return 0


def _read_line(d: bytes, pos: int, n: int) -> tuple[bytes, int]:
    """The line starting at ``pos`` without its newline, and the offset after the newline."""
    nl = d.find(b"\n", pos, n)
    if nl < 0:
        raise _truncated(n)
    return d[pos:nl], nl + 1


def _decode_str(d: bytes, pos: int, names: dict[int, str]) -> str:
    """Decode the str constant pushed by the unicode opcode at ``pos`` (for STACK_GLOBAL and
    getattr names), at most :data:`MAX_NAME_BYTES` long, once per constant (``names``)."""
    found = names.get(pos)
    if found is not None:
        return found
    op = d[pos]
    if op == 0x8C:
        begin, size = pos + 2, d[pos + 1]
    elif op == 0x58:
        begin, size = pos + 5, int.from_bytes(d[pos + 1 : pos + 5], "little")
    elif op == 0x8D:
        begin, size = pos + 9, int.from_bytes(d[pos + 1 : pos + 9], "little")
    else:  # UNICODE, validated when it was read
        begin = pos + 1
        size = d.index(b"\n", pos) - begin
    if size > MAX_NAME_BYTES:
        raise _malformed(f"a name of {size:,} bytes (longer than {MAX_NAME_BYTES})", pos)
    raw = d[begin : begin + size]
    try:
        text = raw.decode("raw-unicode-escape" if op == 0x56 else "utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise _malformed(_NOT_UTF8, pos) from None
    names[pos] = text
    return text


def verify(
    data: bytes,
    start: int = 0,
    *,
    limits: Limits,
    fix_imports: bool = True,
    encoding: str = "ASCII",
    errors: str = "strict",
    persistent_ids: bool = False,
    partial: bool = False,
) -> Verified:
    """Verify the pickle that starts at ``data[start]`` and return what it references.

    Raises a :class:`~safepickle.SafePickleError` subclass for anything the C unpickler would
    reject, anything past ``limits``, EXT opcodes, persistent ids (unless ``persistent_ids``),
    and calls or state changes aimed where they must not be. Executes and imports nothing.

    ``partial`` says that ``data`` may be only the beginning of the input (a file read in
    chunks). It changes nothing any more: a stream that runs past its end is reported as
    truncated as soon as the compiled pass sees that, partial or not (as every error the
    compiled pass finds itself: see ``_refusal``).
    """
    n = len(data)
    if n - start > limits.max_input_bytes:
        n = start + limits.max_input_bytes  # the stream must end within the limit
        too_long_at: int | None = n
    else:
        too_long_at = None
    state = _State(start, limits, fix_imports, encoding, errors, persistent_ids)
    fast = _fast_path(data, start, n, state)  # the compiled pass: None when it bails
    try:
        if fast is False:  # the input ended first, every opcode so far on the accepting path
            raise _truncated(n)
        end, opcodes = _run(data, start, n, state) if fast is None else fast
    except TruncatedPickle as exc:
        if too_long_at is not None:
            raise _limit(
                "max_input_bytes", limits.max_input_bytes, "the pickle's size", too_long_at
            ) from None
        if exc.offset == start:
            raise TruncatedPickle("no pickle data: the input is empty", offset=start) from None
        raise
    except IndexError:
        # An argument ran past the end of the input: the fast path reads it without a check.
        if too_long_at is not None:
            raise _limit(
                "max_input_bytes", limits.max_input_bytes, "the pickle's size", too_long_at
            ) from None
        raise _truncated(n) from None
    tally = state.tally
    if tally.late:  # an item went into a value already inside another: the whole graph says
        depth = tally.depth_of_graph()
        if depth > limits.max_depth:
            raise tally.too_deep(depth, start)
    estimated = _estimate(state, end - start, opcodes)
    bound = limits.result_bound(end - start)
    if estimated > bound:
        raise LimitExceeded(
            f"executing this {end - start:,}-byte pickle may allocate about {estimated:,} "
            f"bytes, more than the {bound:,} it may (max_result_bytes={limits.max_result_bytes:,}"
            f", and at most max_result_ratio={limits.max_result_ratio} times its size, or "
            f"result_bytes_floor={limits.result_bytes_floor:,}); if you trust this input, "
            "raise them: Policy(limits=Limits(max_result_ratio=..., max_result_bytes=...))",
            limit="max_result_bytes",
            maximum=bound,
            offset=start,
        )
    uses: list[GlobalUse] = []
    for glob in state.globals.values():
        raw_module, raw_name = _raw_names(glob)
        via = None if glob.parent is None else (glob.parent.key, glob.attr)
        uses.append(
            GlobalUse(
                glob.ref,
                raw_module,
                raw_name,
                glob.offset,
                glob.opcode,
                via,
                glob.shape_only,
                glob.key,
                glob.mutated,
            )
        )
    return Verified(
        start=start,
        end=end,
        protocol=state.protocol,
        globals=tuple(uses),
        framed=state.framed,
        opcodes=opcodes,
        persistent_ids=state.persistent_ids,
        out_of_band_buffers=state.buffers,
        estimated_bytes=estimated,
        hash_work=tally.hash_work,
        unknown_hash_keys=tally.unknown_keys,
    )


# What executing a stream may allocate, in bytes, from what the verifier counted. An upper bound
# by construction: every opcode makes at most one object of at most _PER_OPCODE bytes (an int,
# a float, a small tuple, an empty list or dict, a reference in a container, a dict or set entry
# with its share of the table) except those counted apart: str payloads (a UTF-8 byte can become
# up to 4 bytes of str), EMPTY_SET/FROZENSET (a set is 216 bytes), calls (a deque is 624 bytes
# from 4 bytes of pickle), BUILD (copies its state's items into the instance), the memo (CPython
# sizes its table by the largest index). What allowed callables allocate themselves is charged
# when they run (safepickle.budget).
_PER_BYTE = 4
_PER_OPCODE = 64
_PER_MEMO_SLOT = 16
_PER_SET = 216
_PER_CALL = 640
_PER_BUILD_ITEM = 100


def _estimate(state: _State, size: int, opcodes: int) -> int:
    tally = state.tally
    memo_entries, memo_slots = state.memo_size
    return (
        _PER_BYTE * size
        + _PER_OPCODE * (opcodes - memo_entries)
        + _PER_MEMO_SLOT * memo_slots
        + _PER_SET * tally.empty_sets
        + _PER_CALL * tally.calls
        + _PER_BUILD_ITEM * tally.build_items
    )


def _run(d: bytes, pos: int, n: int, st: _State) -> tuple[int, int]:
    """The hot loop. Returns (offset past STOP, opcodes seen).

    The stack is kept as CPython's pure-Python unpickler keeps it: ``stack`` holds the values
    above the innermost MARK and ``metastack`` the segments below, so a pop that would cross a
    MARK is an ``IndexError`` on an empty list. Reads past the end of ``d`` are IndexErrors too;
    both are told apart once, in the handler, instead of being checked on every opcode.

    A frame is read through a view that ends where the frame ends, so an opcode that runs past
    its frame's end is an IndexError too (``pickle.load`` on a file reads a frame as a unit and
    ``pickle.loads`` ignores frames: such an opcode would parse differently in the two).
    """
    # Indexing a memoryview is markedly faster than indexing bytes; every view is released on
    # the way out so that the caller may grow a bytearray it is verifying in chunks. The view
    # ends at n, which is before the end of d when the stream must end within max_input_bytes:
    # nothing past it is read, as the compiled pass reads nothing past it.
    with memoryview(d) as full, full[:n] as whole:
        frame = _FrameViews(whole)
        try:
            return _loop(d, frame, pos, n, st)
        finally:
            frame.release()


class _FrameViews:
    """The view the loop reads opcodes through: the whole input, or the current frame."""

    __slots__ = ("view", "whole")

    def __init__(self, whole: memoryview) -> None:
        self.whole = whole
        self.view = whole

    def enter(self, end: int) -> memoryview:
        self.release()
        self.view = self.whole[:end]
        return self.view

    def leave(self) -> memoryview:
        self.release()
        return self.whole

    def release(self) -> None:
        if self.view is not self.whole:
            self.view.release()
            self.view = self.whole


def _loop(d: bytes, frame: _FrameViews, pos: int, n: int, st: _State) -> tuple[int, int]:
    """The loop itself; ``frame.view`` is a memoryview of ``d`` (up to the current frame's end,
    ``seg_end``, inside a frame)."""
    limits = st.limits
    max_items = limits.max_container_items
    max_marks = limits.max_nesting
    max_depth = limits.max_stack_depth
    kinds = _KIND
    steps = _STEP
    runs = _RUNS
    u32 = _U32
    DATA = _DATA
    Node = _Node
    flat = FLAT_TUPLES
    special = SPECIAL
    tally = st.tally
    m = frame.view
    seg_end = n  # where reads must stop: the end of the input, or of the current frame
    stack: list[_Sym] = []
    push = stack.append
    metastack: list[list[_Sym]] = []
    below = 0  # values and marks held in metastack, for max_stack_depth
    # A dict, as in CPython: a Pickler that dumps several times keeps its memo, so the PUT
    # indices of a later pickle start where the earlier ones stopped, and MEMOIZE numbers
    # entries by how many there are, not by the largest index.
    memo: dict[int, _Sym] = {}
    max_memo = limits.max_memo_entries
    ops = 0
    next_check = 0x4000
    op = 0x28
    while True:  # one turn per frame boundary crossed at an opcode boundary
        try:
            while True:
                op = m[pos]
                ops += 1
                if op == 0x94:  # MEMOIZE: the most frequent opcode of protocols 4 and 5
                    index = len(memo)
                    if index >= max_memo:  # refused where it happens, as the compiled pass does
                        raise _memo_full(max_memo, pos)
                    memo[index] = stack[-1]
                    pos += 1
                else:
                    kind = kinds[op]
                    if kind <= _BINGET:
                        if kind == _PUSH:
                            step = steps[op]
                            if (
                                step > 1
                                and pos + 2 * step < seg_end
                                and m[pos + step] == op
                                and m[pos + 2 * step] == op
                            ):
                                # a run of one fixed-size push: skip it with one regex match
                                run_end = runs[op].match(d, pos, seg_end).end()  # type: ignore[union-attr]
                                count = (run_end - pos) // step
                                stack.extend(repeat(DATA, count))
                                if len(stack) + below > max_depth:  # the push past it, in the run
                                    past = len(stack) + below - max_depth
                                    raise _stack_full(max_depth, pos + (count - past) * step)
                                ops += count - 1
                                pos = run_end
                            else:  # consume consecutive pushes without the dispatch above
                                while True:
                                    push(DATA)
                                    if len(stack) + below > max_depth:
                                        raise _stack_full(max_depth, pos)
                                    pos += step
                                    op = m[pos]
                                    if kinds[op] != _PUSH:
                                        break
                                    step = steps[op]
                                    ops += 1
                        elif kind == _SHORT_UNICODE:
                            at = pos
                            push(at)
                            pos += 2 + m[at + 1]
                            if len(stack) + below > max_depth:
                                raise _stack_full(max_depth, at)
                            if m[pos] == 0x94:  # nearly always memoized: take the MEMOIZE here
                                index = len(memo)
                                if index >= max_memo:
                                    raise _memo_full(max_memo, pos)
                                memo[index] = stack[-1]
                                pos += 1
                                ops += 1
                        elif kind == _BINPUT:
                            index = m[pos + 1]
                            if index >= max_memo:
                                raise _memo_index_limit(index, max_memo, pos)
                            memo[index] = stack[-1]
                            pos += 2
                        elif kind == _BINGET:
                            index = m[pos + 1]
                            try:
                                value = memo[index]
                            except KeyError:
                                raise _never_written(index, pos) from None
                            push(value)
                            if len(stack) + below > max_depth:
                                raise _stack_full(max_depth, pos)
                            if value is not DATA and value.__class__ is not int:
                                _count_push(value)
                            pos += 2
                        else:
                            raise _invalid(op, pos, st.start)
                    elif kind <= _SHORT_DATA:
                        if kind == _EMPTY:  # EMPTY_LIST, EMPTY_DICT, EMPTY_SET
                            push(Node())
                            if len(stack) + below > max_depth:
                                raise _stack_full(max_depth, pos)
                            if op == 0x8F:
                                tally.empty_sets += 1
                            pos += 1
                        elif kind == _LONG_BINPUT:
                            index = u32(m, pos + 1)[0]
                            if index >= max_memo:
                                raise _memo_index_limit(index, max_memo, pos)
                            if index > 2 * len(memo) + 4096:  # the compiled memo is an array
                                tally.slow_path(_far_memo_index(index), pos)
                            memo[index] = stack[-1]
                            pos += 5
                        elif kind == _LONG_BINGET:
                            index = u32(m, pos + 1)[0]
                            try:
                                value = memo[index]
                            except KeyError:
                                raise _never_written(index, pos) from None
                            push(value)
                            if len(stack) + below > max_depth:
                                raise _stack_full(max_depth, pos)
                            if value is not DATA and value.__class__ is not int:
                                _count_push(value)
                            pos += 5
                        elif kind == _DATA4:
                            if op == 0x54 and not st.binstrings:  # a Python 2 str
                                tally.slow_path("the opcode BINSTRING", pos)
                            size = u32(m, pos + 1)[0]
                            if op == 0x58:  # BINUNICODE
                                push(pos)
                            else:
                                if op != 0x42:  # BINSTRING, LONG4: signed lengths
                                    size = _signed_size(d, pos, size, st, seg_end)
                                if op != 0x8B:
                                    push(DATA)
                                elif size <= _SMALL_INT_BYTES:
                                    push(HASHY)
                                else:  # hashing it walks it, every time (ints cache no hash)
                                    tally.slow_path(_BIG_INT, pos)
                                    push(_big_int(size))
                            if len(stack) + below > max_depth:
                                raise _stack_full(max_depth, pos)
                            pos += 5 + size
                            op = m[pos]
                            # a BINPUT or LONG_BINPUT of a new entry, within max_memo (the
                            # opcode's own branch refuses an index past it)
                            if op == 0x71 and m[pos + 1] == len(memo) < max_memo:
                                memo[len(memo)] = stack[-1]
                                pos += 2
                                ops += 1
                            elif op == 0x72 and u32(m, pos + 1)[0] == len(memo) < max_memo:
                                memo[len(memo)] = stack[-1]
                                pos += 5
                                ops += 1
                        else:  # _SHORT_DATA
                            if op == 0x55 and not st.binstrings:  # a Python 2 str
                                tally.slow_path("the opcode SHORT_BINSTRING", pos)
                            size = m[pos + 1]
                            if op == 0x55:  # SHORT_BINSTRING: decoded with the caller's encoding
                                _check_binstring(d, pos + 2, size, st, pos, seg_end)
                            # LONG1 of 8 bytes or more: an int whose hash the stream chooses
                            push(HASHY if op == 0x8A and size > 7 else DATA)
                            if len(stack) + below > max_depth:
                                raise _stack_full(max_depth, pos)
                            pos += 2 + size
                    elif kind <= _SETITEM:
                        if kind == _APPENDS:  # APPENDS, SETITEMS, ADDITEMS: items above a MARK
                            if not metastack:
                                raise _no_mark(op, pos)
                            items = stack
                            count = len(items)
                            if count > max_items:
                                raise _batch_limit(max_items, pos)
                            if count & 1 and op == 0x75:
                                raise _odd_items(op, pos)
                            stack = metastack.pop()
                            push = stack.append
                            below -= len(stack) + 1
                            target = stack[-1]
                            if target.__class__ is Node:
                                _changed(target, items, op, tally, pos)
                            elif target.__class__ is _Global:
                                raise _modifies_global(op, target, pos)
                            pos += 1
                        elif kind == _MARK:
                            metastack.append(stack)
                            below += len(stack) + 1
                            if below > limits.max_stack_depth or len(metastack) > max_marks:
                                _check_marks(limits, below, len(metastack), pos)
                            stack = []
                            push = stack.append
                            pos += 1
                        else:  # APPEND, SETITEM
                            if kind == _APPEND:
                                item = stack.pop()
                                target = stack[-1]
                                if target.__class__ is Node:
                                    if (
                                        item is DATA and target.owner is None and not target.frozen
                                    ):  # one plain value into a container: _changed's work
                                        target.items += 1
                                        if target.cost < _COST_CAP:
                                            target.cost += 1
                                    else:
                                        _changed(target, [item], op, tally, pos)
                                elif target.__class__ is _Global:
                                    raise _modifies_global(op, target, pos)
                            else:  # SETITEM
                                if len(stack) < 3:
                                    raise IndexError
                                items = stack[-2:]
                                del stack[-2:]
                                target = stack[-1]
                                if target.__class__ is Node:
                                    _changed(target, items, op, tally, pos)
                                elif target.__class__ is _Global:
                                    raise _modifies_global(op, target, pos)
                            pos += 1
                    elif kind <= _BUILD:
                        if kind == _TUPLE_N:
                            count = op - 0x84
                            if len(stack) < count:
                                raise IndexError
                            items = stack[-count:]
                            del stack[-count:]
                            if items[0].__class__ is _Global:
                                push(_class_args(d, items, st, pos))
                            elif _RANGE in items:
                                push(_RANGE_ARGS)
                            elif not special.isdisjoint(map(type, items)):
                                push(tally.tuple_of(items, pos))
                            else:  # plain values only: the shared node of their count
                                push(flat[count])
                            pos += 1
                        elif kind == _REDUCE:
                            args = stack.pop()
                            func = stack[-1]
                            if func.__class__ is not _Global:
                                raise _calls_non_global(op, pos)
                            if func.is_range or (
                                args.__class__ is Node
                                and args.parent is not None
                                and (args.parent.is_range or args.parent.is_getattr)
                            ):
                                _slow_call(func, tally, pos)
                            if args.__class__ is Node and args.parent is not None:
                                stack[-1] = _call_with_class(func, args, st, pos)
                            elif func.is_getattr:
                                raise _getattr_misused(pos)
                            else:
                                if args is _RANGE_ARGS or args is _RANGE:
                                    _check_range_args(func, op, pos)
                                stack[-1] = _call(func, args, tally, pos)
                            pos += 1
                        elif kind == _NEWOBJ:
                            args = stack.pop()
                            cls = stack[-1]
                            if cls.__class__ is not _Global or cls.is_getattr:
                                raise _calls_non_global(op, pos)
                            if cls.is_range:
                                tally.slow_path(_RANGE_CALL, pos)
                            if args is _RANGE_ARGS or (
                                args.__class__ is Node
                                and args.parent is not None
                                and args.has_range
                            ):
                                _check_range_args(cls, op, pos)
                            stack[-1] = _call(cls, args, tally, pos)
                            pos += 1
                        else:  # BUILD
                            state = stack.pop()
                            target = stack[-1]
                            if target.__class__ is Node:
                                if target.owner is not None and not target.done:
                                    _mark_mutated(target)
                                tally.build(target, state, pos)
                            elif target.__class__ is _Global:
                                raise _modifies_global(op, target, pos)
                            pos += 1
                    elif kind == _OTHER:
                        if op == 0x2E:  # STOP
                            stack[-1]  # an empty stack is an underflow (IndexError)
                            break
                        if op == 0x95:  # FRAME: read what follows through the frame's view
                            pos = _frame(d, pos, n, st)
                            m = frame.enter(st.frame_end)
                            seg_end = st.frame_end
                        else:
                            at = pos
                            pos, stack, below = _rare(
                                d, pos, seg_end, op, st, stack, metastack, below, memo
                            )
                            push = stack.append
                            if len(stack) + below > max_depth:  # it pushed one past the limit
                                raise _stack_full(max_depth, at)
                    else:
                        raise _invalid(op, pos, st.start)
                if ops >= next_check:  # runs add many opcodes at once: compare, do not mask
                    next_check = ops + 0x4000
                    _periodic(st, pos, n, ops)
            break  # STOP
        except (IndexError, struct.error, TruncatedPickle) as exc:
            if seg_end < min(n, len(d)):  # in a frame
                if pos == seg_end:  # the frame ended between two opcodes: read on, unframed
                    m = frame.leave()
                    seg_end = n
                    continue
                if (
                    pos > seg_end
                    or kinds[op] == _PUSH
                    or (op in _ARGLEN and pos + _ARGLEN[op] >= seg_end)
                    or isinstance(exc, TruncatedPickle)
                ):
                    raise _crosses_frame(op, seg_end) from None
                raise _underflow(op, pos) from None
            if isinstance(exc, TruncatedPickle):
                raise
            # a fixed-size push never pops: its IndexError is a read past the end (the peek at
            # the next opcode for a run, say), however many bytes its own argument left
            if op not in _ARGLEN or kinds[op] == _PUSH or pos + _ARGLEN[op] >= min(n, len(d)):
                raise _truncated(n) from None
            raise _underflow(op, pos) from None
    _periodic(st, pos, n, ops)
    st.memo_size = (len(memo), max(len(memo), max(memo, default=-1) + 1))
    return max(pos + 1, st.frame_end), ops


def _frame(d: bytes, pos: int, n: int, st: _State) -> int:
    """FRAME: check it and note where it ends; returns the offset of the frame's first opcode.

    A FRAME may only begin where the current frame ends (CPython's pure-Python unpickler
    refuses "a new frame before end of current frame"), and must fit in the input.
    """
    if pos < st.frame_end and pos + 9 != st.frame_end:
        raise _frame_misplaced(pos)
    size = int.from_bytes(d[pos + 1 : pos + 9], "little")
    if pos + 9 > n or size > n - pos - 9:
        raise _truncated(n)
    st.framed = True
    st.frame_end = pos + 9 + size
    return pos + 9


def _crosses_frame(op: int, frame_end: int) -> MalformedPickle:
    """An opcode runs past the frame that ends at ``frame_end`` (reported there: where the
    opcode's reading stopped depends on the opcode, where the frame ends does not)."""
    return _malformed(
        f"{opcode_name(op)} runs past the end of its frame (pickle.load on a file and "
        "pickle.loads would read it differently)",
        frame_end,
    )


def _frame_misplaced(pos: int) -> MalformedPickle:
    return _malformed("FRAME before the end of the current frame", pos)


def _periodic(st: _State, pos: int, n: int, ops: int) -> None:
    """Limits checked every few thousand opcodes and at STOP: each can grow by at most one an
    opcode, so checking in batches bounds them just as well and keeps the hot loop lean.

    (The stack's depth is checked at every push instead, and the memo at every write, so that
    each is refused at the opcode that goes one too far: the compiled pass refuses it there.)"""
    limits = st.limits
    if pos >= n:
        raise _truncated(n)
    if ops > limits.max_opcodes:
        raise _limit("max_opcodes", limits.max_opcodes, "the opcode count", pos)
    st.tally.check_slow(pos)


def _stack_full(maximum: int, pos: int) -> LimitExceeded:
    """The opcode at ``pos`` pushed a value (or a MARK) past ``max_stack_depth``."""
    return _limit("max_stack_depth", maximum, "the stack", pos)


def _check_marks(limits: Limits, depth: int, marks: int, pos: int) -> None:
    if marks > limits.max_nesting:
        raise _nesting_limit(limits.max_nesting, pos)
    raise _stack_full(limits.max_stack_depth, pos)


def _nesting_limit(maximum: int, pos: int) -> LimitExceeded:
    return _limit("max_nesting", maximum, "the MARK nesting", pos)


def _invalid(op: int, pos: int, start: int) -> MalformedPickle:
    if pos == start:
        return _malformed(
            f"not a pickle: the first byte is {bytes([op])!r}, which is no opcode", pos
        )
    return _malformed(f"invalid opcode byte 0x{op:02x}", pos)


_NOT_UTF8 = "a global's name is not valid UTF-8"
#: what the compiled pass leaves to the Python pass (Tally.slow_path)
_BIG_INT = "an int of more than 256 bytes"


def _far_memo_index(index: int) -> str:
    return f"the memo index {index:,} far past the memo"


def _pair(op: int) -> str:
    return f"a pair of a global and a str ({opcode_name(op)})"


def _name_too_long(pos: int) -> MalformedPickle:
    return _malformed(f"a global's name is longer than {MAX_NAME_BYTES}", pos)


def _max_globals(maximum: int, pos: int) -> LimitExceeded:
    return _limit("max_globals", maximum, "the number of distinct globals", pos)


def _name_budget(maximum: int, name_bytes: int, pos: int) -> LimitExceeded:
    return _limit(
        "max_global_name_bytes", maximum, f"the globals' names ({name_bytes:,} bytes)", pos
    )


def _ext(op: int, pos: int) -> UnsafeOpcode:
    return _unsafe(
        op,
        f"{opcode_name(op)} loads a global from copyreg's extension registry, which safepickle "
        "never consults",
        pos,
    )


def _negative_size(op: int, pos: int) -> MalformedPickle:
    return _malformed(f"{opcode_name(op)} has a negative length", pos)


def _stack_global_operands(pos: int) -> UnsafeOpcode:
    return _unsafe(
        0x93,
        "STACK_GLOBAL operands are not str constants, so the global cannot be decided before "
        "it runs",
        pos,
    )


def _memo_full(maximum: int, pos: int) -> LimitExceeded:
    return _limit("max_memo_entries", maximum, "the memo", pos)


def _batch_limit(maximum: int, pos: int) -> LimitExceeded:
    return _limit("max_container_items", maximum, "the batch", pos)


def _odd_items(op: int, pos: int) -> MalformedPickle:
    return _malformed(f"odd number of items for {opcode_name(op)}", pos)


def _proto_not_first(pos: int) -> MalformedPickle:
    return _malformed("PROTO is only valid as the first opcode", pos)


def _unsupported_protocol(proto: int, pos: int) -> MalformedPickle:
    return _malformed(f"unsupported pickle protocol: {proto}", pos)


def _no_persistent_load(op: int, pos: int) -> UnsafeOpcode:
    return _unsafe(
        op,
        f"{opcode_name(op)}: the stream references a persistent id and no plugin implements "
        "safepickle_persistent_load to resolve it",
        pos,
    )


def _never_written(index: int, pos: int) -> MalformedPickle:
    return _malformed(f"memo index {index} was never written", pos)


def _memo_index_limit(index: int, maximum: int, pos: int) -> LimitExceeded:
    # CPython sizes its memo table by the largest index: a 4-byte index in a 9-byte pickle
    # (b"]replace.") would allocate gigabytes.
    return _limit("max_memo_entries", maximum, f"the memo index {index:,}", pos)


def _no_mark(op: int, pos: int) -> MalformedPickle:
    return _malformed(f"{opcode_name(op)} without a MARK", pos)


def _signed_size(d: bytes, pos: int, size: int, st: _State, end: int) -> int:
    """BINSTRING and LONG4 lengths are signed; a negative one is malformed."""
    if size >= 1 << 31:
        raise _negative_size(d[pos], pos)
    if d[pos] == 0x54:
        _check_binstring(d, pos + 5, size, st, pos, end)
    return size


def _utf8(raw: bytes, pos: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed(_NOT_UTF8, pos) from None


def _check_binstring(d: bytes, begin: int, size: int, st: _State, pos: int, end: int) -> None:
    """Python 2 str: decoded with the caller's encoding, which must not fail mid-execution.
    (One that runs past ``end``, the end of the input or its frame, is refused for that.)"""
    if st.encoding == "bytes" or begin + size > end:
        return
    try:
        d[begin : begin + size].decode(st.encoding, st.errors)
    except (UnicodeError, LookupError) as exc:
        raise _malformed(
            f"a Python 2 str does not decode with encoding={st.encoding!r}: {exc}; pass the "
            "encoding it was written with (often encoding='latin1' or 'bytes')",
            pos,
        ) from None


def _modifies_global(op: int, target: _Global, pos: int) -> UnsafeOpcode:
    return _unsafe(
        op,
        f"{opcode_name(op)} would modify the imported global '{target.ref.dotted}' "
        "(monkey-patching the process); only objects the stream created may be changed",
        pos,
    )


def _calls_non_global(op: int, pos: int) -> UnsafeOpcode:
    return _unsafe(
        op,
        f"{opcode_name(op)} calls a value that is not an imported global, so the policy "
        "cannot decide it",
        pos,
    )


def _count_push(value: object) -> None:
    """A memo GET or DUP put ``value`` on the stack again: count it as a use of its global."""
    cls = value.__class__
    if cls is _Global:
        value.pushes += 1  # type: ignore[attr-defined]
    elif cls is _Node and value.parent is not None:  # type: ignore[attr-defined]
        value.parent.pushes += 1  # type: ignore[attr-defined]


def _changed(target: _Node, items: list[_Sym], op: int, tally: Tally, pos: int) -> None:
    """APPEND(S), SETITEM(S), ADDITEMS put ``items`` into ``target``: Tally.insert and
    Tally.hash_keys, with the batch of plain values (every batch of ints or strings) inline."""
    if target.owner is not None and not target.done:
        _mark_mutated(target)
    count = len(items)
    owner = target.owner
    if (
        owner is not None
        and not target.frozen
        and (owner.ref.dotted in HOLDS_ITS_ITEMS) != _holds_as_written(*owner.key)
        and _fills(items, op)
    ):
        tally.slow_path(_filled(owner.ref.dotted), pos)
    if items.count(_DATA) != count and not SPECIAL.isdisjoint(map(type, items)):
        tally.insert(target, items, pos)
        if owner is not None and owner.ref.dotted not in HOLDS_ITS_ITEMS:
            tally.alias(target, items)  # UserList.append: the items go into its data
        if op not in (0x61, 0x65) and not target.frozen:  # APPEND(S): nothing is hashed
            tally.hash_keys(items if op == 0x90 else items[0::2], pos)
        return
    if target.frozen:
        return  # a tuple: the opcode fails when it runs
    target.items += count
    cost = min(target.cost + count, COST_CAP)
    target.cost = cost
    if target.owner is not None:
        target.hcost = cost  # an object's own __hash__ may walk all it holds
    if op in (0x61, 0x65):
        return
    tally.hash_work += count if op == 0x90 else count >> 1  # ADDITEMS: every item, else keys
    if tally.hash_work > tally.max_hash_work:
        raise hash_work_limit(tally.max_hash_work, pos)


#: _speedups.c's COLLECTIONS_HOLDERS and BUILTINS_HOLDERS: HOLDS_ITS_ITEMS by the names as written
_HOLDERS_AS_WRITTEN = {
    "collections": frozenset({"OrderedDict", "defaultdict", "deque", "Counter"}),
    "builtins": frozenset({"list", "dict", "set", "frozenset"}),
    "__builtin__": frozenset({"list", "dict", "set", "frozenset"}),
}


def _holds_as_written(module: object, name: object = None) -> bool:
    """Whether the compiled pass takes a callee spelled ``module.name`` for one of
    HOLDS_ITS_ITEMS (it knows no canonical names; a getattr global's key is no pair of str)."""
    found = _HOLDERS_AS_WRITTEN.get(module) if isinstance(module, str) else None
    return found is not None and name in found


def _fills(items: list[_Sym], op: int) -> bool:
    """Whether APPEND(S), SETITEM(S) or ADDITEMS put what the compiled pass counts as filling
    a call's value (mark_filled in _speedups.c): a node by APPEND or SETITEM, a node or an int
    with a chosen hash in a batch."""
    if op in (0x61, 0x73):
        return any(item.__class__ is _Node for item in items)
    return not SPECIAL.isdisjoint(map(type, items))


def _slow_call(func: _Global, tally: Tally, pos: int) -> None:
    """REDUCE calls range, or passes range or getattr first in its arguments (copyreg's
    constructors then make a range): only the Python pass tracks ranges and getattr."""
    tally.slow_path(_RANGE_CALL if func.is_range else _PASSED_FIRST, pos)


def _class_args(d: bytes, items: list[_Sym], st: _State, pos: int) -> _Node:
    """The node of a tuple whose first item is a global (see :class:`~safepickle._nodes.Node`)."""
    first: _Global = items[0]  # type: ignore[assignment]
    second = items[1] if len(items) > 1 else None
    if len(items) == 2 and type(second) is int:  # (a global, a str): the getattr shape
        st.tally.slow_path(_pair(d[pos]), pos)
    node = st.tally.tuple_of(items, pos, fresh=True)
    node.parent = first
    node.attr = None
    node.second = None
    node.has_range = False
    if len(items) == 2 and type(second) is int:
        node.attr = _decode_str(d, second, st.names)
        return node
    node.second = second if second.__class__ is _Global else None
    node.has_range = _RANGE in items
    return node


def _call(func: _Global, args: object, tally: Tally, pos: int) -> object:
    """What a REDUCE or NEWOBJ of ``func`` pushes: a range, or the node of what it returns."""
    if func.is_range:
        return _RANGE
    return tally.call(func, args, pos)


def _call_with_class(func: _Global, args: _Node, st: _State, pos: int) -> _Sym:
    """REDUCE of ``func`` on a tuple that starts with a global: the getattr shape (a dotted
    name), or a constructor such as copyreg._reconstructor(cls, base, state)."""
    if func.is_getattr:
        if args.attr is None:
            raise _getattr_misused(pos)
        func.shaped += 1
        args.parent.shaped += 1
        return st.attr_global(args.parent, args.attr, pos)
    dotted = func.ref.dotted
    if args.has_range:
        _check_range_args(func, 0x52, pos)
    if dotted in _CONSTRUCTOR_CALLERS and args.parent.is_range:
        return _RANGE  # copyreg.__newobj__(range, ...) makes a range too
    return _call(func, args, st.tally, pos)


def _mark_mutated(result: _Node) -> None:
    """A call's value is being changed: remember it for the callee and the classes it got."""
    result.done = True
    result.owner.mutated = True
    if result.args is not None:
        result.args.parent.mutated = True
        if result.args.second is not None:
            result.args.second.mutated = True


def _check_range_args(func: _Global, op: int, pos: int) -> None:
    if func.ref.dotted in _MATERIALIZERS or func.ref.dotted in _CONSTRUCTOR_CALLERS:
        raise _unsafe(
            op,
            f"{opcode_name(op)} passes a range straight to {func.ref.dotted}, which would "
            "materialise it (a few bytes of pickle, gigabytes of memory)",
            pos,
        )


def _getattr_misused(pos: int) -> UnsafeOpcode:
    return _unsafe(
        0x52,
        "builtins.getattr is only accepted as getattr(<allowed global>, '<name>'), the shape "
        "Python 3.14 writes for nested classes",
        pos,
    )


def _pop_segment(
    op: int, pos: int, stack: list[_Sym], metastack: list[list[_Sym]], max_items: int
) -> list[_Sym]:
    """Close the innermost MARK: return the segment below it (the items are ``stack``)."""
    if not metastack:
        raise _no_mark(op, pos)
    if len(stack) > max_items:
        raise _batch_limit(max_items, pos)
    return metastack.pop()


def _put(memo: dict[int, _Sym], index: int, value: _Sym, pos: int, maximum: int) -> None:
    if index >= maximum:
        raise _memo_index_limit(index, maximum, pos)
    memo[index] = value


def _rare(
    d: bytes,
    pos: int,
    n: int,
    op: int,
    st: _State,
    stack: list[_Sym],
    metastack: list[list[_Sym]],
    below: int,
    memo: dict[int, _Sym],
) -> tuple[int, list[_Sym], int]:
    """Opcodes real pickles use rarely (protocols 0-1, calls by mark, globals, framing).

    Returns the new position, stack segment and depth below it.
    """
    max_items = st.limits.max_container_items
    if op in _SLOW_OPCODES:
        st.tally.slow_path(f"the opcode {opcode_name(op)}", pos)
    if op == 0x93:  # STACK_GLOBAL
        name_at = stack.pop()
        module_at = stack.pop()
        if type(name_at) is not int or type(module_at) is not int:
            raise _stack_global_operands(pos)
        glob = st.make_global(
            _decode_str(d, module_at, st.names),
            _decode_str(d, name_at, st.names),
            pos,
            "STACK_GLOBAL",
        )
        stack.append(glob)
        return pos + 1, stack, below
    if op == 0x63:  # GLOBAL module\nname\n
        module_raw, after = _read_line(d, pos + 1, n)
        name_raw, after = _read_line(d, after, n)
        glob = st.make_global(_utf8(module_raw, pos), _utf8(name_raw, pos), pos, "GLOBAL")
        stack.append(glob)
        return after, stack, below
    if op in (0x8D, 0x8E, 0x96):  # BINUNICODE8, BINBYTES8, BYTEARRAY8
        size = int.from_bytes(d[pos + 1 : pos + 9], "little")
        if pos + 9 > n or size > n - pos - 9:
            raise _truncated(n)
        stack.append(pos if op == 0x8D else _DATA)
        return pos + 9 + size, stack, below
    if op == 0x80:  # PROTO
        if pos != st.start:
            raise _proto_not_first(pos)
        if pos + 1 >= n:  # (d goes on past n when the stream must end within max_input_bytes)
            raise IndexError
        proto = d[pos + 1]
        if proto > HIGHEST_PROTOCOL:
            raise _unsupported_protocol(proto, pos)
        st.protocol = proto
        return pos + 2, stack, below
    if op in (0x70, 0x67):  # PUT, GET (text)
        line, after = _read_line(d, pos + 1, n)
        if not _DECIMAL.match(line) or len(line) > 19:
            raise _malformed(f"{opcode_name(op)} index {line[:40]!r} is not a decimal number", pos)
        index = int(line)
        if op == 0x70:
            _put(memo, index, stack[-1], pos, st.limits.max_memo_entries)
            return after, stack, below
        if index not in memo:
            raise _never_written(index, pos)
        value = memo[index]
        stack.append(value)
        _count_push(value)
        return after, stack, below
    if op == 0x30:  # POP: pops the MARK itself when one sits on top, as CPython does
        if not stack and metastack:
            stack = metastack.pop()
            return pos + 1, stack, below - len(stack) - 1
        stack.pop()
        return pos + 1, stack, below
    if op == 0x31:  # POP_MARK
        stack = _pop_segment(op, pos, stack, metastack, max_items)
        return pos + 1, stack, below - len(stack) - 1
    if op == 0x32:  # DUP
        value = stack[-1]
        stack.append(value)
        _count_push(value)
        return pos + 1, stack, below
    if op in (0x74, 0x6C, 0x64, 0x91):  # TUPLE, LIST, DICT, FROZENSET
        items = stack
        stack = _pop_segment(op, pos, stack, metastack, max_items)
        below -= len(stack) + 1
        if op == 0x64 and len(items) & 1:
            raise _odd_items(op, pos)
        stack.append(_collection(d, op, items, st, pos))
        return pos + 1, stack, below
    if op == 0x6F:  # OBJ: MARK cls *args OBJ
        items = stack
        stack = _pop_segment(op, pos, stack, metastack, max_items)
        below -= len(stack) + 1
        cls = items[0]
        if cls.__class__ is not _Global or cls.is_getattr:
            raise _calls_non_global(op, pos)
        if cls.is_range:
            st.tally.slow_path(_RANGE_CALL, pos)
        if _RANGE in items:
            _check_range_args(cls, op, pos)
        stack.append(_RANGE if cls.is_range else st.tally.call_with_items(cls, items[1:], pos))
        return pos + 1, stack, below
    if op == 0x69:  # INST module\nname\n, called with the items above the MARK
        module_raw, after = _read_line(d, pos + 1, n)
        name_raw, after = _read_line(d, after, n)
        items = stack
        stack = _pop_segment(op, pos, stack, metastack, max_items)
        below -= len(stack) + 1
        glob = st.make_global(_utf8(module_raw, pos), _utf8(name_raw, pos), pos, "INST")
        if _RANGE in items:
            _check_range_args(glob, op, pos)
        stack.append(_RANGE if glob.is_range else st.tally.call_with_items(glob, items, pos))
        return after, stack, below
    if op == 0x92:  # NEWOBJ_EX cls args kwargs
        if len(stack) < 3:
            raise IndexError
        args, kwargs = stack[-2:]
        del stack[-2:]
        callee = stack[-1]
        if callee.__class__ is not _Global or callee.is_getattr:
            raise _calls_non_global(op, pos)
        if callee.is_range:
            st.tally.slow_path(_RANGE_CALL, pos)
        if args is _RANGE_ARGS or (
            args.__class__ is _Node and args.parent is not None and args.has_range
        ):
            _check_range_args(callee, op, pos)
        stack[-1] = (
            _RANGE if callee.is_range else st.tally.call_with_items(callee, [args, kwargs], pos)
        )
        return pos + 1, stack, below
    if op in (0x82, 0x83, 0x84):
        raise _ext(op, pos)
    if op in (0x50, 0x51):  # PERSID, BINPERSID
        if not st.persistent_ok:
            raise _no_persistent_load(op, pos)
        st.persistent_ids += 1
        if op == 0x50:
            line, after = _read_line(d, pos + 1, n)
            try:
                line.decode("ascii")
            except UnicodeDecodeError:
                raise _malformed("PERSID argument is not ASCII", pos) from None
            stack.append(_DATA)
            return after, stack, below
        stack[-1] = _DATA
        return pos + 1, stack, below
    if op == 0x97:  # NEXT_BUFFER
        st.buffers += 1
        stack.append(_DATA)
        return pos + 1, stack, below
    if op == 0x98:  # READONLY_BUFFER
        stack[-1]
        return pos + 1, stack, below
    return (*_text_value(d, pos, n, op, st, stack), below)


def _collection(d: bytes, op: int, items: list[_Sym], st: _State, pos: int) -> _Sym:
    """The value TUPLE, LIST, DICT or FROZENSET makes of the items above a MARK."""
    tally = st.tally
    if op == 0x74:  # TUPLE
        if items and items[0].__class__ is _Global:
            return _class_args(d, items, st, pos)
        if _RANGE in items:
            return _RANGE_ARGS
        return tally.tuple_of(items, pos)
    if op == 0x91:  # FROZENSET: hashes its items
        tally.empty_sets += 1
        tally.hash_keys(items, pos)
        return tally.tuple_of(items, pos, frozenset_=True)
    node = tally.container(items, pos)
    if op == 0x64:  # DICT: hashes its keys
        tally.hash_keys(items[0::2], pos)
    return node


def _text_value(
    d: bytes, pos: int, n: int, op: int, st: _State, stack: list[_Sym]
) -> tuple[int, list[_Sym]]:
    """INT, LONG, FLOAT, STRING, UNICODE: protocol 0's newline-terminated values, checked the
    way the C unpickler parses them so that execution cannot fail on them half way."""
    limits = st.limits
    line, after = _read_line(d, pos + 1, n)
    if op in (0x49, 0x4C):  # INT, LONG
        body = line[:-1] if op == 0x4C and line.endswith(b"L") else line
        if len(body) > limits.max_int_digits + 2:
            raise _limit("max_int_digits", limits.max_int_digits, "a decimal integer", pos)
        if not _INT_TEXT.match(body) and not (op == 0x49 and _int_base0(body)):
            raise _malformed(f"{opcode_name(op)} argument {line[:40]!r} is not an integer", pos)
        if len(body) > 18:  # may be 2**61-1 or more: a hash the stream chooses
            # (log2(10) / 8 bytes a digit: a 19-digit int is about 8 bytes)
            big = len(body) > 19 * _SMALL_INT_BYTES // 8
            stack.append(_big_int(len(body) * 8 // 19) if big else HASHY)
            return after, stack
    elif op == 0x46:  # FLOAT
        if len(line) > _MAX_FLOAT_TEXT or not _FLOAT_TEXT.match(line):
            raise _malformed(f"FLOAT argument {line[:40]!r} is not a float", pos)
    elif op == 0x53:  # STRING: a quoted, escaped Python 2 str
        if len(line) < 2 or line[0] != line[-1] or line[0] not in b"'\"":
            raise _malformed("the STRING opcode argument must be quoted", pos)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = codecs.escape_decode(line[1:-1])[0]
        except ValueError as exc:
            raise _malformed(f"STRING argument does not decode: {exc}", pos) from None
        _check_binstring(raw, 0, len(raw), st, pos, len(raw))
    elif op == 0x56:  # UNICODE
        try:
            line.decode("raw-unicode-escape")
        except UnicodeDecodeError as exc:
            raise _malformed(f"UNICODE argument does not decode: {exc}", pos) from None
        stack.append(pos)
        return after, stack
    else:
        raise _invalid(op, pos, st.start)
    stack.append(_DATA)
    return after, stack


def _int_base0(body: bytes) -> bool:
    """INT also accepts what ``int(text, 0)`` does (CPython falls back to it)."""
    try:
        int(body, 0)
    except ValueError:
        return False
    return True


# --- compiled fast path: dispatch (safepickle/_speedups.c) -------------------------------------
# The C pass implements the accepting path of _loop() only. On any error, limit, rare opcode or
# getattr shape it returns None ("bails") and the pure-Python pass above runs from the start, so
# both give the same verdict by construction. SAFEPICKLE_PURE_PYTHON=1 switches it off.
# Keep _speedups.c in step with every change to the checks of _loop() and _rare().


#: the bits of a global's ``mutated`` from the compiled pass (_speedups.c: MUTATED, FILLED)
_MUTATED = 1
_FILLED = 2


#: an int of up to this many bytes hashes as fast as any value (LONG1's are all within it);
#: a bigger one is a node charged a unit of hash work per 8 bytes each time it is hashed
_SMALL_INT_BYTES = 256


def _big_int(size: int) -> _Node:
    """The node of an int of ``size`` bytes: no depth, nothing can go into it, hashing it walks
    its digits (about as fast per 8 bytes as hashing a tuple is per item)."""
    node = _Node(0, 1, 1 + size // 8, 0, True)
    node.frozen = True
    return node


def _fast_run(d: bytes, start: int, n: int, st: _State) -> tuple[int, int] | Literal[False] | None:
    """The compiled pass: fills ``st`` as ``_run`` would and returns (offset past STOP, opcodes
    seen), or returns None, leaving ``st`` untouched, when the stream needs the Python pass
    (False when that is only because the input ended first)."""
    if _c_fast_verify is None:
        return None
    limits = st.limits
    found = _c_fast_verify(
        d,
        start,
        n,
        limits.max_opcodes,
        limits.max_stack_depth,
        limits.max_nesting,
        limits.max_memo_entries,
        limits.max_container_items,
        limits.max_globals,
        MAX_NAME_BYTES,
        limits.max_global_name_bytes,
        limits.max_depth,
        limits.max_hash_work,
        limits.max_slow_path_bytes,
        st.persistent_ok | st.binstrings << 1,
    )
    if found is None or len(found) < 9:  # bailed, or a build of an older _speedups.c
        return None
    end, protocol, framed, opcodes, buffers, uses, persistent_ids, counts, refusal = found
    fix_imports = st.fix_imports
    table: dict[object, _Global] = {}
    slow: list[tuple[int, int, str]] = []  # (offset, order in its opcode, what): slow_path
    misused: tuple[int, int, int] | None = None  # (offset, 0, opcode): the first getattr call
    for (
        module,
        name,
        offset,
        opcode,
        pushes,
        called,
        mutated,
        call_at,
        call_op,
        parent_at,
        filled_at,
    ) in uses:  # as make_global
        key = (module, name)
        glob = table[key] = _Global(
            key, canonical_ref(module, name, protocol, fix_imports), offset, opcode
        )
        glob.pushes = pushes
        glob.mutated = bool(mutated & _MUTATED)
        dotted = glob.ref.dotted
        # What only the Python pass handles, where the Python pass notes it (Tally.slow_path):
        # C knows no canonical name, so it records where each global was called, passed
        # first to a call, or had values put into what it returned.
        if called and (glob.is_range or glob.is_getattr):
            if glob.is_range and call_at >= 0:
                slow.append((call_at, 0, _RANGE_CALL))
            if parent_at >= 0:
                slow.append((parent_at, 1, _PASSED_FIRST))
            if glob.is_getattr and call_at >= 0 and (misused is None or call_at < misused[0]):
                misused = (call_at, 0, call_op)  # getattr called other than by its shape
        if dotted in LEVELS_PER_NESTING and f"{module}.{name}" != dotted:
            slow.append((offset, 0, _respelled(dotted, module, name)))
        if mutated & _FILLED and (dotted in HOLDS_ITS_ITEMS) != _holds_as_written(module, name):
            # the compiled pass aliased the items by the name as written, Python by this one
            slow.append((filled_at, 0, _filled(dotted)))
    # The Python pass stops at the first error, or at the first thing only it handles when
    # that is past max_slow_path_bytes; short of that, it decides (as far as that limit).
    first_error = _first_error(counts, misused, refusal)
    if slow:
        at, _, what = min(slow)
        if first_error is None or at <= first_error[0]:
            if at <= st.tally.slow_end or (first_error is not None and at == first_error[0]):
                return None
            st.tally.slow = (what, at)
            raise st.tally.too_slow()
    if first_error is not None:
        at, order, arg = first_error
        if order == 0:  # getattr called without its shape
            raise _getattr_misused(at) if arg == 0x52 else _calls_non_global(arg, at)
        if order == 1:  # a value nested too deep
            raise st.tally.too_deep(arg, at)
        kind, at, arg = refusal
        if kind == _R_TRUNCATED:
            return False
        raise _refusal(kind, at, arg, list(table.values()), d, st)
    st.globals.update(table)
    st.protocol = protocol
    st.framed = framed
    st.buffers = buffers
    st.persistent_ids = persistent_ids
    # What the compiled pass counted, as Tally does: hash work, unknown keys, calls, sets,
    # BUILD items, memo size, after a late insertion the depth of the whole graph, and the
    # value that first nested past max_depth (where the Python pass raises: the compiled pass
    # walks on to STOP instead of handing a long stream to Python to redo).
    tally = st.tally
    (
        tally.hash_work,
        tally.unknown_keys,
        tally.calls,
        tally.empty_sets,
        tally.build_items,
        memo_entries,
        memo_slots,
        depth,
        _,  # a value past max_depth while the walk went on: _first_error raised it
        _,
    ) = counts
    if depth > limits.max_depth:
        raise tally.too_deep(depth, start)
    st.memo_size = (memo_entries, memo_slots)
    return end, opcodes


#: what Tally.slow_path notes for a call of range, and for range or getattr passed first to one
_RANGE_CALL = "a call of builtins.range"
_PASSED_FIRST = "range or getattr passed first to a call"


def _respelled(dotted: str, module: str, name: str) -> str:
    return f"{dotted} spelled {module}.{name}"


def _filled(dotted: str) -> str:
    return f"values put into what {dotted}() returned"


def _first_error(
    counts: tuple[int, ...],
    misused: tuple[int, int, int] | None,
    refusal: tuple[int, int, int] | None,
) -> tuple[int, int, int] | None:
    """The first error the compiled pass knows of, as (offset, which, argument): which 0, a
    call of getattr (argument: the opcode); 1, a value nested too deep (the depth); 2, the
    refusal it stopped at. Ties go in that order, the order of the Python pass's checks."""
    found = []
    if misused is not None:
        found.append(misused)
    too_deep, too_deep_at = counts[-2:]
    if too_deep:
        found.append((too_deep_at, 1, too_deep))
    if refusal is not None:
        found.append((refusal[1], 2, 0))
    return min(found) if found else None


# why the compiled pass refused a stream (walk()'s R_* kinds in _speedups.c)
(
    _R_TRUNCATED,
    _R_STACK,
    _R_NESTING,
    _R_INVALID,
    _R_NEVER_WRITTEN,
    _R_MEMO_INDEX,
    _R_UNDERFLOW,
    _R_NO_MARK,
    _R_BATCH,
    _R_ODD,
    _R_CALLS_NON_GLOBAL,
    _R_MODIFIES_GLOBAL,
    _R_PROTO_NOT_FIRST,
    _R_PROTO_UNSUPPORTED,
    _R_NO_PERSISTENT_LOAD,
    _R_MEMO_FULL,
    _R_EXT,
    _R_NEGATIVE_SIZE,
    _R_FRAME_MISPLACED,
    _R_CROSSES_FRAME,
    _R_STACK_GLOBAL_OPERANDS,
    _R_NAME_DECODE,
    _R_NAME_NOT_UTF8,
    _R_MAX_GLOBALS,
    _R_NAME_BUDGET,
    _R_NAME_TOO_LONG,
    _R_HASH_WORK,
    _R_BINSTRING,
    _R_SLOW_OPCODE,
    _R_SLOW_BIG_INT,
    _R_SLOW_MEMO_INDEX,
    _R_SLOW_PAIR,
) = range(1, 33)


def _refusal(
    kind: int, at: int, arg: int, globs: list[_Global], d: bytes, st: _State
) -> SafePickleError:
    """The error the Python pass raises where the compiled pass refused (``kind`` at offset
    ``at``): made by the same functions, so that the two cannot say it differently."""
    limits = st.limits
    if kind >= _R_SLOW_OPCODE:  # what the Python pass notes there, past max_slow_path_bytes
        st.tally.slow = (_slow_what(kind, arg, d, at), at)
        return st.tally.too_slow()
    if kind == _R_MEMO_FULL:
        return _memo_full(limits.max_memo_entries, at)
    if kind == _R_EXT:
        return _ext(arg, at)
    if kind == _R_NEGATIVE_SIZE:
        return _negative_size(arg, at)
    if kind == _R_FRAME_MISPLACED:
        return _frame_misplaced(at)
    if kind == _R_CROSSES_FRAME:
        return _crosses_frame(d[at], arg)
    if kind == _R_STACK_GLOBAL_OPERANDS:
        return _stack_global_operands(at)
    if kind == _R_NAME_DECODE:
        return _raised_by(_decode_str, d, arg, {})
    if kind == _R_NAME_NOT_UTF8:
        return _malformed(_NOT_UTF8, at)
    if kind == _R_MAX_GLOBALS:
        return _max_globals(limits.max_globals, at)
    if kind == _R_NAME_BUDGET:
        return _name_budget(limits.max_global_name_bytes, arg, at)
    if kind == _R_NAME_TOO_LONG:
        return _name_too_long(at)
    if kind == _R_BINSTRING:  # the same decoding says why
        short = d[at] == 0x55
        size = d[at + 1] if short else int.from_bytes(d[at + 1 : at + 5], "little")
        return _raised_by(_check_binstring, d, at + (2 if short else 5), size, st, at, len(d))
    if kind == _R_HASH_WORK:
        return hash_work_limit(limits.max_hash_work, at)
    if kind == _R_STACK:
        return _stack_full(limits.max_stack_depth, at)
    if kind == _R_NESTING:
        return _nesting_limit(limits.max_nesting, at)
    if kind == _R_INVALID:
        return _invalid(arg, at, st.start)
    if kind == _R_NEVER_WRITTEN:
        return _never_written(arg, at)
    if kind == _R_MEMO_INDEX:
        return _memo_index_limit(arg, limits.max_memo_entries, at)
    if kind == _R_UNDERFLOW:
        return _underflow(arg, at)
    if kind == _R_NO_MARK:
        return _no_mark(arg, at)
    if kind == _R_BATCH:
        return _batch_limit(limits.max_container_items, at)
    if kind == _R_ODD:
        return _odd_items(arg, at)
    if kind == _R_CALLS_NON_GLOBAL:
        return _calls_non_global(arg, at)
    if kind == _R_MODIFIES_GLOBAL:
        return _modifies_global(arg >> 32, globs[arg & 0xFFFFFFFF], at)
    if kind == _R_PROTO_NOT_FIRST:
        return _proto_not_first(at)
    if kind == _R_PROTO_UNSUPPORTED:
        return _unsupported_protocol(arg, at)
    if kind == _R_NO_PERSISTENT_LOAD:
        return _no_persistent_load(arg, at)
    raise AssertionError(f"the compiled pass refused for an unknown reason {kind}")


def _raised_by(check: Callable[..., object], *args: Any) -> SafePickleError:
    """The error the Python pass's ``check(*args)`` raises where the compiled pass refused."""
    try:
        check(*args)
    except SafePickleError as exc:
        return exc
    raise AssertionError(f"the compiled pass refused what {check.__name__} accepts")


def _slow_what(kind: int, arg: int, d: bytes, at: int) -> str:
    """What the Python pass notes (Tally.slow_path) where the compiled pass stopped."""
    if kind == _R_SLOW_OPCODE:
        return f"the opcode {opcode_name(arg)}"
    if kind == _R_SLOW_BIG_INT:
        return _BIG_INT
    if kind == _R_SLOW_MEMO_INDEX:
        return _far_memo_index(arg)
    return _pair(arg)


def _python_only(d: bytes, start: int, n: int, st: _State) -> None:
    """The dispatch when the compiled pass is off: always defer to the Python pass."""
    return None


class _Bailed(Exception):
    """The compiled pass bailed while :func:`_verify_with` forced it."""


def _c_only(d: bytes, start: int, n: int, st: _State) -> tuple[int, int]:
    if _c_fast_verify is None:
        raise RuntimeError("safepickle._speedups is not built: there is no compiled verifier")
    found = _fast_run(d, start, n, st)
    if found is None or found is False:
        raise _Bailed
    return found


_fast_path = (
    _fast_run
    if _c_fast_verify is not None and not os.environ.get("SAFEPICKLE_PURE_PYTHON")
    else _python_only
)
#: which verifier ``verify()`` runs first: ``"c"`` (the compiled fast path, falling back to
#: Python when it bails) or ``"python"`` (extension not built, or ``SAFEPICKLE_PURE_PYTHON`` set)
IMPLEMENTATION: Literal["c", "python"] = "c" if _fast_path is _fast_run else "python"


def _verify_with(
    implementation: Literal["c", "python"], data: bytes, start: int = 0, **options: Any
) -> Verified | None:
    """:func:`verify` with one implementation forced, for the differential tests.

    ``"python"`` runs the pure-Python pass only; ``"c"`` runs the compiled pass only and returns
    None where it bails. Swaps a module global for the call: not thread-safe, tests only.
    """
    global _fast_path
    saved = _fast_path
    _fast_path = _c_only if implementation == "c" else _python_only
    try:
        return verify(data, start, **options)
    except _Bailed:
        return None
    finally:
        _fast_path = saved


# --- end of the compiled fast path -------------------------------------------------------------
