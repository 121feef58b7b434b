"""Narrowed container constructors and ``array``.

Three classes of problem, closed for every constructor that copies or hashes its argument:

* **Copies of shared values.** One memoized list, dict or bytes can be passed to ``list``,
  ``tuple``, ``dict``, ``deque``, ``array`` ... any number of times: 4 MB of pickle, 1 GB of
  copies. Each constructor charges what it will allocate (estimated from ``len()`` of the
  argument) to the load's budget before copying (:func:`safepickle.budget.charge`).
* **Hashing.** ``set``, ``frozenset``, ``dict``, ``OrderedDict``, ``Counter``,
  ``defaultdict``, ``UserDict`` hash every key: :func:`safepickle.hashguard.guard_keys` bounds
  the work (a tuple built from itself has ``2**n`` leaves) and refuses hash flooding first.
  Keys taken from a plain set, frozenset or dict keep their stored hashes and are not rehashed.
* **Code run on attacker state.** Only plain containers are accepted as arguments (see
  :data:`.narrowed.PLAIN_ITERABLES`); ``UserList``, ``UserString``, ``ChainMap`` iterate with
  Python methods over whatever a ``BUILD`` put in them.

``UserList``, ``UserDict`` and ``UserString`` are written with ``NEWOBJ`` (protocols 2+), which
needs a class: their stand-ins are classes whose ``__new__`` returns the real type's instance.
"""

from __future__ import annotations

import array
import collections
from functools import cache
from operator import itemgetter
from typing import Any

from safepickle.hashguard import guard_keys

from .narrowed import (
    PLAIN_ITERABLES,
    REF,
    StandIn,
    charge,
    charge_items,
    plain_iterable,
    real_of,
    refuse,
    register,
    type_name,
)

__all__ = ["container_substitutes"]

#: bytes one entry of a set or dict takes (a 1M-entry set is 32 MiB, a dict 40 MiB), with the
#: table's slack
_SET_ENTRY = 48
_DICT_ENTRY = 64
#: an OrderedDict also keeps a linked node per key
_ODICT_ENTRY = 128
#: hashes a set, frozenset or plain dict stores, which set()/dict() reuse without rehashing
_STORED_HASHES = frozenset({set, frozenset, dict})
_MAPPINGS = frozenset(
    {dict, collections.OrderedDict, collections.Counter, collections.defaultdict}
)
_PAIRS = frozenset({list, tuple, collections.deque})
#: constructors that copy a plain dict with its stored hashes (dict's own merge); OrderedDict
#: and UserDict insert key by key, rehashing
_REUSE_DICT_HASHES = ("builtins.dict", "collections.Counter", "collections.defaultdict")


def _hashed(keys: Any, what: str) -> None:
    """Bound the hashing of ``keys`` unless their stored hashes are reused."""
    if type(keys) not in _STORED_HASHES:
        guard_keys(keys, what)


def _single(dotted: str, args: tuple[Any, ...]) -> Any:
    if len(args) != 1:
        raise refuse(dotted, f"{dotted} takes one argument here")
    return args[0]


def _mapping_keys(dotted: str, value: Any, what: str) -> Any:
    """The keys a dict built from ``value`` hashes: a plain mapping's keys, or the first items
    of a plain sequence of (key, value) pairs; anything else is refused."""
    kind = type(value)
    if kind in _MAPPINGS:
        return value
    if kind in _PAIRS:
        if value and not (set(map(type, value)) <= {tuple, list} and set(map(len, value)) == {2}):
            raise refuse(dotted, f"{what} takes (key, value) tuples or lists only")
        return list(map(itemgetter(0), value))
    raise refuse(
        dotted,
        f"{what} of a {type_name(value)}: only a dict, OrderedDict, Counter, defaultdict or a "
        "list/tuple of (key, value) pairs is accepted",
    )


def _dict_args(dotted: str, value: Any, entry: int, what: str) -> None:
    keys = _mapping_keys(dotted, value, what)
    charge_items(value, entry, what)
    if not (type(value) is dict and dotted in _REUSE_DICT_HASHES):
        guard_keys(keys, what)


