"""What an audit file says, in numbers: ``safepickle audit summary``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from .chain import verify_file

__all__ = ["summarize"]


def summarize(path: str | Path, *, top: int = 10) -> dict[str, Any]:
    """Counts by outcome, the most refused globals, sources, error types, limits hit and
    policies, the time range, and whether the hash chain is intact.

    Lines that are not JSON documents are counted as ``unreadable_lines`` and skipped.
    ``OSError`` if the file cannot be read.
    """
    outcomes: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    limits: Counter[str] = Counter()
    policies: Counter[str] = Counter()
    hosts: Counter[str] = Counter()
    first: str | None = None
    last: str | None = None
    records = unreadable = 0
    with open(path, "rb") as file:
        for raw in file:
            try:
                document = json.loads(raw)
                custom = document["safepickle"]
            except (ValueError, KeyError, TypeError):
                unreadable += 1
                continue
            records += 1
            outcome = str(custom.get("outcome"))
            outcomes[outcome] += 1
            if outcome == "refused":
                for item in custom.get("globals") or ():
                    if item.get("decision") == "deny":
                        refused[str(item.get("name"))] += 1
            sources[str(custom.get("source"))] += 1
            error = document.get("error")
            if isinstance(error, dict):
                errors[str(error.get("type"))] += 1
            limit = custom.get("limit")
            if isinstance(limit, dict):
                limits[str(limit.get("name"))] += 1
            policy = custom.get("policy")
            if isinstance(policy, dict):
                policies[str(policy.get("fingerprint"))] += 1
            host = document.get("host")
            if isinstance(host, dict):
                hosts[str(host.get("name"))] += 1
            stamp = document.get("@timestamp")
            if isinstance(stamp, str):  # ISO 8601 in UTC: text order is time order
                first = stamp if first is None or stamp < first else first
                last = stamp if last is None or stamp > last else last
    report = verify_file(path)
    return {
        "file": str(path),
        "records": records,
        "unreadable_lines": unreadable,
        "time_range": {"first": first, "last": last},
        "outcomes": dict(outcomes.most_common()),
        "top_refused_globals": _top(refused, top),
        "top_sources": _top(sources, top),
        "errors": dict(errors.most_common()),
        "limits_hit": dict(limits.most_common()),
        "policies": _top(policies, top),
        "hosts": _top(hosts, top),
        "chain": {
            "intact": report.intact,
            "first_problem": str(report.first_problem) if report.first_problem else None,
            "head": {"sequence": report.head_sequence, "hash": report.head_hash},
        },
    }


def _top(counter: Counter[str], top: int) -> list[dict[str, Any]]:
    return [{"name": name, "count": count} for name, count in counter.most_common(top)]
