"""Refusal classes: the rule ids reports group findings by (one SARIF rule each)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RULES", "Rule", "rule_for"]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    short: str
    help: str
    #: "error" for refusals, "warning" for streams that could not be scanned
    level: str


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "SP001",
            "floor",
            "A global on safepickle's floor",
            "The stream names a code-execution, import, file, process or network primitive "
            "(or a loader that would unpickle again). No policy can allow it: treat the file "
            "as hostile.",
            "error",
        ),
        Rule(
            "SP002",
            "deny-list",
            "A global the policy's deny-list names",
            "The policy explicitly denies this global.",
            "error",
        ),
        Rule(
            "SP003",
            "default-deny",
            "A global no plugin of the policy allows",
            "Nothing in the policy allows this global. If you trust the file and the class, "
            "allow it: Policy(allow=['module:Name']), the allow key of the policy file, or "
            "`safepickle learn` on trusted samples.",
            "error",
        ),
        Rule(
            "SP004",
            "bad-name",
            "A global name that can never be resolved safely",
            "The name is not a dotted identifier, or reaches through a dunder attribute.",
            "error",
        ),
        Rule(
            "SP005",
            "plugin-deny",
            "A global a policy plugin denies",
            "A plugin of the policy denied this global; its reason says why.",
            "error",
        ),
        Rule(
            "SP006",
            "unsafe-opcode",
            "An opcode safepickle never executes here",
            "EXT codes, persistent ids no plugin resolves, BUILD/SETITEM/APPEND aimed at an "
            "imported global, or a call of something that is not an allowed global.",
            "error",
        ),
        Rule(
            "SP007",
            "import-check",
            "Refused once the allowed global was imported",
            "Found when the allowed global is resolved (not with --static): the allowed name "
            "is really a floor item, a re-export under a "
            "wildcard, a module, does not exist, or an enum member the stream would change.",
            "error",
        ),
        Rule(
            "SP101",
            "malformed",
            "Not a well-formed pickle",
            "The stream is not a pickle, is truncated, or is malformed: it cannot be loaded, "
            "and plain pickle may have run part of it before failing.",
            "warning",
        ),
        Rule(
            "SP102",
            "limit",
            "A resource limit was hit",
            "The stream goes past one of the policy's limits; raise the limit only for input "
            "you trust.",
            "warning",
        ),
        Rule(
            "SP103",
            "container",
            "A container that cannot be read",
            "The file is a recognised container (compressed, zip, npy, joblib) that cannot be "
            "read; its content was not scanned.",
            "warning",
        ),
        Rule(
            "SP104",
            "unreadable",
            "A file that cannot be read",
            "The file could not be opened or read.",
            "warning",
        ),
        Rule(
            "SP105",
            "plugin-error",
            "A plugin failed",
            "A plugin raised while the stream was scanned.",
            "warning",
        ),
    )
}
_BY_NAME = {rule.name: rule for rule in RULES.values()}
_IMPORT_CHECKS = {"unresolvable", "module", "wildcard", "wildcard-reexport", "shared-instance"}


def rule_for(rule: str) -> Rule:
    """The refusal class of a decision rule or problem rule."""
    if rule in _BY_NAME:
        return _BY_NAME[rule]
    if rule.startswith("opcode:"):
        return _BY_NAME["unsafe-opcode"]
    if rule.startswith("limit:"):
        return _BY_NAME["limit"]
    if rule in _IMPORT_CHECKS:
        return _BY_NAME["import-check"]
    return _BY_NAME["plugin-deny"]
