"""``Policy(audit=...)``: from what the user wrote to the sink plugins a policy registers."""

from __future__ import annotations

import os
import types
from collections.abc import Iterable
from typing import Any

from ..errors import PolicyError

__all__ = ["AuditSetting", "audit_sinks", "sink_name"]

#: a path, True (logging), False/None (no audit), a sink plugin object, or an iterable of these
AuditSetting = Any


def audit_sinks(audit: AuditSetting) -> tuple[object, ...]:
    """The sink plugins for ``audit``, each once; a :class:`PolicyError` for anything else."""
    sinks: list[object] = []
    names: set[str] = set()
    for sink in _flatten(audit):
        name = sink_name(sink)
        if name not in names:  # the same file or logger twice: one sink, one record
            names.add(name)
            sinks.append(sink)
    return tuple(sinks)


def _flatten(audit: AuditSetting) -> Iterable[object]:
    if audit is None or audit is False:
        return
    # imported only for a policy that audits: most never do, and logging is not free
    from .jsonl import JsonlSink  # noqa: PLC0415 - the policy module imports this one
    from .log import LoggingSink  # noqa: PLC0415

    if audit is True:
        yield LoggingSink()
    elif isinstance(audit, (str, os.PathLike)):
        yield JsonlSink(audit)
    elif callable(getattr(audit, "safepickle_audit", None)):
        _check_sink(audit)
        yield audit
    elif isinstance(audit, Iterable) and not isinstance(audit, (bytes, bytearray)):
        for item in audit:
            if isinstance(item, bool) or item is None:
                raise PolicyError(f"audit={audit!r}: True, False and None go alone, not in a list")
            yield from _flatten(item)
    else:
        raise PolicyError(
            f"audit={audit!r}: expected a file path, True (logging), False/None, an object "
            "with a safepickle_audit hook, or a list of those"
        )


def _check_sink(sink: object) -> None:
    # A sink listed in audit= must not widen the policy: anything else it implements would be
    # a decision or a persistent-id loader arriving through the audit setting.
    others = sorted(
        name for name in dir(sink) if name.startswith("safepickle_") and name != "safepickle_audit"
    )
    if others:
        raise PolicyError(
            f"audit sink {sink!r} also implements {', '.join(others)}; an audit sink may only "
            "implement safepickle_audit (pass other plugins as plugins=)"
        )


def sink_name(sink: object) -> str:
    """The plugin name a sink is registered under: stable for the built-in sinks (so one file
    is one sink), per object for the others."""
    from .jsonl import JsonlSink  # noqa: PLC0415
    from .log import LoggingSink  # noqa: PLC0415

    if isinstance(sink, (JsonlSink, LoggingSink)):
        return sink.name
    if isinstance(sink, types.ModuleType):
        return f"audit:{sink.__name__}"
    return f"audit:{type(sink).__qualname__}@{id(sink):x}"
