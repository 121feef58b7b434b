"""Parametrised generic models (``Box[int]``): the bracketed globals pydantic registers, found
without importing anything and checked to be pydantic's own parametrisation of their origin.

A parametrisation made at module scope is stored by pydantic under its display name
(``Box[int]``, ``Box[int]_`` when that key was taken) in a module's globals, which is what
lets pickle name it. *Which* module changed in pydantic 2.14: up to 2.13 it is the origin's
module (``pydantic.root_model.RootModel[list[int]]``), from 2.14 the module that parametrised
it (``myapp.models.RootModel[list[int]]``, ``__module__`` set to match). So the name alone no
longer says what the origin is, and a rule "``RootModel[...]`` in any module" would let a stream
import any module it names. Instead the class is looked up in ``sys.modules`` (a module whose
code never ran holds no parametrisation, and importing it is running code the policy has not
allowed) and must be exactly what pydantic builds: a subclass of its origin only, carrying
pydantic's generic metadata, registered under its own name in its own module. Both layouts
pass the same checks, so every pydantic the plugin admits is handled alike.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel

from safepickle import GlobalRef

__all__ = ["is_parametrisation", "own_ref", "parametrisation"]

# "Box[int]", "Box[dict[str, list[int]]]", "Box[int]_": pydantic's display name of a
# parametrisation (``model_parametrized_name``), with the "_"s it appends when the key is taken;
# no dots (pickle could not look such a name up) and, below, no dunders
_PARAMETRISED = re.compile(r"(?P<base>[^\W\d]\w*)\[[\w\[\], '\"|\-]*\]_*\Z")


def _namespace(obj: object) -> Mapping[str, Any]:
    """A module's or class's own ``__dict__``, read past any ``__getattribute__`` of a module
    subclass or metaclass (a lazy module runs its code on attribute access)."""
    return cast("Mapping[str, Any]", object.__getattribute__(obj, "__dict__"))


def parametrisation(ref: GlobalRef) -> tuple[type[BaseModel], type[BaseModel]] | None:
    """``(class, origin)`` when ``ref`` names pydantic's parametrisation of a generic model in a
    module this process has already imported, else None. Imports nothing and runs no code of
    the classes it inspects (class and module dicts are read directly)."""
    name = ref.qualname
    match = _PARAMETRISED.match(name)
    if match is None or "__" in name:
        return None
    module = sys.modules.get(ref.module)
    if not isinstance(module, types.ModuleType):
        return None
    cls = _namespace(module).get(name)
    # the metaclass first: isinstance() could ask a non-class object for its __class__
    if not issubclass(type(cls), type(BaseModel)) or not isinstance(cls, type):
        return None
    namespace = _namespace(cls)
    metadata = namespace.get("__pydantic_generic_metadata__")
    if type(metadata) is not dict:
        return None
    origin = metadata.get("origin")
    args = metadata.get("args")
    if not isinstance(origin, type) or type(args) is not tuple or not args:
        return None
    if (
        cls.__bases__ != (origin,)  # what pydantic creates: a direct subclass of the origin only
        or BaseModel not in origin.__mro__
        or namespace.get("__module__") != ref.module
        or cls.__qualname__ != cls.__name__
        or name.rstrip("_") != cls.__name__  # registered under its name (+ "_"s), not an alias
        or match["base"] != origin.__name__
    ):
        return None
    return cls, origin


def own_ref(cls: type) -> GlobalRef | None:
    """The name ``cls`` says it has, when looking that name up in the imported modules (no
    import, class dicts only) gives ``cls`` back; None otherwise (a class made in a function,
    or one shadowed by another object of its name)."""
    module_name = _namespace(cls).get("__module__")
    qualname = cls.__qualname__
    if not isinstance(module_name, str):
        return None
    module = sys.modules.get(module_name)
    if not isinstance(module, types.ModuleType):
        return None
    first, *rest = qualname.split(".")
    obj: Any = _namespace(module).get(first)
    for part in rest:
        if not isinstance(obj, type):
            return None
        obj = _namespace(obj).get(part)
    return GlobalRef(module_name, qualname) if obj is cls else None


def is_parametrisation(obj: object) -> bool:
    """A pydantic generic model's parametrisation (``Box[int]``, ``RootModel[list[int]]``)."""
    if not isinstance(obj, type) or not issubclass(obj, BaseModel):
        return False
    metadata = _namespace(obj).get("__pydantic_generic_metadata__")
    return type(metadata) is dict and metadata.get("origin") is not None
