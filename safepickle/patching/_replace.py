"""What ``pickle.load``, ``pickle.loads`` and the unpickler classes are while a patch is on.

Each one runs a full safepickle load (read bounded, verify, decide every global, execute)
under the policy of the active patch (see :mod:`._state`). Used when no patch is active (a
reference taken during a patch and kept after it), they load under the default policy: a
replacement never becomes plain pickle.
"""

from __future__ import annotations

import _pickle
import pickle
from collections.abc import Callable, Iterable
from typing import IO, Any

from .. import api
from .._unpickler import own_bytes
from ..decision import Decision, GlobalRef
from ..errors import ForbiddenGlobal
from ..hookspecs import hookimpl
from ..policy import Policy, default_policy
from ._gate import allow_hint, check_result, resolve_name
from ._state import current_policy

__all__ = ["PyUnpickler", "Unpickler", "load", "loads"]

#: pickle's unpicklers, C and pure-Python (captured before any patch replaces them)
PICKLE_C_UNPICKLER = _pickle.Unpickler
PICKLE_PY_UNPICKLER = pickle._Unpickler


def _policy() -> Policy:
    return current_policy() or default_policy()


def _add_hint(exc: ForbiddenGlobal) -> None:
    """Add to a refusal how to allow the global for code running under a patch: the
    caller's ``allow=`` is out of reach when the load call is in a library."""
    if exc.decision.rule == "default-deny":
        exc.message += allow_hint(GlobalRef(exc.module, exc.name))


def load(
    file: IO[bytes],
    *,
    fix_imports: bool = True,
    encoding: str = "ASCII",
    errors: str = "strict",
    buffers: Iterable[Any] | None = None,
) -> Any:
    """:func:`pickle.load` under the active patch: :func:`safepickle.load` with its policy."""
    try:
        return api.load(
            file,
            fix_imports=fix_imports,
            encoding=encoding,
            errors=errors,
            buffers=buffers,
            policy=_policy(),
        )
    except ForbiddenGlobal as exc:
        _add_hint(exc)
        raise


def loads(
    data: bytes | bytearray | memoryview,
    /,
    *,
    fix_imports: bool = True,
    encoding: str = "ASCII",
    errors: str = "strict",
    buffers: Iterable[Any] | None = None,
) -> Any:
    """:func:`pickle.loads` under the active patch: :func:`safepickle.loads` with its policy
    (bytes after the pickle's STOP are refused, as safepickle.loads does)."""
    # Replaced before anything can raise: callers hand pickle.loads views of live buffers
    # (multiprocessing's Connection.recv passes BytesIO.getbuffer()), and this frame, which a
    # refusal's traceback keeps, must not keep such a view.
    data = own_bytes(data)
    try:
        return api.loads(
            data,
            fix_imports=fix_imports,
            encoding=encoding,
            errors=errors,
            buffers=buffers,
            policy=_policy(),
        )
    except ForbiddenGlobal as exc:
        _add_hint(exc)
        raise


class _PersistentIds:
    """Hands persistent ids to the unpickler's own ``persistent_load`` (its code, as with
    pickle)."""

    def __init__(self, persistent_load: Callable[[Any], Any]) -> None:
        self._persistent_load = persistent_load

    def safepickle_persistent_load(self, pid: Any) -> Any:
        return self._persistent_load(pid)


class _FindClass:
    """Puts an unpickler's own ``find_class`` behind the policy: asked only for a global the
    policy already allowed, it may refuse it (raise) or hand out something else, which is
    checked like a resolved global (no module, nothing on the floor by its own name). It can
    never allow what the policy refused."""

    def __init__(self, base: Policy, find_class: Callable[[str, str], Any], where: str) -> None:
        self._base = base
        self._find_class = find_class
        self._where = where

    @hookimpl(tryfirst=True)  # its substitute must win over any other plugin's allow
    def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
        if not self._base.decide(ref).allowed:
            return None  # the policy's own deny stands
        try:
            obj = self._find_class(ref.module, ref.qualname)
        except Exception as exc:
            return Decision.deny(f"{self._where} refused it: {exc}", rule="find-class")
        try:
            check_result(self._where, ref, ref.module, ref.qualname, obj)
        except ForbiddenGlobal as exc:
            return exc.decision
        return Decision.allow(
            f"allowed by the policy and resolved by {self._where}",
            rule="find-class",
            substitute=obj,
        )


