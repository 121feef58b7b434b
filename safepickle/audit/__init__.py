"""Tamper-evident audit logging: what was loaded, from where, under which policy, and how it
ended, as Elastic Common Schema documents delivered to sink plugins.

* :mod:`~safepickle.audit.event` builds the ECS document of a load;
* :mod:`~safepickle.audit.jsonl` is the append-only, hash-chained JSON Lines sink;
* :mod:`~safepickle.audit.log` is the :mod:`logging` sink (logger ``safepickle.audit``);
* :mod:`~safepickle.audit.chain` seals and verifies the hash chain;
* :mod:`~safepickle.audit.summary` and :mod:`~safepickle.audit.cli` are
  ``safepickle audit verify|summary``.

``Policy(audit="audit.jsonl")``, ``Policy(audit=True)`` (logging) or
``Policy(audit=[JsonlSink("a.jsonl", fsync=True), my_sink])``. See ``docs/security-teams.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .chain import ChainReport, Problem, verify_file
    from .event import to_ecs, to_json
    from .jsonl import JsonlSink
    from .log import LoggingSink
    from .summary import summarize

__all__ = [
    "ChainReport",
    "JsonlSink",
    "LoggingSink",
    "Problem",
    "summarize",
    "to_ecs",
    "to_json",
    "verify_file",
]

# Imported on first use (PEP 562): every policy imports this package, and most never audit.
_WHERE = {
    "ChainReport": "chain",
    "Problem": "chain",
    "verify_file": "chain",
    "to_ecs": "event",
    "to_json": "event",
    "JsonlSink": "jsonl",
    "LoggingSink": "log",
    "summarize": "summary",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
