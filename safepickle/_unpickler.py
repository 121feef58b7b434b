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
    """A read-only file over ``data[start:end]`` for the C unpickler.

    The C unpickler asks a file that has ``peek`` for a prefetch buffer before it reads; we hand
    it the whole verified stream at once (the bytes object itself when the stream is all of it,
    so nothing is copied). It then reads from that buffer exactly as :func:`pickle.loads` does,
    at the same speed and without the per-opcode ``read`` calls it makes on a
    :class:`io.BytesIO`. The only ``read`` it makes afterwards skips what it consumed; its result
    is discarded, so it gets an empty bytes instead of a copy of the stream.
    """

    __slots__ = ("_data", "_end", "_peeked", "_pos")

    def __init__(self, data: bytes | bytearray, start: int, end: int) -> None:
        self._data = data
        self._pos = start
        self._end = end
        self._peeked = False

    def peek(self, size: int = 0) -> bytes:
        data = self._data
        if self._pos == 0 and self._end == len(data) and type(data) is bytes:
            chunk = data
        else:
            chunk = bytes(memoryview(data)[self._pos : self._end])
        self._peeked = True
        return chunk

    def read(self, size: int = -1) -> bytes:
        pos = self._pos
        stop = self._end if size < 0 else min(pos + size, self._end)
        self._pos = stop
        if self._peeked:
            return b""  # skipping what was consumed from the peeked buffer
        return bytes(memoryview(self._data)[pos:stop])

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[: len(chunk)] = chunk
        return len(chunk)

    def readline(self, size: int = -1) -> bytes:
        pos = self._pos
        newline = self._data.find(b"\n", pos, self._end)
        return self.read((self._end if newline < 0 else newline + 1) - pos)
