"""Round two of the hostile catalogue: resource attacks under the DEFAULT policy.

The first catalogue (``hostile_payloads.py``) is about code execution: every payload tries to
create ``CANARY``. This one is about the other half of safepickle's promise: *a hostile pickle
gets a safepickle error in bounded time and memory, never a crash*, with nothing but the globals
the default policy allows (most payloads name none at all). Every payload is hand-assembled
from opcodes by a small builder, parameterised by the size of the stream it makes, so that the
same shape runs at a few hundred KB in the tests (``tests/test_hostile_round2.py``) and at 1 MB
and 10 MB in the adversarial benchmark (``benchmarks/adversarial.py``).

The classes (``Shape.cls``):

1. depth of anything built (tuples, slices, deques, dicts, BUILD states, call results), through
   sharing, later mutation and cycles: CPython hashes tuples and frees slices, deques and
   defaultdicts recursively in C, and crashes when that recursion outgrows the C stack;
2. work hidden in hashing, comparing and rendering values built from themselves (``t = (t, t)``
   n times has 2**n leaves);
3. hash flooding: distinct keys with one hash value (ints, floats, complex, Decimal, Fraction,
   UUID, tuples, frozensets), through every opcode and constructor that hashes;
4. copies of one shared value made by copying constructors, many times;
5. floods of cheap opcodes that each allocate an object, and memo indices, against the bound
   :meth:`safepickle.Limits.result_bound` promises;
6. numeric constructors whose cost grows faster than their input (``int(Decimal('1e999999'))``);
7. modules imported through the back door (codec lookups, ``zoneinfo``'s resource loader);
8. frames: opcodes that cross the end of their frame (``pickle.load(file)`` then parses a
   different stream than ``pickle.loads``), frames inside unfinished frames, and the benign
   case of bytes after STOP inside a frame;
9. work left to the pure-Python verifier: a long stream that the compiled verifier walks at
   C speed and that goes wrong (or uses something only the Python pass handles) at its very
   end, or that uses such a thing at its start and then goes on for megabytes.

Each :class:`Shape` says what plain :mod:`pickle` does with it (``plain``) and what safepickle
must do (``expect``):

* ``refused``: a :class:`~safepickle.SafePickleError`, of class ``error`` (or a subclass);
* ``loads``: returns what plain pickle returns (compared structurally, sharing included);
* ``bounded``: either of the two above, within ``Limits().result_bound(len(data))`` bytes;
* ``no-crash``: loads as plain pickle does or is refused with ``error``; only ever used for a
  shape whose plain load CPython itself cannot survive in a 1 MiB thread (said where it is).

:data:`RUNNER` is the child program both the tests and the benchmark run every payload in: a
fresh interpreter with an address-space and a CPU-time limit, so that a segfault, a runaway
allocation or a hang is an observable outcome instead of a dead test process.
"""

from __future__ import annotations

import bz2
import json
import math
import os
import signal
import site
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ALL",
    "BY_ID",
    "CLASSES",
    "MAX_DEPTH",
    "RUNNER",
    "Outcome",
    "Shape",
    "run_payload",
]

#: the default ``Limits().max_depth`` the depth shapes are measured against
MAX_DEPTH = 10_000
#: 2**61 - 1: CPython reduces the hash of every number modulo this prime (64-bit builds)
MODULUS = (1 << 61) - 1

# --- opcodes -------------------------------------------------------------------------------------

PROTO2 = b"\x80\x02"
PROTO4 = b"\x80\x04"
PROTO5 = b"\x80\x05"
STOP = b"."
MARK = b"("
POP = b"0"
DUP = b"2"
NONE = b"N"
EMPTY_TUPLE = b")"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
TUPLE3 = b"\x87"
EMPTY_LIST = b"]"
APPEND = b"a"
APPENDS = b"e"
EMPTY_DICT = b"}"
SETITEM = b"s"
SETITEMS = b"u"
DICT = b"d"
EMPTY_SET = b"\x8f"
ADDITEMS = b"\x90"
FROZENSET = b"\x91"
REDUCE = b"R"
NEWOBJ = b"\x81"
BUILD = b"b"
MEMOIZE = b"\x94"
#: how many items one APPENDS/SETITEMS/ADDITEMS batch carries (pickle itself writes 1,000)
BATCH = 1000


def glob(module: str, name: str) -> bytes:
    """GLOBAL ``module.name`` (protocol 0 spelling; valid in every protocol)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def put(index: int) -> bytes:
    """BINPUT (one-byte index) or LONG_BINPUT."""
    if index < 256:
        return b"q" + bytes([index])
    return b"r" + struct.pack("<I", index)


def get(index: int) -> bytes:
    """BINGET (one-byte index) or LONG_BINGET."""
    if index < 256:
        return b"h" + bytes([index])
    return b"j" + struct.pack("<I", index)


def long_put(index: int) -> bytes:
    """LONG_BINPUT, whatever the index (a fixed five bytes)."""
    return b"r" + struct.pack("<I", index)


def long_get(index: int) -> bytes:
    """LONG_BINGET, whatever the index."""
    return b"j" + struct.pack("<I", index)


def integer(value: int) -> bytes:
    """The shortest binary opcode for an int: BININT1/BININT2/BININT/LONG1/LONG4."""
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    if -(1 << 31) <= value < (1 << 31):
        return b"J" + struct.pack("<i", value)
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    if len(raw) < 256:
        return b"\x8a" + bytes([len(raw)]) + raw
    return b"\x8b" + struct.pack("<I", len(raw)) + raw


def floating(value: float) -> bytes:
    """BINFLOAT."""
    return b"G" + struct.pack(">d", value)


def text(value: str) -> bytes:
    """SHORT_BINUNICODE or BINUNICODE."""
    raw = value.encode("utf-8", "surrogatepass")
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def binary(value: bytes) -> bytes:
    """SHORT_BINBYTES, BINBYTES or BINBYTES8."""
    if len(value) < 256:
        return b"C" + bytes([len(value)]) + value
    if len(value) < (1 << 32):
        return b"B" + struct.pack("<I", len(value)) + value
    return b"\x8e" + struct.pack("<Q", len(value)) + value


def frame(body: bytes) -> bytes:
    """FRAME of exactly ``body``."""
    return b"\x95" + struct.pack("<Q", len(body)) + body


def batched(items: Iterable[bytes], close: bytes) -> bytes:
    """``items`` in MARK ... ``close`` batches of :data:`BATCH` (APPENDS, SETITEMS, ADDITEMS);
    ``items`` are whole entries (a key and its value together for SETITEMS)."""
    out: list[bytes] = []
    chunk: list[bytes] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == BATCH:
            out += [MARK, *chunk, close]
            chunk = []
    if chunk:
        out += [MARK, *chunk, close]
    return b"".join(out)


def count(size: int, unit: int, overhead: int = 64, minimum: int = 1) -> int:
    """How many ``unit``-byte repetitions fit in a stream of ``size`` bytes."""
    return max(minimum, (size - overhead) // unit)


def repeat_gadget(size: int, gadget: Callable[[int], bytes], minimum: int = 1) -> list[bytes]:
    """``gadget(i)`` for i = 0, 1, ... until their total reaches about ``size`` bytes."""
    parts: list[bytes] = []
    total = 0
    i = 0
    while i < minimum or total < size:
        part = gadget(i)
        parts.append(part)
        total += len(part)
        i += 1
    return parts


# --- the record ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One hostile payload shape and what safepickle must do with it."""

    id: str
    cls: int
    #: one line: what the stream builds
    shape: str
    #: size in bytes -> the payload (about that long; a few shapes are fixed-size)
    build: Callable[[int], bytes]
    #: what plain pickle does with it (CPython 3.11 unless said otherwise)
    plain: str
    #: ``refused``, ``loads``, ``bounded`` or ``no-crash`` (see the module docstring)
    expect: str
    #: the safepickle error class ``refused``/``bounded``/``no-crash`` allow
    error: str = "SafePickleError"
    #: the size the tests use (the benchmark uses 1 MB and 10 MB)
    test_size: int = 300_000
    #: nesting depth -> the payload (class 1): the 1 MiB thread-stack tests use it
    depth: Callable[[int], bytes] | None = None
    #: what the thread test within max_depth expects, when not ``loads``
    within: str = "loads"
    #: the error class ``within`` allows, when it allows one
    within_error: str = "LimitExceeded"
    #: why ``within`` is not ``loads``
    within_why: str = ""
    #: modules the stream's globals name: imported before the sys.modules snapshot
    modules: tuple[str, ...] = ()
    #: assert that the load imports no module beyond ``modules``
    check_modules: bool = False
    #: run through loads, load(file) and the scanner (class 8)
    entry_points: tuple[str, ...] = ("loads",)
    #: the builder ignores ``size`` beyond a small fixed payload
    fixed_size: bool = False
    #: one of the worst inputs of its class: the benchmark runs it at 1 MB and 10 MB
    bench: bool = False
    #: hash the result after loading (it survives being hashed)
    hash_result: bool = False
    notes: tuple[str, ...] = field(default=())


# --- class 1: depth ------------------------------------------------------------------------------


def _tuple1_chain(depth: int) -> bytes:
    return PROTO4 + EMPTY_TUPLE + TUPLE1 * (depth - 1) + STOP


def _tuple2_key(depth: int) -> bytes:
    # {(((), None), None)...: None}: the key is hashed when the dict is set
    return (
        PROTO4 + EMPTY_DICT + EMPTY_TUPLE + (NONE + TUPLE2) * (depth - 2) + NONE + SETITEM + STOP
    )


def _tuple3_member(depth: int) -> bytes:
    # {(((), None, None), None, None)...}: the member is hashed when ADDITEMS adds it
    body = EMPTY_TUPLE + (NONE + NONE + TUPLE3) * (depth - 2)
    return PROTO4 + EMPTY_SET + MARK + body + ADDITEMS + STOP


def _slice_chain(depth: int) -> bytes:
    # slice(slice(...slice(None))): depth callables first, then the innermost argument
    return (
        PROTO4
        + glob("builtins", "slice")
        + put(0)
        + get(0) * (depth - 1)
        + NONE
        + (TUPLE1 + REDUCE) * depth
        + STOP
    )


def _slice_key(depth: int) -> bytes:
    return (
        PROTO4
        + EMPTY_DICT
        + glob("builtins", "slice")
        + put(0)
        + get(0) * (depth - 2)
        + NONE
        + (TUPLE1 + REDUCE) * (depth - 1)
        + NONE
        + SETITEM
        + STOP
    )


def _reduce_chain(module: str, name: str) -> Callable[[int], bytes]:
    """A builder of ``name(((name(((...name(),)),),)),)``: the callable ``depth`` times
    (memoized once), then ``depth`` calls, each on a 1-tuple holding a 1-tuple of the level
    below, bottom-up through call arguments."""

    def build(depth: int) -> bytes:
        return (
            PROTO4
            + glob(module, name)
            + put(0)
            + get(0) * (depth - 1)
            + EMPTY_TUPLE
            + REDUCE
            + (TUPLE1 + TUPLE1 + REDUCE) * (depth - 1)
            + STOP
        )

    return build


#: deque((deque((...deque(),)),)): each level is deque((inner,))
_deque_reduce_chain = _reduce_chain("collections", "deque")


def _deque_append_chain(depth: int) -> bytes:
    # depth empty deques on the stack, then APPEND each into the one below (bottom-up)
    return (
        PROTO4
        + glob("collections", "deque")
        + put(0)
        + POP
        + (get(0) + EMPTY_TUPLE + REDUCE) * depth
        + APPEND * (depth - 1)
        + STOP
    )


def _deque_topdown(depth: int) -> bytes:
    new = get(0) + EMPTY_TUPLE + REDUCE
    body = glob("collections", "deque") + put(0) + POP
    first = new + put(2) + put(1) + POP  # memo 2 keeps the outermost deque for STOP
    level = get(1) + new + put(1) + APPEND + POP
    return PROTO4 + body + first + level * (depth - 1) + get(2) + STOP


def _memo_containers(count_: int, make: bytes, base: int = 16) -> bytes:
    """``count_`` containers, each memoized at ``base + i`` and popped."""
    return b"".join(make + long_put(base + i) + POP for i in range(count_))


def _link_order_ascending(n: int) -> Iterator[tuple[int, int]]:
    """(parent, child) links d_i into d_{i-1} for i = 1..n-1: each parent is linked while its
    child is still empty, so depth known at insertion time is always 2."""
    for i in range(1, n):
        yield i - 1, i


def _link_order_merge(n: int) -> Iterator[tuple[int, int]]:
    """The same links in binary-merge order: both halves of a range are chained first, then
    the last of the left half gets the first of the right half (an explicit stack, no
    recursion): tracking at insertion time sees about log2(n) of the n levels."""
    todo: list[tuple[int, int, bool]] = [(0, n, False)]
    while todo:
        lo, hi, merged = todo.pop()
        if hi - lo <= 1:
            continue
        mid = (lo + hi) // 2
        if merged:
            yield mid - 1, mid
            continue
        todo.append((lo, hi, True))
        todo.append((mid, hi, False))
        todo.append((lo, mid, False))


