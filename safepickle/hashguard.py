"""Hashing attacker-chosen keys in bounded time: hash cost and hash flooding.

Two ways a pickle makes CPython hash for longer than its size suggests:

* **Work hidden in one hash.** ``hash(t)`` of a tuple hashes every item, recursively, in C,
  with no interruption: a tuple built from itself with ``DUP``/memo references has ``2**n``
  leaves after ``n`` opcodes, so hashing 60 bytes of pickle never ends. :func:`hash_cost`
  counts, without hashing, how many objects a hash of a key visits, unfolded through tuples
  (and slices, ranges, UUIDs, Fractions, whose hashes read their parts). Its own cost does not
  follow the unfolded count: ordinary keys are counted in bulk C passes, and past a small
  budget a container met several times is counted once (memoized), so refusing the
  ``2**n``-leaf tuple takes ``n`` steps.
* **Hash flooding.** Hashes of ``int``, ``float``, ``complex``, ``tuple``, ``frozenset``,
  ``Decimal``, ``Fraction``, ``UUID`` ... are not randomized: ``k`` and ``k + 2**61 - 1`` hash
  alike, so ``n`` distinct colliding keys make building a set or dict quadratic.
  :func:`check_collisions` refuses more than ``max_hash_collisions`` distinct keys with one
  hash value, in one C-speed counting pass (it compares keys only for the hash values whose
  count is over the limit, and against at most ``limit + 1`` representatives).

The public API, used by the standard-library plugin's narrowed constructors
(``set(x)``, ``dict(x)``, ``Counter(x)`` ...) and reusable by any code that builds a set or
dict from untrusted keys:

* :func:`hash_cost` (``key``, ``limit``) -> units, or :class:`~safepickle.LimitExceeded`
  (``limit="max_hash_work"``);
* :func:`check_collisions` (``keys``, ``limit``) -> None, or ``LimitExceeded``
  (``limit="max_hash_collisions"``);
* :class:`CollisionCounter`, the same check one key at a time (a container built item by
  item);
* :func:`guard_keys` (``keys``, ``what``): both checks against the executing load's budget
  (:mod:`safepickle.budget`), or the default :class:`~safepickle.Limits` outside a load; the
  hash work is charged to the budget.

A unit is one object hashed (one tuple item), plus one per 256 bits of an int (hashing an int
is linear in its size and never cached). The hash of a ``str``, ``bytes`` or ``frozenset`` is
cached in the object after its first computation: a string counts one unit, a frozenset its
length once per walk (its hash combines the cached hashes of its items, it never rehashes
them). Objects of other types count one unit: their ``__hash__`` is the class's own code,
which the policy allowed.
"""

from __future__ import annotations

import array
import decimal
import fractions
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from itertools import chain, compress, islice, repeat
from operator import attrgetter, is_
from typing import Any

from . import budget
from .errors import LimitExceeded
from .limits import Limits

__all__ = ["CollisionCounter", "check_collisions", "guard_keys", "hash_cost"]

