"""Putting the replacements in place, and taking them out again exactly.

Three kinds of change, each recorded so it can be undone:

- pickle's and _pickle's ``load``, ``loads``, ``Unpickler`` (and the pure-Python ``_load``,
  ``_loads``, ``_Unpickler``) module attributes become the replacements of :mod:`._replace`;
- the same objects captured earlier under other names (``from pickle import Unpickler`` at
  the top of ``shelve``, ``loads = pickle.loads`` in ``multiprocessing``'s ``ForkingPickler``)
  are found by identity in every loaded module's globals and in its classes, and replaced;
- unpickler classes libraries defined earlier (subclasses of ``pickle._Unpickler`` and of the
  C ``_pickle.Unpickler``) get their ``find_class`` gated by name (:mod:`._gate`), and the
  pure-Python ones their state-changing opcodes gated too (:mod:`._mutation`).

On restore a change is undone only where the attribute still holds our replacement: if other
code replaced it since, that code's value stays (and its own undo may put ours back, which
then loads under the default policy).
"""

from __future__ import annotations

import _pickle
import pickle
import sys
import types
from dataclasses import dataclass
from typing import Any, Union

from .._unpickler import SafeUnpickler
from ._gate import gate_override, gated_find_class
from ._mutation import OPCODE_HANDLERS, gated_handler
from ._replace import PICKLE_PY_UNPICKLER, PyUnpickler, Unpickler, load, loads

__all__ = ["AnyChange", "Change", "ItemChange", "plan"]

_MISSING: Any = object()
#: the C unpickler class, as _pickle defines it
_C_UNPICKLER = _pickle.Unpickler
#: attribute -> replacement, in both pickle and _pickle where the module has the attribute
_MODULE_TARGETS = {
    "load": load,
    "loads": loads,
    "_load": load,
    "_loads": loads,
    "Unpickler": Unpickler,
    "_Unpickler": PyUnpickler,
}


@dataclass
class Change:
    """One attribute of a module or class, and what it was before we set it."""

    owner: Any
    name: str
    original: Any  # _MISSING when the owner had no attribute of its own by that name
    replacement: Any

    def apply(self) -> None:
        setattr(self.owner, self.name, self.replacement)

    def restore(self) -> None:
        if _own(self.owner).get(self.name, _MISSING) is not self.replacement:
            return  # replaced by other code since: leave that code's value
        if self.original is _MISSING:
            delattr(self.owner, self.name)
        else:
            setattr(self.owner, self.name, self.original)


@dataclass
class ItemChange:
    """One entry of a pure-Python unpickler's ``dispatch`` table (opcode -> handler)."""

    table: dict[int, Any]
    key: int
    original: Any
    replacement: Any

    def apply(self) -> None:
        self.table[self.key] = self.replacement

    def restore(self) -> None:
        if self.table.get(self.key) is self.replacement:
            self.table[self.key] = self.original


AnyChange = Union[Change, ItemChange]  # noqa: UP007 - a runtime alias, and 3.10 is supported


def _own(owner: Any) -> Any:
    """The owner's own namespace, read without running its ``__getattr__``/
    ``__getattribute__`` (a lazily loaded module would import itself)."""
    if isinstance(owner, type):
        return type.__dict__["__dict__"].__get__(owner)
    return object.__getattribute__(owner, "__dict__")


def _module_changes() -> tuple[list[Change], dict[int, tuple[Any, Any]]]:
    """pickle's and _pickle's attributes; and by id, each replaced original -> replacement."""
    changes: list[Change] = []
    originals: dict[int, tuple[Any, Any]] = {}
    for module in (pickle, _pickle):
        namespace = _own(module)
        for name, replacement in _MODULE_TARGETS.items():
            original = namespace.get(name, _MISSING)
            if original is _MISSING or original is replacement:
                continue
            changes.append(Change(module, name, original, replacement))
            originals[id(original)] = (original, replacement)
    return changes, originals


def _skipped(module_name: str) -> bool:
    """pickle's own modules (changed by name), and safepickle's (never load through pickle)."""
    return module_name in ("pickle", "_pickle") or _is_safepickle(module_name)


def _is_safepickle(module_name: object) -> bool:
    return isinstance(module_name, str) and module_name.partition(".")[0] == "safepickle"


def _captured_changes(originals: dict[int, tuple[Any, Any]]) -> list[Change]:
    """The originals found by identity in loaded modules' globals and in their classes."""
    changes: list[Change] = []
    for module_name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType) or _skipped(module_name):
            continue
        try:
            values = list(_own(module).items())
        except Exception:  # an exotic module object: nothing we can read safely
            continue
        for name, value in values:
            hit = originals.get(id(value))
            if hit is not None and hit[0] is value:
                changes.append(Change(module, name, value, hit[1]))
            elif issubclass(type(value), type):
                changes.extend(_class_changes(value, module_name, originals))
    return changes


