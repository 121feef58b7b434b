"""The name gate: ``find_class`` of unpickler classes safepickle cannot replace.

Libraries define unpickler classes at import time (joblib's ``NumpyUnpickler`` and pandas'
compat ``Unpickler`` subclass ``pickle._Unpickler``; dill's subclasses ``_pickle.Unpickler``).
A patch cannot swap those classes, but every global their stream names goes through
``find_class``; the gate makes that call ask the active patch's policy (name checks and floor
included) before anything is imported, and resolves the name exactly as a safepickle load
does. It is weaker than a safepickle load: the stream is not verified first, so code the
policy allowed runs before a later global is refused, and no limits apply
(``docs/patching.md`` lists what it does not check).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

from .._resolve import _resolve, own_name, verdict_text
from ..decision import Decision, GlobalRef
from ..errors import ForbiddenGlobal
from ..floor import floor_reason
from ..names import canonical_ref
from ..policy import Policy, default_policy
from ..verify import GlobalUse
from ._mutation import remember
from ._state import current_policy

__all__ = ["allow_hint", "check_result", "decide_name", "gated_find_class", "resolve_name"]

FindClass = Callable[[Any, str, str], Any]


def allow_hint(ref: GlobalRef) -> str:
    """How to allow ``ref`` for code running under a patch."""
    entry = f"{ref.module}:{ref.qualname}"
    return (
        f" If you trust it, pass allow=['{entry}'] to safepickle.patch(), or "
        f"--allow {entry} to safepickle run."
    )


def _refusal(where: str, ref: GlobalRef, module: str, name: str, decision: Decision) -> Exception:
    message = (
        f"global '{ref.dotted}' is forbidden (asked for by {where}, gated by "
        f"safepickle.patch()): {verdict_text(decision, allow_hint(ref))}"
    )
    return ForbiddenGlobal(
        message, module=ref.module, name=ref.qualname, raw_module=module, raw_name=name,
        decision=decision,
    )  # fmt: skip


def decide_name(
    where: str, module: str, name: str, protocol: int, fix_imports: bool, policy: Policy
) -> tuple[GlobalRef, Decision]:
    """The canonical name of ``module.name`` and the policy's allowing decision on it;
    raises ForbiddenGlobal when it is refused. Nothing is imported."""
    ref = canonical_ref(module, name, protocol, fix_imports)
    decision = policy.decide(ref)
    if not decision.allowed:
        raise _refusal(where, ref, module, name, decision)
    return ref, decision


def resolve_name(
    where: str, module: str, name: str, protocol: int, fix_imports: bool, policy: Policy
) -> Any:
    """What a safepickle load hands out for ``module.name``: decided, then imported and
    walked attribute by attribute, the object checked against the floor by its own name."""
    ref, decision = decide_name(where, module, name, protocol, fix_imports, policy)
    use = GlobalUse(ref, module, name, offset=0, opcode="find_class", key=(module, name))
    try:
        return _resolve(use, decision, policy)
    except ForbiddenGlobal as exc:
        raise _refusal(where, ref, module, name, exc.decision) from exc.__cause__


def check_result(where: str, ref: GlobalRef, module: str, name: str, obj: Any) -> Any:
    """Check what a library's own ``find_class`` returned for an allowed name: never a
    module, never a floor item under an innocent name (what ``_resolve`` checks)."""
    if isinstance(obj, types.ModuleType):
        why = f"its find_class returned the module '{obj.__name__}', never handed out"
        raise _refusal(where, ref, module, name, Decision.deny(why, rule="module"))
    own = own_name(obj)
    floor = floor_reason(own) if own is not None else None
    if own is not None and floor is not None:
        why = f"its find_class returned '{own.dotted}': {floor}"
        raise _refusal(where, ref, module, name, Decision.deny(why, rule="floor"))
    return obj


def _where(unpickler: Any) -> str:
    cls = type(unpickler)
    return f"{cls.__module__}.{cls.__qualname__}.find_class"


def _protocol(unpickler: Any) -> tuple[int, bool]:
    """The protocol and fix_imports the names are read with. The pure-Python unpickler keeps
    both on the instance; the C one does not expose them, so its names are always mapped as
    for protocol 0-2 (``copy_reg`` is then decided and resolved as ``copyreg``)."""
    protocol = getattr(unpickler, "proto", 0)
    fix_imports = getattr(unpickler, "fix_imports", True)
    return (protocol if isinstance(protocol, int) else 0), bool(fix_imports)


def _policy() -> Policy:
    # No active patch only while the last one is being undone: the safe default then.
    return current_policy() or default_policy()


def gated_find_class(self: Any, module: str, name: str) -> Any:
    """Stands in for pickle's own ``find_class``: the policy decides, safepickle resolves."""
    sys.audit("pickle.find_class", module, name)
    protocol, fix_imports = _protocol(self)
    obj = resolve_name(_where(self), module, name, protocol, fix_imports, _policy())
    return remember(self, obj)


def gate_override(original: FindClass) -> FindClass:
    """Wraps a library's own ``find_class``: the stream's name is decided before it runs
    (so it never imports what the policy refused), and what it returns is checked. A
    ``find_class`` that renames (pandas' compat table) and then calls pickle's, which is
    gated too, needs both names allowed."""

    def find_class(self: Any, module: str, name: str) -> Any:
        protocol, fix_imports = _protocol(self)
        where = _where(self)
        ref, _ = decide_name(where, module, name, protocol, fix_imports, _policy())
        obj = check_result(where, ref, module, name, original(self, module, name))
        return remember(self, obj)

    find_class.__wrapped__ = original  # type: ignore[attr-defined]
    find_class.__qualname__ = getattr(original, "__qualname__", "find_class")
    find_class.__doc__ = getattr(original, "__doc__", None)
    return find_class