def list_(*args: Any) -> list[Any]:
    if not args:
        return []
    value = _single("builtins.list", args)
    count = plain_iterable("builtins.list", value, "list()")
    charge_items(value, REF, "list(...)", count)
    return list(value)


def tuple_(*args: Any) -> tuple[Any, ...]:
    if not args:
        return ()
    value = _single("builtins.tuple", args)
    if type(value) is tuple:
        return value  # tuple(t) is t: nothing is copied
    count = plain_iterable("builtins.tuple", value, "tuple()")
    charge_items(value, REF, "tuple(...)", count)
    return tuple(value)


def set_(*args: Any) -> set[Any]:
    if not args:
        return set()
    value = _single("builtins.set", args)
    count = plain_iterable("builtins.set", value, "set()")
    charge_items(value, _SET_ENTRY, "set(...)", count)
    _hashed(value, "set(...)")
    return set(value)


def frozenset_(*args: Any) -> frozenset[Any]:
    if not args:
        return frozenset()
    value = _single("builtins.frozenset", args)
    if type(value) is frozenset:
        return value  # frozenset(f) is f
    count = plain_iterable("builtins.frozenset", value, "frozenset()")
    charge_items(value, _SET_ENTRY, "frozenset(...)", count)
    _hashed(value, "frozenset(...)")
    return frozenset(value)


def dict_(*args: Any) -> dict[Any, Any]:
    if not args:
        return {}
    value = _single("builtins.dict", args)
    _dict_args("builtins.dict", value, _DICT_ENTRY, "dict(...)")
    return dict(value)


def ordered_dict_(*args: Any) -> collections.OrderedDict[Any, Any]:
    if not args:
        return collections.OrderedDict()
    value = _single("collections.OrderedDict", args)
    _dict_args("collections.OrderedDict", value, _ODICT_ENTRY, "OrderedDict(...)")
    return collections.OrderedDict(value)


def counter_(*args: Any) -> collections.Counter[Any]:
    if not args:
        return collections.Counter()
    value = _single("collections.Counter", args)
    if type(value) in _MAPPINGS:
        _dict_args("collections.Counter", value, _DICT_ENTRY, "Counter(...)")
    else:  # counts the items: hashes each
        count = plain_iterable("collections.Counter", value, "Counter()")
        charge_items(value, _DICT_ENTRY, "Counter(...)", count)
        _hashed(value, "Counter(...)")
    return collections.Counter(value)


def defaultdict_(*args: Any) -> collections.defaultdict[Any, Any]:
    if len(args) > 2:
        raise refuse("collections.defaultdict", "defaultdict takes a factory and one mapping")
    factory = args[0] if args else None
    real = real_of(factory)
    if isinstance(real, type):
        # the stream named a narrowed class (defaultdict(list) pickles list as a value): the
        # factory is called with no arguments, so the real class is harmless and is what
        # the pickled defaultdict had
        factory = real
    if len(args) == 2:
        _dict_args("collections.defaultdict", args[1], _DICT_ENTRY, "defaultdict(f, ...)")
        return collections.defaultdict(factory, args[1])
    return collections.defaultdict(factory)


def deque_(*args: Any) -> collections.deque[Any]:
    if not args:
        return collections.deque()
    if len(args) > 2:
        raise refuse("collections.deque", "deque takes an iterable and a maxlen")
    value = args[0]
    count = plain_iterable("collections.deque", value, "deque()")
    if len(args) == 2 and args[1] is not None:
        maxlen = args[1]
        if type(maxlen) is not int:
            raise refuse("collections.deque", "deque's maxlen must be an int or None")
        count = min(count, max(maxlen, 0))
    charge_items(value, REF + 1, "deque(...)", count)  # blocks of 64 references
    return collections.deque(*args)


class UserListStandIn(StandIn):
    __slots__ = ()
    real = collections.UserList

    @classmethod
    def construct(cls, *args: Any) -> Any:
        if not args:
            return collections.UserList()
        value = _single("collections.UserList", args)
        count = plain_iterable("collections.UserList", value, "UserList()")
        charge_items(value, REF, "UserList(...)", count)
        return collections.UserList(value)


