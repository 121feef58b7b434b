"""The public entry points: ``load``, ``loads``, ``load_all``, ``Unpickler``, ``dump(s)``.

Every entry point takes one path: read (bounded) -> verify (static) -> decide every global ->
resolve the allowed ones -> execute on :class:`SafeUnpickler` -> validate hooks -> audit.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ._resolve import approve, decide_all
from ._source import iter_stream, read_one
from ._unpickler import SafeUnpickler, SliceReader
from .context import LoadContext, LoadEvent
from .errors import (
    ExecutionError,
    ForbiddenGlobal,
    MalformedPickle,
    SafePickleError,
    UnsafeOpcode,
)
from .policy import Policy, default_policy
from .verify import Verified, verify

__all__ = ["Unpickler", "dump", "dumps", "load", "load_all", "loads"]


class _Options:
    """pickle's own keyword arguments, checked once per call."""

    __slots__ = ("buffers", "encoding", "errors", "fix_imports")

    def __init__(
        self, fix_imports: bool, encoding: str, errors: str, buffers: Iterable[Any] | None
    ) -> None:
        self.fix_imports = fix_imports
        self.encoding = encoding
        self.errors = errors
        self.buffers = buffers


def _policy_for(policy: Policy | None, allow: Iterable[object] | None) -> Policy:
    base = policy if policy is not None else default_policy()
    if not allow:
        return base
    return _derived(base, tuple(allow))


_DERIVED: dict[tuple[int, tuple[object, ...]], tuple[Policy, Policy]] = {}


def _derived(base: Policy, allow: tuple[object, ...]) -> Policy:
    """``base.allowing(*allow)``, cached so that ``loads(..., allow=[X])`` in a loop builds its
    policy (and its decision cache) once. Keyed by the base's identity, which the entry keeps
    alive; the cache is bounded."""
    try:
        key = (id(base), allow)
        hit = _DERIVED.get(key)
    except TypeError:  # an unhashable entry: no caching
        return base.allowing(*allow)
    if hit is not None and hit[0] is base:
        return hit[1]
    derived = base.allowing(*allow)
    if len(_DERIVED) >= 256:
        _DERIVED.clear()
    _DERIVED[key] = (base, derived)
    return derived


def _verifier(policy: Policy, options: _Options) -> Any:
    limits = policy.limits
    persistent = policy.manager.has_persistent_load

    def run(data: bytes | bytearray, start: int) -> Verified:
        return verify(
            data,  # type: ignore[arg-type]
            start,
            limits=limits,
            fix_imports=options.fix_imports,
            encoding=options.encoding,
            errors=options.errors,
            persistent_ids=persistent,
        )

    return run


def _execute(
    data: bytes | bytearray,
    verified: Verified,
    policy: Policy,
    options: _Options,
    source: str | None,
    started: float,
) -> Any:
    """Decide, resolve and execute one verified stream; audit the outcome."""
    manager = policy.manager
    decisions = decide_all(verified, policy)
    context = LoadContext(policy=policy, source=source, verified=verified)
    try:
        approved = approve(verified, policy, decisions)
        buffers = None
        if options.buffers is not None:
            buffers = list(options.buffers)
        if verified.out_of_band_buffers > len(buffers or ()):
            raise MalformedPickle(
                f"the stream refers to {verified.out_of_band_buffers} out-of-band buffer(s) "
                f"but {len(buffers or ())} were given (pass them as buffers=...)"
            )
        file = SliceReader(data, verified.start, verified.end)
        unpickler = SafeUnpickler(
            file,
            approved=approved,
            manager=manager,
            context=context,
            fix_imports=options.fix_imports,
            encoding=options.encoding,
            errors=options.errors,
            buffers=buffers,
        )
        try:
            result = unpickler.load()
        except SafePickleError:
            raise
        except Exception as exc:
            raise ExecutionError(
                f"executing the verified pickle failed: {type(exc).__name__}: {exc}"
            ) from exc
        if manager.has_validators:
            manager.validate(result, context)
    except SafePickleError as exc:
        if manager.has_auditors:
            _audit(policy, verified, decisions, source, exc, started)
        raise
    if manager.has_auditors:
        _audit(policy, verified, decisions, source, None, started)
    return result


def _audit(
    policy: Policy,
    verified: Verified,
    decisions: Any,
    source: str | None,
    error: BaseException | None,
    started: float,
) -> None:
    outcome = (
        "loaded"
        if error is None
        else ("refused" if isinstance(error, (ForbiddenGlobal, UnsafeOpcode)) else "error")
    )
    policy.manager.audit(
        LoadEvent(
            policy=policy,
            source=source,
            size=verified.end - verified.start,
            protocol=verified.protocol,
            decisions=tuple(decisions),
            outcome=outcome,
            error=error,
            duration_seconds=time.perf_counter() - started,
        )
    )


def _file_name(file: Any) -> str | None:
    name = getattr(file, "name", None)
    return os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else None


