"""The default policy: plain data and the standard library's value types.

Each entry says why it is safe to call with *any* arguments an attacker chooses: these are
constructors of immutable or plain values that run no code taken from the stream, import nothing
by name and touch no file, process or socket. Where the real callable is not safe with any
arguments (it copies a shared value, hashes or renders one, converts a number in unbounded time,
looks a codec up by name), the stream gets a *narrowed* stand-in instead: it checks the types
and sizes of the top-level arguments first, charges what the call copies to the load's budget,
and returns the real type. See :mod:`safepickle.builtin.narrowed` and the modules beside it.
"""

from __future__ import annotations

import types
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from safepickle.decision import Decision, GlobalRef
from safepickle.hookspecs import hookimpl

from .containers import container_substitutes
from .narrowed import real_of
from .numeric import numeric_substitutes
from .reconstruct import copyreg_substitutes
from .text import TEXT_SUBSTITUTES
from .values import bounded_range, value_substitutes

if TYPE_CHECKING:
    from safepickle.policy import Policy

__all__ = ["SAFE_GLOBALS", "safepickle_decide", "substitutes"]

_VALUE = "constructs a plain value from its arguments; runs no code from the stream"
_TYPED = (
    "constructs a plain value; its C constructor takes typed arguments (ints, bytes, tzinfo) "
    "and names only their types in errors"
)
_COPIES = "narrowed to plain containers (whose iteration runs no code); the copy is charged to "
_HASHES = (
    "; hashing the keys is bounded by max_hash_work (counted unfolded) and refused past "
    "max_hash_collisions colliding keys"
)
_PATH = (
    "narrowed to str parts, the copy charged to the load's budget; string manipulation only, "
    "no file system access"
)
_IP = (
    "narrowed to str, int or packed bytes addresses (the real one renders other arguments "
    "with str())"
)

