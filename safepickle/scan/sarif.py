"""SARIF 2.1.0, the format GitHub code scanning and most security dashboards read.

One rule per refusal class (:mod:`safepickle.scan.rules`), one result per refused global or
problem, located by the file's path relative to the working directory, the byte offset (for
streams at the top level of the file) and the member path inside containers.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..policy import Policy
from .model import FileResult, Issue, issues
from .rules import RULES, rule_for

__all__ = ["to_sarif"]

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_INFO = "https://github.com/safepickle/safepickle"


def _uri(path: str, root: Path) -> tuple[str, bool]:
    """(uri, relative to the root?) for a scanned path."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(root).as_posix(), True
    except ValueError:
        return absolute.as_uri(), False


def _result(issue: Issue, rule_index: dict[str, int], root: Path) -> dict[str, Any]:
    rule = rule_for(issue.rule)
    uri, relative = _uri(issue.file, root)
    artifact: dict[str, Any] = {"uri": uri}
    if relative:
        artifact["uriBaseId"] = "%SRCROOT%"
    # A binary file: GitHub needs a start line, the offset says where in the bytes.
    region: dict[str, Any] = {"startLine": 1}
    member = issue.stream.location
    if issue.offset is not None and not issue.stream.member:
        region.update({"byteOffset": issue.offset, "byteLength": 1})
    location: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": artifact, "region": region}
    }
    if member:
        location["logicalLocations"] = [{"fullyQualifiedName": member, "kind": "member"}]
    where = f" in {member}" if member else ""
    key = "\0".join((uri, member, issue.rule, issue.name or "", str(issue.offset)))
    return {
        "ruleId": rule.id,
        "ruleIndex": rule_index[rule.id],
        "level": rule.level,
        "message": {"text": f"{issue.message}{where}"},
        "locations": [location],
        "partialFingerprints": {"safepickleIssue/v1": hashlib.sha256(key.encode()).hexdigest()},
        "properties": {
            "rule": issue.rule,
            "global": issue.name,
            "member": member,
            "status": issue.stream.status,
        },
    }


def to_sarif(
    results: Sequence[FileResult], policy: Policy, *, static: bool, root: str | None = None
) -> dict[str, Any]:
    """The whole scan as one SARIF log with one run."""
    base = Path(os.path.abspath(root or os.getcwd()))
    rules = list(RULES.values())
    rule_index = {rule.id: index for index, rule in enumerate(rules)}
    sarif_rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.short},
            "fullDescription": {"text": rule.help},
            "help": {"text": rule.help},
            "defaultConfiguration": {"level": rule.level},
            "properties": {"tags": ["security", "pickle"]},
        }
        for rule in rules
    ]
    found = [_result(issue, rule_index, base) for result in results for issue in issues(result)]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "safepickle",
                        "version": __version__,
                        "informationUri": _INFO,
                        "rules": sarif_rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": base.as_uri() + "/"}},
                "invocations": [{"executionSuccessful": True}],
                "results": found,
                "properties": {
                    "policyFingerprint": policy.fingerprint,
                    "static": static,
                    "filesScanned": len(results),
                },
            }
        ],
    }
