"""The public entry points: ``load``, ``loads``, ``load_all``, ``Unpickler``, ``dump(s)``.

Every entry point takes one path: read (bounded) -> verify (static) -> decide every global ->
resolve the allowed ones -> execute (:mod:`safepickle._execution`) -> validate hooks -> audit.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from ._execution import execute
from ._json import JSON_FIRST_BYTES, JsonDocument, decode_whole, encode_plain, scan_json
from ._resolve import approve, decide_all
from ._source import ReadableFile, WritableFile, iter_stream, only_whitespace, read_one
from ._unpickler import SliceReader, inspect_stream, own_bytes, stream_bytes
from .audit.digest import Digest
from .audit.event import call_site
from .context import LoadContext, LoadEvent
from .errors import (
    ExecutionError,
    ForbiddenGlobal,
    LimitExceeded,
    MalformedPickle,
    PluginError,
    SafePickleError,
    TruncatedPickle,
    UnsafeOpcode,
    ValidationFailed,
)
from .policy import Policy, default_policy
from .verify import Verified, verify

__all__ = ["Unpickler", "dump", "dumps", "load", "load_all", "loads"]


class _Options:
    """pickle's own keyword arguments, and the ``schema`` the result must match."""

    __slots__ = ("buffers", "encoding", "errors", "fix_imports", "schema")

    def __init__(
        self,
        fix_imports: bool,
        encoding: str,
        errors: str,
        buffers: Iterable[Any] | None,
        schema: Any = None,
    ) -> None:
        self.fix_imports = fix_imports
        self.encoding = encoding
        self.errors = errors
        self.buffers = buffers
        self.schema = schema


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


def _verifier(policy: Policy, options: _Options, seen: list[Any] | None = None) -> Any:
    """The verifier for ``policy``; it notes the last (buffer, start) it was given in ``seen``
    so that a stream it rejects can still be hashed for the audit."""
    limits = policy.limits
    persistent = policy.manager.has_persistent_load

    def run(data: bytes | bytearray, start: int, eof: bool = True) -> Verified:
        if seen is not None:
            seen[:] = (data, start)
        if start < len(data) and data[start] in JSON_FIRST_BYTES:
            return scan_json(data, start, eof, limits)
        return verify(
            data,  # type: ignore[arg-type]
            start,
            limits=limits,
            fix_imports=options.fix_imports,
            encoding=options.encoding,
            errors=options.errors,
            persistent_ids=persistent,
            partial=not eof,
        )

    return run


def _execute(
    data: bytes | bytearray,
    verified: Verified,
    policy: Policy,
    options: _Options,
    source: str | None,
    started: float,
    digest: Digest | None = None,
) -> Any:
    """Decide, resolve and execute one verified stream; audit the outcome.

    ``digest`` is the input's hash when the caller started it (an audited ``loads``)."""
    manager = policy.manager
    if isinstance(verified, JsonDocument):
        return _finish_json(data, verified, policy, options, source, started, digest)
    decisions = decide_all(verified, policy)
    audit = sys.audit
    for use, decision in decisions:
        # PEP 578: audit hooks see the canonical names and the verdict, on every load. With
        # no hook installed this is ~0.15 us per global (``_value_``: Enum.value is a slow
        # property).
        ref = use.ref
        audit(
            "safepickle.decide",
            ref.module,
            ref.qualname,
            decision.verdict._value_,
            decision.rule,
            decision.plugin,
        )
    context = LoadContext(policy=policy, source=source, verified=verified)
    if digest is None and manager.has_auditors:
        digest = Digest(data, verified.start, verified.end)  # hashed beside the load
    try:
        approved = approve(verified, policy, decisions)
        # The stream as bytes of its own (``data`` itself for loads): what plugins inspect and
        # the unpickler reads. The unpickler copied a file's buffer anyway; done first, a view
        # a plugin keeps, or a raised exception's traceback keeps, never pins that buffer,
        # which grows for the next pickle (load_all), or the caller's.
        stream = stream_bytes(data, verified.start, verified.end)
        if manager.has_inspectors:
            inspect_stream(stream, 0, len(stream), verified, policy)
        buffers = None
        if options.buffers is not None:
            buffers = list(options.buffers)
        if verified.out_of_band_buffers > len(buffers or ()):
            raise MalformedPickle(
                f"the stream refers to {verified.out_of_band_buffers} out-of-band buffer(s) "
                f"but {len(buffers or ())} were given (pass them as buffers=...)"
            )
        file = SliceReader(stream, 0, len(stream))
        try:
            # No local here holds the unpickler: if the load raises, it is freed before the
            # error leaves, with its stack and memo (views of the caller's out-of-band buffers).
            result = execute(
                file,
                verified,
                policy.limits,
                approved=approved,
                manager=manager,
                context=context,
                fix_imports=options.fix_imports,
                encoding=options.encoding,
                errors=options.errors,
                buffers=buffers,
            )
        except SafePickleError:
            raise
        except Exception as exc:
            raise ExecutionError(
                f"executing the verified pickle failed: {type(exc).__name__}: {exc}"
            ) from exc
        if manager.has_validators:
            manager.validate(result, context)
        if options.schema is not None:
            result = _validate_schema(result, options.schema, policy)
    except SafePickleError as exc:
        result = None  # refused by a validator: it may hold views of out-of-band buffers
        if digest is not None:
            _audit(policy, data, verified, decisions, source, exc, started, digest=digest)
        raise
    finally:
        if digest is not None:
            digest.hexdigest()  # a hashing thread never outlives the call, whatever happened
    if digest is not None:
        _audit(policy, data, verified, decisions, source, None, started, digest=digest)
    return result


