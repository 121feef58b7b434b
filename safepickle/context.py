"""What hooks are told about the load in progress."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .decision import Decision
    from .policy import Policy
    from .verify import GlobalUse, Verified

__all__ = ["CallSite", "LoadContext", "LoadEvent"]


@dataclass(frozen=True)
class LoadContext:
    """The load a hook is called for.

    .. versionadded:: 0.1
    """

    policy: Policy
    #: a file name, or None for bytes
    source: str | None
    verified: Verified


def _new_event_id() -> str:
    """A random (version 4) UUID as text; ``str(uuid.uuid4())`` costs twice as much."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class CallSite(NamedTuple):
    """The code outside safepickle that asked for a load.

    .. versionadded:: 0.1
    """

    module: str
    function: str
    filename: str
    line: int


@dataclass(frozen=True)
class LoadEvent:
    """One load's outcome, for :func:`~safepickle.hookspecs.safepickle_audit`.

    .. versionadded:: 0.1
    """

    policy: Policy
    source: str | None
    size: int
    #: pickle protocol of the stream (None when it was not read far enough to know)
    protocol: int | None
    #: every global with the policy's decision
    decisions: tuple[tuple[GlobalUse, Decision], ...]
    #: "loaded", "refused" or "error"
    outcome: str
    error: BaseException | None
    duration_seconds: float
    #: "load", or "scan" for a stream that was only verified and decided
    action: str = "load"
    #: wall-clock start of the load, in seconds since the epoch
    timestamp: float = field(default_factory=time.time)
    #: unique id of the event (a UUID4)
    event_id: str = field(default_factory=_new_event_id)
    #: hex SHA-256 of the input bytes (for a failed file read: of the bytes read so far)
    sha256: str | None = None
    #: who called safepickle: module, function, file and line
    caller: CallSite | None = None
    #: input format: "pickle"
    format: str = "pickle"

    @cached_property
    def ecs_json(self) -> str:
        """The event as an Elastic Common Schema document, one line of JSON (built once).
        See :mod:`safepickle.audit.event`."""
        from .audit.event import to_json  # noqa: PLC0415 - the audit package imports this one

        return to_json(self)

    @cached_property
    def ecs(self) -> dict[str, Any]:
        """:attr:`ecs_json` as a dict (built once, shared by every sink: copy it to change it)."""
        document: dict[str, Any] = json.loads(self.ecs_json)
        return document
