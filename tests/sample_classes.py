"""Module-level user classes for the ``allow=`` property tests.

They live in their own importable module (not in a test file) because pickle finds a class
by ``__module__`` and ``__qualname__``: a class defined inside a test function could not be
pickled at all, and one defined in the test module would be imported under the test module's
name. Each class reaches a different path of pickle's object protocol.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, NamedTuple


class Plain:
    """State in ``__dict__``: protocols 0-1 rebuild it with ``copyreg._reconstructor`` + BUILD,
    protocols 2+ with ``NEWOBJ`` (or ``copyreg.__newobj__``) + BUILD."""

    def __init__(self, a: Any = None, b: Any = None) -> None:
        self.a = a
        self.b = b


class Slotted:
    """State in ``__slots__`` only: BUILD gets a ``(None, slotstate)`` pair.

    pickle itself refuses to dump it with protocols 0 and 1 (no ``__getstate__``), so the
    tests use protocols 2-5 for it; :class:`SlottedWithState` covers slots at 0 and 1.
    """

    __slots__ = ("x", "y")

    def __init__(self, x: Any = None, y: Any = None) -> None:
        self.x = x
        self.y = y


class SlottedWithState:
    """``__slots__`` plus an explicit ``__getstate__``, which makes protocols 0-1 possible."""

    __slots__ = ("x",)

    def __init__(self, x: Any = None) -> None:
        self.x = x

    def __getstate__(self) -> dict[str, Any]:
        return {"x": self.x}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.x = state["x"]


class Stateful:
    """``__getstate__``/``__setstate__`` with a state that is not a dict (a tuple), so BUILD
    must call ``__setstate__`` rather than update ``__dict__``."""

    def __init__(self, value: Any = None, label: str = "") -> None:
        self.value = value
        self.label = label

    def __getstate__(self) -> tuple[Any, str]:
        return (self.value, self.label)

    def __setstate__(self, state: tuple[Any, str]) -> None:
        self.value, self.label = state


class Reduced:
    """``__reduce__`` returning ``(cls, args)``: the stream REDUCEs the class itself."""

    def __init__(self, first: Any = None, second: Any = None) -> None:
        self.first = first
        self.second = second

    def __reduce__(self) -> tuple[type[Reduced], tuple[Any, Any]]:
        return (type(self), (self.first, self.second))


@dataclasses.dataclass
class Record:
    """A dataclass: ``__dict__`` state, and ``__eq__`` for free."""

    name: Any = None
    payload: Any = None


class Color(enum.Enum):
    """An Enum: pickled as ``Color(value)``, which must return the existing member."""

    RED = 1
    GREEN = "green"
    BLUE = (2, 3)


class Pair(NamedTuple):
    """A namedtuple: a tuple subclass rebuilt through ``__getnewargs__``."""

    left: Any
    right: Any
