"""The bounds the verifier puts on what a stream *builds*: depth, hash work, allocation, frames.

Each hostile stream here is hand-assembled and small; the same classes at 1-10 MB are in
``tests/test_hostile_round2.py`` (in subprocesses) and ``benchmarks/adversarial.py``. Every
verdict is checked with both verifiers (``verify_both``): the compiled pass may only accept what
the Python pass accepts, with the same result.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import safepickle
from safepickle import LimitExceeded, Limits, MalformedPickle
from safepickle._nodes import Node, Tally, graph_depth
from safepickle.verify import Verified, _c_fast_verify, _verify_with

DEFAULT = Limits()
HAVE_C = _c_fast_verify is not None  # built (py3-pure builds it too, and switches it off)
P = 2**61 - 1  # CPython's hash modulus for ints


def verify_both(data: bytes, limits: Limits = DEFAULT) -> Verified:
    """The Python pass's verdict; the compiled pass must agree or bail."""
    expected = _verify_with("python", data, limits=limits)
    compiled = _verify_with("c", data, limits=limits)
    assert compiled is None or compiled == expected
    return expected


def refused_by_both(data: bytes, limit: str, limits: Limits = DEFAULT) -> None:
    with pytest.raises(LimitExceeded) as python:
        _verify_with("python", data, limits=limits)
    assert python.value.limit == limit
    # the compiled pass refuses it the same way, or leaves it to the Python pass (or accepts
    # the opcodes, and verify() refuses the totals it returned)
    outcome: object
    try:
        outcome = _verify_with("c", data, limits=limits)
    except LimitExceeded as exc:
        outcome = exc.limit
    assert outcome in (None, limit), "the compiled pass accepted what the Python pass refuses"


def memoized_global(module: bytes, name: bytes, index: int) -> bytes:
    return b"c" + module + b"\n" + name + b"\nq" + bytes([index])


# --- depth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda n: b"\x80\x02)" + b"\x85" * n + b".",  # TUPLE1 of TUPLE1 of ...
        lambda n: b"\x80\x02N" + b"\x85" * n + b".",
        lambda n: b"\x80\x02" + b"]" * n + b"a" * (n - 1) + b".",  # APPEND chain
        lambda n: b"\x80\x02" + b"(" * n + b"t" * n + b".",  # MARK ... TUPLE
        lambda n: _slice_chain(n),  # noqa: PLW0108 (defined below)
    ],
    ids=["tuple1-of-empty", "tuple1-of-none", "append-chain", "mark-tuple", "slice-chain"],
)
def test_depth_past_max_depth_is_refused(make: Any) -> None:
    refused_by_both(make(DEFAULT.max_depth + 2), "max_depth")
    verify_both(make(DEFAULT.max_depth - 2))


def _deque_chain_out_of_order(count: int) -> bytes:
    """count deques made first (memoized), then each linked into the previous one through the
    memo: every link goes into a deque already inside another, so tracking at insertion time
    alone would see depth 2 everywhere."""
    out = [b"\x80\x02", memoized_global(b"collections", b"deque", 0)]
    for i in range(count):
        out.append(b"h\x00)Rr" + struct.pack("<I", i + 1) + b"0")
    out.append(b"j" + struct.pack("<I", 1))  # the head, left on the stack as the result
    for i in range(1, count):
        out.append(b"j" + struct.pack("<I", i) + b"j" + struct.pack("<I", i + 1) + b"a0")
    out.append(b".")
    return b"".join(out)


def test_a_chain_grown_out_of_order_through_the_memo_is_refused() -> None:
    data = _deque_chain_out_of_order(DEFAULT.max_depth + 10)
    refused_by_both(data, "max_depth")
    assert pickle.loads(_deque_chain_out_of_order(50))  # the shape is what it claims
    loaded = safepickle.loads(_deque_chain_out_of_order(50))
    links = 0
    while loaded:  # the last deque is empty
        loaded, links = loaded[0], links + 1
    assert links == 49