class UserDictStandIn(StandIn):
    __slots__ = ()
    real = collections.UserDict

    @classmethod
    def construct(cls, *args: Any) -> Any:
        if not args:
            return collections.UserDict()
        value = _single("collections.UserDict", args)
        _dict_args("collections.UserDict", value, _DICT_ENTRY, "UserDict(...)")
        return collections.UserDict(value)


class UserStringStandIn(StandIn):
    __slots__ = ()
    real = collections.UserString

    @classmethod
    def construct(cls, *args: Any) -> Any:
        if not args:
            return cls.blank()  # (the real one needs a str): a blank, for BUILD
        value = _single("collections.UserString", args)
        if type(value) is not str:
            raise refuse(
                "collections.UserString",
                f"UserString of a {type_name(value)}: only UserString(str) is accepted "
                "(it would render anything else with str())",
            )
        return collections.UserString(value)


@cache
def _native_mformat(typecode: str) -> int:
    """The machine-format code ``array`` writes for ``typecode`` on this machine: items in any
    other format are converted one by one, through a list of Python objects."""
    reduced: Any = array.array(typecode).__reduce_ex__(3)
    return int(reduced[1][2])


def _typecode(dotted: str, typecode: object) -> str:
    if type(typecode) is not str or len(typecode) != 1 or typecode not in array.typecodes:
        raise refuse(dotted, f"the typecode must be one of {array.typecodes!r}")
    return typecode


def array_(*args: Any) -> array.array[Any]:
    if not args or len(args) > 2:
        raise refuse("array.array", "array takes a typecode and an initializer")
    typecode = _typecode("array.array", args[0])
    if len(args) == 2:
        value = args[1]
        kind = type(value)
        itemsize = array.array(typecode).itemsize
        if kind is bytes or kind is bytearray:
            size = len(value)
        elif kind is str or kind in PLAIN_ITERABLES:
            size = len(value) * itemsize
        else:
            raise refuse(
                "array.array",
                f"an array of a {type_name(value)}: only bytes, str and plain containers are "
                "accepted",
            )
        charge(size + 64, "array(...)")
    return array.array(*args)


def array_reconstructor_(*args: Any) -> array.array[Any]:
    dotted = "array._array_reconstructor"
    if len(args) != 4:
        raise refuse(dotted, "it takes (array type, typecode, machine format, bytes)")
    arraytype, typecode, mformat, items = args
    arraytype = real_of(arraytype)  # the stream names array.array, narrowed, as a value
    if not (isinstance(arraytype, type) and issubclass(arraytype, array.array)):
        raise refuse(dotted, "the first argument must be array.array or a subclass")
    typecode = _typecode(dotted, typecode)
    if type(mformat) is not int or type(items) is not bytes:
        raise refuse(dotted, "the machine format must be an int and the items bytes")
    # a foreign machine format converts every item through a Python object
    size = len(items) if mformat == _native_mformat(typecode) else len(items) * 24
    charge(size + 64, "array._array_reconstructor(...)")
    return array._array_reconstructor(arraytype, typecode, mformat, items)  # type: ignore[attr-defined,no-any-return]


def container_substitutes() -> dict[str, Any]:
    """The narrowed container constructors, by dotted name."""
    return {
        "builtins.list": register(list_, list),
        "builtins.tuple": register(tuple_, tuple),
        "builtins.set": register(set_, set),
        "builtins.frozenset": register(frozenset_, frozenset),
        "builtins.dict": register(dict_, dict),
        "collections.OrderedDict": register(ordered_dict_, collections.OrderedDict),
        "collections.Counter": register(counter_, collections.Counter),
        "collections.defaultdict": register(defaultdict_, collections.defaultdict),
        "collections.deque": register(deque_, collections.deque),
        "collections.UserList": register(UserListStandIn, collections.UserList),
        "collections.UserDict": register(UserDictStandIn, collections.UserDict),
        "collections.UserString": register(UserStringStandIn, collections.UserString),
        "array.array": register(array_, array.array),
        "array._array_reconstructor": array_reconstructor_,
    }
