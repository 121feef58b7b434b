"""PolicyManager: owns one pluggy PluginManager; the only code that touches ``.hook``."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Sequence
from typing import Any

import pluggy

from . import hookspecs
from .decision import Decision, GlobalRef, Verdict
from .errors import PluginError, PolicyError, SafePickleError

__all__ = ["ENTRY_POINT_GROUP", "PolicyManager"]

ENTRY_POINT_GROUP = "safepickle"
#: plugins shipped inside the core package, by the name a policy can use for them
BUILTIN_PLUGIN_MODULES = {"stdlib": "safepickle.builtin.stdlib"}
_DECISION_HOOKS = ("safepickle_decide",)


class _PluginManager(pluggy.PluginManager):
    """Treats every ``safepickle_*`` attribute as a hook, marked or not (as pytest does for
    ``pytest_*``), so that a misspelled hook fails ``check_pending`` instead of being ignored."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if (
            opts is None
            and name.startswith("safepickle_")
            and callable(getattr(plugin, name, None))
        ):
            return {
                "wrapper": False,
                "hookwrapper": False,
                "optionalhook": False,
                "tryfirst": False,
                "trylast": False,
                "specname": None,
            }
        return opts


def _call_order(hook: Any) -> list[Any] | None:
    """A hook's implementations in the order pluggy calls them (the last registered first,
    tryfirst/trylast respected), for hooks called so often that pluggy's generic dispatch
    shows; None when one is a wrapper, which only pluggy can run."""
    impls = hook.get_hookimpls()
    if any(impl.wrapper or impl.hookwrapper for impl in impls):
        return None
    return list(reversed(impls))


