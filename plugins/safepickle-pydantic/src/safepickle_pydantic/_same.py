"""Is a loaded value what validating it gives back? The fixed-point check of re-validation.

Validation that accepts a value may still convert it (lax mode turns ``"5"`` into ``5``, a
dict into a model, a validator normalises a string). A pickled state is one the model can hold
only if validation leaves it as it is, so the loaded value and pydantic's output are compared:
same types exactly, same values, element by element, without recursion. Identical objects are
the same (pydantic hands back values of ``Any`` fields and model instances as they are);
pydantic objects of the same class are the same here, because each is re-validated on its own.
"""

from __future__ import annotations

import collections
from typing import Any

from pydantic import BaseModel
from pydantic.dataclasses import is_pydantic_dataclass

from safepickle import LimitExceeded

__all__ = ["Budget", "Difference", "first_difference", "short"]


class Difference:
    """Where a loaded value and its validated form first differ."""

    __slots__ = ("loaded", "validated")

    def __init__(self, loaded: Any, validated: Any) -> None:
        self.loaded = loaded
        self.validated = validated

    def describe(self) -> str:
        loaded, validated = self.loaded, self.validated
        if type(loaded) is not type(validated):
            return (
                f"the pickle holds {type(loaded).__name__} {short(loaded)} where validation "
                f"gives {type(validated).__name__} {short(validated)}"
            )
        return f"the pickle holds {short(loaded)} where validation gives {short(validated)}"


class Budget:
    """Value comparisons still allowed for one load: each compared value costs one (each item
    of a rebuilt container too, as pydantic walked it), so data shared by many models
    (re-validated once per model) cannot make the work unbounded."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise LimitExceeded(
                f"re-validating the loaded pydantic objects needed more than {self.limit:,} "
                "value comparisons (data shared by many models is re-validated once per "
                "model); the policy's max_opcodes limit bounds this work: for a trusted "
                "stream raise it, Policy(limits=Limits(max_opcodes=...))",
                limit="max_opcodes",
                maximum=self.limit,
            )


def first_difference(loaded: Any, validated: Any, budget: Budget) -> Difference | None:
    """None when ``validated`` is ``loaded`` unchanged, else the first difference found."""
    stack = [(loaded, validated)]
    seen: set[tuple[int, int]] = set()
    spent = 0
    left = budget.left
    try:
        while stack:
            a, b = stack.pop()
            if a is b:
                continue
            spent += 1
            if spent > left:
                break  # spend() below raises
            cls = type(a)
            if cls is not type(b):
                return Difference(a, b)
            if isinstance(a, (list, tuple, collections.deque)):
                if len(a) != len(b):
                    return Difference(a, b)
                if (id(a), id(b)) not in seen:
                    seen.add((id(a), id(b)))
                    spent += len(a)  # what pydantic walked to rebuild it, identical items too
                    stack.extend(zip(a, b, strict=True))
            elif isinstance(a, dict):
                if a.keys() != b.keys():
                    return Difference(a, b)
                if (id(a), id(b)) not in seen:
                    seen.add((id(a), id(b)))
                    spent += len(a)
                    stack.extend((a[key], b[key]) for key in a)
            elif isinstance(a, BaseModel) or (
                hasattr(a, "__dict__") and is_pydantic_dataclass(cls)
            ):
                continue  # a pydantic object: re-validated on its own
            elif not _equal(a, b):
                return Difference(a, b)
        return None
    finally:
        budget.spend(spent)


def _equal(a: Any, b: Any) -> bool:
    """``a == b``, with NaN equal to NaN (validation may hand back a new NaN object)."""
    try:
        return bool(a == b) or (_unequal_to_itself(a) and _unequal_to_itself(b))
    except Exception:  # a value whose comparison raises is not provably unchanged
        return False


def _unequal_to_itself(value: Any) -> bool:
    return bool(value != value)  # noqa: PLR0124 - true only for NaNs, which is the point


def short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."
