"""Which globals the plugin allows: what pickle needs to rebuild pydantic objects, and the
models the plugin was configured with.

A pickled pydantic object names only these globals (found with ``pickletools.genops`` at
protocols 0-5, see ``tests/test_pydantic_globals.py``): its class, the classes and enums of
the values inside it, and, at protocols 0-1, ``copyreg._reconstructor(cls, object, None)``;
at protocols 0-3 the model's ``__pydantic_fields_set__`` is written as
``builtins.set([...])``. Nothing of pydantic itself is named (``BaseModel.__getstate__`` is
plain data), except the parametrised classes of generic models, named by their bracketed
display name (``models.Box[int]``; see :mod:`._generics`).
"""

from __future__ import annotations

import enum
import importlib
import types
from collections.abc import Iterable

from pydantic import BaseModel
from pydantic.dataclasses import is_pydantic_dataclass

from safepickle import PolicyError
from safepickle.builtin.allowlist import parse_entry

from ._generics import is_parametrisation

__all__ = ["PICKLE_GLOBALS", "expand_models", "is_model_class"]

#: the globals pickle writes to rebuild any pydantic object, each with why it is safe to call
#: with any arguments (the same reasons the core's standard-library plugin gives; repeated here
#: so the plugin works under ``Policy(defaults=False)``)
PICKLE_GLOBALS: types.MappingProxyType[str, str] = types.MappingProxyType(
    {
        "copyreg._reconstructor": "protocols 0-1 rebuild a model as _reconstructor(cls, object, "
        "None): object.__new__(cls) of a class the policy decided separately",
        "builtins.object": "the base _reconstructor names at protocols 0-1; object() makes an "
        "empty object",
        "builtins.set": "protocols 0-3 write __pydantic_fields_set__ as set([...]); constructs "
        "a plain set from a list",
    }
)


def is_model_class(obj: object) -> bool:
    """A class whose instances pickle as plain state that this plugin re-validates, or an enum
    (rebuilt by looking a member up by value)."""
    if not isinstance(obj, type):
        return False
    return issubclass(obj, (BaseModel, enum.Enum)) or is_pydantic_dataclass(obj)


def expand_models(entries: Iterable[object]) -> frozenset[str]:
    """The dotted names ``models=`` admits.

    ``User`` (a model class), ``"pkg.mod:User"`` / ``"pkg.mod.User"`` (exact, nothing
    imported) or ``"pkg.mod:*"``: every public model, pydantic dataclass and enum defined in
    ``pkg.mod``. A wildcard is expanded here, when the plugin is configured (the caller's code
    naming its own module), so that deciding a stream's globals never imports anything and
    functions of that module stay refused.
    """
    names: set[str] = set()
    for item in entries:
        if isinstance(item, type):
            if not is_model_class(item):
                raise PolicyError(
                    f"models=[{item.__qualname__}]: not a pydantic model, pydantic dataclass "
                    "or enum; use the policy's allow= for other classes"
                )
            names.add(f"{item.__module__}.{item.__qualname__}")
            continue
        entry = parse_entry(item)
        if not entry.is_wildcard:
            names.add(f"{entry.module}.{entry.qualname}" if entry.qualname else entry.module)
            continue
        try:
            module = importlib.import_module(entry.module)
        except ImportError as exc:
            raise PolicyError(f"models=[{entry.text!r}]: cannot import {entry.module}") from exc
        for name, obj in vars(module).items():
            if (
                not name.startswith("_")
                and is_model_class(obj)
                and not is_parametrisation(obj)  # Box[int]: decided through its origin
                and getattr(obj, "__module__", None) == entry.module
            ):
                # by the name pickle writes (an alias such as ``Old = User`` pickles as User)
                names.add(f"{entry.module}.{obj.__qualname__}")
    return frozenset(names)
