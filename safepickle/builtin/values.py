"""Narrowed value types: ``uuid``, ``ipaddress``, ``pathlib``'s pure paths, ``zoneinfo``,
``range``.

* **Rendering in the real constructors.** ``IPv4Address(x)`` does ``str(x)`` of anything not an
  int or bytes; ``SafeUUID(x)`` (an Enum) hashes ``x`` and formats ``%r`` of it in its
  ``ValueError``; ``UUID.__setstate__`` (run by ``BUILD``) calls ``SafeUUID`` on the state's
  ``is_safe``. Each is given the argument types its pickles carry, checked first.
* **Imports.** ``ZoneInfo._unpickle(key, ...)`` reads a zone from the system's ``TZPATH`` or,
  when the key is not there, imports ``importlib.resources`` and ``tzdata.zoneinfo.<region>``
  packages named after the key. A key is accepted only if it is a well-formed zone name found
  as a file under ``zoneinfo.TZPATH`` (a path check, nothing imported), or if the ``tzdata``
  package of its region was already imported by the program. ``zoneinfo`` itself is imported
  (when the stream calls it): it is the module the policy allows.
* **Copies.** ``PurePath(*parts)`` joins its parts: one memoized string passed a million times
  is charged to the budget first.

The modules are imported when a stream uses them, not with the policy.
"""

from __future__ import annotations

import enum
import importlib
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from safepickle.errors import LimitExceeded

from .narrowed import StandIn, charge, refuse, register, type_name

__all__ = ["bounded_range", "value_substitutes"]

#: longest address text accepted (an IPv6 address with a scope id is under 100 characters)
_MAX_ADDRESS_TEXT = 4096
#: a zone key: names of letters, digits, '_', '-', '+', separated by '/' (no '.', so no '..',
#: no absolute path, no NUL); zoneinfo's own keys are at most 32 characters
_ZONE_KEY = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*\Z")


def _module(name: str) -> Any:
    return sys.modules.get(name) or importlib.import_module(name)


# --- uuid ------------------------------------------------------------------------------------


def _uuid_int(value: object) -> bool:
    return type(value) is int and 0 <= value < 1 << 128


_UUID_KEYS = frozenset({"int", "is_safe"})
_checked: list[type] = []  # the class below, made once uuid is imported


def _checked_uuid() -> type:
    """A private subclass of ``uuid.UUID`` whose ``__setstate__`` checks the state, then turns
    the instance into a plain ``uuid.UUID`` (same layout: only the class changes). ``NEWOBJ`` of
    ``uuid.UUID`` makes one, for the ``BUILD`` that follows to fill."""
    if _checked:
        return _checked[0]
    uuid = _module("uuid")
    real, safe = uuid.UUID, uuid.SafeUUID
    set_attribute = object.__setattr__

    class CheckedUUID(real):  # type: ignore[misc,valid-type]
        __slots__ = ()

        def __setstate__(self, state: Any) -> None:
            number = state.get("int") if type(state) is dict else None
            if (
                type(number) is not int
                or not 0 <= number < 1 << 128
                or not state.keys() <= _UUID_KEYS
                or ("is_safe" in state and not _safe_uuid_value(state["is_safe"]))
            ):
                raise refuse(
                    "uuid.UUID",
                    "a UUID's state must be {'int': a 128-bit int[, 'is_safe': 0, -1 or None]}",
                )
            # what UUID.__setstate__ does (3.10-3.13), with the state now known to be sound
            set_attribute(self, "int", number)
            is_safe = safe(state["is_safe"]) if "is_safe" in state else safe.unknown
            set_attribute(self, "is_safe", is_safe)
            set_attribute(self, "__class__", real)

    _checked.append(CheckedUUID)
    return CheckedUUID


class UUIDStandIn(StandIn):
    """``uuid.UUID``: ``NEWOBJ`` (and protocol 0-1's ``_reconstructor``) gives a checked blank
    for ``BUILD``; a call takes ``hex`` text, 16 ``bytes``/``bytes_le``, six int ``fields`` or
    a 128-bit ``int``, and a version."""

    __slots__ = ()

    @classmethod
    def blank(cls) -> Any:
        return object.__new__(_checked_uuid())

    @classmethod
    def construct(cls, *args: Any) -> Any:
        if not args:
            return cls.blank()
        if len(args) > 6 or sum(arg is not None for arg in args[:5]) != 1:
            raise refuse("uuid.UUID", "exactly one of hex, bytes, bytes_le, fields, int")
        padded: tuple[Any, ...] = (*args, *(None,) * (6 - len(args)))
        hex_, bytes_, bytes_le, fields, int_, version = padded
        if not (
            (hex_ is None or (type(hex_) is str and len(hex_) <= 64))
            and (bytes_ is None or (type(bytes_) is bytes and len(bytes_) == 16))
            and (bytes_le is None or (type(bytes_le) is bytes and len(bytes_le) == 16))
            and (
                fields is None
                or (
                    type(fields) is tuple
                    and len(fields) == 6
                    and all(type(f) is int and 0 <= f < 1 << 64 for f in fields)
                )
            )
            and (int_ is None or _uuid_int(int_))
            and (version is None or (type(version) is int and 0 <= version < 16))
        ):
            raise refuse(
                "uuid.UUID",
                "UUID takes hex text, 16 bytes, six int fields or a 128-bit int, and an int "
                "version",
            )
        return _module("uuid").UUID(*args)


def _safe_uuid_value(value: object) -> bool:
    return type(value) in (int, bool, type(None)) and value in (0, -1, None)