def test_a_cycle_counts_as_deep_as_it_is_long() -> None:
    """A ring of deques: the garbage collector frees it recursively, member by member."""
    count = DEFAULT.max_depth + 10
    data = _deque_chain_out_of_order(count)
    ring = data[:-1] + b"j" + struct.pack("<I", count) + b"j" + struct.pack("<I", 1) + b"a0."
    refused_by_both(ring, "max_depth")


def test_recursive_data_within_the_limit_loads() -> None:
    """Back references (a list holding itself, parent pointers) make late insertions: the
    depth then comes from the whole graph, and ordinary recursive data passes."""
    me: list[Any] = []
    me.append(me)
    tree: dict[str, Any] = {"children": []}
    for _ in range(200):
        tree["children"].append({"parent": tree, "children": [1, 2]})
    ring = collections.deque()
    ring.append([ring])
    for value in (me, tree, ring):
        for protocol in range(6):
            loaded = safepickle.loads(pickle.dumps(value, protocol))
            assert pickle.dumps(loaded, 4) == pickle.dumps(value, 4)


def _wrapper_chain(wrapper: bytes, inner: bytes, depth: int, *, build: bool) -> bytes:
    """``depth`` wrappers over one container each, then ``wrapper_{i-1}`` gets ``inner_i`` by
    APPEND (UserList, ``build``: BUILT with ``data``) or SETITEM (ChainMap over the inner): the
    wrapper passes the item on to its inner container, so the inner containers chain up
    though no opcode names one of them as a target."""
    out = [b"\x80\x04", inner, b"\x94", wrapper, b"\x94\x8c\x04data\x94"]  # memo 0, 1, 2
    for _ in range(depth):
        out.append(b"h\x00)R\x94")  # inner_i: memo 3 + i
    for i in range(depth):
        if build:
            out.append(b"h\x01)R}h\x02j" + struct.pack("<I", 3 + i) + b"sb\x94")
        else:
            out.append(b"h\x01j" + struct.pack("<I", 3 + i) + b"\x85R\x94")
        out.append(b"0")  # wrapper_i: memo 3 + depth + i
    for i in range(1, depth):
        out.append(b"j" + struct.pack("<I", 3 + depth + i - 1))
        if build:
            out.append(b"j" + struct.pack("<I", 3 + i) + b"a0")
        else:
            out.append(b"\x8c\x01kj" + struct.pack("<I", 3 + i) + b"s0")
    out.append(b"j" + struct.pack("<I", 3) + b".")
    return b"".join(out)


USERLIST = b"\x8c\x0bcollections\x8c\x08UserList\x93"
CHAINMAP = b"\x8c\x0bcollections\x8c\x08ChainMap\x93"
DEQUE = b"\x8c\x0bcollections\x8c\x05deque\x93"
DEFAULTDICT = b"\x8c\x0bcollections\x8c\x0bdefaultdict\x93"
PLAIN_DICT = b"\x8c\x08builtins\x8c\x04dict\x93"


