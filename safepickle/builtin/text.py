"""Narrowed text constructors: ``str``, ``bytes``, ``bytearray`` and ``_codecs.encode``.

Two classes of problem:

* **Codec names import modules.** ``str(b, "l1")``, ``bytes(s, "bz2_codec")`` look the codec up
  in the registry, which imports ``encodings.latin_1``, ``encodings.bz2_codec`` (and ``bz2``)
  ...: a module the policy never allowed. Only UTF-8, ASCII and Latin-1 are accepted, under
  the names (and aliases) of Python's own alias table, normalised here; the real call is then
  made with the canonical spelling, which CPython decodes and encodes in C without the
  registry, so nothing is imported (checked on 3.10-3.13). Error handlers are a fixed set of
  the built-in ones (``namereplace`` would import ``unicodedata``).
* **Rendering.** ``str(x)`` of a list, tuple or dict walks it, and a list built from itself
  with memo references has ``2**n`` elements unfolded, in C that cannot be interrupted. A pickle
  has no use for ``str`` of anything but text: ``str`` takes str, bytes and bytearray only.

``bytes(n)`` and ``bytearray(n)`` (n zero bytes) are refused; every copy is charged to the
load's budget first.
"""

from __future__ import annotations

import array
import encodings
import pickle
from collections.abc import Callable
from typing import Any

from .narrowed import PLAIN_ITERABLES, charge, refuse, register, type_name

__all__ = ["TEXT_SUBSTITUTES", "text_codec"]

# The aliases Python's encodings.aliases table gives the three codecs (identical on 3.10-3.13),
# normalised as encodings.normalize_encoding does, lower-cased.
_UTF8 = ("utf_8", "utf8", "u8", "utf", "cp65001", "utf8_ucs2", "utf8_ucs4")
_ASCII = (
    "ascii", "646", "ansi_x3.4_1968", "ansi_x3.4_1986", "ansi_x3_4_1968", "cp367", "csascii",
    "ibm367", "iso646_us", "iso_646.irv_1991", "iso_ir_6", "us", "us_ascii",
)  # fmt: skip
_LATIN1 = (
    "latin_1", "8859", "cp819", "csisolatin1", "ibm819", "iso8859", "iso8859_1", "iso_8859_1",
    "iso_8859_1_1987", "iso_ir_100", "l1", "latin", "latin1",
)  # fmt: skip
#: normalised name -> the canonical spelling CPython handles without the codec registry
_CODECS: dict[str, str] = {
    **dict.fromkeys(_UTF8, "utf-8"),
    **dict.fromkeys(_ASCII, "ascii"),
    **dict.fromkeys(_LATIN1, "latin-1"),
}
#: error handlers registered in C at start-up that import nothing
_ERRORS = frozenset(
    {"strict", "ignore", "replace", "surrogateescape", "surrogatepass", "backslashreplace"}
)
_CODEC_NAMES = "UTF-8, ASCII or Latin-1 (and their aliases)"


def text_codec(dotted: str, name: object) -> str:
    """The canonical spelling of an allowed codec name; refuses any other name, unlooked-up."""
    if type(name) is str and len(name) < 64:
        canonical = _CODECS.get(encodings.normalize_encoding(name).lower())
        if canonical is not None:
            return canonical
    raise refuse(
        dotted,
        f"only the {_CODEC_NAMES} codecs are accepted: looking any other up would import "
        "its module",
    )


def _errors(dotted: str, args: tuple[Any, ...], index: int) -> str:
    if len(args) <= index:
        return "strict"
    handler = args[index]
    if type(handler) is not str or handler not in _ERRORS:
        raise refuse(dotted, f"only the error handlers {', '.join(sorted(_ERRORS))} are accepted")
    return handler


def _decoded_bound(size: int, codec: str, errors: str) -> int:
    """Bytes the str decoded from ``size`` bytes takes at most: one byte per character for
    strict Latin-1 and ASCII; UTF-8 may need four per character (one astral character makes
    the whole string UCS-4); ``backslashreplace`` writes four characters per bad byte."""
    if codec != "utf-8" and errors in ("strict", "ignore"):
        return size
    return size * (16 if errors == "backslashreplace" else 4)


