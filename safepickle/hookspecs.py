"""Every hook a safepickle plugin can implement.

A plugin is any object (a module, a class instance) with functions decorated by
``@safepickle.hookimpl`` whose names are the ones below. Hook arguments are passed by keyword and
an implementation may take any subset of them; never give an implementation parameter a default,
because pluggy will not pass it. Only names starting with ``safepickle_`` are hooks; a misspelled
one is an error when the policy is built, not a silent no-op.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .context import LoadContext, LoadEvent
    from .decision import Decision, GlobalRef
    from .policy import Policy

__all__ = [
    "safepickle_audit",
    "safepickle_decide",
    "safepickle_persistent_load",
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