def _safe_load(unpickler: Any, find_class_overridden: bool, persistent: bool) -> Any:
    """One full safepickle load for a replacement unpickler, honouring its own
    ``persistent_load`` and ``find_class`` the way pickle does for a subclass."""
    policy: Policy | None = unpickler.__dict__.get("_safepickle_effective")
    if policy is None:
        policy = unpickler._safepickle_policy
        plugins: list[object] = []
        if persistent:
            plugins.append(_PersistentIds(unpickler.persistent_load))
        if find_class_overridden:
            cls = type(unpickler)
            where = f"{cls.__module__}.{cls.__qualname__}.find_class"
            plugins.append(_FindClass(policy, unpickler.find_class, where))
        if plugins:
            policy = policy.with_plugins(*plugins)
        unpickler._safepickle_effective = policy  # computed once: a policy caches decisions
    options = unpickler._safepickle_options
    try:
        return api.Unpickler(
            unpickler._safepickle_file,
            fix_imports=options[0],
            encoding=options[1],
            errors=options[2],
            buffers=options[3],
            policy=policy,
        ).load()
    except ForbiddenGlobal as exc:
        _add_hint(exc)
        raise


def _foreign(unpickler: object) -> bool:
    """True for an instance of a class defined before the patch, calling a method of its
    base through a module global the patch replaced (``Unpickler.__init__(self, file)``)."""
    return not isinstance(unpickler, Unpickler)


def _as_any(unpickler: object) -> Any:
    return unpickler


class Unpickler:
    """:class:`pickle.Unpickler` (the C one, ``_pickle.Unpickler``) under a patch.

    Same signature as pickle's; each :meth:`load` is a full safepickle load under the policy
    of the patch active when the unpickler was made. A subclass may define
    ``persistent_load`` and ``find_class`` as with pickle (or set them on the instance): the
    first resolves persistent ids; the second is asked only about globals the policy allowed,
    and may refuse or redirect them, never allow more. ``find_class`` itself hands out what
    the policy resolves.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        fix_imports: bool = True,
        encoding: str = "ASCII",
        errors: str = "strict",
        buffers: Iterable[Any] | None = None,
    ) -> None:
        if _foreign(self):
            # A class defined before the patch names pickle's Unpickler as its base and calls
            # ``Unpickler.__init__(self, ...)`` through a module global the patch replaced.
            PICKLE_C_UNPICKLER.__init__(
                _as_any(self), file, fix_imports=fix_imports, encoding=encoding, errors=errors,
                buffers=buffers,
            )  # fmt: skip
            return
        self._safepickle_file = file
        self._safepickle_options = (fix_imports, encoding, errors, buffers)
        self._safepickle_policy = _policy()
        self.memo: dict[int, Any] = {}  # pickle's attribute; safepickle keeps its memo inside

    def find_class(self, module: str, name: str) -> Any:
        """What the policy hands out for ``module.name``; ForbiddenGlobal when it refuses."""
        if _foreign(self):  # an older subclass calling its base's method
            # its own find_class, which calls this one, is gated
            return PICKLE_C_UNPICKLER.find_class(_as_any(self), module, name)
        cls = type(self)
        where = f"{cls.__module__}.{cls.__qualname__}.find_class"
        fix_imports = self._safepickle_options[0]
        return resolve_name(where, module, name, 0, fix_imports, self._safepickle_policy)

    def load(self) -> Any:
        """Read, verify and execute the next pickle of the file."""
        if _foreign(self):  # an older subclass calling its base's method
            return PICKLE_C_UNPICKLER.load(_as_any(self))
        overridden = (
            type(self).find_class is not Unpickler.find_class or "find_class" in self.__dict__
        )
        persistent = getattr(self, "persistent_load", None) is not None
        return _safe_load(self, overridden, persistent)


class PyUnpickler(PICKLE_PY_UNPICKLER):
    """``pickle._Unpickler`` (the pure-Python one) under a patch.

    Used as is, each :meth:`load` is a full safepickle load, like :class:`Unpickler`. A
    subclass of it (libraries subclass ``pickle._Unpickler`` to change its opcode dispatch)
    keeps pickle's own loop, whose ``find_class`` the patch gates by name.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        fix_imports: bool = True,
        encoding: str = "ASCII",
        errors: str = "strict",
        buffers: Iterable[Any] | None = None,
    ) -> None:
        # Not super(): older subclasses of pickle._Unpickler call ``Unpickler.__init__(self)``
        # through module globals the patch replaced with this class.
        PICKLE_PY_UNPICKLER.__init__(
            self, file, fix_imports=fix_imports, encoding=encoding, errors=errors, buffers=buffers
        )
        self._safepickle_file = file
        self._safepickle_options = (fix_imports, encoding, errors, buffers)
        self._safepickle_policy = _policy()

    def load(self) -> Any:
        """Read, verify and execute the next pickle (pickle's loop in a subclass)."""
        if type(self) is not PyUnpickler:
            return PICKLE_PY_UNPICKLER.load(self)
        # pickle's class defines persistent_load (it refuses every id): only an instance's counts
        persistent = "persistent_load" in self.__dict__
        return _safe_load(self, "find_class" in self.__dict__, persistent)
