"""Containers: formats that hold pickles (compressed files, zip archives and PyTorch
checkpoints, ``.npy``/``.npz`` object arrays, joblib files), opened for ``safepickle scan``.

An opener is a plugin implementing :func:`~safepickle.hookspecs.safepickle_open_container`:
given a :class:`ContainerStream` it recognises (by its bytes, never by its name alone), it
returns the streams inside as :class:`Member` objects, or ``None`` for "not my format". The
scanner opens members again, so containers nest, up to :data:`MAX_DEPTH`. Openers read and
decompress only: nothing here executes or imports anything named by the data.

Decompression is bounded for the whole file, not member by member: a few kilobytes of gzip
inside gzip, a zip of zips or a zip whose members all share one compressed kernel expand to
gigabytes, though no one member looks like much. So every byte the containers of a file produce
(at any nesting level, in any member) is charged to one :class:`ExpansionBudget`: at most
``Limits.max_decompressed_bytes`` in all, and at most ``Limits.max_expansion_ratio`` times the
file's own size (a file however small may expand to ``Limits.result_bytes_floor``: bz2 and xz
compress runs of zeros, real arrays of them, far beyond deflate's 1,032:1). Each member is
also bounded by ``max_input_bytes``, and the members of a file by :data:`MAX_MEMBERS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..decision import GlobalRef
from ..errors import LimitExceeded, MalformedPickle
from ..limits import Limits

__all__ = [
    "MAX_DEPTH",
    "MAX_MEMBERS",
    "ArchiveReads",
    "ContainerError",
    "ContainerStream",
    "ExpansionBudget",
    "Member",
]

#: containers inside containers deeper than this are an error (a zip of gzips of zips ...)
MAX_DEPTH = 8
#: members (archive entries, decompressed streams, joblib parts) one scanned file may hold, at
#: every nesting level together: each costs a report entry whatever its size
MAX_MEMBERS = 100_000

Buffer = bytes | bytearray | memoryview


class ContainerError(MalformedPickle):
    """A container was recognised but cannot be read: a scan reports it as an error, never as
    clean.

    .. versionadded:: 0.2
    """


class ExpansionBudget:
    """What the containers of one scanned file may still produce, and the members they hold.

    .. versionadded:: 0.2
    """

    def __init__(self, source_bytes: int, limits: Limits) -> None:
        #: the size of the outermost input (the scanned file)
        self.source_bytes = source_bytes
        self.limits = limits
        by_ratio = max(limits.max_expansion_ratio * source_bytes, limits.result_bytes_floor)
        #: bytes the file's containers may produce in all
        self.allowed = min(limits.max_decompressed_bytes, by_ratio)
        #: bytes produced so far
        self.used = 0
        #: members examined so far
        self.members = 0

    def room(self) -> int:
        """Bytes that may still be produced."""
        return self.allowed - self.used

    def charge(self, count: int, where: str, what: str) -> None:
        """Count ``count`` more bytes that ``what`` produced at ``where``; past the budget, a
        :class:`LimitExceeded` naming the limit that binds and how to raise it."""
        self.used += count
        if self.used > self.allowed:
            raise self._exceeded(where, what)

    def count_member(self, where: str) -> None:
        """Count one more member (``where``); past :data:`MAX_MEMBERS`, a container error."""
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise self.too_many_members(where)

    def members_left(self) -> int:
        """Members the file may still hold (an archive checks its entries against this before
        it collects more of them)."""
        return MAX_MEMBERS - self.members

    def too_many_members(self, where: str) -> ContainerError:
        return ContainerError(
            f"{where!r}: the file's containers hold more than {MAX_MEMBERS:,} members "
            "(archive entries and decompressed streams at every level together); if you "
            "trust this input, raise safepickle.containers.MAX_MEMBERS",
            offset=None,
        )

    def _exceeded(self, where: str, what: str) -> LimitExceeded:
        limits = self.limits
        if self.allowed == limits.max_decompressed_bytes:
            name, maximum = "max_decompressed_bytes", limits.max_decompressed_bytes
            bound = f"{maximum:,} bytes in all"
        else:
            name, maximum = "max_expansion_ratio", limits.max_expansion_ratio
            bound = (
                f"{self.allowed:,} bytes: {maximum:,} times the {self.source_bytes:,}-byte "
                f"file, never less than result_bytes_floor={limits.result_bytes_floor:,}"
            )
        return LimitExceeded(
            f"{what} at {where!r} expands the file past the limit {name}={maximum:,} "
            f"({bound}, every nesting level and member together); if you trust this input, "
            f"raise it: Policy(limits=Limits({name}=...))",
            limit=name,
            maximum=maximum,
        )


class ArchiveReads:
    """The bytes of one archive its members read. Each member reads its own part, so together
    they read at most the archive's size; whatever they read beyond that (members overlapping
    each other, all pointing into one compressed kernel) is charged to the budget as if it had
    been produced, which bounds the work such an archive can cause.

    .. versionadded:: 0.2
    """

    def __init__(self, budget: ExpansionBudget, archive_bytes: int) -> None:
        self._budget = budget
        self._unread = archive_bytes

    def add(self, count: int, where: str, what: str) -> None:
        """``count`` bytes of the archive read by the member at ``where``."""
        unread = min(self._unread, count)
        self._unread -= unread
        if count > unread:
            self._budget.charge(
                count - unread, where, f"{what}, re-reading what other members read,"
            )


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
    #: what the containers of the whole scanned file may still produce, shared by every level
    #: (a stream made without one gets its own, from its size and the default limits)
    budget: ExpansionBudget = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        given: Any = self.budget
        if given is None:
            object.__setattr__(self, "budget", ExpansionBudget(len(self.data), Limits()))


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
