"""The default policy: plain data and the standard library's value types.

Each entry says why it is safe to call with *any* arguments an attacker chooses: these are
constructors of immutable or plain values that run no code taken from the stream, import nothing
by name and touch no file, process or socket.
"""

from __future__ import annotations

import decimal
import fractions
import re
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from safepickle.decision import Decision, GlobalRef
from safepickle.errors import LimitExceeded
from safepickle.hookspecs import hookimpl

if TYPE_CHECKING:
    from safepickle.policy import Policy

__all__ = ["SAFE_GLOBALS", "safepickle_decide"]


def _latin1_bytes(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocols 0-2 use it for bytes: ``encode(text, "latin1")`` only.

    The real ``_codecs.encode`` looks codecs up by name, which may import modules; the pickler
    only ever writes latin1, so nothing else is accepted.
    """
    if type(obj) is not str or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise ValueError("safepickle accepts _codecs.encode(str, 'latin1') only")
    return obj.encode("latin-1", errors)


def _bounded_range(maximum: int) -> Callable[..., range]:
    """``range`` that refuses more than ``maximum`` items (the policy's max_container_items).

    A range costs a few bytes of pickle whatever its length, and any callable that iterates its
    argument (a plugin's ``numpy.mean``, ``pandas.DataFrame``, a list inside it) would
    materialise it: the verifier refuses ranges passed straight into the standard library's
    materialisers, and this bound closes the rest, nested or not."""

    def range_(*args: Any) -> range:
        value = range(*args)
        try:
            length = len(value)
        except OverflowError:  # more items than a C ssize_t counts
            length = maximum + 1
        if length > maximum:
            raise LimitExceeded(
                f"the stream builds a range of more than max_container_items={maximum:,} "
                "items, which anything iterating it would materialise; if you trust this "
                "input, raise the limit: Policy(limits=Limits(max_container_items=...))",
                limit="max_container_items",
                maximum=maximum,
            )
        return value

    return range_


def _bytes(*args: Any) -> bytes:
    """``bytes`` without ``bytes(n)``: an int argument allocates n bytes (``bytes(10**12)``)."""
    if args and isinstance(args[0], int):
        raise ValueError("safepickle refuses bytes(n) from a pickle: it would allocate n bytes")
    return bytes(*args)


def _bytearray(*args: Any) -> bytearray:
    """``bytearray`` without ``bytearray(n)``, for the same reason as :func:`_bytes`."""
    if args and isinstance(args[0], int):
        raise ValueError("safepickle refuses bytearray(n) from a pickle: it allocates n bytes")
    return bytearray(*args)


_FRACTION_TEXT = re.compile(r"\s*[+-]?[0-9]{1,4300}(?:/[0-9]{1,4300})?\s*\Z")
# Converting an int to decimal digits, or a gcd of two ints, is quadratic in their size: a
# 250 KB int in a pickle costs seconds. Bound ints to what 4,300 decimal digits hold (CPython's
# own default limit for int/str conversion).
_MAX_INT_BITS = 14_300


def _small_int(value: object) -> bool:
    return not isinstance(value, int) or value.bit_length() <= _MAX_INT_BITS


def _fraction(*args: Any) -> fractions.Fraction:
    """``Fraction`` from what ``Fraction.__reduce__`` writes ("3/4") or two bounded ints; the
    general string form takes exponents, and ``Fraction("1e999999999")`` computes a giant
    power."""
    if len(args) == 1 and isinstance(args[0], str) and not _FRACTION_TEXT.match(args[0]):
        raise ValueError("safepickle accepts Fraction('p/q') and Fraction(p, q) only")
    if not all(isinstance(arg, (str, int)) and _small_int(arg) for arg in args):
        raise ValueError(
            "safepickle accepts Fraction('p/q') and Fraction(p, q) of ints up to 4,300 digits only"
        )
    return fractions.Fraction(*args)


def _decimal(*args: Any) -> decimal.Decimal:
    """``Decimal`` without giant ints (their conversion is quadratic); pickles write strings."""
    if args and not _small_int(args[0]):
        raise ValueError("safepickle refuses Decimal(int) of more than 4,300 digits")
    return decimal.Decimal(*args)


_CONSTRUCTS_VALUE = "constructs a plain value from its arguments; runs no code from the stream"

#: canonical name -> why it is safe with any arguments
SAFE_GLOBALS: types.MappingProxyType[str, str] = types.MappingProxyType(
    {
        # builtins: value types and the singletons pickle writes by name
        "builtins.set": _CONSTRUCTS_VALUE,
        "builtins.frozenset": _CONSTRUCTS_VALUE,
        "builtins.bytearray": "narrowed: no bytearray(n), which would allocate n bytes",
        "builtins.bytes": "narrowed: no bytes(n), which would allocate n bytes",
        "builtins.complex": _CONSTRUCTS_VALUE,
        "builtins.range": "narrowed to at most max_container_items items (anything iterating "
        "a range materialises it); the verifier also refuses one passed straight into a "
        "materialising constructor",
        "builtins.slice": _CONSTRUCTS_VALUE,
        "builtins.int": _CONSTRUCTS_VALUE,
        "builtins.float": _CONSTRUCTS_VALUE,
        "builtins.bool": _CONSTRUCTS_VALUE,
        "builtins.str": "str(x) calls x.__str__, but x can only be a value the policy allowed",
        "builtins.list": "list(x) iterates x, which can only be a value the policy allowed",
        "builtins.tuple": "tuple(x) iterates x, which can only be a value the policy allowed",
        "builtins.dict": "dict(x) iterates x, which can only be a value the policy allowed",
        "builtins.object": "object() makes an empty object; copyreg._reconstructor names it",
        "builtins.Ellipsis": "a singleton constant",
        "builtins.NotImplemented": "a singleton constant",
        # copyreg: how protocols 0-2 rebuild instances of classes the policy allowed
        "copyreg._reconstructor": "object.__new__/base.__init__ of classes that are globals "
        "the policy decided separately",
        "copyreg.__newobj__": "cls.__new__(cls, *args) for a cls the policy decided separately",
        "copyreg.__newobj_ex__": "cls.__new__(cls, *args, **kw) for a cls the policy decided",
        # datetime family
        "datetime.date": _CONSTRUCTS_VALUE,
        "datetime.time": _CONSTRUCTS_VALUE,
        "datetime.datetime": _CONSTRUCTS_VALUE,
        "datetime.timedelta": _CONSTRUCTS_VALUE,
        "datetime.timezone": _CONSTRUCTS_VALUE,
        "datetime.tzinfo": "abstract base: constructs an empty tzinfo",
        "zoneinfo.ZoneInfo._unpickle": "reads a time zone by key; keys are validated by "
        "zoneinfo (no absolute paths, no '..'), read-only",
        # numbers
        "decimal.Decimal": "narrowed: no Decimal(int) beyond 4,300 digits (quadratic)",
        "fractions.Fraction": "narrowed to Fraction('p/q') and Fraction(p, q): no exponents",
        # identifiers and addresses
        "uuid.UUID": _CONSTRUCTS_VALUE,
        "uuid.SafeUUID": "an enum; calling it looks a member up by value",
        "ipaddress.IPv4Address": _CONSTRUCTS_VALUE,
        "ipaddress.IPv6Address": _CONSTRUCTS_VALUE,
        "ipaddress.IPv4Network": _CONSTRUCTS_VALUE,
        "ipaddress.IPv6Network": _CONSTRUCTS_VALUE,
        "ipaddress.IPv4Interface": _CONSTRUCTS_VALUE,
        "ipaddress.IPv6Interface": _CONSTRUCTS_VALUE,
        # collections
        "collections.OrderedDict": _CONSTRUCTS_VALUE,
        "collections.defaultdict": "its default_factory can only be a global the policy "
        "allowed, called with no arguments",
        "collections.deque": _CONSTRUCTS_VALUE,
        "collections.Counter": _CONSTRUCTS_VALUE,
        "collections.ChainMap": _CONSTRUCTS_VALUE,
        "collections.UserDict": _CONSTRUCTS_VALUE,
        "collections.UserList": _CONSTRUCTS_VALUE,
        "collections.UserString": _CONSTRUCTS_VALUE,
        "array.array": _CONSTRUCTS_VALUE,
        "array._array_reconstructor": "rebuilds an array from a typecode and machine bytes",
        # pure paths: string manipulation only, no file system access
        "pathlib.PurePath": _CONSTRUCTS_VALUE + "; no file system access",
        "pathlib.PurePosixPath": _CONSTRUCTS_VALUE + "; no file system access",
        "pathlib.PureWindowsPath": _CONSTRUCTS_VALUE + "; no file system access",
        "pathlib._local.PurePath": _CONSTRUCTS_VALUE + "; no file system access",
        "pathlib._local.PurePosixPath": _CONSTRUCTS_VALUE + "; no file system access",
        "pathlib._local.PureWindowsPath": _CONSTRUCTS_VALUE + "; no file system access",
        # protocols 0-2 write bytes as _codecs.encode(text, "latin1"): narrowed, see above
        "_codecs.encode": "narrowed to encode(str, 'latin1'), the only call picklers write",
    }
)

# Narrowed stand-ins for constructors whose general forms amplify: handed out instead of the real
# callable; they return the real types.
_SUBSTITUTES: dict[str, Any] = {
    "_codecs.encode": _latin1_bytes,
    "builtins.bytes": _bytes,
    "builtins.bytearray": _bytearray,
    "fractions.Fraction": _fraction,
    "decimal.Decimal": _decimal,
}


@hookimpl
def safepickle_decide(ref: GlobalRef, policy: Policy) -> Decision | None:
    """Allow the standard library's plain value types; abstain on everything else."""
    dotted = ref.dotted
    reason = SAFE_GLOBALS.get(dotted)
    if reason is None:
        return None
    if dotted == "builtins.range":  # bounded by this policy's limit (decisions are per policy)
        substitute = _bounded_range(policy.limits.max_container_items)
        return Decision.allow(reason, rule="stdlib", substitute=substitute)
    return Decision.allow(reason, rule="stdlib", substitute=_SUBSTITUTES.get(dotted))
