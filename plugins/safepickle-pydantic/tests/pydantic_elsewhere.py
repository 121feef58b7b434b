"""Generic models parametrised outside their origin's module, and bracketed names pydantic
never registered, for the tests of how parametrisations are decided.

Where pydantic stores a module-scope parametrisation changed in 2.14: up to 2.13 in the
origin's module, from 2.14 in this one (``pydantic_elsewhere.Box[str]``); the tests take the
name from the class, which is what pickle writes.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, RootModel
from pydantic_samples import Box, IntBox, Plain

T = TypeVar("T")

StrBox = Box[str]  # another module's generic, parametrised here
StrRoot = RootModel[dict[str, int]]


class Other(BaseModel, Generic[T]):
    """A generic model no test policy allows."""

    value: T


IntOther = Other[int]


class NotAParametrisation(Box[int]):
    """A model subclassing a parametrisation: no generic metadata of its own."""


BytesBox = Box[bytes]

# Bracketed keys pydantic did not write (plain code cannot assign them; these stand for a
# library that sets module globals by name): each must stay refused.
globals()["Box[float]"] = NotAParametrisation  # a model, but not a parametrisation
globals()["Box[complex]"] = BytesBox  # pydantic's Box[bytes], registered under another name
globals()["Box[list[str]]"] = Plain  # not a model at all
globals()["Box[int]"] = IntBox  # pydantic_samples' Box[int], copied into this module


class Renamed(BaseModel, Generic[T]):
    """Names its parametrisations itself: ``Alias[int]``, whose base is no model's name."""

    value: T

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        return f"Alias[{params[0].__name__}]"


IntRenamed = Renamed[int]


# Other's parametrisations live here in every pydantic version, so each of these differs from
# what pydantic registers in exactly one respect:
globals()["Other[str]"] = Other[bytes]  # registered under another parametrisation's name


class _Mixin:
    pass


def _forged(name: str, bases: tuple[type, ...], metadata: Any) -> Any:
    """A class built as pydantic builds a parametrisation, with its parts chosen here."""
    metaclass: Any = type(Other)
    return metaclass(
        name,
        bases,
        {"__module__": __name__, "__qualname__": name, "__annotations__": {}},
        __pydantic_generic_metadata__=metadata,
    )


_FLOAT = {"origin": Other, "args": (float,), "parameters": ()}
globals()["Other[float]"] = _forged("Other[float]", (Other, _Mixin), _FLOAT)  # an extra base
_BOOL = _forged("Other[bool]", (Other,), {"origin": Other, "args": (bool,), "parameters": ()})
_BOOL.__pydantic_generic_metadata__ = ("origin", Other)
globals()["Other[bool]"] = _BOOL  # metadata that is not pydantic's dict