def loads(
    data: bytes | bytearray | memoryview,
    /,
    *,
    fix_imports: bool = True,
    encoding: str = "ASCII",
    errors: str = "strict",
    buffers: Iterable[Any] | None = None,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
) -> Any:
    """Like :func:`pickle.loads`, verified first and refused unless ``policy`` allows it.

    ``allow`` adds entries to ``policy`` (default: :func:`safepickle.Policy` ()) for this call.
    Unlike :func:`pickle.loads`, bytes after the pickle's STOP are an error (use
    :func:`load_all` for several pickles in a row).

    .. versionadded:: 0.1
    """
    started = time.perf_counter()
    effective = _policy_for(policy, allow)
    options = _Options(fix_imports, encoding, errors, buffers)
    if not isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data)
        except TypeError:
            raise TypeError(
                f"a bytes-like object is required, not {type(data).__name__!r}"
            ) from None
    verified = _verifier(effective, options)(data, 0)
    if verified.end != len(data):
        raise MalformedPickle(
            f"{len(data) - verified.end} byte(s) follow the pickle's STOP at offset "
            f"{verified.end - 1}; use safepickle.load_all for several pickles in a row",
            offset=verified.end,
        )
    return _execute(data, verified, effective, options, None, started)


def load(
    file: IO[bytes],
    *,
    fix_imports: bool = True,
    encoding: str = "ASCII",
    errors: str = "strict",
    buffers: Iterable[Any] | None = None,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
) -> Any:
    """Like :func:`pickle.load`: read one pickle from ``file``, leaving it just past the STOP.

    .. versionadded:: 0.1
    """
    return Unpickler(
        file,
        fix_imports=fix_imports,
        encoding=encoding,
        errors=errors,
        buffers=buffers,
        policy=policy,
        allow=allow,
    ).load()


def load_all(
    file: IO[bytes],
    *,
    fix_imports: bool = True,
    encoding: str = "ASCII",
    errors: str = "strict",
    buffers: Iterable[Any] | None = None,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
) -> Iterator[Any]:
    """Yield every pickle in ``file`` in order (what repeated ``pickle.load`` calls return).

    Each pickle is verified and decided before it runs; a refused one stops the iteration with
    the error, after the earlier pickles were yielded.

    .. versionadded:: 0.1
    """
    effective = _policy_for(policy, allow)
    options = _Options(fix_imports, encoding, errors, buffers)
    source = _file_name(file)
    verifier = _verifier(effective, options)
    started = time.perf_counter()
    for buf, verified in iter_stream(file, effective.limits.max_input_bytes, verifier):
        yield _execute(buf, verified, effective, options, source, started)
        started = time.perf_counter()


class Unpickler:
    """Drop-in for :class:`pickle.Unpickler`: ``safepickle.Unpickler(file).load()``.

    Each :meth:`load` reads, verifies and executes one pickle. A subclass may define
    ``persistent_load(pid)`` as with pickle; it then resolves persistent ids (it is your code).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        file: IO[bytes],
        *,
        fix_imports: bool = True,
        encoding: str = "ASCII",
        errors: str = "strict",
        buffers: Iterable[Any] | None = None,
        policy: Policy | None = None,
        allow: Iterable[object] | None = None,
    ) -> None:
        self._file = file
        self._options = _Options(fix_imports, encoding, errors, buffers)
        policy = _policy_for(policy, allow)
        persistent = getattr(type(self), "persistent_load", None)
        if persistent is not None:
            policy = policy.with_plugins(_PersistentLoadPlugin(self))
        self.policy = policy

    def load(self) -> Any:
        """Read, verify and execute the next pickle of the file."""
        started = time.perf_counter()
        buf, verified = read_one(
            self._file,
            self.policy.limits.max_input_bytes,
            _verifier(self.policy, self._options),
        )
        return _execute(buf, verified, self.policy, self._options, _file_name(self._file), started)


class _PersistentLoadPlugin:
    """Routes the safepickle_persistent_load hook to an Unpickler subclass's method."""

    def __init__(self, owner: Unpickler) -> None:
        self._owner = owner

    def safepickle_persistent_load(self, pid: Any) -> Any:
        return self._owner.persistent_load(pid)  # type: ignore[attr-defined]


def dumps(
    obj: Any,
    protocol: int | None = None,
    *,
    fix_imports: bool = True,
    buffer_callback: Any = None,
) -> bytes:
    """:func:`pickle.dumps` (writing is safe; what you load is what we guard).

    .. versionadded:: 0.1
    """
    return pickle.dumps(obj, protocol, fix_imports=fix_imports, buffer_callback=buffer_callback)


def dump(
    obj: Any,
    file: IO[bytes],
    protocol: int | None = None,
    *,
    fix_imports: bool = True,
    buffer_callback: Any = None,
) -> None:
    """:func:`pickle.dump`.

    .. versionadded:: 0.1
    """
    pickle.dump(obj, file, protocol, fix_imports=fix_imports, buffer_callback=buffer_callback)
