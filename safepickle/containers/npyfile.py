"""NumPy's ``.npy`` format: an object-dtype array is stored as a pickle after the header.

``numpy.save`` writes the magic ``\\x93NUMPY``, a version, a header length and a header that is
a Python dict literal (``descr``, ``fortran_order``, ``shape``); for an array whose dtype holds
Python objects the data that follows is ``pickle.dump(array)``. Arrays of plain numbers hold no
pickle, so they have no member to scan. ``.npz`` files are zip archives of ``.npy`` files and
are opened by the zip reader first.
"""

from __future__ import annotations

import ast
import struct
from typing import Any

from . import ContainerError, ContainerStream, Member

__all__ = ["open_npy"]

_MAGIC = b"\x93NUMPY"
#: numpy's own reader refuses headers over 10,000 bytes by default; old writers padded less
_MAX_HEADER = 1 << 16


def _has_object(descr: Any) -> bool:
    """Whether a ``descr`` (a type string or a structured list) contains an object field."""
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, (list, tuple)):
        return any(_has_object(part) for part in descr)
    return False


def open_npy(stream: ContainerStream) -> list[Member] | None:
    """The pickle inside an object-dtype ``.npy`` (none for numeric arrays), or None."""
    data = stream.data
    if bytes(data[:6]) != _MAGIC:
        return None
    major = data[6] if len(data) > 7 else 0
    if major == 1:
        size_format, start = "<H", 10
    elif major in (2, 3):
        size_format, start = "<I", 12
    else:
        raise ContainerError(f".npy file of unknown version {major}", offset=6)
    if len(data) < start:
        raise ContainerError(".npy header is truncated", offset=len(data))
    (length,) = struct.unpack(size_format, bytes(data[8:start]))
    if length > _MAX_HEADER or start + length > len(data):
        raise ContainerError(f".npy header length {length:,} is not plausible", offset=8)
    text = bytes(data[start : start + length]).decode("utf-8" if major == 3 else "latin-1")
    try:
        # a literal only: ast.literal_eval builds constants and containers, calls nothing
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ContainerError(f".npy header is not a dict literal: {exc}", offset=start) from exc
    if not isinstance(header, dict) or "descr" not in header:
        raise ContainerError(".npy header has no 'descr'", offset=start)
    if not _has_object(header["descr"]):
        return []
    body = memoryview(data)[start + length :]
    return [Member("<object array>", body, kind="pickle", format="npy")]
