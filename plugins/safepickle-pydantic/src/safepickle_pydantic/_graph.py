"""Finding every pydantic object a load rebuilt: one iterative walk over the object graph.

Each object is visited once, by ``id`` (shared references and cycles cost nothing extra; the
loaded graph is alive during the walk, so ids are stable), breadth first, without recursion (a
100,000-deep chain is fine). The walk remembers how it first reached each object, so an error
can name the path (``result[3].friends[0]``), shallowest first.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import types
import uuid
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, RootModel
from pydantic.dataclasses import is_pydantic_dataclass

__all__ = ["ATOMS", "Graph", "Kind", "format_loc", "kind_of"]


class Kind(enum.Enum):
    """How a pydantic object is rebuilt and re-validated."""

    MODEL = "model"
    ROOT = "root model"
    DATACLASS = "pydantic dataclass"


# Values with nothing inside to walk: skipped before they are even queued (the common case).
ATOMS = frozenset(
    {
        str,
        bytes,
        int,
        float,
        bool,
        complex,
        type(None),
        bytearray,
        decimal.Decimal,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
        uuid.UUID,
    }
)
# Never descended into: the process's own objects, not state the stream built.
_OPAQUE = (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType, enum.Enum)

_SEQUENCE, _MAPPING, _SET, _OPAQUE_SHAPE, _OBJECT = (object() for _ in range(5))

_Step = int | str | tuple[Any] | None  # [i], .name, [key], {member}


def kind_of(cls: type) -> Kind | None:
    """The kind of pydantic object instances of ``cls`` are, or None."""
    if issubclass(cls, RootModel):
        return Kind.ROOT
    if issubclass(cls, BaseModel):
        return Kind.MODEL
    if is_pydantic_dataclass(cls):
        return Kind.DATACLASS
    return None


class Graph:
    """The pydantic objects reachable from ``root``, in breadth-first order, each with the
    path it was first reached by."""

    def __init__(self, root: Any) -> None:
        #: id -> (parent id, step); the root's parent is None
        self._parents: dict[int, tuple[int | None, _Step]] = {}
        self.found: list[tuple[Any, Kind]] = []
        self._walk(root)

    def __iter__(self) -> Iterator[tuple[Any, Kind]]:
        return iter(self.found)

    def _walk(self, root: Any) -> None:
        parents = self._parents
        found = self.found
        atoms = set(ATOMS)  # grows with opaque types met (enum classes), skipped before queueing
        shapes: dict[type, object] = {}  # the type's shape, worked out once per type
        queue: collections.deque[tuple[Any, int | None, _Step]] = collections.deque()
        queue.append((root, None, None))
        push = queue.append
        while queue:
            obj, parent, step = queue.popleft()
            oid = id(obj)
            if oid in parents:
                continue
            parents[oid] = (parent, step)
            cls = type(obj)
            shape = shapes.get(cls)
            if shape is None:
                shape = shapes[cls] = _shape_of(cls)
                if shape is _OPAQUE_SHAPE:
                    atoms.add(cls)
            if shape is _SEQUENCE:
                for index, item in enumerate(obj):
                    if type(item) not in atoms:
                        push((item, oid, index))
            elif shape is Kind.MODEL or shape is Kind.ROOT:
                found.append((obj, shape))
                try:
                    parts = (obj.__dict__, obj.__pydantic_extra__, obj.__pydantic_private__)
                except AttributeError:  # a state pydantic never builds: check() says why
                    parts = (getattr(obj, "__dict__", None), None, None)
                for part in parts:
                    if type(part) is dict:
                        for name, value in part.items():
                            if type(value) not in atoms:
                                push((value, oid, name))
            elif shape is _MAPPING:
                for key, value in obj.items():
                    if type(key) not in atoms:
                        push((key, oid, None))
                    if type(value) not in atoms:
                        push((value, oid, (key,)))
            elif shape is _SET:
                for item in obj:
                    if type(item) not in atoms:
                        push((item, oid, None))
            elif shape is not _OPAQUE_SHAPE:
                if shape is Kind.DATACLASS:
                    found.append((obj, shape))
                try:
                    state = object.__getattribute__(obj, "__dict__")
                except AttributeError:
                    continue
                if isinstance(state, dict):
                    for name, value in state.items():
                        if type(value) not in atoms:
                            push((value, oid, name))

    def path(self, obj: Any) -> str:
        """How the walk first reached ``obj``: ``result``, ``result[3].friends[0]``..."""
        steps: list[str] = []
        link = self._parents.get(id(obj))
        while link is not None:
            parent, step = link
            if parent is None:
                break
            steps.append(_format_step(step))
            link = self._parents.get(parent)
        return "result" + "".join(reversed(steps))


def _shape_of(cls: type) -> object:
    """How the walk treats instances of ``cls``: a pydantic :class:`Kind`, a container shape,
    opaque (never entered) or, for any other class, its instances' ``__dict__``."""
    if issubclass(cls, (list, tuple, collections.deque)):
        return _SEQUENCE
    if issubclass(cls, dict):
        return _MAPPING
    if issubclass(cls, (set, frozenset)):
        return _SET
    if issubclass(cls, _OPAQUE):
        return _OPAQUE_SHAPE
    return kind_of(cls) or _OBJECT


def _format_step(step: _Step) -> str:
    if isinstance(step, int):
        return f"[{step}]"
    if isinstance(step, str):
        return f".{step}" if step.isidentifier() else f"[{_short(step)}]"
    if isinstance(step, tuple):
        return f"[{_short(step[0])}]"
    return "{...}"  # a set member or a dict key: no position to name


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def format_loc(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a path suffix: ``("friends", 0, "age")`` is
    ``.friends[0].age``."""
    return "".join(_format_step(part) for part in loc)