@pytest.mark.parametrize(
    ("wrapper", "inner", "build", "levels"),
    [
        (USERLIST, DEQUE, True, 1),
        (CHAINMAP, PLAIN_DICT, False, 1),
        (CHAINMAP, DEFAULTDICT, False, 2),
    ],
    ids=["userlist-over-deques", "chainmap-over-dicts", "chainmap-over-defaultdicts"],
)
def test_depth_laundered_through_a_wrapper_is_counted(
    wrapper: bytes, inner: bytes, build: bool, levels: int
) -> None:
    """A mutation aimed at a wrapper lands in what it holds: the chain is as deep as the inner
    containers make it, and is refused past max_depth (freeing a 150,000-deep deque chain, or
    a 10,000-deep defaultdict one on a 1 MiB thread, crashes CPython)."""
    small = _wrapper_chain(wrapper, inner, 30, build=build)
    first = pickle.loads(small)
    loaded = safepickle.loads(small)
    assert pickle.dumps(loaded, 4) == pickle.dumps(first, 4)
    depth = DEFAULT.max_depth // levels + 10
    refused_by_both(_wrapper_chain(wrapper, inner, depth, build=build), "max_depth")
    verify_both(_wrapper_chain(wrapper, inner, DEFAULT.max_depth // levels - 10, build=build))


def test_a_defaultdict_level_counts_two() -> None:
    """defaultdict frees recursively in C without the trashcan dicts use: 6,500-7,000 levels
    crash a 1 MiB thread on CPython 3.12, so each level counts two of max_depth."""
    half = DEFAULT.max_depth // 2

    def chain(depth: int) -> bytes:
        # dd_0 'k' dd_1 'k' ... dd_n, then SETITEM n times: bottom-up, as pickle would nest
        # them (pickle.dumps itself recurses too deep to write one)
        new = b"h\x00)R"
        return (
            b"\x80\x04"
            + DEFAULTDICT
            + b"\x940"
            + (new + b"\x8c\x01k") * depth
            + new
            + b"s" * depth
            + b"."
        )

    refused_by_both(chain(half + 5), "max_depth")
    within = chain(half - 5)

    def run(outcome: list[object]) -> None:
        loaded = safepickle.loads(within)
        outcome.append(type(loaded))
        del loaded  # freed here, on the small stack

    assert _on_a_small_stack(run) == [collections.defaultdict]


def _on_a_small_stack(work: Callable[[list[object]], None]) -> list[object]:
    """What ``work`` appended to its list, run on a thread with a 1 MiB stack (an exception it
    raised last): a crash there is a crash of the test run."""
    outcome: list[object] = []

    def run() -> None:
        try:
            work(outcome)
        except BaseException as exc:  # reported by the caller's assertion
            outcome.append(exc)

    old = threading.stack_size(1 << 20)
    try:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old)
    return outcome


def test_aliased_items_that_reach_too_much_are_refused() -> None:
    """Thousands of ChainMaps over one dict of thousands of nested lists, each given a list:
    what each may have passed its item on to is walked once per ChainMap, so past a budget
    the stream is refused instead of walked quadratically."""
    out = [b"\x80\x04", CHAINMAP, b"\x94}\x94"]  # memo 0: ChainMap, 1: the shared dict
    for i in range(3000):  # d[i] = [[]]: a list that holds a node (no leaf)
        out.append(b"J" + struct.pack("<i", i) + b"]]as")
    out.append(b"0")
    for _ in range(3000):
        out.append(b"h\x00h\x01\x85R\x8c\x01x]s0")
    out.append(b"N.")
    with pytest.raises(LimitExceeded) as refused:
        _verify_with("python", b"".join(out), limits=DEFAULT)
    assert "reach too many" in str(refused.value)


@pytest.mark.skipif(not HAVE_C, reason="safepickle._speedups is not built here")
def test_the_compiled_pass_answers_late_insertions_and_memo_holes_itself() -> None:
    """What used to send a stream to the pure-Python pass (30 s for 10 MB of containers), an
    attacker's cheapest way to slow a load down: a list appended to itself (a late insertion,
    whose depth needs the whole graph), memo indexes written out of order, then a flood of
    empty containers. The compiled pass verifies it, and refuses a chain grown late past
    max_depth with the Python pass's own error."""
    flood = b"\x80\x04]q\x05h\x05a0](" + b"}" * 200_000 + b"e."
    compiled = _verify_with("c", flood, limits=DEFAULT)
    assert compiled is not None
    assert compiled == _verify_with("python", flood, limits=DEFAULT)
    deep = _deque_chain_out_of_order(DEFAULT.max_depth + 10)
    with pytest.raises(LimitExceeded) as refused:
        _verify_with("c", deep, limits=DEFAULT)
    assert refused.value.limit == "max_depth"


def test_graph_depth_counts_a_strongly_connected_group_by_its_size() -> None:
    a, b, c, d = Node(), Node(), Node(), Node()
    # a -> b <-> c -> d: the group {b, c} counts 2
    assert graph_depth([a, b, c, c], [b, c, b, d]) == 4
    assert graph_depth([], []) == 0
    tally = Tally(5, 10**9)
    leaf = tally.container([], 0)
    for _ in range(4):
        leaf = tally.tuple_of([leaf, leaf], 0)
    assert leaf.depth == 5
    with pytest.raises(LimitExceeded):
        tally.tuple_of([leaf], 0)


def test_max_depth_loads_in_a_thread_with_a_small_stack() -> None:
    """What max_depth admits is freed and hashed safely even with a 1 MiB thread stack: a
    chain of slices and a nested tuple used as a dict key."""
    depth = DEFAULT.max_depth - 2
    nested_key = b"\x80\x02}" + b")" + b"\x85" * depth + b"K\x01s."

    def run(outcome: list[object]) -> None:
        outcome.append(safepickle.loads(nested_key))
        # walked, not pickle.dumps'd: CPython 3.13's C pickler overflows a 1 MiB stack on
        # this chain (a segfault in the stdlib, not in safepickle)
        outcome.append(_slice_depth(safepickle.loads(_slice_chain(depth))))

    outcome = _on_a_small_stack(run)
    assert len(outcome) == 2, outcome
    assert isinstance(outcome[0], dict)
    assert outcome[1] == depth, outcome[1]


def _slice_depth(value: object) -> int:
    """How many slices are nested through ``stop`` (iteratively: no stack needed)."""
    depth = 0
    while isinstance(value, slice):
        value, depth = value.stop, depth + 1
    return depth


def _slice_chain(depth: int) -> bytes:
    """slice(slice(...slice(None)...)): the callable ``depth`` times (memoized once), then
    None, then ``depth`` calls, each on a 1-tuple of the level below."""
    callables = memoized_global(b"__builtin__", b"slice", 0) + b"h\x00" * (depth - 1)
    return b"\x80\x02" + callables + b"N" + b"\x85R" * depth + b"."


# --- hash work ----------------------------------------------------------------------------


def _doubling_tuple(doublings: int) -> bytes:
    """t = (t, t), ``doublings`` times: 2**doublings leaves after a few bytes a level."""
    return b"\x80\x02)" + b"2\x86" * doublings


@pytest.mark.parametrize(
    ("wrap", "why"),
    [
        (lambda t: b"\x80\x02}" + t[2:] + b"K\x01s.", "dict key (SETITEM)"),
        (lambda t: b"\x80\x02}(" + t[2:] + b"K\x01u.", "dict key (SETITEMS)"),
        (lambda t: b"\x80\x02(" + t[2:] + b"K\x01d.", "dict key (DICT)"),
        (lambda t: b"\x80\x04\x8f(" + t[2:] + b"\x90.", "set member (ADDITEMS)"),
        (lambda t: b"\x80\x04(" + t[2:] + b"\x91.", "frozenset member"),
    ],
    ids=["setitem", "setitems", "dict", "additems", "frozenset"],
)
def test_hashing_an_unfolded_giant_is_refused(wrap: Any, why: str) -> None:
    refused_by_both(wrap(_doubling_tuple(40)), "max_hash_work")
    small = wrap(_doubling_tuple(8))
    assert safepickle.loads(small) == pickle.loads(small), why


def test_hash_work_adds_up_over_many_keys() -> None:
    """Each key under the bound, their sum over it: the budget is per load."""
    key = _doubling_tuple(16)[2:] + b"q\x00"  # 65,536 leaves, memoized
    data = b"\x80\x02}(" + key + b"K\x01" + b"h\x00K\x01" * 1000 + b"u."
    refused_by_both(data, "max_hash_work")


def _long4(nbytes: int) -> bytes:
    value = (1 << (8 * nbytes - 2)) + 12345
    raw = value.to_bytes(nbytes, "little", signed=True)
    return b"\x8b" + struct.pack("<i", nbytes) + raw


_BIG = 400_000  # bytes: hashing it takes about 0.3 ms, every time (ints cache no hash)


@pytest.mark.parametrize(
    "data",
    [
        # d[big] = None, then 100,000 more times through the memo
        b"\x80\x04}\x94" + _long4(_BIG) + b"\x94Ns" + b"h\x01Ns" * 100_000 + b".",
        # {(big,), (big,), ...}: a tuple hashes its items
        b"\x80\x04\x8f\x94(" + _long4(_BIG) + b"\x94\x85" + b"h\x01\x85" * 100_000 + b"\x90.",
        # frozenset([big, big, ...]) through the FROZENSET opcode
        b"\x80\x04(" + _long4(_BIG) + b"\x94" + b"h\x00" * 100_000 + b"\x91.",
        # protocol 0: a 4,000-digit LONG (1.7 KB) as a key, 300,000 times
        b"(dp0\nL" + b"9" * 4000 + b"L\np1\nNs" + b"g1\nNs" * 300_000 + b".",
    ],
    ids=["long4-setitem", "long4-in-tuples", "long4-frozenset", "text-long-setitem"],
)
def test_a_big_int_is_charged_its_size_each_time_it_is_hashed(data: bytes) -> None:
    """A big int used as a key again and again: the work is in its size, not the key count.
    (The protocol-0 one is longer than max_slow_path_bytes lets the Python pass read.)"""
    refused_by_both(data, "max_hash_work", Limits(max_slow_path_bytes=len(data)))


def test_big_ints_as_keys_load() -> None:
    value = {(1 << 5000) + i: i for i in range(20)} | {-(10**1000): (1 << 3000,)}
    for protocol in range(6):
        assert safepickle.loads(pickle.dumps(value, protocol)) == value


# --- allocation ---------------------------------------------------------------------------


def test_the_estimate_bounds_what_a_load_allocates() -> None:
    """A stream of plain data is estimated above what loading it really takes."""
    import tracemalloc

    value = [{"a": i, "b": (i, str(i)), "c": [i, {i}]} for i in range(20_000)]
    data = pickle.dumps(value, 4)
    verified = verify_both(data)
    tracemalloc.start()
    loaded = safepickle.loads(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert loaded == value
    assert peak < verified.estimated_bytes


@pytest.mark.parametrize(
    "opcodes",
    [b"\x8f", b"}", b"]", b")\x85", b"N2\x86"],
    ids=["empty-set", "empty-dict", "empty-list", "tuple1", "dup-tuple2"],
)
def test_floods_of_cheap_objects_are_refused(opcodes: bytes) -> None:
    """Objects made from a byte or two each, kept alive in batches: 100x the stream's size
    at most (or result_bytes_floor), whatever the opcode."""
    limits = Limits(result_bytes_floor=1 << 20, max_result_ratio=20)
    batch = b"(" + opcodes * 1000 + b"e"
    data = b"\x80\x04]" + batch * 200 + b"."
    refused_by_both(data, "max_result_bytes", limits)
    verify_both(b"\x80\x04]" + batch * 2 + b".", limits)


def test_a_memo_index_far_past_the_entries_is_charged() -> None:
    """CPython sizes its memo table by the largest index: 10 bytes asking for 160 MB."""
    data = b"\x80\x02Nr" + struct.pack("<I", 9_999_999) + b"."
    refused_by_both(data, "max_result_bytes")


def test_build_copies_of_one_shared_state_are_charged() -> None:
    """One big state dict, memoized, BUILT into many objects: each BUILD copies its items."""
    state = b"}q\x01(" + b"".join(b"X\x01\x00\x00\x00" + bytes([i]) + b"N" for i in range(100))
    state += b"u"
    obj = b"h\x00)\x81h\x01b0"  # copyreg's NEWOBJ of the class, then BUILD with the state
    data = (
        b"\x80\x02"
        + memoized_global(b"sample_classes", b"Plain", 0)
        + state
        + b"0"
        + obj * 20_000
        + b"N."
    )
    refused_by_both(data, "max_result_bytes", Limits(result_bytes_floor=1 << 20))


# --- frames -------------------------------------------------------------------------------


def _framed(body: bytes, frame_size: int | None = None) -> bytes:
    size = len(body) if frame_size is None else frame_size
    return b"\x80\x04\x95" + struct.pack("<Q", size) + body


@pytest.mark.parametrize(
    "data",
    [
        # BINUNICODE whose payload runs past the frame's end
        _framed(b"X\x05\x00\x00\x00hello.", 6),
        # BININT whose argument runs past the frame's end
        _framed(b"J\x01\x00\x00\x00.", 3),
        # a protocol-0 line past the frame's end
        _framed(b"I12345\n.", 4),
        # a FRAME inside a frame that still has bytes
        _framed(b"\x95" + struct.pack("<Q", 2) + b"N.N.", 13),
    ],
    ids=["payload-crosses", "argument-crosses", "line-crosses", "frame-in-frame"],
)
def test_an_opcode_crossing_its_frame_is_refused(data: bytes) -> None:
    with pytest.raises(MalformedPickle, match="frame") as python:
        _verify_with("python", data, limits=DEFAULT)
    # the compiled pass refuses it too, or leaves it to Python (a protocol-0 line)
    compiled: object
    try:
        compiled = _verify_with("c", data, limits=DEFAULT)
    except MalformedPickle as exc:
        compiled = str(exc)
    assert compiled in (None, str(python.value))
    with pytest.raises(MalformedPickle):
        safepickle.loads(data)
    with pytest.raises(MalformedPickle):
        safepickle.load(io.BytesIO(data))
    with pytest.raises(pickle.UnpicklingError):
        pickle._Unpickler(io.BytesIO(data)).load()  # type: ignore[attr-defined]


def test_frames_as_pickle_writes_them_load() -> None:
    """Many frames, a frame ending exactly where the next begins, bytes after STOP inside the
    last frame, and a FRAME as the last opcode of a frame (the pure-Python unpickler's rule)."""
    value = [str(i) * 50 for i in range(5_000)]
    for protocol in (4, 5):
        data = pickle.dumps(value, protocol)
        assert verify_both(data).framed
        assert safepickle.loads(data) == value
    trailing = _framed(b"N.garbage")
    assert safepickle.loads(trailing) is None
    nested_at_end = _framed(b"\x95" + struct.pack("<Q", 2) + b"N.", 9)
    assert pickle._Unpickler(io.BytesIO(nested_at_end)).load() is None  # type: ignore[attr-defined]
    assert safepickle.loads(nested_at_end) is None


# --- hash flooding --------------------------------------------------------------------------


def _colliding_int_dict(count: int, via: bytes) -> bytes:
    """``count`` distinct ints with one hash value (k + i * (2**61 - 1)) as keys."""
    keys = [pickle.dumps(5 + i * P, 2)[2:-1] for i in range(count)]
    if via == b"u":
        return b"\x80\x02}(" + b"".join(k + b"N" for k in keys) + b"u."
    if via == b"d":
        return b"\x80\x02(" + b"".join(k + b"N" for k in keys) + b"d."
    if via == b"s":
        return b"\x80\x02}" + b"".join(k + b"Ns" for k in keys) + b"."
    return b"\x80\x04\x8f(" + b"".join(keys) + b"\x90."


@pytest.mark.parametrize(
    "via", [b"u", b"d", b"s", b"\x90"], ids=["setitems", "dict", "setitem", "additems"]
)
def test_colliding_keys_are_refused_not_quadratic(via: bytes) -> None:
    data = _colliding_int_dict(3_000, via)
    verified = verify_both(data)
    assert verified.unknown_hash_keys == 2_999  # 5 itself hashes to itself
    with pytest.raises(LimitExceeded) as refused:
        safepickle.loads(data)
    assert refused.value.limit == "max_hash_collisions"
    few = _colliding_int_dict(40, via)
    assert safepickle.loads(few) == pickle.loads(few)


def test_many_uuid_keys_load_through_the_guarded_path() -> None:
    """Benign keys whose hashes a stream could choose: many of them take the guarded path,
    and load equal."""
    value = {uuid.UUID(int=i * 7919 + 3): i for i in range(3_000)}
    for protocol in (2, 5):
        data = pickle.dumps(value, protocol)
        assert safepickle.loads(data) == value