class PolicyManager:
    """The plugins of one policy, and the aggregation rules for their answers."""

    def __init__(self, plugins: Sequence[tuple[str, object]], entry_points: Iterable[str]) -> None:
        pm = _PluginManager(ENTRY_POINT_GROUP)
        pm.add_hookspecs(hookspecs)
        disabled = os.environ.get("SAFEPICKLE_DISABLE_PLUGINS", "")
        for name in filter(None, (part.strip() for part in disabled.split(","))):
            pm.set_blocked(name)
        try:
            for name, plugin in plugins:
                if not pm.is_blocked(name):
                    pm.register(plugin, name=name)
            for name in entry_points:
                self._load_entry_point(pm, name)
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PolicyError(f"plugin {exc.plugin!r} is invalid: {exc}") from exc
        for hook_name in _DECISION_HOOKS:
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                if impl.wrapper or impl.hookwrapper:
                    raise PolicyError(
                        f"plugin {impl.plugin_name!r} implements {hook_name} as a wrapper; "
                        "wrappers could replace another plugin's deny, so they are refused"
                    )
        self._pm = pm
        self.has_persistent_load = bool(pm.hook.safepickle_persistent_load.get_hookimpls())
        # one storage lookup per persistent id (thousands in a checkpoint): called directly
        self._persistent_impls = _call_order(pm.hook.safepickle_persistent_load)
        # only plugins other than the built-in ones can replace a floor item (stdlib's
        # substitutes are for names that are not on the floor)
        self.offers_substitutes = any(
            name not in BUILTIN_PLUGIN_MODULES.values() and name != "allowlist"
            for name, plugin in pm.list_name_plugin()
            if plugin is not None
        )
        self.has_validators = bool(pm.hook.safepickle_validate_object.get_hookimpls())
        self.has_inspectors = bool(pm.hook.safepickle_inspect_stream.get_hookimpls())
        self.has_auditors = bool(pm.hook.safepickle_audit.get_hookimpls())
        self._audit_impls = _call_order(pm.hook.safepickle_audit)

    @staticmethod
    def _load_entry_point(pm: pluggy.PluginManager, name: str) -> None:
        if pm.is_blocked(name) or pm.get_plugin(name) is not None:
            return
        builtin = BUILTIN_PLUGIN_MODULES.get(name)
        if builtin is not None:
            module = importlib.import_module(builtin)
            if not pm.is_registered(module):  # named although the defaults brought it
                pm.register(module, name=name)
            return
        if pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name) == 0:
            raise PolicyError(
                f"no safepickle plugin named {name!r} is installed (entry-point group "
                f"'{ENTRY_POINT_GROUP}'); install it, or remove it from the policy's plugins"
            )

    @property
    def plugin_names(self) -> list[str]:
        """Names of the registered plugins, in registration order."""
        return [name for name, plugin in self._pm.list_name_plugin() if plugin is not None]

    def decide(self, ref: GlobalRef, policy: object) -> Decision:
        """Ask every plugin; any deny wins, an allow needs at least one plugin, else deny."""
        hook = self._pm.hook.safepickle_decide
        kwargs = {"ref": ref, "policy": policy}
        allow: Decision | None = None
        for impl in reversed(hook.get_hookimpls()):
            try:
                result = impl.function(*(kwargs[arg] for arg in impl.argnames))
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} raised while deciding '{ref.dotted}': {exc!r}"
                ) from exc
            if result is None:
                continue
            if not isinstance(result, Decision):
                raise PluginError(
                    f"plugin {impl.plugin_name!r} returned {result!r} for '{ref.dotted}'; "
                    "safepickle_decide must return a Decision or None"
                )
            result = Decision(
                result.verdict,
                result.reason,
                rule=result.rule,
                plugin=impl.plugin_name,
                substitute=result.substitute,
            )
            if result.verdict is Verdict.DENY:
                return result
            if allow is None:
                allow = result
        if allow is not None:
            return allow
        return Decision.deny("no plugin of the policy allows it", rule="default-deny")

    def persistent_load(self, pid: Any, context: Any) -> Any:
        """The first non-None answer of the plugins (pluggy's firstresult), called directly."""
        impls = self._persistent_impls
        if impls is None:
            return self._call("safepickle_persistent_load", pid=pid, context=context)
        kwargs = {"pid": pid, "context": context}
        for impl in impls:
            try:
                result = impl.function(*(kwargs[arg] for arg in impl.argnames))
            except SafePickleError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"a plugin's safepickle_persistent_load raised: {exc!r}"
                ) from exc
            if result is not None:
                return result
        return None

    def inspect(self, data: memoryview, verified: Any, policy: object) -> None:
        """Every plugin's safepickle_inspect_stream, before the stream is executed."""
        self._call("safepickle_inspect_stream", data=data, verified=verified, policy=policy)

    def open_container(self, stream: Any) -> Any:
        """The members of ``stream`` from the first plugin that opens it, or None."""
        if not self._pm.hook.safepickle_open_container.get_hookimpls():
            return None
        return self._call("safepickle_open_container", stream=stream)

    def schema_validator(self, schema: Any, policy: object) -> Any:
        """The first plugin's validator function for ``schema``, or None."""
        return self._call("safepickle_schema_validator", schema=schema, policy=policy)

    def validate(self, obj: Any, context: Any) -> None:
        self._call("safepickle_validate_object", obj=obj, context=context)

    def audit(self, event: Any) -> None:
        """Give ``event`` to every sink. Called once per load, so the plain implementations
        are called directly (pluggy's generic dispatch cost more than writing a record);
        wrappers, if any, go through pluggy."""
        impls = self._audit_impls
        if impls is None:
            self._call("safepickle_audit", event=event)
            return
        for impl in impls:
            try:
                impl.function(event) if impl.argnames else impl.function()
            except SafePickleError:
                raise
            except Exception as exc:
                raise PluginError(f"a plugin's safepickle_audit raised: {exc!r}") from exc

    def _call(self, name: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._pm.hook, name)(**kwargs)
        except SafePickleError:
            raise
        except Exception as exc:
            raise PluginError(f"a plugin's {name} raised: {exc!r}") from exc
