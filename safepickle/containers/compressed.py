"""Whole-file compression wrappers: gzip, bz2, xz, lzma (alone), zlib and lz4 frames.

joblib's compressed files are exactly these (``joblib/compressor.py``), and so are
``pickle.dump`` calls through ``gzip.open``. Decompression is streamed with a cap on the
output: a bomb stops at the policy's ``max_input_bytes`` after inflating at most that much,
never the whole thing first.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Any

from ..errors import LimitExceeded
from . import Buffer, ContainerError, ContainerStream, Member

__all__ = ["open_compressed"]

_IN_CHUNK = 1 << 20
_OUT_CHUNK = 16 << 20


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
        return _ZlibAdapter(zlib.decompressobj(31))
    if fmt == "zlib":
        return _ZlibAdapter(zlib.decompressobj())
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


class _ZlibAdapter:
    """zlib's decompressobj with the ``decompress(data, max_length)`` / ``needs_input`` /
    ``eof`` / ``unused_data`` interface of bz2, lzma and lz4."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    @property
    def eof(self) -> bool:
        return bool(self._obj.eof)

    @property
    def unused_data(self) -> bytes:
        return bytes(self._obj.unused_data)

    @property
    def needs_input(self) -> bool:
        return not self._obj.unconsumed_tail

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if not data:
            data = self._obj.unconsumed_tail
        result: bytes = self._obj.decompress(data, max_length)
        return result


def inflate(
    data: Buffer,
    new: Callable[[], Any],
    max_bytes: int,
    what: str,
    *,
    concatenated: bool = True,
) -> bytearray:
    """Decompress ``data``, never producing more than ``max_bytes``: one byte more is a
    :class:`LimitExceeded`. With ``concatenated``, streams that follow the first are
    decompressed too (gzip members, bz2 and xz streams); without, the first one's end is the
    end (a zip member, followed by the next header)."""
    out = bytearray()
    decomp = new()
    pos = 0
    size = len(data)
    while True:
        if decomp.needs_input:
            chunk = bytes(data[pos : pos + _IN_CHUNK])
            pos += len(chunk)
            if not chunk:
                raise ContainerError(f"the {what} data is truncated", offset=size)
        else:
            chunk = b""
        room = max_bytes + 1 - len(out)
        try:
            out += decomp.decompress(chunk, min(room, _OUT_CHUNK))
        except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
            raise ContainerError(f"the {what} data is corrupt: {exc}", offset=pos) from exc
        if len(out) > max_bytes:
            raise LimitExceeded(
                f"the {what} data inflates past the limit max_input_bytes={max_bytes:,}; if "
                "you trust this input, raise it: Policy(limits=Limits(max_input_bytes=...))",
                limit="max_input_bytes",
                maximum=max_bytes,
            )
        if decomp.eof:
            if not concatenated:
                return out
            rest = decomp.unused_data or b""  # lz4 says None
            tail_start = pos - len(rest)
            if tail_start >= size or not any(data[tail_start:size]):
                return out  # the end, or zero padding as tape and some writers leave
            decomp = new()  # concatenated streams (gzip members, bz2/xz streams) are legal
            pos = tail_start


def open_compressed(stream: ContainerStream) -> list[Member] | None:
    """The decompressed content of a compressed file, or None if it is not compressed."""
    fmt = _format(stream.data)
    if fmt is None:
        return None
    if fmt == "lzma":
        try:  # 0x5d 0x00 is a weak magic: claim only what really decodes
            lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(bytes(stream.data[:64]), 1)
        except lzma.LZMAError:
            return None
    content = inflate(stream.data, lambda: _decompressor(fmt), stream.max_bytes, fmt)
    return [Member(f"<{fmt}>", content, kind="same", format=fmt)]
