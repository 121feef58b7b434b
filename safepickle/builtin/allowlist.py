"""The user's allow and deny lists, as a plugin: ``Policy(allow=[...], deny=[...])``.

Entries are classes or functions (``MyClass``), exact dotted names (``"pkg.mod.Name"``), exact
names with an explicit module (``"pkg.mod:Outer.Inner"``) or module wildcards (``"pkg.mod:*"``).
A wildcard in an allow-list admits only public top-level names (not starting with ``_``, no
dotted names: a class's methods and nested classes need their own entry) of exactly that module
(no submodules), and only classes and functions defined there (their ``__module__`` is the
module, checked after import), so a module's re-exports such as ``from subprocess import run``
are never admitted by it. In a deny-list a wildcard covers the module, its submodules and every
name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from safepickle.decision import Decision, GlobalRef
from safepickle.errors import PolicyError
from safepickle.floor import floor_reason
from safepickle.hookspecs import hookimpl
from safepickle.names import name_problem

__all__ = ["AllowList", "Entry", "parse_entry"]

_DOTTED = re.compile(r"[^\W\d]\w*(\.[^\W\d]\w*)*\Z")
WILDCARD_RULE = "allow-wildcard"


@dataclass(frozen=True)
class Entry:
    """One parsed allow/deny entry: ``qualname`` is ``"*"`` for a module wildcard and ``""``
    for a bare dotted name whose module/name split is not known."""

    module: str
    qualname: str
    text: str

    @property
    def is_wildcard(self) -> bool:
        return self.qualname == "*"


def parse_entry(entry: object) -> Entry:
    """Parse one allow/deny entry; a malformed one is a :class:`PolicyError`."""
    if isinstance(entry, str):
        text = entry.strip()
        if ":" in text:
            module, _, qualname = text.partition(":")
        elif text.endswith(".*"):
            module, qualname = text[:-2], "*"
        else:
            module, qualname = text, ""
        if not _DOTTED.match(module) or not (qualname in ("*", "") or _DOTTED.match(qualname)):
            raise PolicyError(
                f"bad policy entry {entry!r}: expected 'pkg.mod.Name', 'pkg.mod:Name' or "
                "'pkg.mod:*'"
            )
        return Entry(module, qualname, text)
    module_name: object = getattr(entry, "__module__", None)
    object_name: object = getattr(entry, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(object_name, str):
        raise PolicyError(
            f"bad policy entry {entry!r}: pass a class, a function or a 'module.name' string"
        )
    if "<locals>" in object_name:
        raise PolicyError(
            f"{module_name}.{object_name} is defined inside a function; pickle cannot name it"
        )
    return Entry(module_name, object_name, f"{module_name}:{object_name}")


def _check_allowable(entry: Entry) -> None:
    if entry.is_wildcard:
        reason = floor_reason(GlobalRef(entry.module, "x"))
        if reason is not None:
            raise PolicyError(
                f"cannot allow '{entry.text}': it is on safepickle's floor ({reason})"
            )
        return
    ref = GlobalRef(entry.module, entry.qualname) if entry.qualname else None
    if ref is not None:
        problem = name_problem(ref) or floor_reason(ref)
    else:  # a bare dotted name: on the floor if any split of it is
        parts = entry.module.split(".")
        problem = None
        for cut in range(1, len(parts)):
            split = GlobalRef(".".join(parts[:cut]), ".".join(parts[cut:]))
            problem = floor_reason(split)
            if problem:
                break
    if problem:
        raise PolicyError(f"cannot allow '{entry.text}': {problem}; it can never be allowed")


class AllowList:
    """Plugin that allows what the user listed and denies what the user denied."""

    def __init__(self, allow: Iterable[object] = (), deny: Iterable[object] = ()) -> None:
        allow_entries = tuple(parse_entry(item) for item in allow)
        for entry in allow_entries:
            _check_allowable(entry)
        self.allow_entries = allow_entries
        self.deny_entries = tuple(parse_entry(item) for item in deny)
        self._allow_exact = frozenset(_exact_names(allow_entries))
        self._allow_modules = frozenset(e.module for e in allow_entries if e.is_wildcard)
        self._deny_exact = frozenset(_exact_names(self.deny_entries))
        self._deny_modules = tuple(e.module for e in self.deny_entries if e.is_wildcard)

    @hookimpl
    def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
        dotted = ref.dotted
        if dotted in self._deny_exact or any(
            ref.module == module or ref.module.startswith(module + ".")
            for module in self._deny_modules
        ):
            return Decision.deny("listed in the policy's deny-list", rule="deny-list")
        if dotted in self._allow_exact:
            return Decision.allow("listed in the policy's allow-list", rule="allow-list")
        if (
            ref.module in self._allow_modules
            and "." not in ref.qualname
            and not ref.qualname.startswith("_")
        ):
            return Decision.allow(
                f"public name of module '{ref.module}', allowed by '{ref.module}:*'",
                rule=WILDCARD_RULE,
            )
        return None


def _exact_names(entries: Iterable[Entry]) -> Iterable[str]:
    for entry in entries:
        if not entry.is_wildcard:
            yield f"{entry.module}.{entry.qualname}" if entry.qualname else entry.module


def describe(entries: Iterable[Entry]) -> list[Any]:
    """Entries as strings, for fingerprints and reports."""
    return [entry.text for entry in entries]
