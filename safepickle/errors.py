"""The exceptions safepickle raises on purpose.

Every one subclasses :class:`pickle.UnpicklingError`, so code that already catches pickle's
errors keeps working after swapping ``pickle.load`` for ``safepickle.load``.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .decision import Decision

__all__ = [
    "ExecutionError",
    "ForbiddenGlobal",
    "LimitExceeded",
    "MalformedPickle",
    "PluginError",
    "PolicyError",
    "SafePickleError",
    "TruncatedPickle",
    "UnsafeOpcode",
    "ValidationFailed",
]


class SafePickleError(pickle.UnpicklingError):
    """Base of every error safepickle raises on purpose.

    ``offset`` is the byte offset in the stream the error is about, when there is one.

    .. versionadded:: 0.1
    """

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return self.message


class ForbiddenGlobal(SafePickleError):
    """The stream references a global (class, function) that the policy does not allow.

    ``module`` and ``name`` are the canonical names the policy decided on; ``raw_module`` and
    ``raw_name`` are what the stream spelled (they differ for protocol 0-2 aliases such as
    ``__builtin__``). ``decision`` is the refusing :class:`~safepickle.Decision`.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        message: str,
        *,
        module: str,
        name: str,
        raw_module: str,
        raw_name: str,
        decision: Decision,
        offset: int | None = None,
        refused: tuple[ForbiddenGlobal, ...] = (),
    ) -> None:
        super().__init__(message, offset=offset)
        self.module = module
        self.name = name
        self.raw_module = raw_module
        self.raw_name = raw_name
        self.decision = decision
        #: every global of the stream that was refused, this one first
        self.refused: tuple[ForbiddenGlobal, ...] = refused or (self,)


class UnsafeOpcode(SafePickleError):
    """An opcode that safepickle never executes in this position.

    EXT1/2/4 (the extension registry), persistent ids nobody handles, ``BUILD`` /
    ``SETITEM(S)`` / ``APPEND(S)`` aimed at an imported global (monkey-patching), or a call whose
    callable is not a global the policy allowed.

    .. versionadded:: 0.1
    """

    def __init__(self, message: str, *, opcode: str, offset: int | None = None) -> None:
        super().__init__(message, offset=offset)
        self.opcode = opcode


class MalformedPickle(SafePickleError):
    """The input is not a well-formed pickle (unknown opcode, bad argument, stack underflow...).

    .. versionadded:: 0.1
    """


class TruncatedPickle(MalformedPickle, EOFError):
    """The input ended before the pickle's ``STOP`` opcode, or was empty.

    It is also an :class:`EOFError`, as :func:`pickle.load` raises at the end of a file, so the
    usual ``while True: try: load(f) except EOFError: break`` loop keeps working.

    .. versionadded:: 0.1
    """


class LimitExceeded(SafePickleError):
    """The stream went past one of the policy's resource limits.

    ``limit`` is the name of the :class:`~safepickle.Limits` field, ``maximum`` its value.

    .. versionadded:: 0.1
    """

    def __init__(
        self, message: str, *, limit: str, maximum: int, offset: int | None = None
    ) -> None:
        super().__init__(message, offset=offset)
        self.limit = limit
        self.maximum = maximum

    @classmethod
    def of(cls, limit: str, maximum: int, what: str, offset: int | None = None) -> LimitExceeded:
        """The error for ``what`` going past ``Limits.<limit>``, with the way to raise it."""
        where = "" if offset is None else f" (at offset {offset})"
        return cls(
            f"{what} exceeds the limit {limit}={maximum:,}{where}; if you trust this input, "
            f"raise it: Policy(limits=Limits({limit}=...))",
            limit=limit,
            maximum=maximum,
            offset=offset,
        )


class ExecutionError(SafePickleError):
    """Code the policy allowed raised while the verified stream was executed.

    The original exception is chained as ``__cause__``.

    .. versionadded:: 0.1
    """


class PluginError(SafePickleError):
    """A plugin raised, misbehaved, or rejected the loaded object (chained with ``from``).

    .. versionadded:: 0.1
    """


class PolicyError(SafePickleError, ValueError):
    """A policy could not be built: a bad allow/deny entry, an unknown plugin, a bad limit.

    .. versionadded:: 0.1
    """


class ValidationFailed(SafePickleError):
    """The loaded object (or a part of it) failed validation: a ``schema=`` given to the load,
    or a plugin that re-validates what the stream rebuilt (``safepickle-pydantic``).

    ``details`` are the validator's own error records (for pydantic, ``ValidationError.errors()``);
    ``path`` says where in the loaded object graph the invalid part is (``result[3].owner``), or
    is None for the whole result.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        message: str,
        *,
        details: Iterable[Mapping[str, Any]] = (),
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.details: tuple[dict[str, Any], ...] = tuple(dict(d) for d in details)
        self.path = path