def _finish_json(
    data: bytes | bytearray,
    document: JsonDocument,
    policy: Policy,
    options: _Options,
    source: str | None,
    started: float,
    digest: Digest | None,
) -> Any:
    """The value of a decoded JSON document, through the validators, the schema and audit."""
    manager = policy.manager
    result = document.value
    if digest is None and manager.has_auditors:
        digest = Digest(data, document.start, document.end)
    try:
        if manager.has_validators:
            manager.validate(result, LoadContext(policy=policy, source=source, verified=document))
        if options.schema is not None:
            result = _validate_schema(result, options.schema, policy)
    except SafePickleError as exc:
        if digest is not None:
            _audit(policy, data, document, (), source, exc, started, digest=digest)
        raise
    if digest is not None:
        _audit(policy, data, document, (), source, None, started, digest=digest)
    return result


def _validate_schema(value: Any, schema: Any, policy: Policy) -> Any:
    """``value`` checked (and possibly converted) by the schema validator a plugin provides."""
    validator = policy.schema_validator(schema)
    try:
        return validator(value)
    except SafePickleError:
        raise
    except Exception as exc:
        raise PluginError(f"the schema validator for {schema!r} raised: {exc!r}") from exc


def _audit_unverified(
    policy: Policy,
    seen: list[Any] | None,
    source: str | None,
    error: SafePickleError,
    started: float,
    digest: Digest | None = None,
) -> None:
    """Audit a stream the verifier (or the reader) rejected; ``seen`` is what it was given
    (empty when the reader failed before the verifier saw a byte)."""
    if not seen:
        if isinstance(error, TruncatedPickle):
            return  # no byte at all: the end of a file, not a load
        _audit(policy, None, None, (), source, error, started)
        return
    data, start = seen
    if isinstance(error, TruncatedPickle) and len(data) <= start:
        return
    _audit(policy, data, None, (), source, error, started, (start, len(data)), digest)