def _encoded_bound(text: str, codec: str) -> int:
    return len(text) * (4 if codec == "utf-8" else 1)


def str_(*args: Any) -> str:
    if not args:
        return ""
    value = args[0]
    kind = type(value)
    if len(args) == 1:
        if kind is str:
            return value  # type: ignore[no-any-return]
        if kind is bytes or kind is bytearray:  # its repr: b'\xNN' is four characters a byte
            charge(4 * len(value) + 64, "str(bytes)")
            return str(value)
    elif len(args) <= 3 and (kind is bytes or kind is bytearray):
        codec = text_codec("builtins.str", args[1])
        errors = _errors("builtins.str", args, 2)
        charge(_decoded_bound(len(value), codec, errors) + 64, "str(bytes, encoding)")
        return str(value, codec, errors)
    raise refuse(
        "builtins.str",
        f"str of a {type_name(value)}: only str(str), str(bytes) and str(bytes, encoding"
        "[, errors]) are accepted (str() of a container renders every item, and a pickle can "
        "make a list whose rendering never ends)",
    )


#: the bytes-like objects bytes() and bytearray() copy
_BYTES_LIKE = (bytearray, memoryview, pickle.PickleBuffer, array.array)


def _bytes_args(dotted: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arguments for the real ``bytes``/``bytearray``, checked and charged."""
    value = args[0]
    kind = type(value)
    if len(args) == 1:
        if kind is int or kind is bool:
            raise refuse(dotted, f"{dotted}(n) would allocate n bytes")
        if kind is bytes:
            charge(len(value) + 64, f"{dotted}(bytes)")
            return args
        if kind in _BYTES_LIKE:
            with memoryview(value) as view:
                charge(view.nbytes + 64, f"{dotted}(buffer)")
            return args
        if kind in PLAIN_ITERABLES and kind is not str:
            charge(len(value) + 64, f"{dotted}(iterable)")
            return args
    elif len(args) <= 3 and kind is str:
        codec = text_codec(dotted, args[1])
        errors = _errors(dotted, args, 2)
        charge(_encoded_bound(value, codec) + 64, f"{dotted}(str, encoding)")
        return (value, codec, errors)
    raise refuse(
        dotted,
        f"{dotted} of a {type_name(value)}: only bytes-like objects, plain containers of "
        f"ints, and (str, encoding[, errors]) with the {_CODEC_NAMES} codecs are accepted",
    )


def bytes_(*args: Any) -> bytes:
    if not args:
        return b""
    if type(args[0]) is bytes and len(args) == 1:
        return args[0]  # bytes(b) is b: nothing is copied
    return bytes(*_bytes_args("builtins.bytes", args))


def bytearray_(*args: Any) -> bytearray:
    if not args:
        return bytearray()
    return bytearray(*_bytes_args("builtins.bytearray", args))


def codecs_encode(*args: Any) -> bytes:
    """``_codecs.encode`` as protocols 0-2 write bytes: ``encode(text, "latin1")`` only. The
    real one looks the codec up by name (an import)."""
    if not args or type(args[0]) is not str or len(args) > 3:
        raise refuse("_codecs.encode", "only _codecs.encode(str, 'latin1') is accepted")
    text = args[0]
    if len(args) < 2 or text_codec("_codecs.encode", args[1]) != "latin-1":
        raise refuse("_codecs.encode", "only _codecs.encode(str, 'latin1') is accepted")
    errors = _errors("_codecs.encode", args, 2)
    charge(len(text) + 64, "_codecs.encode(str, 'latin1')")
    return text.encode("latin-1", errors)


TEXT_SUBSTITUTES: dict[str, Callable[..., Any]] = {
    "builtins.str": register(str_, str),
    "builtins.bytes": register(bytes_, bytes),
    "builtins.bytearray": register(bytearray_, bytearray),
    "_codecs.encode": codecs_encode,
}