#: canonical name -> why it is safe with any arguments (what its narrowing guarantees)
SAFE_GLOBALS: types.MappingProxyType[str, str] = types.MappingProxyType(
    {
        # builtins: value types and the singletons pickle writes by name
        "builtins.set": _COPIES + "the load's budget" + _HASHES,
        "builtins.frozenset": _COPIES + "the load's budget" + _HASHES,
        "builtins.bytearray": "narrowed: no bytearray(n); copies of bytes-like values and "
        "containers of ints, and str with the UTF-8/ASCII/Latin-1 codecs (never looked up), "
        "charged to the load's budget",
        "builtins.bytes": "narrowed: no bytes(n); copies of bytes-like values and containers "
        "of ints, and str with the UTF-8/ASCII/Latin-1 codecs (never looked up), charged to "
        "the load's budget",
        "builtins.complex": "narrowed to numbers and text; Decimals and Fractions are bounded",
        "builtins.range": "narrowed to at most max_container_items items (anything iterating "
        "a range materialises it); the verifier also refuses one passed straight into a "
        "materialising constructor",
        "builtins.slice": _VALUE,
        "builtins.int": "narrowed to numbers and text; text and Decimals of at most "
        "max_int_digits digits (conversion is quadratic)",
        "builtins.float": "narrowed to numbers and text; Decimals and Fractions are bounded",
        "builtins.bool": "truth value of a value the policy allowed: a length or a flag",
        "builtins.str": "narrowed to str(str), str(bytes) and str(bytes, encoding) with the "
        "UTF-8/ASCII/Latin-1 codecs (never looked up): nothing else is ever rendered",
        "builtins.list": _COPIES + "the load's budget",
        "builtins.tuple": _COPIES + "the load's budget",
        "builtins.dict": "narrowed to plain mappings and lists of pairs, the copy charged to "
        "the load's budget" + _HASHES,
        "builtins.object": "object() makes an empty object; copyreg._reconstructor names it",
        "builtins.Ellipsis": "a singleton constant",
        "builtins.NotImplemented": "a singleton constant",
        # copyreg: how protocols 0-2 rebuild instances of classes the policy allowed
        "copyreg._reconstructor": "narrowed to what the pickler writes (a Python class and its "
        "first built-in base); the state goes through the base's narrowed constructor",
        "copyreg.__newobj__": "cls.__new__(cls, *args) for a class the policy decided; the "
        "arguments go through its built-in base's narrowed constructor",
        "copyreg.__newobj_ex__": "cls.__new__(cls, *args, **kw) for a class the policy "
        "decided; the arguments go through its built-in base's narrowed constructor",
        # datetime family
        "datetime.date": _TYPED,
        "datetime.time": _TYPED,
        "datetime.datetime": _TYPED,
        "datetime.timedelta": _TYPED,
        "datetime.timezone": _TYPED,
        "datetime.tzinfo": "abstract base: constructs an empty tzinfo",
        "zoneinfo.ZoneInfo._unpickle": "narrowed to well-formed zone keys found as files under "
        "zoneinfo.TZPATH (or in a tzdata package already imported): nothing is imported, "
        "files are only read",
        # numbers
        "decimal.Decimal": "narrowed: at most max_int_digits digits and an adjusted exponent "
        "within +-max_int_digits, so every later conversion (int, float, format) is bounded",
        "fractions.Fraction": "narrowed to Fraction('p/q') and Fraction(p, q) of ints of at "
        "most max_int_digits digits: no exponents",
        # identifiers and addresses
        "uuid.UUID": "narrowed to hex text, 16 bytes, int fields or a 128-bit int; a state "
        "(BUILD) of a 128-bit int and a SafeUUID value only",
        "uuid.SafeUUID": "narrowed to the values of its three members (an enum's failed "
        "lookup hashes and renders its argument)",
        "ipaddress.IPv4Address": _IP,
        "ipaddress.IPv6Address": _IP,
        "ipaddress.IPv4Network": _IP + ", or an (address, prefix) tuple",
        "ipaddress.IPv6Network": _IP + ", or an (address, prefix) tuple",
        "ipaddress.IPv4Interface": _IP + ", or an (address, prefix) tuple",
        "ipaddress.IPv6Interface": _IP + ", or an (address, prefix) tuple",
        # collections
        "collections.OrderedDict": "narrowed to plain mappings and lists of pairs, the copy "
        "charged to the load's budget" + _HASHES,
        "collections.defaultdict": "its default_factory can only be a global the policy "
        "allowed, called with no arguments; its items narrowed as dict's" + _HASHES,
        "collections.deque": _COPIES + "the load's budget",
        "collections.Counter": _COPIES + "the load's budget" + _HASHES,
        "collections.ChainMap": "keeps references to its maps; copies and iterates nothing",
        "collections.UserDict": "narrowed to plain mappings and lists of pairs, the copy "
        "charged to the load's budget" + _HASHES,
        "collections.UserList": _COPIES + "the load's budget",
        "collections.UserString": "narrowed to UserString(str) (it renders anything else)",
        "array.array": "narrowed to bytes, str and plain containers, the copy charged to the "
        "load's budget",
        "array._array_reconstructor": "rebuilds an array from a typecode and machine bytes, "
        "charged to the load's budget",
        # pure paths: string manipulation only, no file system access
        "pathlib.PurePath": _PATH,
        "pathlib.PurePosixPath": _PATH,
        "pathlib.PureWindowsPath": _PATH,
        "pathlib._local.PurePath": _PATH,
        "pathlib._local.PurePosixPath": _PATH,
        "pathlib._local.PureWindowsPath": _PATH,
        # protocols 0-2 write bytes as _codecs.encode(text, "latin1"): narrowed, see above
        "_codecs.encode": "narrowed to encode(str, 'latin1'), the only call picklers write; "
        "the codec is never looked up",
    }
)


@lru_cache(maxsize=16)
def substitutes(max_int_digits: int, max_container_items: int) -> dict[str, Any]:
    """The narrowed stand-ins the default policy hands out, by dotted name, for these limits
    (names absent from it are handed out as they are)."""
    table: dict[str, Any] = {
        **numeric_substitutes(max_int_digits),
        **TEXT_SUBSTITUTES,
        **container_substitutes(),
        **value_substitutes(),
        "builtins.range": bounded_range(max_container_items),
    }
    # copyreg's helpers put a built-in base's arguments through its narrowed constructor
    by_real: dict[type, Any] = {}
    for sub in table.values():
        real = real_of(sub)
        if isinstance(real, type):
            by_real[real] = sub
    table.update(copyreg_substitutes(by_real))
    return table


@hookimpl
def safepickle_decide(ref: GlobalRef, policy: Policy) -> Decision | None:
    """Allow the standard library's plain value types; abstain on everything else."""
    dotted = ref.dotted
    reason = SAFE_GLOBALS.get(dotted)
    if reason is None:
        return None
    limits = policy.limits  # decisions are cached per policy, so per limits too
    table = substitutes(limits.max_int_digits, limits.max_container_items)
    return Decision.allow(reason, rule="stdlib", substitute=table.get(dotted))
