"""SafeUnpickler: the C unpickler, handed only what the verifier and the policy approved."""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .decision import Decision
from .errors import ForbiddenGlobal, UnsafeOpcode

if TYPE_CHECKING:
    from ._manager import PolicyManager
    from .context import LoadContext

__all__ = ["SafeUnpickler", "SliceReader"]


class SafeUnpickler(pickle.Unpickler):
    """A C :class:`pickle.Unpickler` whose ``find_class`` hands out approved objects only.

    It is never given a stream the verifier has not accepted; ``find_class`` refusing anything
    is defence in depth, for a verifier bug. ``persistent_load`` goes to the plugins'
    ``safepickle_persistent_load`` hook.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        file: Any,
        *,
        approved: dict[tuple[str, str], Any],
        manager: PolicyManager,
        context: LoadContext,
        fix_imports: bool = True,
        encoding: str = "ASCII",
        errors: str = "strict",
        buffers: Iterable[Any] | None = None,
    ) -> None:
        super().__init__(
            file, fix_imports=fix_imports, encoding=encoding, errors=errors, buffers=buffers
        )
        self._approved = approved
        self._manager = manager
        self._context = context

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._approved[(module, name)]
        except KeyError:
            raise ForbiddenGlobal(
                f"global '{module}.{name}' was not approved by the verifier",
                module=module,
                name=name,
                raw_module=module,
                raw_name=name,
                decision=Decision.deny("not approved by the verifier", rule="verifier"),
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        result = self._manager.persistent_load(pid, self._context)
        if result is None:
            raise UnsafeOpcode(f"no plugin resolved the persistent id {pid!r}", opcode="BINPERSID")
        return result


class SliceReader:
    """A read-only file over ``data[start:end]`` with ``peek``, so the C unpickler reads it in
    bulk (it prefetches through ``peek``) instead of one opcode at a time, as it does from a
    :class:`io.BytesIO` for unframed protocols 0-3."""

    __slots__ = ("_data", "_end", "_pos", "_view")

    def __init__(self, data: bytes | bytearray, start: int, end: int) -> None:
        self._data = data
        self._view = memoryview(data)
        self._pos = start
        self._end = end

    def read(self, size: int = -1) -> bytes:
        pos = self._pos
        stop = self._end if size < 0 else min(pos + size, self._end)
        self._pos = stop
        return (
            bytes(self._view[pos:stop]) if type(self._data) is not bytes else self._data[pos:stop]
        )

    def readinto(self, buffer: Any) -> int:
        pos = self._pos
        chunk = self._view[pos : min(pos + len(buffer), self._end)]
        count = len(chunk)
        memoryview(buffer).cast("B")[:count] = chunk
        self._pos = pos + count
        return count

    def readline(self, size: int = -1) -> bytes:
        pos = self._pos
        newline = self._data.find(b"\n", pos, self._end)
        stop = self._end if newline < 0 else newline + 1
        self._pos = stop
        return bytes(self._view[pos:stop])

    def peek(self, size: int = 0) -> bytes:
        pos = self._pos
        return bytes(self._view[pos : min(pos + max(size, 1), self._end)])
