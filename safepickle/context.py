"""What hooks are told about the load in progress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .decision import Decision
    from .policy import Policy
    from .verify import GlobalUse, Verified

__all__ = ["LoadContext", "LoadEvent"]


@dataclass(frozen=True)
class LoadContext:
    """The load a hook is called for.

    .. versionadded:: 0.1
    """

    policy: Policy
    #: a file name, or None for bytes
    source: str | None
    verified: Verified


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
