"""Canonical names: what the policy decides on, whatever spelling the stream used.

Protocol 0-2 streams written by Python 2 name ``__builtin__``, ``copy_reg``, ``cPickle``...;
CPython maps them through :mod:`_compat_pickle` when ``fix_imports`` is on, so we map them the
same way *before* any decision (``__builtin__.eval`` is decided as ``builtins.eval``).
"""

from __future__ import annotations

import _compat_pickle
import re

from .decision import GlobalRef

__all__ = ["canonical_ref", "name_problem"]

_IDENTIFIER = re.compile(r"[^\W\d]\w*\Z")
# pydantic stores a generic model parametrised at module scope in the origin's module under
# "Box[int]" (or "Box[int]_" when that display name was taken), and pickle names it so.
# Resolving it is one getattr on the module (a dict lookup); no dots inside the brackets
# (pickle itself splits protocol-4 names on dots) and no dunders.
# A module-level name that starts with "__" but does not end with it is a private function of
# that module, not a special attribute: Cython's __pyx_unpickle_<Class> (pandas, scikit-learn)
# and numpy.random._pickle.__generator_ctor rebuild objects from state. Such a name of exactly
# one part is decided by plugins like any other (nothing allows one by default); traversal
# through dunders (__globals__, __class__, __builtins__) stays refused in core.
_PRIVATE_FUNCTION = re.compile(r"__[^\W\d_]\w*\Z")
_PARAMETRISED = re.compile(r"[^\W\d]\w*\[[\w\[\], '\"|\-]*\]_*\Z")

# Dunder globals that pickle itself writes; every other dunder in a name is refused by core,
# since dunders are how name resolution escapes (``__globals__``, ``__builtins__``, ``__class__``).
_DUNDERS_PICKLE_WRITES = frozenset({"__newobj__", "__newobj_ex__"})


def canonical_ref(module: str, name: str, protocol: int, fix_imports: bool) -> GlobalRef:
    """Map a raw (module, name) from the stream to the name CPython's unpickler would import."""
    if protocol < 3 and fix_imports:
        mapped = _compat_pickle.NAME_MAPPING.get((module, name))
        if mapped is not None:
            module, name = mapped
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return GlobalRef(module, name)


def name_problem(ref: GlobalRef) -> str | None:
    """Why ``ref`` can never be resolved safely, or None when its shape is fine.

    Checked in core, before any plugin is asked: identifiers only, no relative or empty parts,
    no ``<locals>``, no dunders (except ``__main__`` as a module and what pickle writes).
    """
    module_parts = ref.module.split(".")
    for part in module_parts:
        if not _IDENTIFIER.match(part):
            return f"module name {ref.module!r} is not a dotted identifier"
        if part.startswith("__") and part.endswith("__") and part != "__main__":
            return f"module name {ref.module!r} has a dunder part"
    parts = ref.qualname.split(".")
    if len(parts) == 1 and _PRIVATE_FUNCTION.match(parts[0]) and not parts[0].endswith("__"):
        return None
    for index, part in enumerate(parts):
        if index == len(parts) - 1 and "__" not in part and _PARAMETRISED.match(part):
            continue  # a parametrised generic: decided whole by plugins like any other name
        if not _IDENTIFIER.match(part):
            return f"name {ref.qualname!r} is not a dotted identifier"
        if part.startswith("__") and part not in _DUNDERS_PICKLE_WRITES:
            return f"name {ref.qualname!r} reaches through a dunder attribute"
    return None
