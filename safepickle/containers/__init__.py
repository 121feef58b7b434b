"""Containers: formats that hold pickles (compressed files, zip archives and PyTorch
checkpoints, ``.npy``/``.npz`` object arrays, joblib files), opened for ``safepickle scan``.

An opener is a plugin implementing :func:`~safepickle.hookspecs.safepickle_open_container`:
given a :class:`ContainerStream` it recognises (by its bytes, never by its name alone), it
returns the streams inside as :class:`Member` objects, or ``None`` for "not my format". The
scanner opens members again, so containers nest, up to :data:`MAX_DEPTH`. Openers read and
decompress only: nothing here executes or imports anything named by the data, and every
decompressed member is bounded by the policy's ``max_input_bytes``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ..decision import GlobalRef
from ..errors import MalformedPickle

__all__ = ["MAX_DEPTH", "ContainerError", "ContainerStream", "Member"]

#: containers inside containers deeper than this are an error (a zip of gzips of zips ...)
MAX_DEPTH = 8

Buffer = bytes | bytearray | memoryview


class ContainerError(MalformedPickle):
    """A container was recognised but cannot be read: a scan reports it as an error, never as
    clean.

    .. versionadded:: 0.2
    """


@dataclass(frozen=True)
class ContainerStream:
    """Bytes the scanner wants opened.

    .. versionadded:: 0.2
    """

    #: where the bytes come from: the file path, then ``!member`` for each container level
    name: str
    #: the bytes (a memory map for files: slice it, do not copy it whole)
    data: Buffer
    #: 0 for a file, 1 for a member of a container in that file, ...
    depth: int
    #: bytes any one decompressed member may have (the policy's ``max_input_bytes``)
    max_bytes: int


@dataclass(frozen=True)
class Member:
    """One stream inside a container.

    ``kind`` says what the opener knows about it: ``"pickle"`` (the format says it is a pickle:
    a failure to verify it is an error), ``"data"`` (raw bytes that the scanner opens as a
    container if it is one, and otherwise scans as a pickle only if it looks like one:
    archive members, whatever their names), or ``"same"`` (the whole content of a transparent
    wrapper such as gzip: held to the same standard as the wrapper itself).

    ``format_globals`` are globals the container format itself writes around its payload
    (joblib's ``NumpyArrayWrapper``): the opener has parsed and skipped what they read, so
    the scanner reports them as format structure rather than asking the policy.
    """

    name: str
    data: Buffer
    kind: Literal["pickle", "data", "same"] = "data"
    #: the container format, for reports ("gzip", "zip", "npy", "joblib", ...)
    format: str = ""
    format_globals: frozenset[GlobalRef] = field(default_factory=frozenset)
    #: what the opener noticed and tolerated (a name mismatch between zip headers, a bad CRC)
    notes: tuple[str, ...] = ()


Opened = Iterable[Member]
