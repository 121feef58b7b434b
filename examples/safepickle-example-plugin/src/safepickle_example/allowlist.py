"""An organisation's reviewed allow-list, as a safepickle plugin.

Each entry names one class or function exactly and says why a reviewer accepted it; the reason
travels into every decision, so the audit log shows it. Names inside the packages the
organisation owns that nobody reviewed are *denied*, not left undecided: in safepickle any deny
wins, so a broader allow-list elsewhere (a developer's ``allow=["acme_shop.models:*"]``) cannot
admit unreviewed code.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import safepickle
from safepickle import Decision, GlobalRef, PolicyError

from .config import TABLE, find_config, read_table

__all__ = ["OrgAllowList"]

_EXACT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")
_PACKAGE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")
_KEYS = ("allow", "owned", "contact")


class OrgAllowList:
    """Allow exactly the reviewed names; deny every other name in the ``owned`` packages.

    :param allow: ``"module:qualname"`` -> the reason it is safe to unpickle. Exact names only:
        a reviewer reviews one class, not a module.
    :param owned: top-level packages (or subpackages) of the organisation; their unlisted
        names are denied.
    :param contact: who reviews new entries, named in every refusal.
    :param where: where the settings came from, for error messages.
    """

    def __init__(
        self,
        allow: Mapping[str, str],
        owned: Iterable[str] = (),
        contact: str = "the security team",
        *,
        where: str = "OrgAllowList",
    ) -> None:
        entries: dict[GlobalRef, str] = {}
        for name, reason in allow.items():
            entries[_parse(name, reason, where)] = reason.strip()
        packages = tuple(owned)
        for package in packages:
            if not isinstance(package, str) or not _PACKAGE.match(package):
                raise PolicyError(f"{where}: owned: {package!r} is not a package name")
        self._allow = MappingProxyType(entries)
        self._owned = packages
        self._contact = contact
        # The policy's fingerprint (and so every audit record) names a plugin object by its
        # __name__: make it change whenever the reviewed list does.
        digest = hashlib.sha256(
            json.dumps(
                [sorted(allow.items()), sorted(packages), contact], separators=(",", ":")
            ).encode()
        ).hexdigest()
        self.__name__ = f"example-allowlist:{digest[:16]}"

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str) -> OrgAllowList:
        """Build it from the settings table, refusing unknown keys and wrong types."""
        for key in table:
            if key not in _KEYS:
                close = difflib.get_close_matches(key, _KEYS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise PolicyError(f"{where}: unknown key {key!r}{hint} (expected {_KEYS})")
        allow = table.get("allow", {})
        if not isinstance(allow, dict) or not all(isinstance(v, str) for v in allow.values()):
            raise PolicyError(f'{where}: allow must be a table of name = "reason"')
        owned = table.get("owned", [])
        if not isinstance(owned, list):
            raise PolicyError(f"{where}: owned must be a list of package names")
        contact = table.get("contact", "the security team")
        if not isinstance(contact, str):
            raise PolicyError(f"{where}: contact must be a string")
        return cls(allow, owned, contact, where=where)

    @classmethod
    def from_config(cls, path: str | Path | None = None) -> OrgAllowList:
        """Read the settings: ``path`` (a ``pyproject.toml`` is read from its
        ``[tool.safepickle-example]`` table, another file from its top level), else
        ``$SAFEPICKLE_EXAMPLE_CONFIG``, else the nearest ``pyproject.toml`` with the table."""
        if path is not None:
            file = Path(path)
            table: tuple[str, ...] = TABLE if file.name == "pyproject.toml" else ()
        else:
            found = find_config()
            if found is None:
                raise PolicyError(
                    "the 'example' plugin found no [tool.safepickle-example] table in a "
                    "pyproject.toml from the current directory upward, and "
                    "SAFEPICKLE_EXAMPLE_CONFIG is not set"
                )
            file, table = found
        return cls.from_table(read_table(file, table), where=str(file))

    def __repr__(self) -> str:
        return f"OrgAllowList({len(self._allow)} reviewed names, owned={list(self._owned)!r})"

    @safepickle.hookimpl
    def safepickle_decide(self, ref: GlobalRef) -> Decision | None:
        """Allow a reviewed name with its reason; deny the rest of the owned packages."""
        reason = self._allow.get(ref)
        if reason is not None:
            return Decision.allow(f"reviewed: {reason}", rule="org-reviewed")
        package = self._owner(ref.module)
        if package is not None:
            return Decision.deny(
                f"'{ref.module}:{ref.qualname}' is {package} code nobody reviewed for "
                f"unpickling; ask {self._contact} to add it to [tool.safepickle-example.allow]",
                rule="org-unreviewed",
            )
        return None  # not ours: other plugins decide

    def _owner(self, module: str) -> str | None:
        for package in self._owned:
            if module == package or module.startswith(package + "."):
                return package
        return None


def _parse(name: object, reason: object, where: str) -> GlobalRef:
    if not isinstance(name, str) or not _EXACT.match(name):
        raise PolicyError(
            f"{where}: allow: {name!r} is not an exact 'package.module:QualName' (no wildcards: "
            "each class is reviewed on its own)"
        )
    if not isinstance(reason, str) or not reason.strip():
        raise PolicyError(f"{where}: allow: {name!r} needs the reason it is safe, as its value")
    try:
        # The core's own check: a floor item (os:system, builtins:eval) can never be allowed.
        safepickle.Policy(allow=[name], defaults=False)
    except PolicyError as exc:
        raise PolicyError(f"{where}: allow: {exc}") from exc
    module, _, qualname = name.partition(":")
    return GlobalRef(module, qualname)