def _audit(
    policy: Policy,
    data: bytes | bytearray | None,
    verified: Verified | None,
    decisions: Any,
    source: str | None,
    error: BaseException | None,
    started: float,
    span: tuple[int, int] | None = None,
    digest: Digest | None = None,
) -> None:
    """Send one event to the policy's audit sinks (only called when there are some).

    ``span`` is where the stream lies in ``data`` when there is no ``verified`` to say it;
    ``digest`` its hash, when that was started earlier.
    """
    duration = time.perf_counter() - started
    if error is None:
        outcome = "loaded"
    elif isinstance(error, (ForbiddenGlobal, UnsafeOpcode, LimitExceeded, ValidationFailed)):
        outcome = "refused"
    else:
        outcome = "error"
    protocol: int | None = None
    stream_format = "pickle"
    if verified is not None:
        start, end, stream_format = verified.start, verified.end, verified.format
        if stream_format == "pickle":
            protocol = verified.protocol
    else:
        start, end = span or (0, 0)
        if data is not None and end - start >= 2 and data[start] == 0x80:
            protocol = data[start + 1]  # rejected before the verifier knew: the PROTO opcode
        elif data is not None and end > start and data[start] in JSON_FIRST_BYTES:
            stream_format = "json"
    if digest is None and data is not None:
        digest = Digest(data, start, end)
    sha256 = digest.hexdigest() if digest is not None else None
    policy.manager.audit(
        LoadEvent(
            policy=policy,
            source=source,
            size=end - start,
            protocol=protocol,
            decisions=tuple(decisions),
            outcome=outcome,
            error=error,
            duration_seconds=duration,
            timestamp=time.time() - duration,
            sha256=sha256,
            caller=call_site(2),
            format=stream_format,
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
    schema: Any = None,
) -> Any:
    """Like :func:`pickle.loads`, verified first and refused unless ``policy`` allows it.

    ``data`` may be a pickle or a UTF-8 JSON document (what :func:`dumps` writes for plain
    data); the first byte tells which (see ``docs/json.md``). ``allow`` adds entries to
    ``policy`` (default: :func:`safepickle.Policy` ()) for this call. ``schema`` (any type a
    schema plugin such as ``safepickle-pydantic`` understands, e.g. ``list[User]``) validates
    the result. Unlike :func:`pickle.loads`, bytes after the pickle's STOP are an error (use
    :func:`load_all` for several pickles in a row).

    .. versionadded:: 0.1
    """
    started = time.perf_counter()
    data = own_bytes(data)
    effective = _policy_for(policy, allow)
    if data and data[0] in JSON_FIRST_BYTES and schema is None:
        manager = effective.manager
        if not (manager.has_auditors or manager.has_validators):
            return decode_whole(data, effective.limits)  # JSON, nothing to tell: the fast way
    options = _Options(fix_imports, encoding, errors, buffers, schema)
    digest = None
    if effective.manager.has_auditors:
        digest = Digest(data, 0, len(data))  # a large input: hashed while it is verified
    try:
        verified = _verifier(effective, options)(data, 0)
        if verified.end != len(data) and not only_whitespace(memoryview(data)[verified.end :]):
            # (whitespace after it is the end, as load_all and the scanner read a file)
            what = "JSON document" if verified.format == "json" else "pickle's STOP"
            raise MalformedPickle(
                f"{len(data) - verified.end} byte(s) follow the {what} at offset "
                f"{verified.end - 1}; use safepickle.load_all for several pickles in a row",
                offset=verified.end,
            )
    except SafePickleError as exc:
        if effective.manager.has_auditors:
            _audit_unverified(effective, [data, 0], None, exc, started, digest)
        raise
    return _execute(data, verified, effective, options, None, started, digest)


def load(
    file: ReadableFile,
    *,
    fix_imports: bool = True,
    encoding: str = "ASCII",
    errors: str = "strict",
    buffers: Iterable[Any] | None = None,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
    schema: Any = None,
) -> Any:
    """Like :func:`pickle.load`: read one pickle (or one JSON document) from ``file``, leaving
    it just past the pickle's STOP (past the JSON document and the whitespace after it).

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
        schema=schema,
    ).load()


def load_all(
    file: ReadableFile,
    *,
    fix_imports: bool = True,
    encoding: str = "ASCII",
    errors: str = "strict",
    buffers: Iterable[Any] | None = None,
    policy: Policy | None = None,
    allow: Iterable[object] | None = None,
    schema: Any = None,
) -> Iterator[Any]:
    """Yield every pickle (and JSON document) in ``file`` in order, what repeated
    ``pickle.load`` calls return; ``schema`` validates each one.

    Each pickle is verified and decided before it runs; a refused one stops the iteration with
    the error, after the earlier pickles were yielded.

    .. versionadded:: 0.1
    """
    effective = _policy_for(policy, allow)
    options = _Options(fix_imports, encoding, errors, buffers, schema)
    source = _file_name(file)
    seen: list[Any] | None = [] if effective.manager.has_auditors else None
    verifier = _verifier(effective, options, seen)
    started = time.perf_counter()
    stream = iter_stream(file, effective.limits.max_input_bytes, verifier)
    while True:
        try:
            buf, verified = next(stream)
        except StopIteration:
            return
        except SafePickleError as exc:
            if seen is not None:
                _audit_unverified(effective, seen, source, exc, started)
            raise
        yield _execute(buf, verified, effective, options, source, started)
        started = time.perf_counter()


class Unpickler:
    """Drop-in for :class:`pickle.Unpickler`: ``safepickle.Unpickler(file).load()``.

    Each :meth:`load` reads, verifies and executes one pickle (or decodes one JSON document).
    A subclass may define ``persistent_load(pid)`` as with pickle; it then resolves persistent
    ids (it is your code).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        file: ReadableFile,
        *,
        fix_imports: bool = True,
        encoding: str = "ASCII",
        errors: str = "strict",
        buffers: Iterable[Any] | None = None,
        policy: Policy | None = None,
        allow: Iterable[object] | None = None,
        schema: Any = None,
    ) -> None:
        self._file = file
        self._options = _Options(fix_imports, encoding, errors, buffers, schema)
        policy = _policy_for(policy, allow)
        persistent = getattr(type(self), "persistent_load", None)
        if persistent is not None:
            policy = policy.with_plugins(_PersistentLoadPlugin(self))
        self.policy = policy

    def load(self) -> Any:
        """Read, verify and execute the next pickle of the file."""
        started = time.perf_counter()
        policy = self.policy
        seen: list[Any] | None = [] if policy.manager.has_auditors else None
        try:
            buf, verified = read_one(
                self._file, policy.limits.max_input_bytes, _verifier(policy, self._options, seen)
            )
        except SafePickleError as exc:
            if seen is not None:
                _audit_unverified(policy, seen, _file_name(self._file), exc, started)
            raise
        return _execute(buf, verified, policy, self._options, _file_name(self._file), started)