def _memo_chain(
    depth: int, make: bytes, order: Callable[[int], Iterator[tuple[int, int]]], link: bytes
) -> bytes:
    """``depth`` containers made first and memoized, then linked parent <- child in ``order``
    with ``GET parent, GET child, link`` (``link`` ends by popping the parent)."""
    links = b"".join(
        long_get(16 + parent) + long_get(16 + child) + link for parent, child in order(depth)
    )
    return _memo_containers(depth, make) + links + long_get(16) + STOP


def _deque_memo_ascending(depth: int) -> bytes:
    head = PROTO4 + glob("collections", "deque") + put(0) + POP
    return head + _memo_chain(
        depth, get(0) + EMPTY_TUPLE + REDUCE, _link_order_ascending, APPEND + POP
    )


def _deque_memo_merge(depth: int) -> bytes:
    head = PROTO4 + glob("collections", "deque") + put(0) + POP
    return head + _memo_chain(
        depth, get(0) + EMPTY_TUPLE + REDUCE, _link_order_merge, APPEND + POP
    )


def _deque_cycle(length: int) -> bytes:
    """``length`` deques, each containing the next, the last containing the first."""
    head = PROTO4 + glob("collections", "deque") + put(0) + POP
    links = b"".join(
        long_get(16 + i) + long_get(16 + (i + 1) % length) + APPEND + POP for i in range(length)
    )
    return (
        head
        + _memo_containers(length, get(0) + EMPTY_TUPLE + REDUCE)
        + links
        + long_get(16)
        + STOP
    )


def _defaultdict_chain(depth: int) -> bytes:
    # dd0 'k' dd1 'k' ... dd_{n-1}, then SETITEM n-1 times: dd_{i}['k'] = dd_{i+1}, bottom-up
    new = get(0) + EMPTY_TUPLE + REDUCE
    key = text("k")
    return (
        PROTO4
        + glob("collections", "defaultdict")
        + put(0)
        + POP
        + (new + key) * (depth - 1)
        + new
        + SETITEM * (depth - 1)
        + STOP
    )


def _dict_memo_ascending(depth: int) -> bytes:
    link = text("k")

    def links() -> Iterator[bytes]:
        for parent, child in _link_order_ascending(depth):
            yield long_get(16 + parent) + link + long_get(16 + child) + SETITEM + POP

    return PROTO4 + _memo_containers(depth, EMPTY_DICT) + b"".join(links()) + long_get(16) + STOP


