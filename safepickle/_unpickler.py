"""SafeUnpickler: the C unpickler, handed only what the verifier and the policy approved; and
the buffers a load reads, every view of them released before the load returns or raises."""

from __future__ import annotations

import contextlib
import pickle
import sys
import traceback
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .decision import Decision
from .errors import ForbiddenGlobal, PluginError, UnsafeOpcode

if TYPE_CHECKING:
    from ._manager import PolicyManager
    from .context import LoadContext
    from .policy import Policy
    from .verify import Verified

__all__ = ["SafeUnpickler", "SliceReader", "inspect_stream", "own_bytes", "stream_bytes"]

_MISSING: Any = object()


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

    # Neither method keeps ``self`` in its frame when it raises: a raised exception's traceback
    # keeps the frame, and the unpickler's stack and memo may hold memoryviews of the caller's
    # out-of-band buffers (READONLY_BUFFER), which must not outlive the load.

    def find_class(self, module: str, name: str) -> Any:
        found = self._approved.get((module, name), _MISSING)
        if found is _MISSING:
            del self
            raise ForbiddenGlobal(
                f"global '{module}.{name}' was not approved by the verifier",
                module=module,
                name=name,
                raw_module=module,
                raw_name=name,
                decision=Decision.deny("not approved by the verifier", rule="verifier"),
            )
        return found

    def persistent_load(self, pid: Any) -> Any:
        manager, context = self._manager, self._context
        del self
        result = manager.persistent_load(pid, context)
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

    Every view it makes is released before the method returns or raises: ``data`` may be a
    buffer that is resized after the load (a file's read buffer), and a view alive in a raised
    exception's traceback would keep it exported.
    """

    __slots__ = ("_data", "_end", "_peeked", "_pos")

    def __init__(self, data: bytes | bytearray, start: int, end: int) -> None:
        self._data = data
        self._pos = start
        self._end = end
        self._peeked = False

    def peek(self, size: int = 0) -> bytes:
        chunk = stream_bytes(self._data, self._pos, self._end)
        self._peeked = True
        return chunk

    def read(self, size: int = -1) -> bytes:
        pos = self._pos
        stop = self._end if size < 0 else min(pos + size, self._end)
        self._pos = stop
        if self._peeked:
            return b""  # skipping what was consumed from the peeked buffer
        return stream_bytes(self._data, pos, stop)

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as target, target.cast("B") as flat:
            chunk = self.read(len(flat))
            flat[: len(chunk)] = chunk
        return len(chunk)

    def readline(self, size: int = -1) -> bytes:
        pos = self._pos
        newline = self._data.find(b"\n", pos, self._end)
        return self.read((self._end if newline < 0 else newline + 1) - pos)


# --- the buffers a load reads --------------------------------------------------------------


def own_bytes(data: object) -> bytes:
    """``data`` (any bytes-like object) as bytes, copied unless it is a bytes already.

    Every ``loads`` starts with it, before anything can raise. A caller's bytearray or view
    (``multiprocessing``'s ``Connection.recv`` passes ``BytesIO.getbuffer()``) is copied once,
    which the unpickler did anyway, and the caller's reference in the frame is replaced: then
    nothing of the load, not a view and not a frame in a raised exception's traceback, keeps
    the caller's buffer exported (the BytesIO could not grow; CPython 3.12 crashes when the
    garbage collector frees such a traceback), and no other thread can change the bytes
    between the verifier and the unpickler.
    """
    if type(data) is bytes:
        return data
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not {type(data).__name__!r}") from None
    with view:
        return view.tobytes()


def stream_bytes(data: bytes | bytearray, start: int, end: int) -> bytes:
    """``data[start:end]`` as bytes: ``data`` itself when it is exactly that, else a copy made
    through views released on the way out."""
    if start == 0 and end == len(data) and type(data) is bytes:
        return data
    with memoryview(data) as whole, whole[start:end] as part:
        return part.tobytes()


def inspect_stream(
    data: bytes | bytearray, start: int, end: int, verified: Verified, policy: Policy
) -> None:
    """The plugins' ``safepickle_inspect_stream`` on a read-only view of ``data[start:end]``;
    every view is released before this returns or raises (loads and the scanner call it).

    When a plugin raises, the locals of the frames its error passed through (the plugin's own,
    which may hold the view, or slices and exports of it) are cleared first: the traceback
    keeps its lines, and no view pins ``data`` while the error lives (CPython 3.12 crashes
    when the garbage collector frees a view that still has exports). A plugin that keeps an
    export of the view past the call (a ``PickleBuffer`` of it, say) gets a PluginError.
    """
    handling = sys.exc_info()[1]  # the caller's own error, if it loads while handling one
    with memoryview(data) as whole, whole[start:end] as part:
        stream = part.toreadonly()
        try:
            policy.manager.inspect(stream, verified, policy)
        except BaseException as exc:
            _clear_frames(exc, handling)
            with contextlib.suppress(BufferError):
                stream.release()  # if a plugin still holds an export: its error is reported
            raise
        try:
            stream.release()
        except BufferError:
            raise PluginError(
                "a plugin's safepickle_inspect_stream kept an export of the stream's view (a "
                "PickleBuffer, an array over it) past the call; the view is valid only during it"
            ) from None


def _clear_frames(exc: BaseException, handling: BaseException | None) -> None:
    """Clear the locals of the finished frames in the tracebacks of ``exc`` and of the errors
    chained to it during the call (not ``handling``, which was raised before, nor its chain);
    the frames still executing are left alone."""
    seen = {id(handling)}
    pending = [exc]
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        pending.extend(e for e in (error.__cause__, error.__context__) if e is not None)