class _PersistentLoadPlugin:
    """Routes the safepickle_persistent_load hook to an Unpickler subclass's method."""

    def __init__(self, owner: Unpickler) -> None:
        self._owner = owner

    def safepickle_persistent_load(self, pid: Any) -> Any:
        return self._owner.persistent_load(pid)  # type: ignore[attr-defined]


#: what ``format=`` of :func:`dumps` and :func:`dump` accepts
FORMATS = ("auto", "json", "pickle")


def _encode(
    obj: Any, protocol: int | None, fix_imports: bool, buffer_callback: Any, format: str
) -> tuple[bytes, bool]:
    """(encoded, is_json). An explicit ``protocol`` asks for a pickle (``pickle.dump(x, f,
    protocol=2)`` swapped for ``safepickle.dump`` must still write one for older readers)."""
    if format == "auto" and protocol is not None:
        format = "pickle"
    if format != "pickle":
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        encoded = encode_plain(obj)
        if encoded is not None:
            return encoded, True
        if format == "json":
            raise TypeError(
                f"format='json' needs plain JSON data (dict with str keys, list, str, int, "
                f"finite float, bool, None; no shared or cyclic containers), and this "
                f"{type(obj).__name__} is not; use format='auto' to pickle what JSON cannot hold"
            )
    data = pickle.dumps(obj, protocol, fix_imports=fix_imports, buffer_callback=buffer_callback)
    return data, False


def dumps(
    obj: Any,
    protocol: int | None = None,
    *,
    fix_imports: bool = True,
    buffer_callback: Any = None,
    format: str = "auto",
) -> bytes:
    """``obj`` as bytes that :func:`loads` reads back: UTF-8 JSON when ``obj`` is plain JSON
    data that JSON holds exactly, a pickle otherwise (``format="auto"``); ``format="json"``
    insists on JSON (``TypeError`` otherwise), ``format="pickle"`` always pickles (for readers
    that use plain :func:`pickle.loads`). ``protocol`` and the rest are pickle's; giving a
    ``protocol`` with ``format="auto"`` asks for a pickle.

    .. versionadded:: 0.1
    """
    return _encode(obj, protocol, fix_imports, buffer_callback, format)[0]


def dump(
    obj: Any,
    file: WritableFile,
    protocol: int | None = None,
    *,
    fix_imports: bool = True,
    buffer_callback: Any = None,
    format: str = "auto",
) -> None:
    """Write ``obj`` to ``file`` as :func:`dumps` encodes it; a JSON document is followed by a
    newline, so that several dumped to one file (or pipe) load back one by one.

    .. versionadded:: 0.1
    """
    data, is_json = _encode(obj, protocol, fix_imports, buffer_callback, format)
    file.write(data + b"\n" if is_json else data)
