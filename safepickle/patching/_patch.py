"""``safepickle.patch()``: the Patch object and its stacking rules."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType

from ..errors import SafePickleError
from ..policy import Policy, default_policy
from . import _install
from ._state import LOCK, STACK

__all__ = ["Patch", "PatchError", "patch"]

#: the changes in place while any patch is active (made by the first, undone by the last)
_applied: list[_install.AnyChange] = []


class PatchError(SafePickleError, RuntimeError):
    """A patch was used out of order: undone while a later patch of the same thread is still
    active, or re-applied after it was undone. Nothing was changed.

    .. versionadded:: 0.2
    """


class Patch:
    """One application of :func:`patch`; a context manager, or call :meth:`undo`.

    .. versionadded:: 0.2
    """

    def __init__(self, policy: Policy) -> None:
        #: the policy loads under this patch use
        self.policy = policy
        #: the thread that applied it (loads in that thread use this patch while it is the
        #: innermost one of the thread)
        self.thread = threading.get_ident()
        self._state = "new"

    def __repr__(self) -> str:
        return f"<safepickle.Patch {self._state} policy={self.policy!r}>"

    @property
    def active(self) -> bool:
        """True from :func:`patch` until :meth:`undo`."""
        return self._state == "active"

    def _apply(self) -> None:
        with LOCK:
            if not STACK:
                changes = _install.plan()
                done: list[_install.AnyChange] = []
                try:
                    for change in changes:
                        change.apply()
                        done.append(change)
                except BaseException:
                    for change in reversed(done):
                        change.restore()
                    raise
                _applied[:] = done
            STACK.append(self)
            self._state = "active"

    def undo(self) -> None:
        """End this patch: when it is the last active one, every replaced attribute gets back
        exactly its original value. Undoing an undone patch does nothing.

        :raises PatchError: a later patch applied by the same thread is still active (undo
            that one first); nothing is changed.
        """
        with LOCK:
            if self._state != "active":
                return
            later = [p for p in STACK[STACK.index(self) + 1 :] if p.thread == self.thread]
            if later:
                raise PatchError(
                    f"this patch cannot be undone while {len(later)} later patch(es) of the "
                    "same thread are active: undo them first (patches stack, innermost first)"
                )
            STACK.remove(self)
            self._state = "undone"
            if not STACK:
                changes, _applied[:] = _applied[:], []
                for change in reversed(changes):
                    change.restore()

    def __enter__(self) -> Patch:
        if self._state != "active":
            raise PatchError("this patch was undone; call safepickle.patch() again")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.undo()


def patch(policy: Policy | None = None, *, allow: Iterable[object] | None = None) -> Patch:
    """Route ``pickle.load``, ``pickle.loads`` and ``pickle.Unpickler`` (and their ``_pickle``
    and pure-Python variants) through safepickle under ``policy`` (default: the default
    policy) plus ``allow``, until the returned patch is undone.

    ``with safepickle.patch(allow=[MyModel]): df = pandas.read_pickle(path)``, or
    ``p = safepickle.patch(); ...; p.undo()``. Patches stack: the innermost one the current
    thread applied decides its loads; a thread that applied none uses the process's innermost.
    What a patch cannot reach is listed in ``docs/patching.md``.

    .. versionadded:: 0.2
    """
    base = policy if policy is not None else default_policy()
    if allow:
        base = base.allowing(*allow)
    applied = Patch(base)
    applied._apply()
    return applied
