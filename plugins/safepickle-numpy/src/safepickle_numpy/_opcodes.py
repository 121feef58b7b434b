"""Reading pickle opcodes straight from a buffer, for :mod:`._scan`.

pickletools' ``genops`` reads through a file object, which copies a ``memoryview`` whole and
every argument again: an 80 MB array cost the walk ~90 ms. Here each opcode's argument is read
in place, and long bytes or text (array data, never a dtype's name or an item count) become
:data:`BLOB` without a copy. The table comes from pickletools' own opcode list.
"""

from __future__ import annotations

import enum
import pickletools
import struct
from typing import Any, TypeAlias

__all__ = [
    "BINPUT",
    "BINUNICODE",
    "BLOB",
    "FAST",
    "FAST_INTS",
    "KEEP",
    "LONG_BINPUT",
    "MEMOIZE",
    "SHORT_BINUNICODE",
    "STRINGS",
    "TABLE",
    "UINT4",
    "Arg",
    "Blob",
    "Buffer",
    "LineReader",
    "sized",
]  # fmt: skip

#: what the pass reads: the stream's bytes, or a view of them (never copied whole)
Buffer: TypeAlias = "bytes | memoryview"


class Blob:
    """A bytes or text constant longer than :data:`KEEP`: array data, never a dtype's name
    or an item count, so the pass notes it without copying or decoding it (an 80 MB array's
    bytes cost nothing)."""

    __slots__ = ()


BLOB = Blob()
KEEP = 4096


class Arg(enum.Enum):
    NONE = "none"
    FIXED = "fixed"  # a struct of fixed size
    SIZED = "sized"  # a length prefix, then that many bytes
    LINE = "line"  # protocol 0 text up to a newline: pickletools' own reader


_FIXED = {"uint1": "<B", "uint2": "<H", "int4": "<i", "uint4": "<I", "uint8": "<Q", "float8": ">d"}
#: argument -> (length prefix, how the bytes are decoded: an encoding, "long", or None for bytes)
_SIZED = {
    "long1": ("<B", "long"), "long4": ("<i", "long"), "bytes1": ("<B", None),
    "string1": ("<B", "latin-1"), "unicodestring1": ("<B", "utf-8"), "bytes4": ("<I", None),
    "string4": ("<i", "latin-1"), "unicodestring4": ("<I", "utf-8"), "bytes8": ("<Q", None),
    "unicodestring8": ("<Q", "utf-8"), "bytearray8": ("<Q", None),
}  # fmt: skip


def _table() -> list[tuple[str, Arg, Any, str | None] | None]:
    """Opcode byte -> (name, argument kind, struct, decoding), from pickletools' own table."""
    table: list[tuple[str, Arg, Any, str | None] | None] = [None] * 256
    for op in pickletools.opcodes:
        code = op.code.encode("latin-1")[0]
        if op.arg is None:
            table[code] = (op.name, Arg.NONE, None, None)
        elif op.arg.name in _FIXED:
            table[code] = (op.name, Arg.FIXED, struct.Struct(_FIXED[op.arg.name]), None)
        elif op.arg.name in _SIZED:
            prefix, decode = _SIZED[op.arg.name]
            table[code] = (op.name, Arg.SIZED, struct.Struct(prefix), decode)
        else:
            table[code] = (op.name, Arg.LINE, None, None)
    return table


TABLE = _table()
# the opcodes of an object array's items, handled inline by _Scan.run
SHORT_BINUNICODE, BINUNICODE, MEMOIZE, BINPUT, LONG_BINPUT = 0x8C, 0x58, 0x94, 0x71, 0x72
STRINGS = (SHORT_BINUNICODE, BINUNICODE)
UINT4 = struct.Struct("<I")
FAST_INTS = {0x4B: struct.Struct("<B"), 0x4D: struct.Struct("<H"), 0x4A: struct.Struct("<i")}
FAST = frozenset({SHORT_BINUNICODE, BINUNICODE, MEMOIZE, BINPUT, LONG_BINPUT, *FAST_INTS})


def sized(data: Buffer, start: int, prefix: struct.Struct, decode: str | None) -> tuple[Any, int]:
    """A length-prefixed argument at ``start`` and the offset after it; long ones as BLOB."""
    length = prefix.unpack_from(data, start)[0]
    start += prefix.size
    end = start + length
    if length < 0:
        raise ValueError(f"negative length {length}")
    if end > len(data):
        raise ValueError(f"truncated: {length} bytes wanted at offset {start}")
    if decode == "long":
        return int.from_bytes(data[start:end], "little", signed=True), end
    if length > KEEP:
        return BLOB, end
    raw = bytes(data[start:end])
    return (raw if decode is None else raw.decode(decode, "surrogatepass")), end


class LineReader:
    """The file interface pickletools' readers use, over the buffer without copying it."""

    def __init__(self, data: Buffer, pos: int) -> None:
        self.data = data
        self.pos = pos

    def read(self, count: int) -> bytes:
        chunk = bytes(self.data[self.pos : self.pos + count])
        self.pos += len(chunk)
        return chunk

    def readline(self) -> bytes:
        parts: list[bytes] = []
        while self.pos < len(self.data):
            chunk = bytes(self.data[self.pos : self.pos + 256])
            cut = chunk.find(b"\n")
            if cut >= 0:
                parts.append(chunk[: cut + 1])
                self.pos += cut + 1
                break
            parts.append(chunk)
            self.pos += len(chunk)
        return b"".join(parts)
