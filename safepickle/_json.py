"""Plain data as JSON: telling JSON from pickle, decoding it under the policy's limits, and
writing plain data as JSON.

The rule that tells the two apart looks at one byte, the first of the stream: a JSON text
(RFC 8259) starts with ``{ [ " - 0-9 t f n``, whitespace, or a UTF-8 byte-order mark
(``\\xef``). No valid pickle starts with any of these bytes: ``{ [ " - 3-9 f n``, whitespace
and ``\\xef`` are not pickle opcodes, and ``0 1 2 t`` (POP, POP_MARK, DUP, TUPLE) need
something on the stack, which is empty at the start. So every stream is one or the other, never
both; a stream that starts with anything else goes to the pickle verifier.

Decoding JSON runs no code at all (it builds dicts, lists, str, int, float, bool and None), so
the policy's allow-list has nothing to decide; its limits still apply: ``max_input_bytes``,
``max_nesting`` and ``max_int_digits``. ``NaN``/``Infinity`` (which :func:`json.loads` accepts
but JSON does not) are refused. There is no fallback from here to pickle.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from dataclasses import dataclass
from typing import Any

from .errors import LimitExceeded, MalformedPickle, TruncatedPickle
from .limits import Limits
from .verify import Verified

__all__ = [
    "JSON_FIRST_BYTES",
    "DocumentEnd",
    "JsonDocument",
    "decode_whole",
    "encode_plain",
    "is_json_start",
    "scan_json",
]

#: bytes a JSON text can start with and no valid pickle can (see the module docstring)
JSON_FIRST_BYTES = frozenset(b'{["-0123456789tfn \t\r\n\xef')
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_WHITESPACE_CHAR = re.compile(r"[ \t\r\n]")
_WHITESPACE_BYTES = re.compile(rb"[ \t\r\n]*")
_SURROGATE = re.compile("[\udc80-\udcff]")  # undecodable bytes, under surrogateescape


def is_json_start(first: int) -> bool:
    """Whether a stream whose first byte is ``first`` is JSON (else it is a pickle)."""
    return first in JSON_FIRST_BYTES


@dataclass(frozen=True)
class JsonDocument(Verified):
    """A decoded JSON document in a stream: ``start:end`` are its bytes (leading whitespace and
    BOM included, and the whitespace after it), ``value`` what it decodes to.

    .. versionadded:: 0.1
    """

    value: Any = None


def _refuse_constant(name: str) -> Any:
    raise MalformedPickle(
        f"the JSON document contains {name}, which is not JSON (json.dumps writes it only "
        "with allow_nan=True); plain data with non-finite floats is stored as pickle"
    )


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def decode_whole(data: bytes, limits: Limits) -> Any:
    """The value of ``data``, which is one whole JSON document (``loads``).

    The common case (valid UTF-8, no BOM, within the limits) costs what :func:`json.loads`
    does; anything else goes through :func:`scan_json`, which names the problem.
    """
    if len(data) <= limits.max_input_bytes and data[0] != 0xEF:
        try:
            text = data.decode("utf-8")
            begin = _WHITESPACE.match(text).end() if data[0] in b" \t\r\n" else 0  # type: ignore[union-attr]
            value, end = _DECODER.raw_decode(text, begin)
        except (ValueError, RecursionError):
            pass  # scan_json below says what is wrong
        else:
            if end == len(text) or not text[end:].strip(" \t\r\n"):
                _check_limits(value, data, limits, 0)
                return value
    document = scan_json(data, 0, True, limits)
    if document.end != len(data):
        raise MalformedPickle(
            f"{len(data) - document.end} byte(s) follow the JSON document at offset "
            f"{document.end - 1}; use safepickle.load_all for several documents in a row",
            offset=document.end,
        )
    return document.value


def _check_limits(value: Any, raw: bytes, limits: Limits, start: int) -> None:
    """The limits the decoder does not enforce by itself (rarely needed)."""
    if limits.max_nesting < sys.getrecursionlimit():
        _check_nesting(value, raw, limits, start)
    # CPython 3.10.7+ has the limit; older 3.10 releases decode any length (0: unlimited)
    max_digits: int = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    if limits.max_int_digits < max_digits or not max_digits:
        _check_int_digits(value, limits, start)


#: the first window a document in a longer buffer is decoded in (see :func:`scan_json`)
_FIRST_WINDOW = 16


def scan_json(data: bytes | bytearray, start: int, eof: bool, limits: Limits) -> JsonDocument:
    """Decode the JSON document that starts at ``data[start]``.

    With ``eof`` false, ``data`` may be only the beginning of a stream: a document that might
    go on past the end of ``data`` raises :class:`TruncatedPickle` so that the caller reads
    more. With ``eof`` true, the document must be complete. Bytes after the document (the next
    document or pickle of a stream) are not looked at.
    """
    stop = min(len(data), start + limits.max_input_bytes + 1)  # never decode past the limit
    # A buffer may hold many documents after this one (load_all, a scanned file): decoding to
    # its end for each of them would be quadratic. So the document is decoded in a window that
    # doubles until the document ends inside it, and costs a few times its own size; a window
    # that cuts it (inside a token, a string or a UTF-8 sequence) reads as "incomplete".
    window = _FIRST_WINDOW
    while 4 * window < stop - start:
        try:
            document = _scan(data, start, start + window, False, limits, whole=False)
        except TruncatedPickle:
            window *= 2
            continue
        if document.end < start + window:
            return document
        # the whitespace after it ran to the window's end: it is part of the document
        after = _WHITESPACE_BYTES.match(data, document.end, stop)
        return dataclasses.replace(document, end=after.end() if after else document.end)
    return _scan(data, start, stop, eof, limits, whole=True)


def _scan(
    data: bytes | bytearray, start: int, stop: int, eof: bool, limits: Limits, *, whole: bool
) -> JsonDocument:
    limit = limits.max_input_bytes
    raw = bytes(data[start:stop])
    offset = 3 if raw.startswith(_BOM) else 0
    # surrogateescape: bytes after the document may be anything (a pickle follows in a mixed
    # stream); invalid UTF-8 inside the document shows as lone surrogates, checked below
    try:
        text = raw[offset:].decode("utf-8")
        escaped = False
    except UnicodeDecodeError:
        text = raw[offset:].decode("utf-8", "surrogateescape")
        escaped = True
    match = _WHITESPACE.match(text)
    begin = match.end() if match else 0
    if begin == len(text):
        raise TruncatedPickle("no data: only whitespace is left", offset=start + len(raw))
    try:
        value, end = _DECODER.raw_decode(text, begin)
    except json.JSONDecodeError as exc:
        cut = not eof and "\n" not in text[exc.pos :]  # the error may be where data ends
        if cut or exc.pos >= len(text) or exc.msg.startswith("Unterminated string"):
            if len(raw) > limit:
                raise _too_long(limit, start) from None
            if eof and whole:
                raise TruncatedPickle(
                    f"the JSON document is truncated: {exc.msg}", offset=start + len(raw)
                ) from None
            raise TruncatedPickle("the JSON document is incomplete", offset=start) from None
        position = start + offset + len(text[: exc.pos].encode("utf-8", "surrogateescape"))
        if _SURROGATE.search(text, begin, exc.pos + 1):
            raise _not_utf8(text, begin, start + offset) from None
        raise MalformedPickle(
            f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            offset=position,
        ) from None
    except RecursionError:
        raise LimitExceeded(
            "the JSON document nests deeper than Python's recursion limit allows to decode "
            f"({sys.getrecursionlimit()}); store such data as pickle (format='pickle')",
            limit="max_nesting",
            maximum=limits.max_nesting,
            offset=start,
        ) from None
    except ValueError as exc:  # int() refusing more digits than the interpreter allows
        raise _too_many_digits(limits, start, str(exc)) from None
    if end == len(text) and not eof:
        # "12" may be the start of "123"; any document may be followed by more whitespace
        raise TruncatedPickle("the JSON document may go on", offset=start)
    if escaped and _SURROGATE.search(text, begin, end):
        raise _not_utf8(text, begin, start + offset)
    if end < len(text) and text[end] not in " \t\r\n":
        if not eof and _WHITESPACE_CHAR.search(text, end) is None:
            # the data may end inside a token the decoder stopped short of: "1.5e" of
            # "1.5e+16" (it reads "1.5" then refuses "e"); more data decides
            raise TruncatedPickle("the JSON document may go on", offset=start)
        # "0." or "[1]x": a document ends at whitespace or at the end of the data, never
        # inside a token (dump ends each document with a newline)
        raise MalformedPickle(
            f"the JSON document is followed by {text[end]!r} where whitespace or the end of "
            "the data must be; documents in a stream are separated by whitespace",
            offset=start + offset + len(text[:end].encode("utf-8", "surrogateescape")),
        )
    after = _WHITESPACE.match(text, end)
    stop_char = after.end() if after else end
    if stop_char == len(text):
        size = len(raw)
    else:
        size = offset + len(text[:stop_char].encode("utf-8", "surrogateescape"))
    if size > limit:
        raise _too_long(limit, start)
    _check_limits(value, raw, limits, start)
    return JsonDocument(
        start=start,
        end=start + size,
        protocol=0,
        globals=(),
        framed=False,
        opcodes=0,
        persistent_ids=0,
        out_of_band_buffers=0,
        format="json",
        value=value,
    )


def _not_utf8(text: str, begin: int, base: int) -> MalformedPickle:
    found = _SURROGATE.search(text, begin)
    before = text[: found.start() if found else begin]
    where = base + len(before.encode("utf-8", "surrogateescape"))
    return MalformedPickle(f"the JSON document is not valid UTF-8 at offset {where}", offset=where)


def _too_long(limit: int, start: int) -> LimitExceeded:
    return LimitExceeded(
        f"the JSON document's size exceeds the limit max_input_bytes={limit:,}; if you trust "
        "this input, raise it: Policy(limits=Limits(max_input_bytes=...))",
        limit="max_input_bytes",
        maximum=limit,
        offset=start,
    )


def _too_many_digits(limits: Limits, start: int, detail: str) -> LimitExceeded:
    return LimitExceeded(
        f"an integer in the JSON document has more digits than allowed ({detail}); if you "
        "trust this input, raise Limits(max_int_digits=...) and sys.set_int_max_str_digits()",
        limit="max_int_digits",
        maximum=limits.max_int_digits,
        offset=start,
    )


def _check_nesting(value: Any, raw: bytes, limits: Limits, start: int) -> None:
    """Enforce a ``max_nesting`` below Python's recursion limit (which bounds the decoder
    itself). Counting brackets bounds the depth from above, so most documents need no walk."""
    maximum = limits.max_nesting
    if raw.count(b"[") + raw.count(b"{") <= maximum:
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if type(item) is dict else item if type(item) is list else ()
        if not children:
            continue
        if depth > maximum:
            raise LimitExceeded(
                f"the JSON document nests deeper than max_nesting={maximum:,}; if you trust "
                "this input, raise it: Policy(limits=Limits(max_nesting=...))",
                limit="max_nesting",
                maximum=maximum,
                offset=start,
            )
        stack.extend((child, depth + 1) for child in children)


def _check_int_digits(value: Any, limits: Limits, start: int) -> None:
    """Enforce a ``max_int_digits`` below the interpreter's own limit (which the decoder
    already applies)."""
    maximum = limits.max_int_digits
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        # log2(10) > 3.32: fewer bits than that cannot make too many digits
        if kind is int and item.bit_length() > maximum * 3.32:
            if len(str(abs(item))) > maximum:
                raise _too_many_digits(limits, start, f"more than {maximum:,}")
        elif kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)


# --- where a document ends, for pipes ------------------------------------------------------
_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)  # up to an unescaped quote
_OUTSIDE_STRINGS = re.compile(rb'[^"\[\]{}]*')  # up to a quote or a bracket
_SCALAR_REST = re.compile(rb'[^ \t\r\n"\[\]{}]*')  # a bare number or literal, to its end


class DocumentEnd:
    """Where the JSON document at the start of a growing buffer ends, found incrementally.

    A pipe cannot be read past the document (the bytes after it belong to the next load), so it
    is read line by line until the document is complete; decoding everything again after each
    line would be quadratic. :meth:`feed` follows bracket depth and string state and resumes
    where it stopped, so each byte is looked at once. It does not validate anything: it says
    when there is enough to decode, and the decoder says what the document is.
    """

    __slots__ = ("_depth", "_end", "_in_scalar", "_in_string", "_pos")

    def __init__(self) -> None:
        self._pos = 0
        self._depth = 0
        self._in_string = False
        self._in_scalar = False
        self._end: int | None = None

    def feed(self, data: bytes | bytearray) -> int | None:
        """The offset just past the document in ``data`` (the same buffer each call, grown at
        its end), or None while it may go on. A bare number or literal ends at the byte after
        it, so its end is known only once that byte (or the end of the stream) is there."""
        if self._end is None:
            self._end = self._advance(data)
        return self._end

    def _advance(self, data: bytes | bytearray) -> int | None:
        pos, depth, size = self._pos, self._depth, len(data)
        try:
            while pos < size:
                if self._in_string:
                    pos = _STRING_REST.match(data, pos).end()  # type: ignore[union-attr]
                    if pos >= size or data[pos] == 0x5C:  # a backslash waiting for its byte
                        return None
                    pos += 1
                    self._in_string = False
                    if not depth:
                        return pos
                elif self._in_scalar:
                    pos = _SCALAR_REST.match(data, pos).end()  # type: ignore[union-attr]
                    if pos < size:
                        return pos
                elif depth:
                    pos = _OUTSIDE_STRINGS.match(data, pos).end()  # type: ignore[union-attr]
                    if pos >= size:
                        return None
                    byte = data[pos]
                    pos += 1
                    if byte == 0x22:
                        self._in_string = True
                    elif byte in b"[{":
                        depth += 1
                    else:
                        depth -= 1
                        if not depth:
                            return pos
                elif pos == 0 and data[0] == 0xEF:  # the byte-order mark
                    if size < len(_BOM):
                        return None
                    pos = len(_BOM) if data.startswith(_BOM) else 0
                    self._in_scalar = pos == 0  # not a BOM: malformed, the decoder says so
                else:
                    pos = _WHITESPACE_BYTES.match(data, pos).end()  # type: ignore[union-attr]
                    if pos >= size:
                        return None
                    byte = data[pos]
                    if byte in b"[{":
                        depth = 1
                        pos += 1
                    elif byte == 0x22:
                        self._in_string = True
                        pos += 1
                    else:
                        self._in_scalar = True
            return None
        finally:
            self._pos, self._depth = pos, depth


# --- writing ----------------------------------------------------------------------------------
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, check_circular=False, separators=(",", ":")
)
_SCALARS = frozenset({str, int, float, bool, type(None)})


def encode_plain(obj: Any) -> bytes | None:
    """``obj`` as UTF-8 JSON if JSON holds it exactly, else None (it is then pickled).

    Exactly means loading the JSON gives back the same values of the same types, the same
    structure and no lost identity: only ``dict`` with ``str`` keys, ``list``, ``str``, ``int``,
    finite ``float``, ``bool`` and ``None``, exact types (no subclasses: an ``OrderedDict`` or
    an ``IntEnum`` stays a pickle), no tuples, no container reached twice (pickle keeps shared
    references and cycles; JSON would copy them), every string encodable as UTF-8 and every
    integer within the interpreter's digit limit.
    """
    if type(obj) in _SCALARS:
        pass
    elif not _is_plain_container(obj):
        return None
    try:
        return _ENCODER.encode(obj).encode("utf-8")
    except (ValueError, UnicodeEncodeError):  # NaN/inf, a huge int, a lone surrogate
        return None


def _is_plain_container(obj: Any) -> bool:
    seen: set[int] = set()
    stack = [obj]
    scalars = _SCALARS
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in scalars:
            continue
        if kind is list:
            children: Any = item
        elif kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
            children = item.values()
        else:
            return False
        identity = id(item)
        if identity in seen:
            return False  # shared or cyclic: only pickle keeps that
        seen.add(identity)
        for child in children:
            if type(child) in scalars:
                continue
            stack.append(child)
    return True
