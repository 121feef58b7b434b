"""The state rule, for the pure-Python unpicklers the name gate covers.

A safepickle load refuses ``BUILD``, ``SETITEM(S)``, ``APPEND(S)`` and ``ADDITEMS`` aimed at
a global the stream imported (that is monkey-patching the process, never data). Libraries'
``pickle._Unpickler`` subclasses run pickle's own loop, so the patch wraps those opcodes'
handlers: each refuses a target that ``find_class`` handed out during this unpickler's loads.
The C unpickler's opcodes cannot be wrapped; its subclasses get the name gate only.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from ..errors import UnsafeOpcode

__all__ = ["HANDED_OUT", "OPCODE_HANDLERS", "gated_handler", "remember"]

#: pickle's pure-Python unpickler (captured before a patch replaces the module attribute)
_PY_UNPICKLER = pickle._Unpickler
#: instance attribute holding the ids of what find_class handed out (globals stay alive, so
#: their ids stay theirs)
HANDED_OUT = "_safepickle_handed_out"


def _below_mark(unpickler: Any) -> Any:
    return unpickler.metastack[-1][-1]  # SETITEMS, APPENDS, ADDITEMS: under their MARK


#: handler name -> (opcode name, where its target is before the handler runs)
OPCODE_HANDLERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "load_build": ("BUILD", lambda u: u.stack[-2]),
    "load_setitem": ("SETITEM", lambda u: u.stack[-3]),
    "load_setitems": ("SETITEMS", _below_mark),
    "load_append": ("APPEND", lambda u: u.stack[-2]),
    "load_appends": ("APPENDS", _below_mark),
    "load_additems": ("ADDITEMS", _below_mark),
}


def remember(unpickler: Any, obj: Any) -> Any:
    """Note that ``find_class`` handed ``obj`` to a pure-Python ``unpickler``."""
    if isinstance(unpickler, _PY_UNPICKLER):
        handed_out = unpickler.__dict__.get(HANDED_OUT)
        if handed_out is None:
            handed_out = unpickler.__dict__[HANDED_OUT] = set()
        handed_out.add(id(obj))
    return obj


def gated_handler(handler_name: str, original: Callable[[Any], None]) -> Callable[[Any], None]:
    """``original`` (pickle's handler of one of those opcodes), refusing an imported target."""
    opcode, target_of = OPCODE_HANDLERS[handler_name]

    def handler(self: Any) -> None:
        handed_out = self.__dict__.get(HANDED_OUT)
        if handed_out:
            try:
                target = target_of(self)
            except (IndexError, AttributeError):
                target = None  # a malformed stream: pickle's own handler reports it
            if target is not None and id(target) in handed_out:
                raise UnsafeOpcode(
                    f"{opcode} aimed at {target!r}, a global the stream imported: that would "
                    "change it for the whole process (refused by safepickle.patch())",
                    opcode=opcode,
                )
        original(self)

    handler.__wrapped__ = original  # type: ignore[attr-defined]
    handler.__qualname__ = getattr(original, "__qualname__", handler_name)
    return handler