def _class_changes(
    cls: type, module_name: str, originals: dict[int, tuple[Any, Any]]
) -> list[Change]:
    namespace = _own(cls)
    if namespace.get("__module__") != module_name:
        return []  # imported from elsewhere: scanned with its own module
    changes = []
    for name, value in list(namespace.items()):
        hit = originals.get(id(value))
        if hit is not None and hit[0] is value:
            replacement = hit[1]
            if isinstance(replacement, types.FunctionType):
                # pickle's functions are builtins, which do not bind as methods; ours would
                replacement = staticmethod(replacement)
            changes.append(Change(cls, name, value, replacement))
    return changes


def _subclasses(root: type) -> list[type]:
    """Every subclass of ``root``, parents before their children."""
    found: list[type] = []
    seen: set[type] = set()
    queue = [root]
    while queue:
        cls = queue.pop(0)
        sub: type
        for sub in type.__subclasses__(cls):
            if sub not in seen:
                seen.add(sub)
                found.append(sub)
                queue.append(sub)
    return found


#: opcode byte -> the name of pickle's handler for it, for the opcodes that change an object
_HANDLED_OPCODES = {
    getattr(pickle, opcode)[0]: name for name, (opcode, _) in OPCODE_HANDLERS.items()
}


def _mutation_changes(classes: list[type]) -> list[AnyChange]:
    """pickle's handlers of BUILD, SETITEM(S), APPEND(S), ADDITEMS, gated: as attributes of
    ``pickle._Unpickler`` (subclasses call ``Unpickler.load_build(self)``) and in the
    ``dispatch`` table of every pure-Python unpickler class (subclasses copy the table)."""
    changes: list[AnyChange] = []
    root = _own(PICKLE_PY_UNPICKLER)
    for name in OPCODE_HANDLERS:
        changes.append(
            Change(PICKLE_PY_UNPICKLER, name, root[name], gated_handler(name, root[name]))
        )
    for cls in [PICKLE_PY_UNPICKLER, *classes]:
        table = _own(cls).get("dispatch")
        if not isinstance(table, dict):
            continue
        for key, name in _HANDLED_OPCODES.items():
            handler = table.get(key)
            if handler is not None and not _is_gate(handler):
                changes.append(ItemChange(table, key, handler, gated_handler(name, handler)))
    return changes


def _gate_changes() -> list[AnyChange]:
    """``find_class`` of the unpickler classes defined so far, gated by the policy."""
    changes: list[AnyChange] = [
        Change(
            PICKLE_PY_UNPICKLER,
            "find_class",
            _own(PICKLE_PY_UNPICKLER)["find_class"],
            gated_find_class,
        )
    ]
    pure = [
        cls
        for cls in _subclasses(PICKLE_PY_UNPICKLER)
        # safepickle's own (the scanners' layout readers import nothing)
        if not _is_safepickle(_own(cls).get("__module__"))
    ]
    for cls in pure:
        own = _own(cls).get("find_class", _MISSING)
        if own is not _MISSING and not _is_gate(own):
            changes.append(Change(cls, "find_class", own, gate_override(own)))
    changes.extend(_mutation_changes(pure))
    c_find_class = _own(_C_UNPICKLER)["find_class"]
    for cls in _subclasses(_C_UNPICKLER):
        if issubclass(cls, SafeUnpickler) or _is_safepickle(_own(cls).get("__module__")):
            continue  # safepickle's own: its find_class hands out what the verifier approved
        own = _own(cls).get("find_class", _MISSING)
        if own is not _MISSING:
            if not _is_gate(own):
                changes.append(Change(cls, "find_class", own, gate_override(own)))
        elif _inherits_c_find_class(cls, c_find_class, changes):
            changes.append(Change(cls, "find_class", _MISSING, gated_find_class))
    return changes


def _is_gate(func: Any) -> bool:
    if func is gated_find_class:
        return True
    module = getattr(func, "__module__", None)
    return hasattr(func, "__wrapped__") and module in (
        gated_find_class.__module__,
        gated_handler.__module__,
    )


def _inherits_c_find_class(cls: type, c_find_class: Any, planned: list[AnyChange]) -> bool:
    """True when ``cls`` would call the C ``find_class``: no class before the C one in its
    MRO defines or is about to get its own."""
    gated = {id(change.owner) for change in planned if isinstance(change, Change)}
    for base in cls.__mro__[1:]:
        if base is _C_UNPICKLER:
            return _own(base)["find_class"] is c_find_class
        if "find_class" in _own(base) or id(base) in gated:
            return False
    return False


def plan() -> list[AnyChange]:
    """Every change a patch makes, computed now (nothing is changed yet)."""
    module_changes, originals = _module_changes()
    return [*_gate_changes(), *module_changes, *_captured_changes(originals)]
