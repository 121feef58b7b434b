"""Whole-file compression wrappers: gzip, bz2, xz, lzma (alone), zlib and lz4 frames.

joblib's compressed files are exactly these (``joblib/compressor.py``), and so are
``pickle.dump`` calls through ``gzip.open``. Decompression is streamed with a cap on every
call's output, so that nothing is ever inflated before it is counted: a bomb stops after
producing at most one byte more than the member's ``max_input_bytes`` or the file's
:class:`~safepickle.containers.ExpansionBudget` allows.
"""

from __future__ import annotations

import bz2
import lzma
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import LimitExceeded
from . import ArchiveReads, Buffer, ContainerError, ContainerStream, ExpansionBudget, Member

__all__ = ["ZlibAdapter", "inflate", "open_compressed"]

_FIRST_IN_CHUNK = 1 << 16
_IN_CHUNK = 1 << 20
_OUT_CHUNK = 16 << 20
_NOT_ZERO = re.compile(rb"[^\x00]")
#: what decompressors raise for damaged data (lz4 reports a corrupt frame as a RuntimeError)
_CORRUPT = (OSError, EOFError, ValueError, RuntimeError, zlib.error, lzma.LZMAError)


def _format(data: Buffer) -> str | None:
    """The compression format by magic bytes, or None."""
    head = bytes(data[:6])
    if head[:3] == b"\x1f\x8b\x08":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4] in {b"%d" % n for n in range(1, 10)}:
        return "bz2"
    if head == b"\xfd7zXZ\x00":
        return "xz"
    if head[:2] == b"\x5d\x00":  # lzma "alone": properties byte 0x5d, then the dictionary size
        return "lzma"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib"  # 'x' is no pickle opcode, so a pickle never starts like this
    if head[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    return None


def _decompressor(fmt: str) -> Any:
    if fmt == "gzip":
        return ZlibAdapter(zlib.decompressobj(31))
    if fmt == "zlib":
        return ZlibAdapter(zlib.decompressobj())
    if fmt == "bz2":
        return bz2.BZ2Decompressor()
    if fmt == "xz":
        return lzma.LZMADecompressor(lzma.FORMAT_XZ)
    if fmt == "lzma":
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE)
    try:
        import lz4.frame  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: PLC0415
    except ImportError:  # optional: without it an lz4 file is an error, never clean
        raise ContainerError(
            "lz4-compressed; install the 'lz4' package to scan it", offset=0
        ) from None
    return lz4.frame.LZ4FrameDecompressor()


class ZlibAdapter:
    """A zlib decompressobj with the ``decompress(data, max_length)`` / ``needs_input`` /
    ``eof`` / ``unused_data`` interface of bz2, lzma and lz4."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        self._full = False

    @property
    def eof(self) -> bool:
        return bool(self._obj.eof)

    @property
    def unused_data(self) -> bytes:
        return bytes(self._obj.unused_data)

    @property
    def needs_input(self) -> bool:
        # zlib may hold output back when a call filled max_length, even with no input left
        return not self._obj.unconsumed_tail and not self._full

    def decompress(self, data: bytes, max_length: int) -> bytes:
        result: bytes = self._obj.decompress(data or self._obj.unconsumed_tail, max_length)
        self._full = len(result) == max_length
        return result


def inflate(
    data: Buffer,
    new: Callable[[], Any],
    max_bytes: int,
    what: str,
    *,
    budget: ExpansionBudget,
    where: str,
    concatenated: bool = True,
    reads: ArchiveReads | None = None,
) -> bytearray:
    """Decompress ``data`` (``what`` compressed, found at ``where``), never producing more than
    ``max_bytes`` (the member's ``max_input_bytes``) or what ``budget`` has left: each call asks
    the decompressor for at most that plus one byte, so a bomb is refused before anything more
    exists. With ``concatenated``, streams that follow the first are decompressed too (gzip
    members, bz2 and xz streams); without, the first one's end is the end (a zip member,
    followed by the next header). ``reads`` counts the input consumed (members of one archive).
    """
    out = bytearray()
    decomp = new()
    pos = 0
    size = len(data)
    limited = False
    try:
        while True:
            if decomp.needs_input:
                # small first: a member that turns out short or corrupt has read little
                chunk = bytes(data[pos : pos + min(_IN_CHUNK, max(_FIRST_IN_CHUNK, pos))])
                pos += len(chunk)
                if not chunk:
                    raise ContainerError(f"the {what} data at {where!r} is truncated", offset=size)
            else:
                chunk = b""
            room = min(max_bytes - len(out), budget.room()) + 1
            try:
                produced = decomp.decompress(chunk, min(room, _OUT_CHUNK))
            except _CORRUPT as exc:
                raise ContainerError(
                    f"the {what} data at {where!r} is corrupt: {exc}", offset=pos
                ) from exc
            out += produced
            if len(out) > max_bytes:
                raise LimitExceeded(
                    f"the {what} data at {where!r} inflates past the limit max_input_bytes="
                    f"{max_bytes:,}; if you trust this input, raise it: "
                    "Policy(limits=Limits(max_input_bytes=...))",
                    limit="max_input_bytes",
                    maximum=max_bytes,
                )
            budget.charge(len(produced), where, f"decompressing {what}")
            if decomp.eof:
                rest = decomp.unused_data or b""  # lz4 says None
                tail_start = pos - len(rest)
                if not concatenated or tail_start >= size:
                    pos = tail_start
                    return out
                if _NOT_ZERO.search(data, tail_start, size) is None:
                    return out  # zero padding, as tape and some writers leave
                decomp = new()  # concatenated streams (gzip members, bz2/xz streams) are legal
                pos = tail_start
    except LimitExceeded:
        limited = True
        raise
    finally:
        if reads is not None and not limited:  # a corrupt member has read its input too
            reads.add(pos, where, f"decompressing {what}")


def open_compressed(stream: ContainerStream) -> Iterator[Member] | None:
    """The decompressed content of a compressed file, or None if it is not compressed."""
    fmt = _format(stream.data)
    if fmt is None:
        return None
    if fmt == "lzma":
        try:  # 0x5d 0x00 is a weak magic: claim only what really decodes
            lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(bytes(stream.data[:64]), 1)
        except lzma.LZMAError:
            return None
    return _content(stream, fmt)


def _content(stream: ContainerStream, fmt: str) -> Iterator[Member]:
    """Decompressed when the scanner asks for it: after it checked the nesting depth."""
    name = f"<{fmt}>"
    where = f"{stream.name}!{name}"
    content = inflate(
        stream.data,
        lambda: _decompressor(fmt),
        stream.max_bytes,
        fmt,
        budget=stream.budget,
        where=where,
    )
    yield Member(name, content, kind="same", format=fmt)