def _safe_uuid(*args: Any, **kwargs: Any) -> Any:
    """``uuid.SafeUUID(value)``: an enum looks the value up (hashing it) and formats ``%r`` of
    it when that fails; only the three members' values are accepted."""
    if kwargs or len(args) != 1 or not _safe_uuid_value(args[0]):
        raise refuse("uuid.SafeUUID", "only SafeUUID(0), SafeUUID(-1) and SafeUUID(None)")
    return _module("uuid").SafeUUID(args[0])


class _NarrowedEnumType(enum.EnumMeta):
    """The stand-in for ``uuid.SafeUUID`` is an enum class itself, because what calling one
    returns is a member shared by the whole process, and the loader refuses a ``BUILD`` on the
    result of an enum class."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return _safe_uuid(*args, **kwargs)


class SafeUUIDStandIn(enum.Enum, metaclass=_NarrowedEnumType):
    """Stands for ``uuid.SafeUUID``; it has no members. ``NEWOBJ`` calls ``__new__`` without
    the metaclass: an enum's own ``__new__`` hashes the value, so it is replaced too (after
    the class is made: the enum machinery installs its own)."""


def _safe_uuid_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return _safe_uuid(*args, **kwargs)


type.__setattr__(SafeUUIDStandIn, "__new__", staticmethod(_safe_uuid_new))


# --- ipaddress -------------------------------------------------------------------------------


def _address(value: object, bits: int) -> bool:
    kind = type(value)
    if kind is int:
        return 0 <= value < 1 << bits  # type: ignore[operator]
    if kind is bytes:
        return len(value) == bits // 8  # type: ignore[arg-type]
    return kind is str and len(value) <= _MAX_ADDRESS_TEXT  # type: ignore[arg-type]


def _network(value: object, bits: int) -> bool:
    """An address, or the (address, prefix) tuple networks and interfaces also take."""
    if type(value) is tuple:
        return (
            len(value) == 2
            and _address(value[0], bits)
            and ((type(value[1]) is int and 0 <= value[1] <= bits) or _address(value[1], bits))
        )
    return _address(value, bits)


def _ip(name: str, bits: int, network: bool) -> Callable[..., Any]:
    dotted = f"ipaddress.{name}"
    accepts = (
        "an address (str, int or packed bytes) or an (address, prefix) tuple"
        if network
        else "str, an int or packed bytes"
    )

    def ip_(*args: Any) -> Any:
        check = _network if network else _address
        strict_ok = len(args) == 1 or (
            name.endswith("Network") and len(args) == 2 and type(args[1]) is bool
        )
        if not args or not strict_ok or not check(args[0], bits):
            raise refuse(
                dotted,
                f"{name} of a {type_name(args[0]) if args else 'nothing'}: only {accepts} "
                "is accepted (the real one renders anything else with str())",
            )
        return getattr(_module("ipaddress"), name)(*args)

    return ip_


# --- pathlib ---------------------------------------------------------------------------------


def _pure_path(name: str) -> Callable[..., Any]:
    def path_(*args: Any) -> Any:
        size = 64
        for part in args:
            if type(part) is not str:
                raise refuse(
                    f"pathlib.{name}",
                    f"a path from a {type_name(part)}: only str parts are accepted",
                )
            size += 2 * sys.getsizeof(part)  # the parts and the joined text
        charge(size, f"{name}(...)")
        return getattr(_module("pathlib"), name)(*args)

    return path_


# --- zoneinfo --------------------------------------------------------------------------------


def _zone_found(zoneinfo: Any, key: str) -> bool:
    """Whether ``ZoneInfo(key)`` loads without importing anything: a file under TZPATH (what
    zoneinfo reads first), or the key's tzdata package already imported."""
    for root in zoneinfo.TZPATH:
        if os.path.isfile(os.path.join(root, *key.split("/"))):
            return True
    package = ".".join(["tzdata.zoneinfo", *key.split("/")[:-1]])
    return "importlib.resources" in sys.modules and package in sys.modules


def zone_unpickle_(*args: Any) -> Any:
    dotted = "zoneinfo.ZoneInfo._unpickle"
    if len(args) != 2 or type(args[1]) not in (int, bool) or args[1] not in (0, 1):
        raise refuse(dotted, "it takes a key and a from_cache flag (0 or 1)")
    key = args[0]
    if type(key) is not str or len(key) > 255 or not _ZONE_KEY.match(key):
        raise refuse(dotted, "a zone key is names of letters, digits, '_', '-', '+' and '/'")
    zoneinfo = _module("zoneinfo")
    if not _zone_found(zoneinfo, key):
        raise refuse(
            dotted,
            f"no time zone {key!r} under zoneinfo.TZPATH, and loading it from the tzdata "
            "package would import modules; install the system's time-zone data, or load the "
            "zone once in your program first (zoneinfo.ZoneInfo(key))",
        )
    return zoneinfo.ZoneInfo._unpickle(key, args[1])


# --- range -----------------------------------------------------------------------------------


def bounded_range(maximum: int) -> Callable[..., range]:
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

    return register(range_, range)


def value_substitutes() -> dict[str, Any]:
    """The narrowed value constructors, by dotted name (``range`` is per policy)."""
    table: dict[str, Any] = {
        "uuid.UUID": UUIDStandIn,
        "uuid.SafeUUID": SafeUUIDStandIn,
        "zoneinfo.ZoneInfo._unpickle": zone_unpickle_,
    }
    for name, bits in (("IPv4", 32), ("IPv6", 128)):
        table[f"ipaddress.{name}Address"] = _ip(f"{name}Address", bits, network=False)
        table[f"ipaddress.{name}Network"] = _ip(f"{name}Network", bits, network=True)
        table[f"ipaddress.{name}Interface"] = _ip(f"{name}Interface", bits, network=True)
    for name in ("PurePath", "PurePosixPath", "PureWindowsPath"):
        table[f"pathlib.{name}"] = table[f"pathlib._local.{name}"] = _pure_path(name)
    return table
