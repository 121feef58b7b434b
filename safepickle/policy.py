"""Policy: what one load may reference, and the limits it runs under.

A Policy is immutable and per call: build one and pass it as ``policy=``; methods such as
:meth:`Policy.allowing` return a new policy. Nothing here is process-global: two callers with
different policies never see each other's allow-lists. A policy caches its plugins' decisions
and the objects it resolved, so a stream with thousands of distinct globals pays for each once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ._manager import PolicyManager
from .audit.config import AuditSetting, audit_sinks, sink_name
from .builtin import DEFAULT_PLUGINS
from .builtin.allowlist import AllowList
from .builtin.stdlib import substitutes
from .decision import Decision, GlobalRef, Verdict
from .errors import PluginError, PolicyError
from .floor import floor_reason
from .limits import Limits
from .names import name_problem

__all__ = ["Policy", "allowed"]

#: decisions and resolved objects a policy keeps; past this the cache starts over
_MAX_CACHED = 20_000


class Policy:
    """The allow/deny lists, plugins and limits a load runs under.

    :param allow: classes, functions, ``"pkg.mod.Name"``, ``"pkg.mod:Name"`` or ``"pkg.mod:*"``
        entries to allow on top of the plugins (see :mod:`safepickle.builtin.allowlist`).
    :param deny: entries to deny; a deny wins over every allow.
    :param plugins: plugin objects (modules or instances with ``@hookimpl`` methods), or names
        of installed plugins (entry-point group ``safepickle``); an installed plugin is only
        loaded when a policy names it.
    :param limits: resource limits; :class:`Limits` defaults when omitted.
    :param defaults: register the built-in standard-library plugin (plain data, datetime,
        Decimal, UUID ...). Turn off to start from nothing.
    :param audit: where every load's audit event goes: a path (an append-only, hash-chained
        JSON Lines file), ``True`` (the ``safepickle.audit`` logger), ``False``/``None``
        (nowhere, the default), a sink plugin object (implementing only ``safepickle_audit``),
        or a list of those. See ``docs/security-teams.md``.

    .. versionadded:: 0.1
    """

    __slots__ = (
        "_allowlist",
        "_audit",
        "_decisions",
        "_defaults",
        "_fingerprint",
        "_lock",
        "_manager",
        "_plugins",
        "_resolved",
        "_validators",
        "limits",
    )

    def __init__(
        self,
        *,
        allow: Iterable[object] = (),
        deny: Iterable[object] = (),
        plugins: Iterable[object] = (),
        limits: Limits | None = None,
        defaults: bool = True,
        audit: AuditSetting = None,
    ) -> None:
        self._allowlist = AllowList(allow, deny)  # parses and checks entries eagerly
        self._audit = audit_sinks(audit)
        self._fingerprint: str | None = None
        self._plugins = tuple(plugins)
        self._defaults = defaults
        self.limits = limits if limits is not None else Limits()
        self._manager: PolicyManager | None = None
        self._lock = threading.Lock()
        self._decisions: dict[GlobalRef, Decision] = {}
        self._resolved: dict[GlobalRef, Any] = {}
        self._validators: dict[Any, Callable[[Any], Any]] = {}

    def __repr__(self) -> str:
        allow = [e.text for e in self._allowlist.allow_entries]
        deny = [e.text for e in self._allowlist.deny_entries]
        return (
            f"Policy(allow={allow!r}, deny={deny!r}, plugins={list(self.plugin_names)!r}, "
            f"defaults={self._defaults!r})"
        )

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None) -> Policy:
        """The policy a policy file describes (see :func:`safepickle.config.load_config`):
        ``path``, else ``$SAFEPICKLE_CONFIG``, else the nearest ``safepickle.toml`` or
        ``pyproject.toml`` with a ``[tool.safepickle]`` table; the default policy if none.

        .. versionadded:: 0.2
        """
        from .config import load_config  # noqa: PLC0415 - config imports this module

        return load_config(path)

    # --- derived policies ---------------------------------------------------------------
    def _derive(self, **changes: Any) -> Policy:
        settings: dict[str, Any] = {
            "allow": [e.text for e in self._allowlist.allow_entries],
            "deny": [e.text for e in self._allowlist.deny_entries],
            "plugins": self._plugins,
            "limits": self.limits,
            "defaults": self._defaults,
            "audit": self._audit,  # the same sink objects: a file's writer is shared
        }
        settings.update(changes)
        return Policy(**settings)

    def allowing(self, *entries: object) -> Policy:
        """A new policy that also allows ``entries``."""
        return self._derive(allow=[*(e.text for e in self._allowlist.allow_entries), *entries])

    def denying(self, *entries: object) -> Policy:
        """A new policy that also denies ``entries``."""
        return self._derive(deny=[*(e.text for e in self._allowlist.deny_entries), *entries])

    def with_plugins(self, *plugins: object) -> Policy:
        """A new policy with more plugins."""
        return self._derive(plugins=(*self._plugins, *plugins))

    def with_limits(self, **limits: int) -> Policy:
        """A new policy with some limits changed (``max_input_bytes=...``)."""
        return self._derive(limits=self.limits.replace(**limits))

    def with_audit(self, audit: AuditSetting) -> Policy:
        """A new policy whose audit sinks are ``audit`` (replacing this policy's)."""
        return self._derive(audit=audit)

    # --- identity -----------------------------------------------------------------------
    @property
    def audit_sinks(self) -> tuple[object, ...]:
        """The plugins that receive this policy's audit events (see ``audit=``)."""
        return self._audit

    def describe(self) -> dict[str, Any]:
        """What decides a load under this policy, as plain data: sorted allow and deny
        entries, plugin names, the defaults flag and the limits. Audit sinks are left out:
        where events go changes no decision."""
        return {
            "allow": sorted({e.text for e in self._allowlist.allow_entries}),
            "deny": sorted({e.text for e in self._allowlist.deny_entries}),
            "plugins": sorted({_stable_name(plugin) for plugin in self._plugins}),
            "defaults": self._defaults,
            "limits": dataclasses.asdict(self.limits),
        }

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of :meth:`describe` in canonical JSON: equal for two policies that
        decide alike, in any process, whatever the order their entries were given in."""
        fingerprint = self._fingerprint
        if fingerprint is None:
            canonical = json.dumps(self.describe(), sort_keys=True, separators=(",", ":"))
            fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
            self._fingerprint = fingerprint
        return fingerprint

    # --- plugins ------------------------------------------------------------------------
    @property
    def manager(self) -> PolicyManager:
        """The policy's plugin manager, built on first use."""
        manager = self._manager
        if manager is None:
            with self._lock:
                if self._manager is None:
                    self._manager = self._build_manager()
                manager = self._manager
        return manager

    def _build_manager(self) -> PolicyManager:
        registered: list[tuple[str, object]] = []
        if self._defaults:
            for module_name in DEFAULT_PLUGINS:
                registered.append((module_name, importlib.import_module(module_name)))
        registered.append(("allowlist", self._allowlist))
        entry_points: list[str] = []
        for plugin in self._plugins:
            if isinstance(plugin, str):
                entry_points.append(plugin)
            else:
                name = (
                    getattr(plugin, "__name__", None) or f"{type(plugin).__name__}@{id(plugin):x}"
                )
                registered.append((name, plugin))
        registered.extend((sink_name(sink), sink) for sink in self._audit)
        return PolicyManager(registered, entry_points)

    @property
    def plugin_names(self) -> tuple[str, ...]:
        """Names of the plugins this policy asks."""
        return tuple(self.manager.plugin_names)

    # --- decisions ----------------------------------------------------------------------
    def decide(self, ref: GlobalRef) -> Decision:
        """The policy's decision on ``ref``: name checks and the floor first, then plugins."""
        decision = self._decisions.get(ref)
        if decision is None:
            problem = name_problem(ref)
            reached = _floor_reached_through_attributes(ref) if problem is None else None
            if reached is not None:
                decision = Decision(Verdict.DENY, reached, rule="floor", plugin="core")
            elif problem is not None:
                decision = Decision(Verdict.DENY, problem, rule="bad-name", plugin="core")
            else:
                reason = floor_reason(ref)
                if reason is not None:
                    decision = self._floor_decision(ref, reason)
                else:
                    decision = _narrowed(self.manager.decide(ref, self), ref, self)
            if len(self._decisions) >= _MAX_CACHED:
                # Streams can name endless distinct globals: keep the cache bounded.
                self._decisions.clear()
            self._decisions[ref] = decision
        return decision

    # --- schemas ------------------------------------------------------------------------
    def schema_validator(self, schema: Any) -> Callable[[Any], Any]:
        """The function that checks a loaded value against ``schema`` (the ``schema=`` of a
        load), from the first plugin that provides one; cached per schema.

        .. versionadded:: 0.1
        """
        try:
            validator = self._validators.get(schema)
        except TypeError:  # an unhashable schema: asked each time
            return self._new_schema_validator(schema)
        if validator is None:
            validator = self._new_schema_validator(schema)
            if len(self._validators) >= 256:
                self._validators.clear()
            self._validators[schema] = validator
        return validator

    def _new_schema_validator(self, schema: Any) -> Callable[[Any], Any]:
        validator = self.manager.schema_validator(schema, self)
        if validator is None:
            raise PolicyError(
                f"schema={schema!r} was given but no plugin of the policy validates schemas; "
                "install and enable one, e.g. `pip install safepickle-pydantic` and "
                "Policy(plugins=['pydantic'])"
            )
        if not callable(validator):
            raise PluginError(
                f"safepickle_schema_validator returned {validator!r} for {schema!r}; it must "
                "return a function (or None to abstain)"
            )
        return validator  # type: ignore[no-any-return]

    def _floor_decision(self, ref: GlobalRef, reason: str) -> Decision:
        """A floor item is never allowed; a plugin may only *replace* it with a substitute of
        its own (the real object is then never imported). Plugins are asked, and their answer
        counts only when it is an allow that carries a substitute (and no plugin denies)."""
        floor = Decision(Verdict.DENY, reason, rule="floor", plugin="core")
        if not self.manager.offers_substitutes:
            return floor
        answer = self.manager.decide(ref, self)
        if not answer.allowed or answer.substitute is None:
            return floor
        return Decision(
            Verdict.ALLOW,
            f"replaced by plugin {answer.plugin!r}'s substitute ({answer.reason}); the real "
            f"'{ref.dotted}' is on the floor ({reason}) and is never imported",
            rule="floor-substitute",
            plugin=answer.plugin,
            substitute=answer.substitute,
        )

    def cached_object(self, ref: GlobalRef) -> Any:
        """The object resolved for ``ref`` earlier, or a KeyError."""
        return self._resolved[ref]

    def cache_object(self, ref: GlobalRef, obj: Any) -> None:
        if len(self._resolved) >= _MAX_CACHED:
            self._resolved.clear()
        self._resolved[ref] = obj


def _narrowed(decision: Decision, ref: GlobalRef, policy: Policy) -> Decision:
    """An allow of a global the default policy narrows (``builtins.bytes``, ``Decimal``...)
    keeps the narrowed stand-in whoever allowed it: an allow-list entry or a plugin that
    names ``builtins.bytes`` admits the type, not ``bytes(10**12)``."""
    if not decision.allowed or decision.substitute is not None:
        return decision
    limits = policy.limits
    narrowed = substitutes(limits.max_int_digits, limits.max_container_items).get(ref.dotted)
    if narrowed is None:
        return decision
    return dataclasses.replace(
        decision,
        reason=f"{decision.reason}; its arguments are checked as the default policy checks them",
        substitute=narrowed,
    )


def _stable_name(plugin: object) -> str:
    """A plugin's name that is the same in every process (``id()`` is not): an entry-point
    name, a module's name, or an instance's class as ``module.qualname``."""
    if isinstance(plugin, str):
        return plugin
    if isinstance(plugin, type):
        return f"{plugin.__module__}.{plugin.__qualname__}"
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str):
        return name
    cls = type(plugin)
    return f"{cls.__module__}.{cls.__qualname__}"


def _floor_reached_through_attributes(ref: GlobalRef) -> str | None:
    """``pathlib.os.system`` is ``os.system`` reached through a module attribute: read every
    tail of a dotted name as a module path and check it against the floor."""
    parts = ref.qualname.split(".")
    for cut in range(len(parts) - 1):
        reason = floor_reason(GlobalRef(parts[cut], ".".join(parts[cut + 1 :])))
        if reason is not None:
            return f"'{ref.dotted}' reaches a floor item through attributes: {reason}"
    return None


_DEFAULT: Policy | None = None


def default_policy() -> Policy:
    """The default policy (plain data and standard-library value types), shared because it is
    immutable and its caches hold only deterministic answers."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Policy()
    return _DEFAULT


def allowed(*entries: object, policy: Policy | None = None) -> Policy:
    """A policy that allows ``entries`` on top of ``policy`` (the default policy when None).

    ``safepickle.allowed(User, "myapp.models:*")``

    .. versionadded:: 0.1
    """
    return (policy or default_policy()).allowing(*entries)
