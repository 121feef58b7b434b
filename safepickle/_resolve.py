"""From a verified stream's globals to the objects ``find_class`` may hand out.

Two steps, both before a single opcode is executed: every global is *decided* (no import yet;
if any is refused the load stops here, with every refusal listed), then every allowed global
is *resolved*: its module imported, its qualified name walked attribute by attribute (never
through a module), and the object checked against the floor by its own ``__module__`` and
``__qualname__``, which catches re-exports of dangerous callables under innocent names.
"""

from __future__ import annotations

import enum
import importlib
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .builtin.allowlist import WILDCARD_RULE
from .decision import Decision, GlobalRef, Verdict
from .errors import ForbiddenGlobal
from .floor import floor_reason

if TYPE_CHECKING:
    from .policy import Policy
    from .verify import GlobalUse, Verified

__all__ = ["approve", "decide_all"]

Approved = dict[tuple[str, str], Any]


_GETATTR_SHAPE = Decision(
    Verdict.ALLOW,
    "used only as getattr(<global>, '<name>'), the shape pickle writes for nested classes; "
    "handed out as a getattr that answers only the dotted names the policy allowed",
    rule="getattr-shape",
    plugin="core",
)
_GETATTR_PARENT = Decision(
    Verdict.ALLOW,
    "used only as the parent in getattr(<global>, '<name>'); the dotted name is decided",
    rule="getattr-parent",
    plugin="core",
)


def decide_all(verified: Verified, policy: Policy) -> list[tuple[GlobalUse, Decision]]:
    """Every global of the stream with the policy's decision (nothing imported).

    A global used only inside ``getattr(parent, "name")`` is approved by core: the shape's
    meaning is the dotted name ``parent.name``, which is decided instead (pickle writes nested
    classes this way below protocol 4). ``builtins.getattr`` is then replaced by a getattr
    that answers only those approved pairs; used any other way it meets the floor.
    """
    decisions = []
    for use in verified.globals:
        if use.shape_only:
            is_getattr = use.ref.dotted == "builtins.getattr"
            decisions.append((use, _GETATTR_SHAPE if is_getattr else _GETATTR_PARENT))
        else:
            decisions.append((use, policy.decide(use.ref)))
    return decisions


def approve(
    verified: Verified, policy: Policy, decisions: list[tuple[GlobalUse, Decision]]
) -> Approved:
    """The raw ``(module, name)`` -> object table for ``find_class``; raises ForbiddenGlobal."""
    refused = [_forbidden(use, decision) for use, decision in decisions if not decision.allowed]
    if refused:
        first = refused[0]
        if len(refused) > 1:
            others = ", ".join(f"'{err.module}.{err.name}'" for err in refused[1:6])
            more = f" (and {len(refused) - 6} more)" if len(refused) > 6 else ""
            first.message += f"\nAlso refused in this stream: {others}{more}."
        first.refused = tuple(refused)
        raise first
    approved: Approved = {}
    objects: dict[Any, Any] = {}  # by GlobalUse.key; parents come before their children
    children: dict[tuple[int, str], Any] = {}
    for use, decision in decisions:
        if decision is _GETATTR_SHAPE:
            obj: Any = _restricted_getattr(children)
        else:
            obj = _resolve(use, decision, policy)
            if use.mutated and isinstance(obj, enum.EnumMeta):
                # Calling an enum class returns one of its shared members: a BUILD on it would
                # change that member for the whole process.
                raise _refuse(
                    use,
                    "the stream changes (BUILD/SETITEM/APPEND) a value this enum returned, "
                    "which is a member shared by the whole process",
                    "shared-instance",
                )
        objects[use.key] = obj
        if use.via_getattr is None:
            approved[use.key] = obj
        else:
            parent_key, attr = use.via_getattr
            children[(id(objects[parent_key]), attr)] = obj
    return approved


