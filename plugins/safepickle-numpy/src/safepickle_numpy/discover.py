"""List the globals a catalogue of objects pickles to, as safepickle's policy would see them.

Used by each first-party plugin's ``discover_globals.py`` to review its allow-list against a new
library version: pickle the catalogue at each protocol, run safepickle's static verifier (which
executes nothing) and collect the canonical names.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

from safepickle import Limits
from safepickle.verify import verify

__all__ = ["globals_of", "report"]


def globals_of(
    catalogue: Iterable[tuple[str, Any]], protocols: Iterable[int] = (2, 5)
) -> dict[str, str]:
    """Canonical dotted name -> the id of the first catalogue item that needs it."""
    found: dict[str, str] = {}
    protocols = tuple(protocols)
    for item_id, obj in catalogue:
        for protocol in protocols:
            verified = verify(pickle.dumps(obj, protocol), limits=Limits())
            for use in verified.globals:
                if not use.shape_only:  # getattr(parent, "name"): core decides parent.name
                    found.setdefault(use.ref.dotted, item_id)
    return found


def report(found: dict[str, str], allowed: Iterable[str]) -> str:
    """Lines for the names the catalogue needs, marking with NEW those that neither the
    allow-list nor safepickle's default (standard-library) policy allows."""
    from safepickle.builtin.stdlib import SAFE_GLOBALS  # noqa: PLC0415 - the default policy

    allowed = frozenset(allowed) | frozenset(SAFE_GLOBALS)
    lines = []
    for name in sorted(found):
        mark = "   " if name in allowed else "NEW"
        lines.append(f"{mark} {name}  (first needed by {found[name]})")
    return "\n".join(lines)