def _build_state_chain(depth: int) -> bytes:
    """OrderedDict objects; od_{i-1}.__dict__['next'] = od_i by BUILD, in ascending order.
    Each link is two levels (the object, then its __dict__): ``depth`` levels, depth // 2
    objects."""
    depth = max(2, depth // 2)
    head = PROTO4 + glob("collections", "OrderedDict") + put(0) + POP
    state_key = text("next")

    def links() -> Iterator[bytes]:
        for parent, child in _link_order_ascending(depth):
            yield (
                long_get(16 + parent)
                + EMPTY_DICT
                + state_key
                + long_get(16 + child)
                + SETITEM
                + BUILD
                + POP
            )

    return (
        head
        + _memo_containers(depth, get(0) + EMPTY_TUPLE + REDUCE)
        + b"".join(links())
        + long_get(16)
        + STOP
    )


def _userlist_laundering(depth: int) -> bytes:
    """n deques, n UserLists BUILT with ``data`` = one deque each, then APPEND d_i into UL_{i-1}:
    UserList.extend appends to its ``data``, so every mutation lands on a deque the stream
    never names as the target: a tracker that deepens only the APPEND's target misses it."""
    head = (
        PROTO4
        + glob("collections", "deque")
        + put(0)
        + POP
        + glob("collections", "UserList")
        + put(1)
        + POP
        + text("data")
        + put(2)
        + POP
    )
    deques = _memo_containers(depth, get(0) + EMPTY_TUPLE + REDUCE)
    wrappers = b"".join(
        get(1)
        + EMPTY_TUPLE
        + REDUCE
        + EMPTY_DICT
        + get(2)
        + long_get(16 + i)
        + SETITEM
        + BUILD
        + long_put(16 + depth + i)
        + POP
        for i in range(depth)
    )
    links = b"".join(
        long_get(16 + depth + parent) + long_get(16 + child) + APPEND + POP
        for parent, child in _link_order_ascending(depth)
    )
    return head + deques + wrappers + links + long_get(16) + STOP


def _chainmap_laundering(depth: int) -> bytes:
    """n defaultdicts, n ChainMaps over one each, then cm_{i-1}['k'] = dd_i: ChainMap writes
    into its first map, so the defaultdicts chain up through mutations aimed elsewhere."""
    head = (
        PROTO4
        + glob("collections", "defaultdict")
        + put(0)
        + POP
        + glob("collections", "ChainMap")
        + put(1)
        + POP
    )
    maps = _memo_containers(depth, get(0) + EMPTY_TUPLE + REDUCE)
    views = b"".join(
        get(1) + long_get(16 + i) + TUPLE1 + REDUCE + long_put(16 + depth + i) + POP
        for i in range(depth)
    )
    key = text("k")
    links = b"".join(
        long_get(16 + depth + parent) + key + long_get(16 + child) + SETITEM + POP
        for parent, child in _link_order_ascending(depth)
    )
    return head + maps + views + links + long_get(16) + STOP


def _parent_pointers(size: int) -> bytes:
    """Benign: L = [deque([L]), deque([L]), ...]: one strongly connected component of every
    node, yet no path longer than 2. Counting a cycle's size as its depth refuses it."""
    head = PROTO4 + glob("collections", "deque") + put(0) + POP + EMPTY_LIST + put(1)
    item = get(0) + get(1) + TUPLE1 + TUPLE1 + REDUCE
    n = count(size - len(head), len(item))
    return head + batched((item for _ in range(n)), APPENDS) + STOP


#: frozenset(((inner,),)) = frozenset({inner}), bottom-up through call arguments
_frozenset_call_chain = _reduce_chain("builtins", "frozenset")


def _ordereddict_call_chain(depth: int) -> bytes:
    # OrderedDict((('k', inner),)): depth through call arguments and dict values
    level = put(1) + POP + get(0) + text("k") + get(1) + TUPLE2 + TUPLE1 + TUPLE1 + REDUCE
    return (
        PROTO4
        + glob("collections", "OrderedDict")
        + put(0)
        + EMPTY_TUPLE
        + REDUCE
        + level * (depth - 1)
        + STOP
    )


def _fanin_deepen(size: int) -> bytes:
    """Benign but adversarial to a depth tracker: ``k`` lists each hold one deque X, then X is
    deepened one level at a time ~9,800 times (X.extend([c_j]) with c_j = deque((c_{j-1},))).
    A tracker that pushes every deepening up to every container of X does k * 9,800 updates;
    the real depth stays under max_depth, so it must load."""
    deepen = MAX_DEPTH - 200
    head = (
        PROTO4
        + glob("collections", "deque")
        + put(0)
        + POP
        + get(0)
        + EMPTY_TUPLE
        + REDUCE
        + put(1)
        + POP  # X
        + get(0)
        + EMPTY_TUPLE
        + REDUCE
        + put(2)
        + POP  # c_0
    )
    level = (
        get(0) + get(2) + TUPLE1 + TUPLE1 + REDUCE + put(2) + POP + get(1) + get(2) + APPEND + POP
    )
    parents = count(size - len(head) - deepen * len(level), 4, minimum=100)
    fan = EMPTY_LIST + batched((EMPTY_LIST + get(1) + APPEND for _ in range(parents)), APPENDS)
    return head + fan + level * deepen + STOP


def _many_topdown_lists(size: int) -> bytes:
    """Benign: as many top-down list chains of ~9,800 levels as fit, in one list. Each list is
    inserted into its parent while empty and filled afterwards; a tracker that walks up every
    ancestor on each insertion does ~9,800**2 / 2 steps per chain."""
    depth = MAX_DEPTH - 200
    level = get(1) + EMPTY_LIST + put(1) + APPEND + POP
    # each chain's head stays on the stack inside the MARK, then APPENDS
    chain = EMPTY_LIST + DUP + put(1) + POP + level * (depth - 1)
    chains = max(1, (size - 16) // len(chain))
    return PROTO4 + EMPTY_LIST + MARK + chain * chains + APPENDS + STOP


def _cycle_small(size: int) -> bytes:
    return _deque_cycle(100)


def _self_list(size: int) -> bytes:
    # l = [l, l]: a list containing itself twice (what pickle writes for a recursive list)
    return PROTO4 + EMPTY_LIST + put(1) + MARK + get(1) + get(1) + APPENDS + STOP


def _userstring_state(value: bytes) -> bytes:
    """collections.UserString('') whose BUILD state sets ``data`` to ``value`` (on the stack
    after it: the UserString)."""
    return (
        glob("collections", "UserString")
        + text("")
        + TUPLE1
        + REDUCE
        + EMPTY_DICT
        + text("data")
        + value
        + SETITEM
        + BUILD
    )


def _userstring_deep_key(depth: int) -> bytes:
    # UserString.__hash__ is hash(self.data): data = a tuple chain, and it is a dict key
    chain = EMPTY_TUPLE + TUPLE1 * (depth - 3)
    return PROTO4 + EMPTY_DICT + _userstring_state(chain) + NONE + SETITEM + STOP


def _by_depth(make: Callable[[int], bytes], unit: int) -> Callable[[int], bytes]:
    """A size-parameterised builder from a depth-parameterised one (``unit`` bytes a level)."""

    def build(size: int) -> bytes:
        return make(count(size, unit, minimum=3))

    return build


# --- class 2: hashing and rendering --------------------------------------------------------------

#: levels of self-built DAGs: 2**40 leaves, far past max_hash_work, far below max_depth
DAG_LEVELS = 40


def _dag_tuple(leaf: bytes, levels: int = DAG_LEVELS, arity: int = 2) -> bytes:
    """t = leaf; t = (t, t) ``levels`` times, with DUP (3 items: (t, t, t))."""
    step = (DUP + TUPLE2) if arity == 2 else (DUP + DUP + TUPLE3)
    return leaf + step * levels


def _dag_list(memo: int, levels: int = DAG_LEVELS) -> bytes:
    """L = []; L = [L, L] ``levels`` times, through memo ``memo``; leaves L on the stack."""
    level = EMPTY_LIST + MARK + get(memo) + get(memo) + APPENDS + put(memo) + POP
    return EMPTY_LIST + put(memo) + POP + level * levels + get(memo)


def _dag_keys_into(
    size: int, open_: bytes, per_key: Callable[[int], bytes], close: bytes, batch: bytes = b""
) -> bytes:
    """``open_`` then DAG keys (one per distinct leaf) until ``size``, then ``close``."""
    keys = repeat_gadget(size, per_key)
    if batch:
        return PROTO4 + open_ + batched(keys, batch) + close + STOP
    return PROTO4 + open_ + b"".join(keys) + close + STOP


def _dag_setitem(size: int) -> bytes:
    return _dag_keys_into(size, EMPTY_DICT, lambda i: _dag_tuple(integer(i)) + NONE + SETITEM, b"")


def _dag_setitems(size: int) -> bytes:
    return _dag_keys_into(size, EMPTY_DICT, lambda i: _dag_tuple(integer(i)) + NONE, b"", SETITEMS)


def _dag_dict_opcode(size: int) -> bytes:
    keys = repeat_gadget(size, lambda i: _dag_tuple(integer(i)) + NONE)
    return PROTO4 + MARK + b"".join(keys) + DICT + STOP


def _dag_additems(size: int) -> bytes:
    return _dag_keys_into(size, EMPTY_SET, lambda i: _dag_tuple(integer(i)), b"", ADDITEMS)


def _dag_frozenset_opcode(size: int) -> bytes:
    keys = repeat_gadget(size, lambda i: _dag_tuple(integer(i)))
    return PROTO4 + MARK + b"".join(keys) + FROZENSET + STOP


def _dag_tuple3_setitem(size: int) -> bytes:
    return _dag_keys_into(
        size, EMPTY_DICT, lambda i: _dag_tuple(integer(i), 26, 3) + NONE + SETITEM, b""
    )


def _dag_into_call(module: str, name: str, wrap: bytes) -> Callable[[int], bytes]:
    """module.name called once per DAG (``wrap`` turns the DAG on the stack into the call's
    argument tuple), every result kept in a list."""

    def build(size: int) -> bytes:
        calls = repeat_gadget(size, lambda i: get(0) + _dag_tuple(integer(i)) + wrap + REDUCE)
        return (
            PROTO4
            + glob(module, name)
            + put(0)
            + POP
            + EMPTY_LIST
            + batched(calls, APPENDS)
            + STOP
        )

    return build


def _frozenset_dag(leaf: bytes, memo: int, levels: int) -> bytes:
    """F = frozenset({leaf}); F = frozenset({(F, F)}) ``levels`` times (hash cached per level)."""
    level = MARK + get(memo) + DUP + TUPLE2 + FROZENSET + put(memo) + POP
    return MARK + leaf + FROZENSET + put(memo) + POP + level * levels + get(memo)


def _frozenset_equal_keys(size: int) -> bytes:
    """Two frozenset DAGs, equal and with equal hashes but sharing no object (leaf i vs
    float(i)), as keys of one dict: hashing each is linear (frozensets cache their hash), but
    the dict compares them, and that comparison walks 2**levels paths."""

    def pair(i: int) -> bytes:
        return (
            _frozenset_dag(integer(i), 1, DAG_LEVELS)
            + NONE
            + _frozenset_dag(floating(float(i)), 2, DAG_LEVELS)
            + NONE
        )

    return PROTO4 + EMPTY_DICT + batched(repeat_gadget(size, pair), SETITEMS) + STOP


def _render(module: str, name: str, dag: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """module.name(dag) once per gadget, each result POPped (the call itself is the attack)."""

    def build(size: int) -> bytes:
        calls = repeat_gadget(size, lambda i: get(0) + dag(i) + TUPLE1 + REDUCE + POP)
        return PROTO4 + glob(module, name) + put(0) + POP + b"".join(calls) + NONE + STOP

    return build


def _build_dag_keys(state: Callable[[bytes], bytes]) -> Callable[[int], bytes]:
    """Objects whose __hash__ hashes an attribute that BUILD set to t = (t, t) 40 times, as
    dict keys (one per gadget)."""

    def build(size: int) -> bytes:
        keys = repeat_gadget(size, lambda i: state(_dag_tuple(integer(i))) + NONE + SETITEM)
        return PROTO4 + EMPTY_DICT + b"".join(keys) + STOP

    return build


def _uuid_state(value: bytes) -> bytes:
    # UUID as pickle writes it (NEWOBJ, BUILD {'int': ...}); __setstate__ never checks the int
    return (
        glob("uuid", "UUID")
        + EMPTY_TUPLE
        + NEWOBJ
        + EMPTY_DICT
        + text("int")
        + value
        + SETITEM
        + BUILD
    )


def _big_int_key_repeated(size: int) -> bytes:
    """One big int K (half the stream) set as a key into one dict again and again: CPython
    does not cache int hashes, so every SETITEM hashes all of K."""
    digits = max(64, size // 2)
    big = int.from_bytes(bytes((i * 37 + 11) & 0xFF for i in range(digits)), "little") | 1
    head = PROTO4 + integer(big) + put(1) + POP + EMPTY_DICT
    uses = count(size - len(head), 4)
    return head + (get(1) + NONE + SETITEM) * uses + STOP


def _big_decimal_key_repeated(size: int) -> bytes:
    """Decimal('9' * half the stream) set as a key again and again (no cached hash)."""
    digits = max(64, size // 2)
    head = (
        PROTO4
        + glob("decimal", "Decimal")
        + text("9" * digits)
        + TUPLE1
        + REDUCE
        + put(1)
        + POP
        + EMPTY_DICT
    )
    uses = count(size - len(head), 4)
    return head + (get(1) + NONE + SETITEM) * uses + STOP


# --- class 3: hash flooding ----------------------------------------------------------------------

COLLIDING_BASE = 12_345


def colliding_ints(n: int, base: int = COLLIDING_BASE) -> Iterator[int]:
    """``n`` distinct ints with the hash of ``base``: base + i * (2**61 - 1)."""
    for i in range(n):
        yield base + i * MODULUS


def _flood(size: int, unit: int, key: Callable[[int], bytes], how: str) -> bytes:
    """Colliding keys ``key(i)`` into a container, ``how``: setitems, setitem, dict, additems,
    frozenset."""
    n = count(size, unit)
    keys = (key(i) for i in range(n))
    if how == "setitems":
        body = EMPTY_DICT + batched((k + NONE for k in keys), SETITEMS)
    elif how == "setitem":
        body = EMPTY_DICT + b"".join(k + NONE + SETITEM for k in keys)
    elif how == "dict":
        body = MARK + b"".join(k + NONE for k in keys) + DICT
    elif how == "additems":
        body = EMPTY_SET + batched(keys, ADDITEMS)
    elif how == "frozenset":
        body = MARK + b"".join(keys) + FROZENSET
    else:
        raise ValueError(how)
    return PROTO4 + body + STOP


def _int_key(i: int) -> bytes:
    return integer(COLLIDING_BASE + i * MODULUS)


def _int_flood(how: str) -> Callable[[int], bytes]:
    unit = {"setitems": 12, "setitem": 13, "dict": 12, "additems": 11, "frozenset": 11}[how]
    return lambda size: _flood(size, unit, _int_key, how)


def _int_into_call(module: str, name: str, pairs: bool) -> Callable[[int], bytes]:
    """A list of colliding ints (or of (int, None) pairs) passed to module.name once."""

    def build(size: int) -> bytes:
        unit = 14 if pairs else 11
        n = count(size, unit)
        items = (_int_key(i) + (NONE + TUPLE2 if pairs else b"") for i in range(n))
        return (
            PROTO4
            + glob(module, name)
            + EMPTY_LIST
            + batched(items, APPENDS)
            + TUPLE1
            + REDUCE
            + STOP
        )

    return build


def colliding_floats(target: int = (1 << 23) | (1 << 33)) -> list[float]:
    """Every float whose hash is ``target`` (for this target: 69 of them, about the most any
    hash value has: hash(m * 2**e) = m * 2**(e mod 61) mod 2**61-1, one mantissa per e)."""
    found: set[float] = set()
    for e in range(-1074, 972):
        m = (target * pow(2, (61 - e % 61) % 61, MODULUS)) % MODULUS
        if 0 < m < (1 << 53):
            value = math.ldexp(m, e)
            if value and not math.isinf(value) and hash(value) == target:
                found.add(value)
    return sorted(found)


def _float_int_mixed(size: int) -> bytes:
    """The colliding floats, then colliding ints with the same hash: every new int key is
    compared with every float key (a mixed int/float comparison) and every earlier int."""
    floats = colliding_floats()
    target = hash(floats[0])
    keys = [floating(f) for f in floats]
    n = count(size - 9 * len(keys), 12)
    keys += [integer(target + i * MODULUS) for i in range(1, n + 1)]
    return PROTO4 + EMPTY_DICT + batched((k + NONE for k in keys), SETITEMS) + STOP


def _complex_keys(size: int) -> bytes:
    # hash(complex(a, b)) = hash(a) + 1000003 * hash(b): (1000003 t, -t) all hash to 0
    n = count(size, 23)
    keys = (
        get(0) + floating(1000003.0 * t) + floating(-float(t)) + TUPLE2 + REDUCE
        for t in range(2, n + 2)
    )
    return (
        PROTO4
        + glob("builtins", "complex")
        + put(0)
        + POP
        + EMPTY_DICT
        + batched((k + NONE for k in keys), SETITEMS)
        + STOP
    )


def _decimal_keys(size: int) -> bytes:
    n = count(size, 27)
    keys = (get(0) + text(str(COLLIDING_BASE + i * MODULUS)) + TUPLE1 + REDUCE for i in range(n))
    return (
        PROTO4
        + glob("decimal", "Decimal")
        + put(0)
        + POP
        + EMPTY_DICT
        + batched((k + NONE for k in keys), SETITEMS)
        + STOP
    )


def _fraction_keys(size: int) -> bytes:
    # hash(Fraction(n, 3)) = n * inverse(3) mod 2**61-1: n = base + i * M all collide
    n = count(size, 30)
    keys = (get(0) + text(f"{COLLIDING_BASE + i * MODULUS}/3") + TUPLE1 + REDUCE for i in range(n))
    return (
        PROTO4
        + glob("fractions", "Fraction")
        + put(0)
        + POP
        + EMPTY_DICT
        + batched((k + NONE for k in keys), SETITEMS)
        + STOP
    )


def _uuid_keys(size: int) -> bytes:
    # UUID as protocol 2+ writes it: NEWOBJ, then BUILD {'int': ...}; hash(u) = hash(u.int)
    n = count(size, 30)
    keys = (
        get(0) + EMPTY_TUPLE + NEWOBJ + EMPTY_DICT + get(1) + _int_key(i) + SETITEM + BUILD
        for i in range(n)
    )
    return (
        PROTO4
        + glob("uuid", "UUID")
        + put(0)
        + POP
        + text("int")
        + put(1)
        + POP
        + EMPTY_DICT
        + batched((k + NONE for k in keys), SETITEMS)
        + STOP
    )


def _tuple1_keys(size: int) -> bytes:
    return _flood(size, 13, lambda i: _int_key(i) + TUPLE1, "setitems")


_MASK64 = (1 << 64) - 1
_XXPRIME_1 = 11400714785074694791
_XXPRIME_2 = 14029467366897019727
_XXPRIME_5 = 2870177450012600261


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK64


def _rotr(x: int, r: int) -> int:
    return ((x >> r) | (x << (64 - r))) & _MASK64


def xxhash_pairs(n: int, target: int = 987_654_321) -> Iterator[tuple[int, int]]:
    """``n`` int pairs (a, b), all a distinct and all hash(b) distinct, with
    hash((a, b)) == ``target``: CPython's tuple hash (xxHash, 3.8+) is invertible lane by
    lane, so for any a there is a hash(b), hence an int b, that lands on ``target``."""
    inv_1 = pow(_XXPRIME_1, -1, 1 << 64)
    inv_2 = pow(_XXPRIME_2, -1, 1 << 64)
    want = (target - (2 ^ (_XXPRIME_5 ^ 3527539))) & _MASK64
    need = _rotr((want * inv_1) & _MASK64, 31)
    a, made = 0, 0
    while made < n:
        acc = (_XXPRIME_5 + (hash(a) & _MASK64) * _XXPRIME_2) & _MASK64
        acc = (_rotl(acc, 31) * _XXPRIME_1) & _MASK64
        hb = ((need - acc) * inv_2) & _MASK64
        if hb >= 1 << 63:
            hb -= 1 << 64
        if -MODULUS < hb < MODULUS and hb not in (-1, -2):
            yield a, hb  # an int is its own hash below the modulus
            made += 1
        a += 1


def _xxhash_tuple_keys(size: int) -> bytes:
    n = count(size, 19)
    keys = (integer(a) + integer(b) + TUPLE2 for a, b in xxhash_pairs(n))
    return PROTO4 + EMPTY_DICT + batched((k + NONE for k in keys), SETITEMS) + STOP


def _frozenset1_members(size: int) -> bytes:
    return _flood(size, 13, lambda i: MARK + _int_key(i) + FROZENSET, "additems")


def _collisions_at_bound_copied(size: int) -> bytes:
    """A dict of colliding ints, 60 per hash value (under max_hash_collisions=64), a fifth of
    the stream; then set(d) again and again, each result kept: every copy re-inserts every key
    into a fresh table and compares it with up to 59 others."""
    per_value = 60
    keys_n = max(per_value, (size // 5) // 12)
    keys = (
        integer(1_000 + (j // per_value) * 7_919 + (j % per_value) * MODULUS)
        for j in range(keys_n)
    )
    head = (
        PROTO4
        + glob("builtins", "set")
        + put(0)
        + POP
        + EMPTY_DICT
        + batched((k + NONE for k in keys), SETITEMS)
        + put(1)
        + POP
    )
    copies = count(size - len(head), 6)
    calls = (get(0) + get(1) + TUPLE1 + REDUCE for _ in range(copies))
    return head + EMPTY_LIST + batched(calls, APPENDS) + STOP


def _int_60_collisions(size: int) -> bytes:
    return PROTO4 + EMPTY_DICT + batched((_int_key(i) + NONE for i in range(60)), SETITEMS) + STOP


# --- class 4: copies of shared values ------------------------------------------------------------


def _copies(
    make_shared: Callable[[int], bytes],
    callable_: bytes,
    call: bytes,
    extra: bytes = b"",
    proto: bytes = PROTO4,
) -> Callable[[int], bytes]:
    """A builder: ``make_shared(half)`` is memoized at 1 and ``callable_`` at 0 (``extra``
    memoizes more), then ``call`` (which pushes one copy) is repeated in the other half of the
    stream, every copy kept in a list."""

    def build(size: int) -> bytes:
        head = (
            proto
            + callable_
            + put(0)
            + POP
            + extra
            + make_shared(max(256, size // 2))
            + put(1)
            + POP
        )
        copies = count(size - len(head), len(call) + 1)
        return head + EMPTY_LIST + batched((call for _ in range(copies)), APPENDS) + STOP

    return build


def _shared_bytes(n: int) -> bytes:
    return binary(b"a" * n)


def _shared_high_bytes(n: int) -> bytes:
    return binary(b"\xff" * n)


def _shared_str(n: int) -> bytes:
    return text("a" * n)


def _shared_bytearray(n: int) -> bytes:
    return b"\x96" + struct.pack("<Q", n) + b"a" * n  # BYTEARRAY8 (protocol 5)


def _shared_none_list(n: int) -> bytes:
    return EMPTY_LIST + batched((NONE for _ in range(n)), APPENDS)


def _shared_int_list(n: int) -> bytes:
    return EMPTY_LIST + batched((integer(i) for i in range(n // 5)), APPENDS)


def _shared_dict(n: int) -> bytes:
    return EMPTY_DICT + batched((text(f"k{i:07d}") + NONE for i in range(n // 11)), SETITEMS)


_ONE_ARG = get(0) + get(1) + TUPLE1 + REDUCE


def _range_laundered(size: int) -> bytes:
    """range(2,000,000) (the most max_container_items admits) handed to a UserList by BUILD,
    so no materialising constructor ever sees a range; then list(userlist) again and again."""
    head = (
        PROTO4
        + glob("builtins", "list")
        + put(0)
        + POP
        + glob("collections", "UserList")
        + EMPTY_TUPLE
        + REDUCE
        + EMPTY_DICT
        + text("data")
        + glob("builtins", "range")
        + integer(2_000_000)
        + TUPLE1
        + REDUCE
        + SETITEM
        + BUILD
        + put(1)
        + POP
    )
    copies = count(size - len(head), 6)
    return head + EMPTY_LIST + batched((_ONE_ARG for _ in range(copies)), APPENDS) + STOP


def _build_shared_state(size: int) -> bytes:
    """One big state dict (half the stream) BUILT into many UserList objects: BUILD copies
    every item of the state into each object's __dict__."""
    head = (
        PROTO4
        + glob("collections", "UserList")
        + put(0)
        + POP
        + _shared_dict(max(256, size // 2))
        + put(1)
        + POP
    )
    one = get(0) + EMPTY_TUPLE + REDUCE + get(1) + BUILD
    copies = count(size - len(head), len(one) + 1)
    return head + EMPTY_LIST + batched((one for _ in range(copies)), APPENDS) + STOP


def _reconstructor_dict_init(size: int) -> bytes:
    """copyreg._reconstructor(OrderedDict, dict, D): dict.__init__(obj, D) copies D, again
    and again."""
    extra = glob("collections", "OrderedDict") + put(2) + POP + glob("builtins", "dict") + put(3)
    extra += POP
    call = get(0) + get(2) + get(3) + get(1) + TUPLE3 + REDUCE
    return _copies(_shared_dict, glob("copyreg", "_reconstructor"), call, extra)(size)


# --- class 5: memory bound -----------------------------------------------------------------------


def _flood_in_list(item: bytes, head: bytes = b"") -> Callable[[int], bytes]:
    def build(size: int) -> bytes:
        n = count(size - len(head), len(item))
        return PROTO4 + head + EMPTY_LIST + batched((item for _ in range(n)), APPENDS) + STOP

    return build


def _flood_after_late_insertion(size: int) -> bytes:
    """A list appended into itself first (a late insertion: the compiled verifier hands such a
    stream to the pure-Python one), then EMPTY_DICT in APPENDS batches: the whole flood is
    verified at Python speed, and with a symbolic node per dict."""
    head = EMPTY_LIST + put(1) + get(1) + APPEND + POP
    n = count(size - len(head), 1)
    return PROTO4 + head + EMPTY_LIST + batched((EMPTY_DICT for _ in range(n)), APPENDS) + STOP


def _memoize_flood(size: int) -> bytes:
    # EMPTY_SET MEMOIZE POP: the memo alone keeps every set alive
    n = count(size, 3)
    return PROTO4 + (EMPTY_SET + MEMOIZE + POP) * n + NONE + STOP


def _memo_huge_index(size: int) -> bytes:
    return PROTO4 + NONE + b"r\xff\xff\xff\x7f" + POP + NONE + STOP


def _memo_index_below_limit(size: int) -> bytes:
    # one entry written, then a PUT at 9,999,999 (just under max_memo_entries)
    return PROTO4 + NONE + put(0) + NONE + long_put(9_999_999) + POP + POP + NONE + STOP


# --- class 6: numeric constructors ---------------------------------------------------------------


def _repeat_call(
    callable_: bytes, argument: bytes, *, extra: bytes = b""
) -> Callable[[int], bytes]:
    """``callable_(*argument)`` again and again through the memo, each result POPped: no
    memory is kept, only the work is repeated."""

    def build(size: int) -> bytes:
        head = PROTO4 + callable_ + put(0) + POP + extra + argument + put(1) + POP
        call = get(0) + get(1) + REDUCE + POP
        return head + call * count(size - len(head), len(call)) + NONE + STOP

    return build


def _int_of_decimal(size: int) -> bytes:
    decimal_ = glob("decimal", "Decimal") + text("1e999999") + TUPLE1 + REDUCE
    return _repeat_call(glob("builtins", "int"), decimal_ + TUPLE1)(size)


def _int_of_decimal_tuple(size: int) -> bytes:
    # Decimal((0, (1,), 999999)): the tuple form, no string to pattern-match
    digits = MARK + integer(0) + integer(1) + TUPLE1 + integer(999_999) + b"t"
    decimal_ = glob("decimal", "Decimal") + digits + TUPLE1 + REDUCE
    return _repeat_call(glob("builtins", "int"), decimal_ + TUPLE1)(size)


def _int_of_decimal_digits(size: int) -> bytes:
    digits = max(100, size - 100)
    decimal_ = glob("decimal", "Decimal") + text("9" * digits) + TUPLE1 + REDUCE
    return PROTO4 + glob("builtins", "int") + decimal_ + TUPLE1 + REDUCE + STOP


def _s4300() -> str:
    return "".join(str((i * 7 + 3) % 10) for i in range(4300))


def _int_of_str_repeated(size: int) -> bytes:
    return _repeat_call(glob("builtins", "int"), text(_s4300()) + TUPLE1)(size)


def _fraction_of_str_repeated(size: int) -> bytes:
    digits = _s4300()
    ratio = f"{digits}/{digits[::-1].lstrip('0')}"
    return _repeat_call(glob("fractions", "Fraction"), text(ratio) + TUPLE1)(size)


def _fraction_build_int(size: int) -> bytes:
    """Fraction('1/3'), then BUILD (None, {'_numerator': N, '_denominator': D}) with N of 2/3
    of the stream and D of 1/3 (no narrowed constructor sees them), then int(F): N // D, a
    schoolbook division quadratic in their size (3.10/3.11)."""
    third = max(64, size // 3)
    numerator = int.from_bytes(bytes((i * 7 + 3) & 0xFF for i in range(2 * third)), "little")
    denominator = int.from_bytes(bytes((i * 13 + 5) & 0xFF for i in range(third)), "little")
    numerator |= 1 << (16 * third - 2)
    denominator |= 1 << (8 * third - 2)
    state = (
        NONE
        + EMPTY_DICT
        + text("_numerator")
        + integer(numerator)
        + SETITEM
        + text("_denominator")
        + integer(denominator)
        + SETITEM
        + TUPLE2
    )
    fraction = glob("fractions", "Fraction") + text("1/3") + TUPLE1 + REDUCE + state + BUILD
    return PROTO4 + glob("builtins", "int") + fraction + TUPLE1 + REDUCE + STOP


def _str_arg_repeated(
    module: str, name: str, body: Callable[[int], str]
) -> Callable[[int], bytes]:
    def build(size: int) -> bytes:
        argument = text(body(max(64, size // 2))) + TUPLE1
        return _repeat_call(glob(module, name), argument)(size)

    return build


def _int_hex_repeated(size: int) -> bytes:
    argument = text("f" * max(64, size // 2)) + integer(16) + TUPLE2
    return _repeat_call(glob("builtins", "int"), argument)(size)


# --- class 7: imports through the back door ------------------------------------------------------


def _codec_call(module: str, name: str, value: bytes, codec: str) -> Callable[[int], bytes]:
    def build(size: int) -> bytes:
        return PROTO4 + glob(module, name) + value + text(codec) + TUPLE2 + REDUCE + STOP

    return build


def _bz2_body(size: int) -> bytes:
    """bz2 streams of compressed zeros, concatenated to about ``size`` bytes (each decompresses
    to 10 MB: what the codec would inflate if it ever got that far)."""
    one = bz2.compress(b"\0" * 10_000_000, 9)
    return one * max(1, size // len(one))


def _str_bz2(size: int) -> bytes:
    return _codec_call("builtins", "str", binary(_bz2_body(size)), "bz2_codec")(size)


def _zoneinfo(key: str, from_cache: int) -> Callable[[int], bytes]:
    def build(size: int) -> bytes:
        return (
            PROTO4
            + glob("zoneinfo", "ZoneInfo._unpickle")
            + text(key)
            + integer(from_cache)
            + TUPLE2
            + REDUCE
            + STOP
        )

    return build


# --- class 8: frames -----------------------------------------------------------------------------

#: big enough that pickle.load(file) reads the frame with one read() (not through peek)
FRAME_PAD = 200_000


def _pad(size: int) -> bytes:
    """A big BINBYTES8 and POP at the start of a frame (``size`` bytes of it)."""
    n = max(FRAME_PAD, size)
    return b"\x8e" + struct.pack("<Q", n) + b"\0" * n + POP


def _desync(size: int) -> bytes:
    """A SHORT_BINUNICODE whose 40 bytes start 10 bytes before the frame's end.

    ``pickle.loads`` (and any linear scanner) reads it across the frame end, then a BINUNICODE
    that swallows ``os.system('touch CANARY')`` as text, and returns None. ``pickle.load(file)``
    (the C unpickler reading the frame with one read()) drops the frame's last 10 bytes, takes
    the 40 bytes after the frame as the string, and then *executes* the call."""
    evil = b"cos\nsystem\n(S'touch CANARY'\ntR0"
    length, inside = 40, 10
    body = _pad(size - 100) + b"\x8c" + bytes([length]) + b"x" * inside
    swallow = b"X" + struct.pack("<I", inside - 5 + len(evil)) + b"b" * (inside - 5)
    return PROTO4 + frame(body) + b"a" * (length - inside) + swallow + evil + POP + NONE + STOP


def _binint_crosses(size: int) -> bytes:
    body = _pad(size - 40) + b"J\x01\x02"
    return PROTO4 + frame(body) + b"\x03\x04" + STOP


def _global_line_crosses(size: int) -> bytes:
    body = _pad(size - 60) + b"ccollections\nOrderedD"
    return PROTO4 + frame(body) + b"ict\n" + EMPTY_TUPLE + REDUCE + STOP


def _length_crosses(size: int) -> bytes:
    # BINUNICODE: the frame ends inside its 4-byte length
    body = _pad(size - 40) + b"X\x05\x00"
    return PROTO4 + frame(body) + b"\x00\x00hello" + STOP


def _bytes_crosses(size: int) -> bytes:
    body = _pad(size - 40) + b"C\x05he"
    return PROTO4 + frame(body) + b"llo" + STOP


def _frame_in_frame(size: int) -> bytes:
    inner = frame(NONE + POP)
    body = _pad(size - 60) + inner + NONE
    return PROTO4 + frame(body) + STOP


def _frame_in_frame_crossing(size: int) -> bytes:
    inner_body = NONE + POP + NONE
    body = _pad(size - 60) + b"\x95" + struct.pack("<Q", len(inner_body)) + inner_body[:1]
    return PROTO4 + frame(body) + inner_body[1:] + STOP


def _after_stop_garbage(size: int) -> bytes:
    body = _pad(size - 60) + text("ok") + STOP + b"\xff\xfe garbage \x00 after STOP"
    return PROTO4 + frame(body)


def _after_stop_hostile(size: int) -> bytes:
    hidden = b"cos\nsystem\n(S'touch CANARY'\ntR."
    body = _pad(size - 80) + text("ok") + STOP + hidden
    return PROTO4 + frame(body)


def _unframed_between_frames(size: int) -> bytes:
    # as the pickler writes a big bytes: frame, unframed BINBYTES8, frame
    big = max(FRAME_PAD, size - 100)
    first = frame(EMPTY_LIST + put(0) + MARK + text("before"))
    middle = b"\x8e" + struct.pack("<Q", big) + b"z" * big
    last = frame(text("after") + APPENDS + STOP)
    return PROTO4 + first + middle + last


def _ends_at_frame_end(size: int) -> bytes:
    body = _pad(size - 40) + text("exactly")
    return PROTO4 + frame(body) + STOP


# --- the catalogue -------------------------------------------------------------------------------

_HASH_HANG = "hangs: hashing walks every one of the 2**40 paths (CPU-time limit)"
_RENDER_HANG = "renders 2**40 leaves: MemoryError under the 2 GiB limit, or hangs"
_COPY_OOM = "MemoryError under the 2 GiB address-space limit (gigabytes of copies)"


def _c1() -> list[Shape]:
    free_crash = "loads; freeing it recurses in C without the trashcan: segfault past ~{}"
    return [
        Shape(
            "c1-tuple1-chain",
            1,
            "()\\x85\\x85...: 1-tuples nested by TUPLE1",
            _by_depth(_tuple1_chain, 1),
            "loads (tuples are freed through the trashcan); hashing it would segfault",
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            depth=_tuple1_chain,
            hash_result=True,
        ),
        Shape(
            "c1-tuple2-chain-dict-key",
            1,
            "(((), None), None)... nested by TUPLE2, set as a dict key (SETITEM)",
            _by_depth(_tuple2_key, 2),
            "segfault: tuplehash recurses in C with no guard (past ~150,000 levels)",
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            depth=_tuple2_key,
            bench=True,
        ),
        Shape(
            "c1-tuple3-chain-set-member",
            1,
            "nested TUPLE3 chain added to a set (EMPTY_SET, ADDITEMS)",
            _by_depth(_tuple3_member, 3),
            "segfault hashing the member (past ~150,000 levels)",
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            depth=_tuple3_member,
        ),
        Shape(
            "c1-slice-chain",
            1,
            "slice(slice(...slice(None))) by REDUCE of builtins.slice",
            _by_depth(_slice_chain, 4),
            free_crash.format("300,000 levels (1.2 MB)"),
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            depth=_slice_chain,
            bench=True,
        ),
        Shape(
            "c1-slice-chain-dict-key",
            1,
            "a slice chain as a dict key (slices are hashable, recursively, from 3.12)",
            _by_depth(_slice_key, 4),
            "3.10/3.11: TypeError (unhashable slice); 3.12+: segfault hashing it",
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            depth=_slice_key,
            within="no-crash",
            within_error="ExecutionError",
            within_why="3.10/3.11 cannot hash a slice: plain pickle raises TypeError there",
        ),
        Shape(
            "c1-deque-reduce-chain",
            1,
            "deque((deque((...),)),) by REDUCE of collections.deque",
            _by_depth(_deque_reduce_chain, 5),
            free_crash.format("~150,000 levels"),
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            depth=_deque_reduce_chain,
        ),
        Shape(
            "c1-deque-append-chain",
            1,
            "n empty deques on the stack, then n-1 APPENDs (bottom-up)",
            _by_depth(_deque_append_chain, 5),
            free_crash.format("~150,000 levels"),
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            depth=_deque_append_chain,
        ),
        Shape(
            "c1-deque-topdown-memo",
            1,
            "each new empty deque APPENDed into the previous one (memo), filled afterwards",
            _by_depth(_deque_topdown, 8),
            free_crash.format("~150,000 levels"),
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            depth=_deque_topdown,
            bench=True,
        ),
        Shape(
            "c1-deque-memo-ascending",
            1,
            "n deques memoized first, then d_i APPENDed into d_{i-1} for i = 1..n-1",
            _by_depth(_deque_memo_ascending, 22),
            free_crash.format("~150,000 levels"),
            "refused",
            "LimitExceeded",
            depth=_deque_memo_ascending,
        ),
        Shape(
            "c1-deque-memo-binary-merge",
            1,
            "the same links in binary-merge order (halves chained first, then joined)",
            _by_depth(_deque_memo_merge, 22),
            free_crash.format("~150,000 levels"),
            "refused",
            "LimitExceeded",
            depth=_deque_memo_merge,
            bench=True,
        ),
        Shape(
            "c1-deque-cycle",
            1,
            "a cycle of n deques, each containing the next (the GC frees it recursively)",
            _by_depth(_deque_cycle, 22),
            "loads; the collector's tp_clear frees the cycle recursively: segfault past ~150,000",
            "refused",
            "LimitExceeded",
            depth=_deque_cycle,
        ),
        Shape(
            "c1-defaultdict-setitem-chain",
            1,
            "defaultdict()['k'] = defaultdict()... bottom-up: depth through dict values",
            _by_depth(_defaultdict_chain, 8),
            free_crash.format("~60,000 levels; in a 1 MiB thread past ~9,000 (3.12)"),
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            depth=_defaultdict_chain,
            within="no-crash",
            within_why=(
                "CPython itself cannot free a 9,900-deep defaultdict chain on a 1 MiB thread "
                "stack (3.10/3.11 crash at 9,900, 3.12 at 9,000): refusing it is the only "
                "way not to crash, and max_depth=10,000 does not"
            ),
            bench=True,
        ),
        Shape(
            "c1-dict-memo-ascending",
            1,
            "n dicts memoized, then d_{i-1}['k'] = d_i in ascending order (SETITEM via GET)",
            _by_depth(_dict_memo_ascending, 22),
            "loads (dicts are freed through the trashcan)",
            "refused",
            "LimitExceeded",
            depth=_dict_memo_ascending,
        ),
        Shape(
            "c1-build-state-chain",
            1,
            "OrderedDicts linked by BUILD {'next': od_i}, ascending (two levels a link)",
            _by_depth(_build_state_chain, 15),
            "loads (OrderedDict and dict use the trashcan)",
            "refused",
            "LimitExceeded",
            depth=_build_state_chain,
        ),
        Shape(
            "c1-frozenset-call-chain",
            1,
            "frozenset({frozenset({...})}) through REDUCE arguments",
            _by_depth(_frozenset_call_chain, 5),
            "loads (set_dealloc uses the trashcan, hashes are cached)",
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            depth=_frozenset_call_chain,
            hash_result=True,
        ),
        Shape(
            "c1-ordereddict-call-chain",
            1,
            "OrderedDict((('k', inner),)): depth through call arguments and values",
            _by_depth(_ordereddict_call_chain, 12),
            "loads (OrderedDict uses the trashcan)",
            "refused",
            "LimitExceeded",
            depth=_ordereddict_call_chain,
            within="no-crash",
            within_why=(
                "the verifier cannot tell OrderedDict(pairs) from OrderedDict(mapping) and counts "
                "the pair tuple as a level: a constructor-argument chain counts two a level "
                "(pickle writes OrderedDicts with SETITEMS, one a level)"
            ),
        ),
        Shape(
            "c1-userstring-build-deep-key",
            1,
            "UserString('') BUILT with data = a deep tuple chain, as a dict key",
            _by_depth(_userstring_deep_key, 1),
            "segfault: UserString.__hash__ is hash(self.data), a C recursion past ~150,000",
            "refused",
            test_size=1_000_000,
            depth=_userstring_deep_key,
            notes=("the depth that is hashed arrives through a BUILD state",),
        ),
        Shape(
            "c1-userlist-build-laundering",
            1,
            "UserList objects BUILT over deques; APPENDs aimed at the UserLists chain the deques",
            _by_depth(_userlist_laundering, 46),
            free_crash.format("~150,000 levels"),
            "refused",
            "LimitExceeded",
            test_size=1_000_000,  # 21,700 levels (300 KB is 6,500: within max_depth)
            depth=_userlist_laundering,
            notes=("the mutation's target is the UserList, the depth grows in its data",),
        ),
        Shape(
            "c1-chainmap-laundering",
            1,
            "ChainMaps over defaultdicts; SETITEMs aimed at the ChainMaps chain the defaultdicts",
            _by_depth(_chainmap_laundering, 40),
            free_crash.format("~60,000 levels; in a 1 MiB thread past ~9,000"),
            "refused",
            "LimitExceeded",
            depth=_chainmap_laundering,
            within="no-crash",
            within_why="a defaultdict chain: see c1-defaultdict-setitem-chain",
        ),
        Shape(
            "c1-parent-pointers-within",
            1,
            "L = [deque([L]), ...]: one big cycle component, no path longer than 2 (benign)",
            _parent_pointers,
            "loads",
            "loads",
            notes=("a cycle's size is not its depth: refusing this is a false positive",),
        ),
        Shape(
            "c1-fanin-deepen-within",
            1,
            "k lists hold deque X; X deepened 9,800 times afterwards (benign, within max_depth)",
            _fanin_deepen,
            "loads",
            "loads",
            bench=True,
            notes=("a tracker propagating every deepening to every holder does k * 9,800 steps",),
        ),
        Shape(
            "c1-topdown-chains-within",
            1,
            "top-down list chains of 9,800 levels, as many as fit (benign, within max_depth)",
            _many_topdown_lists,
            "loads",
            "loads",
            bench=True,
            notes=("a tracker walking up every ancestor per insertion does ~5e7 steps a chain",),
        ),
        Shape(
            "c1-cycle-100-within",
            1,
            "a cycle of 100 deques (benign)",
            _cycle_small,
            "loads",
            "loads",
            fixed_size=True,
        ),
        Shape(
            "c1-self-list-within",
            1,
            "l = [l, l]: a list containing itself (benign: what pickle writes for one)",
            _self_list,
            "loads",
            "loads",
            fixed_size=True,
        ),
    ]


def _c2() -> list[Shape]:
    def call(module: str, name: str, wrap: bytes, plain: str = _HASH_HANG) -> Shape:
        return Shape(
            f"c2-dag-tuple-{name.lower()}-call",
            2,
            f"t = (t, t) 40 times, passed to {module}.{name}",
            _dag_into_call(module, name, wrap),
            plain,
            "refused",
            "LimitExceeded",
        )

    return [
        Shape(
            "c2-dag-tuple-setitem",
            2,
            "t = (t, t) 40 times with DUP (2**40 leaves, 83 bytes) as a dict key, SETITEM",
            _dag_setitem,
            _HASH_HANG,
            "refused",
            "LimitExceeded",
            bench=True,
        ),
        Shape(
            "c2-dag-tuple-setitems",
            2,
            "the same keys through SETITEMS batches",
            _dag_setitems,
            _HASH_HANG,
            "refused",
            "LimitExceeded",
        ),
        Shape(
            "c2-dag-tuple-dict-opcode",
            2,
            "the same keys through MARK ... DICT",
            _dag_dict_opcode,
            _HASH_HANG,
            "refused",
            "LimitExceeded",
        ),
        Shape(
            "c2-dag-tuple-additems",
            2,
            "the same tuples added to a set (EMPTY_SET, ADDITEMS)",
            _dag_additems,
            _HASH_HANG,
            "refused",
            "LimitExceeded",
        ),
        Shape(
            "c2-dag-tuple-frozenset-opcode",
            2,
            "the same tuples in MARK ... FROZENSET",
            _dag_frozenset_opcode,
            _HASH_HANG,
            "refused",
            "LimitExceeded",
        ),
        Shape(
            "c2-dag-tuple3-setitem",
            2,
            "t = (t, t, t) 26 times (3**26 leaves) as a dict key",
            _dag_tuple3_setitem,
            _HASH_HANG,
            "refused",
            "LimitExceeded",
        ),
        call("builtins", "set", TUPLE1 + TUPLE1),
        call("builtins", "frozenset", TUPLE1 + TUPLE1),
        call("builtins", "dict", NONE + TUPLE2 + TUPLE1 + TUPLE1),
        call("collections", "Counter", TUPLE1 + TUPLE1),
        call("collections", "OrderedDict", NONE + TUPLE2 + TUPLE1 + TUPLE1),
        Shape(
            "c2-frozenset-dag-equal-keys",
            2,
            "F = frozenset({(F, F)}) 40 times, twice (leaf i and float(i)): two equal keys",
            _frozenset_equal_keys,
            "hangs: hashing is linear (cached per frozenset) but the dict compares the two keys "
            "and equality walks 2**40 paths",
            "refused",
            "LimitExceeded",
            bench=True,
            notes=("a hash-work count that models cached frozenset hashes misses this",),
        ),
        Shape(
            "c2-uuid-build-dag-key",
            2,
            "UUID (NEWOBJ + BUILD {'int': t}, t = (t, t) 40 times) as a dict key",
            _build_dag_keys(_uuid_state),
            _HASH_HANG + " (UUID.__hash__ is hash(self.int))",
            "refused",
            notes=("the work hides behind an allowed class's __hash__ and a BUILD state",),
        ),
        Shape(
            "c2-userstring-build-dag-key",
            2,
            "UserString('') BUILT with data = t (t = (t, t) 40 times) as a dict key",
            _build_dag_keys(_userstring_state),
            _HASH_HANG + " (UserString.__hash__ is hash(self.data))",
            "refused",
        ),
        Shape(
            "c2-big-int-key-repeated",
            2,
            "one int of half the stream (LONG4) set as a key into one dict, again and again",
            _big_int_key_repeated,
            "loads after minutes at 1 MB (int hashes are not cached: every SETITEM hashes it)",
            "refused",
            "LimitExceeded",
            test_size=1_000_000,
            bench=True,
            notes=("hash work counted in objects (1 per hash) is 125,000 here, far under 50M",),
        ),
        Shape(
            "c2-big-decimal-key-repeated",
            2,
            "Decimal('9' * half the stream) set as a key again and again",
            _big_decimal_key_repeated,
            "loads after minutes at 1 MB (Decimal hashes are not cached either)",
            "refused",
            test_size=1_000_000,
        ),
        Shape(
            "c2-str-of-list-dag",
            2,
            "builtins.str(L) with L = [L, L] 40 times",
            _render("builtins", "str", lambda i: _dag_list(1)),
            _RENDER_HANG,
            "refused",
            bench=True,
        ),
        Shape(
            "c2-str-of-tuple-dag",
            2,
            "builtins.str(t) with t = (t, t) 40 times",
            _render("builtins", "str", lambda i: _dag_tuple(integer(i))),
            _RENDER_HANG,
            "refused",
        ),
        Shape(
            "c2-ipv4address-of-list-dag",
            2,
            "ipaddress.IPv4Address(L): its __init__ calls str(L)",
            _render("ipaddress", "IPv4Address", lambda i: _dag_list(1)),
            _RENDER_HANG,
            "refused",
        ),
        Shape(
            "c2-safeuuid-of-list-dag",
            2,
            "uuid.SafeUUID(L): the enum's ValueError message is '%r is not a valid SafeUUID'",
            _render("uuid", "SafeUUID", lambda i: _dag_list(1)),
            _RENDER_HANG,
            "refused",
        ),
        Shape(
            "c2-userstring-of-list-dag",
            2,
            "collections.UserString(L): self.data = str(L)",
            _render("collections", "UserString", lambda i: _dag_list(1)),
            _RENDER_HANG,
            "refused",
        ),
    ]


def _c3() -> list[Shape]:
    def ints(how: str, opcodes: str, bench: bool = False) -> Shape:
        return Shape(
            f"c3-int-{how}",
            3,
            f"ints 12345 + i * (2**61 - 1) (LONG1) through {opcodes}",
            _int_flood(how),
            "quadratic: 25,000 keys, 3e8 comparisons (seconds at 300 KB, minutes at 10 MB)",
            "refused",
            "LimitExceeded",
            bench=bench,
        )

    def call(module: str, name: str, pairs: bool) -> Shape:
        return Shape(
            f"c3-int-{name.lower()}-call",
            3,
            f"a list of colliding ints{' (as (k, None) pairs)' if pairs else ''} "
            f"passed to {module}.{name}",
            _int_into_call(module, name, pairs),
            "quadratic, as above",
            "refused",
            "LimitExceeded",
        )

    return [
        ints("setitems", "SETITEMS batches", bench=True),
        ints("setitem", "one SETITEM each"),
        ints("dict", "MARK ... DICT"),
        ints("additems", "EMPTY_SET, ADDITEMS"),
        ints("frozenset", "MARK ... FROZENSET"),
        call("builtins", "set", False),
        call("builtins", "frozenset", False),
        call("builtins", "dict", True),
        call("collections", "Counter", False),
        call("collections", "OrderedDict", True),
        Shape(
            "c3-float-int-mixed",
            3,
            "the 69 floats sharing one hash value, then ints with that hash (SETITEMS)",
            _float_int_mixed,
            "quadratic; every int key is also compared with every float key",
            "refused",
            "LimitExceeded",
            notes=("floats alone collide at most ~69 per hash value; ints supply the rest",),
        ),
        Shape(
            "c3-complex-keys",
            3,
            "complex(1000003 t, -t) (all hash 0) by REDUCE, SETITEMS",
            _complex_keys,
            "quadratic",
            "refused",
            "LimitExceeded",
        ),
        Shape(
            "c3-decimal-keys",
            3,
            "Decimal('12345 + i * (2**61 - 1)') keys",
            _decimal_keys,
            "quadratic",
            "refused",
            "LimitExceeded",
            bench=True,
        ),
        Shape(
            "c3-fraction-keys",
            3,
            "Fraction('n/3') with n = 12345 + i * (2**61 - 1): equal hashes, distinct values",
            _fraction_keys,
            "quadratic with a Python-level __eq__: hangs at 300 KB",
            "refused",
            "LimitExceeded",
        ),
        Shape(
            "c3-uuid-keys",
            3,
            "UUID by NEWOBJ + BUILD {'int': 12345 + i * (2**61 - 1)} (hash(u) = hash(u.int))",
            _uuid_keys,
            "quadratic with a Python-level __eq__: hangs at 300 KB",
            "refused",
            "LimitExceeded",
            bench=True,
        ),
        Shape(
            "c3-tuple1-keys",
            3,
            "(k,) of colliding ints (a tuple's hash depends only on its items' hashes)",
            _tuple1_keys,
            "quadratic",
            "refused",
            "LimitExceeded",
        ),
        Shape(
            "c3-tuple-xxhash-inverted",
            3,
            "(a, b) with every a and every hash(b) distinct, solved so hash((a, b)) is one value",
            _xxhash_tuple_keys,
            "quadratic",
            "refused",
            "LimitExceeded",
            notes=("a collision count over item hashes misses it: only tuple hashes collide",),
        ),
        Shape(
            "c3-frozenset1-members",
            3,
            "frozenset({k}) of colliding ints, added to a set",
            _frozenset1_members,
            "quadratic",
            "refused",
            "LimitExceeded",
        ),
        Shape(
            "c3-collisions-at-bound-copied",
            3,
            "a dict with 60 colliding keys per hash value (under the bound), set(d) many times",
            _collisions_at_bound_copied,
            "MemoryError under the 2 GiB limit after minutes (each copy is ~30x slower than "
            "an uncolliding one)",
            "refused",
            "LimitExceeded",
            bench=True,
            notes=(
                "within max_hash_collisions; only the copy budget stops it, and the time per "
                "allowed byte is ~30x that of a plain copy",
            ),
        ),
        Shape(
            "c3-int-60-collisions-within",
            3,
            "60 colliding ints in one dict (benign: under max_hash_collisions=64)",
            _int_60_collisions,
            "loads",
            "loads",
            fixed_size=True,
        ),
    ]


def _c4() -> list[Shape]:
    def copy(
        name: str,
        shape: str,
        shared: Callable[[int], bytes],
        callable_: bytes,
        call: bytes = _ONE_ARG,
        extra: bytes = b"",
        bench: bool = False,
        proto: bytes = PROTO4,
    ) -> Shape:
        return Shape(
            f"c4-{name}",
            4,
            shape,
            _copies(shared, callable_, call, extra, proto),
            _COPY_OOM,
            "refused",
            "LimitExceeded",
            bench=bench,
        )

    with_arg = get(0) + get(1) + get(2) + TUPLE2 + REDUCE
    type_first = get(0) + get(2) + get(1) + TUPLE2 + REDUCE
    return [
        copy(
            "bytearray-of-shared-bytes",
            "bytearray(B) again and again, B one memoized bytes of half the stream",
            _shared_bytes,
            glob("builtins", "bytearray"),
            bench=True,
        ),
        copy(
            "bytes-of-shared-bytearray",
            "bytes(BA), BA one BYTEARRAY8 (protocol 5)",
            _shared_bytearray,
            glob("builtins", "bytes"),
            proto=PROTO5,
        ),
        copy(
            "bytes-encode-shared-str",
            "bytes(S, 'utf-8') again and again",
            _shared_str,
            glob("builtins", "bytes"),
            with_arg,
            text("utf-8") + put(2) + POP,
        ),
        copy(
            "str-decode-shared-bytes",
            "str(B, 'utf-8') again and again",
            _shared_bytes,
            glob("builtins", "str"),
            with_arg,
            text("utf-8") + put(2) + POP,
        ),
        copy(
            "str-render-shared-bytes",
            "str(B) of bytes b'\\xff...': each repr is 4x the bytes",
            _shared_high_bytes,
            glob("builtins", "str"),
        ),
        copy(
            "list-of-shared-list",
            "list(L), L a memoized list of None (1 byte of pickle, 8 of list each)",
            _shared_none_list,
            glob("builtins", "list"),
            bench=True,
        ),
        copy("tuple-of-shared-list", "tuple(L)", _shared_none_list, glob("builtins", "tuple")),
        copy(
            "set-of-shared-ints",
            "set(L) of distinct ints",
            _shared_int_list,
            glob("builtins", "set"),
        ),
        copy(
            "frozenset-of-shared-ints",
            "frozenset(L) of distinct ints",
            _shared_int_list,
            glob("builtins", "frozenset"),
        ),
        copy("dict-of-shared-dict", "dict(D)", _shared_dict, glob("builtins", "dict")),
        copy(
            "ordereddict-of-shared-dict",
            "OrderedDict(D)",
            _shared_dict,
            glob("collections", "OrderedDict"),
        ),
        copy("deque-of-shared-list", "deque(L)", _shared_none_list, glob("collections", "deque")),
        copy(
            "counter-of-shared-ints",
            "Counter(L) of distinct ints",
            _shared_int_list,
            glob("collections", "Counter"),
        ),
        copy(
            "userlist-of-shared-list",
            "UserList(L)",
            _shared_none_list,
            glob("collections", "UserList"),
        ),
        copy(
            "defaultdict-of-shared-dict",
            "defaultdict(None, D)",
            _shared_dict,
            glob("collections", "defaultdict"),
            get(0) + NONE + get(1) + TUPLE2 + REDUCE,
        ),
        copy(
            "array-q-of-shared-ints",
            "array.array('q', L): 8 bytes an item",
            _shared_int_list,
            glob("array", "array"),
            type_first,
            text("q") + put(2) + POP,
        ),
        copy(
            "array-b-of-shared-bytes",
            "array.array('b', B)",
            _shared_bytes,
            glob("array", "array"),
            type_first,
            text("b") + put(2) + POP,
        ),
        Shape(
            "c4-build-shared-state",
            4,
            "one big state dict BUILT into many UserList() objects (each copies its items)",
            _build_shared_state,
            _COPY_OOM,
            "refused",
            "LimitExceeded",
            bench=True,
        ),
        Shape(
            "c4-reconstructor-dict-init",
            4,
            "copyreg._reconstructor(OrderedDict, dict, D) again and again (dict.__init__ copies)",
            _reconstructor_dict_init,
            _COPY_OOM,
            "refused",
        ),
        Shape(
            "c4-range-laundered-through-build",
            4,
            "UserList() BUILD {'data': range(2,000,000)}, then list(userlist) again and again",
            _range_laundered,
            _COPY_OOM + "; no materialiser ever sees the range",
            "refused",
            bench=True,
        ),
    ]


def _c5() -> list[Shape]:
    def flood(name: str, shape: str, item: bytes, head: bytes = b"", bench: bool = False) -> Shape:
        return Shape(
            f"c5-{name}",
            5,
            shape,
            _flood_in_list(item, head),
            "loads (hundreds of MB at 1 MB, gigabytes at 10 MB: MemoryError under 2 GiB)",
            "bounded",
            "LimitExceeded",
            test_size=1_000_000,
            bench=bench,
        )

    deque_head = glob("collections", "deque") + put(0) + POP
    return [
        flood(
            "empty-set-flood",
            "EMPTY_SET in APPENDS batches (1 byte: a 216-byte set)",
            EMPTY_SET,
            bench=True,
        ),
        flood("empty-dict-flood", "EMPTY_DICT in APPENDS batches", EMPTY_DICT),
        flood("empty-list-flood", "EMPTY_LIST in APPENDS batches", EMPTY_LIST),
        flood("tuple1-flood", "NONE TUPLE1 in APPENDS batches", NONE + TUPLE1),
        flood(
            "frozenset-op-flood", "MARK FROZENSET (an empty frozenset, 2 bytes)", MARK + FROZENSET
        ),
        flood(
            "deque-call-flood",
            "deque() by REDUCE (4 bytes: a 760-byte deque)",
            get(0) + EMPTY_TUPLE + REDUCE,
            deque_head,
            bench=True,
        ),
        Shape(
            "c5-dict-flood-after-late-insertion",
            5,
            "l.append(l) first (the compiled verifier bails on it), then an EMPTY_DICT flood",
            _flood_after_late_insertion,
            "loads (as the EMPTY_DICT flood)",
            "bounded",
            "LimitExceeded",
            test_size=1_000_000,
            bench=True,
            notes=("12 bytes choose the slow verifier for the other 10 MB",),
        ),
        Shape(
            "c5-memoize-flood",
            5,
            "EMPTY_SET MEMOIZE POP: the memo alone keeps every set alive",
            _memoize_flood,
            "loads (the memo holds them until the load ends)",
            "bounded",
            "LimitExceeded",
            test_size=1_000_000,
        ),
        Shape(
            "c5-memo-put-huge-index",
            5,
            "one LONG_BINPUT at index 2**31 - 1 (CPython sizes the memo table by the index)",
            _memo_huge_index,
            "MemoryError (a 32 GB memo table)",
            "refused",
            "LimitExceeded",
            fixed_size=True,
        ),
        Shape(
            "c5-memo-put-sparse-index",
            5,
            "one entry, then a LONG_BINPUT at 9,999,999 (under max_memo_entries)",
            _memo_index_below_limit,
            "loads after allocating a 160 MB memo table for 20 bytes",
            "refused",
            fixed_size=True,
        ),
    ]


def _c6() -> list[Shape]:
    return [
        Shape(
            "c6-int-of-decimal-exponent",
            6,
            "int(Decimal('1e999999')), repeated through the memo",
            _int_of_decimal,
            "hangs (one call is 80 s: a million-digit power of ten converted to binary)",
            "refused",
            bench=True,
        ),
        Shape(
            "c6-int-of-decimal-tuple-form",
            6,
            "int(Decimal((0, (1,), 999999))): the tuple form, no exponent in any string",
            _int_of_decimal_tuple,
            "hangs, as above",
            "refused",
        ),
        Shape(
            "c6-int-of-decimal-digits",
            6,
            "int(Decimal('9' * the whole stream))",
            _int_of_decimal_digits,
            "quadratic: ~10 s at 300 KB, minutes at 1 MB",
            "refused",
            test_size=1_000_000,
        ),
        Shape(
            "c6-int-of-4300-digit-str-repeated",
            6,
            "int(S), S a 4,300-digit str (the most CPython allows), repeated, results POPped",
            _int_of_str_repeated,
            "loads after ~40 s at 1 MB (0.24 ms a call, 6 bytes a call, no memory kept)",
            "refused",
            test_size=1_000_000,
            bench=True,
            notes=("no allocation, no hashing, no depth: only a CPU budget per call sees it",),
        ),
        Shape(
            "c6-fraction-of-str-repeated",
            6,
            "Fraction('p/q') with 4,300-digit p and q (what the narrowed Fraction admits)",
            _fraction_of_str_repeated,
            "hangs: 0.7 ms a call (two conversions and a gcd), 6 bytes a call",
            "refused",
            bench=True,
        ),
        Shape(
            "c6-fraction-build-huge-int",
            6,
            "Fraction('1/3') BUILT with huge _numerator/_denominator, then int(F)",
            _fraction_build_int,
            "3.10/3.11: quadratic division (~45 s at 1 MB); 3.12+ subquadratic",
            "refused",
            test_size=1_000_000,
            notes=("BUILD of slot state bypasses the narrowed Fraction constructor",),
        ),
        Shape(
            "c6-float-of-huge-str-repeated",
            6,
            "float(S), S '1' * half the stream, repeated",
            _str_arg_repeated("builtins", "float", lambda n: "1" * n),
            "hangs: a linear parse of S per call, 6 bytes a call",
            "refused",
        ),
        Shape(
            "c6-complex-of-huge-str-repeated",
            6,
            "complex(S + 'j') repeated",
            _str_arg_repeated("builtins", "complex", lambda n: "1" * (n - 1) + "j"),
            "hangs, as float",
            "refused",
        ),
        Shape(
            "c6-decimal-of-huge-str-repeated",
            6,
            "Decimal(S) repeated, results POPped",
            _str_arg_repeated("decimal", "Decimal", lambda n: "7" * n),
            "hangs: a linear parse of S per call",
            "refused",
        ),
        Shape(
            "c6-int-hex-huge-str-repeated",
            6,
            "int(S, 16), S 'f' * half the stream (power-of-two bases have no digit limit)",
            _int_hex_repeated,
            "seconds at 300 KB, minutes at 10 MB",
            "refused",
        ),
    ]


def _c7() -> list[Shape]:
    def codec(name: str, module: str, callable_: str, value: bytes, enc: str, plain: str) -> Shape:
        return Shape(
            f"c7-{name}",
            7,
            f"{module}.{callable_}({'b' if value[:1] in b'CB' else ''}'...', '{enc}')",
            _codec_call(module, callable_, value, enc),
            plain,
            "refused",
            check_modules=True,
            fixed_size=True,
        )

    hello = binary(b"aGVsbG8=")
    return [
        Shape(
            "c7-str-bz2-codec",
            7,
            "builtins.str(B, 'bz2_codec'), B concatenated bz2 streams of zeros",
            _str_bz2,
            "imports encodings.bz2_codec (and bz2), then LookupError: not a text encoding",
            "refused",
            check_modules=True,
            bench=True,
        ),
        codec(
            "bytes-zlib-codec",
            "builtins",
            "bytes",
            text("hello"),
            "zlib_codec",
            "imports encodings.zlib_codec, then LookupError",
        ),
        codec(
            "bytearray-idna",
            "builtins",
            "bytearray",
            text("xn--hello.example"),
            "idna",
            "imports encodings.idna, stringprep and unicodedata; loads",
        ),
        codec(
            "str-punycode",
            "builtins",
            "str",
            hello,
            "punycode",
            "imports encodings.punycode, then UnicodeError",
        ),
        codec("str-cp1252", "builtins", "str", hello, "cp1252", "imports encodings.cp1252; loads"),
        codec("str-utf-7", "builtins", "str", hello, "utf-7", "imports encodings.utf_7; loads"),
        codec(
            "str-base64-codec",
            "builtins",
            "str",
            hello,
            "base64_codec",
            "imports encodings.base64_codec and base64, then LookupError",
        ),
        Shape(
            "c7-zoneinfo-missing-key",
            7,
            "zoneinfo.ZoneInfo._unpickle('Nowhere/Atlantis', 1): a key in no TZPATH",
            _zoneinfo("Nowhere/Atlantis", 1),
            "imports importlib.resources (and tries tzdata), then ZoneInfoNotFoundError",
            "refused",
            modules=("zoneinfo",),
            check_modules=True,
            fixed_size=True,
        ),
        Shape(
            "c7-zoneinfo-missing-key-no-cache",
            7,
            "zoneinfo.ZoneInfo._unpickle('Nowhere/Atlantis', 0): the no_cache path",
            _zoneinfo("Nowhere/Atlantis", 0),
            "imports importlib.resources (and tries tzdata), then ZoneInfoNotFoundError",
            "refused",
            modules=("zoneinfo",),
            check_modules=True,
            fixed_size=True,
        ),
    ]


def _c8() -> list[Shape]:
    every = ("loads", "load", "scan")

    def crossing(name: str, shape: str, build: Callable[[int], bytes], plain: str) -> Shape:
        return Shape(
            f"c8-{name}",
            8,
            shape,
            build,
            plain,
            "refused",
            "MalformedPickle",
            entry_points=every,
            bench=name == "string-crosses-frame-desync",
        )

    def benign(name: str, shape: str, build: Callable[[int], bytes], plain: str) -> Shape:
        return Shape(f"c8-{name}", 8, shape, build, plain, "loads", entry_points=every)

    return [
        crossing(
            "string-crosses-frame-desync",
            "a SHORT_BINUNICODE crossing the frame end; after it a string that hides a call",
            _desync,
            "pickle.loads returns None; pickle.load(file) runs os.system('touch CANARY')",
        ),
        crossing(
            "binint-crosses-frame-end",
            "a BININT whose 4 bytes straddle the frame end",
            _binint_crosses,
            "pickle.loads returns the int; pickle.load(file) fails (pickle data was truncated)",
        ),
        crossing(
            "global-line-crosses-frame-end",
            "GLOBAL collections\\nOrderedD | ict\\n across the frame end",
            _global_line_crosses,
            "pickle.loads returns OrderedDict(); pickle.load(file) reads 'ict' as the name",
        ),
        crossing(
            "length-crosses-frame-end",
            "BINUNICODE whose 4-byte length straddles the frame end",
            _length_crosses,
            "pickle.loads returns 'hello'; pickle.load(file) parses other bytes",
        ),
        crossing(
            "bytes-crosses-frame-end",
            "SHORT_BINBYTES whose data straddles the frame end",
            _bytes_crosses,
            "C pickle returns b'hello' both ways; the pure-Python unpickler refuses it",
        ),
        crossing(
            "frame-inside-frame",
            "a FRAME (wholly inside) before the current frame ended",
            _frame_in_frame,
            "C pickle loads it; the pure-Python unpickler refuses it",
        ),
        crossing(
            "frame-inside-frame-crossing",
            "a FRAME before the current frame ended, running past its end",
            _frame_in_frame_crossing,
            "pickle.loads returns None; pickle.load(file) reads the inner frame from past "
            "the outer one",
        ),
        benign(
            "garbage-after-stop-in-frame",
            "bytes after STOP inside the last frame",
            _after_stop_garbage,
            "loads 'ok' (pickle.load(file) reads the whole frame, and stops after it)",
        ),
        benign(
            "hostile-after-stop-in-frame",
            "an os.system pickle after STOP inside the frame: never executed by anyone",
            _after_stop_hostile,
            "loads 'ok'; a second pickle.load(file) starts after the frame",
        ),
        benign(
            "unframed-bytes-between-frames",
            "frame, an unframed BINBYTES8, frame: how the pickler writes big bytes",
            _unframed_between_frames,
            "loads",
        ),
        benign(
            "opcode-ends-at-frame-end",
            "the last opcode of the frame ends exactly at its end, STOP after it",
            _ends_at_frame_end,
            "loads 'exactly'",
        ),
    ]


# --- class 9: work left to the pure-Python verifier --------------------------------------------

#: a tuple of a new list and a new dict, dropped: 4 bytes, 3 nodes, the Python pass's slowest
_DENSE = EMPTY_LIST + EMPTY_DICT + TUPLE2 + POP

#: what ends a long stream: the first error, or what only the Python pass handles
_TAILS: dict[str, tuple[bytes, str]] = {
    "bad-byte": (b"\xff", "refused"),
    "truncated": (b"", "refused"),
    "pop-of-nothing": (b"00" + STOP, "refused"),
    "ext1": (b"\x82\x01" + STOP, "refused"),
    "stack-global-of-ints": (b"KK\x93" + STOP, "refused"),
    "global-not-utf8": (b"c\xff\n\xff\n" + STOP, "refused"),
    "never-written": (b"h\x07" + STOP, "refused"),
    "crosses-frame": (b"\x95\x02\x00\x00\x00\x00\x00\x00\x00JNNNN" + STOP, "refused"),
    "text-int": (b"I1\n" + STOP, "bounded"),
    "range-call": (glob("builtins", "range") + b"K\x05\x85R" + STOP, "bounded"),
    "getattr-pair": (
        glob("builtins", "int") + text("real") + TUPLE2 + POP + NONE + STOP,
        "bounded",
    ),
    "userlist-append": (glob("collections", "UserList") + b")R]a" + STOP, "bounded"),
    "far-memo-index": (NONE + b"r\x00\x00\x10\x00" + STOP, "bounded"),
    "big-long4": (b"\x8b" + (300).to_bytes(4, "little") + b"\x01" * 300 + STOP, "bounded"),
}


def _dense_then(tail: bytes) -> Callable[[int], bytes]:
    def build(size: int) -> bytes:
        return PROTO4 + _DENSE * count(size, len(_DENSE)) + NONE + tail

    return build


def _first_then_dense(head: bytes) -> Callable[[int], bytes]:
    def build(size: int) -> bytes:
        return PROTO4 + head + POP + _DENSE * count(size, len(_DENSE)) + NONE + STOP

    return build


def _c9() -> list[Shape]:
    tails = [
        Shape(
            f"c9-{name}-at-the-end",
            9,
            f"list-and-dict tuples, then {name.replace('-', ' ')}",
            _dense_then(tail),
            "fails or loads at the end",
            expect,
            bench=name in ("bad-byte", "text-int", "range-call"),
        )
        for name, (tail, expect) in _TAILS.items()
    ]
    heads = [
        Shape(
            f"c9-{name}-first",
            9,
            f"{name.replace('-', ' ')}, then list-and-dict tuples",
            _first_then_dense(head),
            "loads (the tuples are dropped)",
            "bounded",
            bench=name in ("text-int", "userlist-append"),
        )
        for name, head in (
            ("text-int", b"I1\n"),
            ("range-call", glob("builtins", "range") + b"K\x05\x85R"),
            ("userlist-append", glob("collections", "UserList") + b")R]a"),
            ("far-memo-index", NONE + b"r\x00\x00\x10\x00"),
        )
    ]
    return tails + heads


CLASSES: dict[int, str] = {
    1: "depth of anything built",
    2: "work hidden in hashing and rendering",
    3: "hash flooding",
    4: "copies of shared values",
    5: "memory bound",
    6: "numeric constructors",
    7: "imports through the back door",
    8: "frames",
    9: "work left to the pure-Python verifier",
}

ALL: tuple[Shape, ...] = tuple(
    _c1() + _c2() + _c3() + _c4() + _c5() + _c6() + _c7() + _c8() + _c9()
)
BY_ID: dict[str, Shape] = {shape.id: shape for shape in ALL}


# --- running one payload in a child process ------------------------------------------------------

#: what the child may use: enough for any honest load at these sizes
ADDRESS_SPACE = 2 << 30
CPU_SECONDS = 20
#: outcomes of a run, as :func:`Outcome.kind` says
KINDS = ("refused", "loaded", "crash", "hang", "memory", "error", "no-result")

RUNNER = r'''
import gc, io, json, os, resource, sys, threading, time

spec = json.loads(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (spec["address_space"], spec["address_space"]))
resource.setrlimit(resource.RLIMIT_CPU, (spec["cpu_seconds"], spec["cpu_seconds"] + 5))

import hashlib, pickle

import safepickle
import safepickle.verify

with open(spec["path"], "rb") as f:
    data = f.read()
safepickle.loads(pickle.dumps([1, "a", (2.0, None)], protocol=4))  # policy, plugins: warm
for name in spec["modules"]:
    __import__(name)
modules_before = set(sys.modules)
SCALE = 1 if sys.platform == "darwin" else 1024


def status(field):
    """A size from /proc/self/status, in bytes (None off Linux). VmHWM is this process's own
    peak: ru_maxrss on Linux starts at the parent's peak when a child is exec'd."""
    try:
        with open("/proc/self/status") as lines:
            for line in lines:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def peak():
    found = status("VmHWM")
    if found is None:
        found = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * SCALE
    return found


def current():
    found = status("VmRSS")
    return peak() if found is None else found


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


LEAVES = (type(None), bool, int, float, complex, str, bytes, bytearray)


def fingerprint(root):
    """A digest of the object graph, sharing and cycles included; no recursion."""
    digest = hashlib.sha256()
    seen = {}
    todo = [root]
    while todo:
        obj = todo.pop()
        kind = type(obj)
        if kind in LEAVES:
            if kind is int:
                token = b"i" + format(obj, "x").encode()
            elif kind in (str,):
                token = b"s" + hashlib.sha256(obj.encode("utf-8", "surrogatepass")).digest()
            elif kind in (bytes, bytearray):
                token = kind.__name__[:2].encode() + hashlib.sha256(obj).digest()
            else:
                token = b"r" + repr(obj).encode()
            digest.update(token + b";")
            continue
        if id(obj) in seen:
            digest.update(b"@%d;" % seen[id(obj)])
            continue
        seen[id(obj)] = len(seen)
        digest.update(b"<" + kind.__module__.encode() + b"." + kind.__qualname__.encode() + b">")
        children = []
        if isinstance(obj, (tuple, list)) or kind.__name__ == "deque":
            children = list(obj)
        elif isinstance(obj, dict):
            for key, value in obj.items():
                children += [key, value]
            if hasattr(obj, "default_factory"):
                digest.update(repr(obj.default_factory).encode())
        elif isinstance(obj, (set, frozenset)):
            children = list(obj)
        elif kind is slice:
            children = [obj.start, obj.stop, obj.step]
        else:
            try:
                digest.update(b"r" + repr(obj).encode()[:200])
            except Exception:  # a huge int inside refuses str(): its type is enough here
                digest.update(b"?")
        if hasattr(obj, "__dict__") and not isinstance(obj, type):
            children += sorted(vars(obj).items(), key=lambda item: item[0])
        digest.update(b"#%d;" % len(children))
        todo.extend(reversed(children))
    return digest.hexdigest()


def describe(exc):
    cause = exc.__cause__ or exc.__context__
    return {
        "class": type(exc).__name__,
        "cause": type(cause).__name__ if cause is not None else None,
        "mro": [c.__name__ for c in type(exc).__mro__],
        "safepickle": isinstance(exc, safepickle.SafePickleError),
        "message": str(exc)[:400],
    }


def stage(name, what):
    """Where a run is, on stderr: a crash after this line happened while doing ``what``."""
    print(f"@@STAGE {name}: {what}", file=sys.stderr, flush=True)


def attempt(name):
    """One entry point: load (or scan), then fingerprint, hash and free what was loaded, all
    in this thread."""
    out = {}
    before_cpu, before = cpu(), time.perf_counter()
    try:
        value = ENTRY[name]()
    except Exception as exc:
        out["seconds"] = time.perf_counter() - before
        out["cpu"] = cpu() - before_cpu
        out["error"] = describe(exc)
        return out
    out["seconds"] = time.perf_counter() - before
    out["cpu"] = cpu() - before_cpu
    out["peak_after_load"] = peak()
    stage(name, "loaded")
    if name == "scan":
        out["scan"] = value
        return out
    if spec["compare"]:
        out["fingerprint"] = fingerprint(value)
    if spec["hash"]:
        stage(name, "hashing the result")
        try:
            hash(value)
            out["hashed"] = True
        except TypeError:
            out["hashed"] = False
    stage(name, "freeing the result")
    del value
    gc.collect()
    out["freed"] = True
    return out


def scan():
    """The scanner's verdict: its status and the MRO of the error class it names."""
    from safepickle.scan import Scanner

    result = Scanner(safepickle.Policy()).scan_bytes(data)
    problems = [s.problem for s in result.streams if s.problem is not None]
    error = problems[0].error_type if problems else ""
    klass = getattr(safepickle, error, None)
    mro = [c.__name__ for c in klass.__mro__] if isinstance(klass, type) else [error]
    return {"status": result.status, "mro": mro if error else []}


ENTRY = {
    "loads": lambda: safepickle.loads(data),
    "load": lambda: safepickle.load(io.BytesIO(data)),
    "scan": scan,
    "plain-loads": lambda: pickle.loads(data),
    "plain-load-file": lambda: pickle.load(io.BytesIO(data)),
}

baseline = current()
report = {"baseline": baseline, "runs": {}, "verifier": safepickle.verify.IMPLEMENTATION}
for entry in spec["entry_points"]:
    if spec["stack_size"]:
        threading.stack_size(spec["stack_size"])
        box = {}
        worker = threading.Thread(target=lambda: box.update(attempt(entry)))
        worker.start()
        worker.join()
        report["runs"][entry] = box
    else:
        report["runs"][entry] = attempt(entry)
report["peak"] = peak()
report["new_modules"] = sorted(set(sys.modules) - modules_before)
if spec["compare"] and any("fingerprint" in r for r in report["runs"].values()):
    gc.collect()
    try:
        report["plain_fingerprint"] = fingerprint(pickle.loads(data))
    except Exception as exc:
        report["plain_error"] = describe(exc)
print("@@RESULT " + json.dumps(report), flush=True)
'''


@dataclass
class Outcome:
    """What one child run of one payload did."""

    returncode: int | None
    report: dict[str, Any] | None
    stderr: str
    wall: float
    size: int
    canary: bool = False

    @property
    def peak(self) -> int:
        """Peak resident memory of the load: measured right after it returned when it did (the
        structural comparison afterwards needs memory of its own), else at the end."""
        if not self.report:
            return 0
        after = [
            int(run["peak_after_load"])
            for run in self.report["runs"].values()
            if "peak_after_load" in run
        ]
        return max(after) if after else int(self.report["peak"])

    @property
    def growth(self) -> int:
        """How much the load grew the process: :attr:`peak` less the resident baseline."""
        return self.peak - int(self.report["baseline"]) if self.report else 0

    @property
    def stage(self) -> str:
        """The last stage the child reported (``loads: loaded``...), for a crash's summary."""
        stages = [line for line in self.stderr.splitlines() if line.startswith("@@STAGE ")]
        return stages[-1][len("@@STAGE ") :] if stages else ""

    def entry(self, name: str = "loads") -> dict[str, Any]:
        if not self.report:
            return {}
        return dict(self.report["runs"].get(name, {}))

    def kind(self, name: str = "loads") -> str:
        """refused, loaded, crash, hang, memory, error (another exception) or no-result."""
        if self.returncode is None:
            return "hang"  # the wall-clock guard killed it
        if self.returncode < 0:
            sig = -self.returncode
            if sig in (signal.SIGXCPU, signal.SIGKILL):
                return "hang"
            return "crash"
        run = self.entry(name)
        if not run:
            if "MemoryError" in self.stderr:
                return "memory"
            return "no-result"
        error = run.get("error")
        if error is None:
            if "scan" in run:
                return "loaded" if run["scan"]["status"] == "clean" else "refused"
            return "loaded"
        if "MemoryError" in (error["class"], error.get("cause")):
            return "memory"  # an ExecutionError wrapping one too: the limit was the rlimit
        return "refused" if error["safepickle"] else "error"

    def error_mro(self, name: str = "loads") -> list[str]:
        run = self.entry(name)
        if "scan" in run:
            return list(run["scan"]["mro"])
        return list((run.get("error") or {}).get("mro", ()))

    def equal_to_plain(self, name: str = "loads") -> bool | None:
        run = self.entry(name)
        if "fingerprint" not in run or not self.report:
            return None
        return run["fingerprint"] == self.report.get("plain_fingerprint")

    def summary(self, name: str = "loads") -> str:
        """One line: what happened, how long it took, how much memory."""
        kind = self.kind(name)
        run = self.entry(name)
        if kind == "crash":
            what = f"crash ({signal.Signals(-int(self.returncode or 0)).name})"
            if self.stage:
                what += f" after '{self.stage}'"
        elif kind == "hang":
            what = "hang (CPU-time limit)" if self.returncode is not None else "hang (wall guard)"
        elif "scan" in run:
            verdict = run["scan"]
            what = f"scanner: {verdict['status']}" + (
                f" ({verdict['mro'][0]})" if verdict["mro"] else ""
            )
        elif kind in ("refused", "error", "memory") and run.get("error"):
            error = run["error"]
            what = f"{kind}: {error['class']}: {error['message'][:160]}"
        elif kind == "loaded":
            equal = self.equal_to_plain(name)
            what = "loaded" + ("" if equal is None else (" (= pickle)" if equal else " (DIFFERS)"))
        else:
            what = f"{kind}: {self.stderr.strip()[-200:]}"
        seconds = run.get("seconds")
        timing = f"{seconds:.2f} s" if seconds is not None else f"{self.wall:.1f} s wall"
        return f"{what}; {timing}; peak {self.peak / 1e6:.0f} MB"


def child_environment(root: Path | None = None, pure_python: bool = False) -> dict[str, str]:
    """The environment of a child: ``root`` (the checkout) first on the path, then the
    site-packages (``-S`` skips the site hooks, editable-install finders included)."""
    root = root or Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEPICKLE_")}
    paths = [str(root), *site.getsitepackages(), site.getusersitepackages()]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("PYTHONSTARTUP", None)
    if pure_python:
        env["SAFEPICKLE_PURE_PYTHON"] = "1"
    return env


def child_verifier(root: Path | None = None, pure_python: bool = False) -> str:
    """``safepickle.verify.IMPLEMENTATION`` as a child sees it: ``"c"`` or ``"python"``."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", "import safepickle.verify as v; print(v.IMPLEMENTATION)"],
        env=child_environment(root, pure_python),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def run_payload(
    data: bytes,
    *,
    modules: tuple[str, ...] = (),
    entry_points: tuple[str, ...] = ("loads",),
    compare: bool = False,
    hash_result: bool = False,
    stack_size: int = 0,
    pure_python: bool = False,
    cpu_seconds: int = CPU_SECONDS,
    address_space: int = ADDRESS_SPACE,
    wall_seconds: float = 240.0,
    root: Path | None = None,
) -> Outcome:
    """Load ``data`` in a fresh interpreter (``-S``: no site hooks pre-importing modules) in a
    fresh temporary directory, under the resource limits; report what happened."""
    root = root or Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="hostile-round2-") as directory:
        path = Path(directory) / "payload.pickle"
        path.write_bytes(data)
        spec = {
            "path": str(path),
            "modules": list(modules),
            "entry_points": list(entry_points),
            "compare": compare,
            "hash": hash_result,
            "stack_size": stack_size,
            "cpu_seconds": cpu_seconds,
            "address_space": address_space,
        }
        env = child_environment(root, pure_python)
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-S", "-c", RUNNER, json.dumps(spec)],
                cwd=directory,
                env=env,
                capture_output=True,
                text=True,
                timeout=wall_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            return Outcome(None, None, stderr, time.perf_counter() - started, len(data))
        wall = time.perf_counter() - started
        report = None
        for line in done.stdout.splitlines():
            if line.startswith("@@RESULT "):
                report = json.loads(line[len("@@RESULT ") :])
        canary = (Path(directory) / "CANARY").exists()
        stderr = done.stderr if len(done.stderr) <= 8000 else done.stderr[-8000:]
        return Outcome(done.returncode, report, stderr, wall, len(data), canary)
