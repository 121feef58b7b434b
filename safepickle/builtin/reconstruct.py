"""copyreg's reconstruction helpers, narrowed: ``_reconstructor``, ``__newobj__``,
``__newobj_ex__``.

Each calls a class's ``__new__`` (and ``__init__``) with arguments from the stream: through
them a stream could reach ``str.__new__(cls, graph)``, ``frozenset.__new__(cls, graph)``,
``dict.__init__(obj, pairs)`` ... of any class whose built-in base is one of those. They accept
what CPython's pickler writes (a Python class and the first built-in class of its MRO, as
``copyreg._reduce_ex`` picks it) and put the arguments through that base's narrowed
constructor first; a narrowed stand-in named as the class or the base is mapped back to the
real class.
"""

from __future__ import annotations

import collections
import copyreg
import types
from collections.abc import Callable, Mapping
from typing import Any

from .narrowed import StandIn, is_substitute, real_of, refuse

__all__ = ["copyreg_substitutes"]

_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made at run time (in Python, or FromSpec)

#: built-in types whose __new__ ignores its arguments (their __init__ fills them)
_NEW_IGNORES_ARGS = frozenset(
    {
        list,
        dict,
        set,
        bytearray,
        collections.deque,
        collections.OrderedDict,
        collections.defaultdict,
        collections.Counter,
        object,
    }
)


#: what ``int.__new__`` is: a type's own C ``__new__`` (copyreg's ``_new_type``)
_BUILTIN_NEW = types.BuiltinFunctionType


def _static_base(cls: type) -> type:
    """The first built-in class in ``cls``'s MRO: the type whose ``__new__`` and ``__init__``
    really build an instance of ``cls``. The rule of ``copyreg._reduce_ex``, which picks the
    base the pickler writes: a static type, or a type whose ``__new__`` is its own builtin (an
    extension type made at run time: ``array``, ``deque``, 3.13's ``Decimal``)."""
    for base in cls.__mro__:
        if not base.__flags__ & _HEAPTYPE:
            return base
        new: object = base.__new__
        if isinstance(new, _BUILTIN_NEW) and new.__self__ is base:
            return base
    return object  # pragma: no cover - every MRO ends with object


def copyreg_substitutes(narrowed: Mapping[type, Callable[..., Any]]) -> dict[str, Any]:
    """copyreg's helpers, which put their arguments through ``narrowed`` (real built-in type ->
    its narrowed constructor) wherever a built-in base would consume them."""

    def check(base: type, args: tuple[Any, ...]) -> None:
        """Put ``args`` through ``base``'s narrowed constructor (which charges the budget) if
        it has one; the instance it builds is thrown away."""
        constructor = narrowed.get(base)
        if constructor is not None:
            constructor(*args)

    def reconstructor_(*args: Any) -> Any:
        dotted = "copyreg._reconstructor"
        if len(args) != 3:
            raise refuse(dotted, "it takes (class, base, state)")
        cls, base, state = args
        if isinstance(cls, type) and issubclass(cls, StandIn) and real_of(base) is object:
            return cls.blank()
        cls, base = real_of(cls), real_of(base)
        if not (isinstance(cls, type) and isinstance(base, type)):
            raise refuse(dotted, "the class and the base must be classes")
        if not (cls is object or cls.__flags__ & _HEAPTYPE):
            raise refuse(dotted, "the class must be a Python class (or object)")
        if base is object:
            return copyreg._reconstructor(cls, object, None)  # type: ignore[attr-defined]
        # What the pickler writes (copyreg._reduce_ex): a Python class and the first built-in
        # class in its MRO, the state being that base's value of the object.
        if not cls.__flags__ & _HEAPTYPE or cls is base or _static_base(cls) is not base:
            raise refuse(
                dotted,
                "the base must be the first built-in class of a Python class, as the pickler "
                "writes it",
            )
        check(base, (state,))
        return copyreg._reconstructor(cls, base, state)  # type: ignore[attr-defined]

    def new_object(dotted: str, cls: Any, args: Any, kwargs: Any) -> Any:
        if isinstance(cls, type) and issubclass(cls, StandIn):
            if kwargs:
                raise refuse(dotted, "this class takes no keyword arguments")
            return cls.__new__(cls, *args)
        if is_substitute(cls) or not isinstance(cls, type):
            # the pickler writes NEWOBJ for the object's own class, never for a narrowed
            # built-in such as list or str
            raise refuse(dotted, "only a Python class is accepted (not a narrowed constructor)")
        base = _static_base(cls)
        if base not in _NEW_IGNORES_ARGS:
            if kwargs:
                raise refuse(dotted, f"{base.__qualname__}.__new__ takes no keyword arguments")
            check(base, args)
        return cls.__new__(cls, *args, **kwargs)

    def newobj_(*args: Any) -> Any:
        if not args:
            raise refuse("copyreg.__newobj__", "it takes a class and its arguments")
        return new_object("copyreg.__newobj__", args[0], args[1:], {})

    def newobj_ex_(*args: Any) -> Any:
        dotted = "copyreg.__newobj_ex__"
        if len(args) != 3 or type(args[1]) is not tuple or type(args[2]) is not dict:
            raise refuse(dotted, "it takes a class, a tuple and a dict")
        if not set(map(type, args[2])) <= {str}:
            raise refuse(dotted, "keyword names must be str")
        return new_object(dotted, args[0], args[1], args[2])

    return {
        "copyreg._reconstructor": reconstructor_,
        "copyreg.__newobj__": newobj_,
        "copyreg.__newobj_ex__": newobj_ex_,
    }