def _restricted_getattr(children: dict[tuple[int, str], Any]) -> Callable[[Any, str], Any]:
    """Stands in for ``builtins.getattr`` in the one shape Python 3.14 writes for nested
    classes; it answers only the (parent, name) pairs the policy allowed as dotted names."""

    def getattr_allowed(parent: Any, name: str) -> Any:
        try:
            return children[(id(parent), name)]
        except (KeyError, TypeError):
            raise ForbiddenGlobal(
                f"getattr({parent!r}, {name!r}) was not approved by the verifier",
                module="builtins",
                name="getattr",
                raw_module="builtins",
                raw_name="getattr",
                decision=Decision.deny("not approved by the verifier", rule="floor"),
            ) from None

    return getattr_allowed


def verdict_text(decision: Decision, allow_hint: str) -> str:
    """The refusal part of a ForbiddenGlobal message: the reason, rule and plugin, then why it
    can never be allowed (the floor) or ``allow_hint`` (nothing allowed it: default-deny)."""
    text = (
        f"{decision.reason} [rule {decision.rule}"
        + (f", plugin {decision.plugin}" if decision.plugin else "")
        + "]."
    )
    if decision.rule == "floor":
        return text + " It is on safepickle's floor and can never be allowed."
    if decision.rule == "default-deny":
        return text + allow_hint
    return text


def _forbidden(use: GlobalUse, decision: Decision) -> ForbiddenGlobal:
    ref = use.ref
    raw = f"{use.raw_module} {use.raw_name}"
    spelled = (
        f", spelled '{raw}' in the stream"
        if (use.raw_module, use.raw_name)
        != (
            ref.module,
            ref.qualname,
        )
        else ""
    )
    entry = f"'{ref.module}:{ref.qualname}'"
    message = (
        f"global '{ref.dotted}' is forbidden ({use.opcode} at offset {use.offset}{spelled}): "
    )
    message += verdict_text(
        decision,
        f" If you trust it, pass allow=[{entry}] to the load call, or build "
        f"Policy(allow=[{entry}]).",
    )
    return ForbiddenGlobal(
        message,
        module=ref.module,
        name=ref.qualname,
        raw_module=use.raw_module,
        raw_name=use.raw_name,
        decision=decision,
        offset=use.offset,
    )


def _refuse(use: GlobalUse, reason: str, rule: str) -> ForbiddenGlobal:
    return _forbidden(use, Decision(Verdict.DENY, reason, rule=rule, plugin="core"))


def _resolve(use: GlobalUse, decision: Decision, policy: Policy) -> Any:
    ref = use.ref
    if decision.substitute is not None:
        return decision.substitute
    try:
        return policy.cached_object(ref)
    except KeyError:
        pass
    try:
        obj: Any = importlib.import_module(ref.module)
    except Exception as exc:  # an allowed module that cannot be imported
        raise _refuse(
            use, f"module '{ref.module}' cannot be imported: {exc!r}", "unresolvable"
        ) from exc
    for part in ref.qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise _refuse(
                use, f"'{ref.dotted}' does not exist in the installed code", "unresolvable"
            ) from None
        if isinstance(obj, types.ModuleType):
            raise _refuse(use, f"'{ref.dotted}' is a module, never handed out", "module")
    real = own_name(obj)
    if real is not None:
        reason = floor_reason(real)
        if reason is not None:
            raise _refuse(use, f"it is really '{real.dotted}': {reason}", "floor")
        if decision.rule == WILDCARD_RULE and real.module != ref.module:
            raise _refuse(
                use,
                f"it is re-exported from '{real.module}', and a module wildcard admits only "
                "names defined in the module itself",
                "wildcard-reexport",
            )
    elif decision.rule == WILDCARD_RULE:
        raise _refuse(use, "a module wildcard admits only classes and functions", "wildcard")
    policy.cache_object(ref, obj)
    return obj


def own_name(obj: Any) -> GlobalRef | None:
    """Where an object says it was defined, for classes and functions; None for data."""
    if not isinstance(obj, type) and not callable(obj):
        return None
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return GlobalRef(module, qualname)
    return None
