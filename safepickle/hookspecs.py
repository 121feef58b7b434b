"""Every hook a safepickle plugin can implement.

A plugin is any object (a module, a class instance) with functions decorated by
``@safepickle.hookimpl`` whose names are the ones below. Hook arguments are passed by keyword and
an implementation may take any subset of them; never give an implementation parameter a default,
because pluggy will not pass it. Only names starting with ``safepickle_`` are hooks; a misspelled
one is an error when the policy is built, not a silent no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .containers import ContainerStream, Member
    from .context import LoadContext, LoadEvent
    from .decision import Decision, GlobalRef
    from .policy import Policy
    from .verify import Verified

__all__ = [
    "safepickle_audit",
    "safepickle_decide",
    "safepickle_inspect_stream",
    "safepickle_open_container",
    "safepickle_persistent_load",
    "safepickle_schema_validator",
    "safepickle_validate_object",
]

hookspec = pluggy.HookspecMarker("safepickle")
#: marker for plugin hook implementations; public as ``safepickle.hookimpl``
hookimpl = pluggy.HookimplMarker("safepickle")


@hookspec
def safepickle_decide(ref: GlobalRef, policy: Policy) -> Decision | None:
    """Decide whether the global ``ref`` (canonical module and qualified name) may be loaded.

    Return ``Decision.allow(reason)``, ``Decision.deny(reason)``, or ``None`` to abstain.
    Every plugin is asked; any deny wins; if no plugin allows, the global is denied. The floor
    (``safepickle.floor``) is checked before any plugin is asked and cannot be lifted.

    Decisions are cached on the policy, so the answer must depend only on ``ref`` and the
    ``policy`` (never on the stream or the caller). Wrappers (``wrapper=True``) are refused on
    this hook, because a wrapper could replace another plugin's deny.

    :param ref: the canonical name, after protocol-2 aliases were mapped (``__builtin__.eval``
        arrives as ``builtins.eval``); ``ref.qualname`` may be dotted for nested classes.
    :param policy: the policy being applied, for plugins that read its settings.

    .. versionadded:: 0.1
    """


@hookspec
def safepickle_inspect_stream(data: memoryview, verified: Verified, policy: Policy) -> None:
    """Inspect a pickle the verifier accepted and the policy allowed, before it is executed.

    ``data`` is a read-only view of exactly the stream's bytes (``data[0]`` is its first
    opcode); ``verified`` is what the verifier learned (its globals, protocol, opcode count).
    Nothing has been executed and no global resolved yet. Raise a
    :class:`~safepickle.SafePickleError` subclass (:class:`~safepickle.UnsafeOpcode`,
    :class:`~safepickle.LimitExceeded`, :class:`~safepickle.MalformedPickle`) to refuse the
    stream; any other exception becomes a :class:`~safepickle.PluginError`. For checks a
    decision per global cannot make: the numpy plugin compares each object array's item count
    with its shape here, because numpy's own ``__setstate__`` does not (a short list crashes
    the interpreter). ``safepickle scan`` calls it too. Not called for JSON documents.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def safepickle_persistent_load(pid: Any, context: LoadContext) -> Any:
    """Resolve a persistent id (``PERSID``/``BINPERSID``) to an object.

    Streams with persistent ids are refused by the verifier unless at least one plugin
    implements this hook. The first non-``None`` result is used; if every implementation
    returns ``None`` the load fails with :class:`~safepickle.UnsafeOpcode`. The ``pid`` is
    attacker-controlled data: validate it before you use it.

    .. versionadded:: 0.1
    """


@hookspec
def safepickle_validate_object(obj: Any, context: LoadContext) -> None:
    """Check the object a load produced, before it is returned to the caller.

    Raise any exception to reject it; the load then fails with :class:`~safepickle.PluginError`
    chained to your exception. Called only for loads that succeeded.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def safepickle_schema_validator(schema: Any, policy: Policy) -> Callable[[Any], Any] | None:
    """Return a function that validates a loaded value against ``schema``, or ``None``.

    Called when a load is given ``schema=`` (``safepickle.loads(data, schema=list[User])``),
    once per policy and schema (the function is cached while the schema is hashable). The
    function receives the loaded value (from pickle or from JSON) after every
    :func:`safepickle_validate_object` hook passed, and returns the value the caller gets,
    which may be a converted one (JSON objects into models). To reject, raise
    :class:`~safepickle.ValidationFailed` with the validator's details; any other exception
    becomes a :class:`~safepickle.PluginError`. The first plugin that returns a function wins;
    if none does, the load fails with :class:`~safepickle.PolicyError`.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def safepickle_open_container(stream: ContainerStream) -> Iterable[Member] | None:
    """Open ``stream`` for ``safepickle scan`` if it is a container format this plugin reads.

    Recognise the format by ``stream.data`` (magic bytes, structure), never by the name alone,
    and return the streams inside as :class:`~safepickle.containers.Member` objects (a
    generator is fine: members are scanned one at a time, so only one need be in memory), or
    ``None`` when the bytes are not your format. Raise
    :class:`~safepickle.containers.ContainerError` for a container you recognised but cannot
    read: the scan reports it as an error, never as clean. Execute and import nothing the
    data names, and bound what you decompress by ``stream.max_bytes`` (raise
    :class:`~safepickle.LimitExceeded` past it). Members are opened again, so containers nest
    (bounded by ``safepickle.containers.MAX_DEPTH``); a member no opener claims is scanned as
    a pickle. The first opener that returns a result wins; the built-in openers (compression,
    zip and PyTorch checkpoints, ``.npy``/``.npz``, joblib) run last, so a plugin may take
    over a format with ``tryfirst=True``.

    .. versionadded:: 0.2
    """


@hookspec
def safepickle_audit(event: LoadEvent) -> None:
    """Receive one event per load (loaded, refused or error) after the outcome is known.

    Called for every load, including refused ones and streams the verifier rejected, so that
    sinks see attacks. ``event.ecs`` is the event as an Elastic Common Schema document (a dict,
    built once and shared by every sink: copy it to change it), ``event.ecs_json`` the same as
    one line of JSON. Sinks are configured with ``Policy(audit=...)``; the built-in ones are in
    :mod:`safepickle.audit`. An exception here becomes a :class:`~safepickle.PluginError` and
    fails the load, so nothing is loaded unaudited.

    .. versionadded:: 0.1
    """
