"""What the default policy's narrowed constructors share: refusals, the budget, plain arguments.

A *narrowed* constructor stands in for a standard-library callable in the default policy: it
checks the types (and sizes) of its top-level arguments with cheap tests, charges what the call
will copy to the load's budget (:mod:`safepickle.budget`), and only then calls the real
callable, which returns the real type. Nothing of an argument of an unchecked type is ever
rendered (``str``, ``repr``, ``%r`` in an error message), iterated by Python code or hashed
before it is checked.

The modules beside this one hold the constructors: :mod:`.numeric`, :mod:`.text`,
:mod:`.containers`, :mod:`.reconstruct` and :mod:`.values`; :mod:`.stdlib` hands them out.
"""

from __future__ import annotations

import array
import collections
from collections.abc import Callable
from typing import Any, TypeVar

from safepickle.budget import charge
from safepickle.errors import ExecutionError

__all__ = [
    "PLAIN_ITERABLES",
    "StandIn",
    "charge",
    "charge_items",
    "charge_work",
    "real_of",
    "refuse",
    "register",
]

_PLUGIN = "safepickle.builtin.stdlib"

#: what iterating runs no Python code: the C iterators of plain containers. ``UserList``,
#: ``UserString``, ``ChainMap`` ... iterate with Python methods over state a ``BUILD`` may have
#: set to anything, and are refused as arguments.
PLAIN_ITERABLES: frozenset[type] = frozenset(
    {
        list,
        tuple,
        set,
        frozenset,
        dict,
        str,
        bytes,
        bytearray,
        range,
        collections.deque,
        collections.OrderedDict,
        collections.Counter,
        collections.defaultdict,
        array.array,
    }
)

#: bytes one reference in a list, tuple or deque takes
REF = 8
#: a new int object (outside CPython's cache of -5..256), a float, a one-character str
_NEW_OBJECT = 40


def refuse(dotted: str, why: str) -> ExecutionError:
    """The error of a call outside a narrowed constructor's shapes: ``dotted`` is allowed, but
    not with these arguments. ``why`` says what was refused and what is accepted.

    It is an :class:`~safepickle.ExecutionError`, as when the real constructor rejects its
    arguments: only running the stream shows them, so a scan that found the stream clean
    cannot have seen it (``docs/scanning.md``).
    """
    return ExecutionError(
        f"safepickle refuses this call of '{dotted}': {why} [narrowed by {_PLUGIN}]"
    )


def type_name(value: object) -> str:
    """The name of a value's type, the only thing of an unchecked argument a message shows."""
    return type(value).__qualname__


def new_items_per(value: object) -> int:
    """Bytes a copy of ``value``'s items takes per item beyond the reference: iterating a
    range, an array or a non-ASCII str creates an object per item; every other plain container
    hands out objects that already exist."""
    kind = type(value)
    if kind is range or kind is array.array:
        return _NEW_OBJECT
    if kind is str and not value.isascii():  # type: ignore[attr-defined]
        return _NEW_OBJECT  # one-character strings are cached for latin-1 only
    return 0


def charge_items(value: object, per_item: int, what: str, count: int | None = None) -> None:
    """Charge the budget for a container of ``count`` (default ``len(value)``) items made from
    ``value``: ``per_item`` bytes each (the new container's slot), plus the objects iterating
    ``value`` creates, plus a header."""
    if count is None:
        count = len(value)  # type: ignore[arg-type]
    charge(64 + count * (per_item + new_items_per(value)), what)


def quadratic(digits: int) -> int:
    """The work of converting a number of ``digits`` decimal digits (text to int, int to
    Decimal, a gcd): measured, about what copying ``digits**2 / 16`` bytes takes."""
    return digits * digits // 16


def charge_work(nbytes: int, what: str) -> None:
    """Charge CPU work, as the bytes copying would take as long, to the load's budget.

    A conversion can cost far more time than its result takes memory, and a stream can repeat
    it through memo references for a few bytes a call: ``Fraction(p/q)`` of 4,300-digit text
    takes 0.3 ms and six bytes of stream. The budget has no CPU dimension of its own, so the
    work is charged to ``max_result_bytes`` at its copying-equivalent: a stream can make at
    most ``result_bound`` bytes' worth of copying's time of such work. ``what`` is a constant
    (formatting one on every call would cost more than the charge): "int(text) conversion
    work".
    """
    charge(nbytes, what)


def plain_iterable(dotted: str, value: object, what: str) -> int:
    """``len(value)`` when ``value`` is a plain container; refuse anything else."""
    if type(value) not in PLAIN_ITERABLES:
        raise refuse(
            dotted,
            f"{what} of a {type_name(value)}: only plain containers (list, tuple, set, dict, "
            "str, bytes, range, deque, array ...) are accepted, whose iteration runs no code",
        )
    return len(value)  # type: ignore[arg-type]


# --- substitutes and the real objects they stand for ------------------------------------------

# A narrowed constructor is handed out wherever the stream names the real one, also where the
# stream uses it as a value: a defaultdict's default_factory, the base in
# copyreg._reconstructor, the array type in array._array_reconstructor. The narrowed versions of
# those callables map it back to the real object with real_of.
_REAL: dict[int, tuple[object, object]] = {}

F = TypeVar("F", bound=Callable[..., Any])


def register(substitute: F, real: object) -> F:
    """Remember that ``substitute`` stands for ``real`` (see :func:`real_of`)."""
    _REAL[id(substitute)] = (substitute, real)
    return substitute


def real_of(value: object) -> object:
    """The real callable ``value`` stands for, or ``value`` itself."""
    found = _REAL.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    return value


class _StandInType(type):
    """Calling a stand-in class (``REDUCE``, ``copyreg``'s checks) is its narrowed
    constructor; ``NEWOBJ`` does not call the class, it calls ``__new__`` (see below)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.construct(*args, **kwargs)  # type: ignore[attr-defined]


class StandIn(metaclass=_StandInType):
    """Base of the stand-ins for classes that ``NEWOBJ`` creates (it needs a class).

    Calling one (``REDUCE``) runs :meth:`construct`, the narrowed constructor, which returns an
    instance of the real class. ``NEWOBJ`` and ``copyreg.__newobj__`` call ``cls.__new__(cls,
    *args)`` instead, which for the real classes (all with ``object.__new__`` and their own
    ``__init__``) makes a blank instance and ignores the arguments: so does :meth:`blank`, as
    ``pickle`` would (a ``UserList`` made by ``NEWOBJ`` alone has no ``data`` yet)."""

    __slots__ = ()
    #: the class it stands for
    real: type

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.blank()

    @classmethod
    def construct(cls, *args: Any, **kwargs: Any) -> Any:
        """The narrowed constructor: what calling the real class would return."""
        raise NotImplementedError

    @classmethod
    def blank(cls) -> Any:
        """What ``NEWOBJ`` (or ``copyreg._reconstructor(cls, object, None)``) makes: an
        instance whose state a ``BUILD`` sets next."""
        return object.__new__(cls.real)


def is_substitute(value: object) -> bool:
    found = _REAL.get(id(value))
    return found is not None and found[0] is value
