"""The unpickler for streams whose dict keys or set members could collide on purpose.

The hashes of ints, floats, Decimals, Fractions, UUIDs, tuples and frozensets are not
randomized: keys equal modulo 2**61-1 all land on one hash value, and building a dict or set of
n of them takes n**2 / 2 comparisons inside CPython's C unpickler, where nothing can interrupt
it. The verifier counts the keys whose hash the stream could have chosen
(:attr:`~safepickle.verify.Verified.unknown_hash_keys`: big ints, call results, frozensets,
tuples holding any); past :data:`GUARD_THRESHOLD` of them the stream executes on this
unpickler instead: pickle's pure-Python unpickler (the same opcodes, the same results) whose
SETITEM(S), DICT, ADDITEMS and FROZENSET count each key's hash before inserting it, and refuse
more than ``Limits.max_hash_collisions`` distinct keys on one hash value in one container.

Below the threshold no container can hold enough colliding keys to cost more than a fraction of
a second (about half a million comparisons), so the common stream keeps the C unpickler's speed.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from ._unpickler import SafeUnpickler
from .hashguard import CollisionCounter

if TYPE_CHECKING:
    from ._manager import PolicyManager
    from .context import LoadContext

__all__ = ["GUARD_THRESHOLD", "GuardedUnpickler"]

#: unknown-hash keys in one stream past which it executes on :class:`GuardedUnpickler`
GUARD_THRESHOLD = 1024


class GuardedUnpickler(pickle._Unpickler):
    """pickle's pure-Python unpickler, gated like :class:`SafeUnpickler`, counting hashes."""

    # what pickle._Unpickler keeps while it loads (typeshed leaves them out)
    stack: list[Any]
    append: Callable[[Any], None]
    pop_mark: Callable[[], list[Any]]

    # the same gate as the C unpickler's (they keep no reference to their class)
    find_class = SafeUnpickler.find_class
    persistent_load = SafeUnpickler.persistent_load
    dispatch: ClassVar[dict[int, Callable[[Any], None]]] = dict(pickle._Unpickler.dispatch)

    def __init__(
        self,
        file: Any,
        *,
        approved: dict[tuple[str, str], Any],
        manager: PolicyManager,
        context: LoadContext,
        max_hash_collisions: int,
        fix_imports: bool = True,
        encoding: str = "ASCII",
        errors: str = "strict",
        buffers: Iterable[Any] | None = None,
    ) -> None:
        super().__init__(
            file, fix_imports=fix_imports, encoding=encoding, errors=errors, buffers=buffers
        )
        self._approved = approved
        self._manager = manager
        self._context = context
        self._collisions = CollisionCounter(max_hash_collisions)

    def _count(self, container: object, keys: Iterable[object]) -> None:
        add = self._collisions.add
        ident = id(container)
        for key in keys:
            add(ident, key)

    def load_setitem(self) -> None:
        stack = self.stack
        value = stack.pop()
        key = stack.pop()
        target = stack[-1]
        self._collisions.add(id(target), key)
        target[key] = value

    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        self._count(target, items[0::2])
        for index in range(0, len(items), 2):
            target[items[index]] = items[index + 1]

    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_dict(self) -> None:
        items = self.pop_mark()
        result: dict[Any, Any] = {}
        self._count(result, items[0::2])
        for index in range(0, len(items), 2):
            result[items[index]] = items[index + 1]
        self.append(result)

    dispatch[pickle.DICT[0]] = load_dict

    def load_additems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        self._count(target, items)
        if isinstance(target, set):
            target.update(items)
        else:
            add = target.add
            for item in items:
                add(item)

    dispatch[pickle.ADDITEMS[0]] = load_additems

    def load_frozenset(self) -> None:
        items = self.pop_mark()
        self._count(items, items)  # a container of its own, identified by the list
        self.append(frozenset(items))

    dispatch[pickle.FROZENSET[0]] = load_frozenset