_DEFAULTS = Limits()
#: ``hash(k) == hash(k + _MODULUS)`` for every int k: CPython reduces ints modulo this prime
_MODULUS = sys.hash_info.modulus
#: at most this many distinct ints of 64 bits (``array('q')``) share one hash value: 2**64
#: spans nine multiples of the modulus, and -1 hashes as -2
_INT64_PER_HASH = 2 * ((1 << 64) // _MODULUS + 1)
#: objects materialised at once while walking; bounds the walk's memory by depth x chunk
_CHUNK = 1024
#: the unfolded walk's budget before the memoized one takes over: per key, and in all
_QUICK_PER_ROOT = 64
_QUICK_UNITS = 1 << 18
#: bits of an int that cost one more unit to hash (measured: ~2.5 ns per 30-bit digit, about
#: what hashing one small object costs per 256 bits)
_INT_UNIT_SHIFT = 8

# How hashing an object of a type reaches other objects. Decided once per type; a subclass
# that overrides __hash__ is the class's own (allowed) code and counts as a leaf.
_LEAF = 0
_ITEMS = 1  # tuple: hashes every item
_INT = 2  # int: linear in its size
_FROZENSET = 3  # the first hash reads every (cached) item hash; then cached
_PARTS = 4  # hashes a few attributes: slice, range, UUID, Fraction

#: types whose hashes are salted per process (SipHash), so collisions cannot be chosen
_RANDOMIZED = frozenset({str, bytes})
#: containers whose items are one-character strings or ints below 256: one unit each, and no
#: two distinct items share a hash value
_ITEMS_CANNOT_COLLIDE = frozenset({str, bytes, bytearray})
#: types whose hash is O(1) (or cached), with no parts to walk
_FLAT = frozenset({str, bytes, float, complex, bool, type(None), decimal.Decimal})

_rules: dict[type, tuple[int, Callable[[Any], tuple[Any, ...]] | None]] = {}


def _parts_of_uuid(value: Any) -> tuple[Any, ...]:
    # UUID.__hash__ is hash(self.int); BUILD may have set .int to anything, or nothing
    try:
        return (object.__getattribute__(value, "int"),)
    except AttributeError:
        return ()


def _rule(kind: type) -> tuple[int, Callable[[Any], tuple[Any, ...]] | None]:
    rule = _rules.get(kind)
    if rule is not None:
        return rule
    hasher = getattr(kind, "__hash__", None)
    parts: Callable[[Any], tuple[Any, ...]] | None = None
    if issubclass(kind, tuple) and hasher is tuple.__hash__:
        found = _ITEMS
    elif issubclass(kind, int) and hasher is int.__hash__:
        found = _INT
    elif issubclass(kind, frozenset) and hasher is frozenset.__hash__:
        found = _FROZENSET
    elif kind is slice or kind is range:  # hash((start, stop, step)) and hash((len, ...))
        found, parts = _PARTS, attrgetter("start", "stop", "step")
    elif issubclass(kind, fractions.Fraction) and hasher is fractions.Fraction.__hash__:
        found, parts = _PARTS, attrgetter("_numerator", "_denominator")
    elif _is_uuid(kind, hasher):
        found, parts = _PARTS, _parts_of_uuid
    else:
        found = _LEAF
    if len(_rules) < 4096:  # bounded: classes can be created at run time
        _rules[kind] = (found, parts)
    return found, parts


def _is_uuid(kind: type, hasher: object) -> bool:
    uuid = sys.modules.get("uuid")  # never imported here: a UUID exists only if it is
    return uuid is not None and issubclass(kind, uuid.UUID) and hasher is uuid.UUID.__hash__


def _over(limit: int, what: str) -> LimitExceeded:
    return LimitExceeded(
        f"{what} would hash more than max_hash_work={limit:,} objects (counted unfolded: a "
        "tuple built from shared references hashes every path through it); if you trust this "
        "input, raise it: Policy(limits=Limits(max_hash_work=...))",
        limit="max_hash_work",
        maximum=limit,
    )


def _int_units(members: list[Any]) -> int:
    """The units ints cost beyond one each (one per 256 bits), in one C pass when all are
    small."""
    if max(map(int.bit_length, members)) >> _INT_UNIT_SHIFT == 0:
        return 0
    return sum(bits >> _INT_UNIT_SHIFT for bits in map(int.bit_length, members))


def _of_kind(chunk: list[Any], kind: type, kinds: set[type]) -> list[Any]:
    if len(kinds) == 1:
        return chunk
    return list(compress(chunk, map(is_, map(type, chunk), repeat(kind))))


def _two_levels(roots: Collection[object], limit: int) -> int | None:
    """What hashing ``roots`` costs when they are scalars and tuples of scalars (most keys),
    counted in a few C passes; None when anything else is among them. Past ``limit`` it
    returns early, with a count past ``limit``: every item of every tuple costs a unit."""
    kinds = set(map(type, roots))
    if kinds <= _FLAT:
        return len(roots)
    if not kinds <= _FLAT | {int, tuple}:
        return None
    listed = roots if type(roots) is list else list(roots)
    cost = len(listed)
    if int in kinds:
        cost += _int_units(_of_kind(listed, int, kinds))
    if tuple in kinds:
        tuples = _of_kind(listed, tuple, kinds)
        cost += sum(map(len, tuples))  # before iterating them: all may be one huge tuple
        if cost > limit:
            return cost
        below = set(map(type, chain.from_iterable(tuples)))
        if not below <= _FLAT | {int}:
            return None
        if int in below:
            flags = map(is_, map(type, chain.from_iterable(tuples)), repeat(int))
            cost += _int_units(list(compress(chain.from_iterable(tuples), flags)))
    return cost


def _walk(roots: Collection[object], limit: int, what: str, maximum: int) -> int:
    """Units hashing every root costs; raises as soon as they pass ``limit``.

    Scalars and tuples of scalars are counted in bulk; other shapes are walked unfolded, at C
    speed, within a budget proportional to the number of roots (ordinary keys are a few
    objects each); past it, counted again per distinct container (:func:`_walk_shared`), so
    a graph of ``n`` tuples with ``2**n`` paths costs ``n`` steps to refuse, not ``limit``.
    """
    if len(roots) <= limit:
        cost = _two_levels(roots, limit)
        if cost is not None:
            if cost > limit:
                raise _over(maximum, what)
            return cost
    quick = min(limit, _QUICK_UNITS + _QUICK_PER_ROOT * len(roots))
    cost = _walk_unfolded(roots, quick)
    if cost is not None:
        return cost
    if quick >= limit:
        raise _over(maximum, what)
    return _walk_shared(roots, limit, what, maximum)


def _walk_unfolded(roots: Iterable[object], budget: int) -> int | None:
    """The units, or None past ``budget``. Depth first over chunks of at most ``_CHUNK``
    objects, each chunk sorted by type with C iterators (``compress``/``chain``): a million
    flat tuples cost a few C passes, not a million Python steps; memory is a chunk per level
    of nesting."""
    cost = 0
    counted: set[int] = set()  # frozensets whose (then cached) hash was counted
    stack: list[Iterator[object]] = [iter(roots)]
    while stack:
        chunk = list(islice(stack[-1], _CHUNK))
        if not chunk:
            stack.pop()
            continue
        cost += len(chunk)
        if cost > budget:
            return None
        kinds = set(map(type, chunk))
        if kinds <= _FLAT:
            continue
        for kind in kinds - _FLAT:
            rule, parts = _rule(kind)
            if rule == _LEAF:
                continue
            members = _of_kind(chunk, kind, kinds)
            if rule == _INT:
                cost += _int_units(members)
            elif rule == _FROZENSET:
                fresh = dict(zip(map(id, members), members, strict=True))
                for ident in fresh.keys() - counted:
                    cost += len(fresh[ident])
                counted.update(fresh)
            elif rule == _ITEMS:
                stack.append(chain.from_iterable(members))
            else:
                assert parts is not None
                stack.append(chain.from_iterable(map(parts, members)))
        if cost > budget:
            return None
    return cost


def _walk_shared(roots: Collection[object], limit: int, what: str, maximum: int) -> int:
    """The same count, memoized per distinct container: a container's hash costs one unit
    plus what its parts cost, computed once (post-order, iteratively) however often it is
    met. The parts of a container are counted by kind in C passes (a tuple of a million
    flat pairs is a few passes); only containers of containers are visited one by one. A
    container that contains itself (a UUID whose ``int`` a BUILD set to that UUID) counts
    one unit there: hashing it recurses in Python and fails at the recursion limit."""
    memo: dict[int, int] = {}
    open_: set[int] = set()
    counted: set[int] = set()
    extra = 0  # first hashes of frozensets, once each

    def parts_of(node: Any) -> tuple[Any, ...]:
        rule, parts = _rule(type(node))
        if rule == _ITEMS:
            return node  # type: ignore[no-any-return]
        assert parts is not None
        return parts(node)

    def level(items: Collection[Any]) -> tuple[int, list[Any]]:
        """What ``items`` cost, and the containers among them not counted yet."""
        nonlocal extra
        kinds = set(map(type, items))
        cost = len(items)
        if kinds <= _FLAT:
            return cost, []
        pending: list[Any] = []
        listed = items if type(items) is list else list(items)
        for kind in kinds - _FLAT:
            rule = _rule(kind)[0]
            if rule == _LEAF:
                continue
            members = _of_kind(listed, kind, kinds)
            if rule == _INT:
                cost += _int_units(members)
                continue
            if rule == _FROZENSET:
                for value in members:
                    if id(value) not in counted:
                        counted.add(id(value))
                        extra += len(value)
                continue
            if rule == _ITEMS:
                inside = sum(map(len, members))  # each item costs a unit at least
                if cost + inside > limit:
                    raise _over(maximum, what)
                below = set(map(type, chain.from_iterable(members)))
                if below <= _FLAT | {int}:  # tuples of scalars: their items, in C
                    cost += inside
                    if int in below:
                        flags = map(is_, map(type, chain.from_iterable(members)), repeat(int))
                        cost += _int_units(list(compress(chain.from_iterable(members), flags)))
                    continue
            for member in members:  # containers of containers: one by one, memoized
                found = memo.get(id(member))
                if found is None:
                    if id(member) not in open_:
                        pending.append(member)
                        continue
                    found = 1  # a cycle through member
                cost += found - 1  # its own unit is counted above
            if cost > limit:
                raise _over(maximum, what)
        return cost, pending

    while True:
        total, pending = level(roots)
        if total + extra > limit:
            raise _over(maximum, what)
        if not pending:
            return total + extra
        stack = pending
        while stack:
            node = stack[-1]
            ident = id(node)
            if ident in memo:
                stack.pop()
                continue
            open_.add(ident)
            own, waiting = level(parts_of(node))
            if waiting:
                stack.extend(waiting)
                continue
            memo[ident] = own + 1
            open_.discard(ident)
            stack.pop()


def hash_cost(key: object, limit: int) -> int:
    """The units ``hash(key)`` costs, counting ``key`` itself; :class:`~safepickle.LimitExceeded`
    (``limit="max_hash_work"``) as soon as the count passes ``limit``. Never hashes ``key``.

    >>> hash_cost((1, "a", (2.5, None)), 100)
    6
    """
    return _walk((key,), limit, "hashing this key", limit)


def _collides(keys: Collection[object], limit: int, what: str) -> None:
    if len(set(map(hash, keys))) == len(keys):
        return  # no two keys share a hash value (the common case; a set is cheaper to build)
    counts = Counter(map(hash, keys))
    crowded = {value for value, count in counts.items() if count > limit}
    if not crowded:
        return
    # Many keys share these hash values: equal keys (duplicates are fine) or distinct
    # colliding ones. Compare each against the distinct keys met so far for its value; the
    # set build would do the same comparisons, and stopping at limit + 1 bounds them.
    seen: dict[int, list[object]] = {value: [] for value in crowded}
    for key in keys:
        distinct = seen.get(hash(key))
        if distinct is not None and key not in distinct:
            distinct.append(key)
            if len(distinct) > limit:
                raise LimitExceeded(
                    f"{what} has more than max_hash_collisions={limit:,} distinct keys with "
                    "one hash value, which makes building a set or dict quadratic (hashes of "
                    "ints, floats, tuples, Decimals ... are not randomized); if you trust this "
                    "input, raise it: Policy(limits=Limits(max_hash_collisions=...))",
                    limit="max_hash_collisions",
                    maximum=limit,
                )


def check_collisions(keys: Collection[object], limit: int) -> None:
    """Refuse (:class:`~safepickle.LimitExceeded`, ``limit="max_hash_collisions"``) more than
    ``limit`` distinct keys sharing one hash value.

    ``keys`` is iterated (and hashed) once more, twice when some hash value is crowded: pass a
    collection, and check its :func:`hash_cost` first. Not quadratic: hash values are counted
    in C; keys are compared only for values counted more than ``limit`` times, each against at
    most ``limit + 1`` distinct representatives.
    """
    _collides(keys, limit, "this collection of keys")


def _small_ints(keys: Collection[object], limit: int) -> bool:
    """Whether every key is an int of at most 64 bits, checked in one C pass: such keys cost
    one unit each and at most ``_INT64_PER_HASH`` of them share a hash value."""
    if limit < _INT64_PER_HASH:
        return False
    if type(keys) is bytes or type(keys) is bytearray:
        return True  # ints below 256 (array("q", b) would read them as machine words)
    try:
        array.array("q", keys)  # type: ignore[type-var]
    except (TypeError, OverflowError, ValueError):
        return False
    return True


def guard_keys(keys: Collection[object], what: str) -> None:
    """Check that hashing every key of ``keys`` (as ``set(keys)``, ``dict.fromkeys(keys)``
    would) is bounded, and charge its work to the executing load's budget.

    Refuses, with :class:`~safepickle.LimitExceeded`, keys whose hashing would pass the
    budget's remaining ``max_hash_work`` and more than ``max_hash_collisions`` distinct keys
    with one hash value. Outside a load the default :class:`~safepickle.Limits` apply to this
    call alone. ``what`` names the operation in the error ("set(...)").

    The common cases stay close to the cost of building the set: ints of up to 64 bits are
    recognised in one C pass (they cannot flood), strings and bytes (randomized hashes) in
    another; only keys with structure (tuples, frozensets, big ints ...) are walked.
    """
    active = budget.active()
    if active is not None:
        left, maximum, limit = active.hash_left, active.max_hash_work, active.max_hash_collisions
    else:
        left = maximum = _DEFAULTS.max_hash_work
        limit = _DEFAULTS.max_hash_collisions
    count = len(keys)
    if count > left:
        raise _over(maximum, what)
    if count and type(keys) not in _ITEMS_CANNOT_COLLIDE and not _small_ints(keys, limit):
        kinds = set(map(type, keys))
        units = count if kinds <= _FLAT else _walk(keys, left, what, maximum)
        if not kinds <= _RANDOMIZED:
            _collides(keys, limit, what)
            units += count  # the check hashed every key once more
        count = units
    budget.charge_hash_work(count, what)


class CollisionCounter:
    """:func:`check_collisions` one key at a time, for containers built item by item.

    ``add(container_id, key)`` counts ``key`` for the container identified by ``container_id``
    (any hashable; ``id(container)`` while it is alive) and raises
    :class:`~safepickle.LimitExceeded` when more than ``limit`` distinct keys of that container
    share one hash value. It keeps one entry per (container, hash value) and at most
    ``limit + 1`` distinct keys per entry, and does not store the keys whose hashes cannot be
    chosen: str and bytes (randomized), and ints below the hash modulus, of which at most two
    share a hash value with anything (``hash(s) == s``; ``-1`` and ``-2`` both hash as -2),
    so with a limit of 3 or more a value is refused when more than ``limit - 2`` other
    distinct keys share it. It does not check hash cost: call :func:`hash_cost` first.
    """

    __slots__ = ("_groups", "_slack", "limit")

    def __init__(self, limit: int | None = None) -> None:
        self.limit = _DEFAULTS.max_hash_collisions if limit is None else limit
        self._slack = 2 if self.limit >= 3 else 0  # small ints not stored
        self._groups: dict[tuple[object, int], object] = {}

    def add(self, container_id: object, key: object) -> None:
        kind = type(key)
        if kind is str or kind is bytes:
            return
        if self._slack and kind is int and -_MODULUS < key < _MODULUS:  # type: ignore[operator]
            return
        group = (container_id, hash(key))
        found = self._groups.get(group, _NONE)
        if found is _NONE:
            self._groups[group] = key  # the common case: one key per hash value
            return
        if type(found) is _Distinct:
            distinct: list[object] = found
        else:
            if found is key or found == key:
                return
            distinct = _Distinct((found,))
            self._groups[group] = distinct
        if key not in distinct:
            distinct.append(key)
            if len(distinct) + self._slack > self.limit:
                raise LimitExceeded(
                    f"more than max_hash_collisions={self.limit:,} distinct keys of one "
                    "container may share a hash value, which makes building it quadratic; if "
                    "you trust this input, raise it: "
                    "Policy(limits=Limits(max_hash_collisions=...))",
                    limit="max_hash_collisions",
                    maximum=self.limit,
                )

    def forget(self, container_id: object) -> None:
        """Drop what was counted for one container (it is complete, or gone)."""
        for group in [group for group in self._groups if group[0] == container_id]:
            del self._groups[group]


class _Distinct(list):  # type: ignore[type-arg]
    """The distinct keys of one crowded hash value (a list type of our own, so that a key that
    is itself a list is never mistaken for a group)."""

    __slots__ = ()


_NONE: Any = object()
